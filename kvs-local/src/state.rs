// SPDX-License-Identifier: MPL-2.0
//! What every request handler shares: the stream registry, the media store, settings and the
//! shutdown signal.
//!
//! Data-plane contract (`crate::dataplane`): the router calls
//! `put_media / get_media / list_fragments / get_media_for_fragment_list
//! (state: Arc<AppState>, req: http::Request<crate::server::RequestBody>) -> http::Response<BoxBody>`
//! after authentication. `RequestBody` is a boxed body: PutMedia's streams straight from the
//! socket; the JSON calls' was already read (to check its signature) and is replayed.

use std::sync::Arc;

use kvs_core::api::ApiError;
use tokio::sync::watch;

use crate::auth::AuthSettings;
use crate::control::registry::StreamRegistry;
use crate::media::MediaStore;

pub use crate::db::StreamRecord;

/// Tells long-lived handlers (PutMedia, GetMedia) that the server is stopping, so they can
/// end their responses cleanly within the grace period.
#[derive(Clone, Debug)]
pub struct ShutdownSignal {
    rx: watch::Receiver<bool>,
}

impl ShutdownSignal {
    pub(crate) fn new(rx: watch::Receiver<bool>) -> Self {
        ShutdownSignal { rx }
    }

    pub fn is_shutting_down(&self) -> bool {
        *self.rx.borrow()
    }

    /// Resolves once shutdown has begun (at once if it already has).
    pub async fn wait(&self) {
        let mut rx = self.rx.clone();
        // An error means the sender is gone, which only happens when the server is gone.
        let _ = rx.wait_for(|stopping| *stopping).await;
    }

    /// A receiver to `select!` on directly.
    pub fn subscribe(&self) -> watch::Receiver<bool> {
        self.rx.clone()
    }
}

pub struct AppState {
    pub streams: StreamRegistry,
    pub media: Arc<MediaStore>,
    /// `http://<listening address>`.
    pub base_url: String,
    /// Overrides what GetDataEndpoint answers.
    pub advertised_url: Option<String>,
    pub region: String,
    pub account_id: String,
    pub auth: AuthSettings,
    pub shutdown: ShutdownSignal,
}

impl AppState {
    /// The stream a request names (by name or ARN), unless missing or being deleted:
    /// ResourceNotFoundException then, InvalidArgumentException for a bad name/ARN or none.
    pub fn stream_by_name_or_arn(
        &self,
        name: Option<&str>,
        arn: Option<&str>,
    ) -> Result<StreamRecord, ApiError> {
        self.streams.stream_by_name_or_arn(name, arn)
    }
}
