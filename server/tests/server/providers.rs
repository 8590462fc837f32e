//! `GET /providers` and `GET /providers/{key}`: the list (sorted, searched, cut to a
//! session's providers) and the connection form as the catalog writes it, for a connect page.

use serde_json::{Value, json};
use terapi_runtime::rules::{UPPER_SNAKE_CASE_ECMASCRIPT, UPPER_SNAKE_CASE_MESSAGE};

use crate::support::{Options, TestServer};

/// Providers of every kind of connecting, and a param with every form key.
const CATALOG: &str = r#"
acme-oauth:
    display_name: Acme OAuth
    categories:
        - crm
    auth_mode: OAUTH2
    authorization_url: https://acme.example/oauth/authorize
    token_url: https://acme.example/oauth/token
    proxy:
        base_url: https://api.acme.example
    docs: https://acme.example/docs/oauth
acme-tba:
    display_name: Acme TBA
    auth_mode: TBA
    proxy:
        base_url: https://api.acme.example
    docs: https://acme.example/docs/tba
acme-key:
    display_name: Acme Keys
    auth_mode: API_KEY
    proxy:
        base_url: https://${connectionConfig.subdomain}.acme.example/${connectionConfig.region}
        headers:
            authorization: Bearer ${apiKey}
    docs: https://acme.example/docs/key
    docs_connect: https://acme.example/docs/key/connect
    connection_config:
        subdomain:
            type: string
            title: Subdomain
            description: Your account's subdomain.
            example: my-team
            pattern: '^[a-z0-9-]+$'
            format: hostname
            prefix: https://
            suffix: .acme.example
            doc_section: '#step-1-find-your-subdomain'
            order: 2
        region:
            type: string
            title: Region
            description: Where your data lives.
            enum:
                - eu
                - us
            default_value: eu
            hidden: true
            optional: true
    credentials:
        apiKey:
            type: string
            title: API Key
            description: ''
            example: ak_****
"#;

async fn start() -> TestServer {
    TestServer::start(
        Options::new("http://127.0.0.1:9")
            .with_catalog(CATALOG)
            .config(|c| c.rate_limit.per_minute = 0),
    )
    .await
    .expect("SQLite in memory is always there")
}

fn keys(list: &Value) -> Vec<&str> {
    list["data"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|p| p["key"].as_str().expect("a key"))
        .collect()
}

/// The form's `partnerId` and `appId` of the Personio providers.
fn partner_and_app_id() -> [Value; 2] {
    [
        json!({
            "name": "partnerId",
            "title": "Partner ID",
            "description": "Identifies your company as a Personio partner in support and telemetry. Sent as the X-Personio-Partner-ID header; left out when not set.",
            "example": "ACME",
            "pattern": UPPER_SNAKE_CASE_ECMASCRIPT,
            "optional": true,
            "secret": false,
            "rule": "upper_snake_case",
            "message": UPPER_SNAKE_CASE_MESSAGE,
        }),
        json!({
            "name": "appId",
            "title": "App ID",
            "description": "Names the application that makes the calls. Sent as the X-Personio-App-ID header; left out when not set.",
            "example": "MY_APPLICATION",
            "pattern": UPPER_SNAKE_CASE_ECMASCRIPT,
            "optional": true,
            "secret": false,
            "rule": "upper_snake_case",
            "message": UPPER_SNAKE_CASE_MESSAGE,
        }),
    ]
}

#[tokio::test]
async fn personio_form_as_the_catalog_writes_it() {
    let server = start().await;
    let (status, body) = server.get("/providers/personio", &server.admin_key).await;
    assert_eq!(status, 200, "{body}");
    let [partner, app] = partner_and_app_id();
    assert_eq!(
        body,
        json!({"data": {
            "key": "personio",
            "display_name": "Personio (v1)",
            "auth_mode": "OAUTH2_CC",
            "docs_url": "https://developer.personio.de/reference/auth",
            "categories": ["hr"],
            "connect": "credentials",
            "form": {
                "connection_config": [partner, app],
                "credentials": [
                    {
                        "name": "client_id",
                        "title": "Client ID",
                        "description": "The client id of an API credential created in Personio under Settings > Integrations > API credentials.",
                        "example": null,
                        "pattern": null,
                        "optional": false,
                        "secret": true,
                    },
                    {
                        "name": "client_secret",
                        "title": "Client Secret",
                        "description": "The client secret shown once when the API credential is created.",
                        "example": null,
                        "pattern": null,
                        "optional": false,
                        "secret": true,
                    },
                ],
            },
        }})
    );

    // The message is the one POST /auth gives for a value that breaks the rule.
    let session = server.session("form-user", &["personio"]).await;
    let (status, refused) = server
        .post(
            "/auth/personio",
            &session,
            &json!({"params": {"partnerId": "my_app"}, "credentials": {"client_id": "a", "client_secret": "b"}}),
        )
        .await;
    assert_eq!(status, 422, "{refused}");
    let said = refused["error"]["fields"][0]["message"].as_str().unwrap();
    let explanation = UPPER_SNAKE_CASE_MESSAGE
        .strip_prefix("UPPER_SNAKE_CASE: ")
        .unwrap();
    assert!(said.contains(explanation), "{said} vs {explanation}");
    assert_eq!(refused["error"]["fields"][0]["param"], "partnerId");
}

#[tokio::test]
async fn personio_recruiting_form_has_the_seed_params() {
    let server = start().await;
    let session = server.session("seed-user", &[]).await;
    let (status, body) = server.get("/providers/personio-recruiting", &session).await;
    assert_eq!(status, 200, "{body}");
    let data = &body["data"];
    assert_eq!(data["display_name"], "Personio Recruiting");
    assert_eq!(data["auth_mode"], "API_KEY");
    assert_eq!(data["connect"], "credentials");
    assert_eq!(data["categories"], json!(["hr", "ats"]));
    let [partner, app] = partner_and_app_id();
    assert_eq!(
        data["form"]["connection_config"],
        json!([
            {
                "name": "companyId",
                "title": "Company ID",
                "description": "The numeric company id shown next to the Recruiting API key in Personio. Sent as the X-Company-ID header.",
                "example": "33434",
                "pattern": "^[0-9]+$",
                "optional": false,
                "secret": false,
            },
            {
                "name": "company",
                "title": "Company Subdomain",
                "description": "The subdomain of your Personio login, company-b in company-b.personio.de. It becomes part of a host name, so it must be one DNS label.",
                "example": "company-b",
                "pattern": "^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$",
                "optional": false,
                "secret": false,
            },
            partner,
            app,
        ])
    );
    assert_eq!(
        data["form"]["credentials"],
        json!([{
            "name": "apiKey",
            "title": "Recruiting API Key",
            "description": "The Recruiting API key from Settings > Integrations > API credentials in Personio. Sent as a bearer token.",
            "example": null,
            "pattern": null,
            "optional": false,
            "secret": true,
        }])
    );
}

#[tokio::test]
async fn every_form_key_and_every_way_of_connecting() {
    let server = start().await;
    let (status, body) = server.get("/providers/acme-key", &server.admin_key).await;
    assert_eq!(status, 200, "{body}");
    let data = &body["data"];
    assert_eq!(
        data["docs_connect"],
        "https://acme.example/docs/key/connect"
    );
    assert_eq!(data.get("categories"), None, "{data}");
    assert_eq!(
        data["form"],
        json!({
            "connection_config": [
                {
                    "name": "subdomain",
                    "title": "Subdomain",
                    "description": "Your account's subdomain.",
                    "example": "my-team",
                    "pattern": "^[a-z0-9-]+$",
                    "optional": false,
                    "secret": false,
                    "format": "hostname",
                    "prefix": "https://",
                    "suffix": ".acme.example",
                    "doc_section": "#step-1-find-your-subdomain",
                    "order": 2,
                },
                {
                    "name": "region",
                    "title": "Region",
                    "description": "Where your data lives.",
                    "example": null,
                    "pattern": null,
                    "optional": true,
                    "secret": false,
                    "one_of": ["eu", "us"],
                    "default_value": "eu",
                    "hidden": true,
                },
            ],
            "credentials": [{
                "name": "apiKey",
                "title": "API Key",
                "description": "",
                "example": "ak_****",
                "pattern": null,
                "optional": false,
                "secret": true,
            }],
        })
    );
    for (key, connect) in [
        ("acme-key", "credentials"),
        ("acme-oauth", "oauth"),
        ("acme-tba", "unsupported"),
        ("personio-v2", "credentials"),
    ] {
        let (status, body) = server
            .get(&format!("/providers/{key}"), &server.admin_key)
            .await;
        assert_eq!(status, 200, "{key}: {body}");
        assert_eq!(body["data"]["connect"], connect, "{key}");
    }
    let (_, oauth) = server.get("/providers/acme-oauth", &server.admin_key).await;
    assert_eq!(
        oauth["data"]["form"],
        json!({"connection_config": [], "credentials": []})
    );
}

#[tokio::test]
async fn the_list_is_sorted_searchable_and_summarized() {
    let server = start().await;
    let reader = server.key(&["records"]).await;
    let (status, list) = server.get("/providers", &reader).await;
    assert_eq!(status, 200, "{list}");
    let all = keys(&list);
    let mut sorted = all.clone();
    sorted.sort_unstable();
    assert_eq!(all, sorted);
    for key in [
        "acme-key",
        "acme-oauth",
        "acme-tba",
        "personio",
        "personio-recruiting",
        "personio-v2",
    ] {
        assert!(all.contains(&key), "{key} in {all:?}");
    }
    let personio = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["key"] == "personio")
        .unwrap();
    assert_eq!(
        personio,
        &json!({
            "key": "personio",
            "display_name": "Personio (v1)",
            "auth_mode": "OAUTH2_CC",
            "docs_url": "https://developer.personio.de/reference/auth",
            "categories": ["hr"],
            "connect": "credentials",
        })
    );
    // The list carries no form.
    assert!(!list.to_string().contains("partnerId"));

    // By key or display name, ignoring case and surrounding spaces.
    for (search, expected) in [
        ("RECRUIT", vec!["personio-recruiting"]),
        ("%20Recruiting%20", vec!["personio-recruiting"]),
        ("(v2)", vec!["personio-v2"]),
        ("acme%20o", vec!["acme-oauth"]),
        (
            "personio",
            vec!["personio", "personio-recruiting", "personio-v2"],
        ),
        ("nothing-like-it", vec![]),
    ] {
        let (status, found) = server
            .get(&format!("/providers?search={search}"), &reader)
            .await;
        assert_eq!(status, 200, "{search}: {found}");
        assert_eq!(keys(&found), expected, "{search}");
    }
    // An empty search is no search.
    let (_, everything) = server.get("/providers?search=", &reader).await;
    assert_eq!(keys(&everything), all);

    // Bytes that are not UTF-8 are read as U+FFFD, which no provider has.
    let (status, found) = server.get("/providers?search=%FF%FE", &reader).await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(keys(&found), Vec::<&str>::new());
    // Queries that do not read: JSON errors, nothing echoed.
    for query in ["search=a&search=b", &format!("search={}", "x".repeat(201))] {
        let (status, body) = server.get(&format!("/providers?{query}"), &reader).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!(body["error"]["code"], "invalid_request", "{query}");
        assert!(!body.to_string().contains("xxxx"), "{body}");
    }
}

#[tokio::test]
async fn unknown_keys_are_404_without_raw_control_characters() {
    let server = start().await;
    let (status, body) = server
        .get("/providers/no-such-provider", &server.admin_key)
        .await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"]["code"], "not_found");
    assert_eq!(body["error"]["message"], "no provider `no-such-provider`");
    // Escape sequences, line breaks and a very long key.
    let (status, body) = server
        .get("/providers/x%1B%5B31m%0D%0Ay%00", &server.admin_key)
        .await;
    assert_eq!(status, 404, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(!message.chars().any(char::is_control), "{message:?}");
    assert!(message.contains("\\u{1b}[31m\\r\\ny\\u{0}"), "{message:?}");
    let long = "p".repeat(5000);
    let (status, body) = server
        .get(&format!("/providers/{long}"), &server.admin_key)
        .await;
    assert_eq!(status, 404, "{body}");
    assert!(
        body["error"]["message"].as_str().unwrap().len() < 120,
        "{body}"
    );
    // Not a key of the map by another spelling.
    for near in ["Personio", "personio%20", "personio/", "%70ersonio-x"] {
        let (status, body) = server
            .get(&format!("/providers/{near}"), &server.admin_key)
            .await;
        assert_eq!(status, 404, "{near}: {body}");
    }
}

#[tokio::test]
async fn without_a_valid_key_or_session_nothing_is_listed() {
    let server = start().await;
    for path in ["/providers", "/providers/personio", "/providers/no-such"] {
        for token in ["", "tk_wrong_key", "tcs_not-a-session", "Basic x"] {
            let (status, body) = server.get(path, token).await;
            assert_eq!(status, 401, "{path} with {token:?}: {body}");
            assert!(body["error"]["code"].is_string(), "{body}");
            assert!(!body.to_string().contains("Personio"), "{body}");
        }
    }
}

#[tokio::test]
async fn a_session_sees_only_its_providers() {
    let server = start().await;
    let session = server
        .session("limited-user", &["personio-recruiting", "acme-oauth"])
        .await;
    let (status, list) = server.get("/providers", &session).await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(keys(&list), ["acme-oauth", "personio-recruiting"]);
    let (_, searched) = server.get("/providers?search=personio", &session).await;
    assert_eq!(keys(&searched), ["personio-recruiting"]);
    let (status, _) = server.get("/providers/personio-recruiting", &session).await;
    assert_eq!(status, 200);
    // Another provider is answered as an unknown one: same status, same words.
    let (status, hidden) = server.get("/providers/personio", &session).await;
    assert_eq!(status, 404, "{hidden}");
    assert_eq!(hidden["error"]["message"], "no provider `personio`");
    let (_, unknown) = server.get("/providers/personio-zzz", &session).await;
    assert_eq!(hidden["error"]["code"], unknown["error"]["code"]);
    // A session without a list sees every provider, like a key.
    let open = server.session("open-user", &[]).await;
    let (_, everything) = server.get("/providers", &open).await;
    let (_, by_key) = server.get("/providers", &server.admin_key).await;
    assert_eq!(keys(&everything), keys(&by_key));
}
