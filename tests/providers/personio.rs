//! Integration tests of the three Personio providers generated from `providers.yaml`:
//! `personio`, `personio-v2` and `personio-recruiting`.
//!
//! Facts checked here come from the catalog and from Personio's documentation: the
//! Recruiting API takes a static key plus a numeric company id, `company` lands in a host
//! name, and `X-Personio-Partner-ID` / `X-Personio-App-ID` are optional UPPER_SNAKE_CASE
//! values whose headers are left out when not set.

use serde_json::{Value, json};
use terapi_providers::{
    AuthMode, Headers, Provider, RenderError, Section, ValidationErrorKind, ValidationErrors,
    personio, personio_recruiting, personio_v2,
};
#[allow(unused_imports)]
use terapi_providers::{Params as _, TypedProvider as _};

const API_KEY: &str = "papi-recruiting-key-0123456789";
const CLIENT_ID: &str = "client-id-super-private-4711";
const CLIENT_SECRET: &str = "client-secret-super-private-0815";

const UPPER_SNAKE_OK: &[&str] = &["MY_APPLICATION", "ACME", "ACME2", "MY_APP_V2"];
const UPPER_SNAKE_BAD: &[&str] = &[
    "my_app",
    "My_App",
    "_ACME",
    "ACME_",
    "MY__APP",
    "2ACME",
    "ACME-CORP",
];

/// A valid 64-character UPPER_SNAKE_CASE value (the longest allowed).
fn upper_snake_64() -> String {
    let v = format!("A{}", "B".repeat(63));
    assert_eq!(v.len(), 64);
    v
}

/// A 65-character value that would be UPPER_SNAKE_CASE but for its length.
fn upper_snake_65() -> String {
    let v = format!("A{}", "B".repeat(64));
    assert_eq!(v.len(), 65);
    v
}

/// Merges `extra` into a JSON object.
fn with(base: Value, extra: Value) -> Value {
    let (Value::Object(mut base), Value::Object(extra)) = (base, extra) else {
        panic!("objects expected");
    };
    base.extend(extra);
    Value::Object(base)
}

fn recruiting_base() -> Value {
    json!({"companyId": "33434", "company": "company-b"})
}

fn params(errors: &ValidationErrors) -> Vec<&str> {
    errors.iter().map(|e| e.param()).collect()
}

fn header_names(headers: &Headers) -> Vec<&str> {
    headers.iter().map(|h| h.name()).collect()
}

/// Reads the connection config of a Personio provider from `base + extra` and returns its
/// `(partner_id, app_id)`.
fn ids_of(
    provider: Provider,
    extra: Value,
) -> Result<(Option<String>, Option<String>), ValidationErrors> {
    match provider {
        Provider::Personio => personio::ConnectionConfig::from_json(&with(json!({}), extra))
            .map(|c| (c.partner_id, c.app_id)),
        Provider::PersonioV2 => personio_v2::ConnectionConfig::from_json(&with(json!({}), extra))
            .map(|c| (c.partner_id, c.app_id)),
        Provider::PersonioRecruiting => {
            personio_recruiting::ConnectionConfig::from_json(&with(recruiting_base(), extra))
                .map(|c| (c.partner_id, c.app_id))
        }
    }
}

fn recruiting_credentials() -> personio_recruiting::Credentials {
    personio_recruiting::Credentials::from_json(&json!({"apiKey": API_KEY})).unwrap()
}

fn personio_credentials() -> personio::Credentials {
    personio::Credentials::from_json(
        &json!({"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}),
    )
    .unwrap()
}

fn personio_v2_credentials() -> personio_v2::Credentials {
    personio_v2::Credentials::from_json(
        &json!({"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}),
    )
    .unwrap()
}

fn recruiting_config_literal(company: &str) -> personio_recruiting::ConnectionConfig {
    personio_recruiting::ConnectionConfig {
        company_id: "33434".to_owned(),
        company: company.to_owned(),
        partner_id: None,
        app_id: None,
    }
}

// ---------------------------------------------------------------------------------------
// 1. Provider
// ---------------------------------------------------------------------------------------

#[test]
fn provider_parses_every_key() {
    assert_eq!("personio".parse::<Provider>(), Ok(Provider::Personio));
    assert_eq!("personio-v2".parse::<Provider>(), Ok(Provider::PersonioV2));
    assert_eq!(
        "personio-recruiting".parse::<Provider>(),
        Ok(Provider::PersonioRecruiting)
    );
}

#[test]
fn provider_all_and_keys_are_in_key_order() {
    assert_eq!(
        Provider::ALL,
        &[
            Provider::Personio,
            Provider::PersonioRecruiting,
            Provider::PersonioV2
        ]
    );
    assert_eq!(
        Provider::KEYS,
        &["personio", "personio-recruiting", "personio-v2"]
    );
    let keys: Vec<&str> = Provider::ALL.iter().map(|p| p.as_str()).collect();
    assert_eq!(keys, Provider::KEYS);
    let mut sorted = keys.clone();
    sorted.sort_unstable();
    assert_eq!(keys, sorted);
}

#[test]
fn provider_as_str_display_and_parse_round_trip() {
    for &provider in Provider::ALL {
        assert_eq!(provider.to_string(), provider.as_str());
        assert_eq!(format!("{provider}"), provider.as_str());
        assert_eq!(provider.as_str().parse::<Provider>(), Ok(provider));
        assert_eq!(provider.to_string().parse::<Provider>(), Ok(provider));
    }
    assert_eq!(Provider::PersonioRecruiting.as_str(), "personio-recruiting");
    assert_eq!(Provider::PersonioV2.to_string(), "personio-v2");
}

#[test]
fn provider_auth_modes() {
    assert_eq!(Provider::Personio.auth_mode(), AuthMode::OAuth2Cc);
    assert_eq!(Provider::PersonioV2.auth_mode(), AuthMode::OAuth2Cc);
    assert_eq!(Provider::PersonioRecruiting.auth_mode(), AuthMode::ApiKey);
    assert_eq!(Provider::Personio.auth_mode().as_str(), "OAUTH2_CC");
    assert_eq!(Provider::PersonioV2.auth_mode().to_string(), "OAUTH2_CC");
    assert_eq!(Provider::PersonioRecruiting.auth_mode().as_str(), "API_KEY");
}

#[test]
fn provider_display_names_and_docs() {
    assert_eq!(Provider::Personio.display_name(), "Personio (v1)");
    assert_eq!(Provider::PersonioV2.display_name(), "Personio (v2)");
    assert_eq!(
        Provider::PersonioRecruiting.display_name(),
        "Personio Recruiting"
    );
    assert_eq!(
        Provider::Personio.docs_url(),
        Some("https://developer.personio.de/reference/auth")
    );
    assert_eq!(
        Provider::PersonioV2.docs_url(),
        Some("https://developer.personio.de/reference/post_v2-auth-token")
    );
    assert_eq!(
        Provider::PersonioRecruiting.docs_url(),
        Some("https://developer.personio.de/reference/post_v1-recruiting-applications")
    );
}

#[test]
fn unknown_provider_names_the_key_and_suggests_a_close_one() {
    let err = "personio-recuiting".parse::<Provider>().unwrap_err();
    assert_eq!(err.given(), "personio-recuiting");
    assert_eq!(err.suggestion(), Some("personio-recruiting"));
    assert_eq!(
        err.to_string(),
        "unknown provider `personio-recuiting` (did you mean `personio-recruiting`?)"
    );

    let err = "personio-v3".parse::<Provider>().unwrap_err();
    assert_eq!(err.suggestion(), Some("personio-v2"));

    // Keys are case-sensitive, but the suggestion is found case-insensitively.
    let err = "Personio".parse::<Provider>().unwrap_err();
    assert_eq!(err.given(), "Personio");
    assert_eq!(err.suggestion(), Some("personio"));
}

#[test]
fn unknown_far_provider_has_no_suggestion() {
    for far in ["slack", "github", ""] {
        let err = far.parse::<Provider>().unwrap_err();
        assert_eq!(err.given(), far);
        assert_eq!(err.suggestion(), None, "{far:?}");
        assert_eq!(err.to_string(), format!("unknown provider `{far}`"));
        assert!(!err.to_string().contains("did you mean"));
    }
}

// ---------------------------------------------------------------------------------------
// 2. The issue's example
// ---------------------------------------------------------------------------------------

#[test]
fn issue_example_recruiting_config_and_credentials() {
    let config = personio_recruiting::ConnectionConfig::from_json(&json!({
        "companyId": "33434", "company": "company-b", "partnerId": "ACME", "appId": "MY_APPLICATION"
    }))
    .unwrap();
    let company_id: &String = &config.company_id;
    let company: &String = &config.company;
    let partner_id: &Option<String> = &config.partner_id;
    let app_id: &Option<String> = &config.app_id;
    assert_eq!(company_id, "33434");
    assert_eq!(company, "company-b");
    assert_eq!(partner_id.as_deref(), Some("ACME"));
    assert_eq!(app_id.as_deref(), Some("MY_APPLICATION"));
    assert_eq!(
        config,
        personio_recruiting::ConnectionConfig {
            company_id: "33434".to_owned(),
            company: "company-b".to_owned(),
            partner_id: Some("ACME".to_owned()),
            app_id: Some("MY_APPLICATION".to_owned()),
        }
    );

    let credentials =
        personio_recruiting::Credentials::from_json(&json!({"apiKey": API_KEY})).unwrap();
    assert_eq!(credentials.api_key.expose(), API_KEY);

    let headers = personio_recruiting::Marker::proxy_headers(&config, &credentials).unwrap();
    assert_eq!(headers.get("x-company-id"), Some("33434"));
    assert_eq!(headers.get("X-Company-ID"), Some("33434"));
}

#[test]
fn recruiting_credentials_missing_empty_or_unknown() {
    let err = personio_recruiting::Credentials::from_json(&json!({})).unwrap_err();
    assert_eq!(params(&err), ["apiKey"]);
    let e = err.iter().next().unwrap();
    assert_eq!(e.kind(), &ValidationErrorKind::Missing);
    assert_eq!(e.section(), Section::Credentials);
    assert_eq!(
        e.to_string(),
        "credentials param `apiKey`: required param is missing"
    );

    let err = personio_recruiting::Credentials::from_json(&json!({"apiKey": null})).unwrap_err();
    assert_eq!(
        err.iter().next().unwrap().kind(),
        &ValidationErrorKind::Missing
    );

    let err = personio_recruiting::Credentials::from_json(&json!({"apiKey": ""})).unwrap_err();
    assert_eq!(params(&err), ["apiKey"]);
    assert_eq!(
        err.iter().next().unwrap().kind(),
        &ValidationErrorKind::Empty
    );

    let err =
        personio_recruiting::Credentials::from_json(&json!({"api_key": API_KEY})).unwrap_err();
    assert_eq!(params(&err), ["apiKey", "api_key"]);
    let kinds: Vec<&ValidationErrorKind> = err.iter().map(|e| e.kind()).collect();
    assert_eq!(
        kinds,
        [
            &ValidationErrorKind::Missing,
            &ValidationErrorKind::UnknownParam {
                suggestion: Some("apiKey".to_owned())
            }
        ]
    );
    // The value under a misspelled key is still a secret: never shown.
    assert!(!err.to_string().contains(API_KEY), "{err}");
    assert!(!format!("{err:?}").contains(API_KEY));
}

// ---------------------------------------------------------------------------------------
// 3. UPPER_SNAKE_CASE for partnerId and appId
// ---------------------------------------------------------------------------------------

#[test]
fn upper_snake_case_valid_values_pass_for_partner_and_app_id() {
    let mut values: Vec<String> = UPPER_SNAKE_OK.iter().map(|s| s.to_string()).collect();
    values.push(upper_snake_64());
    for &provider in Provider::ALL {
        for value in &values {
            let got = ids_of(provider, json!({"partnerId": value})).unwrap();
            assert_eq!(
                got,
                (Some(value.clone()), None),
                "{provider} partnerId {value}"
            );
            let got = ids_of(provider, json!({"appId": value})).unwrap();
            assert_eq!(got, (None, Some(value.clone())), "{provider} appId {value}");
            let got = ids_of(provider, json!({"partnerId": value, "appId": value})).unwrap();
            assert_eq!(got, (Some(value.clone()), Some(value.clone())));
        }
    }
}

#[test]
fn upper_snake_case_invalid_values_fail_for_partner_and_app_id() {
    let mut values: Vec<String> = UPPER_SNAKE_BAD.iter().map(|s| s.to_string()).collect();
    values.push(upper_snake_65());
    for &provider in Provider::ALL {
        for value in &values {
            for param in ["partnerId", "appId"] {
                let err = ids_of(provider, json!({ param: value })).unwrap_err();
                assert_eq!(err.len(), 1, "{provider} {param} {value}: {err}");
                let e = err.iter().next().unwrap();
                assert_eq!(e.param(), param);
                assert_eq!(e.section(), Section::ConnectionConfig);
                assert_eq!(
                    e.kind(),
                    &ValidationErrorKind::UpperSnakeCase {
                        value: Some(value.clone())
                    }
                );
                let msg = e.to_string();
                assert!(msg.contains("UPPER_SNAKE_CASE"), "{msg}");
                assert!(msg.contains(&format!("`{param}`")), "{msg}");
                if value.chars().count() <= 64 {
                    assert!(msg.contains(&format!("{value:?}")), "{msg}");
                } else {
                    // Long values are quoted cut to 64 characters.
                    let head: String = value.chars().take(64).collect();
                    assert!(msg.contains(&format!("{head:?}…")), "{msg}");
                }
                assert!(err.to_string().contains(&msg));
            }
        }
    }
}

#[test]
fn upper_snake_case_more_invalid_values() {
    for value in ["ACME CORP", "ÄCME", "ACME\n", "_", "A__", " ACME", "acme"] {
        for param in ["partnerId", "appId"] {
            let err = ids_of(Provider::PersonioRecruiting, json!({ param: value })).unwrap_err();
            assert_eq!(params(&err), [param], "{value:?}");
            let msg = err.to_string();
            assert!(msg.contains("UPPER_SNAKE_CASE"), "{msg}");
            // Control characters are escaped in messages, never printed raw.
            assert!(!msg.contains('\n'), "{msg:?}");
        }
    }
}

#[test]
fn optional_ids_empty_null_or_missing_are_absent() {
    for &provider in Provider::ALL {
        for absent in [
            json!({}),
            json!({"partnerId": null, "appId": null}),
            json!({"partnerId": "", "appId": ""}),
        ] {
            assert_eq!(
                ids_of(provider, absent.clone()).unwrap(),
                (None, None),
                "{provider} {absent}"
            );
        }
        assert_eq!(
            ids_of(provider, json!({"partnerId": "", "appId": "MY_APP"})).unwrap(),
            (None, Some("MY_APP".to_owned()))
        );
        assert_eq!(
            ids_of(provider, json!({"partnerId": "ACME", "appId": null})).unwrap(),
            (Some("ACME".to_owned()), None)
        );
    }
}

#[test]
fn optional_ids_must_still_be_strings() {
    for &provider in Provider::ALL {
        let err = ids_of(provider, json!({"partnerId": 7, "appId": ["A"]})).unwrap_err();
        assert_eq!(params(&err), ["partnerId", "appId"]);
        let kinds: Vec<&ValidationErrorKind> = err.iter().map(|e| e.kind()).collect();
        assert_eq!(
            kinds,
            [
                &ValidationErrorKind::NotAString { found: "a number" },
                &ValidationErrorKind::NotAString { found: "an array" },
            ]
        );
    }
}

// ---------------------------------------------------------------------------------------
// 4. Required params, types, unknown params, aggregation
// ---------------------------------------------------------------------------------------

#[test]
fn company_id_missing_or_null() {
    for input in [
        json!({"company": "company-b"}),
        json!({"companyId": null, "company": "company-b"}),
    ] {
        let err = personio_recruiting::ConnectionConfig::from_json(&input).unwrap_err();
        assert_eq!(err.len(), 1);
        let e = err.iter().next().unwrap();
        assert_eq!(e.param(), "companyId");
        assert_eq!(e.kind(), &ValidationErrorKind::Missing);
        assert_eq!(
            err.to_string(),
            "connection_config param `companyId`: required param is missing"
        );
    }
}

#[test]
fn company_id_empty_string() {
    let err = personio_recruiting::ConnectionConfig::from_json(
        &json!({"companyId": "", "company": "company-b"}),
    )
    .unwrap_err();
    assert_eq!(params(&err), ["companyId"]);
    assert_eq!(
        err.iter().next().unwrap().kind(),
        &ValidationErrorKind::Empty
    );
    assert_eq!(
        err.to_string(),
        "connection_config param `companyId`: required param is empty"
    );
}

#[test]
fn company_id_not_a_string() {
    let err = personio_recruiting::ConnectionConfig::from_json(
        &json!({"companyId": 33434, "company": "company-b"}),
    )
    .unwrap_err();
    assert_eq!(params(&err), ["companyId"]);
    assert_eq!(
        err.iter().next().unwrap().kind(),
        &ValidationErrorKind::NotAString { found: "a number" }
    );
    assert_eq!(
        err.to_string(),
        "connection_config param `companyId`: must be a string, got a number"
    );
    for (value, found) in [
        (json!(true), "a boolean"),
        (json!({"id": "1"}), "an object"),
        (json!(["1"]), "an array"),
    ] {
        let err = personio_recruiting::ConnectionConfig::from_json(
            &json!({"companyId": value, "company": "company-b"}),
        )
        .unwrap_err();
        assert_eq!(
            err.iter().next().unwrap().kind(),
            &ValidationErrorKind::NotAString { found }
        );
    }
}

#[test]
fn company_id_must_be_digits() {
    for bad in [
        "33a34", "-1", "3.5", " 33434", "33434 ", "33434\n", "abc", "٣٤",
    ] {
        let err = personio_recruiting::ConnectionConfig::from_json(
            &json!({"companyId": bad, "company": "company-b"}),
        )
        .unwrap_err();
        assert_eq!(params(&err), ["companyId"], "{bad:?}");
        assert_eq!(
            err.iter().next().unwrap().kind(),
            &ValidationErrorKind::Pattern {
                pattern: "^[0-9]+$".to_owned(),
                value: Some(bad.to_owned())
            }
        );
        assert_eq!(
            err.to_string(),
            format!(
                "connection_config param `companyId`: value {bad:?} does not match the pattern `^[0-9]+$`"
            )
        );
    }
    for good in ["0", "33434", "0012345678901234567890"] {
        let config = personio_recruiting::ConnectionConfig::from_json(
            &json!({"companyId": good, "company": "company-b"}),
        )
        .unwrap();
        assert_eq!(config.company_id, good);
    }
}

#[test]
fn unknown_param_suggests_the_declared_one() {
    let err = personio_recruiting::ConnectionConfig::from_json(
        &json!({"companyId": "33434", "company": "company-b", "companyID": "33434"}),
    )
    .unwrap_err();
    assert_eq!(params(&err), ["companyID"]);
    assert_eq!(
        err.iter().next().unwrap().kind(),
        &ValidationErrorKind::UnknownParam {
            suggestion: Some("companyId".to_owned())
        }
    );
    assert_eq!(
        err.to_string(),
        "connection_config param `companyID`: unknown param (did you mean `companyId`?)"
    );

    let err = personio::ConnectionConfig::from_json(&json!({"partnerID": "ACME"})).unwrap_err();
    assert_eq!(
        err.to_string(),
        "connection_config param `partnerID`: unknown param (did you mean `partnerId`?)"
    );

    // A param of another provider is unknown here, and nothing is close to `zzz`.
    let err = personio_v2::ConnectionConfig::from_json(&json!({"zzz": "1"})).unwrap_err();
    assert_eq!(
        err.iter().next().unwrap().kind(),
        &ValidationErrorKind::UnknownParam { suggestion: None }
    );
    assert_eq!(
        err.to_string(),
        "connection_config param `zzz`: unknown param"
    );
}

#[test]
fn input_that_is_not_an_object() {
    for (input, found) in [
        (json!(["33434", "company-b"]), "an array"),
        (json!("33434"), "a string"),
        (json!(null), "null"),
        (json!(1), "a number"),
    ] {
        let err = personio_recruiting::ConnectionConfig::from_json(&input).unwrap_err();
        assert_eq!(err.len(), 1);
        let e = err.iter().next().unwrap();
        assert_eq!(e.param(), "connection_config");
        assert_eq!(e.kind(), &ValidationErrorKind::NotAnObject { found });
        assert_eq!(
            err.to_string(),
            format!("connection_config: expected a JSON object of params, got {found}")
        );
    }
    let err = personio::Credentials::from_json(&json!([CLIENT_ID])).unwrap_err();
    let e = err.iter().next().unwrap();
    assert_eq!(e.param(), "credentials");
    assert_eq!(e.section(), Section::Credentials);
    assert_eq!(
        e.kind(),
        &ValidationErrorKind::NotAnObject { found: "an array" }
    );
    assert!(!err.to_string().contains(CLIENT_ID));
}

#[test]
fn every_problem_is_reported_at_once() {
    let err = personio_recruiting::ConnectionConfig::from_json(&json!({
        "companyId": 33434,
        "company": "evil.com/",
        "partnerId": "my_app",
        "appId": "ACME-CORP",
        "companyID": "33434",
    }))
    .unwrap_err();
    assert_eq!(err.len(), 5);
    assert!(!err.is_empty());
    assert_eq!(
        params(&err),
        ["companyId", "company", "partnerId", "appId", "companyID"]
    );
    let kinds: Vec<&ValidationErrorKind> = err.iter().map(|e| e.kind()).collect();
    assert_eq!(
        kinds,
        [
            &ValidationErrorKind::NotAString { found: "a number" },
            &ValidationErrorKind::Pattern {
                pattern: "^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$".to_owned(),
                value: Some("evil.com/".to_owned())
            },
            &ValidationErrorKind::UpperSnakeCase {
                value: Some("my_app".to_owned())
            },
            &ValidationErrorKind::UpperSnakeCase {
                value: Some("ACME-CORP".to_owned())
            },
            &ValidationErrorKind::UnknownParam {
                suggestion: Some("companyId".to_owned())
            },
        ]
    );
    let msg = err.to_string();
    assert!(msg.starts_with("5 problems:\n- "), "{msg}");
    assert_eq!(msg.lines().count(), 6, "{msg}");

    // Both required params missing, an optional one invalid: all three reported.
    let err = personio_recruiting::ConnectionConfig::from_json(&json!({"appId": "x"})).unwrap_err();
    assert_eq!(params(&err), ["companyId", "company", "appId"]);
    assert_eq!(err.len(), 3);

    // Connection config and credentials problems can be reported together.
    let config_err =
        personio_recruiting::ConnectionConfig::from_json(&json!({"company": "a.b"})).unwrap_err();
    let cred_err = personio_recruiting::Credentials::from_json(&json!({})).unwrap_err();
    let all = config_err.merge(cred_err);
    assert_eq!(params(&all), ["companyId", "company", "apiKey"]);
    let sections: Vec<Section> = all.iter().map(|e| e.section()).collect();
    assert_eq!(
        sections,
        [
            Section::ConnectionConfig,
            Section::ConnectionConfig,
            Section::Credentials
        ]
    );
}

/// `ValidationErrors` documents its order as "the provider's params in catalog order, then
/// unknown params sorted by key" (a JSON object's key order is not kept by `serde_json`
/// unless its `preserve_order` feature is on, which this crate does not force on its users).
#[test]
fn unknown_params_are_reported_after_declared_ones_sorted_by_key() {
    let err = personio_recruiting::ConnectionConfig::from_json(&json!({
        "companyId": "33434",
        "company": "company-b",
        "zeta": "1",
        "alpha": "2",
    }))
    .unwrap_err();
    assert_eq!(params(&err), ["alpha", "zeta"]);
    let err = personio_recruiting::ConnectionConfig::from_json(&json!({
        "zeta": "1", "company": "company-b", "partnerId": "x",
    }))
    .unwrap_err();
    assert_eq!(params(&err), ["companyId", "partnerId", "zeta"]);
}

// ---------------------------------------------------------------------------------------
// 5. Host-safe `company`
// ---------------------------------------------------------------------------------------

fn bad_companies() -> Vec<String> {
    let mut v: Vec<String> = [
        "evil.com/",
        "evil.com#",
        "evil.com?",
        "x@evil.com#",
        "a\\evil.com",
        "a.b",
        "-a",
        "a-",
        "a:1",
        "a b",
        "exаmple", // Cyrillic "а"
        "ａ",      // full-width "a", which IDNA would map to ASCII
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.push("a".repeat(64));
    v
}

#[test]
fn company_must_be_one_dns_label() {
    for bad in bad_companies() {
        let err = personio_recruiting::ConnectionConfig::from_json(
            &json!({"companyId": "33434", "company": bad}),
        )
        .unwrap_err();
        assert_eq!(params(&err), ["company"], "{bad:?}: {err}");
        assert_eq!(
            err.iter().next().unwrap().kind(),
            &ValidationErrorKind::Pattern {
                pattern: "^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$".to_owned(),
                value: Some(bad.clone())
            }
        );
    }
    let err = personio_recruiting::ConnectionConfig::from_json(
        &json!({"companyId": "33434", "company": ""}),
    )
    .unwrap_err();
    assert_eq!(params(&err), ["company"]);
    assert_eq!(
        err.iter().next().unwrap().kind(),
        &ValidationErrorKind::Empty
    );
}

#[test]
fn verification_url_for_a_valid_company() {
    let config = personio_recruiting::ConnectionConfig::from_json(&recruiting_base()).unwrap();
    let url = personio_recruiting::Marker::url(
        terapi_runtime::spec::UrlKind::VerificationBaseUrl,
        &config,
    )
    .unwrap();
    assert_eq!(url.as_str(), "https://company-b.jobs.personio.de/");
    assert_eq!(url.host_str(), Some("company-b.jobs.personio.de"));
    assert_eq!(url.scheme(), "https");

    for (company, expected) in [
        ("Company-B", "https://company-b.jobs.personio.de/"),
        ("a", "https://a.jobs.personio.de/"),
        ("123", "https://123.jobs.personio.de/"),
    ] {
        let config = personio_recruiting::ConnectionConfig::from_json(
            &json!({"companyId": "1", "company": company}),
        )
        .unwrap();
        assert_eq!(
            personio_recruiting::Marker::url(
                terapi_runtime::spec::UrlKind::VerificationBaseUrl,
                &config
            )
            .unwrap()
            .as_str(),
            expected
        );
    }
    let label_63 = "a".repeat(63);
    let config = personio_recruiting::ConnectionConfig::from_json(
        &json!({"companyId": "1", "company": label_63}),
    )
    .unwrap();
    assert_eq!(
        personio_recruiting::Marker::url(
            terapi_runtime::spec::UrlKind::VerificationBaseUrl,
            &config
        )
        .unwrap()
        .as_str(),
        format!("https://{label_63}.jobs.personio.de/")
    );
}

#[test]
fn verification_url_rejects_bad_company_at_render_time() {
    let mut bad = bad_companies();
    bad.push(String::new());
    for company in bad {
        let config = recruiting_config_literal(&company);
        let result = personio_recruiting::Marker::url(
            terapi_runtime::spec::UrlKind::VerificationBaseUrl,
            &config,
        );
        let err = match result {
            Ok(url) => panic!("{company:?} rendered to {url} (host {:?})", url.host_str()),
            Err(err) => err,
        };
        match &err {
            RenderError::InvalidValue { param, value, .. } => {
                assert_eq!(*param, "connectionConfig.company");
                assert_eq!(value.as_deref(), Some(company.as_str()));
            }
            other => panic!("{company:?}: unexpected error {other:?}"),
        }
        assert!(
            err.to_string().contains("connectionConfig.company"),
            "{err}"
        );
    }
}

#[test]
fn base_url_of_recruiting_ignores_company() {
    let config = recruiting_config_literal("evil.com/");
    assert_eq!(
        personio_recruiting::Marker::base_url(&config)
            .unwrap()
            .as_str(),
        "https://api.personio.de/v1"
    );
}

// ---------------------------------------------------------------------------------------
// 6. Secret redaction
// ---------------------------------------------------------------------------------------

#[test]
fn credentials_debug_never_shows_secrets() {
    let recruiting = recruiting_credentials();
    for text in [format!("{recruiting:?}"), format!("{recruiting:#?}")] {
        assert!(!text.contains(API_KEY), "{text}");
        assert!(!text.contains("papi"), "{text}");
    }
    assert_eq!(
        format!("{recruiting:?}"),
        "Credentials { api_key: Secret(\"***\") }"
    );
    assert_eq!(recruiting.api_key.to_string(), "***");

    let v1 = personio_credentials();
    let v2 = personio_v2_credentials();
    for text in [
        format!("{v1:?}"),
        format!("{v1:#?}"),
        format!("{v2:?}"),
        format!("{v2:#?}"),
    ] {
        assert!(!text.contains(CLIENT_ID), "{text}");
        assert!(!text.contains(CLIENT_SECRET), "{text}");
        assert!(!text.contains("super-private"), "{text}");
    }
    assert_eq!(
        format!("{v1:?}"),
        "Credentials { client_id: Secret(\"***\"), client_secret: Secret(\"***\") }"
    );
    assert_eq!(format!("{v2:?}"), format!("{v1:?}"));
    assert_eq!(v1.client_id.expose(), CLIENT_ID);
    assert_eq!(v1.client_secret.expose(), CLIENT_SECRET);
    assert_eq!(v2.client_id.expose(), CLIENT_ID);
    assert_eq!(v2.client_secret.expose(), CLIENT_SECRET);
}

#[test]
fn credentials_params_are_marked_secret() {
    let keys: Vec<(&str, bool, bool)> = personio::Credentials::params()
        .iter()
        .map(|p| (&*p.key, p.secret, p.optional))
        .collect();
    assert_eq!(
        keys,
        [("client_id", true, false), ("client_secret", true, false)]
    );
    let keys: Vec<(&str, bool)> = personio_v2::Credentials::params()
        .iter()
        .map(|p| (&*p.key, p.secret))
        .collect();
    assert_eq!(keys, [("client_id", true), ("client_secret", true)]);
    let keys: Vec<(&str, bool)> = personio_recruiting::Credentials::params()
        .iter()
        .map(|p| (&*p.key, p.secret))
        .collect();
    assert_eq!(keys, [("apiKey", true)]);
}

#[test]
fn secrets_never_appear_in_validation_errors() {
    let err = personio::Credentials::from_json(&json!({
        "client_id": CLIENT_ID,
        "client_secret": 4711,
        "client_secrte": CLIENT_SECRET,
    }))
    .unwrap_err();
    assert_eq!(params(&err), ["client_secret", "client_secrte"]);
    assert_eq!(
        err.iter().next().unwrap().kind(),
        &ValidationErrorKind::NotAString { found: "a number" }
    );
    for text in [err.to_string(), format!("{err:?}"), format!("{err:#?}")] {
        assert!(!text.contains(CLIENT_ID), "{text}");
        assert!(!text.contains(CLIENT_SECRET), "{text}");
        assert!(!text.contains("4711"), "{text}");
    }

    let err = personio_v2::Credentials::from_json(
        &json!({"client_id": "", "client_secret": CLIENT_SECRET, "extra": CLIENT_ID}),
    )
    .unwrap_err();
    assert_eq!(params(&err), ["client_id", "extra"]);
    let text = format!("{err} {err:?}");
    assert!(
        !text.contains(CLIENT_SECRET) && !text.contains(CLIENT_ID),
        "{text}"
    );
}

#[test]
fn secret_that_breaks_the_header_rule_is_never_shown() {
    let config = personio_recruiting::ConnectionConfig::from_json(&recruiting_base()).unwrap();
    let evil_key = format!("{API_KEY}\r\nX-Evil: 1");
    let credentials =
        personio_recruiting::Credentials::from_json(&json!({"apiKey": evil_key})).unwrap();
    let err = personio_recruiting::Marker::proxy_headers(&config, &credentials).unwrap_err();
    match &err {
        RenderError::InvalidValue { param, value, .. } => {
            assert_eq!(*param, "apiKey");
            assert_eq!(value, &None);
        }
        other => panic!("unexpected error {other:?}"),
    }
    for text in [err.to_string(), format!("{err:?}")] {
        assert!(!text.contains(API_KEY), "{text}");
        assert!(!text.contains("papi"), "{text}");
    }
    assert_eq!(
        err.to_string(),
        "template param `apiKey` cannot be placed in an HTTP header, which takes printable ASCII \
         only (no CR, LF, NUL or other control characters): the secret value (not shown) is not \
         allowed there"
    );
}

#[test]
fn recruiting_authorization_header_is_sensitive_and_redacted() {
    let config = personio_recruiting::ConnectionConfig::from_json(&recruiting_base()).unwrap();
    let credentials = recruiting_credentials();
    let headers = personio_recruiting::Marker::proxy_headers(&config, &credentials).unwrap();

    let auth = headers
        .iter()
        .find(|h| h.name() == "authorization")
        .expect("authorization header");
    assert_eq!(auth.value(), format!("Bearer {API_KEY}"));
    assert!(auth.is_sensitive());
    assert_eq!(
        headers.get("Authorization"),
        Some(format!("Bearer {API_KEY}").as_str())
    );

    let company = headers.iter().find(|h| h.name() == "x-company-id").unwrap();
    assert!(!company.is_sensitive());

    for text in [
        format!("{headers:?}"),
        format!("{headers:#?}"),
        format!("{auth:?}"),
    ] {
        assert!(!text.contains(API_KEY), "{text}");
        assert!(!text.contains("papi"), "{text}");
    }
    assert_eq!(
        format!("{auth:?}"),
        "Header { name: \"authorization\", value: \"***\" }"
    );
    // Non-secret headers stay readable in Debug.
    assert!(format!("{headers:?}").contains("33434"));
}

// ---------------------------------------------------------------------------------------
// 7. Omitted optional headers
// ---------------------------------------------------------------------------------------

fn assert_no_placeholder_or_empty(headers: &Headers) {
    for h in headers {
        assert!(!h.value().is_empty(), "{} is empty", h.name());
        assert!(!h.value().contains("${"), "{}: {}", h.name(), h.value());
        assert!(!h.value().contains("connectionConfig"), "{}", h.name());
    }
}

fn absent_inputs() -> [Value; 4] {
    [
        json!({}),
        json!({"partnerId": null, "appId": null}),
        json!({"partnerId": "", "appId": ""}),
        json!({"partnerId": null, "appId": ""}),
    ]
}

#[test]
fn personio_v1_headers_omit_absent_ids() {
    let credentials = personio_credentials();
    for input in absent_inputs() {
        let config = personio::ConnectionConfig::from_json(&input).unwrap();
        let headers = personio::Marker::proxy_headers(&config, &credentials).unwrap();
        assert!(headers.is_empty(), "{input}: {headers:?}");
        assert_eq!(headers.len(), 0);
        assert_eq!(headers.get("x-personio-partner-id"), None);
        assert_eq!(headers.get("x-personio-app-id"), None);
    }

    let config = personio::ConnectionConfig::from_json(
        &json!({"partnerId": "ACME", "appId": "MY_APPLICATION"}),
    )
    .unwrap();
    let headers = personio::Marker::proxy_headers(&config, &credentials).unwrap();
    assert_eq!(
        header_names(&headers),
        ["x-personio-partner-id", "x-personio-app-id"]
    );
    assert_eq!(headers.get("x-personio-partner-id"), Some("ACME"));
    assert_eq!(headers.get("X-Personio-Partner-ID"), Some("ACME"));
    assert_eq!(headers.get("x-personio-app-id"), Some("MY_APPLICATION"));
    assert_eq!(headers.get("X-Personio-App-ID"), Some("MY_APPLICATION"));
    assert!(headers.iter().all(|h| !h.is_sensitive()));
    assert_no_placeholder_or_empty(&headers);

    // Only one of them set: only that header.
    let config =
        personio::ConnectionConfig::from_json(&json!({"appId": "MY_APP", "partnerId": ""}))
            .unwrap();
    let headers = personio::Marker::proxy_headers(&config, &credentials).unwrap();
    assert_eq!(header_names(&headers), ["x-personio-app-id"]);
    assert_eq!(headers.get("x-personio-app-id"), Some("MY_APP"));
    assert_eq!(headers.get("x-personio-partner-id"), None);
}

#[test]
fn personio_v2_headers_omit_absent_ids_and_have_no_content_type() {
    let credentials = personio_v2_credentials();
    for input in absent_inputs() {
        let config = personio_v2::ConnectionConfig::from_json(&input).unwrap();
        let headers = personio_v2::Marker::proxy_headers(&config, &credentials).unwrap();
        assert!(headers.is_empty(), "{input}: {headers:?}");
        assert_eq!(headers.get("content-type"), None);
    }

    let config = personio_v2::ConnectionConfig::from_json(
        &json!({"partnerId": "ACME2", "appId": "MY_APP_V2"}),
    )
    .unwrap();
    let headers = personio_v2::Marker::proxy_headers(&config, &credentials).unwrap();
    assert_eq!(
        header_names(&headers),
        ["x-personio-partner-id", "x-personio-app-id"]
    );
    assert_eq!(headers.get("x-personio-partner-id"), Some("ACME2"));
    assert_eq!(headers.get("x-personio-app-id"), Some("MY_APP_V2"));
    assert_eq!(headers.get("content-type"), None);
    assert_eq!(headers.get("Content-Type"), None);
    assert_no_placeholder_or_empty(&headers);

    let config = personio_v2::ConnectionConfig::from_json(&json!({"partnerId": "ACME"})).unwrap();
    let headers = personio_v2::Marker::proxy_headers(&config, &credentials).unwrap();
    assert_eq!(header_names(&headers), ["x-personio-partner-id"]);
}

#[test]
fn recruiting_headers_omit_absent_ids_and_always_send_company_id() {
    let credentials = recruiting_credentials();
    for input in absent_inputs() {
        let config = personio_recruiting::ConnectionConfig::from_json(&with(
            recruiting_base(),
            input.clone(),
        ))
        .unwrap();
        let headers = personio_recruiting::Marker::proxy_headers(&config, &credentials).unwrap();
        assert_eq!(
            header_names(&headers),
            ["authorization", "x-company-id"],
            "{input}"
        );
        assert_eq!(headers.get("x-company-id"), Some("33434"));
        assert_eq!(headers.get("x-personio-partner-id"), None);
        assert_eq!(headers.get("x-personio-app-id"), None);
        assert_no_placeholder_or_empty(&headers);
    }

    let config = personio_recruiting::ConnectionConfig::from_json(&with(
        recruiting_base(),
        json!({"partnerId": "ACME", "appId": "MY_APPLICATION"}),
    ))
    .unwrap();
    let headers = personio_recruiting::Marker::proxy_headers(&config, &credentials).unwrap();
    assert_eq!(
        header_names(&headers),
        [
            "authorization",
            "x-company-id",
            "x-personio-partner-id",
            "x-personio-app-id"
        ]
    );
    let pairs: Vec<(&str, &str, bool)> = headers
        .iter()
        .map(|h| (h.name(), h.value(), h.is_sensitive()))
        .collect();
    assert_eq!(
        pairs,
        [
            ("authorization", format!("Bearer {API_KEY}").as_str(), true),
            ("x-company-id", "33434", false),
            ("x-personio-partner-id", "ACME", false),
            ("x-personio-app-id", "MY_APPLICATION", false),
        ]
    );
    assert_no_placeholder_or_empty(&headers);
}

#[test]
fn omitted_headers_also_for_struct_literals_with_none() {
    let config = personio::ConnectionConfig {
        partner_id: None,
        app_id: Some("MY_APP".to_owned()),
    };
    let headers = personio::Marker::proxy_headers(&config, &personio_credentials()).unwrap();
    assert_eq!(header_names(&headers), ["x-personio-app-id"]);
}

// ---------------------------------------------------------------------------------------
// 8. Header injection through struct literals
// ---------------------------------------------------------------------------------------

fn assert_header_injection_rejected(err: &RenderError, expected_param: &str, value: &str) {
    match err {
        RenderError::InvalidValue {
            param, value: v, ..
        } => {
            assert_eq!(*param, expected_param);
            assert_eq!(v.as_deref(), Some(value));
        }
        other => panic!("unexpected error {other:?}"),
    }
    let msg = err.to_string();
    assert!(msg.contains("HTTP header"), "{msg}");
    assert!(!msg.contains('\r') && !msg.contains('\n'), "{msg:?}");
    for secret in [API_KEY, CLIENT_ID, CLIENT_SECRET] {
        assert!(!msg.contains(secret), "{msg}");
        assert!(!format!("{err:?}").contains(secret));
    }
}

#[test]
fn crlf_in_recruiting_headers_is_rejected() {
    let credentials = recruiting_credentials();
    let evil = "A\r\nX-Evil: 1";
    let config = personio_recruiting::ConnectionConfig {
        app_id: Some(evil.to_owned()),
        ..recruiting_config_literal("company-b")
    };
    let err = personio_recruiting::Marker::proxy_headers(&config, &credentials).unwrap_err();
    assert_header_injection_rejected(&err, "connectionConfig.appId", evil);

    let config = personio_recruiting::ConnectionConfig {
        partner_id: Some(evil.to_owned()),
        ..recruiting_config_literal("company-b")
    };
    let err = personio_recruiting::Marker::proxy_headers(&config, &credentials).unwrap_err();
    assert_header_injection_rejected(&err, "connectionConfig.partnerId", evil);

    let config = personio_recruiting::ConnectionConfig {
        company_id: "33434\r\nX-Evil: 1".to_owned(),
        ..recruiting_config_literal("company-b")
    };
    let err = personio_recruiting::Marker::proxy_headers(&config, &credentials).unwrap_err();
    assert_header_injection_rejected(&err, "connectionConfig.companyId", "33434\r\nX-Evil: 1");

    for other in ["A\n", "A\r", "A\0", "MY_ÄPP", "A\u{7f}"] {
        let config = personio_recruiting::ConnectionConfig {
            app_id: Some(other.to_owned()),
            ..recruiting_config_literal("company-b")
        };
        let err = personio_recruiting::Marker::proxy_headers(&config, &credentials).unwrap_err();
        assert_header_injection_rejected(&err, "connectionConfig.appId", other);
    }
}

#[test]
fn crlf_in_personio_v1_and_v2_headers_is_rejected() {
    let evil = "A\r\nX-Evil: 1";
    let config = personio::ConnectionConfig {
        partner_id: Some("ACME".to_owned()),
        app_id: Some(evil.to_owned()),
    };
    let err = personio::Marker::proxy_headers(&config, &personio_credentials()).unwrap_err();
    assert_header_injection_rejected(&err, "connectionConfig.appId", evil);

    let config = personio_v2::ConnectionConfig {
        partner_id: Some(evil.to_owned()),
        app_id: None,
    };
    let err = personio_v2::Marker::proxy_headers(&config, &personio_v2_credentials()).unwrap_err();
    assert_header_injection_rejected(&err, "connectionConfig.partnerId", evil);
}

// ---------------------------------------------------------------------------------------
// 9. serde
// ---------------------------------------------------------------------------------------

#[test]
fn serde_deserialize_runs_the_same_validation() {
    let config: personio_recruiting::ConnectionConfig = serde_json::from_value(json!({
        "companyId": "33434", "company": "company-b", "partnerId": "ACME", "appId": ""
    }))
    .unwrap();
    assert_eq!(config.company_id, "33434");
    assert_eq!(config.partner_id.as_deref(), Some("ACME"));
    assert_eq!(config.app_id, None);

    let err = serde_json::from_value::<personio_recruiting::ConnectionConfig>(json!({
        "companyId": "33434", "company": "company-b", "partnerId": "my_app"
    }))
    .unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("partnerId"), "{msg}");
    assert!(msg.contains("my_app"), "{msg}");
    assert!(msg.contains("UPPER_SNAKE_CASE"), "{msg}");

    let err = serde_json::from_value::<personio_recruiting::ConnectionConfig>(json!({
        "companyId": "33434", "company": "evil.com/"
    }))
    .unwrap_err();
    assert!(err.to_string().contains("`company`"), "{err}");

    let err = serde_json::from_str::<personio_recruiting::ConnectionConfig>(
        r#"{"company": "company-b", "companyID": "1"}"#,
    )
    .unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("companyId"), "{msg}");
    assert!(msg.contains("did you mean `companyId`"), "{msg}");

    let config: personio_v2::ConnectionConfig =
        serde_json::from_str(r#"{"partnerId": null, "appId": "MY_APPLICATION"}"#).unwrap();
    assert_eq!(config.partner_id, None);
    assert_eq!(config.app_id.as_deref(), Some("MY_APPLICATION"));
    assert!(serde_json::from_str::<personio::ConnectionConfig>(r#"{"appId": "x"}"#).is_err());
}

#[test]
fn serde_serialize_uses_catalog_keys_and_omits_absent_optionals() {
    let config = personio_recruiting::ConnectionConfig::from_json(&json!({
        "companyId": "33434", "company": "company-b", "partnerId": "ACME", "appId": "MY_APPLICATION"
    }))
    .unwrap();
    assert_eq!(
        serde_json::to_value(&config).unwrap(),
        json!({"companyId": "33434", "company": "company-b", "partnerId": "ACME", "appId": "MY_APPLICATION"})
    );

    let config = personio_recruiting::ConnectionConfig::from_json(&json!({
        "companyId": "33434", "company": "company-b", "partnerId": "", "appId": null
    }))
    .unwrap();
    let value = serde_json::to_value(&config).unwrap();
    assert_eq!(value, json!({"companyId": "33434", "company": "company-b"}));
    let Value::Object(map) = &value else {
        panic!("object expected")
    };
    assert!(!map.contains_key("partnerId"));
    assert!(!map.contains_key("appId"));
    assert!(!map.contains_key("company_id"));

    // Round trip.
    let back: personio_recruiting::ConnectionConfig = serde_json::from_value(value).unwrap();
    assert_eq!(back, config);

    let config = personio::ConnectionConfig {
        partner_id: None,
        app_id: Some("MY_APP".to_owned()),
    };
    assert_eq!(
        serde_json::to_value(&config).unwrap(),
        json!({"appId": "MY_APP"})
    );
    assert_eq!(
        serde_json::to_value(personio_v2::ConnectionConfig {
            partner_id: None,
            app_id: None
        })
        .unwrap(),
        json!({})
    );
}

#[test]
fn serde_deserializes_credentials_with_the_same_checks() {
    let credentials: personio_recruiting::Credentials =
        serde_json::from_value(json!({"apiKey": API_KEY})).unwrap();
    assert_eq!(credentials.api_key.expose(), API_KEY);
    assert_eq!(credentials, recruiting_credentials());

    let credentials: personio_v2::Credentials = serde_json::from_str(&format!(
        r#"{{"client_id": "{CLIENT_ID}", "client_secret": "{CLIENT_SECRET}"}}"#
    ))
    .unwrap();
    assert_eq!(credentials.client_id.expose(), CLIENT_ID);
    assert_eq!(credentials.client_secret.expose(), CLIENT_SECRET);
    let credentials: personio::Credentials =
        serde_json::from_value(json!({"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}))
            .unwrap();
    assert_eq!(credentials, personio_credentials());

    let err = serde_json::from_value::<personio_recruiting::Credentials>(json!({"apiKey": ""}))
        .unwrap_err();
    assert!(err.to_string().contains("apiKey"), "{err}");
    assert!(err.to_string().contains("empty"), "{err}");

    let err = serde_json::from_value::<personio::Credentials>(
        json!({"client_id": CLIENT_ID, "client_secret": 1, "clientSecret": CLIENT_SECRET}),
    )
    .unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("client_secret"), "{msg}");
    assert!(
        !msg.contains(CLIENT_ID) && !msg.contains(CLIENT_SECRET),
        "{msg}"
    );
}

// ---------------------------------------------------------------------------------------
// 10. Constants and rendered URLs
// ---------------------------------------------------------------------------------------

#[test]
fn personio_v1_constants_and_urls() {
    assert_eq!(personio::Marker::key(), "personio");
    assert_eq!(Provider::Personio, Provider::Personio);
    assert_eq!(Provider::Personio.as_str(), personio::Marker::key());
    assert_eq!(personio::Marker::spec().auth_mode, AuthMode::OAuth2Cc);
    assert_eq!(&*personio::Marker::spec().display_name, "Personio (v1)");
    assert_eq!(
        personio::Marker::spec().docs_url.as_deref(),
        Provider::Personio.docs_url()
    );
    assert_eq!(
        &*personio::Marker::spec().token_url.as_ref().unwrap().source,
        "https://api.personio.de/v1/auth"
    );
    assert_eq!(
        &*personio::Marker::spec().base_url.as_ref().unwrap().source,
        "https://api.personio.de/v1"
    );

    let config = personio::ConnectionConfig::from_json(&json!({})).unwrap();
    let base = personio::Marker::base_url(&config).unwrap();
    assert_eq!(base.as_str(), "https://api.personio.de/v1");
    assert_eq!(base.host_str(), Some("api.personio.de"));
    let token = personio::Marker::url(terapi_runtime::spec::UrlKind::TokenUrl, &config).unwrap();
    assert_eq!(token.as_str(), "https://api.personio.de/v1/auth");
    assert_eq!(token.scheme(), "https");
    assert_eq!(token.path(), "/v1/auth");
    // No credential ever ends up in the token URL.
    assert_eq!(token.query(), None);
}

#[test]
fn personio_v2_constants_and_urls() {
    assert_eq!(personio_v2::Marker::key(), "personio-v2");
    assert_eq!(Provider::PersonioV2, Provider::PersonioV2);
    assert_eq!(personio_v2::Marker::spec().auth_mode, AuthMode::OAuth2Cc);
    assert_eq!(&*personio_v2::Marker::spec().display_name, "Personio (v2)");
    assert_eq!(
        personio_v2::Marker::spec().docs_url.as_deref(),
        Provider::PersonioV2.docs_url()
    );
    assert_eq!(
        &*personio_v2::Marker::spec()
            .token_url
            .as_ref()
            .unwrap()
            .source,
        "https://api.personio.de/v2/auth/token"
    );
    assert_eq!(
        &*personio_v2::Marker::spec()
            .base_url
            .as_ref()
            .unwrap()
            .source,
        "https://api.personio.de/v2"
    );

    let config = personio_v2::ConnectionConfig::from_json(&json!({"appId": "MY_APP"})).unwrap();
    assert_eq!(
        personio_v2::Marker::base_url(&config).unwrap().as_str(),
        "https://api.personio.de/v2"
    );
    let token = personio_v2::Marker::url(terapi_runtime::spec::UrlKind::TokenUrl, &config).unwrap();
    assert_eq!(token.as_str(), "https://api.personio.de/v2/auth/token");
    assert_eq!(token.query(), None);
}

#[test]
fn personio_recruiting_constants_and_urls() {
    assert_eq!(personio_recruiting::Marker::key(), "personio-recruiting");
    assert_eq!(Provider::PersonioRecruiting, Provider::PersonioRecruiting);
    assert_eq!(
        personio_recruiting::Marker::spec().auth_mode,
        AuthMode::ApiKey
    );
    assert_eq!(
        &*personio_recruiting::Marker::spec().display_name,
        "Personio Recruiting"
    );
    assert_eq!(
        personio_recruiting::Marker::spec().docs_url.as_deref(),
        Provider::PersonioRecruiting.docs_url()
    );
    assert_eq!(
        &*personio_recruiting::Marker::spec()
            .base_url
            .as_ref()
            .unwrap()
            .source,
        "https://api.personio.de/v1"
    );
    assert_eq!(
        &*personio_recruiting::Marker::spec()
            .verification_base_url
            .as_ref()
            .unwrap()
            .source,
        "https://${connectionConfig.company}.jobs.personio.de"
    );
    let config = personio_recruiting::ConnectionConfig::from_json(&recruiting_base()).unwrap();
    assert_eq!(
        personio_recruiting::Marker::base_url(&config)
            .unwrap()
            .as_str(),
        "https://api.personio.de/v1"
    );
}

#[test]
fn module_constants_agree_with_provider_methods() {
    for (provider, key, auth, name, docs) in [
        (
            Provider::Personio,
            personio::Marker::key(),
            personio::Marker::spec().auth_mode,
            &*personio::Marker::spec().display_name,
            personio::Marker::spec().docs_url.as_deref(),
        ),
        (
            Provider::PersonioV2,
            personio_v2::Marker::key(),
            personio_v2::Marker::spec().auth_mode,
            &*personio_v2::Marker::spec().display_name,
            personio_v2::Marker::spec().docs_url.as_deref(),
        ),
        (
            Provider::PersonioRecruiting,
            personio_recruiting::Marker::key(),
            personio_recruiting::Marker::spec().auth_mode,
            &*personio_recruiting::Marker::spec().display_name,
            personio_recruiting::Marker::spec().docs_url.as_deref(),
        ),
    ] {
        assert_eq!(provider.as_str(), key);
        assert_eq!(key.parse::<Provider>(), Ok(provider));
        assert_eq!(provider.auth_mode(), auth);
        assert_eq!(provider.display_name(), name);
        assert_eq!(provider.docs_url(), docs);
    }
}

#[test]
fn connection_config_params_match_the_catalog() {
    let specs: Vec<(&str, bool, bool)> = personio_recruiting::ConnectionConfig::params()
        .iter()
        .map(|p| (&*p.key, p.optional, p.secret))
        .collect();
    assert_eq!(
        specs,
        [
            ("companyId", false, false),
            ("company", false, false),
            ("partnerId", true, false),
            ("appId", true, false),
        ]
    );
    for params in [
        personio::ConnectionConfig::params(),
        personio_v2::ConnectionConfig::params(),
    ] {
        let specs: Vec<(&str, bool, bool)> = params
            .iter()
            .map(|p| (&*p.key, p.optional, p.secret))
            .collect();
        assert_eq!(specs, [("partnerId", true, false), ("appId", true, false)]);
    }
}
