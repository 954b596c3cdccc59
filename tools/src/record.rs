// SPDX-License-Identifier: GPL-2.0

//! `rrelay record`: drain every CPU file of a channel into an output
//! directory, one file per CPU, until told to stop; then drain what is left,
//! so nothing written before the stop is lost.
//!
//! The loop waits in poll() (a finished sub-buffer wakes it) with a short
//! timeout, so new CPU files (hotplug) are picked up. While recording, an
//! rrelay buffer gives finished sub-buffers only (`RRELAY_FLAG_FINISHED_ONLY`):
//! a record reserved but not yet filled is never taken. The partly filled
//! last sub-buffer is drained at the stop.

use crate::files;
use crate::stats;
use crate::uapi;
use anyhow::{bail, Context as _, Result};
use clap::ValueEnum;
use rustix::event::{poll, PollFd, PollFlags, Timespec};
use rustix::mm::{mmap, munmap, MapFlags, ProtFlags};
use rustix::pipe::{fcntl_setpipe_size, pipe, splice, SpliceFlags};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{ErrorKind, IsTerminal, Read, Write};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How the data leaves the kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// read(): works with any relay file, the kernel's own relay included.
    Read,
    /// mmap() and the rrelay ioctls: whole sub-buffers, no copy in the kernel.
    Mmap,
    /// splice() through a pipe into the output file.
    Splice,
}

/// What `record` was asked to do.
pub struct Options<'a> {
    pub dir: &'a Path,
    pub base: &'a str,
    pub out: &'a Path,
    pub mode: Mode,
    pub duration: Option<Duration>,
    pub bytes: Option<u64>,
    pub stats_dir: Option<PathBuf>,
    pub progress: bool,
    /// How long to wait for the channel's files to appear.
    pub wait: Duration,
}

/// One CPU's input and output.
struct Cpu {
    path: PathBuf,
    file: File,
    out: File,
    out_path: PathBuf,
    bytes: u64,
    pipe: Option<(OwnedFd, OwnedFd)>,
    map: Option<Map>,
    closed: bool,
    /// The file was removed under us (a kernel relay channel closed).
    gone: bool,
}

/// A read-only mapping of a buffer and its geometry.
struct Map {
    addr: *mut u8,
    geo: uapi::Geometry,
    lapped: u64,
}

impl Drop for Map {
    fn drop(&mut self) {
        // SAFETY: `addr` is our mapping of `mmap_size` bytes, unused after this.
        let _ = unsafe { munmap(self.addr.cast(), self.geo.mmap_size as usize) };
    }
}

/// The summary `record` prints.
#[derive(Debug, Serialize)]
pub struct Summary {
    pub mode: Mode,
    pub seconds: f64,
    pub bytes: u64,
    pub mb_per_s: f64,
    pub cpus: BTreeMap<u32, u64>,
    /// The kernel's counts, from rrelay's stats (absent for other relays).
    pub dropped_writes: Option<u64>,
    pub lost_subbufs: Option<u64>,
    /// Sub-buffers an mmap reader found overwritten while copying.
    pub lapped_subbufs: u64,
}

fn ctx(path: &Path) -> String {
    path.display().to_string()
}

impl Cpu {
    fn open(path: PathBuf, out_path: PathBuf, mode: Mode) -> Result<Self> {
        let file = File::open(&path).with_context(|| ctx(&path))?;
        // Other relay files (the kernel's) have no such ioctl: fine.
        let _ = uapi::set_flags(&file, uapi::FLAG_FINISHED_ONLY);
        let out = File::create(&out_path).with_context(|| ctx(&out_path))?;
        let pipe = match mode {
            Mode::Splice => {
                let (r, w) = pipe().context("pipe")?;
                let _ = fcntl_setpipe_size(&w, 1 << 20);
                Some((r, w))
            }
            _ => None,
        };
        let map = match mode {
            Mode::Mmap => Some(Map::new(&file).with_context(|| {
                format!(
                    "{}: not an rrelay buffer file (mmap mode needs rrelay's ioctls)",
                    path.display()
                )
            })?),
            _ => None,
        };
        Ok(Cpu {
            path,
            file,
            out,
            out_path,
            bytes: 0,
            pipe,
            map,
            closed: false,
            gone: false,
        })
    }

    /// Moves everything readable now to the output; `last` also takes the
    /// partly filled sub-buffer in mmap mode.
    fn drain(&mut self, last: bool) -> Result<u64> {
        let before = self.bytes;
        if self.gone {
            return Ok(0);
        }
        if last {
            let _ = uapi::set_flags(&self.file, 0);
        }
        match (&mut self.map, &self.pipe) {
            (Some(map), _) => {
                self.bytes += map.drain(&self.file, &mut self.out, &self.out_path)?;
                // The current sub-buffer is only reachable through read()
                // (which follows the consumed count the ioctls set).
                if last {
                    self.bytes +=
                        read_all(&mut self.file, &self.path, &mut self.out, &self.out_path)?;
                }
            }
            (None, Some((r, w))) => loop {
                let n = match splice(&self.file, None, w, None, 1 << 20, SpliceFlags::NONBLOCK) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e == rustix::io::Errno::AGAIN => break,
                    Err(e) => return Err(e).with_context(|| ctx(&self.path)),
                };
                let mut left = n;
                while left > 0 {
                    left -= splice(r, None, &self.out, None, left, SpliceFlags::empty())
                        .with_context(|| ctx(&self.out_path))?;
                }
                self.bytes += n as u64;
            },
            (None, None) => {
                match read_all(&mut self.file, &self.path, &mut self.out, &self.out_path) {
                    Ok(n) => self.bytes += n,
                    // A kernel relay file removed by relay_close (debugfs's
                    // proxy refuses reads from then on, maybe before poll
                    // has said so): what it held is gone.
                    Err(e) if is_eio(&e) => {
                        self.gone = true;
                        self.closed = true;
                        eprintln!(
                            "rrelay: {}: removed by its channel's close; unread data is lost",
                            self.path.display()
                        );
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(self.bytes - before)
    }
}

fn is_eio(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.raw_os_error() == Some(5))
    })
}

fn read_all(file: &mut File, path: &Path, out: &mut File, out_path: &Path) -> Result<u64> {
    let mut buf = vec![0u8; 1 << 18];
    let mut total = 0;
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e).with_context(|| ctx(path)),
        };
        out.write_all(&buf[..n]).with_context(|| ctx(out_path))?;
        total += n as u64;
    }
}

impl Map {
    fn new(file: &File) -> Result<Self> {
        let geo = uapi::geometry(file)?;
        // SAFETY: A fresh read-only shared mapping of the whole buffer;
        // nothing else refers to that address range.
        let addr = unsafe {
            mmap(
                std::ptr::null_mut(),
                geo.mmap_size as usize,
                ProtFlags::READ,
                MapFlags::SHARED,
                file,
                0,
            )
        }
        .context("mmap")?;
        Ok(Map {
            addr: addr.cast(),
            geo,
            lapped: 0,
        })
    }

    /// Copies every finished sub-buffer out and releases it.
    fn drain(&mut self, file: &File, out: &mut File, out_path: &Path) -> Result<u64> {
        let (size, n) = (self.geo.subbuf_size, self.geo.n_subbufs);
        let pos = uapi::positions(file).context("RRELAY_IOC_GET_POSITIONS")?;
        let mut total = 0;
        let mut chunk = vec![0u8; size as usize];
        for k in pos.consumed..pos.produced {
            let slot = k % n;
            let padding = uapi::padding(file, slot).context("RRELAY_IOC_GET_PADDING")?;
            let len = (size - padding.min(size)) as usize;
            // SAFETY: The slot lies inside the mapping; the writer no longer
            // touches a finished sub-buffer unless it laps us (checked below).
            let data =
                unsafe { std::slice::from_raw_parts(self.addr.add((slot * size) as usize), len) };
            chunk[..len].copy_from_slice(data);
            // In overwrite mode the writer may have come round meanwhile.
            let after = uapi::positions(file).context("RRELAY_IOC_GET_POSITIONS")?;
            if after.produced - k >= n && after.flags & 1 == 0 {
                self.lapped += 1;
            } else {
                out.write_all(&chunk[..len])
                    .with_context(|| ctx(out_path))?;
                total += len as u64;
            }
            uapi::put_consumed(file, 1).context("RRELAY_IOC_PUT_CONSUMED")?;
        }
        Ok(total)
    }
}

pub fn record(opt: &Options<'_>) -> Result<Summary> {
    std::fs::create_dir_all(opt.out).with_context(|| ctx(opt.out))?;
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, stop.clone()).context("signal handler")?;
    }
    // The producer may not have opened its channel yet.
    let waited = Instant::now();
    while files::scan(opt.dir, opt.base).map_or(true, |f| f.is_empty())
        && waited.elapsed() < opt.wait
    {
        if stop.load(Ordering::Relaxed) {
            bail!(
                "interrupted while waiting for {}/{}<cpu>",
                opt.dir.display(),
                opt.base
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let start = Instant::now();
    let mut cpus: BTreeMap<u32, Cpu> = BTreeMap::new();
    let mut last_scan = None::<Instant>;
    let mut last_progress = Instant::now();
    let tick = Timespec {
        tv_sec: 0,
        tv_nsec: 100_000_000,
    };
    loop {
        if last_scan.is_none_or(|t| t.elapsed() >= Duration::from_secs(1)) {
            // The first scan must find the channel; later ones look for new
            // CPUs, and find nothing once a closed channel's files are gone.
            let found = match last_scan {
                None => files::scan_some(opt.dir, opt.base)?,
                Some(_) => files::scan(opt.dir, opt.base).unwrap_or_default(),
            };
            for (cpu, path) in found {
                if let std::collections::btree_map::Entry::Vacant(e) = cpus.entry(cpu) {
                    let out_path = opt.out.join(format!("{}{cpu}", opt.base));
                    e.insert(Cpu::open(path, out_path, opt.mode)?);
                }
            }
            last_scan = Some(Instant::now());
        }
        let stopping = stop.load(Ordering::Relaxed)
            || opt.duration.is_some_and(|d| start.elapsed() >= d)
            || opt
                .bytes
                .is_some_and(|b| cpus.values().map(|c| c.bytes).sum::<u64>() >= b);
        if stopping || cpus.values().all(|c| c.closed) {
            break;
        }
        let mut fds: Vec<PollFd<'_>> = cpus
            .values()
            .map(|c| PollFd::new(&c.file, PollFlags::IN))
            .collect();
        match poll(&mut fds, Some(&tick)) {
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e).context("poll"),
        }
        let hangups: Vec<bool> = fds
            .iter()
            .map(|p| p.revents().intersects(PollFlags::ERR | PollFlags::HUP))
            .collect();
        drop(fds);
        for (c, hup) in cpus.values_mut().zip(hangups) {
            c.closed |= hup;
            c.drain(false)?;
        }
        if opt.progress && last_progress.elapsed() >= Duration::from_secs(1) {
            progress(&cpus, start.elapsed(), opt.stats_dir.as_deref());
            last_progress = Instant::now();
        }
    }
    // Stop: everything still in the buffers goes out.
    for c in cpus.values_mut() {
        c.drain(true)?;
    }
    if opt.progress {
        eprintln!();
    }
    for c in cpus.values() {
        c.out.sync_all().with_context(|| ctx(&c.out_path))?;
    }
    let seconds = start.elapsed().as_secs_f64();
    let bytes = cpus.values().map(|c| c.bytes).sum();
    let kernel = opt
        .stats_dir
        .as_deref()
        .and_then(|d| stats::read(&d.join("stats")).ok());
    Ok(Summary {
        mode: opt.mode,
        seconds,
        bytes,
        mb_per_s: bytes as f64 / 1e6 / seconds.max(1e-9),
        cpus: cpus.iter().map(|(&k, c)| (k, c.bytes)).collect(),
        dropped_writes: kernel.as_ref().map(|s| s.total(|b| b.dropped + b.big)),
        lost_subbufs: kernel.as_ref().map(|s| s.total(|b| b.lost)),
        lapped_subbufs: cpus
            .values()
            .filter_map(|c| c.map.as_ref())
            .map(|m| m.lapped)
            .sum(),
    })
}

fn progress(cpus: &BTreeMap<u32, Cpu>, elapsed: Duration, stats_dir: Option<&Path>) {
    let total: u64 = cpus.values().map(|c| c.bytes).sum();
    let drops = stats_dir
        .and_then(|d| stats::read(&d.join("stats")).ok())
        .map_or("n/a".to_string(), |s| {
            s.total(|b| b.dropped + b.big).to_string()
        });
    let per_cpu: Vec<String> = cpus
        .iter()
        .map(|(k, c)| format!("cpu{k} {}", human(c.bytes)))
        .collect();
    eprint!(
        "\r{:>6.1}s  {}  {}/s  drops {}  [{}]   ",
        elapsed.as_secs_f64(),
        human(total),
        human((total as f64 / elapsed.as_secs_f64().max(1e-9)) as u64),
        drops,
        per_cpu.join(", ")
    );
}

/// Bytes for people: 1.5 MB.
pub fn human(b: u64) -> String {
    match b {
        0..1_000 => format!("{b} B"),
        1_000..1_000_000 => format!("{:.1} kB", b as f64 / 1e3),
        1_000_000..1_000_000_000 => format!("{:.1} MB", b as f64 / 1e6),
        _ => format!("{:.2} GB", b as f64 / 1e9),
    }
}

pub fn print_summary(s: &Summary, out: &mut impl Write) -> Result<()> {
    writeln!(
        out,
        "recorded {} in {:.2} s ({:.2} MB/s, {} mode)",
        human(s.bytes),
        s.seconds,
        s.mb_per_s,
        format!("{:?}", s.mode).to_lowercase()
    )?;
    for (cpu, b) in &s.cpus {
        writeln!(out, "  cpu{cpu:<4} {:>12} bytes", b)?;
    }
    match (s.dropped_writes, s.lost_subbufs) {
        (Some(d), Some(l)) => writeln!(
            out,
            "kernel counted: {d} writes dropped, {l} sub-buffers lost by readers"
        )?,
        _ => writeln!(
            out,
            "kernel counts: not available (no rrelay stats for this channel)"
        )?,
    }
    if s.lapped_subbufs > 0 {
        writeln!(
            out,
            "mmap reader: {} sub-buffers overwritten while copying, skipped",
            s.lapped_subbufs
        )?;
    }
    Ok(())
}

/// A friendlier message when stdout or the output is not what we think.
pub fn check_out(out: &Path) -> Result<()> {
    if out.exists() && !out.is_dir() {
        bail!("{}: exists and is not a directory", out.display());
    }
    Ok(())
}

/// Whether progress goes to a terminal.
pub fn stderr_is_tty() -> bool {
    std::io::stderr().is_terminal()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Plain files stand in for relay files: read() drains them, then
    /// returns 0, as a relay file does when empty.
    fn fixture(name: &str) -> (PathBuf, PathBuf) {
        let root = std::env::temp_dir().join(format!("rrelay-rec-{name}-{}", std::process::id()));
        let input = root.join("in");
        std::fs::create_dir_all(&input).unwrap();
        std::fs::write(input.join("t0"), vec![7u8; 300_000]).unwrap();
        std::fs::write(input.join("t3"), b"cpu three").unwrap();
        (root, input)
    }

    /// Options for recording `dir`'s `t<cpu>` files into `out`.
    pub(super) fn options<'a>(
        dir: &'a Path,
        out: &'a Path,
        mode: Mode,
        duration: Duration,
    ) -> Options<'a> {
        Options {
            dir,
            base: "t",
            out,
            mode,
            duration: Some(duration),
            bytes: None,
            stats_dir: None,
            progress: false,
            wait: Duration::ZERO,
        }
    }

    fn run(mode: Mode, name: &str) {
        let (root, input) = fixture(name);
        let out = root.join("out");
        let s = record(&options(&input, &out, mode, Duration::from_millis(200))).unwrap();
        assert_eq!(s.bytes, 300_009);
        assert_eq!(s.cpus.keys().copied().collect::<Vec<_>>(), [0, 3]);
        assert_eq!(std::fs::read(out.join("t0")).unwrap(), vec![7u8; 300_000]);
        assert_eq!(std::fs::read(out.join("t3")).unwrap(), b"cpu three");
        assert!(s.dropped_writes.is_none());
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn read_mode_drains_every_cpu_file() {
        run(Mode::Read, "read");
    }

    #[test]
    fn splice_mode_drains_every_cpu_file() {
        run(Mode::Splice, "splice");
    }

    #[test]
    fn mmap_mode_refuses_files_without_rrelay_ioctls() {
        let (root, input) = fixture("mmap");
        let out = root.join("out");
        let e = record(&options(&input, &out, Mode::Mmap, Duration::ZERO)).unwrap_err();
        assert!(
            format!("{e:#}").contains("not an rrelay buffer file"),
            "{e:#}"
        );
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn human_sizes() {
        assert_eq!(human(999), "999 B");
        assert_eq!(human(1_500), "1.5 kB");
        assert_eq!(human(2_500_000), "2.5 MB");
    }
}

#[cfg(test)]
mod wait_tests {
    use super::*;

    #[test]
    fn waits_for_files_that_appear_late() {
        let root = std::env::temp_dir().join(format!("rrelay-wait-{}", std::process::id()));
        let input = root.join("in");
        std::fs::create_dir_all(&input).unwrap();
        let late = input.join("t0");
        let writer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            std::fs::write(late, b"late").unwrap();
        });
        let out = root.join("out");
        let opt = Options {
            wait: Duration::from_secs(10),
            ..super::tests::options(&input, &out, Mode::Read, Duration::ZERO)
        };
        assert_eq!(record(&opt).unwrap().bytes, 4);
        writer.join().unwrap();
        std::fs::remove_dir_all(&root).unwrap();
    }
}
