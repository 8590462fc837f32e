//! `GET /health` (no key: whether the server and its store answer), `GET /metrics`
//! (Prometheus' text format; a key with `admin`) and `GET /openapi.json` (the API's
//! description, no key).

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::auth::{Key, need};
use crate::error::ApiError;
use crate::state::Server;

/// The API's description (OpenAPI 3.1), kept equal to the routes by a test.
pub(crate) const OPENAPI: &str = include_str!("../../openapi.json");

pub(crate) fn routes() -> Router<Server> {
    Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi))
}

async fn health(State(server): State<Server>) -> Result<axum::Json<serde_json::Value>, ApiError> {
    server.store().schema_version().await?;
    Ok(axum::Json(serde_json::json!({ "status": "ok" })))
}

async fn metrics(Key(..): Key<need::Admin>, State(server): State<Server>) -> Response {
    let refreshes = server.store().stats().refreshes;
    let depth = crate::events::outbox_depth(&server).await;
    let text = server.inner.metrics.encode(refreshes, depth);
    let mut response = text.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}

async fn openapi() -> Response {
    let mut response = OPENAPI.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
