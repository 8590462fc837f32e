//! An integrations file's YAML tree → [`Integrations`], with every problem located: the
//! models first (`models.rs`), then per provider its syncs (`syncs.rs`) and actions
//! (`actions.rs`); `values.rs` reads the values they share.

mod actions;
mod models;
mod syncs;
mod values;

use std::collections::{BTreeMap, BTreeSet};

use terapi_model::integration::{Integration, Integrations, ModelSpec};
use terapi_model::sync::is_model_name;

pub use values::parse_duration;

use crate::diagnostic::Diagnostic;
use crate::lower::Cx;
use crate::names;
use crate::rules::Rule;
use crate::yaml::{Loc, Node};
use actions::read_action;
use models::read_model;
use syncs::read_sync;
use values::{budget_of, key_str, map_of, unknown_keys};

/// The models a provider's syncs and actions may name, and which of them were named.
pub(super) struct Known<'a> {
    /// The models read.
    pub models: &'a [ModelSpec],
    /// Every declared model's name (a model with errors is declared but not read).
    pub declared: &'a BTreeSet<String>,
    /// The names some sync, action or model uses.
    pub used: BTreeSet<String>,
}

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

    let mut known = Known {
        models: &out.models,
        declared: &declared,
        used,
    };
    let mut integrations_read = Vec::new();
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
            integrations_read.push(read_integration(provider, v, &mut known, cx));
        }
    }
    let used = known.used;
    out.integrations = integrations_read;
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

fn read_integration(
    provider: &str,
    node: &Node,
    known: &mut Known<'_>,
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
        if let Some(spec) = read_sync(provider, name, v, budget, &sync_names, known, cx) {
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
            if let Some(action) = read_action(provider, name, v, budget, known, cx) {
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
