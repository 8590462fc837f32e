//! Every rule of the registry (`codegen/src/rules.rs`) is found by a catalog here, at its
//! exact line and column, with its code; a test fails when a rule has no case. Also: the
//! levels (`-A/-W/-D`, fixed rules, eras), `--explain`, and the table of rules in RULES.md.
//!
//! Each catalog starts right after its opening `r#"` + newline, so its first line is line 1.

mod common;
use common::src;

use std::collections::BTreeSet;
use std::path::Path;

use terapi_codegen::{
    Diagnostic, InvalidProviders, Level, LintLevels, Options, Rule, Severity, lint_with,
};

/// One case: a catalog, the rule it breaks, where, and the levels to lint it with (for
/// rules that are allowed by default).
struct Case {
    rule: Rule,
    yaml: &'static str,
    line: u32,
    col: u32,
    options: fn() -> Options,
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

/// An API_KEY entry `acme` (lines 1 to 4), then `$body` (from line 5), then its `apiKey`
/// credential.
macro_rules! api_key {
    ($body:literal) => {
        concat!(
            "acme:\n    display_name: Acme\n    auth_mode: API_KEY\n    docs: https://acme.example/docs\n",
            $body,
            "    credentials:\n        apiKey:\n            type: string\n            title: API Key\n            description: The key.\n"
        )
    };
}

/// A valid API_KEY entry; cases below are variations of it.
const BASE: &str = r#"
acme:
    display_name: Acme
    auth_mode: API_KEY
    docs: https://acme.example/docs
    proxy:
        base_url: https://${connectionConfig.subdomain}.acme.example
        headers:
            authorization: Bearer ${apiKey}
    connection_config:
        subdomain:
            type: string
            title: Subdomain
            description: Your subdomain.
            pattern: '^[a-z0-9-]+$'
    credentials:
        apiKey:
            type: string
            title: API Key
            description: The key.
"#;

const CASES: &[Case] = &[
    Case {
        rule: Rule::YamlSyntax,
        yaml: "acme:\n    display_name: [Acme\n",
        line: 2,
        col: 19,
        options: defaults,
    },
    Case {
        rule: Rule::UnknownKey,
        yaml: api_key!(
            r#"    scope_seprator: ','
    proxy:
        base_url: https://api.acme.example
"#
        ),
        line: 5,
        col: 5,
        options: defaults,
    },
    Case {
        rule: Rule::WrongType,
        yaml: api_key!(
            r#"    default_scopes: { a: b }
    proxy:
        base_url: https://api.acme.example
"#
        ),
        line: 5,
        col: 21,
        options: defaults,
    },
    Case {
        rule: Rule::MissingKey,
        yaml: api_key!(
            r#"    proxy:
        headers:
            authorization: Bearer ${apiKey}
"#
        ),
        line: 6,
        col: 9,
        options: defaults,
    },
    Case {
        rule: Rule::LegacySpelling,
        yaml: api_key!(
            r#"    proxy:
        base_url: https://api.acme.example
        retry:
            after: retry-after
"#
        ),
        line: 8,
        col: 20,
        options: warn_legacy,
    },
    Case {
        rule: Rule::UnknownAlias,
        yaml: r#"
acme:
    alias: acmee
    docs: https://acme.example/docs
    credentials:
        apiKey:
            type: string
            title: API Key
            description: The key.
"#,
        line: 2,
        col: 12,
        options: defaults,
    },
    Case {
        rule: Rule::UnknownAuthMode,
        yaml: r#"
acme:
    display_name: Acme
    auth_mode: APIKEY
    docs: https://acme.example/docs
    proxy:
        base_url: https://api.acme.example
    credentials:
        apiKey:
            type: string
            title: API Key
            description: The key.
"#,
        line: 3,
        col: 16,
        options: defaults,
    },
    Case {
        rule: Rule::OlderFormat,
        yaml: r#"
acme:
    auth_mode: API_KEY
    proxy:
        base_url: https://${connectionConfig.subdomain}.acme.example
        headers:
            authorization: Bearer ${apiKey}
"#,
        line: 1,
        col: 1,
        options: defaults,
    },
    Case {
        rule: Rule::MissingAuthMode,
        yaml: r#"
acme:
    display_name: Acme
    docs: https://acme.example/docs
    proxy:
        base_url: https://api.acme.example
    credentials:
        apiKey:
            type: string
            title: API Key
            description: The key.
"#,
        line: 1,
        col: 1,
        options: defaults,
    },
    Case {
        rule: Rule::MissingDocs,
        yaml: r#"
acme:
    display_name: Acme
    auth_mode: API_KEY
    proxy:
        base_url: https://api.acme.example
        headers:
            authorization: Bearer ${apiKey}
    credentials:
        apiKey:
            type: string
            title: API Key
            description: The key.
"#,
        line: 1,
        col: 1,
        options: defaults,
    },
    Case {
        rule: Rule::UnknownCategory,
        yaml: r#"
acme:
    display_name: Acme
    categories:
        - hrr
    auth_mode: API_KEY
    docs: https://acme.example/docs
    proxy:
        base_url: https://api.acme.example
        headers:
            authorization: Bearer ${apiKey}
    credentials:
        apiKey:
            type: string
            title: API Key
            description: The key.
"#,
        line: 4,
        col: 11,
        options: defaults,
    },
    Case {
        rule: Rule::ProviderCollision,
        yaml: r#"
acme-x:
    display_name: Acme
    auth_mode: NONE
    docs: https://acme.example/docs
    proxy:
        base_url: https://api.acme.example
acme_x:
    display_name: Acme
    auth_mode: NONE
    docs: https://acme.example/docs
    proxy:
        base_url: https://api.acme.example
    connection_config:
        region:
            type: string
            title: Region
            description: The region.
            optional: true
"#,
        line: 7,
        col: 1,
        options: defaults,
    },
    Case {
        rule: Rule::InvalidName,
        yaml: r#"
acme:
    display_name: Acme
    auth_mode: API_KEY
    docs: https://acme.example/docs
    proxy:
        base_url: https://api.acme.example
        headers:
            authorization: Bearer ${apiKey}
    credentials:
        apiKey:
            type: string
            title: API Key
            description: The key.
        '':
            type: string
            title: Empty
            description: No name.
"#,
        line: 14,
        col: 9,
        options: defaults,
    },
    Case {
        rule: Rule::BidiControl,
        yaml: "acme:\n    display_name: Acme \u{202E}emca\n    auth_mode: API_KEY\n    docs: https://acme.example/docs\n    proxy:\n        base_url: https://api.acme.example\n        headers:\n            authorization: Bearer ${apiKey}\n    credentials:\n        apiKey:\n            type: string\n            title: API Key\n            description: The key.\n",
        line: 2,
        col: 24,
        options: defaults,
    },
    Case {
        rule: Rule::VerificationConflict,
        yaml: api_key!(
            r#"    credentials_verification_script: acmeVerify
    proxy:
        base_url: https://api.acme.example
        headers:
            authorization: Bearer ${apiKey}
        verification:
            method: GET
            endpoints:
                - /me
"#
        ),
        line: 11,
        col: 13,
        options: defaults,
    },
    Case {
        rule: Rule::MissingTokenUrl,
        yaml: r#"
acme:
    display_name: Acme
    auth_mode: OAUTH2_CC
    docs: https://acme.example/docs
    proxy:
        base_url: https://api.acme.example
    credentials:
        client_id:
            type: string
            title: Client ID
            description: The id.
"#,
        line: 1,
        col: 1,
        options: defaults,
    },
    Case {
        rule: Rule::ParamType,
        yaml: r#"
acme:
    display_name: Acme
    auth_mode: API_KEY
    docs: https://acme.example/docs
    proxy:
        base_url: https://api.acme.example
        headers:
            authorization: Bearer ${apiKey}
    credentials:
        apiKey:
            type: number
            title: API Key
            description: The key.
"#,
        line: 11,
        col: 19,
        options: defaults,
    },
    Case {
        rule: Rule::FieldCollision,
        yaml: r#"
acme:
    display_name: Acme
    auth_mode: API_KEY
    docs: https://acme.example/docs
    proxy:
        base_url: https://api.acme.example
        headers:
            authorization: Bearer ${apiKey}
    credentials:
        apiKey:
            type: string
            title: API Key
            description: The key.
        api_key:
            type: string
            title: API Key
            description: The key.
"#,
        line: 14,
        col: 9,
        options: defaults,
    },
    Case {
        rule: Rule::InvalidPattern,
        yaml: r#"
acme:
    display_name: Acme
    auth_mode: API_KEY
    docs: https://acme.example/docs
    proxy:
        base_url: https://api.acme.example
        headers:
            authorization: Bearer ${apiKey}
    credentials:
        apiKey:
            type: string
            title: API Key
            description: The key.
            pattern: '^[z-a]+$'
"#,
        line: 14,
        col: 22,
        options: defaults,
    },
    Case {
        rule: Rule::UnsupportedPattern,
        yaml: r#"
acme:
    display_name: Acme
    auth_mode: API_KEY
    docs: https://acme.example/docs
    proxy:
        base_url: https://api.acme.example
        headers:
            authorization: Bearer ${apiKey}
    credentials:
        apiKey:
            type: string
            title: API Key
            description: The key.
            pattern: '^[]a$'
"#,
        line: 14,
        col: 22,
        options: defaults,
    },
    Case {
        rule: Rule::ExampleMismatch,
        yaml: r#"
acme:
    display_name: Acme
    auth_mode: API_KEY
    docs: https://acme.example/docs
    proxy:
        base_url: https://api.acme.example
        headers:
            authorization: Bearer ${apiKey}
    credentials:
        apiKey:
            type: string
            title: API Key
            description: The key.
            pattern: '^[a-z]+$'
            example: ABC123
"#,
        line: 15,
        col: 22,
        options: defaults,
    },
    Case {
        rule: Rule::UndeclaredParam,
        yaml: api_key!(
            r#"    proxy:
        base_url: https://${connectionConfig.subdomian}.acme.example
        headers:
            authorization: Bearer ${apiKey}
    connection_config:
        subdomain:
            type: string
            title: Subdomain
            description: Your subdomain.
"#
        ),
        line: 6,
        col: 27,
        options: defaults,
    },
    Case {
        rule: Rule::NoConfigReference,
        yaml: api_key!(
            r#"    proxy:
        base_url: https://api.acme.example
        headers:
            authorization: Bearer ${apiKey}
    connection_config:
        subdomain:
            type: string
            title: Subdomain
            description: Your subdomain.
"#
        ),
        line: 10,
        col: 9,
        options: defaults,
    },
    Case {
        rule: Rule::UnusedParam,
        yaml: api_key!(
            r#"    proxy:
        base_url: https://${connectionConfig.subdomain}.acme.example
        headers:
            authorization: Bearer ${apiKey}
    connection_config:
        subdomain:
            type: string
            title: Subdomain
            description: Your subdomain.
        region:
            type: string
            title: Region
            description: Read by a script.
"#
        ),
        line: 14,
        col: 9,
        options: defaults,
    },
    Case {
        rule: Rule::MissingCredential,
        yaml: r#"
acme:
    display_name: Acme
    auth_mode: API_KEY
    docs: https://acme.example/docs
    proxy:
        base_url: https://api.acme.example
    credentials:
        token:
            type: string
            title: Token
            description: The token.
"#,
        line: 8,
        col: 9,
        options: defaults,
    },
    Case {
        rule: Rule::UsualCredential,
        yaml: r#"
acme:
    display_name: Acme
    auth_mode: BASIC
    docs: https://acme.example/docs
    proxy:
        base_url: https://api.acme.example
    credentials:
        username:
            type: string
            title: User
            description: The user.
"#,
        line: 8,
        col: 9,
        options: defaults,
    },
    Case {
        rule: Rule::ForbiddenCredentials,
        yaml: r#"
acme:
    display_name: Acme
    auth_mode: OAUTH2
    docs: https://acme.example/docs
    authorization_url: https://acme.example/authorize
    token_url: https://acme.example/token
    proxy:
        base_url: https://api.acme.example
    credentials:
        token:
            type: string
            title: Token
            description: The token.
"#,
        line: 10,
        col: 9,
        options: defaults,
    },
    Case {
        rule: Rule::InvalidTemplate,
        yaml: api_key!(
            r#"    proxy:
        base_url: https://api.acme.example
        headers:
            authorization: Bearer ${apiKey
"#
        ),
        line: 8,
        col: 35,
        options: defaults,
    },
    Case {
        rule: Rule::MissingDollar,
        yaml: api_key!(
            r#"    proxy:
        base_url: https://{connectionConfig.subdomain}.acme.example
        headers:
            authorization: Bearer ${apiKey}
    connection_config:
        subdomain:
            type: string
            title: Subdomain
            description: Your subdomain.
"#
        ),
        line: 6,
        col: 27,
        options: defaults,
    },
    Case {
        rule: Rule::UndeclaredCredential,
        yaml: api_key!(
            r#"    proxy:
        base_url: https://api.acme.example
        headers:
            authorization: Bearer ${apiKey}
            x-secret: ${credentials.secret}
"#
        ),
        line: 9,
        col: 23,
        options: defaults,
    },
    Case {
        rule: Rule::UnknownVariable,
        yaml: api_key!(
            r#"    proxy:
        base_url: https://api.acme.example
        headers:
            authorization: Bearer ${apiKye}
"#
        ),
        line: 8,
        col: 35,
        options: defaults,
    },
    Case {
        rule: Rule::UnknownFunction,
        yaml: api_key!(
            r#"    proxy:
        base_url: https://api.acme.example
        headers:
            authorization: Basic ${base46(${apiKey})}
"#
        ),
        line: 8,
        col: 34,
        options: defaults,
    },
    Case {
        rule: Rule::BareVariable,
        yaml: api_key!(
            r#"    proxy:
        base_url: https://api.acme.example
        headers:
            authorization: Bearer ${apiKey}
            x-region: ${region}
    connection_config:
        region:
            type: string
            title: Region
            description: The region.
"#
        ),
        line: 9,
        col: 23,
        options: defaults,
    },
    Case {
        rule: Rule::UrlPlaceholder,
        yaml: api_key!(
            r#"    proxy:
        base_url: https://api.acme.example/${now:X}
        headers:
            authorization: Bearer ${apiKey}
"#
        ),
        line: 6,
        col: 44,
        options: defaults,
    },
    Case {
        rule: Rule::InvalidUrl,
        yaml: api_key!(
            r#"    proxy:
        base_url: ftp://api.acme.example
        headers:
            authorization: Bearer ${apiKey}
"#
        ),
        line: 6,
        col: 19,
        options: defaults,
    },
    Case {
        rule: Rule::InvalidHeader,
        yaml: api_key!(
            r#"    proxy:
        base_url: https://api.acme.example
        headers:
            'x key': Bearer ${apiKey}
"#
        ),
        line: 8,
        col: 13,
        options: defaults,
    },
    Case {
        rule: Rule::SecretInUrl,
        yaml: api_key!(
            r#"    proxy:
        base_url: https://api.acme.example/${apiKey}
"#
        ),
        line: 6,
        col: 44,
        options: defaults,
    },
    Case {
        rule: Rule::SecretInQuery,
        yaml: api_key!(
            r#"    proxy:
        base_url: https://api.acme.example
        query:
            key: ${apiKey}
"#
        ),
        line: 8,
        col: 18,
        options: defaults,
    },
    Case {
        rule: Rule::UnknownSelection,
        yaml: BASE,
        line: 1,
        col: 1,
        options: select_unknown,
    },
    Case {
        rule: Rule::ProviderSkipped,
        yaml: api_key!(
            r#"    proxy:
        base_url: https://api.acme.example
        headers:
            authorization: Bearer ${apiKye}
"#
        ),
        line: 1,
        col: 1,
        options: skip_invalid,
    },
];

fn dump(ds: &[&Diagnostic]) -> String {
    ds.iter()
        .map(|d| format!("  {}", d.headline(Path::new("t.yaml"))))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn every_rule_is_found_at_its_exact_place() {
    let mut failures = Vec::new();
    for case in CASES {
        let diagnostics = lint_with(src(case.yaml), &(case.options)());
        let sorted = diagnostics.sorted();
        let found: Vec<&&Diagnostic> = sorted.iter().filter(|d| d.rule == case.rule).collect();
        let at = |d: &&&Diagnostic| (d.loc.line, d.loc.col) == (case.line, case.col);
        if found.len() != 1 || !found.iter().any(at) {
            failures.push(format!(
                "{}: expected once at {}:{}, got:\n{}",
                case.rule,
                case.line,
                case.col,
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
    let covered: BTreeSet<Rule> = CASES.iter().map(|c| c.rule).collect();
    // Found only from files (above) or by the size budget (codegen/tests/frontend.rs).
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
    let yaml = CASES
        .iter()
        .find(|c| c.rule == Rule::UnusedParam)
        .unwrap()
        .yaml;
    let d = lint_with(src(yaml), &Options::default()).sorted()[0].clone();
    assert_eq!(
        d.headline(Path::new("providers.yaml")),
        "providers.yaml:14:9: warning[unused-param]: connection_config param `region` is declared but no template uses it"
    );
}

#[test]
fn levels_are_set_per_rule_and_fixed_rules_stay_errors() {
    let yaml = src(CASES
        .iter()
        .find(|c| c.rule == Rule::UnusedParam)
        .unwrap()
        .yaml);
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
    let yaml = src(r#"
acme:
    auth_mode: API_KEY
    scope_seprator: ','
    proxy:
        base_url: https://${connectionConfig.subdomain}.acme.example
        headers:
            authorization: Bearer ${apiKey}
"#);
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
         output of `cargo run -p terapi-codegen -- lint --rules`:\n{table}\nRULES.md has:\n{}",
        tables.join("\n")
    );
}

/// With `bidi-control` allowed, the output still carries no direction control (rustc refuses
/// them in comments): doc comments spell them out, literals escape them.
#[test]
fn allowed_bidi_controls_never_reach_the_output() {
    let yaml = CASES
        .iter()
        .find(|c| c.rule == Rule::BidiControl)
        .unwrap()
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
    let yaml = src(r#"
acme:
    display_name: Acme
    auth_mode: API_KEY
    docs: https://acme.example/docs
    proxy:
        base_url: https://api.acme.example
        headers:
            authorization: Bearer ${apiKye}
    credentials:
        apiKey:
            type: string
            title: API Key
            description: The key.
acme-eu:
    alias: acme
    docs: https://acme.example/eu
"#);
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
                8,
                35,
                "unknown template variable `${apiKye}`".to_owned(),
                vec![]
            ),
            (
                8,
                35,
                "unknown template variable `${apiKye}` (in `acme-eu`, an alias of `acme`)"
                    .to_owned(),
                vec![(15, "`acme-eu` inherits this from `acme`".to_owned())]
            ),
        ]
    );
}

/// A template that does not parse hides the params it uses: it is one error, with no
/// follow-on `no-config-reference` or `unused-param` for the params it named.
#[test]
fn a_broken_template_has_no_follow_on_findings() {
    let yaml = src(r#"
acme:
    display_name: Acme
    auth_mode: API_KEY
    docs: https://acme.example/docs
    proxy:
        base_url: https://${connectionConfig.host || x}/v2
        headers:
            authorization: Bearer ${apiKey}
    connection_config:
        host:
            type: string
            title: Host
            description: The host.
    credentials:
        apiKey:
            type: string
            title: API Key
            description: The key.
"#);
    let ds = terapi_codegen::lint(yaml);
    let found: Vec<(Rule, u32, u32)> = ds
        .sorted()
        .iter()
        .map(|d| (d.rule, d.loc.line, d.loc.col))
        .collect();
    assert_eq!(found, [(Rule::InvalidTemplate, 6, 27)]);
}

/// Found by the fuzzer: a direction control in a provider key reached doc comments that are
/// not made from the catalog's descriptions ("The declared ... params of `KEY`").
#[test]
fn a_direction_control_in_a_key_never_reaches_the_output() {
    let yaml = "a\u{202E}b:\n    display_name: AB\n    auth_mode: NONE\n    docs: https://ab.example/docs\n    proxy:\n        base_url: https://api.ab.example\n    connection_config:\n        region:\n            type: string\n            title: Region\n            description: The region.\n            optional: true\n";
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
