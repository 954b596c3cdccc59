// SPDX-License-Identifier: GPL-2.0

//! The module's sub-buffer accounting (`src/subbuf.rs`, compiled unchanged),
//! a buffer built from it as the module uses it (`sim`), and an independent
//! reference that says what that buffer must do (`reference`); the property
//! tests and the fuzzer run both and compare. Host only: the module compiles
//! `src/subbuf.rs` directly.

#[path = "../../src/subbuf.rs"]
mod subbuf;

pub mod reference;
pub mod sim;

pub use subbuf::*;
