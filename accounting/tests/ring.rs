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
use rrelay_accounting::ring::{self, Client, Reason, Step, Switched, WriteState};
use rrelay_accounting::{Event, ReadStep, ReaderPos, WriterSnapshot};
use std::cell::{Cell, RefCell};
use std::sync::atomic::{fence, AtomicBool, AtomicUsize, Ordering};

use rrelay_accounting::buf::{one_in, parse, reserve_as_c, tagged, Buf};

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
        let mut starts = self.starts.lock().unwrap();
        // relay ignores the answer to the first call (at open) anyway.
        let first = starts.is_empty();
        starts.push(reference::StartCall { slot, prev, full });
        drop(starts);
        let go = self.overwrite || !full || first;
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

/// The counting methods of a test client whose [`Policy`] is in field
/// `$p` (`policy_client!(policy)`), and with `callback` the answer to
/// `subbuf_start` too.
macro_rules! policy_client {
    ($p:tt) => {
        fn subbuf_start(&self, slot: usize, prev: Option<usize>, full: bool) -> bool {
            self.$p.callback(slot, prev, full)
        }
        policy_client!($p, counts);
    };
    ($p:tt, counts) => {
        fn count(&self, event: Event) {
            self.$p.count(event)
        }
        fn finished(&self, bytes: usize) {
            self.$p.counts.written.fetch_add(bytes, Ordering::Relaxed);
        }
        fn completed(&self, _slot: usize) {}
    };
}

/// A reader: takes what the protocol says is readable, with relay's
/// reader rules (`subbuf::Geometry::read_step`), validating each copy.
#[derive(Default)]
struct Reader {
    pos: ReaderPos,
    bytes: Vec<u8>,
    lost: usize,
    /// Sub-buffers skipped as lost: `from..to`.
    skipped: Vec<(usize, usize)>,
    /// Every copy kept: (sub-buffer, byte offset in it, len, snapshot before).
    chunks: Vec<(usize, usize, usize, ring::Snapshot)>,
    /// Looks taken: every other one is the module's cheaper kind
    /// (`ring::writer_for`, `ring::intact`), the others whole snapshots.
    looks: usize,
}

impl Reader {
    /// Whether this look is the cheaper kind (every other one).
    fn quick(&mut self) -> bool {
        self.looks += 1;
        self.looks % 2 == 0
    }

    /// Whether a copy of sub-buffer `k` taken before is intact.
    fn intact(&mut self, b: &Buf, k: usize) -> bool {
        if self.quick() {
            ring::intact(&b.g, b, k)
        } else {
            ring::snapshot(&b.g, b).intact(&b.g, k)
        }
    }

    /// Reads everything readable now.
    fn drain(&mut self, b: &Buf) {
        self.drain_hooked(b, &|| {});
    }

    /// [`Reader::drain`], with `hook` called where a writer on another CPU
    /// may run (between the reader's looks and inside its copy).
    fn drain_hooked(&mut self, b: &Buf, hook: &dyn Fn()) {
        let g = &b.g;
        loop {
            hook();
            let quick = self.quick();
            let snap = ring::snapshot(g, b);
            let w = if quick {
                ring::writer_for(g, b, self.pos.consumed)
            } else {
                WriterSnapshot {
                    produced: snap.produced,
                    offset: if snap.stopped {
                        g.stopped_offset()
                    } else {
                        snap.committed
                    },
                }
            };
            hook();
            let ready = w.produced.wrapping_sub(self.pos.consumed);
            // Read once, and used for the step and the release alike:
            // validated with the copy below (acquire: pairs with the
            // switch's release of the padding).
            let pad = ring::padding_of(b, g.slot(self.pos.consumed));
            let padding = |_slot: usize| pad;
            match g.read_step(w, self.pos, padding) {
                ReadStep::Empty => return,
                ReadStep::Next => {
                    // The end came from the padding, which a later lap may
                    // have rewritten: validate it as a copy.
                    fence(Ordering::Acquire);
                    if !self.intact(b, self.pos.consumed) {
                        return;
                    }
                    self.pos.consumed += 1;
                    self.pos.bytes_consumed = 0;
                    b.consumed.store(self.pos.consumed, Ordering::Release);
                }
                ReadStep::Skip { to, lost } => {
                    self.lost += lost;
                    self.skipped.push((self.pos.consumed, to));
                    self.pos = ReaderPos {
                        consumed: to,
                        bytes_consumed: 0,
                    };
                    b.consumed.store(to, Ordering::Release);
                }
                ReadStep::Data { start, len } => {
                    hook();
                    // A finished sub-buffer is read once complete: a writer
                    // may still be copying into it.
                    if ready > 0 && !ring::complete(g, b, self.pos.consumed) {
                        return;
                    }
                    hook();
                    let mut copy = b.get(start, len / 2);
                    hook();
                    copy.extend(b.get(start + len / 2, len - len / 2));
                    hook();
                    // smp_rmb(): the copy before the look that validates it.
                    fence(Ordering::Acquire);
                    if !self.intact(b, self.pos.consumed) {
                        // Overwritten (or maybe being overwritten) while
                        // copying: look again later; the step then skips
                        // it or reads it again. (Not `continue`: a reader
                        // that interrupted a switch would wait forever.)
                        return;
                    }
                    hook();
                    self.chunks
                        .push((self.pos.consumed, self.pos.bytes_consumed, len, snap));
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
    policy_client!(policy);
    fn step(&self, at: Step) {
        self.at[self.depth.get()].set(Some(at));
        interrupt(&self.depth, &self.steps, &self.plan, |op| self.run(op));
    }
}

/// At a step of the run at the current depth: counts the step and runs,
/// one level deeper and to completion, the operations `plan` schedules
/// there (`(step, depth, op)`), as an interrupt would.
fn interrupt<O: Copy>(
    depth: &Cell<usize>,
    steps: &[Cell<usize>],
    plan: &[(usize, usize, O)],
    run: impl Fn(O),
) {
    let d = depth.get();
    if d + 1 >= steps.len() {
        return;
    }
    let i = steps[d].get();
    steps[d].set(i + 1);
    let due: Vec<O> = plan
        .iter()
        .filter(|(at, dd, _)| *at == i && *dd == d)
        .map(|p| p.2)
        .collect();
    for op in due {
        depth.set(d + 1);
        steps[d + 1].set(0);
        run(op);
        depth.set(d);
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
        // A switch in progress: claimed, or its room finished and the word
        // not yet claimed (the window after the reservation that found the
        // sub-buffer full).
        let w = WriteState::from_raw(b.ws.load(Ordering::Relaxed));
        let busy = w.switching() || (w.is_open() && b.room[w.slot()].load(Ordering::Relaxed) < 0);
        match op {
            Op::Write(i, len) => {
                let rec = record(i, len);
                // Logged where it takes effect: at its reservation (before
                // the copy, where an interrupt may run) or its refusal.
                // Every third record reserves as the C fast path does
                // (no length check before its add), the others as Rust does.
                let r = if i % 3 == 0 {
                    reserve_as_c(&b.g, b, self, len)
                } else {
                    ring::reserve(&b.g, b, self, len)
                };
                match r {
                    Some(r) => {
                        assert!(!busy, "a write went in during a switch");
                        self.log((op, Some(true)));
                        self.step(Step::Copy);
                        b.put(r.pos(&b.g), &rec);
                        // Every other record commits as the C fast path
                        // does, so interrupts land between its halves too.
                        b.commit(self, r, i % 2 == 0);
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
    assert!(b.write(&nested, &[1; 6]));
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
                assert!(!self.0.policy.buf.write(self, &[2; 2]));
                assert_eq!(
                    ring::switch(&self.0.policy.buf.g, self.0.policy.buf, self, Reason::Flush),
                    Switched::Refused
                );
            }
        }
    }
    let c = AtCallback(&nested, Cell::new(false));
    assert!(b.write(&c, &[3; 4]));
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
        policy_client!(policy, counts);
    }
    let b = Buf::new(16, 4);
    let c = Slow {
        policy: Policy::new(&b, false, 0),
        hold: AtomicBool::new(false),
        in_switch: AtomicBool::new(false),
    };
    ring::start(&b.g, &b, &c);
    c.in_switch.store(false, Ordering::SeqCst);
    assert!(b.write(&c, &record(1, 5)));
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
fn a_writer_on_another_cpu_waits_for_a_switch_one_on_its_cpu_drops() {
    // CPU 0 switches, its callback holding the switch; meanwhile a writer
    // and a flush on CPU 1 (a global buffer) and a writer on CPU 0 (an NMI
    // over the switch).
    struct OnCpu<'a> {
        policy: &'a Policy<'a>,
        cpu: u32,
        hold: &'a AtomicBool,
        in_switch: &'a AtomicBool,
    }
    impl Client for OnCpu<'_> {
        fn subbuf_start(&self, slot: usize, prev: Option<usize>, full: bool) -> bool {
            self.in_switch.store(true, Ordering::SeqCst);
            while self.hold.load(Ordering::SeqCst) {
                std::thread::yield_now();
            }
            self.policy.callback(slot, prev, full)
        }
        fn cpu(&self) -> Option<u32> {
            Some(self.cpu)
        }
        policy_client!(policy, counts);
    }
    let b = Buf::new(16, 4);
    let p = Policy::new(&b, false, 0);
    let (hold, in_switch) = (AtomicBool::new(false), AtomicBool::new(false));
    let on = |cpu| OnCpu {
        policy: &p,
        cpu,
        hold: &hold,
        in_switch: &in_switch,
    };
    let (cpu0, cpu1) = (on(0), on(1));
    ring::start(&b.g, &b, &cpu0);
    assert!(b.write(&cpu0, &record(1, 12)));
    in_switch.store(false, Ordering::SeqCst);
    hold.store(true, Ordering::SeqCst);
    std::thread::scope(|s| {
        // Does not fit: CPU 0 switches, and holds.
        let owner = s.spawn(|| b.write(&cpu0, &record(2, 12)));
        while !in_switch.load(Ordering::SeqCst) {
            std::thread::yield_now();
        }
        let w = WriteState::from_raw(b.ws.load(Ordering::SeqCst));
        assert_eq!(w.owner(), Some(0), "{w:?}");
        // The owner's own CPU: it interrupted the switch, drops at once.
        let (nested, dropped) = (OnCpu { cpu: 0, ..on(0) }, &p.counts.dropped);
        assert!(!b.write(&nested, &record(3, 4)));
        assert_eq!(dropped.load(Ordering::SeqCst), 1);
        // Another CPU: waits for the switch, then writes; a flush there
        // waits too, for that switch only, and switches no more.
        let other = s.spawn(|| b.write(&cpu1, &record(4, 4)));
        let flusher = s.spawn(|| {
            ring::switch(&b.g, &b, &on(1), Reason::Flush);
            // When the flush returns, the sub-buffer the switch finished
            // is complete, and it is the only one finished.
            let produced = ring::Position::from_raw(b.pos.load(Ordering::SeqCst)).produced();
            (produced, ring::complete(&b.g, &b, 0))
        });
        std::thread::sleep(std::time::Duration::from_millis(20));
        let (waited, flush_waited) = (!other.is_finished(), !flusher.is_finished());
        hold.store(false, Ordering::SeqCst);
        assert!(owner.join().unwrap());
        assert!(other.join().unwrap(), "the other CPU's record was dropped");
        assert!(waited, "the other CPU did not wait for the switch");
        assert!(flush_waited, "the flush did not wait for the switch");
        let (produced, first_complete) = flusher.join().unwrap();
        assert_eq!(produced, 1, "the flush finished another sub-buffer");
        assert!(first_complete, "the flush returned before the switch ended");
    });
    assert_eq!(p.counts.dropped.load(Ordering::SeqCst), 1);
    let mut r = Reader::default();
    ring::switch(&b.g, &b, &cpu1, Reason::Flush);
    r.drain(&b);
    let mut got: Vec<u8> = parse(&r.bytes).iter().map(|x| x.0).collect();
    // The owner's record and the waiter's race for the new sub-buffer.
    got[1..].sort_unstable();
    assert_eq!(got, [1, 2, 4]);
}

#[test]
fn close_finishes_without_starting_and_makes_no_empty_subbuffer() {
    for (writes, produced) in [(0, 0), (1, 1)] {
        let b = Buf::new(8, 4);
        let p = Policy::new(&b, false, 2);
        let c = Plain(&p);
        ring::start(&b.g, &b, &c);
        for i in 0..writes {
            assert!(b.write(&c, &record(i + 1, 4)));
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
        assert!(!b.write(&c, &[1]));
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
    policy_client!(policy);
    fn step(&self, _at: Step) {
        // Widen the windows between steps now and then.
        if one_in(8) {
            std::thread::yield_now();
        }
    }
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
                            b.write(c, &tagged(w, seq, 4 + (seq as usize * 7 + w as usize) % 9))
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

// ---------------------------------------------------------------------------
// Review findings.

/// A plain client over a `Policy` (no interrupts).
struct Plain<'a>(&'a Policy<'a>);
impl Client for Plain<'_> {
    policy_client!(0);
}

#[test]
fn an_explicit_switch_finishes_a_subbuffer_the_record_still_fits() {
    // relay_switch_subbuf(buf, len) always switches; a writer's switch
    // (Record) that finds room after all does not.
    let b = Buf::new(16, 4);
    let p = Policy::new(&b, true, 0);
    let c = Plain(&p);
    ring::start(&b.g, &b, &c);
    assert!(b.write(&c, &record(1, 4)));
    let produced = |b: &Buf| ring::snapshot(&b.g, b).produced;
    assert_eq!(
        ring::switch(&b.g, &b, &c, Reason::Record(4)),
        Switched::Ready
    );
    assert_eq!(produced(&b), 0, "a record that fits switches nothing");
    assert_eq!(
        ring::switch(&b.g, &b, &c, Reason::Explicit(4)),
        Switched::Ready
    );
    assert_eq!(
        produced(&b),
        1,
        "an explicit switch finishes the sub-buffer"
    );
    assert_eq!(p.counts.written.load(Ordering::Relaxed), 4);
    // Too big: counted as relay counts it, and nothing is dropped (no
    // record was written).
    assert_eq!(
        ring::switch(&b.g, &b, &c, Reason::Explicit(17)),
        Switched::Refused
    );
    assert_eq!(p.counts.too_big.load(Ordering::Relaxed), 1);
    // Refused by a no-overwrite client on a full ring: no drop either.
    let b = Buf::new(16, 2);
    let p = Policy::new(&b, false, 0);
    let c = Plain(&p);
    ring::start(&b.g, &b, &c);
    assert!(b.write(&c, &record(2, 4)));
    assert_eq!(
        ring::switch(&b.g, &b, &c, Reason::Explicit(4)),
        Switched::Ready
    );
    assert_eq!(
        ring::switch(&b.g, &b, &c, Reason::Explicit(4)),
        Switched::Refused
    );
    assert_eq!(p.counts.full.load(Ordering::Relaxed), 1);
    assert_eq!(p.counts.dropped.load(Ordering::Relaxed), 0);
}

#[test]
fn review_close_over_an_empty_started_subbuffer_strands_the_reader() {
    // Overwrite, 2 x 8, header of 2. Sub-buffer 0 and 1 hold one record
    // each; a flush starts sub-buffer 2 in slot 0 (header over sub-buffer
    // 0); close finds it empty and closes without finishing it. The
    // snapshot then says "stopped" although slot 0 holds sub-buffer 2.
    let b = Buf::new(8, 2);
    let p = Policy::new(&b, true, 2);
    let c = Plain(&p);
    ring::start(&b.g, &b, &c);
    assert!(b.write(&c, &record(1, 6))); // sub-buffer 0
    assert!(b.write(&c, &record(2, 6))); // sub-buffer 1
    assert_eq!(ring::switch(&b.g, &b, &c, Reason::Flush), Switched::Ready); // starts 2 in slot 0
    assert_eq!(ring::switch(&b.g, &b, &c, Reason::Close), Switched::Refused);
    let mut r = Reader::default();
    r.drain(&b);
    let got = parse(&r.bytes);
    eprintln!(
        "read {got:?}, lost {}, pos {:?}, snapshot {:?}",
        r.lost,
        r.pos,
        ring::snapshot(&b.g, &b)
    );
    // Sub-buffer 0 was overwritten (lost); sub-buffer 1 is intact.
    assert_eq!(r.lost, 1, "sub-buffer 0 not counted lost");
    assert_eq!(got, [(2, 2)], "record 2 of sub-buffer 1 not read");
}

// A randomized nested-interrupt fuzzer that also checks the overwrite-mode
// promise: every accepted record not read lies in a sub-buffer the reader
// counted lost.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FOp {
    Write(u16, usize),
    Flush,
    Read,
}

struct Fz<'a> {
    policy: Policy<'a>,
    steps: [Cell<usize>; 4],
    depth: Cell<usize>,
    plan: Vec<(usize, usize, FOp)>,
    /// Accepted records and their absolute sub-buffer.
    accepted: RefCell<Vec<(u16, usize)>>,
    written: Cell<usize>,
    reader: RefCell<Reader>,
    next_id: Cell<u16>,
    reading: Cell<bool>,
}

impl Client for Fz<'_> {
    policy_client!(policy);
    fn step(&self, _at: Step) {
        interrupt(&self.depth, &self.steps, &self.plan, |op| self.run(op));
    }
}

impl Fz<'_> {
    fn run(&self, op: FOp) {
        let b = self.policy.buf;
        match op {
            FOp::Write(_, len) => {
                let i = self.next_id.get();
                self.next_id.set(i + 1);
                let rec = if len == 0 {
                    Vec::new()
                } else {
                    tagged((i % 97) as u8, i, len)
                };
                if len > 0 {
                    self.written.set(self.written.get() + 1);
                }
                // As above: every third record the switch first.
                let r = if i % 3 == 2 {
                    reserve_as_c(&b.g, b, self, len)
                } else {
                    ring::reserve(&b.g, b, self, len)
                };
                if let Some(r) = r {
                    let pos = ring::Position::from_raw(b.pos.load(Ordering::Relaxed));
                    assert!(pos.in_slot());
                    assert_eq!(b.g.slot(pos.produced()), r.slot);
                    if len > 0 {
                        self.accepted.borrow_mut().push((i, pos.produced()));
                    }
                    self.step(Step::Copy);
                    b.put(r.pos(&b.g), &rec);
                    b.commit(self, r, i % 2 == 1);
                }
            }
            FOp::Flush => {
                ring::switch(&b.g, b, self, Reason::Flush);
            }
            FOp::Read => {
                if self.reading.replace(true) {
                    return;
                }
                let mut r = std::mem::take(&mut *self.reader.borrow_mut());
                r.drain_hooked(b, &|| self.step(Step::Copy));
                *self.reader.borrow_mut() = r;
                self.reading.set(false);
            }
        }
    }
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn fuzz_one(seed: u64, close: bool) -> Result<(), String> {
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let size = 6 + rng.below(12);
    let n = 1 + rng.below(3);
    let overwrite = rng.below(2) == 0;
    let reserve = [0, 0, 1, 2, 3][rng.below(5)];
    let mut id = 0u16;
    let mut gen = |rng: &mut Rng| -> FOp {
        match rng.below(10) {
            0 => FOp::Flush,
            1 | 2 => FOp::Read,
            _ => {
                id += 1;
                let len = match rng.below(8) {
                    0 => 0,
                    1 => size + 1,
                    _ => 4 + rng.below(size - 3),
                };
                FOp::Write(id, len)
            }
        }
    };
    let big = std::env::var("FUZZ_BIG").is_ok();
    let ops: Vec<FOp> = (0..rng.below(if big { 40 } else { 12 }) + 1)
        .map(|_| gen(&mut rng))
        .collect();
    let mut plan = Vec::new();
    for _ in 0..rng.below(if big { 12 } else { 5 }) {
        let d = rng.below(3);
        let at = rng.below(if d == 0 {
            if big {
                200
            } else {
                60
            }
        } else {
            16
        });
        plan.push((at, d, gen(&mut rng)));
    }
    let b = Buf::new(size, n);
    let fz = Fz {
        policy: Policy::new(&b, overwrite, reserve),
        steps: Default::default(),
        depth: Cell::new(0),
        plan: plan.clone(),
        accepted: RefCell::new(Vec::new()),
        written: Cell::new(0),
        reader: RefCell::new(Reader::default()),
        next_id: Cell::new(1),
        reading: Cell::new(false),
    };
    ring::start(&b.g, &b, &fz);
    let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        for op in &ops {
            fz.run(*op);
        }
        if close {
            ring::switch(&b.g, &b, &fz, Reason::Close);
        } else {
            fz.run(FOp::Flush);
        }
        fz.reader.borrow_mut().drain(&b);
    }));
    let ctx = format!(
        "seed {seed} close {close} size {size} n {n} overwrite {overwrite} reserve {reserve} ops {ops:?} plan {plan:?}"
    );
    if let Err(e) = res {
        let m = e
            .downcast_ref::<String>()
            .cloned()
            .or(e.downcast_ref::<&str>().map(|s| s.to_string()));
        return Err(format!("panic {m:?}: {ctx}"));
    }
    let reader = fz.reader.borrow();
    let bytes = reader.bytes.clone();
    let got =
        std::panic::catch_unwind(move || parse(&bytes)).map_err(|_| format!("torn: {ctx}"))?;
    let acc = fz.accepted.borrow();
    let c = &fz.policy.counts;
    let refused = c.dropped.load(Ordering::Relaxed) + c.too_big.load(Ordering::Relaxed);
    if acc.len() + refused != fz.written.get() {
        return Err(format!(
            "accepted {} + refused {refused} != written {}: {ctx}",
            acc.len(),
            fz.written.get()
        ));
    }
    let mut seen = std::collections::HashSet::new();
    for (_, seq) in &got {
        if !acc.iter().any(|(i, _)| i == seq) {
            return Err(format!("record {seq} read, not accepted: {ctx}"));
        }
        if !seen.insert(*seq) {
            return Err(format!("record {seq} read twice: {ctx}"));
        }
    }
    for (i, k) in acc.iter() {
        if seen.contains(i) {
            continue;
        }
        if !overwrite {
            return Err(format!(
                "no-overwrite: record {i} (sub-buffer {k}) accepted, not read; lost {}: {ctx}",
                reader.lost
            ));
        }
        if !reader.skipped.iter().any(|(f, t)| f <= k && k < t) {
            return Err(format!(
                "overwrite: record {i} in sub-buffer {k} unread and not in a lost sub-buffer (skipped {:?}, reader {:?}): {ctx}",
                reader.skipped, reader.pos
            ));
        }
    }
    Ok(())
}

#[test]
fn review_fuzz_nested() {
    let iters: u64 = std::env::var("FUZZ_ITERS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20000);
    let mut fails = Vec::new();
    for seed in 0..iters {
        for close in [false, true] {
            if let Err(e) = fuzz_one(seed, close) {
                fails.push(e);
            }
        }
    }
    let n = fails.len();
    fails.sort_by_key(|s| s.len());
    for f in fails.iter().take(8) {
        eprintln!("{f}\n");
    }
    assert_eq!(n, 0, "{n} failures");
}

#[test]
fn review_close_over_an_empty_started_subbuffer_gives_the_reader_a_torn_record() {
    // Overwrite, 1 x 7, no header. Close finds sub-buffer 2 (started by a
    // flush, so its padding word was reset to 0) empty and leaves pos at
    // (2, in_slot); the snapshot calls that "stopped", so the reader takes
    // sub-buffer 1 as intact and reads it to 7 - padding[0] = 7 bytes: its
    // 6-byte record plus a stale byte of record 1.
    let b = Buf::new(7, 1);
    let p = Policy::new(&b, true, 0);
    let c = Plain(&p);
    ring::start(&b.g, &b, &c);
    assert!(b.write(&c, &record(1, 7))); // sub-buffer 0
    assert!(b.write(&c, &record(2, 6))); // sub-buffer 1, padding 1
    assert_eq!(ring::switch(&b.g, &b, &c, Reason::Flush), Switched::Ready); // starts 2
    assert_eq!(ring::switch(&b.g, &b, &c, Reason::Close), Switched::Refused);
    let mut r = Reader::default();
    r.drain(&b);
    eprintln!("bytes {:?}, lost {}", r.bytes, r.lost);
    parse(&r.bytes); // panics: torn record
}

/// The concurrent test with an overwrite-mode lost check: every accepted
/// record not read must lie in a sub-buffer the reader skipped as lost.
fn concurrent_lost(
    overwrite: bool,
    reserve: usize,
    size: usize,
    n: usize,
    writers: u8,
    records: u16,
    hooked: bool,
) {
    let b = Buf::new(size, n);
    let c = Shared {
        policy: Policy::new(&b, overwrite, reserve),
    };
    ring::start(&b.g, &b, &c);
    let done = AtomicUsize::new(0);
    std::thread::scope(|s| {
        let hs: Vec<_> = (1..=writers)
            .map(|w| {
                let (b, c, done) = (&b, &c, &done);
                s.spawn(move || {
                    let mut out = Vec::new();
                    for seq in 0..records {
                        let rec = tagged(w, seq, 4 + (seq as usize * 7 + w as usize) % 9);
                        match ring::reserve(&b.g, b, c, rec.len()) {
                            Some(r) => {
                                let p = ring::Position::from_raw(b.pos.load(Ordering::Acquire));
                                let (pp, s_) = (p.produced(), r.slot);
                                let k = if !p.in_slot() && b.g.slot(pp) == s_ {
                                    pp - n
                                } else {
                                    pp - (pp + n - s_) % n
                                };
                                c.step(Step::Copy);
                                b.put(r.pos(&b.g), &rec);
                                b.commit(c, r, (seq as usize + w as usize) % 2 == 0);
                                out.push(Some((k, r.off)));
                            }
                            None => out.push(None),
                        }
                    }
                    done.fetch_add(1, Ordering::Release);
                    out
                })
            })
            .collect();
        let flusher = s.spawn(|| {
            while done.load(Ordering::Acquire) < writers as usize {
                ring::switch(&b.g, &b, &c, Reason::Flush);
                std::thread::yield_now();
            }
        });
        let mut reader = Reader::default();
        let hook = || {
            if hooked && one_in(8) {
                std::thread::yield_now();
            }
        };
        while done.load(Ordering::Acquire) < writers as usize {
            reader.drain_hooked(&b, &hook);
        }
        let acc: Vec<Vec<Option<(usize, usize)>>> =
            hs.into_iter().map(|h| h.join().unwrap()).collect();
        ring::switch(&b.g, &b, &c, Reason::Close);
        flusher.join().unwrap();
        reader.drain(&b);
        let got = parse(&reader.bytes);
        let mut seen = std::collections::HashSet::new();
        for (w, seq) in &got {
            assert!(seen.insert((*w, *seq)), "record {w}/{seq} read twice");
            assert!(
                acc[*w as usize - 1][*seq as usize].is_some(),
                "read but refused"
            );
        }
        let went_in: usize = acc
            .iter()
            .map(|v| v.iter().filter(|x| x.is_some()).count())
            .sum();
        let dropped = c.policy.counts.dropped.load(Ordering::Relaxed);
        assert_eq!(went_in + dropped, writers as usize * records as usize);
        for (wi, v) in acc.iter().enumerate() {
            for (seq, k) in v.iter().enumerate() {
                let Some((k, off)) = *k else { continue };
                if seen.contains(&(wi as u8 + 1, seq as u16)) {
                    continue;
                }
                assert!(
                    overwrite,
                    "no-overwrite: {}/{seq} in {k} at {off} not read",
                    wi + 1
                );
                assert!(
                    reader.skipped.iter().any(|(f, t)| *f <= k && k < *t),
                    "overwrite {overwrite} reserve {reserve} size {size} n {n} hooked {hooked}: {}/{seq} in sub-buffer {k} at {off} unread, not lost; chunks of it {:?}",
                    wi + 1,
                    reader.chunks.iter().filter(|c| c.0 + 1 >= k && c.0 <= k + 1).collect::<Vec<_>>()
                );
            }
        }
    });
}

#[test]
fn review_concurrent_lost() {
    let rounds: usize = std::env::var("CONC_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    for _ in 0..rounds {
        for overwrite in [true, false] {
            for (reserve, size, n) in [(0, 16, 1), (2, 16, 1), (0, 24, 2), (3, 40, 3), (0, 13, 5)] {
                for hooked in [false, true] {
                    concurrent_lost(overwrite, reserve, size, n, 4, 2000, hooked);
                }
            }
        }
    }
}

#[test]
fn review_reader_next_on_a_later_laps_padding_loses_a_record_uncounted() {
    // Overwrite, 2 x 8, no header. The reader has read record A (bytes 0..4
    // of sub-buffer 0, then current). Record B fills sub-buffer 0, a flush
    // finishes it. The reader takes a snapshot (produced 1); before it
    // reads padding[0], the writer (another CPU) writes C into sub-buffer
    // 1, flushes (starting 2 in slot 0) and flushes again (sub-buffer 2
    // finished empty: padding[0] = 8). read_step then computes the end of
    // sub-buffer 0 as 8 - 8 = 0 and says Next: sub-buffer 0 is released
    // unvalidated, B is neither read nor counted lost.
    let b = Buf::new(8, 2);
    let p = Policy::new(&b, true, 0);
    let c = Plain(&p);
    ring::start(&b.g, &b, &c);
    assert!(b.write(&c, &record(1, 4)));
    let mut r = Reader::default();
    r.drain(&b);
    assert_eq!(parse(&r.bytes), [(1, 1)]);
    assert!(b.write(&c, &record(2, 4)));
    ring::switch(&b.g, &b, &c, Reason::Flush);
    let calls = Cell::new(0);
    let hook = || {
        calls.set(calls.get() + 1);
        if calls.get() == 2 {
            // Between the reader's snapshot and its read_step.
            assert!(b.write(&c, &record(3, 4)));
            ring::switch(&b.g, &b, &c, Reason::Flush);
            ring::switch(&b.g, &b, &c, Reason::Flush);
        }
    };
    r.drain_hooked(&b, &hook);
    r.drain(&b);
    eprintln!(
        "read {:?} lost {} skipped {:?}",
        parse(&r.bytes),
        r.lost,
        r.skipped
    );
    // B (sub-buffer 0) and C (sub-buffer 1) were overwritten: both
    // sub-buffers must be counted lost.
    assert_eq!(
        r.lost, 2,
        "record 2 in sub-buffer 0 vanished without a lost count"
    );
}

/// A client that, in its callback, looks at the sub-buffer it may write
/// into (`prev`): a reader must not be able to take it yet.
struct PrevWatcher<'a> {
    policy: Policy<'a>,
    prev_complete: Cell<Option<bool>>,
}

impl Client for PrevWatcher<'_> {
    fn subbuf_start(&self, slot: usize, prev: Option<usize>, full: bool) -> bool {
        if let Some(p) = prev {
            let b = self.policy.buf;
            // Sub-buffer number `produced - 1` is the one in `prev`.
            let k = ring::Position::from_raw(b.pos.load(Ordering::Relaxed)).produced() - 1;
            assert_eq!(b.g.slot(k), p);
            self.prev_complete.set(Some(ring::complete(&b.g, b, k)));
        }
        self.policy.callback(slot, prev, full)
    }
    policy_client!(policy, counts);
}

#[test]
fn a_subbuffer_filled_exactly_is_not_complete_while_the_callback_may_write_it() {
    // Records of 4 fill the 8-byte sub-buffers exactly: no padding, so the
    // records' commits alone add up to a whole sub-buffer before the
    // switch. Until the callback returned, `prev` must not be complete
    // (readers take complete sub-buffers).
    let b = Buf::new(8, 4);
    let c = PrevWatcher {
        policy: Policy::new(&b, false, 0),
        prev_complete: Cell::new(None),
    };
    ring::start(&b.g, &b, &c);
    assert!(b.write(&c, &record(1, 4)));
    assert!(b.write(&c, &record(2, 4)));
    assert!(b.write(&c, &record(3, 4)));
    assert_eq!(c.prev_complete.get(), Some(false));
    // Once the switch is over, it is.
    assert!(ring::complete(&b.g, &b, 0));
    assert_eq!(ring::padding_of(&b, 0), 0);
}
