//! Throughput of outgoing webhooks through the outbox: `N` events (2,000; `TERAPI_BENCH_OUTBOX_N`
//! to change) enqueued one by one with `outbox::emit` into a SQLite file store (and a
//! PostgreSQL database when `TERAPI_TEST_POSTGRES_URL` is set), then delivered by one
//! `Deliverer` (batches of 64) to a receiver on 127.0.0.1 that checks the HMAC of each
//! delivery and answers 200 (401 to a wrong signature).
//!
//! Prints `outbox.STORE.enqueue_per_s=X` and `outbox.STORE.deliveries_per_s=X` lines:
//! `server/benches/report_server.sh` prints those. A run where a delivery is missing or was
//! refused for its signature fails.
#![forbid(unsafe_code)]
#![allow(missing_docs)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use terapi_runtime::Secret;
use terapi_server::OutgoingWebhooks;
use terapi_server::outbox::{
    self, AuthEvent, AuthOperation, Deliverer, DeliveryPolicy, OutgoingEvent, ResponseResults,
    SyncEvent, SyncType,
};
use terapi_store::{Keys, Store};
use terapi_test_support::db::{Kind, db};

const SECRET: &str = "whsec-bench-signing-secret";

#[derive(Default)]
struct Counts {
    accepted: AtomicUsize,
    refused: AtomicUsize,
}

struct Receiver {
    secret: Secret,
    counts: Counts,
}

async fn receive(
    State(receiver): State<Arc<Receiver>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let signature = headers
        .get("x-terapi-hmac-sha256")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if outbox::verify(&receiver.secret, &body, signature) {
        receiver.counts.accepted.fetch_add(1, Ordering::Relaxed);
        StatusCode::OK
    } else {
        receiver.counts.refused.fetch_add(1, Ordering::Relaxed);
        StatusCode::UNAUTHORIZED
    }
}

async fn start_receiver() -> (url::Url, Arc<Receiver>) {
    let receiver = Arc::new(Receiver {
        secret: Secret::new(SECRET),
        counts: Counts::default(),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = url::Url::parse(&format!("http://{}/hooks", listener.local_addr().unwrap())).unwrap();
    let app = axum::Router::new()
        .route("/hooks", axum::routing::post(receive))
        .with_state(Arc::clone(&receiver));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, receiver)
}

fn event(n: usize) -> OutgoingEvent {
    if n.is_multiple_of(2) {
        OutgoingEvent::Auth(AuthEvent {
            operation: AuthOperation::Creation,
            connection_id: format!("conn-{n}"),
            provider_config_key: "personio".to_owned(),
            provider: "personio".to_owned(),
            auth_mode: Some("OAUTH2_CC".to_owned()),
            end_user: None,
            tags: BTreeMap::from([("team".to_owned(), "hr".to_owned())]),
            success: true,
            error: None,
        })
    } else {
        OutgoingEvent::Sync(SyncEvent {
            connection_id: format!("conn-{n}"),
            provider_config_key: "personio-v2".to_owned(),
            sync_name: "persons".to_owned(),
            model: "Person".to_owned(),
            sync_type: SyncType::Incremental,
            success: true,
            response_results: ResponseResults {
                added: 3,
                updated: 2,
                deleted: 1,
            },
            modified_after: Some("2026-01-01T00:00:00Z".to_owned()),
            cursor: Some("42".to_owned()),
            error: None,
        })
    }
}

async fn run(kind: Kind, label: &str, n: usize) {
    let Some(db) = db(kind).await else { return };
    let store = Store::open(&db.url, Keys::none()).await.unwrap();
    let (url, receiver) = start_receiver().await;

    let started = Instant::now();
    for i in 0..n {
        outbox::emit(&store, &event(i)).await.unwrap();
    }
    let enqueued = started.elapsed();

    let mut policy = DeliveryPolicy::default()
        .with_backoff(
            Duration::from_millis(50),
            Duration::from_millis(400),
            Duration::from_secs(3600),
        )
        .with_timeouts(Duration::from_secs(5), Duration::from_secs(30))
        .with_poll(Duration::from_millis(50));
    policy.batch = 64;
    let webhooks = OutgoingWebhooks {
        url,
        secret: Secret::new(SECRET),
        retry_for: Duration::from_secs(25 * 3600),
    };
    let deliverer = Deliverer::new(store.clone(), &webhooks).with_policy(policy);
    let started = Instant::now();
    let deadline = started + Duration::from_secs(600);
    while store.outbox_depth().await.unwrap() > 0 {
        assert!(
            Instant::now() < deadline,
            "{label}: still pending after 600 s"
        );
        if deliverer.run_once().await.unwrap() == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    let delivered = started.elapsed();

    let accepted = receiver.counts.accepted.load(Ordering::Relaxed);
    let refused = receiver.counts.refused.load(Ordering::Relaxed);
    assert_eq!(refused, 0, "{label}: deliveries with a wrong signature");
    assert_eq!(accepted, n, "{label}: deliveries accepted");
    assert_eq!(deliverer.stats().delivered as usize, n);
    eprintln!(
        "outbox {label}: {n} events enqueued one by one in {enqueued:.2?}, delivered by one deliverer (batches of 64) in {delivered:.2?}"
    );
    println!(
        "outbox.{label}.enqueue_per_s={:.0}",
        n as f64 / enqueued.as_secs_f64()
    );
    println!(
        "outbox.{label}.deliveries_per_s={:.0}",
        n as f64 / delivered.as_secs_f64()
    );
    println!("outbox.{label}.n={n}");
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` does not: then a quick run.
    let bench = std::env::args().any(|a| a == "--bench");
    let n = std::env::var("TERAPI_BENCH_OUTBOX_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if bench { 2000 } else { 20 });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        run(Kind::File, "sqlite", n).await;
        run(Kind::Postgres, "postgres", n).await;
    });
}
