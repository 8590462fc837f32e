//! `terapi sync`, `records` and `webhooks` as a user runs them: a temporary SQLite store, a
//! key in the environment, the built-in catalog, and the fake Personio of
//! terapi-test-support (through `--origin`).

use terapi_test_support::{cli as env, fake_personio, slow_client};

use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::Command;

use env::{Env, Out, RUN_LIMIT};
use fake_personio::{Delivery, FakePersonio};
use slow_client::{Slow, slow_client};

fn assert_no_secret(text: &str) {
    for secret in [FakePersonio::CLIENT_SECRET, FakePersonio::CLIENT_ID] {
        assert!(!text.contains(secret), "a secret shows: {text}");
    }
}

/// The cursor of `cursor: N` on stderr.
fn cursor(out: &Out) -> u64 {
    let line = out
        .stderr
        .lines()
        .find_map(|l| l.strip_prefix("cursor: "))
        .unwrap_or_else(|| panic!("a cursor on stderr: {out:?}"));
    line.parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_then_records_and_changes() {
    let fake = FakePersonio::start().await;
    let env = Env::new(crate::BIN, &fake);
    env.connect("hr", "personio").await;

    let first = env.run(&["sync", "hr", "employees"]).await;
    first.ok();
    assert_eq!(
        first.stdout,
        "employees: 250 added, 0 updated, 0 unchanged, 0 deleted (full run, 3 pages, cursor 250)\n",
        "{first:?}"
    );
    assert!(
        first.stderr.is_empty(),
        "no progress bar off a terminal: {first:?}"
    );

    let again = env.run(&["sync", "hr", "employees", "--full"]).await;
    again.ok();
    assert!(
        again
            .stdout
            .starts_with("employees: 0 added, 0 updated, 250 unchanged, 0 deleted (full run, "),
        "{again:?}"
    );

    // The current records, in id order (byte-wise), with their data.
    let records = env.run(&["records", "hr", "employees"]).await;
    records.ok();
    let lines = records.json_lines();
    assert_eq!(lines.len(), 250);
    assert!(
        lines
            .iter()
            .all(|l| l["id"].is_string() && l["data"].is_object())
    );
    let one = lines.iter().find(|l| l["id"] == "1").unwrap();
    assert_eq!(one["data"]["attributes"]["first_name"]["value"], "First1");

    // The change feed from the beginning: every record added once.
    let changes = env
        .run(&["records", "hr", "employees", "--changes-since", "0"])
        .await;
    changes.ok();
    let feed = changes.json_lines();
    assert_eq!(feed.len(), 250, "{}", changes.stderr);
    assert!(
        feed.iter()
            .all(|c| c["kind"] == "added" && c["data"].is_object())
    );
    let end = cursor(&changes);
    assert_eq!(end, 250);
    assert_eq!(feed.last().unwrap()["cursor"], end);
    let nothing = env
        .run(&[
            "records",
            "hr",
            "employees",
            "--changes-since",
            &end.to_string(),
        ])
        .await;
    nothing.ok();
    assert!(nothing.stdout.is_empty(), "{nothing:?}");
    assert_eq!(cursor(&nothing), end);

    // One employee gone: a complete full run marks it deleted.
    assert!(fake.delete_employee(250));
    let full = env
        .run(&["sync", "hr", "employees", "--full", "--json"])
        .await;
    full.ok();
    let report: Value = serde_json::from_str(full.stdout.trim()).unwrap();
    assert_eq!(report["model"], "employees");
    assert_eq!(report["full"], true);
    assert_eq!(report["counts"]["deleted"], 1, "{report}");
    assert_eq!(report["counts"]["unchanged"], 249, "{report}");
    assert_eq!(report["cursor"], 251);

    let records = env.run(&["records", "hr", "employees"]).await;
    assert_eq!(records.ok().json_lines().len(), 249);
    let changes = env
        .run(&[
            "records",
            "hr",
            "employees",
            "--changes-since",
            &end.to_string(),
        ])
        .await;
    changes.ok();
    let feed = changes.json_lines();
    assert_eq!(feed.len(), 1, "{changes:?}");
    assert_eq!(feed[0]["kind"], "deleted");
    assert_eq!(feed[0]["id"], "250");
    assert!(feed[0]["data"].is_null());
    assert_eq!(cursor(&changes), 251);

    // One renamed: a full run updates it, the feed has its new data.
    assert!(fake.update_employee(7, "Renamed"));
    let full = env.run(&["sync", "hr", "employees", "--full"]).await;
    full.ok();
    assert!(
        full.stdout
            .starts_with("employees: 0 added, 1 updated, 248 unchanged, 0 deleted (full run, "),
        "{full:?}"
    );
    let changes = env
        .run(&["records", "hr", "employees", "--changes-since", "251"])
        .await;
    let feed = changes.ok().json_lines();
    assert_eq!(feed.len(), 1, "{changes:?}");
    assert_eq!(feed[0]["kind"], "updated");
    assert_eq!(feed[0]["id"], "7");
    assert_eq!(
        feed[0]["data"]["attributes"]["first_name"]["value"],
        "Renamed"
    );
    assert_eq!(cursor(&changes), 252);

    // An incremental run after the complete ones.
    let incremental = env.run(&["sync", "hr", "employees"]).await;
    incremental.ok();
    assert!(
        incremental.stdout.contains("(incremental run, "),
        "{incremental:?}"
    );
    assert_no_secret(&format!("{}{}", full.all(), records.all()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_models_bad_cursors_and_failed_runs() {
    let fake = FakePersonio::start().await;
    let env = Env::new(crate::BIN, &fake);
    env.connect("hr", "personio").await;

    for args in [
        &["sync", "hr", "persons"][..],
        &["records", "hr", "persons"][..],
    ] {
        let out = env.run(args).await;
        assert_eq!(out.code, 1, "{out:?}");
        let line = out.error_line();
        assert!(
            line.contains("no sync `persons` in the built-in integrations")
                && line.contains("its syncs are employees, attendances, absence-periods"),
            "{line}"
        );
    }
    let out = env.run(&["sync", "nobody", "employees"]).await;
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.error_line().contains("nobody"), "{out:?}");

    // Never synced: a note, no records; a cursor past the feed's end is refused.
    let out = env.run(&["records", "hr", "employees"]).await;
    out.ok();
    assert!(
        out.stdout.is_empty() && out.stderr.contains("never synced"),
        "{out:?}"
    );
    for bad in ["abc", "-1", "1.5"] {
        let out = env
            .run(&["records", "hr", "employees", "--changes-since", bad])
            .await;
        assert_eq!(out.code, 2, "{out:?}");
        assert!(out.error_line().contains("whole number"), "{out:?}");
    }
    let out = env
        .run(&["records", "hr", "employees", "--changes-since", "7"])
        .await;
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.error_line().contains("past the end"), "{out:?}");

    // A run that fails keeps its checkpoint; the next one completes.
    fake.fail_next("/v1/company/employees", vec![(400, None)]);
    let failed = env.run(&["sync", "hr", "employees"]).await;
    assert_eq!(failed.code, 1, "{failed:?}");
    let line = failed.error_line();
    assert!(
        line.starts_with("error: sync of `employees` failed: ")
            && line.ends_with("the next `terapi sync` resumes it"),
        "{line}"
    );
    let done = env.run(&["sync", "hr", "employees"]).await;
    done.ok();
    assert!(done.stdout.starts_with("employees: 250 added"), "{done:?}");

    // Webhooks are personio-v2's.
    let out = env.run(&["webhooks", "list", "hr"]).await;
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.error_line().contains("personio-v2"), "{out:?}");
    let out = env
        .run(&[
            "webhooks",
            "subscribe",
            "hr",
            "http://hooks.example/personio",
        ])
        .await;
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.error_line().contains("https://"), "{out:?}");
}

/// An empty listing after 250 employees: the full run prints `held 250 deletions`, exits 3
/// and deletes nothing (the JSON report shows `held`); `--allow-mass-delete` applies them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn held_deletions_exit_3_until_allowed() {
    let fake = FakePersonio::start().await;
    let env = Env::new(crate::BIN, &fake);
    env.connect("hr", "personio").await;
    env.run(&["sync", "hr", "employees"]).await.ok();

    fake.set_hostile(fake_personio::Hostile {
        empty_listing: true,
        ..Default::default()
    });
    let held = env.run(&["sync", "hr", "employees", "--full"]).await;
    assert_eq!(held.code, 3, "{held:?}");
    assert!(
        held.stdout.starts_with(
            "employees: 0 added, 0 updated, 0 unchanged, 0 deleted, held 250 deletions (full run, "
        ),
        "{held:?}"
    );
    let lines: Vec<&str> = held.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{held:?}");
    assert!(
        lines[0].starts_with("error: held 250 deletions of `employees`")
            && lines[0].contains("--allow-mass-delete"),
        "{held:?}"
    );
    let records = env.run(&["records", "hr", "employees"]).await;
    records.ok();
    assert_eq!(records.json_lines().len(), 250, "nothing deleted");

    // The provider is back (nothing held), then empty again: held again, in JSON too.
    fake.set_hostile(fake_personio::Hostile::default());
    let back = env.run(&["sync", "hr", "employees", "--full"]).await;
    back.ok();
    assert!(
        back.stdout.contains(" 250 unchanged, 0 deleted ("),
        "{back:?}"
    );
    fake.set_hostile(fake_personio::Hostile {
        empty_listing: true,
        ..Default::default()
    });
    let json = env
        .run(&["sync", "hr", "employees", "--full", "--json"])
        .await;
    assert_eq!(json.code, 3, "{json:?}");
    let report: Value = serde_json::from_str(json.stdout.trim()).unwrap();
    assert_eq!(report["counts"]["held"], 250, "{json:?}");

    let applied = env
        .run(&["sync", "hr", "employees", "--full", "--allow-mass-delete"])
        .await;
    applied.ok();
    assert!(
        applied
            .stdout
            .starts_with("employees: 0 added, 0 updated, 0 unchanged, 250 deleted (full run, "),
        "{applied:?}"
    );
    let records = env.run(&["records", "hr", "employees"]).await;
    records.ok();
    assert!(records.stdout.is_empty(), "{records:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_persons_sync() {
    let fake = FakePersonio::start().await;
    let env = Env::new(crate::BIN, &fake);
    env.connect("hr2", "personio-v2").await;
    let out = env.run(&["sync", "hr2", "persons", "--json"]).await;
    out.ok();
    let report: Value = serde_json::from_str(out.stdout.trim()).unwrap();
    assert_eq!(report["counts"]["added"], 120, "{report}");
    let records = env.run(&["records", "hr2", "persons"]).await;
    assert_eq!(records.ok().json_lines().len(), 120);
    let out = env.run(&["sync", "hr2", "employees"]).await;
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.error_line()
            .contains("its syncs are persons, employments"),
        "{out:?}"
    );
}

/// Sends SIGINT to the child (as Ctrl-C does), through `kill`.
async fn interrupt(child: &tokio::process::Child) {
    let pid = child.id().expect("running").to_string();
    let status = Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .await
        .unwrap();
    assert!(status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_answers_on_the_port_it_prints_and_stops_on_ctrl_c() {
    let fake = FakePersonio::start().await;
    let env = Env::new(crate::BIN, &fake);
    let (mut child, url, mut stderr) = serve(&env).await;
    assert!(
        url.starts_with("http://127.0.0.1:") && url.ends_with("/webhooks") && !url.contains(":0/"),
        "{url}"
    );

    let client = terapi_test_support::http_client()
        .no_proxy()
        .build()
        .unwrap();
    let unauthorized = client.post(&url).body("{}").send().await.unwrap();
    assert_eq!(unauthorized.status(), 401);
    let unknown = client
        .post(&url)
        .header("authorization", "Bearer nobody")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 401);
    let elsewhere = client
        .post(url.replace("/webhooks", "/other"))
        .send()
        .await
        .unwrap();
    assert_eq!(elsewhere.status(), 404);

    interrupt(&child).await;
    let status = tokio::time::timeout(RUN_LIMIT, child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status:?}");
    let mut rest = Vec::new();
    while let Some(line) = stderr.next_line().await.unwrap() {
        rest.push(line);
    }
    assert_eq!(
        rest,
        [
            "stopped: 0 events applied (0 records changed), 0 attempts failed (left to retry), 0 events given up"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_refuses_bad_addresses_and_paths() {
    let fake = FakePersonio::start().await;
    let env = Env::new(crate::BIN, &fake);
    for args in [
        &["webhooks", "serve", "--listen", "localhost:80"][..],
        &[
            "webhooks",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--path",
            "hooks",
        ][..],
    ] {
        let out = env.run(args).await;
        assert_eq!(out.code, 2, "{out:?}");
        out.error_line();
    }
}

/// `webhooks serve` on 127.0.0.1:0; its URL and its stderr after the first two lines.
async fn serve(
    env: &Env,
) -> (
    tokio::process::Child,
    String,
    tokio::io::Lines<BufReader<tokio::process::ChildStderr>>,
) {
    let mut child = env
        .command(&["webhooks", "serve", "--listen", "127.0.0.1:0"])
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
    let first = tokio::time::timeout(RUN_LIMIT, stderr.next_line())
        .await
        .unwrap()
        .unwrap()
        .expect("the address");
    let url = first
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("{first}"))
        .to_owned();
    let warning = stderr.next_line().await.unwrap().unwrap();
    assert!(
        warning.starts_with("warning: ") && warning.contains("HTTPS"),
        "{warning}"
    );
    (child, url, stderr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_stores_and_applies_a_delivery() {
    let fake = FakePersonio::start().await;
    let env = Env::new(crate::BIN, &fake);
    env.connect("hr2", "personio-v2").await;
    env.run(&["sync", "hr2", "persons"]).await.ok();
    // A subscription as `webhooks subscribe` saves it.
    let token = "Bearer delivery-token-5b1e";
    let store = terapi_store::Store::open(&env.store, terapi_store::Keys::parse(&env.key).unwrap())
        .await
        .unwrap();
    let webhook = terapi_store::Webhook {
        id: "wh-1".into(),
        connection: "hr2".into(),
        url: "https://hooks.example/webhooks".into(),
        events: vec!["person.deleted".into()],
        company_id: None,
        created_at_ms: 0,
    };
    store.save_webhook(&webhook, token).await.unwrap();
    drop(store);
    // Deleted at the provider: the applier's fetch answers 404 (a `.deleted` event alone
    // deletes nothing).
    assert!(fake.delete_person("5"));

    let (child, url, mut stderr) = serve(&env).await;
    let client = terapi_test_support::http_client()
        .no_proxy()
        .build()
        .unwrap();
    let delivery = serde_json::json!({
        "company_id": FakePersonio::COMPANY_ID,
        "event_name": "person.deleted",
        "occurred_at": "2026-12-01T10:00:00Z",
        "payload": {"id": "5"},
    })
    .to_string();
    let post = || {
        client
            .post(&url)
            .header("authorization", token)
            .header("content-type", "application/json")
            .body(delivery.clone())
            .send()
    };
    assert_eq!(post().await.unwrap().status(), 202);
    let applied = tokio::time::timeout(RUN_LIMIT, stderr.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(applied, "applied 1 event (1 record changed)");
    // A redelivery is stored once.
    assert_eq!(post().await.unwrap().status(), 200);

    interrupt(&child).await;
    let mut rest = Vec::new();
    while let Some(line) = tokio::time::timeout(RUN_LIMIT, stderr.next_line())
        .await
        .unwrap()
        .unwrap()
    {
        rest.push(line);
    }
    assert_eq!(
        rest,
        [
            "stopped: 1 event applied (1 record changed), 0 attempts failed (left to retry), 0 events given up"
        ]
    );
    let changes = env
        .run(&["records", "hr2", "persons", "--changes-since", "120"])
        .await;
    changes.ok();
    let feed = changes.json_lines();
    assert_eq!(feed.len(), 1, "{changes:?}");
    assert_eq!(
        (&feed[0]["kind"], &feed[0]["id"]),
        (&"deleted".into(), &"5".into())
    );
    assert_eq!(
        env.run(&["records", "hr2", "persons"])
            .await
            .ok()
            .json_lines()
            .len(),
        119
    );
    assert!(!rest.concat().contains(token));
}

/// 200 connections to `webhooks serve` that send nothing, trickle their head or trickle
/// their body: deliveries meanwhile get their answer within a second, and each slow one is
/// closed after its timeout (5 s for a head, 10 s for a body).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_drops_slow_clients_and_still_answers_deliveries() {
    let fake = FakePersonio::start().await;
    let env = Env::new(crate::BIN, &fake);
    env.connect("hr2", "personio-v2").await;
    let token = "Bearer slow-test-token-77c1";
    let store = terapi_store::Store::open(&env.store, terapi_store::Keys::parse(&env.key).unwrap())
        .await
        .unwrap();
    let webhook = terapi_store::Webhook {
        id: "wh-slow".into(),
        connection: "hr2".into(),
        url: "https://hooks.example/webhooks".into(),
        events: vec!["person.updated".into()],
        company_id: None,
        created_at_ms: 0,
    };
    store.save_webhook(&webhook, token).await.unwrap();
    drop(store);
    let (child, url, _stderr) = serve(&env).await;
    let modes = [Slow::Silent, Slow::Head, Slow::Body];
    let clients: Vec<_> = (0..200)
        .map(|i| {
            tokio::spawn(slow_client(
                url.clone(),
                modes[i % modes.len()],
                token.to_owned(),
                Duration::from_secs(30),
            ))
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let client = terapi_test_support::http_client()
        .no_proxy()
        .build()
        .unwrap();
    for n in 1..=3 {
        let delivery = serde_json::json!({
            "company_id": FakePersonio::COMPANY_ID,
            "event_name": "person.updated",
            "occurred_at": format!("2026-12-01T10:00:0{n}Z"),
            "payload": {"id": n.to_string()},
        })
        .to_string();
        let sent = std::time::Instant::now();
        let response = client
            .post(&url)
            .header("authorization", token)
            .body(delivery)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 202);
        assert!(
            sent.elapsed() < Duration::from_secs(1),
            "delivery {n} answered after {:?}",
            sent.elapsed()
        );
    }
    for (i, slow) in clients.into_iter().enumerate() {
        let closed = slow.await.unwrap();
        assert!(
            closed.is_some_and(|after| after < Duration::from_secs(25)),
            "slow client {i} ({:?}): closed after {closed:?}",
            modes[i % modes.len()]
        );
    }
    interrupt(&child).await;
}

/// The next stderr line of a running `serve`.
async fn next(stderr: &mut tokio::io::Lines<BufReader<tokio::process::ChildStderr>>) -> String {
    tokio::time::timeout(RUN_LIMIT, stderr.next_line())
        .await
        .expect("a line in time")
        .unwrap()
        .expect("a line")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_subscribe_list_serve_and_remove() {
    let fake = FakePersonio::start().await;
    // Employments are listed per person, within the request budget: few persons.
    fake.set_persons(10);
    let env = Env::new(crate::BIN, &fake);
    env.connect("hr2", "personio-v2").await;
    env.run(&["sync", "hr2", "persons"]).await.ok();
    let employments = env.run(&["sync", "hr2", "employments"]).await;
    assert!(
        employments
            .ok()
            .stdout
            .starts_with("employments: 10 added, "),
        "{employments:?}"
    );
    let (child, url, mut stderr) = serve(&env).await;

    let subscribed = env.run(&["webhooks", "subscribe", "hr2", &url]).await;
    subscribed.ok();
    let id = subscribed.stdout.trim().to_owned();
    assert!(!id.is_empty() && !id.contains('\n'), "{subscribed:?}");
    assert!(
        subscribed.stderr.contains(&format!("as webhook `{id}`"))
            && subscribed.stderr.contains("the store keeps its token"),
        "{subscribed:?}"
    );
    let hooks = fake.webhooks();
    assert_eq!(hooks.len(), 1);
    assert_eq!(hooks[0]["id"], id.as_str());
    assert_eq!(hooks[0]["url"], url.as_str());
    assert_eq!(hooks[0]["status"], "ENABLED");
    assert_eq!(hooks[0]["enabled_events"].as_array().unwrap().len(), 6);
    let token = fake.webhook_token(&id).expect("a token");
    assert!(token.starts_with("Bearer "), "{token}");

    let listed = env.run(&["webhooks", "list", "hr2"]).await;
    listed.ok();
    let lines: Vec<&str> = listed.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{listed:?}");
    let header: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(header, ["ID", "STATUS", "STORED", "URL", "EVENTS"]);
    let row: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(row[..4], [id.as_str(), "ENABLED", "yes", url.as_str()]);
    assert!(
        row[4].starts_with("person.created,person.updated,"),
        "{row:?}"
    );

    // Only the events asked for.
    let other = env
        .run(&[
            "webhooks",
            "subscribe",
            "hr2",
            "https://hooks.example/other",
            "--event",
            "person.deleted",
        ])
        .await;
    other.ok();
    let other_id = other.stdout.trim().to_owned();
    let listed = fake.webhooks();
    let hook = listed
        .iter()
        .find(|h| h["id"] == other_id.as_str())
        .unwrap();
    assert_eq!(
        hook["enabled_events"],
        serde_json::json!(["person.deleted"])
    );
    // Nobody serves it: it goes before any event does.
    let removed_other = env.run(&["webhooks", "remove", "hr2", &other_id]).await;
    removed_other.ok();
    assert!(
        removed_other
            .stderr
            .contains("and its token from the store"),
        "{removed_other:?}"
    );
    assert_eq!(fake.webhooks().len(), 1);

    // A change at Personio: delivered, stored, applied by fetching the person.
    assert!(fake.update_person("3", "Renamed"));
    assert_eq!(fake.queued_events().len(), 1);
    let report = fake.deliver(Delivery::default()).await;
    assert_eq!(report.statuses, [202], "{report:?}");
    assert_eq!(
        next(&mut stderr).await,
        "applied 1 event (1 record changed)"
    );
    let records = env.run(&["records", "hr2", "persons"]).await;
    let persons = records.ok().json_lines();
    let three = persons.iter().find(|p| p["id"] == "3").unwrap();
    assert_eq!(three["data"]["first_name"], "Renamed", "{three}");

    // A deletion, delivered twice and out of order: each event is stored once.
    assert!(fake.delete_person("4"));
    let report = fake
        .deliver(Delivery {
            copies: 2,
            shuffle_seed: Some(7),
            concurrency: 2,
        })
        .await;
    assert_eq!(report.delivered, report.requests, "{report:?}");
    let mut changed = 0;
    let mut applied = 0;
    while applied < 2 {
        let line = next(&mut stderr).await;
        let words: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(words[0], "applied", "{line}");
        applied += words[1].parse::<u64>().unwrap();
        changed += words[3].trim_start_matches('(').parse::<u64>().unwrap();
    }
    assert_eq!((applied, changed), (2, 2));
    let records = env.run(&["records", "hr2", "persons"]).await;
    assert_eq!(records.ok().json_lines().len(), 9);
    let records = env.run(&["records", "hr2", "employments"]).await;
    let employments = records.ok().json_lines();
    assert_eq!(employments.len(), 9);
    assert!(employments.iter().all(|e| e["id"] != "4-e1"));

    interrupt(&child).await;
    let mut rest = Vec::new();
    while let Some(line) = tokio::time::timeout(RUN_LIMIT, stderr.next_line())
        .await
        .unwrap()
        .unwrap()
    {
        rest.push(line);
    }
    assert_eq!(
        rest,
        [
            "stopped: 3 events applied (3 records changed), 0 attempts failed (left to retry), 0 events given up"
        ]
    );

    // Removed at the provider and forgotten by the store.
    let removed = env.run(&["webhooks", "remove", "hr2", &id]).await;
    removed.ok();
    assert!(
        removed.stderr.contains("and its token from the store"),
        "{removed:?}"
    );
    let again = env.run(&["webhooks", "remove", "hr2", &id]).await;
    again.ok();
    assert!(again.stderr.contains("the store had no token"), "{again:?}");
    assert!(fake.webhooks().is_empty());
    let listed = env.run(&["webhooks", "list", "hr2"]).await;
    listed.ok();
    assert!(listed.stdout.is_empty(), "{listed:?}");
    assert!(
        listed.stderr.contains("no webhooks at the provider"),
        "{listed:?}"
    );

    for out in [&subscribed, &other, &removed, &removed_other] {
        assert!(!out.all().contains(&token), "the token shows: {out:?}");
        assert_no_secret(&out.all());
    }
}

// ----- a signal mid-sync releases the leases -----

/// A PostgreSQL database of its own (its URL), or `None` with a printed reason when
/// `TERAPI_TEST_POSTGRES_URL` is not set outside CI.
async fn postgres_store() -> Option<String> {
    let admin = match std::env::var("TERAPI_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => url,
        _ if std::env::var_os("CI").is_some() => {
            panic!("TERAPI_TEST_POSTGRES_URL is not set in CI")
        }
        _ => {
            eprintln!("skipped: TERAPI_TEST_POSTGRES_URL is not set");
            return None;
        }
    };
    let (client, conn) = tokio_postgres::connect(&admin, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("cannot reach the test PostgreSQL: {e}"));
    tokio::spawn(conn);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let name = format!("terapi_cli_{}_{nanos}", std::process::id());
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap();
    let (base, _) = admin.rsplit_once('/').expect("a database in the URL");
    let base = base.split('?').next().unwrap_or(base);
    Some(format!("{base}/{name}"))
}

/// Sends `signal` (`-INT`, `-TERM`) to the child, through `kill`.
async fn signal(child: &tokio::process::Child, signal: &str) {
    let pid = child.id().expect("running").to_string();
    let status = Command::new("kill")
        .args([signal, &pid])
        .status()
        .await
        .unwrap();
    assert!(status.success());
}

/// `terapi sync` gets SIGINT (or SIGTERM) while its pages come slowly: it exits 130 (143)
/// saying its leases are released, and an immediate re-run proceeds (not `Busy`) and
/// resumes the run, every record counted once.
async fn a_signal_mid_sync_releases_the_lease(store: Option<String>, kill: &str, code: i32) {
    let fake = FakePersonio::start().await;
    fake.set_employees(1000);
    let mut env = Env::new(crate::BIN, &fake);
    if let Some(store) = store {
        env.store = store;
    }
    env.connect("hr", "personio").await;
    fake.set_delay("/v1/company/employees", Duration::from_millis(300));
    let child = env.command(&["sync", "hr", "employees"]).spawn().unwrap();
    let deadline = std::time::Instant::now() + RUN_LIMIT;
    while fake.pages_served("/v1/company/employees") < 2 {
        assert!(std::time::Instant::now() < deadline, "no page served");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    signal(&child, kill).await;
    let out = output_of(child).await;
    fake.set_delay("/v1/company/employees", Duration::ZERO);
    let again = env.run(&["sync", "hr", "employees"]).await;
    assert_eq!(again.code, 0, "an immediate re-run proceeds: {again:?}");
    assert!(
        again.stdout.starts_with(
            "employees: 1000 added, 0 updated, 0 unchanged, 0 deleted (full run, resumed, 10 pages"
        ),
        "{again:?}"
    );
    assert_eq!(out.code, code, "{out:?}");
    let line = out.error_line();
    assert!(
        line.contains("stopped by SIG") && line.contains("its leases are released"),
        "{out:?}"
    );
}

/// A spawned child's output (as `output` gives it; code -1 when a signal killed it).
async fn output_of(child: tokio::process::Child) -> Out {
    let out = tokio::time::timeout(RUN_LIMIT, child.wait_with_output())
        .await
        .expect("terapi finishes in time")
        .unwrap();
    Out {
        // -1: killed by the signal instead of exiting.
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_mid_sync_releases_the_lease_sqlite() {
    a_signal_mid_sync_releases_the_lease(None, "-INT", 130).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_mid_sync_releases_the_lease_sqlite() {
    a_signal_mid_sync_releases_the_lease(None, "-TERM", 143).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_mid_sync_releases_the_lease_postgres() {
    let Some(store) = postgres_store().await else {
        return;
    };
    a_signal_mid_sync_releases_the_lease(Some(store), "-INT", 130).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_mid_sync_releases_the_lease_postgres() {
    let Some(store) = postgres_store().await else {
        return;
    };
    a_signal_mid_sync_releases_the_lease(Some(store), "-TERM", 143).await;
}
