//! `terapi serve` as an operator runs it: the first key from the environment, the API over
//! the command line's store, a proxied request in flight when SIGTERM comes (it finishes,
//! the process exits 0 and says so), and the operator's mistakes refused in one line.

use std::time::Duration;

use terapi_test_support::cli::{Env, next};
use terapi_test_support::fake_personio::FakePersonio;
use tokio::process::Command;

use crate::BIN;

const BOOTSTRAP: &str = "tk_bootstrap_0123456789abcdefghijklmnopqrstuvwxyzABCDEFG";

async fn start(
    env: &Env,
    extra: &[&str],
) -> (
    tokio::process::Child,
    String,
    terapi_test_support::cli::Lines,
) {
    let mut args = vec!["serve", "--listen", "127.0.0.1:0"];
    args.extend_from_slice(extra);
    let mut cmd = env.command(&args);
    cmd.env("TERAPI_API_KEY", BOOTSTRAP);
    let mut child = cmd.spawn().unwrap();
    let mut stderr =
        tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(child.stderr.take().unwrap()));
    let first = next(&mut stderr).await;
    let url = first
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("{first}"))
        .to_owned();
    (child, url, stderr)
}

#[tokio::test]
async fn serves_the_api_and_drains_on_sigterm() {
    let fake = FakePersonio::start().await;
    let env = Env::new(BIN, &fake);
    env.connect("acme-hr", "personio").await;
    let (mut child, url, mut stderr) = start(&env, &[]).await;
    let http = terapi_test_support::http_client().build().unwrap();
    let health = http.get(format!("{url}/health")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let listed = http
        .get(format!("{url}/connections"))
        .bearer_auth(BOOTSTRAP)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), 200);
    let body: serde_json::Value = listed.json().await.unwrap();
    assert_eq!(body["connections"][0]["connection_id"], "acme-hr", "{body}");
    // The connect page, opened from a connect link: the session token stays out of the logs.
    let session: serde_json::Value = http
        .post(format!("{url}/connect/sessions"))
        .bearer_auth(BOOTSTRAP)
        .json(&serde_json::json!({"end_user": {"id": "u-page"}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let session_token = session["data"]["token"].as_str().unwrap().to_owned();
    let link = session["data"]["connect_link"].as_str().unwrap();
    assert!(
        link.ends_with(&format!("/connect?session_token={session_token}")),
        "{link}"
    );
    let page = http.get(link).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("/connect/assets/connect.js")
    );
    // A slow provider answer in flight when SIGTERM comes: it is answered, then the process
    // exits.
    fake.set_delay("/company/employees", Duration::from_millis(1500));
    let pending = tokio::spawn({
        let http = http.clone();
        let url = url.clone();
        async move {
            http.get(format!("{url}/proxy/company/employees"))
                .bearer_auth(BOOTSTRAP)
                .header("Connection-Id", "acme-hr")
                .send()
                .await
                .map(|r| r.status().as_u16())
        }
    });
    tokio::time::sleep(Duration::from_millis(400)).await;
    let pid = child.id().unwrap().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .await
            .unwrap()
            .success()
    );
    let status = pending
        .await
        .unwrap()
        .expect("the request in flight is answered");
    assert_eq!(status, 200);
    let exit = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(exit.success(), "{exit:?}");
    let mut rest = Vec::new();
    while let Ok(Some(line)) = stderr.next_line().await {
        rest.push(line);
    }
    let rest = rest.join("\n");
    assert!(rest.contains("stopped by SIGTERM"), "{rest}");
    // No secret in the logs.
    assert!(!rest.contains(BOOTSTRAP), "{rest}");
    assert!(!rest.contains(FakePersonio::CLIENT_SECRET), "{rest}");
    assert!(
        rest.contains("route=/connect "),
        "the page's request is logged: {rest}"
    );
    assert!(!rest.contains(&session_token), "{rest}");
}

#[tokio::test]
async fn operator_mistakes_are_one_line_errors() {
    let fake = FakePersonio::start().await;
    let env = Env::new(BIN, &fake);
    for (args, expected) in [
        (vec!["serve", "--listen", "nowhere"], "--listen"),
        (
            vec![
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--public-url",
                "not a url",
            ],
            "--public-url",
        ),
        (
            vec![
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--connect-origin",
                "http://example.com",
            ],
            "--connect-origin",
        ),
        (
            vec![
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--oauth-app",
                "personio",
            ],
            "--oauth-app",
        ),
        (
            vec![
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--webhook-url",
                "https://app.example/hooks",
            ],
            "TERAPI_WEBHOOK_SECRET",
        ),
    ] {
        let out = env.run(&args).await;
        assert_eq!(out.code, 2, "{args:?}: {out:?}");
        let line = out.error_line();
        assert!(line.contains(expected), "{args:?}: {line}");
    }
    // A bootstrap key too short to be a secret.
    let mut cmd = env.command(&["serve", "--listen", "127.0.0.1:0"]);
    cmd.env("TERAPI_API_KEY", "short");
    let out = terapi_test_support::cli::output(cmd).await;
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.error_line().contains("TERAPI_API_KEY"), "{out:?}");
    assert!(!out.all().contains("short\""), "{out:?}");
}
