// SPDX-License-Identifier: MPL-2.0
//! Reads the requests recorded from AWS's kvssink (`*.headers.txt`).

#![allow(dead_code)]

use std::path::PathBuf;

pub const SHARED: &str = "/work/shared/test-vectors";

/// The access key and secret the recordings were signed with (the stub endpoint's
/// configuration; the signatures in the files verify with them).
pub const RECORDED_ACCESS_KEY: &str = "AKIDEXAMPLE";
pub const RECORDED_SECRET: &str = "secret";
pub const RECORDED_REGION: &str = "us-east-1";

#[derive(Debug, Clone)]
pub struct RecordedRequest {
    pub file: String,
    pub method: String,
    pub path: String,
    /// (name, value) in recorded order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RecordedRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn header_map(&self) -> http::HeaderMap {
        let mut map = http::HeaderMap::new();
        for (n, v) in &self.headers {
            map.append(
                http::HeaderName::from_bytes(n.as_bytes()).expect("recorded header name"),
                http::HeaderValue::from_str(v).expect("recorded header value"),
            );
        }
        map
    }

    pub fn parts(&self) -> http::request::Parts {
        let mut builder = http::Request::builder()
            .method(self.method.as_str())
            .uri(self.path.as_str());
        for (n, v) in &self.headers {
            builder = builder.header(n.as_str(), v.as_str());
        }
        builder.body(()).expect("recorded request").into_parts().0
    }
}

pub fn official_dir() -> PathBuf {
    PathBuf::from(SHARED).join("official-kvssink")
}

pub fn files_with_suffix(suffix: &str) -> Vec<PathBuf> {
    let dir = official_dir();
    let mut out: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.to_string_lossy().ends_with(suffix))
        .collect();
    out.sort();
    assert!(!out.is_empty(), "no *{suffix} files in {}", dir.display());
    out
}

/// Parses one `*.headers.txt`: blocks start with `#<n> t=…`, then the request line, the
/// headers, a blank line and the body (content-length bytes, if any).
pub fn parse_headers_file(path: &std::path::Path) -> Vec<RecordedRequest> {
    let text = std::fs::read_to_string(path).expect("read headers file");
    let file = path.file_name().unwrap().to_string_lossy().into_owned();
    let mut out = Vec::new();
    let blocks: Vec<&str> = text
        .split("\n#")
        .map(|b| b.strip_prefix('#').unwrap_or(b))
        .filter(|b| !b.trim().is_empty())
        .collect();
    for block in blocks {
        let mut lines = block.split('\n');
        let _marker = lines.next().expect("marker line");
        let request_line = lines.next().expect("request line");
        let mut parts = request_line.split(' ');
        let method = parts.next().expect("method").to_owned();
        let path = parts.next().expect("path").to_owned();
        let mut headers = Vec::new();
        for line in lines.by_ref() {
            let line = line.trim_end_matches('\r');
            if line.is_empty() {
                break;
            }
            let (n, v) = line.split_once(':').expect("header line");
            headers.push((n.trim().to_owned(), v.trim().to_owned()));
        }
        let rest: Vec<&str> = lines.collect();
        let rest = rest.join("\n");
        let len: usize = headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
            .map(|(_, v)| v.parse().expect("content-length"))
            .unwrap_or(0);
        let body = rest.as_bytes()[..len].to_vec();
        out.push(RecordedRequest {
            file: file.clone(),
            method,
            path,
            headers,
            body,
        });
    }
    out
}

pub fn all_recorded_requests() -> Vec<RecordedRequest> {
    files_with_suffix(".headers.txt")
        .iter()
        .flat_map(|p| parse_headers_file(p))
        .collect()
}

pub fn amz_time(value: &str) -> std::time::SystemTime {
    let format = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    time::PrimitiveDateTime::parse(value, format)
        .expect("X-Amz-Date")
        .assume_utc()
        .into()
}
