// SPDX-License-Identifier: GPL-2.0

//! Statistics: per-buffer loss and traffic counters, and the read-only
//! debugfs view of every open channel (`<debugfs>/rrelay/<channel>/stats`).
//!
//! The `stats` file is text, one `key value` pair per line for the channel,
//! then one line per buffer under a header line (the reader tool parses it;
//! README.md documents it):
//!
//! ```text
//! channel cpu
//! subbuf_size 4096
//! n_subbufs 8
//! alloc_size 32768
//! global 0
//! buffers 4
//! dir /mydir
//! cpu produced consumed bytes_written bytes_read full big dropped overwritten lost
//! 0 12 12 49152 49152 0 0 0 0 0
//! ```
//!
//! `dir` is the directory of the buffer files, as a path from debugfs's root
//! (`/` for the root itself); the rest of the line is the path, spaces and
//! all. It is left out when the files are not on debugfs (a client's
//! `create_buf_file` may put them anywhere) or their path does not fit.

use crate::subbuf::Event;
// `core` atomics: the sub-buffer switch counts inline (`lock add`); the
// kernel crate's 64-bit atomics are out-of-line helper calls in 7.2.
use core::sync::atomic::{AtomicU64 as Atomic, Ordering::Relaxed};

/// The counters of one buffer. Writers update them with relaxed atomics
/// (`lock add` on x86); readers of the figures take a snapshot.
pub(crate) struct BufStats {
    full: Atomic,
    big: Atomic,
    dropped: Atomic,
    overwritten: Atomic,
    lost: Atomic,
    bytes_written: Atomic,
    bytes_read: Atomic,
}

/// A snapshot of [`BufStats`], laid out as `struct rrelay_buf_stats`.
#[repr(C)]
#[derive(Default, Clone, Copy)]
pub(crate) struct StatsSnapshot {
    pub(crate) produced: u64,
    pub(crate) consumed: u64,
    pub(crate) bytes_written: u64,
    pub(crate) bytes_read: u64,
    pub(crate) full: u64,
    pub(crate) big: u64,
    pub(crate) dropped: u64,
    pub(crate) overwritten: u64,
    pub(crate) lost: u64,
}
crate::layout::assert_layout!(
    rrelay_buf_stats = StatsSnapshot {
        produced,
        consumed,
        bytes_written,
        bytes_read,
        full,
        big,
        dropped,
        overwritten,
        lost,
    }
);

/// `RRELAY_STATS_*` flags of `rrelay_stats`.
pub(crate) const STATS_BUF_FULL: c_int = 1 << 0;
pub(crate) const STATS_WRT_BIG: c_int = 1 << 1;
pub(crate) const STATS_DROPPED: c_int = 1 << 2;
pub(crate) const STATS_OVERWRITTEN: c_int = 1 << 3;
pub(crate) const STATS_LOST: c_int = 1 << 4;

use kernel::ffi::c_int;

impl BufStats {
    pub(crate) const fn new() -> Self {
        BufStats {
            full: Atomic::new(0),
            big: Atomic::new(0),
            dropped: Atomic::new(0),
            overwritten: Atomic::new(0),
            lost: Atomic::new(0),
            bytes_written: Atomic::new(0),
            bytes_read: Atomic::new(0),
        }
    }

    fn counter(&self, event: Event) -> &Atomic {
        match event {
            Event::Full => &self.full,
            Event::TooBig => &self.big,
            Event::Dropped => &self.dropped,
            Event::Overwritten => &self.overwritten,
        }
    }

    pub(crate) fn count(&self, event: Event) {
        self.counter(event).fetch_add(1, Relaxed);
    }

    pub(crate) fn add_written(&self, bytes: usize) {
        self.bytes_written.fetch_add(bytes as u64, Relaxed);
    }

    pub(crate) fn add_read(&self, bytes: usize) {
        self.bytes_read.fetch_add(bytes as u64, Relaxed);
    }

    pub(crate) fn add_lost(&self, subbufs: usize) {
        self.lost.fetch_add(subbufs as u64, Relaxed);
    }

    pub(crate) fn reset(&self) {
        for c in [
            &self.full,
            &self.big,
            &self.dropped,
            &self.overwritten,
            &self.lost,
            &self.bytes_written,
            &self.bytes_read,
        ] {
            c.store(0, Relaxed);
        }
    }

    /// The counters, with the buffer's `produced` and `consumed`.
    pub(crate) fn snapshot(&self, produced: usize, consumed: usize) -> StatsSnapshot {
        StatsSnapshot {
            produced: produced as u64,
            consumed: consumed as u64,
            bytes_written: self.bytes_written.load(Relaxed),
            bytes_read: self.bytes_read.load(Relaxed),
            full: self.full.load(Relaxed),
            big: self.big.load(Relaxed),
            dropped: self.dropped.load(Relaxed),
            overwritten: self.overwritten.load(Relaxed),
            lost: self.lost.load(Relaxed),
        }
    }
}

impl StatsSnapshot {
    /// The counter `flags` selects (`rrelay_stats`), as `relay_stats`
    /// selects it: the first of the set flags in the order below counts
    /// alone, and flags rrelay does not know give 0.
    pub(crate) fn select(&self, flags: c_int) -> u64 {
        let counters = [
            (STATS_BUF_FULL, self.full),
            (STATS_WRT_BIG, self.big),
            (STATS_DROPPED, self.dropped),
            (STATS_OVERWRITTEN, self.overwritten),
            (STATS_LOST, self.lost),
        ];
        let known = counters.iter().fold(0, |all, (f, _)| all | f);
        if flags & !known != 0 {
            return 0;
        }
        counters
            .iter()
            .find(|(f, _)| flags & f != 0)
            .map_or(0, |(_, v)| *v)
    }
}

mod view {
    //! The debugfs view, on `kernel::debugfs`: `rrelay/` at load, a
    //! directory per open channel with a `stats` file whose text is made
    //! at each read.

    use crate::channel::Rchan;
    use core::fmt::Write;
    use kernel::bindings;
    use kernel::debugfs::{Dir, File};
    use kernel::prelude::*;
    use kernel::str::CString;
    use kernel::sync::atomic::Relaxed;
    use kernel::sync::Arc;

    /// `<debugfs>/rrelay`, and the names of the directories in it.
    struct Root {
        dir: Option<Dir>,
        /// Every channel directory's name, from before it is made until
        /// after it is removed: a name is free only once its directory is
        /// gone (a channel closing meanwhile still has its own).
        names: KVec<CString>,
    }

    kernel::sync::global_lock! {
        // SAFETY: Initialized in module init, before any channel can be
        // opened.
        unsafe(uninit) static ROOT: Mutex<Root> = Root {
            dir: None,
            names: KVec::new(),
        };
    }

    /// `<debugfs>/rrelay`, made at module load.
    pub(crate) fn create_root() {
        // SAFETY: Called once, from module init, before anything uses it.
        unsafe { ROOT.init() };
        ROOT.lock().dir = Some(Dir::new(c"rrelay"));
    }

    /// Removes `<debugfs>/rrelay` (no channel is open).
    pub(crate) fn remove_root() {
        let mut root = ROOT.lock();
        drop(root.dir.take());
        root.names = KVec::new();
    }

    /// What a channel's `stats` file shows.
    ///
    /// # Invariants
    ///
    /// `chan` is the channel whose [`View`] holds this: it outlives the
    /// file, which the channel's teardown removes (`remove_channel_dir`,
    /// waiting for reads in progress: the debugfs proxy) before the
    /// channel can go. A channel gets a view only once open succeeded, and
    /// every open channel is torn down.
    struct StatsText {
        chan: *const Rchan,
    }

    // SAFETY: A shared reference to a channel, which is `Sync`.
    unsafe impl Send for StatsText {}
    // SAFETY: As above.
    unsafe impl Sync for StatsText {}

    impl core::fmt::Debug for StatsText {
        fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
            // SAFETY: The channel outlives the file (type invariant).
            render(unsafe { &*self.chan }, f)
        }
    }

    /// A channel's directory in the view and its `stats` file (dropped
    /// first).
    pub(crate) struct View {
        _stats: Option<Pin<KBox<File<StatsText>>>>,
        _dir: Dir,
        /// The directory's name: `<base>`, or `<base>.N` when that is
        /// another channel's.
        name: CString,
    }

    /// Makes `rrelay/<base>` (or `<base>.N` when that is taken) with
    /// `stats`.
    pub(crate) fn add_channel_dir(chan: &Arc<Rchan>) {
        let Ok(base) = chan.base().to_str() else {
            return;
        };
        let mut root = ROOT.lock();
        let Root {
            dir: Some(parent),
            names,
        } = &mut *root
        else {
            return;
        };
        let Some(name) = (0..100)
            .filter_map(|n| match n {
                0 => CString::try_from_fmt(fmt!("{}", base)).ok(),
                n => CString::try_from_fmt(fmt!("{}.{}", base, n)).ok(),
            })
            .find(|name| !names.iter().any(|used| used.to_bytes() == name.to_bytes()))
        else {
            return;
        };
        let Ok(taken) = CString::try_from(&*name) else {
            return;
        };
        if names.push(taken, GFP_KERNEL).is_err() {
            return;
        }
        let dir = parent.subdir(&name);
        // INVARIANT: the file lives in `chan`'s view.
        let text = StatsText {
            chan: Arc::as_ptr(chan),
        };
        let stats = KBox::pin_init(dir.read_only_file(c"stats", text), GFP_KERNEL).ok();
        // Without its file the directory is kept anyway, name and all, until
        // the channel goes: removed the same way.
        *chan.view().lock() = Some(View {
            _stats: stats,
            _dir: dir,
            name,
        });
    }

    /// Removes a channel's directory, waiting for reads of its `stats` in
    /// progress; then its name is free.
    pub(crate) fn remove_channel_dir(chan: &Rchan) {
        let Some(view) = chan.view().lock().take() else {
            return;
        };
        let View { _stats, _dir, name } = view;
        drop(_stats);
        drop(_dir);
        let mut root = ROOT.lock();
        if let Some(i) = root
            .names
            .iter()
            .position(|used| used.to_bytes() == name.to_bytes())
        {
            // In range: just found.
            let _ = root.names.remove(i);
        }
    }

    /// The `stats` text of a channel (format in the comment atop this file).
    pub(crate) fn render(chan: &Rchan, out: &mut impl Write) -> core::fmt::Result {
        let g = chan.geometry();
        writeln!(out, "channel {}", chan.base().to_str().unwrap_or("?"))?;
        writeln!(out, "subbuf_size {}", g.subbuf_size())?;
        writeln!(out, "n_subbufs {}", g.n_subbufs())?;
        writeln!(out, "alloc_size {}", g.alloc_size(kernel::page::PAGE_SIZE))?;
        writeln!(out, "global {}", u8::from(chan.is_global()))?;
        writeln!(out, "closed {}", u8::from(chan.is_closed()))?;
        let mut n = 0;
        chan.for_each_buf(|_| n += 1);
        writeln!(out, "buffers {}", n)?;
        render_dir(chan, out)?;
        writeln!(
            out,
            "cpu produced consumed bytes_written bytes_read full big dropped overwritten lost"
        )?;
        let mut res = Ok(());
        // Process context, and `out` allocates: the walk under `bufs`, not
        // the any-context one (`Rchan::stats` holds RCU).
        chan.for_each_buf(|buf| {
            let (cpu, s) = (buf.cpu(), buf.stats_snapshot());
            if res.is_ok() {
                res = writeln!(
                    out,
                    "{} {} {} {} {} {} {} {} {} {}",
                    cpu,
                    s.produced,
                    s.consumed,
                    s.bytes_written,
                    s.bytes_read,
                    s.full,
                    s.big,
                    s.dropped,
                    s.overwritten,
                    s.lost
                );
            }
        });
        res
    }

    /// Writes the `dir` line: the directory of the channel's first buffer
    /// file, from debugfs's root (format in the comment atop this file).
    ///
    /// Called from a read of `stats` only: `teardown` removes this view
    /// (and waits for its reads) before it removes the buffer files, so a
    /// file's dentry stays alive while this runs.
    fn render_dir(chan: &Rchan, out: &mut impl Write) -> core::fmt::Result {
        let mut file: *mut bindings::dentry = core::ptr::null_mut();
        chan.for_each_buf(|buf| {
            if file.is_null() {
                file = buf.dentry.load(Relaxed);
            }
        });
        if file.is_null() {
            return Ok(());
        }
        // SAFETY: `file` is a buffer file's dentry, alive while this view is
        // (see above); a live dentry's superblock is live.
        let magic = unsafe { (*(*file).d_sb).s_magic };
        if magic != bindings::DEBUGFS_MAGIC as c_ulong {
            return Ok(());
        }
        let len = bindings::PATH_MAX as usize;
        let mut path = KVec::from_elem(0u8, len, GFP_KERNEL).map_err(|_| core::fmt::Error)?;
        // SAFETY: `file` is alive (above); `path` has `len` writable bytes.
        let p = unsafe { bindings::dentry_path_raw(file, path.as_mut_ptr().cast(), len as c_int) };
        if p.is_null() || kernel::error::from_err_ptr(p).is_err() {
            return Ok(());
        }
        // SAFETY: On success `dentry_path_raw` returns a NUL-terminated
        // string inside `path`, which outlives `full`.
        let full = unsafe { CStr::from_char_ptr(p) };
        let Ok(full) = full.to_str() else {
            return Ok(());
        };
        let dir = match full.rfind('/') {
            Some(0) => "/",
            Some(i) => &full[..i],
            None => return Ok(()),
        };
        if dir.contains('\n') {
            return Ok(());
        }
        writeln!(out, "dir {}", dir)
    }
}

pub(crate) use view::{add_channel_dir, create_root, remove_channel_dir, remove_root, View};

#[cfg(rrelay_kunit)]
#[kernel::prelude::kunit_tests(rrelay_stats)]
mod tests {
    use super::*;

    #[test]
    fn stats_flags_select_one_count_as_relay_does() {
        let s = StatsSnapshot {
            full: 1,
            big: 2,
            dropped: 3,
            overwritten: 4,
            lost: 5,
            ..StatsSnapshot::default()
        };
        assert_eq!(s.select(STATS_BUF_FULL), 1);
        assert_eq!(s.select(STATS_WRT_BIG), 2);
        assert_eq!(s.select(STATS_DROPPED), 3);
        assert_eq!(s.select(STATS_OVERWRITTEN), 4);
        assert_eq!(s.select(STATS_LOST), 5);
        // One flag counts: the first set, as relay_stats() has it.
        assert_eq!(s.select(STATS_BUF_FULL | STATS_WRT_BIG), 1);
        assert_eq!(s.select(STATS_WRT_BIG | STATS_LOST), 2);
        // Unknown flags give 0, alone or with known ones.
        assert_eq!(s.select(0), 0);
        assert_eq!(s.select(1 << 5), 0);
        assert_eq!(s.select(STATS_BUF_FULL | (1 << 9)), 0);
    }
}
