//! Review findings on the pending padding (cb48f8b), each a test that
//! failed before the fix: a lost reader wakeup when a writer's last commit
//! lands between the switch's padding commit and the clearing of the
//! pending bit, and a one-slot ring whose `prev` was readable while the
//! callback could write it.

use rrelay_accounting::buf::Buf;
use rrelay_accounting::ring::{self, Client, Reason, RingState};
use rrelay_accounting::Event;
use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};

/// `Buf`, with a hook run when the switch fetches `padding(slot)` for the
/// n-th time since armed: lets a test run another CPU's code between the
/// padding's commit (`commit[slot].fetch_add`) and the clearing of the
/// pending bit in `commit_pending`, with `src/ring.rs` unchanged.
struct Hooked {
    b: Buf,
    padding_calls: Cell<usize>,
    fire_at: Cell<usize>,
    hook: RefCell<Option<Box<dyn FnOnce()>>>,
}

impl RingState for Hooked {
    fn ws(&self) -> &AtomicU64 {
        &self.b.ws
    }
    fn pos(&self) -> &AtomicUsize {
        &self.b.pos
    }
    fn consumed(&self) -> &AtomicUsize {
        &self.b.consumed
    }
    fn commit(&self, slot: usize) -> &AtomicUsize {
        &self.b.commit[slot]
    }
    fn padding(&self, slot: usize) -> &AtomicUsize {
        let n = self.padding_calls.get() + 1;
        self.padding_calls.set(n);
        if n == self.fire_at.get() {
            if let Some(h) = self.hook.borrow_mut().take() {
                h();
            }
        }
        &self.b.padding[slot]
    }
    fn start_reserve(&self) -> &AtomicUsize {
        &self.b.start_reserve
    }
    fn room(&self, slot: usize) -> &AtomicI64 {
        self.b.room(slot)
    }
    fn current(&self) -> usize {
        self.b.current()
    }
    fn set_current(&self, slot: usize) {
        self.b.set_current(slot)
    }
}

/// A client whose reader is asleep in poll: every wakeup (finished or
/// completed) makes it look again at sub-buffer 0, as poll's
/// `has_ready_subbuf` does; it records what it saw each time.
struct Waker<'a> {
    s: &'a Hooked,
    /// complete(0) as seen at each wakeup.
    seen: RefCell<Vec<bool>>,
    /// prev's completeness seen inside the callback.
    prev_complete: Cell<Option<bool>>,
}

impl Waker<'_> {
    fn look(&self) {
        // Not through the hooked accessor's counter: a reader on another CPU.
        let b = &self.s.b;
        let c = b.commit[0].load(Ordering::Acquire) == ring::lap_unit(&b.g);
        let p = b.padding[0].load(Ordering::Acquire) & (1 << (usize::BITS - 1)) == 0;
        self.seen.borrow_mut().push(c && p);
    }
}

impl Client for Waker<'_> {
    fn subbuf_start(&self, _slot: usize, prev: Option<usize>, _full: bool) -> bool {
        if prev.is_some() {
            let b = &self.s.b;
            let k = ring::Position::from_raw(b.pos.load(Ordering::Relaxed)).produced() - 1;
            self.prev_complete.set(Some(ring::complete(&b.g, b, k)));
        }
        true
    }
    fn count(&self, _event: Event) {}
    fn finished(&self, _bytes: usize) {
        self.look();
    }
    fn completed(&self, _slot: usize) {
        self.look();
    }
}

/// A started ring of `n` 8-byte sub-buffers, hooked, with a waker
/// client (both leaked: the hook closure needs them for 'static).
fn started(n: usize) -> (&'static Hooked, &'static Waker<'static>) {
    let s: &'static Hooked = Box::leak(Box::new(Hooked {
        b: Buf::new(8, n),
        padding_calls: Cell::new(0),
        fire_at: Cell::new(usize::MAX),
        hook: RefCell::new(None),
    }));
    let c: &'static Waker = Box::leak(Box::new(Waker {
        s,
        seen: RefCell::new(Vec::new()),
        prev_complete: Cell::new(None),
    }));
    ring::start(&s.b.g, s, c);
    (s, c)
}

fn lost_wakeup(rec_len: usize) {
    let (s, c) = started(2);
    let g = s.b.g;
    // Record 1 (4 bytes) written and committed.
    let r1 = ring::reserve(&g, s, c, 4).unwrap();
    ring::commit(&g, s, c, r1);
    // Writer A (CPU 0) reserves the next bytes, copying...
    let a = ring::reserve(&g, s, c, rec_len).unwrap();
    assert_eq!(a.slot, 0);
    // ...while a flush on CPU 1 (or a writer of a global buffer) switches.
    // The switch fetches padding(0) once to store it pending, once to clear
    // it; fire between its padding commit and the clearing: A commits.
    s.padding_calls.set(0);
    s.fire_at.set(2);
    *s.hook.borrow_mut() = Some(Box::new(move || {
        // CPU 0: A's commit completes sub-buffer 0 and wakes the reader
        // (Client::completed, or __rrelay_carry from the C inline path).
        ring::commit(&g, s, c, a);
    }));
    ring::switch(&g, s, c, Reason::Flush);
    assert!(s.hook.borrow().is_none(), "hook did not fire");
    // Sub-buffer 0 is complete now...
    assert!(
        ring::complete(&g, &s.b, 0),
        "sub-buffer 0 not complete at the end"
    );
    // ...but did any wakeup see it complete?
    let seen = c.seen.borrow().clone();
    assert!(
        seen.iter().any(|&x| x),
        "lost wakeup: sub-buffer 0 is complete, but every wakeup ({seen:?}) \
         found it incomplete; a reader asleep in poll sleeps on"
    );
}

#[test]
fn lost_wakeup_exact_fill() {
    // A's 4 bytes fill sub-buffer 0 exactly: padding 0.
    lost_wakeup(4);
}

#[test]
fn lost_wakeup_with_padding() {
    // A's 2 bytes leave 2 of padding.
    lost_wakeup(2);
}

/// n_subbufs == 1: `commit_pending` runs before the callback, so `prev`
/// is complete (readable) while the callback may write it.
#[test]
fn one_subbuf_prev_complete_during_callback() {
    let (s, c) = started(1);
    let g = s.b.g;
    for _ in 0..3 {
        if let Some(r) = ring::reserve(&g, s, c, 4) {
            ring::commit(&g, s, c, r);
        }
    }
    assert_eq!(
        c.prev_complete.get(),
        Some(false),
        "n_subbufs == 1: prev was complete (readable) while the callback could write it"
    );
}
