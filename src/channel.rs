// SPDX-License-Identifier: GPL-2.0

//! A channel (`Rchan`): its geometry, callbacks, per-CPU buffer pointer, and
//! the registry of open channels that CPU hotplug and statistics walk.
//!
//! Lock order: `cpus_read_lock` (open) or the hotplug lock (prepare
//! callback) -> `CHANNELS` -> `Rchan::bufs`. Open, close, reset and the
//! hotplug callback run in process context and may sleep. The write path
//! (`this_cpu_buf`) and the controls (`flush`, `stats`, `buf`) take no
//! lock: they run in any context, reading the per-CPU slots.
//!
//! Per-CPU buffers: as relay's `chan->buf`, the channel has a per-CPU
//! pointer (`alloc_percpu(struct rrelay_buf *)`, public as
//! `struct rrelay_chan`'s `buf`): each possible CPU's slot is that CPU's
//! buffer, null until the CPU has one (at open for the online CPUs, from the
//! hotplug callback for the others), and every slot is the one buffer of a
//! global channel. A writer reads its slot in one per-CPU load
//! (`this_cpu_read` in the header, [`Rchan::this_cpu_buf`] here); slots are
//! stored with release and read with acquire (or an address dependency), so
//! a writer that sees a buffer sees it initialized.
//!
//! Lifetimes: the client owns one reference to its channel (from
//! `rrelay_open` to `rrelay_close`), the registry one, and every buffer
//! one. The channel owns its buffers through `bufs` until close; open files
//! own references to their buffer. So a closed channel lives on, readable,
//! while any of its files is open.

use crate::buffer::RchanBuf;
use crate::file;
use crate::layout::assert_layout;
use crate::stats::StatsSnapshot;
use crate::subbuf::{Geometry, GeometryError};
use core::ptr::NonNull;
use core::sync::atomic::{AtomicI32, AtomicPtr, Ordering};
use kernel::bindings;
use kernel::prelude::*;
use kernel::str::CString;
use kernel::sync::atomic::{Acquire, Atomic, Relaxed, Release};
use kernel::sync::{new_mutex, Arc, Mutex};

/// Longest base name plus CPU number (`RRELAY_NAME_MAX` in `rrelay.h`).
pub(crate) const NAME_MAX: usize = 64;

kernel::sync::global_lock! {
    // SAFETY: Initialized in module init, before any channel can be opened.
    pub(crate) unsafe(uninit) static CHANNELS: Mutex<KVec<Arc<Rchan>>> = KVec::new();
}

/// A client's callbacks (`struct rrelay_callbacks`).
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct Callbacks {
    pub(crate) subbuf_start:
        Option<unsafe extern "C" fn(*mut c_void, *mut c_void, *mut c_void) -> c_int>,
    pub(crate) create_buf_file: Option<
        unsafe extern "C" fn(
            *const c_char,
            *mut bindings::dentry,
            bindings::umode_t,
            *mut c_void,
            *mut c_int,
        ) -> *mut bindings::dentry,
    >,
    pub(crate) remove_buf_file: Option<unsafe extern "C" fn(*mut bindings::dentry) -> c_int>,
    /// With rrelay's own files: one global buffer.
    pub(crate) is_global: c_int,
    /// `RRELAY_SUBBUF_HEADERS`, or 0.
    pub(crate) flags: c_uint,
}

/// `RRELAY_SUBBUF_HEADERS`: each sub-buffer starts with rrelay's header.
pub(crate) const SUBBUF_HEADERS: c_uint = 1 << 0;

assert_layout!(
    rrelay_callbacks = Callbacks {
        subbuf_start,
        create_buf_file,
        remove_buf_file,
        is_global,
        flags,
    }
);

/// `RRELAY_CHANNEL_VERSION`: the layout version of [`RchanPublic`].
const CHANNEL_VERSION: u32 = 3;

/// The fields C clients may read (`struct rrelay_chan` in `include/rrelay.h`).
#[repr(C)]
pub(crate) struct RchanPublic {
    version: u32,
    subbuf_size: usize,
    n_subbufs: usize,
    alloc_size: usize,
    pub(crate) private_data: *mut c_void,
    /// A `c_int`, read on every out-of-line write: a `core` atomic, so a
    /// plain load (see `RchanBufPublic`).
    is_global: AtomicI32,
    /// The per-CPU pointer (`slots`), for the header's fast path and for
    /// clients (`*per_cpu_ptr(chan->buf, cpu)`).
    buf: *mut *mut RchanBuf,
}

assert_layout!(
    rrelay_chan = RchanPublic {
        version,
        subbuf_size,
        n_subbufs,
        alloc_size,
        private_data,
        is_global,
        buf,
    }
);

extern "C" {
    // The per-CPU pointer operations of the C shim (`rrelay_shim.c`). The
    // pointers are `struct rrelay_buf *` slots, passed as `c_void`:
    // `RchanBuf` is not FFI-safe by rustc's rules.
    fn rrelay_shim_alloc_percpu_ptrs() -> *mut c_void;
    fn rrelay_shim_percpu_slot(ptrs: *mut c_void, cpu: c_uint) -> *mut c_void;
    #[cfg(not(all(target_arch = "x86_64", CONFIG_SMP)))]
    fn rrelay_shim_this_cpu_slot(ptrs: *mut c_void) -> *mut c_void;
}

/// A per-CPU buffer pointer, `alloc_percpu(struct rrelay_buf *)`: one slot
/// per possible CPU, each null or a buffer.
///
/// # Invariants
///
/// `ptrs` is a live per-CPU allocation of one `*mut RchanBuf` per CPU, from
/// `alloc_percpu`, freed only by `drop`.
struct PerCpuBufs {
    ptrs: NonNull<*mut RchanBuf>,
}

impl PerCpuBufs {
    /// Allocates the pointer, every slot null (`alloc_percpu` zeroes).
    fn new() -> Result<Self> {
        // SAFETY: Process context; no arguments.
        let ptrs = NonNull::new(unsafe { rrelay_shim_alloc_percpu_ptrs() }.cast()).ok_or(ENOMEM)?;
        // INVARIANT: A fresh per-CPU allocation, freed by `drop` only.
        Ok(PerCpuBufs { ptrs })
    }

    /// The per-CPU address, for `struct rrelay_chan`'s `buf`.
    fn as_raw(&self) -> *mut *mut RchanBuf {
        self.ptrs.as_ptr()
    }

    /// The slot of `cpu`, if it is a possible CPU (`per_cpu_ptr`).
    fn slot(&self, cpu: u32) -> Option<&AtomicPtr<RchanBuf>> {
        let id = kernel::cpu::CpuId::from_u32(cpu)?;
        if !possible_cpus_mask().test(id) {
            return None;
        }
        // SAFETY: `ptrs` is live (type invariant) and `cpu` is possible, so
        // it has a per-CPU area.
        let p = unsafe { rrelay_shim_percpu_slot(self.ptrs.as_ptr().cast(), cpu) };
        // SAFETY: `p` is `cpu`'s slot: an aligned pointer-sized location
        // that lives as long as `self`, only ever accessed atomically
        // (here, and by `this_cpu_read` in the header's fast path).
        Some(unsafe { AtomicPtr::from_ptr(p.cast()) })
    }

    /// The slots of every possible CPU.
    fn slots(&self) -> impl Iterator<Item = &AtomicPtr<RchanBuf>> {
        possible_cpus().filter_map(|cpu| self.slot(cpu))
    }

    /// This CPU's slot's value, in one per-CPU load on x86-64 (as
    /// `this_cpu_read`, which the header's fast path uses); interrupts or
    /// preemption are off.
    #[cfg(all(target_arch = "x86_64", CONFIG_SMP))]
    #[inline(always)]
    fn this_cpu(&self) -> *mut RchanBuf {
        let p: *mut RchanBuf;
        // SAFETY: On x86-64 the GS base is this CPU's per-CPU offset, so
        // `gs:[ptrs]` is this CPU's slot of our live allocation (type
        // invariant): `this_cpu_read` in arch/x86/include/asm/percpu.h. A
        // plain load is an acquire on x86, and the asm is not `pure`, so
        // it is not merged with another read of a slot that may change.
        unsafe {
            core::arch::asm!(
                "mov {0}, qword ptr gs:[{1}]",
                out(reg) p,
                in(reg) self.ptrs.as_ptr(),
                options(nostack, readonly, preserves_flags)
            )
        };
        p
    }

    /// This CPU's slot's value (`*this_cpu_ptr`); interrupts or preemption
    /// are off.
    #[cfg(not(all(target_arch = "x86_64", CONFIG_SMP)))]
    #[inline(always)]
    fn this_cpu(&self) -> *mut RchanBuf {
        // SAFETY: `ptrs` is live (type invariant); the caller keeps this
        // task on its CPU.
        let p = unsafe { rrelay_shim_this_cpu_slot(self.ptrs.as_ptr().cast()) };
        // SAFETY: As in `slot`: this CPU's slot, accessed atomically only.
        unsafe { AtomicPtr::from_ptr(p.cast()) }.load(Ordering::Acquire)
    }
}

impl Drop for PerCpuBufs {
    fn drop(&mut self) {
        // SAFETY: `ptrs` came from `alloc_percpu` and is freed once, here
        // (type invariant); `free_percpu` may be called from any context.
        unsafe { bindings::free_percpu(self.ptrs.as_ptr().cast()) };
    }
}

/// What a client asks for in `rrelay_open`.
pub(crate) struct OpenArgs<'a> {
    pub(crate) base: &'a CStr,
    pub(crate) parent: *mut bindings::dentry,
    pub(crate) subbuf_size: usize,
    pub(crate) n_subbufs: usize,
    pub(crate) callbacks: Callbacks,
    pub(crate) private_data: *mut c_void,
}

/// A relay channel.
///
/// # Invariants
///
/// - `public` is the first field, so a pointer to an `Rchan` is a valid
///   `struct rrelay_chan *` for C.
/// - `public.buf` is `slots`' per-CPU address; a non-null slot points to a
///   buffer owned by `bufs` (slots are cleared before `bufs` lets go of a
///   buffer).
#[repr(C)]
#[pin_data]
pub(crate) struct Rchan {
    public: RchanPublic,
    geometry: Geometry,
    callbacks: Callbacks,
    base: CString,
    parent: *mut bindings::dentry,
    /// Each CPU's buffer, read on every record; freed when the channel is.
    slots: PerCpuBufs,
    #[pin]
    bufs: Mutex<KVec<Arc<RchanBuf>>>,
    closed: Atomic<bool>,
    /// The channel's directory in the statistics view. Lock order: the
    /// view's root (`stats.rs`), then this.
    #[pin]
    view: Mutex<Option<crate::stats::View>>,
}

// SAFETY: The raw pointers are a debugfs parent (kept alive by the client
// until close), the client's opaque `private_data` (relay hands it to any
// context too), and the per-CPU pointer to buffers managed through `bufs`,
// whose slots are atomics; the rest is Sync.
unsafe impl Send for Rchan {}
// SAFETY: As above; shared access goes through atomics and the mutex.
unsafe impl Sync for Rchan {}

impl Rchan {
    /// Checks the arguments and makes a channel with no buffers yet.
    fn new(args: &OpenArgs<'_>) -> Result<Arc<Self>> {
        let geometry = Geometry::new(args.subbuf_size, args.n_subbufs).map_err(|e| match e {
            GeometryError::Zero | GeometryError::TooLarge => EINVAL,
        })?;
        if !crate::ring::supports(&geometry) {
            return Err(EINVAL);
        }
        // The CPU number is appended to the base name: keep room for it.
        if args.base.to_bytes().is_empty() || args.base.to_bytes().len() + 5 > NAME_MAX {
            return Err(EINVAL);
        }
        let cb = args.callbacks;
        if cb.create_buf_file.is_some() != cb.remove_buf_file.is_some() {
            return Err(EINVAL);
        }
        if cb.flags & !SUBBUF_HEADERS != 0
            || (cb.flags & SUBBUF_HEADERS != 0
                && geometry.subbuf_size() <= 2 * crate::header::HEADER_SIZE)
        {
            return Err(EINVAL);
        }
        let slots = PerCpuBufs::new()?;
        let base = CString::try_from_fmt(fmt!("{}", args.base.to_str().map_err(|_| EINVAL)?))?;
        let buf = slots.as_raw();
        Arc::pin_init(
            // INVARIANT: `public` comes first (`repr(C)`), `public.buf` is
            // `slots`, and every slot is empty.
            try_pin_init!(Rchan {
                public: RchanPublic {
                    version: CHANNEL_VERSION,
                    subbuf_size: geometry.subbuf_size(),
                    n_subbufs: geometry.n_subbufs(),
                    alloc_size: geometry.alloc_size(kernel::page::PAGE_SIZE),
                    private_data: args.private_data,
                    is_global: AtomicI32::new(0),
                    buf,
                },
                geometry,
                callbacks: cb,
                base,
                parent: args.parent,
                slots,
                bufs <- new_mutex!(KVec::new(), "rrelay_chan::bufs"),
                closed: Atomic::new(false),
                view <- new_mutex!(None, "rrelay_chan::view"),
            }? Error),
            GFP_KERNEL,
        )
    }

    /// `rrelay_open`: a channel with a buffer (and file) per online CPU, or
    /// one global buffer, registered for hotplug and statistics.
    pub(crate) fn open(args: &OpenArgs<'_>) -> Result<Arc<Self>> {
        let chan = Self::new(args)?;
        let result = {
            let _cpus = CpusReadLock::new();
            let mut chans = CHANNELS.lock();
            let mut result = Ok(());
            for cpu in online_cpus() {
                result = chan.add_buf(cpu);
                if result.is_err() {
                    break;
                }
            }
            result.and_then(|()| chans.push(chan.clone(), GFP_KERNEL).map_err(Into::into))
        };
        if let Err(e) = result {
            // Not in the registry, so no CPU coming online gives it a
            // buffer: torn down (client callbacks, `debugfs_remove`, the
            // grace period) without the hotplug lock, as in `close`.
            chan.teardown();
            return Err(e);
        }
        crate::stats::add_channel_dir(&chan);
        Ok(chan)
    }

    pub(crate) fn geometry(&self) -> &Geometry {
        &self.geometry
    }

    pub(crate) fn callbacks(&self) -> &Callbacks {
        &self.callbacks
    }

    /// Whether each sub-buffer starts with rrelay's header.
    pub(crate) fn has_headers(&self) -> bool {
        self.callbacks.flags & SUBBUF_HEADERS != 0
    }

    pub(crate) fn base(&self) -> &CStr {
        &self.base
    }

    pub(crate) fn is_global(&self) -> bool {
        self.public.is_global.load(Ordering::Relaxed) != 0
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Acquire)
    }

    pub(crate) fn view(&self) -> &Mutex<Option<crate::stats::View>> {
        &self.view
    }

    /// The buffer of the CPU this runs on, in one per-CPU load (as the
    /// header's `__rrelay_this_buf`); the caller has interrupts or
    /// preemption off, and the channel is open.
    #[inline(always)]
    pub(crate) fn this_cpu_buf(&self) -> Option<&RchanBuf> {
        let p = self.slots.this_cpu();
        // The per-CPU load reads the slot `per_cpu_ptr` gives for this CPU.
        debug_assert!(core::ptr::eq(
            self.buf(crate::shim::this_cpu())
                .map_or(core::ptr::null(), |b| b),
            p
        ));
        // SAFETY: A non-null slot points to a buffer owned by `bufs` (type
        // invariant), which the open channel keeps alive.
        unsafe { p.as_ref() }
    }

    /// Calls `f` on the buffer serving `cpu`, if any, under RCU (as
    /// [`Rchan::for_each_buf_any_context`]); any context.
    pub(crate) fn with_buf<R>(&self, cpu: usize, f: impl FnOnce(&RchanBuf) -> R) -> Option<R> {
        let _rcu = kernel::sync::rcu::read_lock();
        self.buf(cpu).map(f)
    }

    /// The buffer serving `cpu`, if any (none for an impossible CPU).
    pub(crate) fn buf(&self, cpu: usize) -> Option<&RchanBuf> {
        let p = self
            .slots
            .slot(u32::try_from(cpu).ok()?)?
            .load(Ordering::Acquire);
        // SAFETY: A non-null slot points to a buffer owned by `bufs` (type
        // invariant), which the open channel keeps alive.
        unsafe { p.as_ref() }
    }

    /// Calls `f` on every buffer once (a global buffer once in all).
    /// Process context: takes `bufs`.
    pub(crate) fn for_each_buf(&self, mut f: impl FnMut(&Arc<RchanBuf>)) {
        for buf in self.bufs.lock().iter() {
            f(buf);
        }
    }

    /// Calls `f` on every buffer once, from any context: no lock, the
    /// per-CPU slots, under RCU. A CPU keeps its buffer while offline, so
    /// every buffer is in a slot; a global buffer is in all of them, and is
    /// visited once. The caller's channel was open when it called: a close
    /// racing this waits for it (`teardown`'s grace period). `f` runs under
    /// RCU: it must not sleep.
    pub(crate) fn for_each_buf_any_context(&self, mut f: impl FnMut(&RchanBuf)) {
        let _rcu = kernel::sync::rcu::read_lock();
        for slot in self.slots.slots() {
            let p = slot.load(Ordering::Acquire);
            // SAFETY: A non-null slot points to a buffer owned by `bufs`
            // (type invariant), which the open channel keeps alive.
            if let Some(buf) = unsafe { p.as_ref() } {
                f(buf);
                if self.is_global() {
                    return;
                }
            }
        }
    }

    /// Gives `cpu` its buffer: a new one with its file, or the global one.
    /// Called with `CHANNELS` held.
    pub(crate) fn add_buf(self: &Arc<Self>, cpu: u32) -> Result {
        let slot = self.slots.slot(cpu).ok_or(EINVAL)?;
        if !slot.load(Ordering::Relaxed).is_null() {
            return Ok(());
        }
        if self.is_global() {
            let global = self.bufs.lock().first().map(|b| Arc::as_ptr(b).cast_mut());
            slot.store(global.ok_or(EINVAL)?, Ordering::Release);
            return Ok(());
        }
        // A global buffer of rrelay's own files is buffer 0, file `<base>0`,
        // whichever CPU comes first (a client's `create_buf_file` says
        // whether it is global only once called, as in relay).
        let own_global = self.callbacks.create_buf_file.is_none() && self.callbacks.is_global != 0;
        let cpu = if own_global { 0 } else { cpu };
        let buf = RchanBuf::new(self, cpu)?;
        let mut bufs = self.bufs.lock();
        bufs.reserve(1, GFP_KERNEL)?;
        let mut is_global: c_int = 0;
        let name =
            CString::try_from_fmt(fmt!("{}{}", self.base.to_str().map_err(|_| EINVAL)?, cpu))?;
        let dentry = match self.callbacks.create_buf_file {
            // SAFETY: The client's callback gets a valid name, its parent,
            // and a live buffer, as its contract says.
            Some(create) => unsafe {
                create(
                    name.as_char_ptr(),
                    self.parent,
                    0o400,
                    Arc::as_ptr(&buf).cast_mut().cast(),
                    &mut is_global,
                )
            },
            None => {
                is_global = self.callbacks.is_global;
                file::create_debugfs_file(&name, self.parent, 0o400, &buf)
            }
        };
        if dentry.is_null() || kernel::error::from_err_ptr(dentry).is_err() {
            return Err(ENOMEM);
        }
        buf.dentry.store(dentry, Release);
        let p = Arc::as_ptr(&buf).cast_mut();
        if is_global != 0 {
            self.public.is_global.store(1, Ordering::Relaxed);
            // INVARIANT: every slot points to the one buffer `bufs` owns.
            for s in self.slots.slots() {
                s.store(p, Ordering::Release);
            }
        } else {
            // INVARIANT: the slot points to a buffer `bufs` owns.
            slot.store(p, Ordering::Release);
        }
        bufs.push(buf, GFP_KERNEL)?;
        Ok(())
    }

    /// `rrelay_close`.
    ///
    /// The hotplug lock is held only around the registry update: once the
    /// channel is out of the registry, the hotplug callback no longer
    /// gives it buffers, so the teardown (client callbacks,
    /// `debugfs_remove`, which waits for reads in flight) runs without it.
    pub(crate) fn close(self: Arc<Self>) {
        {
            let _cpus = CpusReadLock::new();
            let mut chans = CHANNELS.lock();
            if let Some(i) = chans.iter().position(|c| Arc::ptr_eq(c, &self)) {
                drop(chans.remove(i));
            }
            if chans.is_empty() {
                // The registry is a static, never dropped: give its storage
                // back when it is empty, or it outlives the module (kmemleak
                // found it after rmmod).
                *chans = KVec::new();
            }
        }
        self.teardown();
    }

    /// Finishes every buffer and lets go of them and their files.
    fn teardown(&self) {
        self.closed.store(true, Release);
        crate::stats::remove_channel_dir(self);
        // INVARIANT: the slots are cleared before `bufs` lets go.
        for s in self.slots.slots() {
            s.store(core::ptr::null_mut(), Ordering::Release);
        }
        // A flush or stats call from any context that found a buffer in a
        // slot holds RCU (`for_each_buf_any_context`): let it finish
        // before the buffers are finished and dropped. Expedited: a normal
        // grace period made close take two to three times relay's (its
        // ticks, idle in a quiet system); this one costs an IPI to each
        // busy CPU, once per close (`rcupdate.rcu_normal=1` turns it back
        // into a normal one, as for every expedited grace period).
        // SAFETY: Process context (close and failed opens), no lock held.
        unsafe { bindings::synchronize_rcu_expedited() };
        let bufs = core::mem::take(&mut *self.bufs.lock());
        for buf in bufs.iter() {
            buf.finish();
            self.remove_file(buf);
        }
    }

    fn remove_file(&self, buf: &RchanBuf) {
        let dentry = buf.dentry.xchg(core::ptr::null_mut(), Relaxed);
        if dentry.is_null() {
            return;
        }
        match self.callbacks.remove_buf_file {
            // SAFETY: The dentry came from the client's create_buf_file.
            Some(remove) => unsafe {
                remove(dentry);
            },
            // SAFETY: The dentry is our debugfs file; debugfs_remove waits
            // for opens in progress (see `file::open`).
            None => unsafe { bindings::debugfs_remove(dentry) },
        }
    }

    /// `rrelay_flush`: finishes the current sub-buffer of every buffer.
    /// Any context: a remote buffer is switched from here, by the
    /// protocol's compare-and-exchange, with no IPI (see `ring.rs`).
    pub(crate) fn flush(&self) {
        self.for_each_buf_any_context(|buf| {
            buf.switch_subbuf(0);
        });
    }

    /// `rrelay_reset`.
    pub(crate) fn reset(&self) {
        self.for_each_buf(|buf| {
            buf.wakeup.sync();
            buf.reset();
        });
    }

    /// The figures of every buffer; any context. `f` runs under RCU: it
    /// must not sleep (nor allocate with `GFP_KERNEL`).
    pub(crate) fn stats(&self, mut f: impl FnMut(u32, &StatsSnapshot)) {
        self.for_each_buf_any_context(|buf| f(buf.cpu(), &buf.stats_snapshot()));
    }
}

impl RchanBuf {
    /// Close of one buffer: the last partial sub-buffer is finished (no
    /// new one started), readers are told nothing more will come.
    fn finish(&self) {
        self.switch_for_close();
        self.set_finalized();
        self.wakeup.wake_all();
    }

    pub(crate) fn stats_snapshot(&self) -> StatsSnapshot {
        self.stats.snapshot(self.produced(), self.consumed())
    }
}

/// The possible CPUs: those with a per-CPU area. Fixed at boot.
fn possible_cpus_mask() -> &'static kernel::cpumask::Cpumask {
    // SAFETY: `__cpu_possible_mask` is a static cpumask that lives forever.
    unsafe { kernel::cpumask::Cpumask::from_raw(&raw const bindings::__cpu_possible_mask) }
}

/// The possible CPU ids.
fn possible_cpus() -> impl Iterator<Item = u32> {
    let possible = possible_cpus_mask();
    (0..kernel::cpu::nr_cpu_ids())
        .filter(move |&c| kernel::cpu::CpuId::from_u32(c).is_some_and(|id| possible.test(id)))
}

/// The online CPUs; stable while a [`CpusReadLock`] lives.
fn online_cpus() -> impl Iterator<Item = u32> {
    // SAFETY: `__cpu_online_mask` is a static cpumask that lives forever.
    let online =
        unsafe { kernel::cpumask::Cpumask::from_raw(&raw const bindings::__cpu_online_mask) };
    (0..kernel::cpu::nr_cpu_ids())
        .filter(move |&c| kernel::cpu::CpuId::from_u32(c).is_some_and(|id| online.test(id)))
}

/// CPU hotplug held off while it lives (`cpus_read_lock`).
struct CpusReadLock;

impl CpusReadLock {
    fn new() -> Self {
        // SAFETY: Process context; `Drop` unlocks.
        unsafe { bindings::cpus_read_lock() };
        CpusReadLock
    }
}

impl Drop for CpusReadLock {
    fn drop(&mut self) {
        // SAFETY: Matches the lock in `new`.
        unsafe { bindings::cpus_read_unlock() };
    }
}

#[cfg(rrelay_kunit)]
#[kunit_tests(rrelay_channel)]
mod tests {
    use super::*;
    use crate::stats::StatsSnapshot;

    fn open(subbuf_size: usize, n_subbufs: usize, base: &CStr) -> Result<Arc<Rchan>> {
        open_flags(subbuf_size, n_subbufs, base, 0)
    }

    fn open_flags(
        subbuf_size: usize,
        n_subbufs: usize,
        base: &CStr,
        flags: c_uint,
    ) -> Result<Arc<Rchan>> {
        Rchan::open(&OpenArgs {
            base,
            parent: core::ptr::null_mut(),
            subbuf_size,
            n_subbufs,
            callbacks: Callbacks {
                flags,
                ..Callbacks::default()
            },
            private_data: core::ptr::null_mut(),
        })
    }

    /// The `u32` at byte `at` of `buf`'s ring.
    fn u32_at(buf: &RchanBuf, at: usize) -> u32 {
        // SAFETY: The callers read headers inside the mapping; no writer runs.
        unsafe { buf.at(at).cast::<u32>().read_unaligned() }
    }

    /// The `u64` at byte `at` of `buf`'s ring.
    fn u64_at(buf: &RchanBuf, at: usize) -> u64 {
        // SAFETY: As in `u32_at`.
        unsafe { buf.at(at).cast::<u64>().read_unaligned() }
    }

    #[test]
    fn subbuf_headers_frame_the_data_and_count_the_loss() -> Result {
        // Unknown flags, and sub-buffers too small for a header and data.
        assert!(open_flags(1000, 2, c"rrelay_kunit", 1 << 5).is_err());
        assert!(open_flags(128, 2, c"rrelay_kunit", SUBBUF_HEADERS).is_err());
        let chan = open_flags(1000, 2, c"rrelay_kunit", SUBBUF_HEADERS)?;
        let buf = chan.buf(0).ok_or(EINVAL)?;
        // 64 header bytes + 600: the second record goes to sub-buffer 1.
        buf.write_record(&[1; 600]);
        buf.write_record(&[2; 600]);
        // Sub-buffer 1 is full after it; the next two find no room.
        buf.write_record(&[3; 600]);
        buf.write_record(&[4; 600]);
        let s = stats0(&chan);
        // Sub-buffer 0's header: magic, size, CPU 0, 600 bytes, number 0,
        // times in order, nothing lost yet.
        assert_eq!(u32_at(buf, 0), 0x3148_5252);
        assert_eq!(u32_at(buf, 4) & 0xffff, 64);
        assert_eq!(u32_at(buf, 12), 600);
        assert_eq!(u64_at(buf, 16), 0);
        assert!(u64_at(buf, 24) != 0 && u64_at(buf, 24) <= u64_at(buf, 32));
        assert_eq!(u64_at(buf, 40), 0);
        // SAFETY: Inside the mapping; no writer runs.
        unsafe { assert_eq!((*buf.at(64), *buf.at(1064)), (1, 2)) };
        assert_eq!((s.produced, s.dropped), (2, 2));
        // Read both; a flush restarts the stopped buffer and a second
        // finishes it: its header has the two drops.
        buf.put_consumed(2);
        buf.switch_subbuf(0);
        buf.switch_subbuf(0);
        assert_eq!(buf.produced(), 3);
        assert_eq!(u64_at(buf, 16), 2);
        assert_eq!(u32_at(buf, 12), 0);
        assert_eq!(u64_at(buf, 40), 2);
        chan.close();
        Ok(())
    }

    fn stats0(chan: &Rchan) -> StatsSnapshot {
        chan.buf(0).map(|b| b.stats_snapshot()).unwrap_or_default()
    }

    #[test]
    fn open_rejects_bad_arguments() {
        assert!(open(0, 4, c"rrelay_kunit").is_err());
        assert!(open(4096, 0, c"rrelay_kunit").is_err());
        assert!(open(1 << 20, 1 << 13, c"rrelay_kunit").is_err());
        assert!(open(usize::MAX, 2, c"rrelay_kunit").is_err());
        assert!(open(64, 2, c"").is_err());
        let long = c"a_base_name_much_too_long_for_rrelay_files_to_carry_a_cpu_number";
        assert!(open(64, 2, long).is_err());
        assert!(CHANNELS.lock().is_empty());
    }

    #[test]
    fn duplicate_file_names_are_refused_and_leak_nothing() -> Result {
        let first = open(64, 2, c"rrelay_kunit_dup")?;
        // Same base, same parent: the files exist already.
        assert!(open(64, 2, c"rrelay_kunit_dup").is_err());
        assert_eq!(CHANNELS.lock().len(), 1);
        first.close();
        assert!(CHANNELS.lock().is_empty());
        // Once closed, the names are free again.
        open(64, 2, c"rrelay_kunit_dup")?.close();
        Ok(())
    }

    #[test]
    fn c_abi_refuses_a_null_base_name() {
        // SAFETY: A NULL name and no callbacks are valid arguments to refuse.
        let chan = unsafe {
            crate::ffi::rrelay_open(
                core::ptr::null(),
                core::ptr::null_mut(),
                64,
                2,
                core::ptr::null(),
                core::ptr::null_mut(),
            )
        };
        assert!(chan.is_null());
        // SAFETY: NULL channels are ignored by close, as documented.
        unsafe { crate::ffi::rrelay_close(core::ptr::null_mut()) };
    }

    /// The addresses of every page of every buffer of `chan`.
    fn page_addrs(chan: &Rchan) -> Result<KVec<usize>> {
        let mut addrs = KVec::new();
        let mut res = Ok(());
        chan.for_each_buf(|buf| {
            for page in buf.mem().pages() {
                if res.is_ok() {
                    res = addrs.push(page.as_ptr() as usize, GFP_KERNEL);
                }
            }
        });
        res.map(|()| addrs).map_err(Into::into)
    }

    #[test]
    fn buffers_are_zeroed_pages_mapped_contiguously() -> Result {
        let size = 8192;
        // Dirty every byte of a channel's buffers, close it (its pages go back
        // to the allocator, which hands recently freed pages out first), open
        // another: its buffers must read as zeroes even where it got the
        // dirty pages back. Several rounds, so at least one reuses a page.
        // Channels are closed before any assertion, so a failure here leaves
        // nothing behind for the next test.
        let mut reused = 0;
        for _ in 0..8 {
            let dirty = open(1000, 5, c"rrelay_kunit")?;
            let mut in_order = dirty.geometry().alloc_size(kernel::page::PAGE_SIZE) == size;
            dirty.for_each_buf(|buf| {
                // SAFETY: The mapping covers `alloc_size` bytes; no writer or
                // reader uses this new channel.
                unsafe { core::ptr::write_bytes(buf.at(0), 0xa5, size) };
                // The mapping is the pages in order: byte `i * PAGE_SIZE` of
                // it is the first byte of page `i`.
                for (i, page) in buf.mem().pages().iter().enumerate() {
                    let mut first = 0u8;
                    // SAFETY: In the mapping, as above.
                    unsafe { *buf.at(i * kernel::page::PAGE_SIZE) = i as u8 + 1 };
                    // SAFETY: `first` is one writable byte.
                    let read = unsafe { page.read_raw(&mut first, 0, 1) };
                    in_order &= read.is_ok() && first == i as u8 + 1;
                }
            });
            let old = page_addrs(&dirty);
            dirty.close();
            assert!(in_order);
            let old = old?;
            let chan = open(1000, 5, c"rrelay_kunit")?;
            let new = page_addrs(&chan);
            let mut zeroed = true;
            chan.for_each_buf(|buf| {
                // SAFETY: The mapping covers `alloc_size` bytes, and no
                // writer runs: plain memory.
                let bytes = unsafe { core::slice::from_raw_parts(buf.at(0), size) };
                zeroed &= bytes.iter().all(|&b| b == 0);
            });
            chan.close();
            assert!(zeroed);
            reused += new?.iter().filter(|p| old.contains(p)).count();
        }
        // Otherwise the check above proved nothing.
        assert!(reused > 0);
        Ok(())
    }

    #[test]
    fn write_switches_pads_and_counts() -> Result {
        let chan = open(1000, 4, c"rrelay_kunit")?;
        let buf = chan.buf(0).ok_or(EINVAL)?;
        buf.write_record(&[1; 600]);
        buf.write_record(&[2; 600]);
        assert_eq!(buf.produced(), 1);
        assert_eq!(buf.padding_of(0), 400);
        // SAFETY: Both records lie inside the mapping.
        unsafe {
            assert_eq!(*buf.at(599), 1);
            assert_eq!(*buf.at(1000), 2);
        }
        buf.write_record(&[3; 1001]);
        let s = stats0(&chan);
        assert_eq!(s.bytes_written, 600);
        assert_eq!(s.big, 1);
        chan.close();
        Ok(())
    }

    #[test]
    fn full_buffer_drops_and_counts() -> Result {
        let chan = open(100, 2, c"rrelay_kunit")?;
        let buf = chan.buf(0).ok_or(EINVAL)?;
        for _ in 0..5 {
            buf.write_record(&[7; 100]);
        }
        // Two sub-buffers hold data; the third record found them full.
        let s = stats0(&chan);
        assert_eq!(s.produced, 2);
        assert_eq!(s.full, 3);
        assert_eq!(s.dropped, 3);
        assert!(buf.is_full());
        buf.put_consumed(1);
        assert!(!buf.is_full());
        buf.write_record(&[8; 100]);
        assert_eq!(stats0(&chan).dropped, 3);
        chan.close();
        Ok(())
    }

    #[test]
    fn reset_restarts_every_buffer() -> Result {
        let chan = open(100, 2, c"rrelay_kunit")?;
        let buf = chan.buf(0).ok_or(EINVAL)?;
        buf.write_record(&[7; 80]);
        buf.write_record(&[7; 80]);
        chan.reset();
        assert_eq!(buf.produced(), 0);
        assert_eq!(buf.snapshot().committed, 0);
        assert_eq!(stats0(&chan).bytes_written, 0);
        chan.close();
        Ok(())
    }

    #[test]
    fn channels_register_for_hotplug_and_leave_at_close() -> Result {
        let chan = open(64, 2, c"rrelay_kunit")?;
        assert!(CHANNELS.lock().iter().any(|c| Arc::ptr_eq(c, &chan)));
        // The prepare callback for a CPU that has its buffer changes nothing.
        let mut before = 0;
        chan.for_each_buf(|_| before += 1);
        chan.add_buf(0)?;
        let mut after = 0;
        chan.for_each_buf(|_| after += 1);
        assert_eq!(before, after);
        let weak = chan.clone();
        chan.close();
        assert!(!CHANNELS.lock().iter().any(|c| Arc::ptr_eq(c, &weak)));
        assert!(weak.is_closed());
        assert!(weak.buf(0).is_none());
        Ok(())
    }
}
