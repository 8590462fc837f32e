//! The server's API keys: `tk_<id>_<secret>`, shown once when created; the store keeps only
//! the SHA-256 of the whole key (hex), a name, the scopes and a few timestamps.
//!
//! A presented key is found by its hash, then compared with the row's hash in constant time;
//! a revoked key is not found. Its last use is written at most once a minute (one conditional
//! update, so replicas do not write it more often either).

use std::time::SystemTime;

use base64::Engine as _;
use sha2::Digest as _;
use subtle::ConstantTimeEq as _;

use crate::backend::Val;
use crate::error::StoreError;
use crate::record::{from_ms, now_ms};
use crate::store::Store;

/// The scopes an API key may have. `admin` allows everything.
pub const API_SCOPES: &[&str] = &[
    "connections:read",
    "credentials:read",
    "connections:write",
    "proxy",
    "records",
    "sync",
    "actions",
    "admin",
];

/// The prefix of the keys this store makes.
const KEY_PREFIX: &str = "tk_";
/// The prefix of connect session tokens (never an API key).
pub(crate) const SESSION_PREFIX: &str = "tcs_";
/// The shortest secret [`Store::ensure_api_key`] accepts.
const MIN_SECRET: usize = 32;
/// The longest secret looked up or accepted.
const MAX_SECRET: usize = 512;
/// How often a key's last use is written, at most (milliseconds).
const TOUCH_EVERY_MS: i64 = 60_000;
/// The longest key name, in bytes.
const MAX_NAME: usize = 200;

/// An API key, without its secret.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ApiKey {
    /// The key's id (the `<id>` of `tk_<id>_<secret>`; not secret).
    pub id: String,
    /// What it is for, as its creator named it.
    pub name: String,
    /// Its scopes (names of [`API_SCOPES`]).
    pub scopes: Vec<String>,
    /// When it was created.
    pub created_at: SystemTime,
    /// When it was last used (written at most once a minute).
    pub last_used_at: Option<SystemTime>,
    /// Whether it was revoked (then it authenticates nothing).
    pub revoked: bool,
}

const INSERT: &str = "INSERT INTO terapi_api_keys (id, name, secret_hash, scopes, created_at)
     VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING id";
const BY_HASH: &str = "SELECT id, name, secret_hash, scopes, created_at, last_used_at, revoked_at
     FROM terapi_api_keys WHERE secret_hash = $1";
const LIST: &str = "SELECT id, name, secret_hash, scopes, created_at, last_used_at, revoked_at
     FROM terapi_api_keys ORDER BY created_at, id";
const TOUCH: &str = "UPDATE terapi_api_keys SET last_used_at = $2
     WHERE id = $1 AND (last_used_at IS NULL OR last_used_at <= $3)";
const REVOKE: &str = "UPDATE terapi_api_keys SET revoked_at = COALESCE(revoked_at, $2)
     WHERE id = $1 RETURNING id";
const RENAME: &str = "UPDATE terapi_api_keys SET name = $2, scopes = $3 WHERE id = $1";

/// The SHA-256 of a secret, in lowercase hex.
pub(crate) fn secret_hash(secret: &str) -> String {
    hex::encode(sha2::Sha256::digest(secret.as_bytes()))
}

/// Whether two hashes are equal, compared in constant time.
pub(crate) fn same_hash(a: &str, b: &str) -> bool {
    bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// 32 random bytes as unpadded base64url (43 characters).
pub(crate) fn random_secret() -> Result<String, StoreError> {
    let mut bytes = [0u8; 32];
    crate::keys::fill_random(&mut bytes)?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// 8 random bytes as lowercase hex: an id.
pub(crate) fn random_id() -> Result<String, StoreError> {
    let mut bytes = [0u8; 8];
    crate::keys::fill_random(&mut bytes)?;
    Ok(hex::encode(bytes))
}

/// Checks a key id: 1 to 64 ASCII letters, digits or `-`.
fn check_key_id(id: &str) -> Result<(), StoreError> {
    if id.is_empty() || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return Err(StoreError::invalid(
            format!("API key id `{}`", cut(id)),
            "an API key id is 1 to 64 ASCII letters, digits or `-`",
        ));
    }
    Ok(())
}

/// Text as an error shows it: escaped, cut after 64 characters.
pub(crate) fn cut(s: &str) -> String {
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i == 64 {
            out.push('…');
            break;
        }
        out.extend(c.escape_default());
    }
    out
}

fn check_name(name: &str) -> Result<(), StoreError> {
    let reason = if name.trim().is_empty() {
        "it is empty"
    } else if name.len() > MAX_NAME {
        "it is longer than 200 bytes"
    } else if name.chars().any(char::is_control) {
        "it has a control character"
    } else {
        return Ok(());
    };
    Err(StoreError::invalid(
        format!("API key name `{}`", cut(name)),
        reason,
    ))
}

/// Checks scopes against [`API_SCOPES`]; them without duplicates, in the order given.
pub fn check_scopes(scopes: &[String]) -> Result<Vec<String>, StoreError> {
    if scopes.is_empty() {
        return Err(StoreError::invalid(
            "API key scopes",
            format!("a key has at least one scope ({})", API_SCOPES.join(", ")),
        ));
    }
    let mut out: Vec<String> = Vec::with_capacity(scopes.len());
    for scope in scopes {
        if !API_SCOPES.contains(&scope.as_str()) {
            return Err(StoreError::invalid(
                format!("API key scope `{}`", cut(scope)),
                format!("unknown scope; the scopes are {}", API_SCOPES.join(", ")),
            ));
        }
        if !out.contains(scope) {
            out.push(scope.clone());
        }
    }
    Ok(out)
}

/// The id a given secret has: the `<id>` of `tk_<id>_<rest>`, else one derived from its hash.
/// Checks its shape first: 32 to 512 printable ASCII characters without spaces, not a
/// session token's prefix. The error never shows the secret.
fn given_secret_id(secret: &str) -> Result<String, StoreError> {
    let bad = |reason: String| StoreError::invalid("API key secret", reason);
    if secret.len() < MIN_SECRET {
        return Err(bad(format!(
            "a secret key has at least {MIN_SECRET} characters, this one has {} (generate one with `terapi keys create`, or 32 random bytes as hex or base64url)",
            secret.chars().count()
        )));
    }
    if secret.len() > MAX_SECRET {
        return Err(bad(format!(
            "a secret key has at most {MAX_SECRET} characters, this one has {}",
            secret.len()
        )));
    }
    if !secret.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(bad(
            "a secret key is printable ASCII without spaces (a line break or a space was given with it?)"
                .to_owned(),
        ));
    }
    if secret.starts_with(SESSION_PREFIX) {
        return Err(bad(format!(
            "`{SESSION_PREFIX}` starts connect session tokens, not secret keys"
        )));
    }
    if let Some(rest) = secret.strip_prefix(KEY_PREFIX) {
        let Some((id, tail)) = rest.split_once('_') else {
            return Err(bad(format!(
                "a secret key starting with `{KEY_PREFIX}` is `{KEY_PREFIX}<id>_<secret>`"
            )));
        };
        check_key_id(id)?;
        if tail.len() < MIN_SECRET {
            return Err(bad(format!(
                "the secret part of `{KEY_PREFIX}<id>_<secret>` has at least {MIN_SECRET} characters"
            )));
        }
        return Ok(id.to_owned());
    }
    // Domain-separated from the stored hash: the id says nothing about it.
    let derived = sha2::Sha256::digest(format!("terapi api key id\0{secret}").as_bytes());
    Ok(hex::encode(&derived[..8]))
}

/// A row as an [`ApiKey`] and its hash.
fn api_key(row: Vec<Val>) -> Result<(ApiKey, String), StoreError> {
    let mut it = row.into_iter();
    let mut next = || it.next().unwrap_or(Val::Int(None));
    let id = next().into_text().unwrap_or_default();
    let name = next().into_text().unwrap_or_default();
    let hash = next().into_text().unwrap_or_default();
    let scopes_text = next().into_text().unwrap_or_default();
    let scopes: Vec<String> =
        serde_json::from_str(&scopes_text).map_err(|e| StoreError::Corrupt {
            what: format!("API key `{id}`"),
            message: e.to_string(),
        })?;
    let created_at = from_ms(next().as_int().unwrap_or(0));
    let last_used_at = next().as_int().map(from_ms);
    let revoked = next().as_int().is_some();
    Ok((
        ApiKey {
            id,
            name,
            scopes,
            created_at,
            last_used_at,
            revoked,
        },
        hash,
    ))
}

impl Store {
    /// Creates an API key named `name` with `scopes` (names of [`API_SCOPES`], at least one):
    /// the key, and its secret `tk_<id>_<43 characters>` (shown once: the store keeps its
    /// SHA-256 only).
    pub async fn create_api_key(
        &self,
        name: &str,
        scopes: &[String],
    ) -> Result<(ApiKey, String), StoreError> {
        check_name(name)?;
        let scopes = check_scopes(scopes)?;
        for _ in 0..4 {
            let id = random_id()?;
            let secret = format!("{KEY_PREFIX}{id}_{}", random_secret()?);
            if let Some(key) = self.insert_api_key(&id, name, &secret, &scopes).await? {
                return Ok((key, secret));
            }
        }
        Err(StoreError::database(
            "four random API key ids in a row were taken",
        ))
    }

    async fn insert_api_key(
        &self,
        id: &str,
        name: &str,
        secret: &str,
        scopes: &[String],
    ) -> Result<Option<ApiKey>, StoreError> {
        let now = now_ms();
        let scopes_json = serde_json::to_string(scopes).map_err(StoreError::database)?;
        let rows = self
            .backend
            .query(
                INSERT,
                vec![
                    Val::text(id),
                    Val::text(name),
                    Val::text(secret_hash(secret)),
                    Val::text(scopes_json),
                    Val::int(now),
                ],
            )
            .await?;
        Ok((!rows.is_empty()).then(|| ApiKey {
            id: id.to_owned(),
            name: name.to_owned(),
            scopes: scopes.to_vec(),
            created_at: from_ms(now),
            last_used_at: None,
            revoked: false,
        }))
    }

    /// Makes sure the key `secret` exists with `name` and `scopes` (the first key of a
    /// server, from an environment variable): created when missing, its name and scopes set
    /// when it exists; a revoked key stays revoked. Calling it again changes nothing.
    ///
    /// The secret is 32 to 512 printable ASCII characters without spaces, not starting with
    /// a session token's `tcs_`; `tk_<id>_<secret>` gives its id, any other secret gets an id
    /// derived from it ([`StoreError::Invalid`] otherwise, without the secret).
    pub async fn ensure_api_key(
        &self,
        name: &str,
        secret: &str,
        scopes: &[String],
    ) -> Result<ApiKey, StoreError> {
        let id = given_secret_id(secret)?;
        check_name(name)?;
        let scopes = check_scopes(scopes)?;
        let hash = secret_hash(secret);
        for _ in 0..2 {
            if let Some(mut key) = self.api_key_by_hash(&hash).await? {
                if key.name != name || key.scopes != scopes {
                    let scopes_json =
                        serde_json::to_string(&scopes).map_err(StoreError::database)?;
                    self.backend
                        .query(
                            RENAME,
                            vec![
                                Val::text(key.id.as_str()),
                                Val::text(name),
                                Val::text(scopes_json),
                            ],
                        )
                        .await?;
                    key.name = name.to_owned();
                    key.scopes = scopes;
                }
                return Ok(key);
            }
            if let Some(key) = self.insert_api_key(&id, name, secret, &scopes).await? {
                return Ok(key);
            }
            // Another process inserted it meanwhile (read it again), or the id is taken.
        }
        Err(StoreError::invalid(
            format!("API key id `{id}`"),
            "another key has this id (give a secret with another `tk_<id>_` prefix)",
        ))
    }

    async fn api_key_by_hash(&self, hash: &str) -> Result<Option<ApiKey>, StoreError> {
        let rows = self.backend.query(BY_HASH, vec![Val::text(hash)]).await?;
        for row in rows {
            let (key, stored) = api_key(row)?;
            if same_hash(&stored, hash) {
                return Ok(Some(key));
            }
        }
        Ok(None)
    }

    /// The key whose secret is `secret` (as presented by a caller), if it exists and is not
    /// revoked: found by its SHA-256, compared in constant time. Notes its use (at most once
    /// a minute).
    pub async fn api_key(&self, secret: &str) -> Result<Option<ApiKey>, StoreError> {
        if secret.len() < MIN_SECRET
            || secret.len() > MAX_SECRET
            || secret.starts_with(SESSION_PREFIX)
        {
            return Ok(None);
        }
        let Some(mut key) = self.api_key_by_hash(&secret_hash(secret)).await? else {
            return Ok(None);
        };
        if key.revoked {
            return Ok(None);
        }
        let now = now_ms();
        let stale = key
            .last_used_at
            .is_none_or(|t| crate::record::to_ms(t) <= now - TOUCH_EVERY_MS);
        if stale {
            self.backend
                .query(
                    TOUCH,
                    vec![
                        Val::text(key.id.as_str()),
                        Val::int(now),
                        Val::int(now - TOUCH_EVERY_MS),
                    ],
                )
                .await?;
            key.last_used_at = Some(from_ms(now));
        }
        Ok(Some(key))
    }

    /// Every API key (revoked ones too), oldest first; never a secret.
    pub async fn api_keys(&self) -> Result<Vec<ApiKey>, StoreError> {
        self.backend
            .query(LIST, vec![])
            .await?
            .into_iter()
            .map(|row| api_key(row).map(|(key, _)| key))
            .collect()
    }

    /// Revokes the key `id`: it authenticates nothing any more. Whether there is such a key
    /// (revoking one twice is not an error).
    pub async fn revoke_api_key(&self, id: &str) -> Result<bool, StoreError> {
        check_key_id(id)?;
        Ok(!self
            .backend
            .query(REVOKE, vec![Val::text(id), Val::int(now_ms())])
            .await?
            .is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_secrets_are_checked_without_showing_them() {
        let short = "tk_abc_short-secret";
        let e = given_secret_id(short).unwrap_err().to_string();
        assert!(
            e.contains("at least 32") && !e.contains("short-secret"),
            "{e}"
        );
        let e = given_secret_id(&format!("tcs_{}", "x".repeat(43)))
            .unwrap_err()
            .to_string();
        assert!(e.contains("connect session"), "{e}");
        let e = given_secret_id(&format!("{} ", "x".repeat(40)))
            .unwrap_err()
            .to_string();
        assert!(e.contains("without spaces") && !e.contains("xxxx"), "{e}");
        let e = given_secret_id(&format!("tk_{}", "x".repeat(40)))
            .unwrap_err()
            .to_string();
        assert!(e.contains("tk_<id>_<secret>"), "{e}");
        let e = given_secret_id(&format!("tk_a.b_{}", "x".repeat(40)))
            .unwrap_err()
            .to_string();
        assert!(e.contains("API key id"), "{e}");
        assert_eq!(
            given_secret_id(&format!("tk_env1_{}", "x".repeat(40))).unwrap(),
            "env1"
        );
        let a = given_secret_id(&"a".repeat(40)).unwrap();
        let b = given_secret_id(&"b".repeat(40)).unwrap();
        assert!(a != b && a.len() == 16, "{a} {b}");
        assert!(!secret_hash(&"a".repeat(40)).starts_with(&a));
    }

    #[test]
    fn scopes_are_checked_and_deduplicated() {
        let s = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            check_scopes(&s(&["proxy", "records", "proxy"])).unwrap(),
            s(&["proxy", "records"])
        );
        let e = check_scopes(&s(&["proxy", "connections:delete"]))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("`connections:delete`") && e.contains("connections:read, credentials:read"),
            "{e}"
        );
        assert!(check_scopes(&[]).is_err());
    }

    #[test]
    fn secrets_have_their_shape() {
        let s = random_secret().unwrap();
        assert_eq!(s.len(), 43);
        assert!(
            s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_ne!(s, random_secret().unwrap());
        assert_eq!(random_id().unwrap().len(), 16);
        assert!(same_hash(&secret_hash("x"), &secret_hash("x")));
        assert!(!same_hash(&secret_hash("x"), &secret_hash("y")));
    }
}
