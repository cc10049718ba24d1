// SPDX-License-Identifier: MPL-2.0
//! How output timecodes are derived from the fragments' service timestamps.

/// Which fragment timestamp the output's timecodes follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum TimestampSource {
    /// `AWS_KINESISVIDEO_PRODUCER_TIMESTAMP`: the producer's clock; frame spacing is exact.
    #[default]
    Producer,
    /// `AWS_KINESISVIDEO_SERVER_TIMESTAMP`: when the service received the fragment.
    Server,
}

/// Output timecode of a cluster: the fragment's timestamp plus the cluster's offset from the
/// fragment's first cluster, in `timecode_scale` units. Without a fragment timestamp the
/// producer's timecode is kept. RELATIVE producers write clusters from 0 while the service's
/// tags hold epoch times, so this makes live and archived output share one time base.
pub fn map_cluster_timecode(
    fragment_timestamp_ms: Option<u64>,
    first_cluster_timecode: u64,
    cluster_timecode: u64,
    timecode_scale: u64,
) -> u64 {
    let Some(ms) = fragment_timestamp_ms else {
        return cluster_timecode;
    };
    if timecode_scale == 0 {
        return cluster_timecode;
    }
    let base = u128::from(ms) * 1_000_000 / u128::from(timecode_scale);
    let offset = i128::from(cluster_timecode) - i128::from(first_cluster_timecode);
    let mapped = i128::try_from(base)
        .unwrap_or(i128::MAX)
        .saturating_add(offset);
    u64::try_from(mapped.max(0)).unwrap_or(u64::MAX)
}

/// Nanosecond time of a frame in a cluster, clamped at 0 and `u64::MAX`.
pub fn frame_time_ns(cluster_timecode: u64, relative_timecode: i16, timecode_scale: u64) -> u64 {
    let units = i128::from(cluster_timecode) + i128::from(relative_timecode);
    let ns = units.max(0).saturating_mul(i128::from(timecode_scale));
    u64::try_from(ns).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_producer_mapped_onto_epoch() {
        // Second fragment of a RELATIVE producer: its cluster at 2 s, tagged 1511852110.513 s.
        assert_eq!(
            map_cluster_timecode(Some(1_511_852_110_513), 2000, 2000, 1_000_000),
            1_511_852_110_513
        );
        // A second cluster 500 ms into the same fragment keeps its offset.
        assert_eq!(
            map_cluster_timecode(Some(1_511_852_110_513), 2000, 2500, 1_000_000),
            1_511_852_111_013
        );
    }

    #[test]
    fn other_scales_and_missing_tags() {
        assert_eq!(map_cluster_timecode(Some(1000), 0, 0, 100_000), 10_000);
        assert_eq!(map_cluster_timecode(None, 0, 1234, 1_000_000), 1234);
        assert_eq!(frame_time_ns(10, -20, 1_000_000), 0);
        assert_eq!(frame_time_ns(10, 5, 1_000_000), 15_000_000);
    }
}
