// SPDX-License-Identifier: GPL-2.0

//! Random sequences of write, read, flush on a no-overwrite or overwrite
//! buffer built from the module's accounting (`src/subbuf.rs`), checked
//! against the same properties as the proptests.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rrelay_accounting::sim::{check_no_overwrite, check_overwrite, Op};

fuzz_target!(|data: &[u8]| {
    let [a, b, c, rest @ ..] = data else { return };
    let subbuf_size = 1 + usize::from(*a) % 64;
    let overwrite = c & 1 == 1;
    let n_subbufs = usize::from(overwrite) + 1 + usize::from(*b) % 6;
    let ops: Vec<Op> = rest
        .chunks(2)
        .map(|op| {
            let v = usize::from(op.get(1).copied().unwrap_or(0));
            match op[0] % 9 {
                0..=5 => Op::Write(v % (subbuf_size + 8)),
                6 | 7 => Op::Read(1 + v),
                _ => Op::Flush,
            }
        })
        .collect();
    let result = if overwrite {
        check_overwrite(subbuf_size, n_subbufs, &ops)
    } else {
        check_no_overwrite(subbuf_size, n_subbufs, &ops)
    };
    if let Err(e) = result {
        panic!("{e}");
    }
});
