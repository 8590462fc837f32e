//! What the fake servers and the tests against them share: a router served on `127.0.0.1` at
//! a random port until its stop handle is dropped, and a provider of a test catalog loaded at
//! run time.

use std::net::SocketAddr;
use std::sync::Arc;

use terapi_runtime::spec::{ClientSupport, ProviderSpec};
use tokio::sync::oneshot;

/// Serves `app` on a random loopback port: its origin (`http://127.0.0.1:PORT`), and the
/// handle whose drop stops the server.
pub async fn serve(app: axum::Router) -> (String, oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .expect("bind loopback");
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
            .ok();
    });
    (origin, stop)
}

/// The provider `key` of the test catalog `catalog`, loaded as `terapi_codegen::load` does
/// (without a warning), which the client must serve.
pub fn provider(catalog: &str, key: &str) -> Arc<ProviderSpec> {
    let loaded = terapi_codegen::load(
        std::path::Path::new("test-catalog.yaml"),
        catalog,
        &terapi_codegen::Options::default(),
    )
    .expect("the test catalog loads");
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let spec = loaded.get(key).expect("in the test catalog").clone();
    if let ClientSupport::Unsupported(reason) = &spec.client {
        panic!("{key}: {reason}");
    }
    Arc::new(spec)
}

/// The user's browser at an authorization URL: the provider's redirect (302), not followed;
/// its `Location`, the callback URL.
pub async fn follow(url: &str) -> String {
    let http = crate::http_client()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = http.get(url).send().await.unwrap();
    assert_eq!(response.status(), 302, "{}", response.text().await.unwrap());
    response.headers()["location"].to_str().unwrap().to_owned()
}
