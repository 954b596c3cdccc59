// SPDX-License-Identifier: GPL-2.0

//! The lockless write protocol (`src/ring.rs`) on the host.
//!
//! - Nested writers: a writer runs, and at its `i`-th step (every `i` of
//!   its run, exhaustively) an interrupt runs a whole write or flush of its
//!   own, which may be interrupted again at each of its steps (depth two).
//!   Nested writes run to completion, so the run is sequential: writes
//!   that found a switch in progress are dropped and counted, and every
//!   other write or flush, taken in the order it took effect, must do
//!   exactly what the independent reference (`reference.rs`) does; the
//!   bytes a reader gets and every count must match.
//! - Concurrency: writers on several threads (a global buffer), a reader
//!   and a flusher race for real; every record read is intact and read
//!   once, and written == received + dropped (+ lost with overwrite).

use rrelay_accounting::reference::{self, Reference};
use rrelay_accounting::ring::{self, Client, Reason, RingState, Step, Switched, WriteState};
use rrelay_accounting::{Event, Geometry, ReadStep, ReaderPos, WriterSnapshot};
use std::cell::{Cell, RefCell};
use std::sync::atomic::{fence, AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering};

/// A buffer: the protocol's state and the bytes.
struct Buf {
    g: Geometry,
    ws: AtomicU64,
    pos: AtomicUsize,
    consumed: AtomicUsize,
    commit: Vec<AtomicUsize>,
    padding: Vec<AtomicUsize>,
    start_reserve: AtomicUsize,
    data: Vec<AtomicU8>,
}

impl Buf {
    fn new(size: usize, n: usize) -> Self {
        let g = Geometry::new(size, n).unwrap();
        // Poisoned: `ring::start` must set everything it relies on.
        Buf {
            g,
            ws: AtomicU64::new(u64::MAX),
            pos: AtomicUsize::new(77),
            consumed: AtomicUsize::new(5),
            commit: (0..n).map(|_| AtomicUsize::new(3)).collect(),
            padding: (0..n).map(|_| AtomicUsize::new(9)).collect(),
            start_reserve: AtomicUsize::new(1),
            data: (0..size * n).map(|_| AtomicU8::new(0xa5)).collect(),
        }
    }

    fn put(&self, pos: usize, bytes: &[u8]) {
        for (i, b) in bytes.iter().enumerate() {
            self.data[pos + i].store(*b, Ordering::Relaxed);
        }
    }

    fn get(&self, pos: usize, len: usize) -> Vec<u8> {
        (pos..pos + len)
            .map(|i| self.data[i].load(Ordering::Relaxed))
            .collect()
    }
}

impl RingState for Buf {
    fn ws(&self) -> &AtomicU64 {
        &self.ws
    }
    fn pos(&self) -> &AtomicUsize {
        &self.pos
    }
    fn consumed(&self) -> &AtomicUsize {
        &self.consumed
    }
    fn commit(&self, slot: usize) -> &AtomicUsize {
        &self.commit[slot]
    }
    fn padding(&self, slot: usize) -> &AtomicUsize {
        &self.padding[slot]
    }
    fn start_reserve(&self) -> &AtomicUsize {
        &self.start_reserve
    }
}

/// The counts a client keeps, indexed by [`Event`].
#[derive(Default)]
struct Counts {
    full: AtomicUsize,
    too_big: AtomicUsize,
    dropped: AtomicUsize,
    overwritten: AtomicUsize,
    written: AtomicUsize,
}

/// A relay client: overwrite or not, with a header of `reserve` bytes
/// naming each sub-buffer it starts.
struct Policy<'a> {
    buf: &'a Buf,
    overwrite: bool,
    reserve: usize,
    counts: Counts,
    /// Sub-buffers started so far (the next one's number).
    started: AtomicUsize,
    /// A callback is running: two at once would be a bug.
    in_callback: AtomicBool,
    /// Every callback, as the reference lists them.
    starts: std::sync::Mutex<Vec<reference::StartCall>>,
}

impl<'a> Policy<'a> {
    fn new(buf: &'a Buf, overwrite: bool, reserve: usize) -> Self {
        Policy {
            buf,
            overwrite,
            reserve,
            counts: Counts::default(),
            started: AtomicUsize::new(0),
            in_callback: AtomicBool::new(false),
            starts: std::sync::Mutex::new(Vec::new()),
        }
    }

    fn callback(&self, slot: usize, prev: Option<usize>, full: bool) -> bool {
        assert!(
            !self.in_callback.swap(true, Ordering::AcqRel),
            "subbuf_start ran twice at once"
        );
        self.starts
            .lock()
            .unwrap()
            .push(reference::StartCall { slot, prev, full });
        let go = self.overwrite || !full || prev.is_none();
        if go {
            // As relay clients do: the header only in a sub-buffer that
            // will be written.
            let k = self.started.fetch_add(1, Ordering::Relaxed);
            let g = &self.buf.g;
            if self.reserve + 2 <= g.subbuf_size() {
                self.buf
                    .put(g.slot_start(slot), &reference::header(k, self.reserve));
            }
            self.buf
                .start_reserve
                .store(self.reserve, Ordering::Relaxed);
        }
        self.in_callback.store(false, Ordering::Release);
        go
    }

    fn count(&self, event: Event) {
        let c = match event {
            Event::Full => &self.counts.full,
            Event::TooBig => &self.counts.too_big,
            Event::Dropped => &self.counts.dropped,
            Event::Overwritten => &self.counts.overwritten,
        };
        c.fetch_add(1, Ordering::Relaxed);
    }
}

/// Writes `rec`: reserve, copy, commit. Returns whether it went in.
fn write<C: Client>(b: &Buf, c: &C, rec: &[u8]) -> bool {
    match ring::reserve(&b.g, b, c, rec.len()) {
        Some(r) => {
            // Reserved, not yet written: another writer or a reader may run.
            c.step(Step::Copy);
            b.put(r.pos(&b.g), rec);
            ring::commit(&b.g, b, c, r);
            true
        }
        None => false,
    }
}

/// A reader: takes what the protocol says is readable, with relay's
/// reader rules (`subbuf::Geometry::read_step`), validating each copy.
#[derive(Default)]
struct Reader {
    pos: ReaderPos,
    bytes: Vec<u8>,
    lost: usize,
}

impl Reader {
    /// Reads everything readable now.
    fn drain(&mut self, b: &Buf) {
        let g = &b.g;
        loop {
            let snap = ring::snapshot(g, b);
            let ready = snap.produced.wrapping_sub(self.pos.consumed);
            let w = WriterSnapshot {
                produced: snap.produced,
                offset: if snap.stopped {
                    g.stopped_offset()
                } else {
                    snap.committed
                },
            };
            let padding = |slot: usize| b.padding[slot].load(Ordering::Relaxed);
            match g.read_step(w, self.pos, padding) {
                ReadStep::Empty => return,
                ReadStep::Next => {
                    self.pos.consumed += 1;
                    self.pos.bytes_consumed = 0;
                    b.consumed.store(self.pos.consumed, Ordering::Release);
                }
                ReadStep::Skip { to, lost } => {
                    self.lost += lost;
                    self.pos = ReaderPos {
                        consumed: to,
                        bytes_consumed: 0,
                    };
                    b.consumed.store(to, Ordering::Release);
                }
                ReadStep::Data { start, len } => {
                    // A finished sub-buffer is read once complete: a writer
                    // may still be copying into it.
                    if ready > 0 && !ring::complete(g, b, self.pos.consumed) {
                        return;
                    }
                    let copy = b.get(start, len);
                    // smp_rmb(): the copy before the look that validates it.
                    fence(Ordering::Acquire);
                    let after = ring::snapshot(g, b);
                    if !after.intact(g, self.pos.consumed) {
                        // Overwritten (or maybe being overwritten) while
                        // copying: look again later; the step then skips it
                        // or reads it again.
                        return;
                    }
                    self.bytes.extend_from_slice(&copy);
                    self.pos = g.consume(w, self.pos, len, padding);
                    b.consumed.store(self.pos.consumed, Ordering::Release);
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Nested writers, against the reference.

/// An operation of the nested tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    /// Write record `i` of this length.
    Write(usize, usize),
    /// Flush.
    Flush,
    /// Drain what is readable.
    Read,
}

/// One run: a client whose every step may run an interrupt.
struct Nested<'a> {
    policy: Policy<'a>,
    /// Steps seen at each nesting depth.
    steps: [Cell<usize>; 3],
    depth: Cell<usize>,
    /// Interrupt at step `.0` of depth `.1`, running op `.2`.
    plan: Vec<(usize, usize, Op)>,
    /// What took effect, in order: the op and whether it went in; `None`
    /// for a write dropped (or flush absorbed) by a switch in progress.
    log: RefCell<Vec<(Op, Option<bool>)>>,
    reader: RefCell<Reader>,
    /// The last step seen at each depth.
    at: [Cell<Option<Step>>; 3],
    /// Reads that ran inside a switch after it looked at the reader: they
    /// take effect after the op they interrupted (by its depth).
    later: [RefCell<Vec<(Op, Option<bool>)>>; 3],
}

impl Client for Nested<'_> {
    fn subbuf_start(&self, slot: usize, prev: Option<usize>, full: bool) -> bool {
        self.policy.callback(slot, prev, full)
    }
    fn count(&self, event: Event) {
        self.policy.count(event)
    }
    fn finished(&self, bytes: usize) {
        self.policy
            .counts
            .written
            .fetch_add(bytes, Ordering::Relaxed);
    }
    fn completed(&self, _slot: usize) {}
    fn step(&self, at: Step) {
        let d = self.depth.get();
        self.at[d].set(Some(at));
        let i = self.steps[d].get();
        self.steps[d].set(i + 1);
        let todo: Vec<Op> = self
            .plan
            .iter()
            .filter(|(at, depth, _)| *at == i && *depth == d)
            .map(|p| p.2)
            .collect();
        for op in todo {
            self.depth.set(d + 1);
            self.steps[d + 1].set(0);
            self.run(op);
            self.depth.set(d);
        }
    }
}

impl Nested<'_> {
    fn log(&self, entry: (Op, Option<bool>)) {
        let d = self.depth.get();
        if entry.0 == Op::Read && d > 0 {
            if let Some(Step::SwitchCallback | Step::SwitchPublish) = self.at[d - 1].get() {
                self.later[d - 1].borrow_mut().push(entry);
                return;
            }
        }
        self.log.borrow_mut().push(entry);
        if entry.0 != Op::Read {
            let later: Vec<_> = self.later[d].borrow_mut().drain(..).collect();
            self.log.borrow_mut().extend(later);
        }
    }

    fn run(&self, op: Op) {
        let b = self.policy.buf;
        self.at[self.depth.get()].set(None);
        let busy = WriteState::from_raw(b.ws.load(Ordering::Relaxed)).switching();
        match op {
            Op::Write(i, len) => {
                let rec = record(i, len);
                // Logged where it takes effect: at its reservation (before
                // the copy, where an interrupt may run) or its refusal.
                match ring::reserve(&b.g, b, self, len) {
                    Some(r) => {
                        assert!(!busy, "a write went in during a switch");
                        self.log((op, Some(true)));
                        self.step(Step::Copy);
                        b.put(r.pos(&b.g), &rec);
                        ring::commit(&b.g, b, self, r);
                    }
                    None => self.log((op, (!busy).then_some(false))),
                }
            }
            Op::Flush => {
                let r = ring::switch(&b.g, b, self, Reason::Flush);
                assert!(!(busy && r == Switched::Ready));
                self.log((op, (!busy).then_some(true)));
            }
            Op::Read => {
                self.reader.borrow_mut().drain(b);
                self.log((op, Some(true)));
            }
        }
    }
}

/// Runs `ops` at depth 0 with `plan`'s interrupts and compares everything
/// with the reference. Returns the number of steps depth 0 took.
fn check_nested(
    size: usize,
    n: usize,
    overwrite: bool,
    reserve: usize,
    ops: &[Op],
    plan: &[(usize, usize, Op)],
) -> usize {
    let b = Buf::new(size, n);
    let nested = Nested {
        policy: Policy::new(&b, overwrite, reserve),
        steps: Default::default(),
        depth: Cell::new(0),
        plan: plan.to_vec(),
        log: RefCell::new(Vec::new()),
        reader: RefCell::new(Reader::default()),
        at: Default::default(),
        later: Default::default(),
    };
    ring::start(&b.g, &b, &nested);
    for op in ops {
        nested.run(*op);
    }
    // The end: flush, then read everything.
    nested.run(Op::Flush);
    nested.reader.borrow_mut().drain(&b);
    if !plan.is_empty() {
        check_invariants(&nested, overwrite, ops, plan);
        return nested.steps[0].get();
    }

    let mut r = Reference::new(size, n, overwrite, reserve, false);
    let mut ref_bytes = Vec::new();
    let mut busy_drops = 0;
    let ctx = format!(
        "size {size} n {n} overwrite {overwrite} reserve {reserve} ops {ops:?} plan {plan:?} log {:?}",
        nested.log.borrow()
    );
    for (op, went_in) in nested.log.borrow().iter() {
        match (op, went_in) {
            (Op::Write(_, len), None) => busy_drops += usize::from(*len > 0),
            (Op::Flush, None) => {}
            (Op::Write(i, len), Some(went)) => {
                assert_eq!(r.write(&record(*i, *len)), *went, "write {i}: {ctx}")
            }
            (Op::Flush, Some(_)) => r.flush(),
            (Op::Read, _) => ref_bytes.extend(r.read(usize::MAX)),
        }
    }
    ref_bytes.extend(r.read(usize::MAX));
    let reader = nested.reader.borrow();
    assert_eq!(reader.bytes, ref_bytes, "bytes read: {ctx}");
    let c = &nested.policy.counts;
    let got = (
        c.full.load(Ordering::Relaxed),
        c.too_big.load(Ordering::Relaxed),
        c.dropped.load(Ordering::Relaxed),
        c.overwritten.load(Ordering::Relaxed),
        reader.lost,
    );
    let want = (
        r.counts.full,
        r.counts.too_big,
        r.counts.dropped + busy_drops,
        r.counts.overwritten,
        r.counts.lost,
    );
    assert_eq!(
        got, want,
        "full, too big, dropped, overwritten, lost: {ctx}"
    );
    // Written: the bytes of finished sub-buffers, header and records.
    assert_eq!(
        c.written.load(Ordering::Relaxed),
        r.counts.written,
        "written: {ctx}"
    );
    assert_eq!(
        *nested.policy.starts.lock().unwrap(),
        r.starts,
        "subbuf_start calls: {ctx}"
    );
    nested.steps[0].get()
}

/// Record `i` of `len` bytes (0, or 4 and more): it names itself, so a
/// reader can check it.
fn record(i: usize, len: usize) -> Vec<u8> {
    if len == 0 {
        Vec::new()
    } else {
        tagged(i as u8, i as u16, len)
    }
}

/// With interrupts the run is no longer one order of operations the
/// reference could replay (a switch made for one record lets an interrupt's
/// record in before it). What must hold all the same: every record read
/// was accepted and is intact, none is read twice, every record of at
/// least one byte is accepted or counted as dropped or too big, and in
/// no-overwrite mode (or with nothing lost) every accepted record is read.
fn check_invariants(nested: &Nested<'_>, overwrite: bool, ops: &[Op], plan: &[(usize, usize, Op)]) {
    let ctx = format!(
        "overwrite {overwrite} ops {ops:?} plan {plan:?} log {:?}",
        nested.log.borrow()
    );
    let mut written = 0;
    let mut accepted = std::collections::HashSet::new();
    for (op, went_in) in nested.log.borrow().iter() {
        if let Op::Write(i, len) = op {
            if *len > 0 {
                written += 1;
                if *went_in == Some(true) {
                    assert!(accepted.insert(*i as u8), "{ctx}");
                }
            }
        }
    }
    let c = &nested.policy.counts;
    let refused = c.dropped.load(Ordering::Relaxed) + c.too_big.load(Ordering::Relaxed);
    assert_eq!(
        accepted.len() + refused,
        written,
        "accepted + dropped + too big == written: {ctx}"
    );
    let reader = nested.reader.borrow();
    let mut read = std::collections::HashSet::new();
    for (w, _) in parse(&reader.bytes) {
        assert!(
            accepted.contains(&w),
            "record {w} read but not accepted: {ctx}"
        );
        assert!(read.insert(w), "record {w} read twice: {ctx}");
    }
    if !overwrite || reader.lost == 0 {
        assert_eq!(read, accepted, "every accepted record read: {ctx}");
    }
}

/// Writes that cross sub-buffers, fill the buffer and overflow it.
fn scripts() -> Vec<Vec<Op>> {
    vec![
        vec![
            Op::Write(1, 5),
            Op::Write(2, 6),
            Op::Write(3, 7),
            Op::Write(4, 9),
        ],
        vec![Op::Write(1, 8), Op::Read, Op::Write(2, 8), Op::Write(3, 4)],
        vec![Op::Write(1, 4), Op::Flush, Op::Write(2, 4), Op::Write(3, 9)],
        (1..8).map(|i| Op::Write(i, 4 + i % 4)).collect(),
    ]
}

#[test]
fn every_interrupt_point_of_every_write_keeps_every_record() {
    let interrupts = [
        Op::Write(100, 4),
        Op::Write(101, 8),
        Op::Flush,
        Op::Read,
        Op::Write(102, 0),
    ];
    let mut runs = 0;
    for (size, n) in [(8, 2), (10, 3), (16, 1)] {
        for overwrite in [false, true] {
            for reserve in [0, 2] {
                for ops in scripts() {
                    let steps = check_nested(size, n, overwrite, reserve, &ops, &[]);
                    for at in 0..=steps {
                        for irq in interrupts {
                            check_nested(size, n, overwrite, reserve, &ops, &[(at, 0, irq)]);
                            runs += 1;
                        }
                    }
                }
            }
        }
    }
    assert!(runs > 1000, "{runs} runs");
}

#[test]
fn interrupts_of_interrupts_keep_every_record() {
    let mut runs = 0;
    for overwrite in [false, true] {
        let ops = [
            Op::Write(1, 5),
            Op::Write(2, 6),
            Op::Write(3, 7),
            Op::Write(4, 4),
        ];
        let steps = check_nested(8, 2, overwrite, 2, &ops, &[]);
        for at in 0..=steps {
            for inner in 0..12 {
                for (outer_op, inner_op) in [
                    (Op::Write(100, 5), Op::Write(200, 4)),
                    (Op::Write(100, 5), Op::Flush),
                    (Op::Flush, Op::Write(200, 4)),
                ] {
                    check_nested(
                        8,
                        2,
                        overwrite,
                        2,
                        &ops,
                        &[(at, 0, outer_op), (inner, 1, inner_op)],
                    );
                    runs += 1;
                }
            }
        }
    }
    assert!(runs > 500, "{runs} runs");
}

#[test]
fn a_write_during_a_switch_is_dropped_and_counted() {
    // The outer write switches; the interrupt at the callback finds the
    // switch in progress.
    let b = Buf::new(8, 2);
    let nested = Nested {
        policy: Policy::new(&b, false, 0),
        steps: Default::default(),
        depth: Cell::new(0),
        plan: Vec::new(),
        log: RefCell::new(Vec::new()),
        reader: RefCell::new(Reader::default()),
        at: Default::default(),
        later: Default::default(),
    };
    ring::start(&b.g, &b, &nested);
    assert!(write(&b, &nested, &[1; 6]));
    struct AtCallback<'a>(&'a Nested<'a>, Cell<bool>);
    impl Client for AtCallback<'_> {
        fn subbuf_start(&self, slot: usize, prev: Option<usize>, full: bool) -> bool {
            self.0.subbuf_start(slot, prev, full)
        }
        fn count(&self, e: Event) {
            self.0.count(e)
        }
        fn finished(&self, bytes: usize) {
            self.0.finished(bytes)
        }
        fn completed(&self, slot: usize) {
            self.0.completed(slot)
        }
        fn step(&self, at: Step) {
            if at == Step::SwitchCallback && !self.1.replace(true) {
                assert!(!write(self.0.policy.buf, self, &[2; 2]));
                assert_eq!(
                    ring::switch(&self.0.policy.buf.g, self.0.policy.buf, self, Reason::Flush),
                    Switched::Refused
                );
            }
        }
    }
    let c = AtCallback(&nested, Cell::new(false));
    assert!(write(&b, &c, &[3; 4]));
    assert!(c.1.get());
    assert_eq!(nested.policy.counts.dropped.load(Ordering::Relaxed), 1);
    // The flush was absorbed: one switch, one callback besides the first.
    assert_eq!(nested.policy.starts.lock().unwrap().len(), 2);
}

#[test]
fn a_lap_is_not_started_over_a_writer_still_copying() {
    // One sub-buffer, overwrite: a flush from an interrupt between the
    // reservation and the commit would start the slot's next lap under the
    // writer. It must stop the buffer instead; the record stays whole.
    for interrupt in [Op::Flush, Op::Write(9, 12)] {
        let b = Buf::new(16, 1);
        let nested = Nested {
            policy: Policy::new(&b, true, 0),
            steps: Default::default(),
            depth: Cell::new(0),
            // Steps: ReserveLoad 0, ReserveCas 1; after step 1 the record
            // is reserved, and step 2 comes before its copy.
            plan: vec![(2, 0, interrupt)],
            log: RefCell::new(Vec::new()),
            reader: RefCell::new(Reader::default()),
            at: Default::default(),
            later: Default::default(),
        };
        ring::start(&b.g, &b, &nested);
        nested.run(Op::Write(1, 5));
        let w = WriteState::from_raw(b.ws.load(Ordering::Relaxed));
        assert!(
            w.is_stopped(),
            "{interrupt:?}: a lap started over the copy: {w:?}"
        );
        assert_eq!(
            nested.policy.starts.lock().unwrap().len(),
            1,
            "{interrupt:?}"
        );
        // The next write, with the writer done, starts the lap.
        nested.run(Op::Write(2, 6));
        nested.reader.borrow_mut().drain(&b);
        let got: Vec<u8> = parse(&nested.reader.borrow().bytes)
            .iter()
            .map(|r| r.0)
            .collect();
        assert_eq!(got, [2], "{interrupt:?}");
    }
}

#[test]
fn close_waits_for_a_flush_on_another_cpu() {
    // The flush's callback holds the switch until close has started.
    struct Slow<'a> {
        policy: Policy<'a>,
        hold: AtomicBool,
        in_switch: AtomicBool,
    }
    impl Client for Slow<'_> {
        fn subbuf_start(&self, slot: usize, prev: Option<usize>, full: bool) -> bool {
            self.in_switch.store(true, Ordering::SeqCst);
            while self.hold.load(Ordering::SeqCst) {
                std::thread::yield_now();
            }
            self.policy.callback(slot, prev, full)
        }
        fn count(&self, e: Event) {
            self.policy.count(e)
        }
        fn finished(&self, bytes: usize) {
            self.policy
                .counts
                .written
                .fetch_add(bytes, Ordering::Relaxed);
        }
        fn completed(&self, _: usize) {}
    }
    let b = Buf::new(16, 4);
    let c = Slow {
        policy: Policy::new(&b, false, 0),
        hold: AtomicBool::new(false),
        in_switch: AtomicBool::new(false),
    };
    ring::start(&b.g, &b, &c);
    c.in_switch.store(false, Ordering::SeqCst);
    assert!(write(&b, &c, &record(1, 5)));
    c.hold.store(true, Ordering::SeqCst);
    std::thread::scope(|s| {
        s.spawn(|| ring::switch(&b.g, &b, &c, Reason::Flush));
        while !c.in_switch.load(Ordering::SeqCst) {
            std::thread::yield_now();
        }
        let closer = s.spawn(|| ring::switch(&b.g, &b, &c, Reason::Close));
        std::thread::sleep(std::time::Duration::from_millis(20));
        let waited = !closer.is_finished();
        c.hold.store(false, Ordering::SeqCst);
        closer.join().unwrap();
        assert!(waited, "close did not wait for the switch");
    });
    assert!(WriteState::from_raw(b.ws.load(Ordering::Relaxed)).is_closed());
}

#[test]
fn close_finishes_without_starting_and_makes_no_empty_subbuffer() {
    for (writes, produced) in [(0, 0), (1, 1)] {
        let b = Buf::new(8, 4);
        let p = Policy::new(&b, false, 2);
        struct P<'a>(&'a Policy<'a>);
        impl Client for P<'_> {
            fn subbuf_start(&self, slot: usize, prev: Option<usize>, full: bool) -> bool {
                self.0.callback(slot, prev, full)
            }
            fn count(&self, e: Event) {
                self.0.count(e)
            }
            fn finished(&self, bytes: usize) {
                self.0.counts.written.fetch_add(bytes, Ordering::Relaxed);
            }
            fn completed(&self, _: usize) {}
        }
        let c = P(&p);
        ring::start(&b.g, &b, &c);
        for i in 0..writes {
            assert!(write(&b, &c, &record(i + 1, 4)));
        }
        assert_eq!(ring::switch(&b.g, &b, &c, Reason::Close), Switched::Refused);
        assert_eq!(
            ring::Position::from_raw(b.pos.load(Ordering::Relaxed)).produced(),
            produced
        );
        assert!(WriteState::from_raw(b.ws.load(Ordering::Relaxed)).is_closed());
        // One callback: the one at start.
        assert_eq!(p.starts.lock().unwrap().len(), 1);
        assert_eq!(p.counts.full.load(Ordering::Relaxed), 0);
        // Writes after close are refused.
        assert!(!write(&b, &c, &[1]));
        if produced == 1 {
            assert!(ring::complete(&b.g, &b, 0));
        }
    }
}

// ---------------------------------------------------------------------------
// Real concurrency: a global buffer.

/// A concurrent client: counts only.
struct Shared<'a> {
    policy: Policy<'a>,
}

impl Client for Shared<'_> {
    fn subbuf_start(&self, slot: usize, prev: Option<usize>, full: bool) -> bool {
        self.policy.callback(slot, prev, full)
    }
    fn count(&self, event: Event) {
        self.policy.count(event)
    }
    fn finished(&self, bytes: usize) {
        self.policy
            .counts
            .written
            .fetch_add(bytes, Ordering::Relaxed);
    }
    fn completed(&self, _slot: usize) {}
    fn step(&self, _at: Step) {
        // Widen the windows between steps now and then.
        if fastrand_bool() {
            std::thread::yield_now();
        }
    }
}

fn fastrand_bool() -> bool {
    thread_local!(static X: Cell<u64> = const { Cell::new(0x9e37_79b9_7f4a_7c15) });
    X.with(|x| {
        let mut v = x.get();
        v ^= v << 13;
        v ^= v >> 7;
        v ^= v << 17;
        x.set(v);
        v % 8 == 0
    })
}

/// A record of writer `w`, number `seq`: `[len, w, seq lo, seq hi, ...]`.
fn tagged(w: u8, seq: u16, len: usize) -> Vec<u8> {
    let mut r = vec![len as u8, w, seq as u8, (seq >> 8) as u8];
    r.extend((4..len).map(|i| (seq as usize * 3 + i) as u8 ^ w));
    r
}

/// Splits what a reader got into records, skipping headers (bytes with the
/// top bit set); panics on anything torn.
fn parse(bytes: &[u8]) -> Vec<(u8, u16)> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        if bytes[at] & 0x80 != 0 {
            at += 1;
            continue;
        }
        let len = bytes[at] as usize;
        assert!(len >= 4 && at + len <= bytes.len(), "torn record at {at}");
        let (w, seq) = (
            bytes[at + 1],
            u16::from(bytes[at + 2]) | u16::from(bytes[at + 3]) << 8,
        );
        assert_eq!(
            &bytes[at..at + len],
            &tagged(w, seq, len)[..],
            "record {w}/{seq} corrupt"
        );
        out.push((w, seq));
        at += len;
    }
    out
}

fn concurrent(overwrite: bool, reserve: usize, size: usize, n: usize) {
    const WRITERS: u8 = 3;
    const RECORDS: u16 = 3000;
    let b = Buf::new(size, n);
    let c = Shared {
        policy: Policy::new(&b, overwrite, reserve),
    };
    ring::start(&b.g, &b, &c);
    let done = AtomicUsize::new(0);
    let accepted: Vec<Vec<bool>> = std::thread::scope(|s| {
        let writers: Vec<_> = (1..=WRITERS)
            .map(|w| {
                let (b, c, done) = (&b, &c, &done);
                s.spawn(move || {
                    let v = (0..RECORDS)
                        .map(|seq| {
                            write(
                                b,
                                c,
                                &tagged(w, seq, 4 + (seq as usize * 7 + w as usize) % 9),
                            )
                        })
                        .collect::<Vec<_>>();
                    done.fetch_add(1, Ordering::Release);
                    v
                })
            })
            .collect();
        // A flusher, as a remote CPU would.
        let flusher = s.spawn(|| {
            while done.load(Ordering::Acquire) < WRITERS as usize {
                ring::switch(&b.g, &b, &c, Reason::Flush);
                std::thread::yield_now();
            }
        });
        let mut reader = Reader::default();
        while done.load(Ordering::Acquire) < WRITERS as usize {
            reader.drain(&b);
            std::thread::yield_now();
        }
        let acc = writers.into_iter().map(|h| h.join().unwrap()).collect();
        // Close while the flusher may still be switching: close waits for it.
        ring::switch(&b.g, &b, &c, Reason::Close);
        flusher.join().unwrap();
        reader.drain(&b);
        let got = parse(&reader.bytes);
        let mut seen = std::collections::HashSet::new();
        let mut last = [None::<u16>; WRITERS as usize + 1];
        for (w, seq) in &got {
            assert!(seen.insert((*w, *seq)), "record {w}/{seq} read twice");
            // One writer's records come in its order.
            assert!(
                last[*w as usize] < Some(*seq),
                "record {w}/{seq} out of order"
            );
            last[*w as usize] = Some(*seq);
        }
        let acc: Vec<Vec<bool>> = acc;
        let written = (WRITERS as usize) * RECORDS as usize;
        let went_in: usize = acc.iter().map(|v| v.iter().filter(|x| **x).count()).sum();
        for (w, seq) in &got {
            assert!(
                acc[*w as usize - 1][*seq as usize],
                "record {w}/{seq} read but refused"
            );
        }
        let dropped = c.policy.counts.dropped.load(Ordering::Relaxed);
        assert_eq!(went_in + dropped, written, "accepted + dropped == written");
        if overwrite {
            assert!(got.len() <= went_in);
        } else {
            assert_eq!(reader.lost, 0);
            assert_eq!(
                got.len(),
                went_in,
                "no-overwrite: every record accepted is read"
            );
        }
        acc
    });
    assert_eq!(accepted.len(), WRITERS as usize);
}

#[test]
fn concurrent_writers_reader_and_flusher_no_overwrite() {
    for (reserve, size, n) in [(0, 64, 4), (3, 40, 3), (0, 24, 2)] {
        concurrent(false, reserve, size, n);
    }
}

#[test]
fn concurrent_writers_reader_and_flusher_overwrite() {
    for (reserve, size, n) in [(0, 64, 4), (3, 40, 3), (0, 24, 2)] {
        concurrent(true, reserve, size, n);
    }
}
