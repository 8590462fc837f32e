//! `POST /action/{name}` (scope `actions`, `Connection-Id` header, `Provider-Config-Key`
//! optional): runs a declared action of the connection's provider
//! ([`terapi_runtime::client::action::run`]) with the body as its input (JSON, at most
//! `max_action_body` bytes; an empty body is `{}`). A multipart action's file field is
//! `{filename, content_type?, base64}`.
//!
//! - 200 `{data: <the provider's answer as JSON, null when empty>}`.
//! - 404 `unknown_action` when the provider declares no such action (the message lists
//!   those it has); 404 `not_found` for an unknown connection.
//! - 422 `invalid_input` with every problem at once, `fields: [{section: "input", param:
//!   <the field's path, empty for the whole input>, message}]`; nothing is sent.
//! - The provider answered an error status: **502** `provider_error` with `status` (the
//!   provider's), `message` and `body` (the error body, both with the connection's secrets
//!   masked). The provider's status is not passed as the answer's own: a 401 or 404 of the
//!   provider must not read as this API's.
//! - The request could not be made (transport, timeout, the provider's token endpoint, a
//!   dead grant): 502 `provider_unreachable`, 504 `provider_timeout`, or 424
//!   `reauthorization_required` when the connection must be authorized again; an answer
//!   that is not the action's output: 502 `invalid_provider_response`.

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::json;
use terapi_runtime::client::action::{self, ActionError};

use crate::auth::{Key, need};
use crate::error::{ApiError, FieldError};
use crate::flows;
use crate::state::Server;

pub(crate) fn routes() -> Router<Server> {
    // The input is read within `max_action_body` by the handler, not the JSON limit.
    Router::new().route(
        "/action/{name}",
        post(run).layer(axum::extract::DefaultBodyLimit::disable()),
    )
}

async fn run(
    Key(_caller, _): Key<need::Actions>,
    State(server): State<Server>,
    Path(name): Path<String>,
    headers: http::HeaderMap,
    body: axum::body::Body,
) -> Result<Response, ApiError> {
    let (connection, provider) = flows::connection_of(&server, &headers).await?;
    let integrations = &server.inner.integrations;
    let Some(spec) = integrations.action(&provider, &name) else {
        let known: Vec<&str> = integrations
            .integration(&provider)
            .map(|i| i.actions.iter().map(|a| a.name.as_str()).collect())
            .unwrap_or_default();
        let known = if known.is_empty() {
            "it declares none".to_owned()
        } else {
            format!("its actions are {}", known.join(", "))
        };
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_action",
            format!(
                "provider `{provider}` has no action `{}`: {known}",
                name.escape_default()
            ),
        ));
    };
    let input = flows::json_body(body, server.config().max_action_body).await?;
    let conn = server
        .store()
        .connect(&connection, server.inner.settings.clone())
        .await?;
    match action::run(&conn, integrations, spec, &input).await {
        Ok(output) => Ok(Json(json!({ "data": output.body })).into_response()),
        Err(ActionError::Input(errors)) => Err(ApiError::fields(
            "invalid_input",
            format!(
                "the input of action `{}` is not a valid `{}`",
                spec.name, errors.model
            ),
            errors
                .problems
                .into_iter()
                .map(|p| FieldError {
                    section: "input".to_owned(),
                    param: p.field,
                    message: p.message,
                })
                .collect(),
        )),
        Err(ActionError::Provider(e)) => Ok((
            StatusCode::BAD_GATEWAY,
            Json(json!({
                "error": {
                    "code": "provider_error",
                    "message": e.to_string(),
                    "status": e.status,
                    "body": e.body,
                }
            })),
        )
            .into_response()),
        Err(ActionError::Request(e)) => {
            let (status, code) = if e.needs_reauthorization() {
                (StatusCode::FAILED_DEPENDENCY, "reauthorization_required")
            } else if e.is_timeout() {
                (StatusCode::GATEWAY_TIMEOUT, "provider_timeout")
            } else {
                (StatusCode::BAD_GATEWAY, "provider_unreachable")
            };
            // The client's errors carry no credential or token (see its docs).
            Err(ApiError::new(
                status,
                code,
                format!("action `{}`: {e}", spec.name),
            ))
        }
        Err(e @ ActionError::Output { .. }) => Err(ApiError::new(
            StatusCode::BAD_GATEWAY,
            "invalid_provider_response",
            e.to_string(),
        )),
        Err(e) => {
            tracing::error!(action = %spec.name, error = %e, "action failed");
            Err(ApiError::internal(format!(
                "action `{}` could not run; see the server's log",
                spec.name
            )))
        }
    }
}
