//! Generation-time checks of `terapi-codegen`, through its public API (`lint`, `generate`):
//! each problem is reported at its exact line and column, with its severity, message and
//! "did you mean" help; every problem of a file is reported at once; hostile names and
//! descriptions still give valid code; output is deterministic.
//!
//! The catalogs are built with [`Entry`] (4-space indentation like the real providers.yaml)
//! or read from `tests/fixtures/`; the place a test expects is found in the text with [`at`]
//! (the one occurrence of a needle, at its `‸`).

use crate::common::*;

use std::path::Path;

use terapi_codegen::{Diagnostic, Error, Options, Rule, Severity, generate, generate_file, lint};

/// Asserts that `source` has exactly one diagnostic, an error containing `needle` at
/// `place` (a `(line, column)`), and returns it.
fn only_error(source: &str, needle: &str, place: (u32, u32)) -> Diagnostic {
    let ds = diagnostics(source);
    assert_eq!(
        ds.len(),
        1,
        "expected exactly one diagnostic, got:\n{}",
        dump(&ds)
    );
    let d = find(&ds, needle).clone();
    assert_at(&d, Severity::Error, place);
    d
}

/// `generate` with default options, under the name `providers.yaml`.
fn gen_code(source: &str) -> Result<String, Error> {
    generate(Path::new("providers.yaml"), source, &Options::default()).map(|g| g.code)
}

fn gen_ok(source: &str) -> String {
    match gen_code(source) {
        Ok(code) => code,
        Err(e) => panic!("generation failed:\n{e}"),
    }
}

/// `https://${connectionConfig.subdomain}.KEY.example`.
fn subdomain_url(key: &str) -> String {
    format!("https://${{connectionConfig.subdomain}}.{key}.example")
}

/// The `subdomain` connection param most entries below declare.
fn subdomain() -> Param {
    Param::new("subdomain")
        .title("Subdomain")
        .description("Your subdomain.")
}

fn region() -> Param {
    Param::new("region")
        .title("Region")
        .description("The region.")
}

// ---------------------------------------------------------------------------------------
// A valid catalog is clean.
// ---------------------------------------------------------------------------------------

#[test]
fn minimal_valid_catalog_has_no_diagnostics_and_generates() {
    let yaml = minimal();
    let ds = diagnostics(&yaml);
    assert!(ds.is_empty(), "unexpected diagnostics:\n{}", dump(&ds));
    let code = gen_ok(&yaml);
    assert!(code.contains("pub mod acme {"), "{code}");
    assert!(code.contains("pub subdomain: "), "{code}");
}

// ---------------------------------------------------------------------------------------
// Unknown keys, with a "did you mean".
// ---------------------------------------------------------------------------------------

#[test]
fn unknown_provider_key_is_located_with_suggestion() {
    let yaml = Entry::api_key("acme")
        .tail("conection_config:\n    region:\n        type: string\n        title: Region\n        description: The region.")
        .yaml();
    let d = only_error(
        &yaml,
        "unknown key `conection_config`",
        at(&yaml, "conection_config:"),
    );
    assert!(d.message.contains("provider entry"), "{}", d.message);
    assert_help(&d, "did you mean `connection_config`?");
}

#[test]
fn unknown_proxy_key_is_located_with_suggestion() {
    let yaml = Entry::api_key("acme")
        .proxy_raw("header:\n    authorization: Bearer ${apiKey}")
        .yaml();
    let d = only_error(
        &yaml,
        "unknown key `header` in `proxy`",
        at(&yaml, "header:"),
    );
    assert_help(&d, "did you mean `headers`?");
}

#[test]
fn unknown_param_definition_key_is_located_with_suggestion() {
    let yaml = Entry::api_key("acme")
        .base_url(&subdomain_url("acme"))
        .config(subdomain().field("patern", "'^[a-z]+$'"))
        .yaml();
    let d = only_error(&yaml, "unknown key `patern`", at(&yaml, "patern:"));
    assert!(d.message.contains("param definition"), "{}", d.message);
    assert_help(&d, "did you mean `pattern`?");
}

// ---------------------------------------------------------------------------------------
// Auth modes.
// ---------------------------------------------------------------------------------------

#[test]
fn unknown_auth_mode_is_located_at_the_value_with_suggestion() {
    let yaml = Entry::new("acme")
        .auth_mode("OAUTH2CC")
        .field("token_url", "https://acme.example/oauth/token")
        .base_url("https://api.acme.example")
        .credential(
            Param::new("client_id")
                .title("Client ID")
                .description("The OAuth client."),
        )
        .yaml();
    // Reported once (not again as "no auth_mode"). The `credentials` block makes it a
    // current-format catalog (no `older-format` note).
    let d = only_error(
        &yaml,
        "unknown auth mode `OAUTH2CC`",
        at(&yaml, "auth_mode: ‸OAUTH2CC"),
    );
    assert_eq!(d.rule, Rule::UnknownAuthMode);
    assert_help(&d, "did you mean `OAUTH2_CC`?");
}

#[test]
fn missing_auth_mode_is_located_at_the_provider_key() {
    let yaml = Entry::api_key("acme").no_auth_mode().yaml();
    let d = only_error(
        &yaml,
        "provider `acme` has no `auth_mode`",
        at(&yaml, "acme:"),
    );
    assert_eq!(d.rule, Rule::MissingAuthMode);
}

#[test]
fn api_key_without_credentials_is_located_at_the_provider_key() {
    // `connection_config` makes it a current-format catalog, where credentials are declared.
    let yaml = Entry::api_key("acme")
        .no_credentials()
        .base_url(&subdomain_url("acme"))
        .config(subdomain())
        .yaml();
    let d = only_error(
        &yaml,
        "auth mode API_KEY needs a `credentials.apiKey` param",
        at(&yaml, "acme:"),
    );
    assert_eq!(d.rule, Rule::MissingCredential);
}

#[test]
fn api_key_without_credentials_in_an_older_format_catalog_implies_the_key() {
    // No entry declares `connection_config` or `credentials`: the older format, where the
    // auth mode implies `apiKey` and the templates imply `subdomain`.
    let yaml = Entry::new("acme")
        .auth_mode("API_KEY")
        .base_url(&subdomain_url("acme"))
        .header("authorization", "Bearer ${apiKey}")
        .yaml();
    let ds = diagnostics(&yaml);
    assert_eq!(ds.len(), 1, "{}", dump(&ds));
    let d = find(&ds, "provider `acme` uses the older catalog format");
    assert_at(d, Severity::Note, at(&yaml, "acme:"));
    assert_eq!(d.rule, Rule::OlderFormat);
    assert!(d.message.contains("2 param(s) inferred"), "{}", d.message);
    let code = gen_ok(&yaml);
    assert!(code.contains("pub subdomain: "), "{code}");
    assert!(
        code.contains("pub api_key: ::terapi_runtime::Secret"),
        "{code}"
    );
}

#[test]
fn api_key_with_other_credentials_is_located_at_the_first_credential() {
    let yaml = Entry::api_key("acme")
        .no_credentials()
        .credential(Param::new("token").title("Token").description("The token."))
        .yaml();
    only_error(
        &yaml,
        "auth mode API_KEY needs a `credentials.apiKey` param",
        at(&yaml, "token:"),
    );
}

#[test]
fn oauth2_with_credentials_is_an_error_at_the_first_credential() {
    let yaml = Entry::new("acme")
        .auth_mode("OAUTH2")
        .field("authorization_url", "https://acme.example/oauth/authorize")
        .field("token_url", "https://acme.example/oauth/token")
        .base_url("https://api.acme.example")
        .credential(
            Param::new("client_secret")
                .title("Client Secret")
                .description("The secret."),
        )
        .yaml();
    only_error(
        &yaml,
        "auth mode OAUTH2 must not declare `credentials`",
        at(&yaml, "client_secret:"),
    );
}

// ---------------------------------------------------------------------------------------
// `${connectionConfig.x}` references and declared params.
// ---------------------------------------------------------------------------------------

#[test]
fn undeclared_param_in_plain_scalar_points_at_the_dollar() {
    let yaml = Entry::api_key("acme")
        .base_url("https://${connectionConfig.tenant}.acme.example")
        .yaml();
    let d = only_error(
        &yaml,
        "`${connectionConfig.tenant}` uses a param that `connection_config` does not declare",
        at(&yaml, "${connectionConfig.tenant}"),
    );
    assert_help(&d, "declare `tenant` under `connection_config`");
    assert_eq!(d.loc.len, "${connectionConfig.tenant}".len());
}

#[test]
fn undeclared_param_in_single_quoted_scalar_points_at_the_dollar() {
    let yaml = Entry::api_key("acme")
        .base_url("'https://${connectionConfig.tenant}.acme.example'")
        .yaml();
    // The `$`, not the quote before the value.
    only_error(
        &yaml,
        "`${connectionConfig.tenant}` uses a param that `connection_config` does not declare",
        at(&yaml, "'https://‸${connectionConfig.tenant}"),
    );
}

#[test]
fn undeclared_param_at_the_start_of_a_single_quoted_scalar_points_at_the_dollar() {
    let yaml = Entry::api_key("acme")
        .header("x-tenant", "'${connectionConfig.tenant}'")
        .yaml();
    // The `$` just after the quote.
    let d = only_error(
        &yaml,
        "`${connectionConfig.tenant}` uses a param that `connection_config` does not declare",
        at(&yaml, "'‸${connectionConfig.tenant}'"),
    );
    let start = yaml.find("${connectionConfig.tenant}").expect("in source");
    assert_eq!(
        (d.loc.offset, d.loc.len),
        (start, "${connectionConfig.tenant}".len())
    );
}

#[test]
fn undeclared_param_at_the_start_of_a_double_quoted_scalar_points_at_the_dollar() {
    let yaml = Entry::api_key("acme")
        .header("x-tenant", "\"${connectionConfig.tenant}\"")
        .yaml();
    only_error(
        &yaml,
        "`${connectionConfig.tenant}` uses a param that `connection_config` does not declare",
        at(&yaml, "\"‸${connectionConfig.tenant}\""),
    );
}

#[test]
fn columns_count_characters_not_bytes() {
    let yaml = Entry::api_key("acme")
        .raw("token_params:\n    audience: 'Grüße ${connectionConfig.tenant}'")
        .yaml();
    // `Grüße ` is 6 characters (8 bytes): the column counts characters.
    let (line, col) = at(&yaml, "${connectionConfig.tenant}");
    let offset = yaml.find("${connectionConfig.tenant}").expect("in source");
    let line_start = yaml[..offset].rfind('\n').map_or(0, |i| i + 1);
    assert_eq!(
        offset - line_start + 1,
        col as usize + 2,
        "two 2-byte characters"
    );
    let d = only_error(&yaml, "`${connectionConfig.tenant}`", (line, col));
    assert_eq!(d.loc.offset, offset);
}

#[test]
fn misspelled_param_reference_suggests_the_declared_one() {
    let yaml = Entry::api_key("acme")
        .base_url(&subdomain_url("acme"))
        .header("x-subdomain", "${connectionConfig.subdomian}")
        .config(subdomain())
        .yaml();
    let d = only_error(
        &yaml,
        "`${connectionConfig.subdomian}`",
        at(&yaml, "${connectionConfig.subdomian}"),
    );
    assert_help(&d, "did you mean `subdomain`?");
}

#[test]
fn unused_param_is_located_at_its_key() {
    let yaml = Entry::api_key("acme").config(region()).yaml();
    // No `${connectionConfig.*}` anywhere in the entry: an error.
    let d = only_error(
        &yaml,
        "`connection_config` is declared but no string of the entry references any `${connectionConfig.*}`",
        at(&yaml, "region:"),
    );
    assert_eq!(d.rule, Rule::NoConfigReference);
    assert_help(
        &d,
        "use the params in templates, or remove `connection_config`",
    );
}

#[test]
fn unused_param_next_to_a_used_one_is_a_warning_at_its_key() {
    let yaml = Entry::api_key("acme")
        .base_url(&subdomain_url("acme"))
        .config(subdomain())
        .config(region())
        .yaml();
    // A script may read it, so it is a warning and generates.
    let ds = diagnostics(&yaml);
    assert_eq!(ds.len(), 1, "{}", dump(&ds));
    let d = find(
        &ds,
        "connection_config param `region` is declared but no template uses it",
    );
    assert_at(d, Severity::Warning, at(&yaml, "region:"));
    assert_eq!(d.rule, Rule::UnusedParam);
    assert_help(
        d,
        "fine if a script reads it; else use it as `${connectionConfig.region}`, or remove it",
    );
    let code = gen_ok(&yaml);
    assert!(code.contains("pub region: "), "{code}");
}

#[test]
fn pattern_that_does_not_compile_is_located_at_the_value() {
    let yaml = Entry::api_key("acme")
        .base_url(&subdomain_url("acme"))
        .config(subdomain().pattern("^[a-z+$"))
        .yaml();
    // At the quoted value.
    let d = only_error(
        &yaml,
        "the `pattern` of param `subdomain` is not a valid ECMAScript regex: unclosed character class `[`",
        at(&yaml, "pattern: ‸'^[a-z+$'"),
    );
    assert_eq!(d.rule, Rule::InvalidPattern);
    assert_help(
        &d,
        "rewrite the pattern; with this rule allowed or warned, any value passes this check",
    );
}

#[test]
fn param_type_other_than_string_is_located_at_the_value() {
    let yaml = Entry::api_key("acme")
        .base_url(&subdomain_url("acme"))
        .config(subdomain().ty("int"))
        .yaml();
    only_error(
        &yaml,
        "param `subdomain` has `type: int`; the only type is `string`",
        at(&yaml, "type: ‸int"),
    );
}

// ---------------------------------------------------------------------------------------
// Name collisions in the generated Rust.
// ---------------------------------------------------------------------------------------

#[test]
fn provider_keys_with_the_same_rust_name_collide() {
    let foo = |key: &str, name: &str| {
        Entry::api_key(key)
            .display_name(name)
            .docs("https://foo.example/docs")
            .base_url("https://api.foo.example")
    };
    let yaml = catalog(&[foo("foo-bar", "Foo Bar"), foo("foo_bar", "Foo Bar (again)")]);
    // The later key is the error; the note points at the first.
    let d = only_error(
        &yaml,
        "provider keys `foo-bar` and `foo_bar` both map to the Rust module name `foo_bar`",
        at(&yaml, "foo_bar:"),
    );
    assert_eq!(d.notes.len(), 1, "{:?}", d.notes);
    let (loc, note) = &d.notes[0];
    assert_eq!((loc.line, loc.col), at(&yaml, "foo-bar:"));
    assert!(note.contains("`foo-bar`"), "{note}");
}

/// Params `partnerId` and `partner_id`, which map to the same Rust field.
fn partner_collision() -> String {
    Entry::api_key("acme")
        .header("x-partner-id", "${connectionConfig.partnerId}")
        .header("x-partner", "${connectionConfig.partner_id}")
        .config(
            Param::new("partnerId")
                .title("Partner ID")
                .description("The partner."),
        )
        .config(
            Param::new("partner_id")
                .title("Partner")
                .description("The partner, again."),
        )
        .yaml()
}

#[test]
fn params_with_the_same_rust_field_collide() {
    let yaml = partner_collision();
    // `partner_id` (the later) collides with `partnerId`.
    let d = only_error(
        &yaml,
        "params `partnerId` and `partner_id` both map to the Rust field name `partner_id`",
        at(&yaml, "partner_id:"),
    );
    assert_eq!(d.notes.len(), 1, "{:?}", d.notes);
    let (loc, note) = &d.notes[0];
    assert_eq!((loc.line, loc.col), at(&yaml, "partnerId:"));
    assert!(note.contains("`partnerId`"), "{note}");
}

// ---------------------------------------------------------------------------------------
// YAML errors.
// ---------------------------------------------------------------------------------------

#[test]
fn yaml_syntax_error_is_located() {
    let yaml = Entry::new("acme").auth_mode("API_KEY: x").yaml();
    // The second `:` cannot start a mapping value there.
    let d = only_error(&yaml, "invalid YAML: ", at(&yaml, "API_KEY‸: x"));
    assert!(d.message.starts_with("invalid YAML: "), "{}", d.message);
}

#[test]
fn yaml_unclosed_quote_is_located_at_the_quote() {
    let yaml = Entry::new("acme")
        .display_name("'Acme")
        .auth_mode("API_KEY")
        .no_docs()
        .yaml();
    // The quote that is never closed.
    let d = only_error(&yaml, "invalid YAML: ", at(&yaml, "'Acme"));
    assert!(d.message.contains("quote"), "{}", d.message);
}

#[test]
fn yaml_bad_indentation_is_located_at_the_line() {
    // Written out: the builder indents every line right. `auth_mode` is indented by 2
    // instead of 4.
    let yaml = src(r#"
acme:
    display_name: Acme
  auth_mode: API_KEY
    docs: https://acme.example/docs
"#);
    only_error(yaml, "invalid YAML: ", (3, 3));
}

#[test]
fn duplicate_key_in_an_entry_is_located_at_the_second_key() {
    let yaml = Entry::new("acme")
        .auth_mode("API_KEY")
        .field("display_name", "Acme again")
        .yaml();
    let d = only_error(
        &yaml,
        "duplicate mapping key",
        at(&yaml, "display_name: Acme again"),
    );
    assert!(d.message.starts_with("invalid YAML: "), "{}", d.message);
    assert!(d.message.contains("display_name"), "{}", d.message);
}

#[test]
fn duplicate_provider_key_is_located_at_the_second_key() {
    let yaml = catalog(&[
        Entry::new("acme").no_docs(),
        Entry::new("acme").display_name("Acme again").no_docs(),
    ]);
    let d = only_error(
        &yaml,
        "duplicate mapping key",
        at(&yaml, "\n‸acme:\n    display_name: Acme again"),
    );
    assert!(d.message.contains("acme"), "{}", d.message);
}

// ---------------------------------------------------------------------------------------
// Aliases.
// ---------------------------------------------------------------------------------------

#[test]
fn alias_to_a_missing_provider_is_located_with_suggestion() {
    let yaml = catalog(&[
        Entry::api_key("acme"),
        Entry::new("globex").no_docs().field("alias", "acmee"),
    ]);
    let ds = diagnostics(&yaml);
    let d = find(
        &ds,
        "`alias` names provider `acmee`, which the catalog does not have",
    );
    assert_at(d, Severity::Error, at(&yaml, "alias: ‸acmee"));
    assert_help(d, "did you mean `acme`?");
    // What the entry lacks would have come from the target: no cascade of "has no
    // `auth_mode`" / "has no `docs`" errors.
    assert_eq!(ds.len(), 1, "{ds:?}");
}

#[test]
fn valid_alias_inherits_from_its_target() {
    let yaml = catalog(&[
        Entry::api_key("acme"),
        Entry::new("acme-eu")
            .display_name("Acme (EU)")
            .no_docs()
            .field("alias", "acme"),
    ]);
    let ds = diagnostics(&yaml);
    assert!(ds.is_empty(), "{}", dump(&ds));
    let code = gen_ok(&yaml);
    assert!(code.contains("pub mod acme_eu {"), "{code}");
}

// ---------------------------------------------------------------------------------------
// Every problem at once.
// ---------------------------------------------------------------------------------------

/// A catalog of nine entries with one error each (and one with two), in a file.
const MANY_ERRORS: &str = include_str!("../fixtures/many_errors.yaml");

/// (the place, as [`at`] finds it; rule code; part of the message) of every error in
/// [`MANY_ERRORS`], in file order.
const MANY_ERRORS_EXPECTED: &[(&str, &str, &str)] = &[
    (
        "conection_config",
        "unknown-key",
        "unknown key `conection_config`",
    ),
    (
        "OAUTH2CC",
        "unknown-auth-mode",
        "unknown auth mode `OAUTH2CC`",
    ),
    (
        "${connectionConfig.tenant}",
        "undeclared-param",
        "`${connectionConfig.tenant}` uses a param",
    ),
    (
        "pattern: ‸'^[a-z+$'",
        "invalid-pattern",
        "the `pattern` of param `subdomain` is not a valid ECMAScript regex",
    ),
    (
        "type: ‸int",
        "param-type",
        "param `subdomain` has `type: int`",
    ),
    (
        "nomode:",
        "missing-auth-mode",
        "provider `nomode` has no `auth_mode`",
    ),
    (
        "nokey:",
        "missing-credential",
        "auth mode API_KEY needs a `credentials.apiKey` param",
    ),
    ("header:", "unknown-key", "unknown key `header` in `proxy`"),
    (
        "connection_config:\n        ‸region:",
        "no-config-reference",
        "`connection_config` is declared but no string of the entry references any `${connectionConfig.*}`",
    ),
];

#[test]
fn every_problem_of_a_file_is_reported_at_once() {
    let source = MANY_ERRORS;
    let ds = diagnostics(source);
    assert_eq!(
        lint(source).counts(),
        (MANY_ERRORS_EXPECTED.len(), 0),
        "{}",
        dump(&ds)
    );
    assert_eq!(ds.len(), MANY_ERRORS_EXPECTED.len(), "{}", dump(&ds));
    for (d, (place, code, needle)) in ds.iter().zip(MANY_ERRORS_EXPECTED) {
        assert!(d.message.contains(needle), "{needle:?} vs\n{}", dump(&ds));
        assert_eq!(d.rule.code(), *code, "{}", d.message);
        assert_at(d, Severity::Error, at(source, place));
    }

    // `generate` fails with the same, complete set.
    match generate(Path::new("providers.yaml"), source, &Options::default()) {
        Err(Error::Catalog { diagnostics, .. }) => {
            assert_eq!(diagnostics.counts(), (MANY_ERRORS_EXPECTED.len(), 0));
        }
        Err(e) => panic!("expected Error::Catalog, got: {e}"),
        Ok(_) => panic!("generation of a broken catalog succeeded"),
    }
}

// ---------------------------------------------------------------------------------------
// `generate` on broken input: a located report, never a panic.
// ---------------------------------------------------------------------------------------

#[test]
fn generate_reports_errors_like_a_compiler() {
    let source = MANY_ERRORS;
    let err = generate(Path::new("providers.yaml"), source, &Options::default())
        .expect_err("a broken catalog must not generate");
    assert!(
        matches!(err, Error::Catalog { .. }),
        "expected Error::Catalog, got: {err}"
    );
    let text = err.to_string();
    for (place, code, needle) in MANY_ERRORS_EXPECTED {
        let (line, col) = at(source, place);
        let headline = format!("providers.yaml:{line}:{col}: error[{code}]: ");
        let found = text
            .lines()
            .find(|l| l.starts_with(&headline))
            .unwrap_or_else(|| panic!("no line starting with {headline:?} in:\n{text}"));
        assert!(found.contains(needle), "{found}");
    }
    // The offending source lines are shown, each with a caret under the problem.
    assert!(text.contains("    conection_config:"), "{text}");
    assert!(
        text.contains("        base_url: https://${connectionConfig.tenant}.undeclared.example"),
        "{text}"
    );
    assert!(text.contains("did you mean `connection_config`?"), "{text}");
    assert!(text.contains("did you mean `OAUTH2_CC`?"), "{text}");
    assert!(text.lines().any(|l| l.contains('^')), "{text}");
    assert!(
        text.ends_with("providers.yaml: 9 errors, 0 warnings"),
        "{text}"
    );
}

#[test]
fn caret_is_under_the_offending_text() {
    let yaml = Entry::api_key("acme")
        .base_url("https://${connectionConfig.tenant}.acme.example")
        .yaml();
    let err = generate(Path::new("providers.yaml"), &yaml, &Options::default())
        .expect_err("undeclared param");
    let text = err.to_string();
    let lines: Vec<&str> = text.lines().collect();
    let (line, col) = at(&yaml, "${connectionConfig.tenant}");
    assert!(
        lines[0].starts_with(&format!(
            "providers.yaml:{line}:{col}: error[undeclared-param]: "
        )),
        "{text}"
    );
    let source_line = "        base_url: https://${connectionConfig.tenant}.acme.example";
    let i = lines
        .iter()
        .position(|l| l.ends_with(source_line))
        .unwrap_or_else(|| panic!("source line not shown:\n{text}"));
    let shown = lines[i];
    let caret = lines[i + 1];
    let dollar = shown.len() - source_line.len() + source_line.find('$').expect("has $");
    assert_eq!(
        caret.find('^'),
        Some(dollar),
        "caret not under `$`:\n{shown}\n{caret}"
    );
    let carets = caret[dollar..].chars().take_while(|&c| c == '^').count();
    assert_eq!(carets, "${connectionConfig.tenant}".len(), "{caret}");
}

#[test]
fn collision_report_shows_the_note_at_the_first_name() {
    let yaml = partner_collision();
    let text = gen_code(&yaml).expect_err("collision").to_string();
    let (line, col) = at(&yaml, "partner_id:");
    assert!(
        text.starts_with(&format!(
            "providers.yaml:{line}:{col}: error[field-collision]: "
        )),
        "{text}"
    );
    assert!(text.contains("        partnerId:"), "{text}");
    assert!(text.contains("`partnerId` is here"), "{text}");
}

#[test]
fn broken_inputs_never_panic() {
    let inputs = [
        "",
        "   \n",
        "# only a comment\n",
        "[]\n",
        "- a\n- b\n",
        "42\n",
        "acme\n",
        "acme: 1\n",
        "acme:\n",
        "acme: []\n",
        "acme: {}\n",
        "\tacme: 1\n",
        ":::\n",
        "acme:\n    display_name: [\n",
        "acme:\n    display_name: 'unclosed\n",
        "acme:\n    auth_mode: 7\n",
        "acme:\n    auth_mode: [API_KEY]\n",
        "acme:\n    proxy: x\n",
        "acme:\n    proxy:\n        base_url: 7\n",
        "acme:\n    proxy:\n        base_url: 'https://${'\n",
        "acme:\n    proxy:\n        base_url: https://${connectionConfig.}\n",
        "acme:\n    proxy:\n        base_url: https://${}\n",
        "acme:\n    proxy:\n        base_url: https://${a}${b(}\n",
        "acme:\n    proxy:\n        base_url: a || b || c\n",
        "acme:\n    proxy:\n        base_url: '${connectionConfig.x}'\n",
        "acme:\n    proxy:\n        base_url: 'https://ü.example/${connectionConfig.é}'\n",
        "acme:\n    connection_config:\n        x: 1\n",
        "acme:\n    connection_config: [1, 2]\n",
        "acme:\n    connection_config:\n        ? [a, b]\n        : c\n",
        "acme:\n    credentials:\n        apiKey: {type: string, pattern: '(?!x)'}\n",
        "acme:\n    alias: acme\n",
        "a:\n    alias: b\nb:\n    alias: a\n",
        "a:\n    alias: 7\n",
        "a:\n    alias: nope\n    auth_mode: NOPE\n",
        "acme:\n    token_expiration_buffer: 99999999999999999999999999\n",
        "acme:\n    token_url: {OAUTH3: x}\n",
        "? [a, b]\n: c\n",
        "&a acme: *a\n",
        "acme: &x\n    display_name: A\nother: *x\n",
        "acme: !!binary aGVsbG8=\n",
        "---\nacme: 1\n---\nother: 2\n",
        "ü:\n    display_name: ü\n    auth_mode: NONE\n    docs: https://ü.example\n",
        "\u{feff}acme: 1\n",
        "acme:\r\n    display_name: A\r\n",
        "acme:\n    display_name: \"\\u0000\"\n",
    ];
    for input in inputs {
        let linted = std::panic::catch_unwind(|| lint(input));
        assert!(linted.is_ok(), "lint panicked on {input:?}");
        let generated = std::panic::catch_unwind(|| {
            generate(Path::new("providers.yaml"), input, &Options::default())
        });
        let Ok(result) = generated else {
            panic!("generate panicked on {input:?}");
        };
        match result {
            Ok(_) => {}
            Err(Error::Catalog { diagnostics, .. }) => {
                assert!(diagnostics.has_errors(), "{input:?}");
                for d in diagnostics.sorted() {
                    assert!(
                        d.loc.line >= 1 && d.loc.col >= 1,
                        "{input:?}: {}",
                        d.message
                    );
                }
            }
            Err(Error::Internal(e)) => panic!("internal error on {input:?}: {e}"),
            Err(e) => panic!("unexpected error kind on {input:?}: {e}"),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Hostile names and descriptions still give valid code.
// ---------------------------------------------------------------------------------------

/// A minimal API_KEY entry under `key`.
fn simple_entry(key: &str) -> String {
    Entry::api_key(key)
        .display_name(&format!("Provider {key}"))
        .docs("https://example.com/docs")
        .base_url("https://api.example.com")
        .yaml()
}

/// An entry whose params have keys that are keywords, dotted, dashed or start with a digit,
/// each used in a header.
fn hostile_params() -> String {
    let params = [
        ("type", "x-type", "Type", "A keyword."),
        ("self", "x-self", "Self", "A keyword."),
        ("match", "x-match", "Match", "A keyword."),
        ("a.b", "x-a-b", "Dotted", "A dot."),
        ("x-y", "x-x-y", "Dashed", "A dash."),
        (
            "2fa",
            "x-two-fa",
            "Digit first",
            "Digits are outside the schema's key pattern, but must still generate.",
        ),
    ];
    let mut entry = Entry::api_key("params")
        .docs("https://example.com/docs")
        .base_url("https://api.example.com");
    for (key, header, title, description) in params {
        entry = entry
            .header(header, &format!("${{connectionConfig.{key}}}"))
            .config(Param::new(key).title(title).description(description));
    }
    entry.yaml()
}

#[test]
fn hostile_names_generate_valid_identifiers() {
    let keys = [
        "type",
        "self",
        "crate",
        "super",
        "1password",
        "3cx",
        "async",
    ];
    let mut source: String = keys.iter().map(|k| simple_entry(k) + "\n").collect();
    source.push_str(&hostile_params());
    let ds = diagnostics(&source);
    assert!(ds.is_empty(), "{}", dump(&ds));
    let code = gen_ok(&source);
    for module in [
        "type_",
        "self_",
        "crate_",
        "super_",
        "_1password",
        "_3cx",
        "async_",
        "params",
    ] {
        assert!(
            code.contains(&format!("pub mod {module} {{")),
            "no `pub mod {module}` in:\n{code}"
        );
    }
    for variant in [
        "Type",
        "Self_",
        "Crate",
        "Super",
        "P1password",
        "P3cx",
        "Async",
    ] {
        assert!(
            code.contains(&format!("Provider::{variant} ")),
            "no variant `{variant}` in:\n{code}"
        );
    }
    for field in ["type_", "self_", "match_", "a_b", "x_y", "_2fa"] {
        assert!(
            code.contains(&format!("pub {field}: ")),
            "no field `{field}` in:\n{code}"
        );
    }
    // Param keys stand as written in the embedded description (JSON in a string literal).
    for key in ["type", "a.b", "x-y", "2fa"] {
        let written = format!("\\\"key\\\":\\\"{key}\\\"");
        assert!(code.contains(&written), "key {key} not kept in:\n{code}");
    }
    assert!(
        code.contains("\"1password\""),
        "key 1password not kept in:\n{code}"
    );
    // No raw keyword or digit-first identifier sneaks through.
    for bad in [
        "pub mod type ",
        "pub mod self ",
        "pub mod crate ",
        "pub mod super ",
        "pub mod async ",
        "pub mod 1password",
        "pub mod 3cx",
        "pub type: ",
        "pub self: ",
        "pub match: ",
    ] {
        assert!(!code.contains(bad), "found {bad:?} in:\n{code}");
    }
}

#[test]
fn hostile_descriptions_stay_inside_doc_comments() {
    let yaml = Entry::api_key("acme")
        .base_url(&subdomain_url("acme"))
        .config(subdomain().description(r#"'"); std::process::exit(1); ("'"#))
        .no_credentials()
        .credential(
            Param::api_key()
                .description(r#""```rust\npanic!()\n```\n*/ see [link] and <b>bold</b>""#),
        )
        .yaml();
    let code = gen_ok(&yaml);
    let mut embedded = 0;
    for line in code.lines() {
        let t = line.trim_start();
        if t.starts_with("//") {
            continue;
        }
        // The embedded description (JSON with the form text) is one string literal on its
        // line: the text is inside it, escaped.
        if t.starts_with("\"{") {
            let literal: syn::LitStr = syn::parse_str(t.trim_end_matches(','))
                .unwrap_or_else(|e| panic!("not one string literal ({e}): {line}"));
            if literal.value().contains("std::process::exit(1)") {
                embedded += 1;
            }
            continue;
        }
        for bad in ["process::exit", "panic!", "*/", "[link]", "<b>"] {
            assert!(!t.contains(bad), "{bad:?} outside a comment: {line}");
        }
    }
    let docs: Vec<&str> = code
        .lines()
        .map(str::trim_start)
        .filter(|l| l.starts_with("///"))
        .collect();
    assert_eq!(
        embedded, 1,
        "the description is in the embedded JSON once:\n{code}"
    );
    let has = |want: &str| docs.iter().any(|l| l.contains(want));
    assert!(has("\"); std::process::exit(1); (\""), "{code}");
    assert!(has("\\`\\`\\`rust"), "{code}");
    assert!(has("/// panic!()"), "{code}");
    assert!(has("\\*/"), "{code}");
    assert!(has("\\[link\\]"), "{code}");
    assert!(has("\\<b\\>bold\\</b\\>"), "{code}");
    // No unescaped code fence: it would become a doctest.
    assert!(!docs.iter().any(|l| l.contains("/// ```")), "{code}");
}

// ---------------------------------------------------------------------------------------
// Determinism and the committed output.
// ---------------------------------------------------------------------------------------

fn real_catalog() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../providers.yaml")
}

#[test]
fn generation_is_deterministic() {
    let first = gen_ok(&minimal());
    let second = gen_ok(&minimal());
    assert_eq!(first.as_bytes(), second.as_bytes());

    let source = std::fs::read_to_string(real_catalog()).expect("read providers.yaml");
    let a = gen_ok(&source);
    let b = gen_ok(&source);
    assert_eq!(a.as_bytes(), b.as_bytes());
    // Only the file name of the path shows in the output.
    let elsewhere = generate(
        Path::new("/some/other/dir/providers.yaml"),
        &source,
        &Options::default(),
    )
    .expect("generates")
    .code;
    assert_eq!(a.as_bytes(), elsewhere.as_bytes());
}

#[test]
fn real_catalog_matches_the_committed_output() {
    let generated = generate_file(&real_catalog(), &Options::default())
        .expect("providers.yaml generates")
        .code;
    let committed = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../generated/providers.rs"),
    )
    .expect("read generated/providers.rs");
    assert!(
        generated.as_bytes() == committed.as_bytes(),
        "generated/providers.rs is stale; regenerate it with `cargo run -p terapi-cli -- generate`"
    );
}

// ---------------------------------------------------------------------------------------
// Provider selection.
// ---------------------------------------------------------------------------------------

#[test]
fn selection_generates_only_the_selected_provider() {
    let options = Options {
        providers: Some(vec!["personio".into()]),
        ..Default::default()
    };
    let code = generate_file(&real_catalog(), &options)
        .expect("generates")
        .code;
    assert!(code.contains("pub mod personio {"), "{code}");
    assert!(!code.contains("pub mod personio_v2"), "{code}");
    assert!(!code.contains("pub mod personio_recruiting"), "{code}");
    assert!(!code.contains("PersonioV2"), "{code}");
}

#[test]
fn unknown_selected_provider_is_an_error_with_suggestion() {
    let options = Options {
        providers: Some(vec!["personoi".into()]),
        ..Default::default()
    };
    match generate_file(&real_catalog(), &options) {
        Err(Error::UnknownProviders { unknown, .. }) => {
            assert_eq!(
                unknown,
                vec![("personoi".to_owned(), Some("personio".to_owned()))]
            );
        }
        Err(e) => panic!("expected Error::UnknownProviders, got: {e}"),
        Ok(_) => panic!("an unknown provider was accepted"),
    }
    let err = generate_file(&real_catalog(), &options).expect_err("unknown provider");
    let text = err.to_string();
    assert!(text.contains("`personoi`"), "{text}");
    assert!(text.contains("did you mean `personio`?"), "{text}");
}

// ---------------------------------------------------------------------------------------
// Rule levels and invalid providers through the `Builder`.
// ---------------------------------------------------------------------------------------

/// `acme` declares `region`, which no template uses (`unused-param`); `broken` has an
/// unknown auth mode.
fn builder_catalog() -> String {
    catalog(&[
        Entry::api_key("acme")
            .base_url(&subdomain_url("acme"))
            .config(subdomain())
            .config(region()),
        Entry::new("broken")
            .auth_mode("OAUTH2CC")
            .base_url("https://api.broken.example"),
    ])
}

/// A `Builder` of [`builder_catalog`] (written to `dir`), printing no cargo directives.
fn builder(dir: &tempfile::TempDir) -> terapi_codegen::Builder {
    let path = dir.path().join("providers.yaml");
    std::fs::write(&path, builder_catalog()).expect("write");
    // Laid out for reading, so that the assertions below can search the text.
    terapi_codegen::Builder::new()
        .input(&path)
        .cargo_directives(false)
        .formatted(true)
}

/// The diagnostics of a failed generation.
fn catalog_errors(result: Result<String, Error>) -> Vec<Diagnostic> {
    match result {
        Err(Error::Catalog { diagnostics, .. }) => {
            diagnostics.sorted().into_iter().cloned().collect()
        }
        Err(e) => panic!("expected Error::Catalog, got: {e}"),
        Ok(code) => panic!("generation succeeded:\n{code}"),
    }
}

#[test]
fn builder_sets_rule_levels_and_skips_invalid_providers() {
    use terapi_codegen::{InvalidProviders, Level};
    let dir = tempfile::tempdir().expect("temp dir");

    // Only `acme`: the unused param is a warning, and it generates.
    let code = builder(&dir)
        .providers(["acme"])
        .generate_to_string()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(code.contains("pub region: "), "{code}");

    // Denied, per rule or as a warning, it fails at its key.
    for b in [
        builder(&dir).lint_level(Rule::UnusedParam, Level::Deny),
        builder(&dir).warnings_level(Level::Deny),
    ] {
        let ds = catalog_errors(b.providers(["acme"]).generate_to_string());
        assert_eq!(ds.len(), 1, "{}", dump(&ds));
        let d = find(
            &ds,
            "connection_config param `region` is declared but no template uses it",
        );
        assert_eq!(d.rule, Rule::UnusedParam);
        assert_at(d, Severity::Error, at(&builder_catalog(), "region:"));
    }

    // A fixed rule cannot be lowered: generation fails with the reason.
    match builder(&dir)
        .lint_level(Rule::UnknownAuthMode, Level::Allow)
        .generate_to_string()
    {
        Err(Error::InvalidOption(why)) => assert!(
            why.contains("rule `unknown-auth-mode` cannot be set to `allow`"),
            "{why}"
        ),
        Err(e) => panic!("expected Error::InvalidOption, got: {e}"),
        Ok(_) => panic!("a fixed rule was allowed"),
    }

    // The whole catalog fails on `broken` ...
    let ds = catalog_errors(builder(&dir).generate_to_string());
    let d = find(&ds, "unknown auth mode `OAUTH2CC`");
    assert_at(d, Severity::Error, at(&builder_catalog(), "OAUTH2CC"));
    // ... unless invalid providers are skipped: `broken` is left out with one warning.
    let code = builder(&dir)
        .invalid_providers(InvalidProviders::Skip)
        .generate_to_string()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(code.contains("pub mod acme {"), "{code}");
    assert!(!code.contains("pub mod broken"), "{code}");
    assert!(!code.contains("Broken"), "{code}");
}
