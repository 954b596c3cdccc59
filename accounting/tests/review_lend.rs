// SPDX-License-Identifier: GPL-2.0

//! Review of the zero-copy lending (splice, GET_NEXT_SUBBUF).
//!
//! A port of `RchanBuf::lend_if_intact` (src/buffer.rs) and of the
//! `Client::lent` of `src/write.rs`, over the real `ring.rs`. The review
//! found two bugs here; the first is fixed and its test asserts the fix,
//! the second is a rule (`rrelay_reset` with no lent pages) and its test
//! shows why.

use rrelay_accounting::buf::Buf;
use rrelay_accounting::ring::{self, Client, Reason};
use rrelay_accounting::Event;
use std::cell::Cell;
use std::sync::atomic::{fence, AtomicUsize, Ordering};

/// Per slot, the pipe buffers and mmap readers holding its pages.
struct Lends(Vec<AtomicUsize>);

impl Lends {
    fn new(n: usize) -> Self {
        Lends((0..n).map(|_| AtomicUsize::new(0)).collect())
    }

    /// `RchanBuf::lend_if_intact`: the lend, a full fence, the second look.
    fn lend_if_intact(&self, b: &Buf, k: usize) -> bool {
        let slot = b.g.slot(k);
        self.0[slot].fetch_add(1, Ordering::Relaxed);
        fence(Ordering::SeqCst);
        let intact = ring::snapshot(&b.g, b).intact(&b.g, k);
        if !intact {
            self.0[slot].fetch_sub(1, Ordering::Release);
        }
        intact
    }
}

/// An overwriting client. With `prev_header`, its `subbuf_start` does
/// what relay's documented example does (Documentation/filesystems/
/// relay.rst: `*((unsigned *)prev_subbuf) = prev_padding;`), and `hook`
/// runs first, as a reader on another CPU would at that moment.
struct Cl<'a> {
    b: &'a Buf,
    lends: &'a Lends,
    prev_header: bool,
    hook: Cell<Option<Box<dyn FnOnce(&Buf) + 'a>>>,
}

impl<'a> Cl<'a> {
    fn new(b: &'a Buf, lends: &'a Lends, prev_header: bool) -> Self {
        Cl {
            b,
            lends,
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
                self.b
                    .put(self.b.g.slot_start(p), &[0xee, 0xee, 0xee, 0xee]);
            }
        }
        true
    }
    fn count(&self, _event: Event) {}
    fn finished(&self, _bytes: usize) {}
    fn completed(&self, _slot: usize) {}
    fn lent(&self, slot: usize) -> bool {
        self.lends.0[slot].load(Ordering::Acquire) != 0
    }
}

/// A client following relay's documented `subbuf_start` (a header into
/// `prev_subbuf`) writes into the sub-buffer just finished. The switch
/// commits that sub-buffer's padding only after the callback, so during
/// the callback it is not complete: no reader takes or lends it (the bug
/// the review found: it was complete, and lent, while the callback wrote).
#[test]
fn prev_subbuf_is_not_readable_while_the_callback_writes_it() {
    let (b, lends) = (Buf::new(16, 4), Lends::new(4));
    let c = Cl::new(&b, &lends, true);
    ring::start(&b.g, &b, &c);
    assert!(b.write(&c, &[1; 8]));
    let during = std::rc::Rc::new(Cell::new(None));
    let seen = during.clone();
    c.hook.set(Some(Box::new(move |b: &Buf| {
        // The reader's check in `lend_to` / `get_next_subbuf`.
        let k = b.produced() - 1;
        seen.set(Some((k, ring::complete(&b.g, b, k))));
    })));
    // The record does not fit: the switch finishes sub-buffer 0.
    assert!(b.write(&c, &[2; 12]));
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
    let (b, lends) = (Buf::new(16, 4), Lends::new(4));
    let c = Cl::new(&b, &lends, false);
    ring::start(&b.g, &b, &c);
    assert!(b.write(&c, &[1; 16]));
    ring::switch(&b.g, &b, &c, Reason::Flush);
    assert!(lends.lend_if_intact(&b, 0));
    let lent = b.get(0, 16);
    // `RchanBuf::reset`: the client may call it with a pipe holding pages
    // (user space decides when the pipe is read), or a GET_NEXT held.
    ring::start(&b.g, &b, &c);
    assert!(b.write(&c, &[9; 4]));
    assert_eq!(lends.0[0].load(Ordering::Relaxed), 1, "still lent");
    assert_ne!(b.get(0, 16), lent, "lent bytes changed under the lend");
}
