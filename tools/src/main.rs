// SPDX-License-Identifier: GPL-2.0

//! `rrelay`: drain and inspect relay channels.

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use rustix::event::{poll, PollFd, PollFlags, Timespec};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{ErrorKind, Read, Write};
use std::path::{Path, PathBuf};

// The module's user-space ABI and the layout list it is checked against,
// shared with the module (some of it is the kernel's side only).
#[allow(dead_code)]
#[path = "../../src/uapi.rs"]
mod abi;
mod decode;
mod error;
mod files;
mod headers;
#[allow(dead_code)]
#[path = "../../src/layout.rs"]
mod layout;
mod record;
#[path = "../../samples/record_format.rs"]
mod record_format;
mod source;
mod stats;
mod uapi;
mod units;

use source::Source;

/// Drain and inspect relay channels: rrelay's, and the kernel's own relay.
///
/// A channel is named as rrelay's statistics name it (`rrelay stat` lists
/// them), or by its buffer files, `-d DIR -b BASE` (any relay channel).
/// Errors are one line on stderr, exit status 1; a closed stdout ends the
/// program quietly, exit status 0.
#[derive(Parser, Debug)]
#[command(name = "rrelay", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

/// A channel: by name in rrelay's statistics, or by its buffer files.
#[derive(Args, Debug)]
struct Target {
    /// The channel's name in rrelay's statistics (`rrelay stat` lists them);
    /// its buffer files are found from there.
    #[arg(
        value_name = "CHANNEL",
        required_unless_present = "dir",
        conflicts_with = "dir"
    )]
    channel: Option<String>,
    /// The directory holding the buffer files (any relay channel; with -b).
    #[arg(short, long, requires = "base", value_name = "DIR")]
    dir: Option<PathBuf>,
    /// The buffer files' base name: they are <BASE><cpu> (with -d).
    #[arg(
        short,
        long,
        requires = "dir",
        conflicts_with = "channel",
        value_name = "BASE"
    )]
    base: Option<String>,
    /// Where debugfs is mounted.
    #[arg(long, default_value = "/sys/kernel/debug", value_name = "DIR")]
    debugfs: PathBuf,
}

impl Target {
    fn source(&self, stats_name: Option<&str>) -> Result<Source> {
        Source::from_args(
            self.channel.as_deref(),
            self.dir.as_deref(),
            self.base.as_deref(),
            stats_name,
            &self.debugfs,
        )
    }
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Record a channel: drain every CPU's buffer into an output directory,
    /// one file per CPU, until the duration or byte limit, SIGINT or SIGTERM,
    /// or the channel's close; then drain what is left and print a summary.
    Record {
        #[command(flatten)]
        target: Target,
        /// Where to write the <base><cpu> files: a directory, created if
        /// missing and refused if not empty (unless --force); `-` writes one
        /// merged stream to stdout (and the summary to stderr).
        #[arg(short, long, default_value = "rrelay.out", value_name = "DIR|-")]
        output: PathBuf,
        /// Record into an output directory that is not empty, replacing its
        /// <base><cpu> files.
        #[arg(long)]
        force: bool,
        /// How to take the data: splice, mmap (rrelay's files only), or read
        /// (any relay file). Default: splice, falling back to read() (said
        /// once on stderr) where the files refuse splice, as the kernel's
        /// relay files do.
        #[arg(short, long, value_enum)]
        mode: Option<record::Mode>,
        /// Stop after SECS seconds (more than 0).
        #[arg(long, value_name = "SECS", value_parser = parse_duration)]
        duration: Option<f64>,
        /// Take what the buffers hold now and stop.
        #[arg(long, conflicts_with = "duration")]
        drain: bool,
        /// Take N bytes in all, no more, and stop. Suffixes: k, M, G, T
        /// (powers of 1000), Ki, Mi, Gi, Ti (powers of 1024): 10k, 1.5M, 4Ki.
        #[arg(long, value_name = "N", value_parser = units::parse_bytes)]
        bytes: Option<u64>,
        /// Wait up to SECS for the channel to appear (start the recorder
        /// before the producer).
        #[arg(long, value_name = "SECS", default_value_t = 0.0)]
        wait: f64,
        /// With -d/-b: the channel's name in rrelay's statistics, for the
        /// kernel's counts (default: the base name).
        #[arg(long, value_name = "NAME", conflicts_with = "channel")]
        stats: Option<String>,
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Decode the sample producers' records (samples/record_format.rs):
    /// merged across CPUs by time, checksums and per-(CPU, context) sequence
    /// numbers verified.
    ///
    /// The records are those rust_relay_sample and c_relay_sample write: a
    /// 32-byte header (magic `RRLY`, CPU, context, sequence number,
    /// timestamp, payload length, checksum) and a payload. Other data does
    /// not decode: with no record found, decode fails (unless
    /// --allow-empty). Sequence numbers are counted from the first record
    /// seen in each stream, so a recording that starts late misses nothing.
    ///
    /// Files of a channel with sub-buffer headers (RRELAY_SUBBUF_HEADERS)
    /// are read sub-buffer by sub-buffer, and the loss the headers report
    /// is shown: sub-buffers never received, records dropped, sub-buffers
    /// overwritten, and before which sub-buffer (and when) each happened.
    Decode {
        /// Recorded files, or directories of them (one file per CPU); `-`
        /// reads stdin (`rrelay record -o -`).
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
        /// Fail unless the sub-buffer headers (RRELAY_SUBBUF_HEADERS) say
        /// exactly N sub-buffers were lost, over all files.
        #[arg(long, value_name = "N")]
        lost_subbufs: Option<u64>,
        /// Fail unless the last sub-buffer headers say exactly N records
        /// were dropped (too big included), over all files.
        #[arg(long, value_name = "N")]
        dropped_records: Option<u64>,
        /// Print the summary as JSON (and no records).
        #[arg(long)]
        json: bool,
    },
    /// Show rrelay's statistics (bytes, drops, losses) for one or all channels.
    Stat {
        /// The channel's name (as `rrelay stat` lists it); all channels when
        /// omitted.
        channel: Option<String>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// Refresh every SECS seconds (more than 0) until interrupted.
        #[arg(long, value_name = "SECS", value_parser = units::parse_secs)]
        watch: Option<f64>,
        /// Where debugfs is mounted.
        #[arg(long, default_value = "/sys/kernel/debug", value_name = "DIR")]
        debugfs: PathBuf,
    },
    /// Stream a channel's data to stdout, CPU by CPU, as it arrives.
    Cat {
        #[command(flatten)]
        target: Target,
        /// Only this CPU's buffer.
        #[arg(long)]
        cpu: Option<u32>,
        /// Keep streaming until the channel is closed (or interrupted).
        #[arg(short, long)]
        follow: bool,
    },
}

/// `--duration`: more than 0 (`--drain` is the way to stop at once).
fn parse_duration(s: &str) -> Result<f64, String> {
    units::parse_secs(s).map_err(|e| format!("{e} (--drain takes what the buffers hold and stops)"))
}

fn main() {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => {}
        // The reader went away (`rrelay decode ... | head`): nothing to say.
        Err(e) if error::is_broken_pipe(&e) => {}
        Err(e) => {
            eprintln!("rrelay: {}", error::one_line(&e));
            std::process::exit(1);
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.cmd {
        Cmd::Stat {
            channel,
            json,
            watch,
            debugfs,
        } => stat(&debugfs, channel.as_deref(), json, watch),
        Cmd::Cat {
            target,
            cpu,
            follow,
        } => cat(&target.source(None)?.resolve()?, cpu, follow),
        Cmd::Record {
            target,
            output,
            force,
            mode,
            duration,
            drain,
            bytes,
            stats,
            json,
            wait,
        } => {
            let source = target.source(stats.as_deref())?;
            let out = record::Output::from_arg(&output);
            let duration = if drain { Some(0.0) } else { duration };
            run_record(
                &record::Options {
                    source: &source,
                    out: &out,
                    mode,
                    duration: duration.map(std::time::Duration::from_secs_f64),
                    bytes,
                    force,
                    progress: !json && record::stderr_is_tty(),
                    wait: std::time::Duration::from_secs_f64(wait.max(0.0)),
                },
                json,
            )
        }
        Cmd::Decode {
            inputs,
            limit,
            expect,
            exact,
            lost_records,
            allow_empty,
            lost_subbufs,
            dropped_records,
            json,
        } => run_decode(
            &inputs,
            limit,
            expect.as_deref(),
            &decode::Demands {
                exact,
                lost_records,
                allow_empty,
                lost_subbufs,
                dropped_records,
            },
            json,
        ),
    }
}

fn run_record(opt: &record::Options<'_>, json: bool) -> Result<()> {
    let summary = record::record(opt)?;
    // With the data on stdout, the summary goes to stderr.
    let mut out: Box<dyn Write> = match opt.out {
        record::Output::Stdout => Box::new(std::io::stderr().lock()),
        record::Output::Dir(_) => Box::new(std::io::stdout().lock()),
    };
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(&summary)?)?;
    } else {
        record::print_summary(&summary, &mut out)?;
    }
    out.flush()?;
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
    out.flush()?;
    let problems = report.problems(demands);
    if !problems.is_empty() {
        anyhow::bail!("{}", problems.join("; "));
    }
    Ok(())
}

fn stat(debugfs: &Path, channel: Option<&str>, json: bool, watch: Option<f64>) -> Result<()> {
    loop {
        let mut all = stats::files(debugfs, channel)?
            .iter()
            .map(|p| stats::read(p))
            .collect::<Result<Vec<_>>>()?;
        // The files' directory as a path on this system.
        for s in &mut all {
            s.dir = s.files_dir(debugfs).map(|d| d.display().to_string());
        }
        let mut out = std::io::stdout().lock();
        if json {
            writeln!(out, "{}", serde_json::to_string_pretty(&all)?)?;
        } else {
            print_table(&mut out, &all)?;
        }
        out.flush()?;
        match watch {
            Some(secs) => std::thread::sleep(std::time::Duration::from_secs_f64(secs)),
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
        if let Some(dir) = &c.dir {
            writeln!(
                out,
                "{:<16} {:>4} buffer files {}<cpu>",
                "",
                "",
                Path::new(dir).join(&c.channel).display()
            )?;
        }
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

fn cat(src: &source::Files, only: Option<u32>, follow: bool) -> Result<()> {
    let (dir, base) = (&src.dir, &src.base);
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
            drain(f, path, &mut stdout)?;
        }
        stdout.flush().context("stdout")?;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("rrelay").chain(args.iter().copied()))
    }

    #[test]
    fn arguments_parse() {
        let c = parse(&["cat", "-d", "/x", "-b", "trace", "--cpu", "2", "-f"]).unwrap();
        assert!(matches!(
            c.cmd,
            Cmd::Cat {
                cpu: Some(2),
                follow: true,
                ..
            }
        ));
        let s = parse(&["stat", "buf", "--json"]).unwrap();
        assert!(matches!(s.cmd, Cmd::Stat { json: true, .. }));
        assert!(parse(&["cat", "-d", "/x"]).is_err());
        assert!(parse(&["stat", "--watch", "soon"]).is_err());
    }

    #[test]
    fn a_channel_is_named_or_given_by_its_files() {
        let source = |args: &[&str]| match parse(args).unwrap().cmd {
            Cmd::Record { target, stats, .. } => target.source(stats.as_deref()).unwrap(),
            Cmd::Cat { target, .. } => target.source(None).unwrap(),
            _ => unreachable!(),
        };
        assert_eq!(
            source(&["record", "sample"]),
            Source::Channel {
                debugfs: PathBuf::from("/sys/kernel/debug"),
                name: "sample".to_string()
            }
        );
        assert_eq!(
            source(&["cat", "buf.1", "--debugfs", "/d"]),
            Source::Channel {
                debugfs: PathBuf::from("/d"),
                name: "buf.1".to_string()
            }
        );
        assert_eq!(
            source(&["record", "-d", "/x", "-b", "trace", "--stats", "t"]),
            Source::Files {
                dir: PathBuf::from("/x"),
                base: "trace".to_string(),
                debugfs: PathBuf::from("/sys/kernel/debug"),
                stats: Some("t".to_string()),
            }
        );
        for bad in [
            &["record"][..],
            &["cat"],
            &["record", "sample", "-d", "/x", "-b", "s"],
            &["record", "sample", "-b", "s"],
            &["record", "-d", "/x"],
            &["record", "-b", "s"],
            &["record", "sample", "--stats", "s"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn limits_must_mean_something() {
        let record = |args: &[&str]| match parse(args).map(|c| c.cmd) {
            Ok(Cmd::Record {
                duration,
                drain,
                bytes,
                ..
            }) => Ok((duration, drain, bytes)),
            Ok(_) => unreachable!(),
            Err(e) => Err(e.to_string()),
        };
        assert_eq!(
            record(&["record", "c", "--bytes", "10k"]),
            Ok((None, false, Some(10_000)))
        );
        assert_eq!(
            record(&["record", "c", "--bytes", "2Mi", "--duration", "1.5"]),
            Ok((Some(1.5), false, Some(2 << 20)))
        );
        assert_eq!(record(&["record", "c", "--drain"]), Ok((None, true, None)));
        let zero = record(&["record", "c", "--duration", "0"]).unwrap_err();
        assert!(zero.contains("must be more than 0 (--drain"), "{zero}");
        assert!(record(&["record", "c", "--duration", "-1"]).is_err());
        assert!(record(&["record", "c", "--drain", "--duration", "1"]).is_err());
        assert!(record(&["record", "c", "--bytes", "0"]).is_err());
        assert!(record(&["record", "c", "--bytes", "10x"]).is_err());
        let watch = parse(&["stat", "--watch", "0"]).unwrap_err().to_string();
        assert!(watch.contains("must be more than 0"), "{watch}");
        assert!(parse(&["stat", "--watch", "0.5"]).is_ok());
    }

    #[test]
    fn the_stat_table_shows_where_the_files_are() {
        let text = "channel buf\nsubbuf_size 256\nn_subbufs 4\nalloc_size 4096\nglobal 0\nclosed 0\nbuffers 1\ndir /client\n\
            cpu produced consumed bytes_written bytes_read full big dropped overwritten lost\n0 4 1 800 200 13 0 13 0 0\n";
        let mut s = stats::parse(text).unwrap();
        s.dir = s
            .files_dir(Path::new("/sys/kernel/debug"))
            .map(|d| d.display().to_string());
        let mut out = Vec::new();
        print_table(&mut out, &[s]).unwrap();
        let out = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 4, "{out}");
        assert!(lines[1].starts_with("buf "), "{out}");
        assert!(
            lines[3].ends_with(" buffer files /sys/kernel/debug/client/buf<cpu>"),
            "{out}"
        );
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
}
