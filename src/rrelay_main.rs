// SPDX-License-Identifier: GPL-2.0

//! rrelay: the kernel's relay channels, in Rust.
//!
//! This file only wires the parts together; each concept has its own file:
//! `subbuf` (the sub-buffer arithmetic) and `ring` (the lockless write
//! protocol), both shared with the host tests,
//! `channel`, `buffer`, `write` (the write path), `file` (the buffer files),
//! `wakeup`, `hotplug`, `stats`, `ffi` (the C ABI) and `shim` (the C shim);
//! `uapi` (the user-space ABI, shared with the tool) and `layout` (the
//! layout asserts of everything C and Rust share).

use kernel::prelude::*;

mod buffer;
mod channel;
mod ffi;
mod file;
mod header;
mod hotplug;
mod layout;
mod mmap;
pub mod ring;
mod shim;
mod splice;
mod stats;
pub mod subbuf;
mod uapi;
mod wakeup;
mod write;

/// The atomics `ring.rs` uses: `core`'s, plain instructions on the write
/// path; `fence(Release)` stands for `smp_wmb()` (see `ring.rs`).
mod ring_atomics {
    pub(crate) use core::sync::atomic::{fence, AtomicI64, AtomicU64, AtomicUsize, Ordering};
}

module! {
    type: Rrelay,
    name: "rrelay",
    authors: ["rrelay developers"],
    description: "Relay channels: per-CPU sub-buffer rings streamed to user space",
    license: "GPL",
}

struct Rrelay {
    _hotplug: hotplug::Hotplug,
}

impl kernel::Module for Rrelay {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        // SAFETY: Called once, before anything can open a channel.
        unsafe { channel::CHANNELS.init() };
        stats::create_root();
        let hotplug = hotplug::Hotplug::register().inspect_err(|_| stats::remove_root())?;
        Ok(Rrelay { _hotplug: hotplug })
    }
}

impl Drop for Rrelay {
    fn drop(&mut self) {
        // No channel is open: each client holds a reference on this module.
        stats::remove_root();
    }
}
