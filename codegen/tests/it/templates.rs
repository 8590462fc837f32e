//! Template tests of `terapi-codegen`, through its public API (`lint`, `lint_with`,
//! `generate`) and the runtime crate it generates calls to:
//!
//! * the newer diagnostics (categories, patterns under both policies, template functions,
//!   variables, bare params, secrets in query params and URLs, platform-filled params,
//!   `${now...}` forms, checked-only strings, obtained credentials), each at its exact line
//!   and column, with its severity, message and help;
//! * the model of each kind of template (functions, `${now:...}`, `A || B`, and every URL
//!   context: whole base URL, host label, hostname, port, path segment, query), as `load`
//!   gives it and generated code embeds it;
//! * rendering end to end through `terapi_runtime::render`, with the same `Part`s and
//!   `UrlTemplate`s the emitter writes.
//!
//! The catalogs are built with [`Entry`] (4-space indentation like the real providers.yaml)
//! or read from `tests/fixtures/`; the place a test expects is found in the text with [`at`].

use crate::common::*;

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use terapi_codegen::{
    Diagnostic, Error, Generated, Level, LintLevels, Options, Rule, Severity, generate, lint,
    lint_with,
};
use terapi_runtime::render::{
    Call, Context, Func, NowSpec, NowToken, Part, UrlAlternative, UrlBase, UrlTemplate, Value, Var,
};
use terapi_runtime::spec::{NamedTemplate, ProviderSpec, UrlSpec};
use terapi_runtime::{Headers, RenderContext, RenderError};

// ---------------------------------------------------------------------------------------
// Helpers (beside those of `common`, a few for generated code).
// ---------------------------------------------------------------------------------------

/// Every diagnostic of `source` under `policy`, sorted by position.
fn diagnostics_with(source: &str, policy: PatternPolicy) -> Vec<Diagnostic> {
    lint_with(source, &options(policy))
        .sorted()
        .into_iter()
        .cloned()
        .collect()
}

/// How the pattern rules are set: `Error` denies both, `Skip` warns on both.
#[derive(Clone, Copy)]
enum PatternPolicy {
    Error,
    Skip,
}

fn options(policy: PatternPolicy) -> Options {
    let level = match policy {
        PatternPolicy::Error => Level::Deny,
        PatternPolicy::Skip => Level::Warn,
    };
    let mut lint_levels = LintLevels::default();
    for rule in [Rule::InvalidPattern, Rule::UnsupportedPattern] {
        lint_levels.set(rule, level).unwrap();
    }
    Options {
        lint_levels,
        ..Default::default()
    }
}

/// Asserts that `ds` is exactly one diagnostic, of `severity`, containing `needle` at
/// `place` (a `(line, column)`), and returns it.
fn only(ds: &[Diagnostic], severity: Severity, needle: &str, place: (u32, u32)) -> Diagnostic {
    assert_eq!(
        ds.len(),
        1,
        "expected exactly one diagnostic, got:\n{}",
        dump(ds)
    );
    let d = find(ds, needle).clone();
    assert_at(&d, severity, place);
    d
}

/// Asserts that `source` has exactly one diagnostic, an error containing `needle` at
/// `place` (a `(line, column)`), and returns it.
fn only_error(source: &str, needle: &str, place: (u32, u32)) -> Diagnostic {
    only(&diagnostics(source), Severity::Error, needle, place)
}

/// Asserts that `source` has exactly one diagnostic, a warning containing `needle` at
/// `place` (a `(line, column)`), and returns it.
fn only_warning(source: &str, needle: &str, place: (u32, u32)) -> Diagnostic {
    only(&diagnostics(source), Severity::Warning, needle, place)
}

/// `generate` under the name `providers.yaml`.
fn gen_with(source: &str, options: &Options) -> Result<Generated, Error> {
    generate(Path::new("providers.yaml"), source, options)
}

fn gen_ok(source: &str) -> String {
    match gen_with(source, &Options::default()) {
        Ok(g) => g.code,
        Err(e) => panic!("generation failed:\n{e}"),
    }
}

/// The code of `pub mod name { ... }` (up to the next top-level module).
fn module<'c>(code: &'c str, name: &str) -> &'c str {
    let start = code
        .find(&format!("\npub mod {name} {{"))
        .unwrap_or_else(|| panic!("no `pub mod {name}` in:\n{code}"));
    let rest = &code[start + 1..];
    let end = rest.find("\npub mod ").unwrap_or(rest.len());
    &rest[..end]
}

// ---------------------------------------------------------------------------------------
// Categories.
// ---------------------------------------------------------------------------------------

#[test]
fn unknown_category_is_located_with_suggestion() {
    let yaml = catalog(&[
        Entry::api_key("acme").field("categories", "[hrr]"),
        Entry::api_key("globex").raw("categories:\n    - crm\n    - markting"),
    ]);
    let ds = diagnostics(&yaml);
    assert_eq!(ds.len(), 2, "{}", dump(&ds));
    let d = find(&ds, "unknown category `hrr`");
    assert_at(d, Severity::Error, at(&yaml, "hrr"));
    assert_help(d, "did you mean `hr`?");
    let d = find(&ds, "unknown category `markting`");
    assert_at(d, Severity::Error, at(&yaml, "markting"));
    assert_help(d, "did you mean `marketing`?");
}

// ---------------------------------------------------------------------------------------
// Patterns: lookaround and backreferences on the backtracking engine; patterns neither
// engine runs, and invalid ones, under both policies.
// ---------------------------------------------------------------------------------------

fn subdomain() -> Param {
    Param::new("subdomain")
        .title("Subdomain")
        .description("Your subdomain.")
}

/// An entry whose `subdomain` param has `pattern` (written single-quoted), and whose
/// `apiKey` has a valid one.
fn with_pattern(pattern: &str) -> String {
    Entry::new("acme")
        .auth_mode("API_KEY")
        .base_url("https://${connectionConfig.subdomain}.acme.example")
        .config(subdomain().pattern(pattern))
        .credential(Param::api_key().pattern("^[A-Za-z0-9]+$"))
        .yaml()
}

/// Where the quoted `pattern` of a catalog of [`with_pattern`] starts.
fn pattern_at(source: &str, pattern: &str) -> (u32, u32) {
    at(source, &format!("pattern: ‸'{pattern}'"))
}

/// The model of provider `key` that `terapi_codegen::load` gives for `source` under
/// `options`: what generated code embeds as `SPEC` (the equality of the two is proven in
/// `codegen/tests/corpus.rs` and `tests/loaded.rs`).
fn model_with(source: &str, options: &Options, key: &str) -> ProviderSpec {
    terapi_codegen::load(Path::new("providers.yaml"), source, options)
        .unwrap_or_else(|e| panic!("load failed:\n{e}"))
        .get(key)
        .cloned()
        .unwrap_or_else(|| panic!("no provider `{key}`"))
}

fn model(source: &str, key: &str) -> ProviderSpec {
    model_with(source, &Options::default(), key)
}

/// The declared param `key` of a model (connection config first).
fn param<'s>(spec: &'s ProviderSpec, key: &str) -> &'s terapi_runtime::ParamSpec {
    spec.config
        .iter()
        .chain(spec.credentials.iter())
        .find(|p| p.key == key)
        .unwrap_or_else(|| panic!("no param `{key}` in {spec:?}"))
}

/// The alternatives of the template `name` in `list`, each the `Debug` of its parts.
fn alternatives_in(list: &[NamedTemplate], name: &str) -> Vec<String> {
    let template = list
        .iter()
        .find(|t| t.name == name)
        .unwrap_or_else(|| panic!("no template `{name}` in {list:?}"));
    template
        .alternatives
        .iter()
        .map(|parts| format!("{:?}", &parts[..]))
        .collect()
}

/// The alternatives of a URL of a model, each the `Debug` of its base and rest.
fn url_alternatives(url: &Option<UrlSpec>) -> Vec<String> {
    let url = url.as_ref().expect("the URL");
    url.alternatives
        .iter()
        .flat_map(|alts| alts.iter())
        .map(|alt| format!("{alt:?}"))
        .collect()
}

const POLICY_HELP: &str =
    "rewrite the pattern; with this rule allowed or warned, any value passes this check";
const POLICY_ERROR_HELP: &str = POLICY_HELP;
const POLICY_SKIP_HELP: &str = POLICY_HELP;

#[test]
fn lookaround_and_backreferences_run_on_the_backtracking_engine() {
    // (pattern, a value it accepts, a value it rejects)
    let cases = [
        ("^(?!www)[a-z0-9-]+$", "acme", "www"),
        (r"^([a-z])\1$", "aa", "ab"),
    ];
    for (pattern, good, bad) in cases {
        let source = with_pattern(pattern);
        // No finding, whatever the pattern rules' levels: nothing is dropped.
        let ds = diagnostics(&source);
        assert!(ds.is_empty(), "{pattern}: {}", dump(&ds));
        let ds = diagnostics_with(&source, PatternPolicy::Error);
        assert!(ds.is_empty(), "{pattern}: {}", dump(&ds));

        let generated = gen_with(&source, &options(PatternPolicy::Error))
            .unwrap_or_else(|e| panic!("{pattern}: generation failed:\n{e}"));
        assert!(generated.warnings.is_empty(), "{:?}", generated.warnings);
        let spec = model_with(&source, &options(PatternPolicy::Error), "acme");
        assert_eq!(
            param(&spec, "subdomain").rule,
            terapi_runtime::Rule::Pattern(terapi_runtime::Pattern::backtracking(pattern, pattern)),
            "{pattern}"
        );
        // The other param keeps the `regex` crate's engine.
        assert_eq!(
            param(&spec, "apiKey").rule,
            terapi_runtime::Rule::Pattern(terapi_runtime::Pattern::new("^[A-Za-z0-9]+$"))
        );
        // The runtime runs it as the catalog means it.
        let p = terapi_runtime::Pattern::backtracking(pattern, pattern);
        assert!(p.is_match(good), "{pattern} rejects {good:?}");
        assert!(!p.is_match(bad), "{pattern} accepts {bad:?}");
    }
}

/// A valid ECMAScript pattern that neither engine runs: an empty class never matches in
/// ECMAScript, while the `regex` crate reads `[]a]` as a class with `]`.
const UNSUPPORTED: &str = "^[]a$";
const UNSUPPORTED_MESSAGE: &str = "the `pattern` of param `subdomain` is valid ECMAScript but uses an empty class `[]` or `[^]`: the check is dropped";

#[test]
fn unsupported_pattern_is_an_error_when_denied() {
    let source = with_pattern(UNSUPPORTED);
    let ds = diagnostics_with(&source, PatternPolicy::Error);
    let d = only(
        &ds,
        Severity::Error,
        UNSUPPORTED_MESSAGE,
        pattern_at(&source, UNSUPPORTED),
    );
    assert_eq!(d.rule, Rule::UnsupportedPattern);
    assert_help(&d, POLICY_ERROR_HELP);
    assert!(
        matches!(
            gen_with(&source, &options(PatternPolicy::Error)),
            Err(Error::Catalog { .. })
        ),
        "a denied unsupported pattern must fail generation"
    );
}

#[test]
fn unsupported_pattern_is_a_warning_and_dropped_by_default() {
    let source = with_pattern(UNSUPPORTED);
    assert_eq!(
        diagnostics_with(&source, PatternPolicy::Skip),
        diagnostics(&source)
    );
}

#[test]
fn unsupported_pattern_is_a_warning_and_dropped_with_skip() {
    let source = with_pattern(UNSUPPORTED);
    let ds = diagnostics_with(&source, PatternPolicy::Skip);
    let d = only(
        &ds,
        Severity::Warning,
        UNSUPPORTED_MESSAGE,
        pattern_at(&source, UNSUPPORTED),
    );
    assert_eq!(d.rule, Rule::UnsupportedPattern);
    assert_help(&d, POLICY_SKIP_HELP);

    let generated = gen_with(&source, &options(PatternPolicy::Skip))
        .unwrap_or_else(|e| panic!("generation with `skip` failed:\n{e}"));
    assert_eq!(generated.warnings.len(), 1, "{:?}", generated.warnings);
    assert_eq!(generated.warnings[0].severity, Severity::Warning);
    let spec = model_with(&source, &options(PatternPolicy::Skip), "acme");
    assert_eq!(param(&spec, "subdomain").rule, terapi_runtime::Rule::Any);
    // The other param keeps its (valid) pattern.
    assert!(matches!(
        param(&spec, "apiKey").rule,
        terapi_runtime::Rule::Pattern(_)
    ));
    assert!(!generated.code.contains("[]a"), "{}", generated.code);
}

#[test]
fn invalid_pattern_under_both_policies() {
    let source = with_pattern("[a-");
    let message = "the `pattern` of param `subdomain` is not a valid ECMAScript regex: unclosed character class `[`";
    let d = only_error(&source, message, pattern_at(&source, "[a-"));
    assert_help(&d, POLICY_ERROR_HELP);
    assert!(gen_with(&source, &Options::default()).is_err());

    let ds = diagnostics_with(&source, PatternPolicy::Skip);
    let d = only(&ds, Severity::Warning, message, pattern_at(&source, "[a-"));
    assert_help(&d, POLICY_SKIP_HELP);
    let generated = gen_with(&source, &options(PatternPolicy::Skip))
        .unwrap_or_else(|e| panic!("generation with `skip` failed:\n{e}"));
    assert!(!generated.code.contains("[a-"), "{}", generated.code);
    let spec = model_with(&source, &options(PatternPolicy::Skip), "acme");
    assert_eq!(param(&spec, "subdomain").rule, terapi_runtime::Rule::Any);

    // Denying both pattern rules leaves `invalid-pattern` as `lint` reports it.
    assert_eq!(
        diagnostics_with(&source, PatternPolicy::Error),
        diagnostics(&source)
    );
}

// ---------------------------------------------------------------------------------------
// Template functions and variables.
// ---------------------------------------------------------------------------------------

#[test]
fn unknown_function_and_wrong_arity_are_located() {
    let yaml = Entry::api_key("acme")
        .header("authorization", "Basic ${base46(${apiKey})}")
        .header("x-signature", "${hmacSha1Hex(a)}")
        .yaml();
    let ds = diagnostics(&yaml);
    assert_eq!(ds.len(), 2, "{}", dump(&ds));
    let d = find(&ds, "unknown template function `base46`");
    assert_at(d, Severity::Error, at(&yaml, "${base46("));
    assert_help(d, "did you mean `base64`?");
    let d = find(&ds, "`hmacSha1Hex` takes 2 arguments, not 1");
    assert_at(d, Severity::Error, at(&yaml, "${hmacSha1Hex("));
    assert_eq!(d.help, None);
}

#[test]
fn unknown_variable_in_a_header_is_located_with_suggestion() {
    let yaml = Entry::api_key("acme")
        .header("x-api-key", "${apiKey}")
        .header("x-token", "Bearer ${acessToken}")
        .yaml();
    let d = only_error(
        &yaml,
        "unknown template variable `${acessToken}`",
        at(&yaml, "${acessToken}"),
    );
    assert_help(&d, "did you mean `accessToken`?");
}

#[test]
fn bare_declared_param_is_a_warning_and_counts_as_used() {
    let yaml = Entry::api_key("acme")
        .base_url("https://${subdomain}.acme.example")
        .header("x-region", "${connectionConfig.region}")
        .config(subdomain())
        .config(
            Param::new("region")
                .title("Region")
                .description("The region."),
        )
        .yaml();
    // No "declared but no template uses it" warning for `subdomain`. (`region` is used as
    // `${connectionConfig.region}`: a bare name alone is no `${connectionConfig.*}` reference,
    // which the platform's CI requires of an entry declaring `connection_config`; see
    // `bare_name_alone_is_no_config_reference`.)
    let d = only_warning(
        &yaml,
        "bare `${subdomain}` is read as `${connectionConfig.subdomain}`; write it that way",
        at(&yaml, "${subdomain}"),
    );
    assert_help(
        &d,
        "the platform's proxy resolves bare names only from credentials",
    );
    assert_eq!(d.rule, Rule::BareVariable);
    // It is generated as the declared param.
    let code = gen_ok(&yaml);
    assert!(module(&code, "acme").contains("pub fn base_url("), "{code}");
    let base_url = url_alternatives(&model(&yaml, "acme").base_url);
    assert_eq!(base_url.len(), 1, "{base_url:?}");
    assert!(
        base_url[0].contains("Param { section: ConnectionConfig, index: 0, written: \"connectionConfig.subdomain\", context: HostLabel }"),
        "{base_url:?}"
    );
}

#[test]
fn bare_name_alone_is_no_config_reference() {
    let yaml = Entry::api_key("acme")
        .base_url("https://${subdomain}.acme.example")
        .config(subdomain())
        .yaml();
    // The bare name counts as a use of `subdomain` (no `unused-param`), but the entry has no
    // `${connectionConfig.*}`: `no-config-reference` at the first param.
    let ds = diagnostics(&yaml);
    assert_eq!(ds.len(), 2, "{}", dump(&ds));
    let bare = find(
        &ds,
        "bare `${subdomain}` is read as `${connectionConfig.subdomain}`",
    );
    assert_at(bare, Severity::Warning, at(&yaml, "${subdomain}"));
    let d = find(
        &ds,
        "`connection_config` is declared but no string of the entry references any `${connectionConfig.*}`",
    );
    assert_at(d, Severity::Error, at(&yaml, "subdomain:"));
    assert_eq!(d.rule, Rule::NoConfigReference);
}

// ---------------------------------------------------------------------------------------
// Secrets where they leak.
// ---------------------------------------------------------------------------------------

#[test]
fn secret_in_a_query_param_is_a_warning_at_the_value() {
    let yaml = Entry::api_key("acme").query("api_key", "${apiKey}").yaml();
    let d = only_warning(
        &yaml,
        "query param `api_key` carries a secret: it ends up in URLs, logs and proxies",
        at(&yaml, "${apiKey}"),
    );
    assert_help(&d, "prefer a header if the API accepts one");
    // Still generated: the query param is how this API takes its key.
    let code = gen_ok(&yaml);
    assert!(
        module(&code, "acme").contains("pub fn proxy_query_with("),
        "{code}"
    );
    let spec = model(&yaml, "acme");
    let query = alternatives_in(&spec.query, "api_key");
    assert_eq!(
        query,
        ["[Param { section: Credentials, index: 0, written: \"apiKey\", context: Raw }]"]
    );
    assert!(param(&spec, "apiKey").secret);
}

#[test]
fn credential_in_a_url_is_a_warning_and_the_url_stays_a_constant() {
    let yaml = Entry::api_key("acme")
        .base_url("https://api.x.com/bot${apiKey}")
        .yaml();
    let d = only_warning(
        &yaml,
        "`${apiKey}` is a credential or secret, which terapi keeps out of URLs (they end up in logs and proxies): this URL is not generated as a function",
        at(&yaml, "${apiKey}"),
    );
    assert_help(&d, "if the API accepts it, send it in a header instead");
    let code = gen_ok(&yaml);
    let acme = module(&code, "acme");
    assert!(
        acme.contains(
            "pub const BASE_URL: &::core::primitive::str = \"https://api.x.com/bot${apiKey}\";"
        ),
        "{acme}"
    );
    assert!(!acme.contains("pub fn base_url"), "{acme}");
}

// ---------------------------------------------------------------------------------------
// Params the platform fills.
// ---------------------------------------------------------------------------------------

/// An OAUTH2 entry whose header uses `instance_url`, which `token_response_metadata` lists
/// and `connection_config` does not declare.
fn metadata_entry() -> Entry {
    Entry::new("acme")
        .auth_mode("OAUTH2")
        .field("authorization_url", "https://acme.example/oauth/authorize")
        .field("token_url", "https://acme.example/oauth/token")
        .raw("token_response_metadata:\n    - instance_url")
        .base_url("https://${connectionConfig.subdomain}.acme.example")
        .header("authorization", "Bearer ${accessToken}")
        .header("x-instance", "${connectionConfig.instance_url}")
}

/// [`metadata_entry`] with its `subdomain` declared.
fn metadata() -> String {
    metadata_entry().config(subdomain()).yaml()
}

/// Asserts that `code` has `instance_url` as an optional param filled by the platform, and
/// renders the `x-instance` header from it.
fn assert_platform_filled_instance_url(code: &str, spec: &ProviderSpec) {
    let acme = module(code, "acme");
    let instance_url = param(spec, "instance_url");
    assert!(
        instance_url.optional && !instance_url.secret,
        "{instance_url:?}"
    );
    assert!(
        acme.contains("pub instance_url: ::core::option::Option<::std::string::String>,"),
        "{acme}"
    );
    assert!(
        acme.contains("/// Filled by the platform (from the token response, the OAuth callback or a script); not declared in the catalog, and not required."),
        "{acme}"
    );
    assert!(acme.contains("pub fn proxy_headers_with("), "{acme}");
    let names: Vec<&str> = spec.headers.iter().map(|h| h.name.as_ref()).collect();
    assert_eq!(names, ["authorization", "x-instance"]);
    let index = spec
        .config
        .iter()
        .position(|p| p.key == "instance_url")
        .unwrap();
    assert_eq!(
        alternatives_in(&spec.headers, "x-instance"),
        [format!(
            "[Param {{ section: ConnectionConfig, index: {index}, written: \"connectionConfig.instance_url\", context: Header }}]"
        )]
    );
}

#[test]
fn metadata_param_in_a_header_is_an_optional_param_and_generates() {
    // Filled by the platform at run time: not an undeclared param, and not required.
    let ds = diagnostics(&metadata());
    assert!(ds.is_empty(), "{}", dump(&ds));
    assert_platform_filled_instance_url(&gen_ok(&metadata()), &model(&metadata(), "acme"));
}

#[test]
fn metadata_param_of_an_older_format_catalog_is_optional_too() {
    // Without `connection_config` the catalog is read as the older format: `subdomain` is
    // inferred (required), `instance_url` still filled by the platform (optional).
    let older = metadata_entry().yaml();
    assert!(!older.contains("connection_config"), "{older}");
    let ds = diagnostics(&older);
    assert_eq!(ds.len(), 1, "{}", dump(&ds));
    let d = find(&ds, "provider `acme` uses the older catalog format");
    assert_at(d, Severity::Note, at(&older, "acme:"));
    assert_eq!(d.rule, Rule::OlderFormat);
    let code = gen_ok(&older);
    let spec = model(&older, "acme");
    assert_platform_filled_instance_url(&code, &spec);
    assert!(!param(&spec, "subdomain").optional, "{spec:?}");
}

// ---------------------------------------------------------------------------------------
// `${now...}` forms and checked-only strings.
// ---------------------------------------------------------------------------------------

#[test]
fn invalid_now_forms_are_located() {
    let yaml = Entry::api_key("acme")
        .header("x-expires", "${now+1:months:X}")
        .header("x-date", "${now:[oops}")
        .yaml();
    let ds = diagnostics(&yaml);
    assert_eq!(ds.len(), 2, "{}", dump(&ds));
    let d = find(
        &ds,
        "invalid template: `${now+1:months:X}`: unknown time unit `months` (use seconds, minutes, hours, days or weeks)",
    );
    assert_at(d, Severity::Error, at(&yaml, "${now+1:months:X}"));
    assert_eq!(d.loc.len, "${now+1:months:X}".len());
    let d = find(
        &ds,
        "invalid template: `${now:[oops}`: unclosed `[` in date format `[oops`",
    );
    assert_at(d, Severity::Error, at(&yaml, "${now:[oops}"));
    assert_eq!(d.loc.len, "${now:[oops}".len());
}

#[test]
fn each_invalid_template_is_counted_once() {
    // The same located error must not be counted twice: the report's summary line must
    // match the diagnostics it shows. (A header, query or URL template is parsed both by the
    // reference check and by the template compiler, and each reports a parse error;
    // `Diagnostics::sorted` drops the duplicate, `Diagnostics::counts` does not.)
    let yaml = Entry::api_key("acme")
        .header("x-expires", "${now+1:months:X}")
        .yaml();
    let shown = diagnostics(&yaml);
    assert_eq!(shown.len(), 1, "{}", dump(&shown));
    let (line, col) = at(&yaml, "${now+1:months:X}");
    let text = gen_with(&yaml, &Options::default())
        .expect_err("invalid template")
        .to_string();
    let headlines = text
        .lines()
        .filter(|l| {
            l.starts_with(&format!(
                "providers.yaml:{line}:{col}: error[invalid-template]: invalid template"
            ))
        })
        .count();
    assert_eq!(headlines, 1, "{text}");
    assert!(
        text.ends_with("providers.yaml: 1 error, 0 warnings"),
        "the summary counts the error twice:\n{text}"
    );
    assert_eq!(
        lint(&yaml).counts(),
        (1, 0),
        "counts disagree with the (deduplicated) diagnostics:\n{}",
        dump(&shown)
    );
}

#[test]
fn unclosed_placeholder_in_token_params_is_located() {
    let yaml = Entry::new("acme")
        .auth_mode("OAUTH2_CC")
        .field("token_url", "https://acme.example/oauth/token")
        .raw("token_params:\n    grant_type: client_credentials\n    audience: https://${host")
        .base_url("https://api.acme.example")
        .header("authorization", "Bearer ${accessToken}")
        .credential(
            Param::new("client_id")
                .title("Client ID")
                .description("The OAuth client."),
        )
        .credential(
            Param::new("client_secret")
                .title("Client Secret")
                .description("The OAuth client's secret."),
        )
        .yaml();
    let d = only_error(
        &yaml,
        "invalid template: unclosed `${`: a placeholder ends with `}`",
        at(&yaml, "https://‸${host"),
    );
    assert_eq!(d.loc.len, 2);
}

// ---------------------------------------------------------------------------------------
// Credentials the platform obtains.
// ---------------------------------------------------------------------------------------

#[test]
fn obtained_credential_is_allowed_in_two_step_only() {
    let two_step = &Entry::new("acme")
        .auth_mode("TWO_STEP")
        .field("token_url", "https://acme.example/auth")
        .raw("token_params:\n    username: ${credentials.username}\n    password: ${credentials.password}")
        .base_url("https://api.acme.example")
        .header("authorization", "Bearer ${credentials.token}")
        .credential(Param::new("username").title("User").description("The user."))
        .credential(
            Param::new("password")
                .title("Password")
                .description("The password."),
        )
        .yaml();
    let ds = diagnostics(two_step);
    assert!(ds.is_empty(), "{}", dump(&ds));
    let code = gen_ok(two_step);
    assert!(
        module(&code, "acme").contains("pub fn proxy_headers_with("),
        "{code}"
    );
    assert_eq!(
        alternatives_in(&model(two_step, "acme").headers, "authorization"),
        [
            "[Lit(\"Bearer \"), Obtained { name: \"token\", written: \"credentials.token\", context: Header }]"
        ]
    );

    let api_key = &Entry::api_key("acme")
        .header("authorization", "Bearer ${credentials.token}")
        .yaml();
    let d = only_error(
        api_key,
        "`${credentials.token}` uses a credential that `credentials` does not declare",
        at(api_key, "${credentials.token}"),
    );
    assert_eq!(d.help, None, "no credential is close to `token`");
}

// ---------------------------------------------------------------------------------------
// Generated code for each kind of template.
// ---------------------------------------------------------------------------------------

const TEMPLATES: &str = include_str!("../fixtures/templates.yaml");

/// The generated code of [`TEMPLATES`] (checked to be clean first).
fn templates_code() -> String {
    let ds = diagnostics(TEMPLATES);
    assert!(ds.is_empty(), "{}", dump(&ds));
    gen_ok(TEMPLATES)
}

/// The model of provider `key` of [`TEMPLATES`].
fn templates_model(key: &str) -> ProviderSpec {
    model(TEMPLATES, key)
}

#[test]
fn base64_call_emits_func_base64_with_raw_arguments() {
    let code = templates_code();
    assert!(module(&code, "basic").contains("pub fn proxy_headers_with("));
    let spec = templates_model("basic");
    let alts = alternatives_in(&spec.headers, "authorization");
    assert_eq!(alts.len(), 1, "{alts:?}");
    let (username, password) = (
        spec.credentials
            .iter()
            .position(|p| p.key == "username")
            .unwrap(),
        spec.credentials
            .iter()
            .position(|p| p.key == "password")
            .unwrap(),
    );
    // The arguments are raw; the call's result lands in the header.
    assert_eq!(
        alts[0],
        format!(
            "[Lit(\"Basic \"), Call {{ func: Base64, args: [[Param {{ section: Credentials, index: {username}, written: \"credentials.username\", context: Raw }}, Lit(\":\"), Param {{ section: Credentials, index: {password}, written: \"credentials.password\", context: Raw }}]], context: Header }}]"
        )
    );
    // Every credential is a secret unless it says `secret: false`.
    assert!(param(&spec, "username").secret && param(&spec, "password").secret);
}

#[test]
fn now_formats_emit_now_tokens() {
    let spec = templates_model("basic");
    assert_eq!(
        alternatives_in(&spec.headers, "x-date"),
        [
            "[Now { offset_seconds: 0, format: Some(\"YYYY-MM-DD\"), written: \"now:YYYY-MM-DD\", context: Header }]"
        ]
    );
    let expires = alternatives_in(&spec.headers, "x-expires");
    assert!(
        expires[0].contains("Now { offset_seconds: 60, format: Some(\"X\")"),
        "{expires:?}"
    );
    // The formats the model keeps parse into the runtime's tokens.
    assert_eq!(
        terapi_runtime::now::parse_format("YYYY-MM-DD").unwrap(),
        [
            NowToken::Year4,
            NowToken::Lit("-"),
            NowToken::Month2,
            NowToken::Lit("-"),
            NowToken::Day2
        ]
    );
    assert_eq!(
        terapi_runtime::now::parse_format("X").unwrap(),
        [NowToken::UnixSeconds]
    );
}

#[test]
fn fallback_header_emits_two_alternatives() {
    let spec = templates_model("basic");
    let version = spec.config.iter().position(|p| p.key == "version").unwrap();
    assert_eq!(
        alternatives_in(&spec.headers, "notion-version"),
        [
            format!(
                "[Param {{ section: ConnectionConfig, index: {version}, written: \"connectionConfig.version\", context: Header }}]"
            ),
            "[Lit(\"2022-06-28\")]".to_owned(),
        ]
    );
    assert!(param(&spec, "version").optional);
}

#[test]
fn whole_base_url_param_emits_url_base_value() {
    let spec = templates_model("basic");
    let index = spec
        .config
        .iter()
        .position(|p| p.key == "instance_url")
        .unwrap();
    assert_eq!(
        url_alternatives(&spec.base_url),
        [format!(
            "UrlAlternative {{ base: Param(Param {{ section: ConnectionConfig, index: {index}, written: \"connectionConfig.instance_url\", context: Url }}), rest: [Lit(\"/api\")] }}"
        )]
    );
}

#[test]
fn url_contexts_are_emitted_for_where_each_value_lands() {
    let url = |provider: &str| url_alternatives(&templates_model(provider).base_url);

    assert_eq!(
        url("zendesk"),
        [
            "UrlAlternative { base: Fixed { scheme: \"https\", host: [Param { section: ConnectionConfig, index: 0, written: \"connectionConfig.subdomain\", context: HostLabel }, Lit(\".zendesk.com\")] }, rest: [] }"
        ]
    );

    let f = url("selfhosted");
    assert!(f[0].contains("context: Hostname"), "{f:?}");
    assert!(!f[0].contains("HostLabel"), "{f:?}");

    let f = url("porty");
    assert!(
        f[0].contains("host: [Lit(\"api.x.com\")] }, rest: [Lit(\":\"), Param { section: ConnectionConfig, index: 0, written: \"connectionConfig.port\", context: Port }, Lit(\"/v1\")]"),
        "{f:?}"
    );

    let f = url("paths");
    assert!(
        f[0].contains("rest: [Lit(\"/v1/\"), Param { section: ConnectionConfig, index: 0, written: \"connectionConfig.account\", context: PathSegment }, Lit(\"/items?region=\"), Param { section: ConnectionConfig, index: 1, written: \"connectionConfig.region\", context: Query }]"),
        "{f:?}"
    );

    let f = url("fallback");
    assert_eq!(f.len(), 2, "{f:?}");
    assert!(
        f[0].contains("Param { section: ConnectionConfig, index: 0, written: \"connectionConfig.hostname\", context: Hostname }"),
        "{}",
        f[0]
    );
    assert!(
        f[1].contains("host: [Lit(\"api.x.com\")] }, rest: [Lit(\"/v1\")]"),
        "{}",
        f[1]
    );
}

// ---------------------------------------------------------------------------------------
// Rendering end to end, with the parts the emitter writes (mirrored from the code above).
// ---------------------------------------------------------------------------------------

/// 2026-11-28T18:45:07.089Z.
fn fixed_time() -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(1_795_891_507_089)
}

fn value<'a>(param: &'static str, value: Option<&'a str>, context: Context) -> Part<'a> {
    Part::Value(Value {
        param,
        value,
        secret: false,
        context,
    })
}

/// `notion-version: ${connectionConfig.version} || 2022-06-28`, as emitted.
fn notion_version(version: Option<&str>, cx: &RenderContext<'_>) -> Headers {
    let mut out = Headers::new();
    out.push_rendered(
        "notion-version",
        &[
            &[value("connectionConfig.version", version, Context::Header)],
            &[Part::Lit("2022-06-28")],
        ],
        cx,
    )
    .expect("renders");
    out
}

/// `https://${connectionConfig.hostname}/v1 || https://api.x.com/v1`, as emitted.
fn fallback_url(hostname: Option<&str>) -> Result<terapi_runtime::url::Url, RenderError> {
    UrlTemplate {
        source: "https://${connectionConfig.hostname}/v1 || https://api.x.com/v1",
        alternatives: &[
            UrlAlternative {
                base: UrlBase::Fixed {
                    scheme: "https",
                    host: &[value(
                        "connectionConfig.hostname",
                        hostname,
                        Context::Hostname,
                    )],
                },
                rest: &[Part::Lit("/v1")],
            },
            UrlAlternative {
                base: UrlBase::Fixed {
                    scheme: "https",
                    host: &[Part::Lit("api.x.com")],
                },
                rest: &[Part::Lit("/v1")],
            },
        ],
    }
    .render()
}

#[test]
fn fallback_picks_the_first_complete_alternative() {
    let cx = RenderContext::new();
    assert_eq!(
        notion_version(None, &cx).get("notion-version"),
        Some("2022-06-28")
    );
    assert_eq!(
        notion_version(Some("2025-09-03"), &cx).get("notion-version"),
        Some("2025-09-03")
    );
    assert_eq!(
        fallback_url(None).expect("default").as_str(),
        "https://api.x.com/v1"
    );
    assert_eq!(
        fallback_url(Some("eu.example.com"))
            .expect("own host")
            .as_str(),
        "https://eu.example.com/v1"
    );
    // A present but bad value is an error, not a silent fallback.
    assert!(matches!(
        fallback_url(Some("evil.com/x")),
        Err(RenderError::InvalidValue {
            context: Context::Hostname,
            ..
        })
    ));
}

#[test]
fn absent_optional_value_omits_the_header() {
    let cx = RenderContext::new();
    let mut out = Headers::new();
    // `x-app-id: ${connectionConfig.appId}` (optional, absent), then `x-static: 1`.
    out.push_rendered(
        "x-app-id",
        &[&[value("connectionConfig.appId", None, Context::Header)]],
        &cx,
    )
    .expect("renders");
    out.push_rendered("x-static", &[&[Part::Lit("1")]], &cx)
        .expect("renders");
    assert_eq!(out.len(), 1);
    assert_eq!(out.get("x-app-id"), None);
    assert_eq!(out.get("x-static"), Some("1"));
    // An absent argument of a function omits the header too (never `Basic ${...}`).
    let user = [value("credentials.username", None, Context::Raw)];
    let mut out = Headers::new();
    out.push_rendered(
        "authorization",
        &[&[
            Part::Lit("Basic "),
            Part::Call(Call {
                func: Func::Base64,
                args: &[&user],
                context: Context::Header,
            }),
        ]],
        &cx,
    )
    .expect("renders");
    assert!(out.is_empty(), "{out:?}");
}

/// `https://${connectionConfig.subdomain}.zendesk.com`, as emitted.
fn zendesk_url(subdomain: &str) -> Result<terapi_runtime::url::Url, RenderError> {
    UrlTemplate {
        source: "https://${connectionConfig.subdomain}.zendesk.com",
        alternatives: &[UrlAlternative {
            base: UrlBase::Fixed {
                scheme: "https",
                host: &[
                    value(
                        "connectionConfig.subdomain",
                        Some(subdomain),
                        Context::HostLabel,
                    ),
                    Part::Lit(".zendesk.com"),
                ],
            },
            rest: &[],
        }],
    }
    .render()
}

#[test]
fn host_label_rejects_values_that_change_the_host() {
    assert_eq!(
        zendesk_url("acme").expect("a label").as_str(),
        "https://acme.zendesk.com/"
    );
    for evil in ["evil.com/", "evil.com", "evil.com#", "a@evil.com", ""] {
        let err = zendesk_url(evil).expect_err(evil);
        assert!(
            matches!(
                err,
                RenderError::InvalidValue {
                    ref param,
                    context: Context::HostLabel,
                    ..
                } if param == "connectionConfig.subdomain"
            ),
            "{evil:?}: {err}"
        );
    }
}

/// The headers `x-date: ${now:X}`, `x-day: ${now:YYYY-MM-DD}`, `x-expires:
/// ${now+1:minutes:X}` and `x-request-id: ${random}`, as emitted.
fn time_headers(cx: &RenderContext<'_>) -> Headers {
    let mut out = Headers::new();
    let now = |offset_seconds, format| {
        cx.var(&Var::Now(NowSpec {
            offset_seconds,
            format: Some(format),
        }))
    };
    out.push_rendered(
        "x-date",
        &[&[value(
            "now:X",
            now(0, &[NowToken::UnixSeconds]).as_deref(),
            Context::Header,
        )]],
        cx,
    )
    .expect("renders");
    out.push_rendered(
        "x-day",
        &[&[value(
            "now:YYYY-MM-DD",
            now(
                0,
                &[
                    NowToken::Year4,
                    NowToken::Lit("-"),
                    NowToken::Month2,
                    NowToken::Lit("-"),
                    NowToken::Day2,
                ],
            )
            .as_deref(),
            Context::Header,
        )]],
        cx,
    )
    .expect("renders");
    out.push_rendered(
        "x-expires",
        &[&[value(
            "now+1:minutes:X",
            now(60, &[NowToken::UnixSeconds]).as_deref(),
            Context::Header,
        )]],
        cx,
    )
    .expect("renders");
    out.push_rendered(
        "x-request-id",
        &[&[value(
            "random",
            cx.var(&Var::Random).as_deref(),
            Context::Header,
        )]],
        cx,
    )
    .expect("renders");
    out
}

#[test]
fn fixed_context_makes_now_and_random_deterministic() {
    let cx = RenderContext::at(fixed_time(), "r".to_owned());
    let first = time_headers(&cx);
    assert_eq!(first.get("x-date"), Some("1795891507"));
    assert_eq!(first.get("x-day"), Some("2026-11-28"));
    assert_eq!(first.get("x-expires"), Some("1795891567"));
    assert_eq!(first.get("x-request-id"), Some("r"));
    // The same context gives the same headers; so does another context at the same time.
    assert_eq!(time_headers(&cx), first);
    let again = RenderContext::at(fixed_time(), "r".to_owned());
    assert_eq!(time_headers(&again), first);
    // A fresh context has its own random id.
    let fresh = time_headers(&RenderContext::new());
    assert_ne!(fresh.get("x-request-id"), Some("r"));
}

/// `authorization: Bearer ${credentials.token}` of a TWO_STEP provider, as emitted.
fn two_step_headers(cx: &RenderContext<'_>) -> Headers {
    let mut out = Headers::new();
    out.push_rendered(
        "authorization",
        &[&[
            Part::Lit("Bearer "),
            Part::Value(Value {
                param: "credentials.token",
                value: cx.var(&Var::Obtained("token")).as_deref(),
                secret: true,
                context: Context::Header,
            }),
        ]],
        cx,
    )
    .expect("renders");
    out
}

#[test]
fn obtained_credential_is_read_from_the_context() {
    let fields = [("session", "s-1"), ("token", "t0k3n")];
    let cx = RenderContext::at(fixed_time(), "r".to_owned()).with_obtained(&fields);
    let headers = two_step_headers(&cx);
    let h = headers.iter().next().expect("one header");
    assert_eq!(h.name(), "authorization");
    assert_eq!(h.value(), "Bearer t0k3n");
    assert!(h.is_sensitive());
    assert!(!format!("{headers:?}").contains("t0k3n"), "{headers:?}");
    // Without the obtained field the header is omitted.
    let cx = RenderContext::at(fixed_time(), "r".to_owned());
    assert!(two_step_headers(&cx).is_empty());
    // A value that would add a header line is refused, without showing the secret.
    let bad = [("token", "t\r\nx-evil: 1")];
    let cx = RenderContext::at(fixed_time(), "r".to_owned()).with_obtained(&bad);
    let mut out = Headers::new();
    let err = out
        .push_rendered(
            "authorization",
            &[&[Part::Value(Value {
                param: "credentials.token",
                value: cx.var(&Var::Obtained("token")).as_deref(),
                secret: true,
                context: Context::Header,
            })]],
            &cx,
        )
        .expect_err("CRLF in a header");
    assert!(!err.to_string().contains("x-evil"), "{err}");
}

#[test]
fn base64_header_renders_like_the_platform() {
    let cx = RenderContext::new();
    let user = [
        value("credentials.username", Some("user"), Context::Raw),
        Part::Lit(":"),
        Part::Value(Value {
            param: "credentials.password",
            value: Some("pass"),
            secret: true,
            context: Context::Raw,
        }),
    ];
    let mut out = Headers::new();
    out.push_rendered(
        "authorization",
        &[&[
            Part::Lit("Basic "),
            Part::Call(Call {
                func: Func::Base64,
                args: &[&user],
                context: Context::Header,
            }),
        ]],
        &cx,
    )
    .expect("renders");
    assert_eq!(out.get("authorization"), Some("Basic dXNlcjpwYXNz"));
    assert!(out.iter().all(|h| h.is_sensitive()));
}
