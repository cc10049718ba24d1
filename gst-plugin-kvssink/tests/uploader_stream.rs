// SPDX-License-Identifier: MPL-2.0
//! The uploader against an in-test KVS endpoint: control plane, streaming, ACKs, reconnects,
//! error ACKs, buffer overflow, EOS.

mod uploader_support;

use std::time::Duration;

use gstrskvssink::chunk::Chunk;
use gstrskvssink::uploader::{Uploader, UploaderError, UploaderEvent};
use uploader_support::{ConnPlan, Events, Stub, WAIT, acks_of, chunk_bytes, fragment, header};

const TC0: u64 = 1_700_000_000_000;

fn tc(i: u64) -> u64 {
    TC0 + i * 2000
}

/// Sends fragment `i` and waits until the service has started on it (BUFFERING), so
/// that every earlier ACK has reached the uploader before the next fragment goes out.
fn send_paced(up: &Uploader, events: &Events, i: u64) -> Vec<Chunk> {
    let chunks = fragment(tc(i), 4, 700);
    for c in chunks.clone() {
        up.send(c);
    }
    assert!(
        events.wait_for(WAIT, |e| acks_of(e, "BUFFERING").contains(&tc(i))),
        "no BUFFERING for fragment {i}: {:?}",
        events.snapshot()
    );
    chunks
}

#[test]
fn happy_path_creates_stream_and_gets_every_fragment_persisted() {
    let stub = Stub::start(false, vec![]);
    let mut cfg = stub.config("happy");
    cfg.media_type = "video/h264".into();
    cfg.retention_hours = 24;
    cfg.kms_key_id = Some("alias/test".into());
    cfg.stream_tags = vec![("owner".into(), "tests".into())];
    let events = Events::default();
    let up = Uploader::start(cfg, events.sink()).expect("start");

    let mut sent = vec![Chunk::Header(header(1))];
    for i in 0..5 {
        sent.extend(fragment(tc(i), 6, 1000));
    }
    for c in sent.clone() {
        up.send(c);
    }
    up.finish(WAIT).expect("finish");

    let st = stub.state();
    assert_eq!(
        st.calls,
        [
            "/describeStream",
            "/createStream",
            "/describeStream",
            "/describeStream",
            "/getDataEndpoint"
        ],
        "control-plane sequence"
    );
    let create = st.create_body.as_ref().expect("CreateStream body");
    assert_eq!(create["StreamName"], "happy");
    assert_eq!(create["MediaType"], "video/h264");
    assert_eq!(create["DataRetentionInHours"], 24);
    assert_eq!(create["KmsKeyId"], "alias/test");
    assert_eq!(create["DeviceName"], "Kinesis_Video_Device");
    assert_eq!(create["Tags"]["owner"], "tests");

    assert_eq!(st.conns.len(), 1, "one PutMedia connection");
    let conn = &st.conns[0];
    assert_eq!(conn.body, chunk_bytes(&sent), "body is byte-exact");
    assert_eq!(conn.persisted, (0..5).map(tc).collect::<Vec<_>>());
    assert_eq!(conn.akid, "AKIDTEST");
    assert_eq!(conn.headers["x-amzn-stream-name"], "happy");
    assert_eq!(conn.headers["x-amzn-fragment-timecode-type"], "ABSOLUTE");
    assert_eq!(conn.headers["x-amzn-fragment-acknowledgment-required"], "1");
    assert_eq!(conn.headers["transfer-encoding"], "chunked");
    assert!(
        conn.headers["authorization"].starts_with("AWS4-HMAC-SHA256 Credential=AKIDTEST/"),
        "signed"
    );
    drop(st);
    assert_eq!(events.acks("PERSISTED"), (0..5).map(tc).collect::<Vec<_>>());
    let stats = up.stats();
    assert_eq!(stats.acks_persisted, 5);
    assert_eq!(stats.buffered_fragments, 0);
    assert_eq!(stats.bytes_sent, chunk_bytes(&sent).len() as u64);
    assert!(stats.last_persist_latency_ms.is_some());
    assert_eq!(stats.connections, 1);
    assert_eq!(stats.state, "finished");
}

#[test]
fn dropped_connection_resends_without_loss_or_duplicates() {
    // The first connection is cut when the third cluster starts: fragment 0 is stored,
    // fragment 1 was sent whole but never acknowledged, fragment 2 was in flight.
    let stub = Stub::start(true, vec![ConnPlan::DropAtCluster(3), ConnPlan::Normal]);
    let events = Events::default();
    let up = Uploader::start(stub.config("reconnect"), events.sink()).expect("start");
    up.send(Chunk::Header(header(1)));
    send_paced(&up, &events, 0);
    send_paced(&up, &events, 1);
    for i in 2..8 {
        send_paced(&up, &events, i);
    }
    up.finish(WAIT).expect("finish");

    let st = stub.state();
    assert_eq!(st.conns.len(), 2, "one reconnect");
    assert_eq!(
        st.stored(),
        (0..8).map(tc).collect::<Vec<_>>(),
        "each fragment once"
    );
    let second = &st.conns[1];
    assert!(
        second.body.starts_with(&header(1)),
        "resend starts with the header"
    );
    let resent_from = uploader_support::cluster_start(tc(1));
    assert_eq!(
        &second.body[header(1).len()..header(1).len() + resent_from.len()],
        &resent_from[..],
        "resend starts at the first unacknowledged fragment"
    );
    drop(st);
    assert!(
        events
            .snapshot()
            .iter()
            .any(|e| matches!(e, UploaderEvent::Reconnecting { .. })),
        "a Reconnecting event"
    );
}

#[test]
fn retryable_error_ack_resends_the_fragment() {
    // 5001 (archival error): keep the fragment, reconnect, send it again.
    let stub = Stub::start(
        true,
        vec![ConnPlan::ErrorAtCluster {
            n: 2,
            error_id: 5001,
        }],
    );
    let events = Events::default();
    let up = Uploader::start(stub.config("retry"), events.sink()).expect("start");
    up.send(Chunk::Header(header(1)));
    for i in 0..4 {
        for c in fragment(tc(i), 3, 500) {
            up.send(c);
        }
    }
    up.finish(WAIT).expect("finish");
    let st = stub.state();
    assert!(st.conns.len() >= 2);
    assert_eq!(st.stored(), (0..4).map(tc).collect::<Vec<_>>());
    drop(st);
    assert_eq!(events.acks("ERROR"), vec![tc(1)]);
    assert!(!events.snapshot().iter().any(|e| matches!(
        e,
        UploaderEvent::Error(_) | UploaderEvent::FragmentsDropped { .. }
    )));
}

#[test]
fn drop_fate_error_ack_skips_only_that_fragment() {
    // 4004 (timecode not monotonic): the service will never take it; the rest goes on.
    let stub = Stub::start(
        true,
        vec![ConnPlan::ErrorAtCluster {
            n: 2,
            error_id: 4004,
        }],
    );
    let events = Events::default();
    let up = Uploader::start(stub.config("dropfate"), events.sink()).expect("start");
    up.send(Chunk::Header(header(1)));
    send_paced(&up, &events, 0);
    for c in fragment(tc(1), 3, 500) {
        up.send(c);
    }
    assert!(
        events.wait_for(WAIT, |e| !acks_of(e, "ERROR").is_empty()),
        "no ERROR ACK: {:?}",
        events.snapshot()
    );
    for i in 2..4 {
        for c in fragment(tc(i), 3, 500) {
            up.send(c);
        }
    }
    up.finish(WAIT).expect("finish");
    assert_eq!(stub.state().stored(), vec![tc(0), tc(2), tc(3)]);
    let dropped: usize = events
        .snapshot()
        .iter()
        .filter_map(|e| match e {
            UploaderEvent::FragmentsDropped { count, .. } => Some(*count),
            _ => None,
        })
        .sum();
    assert_eq!(dropped, 1);
}

#[test]
fn fatal_error_ack_stops_with_a_clear_error() {
    let stub = Stub::start(
        true,
        vec![ConnPlan::ErrorAtCluster {
            n: 2,
            error_id: 4008,
        }],
    );
    let events = Events::default();
    let up = Uploader::start(stub.config("fatal"), events.sink()).expect("start");
    up.send(Chunk::Header(header(1)));
    for i in 0..3 {
        for c in fragment(tc(i), 3, 500) {
            up.send(c);
        }
    }
    let err = up.finish(WAIT).expect_err("4008 is fatal");
    let text = err.to_string();
    assert!(matches!(err, UploaderError::Ack { .. }), "{err:?}");
    assert!(
        text.contains("4008") && text.contains("STREAM_NOT_ACTIVE"),
        "{text}"
    );
    assert!(text.contains("ACTIVE"), "says what to do: {text}");
    assert!(
        events
            .snapshot()
            .iter()
            .any(|e| matches!(e, UploaderEvent::Error(UploaderError::Ack { .. })))
    );
    assert_eq!(
        stub.state().conns.len(),
        1,
        "no reconnect after a fatal error"
    );
}

#[test]
fn full_buffer_drops_oldest_fragments_and_reports_the_count() {
    // Hold the control plane so nothing can be sent: everything stays in the buffer.
    let stub = Stub::start(true, vec![]);
    stub.control_gate.send_replace(false);
    let mut cfg = stub.config("full");
    // Room for the header and three fragments, not four.
    let frag_len = chunk_bytes(&fragment(tc(0), 4, 244)).len();
    cfg.storage_size = (header(1).len() + 3 * frag_len) as u64;
    let events = Events::default();
    let up = Uploader::start(cfg, events.sink()).expect("start");
    up.send(Chunk::Header(header(1)));
    for i in 0..10 {
        for c in fragment(tc(i), 4, 244) {
            up.send(c);
        }
    }
    let dropped: usize = events
        .snapshot()
        .iter()
        .filter_map(|e| match e {
            UploaderEvent::FragmentsDropped { count, .. } => Some(*count),
            _ => None,
        })
        .sum();
    assert_eq!(dropped, 7);
    assert_eq!(up.stats().fragments_dropped, 7);
    assert_eq!(up.stats().buffered_fragments, 3);
    stub.control_gate.send_replace(true);
    up.finish(WAIT).expect("finish");
    assert_eq!(stub.state().stored(), vec![tc(7), tc(8), tc(9)]);
}

#[test]
fn finish_waits_for_the_last_persisted_ack() {
    let stub = Stub::start(true, vec![]);
    stub.persist_gate.send_replace(false);
    let events = Events::default();
    let up = Uploader::start(stub.config("eos"), events.sink()).expect("start");
    up.send(Chunk::Header(header(1)));
    for i in 0..3 {
        for c in fragment(tc(i), 3, 500) {
            up.send(c);
        }
    }
    // The service has everything (RECEIVED) but persists nothing yet.
    let err = up
        .finish(Duration::from_millis(700))
        .expect_err("must wait");
    assert!(
        matches!(err, UploaderError::FinishTimeout { pending: 3, .. }),
        "{err:?}"
    );
    assert!(events.wait_for(WAIT, |e| acks_of(e, "RECEIVED").len() == 3));
    assert!(events.acks("PERSISTED").is_empty());
    stub.persist_gate.send_replace(true);
    up.finish(WAIT).expect("finish after PERSISTED");
    assert_eq!(events.acks("PERSISTED"), (0..3).map(tc).collect::<Vec<_>>());
}

#[test]
fn new_header_starts_a_new_connection() {
    let stub = Stub::start(true, vec![]);
    let events = Events::default();
    let up = Uploader::start(stub.config("caps"), events.sink()).expect("start");
    let mut first = vec![Chunk::Header(header(1))];
    first.extend(fragment(tc(0), 3, 400));
    first.extend(fragment(tc(1), 3, 400));
    let mut second = vec![Chunk::Header(header(2))];
    second.extend(fragment(tc(2), 3, 400));
    for c in first.iter().chain(second.iter()).cloned() {
        up.send(c);
    }
    up.finish(WAIT).expect("finish");
    let st = stub.state();
    assert_eq!(st.conns.len(), 2);
    assert_eq!(st.conns[0].body, chunk_bytes(&first));
    assert_eq!(st.conns[1].body, chunk_bytes(&second));
    assert!(
        st.conns[0].ended_cleanly,
        "first body was finished, not cut"
    );
    assert_eq!(st.stored(), vec![tc(0), tc(1), tc(2)]);
}

#[test]
fn acks_off_streams_and_finishes_without_acks() {
    let stub = Stub::start(true, vec![ConnPlan::Silent]);
    let mut cfg = stub.config("noacks");
    cfg.fragment_acks = false;
    let events = Events::default();
    let up = Uploader::start(cfg, events.sink()).expect("start");
    let mut sent = vec![Chunk::Header(header(1))];
    for i in 0..3 {
        sent.extend(fragment(tc(i), 3, 400));
    }
    for c in sent.clone() {
        up.send(c);
    }
    up.finish(WAIT).expect("finish");
    let st = stub.state();
    assert_eq!(st.conns.len(), 1);
    assert_eq!(
        st.conns[0].headers["x-amzn-fragment-acknowledgment-required"],
        "0"
    );
    assert_eq!(st.conns[0].body, chunk_bytes(&sent));
}

#[test]
fn missing_stream_without_create_permission_is_a_clear_error() {
    let stub = Stub::start(false, vec![]);
    let mut cfg = stub.config("absent");
    cfg.allow_create_stream = false;
    let events = Events::default();
    let up = Uploader::start(cfg, events.sink()).expect("start");
    up.send(Chunk::Header(header(1)));
    let err = up.finish(WAIT).expect_err("no stream");
    assert!(
        matches!(err, UploaderError::StreamMissing { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("allow-create-stream"), "{err}");
    assert_eq!(stub.state().calls, ["/describeStream"]);
}

#[test]
fn unreachable_endpoint_names_the_url() {
    // A port that was just free: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let stub = Stub::start(true, vec![]);
    let mut cfg = stub.config("nowhere");
    let url = format!("http://127.0.0.1:{port}");
    cfg.endpoint_uri = Some(url.clone());
    cfg.control_plane_attempts = 2;
    let events = Events::default();
    let up = Uploader::start(cfg, events.sink()).expect("start");
    let err = up.finish(WAIT).expect_err("unreachable");
    assert!(
        matches!(err, UploaderError::EndpointUnreachable { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains(&url), "{err}");
}

#[test]
fn stub_reads_real_cluster_headers() {
    // The stub must understand what kvs-core's writer emits (1-byte unknown size), not only
    // the synthetic clusters above, since element tests stream real fragmenter output to it.
    let mut real = bytes::BytesMut::new();
    kvs_core::mkv::writer::write_cluster_start(TC0 + 33, &mut real);
    let (timecode, len) = uploader_support::cluster_timecode(&real)
        .expect("complete")
        .expect("a cluster");
    assert_eq!(timecode, TC0 + 33);
    assert!(len <= real.len());
    assert_eq!(
        uploader_support::cluster_timecode(&real[..6]),
        None,
        "needs more bytes"
    );
    let synthetic = uploader_support::cluster_start(7);
    assert_eq!(
        uploader_support::cluster_timecode(&synthetic),
        Some(Some((7, synthetic.len())))
    );
    assert_eq!(
        uploader_support::cluster_timecode(&[0x1F, 0x43, 0xB6, 0x75, 0x81, 0x00]),
        Some(None),
        "no Timecode: not a cluster start"
    );
}

#[test]
fn long_connections_rotate_at_a_fragment_boundary() {
    let stub = Stub::start(true, vec![]);
    let mut cfg = stub.config("rotate");
    cfg.max_connection_duration = Duration::from_millis(300);
    let events = Events::default();
    let up = Uploader::start(cfg, events.sink()).expect("start");
    up.send(Chunk::Header(header(1)));
    let deadline = std::time::Instant::now() + WAIT;
    let mut sent = 0;
    // Keep streaming until the uploader has rotated once (it must, the connection is
    // older than the limit after a few fragments); pacing keeps the test light.
    while stub.state().conns.len() < 2 {
        assert!(std::time::Instant::now() < deadline, "no rotation");
        send_paced(&up, &events, sent);
        sent += 1;
        events.wait_for(Duration::from_millis(100), |_| false);
    }
    send_paced(&up, &events, sent);
    sent += 1;
    up.finish(WAIT).expect("finish");
    let st = stub.state();
    assert_eq!(
        st.stored(),
        (0..sent).map(tc).collect::<Vec<_>>(),
        "nothing lost or doubled"
    );
    for c in &st.conns {
        assert!(
            c.body.starts_with(&header(1)),
            "each connection starts with the header"
        );
        assert!(
            c.ended_cleanly,
            "rotation finishes the body, it does not cut it"
        );
    }
    drop(st);
    assert!(
        !events
            .snapshot()
            .iter()
            .any(|e| matches!(e, UploaderEvent::Reconnecting { .. })),
        "rotation is not a failure"
    );
}

#[test]
fn existing_stream_gets_tagged_once() {
    let stub = Stub::start(true, vec![]);
    let mut cfg = stub.config("tagged");
    cfg.stream_tags = vec![("site".into(), "lab".into()), ("cam".into(), "3".into())];
    let events = Events::default();
    let up = Uploader::start(cfg, events.sink()).expect("start");
    up.send(Chunk::Header(header(1)));
    for c in fragment(tc(0), 2, 100) {
        up.send(c);
    }
    up.finish(WAIT).expect("finish");
    let st = stub.state();
    assert_eq!(
        st.calls,
        ["/describeStream", "/tagStream", "/getDataEndpoint"]
    );
    let tags = st.tag_body.as_ref().expect("TagStream body");
    assert_eq!(tags["StreamName"], "tagged");
    assert_eq!(tags["Tags"]["site"], "lab");
    assert_eq!(tags["Tags"]["cam"], "3");
    assert!(st.create_body.is_none());
}

#[test]
fn refused_putmedia_is_retried_with_backoff() {
    // Throttling and server errors are transient; a 404 means the stream moved or was
    // recreated, so the control plane is asked again first.
    let stub = Stub::start(
        true,
        vec![
            ConnPlan::Http {
                status: 503,
                code: "ServiceUnavailable",
            },
            ConnPlan::Http {
                status: 400,
                code: "ConnectionLimitExceededException",
            },
            ConnPlan::Http {
                status: 404,
                code: "ResourceNotFoundException",
            },
            ConnPlan::Normal,
        ],
    );
    let events = Events::default();
    let up = Uploader::start(stub.config("refused"), events.sink()).expect("start");
    let mut sent = vec![Chunk::Header(header(1))];
    for i in 0..3 {
        sent.extend(fragment(tc(i), 3, 300));
    }
    for c in sent.clone() {
        up.send(c);
    }
    up.finish(WAIT).expect("finish");
    let st = stub.state();
    assert_eq!(st.conns.len(), 4);
    assert_eq!(st.conns[3].body, chunk_bytes(&sent));
    assert_eq!(st.stored(), (0..3).map(tc).collect::<Vec<_>>());
    assert_eq!(
        st.calls.iter().filter(|c| *c == "/describeStream").count(),
        2,
        "described again after the 404: {:?}",
        st.calls
    );
    drop(st);
    let reconnects: Vec<String> = events
        .snapshot()
        .iter()
        .filter_map(|e| match e {
            UploaderEvent::Reconnecting { reason, .. } => Some(reason.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(reconnects.len(), 3, "{reconnects:?}");
    assert!(reconnects[0].contains("503"), "{reconnects:?}");
    assert!(
        reconnects[1].contains("ConnectionLimitExceeded"),
        "{reconnects:?}"
    );
}

#[test]
fn stale_connection_is_replaced() {
    // The service takes the data but stops acknowledging: after connection-staleness the
    // uploader gives up on that connection and resends on a new one.
    let stub = Stub::start(true, vec![ConnPlan::Silent, ConnPlan::Normal]);
    let mut cfg = stub.config("stale");
    cfg.connection_staleness = Duration::from_millis(600);
    let events = Events::default();
    let up = Uploader::start(cfg, events.sink()).expect("start");
    up.send(Chunk::Header(header(1)));
    for i in 0..3 {
        for c in fragment(tc(i), 3, 300) {
            up.send(c);
        }
    }
    assert!(
        events.wait_for(WAIT, |e| e.iter().any(|e| matches!(
            e,
            UploaderEvent::Reconnecting { reason, .. } if reason.contains("connection-staleness")
        ))),
        "{:?}",
        events.snapshot()
    );
    up.finish(WAIT).expect("finish");
    let st = stub.state();
    assert_eq!(st.conns.len(), 2);
    assert!(st.conns[0].persisted.is_empty());
    assert_eq!(st.stored(), (0..3).map(tc).collect::<Vec<_>>());
}
