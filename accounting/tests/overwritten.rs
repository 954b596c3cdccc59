//! The overwritten count: a switch that finds the ring full, then a
//! callback that finds room because the reader released a sub-buffer
//! meanwhile (its own `buf_full` look came later), overwrites nothing and
//! must not count it (`make demo GLOBAL=1 RATE=0` showed "1 sub-buffers
//! overwritten, 0 lost by readers" in no-overwrite mode).

use rrelay_accounting::buf::Buf;
use rrelay_accounting::ring::{self, Client};
use rrelay_accounting::Event;
use std::cell::Cell;
use std::sync::atomic::Ordering;

/// A client whose callback, when the switch says full, lets the reader
/// release one sub-buffer first (if `reader_frees`), then accepts.
struct Cl<'a> {
    b: &'a Buf,
    reader_frees: bool,
    full: Cell<usize>,
    overwritten: Cell<usize>,
}

impl Client for Cl<'_> {
    fn subbuf_start(&self, _slot: usize, _prev: Option<usize>, full: bool) -> bool {
        if full && self.reader_frees {
            self.b.consumed.fetch_add(1, Ordering::Release);
        }
        true
    }
    fn count(&self, event: Event) {
        match event {
            Event::Full => self.full.set(self.full.get() + 1),
            Event::Overwritten => self.overwritten.set(self.overwritten.get() + 1),
            _ => {}
        }
    }
    fn finished(&self, _bytes: usize) {}
    fn completed(&self, _slot: usize) {}
}

/// Fills a ring of 4 sub-buffers of 16 bytes (no reader), then writes one
/// record more: (full, overwritten) as counted.
fn fill_and_switch(reader_frees: bool) -> (usize, usize) {
    let b = Buf::new(16, 4);
    let c = Cl {
        b: &b,
        reader_frees,
        full: Cell::new(0),
        overwritten: Cell::new(0),
    };
    ring::start(&b.g, &b, &c);
    for _ in 0..16 {
        assert!(b.write(&c, &[7; 4]));
    }
    assert_eq!(c.full.get(), 0);
    assert!(b.write(&c, &[8; 4]));
    (c.full.get(), c.overwritten.get())
}

#[test]
fn a_callback_that_finds_room_overwrites_nothing() {
    assert_eq!(fill_and_switch(true), (1, 0));
}

#[test]
fn an_unread_sub_buffer_started_anew_is_overwritten() {
    assert_eq!(fill_and_switch(false), (1, 1));
}
