// SPDX-License-Identifier: GPL-2.0

//! The sub-buffer header of a channel opened with `RRELAY_SUBBUF_HEADERS`
//! (`struct rrelay_subbuf_header` of the uapi header): loss reported in
//! the data itself, as LTTng's packet context and ftrace's missed-events
//! flag report it to their readers.
//!
//! The switch that starts a sub-buffer writes the header's first half
//! (number, CPU, start time) once the client accepted the sub-buffer; the
//! switch that finishes it writes the rest (data size, finish time, the
//! loss counts) before it commits the padding. The switch owns the
//! buffer's write side meanwhile, and the header's bytes lie in the start
//! reserve, which no writer reserves; no reader takes the sub-buffer before
//! it is complete, which the padding's commit (release) makes it.

use crate::buffer::RchanBuf;
use crate::uapi::{SubbufHeader, SUBBUF_GLOBAL, SUBBUF_MAGIC};
use core::mem::size_of;

/// The header's size: the start reserve every sub-buffer begins with.
pub(crate) const HEADER_SIZE: usize = size_of::<SubbufHeader>();

/// Nanoseconds of `CLOCK_MONOTONIC`, from any context (NMI included).
fn now_ns() -> u64 {
    // SAFETY: `ktime_get_mono_fast_ns` has no preconditions and is NMI-safe.
    unsafe { kernel::bindings::ktime_get_mono_fast_ns() }
}

impl RchanBuf {
    /// The header of `slot`.
    fn header(&self, slot: usize) -> *mut SubbufHeader {
        self.at(self.geometry().slot_start(slot)).cast()
    }

    /// Writes the start of the header of sub-buffer `k`, just started in
    /// `slot`. Called by the switch that started it, before it publishes
    /// the slot to writers.
    pub(crate) fn begin_header(&self, slot: usize, k: usize) {
        let h = SubbufHeader {
            magic: SUBBUF_MAGIC,
            header_size: HEADER_SIZE as u16,
            flags: if self.chan().is_global() {
                SUBBUF_GLOBAL
            } else {
                0
            },
            cpu: self.cpu(),
            data_size: 0,
            seq: k as u64,
            time_begin: now_ns(),
            time_end: 0,
            dropped: 0,
            too_big: 0,
            overwritten: 0,
        };
        // SAFETY: The header lies in the slot's start reserve, inside the
        // mapping (`subbuf_size > 2 * HEADER_SIZE`, checked at open). The
        // switch that owns the buffer's write side started the slot: no
        // writer reserves these bytes, and no reader takes the slot before
        // it is complete. A sub-buffer may start at any byte: unaligned.
        unsafe { self.header(slot).write_unaligned(h) };
    }

    /// Completes the header of the sub-buffer just finished in `slot`
    /// with `bytes` bytes reserved in it (the header's included). Called
    /// by the switch that finished it, before it commits the padding.
    pub(crate) fn end_header(&self, slot: usize, bytes: usize) {
        let s = self.stats.snapshot(0, 0);
        let at = self.header(slot);
        // SAFETY: As in `begin_header`: the switch that finished the
        // sub-buffer owns these bytes until it commits the padding, which
        // makes the sub-buffer complete and readable; `begin_header` wrote
        // them when the sub-buffer started.
        let mut h = unsafe { at.read_unaligned() };
        h.data_size = bytes.saturating_sub(HEADER_SIZE) as u32;
        h.time_end = now_ns();
        h.dropped = s.dropped;
        h.too_big = s.big;
        h.overwritten = s.overwritten;
        // SAFETY: As above.
        unsafe { at.write_unaligned(h) };
    }
}
