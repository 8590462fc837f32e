//! Access tokens from a token endpoint's JSON response: the standard OAuth 2.0 shape
//! (`access_token`, `expires_in`), Personio v1's (`data.token`, `data.expires_in`), and the
//! error shapes (`error`/`error_description`, `success: false` with `error.message`). No I/O:
//! an HTTP client posts the request and hands the body here.
//!
//! Lifetimes are read leniently, because providers write them every way: `expires_in` as a
//! number, a fraction or a numeric string; `expires_at` as Unix seconds, milliseconds or an RFC
//! 3339 time. A lifetime that is absent, zero, negative or not a number is "not stated" (the
//! caller's default applies); one longer than [`MAX_LIFETIME`] is cut to it. And a token is
//! renewed at most halfway through its life whatever the margin, so that a short-lived token
//! never turns into one token request per call.

use std::fmt;
use std::time::{Duration, SystemTime};

use serde_json::Value;

use crate::secret::Secret;

mod set;

#[doc(hidden)]
pub use set::whole_seconds;
pub use set::{TokenSet, metadata};

/// The longest lifetime a token is taken to have (a year): a larger `expires_in` or a later
/// `expires_at` is cut to it.
pub const MAX_LIFETIME: Duration = Duration::from_secs(365 * 24 * 60 * 60);

/// An access token and when it expires.
#[derive(Clone)]
pub struct Token {
    value: Secret,
    expires_at: SystemTime,
    /// How long it was issued for, when known: caps the renewal margin at half of it.
    lifetime: Option<Duration>,
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token")
            .field("value", &self.value)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

impl Token {
    /// A token that expires at `expires_at`.
    pub fn new(value: Secret, expires_at: SystemTime) -> Self {
        Token {
            value,
            expires_at,
            lifetime: None,
        }
    }

    /// A token issued for `lifetime`, expiring at `expires_at`.
    #[doc(hidden)]
    pub fn issued(value: Secret, expires_at: SystemTime, lifetime: Duration) -> Self {
        Token {
            value,
            expires_at,
            lifetime: Some(lifetime),
        }
    }

    /// The token (to send as `Authorization: Bearer …`).
    pub fn secret(&self) -> &Secret {
        &self.value
    }

    /// When it expires.
    pub fn expires_at(&self) -> SystemTime {
        self.expires_at
    }

    /// Whether it is still good for `margin` from `now` (renew when it is not: Personio asks
    /// for renewal about 60 s before expiry). For a token whose lifetime is known, the margin
    /// is at most half of that lifetime: a token issued for 30 s with a 60 s margin is fresh
    /// for its first 15 s, not never.
    pub fn is_fresh(&self, now: SystemTime, margin: Duration) -> bool {
        let margin = self.lifetime.map_or(margin, |l| margin.min(l / 2));
        now.checked_add(margin).is_some_and(|t| t < self.expires_at)
    }
}

/// Why a token response gave no token. Messages are the provider's, never the credentials.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// The provider refused the credentials or the request.
    #[error("the token request was rejected: {message}")]
    Rejected {
        /// The provider's error code and message.
        message: String,
    },
    /// The grant (an authorization code or a refresh token) is invalid, expired, revoked or
    /// was used already (`invalid_grant`): the user has to authorize again.
    #[error("the grant was refused (the user has to authorize again): {message}")]
    InvalidGrant {
        /// The provider's error code and message.
        message: String,
    },
    /// The response has no token where either known shape puts it.
    #[error("the token response has no `access_token` or `data.token`")]
    Missing,
}

fn text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A number, or a string holding one.
fn number(v: Option<&Value>) -> Option<f64> {
    match v? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    }
    .filter(|f| f.is_finite())
}

/// A positive number of seconds, cut to [`MAX_LIFETIME`]; `None` for anything else.
fn positive_seconds(seconds: f64) -> Option<Duration> {
    (seconds > 0.0).then(|| Duration::from_secs_f64(seconds.min(MAX_LIFETIME.as_secs_f64())))
}

/// `expires_in`: seconds from now.
fn expires_in(v: Option<&Value>) -> Option<Duration> {
    positive_seconds(number(v)?)
}

/// `expires_at`: Unix seconds (milliseconds above 10^12) or an RFC 3339 time, as the time
/// left after `now`.
fn expires_at(v: Option<&Value>, now: SystemTime) -> Option<Duration> {
    let unix = match v? {
        Value::String(s) if number(v).is_none() => {
            let at = time::OffsetDateTime::parse(
                s.trim(),
                &time::format_description::well_known::Rfc3339,
            )
            .ok()?;
            at.unix_timestamp_nanos() as f64 / 1e9
        }
        _ => {
            let n = number(v)?;
            if n > 1e12 { n / 1000.0 } else { n }
        }
    };
    let now = now
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_secs_f64();
    positive_seconds(unix - now)
}

/// Why a token response refuses, in the shapes providers use: OAuth 2.0 (`error`,
/// `error_description`; `invalid_grant` apart), Personio v1 (`success: false`, `error.code`,
/// `error.message`). `None` when it does not (an `error` beside an `access_token` is not a
/// refusal).
fn rejection(body: &Value) -> Option<TokenError> {
    if let Some(error) = body.get("error") {
        let message = match error {
            Value::String(code) => match text(body.get("error_description")) {
                Some(d) => format!("{code}: {d}"),
                None => code.clone(),
            },
            Value::Object(_) => {
                let code = text(error.get("code"));
                let msg = text(error.get("message")).unwrap_or_else(|| "no message".to_owned());
                code.map_or(msg.clone(), |c| format!("{c}: {msg}"))
            }
            _ => "no message".to_owned(),
        };
        if !body.get("access_token").is_some_and(Value::is_string) {
            return Some(if error.as_str() == Some("invalid_grant") {
                TokenError::InvalidGrant { message }
            } else {
                TokenError::Rejected { message }
            });
        }
    }
    if body.get("success") == Some(&Value::Bool(false)) {
        return Some(TokenError::Rejected {
            message: "the provider answered `success: false`".to_owned(),
        });
    }
    None
}

/// Reads a token response received at `now`. `default_lifetime` applies when the response
/// states no usable lifetime (Personio v1 omits `expires_in` in older deployments: assume 24 h);
/// see the [module docs](self) for what counts.
pub fn parse_token_response(
    body: &Value,
    now: SystemTime,
    default_lifetime: Duration,
) -> Result<Token, TokenError> {
    if let Some(error) = rejection(body) {
        return Err(error);
    }
    let data = body.get("data");
    let value = text(body.get("access_token"))
        .or_else(|| text(data.and_then(|d| d.get("token"))))
        .or_else(|| text(body.get("token")))
        .ok_or(TokenError::Missing)?;
    let stated = expires_in(body.get("expires_in"))
        .or_else(|| expires_in(data.and_then(|d| d.get("expires_in"))))
        .or_else(|| expires_at(body.get("expires_at"), now))
        .or_else(|| expires_at(data.and_then(|d| d.get("expires_at")), now));
    let lifetime = stated.unwrap_or(default_lifetime).min(MAX_LIFETIME);
    Ok(Token {
        value: Secret::new(value),
        // Within a year of any real clock, so this cannot overflow; `now` if it did.
        expires_at: now.checked_add(lifetime).unwrap_or(now),
        lifetime: Some(lifetime),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::time::UNIX_EPOCH;

    const DAY: Duration = Duration::from_secs(86_400);

    fn at() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_800_000_000)
    }

    #[test]
    fn standard_and_personio_shapes() {
        let t = parse_token_response(
            &json!({"access_token": "papi-a", "token_type": "Bearer", "expires_in": 3600}),
            at(),
            DAY,
        )
        .unwrap();
        assert_eq!(t.secret().expose(), "papi-a");
        assert_eq!(t.expires_at(), at() + Duration::from_secs(3600));
        let v1 = json!({"success": true, "data": {"token": "papi-b", "expires_in": "86400", "scope": "employees:read"}});
        let t = parse_token_response(&v1, at(), Duration::ZERO).unwrap();
        assert_eq!(t.secret().expose(), "papi-b");
        assert_eq!(t.expires_at(), at() + DAY);
        let old = json!({"success": true, "data": {"token": "papi-c"}});
        assert_eq!(
            parse_token_response(&old, at(), DAY).unwrap().expires_at(),
            at() + DAY
        );
    }

    #[test]
    fn errors_carry_the_providers_message_only() {
        let oauth = json!({"error": "invalid_client", "error_description": "Client authentication failed", "trace_id": "t"});
        assert_eq!(
            parse_token_response(&oauth, at(), DAY)
                .unwrap_err()
                .to_string(),
            "the token request was rejected: invalid_client: Client authentication failed"
        );
        let v1 =
            json!({"success": false, "error": {"code": 401, "message": "Invalid credentials"}});
        assert_eq!(
            parse_token_response(&v1, at(), DAY).unwrap_err(),
            TokenError::Rejected {
                message: "401: Invalid credentials".into()
            }
        );
        assert_eq!(
            parse_token_response(&json!({"success": false}), at(), DAY)
                .unwrap_err()
                .to_string(),
            "the token request was rejected: the provider answered `success: false`"
        );
        assert_eq!(
            parse_token_response(&json!({"data": {}}), at(), DAY).unwrap_err(),
            TokenError::Missing
        );
        assert_eq!(
            parse_token_response(&json!({"access_token": ""}), at(), DAY).unwrap_err(),
            TokenError::Missing
        );
    }

    #[test]
    fn lifetimes_are_read_leniently() {
        let life = |body: Value| {
            parse_token_response(&body, at(), DAY)
                .unwrap()
                .expires_at()
                .duration_since(at())
                .unwrap()
        };
        let hour = Duration::from_secs(3600);
        for expires_in in [
            json!(3600),
            json!("3600"),
            json!(" 3600 "),
            json!(3600.0),
            json!("3.6e3"),
        ] {
            assert_eq!(
                life(json!({"access_token": "a", "expires_in": expires_in})),
                hour
            );
        }
        assert_eq!(
            life(json!({"access_token": "a", "expires_in": 1.5})),
            Duration::from_millis(1500)
        );
        // Not stated: the default applies (never a token that is stale when it arrives).
        for expires_in in [
            json!(0),
            json!(-60),
            json!("-1"),
            json!("soon"),
            json!(null),
            json!([3600]),
            json!("NaN"),
        ] {
            assert_eq!(
                life(json!({"access_token": "a", "expires_in": expires_in})),
                DAY,
                "{expires_in}"
            );
        }
        // Absurdly large: cut to a year, not an overflow into "expired now".
        for expires_in in [
            json!(u64::MAX),
            json!(1e300),
            json!("99999999999999999999999"),
        ] {
            assert_eq!(
                life(json!({"access_token": "a", "expires_in": expires_in})),
                MAX_LIFETIME
            );
        }
        assert_eq!(
            parse_token_response(&json!({"access_token": "a"}), at(), Duration::MAX)
                .unwrap()
                .expires_at(),
            at() + MAX_LIFETIME
        );
        // `expires_at`: Unix seconds, milliseconds, RFC 3339.
        let unix = 1_800_000_000u64 + 3600;
        for expires_at in [
            json!(unix),
            json!(unix.to_string()),
            json!(unix * 1000),
            json!("2027-01-15T09:00:00Z"),
            json!("2027-01-15T10:00:00+01:00"),
        ] {
            assert_eq!(
                life(json!({"access_token": "a", "expires_at": expires_at})),
                hour,
                "{expires_at}"
            );
        }
        // In the past, or unreadable: not stated.
        for expires_at in [
            json!(1_000),
            json!("yesterday"),
            json!("2020-01-01T00:00:00Z"),
        ] {
            assert_eq!(
                life(json!({"access_token": "a", "expires_at": expires_at})),
                DAY,
                "{expires_at}"
            );
        }
        // `expires_in` wins over `expires_at`.
        assert_eq!(
            life(json!({"access_token": "a", "expires_in": 60, "expires_at": unix})),
            Duration::from_secs(60)
        );
    }

    #[test]
    fn a_token_shorter_lived_than_the_margin_is_fresh_for_half_its_life() {
        let margin = Duration::from_secs(60);
        let t = parse_token_response(&json!({"access_token": "a", "expires_in": 30}), at(), DAY)
            .unwrap();
        assert!(t.is_fresh(at(), margin));
        assert!(t.is_fresh(at() + Duration::from_secs(14), margin));
        assert!(!t.is_fresh(at() + Duration::from_secs(15), margin));
        // A long-lived one keeps the whole margin.
        let t = parse_token_response(&json!({"access_token": "a", "expires_in": 3600}), at(), DAY)
            .unwrap();
        assert!(t.is_fresh(at() + Duration::from_secs(3539), margin));
        assert!(!t.is_fresh(at() + Duration::from_secs(3540), margin));
    }

    #[test]
    fn freshness_and_redaction() {
        let t = Token::new(Secret::new("papi-secret"), at() + Duration::from_secs(120));
        assert!(t.is_fresh(at(), Duration::from_secs(60)));
        assert!(!t.is_fresh(at() + Duration::from_secs(61), Duration::from_secs(60)));
        assert!(!format!("{t:?}").contains("papi-secret"));
    }
}
