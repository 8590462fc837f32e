//! `terapi webhooks-out list|retry` over a store whose outbox a server filled: listings
//! (table, JSON lines with the body, a status filter, a limit), a failed delivery retried
//! with its id, `--all-failed`, an unknown id, and a hostile `last_error` written into the
//! database, printed escaped.

use std::time::{Duration, SystemTime};

use terapi_store::{DeliveryStatus, Keys, OutboxKind, Outcome, Store};
use terapi_test_support::cli::Env;
use terapi_test_support::fake_personio::FakePersonio;

use crate::BIN;

/// Three deliveries: one delivered, one failed, one pending; their ids in that order.
async fn filled(env: &Env) -> [String; 3] {
    let store = Store::open(&env.store, Keys::none()).await.unwrap();
    let mut ids = Vec::new();
    for n in 0..3 {
        let d = store
            .enqueue_delivery(OutboxKind::Auth, |id, _| {
                format!(r#"{{"type":"auth","deliveryId":"{id}","connectionId":"c{n}"}}"#)
                    .into_bytes()
            })
            .await
            .unwrap();
        ids.push(d.delivery_id);
    }
    let claimed = store
        .claim_deliveries(2, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(claimed.len(), 2);
    assert!(
        store
            .finish_delivery(&claimed[0], &Outcome::Delivered)
            .await
            .unwrap()
    );
    let failed = Outcome::Failed {
        error: "HTTP 500".to_owned(),
    };
    assert!(store.finish_delivery(&claimed[1], &failed).await.unwrap());
    ids.try_into().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_and_retry() {
    let fake = FakePersonio::start().await;
    let env = Env::new(BIN, &fake);
    let empty = env.run(&["webhooks-out", "list"]).await;
    assert!(empty.ok().stdout.is_empty());
    assert!(
        empty.stderr.starts_with("no deliveries in sqlite:"),
        "{empty:?}"
    );
    let [delivered, failed, pending] = filled(&env).await;

    let table = env.run(&["webhooks-out", "list"]).await;
    let lines: Vec<&str> = table.ok().stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{table:?}");
    assert!(lines[0].starts_with("DELIVERY ID"), "{table:?}");
    assert!(lines[1].starts_with(&pending), "newest first: {table:?}");
    assert!(
        lines[2].starts_with(&failed)
            && lines[2].contains("failed")
            && lines[2].ends_with("HTTP 500")
    );
    assert!(lines[3].starts_with(&delivered) && lines[3].contains("delivered"));

    let json = env
        .run(&["webhooks-out", "list", "--status", "failed", "--json"])
        .await;
    let rows = json.ok().json_lines();
    assert_eq!(rows.len(), 1, "{json:?}");
    assert_eq!(rows[0]["delivery_id"], failed.as_str());
    assert_eq!(rows[0]["status"], "failed");
    assert_eq!(rows[0]["type"], "auth");
    assert_eq!(rows[0]["attempts"], 1);
    assert_eq!(rows[0]["last_error"], "HTTP 500");
    assert_eq!(rows[0]["body"]["deliveryId"], failed.as_str());
    assert_eq!(rows[0]["body"]["connectionId"], "c1");
    let limited = env
        .run(&["webhooks-out", "list", "--limit", "1", "--json"])
        .await;
    assert_eq!(limited.ok().json_lines().len(), 1);
    let bad = env.run(&["webhooks-out", "list", "--status", "lost"]).await;
    assert_eq!(bad.code, 2, "{bad:?}");

    let retried = env.run(&["webhooks-out", "retry", &failed]).await;
    assert_eq!(
        retried.ok().stdout.trim(),
        format!("delivery `{failed}` is due again now")
    );
    let store = Store::open(&env.store, Keys::none()).await.unwrap();
    let d = store.delivery(&failed).await.unwrap().unwrap();
    assert_eq!((d.status, d.attempts), (DeliveryStatus::Pending, 0));
    assert!(d.next_attempt_at <= SystemTime::now());
    assert_eq!(d.delivery_id, failed, "the same id");

    let again = env.run(&["webhooks-out", "retry", &delivered]).await;
    assert_eq!(again.code, 1);
    assert_eq!(
        again.error_line(),
        format!("error: delivery `{delivered}` was delivered already")
    );
    let unknown = env.run(&["webhooks-out", "retry", "dlv_nope"]).await;
    assert_eq!(unknown.code, 1);
    assert_eq!(unknown.error_line(), "error: no delivery `dlv_nope`");
    let usage = env.run(&["webhooks-out", "retry"]).await;
    assert_eq!(usage.code, 2, "{usage:?}");

    // Fail two, retry them all.
    let claimed = store
        .claim_deliveries(10, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(claimed.len(), 2);
    for c in &claimed {
        let failed = Outcome::Failed {
            error: "connection failed".to_owned(),
        };
        assert!(store.finish_delivery(c, &failed).await.unwrap());
    }
    let all = env.run(&["webhooks-out", "retry", "--all-failed"]).await;
    assert_eq!(
        all.ok().stdout.trim(),
        "2 failed delivery(ies) due again now"
    );
    assert_eq!(store.outbox_counts().await.unwrap().pending, 2);
}

/// What someone with write access put in the database is printed escaped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_error_is_printed_escaped() {
    let fake = FakePersonio::start().await;
    let env = Env::new(BIN, &fake);
    filled(&env).await;
    env.tamper("UPDATE terapi_outbox SET last_error = 'x' || char(27) || '[2J' || char(10) || 'y', delivery_id = delivery_id || char(13) WHERE status = 'failed'");
    let out = env
        .run(&["webhooks-out", "list", "--status", "failed"])
        .await;
    let stdout = &out.ok().stdout;
    assert!(
        !stdout.contains('\u{1b}') && !stdout.contains('\r'),
        "{out:?}"
    );
    assert_eq!(stdout.lines().count(), 2, "{out:?}");
    assert!(
        stdout.contains(r"\r") && stdout.contains(r"x\u{1b}[2J\ny"),
        "{out:?}"
    );
}
