//! `terapi keys`: the API keys of `terapi serve`. `create` prints the secret once, on
//! stdout, and nothing else there; the store keeps its SHA-256 only, so `list` cannot show
//! it. None of these needs the store's encryption key.

use terapi_store::API_SCOPES;

use crate::context::Context;
use crate::escape::shown;
use crate::fail::{self, Failure};
use crate::time::rfc3339;

/// Checks `--scopes` before the store is opened: an unknown scope is a usage error naming it
/// and the valid ones.
fn check_scopes(scopes: &[String]) -> Result<(), Failure> {
    if let Some(unknown) = scopes.iter().find(|s| !API_SCOPES.contains(&s.as_str())) {
        return Err(Failure::usage(format!(
            "--scopes: unknown scope `{}`; the scopes are {}",
            unknown.escape_default(),
            API_SCOPES.join(", ")
        )));
    }
    if scopes.is_empty() {
        return Err(Failure::usage(format!(
            "--scopes: give at least one of {}",
            API_SCOPES.join(", ")
        )));
    }
    Ok(())
}

pub async fn create(context: &Context, name: &str, scopes: &[String]) -> Result<(), Failure> {
    check_scopes(scopes)?;
    let opened = context.open_store().await?;
    let (key, secret) = opened.store.create_api_key(name, scopes).await?;
    fail::print_line(&secret)?;
    eprintln!(
        "created API key {} ({}) with scopes {}: the secret above is shown only now",
        key.id,
        shown(&key.name),
        key.scopes.join(",")
    );
    Ok(())
}

pub async fn list(context: &Context) -> Result<(), Failure> {
    let opened = context.open_store().await?;
    let keys = opened.store.api_keys().await?;
    if keys.is_empty() {
        eprintln!("no API keys in {}", shown(opened.store.url()));
        return Ok(());
    }
    let header = ["ID", "NAME", "SCOPES", "CREATED", "LAST USED", "REVOKED"].map(str::to_owned);
    let mut rows = vec![header];
    for key in &keys {
        // Names and ids may come from anything that wrote the database: escaped.
        rows.push([
            shown(&key.id).into_owned(),
            shown(&key.name).into_owned(),
            shown(&key.scopes.join(",")).into_owned(),
            rfc3339(key.created_at),
            key.last_used_at.map_or_else(|| "-".to_owned(), rfc3339),
            if key.revoked { "yes" } else { "no" }.to_owned(),
        ]);
    }
    fail::print_table(&rows)
}

pub async fn revoke(context: &Context, id: &str) -> Result<(), Failure> {
    let opened = context.open_store().await?;
    if !opened.store.revoke_api_key(id).await? {
        return Err(Failure::failed(format!("no API key `{}`", shown(id))));
    }
    eprintln!("revoked API key {}", shown(id));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_are_checked_before_the_store() {
        let s = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(check_scopes(&s(&["proxy", "admin"])).is_ok());
        let e = check_scopes(&s(&["proxy", "connections:delete"])).unwrap_err();
        assert_eq!(e.code(), fail::USAGE);
        assert!(
            e.message().contains("`connections:delete`")
                && e.message().contains("connections:read, credentials:read"),
            "{}",
            e.message()
        );
        assert!(check_scopes(&[]).is_err());
    }
}
