// SPDX-License-Identifier: GPL-2.0

//! A channel buffer (`RchanBuf`): the ring's memory and the state the
//! lockless write protocol (`ring.rs`) and the reader share.
//!
//! Context rules: the writer side (reserve, commit, switch, flush, the
//! statistics) runs in any context, NMI included, on atomics only; the
//! reader (process context) serializes itself with `reader`. Nothing here
//! sleeps except allocation and `reader`.

use crate::channel::Rchan;
use crate::layout::assert_layout;
use crate::ring::{self, Position, RingState, Snapshot};
use crate::shim;
use crate::stats::BufStats;
use crate::subbuf::{Geometry, ReaderPos, WriterSnapshot};
use crate::uapi;
use crate::wakeup::Wakeup;
use core::sync::atomic::{fence, AtomicI64, AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use kernel::alloc::KVVec;
use kernel::bindings;
use kernel::page::{Page, PAGE_SIZE};
use kernel::prelude::*;
use kernel::sync::atomic::{Acquire, Atomic, Release};
use kernel::sync::{new_mutex, Arc, Mutex};

/// A slot of the ring as the header's fast path sees it (`struct
/// rrelay_slot` in `include/rrelay.h`): the room writers reserve from,
/// where a reservation's bytes go, and the slot's commit count.
///
/// # Invariants
///
/// `room_end` is the end of the slot's sub-buffer in the buffer's mapping,
/// for the buffer's lifetime.
#[repr(C)]
pub(crate) struct Slot {
    /// The room left in the slot's sub-buffer ([`RingState::room`]).
    room: AtomicI64,
    room_end: *mut u8,
    /// Bytes committed to the slot, ever ([`RingState::commit`]).
    commit: AtomicUsize,
    /// To 32 bytes: a slot's index is its offset shifted, not divided.
    pad: usize,
}

/// The public part of a buffer (`struct rrelay_buf` in `include/rrelay.h`):
/// what C clients read, and what the writer's fast path, inlined into
/// callers from the header as relay's is, works on: the write state word
/// and the slots.
///
/// The atomics are `core` atomics: plain instructions on the fast path
/// (the kernel crate's atomics are out-of-line calls in 7.2), the same
/// `lock xadd` the header's reservation compiles to; a commit is a 64-bit
/// `lock xadd` here, where the header's is a 32-bit `lock add` to the low
/// half of the count ([`ring::carry`]).
#[repr(C)]
pub(crate) struct RchanBufPublic {
    chan: *const Rchan,
    cpu: c_uint,
    /// The write state word ([`ring::WriteState`]).
    ws: AtomicU64,
    /// The start of the mapping.
    start: *mut u8,
    subbuf_size: usize,
    /// One per sub-buffer (`RchanBuf::slots`'s storage).
    slots: *const Slot,
    /// The slot writers reserve from ([`RingState::current`]): one of
    /// `slots`.
    cur: AtomicPtr<Slot>,
}

// The header's `struct rrelay_buf` and `struct rrelay_slot`.
assert_layout!(
    rrelay_buf = RchanBufPublic {
        chan,
        cpu,
        ws,
        start,
        subbuf_size,
        slots,
        cur
    }
);
assert_layout!(
    rrelay_slot = Slot {
        room,
        room_end,
        commit,
        pad
    }
);

/// The pages of a buffer, mapped contiguously.
///
/// # Invariants
///
/// `start` is the vmap of all of `pages`, `pages.len() * PAGE_SIZE` bytes,
/// valid until `drop`.
pub(crate) struct BufMem {
    /// `kvmalloc`ed, as relay's page array: a buffer near 1 GiB needs
    /// 2 MiB of page pointers.
    pages: KVVec<Page>,
    start: *mut u8,
}

impl BufMem {
    /// Allocates zeroed pages for `size` bytes and maps them.
    pub(crate) fn new(size: usize) -> Result<Self> {
        let count = size.div_ceil(PAGE_SIZE);
        let mut pages = KVVec::with_capacity(count, GFP_KERNEL)?;
        let mut ptrs = KVVec::with_capacity(count, GFP_KERNEL)?;
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

    /// The start of the last page.
    #[inline]
    pub(crate) fn last_page(&self) -> *mut u8 {
        // No overflow: the pages are mapped from `start` on.
        self.start
            .wrapping_add(self.pages.len().saturating_sub(1).wrapping_mul(PAGE_SIZE))
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
/// - `public.start` is `mem.start()`, `public.slots` is `slots`'s storage,
///   and `slots.len() == padding.len() == chan.geometry().n_subbufs()`;
///   `mem` holds `chan.geometry().alloc_size(PAGE_SIZE)` bytes of data,
///   then the meta page ([`Meta`]).
/// - `public.ws`, `pos`, `consumed`, the slots' commits, `padding` and
///   `start_reserve` move only as the protocol in `ring.rs` says (through
///   `ring::*`, [`RchanBuf::release_to`] and [`RchanBuf::release_lent`]): a
///   sub-buffer is readable once complete, and the reader never gets ahead
///   of the writer.
/// - `consumed <= taken <= produced` (wrapping): the writer may reuse a
///   sub-buffer once the reader took it and no pipe holds its pages
///   (`lent[slot].count == 0`); `lent.len() == n_subbufs`, and every
///   `lent[..].owner` is this buffer.
#[repr(C)]
#[pin_data]
pub(crate) struct RchanBuf {
    public: RchanBufPublic,
    chan: Arc<Rchan>,
    mem: BufMem,
    /// The position word ([`ring::Position`]).
    pos: AtomicUsize,
    /// Sub-buffers given back to the writer, ever: taken, and not lent.
    consumed: AtomicUsize,
    /// Sub-buffers the reader took, ever: read, skipped, released by an mmap
    /// reader, or lent to a pipe (zero-copy splice).
    taken: AtomicUsize,
    /// Per slot: the pipe buffers and mmap readers holding its pages
    /// (`splice.rs`, `mmap.rs`).
    lent: KVVec<Lent>,
    /// The sub-buffer handed out to an mmap reader (`mmap.rs`). Lock order:
    /// `reader`, then `held`.
    #[pin]
    pub(crate) held: Mutex<Option<crate::mmap::Held>>,
    slots: KVVec<Slot>,
    padding: KVVec<AtomicUsize>,
    /// Bytes the client reserved from its `subbuf_start` callback.
    start_reserve: AtomicUsize,
    pub(crate) stats: BufStats,
    pub(crate) wakeup: Wakeup,
    /// Where `read()` stands: `consumed` as it last saw it, and its bytes
    /// into that sub-buffer; the lock serializes readers of the buffer.
    #[pin]
    reader: Mutex<ReaderPos>,
    /// Set by close: no more data will come.
    finalized: Atomic<bool>,
    /// Reads return finished sub-buffers only (`RRELAY_FLAG_FINISHED_ONLY`;
    /// always with sub-buffer headers).
    pub(crate) finished_only: Atomic<bool>,
    /// The buffer's file, once created.
    pub(crate) dentry: Atomic<*mut bindings::dentry>,
}

impl RingState for RchanBuf {
    #[inline(always)]
    fn ws(&self) -> &AtomicU64 {
        &self.public.ws
    }

    #[inline(always)]
    fn pos(&self) -> &AtomicUsize {
        &self.pos
    }

    #[inline(always)]
    fn consumed(&self) -> &AtomicUsize {
        &self.consumed
    }

    #[inline(always)]
    fn commit(&self, slot: usize) -> &AtomicUsize {
        &self.slots[slot].commit
    }

    #[inline(always)]
    fn padding(&self, slot: usize) -> &AtomicUsize {
        &self.padding[slot]
    }

    #[inline(always)]
    fn start_reserve(&self) -> &AtomicUsize {
        &self.start_reserve
    }

    #[inline(always)]
    fn room(&self, slot: usize) -> &AtomicI64 {
        &self.slots[slot].room
    }

    #[inline(always)]
    fn current(&self) -> usize {
        // Acquire: pairs with `set_current`'s release.
        self.slot_index(self.public.cur.load(Ordering::Acquire))
    }

    #[inline(always)]
    fn set_current(&self, slot: usize) {
        // INVARIANT: one of `slots`.
        self.public
            .cur
            .store(self.slot_ptr(slot).cast_mut(), Ordering::Release);
    }
}

/// The meta page (`struct rrelay_meta` of the uapi header): the last page
/// of the buffer's mapping, mapped read-only by mmap readers. Each field is
/// updated atomically; the fields are independent.
pub(crate) type Meta = uapi::Meta<AtomicU64>;

const _: () = assert!(
    core::mem::size_of::<Meta>() == core::mem::size_of::<uapi::Meta>()
        && core::mem::size_of::<Meta>() <= PAGE_SIZE
);

/// The pipe buffers that hold a slot's pages, and the buffer they belong
/// to: the token a lent pipe buffer carries (`splice.rs`).
pub(crate) struct Lent {
    pub(crate) count: AtomicUsize,
    pub(crate) owner: AtomicPtr<RchanBuf>,
}

/// `n` zeroed atomics.
fn zeroed_atomics(n: usize) -> Result<KVVec<AtomicUsize>> {
    let mut v = KVVec::with_capacity(n, GFP_KERNEL)?;
    for _ in 0..n {
        v.push(AtomicUsize::new(0), GFP_KERNEL)?;
    }
    Ok(v)
}

impl RchanBuf {
    /// Allocates a buffer for `cpu` and starts its first sub-buffer.
    pub(crate) fn new(chan: &Arc<Rchan>, cpu: u32) -> Result<Arc<Self>> {
        let g = chan.geometry();
        let padding = zeroed_atomics(g.n_subbufs())?;
        let mut lent = KVVec::with_capacity(g.n_subbufs(), GFP_KERNEL)?;
        for _ in 0..g.n_subbufs() {
            lent.push(
                Lent {
                    count: AtomicUsize::new(0),
                    owner: AtomicPtr::new(core::ptr::null_mut()),
                },
                GFP_KERNEL,
            )?;
        }
        // The data, then the meta page.
        let mem = BufMem::new(g.alloc_size(PAGE_SIZE) + PAGE_SIZE)?;
        let mut slots = KVVec::with_capacity(g.n_subbufs(), GFP_KERNEL)?;
        for slot in 0..g.n_subbufs() {
            // INVARIANT: one past the slot's last byte; within (or one
            // past) the mapping, which holds every sub-buffer.
            let room_end = mem.start().wrapping_add((slot + 1) * g.subbuf_size());
            slots.push(
                Slot {
                    room: AtomicI64::new(0),
                    pad: 0,
                    room_end,
                    commit: AtomicUsize::new(0),
                },
                GFP_KERNEL,
            )?;
        }
        let buf = Arc::pin_init(
            // INVARIANT: the public pointers are `mem`'s and `slots`'s
            // (a `KVVec` does not move its storage when moved itself); the
            // arrays and `mem` are sized from the geometry; `ring::start`
            // below sets the protocol's state.
            try_pin_init!(RchanBuf {
                public: RchanBufPublic {
                    chan: &**chan,
                    cpu,
                    ws: AtomicU64::new(ring::WriteState::stopped(0).raw()),
                    start: mem.start(),
                    subbuf_size: g.subbuf_size(),
                    slots: slots.as_ptr(),
                    cur: AtomicPtr::new(slots.as_ptr().cast_mut()),
                },
                chan: chan.clone(),
                mem,
                pos: AtomicUsize::new(0),
                consumed: AtomicUsize::new(0),
                taken: AtomicUsize::new(0),
                lent,
                slots,
                padding,
                start_reserve: AtomicUsize::new(0),
                stats: BufStats::new(),
                wakeup: Wakeup::new()?,
                reader <- new_mutex!(ReaderPos::default(), "rrelay_buf::reader"),
                held <- new_mutex!(None, "rrelay_buf::held"),
                finalized: Atomic::new(false),
                finished_only: Atomic::new(chan.has_headers()),
                dentry: Atomic::new(core::ptr::null_mut()),
            }? Error),
            GFP_KERNEL,
        )?;
        for l in buf.lent.iter() {
            // INVARIANT: every token names this buffer.
            l.owner
                .store(Arc::as_ptr(&buf).cast_mut(), Ordering::Relaxed);
        }
        let meta = buf.meta();
        meta.version.store(uapi::META_VERSION, Ordering::Relaxed);
        meta.subbuf_size
            .store(g.subbuf_size() as u64, Ordering::Relaxed);
        meta.n_subbufs
            .store(g.n_subbufs() as u64, Ordering::Relaxed);
        ring::start(g, &*buf, &*buf);
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

    /// The address of slot `slot`'s [`Slot`], for a C reservation.
    pub(crate) fn slot_ptr(&self, slot: usize) -> *const Slot {
        &self.slots[slot]
    }

    /// The slot a [`Slot`] address from [`RchanBuf::slot_ptr`] (or the
    /// header's fast path) names.
    pub(crate) fn slot_index(&self, slot: *const Slot) -> usize {
        (slot.addr().wrapping_sub(self.slots.as_ptr().addr())) / core::mem::size_of::<Slot>()
    }

    /// What the header's fast path found: no room for its record in
    /// `slot` (one of this buffer's), which had `room` left.
    ///
    /// # Safety
    ///
    /// As [`ring::Miss::from_raw`]: `room` is what the fast path's one add
    /// to `slot`'s room returned (or -1 for a record it refused before
    /// any add), in the caller's context, made into no other `Miss`.
    pub(crate) unsafe fn miss(&self, slot: *const Slot, room: i64) -> ring::Miss {
        // SAFETY: The caller's promise.
        unsafe { ring::Miss::from_raw(self.slot_index(slot), room) }
    }

    /// The address of byte `pos` of the ring.
    #[inline(always)]
    pub(crate) fn at(&self, pos: usize) -> *mut u8 {
        // Positions come from the geometry, which stays inside the mapping.
        self.mem.start().wrapping_add(pos)
    }

    /// What the reader may read now ([`ring::snapshot`]).
    #[inline]
    pub(crate) fn snapshot(&self) -> Snapshot {
        ring::snapshot(self.geometry(), self)
    }

    /// [`ring::intact`]: whether a copy of sub-buffer `k` taken before
    /// (with a read barrier between) is intact.
    #[inline]
    pub(crate) fn intact(&self, k: usize) -> bool {
        ring::intact(self.geometry(), self, k)
    }

    /// [`ring::writer_for`]: the writer, for a reader at sub-buffer `k`.
    #[inline]
    pub(crate) fn writer_for(&self, k: usize) -> WriterSnapshot {
        ring::writer_for(self.geometry(), self, k)
    }

    /// The meta page.
    #[inline]
    pub(crate) fn meta(&self) -> &Meta {
        let at = self.mem.last_page();
        // SAFETY: The last page, after the data, is the meta page (type
        // invariant): page-aligned, zeroed at allocation (a valid `Meta`),
        // alive as long as `self`, and only ever accessed through these
        // atomics (user space maps it read-only).
        unsafe { &*at.cast::<Meta>() }
    }

    /// Counts `n` sub-buffers a reader had to skip (statistics and meta).
    pub(crate) fn count_lost(&self, n: usize) {
        self.stats.add_lost(n);
        self.meta().lost.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// Marks a lend of sub-buffer `k` (its slot's pages go to a pipe or an
    /// mmap reader) if it is still intact; `None` (and no lend) when the
    /// writer started its slot anew. The full fence orders the lend before
    /// the second look; it pairs with the switch's fence before it checks
    /// the lends (`ring.rs`): either this sees the switch, or the switch
    /// sees the lend and does not start the slot.
    pub(crate) fn lend_if_intact(&self, k: usize) -> Option<&Lent> {
        let g = self.geometry();
        let token = self.lend_token(g.slot(k));
        token.count.fetch_add(1, Ordering::Relaxed);
        fence(Ordering::SeqCst);
        if self.intact(k) {
            Some(token)
        } else {
            self.unlend(token);
            None
        }
    }

    /// Drops one lend of `token`'s slot; gives the writer what it frees.
    pub(crate) fn unlend(&self, token: &Lent) {
        token.count.fetch_sub(1, Ordering::SeqCst);
        self.release_lent();
    }

    /// Whether finished sub-buffer `k` has every reserved byte committed.
    #[inline]
    pub(crate) fn complete(&self, k: usize) -> bool {
        ring::complete(self.geometry(), self, k)
    }

    /// Sub-buffers finished, ever.
    pub(crate) fn produced(&self) -> usize {
        Position::from_raw(self.pos.load(Ordering::Acquire)).produced()
    }

    /// Sub-buffers given back to the writer, ever.
    pub(crate) fn consumed(&self) -> usize {
        self.consumed.load(Ordering::Acquire)
    }

    /// Sub-buffers the reader took, ever: where readers stand.
    #[inline]
    pub(crate) fn taken(&self) -> usize {
        self.taken.load(Ordering::Acquire)
    }

    /// The lend token of `slot`.
    pub(crate) fn lend_token(&self, slot: usize) -> &Lent {
        &self.lent[slot]
    }

    /// The padding of the sub-buffer last finished in `slot`; acquire,
    /// paired with the switch's release (see `ring.rs`).
    #[inline]
    pub(crate) fn padding_of(&self, slot: usize) -> usize {
        ring::padding_of(self, slot)
    }

    /// `rrelay_subbuf_start_reserve`, from the `subbuf_start` callback
    /// (the switch that runs it owns the buffer's write side).
    pub(crate) fn set_start_reserve(&self, length: usize) {
        self.start_reserve.store(length, Ordering::Relaxed);
    }

    /// Whether readers must take whole sub-buffers (never part of one): a
    /// channel with sub-buffer headers, whose stream they frame.
    pub(crate) fn whole_subbufs(&self) -> bool {
        self.chan.has_headers()
    }

    /// Whether the channel was closed and this buffer finished.
    pub(crate) fn is_finalized(&self) -> bool {
        self.finalized.load(Acquire)
    }

    /// Marks the buffer finished by close (after its last switch).
    pub(crate) fn set_finalized(&self) {
        self.finalized.store(true, Release);
    }

    /// Locks the reader side.
    pub(crate) fn lock_reader(&self) -> kernel::sync::MutexGuard<'_, ReaderPos> {
        self.reader.lock()
    }

    /// Locks the reader side if no other reader holds it.
    pub(crate) fn try_lock_reader(&self) -> Option<kernel::sync::MutexGuard<'_, ReaderPos>> {
        self.reader.try_lock()
    }

    /// Moves the reader from sub-buffer `from` to `to` (the caller read or
    /// skipped what lies between), unless someone else moved it
    /// (`rrelay_subbufs_consumed`); returns whether it moved. Release:
    /// pairs with the switch's acquire in its full test, so a sub-buffer is
    /// reused only after the reader is done with its bytes.
    #[inline]
    pub(crate) fn release_to(&self, from: usize, to: usize) -> bool {
        // INVARIANT: `to` is at most `produced`: the callers derive it
        // from a snapshot, or clamp it (`add_consumed`).
        let moved = self
            .taken
            .compare_exchange(from, to, Ordering::Release, Ordering::Relaxed)
            .is_ok();
        if moved {
            self.meta().consumed.fetch_max(to as u64, Ordering::Relaxed);
        }
        self.release_lent();
        moved
    }

    /// Gives the writer every taken sub-buffer, in order, up to the first
    /// whose pages a pipe still holds. Release: pairs with the switch's
    /// acquire of `consumed` in its full test, so a sub-buffer is reused
    /// only after the reader is done with its bytes.
    #[inline]
    pub(crate) fn release_lent(&self) {
        let g = self.geometry();
        // Full fence: the caller's move of `taken` or of a lend count
        // before the loads below (store buffering: an unlend and a reader's
        // move each see the other's, or one of them releases).
        fence(Ordering::SeqCst);
        loop {
            let c = self.consumed.load(Ordering::Acquire);
            let t = self.taken.load(Ordering::Acquire);
            // `t == c`: all released. `c` ahead of `t` (wrapping): a reset
            // in progress, seen half done; nothing to release. (`t` far
            // ahead is fine: a reader skipped what the writer overwrote.)
            let ahead = c.wrapping_sub(t) <= usize::MAX / 2;
            if t == c || ahead || self.lent[g.slot(c)].count.load(Ordering::Acquire) != 0 {
                return;
            }
            // INVARIANT: `c < taken`, and no pipe holds sub-buffer `c`.
            let _ = self.consumed.compare_exchange(
                c,
                c.wrapping_add(1),
                Ordering::Release,
                Ordering::Relaxed,
            );
        }
    }

    /// The end of the run of complete sub-buffers from `consumed` (at most
    /// `produced`): what an mmap reader may take. When the writer lapped
    /// the reader, `produced`: the reader sees the loss and skips.
    pub(crate) fn complete_through(&self, consumed: usize, produced: usize) -> usize {
        if produced.wrapping_sub(consumed) > self.geometry().n_subbufs() {
            return produced;
        }
        let mut k = consumed;
        while k != produced && self.complete(k) {
            k = k.wrapping_add(1);
        }
        k
    }

    /// Whether every sub-buffer holds unread data (`relay_buf_full`).
    pub(crate) fn is_full(&self) -> bool {
        self.geometry().is_full(self.produced(), self.consumed())
    }

    /// Whether the reader has something to read, or to skip, in a finished
    /// sub-buffer (poll's POLLIN): one is ready and complete, or lost.
    pub(crate) fn has_ready_subbuf(&self) -> bool {
        let consumed = self.taken();
        let ready = self.produced().wrapping_sub(consumed);
        ready > 0 && (ready >= self.geometry().n_subbufs() || self.complete(consumed))
    }

    /// Empties the buffer and starts again (`relay_reset`); the data pages
    /// are kept as they are. No writer or reader may run.
    pub(crate) fn reset(&self) {
        let mut reader = self.reader.lock();
        *reader = ReaderPos::default();
        // INVARIANT: `ring::start` zeroes `pos` and `consumed` first, then
        // `taken`: never ahead of `produced` (PUT_CONSUMED takes the reader
        // lock, held here).
        ring::start(self.geometry(), self, self);
        self.taken.store(0, Ordering::Release);
        let meta = self.meta();
        for counter in [&meta.produced, &meta.consumed, &meta.lost, &meta.dropped] {
            counter.store(0, Ordering::Relaxed);
        }
        self.stats.reset();
        self.finalized.store(false, Release);
    }
}
