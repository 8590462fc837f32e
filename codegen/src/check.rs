//! Semantic checks of a read catalog, like a compiler's: every problem, each at its place.
//! What passes is turned into a [`Plan`]: names, params and parsed templates, ready to emit.

use std::collections::BTreeMap;

use terapi_runtime::render::Context;
use terapi_runtime::rules::{UPPER_SNAKE_CASE_PATTERNS, is_header_safe};
use terapi_runtime::{AuthMode, Section};

use crate::diagnostic::Diagnostic;
use crate::lower::{Located, Map, closest};
use crate::model::{FieldDef, ProviderEntry};
use crate::names;
use crate::template::{self, Expr, Piece};
use crate::yaml::Loc;

/// Everything the emitter needs, in output order (providers sorted by key).
#[derive(Debug)]
pub struct Plan<'a> {
    /// The providers, sorted by key.
    pub providers: Vec<ProviderPlan<'a>>,
}

/// One provider, checked.
#[derive(Debug)]
pub struct ProviderPlan<'a> {
    /// The catalog key.
    pub key: &'a str,
    /// The module name.
    pub module: String,
    /// The `Provider` variant name.
    pub variant: String,
    /// The entry as read.
    pub entry: &'a ProviderEntry,
    /// The auth mode.
    pub auth_mode: AuthMode,
    /// The display name (the key when the entry has none).
    pub display_name: &'a str,
    /// The docs URL.
    pub docs: &'a str,
    /// `connection_config` params in file order.
    pub config: Vec<ParamPlan<'a>>,
    /// `credentials` params in file order.
    pub credentials: Vec<ParamPlan<'a>>,
    /// Proxy headers in file order.
    pub headers: Vec<HeaderPlan>,
    /// `proxy.base_url`.
    pub base_url: Option<UrlPlan>,
    /// `token_url` (when it is a single URL).
    pub token_url: Option<UrlPlan>,
    /// `proxy.verification.base_url_override`.
    pub verification_base_url: Option<UrlPlan>,
}

/// One declared param.
#[derive(Debug)]
pub struct ParamPlan<'a> {
    /// The key as written.
    pub key: &'a str,
    /// The struct field name.
    pub field: String,
    /// The definition.
    pub def: &'a FieldDef,
    /// `optional: true`.
    pub optional: bool,
    /// `secret: true`.
    pub secret: bool,
    /// The value check.
    pub rule: RulePlan<'a>,
}

/// The value check of a param.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RulePlan<'a> {
    /// Any string.
    Any,
    /// A regex.
    Pattern(&'a str),
    /// The named UPPER_SNAKE_CASE rule.
    UpperSnakeCase,
}

/// A header to render.
#[derive(Debug)]
pub struct HeaderPlan {
    /// Lowercase header name.
    pub name: String,
    /// Its template.
    pub parts: Vec<PartPlan>,
}

/// A piece of a template to emit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartPlan {
    /// Literal text.
    Lit(String),
    /// A param value.
    Param {
        /// Which struct holds it.
        section: Section,
        /// Index into that section's params.
        index: usize,
        /// How it was written in the template, e.g. `connectionConfig.company`.
        written: String,
        /// Where it lands.
        context: Context,
    },
}

/// A URL template split into scheme, host and rest.
#[derive(Debug)]
pub struct UrlPlan {
    /// The template as written.
    pub source: String,
    /// `https` or `http`.
    pub scheme: String,
    /// Host pieces.
    pub host: Vec<PartPlan>,
    /// Port, path, query pieces.
    pub rest: Vec<PartPlan>,
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

/// The sections of an entry that define params; their strings are not templates.
const DEFINITION_SECTIONS: &[&str] = &[
    "connection_config",
    "credentials",
    "integration_config",
    "assertion_option",
];

/// The declared connection config and credential params of a provider.
type Declared<'p, 'a> = (&'p [ParamPlan<'a>], &'p [ParamPlan<'a>]);

struct Checker<'a> {
    source: &'a str,
    diagnostics: Vec<Diagnostic>,
}

/// Checks the given entries and plans their output. `entries` may be a selection of the
/// catalog; module and variant name collisions are checked among them.
pub fn check<'a>(source: &'a str, entries: &[&'a ProviderEntry]) -> (Plan<'a>, Vec<Diagnostic>) {
    let mut checker = Checker {
        source,
        diagnostics: Vec::new(),
    };
    let mut providers: Vec<ProviderPlan<'a>> =
        entries.iter().filter_map(|e| checker.provider(e)).collect();
    providers.sort_by(|a, b| a.key.cmp(b.key));
    checker.collisions(&providers);
    (Plan { providers }, checker.diagnostics)
}

impl<'a> Checker<'a> {
    fn error(&mut self, loc: Loc, message: impl Into<String>) -> &mut Diagnostic {
        self.diagnostics.push(Diagnostic::error(loc, message));
        self.diagnostics.last_mut().expect("just pushed")
    }

    fn warning(&mut self, loc: Loc, message: impl Into<String>) {
        self.diagnostics.push(Diagnostic::warning(loc, message));
    }

    /// The location of the text `offset..offset+len` inside the string `s` of a node.
    fn inner(&self, s: &Located<String>, offset: usize, len: usize) -> Loc {
        s.loc.inner(self.source, &s.value, offset, len)
    }

    fn collisions(&mut self, providers: &[ProviderPlan<'a>]) {
        let mut modules: BTreeMap<&str, &ProviderPlan<'a>> = BTreeMap::new();
        let mut variants: BTreeMap<&str, &ProviderPlan<'a>> = BTreeMap::new();
        let mut found = Vec::new();
        for p in providers {
            if let Some(first) = modules.insert(&p.module, p) {
                found.push((p, first, "module", p.module.clone()));
            } else if let Some(first) = variants.insert(&p.variant, p) {
                found.push((p, first, "`Provider` variant", p.variant.clone()));
            }
        }
        for (p, first, what, name) in found {
            let (later, earlier) = if p.entry.key_loc.offset > first.entry.key_loc.offset {
                (p, first)
            } else {
                (first, p)
            };
            let message = format!(
                "provider keys `{}` and `{}` both map to the Rust {what} name `{name}`",
                earlier.key, later.key
            );
            let d = self.error(later.entry.key_loc, message).clone();
            *self.diagnostics.last_mut().expect("just pushed") = d
                .with_note(earlier.entry.key_loc, format!("`{}` is here", earlier.key))
                .with_help("rename one of them");
        }
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
        let config = p
            .connection_config
            .as_ref()
            .map_or_else(Vec::new, |m| self.params(Section::ConnectionConfig, m));
        let credentials = p
            .credentials
            .as_ref()
            .map_or_else(Vec::new, |m| self.params(Section::Credentials, m));
        self.references(entry, auth_mode);
        if let Some(mode) = auth_mode {
            self.auth_mode_rules(entry, mode);
        }

        let mut headers = Vec::new();
        if let Some(map) = p.proxy.as_ref().and_then(|x| x.headers.as_ref()) {
            for (name, e) in map.iter() {
                if let Some(h) = self.header(name, e.key_loc, &e.value, &config, &credentials) {
                    headers.push(h);
                }
            }
        }
        let base_url = p
            .proxy
            .as_ref()
            .and_then(|x| self.url(&x.base_url, &config, &credentials));
        let token_url = match &p.token_url {
            Some(crate::model::TokenUrl::Single(t)) => self.url(t, &config, &credentials),
            _ => None,
        };
        let verification_base_url = p
            .proxy
            .as_ref()
            .and_then(|x| x.verification.as_ref())
            .and_then(|v| v.base_url_override.as_ref())
            .and_then(|t| self.url(t, &config, &credentials));
        let (Some(auth_mode), Some(docs)) = (auth_mode, p.docs.as_ref()) else {
            return None;
        };
        if self.error_count() > errors_before {
            return None;
        }
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
            headers,
            base_url,
            token_url,
            verification_base_url,
        })
    }

    fn error_count(&self) -> usize {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == crate::diagnostic::Severity::Error)
            .count()
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
                Some(p) => match regex::Regex::new(&p.value) {
                    Ok(_) => RulePlan::Pattern(&p.value),
                    Err(err) => {
                        let reason = regex_reason(&err);
                        self.error(
                            p.loc,
                            format!("the `pattern` of param `{key}` does not compile: {reason}"),
                        );
                        RulePlan::Any
                    }
                },
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

    /// `${connectionConfig.x}` anywhere in the entry must be declared, and each declared
    /// connection param must be used somewhere (the platform's own CI rules).
    fn references(&mut self, entry: &'a ProviderEntry, auth_mode: Option<AuthMode>) {
        let p = &entry.provider;
        let declared: Vec<&str> = p
            .connection_config
            .iter()
            .flat_map(|m| m.entries.keys())
            .map(String::as_str)
            .collect();
        let metadata: Vec<&str> = p
            .token_response_metadata
            .iter()
            .flatten()
            .map(String::as_str)
            .collect();
        let mut used = std::collections::BTreeSet::new();
        let Some(sections) = entry.node.as_map() else {
            return;
        };
        for (k, v) in sections {
            if k.as_str().is_some_and(|k| DEFINITION_SECTIONS.contains(&k)) {
                continue;
            }
            for (text, loc) in v.strings() {
                let Ok(t) = template::parse(text, true) else {
                    continue;
                };
                let s = Located {
                    value: text.to_owned(),
                    loc,
                };
                for alt in &t.alternatives {
                    for (expr, offset, len) in template::exprs(alt) {
                        let Expr::ConnectionConfig(name) = expr else {
                            continue;
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

    /// Resolves a placeholder to a declared param, or reports why it cannot be emitted.
    fn param_part(
        &mut self,
        s: &Located<String>,
        (expr, offset, len): (&Expr, usize, usize),
        (config, credentials): Declared<'_, 'a>,
        context: Context,
    ) -> Option<PartPlan> {
        let loc = self.inner(s, offset, len);
        let (section, name, written) = match expr {
            Expr::ConnectionConfig(n) => (
                Section::ConnectionConfig,
                n,
                format!("connectionConfig.{n}"),
            ),
            Expr::Credential(n) => (Section::Credentials, n, format!("credentials.{n}")),
            Expr::Var(n) if n == "apiKey" => (Section::Credentials, n, n.clone()),
            _ => {
                self.error(loc, "the generator cannot emit this placeholder here yet (only connection config params, credentials and `${apiKey}`)");
                return None;
            }
        };
        let params = if section == Section::ConnectionConfig {
            config
        } else {
            credentials
        };
        match params.iter().position(|p| p.key == name) {
            Some(index) => Some(PartPlan::Param {
                section,
                index,
                written,
                context,
            }),
            None if section == Section::ConnectionConfig => None, // reported by `references`
            None => {
                let suggestion = closest(name, params.iter().map(|p| p.key));
                let d = Diagnostic::error(
                    loc,
                    format!(
                        "`${{{written}}}` uses a credential that `credentials` does not declare"
                    ),
                )
                .with_suggestion(suggestion);
                self.diagnostics.push(d);
                None
            }
        }
    }

    fn single_alternative(
        &mut self,
        s: &Located<String>,
        allow_fallback: bool,
    ) -> Option<Vec<Piece>> {
        let t = match template::parse(&s.value, allow_fallback) {
            Ok(t) => t,
            Err(e) => {
                let loc = self.inner(s, e.offset, e.len);
                self.error(loc, format!("invalid template: {}", e.message));
                return None;
            }
        };
        if t.alternatives.len() > 1 {
            self.error(s.loc, "the generator cannot emit a `||` fallback here yet");
            return None;
        }
        t.alternatives.into_iter().next()
    }

    fn header(
        &mut self,
        name: &str,
        name_loc: Loc,
        value: &Located<String>,
        config: &[ParamPlan<'a>],
        credentials: &[ParamPlan<'a>],
    ) -> Option<HeaderPlan> {
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
        {
            self.error(
                name_loc,
                format!("`{name}` is not a valid HTTP header name"),
            );
            return None;
        }
        let pieces = self.single_alternative(value, true)?;
        let mut parts = Vec::new();
        for piece in &pieces {
            match piece {
                Piece::Lit { text, offset } => {
                    if !is_header_safe(text) {
                        let loc = self.inner(value, *offset, text.len());
                        self.error(
                            loc,
                            format!(
                                "the value of header `{name}` has characters a header cannot carry"
                            ),
                        );
                        return None;
                    }
                    parts.push(PartPlan::Lit(text.clone()));
                }
                Piece::Expr { expr, offset, len } => parts.push(self.param_part(
                    value,
                    (expr, *offset, *len),
                    (config, credentials),
                    Context::Header,
                )?),
            }
        }
        Some(HeaderPlan {
            name: name.to_ascii_lowercase(),
            parts,
        })
    }

    fn url(
        &mut self,
        s: &Located<String>,
        config: &[ParamPlan<'a>],
        credentials: &[ParamPlan<'a>],
    ) -> Option<UrlPlan> {
        let pieces = self.single_alternative(s, true)?;
        let Some(Piece::Lit { text: first, .. }) = pieces.first() else {
            self.error(
                s.loc,
                "the generator cannot emit a URL whose scheme and host come from a param yet",
            );
            return None;
        };
        let Some((scheme, _)) = first.split_once("://") else {
            self.error(
                s.loc,
                format!("`{}` is not an absolute URL (it needs `https://`)", s.value),
            );
            return None;
        };
        if scheme != "https" && scheme != "http" {
            self.error(
                s.loc,
                format!("URL scheme `{scheme}` is not supported (use https)"),
            );
            return None;
        }
        let mut host = Vec::new();
        let mut rest = Vec::new();
        let mut in_host = true;
        let mut in_query = false;
        let mut host_has_literal = false;
        let mut host_values = Vec::new();
        for (i, piece) in pieces.iter().enumerate() {
            match piece {
                Piece::Lit { text, offset } => {
                    let mut text = text.as_str();
                    let mut offset = *offset;
                    if i == 0 {
                        let skip = scheme.len() + 3;
                        text = &text[skip..];
                        offset += skip;
                    }
                    if in_host {
                        let end = text.find(['/', '?', '#', ':']).unwrap_or(text.len());
                        let host_text = &text[..end];
                        if let Some(bad) = host_text
                            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '-'))
                        {
                            let loc = self.inner(s, offset + bad, 1);
                            self.error(
                                loc,
                                "a URL host may contain only letters, digits, `.` and `-`",
                            );
                            return None;
                        }
                        host_has_literal |= !host_text.is_empty();
                        if !host_text.is_empty() {
                            host.push(PartPlan::Lit(host_text.to_owned()));
                        }
                        if end < text.len() {
                            in_host = false;
                            text = &text[end..];
                        } else {
                            continue;
                        }
                    }
                    in_query |= text.contains(['?', '#']);
                    rest.push(PartPlan::Lit(text.to_owned()));
                }
                Piece::Expr { expr, offset, len } => {
                    let context = if in_host {
                        Context::HostLabel
                    } else if in_query {
                        Context::Query
                    } else {
                        Context::PathSegment
                    };
                    let part =
                        self.param_part(s, (expr, *offset, *len), (config, credentials), context)?;
                    if let PartPlan::Param {
                        section,
                        index,
                        written,
                        ..
                    } = &part
                    {
                        let secret = *section == Section::Credentials || config[*index].secret;
                        if secret {
                            let loc = self.inner(s, *offset, *len);
                            self.error(loc, format!("`${{{written}}}` is a secret, and secrets never go into URLs (they end up in logs and proxies)"))
                                .help = Some("send it in a header instead".into());
                            return None;
                        }
                    }
                    if in_host {
                        host_values.push(host.len());
                        host.push(part);
                    } else {
                        rest.push(part);
                    }
                }
            }
        }
        if host.is_empty() {
            self.error(s.loc, format!("`{}` has no host", s.value));
            return None;
        }
        if !host_has_literal {
            for i in host_values {
                if let PartPlan::Param { context, .. } = &mut host[i] {
                    *context = Context::Hostname;
                }
            }
        }
        Some(UrlPlan {
            source: s.value.clone(),
            scheme: scheme.to_owned(),
            host,
            rest,
        })
    }
}

/// The one-line reason of a regex error (the crate's message spans several lines).
fn regex_reason(err: &regex::Error) -> String {
    let text = err.to_string();
    text.lines()
        .rev()
        .find_map(|l| l.strip_prefix("error: "))
        .map_or_else(
            || text.lines().last().unwrap_or_default().to_owned(),
            str::to_owned,
        )
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
        assert_eq!(
            found,
            [
                (6, 43, "`${apiKey}` is a secret, and secrets never go into URLs (they end up in logs and proxies)".to_owned()),
                (9, 40, "`${connectionConfig.token}` is a secret, and secrets never go into URLs (they end up in logs and proxies)".to_owned()),
            ]
        );
    }
}
