//! `/openapi.json` describes exactly the routes the code serves: every `.route(…)` of
//! `server/src/routes/` with its methods is a path and operation of the document, and every
//! operation of the document is a route (so neither can change without the other).

use std::collections::BTreeSet;

use serde_json::Value;
use terapi_test_support::fake_personio::FakePersonio;

use crate::support::{Options, TestServer};

const METHODS: &[&str] = &["get", "post", "put", "patch", "delete"];

/// (method, path) of every route in the source of the routes.
fn routes_in_code() -> BTreeSet<(String, String)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/routes");
    let route = regex::Regex::new(
        r#"\.route(?:_service)?\(\s*"([^"]+)",\s*([^;]*?)\)\s*(?:\n\s*\.|;|\n\s*\})"#,
    )
    .unwrap();
    let method = regex::Regex::new(r"\b(get|post|put|patch|delete|any)\(").unwrap();
    let mut out = BTreeSet::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        for found in route.captures_iter(&text) {
            let path = found[1].replace("{*", "{");
            let handlers = &found[2];
            let mut any = false;
            for m in method.captures_iter(handlers) {
                if &m[1] == "any" {
                    any = true;
                } else {
                    out.insert((m[1].to_owned(), path.clone()));
                }
            }
            if any || !method.is_match(handlers) {
                for m in METHODS {
                    out.insert(((*m).to_owned(), path.clone()));
                }
            }
        }
    }
    out
}

fn routes_in_document(doc: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, _) in item.as_object().unwrap() {
            if METHODS.contains(&method.as_str()) {
                out.insert((method.clone(), path.clone()));
            }
        }
    }
    out
}

#[tokio::test]
async fn the_document_and_the_routes_are_equal() {
    let fake = FakePersonio::start().await;
    let server = TestServer::start(Options::new(&fake.origin()))
        .await
        .unwrap();
    let (status, doc) = server.get("/openapi.json", "").await;
    assert_eq!(status, 200);
    assert_eq!(doc["openapi"], "3.1.0");
    let code = routes_in_code();
    let documented = routes_in_document(&doc);
    let missing: Vec<_> = code.difference(&documented).collect();
    let extra: Vec<_> = documented.difference(&code).collect();
    assert!(
        missing.is_empty(),
        "routes not in openapi.json: {missing:?}"
    );
    assert!(
        extra.is_empty(),
        "openapi.json operations with no route: {extra:?}"
    );
    assert!(code.len() > 10, "{code:?}");
    // Every operation names its security and its answers.
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if METHODS.contains(&method.as_str()) {
                assert!(op["responses"].is_object(), "{method} {path}");
                assert!(op["summary"].is_string(), "{method} {path}");
            }
        }
    }
}
