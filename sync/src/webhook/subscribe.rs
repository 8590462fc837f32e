//! Subscriptions through Personio's management API (`/v2/webhooks`), with a random token
//! this library makes and the store keeps (sealed; deliveries are matched by it).

use base64::Engine as _;
use serde_json::{Value, json};
use terapi_runtime::client::{Connection, Method};
use terapi_store::{Store, Webhook};

use crate::error::SyncError;

/// Subscribes `url` to `events` for the connection `connection_id`: the webhook is created
/// `ENABLED` with `auth_type: TOKEN` and a random token (`Bearer` + 32 random bytes), which
/// the store keeps to recognise deliveries.
pub async fn subscribe(
    conn: &Connection,
    store: &Store,
    connection_id: &str,
    url: &str,
    events: &[&str],
) -> Result<Webhook, SyncError> {
    if events.is_empty() {
        return Err(SyncError::Webhook(
            "a subscription needs at least one event".to_owned(),
        ));
    }
    let mut random = [0u8; 32];
    getrandom::fill(&mut random)
        .map_err(|e| SyncError::Webhook(format!("no randomness for the token: {e}")))?;
    let token = format!(
        "Bearer {}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random)
    );
    let body = json!({
        "url": url,
        "description": format!("terapi sync of connection {connection_id}"),
        "status": "ENABLED",
        "auth_type": "TOKEN",
        "token": token,
        "enabled_events": events,
    });
    let response = conn.post("/webhooks").json(&body).send().await?;
    let created: Value = response.json()?;
    let created = created.get("_data").cloned().unwrap_or(created);
    let id = created
        .get("id")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| SyncError::Webhook("the created webhook has no `id`".to_owned()))?;
    let webhook = Webhook {
        id: id.to_owned(),
        connection: connection_id.to_owned(),
        url: url.to_owned(),
        events: events.iter().map(|e| (*e).to_owned()).collect(),
        company_id: None,
        created_at_ms: i64::try_from(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_millis(),
        )
        .unwrap_or(0),
    };
    store.save_webhook(&webhook, &token).await?;
    Ok(webhook)
}

/// The connection's webhooks as the provider lists them (tokens are never listed).
pub async fn list(conn: &Connection) -> Result<Vec<Value>, SyncError> {
    let response = conn.get("/webhooks").send().await?;
    let body: Value = response.json()?;
    Ok(body
        .get("_data")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default())
}

/// Deletes the webhook `id` at the provider (already gone counts as deleted) and forgets
/// its token. Whether the store had it.
pub async fn remove(conn: &Connection, store: &Store, id: &str) -> Result<bool, SyncError> {
    let path = format!("/webhooks/{}", crate::engine::encode(id));
    match conn.request(Method::DELETE, path).send().await {
        Ok(_) => {}
        Err(e) if e.status() == Some(404) => {}
        Err(e) => return Err(e.into()),
    }
    Ok(store.remove_webhook(id).await?)
}
