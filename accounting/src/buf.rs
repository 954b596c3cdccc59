// SPDX-License-Identifier: GPL-2.0

//! A buffer for the host tests: the protocol's state (`ring.rs`) in
//! atomics, and the bytes, each an atomic so concurrent tests stay sound.
//! Every field starts poisoned: `ring::start` must set what it relies on.

use crate::ring::{Position, RingState};
use crate::Geometry;
use std::sync::atomic::{AtomicU64, AtomicU8, AtomicUsize, Ordering};
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
}
