//! What the generator emits for the runtime's HTTP client: the `CLIENT_SPEC` of each provider
//! (token request, pagination, retry headers, verification), a `Connection` only for the
//! providers the client can serve as the catalog describes them, and the reason otherwise.

use std::path::Path;

use terapi_codegen::{Options, generate};

/// The generated code without any whitespace or trailing commas, so that assertions do not
/// depend on how prettyplease breaks lines.
fn code(catalog: &str, options: &Options) -> String {
    squash(
        &generate(Path::new("providers.yaml"), catalog, options)
            .unwrap_or_else(|e| panic!("{e}"))
            .code,
    )
}

fn squash(text: &str) -> String {
    let text: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    text.replace(",)", ")")
        .replace(",]", "]")
        .replace(",}", "}")
}

/// The text of one item from `start` to the first `end` after it (both compared without
/// whitespace).
fn item(code: &str, start: &str, end: &str) -> String {
    let (start, end) = (squash(start), squash(end));
    let from = code
        .find(&start)
        .unwrap_or_else(|| panic!("no `{start}` in:\n{code}"));
    let rest = &code[from..];
    let to = rest.find(&end).map_or(rest.len(), |i| i + end.len());
    rest[..to].to_owned()
}

fn assert_has(haystack: &str, needle: &str) {
    assert!(
        haystack.contains(squash(needle).trim_end_matches(',')),
        "missing `{needle}` in {haystack}"
    );
}

const CATALOG: &str = r#"
hr-cc:
    display_name: HR
    auth_mode: OAUTH2_CC
    docs: https://hr.example/docs
    token_url: https://auth.hr.example/oauth/token
    body_format: json
    token_request_auth_method: basic
    token_params:
        grant_type: client_credentials
        audience: ${connectionConfig.audience}
        max_age: 3600
    proxy:
        base_url: https://api.hr.example/v3
        retry:
            at: x-ratelimit-reset
            after:
                - x-retry-in
            remaining: x-ratelimit-remaining
            error_code:
                - '429'
                - 5xx
        paginate:
            type: cursor
            cursor_path_in_response: meta.next
            cursor_name_in_request: after
            limit_name_in_request: per_page
            response_path: items
        verification:
            method: POST
            endpoints:
                - /me
            data:
                probe: true
    connection_config:
        audience:
            type: string
            title: Audience
            description: The API audience.
    credentials:
        client_id:
            type: string
            title: Client ID
            description: The client id.
            secret: true
        client_secret:
            type: string
            title: Client Secret
            description: The client secret.
            secret: true
jwt-only:
    display_name: JWT
    auth_mode: JWT
    docs: https://jwt.example/docs
    proxy:
        base_url: https://api.jwt.example
keyed:
    display_name: Keyed
    auth_mode: API_KEY
    docs: https://keyed.example/docs
    proxy:
        base_url: https://api.keyed.example
        query:
            api_key: ${apiKey}
    credentials:
        apiKey:
            type: string
            title: API Key
            description: The key.
            secret: true
user-pass:
    display_name: UserPass
    auth_mode: BASIC
    docs: https://up.example/docs
    proxy:
        base_url: https://api.up.example
    credentials:
        username:
            type: string
            title: User
            description: The user.
        password:
            type: string
            title: Password
            description: The password.
            secret: true
            optional: true
"#;

#[test]
fn client_spec_carries_the_token_request_pagination_retry_and_verification() {
    let code = code(CATALOG, &Options::default());
    let spec = item(
        &code,
        "pub static CLIENT_SPEC: ::terapi_runtime::client::ClientSpec = ::terapi_runtime::client::ClientSpec { key: ::std::borrow::Cow::Borrowed(\"hr-cc\")",
        "};",
    );
    for want in [
        "auth_mode: ::terapi_runtime::AuthMode::OAuth2Cc",
        "body_format: ::terapi_runtime::client::BodyFormat::Json",
        "token_auth: ::terapi_runtime::client::TokenAuth::Basic",
        "kind: ::terapi_runtime::paginate::PageKind::Cursor",
        "limit_name: ::core::option::Option::Some(::std::borrow::Cow::Borrowed(\"per_page\"))",
        "response_path: ::core::option::Option::Some(::std::borrow::Cow::Borrowed(\"items\"))",
        "cursor_path: ::core::option::Option::Some(::std::borrow::Cow::Borrowed(\"meta.next\"))",
        "cursor_name: ::core::option::Option::Some(::std::borrow::Cow::Borrowed(\"after\"))",
        "at: ::std::borrow::Cow::Borrowed(&[::std::borrow::Cow::Borrowed(\"x-ratelimit-reset\")])",
        "after: ::std::borrow::Cow::Borrowed(&[::std::borrow::Cow::Borrowed(\"x-retry-in\")])",
        "remaining: ::core::option::Option::Some(::std::borrow::Cow::Borrowed(\"x-ratelimit-remaining\"))",
        "error_code: ::core::option::Option::Some(::std::borrow::Cow::Borrowed(&[::std::borrow::Cow::Borrowed(\"429\"), ::std::borrow::Cow::Borrowed(\"5xx\")]))",
        "method: ::std::borrow::Cow::Borrowed(\"POST\")",
        "endpoints: ::std::borrow::Cow::Borrowed(&[::std::borrow::Cow::Borrowed(\"/me\")])",
        "body: ::core::option::Option::Some(::std::borrow::Cow::Borrowed(\"{\\\"probe\\\":true}\"))",
        "query_has_secret: false",
    ] {
        assert_has(&spec, want);
    }
    // Token params are compiled templates: a literal, a config value, a number as text.
    let params = item(
        &code,
        "pub fn token_params_with(",
        "::core::result::Result::Ok(out) }",
    );
    assert_has(&params, "\"grant_type\"");
    assert_has(&params, "config.audience.as_str()");
    assert_has(&params, "Lit(\"3600\")");
    assert_has(
        &code,
        "fn client_credentials(&self,) -> ::core::option::Option<(&::core::primitive::str, &::core::primitive::str)> { ::core::option::Option::Some((self.credentials.client_id.expose(), self.credentials.client_secret.expose(),)) }",
    );
}

#[test]
fn providers_the_client_cannot_serve_get_a_reason_instead_of_a_connection() {
    let code = code(CATALOG, &Options::default());
    let jwt = item(&code, "pub mod jwt_only {", "pub mod keyed {");
    assert!(!jwt.contains("pubstructConnection("), "{jwt}");
    assert_has(
        &jwt,
        "pub const CLIENT_UNSUPPORTED: &::core::primitive::str = \"the client implements API_KEY, BASIC, NONE and OAUTH2_CC; JWT is not implemented\";",
    );
    // The crate-level connection validates first, then reports the same reason.
    let root = item(&code, "Provider::JwtOnly => {", "}}");
    assert_has(&root, "validated(");
    assert_has(&root, "Error::Unsupported");
}

#[test]
fn secrets_in_query_and_basic_credentials_are_marked_for_the_runtime() {
    let code = code(CATALOG, &Options::default());
    let keyed = item(&code, "pub mod keyed {", "pub mod user_pass {");
    assert_has(&keyed, "query_has_secret: true");
    assert_has(&keyed, "fn query(&self");
    let basic = item(&code, "pub mod user_pass {", "pub struct Connection(");
    // Every credential is a secret unless it says `secret: false`: the username too.
    assert_has(
        &basic,
        "::core::option::Option::Some((self.credentials.username.expose(), self.credentials.password.as_ref().map(::terapi_runtime::Secret::expose),))",
    );
    assert_has(
        &basic,
        "[::core::option::Option::Some(self.credentials.username.expose()), self.credentials.password.as_ref().map(::terapi_runtime::Secret::expose),].into_iter().flatten().collect()",
    );
}

#[test]
fn client_items_can_be_left_out() {
    let options = Options {
        client: false,
        ..Options::default()
    };
    let code = code(CATALOG, &options);
    assert!(!code.contains("::terapi_runtime::client::"), "{code}");
    assert!(!code.contains("CLIENT_UNSUPPORTED"));
    assert_has(&code, "pub fn from_json(");
}

#[test]
fn client_spec_is_deterministic() {
    let a = code(CATALOG, &Options::default());
    let b = code(CATALOG, &Options::default());
    assert_eq!(a, b);
}

#[test]
fn oauth_client_credentials_are_implied_and_default_scopes_sent() {
    let catalog = r#"
cc-undeclared:
    display_name: CC
    auth_mode: OAUTH2_CC
    docs: https://cc.example/docs
    token_url: https://auth.cc.example/token
    default_scopes:
        - read
        - write
    scope_separator: ','
    proxy:
        base_url: https://api.cc.example
cc-headers:
    display_name: CC headers
    auth_mode: OAUTH2_CC
    docs: https://cc.example/docs
    token_url: https://auth.cc.example/token
    token_headers:
        x-tenant: acme
    proxy:
        base_url: https://api.cc.example
"#;
    let code = code(catalog, &Options::default());
    let undeclared = item(&code, "pub mod cc_undeclared {", "pub struct Connection(");
    // Every OAUTH2_CC connection has an OAuth client, declared in the catalog or not.
    assert_has(
        &undeclared,
        "key: ::std::borrow::Cow::Borrowed(\"client_id\"), optional: false, secret: true,",
    );
    assert_has(
        &undeclared,
        "key: ::std::borrow::Cow::Borrowed(\"client_secret\"), optional: false, secret: true,",
    );
    assert_has(&undeclared, "pub client_id: ::terapi_runtime::Secret,");
    assert_has(
        &undeclared,
        "default_scope: ::core::option::Option::Some(::std::borrow::Cow::Borrowed(\"read,write\"))",
    );
    // Token headers would be dropped: no connection rather than a wrong one.
    let headers = item(&code, "pub mod cc_headers {", "pub mod cc_undeclared {");
    assert!(!headers.contains("pubstructConnection("), "{headers}");
    assert_has(&headers, "\"`token_headers` are not implemented\"");
}

#[test]
fn a_credential_that_says_secret_false_is_a_plain_string() {
    let catalog = r#"
user-pass:
    display_name: UserPass
    auth_mode: BASIC
    docs: https://up.example/docs
    proxy:
        base_url: https://api.up.example
    credentials:
        username:
            type: string
            title: User
            description: The user.
            secret: false
        password:
            type: string
            title: Password
            description: The password.
"#;
    let code = code(catalog, &Options::default());
    let basic = item(&code, "pub mod user_pass {", "pub struct Connection(");
    assert_has(&basic, "pub username: ::std::string::String,");
    assert_has(&basic, "pub password: ::terapi_runtime::Secret,");
    assert_has(
        &basic,
        "::core::option::Option::Some((self.credentials.username.as_str(), ::core::option::Option::Some(self.credentials.password.expose()),))",
    );
    let secrets = item(&basic, "fn secrets(&self)", "}");
    assert!(!secrets.contains("username"), "{secrets}");
    assert!(
        secrets.contains("self.credentials.password.expose()"),
        "{secrets}"
    );
}
