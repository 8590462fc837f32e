//! Syncs: the listing's endpoint, the output model, full or incremental, the paths of a
//! record's id and change time, pagination, a parent, one record's endpoint, the deletion
//! threshold, the schedule and the budget; read into a `SyncSpec`.

use std::time::Duration;

use terapi_model::integration::{Method, path_params};
use terapi_model::paginate::{OffsetStep, PageKind, PaginateConfig};
use terapi_model::sync::{Budget, SinceFormat, SyncSpec};

use super::Known;
use super::models::{check_field_path, model_ref};
use super::values::{
    bool_of, budget_of, duration_of, endpoint_of, int_of, map_of, parse_duration, scalar_text,
    string_of, unknown_keys,
};
use crate::diagnostic::Diagnostic;
use crate::lower::Cx;
use crate::rules::Rule;
use crate::yaml::Node;

pub(super) const SYNC_KEYS: &[&str] = &[
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

pub(super) const INCREMENTAL_KEYS: &[&str] = &["param", "format", "overlap"];

pub(super) const PARENT_KEYS: &[&str] = &["sync", "fetch"];

pub(super) const DELETES_KEYS: &[&str] = &["max_percent"];

pub(super) const PAGINATION_KEYS: &[&str] = &[
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

pub(super) fn read_sync(
    provider: &str,
    name: &str,
    node: &Node,
    budget: Option<Budget>,
    sync_names: &[&str],
    known: &mut Known<'_>,
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
        Some(o) => model_ref(o, &format!("the output of {what}"), known, cx),
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

pub(super) fn read_pagination(node: &Node, cx: &mut Cx) -> Option<PaginateConfig> {
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
