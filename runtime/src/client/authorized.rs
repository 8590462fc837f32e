//! The typed connection of a generated provider that a user authorizes in a browser
//! (OAUTH2, MCP_OAUTH2, MCP_OAUTH2_GENERIC, OAUTH1): made from an authorization's callback or
//! from saved tokens, never from a config alone.

use crate::Section;

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

    /// Starts an authorization of any of the modes for `config` (see
    /// [`super::Connection::start_authorization`]): OAuth 1.0a asks for temporary
    /// credentials first, a generic MCP server is discovered first.
    pub async fn start_authorization(
        config: &P::Config,
        client: &super::OAuthClient,
        request: super::AuthorizationRequest,
    ) -> Result<super::PendingAuthorization, super::Error> {
        let values = crate::spec::Sections {
            config,
            credentials: None,
        };
        super::Connection::start_authorization(P::spec(), &values, client, request).await
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
