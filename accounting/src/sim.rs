// SPDX-License-Identifier: GPL-2.0

//! A reference buffer for tests: single-threaded, built from the same
//! functions the module uses (`Geometry::reserve`, `switch`, `read_step`,
//! `consume`), with the data in a vector. The property tests and the fuzzer
//! drive it with operations and check what comes out.

use crate::*;
use std::cell::{Cell, RefCell};
use std::vec;
use std::vec::Vec;

/// A buffer: the writer state in cells, the data in a vector, and the counts.
pub struct Sim {
    pub g: Geometry,
    pub overwrite: bool,
    pub offset: Cell<usize>,
    pub produced: Cell<usize>,
    pub consumed: Cell<usize>,
    pub current: Cell<usize>,
    pub padding: RefCell<Vec<usize>>,
    pub reserve: Cell<usize>,
    pub data: RefCell<Vec<u8>>,
    pub events: RefCell<Vec<Event>>,
    pub published_bytes: Cell<usize>,
    pub reader: Cell<ReaderPos>,
    pub lost: Cell<usize>,
}

impl Writer for Sim {
    fn offset(&self) -> usize {
        self.offset.get()
    }
    fn set_offset(&self, offset: usize) {
        self.offset.set(offset)
    }
    fn produced(&self) -> usize {
        self.produced.get()
    }
    fn consumed(&self) -> usize {
        self.consumed.get()
    }
    fn current(&self) -> usize {
        self.current.get()
    }
    fn set_current(&self, slot: usize) {
        self.current.set(slot)
    }
    fn set_padding(&self, slot: usize, padding: usize) {
        self.padding.borrow_mut()[slot] = padding
    }
    fn publish(&self, produced: usize, bytes: usize) {
        self.produced.set(produced);
        self.published_bytes.set(self.published_bytes.get() + bytes);
    }
    fn subbuf_start(&self, _slot: usize, _prev: Option<usize>, full: bool) -> bool {
        self.overwrite || !full
    }
    fn take_start_reserve(&self) -> usize {
        self.reserve.replace(0)
    }
    fn count(&self, event: Event) {
        self.events.borrow_mut().push(event)
    }
}

impl Sim {
    pub fn new(subbuf_size: usize, n_subbufs: usize, overwrite: bool) -> Self {
        let g = Geometry::new(subbuf_size, n_subbufs).unwrap();
        let sim = Sim {
            g,
            overwrite,
            offset: Cell::new(0),
            produced: Cell::new(0),
            consumed: Cell::new(0),
            current: Cell::new(0),
            padding: RefCell::new(vec![0; n_subbufs]),
            reserve: Cell::new(0),
            data: RefCell::new(vec![0; g.data_size()]),
            events: RefCell::new(Vec::new()),
            published_bytes: Cell::new(0),
            reader: Cell::new(ReaderPos::default()),
            lost: Cell::new(0),
        };
        g.start(&sim);
        sim
    }

    /// `relay_write`: returns whether the record went in.
    pub fn write(&self, rec: &[u8]) -> bool {
        match self.g.reserve(self, rec.len()) {
            Some((pos, end)) => {
                self.data.borrow_mut()[pos..pos + rec.len()].copy_from_slice(rec);
                self.set_offset(end);
                true
            }
            None => false,
        }
    }

    pub fn flush(&self) {
        let _ = self.g.switch(self, 0);
    }

    fn snapshot(&self) -> WriterSnapshot {
        WriterSnapshot {
            produced: self.produced.get(),
            offset: self.offset.get(),
        }
    }

    /// `read()` of up to `max` bytes, as the file operation does it.
    pub fn read(&self, max: usize) -> Vec<u8> {
        let mut out = Vec::new();
        let pad = |slot: usize| self.padding.borrow()[slot];
        while out.len() < max {
            let w = self.snapshot();
            let r = self.reader.get();
            match self.g.read_step(w, r, pad) {
                ReadStep::Empty => break,
                ReadStep::Next => self.release(self.g.consume(w, r, 0, pad)),
                ReadStep::Skip { to, lost } => {
                    self.lost.set(self.lost.get() + lost);
                    self.release(ReaderPos {
                        consumed: to,
                        bytes_consumed: 0,
                    });
                }
                ReadStep::Data { start, len } => {
                    let n = len.min(max - out.len());
                    out.extend_from_slice(&self.data.borrow()[start..start + n]);
                    assert!(self.g.intact(self.snapshot(), r.consumed));
                    self.release(self.g.consume(w, r, n, pad));
                }
            }
        }
        out
    }

    fn release(&self, pos: ReaderPos) {
        self.reader.set(pos);
        self.consumed.set(pos.consumed);
    }

    pub fn count(&self, e: Event) -> usize {
        self.events.borrow().iter().filter(|x| **x == e).count()
    }
}

/// One operation on a buffer.
#[derive(Debug, Clone)]
pub enum Op {
    /// A record of this many bytes.
    Write(usize),
    /// A read() of up to this many bytes.
    Read(usize),
    /// rrelay_flush.
    Flush,
}

/// Record `i` of length `len`: bytes that name the record and position.
pub fn record(i: usize, len: usize) -> Vec<u8> {
    (0..len).map(|j| (i * 31 + j * 7 + 1) as u8).collect()
}

macro_rules! ensure {
    ($cond:expr, $($msg:tt)*) => {
        if !$cond {
            return Err(std::format!($($msg)*));
        }
    };
}

/// Runs `ops` on a no-overwrite buffer: the reader must get exactly the
/// accepted records, in order, and every refused record must be counted.
pub fn check_no_overwrite(
    subbuf_size: usize,
    n_subbufs: usize,
    ops: &[Op],
) -> Result<(), std::string::String> {
    let sim = Sim::new(subbuf_size, n_subbufs, false);
    let (mut accepted, mut read) = (Vec::new(), Vec::new());
    let (mut writes, mut refused, mut refused_empty, mut flushes) = (0, 0, 0, 0);
    for (i, op) in ops.iter().enumerate() {
        match *op {
            Op::Write(len) => {
                let rec = record(i, len);
                writes += 1;
                if sim.write(&rec) {
                    accepted.extend_from_slice(&rec)
                } else {
                    refused += 1;
                    refused_empty += usize::from(len == 0);
                }
            }
            Op::Read(n) => read.extend(sim.read(n)),
            Op::Flush => {
                flushes += 1;
                sim.flush()
            }
        }
        ensure!(
            read[..] == accepted[..read.len()],
            "read is not a prefix of accepted after op {i}"
        );
    }
    sim.flush();
    read.extend(sim.read(usize::MAX));
    ensure!(
        sim.lost.get() == 0,
        "lost {} in no-overwrite",
        sim.lost.get()
    );
    ensure!(
        sim.count(Event::Overwritten) == 0,
        "overwritten in no-overwrite"
    );
    // Every refused record is counted exactly once, as dropped or too big
    // (zero-length records are never dropped: there is nothing to lose).
    ensure!(
        refused - refused_empty == sim.count(Event::TooBig) + sim.count(Event::Dropped),
        "refused {refused} ({refused_empty} empty) but counted {} big + {} dropped",
        sim.count(Event::TooBig),
        sim.count(Event::Dropped)
    );
    ensure!(writes >= refused, "more refused than written");
    // A final flush into a full buffer is refused; once drained, a second
    // flush publishes the rest, and then nothing accepted is missing.
    sim.flush();
    read.extend(sim.read(usize::MAX));
    ensure!(
        read == accepted,
        "read {} bytes, accepted {}",
        read.len(),
        accepted.len()
    );
    // relay's full count also counts flushes that found the buffer full.
    ensure!(
        sim.count(Event::Full) >= sim.count(Event::Dropped),
        "full < dropped"
    );
    ensure!(
        sim.count(Event::Full) <= sim.count(Event::Dropped) + refused_empty + flushes + 2,
        "full counts more than drops and flushes"
    );
    Ok(())
}

/// Runs `ops` on an overwrite buffer: what is read comes from accepted
/// records in their order, and the sub-buffers the reader lost are exactly
/// those the writer overwrote.
pub fn check_overwrite(
    subbuf_size: usize,
    n_subbufs: usize,
    ops: &[Op],
) -> Result<(), std::string::String> {
    let sim = Sim::new(subbuf_size, n_subbufs, true);
    let mut accepted = Vec::new();
    let mut read = Vec::new();
    for (i, op) in ops.iter().enumerate() {
        match *op {
            Op::Write(len) => {
                let rec = record(i, len);
                if sim.write(&rec) {
                    accepted.extend_from_slice(&rec)
                }
            }
            Op::Read(n) => read.extend(sim.read(n)),
            Op::Flush => sim.flush(),
        }
    }
    sim.flush();
    read.extend(sim.read(usize::MAX));
    ensure!(sim.count(Event::Dropped) == 0, "dropped in overwrite mode");
    ensure!(
        sim.lost.get() == sim.count(Event::Overwritten),
        "reader lost {} sub-buffers, writer overwrote {}",
        sim.lost.get(),
        sim.count(Event::Overwritten)
    );
    let mut it = accepted.iter();
    for b in &read {
        ensure!(
            it.any(|a| a == b),
            "read bytes are not a subsequence of accepted"
        );
    }
    Ok(())
}
