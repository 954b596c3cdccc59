// SPDX-License-Identifier: GPL-2.0

//! An independent reference for the accounting: what a relay buffer promises,
//! written as the list of every sub-buffer ever started with its bytes, not
//! as counters over a ring. It uses nothing from `src/subbuf.rs`; the checker
//! in `sim` runs both side by side and compares them after every operation.
//!
//! The rules (`kernel/relay.c`, and rrelay's `include/rrelay.h`):
//! - A record that fits in the sub-buffer being written is appended to it.
//!   A record longer than a sub-buffer is refused as too big.
//! - Otherwise the writer finishes its sub-buffer (the rest is padding, never
//!   read) and asks the client's `subbuf_start` whether to go on into the
//!   next one. The buffer is full when the reader has released none of the
//!   last `n` finished sub-buffers; the default client stops then
//!   (no-overwrite), an overwriting one goes on. A client may also stop
//!   logging on its own (here: `paused`). When it refuses, the writer is
//!   stopped: each record is dropped (a flush or an empty record drops
//!   nothing) until a later attempt is allowed to start a sub-buffer. The
//!   first sub-buffer starts whatever the client answers, as in relay. The
//!   callback gets the sub-buffer just finished as `prev`; a retry finishes
//!   none and gets none.
//! - The client may reserve a header at the start of each new sub-buffer
//!   (`subbuf_start_reserve`); a header that leaves fewer than two bytes
//!   is ignored (relay's `BUG_ON`), and a record that no longer fits after
//!   the header is refused as too big. The header is part of the data.
//! - Sub-buffer `k` lives in slot `k % n`, so it is lost once sub-buffer
//!   `k + n` was started. A reader that finds its sub-buffer lost resumes
//!   at the oldest one not lost and counts those in between.
//! - A reader releases a finished sub-buffer once it read all of it; it
//!   reads the bytes of the sub-buffer being written as they come.
//! - `relay_subbufs_consumed(n)` releases `n` more sub-buffers, at most
//!   those finished, and is ignored for `n` above the number of slots.

use std::vec::Vec;

/// Record `i` of length `len`: bytes that name the record and position.
pub fn record(i: usize, len: usize) -> Vec<u8> {
    (0..len).map(|j| (i * 31 + j * 7 + 1) as u8).collect()
}

/// The header a client writes at the start of sub-buffer `k` (`len` bytes).
pub fn header(k: usize, len: usize) -> Vec<u8> {
    (0..len)
        .map(|j| 0x80 | ((k * 11 + j * 5) & 0x7f) as u8)
        .collect()
}

/// One `subbuf_start` call: the new sub-buffer's slot, the slot the writer
/// was in (`None` when the buffer is opened), and whether going on would
/// overwrite unread data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StartCall {
    pub slot: usize,
    pub prev: Option<usize>,
    pub full: bool,
}

/// What a buffer counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Attempts to start a sub-buffer that found the buffer full.
    pub full: usize,
    /// Records refused as longer than the room a sub-buffer has.
    pub too_big: usize,
    /// Records refused because the client did not go on.
    pub dropped: usize,
    /// Sub-buffers started over unread data.
    pub overwritten: usize,
    /// Sub-buffers a reader skipped because they were lost.
    pub lost: usize,
    /// Bytes in finished sub-buffers, padding excluded.
    pub written: usize,
}

/// The reference buffer.
#[derive(Debug, Clone)]
pub struct Reference {
    pub size: usize,
    pub n: usize,
    pub overwrite: bool,
    /// Every sub-buffer ever started, by absolute number, with its bytes.
    pub subbufs: Vec<Vec<u8>>,
    /// Whether the writer is in the last of `subbufs` (else it is stopped).
    pub writing: bool,
    /// The sub-buffer the reader is in; those before it are released.
    pub reader: usize,
    /// Bytes of it the reader already has.
    pub read_in: usize,
    /// Whether the client refuses every new sub-buffer.
    pub paused: bool,
    /// The header length the client asks for in each new sub-buffer.
    pub reserve: usize,
    pub counts: Counts,
    /// Every `subbuf_start` call, in order.
    pub starts: Vec<StartCall>,
}

impl Reference {
    /// A buffer as opened: the client is asked for the first sub-buffer.
    pub fn new(size: usize, n: usize, overwrite: bool, reserve: usize, paused: bool) -> Self {
        let mut r = Reference {
            size,
            n,
            overwrite,
            subbufs: Vec::new(),
            writing: false,
            reader: 0,
            read_in: 0,
            paused,
            reserve,
            counts: Counts::default(),
            starts: Vec::new(),
        };
        r.starts.push(StartCall {
            slot: 0,
            prev: None,
            full: false,
        });
        // relay ignores the client's answer for the first sub-buffer: it
        // starts either way, with the header of a client that went on.
        if paused {
            r.subbufs.push(Vec::new());
            r.writing = true;
        } else {
            r.begin();
        }
        r
    }

    /// Sub-buffers the writer is done with.
    pub fn finished(&self) -> usize {
        self.subbufs.len() - usize::from(self.writing)
    }

    /// Bytes in the sub-buffer being written (`None`: the writer is stopped).
    pub fn current_len(&self) -> Option<usize> {
        self.writing
            .then(|| self.subbufs[self.subbufs.len() - 1].len())
    }

    /// Whether sub-buffer `k` still holds its bytes: no sub-buffer reusing
    /// its slot was started.
    pub fn intact(&self, k: usize) -> bool {
        self.subbufs.len() <= k + self.n
    }

    /// `relay_write`: returns whether the record went in.
    pub fn write(&mut self, rec: &[u8]) -> bool {
        if self
            .current_len()
            .is_some_and(|used| used + rec.len() <= self.size)
        {
            self.append(rec);
            return true;
        }
        if rec.len() > self.size {
            self.counts.too_big += 1;
            return false;
        }
        if !self.switch(!rec.is_empty()) {
            return false;
        }
        if self.current_len().unwrap() + rec.len() > self.size {
            self.counts.too_big += 1;
            return false;
        }
        self.append(rec);
        true
    }

    /// `relay_flush`: finishes the current sub-buffer, even an empty one.
    pub fn flush(&mut self) {
        self.switch(false);
    }

    fn append(&mut self, rec: &[u8]) {
        let last = self.subbufs.len() - 1;
        self.subbufs[last].extend_from_slice(rec);
    }

    /// Leaves the current sub-buffer and asks for a new one; returns whether
    /// the writer is in a new one. `record`: a record waits and is dropped
    /// if refused.
    fn switch(&mut self, record: bool) -> bool {
        // The sub-buffer being finished is the callback's `prev`; a retry
        // of a stopped writer finishes none, and passes none (the last one
        // is complete, maybe read already: not for the callback to write).
        let prev = self.writing.then(|| (self.subbufs.len() - 1) % self.n);
        if let Some(used) = self.current_len() {
            self.counts.written += used;
            self.writing = false;
        }
        let full = self.finished() - self.reader >= self.n;
        if full {
            self.counts.full += 1;
        }
        self.starts.push(StartCall {
            slot: self.subbufs.len() % self.n,
            prev,
            full,
        });
        if self.paused || (full && !self.overwrite) {
            if record {
                self.counts.dropped += 1;
            }
            return false;
        }
        if full {
            self.counts.overwritten += 1;
        }
        self.begin();
        true
    }

    /// Starts the next sub-buffer, with the client's header if there is room.
    fn begin(&mut self) {
        let kept = if self.reserve + 2 <= self.size {
            self.reserve
        } else {
            0
        };
        self.subbufs.push(header(self.subbufs.len(), kept));
        self.writing = true;
    }

    /// `read()` of up to `max` bytes.
    pub fn read(&mut self, max: usize) -> Vec<u8> {
        let mut out = Vec::new();
        while out.len() < max {
            let started = self.subbufs.len();
            if started > self.reader + self.n {
                let oldest = started - self.n;
                self.counts.lost += oldest - self.reader;
                self.reader = oldest;
                self.read_in = 0;
                continue;
            }
            let finished = self.reader < self.finished();
            let Some(bytes) = self.subbufs.get(self.reader) else {
                break;
            };
            let take = (bytes.len() - self.read_in).min(max - out.len());
            out.extend_from_slice(&bytes[self.read_in..self.read_in + take]);
            self.read_in += take;
            if self.read_in < bytes.len() {
                continue;
            }
            if !finished {
                break;
            }
            self.reader += 1;
            self.read_in = 0;
        }
        out
    }

    /// `relay_subbufs_consumed`: the reader moves to the start of the
    /// sub-buffer it then stands at, if that is another one.
    pub fn subbufs_consumed(&mut self, n: usize) {
        if n > self.n {
            return;
        }
        let to = (self.reader + n).min(self.finished());
        if to != self.reader {
            self.reader = to;
            self.read_in = 0;
        }
    }
}
