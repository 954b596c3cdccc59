//! The code under test as the module runs it: a single-threaded buffer built
//! from the same functions (`ring::start`, `reserve`, `commit`, `switch`,
//! `snapshot`, `complete`, and `read_step`, `consume`, `add_consumed`), with
//! the data in a vector and a client whose `subbuf_start` writes a header
//! and reserves it.
//!
//! [`check`] drives a [`Sim`] and the independent [`Reference`] with the same
//! operations and demands that they agree after each one: every accept and
//! refusal, every byte read, every count, the writer and reader positions
//! and the bytes in the ring. The property tests and the fuzzer call it.

use crate::buf::Buf;
use crate::reference::{header, record, Counts, Reference, StartCall};
use crate::ring::{self, Client, Reason, WriteState};
use crate::*;
use std::cell::{Cell, RefCell};
use std::string::String;
use std::sync::atomic::Ordering::SeqCst;
use std::vec::Vec;

/// A buffer: the protocol's state and the data ([`Buf`]), the counts, and
/// the client's state.
pub struct Sim {
    pub g: Geometry,
    /// The client's own copy of the sub-buffer size.
    pub size: usize,
    pub overwrite: bool,
    pub buf: Buf,
    pub events: RefCell<Vec<Event>>,
    pub published_bytes: Cell<usize>,
    pub reader: Cell<ReaderPos>,
    pub lost: Cell<usize>,
    /// The header length the client reserves in each new sub-buffer.
    pub header_len: Cell<usize>,
    /// Whether the client refuses every new sub-buffer.
    pub paused: Cell<bool>,
    /// Every `subbuf_start` call, in order.
    pub starts: RefCell<Vec<StartCall>>,
}

impl Client for Sim {
    fn subbuf_start(&self, slot: usize, prev: Option<usize>, full: bool) -> bool {
        self.starts
            .borrow_mut()
            .push(StartCall { slot, prev, full });
        if self.paused.get() || (full && !self.overwrite) {
            return false;
        }
        // Like blktrace: write a header in place, then reserve it. The
        // sub-buffer being started is number `produced`.
        let k = self.produced();
        let len = self.header_len.get();
        let room = len.min(self.size);
        self.buf.put(slot * self.size, &header(k, room));
        self.buf.start_reserve.store(len, SeqCst);
        true
    }
    fn count(&self, event: Event) {
        self.events.borrow_mut().push(event)
    }
    fn finished(&self, bytes: usize) {
        self.published_bytes.set(self.published_bytes.get() + bytes);
    }
    fn completed(&self, _slot: usize) {}
}

impl Sim {
    /// A buffer whose client reserves no header and never stops it.
    pub fn new(subbuf_size: usize, n_subbufs: usize, overwrite: bool) -> Self {
        Self::with_client(subbuf_size, n_subbufs, overwrite, 0, false)
    }

    /// A buffer whose client reserves `header_len` bytes in each new
    /// sub-buffer and, if `paused`, refuses every one (the first starts
    /// anyway, as in relay).
    pub fn with_client(
        subbuf_size: usize,
        n_subbufs: usize,
        overwrite: bool,
        header_len: usize,
        paused: bool,
    ) -> Self {
        let g = Geometry::new(subbuf_size, n_subbufs).unwrap();
        // The state starts as garbage (`Buf::new`): `start` must set all of it.
        let sim = Sim {
            g,
            size: subbuf_size,
            overwrite,
            buf: Buf::new(subbuf_size, n_subbufs),
            events: RefCell::new(Vec::new()),
            published_bytes: Cell::new(0),
            reader: Cell::new(ReaderPos::default()),
            lost: Cell::new(0),
            header_len: Cell::new(header_len),
            paused: Cell::new(paused),
            starts: RefCell::new(Vec::new()),
        };
        ring::start(&g, &sim.buf, &sim);
        sim
    }

    /// Sub-buffers finished.
    pub fn produced(&self) -> usize {
        self.buf.produced()
    }

    /// Sub-buffers released by the reader.
    pub fn consumed(&self) -> usize {
        self.buf.consumed.load(SeqCst)
    }

    /// The write state word.
    pub fn write_state(&self) -> WriteState {
        WriteState::from_raw(self.buf.ws.load(SeqCst))
    }

    /// The padding recorded for `slot`.
    pub fn padding_of(&self, slot: usize) -> usize {
        ring::padding_of(&self.buf, slot)
    }

    /// `relay_write`: returns whether the record went in.
    pub fn write(&self, rec: &[u8]) -> bool {
        self.buf.write(self, rec)
    }

    pub fn flush(&self) {
        let _ = ring::switch(&self.g, &self.buf, self, Reason::Flush);
    }

    pub fn snapshot(&self) -> WriterSnapshot {
        ring::snapshot(&self.g, &self.buf).writer(&self.g)
    }

    /// `read()` of up to `max` bytes, as the file operation does it.
    pub fn read(&self, max: usize) -> Vec<u8> {
        let mut out = Vec::new();
        let pad = |slot: usize| self.padding_of(slot);
        while out.len() < max {
            let w = self.snapshot();
            let r = self.reader.get();
            match self.g.read_step(w, r, pad) {
                ReadStep::Empty => break,
                // Every other step must move the reader on: one that does
                // not loops forever, here as in the module's read().
                ReadStep::Next => {
                    let next = self.g.consume(w, r, 0, pad);
                    assert!(next.consumed > r.consumed, "Next at {r:?} stays");
                    self.release(next)
                }
                ReadStep::Skip { to, lost } => {
                    assert!(
                        to > r.consumed && lost == to - r.consumed,
                        "Skip from {r:?} to {to}, {lost} lost"
                    );
                    self.lost.set(self.lost.get() + lost);
                    self.release(ReaderPos {
                        consumed: to,
                        bytes_consumed: 0,
                    });
                }
                ReadStep::Data { start, len } => {
                    assert!(len > 0, "empty Data at {r:?}");
                    // One writer, no interrupts: a finished sub-buffer is
                    // always complete.
                    assert!(
                        w.produced == r.consumed || ring::complete(&self.g, &self.buf, r.consumed),
                        "sub-buffer {} finished but not complete",
                        r.consumed
                    );
                    let n = len.min(max - out.len());
                    out.extend(self.buf.get(start, n));
                    assert!(ring::snapshot(&self.g, &self.buf).intact(&self.g, r.consumed));
                    self.release(self.g.consume(w, r, n, pad));
                }
            }
        }
        out
    }

    /// `rrelay_subbufs_consumed`, as the module does it.
    pub fn subbufs_consumed(&self, n: usize) {
        let c = self.g.add_consumed(self.produced(), self.consumed(), n);
        if c != self.reader.get().consumed {
            self.reader.set(ReaderPos {
                consumed: c,
                bytes_consumed: 0,
            });
        }
        self.buf.consumed.store(c, SeqCst);
    }

    fn release(&self, pos: ReaderPos) {
        self.reader.set(pos);
        self.buf.consumed.store(pos.consumed, SeqCst);
    }

    pub fn count(&self, e: Event) -> usize {
        self.events.borrow().iter().filter(|x| **x == e).count()
    }

    /// The counts, in the reference's terms.
    pub fn counts(&self) -> Counts {
        Counts {
            full: self.count(Event::Full),
            too_big: self.count(Event::TooBig),
            dropped: self.count(Event::Dropped),
            overwritten: self.count(Event::Overwritten),
            lost: self.lost.get(),
            written: self.published_bytes.get(),
        }
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
    /// From now on the client reserves a header of this many bytes.
    Reserve(usize),
    /// The client stops (true) or resumes (false) accepting sub-buffers.
    Pause(bool),
    /// rrelay_subbufs_consumed with this count.
    Consumed(usize),
}

/// How a buffer is opened.
#[derive(Debug, Clone, Copy)]
pub struct Setup {
    pub subbuf_size: usize,
    pub n_subbufs: usize,
    pub overwrite: bool,
    /// The header the client reserves in each new sub-buffer.
    pub reserve: usize,
    /// Whether the client refuses the first sub-buffer.
    pub paused: bool,
}

macro_rules! ensure {
    ($cond:expr, $($msg:tt)*) => {
        if !$cond {
            return Err(std::format!($($msg)*));
        }
    };
}

/// Runs `ops` on the module's accounting and on the reference, comparing
/// them after each; then drains both. Returns the counts on agreement.
pub fn check(setup: Setup, ops: &[Op]) -> Result<Counts, String> {
    let Setup {
        subbuf_size: size,
        n_subbufs: n,
        overwrite,
        reserve,
        paused,
    } = setup;
    let sim = Sim::with_client(size, n, overwrite, reserve, paused);
    let mut model = Reference::new(size, n, overwrite, reserve, paused);
    let g = sim.g;
    ensure!(
        (
            g.subbuf_size(),
            g.n_subbufs(),
            g.data_size(),
            g.stopped_offset()
        ) == (size, n, size * n, size + 1),
        "geometry {g:?} is not {size} x {n}"
    );
    compare(&sim, &model, "open")?;
    for (i, op) in ops.iter().enumerate() {
        match *op {
            Op::Write(len) => {
                let rec = record(i, len);
                let (got, want) = (sim.write(&rec), model.write(&rec));
                ensure!(
                    got == want,
                    "op {i} {op:?}: accepted {got}, reference {want}"
                );
            }
            Op::Read(max) => {
                let (got, want) = (sim.read(max), model.read(max));
                ensure!(
                    got == want,
                    "op {i} {op:?}: read {got:?}, reference {want:?}"
                );
            }
            Op::Flush => {
                sim.flush();
                model.flush();
            }
            Op::Reserve(len) => {
                sim.header_len.set(len);
                model.reserve = len;
            }
            Op::Pause(p) => {
                sim.paused.set(p);
                model.paused = p;
            }
            Op::Consumed(k) => {
                sim.subbufs_consumed(k);
                model.subbufs_consumed(k);
            }
        }
        compare(&sim, &model, &std::format!("op {i} {op:?}"))?;
    }
    // Drain: resume, publish what is pending (a flush into a full buffer is
    // refused; once drained, a second one goes through), read it all.
    sim.paused.set(false);
    model.paused = false;
    for round in 0..2 {
        sim.flush();
        model.flush();
        let (got, want) = (sim.read(usize::MAX), model.read(usize::MAX));
        ensure!(
            got == want,
            "drain {round}: read {got:?}, reference {want:?}"
        );
        compare(&sim, &model, "drain")?;
    }
    if !overwrite {
        ensure!(model.counts.lost == 0, "the reference lost data");
    }
    Ok(model.counts)
}

/// Whether the module's state is the reference's.
fn compare(sim: &Sim, m: &Reference, at: &str) -> Result<(), String> {
    let (size, n, g) = (m.size, m.n, sim.g);
    let (got, want) = (sim.counts(), m.counts);
    ensure!(got == want, "{at}: counts {got:?}, reference {want:?}");
    ensure!(
        *sim.starts.borrow() == m.starts,
        "{at}: subbuf_start calls {:?}, reference {:?}",
        sim.starts.borrow(),
        m.starts
    );
    let finished = m.finished();
    ensure!(
        sim.produced() == finished,
        "{at}: produced {}, reference {finished}",
        sim.produced()
    );
    let want = ReaderPos {
        consumed: m.reader,
        bytes_consumed: m.read_in,
    };
    ensure!(
        sim.reader.get() == want && sim.consumed() == m.reader,
        "{at}: reader {:?} consumed {}, reference {want:?}",
        sim.reader.get(),
        sim.consumed()
    );
    // Open in the last sub-buffer started, with its bytes reserved; or
    // stopped before the next one.
    let ws = sim.write_state();
    let want = match m.current_len() {
        Some(_) => WriteState::open((m.subbufs.len() - 1) % n),
        None => WriteState::stopped(m.subbufs.len() % n),
    };
    ensure!(ws == want, "{at}: write state {ws:?}, reference {want:?}");
    let reserved = ring::reserved(&g, &sim.buf);
    ensure!(
        reserved == m.current_len(),
        "{at}: reserved {reserved:?}, reference {:?}",
        m.current_len()
    );
    // Every reserved byte is committed: the reader sees the whole current
    // sub-buffer.
    let offset = m.current_len().unwrap_or(size + 1);
    ensure!(
        sim.snapshot().offset == offset,
        "{at}: readable offset {}, reference {offset}",
        sim.snapshot().offset
    );
    // The sub-buffers in the ring hold their bytes; finished ones record
    // their padding.

    for k in m.subbufs.len().saturating_sub(n)..m.subbufs.len() {
        let (at_slot, bytes) = ((k % n) * size, &m.subbufs[k]);
        let held = sim.buf.get(at_slot, bytes.len());
        ensure!(
            held == *bytes,
            "{at}: sub-buffer {k} holds {held:?}, reference {bytes:?}"
        );
        ensure!(
            k >= finished || sim.padding_of(k % n) == size - bytes.len(),
            "{at}: sub-buffer {k} padding {}, reference {}",
            sim.padding_of(k % n),
            size - bytes.len()
        );
        ensure!(
            k >= finished || ring::complete(&g, &sim.buf, k),
            "{at}: sub-buffer {k} finished but not complete"
        );
    }
    let snap = ring::snapshot(&g, &sim.buf);
    for k in finished.saturating_sub(2 * n)..=finished {
        ensure!(
            snap.intact(&g, k) == m.intact(k),
            "{at}: intact({k}) is {}, reference {}",
            snap.intact(&g, k),
            m.intact(k)
        );
    }
    ensure!(
        g.is_full(snap.produced, sim.consumed()) == (finished - m.reader >= n),
        "{at}: is_full disagrees"
    );
    Ok(())
}
