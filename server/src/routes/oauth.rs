//! OAuth in an end user's browser. `GET /oauth/connect/{provider}?session_token=…` starts the
//! flow with the server's OAuth app and redirects to the provider; `GET /oauth/callback`
//! finishes it on any replica (the pending flow lives in the store, found by its state) and
//! answers a small page that posts the result to the window that opened it, for the connect
//! origin the flow was started from (never `*`), then closes.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use terapi_runtime::client::{AuthorizationRequest, ConnectError, Connection, OAuthClient};

use crate::auth::{EndUser, Session, session_of_token};
use crate::error::ApiError;
use crate::routes::JsonBody;
use crate::routes::auth::{Way, connection_id_for, provider_for, record_owner, way};
use crate::state::Server;

pub(crate) fn routes() -> Router<Server> {
    Router::new()
        .route("/oauth/connect/{provider}", get(start))
        .route("/oauth/start/{provider}", post(start_json))
        .route("/oauth/callback", get(callback))
}

/// The longest `return_to` taken.
const MAX_RETURN_TO: usize = 2048;

#[derive(Deserialize)]
struct Start {
    session_token: Option<String>,
    connection_id: Option<String>,
    /// The connect page's origin, to post the result to (one of the configured ones).
    origin: Option<String>,
    /// The connection config, as a JSON object.
    params: Option<String>,
}

/// What the flow remembers until its callback (sealed with it in the store).
#[derive(serde::Serialize, Deserialize)]
struct FlowContext {
    session_id: String,
    end_user: Value,
    end_user_id: String,
    tags: std::collections::BTreeMap<String, String>,
    origin: Option<String>,
    /// Where the callback sends the browser back to (the redirect fallback of a blocked
    /// popup), with the result in its fragment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    return_to: Option<String>,
    provider: String,
    replaced: bool,
}

/// `POST /oauth/start/{provider}`: the session in the `Authorization` header (never in a
/// URL), the result's `origin`, and `return_to` for a redirect instead of a popup.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StartBody {
    #[serde(default)]
    connection_id: Option<String>,
    #[serde(default)]
    params: Option<Value>,
    #[serde(default)]
    origin: Option<String>,
    #[serde(default)]
    return_to: Option<String>,
}

/// The inputs of a flow, from either start route.
struct Begin {
    connection_id: Option<String>,
    config: Value,
    origin: Option<String>,
    return_to: Option<String>,
}

/// Starts a flow for a page that holds the session in memory (the connect page, the SDK):
/// answers the provider's authorization URL, which the page opens in its popup (or goes to).
async fn start_json(
    EndUser(session): EndUser,
    State(server): State<Server>,
    Path(provider): Path<String>,
    JsonBody(body): JsonBody<StartBody>,
) -> Result<Json<Value>, ApiError> {
    let origin = checked_origin(&server, body.origin.as_deref())?;
    let return_to = body
        .return_to
        .as_deref()
        .map(|r| checked_return_to(&server, r))
        .transpose()?;
    let config = match body.params {
        None | Some(Value::Null) => Value::Object(Map::new()),
        Some(v @ Value::Object(_)) => v,
        Some(_) => return Err(ApiError::bad_request("`params` is not a JSON object")),
    };
    let begin = Begin {
        connection_id: body.connection_id,
        config,
        origin,
        return_to,
    };
    let url = flow(&server, &session, &provider, begin).await?;
    Ok(Json(json!({ "data": { "url": url } })))
}

/// Where a redirect may come back to: a page of the server or of a connect origin.
fn checked_return_to(server: &Server, return_to: &str) -> Result<String, ApiError> {
    let refused = || {
        ApiError::bad_request(
            "`return_to` must be an http(s) URL of the server or of one of its connect origins",
        )
    };
    if return_to.len() > MAX_RETURN_TO {
        return Err(refused());
    }
    let mut url = url::Url::parse(return_to).map_err(|_| refused())?;
    let origin = url.origin().ascii_serialization();
    let known = origin == own_origin(server) || server.config().connect_origins.contains(&origin);
    if !matches!(url.scheme(), "http" | "https") || !known {
        return Err(refused());
    }
    url.set_fragment(None);
    Ok(url.into())
}

/// The server's own origin (its connect page posts to itself).
fn own_origin(server: &Server) -> String {
    server.config().public_url.origin().ascii_serialization()
}

async fn start(
    State(server): State<Server>,
    Path(provider): Path<String>,
    Query(query): Query<Start>,
) -> Response {
    let origin = match checked_origin(&server, query.origin.as_deref()) {
        Ok(origin) => origin,
        Err(e) => return e.into_response(),
    };
    match begin(&server, &provider, query).await {
        Ok(url) => {
            // The provider must not learn the session token from a Referer.
            let mut response = Redirect::to(&url).into_response();
            response.headers_mut().insert(
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            );
            response
        }
        Err(e) => page(
            &server,
            e.status,
            origin.as_deref(),
            &json!({"type": "error", "error": {"type": e.code, "message": e.message}}),
        ),
    }
}

/// The origin a flow posts its result to: one of the configured connect origins.
fn checked_origin(server: &Server, origin: Option<&str>) -> Result<Option<String>, ApiError> {
    match origin {
        None => Ok(None),
        Some(o)
            if server.config().connect_origins.iter().any(|c| c == o)
                || o == own_origin(server) =>
        {
            Ok(Some(o.to_owned()))
        }
        Some(_) => Err(ApiError::bad_request(
            "`origin` is neither the server's nor one of its connect origins",
        )),
    }
}

async fn begin(server: &Server, provider: &str, query: Start) -> Result<String, ApiError> {
    let token = query
        .session_token
        .as_deref()
        .ok_or_else(|| ApiError::unauthorized("no connect session: give `session_token`"))?;
    let session: Session = session_of_token(server, token).await?;
    let config: Value = match query.params.as_deref() {
        None | Some("") => Value::Object(Map::new()),
        Some(text) => serde_json::from_str(text)
            .map_err(|_| ApiError::bad_request("`params` is not a JSON object"))?,
    };
    let begin = Begin {
        connection_id: query.connection_id,
        config,
        origin: query.origin,
        return_to: None,
    };
    flow(server, &session, provider, begin).await
}

/// Starts the flow of `session` for `provider`: the authorization URL.
async fn flow(
    server: &Server,
    session: &Session,
    provider: &str,
    begin: Begin,
) -> Result<String, ApiError> {
    let spec = provider_for(server, session, provider)?;
    if way(&spec) != Way::OAuth {
        return Err(ApiError::bad_request(format!(
            "`{provider}` is not connected through OAuth: POST /auth/{provider}"
        )));
    }
    let app = server.config().oauth_apps.get(provider).ok_or_else(|| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "no_oauth_app",
            format!("the server has no OAuth app for `{provider}`: configure one (terapi serve --oauth-app)"),
        )
    })?;
    let config = begin.config;
    let (id, replaced) = connection_id_for(server, session, provider, begin.connection_id).await?;
    let client = OAuthClient::new(app.client_id.clone(), app.client_secret.clone());
    let mut request =
        AuthorizationRequest::new(server.config().callback_url()).settings(&server.inner.settings);
    if !app.scopes.is_empty() {
        request = request.scopes(app.scopes.clone());
    }
    let pending = match Connection::start_authorization_json(spec, &config, &client, request).await
    {
        Ok(pending) => pending,
        Err(ConnectError::Invalid(errors)) => return Err(crate::error::invalid_params(&errors)),
        Err(e) => {
            return Err(ApiError::new(
                StatusCode::BAD_GATEWAY,
                "authorization_failed",
                e.to_string(),
            ));
        }
    };
    let context = FlowContext {
        session_id: session.id.clone(),
        end_user: session.end_user.clone(),
        end_user_id: session.end_user_id.clone(),
        tags: session.tags.clone(),
        origin: begin.origin,
        return_to: begin.return_to,
        provider: provider.to_owned(),
        replaced,
    };
    server
        .store()
        .save_pending_with(&id, &pending, serde_json::to_value(&context).ok())
        .await?;
    Ok(pending.url().to_owned())
}

async fn callback(State(server): State<Server>, uri: axum::http::Uri) -> Response {
    let url = match uri.query() {
        Some(q) => format!("{}?{q}", server.config().callback_url()),
        None => server.config().callback_url(),
    };
    // Read before the flow is used, so that a failure is told to the right page too.
    let context: Option<FlowContext> = server
        .store()
        .pending_context(&url)
        .await
        .ok()
        .flatten()
        .and_then(|v| serde_json::from_value(v).ok());
    let origin = context.as_ref().and_then(|c| c.origin.clone());
    let return_to = context.as_ref().and_then(|c| c.return_to.clone());
    let end = |status: StatusCode, result: Value| match &return_to {
        Some(r) => back_to(r, &result),
        None => page(&server, status, origin.as_deref(), &result),
    };
    let finished = server
        .store()
        .finish_authorization_with(&url, server.inner.settings.clone())
        .await;
    match finished {
        Ok((id, conn, saved)) => {
            let context: Option<FlowContext> = saved.and_then(|v| serde_json::from_value(v).ok());
            let provider = conn.provider().to_owned();
            if let Some(context) = &context {
                let session = Session {
                    id: context.session_id.clone(),
                    end_user: context.end_user.clone(),
                    end_user_id: context.end_user_id.clone(),
                    allowed_integrations: None,
                    tags: context.tags.clone(),
                };
                if let Err(e) = record_owner(&server, &session, &id).await {
                    tracing::warn!(error = %e, "the connection's owner could not be recorded");
                }
                crate::events::connected(&server, &id, &provider, &session, context.replaced).await;
            }
            end(
                StatusCode::OK,
                json!({"type": "connect", "provider_config_key": provider, "connection_id": id}),
            )
        }
        Err(e) => {
            let (code, message) = callback_failure(e);
            end(
                StatusCode::BAD_REQUEST,
                json!({"type": "error", "error": {"type": code, "message": message}}),
            )
        }
    }
}

/// Why a callback did not connect, in words for the person at the browser: the provider's
/// refusal (its code and description, cut short), an expired or unknown flow; anything else
/// goes to the log and is told as a failure without detail.
fn callback_failure(e: terapi_store::StoreError) -> (&'static str, String) {
    use terapi_runtime::client::{CallbackError, ConnectError, Error};
    use terapi_store::StoreError;
    let callback = match &e {
        StoreError::Connect(ConnectError::Connect(Error::Authorization(c)))
        | StoreError::Client(Error::Authorization(c)) => Some(c),
        _ => None,
    };
    match (callback, &e) {
        (Some(c @ CallbackError::Denied { .. }), _) => ("access_denied", c.to_string()),
        (Some(c @ CallbackError::Expired { .. }), _) => ("authorization_expired", c.to_string()),
        (Some(c), _) => ("authorization_failed", c.to_string()),
        (None, StoreError::NoPendingAuthorization | StoreError::NoState) => (
            "authorization_failed",
            "this authorization is unknown or was finished already: start again".to_owned(),
        ),
        (None, _) => {
            let e = ApiError::from(e);
            match e.code {
                "internal_error" => (
                    "authorization_failed",
                    "the account could not be connected; the server's log says why".to_owned(),
                ),
                code => (code, e.message),
            }
        }
    }
}

/// The redirect fallback's end: 303 back to the page that started the flow, the result in the
/// fragment (which browsers keep from servers and their logs), base64url of its JSON.
fn back_to(return_to: &str, result: &Value) -> Response {
    use base64::Engine as _;
    let encoded = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(result.to_string());
    let location = format!("{return_to}#terapi_result={encoded}");
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response.headers_mut().insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

/// The page a flow ends on: it posts `result` to its opener at `origin` (else at each
/// configured connect origin: only the one the opener has receives it), then closes. The
/// script is the server's own file (`/connect/assets/callback.js`); nothing else may run, load
/// or frame it.
fn page(server: &Server, status: StatusCode, origin: Option<&str>, result: &Value) -> Response {
    let origins: Vec<String> = match origin {
        Some(o) => vec![o.to_owned()],
        None => server.config().connect_origins.clone(),
    };
    let data = super::connect_page::script_json(&json!({ "result": result, "origins": origins }));
    let (title, text) = match result["type"].as_str() {
        Some("connect") => (
            "Connected",
            "The account is connected. You can close this window.",
        ),
        _ => (
            "Not connected",
            "The account could not be connected. You can close this window.",
        ),
    };
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title></head><body>\
<p>{text}</p>\
<script type=\"application/json\" id=\"result\">{data}</script>\
<script src=\"/connect/assets/callback.js\"></script></body></html>"
    );
    super::connect_page::html_page(
        status,
        html,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
        ),
    )
}
