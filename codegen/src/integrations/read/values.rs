//! Reading values of the tree: mappings, strings, numbers, durations, endpoints, budgets;
//! each wrong one a located diagnostic.

use std::time::Duration;

use terapi_model::integration::{Method, path_params};
use terapi_model::sync::Budget;

use crate::diagnostic::Diagnostic;
use crate::lower::Cx;
use crate::rules::Rule;
use crate::yaml::{Loc, Node, NodeKind};

pub(super) const BUDGET_KEYS: &[&str] = &["per_minute", "burst"];

pub(super) fn unknown_keys(node: &Node, allowed: &[&str], what: &str, cx: &mut Cx) {
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

pub(super) fn map_of<'a>(node: &'a Node, what: &str, cx: &mut Cx) -> Option<&'a [(Node, Node)]> {
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

pub(super) fn string_of(node: &Node, what: &str, cx: &mut Cx) -> Option<String> {
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

pub(super) fn bool_of(node: &Node, what: &str, cx: &mut Cx) -> Option<bool> {
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

pub(super) fn int_of(
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

pub(super) fn key_str(k: &Node) -> Option<&str> {
    k.as_str()
}

pub(super) fn duration_of(node: &Node, what: &str, cx: &mut Cx) -> Option<Duration> {
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
pub(super) fn endpoint_of(node: &Node, what: &str, cx: &mut Cx) -> Option<(Method, String)> {
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

pub(super) fn check_path(path: &str, loc: Loc, what: &str, cx: &mut Cx) -> Option<()> {
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

pub(super) fn budget_of(node: &Node, cx: &mut Cx) -> Option<Budget> {
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

pub(super) fn scalar_text(node: &Node) -> Option<String> {
    match &node.kind {
        NodeKind::Str(s) => Some(s.clone()),
        NodeKind::Int(n) => Some(n.to_string()),
        NodeKind::Bool(b) => Some(b.to_string()),
        NodeKind::Float(f) => Some(f.to_string()),
        _ => None,
    }
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
