//! What a store keeps per connection: the part that is secret (sealed as one JSON value) and
//! the part that is not (provider, version, timestamps, the token's expiry, the lease).

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use terapi_runtime::client::{OAuthClient, TokenSet};

/// A connection as an application saves it: the provider, its params, and for a provider
/// authorized in a browser the OAuth client and the tokens. `Debug` shows the config's and the
/// credentials' names, never their values, and masks the client and the tokens.
#[derive(Clone)]
pub struct ConnectionRecord {
    /// The catalog key.
    pub provider: String,
    /// The connection config (a JSON object).
    pub config: Value,
    /// The credentials (a JSON object; empty for a provider authorized in a browser).
    pub credentials: Value,
    /// The application's OAuth client, for providers authorized in a browser.
    pub client: Option<OAuthClient>,
    /// The tokens granted, for providers authorized in a browser; for providers whose token
    /// is obtained from the credentials (OAUTH2_CC, TWO_STEP, BILL), the last one obtained,
    /// kept so that other processes reuse it until it expires (`None`: one is obtained at
    /// the first request). Saving a record replaces them.
    pub tokens: Option<TokenSet>,
}

impl ConnectionRecord {
    /// A connection of `provider` with its config and credentials (API key, basic, client
    /// credentials, ...).
    pub fn new(provider: impl Into<String>, config: Value, credentials: Value) -> Self {
        ConnectionRecord {
            provider: provider.into(),
            config,
            credentials,
            client: None,
            tokens: None,
        }
    }

    /// A connection authorized by a user: its config, the OAuth client and the tokens.
    pub fn authorized(
        provider: impl Into<String>,
        config: Value,
        client: OAuthClient,
        tokens: TokenSet,
    ) -> Self {
        ConnectionRecord {
            provider: provider.into(),
            config,
            credentials: Value::Object(Default::default()),
            client: Some(client),
            tokens: Some(tokens),
        }
    }
}

fn names(v: &Value) -> Vec<&str> {
    v.as_object()
        .map(|m| m.keys().map(String::as_str).collect())
        .unwrap_or_default()
}

impl fmt::Debug for ConnectionRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectionRecord")
            .field("provider", &self.provider)
            .field("config", &names(&self.config))
            .field("credentials", &names(&self.credentials))
            .field("client", &self.client)
            .field("tokens", &self.tokens)
            .finish()
    }
}

/// The sealed part of a row.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Sealed {
    pub config: Value,
    #[serde(default)]
    pub credentials: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<OAuthClient>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens: Option<TokenSet>,
}

/// What a store says about a connection without decrypting anything: safe to list and print.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectionInfo {
    /// The connection id.
    pub id: String,
    /// The catalog key.
    pub provider: String,
    /// Incremented by every write of the connection (a save, a refresh).
    pub version: i64,
    /// When it was first saved.
    pub created_at: SystemTime,
    /// When it was last written.
    pub updated_at: SystemTime,
    /// When its access token expires, if it has one with a stated lifetime.
    pub token_expires_at: Option<SystemTime>,
    /// The id of the key its secrets are encrypted with (`plaintext` for an unencrypted
    /// store).
    pub key_id: String,
    /// Why the user has to authorize it again, once the provider refused a refresh.
    pub reauthorize: Option<String>,
    /// Until when a process holds its refresh lease, if one does.
    pub leased_until: Option<SystemTime>,
}

/// A connection read back: what is known about it, and its decrypted record.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct StoredConnection {
    /// The non-secret part.
    pub info: ConnectionInfo,
    /// The decrypted part.
    pub record: ConnectionRecord,
}

/// An end user of the application (not secret; shown in listings).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EndUser {
    /// The application's id of the user: 1 to 255 bytes, no control character.
    pub id: String,
    /// Their email address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Their name as shown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
}

/// A connection's end user, tags and metadata.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ConnectionMeta {
    /// Whom the connection belongs to (from the connect session that made it, or set later).
    #[serde(default)]
    pub end_user: Option<EndUser>,
    /// Its tags (at most [`crate::MAX_TAGS`]).
    #[serde(default)]
    pub tags: std::collections::BTreeMap<String, String>,
    /// Anything the application keeps with it (at most [`crate::MAX_METADATA_BYTES`] as JSON).
    #[serde(default)]
    pub metadata: serde_json::Map<String, Value>,
}

/// Unix milliseconds now.
pub(crate) fn now_ms() -> i64 {
    to_ms(SystemTime::now())
}

pub(crate) fn to_ms(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

pub(crate) fn from_ms(ms: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

pub(crate) fn from_s(s: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(u64::try_from(s).unwrap_or(0))
}

pub(crate) fn to_s(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

impl ConnectionInfo {
    pub(crate) fn of(row: &crate::backend::Row) -> ConnectionInfo {
        ConnectionInfo {
            id: row.id.clone(),
            provider: row.provider.clone(),
            version: row.version,
            created_at: from_ms(row.created_at),
            updated_at: from_ms(row.updated_at),
            token_expires_at: row.expires_at.map(from_s),
            key_id: row.key_id.clone(),
            reauthorize: row.reauthorize.clone(),
            leased_until: row
                .lease_until
                .filter(|_| row.lease_owner.is_some())
                .map(from_ms),
        }
    }
}
