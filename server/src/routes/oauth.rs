//! OAuth in an end user's browser. `GET /oauth/connect/{provider}?session_token=…` starts the
//! flow with the server's OAuth app and redirects to the provider; `GET /oauth/callback`
//! finishes it on any replica (the pending flow lives in the store, found by its state) and
//! answers a small page that posts the result to the window that opened it, for the connect
//! origin the flow was started from (never `*`), then closes.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use terapi_runtime::client::{AuthorizationRequest, ConnectError, Connection, OAuthClient};

use crate::auth::{Session, session_of_token};
use crate::error::ApiError;
use crate::routes::auth::{Way, connection_id_for, provider_for, record_owner, way};
use crate::state::Server;

pub(crate) fn routes() -> Router<Server> {
    Router::new()
        .route("/oauth/connect/{provider}", get(start))
        .route("/oauth/callback", get(callback))
}

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
    provider: String,
    replaced: bool,
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
        Some(o) if server.config().connect_origins.iter().any(|c| c == o) => Ok(Some(o.to_owned())),
        Some(_) => Err(ApiError::bad_request(
            "`origin` is not one of the server's connect origins",
        )),
    }
}

async fn begin(server: &Server, provider: &str, query: Start) -> Result<String, ApiError> {
    let token = query
        .session_token
        .as_deref()
        .ok_or_else(|| ApiError::unauthorized("no connect session: give `session_token`"))?;
    let session: Session = session_of_token(server, token).await?;
    let spec = provider_for(server, &session, provider)?;
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
    let config: Value = match query.params.as_deref() {
        None | Some("") => Value::Object(Map::new()),
        Some(text) => serde_json::from_str(text)
            .map_err(|_| ApiError::bad_request("`params` is not a JSON object"))?,
    };
    let (id, replaced) = connection_id_for(server, &session, provider, query.connection_id).await?;
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
        origin: query.origin,
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
            page(
                &server,
                StatusCode::OK,
                origin.as_deref(),
                &json!({"type": "connect", "provider_config_key": provider, "connection_id": id}),
            )
        }
        Err(e) => {
            let e = ApiError::from(e);
            let (code, message) = match e.code {
                "internal_error" => ("authorization_failed", e.message.clone()),
                code => (code, e.message.clone()),
            };
            page(
                &server,
                StatusCode::BAD_REQUEST,
                origin.as_deref(),
                &json!({"type": "error", "error": {"type": code, "message": message}}),
            )
        }
    }
}

/// The page a flow ends on: it posts `result` to its opener at `origin` (else at each
/// configured connect origin: only the one the opener has receives it), then closes. The
/// script runs under a nonce; nothing else may run, load or frame it.
fn page(server: &Server, status: StatusCode, origin: Option<&str>, result: &Value) -> Response {
    let origins: Vec<String> = match origin {
        Some(o) => vec![o.to_owned()],
        None => server.config().connect_origins.clone(),
    };
    let data = json!({ "result": result, "origins": origins });
    // JSON inside a <script> block: `<`, `>` and `&` escaped so no text can end the block.
    let data = data
        .to_string()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026");
    let nonce = crate::random::id();
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
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{title}</title></head><body>\
<p>{text}</p>\
<script type=\"application/json\" id=\"result\">{data}</script>\
<script nonce=\"{nonce}\">(function(){{var d=JSON.parse(document.getElementById('result').textContent);\
if(window.opener){{for(var i=0;i<d.origins.length;i++){{try{{window.opener.postMessage(d.result,d.origins[i]);}}catch(e){{}}}}\
window.close();}}}})();</script></body></html>"
    );
    let mut response = (status, html).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    if let Ok(csp) = HeaderValue::from_str(&format!(
        "default-src 'none'; script-src 'nonce-{nonce}'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    )) {
        headers.insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    response
}
