// SPDX-License-Identifier: GPL-2.0

//! The sample producer's record format: the one definition, used by the
//! kernel sample (`rust_relay_sample.rs`) to write records and by
//! `rrelay decode` (`tools/`) to read and verify them. Only `core` is used.
//!
//! A record is a 32-byte header and a payload, all little-endian:
//!
//! | bytes  | field                                                        |
//! |--------|--------------------------------------------------------------|
//! | 0..4   | magic `RRLY` (`0x594c5252`)                                  |
//! | 4..6   | CPU that wrote it                                            |
//! | 6      | context: 0 process (kthread), 1 softirq, 2 hardirq, 3 NMI    |
//! | 7      | 0                                                            |
//! | 8..16  | sequence number, counted per (CPU, context) from 0           |
//! | 16..24 | timestamp, ns (monotonic clock)                              |
//! | 24..28 | payload length                                               |
//! | 28..32 | checksum: FNV-1a of bytes 0..28 and the payload              |
//!
//! Payload byte `i` is `(seq + i) as u8`, so a torn or shifted record fails
//! the checksum.

// Shared by a writer and a reader: each uses half of it.
#![allow(dead_code, unreachable_pub)]

/// `RRLY`, little-endian.
pub const MAGIC: u32 = 0x594c_5252;
/// Bytes before the payload.
pub const HEADER_LEN: usize = 32;

/// The context a record was written from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Context {
    /// A kthread.
    Process = 0,
    /// A timer in softirq.
    Softirq = 1,
    /// A timer in hardirq.
    Hardirq = 2,
    /// An NMI handler.
    Nmi = 3,
}

/// Every context, in index order.
pub const CONTEXTS: [Context; 4] = [
    Context::Process,
    Context::Softirq,
    Context::Hardirq,
    Context::Nmi,
];

/// The contexts the Rust sample writes from (a kthread and two timers).
pub const SAMPLE_CONTEXTS: [Context; 3] = [Context::Process, Context::Softirq, Context::Hardirq];

impl Context {
    /// The context's short name.
    pub const fn name(self) -> &'static str {
        match self {
            Context::Process => "process",
            Context::Softirq => "softirq",
            Context::Hardirq => "hardirq",
            Context::Nmi => "nmi",
        }
    }

    const fn from_u8(v: u8) -> Option<Self> {
        match v {
            0 => Some(Context::Process),
            1 => Some(Context::Softirq),
            2 => Some(Context::Hardirq),
            3 => Some(Context::Nmi),
            _ => None,
        }
    }
}

/// A record's header fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// The CPU that wrote it.
    pub cpu: u16,
    /// The context it was written from.
    pub ctx: Context,
    /// Its number in its (CPU, context) stream.
    pub seq: u64,
    /// Monotonic time of writing, ns.
    pub timestamp_ns: u64,
    /// Payload bytes.
    pub len: u32,
}

/// Why bytes are not a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeError {
    /// Fewer bytes than the header or the payload it announces.
    Truncated,
    /// No magic number at this position.
    BadMagic,
    /// An unknown context or a non-zero reserved byte.
    BadHeader,
    /// The checksum does not match.
    BadChecksum,
}

/// FNV-1a, 32 bits, continued from `hash`.
const fn fnv1a(mut hash: u32, bytes: &[u8]) -> u32 {
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u32;
        hash = hash.wrapping_mul(0x0100_0193);
        i += 1;
    }
    hash
}

const FNV_OFFSET: u32 = 0x811c_9dc5;

fn get<const N: usize>(b: &[u8], at: usize) -> [u8; N] {
    let mut out = [0; N];
    out.copy_from_slice(&b[at..at + N]);
    out
}

/// The total size of a record with `len` payload bytes.
pub const fn record_len(len: u32) -> usize {
    HEADER_LEN + len as usize
}

/// Writes the record for `h` into `out` (exactly `record_len(h.len)`
/// bytes; the caller sizes it).
pub fn encode(out: &mut [u8], h: &Header) {
    out[0..4].copy_from_slice(&MAGIC.to_le_bytes());
    out[4..6].copy_from_slice(&h.cpu.to_le_bytes());
    out[6] = h.ctx as u8;
    out[7] = 0;
    out[8..16].copy_from_slice(&h.seq.to_le_bytes());
    out[16..24].copy_from_slice(&h.timestamp_ns.to_le_bytes());
    out[24..28].copy_from_slice(&h.len.to_le_bytes());
    for (i, b) in out[HEADER_LEN..record_len(h.len)].iter_mut().enumerate() {
        *b = h.seq.wrapping_add(i as u64) as u8;
    }
    let sum = fnv1a(
        fnv1a(FNV_OFFSET, &out[0..28]),
        &out[HEADER_LEN..record_len(h.len)],
    );
    out[28..32].copy_from_slice(&sum.to_le_bytes());
}

/// Reads and verifies the record at the start of `buf`; returns its header
/// and its total length.
pub fn decode(buf: &[u8]) -> Result<(Header, usize), DecodeError> {
    if buf.len() < 4 {
        return Err(DecodeError::Truncated);
    }
    if u32::from_le_bytes(get(buf, 0)) != MAGIC {
        return Err(DecodeError::BadMagic);
    }
    if buf.len() < HEADER_LEN {
        return Err(DecodeError::Truncated);
    }
    let ctx = Context::from_u8(buf[6]).ok_or(DecodeError::BadHeader)?;
    if buf[7] != 0 {
        return Err(DecodeError::BadHeader);
    }
    let h = Header {
        cpu: u16::from_le_bytes(get(buf, 4)),
        ctx,
        seq: u64::from_le_bytes(get(buf, 8)),
        timestamp_ns: u64::from_le_bytes(get(buf, 16)),
        len: u32::from_le_bytes(get(buf, 24)),
    };
    let total = HEADER_LEN
        .checked_add(h.len as usize)
        .ok_or(DecodeError::BadHeader)?;
    if buf.len() < total {
        return Err(DecodeError::Truncated);
    }
    let sum = fnv1a(fnv1a(FNV_OFFSET, &buf[0..28]), &buf[HEADER_LEN..total]);
    if sum != u32::from_le_bytes(get(buf, 28)) {
        return Err(DecodeError::BadChecksum);
    }
    Ok((h, total))
}
