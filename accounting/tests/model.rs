// SPDX-License-Identifier: GPL-2.0

//! The accounting against a model: the reference buffer (`sim`) fed random
//! operations, with the properties the module promises.

use proptest::prelude::*;
use rrelay_accounting::sim::*;
use rrelay_accounting::*;

fn ops(max_len: usize) -> impl Strategy<Value = Vec<Op>> {
    prop::collection::vec(
        prop_oneof![
            6 => (0..=max_len).prop_map(Op::Write),
            2 => (1..=3 * max_len).prop_map(Op::Read),
            1 => Just(Op::Flush),
        ],
        0..200,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// No-overwrite: the reader gets exactly the accepted records, in order,
    /// and every refused write is counted as dropped or too big.
    #[test]
    fn no_overwrite_loses_nothing_silently(
        subbuf_size in 1usize..64, n_subbufs in 1usize..6, ops in ops(70)
    ) {
        let r = check_no_overwrite(subbuf_size, n_subbufs, &ops);
        prop_assert!(r.is_ok(), "{}", r.unwrap_err());
    }

    /// Overwrite: what is read comes from accepted records in their order,
    /// and the sub-buffers the reader lost are the ones the writer overwrote.
    #[test]
    fn overwrite_reports_every_lost_subbuffer(
        subbuf_size in 1usize..64, n_subbufs in 2usize..6, ops in ops(70)
    ) {
        let r = check_overwrite(subbuf_size, n_subbufs, &ops);
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
    assert_eq!(Geometry::new(100, 3).unwrap().alloc_size(4096), 4096);
    assert_eq!(Geometry::new(4096, 3).unwrap().alloc_size(4096), 3 * 4096);
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

#[test]
fn padding_is_never_read() {
    let sim = Sim::new(10, 4, false);
    assert!(sim.write(&[1; 6]));
    assert!(sim.write(&[2; 6])); // does not fit: 4 bytes of padding
    sim.flush();
    assert_eq!(*sim.padding.borrow(), vec![4, 4, 0, 0]);
    assert_eq!(sim.read(100), [vec![1; 6], vec![2; 6]].concat());
    assert_eq!(sim.published_bytes.get(), 12);
}

#[test]
fn too_big_is_counted_and_not_written() {
    let sim = Sim::new(16, 2, false);
    assert!(!sim.write(&[9; 17]));
    assert_eq!(sim.count(Event::TooBig), 1);
    assert!(sim.read(100).is_empty());
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

#[test]
fn partial_current_subbuffer_is_readable_then_continues() {
    let sim = Sim::new(8, 2, false);
    assert!(sim.write(&[1; 3]));
    assert_eq!(sim.read(100), vec![1; 3]);
    assert!(sim.write(&[2; 3]));
    assert!(sim.write(&[3; 3])); // switches: sub-buffer 0 has padding 2
    assert_eq!(sim.read(100), [vec![2; 3], vec![3; 3]].concat());
    assert_eq!(sim.consumed.get(), 1);
}
