//! A provider description ([`crate::spec::ProviderSpec`]) bound to a connection's values:
//! the [`Binding`] of every provider, generated or loaded at run time.

use url::Url;

use super::spec::{Binding, ClientSpec};
use crate::Section;
use crate::render::{Headers, QueryParams, RenderContext, RenderError};
use crate::spec::{ClientSupport, CredentialRoles, ProviderSpec, SpecRef, Values};

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

connection_wrapper!(TypedConnection);
