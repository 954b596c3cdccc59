// SPDX-License-Identifier: GPL-2.0

//! The lockless write protocol of one buffer: reserve, commit and switch,
//! safe from any context (NMI included) and with nested writers, for
//! per-CPU and global buffers. Free of the kernel, like `subbuf.rs`: the
//! host crate `accounting/` compiles this file and runs it against a model,
//! with a nested writer injected at every step and concurrent writers,
//! readers and remote flushes.
//!
//! The shape is LTTng's lib ring buffer (a compare-and-exchange reserve and
//! a commit count per sub-buffer) with relay's semantics on top: the
//! client's `subbuf_start` callback decides, at each switch, whether the
//! writer goes on into the next sub-buffer, and may reserve a header at its
//! start.
//!
//! # State
//!
//! Writers reserve from one word per slot, `room[slot]` ([`RingState::room`]):
//! the bytes left in the slot's sub-buffer while writers may reserve in it
//! (`0..=subbuf_size`), far below zero ([`FINISHED`]) otherwise. `cur`
//! ([`RingState::current`]) names the slot writers try. A writer reserves
//! `len` bytes with one atomic add of `-len` to `room[cur]` (`lock xadd` on
//! x86, the flags giving the sign of the result): it got bytes
//! `subbuf_size - r .. subbuf_size - r + len` if it found `r >= len`. A
//! writer that found `0 <= r < len` made the room negative: it
//! **finished** the sub-buffer (with `r` bytes of padding), and owns its
//! switch. One that found `r < 0` got nothing: what it took is void (the
//! next start stores the room afresh), and it goes to the switch as any
//! writer that finds the buffer switching. Of all the adds to a room in one
//! lap, exactly one finishes it, or none if a flush or close finished it
//! first, by a compare-and-exchange from `r >= 0` to [`FINISHED`].
//!
//! One 64-bit word, `ws`, says what the switch does ([`WriteState`]):
//!
//! - `slot`: the ring slot of the current sub-buffer; while `SWITCHING`,
//!   the owner's CPU instead ([`WriteState::owner`]);
//! - open (no flag): the current sub-buffer is started; writers reserve
//!   in it while its room is not finished. Only who finished the room
//!   moves the word from open, to `SWITCHING`;
//! - `SWITCHING`: one writer (or a flush, or close) owns a switch; nobody
//!   else reserves until it opens the next room;
//! - `STOPPED`: the client refused the next sub-buffer (relay's
//!   `offset == subbuf_size + 1`): it is not started, and every write
//!   retries the switch, calling the callback again;
//! - `CLOSED`: the channel was closed.
//!
//! Between a finished room and the claim of the word, the switch has an
//! owner the word does not name yet: **unclaimed**. A room that a
//! reservation finished is a little below zero (the lengths of the adds
//! that missed it, each at most a sub-buffer): its owner is a writer
//! between its inline add and its switch, interrupts on, perhaps one that
//! whoever meets it interrupted. Nobody waits for it: a writer drops its
//! record, a flush returns (that switch finishes the sub-buffer), close
//! alone waits (it runs once the writers stopped). A room at [`FINISHED`]
//! or below is owned by a switch with its interrupts off: a flush between
//! its finish and its claim, or a switch between publishing the word and
//! opening the room. That one is waited for as a claimed switch is
//! (`may_wait`, and a known CPU); a flush that waited for the room to
//! open returns (the switch that opens it finished the sub-buffer before).
//!
//! A record larger than a sub-buffer is refused before its add, in Rust
//! and in the inline C path (one comparison with `subbuf_size`), as relay
//! refuses it: no switch, nothing taken from the room. One that fits a
//! sub-buffer but not after its start reserve finishes the room, and the
//! switch then refuses it (relay too switches, then refuses it).
//!
//! One more word, `pos` ([`Position`]), says what is finished:
//!
//! - `produced`: sub-buffers finished, ever. The current sub-buffer is
//!   number `produced`, in slot `produced % n`, lap `produced / n`;
//! - `in_slot`: sub-buffer `produced` was started (the callback accepted
//!   it), so its slot no longer holds sub-buffer `produced - n`. Readers
//!   take both from one load, so they never see one without the other.
//!
//! Beside them:
//!
//! - `consumed`: sub-buffers the reader released, ever (the reader's).
//! - `commit[slot]`: bytes committed to the slot, ever (wrapping), in laps
//!   of `U` ([`lap_unit`]: 2^32 on 64-bit, else `subbuf_size`). Every
//!   started sub-buffer receives exactly `U` of commits: its start reserve
//!   (committed by the switch that starts it), its records (each by its
//!   writer, after copying), and its padding plus `U - subbuf_size`
//!   (committed by the switch that finishes it). So sub-buffer `k` is
//!   complete (every byte written) when `commit[k % n] == (k / n + 1) *
//!   U`, and the commit that completes it is the one that leaves the low
//!   32 bits zero: one test on the writer's fast path. The C fast path
//!   adds to those 32 bits alone (the test is then the add's zero flag),
//!   so its completing commit adds the lost carry afterwards ([`carry`]);
//!   in between, the count reads as the start of the completed lap.
//! - `padding[slot]`: the padding of a finished sub-buffer, with a
//!   pending bit while the switch that finished it still owns it.
//!   Sub-buffer `k` is complete when its commits add up as below and its
//!   slot's padding is not pending: a sub-buffer its records fill exactly
//!   has every byte committed before the switch, and must still not be
//!   read while the callback may write `prev` (or rrelay its header).
//! - `start_reserve`: what the callback asked for, cleared before each
//!   call; afterwards the current sub-buffer's (clamped) start reserve.
//!
//! # Transitions
//!
//! | state | to | by | how |
//! |---|---|---|---|
//! | `room[cur]` `r >= len` | `r - len` | any writer | add ([`try_reserve`]) |
//! | `room[cur]` `0 <= r < len` | negative (finished) | the writer whose record does not fit | the same add |
//! | `room[cur]` `r >= 0` | [`FINISHED`] | a flush, an explicit switch, close, a writer that found the current room short after its own add failed elsewhere | CAS ([`switch`]) |
//! | `ws` open | switching | who finished the room | swap ([`switch`]) |
//! | `ws` stopped | switching | a writer, a flush, close | CAS ([`switch`]) |
//! | `ws` switching | `room[slot]` to [`FINISHED`]; then open, next slot; then `cur`; then `room[slot]` open | the owner | stores, after `pos` says `in_slot` |
//! | `ws` switching | stopped | the owner | store, after the callback refused (or a lap is still being committed) |
//! | `ws` switching | closed | close | store |
//!
//! The room opens last: a reservation that fits finds the word open, so
//! the one that later finishes that room may claim the word. Before the
//! word, the room is set to [`FINISHED`]: what a reservation left there a
//! lap ago (a little below zero) would read as a switch with interrupts on,
//! and writers on other CPUs would drop instead of waiting.
//!
//! `pos` moves only under `SWITCHING`: to (`produced + 1`, not in slot)
//! when the owner finishes the current sub-buffer, to (`produced`, in slot)
//! when the callback accepted the next one.
//!
//! A switch runs with its CPU's interrupts off ([`Client::switching`]), so
//! on its own CPU only an NMI can find it in progress. A writer that finds
//! `SWITCHING` with its own CPU as the owner interrupted the owner (an NMI
//! over the switch): waiting would deadlock, so it drops its record and
//! counts it. One on another CPU (a global buffer, a migrated task, a
//! remote flush) waits for the switch to end, then tries again (a flush
//! returns instead, below), if it may
//! ([`Client::may_wait`]): not in NMI, and not inside a switch (a
//! `subbuf_start` that writes to another channel). An owner's switch then
//! never waits for a waiter: it runs with interrupts off, so on its CPU
//! only NMIs interrupt it, and they never wait; and a waiter owns no
//! switch. So waits form no cycle (two CPUs each flushing the other's
//! buffer, each under an NMI writing its own, cannot deadlock). Nobody
//! waits for the retry of a stopped buffer (it would refuse the waiter
//! too), nor where the CPU is unknown ([`Client::cpu`] is `None`). A
//! switch waits for nothing, except close for a flush on another CPU;
//! close runs in process context once the writers stopped, so that owner
//! is never one it interrupted. So `subbuf_start`
//! runs once per switch attempt and never concurrently for one buffer, on
//! per-CPU and global buffers alike. A flush that finds a switch in
//! progress and may not wait (an NMI over it, or a flush from a
//! `subbuf_start`) returns: that switch finishes the sub-buffer. One that
//! may waits for that one switch to end (a change of the word it saw, so
//! the wait is bounded by one switch), then returns: nobody reserved
//! meanwhile, so everything committed before the flush is in the
//! sub-buffer that switch finished (what `RRELAY_IOC_FLUSH` promises
//! readers). It does not finish the sub-buffer that switch started: that
//! would cost an empty sub-buffer (a full ring, or an overwritten one).
//! An explicit switch (`relay_switch_subbuf(buf, len)`, [`Reason::Explicit`])
//! finishes the current sub-buffer even if `len` bytes still fit, and
//! meets another switch as a flush does, then says whether they fit.
//!
//! A slot whose previous lap is not completely committed (a writer
//! interrupted for a whole lap of the ring, in overwrite mode, or the C
//! writer that completed it interrupted between its add and its carry, in
//! either mode) is not started again: the switch stops the buffer and
//! drops the record, without calling `subbuf_start`, so two laps never
//! share a slot's commit count. Nor is a slot whose pages a
//! pipe holds ([`Client::lent`], zero-copy splice), in overwrite mode too.
//!
//! # Readers
//!
//! A finished sub-buffer is readable once complete. Of the current one,
//! the reader may take the first `off` bytes when every reserved byte is
//! committed: it loads `commit[slot]` (acquire), then `ws` and
//! `room[slot]` (acquire), `off = subbuf_size - room`; if `commit == lap
//! base + off`, nothing was reserved between the loads that is not
//! committed, so bytes `0..off` are written ([`Snapshot`]). A finished
//! room gives nothing of the current sub-buffer (its switch will finish
//! it).
//!
//! In overwrite mode a reader validates each copy afterwards: the copy is
//! intact if, looking again, the slot was not started anew and no switch
//! that may start it is in progress ([`Snapshot::intact`]). A copy found
//! torn is read again (or skipped as lost, once the slot is started).
//!
//! While the reader is in a finished sub-buffer `k`, one look at `pos`
//! (acquire) serves both looks ([`writer_for`], [`intact`]): its step
//! needs only `produced` and whether the writer is in a slot, and a copy
//! is intact when `produced - k < n`, as the snapshot's own first look
//! would decide. A switch into `k`'s slot stores `produced = k + n` before
//! its write barrier, so a copy that saw a byte of it finds `produced - k
//! == n` and takes the whole snapshot.
//!
//! # Barriers
//!
//! - Reserve: the add to `room[cur]` is an acquire (in C fully ordered);
//!   it pairs with the release store that opened the room, so the writer
//!   sees the slot's state the owner set up (`padding`, `commit`, `pos`,
//!   the word). `cur` is loaded with acquire (C: `READ_ONCE`, and the add
//!   depends on its address); it pairs with the release that set it, so
//!   the room loaded through it is no older than that store's. A writer
//!   with an older `cur` adds to a room that is finished (it gets
//!   nothing) or, a lap later, open again: then that slot is the current
//!   one, and the reservation is as good as any.
//! - Finish and claim: the add (or CAS) that finishes a room reads the
//!   last reservation's add, so the padding counts every reserved byte;
//!   the claim of `ws` (acquire) pairs with the previous owner's release
//!   of `ws`.
//! - Commit: `commit[slot].fetch_add(len, Release)` after the copy (the C
//!   fast path: a fully ordered 32-bit add to its low half, then, if that
//!   completed the lap, the carry with release). Pairs with the reader's
//!   acquire load of `commit`: every committer's release heads a release
//!   sequence the reader's load reads from, so the reader sees every byte
//!   of a complete sub-buffer (a count that shows the lap complete was
//!   written by the completing commit, or its carry, after all the rest).
//!   The C commit's 32-bit add to half of this 64-bit word is a
//!   mixed-size access, which neither the kernel's memory model nor
//!   Rust's covers; the argument then rests on the hardware (x86, arm64
//!   and the other multi-copy-atomic architectures, as qspinlock's 16-bit
//!   `xchg_tail` on its 32-bit word does): every commit is a
//!   read-modify-write of the word, fully ordered or release after its
//!   copy, so all of them precede the carry in the word's coherence
//!   order, and a reader's acquire load that sees the carry (or later)
//!   sees every copy.
//! - Finish: `padding[slot]` (release), then `pos` (release); pairs with
//!   the reader's acquire of `pos` before it reads `padding` (acquire). The
//!   clearing of its pending bit (release), then the padding's commit
//!   (release), come only after the callback returned (with one slot too:
//!   its lap check counts the pending padding), so
//!   the finished sub-buffer stays incomplete, and unread, while the
//!   callback may write into it as `prev` (a retry of a stopped buffer
//!   gets no `prev`: that sub-buffer is complete already). A reader reads
//!   the padding once per step and validates what it derived from it (the
//!   end of a sub-buffer, even when it reads nothing more) like a copy: a
//!   later lap may have rewritten it.
//! - Callback: a write barrier (`smp_wmb()`; a release fence here) after
//!   the claim of `ws` and the store of `pos`, before the callback may
//!   write a header into the slot; pairs with the reader's read barrier
//!   (`smp_rmb()`) between its copy and its second look at `pos` and `ws`:
//!   a copy that saw a header byte sees the switch.
//! - Publish: `pos` (release, `in_slot`), `room[slot] = FINISHED`
//!   (relaxed: the release of `ws` orders it for anyone who reads the
//!   word), then `ws`, `cur` and `room[slot]` (release each) after
//!   `padding`, `commit` and the callback's header; the room's pairs with the acquire of the next
//!   reservation, so records written in the new slot follow `in_slot`,
//!   and a copy that saw one sees the slot started.
//! - The reader releases sub-buffers with a release store of `consumed`;
//!   pairs with the switch's acquire load in the full test, so in
//!   no-overwrite mode a sub-buffer is reused only after it was read.
//! - Lends ([`Client::lent`]): the switch's full fence between its claim
//!   and its look at the lends pairs with the reader's full fence between
//!   its lend and its second look at `pos` (store buffering): the reader
//!   sees the switch and gives the lend up, or the switch sees the lend
//!   and does not start the slot.
//! - Waiting: a writer that waits for another CPU's switch loads `ws`
//!   (acquire) until the owner's release store ends the switch, then
//!   starts over; one that waits for an unclaimed switch loads `ws` and
//!   the room (acquire) until the claim, or the room opens.
//!
//! Readers are woken through the client when a finished sub-buffer
//! completes ([`Client::completed`]): by the commit of its last record, or
//! by the switch's commit of its padding. Every finished sub-buffer
//! completes exactly once, and readers take only complete ones, so no
//! other wakeup is needed.

use super::ring_atomics::{fence, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use super::subbuf::{Event, Geometry, WriterSnapshot};

const SWITCHING: u64 = 1 << 32;
const STOPPED: u64 = 1 << 33;
const CLOSED: u64 = 1 << 34;
const SLOT_SHIFT: u32 = 36;
const SLOT_MASK: u64 = (1 << (64 - SLOT_SHIFT)) - 1;

/// The most sub-buffers a ring may have (the slot's bits in the word).
pub const MAX_SUBBUFS: usize = 1 << (64 - SLOT_SHIFT);

/// The owner of a switch whose CPU is not known: nobody waits for it.
const UNKNOWN_OWNER: u64 = SLOT_MASK;

/// A finished slot's room: far below zero, so that no reservation fits,
/// and far above `i64::MIN`, so that the writers who find it finished can
/// take their lengths from it (every reservation does) for a long time
/// before [`REARM`] says to set it back.
const FINISHED: i64 = i64::MIN / 2;

/// Whether a finished room was finished by a compare-and-exchange (a
/// flush's, close's, a switch's) or not yet opened by the switch that
/// published its slot: [`FINISHED`] or below, where what reservations
/// leave is a little below zero (lengths are at most a sub-buffer).
#[inline(always)]
const fn owned_finish(room: i64) -> bool {
    room < FINISHED / 2
}

/// A failed reservation that leaves a room below this sets it back to
/// [`FINISHED`]: 2^61 bytes of failed reservations from there.
const REARM: i64 = FINISHED + FINISHED / 2;

/// The largest sub-buffer the room words take: far from [`FINISHED`]
/// and [`REARM`]'s margin.
pub const MAX_LEN: usize = 1 << 60;

/// Whether the protocol can run a buffer of this shape.
pub const fn supports(g: &Geometry) -> bool {
    g.n_subbufs() <= MAX_SUBBUFS && g.subbuf_size() < MAX_LEN
}

/// The write state word: bits 32-34 the flags; bits 36-63 the slot of the
/// current sub-buffer (while `SWITCHING`, the owner's CPU instead). Where
/// writers reserve in an open slot is the slot's room word
/// ([`RingState::room`]), not this one.
///
/// # Invariants
///
/// Bits 0-31 and 35 are zero; `slot() < n_subbufs` of the buffer it
/// belongs to unless `SWITCHING`; at most one of `SWITCHING`, `STOPPED`,
/// `CLOSED` is set, except that `SWITCHING` may be set over `STOPPED`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteState(u64);

impl WriteState {
    /// A word for `slot`, open.
    #[inline(always)]
    pub const fn open(slot: usize) -> Self {
        Self((slot as u64) << SLOT_SHIFT)
    }

    /// A word for a stopped writer whose next sub-buffer is in `slot`.
    #[inline]
    pub const fn stopped(slot: usize) -> Self {
        Self(((slot as u64) << SLOT_SHIFT) | STOPPED)
    }

    /// A closed buffer: no sub-buffer is current.
    #[inline]
    pub const fn closed(slot: usize) -> Self {
        Self(((slot as u64) << SLOT_SHIFT) | CLOSED)
    }

    /// The raw word.
    #[inline]
    pub const fn raw(self) -> u64 {
        self.0
    }

    /// From a raw word.
    #[inline]
    pub const fn from_raw(raw: u64) -> Self {
        Self(raw)
    }

    /// The slot of the current (or, when stopped, the next) sub-buffer.
    #[inline]
    pub const fn slot(self) -> usize {
        (self.0 >> SLOT_SHIFT) as usize
    }

    /// A switch is in progress.
    #[inline]
    pub const fn switching(self) -> bool {
        self.0 & SWITCHING != 0
    }

    /// The client refused the next sub-buffer.
    #[inline]
    pub const fn is_stopped(self) -> bool {
        self.0 & STOPPED != 0
    }

    /// The buffer was closed.
    #[inline]
    pub const fn is_closed(self) -> bool {
        self.0 & CLOSED != 0
    }

    /// The current sub-buffer is started and not claimed by a switch
    /// (writers reserve in it while its room word says so).
    #[inline]
    pub const fn is_open(self) -> bool {
        self.0 & (SWITCHING | STOPPED | CLOSED) == 0
    }

    /// The word of a switch owned by `owner` (a CPU, or `None`) in place of
    /// the slot; `STOPPED` stays.
    #[inline]
    const fn with_switching(self, owner: Option<u32>) -> Self {
        let owner = match owner {
            Some(cpu) if (cpu as u64) < UNKNOWN_OWNER => cpu as u64,
            _ => UNKNOWN_OWNER,
        };
        Self((owner << SLOT_SHIFT) | (self.0 & STOPPED) | SWITCHING)
    }

    /// The CPU that owns the switch in progress, if known.
    #[inline]
    pub const fn owner(self) -> Option<u32> {
        let owner = self.0 >> SLOT_SHIFT;
        if self.switching() && owner != UNKNOWN_OWNER {
            Some(owner as u32)
        } else {
            None
        }
    }
}

/// The shared state of one buffer, as the protocol sees it.
///
/// The kernel implements it over the buffer's fields; the host tests over
/// their own. Every method returns the same atomic each time.
pub trait RingState {
    /// The write state word ([`WriteState`]).
    fn ws(&self) -> &AtomicU64;
    /// The position word ([`Position`]).
    fn pos(&self) -> &AtomicUsize;
    /// Sub-buffers the reader released, ever.
    fn consumed(&self) -> &AtomicUsize;
    /// Bytes committed to `slot`, ever (wrapping).
    fn commit(&self, slot: usize) -> &AtomicUsize;
    /// The padding of the sub-buffer last finished in `slot`.
    fn padding(&self, slot: usize) -> &AtomicUsize;
    /// The start reserve the client asked for in its callback.
    fn start_reserve(&self) -> &AtomicUsize;
    /// The room left in `slot`'s sub-buffer: what writers reserve from.
    fn room(&self, slot: usize) -> &AtomicI64;
    /// The slot whose room writers reserve from (acquire: pairs with
    /// [`RingState::set_current`]).
    fn current(&self) -> usize;
    /// Makes `slot` the one writers reserve from (release).
    fn set_current(&self, slot: usize);
}

/// The position word: sub-buffers finished, and whether the next one was
/// started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position(usize);

impl Position {
    /// `produced` sub-buffers finished; `in_slot`: number `produced` started.
    #[inline]
    pub const fn new(produced: usize, in_slot: bool) -> Self {
        Self((produced << 1) | in_slot as usize)
    }

    /// From a raw word.
    #[inline]
    pub const fn from_raw(raw: usize) -> Self {
        Self(raw)
    }

    /// The raw word.
    #[inline]
    pub const fn raw(self) -> usize {
        self.0
    }

    /// Sub-buffers finished, ever (modulo `usize::MAX / 2 + 1`).
    #[inline]
    pub const fn produced(self) -> usize {
        self.0 >> 1
    }

    /// Sub-buffer `produced` was started: the writer is in its slot.
    #[inline]
    pub const fn in_slot(self) -> bool {
        self.0 & 1 != 0
    }
}

/// A point of the protocol where another writer may run (an interrupt or a
/// writer on another CPU): the host tests run one there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Before a reserve loads the current slot.
    ReserveLoad,
    /// Between a reserve's load of the slot and its add to the room.
    ReserveAdd,
    /// Between a reservation and its commit (the copy).
    Copy,
    /// After a reservation that found no room, before its switch.
    Crossed,
    /// Before a switch loads the word.
    SwitchLoad,
    /// Waiting for another CPU's switch to end.
    SwitchWait,
    /// Between a switch's load and its claim (of the room, or the word).
    SwitchClaim,
    /// Between finishing the room and claiming the word.
    SwitchClaimWord,
    /// After the claim, before the old sub-buffer's padding is committed.
    SwitchPad,
    /// After the padding's commit, before `produced` moves.
    SwitchProduce,
    /// Before the callback runs.
    SwitchCallback,
    /// After the callback, before the new word is published.
    SwitchPublish,
    /// After the new word, before the slot's room opens.
    SwitchOpen,
    /// In the C fast path's commit, after its 32-bit add wrapped the low
    /// half of the count to zero, before it adds the carry ([`carry`]).
    Carry,
}

/// What the protocol asks of the buffer's owner.
pub trait Client {
    /// relay's `subbuf_start`: go on into `slot` (`prev` is the slot just
    /// finished, `None` when none was); `full` says that means
    /// overwriting unread data. Called by the owner of a switch only.
    fn subbuf_start(&self, slot: usize, prev: Option<usize>, full: bool) -> bool;
    /// The callback accepted sub-buffer `k` into `slot` (or it is the
    /// first): called by the switch before writers may reserve in it.
    #[inline(always)]
    fn started(&self, _slot: usize, _k: usize) {}
    /// Whether close finishes a sub-buffer with no record in it (one whose
    /// start reserve says something, as rrelay's sub-buffer header does).
    #[inline(always)]
    fn finish_empty(&self) -> bool {
        false
    }
    /// Counts an event.
    fn count(&self, event: Event);
    /// A sub-buffer was finished with `bytes` bytes of data (statistics;
    /// readers are woken when it completes).
    fn finished(&self, bytes: usize);
    /// A commit completed sub-buffer slot `slot` (reader wakeup).
    fn completed(&self, slot: usize);
    /// The CPU this runs on, stable for the call (the kernel's writers have
    /// preemption off): it names the owner of a switch. `None` when unknown:
    /// then this writer never waits for another's switch, and nobody waits
    /// for its.
    #[inline(always)]
    fn cpu(&self) -> Option<u32> {
        None
    }
    /// Whether a pipe holds pages of `slot` (zero-copy splice): then the
    /// switch does not start it (it stops the buffer and drops the record,
    /// as for a lap still being committed), so lent pages never change.
    /// A reader marks a lend, then (after a full fence) checks that the
    /// slot was not started anew; see the fence in [`switch`].
    #[inline(always)]
    fn lent(&self, _slot: usize) -> bool {
        false
    }
    /// Whether this writer may wait for another CPU's switch: never from a
    /// context that a switch could be waiting on, directly or through a
    /// chain of waits. The kernel answers no in NMI (an NMI may sit on top
    /// of a switch on its CPU) and inside a switch (a `subbuf_start` that
    /// writes to another channel).
    #[inline(always)]
    fn may_wait(&self) -> bool {
        true
    }
    /// Runs a switch; the kernel keeps this CPU's interrupts off meanwhile
    /// (the slow path, once per sub-buffer), so that only an NMI can find a
    /// switch in progress on its own CPU.
    #[inline(always)]
    fn switching<R>(&self, f: impl FnOnce() -> R) -> R {
        f()
    }
    /// A point where the host tests run another writer; nothing in the
    /// kernel.
    #[inline(always)]
    fn step(&self, _at: Step) {}
}

/// Room reserved for one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reservation {
    /// The slot it is in.
    pub slot: usize,
    /// Its offset in the slot's sub-buffer.
    pub off: usize,
    /// Its length.
    pub len: usize,
}

impl Reservation {
    /// Its byte position from the start of the buffer.
    #[inline]
    pub const fn pos(&self, g: &Geometry) -> usize {
        g.slot_start(self.slot) + self.off
    }
}

/// Why a switch was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// A record of this many bytes does not fit.
    Record(usize),
    /// `relay_switch_subbuf(buf, len)` with `len > 0`: finish the current
    /// sub-buffer whether or not a record of `len` bytes still fits, as
    /// relay does; like a flush, one that meets another CPU's switch lets
    /// that one finish it. No record goes in, so nothing is dropped.
    Explicit(usize),
    /// A flush (`relay_flush`, `relay_switch_subbuf(buf, 0)`).
    Flush,
    /// Close: finish the current sub-buffer, start none.
    Close,
}

/// What a switch did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Switched {
    /// A new sub-buffer is current (and, for a record, it fits).
    Ready,
    /// The record does not go in (counted).
    Refused,
}

/// Set in `padding[slot]` while the switch that finished the slot's
/// sub-buffer still owns it (until its callback returned and the padding
/// is committed): the sub-buffer is not complete meanwhile, even when its
/// records filled it exactly (no padding to commit), so no reader takes it
/// while the callback may write into it as `prev`, or rrelay finishes its
/// header.
const PADDING_PENDING: usize = 1 << (usize::BITS - 1);

/// The padding of the sub-buffer last finished in `slot` (acquire: pairs
/// with the switch's releases).
#[inline]
pub fn padding_of<S: RingState>(s: &S, slot: usize) -> usize {
    s.padding(slot).load(Ordering::Acquire) & !PADDING_PENDING
}

/// What one lap adds to a slot's commit count: 2^32 where `usize` has 64
/// bits (more than any sub-buffer: `subbuf_size * n_subbufs <= u32::MAX`),
/// so a count is at a lap's end exactly when its low 32 bits are zero (one
/// test in the writer's commit, whatever the sub-buffer size); else the
/// sub-buffer size.
#[inline]
pub fn lap_unit(g: &Geometry) -> usize {
    if usize::BITS >= 64 {
        1 << 32
    } else {
        g.subbuf_size()
    }
}

/// Whether a commit count is at the end of a lap (see [`lap_unit`]).
#[inline(always)]
fn is_lap_end(g: &Geometry, count: usize) -> bool {
    if usize::BITS >= 64 {
        count as u32 == 0
    } else {
        g.is_whole_subbufs(count)
    }
}

/// What the switch that finishes a sub-buffer commits for it: its padding,
/// plus what the lap unit has beyond a sub-buffer's bytes.
#[inline(always)]
fn padding_commit(g: &Geometry, padding: usize) -> usize {
    padding + (lap_unit(g) - g.subbuf_size())
}

/// The commit count a slot has at the start of sub-buffer `k`'s lap.
#[inline]
fn lap_base(g: &Geometry, k: usize) -> usize {
    g.lap(k).wrapping_mul(lap_unit(g))
}

/// A start reserve must leave room for data, as relay's `BUG_ON` demands.
#[inline]
const fn clamp_reserve(g: &Geometry, reserve: usize) -> usize {
    if reserve >= g.subbuf_size() - 1 {
        0
    } else {
        reserve
    }
}

/// Starts sub-buffer 0 of a new or reset buffer (no writer or reader may be
/// active). The callback's answer is ignored, as relay ignores it.
pub fn start<S: RingState, C: Client>(g: &Geometry, s: &S, c: &C) {
    s.pos()
        .store(Position::new(0, true).raw(), Ordering::Relaxed);
    s.consumed().store(0, Ordering::Relaxed);
    for slot in 0..g.n_subbufs() {
        s.commit(slot).store(0, Ordering::Relaxed);
        s.padding(slot).store(0, Ordering::Relaxed);
        s.room(slot).store(FINISHED, Ordering::Relaxed);
    }
    s.start_reserve().store(0, Ordering::Relaxed);
    c.subbuf_start(0, None, false);
    c.started(0, 0);
    let reserve = clamp_reserve(g, s.start_reserve().load(Ordering::Relaxed));
    // What stays there is the current sub-buffer's start reserve.
    s.start_reserve().store(reserve, Ordering::Relaxed);
    s.commit(0).store(reserve, Ordering::Relaxed);
    s.ws().store(WriteState::open(0).raw(), Ordering::Release);
    s.set_current(0);
    s.room(0)
        .store((g.subbuf_size() - reserve) as i64, Ordering::Release);
}

/// A reservation that found no room: where it tried, and the room it
/// found there. The one that found room for part of its record (`room >=
/// 0`) finished the sub-buffer: it owns its switch.
///
/// # Invariants
///
/// A `Miss` with `room >= 0` comes from the add that finished `slot`'s
/// room ([`try_reserve`], or the C fast path through [`Miss::from_raw`]),
/// and is given to one switch: it is neither `Clone` nor `Copy`, and its
/// fields are private, so safe code cannot make a second owner of a
/// switch.
#[derive(Debug, PartialEq, Eq)]
pub struct Miss {
    slot: usize,
    room: i64,
}

impl Miss {
    /// A record refused before any add (larger than a sub-buffer), tried
    /// at `slot`: it finished nothing.
    #[inline(always)]
    pub const fn refused(slot: usize) -> Self {
        // INVARIANT: a negative room claims no switch.
        Self { slot, room: -1 }
    }

    /// What the C fast path's add to `slot`'s room found there.
    ///
    /// # Safety
    ///
    /// `room` is what one add to the room of `slot`, of the buffer this
    /// goes to, returned, in the caller's context; no other `Miss` was
    /// made of that add.
    #[inline(always)]
    pub const unsafe fn from_raw(slot: usize, room: i64) -> Self {
        // INVARIANT: the caller's promise.
        Self { slot, room }
    }

    /// This reservation took the room's last bytes: it finished the
    /// sub-buffer (with `room` bytes of padding).
    #[inline(always)]
    pub const fn finished(&self) -> bool {
        self.room >= 0
    }
}

/// Reserves `len` bytes for a record: any context, any CPU. Returns `None`
/// when the record is dropped (and counted). The caller writes the bytes,
/// then calls [`commit`].
#[inline(always)]
pub fn reserve<S: RingState, C: Client>(
    g: &Geometry,
    s: &S,
    c: &C,
    len: usize,
) -> Option<Reservation> {
    if len > g.subbuf_size() {
        // Before the add: one that large would finish the sub-buffer.
        c.count(Event::TooBig);
        return None;
    }
    match try_reserve(g, s, c, len) {
        Ok(r) => Some(r),
        Err(miss) => reserve_after_miss(g, s, c, len, miss),
    }
}

/// [`reserve`], after a reservation (the C fast path's, or
/// [`try_reserve`]) found no room: switches, then reserves again.
#[inline(always)]
pub fn reserve_after_miss<S: RingState, C: Client>(
    g: &Geometry,
    s: &S,
    c: &C,
    len: usize,
    miss: Miss,
) -> Option<Reservation> {
    c.step(Step::Crossed);
    let mut miss = Some(miss);
    loop {
        let why = Reason::Record(len);
        if c.switching(|| switch_from(g, s, c, why, miss.take())) == Switched::Refused {
            return None;
        }
        match try_reserve(g, s, c, len) {
            Ok(r) => return Some(r),
            Err(m) => miss = Some(m),
        }
    }
}

/// Reserves `len` bytes (at most a sub-buffer: callers refuse larger
/// records first) in the current sub-buffer if they fit: one add to its
/// room, as the C fast path does. A
/// reservation that does not fit leaves the room negative (it finished
/// the sub-buffer if it was the first to).
#[inline(always)]
pub fn try_reserve<S: RingState, C: Client>(
    g: &Geometry,
    s: &S,
    c: &C,
    len: usize,
) -> Result<Reservation, Miss> {
    c.step(Step::ReserveLoad);
    let slot = s.current();
    c.step(Step::ReserveAdd);
    // Acquire: pairs with the release that opened the room (a switch's,
    // or a close's), so the writer sees the slot as the switch set it up.
    let room = s.room(slot).fetch_sub(len as i64, Ordering::Acquire);
    if room >= len as i64 {
        return Ok(Reservation {
            slot,
            off: g.subbuf_size() - room as usize,
            len,
        });
    }
    // INVARIANT: this add's own result, made into one `Miss`.
    Err(Miss { slot, room })
}

/// Replaces the write state word with `to` if it still is `from`; an
/// acquire (the callers say what it pairs with).
#[inline(always)]
fn exchange_ws<S: RingState>(s: &S, from: WriteState, to: WriteState) -> bool {
    s.ws()
        .compare_exchange(from.raw(), to.raw(), Ordering::Acquire, Ordering::Relaxed)
        .is_ok()
}

/// Commits a reservation whose bytes are written.
#[inline(always)]
pub fn commit<S: RingState, C: Client>(g: &Geometry, s: &S, c: &C, r: Reservation) {
    c.step(Step::Copy);
    commit_bytes(g, s, c, r.slot, r.len);
}

/// Adds `len` committed bytes to `slot` (release: the bytes are written),
/// and reports a completed sub-buffer.
#[inline(always)]
fn commit_bytes<S: RingState, C: Client>(g: &Geometry, s: &S, c: &C, slot: usize, len: usize) {
    let total = s
        .commit(slot)
        .fetch_add(len, Ordering::Release)
        .wrapping_add(len);
    if len > 0 && is_lap_end(g, total) {
        c.completed(slot);
    }
}

/// The second half of the C fast path's commit (`__rrelay_commit` in
/// `include/rrelay.h`, on 64-bit): it adds `len` to the low 32 bits of
/// `commit[slot]` alone, a 32-bit add whose zero flag is the completion
/// test (one `lock add` and a branch on x86). The add that completes a lap
/// wraps the low half to zero and loses the carry into the high half; that
/// writer then calls this, which adds the carry (release) and reports the
/// completed sub-buffer. Until then the count reads as the start of the
/// lap just completed: not complete to readers, and not startable to a
/// switch (which stops the buffer then, as for a lap still being
/// written). A zero-length commit that finds the low half zero completed
/// nothing (`len == 0`: no carry, the wakeup is spurious and harmless), as
/// does every completion on 32-bit, where the C path adds to the whole
/// count and calls this for the wakeup alone.
pub fn carry<S: RingState, C: Client>(g: &Geometry, s: &S, c: &C, slot: usize, len: usize) {
    if len > 0 && usize::BITS >= 64 {
        s.commit(slot).fetch_add(lap_unit(g), Ordering::Release);
    }
    c.completed(slot);
}

/// A switch that does not let the record in: one of at least one byte is
/// dropped (counted); a flush or an explicit switch is no record.
#[inline(always)]
fn refuse<C: Client>(c: &C, why: Reason, len: usize) -> Switched {
    if len > 0 && matches!(why, Reason::Record(_)) {
        c.count(Event::Dropped);
    }
    Switched::Refused
}

/// Whether a switch that returns without switching leaves room for the
/// record an explicit switch asked for.
#[inline(always)]
fn explicit_fits<S: RingState>(s: &S, why: Reason, len: usize, w: WriteState) -> Switched {
    if matches!(why, Reason::Explicit(_))
        && w.is_open()
        && s.room(w.slot()).load(Ordering::Acquire) >= len as i64
    {
        Switched::Ready
    } else {
        Switched::Refused
    }
}

/// Claims the write state word `w` (open) for the switch of the sub-buffer
/// whose room this caller finished: nobody else moves the word from open
/// meanwhile. Acquire: pairs with the previous owner's release of `ws`, so
/// `produced` and the slots are as it left them.
#[inline(always)]
fn claim_word<S: RingState>(s: &S, w: WriteState, me: Option<u32>) {
    let was = s.ws().swap(w.with_switching(me).raw(), Ordering::Acquire);
    debug_assert_eq!(was, w.raw(), "the word moved under a finished room");
}

/// A reservation that failed on a room finished before it took its
/// length from it; sets the room back to [`FINISHED`] when many such have
/// taken it near [`REARM`] (a buffer stopped for a long time).
#[inline(always)]
fn rearm<S: RingState>(s: &S, miss: Miss, len: usize) {
    let left = miss.room.wrapping_sub(len as i64);
    if left < REARM {
        // Only if nothing moved it since: a switch may have opened it.
        let _ = s.room(miss.slot).compare_exchange(
            left,
            FINISHED,
            Ordering::Relaxed,
            Ordering::Relaxed,
        );
    }
}

/// Finishes the current sub-buffer and starts the next, as
/// `relay_switch_subbuf` does; see the protocol above. Waits only for
/// another CPU's switch, as [`Client::may_wait`] allows (and close for a
/// flush).
pub fn switch<S: RingState, C: Client>(g: &Geometry, s: &S, c: &C, why: Reason) -> Switched {
    switch_from(g, s, c, why, None)
}

/// [`switch`], for a record whose reservation found no room (`miss`):
/// the one that finished the sub-buffer owns its switch.
fn switch_from<S: RingState, C: Client>(
    g: &Geometry,
    s: &S,
    c: &C,
    why: Reason,
    miss: Option<Miss>,
) -> Switched {
    let (len, too_big) = match why {
        Reason::Record(len) | Reason::Explicit(len) => (len, len > g.subbuf_size()),
        Reason::Flush | Reason::Close => (0, false),
    };
    let mut finished = None;
    match miss {
        // Records larger than a sub-buffer are refused before their add
        // (here and in C), so none finishes a room.
        Some(m) if m.finished() && !too_big => finished = Some(m),
        Some(m) => rearm(s, m, len),
        None => {}
    }
    if too_big {
        c.count(Event::TooBig);
        return Switched::Refused;
    }
    // The switch word a flush waits on: once it changes, that switch has
    // finished the sub-buffer current when the flush began.
    let mut awaited = None;
    // The open word whose finished room this switch last waited on.
    let mut unclaimed = None;
    // Stable for the whole switch: writers run with preemption off,
    // switches with interrupts off.
    let me = c.cpu();
    // The word this switch claimed, and the room left in the sub-buffer
    // it finished (none when it retries a stopped buffer).
    let (w, room) = loop {
        if let Some(m) = finished.take() {
            // Only this writer moves the word from open now.
            let w = WriteState(s.ws().load(Ordering::Acquire));
            debug_assert!(w.is_open() && w.slot() == m.slot);
            c.step(Step::SwitchClaimWord);
            claim_word(s, w, me);
            break (w, Some(m.room));
        }
        c.step(Step::SwitchLoad);
        let w = WriteState(s.ws().load(Ordering::Acquire));
        if awaited.is_some_and(|a| a != w.raw())
            || (unclaimed.is_some_and(|u| u != w.raw())
                && matches!(why, Reason::Flush | Reason::Explicit(_)))
        {
            // Acquire above: pairs with that switch's release of `ws`, so
            // what it finished is visible to whoever the flush returns to.
            // (Only the owner of a finished room moves the word from the
            // open one this waited on: a new word says it switched.)
            return explicit_fits(s, why, len, w);
        }
        if w.is_open() {
            let room = s.room(w.slot()).load(Ordering::Acquire);
            if room >= 0 {
                if unclaimed == Some(w.raw()) && why != Reason::Close {
                    // The room this switch waited for opened, the word
                    // unchanged: it waited on a switch about to open it,
                    // which finished the sub-buffer before (a flush need
                    // finish none: this one is new).
                    if matches!(why, Reason::Flush | Reason::Explicit(_)) {
                        return explicit_fits(s, why, len, w);
                    }
                }
                if let Reason::Record(_) = why {
                    if room >= len as i64 {
                        // Another writer switched meanwhile.
                        return Switched::Ready;
                    }
                }
                c.step(Step::SwitchClaim);
                // Finish the room: no reservation fits it from here on.
                // Acquire: as the reservations' (the slot is set up).
                if s.room(w.slot())
                    .compare_exchange(room, FINISHED, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
                {
                    c.step(Step::SwitchClaimWord);
                    claim_word(s, w, me);
                    break (w, Some(room));
                }
                continue;
            }
            // Finished, and the word not claimed: unclaimed. Close runs in
            // process context after the writers stopped: the owner is a
            // flush on another CPU. Let it end.
            if why == Reason::Close {
                core::hint::spin_loop();
                continue;
            }
            if !owned_finish(room) {
                // A reservation finished it, perhaps one this writer
                // interrupted (its interrupts are on until it claims the
                // word): never wait for it.
                return refuse(c, why, len);
            }
            // A flush's finish, or the switch between publishing the word
            // and opening the room: an owner with its interrupts off, so
            // on this CPU only an NMI (or a writer inside a switch) sits on
            // it, and `may_wait` says no there. Wait as for a claimed
            // switch.
            if me.is_none() || !c.may_wait() {
                return refuse(c, why, len);
            }
            unclaimed = Some(w.raw());
            c.step(Step::SwitchWait);
            core::hint::spin_loop();
            continue;
        }
        if w.switching() && why == Reason::Close {
            // Close runs in process context after the writers stopped: the
            // owner is a flush on another CPU, which never waits. Let it end.
            core::hint::spin_loop();
            continue;
        }
        if let (Reason::Record(_) | Reason::Explicit(_) | Reason::Flush, Some(me), Some(owner)) =
            (why, me, w.owner())
        {
            // Another CPU's switch, which never waits for us (we are in no
            // switch and no NMI): let it end. Not a retry of a stopped
            // buffer: that one will refuse us too.
            if owner != me && !w.is_stopped() && c.may_wait() {
                if matches!(why, Reason::Flush | Reason::Explicit(_)) {
                    awaited = Some(w.raw());
                }
                c.step(Step::SwitchWait);
                core::hint::spin_loop();
                continue;
            }
        }
        if w.switching() || w.is_closed() {
            return refuse(c, why, len);
        }
        c.step(Step::SwitchClaim);
        // A stopped buffer: retry the callback. Acquire: pairs with the
        // previous owner's release of `ws`.
        if exchange_ws(s, w, w.with_switching(me)) {
            break (w, None);
        }
    };
    // This switch owns the buffer's write side until it stores `ws` again.
    let mut produced = Position::from_raw(s.pos().load(Ordering::Relaxed)).produced();
    // The padding of the sub-buffer this switch finishes: committed once
    // the callback returned, so that sub-buffer stays incomplete (no
    // reader takes it) while the callback may write into `prev`.
    let mut pending = None;
    let prev = if let Some(room) = room {
        // Bytes reserved in the sub-buffer this switch finishes.
        let off = g.subbuf_size() - room as usize;
        if why == Reason::Close
            && !c.finish_empty()
            && off == s.start_reserve().load(Ordering::Relaxed)
        {
            // No record in it: close produces no empty sub-buffer.
            s.ws()
                .store(WriteState::closed(w.slot()).raw(), Ordering::Release);
            return Switched::Refused;
        }
        let padding = room as usize;
        // Release: a reader that takes this padding for an older lap's
        // (read_step) sees the claim and validates it away.
        s.padding(w.slot())
            .store(padding | PADDING_PENDING, Ordering::Release);
        c.step(Step::SwitchPad);
        pending = Some((w.slot(), padding));
        c.step(Step::SwitchProduce);
        produced = produced.wrapping_add(1);
        // Release: the padding (and its commit) before the new count.
        s.pos()
            .store(Position::new(produced, false).raw(), Ordering::Release);
        c.finished(off);
        Some(w.slot())
    } else {
        // A retry: the last finished sub-buffer is complete, maybe read or
        // lent already, so the callback gets no `prev` to write into.
        None
    };
    let slot = g.slot(produced);
    // Beside the slot: one division gives both.
    let base = lap_base(g, produced);
    if why == Reason::Close {
        commit_padding(g, s, c, &mut pending);
        s.ws()
            .store(WriteState::closed(slot).raw(), Ordering::Release);
        return Switched::Refused;
    }
    // Acquire: pairs with the reader's release of `consumed`.
    let full = g.is_full(produced, s.consumed().load(Ordering::Acquire));
    if full {
        c.count(Event::Full);
    }
    // The slot's previous lap must be complete before a new lap starts, and
    // no pipe may hold its pages. The full fence orders the claim before
    // the look at the lends; it pairs with the reader's full fence between
    // its lend and its second look at `pos` (`Client::lent`): either the
    // reader sees this switch, or this switch sees the lend.
    fence(Ordering::SeqCst);
    // With one slot, the next sub-buffer is the one just finished: its lap
    // is complete when its commits and its padding, still pending until the
    // callback returned, add up.
    let pending_padding = match pending {
        Some((p, padding)) if p == slot => padding_commit(g, padding),
        _ => 0,
    };
    if s.commit(slot)
        .load(Ordering::Acquire)
        .wrapping_add(pending_padding)
        != base
        || c.lent(slot)
    {
        commit_padding(g, s, c, &mut pending);
        s.ws()
            .store(WriteState::stopped(slot).raw(), Ordering::Release);
        return refuse(c, why, len);
    }
    s.start_reserve().store(0, Ordering::Relaxed);
    // smp_wmb(): the claim and `pos` before anything the callback writes
    // into the slot (pairs with the reader's smp_rmb() after its copy).
    fence(Ordering::Release);
    c.step(Step::SwitchCallback);
    let accepted = c.subbuf_start(slot, prev, full);
    // The callback is done with `prev`: readers may have it.
    commit_padding(g, s, c, &mut pending);
    if !accepted {
        s.ws()
            .store(WriteState::stopped(slot).raw(), Ordering::Release);
        return refuse(c, why, len);
    }
    // Overwritten only if still unread now: a callback that found room (its
    // own `buf_full` look came after the reader released the sub-buffer)
    // overwrites nothing. Acquire: as above.
    if full && g.is_full(produced, s.consumed().load(Ordering::Acquire)) {
        c.count(Event::Overwritten);
    }
    c.started(slot, produced);
    let reserve = clamp_reserve(g, s.start_reserve().load(Ordering::Relaxed));
    s.start_reserve().store(reserve, Ordering::Relaxed);
    s.padding(slot).store(0, Ordering::Relaxed);
    // The header the callback wrote is committed with the start.
    s.commit(slot).fetch_add(reserve, Ordering::Release);
    // The slot is taken: readers of sub-buffer `produced - n` learn it
    // before any record lands there.
    s.pos()
        .store(Position::new(produced, true).raw(), Ordering::Release);
    c.step(Step::SwitchPublish);
    // The word, then the slot, then its room: a reservation that fits
    // finds the word open, so the one that later finishes the room may
    // claim it. Release, each: everything above before writers reserve in
    // the slot (the room's pairs with their acquire).
    // Until it opens, the room reads as a switch's own (what a
    // reservation left there a lap ago would read as one with interrupts
    // on, which nobody waits for).
    s.room(slot).store(FINISHED, Ordering::Relaxed);
    s.ws()
        .store(WriteState::open(slot).raw(), Ordering::Release);
    s.set_current(slot);
    c.step(Step::SwitchOpen);
    s.room(slot)
        .store((g.subbuf_size() - reserve) as i64, Ordering::Release);
    if reserve + len > g.subbuf_size() {
        c.count(Event::TooBig);
        return Switched::Refused;
    }
    Switched::Ready
}

/// Commits the padding of the sub-buffer a switch finished, once its
/// callback returned (`pending`: its slot and padding, taken).
#[inline(always)]
fn commit_padding<S: RingState, C: Client>(
    g: &Geometry,
    s: &S,
    c: &C,
    pending: &mut Option<(usize, usize)>,
) {
    if let Some((slot, padding)) = pending.take() {
        // Release: everything the switch wrote into the sub-buffer (the
        // callback's `prev`, the header) before it is complete. The bit
        // goes first, then the padding's commit: whoever adds the last
        // bytes (the switch, or a writer still copying) sees the total
        // whole with the bit already clear, and wakes the reader; a
        // reader that sees the total whole sees the bit clear (the
        // commit's release sequence).
        s.padding(slot).store(padding, Ordering::Release);
        let add = padding_commit(g, padding);
        let total = s
            .commit(slot)
            .fetch_add(add, Ordering::Release)
            .wrapping_add(add);
        if is_lap_end(g, total) {
            c.completed(slot);
        }
    }
}

/// What a reader may read, from one look at the writer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Snapshot {
    /// Sub-buffers finished.
    pub produced: usize,
    /// The writer is in no slot (stopped, closed after finishing its
    /// sub-buffer, or switching with the next one not yet started):
    /// sub-buffer `produced - n` is intact. relay's "stopped", as
    /// `Geometry::read_step` and `Geometry::intact` take it.
    pub stopped: bool,
    /// Bytes of sub-buffer `produced` that are reserved and committed, in
    /// one piece from its start (0 when a reservation is in flight).
    pub committed: usize,
    /// A switch is in progress.
    pub switching: bool,
}

impl Snapshot {
    /// The snapshot as the reader's arithmetic (`Geometry::read_step`)
    /// takes it: a stopped writer's marker offset, or the committed prefix
    /// of the current sub-buffer. Finished sub-buffers are read only once
    /// [`complete`].
    #[inline]
    pub const fn writer(&self, g: &Geometry) -> WriterSnapshot {
        WriterSnapshot {
            produced: self.produced,
            offset: if self.stopped {
                g.stopped_offset()
            } else {
                self.committed
            },
        }
    }

    /// Whether a copy of sub-buffer `k` taken before this snapshot (with a
    /// read barrier between) is intact: its slot was not started anew,
    /// and no switch in progress may be starting it.
    #[inline]
    pub const fn intact(&self, g: &Geometry, k: usize) -> bool {
        let d = self.produced.wrapping_sub(k);
        d < g.n_subbufs() || (d == g.n_subbufs() && self.stopped && !self.switching)
    }
}

/// Takes a [`Snapshot`]: what is finished, and the committed prefix of the
/// current sub-buffer.
pub fn snapshot<S: RingState>(g: &Geometry, s: &S) -> Snapshot {
    loop {
        // Acquire: pairs with the switch's releases of `pos`; `padding`
        // and the finished sub-buffers' commits are visible.
        let pos = Position::from_raw(s.pos().load(Ordering::Acquire));
        let produced = pos.produced();
        let slot = g.slot(produced);
        // Commit first, then the room: see "Readers" above.
        let committed = s.commit(slot).load(Ordering::Acquire);
        let w = WriteState(s.ws().load(Ordering::Acquire));
        let room = s.room(slot).load(Ordering::Acquire);
        if s.pos().load(Ordering::Acquire) != pos.raw() {
            continue;
        }
        let open = pos.in_slot() && w.is_open() && w.slot() == slot && room >= 0;
        let off = g.subbuf_size().wrapping_sub(room as usize);
        let prefix = if open && committed == lap_base(g, produced).wrapping_add(off) {
            off
        } else {
            0
        };
        return Snapshot {
            produced,
            stopped: !pos.in_slot(),
            committed: prefix,
            switching: w.switching(),
        };
    }
}

/// Bytes reserved in the current sub-buffer while writers may reserve in
/// it (the word open, its room not finished); `None` otherwise. A look
/// for statistics and tests: it may be stale when it returns.
pub fn reserved<S: RingState>(g: &Geometry, s: &S) -> Option<usize> {
    let w = WriteState(s.ws().load(Ordering::Acquire));
    if !w.is_open() {
        return None;
    }
    let room = s.room(w.slot()).load(Ordering::Acquire);
    (room >= 0).then(|| g.subbuf_size() - room as usize)
}

/// The writer as a reader at sub-buffer `k` needs it for
/// `Geometry::read_step` and `Geometry::consume`: what
/// `snapshot(g, s).writer(g)` gives them, from the position word alone
/// while `k` is finished (they then use `offset` only as the stopped
/// marker, and the committed prefix of the current sub-buffer is not
/// needed); the whole snapshot when `k` is the current sub-buffer.
#[inline]
pub fn writer_for<S: RingState>(g: &Geometry, s: &S, k: usize) -> WriterSnapshot {
    // Acquire: as the snapshot's first look.
    let pos = Position::from_raw(s.pos().load(Ordering::Acquire));
    if pos.produced() == k {
        return snapshot(g, s).writer(g);
    }
    WriterSnapshot {
        produced: pos.produced(),
        offset: if pos.in_slot() { 0 } else { g.stopped_offset() },
    }
}

/// `snapshot(g, s).intact(g, k)`: whether a copy of sub-buffer `k` taken
/// before this call (with a read barrier between) is intact. From the
/// position word alone when the writer is fewer than `n` sub-buffers past
/// `k` (then its slot was not started anew: the look the snapshot would
/// take first settles it); else from a whole snapshot.
#[inline]
pub fn intact<S: RingState>(g: &Geometry, s: &S, k: usize) -> bool {
    // Acquire: as the snapshot's first look.
    let pos = Position::from_raw(s.pos().load(Ordering::Acquire));
    pos.produced().wrapping_sub(k) < g.n_subbufs() || snapshot(g, s).intact(g, k)
}

/// Whether finished sub-buffer `k` is complete: every byte reserved in it
/// written and committed. Once a later lap started in its slot, the
/// answer means nothing: a later lap's count may read as `k`'s end (at its
/// start, with nothing committed, or while its completing C commit has
/// not added its carry), so callers validate what they read against the
/// writer ([`Snapshot::intact`]) as for any overwrite.
#[inline]
pub fn complete<S: RingState>(g: &Geometry, s: &S, k: usize) -> bool {
    // Acquire: pairs with every committer's release, and with the
    // finishing switch's release of the padding.
    s.commit(g.slot(k)).load(Ordering::Acquire) == lap_base(g, k).wrapping_add(lap_unit(g))
        && s.padding(g.slot(k)).load(Ordering::Acquire) & PADDING_PENDING == 0
}
