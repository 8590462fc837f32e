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
    pub metrics: crate::metrics::Metrics,
    pub limiter: crate::limits::Limiter,
    /// The workflows' state: runs of this replica, the webhook receiver.
    pub flows: crate::flows::Flows,
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
            inner: Arc::new(Inner {
                store,
                specs,
                integrations,
                settings,
                limiter: crate::limits::Limiter::new(config.rate_limit),
                config,
                metrics: crate::metrics::Metrics::new(),
                flows: crate::flows::Flows::default(),
            }),
        }
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The configuration.
    pub fn config(&self) -> &ServerConfig {
        &self.inner.config
    }

    /// The routes of the API, as an `axum` router.
    pub fn router(&self) -> axum::Router {
        crate::routes::router(self.clone())
    }
}
