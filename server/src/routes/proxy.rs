//! `/proxy/{path}`: any method, sent to the provider of the connection named by
//! `Connection-Id` (key scope `proxy`), through that connection's base URL, headers, auth and
//! retries, and answered with the provider's status, headers and body.
//!
//! - The path is a path below the provider's base URL, never another host: absolute URLs,
//!   `//host`, `.`/`..` segments (also percent-encoded), backslashes and the like are refused
//!   with 400 by the client's URL check, which also makes sure the joined URL keeps the base
//!   URL's scheme, host and port.
//! - `Provider-Config-Key`, when given, must be the connection's provider (else 400).
//! - The query string goes as it came; of the request's headers only those that are not
//!   hop-by-hop, not credentials of the caller (`Authorization`, `Cookie`), not the proxy's own
//!   (`Connection-Id`, `Provider-Config-Key`, `Retries`) and not set by the provider's catalog
//!   entry go along.
//! - The body is at most [`ServerConfig::max_proxy_body`](crate::ServerConfig) (413), and so
//!   is the provider's answer (502 `provider_response_too_large`).
//! - Retries are the catalog's; a `Retries: N` header lowers them to N retries, never raises
//!   them.
//! - A provider that cannot be reached answers 502, one that takes too long 504, each as JSON
//!   without a secret; the provider's own error statuses are passed through as they are (with
//!   the connection's secrets masked in their body).

use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use terapi_runtime::client::Error as ClientError;

use crate::auth::{Key, need};
use crate::error::ApiError;
use crate::routes::connections::{connect_error, provider_error, proxy_settings};
use crate::state::Server;

pub(crate) fn routes() -> Router<Server> {
    Router::new().route("/proxy/{*path}", any(proxy))
}

/// Hop-by-hop headers (RFC 9110 §7.6.1): never passed on, either way.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "trailers",
    "transfer-encoding",
    "upgrade",
];

/// Headers never forwarded to the provider besides [`HOP_BY_HOP`]: the caller's own
/// credentials, the proxy's own, and those the HTTP client sets.
const NOT_FORWARDED: &[&str] = &[
    "authorization",
    "cookie",
    "host",
    "content-length",
    "content-type",
    "expect",
    "connection-id",
    "provider-config-key",
    "retries",
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-proto",
    "x-real-ip",
];

/// Headers of the provider's answer never passed back besides [`HOP_BY_HOP`]: cookies (the
/// provider's session is not the caller's), and the length (the server sets its own).
const NOT_RETURNED: &[&str] = &["set-cookie", "set-cookie2", "content-length"];

/// Names listed in a `Connection` header are hop-by-hop too.
fn connection_listed(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(http::header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|n| n.trim().to_ascii_lowercase())
        .filter(|n| !n.is_empty())
        .collect()
}

fn header_text<'h>(headers: &'h HeaderMap, name: &str) -> Result<Option<&'h str>, ApiError> {
    match headers.get(name) {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .map(|s| Some(s.trim()))
            .map_err(|_| ApiError::bad_request(format!("the `{name}` header is not text"))),
    }
}

async fn proxy(
    Key(_, _): Key<need::Proxy>,
    State(server): State<Server>,
    request: Request,
) -> Response {
    let started = Instant::now();
    let result = forward(&server, request).await;
    // Requests are counted by route and status for every route; the proxy's time here.
    server.inner.metrics.proxy(started.elapsed());
    result.unwrap_or_else(IntoResponse::into_response)
}

async fn forward(server: &Server, request: Request) -> Result<Response, ApiError> {
    let (parts, body) = request.into_parts();
    let headers = &parts.headers;
    let Some(id) = header_text(headers, "connection-id")?.filter(|s| !s.is_empty()) else {
        return Err(ApiError::bad_request(
            "the `Connection-Id` header names the connection to send the request through",
        ));
    };
    let id = id.to_owned();
    let provider_key = header_text(headers, "provider-config-key")?.map(str::to_owned);
    let retries = match header_text(headers, "retries")? {
        None => None,
        Some(text) => Some(text.parse::<u32>().map_err(|_| {
            ApiError::bad_request("the `Retries` header must be a whole number of retries")
        })?),
    };
    // The path as it came (still percent-encoded: the client's check decodes each segment).
    let raw_path = parts.uri.path();
    let rest = raw_path.strip_prefix("/proxy").unwrap_or_default();
    let rest = rest.strip_prefix('/').unwrap_or(rest);
    if rest.starts_with('/') {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_path",
            "the path starts with `//`, which names another host; give a path below the provider's base URL",
        ));
    }
    // Without a leading `/`: the client's check then sees an absolute URL or a
    // `host:port` as such.
    let mut endpoint = rest.to_owned();
    if let Some(query) = parts.uri.query() {
        endpoint.push('?');
        endpoint.push_str(query);
    }
    let limit = server.config().max_proxy_body;
    if let Some(length) = headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        && length > limit as u64
    {
        return Err(too_large(limit));
    }
    let bytes = axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| too_large(limit))?;

    let store = server.store();
    let conn = server
        .inner
        .connections
        .get(store, &id, &proxy_settings(server))
        .await
        .map_err(connect_error)?;
    if let Some(key) = &provider_key
        && key != conn.provider()
    {
        return Err(ApiError::bad_request(format!(
            "the connection is of provider `{}`, not of the `Provider-Config-Key` `{}`",
            conn.provider(),
            key.escape_default()
        )));
    }

    let mut skip: Vec<String> = connection_listed(headers);
    // What the catalog's `proxy.headers` set is the provider's, not the caller's.
    if let Some(spec) = terapi_store::Catalog::spec(&server.inner.specs, conn.provider()) {
        skip.extend(spec.headers.iter().map(|h| h.name.to_ascii_lowercase()));
    }
    let mut builder = conn.request(parts.method.clone(), endpoint);
    for (name, value) in headers {
        let lower = name.as_str();
        if HOP_BY_HOP.contains(&lower)
            || NOT_FORWARDED.contains(&lower)
            || skip.iter().any(|s| s == lower)
        {
            continue;
        }
        let Ok(value) = value.to_str() else {
            return Err(ApiError::bad_request(format!(
                "the `{lower}` header is not text"
            )));
        };
        builder = builder.header(lower, value);
    }
    if !bytes.is_empty() {
        let content_type = headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("application/octet-stream");
        builder = builder.body(bytes.to_vec(), content_type);
    }
    if let Some(retries) = retries {
        builder = builder.max_retries(retries);
    }
    let response = builder.send_any().await.map_err(|e| match e {
        ClientError::Url { .. } => {
            ApiError::new(StatusCode::BAD_REQUEST, "invalid_path", e.to_string())
        }
        ClientError::Header { .. } => ApiError::bad_request(e.to_string()),
        ClientError::Reauthorize { .. } => {
            server.inner.connections.forget(&id);
            connect_error(terapi_store::StoreError::Client(e))
        }
        other => provider_error(&other),
    })?;

    let status = StatusCode::from_u16(response.status()).unwrap_or(StatusCode::BAD_GATEWAY);
    let dropped = connection_listed(response.headers());
    let provider_headers = response.headers().clone();
    let mut out = Response::new(Body::from(response.into_bytes()));
    *out.status_mut() = status;
    let out_headers = out.headers_mut();
    for (name, value) in &provider_headers {
        let lower = name.as_str();
        if HOP_BY_HOP.contains(&lower)
            || NOT_RETURNED.contains(&lower)
            || dropped.iter().any(|d| d == lower)
        {
            continue;
        }
        if let Ok(name) = HeaderName::from_bytes(lower.as_bytes()) {
            out_headers.append(name, value.clone());
        }
    }
    Ok(out)
}

fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "body_too_large",
        format!("the request body is larger than the proxy's limit of {limit} bytes"),
    )
}
