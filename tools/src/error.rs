// SPDX-License-Identifier: GPL-2.0

//! How a failure reaches the user: one line, `rrelay: ` then the causes
//! joined by `: ` (the path first, then why), without the standard
//! library's ` (os error N)` tail. A closed stdout (`EPIPE`, as in
//! `rrelay decode ... | head`) is not a failure: the program ends quietly
//! with status 0, as coreutils do.

use std::io::ErrorKind;

/// The error as one line, without `rrelay: `.
pub fn one_line(e: &anyhow::Error) -> String {
    e.chain()
        .map(|cause| strip_os_error(&cause.to_string()).replace('\n', " "))
        .collect::<Vec<_>>()
        .join(": ")
}

/// `No space left on device (os error 28)` without its tail.
pub fn strip_os_error(s: &str) -> &str {
    if let Some(i) = s.rfind(" (os error ") {
        let tail = &s[i + " (os error ".len()..];
        if let Some(code) = tail.strip_suffix(')') {
            if !code.is_empty() && code.bytes().all(|b| b.is_ascii_digit()) {
                return &s[..i];
            }
        }
    }
    s
}

/// Whether the error comes from writing to a pipe nobody reads any more.
pub fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == ErrorKind::BrokenPipe)
            || cause
                .downcast_ref::<rustix::io::Errno>()
                .is_some_and(|&errno| errno == rustix::io::Errno::PIPE)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn one_line_without_the_os_error_tail() {
        let io = std::io::Error::from_raw_os_error(28);
        assert!(io.to_string().ends_with("(os error 28)"));
        let e = anyhow::Error::from(io).context("/tmp/out/buf0");
        assert_eq!(one_line(&e), "/tmp/out/buf0: No space left on device");
        let errno: Result<(), _> = Err(rustix::io::Errno::NOTTY);
        let e = errno.context("/x/buf1").unwrap_err();
        assert_eq!(one_line(&e), "/x/buf1: Inappropriate ioctl for device");
        let multi = anyhow::anyhow!("first\nsecond");
        assert_eq!(one_line(&multi), "first second");
        // Only a real tail goes.
        assert_eq!(strip_os_error("x (os error )"), "x (os error )");
        assert_eq!(strip_os_error("x (os error 5) y"), "x (os error 5) y");
    }

    #[test]
    fn broken_pipes_are_recognised() {
        let io = std::io::Error::from(ErrorKind::BrokenPipe);
        assert!(is_broken_pipe(&anyhow::Error::from(io).context("stdout")));
        let errno: Result<(), _> = Err(rustix::io::Errno::PIPE);
        assert!(is_broken_pipe(&errno.context("splice").unwrap_err()));
        let other = std::io::Error::from(ErrorKind::NotFound);
        assert!(!is_broken_pipe(&anyhow::Error::from(other)));
    }
}
