//! Every rule of the registry (`codegen/src/rules.rs`) is found by a catalog here, at its
//! exact line and column, with its code; a test fails when a rule has no case. Also: the
//! levels (`-A/-W/-D`, fixed rules, eras), `--explain`, and the table of rules in RULES.md.
//!
//! The catalogs are built with [`Entry`]; the place each case expects is found in its text
//! with [`at`] (the one occurrence of a needle, at its `‸`).

use crate::common::*;

use std::collections::BTreeSet;
use std::path::Path;

use terapi_codegen::{
    Diagnostic, InvalidProviders, Level, LintLevels, Options, Rule, Severity, lint_with,
};

/// One case: a catalog, the rule it breaks, where (as [`at`] finds it in the catalog), and
/// the levels to lint it with (for rules that are allowed by default).
struct Case {
    rule: Rule,
    yaml: String,
    at: &'static str,
    options: fn() -> Options,
}

impl Case {
    fn new(rule: Rule, entry: Entry, at: &'static str) -> Self {
        Case::of_text(rule, entry.yaml(), at)
    }

    fn of_text(rule: Rule, yaml: String, at: &'static str) -> Self {
        Case {
            rule,
            yaml,
            at,
            options: defaults,
        }
    }

    fn options(self, options: fn() -> Options) -> Self {
        Case { options, ..self }
    }

    /// The `(line, column)` the case expects its finding at.
    fn place(&self) -> (u32, u32) {
        at(&self.yaml, self.at)
    }
}

fn defaults() -> Options {
    Options::default()
}

fn warn_legacy() -> Options {
    let mut lint_levels = LintLevels::default();
    lint_levels.set(Rule::LegacySpelling, Level::Warn).unwrap();
    Options {
        lint_levels,
        ..Options::default()
    }
}

fn skip_invalid() -> Options {
    Options {
        invalid_providers: InvalidProviders::Skip,
        ..Options::default()
    }
}

fn select_unknown() -> Options {
    Options {
        providers: Some(vec!["acmee".into()]),
        ..Options::default()
    }
}

const BEARER: &str = "Bearer ${apiKey}";
const SUBDOMAIN_URL: &str = "https://${connectionConfig.subdomain}.acme.example";

/// An API_KEY entry `acme` with base URL `https://api.acme.example`, its `apiKey` in the
/// `authorization` header.
fn api_key() -> Entry {
    Entry::api_key("acme").header("authorization", BEARER)
}

fn subdomain() -> Param {
    Param::new("subdomain")
        .title("Subdomain")
        .description("Your subdomain.")
}

fn region(description: &str) -> Param {
    Param::new("region")
        .title("Region")
        .description(description)
}

/// Every case, in the order of the registry.
fn cases() -> Vec<Case> {
    vec![
        Case::new(
            Rule::YamlSyntax,
            Entry::new("acme").display_name("[Acme").no_docs(),
            "[Acme",
        ),
        Case::new(
            Rule::UnknownKey,
            Entry::api_key("acme").field("scope_seprator", "','"),
            "scope_seprator",
        ),
        Case::new(
            Rule::WrongType,
            Entry::api_key("acme").field("default_scopes", "{ a: b }"),
            "{ a: b }",
        ),
        // A `proxy` without `base_url`: at its first key.
        Case::new(Rule::MissingKey, api_key().no_base_url(), "headers:"),
        Case::new(
            Rule::LegacySpelling,
            Entry::api_key("acme").proxy_raw("retry:\n    after: retry-after"),
            "after: ‸retry-after",
        )
        .options(warn_legacy),
        Case::new(
            Rule::UnknownAlias,
            Entry::api_key("acme")
                .no_display_name()
                .no_auth_mode()
                .no_base_url()
                .field("alias", "acmee"),
            "acmee",
        ),
        Case::new(
            Rule::UnknownAuthMode,
            Entry::api_key("acme").auth_mode("APIKEY"),
            "APIKEY",
        ),
        Case::new(
            Rule::OlderFormat,
            Entry::new("acme")
                .no_display_name()
                .no_docs()
                .auth_mode("API_KEY")
                .base_url(SUBDOMAIN_URL)
                .header("authorization", BEARER),
            "acme:",
        ),
        Case::new(
            Rule::MissingAuthMode,
            Entry::api_key("acme").no_auth_mode(),
            "acme:",
        ),
        Case::new(Rule::MissingDocs, api_key().no_docs(), "acme:"),
        Case::new(
            Rule::UnknownCategory,
            api_key().raw("categories:\n    - hrr"),
            "hrr",
        ),
        Case::of_text(
            Rule::ProviderCollision,
            catalog(&[
                Entry::new("acme-x")
                    .auth_mode("NONE")
                    .base_url("https://api.acme.example"),
                Entry::new("acme_x")
                    .auth_mode("NONE")
                    .base_url("https://api.acme.example")
                    .config(region("The region.").optional()),
            ]),
            "acme_x:",
        ),
        Case::new(
            Rule::InvalidName,
            api_key().credential(Param::new("''").title("Empty").description("No name.")),
            "'':",
        ),
        Case::new(
            Rule::BidiControl,
            api_key().display_name("Acme \u{202E}emca"),
            "\u{202E}",
        ),
        Case::new(
            Rule::VerificationConflict,
            api_key()
                .field("credentials_verification_script", "acmeVerify")
                .proxy_raw("verification:\n    method: GET\n    endpoints:\n        - /me"),
            "method: GET",
        ),
        Case::new(
            Rule::MissingTokenUrl,
            Entry::new("acme")
                .auth_mode("OAUTH2_CC")
                .base_url("https://api.acme.example")
                .credential(
                    Param::new("client_id")
                        .title("Client ID")
                        .description("The id."),
                ),
            "acme:",
        ),
        Case::new(
            Rule::ParamType,
            api_key()
                .no_credentials()
                .credential(Param::api_key().ty("number")),
            "type: ‸number",
        ),
        Case::new(
            Rule::FieldCollision,
            api_key().credential(
                Param::new("api_key")
                    .title("API Key")
                    .description("The key."),
            ),
            "api_key:",
        ),
        Case::new(
            Rule::InvalidPattern,
            api_key()
                .no_credentials()
                .credential(Param::api_key().pattern("^[z-a]+$")),
            "pattern: ‸'",
        ),
        Case::new(
            Rule::UnsupportedPattern,
            api_key()
                .no_credentials()
                .credential(Param::api_key().pattern("^[]a$")),
            "pattern: ‸'",
        ),
        Case::new(
            Rule::ExampleMismatch,
            api_key()
                .no_credentials()
                .credential(Param::api_key().pattern("^[a-z]+$").example("ABC123")),
            "ABC123",
        ),
        Case::new(
            Rule::UndeclaredParam,
            api_key()
                .base_url("https://${connectionConfig.subdomian}.acme.example")
                .config(subdomain()),
            "${connectionConfig.subdomian}",
        ),
        Case::new(
            Rule::NoConfigReference,
            api_key().config(subdomain()),
            "subdomain:",
        ),
        Case::new(
            Rule::UnusedParam,
            api_key()
                .base_url(SUBDOMAIN_URL)
                .config(subdomain())
                .config(region("Read by a script.")),
            "region:",
        ),
        Case::new(
            Rule::MissingCredential,
            Entry::api_key("acme")
                .no_credentials()
                .credential(Param::new("token").title("Token").description("The token.")),
            "token:",
        ),
        Case::new(
            Rule::UsualCredential,
            Entry::new("acme")
                .auth_mode("BASIC")
                .base_url("https://api.acme.example")
                .credential(
                    Param::new("username")
                        .title("User")
                        .description("The user."),
                ),
            "username:",
        ),
        Case::new(
            Rule::ForbiddenCredentials,
            Entry::new("acme")
                .auth_mode("OAUTH2")
                .field("authorization_url", "https://acme.example/authorize")
                .field("token_url", "https://acme.example/token")
                .base_url("https://api.acme.example")
                .credential(Param::new("token").title("Token").description("The token.")),
            "token:",
        ),
        Case::new(
            Rule::InvalidTemplate,
            Entry::api_key("acme").header("authorization", "Bearer ${apiKey"),
            "${apiKey",
        ),
        Case::new(
            Rule::MissingDollar,
            api_key()
                .base_url("https://{connectionConfig.subdomain}.acme.example")
                .config(subdomain()),
            "{connectionConfig.subdomain}",
        ),
        Case::new(
            Rule::UndeclaredCredential,
            api_key().header("x-secret", "${credentials.secret}"),
            "${credentials.secret}",
        ),
        Case::new(
            Rule::UnknownVariable,
            Entry::api_key("acme").header("authorization", "Bearer ${apiKye}"),
            "${apiKye}",
        ),
        Case::new(
            Rule::UnknownFunction,
            Entry::api_key("acme").header("authorization", "Basic ${base46(${apiKey})}"),
            "${base46(",
        ),
        Case::new(
            Rule::BareVariable,
            api_key()
                .header("x-region", "${region}")
                .config(region("The region.")),
            "${region}",
        ),
        Case::new(
            Rule::UrlPlaceholder,
            api_key().base_url("https://api.acme.example/${now:X}"),
            "${now:X}",
        ),
        Case::new(
            Rule::InvalidUrl,
            api_key().base_url("ftp://api.acme.example"),
            "ftp://",
        ),
        Case::new(
            Rule::InvalidHeader,
            Entry::api_key("acme").header("'x key'", BEARER),
            "'x key'",
        ),
        Case::new(
            Rule::SecretInUrl,
            Entry::api_key("acme").base_url("https://api.acme.example/${apiKey}"),
            "${apiKey}",
        ),
        Case::new(
            Rule::SecretInQuery,
            Entry::api_key("acme").query("key", "${apiKey}"),
            "${apiKey}",
        ),
        Case::of_text(Rule::UnknownSelection, minimal(), "acme:").options(select_unknown),
        Case::new(
            Rule::ProviderSkipped,
            Entry::api_key("acme").header("authorization", "Bearer ${apiKye}"),
            "acme:",
        )
        .options(skip_invalid),
    ]
}

/// The case of `rule`.
fn case(rule: Rule) -> Case {
    cases()
        .into_iter()
        .find(|c| c.rule == rule)
        .unwrap_or_else(|| panic!("no case for {rule}"))
}

fn dump(ds: &[&Diagnostic]) -> String {
    ds.iter()
        .map(|d| format!("  {}", d.headline(Path::new("t.yaml"))))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn every_rule_is_found_at_its_exact_place() {
    let mut failures = Vec::new();
    for case in cases() {
        let (line, col) = case.place();
        let diagnostics = lint_with(&case.yaml, &(case.options)());
        let sorted = diagnostics.sorted();
        let found: Vec<&&Diagnostic> = sorted.iter().filter(|d| d.rule == case.rule).collect();
        let at = |d: &&&Diagnostic| (d.loc.line, d.loc.col) == (line, col);
        if found.len() != 1 || !found.iter().any(at) {
            failures.push(format!(
                "{}: expected once at {}:{}, got:\n{}",
                case.rule,
                line,
                col,
                dump(&sorted)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The rules found only by reading files, not text: a file that is not UTF-8.
#[test]
fn invalid_utf8_is_located_at_its_byte() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("providers.yaml");
    std::fs::write(&path, b"acme:\n    display_name: Ac\xffme\n").unwrap();
    let err = terapi_codegen::read_catalog_file(&path).unwrap_err();
    let terapi_codegen::Error::Catalog { diagnostics, .. } = &err else {
        panic!("{err}");
    };
    let d = diagnostics.sorted()[0].clone();
    assert_eq!(
        (d.rule, d.loc.line, d.loc.col, d.loc.offset),
        (Rule::InvalidUtf8, 2, 21, 26)
    );
    assert!(
        d.message.contains("byte 26 (line 2, column 21)"),
        "{}",
        d.message
    );
}

#[test]
fn every_rule_has_a_case() {
    let mut covered: BTreeSet<Rule> = cases().iter().map(|c| c.rule).collect();
    // The rules of the integrations file have their cases in `integrations.rs`.
    covered.extend(crate::integrations::covered_rules());
    // Found only from files (above) or by the size budget (`frontend.rs`).
    let elsewhere = [Rule::InvalidUtf8, Rule::SizeBudget];
    let missing: Vec<&str> = Rule::ALL
        .iter()
        .filter(|r| !covered.contains(r) && !elsewhere.contains(r))
        .map(|r| r.code())
        .collect();
    assert!(missing.is_empty(), "rules without a case: {missing:?}");
}

#[test]
fn diagnostics_show_their_code() {
    let case = case(Rule::UnusedParam);
    let d = lint_with(&case.yaml, &Options::default()).sorted()[0].clone();
    let (line, col) = case.place();
    assert_eq!(
        d.headline(Path::new("providers.yaml")),
        format!(
            "providers.yaml:{line}:{col}: warning[unused-param]: connection_config param `region` is declared but no template uses it"
        )
    );
}

#[test]
fn levels_are_set_per_rule_and_fixed_rules_stay_errors() {
    let yaml = &case(Rule::UnusedParam).yaml;
    let with = |rule: Rule, level: Level| {
        let mut lint_levels = LintLevels::default();
        lint_levels.set(rule, level).unwrap();
        lint_with(
            yaml,
            &Options {
                lint_levels,
                ..Options::default()
            },
        )
    };
    assert!(with(Rule::UnusedParam, Level::Allow).is_empty());
    let denied = with(Rule::UnusedParam, Level::Deny);
    assert_eq!(denied.sorted()[0].severity, Severity::Error);
    let mut all = LintLevels::default();
    all.set_code("warnings", Level::Deny).unwrap();
    all.set_code("unused-param", Level::Warn).unwrap();
    let ds = lint_with(
        yaml,
        &Options {
            lint_levels: all,
            ..Options::default()
        },
    );
    assert_eq!(
        ds.sorted()[0].severity,
        Severity::Warning,
        "a rule named on its own wins"
    );
    let mut levels = LintLevels::default();
    let err = levels.set(Rule::InvalidTemplate, Level::Allow).unwrap_err();
    assert!(err.contains("cannot be set to `allow`"), "{err}");
}

#[test]
fn older_catalogs_have_their_own_levels() {
    // Without `docs` and with an unknown key: allowed and a warning in an older catalog.
    let yaml = &Entry::new("acme")
        .no_display_name()
        .no_docs()
        .auth_mode("API_KEY")
        .field("scope_seprator", "','")
        .base_url(SUBDOMAIN_URL)
        .header("authorization", BEARER)
        .yaml();
    let ds = terapi_codegen::lint(yaml);
    let found: Vec<(Rule, Severity)> = ds.sorted().iter().map(|d| (d.rule, d.severity)).collect();
    assert_eq!(
        found,
        [
            (Rule::OlderFormat, Severity::Note),
            (Rule::UnknownKey, Severity::Warning)
        ]
    );
}

#[test]
fn explain_says_what_why_basis_and_level() {
    let text = Rule::UnusedParam.explain();
    assert!(
        text.starts_with("unused-param: A declared param that no template uses."),
        "{text}"
    );
    assert!(text.contains("basis: terapi's own policy"), "{text}");
    assert!(text.contains("default level: warn"), "{text}");
    let text = Rule::UndeclaredParam.explain();
    assert!(
        text.contains("basis: the platform's behaviour (its CI validator)"),
        "{text}"
    );
    assert!(Rule::InvalidTemplate.explain().contains("fixed: "));
}

/// RULES.md's table is the registry's, row for row: no rule missing, none stale, none extra.
#[test]
fn rules_md_has_the_table_of_rules() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../RULES.md");
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let header = "| code | level | basis | what it finds |";
    let tables: Vec<String> = text
        .split_inclusive('\n')
        .collect::<Vec<_>>()
        .split(|line| !line.starts_with('|'))
        .filter(|rows| rows.first().is_some_and(|row| row.starts_with(header)))
        .map(|rows| rows.concat())
        .collect();
    let table = Rule::markdown_table();
    assert!(
        tables == [table.clone()],
        "RULES.md must hold the current table of rules, once; replace its table with the \
         output of `terapi lint --rules`:\n{table}\nRULES.md has:\n{}",
        tables.join("\n")
    );
}

/// With `bidi-control` allowed, the output still carries no direction control (rustc refuses
/// them in comments): doc comments spell them out, literals escape them.
#[test]
fn allowed_bidi_controls_never_reach_the_output() {
    let yaml = case(Rule::BidiControl)
        .yaml
        .replace("description: The key.", "description: \"The \\u2067key.\"");
    let mut lint_levels = LintLevels::default();
    lint_levels.set(Rule::BidiControl, Level::Allow).unwrap();
    let code = terapi_codegen::generate(
        Path::new("p.yaml"),
        &yaml,
        &Options {
            lint_levels,
            ..Options::default()
        },
    )
    .unwrap_or_else(|e| panic!("{e}"))
    .code;
    assert!(
        !code
            .chars()
            .any(|c| matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')),
        "{code}"
    );
    assert!(code.contains("Acme [U+202E]emca"), "{code}");
    assert!(code.contains("The [U+2067]key."), "{code}");
    syn::parse_file(&code).unwrap();
}

/// A finding inherited through an `alias` is reported for the alias too, at the target's
/// line, naming the alias, with a note at the alias's `alias:` line.
#[test]
fn findings_inherited_through_an_alias_name_the_alias() {
    let yaml = &catalog(&[
        Entry::api_key("acme").header("authorization", "Bearer ${apiKye}"),
        Entry::new("acme-eu")
            .no_display_name()
            .no_docs()
            .field("alias", "acme")
            .field("docs", "https://acme.example/eu"),
    ]);
    let (line, col) = at(yaml, "${apiKye}");
    let alias_line = at(yaml, "alias: acme").0;
    let ds = terapi_codegen::lint(yaml);
    type Found = (u32, u32, String, Vec<(u32, String)>);
    let found: Vec<Found> = ds
        .sorted()
        .iter()
        .map(|d| {
            (
                d.loc.line,
                d.loc.col,
                d.message.clone(),
                d.notes.iter().map(|(l, n)| (l.line, n.clone())).collect(),
            )
        })
        .collect();
    assert_eq!(
        found,
        [
            (
                line,
                col,
                "unknown template variable `${apiKye}`".to_owned(),
                vec![]
            ),
            (
                line,
                col,
                "unknown template variable `${apiKye}` (in `acme-eu`, an alias of `acme`)"
                    .to_owned(),
                vec![(alias_line, "`acme-eu` inherits this from `acme`".to_owned())]
            ),
        ]
    );
}

/// A template that does not parse hides the params it uses: it is one error, with no
/// follow-on `no-config-reference` or `unused-param` for the params it named.
#[test]
fn a_broken_template_has_no_follow_on_findings() {
    let yaml = &api_key()
        .base_url("https://${connectionConfig.host || x}/v2")
        .config(Param::new("host").title("Host").description("The host."))
        .yaml();
    let ds = terapi_codegen::lint(yaml);
    let found: Vec<(Rule, u32, u32)> = ds
        .sorted()
        .iter()
        .map(|d| (d.rule, d.loc.line, d.loc.col))
        .collect();
    let (line, col) = at(yaml, "${connectionConfig.host || x}");
    assert_eq!(found, [(Rule::InvalidTemplate, line, col)]);
}

/// Found by the fuzzer: a direction control in a provider key reached doc comments that are
/// not made from the catalog's descriptions ("The declared ... params of `KEY`").
#[test]
fn a_direction_control_in_a_key_never_reaches_the_output() {
    let yaml = &Entry::new("a\u{202E}b")
        .display_name("AB")
        .auth_mode("NONE")
        .docs("https://ab.example/docs")
        .base_url("https://api.ab.example")
        .config(region("The region.").optional())
        .yaml();
    let mut lint_levels = LintLevels::default();
    lint_levels.set(Rule::BidiControl, Level::Allow).unwrap();
    lint_levels.set(Rule::UnusedParam, Level::Allow).unwrap();
    lint_levels
        .set(Rule::NoConfigReference, Level::Allow)
        .unwrap();
    let code = terapi_codegen::generate(
        Path::new("p.yaml"),
        yaml,
        &Options {
            lint_levels,
            ..Options::default()
        },
    )
    .unwrap_or_else(|e| panic!("{e}"))
    .code;
    assert!(
        !code
            .chars()
            .any(|c| matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')),
        "{code}"
    );
    assert!(code.contains("a[U+202E]b"), "{code}");
}
