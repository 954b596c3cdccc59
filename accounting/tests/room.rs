//! The room words of the write protocol (`src/ring.rs`, "State"): the add
//! that finishes a room owns the switch, the window before it claims the
//! word (unclaimed), a record too big for a sub-buffer, a failed add that
//! sets a drifting room back, and a writer whose slot is a lap old.

use rrelay_accounting::buf::{reserve_as_c, Buf};
use rrelay_accounting::ring::{self, Client, Reason, Step, WriteState};
use rrelay_accounting::Event;
use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Barrier;

/// A client in overwrite mode (or not) that counts drops and too-big
/// records, and runs `hook` (once) at the first `at` step.
struct Cl<'a> {
    overwrite: bool,
    dropped: AtomicUsize,
    too_big: AtomicUsize,
    cpu: Option<u32>,
    at: Cell<Option<Step>>,
    hook: RefCell<Option<Box<dyn FnOnce() + 'a>>>,
    waits: AtomicUsize,
}

impl<'a> Cl<'a> {
    fn new(overwrite: bool) -> Self {
        Cl {
            overwrite,
            dropped: AtomicUsize::new(0),
            too_big: AtomicUsize::new(0),
            cpu: None,
            at: Cell::new(None),
            hook: RefCell::new(None),
            waits: AtomicUsize::new(0),
        }
    }

    fn at(self, step: Step, hook: impl FnOnce() + 'a) -> Self {
        self.at.set(Some(step));
        *self.hook.borrow_mut() = Some(Box::new(hook));
        self
    }
}

impl Client for Cl<'_> {
    fn subbuf_start(&self, _slot: usize, _prev: Option<usize>, full: bool) -> bool {
        self.overwrite || !full
    }
    fn count(&self, e: Event) {
        match e {
            Event::Dropped => self.dropped.fetch_add(1, Ordering::Relaxed),
            Event::TooBig => self.too_big.fetch_add(1, Ordering::Relaxed),
            _ => 0,
        };
    }
    fn finished(&self, _bytes: usize) {}
    fn completed(&self, _slot: usize) {}
    fn cpu(&self) -> Option<u32> {
        self.cpu
    }
    fn step(&self, at: Step) {
        if at == Step::SwitchWait {
            self.waits.fetch_add(1, Ordering::Relaxed);
            std::thread::yield_now();
        }
        if self.at.get() == Some(at) {
            self.at.set(None);
            if let Some(h) = self.hook.borrow_mut().take() {
                h();
            }
        }
    }
}

fn room(b: &Buf, slot: usize) -> i64 {
    b.room[slot].load(Ordering::SeqCst)
}

/// A record that does not fit: its add takes the room below zero and it
/// owns the switch, with the room it found as padding; a writer that
/// interrupts it there finds the switch unclaimed and drops its record.
#[test]
fn the_add_that_finishes_a_room_owns_its_switch() {
    let b = Buf::new(16, 4);
    let nested = Cl::new(false);
    let outer = Cl::new(false).at(Step::Crossed, || {
        // The outer writer's add finished slot 0; the word is still open.
        assert!(room(&b, 0) < 0);
        assert_eq!(
            WriteState::from_raw(b.ws.load(Ordering::SeqCst)),
            WriteState::open(0)
        );
        assert!(
            !b.write(&nested, &[7; 3]),
            "an interrupt got room in a finished sub-buffer"
        );
    });
    ring::start(&b.g, &b, &outer);
    assert!(b.write(&outer, &[1; 10]));
    let r = reserve_as_c(&b.g, &b, &outer, 10).expect("the finishing writer switches");
    assert_eq!((r.slot, r.off), (1, 0));
    assert_eq!(nested.dropped.load(Ordering::SeqCst), 1);
    assert_eq!(ring::padding_of(&b, 0), 6);
    assert_eq!(b.produced(), 1);
    assert_eq!(ring::reserved(&b.g, &b), Some(10));
}

/// A record larger than a sub-buffer is refused before its add, by the C
/// fast path as by Rust: the room stays, no switch, as relay has none.
#[test]
fn a_too_big_record_takes_nothing_from_the_room() {
    let b = Buf::new(16, 4);
    let c = Cl::new(false);
    ring::start(&b.g, &b, &c);
    assert!(b.write(&c, &[1; 10]));
    assert!(reserve_as_c(&b.g, &b, &c, 17).is_none());
    assert!(reserve_as_c(&b.g, &b, &c, usize::MAX).is_none());
    assert!(ring::reserve(&b.g, &b, &c, 17).is_none());
    assert_eq!(c.too_big.load(Ordering::SeqCst), 3);
    assert_eq!((b.produced(), room(&b, 0)), (0, 6));
    let r = reserve_as_c(&b.g, &b, &c, 6).unwrap();
    assert_eq!((r.slot, r.off), (0, 10));
}

/// Adds that fail on a stopped buffer take their lengths from a finished
/// room; one that leaves it near the bottom sets it back.
#[test]
fn a_finished_room_is_set_back_before_it_wraps() {
    let b = Buf::new(16, 2);
    let c = Cl::new(false);
    ring::start(&b.g, &b, &c);
    assert!(b.write(&c, &[1; 16]));
    assert!(b.write(&c, &[2; 16]));
    // No reader: the third sub-buffer would overwrite, the client refuses.
    assert!(!b.write(&c, &[3; 4]));
    let w = WriteState::from_raw(b.ws.load(Ordering::SeqCst));
    assert!(w.is_stopped());
    let cur = b.current.load(Ordering::SeqCst);
    assert!(room(&b, cur) < 0);
    let low = i64::MIN / 2 + i64::MIN / 4 + 3;
    b.room[cur].store(low, Ordering::SeqCst);
    assert!(reserve_as_c(&b.g, &b, &c, 4).is_none());
    assert_eq!(room(&b, cur), i64::MIN / 2, "not set back");
    assert!(reserve_as_c(&b.g, &b, &c, 4).is_none());
    assert_eq!(room(&b, cur), i64::MIN / 2 - 4);
    assert_eq!(c.dropped.load(Ordering::SeqCst), 3);
}

/// A writer that loaded its slot, then was interrupted for a whole lap of
/// the ring (overwrite mode): its slot is the current one again, and its
/// add reserves there, after what the interrupt wrote.
#[test]
fn a_writer_a_lap_late_reserves_in_the_current_sub_buffer() {
    let b = Buf::new(8, 2);
    let nested = Cl::new(true);
    let outer = Cl::new(true).at(Step::ReserveAdd, || {
        for i in 0..5 {
            assert!(b.write(&nested, &[10 + i; 4]));
        }
    });
    ring::start(&b.g, &b, &outer);
    let r = ring::reserve(&b.g, &b, &outer, 4).unwrap();
    // Five records of 4 bytes from slot 0: slot 0 twice, slot 1, slot 0
    // again (two laps of sub-buffers 0..2), the fifth in slot 0 at 0..4.
    assert_eq!(b.produced(), 2);
    assert_eq!((r.slot, r.off), (0, 4));
    assert_eq!(ring::reserved(&b.g, &b), Some(8));
}

/// Threads as CPUs: CPU 0's add finishes a room and stops there, before
/// it claims the word (interrupts on). A writer on CPU 1 drops its
/// record rather than wait for it, in any context; a flush on CPU 1
/// returns (CPU 0's switch finishes the sub-buffer).
#[test]
fn nobody_waits_for_a_room_a_reservation_finished() {
    let b = Buf::new(16, 4);
    let go = AtomicBool::new(false);
    let held = Barrier::new(2);
    let first = Cl::new(false);
    ring::start(&b.g, &b, &first);
    assert!(b.write(&first, &[1; 12]));
    std::thread::scope(|s| {
        let owner = s.spawn(|| {
            let mut cpu0 = Cl::new(false).at(Step::Crossed, || {
                held.wait();
                while !go.load(Ordering::SeqCst) {
                    std::thread::yield_now();
                }
            });
            cpu0.cpu = Some(0);
            reserve_as_c(&b.g, &b, &cpu0, 8).is_some()
        });
        held.wait();
        let mut cpu1 = Cl::new(false);
        cpu1.cpu = Some(1);
        assert!(!b.write(&cpu1, &[2; 2]));
        assert_eq!(
            ring::switch(&b.g, &b, &cpu1, Reason::Flush),
            ring::Switched::Refused
        );
        assert_eq!(
            (
                cpu1.dropped.load(Ordering::SeqCst),
                cpu1.waits.load(Ordering::SeqCst)
            ),
            (1, 0)
        );
        assert_eq!(b.produced(), 0);
        go.store(true, Ordering::SeqCst);
        assert!(owner.join().unwrap());
    });
    assert_eq!(b.produced(), 1);
    assert_eq!(ring::padding_of(&b, 0), 4);
}
