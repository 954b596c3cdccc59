// SPDX-License-Identifier: GPL-2.0

//! `rrelay`: drain and inspect relay channels.

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use rustix::event::{poll, PollFd, PollFlags, Timespec};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{ErrorKind, Read, Write};
use std::path::{Path, PathBuf};

mod decode;
mod files;
mod record;
#[path = "../../samples/record_format.rs"]
mod record_format;
mod stats;
mod uapi;

/// Drain and inspect relay channels: rrelay's, and the kernel's own relay.
#[derive(Parser, Debug)]
#[command(name = "rrelay", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Record a channel: drain every CPU's buffer into an output directory,
    /// one file per CPU, until the duration or byte limit, SIGINT or SIGTERM,
    /// or the channel's close; then drain what is left and print a summary.
    Record {
        /// The directory holding the channel's buffer files.
        #[arg(short, long)]
        dir: PathBuf,
        /// The channel's base file name (the files are <base><cpu>).
        #[arg(short, long)]
        base: String,
        /// Where to write <base><cpu> files (created if missing).
        #[arg(short, long, default_value = "rrelay.out")]
        output: PathBuf,
        /// How to take the data: splice (default), mmap (rrelay only), or
        /// read (works with any relay file).
        #[arg(short, long, value_enum, default_value_t = record::Mode::Splice)]
        mode: record::Mode,
        /// Stop after this many seconds.
        #[arg(long, value_name = "SECS")]
        duration: Option<f64>,
        /// Stop after this many bytes in all.
        #[arg(long)]
        bytes: Option<u64>,
        /// Wait up to SECS for the channel's files to appear (start the
        /// recorder before the producer).
        #[arg(long, value_name = "SECS", default_value_t = 0.0)]
        wait: f64,
        /// The channel's name in rrelay's statistics (default: the base name).
        #[arg(long, value_name = "NAME")]
        stats: Option<String>,
        /// Where debugfs is mounted.
        #[arg(long, default_value = "/sys/kernel/debug", value_name = "DIR")]
        debugfs: PathBuf,
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Decode the sample producer's records: merged across CPUs by time,
    /// checksums and per-(CPU, context) sequence numbers verified.
    Decode {
        /// Recorded files, or directories of them (one file per CPU).
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
        /// Print only the first N records (0: only the summary).
        #[arg(long, value_name = "N")]
        limit: Option<usize>,
        /// The producer's counts file (`cpu context written [dropped]`
        /// lines), to account for every record written.
        #[arg(long, value_name = "FILE")]
        expect: Option<PathBuf>,
        /// Fail unless every record written and not dropped was received
        /// (no-overwrite mode); needs --expect.
        #[arg(long)]
        exact: bool,
        /// Fail unless the records neither received nor dropped add up to
        /// exactly N (overwrite mode: the kernel's lost sub-buffers times
        /// the records each held); needs --expect.
        #[arg(long, value_name = "N")]
        lost_records: Option<u64>,
        /// Succeed even when no record decodes.
        #[arg(long)]
        allow_empty: bool,
        /// Print the summary as JSON (and no records).
        #[arg(long)]
        json: bool,
    },
    /// Show rrelay's statistics (bytes, drops, losses) for one or all channels.
    Stat {
        /// The channel's name (its base file name); all channels when omitted.
        channel: Option<String>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// Refresh every SECS seconds until interrupted.
        #[arg(long, value_name = "SECS")]
        watch: Option<f64>,
        /// Where debugfs is mounted.
        #[arg(long, default_value = "/sys/kernel/debug", value_name = "DIR")]
        debugfs: PathBuf,
    },
    /// Stream a channel's data to stdout, CPU by CPU, as it arrives.
    Cat {
        /// The directory holding the channel's buffer files.
        #[arg(short, long)]
        dir: PathBuf,
        /// The channel's base file name (the files are <base><cpu>).
        #[arg(short, long)]
        base: String,
        /// Only this CPU's buffer.
        #[arg(long)]
        cpu: Option<u32>,
        /// Keep streaming until the channel is closed (or interrupted).
        #[arg(short, long)]
        follow: bool,
    },
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.cmd {
        Cmd::Stat {
            channel,
            json,
            watch,
            debugfs,
        } => stat(&debugfs, channel.as_deref(), json, watch),
        Cmd::Cat {
            dir,
            base,
            cpu,
            follow,
        } => cat(&dir, &base, cpu, follow),
        Cmd::Record {
            dir,
            base,
            output,
            mode,
            duration,
            bytes,
            stats,
            debugfs,
            json,
            wait,
        } => run_record(
            &record::Options {
                dir: &dir,
                stats_dir: Some(
                    debugfs
                        .join("rrelay")
                        .join(stats.as_deref().unwrap_or(&base)),
                )
                .filter(|d| d.is_dir()),
                base: &base,
                out: &output,
                mode,
                duration: duration.map(std::time::Duration::from_secs_f64),
                bytes,
                progress: !json && record::stderr_is_tty(),
                wait: std::time::Duration::from_secs_f64(wait.max(0.0)),
            },
            json,
        ),
        Cmd::Decode {
            inputs,
            limit,
            expect,
            exact,
            lost_records,
            allow_empty,
            json,
        } => run_decode(
            &inputs,
            limit,
            expect.as_deref(),
            &decode::Demands {
                exact,
                lost_records,
                allow_empty,
            },
            json,
        ),
    };
    if let Err(e) = result {
        eprintln!("rrelay: {e:#}");
        std::process::exit(1);
    }
}

fn run_record(opt: &record::Options<'_>, json: bool) -> Result<()> {
    record::check_out(opt.out)?;
    let summary = record::record(opt)?;
    let mut out = std::io::stdout().lock();
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(&summary)?)?;
    } else {
        record::print_summary(&summary, &mut out)?;
    }
    Ok(())
}

fn run_decode(
    inputs: &[PathBuf],
    limit: Option<usize>,
    expect: Option<&Path>,
    demands: &decode::Demands,
    json: bool,
) -> Result<()> {
    if expect.is_none() && (demands.exact || demands.lost_records.is_some()) {
        anyhow::bail!("--exact and --lost-records need --expect");
    }
    let files = decode::inputs(inputs)?;
    let expect = expect.map(decode::read_expect).transpose()?;
    let mut out = std::io::stdout().lock();
    let limit = if json { Some(0) } else { limit };
    let report = decode::decode(&files, expect.as_ref(), limit, &mut out)?;
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?;
    } else {
        report.print(&mut out)?;
    }
    let problems = report.problems(demands);
    if !problems.is_empty() {
        anyhow::bail!("{}", problems.join("; "));
    }
    Ok(())
}

/// The `stats` files of one or all channels.
fn stats_files(debugfs: &Path, channel: Option<&str>) -> Result<Vec<PathBuf>> {
    let root = debugfs.join("rrelay");
    if !root.is_dir() {
        anyhow::bail!(
            "{}: not found (is debugfs mounted at {} and rrelay.ko loaded?)",
            root.display(),
            debugfs.display()
        );
    }
    if let Some(name) = channel {
        let path = root.join(name).join("stats");
        if !path.exists() {
            anyhow::bail!("{}: no such channel", root.join(name).display());
        }
        return Ok(vec![path]);
    }
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&root)
        .with_context(|| format!("{}", root.display()))?
        .filter_map(|e| e.ok().map(|e| e.path().join("stats")))
        .filter(|p| p.exists())
        .collect();
    paths.sort();
    Ok(paths)
}

fn stat(debugfs: &Path, channel: Option<&str>, json: bool, watch: Option<f64>) -> Result<()> {
    loop {
        let all = stats_files(debugfs, channel)?
            .iter()
            .map(|p| stats::read(p))
            .collect::<Result<Vec<_>>>()?;
        let mut out = std::io::stdout().lock();
        if json {
            writeln!(out, "{}", serde_json::to_string_pretty(&all)?)?;
        } else {
            print_table(&mut out, &all)?;
        }
        out.flush()?;
        match watch {
            Some(secs) => std::thread::sleep(std::time::Duration::from_secs_f64(secs.max(0.1))),
            None => return Ok(()),
        }
    }
}

fn print_table(out: &mut impl Write, all: &[stats::ChannelStats]) -> Result<()> {
    if all.is_empty() {
        writeln!(out, "no rrelay channels are open")?;
        return Ok(());
    }
    writeln!(
        out,
        "{:<16} {:>4} {:>9} {:>9} {:>12} {:>12} {:>8} {:>6} {:>8} {:>11} {:>6}",
        "channel",
        "cpu",
        "produced",
        "consumed",
        "written",
        "read",
        "full",
        "big",
        "dropped",
        "overwritten",
        "lost"
    )?;
    for c in all {
        let name = format!("{}{}", c.channel, if c.closed { " (closed)" } else { "" });
        for b in &c.buffers {
            writeln!(
                out,
                "{:<16} {:>4} {:>9} {:>9} {:>12} {:>12} {:>8} {:>6} {:>8} {:>11} {:>6}",
                name,
                b.cpu,
                b.produced,
                b.consumed,
                b.bytes_written,
                b.bytes_read,
                b.full,
                b.big,
                b.dropped,
                b.overwritten,
                b.lost
            )?;
        }
        writeln!(
            out,
            "{:<16} {:>4} {} x {} byte sub-buffers, {}, {} bytes written, {} dropped writes, {} sub-buffers lost",
            "",
            "",
            c.n_subbufs,
            c.subbuf_size,
            if c.global { "global buffer" } else { "per-CPU buffers" },
            c.total(|b| b.bytes_written),
            c.total(|b| b.dropped),
            c.total(|b| b.lost),
        )?;
    }
    Ok(())
}

/// Copies everything readable now from `file` to `out`; returns the byte
/// count. read() on a relay file never blocks: 0 means nothing more now.
fn drain(file: &mut File, path: &Path, out: &mut impl Write) -> Result<u64> {
    let mut buf = vec![0u8; 1 << 16];
    let mut total = 0;
    loop {
        let n = match file.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e).with_context(|| format!("{}", path.display())),
        };
        if n == 0 {
            return Ok(total);
        }
        out.write_all(&buf[..n]).context("stdout")?;
        total += n as u64;
    }
}

fn cat(dir: &Path, base: &str, only: Option<u32>, follow: bool) -> Result<()> {
    let mut open: BTreeMap<u32, (File, PathBuf)> = BTreeMap::new();
    let mut stdout = std::io::stdout().lock();
    loop {
        // Pick up buffers that appeared (a CPU came online).
        for (cpu, path) in files::scan_some(dir, base)? {
            if only.is_some_and(|c| c != cpu) || open.contains_key(&cpu) {
                continue;
            }
            let f = File::open(&path).with_context(|| format!("{}", path.display()))?;
            open.insert(cpu, (f, path));
        }
        if let Some(c) = only {
            if !open.contains_key(&c) {
                anyhow::bail!("{}: no buffer file {base}{c}", dir.display());
            }
        }
        for (f, path) in open.values_mut() {
            match drain(f, path, &mut stdout) {
                Err(e) if is_broken_pipe(&e) => return Ok(()),
                r => r?,
            };
        }
        stdout.flush().or_else(|e| {
            if e.kind() == ErrorKind::BrokenPipe {
                Ok(())
            } else {
                Err(e)
            }
        })?;
        if !follow {
            return Ok(());
        }
        // Wait for a finished sub-buffer anywhere, at most a quarter second
        // (a partly filled one raises no event but is read on the next pass).
        let mut fds: Vec<PollFd<'_>> = open
            .values()
            .map(|(f, _)| PollFd::new(f, PollFlags::IN))
            .collect();
        let quarter = Timespec {
            tv_sec: 0,
            tv_nsec: 250_000_000,
        };
        poll(&mut fds, Some(&quarter)).context("poll")?;
        let closed: Vec<bool> = fds
            .iter()
            .map(|p| p.revents().intersects(PollFlags::ERR | PollFlags::HUP))
            .collect();
        drop(fds);
        if !closed.is_empty() && closed.iter().all(|&c| c) {
            // The channel is closed: drain what is left and stop.
            for (f, path) in open.values_mut() {
                drain(f, path, &mut stdout)?;
            }
            stdout.flush().context("stdout")?;
            return Ok(());
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == ErrorKind::BrokenPipe)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_parse() {
        let c = Cli::try_parse_from([
            "rrelay", "cat", "-d", "/x", "-b", "trace", "--cpu", "2", "-f",
        ])
        .unwrap();
        assert!(matches!(
            c.cmd,
            Cmd::Cat {
                cpu: Some(2),
                follow: true,
                ..
            }
        ));
        let s = Cli::try_parse_from(["rrelay", "stat", "buf", "--json"]).unwrap();
        assert!(matches!(s.cmd, Cmd::Stat { json: true, .. }));
        assert!(Cli::try_parse_from(["rrelay", "cat", "-d", "/x"]).is_err());
        assert!(Cli::try_parse_from(["rrelay", "stat", "--watch", "soon"]).is_err());
    }

    #[test]
    fn cat_drains_every_cpu_file_in_order() {
        let dir = std::env::temp_dir().join(format!("rrelay-cat-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("t0"), b"zero ").unwrap();
        std::fs::write(dir.join("t1"), b"one").unwrap();
        let mut out = Vec::new();
        for (_, path) in files::scan_some(&dir, "t").unwrap() {
            let mut f = File::open(&path).unwrap();
            drain(&mut f, &path, &mut out).unwrap();
        }
        assert_eq!(out, b"zero one");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn missing_debugfs_is_a_clear_error() {
        let e = stats_files(Path::new("/nonexistent-debugfs"), None).unwrap_err();
        assert!(e.to_string().contains("is debugfs mounted"));
    }
}
