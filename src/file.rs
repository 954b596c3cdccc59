// SPDX-License-Identifier: GPL-2.0

//! The buffer files: open, release, read and poll.
//!
//! Each entry of the operation tables is a short trampoline: borrow the
//! buffer from `private_data`, call a safe method, turn an error into an
//! errno. `open` stores an `Arc<RchanBuf>` with `into_foreign`, `release`
//! takes it back, so an open file keeps its buffer (and channel) alive
//! after `rrelay_close`.
//!
//! Two tables: `rrelay_file_operations` is exported for clients that create
//! their files with `debugfs_create_file` (its proxy guards removal; mmap
//! and splice do not pass it); rrelay's own files are created with
//! `debugfs_create_file_unsafe` and `DEBUGFS_FOPS`, whose open takes
//! debugfs's removal guard itself.
//!
//! Context: process context; `read` takes the buffer's reader mutex.

use crate::buffer::RchanBuf;
use crate::subbuf::{ReadStep, ReaderPos};
use kernel::bindings;
use kernel::error::to_result;
use kernel::fs::file::flags::{O_ACCMODE, O_RDONLY};
use kernel::fs::LocalFile;
use kernel::prelude::*;
use kernel::sync::atomic::Acquire;
use kernel::sync::{Arc, ArcBorrow};
use kernel::types::ForeignOwnable;
use kernel::uaccess::{UserSlice, UserSliceWriter};

/// A `file_operations` table that may live in a `static`.
#[repr(transparent)]
pub(crate) struct FileOps(pub(crate) bindings::file_operations);

// SAFETY: The table is never written after initialization; the pointers in
// it are functions and the module, both fine to share.
unsafe impl Sync for FileOps {}

const fn buffer_fops(open: unsafe extern "C" fn(*mut bindings::inode, *mut bindings::file) -> c_int) -> FileOps {
    // SAFETY: All zeroes is a valid `file_operations` (every entry empty).
    let zeroed: bindings::file_operations = unsafe { core::mem::MaybeUninit::zeroed().assume_init() };
    FileOps(bindings::file_operations {
        owner: crate::THIS_MODULE.as_ptr(),
        open: Some(open),
        release: Some(release),
        read: Some(read),
        poll: Some(poll),
        ..zeroed
    })
}

/// For clients' own files (`relay_file_operations` in `rrelay_compat.h`).
#[no_mangle]
#[used]
pub(crate) static rrelay_file_operations: FileOps = buffer_fops(open);

/// For rrelay's own debugfs files.
static DEBUGFS_FOPS: FileOps = buffer_fops(open_debugfs);

/// Creates a buffer file in debugfs with rrelay's own operations.
pub(crate) fn create_debugfs_file(
    name: &CStr,
    parent: *mut bindings::dentry,
    mode: bindings::umode_t,
    buf: &RchanBuf,
) -> *mut bindings::dentry {
    // SAFETY: `name` is a valid string and `parent` a debugfs directory (or
    // NULL); the buffer outlives the file, which close removes first.
    unsafe {
        bindings::debugfs_create_file_unsafe(
            name.as_char_ptr(),
            mode,
            parent,
            core::ptr::from_ref(buf).cast_mut().cast(),
            &DEBUGFS_FOPS.0,
        )
    }
}

/// # Safety
///
/// Called by the VFS as `open` for a file made by [`create_debugfs_file`].
unsafe extern "C" fn open_debugfs(inode: *mut bindings::inode, file: *mut bindings::file) -> c_int {
    // SAFETY: `file` is being opened, so its path is valid.
    let dentry = unsafe { (*file).__bindgen_anon_1.f_path.dentry };
    // SAFETY: The dentry is a debugfs file. While the guard is held,
    // `debugfs_remove` waits, so the buffer in `i_private` stays alive.
    let ret = unsafe { bindings::debugfs_file_get(dentry) };
    if ret != 0 {
        return ret;
    }
    // SAFETY: Our caller's promise, passed on.
    let ret = unsafe { open(inode, file) };
    // SAFETY: Matches the get above.
    unsafe { bindings::debugfs_file_put(dentry) };
    ret
}

/// # Safety
///
/// Called by the VFS as `open` for a buffer file, whose `i_private` is a live
/// `RchanBuf` (kept alive while the open runs by debugfs's removal guard).
unsafe extern "C" fn open(inode: *mut bindings::inode, file: *mut bindings::file) -> c_int {
    // SAFETY: `file` is valid for the duration of `open`.
    let local = unsafe { LocalFile::from_raw_file(file) };
    if local.flags() & O_ACCMODE != O_RDONLY {
        return EACCES.to_errno();
    }
    // SAFETY: `i_private` holds the buffer pointer given at file creation,
    // which is `Arc::as_ptr` of a live `Arc<RchanBuf>`.
    let buf: Arc<RchanBuf> = unsafe { ArcBorrow::from_raw((*inode).i_private.cast::<RchanBuf>()) }.into();
    // SAFETY: Valid inode and file of an open in progress.
    if let Err(e) = to_result(unsafe { bindings::nonseekable_open(inode, file) }) {
        return e.to_errno();
    }
    // SAFETY: `private_data` is ours; `release` takes the reference back.
    unsafe { (*file).private_data = buf.into_foreign() };
    0
}

/// # Safety
///
/// Called by the VFS as `release` of a file opened by [`open`].
unsafe extern "C" fn release(_inode: *mut bindings::inode, file: *mut bindings::file) -> c_int {
    // SAFETY: `open` stored an `Arc<RchanBuf>` here; this is its last use.
    drop(unsafe { Arc::<RchanBuf>::from_foreign((*file).private_data) });
    0
}

/// Borrows the buffer of an open file.
///
/// # Safety
///
/// `file` must have been opened by [`open`] and not yet released.
unsafe fn file_buf<'a>(file: *mut bindings::file) -> ArcBorrow<'a, RchanBuf> {
    // SAFETY: The caller guarantees `private_data` holds our `Arc`.
    unsafe { Arc::<RchanBuf>::borrow((*file).private_data) }
}

/// # Safety
///
/// Called by the VFS as `read` of a file opened by [`open`].
unsafe extern "C" fn read(
    file: *mut bindings::file,
    ubuf: *mut c_char,
    count: usize,
    _ppos: *mut bindings::loff_t,
) -> isize {
    // SAFETY: Our caller's promise.
    let buf = unsafe { file_buf(file) };
    match buf.read_to(UserPtr::from_ptr(ubuf.cast()), count) {
        Ok(n) => n as isize,
        Err(e) => e.to_errno() as isize,
    }
}

/// # Safety
///
/// Called by the VFS as `poll` of a file opened by [`open`].
unsafe extern "C" fn poll(file: *mut bindings::file, pt: *mut bindings::poll_table) -> bindings::__poll_t {
    // SAFETY: Our caller's promise.
    let buf = unsafe { file_buf(file) };
    // SAFETY: `file` and `pt` are the arguments of this poll call.
    unsafe { buf.wakeup.poll_wait(file, pt) };
    buf.poll_mask()
}

impl RchanBuf {
    /// Copies readable bytes to user space and releases them (`read`):
    /// never blocks, skips padding, and in overwrite mode resumes at the
    /// oldest intact sub-buffer, counting what was lost.
    ///
    /// A bad user pointer fails with `EFAULT` before anything is consumed;
    /// once some bytes are out, a fault ends the read short.
    pub(crate) fn read_to(&self, ubuf: UserPtr, count: usize) -> Result<usize> {
        let g = *self.geometry();
        let pad = |slot| self.padding_of(slot);
        let mut reader = self.reader.lock();
        let mut done = 0;
        while done < count {
            let w = self.snapshot();
            let r = *reader;
            match g.read_step(w, r, pad) {
                ReadStep::Empty => break,
                ReadStep::Next => self.set_reader(&mut reader, g.consume(w, r, 0, pad)),
                ReadStep::Skip { to, lost } => {
                    self.stats.add_lost(lost);
                    self.set_reader(&mut reader, ReaderPos { consumed: to, bytes_consumed: 0 });
                }
                ReadStep::Data { start, len } => {
                    let n = len.min(count - done);
                    // SAFETY: `read_step` keeps `start..start + len` inside
                    // the mapping, in bytes the writer has published.
                    let bytes = unsafe { core::slice::from_raw_parts(self.at(start), n) };
                    // A writer per chunk, at `done`: bytes of a chunk that
                    // turns out lapped are overwritten by the next one.
                    let mut out: UserSliceWriter = UserSlice::new(ubuf.wrapping_byte_add(done), n).writer();
                    if let Err(e) = out.write_slice(bytes) {
                        if done == 0 {
                            return Err(e);
                        }
                        break;
                    }
                    // The writer may have lapped us during the copy
                    // (overwrite mode): then these bytes do not count, and
                    // the next step skips what was lost.
                    if g.intact(self.snapshot(), r.consumed) {
                        done += n;
                        self.stats.add_read(n);
                        self.set_reader(&mut reader, g.consume(w, r, n, pad));
                    }
                }
            }
        }
        Ok(done)
    }

    fn set_reader(&self, reader: &mut ReaderPos, pos: ReaderPos) {
        *reader = pos;
        self.release_to(pos.consumed);
    }

    /// `poll`: readable once a sub-buffer is finished; error and hangup once
    /// the channel is closed and everything is read.
    fn poll_mask(&self) -> bindings::__poll_t {
        if self.has_ready_subbuf() {
            bindings::POLLIN | bindings::POLLRDNORM
        } else if self.finalized.load(Acquire) {
            bindings::POLLERR | bindings::POLLHUP
        } else {
            0
        }
    }
}
