// SPDX-License-Identifier: GPL-2.0

//! The write path: `rrelay_write`, `__rrelay_write`, `rrelay_reserve` and
//! the sub-buffer switch.
//!
//! Context rules: every function here may run in any context, hardirq
//! included, and never sleeps. A buffer has one writer at a time: per-CPU
//! buffers get that from interrupts or preemption being off; a global
//! buffer's C client serializes its writers (as with relay), and rrelay's
//! out-of-line writes (the Rust API) take the channel's `global_writers`
//! lock for it.
//!
//! The fast path (the record fits) is a bounds check, a copy and a release
//! store: no allocation, no lock, no indirect call. C callers get it inline
//! from `include/rrelay.h`, over the buffer's public fields, as relay's
//! callers do from `<linux/relay.h>`; it calls `__rrelay_write_slow` or
//! `__rrelay_reserve_slow` here when the record does not fit. Rust callers
//! use the same logic below through the `*_noinline` exports. Everything
//! else is in the out-of-line switch (`subbuf::Geometry::switch`), which
//! calls the client's `subbuf_start` and queues the reader wakeup.

use crate::buffer::RchanBuf;
use crate::channel::Rchan;
use crate::shim::{IrqGuard, PreemptGuard};
use crate::subbuf::{Event, Writer};
use core::sync::atomic::Ordering;
use kernel::sync::atomic::{Acquire, Relaxed, Release};
use kernel::sync::barrier::smp_mb;

impl Writer for RchanBuf {
    #[inline(always)]
    fn offset(&self) -> usize {
        self.public.offset.load(Ordering::Relaxed)
    }

    #[inline(always)]
    fn set_offset(&self, offset: usize) {
        // Release: the record's bytes are visible before the offset that
        // covers them.
        self.public.offset.store(offset, Ordering::Release)
    }

    fn produced(&self) -> usize {
        self.produced.load(Relaxed)
    }

    fn consumed(&self) -> usize {
        self.consumed.load(Acquire)
    }

    #[inline(always)]
    fn current(&self) -> usize {
        self.current.load(Ordering::Relaxed)
    }

    fn set_current(&self, slot: usize) {
        self.current.store(slot, Ordering::Relaxed);
        let start = self.at(self.geometry().slot_start(slot));
        self.public.data.store(start, Ordering::Relaxed);
    }

    fn set_padding(&self, slot: usize, padding: usize) {
        self.padding[slot].store(padding, Relaxed)
    }

    fn publish(&self, produced: usize, bytes: usize) {
        self.produced.store(produced, Release);
        self.stats.add_written(bytes);
        // Pairs with the barrier in `waitqueue_active`'s users: a reader
        // that went to sleep after checking sees the new sub-buffer, or we
        // see it on the queue.
        smp_mb();
        self.wakeup.kick();
    }

    fn subbuf_start(&self, slot: usize, prev: Option<usize>, full: bool) -> bool {
        let chan = self.chan();
        match chan.callbacks().subbuf_start {
            None => !full,
            Some(f) => {
                let g = self.geometry();
                let subbuf = self.at(g.slot_start(slot)).cast();
                let prev = prev.map_or(core::ptr::null_mut(), |p| self.at(g.slot_start(p)).cast());
                let me = core::ptr::from_ref(self).cast_mut().cast();
                // SAFETY: The client's callback gets a live buffer and
                // pointers into its mapping, as its contract says.
                unsafe { f(me, subbuf, prev) != 0 }
            }
        }
    }

    fn take_start_reserve(&self) -> usize {
        self.start_reserve.xchg(0, Relaxed)
    }

    fn count(&self, event: Event) {
        self.stats.count(event)
    }
}

impl RchanBuf {
    /// Copies `data` into the buffer as one record; the caller keeps other
    /// writers of this buffer out. Returns `false` when the record was
    /// dropped (and counted).
    #[inline(always)]
    pub(crate) fn write_record(&self, data: &[u8]) -> bool {
        let Some((pos, end)) = self.geometry().reserve(self, data.len()) else {
            return false;
        };
        // SAFETY: `reserve` returned room for `data.len()` bytes inside
        // the current sub-buffer, which only this writer touches.
        unsafe { core::ptr::copy_nonoverlapping(data.as_ptr(), self.at(pos), data.len()) };
        self.set_offset(end);
        true
    }

    /// Reserves `length` bytes and counts them written at once; returns
    /// where the caller writes them.
    #[inline(always)]
    pub(crate) fn reserve_record(&self, length: usize) -> Option<*mut u8> {
        let (pos, end) = self.geometry().reserve(self, length)?;
        self.set_offset(end);
        Some(self.at(pos))
    }

    /// Finishes the current sub-buffer (`relay_switch_subbuf`).
    pub(crate) fn switch_subbuf(&self, length: usize) -> bool {
        self.geometry().switch(self, length)
    }
}

impl Rchan {
    /// `rrelay_write`: interrupts off, safe from any context but NMI.
    /// Writers of a global buffer are serialized. Returns `false` when the
    /// record was dropped.
    #[inline]
    pub(crate) fn write(&self, data: &[u8]) -> bool {
        let _irq = IrqGuard::new();
        self.serialize_writer(|| {
            self.this_cpu_buf()
                .is_some_and(|buf| buf.write_record(data))
        })
    }

    /// `__rrelay_write`: preemption off on a per-CPU buffer (the caller
    /// keeps this CPU's interrupts out); a global buffer's writers are
    /// serialized with interrupts off, as in [`Rchan::write`]. Returns
    /// `false` when the record was dropped.
    #[inline]
    pub(crate) fn write_nested(&self, data: &[u8]) -> bool {
        if self.is_global() {
            return self.write(data);
        }
        let _preempt = PreemptGuard::new();
        self.this_cpu_buf()
            .is_some_and(|buf| buf.write_record(data))
    }

    /// `rrelay_reserve`: preemption off around the reservation only.
    #[inline]
    pub(crate) fn reserve(&self, length: usize) -> Option<*mut u8> {
        let _preempt = PreemptGuard::new();
        self.this_cpu_buf()?.reserve_record(length)
    }
}
