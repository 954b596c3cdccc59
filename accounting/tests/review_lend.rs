// SPDX-License-Identifier: GPL-2.0

//! Review of the zero-copy lending (splice, GET_NEXT_SUBBUF) at 03685c0.
//!
//! Ports of `RchanBuf::lend_if_intact`, `unlend`, `release_lent`,
//! `put_consumed` and `reset` (src/buffer.rs, src/ffi.rs) over the real
//! `ring.rs` and `subbuf.rs`, with a `Client::lent` as `src/write.rs` has
//! it. Each `bug_*` test passes while the bug is there: it shows the
//! sequence of calls and asserts its bad outcome.

use rrelay_accounting::ring::{self, Client, Position, Reason, RingState};
use rrelay_accounting::{Event, Geometry, ReaderPos};
use std::cell::Cell;
use std::sync::atomic::{fence, AtomicU64, AtomicU8, AtomicUsize, Ordering};

struct Buf {
    g: Geometry,
    ws: AtomicU64,
    pos: AtomicUsize,
    consumed: AtomicUsize,
    taken: AtomicUsize,
    lent: Vec<AtomicUsize>,
    commit: Vec<AtomicUsize>,
    padding: Vec<AtomicUsize>,
    start_reserve: AtomicUsize,
    data: Vec<AtomicU8>,
}

impl Buf {
    fn new(size: usize, n: usize) -> Self {
        let z = |_| AtomicUsize::new(0);
        Buf {
            g: Geometry::new(size, n).unwrap(),
            ws: AtomicU64::new(0),
            pos: AtomicUsize::new(0),
            consumed: AtomicUsize::new(0),
            taken: AtomicUsize::new(0),
            lent: (0..n).map(z).collect(),
            commit: (0..n).map(z).collect(),
            padding: (0..n).map(z).collect(),
            start_reserve: AtomicUsize::new(0),
            data: (0..size * n).map(|_| AtomicU8::new(0)).collect(),
        }
    }

    fn get(&self, pos: usize, len: usize) -> Vec<u8> {
        (pos..pos + len)
            .map(|i| self.data[i].load(Ordering::Relaxed))
            .collect()
    }

    fn put(&self, pos: usize, bytes: &[u8]) {
        for (i, b) in bytes.iter().enumerate() {
            self.data[pos + i].store(*b, Ordering::Relaxed);
        }
    }

    fn produced(&self) -> usize {
        Position::from_raw(self.pos.load(Ordering::Acquire)).produced()
    }

    /// `RchanBuf::lend_if_intact`.
    fn lend_if_intact(&self, k: usize) -> bool {
        let slot = self.g.slot(k);
        self.lent[slot].fetch_add(1, Ordering::Relaxed);
        fence(Ordering::SeqCst);
        if ring::snapshot(&self.g, self).intact(&self.g, k) {
            true
        } else {
            self.unlend(slot);
            false
        }
    }

    /// `RchanBuf::unlend`.
    fn unlend(&self, slot: usize) {
        self.lent[slot].fetch_sub(1, Ordering::Release);
        self.release_lent();
    }

    /// `RchanBuf::release_lent`.
    fn release_lent(&self) {
        loop {
            let c = self.consumed.load(Ordering::Acquire);
            let t = self.taken.load(Ordering::Acquire);
            if t == c || self.lent[self.g.slot(c)].load(Ordering::Acquire) != 0 {
                return;
            }
            let _ = self.consumed.compare_exchange(
                c,
                c.wrapping_add(1),
                Ordering::Release,
                Ordering::Relaxed,
            );
        }
    }

    /// `RchanBuf::release_to`.
    fn release_to(&self, from: usize, to: usize) -> bool {
        let moved = self
            .taken
            .compare_exchange(from, to, Ordering::Release, Ordering::Relaxed)
            .is_ok();
        self.release_lent();
        moved
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

/// An overwriting client. With `prev_header`, its `subbuf_start` does
/// what relay's documented example does (Documentation/filesystems/
/// relay.rst: `*((unsigned *)prev_subbuf) = prev_padding;`), and
/// `hook` runs first, as a reader on another CPU would at that moment.
struct Cl<'a> {
    b: &'a Buf,
    prev_header: bool,
    hook: Cell<Option<Box<dyn FnOnce(&Buf) + 'a>>>,
}

impl<'a> Cl<'a> {
    fn new(b: &'a Buf, prev_header: bool) -> Self {
        Cl {
            b,
            prev_header,
            hook: Cell::new(None),
        }
    }
}

impl Client for Cl<'_> {
    fn subbuf_start(&self, _slot: usize, prev: Option<usize>, _full: bool) -> bool {
        if let Some(p) = prev {
            if let Some(h) = self.hook.take() {
                h(self.b);
            }
            if self.prev_header {
                let at = self.b.g.slot_start(p);
                self.b.put(at, &[0xee, 0xee, 0xee, 0xee]);
            }
        }
        true
    }
    fn count(&self, _event: Event) {}
    fn finished(&self, _bytes: usize) {}
    fn completed(&self, _slot: usize) {}
    fn lent(&self, slot: usize) -> bool {
        self.b.lent[slot].load(Ordering::Acquire) != 0
    }
}

fn write(b: &Buf, c: &Cl, rec: &[u8]) -> bool {
    match ring::reserve(&b.g, b, c, rec.len()) {
        Some(r) => {
            b.put(r.pos(&b.g), rec);
            ring::commit(&b.g, b, c, r);
            true
        }
        None => false,
    }
}

/// A client following relay's documented `subbuf_start` (a header into
/// `prev_subbuf`) writes into the sub-buffer just finished *after* the
/// switch made it finished and complete: a reader on another CPU lends it
/// (splice or GET_NEXT_SUBBUF) in that window, and its bytes change while
/// the pipe or the mmap reader holds them.
#[test]
fn bug_prev_subbuf_changes_while_lent() {
    let b = Buf::new(16, 4);
    let c = Cl::new(&b, true);
    ring::start(&b.g, &b, &c);
    assert!(write(&b, &c, &[1; 8]));
    let lent_copy = std::rc::Rc::new(Cell::new(None));
    let seen = lent_copy.clone();
    c.hook.set(Some(Box::new(move |b: &Buf| {
        // The reader's checks in `lend_to` / `get_next_subbuf`.
        let k = b.produced() - 1;
        assert!(k == 0 && ring::complete(&b.g, b, k));
        assert!(b.lend_if_intact(k), "sub-buffer 0 is lent");
        seen.set(Some(b.get(0, 8)));
    })));
    // The record does not fit: the switch finishes sub-buffer 0.
    assert!(write(&b, &c, &[2; 12]));
    let before = lent_copy.take().expect("the reader ran in the callback");
    assert_eq!(b.lent[0].load(Ordering::Relaxed), 1, "still lent");
    assert_ne!(b.get(0, 8), before, "lent bytes changed under the lend");
}

/// `reset()` restarts slot 0 with `ring::start`, which does not look at
/// the lends: a sub-buffer still in a pipe (or held by an mmap reader)
/// is overwritten by the next record.
#[test]
fn bug_reset_restarts_a_lent_slot() {
    let b = Buf::new(16, 4);
    let c = Cl::new(&b, false);
    ring::start(&b.g, &b, &c);
    assert!(write(&b, &c, &[1; 16]));
    ring::switch(&b.g, &b, &c, Reason::Flush);
    assert!(b.lend_if_intact(0));
    b.taken.store(1, Ordering::Relaxed);
    let lent = b.get(0, 16);
    // `RchanBuf::reset`: the client may call it with a pipe holding pages
    // (user space decides when the pipe is read), or a GET_NEXT held.
    b.taken.store(0, Ordering::Relaxed);
    ring::start(&b.g, &b, &c);
    assert!(write(&b, &c, &[9; 4]));
    assert_eq!(b.lent[0].load(Ordering::Relaxed), 1, "still lent");
    assert_ne!(b.get(0, 16), lent, "lent bytes changed under the lend");
}

/// `reset()` stores `taken = 0` before `ring::start` stores `pos`; a
/// PUT_CONSUMED ioctl (user space, no lock) between the two moves `taken`
/// ahead of the new `produced`. The next read()/splice/GET_NEXT step then
/// underflows in `Geometry::read_step` (`w.produced - n_subbufs`): a
/// panic with overflow checks on.
#[test]
fn bug_reset_vs_put_consumed_underflows_read_step() {
    let b = Buf::new(16, 4);
    let c = Cl::new(&b, false);
    ring::start(&b.g, &b, &c);
    for i in 0..3 {
        assert!(write(&b, &c, &[i; 16]));
        ring::switch(&b.g, &b, &c, Reason::Flush);
    }
    assert_eq!(b.produced(), 3);
    // reset(), first half.
    b.taken.store(0, Ordering::Relaxed);
    // PUT_CONSUMED(2): `ready = produced - taken = 3`, then put_consumed.
    let n = 2;
    let taken = b.taken.load(Ordering::Acquire);
    let to = b.g.add_consumed(b.produced(), taken, n);
    assert!(b.release_to(taken, to));
    // reset(), second half.
    ring::start(&b.g, &b, &c);
    // next_data(): the reader moves to `taken`, then read_step.
    let taken = b.taken.load(Ordering::Acquire);
    let w = ring::snapshot(&b.g, &b).writer(&b.g);
    assert!(taken > w.produced, "taken {taken} > produced {}", w.produced);
    let r = ReaderPos {
        consumed: taken,
        bytes_consumed: 0,
    };
    let g = b.g;
    let step = std::panic::catch_unwind(move || g.read_step(w, r, |_| 0));
    assert!(step.is_err(), "read_step panics: {step:?}");
    // And once any release_lent runs (a pipe release, an unlend), consumed
    // follows taken past produced: the writer's full test wraps
    // (`produced - consumed` is huge), "full" in no-overwrite mode.
    b.release_lent();
    assert_eq!(b.consumed.load(Ordering::Relaxed), 2);
    assert!(b.g.is_full(b.produced(), b.consumed.load(Ordering::Relaxed)));
}
