//! `POST /connect/sessions`: a short-lived token for one end user's browser, with the
//! providers it may connect and the tags its connections get. Only its hash is stored.

use std::collections::BTreeMap;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::{Key, need};
use crate::error::{ApiError, FieldError};
use crate::routes::{JsonBody, rfc3339};
use crate::state::Server;

pub(crate) fn routes() -> Router<Server> {
    Router::new().route("/connect/sessions", post(create))
}

/// The longest end user id, email or display name, and tag key or value.
const MAX_TEXT: usize = 255;
/// The most tags a session may carry.
const MAX_TAGS: usize = 64;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewSession {
    end_user: NewEndUser,
    #[serde(default)]
    allowed_integrations: Option<Vec<String>>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewEndUser {
    id: String,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    display_name: Option<String>,
}

/// A text a person or a program wrote: not empty, bounded, no control characters.
pub(crate) fn check_text(fields: &mut Vec<FieldError>, section: &str, param: &str, value: &str) {
    let problem = if value.trim().is_empty() {
        Some("must not be empty".to_owned())
    } else if value.len() > MAX_TEXT {
        Some(format!("must be at most {MAX_TEXT} bytes"))
    } else if value.chars().any(char::is_control) {
        Some("must not contain control characters".to_owned())
    } else {
        None
    };
    if let Some(message) = problem {
        fields.push(FieldError {
            section: section.to_owned(),
            param: param.to_owned(),
            message,
        });
    }
}

/// Tags: at most [`MAX_TAGS`]; keys of 1 to 64 printable ASCII characters without spaces or
/// `=` (they are filtered on as `key:value`), values of at most 255 bytes without control
/// characters (the store's rules, checked here to name each field).
pub(crate) fn check_tags(fields: &mut Vec<FieldError>, tags: &BTreeMap<String, String>) {
    if tags.len() > MAX_TAGS {
        fields.push(FieldError {
            section: "tags".to_owned(),
            param: String::new(),
            message: format!("at most {MAX_TAGS} tags"),
        });
        return;
    }
    for (key, value) in tags {
        let name = key.escape_default().to_string();
        let key_ok = !key.is_empty()
            && key.len() <= 64
            && key.bytes().all(|b| b.is_ascii_graphic() && b != b'=');
        if !key_ok {
            fields.push(FieldError {
                section: "tags".to_owned(),
                param: name.clone(),
                message: "a tag key is 1 to 64 printable ASCII characters without spaces or `=`"
                    .to_owned(),
            });
        }
        if value.len() > MAX_TEXT || value.chars().any(char::is_control) {
            fields.push(FieldError {
                section: "tags".to_owned(),
                param: name,
                message: format!(
                    "a tag value is at most {MAX_TEXT} bytes without control characters"
                ),
            });
        }
    }
}

async fn create(
    Key(..): Key<need::ConnectionsWrite>,
    State(server): State<Server>,
    JsonBody(body): JsonBody<NewSession>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let mut fields = Vec::new();
    check_text(&mut fields, "end_user", "id", &body.end_user.id);
    if let Some(email) = &body.end_user.email
        && (email.len() > 320 || email.trim().is_empty() || email.chars().any(char::is_control))
    {
        fields.push(FieldError {
            section: "end_user".to_owned(),
            param: "email".to_owned(),
            message: "an email is 1 to 320 bytes without control characters".to_owned(),
        });
    }
    if let Some(name) = &body.end_user.display_name {
        check_text(&mut fields, "end_user", "display_name", name);
    }
    check_tags(&mut fields, &body.tags);
    if let Some(allowed) = &body.allowed_integrations {
        if allowed.is_empty() {
            fields.push(FieldError {
                section: "allowed_integrations".to_owned(),
                param: String::new(),
                message: "must name at least one provider (leave it out to allow every one)"
                    .to_owned(),
            });
        }
        for key in allowed {
            if terapi_store::Catalog::spec(&server.inner.specs, key).is_none() {
                fields.push(FieldError {
                    section: "allowed_integrations".to_owned(),
                    param: key.escape_default().to_string(),
                    message: "no provider has this key".to_owned(),
                });
            }
        }
    }
    if !fields.is_empty() {
        return Err(ApiError::fields(
            "invalid_request",
            "the session is not valid: see `fields`",
            fields,
        ));
    }
    let end_user = terapi_store::EndUser {
        id: body.end_user.id,
        email: body.end_user.email,
        display_name: body.end_user.display_name,
    };
    let (session, token) = server
        .store()
        .create_connect_session(
            &end_user,
            body.allowed_integrations.as_deref(),
            &body.tags,
            server.config().session_ttl,
        )
        .await?;
    let mut link = server.config().public_url.clone();
    link.set_path("/connect");
    link.query_pairs_mut().append_pair("session_token", &token);
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "data": {
                "token": token,
                "connect_link": link.as_str(),
                "expires_at": rfc3339(session.expires_at),
            }
        })),
    ))
}
