//! MCP_OAUTH2_GENERIC: an MCP server whose authorization server is found at run time (RFC
//! 9728 protected resource metadata, then RFC 8414 authorization server metadata), with a
//! client registered there (RFC 7591), then the authorization code flow with PKCE and the
//! server as the `resource` (RFC 8707).

use serde_json::Value;
use url::Url;

use super::error::{Error, Step};
use super::oauth::{
    AuthorizationRequest, Discovered, OAuthClient, PendingAuthorization, authorization_spec,
};
use super::register::small_json;
use super::{Connection, Settings, url_check};
use crate::Section;
use crate::spec::{SpecRef, Values};

fn discovery_error(message: impl Into<String>) -> Error {
    Error::Url {
        step: Step::Authorize,
        message: message.into(),
    }
}

/// A URL a metadata document names: absolute, https (or loopback http under the origin
/// override, which then also maps it to the origin), with a host.
fn endpoint(value: Option<&Value>, what: &str, settings: &Settings) -> Result<Option<Url>, Error> {
    let Some(text) = value.and_then(Value::as_str) else {
        return Ok(None);
    };
    let url = Url::parse(text)
        .map_err(|_| discovery_error(format!("the metadata's {what} is not a URL")))?;
    let url = match &settings.origin {
        Some(origin) => url_check::with_origin(&url, &url_check::parse_origin(origin)?),
        None => url,
    };
    url_check::require_secure(&url, settings.origin.is_some(), what)?;
    Ok(Some(url))
}

/// `/.well-known/<name>` inserted between the host and the path of `base` (RFC 8414 §3.1,
/// RFC 9728 §3.1).
fn well_known(base: &Url, name: &str) -> Url {
    let mut url = base.clone();
    let path = base.path().trim_end_matches('/');
    url.set_path(&format!("/.well-known/{name}{path}"));
    url.set_query(None);
    url.set_fragment(None);
    url
}

/// Discovers the authorization server of the MCP server at `server`.
/// `server` is where it is fetched (after the origin override), `resource` the server's own
/// URL, which the requests name.
pub(crate) async fn discover(
    server: &Url,
    resource: &Url,
    settings: &Settings,
) -> Result<Discovered, Error> {
    let resource = resource.as_str().trim_end_matches('/').to_owned();
    let mut scopes: Vec<String> = Vec::new();
    let mut issuer = {
        let mut origin = server.clone();
        origin.set_path("/");
        origin.set_query(None);
        origin
    };
    // RFC 9728: the resource names its authorization servers (optional).
    if let Ok(Some((_, metadata))) = small_json(
        settings,
        reqwest::Method::GET,
        &well_known(server, "oauth-protected-resource"),
        None,
    )
    .await
    {
        if let Some(first) = endpoint(
            metadata.get("authorization_servers").and_then(|a| a.get(0)),
            "authorization server",
            settings,
        )? {
            issuer = first;
        }
        scopes = strings(metadata.get("scopes_supported"));
    }
    let metadata = match small_json(
        settings,
        reqwest::Method::GET,
        &well_known(&issuer, "oauth-authorization-server"),
        None,
    )
    .await?
    {
        Some((_, metadata)) => metadata,
        None => small_json(
            settings,
            reqwest::Method::GET,
            &well_known(&issuer, "openid-configuration"),
            None,
        )
        .await?
        .map(|(_, m)| m)
        .ok_or_else(|| {
            discovery_error(
                "the MCP server's authorization server publishes no metadata (RFC 8414)",
            )
        })?,
    };
    if scopes.is_empty() {
        scopes = strings(metadata.get("scopes_supported"));
    }
    let required = |key: &str| -> Result<Url, Error> {
        endpoint(metadata.get(key), key, settings)?.ok_or_else(|| {
            discovery_error(format!(
                "the authorization server's metadata has no `{key}`"
            ))
        })
    };
    Ok(Discovered {
        authorization_endpoint: required("authorization_endpoint")?,
        token_endpoint: required("token_endpoint")?,
        registration_endpoint: endpoint(
            metadata.get("registration_endpoint"),
            "registration_endpoint",
            settings,
        )
        .ok()
        .flatten(),
        scopes,
        resource,
    })
}

fn strings(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// The MCP server's URL of a connection config: the `mcp_server_url` param.
fn server_url(spec: &SpecRef, config: &dyn Values) -> Result<Url, Error> {
    let index = spec
        .config
        .iter()
        .position(|p| &*p.key == "mcp_server_url")
        .ok_or_else(|| discovery_error(format!("{} has no `mcp_server_url` param", spec.key)))?;
    let text = config
        .value(Section::ConnectionConfig, index)
        .ok_or_else(|| discovery_error("`mcp_server_url` is required"))?;
    let url = Url::parse(text).map_err(|_| discovery_error("`mcp_server_url` is not a URL"))?;
    if url.host_str().is_none() || !url.username().is_empty() || url.password().is_some() {
        return Err(discovery_error(
            "`mcp_server_url` needs a host and no user info",
        ));
    }
    Ok(url)
}

impl OAuthClient {
    /// Registers a public client (RFC 7591) at the registration endpoint that the MCP server
    /// of `config` (its `mcp_server_url`) advertises, for `redirect_uri` (MCP_OAUTH2_GENERIC).
    pub async fn register_discovered(
        spec: impl Into<SpecRef>,
        config: &dyn Values,
        redirect_uri: &str,
        client_name: &str,
        settings: &Settings,
    ) -> Result<OAuthClient, Error> {
        let spec = spec.into();
        authorization_spec(&spec)?;
        let resource = server_url(&spec, config)?;
        let server = match &settings.origin {
            Some(origin) => url_check::with_origin(&resource, &url_check::parse_origin(origin)?),
            None => resource.clone(),
        };
        url_check::require_secure(&server, settings.origin.is_some(), "the MCP server URL")?;
        let found = discover(&server, &resource, settings).await?;
        let url = found.registration_endpoint.ok_or_else(|| {
            discovery_error(
                "the authorization server registers no clients (no `registration_endpoint`)",
            )
        })?;
        OAuthClient::register_at(&url, redirect_uri, client_name, settings).await
    }
}

impl Connection {
    /// Starts an authorization whose endpoints are discovered (MCP_OAUTH2_GENERIC): the MCP
    /// server of `config` names its authorization server, whose metadata gives the
    /// authorization and token endpoints; the URL carries the server as `resource`, the
    /// server's supported scopes (unless the request names some), state and PKCE.
    pub async fn authorize_discovered(
        spec: impl Into<SpecRef>,
        config: &dyn Values,
        client: &OAuthClient,
        request: AuthorizationRequest,
    ) -> Result<PendingAuthorization, Error> {
        let spec = spec.into();
        authorization_spec(&spec)?;
        let settings = request.connection_settings();
        let resource = server_url(&spec, config)?;
        let server = match &settings.origin {
            Some(origin) => url_check::with_origin(&resource, &url_check::parse_origin(origin)?),
            None => resource.clone(),
        };
        url_check::require_secure(&server, settings.origin.is_some(), "the MCP server URL")?;
        let found = discover(&server, &resource, &settings).await?;
        let scopes = match request.scope_list() {
            Some(scopes) => scopes.to_vec(),
            None => found.scopes.clone(),
        };
        let request = request.scopes(scopes);
        PendingAuthorization::discovered(&spec, config, client, request, found)
    }
}
