// SPDX-License-Identifier: GPL-2.0

//! rrelay's statistics view: `<debugfs>/rrelay/<channel>/stats`, parsed.
//!
//! The format (written by `src/stats.rs` in the module): `key value` lines
//! for the channel, a header line starting with `cpu`, then one line of
//! numbers per buffer in the header's column order. The `dir` line's value
//! is the rest of the line: the buffer files' directory, from debugfs's
//! root.

use anyhow::{bail, Context, Result};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// One buffer's row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BufRow {
    pub cpu: u64,
    pub produced: u64,
    pub consumed: u64,
    pub bytes_written: u64,
    pub bytes_read: u64,
    pub full: u64,
    pub big: u64,
    pub dropped: u64,
    pub overwritten: u64,
    pub lost: u64,
}

/// One channel's statistics.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChannelStats {
    pub channel: String,
    pub subbuf_size: u64,
    pub n_subbufs: u64,
    pub alloc_size: u64,
    pub global: bool,
    pub closed: bool,
    /// The buffer files' directory (the `dir` line: from debugfs's root,
    /// made absolute by [`ChannelStats::files_dir`]).
    pub dir: Option<String>,
    pub buffers: Vec<BufRow>,
}

const COLUMNS: [&str; 10] = [
    "cpu",
    "produced",
    "consumed",
    "bytes_written",
    "bytes_read",
    "full",
    "big",
    "dropped",
    "overwritten",
    "lost",
];

fn num(key: &str, v: &str) -> Result<u64> {
    v.parse()
        .with_context(|| format!("`{key}` is not a number: `{v}`"))
}

/// Parses the text of a `stats` file.
pub fn parse(text: &str) -> Result<ChannelStats> {
    let mut s = ChannelStats {
        channel: String::new(),
        subbuf_size: 0,
        n_subbufs: 0,
        alloc_size: 0,
        global: false,
        closed: false,
        dir: None,
        buffers: Vec::new(),
    };
    let mut columns: Option<Vec<&str>> = None;
    for (i, line) in text.lines().enumerate() {
        if columns.is_none() {
            if let Some(dir) = line.strip_prefix("dir ") {
                s.dir = Some(dir.to_string());
                continue;
            }
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.is_empty() {
            continue;
        }
        if let Some(cols) = &columns {
            if words.len() != cols.len() {
                bail!(
                    "line {}: {} fields, the header has {}",
                    i + 1,
                    words.len(),
                    cols.len()
                );
            }
            let mut row = [0u64; 10];
            for (name, v) in cols.iter().zip(&words) {
                if let Some(k) = COLUMNS.iter().position(|c| c == name) {
                    row[k] = num(name, v)?;
                }
            }
            let [cpu, produced, consumed, bytes_written, bytes_read, full, big, dropped, overwritten, lost] =
                row;
            s.buffers.push(BufRow {
                cpu,
                produced,
                consumed,
                bytes_written,
                bytes_read,
                full,
                big,
                dropped,
                overwritten,
                lost,
            });
            continue;
        }
        match words[..] {
            ["cpu", ..] => {
                if let Some(missing) = COLUMNS.iter().find(|c| !words.contains(c)) {
                    bail!("line {}: header without the `{missing}` column", i + 1);
                }
                columns = Some(words);
            }
            ["channel", name] => s.channel = name.to_string(),
            ["subbuf_size", v] => s.subbuf_size = num("subbuf_size", v)?,
            ["n_subbufs", v] => s.n_subbufs = num("n_subbufs", v)?,
            ["alloc_size", v] => s.alloc_size = num("alloc_size", v)?,
            ["global", v] => s.global = num("global", v)? != 0,
            ["closed", v] => s.closed = num("closed", v)? != 0,
            // Keys a newer module may add are skipped.
            [_, _] => {}
            _ => bail!("line {}: expected `key value`, got `{line}`", i + 1),
        }
    }
    if columns.is_none() {
        bail!("no `cpu ...` header line: not an rrelay stats file");
    }
    Ok(s)
}

/// Reads and parses one `stats` file.
pub fn read(path: &Path) -> Result<ChannelStats> {
    let text = std::fs::read_to_string(path).with_context(|| format!("{}", path.display()))?;
    parse(&text).with_context(|| format!("{}", path.display()))
}

impl ChannelStats {
    /// Sum of a column over the buffers.
    pub fn total(&self, f: impl Fn(&BufRow) -> u64) -> u64 {
        self.buffers.iter().map(f).sum()
    }

    /// The buffer files' directory, with debugfs mounted at `debugfs`.
    pub fn files_dir(&self, debugfs: &Path) -> Option<PathBuf> {
        let dir = self.dir.as_deref()?;
        Some(debugfs.join(dir.trim_start_matches('/')))
    }
}

/// `<debugfs>/rrelay`, or a message saying why it is not there.
fn root(debugfs: &Path) -> Result<PathBuf> {
    let root = debugfs.join("rrelay");
    if !root.is_dir() {
        bail!(
            "{}: not found (is debugfs mounted at {} and rrelay.ko loaded?)",
            root.display(),
            debugfs.display()
        );
    }
    Ok(root)
}

/// The `stats` file of channel `name` (its directory's name under
/// `<debugfs>/rrelay`, as `rrelay stat` shows it).
pub fn file(debugfs: &Path, name: &str) -> Result<PathBuf> {
    let dir = root(debugfs)?.join(name);
    let path = dir.join("stats");
    if name.is_empty() || name.contains('/') || !path.exists() {
        bail!(
            "{}: no such channel (`rrelay stat` lists the open ones)",
            dir.display()
        );
    }
    Ok(path)
}

/// The `stats` files of one or all channels.
pub fn files(debugfs: &Path, channel: Option<&str>) -> Result<Vec<PathBuf>> {
    if let Some(name) = channel {
        return Ok(vec![file(debugfs, name)?]);
    }
    let root = root(debugfs)?;
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&root)
        .with_context(|| format!("{}", root.display()))?
        .filter_map(|e| e.ok().map(|e| e.path().join("stats")))
        .filter(|p| p.exists())
        .collect();
    paths.sort();
    Ok(paths)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "channel buf\nsubbuf_size 256\nn_subbufs 4\nalloc_size 4096\nglobal 0\nclosed 0\nbuffers 2\n\
        cpu produced consumed bytes_written bytes_read full big dropped overwritten lost\n\
        0 4 1 800 200 13 0 13 0 0\n1 9 9 4608 4608 6 1 0 6 2\n";

    #[test]
    fn parses_the_module_format() {
        let s = parse(SAMPLE).unwrap();
        assert_eq!(s.channel, "buf");
        assert_eq!((s.subbuf_size, s.n_subbufs, s.alloc_size), (256, 4, 4096));
        assert!(!s.global && !s.closed);
        assert_eq!(s.buffers.len(), 2);
        assert_eq!(s.buffers[1].overwritten, 6);
        assert_eq!(s.buffers[1].lost, 2);
        assert_eq!(s.total(|b| b.dropped), 13);
    }

    #[test]
    fn columns_follow_the_header_order() {
        let text = "channel x\ncpu lost big dropped overwritten full bytes_read bytes_written consumed produced\n3 1 2 3 4 5 6 7 8 9\n";
        let b = &parse(text).unwrap().buffers[0];
        assert_eq!((b.cpu, b.lost, b.produced), (3, 1, 9));
    }

    #[test]
    fn rejects_what_is_not_a_stats_file() {
        assert!(parse("hello world\n").is_err());
        assert!(parse("").is_err());
        assert!(parse("channel x\ncpu produced\n").is_err());
        let short = SAMPLE.replace("0 4 1 800 200 13 0 13 0 0", "0 4 1");
        assert!(parse(&short).unwrap_err().to_string().contains("fields"));
        let nan = SAMPLE.replace("subbuf_size 256", "subbuf_size lots");
        assert!(parse(&nan).is_err());
    }

    #[test]
    fn the_dir_line_is_the_rest_of_the_line() {
        let s = parse(SAMPLE).unwrap();
        assert_eq!(s.dir, None);
        assert_eq!(s.files_dir(Path::new("/d")), None);
        let text = SAMPLE.replace("buffers 2\n", "buffers 2\ndir /my dir/x\n");
        let s = parse(&text).unwrap();
        assert_eq!(s.dir.as_deref(), Some("/my dir/x"));
        assert_eq!(
            s.files_dir(Path::new("/sys/kernel/debug")),
            Some(PathBuf::from("/sys/kernel/debug/my dir/x"))
        );
        let root = SAMPLE.replace("buffers 2\n", "buffers 2\ndir /\n");
        assert_eq!(
            parse(&root).unwrap().files_dir(Path::new("/dbg")),
            Some(PathBuf::from("/dbg/"))
        );
    }

    #[test]
    fn channels_are_found_by_name() {
        let debugfs = std::env::temp_dir().join(format!("rrelay-dbg-{}", std::process::id()));
        assert!(files(&debugfs, None)
            .unwrap_err()
            .to_string()
            .contains("is debugfs mounted"));
        std::fs::create_dir_all(debugfs.join("rrelay/buf")).unwrap();
        std::fs::create_dir_all(debugfs.join("rrelay/empty")).unwrap();
        std::fs::write(debugfs.join("rrelay/buf/stats"), SAMPLE).unwrap();
        assert_eq!(files(&debugfs, None).unwrap().len(), 1);
        assert!(file(&debugfs, "buf").is_ok());
        for bad in ["nosuch", "empty", "", "../rrelay/buf"] {
            let e = file(&debugfs, bad).unwrap_err().to_string();
            assert!(e.contains("no such channel"), "{bad}: {e}");
        }
        std::fs::remove_dir_all(&debugfs).unwrap();
    }

    #[test]
    fn skips_unknown_keys() {
        let text = SAMPLE.replace("global 0", "global 0\nfuture_key 7");
        assert_eq!(parse(&text).unwrap().buffers.len(), 2);
    }
}
