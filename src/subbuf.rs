// SPDX-License-Identifier: GPL-2.0

//! Sub-buffer accounting: the arithmetic of a relay buffer, free of the kernel.
//!
//! This file is compiled twice: into `rrelay.ko` and into the host crate
//! `rrelay-accounting`, where it is tested with unit and property tests against
//! a simple model. It uses only `core` and holds no state of its own: the
//! kernel keeps the counters (in atomics, shared between the writer and the
//! reader) and passes snapshots of them to the functions here.
//!
//! The terms are those of the kernel's relay:
//! - A buffer is a ring of `n_subbufs` sub-buffers of `subbuf_size` bytes.
//! - `produced` counts the sub-buffers the writer has finished (ever), and
//!   `consumed` those the reader has released (ever); both only grow, so the
//!   slot of absolute sub-buffer `k` is `k % n_subbufs`.
//! - The writer fills slot `produced % n_subbufs`; the reader may read its
//!   first `offset` bytes. An offset of [`Geometry::stopped_offset`] means the
//!   writer is in no slot (stopped: the buffer was full in no-overwrite mode,
//!   or between two sub-buffers), so sub-buffer `produced - n_subbufs` is
//!   still intact.
//! - `padding[slot]` is the unused tail of a finished sub-buffer.
//! - The reader is at byte `bytes_consumed` of absolute sub-buffer `consumed`.
//!
//! The write protocol that moves these counters is `ring.rs`.

use core::num::NonZeroUsize;

/// Why a channel's geometry was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GeometryError {
    /// `subbuf_size` or `n_subbufs` is zero.
    Zero,
    /// `subbuf_size * n_subbufs` overflows or exceeds `u32::MAX` (relay's limit).
    TooLarge,
}

/// The shape of a buffer: how many sub-buffers of which size.
///
/// # Invariants
///
/// Both fields are non-zero and `subbuf_size * n_subbufs <= u32::MAX`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Geometry {
    subbuf_size: NonZeroUsize,
    n_subbufs: NonZeroUsize,
}

impl Geometry {
    /// Checks the sizes a client asked for, as `relay_open` does.
    #[inline]
    pub const fn new(subbuf_size: usize, n_subbufs: usize) -> Result<Self, GeometryError> {
        let (Some(size), Some(n)) = (NonZeroUsize::new(subbuf_size), NonZeroUsize::new(n_subbufs))
        else {
            return Err(GeometryError::Zero);
        };
        match subbuf_size.checked_mul(n_subbufs) {
            // INVARIANT: checked just above.
            Some(total) if total <= u32::MAX as usize => Ok(Self {
                subbuf_size: size,
                n_subbufs: n,
            }),
            _ => Err(GeometryError::TooLarge),
        }
    }

    /// The size of one sub-buffer in bytes.
    #[inline]
    pub const fn subbuf_size(&self) -> usize {
        self.subbuf_size.get()
    }

    /// The number of sub-buffers in the ring.
    #[inline]
    pub const fn n_subbufs(&self) -> usize {
        self.n_subbufs.get()
    }

    /// The lap of absolute sub-buffer `k`: how many times the ring was
    /// filled before it. (Division by a `NonZeroUsize`: no panic path.)
    pub fn lap(&self, k: usize) -> usize {
        k / self.n_subbufs
    }

    /// Whether a byte count is a whole number of sub-buffers: a mask for a
    /// power-of-two size (every commit asks), a division otherwise.
    pub fn is_whole_subbufs(&self, bytes: usize) -> bool {
        let size = self.subbuf_size();
        if size.is_power_of_two() {
            bytes & (size - 1) == 0
        } else {
            bytes % self.subbuf_size == 0
        }
    }

    /// The bytes of data the ring holds (before rounding up to pages).
    #[inline]
    pub const fn data_size(&self) -> usize {
        self.subbuf_size() * self.n_subbufs()
    }

    /// The bytes to allocate: the data size rounded up to whole pages.
    #[inline]
    pub const fn alloc_size(&self, page_size: usize) -> usize {
        self.data_size().div_ceil(page_size) * page_size
    }

    /// The writer offset that marks a stopped writer (relay's `subbuf_size + 1`).
    #[inline]
    pub const fn stopped_offset(&self) -> usize {
        self.subbuf_size() + 1
    }

    /// The ring slot of absolute sub-buffer `k`.
    #[inline]
    pub fn slot(&self, k: usize) -> usize {
        k % self.n_subbufs
    }

    /// The byte offset of a slot from the start of the buffer.
    #[inline]
    pub const fn slot_start(&self, slot: usize) -> usize {
        slot * self.subbuf_size()
    }

    /// Whether every sub-buffer holds data the reader has not released.
    #[inline]
    pub const fn is_full(&self, produced: usize, consumed: usize) -> bool {
        produced.wrapping_sub(consumed) >= self.n_subbufs()
    }

    /// Clamps a `consumed` count the way `relay_subbufs_consumed` does.
    ///
    /// Adding more than `n_subbufs` is ignored (returns `consumed` unchanged);
    /// adding more than is ready releases everything produced.
    #[inline]
    pub const fn add_consumed(&self, produced: usize, consumed: usize, n: usize) -> usize {
        if n > self.n_subbufs() {
            consumed
        } else if n > produced.wrapping_sub(consumed) {
            produced
        } else {
            consumed + n
        }
    }

    /// Where a reader stands relative to a writer snapshot, and what it may read.
    ///
    /// `padding` gives the padding of a slot; it is consulted only for
    /// finished sub-buffers. The caller applies [`ReadStep::Skip`] and
    /// [`ReadStep::Next`] and asks again; a [`ReadStep::Data`] range is
    /// released with [`Geometry::consume`] once copied.
    #[inline(always)]
    pub fn read_step(
        &self,
        w: WriterSnapshot,
        r: ReaderPos,
        padding: impl Fn(usize) -> usize,
    ) -> ReadStep {
        let ready = w.produced.wrapping_sub(r.consumed);
        let stopped = w.offset > self.subbuf_size();
        // The writer works in slot `produced % n`, which is the slot of
        // `produced - n`: once it is inside that slot, sub-buffer
        // `produced - n` is being overwritten and the oldest intact one is
        // `produced - n + 1`. A stopped writer is in no slot.
        if ready > self.n_subbufs() || (ready == self.n_subbufs() && !stopped) {
            let oldest = w.produced - self.n_subbufs() + usize::from(!stopped);
            return ReadStep::Skip {
                to: oldest,
                lost: oldest - r.consumed,
            };
        }
        let slot = self.slot(r.consumed);
        let end = if ready > 0 {
            self.subbuf_size() - padding(slot)
        } else if stopped {
            0
        } else {
            w.offset
        };
        if r.bytes_consumed < end {
            ReadStep::Data {
                start: self.slot_start(slot) + r.bytes_consumed,
                len: end - r.bytes_consumed,
            }
        } else if ready > 0 {
            ReadStep::Next
        } else {
            ReadStep::Empty
        }
    }

    /// The reader position after `n` bytes of a [`ReadStep::Data`] were taken.
    ///
    /// A finished sub-buffer read to its end is released at once, so the
    /// writer can reuse it; the sub-buffer being written is kept.
    #[inline(always)]
    pub fn consume(
        &self,
        w: WriterSnapshot,
        r: ReaderPos,
        n: usize,
        padding: impl Fn(usize) -> usize,
    ) -> ReaderPos {
        let bytes = r.bytes_consumed + n;
        let finished = w.produced.wrapping_sub(r.consumed) > 0;
        if finished && bytes >= self.subbuf_size() - padding(self.slot(r.consumed)) {
            ReaderPos {
                consumed: r.consumed + 1,
                bytes_consumed: 0,
            }
        } else {
            ReaderPos {
                consumed: r.consumed,
                bytes_consumed: bytes,
            }
        }
    }
}

/// A loss or limit event the switch reports to the buffer's statistics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// A switch found every sub-buffer unread (relay's `full_count`).
    Full,
    /// A write larger than a sub-buffer was refused (relay's `big_count`).
    TooBig,
    /// A record (of at least one byte) was dropped because the client
    /// stopped the buffer.
    Dropped,
    /// The writer moved into a sub-buffer the reader had not read.
    Overwritten,
}

/// What the reader needs to know of the writer, read once per step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriterSnapshot {
    /// Sub-buffers finished so far.
    pub produced: usize,
    /// Bytes used in the current sub-buffer, or the stopped marker.
    pub offset: usize,
}

/// Where the reader stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReaderPos {
    /// Sub-buffers released so far (shared with the writer).
    pub consumed: usize,
    /// Bytes already read from sub-buffer `consumed`.
    pub bytes_consumed: usize,
}

/// The reader's next move, from [`Geometry::read_step`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadStep {
    /// Nothing to read now.
    Empty,
    /// The sub-buffer at the reader is read out: release it and ask again.
    Next,
    /// The writer overwrote sub-buffers the reader had not read: resume at
    /// absolute sub-buffer `to`, `lost` sub-buffers later.
    Skip {
        /// The oldest intact sub-buffer.
        to: usize,
        /// How many sub-buffers were lost.
        lost: usize,
    },
    /// `len` readable bytes at byte `start` of the buffer (never crossing a
    /// sub-buffer end, never including padding).
    Data {
        /// Byte offset from the start of the buffer.
        start: usize,
        /// Number of bytes.
        len: usize,
    },
}

// The module's KUnit suite for this file (in test builds: `--cfg
// rrelay_kunit`, see Kbuild); the host crate `accounting/` tests it further.
#[cfg(rrelay_kunit)]
#[kernel::prelude::kunit_tests(rrelay_subbuf)]
mod subbuf_tests {
    use super::{Geometry, GeometryError, ReadStep, ReaderPos, WriterSnapshot};

    #[test]
    fn geometry_checks_sizes() {
        assert!(Geometry::new(0, 1) == Err(GeometryError::Zero));
        assert!(Geometry::new(1, 0) == Err(GeometryError::Zero));
        assert!(Geometry::new(usize::MAX, 2) == Err(GeometryError::TooLarge));
        assert!(Geometry::new(1 << 31, 2) == Err(GeometryError::TooLarge));
        assert!(Geometry::new(4096, 8).is_ok());
    }

    #[test]
    fn read_step_skips_padding_and_lost_subbufs() {
        let g = Geometry::new(100, 4).unwrap();
        let pad = |_| 40;
        let w = WriterSnapshot {
            produced: 2,
            offset: 10,
        };
        let step = g.read_step(w, ReaderPos::default(), pad);
        assert_eq!(step, ReadStep::Data { start: 0, len: 60 });
        let lagged = WriterSnapshot {
            produced: 6,
            offset: 10,
        };
        assert_eq!(
            g.read_step(lagged, ReaderPos::default(), pad),
            ReadStep::Skip { to: 3, lost: 3 }
        );
    }
}
