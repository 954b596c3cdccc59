// SPDX-License-Identifier: GPL-2.0

//! Review of the zero-copy lending (splice, GET_NEXT_SUBBUF) at 03685c0.
//!
//! Ports of `RchanBuf::lend_if_intact`, `unlend`, `release_lent`,
//! `put_consumed` and `reset` (src/buffer.rs, src/ffi.rs) over the real
//! `ring.rs` and `subbuf.rs`, with a `Client::lent` as `src/write.rs` has
//! it. Each `bug_*` test passes while the bug is there: it shows the
//! sequence of calls. The bugs are fixed: the tests now assert the fixed
//! behaviour, or show why a documented rule is needed.

use rrelay_accounting::ring::{self, Client, Position, Reason, RingState};
use rrelay_accounting::{Event, Geometry};
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
/// `prev_subbuf`) writes into the sub-buffer just finished. The switch
/// commits that sub-buffer's padding only after the callback, so during
/// the callback it is not complete: no reader takes or lends it (the bug
/// the review found: it was complete, and lent, while the callback wrote).
#[test]
fn prev_subbuf_is_not_readable_while_the_callback_writes_it() {
    let b = Buf::new(16, 4);
    let c = Cl::new(&b, true);
    ring::start(&b.g, &b, &c);
    assert!(write(&b, &c, &[1; 8]));
    let during = std::rc::Rc::new(Cell::new(None));
    let seen = during.clone();
    c.hook.set(Some(Box::new(move |b: &Buf| {
        // The reader's check in `lend_to` / `get_next_subbuf`.
        let k = b.produced() - 1;
        seen.set(Some((k, ring::complete(&b.g, b, k))));
    })));
    // The record does not fit: the switch finishes sub-buffer 0.
    assert!(write(&b, &c, &[2; 12]));
    assert_eq!(
        during.take(),
        Some((0, false)),
        "complete during the callback"
    );
    assert!(
        ring::complete(&b.g, &b, 0),
        "complete once the callback returned"
    );
}

/// `reset()` restarts slot 0 with `ring::start`, which does not look at
/// the lends: a sub-buffer still in a pipe (or held by an mmap reader)
/// is overwritten by the next record. Why `rrelay_reset` forbids it
/// (`include/rrelay.h`).
#[test]
fn reset_restarts_a_lent_slot_so_reset_forbids_lent_pages() {
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
