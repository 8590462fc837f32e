//! Personio v2 webhooks received into a `terapi-store`, on a SQLite file and on PostgreSQL:
//! a subscription made through the fake's `/v2/webhooks` with a token the library makes;
//! deliveries 14 times over and out of order change each record once; a wrong token, another
//! company, a broken envelope and a 100 MB body are refused; an older event applied after a
//! deletion does not bring the record back; an old delete event does not delete a record
//! the provider still has; 200 slow clients are dropped while deliveries are answered; a
//! subscription over its rate gets 429; fetches stay within the connection's budget; a
//! removed connection gets 410; applied events are pruned.

use terapi_test_support as support;
use terapi_test_support::db;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use db::Kind;
use serde_json::json;
use support::fake_personio::{Delivery, FakePersonio};
use support::personio_conn::v2;
use support::slow_client::{Slow, slow_client};
use terapi_providers::integrations::personio_v2;
use terapi_store::{ChangeKind, ConnectionRecord, EventStatus, Keys, Model, Store};
use terapi_sync::serve::Limits;
use terapi_sync::webhook::{
    Applier, Envelope, ReceiverConfig, WebhookReceiver, personio_routes, subscribe,
};
use terapi_sync::{Budget, Budgets, ConnectionSource, SyncOptions, sync};
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

/// The fake's connection, for connections the store has (as `StoreConnections` would).
struct Source(String, Store);

impl ConnectionSource for Source {
    fn connection<'a>(&'a self, id: &'a str) -> terapi_sync::ConnectionFuture<'a> {
        Box::pin(async move {
            if !self.1.has_connection(id).await? {
                return Err(terapi_store::StoreError::NotFound { id: id.to_owned() }.into());
            }
            Ok(v2(&self.0))
        })
    }
}

struct Env {
    fake: FakePersonio,
    store: Store,
    applier: Applier,
    notify: Arc<Notify>,
    url: String,
    token: String,
    _db: db::Db,
}

/// The fake, a store with 20 persons synced, the receiver on loopback, and a subscription.
async fn env(kind: Kind) -> Option<Env> {
    env_with(kind, ReceiverConfig::default(), Limits::default()).await
}

/// [`env`] with this receiver configuration, served within these limits.
async fn env_with(kind: Kind, config: ReceiverConfig, limits: Limits) -> Option<Env> {
    let db = db::db(kind).await?;
    let fake = FakePersonio::start().await;
    fake.set_persons(20);
    let store = Store::open(&db.url, Keys::new("t", &[3; 32]).unwrap())
        .await
        .unwrap();
    // The connection the subscription delivers for (its secrets are not used here: the
    // applier's `Source` connects to the fake).
    store
        .save_connection(
            ID,
            &ConnectionRecord::new("personio-v2", json!({}), json!({})),
        )
        .await
        .unwrap();
    let conn = v2(&fake.origin());
    sync(
        &store,
        &conn,
        ID,
        &personio_v2::syncs::persons(),
        SyncOptions::full(),
    )
    .await
    .unwrap();
    let notify = Arc::new(Notify::new());
    let receiver = WebhookReceiver::new(store.clone(), config, notify.clone());
    let app = axum::Router::new().route_service("/hooks/personio", receiver);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hooks/personio", listener.local_addr().unwrap());
    tokio::spawn(terapi_sync::serve::serve(
        listener,
        app,
        limits,
        std::future::pending(),
    ));
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
        Arc::new(Source(fake.origin(), store.clone())) as Arc<dyn ConnectionSource>,
        notify.clone(),
    );
    Some(Env {
        fake,
        store,
        applier,
        notify,
        url,
        token,
        _db: db,
    })
}

async fn post(url: &str, token: Option<&str>, body: Vec<u8>) -> (u16, String) {
    let client = support::http_client().build().unwrap();
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

/// A Personio envelope naming person `id`.
fn person_event(name: &str, occurred_at: &str, id: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "company_id": FakePersonio::COMPANY_ID.to_string(),
        "event_name": name,
        "occurred_at": occurred_at,
        "payload": {"id": id}
    }))
    .unwrap()
}

fn ms(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH).unwrap().as_millis() as i64
}

/// `person.updated` (2026-03-01) applied, then a `person.deleted` dated 2001-01-01 while
/// the provider still has the person: the record stays (the deletion was checked with a
/// fetch). Deleted at the provider, its deletion is stored dated by its event.
async fn an_old_delete_event_keeps_a_live_record(kind: Kind) {
    let Some(env) = env(kind).await else { return };
    assert!(env.fake.update_person("4", "Renamed"));
    // The fake's own `person.updated`, and one dated 2026-03-01.
    env.fake.deliver(Delivery::default()).await;
    let updated = person_event("person.updated", "2026-03-01T00:00:00.000Z", "4");
    assert_eq!(post(&env.url, Some(&env.token), updated).await.0, 202);
    let report = env.applier.apply_pending().await.unwrap();
    assert_eq!((report.applied, report.changed), (2, 1), "{report:?}");
    let cursor = env.store.changes(PERSONS, 0, 10_000).await.unwrap().cursor;
    let fetches = env.fake.count("/v2/persons/4");

    let old = person_event("person.deleted", "2001-01-01T00:00:00.000Z", "4");
    assert_eq!(post(&env.url, Some(&env.token), old).await.0, 202);
    let report = env.applier.apply_pending().await.unwrap();
    assert_eq!(
        (report.applied, report.changed, report.failed),
        (1, 0, 0),
        "{report:?}"
    );
    let p4 = env.store.record(PERSONS, "4").await.unwrap().unwrap();
    assert!(p4.deleted_at.is_none(), "the provider still has person 4");
    assert_eq!(p4.data["first_name"], "Renamed");
    let changes = env.store.changes(PERSONS, cursor, 100).await.unwrap();
    assert!(changes.changes.is_empty(), "{:?}", changes.changes);
    assert_eq!(
        env.fake.count("/v2/persons/4"),
        fetches + 1,
        "the deletion is checked with the provider"
    );

    // Deleted for real: the fetch answers 404, and the deletion carries the event's time.
    assert!(env.fake.delete_person("4"));
    let event = env
        .fake
        .queued_events()
        .into_iter()
        .find(|e| e["event_name"] == "person.deleted")
        .unwrap();
    let occurred = Envelope::parse(event.to_string().as_bytes())
        .unwrap()
        .occurred_at_ms;
    env.fake.deliver(Delivery::default()).await;
    let report = env.applier.apply_pending().await.unwrap();
    assert_eq!(report.failed, 0, "{report:?}");
    let p4 = env.store.record(PERSONS, "4").await.unwrap().unwrap();
    assert_eq!(p4.deleted_at.map(ms), Some(occurred));
    let changes = env.store.changes(PERSONS, cursor, 100).await.unwrap();
    let kinds: Vec<_> = changes
        .changes
        .iter()
        .map(|c| (c.id.as_str(), c.kind))
        .collect();
    assert_eq!(kinds, [("4", ChangeKind::Deleted)]);
    // A deletion dated in the future (a skewed clock) is dated when it was seen instead.
    assert!(env.fake.delete_person("6"));
    // (The fake's own events for it stay queued: only this one is delivered.)
    let skewed = person_event("person.deleted", "2099-01-01T00:00:00.000Z", "6");
    let before = SystemTime::now();
    assert_eq!(post(&env.url, Some(&env.token), skewed).await.0, 202);
    env.applier.apply_pending().await.unwrap();
    let p6 = env.store.record(PERSONS, "6").await.unwrap().unwrap();
    let deleted_at = p6.deleted_at.expect("deleted");
    assert!(
        deleted_at >= before && deleted_at <= SystemTime::now(),
        "{deleted_at:?}"
    );
}

/// 200 connections that send nothing, trickle their head or trickle their body: each is
/// closed by the server after its timeout, and deliveries meanwhile get their answer within
/// a second.
async fn slow_clients_are_dropped_while_deliveries_are_answered(kind: Kind) {
    let limits = Limits {
        header_timeout: Duration::from_secs(2),
        body_timeout: Duration::from_secs(2),
        idle_timeout: Duration::from_secs(4),
        ..Limits::default()
    };
    let Some(env) = env_with(kind, ReceiverConfig::default(), limits).await else {
        return;
    };
    let addr = env.url["http://".len()..]
        .split_once('/')
        .unwrap()
        .0
        .to_owned();
    let modes = [Slow::Silent, Slow::Head, Slow::Body];
    let clients: Vec<_> = (0..200)
        .map(|i| {
            tokio::spawn(slow_client(
                env.url.clone(),
                modes[i % modes.len()],
                env.token.clone(),
                Duration::from_secs(20),
            ))
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    for n in 1..=5 {
        let body = person_event(
            "person.updated",
            &format!("2026-12-01T10:00:0{n}.000Z"),
            &n.to_string(),
        );
        let sent = Instant::now();
        let (status, text) = post(&env.url, Some(&env.token), body).await;
        assert_eq!(status, 202, "{text}");
        assert!(
            sent.elapsed() < Duration::from_secs(1),
            "delivery {n} answered after {:?}",
            sent.elapsed()
        );
    }
    // A wrong token is refused from the head, before any of the body is sent.
    {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
        let head = format!(
            "POST /hooks/personio HTTP/1.1\r\nhost: {addr}\r\nauthorization: Bearer wrong\r\ncontent-length: 4000\r\n\r\n"
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        let mut answer = [0u8; 64];
        let n = tokio::time::timeout(Duration::from_secs(1), stream.read(&mut answer))
            .await
            .expect("answered before the body")
            .unwrap();
        let answer = String::from_utf8_lossy(&answer[..n]);
        assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    }
    for (i, client) in clients.into_iter().enumerate() {
        let closed = client.await.unwrap();
        assert!(
            closed.is_some_and(|after| after < Duration::from_secs(15)),
            "slow client {i} ({:?}): closed after {closed:?}",
            modes[i % modes.len()]
        );
    }
    assert_eq!(env.store.events(ID, 100).await.unwrap().len(), 5);
}

/// Over its rate, a subscription's deliveries get 429 with `Retry-After`, and are not
/// stored.
async fn deliveries_over_the_rate_get_429_with_retry_after(kind: Kind) {
    let config = ReceiverConfig {
        rate: Budget {
            per_minute: 60,
            burst: 10,
        },
        ..ReceiverConfig::default()
    };
    let Some(env) = env_with(kind, config, Limits::default()).await else {
        return;
    };
    let client = support::http_client().build().unwrap();
    let (mut accepted, mut refused) = (0, 0);
    for n in 0..40 {
        let body = person_event(
            "person.updated",
            &format!("2026-12-01T10:00:{n:02}.000Z"),
            "3",
        );
        let response = client
            .post(&env.url)
            .header("authorization", &env.token)
            .body(body)
            .send()
            .await
            .unwrap();
        match response.status().as_u16() {
            202 => accepted += 1,
            429 => {
                refused += 1;
                let wait: u64 = response.headers()["retry-after"]
                    .to_str()
                    .unwrap()
                    .parse()
                    .unwrap();
                assert!((1..=60).contains(&wait), "Retry-After: {wait}");
            }
            other => panic!("{other}"),
        }
    }
    // The burst, and at most a few more as the rate refills (one a second).
    assert!((10..=15).contains(&accepted), "{accepted} accepted");
    assert_eq!(accepted + refused, 40);
    assert_eq!(env.store.events(ID, 100).await.unwrap().len(), accepted);
}

/// The applier's fetches go through the connection's budget: 40 events, a budget of 5 at
/// once then one a second, 3 seconds: at most 10 fetches.
async fn fetches_stay_within_the_connection_budget(kind: Kind) {
    let Some(env) = env(kind).await else { return };
    for n in 1..=40 {
        let body = person_event(
            "person.updated",
            &format!("2026-12-01T10:00:{:02}.000Z", n % 60),
            &n.to_string(),
        );
        assert_eq!(post(&env.url, Some(&env.token), body).await.0, 202);
    }
    let mut routes = personio_routes();
    for route in &mut routes {
        route.spec.budget = Budget {
            per_minute: 60,
            burst: 5,
        };
    }
    let budgets = Budgets::new();
    let applier = Applier::new(
        env.store.clone(),
        Arc::new(Source(env.fake.origin(), env.store.clone())) as Arc<dyn ConnectionSource>,
        env.notify.clone(),
    )
    .routes(routes)
    .budgets(budgets.clone());
    let before = env.fake.count("/v2/persons/");
    let _ = tokio::time::timeout(Duration::from_secs(3), applier.apply_pending()).await;
    let fetched = env.fake.count("/v2/persons/") - before;
    assert!((5..=10).contains(&fetched), "{fetched} fetches in 3 s");
    // The budget is the connection's, as a worker given the same `Budgets` uses it.
    let shared = budgets.get(ID, Budget::default());
    assert_eq!(shared.budget().burst, 5);
}

/// A delivery for a connection removed from the store gets 410 and is not stored; events
/// stored before are given up, not retried.
async fn a_removed_connection_gets_410(kind: Kind) {
    let Some(env) = env(kind).await else { return };
    let first = person_event("person.updated", "2026-12-01T10:00:00.000Z", "2");
    assert_eq!(post(&env.url, Some(&env.token), first).await.0, 202);
    assert!(env.store.remove(ID).await.unwrap());
    let second = person_event("person.updated", "2026-12-01T10:00:01.000Z", "2");
    let (status, text) = post(&env.url, Some(&env.token), second).await;
    assert_eq!(status, 410, "{text}");
    assert!(text.contains("removed"), "{text}");
    let report = env.applier.apply_pending().await.unwrap();
    assert_eq!((report.failed, report.retried), (1, 0), "{report:?}");
    let events = env.store.events(ID, 100).await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].status, EventStatus::Failed);
    // Nothing is due any more.
    let again = env.applier.apply_pending().await.unwrap();
    assert_eq!(again, Default::default());
}

/// Events applied are kept for the retention period, then pruned; pending ones stay.
async fn applied_events_are_pruned_after_the_retention(kind: Kind) {
    let Some(mut env) = env(kind).await else {
        return;
    };
    for n in 1..=3 {
        let body = person_event(
            "person.updated",
            &format!("2026-12-01T10:00:0{n}.000Z"),
            &n.to_string(),
        );
        assert_eq!(post(&env.url, Some(&env.token), body).await.0, 202);
    }
    env.applier.apply_pending().await.unwrap();
    // Within the default retention (7 days): kept, so a redelivery is still recognized.
    assert_eq!(env.store.events(ID, 100).await.unwrap().len(), 3);
    tokio::time::sleep(Duration::from_millis(20)).await;
    env.applier.retention = Duration::ZERO;
    env.applier.prune_every = Duration::ZERO;
    let pending = person_event("person.updated", "2026-12-01T10:00:09.000Z", "9");
    assert_eq!(post(&env.url, Some(&env.token), pending).await.0, 202);
    // The store prunes only what was applied or given up.
    let pruned = env
        .store
        .prune_events(SystemTime::now() + Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(pruned, 3);
    let left = env.store.events(ID, 100).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].status, EventStatus::Pending);
    // The applier prunes after its pass.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let report = env.applier.apply_pending().await.unwrap();
    assert_eq!(report.applied, 1);
    assert!(env.store.events(ID, 100).await.unwrap().is_empty());
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
    an_old_delete_event_keeps_a_live_record,
    slow_clients_are_dropped_while_deliveries_are_answered,
    deliveries_over_the_rate_get_429_with_retry_after,
    fetches_stay_within_the_connection_budget,
    a_removed_connection_gets_410,
    applied_events_are_pruned_after_the_retention,
);
