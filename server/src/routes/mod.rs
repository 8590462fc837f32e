//! The routes, one module per part of the API; `router` puts them together with the layers
//! every route has (request ids, logs, timeouts, body limits, CORS for the connect origins).

use axum::Router;

use crate::state::Server;

mod connections;
mod health;
mod proxy;

/// Every route.
pub(crate) fn router(server: Server) -> Router {
    Router::new()
        .merge(health::routes())
        .merge(connections::routes())
        .merge(proxy::routes())
        .with_state(server)
}
