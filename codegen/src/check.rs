//! Semantic checks of a read catalog, like a compiler's: every problem, each at its place.
//! What passes becomes a [`Plan`] (see [`crate::plan`]); templates are compiled in
//! `compile.rs`.

use std::collections::{BTreeMap, BTreeSet};

use terapi_runtime::rules::UPPER_SNAKE_CASE_PATTERNS;
use terapi_runtime::{AuthMode, Section};

use crate::diagnostic::{Diagnostic, Severity};
use crate::lower::{Located, Map, closest};
use crate::model::{FieldDef, ProviderEntry};
use crate::names;
use crate::pattern::{self, PatternError};
pub use crate::plan::*;
use crate::template::{self, Expr};
use crate::yaml::Loc;

/// What to do with a `pattern` the Rust regex engine cannot run, or that is invalid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PatternPolicy {
    /// Report an error: generation fails.
    #[default]
    Error,
    /// Report a warning and skip that one check (any value passes the param's pattern).
    Skip,
}

/// Options of the checks.
#[derive(Debug, Clone, Copy, Default)]
pub struct CheckOptions {
    /// See [`PatternPolicy`].
    pub patterns: PatternPolicy,
}

/// Auth modes whose declared connection params may go unused by templates (the platform
/// fills or reads them programmatically).
const UNUSED_PARAMS_ALLOWED: &[AuthMode] = &[AuthMode::McpOAuth2Generic, AuthMode::AwsSigV4];

/// Auth modes that must not declare `credentials` (the platform obtains them itself).
const NO_CREDENTIALS: &[AuthMode] = &[
    AuthMode::OAuth2,
    AuthMode::OAuth1,
    AuthMode::App,
    AuthMode::Custom,
    AuthMode::None,
    AuthMode::Tba,
    AuthMode::Bill,
    AuthMode::McpOAuth2,
    AuthMode::McpOAuth2Generic,
    AuthMode::InstallPlugin,
];

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

/// The sections of an entry that define params; their strings are not templates.
const DEFINITION_SECTIONS: &[&str] = &[
    "connection_config",
    "credentials",
    "integration_config",
    "assertion_option",
];

pub(crate) struct Checker<'a> {
    pub(crate) source: &'a str,
    pub(crate) diagnostics: Vec<Diagnostic>,
    options: CheckOptions,
    /// Of the provider being compiled: whether the platform obtains credentials.
    pub(crate) obtains_credentials: bool,
    /// Of the provider being compiled: connection params the platform fills.
    pub(crate) platform_filled: BTreeSet<String>,
}

/// Checks the given entries and plans their output. `entries` may be a selection of the
/// catalog; module and variant name collisions are checked among them.
pub fn check<'a>(
    source: &'a str,
    entries: &[&'a ProviderEntry],
    options: CheckOptions,
) -> (Plan<'a>, Vec<Diagnostic>) {
    let mut checker = Checker {
        source,
        diagnostics: Vec::new(),
        options,
        obtains_credentials: false,
        platform_filled: BTreeSet::new(),
    };
    let colliding = checker.collisions(entries);
    let mut providers: Vec<ProviderPlan<'a>> =
        entries.iter().filter_map(|e| checker.provider(e)).collect();
    providers.sort_by(|a, b| a.key.cmp(b.key));
    providers.retain(|p| !colliding.contains(p.key));
    (Plan { providers }, checker.diagnostics)
}

impl<'a> Checker<'a> {
    pub(crate) fn error(&mut self, loc: Loc, message: impl Into<String>) -> &mut Diagnostic {
        self.diagnostics.push(Diagnostic::error(loc, message));
        self.diagnostics.last_mut().expect("just pushed")
    }

    pub(crate) fn warning(&mut self, loc: Loc, message: impl Into<String>) -> &mut Diagnostic {
        self.diagnostics.push(Diagnostic::warning(loc, message));
        self.diagnostics.last_mut().expect("just pushed")
    }

    /// The location of the text `offset..offset+len` inside the string `s` of a node.
    pub(crate) fn inner(&self, s: &Located<String>, offset: usize, len: usize) -> Loc {
        s.loc.inner(self.source, &s.value, offset, len)
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
            let d = Diagnostic::error(e.key_loc, message)
                .with_note(first.key_loc, format!("`{}` is here", first.key))
                .with_help("rename one of them");
            self.diagnostics.push(d);
        }
        keys
    }

    fn error_count(&self) -> usize {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count()
    }

    fn provider(&mut self, entry: &'a ProviderEntry) -> Option<ProviderPlan<'a>> {
        let p = &entry.provider;
        let errors_before = self.error_count();
        let auth_mode = p.auth_mode.as_ref().map(|m| m.value);
        // An `alias` still present was not resolved (its target is missing, reported where
        // it is named): what the entry lacks would have come from the target.
        let unresolved_alias = p.alias.is_some();
        if auth_mode.is_none() && !p.invalid_keys.contains(&"auth_mode") && !unresolved_alias {
            self.error(
                entry.key_loc,
                format!("provider `{}` has no `auth_mode`", entry.key),
            )
            .help = Some("add e.g. `auth_mode: API_KEY`, or `alias:` another provider".into());
        }
        if p.docs.is_none() && !p.invalid_keys.contains(&"docs") && !unresolved_alias {
            self.error(
                entry.key_loc,
                format!("provider `{}` has no `docs` URL", entry.key),
            );
        }
        for c in p.categories.iter().flatten() {
            if !CATEGORIES.contains(&c.value.as_str()) {
                let suggestion = closest(&c.value, CATEGORIES.iter().copied());
                let d = Diagnostic::error(c.loc, format!("unknown category `{}`", c.value))
                    .with_suggestion(suggestion);
                self.diagnostics.push(d);
            }
        }
        let config = p
            .connection_config
            .as_ref()
            .map_or_else(Vec::new, |m| self.params(Section::ConnectionConfig, m));
        let mut credentials = p
            .credentials
            .as_ref()
            .map_or_else(Vec::new, |m| self.params(Section::Credentials, m));
        if auth_mode == Some(AuthMode::OAuth2Cc) {
            // The platform asks every OAUTH2_CC connection for its OAuth client, declared or
            // not; most entries of the real catalog do not declare it.
            for (key, def) in implicit_client_credentials() {
                if !credentials.iter().any(|c| c.key == key || c.field == key) {
                    credentials.push(ParamPlan {
                        key,
                        field: key.to_owned(),
                        def,
                        optional: false,
                        secret: true,
                        rule: RulePlan::Any,
                    });
                }
            }
        }
        self.references(entry, auth_mode);
        if let Some(mode) = auth_mode {
            self.auth_mode_rules(entry, mode);
        }
        let compiled = self.compile_entry(p, (&config, &credentials));
        let (Some(auth_mode), Some(docs)) = (auth_mode, p.docs.as_ref()) else {
            return None;
        };
        if self.error_count() > errors_before {
            return None;
        }
        let client = crate::client::plan(
            entry,
            auth_mode,
            &credentials,
            &compiled.urls,
            &compiled.token_params_nested,
        );
        Some(ProviderPlan {
            key: &entry.key,
            module: names::snake(&entry.key),
            variant: names::camel(&entry.key),
            entry,
            auth_mode,
            display_name: p.display_name.as_ref().map_or(&entry.key, |d| &d.value),
            docs: &docs.value,
            config,
            credentials,
            headers: compiled.headers,
            query: compiled.query,
            verification_headers: compiled.verification_headers,
            client,
            urls: compiled.urls,
            token_params: compiled.token_params,
            query_has_secret: compiled.query_has_secret,
        })
    }

    fn params(&mut self, section: Section, map: &'a Map<FieldDef>) -> Vec<ParamPlan<'a>> {
        let mut fields: BTreeMap<String, (&str, Loc)> = BTreeMap::new();
        let mut out = Vec::new();
        for (key, e) in map.iter() {
            let def = &e.value;
            match &def.kind {
                Some(k) if k.value == "string" => {}
                Some(k) => {
                    self.error(
                        k.loc,
                        format!(
                            "param `{key}` has `type: {}`; the only type is `string`",
                            k.value
                        ),
                    );
                }
                None => {
                    self.error(
                        def.loc,
                        format!("param `{key}` has no `type` (add `type: string`)"),
                    );
                }
            }
            let field = names::snake(key);
            if let Some((first, first_loc)) = fields.get(&field) {
                let message = format!(
                    "{section} params `{first}` and `{key}` both map to the Rust field name `{field}`"
                );
                let d = Diagnostic::error(e.key_loc, message)
                    .with_note(*first_loc, format!("`{first}` is here"))
                    .with_help("rename one of them");
                self.diagnostics.push(d);
            } else {
                fields.insert(field.clone(), (key, e.key_loc));
            }
            let rule = match &def.pattern {
                None => RulePlan::Any,
                Some(p) if UPPER_SNAKE_CASE_PATTERNS.contains(&p.value.as_str()) => {
                    RulePlan::UpperSnakeCase
                }
                Some(p) => self.pattern(key, p),
            };
            out.push(ParamPlan {
                key,
                field,
                def,
                optional: def.optional.unwrap_or(false),
                secret: def.secret.unwrap_or(false),
                rule,
            });
        }
        out
    }

    fn pattern(&mut self, key: &str, p: &'a Located<String>) -> RulePlan<'a> {
        let message = match pattern::translate(&p.value) {
            Ok(rust) => return RulePlan::Pattern(&p.value, rust),
            Err(PatternError::Unsupported(what)) => {
                format!("the `pattern` of param `{key}` is valid ECMAScript but uses {what}")
            }
            Err(PatternError::Invalid(reason)) => {
                format!("the `pattern` of param `{key}` is not a valid regex: {reason}")
            }
        };
        match self.options.patterns {
            PatternPolicy::Error => {
                self.error(p.loc, message).help =
                    Some("rewrite the pattern, or generate with the pattern policy `skip` to drop this check".into());
            }
            PatternPolicy::Skip => {
                self.warning(p.loc, message).help =
                    Some("this check is skipped: any value passes it".into());
            }
        }
        RulePlan::Any
    }

    /// `${connectionConfig.x}` anywhere in the entry must be declared, and each declared
    /// connection param must be used somewhere (the platform's own CI rules). A bare
    /// `${x}` naming a declared param counts as a use.
    fn references(&mut self, entry: &'a ProviderEntry, auth_mode: Option<AuthMode>) {
        let p = &entry.provider;
        let declared: Vec<&str> = p
            .connection_config
            .iter()
            .flat_map(|m| m.entries.keys())
            .map(String::as_str)
            .collect();
        let metadata: Vec<&str> = p.platform_filled_params().map(String::as_str).collect();
        let mut used = BTreeSet::new();
        let Some(sections) = entry.node.as_map() else {
            return;
        };
        for (k, v) in sections {
            if k.as_str().is_some_and(|k| DEFINITION_SECTIONS.contains(&k)) {
                continue;
            }
            for (text, loc) in v.strings() {
                let t = match template::parse(text, true) {
                    Ok(t) => t,
                    Err(e) => {
                        // Every string of an entry is a template for the platform.
                        let s = Located {
                            value: text.to_owned(),
                            loc,
                        };
                        let loc = self.inner(&s, e.offset, e.len);
                        self.error(loc, format!("invalid template: {}", e.message));
                        continue;
                    }
                };
                let s = Located {
                    value: text.to_owned(),
                    loc,
                };
                for alt in &t.alternatives {
                    for (expr, offset, len) in template::exprs(alt) {
                        let name = match expr {
                            Expr::ConnectionConfig(name) => name,
                            Expr::Var(name) => {
                                used.insert(name.clone());
                                continue;
                            }
                            _ => continue,
                        };
                        used.insert(name.clone());
                        if declared.contains(&name.as_str()) || metadata.contains(&name.as_str()) {
                            continue;
                        }
                        let loc = self.inner(&s, offset, len);
                        let suggestion = closest(name, declared.iter().copied());
                        let message = format!(
                            "`${{connectionConfig.{name}}}` uses a param that `connection_config` does not declare"
                        );
                        let d = Diagnostic::error(loc, message).with_help(match suggestion {
                            Some(s) => format!("did you mean `{s}`?"),
                            None => format!("declare `{name}` under `connection_config`"),
                        });
                        self.diagnostics.push(d);
                    }
                }
            }
        }
        if entry.alias_of.is_some() || auth_mode.is_none_or(|m| UNUSED_PARAMS_ALLOWED.contains(&m))
        {
            return;
        }
        for (name, e) in p.connection_config.iter().flat_map(|m| m.iter()) {
            if !used.contains(name) {
                self.error(
                    e.key_loc,
                    format!("connection_config param `{name}` is declared but no template uses it"),
                )
                .help = Some(format!(
                    "use it as `${{connectionConfig.{name}}}`, or remove it"
                ));
            }
        }
    }

    /// The credential rules the platform's CI applies per auth mode.
    fn auth_mode_rules(&mut self, entry: &'a ProviderEntry, mode: AuthMode) {
        let p = &entry.provider;
        let creds = p.credentials.as_ref();
        let has = |k: &str| creds.is_some_and(|c| c.get(k).is_some());
        let loc = creds.map_or(entry.key_loc, |c| {
            c.iter().next().map_or(entry.key_loc, |(_, e)| e.key_loc)
        });
        let require = |this: &mut Self, keys: &[&str]| {
            for k in keys {
                if !has(k) {
                    this.error(
                        loc,
                        format!("auth mode {mode} needs a `credentials.{k}` param"),
                    );
                }
            }
        };
        match mode {
            AuthMode::ApiKey => require(self, &["apiKey"]),
            AuthMode::AwsSigV4 => require(self, &["role_arn"]),
            AuthMode::AppStore => require(self, &["issuerId", "privateKeyId", "privateKey"]),
            AuthMode::Basic | AuthMode::Signature => {
                for k in ["username", "password"] {
                    if !has(k) {
                        self.warning(
                            loc,
                            format!("auth mode {mode} usually has a `credentials.{k}` param"),
                        );
                    }
                }
            }
            m if NO_CREDENTIALS.contains(&m) => {
                if let Some((_, e)) = creds.and_then(|c| c.iter().next()) {
                    self.error(e.key_loc, format!("auth mode {mode} must not declare `credentials`: the platform obtains them"));
                }
            }
            _ => {}
        }
        if let (Some(v), Some(_)) = (
            p.proxy.as_ref().and_then(|x| x.verification.as_ref()),
            p.credentials_verification_script.as_ref(),
        ) {
            self.error(
                v.loc,
                "`proxy.verification` and `credentials_verification_script` exclude each other",
            );
        }
    }
}

/// `client_id` and `client_secret`, for OAUTH2_CC entries that do not declare them.
fn implicit_client_credentials() -> [(&'static str, &'static FieldDef); 2] {
    fn def(title: &str, description: &str) -> FieldDef {
        FieldDef {
            kind: None,
            title: Some(title.to_owned()),
            description: Some(description.to_owned()),
            example: None,
            pattern: None,
            optional: None,
            format: None,
            one_of: None,
            order: None,
            secret: Some(true),
            prefix: None,
            suffix: None,
            doc_section: None,
            automated: None,
            default_value: None,
            hidden: None,
            warnings: None,
            visible_when: None,
            invalid_keys: Vec::new(),
            loc: Loc::default(),
        }
    }
    static ID: std::sync::LazyLock<FieldDef> = std::sync::LazyLock::new(|| {
        def(
            "Client ID",
            "The OAuth client id, exchanged for an access token with the client credentials grant. \
             Not declared in the catalog: every OAUTH2_CC connection has it.",
        )
    });
    static SECRET: std::sync::LazyLock<FieldDef> = std::sync::LazyLock::new(|| {
        def(
            "Client Secret",
            "The OAuth client secret of the same client. Not declared in the catalog: every \
             OAUTH2_CC connection has it.",
        )
    });
    [("client_id", &ID), ("client_secret", &SECRET)]
}

#[cfg(test)]
mod tests {
    use crate::lint;

    #[test]
    fn secrets_never_go_into_urls() {
        let yaml = "p:\n    display_name: P\n    auth_mode: API_KEY\n    docs: https://x\n    proxy:\n        base_url: https://api.example.com/${apiKey}\n        verification:\n            endpoints: [/]\n            base_url_override: https://${connectionConfig.token}.example.com\n    connection_config:\n        token:\n            type: string\n            title: T\n            description: D\n            secret: true\n    credentials:\n        apiKey:\n            type: string\n            title: K\n            description: D\n";
        let found: Vec<(u32, u32, String)> = lint(yaml)
            .sorted()
            .iter()
            .map(|d| (d.loc.line, d.loc.col, d.message.clone()))
            .collect();
        let message = "is a credential or secret, which terapi keeps out of URLs (they end up in logs and proxies): this URL is not generated as a function";
        assert_eq!(
            found,
            [
                (6, 43, format!("`${{apiKey}}` {message}")),
                (9, 40, format!("`${{connectionConfig.token}}` {message}")),
            ]
        );
        let code = crate::generate(
            std::path::Path::new("p.yaml"),
            yaml,
            &crate::Options::default(),
        )
        .unwrap()
        .code;
        assert!(code.contains("pub const BASE_URL"));
        assert!(
            !code.contains("pub fn base_url"),
            "a URL with a secret became a function"
        );
        assert!(!code.contains("pub fn verification_base_url"));
    }
}
