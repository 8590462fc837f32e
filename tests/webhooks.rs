//! Personio v2 webhooks received into a `terapi-store`, on a SQLite file and on PostgreSQL:
//! a subscription made through the fake's `/v2/webhooks` with a token the library makes;
//! deliveries 14 times over and out of order change each record once; a wrong token, another
//! company, a broken envelope and a 100 MB body are refused; an older event applied after a
//! deletion does not bring the record back.

#[path = "../store/tests/support/mod.rs"]
mod db;
mod support;

use std::sync::Arc;
use std::time::Duration;

use db::Kind;
use serde_json::json;
use support::fake_personio::{Delivery, FakePersonio};
use support::personio_conn::v2;
use terapi_store::{ChangeKind, EventStatus, Keys, Model, Store};
use terapi_sync::webhook::{Applier, ReceiverConfig, WebhookReceiver, subscribe};
use terapi_sync::{ConnectionSource, SyncOptions, personio, sync};
use tokio::sync::Notify;

const ID: &str = "acme-hr";
const PERSONS: Model<'static> = Model {
    connection: ID,
    name: "persons",
    personal: true,
};
const EVENTS: &[&str] = &[
    "person.created",
    "person.updated",
    "person.deleted",
    "employment.created",
    "employment.updated",
    "employment.deleted",
];

struct Source(String);

impl ConnectionSource for Source {
    fn connection<'a>(&'a self, _id: &'a str) -> terapi_sync::ConnectionFuture<'a> {
        Box::pin(async move { Ok(v2(&self.0)) })
    }
}

struct Env {
    fake: FakePersonio,
    store: Store,
    applier: Applier,
    url: String,
    token: String,
    _db: db::Db,
}

/// The fake, a store with 20 persons synced, the receiver on loopback, and a subscription.
async fn env(kind: Kind) -> Option<Env> {
    let db = db::db(kind).await?;
    let fake = FakePersonio::start().await;
    fake.set_persons(20);
    let store = Store::open(&db.url, Keys::new("t", &[3; 32]).unwrap())
        .await
        .unwrap();
    let conn = v2(&fake.origin());
    sync(&store, &conn, ID, &personio::persons(), SyncOptions::full())
        .await
        .unwrap();
    let notify = Arc::new(Notify::new());
    let receiver = WebhookReceiver::new(store.clone(), ReceiverConfig::default(), notify.clone());
    let app = axum::Router::new().route_service("/hooks/personio", receiver);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hooks/personio", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let webhook = subscribe(&conn, &store, ID, &url, EVENTS).await.unwrap();
    let listed = fake.webhooks();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["id"], webhook.id.as_str());
    assert_eq!(listed[0]["status"], "ENABLED");
    assert!(
        !listed[0].to_string().contains("Bearer"),
        "the token is never listed"
    );
    let token = fake
        .webhook_token(&webhook.id)
        .expect("the fake keeps the token");
    let applier = Applier::new(
        store.clone(),
        Arc::new(Source(fake.origin())) as Arc<dyn ConnectionSource>,
        notify,
    );
    Some(Env {
        fake,
        store,
        applier,
        url,
        token,
        _db: db,
    })
}

async fn post(url: &str, token: Option<&str>, body: Vec<u8>) -> (u16, String) {
    let client = reqwest::Client::new();
    let mut request = client
        .post(url)
        .header("content-type", "application/json")
        .body(body);
    if let Some(t) = token {
        request = request.header("authorization", t);
    }
    match request.send().await {
        Ok(r) => {
            let status = r.status().as_u16();
            (status, r.text().await.unwrap_or_default())
        }
        Err(e) => (0, e.to_string()),
    }
}

/// Every event delivered 14 times, shuffled: each record changes once, the events are
/// stored once each, and the records end as the provider has them.
async fn redelivered_and_reordered_events_change_records_once(kind: Kind) {
    let Some(env) = env(kind).await else { return };
    let cursor = env
        .store
        .sync_status(PERSONS)
        .await
        .unwrap()
        .unwrap()
        .cursor;
    assert!(env.fake.update_person("5", "Renamed"));
    assert!(env.fake.delete_person("7"));
    let added = env.fake.add_person();
    let queued = env.fake.queued_events().len();
    // person.updated, employment.deleted + person.deleted, person.created + employment.created
    assert!(queued >= 4, "{queued} events");
    let report = env
        .fake
        .deliver(Delivery {
            copies: 14,
            shuffle_seed: Some(11),
            concurrency: 8,
        })
        .await;
    assert_eq!(report.delivered, queued * 14, "{:?}", report.statuses);
    assert!(report.statuses.iter().all(|s| *s == 200 || *s == 202));
    let stored = env.store.events(ID, 1000).await.unwrap();
    assert_eq!(stored.len(), queued, "one stored event per event");
    let applied = env.applier.apply_pending().await.unwrap();
    assert_eq!(applied.applied as usize, queued);
    assert_eq!((applied.retried, applied.failed), (0, 0));
    let p5 = env.store.record(PERSONS, "5").await.unwrap().unwrap();
    assert_eq!(p5.data["first_name"], "Renamed");
    assert!(
        env.store
            .record(PERSONS, "7")
            .await
            .unwrap()
            .unwrap()
            .deleted_at
            .is_some()
    );
    assert!(env.store.record(PERSONS, &added).await.unwrap().is_some());
    let changes = env
        .store
        .changes(PERSONS, cursor, 100)
        .await
        .unwrap()
        .changes;
    let mut kinds: Vec<(String, ChangeKind)> =
        changes.into_iter().map(|c| (c.id, c.kind)).collect();
    kinds.sort_by(|a, b| a.0.cmp(&b.0));
    let mut want = vec![
        ("5".to_owned(), ChangeKind::Updated),
        ("7".to_owned(), ChangeKind::Deleted),
        (added.clone(), ChangeKind::Added),
    ];
    want.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(kinds, want, "each record changed once");
    assert!(
        env.store
            .events(ID, 1000)
            .await
            .unwrap()
            .iter()
            .all(|e| e.status == EventStatus::Applied)
    );
    // Delivered again later: nothing is stored, nothing changes.
    let again = env.applier.apply_pending().await.unwrap();
    assert_eq!(again.applied, 0);
}

/// An update older than a deletion, applied after it: the record stays deleted.
async fn an_older_update_after_a_deletion_changes_nothing(kind: Kind) {
    let Some(env) = env(kind).await else { return };
    let older = json!({
        "company_id": FakePersonio::COMPANY_ID.to_string(),
        "event_name": "person.updated",
        "occurred_at": "2026-01-01T00:00:00.000Z",
        "payload": {"id": "9"}
    });
    assert!(env.fake.delete_person("9"));
    env.fake.deliver(Delivery::default()).await;
    env.applier.apply_pending().await.unwrap();
    assert!(
        env.store
            .record(PERSONS, "9")
            .await
            .unwrap()
            .unwrap()
            .deleted_at
            .is_some()
    );
    let (status, _) = post(
        &env.url,
        Some(&env.token),
        serde_json::to_vec(&older).unwrap(),
    )
    .await;
    assert_eq!(status, 202);
    let report = env.applier.apply_pending().await.unwrap();
    assert_eq!(report.applied, 1);
    assert_eq!(report.changed, 0);
    assert!(
        env.store
            .record(PERSONS, "9")
            .await
            .unwrap()
            .unwrap()
            .deleted_at
            .is_some()
    );
}

/// Wrong tokens, another company, broken envelopes and huge bodies are refused, and nothing
/// is stored for them.
async fn bad_deliveries_are_refused(kind: Kind) {
    let Some(env) = env(kind).await else { return };
    let good = json!({
        "company_id": FakePersonio::COMPANY_ID.to_string(),
        "event_name": "person.updated",
        "occurred_at": "2026-12-01T10:00:00.000Z",
        "payload": {"id": "3"}
    });
    let body = || serde_json::to_vec(&good).unwrap();
    assert_eq!(post(&env.url, None, body()).await.0, 401);
    assert_eq!(post(&env.url, Some("Bearer wrong"), body()).await.0, 401);
    let almost = format!("{}x", env.token);
    assert_eq!(post(&env.url, Some(&almost), body()).await.0, 401);
    assert_eq!(
        post(&env.url, Some(&env.token), b"{not json".to_vec())
            .await
            .0,
        422
    );
    let no_payload = json!({"company_id": "1", "event_name": "person.updated", "occurred_at": "2026-12-01T10:00:00Z"});
    let (status, text) = post(
        &env.url,
        Some(&env.token),
        serde_json::to_vec(&no_payload).unwrap(),
    )
    .await;
    assert_eq!(status, 422);
    assert!(text.contains("payload"), "{text}");
    // The first valid delivery pins the company; another one is refused after it.
    assert_eq!(post(&env.url, Some(&env.token), body()).await.0, 202);
    let mut other = good.clone();
    other["company_id"] = json!("999999");
    other["occurred_at"] = json!("2026-12-01T10:00:01.000Z");
    assert_eq!(
        post(
            &env.url,
            Some(&env.token),
            serde_json::to_vec(&other).unwrap()
        )
        .await
        .0,
        403
    );
    // 100 MB, declared: refused before it is read.
    let huge = vec![b' '; 100 << 20];
    let started = std::time::Instant::now();
    let (status, _) = post(&env.url, Some(&env.token), huge).await;
    // The server answers 413 and closes; the client may see the answer or a reset while it
    // is still sending.
    assert!(status == 413 || status == 0, "{status}");
    assert!(started.elapsed() < Duration::from_secs(20));
    // 100 MB streamed without a length (chunked): cut at the limit, never read whole.
    assert_eq!(chunked_100_mb(&env.url, &env.token).await, 413);
    assert_eq!(env.store.events(ID, 100).await.unwrap().len(), 1);
    // The receiver still works.
    let mut later = good.clone();
    later["occurred_at"] = json!("2026-12-01T11:00:00.000Z");
    assert_eq!(
        post(
            &env.url,
            Some(&env.token),
            serde_json::to_vec(&later).unwrap()
        )
        .await
        .0,
        202
    );
}

/// POSTs 100 MB in chunks without a `Content-Length`; the status the server answered with
/// (it may answer before the body is sent, and close).
async fn chunked_100_mb(url: &str, token: &str) -> u16 {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let rest = url.strip_prefix("http://").unwrap();
    let (addr, path) = rest.split_once('/').unwrap();
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /{path} HTTP/1.1\r\nhost: {addr}\r\nauthorization: {token}\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let chunk = vec![b' '; 64 << 10];
    let frame = [
        format!("{:x}\r\n", chunk.len()).into_bytes(),
        chunk,
        b"\r\n".to_vec(),
    ]
    .concat();
    for _ in 0..1600 {
        if stream.write_all(&frame).await.is_err() {
            break;
        }
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer)).await;
    let text = String::from_utf8_lossy(&answer);
    text.split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

macro_rules! suite {
    ($($name:ident),* $(,)?) => {
        mod sqlite_file { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name(super::Kind::File).await } )* }
        mod postgres { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name(super::Kind::Postgres).await } )* }
    };
}

suite!(
    redelivered_and_reordered_events_change_records_once,
    an_older_update_after_a_deletion_changes_nothing,
    bad_deliveries_are_refused,
);
