//! Making a server, and serving its API: the routes within the connection limits of
//! [`terapi_sync::serve`], and the background work of a replica, until a shutdown signal;
//! then in-flight requests finish and this replica's leases are released.

use std::future::Future;
use std::time::Duration;

use tokio::net::TcpListener;

use terapi_runtime::client::Settings;
use terapi_runtime::integration::Integrations;
use terapi_store::{Specs, Store};

use crate::config::ServerConfig;
use crate::state::Server;

/// How long in-flight requests may take to finish after a shutdown signal.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

impl Server {
    /// A server over `store` (opened with the catalog `specs`), the providers of `specs`, the
    /// syncs and actions of `integrations`, with the client `settings`.
    pub fn new(
        store: Store,
        specs: Specs,
        integrations: Integrations,
        settings: Settings,
        config: ServerConfig,
    ) -> Server {
        // A grant a provider refuses while this server renews it is told to the application
        // by an `auth` event committed with the mark.
        let store = if config.webhooks.is_some() {
            store.with_reauthorization_event(crate::events::reauthorization_event(&specs))
        } else {
            store
        };
        Server {
            inner: std::sync::Arc::new(crate::state::Inner {
                store,
                specs,
                integrations,
                settings,
                limiter: crate::limits::Limiter::new(config.rate_limit),
                config,
                connections: crate::live::LiveConnections::new(),
                metrics: crate::metrics::Metrics::new(),
                flows: crate::runs::Flows::default(),
            }),
        }
    }

    /// Serves the API on `listener` until `shutdown` completes, with the background work of
    /// a replica; then stops accepting, lets in-flight requests finish (at most
    /// [`DRAIN_TIMEOUT`]), stops the background work and releases this replica's leases.
    pub async fn run(&self, listener: TcpListener, shutdown: impl Future<Output = ()> + Send) {
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let background = crate::background::start(self.clone(), stop_rx);
        let router = self.router();
        let serving = terapi_sync::serve::serve(listener, router, self.config().limits, shutdown);
        serving.await;
        let _ = stop_tx.send(true);
        let _ = tokio::time::timeout(DRAIN_TIMEOUT, background.wait()).await;
        if let Err(e) = self.store().release_leases().await {
            tracing::warn!(error = %e, "releasing the leases failed: they expire on their own");
        }
    }
}
