//! Declared actions (`terapi_runtime::client::action`) against a small server on loopback
//! that records every request and answers as each test scripts it: the request an input
//! makes (path param encoded, query, JSON body, credentials), input problems with nothing
//! sent, provider errors and their messages, retries by idempotence, multipart bodies (parsed
//! by the server, with hostile filenames), the connection's request budget, typed outputs.

use terapi_test_support as support;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};
use terapi_runtime::client::action::{self, ActionError, ProviderError};
use terapi_runtime::client::{Connection, Error, RateBudget, RetryPolicy, Settings};
use terapi_runtime::integration::{
    ActionSpec, BodyKind, FieldSpec, FieldType, Integration, Integrations, Method, ModelSpec,
};
use terapi_runtime::sync::Budget;
use tokio::sync::oneshot;

const CATALOG: &str = r#"
acme-actions:
    display_name: Acme (actions)
    auth_mode: API_KEY
    proxy:
        base_url: https://api.acme.example/v1
        headers:
            authorization: Bearer ${apiKey}
    docs: https://example.com/acme-actions
    credentials:
        apiKey:
            type: string
            title: API Key
            description: Sent as a bearer token.
            secret: true
"#;

const KEY: &str = "acme-api-key-s3cr3t-4711";
const PROVIDER: &str = "acme-actions";

// ----- the server -----

#[derive(Debug, Clone)]
struct Recorded {
    method: String,
    /// As sent: percent-encoded.
    path: String,
    query: Vec<(String, String)>,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Recorded {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

/// A scripted answer: status, headers, body.
type Answer = (u16, Vec<(&'static str, String)>, String);

#[derive(Default)]
struct Script {
    seen: Mutex<Vec<Recorded>>,
    answers: Mutex<VecDeque<Answer>>,
}

struct Fake {
    origin: String,
    script: Arc<Script>,
    _stop: oneshot::Sender<()>,
}

impl Fake {
    async fn start() -> Fake {
        let script = Arc::new(Script::default());
        let app = axum::Router::new()
            .fallback(answer)
            .with_state(script.clone());
        let (origin, stop) = support::loopback::serve(app).await;
        Fake {
            origin,
            script,
            _stop: stop,
        }
    }

    /// Answers the next requests so, in order; after them, `200 {"ok": true}`.
    fn answer(&self, answers: impl IntoIterator<Item = Answer>) {
        self.script.answers.lock().unwrap().extend(answers);
    }

    fn seen(&self) -> Vec<Recorded> {
        self.script.seen.lock().unwrap().clone()
    }
}

async fn answer(State(script): State<Arc<Script>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20).await.unwrap().to_vec();
    let query = parts
        .uri
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        })
        .unwrap_or_default();
    script.seen.lock().unwrap().push(Recorded {
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        query,
        headers: parts.headers,
        body,
    });
    let (status, headers, body) = script
        .answers
        .lock()
        .unwrap()
        .pop_front()
        .unwrap_or_else(|| (200, vec![], r#"{"ok": true}"#.to_owned()));
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = StatusCode::from_u16(status).unwrap();
    for (name, value) in headers {
        response.headers_mut().insert(name, value.parse().unwrap());
    }
    response
}

fn json_answer(status: u16, body: Value) -> Answer {
    (
        status,
        vec![("content-type", "application/json".to_owned())],
        body.to_string(),
    )
}

/// A server that reads each request and closes the connection without answering: how
/// many connections it was sent.
async fn dropping_server() -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let count = Arc::new(AtomicUsize::new(0));
    let counted = count.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                use tokio::io::AsyncReadExt as _;
                let mut buf = [0u8; 4096];
                let _ = socket.read(&mut buf).await;
                drop(socket);
            });
        }
    });
    (origin, count)
}

// ----- connections and declarations -----

fn settings(origin: &str) -> Settings {
    Settings::new()
        .origin(origin)
        .retry(RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_secs(5),
            max_total_wait: Duration::from_secs(10),
            ..RetryPolicy::DEFAULT
        })
        .timeout(Duration::from_secs(10))
}

fn connect_with(settings: Settings) -> Connection {
    Connection::from_json(
        support::loopback::provider(CATALOG, PROVIDER),
        &json!({}),
        &json!({"apiKey": KEY}),
        settings,
    )
    .unwrap()
}

fn connect(origin: &str) -> Connection {
    connect_with(settings(origin))
}

fn field(name: &str, ty: FieldType, optional: bool) -> FieldSpec {
    FieldSpec {
        name: name.into(),
        ty,
        optional,
        nullable: false,
    }
}

/// A budget the tests never wait for.
const ROOMY: Budget = Budget {
    per_minute: 60_000,
    burst: 1_000,
};

fn action(name: &str, method: Method, path: &str, input: Option<&str>) -> ActionSpec {
    ActionSpec {
        provider: PROVIDER.into(),
        name: name.into(),
        description: None,
        method,
        path: path.into(),
        input: input.map(Into::into),
        output: None,
        query: vec![],
        body: BodyKind::Json,
        idempotent: false,
        budget: Some(ROOMY),
    }
}

fn create_attendance() -> ActionSpec {
    ActionSpec {
        query: vec!["dry_run".into(), "tags".into()],
        ..action(
            "create-attendance",
            Method::Post,
            "/employees/{employee_id}/attendances",
            Some("CreateAttendance"),
        )
    }
}

fn update_attendance() -> ActionSpec {
    ActionSpec {
        idempotent: true,
        ..action(
            "update-attendance",
            Method::Patch,
            "/attendances/{id}",
            Some("UpdateAttendance"),
        )
    }
}

fn upload_document() -> ActionSpec {
    ActionSpec {
        body: BodyKind::Multipart {
            file: "file".into(),
        },
        ..action(
            "upload-document",
            Method::Post,
            "/employees/{employee_id}/documents",
            Some("UploadDocument"),
        )
    }
}

fn get_attendance() -> ActionSpec {
    ActionSpec {
        output: Some("Attendance".into()),
        body: BodyKind::None,
        idempotent: true,
        ..action(
            "get-attendance",
            Method::Get,
            "/attendances/{id}",
            Some("AttendanceId"),
        )
    }
}

fn delete_attendance() -> ActionSpec {
    ActionSpec {
        body: BodyKind::None,
        idempotent: true,
        ..action(
            "delete-attendance",
            Method::Delete,
            "/attendances/{id}",
            Some("AttendanceId"),
        )
    }
}

fn integrations() -> Integrations {
    let model = |name: &str, fields| ModelSpec {
        name: name.into(),
        fields,
        openapi: None,
    };
    Integrations {
        integrations: vec![Integration {
            provider: PROVIDER.into(),
            syncs: vec![],
            actions: vec![
                create_attendance(),
                update_attendance(),
                upload_document(),
                get_attendance(),
                delete_attendance(),
            ],
        }],
        models: vec![
            model(
                "CreateAttendance",
                vec![
                    field("employee_id", FieldType::String, false),
                    field("date", FieldType::Date, false),
                    field("start_time", FieldType::Time, false),
                    field("comment", FieldType::String, true),
                    field("dry_run", FieldType::Boolean, true),
                    field("tags", FieldType::Array(Box::new(FieldType::String)), true),
                ],
            ),
            model(
                "UpdateAttendance",
                vec![
                    field("id", FieldType::Integer, false),
                    field("comment", FieldType::String, false),
                ],
            ),
            model(
                "UploadDocument",
                vec![
                    field("employee_id", FieldType::Integer, false),
                    field("file", FieldType::File, false),
                    field("title", FieldType::String, false),
                    field("category_id", FieldType::Integer, true),
                ],
            ),
            model("AttendanceId", vec![field("id", FieldType::Integer, false)]),
            model(
                "Attendance",
                vec![
                    field("id", FieldType::Integer, false),
                    field("date", FieldType::Date, false),
                ],
            ),
        ],
    }
}

fn valid_attendance() -> Value {
    json!({
        "employee_id": "a/b c",
        "date": "2026-12-01",
        "start_time": "09:30",
        "comment": "on site",
        "dry_run": true,
        "tags": ["x", "y"],
    })
}

async fn run(conn: &Connection, action: &ActionSpec, input: Value) -> Result<Value, ActionError> {
    action::run(conn, &integrations(), action, &input)
        .await
        .map(|out| out.body)
}

fn provider_error(result: Result<Value, ActionError>) -> ProviderError {
    match result {
        Err(ActionError::Provider(e)) => e,
        other => panic!("expected a provider error, got {other:?}"),
    }
}

// ----- the tests -----

#[tokio::test]
async fn a_valid_input_makes_exactly_the_declared_request() {
    let fake = Fake::start().await;
    fake.answer([json_answer(201, json!({"id": 77}))]);
    let conn = connect(&fake.origin);
    let out = action::run(
        &conn,
        &integrations(),
        &create_attendance(),
        &valid_attendance(),
    )
    .await
    .unwrap();
    assert_eq!(out.status, 201);
    assert_eq!(out.body, json!({"id": 77}));
    let seen = fake.seen();
    assert_eq!(seen.len(), 1);
    let r = &seen[0];
    assert_eq!(r.method, "POST");
    assert_eq!(
        r.path, "/v1/employees/a%2Fb%20c/attendances",
        "the param is one encoded segment"
    );
    assert_eq!(
        r.query,
        vec![
            ("dry_run".to_owned(), "true".to_owned()),
            ("tags".to_owned(), "x".to_owned()),
            ("tags".to_owned(), "y".to_owned()),
        ]
    );
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(
        r.json(),
        json!({"date": "2026-12-01", "start_time": "09:30", "comment": "on site"}),
        "no path or query field in the body"
    );
    assert_eq!(
        r.header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
}

#[tokio::test]
async fn an_invalid_input_is_every_problem_at_once_and_nothing_is_sent() {
    let fake = Fake::start().await;
    let conn = connect(&fake.origin);
    let err = run(
        &conn,
        &create_attendance(),
        json!({"employee_id": 5.5, "date": "2026-02-30", "start_time": "25:00",
               "tags": "secret-tag", "comennt": "x"}),
    )
    .await
    .unwrap_err();
    let ActionError::Input(errors) = &err else {
        panic!("{err:?}")
    };
    let fields: Vec<&str> = errors.problems.iter().map(|p| p.field.as_str()).collect();
    assert_eq!(
        fields,
        vec!["employee_id", "date", "start_time", "tags", "comennt"]
    );
    let text = err.to_string();
    assert!(
        text.starts_with("5 problems with the input `CreateAttendance`:"),
        "{text}"
    );
    assert!(!text.contains("secret-tag"), "{text}");

    // Path params that the model allows but a path cannot take.
    for (id, message) in [
        ("", "must not be empty (a path param)"),
        ("..", "must not be `.` or `..` (a path param)"),
    ] {
        let mut input = valid_attendance();
        input["employee_id"] = json!(id);
        let err = run(&conn, &create_attendance(), input).await.unwrap_err();
        let ActionError::Input(errors) = &err else {
            panic!("{err:?}")
        };
        assert_eq!(errors.problems.len(), 1, "{err}");
        assert_eq!(errors.problems[0].field, "employee_id");
        assert_eq!(errors.problems[0].message, message);
    }

    // An action without an input model takes nothing.
    let no_input = ActionSpec {
        input: None,
        ..action("ping", Method::Post, "/ping", None)
    };
    let err = run(&conn, &no_input, json!({"x": 1})).await.unwrap_err();
    assert!(matches!(err, ActionError::Input(_)), "{err:?}");
    assert_eq!(fake.seen().len(), 0, "nothing sent for an invalid input");
    run(&conn, &no_input, Value::Null).await.unwrap();
    assert_eq!(fake.seen()[0].json(), json!({}));
}

#[tokio::test]
async fn a_v1_error_body_gives_the_providers_message() {
    let fake = Fake::start().await;
    let body =
        json!({"success": false, "error": {"code": 0, "message": "The employee does not exist."}});
    fake.answer([json_answer(400, body.clone())]);
    let conn = connect(&fake.origin);
    let e = provider_error(run(&conn, &create_attendance(), valid_attendance()).await);
    assert_eq!(e.status, 400);
    assert_eq!(e.action, "create-attendance");
    assert_eq!(e.message.as_deref(), Some("The employee does not exist."));
    assert_eq!(e.body, body);
    assert_eq!(
        e.to_string(),
        "action `create-attendance`: the provider answered HTTP 400: The employee does not exist."
    );
    assert_eq!(fake.seen().len(), 1);
}

#[tokio::test]
async fn a_v2_problem_body_gives_its_first_errors_detail() {
    let fake = Fake::start().await;
    fake.answer([(
        422,
        vec![("content-type", "application/problem+json".to_owned())],
        json!({
            "personio_trace_id": "trace-1",
            "timestamp": "2026-12-01T10:00:00Z",
            "errors": [
                {"title": "Invalid attribute", "detail": "The start time must be before the end time."},
                {"title": "Other", "detail": "second"}
            ]
        })
        .to_string(),
    )]);
    let conn = connect(&fake.origin);
    let e = provider_error(run(&conn, &create_attendance(), valid_attendance()).await);
    assert_eq!(e.status, 422);
    assert_eq!(
        e.message.as_deref(),
        Some("The start time must be before the end time.")
    );
    assert_eq!(e.body["personio_trace_id"], "trace-1");
}

#[tokio::test]
async fn a_secret_the_provider_echoes_is_masked() {
    let fake = Fake::start().await;
    fake.answer([json_answer(
        401,
        json!({"message": format!("bad key {KEY}")}),
    )]);
    let conn = connect(&fake.origin);
    let e = provider_error(run(&conn, &create_attendance(), valid_attendance()).await);
    assert_eq!(e.message.as_deref(), Some("bad key ***"));
    assert_eq!(e.body, json!({"message": "bad key ***"}));
    assert!(!format!("{e:?}").contains(KEY));
}

#[tokio::test]
async fn an_idempotent_action_is_retried_after_a_503() {
    let fake = Fake::start().await;
    fake.answer([
        json_answer(503, json!({"message": "busy"})),
        json_answer(200, json!({"id": 5, "comment": "late"})),
    ]);
    let conn = connect(&fake.origin);
    let out = run(
        &conn,
        &update_attendance(),
        json!({"id": 5, "comment": "late"}),
    )
    .await
    .unwrap();
    assert_eq!(out["comment"], "late");
    let seen = fake.seen();
    assert_eq!(seen.len(), 2);
    for r in &seen {
        assert_eq!(r.method, "PATCH");
        assert_eq!(r.path, "/v1/attendances/5");
        assert_eq!(r.json(), json!({"comment": "late"}));
    }
}

#[tokio::test]
async fn an_action_that_is_not_idempotent_is_never_retried_after_a_500() {
    let fake = Fake::start().await;
    fake.answer([json_answer(500, json!({"message": "oops"}))]);
    let conn = connect(&fake.origin);
    let e = provider_error(run(&conn, &create_attendance(), valid_attendance()).await);
    assert_eq!(e.status, 500);
    assert_eq!(e.message.as_deref(), Some("oops"));
    assert_eq!(fake.seen().len(), 1, "sent once");

    // The same method marked idempotent is retried: it is the declaration that decides.
    let fake = Fake::start().await;
    fake.answer([json_answer(500, json!({"message": "oops"}))]);
    let conn = connect(&fake.origin);
    let idempotent = ActionSpec {
        idempotent: true,
        ..create_attendance()
    };
    run(&conn, &idempotent, valid_attendance()).await.unwrap();
    assert_eq!(fake.seen().len(), 2);
}

#[tokio::test]
async fn a_dropped_connection_is_retried_only_for_an_idempotent_action() {
    let (origin, connections) = dropping_server().await;
    let conn = connect(&origin);
    let err = run(&conn, &create_attendance(), valid_attendance())
        .await
        .unwrap_err();
    assert!(
        matches!(err, ActionError::Request(Error::Transport { .. })),
        "{err:?}"
    );
    assert_eq!(connections.load(Ordering::SeqCst), 1, "sent once");

    let (origin, connections) = dropping_server().await;
    let conn = connect(&origin);
    let err = run(
        &conn,
        &update_attendance(),
        json!({"id": 5, "comment": "x"}),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, ActionError::Request(Error::Transport { .. })),
        "{err:?}"
    );
    assert_eq!(
        connections.load(Ordering::SeqCst),
        4,
        "every attempt of the retry policy"
    );
}

#[tokio::test]
async fn a_429_is_retried_even_when_not_idempotent() {
    let fake = Fake::start().await;
    fake.answer([(
        429,
        vec![("retry-after", "0".to_owned())],
        r#"{"message": "slow down"}"#.to_owned(),
    )]);
    let conn = connect(&fake.origin);
    run(&conn, &create_attendance(), valid_attendance())
        .await
        .unwrap();
    assert_eq!(fake.seen().len(), 2);
}

/// A part's headers (lowercase names) and content.
type ParsedPart = (Vec<(String, String)>, Vec<u8>);

/// The parts of a `multipart/form-data` body: each part's headers and content, read as
/// RFC 7578 says (the boundary from the content type, CRLF line ends).
fn parse_multipart(content_type: &str, body: &[u8]) -> Vec<ParsedPart> {
    let boundary = content_type
        .strip_prefix("multipart/form-data; boundary=")
        .expect("a multipart content type");
    let delimiter = format!("\r\n--{boundary}");
    // The body starts with the first boundary line; prefix a CRLF so every delimiter is alike.
    let mut text = b"\r\n".to_vec();
    text.extend_from_slice(body);
    let find = |hay: &[u8], needle: &[u8], from: usize| {
        hay[from..]
            .windows(needle.len())
            .position(|w| w == needle)
            .map(|p| p + from)
    };
    let mut parts = Vec::new();
    let mut at = find(&text, delimiter.as_bytes(), 0).expect("a first boundary") + delimiter.len();
    loop {
        if text[at..].starts_with(b"--") {
            assert_eq!(&text[at..], b"--\r\n", "nothing after the close delimiter");
            return parts;
        }
        assert!(text[at..].starts_with(b"\r\n"), "CRLF after a boundary");
        let start = at + 2;
        let end = find(&text, delimiter.as_bytes(), start).expect("a next boundary");
        let part = &text[start..end];
        let split = find(part, b"\r\n\r\n", 0).expect("a blank line after the headers");
        let headers = std::str::from_utf8(&part[..split])
            .unwrap()
            .split("\r\n")
            .map(|line| {
                let (name, value) = line.split_once(':').expect("name: value");
                (name.trim().to_ascii_lowercase(), value.trim().to_owned())
            })
            .collect();
        parts.push((headers, part[split + 4..].to_vec()));
        at = end + delimiter.len();
    }
}

/// A `Content-Disposition` param's quoted value.
fn disposition_param(headers: &[(String, String)], param: &str) -> Option<String> {
    let value = &headers.iter().find(|(n, _)| n == "content-disposition")?.1;
    let start = value.find(&format!("; {param}=\""))? + param.len() + 4;
    let len = value[start..].find('"')?;
    Some(value[start..start + len].to_owned())
}

#[tokio::test]
async fn a_multipart_action_sends_the_file_and_text_parts() {
    use base64::Engine as _;
    let fake = Fake::start().await;
    let conn = connect(&fake.origin);
    // Bytes that look like a delimiter and line ends must arrive as they are.
    let bytes = b"%PDF-1.7\r\n--not-a-boundary\r\n\x00\xff binary".to_vec();
    let input = json!({
        "employee_id": 12,
        "title": "Contract 2026",
        "category_id": 7,
        "file": {
            "filename": "contract é.pdf",
            "content_type": "application/pdf",
            "base64": base64::engine::general_purpose::STANDARD.encode(&bytes),
        },
    });
    run(&conn, &upload_document(), input).await.unwrap();
    let seen = fake.seen();
    let r = &seen[0];
    assert_eq!(r.path, "/v1/employees/12/documents");
    let parts = parse_multipart(r.header("content-type").unwrap(), &r.body);
    let summary: Vec<(String, Option<String>, Vec<u8>)> = parts
        .iter()
        .map(|(h, content)| {
            (
                disposition_param(h, "name").unwrap(),
                disposition_param(h, "filename"),
                content.clone(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            ("category_id".to_owned(), None, b"7".to_vec()),
            ("file".to_owned(), Some("contract é.pdf".to_owned()), bytes),
            ("title".to_owned(), None, b"Contract 2026".to_vec()),
        ]
    );
    let file_headers = &parts[1].0;
    assert!(file_headers.contains(&("content-type".to_owned(), "application/pdf".to_owned())));
}

#[tokio::test]
async fn a_hostile_filename_cannot_add_a_header_or_a_part() {
    let fake = Fake::start().await;
    let conn = connect(&fake.origin);
    let filename = "evil\".pdf\r\nContent-Type: text/html\r\n\r\n<script>";
    let input = json!({
        "employee_id": 12,
        "title": "x\r\n--injected",
        "file": {"filename": filename, "base64": "aGk="},
    });
    run(&conn, &upload_document(), input).await.unwrap();
    let seen = fake.seen();
    let r = &seen[0];
    let parts = parse_multipart(r.header("content-type").unwrap(), &r.body);
    assert_eq!(parts.len(), 2, "file and title only");
    let (headers, content) = &parts[0];
    assert_eq!(
        headers.len(),
        2,
        "Content-Disposition and Content-Type only: {headers:?}"
    );
    assert_eq!(
        disposition_param(headers, "filename").as_deref(),
        Some("evil%22.pdf%0D%0AContent-Type: text/html%0D%0A%0D%0A<script>")
    );
    assert!(headers.contains(&(
        "content-type".to_owned(),
        "application/octet-stream".to_owned()
    )));
    assert_eq!(content, b"hi");
    assert_eq!(parts[1].1, b"x\r\n--injected", "a text part keeps its text");

    // A media type with a line break is refused before anything is sent.
    let input = json!({
        "employee_id": 12,
        "title": "x",
        "file": {"filename": "a.pdf", "content_type": "text/html\r\nX-Evil: 1", "base64": "aGk="},
    });
    let err = run(&conn, &upload_document(), input).await.unwrap_err();
    assert!(matches!(err, ActionError::Input(_)), "{err:?}");
    assert_eq!(fake.seen().len(), 1);
}

#[tokio::test]
async fn requests_wait_for_the_connections_budget() {
    let fake = Fake::start().await;
    let conn = connect(&fake.origin);
    let slow = ActionSpec {
        budget: Some(Budget {
            per_minute: 60,
            burst: 1,
        }),
        ..update_attendance()
    };
    let input = json!({"id": 1, "comment": "x"});
    let start = tokio::time::Instant::now();
    run(&conn, &slow, input.clone()).await.unwrap();
    assert!(start.elapsed() < Duration::from_millis(500));
    // A clone shares the budget: its request waits for the next cell, a second later.
    run(&conn.clone(), &slow, input).await.unwrap();
    let waited = start.elapsed();
    assert!(waited >= Duration::from_millis(900), "{waited:?}");
    let budget = conn.rate_budget(Budget::default());
    assert_eq!(
        budget.budget(),
        Budget {
            per_minute: 60,
            burst: 1
        },
        "the first user made it"
    );

    // A budget given in the settings is the one used, and the response's hints reach it.
    let fake = Fake::start().await;
    fake.answer([(
        200,
        vec![
            ("x-ratelimit-remaining", "0".to_owned()),
            ("x-ratelimit-reset", "30".to_owned()),
        ],
        "{}".to_owned(),
    )]);
    let shared = Arc::new(RateBudget::new(ROOMY));
    let conn = connect_with(settings(&fake.origin).rate_budget(shared.clone()));
    run(
        &conn,
        &update_attendance(),
        json!({"id": 1, "comment": "x"}),
    )
    .await
    .unwrap();
    assert!(Arc::ptr_eq(&conn.rate_budget(Budget::default()), &shared));
    let until = shared
        .paused_until()
        .expect("paused by the exhausted window");
    assert!(until > tokio::time::Instant::now() + Duration::from_secs(29));
}

#[tokio::test]
async fn an_action_of_another_provider_is_refused() {
    let fake = Fake::start().await;
    let conn = connect(&fake.origin);
    let other = ActionSpec {
        provider: "personio".into(),
        ..create_attendance()
    };
    let err = run(&conn, &other, valid_attendance()).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "action `create-attendance` is for the provider `personio`, but the connection is to `acme-actions`"
    );
    assert_eq!(fake.seen().len(), 0);
}

#[derive(Debug, PartialEq, serde::Deserialize)]
struct Attendance {
    id: u64,
    date: String,
}

#[derive(serde::Serialize)]
struct AttendanceId {
    id: u64,
}

#[tokio::test]
async fn typed_outputs_and_an_empty_204() {
    let fake = Fake::start().await;
    fake.answer([
        json_answer(
            200,
            json!({"id": 5, "date": "2026-12-01", "more": "kept out"}),
        ),
        (204, vec![], String::new()),
        (204, vec![], String::new()),
        json_answer(200, json!({"id": "personal-value", "date": "2026-12-01"})),
    ]);
    let conn = connect(&fake.origin);
    let integrations = integrations();
    let got: Attendance = action::run_typed(
        &conn,
        &integrations,
        &get_attendance(),
        &AttendanceId { id: 5 },
    )
    .await
    .unwrap();
    assert_eq!(
        got,
        Attendance {
            id: 5,
            date: "2026-12-01".into()
        }
    );
    let r = &fake.seen()[0];
    assert_eq!(
        (r.method.as_str(), r.path.as_str()),
        ("GET", "/v1/attendances/5")
    );
    assert!(r.body.is_empty(), "no body for a GET");

    let () = action::run_typed(
        &conn,
        &integrations,
        &delete_attendance(),
        &AttendanceId { id: 5 },
    )
    .await
    .unwrap();
    let value: Value = action::run_typed(
        &conn,
        &integrations,
        &delete_attendance(),
        &AttendanceId { id: 5 },
    )
    .await
    .unwrap();
    assert_eq!(value, Value::Null);
    assert_eq!(fake.seen()[1].method, "DELETE");

    let err = action::run_typed::<_, Attendance>(
        &conn,
        &integrations,
        &get_attendance(),
        &AttendanceId { id: 5 },
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&err, ActionError::Output { model, .. } if model == "Attendance"),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "action `get-attendance`: the response does not read as `Attendance`: invalid type: string, expected u64"
    );
}
