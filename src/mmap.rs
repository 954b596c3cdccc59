// SPDX-License-Identifier: GPL-2.0

//! The mmap reader: the data and meta page mappings, and the sub-buffer
//! protocol (`RRELAY_IOC_GET_NEXT_SUBBUF` / `RRELAY_IOC_PUT_NEXT_SUBBUF`,
//! documented in `include/uapi/linux/rrelay.h`).
//!
//! A sub-buffer handed out is lent, as a spliced one is (`splice.rs`): the
//! reader takes it, but the writer gets it back only when it is put back,
//! and never starts its slot meanwhile, in overwrite mode either (it drops
//! records instead, counted). So the bytes a reader sees in its mapping
//! never change under it. One sub-buffer is held at a time per buffer; the
//! file that holds it gives it back when closed.

use crate::buffer::RchanBuf;
use core::sync::atomic::Ordering;
use kernel::bindings;
use kernel::error::to_result;
use kernel::mm::virt::VmaNew;
use kernel::page::PAGE_SIZE;
use kernel::prelude::*;

/// Pages mapped per `vm_insert_pages` call (a stack array of pointers).
const INSERT_BATCH: usize = 32;

/// A sub-buffer handed out to an mmap reader.
#[derive(Clone, Copy)]
pub(crate) struct Held {
    /// Its number (sub-buffers finished before it).
    pub(crate) k: usize,
    /// Its data's offset in the data mapping.
    pub(crate) start: usize,
    /// Its data bytes, padding excluded.
    pub(crate) len: usize,
    /// The file that holds it (an identity only, never dereferenced).
    file: usize,
}

impl RchanBuf {
    /// `mmap`: the data (offset 0, the whole buffer) or the meta page
    /// (offset `alloc_size`, one page); read-only, never growing.
    pub(crate) fn mmap(&self, vma: &VmaNew) -> Result {
        if self.chan().is_closed() {
            return Err(ENODEV);
        }
        let size = self.geometry().alloc_size(PAGE_SIZE);
        // SAFETY: The VMA is valid while this mmap call sets it up.
        let pgoff = unsafe { (*vma.as_ptr()).vm_pgoff };
        let len = vma.end() - vma.start();
        // `pgoff` comes from user space: no overflow.
        let off = pgoff.checked_mul(PAGE_SIZE).ok_or(EINVAL)?;
        let pages = match (off, len) {
            (0, l) if l == size => &self.mem().pages()[..size / PAGE_SIZE],
            (off, PAGE_SIZE) if off == size => &self.mem().pages()[size / PAGE_SIZE..],
            _ => return Err(EINVAL),
        };
        if vma.writable() || vma.executable() {
            return Err(EPERM);
        }
        vma.try_clear_maywrite()?;
        vma.try_clear_mayexec()?;
        vma.set_dontexpand();
        let map = vma.set_mixedmap();
        // `vm_insert_pages` (raw: the kernel crate wraps only
        // `vm_insert_page`) takes the page table lock per batch where
        // `vm_insert_page` takes it per page: mapping 16 MiB costs about
        // 1.25 million instructions instead of 2.15 million.
        let mut ptrs = [core::ptr::null_mut::<bindings::page>(); INSERT_BATCH];
        let mut addr = vma.start();
        for batch in pages.chunks(INSERT_BATCH) {
            for (ptr, page) in ptrs.iter_mut().zip(batch) {
                *ptr = page.as_ptr();
            }
            let mut left = batch.len();
            // SAFETY: `map` is the VMA this mmap call sets up (its caller
            // holds the mmap lock for writing), mixed-map, and the range
            // lies inside it (`len` is the pages' size); the first
            // `batch.len()` pointers are live order-0 pages of the buffer,
            // which the mapping takes references to.
            to_result(unsafe {
                bindings::vm_insert_pages(map.as_ptr(), addr, ptrs.as_mut_ptr(), &mut left)
            })?;
            if left != 0 {
                return Err(EFAULT);
            }
            addr += batch.len() * PAGE_SIZE;
        }
        Ok(())
    }

    /// `RRELAY_IOC_GET_NEXT_SUBBUF`: hands `file` the next finished,
    /// complete sub-buffer, lent until [`RchanBuf::put_next_subbuf`];
    /// `tell` gives it to user space first (when that fails, nothing is
    /// taken). `EAGAIN`: none ready; `EBUSY`: one is held already.
    pub(crate) fn get_next_subbuf(
        &self,
        file: *mut bindings::file,
        tell: impl FnOnce(&Held) -> Result,
    ) -> Result<Held> {
        let g = *self.geometry();
        let mut reader = self.lock_reader();
        let mut held = self.held.lock();
        if held.is_some() {
            return Err(EBUSY);
        }
        loop {
            let d = self.next_data(&mut reader).ok_or(EAGAIN)?;
            if d.w.produced == d.r.consumed || !self.complete(d.r.consumed) {
                return Err(EAGAIN);
            }
            // Lent before it is taken: the writer never starts its slot now.
            if self.lend_if_intact(d.r.consumed).is_none() {
                // Overwritten meanwhile: the next step skips it.
                continue;
            }
            let h = Held {
                k: d.r.consumed,
                start: d.start,
                len: d.len,
                file: file as usize,
            };
            if let Err(e) = tell(&h) {
                self.unlend(self.lend_token(g.slot(h.k)));
                return Err(e);
            }
            self.advance(&mut reader, d.consumed(&g, d.len));
            self.stats.add_read(d.len);
            let meta = self.meta();
            meta.reader_subbuf.store(h.k as u64, Ordering::Relaxed);
            meta.reader_offset.store(h.start as u64, Ordering::Relaxed);
            meta.reader_len.store(h.len as u64, Ordering::Relaxed);
            meta.reader_held.store(1, Ordering::Release);
            *held = Some(h);
            return Ok(h);
        }
    }

    /// `RRELAY_IOC_PUT_NEXT_SUBBUF`: gives the sub-buffer `file` holds back
    /// to the writer. `EINVAL`: it holds none.
    pub(crate) fn put_next_subbuf(&self, file: *mut bindings::file) -> Result {
        let mut held = self.held.lock();
        let h = held.filter(|h| h.file == file as usize).ok_or(EINVAL)?;
        *held = None;
        // Inside the lock: a GET_NEXT that follows sets it again after.
        self.meta().reader_held.store(0, Ordering::Release);
        drop(held);
        self.give_back(h);
        Ok(())
    }

    /// The release of `file`: a sub-buffer it holds goes back.
    pub(crate) fn drop_held(&self, file: *mut bindings::file) {
        let mut held = self.held.lock();
        if let Some(h) = held.filter(|h| h.file == file as usize) {
            *held = None;
            self.meta().reader_held.store(0, Ordering::Release);
            drop(held);
            self.give_back(h);
        }
    }

    fn give_back(&self, h: Held) {
        self.unlend(self.lend_token(self.geometry().slot(h.k)));
    }
}
