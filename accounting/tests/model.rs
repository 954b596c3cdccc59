// SPDX-License-Identifier: GPL-2.0

//! The accounting against an independent reference: random operations run
//! on the module's accounting (`sim`) and on the reference (`reference`),
//! which must agree on every accept, byte, count and position; and
//! scenarios worked out by hand.

use proptest::prelude::*;
use rrelay_accounting::reference::{header, StartCall};
use rrelay_accounting::ring::{self, Snapshot, WriteState};
use rrelay_accounting::sim::*;
use rrelay_accounting::*;

/// Operations for a buffer of `n` sub-buffers of `size` bytes: mostly
/// records that fit, some too big, reads, flushes, header changes (up to
/// two bytes past the largest a sub-buffer takes), pauses and releases.
fn ops(size: usize, n: usize) -> impl Strategy<Value = Vec<Op>> {
    prop::collection::vec(
        prop_oneof![
            12 => (0..=size + 2).prop_map(Op::Write),
            1 => (size + 1..=size + 10).prop_map(Op::Write),
            4 => (1..=3 * size).prop_map(Op::Read),
            2 => Just(Op::Flush),
            1 => (0..=size + 1).prop_map(Op::Reserve),
            1 => Just(Op::Reserve(0)),
            1 => prop::bool::weighted(0.3).prop_map(Op::Pause),
            1 => (0..=n + 1).prop_map(Op::Consumed),
        ],
        0..200,
    )
}

fn case(overwrite: bool) -> impl Strategy<Value = (Setup, Vec<Op>)> {
    (
        prop_oneof![1usize..=8, 1usize..=64],
        1usize..=5,
        prop::bool::weighted(0.05),
    )
        .prop_flat_map(move |(size, n, paused)| {
            let reserve = prop_oneof![Just(0), 0..=size + 1];
            (reserve, ops(size, n)).prop_map(move |(reserve, ops)| {
                let setup = Setup {
                    subbuf_size: size,
                    n_subbufs: n,
                    overwrite,
                    reserve,
                    paused,
                };
                (setup, ops)
            })
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// No-overwrite: the reference decides which records are accepted and
    /// which dropped; the reader gets exactly the accepted bytes (headers
    /// included), nothing is lost, and every count agrees.
    #[test]
    fn no_overwrite_loses_nothing_silently((setup, ops) in case(false)) {
        let r = check(setup, &ops);
        prop_assert!(r.is_ok(), "{}", r.unwrap_err());
    }

    /// Overwrite: the reader gets exactly the sub-buffers the reference says
    /// are intact, and counts as lost exactly those it says were overwritten.
    #[test]
    fn overwrite_reports_every_lost_subbuffer((setup, ops) in case(true)) {
        let r = check(setup, &ops);
        prop_assert!(r.is_ok(), "{}", r.unwrap_err());
    }
}

#[test]
fn geometry_refuses_bad_sizes() {
    assert_eq!(Geometry::new(0, 4), Err(GeometryError::Zero));
    assert_eq!(Geometry::new(4096, 0), Err(GeometryError::Zero));
    assert_eq!(Geometry::new(usize::MAX, 2), Err(GeometryError::TooLarge));
    assert_eq!(
        Geometry::new(1 << 20, 1 << 12),
        Err(GeometryError::TooLarge)
    );
    let g = Geometry::new(1 << 20, (1 << 12) - 1).unwrap();
    assert_eq!(g.data_size(), (1 << 32) - (1 << 20));
    // u32::MAX = 65537 * 65535 is allowed, one sub-buffer more is not.
    let g = Geometry::new(65537, 65535).unwrap();
    assert_eq!(g.data_size(), u32::MAX as usize);
    assert_eq!(Geometry::new(65537, 65536), Err(GeometryError::TooLarge));
    assert_eq!(Geometry::new(100, 3).unwrap().alloc_size(4096), 4096);
    assert_eq!(Geometry::new(4096, 3).unwrap().alloc_size(4096), 3 * 4096);
    assert_eq!(Geometry::new(4097, 1).unwrap().alloc_size(4096), 2 * 4096);
}

#[test]
fn geometry_arithmetic() {
    let g = Geometry::new(10, 4).unwrap();
    assert_eq!((g.subbuf_size(), g.n_subbufs(), g.data_size()), (10, 4, 40));
    assert_eq!(g.stopped_offset(), 11);
    assert_eq!((g.slot(3), g.slot(4), g.slot(9)), (3, 0, 1));
    assert_eq!((g.slot_start(0), g.slot_start(3)), (0, 30));
    assert_eq!(
        (WriteState::open(1).slot(), WriteState::stopped(3).slot()),
        (1, 3)
    );
    assert!(WriteState::open(1).is_open());
    assert!(!WriteState::stopped(1).is_open() && !WriteState::closed(1).is_open());
    assert_eq!((g.lap(3), g.lap(4), g.lap(9)), (0, 1, 2));
    assert!(g.is_whole_subbufs(0) && g.is_whole_subbufs(30) && !g.is_whole_subbufs(31));
    assert!(!g.is_full(3, 0) && g.is_full(4, 0) && g.is_full(9, 4) && !g.is_full(9, 6));
}

#[test]
fn add_consumed_clamps_like_relay() {
    let g = Geometry::new(8, 3).unwrap();
    // More than n_subbufs at once: ignored.
    assert_eq!(g.add_consumed(10, 5, 4), 5);
    // Exactly n_subbufs, all of them ready.
    assert_eq!(g.add_consumed(10, 5, 3), 8);
    assert_eq!(g.add_consumed(10, 7, 3), 10);
    // More than ready: everything produced.
    assert_eq!(g.add_consumed(10, 8, 3), 10);
    assert_eq!(g.add_consumed(10, 9, 2), 10);
    assert_eq!(g.add_consumed(10, 9, 1), 10);
    assert_eq!(g.add_consumed(10, 9, 0), 9);
}

#[test]
fn intact_until_the_slot_is_reused() {
    let g = Geometry::new(8, 3).unwrap();
    let snap = |produced, stopped, switching| Snapshot {
        produced,
        stopped,
        committed: 0,
        switching,
    };
    let writing = |produced| snap(produced, false, false);
    let stopped = |produced| snap(produced, true, false);
    // Writing sub-buffer 5 (slot 2): 2 is gone, 3 and later are not.
    assert!(!writing(5).intact(&g, 2) && writing(5).intact(&g, 3) && writing(5).intact(&g, 5));
    // Stopped after 5 finished: 2 is still there, 1 is not.
    assert!(stopped(5).intact(&g, 2) && !stopped(5).intact(&g, 1));
    // A switch in progress may be starting slot 2 (its callback writing a
    // header): a copy of 2 is not trusted.
    assert!(!snap(5, true, true).intact(&g, 2) && snap(5, true, true).intact(&g, 3));
}

#[test]
fn full_buffer_stops_and_resumes_after_consume() {
    let sim = Sim::new(8, 2, false);
    assert!(sim.write(&[1; 8]));
    assert!(sim.write(&[2; 8]));
    // Third record: both sub-buffers unread, so it is dropped.
    assert!(!sim.write(&[3; 8]));
    assert!(!sim.write(&[4; 1]));
    assert_eq!(sim.count(Event::Full), 2);
    assert_eq!(sim.count(Event::Dropped), 2);
    // A flush into the full buffer counts as full (like relay), not dropped.
    sim.flush();
    assert_eq!(sim.count(Event::Full), 3);
    assert_eq!(sim.count(Event::Dropped), 2);
    assert_eq!(sim.read(8), vec![1; 8]);
    assert!(sim.write(&[5; 3]));
    assert_eq!(sim.read(100), [vec![2; 8], vec![5; 3]].concat());
}

/// Every record is accepted until the ring is full of unread sub-buffers,
/// then each is dropped and counted until the reader frees one.
#[test]
fn no_overwrite_accepts_until_full() {
    let sim = Sim::new(4, 3, false);
    let accepted: Vec<bool> = (0..8u8).map(|i| sim.write(&[i; 2])).collect();
    // Six records fill three sub-buffers; the switch after them finds the
    // ring full.
    assert_eq!(accepted, [true, true, true, true, true, true, false, false]);
    assert_eq!(sim.count(Event::Dropped), 2);
    assert_eq!(sim.published_bytes.get(), 12);
    assert_eq!(sim.read(4), [vec![0; 2], vec![1; 2]].concat());
    // One sub-buffer free: two more records, then full again.
    assert!(sim.write(&[8; 2]) && sim.write(&[9; 2]) && !sim.write(&[10; 2]));
    assert_eq!(sim.count(Event::Dropped), 3);
    let rest: Vec<u8> = [2, 3, 4, 5, 8, 9].iter().flat_map(|&b| [b; 2]).collect();
    assert_eq!(sim.read(100), rest);
    assert_eq!(sim.lost.get(), 0);
}

#[test]
fn padding_is_never_read() {
    let sim = Sim::new(10, 4, false);
    assert!(sim.write(&[1; 6]));
    assert!(sim.write(&[2; 6])); // does not fit: 4 bytes of padding
    sim.flush();
    assert_eq!([sim.padding_of(0), sim.padding_of(1)], [4, 4]);
    assert_eq!(sim.read(100), [vec![1; 6], vec![2; 6]].concat());
    assert_eq!(sim.published_bytes.get(), 12);
}

#[test]
fn too_big_is_counted_and_not_written() {
    let sim = Sim::new(16, 2, false);
    assert!(!sim.write(&[9; 17]));
    assert_eq!(sim.count(Event::TooBig), 1);
    assert!(sim.read(100).is_empty());
    assert!(sim.write(&[8; 16]));
    assert_eq!(sim.read(100), vec![8; 16]);
}

#[test]
fn lagging_reader_resumes_at_oldest_intact() {
    let sim = Sim::new(4, 3, true);
    for i in 0..5u8 {
        assert!(sim.write(&[i; 4]));
    }
    // Sub-buffers 0 and 1 were overwritten by 3 and 4 (4 is current).
    assert_eq!(sim.read(100), [vec![2; 4], vec![3; 4], vec![4; 4]].concat());
    assert_eq!(sim.lost.get(), 2);
    assert_eq!(sim.count(Event::Overwritten), 2);
}

/// A reader that lags by more than the ring, in the middle of a sub-buffer,
/// loses exactly the sub-buffers whose slots were reused, then reads every
/// intact one in full.
#[test]
fn overwrite_reader_gets_exactly_the_intact_subbuffers() {
    let sim = Sim::new(4, 3, true);
    assert!(sim.write(&[0; 4]));
    assert_eq!(sim.read(1), vec![0]);
    for i in 1..8u8 {
        assert!(sim.write(&[i; 2]) && sim.write(&[i; 2]));
    }
    // Writing sub-buffer 7: 0 to 4 are gone, 5, 6 and 7 are intact.
    assert_eq!(sim.read(100), [vec![5; 4], vec![6; 4], vec![7; 4]].concat());
    assert_eq!(sim.lost.get(), 5);
    assert_eq!(sim.count(Event::Overwritten), 5);
    // Stopped by a paused client after 8 finished: 5 to 7 stay readable.
    let sim = Sim::new(4, 3, true);
    for i in 0..8u8 {
        assert!(sim.write(&[i; 4]));
    }
    sim.paused.set(true);
    sim.flush();
    assert_eq!(sim.read(100), [vec![5; 4], vec![6; 4], vec![7; 4]].concat());
    assert_eq!(sim.lost.get(), 5);
}

#[test]
fn partial_current_subbuffer_is_readable_then_continues() {
    let sim = Sim::new(8, 2, false);
    assert!(sim.write(&[1; 3]));
    assert_eq!(sim.read(100), vec![1; 3]);
    assert!(sim.write(&[2; 3]));
    assert!(sim.write(&[3; 3])); // switches: sub-buffer 0 has padding 2
    assert_eq!(sim.read(100), [vec![2; 3], vec![3; 3]].concat());
    assert_eq!(sim.consumed(), 1);
}

/// The client's header is data; a record that no longer fits after it is
/// too big; a header that leaves fewer than two bytes is ignored.
#[test]
fn start_reserve_holds_the_header() {
    let sim = Sim::with_client(8, 2, false, 3, false);
    assert_eq!(sim.write_state(), WriteState::open(0));
    assert_eq!(ring::reserved(&sim.g, &sim.buf), Some(3));
    assert_eq!(sim.read(100), header(0, 3));
    assert!(sim.write(&[1; 5]));
    assert!(sim.write(&[2; 1]));
    assert_eq!(
        sim.read(100),
        [vec![1; 5], header(1, 3), vec![2; 1]].concat()
    );
    // Six bytes leave two: a three-byte record after a switch is too big.
    sim.header_len.set(6);
    assert!(!sim.write(&[3; 5]));
    assert_eq!(sim.count(Event::TooBig), 1);
    assert!(sim.write(&[4; 2]));
    sim.flush();
    assert_eq!(sim.read(100), [header(2, 6), vec![4; 2]].concat());
    // Seven bytes of eight: ignored, the sub-buffer is all data.
    sim.header_len.set(7);
    assert!(sim.write(&[5; 8]));
    assert_eq!(sim.read(100), vec![5; 8]);
}

/// relay ignores the client's answer for the first sub-buffer: a client
/// that refuses it still gets sub-buffer 0. A later refusal stops the
/// writer: records are dropped until the client accepts one.
#[test]
fn paused_client_gets_the_first_subbuf_anyway() {
    let sim = Sim::with_client(8, 2, false, 0, true);
    assert_eq!(sim.write_state(), WriteState::open(0));
    assert_eq!(ring::reserved(&sim.g, &sim.buf), Some(0));
    assert!(sim.write(&[1; 8]));
    assert!(!sim.write(&[2; 1]));
    assert!(!sim.write(&[]));
    assert_eq!(sim.count(Event::Dropped), 1);
    assert_eq!(sim.write_state(), WriteState::stopped(1));
    assert_eq!(sim.read(100), vec![1; 8]);
    sim.paused.set(false);
    assert!(sim.write(&[3; 1]));
    assert_eq!(sim.read(100), vec![3]);
    let first = StartCall {
        slot: 0,
        prev: None,
        full: false,
    };
    let finish = StartCall {
        slot: 1,
        prev: Some(0),
        full: false,
    };
    // The retries finish no sub-buffer: no `prev`.
    let retry = StartCall {
        prev: None,
        ..finish
    };
    assert_eq!(
        *sim.starts.borrow(),
        [vec![first, finish], vec![retry; 2]].concat()
    );
}

#[test]
fn subbufs_consumed_releases_at_most_what_is_finished() {
    let sim = Sim::new(4, 3, false);
    for i in 0..3u8 {
        assert!(sim.write(&[i; 4]));
    }
    sim.flush(); // refused: full
    assert_eq!(sim.produced(), 3);
    sim.subbufs_consumed(4); // more than n_subbufs: ignored
    assert_eq!(sim.consumed(), 0);
    assert_eq!(sim.read(1), vec![0]);
    sim.subbufs_consumed(1);
    assert_eq!(
        sim.reader.get(),
        ReaderPos {
            consumed: 1,
            bytes_consumed: 0
        }
    );
    sim.subbufs_consumed(3); // more than ready: all produced
    assert_eq!(sim.consumed(), 3);
    assert!(sim.write(&[7; 1]));
    assert_eq!(sim.read(100), vec![7]);
}
