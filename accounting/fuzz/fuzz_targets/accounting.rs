// SPDX-License-Identifier: GPL-2.0

//! Random operations on a no-overwrite or overwrite buffer built from the
//! module's accounting (`src/subbuf.rs`), run side by side with the
//! independent reference: they must agree after every operation, as in the
//! property tests.
//!
//! Input: three bytes of setup (sub-buffer size, count, and mode bits with
//! the client's start reserve), then two bytes per operation.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rrelay_accounting::sim::{check, Op, Setup};

fuzz_target!(|data: &[u8]| {
    let [a, b, c, rest @ ..] = data else { return };
    let size = 1 + usize::from(*a) % 64;
    let n = 1 + usize::from(*b) % 6;
    let setup = Setup {
        subbuf_size: size,
        n_subbufs: n,
        overwrite: c & 1 == 1,
        paused: c & 6 == 6,
        // Up to two bytes past the largest header a sub-buffer takes.
        reserve: usize::from(c >> 3) % (size + 2),
    };
    let ops: Vec<Op> = rest
        .chunks(2)
        .map(|op| {
            let v = usize::from(op.get(1).copied().unwrap_or(0));
            match op[0] % 16 {
                0..=7 => Op::Write(v % (size + 8)),
                8..=10 => Op::Read(1 + v),
                11 | 12 => Op::Flush,
                13 => Op::Reserve(v % (size + 2)),
                14 => Op::Pause(v % 4 == 0),
                _ => Op::Consumed(v % (n + 2)),
            }
        })
        .collect();
    if let Err(e) = check(setup, &ops) {
        panic!("{e}");
    }
});
