// SPDX-License-Identifier: GPL-2.0

//! Which channel a command works on. `rrelay record|cat|stat CHANNEL` names
//! an rrelay channel as its statistics view does (`<debugfs>/rrelay/
//! <CHANNEL>`, listed by `rrelay stat`): the view gives the base name of the
//! buffer files and their directory. `-d DIR -b BASE` names the files of
//! any relay channel, the kernel's own included.

use crate::stats;
use anyhow::{bail, Result};
use std::path::{Path, PathBuf};

/// A channel, as the command line names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// By name, in rrelay's statistics view.
    Channel { debugfs: PathBuf, name: String },
    /// By its files, `<dir>/<base><cpu>`. Its statistics, if rrelay has
    /// them, are those of the channel `stats` names; by default the one
    /// named like the base whose files are these.
    Files {
        dir: PathBuf,
        base: String,
        debugfs: PathBuf,
        stats: Option<String>,
    },
}

/// Where a channel's buffer files are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Files {
    pub dir: PathBuf,
    pub base: String,
    /// rrelay's statistics file for the channel (none for other relays).
    pub stats: Option<PathBuf>,
}

impl Source {
    /// Finds the files; a channel named in the statistics view must be
    /// open, and the view must say where its files are.
    pub fn resolve(&self) -> Result<Files> {
        match self {
            Source::Files {
                dir,
                base,
                debugfs,
                stats,
            } => Ok(Files {
                dir: dir.clone(),
                base: base.clone(),
                stats: files_stats(dir, base, debugfs, stats.as_deref()),
            }),
            Source::Channel { debugfs, name } => {
                let path = stats::file(debugfs, name)?;
                let s = stats::read(&path)?;
                let Some(dir) = s.files_dir(debugfs) else {
                    bail!(
                        "{}: names no directory for the buffer files (an older rrelay.ko, or files off debugfs); use -d DIR -b BASE",
                        path.display()
                    );
                };
                Ok(Files {
                    dir,
                    base: s.channel,
                    stats: Some(path),
                })
            }
        }
    }

    /// The source from the command line: CHANNEL, or `-d DIR -b BASE`
    /// (whose statistics are rrelay's `stats_name`, default the base name,
    /// if it has that channel).
    pub fn from_args(
        channel: Option<&str>,
        dir: Option<&Path>,
        base: Option<&str>,
        stats_name: Option<&str>,
        debugfs: &Path,
    ) -> Result<Self> {
        match (channel, dir, base) {
            (Some(name), None, None) => Ok(Source::Channel {
                debugfs: debugfs.to_path_buf(),
                name: name.to_string(),
            }),
            (None, Some(dir), Some(base)) => Ok(Source::Files {
                dir: dir.to_path_buf(),
                base: base.to_string(),
                debugfs: debugfs.to_path_buf(),
                stats: stats_name.map(str::to_string),
            }),
            _ => bail!("name the channel (CHANNEL) or its files (-d DIR -b BASE)"),
        }
    }
}

/// The statistics of the files `<dir>/<base><cpu>`: those of channel
/// `name` if given, else those of the channel named like the base if its
/// files are in `dir` (a module without the `dir` line is taken at its
/// word).
fn files_stats(dir: &Path, base: &str, debugfs: &Path, name: Option<&str>) -> Option<PathBuf> {
    let file = debugfs
        .join("rrelay")
        .join(name.unwrap_or(base))
        .join("stats");
    if !file.exists() {
        return None;
    }
    if name.is_some() {
        return Some(file);
    }
    let theirs = stats::read(&file).ok()?.files_dir(debugfs);
    let same = |a: &Path, b: &Path| match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    };
    match theirs {
        Some(theirs) if !same(&theirs, dir) => None,
        _ => Some(file),
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Channel { debugfs, name } => write!(
                f,
                "channel {name} ({})",
                debugfs.join("rrelay").join(name).display()
            ),
            Source::Files { dir, base, .. } => write!(f, "{}/{base}<cpu>", dir.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_channel_name_leads_to_its_files() {
        let debugfs = std::env::temp_dir().join(format!("rrelay-src-{}", std::process::id()));
        std::fs::create_dir_all(debugfs.join("rrelay/buf.1")).unwrap();
        std::fs::create_dir_all(debugfs.join("rrelay/old")).unwrap();
        let header =
            "cpu produced consumed bytes_written bytes_read full big dropped overwritten lost\n";
        std::fs::write(
            debugfs.join("rrelay/buf.1/stats"),
            format!("channel buf\nbuffers 0\ndir /client dir\n{header}"),
        )
        .unwrap();
        std::fs::write(
            debugfs.join("rrelay/old/stats"),
            format!("channel old\n{header}"),
        )
        .unwrap();
        let by_name = |name: &str| {
            Source::from_args(Some(name), None, None, None, &debugfs)
                .unwrap()
                .resolve()
        };
        let f = by_name("buf.1").unwrap();
        assert_eq!(f.dir, debugfs.join("client dir"));
        assert_eq!(f.base, "buf");
        assert_eq!(f.stats, Some(debugfs.join("rrelay/buf.1/stats")));
        let e = format!("{:#}", by_name("old").unwrap_err());
        assert!(e.contains("names no directory"), "{e}");
        let e = format!("{:#}", by_name("nosuch").unwrap_err());
        assert!(e.contains("no such channel"), "{e}");

        // -d/-b: rrelay's statistics of the channel named like the base,
        // if its files are these; of the channel --stats names.
        let files = |dir: &Path, base: &str, stats: Option<&str>| {
            Source::from_args(None, Some(dir), Some(base), stats, &debugfs)
                .unwrap()
                .resolve()
                .unwrap()
        };
        let client = debugfs.join("client dir");
        std::fs::create_dir_all(&client).unwrap();
        let buf1 = Some(debugfs.join("rrelay/buf.1/stats"));
        assert_eq!(files(&client, "buf.1", None).stats, buf1);
        assert_eq!(files(&client, "buf.1", None).dir, client);
        // The same base in another directory: another channel (the
        // kernel's relay, say).
        assert_eq!(files(Path::new("/x"), "buf.1", None).stats, None);
        assert_eq!(files(Path::new("/x"), "t", Some("buf.1")).stats, buf1);
        assert_eq!(files(Path::new("/x"), "buf.1", Some("nosuch")).stats, None);
        // A stats file without the directory line is taken at its word.
        assert_eq!(
            files(Path::new("/x"), "old", None).stats,
            Some(debugfs.join("rrelay/old/stats"))
        );
        std::fs::remove_dir_all(&debugfs).unwrap();
        assert!(Source::from_args(None, Some(Path::new("/x")), None, None, &debugfs).is_err());
    }
}
