//! Benchmarks of `terapi-sync`: the sync engine and the webhook receiver.
//!
//! - `sync_records` (criterion): a full sync of 5,000 v1 employees from the fake Personio
//!   (axum on 127.0.0.1, 50 pages of 100) through `terapi_sync::sync`, with the ready-made
//!   `personio::syncs::employees()` spec but a budget of 1,000,000 requests a minute (the real one,
//!   300 a minute, would be all the benchmark measures). Cases: `fetch_only` (the same pages
//!   walked with `Connection::walk`, nothing stored: what the sync costs without the store),
//!   `sqlite_first` / `postgres_first` (into an empty store: every record added; a fresh
//!   SQLite file or PostgreSQL database per iteration, made outside the timing) and
//!   `sqlite_unchanged` / `postgres_unchanged` (into a store that already holds them: every
//!   record unchanged, the steady state). Records per second = 5,000 / time; the target is a
//!   store that is not the bottleneck: each stored case within 2x of `fetch_only`.
//! - `TERAPI_BENCH_WEBHOOKS=1`: a `WebhookReceiver` served by axum on 127.0.0.1, one
//!   subscription saved in the store; after a warm-up round, 30 rounds of 100 concurrent
//!   POSTs of distinct valid envelopes through one pooled reqwest client, each timed until its
//!   202: `webhooks.<db>.p50_ms=` / `p99_ms=` lines. Target p99 <= 50 ms.
//! - `TERAPI_BENCH_MEMORY=1`: a full sync of 100,000 employees into a SQLite file with a
//!   progress callback that samples the process's RSS after every page:
//!   `memory.rss_mb_at_10k=` / `at_50k` / `at_100k` and `memory.growth_10k_to_100k_mb=`.
//!   Target: flat.
//!
//! PostgreSQL cases run when `TERAPI_TEST_POSTGRES_URL` names a server (`eval "$(.ci/postgres.sh
//! start)"`). `benches/report_sync.sh` runs all three and prints each figure beside its target.
#![forbid(unsafe_code)]
#![allow(missing_docs)]

use terapi_test_support as support;

use std::hint::black_box;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode};
use serde_json::json;
use support::fake_personio::FakePersonio;
use terapi_providers::integrations::personio;
use terapi_runtime::client::{Connection, ListingOptions, Settings};
use terapi_store::{Keys, Model, Store, Webhook};
use terapi_sync::webhook::{ReceiverConfig, WebhookReceiver};
use terapi_sync::{SyncOptions, SyncReport, SyncSpec};

/// Employees on the fake for `sync_records`.
const RECORDS: u64 = 5_000;
/// Employees on the fake for the memory mode.
const MEMORY_RECORDS: u64 = 100_000;
const CONNECTION: &str = "bench";
const EMPLOYEES: Model<'static> = Model {
    connection: CONNECTION,
    name: "employees",
    personal: true,
};

fn keys() -> Keys {
    Keys::new("bench", &[1; 32]).unwrap()
}

/// The ready-made spec without its request budget.
fn spec() -> SyncSpec {
    personio::syncs::employees().budget(1_000_000, 1_000_000)
}

/// A `personio` (v1) connection to the fake: `terapi_providers::Connection`, which
/// dereferences to the runtime's `Connection` the sync takes.
fn connection(fake: &FakePersonio) -> Connection {
    terapi_providers::Connection::from_json_with(
        "personio",
        &json!({}),
        &json!({"client_id": FakePersonio::CLIENT_ID, "client_secret": FakePersonio::CLIENT_SECRET}),
        Settings::new().origin(fake.origin()),
    )
    .unwrap()
    .into_inner()
}

/// Walks every page of the employees listing as the sync does, storing nothing; the
/// records seen.
async fn fetch_all(conn: &Connection) -> u64 {
    let mut walk = conn
        .walk(
            "/company/employees",
            ListingOptions::default().limit(100),
            None,
        )
        .unwrap();
    let mut n = 0;
    while let Some(page) = walk.next_page().await.unwrap() {
        n += page.records.len() as u64;
        black_box(page);
    }
    n
}

async fn run_sync(store: &Store, conn: &Connection, options: SyncOptions) -> SyncReport {
    terapi_sync::sync(store, conn, CONNECTION, &spec(), options)
        .await
        .unwrap()
}

/// A database to sync into: a SQLite file or a PostgreSQL database, removed on drop (the
/// PostgreSQL one by [`Db::remove`]).
struct Db {
    url: String,
    _dir: Option<tempfile::TempDir>,
    pg_name: Option<String>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Sqlite,
    Postgres,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Sqlite => "sqlite",
            Kind::Postgres => "postgres",
        }
    }
}

fn postgres_admin() -> Option<String> {
    std::env::var("TERAPI_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty())
}

/// One statement on the admin database.
async fn pg_admin(sql: &str) {
    let admin = postgres_admin().expect("TERAPI_TEST_POSTGRES_URL");
    let (client, conn) = tokio_postgres::connect(&admin, tokio_postgres::NoTls)
        .await
        .unwrap();
    let task = tokio::spawn(conn);
    client.batch_execute(sql).await.unwrap();
    drop(client);
    let _ = task.await;
}

impl Db {
    async fn fresh(kind: Kind) -> Db {
        match kind {
            Kind::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                Db {
                    url: format!("sqlite:{}", dir.path().join("bench.db").display()),
                    _dir: Some(dir),
                    pg_name: None,
                }
            }
            Kind::Postgres => {
                let mut n = [0u8; 6];
                getrandom::fill(&mut n).unwrap();
                let name = format!("terapi_bench_sync_{}", hex::encode(n));
                pg_admin(&format!("CREATE DATABASE {name}")).await;
                let mut url = url::Url::parse(&postgres_admin().unwrap()).unwrap();
                url.set_path(&format!("/{name}"));
                Db {
                    url: url.to_string(),
                    _dir: None,
                    pg_name: Some(name),
                }
            }
        }
    }

    async fn open(&self) -> Store {
        Store::open(&self.url, keys()).await.unwrap()
    }

    /// Drops the PostgreSQL database (after its stores are dropped).
    async fn remove(self) {
        if let Some(name) = &self.pg_name {
            pg_admin(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
        }
    }
}

fn kinds() -> Vec<Kind> {
    let mut v = vec![Kind::Sqlite];
    if postgres_admin().is_some() {
        v.push(Kind::Postgres);
    } else {
        eprintln!("sync bench: TERAPI_TEST_POSTGRES_URL is not set; PostgreSQL cases skipped");
    }
    v
}

// ----- sync_records -----

fn sync_records(c: &mut Criterion, runtime: &tokio::runtime::Runtime) {
    let fake = runtime.block_on(FakePersonio::start());
    fake.set_employees(RECORDS as usize);
    let conn = connection(&fake);
    // Checks before measuring: every record arrives, then every record is added, then unchanged.
    assert_eq!(runtime.block_on(fetch_all(&conn)), RECORDS);
    let kinds = kinds();
    for &kind in &kinds {
        runtime.block_on(async {
            let db = Db::fresh(kind).await;
            let store = db.open().await;
            let first = run_sync(&store, &conn, SyncOptions::full()).await;
            assert_eq!(
                (first.counts.added, first.counts.pages),
                (RECORDS, RECORDS / 100),
                "{}: {first:?}",
                kind.name()
            );
            let again = run_sync(&store, &conn, SyncOptions::full()).await;
            assert_eq!(
                (
                    again.counts.unchanged,
                    again.counts.added,
                    again.counts.deleted
                ),
                (RECORDS, 0, 0),
                "{}: {again:?}",
                kind.name()
            );
            assert_eq!(store.count_records(EMPLOYEES).await.unwrap(), RECORDS);
            drop(store);
            db.remove().await;
        });
    }

    let mut group = c.benchmark_group("sync_records");
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(10));
    group.bench_function("fetch_only", |b| {
        b.iter_custom(|iters| {
            runtime.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    assert_eq!(fetch_all(&conn).await, RECORDS);
                }
                start.elapsed()
            })
        })
    });
    for &kind in &kinds {
        group.bench_function(format!("{}_first", kind.name()), |b| {
            b.iter_custom(|iters| {
                runtime.block_on(async {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let db = Db::fresh(kind).await;
                        let store = db.open().await;
                        let start = Instant::now();
                        let report = run_sync(&store, &conn, SyncOptions::full()).await;
                        total += start.elapsed();
                        assert_eq!(report.counts.added, RECORDS);
                        drop(store);
                        db.remove().await;
                    }
                    total
                })
            })
        });
        let (db, store) = runtime.block_on(async {
            let db = Db::fresh(kind).await;
            let store = db.open().await;
            run_sync(&store, &conn, SyncOptions::full()).await;
            (db, store)
        });
        group.bench_function(format!("{}_unchanged", kind.name()), |b| {
            b.iter_custom(|iters| {
                runtime.block_on(async {
                    let start = Instant::now();
                    for _ in 0..iters {
                        let report = run_sync(&store, &conn, SyncOptions::full()).await;
                        assert_eq!(report.counts.unchanged, RECORDS);
                    }
                    start.elapsed()
                })
            })
        });
        runtime.block_on(async {
            drop(store);
            db.remove().await;
        });
    }
    group.finish();
}

// ----- TERAPI_BENCH_WEBHOOKS -----

const ROUNDS: usize = 30;
const CONCURRENT: usize = 100;
const TOKEN: &str = "Bearer bench-token";

/// A distinct valid envelope: event `n` occurred `n` ms after 10:00.
fn envelope(n: usize) -> String {
    let (minutes, seconds, ms) = (n / 60_000, (n / 1000) % 60, n % 1000);
    json!({
        "company_id": "42",
        "event_name": "person.updated",
        "occurred_at": format!("2026-12-01T10:{minutes:02}:{seconds:02}.{ms:03}Z"),
        "payload": {"id": n.to_string()},
    })
    .to_string()
}

/// One round of `CONCURRENT` POSTs at once, events `first..`; each one's latency until its
/// 202.
async fn round(client: &reqwest::Client, url: &str, first: usize) -> Vec<Duration> {
    let calls = (first..first + CONCURRENT).map(|n| {
        let body = envelope(n);
        async move {
            let start = Instant::now();
            let response = client
                .post(url)
                .header("authorization", TOKEN)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap();
            let elapsed = start.elapsed();
            let status = response.status();
            let text = response.text().await.unwrap();
            assert_eq!(status, 202, "event {n}: {text}");
            elapsed
        }
    });
    futures_util::future::join_all(calls).await
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i].as_secs_f64() * 1000.0
}

async fn webhooks(kind: Kind) {
    let db = Db::fresh(kind).await;
    let store = db.open().await;
    store
        .save_webhook(
            &Webhook {
                id: "wh".into(),
                connection: CONNECTION.into(),
                url: "http://127.0.0.1/hooks".into(),
                events: vec!["person.updated".into()],
                company_id: None,
                created_at_ms: 0,
            },
            TOKEN,
        )
        .await
        .unwrap();
    // Deliveries are answered for connections the store has.
    store
        .save_connection(
            CONNECTION,
            &terapi_store::ConnectionRecord::new("personio-v2", json!({}), json!({})),
        )
        .await
        .unwrap();
    let receiver = WebhookReceiver::new(
        store.clone(),
        ReceiverConfig {
            // Every delivery of the run is within the rate: this measures the receiver.
            rate: terapi_sync::Budget {
                per_minute: 1_000_000,
                burst: 100_000,
            },
            ..ReceiverConfig::default()
        },
        Arc::new(tokio::sync::Notify::new()),
    );
    let app = axum::Router::new().route_service("/hooks", receiver);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hooks", listener.local_addr().unwrap());
    let server = tokio::spawn(terapi_sync::serve::serve(
        listener,
        app,
        terapi_sync::serve::Limits::default(),
        std::future::pending(),
    ));
    let client = support::http_client()
        .pool_max_idle_per_host(CONCURRENT * 2)
        .build()
        .unwrap();
    // Warm-up: the pool opens its connections (and the first delivery pins the company).
    round(&client, &url, 0).await;
    let mut times = Vec::with_capacity(ROUNDS * CONCURRENT);
    let start = Instant::now();
    for r in 1..=ROUNDS {
        times.extend(round(&client, &url, r * CONCURRENT).await);
    }
    let wall = start.elapsed();
    let stored = store.events(CONNECTION, 100_000).await.unwrap().len();
    assert_eq!(stored, (ROUNDS + 1) * CONCURRENT, "every event stored once");
    times.sort_unstable();
    let name = kind.name();
    let mean = times.iter().sum::<Duration>().as_secs_f64() * 1000.0 / times.len() as f64;
    println!("webhooks.{name}.p50_ms={:.3}", percentile(&times, 0.50));
    println!("webhooks.{name}.p99_ms={:.3}", percentile(&times, 0.99));
    println!("webhooks.{name}.max_ms={:.3}", percentile(&times, 1.0));
    println!("webhooks.{name}.mean_ms={mean:.3}");
    println!(
        "webhooks.{name}.per_s={:.0}",
        (ROUNDS * CONCURRENT) as f64 / wall.as_secs_f64()
    );
    server.abort();
    drop(store);
    db.remove().await;
}

// ----- TERAPI_BENCH_MEMORY -----

/// The process's resident set in bytes (`/proc/self/statm`, pages of 4 KiB).
fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

async fn memory() {
    let fake = FakePersonio::start().await;
    fake.set_employees(MEMORY_RECORDS as usize);
    let conn = connection(&fake);
    // The token, the fake's dataset and the client's pool exist before the first sample.
    let mut walk = conn
        .walk(
            "/company/employees",
            ListingOptions::default().limit(100),
            None,
        )
        .unwrap();
    assert_eq!(walk.next_page().await.unwrap().unwrap().records.len(), 100);
    drop(walk);
    let db = Db::fresh(Kind::Sqlite).await;
    let store = db.open().await;
    let before = rss_bytes();
    // (records so far, RSS) after every page.
    let samples: Arc<Mutex<Vec<(u64, u64)>>> = Arc::default();
    let s = samples.clone();
    let options = SyncOptions::full().on_progress(move |p| {
        let c = p.counts;
        s.lock()
            .unwrap()
            .push((c.added + c.updated + c.unchanged, rss_bytes()));
    });
    let start = Instant::now();
    let report = run_sync(&store, &conn, options).await;
    let elapsed = start.elapsed();
    assert_eq!(report.counts.added, MEMORY_RECORDS);
    let samples = samples.lock().unwrap().clone();
    let at = |n: u64| {
        samples
            .iter()
            .find(|(records, _)| *records >= n)
            .map(|(_, rss)| *rss)
            .unwrap()
    };
    let (at10, at50, at100) = (at(10_000), at(50_000), at(100_000));
    let max = samples.iter().map(|(_, rss)| *rss).max().unwrap();
    println!("memory.rss_mb_before={:.1}", mb(before));
    println!("memory.rss_mb_at_10k={:.1}", mb(at10));
    println!("memory.rss_mb_at_50k={:.1}", mb(at50));
    println!("memory.rss_mb_at_100k={:.1}", mb(at100));
    println!("memory.rss_mb_max={:.1}", mb(max));
    println!(
        "memory.growth_10k_to_100k_mb={:.1}",
        (at100 as f64 - at10 as f64) / (1024.0 * 1024.0)
    );
    println!("memory.pages={}", report.counts.pages);
    println!(
        "memory.records_per_s={:.0}",
        MEMORY_RECORDS as f64 / elapsed.as_secs_f64()
    );
    drop(store);
    db.remove().await;
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    if std::env::var_os("TERAPI_BENCH_WEBHOOKS").is_some() {
        for kind in kinds() {
            runtime.block_on(webhooks(kind));
        }
        return;
    }
    if std::env::var_os("TERAPI_BENCH_MEMORY").is_some() {
        runtime.block_on(memory());
        return;
    }
    let mut c = Criterion::default().configure_from_args();
    sync_records(&mut c, &runtime);
    c.final_summary();
}
