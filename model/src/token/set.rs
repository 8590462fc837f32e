//! The tokens of an authorized connection (OAuth 2.0 authorization code and the modes built
//! on it): what a token response grants, what a connection keeps, and what a store saves.

use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use super::{MAX_LIFETIME, Token, TokenError, expires_at, expires_in, rejection, text};
use crate::secret::Secret;

/// An access token, the refresh token that renews it, when it expires, and the values of the
/// token response that later templates read (`token_response_metadata`, e.g. an instance URL).
///
/// It serializes with its secrets in clear (it is what a store keeps: keep it encrypted at
/// rest); `Debug` masks them. Made by a connection from a token response
/// (`Connection::tokens`), or with [`TokenSet::new`] from tokens obtained elsewhere.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenSet {
    access_token: Secret,
    refresh_token: Option<Secret>,
    /// OAuth 1.0a's token secret.
    token_secret: Option<Secret>,
    /// `None`: the provider stated no lifetime.
    expires_at: Option<SystemTime>,
    issued_at: SystemTime,
    scope: Option<String>,
    token_type: Option<String>,
    metadata: BTreeMap<String, String>,
}

impl fmt::Debug for TokenSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenSet")
            .field("access_token", &self.access_token)
            .field("refresh_token", &self.refresh_token)
            .field("token_secret", &self.token_secret)
            .field("expires_at", &self.expires_at)
            .field("issued_at", &self.issued_at)
            .field("scope", &self.scope)
            .field("token_type", &self.token_type)
            .field("metadata", &self.metadata)
            .finish()
    }
}

impl TokenSet {
    /// An access token issued now, without a refresh token or a stated lifetime.
    pub fn new(access_token: impl Into<Secret>) -> Self {
        TokenSet {
            access_token: access_token.into(),
            refresh_token: None,
            token_secret: None,
            expires_at: None,
            issued_at: whole_seconds(SystemTime::now()),
            scope: None,
            token_type: None,
            metadata: BTreeMap::new(),
        }
    }

    /// Issued at `at` (to the second) instead of now.
    #[doc(hidden)]
    pub fn issued_at_time(mut self, at: SystemTime) -> Self {
        self.issued_at = whole_seconds(at);
        self
    }

    /// With an OAuth 1.0a token secret.
    pub fn with_token_secret(mut self, secret: impl Into<Secret>) -> Self {
        self.token_secret = Some(secret.into());
        self
    }

    /// OAuth 1.0a's token secret, for a token of that mode.
    pub fn token_secret(&self) -> Option<&Secret> {
        self.token_secret.as_ref()
    }

    /// With a refresh token.
    pub fn with_refresh_token(mut self, refresh_token: impl Into<Secret>) -> Self {
        self.refresh_token = Some(refresh_token.into());
        self
    }

    /// Expiring at `at` (at most [`MAX_LIFETIME`] after it was issued).
    pub fn with_expires_at(mut self, at: SystemTime) -> Self {
        self.expires_at = Some(cap(self.issued_at, whole_seconds(at)));
        self
    }

    /// With a value of the token response that templates read (`token_response_metadata`).
    pub fn with_metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }

    /// The access token.
    pub fn access_token(&self) -> &Secret {
        &self.access_token
    }

    /// The refresh token, when the provider gave one.
    pub fn refresh_token(&self) -> Option<&Secret> {
        self.refresh_token.as_ref()
    }

    /// When the access token expires, when the provider said.
    pub fn expires_at(&self) -> Option<SystemTime> {
        self.expires_at
    }

    /// When the access token was issued (received).
    pub fn issued_at(&self) -> SystemTime {
        self.issued_at
    }

    /// The scopes granted, as the provider wrote them (`scope`), when it did.
    pub fn scope(&self) -> Option<&str> {
        self.scope.as_deref()
    }

    /// `token_type`, e.g. `Bearer`.
    pub fn token_type(&self) -> Option<&str> {
        self.token_type.as_deref()
    }

    /// The values of the token response (and of the callback) that the catalog keeps for the
    /// connection config (`token_response_metadata`, `redirect_uri_metadata`), by name.
    pub fn metadata(&self) -> &BTreeMap<String, String> {
        &self.metadata
    }

    /// The access token as the client caches it: its expiry is the stated one, else
    /// `default_lifetime` after it was issued.
    #[doc(hidden)]
    pub fn token(&self, default_lifetime: Duration) -> Token {
        let expires_at = self.expires_at.unwrap_or_else(|| {
            cap(
                self.issued_at,
                self.issued_at
                    .checked_add(default_lifetime)
                    .unwrap_or(self.issued_at),
            )
        });
        let lifetime = expires_at
            .duration_since(self.issued_at)
            .unwrap_or_default();
        Token {
            value: self.access_token.clone(),
            expires_at,
            lifetime: Some(lifetime),
        }
    }

    /// A renewal's tokens: the refresh token is kept when the response has none (most
    /// providers do not rotate it), and so are metadata the response does not repeat.
    #[doc(hidden)]
    pub fn renewed(&self, mut new: TokenSet) -> TokenSet {
        if new.refresh_token.is_none() {
            new.refresh_token = self.refresh_token.clone();
        }
        if new.scope.is_none() {
            new.scope = self.scope.clone();
        }
        for (key, value) in &self.metadata {
            new.metadata
                .entry(key.clone())
                .or_insert_with(|| value.clone());
        }
        new
    }

    /// Adds metadata (from the callback) that the token response did not set.
    #[doc(hidden)]
    pub fn add_metadata(&mut self, values: BTreeMap<String, String>) {
        for (key, value) in values {
            self.metadata.entry(key).or_insert(value);
        }
    }

    /// Reads a token response received at `now`: `access_token` (or, when `access_token_path`
    /// is given and the top level has none, the value at that dotted path: a string, or an
    /// object whose `access_token`, `refresh_token` and lifetime are read instead, as Slack's
    /// `authed_user`), `refresh_token`, the lifetime (read as leniently as
    /// [`parse_token_response`](super::parse_token_response) does; not stated stays `None`),
    /// `scope` and `token_type`. `invalid_grant` is [`TokenError::InvalidGrant`].
    pub fn from_response(
        body: &Value,
        now: SystemTime,
        access_token_path: Option<&str>,
    ) -> Result<TokenSet, TokenError> {
        if let Some(error) = rejection(body) {
            return Err(error);
        }
        // Stored as whole seconds: a saved set reads back equal.
        let now = whole_seconds(now);
        let (context, access_token) = match text(body.get("access_token")) {
            Some(token) => (body, token),
            None => {
                let at = access_token_path
                    .and_then(|path| lookup(body, path))
                    .ok_or(TokenError::Missing)?;
                match at {
                    Value::Object(_) => {
                        (at, text(at.get("access_token")).ok_or(TokenError::Missing)?)
                    }
                    other => (body, text(Some(other)).ok_or(TokenError::Missing)?),
                }
            }
        };
        let stated = expires_in(context.get("expires_in"))
            .or_else(|| expires_at(context.get("expires_at"), now));
        let scope = match context.get("scope").or_else(|| body.get("scope")) {
            Some(Value::Array(items)) => {
                let items: Vec<&str> = items.iter().filter_map(Value::as_str).collect();
                (!items.is_empty()).then(|| items.join(" "))
            }
            other => text(other),
        };
        Ok(TokenSet {
            access_token: Secret::new(access_token),
            refresh_token: text(context.get("refresh_token")).map(Secret::new),
            token_secret: None,
            // Whole seconds, rounded up, as stored.
            expires_at: stated.map(|d| {
                let d = d.min(MAX_LIFETIME);
                let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
                now.checked_add(Duration::from_secs(secs)).unwrap_or(now)
            }),
            issued_at: now,
            scope,
            token_type: text(context.get("token_type")),
            metadata: BTreeMap::new(),
        })
    }
}

/// `t` without its fraction of a second.
#[doc(hidden)]
pub fn whole_seconds(t: SystemTime) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(unix(t))
}

/// `at`, or [`MAX_LIFETIME`] after `issued` if later.
fn cap(issued: SystemTime, at: SystemTime) -> SystemTime {
    match issued.checked_add(MAX_LIFETIME) {
        Some(max) if at > max => max,
        _ => at,
    }
}

/// The value at a dotted path (`authed_user.access_token`, `team.id`).
fn lookup<'v>(body: &'v Value, path: &str) -> Option<&'v Value> {
    if let Some(v) = body.get(path) {
        return Some(v);
    }
    path.split('.').try_fold(body, |v, key| v.get(key))
}

/// The values at `keys` (dotted paths, kept under their dotted names) of a token response:
/// strings, booleans and numbers, as text; other values and absent keys are left out.
pub fn metadata<'k>(
    body: &Value,
    keys: impl IntoIterator<Item = &'k str>,
) -> BTreeMap<String, String> {
    keys.into_iter()
        .filter_map(|key| {
            let value = match lookup(body, key)? {
                Value::String(s) if !s.is_empty() => s.clone(),
                Value::Bool(b) => b.to_string(),
                Value::Number(n) => n.to_string(),
                _ => return None,
            };
            Some((key.to_owned(), value))
        })
        .collect()
}

/// What a token set is stored as: times as Unix seconds, secrets in clear.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Stored {
    access_token: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    token_secret: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expires_at: Option<u64>,
    issued_at: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    scope: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    token_type: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    metadata: BTreeMap<String, String>,
}

fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

impl serde::Serialize for TokenSet {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        Stored {
            access_token: self.access_token.expose().to_owned(),
            refresh_token: self.refresh_token.as_ref().map(|r| r.expose().to_owned()),
            token_secret: self.token_secret.as_ref().map(|r| r.expose().to_owned()),
            expires_at: self.expires_at.map(unix),
            issued_at: unix(self.issued_at),
            scope: self.scope.clone(),
            token_type: self.token_type.clone(),
            metadata: self.metadata.clone(),
        }
        .serialize(s)
    }
}

impl<'de> serde::Deserialize<'de> for TokenSet {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error as _;
        let stored = Stored::deserialize(d)?;
        if stored.access_token.is_empty() {
            return Err(D::Error::custom("`access_token` is empty"));
        }
        let time = |secs: u64, what: &str| {
            UNIX_EPOCH
                .checked_add(Duration::from_secs(secs))
                .ok_or_else(|| D::Error::custom(format!("`{what}` is out of range")))
        };
        let issued_at = time(stored.issued_at, "issued_at")?;
        let expires_at = match stored.expires_at {
            Some(at) => Some(cap(issued_at, time(at, "expires_at")?)),
            None => None,
        };
        Ok(TokenSet {
            access_token: Secret::new(stored.access_token),
            refresh_token: stored
                .refresh_token
                .filter(|r| !r.is_empty())
                .map(Secret::new),
            token_secret: stored.token_secret.map(Secret::new),
            expires_at,
            issued_at,
            scope: stored.scope,
            token_type: stored.token_type,
            metadata: stored.metadata,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_800_000_000)
    }

    #[test]
    fn reads_the_standard_shape_with_string_lifetimes() {
        let body = json!({"access_token": "at-1", "refresh_token": "rt-1", "expires_in": "3600",
            "token_type": "Bearer", "scope": "a b", "instance_url": "https://x.example.com"});
        let set = TokenSet::from_response(&body, at(), None).unwrap();
        assert_eq!(set.access_token().expose(), "at-1");
        assert_eq!(set.refresh_token().unwrap().expose(), "rt-1");
        assert_eq!(set.expires_at(), Some(at() + Duration::from_secs(3600)));
        assert_eq!(set.scope(), Some("a b"));
        assert_eq!(set.token_type(), Some("Bearer"));
        let meta = metadata(&body, ["instance_url", "missing"]);
        assert_eq!(meta.len(), 1);
        assert_eq!(meta["instance_url"], "https://x.example.com");
    }

    #[test]
    fn no_stated_lifetime_stays_unknown_and_defaults_when_cached() {
        for expires_in in [json!(0), json!(-5), json!("soon"), json!(null)] {
            let body = json!({"access_token": "a", "expires_in": expires_in});
            let set = TokenSet::from_response(&body, at(), None).unwrap();
            assert_eq!(set.expires_at(), None);
            let token = set.token(Duration::from_secs(600));
            assert_eq!(token.expires_at(), at() + Duration::from_secs(600));
        }
        let body = json!({"access_token": "a", "expires_in": 1e300});
        let set = TokenSet::from_response(&body, at(), None).unwrap();
        assert_eq!(set.expires_at(), Some(at() + MAX_LIFETIME));
    }

    #[test]
    fn alternate_path_object_and_value() {
        let slack = json!({"ok": true, "authed_user": {"access_token": "xoxp", "refresh_token": "r", "expires_in": 60}});
        let set = TokenSet::from_response(&slack, at(), Some("authed_user")).unwrap();
        assert_eq!(set.access_token().expose(), "xoxp");
        assert_eq!(set.refresh_token().unwrap().expose(), "r");
        let nested = json!({"data": {"token": "t"}});
        let set = TokenSet::from_response(&nested, at(), Some("data.token")).unwrap();
        assert_eq!(set.access_token().expose(), "t");
        assert_eq!(
            TokenSet::from_response(&nested, at(), None).unwrap_err(),
            TokenError::Missing
        );
    }

    #[test]
    fn invalid_grant_is_its_own_error() {
        let body = json!({"error": "invalid_grant", "error_description": "refresh token reused"});
        assert_eq!(
            TokenSet::from_response(&body, at(), None).unwrap_err(),
            TokenError::InvalidGrant {
                message: "invalid_grant: refresh token reused".into()
            }
        );
        let other = json!({"error": "invalid_client"});
        assert!(matches!(
            TokenSet::from_response(&other, at(), None),
            Err(TokenError::Rejected { .. })
        ));
    }

    #[test]
    fn renewal_keeps_what_the_response_omits() {
        let old = TokenSet::new("a1")
            .with_refresh_token("r1")
            .with_metadata("instance_url", "https://x");
        let kept = old.renewed(TokenSet::new("a2"));
        assert_eq!(kept.refresh_token().unwrap().expose(), "r1");
        assert_eq!(kept.metadata()["instance_url"], "https://x");
        assert_eq!(kept.refresh_token(), old.refresh_token());
        let rotated = old.renewed(TokenSet::new("a3").with_refresh_token("r2"));
        assert_eq!(rotated.refresh_token().unwrap().expose(), "r2");
    }

    #[test]
    fn serde_round_trip_and_debug_masks() {
        let set = TokenSet::from_response(
            &json!({"access_token": "secret-at", "refresh_token": "secret-rt", "expires_in": 60}),
            at(),
            None,
        )
        .unwrap()
        .with_metadata("realmId", "42");
        let text = serde_json::to_string(&set).unwrap();
        assert_eq!(
            text,
            r#"{"access_token":"secret-at","refresh_token":"secret-rt","expires_at":1800000060,"issued_at":1800000000,"metadata":{"realmId":"42"}}"#
        );
        let back: TokenSet = serde_json::from_str(&text).unwrap();
        assert_eq!(back, set);
        let debug = format!("{set:?}");
        assert!(!debug.contains("secret-at") && !debug.contains("secret-rt"));
        for bad in [
            r#"{"access_token":"","issued_at":1}"#,
            r#"{"issued_at":1,"refresh_token":"v4lue-9"}"#,
            r#"{"access_token":"v4lue-9","issued_at":1,"extra":1}"#,
            r#"{"access_token":"v4lue-9","issued_at":18446744073709551615}"#,
        ] {
            let err = serde_json::from_str::<TokenSet>(bad)
                .unwrap_err()
                .to_string();
            assert!(!err.contains("v4lue-9"), "{err}");
        }
    }
}
