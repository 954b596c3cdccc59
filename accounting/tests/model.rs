// SPDX-License-Identifier: GPL-2.0

//! The accounting against a model: a single-threaded buffer built from the
//! same functions the module uses, fed random operations.

use proptest::prelude::*;
use rrelay_accounting::*;
use std::cell::{Cell, RefCell};

/// A buffer: the writer state in cells, the data in a vector, and the counts.
struct Sim {
    g: Geometry,
    overwrite: bool,
    offset: Cell<usize>,
    produced: Cell<usize>,
    consumed: Cell<usize>,
    current: Cell<usize>,
    padding: RefCell<Vec<usize>>,
    reserve: Cell<usize>,
    data: RefCell<Vec<u8>>,
    events: RefCell<Vec<Event>>,
    published_bytes: Cell<usize>,
    reader: Cell<ReaderPos>,
    lost: Cell<usize>,
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
    fn new(subbuf_size: usize, n_subbufs: usize, overwrite: bool) -> Self {
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
    fn write(&self, rec: &[u8]) -> bool {
        match self.g.reserve(self, rec.len()) {
            Some((pos, end)) => {
                self.data.borrow_mut()[pos..pos + rec.len()].copy_from_slice(rec);
                self.set_offset(end);
                true
            }
            None => false,
        }
    }

    fn flush(&self) {
        let _ = self.g.switch(self, 0);
    }

    fn snapshot(&self) -> WriterSnapshot {
        WriterSnapshot {
            produced: self.produced.get(),
            offset: self.offset.get(),
        }
    }

    /// `read()` of up to `max` bytes, as the file operation does it.
    fn read(&self, max: usize) -> Vec<u8> {
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

    fn count(&self, e: Event) -> usize {
        self.events.borrow().iter().filter(|x| **x == e).count()
    }
}

#[derive(Debug, Clone)]
enum Op {
    Write(usize),
    Read(usize),
    Flush,
}

fn ops(max_len: usize) -> impl Strategy<Value = Vec<Op>> {
    prop::collection::vec(
        prop_oneof![
            6 => (0..=max_len).prop_map(Op::Write),
            2 => (1..=3 * max_len).prop_map(Op::Read),
            1 => Just(Op::Flush),
        ],
        0..200,
    )
}

/// Record `i` of length `len`: bytes that name the record and position.
fn record(i: usize, len: usize) -> Vec<u8> {
    (0..len).map(|j| (i * 31 + j * 7 + 1) as u8).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// No-overwrite: the reader gets exactly the accepted records, in order,
    /// and every refused write is counted as dropped or too big.
    #[test]
    fn no_overwrite_loses_nothing_silently(
        subbuf_size in 1usize..64, n_subbufs in 1usize..6, ops in ops(70)
    ) {
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
                Op::Flush => { flushes += 1; sim.flush() }
            }
            prop_assert_eq!(&read[..], &accepted[..read.len()]);
        }
        sim.flush();
        read.extend(sim.read(usize::MAX));
        prop_assert_eq!(sim.lost.get(), 0);
        prop_assert_eq!(sim.count(Event::Overwritten), 0);
        // Every refused record is counted exactly once, as dropped or too big
        // (zero-length records are never dropped: there is nothing to lose).
        prop_assert_eq!(refused - refused_empty, sim.count(Event::TooBig) + sim.count(Event::Dropped));
        prop_assert!(writes >= refused);
        // A final flush into a full buffer is refused; once drained, a second
        // flush publishes the rest, and then nothing accepted is missing.
        sim.flush();
        read.extend(sim.read(usize::MAX));
        prop_assert_eq!(&read, &accepted);
        // relay's full count also counts flushes that found the buffer full.
        prop_assert!(sim.count(Event::Full) >= sim.count(Event::Dropped));
        prop_assert!(sim.count(Event::Full) <= sim.count(Event::Dropped) + refused_empty + flushes + 2);
    }

    /// Overwrite: what is read comes from accepted records in their order,
    /// and the sub-buffers the reader lost are the ones the writer overwrote.
    #[test]
    fn overwrite_reports_every_lost_subbuffer(
        subbuf_size in 1usize..64, n_subbufs in 2usize..6, ops in ops(70)
    ) {
        let sim = Sim::new(subbuf_size, n_subbufs, true);
        let mut accepted = Vec::new();
        let mut read = Vec::new();
        for (i, op) in ops.iter().enumerate() {
            match *op {
                Op::Write(len) => {
                    let rec = record(i, len);
                    if sim.write(&rec) { accepted.extend_from_slice(&rec) }
                }
                Op::Read(n) => read.extend(sim.read(n)),
                Op::Flush => sim.flush(),
            }
        }
        sim.flush();
        read.extend(sim.read(usize::MAX));
        prop_assert_eq!(sim.count(Event::Dropped), 0);
        prop_assert_eq!(sim.lost.get(), sim.count(Event::Overwritten));
        // Read bytes are a subsequence of the accepted bytes.
        let mut it = accepted.iter();
        for b in &read {
            prop_assert!(it.any(|a| a == b));
        }
        prop_assert!(read.len() <= accepted.len());
    }
}

#[test]
fn geometry_refuses_bad_sizes() {
    assert_eq!(Geometry::new(0, 4), Err(GeometryError::Zero));
    assert_eq!(Geometry::new(4096, 0), Err(GeometryError::Zero));
    assert_eq!(Geometry::new(usize::MAX, 2), Err(GeometryError::TooLarge));
    assert_eq!(
        Geometry::new(1 << 20, 1 << 12),
        Err(GeometryError::TooLarge)
    );
    let g = Geometry::new(1 << 20, (1 << 12) - 1).unwrap();
    assert_eq!(g.data_size(), (1 << 32) - (1 << 20));
    assert_eq!(Geometry::new(100, 3).unwrap().alloc_size(4096), 4096);
    assert_eq!(Geometry::new(4096, 3).unwrap().alloc_size(4096), 3 * 4096);
}

#[test]
fn full_buffer_stops_and_resumes_after_consume() {
    let sim = Sim::new(8, 2, false);
    assert!(sim.write(&[1; 8]));
    assert!(sim.write(&[2; 8]));
    // Third record: both sub-buffers unread, so it is dropped.
    assert!(!sim.write(&[3; 8]));
    assert!(!sim.write(&[4; 1]));
    assert_eq!(sim.count(Event::Full), 2);
    assert_eq!(sim.count(Event::Dropped), 2);
    // A flush into the full buffer counts as full (like relay), not dropped.
    sim.flush();
    assert_eq!(sim.count(Event::Full), 3);
    assert_eq!(sim.count(Event::Dropped), 2);
    assert_eq!(sim.read(8), vec![1; 8]);
    assert!(sim.write(&[5; 3]));
    assert_eq!(sim.read(100), [vec![2; 8], vec![5; 3]].concat());
}

#[test]
fn padding_is_never_read() {
    let sim = Sim::new(10, 4, false);
    assert!(sim.write(&[1; 6]));
    assert!(sim.write(&[2; 6])); // does not fit: 4 bytes of padding
    sim.flush();
    assert_eq!(*sim.padding.borrow(), vec![4, 4, 0, 0]);
    assert_eq!(sim.read(100), [vec![1; 6], vec![2; 6]].concat());
    assert_eq!(sim.published_bytes.get(), 12);
}

#[test]
fn too_big_is_counted_and_not_written() {
    let sim = Sim::new(16, 2, false);
    assert!(!sim.write(&[9; 17]));
    assert_eq!(sim.count(Event::TooBig), 1);
    assert!(sim.read(100).is_empty());
}

#[test]
fn lagging_reader_resumes_at_oldest_intact() {
    let sim = Sim::new(4, 3, true);
    for i in 0..5u8 {
        assert!(sim.write(&[i; 4]));
    }
    // Sub-buffers 0 and 1 were overwritten by 3 and 4 (4 is current).
    assert_eq!(sim.read(100), [vec![2; 4], vec![3; 4], vec![4; 4]].concat());
    assert_eq!(sim.lost.get(), 2);
    assert_eq!(sim.count(Event::Overwritten), 2);
}

#[test]
fn partial_current_subbuffer_is_readable_then_continues() {
    let sim = Sim::new(8, 2, false);
    assert!(sim.write(&[1; 3]));
    assert_eq!(sim.read(100), vec![1; 3]);
    assert!(sim.write(&[2; 3]));
    assert!(sim.write(&[3; 3])); // switches: sub-buffer 0 has padding 2
    assert_eq!(sim.read(100), [vec![2; 3], vec![3; 3]].concat());
    assert_eq!(sim.consumed.get(), 1);
}
