//! Errors as the API answers them: a status and `{"error": {"code", "message", ...}}`. A
//! message never carries a secret: what a provider sends back reaches it only masked by the
//! connection, and store errors are shown as the store words them (no secret, no password).

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// A problem with one field of a request (a connection param, an action's input).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// Where the field is: `params` (the connection config), `credentials`, `input`.
    pub section: String,
    /// The field's name as the catalog or the model writes it.
    pub param: String,
    /// What is wrong, in a sentence.
    pub message: String,
}

/// An error answer.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// A stable code: `unauthorized`, `forbidden`, `not_found`, `invalid_params`, ...
    pub code: &'static str,
    /// A sentence for people.
    pub message: String,
    /// For `invalid_params` and `invalid_input`: every field's problem.
    pub fields: Vec<FieldError>,
    /// Seconds to wait, for a 429 or 503.
    pub retry_after: Option<u64>,
}

#[derive(Serialize)]
struct Body<'a> {
    error: Inner<'a>,
}

#[derive(Serialize)]
struct Inner<'a> {
    code: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "<[FieldError]>::is_empty")]
    fields: &'a [FieldError],
}

impl ApiError {
    /// An error with `status`, `code` and `message`.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            fields: Vec::new(),
            retry_after: None,
        }
    }

    /// 400 `invalid_request`.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", message)
    }

    /// 404 `not_found`.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// 401 `unauthorized`.
    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    /// 403 `forbidden`.
    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// 500 `internal_error`: the details go to the log, not to the caller.
    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal_error", message)
    }

    /// 422 with every field's problem.
    pub fn fields(
        code: &'static str,
        message: impl Into<String>,
        fields: Vec<FieldError>,
    ) -> ApiError {
        ApiError {
            fields,
            ..ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
        }
    }

    /// With `Retry-After: seconds`.
    pub fn retry_after(mut self, seconds: u64) -> ApiError {
        self.retry_after = Some(seconds);
        self
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Body {
            error: Inner {
                code: self.code,
                message: &self.message,
                fields: &self.fields,
            },
        };
        let mut response = (self.status, Json(body)).into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(http::header::RETRY_AFTER, http::HeaderValue::from(seconds));
        }
        response
    }
}

impl From<terapi_store::StoreError> for ApiError {
    fn from(e: terapi_store::StoreError) -> ApiError {
        use terapi_store::StoreError as E;
        match e {
            E::NotFound { .. } => ApiError::not_found(e.to_string()),
            E::Exists { .. } => ApiError::new(StatusCode::CONFLICT, "conflict", e.to_string()),
            E::InvalidId { .. } | E::Invalid { .. } => ApiError::bad_request(e.to_string()),
            other => {
                tracing::error!(error = %other, "store error");
                ApiError::internal("the store failed; see the server's log")
            }
        }
    }
}

/// Every problem of a connection's params and credentials, as fields: `section` is the
/// request's key (`params` or `credentials`), the message the validator's without its
/// prefix. Values of secret params are never quoted (the validator keeps none).
pub fn validation_fields(errors: &terapi_runtime::ValidationErrors) -> Vec<FieldError> {
    errors
        .iter()
        .map(|e| {
            let section = match e.section() {
                terapi_runtime::Section::ConnectionConfig => "params",
                terapi_runtime::Section::Credentials => "credentials",
            };
            let text = e.to_string();
            let prefix = format!("{} param `{}`: ", e.section().as_str(), e.param());
            let message = text.strip_prefix(&prefix).unwrap_or(&text).to_owned();
            FieldError {
                section: section.to_owned(),
                param: e.param().to_owned(),
                message,
            }
        })
        .collect()
}

/// 422 `invalid_params` with every problem of a connection's params and credentials.
pub fn invalid_params(errors: &terapi_runtime::ValidationErrors) -> ApiError {
    let fields = validation_fields(errors);
    ApiError::fields(
        "invalid_params",
        format!(
            "{} invalid param{}: see `fields`",
            fields.len(),
            if fields.len() == 1 { "" } else { "s" }
        ),
        fields,
    )
}
