//! The command line, as clap reads it.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

const AFTER_HELP: &str = "\
Secrets: `--credential KEY` (without `=`) reads the value from the environment variable \
TERAPI_CREDENTIAL_<KEY in UPPER_SNAKE_CASE>, else prompts for it without echo on a terminal; \
`--client-secret` absent reads TERAPI_CLIENT_SECRET, else prompts. A value given on the command \
line (`--credential KEY=VALUE`, `--client-secret VALUE`) is visible to other local users.

Exit codes: 0 success; 1 the operation failed on its input or at the provider (invalid params, \
unknown provider or connection, a catalog with errors, HTTP error status, refused authorization, \
reauthorization required); 2 usage, I/O or store error.";

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
    /// The stored connections (never shows a secret).
    #[command(subcommand)]
    Connections(ConnectionsCommand),
    /// Store keys.
    #[command(subcommand)]
    Key(KeyCommand),
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
    /// Remove a connection and its pending authorizations.
    Remove {
        /// The connection's id.
        id: String,
    },
    /// Re-encrypt every connection with the primary key of the ring in --key-env (new key
    /// first, the old ones after it).
    RotateKey,
}

/// `key`.
#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Print a new random key for TERAPI_STORE_KEY.
    Generate,
}
