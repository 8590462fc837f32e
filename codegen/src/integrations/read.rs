//! An integrations file's YAML tree → [`Integrations`], with every problem located.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use terapi_model::integration::{
    ActionSpec, BodyKind, FieldSpec, FieldType, Integration, Integrations, Method, ModelSpec,
    path_params,
};
use terapi_model::paginate::{OffsetStep, PageKind, PaginateConfig};
use terapi_model::sync::{Budget, SinceFormat, SyncSpec, is_model_name};

use crate::diagnostic::Diagnostic;
use crate::lower::Cx;
use crate::names;
use crate::rules::Rule;
use crate::yaml::{Loc, Node, NodeKind};

/// Where each part of the file stands, for checks across parts.
#[derive(Debug, Default)]
struct Places {
    /// Each model's name key.
    models: BTreeMap<String, Loc>,
}

/// What reading produced: the description (what could be read of it).
pub struct Read {
    /// The description.
    pub integrations: Integrations,
}

const TOP_KEYS: &[&str] = &["integrations", "models"];
const INTEGRATION_KEYS: &[&str] = &["syncs", "actions", "budget"];
const SYNC_KEYS: &[&str] = &[
    "description",
    "endpoint",
    "output",
    "sync_type",
    "incremental",
    "runs",
    "id",
    "updated_at",
    "limit",
    "total",
    "total_pages",
    "query",
    "pagination",
    "parent",
    "fetch",
    "track_deletes",
    "personal",
    "budget",
];
const INCREMENTAL_KEYS: &[&str] = &["param", "format", "overlap"];
const PARENT_KEYS: &[&str] = &["sync", "fetch"];
const DELETES_KEYS: &[&str] = &["max_percent"];
const BUDGET_KEYS: &[&str] = &["per_minute", "burst"];
const PAGINATION_KEYS: &[&str] = &[
    "type",
    "limit_name",
    "response_path",
    "offset_name",
    "offset_start",
    "offset_step",
    "cursor_path",
    "cursor_name",
    "link_path",
];
const ACTION_KEYS: &[&str] = &[
    "description",
    "endpoint",
    "input",
    "output",
    "query",
    "file",
    "idempotent",
];

fn unknown_keys(node: &Node, allowed: &[&str], what: &str, cx: &mut Cx) {
    let Some(map) = node.as_map() else { return };
    for (k, _) in map {
        let Some(key) = k.as_str() else {
            cx.push(Diagnostic::new(
                Rule::WrongType,
                k.loc,
                format!("a key of {what} must be a string, not {}", k.describe()),
            ));
            continue;
        };
        if !allowed.contains(&key) {
            cx.push(
                Diagnostic::new(
                    Rule::UnknownKey,
                    k.loc,
                    format!("unknown key `{}` in {what}", key.escape_default()),
                )
                .with_suggestion(terapi_model::closest(key, allowed.iter().copied())),
            );
        }
    }
}

fn map_of<'a>(node: &'a Node, what: &str, cx: &mut Cx) -> Option<&'a [(Node, Node)]> {
    match &node.kind {
        NodeKind::Map(m) => Some(m),
        NodeKind::Null => Some(&[]),
        _ => {
            cx.push(Diagnostic::new(
                Rule::WrongType,
                node.loc,
                format!("{what} must be a mapping, not {}", node.describe()),
            ));
            None
        }
    }
}

fn string_of(node: &Node, what: &str, cx: &mut Cx) -> Option<String> {
    match &node.kind {
        NodeKind::Str(s) => Some(s.clone()),
        _ => {
            cx.push(Diagnostic::new(
                Rule::WrongType,
                node.loc,
                format!("{what} must be a string, not {}", node.describe()),
            ));
            None
        }
    }
}

fn bool_of(node: &Node, what: &str, cx: &mut Cx) -> Option<bool> {
    match &node.kind {
        NodeKind::Bool(b) => Some(*b),
        _ => {
            cx.push(Diagnostic::new(
                Rule::WrongType,
                node.loc,
                format!("{what} must be `true` or `false`, not {}", node.describe()),
            ));
            None
        }
    }
}

fn int_of(
    node: &Node,
    what: &str,
    range: std::ops::RangeInclusive<i64>,
    cx: &mut Cx,
) -> Option<i64> {
    match &node.kind {
        NodeKind::Int(n) if range.contains(n) => Some(*n),
        NodeKind::Int(n) => {
            cx.push(Diagnostic::new(
                Rule::WrongType,
                node.loc,
                format!(
                    "{what} must be from {} to {}, not {n}",
                    range.start(),
                    range.end()
                ),
            ));
            None
        }
        _ => {
            cx.push(Diagnostic::new(
                Rule::WrongType,
                node.loc,
                format!("{what} must be an integer, not {}", node.describe()),
            ));
            None
        }
    }
}

fn key_str(k: &Node) -> Option<&str> {
    k.as_str()
}

/// `30s`, `15min`, `1h`, `1d` (also `m`, `sec`, `hour(s)`, `day(s)`, `minute(s)`).
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 || digits > 9 {
        return None;
    }
    let n: u64 = text[..digits].parse().ok()?;
    let unit = text[digits..].trim();
    let secs = match unit {
        "s" | "sec" | "secs" | "second" | "seconds" => 1,
        "m" | "min" | "mins" | "minute" | "minutes" => 60,
        "h" | "hour" | "hours" => 3600,
        "d" | "day" | "days" => 86400,
        _ => return None,
    };
    Some(Duration::from_secs(n * secs))
}

fn duration_of(node: &Node, what: &str, cx: &mut Cx) -> Option<Duration> {
    let text = string_of(node, what, cx)?;
    match parse_duration(&text) {
        Some(d) => Some(d),
        None => {
            cx.push(
                Diagnostic::new(
                    Rule::InvalidDuration,
                    node.loc,
                    format!("{what} `{}` is not a duration", text.escape_default()),
                )
                .with_help("write a number and a unit: `30s`, `15min`, `1h`, `1d`"),
            );
            None
        }
    }
}

/// `GET /path` → (method, path), checked.
fn endpoint_of(node: &Node, what: &str, cx: &mut Cx) -> Option<(Method, String)> {
    let text = string_of(node, what, cx)?;
    let bad = |cx: &mut Cx, msg: String, help: &str| {
        cx.push(Diagnostic::new(Rule::InvalidEndpoint, node.loc, msg).with_help(help.to_owned()));
        None
    };
    let Some((method, path)) = text.split_once(' ') else {
        return bad(
            cx,
            format!("{what} `{}` is not `METHOD /path`", text.escape_default()),
            "write the method, a space and the path: `GET /company/employees`",
        );
    };
    let Some(m) = Method::parse(method) else {
        let hint = terapi_model::closest(method, Method::ALL.iter().map(|(t, _)| *t));
        let d = Diagnostic::new(
            Rule::InvalidEndpoint,
            node.loc,
            format!(
                "{what}: `{}` is not a method (GET, POST, PUT, PATCH or DELETE)",
                method.escape_default()
            ),
        )
        .with_suggestion(hint);
        cx.push(d);
        return None;
    };
    let path = path.trim().to_owned();
    check_path(&path, node.loc, what, cx)?;
    Some((m, path))
}

fn check_path(path: &str, loc: Loc, what: &str, cx: &mut Cx) -> Option<()> {
    let problem = if !path.starts_with('/') {
        Some("does not start with `/`".to_owned())
    } else if path.contains(['?', '#', ' ', '\t']) {
        Some("has a query, a fragment or a space (declare query params apart)".to_owned())
    } else if path.contains("..") {
        Some("has `..`".to_owned())
    } else {
        let opens = path.matches('{').count();
        let closes = path.matches('}').count();
        let params = path_params(path);
        if opens != closes || params.len() != opens {
            Some("has a `{` without its `}`".to_owned())
        } else {
            let not_a_name = |p: &&&str| {
                p.is_empty() || !p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            };
            params.iter().find(not_a_name).map(|p| {
                format!(
                    "has a param `{{{}}}` that is not a name",
                    p.escape_default()
                )
            })
        }
    };
    match problem {
        Some(p) => {
            cx.push(Diagnostic::new(
                Rule::InvalidEndpoint,
                loc,
                format!("{what}: the path `{}` {p}", path.escape_default()),
            ));
            None
        }
        None => Some(()),
    }
}

fn budget_of(node: &Node, cx: &mut Cx) -> Option<Budget> {
    map_of(node, "`budget`", cx)?;
    unknown_keys(node, BUDGET_KEYS, "`budget`", cx);
    let per_minute = match node.get("per_minute") {
        Some(n) => int_of(n, "`per_minute`", 1..=1_000_000, cx)?,
        None => {
            cx.push(Diagnostic::new(
                Rule::MissingKey,
                node.loc,
                "`budget` needs `per_minute`",
            ));
            return None;
        }
    };
    let burst = match node.get("burst") {
        Some(n) => int_of(n, "`burst`", 1..=1_000_000, cx)?,
        None => 1,
    };
    Some(Budget {
        per_minute: per_minute as u32,
        burst: burst as u32,
    })
}

/// Reads the file's tree. `providers`: the catalog's keys (`None`: not checked).
pub fn read(root: &Node, providers: Option<&[&str]>, cx: &mut Cx) -> Read {
    let mut places = Places::default();
    let mut out = Integrations::default();
    if map_of(root, "the integrations file", cx).is_none() {
        return Read { integrations: out };
    }
    unknown_keys(root, TOP_KEYS, "the integrations file", cx);

    // Models first: the syncs and actions name them.
    let mut model_nodes: Vec<(&Node, &Node)> = Vec::new();
    if let Some(models) = root.get("models")
        && let Some(map) = map_of(models, "`models`", cx)
    {
        let mut rust_names: BTreeMap<String, Loc> = BTreeMap::new();
        for (k, v) in map {
            let Some(name) = key_str(k) else {
                cx.push(Diagnostic::new(
                    Rule::WrongType,
                    k.loc,
                    "a model name must be a string",
                ));
                continue;
            };
            let rust = names::camel(name);
            if rust != name {
                cx.push(
                    Diagnostic::new(
                        Rule::InvalidName,
                        k.loc,
                        format!(
                            "the model name `{}` is not a Rust type name",
                            name.escape_default()
                        ),
                    )
                    .with_help(format!("name it `{rust}` (UpperCamelCase, ASCII)")),
                );
                continue;
            }
            if let Some(first) = rust_names.insert(rust.clone(), k.loc) {
                cx.push(
                    Diagnostic::new(
                        Rule::NameCollision,
                        k.loc,
                        format!("the model `{name}` is declared twice"),
                    )
                    .with_note(first, "first declared here"),
                );
                continue;
            }
            places.models.insert(name.to_owned(), k.loc);
            model_nodes.push((k, v));
        }
    }
    let declared: BTreeSet<String> = places.models.keys().cloned().collect();
    let mut used: BTreeSet<String> = BTreeSet::new();
    for (k, v) in &model_nodes {
        let name = k.as_str().unwrap_or_default().to_owned();
        if let Some(model) = read_model(&name, v, &declared, &mut used, cx) {
            out.models.push(model);
        }
    }

    if let Some(integrations) = root.get("integrations")
        && let Some(map) = map_of(integrations, "`integrations`", cx)
    {
        let mut seen_modules: BTreeMap<String, Loc> = BTreeMap::new();
        for (k, v) in map {
            let Some(provider) = key_str(k) else {
                cx.push(Diagnostic::new(
                    Rule::WrongType,
                    k.loc,
                    "a provider key must be a string",
                ));
                continue;
            };
            if let Some(keys) = providers
                && !keys.contains(&provider)
            {
                cx.push(
                    Diagnostic::new(
                        Rule::UnknownProvider,
                        k.loc,
                        format!(
                            "`{}` is not a provider of the catalog",
                            provider.escape_default()
                        ),
                    )
                    .with_suggestion(terapi_model::closest(provider, keys.iter().copied())),
                );
                continue;
            }
            if let Some(first) = seen_modules.insert(names::snake(provider), k.loc) {
                cx.push(
                    Diagnostic::new(
                        Rule::NameCollision,
                        k.loc,
                        format!(
                            "`{}` and another provider key map to the same Rust module",
                            provider.escape_default()
                        ),
                    )
                    .with_note(first, "the other key"),
                );
                continue;
            }
            let integration = read_integration(provider, v, &out.models, &declared, &mut used, cx);
            out.integrations.push(integration);
        }
    }
    out.integrations.sort_by(|a, b| a.provider.cmp(&b.provider));
    out.models.sort_by(|a, b| a.name.cmp(&b.name));

    // Models that nothing names: only when the rest read (else the use may be the broken part:
    // a misspelt `output`, a sync whose endpoint stopped the reading before its `output`).
    let read_all = !cx
        .diagnostics
        .iter()
        .any(|d| d.severity == crate::diagnostic::Severity::Error);
    for (name, loc) in &places.models {
        if read_all && !used.contains(name) {
            cx.push(Diagnostic::new(
                Rule::UnusedModel,
                *loc,
                format!("the model `{name}` is not used by any sync, action or model"),
            ));
        }
    }
    Read { integrations: out }
}

fn read_model(
    name: &str,
    node: &Node,
    declared: &BTreeSet<String>,
    used: &mut BTreeSet<String>,
    cx: &mut Cx,
) -> Option<ModelSpec> {
    let map = map_of(node, &format!("the model `{name}`"), cx)?;
    if let Some(r) = node.get("$ref") {
        if map.len() != 1 {
            cx.push(Diagnostic::new(
                Rule::InvalidRef,
                node.loc,
                format!("the model `{name}` has keys beside `$ref`"),
            ));
            return None;
        }
        let text = string_of(r, "`$ref`", cx)?;
        let ok = text.split_once("#/").is_some_and(|(doc, ptr)| {
            !doc.is_empty() && !ptr.is_empty() && !doc.contains(['/', '\\'])
        });
        if !ok {
            cx.push(
                Diagnostic::new(
                    Rule::InvalidRef,
                    r.loc,
                    format!("`{}` is not `document#/pointer`", text.escape_default()),
                )
                .with_help(
                    "e.g. `personio-personnel-data-api-oa3.yaml#/components/schemas/Employee`",
                ),
            );
            return None;
        }
        return Some(ModelSpec {
            name: name.to_owned(),
            fields: Vec::new(),
            openapi: Some(text),
        });
    }
    let fields = read_fields(map, &format!("the model `{name}`"), declared, used, cx)?;
    Some(ModelSpec {
        name: name.to_owned(),
        fields,
        openapi: None,
    })
}

fn read_fields(
    map: &[(Node, Node)],
    what: &str,
    declared: &BTreeSet<String>,
    used: &mut BTreeSet<String>,
    cx: &mut Cx,
) -> Option<Vec<FieldSpec>> {
    let mut fields = Vec::new();
    let mut rust: BTreeMap<String, Loc> = BTreeMap::new();
    let mut ok = true;
    for (k, v) in map {
        let Some(raw) = k.as_str() else {
            cx.push(Diagnostic::new(
                Rule::WrongType,
                k.loc,
                format!("a field name of {what} must be a string"),
            ));
            ok = false;
            continue;
        };
        let (name, optional) = match raw.strip_suffix('?') {
            Some(n) => (n, true),
            None => (raw, false),
        };
        if name.is_empty() || name.contains(['?', '\n', '\r']) {
            cx.push(Diagnostic::new(
                Rule::InvalidName,
                k.loc,
                format!("`{}` is not a field name", raw.escape_default()),
            ));
            ok = false;
            continue;
        }
        if let Some(first) = rust.insert(names::snake(name), k.loc) {
            cx.push(
                Diagnostic::new(
                    Rule::NameCollision,
                    k.loc,
                    format!(
                        "the field `{}` of {what} maps to the same Rust name as another",
                        name.escape_default()
                    ),
                )
                .with_note(first, "the other field"),
            );
            ok = false;
            continue;
        }
        match read_type(v, what, declared, used, cx) {
            Some((ty, nullable)) => fields.push(FieldSpec {
                name: name.to_owned(),
                ty,
                optional,
                nullable,
            }),
            None => ok = false,
        }
    }
    ok.then_some(fields)
}

/// A field's type: a string (`string`, `Employee[]`, `'a' | 'b'`, `date | null`) or a nested
/// mapping. Returns the type and whether `null` is allowed.
fn read_type(
    node: &Node,
    what: &str,
    declared: &BTreeSet<String>,
    used: &mut BTreeSet<String>,
    cx: &mut Cx,
) -> Option<(FieldType, bool)> {
    match &node.kind {
        NodeKind::Map(map) => {
            let fields = read_fields(map, what, declared, used, cx)?;
            Some((FieldType::Object(fields), false))
        }
        NodeKind::Str(text) => parse_type(text, node.loc, declared, used, cx),
        _ => {
            cx.push(Diagnostic::new(
                Rule::InvalidFieldType,
                node.loc,
                format!(
                    "a field type of {what} must be a string or a mapping, not {}",
                    node.describe()
                ),
            ));
            None
        }
    }
}

const SCALARS: &[(&str, FieldType)] = &[
    ("string", FieldType::String),
    ("number", FieldType::Number),
    ("integer", FieldType::Integer),
    ("boolean", FieldType::Boolean),
    ("date-time", FieldType::DateTime),
    ("date", FieldType::Date),
    ("time", FieldType::Time),
    ("file", FieldType::File),
    ("any", FieldType::Any),
];

fn parse_type(
    text: &str,
    loc: Loc,
    declared: &BTreeSet<String>,
    used: &mut BTreeSet<String>,
    cx: &mut Cx,
) -> Option<(FieldType, bool)> {
    let parts: Vec<&str> = text.split('|').map(str::trim).collect();
    let nullable = parts.contains(&"null");
    let rest: Vec<&str> = parts.into_iter().filter(|p| *p != "null").collect();
    let quoted = |p: &str| {
        p.len() >= 2
            && ((p.starts_with('\'') && p.ends_with('\''))
                || (p.starts_with('"') && p.ends_with('"')))
    };
    // `('a' | 'b')[]` is not supported: a list of an enum is a model's field of enum type.
    if !rest.is_empty() && rest.iter().all(|p| quoted(p)) {
        let values: Vec<String> = rest.iter().map(|p| p[1..p.len() - 1].to_owned()).collect();
        let distinct: BTreeSet<&String> = values.iter().collect();
        if distinct.len() != values.len() || values.iter().any(|v| v.is_empty()) {
            cx.push(Diagnostic::new(
                Rule::InvalidFieldType,
                loc,
                format!(
                    "the enum `{}` repeats a value or has an empty one",
                    text.escape_default()
                ),
            ));
            return None;
        }
        let mut rust = BTreeMap::new();
        for v in &values {
            if let Some(other) = rust.insert(names::camel(v), v) {
                cx.push(Diagnostic::new(
                    Rule::NameCollision,
                    loc,
                    format!(
                        "the enum values `{}` and `{}` map to the same Rust variant",
                        other.escape_default(),
                        v.escape_default()
                    ),
                ));
                return None;
            }
        }
        return Some((FieldType::Enum(values), nullable));
    }
    let [one] = rest[..] else {
        cx.push(
            Diagnostic::new(
                Rule::InvalidFieldType,
                loc,
                format!("`{}` is not a field type", text.escape_default()),
            )
            .with_help("a union is of quoted literals only (`'a' | 'b'`), or one type and `null`"),
        );
        return None;
    };
    let mut base = one;
    let mut depth = 0;
    while let Some(inner) = base.strip_suffix("[]") {
        base = inner.trim_end();
        depth += 1;
    }
    let mut ty = if let Some((_, t)) = SCALARS.iter().find(|(n, _)| *n == base) {
        t.clone()
    } else if declared.contains(base) {
        used.insert(base.to_owned());
        FieldType::Model(base.to_owned())
    } else {
        let known = SCALARS
            .iter()
            .map(|(n, _)| *n)
            .chain(declared.iter().map(String::as_str));
        let suggestion = terapi_model::closest(base, known);
        let looks_like_model = base.starts_with(|c: char| c.is_ascii_uppercase());
        let (rule, msg) = if looks_like_model {
            (
                Rule::UnknownModel,
                format!("the model `{}` is not declared", base.escape_default()),
            )
        } else {
            (
                Rule::InvalidFieldType,
                format!("`{}` is not a field type", base.escape_default()),
            )
        };
        cx.push(Diagnostic::new(rule, loc, msg).with_suggestion(suggestion));
        return None;
    };
    for _ in 0..depth {
        ty = FieldType::Array(Box::new(ty));
    }
    Some((ty, nullable))
}

fn model_ref<'a>(
    node: &Node,
    what: &str,
    models: &'a [ModelSpec],
    declared: &BTreeSet<String>,
    used: &mut BTreeSet<String>,
    cx: &mut Cx,
) -> Option<(String, Option<&'a ModelSpec>)> {
    let name = string_of(node, what, cx)?;
    if !declared.contains(&name) {
        cx.push(
            Diagnostic::new(
                Rule::UnknownModel,
                node.loc,
                format!(
                    "{what}: the model `{}` is not declared",
                    name.escape_default()
                ),
            )
            .with_suggestion(terapi_model::closest(
                &name,
                declared.iter().map(String::as_str),
            )),
        );
        return None;
    }
    used.insert(name.clone());
    let spec = models.iter().find(|m| m.name == name);
    Some((name, spec))
}

fn read_integration(
    provider: &str,
    node: &Node,
    models: &[ModelSpec],
    declared: &BTreeSet<String>,
    used: &mut BTreeSet<String>,
    cx: &mut Cx,
) -> Integration {
    let mut integration = Integration {
        provider: provider.to_owned(),
        syncs: Vec::new(),
        actions: Vec::new(),
    };
    let what = format!("the integration `{}`", provider.escape_default());
    if map_of(node, &what, cx).is_none() {
        return integration;
    }
    unknown_keys(node, INTEGRATION_KEYS, &what, cx);
    let budget = node.get("budget").and_then(|b| budget_of(b, cx));

    let sync_nodes = match node.get("syncs") {
        Some(syncs) => named_entries(
            syncs,
            "sync",
            is_model_name,
            "1 to 64 of `a-z`, `0-9`, `-`, `_` and `.` (it names the model in the store)",
            cx,
        ),
        None => Vec::new(),
    };
    let sync_names: Vec<&str> = sync_nodes.iter().filter_map(|(k, _)| k.as_str()).collect();
    for (k, v) in &sync_nodes {
        let name = k.as_str().unwrap_or_default();
        if let Some(spec) = read_sync(
            provider,
            name,
            v,
            budget,
            &sync_names,
            models,
            declared,
            used,
            cx,
        ) {
            integration.syncs.push(spec);
        }
    }

    if let Some(actions) = node.get("actions") {
        let is_action_name = |name: &str| {
            !name.is_empty()
                && name.len() <= 64
                && name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        };
        for (k, v) in named_entries(
            actions,
            "action",
            is_action_name,
            "1 to 64 of `a-z`, `0-9`, `-` and `_`",
            cx,
        ) {
            let name = k.as_str().unwrap_or_default();
            if let Some(action) = read_action(provider, name, v, budget, models, declared, used, cx)
            {
                integration.actions.push(action);
            }
        }
    }
    integration.actions.sort_by(|a, b| a.name.cmp(&b.name));
    integration
}

/// The entries of the mapping `node` (of syncs or actions: `what`) whose name is a string
/// that `valid` accepts (else `invalid-name`, saying `rule`) and maps to a Rust name no
/// earlier entry has (else `name-collision`).
fn named_entries<'a>(
    node: &'a Node,
    what: &str,
    valid: impl Fn(&str) -> bool,
    rule: &str,
    cx: &mut Cx,
) -> Vec<(&'a Node, &'a Node)> {
    let Some(map) = map_of(node, &format!("`{what}s`"), cx) else {
        return Vec::new();
    };
    let mut rust: BTreeMap<String, Loc> = BTreeMap::new();
    let mut out = Vec::new();
    for (k, v) in map {
        let Some(name) = k.as_str() else {
            cx.push(Diagnostic::new(
                Rule::WrongType,
                k.loc,
                format!("a {what} name must be a string"),
            ));
            continue;
        };
        if !valid(name) {
            cx.push(Diagnostic::new(
                Rule::InvalidName,
                k.loc,
                format!("the {what} name `{}` is not {rule}", name.escape_default()),
            ));
            continue;
        }
        if let Some(first) = rust.insert(names::snake(name), k.loc) {
            cx.push(
                Diagnostic::new(
                    Rule::NameCollision,
                    k.loc,
                    format!("the {what} `{name}` maps to the same Rust name as another"),
                )
                .with_note(first, format!("the other {what}")),
            );
            continue;
        }
        out.push((k, v));
    }
    out
}

/// The first segment of a lodash-style path (`attributes.id.value` → `attributes`).
fn first_segment(path: &str) -> &str {
    path.split(['.', '[']).next().unwrap_or(path)
}

fn check_field_path(path: &str, loc: Loc, what: &str, model: Option<&ModelSpec>, cx: &mut Cx) {
    let Some(model) = model.filter(|m| m.openapi.is_none()) else {
        return;
    };
    let first = first_segment(path);
    if !model.fields.iter().any(|f| f.name == first) {
        cx.push(
            Diagnostic::new(
                Rule::UnknownField,
                loc,
                format!(
                    "{what} `{}`: the model `{}` has no field `{}`",
                    path.escape_default(),
                    model.name,
                    first.escape_default()
                ),
            )
            .with_suggestion(terapi_model::closest(
                first,
                model.fields.iter().map(|f| f.name.as_str()),
            )),
        );
    }
}

#[allow(clippy::too_many_arguments)]
fn read_sync(
    provider: &str,
    name: &str,
    node: &Node,
    budget: Option<Budget>,
    sync_names: &[&str],
    models: &[ModelSpec],
    declared: &BTreeSet<String>,
    used: &mut BTreeSet<String>,
    cx: &mut Cx,
) -> Option<SyncSpec> {
    let what = format!("the sync `{name}`");
    map_of(node, &what, cx)?;
    unknown_keys(node, SYNC_KEYS, &what, cx);
    let before = cx.diagnostics.len();
    let Some(endpoint_node) = node.get("endpoint") else {
        cx.push(Diagnostic::new(
            Rule::MissingKey,
            node.loc,
            format!("{what} needs an `endpoint` (`GET /path`)"),
        ));
        return None;
    };
    let (method, path) = endpoint_of(endpoint_node, &format!("the endpoint of {what}"), cx)?;
    if method != Method::Get {
        cx.push(Diagnostic::new(
            Rule::InvalidEndpoint,
            endpoint_node.loc,
            format!("{what} lists with {method}; a sync lists with GET"),
        ));
    }
    let mut spec = SyncSpec::new(provider.to_owned(), name.to_owned(), path.clone());
    if let Some(b) = budget {
        spec = spec.budget(b.per_minute, b.burst);
    }
    let output = match node.get("output") {
        Some(o) => model_ref(
            o,
            &format!("the output of {what}"),
            models,
            declared,
            used,
            cx,
        ),
        None => None,
    };
    let output_model = output.as_ref().and_then(|(_, m)| *m);
    if let Some((o, _)) = &output {
        spec = spec.output(o.clone());
    }
    if let Some(d) = node.get("description") {
        string_of(d, "`description`", cx);
    }
    if let Some(id) = node.get("id") {
        let id_text = string_of(id, "`id`", cx)?;
        check_field_path(&id_text, id.loc, "the id path", output_model, cx);
        spec = spec.id_path(id_text);
    }
    if let Some(u) = node.get("updated_at") {
        let text = string_of(u, "`updated_at`", cx)?;
        check_field_path(&text, u.loc, "the `updated_at` path", output_model, cx);
        spec = spec.updated_path(text);
    }
    if let Some(n) = node.get("total") {
        spec = spec.total_path(string_of(n, "`total`", cx)?);
    }
    if let Some(n) = node.get("total_pages") {
        spec = spec.total_pages_path(string_of(n, "`total_pages`", cx)?);
    }
    if let Some(l) = node.get("limit") {
        spec = spec.limit(int_of(l, "`limit`", 1..=10_000, cx)? as u32);
    }
    if let Some(q) = node.get("query") {
        let map = map_of(q, "`query`", cx)?;
        for (k, v) in map {
            let (Some(k), Some(v)) = (k.as_str(), scalar_text(v)) else {
                cx.push(Diagnostic::new(
                    Rule::WrongType,
                    v.loc,
                    "a query param is a name and a string, number or boolean",
                ));
                continue;
            };
            spec = spec.query(k.to_owned(), v);
        }
    }
    let sync_type = match node.get("sync_type") {
        Some(t) => match string_of(t, "`sync_type`", cx).as_deref() {
            Some("full") => Some(false),
            Some("incremental") => Some(true),
            Some(other) => {
                cx.push(
                    Diagnostic::new(
                        Rule::WrongType,
                        t.loc,
                        format!(
                            "`sync_type` is `full` or `incremental`, not `{}`",
                            other.escape_default()
                        ),
                    )
                    .with_suggestion(terapi_model::closest(
                        other,
                        ["full", "incremental"].into_iter(),
                    )),
                );
                None
            }
            None => None,
        },
        None => Some(false),
    };
    match (sync_type, node.get("incremental")) {
        (Some(true), Some(inc)) => {
            map_of(inc, "`incremental`", cx)?;
            unknown_keys(inc, INCREMENTAL_KEYS, "`incremental`", cx);
            let param = match inc.get("param") {
                Some(p) => string_of(p, "`param`", cx)?,
                None => {
                    cx.push(Diagnostic::new(
                        Rule::MissingKey,
                        inc.loc,
                        "`incremental` needs the query `param` that filters changes",
                    ));
                    return None;
                }
            };
            let format = match inc.get("format") {
                None => SinceFormat::Rfc3339,
                Some(f) => match string_of(f, "`format`", cx)?.as_str() {
                    "rfc3339" => SinceFormat::Rfc3339,
                    "naive-utc" => SinceFormat::NaiveUtc,
                    "date" => SinceFormat::Date,
                    other => {
                        cx.push(
                            Diagnostic::new(
                                Rule::WrongType,
                                f.loc,
                                format!(
                                    "`format` is `rfc3339`, `naive-utc` or `date`, not `{}`",
                                    other.escape_default()
                                ),
                            )
                            .with_suggestion(terapi_model::closest(
                                other,
                                ["rfc3339", "naive-utc", "date"].into_iter(),
                            )),
                        );
                        return None;
                    }
                },
            };
            let overlap = match inc.get("overlap") {
                Some(o) => duration_of(o, "`overlap`", cx)?,
                None => Duration::ZERO,
            };
            spec = spec.incremental(param, format, overlap);
        }
        (Some(true), None) => cx.push(Diagnostic::new(
            Rule::MissingKey,
            node.get("sync_type").map_or(node.loc, |n| n.loc),
            format!("{what} is incremental but has no `incremental` (`param`, `format`, `overlap`)"),
        )),
        (Some(false), Some(inc)) => cx.push(Diagnostic::new(
            Rule::UnknownKey,
            inc.loc,
            format!("{what} is full (`sync_type: full` or none) but has `incremental`; set `sync_type: incremental`"),
        )),
        _ => {}
    }
    if let Some(r) = node.get("runs") {
        let text = string_of(r, "`runs`", cx)?;
        match text.strip_prefix("every ").and_then(parse_duration) {
            Some(d) if d >= Duration::from_secs(60) => spec = spec.schedule(d),
            _ => cx.push(
                Diagnostic::new(
                    Rule::InvalidDuration,
                    r.loc,
                    format!(
                        "`runs: {}` is not `every` and a duration of at least a minute",
                        text.escape_default()
                    ),
                )
                .with_help("e.g. `runs: every 1h`"),
            ),
        }
    }
    if let Some(p) = node.get("personal") {
        spec = spec.personal(bool_of(p, "`personal`", cx)?);
    }
    if let Some(b) = node.get("budget") {
        let b = budget_of(b, cx)?;
        spec = spec.budget(b.per_minute, b.burst);
    }
    if let Some(t) = node.get("track_deletes") {
        map_of(t, "`track_deletes`", cx)?;
        unknown_keys(t, DELETES_KEYS, "`track_deletes`", cx);
        if let Some(m) = t.get("max_percent") {
            spec = spec.max_delete_percent(int_of(m, "`max_percent`", 0..=100, cx)? as u8);
        }
    }
    if let Some(p) = node.get("pagination") {
        spec.pagination = Some(read_pagination(p, cx)?);
    }
    // The parent: what fills `{id}`.
    let params = path_params(&path);
    match node.get("parent") {
        Some(parent) => {
            map_of(parent, "`parent`", cx)?;
            unknown_keys(parent, PARENT_KEYS, "`parent`", cx);
            let Some(sync_node) = parent.get("sync") else {
                cx.push(Diagnostic::new(
                    Rule::MissingKey,
                    parent.loc,
                    "`parent` needs the `sync` whose records are listed under",
                ));
                return None;
            };
            let parent_name = string_of(sync_node, "`sync`", cx)?;
            if parent_name == name || !sync_names.contains(&parent_name.as_str()) {
                cx.push(
                    Diagnostic::new(
                        Rule::UnknownModel,
                        sync_node.loc,
                        format!(
                            "the parent `{}` is not another sync of `{provider}`",
                            parent_name.escape_default()
                        ),
                    )
                    .with_suggestion(terapi_model::closest(
                        &parent_name,
                        sync_names.iter().copied().filter(|s| *s != name),
                    )),
                );
                return None;
            }
            let position = |n: &str| sync_names.iter().position(|s| *s == n);
            if position(&parent_name) > position(name) {
                cx.push(Diagnostic::new(
                    Rule::UnknownModel,
                    sync_node.loc,
                    format!(
                        "the parent `{}` is declared after `{name}`: declare it first (syncs run in the file's order, a parent before its children)",
                        parent_name.escape_default()
                    ),
                ));
                return None;
            }
            if params != ["id"] {
                cx.push(Diagnostic::new(
                    Rule::UnboundPathParam,
                    endpoint_node.loc,
                    format!("a per-parent endpoint has exactly one param, `{{id}}` (the parent's id); `{}` has {}", path.escape_default(), params.len()),
                ));
                return None;
            }
            spec = spec.per_parent(parent_name, path.clone());
            if let Some(f) = parent.get("fetch") {
                let (m, one) = endpoint_of(f, "the parent's `fetch`", cx)?;
                if m != Method::Get || path_params(&one) != ["id"] {
                    cx.push(Diagnostic::new(
                        Rule::InvalidEndpoint,
                        f.loc,
                        "the parent's `fetch` is `GET /path/{id}`",
                    ));
                    return None;
                }
                spec = spec.parent_fetch_one(one);
            }
        }
        None => {
            if let Some(p) = params.first() {
                cx.push(
                    Diagnostic::new(
                        Rule::UnboundPathParam,
                        endpoint_node.loc,
                        format!("{what}: nothing fills the path param `{{{p}}}`"),
                    )
                    .with_help("list per record of another sync with `parent: {sync: NAME}`"),
                );
                return None;
            }
        }
    }
    if let Some(f) = node.get("fetch") {
        let (m, one) = endpoint_of(f, "`fetch`", cx)?;
        let allowed: &[&str] = if spec.parent.is_some() {
            &["parent", "id"]
        } else {
            &["id"]
        };
        let params = path_params(&one);
        if m != Method::Get
            || !params.contains(&"id")
            || params.iter().any(|p| !allowed.contains(p))
        {
            cx.push(Diagnostic::new(
                Rule::UnboundPathParam,
                f.loc,
                format!(
                    "`fetch` is `GET /path/{{id}}`{}",
                    if spec.parent.is_some() {
                        " (and `{parent}` for the parent's id)"
                    } else {
                        ""
                    }
                ),
            ));
            return None;
        }
        spec = spec.fetch_one(one);
    }
    if cx.diagnostics[before..]
        .iter()
        .any(|d| d.severity == crate::diagnostic::Severity::Error)
    {
        return None;
    }
    if let Err(e) = spec.check() {
        cx.push(Diagnostic::new(Rule::WrongType, node.loc, e.to_string()));
        return None;
    }
    Some(spec)
}

fn scalar_text(node: &Node) -> Option<String> {
    match &node.kind {
        NodeKind::Str(s) => Some(s.clone()),
        NodeKind::Int(n) => Some(n.to_string()),
        NodeKind::Bool(b) => Some(b.to_string()),
        NodeKind::Float(f) => Some(f.to_string()),
        _ => None,
    }
}

fn read_pagination(node: &Node, cx: &mut Cx) -> Option<PaginateConfig> {
    map_of(node, "`pagination`", cx)?;
    unknown_keys(node, PAGINATION_KEYS, "`pagination`", cx);
    let text = |key: &str, cx: &mut Cx| -> Option<Option<std::borrow::Cow<'static, str>>> {
        match node.get(key) {
            Some(n) => Some(Some(string_of(n, &format!("`{key}`"), cx)?.into())),
            None => Some(None),
        }
    };
    let kind = match node.get("type") {
        Some(t) => match string_of(t, "`type`", cx)?.as_str() {
            "offset" => PageKind::Offset,
            "cursor" => PageKind::Cursor,
            "link" => PageKind::Link,
            other => {
                cx.push(Diagnostic::new(
                    Rule::WrongType,
                    t.loc,
                    format!(
                        "`type` is `offset`, `cursor` or `link`, not `{}`",
                        other.escape_default()
                    ),
                ));
                return None;
            }
        },
        None => {
            cx.push(Diagnostic::new(
                Rule::MissingKey,
                node.loc,
                "`pagination` needs a `type` (`offset`, `cursor` or `link`)",
            ));
            return None;
        }
    };
    let offset_step = match node.get("offset_step") {
        None => OffsetStep::ByResponseSize,
        Some(s) => match string_of(s, "`offset_step`", cx)?.as_str() {
            "per-record" => OffsetStep::ByResponseSize,
            "per-page" => OffsetStep::PerPage,
            other => {
                cx.push(Diagnostic::new(
                    Rule::WrongType,
                    s.loc,
                    format!(
                        "`offset_step` is `per-record` or `per-page`, not `{}`",
                        other.escape_default()
                    ),
                ));
                return None;
            }
        },
    };
    let offset_start = match node.get("offset_start") {
        Some(n) => int_of(n, "`offset_start`", 0..=1_000_000, cx)? as u64,
        None => 0,
    };
    Some(PaginateConfig {
        kind,
        limit_name: text("limit_name", cx)?,
        response_path: text("response_path", cx)?,
        cursor_path: text("cursor_path", cx)?,
        cursor_name: text("cursor_name", cx)?,
        link_rel: None,
        link_path: text("link_path", cx)?,
        offset_name: text("offset_name", cx)?,
        offset_start: offset_start as _,
        offset_step,
        total_pages_path: None,
    })
}

#[allow(clippy::too_many_arguments)]
fn read_action(
    provider: &str,
    name: &str,
    node: &Node,
    budget: Option<Budget>,
    models: &[ModelSpec],
    declared: &BTreeSet<String>,
    used: &mut BTreeSet<String>,
    cx: &mut Cx,
) -> Option<ActionSpec> {
    let what = format!("the action `{name}`");
    map_of(node, &what, cx)?;
    unknown_keys(node, ACTION_KEYS, &what, cx);
    let Some(endpoint_node) = node.get("endpoint") else {
        cx.push(Diagnostic::new(
            Rule::MissingKey,
            node.loc,
            format!("{what} needs an `endpoint` (`POST /path`)"),
        ));
        return None;
    };
    let endpoint = endpoint_of(endpoint_node, &format!("the endpoint of {what}"), cx);
    let input = match node.get("input") {
        Some(i) => Some(model_ref(
            i,
            &format!("the input of {what}"),
            models,
            declared,
            used,
            cx,
        )?),
        None => None,
    };
    let output = match node.get("output") {
        Some(o) => Some(
            model_ref(
                o,
                &format!("the output of {what}"),
                models,
                declared,
                used,
                cx,
            )?
            .0,
        ),
        None => None,
    };
    let description = match node.get("description") {
        Some(d) => Some(string_of(d, "`description`", cx)?),
        None => None,
    };
    let (method, path) = endpoint?;
    let input_model = input.as_ref().and_then(|(_, m)| *m);
    let fields: Option<Vec<&str>> = input_model
        .filter(|m| m.openapi.is_none())
        .map(|m| m.fields.iter().map(|f| f.name.as_str()).collect());
    if input
        .as_ref()
        .is_some_and(|(_, m)| m.is_some_and(|m| m.openapi.is_some()))
    {
        let params = path_params(&path);
        if !params.is_empty() {
            cx.push(Diagnostic::new(
                Rule::UnboundPathParam,
                endpoint_node.loc,
                format!("{what}: an OpenAPI input model cannot fill the path param `{{{}}}`; declare the input's fields", params[0]),
            ));
            return None;
        }
    }
    let mut ok = true;
    // Path params: each an input field.
    for p in path_params(&path) {
        let filled = fields.as_ref().is_some_and(|f| f.contains(&p));
        if !filled {
            cx.push(
                Diagnostic::new(
                    Rule::UnboundPathParam,
                    endpoint_node.loc,
                    format!("{what}: no input field fills the path param `{{{p}}}`"),
                )
                .with_suggestion(
                    fields
                        .as_ref()
                        .and_then(|f| terapi_model::closest(p, f.iter().copied())),
                ),
            );
            ok = false;
        }
    }
    let mut query = Vec::new();
    if let Some(q) = node.get("query") {
        let NodeKind::Seq(items) = &q.kind else {
            cx.push(Diagnostic::new(
                Rule::WrongType,
                q.loc,
                format!("`query` is a list of input fields, not {}", q.describe()),
            ));
            return None;
        };
        for item in items {
            let Some(field) = string_of(item, "a `query` field", cx) else {
                ok = false;
                continue;
            };
            if let Some(f) = &fields
                && !f.contains(&field.as_str())
            {
                cx.push(
                    Diagnostic::new(
                        Rule::UnknownField,
                        item.loc,
                        format!(
                            "the input `{}` has no field `{}`",
                            input.as_ref().map_or("", |(n, _)| n.as_str()),
                            field.escape_default()
                        ),
                    )
                    .with_suggestion(terapi_model::closest(&field, f.iter().copied())),
                );
                ok = false;
                continue;
            }
            if fields.is_none() {
                cx.push(Diagnostic::new(
                    Rule::UnknownField,
                    item.loc,
                    format!(
                        "{what} has no input with declared fields to take `{}` from",
                        field.escape_default()
                    ),
                ));
                ok = false;
                continue;
            }
            query.push(field);
        }
    }
    let body = match node.get("file") {
        Some(f) => {
            let field = string_of(f, "`file`", cx)?;
            let is_file = input_model.and_then(|m| m.fields.iter().find(|x| x.name == field));
            match is_file {
                Some(x) if x.ty == FieldType::File => BodyKind::Multipart { file: field },
                Some(_) => {
                    cx.push(Diagnostic::new(
                        Rule::WrongType,
                        f.loc,
                        format!(
                            "the field `{}` of the input is not of type `file`",
                            field.escape_default()
                        ),
                    ));
                    return None;
                }
                None => {
                    cx.push(Diagnostic::new(
                        Rule::UnknownField,
                        f.loc,
                        format!("the input has no field `{}`", field.escape_default()),
                    ));
                    return None;
                }
            }
        }
        None => {
            let path_fields = path_params(&path);
            let rest: Vec<&str> = match (&fields, input_model) {
                (Some(f), _) => f
                    .iter()
                    .copied()
                    .filter(|f| !path_fields.contains(f) && !query.iter().any(|q| q == f))
                    .collect(),
                (None, Some(_)) => vec!["(the OpenAPI input)"],
                (None, None) => vec![],
            };
            // `!ok`: a path param or `query` field is reported already (a misspelt `query`
            // field would show here again as a field left for the body); the action is not built.
            if rest.is_empty() || !ok {
                BodyKind::None
            } else if method.has_body() {
                BodyKind::Json
            } else {
                cx.push(
                    Diagnostic::new(
                        Rule::BodyOnGet,
                        endpoint_node.loc,
                        format!(
                            "{what} sends {method}, which has no body, but the input's {} would go in one",
                            rest.iter().map(|f| format!("`{f}`")).collect::<Vec<_>>().join(", ")
                        ),
                    )
                    .with_help("list them under `query`, or use a method with a body"),
                );
                return None;
            }
        }
    };
    if let Some(f) = node.get("file")
        && !method.has_body()
    {
        cx.push(Diagnostic::new(
            Rule::BodyOnGet,
            f.loc,
            format!("{what} uploads a file with {method}, which has no body"),
        ));
        return None;
    }
    let idempotent = match node.get("idempotent") {
        Some(i) => {
            let v = bool_of(i, "`idempotent`", cx)?;
            if v && method == Method::Post {
                cx.push(Diagnostic::new(
                    Rule::IdempotentPost,
                    i.loc,
                    format!("{what} is a POST declared idempotent: it is retried after a 5xx"),
                ));
            }
            v
        }
        None => matches!(method, Method::Get | Method::Put | Method::Delete),
    };
    if !ok {
        return None;
    }
    Some(ActionSpec {
        provider: provider.to_owned(),
        name: name.to_owned(),
        description,
        method,
        path,
        input: input.map(|(n, _)| n),
        output,
        query,
        body,
        idempotent,
        budget,
    })
}
