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

/// Interrupts off on this CPU while it lives (`local_irq_save`).
pub(crate) struct IrqGuard(c_ulong);

/// Whether `local_irq_save` is plain `pushf; pop; cli` here, so the write
/// path can inline it (a call per write costs as much as a small copy):
/// x86-64 without irq-flag tracing (lockdep) or paravirt irq ops. Elsewhere
/// the C shim does it.
#[cfg(all(
    target_arch = "x86_64",
    not(CONFIG_TRACE_IRQFLAGS),
    not(CONFIG_PARAVIRT_XXL)
))]
mod irq {
    use kernel::ffi::c_ulong;

    /// The interrupt flag in RFLAGS.
    const X86_EFLAGS_IF: c_ulong = 1 << 9;

    #[inline(always)]
    pub(super) fn save() -> c_ulong {
        let flags: c_ulong;
        // SAFETY: `native_save_fl` and `native_irq_disable` of
        // arch/x86/include/asm/irqflags.h; the memory clobber (no `nomem`)
        // keeps accesses inside the section.
        unsafe { core::arch::asm!("pushfq", "pop {0}", "cli", out(reg) flags) };
        flags
    }

    #[inline(always)]
    pub(super) fn restore(flags: c_ulong) {
        if flags & X86_EFLAGS_IF != 0 {
            // SAFETY: `arch_local_irq_restore`: interrupts were on at `save`.
            unsafe { core::arch::asm!("sti") };
        }
    }
}

#[cfg(not(all(
    target_arch = "x86_64",
    not(CONFIG_TRACE_IRQFLAGS),
    not(CONFIG_PARAVIRT_XXL)
)))]
mod irq {
    use kernel::ffi::c_ulong;

    extern "C" {
        fn rrelay_shim_irq_save() -> c_ulong;
        fn rrelay_shim_irq_restore(flags: c_ulong);
    }

    #[inline(always)]
    pub(super) fn save() -> c_ulong {
        // SAFETY: Saving and disabling local interrupts is always allowed.
        unsafe { rrelay_shim_irq_save() }
    }

    #[inline(always)]
    pub(super) fn restore(flags: c_ulong) {
        // SAFETY: The flags come from `save`.
        unsafe { rrelay_shim_irq_restore(flags) }
    }
}

impl IrqGuard {
    #[inline(always)]
    pub(crate) fn new() -> Self {
        // `Drop` restores the interrupt state.
        IrqGuard(irq::save())
    }
}

impl Drop for IrqGuard {
    #[inline(always)]
    fn drop(&mut self) {
        irq::restore(self.0)
    }
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
}

impl Drop for PreemptGuard {
    #[inline(always)]
    fn drop(&mut self) {
        // SAFETY: Matches the disable in `new`.
        unsafe { rrelay_shim_preempt_enable() }
    }
}

/// The CPU this code runs on; stable while an [`IrqGuard`] or
/// [`PreemptGuard`] lives.
#[inline(always)]
pub(crate) fn this_cpu() -> usize {
    kernel::cpu::CpuId::current().as_u32() as usize
}
