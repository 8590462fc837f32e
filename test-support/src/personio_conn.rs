//! Connections of the `personio` and `personio-v2` providers to the fake Personio, with fast
//! retries (for the sync and webhook tests).

use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::json;
use terapi_runtime::client::{Connection, RetryPolicy, Settings};

use super::fake_personio::FakePersonio;

/// The provider `key` of the repository's `providers.yaml`, loaded once with
/// `terapi_codegen::load` (the description the generated crate is built from).
pub fn spec(key: &str) -> &'static terapi_runtime::spec::ProviderSpec {
    static CATALOG: OnceLock<terapi_codegen::Loaded> = OnceLock::new();
    CATALOG
        .get_or_init(|| {
            let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../providers.yaml");
            terapi_codegen::load_file(&path, &terapi_codegen::Options::default())
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        })
        .get(key)
        .unwrap_or_else(|| panic!("{key} is not in providers.yaml"))
}

/// Settings that reach `origin`, with quick retries.
pub fn settings(origin: &str) -> Settings {
    Settings::new()
        .origin(origin.to_owned())
        .retry(RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(50),
            max_total_wait: Duration::from_secs(2),
            ..RetryPolicy::DEFAULT
        })
        .timeout(Duration::from_secs(20))
}

fn connect(key: &str, origin: &str) -> Connection {
    Connection::from_json(
        spec(key),
        &json!({}),
        &json!({"client_id": FakePersonio::CLIENT_ID, "client_secret": FakePersonio::CLIENT_SECRET}),
        settings(origin),
    )
    .unwrap()
}

/// A `personio` (API v1) connection to the fake at `origin`.
pub fn v1(origin: &str) -> Connection {
    connect("personio", origin)
}

/// A `personio-v2` connection to the fake at `origin`.
pub fn v2(origin: &str) -> Connection {
    connect("personio-v2", origin)
}
