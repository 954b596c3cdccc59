//! Review findings on the room words (e76da5e), each a test that failed
//! then: a flush or an explicit switch that waited for a switch about to
//! open a room finished that new (empty) sub-buffer too; a writer on
//! another CPU dropped its record while a switch with interrupts off
//! published; a record too big for a sub-buffer finished the room, so
//! records that fit were dropped and a flush finished nothing meanwhile;
//! `ring::reserved` indexed with the owner's CPU during a switch; writers
//! in task context waited for a reservation that finished a room, whose
//! owner has interrupts on (deadlock with a lock an interrupt takes, or
//! with a writer nested on the owner's own CPU).

use rrelay_accounting::buf::{reserve_as_c, Buf};
use rrelay_accounting::ring::{self, Client, Position, Reason, Step, Switched, WriteState};
use rrelay_accounting::Event;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Default)]
struct Counts {
    dropped: AtomicUsize,
    too_big: AtomicUsize,
    finished: Mutex<Vec<usize>>,
}

/// A client on `cpu` that may wait; `hook` runs at every step.
struct Cl<'a> {
    counts: &'a Counts,
    cpu: u32,
    hook: &'a (dyn Fn(Step) + Sync),
}

impl Client for Cl<'_> {
    fn subbuf_start(&self, _slot: usize, _prev: Option<usize>, _full: bool) -> bool {
        true // overwrite client
    }
    fn count(&self, e: Event) {
        match e {
            Event::Dropped => self.counts.dropped.fetch_add(1, SeqCst),
            Event::TooBig => self.counts.too_big.fetch_add(1, SeqCst),
            _ => 0,
        };
    }
    fn finished(&self, bytes: usize) {
        self.counts.finished.lock().unwrap().push(bytes);
    }
    fn completed(&self, _slot: usize) {}
    fn cpu(&self) -> Option<u32> {
        Some(self.cpu)
    }
    fn may_wait(&self) -> bool {
        true
    }
    fn step(&self, at: Step) {
        (self.hook)(at)
    }
}

/// Starts `b` with a client on CPU 0.
fn start(b: &Buf, counts: &Counts) {
    let c = Cl {
        counts,
        cpu: 0,
        hook: NOP,
    };
    ring::start(&b.g, b, &c);
}

fn produced(b: &Buf) -> usize {
    Position::from_raw(b.pos.load(SeqCst)).produced()
}

fn write_c<C: Client>(b: &Buf, c: &C, rec: &[u8]) -> bool {
    match reserve_as_c(&b.g, b, c, rec.len()) {
        Some(r) => {
            b.put(r.pos(&b.g), rec);
            b.commit(c, r, true);
            true
        }
        None => false,
    }
}

fn spin_until(f: impl Fn() -> bool) {
    let t = Instant::now();
    while !f() {
        assert!(t.elapsed() < Duration::from_secs(5), "spin timeout");
        std::thread::yield_now();
    }
}

const NOP: &(dyn Fn(Step) + Sync) = &|_| {};

/// A flush (or an explicit switch) that waits for a switch between
/// publishing the word and opening the room returns once it opens: that
/// switch finished the sub-buffer, and the new one is empty (ring.rs's
/// test "the flush finished another sub-buffer" says why).
fn waited_for_a_room_to_open(why: Reason) -> (Switched, usize) {
    let b = Buf::new(16, 4);
    let counts = Counts::default();
    let (in_window, go, flushed) = (
        AtomicBool::new(false),
        AtomicBool::new(false),
        AtomicBool::new(false),
    );
    let reserve_loads = AtomicUsize::new(0);
    let a_hook = |at: Step| match at {
        Step::SwitchOpen => {
            in_window.store(true, SeqCst);
            spin_until(|| go.load(SeqCst));
        }
        // The owner's retry after its switch: after the flush returned.
        Step::ReserveLoad if reserve_loads.fetch_add(1, SeqCst) == 1 => {
            spin_until(|| flushed.load(SeqCst));
        }
        _ => {}
    };
    let f_hook = |at: Step| {
        if at == Step::SwitchWait && !go.swap(true, SeqCst) {
            // Let the owner open slot 1.
            spin_until(|| {
                let w = WriteState::from_raw(b.ws.load(SeqCst));
                w.is_open() && w.slot() == 1 && b.room[1].load(SeqCst) >= 0
            });
        }
    };
    let a = cl(&counts, 0, &a_hook);
    let f = cl(&counts, 1, &f_hook);
    start(&b, &counts);
    assert!(write_c(&b, &a, &[1; 12]));
    reserve_loads.store(0, SeqCst);
    std::thread::scope(|s| {
        let owner = s.spawn(|| write_c(&b, &a, &[2; 12]));
        spin_until(|| in_window.load(SeqCst));
        let r = ring::switch(&b.g, &b, &f, why);
        let p = produced(&b);
        flushed.store(true, SeqCst);
        assert!(owner.join().unwrap());
        assert!(go.load(SeqCst), "{why:?} did not wait");
        (r, p)
    })
}

#[test]
fn a_flush_that_waited_for_a_room_to_open_finishes_no_other() {
    let (r, produced) = waited_for_a_room_to_open(Reason::Flush);
    assert_eq!(
        (r, produced),
        (Switched::Refused, 1),
        "another (empty) sub-buffer"
    );
}

#[test]
fn an_explicit_switch_that_waited_for_a_room_to_open_finishes_no_other() {
    // It says that 4 bytes fit in the new sub-buffer.
    let (r, produced) = waited_for_a_room_to_open(Reason::Explicit(4));
    assert_eq!(
        (r, produced),
        (Switched::Ready, 1),
        "another (empty) sub-buffer"
    );
}

/// A writer on another CPU that may wait (not in NMI) meets a switch
/// between publishing the word and opening the room: the owner has its
/// interrupts off, so it waits, and its record goes in. `n` sub-buffers,
/// after `earlier` records of 12 bytes (each finishes the room before).
fn waits_for_a_room_to_open(n: usize, earlier: usize) {
    let b = Buf::new(16, n);
    let counts = Counts::default();
    let armed = AtomicBool::new(false);
    let (in_window, go) = (AtomicBool::new(false), AtomicBool::new(false));
    let a_hook = |at: Step| {
        if at == Step::SwitchOpen && armed.load(SeqCst) {
            in_window.store(true, SeqCst);
            spin_until(|| go.load(SeqCst));
        }
    };
    let waited = AtomicBool::new(false);
    let irq_hook = |at: Step| {
        if at == Step::SwitchWait {
            waited.store(true, SeqCst);
            go.store(true, SeqCst);
        }
    };
    let a = cl(&counts, 0, &a_hook);
    let irq1 = cl(&counts, 1, &irq_hook);
    start(&b, &counts);
    for i in 0..earlier {
        assert!(write_c(&b, &a, &[i as u8; 12]));
    }
    armed.store(true, SeqCst);
    std::thread::scope(|s| {
        // Does not fit: the owner switches, and stops before the room opens.
        let owner = s.spawn(|| write_c(&b, &a, &[9; 12]));
        spin_until(|| in_window.load(SeqCst));
        let went_in = write_c(&b, &irq1, &[4; 2]);
        go.store(true, SeqCst);
        assert!(owner.join().unwrap());
        assert!(
            went_in && waited.load(SeqCst),
            "CPU 1's writer dropped in CPU 0's publish window (waited: {}, dropped {})",
            waited.load(SeqCst),
            counts.dropped.load(SeqCst)
        );
    });
}

#[test]
fn a_writer_on_another_cpu_waits_for_a_room_to_open() {
    waits_for_a_room_to_open(4, 1);
}

/// The same a lap later, when what a reservation left in the slot's room
/// (a little below zero) would read as a switch with interrupts on: the
/// switch sets the room to its own before it publishes the word (second
/// review, 849ad56).
#[test]
fn a_writer_waits_for_a_room_to_open_a_lap_later() {
    waits_for_a_room_to_open(2, 2);
}

/// A record too big for a sub-buffer, as the C fast path writes it, takes
/// nothing from the room: an interrupt in its slow half writes a record
/// that fits, and its flush finishes the sub-buffer.
#[test]
fn a_too_big_record_leaves_the_room_to_others() {
    let b = Buf::new(16, 4);
    let counts = Counts::default();
    let fired = AtomicBool::new(false);
    let irq_result = Mutex::new(None);
    let hook = |at: Step| {
        if at == Step::Crossed && !fired.swap(true, SeqCst) {
            let irq = cl(&counts, 0, NOP);
            let w = write_c(&b, &irq, &[7; 4]);
            let f = ring::switch(&b.g, &b, &irq, Reason::Flush);
            *irq_result.lock().unwrap() = Some((w, f, produced(&b)));
        }
    };
    let a = cl(&counts, 0, &hook);
    start(&b, &counts);
    assert!(write_c(&b, &a, &[1; 4]));
    assert!(!write_c(&b, &a, &[2; 17])); // too big
    let (w, f, p) = irq_result.lock().unwrap().unwrap();
    println!(
        "irq write went in: {w}; flush: {f:?}; produced after flush: {p}; dropped {} too_big {}",
        counts.dropped.load(SeqCst),
        counts.too_big.load(SeqCst)
    );
    assert!(
        w,
        "a 4-byte record that fits (12 bytes free) was dropped because of a too-big record"
    );
    assert_eq!(p, 1, "the flush returned and nothing was finished");
}

/// `ring::reserved` during a switch, whose word names the owner's CPU:
/// none, and no index out of bounds.
#[test]
fn reserved_during_a_switch_is_none() {
    let b = Buf::new(16, 4);
    let counts = Counts::default();
    let seen = Mutex::new(Vec::new());
    let hook = |at: Step| {
        if at == Step::SwitchCallback {
            let r =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| ring::reserved(&b.g, &b)));
            seen.lock().unwrap().push(r.is_ok());
        }
    };
    // CPU 7 with 4 sub-buffers.
    let a = cl(&counts, 7, &hook);
    start(&b, &counts);
    assert!(write_c(&b, &a, &[1; 12]));
    assert!(write_c(&b, &a, &[2; 12]));
    assert_eq!(
        *seen.lock().unwrap(),
        [true],
        "ring::reserved panicked during a switch"
    );
}

/// (Model.) A writer in task context that holds a lock an interrupt
/// handler takes (`spin_lock_irqsave`) meets a sub-buffer a reservation
/// finished on a global buffer; its owner on CPU 0, interrupts still on,
/// takes that interrupt. The writer must not wait.
#[test]
fn no_wait_for_an_owner_with_interrupts_on() {
    let b = Buf::new(16, 4);
    let counts = Counts::default();
    let lock = Mutex::new(());
    let (in_window, waiting, deadlock) = (
        AtomicBool::new(false),
        AtomicBool::new(false),
        AtomicBool::new(false),
    );
    let returned = AtomicBool::new(false);
    let owner_hook = |at: Step| {
        if at == Step::Crossed && !in_window.swap(true, SeqCst) {
            spin_until(|| waiting.load(SeqCst) || returned.load(SeqCst));
            // An interrupt on CPU 0 in the window: its handler takes the lock.
            let t = Instant::now();
            loop {
                if let Ok(_g) = lock.try_lock() {
                    break;
                }
                if t.elapsed() > Duration::from_secs(1) {
                    deadlock.store(true, SeqCst);
                    break; // break the model's deadlock so the test ends
                }
                std::thread::yield_now();
            }
        }
    };
    let waiter_hook = |at: Step| {
        if at == Step::SwitchWait {
            waiting.store(true, SeqCst);
        }
    };
    let a = cl(&counts, 0, &owner_hook);
    let t = cl(&counts, 1, &waiter_hook);
    start(&b, &counts);
    assert!(write_c(&b, &a, &[1; 12]));
    std::thread::scope(|s| {
        let owner = s.spawn(|| write_c(&b, &a, &[2; 12]));
        spin_until(|| in_window.load(SeqCst));
        {
            let _held = lock.lock().unwrap(); // spin_lock_irqsave(&L)
            write_c(&b, &t, &[3; 4]); // must not wait for the unclaimed switch
            returned.store(true, SeqCst);
        }
        owner.join().unwrap();
    });
    assert!(!deadlock.load(SeqCst), "deadlock: CPU1 task waits (irqs off, lock held) for CPU0's owner, whose irq waits for the lock");
}

/// (Model.) A writer in task context nested on the owner's own CPU before
/// it claims the word (an ftrace callback on the way into the switch,
/// writing to the same channel) must not wait for its own CPU.
#[test]
fn no_wait_for_the_own_cpu() {
    let b = Buf::new(16, 4);
    let counts = Counts::default();
    let spins = AtomicUsize::new(0);
    let fired = AtomicBool::new(false);
    let hung = AtomicBool::new(false);
    struct Bail;
    let nested_hook = |at: Step| {
        if at == Step::SwitchWait && spins.fetch_add(1, SeqCst) > 1_000_000 {
            hung.store(true, SeqCst);
            std::panic::panic_any(Bail);
        }
    };
    let hook = |at: Step| {
        if at == Step::Crossed && !fired.swap(true, SeqCst) {
            let nested = cl(&counts, 0, &nested_hook);
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                write_c(&b, &nested, &[9; 4])
            }));
        }
    };
    let a = cl(&counts, 0, &hook);
    start(&b, &counts);
    assert!(write_c(&b, &a, &[1; 12]));
    assert!(write_c(&b, &a, &[2; 12]));
    assert!(
        !hung.load(SeqCst),
        "nested same-CPU task-context writer spun forever on its own CPU's unclaimed switch"
    );
}

/// A flush F waits for a flush G between its finish of the room and its
/// claim of the word; G claims, switches and opens slot 1 before F looks
/// again, so F never sees the switching word: the new open word says G
/// switched, and F finishes nothing more (second review, 849ad56).
#[test]
fn a_flush_that_missed_the_claim_finishes_no_other() {
    let b = Buf::new(16, 4);
    let counts = Counts::default();
    let (in_window, go) = (AtomicBool::new(false), AtomicBool::new(false));
    let g_hook = |at: Step| {
        if at == Step::SwitchClaimWord && !in_window.swap(true, SeqCst) {
            spin_until(|| go.load(SeqCst));
        }
    };
    let f_hook = |at: Step| {
        if at == Step::SwitchWait && !go.swap(true, SeqCst) {
            spin_until(|| {
                let w = WriteState::from_raw(b.ws.load(SeqCst));
                w.is_open() && w.slot() == 1 && b.room[1].load(SeqCst) >= 0
            });
        }
    };
    let a = cl(&counts, 2, NOP);
    let gc = cl(&counts, 0, &g_hook);
    let fc = cl(&counts, 1, &f_hook);
    start(&b, &counts);
    assert!(write_c(&b, &a, &[1; 4]));
    std::thread::scope(|s| {
        let g = s.spawn(|| ring::switch(&b.g, &b, &gc, Reason::Flush));
        spin_until(|| in_window.load(SeqCst));
        let r = ring::switch(&b.g, &b, &fc, Reason::Flush);
        g.join().unwrap();
        println!(
            "F -> {r:?}; produced {}; finished {:?}",
            produced(&b),
            counts.finished.lock().unwrap()
        );
        assert_eq!(produced(&b), 1, "F finished a second, empty sub-buffer");
    });
}

fn cl<'a>(counts: &'a Counts, cpu: u32, hook: &'a (dyn Fn(Step) + Sync)) -> Cl<'a> {
    Cl { counts, cpu, hook }
}
