// SPDX-License-Identifier: GPL-2.0

//! The `rrelay` binary as a user runs it: exit statuses, what goes to
//! stdout and stderr, a closed pipe, stdout as the output. Plain files
//! stand in for relay files and a directory for debugfs.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

#[path = "../../samples/record_format.rs"]
mod record_format;

use record_format::{Context, Header};

const RRELAY: &str = env!("CARGO_BIN_EXE_rrelay");

/// A scratch directory, removed at the end.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("rrelay-cli-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.0.join(rel)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn rrelay(args: &[&str]) -> Output {
    Command::new(RRELAY).args(args).output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `n` sample records of CPU `cpu`, process context, from `seq`.
fn records(cpu: u16, seq: u64, n: u64) -> Vec<u8> {
    let mut out = Vec::new();
    for s in seq..seq + n {
        let mut r = vec![0u8; record_format::record_len(16)];
        record_format::encode(
            &mut r,
            &Header {
                cpu,
                ctx: Context::Process,
                seq: s,
                timestamp_ns: s * 1000 + u64::from(cpu),
                len: 16,
            },
        );
        out.extend(r);
    }
    out
}

/// Waits for `child` at most `secs` seconds; kills it if it is still running.
fn wait_at_most(child: &mut Child, secs: u64) -> Option<std::process::ExitStatus> {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(secs) {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

/// Runs `args` with stdout a pipe that is closed at once: the program
/// must end quietly, with status 0.
fn closed_pipe(args: &[&str]) {
    let mut child = Command::new(RRELAY)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let status = wait_at_most(&mut child, 20).expect("still running with its stdout closed");
    let mut err = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert!(status.success(), "{args:?}: {status}, stderr {err:?}");
    assert_eq!(err, "", "{args:?}");
}

#[test]
fn a_closed_pipe_ends_decode_quietly() {
    let s = Scratch::new("pipe-decode");
    // Far more than a pipe holds.
    std::fs::write(s.path("t0"), records(0, 0, 20_000)).unwrap();
    closed_pipe(&["decode", s.path("t0").to_str().unwrap()]);
}

#[test]
fn a_closed_pipe_ends_stat_watch_quietly() {
    let s = Scratch::new("pipe-stat");
    std::fs::create_dir_all(s.path("rrelay/buf")).unwrap();
    std::fs::write(
        s.path("rrelay/buf/stats"),
        "channel buf\ncpu produced consumed bytes_written bytes_read full big dropped overwritten lost\n0 0 0 0 0 0 0 0 0 0\n",
    )
    .unwrap();
    // --watch loops for ever: only the closed pipe can end it.
    closed_pipe(&[
        "stat",
        "--debugfs",
        s.0.to_str().unwrap(),
        "--watch",
        "0.05",
    ]);
}

#[test]
fn a_closed_pipe_ends_record_to_stdout_quietly() {
    let s = Scratch::new("pipe-record");
    std::fs::write(s.path("t0"), vec![1u8; 1 << 20]).unwrap();
    closed_pipe(&[
        "record",
        "-d",
        s.0.to_str().unwrap(),
        "-b",
        "t",
        "-o",
        "-",
        "--drain",
    ]);
}

#[test]
fn errors_are_one_line_without_the_os_error_tail() {
    let s = Scratch::new("errors");
    let out = s.path("out");
    let o = rrelay(&[
        "record",
        "-d",
        "/nonexistent-rrelay",
        "-b",
        "x",
        "-o",
        out.to_str().unwrap(),
        "--drain",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        text(&o.stderr),
        "rrelay: /nonexistent-rrelay: No such file or directory\n"
    );
    let o = rrelay(&["cat", "nosuch", "--debugfs", s.0.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("rrelay: "), "{err}");
    assert!(err.contains("is debugfs mounted"), "{err}");
}

#[test]
fn record_to_stdout_writes_one_stream() {
    let s = Scratch::new("stdout");
    std::fs::write(s.path("t0"), records(0, 0, 100)).unwrap();
    std::fs::write(s.path("t2"), records(2, 0, 50)).unwrap();
    let o = rrelay(&[
        "record",
        "-d",
        s.0.to_str().unwrap(),
        "-b",
        "t",
        "-o",
        "-",
        "-m",
        "read",
        "--drain",
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(o.stdout, [records(0, 0, 100), records(2, 0, 50)].concat());
    // The summary goes to stderr, and no directory `-` is made.
    assert!(
        text(&o.stderr).starts_with("recorded 7.2 kB in "),
        "{}",
        text(&o.stderr)
    );
    assert!(!Path::new("-").exists());

    // ... which decode reads from stdin.
    let mut decode = Command::new(RRELAY)
        .args(["decode", "-", "--limit", "0"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    decode.stdin.take().unwrap().write_all(&o.stdout).unwrap();
    let d = decode.wait_with_output().unwrap();
    assert!(d.status.success());
    assert!(
        text(&d.stdout).starts_with("150 records, 0 corrupt"),
        "{}",
        text(&d.stdout)
    );
}

#[test]
fn decode_says_what_it_decodes() {
    let s = Scratch::new("not-sample");
    std::fs::write(s.path("notes.txt"), "just some text\n".repeat(100)).unwrap();
    let o = rrelay(&["decode", s.path("notes.txt").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("rrelay: no records decoded: decode reads the sample producers' records (samples/record_format.rs)"),
        "{err}"
    );
    let help = text(&rrelay(&["decode", "--help"]).stdout);
    assert!(help.contains("samples/record_format.rs"), "{help}");
    // An empty recording is accepted when asked; text never is (corrupt).
    std::fs::write(s.path("empty"), b"").unwrap();
    let o = rrelay(&["decode", "--allow-empty", s.path("empty").to_str().unwrap()]);
    assert!(o.status.success());
    let o = rrelay(&[
        "decode",
        "--allow-empty",
        s.path("notes.txt").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn zero_limits_are_refused() {
    for args in [
        &["record", "c", "--duration", "0"][..],
        &["record", "c", "--bytes", "0"],
        &["stat", "--watch", "0"],
    ] {
        let o = rrelay(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(text(&o.stderr).contains("must be more than 0"), "{args:?}");
    }
}

#[test]
fn record_bytes_takes_suffixes_and_stops_there() {
    let s = Scratch::new("bytes");
    std::fs::create_dir_all(s.path("in")).unwrap();
    std::fs::write(s.path("in/t0"), vec![3u8; 50_000]).unwrap();
    let o = rrelay(&[
        "record",
        "-d",
        s.path("in").to_str().unwrap(),
        "-b",
        "t",
        "-o",
        s.path("out").to_str().unwrap(),
        "--bytes",
        "10k",
        "--json",
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        text(&o.stdout).contains("\"bytes\": 10000,"),
        "{}",
        text(&o.stdout)
    );
    assert_eq!(std::fs::read(s.path("out/t0")).unwrap(), vec![3u8; 10_000]);
}
