// SPDX-License-Identifier: MPL-2.0
//! Credentials: a 403 on PutMedia makes the uploader refresh once, then give up clearly;
//! the credential-path file is read as AWS's producer writes it.

mod uploader_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use aws_credential_types::Credentials;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider, future};
use gstrskvssink::chunk::Chunk;
use gstrskvssink::uploader::{Uploader, UploaderError, UploaderEvent};
use uploader_support::{Events, Stub, WAIT, fragment, header};

/// Hands out `keys[n]` on the n-th call (the last one repeats) and counts calls.
#[derive(Debug)]
struct SequenceProvider {
    keys: Vec<&'static str>,
    calls: Arc<AtomicUsize>,
}

impl ProvideCredentials for SequenceProvider {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        let key = self
            .keys
            .get(n)
            .or(self.keys.last())
            .copied()
            .unwrap_or("NONE");
        future::ProvideCredentials::ready(Ok(Credentials::new(key, "secret", None, None, "test")))
    }
}

fn start_with(
    stub: &Stub,
    keys: Vec<&'static str>,
    events: &Events,
) -> (Uploader, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let mut cfg = stub.config("auth");
    cfg.credentials.access_key = None;
    cfg.credentials.secret_key = None;
    cfg.credentials.provider = Some(SharedCredentialsProvider::new(SequenceProvider {
        keys,
        calls: calls.clone(),
    }));
    let up = Uploader::start(cfg, events.sink()).expect("start");
    up.send(Chunk::Header(header(1)));
    for c in fragment(1000, 3, 300) {
        up.send(c);
    }
    (up, calls)
}

#[test]
fn forbidden_putmedia_refreshes_credentials_once_then_fails() {
    let stub = Stub::start(true, vec![]);
    stub.state().reject_akids = vec!["BAD".into()];
    let events = Events::default();
    let (up, calls) = start_with(&stub, vec!["BAD"], &events);
    let err = up.finish(WAIT).expect_err("403 twice");
    assert!(
        matches!(err, UploaderError::InvalidCredentials { .. }),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains("PutMedia") && text.contains("refreshing"),
        "{text}"
    );
    let st = stub.state();
    assert_eq!(
        st.conns.len(),
        2,
        "one retry after the refresh, no more: {:?}",
        events.snapshot()
    );
    assert!(st.conns.iter().all(|c| c.akid == "BAD"));
    drop(st);
    let calls_seen = calls.load(Ordering::SeqCst);
    assert!(
        calls_seen >= 2,
        "provider asked again after the 403 ({calls_seen})"
    );
    assert!(
        events
            .snapshot()
            .iter()
            .any(|e| matches!(e, UploaderEvent::Warning(w) if w.contains("403")))
    );
}

#[test]
fn forbidden_putmedia_succeeds_with_refreshed_credentials() {
    let stub = Stub::start(true, vec![]);
    stub.state().reject_akids = vec!["OLD".into()];
    let events = Events::default();
    // The first credentials are stale, whatever the provider says later is accepted.
    let (up, _calls) = start_with(&stub, vec!["OLD", "NEW"], &events);
    up.finish(WAIT).expect("finish after refresh");
    let st = stub.state();
    assert_eq!(st.stored(), vec![1000]);
    assert_eq!(st.conns.last().map(|c| c.akid.as_str()), Some("NEW"));
}

#[test]
fn credential_path_file_signs_putmedia() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("credentials");
    std::fs::write(
        &path,
        "CREDENTIALS AKIDFILE 2099-01-01T00:00:00Z filesecret filetoken\n",
    )
    .expect("write");
    let stub = Stub::start(true, vec![]);
    let mut cfg = stub.config("file");
    cfg.credentials.access_key = None;
    cfg.credentials.secret_key = None;
    cfg.credentials.credential_path = Some(path);
    let events = Events::default();
    let up = Uploader::start(cfg, events.sink()).expect("start");
    up.send(Chunk::Header(header(1)));
    for c in fragment(5, 2, 100) {
        up.send(c);
    }
    up.finish(WAIT).expect("finish");
    let st = stub.state();
    assert_eq!(st.conns[0].akid, "AKIDFILE");
    assert_eq!(
        st.conns[0]
            .headers
            .get("x-amz-security-token")
            .map(String::as_str),
        Some("filetoken")
    );
}

#[test]
fn malformed_credential_file_is_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("credentials");
    std::fs::write(&path, "AKID SECRET\n").expect("write");
    let stub = Stub::start(true, vec![]);
    let mut cfg = stub.config("badfile");
    cfg.credentials.access_key = None;
    cfg.credentials.secret_key = None;
    cfg.credentials.credential_path = Some(path);
    let events = Events::default();
    let up = Uploader::start(cfg, events.sink()).expect("start");
    let err = up.finish(WAIT).expect_err("bad file");
    assert!(err.to_string().contains("CREDENTIALS"), "{err}");
    assert!(
        stub.state().calls.is_empty(),
        "nothing sent without credentials"
    );
}
