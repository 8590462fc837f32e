//! The connections, for the application's backend (a secret key): list, read (with fresh
//! credentials when the key may read them), import, update, delete.
//!
//! - `GET /connections?end_user_id=&provider=&tag=key:value&cursor=&limit=` (`connections:read`):
//!   `{"connections": [...], "next_cursor"}`, by id.
//! - `GET /connections/{id}` (`connections:read`): the connection config without the params the
//!   catalog declares secret, its end user, tags, metadata and errors. With
//!   `include_credentials=true` (and `credentials:read`): `credentials` with a fresh access token,
//!   renewed through the store's single renewal when needed (`force_refresh=true`: now), the
//!   refresh token only with `include_refresh_token=true`.
//! - `POST /connections` (`connections:write`): imports a connection made elsewhere (its config
//!   and credentials, or the tokens a user granted); every problem at once as 422.
//! - `PATCH /connections/{id}` (`connections:write`): metadata (merged: a `null` value removes a
//!   key), tags and end user (replaced).
//! - `DELETE /connections/{id}` (`connections:write`): 204, 404 when unknown.
//!
//! A connection whose grant is dead (the provider refused a refresh) says so in `errors`
//! (`reauthorization_required`); asked for its credentials, it answers 409.

use std::collections::BTreeMap;
use std::time::SystemTime;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use terapi_runtime::client::{
    ConnectError, Connection, Error as ClientError, OAuthClient, TokenSet,
};
use terapi_runtime::spec::SpecRef;
use terapi_runtime::{ClientAuth, ValidationErrors};
use terapi_store::{
    Catalog as _, ConnectionInfo, ConnectionMeta, ConnectionQuery, ConnectionRecord, EndUser,
    StoreError,
};

use crate::Scope;
use crate::auth::{Key, need};
use crate::error::{ApiError, FieldError};
use crate::routes::{JsonBody, rfc3339};
use crate::state::Server;

pub(crate) fn routes() -> Router<Server> {
    Router::new()
        .route("/connections", get(list).post(import))
        .route("/connections/{id}", get(read).patch(update).delete(remove))
}

/// The most connections a page holds, and the default.
const MAX_LIMIT: usize = terapi_store::MAX_LIST_LIMIT;
const DEFAULT_LIMIT: usize = 100;

#[derive(Deserialize)]
struct ListQuery {
    end_user_id: Option<String>,
    provider: Option<String>,
    provider_config_key: Option<String>,
    tag: Option<String>,
    cursor: Option<String>,
    limit: Option<String>,
}

async fn list(
    Key(_, _): Key<need::ConnectionsRead>,
    State(server): State<Server>,
    Query(q): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let limit = match q.limit.as_deref() {
        None | Some("") => DEFAULT_LIMIT,
        Some(text) => match text.parse::<usize>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
            _ => {
                return Err(ApiError::bad_request(format!(
                    "`limit` must be a number from 1 to {MAX_LIMIT}"
                )));
            }
        },
    };
    let tag = match q.tag.as_deref() {
        None | Some("") => None,
        Some(text) => match text.split_once(':') {
            Some((k, v)) if !k.is_empty() => Some((k.to_owned(), v.to_owned())),
            _ => {
                return Err(ApiError::bad_request(
                    "`tag` must be `key:value` (the key not empty)",
                ));
            }
        },
    };
    let query = ConnectionQuery {
        end_user_id: q.end_user_id.filter(|s| !s.is_empty()),
        provider: q
            .provider
            .or(q.provider_config_key)
            .filter(|s| !s.is_empty()),
        tag,
        after: q.cursor.filter(|s| !s.is_empty()),
        // One more than asked: whether there is a next page.
        limit: (limit + 1).min(MAX_LIMIT),
    };
    let mut found = server.store().list_connections(&query).await?;
    let next_cursor = if found.len() > limit || (limit == MAX_LIMIT && found.len() == limit) {
        found.truncate(limit);
        found.last().map(|(info, _)| info.id.clone())
    } else {
        None
    };
    let connections: Vec<Value> = found
        .iter()
        .map(|(info, meta)| summary(info, meta))
        .collect();
    Ok(Json(json!({
        "connections": connections,
        "next_cursor": next_cursor,
    })))
}

/// What every view of a connection has: ids, times, end user, tags, metadata, errors.
fn summary(info: &ConnectionInfo, meta: &ConnectionMeta) -> Value {
    let errors: Vec<Value> = info
        .reauthorize
        .iter()
        .map(|reason| reauthorization_error(reason))
        .collect();
    json!({
        "connection_id": info.id,
        "provider_config_key": info.provider,
        "provider": info.provider,
        "created_at": rfc3339(info.created_at),
        "updated_at": rfc3339(info.updated_at),
        "end_user": meta.end_user,
        "tags": meta.tags,
        "metadata": meta.metadata,
        "errors": errors,
    })
}

fn reauthorization_error(reason: &str) -> Value {
    json!({
        "type": "reauthorization_required",
        "message": format!("the user has to authorize the connection again: {reason}"),
    })
}

fn reauthorization_required(reason: &str) -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "reauthorization_required",
        format!("the user has to authorize the connection again: {reason}"),
    )
}

#[derive(Deserialize)]
struct ReadQuery {
    #[serde(default)]
    include_credentials: Option<String>,
    #[serde(default)]
    force_refresh: Option<String>,
    #[serde(default)]
    include_refresh_token: Option<String>,
}

fn flag(name: &str, value: Option<&str>) -> Result<bool, ApiError> {
    match value {
        None | Some("false") | Some("0") => Ok(false),
        Some("true") | Some("1") | Some("") => Ok(true),
        Some(_) => Err(ApiError::bad_request(format!(
            "`{name}` must be `true` or `false`"
        ))),
    }
}

/// The catalog's description of `provider`.
fn spec_of(server: &Server, provider: &str) -> Result<SpecRef, ApiError> {
    server.inner.specs.spec(provider).ok_or_else(|| {
        tracing::error!(
            provider,
            "a stored connection's provider is not in the catalog"
        );
        ApiError::internal("the connection's provider is not in this server's catalog")
    })
}

/// The params of `section` of a stored input, without those the catalog declares secret
/// (and without any it does not declare).
fn shown_params(spec: &SpecRef, values: &Value) -> Map<String, Value> {
    let mut out = Map::new();
    if let Some(values) = values.as_object() {
        for param in spec.config.iter().filter(|p| !p.secret) {
            if let Some(v) = values.get(&*param.key) {
                out.insert(param.key.to_string(), v.clone());
            }
        }
    }
    out
}

async fn read(
    Key(caller, _): Key<need::ConnectionsRead>,
    State(server): State<Server>,
    Path(id): Path<String>,
    Query(q): Query<ReadQuery>,
) -> Result<Json<Value>, ApiError> {
    let include_credentials = flag("include_credentials", q.include_credentials.as_deref())?;
    let force_refresh = flag("force_refresh", q.force_refresh.as_deref())?;
    let include_refresh_token = flag("include_refresh_token", q.include_refresh_token.as_deref())?;
    if (include_credentials || force_refresh || include_refresh_token)
        && !caller.has(Scope::CredentialsRead)
    {
        return Err(ApiError::forbidden(
            "reading a connection's credentials needs a key with the `credentials:read` scope",
        ));
    }
    let store = server.store();
    let stored = store.connection(&id).await?;
    let meta = store.connection_meta(&id).await?;
    let spec = spec_of(&server, &stored.info.provider)?;
    let mut view = summary(&stored.info, &meta);
    if let Some(object) = view.as_object_mut() {
        object.insert(
            "auth_mode".to_owned(),
            Value::String(spec.auth_mode.to_string()),
        );
        object.insert(
            "connection_config".to_owned(),
            Value::Object(shown_params(&spec, &stored.record.config)),
        );
    }
    if !(include_credentials || force_refresh || include_refresh_token) {
        return Ok(Json(view));
    }
    if let Some(reason) = &stored.info.reauthorize {
        return Err(reauthorization_required(reason));
    }
    let mut credentials = Map::new();
    credentials.insert("type".to_owned(), Value::String(spec.auth_mode.to_string()));
    // The credentials the connection was made with (API key, basic, client credentials):
    // the catalog's names, as saved.
    if let Some(saved) = stored.record.credentials.as_object() {
        for (k, v) in saved {
            credentials.insert(k.clone(), v.clone());
        }
    }
    let uses_token = spec.auth_mode.client_auth().is_some_and(|a| a.uses_token());
    if uses_token {
        let conn = server
            .inner
            .connections
            .get(store, &id, &proxy_settings(&server))
            .await
            .map_err(connect_error)?;
        let tokens = match conn.fresh_tokens(force_refresh).await {
            Ok(tokens) => tokens,
            Err(e) if e.needs_reauthorization() => {
                // The `auth` event of a refused refresh is written by the store with its mark
                // (`Store::with_reauthorization_event`); nothing is emitted here.
                server.inner.connections.forget(&id);
                let reason = match &e {
                    ClientError::Reauthorize { reason, .. } => reason.clone(),
                    _ => e.to_string(),
                };
                return Err(reauthorization_required(&reason));
            }
            Err(e) => return Err(provider_error(&e)),
        };
        if let Some(tokens) = tokens {
            token_fields(&mut credentials, &tokens, include_refresh_token);
        }
    } else if let Some(tokens) = &stored.record.tokens {
        // OAuth 1.0a: the token credentials, as granted.
        token_fields(&mut credentials, tokens, include_refresh_token);
    }
    if let Some(object) = view.as_object_mut() {
        object.insert("credentials".to_owned(), Value::Object(credentials));
    }
    Ok(Json(view))
}

fn token_fields(out: &mut Map<String, Value>, tokens: &TokenSet, include_refresh_token: bool) {
    out.insert(
        "access_token".to_owned(),
        Value::String(tokens.access_token().expose().to_owned()),
    );
    out.insert(
        "expires_at".to_owned(),
        tokens
            .expires_at()
            .map_or(Value::Null, |t| Value::String(rfc3339(t))),
    );
    if let Some(secret) = tokens.token_secret() {
        out.insert(
            "token_secret".to_owned(),
            Value::String(secret.expose().to_owned()),
        );
    }
    if include_refresh_token {
        out.insert(
            "refresh_token".to_owned(),
            tokens
                .refresh_token()
                .map_or(Value::Null, |t| Value::String(t.expose().to_owned())),
        );
    }
    let mut raw = Map::new();
    if let Some(t) = tokens.token_type() {
        raw.insert("token_type".to_owned(), Value::String(t.to_owned()));
    }
    if let Some(s) = tokens.scope() {
        raw.insert("scope".to_owned(), Value::String(s.to_owned()));
    }
    for (k, v) in tokens.metadata() {
        raw.insert(k.clone(), Value::String(v.clone()));
    }
    if !raw.is_empty() {
        out.insert("raw".to_owned(), Value::Object(raw));
    }
}

/// The settings of connections the server makes: its client settings, bodies within the
/// proxy's limit.
pub(crate) fn proxy_settings(server: &Server) -> terapi_runtime::client::Settings {
    server
        .inner
        .settings
        .clone()
        .max_body_bytes(server.config().max_proxy_body)
}

/// A store error from making a connection: a dead grant as 409, a provider that cannot be
/// reached as 502, the rest as the store's.
pub(crate) fn connect_error(e: StoreError) -> ApiError {
    match e {
        StoreError::Client(ref c) if c.needs_reauthorization() => {
            let reason = match c {
                ClientError::Reauthorize { reason, .. } => reason.clone(),
                other => other.to_string(),
            };
            reauthorization_required(&reason)
        }
        StoreError::Client(c) => provider_error(&c),
        other => other.into(),
    }
}

/// A client error that is the provider's (or the way to it) as 502/504; never a secret (the
/// client's messages carry none).
pub(crate) fn provider_error(e: &ClientError) -> ApiError {
    if e.is_timeout() {
        return ApiError::new(
            StatusCode::GATEWAY_TIMEOUT,
            "provider_timeout",
            e.to_string(),
        );
    }
    match e {
        ClientError::TokenStore { .. } => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "store_unavailable",
            e.to_string(),
        ),
        ClientError::Unsupported { .. } | ClientError::Render { .. } => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unsupported",
            e.to_string(),
        ),
        ClientError::Token { .. } => ApiError::new(
            StatusCode::BAD_GATEWAY,
            "provider_token_error",
            e.to_string(),
        ),
        ClientError::BodyTooLarge { .. } => ApiError::new(
            StatusCode::BAD_GATEWAY,
            "provider_response_too_large",
            e.to_string(),
        ),
        _ => ApiError::new(StatusCode::BAD_GATEWAY, "provider_error", e.to_string()),
    }
}

/// Every validation problem as a field error.
pub(crate) fn field_errors(errors: &ValidationErrors) -> Vec<FieldError> {
    errors
        .iter()
        .map(|e| {
            let section = e.section().as_str();
            let text = e.to_string();
            let prefix = format!("{section} param `{}`: ", e.param());
            let message = text.strip_prefix(&prefix).unwrap_or(&text).to_owned();
            FieldError {
                section: section.to_owned(),
                param: e.param().to_owned(),
                message,
            }
        })
        .collect()
}

fn invalid_params(fields: Vec<FieldError>) -> ApiError {
    ApiError::fields(
        "invalid_params",
        "the connection's params are not valid; every problem is in `fields`",
        fields,
    )
}

fn request_field(param: &str, message: impl Into<String>) -> FieldError {
    FieldError {
        section: "request".to_owned(),
        param: param.to_owned(),
        message: message.into(),
    }
}

/// The tokens of an import.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ImportTokens {
    access_token: String,
    #[serde(default)]
    refresh_token: Option<String>,
    /// RFC 3339, or Unix seconds.
    #[serde(default)]
    expires_at: Option<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ImportClient {
    client_id: String,
    #[serde(default)]
    client_secret: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Import {
    connection_id: String,
    provider_config_key: String,
    #[serde(default)]
    connection_config: Option<Value>,
    #[serde(default)]
    credentials: Option<Value>,
    #[serde(default)]
    tokens: Option<ImportTokens>,
    #[serde(default)]
    oauth_client: Option<ImportClient>,
    #[serde(default)]
    end_user: Option<EndUser>,
    #[serde(default)]
    tags: Option<BTreeMap<String, String>>,
    #[serde(default)]
    metadata: Option<Map<String, Value>>,
}

fn parse_expiry(value: &Value) -> Result<Option<SystemTime>, String> {
    match value {
        Value::Null => Ok(None),
        Value::Number(n) => n
            .as_u64()
            .map(|s| Some(SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(s)))
            .ok_or_else(|| "must be Unix seconds (a whole, positive number)".to_owned()),
        Value::String(s) => {
            time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
                .map(|t| Some(SystemTime::from(t)))
                .map_err(|_| "must be an RFC 3339 time, e.g. 2030-01-01T00:00:00Z".to_owned())
        }
        _ => Err("must be an RFC 3339 time or Unix seconds".to_owned()),
    }
}

async fn import(
    Key(_, _): Key<need::ConnectionsWrite>,
    State(server): State<Server>,
    JsonBody(import): JsonBody<Import>,
) -> Result<Response, ApiError> {
    let id = import.connection_id;
    terapi_store::check_id(&id).map_err(ApiError::from)?;
    let provider = import.provider_config_key;
    let Some(spec) = server.inner.specs.spec(&provider) else {
        return Err(invalid_params(vec![request_field(
            "provider_config_key",
            format!(
                "no provider `{}` in this server's catalog",
                provider.escape_default()
            ),
        )]));
    };
    let config = import
        .connection_config
        .unwrap_or_else(|| Value::Object(Map::new()));
    let credentials = import
        .credentials
        .unwrap_or_else(|| Value::Object(Map::new()));
    let auth = spec.auth_mode.client_auth();
    let authorizes = auth.is_some_and(|a| a.authorizes());
    let mut fields = Vec::new();
    let mut tokens = None;
    if let Some(t) = &import.tokens {
        if t.access_token.is_empty() {
            fields.push(request_field("tokens.access_token", "is empty"));
        }
        let expires_at = match t.expires_at.as_ref().map(parse_expiry).transpose() {
            Ok(at) => at.flatten(),
            Err(message) => {
                fields.push(request_field("tokens.expires_at", message));
                None
            }
        };
        let mut set = TokenSet::new(t.access_token.clone());
        if let Some(r) = t.refresh_token.as_ref().filter(|r| !r.is_empty()) {
            set = set.with_refresh_token(r.clone());
        }
        if let Some(at) = expires_at {
            set = set.with_expires_at(at);
        }
        tokens = Some(set);
    }
    let client = match (
        &import.oauth_client,
        server.config().oauth_apps.get(&provider),
    ) {
        (Some(c), _) => Some(OAuthClient::new(
            c.client_id.clone(),
            c.client_secret.clone().unwrap_or_default(),
        )),
        (None, Some(app)) => Some(OAuthClient::new(
            app.client_id.clone(),
            app.client_secret.expose().to_owned(),
        )),
        (None, None) => None,
    };
    if authorizes {
        if tokens.is_none() {
            fields.push(request_field(
                "tokens",
                format!(
                    "{} ({}) is authorized by its user: give the tokens granted",
                    spec.key, spec.auth_mode
                ),
            ));
        }
        if client.is_none() {
            fields.push(request_field(
                "oauth_client",
                "give the OAuth client the tokens were granted to (no OAuth app of this server is configured for the provider)",
            ));
        }
        if credentials.as_object().is_some_and(|c| !c.is_empty()) {
            fields.push(request_field(
                "credentials",
                format!(
                    "{} ({}) takes no credentials: give `tokens`",
                    spec.key, spec.auth_mode
                ),
            ));
        }
    } else if import.oauth_client.is_some() {
        fields.push(request_field(
            "oauth_client",
            format!(
                "{} ({}) is not authorized by a user: its credentials go in `credentials`",
                spec.key, spec.auth_mode
            ),
        ));
    } else if tokens.is_some()
        && !auth.is_some_and(|a| a.uses_token() && a != ClientAuth::SignedToken)
    {
        fields.push(request_field(
            "tokens",
            format!(
                "{} ({}) uses no token obtained from a provider",
                spec.key, spec.auth_mode
            ),
        ));
    }
    // The connection is made once here: every problem of the params at once, and a
    // connection the client cannot serve refused before anything is saved.
    let settings = proxy_settings(&server);
    let made = match (authorizes, &client, &tokens) {
        (true, Some(client), Some(tokens)) => Connection::from_tokens(
            spec.clone(),
            &config,
            client.clone(),
            tokens.clone(),
            settings,
        )
        .map(|_| ()),
        (true, _, _) => {
            terapi_runtime::spec::ParamValues::from_json(&spec, &config, &Value::Object(Map::new()))
                .map(|_| ())
                .map_err(ConnectError::Invalid)
        }
        (false, _, _) => {
            Connection::from_json(spec.clone(), &config, &credentials, settings).map(|_| ())
        }
    };
    match made {
        Ok(()) => {}
        Err(ConnectError::Invalid(errors)) => fields.extend(field_errors(&errors)),
        Err(ConnectError::Connect(e)) if fields.is_empty() => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "unsupported",
                e.to_string(),
            ));
        }
        Err(ConnectError::Connect(_)) => {}
        Err(e) => return Err(ApiError::bad_request(e.to_string())),
    }
    if !fields.is_empty() {
        return Err(invalid_params(fields));
    }
    let record = match (authorizes, client, tokens) {
        (true, Some(client), Some(tokens)) => {
            ConnectionRecord::authorized(provider.clone(), config, client, tokens)
        }
        (_, _, tokens) => {
            let mut record = ConnectionRecord::new(provider.clone(), config, credentials);
            record.tokens = tokens;
            record
        }
    };
    server
        .store()
        .create_connection(&id, &record)
        .await
        .map_err(|e| match e {
            StoreError::Exists { .. } => ApiError::new(
                StatusCode::CONFLICT,
                "connection_exists",
                format!("a connection `{id}` exists already; delete it first to import it again"),
            ),
            other => other.into(),
        })?;
    server.inner.connections.forget(&id);
    let meta = ConnectionMeta {
        end_user: import.end_user,
        tags: import.tags.unwrap_or_default(),
        metadata: import.metadata.unwrap_or_default(),
    };
    let has_meta = meta.end_user.is_some() || !meta.tags.is_empty() || !meta.metadata.is_empty();
    if has_meta && let Err(e) = server.store().set_connection_meta(&id, &meta).await {
        // Not imported without what was asked for: the connection goes again.
        let _ = server.store().remove(&id).await;
        return Err(meta_error(e));
    }
    crate::events::imported(&server, &id, &provider, &meta).await;
    let info =
        server.store().info(&id).await?.ok_or_else(|| {
            ApiError::not_found(format!("connection `{id}` was removed meanwhile"))
        })?;
    let mut view = summary(&info, &meta);
    if let Some(object) = view.as_object_mut() {
        object.insert(
            "auth_mode".to_owned(),
            Value::String(spec.auth_mode.to_string()),
        );
    }
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

/// A store error of a metadata write: what the store refuses (too many tags, metadata too
/// large, an invalid end user) as 422.
fn meta_error(e: StoreError) -> ApiError {
    match e {
        StoreError::Invalid { .. } => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_metadata",
            e.to_string(),
        ),
        other => other.into(),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Patch {
    #[serde(default)]
    metadata: Option<Map<String, Value>>,
    #[serde(default)]
    tags: Option<BTreeMap<String, String>>,
    /// `null` clears it; absent keeps it.
    #[serde(default, deserialize_with = "present")]
    end_user: Option<Option<EndUser>>,
}

/// A field that is present (even `null`) as `Some`.
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

async fn update(
    Key(_, _): Key<need::ConnectionsWrite>,
    State(server): State<Server>,
    Path(id): Path<String>,
    JsonBody(patch): JsonBody<Patch>,
) -> Result<Json<Value>, ApiError> {
    let store = server.store();
    let mut meta = store.connection_meta(&id).await?;
    if let Some(metadata) = patch.metadata {
        for (k, v) in metadata {
            if v.is_null() {
                meta.metadata.remove(&k);
            } else {
                meta.metadata.insert(k, v);
            }
        }
    }
    if let Some(tags) = patch.tags {
        meta.tags = tags;
    }
    if let Some(end_user) = patch.end_user {
        meta.end_user = end_user;
    }
    store
        .set_connection_meta(&id, &meta)
        .await
        .map_err(meta_error)?;
    server.inner.connections.forget(&id);
    let info = store
        .info(&id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no connection `{}`", id.escape_default())))?;
    Ok(Json(summary(&info, &meta)))
}

async fn remove(
    Key(_, _): Key<need::ConnectionsWrite>,
    State(server): State<Server>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let removed = server.store().remove(&id).await?;
    server.inner.connections.forget(&id);
    if removed {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!(
            "no connection `{}`",
            id.escape_default()
        )))
    }
}
