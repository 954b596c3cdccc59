// SPDX-License-Identifier: GPL-2.0

//! The write path: `rrelay_write` (and its alias `__rrelay_write`),
//! `rrelay_reserve` + `rrelay_commit`, and the sub-buffer switch, on the
//! lockless protocol of `ring.rs`.
//!
//! Context rules: every function here may run in any context, NMI
//! included, nested in another writer of the same buffer (an interrupt
//! over a writer on its CPU) and concurrently with writers on other CPUs
//! (a global buffer, or a task that migrated). Nothing takes a lock;
//! preemption is off between a reservation and its commit, so a task is
//! not switched out while it holds a sub-buffer incomplete. The fast path
//! never disables interrupts; the switch (once per sub-buffer) does, so on
//! its own CPU only an NMI finds it in progress (and drops its record).
//! Writers on other CPUs wait for a switch that claimed the word, except
//! in NMI or inside a switch; one that meets a sub-buffer a reservation
//! finished but whose writer has not claimed the word yet (interrupts
//! still on there) drops its record (see `ring.rs`).
//!
//! The fast path (the record fits) is one atomic add to the current
//! sub-buffer's room, a copy and an atomic add to its commit count.
//! C callers get it inline from `include/rrelay.h`, as relay's callers do
//! from `<linux/relay.h>`; it calls `__rrelay_write_slow` or
//! `__rrelay_reserve_slow` here when the record does not fit, and
//! `__rrelay_carry` when its commit completes a finished sub-buffer.
//! Rust callers use the same protocol below through the `*_noinline`
//! exports. The switch (`ring::switch`) calls the client's `subbuf_start`
//! and queues the reader wakeup.

use crate::buffer::RchanBuf;
use crate::channel::Rchan;
use crate::ring::{self, Client, Miss, Reason, Reservation, RingState, Switched};
use crate::shim::{PreemptGuard, SwitchGuard};
use crate::subbuf::Event;
use core::sync::atomic::Ordering;
use kernel::sync::barrier::smp_mb;

impl Client for RchanBuf {
    #[inline]
    fn subbuf_start(&self, slot: usize, prev: Option<usize>, full: bool) -> bool {
        let accepted = self.client_subbuf_start(slot, prev, full);
        if self.header_len() > 0 {
            // rrelay's header first; the client's start reserve after it,
            // if both leave room for data (as relay's `BUG_ON` demands).
            let g = self.geometry();
            let mut reserve = self.start_reserve().load(Ordering::Relaxed);
            if reserve.saturating_add(self.header_len()) >= g.subbuf_size() - 1 {
                reserve = 0;
            }
            self.set_start_reserve(reserve + self.header_len());
        }
        accepted
    }

    #[inline]
    fn started(&self, slot: usize, k: usize) {
        if self.header_len() > 0 {
            self.begin_header(slot, k);
        }
    }

    #[inline]
    fn finish_empty(&self) -> bool {
        self.header_len() > 0
    }

    #[inline]
    fn count(&self, event: Event) {
        self.stats.count(event);
        if event == Event::Dropped {
            self.meta().dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    #[inline]
    fn finished(&self, bytes: usize) {
        if self.header_len() > 0 {
            let g = self.geometry();
            self.end_header(g.slot(self.produced().wrapping_sub(1)), bytes);
        }
        self.stats.add_written(bytes);
        // Under the switch's ownership: one store at a time, in order.
        self.meta()
            .produced
            .store(self.produced() as u64, Ordering::Release);
    }

    #[inline]
    fn completed(&self, _slot: usize) {
        self.wake_reader();
    }

    #[inline(always)]
    fn cpu(&self) -> Option<u32> {
        // Writers run with preemption off, switches with interrupts off.
        Some(crate::shim::this_cpu() as u32)
    }

    #[inline]
    fn may_wait(&self) -> bool {
        crate::shim::may_wait()
    }

    #[inline]
    fn lent(&self, slot: usize) -> bool {
        self.lend_token(slot).count.load(Ordering::Acquire) != 0
    }

    #[inline(always)]
    fn switching<R>(&self, f: impl FnOnce() -> R) -> R {
        let _switch = SwitchGuard::new();
        f()
    }
}

impl RchanBuf {
    /// The client's `subbuf_start` (relay's default without one).
    #[inline]
    fn client_subbuf_start(&self, slot: usize, prev: Option<usize>, full: bool) -> bool {
        let chan = self.chan();
        match chan.callbacks().subbuf_start {
            None => !full,
            Some(f) => {
                let g = self.geometry();
                // With rrelay's header, the client's part starts after it.
                let subbuf = self.at(g.slot_start(slot) + self.header_len()).cast();
                let prev = prev.map_or(core::ptr::null_mut(), |p| self.at(g.slot_start(p)).cast());
                let me = core::ptr::from_ref(self).cast_mut().cast();
                // SAFETY: The client's callback gets a live buffer and
                // pointers into its mapping, as its contract says; the
                // switch owns the buffer's write side meanwhile, so the
                // callback runs once at a time per buffer.
                unsafe { f(me, subbuf, prev) != 0 }
            }
        }
    }

    /// Bytes of rrelay's header at the start of each sub-buffer (0: none).
    #[inline(always)]
    fn header_len(&self) -> usize {
        if self.chan().has_headers() {
            crate::header::HEADER_SIZE
        } else {
            0
        }
    }

    /// Queues the reader wakeup (irq_work: NMI-safe). The full barrier
    /// pairs with the one in poll after `poll_wait`: a reader that went
    /// to sleep after checking sees the new state, or we see it queued.
    fn wake_reader(&self) {
        smp_mb();
        self.wakeup.kick();
    }

    /// Reserves room for `len` bytes ([`ring::reserve`]): any context.
    #[inline(always)]
    pub(crate) fn reserve_room(&self, len: usize) -> Option<Reservation> {
        ring::reserve(self.geometry(), self, self, len)
    }

    /// [`Self::reserve_room`] for the C fast path's slow half, whose own
    /// reservation found no room ([`ring::reserve_after_miss`]).
    #[inline(always)]
    pub(crate) fn reserve_room_after_miss(&self, len: usize, miss: Miss) -> Option<Reservation> {
        ring::reserve_after_miss(self.geometry(), self, self, len, miss)
    }

    /// Where the bytes of a reservation go.
    #[inline(always)]
    pub(crate) fn room(&self, r: &Reservation) -> *mut u8 {
        self.at(r.pos(self.geometry()))
    }

    /// Commits `len` written bytes reserved in `slot` (a C reservation,
    /// which names no offset: a commit needs only the slot and length).
    pub(crate) fn commit_bytes(&self, slot: usize, len: usize) {
        ring::commit(
            self.geometry(),
            self,
            self,
            Reservation { slot, off: 0, len },
        )
    }

    /// The C fast path's commit completed the sub-buffer of `slot` with
    /// a 32-bit add of `len` ([`ring::carry`]).
    pub(crate) fn carry(&self, slot: usize, len: usize) {
        ring::carry(self.geometry(), self, self, slot, len)
    }

    /// Commits a reservation whose bytes are written ([`ring::commit`]).
    #[inline(always)]
    pub(crate) fn commit_room(&self, r: Reservation) {
        ring::commit(self.geometry(), self, self, r)
    }

    /// Copies `data` into the buffer as one record: any context. Returns
    /// `false` when the record was dropped (and counted).
    #[inline(always)]
    pub(crate) fn write_record(&self, data: &[u8]) -> bool {
        self.write_record_from(data, None)
    }

    /// [`Self::write_record`] for the C fast path's slow half, whose own
    /// reservation found no room.
    #[inline(always)]
    pub(crate) fn write_record_after_miss(&self, data: &[u8], miss: Miss) -> bool {
        self.write_record_from(data, Some(miss))
    }

    /// Reserves room for `data` (after `miss`, the fast path's, if any),
    /// copies it there and commits it; `false` when dropped (counted).
    /// The reservation never leaves this function, so the copy goes only
    /// where the protocol just gave this writer room.
    #[inline(always)]
    fn write_record_from(&self, data: &[u8], miss: Option<Miss>) -> bool {
        let r = match miss {
            Some(miss) => self.reserve_room_after_miss(data.len(), miss),
            None => self.reserve_room(data.len()),
        };
        let Some(r) = r else {
            return false;
        };
        // SAFETY: `r` is `data.len()` bytes inside the mapping that the
        // protocol gave to this writer alone: no other writer reserves
        // them, and no reader reads them before the commit below.
        unsafe { core::ptr::copy_nonoverlapping(data.as_ptr(), self.room(&r), data.len()) };
        self.commit_room(r);
        true
    }

    /// Finishes the current sub-buffer and starts the next
    /// (`relay_switch_subbuf`), whether or not a record of `length` bytes
    /// still fits, as relay does; `length == 0` is a flush. Any context,
    /// any CPU: this is also the remote flush, with no IPI. Returns
    /// whether a record of `length` bytes now fits.
    pub(crate) fn switch_subbuf(&self, length: usize) -> bool {
        let why = if length == 0 {
            Reason::Flush
        } else {
            Reason::Explicit(length)
        };
        ring::Client::switching(self, || ring::switch(self.geometry(), self, self, why))
            == Switched::Ready
    }

    /// Close of one buffer: finishes the current sub-buffer and starts
    /// none (no `subbuf_start`, nothing counted).
    pub(crate) fn switch_for_close(&self) {
        ring::Client::switching(self, || {
            ring::switch(self.geometry(), self, self, Reason::Close)
        });
    }
}

impl Rchan {
    /// `rrelay_write`: any context, any channel. Returns `false` when the
    /// record was dropped (counted), or this CPU has no buffer.
    #[inline]
    pub(crate) fn write(&self, data: &[u8]) -> bool {
        let _preempt = PreemptGuard::new();
        self.this_cpu_buf()
            .is_some_and(|buf| buf.write_record(data))
    }
}
