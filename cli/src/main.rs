//! `terapi`: connections to the providers of a catalog, kept in an encrypted store.
//!
//! Lists a catalog's providers, connects with config and credentials (validated at once,
//! then verified), authorizes in a browser (with a loopback listener for the callback, or a
//! pasted callback URL), sends requests through a stored connection (base URL, auth, token
//! refresh through the store, retries), syncs a provider's records into the store and prints
//! them or their changes, manages and receives Personio webhooks, and lists, shows, removes
//! and re-encrypts the stored connections without ever printing a secret, lists and
//! retries the webhooks `terapi serve` posts to the application (`webhooks-out`), and
//! creates, lists and revokes its API keys (`keys`).
//!
//! Exit codes (as the generator's): 0 success; 1 the operation failed on its input, its
//! catalog or at the provider; 2 usage, I/O or store errors; 3 a full sync held its
//! deletions (`sync --allow-mass-delete` applies them); 130 / 143 a command stopped by
//! SIGINT / SIGTERM (its leases released first).
#![forbid(unsafe_code)]

mod action;
mod args;
mod authorize;
mod catalog;
mod connect;
mod connections;
mod context;
mod escape;
mod fail;
mod generator;
mod keys_api;
mod listen;
mod params;
mod providers;
mod records;
mod request;
mod serve;
mod signals;
mod sync;
mod time;
mod webhooks;
mod webhooks_out;
mod workflows;

use std::process::ExitCode;

use clap::Parser as _;

use args::{
    Cli, Command, ConnectionsCommand, KeyCommand, KeysCommand, WebhooksCommand, WebhooksOutCommand,
};
use context::Context;
use fail::Failure;

fn main() -> ExitCode {
    // A bug shows as one line, never as a backtrace or a dump of values.
    std::panic::set_hook(Box::new(|info| {
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!("error: internal error of terapi{at} (please report it)");
    }));
    let cli = Cli::parse();
    // The generator's commands read and write files only: no store, no async runtime.
    if let Command::Generator(command) = cli.command {
        return generator::run(command);
    }
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(cli)));
    match outcome {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(failure)) => failure.print(),
        // The hook printed the line.
        Err(_) => ExitCode::from(fail::USAGE),
    }
}

fn run(cli: Cli) -> Result<(), Failure> {
    if let Command::Key(KeyCommand::Generate) = cli.command {
        let key = terapi_store::Keys::generate()?;
        return fail::print_line(&key);
    }
    let context = Context::new(&cli)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::usage(format!("cannot start the async runtime: {e}")))?;
    // `sync` and `webhooks serve` stop on a signal themselves; any other command is stopped
    // here, and the leases of the stores it opened are released before the process exits.
    let stops_itself = matches!(
        cli.command,
        Command::Sync(_) | Command::Webhooks(WebhooksCommand::Serve(_)) | Command::Serve(_)
    );
    runtime.block_on(async {
        if stops_itself {
            return work(&context, cli.command).await;
        }
        let mut signals = signals::Signals::install()?;
        tokio::select! {
            outcome = work(&context, cli.command) => outcome,
            signal = signals.wait() => Err(context.stopped(signal).await),
        }
    })
}

/// The command's work.
async fn work(context: &Context, command: Command) -> Result<(), Failure> {
    match command {
        // Handled in `main`, before a store or a runtime exists.
        Command::Generator(_) => Ok(()),
        Command::Providers => providers::run(context),
        Command::Serve(args) => serve::run(context, args).await,
        Command::Connect(args) => connect::run(context, args).await,
        Command::Authorize(args) => authorize::run(context, args).await,
        Command::Callback(args) => authorize::callback(context, args).await,
        Command::Request(args) => request::run(context, args).await,
        Command::Sync(args) => sync::run(context, args).await,
        Command::Records(args) => records::run(context, args).await,
        Command::Action(args) => action::run(context, args).await,
        Command::Webhooks(command) => match command {
            WebhooksCommand::Subscribe(args) => webhooks::subscribe(context, args).await,
            WebhooksCommand::List { id } => webhooks::list(context, &id).await,
            WebhooksCommand::Remove { id, webhook_id } => {
                webhooks::remove(context, &id, &webhook_id).await
            }
            WebhooksCommand::Serve(args) => webhooks::serve(context, args).await,
        },
        Command::Connections(command) => match command {
            ConnectionsCommand::List => connections::list(context).await,
            ConnectionsCommand::Show { id } => connections::show(context, &id).await,
            ConnectionsCommand::Remove { id } => connections::remove(context, &id).await,
            ConnectionsCommand::RotateKey { legacy } => {
                connections::rotate_key(context, legacy).await
            }
        },
        Command::WebhooksOut(command) => match command {
            WebhooksOutCommand::List(args) => webhooks_out::list(context, args).await,
            WebhooksOutCommand::Retry(args) => webhooks_out::retry(context, args).await,
        },
        Command::Keys(command) => match command {
            KeysCommand::Create { name, scopes } => keys_api::create(context, &name, &scopes).await,
            KeysCommand::List => keys_api::list(context).await,
            KeysCommand::Revoke { id } => keys_api::revoke(context, &id).await,
        },
        Command::Key(KeyCommand::Generate) => Ok(()),
    }
}
