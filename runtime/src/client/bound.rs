//! A provider description ([`crate::spec::ProviderSpec`]) bound to a connection's values:
//! the [`Binding`] of every provider, generated or loaded at run time.

use url::Url;

use super::spec::{Binding, ClientSpec};
use crate::render::{Headers, QueryParams, RenderContext, RenderError};
use crate::spec::{ClientSupport, CredentialRoles, ProviderSpec, SpecRef, Values};
use crate::validate::Section;

/// A description and the values that render its templates.
pub(crate) struct SpecBinding<V> {
    spec: SpecRef,
    client: ClientSpec,
    roles: CredentialRoles,
    values: V,
}

impl<V: Values + 'static> SpecBinding<V> {
    /// `Err(reason)` when the client cannot serve the provider.
    pub(crate) fn new(spec: SpecRef, values: V) -> Result<Self, crate::spec::Unsupported> {
        let client = match &spec.client {
            ClientSupport::Supported(client) => client.clone(),
            ClientSupport::Unsupported(reason) => return Err(reason.clone()),
        };
        let roles = spec.credential_roles();
        Ok(SpecBinding {
            spec,
            client,
            roles,
            values,
        })
    }

    /// [`SpecBinding::new`], with the reason as the client's error.
    pub(crate) fn connect(spec: SpecRef, values: V) -> Result<Self, super::Error> {
        SpecBinding::new(spec.clone(), values).map_err(|reason| super::Error::Unsupported {
            provider: spec.key.clone(),
            auth_mode: spec.auth_mode,
            reason,
        })
    }

    /// One of the description's lists of templates, rendered (names borrowed from a
    /// generated description, copied from a loaded one).
    fn named(
        &self,
        pick: fn(&ProviderSpec) -> &[crate::spec::NamedTemplate],
        cx: &RenderContext<'_>,
    ) -> Result<Headers, RenderError> {
        match &self.spec {
            SpecRef::Static(spec) => spec.render_named_static(pick(spec), &self.values, cx),
            SpecRef::Shared(spec) => spec.render_named(pick(spec), &self.values, cx),
        }
    }

    fn credential(&self, index: usize) -> &str {
        self.values
            .value(Section::Credentials, index)
            .unwrap_or_default()
    }
}

impl<V: Values + 'static> Binding for SpecBinding<V> {
    fn spec(&self) -> &ClientSpec {
        &self.client
    }

    fn base_url(&self) -> Result<Url, RenderError> {
        match &self.spec.base_url {
            Some(url) => self
                .spec
                .render_url(url, &self.values)
                .unwrap_or_else(|| Err(missing_url("proxy.base_url"))),
            None => Err(missing_url("proxy.base_url")),
        }
    }

    fn token_url(&self) -> Option<Result<Url, RenderError>> {
        // An OAUTH2 entry with a token URL per auth mode uses its `OAUTH2` one.
        let per_mode = match self.spec.auth_mode {
            crate::AuthMode::OAuth2 => self.spec.token_url_oauth2.as_ref(),
            _ => None,
        };
        let url = self.spec.token_url.as_ref().or(per_mode)?;
        self.spec.render_url(url, &self.values)
    }

    fn verification_base_url(&self) -> Option<Result<Url, RenderError>> {
        let url = self.spec.verification_base_url.as_ref()?;
        self.spec.render_url(url, &self.values)
    }

    fn headers(&self, cx: &RenderContext<'_>) -> Result<Headers, RenderError> {
        self.named(|s| &s.headers, cx)
    }

    fn query(&self, cx: &RenderContext<'_>) -> Result<QueryParams, RenderError> {
        self.named(|s| &s.query, cx)
    }

    fn verification_headers(&self, cx: &RenderContext<'_>) -> Result<Headers, RenderError> {
        self.named(|s| &s.verification_headers, cx)
    }

    fn token_params(&self, cx: &RenderContext<'_>) -> Result<QueryParams, RenderError> {
        self.named(|s| &s.token_params, cx)
    }

    fn refresh_params(&self, cx: &RenderContext<'_>) -> Option<Result<QueryParams, RenderError>> {
        self.spec.refresh_params.as_ref()?;
        Some(self.named(|s| s.refresh_params.as_deref().unwrap_or_default(), cx))
    }

    fn token_headers(&self, cx: &RenderContext<'_>) -> Result<Headers, RenderError> {
        self.named(|s| &s.token_headers, cx)
    }

    fn refresh_token_params(
        &self,
        cx: &RenderContext<'_>,
    ) -> Option<Result<QueryParams, RenderError>> {
        self.spec.refresh_token_params.as_ref()?;
        Some(self.named(
            |s| s.refresh_token_params.as_deref().unwrap_or_default(),
            cx,
        ))
    }

    fn templates(
        &self,
        templates: &[crate::spec::NamedTemplate],
        cx: &RenderContext<'_>,
    ) -> Result<Headers, RenderError> {
        self.spec.render_named(templates, &self.values, cx)
    }

    fn jwt(&self, cx: &RenderContext<'_>) -> Result<Headers, RenderError> {
        self.named(|s| &s.jwt, cx)
    }

    fn credential_values(&self) -> Vec<(String, &str)> {
        self.spec
            .credentials
            .iter()
            .enumerate()
            .filter_map(|(i, p)| {
                self.values
                    .value(Section::Credentials, i)
                    .map(|v| (p.key.to_string(), v))
            })
            .collect()
    }

    fn refresh_url(&self) -> Option<Result<Url, RenderError>> {
        let url = self.spec.refresh_url.as_ref()?;
        self.spec.render_url(url, &self.values)
    }

    fn client_credentials(&self) -> Option<(&str, &str)> {
        let (id, secret) = self.roles.client?;
        Some((self.credential(id), self.credential(secret)))
    }

    fn secrets(&self) -> Vec<&str> {
        [Section::ConnectionConfig, Section::Credentials]
            .into_iter()
            .flat_map(|section| {
                self.spec
                    .params(section)
                    .iter()
                    .enumerate()
                    .filter(|(_, p)| p.secret)
                    .filter_map(move |(i, _)| self.values.value(section, i))
            })
            .collect()
    }

    fn basic_credentials(&self) -> Option<(&str, Option<&str>)> {
        let (username, password) = self.roles.basic?;
        Some((
            self.credential(username),
            password.and_then(|p| self.values.value(Section::Credentials, p)),
        ))
    }
}

fn missing_url(what: &str) -> RenderError {
    RenderError::MissingValue {
        param: what.to_owned(),
    }
}

/// A connection to one generated provider, made from its typed config and credentials: what
/// a generated module's `Connection` is. It dereferences to the runtime's [`Connection`](super::Connection).
pub struct TypedConnection<P> {
    inner: super::Connection,
    provider: std::marker::PhantomData<fn() -> P>,
}

impl<P: crate::spec::TypedProvider> TypedConnection<P> {
    /// Connects with the default settings: renders and checks the URLs. No request is sent
    /// until one is made (a token is requested with the first).
    pub fn new(config: P::Config, credentials: P::Credentials) -> Result<Self, super::Error> {
        Self::with_settings(config, credentials, super::Settings::default())
    }

    /// Connects with `settings` (timeouts, retries, the test-only origin override).
    pub fn with_settings(
        config: P::Config,
        credentials: P::Credentials,
        settings: super::Settings,
    ) -> Result<Self, super::Error> {
        let values = crate::spec::TypedValues::<P> {
            config,
            credentials,
        };
        super::Connection::for_spec(P::spec(), values, settings).map(|inner| TypedConnection {
            inner,
            provider: std::marker::PhantomData,
        })
    }

    /// The runtime's untyped connection.
    pub fn into_inner(self) -> super::Connection {
        self.inner
    }
}

/// A typed wrapper of the runtime's connection: it dereferences to it, clones with it and
/// prints as it does.
macro_rules! connection_wrapper {
    ($name:ident) => {
        impl<P> std::ops::Deref for $name<P> {
            type Target = super::Connection;
            fn deref(&self) -> &super::Connection {
                &self.inner
            }
        }

        impl<P> Clone for $name<P> {
            fn clone(&self) -> Self {
                $name {
                    inner: self.inner.clone(),
                    provider: std::marker::PhantomData,
                }
            }
        }

        impl<P> std::fmt::Debug for $name<P> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.inner.fmt(f)
            }
        }
    };
}

connection_wrapper!(TypedConnection);

/// A connection to one generated provider that authorizes through the authorization code flow
/// (OAUTH2, MCP_OAUTH2): what such a module's `Connection` is. It is made from a callback or
/// from saved tokens, never from a config alone, and dereferences to the runtime's
/// [`Connection`](super::Connection).
pub struct AuthorizedConnection<P> {
    inner: super::Connection,
    provider: std::marker::PhantomData<fn() -> P>,
}

/// A typed config as the values of a connection without credentials.
struct ConfigValues<P: crate::spec::TypedProvider>(P::Config);

impl<P: crate::spec::TypedProvider> crate::spec::Values for ConfigValues<P> {
    fn value(&self, section: Section, index: usize) -> Option<&str> {
        match section {
            Section::ConnectionConfig => crate::spec::SectionValues::value(&self.0, index),
            Section::Credentials => None,
        }
    }
}

impl<P: crate::spec::TypedProvider> AuthorizedConnection<P> {
    /// Starts an authorization for `config` (see [`super::oauth::authorize`]): the URL to send
    /// the user to, and the pending flow the callback needs.
    pub fn authorize(
        config: &P::Config,
        client: &super::OAuthClient,
        request: super::AuthorizationRequest,
    ) -> Result<super::PendingAuthorization, super::Error> {
        let values = crate::spec::Sections {
            config,
            credentials: None,
        };
        super::oauth::authorize(P::spec(), &values, client, request)
    }

    /// Starts an OAuth 1.0a authorization for `config` (see
    /// [`super::Connection::authorize_oauth1`]): temporary credentials first, then the URL.
    pub async fn authorize_oauth1(
        config: &P::Config,
        client: &super::OAuthClient,
        request: super::AuthorizationRequest,
    ) -> Result<super::PendingAuthorization, super::Error> {
        let values = crate::spec::Sections {
            config,
            credentials: None,
        };
        super::Connection::authorize_oauth1(P::spec(), &values, client, request).await
    }

    /// Starts an authorization at endpoints discovered from the MCP server of `config` (see
    /// [`super::Connection::authorize_discovered`]).
    pub async fn authorize_discovered(
        config: &P::Config,
        client: &super::OAuthClient,
        request: super::AuthorizationRequest,
    ) -> Result<super::PendingAuthorization, super::Error> {
        let values = crate::spec::Sections {
            config,
            credentials: None,
        };
        super::Connection::authorize_discovered(P::spec(), &values, client, request).await
    }

    /// Finishes an authorization (see [`super::Connection::from_callback`]).
    pub async fn from_callback(
        pending: super::PendingAuthorization,
        callback_url: &str,
        settings: super::Settings,
    ) -> Result<Self, super::Error> {
        super::Connection::from_callback(P::spec(), pending, callback_url, settings)
            .await
            .map(Self::wrap)
    }

    /// A connection from tokens saved earlier ([`AuthorizedConnection::tokens`]).
    pub fn from_tokens(
        config: P::Config,
        client: super::OAuthClient,
        tokens: crate::token::TokenSet,
        settings: super::Settings,
    ) -> Result<Self, super::Error> {
        super::Connection::authorized(
            P::spec(),
            ConfigValues::<P>(config),
            client,
            tokens,
            settings,
        )
        .map(Self::wrap)
    }

    /// The current tokens: what to save for [`AuthorizedConnection::from_tokens`].
    pub fn tokens(&self) -> crate::token::TokenSet {
        // An authorized connection always holds tokens.
        self.inner
            .tokens()
            .unwrap_or_else(|| crate::token::TokenSet::new(""))
    }

    /// The runtime's untyped connection.
    pub fn into_inner(self) -> super::Connection {
        self.inner
    }

    fn wrap(inner: super::Connection) -> Self {
        AuthorizedConnection {
            inner,
            provider: std::marker::PhantomData,
        }
    }
}

connection_wrapper!(AuthorizedConnection);
