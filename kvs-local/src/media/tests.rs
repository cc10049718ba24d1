// SPDX-License-Identifier: MPL-2.0
//! Storage engine tests: group commit, restart numbering, recovery, retention, delete.

use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;

use super::*;

fn pending(
    store: &MediaStore,
    stream: &Arc<StreamMedia>,
    id: FragmentId,
    ts: i64,
    payload: &[u8],
) -> PendingFragment {
    PendingFragment {
        stream: stream.clone(),
        id,
        header: store.intern_header(Bytes::from_static(b"HEADER"), 1_000_000),
        cluster: vec![Bytes::copy_from_slice(payload)],
        producer_ts_ms: ts,
        server_ts_ms: ts,
        duration_ms: 1000,
        cluster_timecode: ts,
        frame_count: 30,
        tags: vec![kvs_core::mkv::Tag::single("k", format!("v{ts}"))],
    }
}

async fn put(store: &MediaStore, stream: &Arc<StreamMedia>, ts: i64, payload: &[u8]) -> FragmentId {
    let id = store.next_fragment_id(stream).await.expect("id");
    store
        .persist(pending(store, stream, id, ts, payload))
        .await
        .expect("persist");
    id
}

fn all(store: &MediaStore, stream: &StreamMedia) -> Vec<FragmentMeta> {
    store.fragments_after(stream, None, 10_000).expect("query")
}

fn open(dir: &Path) -> Arc<MediaStore> {
    MediaStore::open(dir, MediaOptions::default()).expect("open")
}

#[tokio::test]
async fn concurrent_streams_commit_and_read_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let now = now_ms();
    let mut tasks = Vec::new();
    for s in 0..20 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let stream = store
                .ensure_stream(&format!("arn:s{s}"), 24)
                .await
                .expect("stream");
            let mut ids = Vec::new();
            for i in 0..10 {
                let payload = vec![u8::try_from(s).unwrap_or(0); 1000 + i];
                ids.push(
                    put(
                        &store,
                        &stream,
                        now + i64::try_from(i).unwrap_or(0),
                        &payload,
                    )
                    .await,
                );
            }
            (stream, ids)
        }));
    }
    for t in tasks {
        let (stream, ids) = t.await.expect("task");
        let rows = all(&store, &stream);
        assert_eq!(rows.iter().map(|r| r.id).collect::<Vec<_>>(), ids);
        for (i, row) in rows.iter().enumerate() {
            let f = store.read_fragment(row).expect("read");
            assert_eq!(f.cluster.len(), 1000 + i);
            assert!(f.cluster.iter().all(|b| i64::from(*b) == stream.id - 1));
            assert_eq!(&f.header.bytes[..], b"HEADER");
            assert_eq!(
                row.tags,
                vec![kvs_core::mkv::Tag::single(
                    "k",
                    format!("v{}", row.server_ts_ms)
                )]
            );
        }
    }
}

#[tokio::test]
async fn numbers_increase_across_restarts_even_unpersisted_ones() {
    let dir = tempfile::tempdir().expect("tempdir");
    let now = now_ms();
    let (first, handed_out) = {
        let store = open(dir.path());
        let s = store.ensure_stream("arn:a", 24).await.expect("stream");
        let first = put(&store, &s, now, b"one").await;
        // Numbered (e.g. BUFFERING sent) but never persisted.
        let handed_out = store.next_fragment_id(&s).await.expect("id");
        store.close();
        (first, handed_out)
    };
    let store = open(dir.path());
    let s = store.stream("arn:a").expect("stream survives restart");
    let after = put(&store, &s, now + 1, b"two").await;
    assert!(after > handed_out && handed_out > first);
    assert!(after.to_number() > handed_out.to_number());
    assert_eq!(all(&store, &s).len(), 2);
}

#[tokio::test]
async fn recovery_drops_short_rows_and_truncates_uncommitted_tails() {
    let dir = tempfile::tempdir().expect("tempdir");
    let now = now_ms();
    let chunk_path;
    {
        let store = open(dir.path());
        let s = store.ensure_stream("arn:r", 24).await.expect("stream");
        for i in 0..3 {
            put(&store, &s, now + i, &[7u8; 100]).await;
        }
        let rows = all(&store, &s);
        chunk_path = chunk_file::chunk_path(&chunk_file::media_root(dir.path()), rows[0].chunk_id);
        store.close();
    }
    // Cut the last fragment in half, as a crash before its fsync could.
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&chunk_path)
        .expect("open chunk");
    f.set_len(250).expect("truncate");
    drop(f);
    // An uncommitted file a crash could leave behind.
    let orphan = chunk_path.with_file_name("0000ffff.chunk");
    std::fs::write(&orphan, b"junk").expect("orphan");

    let store = open(dir.path());
    let s = store.stream("arn:r").expect("stream");
    let rows = all(&store, &s);
    assert_eq!(
        rows.len(),
        2,
        "the short fragment is dropped, the whole ones kept"
    );
    for r in &rows {
        assert_eq!(store.read_fragment(r).expect("read").cluster.len(), 100);
    }
    assert_eq!(
        std::fs::metadata(&chunk_path).expect("chunk").len(),
        200,
        "tail truncated"
    );
    assert!(!orphan.exists(), "orphan chunk removed");
    // New fragments go to a new chunk and are readable.
    put(&store, &s, now + 10, &[9u8; 10]).await;
    let rows = all(&store, &s);
    assert_eq!(rows.len(), 3);
    assert_ne!(rows[2].chunk_id, rows[0].chunk_id);
}

#[tokio::test]
async fn recovery_truncates_bytes_written_after_the_last_commit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let now = now_ms();
    let chunk_path;
    {
        let store = open(dir.path());
        let s = store.ensure_stream("arn:t", 24).await.expect("stream");
        put(&store, &s, now, &[1u8; 64]).await;
        let rows = all(&store, &s);
        chunk_path = chunk_file::chunk_path(&chunk_file::media_root(dir.path()), rows[0].chunk_id);
        store.close();
    }
    let mut data = std::fs::read(&chunk_path).expect("read");
    data.extend_from_slice(&[2u8; 1000]);
    std::fs::write(&chunk_path, &data).expect("write");
    let store = open(dir.path());
    assert_eq!(std::fs::metadata(&chunk_path).expect("chunk").len(), 64);
    let s = store.stream("arn:t").expect("stream");
    assert_eq!(all(&store, &s).len(), 1);
}

#[tokio::test]
async fn retention_hides_then_deletes_expired_chunks() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let s = store.ensure_stream("arn:ret", 1).await.expect("stream");
    let now = now_ms();
    let old = now - 2 * 3_600_000;
    put(&store, &s, old, b"old").await;
    store.sync().await.expect("sync");
    let old_chunk = chunk_file::chunk_path(&chunk_file::media_root(dir.path()), {
        // The old fragment is past 1 h retention: queries hide it already.
        assert!(all(&store, &s).is_empty());
        chunk_file::chunk_id(s.id, 0)
    });
    assert!(old_chunk.exists());
    store.sweep_retention().await.expect("sweep");
    assert!(!old_chunk.exists(), "expired chunk deleted");

    put(&store, &s, now, b"new").await;
    assert_eq!(all(&store, &s).len(), 1);
    store.set_retention("arn:ret", 0);
    assert!(all(&store, &s).is_empty(), "retention 0 keeps nothing");
    store.sync().await.expect("sync");
    let count = std::fs::read_dir(chunk_file::stream_dir(
        &chunk_file::media_root(dir.path()),
        s.id,
    ))
    .expect("dir")
    .count();
    assert_eq!(count, 0, "retention 0 deleted every chunk");
}

#[tokio::test]
async fn delete_stream_removes_rows_and_files_and_never_reuses_numbers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let now = now_ms();
    let s = store.ensure_stream("arn:d", 24).await.expect("stream");
    let old = put(&store, &s, now, b"x").await;
    let sdir = chunk_file::stream_dir(&chunk_file::media_root(dir.path()), s.id);
    assert!(sdir.exists());
    store.delete_stream("arn:d");
    store.sync().await.expect("sync");
    assert!(!sdir.exists());
    assert!(store.stream("arn:d").is_none());
    assert!(all(&store, &s).is_empty());
    let s2 = store.ensure_stream("arn:d", 24).await.expect("recreated");
    let new = put(&store, &s2, now, b"y").await;
    assert!(new > old);
    drop(store);
    let store = open(dir.path());
    let s2 = store.stream("arn:d").expect("stream");
    assert_eq!(all(&store, &s2).len(), 1);
}

#[tokio::test]
async fn one_group_commit_covers_fragments_of_many_streams() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let now = now_ms();
    let mut streams = Vec::new();
    for i in 0..50 {
        streams.push(
            store
                .ensure_stream(&format!("arn:g{i}"), 24)
                .await
                .expect("stream"),
        );
    }
    // Ids first: reserving one is a round trip to the committer, which would let it flush
    // each fragment alone. Then all 50 are queued before the first can finish its fsync.
    let mut fragments = Vec::new();
    for s in &streams {
        let id = store.next_fragment_id(s).await.expect("id");
        fragments.push(pending(&store, s, id, now, &[1u8; 4096]));
    }
    let (rounds_before, _) = store.commit_counts();
    let waits: Vec<_> = fragments.into_iter().map(|f| store.persist(f)).collect();
    for w in waits {
        w.await.expect("persisted");
    }
    let (rounds_after, fragments) = store.commit_counts();
    let rounds = rounds_after - rounds_before;
    assert_eq!(fragments, 50);
    assert!(rounds < 25, "50 fragments took {rounds} group commits");
    for s in &streams {
        assert_eq!(all(&store, s).len(), 1);
    }
}

#[tokio::test]
async fn producer_timestamp_lookup_is_indexed_and_honours_retention_and_restarts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let now = now_ms();
    let old = now - 2 * 3_600_000;
    {
        let store = open(dir.path());
        let s = store.ensure_stream("arn:p", 1).await.expect("stream");
        assert!(!s.may_hold_producer_ts(old), "a new stream holds nothing");
        put(&store, &s, old, b"old").await;
        let a = put(&store, &s, now, b"a").await;
        let b = put(&store, &s, now, b"b").await;
        put(&store, &s, now + 1000, b"c").await;
        let found = store.fragments_at_producer_ts(&s, now, 10).expect("lookup");
        assert_eq!(
            found.iter().map(|m| m.id).collect::<Vec<_>>(),
            vec![b, a],
            "newest first, only that timestamp"
        );
        let limited = store.fragments_at_producer_ts(&s, now, 1).expect("lookup");
        assert_eq!(limited.len(), 1);
        assert!(
            store
                .fragments_at_producer_ts(&s, old, 10)
                .expect("lookup")
                .is_empty(),
            "a fragment past retention is no candidate"
        );
        store.close();
    }
    let store = open(dir.path());
    let s = store.stream("arn:p").expect("stream survives");
    assert!(s.may_hold_producer_ts(now + 1000));
    assert!(
        !s.may_hold_producer_ts(now + 1001),
        "newest timestamp read back at open"
    );

    let conn = schema::open_reader(&dir.path().join("media-index.db")).expect("reader");
    let plan: Vec<String> = {
        let sql = format!("EXPLAIN QUERY PLAN {}", query::at_producer_ts_sql());
        let mut stmt = conn.prepare(&sql).expect("plan");
        stmt.query_map(rusqlite::params![s.id, now, 0, 10], |r| {
            r.get::<_, String>(3)
        })
        .expect("plan rows")
        .collect::<Result<_, _>>()
        .expect("plan text")
    };
    assert!(
        plan.iter()
            .any(|p| p.contains("INDEX fragment_by_producer_ts (stream_id=? AND producer_ts_ms=?)")),
        "the lookup seeks the producer-timestamp index: {plan:?}"
    );
    assert!(
        !plan.iter().any(|p| p.contains("TEMP B-TREE")),
        "no sort step: {plan:?}"
    );
}

#[tokio::test]
async fn a_timestamp_selects_the_latest_fragment_starting_at_or_before_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let s = store.ensure_stream("arn:sel", 24).await.expect("stream");
    let now = now_ms();
    // 1000 ms fragments that overlap by 100 ms (audio past the next key frame), then a gap.
    let starts = [now, now + 900, now + 1800, now + 5000];
    let mut ids = Vec::new();
    for ts in starts {
        ids.push(put(&store, &s, ts, b"frame").await);
    }
    for kind in [TimestampKind::Producer, TimestampKind::Server] {
        let at = |ts: i64| {
            store
                .fragment_at(&s, kind, ts)
                .expect("query")
                .map(|f| f.id)
        };
        assert_eq!(
            at(now + 900),
            Some(ids[1]),
            "{kind:?}: exact start names that fragment"
        );
        assert_eq!(at(now + 950), Some(ids[1]), "{kind:?}: inside the overlap");
        assert_eq!(at(now + 899), Some(ids[0]), "{kind:?}: just before a start");
        assert_eq!(
            at(now + 3000),
            Some(ids[3]),
            "{kind:?}: in a gap, the next fragment"
        );
        assert_eq!(
            at(now - 500),
            Some(ids[0]),
            "{kind:?}: before the stream, the first"
        );
        assert_eq!(
            at(now + 6000),
            None,
            "{kind:?}: past the last fragment's end"
        );
    }
}
