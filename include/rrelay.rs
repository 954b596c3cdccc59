// SPDX-License-Identifier: GPL-2.0

//! rrelay's Rust API for client modules.
//!
//! A Rust kernel module includes this file and links against `rrelay.ko`'s
//! exported C ABI (`include/rrelay.h`):
//!
//! ```ignore
//! #[path = "../include/rrelay.rs"]
//! mod rrelay;
//!
//! let chan = rrelay::Channel::open(
//!     &rrelay::Config::new(c"mytrace", 4096, 8),
//!     rrelay::NoOverwrite,
//! )?;
//! chan.write(b"record");
//! // Closed when `chan` is dropped.
//! ```
//!
//! `Channel` is safe to share: writes, `flush` and `stats` may come from
//! any context (process, softirq, hardirq, NMI), on per-CPU and global
//! channels, with no lock of the client's; opening, `reset` and dropping
//! the channel sleep.

// An API file: each client module uses part of it.
#![allow(dead_code, unreachable_pub)]

use core::marker::PhantomData;
use core::ptr::NonNull;
use kernel::bindings;
use kernel::prelude::*;

/// The fields of `struct rrelay_chan` clients may read.
#[repr(C)]
struct RawChan {
    version: u32,
    subbuf_size: usize,
    n_subbufs: usize,
    alloc_size: usize,
    private_data: *mut c_void,
    is_global: c_int,
}

/// The fields of `struct rrelay_buf` clients may read.
#[repr(C)]
struct RawBuf {
    chan: *mut RawChan,
    cpu: c_uint,
}

/// `struct rrelay_callbacks`.
#[repr(C)]
struct RawCallbacks {
    subbuf_start: Option<unsafe extern "C" fn(*mut RawBuf, *mut c_void, *mut c_void) -> c_int>,
    create_buf_file: Option<unsafe extern "C" fn()>,
    remove_buf_file: Option<unsafe extern "C" fn()>,
    is_global: c_int,
    flags: c_uint,
}

/// `RRELAY_SUBBUF_HEADERS`.
const SUBBUF_HEADERS: c_uint = 1 << 0;

/// `struct rrelay_reservation`: filled by reserve, given back to commit.
#[repr(C)]
struct RawReservation {
    buf: *mut c_void,
    slot: *mut c_void,
    length: usize,
}

/// `struct rrelay_buf_stats`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct BufStats {
    /// Sub-buffers finished by the writer.
    pub produced: u64,
    /// Sub-buffers released by the reader.
    pub consumed: u64,
    /// Bytes in finished sub-buffers, padding excluded.
    pub bytes_written: u64,
    /// Bytes returned to readers.
    pub bytes_read: u64,
    /// Switches that found every sub-buffer unread.
    pub full: u64,
    /// Writes larger than a sub-buffer, refused.
    pub big: u64,
    /// Writes dropped because the buffer was stopped.
    pub dropped: u64,
    /// Unread sub-buffers the writer overwrote.
    pub overwritten: u64,
    /// Sub-buffers a lagging reader skipped.
    pub lost: u64,
}

extern "C" {
    // `dentry` goes as `c_void`: bindgen's struct is not FFI-safe by
    // rustc's rules.
    fn rrelay_open(
        base_filename: *const c_char,
        parent: *mut c_void,
        subbuf_size: usize,
        n_subbufs: usize,
        cb: *const RawCallbacks,
        private_data: *mut c_void,
    ) -> *mut RawChan;
    fn rrelay_close(chan: *mut RawChan);
    fn rrelay_flush(chan: *mut RawChan);
    fn rrelay_reset(chan: *mut RawChan);
    fn rrelay_write_noinline(chan: *mut RawChan, data: *const c_void, length: usize) -> bool;
    fn rrelay_reserve_noinline(
        chan: *mut RawChan,
        length: usize,
        res: *mut RawReservation,
    ) -> *mut c_void;
    fn rrelay_commit_noinline(res: *const RawReservation);
    fn rrelay_buf_full(buf: *mut RawBuf) -> c_int;
    fn rrelay_buf_stats(chan: *mut RawChan, cpu: c_uint, out: *mut BufStats) -> c_int;
}

/// What a channel looks like.
pub struct Config<'a> {
    /// File name prefix: the files are `<base><cpu>`.
    pub base: &'a CStr,
    /// Sub-buffer size in bytes.
    pub subbuf_size: usize,
    /// Sub-buffers per buffer.
    pub n_subbufs: usize,
    /// One buffer for all CPUs (writers need no lock: rrelay's protocol
    /// serializes nothing but a sub-buffer switch).
    pub global: bool,
    /// The debugfs directory for the files; `None` for the debugfs root.
    ///
    /// The directory must outlive the channel.
    pub parent: Option<NonNull<bindings::dentry>>,
    /// Each sub-buffer starts with rrelay's header (`RRELAY_SUBBUF_HEADERS`,
    /// `struct rrelay_subbuf_header`): its number, CPU, times, data size
    /// and the loss so far. Needs `subbuf_size` above 128 bytes.
    pub headers: bool,
}

impl<'a> Config<'a> {
    /// Per-CPU buffers of `n_subbufs` sub-buffers of `subbuf_size` bytes,
    /// files in the debugfs root.
    pub fn new(base: &'a CStr, subbuf_size: usize, n_subbufs: usize) -> Self {
        Config {
            base,
            subbuf_size,
            n_subbufs,
            global: false,
            parent: None,
            headers: false,
        }
    }
}

/// A buffer, as a callback sees it.
pub struct Buf<'a> {
    raw: *mut RawBuf,
    _p: PhantomData<&'a RawBuf>,
}

impl Buf<'_> {
    /// The CPU the buffer serves (0 for a global buffer).
    pub fn cpu(&self) -> u32 {
        // SAFETY: `raw` is a live buffer for the callback's duration.
        unsafe { (*self.raw).cpu }
    }

    /// Whether every sub-buffer holds unread data.
    pub fn is_full(&self) -> bool {
        // SAFETY: `raw` is a live buffer for the callback's duration.
        unsafe { rrelay_buf_full(self.raw) != 0 }
    }
}

/// A client's policy at sub-buffer switches.
pub trait Callbacks: Send + Sync + 'static {
    /// Called when a writer moves to the next sub-buffer (in the writer's
    /// context, any context). Return `true` to go on (overwriting unread
    /// data if the buffer is full), `false` to stop until the reader frees
    /// a sub-buffer; the writes meanwhile are dropped and counted.
    fn subbuf_start(&self, buf: &Buf<'_>) -> bool;
}

/// Never overwrite: stop when full (relay's default).
pub struct NoOverwrite;

impl Callbacks for NoOverwrite {
    fn subbuf_start(&self, buf: &Buf<'_>) -> bool {
        !buf.is_full()
    }
}

/// Flight-recorder mode: always go on, overwriting the oldest data.
pub struct Overwrite;

impl Callbacks for Overwrite {
    fn subbuf_start(&self, _buf: &Buf<'_>) -> bool {
        true
    }
}

/// # Safety
///
/// Called by rrelay with a live buffer of a channel opened by
/// [`Channel::open`] with callbacks of type `T` as its private data.
unsafe extern "C" fn subbuf_start<T: Callbacks>(
    buf: *mut RawBuf,
    _subbuf: *mut c_void,
    _prev: *mut c_void,
) -> c_int {
    // SAFETY: `buf` and its channel are live; `private_data` is the `T`
    // the channel owns (see `Channel::open`).
    let cb = unsafe { &*(*(*buf).chan).private_data.cast::<T>() };
    let b = Buf {
        raw: buf,
        _p: PhantomData,
    };
    c_int::from(cb.subbuf_start(&b))
}

/// An open rrelay channel; closed when dropped.
///
/// # Invariants
///
/// `raw` is an open channel whose private data points to `*callbacks`.
pub struct Channel<T: Callbacks> {
    raw: NonNull<RawChan>,
    callbacks: Pin<KBox<T>>,
}

// SAFETY: rrelay channels may be used from any CPU and context; `T` is
// `Send + Sync`.
unsafe impl<T: Callbacks> Send for Channel<T> {}
// SAFETY: As above; every method takes `&self` and rrelay synchronizes.
unsafe impl<T: Callbacks> Sync for Channel<T> {}

impl<T: Callbacks> Channel<T> {
    /// Opens a channel (`rrelay_open`): buffers and files for every online
    /// CPU (or one global buffer). Process context.
    pub fn open(config: &Config<'_>, callbacks: T) -> Result<Self> {
        let callbacks = KBox::pin(callbacks, GFP_KERNEL)?;
        let raw_cb = RawCallbacks {
            subbuf_start: Some(subbuf_start::<T>),
            create_buf_file: None,
            remove_buf_file: None,
            is_global: c_int::from(config.global),
            flags: if config.headers { SUBBUF_HEADERS } else { 0 },
        };
        let private = core::ptr::from_ref(&*callbacks).cast_mut().cast();
        let parent = config
            .parent
            .map_or(core::ptr::null_mut(), |p| p.as_ptr().cast());
        // SAFETY: Valid arguments; the callbacks live in `callbacks`, which
        // outlives the channel (dropped after `rrelay_close`).
        let raw = unsafe {
            rrelay_open(
                config.base.as_char_ptr(),
                parent,
                config.subbuf_size,
                config.n_subbufs,
                &raw_cb,
                private,
            )
        };
        let raw = NonNull::new(raw).ok_or(EINVAL)?;
        // INVARIANT: `raw` is open with `callbacks` as its private data.
        Ok(Channel { raw, callbacks })
    }

    /// The client's callbacks.
    pub fn callbacks(&self) -> &T {
        &self.callbacks
    }

    /// Sub-buffer size in bytes.
    pub fn subbuf_size(&self) -> usize {
        // SAFETY: `raw` is open (type invariant).
        unsafe { self.raw.as_ref().subbuf_size }
    }

    /// Writes one record (`rrelay_write`): any context, NMI included, on
    /// per-CPU and global channels alike, with no lock (rrelay's write
    /// protocol is lockless). A record that does not fit is dropped and
    /// counted; returns `false` then.
    #[inline]
    pub fn write(&self, data: &[u8]) -> bool {
        // SAFETY: `raw` is open; `data` is a valid slice.
        unsafe { rrelay_write_noinline(self.raw.as_ptr(), data.as_ptr().cast(), data.len()) }
    }

    /// Reserves `length` bytes and lets `fill` write them; they are
    /// committed when `fill` returns (`rrelay_reserve` + `rrelay_commit`),
    /// so readers never see them half written. Any context; preemption is
    /// off while `fill` runs, so it must not sleep. Returns `false` when
    /// the record was dropped (`fill` is not called).
    #[inline]
    pub fn reserve(&self, length: usize, fill: impl FnOnce(&mut [u8])) -> bool {
        let mut res = RawReservation {
            buf: core::ptr::null_mut(),
            slot: core::ptr::null_mut(),
            length: 0,
        };
        // SAFETY: `raw` is open; `res` is writable.
        let p = unsafe { rrelay_reserve_noinline(self.raw.as_ptr(), length, &mut res) };
        if p.is_null() {
            return false;
        }
        // SAFETY: rrelay reserved `length` bytes at `p` for this writer
        // alone: no other writer gets them, and no reader reads them before
        // the commit below.
        fill(unsafe { core::slice::from_raw_parts_mut(p.cast::<u8>(), length) });
        // SAFETY: `res` is the reservation just filled, committed once, in
        // this context.
        unsafe { rrelay_commit_noinline(&res) };
        true
    }

    /// Finishes the current sub-buffer of every buffer (`rrelay_flush`):
    /// any context.
    pub fn flush(&self) {
        // SAFETY: `raw` is open.
        unsafe { rrelay_flush(self.raw.as_ptr()) }
    }

    /// Empties every buffer (`rrelay_reset`). Process context.
    ///
    /// # Safety
    ///
    /// No writer may be active on the channel (no `write`, no `reserve`
    /// closure running, on any CPU): a reset under a reservation would give
    /// its bytes to a second writer and count them committed before they
    /// are written. No reader may be active either.
    pub unsafe fn reset(&self) {
        // SAFETY: `raw` is open; the caller keeps writers and readers away.
        unsafe { rrelay_reset(self.raw.as_ptr()) }
    }

    /// The figures of `cpu`'s buffer.
    pub fn stats(&self, cpu: u32) -> Option<BufStats> {
        let mut s = BufStats::default();
        // SAFETY: `raw` is open; `s` is writable.
        (unsafe { rrelay_buf_stats(self.raw.as_ptr(), cpu, &mut s) } == 0).then_some(s)
    }
}

impl<T: Callbacks> Drop for Channel<T> {
    fn drop(&mut self) {
        // SAFETY: `raw` is open and closed only here; the callbacks are
        // dropped after this returns.
        unsafe { rrelay_close(self.raw.as_ptr()) }
    }
}
