//! Keys and secrets as a user (and a hostile provider, or someone with write access to the
//! database) meets them through the `terapi` binary: a rotation that covers records, webhook
//! tokens and events, then the old key retired; a provider column changed in the database;
//! an id connected twice; control characters in ids and in a provider's webhook id. The
//! built-in catalog and the fake Personio of terapi-test-support (through `--origin`).

use terapi_test_support::{cli as env, fake_personio};

use tokio::process::Command;

use std::process::Stdio;

use crate::BIN;
use env::{Env, next, output, stop};
use fake_personio::{Delivery, FakePersonio};

/// Everything sealed under the old key (a connection, records, a webhook token, an event);
/// `connections rotate-key` with the new key first reports each kind; then the old key is
/// retired, and `records`, `webhooks list` and a delivery still work.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotation_lets_the_old_key_retire() {
    let fake = FakePersonio::start().await;
    fake.set_persons(10);
    let env = Env::new(BIN, &fake);
    env.connect_with(&env.key, "hr2", "personio-v2", &[])
        .await
        .ok();
    env.run(&["sync", "hr2", "persons"]).await.ok();
    let (child, url, mut stderr) = env.serve(&env.key).await;
    let subscribed = env.run(&["webhooks", "subscribe", "hr2", &url]).await;
    let hook_id = subscribed.ok().stdout.trim().to_owned();
    let token = fake.webhook_token(&hook_id).expect("a token");
    assert!(fake.update_person("3", "Renamed"));
    let report = fake.deliver(Delivery::default()).await;
    assert_eq!(report.statuses, [202], "{report:?}");
    assert_eq!(
        next(&mut stderr).await,
        "applied 1 event (1 record changed)"
    );
    stop(child).await;

    let new_key = terapi_store::Keys::generate().unwrap();
    let ring = format!("new:{new_key},{}", env.key);
    let rotated = env
        .run_with_key(&ring, &["connections", "rotate-key"])
        .await;
    rotated.ok();
    assert_eq!(
        rotated.stdout.trim(),
        "re-encrypted 1 connection(s), 0 pending authorization(s), 10 record(s), 1 webhook token(s), 1 webhook event(s) and 0 quarantined record(s) with key `new`",
        "{rotated:?}"
    );
    let again = env
        .run_with_key(&ring, &["connections", "rotate-key"])
        .await;
    assert!(
        again.ok().stdout.starts_with("re-encrypted 0 connection(s), 0 pending authorization(s), 0 record(s), 0 webhook token(s), 0 webhook event(s) and 0 quarantined record(s)"),
        "{again:?}"
    );

    // The old key retired.
    let only_new = format!("new:{new_key}");
    let records = env
        .run_with_key(&only_new, &["records", "hr2", "persons"])
        .await;
    assert_eq!(records.ok().stdout.lines().count(), 10, "{records:?}");
    let changes = env
        .run_with_key(
            &only_new,
            &["records", "hr2", "persons", "--changes-since", "0"],
        )
        .await;
    assert_eq!(changes.ok().stdout.lines().count(), 10, "{changes:?}");
    let listed = env
        .run_with_key(&only_new, &["webhooks", "list", "hr2"])
        .await;
    let row: Vec<String> = listed
        .ok()
        .stdout
        .lines()
        .nth(1)
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    assert_eq!(row[..3], [hook_id.as_str(), "ENABLED", "yes"], "{listed:?}");
    // A delivery with the subscription's token is recognised, stored and applied (the
    // person is gone at the provider: a deletion is applied only after a 404).
    assert!(fake.delete_person("5"));
    let (child, url, mut stderr) = env.serve(&only_new).await;
    let delivery = serde_json::json!({
        "company_id": FakePersonio::COMPANY_ID,
        "event_name": "person.deleted",
        "occurred_at": "2026-12-01T10:00:00Z",
        "payload": {"id": "5"},
    })
    .to_string();
    let answer = terapi_test_support::http_client()
        .no_proxy()
        .build()
        .unwrap()
        .post(&url)
        .header("authorization", &token)
        .header("content-type", "application/json")
        .body(delivery)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 202);
    assert_eq!(
        next(&mut stderr).await,
        "applied 1 event (1 record changed)"
    );
    stop(child).await;
    let records = env
        .run_with_key(&only_new, &["records", "hr2", "persons"])
        .await;
    assert_eq!(records.ok().stdout.lines().count(), 9);
}

/// With write access to the database and no key, the provider column of a personio
/// connection is set to personio-v2: `request` fails with a clear error, and the v2 token
/// endpoint receives nothing (the credentials are not sent to another provider).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_provider_column_sends_nothing() {
    let fake = FakePersonio::start().await;
    let env = Env::new(BIN, &fake);
    env.connect_with(&env.key, "hr", "personio", &[]).await.ok();
    env.run(&["request", "hr", "GET", "/company/employees"])
        .await
        .ok();
    assert_eq!(fake.token_requests_v2(), 0);
    env.tamper("UPDATE terapi_connections SET provider = 'personio-v2' WHERE id = 'hr'");
    let out = env.run(&["request", "hr", "GET", "/persons"]).await;
    assert_eq!(
        fake.token_requests_v2(),
        0,
        "the credentials went to the other provider's token endpoint: {out:?}"
    );
    assert_eq!(out.code, 2, "{out:?}");
    let line = out.error_line();
    assert!(
        line.contains("connection `hr`") && line.contains("does not decrypt"),
        "{line}"
    );
    assert!(!out.all().contains(FakePersonio::CLIENT_SECRET));
}

/// `connect` twice: the second is refused before the provider is asked anything; with
/// `--replace` it replaces; a store with another key never overwrites the connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_refuses_an_existing_id_unless_told_to_replace() {
    let fake = FakePersonio::start().await;
    let env = Env::new(BIN, &fake);
    let first = env.connect_with(&env.key, "hr", "personio", &[]).await;
    assert!(
        first
            .ok()
            .stderr
            .contains("saved connection `hr` (personio, version 1)"),
        "{first:?}"
    );
    let tokens = (fake.token_requests_v1(), fake.token_requests_v2());
    let again = env.connect_with(&env.key, "hr", "personio-v2", &[]).await;
    assert_eq!(again.code, 1, "{again:?}");
    let line = again.error_line();
    assert!(
        line.contains("`hr` exists already") && line.contains("--replace"),
        "{line}"
    );
    assert_eq!(
        (fake.token_requests_v1(), fake.token_requests_v2()),
        tokens,
        "nothing sent"
    );
    let list = env.run(&["connections", "list"]).await;
    assert!(
        list.ok()
            .stdout
            .lines()
            .nth(1)
            .unwrap()
            .contains(" personio ")
    );

    let replaced = env
        .connect_with(&env.key, "hr", "personio-v2", &["--replace"])
        .await;
    assert!(
        replaced
            .ok()
            .stderr
            .contains("replaced connection `hr` (personio-v2, version 2)"),
        "{replaced:?}"
    );
    // Another key (another application's, a key retired here): not overwritten, nothing sent.
    let other = terapi_store::Keys::generate().unwrap();
    let tokens = (fake.token_requests_v1(), fake.token_requests_v2());
    let foreign = env
        .connect_with(&other, "hr", "personio", &["--replace"])
        .await;
    assert_eq!(foreign.code, 2, "{foreign:?}");
    assert!(
        foreign.error_line().contains("not overwritten"),
        "{foreign:?}"
    );
    assert_eq!((fake.token_requests_v1(), fake.token_requests_v2()), tokens);
    let show = env.run(&["connections", "show", "hr"]).await;
    assert!(show.ok().stdout.contains("personio-v2"), "{show:?}");
    assert!(show.stdout.contains("version:") && show.stdout.contains(" 2\n"));
}

/// An id with ESC in the database and a provider that names its webhook with ESC: printed
/// escaped everywhere, and `webhooks list` still finds the stored token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_characters_never_reach_the_terminal() {
    let fake = FakePersonio::start().await;
    let env = Env::new(BIN, &fake);
    env.connect_with(&env.key, "hr2", "personio-v2", &[])
        .await
        .ok();
    // Written by something else than terapi.
    env.tamper(
        "INSERT INTO terapi_connections (id, provider, key_id, secrets, version, created_at, updated_at)
         VALUES ('evil' || char(27) || '[2J', 'acme' || char(27) || ']0;pwned' || char(7), 'k', X'00', 1, 0, 0)",
    );
    let list = env.run(&["connections", "list"]).await;
    list.ok();
    assert!(
        !list.all().contains('\u{1b}') && !list.all().contains('\u{7}'),
        "{list:?}"
    );
    assert!(
        list.stdout.contains("evil\\u{1b}[2J") && list.stdout.contains("acme\\u{1b}]0;pwned\\u{7}"),
        "{list:?}"
    );
    for args in [
        &["connections", "show", "evil\u{1b}[2J"][..],
        &["connections", "remove", "nobody\u{1b}[31m"],
        &["request", "x\u{1b}[31m", "GET", "/"],
    ] {
        let out = env.run(args).await;
        assert_ne!(out.code, 0, "{out:?}");
        let line = out.error_line();
        assert!(
            !line.contains('\u{1b}') && line.contains("\\u{1b}"),
            "{args:?}: {line}"
        );
    }

    let hostile = "wh\u{1b}[31m-1\u{9b}2J";
    fake.set_next_webhook_id(hostile);
    let subscribed = env
        .run(&[
            "webhooks",
            "subscribe",
            "hr2",
            "https://hooks.example/personio",
        ])
        .await;
    subscribed.ok();
    assert!(
        !subscribed.all().contains('\u{1b}') && !subscribed.all().contains('\u{9b}'),
        "{subscribed:?}"
    );
    assert_eq!(subscribed.stdout.trim(), "wh\\u{1b}[31m-1\\u{9b}2J");
    let listed = env.run(&["webhooks", "list", "hr2"]).await;
    listed.ok();
    assert!(!listed.all().contains('\u{1b}'), "{listed:?}");
    let row: Vec<&str> = listed
        .stdout
        .lines()
        .nth(1)
        .unwrap()
        .split_whitespace()
        .collect();
    assert_eq!(
        row[..3],
        ["wh\\u{1b}[31m-1\\u{9b}2J", "ENABLED", "yes"],
        "{listed:?}"
    );
    assert!(!listed.stderr.contains("does not list"), "{listed:?}");
}

/// A store URL's password, in every form it can take, never shows in what `terapi` prints.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_passwords_are_never_printed() {
    let pw = "hunter2-c4e1";
    for store in [
        format!("postgres://app@127.0.0.1:1/db?password={pw}"),
        format!("postgres://app@127.0.0.1:1/db?sslmode=disable&sslpassword={pw}"),
        format!("postgres://app:{pw}@127.0.0.1:1/db"),
        format!("postgres://app:{pw}@127.0.0.1:1,127.0.0.1:2/db"),
        format!("host=127.0.0.1 port=1 user=app password={pw} dbname=db"),
        format!("host=127.0.0.1 password='{pw} x' dbname=db"),
    ] {
        let mut cmd = Command::new(BIN);
        cmd.env_clear()
            .args(["--store", &store, "connections", "list"])
            .stdin(Stdio::null());
        let out = output(cmd).await;
        assert_eq!(out.code, 2, "{out:?}");
        let line = out.error_line();
        assert!(!line.contains(pw), "{store}: {line}");
        assert!(line.contains("***"), "{store}: {line}");
    }
}
