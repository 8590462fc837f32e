//! Criterion benchmarks of a declared action (integrations.yaml) against the same request
//! sent by hand through the same connection: what the description, the input's validation
//! and the typed output cost on top of the client.
//!
//! Group `action` (server and client on one current-thread tokio runtime, so the time is CPU
//! work; a minimal axum server on `127.0.0.1:0` answers `PATCH /company/attendances/{id}`
//! with Personio's `{"success":true,"data":{"message":…}}`):
//!
//! - `raw_request`: `conn.request(PATCH, "/company/attendances/42").json(&body).send()`, the
//!   body read as JSON: what a caller writes without the integrations file;
//! - `typed_action`: `personio::actions::update_attendance(&conn, &input)`: the input
//!   serialized and validated against `UpdateAttendance`, the path param encoded, the body
//!   without it, the connection's budget, the answer read as `V1Message`;
//! - `validate_input`: `models::CreateAttendances::from_json` of 50 attendances (no request).
//!
//! `benches/report_actions.sh` runs it and prints each figure beside its target.
#![forbid(unsafe_code)]

use std::hint::black_box;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::routing::patch;
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::{Value, json};
use terapi_providers::client::{Connection, Method, Settings};
use terapi_providers::integrations::models;
use terapi_providers::{Params as _, personio_recruiting};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// A server answering every attendance PATCH as Personio does.
async fn server() -> SocketAddr {
    let app = Router::new().route(
        "/v1/company/attendances/{id}",
        patch(|| async {
            axum::Json(
                json!({"success": true, "data": {"message": "The attendance period was updated."}}),
            )
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let addr = listener.local_addr().expect("its address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

/// A connection to the server with an API key (personio-recruiting's, whose base URL is
/// `https://api.personio.de/v1` too): no token request in the timing. The `personio` action
/// runs through a copy of its description that names this provider.
fn connection(addr: SocketAddr) -> Connection {
    let config = personio_recruiting::ConnectionConfig::from_json(
        &json!({"companyId": "33434", "company": "company-b"}),
    )
    .expect("a valid config");
    let credentials = personio_recruiting::Credentials::from_json(&json!({"apiKey": "key"}))
        .expect("valid credentials");
    let settings = Settings::new()
        .origin(format!("http://{addr}"))
        .timeout(Duration::from_secs(10));
    let typed = personio_recruiting::Connection::with_settings(config, credentials, settings)
        .expect("a connection");
    (*typed).clone()
}

fn bench(c: &mut Criterion) {
    let rt = runtime();
    let addr = rt.block_on(server());
    let conn = connection(addr);
    // The declared action, as personio-recruiting's (the same request; no token request in
    // the timing).
    let mut integrations = terapi_providers::integrations::integrations()
        .expect("the generated description")
        .clone();
    let mut action = integrations
        .action("personio", "update-attendance")
        .expect("update-attendance")
        .clone();
    action.provider = "personio-recruiting".to_owned();
    action.budget = Some(terapi_runtime::sync::Budget {
        per_minute: 1_000_000_000,
        burst: 1_000_000,
    });
    integrations.integrations[0].actions.push(action.clone());
    let input = models::UpdateAttendance {
        id: 42,
        date: None,
        start_time: Some("09:00".to_owned()),
        end_time: Some(Some("17:30".to_owned())),
        break_: Some(30),
        comment: Some(Some("bench".to_owned())),
        project_id: None,
        skip_approval: None,
    };
    let body = json!({"start_time": "09:00", "end_time": "17:30", "break": 30, "comment": "bench"});
    // Both answer the same before anything is timed.
    let typed: models::V1Message = rt
        .block_on(terapi_runtime::client::action::run_typed(
            &conn,
            &integrations,
            &action,
            &input,
        ))
        .expect("the typed action");
    assert!(typed.success);
    let raw: Value = rt
        .block_on(async {
            conn.request(Method::PATCH, "/company/attendances/42")
                .json(&body)
                .send()
                .await
                .expect("the raw request")
                .json::<Value>()
        })
        .expect("a JSON answer");
    assert_eq!(raw["success"], true);

    let mut group = c.benchmark_group("action");
    group
        .sample_size(100)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(5));
    group.bench_function("raw_request", |b| {
        b.iter(|| {
            rt.block_on(async {
                let answer = conn
                    .request(Method::PATCH, "/company/attendances/42")
                    .json(black_box(&body))
                    .send()
                    .await
                    .expect("sent");
                black_box(answer.json::<Value>().expect("JSON"))
            })
        })
    });
    group.bench_function("typed_action", |b| {
        b.iter(|| {
            rt.block_on(async {
                let out: models::V1Message = terapi_runtime::client::action::run_typed(
                    &conn,
                    &integrations,
                    &action,
                    black_box(&input),
                )
                .await
                .expect("the action");
                black_box(out)
            })
        })
    });
    let many = json!({
        "attendances": (0..50).map(|i| json!({
            "employee": i + 1, "date": "2026-12-07", "start_time": "09:00",
            "end_time": "17:00", "break": 30, "comment": "typed"
        })).collect::<Vec<_>>()
    });
    group.bench_function("validate_input", |b| {
        b.iter(|| black_box(models::CreateAttendances::from_json(black_box(&many)).expect("valid")))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
