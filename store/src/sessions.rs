//! Connect sessions: what an application's backend opens for one of its end users, and the
//! end user's browser then uses (the end-user routes of the server). The token,
//! `tcs_<43 characters>`, is shown once; the store keeps its SHA-256 only. An expired session
//! is not found, and expired ones are purged whenever a session is created.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use crate::api_keys::{SESSION_PREFIX, cut, random_id, random_secret, same_hash, secret_hash};
use crate::backend::Val;
use crate::error::StoreError;
use crate::record::{EndUser, from_ms, now_ms};
use crate::store::Store;

/// The longest a session lasts.
pub const MAX_SESSION_TTL: Duration = Duration::from_secs(7 * 24 * 3600);
/// The most tags a session or a connection has.
pub const MAX_TAGS: usize = 64;

/// A connect session, without its token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectSession {
    /// The session's id (not its token; not secret).
    pub id: String,
    /// Who it is for.
    pub end_user: EndUser,
    /// The providers it may connect (`None`: any).
    pub allowed_integrations: Option<Vec<String>>,
    /// The tags the connections it makes get.
    pub tags: BTreeMap<String, String>,
    /// When it was created.
    pub created_at: SystemTime,
    /// When it stops working.
    pub expires_at: SystemTime,
}

const INSERT: &str = "INSERT INTO terapi_connect_sessions (id, token_hash, end_user, allowed_integrations, tags, created_at, expires_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7)";
const BY_HASH: &str =
    "SELECT id, token_hash, end_user, allowed_integrations, tags, created_at, expires_at
     FROM terapi_connect_sessions WHERE token_hash = $1 AND expires_at > $2";
const PURGE: &str = "DELETE FROM terapi_connect_sessions WHERE expires_at <= $1";

/// Checks text given by a caller: at most `max` bytes, no control character, not empty
/// unless `empty` allows it.
pub(crate) fn check_text(
    what: &str,
    value: &str,
    max: usize,
    empty: bool,
) -> Result<(), StoreError> {
    let reason = if !empty && value.is_empty() {
        "it is empty".to_owned()
    } else if value.len() > max {
        format!("it is longer than {max} bytes")
    } else if value.chars().any(char::is_control) {
        "it has a control character".to_owned()
    } else {
        return Ok(());
    };
    Err(StoreError::invalid(
        format!("{what} `{}`", cut(value)),
        reason,
    ))
}

/// Checks an end user: an id of 1 to 255 bytes, an email of at most 320 and a display name
/// of at most 255, none with a control character.
pub(crate) fn check_end_user(user: &EndUser) -> Result<(), StoreError> {
    check_text("end user id", &user.id, 255, false)?;
    if let Some(email) = &user.email {
        check_text("end user email", email, 320, false)?;
    }
    if let Some(name) = &user.display_name {
        check_text("end user display name", name, 255, false)?;
    }
    Ok(())
}

/// Checks a tag key: 1 to 64 printable ASCII characters, no space and no `=`.
pub(crate) fn check_tag_key(key: &str) -> Result<(), StoreError> {
    if key.is_empty() || key.len() > 64 || !key.bytes().all(|b| b.is_ascii_graphic() && b != b'=') {
        return Err(StoreError::invalid(
            format!("tag `{}`", cut(key)),
            "a tag key is 1 to 64 printable ASCII characters without spaces or `=`",
        ));
    }
    Ok(())
}

/// Checks tags: at most [`MAX_TAGS`], keys by [`check_tag_key`], values of at most 255
/// bytes without control characters.
pub(crate) fn check_tags(tags: &BTreeMap<String, String>) -> Result<(), StoreError> {
    if tags.len() > MAX_TAGS {
        return Err(StoreError::invalid(
            "tags",
            format!("at most {MAX_TAGS} tags, {} given", tags.len()),
        ));
    }
    for (key, value) in tags {
        check_tag_key(key)?;
        check_text(&format!("value of tag `{key}`"), value, 255, true)?;
    }
    Ok(())
}

fn check_integrations(list: &[String]) -> Result<(), StoreError> {
    if list.len() > 1000 {
        return Err(StoreError::invalid(
            "allowed integrations",
            format!("at most 1000, {} given", list.len()),
        ));
    }
    for key in list {
        if key.is_empty() || key.len() > 200 || !key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(StoreError::invalid(
                format!("allowed integration `{}`", cut(key)),
                "a provider key is 1 to 200 printable ASCII characters without spaces",
            ));
        }
    }
    Ok(())
}

fn corrupt(id: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt {
        what: format!("connect session `{id}`"),
        message: e.to_string(),
    }
}

/// Whether `token` looks like a session token: `tcs_` and 43 base64url characters.
fn token_shape(token: &str) -> bool {
    token.strip_prefix(SESSION_PREFIX).is_some_and(|rest| {
        rest.len() == 43
            && rest
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

impl Store {
    /// Opens a connect session for `end_user` lasting `ttl` (at most [`MAX_SESSION_TTL`]):
    /// the session, and its token `tcs_<43 characters>` (shown once: the store keeps its
    /// SHA-256 only). Expired sessions are purged meanwhile.
    pub async fn create_connect_session(
        &self,
        end_user: &EndUser,
        allowed_integrations: Option<&[String]>,
        tags: &BTreeMap<String, String>,
        ttl: Duration,
    ) -> Result<(ConnectSession, String), StoreError> {
        check_end_user(end_user)?;
        if let Some(list) = allowed_integrations {
            check_integrations(list)?;
        }
        check_tags(tags)?;
        if ttl.is_zero() || ttl > MAX_SESSION_TTL {
            return Err(StoreError::invalid(
                "connect session lifetime",
                format!(
                    "a session lasts more than 0 s and at most {} s",
                    MAX_SESSION_TTL.as_secs()
                ),
            ));
        }
        let now = now_ms();
        // Opportunistic: one indexed delete per session created.
        self.backend.query(PURGE, vec![Val::int(now)]).await?;
        let ttl_ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX).max(1);
        let expires = now.saturating_add(ttl_ms);
        let id = random_id()?;
        let token = format!("{SESSION_PREFIX}{}", random_secret()?);
        let user_json = serde_json::to_string(end_user).map_err(StoreError::database)?;
        let allowed_json = allowed_integrations
            .map(serde_json::to_string)
            .transpose()
            .map_err(StoreError::database)?;
        let tags_json = serde_json::to_string(tags).map_err(StoreError::database)?;
        self.backend
            .query(
                INSERT,
                vec![
                    Val::text(id.as_str()),
                    Val::text(secret_hash(&token)),
                    Val::text(user_json),
                    Val::Text(allowed_json),
                    Val::text(tags_json),
                    Val::int(now),
                    Val::int(expires),
                ],
            )
            .await?;
        Ok((
            ConnectSession {
                id,
                end_user: end_user.clone(),
                allowed_integrations: allowed_integrations.map(<[String]>::to_vec),
                tags: tags.clone(),
                created_at: from_ms(now),
                expires_at: from_ms(expires),
            },
            token,
        ))
    }

    /// The session whose token is `token`, unless it is unknown or expired: found by its
    /// SHA-256, compared in constant time.
    pub async fn connect_session(&self, token: &str) -> Result<Option<ConnectSession>, StoreError> {
        if !token_shape(token) {
            return Ok(None);
        }
        let hash = secret_hash(token);
        let rows = self
            .backend
            .query(BY_HASH, vec![Val::text(hash.as_str()), Val::int(now_ms())])
            .await?;
        for row in rows {
            let mut it = row.into_iter();
            let mut next = || it.next().unwrap_or(Val::Int(None));
            let id = next().into_text().unwrap_or_default();
            let stored = next().into_text().unwrap_or_default();
            if !same_hash(&stored, &hash) {
                continue;
            }
            let end_user: EndUser = serde_json::from_str(&next().into_text().unwrap_or_default())
                .map_err(|e| corrupt(&id, e))?;
            let allowed_integrations = next()
                .into_text()
                .map(|t| serde_json::from_str::<Vec<String>>(&t))
                .transpose()
                .map_err(|e| corrupt(&id, e))?;
            let tags = serde_json::from_str(&next().into_text().unwrap_or_default())
                .map_err(|e| corrupt(&id, e))?;
            let created_at = from_ms(next().as_int().unwrap_or(0));
            let expires_at = from_ms(next().as_int().unwrap_or(0));
            return Ok(Some(ConnectSession {
                id,
                end_user,
                allowed_integrations,
                tags,
                created_at,
                expires_at,
            }));
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_and_values_are_checked() {
        assert!(token_shape(&format!("tcs_{}", "a".repeat(43))));
        assert!(!token_shape(&format!("tcs_{}", "a".repeat(42))));
        assert!(!token_shape(&format!("tcs_{}!", "a".repeat(42))));
        assert!(!token_shape(&format!("tk_{}", "a".repeat(44))));
        let user = |id: &str| EndUser {
            id: id.to_owned(),
            email: None,
            display_name: None,
        };
        assert!(check_end_user(&user("u 1")).is_ok());
        assert!(check_end_user(&user("")).is_err());
        assert!(check_end_user(&user("a\nb")).is_err());
        assert!(check_end_user(&user(&"x".repeat(256))).is_err());
        let tags = |k: &str, v: &str| BTreeMap::from([(k.to_owned(), v.to_owned())]);
        assert!(check_tags(&tags("team", "")).is_ok());
        assert!(check_tags(&tags("a=b", "x")).is_err());
        assert!(check_tags(&tags("a b", "x")).is_err());
        assert!(check_tags(&tags("k", "x\u{0}")).is_err());
        let many = (0..65).map(|i| (i.to_string(), String::new())).collect();
        assert!(check_tags(&many).is_err());
    }
}
