// SPDX-License-Identifier: MPL-2.0
//! kvs-local in process for the plugins' tests: 127.0.0.1 port 0, data in a temporary
//! directory, stopped on drop, with the few control-plane and archive calls tests make
//! themselves (plain HTTP/1.1, unsigned: anonymous access is on unless credentials are set).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::BodyExt as _;
use hyper_util::rt::TokioIo;
use kvs_core::api::{
    Fragment, FragmentSelector, FragmentSelectorType, GetMediaForFragmentListInput,
    ListFragmentsInput, ListFragmentsOutput, TimestampRange,
};
use kvs_core::putmedia::{PATH_GET_MEDIA_FOR_FRAGMENT_LIST, PATH_LIST_FRAGMENTS};
use kvs_core::sigv4::StaticSecrets;

/// How the server is started.
#[derive(Default)]
pub struct Options {
    /// Verify SigV4 against these keys (and refuse unsigned requests).
    pub credentials: Option<StaticSecrets>,
    /// What GetDataEndpoint hands out (e.g. a proxy in front of the server); `None` keeps
    /// kvs-local's default, the address the client used.
    pub advertised_url: Option<String>,
}

/// kvs-local on 127.0.0.1:0, stopped on drop.
pub struct LocalServer {
    pub runtime: tokio::runtime::Runtime,
    handle: Option<kvs_local::ServerHandle>,
    _dir: tempfile::TempDir,
}

impl LocalServer {
    /// Anonymous access allowed: tests' own unsigned calls work, kvssink signs anyway.
    pub fn start() -> LocalServer {
        LocalServer::start_with(Options::default())
    }

    pub fn start_with(options: Options) -> LocalServer {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("kvs-local")
            .enable_all()
            .build()
            .expect("runtime");
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = kvs_local::Config::new(dir.path());
        config.auth.allow_anonymous = options.credentials.is_none();
        config.auth.credentials = options.credentials;
        config.advertised_url = options.advertised_url;
        let handle = runtime
            .block_on(kvs_local::Server::start(config))
            .expect("kvs-local starts");
        LocalServer {
            runtime,
            handle: Some(handle),
            _dir: dir,
        }
    }

    pub fn handle(&self) -> &kvs_local::ServerHandle {
        self.handle.as_ref().expect("kvs-local running")
    }

    pub fn url(&self) -> String {
        self.handle().base_url().to_owned()
    }

    pub fn addr(&self) -> SocketAddr {
        self.handle().local_addr()
    }

    /// One plain HTTP/1.1 POST; returns the status and the whole response body.
    pub fn post(&self, path: &str, headers: &[(&str, &str)], body: Bytes) -> (u16, Bytes) {
        let addr = self.addr();
        let path = path.to_owned();
        let headers: Vec<(String, String)> = headers
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        self.runtime.block_on(async move {
            let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
            let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
                .await
                .expect("handshake");
            tokio::spawn(conn);
            let mut req = hyper::Request::post(path).header("host", addr.to_string());
            for (k, v) in &headers {
                req = req.header(k.as_str(), v.as_str());
            }
            let req = req.body(http_body_util::Full::new(body)).expect("request");
            let resp = tokio::time::timeout(Duration::from_secs(60), send.send_request(req))
                .await
                .expect("answer in time")
                .expect("response");
            let status = resp.status().as_u16();
            let body = tokio::time::timeout(Duration::from_secs(60), resp.into_body().collect())
                .await
                .expect("body in time")
                .expect("body")
                .to_bytes();
            (status, body)
        })
    }

    /// A JSON POST, as the control plane and the archive API take them.
    pub fn post_json(&self, path: &str, body: &impl serde::Serialize) -> (u16, Bytes) {
        let json = serde_json::to_vec(body).expect("JSON");
        self.post(
            path,
            &[("content-type", "application/json")],
            Bytes::from(json),
        )
    }

    /// [`post_json`](Self::post_json) that must answer 200; returns the body.
    fn call(&self, operation: &str, path: &str, input: &impl serde::Serialize) -> Bytes {
        let (status, answer) = self.post_json(path, input);
        assert_eq!(
            status,
            200,
            "{operation}: {}",
            String::from_utf8_lossy(&answer)
        );
        answer
    }

    /// CreateStream with two hours of retention.
    pub fn create_stream(&self, name: &str) {
        self.call(
            "CreateStream",
            "/createStream",
            &serde_json::json!({
                "StreamName": name,
                "MediaType": "video/h264",
                "DataRetentionInHours": 2
            }),
        );
    }

    /// Every stored fragment of `stream`, oldest producer timestamp first.
    pub fn list_fragments(&self, stream: &str) -> Vec<Fragment> {
        let mut out = Vec::new();
        let mut next_token = None;
        loop {
            let input = ListFragmentsInput {
                stream_name: Some(stream.to_owned()),
                max_results: Some(1000),
                fragment_selector: next_token.is_none().then_some(FragmentSelector {
                    fragment_selector_type: FragmentSelectorType::ServerTimestamp,
                    timestamp_range: TimestampRange {
                        start_timestamp: 0.0,
                        end_timestamp: 4_000_000_000.0,
                    },
                }),
                next_token: next_token.take(),
                ..Default::default()
            };
            let answer = self.call("ListFragments", PATH_LIST_FRAGMENTS, &input);
            let page: ListFragmentsOutput =
                serde_json::from_slice(&answer).expect("ListFragments JSON");
            out.extend(page.fragments);
            match page.next_token {
                Some(t) => next_token = Some(t),
                None => break,
            }
        }
        out.sort_by(|a, b| a.producer_timestamp.total_cmp(&b.producer_timestamp));
        out
    }

    /// Polls ListFragments until `stream` holds `n` fragments (a fragment is listed once it
    /// is persisted, which may trail the producer's EOS a little).
    pub fn wait_for_fragments(&self, stream: &str, n: usize, deadline: Duration) -> Vec<Fragment> {
        let end = Instant::now() + deadline;
        loop {
            let got = self.list_fragments(stream);
            if got.len() >= n {
                return got;
            }
            assert!(
                Instant::now() < end,
                "{stream} holds {} fragments, not {n}, after {deadline:?}",
                got.len()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The media of `fragments` in the given order, as GetMediaForFragmentList returns it.
    pub fn fragment_media(&self, stream: &str, fragments: &[Fragment]) -> Vec<u8> {
        let input = GetMediaForFragmentListInput {
            stream_name: Some(stream.to_owned()),
            fragments: fragments
                .iter()
                .map(|f| f.fragment_number.clone())
                .collect(),
            ..Default::default()
        };
        self.call(
            "GetMediaForFragmentList",
            PATH_GET_MEDIA_FOR_FRAGMENT_LIST,
            &input,
        )
        .to_vec()
    }
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        if let Some(h) = self.handle.take() {
            self.runtime.block_on(h.shutdown());
        }
    }
}
