// SPDX-License-Identifier: GPL-2.0

//! rrelay: the kernel's relay channels, in Rust.
//!
//! This file only wires the parts together; each concept has its own file.

use kernel::prelude::*;

mod subbuf;

module! {
    type: Rrelay,
    name: "rrelay",
    authors: ["rrelay developers"],
    description: "Relay channels: per-CPU sub-buffer rings streamed to user space",
    license: "GPL",
}

struct Rrelay;

impl kernel::Module for Rrelay {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        pr_info!("rrelay: loaded\n");
        Ok(Rrelay)
    }
}

impl Drop for Rrelay {
    fn drop(&mut self) {
        pr_info!("rrelay: unloaded\n");
    }
}
