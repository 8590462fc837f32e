//! `/openapi.json` describes exactly the routes the code serves: every `.route(…)` of
//! `server/src/routes/` with its methods is a path and operation of the document, and every
//! operation of the document is a route (so neither can change without the other).

use std::collections::BTreeSet;

use serde_json::Value;
use terapi_test_support::fake_personio::FakePersonio;

use crate::support::{Options, TestServer};

const METHODS: &[&str] = &["get", "post", "put", "patch", "delete"];

/// (method, path) of every route in the source of the routes: each `.route("PATH", …)`
/// call, its handlers read up to the parenthesis that closes it.
fn routes_in_code() -> BTreeSet<(String, String)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/routes");
    let method = regex::Regex::new(r"\b(get|post|put|patch|delete|any)\(").unwrap();
    let mut out = BTreeSet::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let mut rest = text.as_str();
        while let Some(at) = rest.find(".route(") {
            rest = &rest[at + ".route(".len()..];
            let Some(open) = rest.find('"') else { break };
            let Some(len) = rest[open + 1..].find('"') else {
                break;
            };
            let route = rest[open + 1..open + 1 + len].replace("{*", "{");
            // The handlers: up to the parenthesis closing `.route(`.
            let mut depth = 1;
            let mut end = rest.len();
            for (i, c) in rest.char_indices() {
                match c {
                    '(' => depth += 1,
                    ')' => {
                        depth -= 1;
                        if depth == 0 {
                            end = i;
                            break;
                        }
                    }
                    _ => {}
                }
            }
            let handlers = &rest[open + 1 + len + 1..end];
            let mut any = false;
            for m in method.captures_iter(handlers) {
                if &m[1] == "any" {
                    any = true;
                } else {
                    out.insert((m[1].to_owned(), route.clone()));
                }
            }
            if any {
                for m in METHODS {
                    out.insert(((*m).to_owned(), route.clone()));
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
