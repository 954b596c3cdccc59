// SPDX-License-Identifier: GPL-2.0

//! The module's sub-buffer accounting (`src/subbuf.rs`, compiled unchanged),
//! and a reference buffer built from it for the property tests and the
//! fuzzer (`sim`). Host only: the module compiles `src/subbuf.rs` directly.

#[path = "../../src/subbuf.rs"]
mod subbuf;

pub mod sim;

pub use subbuf::*;
