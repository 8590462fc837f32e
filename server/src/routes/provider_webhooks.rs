//! `POST /webhooks/personio-v2`: Personio's webhook deliveries for `personio-v2`
//! connections, received by [`terapi_sync::webhook::WebhookReceiver`]. Subscribe with this
//! URL (`{public_url}/webhooks/personio-v2`, e.g. through `terapi webhooks subscribe`, which
//! keeps the subscription's token in the store).
//!
//! No API key here: a delivery authenticates by its subscription's token (the
//! `Authorization` value Personio sends, found by its SHA-256 and compared in constant time),
//! and the receiver has its own limits (64 KiB bodies, a rate per subscription). It answers
//! once the event is stored (202, 200 for a redelivery) and before it is applied: the
//! applier started by [`crate::flows::spawn`] fetches the records the events name.

use axum::Router;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use tower::ServiceExt as _;

use crate::state::Server;

pub(crate) fn routes() -> Router<Server> {
    Router::new().route("/webhooks/personio-v2", post(receive))
}

async fn receive(State(server): State<Server>, request: Request) -> Response {
    let receiver = server.inner.flows.receiver(server.store());
    match receiver.oneshot(request).await {
        Ok(response) => response.into_response(),
        Err(never) => match never {},
    }
}
