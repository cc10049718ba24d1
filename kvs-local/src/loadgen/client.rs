// SPDX-License-Identifier: MPL-2.0
//! Plain HTTP/1.1 over hyper, one connection per request, every request SigV4-signed with
//! kvs-core's signer (the server accepts any well-formed signature by default).

use std::time::SystemTime;

use bytes::Bytes;
use http::{HeaderValue, Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use kvs_core::sigv4::{PayloadHash, sign, static_credentials};

use super::LoadError;

/// Fixed example credentials: the server does not verify them unless started with keys.
const ACCESS_KEY_ID: &str = "AKIDLOADGEN";
const SECRET_ACCESS_KEY: &str = "loadgen-secret-not-verified";
const REGION: &str = "us-east-1";

#[derive(Clone)]
pub struct Endpoint {
    /// `host:port`
    pub authority: String,
}

impl Endpoint {
    pub fn parse(url: &str) -> Result<Endpoint, LoadError> {
        let authority = url
            .strip_prefix("http://")
            .ok_or_else(|| LoadError::Setup(format!("endpoint {url} is not http://host:port")))?
            .trim_end_matches('/')
            .to_owned();
        Ok(Endpoint { authority })
    }

    /// Builds a signed POST; `body_for_hash` is the whole body when known (JSON), `None`
    /// for a streamed body (PutMedia signs the empty-payload hash, as AWS's producer does).
    pub fn request<B>(
        &self,
        path: &str,
        extra: http::HeaderMap,
        body_for_hash: Option<&[u8]>,
        body: B,
    ) -> Result<Request<B>, LoadError> {
        let mut req = Request::post(path)
            .header(http::header::HOST, self.authority.as_str())
            .body(body)
            .map_err(|e| LoadError::Setup(format!("request: {e}")))?;
        req.headers_mut().extend(extra);
        let (mut parts, body) = req.into_parts();
        let payload = match body_for_hash {
            Some(b) => PayloadHash::Bytes(b),
            None => PayloadHash::EmptyStreaming,
        };
        let creds = static_credentials(ACCESS_KEY_ID, SECRET_ACCESS_KEY, None);
        sign(&mut parts, &creds, REGION, SystemTime::now(), payload)
            .map_err(|e| LoadError::Setup(format!("signing: {e}")))?;
        Ok(Request::from_parts(parts, body))
    }

    /// Sends `req` on a new connection; the response body is left to stream.
    pub async fn send<B>(&self, req: Request<B>) -> Result<Response<Incoming>, LoadError>
    where
        B: hyper::body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let tcp = tokio::net::TcpStream::connect(&self.authority)
            .await
            .map_err(|e| LoadError::Http(format!("connect {}: {e}", self.authority)))?;
        // Frames are small and paced: Nagle would hold them back for the peer's delayed ACK.
        let _ = tcp.set_nodelay(true);
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
            .await
            .map_err(|e| LoadError::Http(format!("handshake: {e}")))?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        sender
            .send_request(req)
            .await
            .map_err(|e| LoadError::Http(format!("request: {e}")))
    }

    /// POSTs JSON and returns the status and whole body.
    pub async fn post_json(
        &self,
        path: &str,
        json: &serde_json::Value,
    ) -> Result<(u16, Bytes), LoadError> {
        let body = Bytes::from(json.to_string());
        let mut headers = http::HeaderMap::new();
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        let req = self.request(path, headers, Some(&body), Full::new(body.clone()))?;
        let resp = self.send(req).await?;
        let status = resp.status().as_u16();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| LoadError::Http(format!("{path} body: {e}")))?
            .to_bytes();
        Ok((status, body))
    }
}
