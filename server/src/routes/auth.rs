//! `POST /auth/{provider}`: an end user connects a provider that takes credentials (API key,
//! basic, client credentials, two-step, JWT, ...) with a connect session. Every problem of
//! the params and credentials at once (422 `invalid_params`), then the catalog's
//! verification, then the connection is stored with the session's end user and tags.

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::post;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use terapi_runtime::client::{ConnectError, Connection};
use terapi_store::{ConnectionRecord, StoreError};

use crate::auth::{EndUser, Session};
use crate::error::{ApiError, invalid_params};
use crate::routes::JsonBody;
use crate::state::Server;

pub(crate) fn routes() -> Router<Server> {
    Router::new().route("/auth/{provider}", post(connect))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Connect {
    #[serde(default)]
    connection_id: Option<String>,
    #[serde(default)]
    params: Option<Value>,
    #[serde(default)]
    credentials: Option<Value>,
}

/// How a provider is connected, from its auth mode and whether the client serves it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Way {
    /// `POST /auth/{provider}` with params and credentials.
    Credentials,
    /// `/oauth/connect/{provider}` in a browser.
    OAuth,
    /// The client cannot serve it.
    Unsupported,
}

/// How `spec` is connected.
pub(crate) fn way(spec: &terapi_runtime::spec::ProviderSpec) -> Way {
    if matches!(
        spec.client,
        terapi_runtime::spec::ClientSupport::Unsupported(_)
    ) {
        return Way::Unsupported;
    }
    match spec.auth_mode.client_auth() {
        Some(auth) if auth.authorizes() => Way::OAuth,
        Some(_) => Way::Credentials,
        None => Way::Unsupported,
    }
}

/// The provider `key` as a session may connect it: 404 unknown, 403 outside the session.
pub(crate) fn provider_for(
    server: &Server,
    session: &Session,
    key: &str,
) -> Result<terapi_runtime::spec::SpecRef, ApiError> {
    let spec = terapi_store::Catalog::spec(&server.inner.specs, key)
        .ok_or_else(|| ApiError::not_found(format!("no provider `{}`", key.escape_default())))?;
    if !session.allows(key) {
        return Err(ApiError::forbidden(format!(
            "this connect session may not connect `{}`",
            key.escape_default()
        )));
    }
    Ok(spec)
}

/// The id a session's connection gets: the one asked for (checked), or a new one. An
/// existing id is taken over only by the same end user for the same provider (`true`:
/// an override).
pub(crate) async fn connection_id_for(
    server: &Server,
    session: &Session,
    provider: &str,
    asked: Option<String>,
) -> Result<(String, bool), ApiError> {
    let Some(id) = asked else {
        return Ok((crate::random::id(), false));
    };
    terapi_store::check_id(&id).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let Some(info) = server.store().info(&id).await? else {
        return Ok((id, false));
    };
    let meta = server.store().connection_meta(&id).await?;
    let same_user = meta
        .end_user
        .as_ref()
        .is_some_and(|u| u.id == session.end_user_id);
    if !same_user || info.provider != provider {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "connection_exists",
            format!(
                "connection `{}` exists already and belongs to another end user or provider",
                id.escape_default()
            ),
        ));
    }
    Ok((id, true))
}

/// The session's end user and tags on the connection `id` (its metadata kept).
pub(crate) async fn record_owner(
    server: &Server,
    session: &Session,
    id: &str,
) -> Result<(), ApiError> {
    let mut meta = server.store().connection_meta(id).await?;
    meta.end_user = serde_json::from_value(session.end_user.clone()).ok();
    meta.tags = session.tags.clone();
    server.store().set_connection_meta(id, &meta).await?;
    Ok(())
}

async fn connect(
    EndUser(session): EndUser,
    State(server): State<Server>,
    Path(provider): Path<String>,
    JsonBody(body): JsonBody<Connect>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let spec = provider_for(&server, &session, &provider)?;
    match way(&spec) {
        Way::Credentials => {}
        Way::OAuth => {
            return Err(ApiError::bad_request(format!(
                "`{provider}` is connected in a browser: open /oauth/connect/{provider}?session_token=…"
            )));
        }
        Way::Unsupported => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "unsupported_provider",
                format!("terapi cannot connect `{provider}` (its auth mode is not served)"),
            ));
        }
    }
    let empty = || Value::Object(Map::new());
    let config = body.params.unwrap_or_else(empty);
    let credentials = body.credentials.unwrap_or_else(empty);
    // Every problem of both objects before anything else (nothing is sent or stored).
    let conn = match Connection::from_json(
        spec.clone(),
        &config,
        &credentials,
        server.inner.settings.clone(),
    ) {
        Ok(conn) => conn,
        Err(ConnectError::Invalid(errors)) => return Err(invalid_params(&errors)),
        Err(ConnectError::UnknownProvider(_)) => {
            return Err(ApiError::not_found(format!("no provider `{provider}`")));
        }
        Err(e) => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_params",
                e.to_string(),
            ));
        }
    };
    let (id, replaced) =
        connection_id_for(&server, &session, &provider, body.connection_id).await?;
    if let Err(e) = conn.verify().await {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_credentials",
            format!("the provider refused the credentials: {e}"),
        ));
    }
    let mut record = ConnectionRecord::new(conn.provider(), config, credentials);
    record.tokens = conn.tokens();
    if replaced {
        server.store().save_connection(&id, &record).await?;
    } else {
        match server.store().create_connection(&id, &record).await {
            Err(StoreError::Exists { .. }) => {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    "connection_exists",
                    format!("connection `{}` was created meanwhile", id.escape_default()),
                ));
            }
            other => {
                other?;
            }
        }
    }
    record_owner(&server, &session, &id).await?;
    crate::events::connected(&server, &id, &provider, &session, replaced).await;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "data": { "provider_config_key": provider, "connection_id": id } })),
    ))
}
