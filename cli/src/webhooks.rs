//! `terapi webhooks`: subscriptions of personio-v2 connections (the store keeps each one's
//! token, which is never printed), and `serve`: the receiver on an address, with the applier
//! in the background, until Ctrl-C (or SIGTERM).

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use serde_json::Value;
use terapi_runtime::client::Connection;
use terapi_store::{Store, StoreError};
use terapi_sync::StoreConnections;
use terapi_sync::webhook::{self, Applier, ApplyReport, ReceiverConfig, WebhookReceiver};
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use url::Url;

use crate::args::{DEFAULT_EVENTS, ServeArgs, SubscribeArgs};
use crate::context::Context;
use crate::escape::shown;
use crate::fail::{self, Failure, one_line};

/// The provider whose webhooks terapi-sync manages and applies.
const PROVIDER: &str = "personio-v2";
/// Events due for a retry are looked for this often.
const POLL: Duration = Duration::from_secs(5);
/// How long the server may take to finish the deliveries in flight once stopped.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// The client of connection `id`, which must be a personio-v2 connection.
async fn connection(context: &Context, store: &Store, id: &str) -> Result<Connection, Failure> {
    let conn = store.connect(id, context.settings.clone()).await?;
    if conn.provider() != PROVIDER {
        return Err(Failure::failed(format!(
            "connection `{id}` is of provider `{}`: webhooks are managed for {PROVIDER} connections only",
            conn.provider()
        )));
    }
    Ok(conn)
}

pub async fn subscribe(context: &Context, args: SubscribeArgs) -> Result<(), Failure> {
    let url = check_url(&args.url)?;
    let events = events(&args.events)?;
    let opened = context.open_store().await?;
    // The token could not be kept: nothing is created at the provider.
    if opened.keys.primary_id().is_none() {
        return Err(StoreError::NoKey.into());
    }
    let conn = connection(context, &opened.store, &args.id).await?;
    let events: Vec<&str> = events.iter().map(String::as_str).collect();
    let created = webhook::subscribe(&conn, &opened.store, &args.id, url.as_str(), &events).await?;
    eprintln!(
        "subscribed {} to {} as webhook `{}` of connection `{}`; the store keeps its token",
        shown(&created.url),
        shown(&created.events.join(", ")),
        shown(&created.id),
        shown(&args.id)
    );
    fail::print_line(&shown(&created.id))
}

/// The URL deliveries go to: `https://…`, or plain `http://` on a loopback host.
fn check_url(text: &str) -> Result<Url, Failure> {
    let bad = |why: &str| Failure::usage(format!("URL `{}`: {why}", text.escape_default()));
    let url = Url::parse(text).map_err(|e| bad(&format!("not a URL ({e})")))?;
    let Some(loopback) = crate::context::loopback_host(&url) else {
        return Err(bad("it has no host"));
    };
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        "http" => {
            return Err(bad(
                "Personio delivers to https:// only (plain http only on loopback, for tests)",
            ));
        }
        _ => return Err(bad("use https://HOST/PATH")),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("a delivery URL carries no user or password"));
    }
    Ok(url)
}

/// `--event`s (the defaults when none), each once, in the order given.
fn events(given: &[String]) -> Result<Vec<String>, Failure> {
    if given.is_empty() {
        return Ok(DEFAULT_EVENTS.iter().map(|e| (*e).to_owned()).collect());
    }
    let mut out: Vec<String> = Vec::new();
    for event in given {
        let valid = !event.is_empty()
            && event.len() <= 100
            && event
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if !valid {
            return Err(Failure::usage(format!(
                "--event `{}`: an event name is letters, digits, `.`, `_` and `-`, e.g. person.updated",
                event.escape_default()
            )));
        }
        if !out.contains(event) {
            out.push(event.clone());
        }
    }
    Ok(out)
}

pub async fn list(context: &Context, id: &str) -> Result<(), Failure> {
    let opened = context.open_store().await?;
    let conn = connection(context, &opened.store, id).await?;
    let listed = webhook::list(&conn).await?;
    let stored: BTreeSet<String> = opened
        .store
        .webhooks(Some(id))
        .await?
        .into_iter()
        .map(|w| w.id)
        .collect();
    let mut seen = BTreeSet::new();
    let header = ["ID", "STATUS", "STORED", "URL", "EVENTS"].map(str::to_owned);
    let mut rows = vec![header];
    for hook in &listed {
        // Compared as the provider sent it, escaped only to print.
        let raw_id = raw(hook.get("id"));
        let known = raw_id.as_ref().is_some_and(|id| stored.contains(id));
        seen.extend(raw_id);
        let hook_id = text(hook.get("id"));
        let events = match hook.get("enabled_events") {
            Some(Value::Array(events)) if !events.is_empty() => events
                .iter()
                .map(|e| text(Some(e)))
                .collect::<Vec<_>>()
                .join(","),
            _ => "-".to_owned(),
        };
        // Only these fields: a token or custom header is never printed.
        rows.push([
            hook_id,
            text(hook.get("status")),
            if known { "yes" } else { "no" }.to_owned(),
            text(hook.get("url")),
            events,
        ]);
    }
    if listed.is_empty() {
        eprintln!("connection `{}` has no webhooks at the provider", shown(id));
    } else {
        fail::print_table(&rows)?;
    }
    for gone in stored.difference(&seen) {
        eprintln!(
            "note: the store has a token for webhook `{gone}`, which the provider does not list: `terapi webhooks remove {id} {gone}` forgets it",
            gone = shown(gone),
            id = shown(id)
        );
    }
    Ok(())
}

/// A field on one line: a string as it is (control characters escaped), `-` when absent.
fn text(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => "-".to_owned(),
        Some(Value::String(s)) if s.is_empty() => "-".to_owned(),
        Some(Value::String(s)) => shown(s).into_owned(),
        Some(other) => shown(&other.to_string()).into_owned(),
    }
}

/// A field as the provider sent it (a string's value, else its JSON), to compare.
fn raw(value: Option<&Value>) -> Option<String> {
    match value {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => Some(other.to_string()),
    }
}

pub async fn remove(context: &Context, id: &str, webhook_id: &str) -> Result<(), Failure> {
    let opened = context.open_store().await?;
    let conn = connection(context, &opened.store, id).await?;
    let had = webhook::remove(&conn, &opened.store, webhook_id).await?;
    let webhook_id = shown(webhook_id);
    if had {
        eprintln!("removed webhook `{webhook_id}` at the provider, and its token from the store");
    } else {
        eprintln!("removed webhook `{webhook_id}` at the provider (the store had no token for it)");
    }
    Ok(())
}

/// `--listen`: an address and a port. Any address is served (Personio must reach it).
fn parse_addr(text: &str) -> Result<SocketAddr, Failure> {
    text.parse().map_err(|_| {
        Failure::usage(format!(
            "--listen `{}`: expected an address and a port, e.g. 127.0.0.1:8080 or 0.0.0.0:8080",
            text.escape_default()
        ))
    })
}

/// `--path`: `/` and visible ASCII, matched literally.
fn check_path(path: &str) -> Result<(), Failure> {
    let valid = path.starts_with('/')
        && path.len() <= 200
        && path
            .bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'?' | b'#' | b'{' | b'}' | b'%'));
    if !valid {
        return Err(Failure::usage(format!(
            "--path `{}`: a path starts with `/` and has no spaces, `?`, `#`, `%`, `{{` or `}}`, e.g. /webhooks",
            path.escape_default()
        )));
    }
    Ok(())
}

/// Ctrl-C or (on Unix) SIGTERM, installed before anything is served.
struct Stop {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl Stop {
    fn install() -> Result<Stop, Failure> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let failed = |e: std::io::Error| Failure::usage(format!("cannot handle signals: {e}"));
            Ok(Stop {
                interrupt: signal(SignalKind::interrupt()).map_err(failed)?,
                terminate: signal(SignalKind::terminate()).map_err(failed)?,
            })
        }
        #[cfg(not(unix))]
        Ok(Stop {})
    }

    async fn wait(&mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
        #[cfg(not(unix))]
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

pub async fn serve(context: &Context, args: ServeArgs) -> Result<(), Failure> {
    let addr = parse_addr(&args.listen)?;
    check_path(&args.path)?;
    let mut stop = Stop::install()?;
    let opened = context.open_store().await?;
    // Applying an event opens its connection.
    if opened.keys.primary_id().is_none() {
        return Err(StoreError::NoKey.into());
    }
    let store = opened.store;
    let notify = Arc::new(Notify::new());
    let receiver = WebhookReceiver::new(store.clone(), ReceiverConfig::default(), notify.clone());
    let app = Router::new()
        // The path is matched literally.
        .without_v07_checks()
        .route_service(&args.path, receiver)
        .fallback(|| async { (StatusCode::NOT_FOUND, "not found\n") });
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| Failure::usage(format!("--listen {addr}: {e}")))?;
    let bound = listener
        .local_addr()
        .map_err(|e| Failure::usage(format!("--listen {addr}: {e}")))?;
    let connections = Arc::new(StoreConnections::new(
        store.clone(),
        context.settings.clone(),
    ));
    let applier = Applier::new(store.clone(), connections, notify.clone());
    let (stopping, stopped) = watch::channel(false);
    // Header, body and idle timeouts and a cap on connections: a client that trickles its
    // request or never sends one is dropped, and deliveries still get their answer.
    let server = tokio::spawn(terapi_sync::serve::serve(
        listener,
        app,
        terapi_sync::serve::Limits::default(),
        async move {
            let mut stopped = stopped;
            let _ = stopped.wait_for(|s| *s).await;
        },
    ));
    eprintln!("listening on http://{bound}{}", args.path);
    eprintln!(
        "warning: this is plain HTTP and Personio delivers to https:// URLs only: serve it behind an HTTPS reverse proxy (each delivery carries its subscription's token)"
    );
    let mut total = ApplyReport::default();
    loop {
        tokio::select! {
            () = stop.wait() => break,
            // Cut short by a stop, a pass leaves its claimed events to be claimed again.
            pass = applier.apply_pending() => match pass {
                Ok(report) => {
                    if report != ApplyReport::default() {
                        eprintln!("{}", pass_line(&report));
                    }
                    add(&mut total, &report);
                }
                Err(e) => eprintln!(
                    "warning: applying events: {}",
                    shown(&one_line(&e.to_string()))
                ),
            },
        }
        tokio::select! {
            () = stop.wait() => break,
            () = notify.notified() => {}
            () = tokio::time::sleep(POLL) => {}
        }
    }
    let _ = stopping.send(true);
    // The events a cut-short pass claimed go back at once, not when their lease runs out.
    match tokio::time::timeout(STOP_TIMEOUT, store.release_leases()).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => eprintln!(
            "warning: releasing the leases: {} (they expire on their own)",
            shown(&one_line(&e.to_string()))
        ),
        Err(_) => {
            eprintln!("warning: releasing the leases took too long (they expire on their own)")
        }
    }
    if tokio::time::timeout(STOP_TIMEOUT, server).await.is_err() {
        eprintln!("warning: the server: connections still open when it stopped were cut off");
    }
    eprintln!("stopped: {}", total_line(&total));
    Ok(())
}

fn add(total: &mut ApplyReport, pass: &ApplyReport) {
    total.applied += pass.applied;
    total.changed += pass.changed;
    total.retried += pass.retried;
    total.failed += pass.failed;
}

/// `applied 2 events (1 record changed)`, and the failures of the pass.
fn pass_line(r: &ApplyReport) -> String {
    let mut line = format!(
        "applied {} ({} changed)",
        plural(r.applied, "event"),
        plural(r.changed, "record")
    );
    if r.retried > 0 {
        line.push_str(&format!(
            ", {} failed (left to retry)",
            plural(r.retried, "event")
        ));
    }
    if r.failed > 0 {
        line.push_str(&format!(", {} given up", plural(r.failed, "event")));
    }
    line
}

/// `3 events applied (2 records changed), 0 attempts failed (left to retry), 0 events given
/// up`.
fn total_line(r: &ApplyReport) -> String {
    format!(
        "{} applied ({} changed), {} failed (left to retry), {} given up",
        plural(r.applied, "event"),
        plural(r.changed, "record"),
        plural(r.retried, "attempt"),
        plural(r.failed, "event")
    )
}

fn plural(n: u64, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivery_urls() {
        assert!(check_url("https://hooks.example/personio").is_ok());
        assert!(check_url("http://127.0.0.1:8080/webhooks").is_ok());
        assert!(check_url("http://localhost/webhooks").is_ok());
        for bad in [
            "hooks.example/personio",
            "http://hooks.example/personio",
            "ftp://hooks.example/",
            "https://user:pw@hooks.example/",
            "not a url",
        ] {
            let failure = check_url(bad).unwrap_err();
            assert_eq!(failure.code(), fail::USAGE, "{bad}");
        }
    }

    #[test]
    fn event_names() {
        assert_eq!(events(&[]).unwrap(), DEFAULT_EVENTS);
        let given = ["person.updated", "person.updated", "employment.deleted"].map(String::from);
        assert_eq!(
            events(&given).unwrap(),
            ["person.updated", "employment.deleted"]
        );
        assert!(events(&["person updated".to_owned()]).is_err());
        assert!(events(&[String::new()]).is_err());
    }

    #[test]
    fn addresses_and_paths() {
        assert!(parse_addr("127.0.0.1:0").is_ok());
        assert!(parse_addr("0.0.0.0:8080").is_ok());
        assert!(parse_addr("[::]:8080").is_ok());
        assert!(parse_addr("localhost:80").is_err());
        assert!(parse_addr("8080").is_err());
        assert!(check_path("/webhooks").is_ok());
        assert!(check_path("/").is_ok());
        assert!(check_path("/hooks/personio-v2").is_ok());
        for bad in ["webhooks", "/a b", "/{id}", "/a?b", ""] {
            assert!(check_path(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn fields_and_tables() {
        assert_eq!(text(None), "-");
        assert_eq!(text(Some(&Value::String("a\nb".into()))), "a\\nb");
        assert_eq!(text(Some(&serde_json::json!(3))), "3");
        let rows = [
            ["ID", "URL"].map(String::from),
            ["w-1", "https://h"].map(String::from),
        ];
        assert_eq!(crate::fail::table(&rows), "ID   URL\nw-1  https://h\n");
    }

    #[test]
    fn apply_lines() {
        let report = ApplyReport {
            applied: 2,
            changed: 1,
            retried: 0,
            failed: 0,
        };
        assert_eq!(pass_line(&report), "applied 2 events (1 record changed)");
        assert_eq!(
            total_line(&report),
            "2 events applied (1 record changed), 0 attempts failed (left to retry), 0 events given up"
        );
        let report = ApplyReport {
            applied: 1,
            changed: 0,
            retried: 2,
            failed: 1,
        };
        assert_eq!(
            pass_line(&report),
            "applied 1 event (0 records changed), 2 events failed (left to retry), 1 event given up"
        );
    }
}
