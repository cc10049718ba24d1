// SPDX-License-Identifier: MPL-2.0
//! Secret access keys as the verifier sees them: never printed.

use std::collections::HashMap;

/// A secret access key. Its `Debug` output is redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretKey(String);

impl SecretKey {
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(** redacted **)")
    }
}

/// Where the verifier finds the secret belonging to an access key id.
pub trait SecretStore {
    fn secret_for(&self, access_key_id: &str) -> Option<SecretKey>;
}

impl<F> SecretStore for F
where
    F: Fn(&str) -> Option<SecretKey>,
{
    fn secret_for(&self, access_key_id: &str) -> Option<SecretKey> {
        self(access_key_id)
    }
}

/// A fixed set of access keys.
#[derive(Clone, Default)]
pub struct StaticSecrets {
    keys: HashMap<String, SecretKey>,
}

impl StaticSecrets {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with(mut self, access_key_id: impl Into<String>, secret: impl Into<String>) -> Self {
        self.insert(access_key_id, secret);
        self
    }

    pub fn insert(&mut self, access_key_id: impl Into<String>, secret: impl Into<String>) {
        self.keys
            .insert(access_key_id.into(), SecretKey::new(secret));
    }
}

impl std::fmt::Debug for StaticSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaticSecrets")
            .field("access_key_ids", &self.keys.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl SecretStore for StaticSecrets {
    fn secret_for(&self, access_key_id: &str) -> Option<SecretKey> {
        self.keys.get(access_key_id).cloned()
    }
}
