//! The command line, as clap reads it.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

const AFTER_HELP: &str = "\
Sync: `sync ID MODEL` stores a model's records in the store, as the integrations declare its sync \
(built in: personio: employees, attendances, absence-periods; personio-v2: persons, employments; \
or `--integrations FILE`); `records ID MODEL` prints them (`--typed`: as the model's type), or \
with `--changes-since CURSOR` what changed since then; `webhooks` keeps personio-v2 records \
current between syncs. Actions: `action ID NAME --input JSON` (built in: personio: \
create-attendances, update-attendance, delete-attendance, create-absence-period; personio-v2: \
create-person, update-employment; personio-recruiting: upload-application-document, \
create-application).

Secrets: `--credential KEY` (without `=`) reads the value from the environment variable \
TERAPI_CREDENTIAL_<KEY in UPPER_SNAKE_CASE>, else prompts for it without echo on a terminal; \
`--client-secret` absent reads TERAPI_CLIENT_SECRET, else prompts. A value given on the command \
line (`--credential KEY=VALUE`, `--client-secret VALUE`) is visible to other local users.

Exit codes: 0 success; 1 the operation failed on its input or at the provider (invalid params, \
unknown provider or connection, a catalog with errors, HTTP error status, refused authorization, \
reauthorization required, a failed sync, a model another process is syncing); 2 usage, I/O or \
store error; 3 a full sync held its deletions (more than the model's share of its records, or an \
empty listing): nothing was deleted, `--allow-mass-delete` or a second full run that finds the \
same records missing applies them.";

/// Connections to the API providers of a terapi catalog, kept in an encrypted store.
#[derive(Debug, Parser)]
#[command(name = "terapi", version, about, long_about = None, after_help = AFTER_HELP)]
pub struct Cli {
    /// The connection store: `sqlite:PATH` or `postgres://USER@HOST/DB` [default: sqlite:
    /// and connections.db in the user's data directory]
    #[arg(long, global = true, value_name = "URL")]
    pub store: Option<String>,
    /// A providers.yaml catalog to load instead of the built-in one.
    #[arg(long, global = true, value_name = "FILE")]
    pub catalog: Option<PathBuf>,
    /// An integrations file (syncs, actions and models per provider) to load instead of the
    /// built-in one (Personio's), checked against the catalog.
    #[arg(long, global = true, value_name = "FILE")]
    pub integrations: Option<PathBuf>,
    /// Sends every request of the providers (and the authorization URL) to this origin
    /// instead: `https://…`, or `http://` on loopback, e.g. `http://127.0.0.1:8080`. For
    /// local test servers.
    #[arg(long, global = true, value_name = "ORIGIN")]
    pub origin: Option<String>,
    /// The environment variable that holds the store's key ring: `KEY` or `NEW,OLD,…`, each
    /// `[ID:]BASE64` (`terapi key generate` makes one). Without it only `connections list`
    /// works.
    #[arg(
        long,
        global = true,
        value_name = "VAR",
        default_value = "TERAPI_STORE_KEY"
    )]
    pub key_env: String,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the catalog's providers: key, auth mode, display name.
    Providers,
    /// Validate a connection's config and credentials (every problem at once), verify them
    /// with the provider, and store the connection as ID.
    Connect(ConnectArgs),
    /// Start a browser authorization: prints the authorization URL; with --listen, waits for
    /// the callback and stores the connection.
    Authorize(AuthorizeArgs),
    /// Finish an authorization from the callback URL the browser was sent to.
    Callback(CallbackArgs),
    /// Send a request through a stored connection; the body goes to stdout (JSON
    /// pretty-printed), the status to stderr.
    Request(RequestArgs),
    /// Sync a model of a stored connection into the store (incremental when a run completed
    /// before): prints what it added, updated, left unchanged and deleted.
    Sync(SyncArgs),
    /// Print a synced model's current records, or its changes since a cursor, as JSON lines.
    Records(RecordsArgs),
    /// Run a declared action through a stored connection: the input is checked (every
    /// problem at once) before anything is sent; the provider's answer goes to stdout.
    Action(ActionArgs),
    /// Webhooks of personio-v2 connections: subscribe, list, remove, and serve the receiver.
    #[command(subcommand)]
    Webhooks(WebhooksCommand),
    /// The stored connections (never shows a secret).
    #[command(subcommand)]
    Connections(ConnectionsCommand),
    /// Webhooks to the application (the outbox of `terapi serve`): list and retry
    /// deliveries.
    #[command(subcommand)]
    WebhooksOut(WebhooksOutCommand),
    /// Store keys.
    #[command(subcommand)]
    Key(KeyCommand),
    /// The API keys of `terapi serve`: create (the secret is printed once), list, revoke.
    /// The store keeps each key's SHA-256 only (no store key needed).
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Serve terapi's HTTP API (keys, connect sessions, OAuth, connections, proxy, syncs,
    /// records, actions, webhooks) until SIGTERM or Ctrl-C.
    Serve(ApiServeArgs),
    /// The generator: `generate`, `check`, `lint`, `schema`.
    #[command(flatten)]
    Generator(crate::generator::Command),
}

/// `connect`.
#[derive(Debug, Args)]
pub struct ConnectArgs {
    /// The connection's id in the store.
    pub id: String,
    /// The provider's catalog key.
    pub provider: String,
    /// Connection config params, `KEY=VALUE` (repeatable).
    #[arg(long, value_name = "KEY=VALUE", num_args = 1..)]
    pub config: Vec<String>,
    /// Credentials: `KEY` (read from `TERAPI_CREDENTIAL_<KEY>` or prompted without echo) or
    /// `KEY=VALUE` (visible to other local users) (repeatable).
    #[arg(long, value_name = "KEY[=VALUE]", num_args = 1..)]
    pub credential: Vec<String>,
    /// Replace the connection if ID exists (only one this store's key can read); without it
    /// an existing ID is refused before the provider is asked anything.
    #[arg(long)]
    pub replace: bool,
}

/// `authorize`.
#[derive(Debug, Args)]
pub struct AuthorizeArgs {
    /// The connection's id in the store, once authorized.
    pub id: String,
    /// The provider's catalog key.
    pub provider: String,
    /// The application's OAuth client id.
    #[arg(long, value_name = "ID")]
    pub client_id: String,
    /// The client secret (visible to other local users; absent: TERAPI_CLIENT_SECRET, else a
    /// prompt). An empty one makes a public client.
    #[arg(long, value_name = "SECRET")]
    pub client_secret: Option<String>,
    /// A scope to request instead of the catalog's default scopes (repeatable).
    #[arg(long, value_name = "SCOPE")]
    pub scope: Vec<String>,
    /// Connection config params, `KEY=VALUE` (repeatable).
    #[arg(long, value_name = "KEY=VALUE", num_args = 1..)]
    pub config: Vec<String>,
    /// Serve the callback on this loopback address (`127.0.0.1:PORT`, `[::1]:PORT`; port 0
    /// picks one), finish the authorization there and exit.
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// The redirect URI registered with the provider [default with --listen:
    /// http://ADDR/callback].
    #[arg(long, value_name = "URL", required_unless_present = "listen")]
    pub redirect_uri: Option<String>,
    /// Replace the connection if ID exists (only one this store's key can read) once the
    /// authorization succeeds; without it an existing ID is refused before anything starts.
    #[arg(long)]
    pub replace: bool,
}

/// `callback`.
#[derive(Debug, Args)]
pub struct CallbackArgs {
    /// The URL the provider sent the browser to (`-`: read it from stdin).
    pub url: String,
}

/// `request`.
#[derive(Debug, Args)]
pub struct RequestArgs {
    /// The stored connection's id.
    pub id: String,
    /// The HTTP method, e.g. GET or POST.
    pub method: String,
    /// The path below the provider's base URL, e.g. /company/employees.
    pub path: String,
    /// A JSON request body.
    #[arg(long, value_name = "BODY")]
    pub json: Option<String>,
    /// Query params, `KEY=VALUE` (repeatable).
    #[arg(long, value_name = "KEY=VALUE", num_args = 1..)]
    pub query: Vec<String>,
}

/// `sync`.
#[derive(Debug, Args)]
pub struct SyncArgs {
    /// The stored connection's id.
    pub id: String,
    /// The model, e.g. employees (personio) or persons (personio-v2).
    pub model: String,
    /// A full run: lists every record, and marks deleted the records it does not see.
    #[arg(long)]
    pub full: bool,
    /// Let a full run delete however many records it does not see. Without it, deletions of
    /// more than the model's share (10%), or of every record after an empty listing, are
    /// held (exit 3) until a second full run finds the same records missing.
    #[arg(long)]
    pub allow_mass_delete: bool,
    /// Print the report as JSON instead of a line of counts.
    #[arg(long)]
    pub json: bool,
}

/// `records`.
#[derive(Debug, Args)]
pub struct RecordsArgs {
    /// The stored connection's id.
    pub id: String,
    /// The synced model.
    pub model: String,
    /// Print the changes after this cursor (0: from the beginning) instead of the records,
    /// then the cursor to resume from on stderr (`cursor: N`).
    #[arg(long, value_name = "CURSOR", allow_hyphen_values = true)]
    pub changes_since: Option<String>,
    /// Print each record as the model's generated type reads it (its typed view); a record
    /// that does not read fails the command, naming it and where it differs.
    #[arg(long, conflicts_with = "changes_since")]
    pub typed: bool,
}

/// `action`.
#[derive(Debug, Args)]
pub struct ActionArgs {
    /// The stored connection's id.
    pub id: String,
    /// The action, e.g. create-attendances (personio).
    pub name: String,
    /// The input as JSON, `@FILE` to read it from a file, or `-` from stdin. A `file` field
    /// is `{"path": "cv.pdf"}` (read here) or `{"filename", "content_type"?, "base64"}`.
    #[arg(long, value_name = "JSON", allow_hyphen_values = true)]
    pub input: Option<String>,
}

/// `webhooks`.
#[derive(Debug, Subcommand)]
pub enum WebhooksCommand {
    /// Subscribe URL to events of a personio-v2 connection; the store keeps the webhook's
    /// token (deliveries are recognised by it). Prints the webhook's id.
    Subscribe(SubscribeArgs),
    /// The connection's webhooks at the provider, and whether the store has each one's token.
    List {
        /// The stored connection's id.
        id: String,
    },
    /// Delete a webhook at the provider and forget its token.
    Remove {
        /// The stored connection's id.
        id: String,
        /// The webhook's id, as `webhooks list` shows it.
        webhook_id: String,
    },
    /// Receive deliveries on ADDR (every connection's subscriptions), store them, and apply
    /// them to the records until Ctrl-C.
    Serve(ServeArgs),
}

/// The events `webhooks subscribe` subscribes to by default.
pub const DEFAULT_EVENTS: &[&str] = &[
    "person.created",
    "person.updated",
    "person.deleted",
    "employment.created",
    "employment.updated",
    "employment.deleted",
];

/// `webhooks subscribe`.
#[derive(Debug, Args)]
pub struct SubscribeArgs {
    /// The stored connection's id (a personio-v2 connection).
    pub id: String,
    /// Where Personio delivers: `https://…` (plain http only on loopback, for tests).
    pub url: String,
    /// An event to subscribe to (repeatable) [default: person.created, person.updated,
    /// person.deleted, employment.created, employment.updated, employment.deleted].
    #[arg(long = "event", value_name = "EVENT")]
    pub events: Vec<String>,
}

/// `webhooks serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The address and port to serve on, e.g. 127.0.0.1:8080 (port 0 picks one; the address
    /// bound is printed).
    #[arg(long, value_name = "ADDR")]
    pub listen: String,
    /// The path deliveries are posted to.
    #[arg(long, value_name = "PATH", default_value = "/webhooks")]
    pub path: String,
}

/// `connections`.
#[derive(Debug, Subcommand)]
pub enum ConnectionsCommand {
    /// Every stored connection (works without a key).
    List,
    /// One connection: provider, version, times, token expiry, key id, config (secret values
    /// masked), credential names, client id.
    Show {
        /// The connection's id.
        id: String,
    },
    /// Remove a connection, its pending authorizations and its metadata.
    Remove {
        /// The connection's id.
        id: String,
    },
    /// Re-encrypt everything sealed (connections, pending authorizations, records, webhook
    /// tokens and events) with the primary key of the ring in --key-env (new key first, the
    /// old ones after it); after it the old keys can be retired. Interrupted, run it again: it
    /// continues.
    RotateKey {
        /// Also re-seal values written by terapi before they were bound to their provider
        /// and ids (they are refused until then), trusting the database's columns as they are
        /// now: once, after upgrading, on a database nobody else could write to.
        #[arg(long)]
        legacy: bool,
    },
}

/// `webhooks-out`.
#[derive(Debug, Subcommand)]
pub enum WebhooksOutCommand {
    /// List deliveries, newest first: id, type, status, attempts, times, last error.
    List(WebhooksOutListArgs),
    /// Put a failed delivery (or a pending one no server is sending) back, due now, with
    /// the same delivery id and a new retry window.
    Retry(WebhooksOutRetryArgs),
}

/// `webhooks-out list`.
#[derive(Debug, Args)]
pub struct WebhooksOutListArgs {
    /// Only deliveries with this status.
    #[arg(long, value_name = "STATUS", value_parser = ["pending", "delivered", "failed"])]
    pub status: Option<String>,
    /// At most this many (1 to 1000).
    #[arg(long, value_name = "N", default_value_t = 50, value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub limit: u16,
    /// One JSON object per line, with the body sent.
    #[arg(long)]
    pub json: bool,
}

/// `webhooks-out retry`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("which").required(true).args(["delivery_id", "all_failed"])))]
pub struct WebhooksOutRetryArgs {
    /// The delivery's id (`X-Terapi-Delivery-Id`).
    pub delivery_id: Option<String>,
    /// Every failed delivery.
    #[arg(long)]
    pub all_failed: bool,
}

/// `key`.
#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Print a new random key for TERAPI_STORE_KEY.
    Generate,
}

/// `keys`.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create an API key: its secret goes to stdout, once (the store keeps its hash); its id
    /// to stderr.
    Create {
        /// What the key is for (shown by `keys list`).
        #[arg(long, value_name = "NAME")]
        name: String,
        /// Its scopes, comma-separated: connections:read, credentials:read,
        /// connections:write, proxy, records, sync, actions, admin (everything).
        #[arg(
            long,
            value_name = "SCOPE,...",
            value_delimiter = ',',
            required = true,
            num_args = 1..
        )]
        scopes: Vec<String>,
    },
    /// Every API key: id, name, scopes, created, last used, revoked (never a secret).
    List,
    /// Revoke an API key: it authenticates nothing any more.
    Revoke {
        /// The key's id (`keys list`; the `<id>` of `tk_<id>_…`).
        id: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory as _;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("terapi").chain(args.iter().copied()))
    }

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn sync_and_records() {
        let Command::Sync(args) = parse(&["sync", "hr", "employees", "--full"])
            .unwrap()
            .command
        else {
            panic!("sync");
        };
        assert_eq!((args.id.as_str(), args.model.as_str()), ("hr", "employees"));
        assert!(args.full && !args.json && !args.allow_mass_delete);
        let Command::Sync(args) =
            parse(&["sync", "hr", "employees", "--full", "--allow-mass-delete"])
                .unwrap()
                .command
        else {
            panic!("sync");
        };
        assert!(args.full && args.allow_mass_delete);
        let Command::Sync(args) = parse(&["sync", "hr", "persons", "--json"]).unwrap().command
        else {
            panic!("sync");
        };
        assert!(!args.full && args.json);
        assert!(parse(&["sync", "hr"]).is_err(), "the model is required");

        let Command::Records(args) = parse(&["records", "hr", "employees"]).unwrap().command else {
            panic!("records");
        };
        assert_eq!(args.changes_since, None);
        let Command::Records(args) = parse(&["records", "hr", "employees", "--changes-since", "0"])
            .unwrap()
            .command
        else {
            panic!("records");
        };
        assert_eq!(args.changes_since.as_deref(), Some("0"));
    }

    #[test]
    fn webhooks_out() {
        let Command::WebhooksOut(WebhooksOutCommand::List(args)) =
            parse(&["webhooks-out", "list"]).unwrap().command
        else {
            panic!("list");
        };
        assert_eq!((args.status, args.limit, args.json), (None, 50, false));
        let Command::WebhooksOut(WebhooksOutCommand::List(args)) = parse(&[
            "webhooks-out",
            "list",
            "--status",
            "failed",
            "--limit",
            "3",
            "--json",
        ])
        .unwrap()
        .command
        else {
            panic!("list");
        };
        assert_eq!(
            (args.status.as_deref(), args.limit, args.json),
            (Some("failed"), 3, true)
        );
        assert!(parse(&["webhooks-out", "list", "--status", "lost"]).is_err());
        assert!(parse(&["webhooks-out", "list", "--limit", "0"]).is_err());
        assert!(parse(&["webhooks-out", "list", "--limit", "1001"]).is_err());
        let Command::WebhooksOut(WebhooksOutCommand::Retry(args)) =
            parse(&["webhooks-out", "retry", "dlv_1"]).unwrap().command
        else {
            panic!("retry");
        };
        assert_eq!(
            (args.delivery_id.as_deref(), args.all_failed),
            (Some("dlv_1"), false)
        );
        assert!(matches!(
            parse(&["webhooks-out", "retry", "--all-failed"])
                .unwrap()
                .command,
            Command::WebhooksOut(WebhooksOutCommand::Retry(WebhooksOutRetryArgs {
                delivery_id: None,
                all_failed: true
            }))
        ));
        assert!(
            parse(&["webhooks-out", "retry"]).is_err(),
            "an id or --all-failed"
        );
        assert!(parse(&["webhooks-out", "retry", "dlv_1", "--all-failed"]).is_err());
    }

    #[test]
    fn api_keys() {
        let Command::Keys(KeysCommand::Create { name, scopes }) = parse(&[
            "keys",
            "create",
            "--name",
            "backend",
            "--scopes",
            "connections:read,proxy",
            "--scopes",
            "records",
        ])
        .unwrap()
        .command
        else {
            panic!("create");
        };
        assert_eq!(name, "backend");
        assert_eq!(scopes, ["connections:read", "proxy", "records"]);
        assert!(
            parse(&["keys", "create", "--name", "x"]).is_err(),
            "scopes are required"
        );
        assert!(
            parse(&["keys", "create", "--scopes", "proxy"]).is_err(),
            "a name is required"
        );
        assert!(matches!(
            parse(&["keys", "revoke", "abc"]).unwrap().command,
            Command::Keys(KeysCommand::Revoke { .. })
        ));
        assert!(parse(&["keys", "revoke"]).is_err());
        assert!(matches!(
            parse(&["key", "generate"]).unwrap().command,
            Command::Key(KeyCommand::Generate)
        ));
    }

    #[test]
    fn webhooks() {
        let cli = parse(&[
            "webhooks",
            "subscribe",
            "hr",
            "https://hooks.example/personio",
            "--event",
            "person.updated",
            "--event",
            "person.deleted",
        ])
        .unwrap();
        let Command::Webhooks(WebhooksCommand::Subscribe(args)) = cli.command else {
            panic!("subscribe");
        };
        assert_eq!(args.events, ["person.updated", "person.deleted"]);
        let Command::Webhooks(WebhooksCommand::Subscribe(args)) =
            parse(&["webhooks", "subscribe", "hr", "https://h.example/"])
                .unwrap()
                .command
        else {
            panic!("subscribe");
        };
        assert!(args.events.is_empty(), "the defaults apply later");

        let Command::Webhooks(WebhooksCommand::Serve(args)) =
            parse(&["webhooks", "serve", "--listen", "127.0.0.1:0"])
                .unwrap()
                .command
        else {
            panic!("serve");
        };
        assert_eq!(
            (args.listen.as_str(), args.path.as_str()),
            ("127.0.0.1:0", "/webhooks")
        );
        assert!(
            parse(&["webhooks", "serve"]).is_err(),
            "--listen is required"
        );
        assert!(matches!(
            parse(&["webhooks", "remove", "hr", "w-1"]).unwrap().command,
            Command::Webhooks(WebhooksCommand::Remove { .. })
        ));
        assert!(parse(&["webhooks", "remove", "hr"]).is_err());
    }
}

/// `serve`.
#[derive(Debug, Args)]
pub struct ApiServeArgs {
    /// The address and port to serve on (port 0 picks one; the address bound is printed).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:3003")]
    pub listen: String,
    /// The URL browsers and providers reach the server at (connect links, the OAuth
    /// redirect URI `URL/oauth/callback`) [default: http://ADDR]
    #[arg(long, value_name = "URL")]
    pub public_url: Option<String>,
    /// An origin of the application's pages allowed to call the end-user routes, to frame
    /// the connect page (`/connect`) and to receive its events and OAuth results
    /// (`https://app.example.com`); repeatable.
    #[arg(long = "connect-origin", value_name = "ORIGIN")]
    pub connect_origins: Vec<String>,
    /// An OAuth app: `PROVIDER=CLIENT_ID[:SCOPE,SCOPE…]`; its secret from the variable
    /// `TERAPI_OAUTH_SECRET_<PROVIDER in UPPER_SNAKE_CASE>`. Repeatable.
    #[arg(long = "oauth-app", value_name = "PROVIDER=CLIENT_ID")]
    pub oauth_apps: Vec<String>,
    /// Where to post events (auth, sync) as signed webhooks; the signing secret from
    /// TERAPI_WEBHOOK_SECRET.
    #[arg(long, value_name = "URL")]
    pub webhook_url: Option<String>,
    /// How long a connect session lasts, in minutes.
    #[arg(long, value_name = "MINUTES", default_value_t = 30)]
    pub session_minutes: u64,
    /// Requests per minute per client address on the routes that take no key.
    #[arg(long, value_name = "N", default_value_t = 120)]
    pub rate_limit: u32,
    /// Connections served at once.
    #[arg(long, value_name = "N", default_value_t = 1024)]
    pub max_connections: usize,
    /// Log lines as JSON (one object per line) instead of text.
    #[arg(long)]
    pub log_json: bool,
}
