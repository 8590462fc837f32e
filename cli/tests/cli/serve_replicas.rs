//! Three `terapi serve` processes on one PostgreSQL database, in front of the fake OAuth
//! provider (rotating refresh tokens): 1,000 concurrent proxied requests on an expired token,
//! spread over the three, make exactly one refresh.

use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::json;
use terapi_test_support::cli::{Env, Lines, next};
use terapi_test_support::fake_oauth::{CLIENT_ID, CLIENT_SECRET, FakeOAuth};

use crate::BIN;

const BOOTSTRAP: &str = "tk_replicas_0123456789abcdefghijklmnopqrstuvwxyzABCDEFG";

/// A `terapi serve` process, its URL, and a task that reads its log (one line per request:
/// unread, the pipe fills and the process stops).
async fn serve(
    env: &Env,
    catalog: &str,
) -> (
    tokio::process::Child,
    String,
    tokio::task::JoinHandle<Vec<String>>,
) {
    let mut cmd = env.command(&["--catalog", catalog, "serve", "--listen", "127.0.0.1:0"]);
    cmd.env("TERAPI_API_KEY", BOOTSTRAP);
    let mut child = cmd.spawn().unwrap();
    let mut stderr =
        tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(child.stderr.take().unwrap()));
    let first = next(&mut stderr).await;
    let url = first
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("{first}"))
        .to_owned();
    let log = tokio::spawn(drain(stderr));
    (child, url, log)
}

async fn drain(mut stderr: Lines) -> Vec<String> {
    let mut kept = Vec::new();
    while let Ok(Some(line)) = stderr.next_line().await {
        if !line.contains(" INFO ") || line.contains("refresh") {
            kept.push(line);
        }
    }
    kept
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_refresh_for_a_thousand_requests_across_three_processes() {
    let Some(db) = terapi_test_support::db::db(terapi_test_support::db::Kind::Postgres).await
    else {
        return;
    };
    let fake = FakeOAuth::start().await;
    fake.fake
        .refresh_answer_delay_ms
        .store(200, Ordering::SeqCst);
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().join("catalog.yaml");
    std::fs::write(&catalog, terapi_test_support::fake_oauth::CATALOG).unwrap();
    let env = Env {
        bin: BIN,
        db: dir.path().join("unused.db"),
        store: db.url.clone(),
        key: terapi_store::Keys::generate().unwrap(),
        origin: fake.origin.clone(),
        dir,
    };
    let catalog = catalog.display().to_string();
    let mut replicas = Vec::new();
    for _ in 0..3 {
        replicas.push(serve(&env, &catalog).await);
    }
    let http = terapi_test_support::http_client().build().unwrap();
    let (access, refresh) = fake.issue();
    let res = http
        .post(format!("{}/connections", replicas[0].1))
        .bearer_auth(BOOTSTRAP)
        .header("content-type", "application/json")
        .body(json!({
            "connection_id": "shared",
            "provider_config_key": "acme",
            "connection_config": {"tenant": "acme", "instance_url": "https://api.acme.example"},
            "tokens": {"access_token": access, "refresh_token": refresh, "expires_at": "2001-01-01T00:00:00Z"},
            "oauth_client": {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
        }).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 201, "{}", res.text().await.unwrap());
    let urls: Vec<String> = replicas.iter().map(|r| r.1.clone()).collect();
    let tasks: Vec<_> = (0..1000)
        .map(|i| {
            let http = http.clone();
            let url = format!("{}/proxy/api/ping", urls[i % 3]);
            tokio::spawn(async move {
                http.get(url)
                    .bearer_auth(BOOTSTRAP)
                    .header("Connection-Id", "shared")
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
                    .map_err(|e| e.to_string())
            })
        })
        .collect();
    let results = tokio::time::timeout(Duration::from_secs(90), async {
        let mut results = Vec::new();
        for task in tasks {
            results.push(task.await.unwrap());
        }
        results
    })
    .await
    .expect("the requests finish in time");
    let failed: Vec<_> = results
        .iter()
        .filter(|r| !matches!(r, Ok(200)))
        .take(5)
        .collect();
    assert!(failed.is_empty(), "{failed:?}");
    assert_eq!(fake.fake.refreshes.load(Ordering::SeqCst), 1);
    for (child, _, log) in replicas {
        terapi_test_support::cli::stop(child).await;
        let log = log.await.unwrap().join("\n");
        assert!(
            !log.contains(BOOTSTRAP) && !log.contains(CLIENT_SECRET),
            "{log}"
        );
    }
}
