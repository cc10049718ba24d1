// SPDX-License-Identifier: MPL-2.0
//! Server configuration, shared by the binary's command line and by in-process tests.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use crate::auth::AuthSettings;

/// Port the binary listens on unless told otherwise; clear of LocalStack (4566) and moto (5000).
pub const DEFAULT_PORT: u16 = 8766;
pub const DEFAULT_REGION: &str = "us-east-1";
/// Account id in stream ARNs; the local server has a single account.
pub const DEFAULT_ACCOUNT_ID: &str = "000000000000";
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

#[derive(Clone, Debug)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    /// Base URL handed out by GetDataEndpoint. `None`: `http://` + the Host header the
    /// request came with (so clients reach us the way they already do), falling back to the
    /// listening address.
    pub advertised_url: Option<String>,
    /// Region put in ARNs when a request carries no signing region.
    pub region: String,
    pub account_id: String,
    pub auth: AuthSettings,
    /// How long a new stream stays CREATING before reading as ACTIVE.
    pub activation_delay: Duration,
    /// How long in-flight requests may run on after shutdown starts before being cut.
    pub shutdown_grace: Duration,
}

impl Config {
    /// Defaults for an in-process server: 127.0.0.1 on a free port, data in `data_dir`.
    pub fn new(data_dir: impl Into<PathBuf>) -> Config {
        Config {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            data_dir: data_dir.into(),
            advertised_url: None,
            region: DEFAULT_REGION.to_owned(),
            account_id: DEFAULT_ACCOUNT_ID.to_owned(),
            auth: AuthSettings::default(),
            activation_delay: Duration::ZERO,
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
        }
    }
}

/// `$XDG_DATA_HOME/kvs-local`, else `~/.local/share/kvs-local`, else `./kvs-local-data`.
pub fn default_data_dir() -> PathBuf {
    let non_empty = |v: std::ffi::OsString| (!v.is_empty()).then(|| PathBuf::from(v));
    if let Some(dir) = std::env::var_os("XDG_DATA_HOME").and_then(non_empty) {
        return dir.join("kvs-local");
    }
    if let Some(home) = std::env::var_os("HOME").and_then(non_empty) {
        return home.join(".local").join("share").join("kvs-local");
    }
    PathBuf::from("kvs-local-data")
}
