// SPDX-License-Identifier: GPL-2.0

//! Review of the lockless protocol's readers and edges (at e67c5eb).
//!
//! `read_to` below is a line-by-line port of the module's `read()`
//! (`src/file.rs`, `RchanBuf::read_to` as committed, with `advance`,
//! `padding_of` and `put_consumed` of `src/buffer.rs` and `src/ffi.rs`)
//! over the real `ring.rs` and `subbuf.rs`, with hooks where another CPU
//! may run. The test reader of `tests/ring.rs` was fixed by an earlier
//! review (padding read once per step, `Next` validated); the module's
//! reader was not, and it also looks at `consumed` after the writer.
//! `Port::Fixed` is the same port with those three fixes, run on the same
//! scenarios.
//!
//! The module's read() now has those fixes: `Port::Fixed` is it.
//! `Port::Module` stays as the code before them, and the tests named
//! `before_the_fix_*` (`should_panic`) show each scenario catches its bug.

use rrelay_accounting::ring::{self, Client, Position, Reason, Step, Switched, WriteState};
use rrelay_accounting::{Event, ReadStep, ReaderPos};
use std::cell::Cell;
use std::sync::atomic::{fence, AtomicUsize, Ordering};
use std::sync::Barrier;
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------
// A buffer and a client (as in tests/ring.rs).

use rrelay_accounting::buf::{one_in, parse, tagged, Buf};

/// relay's default client (stop when full), or an overwriting one.
struct Cl {
    overwrite: bool,
    dropped: AtomicUsize,
    too_big: AtomicUsize,
}

impl Cl {
    fn new(overwrite: bool) -> Self {
        Cl {
            overwrite,
            dropped: AtomicUsize::new(0),
            too_big: AtomicUsize::new(0),
        }
    }
}

impl Client for Cl {
    fn subbuf_start(&self, _slot: usize, _prev: Option<usize>, full: bool) -> bool {
        self.overwrite || !full
    }
    fn count(&self, event: Event) {
        match event {
            Event::Dropped => self.dropped.fetch_add(1, Ordering::Relaxed),
            Event::TooBig => self.too_big.fetch_add(1, Ordering::Relaxed),
            _ => 0,
        };
    }
    fn finished(&self, _bytes: usize) {}
    fn completed(&self, _slot: usize) {}
}

fn flush(b: &Buf, c: &Cl) {
    ring::switch(&b.g, b, c, Reason::Flush);
}

/// Record `i` of `len` bytes, naming itself (no byte has the top bit set).
fn rec(i: u8, len: usize) -> Vec<u8> {
    let mut r = vec![len as u8, i];
    r.extend((2..len).map(|j| (i as usize * 7 + j) as u8 & 0x7f));
    r
}

// ---------------------------------------------------------------------------
// The module's read() (src/file.rs), ported.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Port {
    /// As the module has it.
    Module,
    /// With the suggested fixes: `consumed` before the snapshot, the padding
    /// read once per step, and `Next` validated like a copy.
    Fixed,
}

/// Where another CPU may run inside `read_to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum At {
    /// Between the reader's look at the writer and its look at `consumed`.
    BetweenLooks,
    /// Just before the padding of the reader's sub-buffer is loaded.
    Padding,
    /// After a copy was validated, before the reader moves on.
    Validated,
}

/// The reader's side: `ReaderPos` under the reader mutex, and the lost
/// count of `BufStats`.
#[derive(Default, Debug)]
struct ReadState {
    pos: ReaderPos,
    lost: usize,
    /// Sub-buffers skipped as lost: `from..to`.
    skipped: Vec<(usize, usize)>,
}

/// `RchanBuf::advance`.
fn advance(b: &Buf, reader: &mut ReaderPos, pos: ReaderPos) -> bool {
    if pos.consumed == reader.consumed
        || b.consumed
            .compare_exchange(
                reader.consumed,
                pos.consumed,
                Ordering::Release,
                Ordering::Relaxed,
            )
            .is_ok()
    {
        *reader = pos;
        true
    } else {
        false
    }
}

/// `RchanBuf::put_consumed` (`rrelay_subbufs_consumed`, the PUT_CONSUMED
/// ioctl): any context, no reader lock.
fn put_consumed(b: &Buf, n: usize) {
    loop {
        let consumed = b.consumed.load(Ordering::Acquire);
        let c = b.g.add_consumed(b.produced(), consumed, n);
        if c == consumed
            || b.consumed
                .compare_exchange(consumed, c, Ordering::Release, Ordering::Relaxed)
                .is_ok()
        {
            return;
        }
    }
}

/// `RchanBuf::read_to` into a sink of `room` bytes (`finished_only` off).
fn read_to(
    port: Port,
    b: &Buf,
    st: &mut ReadState,
    room: usize,
    out: &mut Vec<u8>,
    hook: &dyn Fn(At),
) -> usize {
    let g = b.g;
    let mut done = 0;
    let mut rounds = 0;
    while room - done > 0 {
        rounds += 1;
        // A livelock guard, not a timing check: under heavy host load a
        // reader may retry torn copies many times.
        assert!(rounds < 1_000_000, "read_to loops");
        let (snap, consumed) = match port {
            Port::Module => {
                let snap = ring::snapshot(&g, b);
                hook(At::BetweenLooks);
                (snap, b.consumed.load(Ordering::Acquire))
            }
            Port::Fixed => {
                let consumed = b.consumed.load(Ordering::Acquire);
                hook(At::BetweenLooks);
                (ring::snapshot(&g, b), consumed)
            }
        };
        let w = snap.writer(&g);
        if st.pos.consumed != consumed {
            st.pos = ReaderPos {
                consumed,
                bytes_consumed: 0,
            };
        }
        let r = st.pos;
        // The module: `|slot| self.padding_of(slot)`, a fresh load at each
        // call (read_step, then consume). Fixed: one load per step.
        let once = Cell::new(None::<usize>);
        let pad = |slot: usize| match (port, once.get()) {
            (Port::Fixed, Some(p)) => p,
            _ => {
                hook(At::Padding);
                let p = ring::padding_of(b, slot);
                once.set(Some(p));
                p
            }
        };
        match g.read_step(w, r, pad) {
            ReadStep::Empty => break,
            ReadStep::Next => {
                if port == Port::Fixed {
                    fence(Ordering::Acquire);
                    if !ring::snapshot(&g, b).intact(&g, r.consumed) {
                        continue;
                    }
                }
                advance(b, &mut st.pos, g.consume(w, r, 0, pad));
            }
            ReadStep::Skip { to, lost } => {
                let to = ReaderPos {
                    consumed: to,
                    bytes_consumed: 0,
                };
                let from = st.pos.consumed;
                if advance(b, &mut st.pos, to) {
                    st.lost = st.lost.wrapping_add(lost);
                    st.skipped.push((from, to.consumed));
                }
            }
            ReadStep::Data { .. }
                if w.produced != r.consumed && !ring::complete(&g, b, r.consumed) =>
            {
                break
            }
            ReadStep::Data { start, len } => {
                let n = len.min(room - done);
                let copy = b.get(start, n);
                // smp_rmb()
                fence(Ordering::Acquire);
                if !ring::snapshot(&g, b).intact(&g, r.consumed) {
                    continue;
                }
                hook(At::Validated);
                out.extend_from_slice(&copy);
                done += n;
                advance(b, &mut st.pos, g.consume(w, r, n, pad));
            }
        }
    }
    done
}

/// Runs `f` once, at the first time the reader reaches `at`.
fn once_at<'a>(at: At, f: impl Fn() + 'a) -> impl Fn(At) + 'a {
    let fired = Cell::new(false);
    move |p| {
        if p == at && !fired.replace(true) {
            f()
        }
    }
}

fn no_hook(_: At) {}

// ---------------------------------------------------------------------------
// 1. `Next` is not validated: a later lap's padding releases an unread
//    sub-buffer, neither read nor counted lost.

fn next_on_a_later_laps_padding(port: Port) -> (Vec<u8>, usize) {
    // Overwrite, 2 x 8. The reader has read A (bytes 0..4 of sub-buffer 0
    // while current). B fills sub-buffer 0, a flush finishes it. The reader
    // looks at the writer (produced 1); before it loads padding[0], the
    // writer (another CPU) writes C into sub-buffer 1 and flushes twice:
    // sub-buffer 2 starts in slot 0 and is finished empty, padding[0] = 8.
    // read_step: end of sub-buffer 0 = 8 - 8 = 0 <= 4 read: Next, and the
    // module releases sub-buffer 0 without looking again.
    let b = Buf::new(8, 2);
    let c = Cl::new(true);
    ring::start(&b.g, &b, &c);
    let mut st = ReadState::default();
    let mut out = Vec::new();
    assert!(b.write(&c, &rec(1, 4)));
    read_to(port, &b, &mut st, 64, &mut out, &no_hook);
    assert_eq!(out, rec(1, 4));
    assert!(b.write(&c, &rec(2, 4)));
    flush(&b, &c);
    let hook = once_at(At::Padding, || {
        assert!(b.write(&c, &rec(3, 4)));
        flush(&b, &c);
        flush(&b, &c);
    });
    read_to(port, &b, &mut st, 64, &mut out, &hook);
    read_to(port, &b, &mut st, 64, &mut out, &no_hook);
    (out, st.lost)
}

#[test]
#[should_panic(expected = "not counted lost")]
fn before_the_fix_next_on_a_later_laps_padding_loses_a_subbuffer_uncounted() {
    let (out, lost) = next_on_a_later_laps_padding(Port::Module);
    // B (sub-buffer 0) and C (sub-buffer 1) were overwritten: 2 lost.
    assert_eq!(out, rec(1, 4));
    assert_eq!(
        lost, 2,
        "sub-buffer 0 (record 2) released unread and not counted lost"
    );
}

#[test]
fn fixed_read_next_on_a_later_laps_padding_counts_the_loss() {
    let (out, lost) = next_on_a_later_laps_padding(Port::Fixed);
    assert_eq!(out, rec(1, 4));
    assert_eq!(lost, 2);
}

// ---------------------------------------------------------------------------
// 2. The padding is loaded twice per step (read_step, then consume): a
//    sub-buffer read whole is also counted lost.

fn consume_rereads_padding(port: Port) -> (Vec<u8>, usize) {
    // Overwrite, 2 x 8. Sub-buffer 0 holds A (padding 4), sub-buffer 1 B.
    // The reader copies A (end 8 - 4 = 4) and validates it (intact). Then
    // the writer flushes: sub-buffer 2 starts in slot 0, padding[0] = 0.
    // consume() loads padding[0] again: 4 < 8 - 0, so the reader stays in
    // sub-buffer 0, and the next step skips it as lost.
    let b = Buf::new(8, 2);
    let c = Cl::new(true);
    ring::start(&b.g, &b, &c);
    assert!(b.write(&c, &rec(1, 4)));
    flush(&b, &c);
    assert!(b.write(&c, &rec(2, 4)));
    let mut st = ReadState::default();
    let mut out = Vec::new();
    let hook = once_at(At::Validated, || flush(&b, &c));
    read_to(port, &b, &mut st, 64, &mut out, &hook);
    read_to(port, &b, &mut st, 64, &mut out, &no_hook);
    (out, st.lost)
}

#[test]
#[should_panic(expected = "counted lost too")]
fn before_the_fix_a_subbuffer_read_whole_is_counted_lost() {
    let (out, lost) = consume_rereads_padding(Port::Module);
    let mut want = rec(1, 4);
    want.extend(rec(2, 4));
    assert_eq!(out, want);
    assert_eq!(lost, 0, "sub-buffer 0 delivered whole and counted lost too");
}

#[test]
fn fixed_read_reads_each_subbuffer_once_and_loses_none() {
    let (out, lost) = consume_rereads_padding(Port::Fixed);
    let mut want = rec(1, 4);
    want.extend(rec(2, 4));
    assert_eq!(out, want);
    assert_eq!(lost, 0);
}

// ---------------------------------------------------------------------------
// 3. `consumed` is loaded after the snapshot: a PUT_CONSUMED ioctl (or
//    rrelay_subbufs_consumed) in between puts the reader ahead of the
//    writer it saw. read_step's Skip then underflows (`w.produced -
//    n_subbufs`, `oldest - r.consumed`): a panic with
//    CONFIG_RUST_OVERFLOW_CHECKS, else consumed wraps and read() returns
//    bytes no writer wrote, and `lost` gets ~2^64.

fn consumed_ahead(port: Port) -> (Vec<u8>, ReadState, usize, usize) {
    let b = Buf::new(8, 4);
    let c = Cl::new(false);
    ring::start(&b.g, &b, &c);
    let mut st = ReadState::default();
    let mut out = Vec::new();
    // Another CPU: two sub-buffers finished, and the mmap reader releases
    // both (PUT_CONSUMED 2) while read() runs.
    let hook = once_at(At::BetweenLooks, || {
        assert!(b.write(&c, &rec(1, 8)));
        assert!(b.write(&c, &rec(2, 8)));
        flush(&b, &c);
        put_consumed(&b, 2);
    });
    let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        read_to(port, &b, &mut st, 64, &mut out, &hook);
    }));
    assert!(
        res.is_ok(),
        "read() panicked (overflow: a kernel BUG with RUST_OVERFLOW_CHECKS)"
    );
    (out, st, b.consumed.load(Ordering::Relaxed), b.produced())
}

#[test]
#[should_panic]
fn before_the_fix_read_with_consumed_ahead_of_its_snapshot() {
    let (out, st, consumed, produced) = consumed_ahead(Port::Module);
    eprintln!("out {out:02x?} reader {st:?} consumed {consumed} produced {produced}");
    assert!(
        !out.contains(&0xa5),
        "read() returned bytes no writer wrote: {out:02x?}"
    );
    assert!(st.lost <= 4, "lost {}", st.lost);
    assert!(
        consumed <= produced,
        "consumed {consumed} > produced {produced}"
    );
}

#[test]
fn fixed_read_with_consumed_ahead_of_its_snapshot() {
    let (out, st, consumed, produced) = consumed_ahead(Port::Fixed);
    assert!(!out.contains(&0xa5), "{out:02x?}");
    assert_eq!(st.lost, 0);
    assert!(consumed <= produced);
}

// ---------------------------------------------------------------------------
// 4. `Position` keeps `produced` in usize - 1 bits, `consumed` and the
//    commit counts in usize: when `produced` wraps (2^63 sub-buffers here;
//    2^31 on a 32-bit kernel, where it is reachable) the slot and lap
//    arithmetic jumps and the buffer wedges (every record dropped).

/// A known limit, documented in README: reachable on 32-bit kernels only.
#[test]
#[should_panic]
fn position_wrap_wedges_the_buffer() {
    let (size, n) = (8, 3);
    let b = Buf::new(size, n);
    let c = Cl::new(true);
    // The state a buffer has after `p0` sub-buffers, every one complete.
    let p0 = (1usize << (usize::BITS - 1)) - 2;
    let lap_base = |k: usize| (k / n).wrapping_mul(ring::lap_unit(&b.g));
    for k in p0 - n + 1..p0 {
        b.commit[k % n].store(lap_base(k + n), Ordering::Relaxed);
        b.padding[k % n].store(0, Ordering::Relaxed);
    }
    b.commit[p0 % n].store(lap_base(p0), Ordering::Relaxed);
    b.padding[p0 % n].store(0, Ordering::Relaxed);
    b.start_reserve.store(0, Ordering::Relaxed);
    b.consumed.store(p0, Ordering::Relaxed);
    b.pos
        .store(Position::new(p0, true).raw(), Ordering::Relaxed);
    for slot in 0..n {
        b.room[slot].store(i64::MIN / 2, Ordering::Relaxed);
    }
    b.ws.store(WriteState::open(p0 % n).raw(), Ordering::Release);
    b.current.store(p0 % n, Ordering::Release);
    b.room[p0 % n].store(size as i64, Ordering::Release);
    let accepted = (0..12)
        .filter(|i| b.write(&c, &rec(*i as u8, size)))
        .count();
    eprintln!(
        "accepted {accepted}/12, dropped {}, pos {:?} ws {:?}",
        c.dropped.load(Ordering::Relaxed),
        Position::from_raw(b.pos.load(Ordering::Relaxed)),
        WriteState::from_raw(b.ws.load(Ordering::Relaxed)),
    );
    assert_eq!(accepted, 12, "overwrite mode: every record goes in");
}

// ---------------------------------------------------------------------------
// 5. The same, with real threads: writers on a global buffer and a remote
//    flusher race the module's read(). Every accepted record must be read
//    or lie in a sub-buffer the reader counted lost.

/// Returns how many accepted records were neither read nor in a sub-buffer
/// counted lost.
fn race(port: Port, size: usize, n: usize, room: usize, rounds: usize) -> usize {
    race_with(port, size, n, room, rounds, true, false)
}

/// A client on a known CPU (`cpu()`), so that writers wait for switches
/// owned by other CPUs (ring.rs since 4ae4f48).
struct CpuCl<'a> {
    cl: &'a Cl,
    cpu: Option<u32>,
}

impl Client for CpuCl<'_> {
    fn subbuf_start(&self, slot: usize, prev: Option<usize>, full: bool) -> bool {
        self.cl.subbuf_start(slot, prev, full)
    }
    fn count(&self, e: Event) {
        self.cl.count(e)
    }
    fn finished(&self, _bytes: usize) {}
    fn completed(&self, _slot: usize) {}
    fn cpu(&self) -> Option<u32> {
        self.cpu
    }
    fn step(&self, at: Step) {
        if at == Step::SwitchWait {
            // The host may have descheduled the owner; the kernel's runs
            // with interrupts off.
            std::thread::yield_now();
        }
    }
}

/// `race`, in either mode, with writers (and the flusher) on distinct
/// CPUs if `cpus`. Checks accepted + dropped == written, and in
/// no-overwrite mode that every accepted record is read.
fn race_with(
    port: Port,
    size: usize,
    n: usize,
    room: usize,
    rounds: usize,
    overwrite: bool,
    cpus: bool,
) -> usize {
    const WRITERS: u8 = 3;
    const RECORDS: u16 = 3000;
    let mut vanished = 0;
    for _ in 0..rounds {
        let b = Buf::new(size, n);
        let cl = Cl::new(overwrite);
        let on = |cpu: u32| CpuCl {
            cl: &cl,
            cpu: cpus.then_some(cpu),
        };
        let c = on(0);
        ring::start(&b.g, &b, &c);
        let done = AtomicUsize::new(0);
        std::thread::scope(|s| {
            let hs: Vec<_> = (1..=WRITERS)
                .map(|w| {
                    let (b, done) = (&b, &done);
                    let c = on(u32::from(w));
                    s.spawn(move || {
                        let c = &c;
                        let mut out = Vec::new();
                        for seq in 0..RECORDS {
                            let rec = tagged(w, seq, 4 + (seq as usize * 7 + w as usize) % 9);
                            match ring::reserve(&b.g, b, c, rec.len()) {
                                Some(r) => {
                                    // The sub-buffer it went into: the newest
                                    // started one in its slot (none newer can
                                    // start there while this is uncommitted,
                                    // however long the thread was off its CPU).
                                    let p = Position::from_raw(b.pos.load(Ordering::Acquire));
                                    let last = p.produced() - usize::from(!p.in_slot());
                                    let k = last - (last + n - r.slot) % n;
                                    if seq % 16 == 0 {
                                        std::thread::yield_now();
                                    }
                                    b.put(r.pos(&b.g), &rec);
                                    ring::commit(&b.g, b, c, r);
                                    out.push(Some(k));
                                }
                                None => out.push(None),
                            }
                        }
                        done.fetch_add(1, Ordering::Release);
                        out
                    })
                })
                .collect();
            let fc = on(99);
            let (bb, dd) = (&b, &done);
            let flusher = s.spawn(move || {
                let (fc, b, done) = (&fc, bb, dd);
                while done.load(Ordering::Acquire) < WRITERS as usize {
                    ring::switch(&b.g, b, fc, Reason::Flush);
                    std::thread::yield_now();
                }
            });
            let mut st = ReadState::default();
            let mut out = Vec::new();
            let hook = |_| {
                if one_in(4) {
                    std::thread::yield_now();
                }
            };
            while done.load(Ordering::Acquire) < WRITERS as usize {
                read_to(port, &b, &mut st, room, &mut out, &hook);
            }
            let acc: Vec<Vec<Option<usize>>> = hs.into_iter().map(|h| h.join().unwrap()).collect();
            flusher.join().unwrap();
            ring::switch(&b.g, &b, &c, Reason::Close);
            while read_to(port, &b, &mut st, room, &mut out, &no_hook) > 0 {}
            let got: std::collections::HashSet<_> = parse(&out).into_iter().collect();
            let went_in: usize = acc.iter().map(|v| v.iter().flatten().count()).sum();
            let dropped = cl.dropped.load(Ordering::Relaxed);
            assert_eq!(went_in + dropped, WRITERS as usize * RECORDS as usize);
            if !overwrite {
                assert_eq!(st.lost, 0);
                assert_eq!(
                    got.len(),
                    went_in,
                    "no-overwrite: an accepted record not read"
                );
            }
            for (wi, v) in acc.iter().enumerate() {
                for (seq, k) in v.iter().enumerate() {
                    let Some(k) = *k else { continue };
                    if !got.contains(&(wi as u8 + 1, seq as u16))
                        && !st.skipped.iter().any(|(f, t)| *f <= k && k < *t)
                    {
                        vanished += 1;
                    }
                }
            }
        });
    }
    vanished
}

#[test]
fn race_fixed_read_with_waiting_writers() {
    for overwrite in [true, false] {
        for (size, n) in [(16, 2), (16, 1), (13, 3), (40, 3)] {
            let v = race_with(Port::Fixed, size, n, 1 << 20, 5, overwrite, true);
            assert_eq!(v, 0, "{v} accepted records vanished");
        }
    }
}

#[test]
fn race_fixed_read() {
    let mut v = 0;
    for (size, n, room) in [
        (16, 2, 1 << 20),
        (16, 1, 1 << 20),
        (24, 2, 1 << 20),
        (13, 3, 1 << 20),
        (40, 3, 1 << 20),
    ] {
        v += race(Port::Fixed, size, n, room, 20);
    }
    assert_eq!(v, 0, "{v} accepted records vanished");
}

// ---------------------------------------------------------------------------
// 6. `rrelay::Channel::reset(&self)` (include/rrelay.rs) is a safe fn, but
//    `rrelay_reset` requires that no writer be active. Safe code can reset
//    while a reservation is in flight (from `reserve`'s `fill` closure, or
//    from another CPU: `Channel` is `Sync`). The stale commit then lands in
//    the restarted counts: a reader takes bytes no writer has written yet,
//    and one lap later the slot's lap check fails for good (every record
//    dropped until the next reset).

/// Why `Channel::reset` is an `unsafe fn`: a reset under a reservation.
#[test]
#[should_panic]
fn reset_under_a_reservation_exposes_unwritten_bytes_and_wedges() {
    let b = Buf::new(8, 2);
    let c = Cl::new(true);
    ring::start(&b.g, &b, &c);
    // `chan.reserve(4, |bytes| { chan.reset(); bytes.copy_from_slice(..) })`
    let r = ring::reserve(&b.g, &b, &c, 4).unwrap();
    ring::start(&b.g, &b, &c); // rrelay_reset
    b.put(r.pos(&b.g), &rec(1, 4));
    ring::commit(&b.g, &b, &c, r);
    // Another writer reserves 4 bytes and has not copied yet.
    let x = ring::reserve(&b.g, &b, &c, 4).unwrap();
    let snap = ring::snapshot(&b.g, &b);
    // X's bytes (the very bytes `r` had: two writers were given them) count
    // as committed before X wrote them.
    let exposed = snap.produced == 0 && snap.committed >= x.off + x.len;
    b.put(x.pos(&b.g), &rec(2, 4));
    ring::commit(&b.g, &b, &c, x);
    // Two more sub-buffers' worth: the slot of the stale commit comes round.
    let accepted = (3..9).filter(|i| b.write(&c, &rec(*i, 8))).count();
    eprintln!(
        "snapshot {snap:?} exposed unwritten bytes {exposed}; accepted {accepted}/6, ws {:?}",
        WriteState::from_raw(b.ws.load(Ordering::Relaxed))
    );
    assert!(
        !exposed,
        "the reader may take X's 4 bytes before X wrote them"
    );
    assert_eq!(
        accepted, 6,
        "overwrite mode, yet the buffer is stopped for good"
    );
}

// ---------------------------------------------------------------------------
// 7. Since 4ae4f48 a writer waits for a switch owned by another CPU. The
//    owner runs with interrupts off, but an NMI can still stop it, and an
//    NMI writer waits too: two CPUs whose switches are each interrupted by
//    an NMI writer waiting for the other's switch never make progress.
//
//    One per-CPU channel is enough: CPU 0 runs rrelay_flush() and owns the
//    switch of CPU 1's buffer; CPU 1 runs rrelay_flush() and owns the
//    switch of CPU 0's buffer; an NMI on each CPU writes to its own buffer
//    (perf, or any NMI tracer). Each NMI spins, in NMI context, for the
//    switch its CPU's partner holds, which is stopped under the partner's
//    NMI: a hard lockup the NMI watchdog cannot even report.

/// A context on `cpu`: at the switch's callback (holding the switch) it
/// runs `nmi`, as an NMI over the switch would. Waits give up after 2 s.
struct OnCpu<'a> {
    cpu: Option<u32>,
    /// `false` in NMI: the kernel's rule (`Client::may_wait`).
    may_wait: bool,
    nmi: Option<&'a (dyn Fn() + Sync)>,
    waiting: Cell<Option<Instant>>,
    dropped: Cell<usize>,
}

impl<'a> OnCpu<'a> {
    fn new(cpu: Option<u32>, nmi: Option<&'a (dyn Fn() + Sync)>) -> Self {
        OnCpu {
            cpu,
            may_wait: true,
            nmi,
            waiting: Cell::new(None),
            dropped: Cell::new(0),
        }
    }
}

impl Client for OnCpu<'_> {
    fn subbuf_start(&self, _slot: usize, _prev: Option<usize>, _full: bool) -> bool {
        if let Some(nmi) = self.nmi {
            nmi();
        }
        true
    }
    fn count(&self, e: Event) {
        if e == Event::Dropped {
            self.dropped.set(self.dropped.get() + 1);
        }
    }
    fn finished(&self, _bytes: usize) {}
    fn completed(&self, _slot: usize) {}
    fn cpu(&self) -> Option<u32> {
        self.cpu
    }
    fn may_wait(&self) -> bool {
        self.may_wait
    }
    fn step(&self, at: Step) {
        if at == Step::SwitchWait {
            let t = *self.waiting.get().get_or_insert_with(Instant::now);
            self.waiting.set(Some(t));
            assert!(
                t.elapsed() < Duration::from_secs(2),
                "CPU {:?}: NMI writer waited 2 s for the other CPU's switch: deadlock",
                self.cpu
            );
        }
    }
}

/// CPU `me` runs rrelay_flush(), at the other CPU's buffer; while it holds
/// that switch, an NMI on `me` writes to `mine` (once both CPUs hold).
fn flush_with_an_nmi(
    me: u32,
    mine: &Buf,
    other: &Buf,
    both_hold: &Barrier,
    nmi_waits: bool,
) -> Switched {
    let nmi = || {
        both_hold.wait();
        let ctx = OnCpu {
            may_wait: nmi_waits,
            ..OnCpu::new(Some(me), None)
        };
        if let Some(r) = ring::reserve(&mine.g, mine, &ctx, 4) {
            ring::commit(&mine.g, mine, &ctx, r);
        }
    };
    let flusher = OnCpu::new(Some(me), Some(&nmi));
    ring::switch(&other.g, other, &flusher, Reason::Flush)
}

fn two_flushes_two_nmis(nmi_waits: bool) {
    let (x0, x1) = (Buf::new(16, 4), Buf::new(16, 4));
    let c = Cl::new(true);
    ring::start(&x0.g, &x0, &c);
    ring::start(&x1.g, &x1, &c);
    let both_hold = Barrier::new(2);
    let outcome = std::thread::scope(|s| {
        let a = s.spawn(|| flush_with_an_nmi(0, &x0, &x1, &both_hold, nmi_waits));
        let b = s.spawn(|| flush_with_an_nmi(1, &x1, &x0, &both_hold, nmi_waits));
        (a.join(), b.join())
    });
    assert!(
        outcome.0.is_ok() && outcome.1.is_ok(),
        "the NMI writers deadlocked (see the panics above)"
    );
}

/// Why NMI writers must not wait (the kernel's `may_wait` says no in NMI).
#[test]
#[should_panic(expected = "deadlocked")]
fn nmi_writers_waiting_for_each_others_cpu_would_deadlock() {
    two_flushes_two_nmis(true);
}

#[test]
fn nmi_writers_that_never_wait_cannot_deadlock() {
    two_flushes_two_nmis(false);
}
