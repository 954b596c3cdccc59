// SPDX-License-Identifier: GPL-2.0

//! The module's sub-buffer accounting, compiled unchanged for the host.
#![no_std]

#[path = "../../src/subbuf.rs"]
mod subbuf;

pub use subbuf::*;
