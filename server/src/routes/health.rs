//! `GET /health`: whether the server and its store answer.

use axum::Router;
use axum::extract::State;
use axum::routing::get;

use crate::error::ApiError;
use crate::state::Server;

pub(crate) fn routes() -> Router<Server> {
    Router::new().route("/health", get(health))
}

async fn health(State(server): State<Server>) -> Result<axum::Json<serde_json::Value>, ApiError> {
    server.store().schema_version().await?;
    Ok(axum::Json(serde_json::json!({ "status": "ok" })))
}
