// SPDX-License-Identifier: GPL-2.0

//! The C ABI (`include/rrelay.h`): the one boundary where raw pointers from
//! clients become references. Each function checks what it can (NULL
//! channels, bad sizes), then calls safe code. The shim exports them.

use crate::buffer::RchanBuf;
use crate::buffer::Slot;
use crate::channel::{Callbacks, OpenArgs, Rchan};
use crate::ring::Reservation;
use crate::shim::PreemptGuard;
use crate::stats::StatsSnapshot;
use kernel::bindings;
use kernel::prelude::*;
use kernel::sync::Arc;

/// Turns a client's (pointer, length) into a slice.
///
/// # Safety
///
/// `data` must be valid for reads of `length` bytes (or `length` is 0).
#[inline(always)]
unsafe fn bytes<'a>(data: *const c_void, length: usize) -> &'a [u8] {
    if length == 0 {
        return &[];
    }
    // SAFETY: The caller guarantees `data` covers `length` bytes.
    unsafe { core::slice::from_raw_parts(data.cast(), length) }
}

/// # Safety
///
/// `base_filename` is NULL or a NUL-terminated string; `cb` is NULL or
/// valid callbacks that stay valid until `rrelay_close`; `parent` is NULL
/// or a directory that outlives the channel.
#[no_mangle]
pub(crate) unsafe extern "C" fn rrelay_open(
    base_filename: *const c_char,
    parent: *mut bindings::dentry,
    subbuf_size: usize,
    n_subbufs: usize,
    cb: *const Callbacks,
    private_data: *mut c_void,
) -> *mut Rchan {
    if base_filename.is_null() {
        return core::ptr::null_mut();
    }
    // SAFETY: The caller guarantees a NUL-terminated string.
    let base = unsafe { CStr::from_char_ptr(base_filename) };
    // SAFETY: The caller guarantees `cb` is NULL or valid.
    let callbacks = unsafe { cb.as_ref() }.copied().unwrap_or_default();
    let args = OpenArgs {
        base,
        parent,
        subbuf_size,
        n_subbufs,
        callbacks,
        private_data,
    };
    match Rchan::open(&args) {
        Ok(chan) => Arc::into_raw(chan).cast_mut(),
        Err(_) => core::ptr::null_mut(),
    }
}

/// Borrows an open channel.
///
/// # Safety
///
/// `chan` is NULL or came from `rrelay_open` and is not closed.
unsafe fn chan_ref<'a>(chan: *mut Rchan) -> Option<&'a Rchan> {
    // SAFETY: The caller's promise: the client's reference keeps it alive.
    unsafe { chan.as_ref() }
}

/// Borrows a buffer a callback was given.
///
/// # Safety
///
/// `buf` is NULL or a buffer of an open channel.
unsafe fn buf_ref<'a>(buf: *mut RchanBuf) -> Option<&'a RchanBuf> {
    // SAFETY: The caller's promise.
    unsafe { buf.as_ref() }
}

/// # Safety
///
/// `chan` is NULL or an open channel, closed only once.
#[no_mangle]
pub(crate) unsafe extern "C" fn rrelay_close(chan: *mut Rchan) {
    if !chan.is_null() {
        // SAFETY: `rrelay_open` gave the client this reference; it is
        // given back here, once.
        unsafe { Arc::from_raw(chan) }.close();
    }
}

/// # Safety
///
/// `chan` is NULL or an open channel.
#[no_mangle]
unsafe extern "C" fn rrelay_flush(chan: *mut Rchan) {
    // SAFETY: The caller's promise.
    if let Some(chan) = unsafe { chan_ref(chan) } {
        chan.flush();
    }
}

/// # Safety
///
/// `chan` is NULL or an open channel with no writer or reader active.
#[no_mangle]
unsafe extern "C" fn rrelay_reset(chan: *mut Rchan) {
    // SAFETY: The caller's promise.
    if let Some(chan) = unsafe { chan_ref(chan) } {
        chan.reset();
    }
}

/// `rrelay_write`, out of line (for Rust clients; C gets it inline).
/// Returns whether the record was written (`false`: dropped and counted).
///
/// # Safety
///
/// `chan` is an open channel; `data` covers `length` bytes.
#[no_mangle]
unsafe extern "C" fn rrelay_write_noinline(
    chan: *mut Rchan,
    data: *const c_void,
    length: usize,
) -> bool {
    // SAFETY: The caller's promises.
    unsafe { chan_ref(chan) }.is_some_and(|chan| {
        // SAFETY: The caller's promise on `data`.
        chan.write(unsafe { bytes(data, length) })
    })
}

/// `__rrelay_write`, out of line: the same as [`rrelay_write_noinline`]
/// (the protocol needs no caller's help), kept for relay's name.
///
/// # Safety
///
/// As [`rrelay_write_noinline`].
#[no_mangle]
unsafe extern "C" fn __rrelay_write_noinline(
    chan: *mut Rchan,
    data: *const c_void,
    length: usize,
) -> bool {
    // SAFETY: The caller's promises.
    unsafe { rrelay_write_noinline(chan, data, length) }
}

/// `struct rrelay_reservation`: room reserved and not yet committed.
#[repr(C)]
pub(crate) struct RawReservation {
    buf: *mut RchanBuf,
    slot: *const Slot,
    length: usize,
}
crate::layout::assert_layout!(rrelay_reservation = RawReservation { buf, slot, length });

impl RawReservation {
    fn set(&mut self, buf: &RchanBuf, r: Reservation) {
        self.buf = core::ptr::from_ref(buf).cast_mut();
        self.slot = buf.slot_ptr(r.slot);
        self.length = r.len;
    }
}

/// `rrelay_reserve`, out of line: on success preemption stays off until
/// [`rrelay_commit_noinline`].
///
/// # Safety
///
/// `chan` is an open channel; `res` is writable. A non-NULL return must be
/// committed with `rrelay_commit_noinline(res)` in this context.
#[no_mangle]
unsafe extern "C" fn rrelay_reserve_noinline(
    chan: *mut Rchan,
    length: usize,
    res: *mut RawReservation,
) -> *mut c_void {
    // SAFETY: The caller's promise.
    let (Some(chan), Some(res)) = (unsafe { chan_ref(chan) }, unsafe { res.as_mut() }) else {
        return core::ptr::null_mut();
    };
    let preempt = PreemptGuard::new();
    let Some(buf) = chan.this_cpu_buf() else {
        return core::ptr::null_mut();
    };
    let Some(r) = buf.reserve_room(length) else {
        return core::ptr::null_mut();
    };
    res.set(buf, r);
    // Until the commit.
    core::mem::forget(preempt);
    buf.room(&r).cast()
}

/// `rrelay_commit`, out of line.
///
/// # Safety
///
/// `res` was filled by a successful `rrelay_reserve_noinline` in this
/// context, whose bytes are written, and is committed once.
#[no_mangle]
unsafe extern "C" fn rrelay_commit_noinline(res: *const RawReservation) {
    // SAFETY: The caller's promise: a reservation of a live buffer.
    let (res, buf) = unsafe { (&*res, &*(*res).buf) };
    buf.commit_bytes(buf.slot_index(res.slot), res.length);
    // SAFETY: Ends the preemption-off section `rrelay_reserve_noinline`
    // began.
    drop(unsafe { PreemptGuard::adopt() });
}

/// The header's fast path, when the record does not fit: switch, then write.
///
/// # Safety
///
/// `buf` is a buffer of an open channel; `slot` and `room` are what the
/// fast path's take of `length` bytes from the room of `buf->cur` gave (a
/// slot of `buf`, and the room found there; -1 when it refused a record
/// larger than a sub-buffer before any add), in this context, with
/// preemption off since; `data` covers `length` bytes.
#[no_mangle]
unsafe extern "C" fn __rrelay_write_slow(
    buf: *mut RchanBuf,
    slot: *const Slot,
    room: i64,
    data: *const c_void,
    length: usize,
) {
    // SAFETY: The caller's promises.
    if let Some(buf) = unsafe { buf_ref(buf) } {
        // SAFETY: The caller's promise on `slot` and `room`.
        let miss = unsafe { buf.miss(slot, room) };
        // SAFETY: The caller's promise on `data`.
        buf.write_record_after_miss(unsafe { bytes(data, length) }, miss);
    }
}

/// The header's reserve, when the record does not fit: switch, then
/// reserve.
///
/// # Safety
///
/// As [`__rrelay_write_slow`], with `*slot` for `slot`; `slot` is
/// writable.
#[no_mangle]
unsafe extern "C" fn __rrelay_reserve_slow(
    buf: *mut RchanBuf,
    slot: *mut *const Slot,
    room: i64,
    length: usize,
) -> *mut c_void {
    // SAFETY: The caller's promises.
    let (Some(buf), Some(slot)) = (unsafe { buf_ref(buf) }, unsafe { slot.as_mut() }) else {
        return core::ptr::null_mut();
    };
    // SAFETY: The caller's promise on `*slot` and `room`.
    let miss = unsafe { buf.miss(*slot, room) };
    let Some(r) = buf.reserve_room_after_miss(length, miss) else {
        return core::ptr::null_mut();
    };
    *slot = buf.slot_ptr(r.slot);
    buf.room(&r).cast()
}

/// The header's commit completed a finished sub-buffer: add the carry its
/// 32-bit add lost, and wake its reader ([`ring::carry`]).
///
/// # Safety
///
/// `buf` is a buffer of an open channel and `slot` one of its slots.
#[no_mangle]
unsafe extern "C" fn __rrelay_carry(buf: *mut RchanBuf, slot: *const Slot, length: usize) {
    // SAFETY: The caller's promise.
    if let Some(buf) = unsafe { buf_ref(buf) } {
        buf.carry(buf.slot_index(slot), length);
    }
}

/// # Safety
///
/// `buf` is a buffer of an open channel, and the caller is its writer.
#[no_mangle]
unsafe extern "C" fn rrelay_switch_subbuf(buf: *mut RchanBuf, length: usize) -> usize {
    // SAFETY: The caller's promise.
    match unsafe { buf_ref(buf) } {
        Some(buf) if buf.switch_subbuf(length) => length,
        _ => 0,
    }
}

/// # Safety
///
/// `buf` is the buffer a `subbuf_start` callback was given.
#[no_mangle]
unsafe extern "C" fn rrelay_subbuf_start_reserve(buf: *mut RchanBuf, length: usize) {
    // SAFETY: The caller's promise.
    if let Some(buf) = unsafe { buf_ref(buf) } {
        buf.set_start_reserve(length);
    }
}

/// # Safety
///
/// `chan` is NULL or an open channel.
#[no_mangle]
unsafe extern "C" fn rrelay_subbufs_consumed(chan: *mut Rchan, cpu: c_uint, consumed: usize) {
    // SAFETY: The caller's promise.
    if let Some(chan) = unsafe { chan_ref(chan) } {
        chan.with_buf(cpu as usize, |buf| buf.put_consumed(consumed));
    }
}

/// # Safety
///
/// `buf` is NULL or a buffer of an open channel.
#[no_mangle]
unsafe extern "C" fn rrelay_buf_full(buf: *mut RchanBuf) -> c_int {
    // SAFETY: The caller's promise.
    unsafe { buf_ref(buf) }.map_or(0, |b| c_int::from(b.is_full()))
}

/// # Safety
///
/// `chan` is NULL or an open channel.
#[no_mangle]
unsafe extern "C" fn rrelay_stats(chan: *mut Rchan, flags: c_int) -> usize {
    let mut total = 0u64;
    // SAFETY: The caller's promise.
    if let Some(chan) = unsafe { chan_ref(chan) } {
        chan.stats(|_, s| total += s.select(flags));
    }
    total as usize
}

/// # Safety
///
/// `chan` is NULL or an open channel; `out` is NULL or writable.
#[no_mangle]
unsafe extern "C" fn rrelay_buf_stats(
    chan: *mut Rchan,
    cpu: c_uint,
    out: *mut StatsSnapshot,
) -> c_int {
    if out.is_null() {
        return EINVAL.to_errno();
    }
    // SAFETY: The caller's promise.
    let stats =
        unsafe { chan_ref(chan) }.and_then(|c| c.with_buf(cpu as usize, |b| b.stats_snapshot()));
    match stats {
        Some(stats) => {
            // SAFETY: `out` is writable, as the caller promised.
            unsafe { out.write(stats) };
            0
        }
        None => EINVAL.to_errno(),
    }
}

/// # Safety
///
/// `filename` is a NUL-terminated string, `parent` NULL or a debugfs
/// directory, `buf` the buffer a `create_buf_file` callback was given.
#[no_mangle]
unsafe extern "C" fn rrelay_create_buf_file(
    filename: *const c_char,
    parent: *mut bindings::dentry,
    mode: bindings::umode_t,
    buf: *mut RchanBuf,
) -> *mut bindings::dentry {
    // SAFETY: The caller's promise.
    match (unsafe { buf_ref(buf) }, filename.is_null()) {
        (Some(buf), false) => {
            // SAFETY: The caller guarantees a NUL-terminated string.
            let name = unsafe { CStr::from_char_ptr(filename) };
            crate::file::create_debugfs_file(name, parent, mode, buf)
        }
        _ => core::ptr::null_mut(),
    }
}

impl RchanBuf {
    /// `rrelay_subbufs_consumed`: an mmap reader (or the client) releases
    /// `n` sub-buffers; any context, no lock. `read()` sees the move at its
    /// next step.
    pub(crate) fn put_consumed(&self, n: usize) {
        loop {
            let taken = self.taken();
            let c = self.geometry().add_consumed(self.produced(), taken, n);
            if c == taken || self.release_to(taken, c) {
                return;
            }
        }
    }
}
