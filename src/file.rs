// SPDX-License-Identifier: GPL-2.0

//! The buffer files: open, release, read, read_iter (and through it splice
//! and sendfile), poll, mmap and the mmap readers' ioctls.
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
//! Context: process context; reads take the buffer's reader mutex (the
//! ioctls need none). splice (and sendfile into a pipe) use
//! `copy_splice_read`, which fills pipe pages through `read_iter`: the data
//! is copied at splice time, consumed, with padding removed, so what sits
//! in a pipe never changes under the reader. sendfile to a file or socket
//! is refused (see `open`).

use crate::buffer::RchanBuf;
use crate::subbuf::{Geometry, ReadStep, ReaderPos, WriterSnapshot};
use crate::uapi;
use kernel::bindings;
use kernel::error::to_result;
use kernel::fs::file::flags::{O_ACCMODE, O_RDONLY};
use kernel::fs::LocalFile;
use kernel::iov::IovIterDest;
use kernel::mm::virt::VmaNew;
use kernel::page::PAGE_SIZE;
use kernel::prelude::*;
use kernel::sync::atomic::Relaxed;
use kernel::sync::barrier::smp_rmb;
use kernel::sync::{Arc, ArcBorrow};
use kernel::types::ForeignOwnable;
use kernel::uaccess::UserSlice;

/// `IOCB_NOWAIT` of `include/linux/fs.h` (`RWF_NOWAIT`, a cast macro).
const IOCB_NOWAIT: c_int = 0x8;

/// A `file_operations` table that may live in a `static`.
#[repr(transparent)]
pub(crate) struct FileOps(pub(crate) bindings::file_operations);

// SAFETY: The table is never written after initialization; the pointers in
// it are functions and the module, both fine to share.
unsafe impl Sync for FileOps {}

const fn buffer_fops(
    open: unsafe extern "C" fn(*mut bindings::inode, *mut bindings::file) -> c_int,
) -> FileOps {
    // SAFETY: All zeroes is a valid `file_operations` (every entry empty).
    let zeroed: bindings::file_operations =
        unsafe { core::mem::MaybeUninit::zeroed().assume_init() };
    FileOps(bindings::file_operations {
        owner: crate::THIS_MODULE.as_ptr(),
        open: Some(open),
        release: Some(release),
        llseek: Some(llseek),
        read: Some(read),
        read_iter: Some(read_iter),
        splice_read: Some(crate::splice::splice_read),
        poll: Some(poll),
        mmap: Some(mmap),
        unlocked_ioctl: Some(ioctl),
        compat_ioctl: bindings::compat_ptr_ioctl,
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
    let buf: Arc<RchanBuf> =
        unsafe { ArcBorrow::from_raw((*inode).i_private.cast::<RchanBuf>()) }.into();
    // SAFETY: Valid inode and file of an open in progress.
    if let Err(e) = to_result(unsafe { bindings::nonseekable_open(inode, file) }) {
        return e.to_errno();
    }
    // A stream: no FMODE_LSEEK. So sendfile() to a file or a socket
    // (`do_splice_direct`, which needs it of the input) fails with EINVAL:
    // its internal pipe throws away what a short write leaves, bytes this
    // file would already have consumed. sendfile() into a pipe, and
    // splice(), keep every byte.
    // SAFETY: `private_data` is ours; `release` takes the reference back.
    unsafe { (*file).private_data = buf.into_foreign() };
    0
}

/// A buffer file is a stream: `lseek` fails with `ESPIPE`.
///
/// # Safety
///
/// Called by the VFS as `llseek`; touches nothing.
unsafe extern "C" fn llseek(
    _file: *mut bindings::file,
    _offset: bindings::loff_t,
    _whence: c_int,
) -> bindings::loff_t {
    ESPIPE.to_errno().into()
}

/// # Safety
///
/// Called by the VFS as `release` of a file opened by [`open`].
unsafe extern "C" fn release(_inode: *mut bindings::inode, file: *mut bindings::file) -> c_int {
    // SAFETY: `open` stored an `Arc<RchanBuf>` here; this is its last use.
    let buf = unsafe { Arc::<RchanBuf>::from_foreign((*file).private_data) };
    // A sub-buffer this file holds goes back to the writer.
    buf.drop_held(file);
    0
}

/// Borrows the buffer of an open file.
///
/// # Safety
///
/// `file` must have been opened by [`open`] and not yet released.
pub(crate) unsafe fn file_buf<'a>(file: *mut bindings::file) -> ArcBorrow<'a, RchanBuf> {
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
    let mut sink = UserSink {
        ubuf: UserPtr::from_ptr(ubuf.cast()),
        count,
        done: 0,
    };
    match buf.read_to(&mut sink, false) {
        Ok(n) => n as isize,
        Err(e) => e.to_errno() as isize,
    }
}

/// # Safety
///
/// Called by the VFS as `read_iter` of a file opened by [`open`] (also by
/// `copy_splice_read` for splice and sendfile).
unsafe extern "C" fn read_iter(iocb: *mut bindings::kiocb, to: *mut bindings::iov_iter) -> isize {
    // SAFETY: `iocb` is valid during the call and its file is ours.
    let buf = unsafe { file_buf((*iocb).ki_filp) };
    // SAFETY: `to` is the destination iterator of this call, not used
    // elsewhere while we hold it.
    let dest = unsafe { IovIterDest::from_raw(to) };
    // SAFETY: As above.
    let nowait = unsafe { (*iocb).ki_flags } & IOCB_NOWAIT != 0;
    match buf.read_to(&mut IovSink(dest), nowait) {
        Ok(n) => n as isize,
        Err(e) => e.to_errno() as isize,
    }
}

/// # Safety
///
/// Called by the VFS as `mmap` of a file opened by [`open`].
unsafe extern "C" fn mmap(file: *mut bindings::file, vma: *mut bindings::vm_area_struct) -> c_int {
    // SAFETY: Our caller's promise.
    let buf = unsafe { file_buf(file) };
    // SAFETY: The VMA is being set up by this mmap call.
    let vma = unsafe { VmaNew::from_raw(vma) };
    match buf.mmap(vma) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// # Safety
///
/// Called by the VFS as `unlocked_ioctl` of a file opened by [`open`].
unsafe extern "C" fn ioctl(file: *mut bindings::file, cmd: c_uint, arg: c_ulong) -> c_long {
    // SAFETY: Our caller's promise.
    let buf = unsafe { file_buf(file) };
    match buf.ioctl(file, cmd, arg) {
        Ok(()) => 0,
        Err(e) => e.to_errno() as c_long,
    }
}

/// Readable bytes, from [`RchanBuf::next_data`], and the look at the
/// writer they come from.
pub(crate) struct DataStep {
    /// The writer as the step saw it.
    pub(crate) w: WriterSnapshot,
    /// The reader's position.
    pub(crate) r: ReaderPos,
    /// The padding of the reader's sub-buffer, as the step saw it.
    pub(crate) padding: usize,
    /// Where the bytes start in the buffer.
    pub(crate) start: usize,
    /// How many.
    pub(crate) len: usize,
}

impl DataStep {
    /// The reader's position once `n` of the bytes are taken.
    #[inline]
    pub(crate) fn consumed(&self, g: &Geometry, n: usize) -> ReaderPos {
        g.consume(self.w, self.r, n, |_| self.padding)
    }
}

/// Where `read_to` copies to.
///
/// The source is a raw pointer, never a Rust slice: in overwrite mode a
/// writer may rewrite those bytes while they are copied (the copy is then
/// found torn and taken back), and a shared reference over memory that
/// changes is undefined behaviour. The copies are the C functions, as
/// relay's.
pub(crate) trait ReadSink {
    /// Room left.
    fn room(&self) -> usize;
    /// Copies `len` bytes from `src`; returns how many made it (fewer on a
    /// fault).
    ///
    /// # Safety
    ///
    /// `src..src + len` lies in a live mapping (its bytes may change).
    unsafe fn put(&mut self, src: *const u8, len: usize) -> usize;
    /// Takes back the last `n` bytes put (they turned out overwritten).
    fn take_back(&mut self, n: usize);
}

/// A `read()` user buffer: one copy per chunk, at `ubuf + done`.
struct UserSink {
    ubuf: UserPtr,
    count: usize,
    done: usize,
}

impl ReadSink for UserSink {
    fn room(&self) -> usize {
        self.count - self.done
    }

    unsafe fn put(&mut self, src: *const u8, len: usize) -> usize {
        let dst = self.ubuf.wrapping_byte_add(self.done);
        // SAFETY: `dst` is a user address (checked by `copy_to_user`),
        // `src` is readable for `len` bytes (the caller's promise).
        let left = unsafe { bindings::_copy_to_user(dst.as_mut_ptr(), src.cast(), len as c_ulong) };
        let n = len - left as usize;
        self.done += n;
        n
    }

    fn take_back(&mut self, n: usize) {
        self.done -= n;
    }
}

/// A `read_iter` destination (readv, splice, sendfile).
struct IovSink<'a, 'data>(&'a mut IovIterDest<'data>);

impl ReadSink for IovSink<'_, '_> {
    fn room(&self) -> usize {
        self.0.len()
    }

    unsafe fn put(&mut self, src: *const u8, len: usize) -> usize {
        // SAFETY: `src` is readable for `len` bytes (the caller's promise);
        // the iterator is ours for this call.
        unsafe { bindings::_copy_to_iter(src.cast(), len, self.0.as_raw()) }
    }

    fn take_back(&mut self, n: usize) {
        // SAFETY: The last `n` bytes were copied into this iterator by `put`.
        unsafe { self.0.revert(n) }
    }
}

/// # Safety
///
/// Called by the VFS as `poll` of a file opened by [`open`].
unsafe extern "C" fn poll(
    file: *mut bindings::file,
    pt: *mut bindings::poll_table,
) -> bindings::__poll_t {
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
    /// once some bytes are out, a fault ends the read short. With `nowait`
    /// (`IOCB_NOWAIT`), another reader in the way is `EAGAIN`.
    pub(crate) fn read_to(&self, sink: &mut impl ReadSink, nowait: bool) -> Result<usize> {
        let g = *self.geometry();
        let mut reader = if nowait {
            self.try_lock_reader().ok_or(EAGAIN)?
        } else {
            self.lock_reader()
        };
        let mut done = 0;
        while sink.room() > 0 {
            let Some(d) = self.next_data(&mut reader) else {
                break;
            };
            let current = d.w.produced == d.r.consumed;
            // The sub-buffer being written, to a reader that wants finished
            // ones only; or a finished one with a record still being
            // written (its last commit wakes the reader).
            if (current && self.finished_only.load(Relaxed))
                || (!current && !self.complete(d.r.consumed))
            {
                break;
            }
            if self.whole_subbufs() && d.len > sink.room() {
                // Sub-buffer headers frame whole sub-buffers: all or none.
                if done == 0 {
                    return Err(EINVAL);
                }
                break;
            }
            let n = d.len.min(sink.room());
            // SAFETY: `read_step` keeps `start..start + len` inside the
            // mapping, in committed bytes.
            let put = unsafe { sink.put(self.at(d.start), n) };
            // The copy before the second look (pairs with the switch's
            // write barrier before `subbuf_start`, see `ring.rs`).
            smp_rmb();
            // The writer may have lapped us during the copy (overwrite
            // mode): then these bytes do not count, and the next step skips
            // what was lost.
            if !self.intact(d.r.consumed) {
                sink.take_back(put);
                continue;
            }
            if put < n && self.whole_subbufs() {
                // A fault part way: with headers, all of the sub-buffer or
                // none of it (its rest could be overwritten before the next
                // read, tearing the framing).
                sink.take_back(put);
                if done == 0 {
                    return Err(EFAULT);
                }
                break;
            }
            if put > 0 {
                done += put;
                self.stats.add_read(put);
                self.advance(&mut reader, d.consumed(&g, put));
            }
            if put < n {
                if done == 0 {
                    return Err(EFAULT);
                }
                break;
            }
        }
        Ok(done)
    }

    /// Steps the reader to the next readable bytes: releases read-out
    /// sub-buffers and skips lost ones on the way; `None` when nothing is
    /// readable now. Shared by `read_to` and the zero-copy splice.
    #[inline(always)]
    pub(crate) fn next_data(&self, reader: &mut ReaderPos) -> Option<DataStep> {
        let g = *self.geometry();
        loop {
            // `taken` before the look at the writer: its `produced` is
            // then at least it, even if PUT_CONSUMED moves it meanwhile.
            // The reader starts at `taken` (below).
            let taken = self.taken();
            let w = self.writer_for(taken);
            if taken.wrapping_sub(w.produced) <= usize::MAX / 2 && taken != w.produced {
                // Ahead of the writer: only a reset racing the reader (a
                // misuse) shows this; read nothing rather than wrap.
                return None;
            }
            if reader.consumed != taken {
                // `rrelay_subbufs_consumed` (or the mmap reader's ioctl)
                // moved the reader: start at the sub-buffer it left.
                *reader = ReaderPos {
                    consumed: taken,
                    bytes_consumed: 0,
                };
            }
            let r = *reader;
            // The padding of the reader's sub-buffer, loaded once per step:
            // `read_step` and `consume` must see the same end.
            let padding = self.padding_of(g.slot(r.consumed));
            match g.read_step(w, r, |_| padding) {
                ReadStep::Empty => return None,
                ReadStep::Next => {
                    // The end came from the padding, which a later lap may
                    // have rewritten: validate it as a copy (see `ring.rs`).
                    smp_rmb();
                    if self.intact(r.consumed) {
                        self.advance(reader, g.consume(w, r, 0, |_| padding));
                    }
                }
                ReadStep::Skip { to, lost } => {
                    let to = ReaderPos {
                        consumed: to,
                        bytes_consumed: 0,
                    };
                    if self.advance(reader, to) {
                        self.count_lost(lost);
                    }
                }
                ReadStep::Data { start, len } => {
                    return Some(DataStep {
                        w,
                        r,
                        padding,
                        start,
                        len,
                    })
                }
            }
        }
    }

    /// Moves the reader to `pos`, releasing the sub-buffers it left;
    /// returns `false` when `rrelay_subbufs_consumed` moved it meanwhile
    /// (the next step starts from there).
    #[inline]
    pub(crate) fn advance(&self, reader: &mut ReaderPos, pos: ReaderPos) -> bool {
        if pos.consumed == reader.consumed || self.release_to(reader.consumed, pos.consumed) {
            *reader = pos;
            true
        } else {
            false
        }
    }

    /// `poll`: readable once a sub-buffer is finished; error and hangup once
    /// the channel is closed and everything is read.
    fn poll_mask(&self) -> bindings::__poll_t {
        if self.has_ready_subbuf() {
            bindings::POLLIN | bindings::POLLRDNORM
        } else if self.is_finalized() {
            bindings::POLLERR | bindings::POLLHUP
        } else {
            0
        }
    }
}

/// The ioctl commands of `include/uapi/linux/rrelay.h`, encoded from the
/// shared numbers and structures (`uapi.rs`).
mod ioc {
    use crate::uapi::{self, Geometry, Next, Padding, Positions, IOC_MAGIC};
    use kernel::ioctl::{_IO, _IOR, _IOW, _IOWR};

    const M: u32 = IOC_MAGIC as u32;
    pub(super) const GET_GEOMETRY: u32 = _IOR::<Geometry>(M, uapi::NR_GET_GEOMETRY as u32);
    pub(super) const GET_POSITIONS: u32 = _IOR::<Positions>(M, uapi::NR_GET_POSITIONS as u32);
    pub(super) const GET_PADDING: u32 = _IOWR::<Padding>(M, uapi::NR_GET_PADDING as u32);
    pub(super) const PUT_CONSUMED: u32 = _IOW::<u64>(M, uapi::NR_PUT_CONSUMED as u32);
    pub(super) const SET_FLAGS: u32 = _IOW::<u64>(M, uapi::NR_SET_FLAGS as u32);
    pub(super) const GET_NEXT_SUBBUF: u32 = _IOR::<Next>(M, uapi::NR_GET_NEXT_SUBBUF as u32);
    pub(super) const PUT_NEXT_SUBBUF: u32 = _IO(M, uapi::NR_PUT_NEXT_SUBBUF as u32);
    pub(super) const FLUSH: u32 = _IO(M, uapi::NR_FLUSH as u32);
}

// SAFETY: `#[repr(C)]` structures of `u64`s: no padding, every bit
// pattern valid.
unsafe impl kernel::transmute::AsBytes for uapi::Geometry {}
// SAFETY: As above.
unsafe impl kernel::transmute::AsBytes for uapi::Positions {}
// SAFETY: As above.
unsafe impl kernel::transmute::AsBytes for uapi::Padding {}
// SAFETY: As above.
unsafe impl kernel::transmute::AsBytes for uapi::Next {}

impl RchanBuf {
    /// The mmap readers' ioctls.
    fn ioctl(&self, file: *mut bindings::file, cmd: u32, arg: usize) -> Result {
        let g = *self.geometry();
        let user = UserSlice::new(UserPtr::from_addr(arg), kernel::ioctl::_IOC_SIZE(cmd));
        match cmd {
            ioc::GET_GEOMETRY => user.writer().write(&uapi::Geometry {
                subbuf_size: g.subbuf_size() as u64,
                n_subbufs: g.n_subbufs() as u64,
                mmap_size: g.alloc_size(PAGE_SIZE) as u64,
            }),
            ioc::GET_POSITIONS => {
                // `taken` before the snapshot, as in `read_to`: then
                // `produced >= consumed` whatever PUT_CONSUMED does meanwhile.
                let consumed = self.taken();
                let snap = self.snapshot();
                let mut flags = 0;
                if snap.stopped {
                    flags |= uapi::POS_STOPPED;
                }
                if self.is_finalized() {
                    flags |= uapi::POS_FINALIZED;
                }
                let produced = self.complete_through(consumed, snap.produced);
                // The current sub-buffer's committed bytes, once the ones
                // before it are complete; none for a reader of finished
                // sub-buffers only (always so with sub-buffer headers,
                // which frame whole sub-buffers).
                let offset = if produced == snap.produced && !self.finished_only.load(Relaxed) {
                    snap.committed
                } else {
                    0
                };
                user.writer().write(&uapi::Positions {
                    produced: produced as u64,
                    consumed: consumed as u64,
                    offset: offset as u64,
                    flags,
                })
            }
            ioc::GET_PADDING => {
                let (mut reader, mut writer) = user.reader_writer();
                let slot = reader.read::<u64>()?;
                let slot = usize::try_from(slot)
                    .ok()
                    .filter(|&s| s < g.n_subbufs())
                    .ok_or(EINVAL)?;
                writer.write(&uapi::Padding {
                    subbuf: slot as u64,
                    padding: self.padding_of(slot) as u64,
                })
            }
            ioc::PUT_CONSUMED => {
                let n = user.reader().read::<u64>()?;
                let ready = self.produced().wrapping_sub(self.taken());
                // At most what is ready, and at most a ring: more would be
                // ignored by `relay_subbufs_consumed` and report success.
                let n = usize::try_from(n)
                    .ok()
                    .filter(|&n| n <= ready && n <= g.n_subbufs())
                    .ok_or(EINVAL)?;
                // Under the reader lock: ordered with read() and reset.
                let _reader = self.lock_reader();
                self.put_consumed(n);
                Ok(())
            }
            ioc::GET_NEXT_SUBBUF => {
                // Told before it is taken: a fault takes nothing.
                let mut out = user.writer();
                self.get_next_subbuf(file, |next| {
                    out.write(&uapi::Next {
                        subbuf: next.k as u64,
                        offset: next.start as u64,
                        len: next.len as u64,
                    })
                })
                .map(|_| ())
            }
            ioc::PUT_NEXT_SUBBUF => self.put_next_subbuf(file),
            ioc::FLUSH => {
                // A closed channel's buffer has nothing more to finish.
                if !self.is_finalized() {
                    let before = self.produced();
                    self.switch_subbuf(0);
                    // A stopped buffer was only restarted: with headers,
                    // finish that one too, so its header tells the drops.
                    if self.chan().has_headers() && self.produced() == before {
                        self.switch_subbuf(0);
                    }
                }
                Ok(())
            }
            ioc::SET_FLAGS => {
                let flags = user.reader().read::<u64>()?;
                // Sub-buffer headers frame whole sub-buffers only.
                if flags & !uapi::FLAG_FINISHED_ONLY != 0
                    || (self.chan().has_headers() && flags & uapi::FLAG_FINISHED_ONLY == 0)
                {
                    return Err(EINVAL);
                }
                self.finished_only
                    .store(flags & uapi::FLAG_FINISHED_ONLY != 0, Relaxed);
                Ok(())
            }
            _ => Err(ENOTTY),
        }
    }
}
