// SPDX-License-Identifier: MPL-2.0
//! The HTTP/1.1 front end: accept loop, graceful shutdown, routing, authentication and the
//! response helpers every handler uses.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use kvs_core::api::{ApiError, ErrorKind, REQUEST_ID_HEADER};
use kvs_core::putmedia as paths;
use serde::Serialize;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::Instrument;

use crate::auth::{self, Payload};
use crate::config::Config;
use crate::control::registry::StreamRegistry;
use crate::control::{self, ControlOp, RequestContext};
use crate::db::Db;
use crate::media::{MediaOptions, MediaStore};
use crate::state::{AppState, ShutdownSignal};
use crate::{dataplane, ids};

/// Every response body. Errors are I/O errors so streaming bodies can report disk failures.
pub type BoxBody = http_body_util::combinators::BoxBody<Bytes, std::io::Error>;
/// Every request body handed to a data-plane handler.
pub type RequestBody = http_body_util::combinators::BoxBody<Bytes, hyper::Error>;

/// Largest JSON request body accepted (the biggest real input, 1000 fragment numbers, is
/// well under 200 KiB).
pub const MAX_JSON_BODY: usize = 1 << 20;

pub fn full_body(bytes: impl Into<Bytes>) -> BoxBody {
    Full::new(bytes.into())
        .map_err(|never: Infallible| match never {})
        .boxed()
}

pub fn empty_body() -> BoxBody {
    full_body(Bytes::new())
}

/// 200 with `value` as JSON.
pub fn json_response<T: Serialize>(value: &T) -> Response<BoxBody> {
    match serde_json::to_vec(value) {
        Ok(body) => {
            let mut resp = Response::new(full_body(body));
            resp.headers_mut().insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            resp
        }
        Err(err) => ApiError::internal(format!("cannot encode response: {err}")).into_response(),
    }
}

/// Turns an API error into the AWS rest-json error response.
pub trait IntoResponse {
    fn into_response(self) -> Response<BoxBody>;
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response<BoxBody> {
        // The request id is added by the router to every response.
        let (parts, body) = self.to_http_response("").into_parts();
        Response::from_parts(parts, full_body(body))
    }
}

/// Parses a JSON request body; an empty body reads as `{}`. Broken JSON is a
/// SerializationException, a well-formed body with wrong members an InvalidArgumentException.
pub fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let body: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        body
    };
    serde_json::from_slice(body).map_err(|err| {
        use serde_json::error::Category;
        match err.classify() {
            Category::Syntax | Category::Eof | Category::Io => ApiError::new(
                ErrorKind::Serialization,
                format!("request body is not valid JSON: {err}"),
            ),
            Category::Data => ApiError::invalid_argument(err.to_string()),
        }
    })
}

async fn read_body(body: Incoming) -> Result<Bytes, ApiError> {
    match Limited::new(body, MAX_JSON_BODY).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(err) => {
            if err
                .downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                Err(ApiError::invalid_argument(format!(
                    "request body exceeds {MAX_JSON_BODY} bytes"
                )))
            } else {
                Err(ApiError::invalid_argument(format!(
                    "cannot read request body: {err}"
                )))
            }
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Route {
    Control(ControlOp),
    PutMedia,
    GetMedia,
    ListFragments,
    GetMediaForFragmentList,
}

impl Route {
    fn from_path(path: &str) -> Option<Route> {
        Some(match path {
            paths::PATH_PUT_MEDIA => Route::PutMedia,
            paths::PATH_GET_MEDIA => Route::GetMedia,
            paths::PATH_LIST_FRAGMENTS => Route::ListFragments,
            paths::PATH_GET_MEDIA_FOR_FRAGMENT_LIST => Route::GetMediaForFragmentList,
            other => Route::Control(ControlOp::from_path(other)?),
        })
    }
}

async fn route(state: Arc<AppState>, req: Request<Incoming>) -> Response<BoxBody> {
    let Some(route) = Route::from_path(req.uri().path()) else {
        return ApiError::new(
            ErrorKind::UnknownOperation,
            format!("no operation at {}", req.uri().path()),
        )
        .into_response();
    };
    if req.method() != Method::POST {
        let mut resp = ApiError::new(
            ErrorKind::MethodNotAllowed,
            format!("{} takes POST, not {}", req.uri().path(), req.method()),
        )
        .into_response();
        resp.headers_mut()
            .insert(http::header::ALLOW, HeaderValue::from_static("POST"));
        return resp;
    }
    let result = match route {
        Route::PutMedia => {
            let (parts, body) = req.into_parts();
            match auth::authenticate(&state.auth, &parts, Payload::Streaming) {
                Ok(_) => {
                    let req = Request::from_parts(parts, body.boxed());
                    Ok(dataplane::put_media(state, req).await)
                }
                Err(err) => Err(err),
            }
        }
        Route::Control(op) => control_call(state, op, req).await,
        Route::GetMedia | Route::ListFragments | Route::GetMediaForFragmentList => {
            json_data_call(state, route, req).await
        }
    };
    result.unwrap_or_else(IntoResponse::into_response)
}

async fn control_call(
    state: Arc<AppState>,
    op: ControlOp,
    req: Request<Incoming>,
) -> Result<Response<BoxBody>, ApiError> {
    let (parts, body) = req.into_parts();
    let body = read_body(body).await?;
    let auth = auth::authenticate(&state.auth, &parts, Payload::Bytes(&body))?;
    let ctx = RequestContext {
        region: auth
            .map(|a| a.region)
            .filter(|r| !r.is_empty())
            .unwrap_or_else(|| state.region.clone()),
        host: parts
            .headers
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(str::to_owned),
    };
    control::handle(&state, op, &ctx, &body)
}

async fn json_data_call(
    state: Arc<AppState>,
    route: Route,
    req: Request<Incoming>,
) -> Result<Response<BoxBody>, ApiError> {
    let (parts, body) = req.into_parts();
    let body = read_body(body).await?;
    auth::authenticate(&state.auth, &parts, Payload::Bytes(&body))?;
    let body: RequestBody = Full::new(body)
        .map_err(|never: Infallible| match never {})
        .boxed();
    let req = Request::from_parts(parts, body);
    Ok(match route {
        Route::GetMedia => dataplane::get_media(state, req).await,
        Route::ListFragments => dataplane::list_fragments(state, req).await,
        _ => dataplane::get_media_for_fragment_list(state, req).await,
    })
}

async fn handle(
    state: Arc<AppState>,
    req: Request<Incoming>,
) -> Result<Response<BoxBody>, Infallible> {
    let request_id = ids::new_request_id();
    let span = tracing::info_span!(
        "request",
        id = %request_id,
        method = %req.method(),
        path = %req.uri().path()
    );
    async move {
        let mut resp = route(state, req).await;
        if let Ok(v) = HeaderValue::from_str(&request_id) {
            resp.headers_mut().insert(REQUEST_ID_HEADER, v);
        }
        let status = resp.status();
        if status.is_server_error() {
            tracing::warn!(status = status.as_u16(), "request failed");
        } else if status != StatusCode::OK {
            tracing::info!(status = status.as_u16(), "request refused");
        } else {
            tracing::debug!(status = status.as_u16(), "request done");
        }
        Ok(resp)
    }
    .instrument(span)
    .await
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot create data directory {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Db(#[from] crate::db::DbError),
    #[error("cannot open media store: {0}")]
    Media(#[from] crate::media::MediaError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot finish an interrupted stream deletion: {0}")]
    Registry(ApiError),
}

/// The kvs-local server. `Server::start` returns once it is listening.
pub struct Server;

impl Server {
    pub async fn start(config: Config) -> Result<ServerHandle, StartError> {
        // Bind first: a port in use is the likeliest failure and leaves nothing to undo.
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| StartError::Bind {
                    addr: config.listen,
                    source,
                })?;
        let local_addr = listener.local_addr().map_err(|source| StartError::Bind {
            addr: config.listen,
            source,
        })?;
        std::fs::create_dir_all(&config.data_dir).map_err(|source| StartError::DataDir {
            path: config.data_dir.display().to_string(),
            source,
        })?;
        let db = Db::open(&config.data_dir)?;
        let streams = StreamRegistry::new(db, config.activation_delay);
        let media = MediaStore::open(&config.data_dir, MediaOptions::default())?;
        // A deletion cut short by a crash or restart is finished before serving.
        let interrupted = streams.deleting().map_err(StartError::Registry)?;
        for rec in interrupted {
            media.delete_stream(&rec.arn);
            streams
                .finish_delete(rec.id)
                .map_err(StartError::Registry)?;
        }
        let base_url = format!("http://{local_addr}");
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let state = Arc::new(AppState {
            streams,
            media,
            base_url: base_url.clone(),
            advertised_url: config.advertised_url.clone(),
            region: config.region.clone(),
            account_id: config.account_id.clone(),
            auth: config.auth.clone(),
            shutdown: ShutdownSignal::new(shutdown_rx.clone()),
        });
        tracing::info!(%base_url, data_dir = %config.data_dir.display(), auth = ?config.auth, "kvs-local started");
        let accept = tokio::spawn(accept_loop(
            listener,
            state.clone(),
            shutdown_rx,
            config.shutdown_grace,
        ));
        Ok(ServerHandle {
            local_addr,
            base_url,
            state,
            shutdown_tx,
            accept: Some(accept),
        })
    }
}

async fn accept_loop(
    listener: TcpListener,
    state: Arc<AppState>,
    mut shutdown: watch::Receiver<bool>,
    grace: Duration,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    connections.spawn(serve_connection(stream, peer, state.clone(), shutdown.clone()));
                }
                Err(err) => {
                    // Usually EMFILE; back off instead of spinning.
                    tracing::warn!(error = %err, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            _ = stopped(&mut shutdown) => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    let drained = tokio::time::timeout(grace, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            remaining = connections.len(),
            "grace period over; closing remaining connections"
        );
        connections.shutdown().await;
    }
}

/// Resolves once shutdown has begun, without holding the watch lock across awaits.
async fn stopped(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|s| *s).await;
}

async fn serve_connection(
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    state: Arc<AppState>,
    mut shutdown: watch::Receiver<bool>,
) {
    let service = service_fn(move |req| handle(state.clone(), req));
    let conn = hyper::server::conn::http1::Builder::new()
        .keep_alive(true)
        .serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    let result = tokio::select! {
        r = conn.as_mut() => r,
        _ = stopped(&mut shutdown) => {
            // Finish the request in flight, then close instead of waiting for the next one.
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(err) = result {
        tracing::debug!(%peer, error = %err, "connection ended with an error");
    }
}

/// A running server. Dropping it without `shutdown()` still stops accepting.
pub struct ServerHandle {
    local_addr: SocketAddr,
    base_url: String,
    state: Arc<AppState>,
    shutdown_tx: watch::Sender<bool>,
    accept: Option<tokio::task::JoinHandle<()>>,
}

impl ServerHandle {
    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    pub fn state(&self) -> &Arc<AppState> {
        &self.state
    }

    /// Stops accepting, lets in-flight requests finish within the grace period, then flushes
    /// the media store.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown_tx.send(true);
        if let Some(accept) = self.accept.take() {
            let _ = accept.await;
        }
        let media = self.state.media.clone();
        let _ = tokio::task::spawn_blocking(move || media.close()).await;
        tracing::info!("kvs-local stopped");
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        let _ = self.shutdown_tx.send(true);
    }
}
