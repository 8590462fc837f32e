//! `terapi authorize` and `terapi callback`: a browser authorization, started here, its
//! pending state kept in the store, finished from the callback (served on loopback with
//! `--listen`, or pasted).

use std::io::BufRead as _;

use terapi_runtime::client::{AuthorizationRequest, Connection, OAuthClient};

use crate::args::{AuthorizeArgs, CallbackArgs};
use crate::connect::check_id;
use crate::context::Context;
use crate::escape::shown;
use crate::fail::{self, Failure};
use crate::{listen, params};

pub async fn run(context: &Context, args: AuthorizeArgs) -> Result<(), Failure> {
    check_id(&args.id)?;
    let listen = args
        .listen
        .as_deref()
        .map(listen::parse_loopback)
        .transpose()?;
    let spec = context.catalog.get(&args.provider)?;
    let config = params::config(&args.config)?;
    let listener = match listen {
        Some(addr) => Some(listen::bind(addr).await?),
        None => None,
    };
    let redirect_uri = match (&args.redirect_uri, &listener) {
        (Some(uri), listener) => {
            let parsed = url::Url::parse(uri)
                .map_err(|_| Failure::usage(format!("--redirect-uri `{uri}` is not a URL")))?;
            if listener.as_ref().is_some_and(|l| l.port_was_zero()) {
                return Err(Failure::usage(
                    "--listen with port 0 makes its own redirect URI: leave out --redirect-uri, or listen on a fixed port",
                ));
            }
            parsed
        }
        (None, Some(listener)) => listener.redirect_uri()?,
        (None, None) => return Err(Failure::usage("give --listen ADDR or --redirect-uri URL")),
    };
    let secret = match args.client_secret {
        Some(secret) => secret,
        None => params::read_secret("the client secret", "TERAPI_CLIENT_SECRET", "client secret")?,
    };
    let client = OAuthClient::new(args.client_id, secret);
    let opened = context.open_store().await?;
    // An existing connection is replaced only when asked, and only one this key can read;
    // checked before the provider is asked anything.
    if let Some(info) = opened.store.info(&args.id).await? {
        if !args.replace {
            return Err(Failure::failed(format!(
                "connection `{id}` exists already (provider `{}`): `terapi authorize --replace` replaces it once authorized, `terapi connections remove {id}` removes it",
                shown(&info.provider),
                id = shown(&args.id),
            )));
        }
        opened.store.check_replace(&args.id).await?;
    }
    let mut request = AuthorizationRequest::new(redirect_uri.as_str()).settings(&context.settings);
    if !args.scope.is_empty() {
        request = request.scopes(args.scope);
    }
    let pending = Connection::start_authorization_json(spec, &config, &client, request).await?;
    opened.store.save_pending(&args.id, &pending).await?;
    fail::print_line(&shown(pending.url()))?;
    let Some(listener) = listener else {
        eprintln!(
            "open the URL in a browser, then give the URL it is sent back to: terapi callback URL"
        );
        return Ok(());
    };
    if listener.port_was_zero() {
        eprintln!("redirect URI: {redirect_uri}");
    }
    let store = &opened.store;
    let settings = &context.settings;
    let (id, provider) = listener
        .wait(&redirect_uri, &pending, |callback_url| async move {
            let (id, conn) = store
                .finish_authorization(&callback_url, settings.clone())
                .await?;
            Ok((id, conn.provider().to_owned()))
        })
        .await?;
    eprintln!(
        "authorized: saved connection `{}` ({})",
        shown(&id),
        shown(&provider)
    );
    Ok(())
}

pub async fn callback(context: &Context, args: CallbackArgs) -> Result<(), Failure> {
    let url = if args.url == "-" {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| Failure::usage(format!("cannot read the callback URL from stdin: {e}")))?;
        line.trim().to_owned()
    } else {
        args.url
    };
    let opened = context.open_store().await?;
    let (id, conn) = opened
        .store
        .finish_authorization(&url, context.settings.clone())
        .await?;
    eprintln!(
        "authorized: saved connection `{}` ({})",
        shown(&id),
        shown(conn.provider())
    );
    Ok(())
}
