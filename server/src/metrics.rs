//! `GET /metrics`: Prometheus' text format. Requests by route and status, the proxy's
//! latency, token refreshes (this replica's), sync runs by result, the outbox's depth.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SyncLabels {
    result: &'static str,
}

/// The metrics of one server.
pub(crate) struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    proxy_seconds: Histogram,
    sync_runs: Family<SyncLabels, Counter>,
    refreshes: Gauge<u64, AtomicU64>,
    outbox_depth: Gauge<i64>,
}

impl Metrics {
    pub(crate) fn new() -> Metrics {
        let mut registry = Registry::with_prefix("terapi");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "Requests answered, by route and status",
            requests.clone(),
        );
        let proxy_seconds = Histogram::new([
            0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
        ]);
        registry.register(
            "proxy_duration_seconds",
            "Time of a request through /proxy, from its head to the provider's answer",
            proxy_seconds.clone(),
        );
        let sync_runs = Family::<SyncLabels, Counter>::default();
        registry.register(
            "sync_runs",
            "Sync runs this replica finished, by result",
            sync_runs.clone(),
        );
        let refreshes = Gauge::<u64, AtomicU64>::default();
        registry.register(
            "token_refreshes",
            "Token refreshes and token requests this replica sent to providers",
            refreshes.clone(),
        );
        let outbox_depth = Gauge::<i64>::default();
        registry.register(
            "outbox_pending",
            "Webhook deliveries to the application not delivered yet (every replica's)",
            outbox_depth.clone(),
        );
        Metrics {
            registry,
            requests,
            proxy_seconds,
            sync_runs,
            refreshes,
            outbox_depth,
        }
    }

    /// A request answered.
    pub(crate) fn request(&self, route: &str, status: u16) {
        self.requests
            .get_or_create(&RequestLabels {
                route: route.to_owned(),
                status,
            })
            .inc();
    }

    /// A proxied request's time.
    pub(crate) fn proxy(&self, elapsed: std::time::Duration) {
        self.proxy_seconds.observe(elapsed.as_secs_f64());
    }

    /// A sync run finished (`success` or `error`).
    pub(crate) fn sync_run(&self, success: bool) {
        let result = if success { "success" } else { "error" };
        self.sync_runs.get_or_create(&SyncLabels { result }).inc();
    }

    /// The text of every metric, with the gauges read now.
    pub(crate) fn encode(&self, refreshes: u64, outbox_depth: Option<i64>) -> String {
        self.refreshes.set(refreshes);
        if let Some(depth) = outbox_depth {
            self.outbox_depth.set(depth);
        }
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}
