// SPDX-License-Identifier: GPL-2.0

//! `rrelay record`: drain every CPU file of a channel into an output
//! directory, one file per CPU (or into one stream on stdout), until told to
//! stop; then drain what is left, so nothing written before the stop is
//! lost.
//!
//! The loop waits in poll() (a finished sub-buffer wakes it) with a short
//! timeout, so new CPU files (hotplug) are picked up. While recording, an
//! rrelay buffer gives finished sub-buffers only (`RRELAY_FLAG_FINISHED_ONLY`):
//! a record reserved but not yet filled is never taken. The partly filled
//! last sub-buffer is drained at the stop.
//!
//! The default mode maps the buffer (the sub-buffer protocol of `-m mmap`:
//! in `make bench`'s prefilled drain into files it costs what read() costs
//! in instructions, fewer than splice, copies once less, and never gives a
//! torn sub-buffer), and falls back to read() for files that cannot be mapped
//! (the kernel's own relay files, which have no rrelay ioctls, or rrelay's
//! behind debugfs's proxy, which does not map), saying so once. A mode
//! asked for explicitly never falls back. A byte limit is exact: no more
//! than that is taken out of the buffers; what is left stays there.

use crate::files;
use crate::headers;
use crate::source::Source;
use crate::stats;
use crate::uapi;
use anyhow::{bail, Context as _, Result};
use clap::ValueEnum;
use rustix::event::{poll, PollFd, PollFlags, Timespec};
use rustix::io::Errno;
use rustix::mm::{mmap, munmap, MapFlags, ProtFlags};
use rustix::pipe::{fcntl_setpipe_size, pipe, splice, SpliceFlags};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{ErrorKind, IsTerminal, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
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

/// Where the recording goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// A directory, one `<base><cpu>` file per CPU.
    Dir(PathBuf),
    /// One stream on stdout, the CPUs' data as it arrives (each CPU's in
    /// order, whole sub-buffers while recording).
    Stdout,
}

impl Output {
    /// `-` is stdout, anything else a directory.
    pub fn from_arg(arg: &Path) -> Self {
        if arg == Path::new("-") {
            Output::Stdout
        } else {
            Output::Dir(arg.to_path_buf())
        }
    }
}

/// What `record` was asked to do.
pub struct Options<'a> {
    pub source: &'a Source,
    pub out: &'a Output,
    /// The mode asked for; `None`: mmap, or read() where the files cannot
    /// be mapped.
    pub mode: Option<Mode>,
    /// Stop after this long (zero: take what the buffers hold now and stop).
    pub duration: Option<Duration>,
    /// Take no more than this many bytes in all.
    pub bytes: Option<u64>,
    /// Record into a directory that is not empty.
    pub force: bool,
    pub progress: bool,
    /// How long to wait for the channel's files to appear.
    pub wait: Duration,
}

/// Where one CPU's data goes.
enum Sink {
    File { file: File, path: PathBuf },
    Stdout,
}

/// Writes all of `data` to standard output's file descriptor: not through
/// `std::io::stdout()`, whose line buffering scans and copies every byte
/// (nothing else is written to stdout while recording).
fn stdout_write_all(mut data: &[u8]) -> Result<()> {
    let out = std::io::stdout();
    while !data.is_empty() {
        match rustix::io::write(out.as_fd(), data) {
            Ok(0) => bail!("stdout: wrote nothing"),
            Ok(n) => data = &data[n..],
            Err(Errno::INTR) => {}
            Err(e) => return Err(std::io::Error::from(e)).context("stdout"),
        }
    }
    Ok(())
}

impl Sink {
    fn write_all(&mut self, data: &[u8]) -> Result<()> {
        match self {
            Sink::File { file, path } => file.write_all(data).with_context(|| ctx(path)),
            Sink::Stdout => stdout_write_all(data),
        }
    }

    /// Moves `n` bytes from the pipe `r` to the sink: spliced into a file or
    /// stdout, or copied to a stdout that refuses splice (a terminal, a
    /// file opened for appending).
    fn take_from_pipe(&mut self, r: &OwnedFd, n: usize) -> Result<()> {
        let mut left = n;
        match self {
            Sink::File { file, path } => {
                while left > 0 {
                    left -= splice(r, None, &*file, None, left, SpliceFlags::empty())
                        .with_context(|| ctx(path))?;
                }
            }
            Sink::Stdout => {
                // Spliced on where stdout takes it (a pipe, a file, /dev/null)...
                let out = std::io::stdout();
                while left > 0 {
                    match splice(r, None, out.as_fd(), None, left, SpliceFlags::empty()) {
                        Ok(0) => bail!("stdout: took nothing"),
                        Ok(n) => left -= n,
                        Err(Errno::INTR) => {}
                        Err(Errno::INVAL) => break,
                        Err(e) => return Err(std::io::Error::from(e)).context("stdout"),
                    }
                }
                // ...else copied (a terminal, a file opened for appending).
                let mut buf = vec![0u8; left.min(1 << 16)];
                while left > 0 {
                    let want = left.min(buf.len());
                    let got = rustix::io::read(r, &mut buf[..want]).context("pipe")?;
                    stdout_write_all(&buf[..got])?;
                    left -= got;
                }
            }
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        match self {
            Sink::File { file, path } => file.sync_all().with_context(|| ctx(path)),
            Sink::Stdout => std::io::stdout().flush().context("stdout"),
        }
    }
}

/// How one CPU's data leaves the kernel.
enum How {
    Read,
    Mmap(Map),
    /// Through a pipe.
    Splice {
        r: OwnedFd,
        w: OwnedFd,
    },
}

/// One CPU's input and output.
struct Cpu {
    path: PathBuf,
    file: File,
    sink: Sink,
    bytes: u64,
    how: How,
    closed: bool,
    /// The file was removed under us (a kernel relay channel closed).
    gone: bool,
    /// Why the default mode could not map the file, when read() took
    /// over.
    refused: Option<String>,
    /// The channel has sub-buffer headers: readers get whole finished
    /// sub-buffers only, and the last one is finished by a flush.
    headers: bool,
    /// Bytes per read(): with headers, at least a sub-buffer.
    chunk: usize,
}

/// A read-only mapping of a buffer and its geometry.
struct Map {
    addr: *mut u8,
    geo: uapi::Geometry,
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
    /// The mode the data came through.
    pub mode: Mode,
    /// The default mode fell back to read(): the files cannot be mapped.
    pub read_fallback: bool,
    /// Recording time, from when the files found at the start were open
    /// (and mapped) to the end.
    pub seconds: f64,
    /// The time to open (and map) those files, before `seconds`.
    pub setup_seconds: f64,
    pub bytes: u64,
    pub mb_per_s: f64,
    pub cpus: BTreeMap<u32, u64>,
    /// The kernel's counts, from rrelay's stats (absent for other relays).
    pub dropped_writes: Option<u64>,
    pub lost_subbufs: Option<u64>,
    pub overwritten_subbufs: Option<u64>,
    /// The channel closed before the stop: the counts are the last seen
    /// (read every second while recording).
    pub kernel_last_seen: bool,
    /// What the sub-buffer headers in the recorded files say (channels
    /// opened with RRELAY_SUBBUF_HEADERS, recorded into a directory).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub subbuf_headers: Vec<headers::BufferLoss>,
}

fn ctx(path: &Path) -> String {
    path.display().to_string()
}

impl Cpu {
    fn open(path: PathBuf, sink: Sink, mode: Option<Mode>) -> Result<Self> {
        let file = File::open(&path).with_context(|| ctx(&path))?;
        // A channel with sub-buffer headers refuses partial reads (EINVAL);
        // other relay files (the kernel's) have no such ioctl: fine.
        let headers = uapi::set_flags(&file, 0)
            .is_err_and(|e| e.raw_os_error() == Some(Errno::INVAL.raw_os_error()));
        let _ = uapi::set_flags(&file, uapi::FLAG_FINISHED_ONLY);
        let subbuf = if headers {
            uapi::geometry(&file)
                .with_context(|| ctx(&path))?
                .subbuf_size as usize
        } else {
            0
        };
        let mut refused = None;
        let how = match mode {
            None => match Map::new(&file) {
                Ok(map) => How::Mmap(map),
                Err(e) => {
                    refused = Some(crate::error::one_line(&e));
                    How::Read
                }
            },
            Some(Mode::Splice) => {
                let (r, w) = pipe().context("pipe")?;
                let _ = fcntl_setpipe_size(&w, 1 << 20);
                How::Splice { r, w }
            }
            Some(Mode::Mmap) => How::Mmap(Map::new(&file).map_err(|e| {
                anyhow::anyhow!(
                    "{}: not an rrelay buffer file (mmap mode needs rrelay's ioctls: {})",
                    path.display(),
                    crate::error::one_line(&e)
                )
            })?),
            Some(Mode::Read) => How::Read,
        };
        Ok(Cpu {
            path,
            file,
            sink,
            bytes: 0,
            how,
            closed: false,
            gone: false,
            refused,
            headers,
            chunk: subbuf.max(READ_CHUNK),
        })
    }

    /// Moves what is readable now, `room` bytes at most, to the output;
    /// `last` also takes the partly filled sub-buffer.
    fn drain(&mut self, last: bool, room: u64) -> Result<u64> {
        // With headers, only whole sub-buffers: a byte limit stops short.
        if self.gone || room == 0 || (self.headers && room < self.chunk as u64) {
            return Ok(0);
        }
        if last && self.headers {
            // What is finished (so a full buffer has room again), then the
            // rest, finished by a flush: the last header has the final counts.
            let moved = self.drain(false, room)?;
            uapi::flush(&self.file)
                .with_context(|| format!("{}: RRELAY_IOC_FLUSH", ctx(&self.path)))?;
            return Ok(moved + self.drain(false, room - moved)?);
        }
        if last {
            let _ = uapi::set_flags(&self.file, 0);
        }
        let mut moved = 0;
        if let How::Splice { r, w } = &self.how {
            moved += splice_out(&self.file, &self.path, r, w, &mut self.sink, room)?;
        }
        match &mut self.how {
            How::Splice { .. } => {}
            How::Mmap(map) => {
                moved += map.drain(
                    &mut self.file,
                    &self.path,
                    &mut self.sink,
                    room,
                    self.headers,
                )?;
                // The current sub-buffer is only reachable through read()
                // (which follows the consumed count the ioctls set).
                if last && moved < room {
                    moved += read_out(
                        &mut self.file,
                        &self.path,
                        &mut self.sink,
                        room - moved,
                        self.chunk,
                    )?;
                }
            }
            How::Read => {
                match read_out(
                    &mut self.file,
                    &self.path,
                    &mut self.sink,
                    room - moved,
                    self.chunk,
                ) {
                    Ok(n) => moved += n,
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
        self.bytes += moved;
        Ok(moved)
    }
}

/// Splices up to `room` bytes from `file` through the pipe `(r, w)` to
/// `sink`. Returns the bytes moved; a file that refuses splice (`EINVAL`,
/// `ENOTTY`) is an error (an explicit `-m splice` never falls back).
fn splice_out(
    file: &File,
    path: &Path,
    r: &OwnedFd,
    w: &OwnedFd,
    sink: &mut Sink,
    room: u64,
) -> Result<u64> {
    let mut total = 0;
    while total < room {
        let want = (room - total).min(1 << 20) as usize;
        #[cfg(test)]
        if REFUSE_SPLICE.with(|r| r.get()) {
            return Err(Errno::INVAL).with_context(|| ctx(path));
        }
        let n = match splice(file, None, w, None, want, SpliceFlags::NONBLOCK) {
            Ok(0) => break,
            Ok(n) => n,
            Err(Errno::AGAIN) => break,
            Err(e) => return Err(e).with_context(|| ctx(path)),
        };
        sink.take_from_pipe(r, n)?;
        total += n as u64;
    }
    Ok(total)
}

fn is_eio(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.raw_os_error() == Some(5))
    })
}

/// Bytes per read() (more for sub-buffers larger than that, with headers).
const READ_CHUNK: usize = 1 << 18;

/// Reads up to `room` bytes from `file` into `sink`, `chunk` bytes per
/// read(), until read() returns 0.
fn read_out(file: &mut File, path: &Path, sink: &mut Sink, room: u64, chunk: usize) -> Result<u64> {
    let mut buf = vec![0u8; chunk];
    let mut total = 0;
    while total < room {
        let want = (room - total).min(buf.len() as u64) as usize;
        let n = match file.read(&mut buf[..want]) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e).with_context(|| ctx(path)),
        };
        sink.write_all(&buf[..n])?;
        total += n as u64;
    }
    Ok(total)
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
        })
    }

    /// Copies finished sub-buffers out, `room` bytes at most, by the
    /// sub-buffer protocol: `RRELAY_IOC_GET_NEXT_SUBBUF` hands one out (out
    /// of the writer's reach, in overwrite mode too, so the copy is never
    /// torn), `RRELAY_IOC_PUT_NEXT_SUBBUF` gives it back. Sub-buffers the
    /// writer overwrote first are skipped by the kernel and counted lost.
    /// With less room left than a sub-buffer, read() takes the bytes that
    /// fit and leaves the rest in the buffer.
    fn drain(
        &mut self,
        file: &mut File,
        path: &Path,
        sink: &mut Sink,
        room: u64,
        whole: bool,
    ) -> Result<u64> {
        let mut total = 0;
        while total < room {
            if room - total < self.geo.subbuf_size {
                // Sub-buffer headers: whole sub-buffers only.
                if whole {
                    break;
                }
                return Ok(total + read_out(file, path, sink, room - total, READ_CHUNK)?);
            }
            let next = match uapi::get_next_subbuf(&*file) {
                Ok(next) => next,
                Err(e) if e.raw_os_error() == Some(Errno::AGAIN.raw_os_error()) => break,
                Err(e) => return Err(e).context("RRELAY_IOC_GET_NEXT_SUBBUF"),
            };
            let len = next.len;
            if next.offset + next.len > self.geo.mmap_size {
                bail!("RRELAY_IOC_GET_NEXT_SUBBUF: {next:?} lies outside the mapping");
            }
            // SAFETY: Checked just above: inside our mapping. The kernel
            // keeps the sub-buffer out of the writer's reach until it is
            // put back below, so the bytes do not change meanwhile.
            let data = unsafe {
                std::slice::from_raw_parts(self.addr.add(next.offset as usize), len as usize)
            };
            let written = sink.write_all(data);
            uapi::put_next_subbuf(&*file).context("RRELAY_IOC_PUT_NEXT_SUBBUF")?;
            written?;
            total += len;
        }
        Ok(total)
    }
}

/// Refuses an output that is a file, or a directory with something in it
/// (unless `force`).
fn check_out(out: &Output, force: bool) -> Result<()> {
    let Output::Dir(dir) = out else {
        return Ok(());
    };
    if dir.exists() && !dir.is_dir() {
        bail!("{}: exists and is not a directory", dir.display());
    }
    if dir.is_dir() && !force {
        let mut entries = std::fs::read_dir(dir).with_context(|| ctx(dir))?;
        if entries.next().is_some() {
            bail!(
                "{}: exists and is not empty (--force records into it, replacing its <base><cpu> files)",
                dir.display()
            );
        }
    }
    Ok(())
}

pub fn record(opt: &Options<'_>) -> Result<Summary> {
    check_out(opt.out, opt.force)?;
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, stop.clone()).context("signal handler")?;
    }
    // The producer may not have opened its channel yet.
    let waited = Instant::now();
    let (src, first) = loop {
        let found = opt.source.resolve().and_then(|f| {
            let cpus = files::scan_some(&f.dir, &f.base)?;
            Ok((f, cpus))
        });
        match found {
            Ok(found) => break found,
            Err(e) if waited.elapsed() >= opt.wait => return Err(e),
            Err(_) => {}
        }
        if stop.load(Ordering::Relaxed) {
            bail!("interrupted while waiting for {}", opt.source);
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    if let Output::Dir(dir) = opt.out {
        std::fs::create_dir_all(dir).with_context(|| ctx(dir))?;
        // --force: a file of an earlier recording that this one does not
        // write (a CPU now offline) must not be taken for part of it.
        for (_, old) in files::scan(dir, &src.base)? {
            std::fs::remove_file(&old).with_context(|| ctx(&old))?;
        }
    }
    let sink = |cpu: u32| -> Result<Sink> {
        match opt.out {
            Output::Stdout => Ok(Sink::Stdout),
            Output::Dir(dir) => {
                let path = dir.join(format!("{}{cpu}", src.base));
                let file = File::create(&path).with_context(|| ctx(&path))?;
                Ok(Sink::File { file, path })
            }
        }
    };
    // The files found so far are opened (and mapped), and the kernel's
    // figures read, before the clock starts: `seconds` (and the rate) is
    // the recording's; `setup_seconds` is the set-up's.
    let setup = Instant::now();
    let mut cpus: BTreeMap<u32, Cpu> = BTreeMap::new();
    for (cpu, path) in first {
        cpus.insert(cpu, Cpu::open(path, sink(cpu)?, opt.mode)?);
    }
    // The kernel's figures as last seen: a channel closed before the stop
    // takes its statistics file with it.
    let read_kernel = || src.stats.as_deref().and_then(|f| stats::read(f).ok());
    let mut last_kernel = read_kernel();
    let setup_seconds = setup.elapsed().as_secs_f64();
    let start = Instant::now();
    let mut found = None;
    let mut last_scan = Instant::now();
    let mut last_progress = Instant::now();
    let mut last_kernel_read = Instant::now();
    let mut shown_progress = false;
    let mut told = false;
    let tick = Timespec {
        tv_sec: 0,
        tv_nsec: 100_000_000,
    };
    let room = |cpus: &BTreeMap<u32, Cpu>| {
        let taken: u64 = cpus.values().map(|c| c.bytes).sum();
        opt.bytes.map_or(u64::MAX, |b| b.saturating_sub(taken))
    };
    loop {
        // Later scans look for new CPUs, and find nothing once a closed
        // channel's files are gone.
        if found.is_none() && last_scan.elapsed() >= Duration::from_secs(1) {
            found = Some(files::scan(&src.dir, &src.base).unwrap_or_default());
            last_scan = Instant::now();
        }
        for (cpu, path) in found.take().unwrap_or_default() {
            if let std::collections::btree_map::Entry::Vacant(e) = cpus.entry(cpu) {
                e.insert(Cpu::open(path, sink(cpu)?, opt.mode)?);
            }
        }
        if last_kernel_read.elapsed() >= Duration::from_secs(1) {
            last_kernel = read_kernel().or(last_kernel);
            last_kernel_read = Instant::now();
        }
        let stopping = stop.load(Ordering::Relaxed)
            || opt.duration.is_some_and(|d| start.elapsed() >= d)
            || room(&cpus) == 0;
        if stopping || cpus.values().all(|c| c.closed) {
            break;
        }
        let mut fds: Vec<PollFd<'_>> = cpus
            .values()
            .map(|c| PollFd::new(&c.file, PollFlags::IN))
            .collect();
        match poll(&mut fds, Some(&tick)) {
            Ok(_) | Err(Errno::INTR) => {}
            Err(e) => return Err(e).context("poll"),
        }
        let hangups: Vec<bool> = fds
            .iter()
            .map(|p| p.revents().intersects(PollFlags::ERR | PollFlags::HUP))
            .collect();
        drop(fds);
        for (cpu, hup) in cpus.keys().copied().zip(hangups).collect::<Vec<_>>() {
            let left = room(&cpus);
            let c = cpus.get_mut(&cpu).expect("a CPU just listed");
            c.closed |= hup;
            c.drain(false, left)?;
        }
        tell_fallback(&cpus, &mut told);
        if opt.progress && last_progress.elapsed() >= Duration::from_secs(1) {
            progress(&cpus, start.elapsed(), last_kernel.as_ref());
            last_progress = Instant::now();
            shown_progress = true;
        }
    }
    // Stop: everything still in the buffers goes out.
    for cpu in cpus.keys().copied().collect::<Vec<_>>() {
        let left = room(&cpus);
        cpus.get_mut(&cpu)
            .expect("a CPU just listed")
            .drain(true, left)?;
    }
    tell_fallback(&cpus, &mut told);
    if shown_progress {
        eprintln!();
    }
    for c in cpus.values_mut() {
        c.sink.finish()?;
    }
    let seconds = start.elapsed().as_secs_f64();
    let bytes = cpus.values().map(|c| c.bytes).sum();
    let mut subbuf_headers = Vec::new();
    for c in cpus.values().filter(|c| c.headers) {
        if let Sink::File { path, .. } = &c.sink {
            subbuf_headers.extend(headers::scan_file(path)?);
        }
    }
    let now = read_kernel();
    let kernel_last_seen = now.is_none() && last_kernel.is_some();
    let kernel = now.or(last_kernel);
    let requested = opt.mode.unwrap_or(Mode::Mmap);
    let read_fallback = cpus.values().any(|c| c.refused.is_some());
    Ok(Summary {
        mode: if read_fallback { Mode::Read } else { requested },
        read_fallback,
        seconds,
        setup_seconds,
        bytes,
        mb_per_s: bytes as f64 / 1e6 / seconds.max(1e-9),
        cpus: cpus.iter().map(|(&k, c)| (k, c.bytes)).collect(),
        dropped_writes: kernel.as_ref().map(|s| s.total(|b| b.dropped + b.big)),
        lost_subbufs: kernel.as_ref().map(|s| s.total(|b| b.lost)),
        overwritten_subbufs: kernel.as_ref().map(|s| s.total(|b| b.overwritten)),
        kernel_last_seen,
        subbuf_headers,
    })
}

/// Says once that the default mode fell back to read().
fn tell_fallback(cpus: &BTreeMap<u32, Cpu>, told: &mut bool) {
    if *told {
        return;
    }
    if let Some((c, why)) = cpus
        .values()
        .find_map(|c| c.refused.as_ref().map(|why| (c, why)))
    {
        eprintln!(
            "rrelay: {}: cannot map it ({}); reading with read() instead",
            c.path.display(),
            why
        );
        *told = true;
    }
}

/// One progress line; `kernel` is the statistics as last read.
fn progress(cpus: &BTreeMap<u32, Cpu>, elapsed: Duration, kernel: Option<&stats::ChannelStats>) {
    let total: u64 = cpus.values().map(|c| c.bytes).sum();
    let drops = kernel.map_or("n/a".to_string(), |s| {
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
        "recorded {} in {:.2} s ({:.2} MB/s, {} mode{})",
        human(s.bytes),
        s.seconds,
        s.mb_per_s,
        format!("{:?}", s.mode).to_lowercase(),
        if s.read_fallback {
            ": the files cannot be mapped"
        } else {
            ""
        }
    )?;
    for (cpu, b) in &s.cpus {
        writeln!(out, "  cpu{cpu:<4} {:>12} bytes", b)?;
    }
    match (s.dropped_writes, s.overwritten_subbufs, s.lost_subbufs) {
        (Some(d), Some(o), Some(l)) => writeln!(
            out,
            "kernel counted: {d} writes dropped, {o} sub-buffers overwritten, {l} sub-buffers lost by readers{}",
            if s.kernel_last_seen {
                " (as last seen: the channel closed before the stop)"
            } else {
                ""
            }
        )?,
        _ => writeln!(
            out,
            "kernel counts: not available (no rrelay stats for this channel)"
        )?,
    }
    if !s.subbuf_headers.is_empty() {
        writeln!(out, "sub-buffer headers:")?;
    }
    for b in &s.subbuf_headers {
        b.print(10, out)?;
    }
    Ok(())
}

/// Whether progress goes to a terminal.
pub fn stderr_is_tty() -> bool {
    std::io::stderr().is_terminal()
}

#[cfg(test)]
thread_local! {
    /// Tests: splice fails with `EINVAL`, as on a kernel relay file.
    static REFUSE_SPLICE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Plain files stand in for relay files: read() drains them, then
    /// returns 0, as a relay file does when empty.
    pub(super) struct Fixture {
        pub(super) root: PathBuf,
        pub(super) source: Source,
        pub(super) out: Output,
    }

    impl Fixture {
        pub(super) fn new(name: &str) -> Self {
            let root =
                std::env::temp_dir().join(format!("rrelay-rec-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&root);
            let input = root.join("in");
            std::fs::create_dir_all(&input).unwrap();
            std::fs::write(input.join("t0"), vec![7u8; 300_000]).unwrap();
            std::fs::write(input.join("t3"), b"cpu three").unwrap();
            Fixture {
                source: Source::Files {
                    dir: input,
                    base: "t".to_string(),
                    debugfs: root.join("no-debugfs"),
                    stats: None,
                },
                out: Output::Dir(root.join("out")),
                root,
            }
        }

        /// Options for recording the `t<cpu>` files.
        pub(super) fn options(&self, mode: Option<Mode>, duration: Duration) -> Options<'_> {
            Options {
                source: &self.source,
                out: &self.out,
                mode,
                duration: Some(duration),
                bytes: None,
                force: false,
                progress: false,
                wait: Duration::ZERO,
            }
        }

        pub(super) fn out(&self, name: &str) -> Vec<u8> {
            let Output::Dir(dir) = &self.out else {
                panic!("not a directory")
            };
            std::fs::read(dir.join(name)).unwrap()
        }
    }

    impl Drop for Fixture {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.root);
        }
    }

    fn run(mode: Option<Mode>, name: &str) -> Summary {
        let f = Fixture::new(name);
        let s = record(&f.options(mode, Duration::from_millis(200))).unwrap();
        assert_eq!(s.bytes, 300_009);
        assert_eq!(s.cpus.keys().copied().collect::<Vec<_>>(), [0, 3]);
        assert_eq!(f.out("t0"), vec![7u8; 300_000]);
        assert_eq!(f.out("t3"), b"cpu three");
        assert!(s.dropped_writes.is_none());
        s
    }

    #[test]
    fn read_mode_drains_every_cpu_file() {
        assert_eq!(run(Some(Mode::Read), "read").mode, Mode::Read);
    }

    #[test]
    fn splice_mode_drains_every_cpu_file() {
        let s = run(Some(Mode::Splice), "splice");
        assert_eq!((s.mode, s.read_fallback), (Mode::Splice, false));
    }

    #[test]
    fn the_default_mode_reads_files_it_cannot_map() {
        // Plain files have no rrelay ioctls (the guest tests the mapping of
        // rrelay's own files).
        let s = run(None, "fallback");
        assert_eq!((s.mode, s.read_fallback), (Mode::Read, true));
    }

    #[test]
    fn an_explicit_splice_mode_does_not_fall_back() {
        let f = Fixture::new("no-fallback");
        REFUSE_SPLICE.with(|r| r.set(true));
        let e = record(&f.options(Some(Mode::Splice), Duration::ZERO)).unwrap_err();
        REFUSE_SPLICE.with(|r| r.set(false));
        let e = crate::error::one_line(&e);
        assert!(e.ends_with("/in/t0: Invalid argument"), "{e}");
    }

    #[test]
    fn mmap_mode_refuses_files_without_rrelay_ioctls() {
        let f = Fixture::new("mmap");
        let e = record(&f.options(Some(Mode::Mmap), Duration::ZERO)).unwrap_err();
        let e = crate::error::one_line(&e);
        assert!(e.contains("/in/t0: not an rrelay buffer file"), "{e}");
        assert!(!e.contains("os error"), "{e}");
    }

    /// `--bytes N` takes exactly N bytes in every mode that can take
    /// plain files, and leaves the rest.
    #[test]
    fn the_byte_limit_is_exact() {
        for (i, mode) in [None, Some(Mode::Read), Some(Mode::Splice)]
            .into_iter()
            .enumerate()
        {
            for limit in [1, 10_000, 299_999, 300_000, 300_001, 400_000] {
                let f = Fixture::new(&format!("bytes-{i}-{limit}"));
                // Plain files never close: the limit or the duration ends it.
                let opt = Options {
                    bytes: Some(limit),
                    ..f.options(mode, Duration::from_millis(300))
                };
                let s = record(&opt).unwrap();
                let want = limit.min(300_009);
                assert_eq!(s.bytes, want, "{mode:?} --bytes {limit}");
                let got: u64 = s.cpus.values().sum();
                assert_eq!(got, want);
                let t0 = f.out("t0");
                assert_eq!(t0.len() as u64, limit.min(300_000), "{mode:?} {limit}");
                assert!(t0.iter().all(|&b| b == 7));
            }
        }
    }

    #[test]
    fn a_non_empty_output_directory_is_refused_unless_forced() {
        let f = Fixture::new("force");
        let Output::Dir(out) = &f.out else {
            unreachable!()
        };
        std::fs::create_dir_all(out).unwrap();
        // An empty directory is fine.
        record(&f.options(None, Duration::ZERO)).unwrap();
        let e = record(&f.options(None, Duration::ZERO)).unwrap_err();
        assert!(
            e.to_string().ends_with("/out: exists and is not empty (--force records into it, replacing its <base><cpu> files)"),
            "{e}"
        );
        // The earlier recording is untouched.
        assert_eq!(f.out("t3"), b"cpu three");
        // --force replaces the files, and those of CPUs not recorded again.
        std::fs::write(out.join("t9"), b"stale").unwrap();
        std::fs::write(out.join("notes"), b"kept").unwrap();
        let forced = Options {
            force: true,
            ..f.options(None, Duration::ZERO)
        };
        assert_eq!(record(&forced).unwrap().bytes, 300_009);
        assert!(!out.join("t9").exists());
        assert_eq!(f.out("notes"), b"kept");
        assert_eq!(f.out("t0").len(), 300_000);
        // A file is no directory, forced or not.
        let file = Output::Dir(f.root.join("in/t3"));
        let e = record(&Options {
            out: &file,
            ..forced
        })
        .unwrap_err();
        assert!(
            e.to_string().ends_with("exists and is not a directory"),
            "{e}"
        );
    }

    #[test]
    fn dash_is_stdout() {
        assert_eq!(Output::from_arg(Path::new("-")), Output::Stdout);
        assert_eq!(
            Output::from_arg(Path::new("./-")),
            Output::Dir(PathBuf::from("./-"))
        );
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
        let f = super::tests::Fixture::new("wait");
        let Source::Files { dir, .. } = &f.source else {
            unreachable!()
        };
        for old in ["t0", "t3"] {
            std::fs::remove_file(dir.join(old)).unwrap();
        }
        let (tmp, late) = (dir.join("late.tmp"), dir.join("t0"));
        let writer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            // Written aside, then renamed in: the file appears whole, as a
            // kernel's buffer file does (written in place, a recorder that
            // opened it between its creation and its write would rightly
            // find it empty).
            std::fs::write(&tmp, b"late").unwrap();
            std::fs::rename(tmp, late).unwrap();
        });
        let opt = Options {
            wait: Duration::from_secs(10),
            ..f.options(Some(Mode::Read), Duration::ZERO)
        };
        assert_eq!(record(&opt).unwrap().bytes, 4);
        writer.join().unwrap();
    }

    #[test]
    fn waits_for_a_channel_that_opens_late() {
        let root = std::env::temp_dir().join(format!("rrelay-wait-chan-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let debugfs = root.join("debug");
        std::fs::create_dir_all(debugfs.join("rrelay")).unwrap();
        let chan = debugfs.join("rrelay/late");
        let files = debugfs.join("client");
        let writer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            std::fs::create_dir_all(&files).unwrap();
            std::fs::write(files.join("trace1"), b"on cpu 1").unwrap();
            std::fs::create_dir_all(&chan).unwrap();
            // Written aside, then renamed in, so that it appears whole.
            let tmp = chan.with_extension("tmp");
            std::fs::write(
                &tmp,
                "channel trace\ndir /client\ncpu produced consumed bytes_written bytes_read full big dropped overwritten lost\n1 0 0 0 0 0 0 0 0 0\n",
            )
            .unwrap();
            std::fs::rename(tmp, chan.join("stats")).unwrap();
        });
        let source = Source::Channel {
            debugfs,
            name: "late".to_string(),
        };
        let out = Output::Dir(root.join("out"));
        let opt = Options {
            source: &source,
            out: &out,
            mode: None,
            duration: Some(Duration::ZERO),
            bytes: None,
            force: false,
            progress: false,
            wait: Duration::from_secs(10),
        };
        let s = record(&opt).unwrap();
        writer.join().unwrap();
        assert_eq!((s.bytes, s.dropped_writes), (8, Some(0)));
        assert_eq!(std::fs::read(root.join("out/trace1")).unwrap(), b"on cpu 1");
        std::fs::remove_dir_all(&root).unwrap();
    }
}
