//! The events the server tells the application about, through the outbox as signed
//! webhooks ([`crate::outbox`]): a connection made or overridden, a grant that died, a sync
//! finished. An event that cannot be enqueued is logged (the operation it reports has
//! happened and stays done).

use crate::auth::Session;
use crate::outbox::{AuthEvent, AuthOperation, EventEndUser, EventError, OutgoingEvent};
use crate::state::Server;

/// Enqueues `event`, logging a failure.
pub(crate) async fn emit(server: &Server, event: OutgoingEvent) {
    if let Err(e) = server.emit(event).await {
        tracing::error!(error = %e, "an event for the application could not be stored");
    }
}

fn end_user_of(session: &Session) -> Option<EventEndUser> {
    let user: terapi_store::EndUser = serde_json::from_value(session.end_user.clone()).ok()?;
    Some(EventEndUser::from(&user))
}

fn auth_mode(server: &Server, provider: &str) -> Option<String> {
    terapi_store::Catalog::spec(&server.inner.specs, provider)
        .map(|spec| spec.auth_mode.as_str().to_owned())
}

/// A connection was made (`replaced`: an existing one overridden) by an end user.
pub(crate) async fn connected(
    server: &Server,
    id: &str,
    provider: &str,
    session: &Session,
    replaced: bool,
) {
    tracing::info!(provider = %provider, replaced, "connection made");
    schedule(server, id, provider).await;
    let operation = if replaced {
        AuthOperation::Override
    } else {
        AuthOperation::Creation
    };
    let event = created(
        server,
        id,
        provider,
        operation,
        end_user_of(session),
        &session.tags,
    );
    emit(server, event).await;
}

/// A connection was imported by the application (`POST /connections`).
pub(crate) async fn imported(
    server: &Server,
    id: &str,
    provider: &str,
    meta: &terapi_store::ConnectionMeta,
) {
    tracing::info!(provider = %provider, "connection imported");
    schedule(server, id, provider).await;
    let end_user = meta.end_user.as_ref().map(EventEndUser::from);
    let event = created(
        server,
        id,
        provider,
        AuthOperation::Creation,
        end_user,
        &meta.tags,
    );
    emit(server, event).await;
}

fn created(
    server: &Server,
    id: &str,
    provider: &str,
    operation: AuthOperation,
    end_user: Option<EventEndUser>,
    tags: &std::collections::BTreeMap<String, String>,
) -> OutgoingEvent {
    OutgoingEvent::Auth(AuthEvent {
        operation,
        connection_id: id.to_owned(),
        provider_config_key: provider.to_owned(),
        provider: provider.to_owned(),
        auth_mode: auth_mode(server, provider),
        end_user,
        tags: tags.clone(),
        success: true,
        error: None,
    })
}

/// The `auth` event of a connection whose grant died (the provider refused its refresh;
/// the end user must authorize again), written by the store in the transaction that marks
/// the connection.
pub(crate) fn reauthorization_event(
    specs: &terapi_store::Specs,
) -> terapi_store::ReauthorizationEvent {
    let specs = specs.clone();
    std::sync::Arc::new(
        move |what: &terapi_store::Reauthorization, delivery: &str, at| {
            let event = AuthEvent {
                operation: AuthOperation::Refresh,
                connection_id: what.connection.clone(),
                provider_config_key: what.provider.clone(),
                provider: what.provider.clone(),
                auth_mode: terapi_store::Catalog::spec(&specs, &what.provider)
                    .map(|spec| spec.auth_mode.as_str().to_owned()),
                end_user: what.meta.end_user.as_ref().map(EventEndUser::from),
                tags: what.meta.tags.clone(),
                success: false,
                error: Some(EventError {
                    kind: "reauthorization_required".to_owned(),
                    description: what.reason.clone(),
                }),
            };
            OutgoingEvent::Auth(event).body(delivery, at)
        },
    )
}

/// Deliveries not made yet, if the store can tell.
pub(crate) async fn outbox_depth(server: &Server) -> Option<i64> {
    let depth = server.store().outbox_depth().await.ok()?;
    i64::try_from(depth).ok()
}

/// Puts the provider's declared scheduled syncs (`runs: every …`) of a new connection on the
/// store's schedule, first due now: the schedule worker of any replica runs them.
pub(crate) async fn schedule(server: &Server, id: &str, provider: &str) {
    let Some(integration) = server
        .inner
        .integrations
        .integrations
        .iter()
        .find(|i| i.provider == provider)
    else {
        return;
    };
    let scheduled = terapi_sync::schedule_declared(
        server.store(),
        id,
        &integration.syncs,
        std::time::SystemTime::now(),
    )
    .await;
    if let Err(e) = scheduled {
        tracing::error!(error = %e, "the connection's syncs could not be scheduled");
    }
}
