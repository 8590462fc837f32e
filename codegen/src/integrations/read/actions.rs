//! Actions: the endpoint, the input model (path params, query fields, the body or a file),
//! the output model, idempotence; read into an `ActionSpec`.

use terapi_model::integration::{ActionSpec, BodyKind, FieldType, Method, path_params};
use terapi_model::sync::Budget;

use super::Known;
use super::models::model_ref;
use super::values::{bool_of, endpoint_of, map_of, string_of, unknown_keys};
use crate::diagnostic::Diagnostic;
use crate::lower::Cx;
use crate::rules::Rule;
use crate::yaml::{Node, NodeKind};

pub(super) const ACTION_KEYS: &[&str] = &[
    "description",
    "endpoint",
    "input",
    "output",
    "query",
    "file",
    "idempotent",
];

pub(super) fn read_action(
    provider: &str,
    name: &str,
    node: &Node,
    budget: Option<Budget>,
    known: &mut Known<'_>,
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
        Some(i) => Some(model_ref(i, &format!("the input of {what}"), known, cx)?),
        None => None,
    };
    let output = match node.get("output") {
        Some(o) => Some(model_ref(o, &format!("the output of {what}"), known, cx)?.0),
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
