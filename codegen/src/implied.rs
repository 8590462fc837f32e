//! The params and credentials an entry has without declaring them, by the platform's own
//! semantics:
//!
//! - credentials the auth mode implies ([`AuthMode::implied_credentials`]): OAUTH2_CC's
//!   OAuth client and APP_STORE's keys in every catalog; API_KEY's `apiKey`, BASIC's
//!   `username` and `password`, ... in older-format catalogs, which declare none;
//! - connection params the platform fills (`*_metadata` lists, `connection_configuration`):
//!   optional inputs, never required ones;
//! - in older-format catalogs, every `${connectionConfig.x}` of the templates: a string
//!   param, required unless each use has a fallback (`A || B`), and every `${credentials.x}`
//!   of a mode whose credentials the user supplies.

use terapi_model::{AuthMode, Implied as When};

use crate::diagnostic::Diagnostic;
use crate::model::{FieldDef, ImpliedParam, ImpliedParams, Origin, Provider, Read};
use crate::parsed::Templates;
use crate::rules::Era;
use crate::rules::Rule;
use crate::template::Expr;
use crate::yaml::Loc;

/// Whether `key` is declared in `map`, by key or by the Rust field it becomes.
fn declared(map: Option<&crate::lower::Map<FieldDef>>, key: &str) -> bool {
    let field = crate::names::snake(key);
    map.is_some_and(|m| {
        m.iter()
            .any(|(k, _)| k == key || crate::names::snake(k) == field)
    })
}

/// The connection params the platform fills: listed under a `*_metadata` key or
/// `connection_configuration`, or declared `automated: true`; except those the
/// authorization URL uses, which the user must supply before any callback or token exists.
pub fn platform_filled(p: &Provider, templates: &Templates) -> Vec<String> {
    let in_authorization_url = |name: &str| {
        templates.placeholders().any(|ph| {
            ph.string.section == "authorization_url"
                && matches!(ph.expr, Expr::ConnectionConfig(n) if n == name)
        })
    };
    let automated = p
        .connection_config
        .iter()
        .flat_map(|m| m.iter())
        .filter(|(_, e)| e.value.automated == Some(true))
        .map(|(k, _)| k);
    let mut out: Vec<String> = [
        &p.token_response_metadata,
        &p.redirect_uri_metadata,
        &p.webhook_response_metadata,
        &p.refresh_token_response_metadata,
        &p.connection_configuration,
    ]
    .into_iter()
    .flatten()
    .flatten()
    .chain(automated)
    .filter(|k| !in_authorization_url(k))
    .cloned()
    .collect();
    out.sort();
    out.dedup();
    out
}

/// Infers the implied params of every entry of `read` by the rules of its era, with one
/// `older-format` note per non-alias entry of an older-format catalog.
pub fn infer(read: &mut Read) {
    let era = read.era;
    for (key, entry) in &mut read.catalog.providers {
        entry.implied = implied(&entry.provider, &entry.templates, era);
        if era == Era::Older && entry.alias_of.is_none() {
            let inferred = entry.implied.config.len() + entry.implied.credentials.len();
            let note = Diagnostic::new(
                Rule::OlderFormat,
                entry.key_loc,
                format!(
                    "provider `{key}` uses the older catalog format (no `connection_config` or \
                     `credentials`): {inferred} param(s) inferred from its templates and its auth mode"
                ),
            );
            if let (Some(note), Some(found)) =
                (note.leveled(&read.levels), read.per_provider.get_mut(key))
            {
                found.push(note);
            }
        }
    }
}

/// The implied params of an entry of a catalog of `era`.
fn implied(p: &Provider, templates: &Templates, era: Era) -> ImpliedParams {
    let mut out = ImpliedParams {
        older_format: era == Era::Older,
        ..ImpliedParams::default()
    };
    let mode = p.auth_mode.as_ref().map(|m| m.value);
    if let Some(mode) = mode {
        let (keys, when) = mode.implied_credentials();
        if when == When::Always || era == Era::Older {
            for key in keys {
                if !declared(p.credentials.as_ref(), key) {
                    out.credentials.push(ImpliedParam {
                        key: (*key).to_owned(),
                        // BASIC's password may be empty (the platform sends `user:`).
                        def: definition(
                            key,
                            Origin::AuthMode(mode),
                            mode == AuthMode::Basic && *key == "password",
                        ),
                        origin: Origin::AuthMode(mode),
                    });
                }
            }
        }
    }
    out.platform_filled = platform_filled(p, templates);
    for key in out.platform_filled.clone() {
        if !declared(p.connection_config.as_ref(), &key) {
            out.config.push(ImpliedParam {
                def: definition(&key, Origin::PlatformFilled, true),
                key,
                origin: Origin::PlatformFilled,
            });
        }
    }
    if era == Era::Older {
        let user_credentials = mode.is_some_and(AuthMode::user_credentials_only);
        for ph in templates.placeholders() {
            let (list, name, section_declared) = match ph.expr {
                Expr::ConnectionConfig(n) => (&mut out.config, n, p.connection_config.as_ref()),
                Expr::Credential(n) if user_credentials => {
                    (&mut out.credentials, n, p.credentials.as_ref())
                }
                _ => continue,
            };
            if declared(section_declared, name) {
                continue;
            }
            // Required when some use has no fallback; optional when every use is the left
            // side of `A || B` (the platform renders B without it).
            let required = !ph.has_fallback();
            match list.iter_mut().find(|i| i.key == *name) {
                Some(existing) => {
                    if required && existing.origin == Origin::Template {
                        existing.def.optional = None;
                    }
                }
                None => list.push(ImpliedParam {
                    key: name.clone(),
                    def: definition(name, Origin::Template, !required),
                    origin: Origin::Template,
                }),
            }
        }
    }
    out
}

fn definition(key: &str, origin: Origin, optional: bool) -> FieldDef {
    let description = match origin {
        Origin::AuthMode(mode) => format!(
            "Not declared in the catalog: the auth mode {mode} implies it, and the platform asks \
             every connection for it."
        ),
        Origin::PlatformFilled => "Filled by the platform (from the token response, the OAuth \
             callback or a script); not declared in the catalog, and not required."
            .to_owned(),
        Origin::Template => "Inferred from the templates (the catalog uses the older format, \
             which declares no params)."
            .to_owned(),
    };
    FieldDef {
        kind: None,
        title: Some(key.to_owned()),
        description: Some(description),
        example: None,
        pattern: None,
        optional: optional.then_some(true),
        format: None,
        one_of: None,
        order: None,
        secret: None,
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
