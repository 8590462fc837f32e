//! What every command shares: the catalog, the client settings, and how to open the store.

use std::path::PathBuf;

use terapi_runtime::client::Settings;
use terapi_store::{Keys, Store};

use crate::args::Cli;
use crate::catalog::Catalog;
use crate::fail::Failure;

/// The global flags, read.
pub struct Context {
    pub catalog: Catalog,
    pub workflows: crate::workflows::Workflows,
    pub settings: Settings,
    store_url: Option<String>,
    key_env: String,
    /// Every store this command opened: on a signal, their leases are released.
    opened: std::sync::Mutex<Vec<Store>>,
}

/// How long releasing the leases may take once a signal came.
const RELEASE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// An open store, and whether it has a key to write secrets with.
pub struct Opened {
    pub store: Store,
    pub keys: Keys,
}

impl Context {
    pub fn new(cli: &Cli) -> Result<Context, Failure> {
        let catalog = match &cli.catalog {
            Some(path) => Catalog::load(path)?,
            None => Catalog::built_in(),
        };
        let workflows = match &cli.integrations {
            Some(path) => crate::workflows::Workflows::load(path, &catalog)?,
            None => crate::workflows::Workflows::built_in()?,
        };
        let mut settings = Settings::new();
        if let Some(origin) = &cli.origin {
            check_origin(origin)?;
            settings = settings.origin(origin.clone());
        }
        Ok(Context {
            catalog,
            workflows,
            settings,
            store_url: cli.store.clone(),
            key_env: cli.key_env.clone(),
            opened: std::sync::Mutex::new(Vec::new()),
        })
    }

    /// The key ring of `--key-env`: none when the variable is unset (then the store lists
    /// connections and refuses everything secret).
    fn keys(&self) -> Result<Keys, Failure> {
        if std::env::var_os(&self.key_env).is_none() {
            return Ok(Keys::none());
        }
        Ok(Keys::from_env(&self.key_env)?)
    }

    /// Opens (and migrates) the store, with the catalog.
    pub async fn open_store(&self) -> Result<Opened, Failure> {
        let keys = self.keys()?;
        let url = match &self.store_url {
            Some(url) => url.clone(),
            None => default_store_url()?,
        };
        let store = Store::open(&url, keys.clone())
            .await?
            .with_catalog(self.catalog.specs().clone());
        if let Ok(mut opened) = self.opened.lock() {
            opened.push(store.clone());
        }
        Ok(Opened { store, keys })
    }

    /// A command stopped by `signal`: the leases of every store it opened (a token renewal
    /// or refresh under way, claimed events, a sync run) are released before the process
    /// exits, so the next process goes on at once instead of waiting them out.
    pub async fn stopped(&self, signal: crate::signals::Signal) -> Failure {
        let stores = self.opened.lock().map(|s| s.clone()).unwrap_or_default();
        let mut released = true;
        for store in stores {
            let done = tokio::time::timeout(RELEASE_TIMEOUT, store.release_leases()).await;
            released &= matches!(done, Ok(Ok(())));
        }
        let leases = if released {
            "its leases are released"
        } else {
            "some leases could not be released: they expire on their own"
        };
        Failure::failed(format!("stopped by {}: {leases}", signal.name()))
            .with_code(signal.exit_code())
    }
}

/// `sqlite:` and `connections.db` in the user's data directory (created if missing, only the
/// user may enter it).
fn default_store_url() -> Result<String, Failure> {
    let dirs = directories::ProjectDirs::from("", "", "terapi").ok_or_else(|| {
        Failure::usage("no home directory to keep the store in: give --store sqlite:PATH")
    })?;
    let dir: PathBuf = dirs.data_dir().to_owned();
    create_private_dir(&dir)
        .map_err(|e| Failure::usage(format!("cannot create {}: {e}", dir.display())))?;
    let path = dir.join("connections.db");
    let path = path.to_str().ok_or_else(|| {
        Failure::usage(format!(
            "the data directory {} is not UTF-8: give --store sqlite:PATH",
            dir.display()
        ))
    })?;
    Ok(format!("sqlite:{path}"))
}

fn create_private_dir(dir: &std::path::Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Whether `url`'s host is a loopback address or `localhost`; `None` without a host.
pub fn loopback_host(url: &url::Url) -> Option<bool> {
    Some(match url.host()? {
        url::Host::Ipv4(ip) => ip.is_loopback(),
        url::Host::Ipv6(ip) => ip.is_loopback(),
        url::Host::Domain(d) => d.eq_ignore_ascii_case("localhost"),
    })
}

/// `--origin`: `https://HOST[:PORT]`, or `http://` on a loopback host, with no path.
fn check_origin(origin: &str) -> Result<(), Failure> {
    let bad = |why: &str| Failure::usage(format!("--origin `{origin}`: {why}"));
    let url = url::Url::parse(origin).map_err(|_| bad("not a URL"))?;
    let Some(loopback) = loopback_host(&url) else {
        return Err(bad("it has no host"));
    };
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        "http" => {
            return Err(bad(
                "plain http only on a loopback address (127.0.0.1, ::1)",
            ));
        }
        _ => return Err(bad("use https://HOST[:PORT] or http://127.0.0.1:PORT")),
    }
    if url.path() != "/" || url.query().is_some() || !url.username().is_empty() {
        return Err(bad("an origin is a scheme, a host and a port only"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_origin;

    #[test]
    fn origins() {
        assert!(check_origin("http://127.0.0.1:8080").is_ok());
        assert!(check_origin("http://[::1]:8080").is_ok());
        assert!(check_origin("https://proxy.example").is_ok());
        assert!(check_origin("http://example.com").is_err());
        assert!(check_origin("http://127.0.0.1:8080/api").is_err());
        assert!(check_origin("ftp://127.0.0.1").is_err());
    }
}
