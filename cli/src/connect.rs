//! `terapi connect`: a connection from config and credentials, validated, verified, stored.

use terapi_runtime::client::{Connection, Verified};
use terapi_store::{ConnectionRecord, StoreError};

use crate::args::ConnectArgs;
use crate::context::Context;
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
    // Every problem of both objects at once.
    let conn = Connection::from_json(spec, &config, &credentials, context.settings.clone())?;
    let verified = conn.verify().await?;
    let mut record = ConnectionRecord::new(conn.provider(), config, credentials);
    // A token the check obtained from the credentials is kept: the next commands reuse it
    // until it expires instead of asking for another.
    record.tokens = conn.tokens();
    let version = opened.store.save_connection(&args.id, &record).await?;
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
        "saved connection `{}` ({}, version {version}): {checked}",
        args.id,
        conn.provider()
    );
    Ok(())
}

/// The store's rule for ids, checked before the provider is asked anything.
pub fn check_id(id: &str) -> Result<(), Failure> {
    Ok(terapi_store::check_id(id)?)
}
