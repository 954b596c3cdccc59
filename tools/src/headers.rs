// SPDX-License-Identifier: GPL-2.0

//! Sub-buffer headers (`struct rrelay_subbuf_header` of the uapi header,
//! channels opened with `RRELAY_SUBBUF_HEADERS`): where a recording lost
//! data, and how much, from the data alone.
//!
//! Such a buffer's stream is header, `data_size` bytes, header, ... (its
//! readers get whole finished sub-buffers only). The header's counts run
//! from the channel's opening; the loss between two headers a reader got
//! is their difference, plus the sub-buffers whose numbers it never saw.

use crate::abi::{SubbufHeader, SUBBUF_GLOBAL};
use anyhow::{Context as _, Result};
use serde::Serialize;
use std::io::{Read, Seek, SeekFrom};
use std::mem::offset_of;
use std::path::Path;

pub(crate) use crate::abi::SUBBUF_MAGIC as MAGIC;
/// `sizeof(struct rrelay_subbuf_header)`.
pub const SIZE: usize = size_of::<SubbufHeader>();

/// One sub-buffer's header.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Header {
    pub cpu: u32,
    pub global: bool,
    pub data_size: u32,
    pub seq: u64,
    pub time_begin: u64,
    pub time_end: u64,
    pub dropped: u64,
    pub too_big: u64,
    pub overwritten: u64,
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

/// The header at the start of `b`, if there is one.
pub fn parse(b: &[u8]) -> Option<Header> {
    // The fields where the shared definition puts them, little-endian
    // whatever the machine reading the file.
    macro_rules! at {
        ($read:ident, $f:ident) => {
            $read(b, offset_of!(SubbufHeader, $f))
        };
    }
    if b.len() < SIZE
        || at!(u32_at, magic) != MAGIC
        || usize::from(at!(u16_at, header_size)) != SIZE
    {
        return None;
    }
    Some(Header {
        global: at!(u16_at, flags) & SUBBUF_GLOBAL != 0,
        cpu: at!(u32_at, cpu),
        data_size: at!(u32_at, data_size),
        seq: at!(u64_at, seq),
        time_begin: at!(u64_at, time_begin),
        time_end: at!(u64_at, time_end),
        dropped: at!(u64_at, dropped),
        too_big: at!(u64_at, too_big),
        overwritten: at!(u64_at, overwritten),
    })
}

/// Loss a reader learns at one header: what happened since the header
/// before it (or since the channel opened).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Loss {
    /// The sub-buffer whose header tells.
    pub seq: u64,
    /// When it started (nanoseconds, CLOCK_MONOTONIC).
    pub time_ns: u64,
    /// Sub-buffers before it that the reader never got.
    pub subbufs_lost: u64,
    /// Records dropped, too big, sub-buffers overwritten: since the last.
    pub dropped: u64,
    pub too_big: u64,
    pub overwritten: u64,
}

/// What one buffer's headers say.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct BufferLoss {
    pub file: String,
    pub cpu: u32,
    pub global: bool,
    /// Sub-buffers received (headers seen).
    pub subbufs: u64,
    pub first_seq: u64,
    pub last_seq: u64,
    /// Sub-buffer numbers from 0 to the last never received.
    pub subbufs_lost: u64,
    /// The last header's counts: records dropped, refused as too big, and
    /// sub-buffers overwritten since the channel opened.
    pub dropped: u64,
    pub too_big: u64,
    pub overwritten: u64,
    /// Headers out of order (a sequence number not above the last).
    pub out_of_order: u64,
    /// Every header that reports loss.
    pub losses: Vec<Loss>,
}

impl BufferLoss {
    pub fn new(file: &str) -> Self {
        BufferLoss {
            file: file.to_string(),
            ..Self::default()
        }
    }

    /// Takes the next header of the stream.
    pub fn push(&mut self, h: &Header) {
        let (next_seq, before) = if self.subbufs == 0 {
            self.first_seq = h.seq;
            (0, Header::default())
        } else {
            (
                self.last_seq + 1,
                Header {
                    dropped: self.dropped,
                    too_big: self.too_big,
                    overwritten: self.overwritten,
                    ..Header::default()
                },
            )
        };
        if h.seq < next_seq {
            self.out_of_order += 1;
            return;
        }
        let loss = Loss {
            seq: h.seq,
            time_ns: h.time_begin,
            subbufs_lost: h.seq - next_seq,
            dropped: h.dropped.saturating_sub(before.dropped),
            too_big: h.too_big.saturating_sub(before.too_big),
            overwritten: h.overwritten.saturating_sub(before.overwritten),
        };
        if loss.subbufs_lost + loss.dropped + loss.too_big + loss.overwritten > 0 {
            self.losses.push(loss);
        }
        self.subbufs += 1;
        self.cpu = h.cpu;
        self.global = h.global;
        self.last_seq = h.seq;
        self.subbufs_lost += loss.subbufs_lost;
        self.dropped = h.dropped;
        self.too_big = h.too_big;
        self.overwritten = h.overwritten;
    }

    /// One line, then one per loss (the first `limit`).
    pub fn print(&self, limit: usize, out: &mut impl std::io::Write) -> std::io::Result<()> {
        writeln!(
            out,
            "{}: cpu {}{}: {} sub-buffers (numbers {}..={}), {} lost; {} records dropped, {} too big, {} sub-buffers overwritten",
            self.file,
            self.cpu,
            if self.global { " (global)" } else { "" },
            self.subbufs,
            self.first_seq,
            self.last_seq,
            self.subbufs_lost,
            self.dropped,
            self.too_big,
            self.overwritten,
        )?;
        for l in self.losses.iter().take(limit) {
            writeln!(
                out,
                "  before sub-buffer {} [{:>6}.{:09}]: {} sub-buffers lost, {} records dropped, {} too big, {} overwritten",
                l.seq,
                l.time_ns / 1_000_000_000,
                l.time_ns % 1_000_000_000,
                l.subbufs_lost,
                l.dropped,
                l.too_big,
                l.overwritten
            )?;
        }
        if self.losses.len() > limit {
            writeln!(out, "  ... {} more", self.losses.len() - limit)?;
        }
        Ok(())
    }
}

/// Follows the header chain of a recorded file (reading the headers only);
/// `None` when the file does not start with a header.
pub fn scan_file(path: &Path) -> Result<Option<BufferLoss>> {
    let ctx = || path.display().to_string();
    let mut f = std::fs::File::open(path).with_context(ctx)?;
    let len = f.metadata().with_context(ctx)?.len();
    let mut b = [0u8; SIZE];
    let mut at = 0;
    let mut loss = BufferLoss::new(&ctx());
    while at + SIZE as u64 <= len {
        f.seek(SeekFrom::Start(at)).with_context(ctx)?;
        f.read_exact(&mut b).with_context(ctx)?;
        let Some(h) = parse(&b) else {
            if at == 0 {
                return Ok(None);
            }
            anyhow::bail!("{}: no sub-buffer header at byte {at}", ctx());
        };
        loss.push(&h);
        at += (SIZE as u64) + u64::from(h.data_size);
    }
    Ok((at > 0).then_some(loss))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(h: &Header) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend(MAGIC.to_le_bytes());
        b.extend((SIZE as u16).to_le_bytes());
        b.extend(u16::from(h.global).to_le_bytes());
        b.extend(h.cpu.to_le_bytes());
        b.extend(h.data_size.to_le_bytes());
        for v in [
            h.seq,
            h.time_begin,
            h.time_end,
            h.dropped,
            h.too_big,
            h.overwritten,
        ] {
            b.extend(v.to_le_bytes());
        }
        b
    }

    #[test]
    fn parses_what_it_is_given_and_nothing_else() {
        let h = Header {
            cpu: 3,
            global: true,
            data_size: 100,
            seq: 7,
            time_begin: 1,
            time_end: 2,
            dropped: 4,
            too_big: 5,
            overwritten: 6,
        };
        assert_eq!(parse(&bytes(&h)), Some(h));
        let mut bad = bytes(&h);
        bad[0] ^= 1;
        assert_eq!(parse(&bad), None);
        assert_eq!(parse(&bytes(&h)[..SIZE - 1]), None);
    }

    #[test]
    fn loss_is_the_difference_between_the_headers_received() {
        let mut l = BufferLoss::new("x");
        let h = |seq, dropped, overwritten| Header {
            seq,
            dropped,
            overwritten,
            ..Header::default()
        };
        l.push(&h(0, 0, 0));
        l.push(&h(1, 0, 0));
        // Sub-buffers 2..=4 overwritten unread; 9 records dropped meanwhile.
        l.push(&h(5, 9, 3));
        l.push(&h(6, 9, 3));
        l.push(&h(6, 9, 3));
        assert_eq!(l.subbufs, 4);
        assert_eq!(l.subbufs_lost, 3);
        assert_eq!((l.dropped, l.overwritten, l.out_of_order), (9, 3, 1));
        assert_eq!(
            l.losses,
            vec![Loss {
                seq: 5,
                time_ns: 0,
                subbufs_lost: 3,
                dropped: 9,
                too_big: 0,
                overwritten: 3
            }]
        );
    }

    #[test]
    fn a_late_first_header_counts_the_sub_buffers_before_it() {
        let mut l = BufferLoss::new("x");
        l.push(&Header {
            seq: 2,
            ..Header::default()
        });
        assert_eq!((l.subbufs_lost, l.first_seq), (2, 2));
    }
}
