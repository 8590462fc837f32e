//! The routes, one module per part of the API; `router` puts them together with the layers
//! every route has (request ids, logs, timeouts, body limits, CORS for the connect origins).

use axum::Router;

use crate::state::Server;

mod actions;
mod health;
mod provider_webhooks;
pub(crate) mod records;
pub(crate) mod sync;

/// Every route.
pub(crate) fn router(server: Server) -> Router {
    Router::new()
        .merge(health::routes())
        .merge(sync::routes())
        .merge(records::routes())
        .merge(actions::routes())
        .merge(provider_webhooks::routes())
        .with_state(server)
}
