// SPDX-License-Identifier: GPL-2.0

//! A channel buffer (`RchanBuf`): the ring's memory and its counters.
//!
//! Context rules: the counters are atomics because the writer (any context,
//! one at a time per buffer) and the reader (process context, serialized by
//! `reader`) share them; nothing here sleeps except allocation and `reader`.

use crate::channel::Rchan;
use crate::shim;
use crate::stats::BufStats;
use crate::subbuf::{Geometry, ReaderPos, WriterSnapshot};
use crate::wakeup::Wakeup;
use core::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};
use kernel::bindings;
use kernel::page::{Page, PAGE_SIZE};
use kernel::prelude::*;
use kernel::sync::atomic::{Acquire, Atomic, Relaxed, Release};
use kernel::sync::{new_mutex, Arc, Mutex};

/// The public part of a buffer (`struct rrelay_buf` in `include/rrelay.h`):
/// what C clients read, and what the writer's fast path, inlined into
/// callers from the header as relay's is, works on.
///
/// `offset` and `data` change on every record: they are `core` atomics,
/// plain moves on the fast path (the kernel crate's atomics are out-of-line
/// calls in 7.2), with the acquire/release ordering of
/// `smp_load_acquire`/`smp_store_release`.
#[repr(C)]
pub(crate) struct RchanBufPublic {
    pub(crate) chan: *const Rchan,
    pub(crate) cpu: c_uint,
    /// Bytes used in the current sub-buffer, or the stopped marker.
    pub(crate) offset: AtomicUsize,
    /// The start of the current sub-buffer.
    pub(crate) data: AtomicPtr<u8>,
    pub(crate) subbuf_size: usize,
}

// The header's `struct rrelay_buf` has these offsets (rrelay_shim.c checks
// the C side against the same numbers).
#[cfg(target_pointer_width = "64")]
const _: () = {
    assert!(core::mem::offset_of!(RchanBufPublic, offset) == 16);
    assert!(core::mem::offset_of!(RchanBufPublic, data) == 24);
    assert!(core::mem::offset_of!(RchanBufPublic, subbuf_size) == 32);
};

/// The pages of a buffer, mapped contiguously.
///
/// # Invariants
///
/// `start` is the vmap of all of `pages`, `pages.len() * PAGE_SIZE` bytes,
/// valid until `drop`.
pub(crate) struct BufMem {
    pages: KVec<Page>,
    start: *mut u8,
}

impl BufMem {
    /// Allocates zeroed pages for `size` bytes and maps them.
    pub(crate) fn new(size: usize) -> Result<Self> {
        let count = size.div_ceil(PAGE_SIZE);
        let mut pages = KVec::with_capacity(count, GFP_KERNEL)?;
        let mut ptrs = KVec::with_capacity(count, GFP_KERNEL)?;
        for _ in 0..count {
            let page = Page::alloc_page(GFP_KERNEL | __GFP_ZERO)?;
            ptrs.push(page.as_ptr(), GFP_KERNEL)?;
            pages.push(page, GFP_KERNEL)?;
        }
        // SAFETY: The pages are live and owned by `pages`, which outlives
        // the mapping (`drop` unmaps first).
        let start = unsafe { shim::vmap(&mut ptrs)? };
        // INVARIANT: `start` maps exactly `pages`.
        Ok(BufMem { pages, start })
    }

    pub(crate) fn start(&self) -> *mut u8 {
        self.start
    }

    pub(crate) fn pages(&self) -> &[Page] {
        &self.pages
    }
}

impl Drop for BufMem {
    fn drop(&mut self) {
        // SAFETY: `start` is our live mapping (type invariant); the pages are
        // freed after this, when `pages` drops.
        unsafe { shim::vunmap(self.start) }
    }
}

// SAFETY: The mapping is plain memory; access is coordinated by `RchanBuf`.
unsafe impl Send for BufMem {}
// SAFETY: As above.
unsafe impl Sync for BufMem {}

/// One buffer of a channel.
///
/// # Invariants
///
/// - `public.chan` is `&*chan`, and `public` is the first field, so a
///   pointer to an `RchanBuf` is a valid `struct rrelay_buf *` for C.
/// - `padding.len() == chan.geometry().n_subbufs()`, and `mem` holds at
///   least `chan.geometry().data_size()` bytes.
/// - `offset <= subbuf_size + 1`, `current < n_subbufs`,
///   `consumed <= produced` (wrapping) and `produced - consumed <= n_subbufs`.
#[repr(C)]
#[pin_data]
pub(crate) struct RchanBuf {
    pub(crate) public: RchanBufPublic,
    chan: Arc<Rchan>,
    mem: BufMem,
    pub(crate) produced: Atomic<usize>,
    pub(crate) consumed: Atomic<usize>,
    /// The slot being written (`public.data` points to it).
    pub(crate) current: AtomicUsize,
    pub(crate) padding: KVec<Atomic<usize>>,
    /// Bytes the client reserved from its `subbuf_start` callback.
    pub(crate) start_reserve: Atomic<usize>,
    pub(crate) stats: BufStats,
    pub(crate) wakeup: Wakeup,
    /// The reader's position; the lock serializes readers of the buffer.
    #[pin]
    pub(crate) reader: Mutex<ReaderPos>,
    /// Set by close: no more data will come.
    pub(crate) finalized: Atomic<bool>,
    /// Reads return finished sub-buffers only (`RRELAY_FLAG_FINISHED_ONLY`).
    pub(crate) finished_only: Atomic<bool>,
    /// The buffer's file, once created.
    pub(crate) dentry: Atomic<*mut bindings::dentry>,
}

impl RchanBuf {
    /// Allocates a buffer for `cpu` and starts its first sub-buffer.
    pub(crate) fn new(chan: &Arc<Rchan>, cpu: u32) -> Result<Arc<Self>> {
        let g = chan.geometry();
        let mut padding = KVec::with_capacity(g.n_subbufs(), GFP_KERNEL)?;
        for _ in 0..g.n_subbufs() {
            padding.push(Atomic::new(0), GFP_KERNEL)?;
        }
        let mem = BufMem::new(g.alloc_size(PAGE_SIZE))?;
        let buf = Arc::pin_init(
            // INVARIANT: `padding` and `mem` are sized from the geometry;
            // the counters start at zero.
            try_pin_init!(RchanBuf {
                public: RchanBufPublic {
                    chan: &**chan,
                    cpu,
                    offset: AtomicUsize::new(0),
                    data: AtomicPtr::new(mem.start()),
                    subbuf_size: g.subbuf_size(),
                },
                chan: chan.clone(),
                mem,
                produced: Atomic::new(0),
                consumed: Atomic::new(0),
                current: AtomicUsize::new(0),
                padding,
                start_reserve: Atomic::new(0),
                stats: BufStats::new(),
                wakeup: Wakeup::new()?,
                reader <- new_mutex!(ReaderPos::default(), "rrelay_buf::reader"),
                finalized: Atomic::new(false),
                finished_only: Atomic::new(false),
                dentry: Atomic::new(core::ptr::null_mut()),
            }? Error),
            GFP_KERNEL,
        )?;
        g.start(&*buf);
        Ok(buf)
    }

    pub(crate) fn chan(&self) -> &Arc<Rchan> {
        &self.chan
    }

    pub(crate) fn geometry(&self) -> &Geometry {
        self.chan.geometry()
    }

    pub(crate) fn mem(&self) -> &BufMem {
        &self.mem
    }

    pub(crate) fn cpu(&self) -> u32 {
        self.public.cpu
    }

    /// The address of byte `pos` of the ring.
    #[inline(always)]
    pub(crate) fn at(&self, pos: usize) -> *mut u8 {
        // Positions come from the geometry, which stays inside the mapping.
        self.mem.start().wrapping_add(pos)
    }

    /// A consistent view of the writer for the reader: `produced` and an
    /// `offset` that belongs to the same sub-buffer.
    pub(crate) fn snapshot(&self) -> WriterSnapshot {
        loop {
            let produced = self.produced.load(Acquire);
            let offset = self.public.offset.load(Ordering::Acquire);
            if self.produced.load(Acquire) == produced {
                return WriterSnapshot { produced, offset };
            }
        }
    }

    pub(crate) fn padding_of(&self, slot: usize) -> usize {
        self.padding[slot].load(Relaxed)
    }

    /// Releases sub-buffers up to absolute number `consumed`, after the
    /// reader is done with their bytes.
    pub(crate) fn release_to(&self, consumed: usize) {
        self.consumed.store(consumed, Release);
    }

    /// Whether every sub-buffer holds unread data (`relay_buf_full`).
    pub(crate) fn is_full(&self) -> bool {
        self.geometry()
            .is_full(self.produced.load(Acquire), self.consumed.load(Acquire))
    }

    /// Whether a finished sub-buffer waits for the reader (poll's POLLIN).
    pub(crate) fn has_ready_subbuf(&self) -> bool {
        self.produced.load(Acquire) != self.consumed.load(Acquire)
    }

    /// Empties the buffer and starts again (`relay_reset`); the data pages
    /// are kept as they are. No writer or reader may run.
    pub(crate) fn reset(&self) {
        let mut reader = self.reader.lock();
        *reader = ReaderPos::default();
        self.produced.store(0, Release);
        self.consumed.store(0, Release);
        for p in self.padding.iter() {
            p.store(0, Relaxed);
        }
        self.stats.reset();
        self.finalized.store(false, Release);
        self.geometry().start(self);
    }
}
