// SPDX-License-Identifier: GPL-2.0

//! A Rust client of rrelay: opens a channel with the Rust API
//! (`include/rrelay.rs`), writes numbered records from process context,
//! and closes the channel when unloaded.
//!
//! Files: `<debugfs>/rrelay_sample<cpu>`; statistics in
//! `<debugfs>/rrelay/rrelay_sample/stats`. Each record is `record_size`
//! bytes: a little-endian `u32` CPU, a `u32` sequence number (per CPU), then
//! the low byte of `seq + i` for every following byte `i`.

use kernel::prelude::*;

#[path = "../include/rrelay.rs"]
mod rrelay;

module! {
    type: RustRelaySample,
    name: "rust_relay_sample",
    authors: ["rrelay developers"],
    description: "Sample Rust client of rrelay",
    license: "GPL",
    params: {
        record_size: usize {
            default: 64,
            description: "Bytes per record (at least 8)",
        },
        records: u32 {
            default: 1000,
            description: "Records to write at load, from process context",
        },
        overwrite: u8 {
            default: 0,
            description: "1: overwrite unread data when full; 0: drop and count",
        },
        global: u8 {
            default: 0,
            description: "1: one global buffer; 0: one buffer per CPU",
        },
        subbuf_size: usize {
            default: 4096,
            description: "Sub-buffer size in bytes",
        },
        n_subbufs: usize {
            default: 32,
            description: "Sub-buffers per buffer",
        },
    },
}

/// The policy chosen by the `overwrite` parameter.
struct Policy {
    overwrite: bool,
}

impl rrelay::Callbacks for Policy {
    fn subbuf_start(&self, buf: &rrelay::Buf<'_>) -> bool {
        self.overwrite || !buf.is_full()
    }
}

struct RustRelaySample {
    _chan: rrelay::Channel<Policy>,
}

impl kernel::Module for RustRelaySample {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let size = (*module_parameters::record_size.value()).max(8);
        let mut config = rrelay::Config::new(
            c"rrelay_sample",
            *module_parameters::subbuf_size.value(),
            *module_parameters::n_subbufs.value(),
        );
        config.global = *module_parameters::global.value() != 0;
        let policy = Policy {
            overwrite: *module_parameters::overwrite.value() != 0,
        };
        let chan = rrelay::Channel::open(&config, policy)?;
        let mut rec = KVec::from_elem(0u8, size, GFP_KERNEL)?;
        for seq in 0..*module_parameters::records.value() {
            let cpu = kernel::cpu::CpuId::current().as_u32();
            rec[0..4].copy_from_slice(&cpu.to_le_bytes());
            rec[4..8].copy_from_slice(&seq.to_le_bytes());
            for (i, b) in rec[8..].iter_mut().enumerate() {
                *b = (seq as usize + i) as u8;
            }
            if seq % 2 == 0 {
                chan.write(&rec);
            } else {
                chan.reserve(size, |slot| slot.copy_from_slice(&rec));
            }
        }
        chan.flush();
        pr_info!(
            "wrote {} records of {} bytes\n",
            *module_parameters::records.value(),
            size
        );
        Ok(RustRelaySample { _chan: chan })
    }
}
