//! Models: a `$ref` to an OpenAPI schema, or fields with their types (nango's spelling:
//! `name?:` optional, `| null`, `[]`, quoted literals for an enum, nested mappings).

use std::collections::{BTreeMap, BTreeSet};

use terapi_model::integration::{FieldSpec, FieldType, ModelSpec};

use super::Known;
use super::values::{map_of, string_of};
use crate::diagnostic::Diagnostic;
use crate::lower::Cx;
use crate::names;
use crate::rules::Rule;
use crate::yaml::{Loc, Node, NodeKind};

pub(super) fn read_model(
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

pub(super) fn read_fields(
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
pub(super) fn read_type(
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

pub(super) const SCALARS: &[(&str, FieldType)] = &[
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

pub(super) fn parse_type(
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

pub(super) fn model_ref<'a>(
    node: &Node,
    what: &str,
    known: &mut Known<'a>,
    cx: &mut Cx,
) -> Option<(String, Option<&'a ModelSpec>)> {
    let models = known.models;
    let name = string_of(node, what, cx)?;
    if !known.declared.contains(&name) {
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
                known.declared.iter().map(String::as_str),
            )),
        );
        return None;
    }
    known.used.insert(name.clone());
    let spec = models.iter().find(|m| m.name == name);
    Some((name, spec))
}

/// The first segment of a lodash-style path (`attributes.id.value` → `attributes`).
pub(super) fn first_segment(path: &str) -> &str {
    path.split(['.', '[']).next().unwrap_or(path)
}

pub(super) fn check_field_path(
    path: &str,
    loc: Loc,
    what: &str,
    model: Option<&ModelSpec>,
    cx: &mut Cx,
) {
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
