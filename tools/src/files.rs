// SPDX-License-Identifier: GPL-2.0

//! A channel's buffer files: `<dir>/<base><cpu>`, found by scanning (CPUs
//! come and go; their numbers need not be contiguous).

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};

/// The buffer files of channel `base` in `dir`, by CPU number.
pub fn scan(dir: &Path, base: &str) -> Result<Vec<(u32, PathBuf)>> {
    let entries = std::fs::read_dir(dir).with_context(|| format!("{}", dir.display()))?;
    let mut found = Vec::new();
    for entry in entries {
        let entry = entry.with_context(|| format!("{}", dir.display()))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(cpu) = name.strip_prefix(base) else {
            continue;
        };
        if !cpu.is_empty() && cpu.bytes().all(|b| b.is_ascii_digit()) {
            if let Ok(cpu) = cpu.parse() {
                found.push((cpu, entry.path()));
            }
        }
    }
    found.sort();
    Ok(found)
}

/// Like [`scan`], but at least one file must be there.
pub fn scan_some(dir: &Path, base: &str) -> Result<Vec<(u32, PathBuf)>> {
    let found = scan(dir, base)?;
    if found.is_empty() {
        bail!(
            "{}: no buffer files {base}<cpu> in this directory",
            dir.display()
        );
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_cpu_files_by_number_only() {
        let dir = std::env::temp_dir().join(format!("rrelay-scan-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for name in [
            "trace0", "trace2", "trace10", "trace", "tracex", "trace1a", "other0",
        ] {
            std::fs::write(dir.join(name), b"").unwrap();
        }
        let cpus: Vec<u32> = scan(&dir, "trace")
            .unwrap()
            .into_iter()
            .map(|(c, _)| c)
            .collect();
        assert_eq!(cpus, [0, 2, 10]);
        assert!(scan_some(&dir, "nothing")
            .unwrap_err()
            .to_string()
            .contains("no buffer files"));
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(scan(&dir, "trace").is_err());
    }
}
