//! The server's state, shared by every route and background task.

use std::sync::Arc;

use terapi_runtime::client::Settings;
use terapi_runtime::integration::Integrations;
use terapi_store::{Specs, Store};

use crate::config::ServerConfig;

/// A terapi server: its store, catalog, integrations, client settings and configuration.
/// Cheap to clone (one `Arc`).
#[derive(Clone)]
pub struct Server {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub store: Store,
    pub specs: Specs,
    pub integrations: Integrations,
    pub settings: Settings,
    pub config: ServerConfig,
    /// The connections made from the store, kept between requests (proxy, credentials).
    pub connections: crate::live::LiveConnections,
    pub metrics: crate::metrics::Metrics,
    pub limiter: crate::limits::Limiter,
    /// The workflows' state: runs of this replica, the webhook receiver.
    pub flows: crate::runs::Flows,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("store", &self.inner.store.url())
            .field("providers", &self.inner.specs.keys().count())
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl Server {
    /// The store.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The configuration.
    pub fn config(&self) -> &ServerConfig {
        &self.inner.config
    }
}
