//! Semantic checks of a read catalog, like a compiler's: every problem, each at its place,
//! each a named rule of `crate::rules`. What passes becomes a [`Plan`] (see
//! `crate::plan`); templates are compiled in `compile.rs`.
//!
//! One module per concern: `params` (definitions, patterns, examples), `references` (which
//! params the templates use), `auth` (per-auth-mode rules), `text` (names and characters
//! generated code cannot carry), `compile` (templates into parts).

mod auth;
mod compile;
mod params;
mod references;
mod text;

use std::collections::{BTreeMap, BTreeSet};

use terapi_model::Section;

use crate::diagnostic::{Diagnostic, Severity};
use crate::lower::closest;
use crate::model::ProviderEntry;
use crate::names;
pub use crate::plan::*;
use crate::rules::{Levels, Rule};
use crate::yaml::Loc;
pub(crate) use text::is_bidi_control;

/// The categories of the catalog format (`payroll` from older versions included).
const CATEGORIES: &[&str] = &[
    "accounting",
    "analytics",
    "ats",
    "banking",
    "cms",
    "communication",
    "crm",
    "design",
    "dev-tools",
    "e-commerce",
    "erp",
    "gaming",
    "hr",
    "iam",
    "invoicing",
    "knowledge-base",
    "legal",
    "marketing",
    "mcp",
    "other",
    "payment",
    "payroll",
    "popular",
    "productivity",
    "search",
    "social",
    "sports",
    "storage",
    "support",
    "surveys",
    "ticketing",
    "video",
];

/// The connection config and credential params of a provider (declared and implied).
pub(crate) type Declared<'p, 'a> = (&'p [ParamPlan<'a>], &'p [ParamPlan<'a>]);

/// What the compiler knows of the entry being compiled: an explicit value, passed down.
pub(crate) struct Scope<'p, 'a> {
    /// The entry's strings, parsed once.
    pub(crate) templates: &'p crate::parsed::Templates,
    /// Whether the platform obtains credentials in this auth mode.
    pub(crate) obtains_credentials: bool,
    /// Its params.
    pub(crate) decl: Declared<'p, 'a>,
}

/// Collects the findings of the checks at the levels in force.
pub(crate) struct Checker<'a> {
    pub(crate) source: &'a str,
    pub(crate) diagnostics: Vec<Diagnostic>,
    levels: Levels,
}

/// Checks the given entries and plans their output. `entries` may be a selection of the
/// catalog; module and variant name collisions are checked among them.
pub fn check<'a>(
    source: &'a str,
    entries: &[&'a ProviderEntry],
    levels: Levels,
) -> (Plan<'a>, Vec<Diagnostic>) {
    let mut checker = Checker {
        source,
        diagnostics: Vec::new(),
        levels,
    };
    let colliding = checker.collisions(entries);
    let mut providers: Vec<ProviderPlan<'a>> = Vec::new();
    for e in entries {
        let first = checker.diagnostics.len();
        providers.extend(checker.provider(e));
        for d in &mut checker.diagnostics[first..] {
            d.provider = Some(e.key.clone());
        }
    }
    providers.sort_by(|a, b| a.key.cmp(b.key));
    providers.retain(|p| !colliding.contains(p.key));
    (Plan { providers }, checker.diagnostics)
}

impl<'a> Checker<'a> {
    /// Records a finding at the level of its rule (dropped when allowed).
    pub(crate) fn push(&mut self, d: Diagnostic) {
        if let Some(d) = d.leveled(&self.levels) {
            self.diagnostics.push(d);
        }
    }

    /// Records a finding of `rule`.
    pub(crate) fn report(&mut self, rule: Rule, loc: Loc, message: impl Into<String>) {
        self.push(Diagnostic::new(rule, loc, message));
    }

    /// The location of the text `offset..offset+len` inside the string `value` at `loc`.
    pub(crate) fn inner(&self, loc: Loc, value: &str, offset: usize, len: usize) -> Loc {
        loc.inner(self.source, value, offset, len)
    }

    fn error_count(&self) -> usize {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count()
    }

    /// Reports providers whose module or variant names collide (whatever else is wrong with
    /// them); returns their keys.
    fn collisions(&mut self, entries: &[&'a ProviderEntry]) -> BTreeSet<&'a str> {
        let mut sorted: Vec<&'a ProviderEntry> = entries.to_vec();
        sorted.sort_by_key(|e| e.key_loc.offset);
        let mut modules: BTreeMap<String, &'a ProviderEntry> = BTreeMap::new();
        let mut variants: BTreeMap<String, &'a ProviderEntry> = BTreeMap::new();
        let mut keys = BTreeSet::new();
        for e in sorted {
            let (module, variant) = (names::snake(&e.key), names::camel(&e.key));
            let clash = match (modules.get(&module), variants.get(&variant)) {
                (Some(first), _) => Some((*first, "module", module.clone())),
                (None, Some(first)) => Some((*first, "`Provider` variant", variant.clone())),
                (None, None) => None,
            };
            modules.entry(module).or_insert(e);
            variants.entry(variant).or_insert(e);
            let Some((first, what, name)) = clash else {
                continue;
            };
            keys.insert(e.key.as_str());
            keys.insert(first.key.as_str());
            let message = format!(
                "provider keys `{}` and `{}` both map to the Rust {what} name `{name}`",
                first.key, e.key
            );
            let d = Diagnostic::new(Rule::ProviderCollision, e.key_loc, message)
                .with_note(first.key_loc, format!("`{}` is here", first.key))
                .with_help("rename one of them");
            let mut d = d;
            d.provider = Some(e.key.clone());
            self.push(d);
        }
        keys
    }

    fn provider(&mut self, entry: &'a ProviderEntry) -> Option<ProviderPlan<'a>> {
        let p = &entry.provider;
        let errors_before = self.error_count();
        let auth_mode = p.auth_mode.as_ref().map(|m| m.value);
        // An `alias` still present was not resolved (its target is missing, reported where
        // it is named): what the entry lacks would have come from the target.
        let unresolved_alias = p.alias.is_some();
        if auth_mode.is_none() && !p.invalid_keys.contains(&"auth_mode") && !unresolved_alias {
            self.push(
                Diagnostic::new(
                    Rule::MissingAuthMode,
                    entry.key_loc,
                    format!("provider `{}` has no `auth_mode`", entry.key),
                )
                .with_help("add e.g. `auth_mode: API_KEY`, or `alias:` another provider"),
            );
        }
        if p.docs.is_none() && !p.invalid_keys.contains(&"docs") && !unresolved_alias {
            self.report(
                Rule::MissingDocs,
                entry.key_loc,
                format!("provider `{}` has no `docs` URL", entry.key),
            );
        }
        for c in p.categories.iter().flatten() {
            if !CATEGORIES.contains(&c.value.as_str()) {
                let suggestion = closest(&c.value, CATEGORIES.iter().copied());
                let d = Diagnostic::new(
                    Rule::UnknownCategory,
                    c.loc,
                    format!("unknown category `{}`", c.value),
                )
                .with_suggestion(suggestion);
                self.push(d);
            }
        }
        self.text(entry);
        let platform_filled = &entry.implied.platform_filled;
        let config = self.params(
            Section::ConnectionConfig,
            p.connection_config.as_ref(),
            &entry.implied.config,
            platform_filled,
        );
        let credentials = self.params(
            Section::Credentials,
            p.credentials.as_ref(),
            &entry.implied.credentials,
            &[],
        );
        self.references(entry, auth_mode, &config);
        if let Some(mode) = auth_mode {
            self.auth_mode_rules(entry, mode);
        }
        let scope = Scope {
            templates: &entry.templates,
            obtains_credentials: auth_mode.is_some_and(|m| !m.user_credentials_only()),
            decl: (&config, &credentials),
        };
        let compiled = self.compile_entry(p, &scope);
        let auth_mode = auth_mode?;
        if self.error_count() > errors_before {
            return None;
        }
        let client = crate::client::plan(
            entry,
            auth_mode,
            &credentials,
            &compiled.urls,
            crate::client::Compiled {
                headers: &compiled.headers,
                token_params_nested: &compiled.token_params_nested,
                query_has_secret: compiled.query_has_secret,
                token_params: &compiled.token_params,
                jwt_error: compiled.jwt_error.as_deref(),
                steps: match &compiled.steps_error {
                    Some(error) => Err(error.as_str()),
                    None => Ok(&compiled.steps[..]),
                },
            },
        );
        Some(ProviderPlan {
            key: &entry.key,
            module: names::snake(&entry.key),
            variant: names::camel(&entry.key),
            entry,
            auth_mode,
            display_name: p.display_name.as_ref().map_or(&entry.key, |d| &d.value),
            docs: p.docs.as_ref().map(|d| d.value.as_str()),
            config,
            credentials,
            headers: compiled.headers,
            query: compiled.query,
            verification_headers: compiled.verification_headers,
            client,
            urls: compiled.urls,
            token_params: compiled.token_params,
            authorization_params: compiled.authorization_params,
            refresh_params: compiled.refresh_params,
            token_headers: compiled.token_headers,
            refresh_token_params: compiled.refresh_token_params,
            jwt: compiled.jwt,
        })
    }
}
