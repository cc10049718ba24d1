// SPDX-License-Identifier: MPL-2.0
//! The ErrorId table.

use std::collections::HashSet;

use kvs_core::putmedia::error_id::ERROR_IDS;
use kvs_core::putmedia::{AckErrorId, FragmentFate, ProducerAction};

fn documented_ids() -> Vec<u32> {
    (4000..=4012)
        .chain(4500..=4507)
        .chain([5000, 5001])
        .collect()
}

#[test]
fn every_documented_id_maps_and_nothing_else() {
    let ids = documented_ids();
    for &id in &ids {
        let info = AckErrorId(id)
            .info()
            .unwrap_or_else(|| panic!("{id} has no row"));
        assert_eq!(info.id, id);
        assert!(!info.meaning.is_empty() && !info.advice.is_empty(), "{id}");
    }
    let table: Vec<u32> = ERROR_IDS.iter().map(|r| r.id).collect();
    assert_eq!(
        table, ids,
        "table must hold exactly the documented ids, sorted"
    );
}

#[test]
fn names_and_service_codes_are_unique() {
    let names: HashSet<_> = ERROR_IDS.iter().map(|r| r.name).collect();
    assert_eq!(names.len(), ERROR_IDS.len());
    let codes: HashSet<_> = ERROR_IDS.iter().map(|r| r.service_code).collect();
    assert_eq!(codes.len(), ERROR_IDS.len());
    for row in ERROR_IDS {
        assert_eq!(
            AckErrorId::from_service_code(row.service_code),
            Some(AckErrorId(row.id))
        );
        assert!(
            row.name
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b == b'_'),
            "{}",
            row.name
        );
    }
}

#[test]
fn classification_follows_the_producer() {
    let e = |id| AckErrorId(id);
    assert_eq!(e(4004).name(), "FRAGMENT_TIMECODE_NOT_MONOTONIC");
    assert_eq!(e(4004).fragment_fate(), FragmentFate::Drop);
    assert_eq!(e(4004).action(), ProducerAction::Reconnect);
    assert_eq!(e(4000).fragment_fate(), FragmentFate::Retry);
    assert_eq!(e(4003).fragment_fate(), FragmentFate::Retry);
    assert_eq!(e(5000).action(), ProducerAction::DescribeAndReconnect);
    assert_eq!(e(5001).fragment_fate(), FragmentFate::Retry);
    let fatal: Vec<u32> = documented_ids()
        .into_iter()
        .filter(|&id| e(id).is_fatal())
        .collect();
    let mut expected = vec![4005, 4007, 4008, 4010, 4012];
    expected.extend(4500..=4507);
    assert_eq!(fatal, expected);
    for id in fatal {
        assert_eq!(e(id).fragment_fate(), FragmentFate::Drop, "{id}");
    }
}

#[test]
fn unknown_ids_retry_and_reconnect() {
    for id in [0, 3999, 4013, 4499, 4508, 4999, 5002, 7000, u32::MAX] {
        let e = AckErrorId(id);
        assert!(e.info().is_none(), "{id}");
        assert_eq!(e.name(), "UNKNOWN_ACK_ERROR");
        assert_eq!(e.fragment_fate(), FragmentFate::Retry);
        assert_eq!(e.action(), ProducerAction::Reconnect);
        assert!(!e.is_fatal());
    }
    assert_eq!(AckErrorId::from_service_code("NOPE"), None);
    assert_eq!(
        AckErrorId(4002).to_string(),
        "4002 (FRAGMENT_DURATION_REACHED)"
    );
}
