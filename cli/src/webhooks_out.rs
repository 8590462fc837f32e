//! `terapi webhooks-out`: the outbox of webhooks `terapi serve` posts to the application.
//! `list` shows deliveries (newest first); `retry` puts a failed one back, due now, with the
//! same delivery id. Event bodies hold no secret, so nothing here needs the store's key.

use serde_json::{Value, json};
use terapi_store::{Delivery, DeliveryStatus, OutboxQuery, Retried};

use crate::args::{WebhooksOutListArgs, WebhooksOutRetryArgs};
use crate::context::Context;
use crate::escape::shown;
use crate::fail::{self, Failure};
use crate::time::rfc3339;

pub async fn list(context: &Context, args: WebhooksOutListArgs) -> Result<(), Failure> {
    let status = match args.status.as_deref() {
        Some(name) => Some(
            DeliveryStatus::parse(name)
                .ok_or_else(|| Failure::usage(format!("--status `{}`: unknown", shown(name))))?,
        ),
        None => None,
    };
    let opened = context.open_store().await?;
    let deliveries = opened
        .store
        .deliveries(&OutboxQuery {
            status,
            before: None,
            limit: usize::from(args.limit),
        })
        .await?;
    if args.json {
        let mut out = String::new();
        for d in &deliveries {
            out.push_str(&json_line(d).to_string());
            out.push('\n');
        }
        return fail::print_bytes(out.as_bytes());
    }
    if deliveries.is_empty() {
        eprintln!(
            "no {}deliveries in {}",
            status.map(|s| format!("{s} ")).unwrap_or_default(),
            shown(opened.store.url())
        );
        return Ok(());
    }
    let header = [
        "DELIVERY ID",
        "TYPE",
        "STATUS",
        "ATTEMPTS",
        "CREATED",
        "NEXT / DELIVERED",
        "LAST ERROR",
    ]
    .map(str::to_owned);
    let mut rows = vec![header];
    for d in &deliveries {
        let when = match d.status {
            DeliveryStatus::Delivered => d.delivered_at.map_or_else(|| "-".to_owned(), rfc3339),
            DeliveryStatus::Pending => rfc3339(d.next_attempt_at),
            DeliveryStatus::Failed => "-".to_owned(),
        };
        // Written by any process with access to the database: escaped.
        rows.push([
            shown(&d.delivery_id).into_owned(),
            d.kind.name().to_owned(),
            d.status.name().to_owned(),
            d.attempts.to_string(),
            rfc3339(d.created_at),
            when,
            shown(d.last_error.as_deref().unwrap_or("-")).into_owned(),
        ]);
    }
    fail::print_table(&rows)
}

fn json_line(d: &Delivery) -> Value {
    // The body as JSON when it is (always, when terapi wrote it), else as text.
    let body = serde_json::from_slice::<Value>(&d.body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&d.body).into_owned()));
    json!({
        "delivery_id": d.delivery_id,
        "type": d.kind.name(),
        "status": d.status.name(),
        "attempts": d.attempts,
        "created_at": rfc3339(d.created_at),
        "next_attempt_at": (d.status == DeliveryStatus::Pending).then(|| rfc3339(d.next_attempt_at)),
        "delivered_at": d.delivered_at.map(rfc3339),
        "retried_at": d.retried_at.map(rfc3339),
        "last_error": d.last_error,
        "body": body,
    })
}

pub async fn retry(context: &Context, args: WebhooksOutRetryArgs) -> Result<(), Failure> {
    let opened = context.open_store().await?;
    if args.all_failed {
        let n = opened.store.retry_failed_deliveries().await?;
        return fail::print_line(&format!("{n} failed delivery(ies) due again now"));
    }
    let Some(id) = args.delivery_id else {
        return Err(Failure::usage("give a DELIVERY_ID or --all-failed"));
    };
    match opened.store.retry_delivery(&id).await? {
        Retried::Queued => fail::print_line(&format!("delivery `{}` is due again now", shown(&id))),
        Retried::NotFound => Err(Failure::failed(format!("no delivery `{}`", shown(&id)))),
        Retried::Delivered => Err(Failure::failed(format!(
            "delivery `{}` was delivered already",
            shown(&id)
        ))),
        Retried::InFlight => Err(Failure::failed(format!(
            "delivery `{}` is being sent right now; see `terapi webhooks-out list`",
            shown(&id)
        ))),
    }
}
