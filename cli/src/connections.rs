//! `terapi connections`: list, show, remove, rotate-key. Nothing secret is printed: `list`
//! decrypts nothing; `show` prints config values only of params the catalog does not mark
//! secret, credential names, and the client id.

use serde_json::Value;
use terapi_store::{ConnectionInfo, StoreError};

use crate::context::Context;
use crate::escape::shown;
use crate::fail::{self, Failure};
use crate::time::rfc3339;

const MASK: &str = "********";

pub async fn list(context: &Context) -> Result<(), Failure> {
    let opened = context.open_store().await?;
    let infos = opened.store.list().await?;
    if infos.is_empty() {
        eprintln!("no connections in {}", shown(opened.store.url()));
        return Ok(());
    }
    let header = [
        "ID",
        "PROVIDER",
        "VERSION",
        "UPDATED",
        "TOKEN EXPIRES",
        "KEY",
        "STATUS",
    ]
    .map(str::to_owned);
    let mut rows = vec![header];
    for info in &infos {
        // Ids and providers may come from anything that wrote the database: escaped.
        rows.push([
            shown(&info.id).into_owned(),
            shown(&info.provider).into_owned(),
            info.version.to_string(),
            rfc3339(info.updated_at),
            info.token_expires_at
                .map_or_else(|| "-".to_owned(), rfc3339),
            shown(&info.key_id).into_owned(),
            status(info).to_owned(),
        ]);
    }
    fail::print_table(&rows)
}

fn status(info: &ConnectionInfo) -> &'static str {
    if info.reauthorize.is_some() {
        "reauthorize"
    } else if info.leased_until.is_some() {
        "refreshing"
    } else {
        "ok"
    }
}

pub async fn show(context: &Context, id: &str) -> Result<(), Failure> {
    let opened = context.open_store().await?;
    let stored = opened.store.connection(id).await?;
    let (info, record) = (&stored.info, &stored.record);
    let spec = context.catalog.find(&info.provider);
    let mut lines: Vec<(String, String)> = Vec::new();
    let mut add = |k: &str, v: String| lines.push((k.to_owned(), v));
    add("id", info.id.clone());
    add(
        "provider",
        match &spec {
            Some(spec) => format!(
                "{} ({}, {})",
                info.provider, spec.display_name, spec.auth_mode
            ),
            None => format!("{} (not in the catalog)", info.provider),
        },
    );
    add("version", info.version.to_string());
    add("created", rfc3339(info.created_at));
    add("updated", rfc3339(info.updated_at));
    if let Some(tokens) = &record.tokens {
        add(
            "token expires",
            tokens
                .expires_at()
                .or(info.token_expires_at)
                .map_or_else(|| "-".to_owned(), rfc3339),
        );
        add(
            "refresh token",
            if tokens.refresh_token().is_some() {
                "yes"
            } else {
                "no"
            }
            .to_owned(),
        );
    } else if let Some(at) = info.token_expires_at {
        add("token expires", rfc3339(at));
    }
    add("key id", info.key_id.clone());
    add(
        "reauthorize",
        info.reauthorize.clone().unwrap_or_else(|| "-".to_owned()),
    );
    if let Some(until) = info.leased_until {
        add("refresh lease until", rfc3339(until));
    }
    if let Some(client) = &record.client {
        add("client id", client.id().to_owned());
    }
    let names = |v: &Value| -> Vec<String> {
        v.as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    };
    let credentials = names(&record.credentials);
    add(
        "credentials",
        if credentials.is_empty() {
            "-".to_owned()
        } else {
            credentials.join(", ")
        },
    );
    let width = lines.iter().map(|(k, _)| k.len()).max().unwrap_or(0) + 1;
    let mut out = String::new();
    for (k, v) in &lines {
        out.push_str(&format!("{:<width$} {}\n", format!("{k}:"), shown(v)));
    }
    out.push_str("config:");
    match record.config.as_object() {
        Some(config) if !config.is_empty() => {
            out.push('\n');
            for (key, value) in config {
                // Shown only when the catalog knows the param and does not call it secret.
                let visible = spec
                    .as_ref()
                    .is_some_and(|s| s.config.iter().any(|p| *p.key == **key && !p.secret));
                let text = if visible {
                    plain(value)
                } else {
                    MASK.to_owned()
                };
                out.push_str(&format!("  {} = {text}\n", shown(key)));
            }
        }
        _ => out.push_str(" -\n"),
    }
    fail::print_bytes(out.as_bytes())
}

/// A config value on one line.
fn plain(value: &Value) -> String {
    match value {
        Value::String(s) => s.escape_debug().to_string(),
        other => other.to_string(),
    }
}

pub async fn remove(context: &Context, id: &str) -> Result<(), Failure> {
    let opened = context.open_store().await?;
    if !opened.store.remove(id).await? {
        return Err(StoreError::NotFound { id: id.to_owned() }.into());
    }
    eprintln!("removed connection `{}`", shown(id));
    Ok(())
}

pub async fn rotate_key(context: &Context, legacy: bool) -> Result<(), Failure> {
    let opened = context.open_store().await?;
    let primary = opened
        .keys
        .primary_id()
        .ok_or(StoreError::NoKey)?
        .to_owned();
    let done = if legacy {
        opened.store.rotate_key_with_legacy().await?
    } else {
        opened.store.rotate_key().await?
    };
    let mut line = format!(
        "re-encrypted {} connection(s), {} pending authorization(s), {} record(s), {} webhook token(s), {} webhook event(s) and {} quarantined record(s) with key `{primary}`",
        done.connections, done.pending, done.records, done.webhooks, done.events, done.quarantined
    );
    if legacy {
        line.push_str(&format!(
            "; {} of them sealed by an older terapi, now bound to their columns",
            done.legacy
        ));
    }
    fail::print_line(&line)
}
