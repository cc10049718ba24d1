// SPDX-License-Identifier: MPL-2.0
//! The `kvs-local` command line: options, logging, signals.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use kvs_core::sigv4::StaticSecrets;

use crate::auth::{AuthSettings, load_credentials_file};
use crate::config::{self, Config};
use crate::server::Server;

/// A Kinesis Video Streams endpoint on one machine: the control plane, PutMedia, GetMedia and
/// archived media on a single HTTP port, stored durably in a data directory.
///
/// Point any AWS client at it with `--endpoint-url http://HOST:PORT` (or
/// AWS_ENDPOINT_URL); any region and access key work unless signature checks are enabled.
/// The first line on stdout is `kvs-local listening on http://ADDR:PORT`.
// No Debug: it would print --secret-access-key.
#[derive(Parser)]
#[command(name = "kvs-local", version)]
pub struct Cli {
    /// Address and port to listen on; port 0 picks a free one (printed on the first line).
    #[arg(long, env = "KVS_LOCAL_LISTEN", default_value_t = SocketAddr::from(([127, 0, 0, 1], config::DEFAULT_PORT)))]
    pub listen: SocketAddr,

    /// Directory for the database and the media files [default: $XDG_DATA_HOME/kvs-local,
    /// or ~/.local/share/kvs-local].
    #[arg(long, env = "KVS_LOCAL_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// Base URL GetDataEndpoint hands out [default: http:// + the Host header of the call,
    /// i.e. the address the client already uses].
    #[arg(long, value_name = "URL")]
    pub advertised_url: Option<String>,

    /// Region written into stream ARNs when a request is unsigned (signed requests use their
    /// signing region).
    #[arg(long, default_value = config::DEFAULT_REGION)]
    pub region: String,

    /// 12-digit account id written into stream ARNs.
    #[arg(long, default_value = config::DEFAULT_ACCOUNT_ID)]
    pub account_id: String,

    /// Verify every request's SigV4 signature against this access key (needs
    /// --secret-access-key). Without it, any well-formed signature is accepted.
    #[arg(long, env = "KVS_LOCAL_ACCESS_KEY_ID", requires = "secret_access_key")]
    pub access_key_id: Option<String>,

    /// Secret key for --access-key-id. Prefer the environment variable or
    /// --credentials-file: command lines are visible to other users.
    #[arg(
        long,
        env = "KVS_LOCAL_SECRET_ACCESS_KEY",
        hide_env_values = true,
        requires = "access_key_id"
    )]
    pub secret_access_key: Option<String>,

    /// Verify signatures against every key pair of this AWS shared-credentials (INI) file
    /// (all profiles with aws_access_key_id and aws_secret_access_key).
    #[arg(long, value_name = "FILE")]
    pub credentials_file: Option<PathBuf>,

    /// Also accept requests that carry no Authorization header at all (e.g. curl).
    #[arg(long)]
    pub allow_anonymous: bool,

    /// Largest accepted distance, in seconds, between a request's X-Amz-Date and this
    /// machine's clock when verifying signatures.
    #[arg(long, default_value_t = 900, value_name = "SECS")]
    pub max_clock_skew: u64,

    /// Milliseconds a new stream stays CREATING before it reads as ACTIVE.
    #[arg(long, default_value_t = 0, value_name = "MS")]
    pub activation_delay: u64,

    /// Seconds in-flight requests (e.g. PutMedia uploads) get to finish after SIGINT/SIGTERM.
    #[arg(long, default_value_t = config::DEFAULT_SHUTDOWN_GRACE.as_secs(), value_name = "SECS")]
    pub shutdown_grace: u64,

    /// Log filter for stderr, e.g. `info` or `kvs_local=debug` [default: RUST_LOG, else info].
    #[arg(long, value_name = "FILTER")]
    pub log_level: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Credentials(#[from] crate::auth::CredentialsFileError),
    #[error("--account-id must be 12 digits")]
    AccountId,
}

impl Cli {
    pub fn into_config(self) -> Result<Config, CliError> {
        if self.account_id.len() != 12 || !self.account_id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CliError::AccountId);
        }
        let mut credentials: Option<StaticSecrets> = match &self.credentials_file {
            Some(path) => Some(load_credentials_file(path)?),
            None => None,
        };
        if let (Some(id), Some(secret)) = (self.access_key_id, self.secret_access_key) {
            credentials
                .get_or_insert_with(StaticSecrets::new)
                .insert(id, secret);
        }
        let mut config = Config::new(self.data_dir.unwrap_or_else(config::default_data_dir));
        config.listen = self.listen;
        config.advertised_url = self.advertised_url;
        config.region = self.region;
        config.account_id = self.account_id;
        config.auth = AuthSettings {
            allow_anonymous: self.allow_anonymous,
            credentials,
            max_clock_skew: Duration::from_secs(self.max_clock_skew),
        };
        config.activation_delay = Duration::from_millis(self.activation_delay);
        config.shutdown_grace = Duration::from_secs(self.shutdown_grace);
        Ok(config)
    }
}

fn init_logging(filter: Option<&str>) {
    use tracing_subscriber::EnvFilter;
    let filter = match filter {
        Some(f) => EnvFilter::try_new(f).ok(),
        None => EnvFilter::try_from_default_env().ok(),
    }
    .unwrap_or_else(|| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

impl Signals {
    /// Installed before the first line is printed, so a signal sent as soon as a script
    /// sees the line is always handled.
    fn install() -> std::io::Result<Signals> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Signals {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
        })
    }

    async fn wait(&mut self) -> &'static str {
        tokio::select! {
            _ = self.term.recv() => "SIGTERM",
            _ = self.int.recv() => "SIGINT",
        }
    }
}

async fn run(config: Config) -> Result<(), Box<dyn std::error::Error>> {
    let mut signals = Signals::install()?;
    let handle = Server::start(config).await?;
    {
        // Scripts and tests wait for this exact first line to learn the port.
        let mut out = std::io::stdout().lock();
        writeln!(out, "kvs-local listening on {}", handle.base_url())?;
        out.flush()?;
    }
    let signal = signals.wait().await;
    tracing::info!(signal, "shutting down");
    handle.shutdown().await;
    Ok(())
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_level.as_deref());
    let config = match cli.into_config() {
        Ok(c) => c,
        Err(err) => {
            eprintln!("kvs-local: {err}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("kvs-local: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("kvs-local: {err}");
            ExitCode::FAILURE
        }
    }
}
