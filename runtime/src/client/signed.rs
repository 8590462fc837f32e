//! JWTs the client signs itself (the JWT mode, and TWO_STEP entries that send one as
//! `${token}`): the catalog's header fields, claims and signing key rendered from the
//! connection's values, `iat` and `exp` set, signed with [`crate::jwt::sign`].

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};

use super::Connection;
use super::error::{Error, Step};
use crate::Secret;
use crate::jwt::{HmacEncoding, Protocol};
use crate::token::Token;

impl Connection {
    /// A new JWT, and when it expires.
    pub(crate) fn sign_jwt(&self) -> Result<(Secret, SystemTime, Duration), Error> {
        let inner = &self.inner;
        let failure = |message: String| Error::Token {
            path: None,
            status: 0,
            message,
        };
        let Some(settings) = inner.spec.jwt.as_ref() else {
            return Err(failure("the description has no JWT settings".to_owned()));
        };
        let protocol: Protocol = settings
            .protocol
            .parse()
            .map_err(|e: crate::jwt::JwtError| failure(e.to_string()))?;
        let encoding: HmacEncoding = settings
            .hmac_encoding
            .parse()
            .map_err(|e: crate::jwt::JwtError| failure(e.to_string()))?;
        // A credential written `id:secret` is also read as `${credentials.<key>.id}` and
        // `${credentials.<key>.secret}` (Ghost's admin API keys).
        let split: Vec<(String, &str)> = inner
            .binding
            .credential_values()
            .into_iter()
            .filter_map(|(key, value)| value.split_once(':').map(|(id, secret)| (key, id, secret)))
            .flat_map(|(key, id, secret)| {
                [(format!("{key}.id"), id), (format!("{key}.secret"), secret)]
            })
            .collect();
        let obtained: Vec<(&str, &str)> = split.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        let cx = crate::client::render_context().with_obtained(&obtained);
        let rendered = inner.binding.jwt(&cx).map_err(|source| Error::Render {
            step: Step::Token,
            source,
        })?;
        let mut header = Map::new();
        let mut claims = Map::new();
        let mut key = None;
        for entry in rendered.iter() {
            let (name, value) = (entry.name(), entry.value());
            if let Some(field) = name.strip_prefix("header.") {
                header.insert(field.to_owned(), Value::from(value));
            } else if let Some(claim) = name.strip_prefix("claim.") {
                match claim.strip_suffix("[]") {
                    // A list claim: its items split at commas, empty ones left out.
                    Some(list) => {
                        let items = claims
                            .entry(list.to_owned())
                            .or_insert_with(|| Value::Array(Vec::new()));
                        if let Value::Array(items) = items {
                            items.extend(
                                value
                                    .split(',')
                                    .map(str::trim)
                                    .filter(|s| !s.is_empty())
                                    .map(Value::from),
                            );
                        }
                    }
                    None => {
                        claims.insert(claim.to_owned(), Value::from(value));
                    }
                }
            } else if name == "key" {
                key = Some(value);
            }
        }
        claims.retain(|_, v| !matches!(v, Value::Array(items) if items.is_empty()));
        let key = key.ok_or_else(|| failure("the signing key is missing".to_owned()))?;
        let now = SystemTime::now();
        let now_unix = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let lifetime = Duration::from_millis(settings.lifetime_ms).min(crate::token::MAX_LIFETIME);
        let claims = crate::jwt::issued_claims(&claims, now_unix, lifetime.as_secs().max(1));
        let token = crate::jwt::sign(protocol, &header, &claims, key, encoding)
            .map_err(|e| failure(format!("the JWT cannot be signed: {e}")))?;
        let issued = UNIX_EPOCH + Duration::from_secs(now_unix);
        Ok((token, issued + lifetime, lifetime))
    }

    /// A JWT as the connection's access token (JWT mode).
    pub(crate) fn signed_token(&self) -> Result<Token, Error> {
        let (token, expires_at, lifetime) = self.sign_jwt()?;
        Ok(Token::issued(token, expires_at, lifetime))
    }
}
