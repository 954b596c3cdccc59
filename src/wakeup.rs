// SPDX-License-Identifier: GPL-2.0

//! Reader wakeup: a wait queue woken through an irq_work.
//!
//! A writer may run in hardirq context or inside the scheduler, where calling
//! `wake_up` could deadlock on the runqueue lock; so a sub-buffer switch only
//! queues an irq_work, and only when a reader waits.

use crate::shim;
use kernel::bindings;
use kernel::prelude::*;

/// The wait queue and irq_work of one buffer.
///
/// # Invariants
///
/// `raw` points to a live wakeup object of the C shim, owned by this value.
pub(crate) struct Wakeup {
    raw: *mut shim::RawWakeup,
}

// SAFETY: The shim object is a wait queue (with its own lock) and an
// irq_work, both made to be used from any CPU and context.
unsafe impl Send for Wakeup {}
// SAFETY: As above; every method takes `&self` and the C side synchronizes.
unsafe impl Sync for Wakeup {}

impl Wakeup {
    pub(crate) fn new() -> Result<Self> {
        // SAFETY: Allocation in process context; NULL is handled.
        let raw = unsafe { shim::rrelay_shim_wakeup_new() };
        if raw.is_null() {
            return Err(ENOMEM);
        }
        // INVARIANT: `raw` was just allocated and is owned by the new value.
        Ok(Wakeup { raw })
    }

    /// Queues the reader wakeup if a reader waits. Any context; the caller
    /// has made the new data visible with a full barrier first.
    #[inline]
    pub(crate) fn kick(&self) {
        // SAFETY: `raw` is live by the type invariant.
        unsafe { shim::rrelay_shim_wakeup_kick(self.raw) }
    }

    /// Wakes every reader at once (process context).
    pub(crate) fn wake_all(&self) {
        // SAFETY: `raw` is live by the type invariant.
        unsafe { shim::rrelay_shim_wakeup_now(self.raw) }
    }

    /// Waits until a queued wakeup has run (`irq_work_sync`).
    pub(crate) fn sync(&self) {
        // SAFETY: `raw` is live by the type invariant.
        unsafe { shim::rrelay_shim_wakeup_sync(self.raw) }
    }

    /// Registers a poller on the wait queue.
    ///
    /// # Safety
    ///
    /// `file` and `pt` must be the arguments of a running `poll` file operation.
    pub(crate) unsafe fn poll_wait(
        &self,
        file: *mut bindings::file,
        pt: *mut bindings::poll_table,
    ) {
        // SAFETY: `raw` is live; the caller vouches for `file` and `pt`.
        unsafe { shim::rrelay_shim_wakeup_poll(self.raw, file.cast(), pt.cast()) }
    }
}

impl Drop for Wakeup {
    fn drop(&mut self) {
        // SAFETY: `raw` is live and owned; the shim waits for a queued
        // irq_work before freeing it.
        unsafe { shim::rrelay_shim_wakeup_free(self.raw) }
    }
}
