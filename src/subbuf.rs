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
//! - The writer fills slot `produced % n_subbufs` up to `offset`. An offset of
//!   [`Geometry::stopped_offset`] means the writer is stopped (the buffer was
//!   full in no-overwrite mode): every write goes to the switch and is dropped
//!   until the reader frees a sub-buffer.
//! - `padding[slot]` is the unused tail of a finished sub-buffer.
//! - The reader is at byte `bytes_consumed` of absolute sub-buffer `consumed`.

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
    subbuf_size: usize,
    n_subbufs: usize,
}

impl Geometry {
    /// Checks the sizes a client asked for, as `relay_open` does.
    pub const fn new(subbuf_size: usize, n_subbufs: usize) -> Result<Self, GeometryError> {
        if subbuf_size == 0 || n_subbufs == 0 {
            return Err(GeometryError::Zero);
        }
        match subbuf_size.checked_mul(n_subbufs) {
            // INVARIANT: checked just above.
            Some(total) if total <= u32::MAX as usize => Ok(Self {
                subbuf_size,
                n_subbufs,
            }),
            _ => Err(GeometryError::TooLarge),
        }
    }

    /// The size of one sub-buffer in bytes.
    pub const fn subbuf_size(&self) -> usize {
        self.subbuf_size
    }

    /// The number of sub-buffers in the ring.
    pub const fn n_subbufs(&self) -> usize {
        self.n_subbufs
    }

    /// The bytes of data the ring holds (before rounding up to pages).
    pub const fn data_size(&self) -> usize {
        self.subbuf_size * self.n_subbufs
    }

    /// The bytes to allocate: the data size rounded up to whole pages.
    pub const fn alloc_size(&self, page_size: usize) -> usize {
        self.data_size().div_ceil(page_size) * page_size
    }

    /// The writer offset that marks a stopped writer (relay's `subbuf_size + 1`).
    pub const fn stopped_offset(&self) -> usize {
        self.subbuf_size + 1
    }

    /// The ring slot of absolute sub-buffer `k`.
    pub const fn slot(&self, k: usize) -> usize {
        k % self.n_subbufs
    }

    /// The byte offset of a slot from the start of the buffer.
    pub const fn slot_start(&self, slot: usize) -> usize {
        slot * self.subbuf_size
    }

    /// Whether `length` more bytes fit at `offset` in the current sub-buffer.
    ///
    /// This is the whole fast-path test; it cannot overflow, because `offset`
    /// is at most `stopped_offset()` and a `length` above `subbuf_size` never fits.
    #[inline(always)]
    pub const fn fits(&self, offset: usize, length: usize) -> bool {
        length <= self.subbuf_size && offset + length <= self.subbuf_size
    }

    /// Whether every sub-buffer holds data the reader has not released.
    pub const fn is_full(&self, produced: usize, consumed: usize) -> bool {
        produced.wrapping_sub(consumed) >= self.n_subbufs
    }

    /// The padding left when the writer finishes a sub-buffer at `offset`.
    ///
    /// Returns `None` for a stopped writer: its sub-buffer was finished already.
    pub const fn finish(&self, offset: usize) -> Option<usize> {
        if offset > self.subbuf_size {
            None
        } else {
            Some(self.subbuf_size - offset)
        }
    }

    /// Clamps a `consumed` count the way `relay_subbufs_consumed` does.
    ///
    /// Adding more than `n_subbufs` is ignored (returns `consumed` unchanged);
    /// adding more than is ready releases everything produced.
    pub const fn add_consumed(&self, produced: usize, consumed: usize, n: usize) -> usize {
        if n > self.n_subbufs {
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
    pub fn read_step(
        &self,
        w: WriterSnapshot,
        r: ReaderPos,
        padding: impl Fn(usize) -> usize,
    ) -> ReadStep {
        let ready = w.produced.wrapping_sub(r.consumed);
        let stopped = w.offset > self.subbuf_size;
        // The writer works in slot `produced % n`, which is the slot of
        // `produced - n`: once it is inside that slot, sub-buffer
        // `produced - n` is being overwritten and the oldest intact one is
        // `produced - n + 1`. A stopped writer is in no slot.
        if ready > self.n_subbufs || (ready == self.n_subbufs && !stopped) {
            let oldest = w.produced - self.n_subbufs + usize::from(!stopped);
            return ReadStep::Skip {
                to: oldest,
                lost: oldest - r.consumed,
            };
        }
        let slot = self.slot(r.consumed);
        let end = if ready > 0 {
            self.subbuf_size - padding(slot)
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
    pub fn consume(
        &self,
        w: WriterSnapshot,
        r: ReaderPos,
        n: usize,
        padding: impl Fn(usize) -> usize,
    ) -> ReaderPos {
        let bytes = r.bytes_consumed + n;
        let finished = w.produced.wrapping_sub(r.consumed) > 0;
        if finished && bytes >= self.subbuf_size - padding(self.slot(r.consumed)) {
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

    /// Whether data copied from absolute sub-buffer `k` is still intact,
    /// judged from a writer snapshot taken after the copy.
    ///
    /// The writer enters the slot of `k` only after finishing sub-buffer
    /// `k + n_subbufs - 1`, so `k` is intact while fewer than `n_subbufs`
    /// sub-buffers were finished since, or exactly that many and the writer
    /// is stopped (a full buffer in no-overwrite mode).
    pub const fn intact(&self, after: WriterSnapshot, k: usize) -> bool {
        let d = after.produced.wrapping_sub(k);
        d < self.n_subbufs || (d == self.n_subbufs && after.offset > self.subbuf_size)
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

/// The writer-side state of one buffer, as the switch sees it.
///
/// The kernel implements this over the buffer's atomics (called with
/// interrupts or preemption off, so one writer at a time per buffer); the
/// host tests implement it over plain cells. Slots are ring indexes.
pub trait Writer {
    /// Bytes used in the current sub-buffer, or the stopped marker.
    fn offset(&self) -> usize;
    /// Publishes a new offset (a release store: the bytes below it are written).
    fn set_offset(&self, offset: usize);
    /// Sub-buffers finished so far.
    fn produced(&self) -> usize;
    /// Sub-buffers the reader released so far.
    fn consumed(&self) -> usize;
    /// The slot being written.
    fn current(&self) -> usize;
    /// Makes `slot` the one being written.
    fn set_current(&self, slot: usize);
    /// Records the padding of a slot.
    fn set_padding(&self, slot: usize, padding: usize);
    /// Publishes one more finished sub-buffer holding `bytes` bytes: a release
    /// of `produced`, then a full barrier and the reader wakeup.
    fn publish(&self, produced: usize, bytes: usize);
    /// Asks the client whether to go on into `slot` (`prev` is `None` for the
    /// first sub-buffer); `full` says whether that means overwriting.
    fn subbuf_start(&self, slot: usize, prev: Option<usize>, full: bool) -> bool;
    /// Takes the bytes the client reserved at the start of the new sub-buffer
    /// from its `subbuf_start` callback (0 when none).
    fn take_start_reserve(&self) -> usize;
    /// Counts an event.
    fn count(&self, event: Event);
}

impl Geometry {
    /// Starts the first sub-buffer of a new or reset buffer.
    pub fn start<W: Writer>(&self, w: &W) {
        w.set_current(0);
        w.set_padding(0, 0);
        if w.subbuf_start(0, None, false) {
            w.set_offset(self.clamp_reserve(w.take_start_reserve()));
        } else {
            w.set_offset(self.stopped_offset());
        }
    }

    /// A start reserve must leave room for data, as relay's `BUG_ON` demands.
    /// (`subbuf_size >= 1`, so this cannot underflow; `reserve + 1` would
    /// overflow for a client's `SIZE_MAX`.)
    fn clamp_reserve(&self, reserve: usize) -> usize {
        if reserve >= self.subbuf_size - 1 {
            0
        } else {
            reserve
        }
    }

    /// Finishes the current sub-buffer and moves to the next one, as
    /// `relay_switch_subbuf` does; returns whether a record of `length` bytes
    /// now fits (when not, the reason is counted).
    pub fn switch<W: Writer>(&self, w: &W, length: usize) -> bool {
        if length > self.subbuf_size {
            w.count(Event::TooBig);
            return false;
        }
        let old = w.current();
        if let Some(padding) = self.finish(w.offset()) {
            let produced = w.produced();
            w.set_padding(self.slot(produced), padding);
            // The reader must not take the offset for one in the next slot
            // before it sees `produced` move.
            w.set_offset(self.stopped_offset());
            w.publish(produced + 1, self.subbuf_size - padding);
        }
        let produced = w.produced();
        let full = self.is_full(produced, w.consumed());
        if full {
            w.count(Event::Full);
        }
        let new = self.slot(produced);
        if !w.subbuf_start(new, Some(old), full) {
            // A flush (length 0) is no record: nothing was dropped.
            if length > 0 {
                w.count(Event::Dropped);
            }
            return false;
        }
        if full {
            w.count(Event::Overwritten);
        }
        w.set_padding(new, 0);
        w.set_current(new);
        let start = self.clamp_reserve(w.take_start_reserve());
        w.set_offset(start);
        if !self.fits(start, length) {
            w.count(Event::TooBig);
            return false;
        }
        true
    }

    /// Finds room for `length` bytes, switching sub-buffers when needed.
    ///
    /// Returns the byte position in the buffer and the offset to publish
    /// with [`Writer::set_offset`] once the bytes are written, or `None` when
    /// the record is dropped (counted by the switch).
    #[inline(always)]
    pub fn reserve<W: Writer>(&self, w: &W, length: usize) -> Option<(usize, usize)> {
        let mut offset = w.offset();
        if !self.fits(offset, length) {
            if !self.switch(w, length) {
                return None;
            }
            offset = w.offset();
        }
        Some((self.slot_start(w.current()) + offset, offset + length))
    }
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
