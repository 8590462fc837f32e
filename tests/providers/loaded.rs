//! The catalog loaded at run time (`terapi_codegen::load`) against the code generated from
//! the same `providers.yaml`: the same params and client settings, the same URLs and
//! headers for the same inputs, the same validation errors, and a loaded provider that
//! connects and pages through the fake Personio API like a generated one.

#[allow(unused_imports)]
use terapi_providers::{Params as _, TypedProvider as _};
use terapi_test_support as support;

use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

use futures_util::TryStreamExt;
use serde_json::{Value, json};
use terapi_codegen::{Loaded, Options};
use terapi_providers::{personio, personio_recruiting, personio_v2};
use terapi_runtime::RenderContext;
use terapi_runtime::client::{ConnectError, Connection, Settings};
use terapi_runtime::spec::{ClientSupport, ParamValues, ProviderSpec, Unsupported};

use support::fake_personio::FakePersonio;

fn loaded() -> Loaded {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("providers.yaml");
    terapi_codegen::load_file(&path, &Options::default()).expect("providers.yaml loads")
}

fn cx() -> RenderContext<'static> {
    RenderContext::at(
        UNIX_EPOCH + Duration::from_secs(1_795_891_507),
        "r-1".into(),
    )
}

fn client_of(spec: &ProviderSpec) -> &terapi_runtime::client::ClientSpec {
    match &spec.client {
        ClientSupport::Supported(c) => c,
        ClientSupport::Unsupported(reason) => panic!("{}: unsupported: {reason}", spec.key),
    }
}

#[test]
fn loads_every_provider_of_the_catalog_sorted() {
    let loaded = loaded();
    let keys: Vec<&str> = loaded.providers.iter().map(|p| p.key.as_ref()).collect();
    assert_eq!(keys, ["personio", "personio-recruiting", "personio-v2"]);
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let e = loaded.provider("personio-v3").unwrap_err();
    assert_eq!(e.suggestion(), Some("personio-v2"));
}

#[test]
fn the_loaded_models_equal_the_generated_statics() {
    let loaded = loaded();
    for (key, generated) in [
        ("personio", personio::Marker::spec()),
        ("personio-v2", personio_v2::Marker::spec()),
        ("personio-recruiting", personio_recruiting::Marker::spec()),
    ] {
        let spec = loaded.get(key).unwrap();
        assert_eq!(spec, generated, "{key}");
        assert_eq!(
            &spec.config[..],
            personio_params(key).0,
            "{key}: connection_config"
        );
        assert_eq!(
            &spec.credentials[..],
            personio_params(key).1,
            "{key}: credentials"
        );
        client_of(spec);
    }
    let v1 = loaded.get("personio").unwrap();
    assert_eq!(v1.display_name, &*personio::Marker::spec().display_name);
    assert_eq!(
        v1.docs_url.as_deref(),
        personio::Marker::spec().docs_url.as_deref()
    );
    assert_eq!(v1.auth_mode, personio::Marker::spec().auth_mode);
    assert_eq!(
        v1.base_url.as_ref().unwrap().source,
        &*personio::Marker::spec().base_url.as_ref().unwrap().source,
        "the template as written"
    );
    // A model that differs in one setting is not equal.
    let mut changed = v1.clone();
    if let ClientSupport::Supported(c) = &mut changed.client {
        c.static_headers = !c.static_headers;
    }
    assert_ne!(&changed, personio::Marker::spec());
}

/// The typed modules' declared params.
fn personio_params(
    key: &str,
) -> (
    &'static [terapi_runtime::ParamSpec],
    &'static [terapi_runtime::ParamSpec],
) {
    match key {
        "personio" => (
            personio::ConnectionConfig::params(),
            personio::Credentials::params(),
        ),
        "personio-v2" => (
            personio_v2::ConnectionConfig::params(),
            personio_v2::Credentials::params(),
        ),
        _ => (
            personio_recruiting::ConnectionConfig::params(),
            personio_recruiting::Credentials::params(),
        ),
    }
}

#[test]
fn urls_and_headers_render_the_same_for_the_same_inputs() {
    let loaded = loaded();
    let cx = cx();
    for (config, credentials) in [
        (
            json!({}),
            json!({"client_id": "id-1", "client_secret": "s-1"}),
        ),
        (
            json!({"partnerId": "ACME", "appId": "MY_APP"}),
            json!({"client_id": "id-1", "client_secret": "s-1"}),
        ),
    ] {
        let spec = loaded.get("personio").unwrap();
        let values = ParamValues::from_json(spec, &config, &credentials).unwrap();
        let typed_config = personio::ConnectionConfig::from_json(&config).unwrap();
        let typed_credentials = personio::Credentials::from_json(&credentials).unwrap();
        assert_eq!(
            spec.render_url(spec.base_url.as_ref().unwrap(), &values)
                .unwrap(),
            personio::Marker::base_url(&typed_config)
        );
        assert_eq!(
            spec.render_url(spec.token_url.as_ref().unwrap(), &values)
                .unwrap(),
            personio::Marker::url(terapi_runtime::spec::UrlKind::TokenUrl, &typed_config)
        );
        assert_eq!(
            spec.render_named(&spec.headers, &values, &cx),
            personio::Marker::proxy_headers_with(&typed_config, &typed_credentials, &cx)
        );

        let spec = loaded.get("personio-v2").unwrap();
        let values = ParamValues::from_json(spec, &config, &credentials).unwrap();
        let typed_config = personio_v2::ConnectionConfig::from_json(&config).unwrap();
        let typed_credentials = personio_v2::Credentials::from_json(&credentials).unwrap();
        assert_eq!(
            spec.render_named(&spec.headers, &values, &cx),
            personio_v2::Marker::proxy_headers_with(&typed_config, &typed_credentials, &cx)
        );
    }

    let spec = loaded.get("personio-recruiting").unwrap();
    for company in ["company-b", "acme", "evil.com", "a/b", "EVIL"] {
        let config = json!({"companyId": "33434", "company": company, "appId": "MY_APP"});
        let credentials = json!({"apiKey": "papi-key"});
        let values = ParamValues::from_json(spec, &config, &credentials);
        let typed = personio_recruiting::ConnectionConfig::from_json(&config);
        let (values, typed) = match (values, typed) {
            (Ok(v), Ok(t)) => (v, t),
            (Err(a), Err(b)) => {
                assert_eq!(a, b, "{company}: the same errors");
                continue;
            }
            (a, b) => panic!("{company}: loaded {a:?}, generated {b:?}"),
        };
        let typed_credentials = personio_recruiting::Credentials::from_json(&credentials).unwrap();
        assert_eq!(
            spec.render_url(spec.verification_base_url.as_ref().unwrap(), &values)
                .unwrap(),
            personio_recruiting::Marker::url(
                terapi_runtime::spec::UrlKind::VerificationBaseUrl,
                &typed
            ),
            "{company}"
        );
        assert_eq!(
            spec.render_named(&spec.headers, &values, &cx),
            personio_recruiting::Marker::proxy_headers_with(&typed, &typed_credentials, &cx),
            "{company}"
        );
        assert_eq!(
            spec.render_named(&spec.verification_headers, &values, &cx),
            personio_recruiting::Marker::verification_headers_with(&typed, &typed_credentials, &cx),
            "{company}"
        );
    }
}

#[test]
fn validation_errors_are_the_generated_ones_for_both_objects_at_once() {
    let loaded = loaded();
    let spec = loaded.get("personio-recruiting").unwrap();
    let config = json!({"companyId": "x1", "company": "", "appID": "my_app"});
    let credentials = json!({"apiKey": 7});
    let loaded_errors = ParamValues::from_json(spec, &config, &credentials).unwrap_err();
    let generated = personio_recruiting::ConnectionConfig::from_json(&config)
        .unwrap_err()
        .merge(personio_recruiting::Credentials::from_json(&credentials).unwrap_err());
    assert_eq!(loaded_errors, generated);
    assert_eq!(loaded_errors.to_string(), generated.to_string());
}

#[test]
fn loaded_values_never_show_a_secret() {
    let loaded = loaded();
    let spec = loaded.get("personio").unwrap();
    let values = ParamValues::from_json(
        spec,
        &json!({"partnerId": "ACME"}),
        &json!({"client_id": "id-SECRET-1", "client_secret": "s-SECRET-2"}),
    )
    .unwrap();
    let shown = format!("{values:?}");
    assert!(!shown.contains("SECRET"), "{shown}");
    assert!(shown.contains("ACME"), "{shown}");
}

#[tokio::test]
async fn a_loaded_provider_connects_and_pages_like_a_generated_one() {
    let fake = FakePersonio::start().await;
    let loaded = loaded();
    let spec = loaded.get("personio").unwrap().clone();
    let settings = || Settings::new().origin(fake.origin());
    let credentials =
        json!({"client_id": FakePersonio::CLIENT_ID, "client_secret": FakePersonio::CLIENT_SECRET});

    let conn = Connection::from_json(spec.clone(), &json!({}), &credentials, settings())
        .expect("connects");
    assert_eq!(conn.provider(), "personio");
    let from_loaded: Vec<Value> = conn
        .paginate::<Value>("/company/employees")
        .limit(2)
        .try_collect()
        .await
        .expect("pages");

    let typed = personio::Connection::with_settings(
        personio::ConnectionConfig::from_json(&json!({})).unwrap(),
        personio::Credentials::from_json(&credentials).unwrap(),
        settings(),
    )
    .unwrap();
    let from_generated: Vec<Value> = typed
        .paginate::<Value>("/company/employees")
        .limit(2)
        .try_collect()
        .await
        .unwrap();
    assert!(!from_loaded.is_empty());
    assert_eq!(from_loaded, from_generated);

    // Bad input: every problem of both objects, as for generated code.
    match Connection::from_json(spec, &json!({"partnerId": "acme"}), &json!({}), settings()) {
        Err(ConnectError::Invalid(errors)) => assert_eq!(errors.len(), 3, "{errors}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_provider_the_client_cannot_serve_is_validated_first_then_refused_with_its_reason() {
    let catalog = r#"
jwt-only:
    display_name: JWT
    auth_mode: JWT
    docs: https://jwt.example/docs
    proxy:
        base_url: https://api.jwt.example
    credentials:
        privateKey:
            type: string
            title: Private key
            description: The key.
"#;
    let loaded =
        terapi_codegen::load(Path::new("jwt.yaml"), catalog, &Options::default()).expect("loads");
    let spec = loaded.get("jwt-only").unwrap().clone();
    let reason = match &spec.client {
        ClientSupport::Unsupported(reason) => reason.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        reason,
        Unsupported::JwtSettings("the entry has no `token` settings".into())
    );
    // Invalid input: the validation errors, not the refusal.
    match Connection::from_json(spec.clone(), &json!({}), &json!({}), Settings::new()) {
        Err(ConnectError::Invalid(errors)) => assert_eq!(errors.len(), 1, "{errors}"),
        other => panic!("{other:?}"),
    }
    // Valid input: refused, with the reason the model gives.
    match Connection::from_json(
        spec,
        &json!({}),
        &json!({"privateKey": "k"}),
        Settings::new(),
    ) {
        Err(ConnectError::Connect(terapi_runtime::client::Error::Unsupported {
            reason: given,
            ..
        })) => assert_eq!(given, reason),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_secret_in_the_query_is_refused_at_connect_until_the_settings_allow_it() {
    let catalog = r#"
query-key:
    display_name: Query key
    auth_mode: API_KEY
    docs: https://query.example/docs
    proxy:
        base_url: https://api.query.example
        query:
            api_key: ${apiKey}
    credentials:
        apiKey:
            type: string
            title: API key
            description: The key.
"#;
    let loaded =
        terapi_codegen::load(Path::new("query.yaml"), catalog, &Options::default()).expect("loads");
    let spec = loaded.get("query-key").unwrap().clone();
    let credentials = json!({"apiKey": "query-secret-1234"});
    match Connection::from_json(spec.clone(), &json!({}), &credentials, Settings::new()) {
        Err(ConnectError::Connect(error @ terapi_runtime::client::Error::Unsupported { .. })) => {
            let terapi_runtime::client::Error::Unsupported { reason, .. } = &error else {
                unreachable!()
            };
            assert_eq!(*reason, Unsupported::SecretInQuery);
            assert!(
                error
                    .to_string()
                    .contains("Settings::allow_secret_in_query(true)"),
                "{error}"
            );
        }
        other => panic!("{other:?}"),
    }
    let allowed = Settings::new().allow_secret_in_query(true);
    assert!(Connection::from_json(spec, &json!({}), &credentials, allowed).is_ok());
}
