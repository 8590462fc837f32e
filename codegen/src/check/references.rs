//! Which params the templates use: every string parses ([`Rule::InvalidTemplate`]), has no
//! placeholder without its `$` ([`Rule::MissingDollar`]), and names declared params
//! ([`Rule::UndeclaredParam`]); declared params are used ([`Rule::UnusedParam`],
//! [`Rule::NoConfigReference`]).

use std::collections::BTreeSet;

use terapi_model::AuthMode;

use crate::diagnostic::Diagnostic;
use crate::lower::closest;
use crate::model::ProviderEntry;
use crate::plan::ParamPlan;
use crate::rules::Rule;
use crate::template::Expr;

use super::Checker;

impl Checker<'_> {
    /// `config`: the entry's connection params, declared and implied.
    pub(super) fn references(
        &mut self,
        entry: &ProviderEntry,
        auth_mode: Option<AuthMode>,
        config: &[ParamPlan<'_>],
    ) {
        let p = &entry.provider;
        let known: Vec<&str> = config.iter().map(|c| c.key).collect();
        let mut used = BTreeSet::new();
        let mut any_reference = false;
        for s in entry.templates.iter() {
            if let Err(e) = &s.parsed {
                let loc = self.inner(s.loc, &s.text, e.offset, e.len);
                self.report(
                    Rule::InvalidTemplate,
                    loc,
                    format!("invalid template: {}", e.message),
                );
            }
            if let Some(at) = missing_dollar(&s.text) {
                let loc = self.inner(s.loc, &s.text, at, 1);
                self.push(
                    Diagnostic::new(
                        Rule::MissingDollar,
                        loc,
                        "this looks like a placeholder without its `$`: it is sent as it is",
                    )
                    .with_help("write `${...}`"),
                );
            }
        }
        for ph in entry.templates.placeholders() {
            let name = match ph.expr {
                Expr::ConnectionConfig(name) => name,
                Expr::Var(name) => {
                    used.insert(name.clone());
                    continue;
                }
                _ => continue,
            };
            any_reference = true;
            used.insert(name.clone());
            if known.contains(&name.as_str()) {
                continue;
            }
            let loc = ph.loc(self.source);
            let suggestion = closest(name, known.iter().copied());
            let message = format!(
                "`${{connectionConfig.{name}}}` uses a param that `connection_config` does not declare"
            );
            self.push(
                Diagnostic::new(Rule::UndeclaredParam, loc, message).with_help(match suggestion {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!("declare `{name}` under `connection_config`"),
                }),
            );
        }
        // A template that does not parse hides the params it uses: no follow-on findings.
        let all_parse = entry.templates.iter().all(|s| s.parsed.is_ok());
        if !all_parse
            || entry.alias_of.is_some()
            || auth_mode.is_none_or(AuthMode::params_read_programmatically)
        {
            return;
        }
        let Some(declared) = p.connection_config.as_ref() else {
            return;
        };
        if !any_reference && let Some((_, first)) = declared.iter().next() {
            self.push(
                Diagnostic::new(
                    Rule::NoConfigReference,
                    first.key_loc,
                    "`connection_config` is declared but no string of the entry references any `${connectionConfig.*}`",
                )
                .with_help("use the params in templates, or remove `connection_config`"),
            );
            return;
        }
        let platform_filled = &entry.implied.platform_filled;
        for (name, e) in declared.iter() {
            // A param the platform fills is read by whoever consumes the connection.
            if !used.contains(name) && !platform_filled.contains(name) {
                self.push(
                    Diagnostic::new(
                        Rule::UnusedParam,
                        e.key_loc,
                        format!("connection_config param `{name}` is declared but no template uses it"),
                    )
                    .with_help(format!(
                        "fine if a script reads it; else use it as `${{connectionConfig.{name}}}`, or remove it"
                    )),
                );
            }
        }
    }
}

/// The byte offset of the first `{` that opens what looks like a placeholder without its
/// `$`: `{connectionConfig.x}`, `{credentials.x}` or `{apiKey}`-style names, not preceded by
/// `$` (the platform's CI looks for `{` not preceded by `$` or `]`; JSON and XML bodies
/// with braces are left alone).
pub(crate) fn missing_dollar(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    for (i, _) in text.match_indices('{') {
        if i > 0 && matches!(bytes[i - 1], b'$' | b']') {
            continue;
        }
        let rest = &text[i + 1..];
        let Some(end) = rest.find('}') else { continue };
        let inner = &rest[..end];
        let placeholder_like = ["connectionConfig.", "credentials."]
            .iter()
            .any(|p| inner.starts_with(p) && inner.len() > p.len())
            || matches!(
                inner,
                "apiKey" | "accessToken" | "clientId" | "clientSecret" | "now" | "random"
            );
        if placeholder_like
            && inner
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        {
            return Some(i);
        }
    }
    None
}
