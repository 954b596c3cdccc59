// SPDX-License-Identifier: GPL-2.0

//! `rrelay decode`: the sample producer's records (format in
//! `samples/record_format.rs`), verified and merged across CPUs.
//!
//! Each input is one CPU's stream of records. A record that fails its
//! checksum, or bytes that are not a record, are counted as corrupt and
//! skipped (decoding resumes at the next magic number). Sequence numbers
//! are checked per (CPU, context) stream: gaps after the stream's first
//! record seen are reported as missing records (a recording that starts
//! late misses nothing); with `--expect` the producer's written counts are
//! compared too.
//!
//! Exact accounting: the producer's counts file says, per stream, how many
//! records were written and how many of those rrelay refused (dropped).
//! Every other record was either received or lost with an overwritten
//! sub-buffer: `lost = written - dropped - received`. `--exact` demands
//! `lost == 0` in every stream (no-overwrite mode), `--lost-records N`
//! demands that the lost records add up to exactly `N` (overwrite mode,
//! where N comes from the kernel's count of lost sub-buffers).

use crate::headers::{self, BufferLoss};
use crate::record_format::{self, Context, DecodeError, Header, CONTEXTS, MAGIC};
use anyhow::{bail, Context as _, Result};
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// The input name that is stdin.
const STDIN: &str = "-";

/// One stream's verdict.
#[derive(Debug, Default, Clone, Serialize, PartialEq, Eq)]
pub struct Stream {
    pub cpu: u16,
    pub context: &'static str,
    pub received: u64,
    /// The lowest sequence number seen.
    pub first: Option<u64>,
    /// The highest sequence number seen.
    pub last: Option<u64>,
    /// Numbers between `first` and `last` never seen.
    pub missing: u64,
    pub duplicates: u64,
    pub out_of_order: u64,
    /// From `--expect`: what the producer says it wrote.
    pub written: Option<u64>,
    /// From `--expect`: how many of those rrelay refused.
    pub dropped: Option<u64>,
}

impl Stream {
    /// Records neither received nor dropped: `written - dropped -
    /// received`, when the producer's counts are known (negative when more
    /// distinct records arrived than could have been kept).
    pub fn lost(&self) -> Option<i128> {
        let w = self.written?;
        let unique = i128::from(self.received) - i128::from(self.duplicates);
        Some(i128::from(w) - i128::from(self.dropped.unwrap_or(0)) - unique)
    }
}

/// The producer's account of one stream.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Expected {
    pub written: u64,
    pub dropped: u64,
}

/// What the accounting must come to, beyond no corruption, duplicates or
/// reordering.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Demands {
    /// Every record not dropped was received.
    pub exact: bool,
    /// The records lost (neither received nor dropped) add up to this.
    pub lost_records: Option<u64>,
    /// At least one record must decode (an empty recording proves nothing).
    pub allow_empty: bool,
    /// The sub-buffer headers say this many sub-buffers were lost.
    pub lost_subbufs: Option<u64>,
    /// The last sub-buffer headers say this many records were dropped
    /// (too big included), summed over the buffers.
    pub dropped_records: Option<u64>,
}

/// What decoding found.
#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub records: u64,
    pub corrupt: u64,
    pub truncated_bytes: u64,
    pub streams: Vec<Stream>,
    /// Per file with sub-buffer headers: the loss they report.
    pub buffers: Vec<BufferLoss>,
}

/// A decoded record and the input file (CPU buffer) it came from.
struct Rec {
    h: Header,
    file: usize,
}

/// Decodes one file's bytes: records, framed by sub-buffer headers when
/// the channel has them (the headers go to `loss`).
fn decode_file(
    data: &[u8],
    file: usize,
    recs: &mut Vec<Rec>,
    report: &mut Report,
    loss: &mut BufferLoss,
) {
    if headers::parse(data).is_none() {
        decode_bytes(data, file, recs, report);
        return;
    }
    let mut at = 0;
    while at < data.len() {
        let Some(h) = headers::parse(&data[at..]) else {
            // Framing lost: count the rest as corrupt, as records would be.
            report.corrupt += 1;
            return;
        };
        loss.push(&h);
        let end = (at + headers::SIZE + h.data_size as usize).min(data.len());
        decode_bytes(&data[at + headers::SIZE..end], file, recs, report);
        at = end;
    }
}

/// Decodes records; corrupt stretches are skipped and counted.
fn decode_bytes(data: &[u8], file: usize, recs: &mut Vec<Rec>, report: &mut Report) {
    let mut at = 0;
    while at < data.len() {
        match record_format::decode(&data[at..]) {
            Ok((h, len)) => {
                recs.push(Rec { h, file });
                at += len;
            }
            Err(DecodeError::Truncated) => {
                report.truncated_bytes += (data.len() - at) as u64;
                break;
            }
            Err(_) => {
                report.corrupt += 1;
                // Resume at the next magic number.
                let magic = MAGIC.to_le_bytes();
                at = data[at + 1..]
                    .windows(4)
                    .position(|w| w == magic)
                    .map_or(data.len(), |p| at + 1 + p);
            }
        }
    }
}

/// The files to decode: the given files, or every regular file of a
/// directory; `-` is stdin.
pub fn inputs(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for p in paths {
        if p == Path::new(STDIN) {
            files.push(p.clone());
        } else if p.is_dir() {
            let mut in_dir: Vec<PathBuf> = std::fs::read_dir(p)
                .with_context(|| p.display().to_string())?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.is_file())
                .collect();
            in_dir.sort();
            files.extend(in_dir);
        } else if p.exists() {
            files.push(p.clone());
        } else {
            bail!("{}: no such file or directory", p.display());
        }
    }
    if files.is_empty() {
        bail!("nothing to decode");
    }
    Ok(files)
}

/// Reads the producer's `counts`: `cpu context written [dropped]` lines.
pub fn read_expect(path: &Path) -> Result<BTreeMap<(u16, Context), Expected>> {
    let text = std::fs::read_to_string(path).with_context(|| path.display().to_string())?;
    let mut m = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let w: Vec<&str> = line.split_whitespace().collect();
        let bad = || {
            anyhow::anyhow!(
                "{}: line {}: expected `cpu context written [dropped]`",
                path.display(),
                i + 1
            )
        };
        let (cpu, ctx, n, dropped) = match w[..] {
            [cpu, ctx, n] => (cpu, ctx, n, "0"),
            [cpu, ctx, n, d] => (cpu, ctx, n, d),
            _ => return Err(bad()),
        };
        let ctx = CONTEXTS
            .into_iter()
            .find(|c| c.name() == ctx)
            .ok_or_else(bad)?;
        let e = Expected {
            written: n.parse().map_err(|_| bad())?,
            dropped: dropped.parse().map_err(|_| bad())?,
        };
        if e.dropped > e.written {
            return Err(bad());
        }
        m.insert((cpu.parse().map_err(|_| bad())?, ctx), e);
    }
    if m.is_empty() {
        bail!("{}: no counts in it", path.display());
    }
    Ok(m)
}

/// Decodes `files`; prints the first `limit` records merged by time to
/// `out` and returns the report.
pub fn decode(
    files: &[PathBuf],
    expect: Option<&BTreeMap<(u16, Context), Expected>>,
    limit: Option<usize>,
    out: &mut impl Write,
) -> Result<Report> {
    let mut report = Report::default();
    let mut recs = Vec::new();
    for (i, f) in files.iter().enumerate() {
        let data = if f == Path::new(STDIN) {
            let mut data = Vec::new();
            std::io::stdin().read_to_end(&mut data).context("stdin")?;
            data
        } else {
            std::fs::read(f).with_context(|| f.display().to_string())?
        };
        let mut loss = BufferLoss::new(&f.display().to_string());
        decode_file(&data, i, &mut recs, &mut report, &mut loss);
        if loss.subbufs > 0 {
            report.buffers.push(loss);
        }
    }
    report.records = recs.len() as u64;

    // Streams, in the order each wrote. A stream whose CPU went offline
    // continues in another CPU's buffer: order is judged per buffer.
    let mut seen: BTreeMap<(u16, Context), Vec<u64>> = BTreeMap::new();
    let mut per_file: BTreeMap<(u16, Context, usize), u64> = BTreeMap::new();
    let mut out_of_order: BTreeMap<(u16, Context), u64> = BTreeMap::new();
    for r in &recs {
        let key = (r.h.cpu, r.h.ctx);
        seen.entry(key).or_default().push(r.h.seq);
        if let Some(prev) = per_file.insert((r.h.cpu, r.h.ctx, r.file), r.h.seq) {
            if r.h.seq <= prev {
                *out_of_order.entry(key).or_default() += 1;
            }
        }
    }
    if let Some(e) = expect {
        for k in e.keys() {
            seen.entry(*k).or_default();
        }
    }
    for ((cpu, ctx), seqs) in &seen {
        let mut s = Stream {
            cpu: *cpu,
            context: ctx.name(),
            received: seqs.len() as u64,
            written: expect.map(|e| e.get(&(*cpu, *ctx)).map_or(0, |x| x.written)),
            dropped: expect.map(|e| e.get(&(*cpu, *ctx)).map_or(0, |x| x.dropped)),
            ..Stream::default()
        };
        s.out_of_order = out_of_order.get(&(*cpu, *ctx)).copied().unwrap_or(0);
        let mut sorted = seqs.clone();
        sorted.sort_unstable();
        let before = sorted.len();
        sorted.dedup();
        s.duplicates = (before - sorted.len()) as u64;
        s.first = sorted.first().copied();
        s.last = sorted.last().copied();
        s.missing = match (s.first, s.last) {
            (Some(f), Some(l)) => l - f + 1 - sorted.len() as u64,
            _ => 0,
        };
        report.streams.push(s);
    }

    recs.sort_by_key(|r| (r.h.timestamp_ns, r.h.cpu, r.h.ctx, r.h.seq));
    for r in recs.iter().take(limit.unwrap_or(usize::MAX)) {
        let t = r.h.timestamp_ns;
        writeln!(
            out,
            "[{:>6}.{:09}] cpu {:<3} {:<8} seq {:<10} {} bytes",
            t / 1_000_000_000,
            t % 1_000_000_000,
            r.h.cpu,
            r.h.ctx.name(),
            r.h.seq,
            record_format::record_len(r.h.len)
        )?;
    }
    Ok(report)
}

impl Report {
    /// Whether everything is accounted for: no corruption, no duplicates or
    /// reordering, no record beyond what was written, and what `demands`
    /// asks of the accounting.
    pub fn problems(&self, demands: &Demands) -> Vec<String> {
        let mut p = Vec::new();
        if self.records == 0 && !demands.allow_empty {
            p.push(
                "no records decoded: decode reads the sample producers' records (samples/record_format.rs), which this is not"
                    .to_string(),
            );
        }
        if self.corrupt > 0 {
            p.push(format!("{} corrupt records", self.corrupt));
        }
        for s in &self.streams {
            let name = format!("cpu {} {}", s.cpu, s.context);
            if s.duplicates > 0 || s.out_of_order > 0 {
                p.push(format!(
                    "{name}: {} duplicates, {} out of order",
                    s.duplicates, s.out_of_order
                ));
            }
            if let Some(w) = s.written {
                if s.last.map_or(0, |l| l + 1) > w {
                    p.push(format!("{name}: sequence numbers beyond the {w} written"));
                }
            }
            match s.lost() {
                Some(l) if l < 0 => p.push(format!(
                    "{name}: {} received, more than the {} written less {} dropped",
                    s.received - s.duplicates,
                    s.written.unwrap_or(0),
                    s.dropped.unwrap_or(0)
                )),
                Some(l) if l > 0 && demands.exact => {
                    p.push(format!("{name}: {l} records neither received nor dropped"))
                }
                _ => {}
            }
        }
        if (demands.exact || demands.lost_records.is_some())
            && self.streams.iter().any(|s| s.written.is_none())
        {
            p.push("exact accounting needs the producer's counts (--expect)".to_string());
        }
        if (demands.lost_subbufs.is_some() || demands.dropped_records.is_some())
            && self.buffers.is_empty()
        {
            p.push("no sub-buffer headers: the channel was not opened with them".to_string());
        }
        let headers_say = |f: fn(&BufferLoss) -> u64| self.buffers.iter().map(f).sum::<u64>();
        if let Some(want) = demands.lost_subbufs {
            let got = headers_say(|b| b.subbufs_lost);
            if got != want {
                p.push(format!(
                    "the sub-buffer headers say {got} sub-buffers lost, the kernel's count says {want}"
                ));
            }
        }
        if let Some(want) = demands.dropped_records {
            let got = headers_say(|b| b.dropped + b.too_big);
            if got != want {
                p.push(format!(
                    "the sub-buffer headers say {got} records dropped, the kernel's count says {want}"
                ));
            }
        }
        if self.buffers.iter().any(|b| b.out_of_order > 0) {
            p.push("sub-buffer headers out of order".to_string());
        }
        if let Some(want) = demands.lost_records {
            let lost: i128 = self.streams.iter().filter_map(Stream::lost).sum();
            if lost != i128::from(want) {
                p.push(format!(
                    "{lost} records lost (neither received nor dropped), the kernel's count says {want}"
                ));
            }
        }
        p
    }

    pub fn print(&self, out: &mut impl Write) -> Result<()> {
        writeln!(
            out,
            "{} records, {} corrupt, {} bytes truncated at the end",
            self.records, self.corrupt, self.truncated_bytes
        )?;
        writeln!(
            out,
            "{:>4} {:<8} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10}",
            "cpu", "context", "received", "missing", "written", "unseen", "dropped", "lost"
        )?;
        let dash = || "-".to_string();
        for s in &self.streams {
            let written = s.written.map_or_else(dash, |w| w.to_string());
            let unseen = s
                .written
                .map_or_else(dash, |w| (w - s.received.min(w)).to_string());
            let dropped = s.dropped.map_or_else(dash, |d| d.to_string());
            let lost = s.lost().map_or_else(dash, |l| l.to_string());
            writeln!(
                out,
                "{:>4} {:<8} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10}",
                s.cpu, s.context, s.received, s.missing, written, unseen, dropped, lost
            )?;
        }
        if !self.buffers.is_empty() {
            writeln!(out, "sub-buffer headers:")?;
        }
        for b in &self.buffers {
            b.print(10, out)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(cpu: u16, ctx: Context, seq: u64, ts: u64, len: u32) -> Vec<u8> {
        let mut v = vec![0u8; record_format::record_len(len)];
        record_format::encode(
            &mut v,
            &Header {
                cpu,
                ctx,
                seq,
                timestamp_ns: ts,
                len,
            },
        );
        v
    }

    fn exp(written: u64, dropped: u64) -> Expected {
        Expected { written, dropped }
    }

    /// Decodes `streams` (one file each) against `expect`.
    fn account(
        name: &str,
        streams: &[Vec<u8>],
        expect: &BTreeMap<(u16, Context), Expected>,
    ) -> Report {
        let dir = std::env::temp_dir().join(format!("rrelay-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for (i, data) in streams.iter().enumerate() {
            std::fs::write(dir.join(format!("t{i}")), data).unwrap();
        }
        let files = inputs(std::slice::from_ref(&dir)).unwrap();
        let report = decode(&files, Some(expect), Some(0), &mut Vec::new()).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        report
    }

    fn seqs(cpu: u16, ctx: Context, seqs: &[u64]) -> Vec<u8> {
        seqs.iter()
            .map(|&s| rec(cpu, ctx, s, s, 4))
            .collect::<Vec<_>>()
            .concat()
    }

    #[test]
    fn exact_accounting_counts_drops_per_stream() {
        let expect = BTreeMap::from([
            ((0, Context::Process), exp(4, 1)),
            ((0, Context::Hardirq), exp(2, 0)),
        ]);
        let exact = Demands {
            exact: true,
            ..Demands::default()
        };
        // Seq 2 dropped: 0, 1, 3 received; both hardirq records received.
        let good = [
            seqs(0, Context::Process, &[0, 1, 3]),
            seqs(0, Context::Hardirq, &[0, 1]),
        ];
        assert_eq!(
            account("exact-ok", &good, &expect).problems(&exact),
            Vec::<String>::new()
        );
        // A drop in one stream cannot cover a loss in another.
        let shifted = [
            seqs(0, Context::Process, &[0, 1, 2, 3]),
            seqs(0, Context::Hardirq, &[0]),
        ];
        let p = account("exact-shift", &shifted, &expect).problems(&exact);
        assert_eq!(p.len(), 2, "{p:?}");
        // A duplicate cannot stand in for a lost record.
        let dup = [
            seqs(0, Context::Process, &[0, 1, 1]),
            seqs(0, Context::Hardirq, &[0, 1]),
        ];
        let p = account("exact-dup", &dup, &expect).problems(&exact);
        assert!(p.iter().any(|m| m.contains("1 records neither")), "{p:?}");
        assert!(p.iter().any(|m| m.contains("duplicates")), "{p:?}");
        // A stream the producer never mentioned.
        let stray = [
            seqs(0, Context::Process, &[0, 1, 3]),
            seqs(0, Context::Hardirq, &[0, 1]),
            seqs(1, Context::Softirq, &[0]),
        ];
        let p = account("exact-stray", &stray, &expect).problems(&exact);
        assert!(p.iter().any(|m| m.contains("cpu 1 softirq")), "{p:?}");
    }

    #[test]
    fn lost_records_must_match_the_kernel() {
        let expect = BTreeMap::from([
            ((0, Context::Process), exp(10, 0)),
            ((0, Context::Softirq), exp(4, 0)),
        ]);
        // Records 2..6 of process and 1..3 of softirq went with two lost
        // sub-buffers of three records each.
        let data = [
            seqs(0, Context::Process, &[0, 1, 6, 7, 8, 9]),
            seqs(0, Context::Softirq, &[0, 3]),
        ];
        let report = account("lost", &data, &expect);
        let lost = |n| Demands {
            lost_records: Some(n),
            ..Demands::default()
        };
        assert!(report.problems(&lost(6)).is_empty());
        assert_eq!(report.problems(&lost(5)).len(), 1);
        assert_eq!(report.problems(&lost(7)).len(), 1);
        // Missing in the middle counts as well as missing at the end.
        let tail = [
            seqs(0, Context::Process, &[0, 1, 2, 3, 4, 5]),
            seqs(0, Context::Softirq, &[0, 1, 2, 3]),
        ];
        assert_eq!(
            account("lost-tail", &tail, &expect)
                .problems(&lost(0))
                .len(),
            1
        );
    }

    #[test]
    fn an_empty_recording_is_a_problem() {
        let report = Report::default();
        let p = report.problems(&Demands::default());
        assert_eq!(p.len(), 1);
        assert!(p[0].starts_with("no records decoded: "), "{p:?}");
        assert!(p[0].contains("samples/record_format.rs"), "{p:?}");
        let allow = Demands {
            allow_empty: true,
            ..Demands::default()
        };
        assert!(report.problems(&allow).is_empty());
    }

    fn run(data: &[u8]) -> (Vec<Rec>, Report) {
        let (mut recs, mut report) = (Vec::new(), Report::default());
        decode_bytes(data, 0, &mut recs, &mut report);
        (recs, report)
    }

    #[test]
    fn round_trip() {
        let data = [
            rec(1, Context::Hardirq, 7, 100, 40),
            rec(1, Context::Process, 0, 90, 0),
        ]
        .concat();
        let (recs, report) = run(&data);
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[0].h.seq, 7);
        assert_eq!(recs[0].h.ctx, Context::Hardirq);
        assert_eq!(report.corrupt, 0);
    }

    #[test]
    fn corruption_is_counted_and_skipped() {
        let mut bad = rec(0, Context::Softirq, 1, 5, 16);
        bad[40] ^= 0xff; // payload: checksum fails
        let data = [
            rec(0, Context::Softirq, 0, 4, 16),
            bad,
            rec(0, Context::Softirq, 2, 6, 16),
            b"junkjunk".to_vec(),
            rec(0, Context::Softirq, 3, 7, 16),
        ]
        .concat();
        let (recs, report) = run(&data);
        assert_eq!(recs.iter().map(|r| r.h.seq).collect::<Vec<_>>(), [0, 2, 3]);
        // One bad record, one stretch of junk.
        assert_eq!(report.corrupt, 2);
    }

    #[test]
    fn truncated_tail_is_reported() {
        let data = [
            rec(0, Context::Process, 0, 1, 8),
            rec(0, Context::Process, 1, 2, 8)[..20].to_vec(),
        ]
        .concat();
        let (recs, report) = run(&data);
        assert_eq!(recs.len(), 1);
        assert_eq!(report.truncated_bytes, 20);
    }

    #[test]
    fn gaps_duplicates_and_expectations() {
        let dir = std::env::temp_dir().join(format!("rrelay-decode-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let cpu0: Vec<u8> = [0, 1, 3, 3]
            .iter()
            .map(|&s| rec(0, Context::Process, s, s * 10, 4))
            .collect::<Vec<_>>()
            .concat();
        std::fs::write(dir.join("t0"), cpu0).unwrap();
        std::fs::write(dir.join("t1"), rec(1, Context::Hardirq, 0, 15, 4)).unwrap();
        let expect = BTreeMap::from([
            ((0, Context::Process), exp(5, 0)),
            ((1, Context::Hardirq), exp(1, 0)),
            ((1, Context::Softirq), exp(2, 0)),
        ]);
        let mut text = Vec::new();
        let files = inputs(std::slice::from_ref(&dir)).unwrap();
        let report = decode(&files, Some(&expect), Some(3), &mut text).unwrap();
        let text = String::from_utf8(text).unwrap();
        assert_eq!(text.lines().count(), 3);
        assert!(
            text.lines().nth(2).unwrap().contains("cpu 1"),
            "merged by time: {text}"
        );
        let p0 = &report.streams[0];
        assert_eq!(
            (p0.received, p0.missing, p0.duplicates, p0.last),
            (4, 1, 1, Some(3))
        );
        let soft = report
            .streams
            .iter()
            .find(|s| s.context == "softirq")
            .unwrap();
        assert_eq!((soft.received, soft.written), (0, Some(2)));
        assert_eq!(report.problems(&Demands::default()).len(), 1);
        // Lost: process 5 - 3 distinct = 2, softirq 2; not exact.
        assert_eq!(report.streams[0].lost(), Some(2));
        let exact = Demands {
            exact: true,
            ..Demands::default()
        };
        assert_eq!(report.problems(&exact).len(), 3);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_stream_may_move_between_cpu_files() {
        let dir = std::env::temp_dir().join(format!("rrelay-move-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // CPU 3's kthread ran on CPU 0 while CPU 3 was offline.
        let on3 = [
            rec(3, Context::Process, 0, 1, 4),
            rec(3, Context::Process, 3, 4, 4),
        ]
        .concat();
        let on0 = [
            rec(3, Context::Process, 1, 2, 4),
            rec(3, Context::Process, 2, 3, 4),
        ]
        .concat();
        std::fs::write(dir.join("t0"), on0).unwrap();
        std::fs::write(dir.join("t3"), on3).unwrap();
        let files = inputs(std::slice::from_ref(&dir)).unwrap();
        let report = decode(&files, None, Some(0), &mut Vec::new()).unwrap();
        assert_eq!(report.streams[0].out_of_order, 0);
        assert_eq!(report.streams[0].missing, 0);
        assert!(report.problems(&Demands::default()).is_empty());
        // Within one buffer, going backwards is a problem.
        std::fs::write(
            dir.join("t0"),
            [
                rec(3, Context::Process, 2, 3, 4),
                rec(3, Context::Process, 1, 2, 4),
            ]
            .concat(),
        )
        .unwrap();
        let report = decode(&files, None, Some(0), &mut Vec::new()).unwrap();
        assert_eq!(report.streams[0].out_of_order, 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_late_start_misses_nothing() {
        let expect = BTreeMap::from([((0, Context::Process), exp(10, 0))]);
        // Recording started after records 0..5 were gone: they are unseen
        // (and lost), not missing; the gap at 7 is missing.
        let late = [seqs(0, Context::Process, &[5, 6, 8, 9])];
        let report = account("late", &late, &expect);
        let s = &report.streams[0];
        assert_eq!((s.first, s.last, s.missing), (Some(5), Some(9), 1));
        assert_eq!(s.lost(), Some(6));
        let mut text = Vec::new();
        report.print(&mut text).unwrap();
        let text = String::from_utf8(text).unwrap();
        let row: Vec<&str> = text.lines().nth(2).unwrap().split_whitespace().collect();
        // cpu context received missing written unseen dropped lost
        assert_eq!(
            row,
            ["0", "process", "4", "1", "10", "6", "0", "6"],
            "{text}"
        );
    }

    #[test]
    fn expect_file_is_validated() {
        let f = std::env::temp_dir().join(format!("rrelay-expect-{}", std::process::id()));
        std::fs::write(&f, "0 process 10\n1 hardirq 3 1\n").unwrap();
        let e = read_expect(&f).unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!(e[&(1, Context::Hardirq)], exp(3, 1));
        assert_eq!(e[&(0, Context::Process)], exp(10, 0));
        for bad in [
            "0 sometimes 10\n",
            "0 process 10 11\n",
            "0 process\n",
            "0 process 1 0 0\n",
            "",
        ] {
            std::fs::write(&f, bad).unwrap();
            assert!(read_expect(&f).is_err(), "{bad:?} accepted");
        }
        std::fs::remove_file(&f).unwrap();
    }
}
