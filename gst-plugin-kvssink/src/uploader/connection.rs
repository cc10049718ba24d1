// SPDX-License-Identifier: MPL-2.0
//! One PutMedia connection: an HTTP/1.1 chunked POST whose body is pulled from the shared
//! buffer while the ACK stream is read from the response, both at once.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use http::{HeaderValue, Method, Request, Uri, header};
use http_body_util::BodyExt as _;
use hyper_util::rt::TokioIo;
use kvs_core::putmedia::{Ack, AckParser, PutMediaHeaders};
use kvs_core::sigv4::{self, PayloadHash};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::mpsc::UnboundedSender;

use super::body::{PullBody, Shared};
use super::credentials::error_chain;

/// Largest error body read from a refused PutMedia.
const MAX_ERROR_BODY: usize = 16 * 1024;

/// How a connection ended.
#[derive(Debug)]
pub(crate) enum ConnEnd {
    /// The response ended after a 200.
    Closed,
    /// The service refused the request.
    Http {
        status: u16,
        code: String,
        message: String,
    },
    /// Connect, TLS or I/O failure.
    Failed { reason: String },
}

/// What a connection reports to the session.
#[derive(Debug)]
pub(crate) enum ConnMsg {
    /// The service answered 200 and the ACK stream begins.
    Accepted(u64),
    Ack(u64, Ack),
    AckParseError(u64, String),
    Ended(u64, ConnEnd),
}

pub(crate) struct ConnParams {
    pub(crate) conn: u64,
    pub(crate) url: Uri,
    pub(crate) headers: PutMediaHeaders,
    pub(crate) credentials: Credentials,
    pub(crate) region: String,
    pub(crate) connect_timeout: Duration,
    pub(crate) shared: Arc<Shared>,
    pub(crate) report: UnboundedSender<ConnMsg>,
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// Runs the connection to its end and reports every ACK and the outcome.
pub(crate) async fn run(params: ConnParams) {
    let conn = params.conn;
    let report = params.report.clone();
    let end = run_inner(params).await;
    let _ = report.send(ConnMsg::Ended(conn, end));
}

async fn run_inner(p: ConnParams) -> ConnEnd {
    let request = match build_request(&p) {
        Ok(r) => r,
        Err(reason) => return ConnEnd::Failed { reason },
    };
    let io = match tokio::time::timeout(p.connect_timeout, connect(&p.url)).await {
        Ok(Ok(io)) => io,
        Ok(Err(reason)) => return ConnEnd::Failed { reason },
        Err(_) => {
            return ConnEnd::Failed {
                reason: format!(
                    "connecting to {} timed out after {:?}",
                    p.url, p.connect_timeout
                ),
            };
        }
    };
    let (mut sender, connection) =
        match hyper::client::conn::http1::handshake::<_, PullBody>(TokioIo::new(io)).await {
            Ok(pair) => pair,
            Err(e) => {
                return ConnEnd::Failed {
                    reason: format!("HTTP handshake with {}: {}", p.url, error_chain(&e)),
                };
            }
        };
    let mut connection = std::pin::pin!(connection);
    let mut response_fut = std::pin::pin!(sender.send_request(request));
    let mut connection_done = false;
    let response = tokio::select! {
        biased;
        r = &mut response_fut => r,
        r = &mut connection => {
            // The connection can end right after delivering a response (a 403 sent before
            // the body was read): the response, if any, is ready now.
            connection_done = true;
            match (response_fut.await, r) {
                (Ok(resp), _) => Ok(resp),
                (Err(e), Ok(())) => Err(e),
                (Err(_), Err(e)) => Err(e),
            }
        }
    };
    let response = match response {
        Ok(r) => r,
        Err(e) => {
            return ConnEnd::Failed {
                reason: format!("PutMedia to {}: {}", p.url, error_chain(&e)),
            };
        }
    };
    let status = response.status();
    if status.is_success() {
        super::body::accept(&p.shared, p.conn);
    }
    let error_type = response
        .headers()
        .get("x-amzn-errortype")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(':').next().unwrap_or(v).to_owned());
    let mut body = response.into_body();
    if !status.is_success() {
        let mut raw = Vec::new();
        let read = async {
            while let Some(Ok(frame)) = body.frame().await {
                if let Ok(data) = frame.into_data() {
                    raw.extend_from_slice(&data);
                    if raw.len() > MAX_ERROR_BODY {
                        break;
                    }
                }
            }
        };
        let _ = tokio::time::timeout(Duration::from_secs(5), read).await;
        let (code, message) = parse_error_body(&raw);
        return ConnEnd::Http {
            status: status.as_u16(),
            code: error_type.or(code).unwrap_or_default(),
            message,
        };
    }
    let _ = p.report.send(ConnMsg::Accepted(p.conn));
    let mut parser = AckParser::new();
    loop {
        let frame = if connection_done {
            body.frame().await
        } else {
            tokio::select! {
                f = body.frame() => f,
                r = &mut connection => {
                    connection_done = true;
                    if let Err(e) = r {
                        return ConnEnd::Failed { reason: format!("PutMedia connection to {}: {}", p.url, error_chain(&e)) };
                    }
                    continue;
                }
            }
        };
        match frame {
            None => break,
            Some(Err(e)) => {
                return ConnEnd::Failed {
                    reason: format!("reading ACKs from {}: {}", p.url, error_chain(&e)),
                };
            }
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    parser.push(&data);
                    while let Some(item) = parser.next_ack() {
                        let msg = match item {
                            Ok(ack) => ConnMsg::Ack(p.conn, ack),
                            Err(e) => ConnMsg::AckParseError(p.conn, e.to_string()),
                        };
                        let _ = p.report.send(msg);
                    }
                }
            }
        }
    }
    if let Some(e) = parser.finish() {
        let _ = p.report.send(ConnMsg::AckParseError(p.conn, e.to_string()));
    }
    ConnEnd::Closed
}

fn build_request(p: &ConnParams) -> Result<Request<PullBody>, String> {
    let authority = p
        .url
        .authority()
        .ok_or_else(|| format!("data endpoint {} has no host", p.url))?
        .clone();
    let mut parts = Request::builder()
        .method(Method::POST)
        .uri(p.url.clone())
        .body(())
        .map_err(|e| e.to_string())?
        .into_parts()
        .0;
    let host = HeaderValue::from_str(authority.as_str()).map_err(|e| e.to_string())?;
    parts.headers.insert(header::HOST, host);
    p.headers
        .apply(&mut parts.headers)
        .map_err(|e| format!("PutMedia headers: {e}"))?;
    parts.headers.insert(
        header::TRANSFER_ENCODING,
        HeaderValue::from_static("chunked"),
    );
    parts
        .headers
        .insert(header::CONNECTION, HeaderValue::from_static("keep-alive"));
    // AWS's producer sends this although the body is MKV; the service expects nothing else.
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    sigv4::sign(
        &mut parts,
        &p.credentials,
        &p.region,
        SystemTime::now(),
        PayloadHash::EmptyStreaming,
    )
    .map_err(|e| format!("signing PutMedia: {e}"))?;
    // hyper writes the URI as given; the request line wants the origin form.
    let path = p
        .url
        .path_and_query()
        .map_or("/", |pq| pq.as_str())
        .to_owned();
    parts.uri = Uri::try_from(path).map_err(|e| e.to_string())?;
    Ok(Request::from_parts(
        parts,
        PullBody::new(p.shared.clone(), p.conn),
    ))
}

async fn connect(url: &Uri) -> Result<Box<dyn Io>, String> {
    let https = match url.scheme_str() {
        Some("https") => true,
        Some("http") => false,
        other => {
            return Err(format!(
                "data endpoint {url} has unsupported scheme {other:?}"
            ));
        }
    };
    let host = url
        .host()
        .ok_or_else(|| format!("data endpoint {url} has no host"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port = url.port_u16().unwrap_or(if https { 443 } else { 80 });
    let tcp = TcpStream::connect((host, port))
        .await
        .map_err(|e| format!("cannot connect to {url}: {e}"))?;
    let _ = tcp.set_nodelay(true);
    if !https {
        return Ok(Box::new(tcp));
    }
    let config = tls_config()?;
    let name = rustls::pki_types::ServerName::try_from(host.to_owned())
        .map_err(|e| format!("data endpoint host {host:?}: {e}"))?;
    let tls = tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .map_err(|e| format!("TLS handshake with {url}: {e}"))?;
    Ok(Box::new(tls))
}

fn tls_config() -> Result<Arc<rustls::ClientConfig>, String> {
    static CONFIG: OnceLock<Result<Arc<rustls::ClientConfig>, String>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let mut roots = rustls::RootCertStore::empty();
            let native = rustls_native_certs::load_native_certs();
            for cert in native.certs {
                let _ = roots.add(cert);
            }
            if roots.is_empty() {
                return Err(
                    "no CA certificates found on this system (install ca-certificates)".into(),
                );
            }
            let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
            let config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(|e| format!("TLS setup: {e}"))?
                .with_root_certificates(roots)
                .with_no_client_auth();
            Ok(Arc::new(config))
        })
        .clone()
}

/// The error code and message from a JSON error body (`{"message": …, "__type": …}`).
fn parse_error_body(raw: &[u8]) -> (Option<String>, String) {
    let text = String::from_utf8_lossy(raw).trim().to_owned();
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(raw) else {
        return (None, text);
    };
    let field = |names: &[&str]| {
        names
            .iter()
            .find_map(|n| value.get(*n).and_then(|v| v.as_str()).map(str::to_owned))
    };
    let code =
        field(&["__type", "code", "Code"]).map(|c| c.rsplit('#').next().unwrap_or(&c).to_owned());
    let message = field(&["message", "Message", "errorMessage"]).unwrap_or(text);
    (code, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_connector_builds_from_the_system_roots() {
        // Built only when an https data endpoint is used; it must still work then.
        let config = tls_config().expect("TLS client config (is ca-certificates installed?)");
        let connector = tokio_rustls::TlsConnector::from(config);
        assert!(
            connector
                .config()
                .alpn_protocols
                .iter()
                .all(|p| p.as_slice() != b"h2"),
            "PutMedia is HTTP/1.1"
        );
    }

    #[test]
    fn error_body_parsing() {
        let (code, msg) =
            parse_error_body(br#"{"__type":"com.amazon#NotAuthorizedException","message":"no"}"#);
        assert_eq!(code.as_deref(), Some("NotAuthorizedException"));
        assert_eq!(msg, "no");
        let (code, msg) = parse_error_body(b"plain text");
        assert_eq!(code, None);
        assert_eq!(msg, "plain text");
    }
}
