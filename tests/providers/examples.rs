//! The examples, run as programs against the fake Personio server: output, exit status, and
//! one-line errors that never show a secret.

use terapi_test_support as support;

use std::path::PathBuf;
use std::process::{Command, Output};

use support::fake_personio::FakePersonio;

/// The example binary that `cargo test` built next to this test's binary.
fn example(name: &str) -> Command {
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps");
    let path: PathBuf = dir
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.exists(),
        "{} not built (cargo test builds examples)",
        path.display()
    );
    let mut cmd = Command::new(path);
    for var in [
        "PERSONIO_CLIENT_ID",
        "PERSONIO_CLIENT_SECRET",
        "PERSONIO_PARTNER_ID",
        "PERSONIO_APP_ID",
        "PERSONIO_ORIGIN",
        "PERSONIO_RECRUITING_API_KEY",
        "PERSONIO_COMPANY_ID",
        "PERSONIO_COMPANY",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

fn employees(server: &FakePersonio) -> Command {
    let mut cmd = example("personio_employees");
    cmd.env("PERSONIO_CLIENT_ID", FakePersonio::CLIENT_ID)
        .env("PERSONIO_CLIENT_SECRET", FakePersonio::CLIENT_SECRET)
        .env("PERSONIO_PARTNER_ID", "ACME")
        .env("PERSONIO_APP_ID", "MY_APPLICATION")
        .env("PERSONIO_ORIGIN", server.origin());
    cmd
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn assert_one_line_error(out: &Output, code: i32, contains: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(code), "stderr: {err}");
    assert_eq!(err.lines().count(), 1, "one line: {err:?}");
    assert!(
        err.contains(contains),
        "{err:?} should contain {contains:?}"
    );
    for secret in [
        FakePersonio::CLIENT_SECRET,
        FakePersonio::API_KEY,
        "wrong-secret",
    ] {
        assert!(!err.contains(secret), "secret in {err:?}");
    }
    assert!(out.stdout.is_empty() || code == 1);
}

#[test]
fn personio_employees_prints_every_employee_as_one_json_object_per_line() {
    let server = FakePersonio::start_blocking();
    server.set_employees(234);
    let out = employees(&server).output().expect("run example");
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let stdout = String::from_utf8(out.stdout).expect("UTF-8");
    let ids: Vec<u64> = stdout
        .lines()
        .map(|line| {
            let v: serde_json::Value =
                serde_json::from_str(line).expect("one JSON object per line");
            v["attributes"]["id"]["value"].as_u64().expect("id")
        })
        .collect();
    assert_eq!(ids, (1..=234).collect::<Vec<_>>());
    assert_eq!(server.token_requests_v1(), 1);
    // Pages of 100 and the partner/app headers on each.
    let pages: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|r| r.path == "/v1/company/employees")
        .collect();
    assert_eq!(pages.len(), 3);
    for page in &pages {
        assert_eq!(page.header("x-personio-partner-id"), Some("ACME"));
        assert_eq!(page.header("x-personio-app-id"), Some("MY_APPLICATION"));
    }
}

#[test]
fn personio_employees_reports_a_missing_variable_in_one_line() {
    let server = FakePersonio::start_blocking();
    let out = employees(&server)
        .env_remove("PERSONIO_CLIENT_SECRET")
        .output()
        .expect("run example");
    assert_one_line_error(&out, 2, "PERSONIO_CLIENT_SECRET is not set");
    assert_eq!(server.requests().len(), 0);
}

#[test]
fn personio_employees_reports_an_invalid_partner_id_by_its_variable() {
    let server = FakePersonio::start_blocking();
    let out = employees(&server)
        .env("PERSONIO_PARTNER_ID", "acme\r\nx-evil: 1")
        .output()
        .expect("run example");
    assert_one_line_error(&out, 2, "PERSONIO_PARTNER_ID");
    assert_eq!(server.requests().len(), 0);
}

#[test]
fn personio_employees_reports_a_failed_auth_in_one_line() {
    let server = FakePersonio::start_blocking();
    let out = employees(&server)
        .env("PERSONIO_CLIENT_SECRET", "wrong-secret")
        .output()
        .expect("run example");
    assert_one_line_error(&out, 1, "token");
    assert!(stderr(&out).contains("401"), "{}", stderr(&out));
}

#[test]
fn personio_employees_refuses_plain_http_to_a_host_that_is_not_loopback() {
    let server = FakePersonio::start_blocking();
    let out = employees(&server)
        .env("PERSONIO_ORIGIN", "http://example.com:8080")
        .output()
        .expect("run example");
    assert_one_line_error(&out, 2, "https");
    assert_eq!(server.requests().len(), 0);
}

fn recruiting(server: &FakePersonio) -> Command {
    let mut cmd = example("personio_recruiting_application");
    cmd.env("PERSONIO_RECRUITING_API_KEY", FakePersonio::API_KEY)
        .env("PERSONIO_COMPANY_ID", FakePersonio::COMPANY_ID)
        .env("PERSONIO_COMPANY", "acme")
        .env("PERSONIO_ORIGIN", server.origin());
    cmd
}

#[test]
fn personio_recruiting_application_posts_an_application() {
    let server = FakePersonio::start_blocking();
    let out = recruiting(&server)
        .args(["--verify", "Ada", "Lovelace", "ada@example.com", "1234"])
        .output()
        .expect("run example");
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let created: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("the created application as JSON");
    assert_eq!(created["success"], true);
    let apps = server.applications();
    assert_eq!(apps.len(), 1);
    assert_eq!(apps[0]["email"], "ada@example.com");
    assert_eq!(apps[0]["job_position_id"], 1234);
    // The job feed (verification) never saw the key.
    assert_eq!(server.feed_requests_with_authorization(), 0);
    assert_eq!(server.count("/xml"), 1);
}

#[test]
fn personio_recruiting_application_reports_usage_and_auth_errors_in_one_line() {
    let server = FakePersonio::start_blocking();
    let out = recruiting(&server)
        .args(["Ada"])
        .output()
        .expect("run example");
    assert_one_line_error(&out, 2, "usage:");
    let out = recruiting(&server)
        .env("PERSONIO_RECRUITING_API_KEY", "wrong-secret")
        .args(["Ada", "Lovelace", "ada@example.com", "1"])
        .output()
        .expect("run example");
    assert_one_line_error(&out, 1, "401");
    server.set_unknown_company(true);
    let out = recruiting(&server)
        .args(["--verify", "Ada", "Lovelace", "ada@example.com", "1"])
        .output()
        .expect("run example");
    assert_one_line_error(&out, 1, "unknown company");
    assert!(server.applications().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn oauth2_connect_authorizes_through_its_loopback_listener_and_prints_no_token() {
    use std::io::BufRead as _;
    let fake = support::fake_oauth::FakeOAuth::start().await;
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().join("providers.yaml");
    std::fs::write(&catalog, support::fake_oauth::CATALOG).unwrap();
    let mut child = example("oauth2_connect")
        .env("OAUTH2_CATALOG", &catalog)
        .env("OAUTH2_PROVIDER", "acme")
        .env("OAUTH2_CLIENT_ID", support::fake_oauth::CLIENT_ID)
        .env("OAUTH2_CLIENT_SECRET", support::fake_oauth::CLIENT_SECRET)
        .env("OAUTH2_CONFIG", r#"{"tenant": "north"}"#)
        .env("OAUTH2_LISTEN", "127.0.0.1:0")
        .env("OAUTH2_ORIGIN", &fake.origin)
        .env("OAUTH2_TIMEOUT_S", "60")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run example");
    let stdout = child.stdout.take().unwrap();
    let (url, rest) = tokio::task::spawn_blocking(move || {
        let mut lines = std::io::BufReader::new(stdout).lines();
        let url = lines.next().unwrap().unwrap();
        (url, lines)
    })
    .await
    .unwrap();
    assert!(url.starts_with(&fake.origin), "{url}");
    // The user's browser: the provider redirects it to the example's listener.
    let http = support::http_client()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let redirect = http.get(&url).send().await.unwrap();
    let callback = redirect.headers()["location"].to_str().unwrap().to_owned();
    let page = http.get(&callback).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let summary = tokio::task::spawn_blocking(move || {
        rest.map(|l| l.unwrap()).collect::<Vec<_>>().join("\n")
    })
    .await
    .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    assert!(
        summary.starts_with("connected to acme: the access token expires in 3"),
        "{summary}"
    );
    assert!(
        summary.ends_with("a refresh token was granted"),
        "{summary}"
    );
    for secret in [support::fake_oauth::CLIENT_SECRET, "at-", "rt-", "code-"] {
        assert!(!summary.contains(secret) && !stderr(&out).contains(secret));
    }
    // A bad variable is one line, exit 2.
    let out = example("oauth2_connect")
        .env("OAUTH2_CATALOG", &catalog)
        .env("OAUTH2_PROVIDER", "acmee")
        .env("OAUTH2_CLIENT_ID", "x")
        .env("OAUTH2_CLIENT_SECRET", "y")
        .output()
        .unwrap();
    assert_one_line_error(&out, 2, "acme");
}
