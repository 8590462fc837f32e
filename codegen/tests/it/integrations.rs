//! The integrations file (`integrations.yaml`): every rule its reader reports is found by a
//! file here, at its exact line and column, with its code and message; several files for the
//! rules with several triggers. Also: every problem in one run, what a valid file loads into,
//! the generated Rust (deterministic, no path of the machine), and hostile input.
//!
//! The place each case expects is found in its text with [`at`] (the one occurrence of a
//! needle, at its `‸`).

use crate::common::*;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use terapi_codegen::{
    Diagnostic, Error, LintLevels, Rule, Severity, generate_integrations, lint_integrations,
    load_integrations, load_integrations_file,
};
use terapi_model::integration::{ActionSpec, BodyKind, FieldSpec, FieldType, Method};
use terapi_model::paginate::{OffsetStep, PageKind};
use terapi_model::sync::{SinceFormat, SyncSpec};

/// The catalog's keys the cases check provider keys against.
const PROVIDERS: &[&str] = &["acme", "personio", "personio-v2", "personio-recruiting"];

/// Every diagnostic of an integrations file, sorted by position.
fn findings(source: &str, providers: Option<&[&str]>) -> Vec<Diagnostic> {
    let (_, _, ds) = lint_integrations(source, providers, &LintLevels::default());
    ds.sorted().into_iter().cloned().collect()
}

/// One case: a file, the rule it breaks, where (as [`at`] finds it), a part of the message,
/// and the help when it matters (a did-you-mean).
struct Case {
    rule: Rule,
    /// What the file shows (for failure messages).
    trigger: &'static str,
    yaml: String,
    at: &'static str,
    message: &'static str,
    help: Option<&'static str>,
}

impl Case {
    fn new(
        rule: Rule,
        trigger: &'static str,
        yaml: &str,
        at: &'static str,
        message: &'static str,
    ) -> Self {
        Case {
            rule,
            trigger,
            yaml: src(yaml).to_owned(),
            at,
            message,
            help: None,
        }
    }

    fn help(self, help: &'static str) -> Self {
        Case {
            help: Some(help),
            ..self
        }
    }

    /// Warnings for the rules that warn by default, errors for the others.
    fn severity(&self) -> Severity {
        match self.rule {
            Rule::IdempotentPost | Rule::UnusedModel => Severity::Warning,
            _ => Severity::Error,
        }
    }

    /// What is wrong with what the file reports, if anything: the case's finding must be
    /// the only one (no follow-on findings), at its place, with its message and help.
    fn check(&self) -> Result<(), String> {
        let (line, col) = at(&self.yaml, self.at);
        let ds = findings(&self.yaml, Some(PROVIDERS));
        let fail = |why: &str| {
            Err(format!(
                "{} ({}): {why}; expected at {line}:{col} containing {:?}, got:\n{}",
                self.rule,
                self.trigger,
                self.message,
                dump(&ds)
            ))
        };
        let [d] = &ds[..] else {
            return fail("not exactly one finding");
        };
        if d.rule != self.rule {
            return fail("another rule");
        }
        if (d.severity, d.loc.line, d.loc.col) != (self.severity(), line, col) {
            return fail("wrong severity or place");
        }
        if !d.message.contains(self.message) {
            return fail("wrong message");
        }
        if self.help.is_some() && d.help.as_deref() != self.help {
            return fail("wrong help");
        }
        Ok(())
    }
}

/// Every case, grouped by rule.
fn cases() -> Vec<Case> {
    vec![
        // --- reading the file ------------------------------------------------------------
        Case::new(
            Rule::YamlSyntax,
            "a duplicate model",
            r#"
integrations:
  acme:
    syncs:
      people:
        endpoint: GET /people
        output: Person
models:
  Person:
    id: string
  Person:
    name: string
"#,
            "Person:\n    name",
            "duplicate",
        ),
        Case::new(
            Rule::UnknownKey,
            "a typo of a sync's key",
            r#"
integrations:
  acme:
    syncs:
      people:
        endpoint: GET /people
        ouptut: Person
"#,
            "ouptut",
            "unknown key `ouptut` in the sync `people`",
        )
        .help("did you mean `output`?"),
        Case::new(
            Rule::UnknownKey,
            "a top-level key",
            r#"
integrations: {}
modles: {}
"#,
            "modles",
            "unknown key `modles` in the integrations file",
        )
        .help("did you mean `models`?"),
        Case::new(
            Rule::UnknownKey,
            "a key of `openapi`",
            r#"
openapi:
  document: docs
integrations: {}
"#,
            "document:",
            "unknown key `document` in `openapi`",
        )
        .help("did you mean `documents`?"),
        Case::new(
            Rule::UnknownKey,
            "`incremental` on a full sync",
            r#"
integrations:
  acme:
    syncs:
      people:
        endpoint: GET /people
        incremental: { param: since }
"#,
            "{ param: since }",
            "is full (`sync_type: full` or none) but has `incremental`",
        ),
        Case::new(
            Rule::WrongType,
            "a `limit` that is a word",
            r#"
integrations:
  acme:
    syncs:
      people:
        endpoint: GET /people
        limit: lots
"#,
            "lots",
            "`limit` must be an integer, not ",
        ),
        Case::new(
            Rule::WrongType,
            "`syncs` as a list",
            r#"
integrations:
  acme:
    syncs: [people]
"#,
            "[people]",
            "`syncs` must be a mapping, not ",
        ),
        Case::new(
            Rule::WrongType,
            "`file` naming a field that is not a file",
            r#"
integrations:
  acme:
    actions:
      upload:
        endpoint: POST /documents
        input: Document
        file: name
models:
  Document:
    name: string
"#,
            "file: ‸name",
            "the field `name` of the input is not of type `file`",
        ),
        Case::new(
            Rule::MissingKey,
            "a sync without `endpoint`",
            r#"
integrations:
  acme:
    syncs:
      people:
        limit: 10
"#,
            "limit: 10",
            "the sync `people` needs an `endpoint`",
        ),
        Case::new(
            Rule::MissingKey,
            "an incremental sync without `incremental`",
            r#"
integrations:
  acme:
    syncs:
      people:
        endpoint: GET /people
        sync_type: incremental
"#,
            "sync_type: ‸incremental",
            "is incremental but has no `incremental`",
        ),
        Case::new(
            Rule::InvalidName,
            "a model name in snake case",
            r#"
integrations:
  acme:
    syncs:
      people:
        endpoint: GET /people
models:
  person_record:
    id: string
"#,
            "person_record:",
            "the model name `person_record` is not a Rust type name",
        )
        .help("name it `PersonRecord` (UpperCamelCase, ASCII)"),
        Case::new(
            Rule::InvalidName,
            "a sync name in upper case",
            r#"
integrations:
  acme:
    syncs:
      People:
        endpoint: GET /people
"#,
            "People:",
            "the sync name `People` is not 1 to 64 of",
        ),
        Case::new(
            Rule::InvalidName,
            "an action name with a space",
            r#"
integrations:
  acme:
    actions:
      create person:
        endpoint: POST /people
"#,
            "create person:",
            "the action name `create person` is not 1 to 64 of",
        ),
        // --- the integrations file -------------------------------------------------------
        Case::new(
            Rule::UnknownProvider,
            "a typo of a catalog key",
            r#"
integrations:
  presonio:
    syncs:
      people:
        endpoint: GET /people
"#,
            "presonio:",
            "`presonio` is not a provider of the catalog",
        )
        .help("did you mean `personio`?"),
        Case::new(
            Rule::UnknownModel,
            "a sync's output",
            r#"
integrations:
  acme:
    syncs:
      people:
        endpoint: GET /people
        output: Persn
models:
  Person:
    id: string
"#,
            "Persn",
            "the output of the sync `people`: the model `Persn` is not declared",
        )
        .help("did you mean `Person`?"),
        Case::new(
            Rule::UnknownModel,
            "an action's input",
            r#"
integrations:
  acme:
    actions:
      create-person:
        endpoint: POST /people
        input: NewPersn
models:
  NewPerson:
    id: string
"#,
            "NewPersn",
            "the input of the action `create-person`: the model `NewPersn` is not declared",
        )
        .help("did you mean `NewPerson`?"),
        Case::new(
            Rule::UnknownModel,
            "a field's type",
            r#"
integrations:
  acme:
    syncs:
      people:
        endpoint: GET /people
        output: Person
models:
  Person:
    id: string
    home: Adress[]
  Address:
    street: string
"#,
            "Adress[]",
            "the model `Adress` is not declared",
        )
        .help("did you mean `Address`?"),
        Case::new(
            Rule::UnknownModel,
            "an unknown parent sync",
            r#"
integrations:
  acme:
    syncs:
      persons:
        endpoint: GET /persons
      employments:
        endpoint: GET /persons/{id}/employments
        parent: { sync: person }
"#,
            "sync: ‸person }",
            "the parent `person` is not another sync of `acme`",
        )
        .help("did you mean `persons`?"),
        Case::new(
            Rule::UnknownModel,
            "a parent declared after its child (syncs run in the file's order)",
            r#"
integrations:
  acme:
    syncs:
      employments:
        endpoint: GET /persons/{id}/employments
        parent: { sync: persons }
      persons:
        endpoint: GET /persons
"#,
            "sync: ‸persons }",
            "the parent `persons` is declared after `employments`: declare it first",
        ),
        Case::new(
            Rule::UnknownField,
            "a `query` field the input does not have",
            r#"
integrations:
  acme:
    actions:
      delete-person:
        endpoint: DELETE /people/{id}
        input: PersonId
        query: [skip_aproval]
models:
  PersonId:
    id: integer
    skip_approval?: boolean
"#,
            "skip_aproval",
            "the input `PersonId` has no field `skip_aproval`",
        )
        .help("did you mean `skip_approval`?"),
        Case::new(
            Rule::UnknownField,
            "`file` naming no field",
            r#"
integrations:
  acme:
    actions:
      upload:
        endpoint: POST /documents
        input: Document
        file: attachment
models:
  Document:
    file: file
"#,
            "attachment",
            "the input has no field `attachment`",
        ),
        Case::new(
            Rule::UnknownField,
            "the sync `id` path against an inline output model",
            r#"
integrations:
  acme:
    syncs:
      people:
        endpoint: GET /people
        output: Person
        id: attributes.uid
models:
  Person:
    id: string
    attribute:
      uid: string
"#,
            "attributes.uid",
            "the id path `attributes.uid`: the model `Person` has no field `attributes`",
        )
        .help("did you mean `attribute`?"),
        Case::new(
            Rule::UnknownField,
            "the sync `updated_at` path against an inline output model",
            r#"
integrations:
  acme:
    syncs:
      people:
        endpoint: GET /people
        output: Person
        updated_at: updated
models:
  Person:
    id: string
    updated_at: date-time
"#,
            "updated_at: ‸updated\n",
            "the `updated_at` path `updated`: the model `Person` has no field `updated`",
        )
        .help("did you mean `updated_at`?"),
        Case::new(
            Rule::UnboundPathParam,
            "an action's `{id}` that no input field has",
            r#"
integrations:
  acme:
    actions:
      update-person:
        endpoint: PATCH /people/{id}
        input: PersonChange
models:
  PersonChange:
    name: string
"#,
            "PATCH /people/{id}",
            "the action `update-person`: no input field fills the path param `{id}`",
        ),
        Case::new(
            Rule::UnboundPathParam,
            "an action's `{id}` without an input",
            r#"
integrations:
  acme:
    actions:
      delete-person:
        endpoint: DELETE /people/{id}
"#,
            "DELETE /people/{id}",
            "no input field fills the path param `{id}`",
        ),
        Case::new(
            Rule::UnboundPathParam,
            "a sync endpoint with `{id}` and no parent",
            r#"
integrations:
  acme:
    syncs:
      employments:
        endpoint: GET /persons/{id}/employments
"#,
            "GET /persons/{id}/employments",
            "the sync `employments`: nothing fills the path param `{id}`",
        ),
        Case::new(
            Rule::UnboundPathParam,
            "a per-parent endpoint with two params",
            r#"
integrations:
  acme:
    syncs:
      persons:
        endpoint: GET /persons
      notes:
        endpoint: GET /persons/{id}/notes/{kind}
        parent: { sync: persons }
"#,
            "GET /persons/{id}/notes/{kind}",
            "a per-parent endpoint has exactly one param, `{id}` (the parent's id); `/persons/{id}/notes/{kind}` has 2",
        ),
        Case::new(
            Rule::UnboundPathParam,
            "a sync's `fetch` without `{id}`",
            r#"
integrations:
  acme:
    syncs:
      persons:
        endpoint: GET /persons
        fetch: GET /persons/{key}
"#,
            "GET /persons/{key}",
            "`fetch` is `GET /path/{id}`",
        ),
        Case::new(
            Rule::BodyOnGet,
            "a GET action whose input has a field not in `query`",
            r#"
integrations:
  acme:
    actions:
      search-people:
        endpoint: GET /people/search
        input: Search
        query: [name]
models:
  Search:
    name: string
    team?: string
"#,
            "GET /people/search",
            "the action `search-people` sends GET, which has no body, but the input's `team` would go in one",
        ),
        Case::new(
            Rule::BodyOnGet,
            "a DELETE with `file`",
            r#"
integrations:
  acme:
    actions:
      drop-document:
        endpoint: DELETE /documents
        input: Document
        file: file
models:
  Document:
    file: file
"#,
            "file: ‸file\nmodels",
            "the action `drop-document` uploads a file with DELETE, which has no body",
        ),
        Case::new(
            Rule::InvalidEndpoint,
            "no space between method and path",
            r#"
integrations:
  acme:
    syncs:
      people:
        endpoint: GET/people
"#,
            "GET/people",
            "the endpoint of the sync `people` `GET/people` is not `METHOD /path`",
        ),
        Case::new(
            Rule::InvalidEndpoint,
            "an unknown method",
            r#"
integrations:
  acme:
    actions:
      create-person:
        endpoint: POTS /people
"#,
            "POTS /people",
            "`POTS` is not a method (GET, POST, PUT, PATCH or DELETE)",
        )
        .help("did you mean `POST`?"),
        // With an output model: the reading stops at the endpoint, and the model it names is
        // not reported unused on top.
        Case::new(
            Rule::InvalidEndpoint,
            "a path without `/`",
            r#"
integrations:
  acme:
    syncs:
      people:
        endpoint: GET people
        output: Person
models:
  Person:
    id: string
"#,
            "GET people",
            "the path `people` does not start with `/`",
        ),
        Case::new(
            Rule::InvalidEndpoint,
            "an unclosed `{`",
            r#"
integrations:
  acme:
    actions:
      update-person:
        endpoint: PATCH /people/{id
        input: PersonChange
models:
  PersonChange:
    id: string
"#,
            "PATCH /people/{id",
            "the path `/people/{id` has a `{` without its `}`",
        ),
        Case::new(
            Rule::InvalidEndpoint,
            "a path param that is not a name",
            r#"
integrations:
  acme:
    actions:
      update-person:
        endpoint: PATCH /people/{person-id}
        input: PersonChange
models:
  PersonChange:
    person-id: string
"#,
            "PATCH /people/{person-id}",
            "the path `/people/{person-id}` has a param `{person-id}` that is not a name",
        ),
        Case::new(
            Rule::InvalidEndpoint,
            "a sync that lists with POST",
            r#"
integrations:
  acme:
    syncs:
      people:
        endpoint: POST /people/search
"#,
            "POST /people/search",
            "the sync `people` lists with POST; a sync lists with GET",
        ),
        Case::new(
            Rule::InvalidEndpoint,
            "a query in the path",
            r#"
integrations:
  acme:
    syncs:
      people:
        endpoint: GET /people?active=true
"#,
            "GET /people?active=true",
            "has a query, a fragment or a space",
        ),
        Case::new(
            Rule::InvalidDuration,
            "`overlap: 1 week`",
            r#"
integrations:
  acme:
    syncs:
      people:
        endpoint: GET /people
        sync_type: incremental
        incremental: { param: since, overlap: 1 week }
"#,
            "1 week",
            "`overlap` `1 week` is not a duration",
        )
        .help("write a number and a unit: `30s`, `15min`, `1h`, `1d`"),
        Case::new(
            Rule::InvalidDuration,
            "`runs: every 30s` (under a minute)",
            r#"
integrations:
  acme:
    syncs:
      people:
        endpoint: GET /people
        runs: every 30s
"#,
            "every 30s",
            "`runs: every 30s` is not `every` and a duration of at least a minute",
        ),
        Case::new(
            Rule::InvalidDuration,
            "`runs: hourly`",
            r#"
integrations:
  acme:
    syncs:
      people:
        endpoint: GET /people
        runs: hourly
"#,
            "hourly",
            "`runs: hourly` is not `every` and a duration of at least a minute",
        )
        .help("e.g. `runs: every 1h`"),
        Case::new(
            Rule::InvalidFieldType,
            "`strng`",
            r#"
integrations:
  acme:
    syncs:
      people:
        endpoint: GET /people
        output: Person
models:
  Person:
    id: strng
"#,
            "strng",
            "`strng` is not a field type",
        )
        .help("did you mean `string`?"),
        Case::new(
            Rule::InvalidFieldType,
            "a union of two types",
            r#"
integrations:
  acme:
    syncs:
      people:
        endpoint: GET /people
        output: Person
models:
  Person:
    id: string | integer
"#,
            "string | integer",
            "`string | integer` is not a field type",
        )
        .help("a union is of quoted literals only (`'a' | 'b'`), or one type and `null`"),
        Case::new(
            Rule::InvalidFieldType,
            "a number as type",
            r#"
integrations:
  acme:
    syncs:
      people:
        endpoint: GET /people
        output: Person
models:
  Person:
    id: 42
"#,
            "42",
            "a field type of the model `Person` must be a string or a mapping, not ",
        ),
        Case::new(
            Rule::InvalidFieldType,
            "an enum that repeats a value",
            r#"
integrations:
  acme:
    syncs:
      people:
        endpoint: GET /people
        output: Person
models:
  Person:
    status: "'active' | 'active'"
"#,
            "\"'active' | 'active'\"",
            "repeats a value or has an empty one",
        ),
        Case::new(
            Rule::InvalidRef,
            "no `#/`",
            r#"
integrations:
  acme:
    syncs:
      people:
        endpoint: GET /people
        output: Employee
models:
  Employee:
    $ref: personnel.yaml
"#,
            "personnel.yaml",
            "`personnel.yaml` is not `document#/pointer`",
        ),
        Case::new(
            Rule::InvalidRef,
            "a document in another directory",
            r#"
integrations:
  acme:
    syncs:
      people:
        endpoint: GET /people
        output: Employee
models:
  Employee:
    $ref: ../personnel.yaml#/components/schemas/Employee
"#,
            "../personnel.yaml",
            "is not `document#/pointer`",
        ),
        Case::new(
            Rule::InvalidRef,
            "keys beside `$ref`",
            r#"
integrations:
  acme:
    syncs:
      people:
        endpoint: GET /people
        output: Employee
models:
  Employee:
    $ref: personnel.yaml#/components/schemas/Employee
    id: string
"#,
            "$ref:",
            "the model `Employee` has keys beside `$ref`",
        ),
        Case::new(
            Rule::NameCollision,
            "two fields `firstName` and `first_name`",
            r#"
integrations:
  acme:
    syncs:
      people:
        endpoint: GET /people
        output: Person
models:
  Person:
    firstName: string
    first_name: string
"#,
            "first_name:",
            "the field `first_name` of the model `Person` maps to the same Rust name as another",
        ),
        Case::new(
            Rule::NameCollision,
            "enum values mapping to the same variant",
            r#"
integrations:
  acme:
    syncs:
      people:
        endpoint: GET /people
        output: Person
models:
  Person:
    status: "'on-leave' | 'on_leave'"
"#,
            "\"'on-leave'",
            "the enum values `on-leave` and `on_leave` map to the same Rust variant",
        ),
        Case::new(
            Rule::NameCollision,
            "two syncs `per-son` and `per_son`",
            r#"
integrations:
  acme:
    syncs:
      per-son:
        endpoint: GET /people
      per_son:
        endpoint: GET /persons
"#,
            "per_son:",
            "the sync `per_son` maps to the same Rust name as another",
        ),
        Case::new(
            Rule::NameCollision,
            "two actions `add-person` and `add_person`",
            r#"
integrations:
  acme:
    actions:
      add-person:
        endpoint: POST /people
      add_person:
        endpoint: POST /persons
"#,
            "add_person:",
            "the action `add_person` maps to the same Rust name as another",
        ),
        Case::new(
            Rule::IdempotentPost,
            "a POST declared idempotent",
            r#"
integrations:
  acme:
    actions:
      create-person:
        endpoint: POST /people
        idempotent: true
"#,
            "true",
            "the action `create-person` is a POST declared idempotent",
        ),
        Case::new(
            Rule::UnusedModel,
            "a model nothing names",
            r#"
integrations:
  acme:
    syncs:
      people:
        endpoint: GET /people
        output: Person
models:
  Person:
    id: string
  Leftover:
    id: string
"#,
            "Leftover:",
            "the model `Leftover` is not used by any sync, action or model",
        ),
    ]
}

/// The rules the integrations reader reports (the section of the registry named for the
/// file, and the rules of reading a file it shares with the catalog).
const READER_RULES: &[Rule] = &[
    Rule::YamlSyntax,
    Rule::UnknownKey,
    Rule::WrongType,
    Rule::MissingKey,
    Rule::InvalidName,
    Rule::UnknownProvider,
    Rule::UnknownModel,
    Rule::UnknownField,
    Rule::UnboundPathParam,
    Rule::BodyOnGet,
    Rule::InvalidEndpoint,
    Rule::InvalidDuration,
    Rule::InvalidFieldType,
    Rule::InvalidRef,
    Rule::NameCollision,
    Rule::IdempotentPost,
    Rule::UnusedModel,
];

#[test]
fn every_rule_of_the_file_is_found_at_its_exact_place() {
    let failures: Vec<String> = cases().iter().filter_map(|c| c.check().err()).collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The rules that a case here finds (for `rules.rs`, whose cases are catalogs).
pub fn covered_rules() -> BTreeSet<Rule> {
    cases().iter().map(|c| c.rule).collect()
}

#[test]
fn every_rule_of_the_file_has_a_case() {
    let covered = covered_rules();
    let missing: Vec<&str> = READER_RULES
        .iter()
        .filter(|r| !covered.contains(r))
        .map(|r| r.code())
        .collect();
    assert!(missing.is_empty(), "rules without a case: {missing:?}");
    // The registry's section of the integrations file is all in the list above.
    let from = Rule::ALL
        .iter()
        .position(|r| *r == Rule::UnknownProvider)
        .unwrap();
    let to = Rule::ALL
        .iter()
        .position(|r| *r == Rule::UnusedModel)
        .unwrap();
    for rule in &Rule::ALL[from..=to] {
        assert!(READER_RULES.contains(rule), "{rule} has no case");
    }
}

/// A finding shows its code and its place in the one-line form.
#[test]
fn a_finding_shows_its_code_and_place() {
    let case = cases()
        .into_iter()
        .find(|c| c.rule == Rule::UnusedModel)
        .unwrap();
    let (line, col) = at(&case.yaml, case.at);
    let ds = findings(&case.yaml, None);
    assert_eq!(
        ds[0].headline(Path::new("integrations.yaml")),
        format!(
            "integrations.yaml:{line}:{col}: warning[unused-model]: the model `Leftover` is not used by any sync, action or model"
        )
    );
}

/// The other place of a collision is a note at the first name.
#[test]
fn a_collision_notes_the_other_name() {
    let case = cases()
        .into_iter()
        .find(|c| c.trigger == "two fields `firstName` and `first_name`")
        .unwrap();
    let ds = findings(&case.yaml, None);
    let notes: Vec<(u32, u32, &str)> = ds[0]
        .notes
        .iter()
        .map(|(l, n)| (l.line, l.col, n.as_str()))
        .collect();
    let (line, col) = at(&case.yaml, "firstName:");
    assert_eq!(notes, [(line, col, "the other field")]);
}

/// The file's rules take the registry's levels: `-D idempotent-post` makes the warning an
/// error that fails the load, `-A unused-model` drops the warning, and a fixed rule cannot
/// be lowered.
#[test]
fn the_file_takes_the_levels_of_the_registry() {
    let case = |rule| cases().into_iter().find(|c| c.rule == rule).unwrap();
    let post = case(Rule::IdempotentPost);
    let path = Path::new("integrations.yaml");
    let loaded = load_integrations(path, &post.yaml, None, &LintLevels::default()).unwrap();
    assert_eq!(
        loaded.warnings.iter().map(|d| d.rule).collect::<Vec<_>>(),
        [Rule::IdempotentPost]
    );
    let mut deny = LintLevels::default();
    deny.set_code("idempotent-post", terapi_codegen::Level::Deny)
        .unwrap();
    let err = load_integrations(path, &post.yaml, None, &deny).unwrap_err();
    assert!(err.to_string().contains("error[idempotent-post]"), "{err}");

    let unused = case(Rule::UnusedModel);
    let mut allow = LintLevels::default();
    allow
        .set(Rule::UnusedModel, terapi_codegen::Level::Allow)
        .unwrap();
    let (_, _, ds) = lint_integrations(&unused.yaml, None, &allow);
    assert!(
        ds.is_empty(),
        "{:?}",
        ds.iter().map(|d| &d.message).collect::<Vec<_>>()
    );
    assert!(
        LintLevels::default()
            .set(Rule::UnknownModel, terapi_codegen::Level::Warn)
            .is_err()
    );
}

/// Without the catalog's keys (`None`), provider keys are not checked.
#[test]
fn provider_keys_are_checked_only_against_a_catalog() {
    let yaml = src(r#"
integrations:
  presonio:
    syncs:
      people:
        endpoint: GET /people
"#);
    assert!(findings(yaml, None).is_empty());
    let ds = findings(yaml, Some(&[]));
    assert_eq!(ds.len(), 1, "{}", dump(&ds));
    assert_eq!(ds[0].rule, Rule::UnknownProvider);
    assert_eq!(ds[0].help, None, "no did-you-mean without a close key");
}

/// One run reports every problem, in every part of the file, in order of place.
#[test]
fn a_file_with_many_errors_reports_all_of_them() {
    let yaml = src(r#"
integrations:
  presonio:
    syncs:
      people:
        endpoint: GET /people
  acme:
    budget: { per_minute: 60, brust: 5 }
    syncs:
      persons:
        endpoint: GET persons
        output: Person
      notes:
        endpoint: GET /persons/{id}/notes
        runs: every 10s
    actions:
      create-person:
        endpoint: POTS /people
        input: Person
      update-person:
        endpoint: PATCH /people/{uid}
        input: Person
      find-person:
        endpoint: GET /people/find
        input: Person
        query: [nmae]
models:
  Person:
    id: strng
    firstName: string
    first_name: string
  Employee:
    $ref: personnel.yaml
"#);
    let ds = findings(yaml, Some(PROVIDERS));
    let found: Vec<(Rule, (u32, u32))> = ds
        .iter()
        .map(|d| (d.rule, (d.loc.line, d.loc.col)))
        .collect();
    let want = [
        (Rule::UnknownProvider, at(yaml, "presonio:")),
        (Rule::UnknownKey, at(yaml, "brust")),
        (Rule::InvalidEndpoint, at(yaml, "GET persons")),
        (Rule::UnboundPathParam, at(yaml, "GET /persons/{id}/notes")),
        (Rule::InvalidDuration, at(yaml, "every 10s")),
        (Rule::InvalidEndpoint, at(yaml, "POTS /people")),
        (Rule::UnboundPathParam, at(yaml, "PATCH /people/{uid}")),
        (Rule::UnknownField, at(yaml, "nmae")),
        (Rule::InvalidFieldType, at(yaml, "strng")),
        (Rule::NameCollision, at(yaml, "first_name:")),
        (Rule::InvalidRef, at(yaml, "personnel.yaml")),
    ];
    assert_eq!(found, want, "got:\n{}", dump(&ds));
}

/// A valid file, as the tests of what it loads into read it.
const VALID: &str = r#"
openapi:
  documents: ../reference/openapi
  output: generated/openapi.rs

integrations:
  acme:
    budget: { per_minute: 300, burst: 15 }
    syncs:
      employees:
        description: Employees with their attributes
        endpoint: GET /company/employees
        output: Employee
        sync_type: incremental
        incremental: { param: updated_since, format: naive-utc, overlap: 1d }
        runs: every 1h
        id: attributes.id.value
        updated_at: attributes.last_modified_at.value
        limit: 100
        total: metadata.total_elements
        total_pages: metadata.total_pages
        track_deletes: { max_percent: 5 }
        query: { active: true, team: "a b" }
      absences:
        endpoint: GET /company/absences
        output: Absence
        personal: false
        pagination:
          type: offset
          limit_name: size
          response_path: data
          offset_name: page
          offset_start: 1
          offset_step: per-page
      persons:
        endpoint: GET /persons
        output: Person
        fetch: GET /persons/{id}
      employments:
        endpoint: GET /persons/{id}/employments
        output: Person
        parent: { sync: persons, fetch: "GET /persons/{id}" }
        fetch: GET /persons/{parent}/employments/{id}
        budget: { per_minute: 30 }
    actions:
      delete-attendance:
        description: Deletes an attendance period.
        endpoint: DELETE /company/attendances/{id}
        input: AttendanceId
        output: Message
        query: [skip_approval]
      update-attendance:
        endpoint: PATCH /company/attendances/{id}
        input: AttendanceChange
        idempotent: true
      upload-document:
        endpoint: POST /documents
        input: Document
        file: file
        idempotent: false

models:
  Employee:
    $ref: personnel.yaml#/components/schemas/Employee
  Absence:
    id: integer
  Person:
    id: string
    email?: string | null
    status: "'active' | 'inactive'"
    tags: string[]
    manager?: Reference
    address:
      city?: string
  Reference:
    id: string
  AttendanceId:
    id: integer
    skip_approval?: boolean
  AttendanceChange:
    id: integer
    comment?: string | null
  Message:
    success: boolean
  Document:
    file: file
    title: string
"#;

fn load_valid() -> terapi_codegen::LoadedIntegrations {
    load_integrations(
        Path::new("integrations.yaml"),
        src(VALID),
        Some(PROVIDERS),
        &LintLevels::default(),
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn a_valid_file_loads_into_what_it_says() {
    let loaded = load_valid();
    assert!(
        loaded.warnings.is_empty(),
        "{:?}",
        loaded
            .warnings
            .iter()
            .map(|d| &d.message)
            .collect::<Vec<_>>()
    );
    assert_eq!(
        loaded.openapi,
        terapi_codegen::integrations::OpenApiSettings {
            documents: Some("../reference/openapi".into()),
            output: Some("generated/openapi.rs".into()),
        }
    );
    let file = &loaded.integrations;
    // Providers in key order, each one's syncs in the file's order (a parent before its
    // children).
    let names: Vec<&str> = file.syncs().map(|s| s.model.as_ref()).collect();
    assert_eq!(names, ["employees", "absences", "persons", "employments"]);

    let employees = SyncSpec::new("acme", "employees", "/company/employees")
        .budget(300, 15)
        .output("Employee")
        .id_path("attributes.id.value")
        .updated_path("attributes.last_modified_at.value")
        .total_path("metadata.total_elements")
        .total_pages_path("metadata.total_pages")
        .limit(100)
        .query("active", "true")
        .query("team", "a b")
        .incremental(
            "updated_since",
            SinceFormat::NaiveUtc,
            Duration::from_secs(86400),
        )
        .schedule(Duration::from_secs(3600))
        .max_delete_percent(5);
    assert_eq!(file.sync("acme", "employees"), Some(&employees));

    let absences = file.sync("acme", "absences").unwrap();
    assert!(!absences.personal);
    let page = absences.pagination.as_ref().unwrap();
    assert_eq!(
        (
            page.kind,
            page.limit_name.as_deref(),
            page.response_path.as_deref(),
            page.offset_name.as_deref(),
            page.offset_start,
            page.offset_step
        ),
        (
            PageKind::Offset,
            Some("size"),
            Some("data"),
            Some("page"),
            1,
            OffsetStep::PerPage
        )
    );

    let employments = SyncSpec::new("acme", "employments", "/persons/{id}/employments")
        .budget(300, 15)
        .output("Person")
        .per_parent("persons", "/persons/{id}/employments")
        .parent_fetch_one("/persons/{id}")
        .fetch_one("/persons/{parent}/employments/{id}")
        .budget(30, 1);
    assert_eq!(file.sync("acme", "employments"), Some(&employments));

    assert_eq!(
        file.action("acme", "delete-attendance"),
        Some(&ActionSpec {
            provider: "acme".into(),
            name: "delete-attendance".into(),
            description: Some("Deletes an attendance period.".into()),
            method: Method::Delete,
            path: "/company/attendances/{id}".into(),
            input: Some("AttendanceId".into()),
            output: Some("Message".into()),
            query: vec!["skip_approval".into()],
            body: BodyKind::None,
            idempotent: true,
            budget: Some(terapi_model::sync::Budget {
                per_minute: 300,
                burst: 15
            }),
        })
    );
    let update = file.action("acme", "update-attendance").unwrap();
    assert_eq!(
        (
            update.method,
            &update.body,
            update.idempotent,
            update.output.as_deref()
        ),
        (Method::Patch, &BodyKind::Json, true, None)
    );
    let upload = file.action("acme", "upload-document").unwrap();
    assert_eq!(
        (&upload.body, upload.idempotent),
        (
            &BodyKind::Multipart {
                file: "file".into()
            },
            false
        )
    );

    let person = file.model("Person").unwrap();
    assert_eq!(
        person.fields,
        [
            FieldSpec {
                name: "id".into(),
                ty: FieldType::String,
                optional: false,
                nullable: false
            },
            FieldSpec {
                name: "email".into(),
                ty: FieldType::String,
                optional: true,
                nullable: true
            },
            FieldSpec {
                name: "status".into(),
                ty: FieldType::Enum(vec!["active".into(), "inactive".into()]),
                optional: false,
                nullable: false
            },
            FieldSpec {
                name: "tags".into(),
                ty: FieldType::Array(Box::new(FieldType::String)),
                optional: false,
                nullable: false
            },
            FieldSpec {
                name: "manager".into(),
                ty: FieldType::Model("Reference".into()),
                optional: true,
                nullable: false
            },
            FieldSpec {
                name: "address".into(),
                ty: FieldType::Object(vec![FieldSpec {
                    name: "city".into(),
                    ty: FieldType::String,
                    optional: true,
                    nullable: false
                }]),
                optional: false,
                nullable: false
            },
        ]
    );
    assert_eq!(
        loaded
            .schema_refs()
            .iter()
            .map(|r| (r.name.as_str(), r.document.as_str(), r.pointer.as_str()))
            .collect::<Vec<_>>(),
        [("Employee", "personnel.yaml", "/components/schemas/Employee")]
    );
}

/// A file with errors does not load: the error holds every finding.
#[test]
fn a_file_with_errors_does_not_load() {
    let yaml = src(VALID).replace("runs: every 1h", "runs: hourly");
    let err = load_integrations(
        Path::new("integrations.yaml"),
        &yaml,
        Some(PROVIDERS),
        &LintLevels::default(),
    )
    .unwrap_err();
    let Error::Catalog { diagnostics, .. } = &err else {
        panic!("{err}");
    };
    let ds: Vec<(Rule, u32)> = diagnostics.iter().map(|d| (d.rule, d.loc.line)).collect();
    assert_eq!(ds, [(Rule::InvalidDuration, at(&yaml, "hourly").0)]);
    assert!(err.to_string().contains("invalid-duration"), "{err}");
}

#[test]
fn generated_rust_is_deterministic_and_has_no_path_of_the_machine() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let path = dir.join("integrations.yaml");
    let generate = |formatted| {
        generate_integrations(
            &path,
            src(VALID),
            Some(PROVIDERS),
            &LintLevels::default(),
            formatted,
        )
        .unwrap_or_else(|e| panic!("{e}"))
        .code
    };
    for formatted in [true, false] {
        let first = generate(formatted);
        assert_eq!(first.as_bytes(), generate(formatted).as_bytes());
        syn::parse_file(&first).unwrap();
        let machine = [
            dir.to_string_lossy().into_owned(),
            std::env::temp_dir().to_string_lossy().into_owned(),
            std::env::var("HOME").unwrap_or_else(|_| "/nonexistent-home".into()),
        ];
        for p in &machine {
            assert!(!first.contains(p.as_str()), "{p} in the output");
        }
        assert!(first.contains("from integrations.yaml"), "{first}");
        assert!(first.contains("delete_attendance"), "{first}");
    }
}

/// The findings of a file no check can read past: at least one error, never a panic.
fn refused(name: &str, yaml: &str) -> Vec<Diagnostic> {
    let ds = findings(yaml, Some(PROVIDERS));
    assert!(
        ds.iter().any(|d| d.severity == Severity::Error),
        "{name}: accepted"
    );
    ds
}

#[test]
fn an_alias_bomb_is_refused() {
    // "Billion laughs": ten lists of ten aliases of the list before.
    let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..10u8 {
        let prev = (b'a' + i - 1) as char;
        let this = (b'a' + i) as char;
        let items = vec![format!("*{prev}"); 10].join(", ");
        bomb.push_str(&format!("{this}: &{this} [{items}]\n"));
    }
    let ds = refused("an alias bomb", &bomb);
    assert_eq!(ds.len(), 1, "{}", dump(&ds));
    assert_eq!(ds[0].rule, Rule::SizeBudget, "{}", dump(&ds));
}

/// Deep nesting, through a model's nested fields.
#[test]
fn deep_nesting_is_refused() {
    let mut deep = String::from("models:\n  Deep:\n");
    for depth in 0..200 {
        deep.push_str(&"  ".repeat(depth + 2));
        deep.push_str(&format!("f{depth}:\n"));
    }
    deep.push_str(&"  ".repeat(202));
    deep.push_str("x: string\n");
    let ds = refused("deep nesting", &deep);
    assert_eq!(ds.len(), 1, "{}", dump(&ds));
}

/// The same in flow style, deeper than any stack.
#[test]
fn deep_flow_nesting_is_refused() {
    let flow = format!(
        "models: {{Deep: {}{}}}\n",
        "{a: ".repeat(100_000),
        "}".repeat(100_000)
    );
    let ds = refused("deep flow nesting", &flow);
    assert_eq!(ds.len(), 1, "{}", dump(&ds));
}

#[test]
fn a_long_string_is_read_and_emitted_escaped() {
    let long = "x".repeat(1 << 20);
    let yaml = src(VALID).replace(
        "description: Deletes an attendance period.",
        &format!("description: \"{long}\\u202Eend\""),
    );
    let loaded = load_integrations(
        Path::new("integrations.yaml"),
        &yaml,
        Some(PROVIDERS),
        &LintLevels::default(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let description = loaded
        .integrations
        .action("acme", "delete-attendance")
        .and_then(|a| a.description.clone())
        .unwrap();
    assert_eq!(description.len(), (1 << 20) + 3 + 3);
    let code = generate_integrations(
        Path::new("integrations.yaml"),
        &yaml,
        Some(PROVIDERS),
        &LintLevels::default(),
        false,
    )
    .unwrap_or_else(|e| panic!("{e}"))
    .code;
    assert!(code.contains(&long));
}

/// Direction controls in a description never reach the output as such (rustc refuses them in
/// comments and literals): docs spell them out, literals escape them.
#[test]
fn direction_controls_never_reach_the_output() {
    let yaml = src(VALID)
        .replace(
            "description: Deletes an attendance period.",
            "description: \"Deletes \\u202Eit.\"",
        )
        .replace(
            "description: Employees with their attributes",
            "description: \"Employees \\u2067with\"",
        );
    let code = match generate_integrations(
        Path::new("integrations.yaml"),
        &yaml,
        Some(PROVIDERS),
        &LintLevels::default(),
        true,
    ) {
        Ok(g) => g.code,
        // Refusing them is as good, with a located error.
        Err(Error::Catalog { diagnostics, .. }) => {
            let d = diagnostics.iter().next().unwrap();
            assert_eq!(d.loc.line, at(&yaml, "Deletes").0);
            return;
        }
        Err(e) => panic!("{e}"),
    };
    assert!(
        !code
            .chars()
            .any(|c| matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')),
        "a direction control in the output"
    );
    assert!(code.contains("Deletes [U+202E]it."), "{code}");
    syn::parse_file(&code).unwrap();
}

/// A file that is not UTF-8 is refused at its first invalid byte.
#[test]
fn non_utf8_bytes_are_located_by_the_file_loader() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("integrations.yaml");
    std::fs::write(
        &path,
        b"integrations:\n  acme:\n    syncs: {pe\xffople: {}}\n",
    )
    .unwrap();
    let err = load_integrations_file(&path, Some(PROVIDERS), &LintLevels::default()).unwrap_err();
    let Error::Catalog { diagnostics, .. } = &err else {
        panic!("{err}");
    };
    let d = diagnostics.sorted()[0].clone();
    assert_eq!(
        (d.rule, d.loc.line, d.loc.col, d.loc.offset),
        (Rule::InvalidUtf8, 3, 15, 36)
    );
}

/// Nesting just within the parser's limit (64) is read and generated on a test's 2 MiB
/// stack: the reader and the emitter recurse per level too.
#[test]
fn nesting_within_the_limit_is_read_and_generated() {
    let mut yaml = String::from(
        "integrations:\n  acme:\n    syncs:\n      people:\n        endpoint: GET /people\n        output: Deep\nmodels:\n  Deep:\n",
    );
    // `models`, `Deep` and 61 levels of fields: 63 mappings deep, and the innermost's value.
    for depth in 0..61 {
        yaml.push_str(&"  ".repeat(depth + 2));
        yaml.push_str(&format!("f{depth}:\n"));
    }
    yaml.push_str(&"  ".repeat(63));
    yaml.push_str("x: string\n");
    let ds = findings(&yaml, Some(PROVIDERS));
    assert!(ds.is_empty(), "{}", dump(&ds));
    let code = generate_integrations(
        Path::new("integrations.yaml"),
        &yaml,
        Some(PROVIDERS),
        &LintLevels::default(),
        true,
    )
    .unwrap_or_else(|e| panic!("{e}"))
    .code;
    syn::parse_file(&code).unwrap();
}
