//! Connections kept in a `terapi-store`, shared by several processes, against the fake OAuth
//! 2.0 provider whose refresh tokens rotate and die on use: exactly one refresh however many
//! processes find the token expired at once, and processes killed with SIGKILL before, during
//! and after a refresh.
//!
//! The processes are this test binary run again with `TERAPI_STORE_WORKER` set: the ignored
//! test `worker` then connects from the store and sends its requests (see `Worker`).

use terapi_test_support as support;
use terapi_test_support::db;

use std::process::{Child, Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::json;
use support::fake_oauth::{CATALOG, CC_CATALOG, CLIENT_ID, CLIENT_SECRET, FakeOAuth};
use terapi_runtime::client::{
    AuthorizationRequest, Connection, OAuthClient, Settings, TokenSet, authorize_json,
};
use terapi_store::{ConnectionRecord, FromStore as _, Keys, Specs, Store, StoreError};

const WORKER: &str = "TERAPI_STORE_WORKER";
const ID: &str = "acme-north";

fn keys() -> Keys {
    Keys::new("test", &[9; 32]).unwrap()
}

fn catalog() -> Specs {
    Specs::from_iter([support::loopback::provider(CATALOG, "acme")])
}

fn client() -> OAuthClient {
    OAuthClient::new(CLIENT_ID, CLIENT_SECRET)
}

fn expired(access: &str, refresh: &str) -> TokenSet {
    TokenSet::new(access.to_owned())
        .with_refresh_token(refresh.to_owned())
        .with_expires_at(SystemTime::now() - Duration::from_secs(5))
        .with_metadata("instance_url", "https://eu7.acme.example")
}

async fn open(url: &str, lease: Duration) -> Store {
    Store::open(url, keys())
        .await
        .unwrap()
        .with_catalog(catalog())
        .with_lease(lease)
}

/// A store at `url` holding `ID` with an expired access token and a live refresh token.
async fn seeded(url: &str, fake: &FakeOAuth) -> (String, String) {
    let (access, refresh) = fake.issue();
    let store = open(url, Duration::from_secs(2)).await;
    let record = ConnectionRecord::authorized(
        "acme",
        json!({"tenant": "north"}),
        client(),
        expired(&access, &refresh),
    );
    store.save_connection(ID, &record).await.unwrap();
    (access, refresh)
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// What a worker process reported.
#[derive(Debug, serde::Deserialize)]
struct Report {
    ok: usize,
    errors: Vec<String>,
    refreshes: u64,
    reused: u64,
    window_ns_max: u64,
}

/// A worker process: connects to `ID` from the store at `url`, waits until `start_at` (unix
/// ms), sends `requests` concurrent `GET /api/me`, prints its `Report`, then sleeps
/// `hold_s` seconds (so that a test can kill it after its refresh).
struct Worker {
    child: Child,
}

impl Worker {
    fn spawn(
        url: &str,
        origin: &str,
        requests: usize,
        start_at: u64,
        lease: Duration,
        hold_s: u64,
    ) -> Worker {
        let child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "store_refresh::worker",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
                "-q",
            ])
            .env(WORKER, "1")
            .env("W_STORE", url)
            .env("W_ORIGIN", origin)
            .env("W_REQUESTS", requests.to_string())
            .env("W_START_AT", start_at.to_string())
            .env("W_LEASE_MS", lease.as_millis().to_string())
            .env("W_HOLD_S", hold_s.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        Worker { child }
    }

    fn kill(mut self) {
        // SIGKILL on Unix: no destructor, no commit, nothing runs.
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    async fn report(self) -> Report {
        let out = tokio::task::spawn_blocking(move || self.child.wait_with_output().unwrap())
            .await
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let line = stdout
            .lines()
            .find_map(|l| l.strip_prefix("REPORT "))
            .unwrap_or_else(|| {
                panic!(
                    "no report; status {}; stdout: {stdout}; stderr: {}",
                    out.status,
                    String::from_utf8_lossy(&out.stderr)
                )
            });
        serde_json::from_str(line).unwrap()
    }
}

#[tokio::test]
#[ignore = "a child process of the multi-process tests, run by them with TERAPI_STORE_WORKER set"]
async fn worker() {
    if std::env::var_os(WORKER).is_none() {
        return;
    }
    let var = |k: &str| std::env::var(k).unwrap();
    let lease = Duration::from_millis(var("W_LEASE_MS").parse().unwrap());
    let store = open(&var("W_STORE"), lease).await;
    let settings = Settings::new().origin(var("W_ORIGIN"));
    let requests: usize = var("W_REQUESTS").parse().unwrap();
    let start_at: u64 = var("W_START_AT").parse().unwrap();
    let conn = Connection::from_store(&store, ID, settings).await;
    tokio::time::sleep(Duration::from_millis(start_at.saturating_sub(now_ms()))).await;
    let mut ok = 0;
    let mut errors = Vec::new();
    match conn {
        Ok(conn) => {
            let calls = (0..requests).map(|_| {
                let conn = conn.clone();
                tokio::spawn(async move { conn.get("/api/me").send().await.map(|r| r.status()) })
            });
            for call in futures_util::future::join_all(calls).await {
                match call.unwrap() {
                    Ok(200) => ok += 1,
                    Ok(status) => errors.push(format!("status {status}")),
                    Err(e) => errors.push(e.to_string()),
                }
            }
        }
        Err(e) => errors.push(e.to_string()),
    }
    let stats = store.stats();
    let report = json!({
        "ok": ok, "errors": errors, "refreshes": stats.refreshes, "reused": stats.reused,
        "window_ns_max": stats.commit_window_max.as_nanos() as u64,
    });
    println!("REPORT {report}");
    tokio::time::sleep(Duration::from_secs(var("W_HOLD_S").parse().unwrap())).await;
}

/// `n` processes × `requests` concurrent requests on one expired token.
async fn many_processes_refresh_once(url: &str, processes: usize, requests: usize) {
    let fake = FakeOAuth::start().await;
    let (_, refresh) = seeded(url, &fake).await;
    // Every process connects first, then all start together.
    let start_at = now_ms() + 1500;
    let lease = Duration::from_secs(10);
    let workers: Vec<_> = (0..processes)
        .map(|_| Worker::spawn(url, &fake.origin, requests, start_at, lease, 0))
        .collect();
    let begun = Instant::now();
    let mut reports = Vec::new();
    for w in workers {
        reports.push(w.report().await);
    }
    let took = begun.elapsed();
    let ok: usize = reports.iter().map(|r| r.ok).sum();
    let errors: Vec<_> = reports.iter().flat_map(|r| r.errors.clone()).collect();
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(ok, processes * requests);
    assert_eq!(
        fake.fake.refreshes.load(Ordering::SeqCst),
        1,
        "exactly one refresh at the provider"
    );
    assert_eq!(reports.iter().map(|r| r.refreshes).sum::<u64>(), 1);
    assert_eq!(
        reports.iter().map(|r| r.reused).sum::<u64>(),
        processes as u64 - 1,
        "the others used its tokens"
    );
    let window = reports.iter().map(|r| r.window_ns_max).max().unwrap_or(0);
    eprintln!(
        "{processes} processes x {requests} requests: 1 refresh; all done {took:?} after the spawn; commit window {:?}",
        Duration::from_nanos(window)
    );
    // The store holds the rotated refresh token, which works.
    let store = open(url, lease).await;
    let tokens = store.connection(ID).await.unwrap().record.tokens.unwrap();
    assert_ne!(tokens.refresh_token().unwrap().expose(), refresh);
}

#[tokio::test]
async fn eight_processes_sharing_postgres_refresh_once() {
    let Some(db) = db::db(db::Kind::Postgres).await else {
        return;
    };
    many_processes_refresh_once(&db.url, 8, 50).await;
}

#[tokio::test]
async fn four_processes_sharing_sqlite_refresh_once() {
    let db = db::db(db::Kind::File).await.unwrap();
    many_processes_refresh_once(&db.url, 4, 50).await;
}

async fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn leased(url: &str) -> bool {
    let store = Store::open(url, Keys::none()).await.unwrap();
    store
        .list()
        .await
        .unwrap()
        .iter()
        .any(|i| i.leased_until.is_some())
}

#[tokio::test]
async fn a_process_killed_before_the_provider_answers_delays_the_others_by_its_lease_only() {
    let db = db::db(db::Kind::File).await.unwrap();
    let fake = FakeOAuth::start().await;
    seeded(&db.url, &fake).await;
    let lease = Duration::from_millis(1500);
    // The provider never answers the first process's refresh (and rotates nothing).
    fake.fake.hang_refreshes.store(true, Ordering::SeqCst);
    let first = Worker::spawn(&db.url, &fake.origin, 5, 0, lease, 0);
    let mut seen = false;
    for _ in 0..500 {
        if leased(&db.url).await {
            seen = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(seen, "the first process took the lease");
    tokio::time::sleep(Duration::from_millis(200)).await;
    first.kill();
    fake.fake.hang_refreshes.store(false, Ordering::SeqCst);
    let begun = Instant::now();
    let others: Vec<_> = (0..3)
        .map(|_| Worker::spawn(&db.url, &fake.origin, 10, 0, lease, 0))
        .collect();
    for w in others {
        let r = w.report().await;
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        assert_eq!(r.ok, 10);
    }
    assert_eq!(
        fake.fake.refreshes.load(Ordering::SeqCst),
        1,
        "the dead process's refresh was never processed"
    );
    eprintln!(
        "the others went on {:?} after the kill (lease {lease:?})",
        begun.elapsed()
    );
}

#[tokio::test]
async fn a_process_killed_between_the_providers_answer_and_the_commit_needs_reauthorization_without_a_loop()
 {
    let db = db::db(db::Kind::File).await.unwrap();
    let fake = FakeOAuth::start().await;
    seeded(&db.url, &fake).await;
    let lease = Duration::from_millis(1000);
    // The provider rotates the refresh token, then takes 10 s to answer: the process dies
    // inside the window.
    fake.fake
        .refresh_answer_delay_ms
        .store(10_000, Ordering::SeqCst);
    let first = Worker::spawn(&db.url, &fake.origin, 1, 0, lease, 0);
    let refreshes = &fake.fake.refreshes;
    wait_for("the first refresh", || {
        refreshes.load(Ordering::SeqCst) == 1
    })
    .await;
    first.kill();
    fake.fake.refresh_answer_delay_ms.store(0, Ordering::SeqCst);
    let others: Vec<_> = (0..3)
        .map(|_| Worker::spawn(&db.url, &fake.origin, 10, 0, lease, 0))
        .collect();
    for w in others {
        let r = w.report().await;
        assert_eq!(r.ok, 0);
        assert!(
            !r.errors.is_empty() && r.errors.iter().all(|e| e.contains("authorize again")),
            "{:?}",
            r.errors
        );
    }
    // One refused refresh marked the connection: no process tries again.
    assert_eq!(refreshes.load(Ordering::SeqCst), 2);
    let store = open(&db.url, lease).await;
    let info = store.list().await.unwrap().remove(0);
    assert!(
        info.reauthorize
            .as_deref()
            .is_some_and(|r| r.contains("refresh token")),
        "{info:?}"
    );
    let e = Connection::from_store(&store, ID, Settings::new().origin(fake.origin.clone()))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, StoreError::Client(c) if c.needs_reauthorization()),
        "{e}"
    );
    assert_eq!(refreshes.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_process_killed_after_its_refresh_leaves_working_tokens() {
    let db = db::db(db::Kind::File).await.unwrap();
    let fake = FakeOAuth::start().await;
    seeded(&db.url, &fake).await;
    let lease = Duration::from_secs(5);
    let first = Worker::spawn(&db.url, &fake.origin, 5, 0, lease, 60);
    // Its report is printed before it sleeps; read the pipe by waiting for the commit.
    let refreshes = &fake.fake.refreshes;
    wait_for("the first refresh", || {
        refreshes.load(Ordering::SeqCst) == 1
    })
    .await;
    let store = open(&db.url, lease).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while store.list().await.unwrap()[0].version < 2 {
        assert!(Instant::now() < deadline, "the refresh was committed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    first.kill();
    let others: Vec<_> = (0..3)
        .map(|_| Worker::spawn(&db.url, &fake.origin, 10, 0, lease, 0))
        .collect();
    for w in others {
        let r = w.report().await;
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        assert_eq!((r.ok, r.refreshes), (10, 0));
    }
    assert_eq!(refreshes.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn an_authorization_finishes_through_the_store_once_and_its_secrets_stay_sealed() {
    let db = db::db(db::Kind::File).await.unwrap();
    let fake = FakeOAuth::start().await;
    let store = open(&db.url, Duration::from_secs(5)).await;
    let settings = Settings::new().origin(fake.origin.clone());
    let pending = authorize_json(
        support::loopback::provider(CATALOG, "acme"),
        &json!({"tenant": "north"}),
        &client(),
        AuthorizationRequest::new("http://127.0.0.1:9/callback").settings(&settings),
    )
    .unwrap();
    let authorization_url = pending.url().to_owned();
    store.save_pending(ID, &pending).await.unwrap();
    drop(pending);
    // The browser step; the callback reaches another replica.
    let callback = support::loopback::follow(&authorization_url).await;
    let replica = open(&db.url, Duration::from_secs(5)).await;
    let e = replica
        .finish_authorization(
            "http://127.0.0.1:9/callback?code=x&state=forged",
            settings.clone(),
        )
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::NoPendingAuthorization), "{e}");
    let (id, conn) = replica
        .finish_authorization(&callback, settings.clone())
        .await
        .unwrap();
    assert_eq!(id, ID);
    assert_eq!(conn.get("/api/me").send().await.unwrap().status(), 200);
    // A callback is used once.
    let e = replica
        .finish_authorization(&callback, settings.clone())
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::NoPendingAuthorization), "{e}");
    // The first handle reads what the replica saved, and connects with it.
    let tokens = conn.tokens().unwrap();
    let stored = store.connection(ID).await.unwrap();
    assert_eq!(stored.record.tokens.as_ref().unwrap(), &tokens);
    let again = Connection::from_store(&store, ID, settings).await.unwrap();
    assert_eq!(again.get("/api/me").send().await.unwrap().status(), 200);
    let (_, path) = db.file.as_ref().unwrap();
    let bytes = db::sqlite_bytes(path);
    for secret in [
        CLIENT_SECRET,
        tokens.access_token().expose(),
        tokens.refresh_token().unwrap().expose(),
    ] {
        assert!(
            !db::contains(&bytes, secret),
            "a secret is in the SQLite file in clear"
        );
    }
    assert!(db::contains(&bytes, ID));
}

#[tokio::test]
async fn connections_of_one_store_in_one_process_refresh_once() {
    let db = db::db(db::Kind::File).await.unwrap();
    let fake = FakeOAuth::start().await;
    seeded(&db.url, &fake).await;
    let store = open(&db.url, Duration::from_secs(5)).await;
    let settings = Settings::new().origin(fake.origin.clone());
    let mut conns = Vec::new();
    for _ in 0..4 {
        conns.push(
            Connection::from_store(&store, ID, settings.clone())
                .await
                .unwrap(),
        );
    }
    let calls = conns
        .iter()
        .flat_map(|c| (0..20).map(move |_| c.get("/api/me").send()));
    for r in futures_util::future::join_all(calls).await {
        assert_eq!(r.unwrap().status(), 200);
    }
    assert_eq!(fake.fake.refreshes.load(Ordering::SeqCst), 1);
    let stats = store.stats();
    assert_eq!((stats.refreshes, stats.reused), (1, 3), "{stats:?}");
}

// Tokens obtained from the credentials (OAUTH2_CC here, TWO_STEP and BILL in
// `tests/token_modes.rs`) outlive the process that obtained them: the store keeps them sealed
// and hands them to every process until they expire.

const CC_ID: &str = "acme-cc-north";

/// A store holding the OAUTH2_CC connection `CC_ID` (no token yet), with `lease`.
async fn cc_store(url: &str, lease: Duration) -> Store {
    Store::open(url, keys())
        .await
        .unwrap()
        .with_catalog(Specs::from_iter([support::loopback::provider(
            CC_CATALOG, "acme-cc",
        )]))
        .with_lease(lease)
}

async fn cc_seeded(url: &str) {
    let store = cc_store(url, Duration::from_secs(5)).await;
    let record = ConnectionRecord::new(
        "acme-cc",
        json!({}),
        json!({"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}),
    );
    store.save_connection(CC_ID, &record).await.unwrap();
}

/// Three stores opened on one database (three processes' worth), one after the other, each
/// sending a request: one client credentials grant, its token sealed in the store.
async fn cc_three_stores_one_token_request(kind: db::Kind) {
    let Some(db) = db::db(kind).await else {
        return;
    };
    let fake = FakeOAuth::start().await;
    cc_seeded(&db.url).await;
    let settings = Settings::new().origin(fake.origin.clone());
    for _ in 0..3 {
        let store = cc_store(&db.url, Duration::from_secs(5)).await;
        let conn = Connection::from_store(&store, CC_ID, settings.clone())
            .await
            .unwrap();
        assert_eq!(conn.get("/api/me").send().await.unwrap().status(), 200);
    }
    assert_eq!(
        fake.fake.client_credentials.load(Ordering::SeqCst),
        1,
        "{kind:?}: one token request for three processes"
    );
    let stored = cc_store(&db.url, Duration::from_secs(5))
        .await
        .connection(CC_ID)
        .await
        .unwrap();
    let token = stored.record.tokens.expect("the token is kept");
    assert!(stored.info.token_expires_at.is_some());
    let bytes = db::dump(&db).await;
    assert!(
        !db::contains(&bytes, token.access_token().expose()),
        "{kind:?}: the token is sealed at rest"
    );
}

#[tokio::test]
async fn a_client_credentials_token_is_shared_by_three_stores_on_a_sqlite_file() {
    cc_three_stores_one_token_request(db::Kind::File).await;
}

#[tokio::test]
async fn a_client_credentials_token_is_shared_by_three_stores_on_postgres() {
    cc_three_stores_one_token_request(db::Kind::Postgres).await;
}

/// Four stores with ten concurrent requests each on a stored token that expired, then on one
/// the provider revoked (each request gets a 401): each time, one new token at the provider.
async fn cc_expired_or_refused_renewed_once(kind: db::Kind) {
    let Some(db) = db::db(kind).await else {
        return;
    };
    let fake = FakeOAuth::start().await;
    // Slow answers: every user is waiting while the one token request is under way.
    fake.fake
        .client_credentials_delay_ms
        .store(300, Ordering::SeqCst);
    cc_seeded(&db.url).await;
    let settings = Settings::new().origin(fake.origin.clone());
    let first = cc_store(&db.url, Duration::from_secs(10)).await;
    let conn = Connection::from_store(&first, CC_ID, settings.clone())
        .await
        .unwrap();
    assert_eq!(conn.get("/api/me").send().await.unwrap().status(), 200);
    assert_eq!(fake.fake.client_credentials.load(Ordering::SeqCst), 1);
    // The stored token expires (a skewed clock, or a long pause).
    let mut record = first.connection(CC_ID).await.unwrap().record;
    let expired = record
        .tokens
        .take()
        .unwrap()
        .with_expires_at(SystemTime::now() - Duration::from_secs(5));
    record.tokens = Some(expired.clone());
    first.save_connection(CC_ID, &record).await.unwrap();

    let round = |expected: u64, what: &'static str| {
        let url = db.url.clone();
        let settings = settings.clone();
        let fake = fake.fake.clone();
        async move {
            let mut conns = Vec::new();
            for _ in 0..4 {
                let store = cc_store(&url, Duration::from_secs(10)).await;
                conns.push(
                    Connection::from_store(&store, CC_ID, settings.clone())
                        .await
                        .unwrap(),
                );
            }
            let calls = conns
                .iter()
                .flat_map(|c| (0..10).map(move |_| c.get("/api/me").send()));
            for r in futures_util::future::join_all(calls).await {
                assert_eq!(r.unwrap().status(), 200, "{kind:?}: {what}");
            }
            assert_eq!(
                fake.client_credentials.load(Ordering::SeqCst),
                expected,
                "{kind:?}: {what}: one new token for every user"
            );
        }
    };
    round(2, "an expired stored token").await;
    let renewed = first
        .connection(CC_ID)
        .await
        .unwrap()
        .record
        .tokens
        .unwrap();
    assert_ne!(renewed.access_token(), expired.access_token());
    // The provider revokes the (fresh) stored token: every request gets a 401 once.
    fake.revoke_access_tokens();
    round(3, "a revoked stored token").await;
}

#[tokio::test]
async fn an_expired_or_revoked_client_credentials_token_is_renewed_once_on_a_sqlite_file() {
    cc_expired_or_refused_renewed_once(db::Kind::File).await;
}

#[tokio::test]
async fn an_expired_or_revoked_client_credentials_token_is_renewed_once_on_postgres() {
    cc_expired_or_refused_renewed_once(db::Kind::Postgres).await;
}

/// A pasted callback with the right `state` but another port is refused, naming the
/// redirect URI with its port, and leaves the flow to the right callback; two right
/// callbacks at once still exchange the code once.
async fn a_callback_to_another_port_leaves_the_flow(kind: db::Kind) {
    let Some(db) = db::db(kind).await else {
        return;
    };
    let fake = FakeOAuth::start().await;
    let store = open(&db.url, Duration::from_secs(5)).await;
    let settings = Settings::new().origin(fake.origin.clone());
    let pending = authorize_json(
        support::loopback::provider(CATALOG, "acme"),
        &json!({"tenant": "north"}),
        &client(),
        AuthorizationRequest::new("http://127.0.0.1:9/callback").settings(&settings),
    )
    .unwrap();
    store.save_pending(ID, &pending).await.unwrap();
    let callback = support::loopback::follow(pending.url()).await;
    assert!(callback.starts_with("http://127.0.0.1:9/callback?"));
    let wrong_port = callback.replacen(":9/", ":8080/", 1);
    let e = store
        .finish_authorization(&wrong_port, settings.clone())
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("`http://127.0.0.1:9/callback`"),
        "{kind:?}: the expected redirect with its port: {e}"
    );
    assert_eq!(fake.fake.exchanges.load(Ordering::SeqCst), 0);
    // Another scheme, host or path is refused the same way, and uses nothing up either.
    for wrong in [
        callback.replacen("http://127.0.0.1:9/", "https://127.0.0.1:9/", 1),
        callback.replacen("/callback?", "/other?", 1),
    ] {
        let e = store
            .finish_authorization(&wrong, settings.clone())
            .await
            .unwrap_err();
        assert!(e.to_string().contains("redirect URI"), "{kind:?}: {e}");
    }
    // The right callback, twice at once (two replicas): one exchange, one answer.
    let replica = open(&db.url, Duration::from_secs(5)).await;
    let (a, b) = tokio::join!(
        store.finish_authorization(&callback, settings.clone()),
        replica.finish_authorization(&callback, settings.clone()),
    );
    let (done, refused) = match (a, b) {
        (Ok(done), Err(e)) | (Err(e), Ok(done)) => (done, e),
        (a, b) => panic!(
            "{kind:?}: exactly one finishes: {:?} / {:?}",
            a.map(|d| d.0),
            b.map(|d| d.0)
        ),
    };
    assert_eq!(done.0, ID);
    assert!(
        matches!(refused, StoreError::NoPendingAuthorization),
        "{kind:?}: {refused}"
    );
    assert_eq!(fake.fake.exchanges.load(Ordering::SeqCst), 1);
    assert_eq!(done.1.get("/api/me").send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn a_callback_to_another_port_leaves_the_flow_on_a_sqlite_file() {
    a_callback_to_another_port_leaves_the_flow(db::Kind::File).await;
}

#[tokio::test]
async fn a_callback_to_another_port_leaves_the_flow_on_postgres() {
    a_callback_to_another_port_leaves_the_flow(db::Kind::Postgres).await;
}

/// When the store cannot be used (its table gone here), a connection whose token comes from
/// its credentials still obtains one and answers, instead of failing every request.
#[tokio::test]
async fn a_client_credentials_connection_works_when_its_store_fails_on_postgres() {
    let Some(db) = db::db(db::Kind::Postgres).await else {
        return;
    };
    let fake = FakeOAuth::start().await;
    cc_seeded(&db.url).await;
    let store = cc_store(&db.url, Duration::from_secs(5)).await;
    let settings = Settings::new().origin(fake.origin.clone());
    let conn = Connection::from_store(&store, CC_ID, settings)
        .await
        .unwrap();
    db::pg_execute(&db.url, "ALTER TABLE terapi_connections RENAME TO gone").await;
    assert_eq!(conn.get("/api/me").send().await.unwrap().status(), 200);
    assert_eq!(fake.fake.client_credentials.load(Ordering::SeqCst), 1);
}
