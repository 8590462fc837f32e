//! Access tokens from a token endpoint's JSON response: the standard OAuth 2.0 shape
//! (`access_token`, `expires_in`), Personio v1's (`data.token`, `data.expires_in`), and the
//! error shapes (`error`/`error_description`, `success: false` with `error.message`). No I/O:
//! an HTTP client posts the request and hands the body here.

use std::fmt;
use std::time::{Duration, SystemTime};

use serde_json::Value;

use crate::secret::Secret;

/// An access token and when it expires.
#[derive(Clone)]
pub struct Token {
    value: Secret,
    expires_at: SystemTime,
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
        Token { value, expires_at }
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
    /// for renewal about 60 s before expiry).
    pub fn is_fresh(&self, now: SystemTime, margin: Duration) -> bool {
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

fn seconds(v: Option<&Value>) -> Option<u64> {
    match v? {
        Value::Number(n) => n
            .as_u64()
            .or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Reads a token response received at `now`. `default_lifetime` applies when the response
/// states none (Personio v1 omits `expires_in` in older deployments: assume 24 h).
pub fn parse_token_response(
    body: &Value,
    now: SystemTime,
    default_lifetime: Duration,
) -> Result<Token, TokenError> {
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
            return Err(TokenError::Rejected { message });
        }
    }
    if body.get("success") == Some(&Value::Bool(false)) {
        return Err(TokenError::Rejected {
            message: "the provider answered `success: false`".to_owned(),
        });
    }
    let data = body.get("data");
    let value = text(body.get("access_token"))
        .or_else(|| text(data.and_then(|d| d.get("token"))))
        .or_else(|| text(body.get("token")))
        .ok_or(TokenError::Missing)?;
    let lifetime = seconds(body.get("expires_in"))
        .or_else(|| seconds(data.and_then(|d| d.get("expires_in"))))
        .map_or(default_lifetime, Duration::from_secs);
    let expires_at = now.checked_add(lifetime).unwrap_or(now);
    Ok(Token {
        value: Secret::new(value),
        expires_at,
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
    fn freshness_and_redaction() {
        let t = Token::new(Secret::new("papi-secret"), at() + Duration::from_secs(120));
        assert!(t.is_fresh(at(), Duration::from_secs(60)));
        assert!(!t.is_fresh(at() + Duration::from_secs(61), Duration::from_secs(60)));
        assert!(!format!("{t:?}").contains("papi-secret"));
    }
}
