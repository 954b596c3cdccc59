// SPDX-License-Identifier: GPL-2.0

//! Zero-copy splice: a finished sub-buffer goes to the pipe by page
//! reference, not by copy.
//!
//! Each pipe buffer lends a piece of one sub-buffer (never its padding)
//! and carries a token: the slot's [`Lent`] count and a reference to the
//! buffer (the C shim's `pipe_buf_operations` also hold a page and a module
//! reference). The reader takes the sub-buffer (`taken` moves on), but the
//! writer gets it back (`consumed`) only once every pipe buffer holding
//! its pages is released ([`RchanBuf::release_lent`]). The writer never
//! starts a slot whose pages are lent, in overwrite mode either
//! (`ring::Client::lent`): a page never changes while it is in a pipe.
//!
//! The race with a writer that starts the slot anew: the reader marks the
//! lend, then (full fence) checks that its sub-buffer is still intact; the
//! switch claims, then (full fence) checks the lends. One of them sees the
//! other: the reader gives up (the sub-buffer is lost, and skipped), or
//! the switch does not start the slot.
//!
//! The sub-buffer being written is copied (`copy_splice_read` through
//! `read_iter`), or not read at all with `RRELAY_FLAG_FINISHED_ONLY`.

use crate::buffer::{Lent, RchanBuf};
use core::sync::atomic::Ordering;
use kernel::bindings;
use kernel::page::PAGE_SIZE;
use kernel::prelude::*;
use kernel::sync::{Arc, ArcBorrow};

extern "C" {
    // `pipe_inode_info` and `page` go as `c_void`: bindgen's structs are not
    // FFI-safe by rustc's rules.
    fn rrelay_shim_lend_page(
        pipe: *mut c_void,
        page: *mut c_void,
        offset: c_uint,
        len: c_uint,
        token: *const c_void,
    ) -> isize;
    fn rrelay_shim_pipe_room(pipe: *mut c_void) -> c_uint;
}

/// `splice_read` of a buffer file: lends finished sub-buffers, copies the
/// current one.
///
/// # Safety
///
/// Called by the VFS as `splice_read` of a file opened by `file::open`,
/// with `pipe` locked.
pub(crate) unsafe extern "C" fn splice_read(
    file: *mut bindings::file,
    ppos: *mut bindings::loff_t,
    pipe: *mut bindings::pipe_inode_info,
    len: usize,
    flags: c_uint,
) -> isize {
    // SAFETY: Our caller's promise.
    let buf = unsafe { crate::file::file_buf(file) };
    match buf.lend_to(buf, pipe.cast(), len) {
        // The reader is at the sub-buffer being written: copy it.
        // SAFETY: Our caller's arguments, passed on.
        Ok(0) => unsafe { bindings::copy_splice_read(file, ppos, pipe, len, flags) },
        Ok(n) => n as isize,
        Err(e) => e.to_errno() as isize,
    }
}

/// What lending one sub-buffer's bytes did.
enum Lend {
    /// This many bytes went to the pipe (fewer than asked: the pipe is full).
    Lent(usize),
    /// The writer started the slot anew: nothing lent, the next step skips.
    Torn,
}

impl RchanBuf {
    /// Lends up to `len` bytes of finished, complete sub-buffers to `pipe`;
    /// returns how many (0: the reader is at the sub-buffer being written,
    /// or nothing is ready). `this` is `self`, to hand out references.
    fn lend_to(
        &self,
        this: ArcBorrow<'_, RchanBuf>,
        pipe: *mut c_void,
        len: usize,
    ) -> Result<usize> {
        let g = *self.geometry();
        let mut reader = self.lock_reader();
        let mut done = 0;
        while done < len {
            let Some(d) = self.next_data(&mut reader) else {
                break;
            };
            // The sub-buffer being written (copied by the caller), or a
            // finished one still being committed (its last commit wakes
            // the reader).
            if d.w.produced == d.r.consumed || !self.complete(d.r.consumed) {
                break;
            }
            if self.whole_subbufs() {
                // Sub-buffer headers frame whole sub-buffers: lend all of
                // it or none (a remainder could be overwritten, and lost,
                // once the pipe gave the first pages back).
                let pieces = (d.start + d.len).div_ceil(PAGE_SIZE) - d.start / PAGE_SIZE;
                // SAFETY: `pipe` is the caller's locked pipe.
                let room = unsafe { rrelay_shim_pipe_room(pipe) } as usize;
                if d.len > len - done || pieces > room {
                    if done > 0 {
                        break;
                    }
                    return Err(if d.len > len { EINVAL } else { EAGAIN });
                }
            }
            let n = d.len.min(len - done);
            match self.lend_subbuf(&this, pipe, d.r.consumed, d.start, n)? {
                Lend::Torn => continue,
                Lend::Lent(m) => {
                    if m > 0 {
                        done += m;
                        self.stats.add_read(m);
                        self.advance(&mut reader, d.consumed(&g, m));
                    }
                    if m < n {
                        break;
                    }
                }
            }
        }
        Ok(done)
    }

    /// Lends bytes `start..start + n` of the buffer (all in sub-buffer `k`)
    /// to `pipe`, a pipe buffer per page piece.
    fn lend_subbuf(
        &self,
        this: &ArcBorrow<'_, RchanBuf>,
        pipe: *mut c_void,
        k: usize,
        start: usize,
        n: usize,
    ) -> Result<Lend> {
        // A guard lend while the pieces go out, so the count cannot drop to
        // zero between them (a pipe reader may release the first already).
        let Some(token) = self.lend_if_intact(k) else {
            return Ok(Lend::Torn);
        };
        let mut lent = 0;
        let mut result = Ok(());
        while lent < n {
            let pos = start + lent;
            let (page, offset) = (pos / PAGE_SIZE, pos % PAGE_SIZE);
            let piece = (n - lent).min(PAGE_SIZE - offset);
            // The pipe buffer's references: a lend and the buffer.
            token.count.fetch_add(1, Ordering::Relaxed);
            let owner = Arc::into_raw(Arc::<RchanBuf>::from(*this));
            debug_assert!(core::ptr::eq(owner, self));
            // SAFETY: `pipe` is the caller's locked pipe; the page is one of
            // this buffer's (`pos` is inside the mapping: `read_step` keeps
            // it there); the token lives as long as the buffer, which the
            // reference just taken keeps alive until the pipe buffer's
            // release gives it back (`rrelay_lend_release`).
            let ret = unsafe {
                rrelay_shim_lend_page(
                    pipe,
                    self.mem().pages()[page].as_ptr().cast(),
                    offset as c_uint,
                    piece as c_uint,
                    core::ptr::from_ref(token).cast(),
                )
            };
            if ret < 0 {
                // add_to_pipe() released the references already.
                if lent == 0 && ret != EAGAIN.to_errno() as isize {
                    result = Err(Error::from_errno(ret as c_int));
                }
                break;
            }
            lent += piece;
        }
        self.unlend(token);
        result.map(|()| Lend::Lent(lent))
    }
}

/// A lent pipe buffer was duplicated (`tee`): one more lend and buffer
/// reference.
///
/// # Safety
///
/// `token` is the token of a live lent pipe buffer (which holds a
/// reference to its buffer).
#[no_mangle]
unsafe extern "C" fn rrelay_lend_get(token: *mut c_void) {
    // SAFETY: The token is a `Lent` of a buffer the pipe buffer keeps alive.
    let lent = unsafe { &*token.cast::<Lent>() };
    lent.count.fetch_add(1, Ordering::Relaxed);
    let owner = lent.owner.load(Ordering::Relaxed);
    // SAFETY: `owner` is the buffer (`Lent` invariant), alive: a reference
    // is held by the pipe buffer being duplicated.
    let arc: Arc<RchanBuf> = unsafe { ArcBorrow::from_raw(owner) }.into();
    let _ = Arc::into_raw(arc);
}

/// A lent pipe buffer was released: one lend and buffer reference less.
///
/// # Safety
///
/// `token` is the token of a lent pipe buffer being released; its buffer
/// reference is given back here, once.
#[no_mangle]
unsafe extern "C" fn rrelay_lend_release(token: *mut c_void) {
    // SAFETY: The token is a `Lent` of a buffer the pipe buffer keeps alive.
    let lent = unsafe { &*token.cast::<Lent>() };
    // SAFETY: The pipe buffer's reference (taken in `lend_subbuf` or
    // `rrelay_lend_get`), given back once.
    let buf = unsafe { Arc::from_raw(lent.owner.load(Ordering::Relaxed)) };
    buf.unlend(lent);
}
