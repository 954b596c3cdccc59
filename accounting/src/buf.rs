// SPDX-License-Identifier: GPL-2.0

//! A buffer for the host tests: the protocol's state (`ring.rs`) in
//! atomics, and the bytes, each an atomic so concurrent tests stay sound.
//! Every field starts poisoned: `ring::start` must set what it relies on.
//! And the tagged records the concurrent tests write and check.

use crate::ring::{self, Client, Position, RingState, Step};
use crate::Geometry;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::vec::Vec;

/// The state of one buffer and its bytes.
pub struct Buf {
    pub g: Geometry,
    pub ws: AtomicU64,
    pub pos: AtomicUsize,
    pub consumed: AtomicUsize,
    pub commit: Vec<AtomicUsize>,
    pub padding: Vec<AtomicUsize>,
    pub start_reserve: AtomicUsize,
    pub room: Vec<AtomicI64>,
    pub current: AtomicUsize,
    /// Writes so far: each picks its commit ([`Buf::write`]).
    pub writes: AtomicUsize,
    /// Never written by a writer: 0xa5.
    pub data: Vec<AtomicU8>,
}

impl Buf {
    /// `n` sub-buffers of `size` bytes, poisoned.
    pub fn new(size: usize, n: usize) -> Self {
        Buf {
            g: Geometry::new(size, n).unwrap(),
            ws: AtomicU64::new(u64::MAX),
            pos: AtomicUsize::new(77),
            consumed: AtomicUsize::new(5),
            commit: (0..n).map(|_| AtomicUsize::new(3)).collect(),
            padding: (0..n).map(|_| AtomicUsize::new(9)).collect(),
            start_reserve: AtomicUsize::new(1),
            room: (0..n).map(|_| AtomicI64::new(12)).collect(),
            current: AtomicUsize::new(n + 1),
            writes: AtomicUsize::new(0),
            data: (0..size * n).map(|_| AtomicU8::new(0xa5)).collect(),
        }
    }

    /// Writes `bytes` at byte `pos` of the ring.
    pub fn put(&self, pos: usize, bytes: &[u8]) {
        for (i, b) in bytes.iter().enumerate() {
            self.data[pos + i].store(*b, Ordering::Relaxed);
        }
    }

    /// The `len` bytes at byte `pos` of the ring.
    pub fn get(&self, pos: usize, len: usize) -> Vec<u8> {
        (pos..pos + len)
            .map(|i| self.data[i].load(Ordering::Relaxed))
            .collect()
    }

    /// Sub-buffers finished.
    pub fn produced(&self) -> usize {
        Position::from_raw(self.pos.load(Ordering::Acquire)).produced()
    }

    /// Writes `rec` as a writer does: reserve, copy, commit (`c` may run
    /// another writer at `Step::Copy`). Returns whether it went in. Every
    /// other write commits as the C fast path does ([`Buf::commit_as_c`]),
    /// the rest as Rust writers do ([`ring::commit`]).
    pub fn write<C: Client>(&self, c: &C, rec: &[u8]) -> bool {
        match ring::reserve(&self.g, self, c, rec.len()) {
            Some(r) => {
                // Reserved, not yet written: another writer or a reader may run.
                c.step(Step::Copy);
                self.put(r.pos(&self.g), rec);
                let as_c = self.writes.fetch_add(1, Ordering::Relaxed) % 2 == 0;
                self.commit(c, r, as_c);
                true
            }
            None => false,
        }
    }

    /// Commits `r`, whose bytes are written, as the C fast path does
    /// (`as_c`: [`Buf::commit_as_c`]) or as Rust writers do
    /// ([`ring::commit`]).
    pub fn commit<C: Client>(&self, c: &C, r: ring::Reservation, as_c: bool) {
        if as_c {
            self.commit_as_c(c, r.slot, r.len);
        } else {
            ring::commit(&self.g, self, c, r);
        }
    }

    /// `__rrelay_commit` of `include/rrelay.h` on 64-bit: a 32-bit add to
    /// the low half of the count (here a compare-and-exchange of the whole
    /// word that leaves the high half alone: the same atomic step), and
    /// [`ring::carry`] when the low half wrapped to zero. It takes the
    /// same [`Step::Copy`] first as [`ring::commit`].
    pub fn commit_as_c<C: Client>(&self, c: &C, slot: usize, len: usize) {
        c.step(Step::Copy);
        let low = |v: usize| v as u32;
        let prev = self.commit[slot]
            .fetch_update(Ordering::Release, Ordering::Relaxed, |v| {
                Some((v & !(u32::MAX as usize)) | low(v).wrapping_add(len as u32) as usize)
            })
            .unwrap();
        if low(prev).wrapping_add(len as u32) == 0 {
            c.step(Step::Carry);
            ring::carry(&self.g, self, c, slot, len);
        }
    }
}

/// Reserves `len` bytes as the C fast path of `include/rrelay.h` does:
/// one add to the room (none for a record larger than a sub-buffer), then
/// the slow half ([`ring::reserve_after_miss`]) if it found no room.
pub fn reserve_as_c<S: RingState, C: Client>(
    g: &crate::Geometry,
    s: &S,
    c: &C,
    len: usize,
) -> Option<ring::Reservation> {
    if len > g.subbuf_size() {
        return ring::reserve_after_miss(g, s, c, len, ring::Miss::refused(s.current()));
    }
    match ring::try_reserve(g, s, c, len) {
        Ok(r) => Some(r),
        Err(miss) => ring::reserve_after_miss(g, s, c, len, miss),
    }
}

/// Record `seq` of writer `w`, `len` bytes (4 to 127): its length, `w`,
/// `seq`, then bytes that depend on all three, so a torn or misplaced
/// record shows.
pub fn tagged(w: u8, seq: u16, len: usize) -> Vec<u8> {
    let mut r = std::vec![len as u8, w, seq as u8, (seq >> 8) as u8];
    r.extend((4..len).map(|i| (seq as usize * 3 + i) as u8 ^ w));
    r
}

/// Splits what a reader got into [`tagged`] records, skipping headers
/// (bytes with the top bit set); panics on anything torn.
pub fn parse(bytes: &[u8]) -> Vec<(u8, u16)> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        if bytes[at] & 0x80 != 0 {
            at += 1;
            continue;
        }
        let len = bytes[at] as usize;
        assert!(len >= 4 && at + len <= bytes.len(), "torn record at {at}");
        let (w, seq) = (
            bytes[at + 1],
            u16::from(bytes[at + 2]) | u16::from(bytes[at + 3]) << 8,
        );
        assert_eq!(
            &bytes[at..at + len],
            &tagged(w, seq, len)[..],
            "record {w}/{seq} corrupt"
        );
        out.push((w, seq));
        at += len;
    }
    out
}

impl RingState for Buf {
    fn ws(&self) -> &AtomicU64 {
        &self.ws
    }
    fn pos(&self) -> &AtomicUsize {
        &self.pos
    }
    fn consumed(&self) -> &AtomicUsize {
        &self.consumed
    }
    fn commit(&self, slot: usize) -> &AtomicUsize {
        &self.commit[slot]
    }
    fn padding(&self, slot: usize) -> &AtomicUsize {
        &self.padding[slot]
    }
    fn start_reserve(&self) -> &AtomicUsize {
        &self.start_reserve
    }
    fn room(&self, slot: usize) -> &AtomicI64 {
        &self.room[slot]
    }
    fn current(&self) -> usize {
        self.current.load(Ordering::Acquire)
    }
    fn set_current(&self, slot: usize) {
        self.current.store(slot, Ordering::Release)
    }
}

/// True once in `n` calls on average, from a per-thread xorshift: the
/// concurrent tests widen the windows between steps with it.
pub fn one_in(n: u64) -> bool {
    std::thread_local!(static X: core::cell::Cell<u64> = const { core::cell::Cell::new(0x9e37_79b9_7f4a_7c15) });
    X.with(|x| {
        let mut v = x.get();
        v ^= v << 13;
        v ^= v >> 7;
        v ^= v << 17;
        x.set(v);
        v % n == 0
    })
}
