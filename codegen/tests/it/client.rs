//! What the generator emits for the runtime's HTTP client. The client's settings (token
//! request, pagination, retry headers, verification) and the params and templates it
//! interprets live in each provider's description, checked here on the model that
//! `terapi_codegen::load` builds from the same catalog (the generated `SPEC` holds the same
//! model as JSON). The generated text is checked for what stays in it: the typed fields, the
//! index-to-field mapping of `SectionValues`, a `Connection` only for the providers the
//! client can serve as the catalog describes them, and the reason otherwise.

use std::path::Path;

use crate::common::{Entry, Param, catalog};
use terapi_codegen::{Loaded, Options, generate, load};
use terapi_runtime::paginate::PageKind;
use terapi_runtime::spec::{
    BodyFormat, ClientSpec, ClientSupport, NamedTemplate, ProviderSpec, TemplatePart, TokenAuth,
    Unsupported,
};
use terapi_runtime::{AuthMode, Section, Text};

/// The generated code without any whitespace or trailing commas, so that assertions do not
/// depend on how prettyplease breaks lines.
fn code(catalog: &str, options: &Options) -> String {
    squash(
        &generate(Path::new("providers.yaml"), catalog, options)
            .unwrap_or_else(|e| panic!("{e}"))
            .code,
    )
}

/// The model of the same catalog, as `load` builds it.
fn model(catalog: &str, options: &Options) -> Loaded {
    load(Path::new("providers.yaml"), catalog, options).unwrap_or_else(|e| panic!("{e}"))
}

fn provider<'a>(loaded: &'a Loaded, key: &str) -> &'a ProviderSpec {
    loaded
        .get(key)
        .unwrap_or_else(|| panic!("no provider `{key}` in the loaded model"))
}

/// The client settings of a provider the client can serve.
fn supported(spec: &ProviderSpec) -> &ClientSpec {
    match &spec.client {
        ClientSupport::Supported(client) => client,
        ClientSupport::Unsupported(reason) => {
            panic!("`{}` is unsupported: {reason}", spec.key)
        }
    }
}

/// Why the client cannot serve a provider.
fn unsupported(spec: &ProviderSpec) -> String {
    match &spec.client {
        ClientSupport::Unsupported(reason) => reason.to_string(),
        ClientSupport::Supported(_) => panic!("`{}` is supported", spec.key),
    }
}

/// The index of the credential `key`.
fn credential(spec: &ProviderSpec, key: &str) -> usize {
    spec.credentials
        .iter()
        .position(|p| p.key == key)
        .unwrap_or_else(|| panic!("no credential `{key}` in `{}`", spec.key))
}

/// The keys of the params of `section` that are secrets.
fn secret_keys(spec: &ProviderSpec, section: Section) -> Vec<&str> {
    spec.params(section)
        .iter()
        .filter(|p| p.secret)
        .map(|p| p.key.as_ref())
        .collect()
}

/// The template of the header, query or token param `name`.
fn named<'a>(list: &'a [NamedTemplate], name: &str) -> &'a NamedTemplate {
    list.iter()
        .find(|t| t.name == name)
        .unwrap_or_else(|| panic!("no `{name}` in {list:?}"))
}

/// The one part of a template that has one alternative of one part.
fn single_part(template: &NamedTemplate) -> &TemplatePart {
    match &*template.alternatives {
        [parts] => match &**parts {
            [part] => part,
            _ => panic!("not one part: {template:?}"),
        },
        _ => panic!("not one alternative: {template:?}"),
    }
}

/// Whether `part` is the whole value of the param `index` of `section`.
fn is_param(part: &TemplatePart, want_section: Section, want_index: usize) -> bool {
    matches!(
        part,
        TemplatePart::Param { section, index, .. } if *section == want_section && *index == want_index
    )
}

fn texts(list: &[Text]) -> Vec<&str> {
    list.iter().map(|t| t.as_ref()).collect()
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

/// The text of the provider module `name`: up to the next module, or the end.
fn module(code: &str, name: &str) -> String {
    let start = format!("pubmod{name}{{");
    let from = code
        .find(&start)
        .unwrap_or_else(|| panic!("no `{start}` in:\n{code}"));
    let rest = &code[from..];
    let to = rest[start.len()..]
        .find("pubmod")
        .map_or(rest.len(), |i| i + start.len());
    rest[..to].to_owned()
}

/// The `SectionValues` impl of a module's credentials: which field each index reads.
fn credential_values(module: &str) -> String {
    item(
        module,
        "impl ::terapi_runtime::Params for Credentials {",
        "_ => ::core::option::Option::None",
    )
}

fn assert_has(haystack: &str, needle: &str) {
    assert!(
        haystack.contains(squash(needle).trim_end_matches(',')),
        "missing `{needle}` in {haystack}"
    );
}

/// Four providers: an OAUTH2_CC entry with every client setting, a TBA entry the client
/// cannot serve, an API_KEY entry with its key in the query, and a BASIC entry.
const CATALOG: &str = include_str!("../fixtures/client.yaml");

#[test]
fn client_spec_carries_the_token_request_pagination_retry_and_verification() {
    let loaded = model(CATALOG, &Options::default());
    let spec = provider(&loaded, "hr-cc");
    let client = supported(spec);
    assert_eq!(client.key, "hr-cc");
    assert_eq!(client.auth_mode, AuthMode::OAuth2Cc);
    assert_eq!(client.body_format, BodyFormat::Json);
    assert_eq!(client.token_auth, TokenAuth::Basic);
    let paginate = client.paginate.as_ref().expect("proxy.paginate");
    assert_eq!(paginate.kind, PageKind::Cursor);
    assert_eq!(paginate.limit_name.as_deref(), Some("per_page"));
    assert_eq!(paginate.response_path.as_deref(), Some("items"));
    assert_eq!(paginate.cursor_path.as_deref(), Some("meta.next"));
    assert_eq!(paginate.cursor_name.as_deref(), Some("after"));
    assert_eq!(texts(&client.retry.at), ["x-ratelimit-reset"]);
    assert_eq!(texts(&client.retry.after), ["x-retry-in"]);
    assert_eq!(
        client.retry.remaining.as_deref(),
        Some("x-ratelimit-remaining")
    );
    assert_eq!(
        client.retry.error_code.as_deref().map(texts),
        Some(vec!["429", "5xx"])
    );
    let verification = client.verification.as_ref().expect("proxy.verification");
    assert_eq!(verification.method, "POST");
    assert_eq!(texts(&verification.endpoints), ["/me"]);
    assert_eq!(verification.body.as_deref(), Some("{\"probe\":true}"));
    assert!(!client.query_has_secret);

    // Token params are compiled templates, in catalog order: a literal, a config value, a
    // number as text.
    let names: Vec<&str> = spec.token_params.iter().map(|t| t.name.as_ref()).collect();
    assert_eq!(names, ["grant_type", "audience", "max_age"]);
    assert_eq!(
        single_part(named(&spec.token_params, "grant_type")),
        &TemplatePart::Lit("client_credentials".into())
    );
    let audience = spec
        .config
        .iter()
        .position(|p| p.key == "audience")
        .expect("the `audience` config param");
    let part = single_part(named(&spec.token_params, "audience"));
    assert!(
        is_param(part, Section::ConnectionConfig, audience),
        "{part:?}"
    );
    assert_eq!(
        single_part(named(&spec.token_params, "max_age")),
        &TemplatePart::Lit("3600".into())
    );
    // Rendered by the runtime's `TypedProvider::token_params_with` from the description;
    // the generated module states no template of its own.
    let code = code(CATALOG, &Options::default());
    let hr = module(&code, "hr_cc");
    assert_has(&hr, "impl ::terapi_runtime::TypedProvider for Marker");
    assert!(
        !hr.contains("max_age\"") || hr.contains("Embedded::new("),
        "{hr}"
    );

    // The OAuth client: the two secret credentials, read from their own fields.
    let (id, secret) = spec
        .credential_roles()
        .client
        .expect("an OAuth client among the credentials");
    assert_eq!(spec.credentials[id].key, "client_id");
    assert_eq!(spec.credentials[secret].key, "client_secret");
    assert_eq!(
        secret_keys(spec, Section::Credentials),
        ["client_id", "client_secret"]
    );
    let values = credential_values(&hr);
    assert_has(
        &values,
        &format!("{id} => ::core::option::Option::Some(self.client_id.expose()),"),
    );
    assert_has(
        &values,
        &format!("{secret} => ::core::option::Option::Some(self.client_secret.expose()),"),
    );
}

#[test]
fn providers_the_client_cannot_serve_get_a_reason_instead_of_a_connection() {
    const REASON: &str = "the client implements API_KEY, APP_STORE, BASIC, BILL, JWT, MCP_OAUTH2, MCP_OAUTH2_GENERIC, NONE, OAUTH1, OAUTH2, OAUTH2_CC and TWO_STEP; TBA is not implemented";
    let loaded = model(CATALOG, &Options::default());
    let spec = provider(&loaded, "tba-only");
    assert_eq!(unsupported(spec), REASON);
    // The reason is data: an enum of the runtime.
    assert_eq!(
        spec.client,
        ClientSupport::Unsupported(Unsupported::AuthMode(AuthMode::Tba))
    );
    let code = code(CATALOG, &Options::default());
    let bill = module(&code, "tba_only");
    assert!(!bill.contains("pubtypeConnection="), "{bill}");
    assert!(!bill.contains("pubstructConnection("), "{bill}");
    assert!(!bill.contains("pubstructConnection{"), "{bill}");
    // No `Connection` from the runtime's macro; the reason is in the description.
    assert_has(&bill, "connection = none,");
    // A provider the client serves has its typed connection.
    assert_has(&module(&code, "keyed"), "connection = typed,");

    // The crate-level connection hands the provider's description to the runtime's
    // `Connection::from_json`, which validates first, then reports the same reason (the
    // model's).
    assert_has(&code, "Provider::TbaOnly => tba_only::Marker::spec(),");
    assert_has(&code, "::terapi_runtime::catalog_client!(Provider);");
}

#[test]
fn secrets_in_query_and_basic_credentials_are_marked_for_the_runtime() {
    let loaded = model(CATALOG, &Options::default());
    let keyed = provider(&loaded, "keyed");
    assert!(supported(keyed).query_has_secret);
    let api_key = credential(keyed, "apiKey");
    assert!(keyed.credentials[api_key].secret);
    let names: Vec<&str> = keyed.query.iter().map(|t| t.name.as_ref()).collect();
    assert_eq!(names, ["api_key"]);
    let part = single_part(named(&keyed.query, "api_key"));
    assert!(is_param(part, Section::Credentials, api_key), "{part:?}");

    // Every credential is a secret unless it says `secret: false`: the username too.
    let basic = provider(&loaded, "user-pass");
    let (username, password) = basic
        .credential_roles()
        .basic
        .expect("basic credentials among the credentials");
    assert_eq!(basic.credentials[username].key, "username");
    let password = password.expect("a password");
    assert_eq!(basic.credentials[password].key, "password");
    assert!(basic.credentials[password].optional);
    assert_eq!(
        secret_keys(basic, Section::Credentials),
        ["username", "password"]
    );
    let code = code(CATALOG, &Options::default());
    let up = module(&code, "user_pass");
    assert_has(&up, "pub username: ::terapi_runtime::Secret,");
    assert_has(
        &up,
        "pub password: ::core::option::Option<::terapi_runtime::Secret>,",
    );
    let values = credential_values(&up);
    assert_has(
        &values,
        &format!("{username} => ::core::option::Option::Some(self.username.expose()),"),
    );
    assert_has(
        &values,
        &format!("{password} => self.password.as_ref().map(::terapi_runtime::Secret::expose),"),
    );
}

#[test]
fn generated_code_adapts_to_the_client_feature_through_the_runtime() {
    // No item of the client is named by generated code: the runtime's `typed_provider!` and
    // `catalog_client!` add the `Connection`s when its `client` feature is on, so the same
    // code compiles with and without it (codegen/tests/downstream.rs builds both).
    let code = code(CATALOG, &Options::default());
    assert!(!code.contains("::terapi_runtime::client::"), "{code}");
    assert_has(&code, "::terapi_runtime::catalog_client!(Provider);");
    assert_has(&code, "::terapi_runtime::typed_provider!(");
    assert_has(&code, "impl ::terapi_runtime::Params for ConnectionConfig");
}

#[test]
fn client_spec_is_deterministic() {
    let a = code(CATALOG, &Options::default());
    let b = code(CATALOG, &Options::default());
    assert_eq!(a, b);
}

#[test]
fn oauth_client_credentials_are_implied_and_default_scopes_sent() {
    let cc = |key: &str, name: &str| {
        Entry::new(key)
            .display_name(name)
            .auth_mode("OAUTH2_CC")
            .docs("https://cc.example/docs")
            .field("token_url", "https://auth.cc.example/token")
            .base_url("https://api.cc.example")
    };
    let catalog = &catalog(&[
        cc("cc-undeclared", "CC")
            .raw("default_scopes:\n    - read\n    - write")
            .field("scope_separator", "','"),
        cc("cc-headers", "CC headers").raw("token_headers:\n    x-tenant: acme"),
    ]);
    let loaded = model(catalog, &Options::default());
    let undeclared = provider(&loaded, "cc-undeclared");
    // Every OAUTH2_CC connection has an OAuth client, declared in the catalog or not.
    let (id, secret) = undeclared
        .credential_roles()
        .client
        .expect("an implied OAuth client");
    for index in [id, secret] {
        let param = &undeclared.credentials[index];
        assert!(!param.optional, "{param:?}");
        assert!(param.secret, "{param:?}");
    }
    assert_eq!(undeclared.credentials[id].key, "client_id");
    assert_eq!(undeclared.credentials[secret].key, "client_secret");
    assert_eq!(
        supported(undeclared).default_scope.as_deref(),
        Some("read,write")
    );
    let code = code(catalog, &Options::default());
    let cc = module(&code, "cc_undeclared");
    assert_has(&cc, "pub client_id: ::terapi_runtime::Secret,");
    assert_has(&cc, "pub client_secret: ::terapi_runtime::Secret,");
    assert_has(&cc, "connection = typed,");
    // Token headers go with the token request: compiled like the proxy's headers.
    let headers = provider(&loaded, "cc-headers");
    supported(headers);
    let names: Vec<&str> = headers.token_headers.iter().map(|h| &*h.name).collect();
    assert_eq!(names, ["x-tenant"]);
    assert_has(&module(&code, "cc_headers"), "connection = typed,");
}

#[test]
fn a_credential_that_says_secret_false_is_a_plain_string() {
    let catalog = &Entry::new("user-pass")
        .display_name("UserPass")
        .auth_mode("BASIC")
        .docs("https://up.example/docs")
        .base_url("https://api.up.example")
        .credential(
            Param::new("username")
                .title("User")
                .description("The user.")
                .secret(false),
        )
        .credential(
            Param::new("password")
                .title("Password")
                .description("The password."),
        )
        .yaml();
    let loaded = model(catalog, &Options::default());
    let spec = provider(&loaded, "user-pass");
    let (username, password) = spec
        .credential_roles()
        .basic
        .expect("basic credentials among the credentials");
    let password = password.expect("a password");
    assert_eq!(spec.credentials[username].key, "username");
    assert_eq!(spec.credentials[password].key, "password");
    assert!(!spec.credentials[password].optional);
    // Only the password is kept out of errors and logs.
    assert!(!spec.credentials[username].secret);
    assert_eq!(secret_keys(spec, Section::Credentials), ["password"]);
    assert!(secret_keys(spec, Section::ConnectionConfig).is_empty());
    let code = code(catalog, &Options::default());
    let up = module(&code, "user_pass");
    assert_has(&up, "pub username: ::std::string::String,");
    assert_has(&up, "pub password: ::terapi_runtime::Secret,");
    let values = credential_values(&up);
    assert_has(
        &values,
        &format!("{username} => ::core::option::Option::Some(self.username.as_str()),"),
    );
    assert_has(
        &values,
        &format!("{password} => ::core::option::Option::Some(self.password.expose()),"),
    );
}

/// Each mode's settings are read into the description, and what the client cannot follow is
/// a reason of its own (never a connection that would send something else).
#[test]
fn every_modes_settings_and_reasons() {
    let catalog = include_str!("../fixtures/client_modes.yaml");
    let loaded = model(catalog, &Options::default());
    let steps = supported(provider(&loaded, "steps"));
    let request = steps.token_request.as_ref().expect("a token request");
    assert_eq!(&*request.token_path, "data.token");
    assert_eq!(request.refresh_token_path.as_deref(), Some("data.refresh"));
    assert_eq!(request.expiration_path.as_deref(), Some("data.ttl"));
    assert!(request.expires_in && !request.get && request.bearer);
    assert_eq!(&request.typed_params[..], [Text::from("remember")]);
    assert_eq!(
        steps.body_format,
        terapi_runtime::spec::BodyFormat::Json,
        "TWO_STEP's default"
    );
    let reason = |key: &str| unsupported(provider(&loaded, key));
    let chained = supported(provider(&loaded, "chained"));
    let steps = &chained
        .token_request
        .as_ref()
        .expect("a token request")
        .steps;
    assert_eq!(steps.len(), 1);
    assert_eq!(&*steps[0].headers[0].name, "authorization");
    assert_eq!(
        reason("xml-step"),
        "`additional_steps`: step 2's `body_format: xml`"
    );
    assert_eq!(
        reason("get-with-params"),
        Unsupported::ParamsOnGet.to_string()
    );
    assert_eq!(reason("xml-login"), "`body_format: xml` is not implemented");
    assert_eq!(
        reason("cookies"),
        Unsupported::TokenResponseHeaders.to_string()
    );
    assert_eq!(
        reason("jwt-no-lifetime"),
        "the entry's JWT cannot be built: `token.expires_in_ms` is missing or not positive"
    );
    assert_eq!(
        reason("jwt-mapping-claim"),
        "the entry's JWT cannot be built: the claim `nested` is not text or a list of text"
    );
    assert!(
        reason("rsa-oauth1").contains("RSA-SHA1"),
        "{}",
        reason("rsa-oauth1")
    );
    assert_eq!(
        reason("outbound"),
        Unsupported::OutboundInstallation.to_string()
    );
    assert_eq!(reason("other-grant"), Unsupported::GrantType.to_string());
    assert_eq!(
        reason("cimd"),
        "`client_registration: cimd` is not implemented"
    );
    let renamed = supported(provider(&loaded, "renamed"));
    assert_eq!(renamed.token_expiration_buffer, Some(120));
    let auth = renamed
        .authorization
        .as_ref()
        .expect("authorization code settings");
    assert!(!auth.pkce);
    assert_eq!(&*auth.code_param, "auth_code");
    assert_eq!(&auth.token_response_metadata[..], [Text::from("team.id")]);
    assert_eq!(&auth.redirect_uri_metadata[..], [Text::from("realmId")]);
    assert_eq!(auth.access_token_path.as_deref(), Some("authed_user"));
    assert_eq!(
        (&*auth.replacements[0].from, &*auth.replacements[0].to),
        ("client_id", "app_id")
    );
    // Every entry above generates: what the client cannot serve is no error of the catalog.
    let code = code(catalog, &Options::default());
    assert_has(&module(&code, "renamed"), "connection = authorized,");
}
