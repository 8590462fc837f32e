//! `terapi connect`: a connection from config and credentials, validated, verified, stored.
//! An existing id is replaced only with `--replace`, and only if this store can read it.

use terapi_runtime::client::{Connection, Verified};
use terapi_store::{ConnectionRecord, StoreError};

use crate::args::ConnectArgs;
use crate::context::Context;
use crate::escape::shown;
use crate::fail::Failure;
use crate::params;

pub async fn run(context: &Context, args: ConnectArgs) -> Result<(), Failure> {
    check_id(&args.id)?;
    let spec = context.catalog.get(&args.provider)?;
    let config = params::config(&args.config)?;
    let credentials = params::credentials(&args.credential)?;
    let opened = context.open_store().await?;
    // Nothing is sent to the provider for a connection that cannot be saved.
    if opened.keys.primary_id().is_none() {
        return Err(StoreError::NoKey.into());
    }
    let existing = opened.store.info(&args.id).await?;
    match &existing {
        Some(info) if !args.replace => return Err(exists(&args.id, &info.provider)),
        Some(_) => opened.store.check_replace(&args.id).await?,
        None => {}
    }
    // Every problem of both objects at once.
    let conn = Connection::from_json(spec, &config, &credentials, context.settings.clone())?;
    let verified = conn.verify().await?;
    let mut record = ConnectionRecord::new(conn.provider(), config, credentials);
    // A token the check obtained from the credentials is kept: the next commands reuse it
    // until it expires instead of asking for another.
    record.tokens = conn.tokens();
    let version = if args.replace {
        opened.store.save_connection(&args.id, &record).await?
    } else {
        // Created meanwhile by another process: refused as well.
        match opened.store.create_connection(&args.id, &record).await {
            Err(StoreError::Exists { .. }) => {
                let provider = opened
                    .store
                    .info(&args.id)
                    .await?
                    .map_or_else(String::new, |i| i.provider);
                return Err(exists(&args.id, &provider));
            }
            other => other?,
        }
    };
    let checked = match verified {
        Verified::Token => "a token was issued for the credentials".to_owned(),
        Verified::Endpoint { endpoint } => format!("the credentials were checked at {endpoint}"),
        Verified::TokenAndEndpoint { endpoint } => {
            format!("a token was issued and checked at {endpoint}")
        }
        Verified::NothingToCheck => {
            "the catalog gives no way to check the credentials: not checked".to_owned()
        }
        _ => "verified".to_owned(),
    };
    eprintln!(
        "{} connection `{}` ({}, version {version}): {}",
        if existing.is_some() {
            "replaced"
        } else {
            "saved"
        },
        shown(&args.id),
        shown(conn.provider()),
        shown(&checked)
    );
    Ok(())
}

/// The id is taken: exit 1, naming the ways out.
fn exists(id: &str, provider: &str) -> Failure {
    Failure::failed(format!(
        "connection `{id}` exists already (provider `{provider}`): `terapi connect --replace` replaces it, `terapi connections remove {id}` removes it"
    ))
}

/// The store's rule for ids, checked before the provider is asked anything.
pub fn check_id(id: &str) -> Result<(), Failure> {
    Ok(terapi_store::check_id(id)?)
}
