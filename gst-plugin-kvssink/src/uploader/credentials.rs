// SPDX-License-Identifier: MPL-2.0
//! Credentials for the control plane and for signing PutMedia: static keys, AWS's
//! `credential-path` file (re-read when it changes), or the SDK's default chain, behind one
//! cache that hands every new connection fresh credentials and can be forced to refresh
//! after a 403.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider, future};

use super::config::CredentialsConfig;
use super::error::UploaderError;

/// Credentials this close to expiry are fetched again before signing a new connection.
const REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);

/// AWS's credential file: `CREDENTIALS <akid> <secret>` or
/// `CREDENTIALS <akid> <expiration> <secret> <session token>`.
#[derive(Debug)]
pub struct FileCredentialsProvider {
    path: PathBuf,
    cache: Mutex<Option<(Option<SystemTime>, Credentials)>>,
}

impl FileCredentialsProvider {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            cache: Mutex::new(None),
        }
    }

    /// Reads the file unless it is unchanged since the last read and its credentials have not
    /// expired.
    pub fn load(&self) -> Result<Credentials, UploaderError> {
        let err = |reason: String| UploaderError::CredentialFile {
            path: self.path.display().to_string(),
            reason,
        };
        let mtime = std::fs::metadata(&self.path)
            .map_err(|e| err(format!("cannot read it: {e}")))?
            .modified()
            .ok();
        if let Ok(cache) = self.cache.lock()
            && let Some((cached_mtime, creds)) = cache.as_ref()
            && mtime.is_some()
            && *cached_mtime == mtime
            && creds.expiry().is_none_or(|exp| exp > SystemTime::now())
        {
            return Ok(creds.clone());
        }
        let text =
            std::fs::read_to_string(&self.path).map_err(|e| err(format!("cannot read it: {e}")))?;
        let creds = parse_credential_file(&text).map_err(err)?;
        if let Ok(mut cache) = self.cache.lock() {
            *cache = Some((mtime, creds.clone()));
        }
        Ok(creds)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl ProvideCredentials for FileCredentialsProvider {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::ready(
            self.load()
                .map_err(|e| CredentialsError::provider_error(e.to_string())),
        )
    }
}

/// Parses the credential file's text. Errors never echo the secret.
pub fn parse_credential_file(text: &str) -> Result<Credentials, String> {
    let mut words = text.split_whitespace();
    if words.next() != Some("CREDENTIALS") {
        return Err("it does not start with CREDENTIALS".into());
    }
    let rest: Vec<&str> = words.collect();
    match rest.as_slice() {
        [akid, secret] => Ok(Credentials::new(
            *akid,
            *secret,
            None,
            None,
            "kvssink-credential-path",
        )),
        [akid, expiration, secret, token] => {
            let expiry = parse_expiration(expiration)
                .ok_or_else(|| format!("expiration {expiration:?} is not an ISO-8601 time"))?;
            Ok(Credentials::new(
                *akid,
                *secret,
                Some((*token).to_owned()),
                Some(expiry),
                "kvssink-credential-path",
            ))
        }
        other => Err(format!(
            "it has {} field(s) after CREDENTIALS, expected 2 or 4",
            other.len()
        )),
    }
}

fn parse_expiration(s: &str) -> Option<SystemTime> {
    use time::format_description::well_known::{Iso8601, Rfc3339};
    let t = time::OffsetDateTime::parse(s, &Rfc3339)
        .or_else(|_| time::OffsetDateTime::parse(s, &Iso8601::DEFAULT))
        .ok()?;
    Some(SystemTime::from(t))
}

/// Picks the credential source the configuration names. The default chain is the SDK's
/// (environment, profile, SSO, web identity, ECS, IMDS).
pub(crate) async fn provider_from_config(
    cfg: &CredentialsConfig,
    region: &aws_config::Region,
) -> (SharedCredentialsProvider, CacheMode) {
    if let Some(provider) = &cfg.provider {
        return (provider.clone(), CacheMode::Cached);
    }
    if let (Some(ak), Some(sk)) = (&cfg.access_key, &cfg.secret_key) {
        let creds = Credentials::new(
            ak.clone(),
            sk.clone(),
            cfg.session_token.clone(),
            None,
            "kvssink-properties",
        );
        return (SharedCredentialsProvider::new(creds), CacheMode::AlwaysAsk);
    }
    if let Some(path) = &cfg.credential_path {
        return (
            SharedCredentialsProvider::new(FileCredentialsProvider::new(path.clone())),
            // The file provider is cheap and must notice a rewritten file at once.
            CacheMode::AlwaysAsk,
        );
    }
    let chain = aws_config::default_provider::credentials::DefaultCredentialsChain::builder()
        .region(region.clone())
        .build()
        .await;
    (SharedCredentialsProvider::new(chain), CacheMode::Cached)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CacheMode {
    /// Keep credentials until close to expiry (providers that make network calls).
    Cached,
    /// Ask the provider every time (it is cheap and caches itself).
    AlwaysAsk,
}

/// Hands out credentials for signing, refreshing them before expiry and on demand.
#[derive(Debug)]
pub(crate) struct CredentialCache {
    provider: SharedCredentialsProvider,
    mode: CacheMode,
    cached: tokio::sync::Mutex<Option<Credentials>>,
}

impl CredentialCache {
    pub(crate) fn new(provider: SharedCredentialsProvider, mode: CacheMode) -> Self {
        Self {
            provider,
            mode,
            cached: tokio::sync::Mutex::new(None),
        }
    }

    pub(crate) async fn get(&self) -> Result<Credentials, UploaderError> {
        let mut cached = self.cached.lock().await;
        if self.mode == CacheMode::Cached
            && let Some(creds) = cached.as_ref()
            && creds
                .expiry()
                .is_none_or(|exp| exp > SystemTime::now() + REFRESH_MARGIN)
        {
            return Ok(creds.clone());
        }
        let fresh = self.fetch().await?;
        *cached = Some(fresh.clone());
        Ok(fresh)
    }

    /// Drops what is cached so that the next `get` asks the provider again.
    pub(crate) async fn invalidate(&self) {
        *self.cached.lock().await = None;
    }

    async fn fetch(&self) -> Result<Credentials, UploaderError> {
        self.provider
            .provide_credentials()
            .await
            .map_err(|e| UploaderError::CredentialsUnavailable(error_chain(&e)))
    }
}

pub(crate) fn error_chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_file_forms() {
        let c = parse_credential_file("CREDENTIALS AKID SECRET\n").expect("short form");
        assert_eq!(c.access_key_id(), "AKID");
        assert_eq!(c.secret_access_key(), "SECRET");
        assert!(c.session_token().is_none());
        assert!(c.expiry().is_none());

        let c = parse_credential_file("CREDENTIALS AKID 2030-01-02T03:04:05Z SECRET TOKEN")
            .expect("long form");
        assert_eq!(c.session_token(), Some("TOKEN"));
        let exp = c.expiry().expect("expiry");
        let secs = exp
            .duration_since(SystemTime::UNIX_EPOCH)
            .expect("after epoch")
            .as_secs();
        assert_eq!(secs, 1_893_553_445);
    }

    #[test]
    fn rejects_bad_files_without_leaking() {
        assert!(parse_credential_file("").is_err());
        assert!(parse_credential_file("KEYS A B").is_err());
        let e = parse_credential_file("CREDENTIALS AKID SUPERSECRET extra").expect_err("3 fields");
        assert!(!e.contains("SUPERSECRET"));
        assert!(parse_credential_file("CREDENTIALS A notatime S T").is_err());
    }

    #[test]
    fn file_is_reread_when_it_changes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("creds");
        std::fs::write(&path, "CREDENTIALS OLD S1").expect("write");
        let p = FileCredentialsProvider::new(&path);
        assert_eq!(p.load().expect("load").access_key_id(), "OLD");
        std::fs::write(&path, "CREDENTIALS NEWER S2").expect("write");
        // Force a different mtime even on coarse-grained file systems.
        let later = SystemTime::now() + Duration::from_secs(5);
        std::fs::File::options()
            .write(true)
            .open(&path)
            .and_then(|f| f.set_modified(later))
            .expect("set mtime");
        assert_eq!(p.load().expect("load").access_key_id(), "NEWER");
    }
}
