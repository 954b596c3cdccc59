// SPDX-License-Identifier: GPL-2.0

//! The module's sub-buffer accounting (`src/subbuf.rs`, compiled unchanged)
//! and its lockless write protocol (`src/ring.rs`, likewise),
//! a buffer built from it as the module uses it (`sim`), and an independent
//! reference that says what that buffer must do (`reference`); the property
//! tests and the fuzzer run both and compare. Host only: the module compiles
//! `src/subbuf.rs` directly.

#[path = "../../src/subbuf.rs"]
mod subbuf;

/// The lockless write protocol (`src/ring.rs`, compiled unchanged), tested
/// in `tests/ring.rs`.
#[path = "../../src/ring.rs"]
pub mod ring;

/// The atomics `ring.rs` uses: the host's; the kernel gives it its own.
mod ring_atomics {
    pub use std::sync::atomic::{fence, AtomicI64, AtomicU64, AtomicUsize, Ordering};
}

pub mod buf;
pub mod reference;
pub mod sim;

pub use subbuf::*;
