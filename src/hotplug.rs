// SPDX-License-Identifier: GPL-2.0

//! CPU hotplug: a CPU that comes online after `rrelay_open` gets its buffer
//! and file in every open channel (its slot of the channel's per-CPU
//! pointer, null until then, is set before the CPU runs a writer), from a
//! dynamic prepare-state callback (relay's `CPUHP_RELAY_PREPARE` is static,
//! for built-in code only). A CPU going offline keeps its buffer and data
//! until the channel is closed.
//!
//! Context: the callback runs in process context on a control CPU, with the
//! hotplug lock held (so before `CHANNELS` in the lock order).

use crate::channel::CHANNELS;
use kernel::bindings;
use kernel::prelude::*;

/// The dynamic hotplug state, removed on drop.
///
/// # Invariants
///
/// `state` is a state number registered by `Hotplug::register`.
pub(crate) struct Hotplug {
    state: c_int,
}

impl Hotplug {
    pub(crate) fn register() -> Result<Self> {
        // SAFETY: A valid name and callback; no teardown; not multi-instance.
        let state = unsafe {
            bindings::__cpuhp_setup_state(
                bindings::cpuhp_state_CPUHP_BP_PREPARE_DYN,
                c"rrelay:prepare".as_char_ptr(),
                false,
                Some(prepare_cpu),
                None,
                false,
            )
        };
        if state < 0 {
            return Err(Error::from_errno(state));
        }
        // INVARIANT: `state` was just registered.
        Ok(Hotplug { state })
    }
}

impl Drop for Hotplug {
    fn drop(&mut self) {
        // SAFETY: The state is ours (type invariant); no callbacks to invoke.
        unsafe { bindings::__cpuhp_remove_state(self.state, false) };
    }
}

/// # Safety
///
/// Called by the hotplug core for a CPU being brought up.
unsafe extern "C" fn prepare_cpu(cpu: c_uint) -> c_int {
    let chans = CHANNELS.lock();
    for chan in chans.iter() {
        if let Err(e) = chan.add_buf(cpu) {
            pr_err!(
                "no buffer for CPU {} in channel {:?}: {:?}\n",
                cpu,
                chan.base(),
                e
            );
            return e.to_errno();
        }
    }
    0
}
