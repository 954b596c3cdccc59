// SPDX-License-Identifier: GPL-2.0

//! The Rust side of the C shim (`rrelay_shim.c`): declarations and the small
//! safe wrappers the rest of the module uses instead of them.

use kernel::bindings;
use kernel::prelude::*;

/// The C shim's reader wakeup object (opaque to Rust).
#[repr(C)]
pub(crate) struct RawWakeup {
    _private: [u8; 0],
}

extern "C" {
    // Pointers to kernel structs are passed as `c_void`: some bindgen'd
    // structs are not FFI-safe by rustc's rules.
    fn rrelay_shim_vmap(pages: *mut *mut c_void, count: c_uint) -> *mut c_void;
    fn rrelay_shim_vunmap(addr: *mut c_void);
    fn rrelay_shim_switch_enter() -> c_ulong;
    fn rrelay_shim_switch_exit(flags: c_ulong);
    fn rrelay_shim_may_wait() -> bool;
    fn rrelay_shim_preempt_disable();
    fn rrelay_shim_preempt_enable();
    pub(crate) fn rrelay_shim_wakeup_new() -> *mut RawWakeup;
    pub(crate) fn rrelay_shim_wakeup_kick(w: *mut RawWakeup);
    pub(crate) fn rrelay_shim_wakeup_now(w: *mut RawWakeup);
    pub(crate) fn rrelay_shim_wakeup_poll(w: *mut RawWakeup, file: *mut c_void, pt: *mut c_void);
    pub(crate) fn rrelay_shim_wakeup_sync(w: *mut RawWakeup);
    pub(crate) fn rrelay_shim_wakeup_free(w: *mut RawWakeup);
}

/// Maps `pages` into one contiguous kernel virtual area.
///
/// # Safety
///
/// Every pointer in `pages` must be a valid page that outlives the mapping,
/// which must be undone with [`vunmap`] before the pages are freed.
pub(crate) unsafe fn vmap(pages: &mut [*mut bindings::page]) -> Result<*mut u8> {
    let count = c_uint::try_from(pages.len()).map_err(|_| EINVAL)?;
    // SAFETY: The caller guarantees the pages are valid; `pages` is a live
    // array of `count` entries.
    let addr = unsafe { rrelay_shim_vmap(pages.as_mut_ptr().cast(), count) };
    if addr.is_null() {
        return Err(ENOMEM);
    }
    Ok(addr.cast())
}

/// Undoes a [`vmap`].
///
/// # Safety
///
/// `addr` must come from [`vmap`] and not be used afterwards.
pub(crate) unsafe fn vunmap(addr: *mut u8) {
    // SAFETY: The caller guarantees `addr` is a live mapping of ours.
    unsafe { rrelay_shim_vunmap(addr.cast()) }
}

/// A sub-buffer switch in progress on this CPU while it lives: local
/// interrupts off, and the CPU's switch depth raised (see [`may_wait`]).
/// Around a switch only, never on the write fast path.
pub(crate) struct SwitchGuard(c_ulong);

impl SwitchGuard {
    pub(crate) fn new() -> Self {
        // SAFETY: Disabling local interrupts is always allowed; `Drop`
        // restores them and the depth.
        SwitchGuard(unsafe { rrelay_shim_switch_enter() })
    }
}

impl Drop for SwitchGuard {
    fn drop(&mut self) {
        // SAFETY: Matches `new`, on this CPU (interrupts off since: no
        // migration).
        unsafe { rrelay_shim_switch_exit(self.0) }
    }
}

/// Whether a writer here may wait for another CPU's switch: not in NMI,
/// and inside no switch but its own ([`SwitchGuard`]).
pub(crate) fn may_wait() -> bool {
    // SAFETY: Reads this CPU's state; preemption or interrupts are off.
    unsafe { rrelay_shim_may_wait() }
}

/// Preemption off on this CPU while it lives (`preempt_disable`).
pub(crate) struct PreemptGuard;

impl PreemptGuard {
    #[inline(always)]
    pub(crate) fn new() -> Self {
        // SAFETY: Disabling preemption is always allowed; `Drop` re-enables it.
        unsafe { rrelay_shim_preempt_disable() };
        PreemptGuard
    }

    /// A guard for a preemption-off section begun elsewhere (a `new`
    /// whose guard was forgotten).
    ///
    /// # Safety
    ///
    /// The caller ends such a section, once, in the context that began it.
    pub(crate) unsafe fn adopt() -> Self {
        PreemptGuard
    }
}

impl Drop for PreemptGuard {
    #[inline(always)]
    fn drop(&mut self) {
        // SAFETY: Matches the disable in `new`.
        unsafe { rrelay_shim_preempt_enable() }
    }
}

/// The CPU this code runs on; stable while a [`PreemptGuard`] or a
/// [`SwitchGuard`] lives.
#[inline(always)]
pub(crate) fn this_cpu() -> usize {
    kernel::cpu::CpuId::current().as_u32() as usize
}
