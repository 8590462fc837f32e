//! What generated code implements to use the model: a marker type per provider names its
//! `static` description ([`TypedProvider`]), and its typed `ConnectionConfig` and
//! `Credentials` are built from checked fields and give their values back by index
//! ([`Params`]). Everything else is provided by the traits, once for every provider.

use url::Url;

use super::{ProviderSpec, UrlKind, UrlSpec, Values};
use crate::error::ValidationErrors;
use crate::render::{Headers, QueryParams, RenderContext, RenderError};
use crate::validate::{Fields, ParamSpec, Section};

/// One section's values by the index of their param: every [`Params`] type (secrets exposed
/// for rendering only).
pub trait SectionValues: Send + Sync {
    /// The value of param `index`; `None` when it is absent.
    fn value(&self, index: usize) -> Option<&str>;
}

impl<T: Params> SectionValues for T {
    fn value(&self, index: usize) -> Option<&str> {
        Params::value_of(self, index)
    }
}

/// A provider of generated code: its description, and its typed config and credentials.
///
/// Generated code implements the three required items for a marker type per provider; the
/// rest is provided here, once for every provider: rendering the catalog's headers, query
/// params and URLs from the typed values. With the `client` feature of `terapi-runtime`, the
/// provider's `Connection` is its client.
pub trait TypedProvider: 'static {
    /// The typed connection config.
    type Config: Params<Provider = Self>;
    /// The typed credentials.
    type Credentials: Params<Provider = Self>;
    /// The description generated code holds as a `static`.
    fn spec() -> &'static ProviderSpec;

    /// The catalog key.
    fn key() -> &'static str {
        &Self::spec().key
    }

    /// The headers to send with every proxied request (`proxy.headers`), with a fresh
    /// [`RenderContext`] (see [`TypedProvider::proxy_headers_with`]).
    fn proxy_headers(
        config: &Self::Config,
        credentials: &Self::Credentials,
    ) -> Result<Headers, RenderError> {
        Self::proxy_headers_with(config, credentials, &RenderContext::new())
    }

    /// The headers to send with every proxied request (`proxy.headers`), rendered with `cx`.
    /// Entries whose values are absent are left out; unsafe values are errors.
    fn proxy_headers_with(
        config: &Self::Config,
        credentials: &Self::Credentials,
        cx: &RenderContext<'_>,
    ) -> Result<Headers, RenderError> {
        render_named::<Self>(&Self::spec().headers, config, credentials, cx)
    }

    /// The query params to add to every proxied request (`proxy.query`), unencoded, rendered
    /// with `cx`.
    fn proxy_query_with(
        config: &Self::Config,
        credentials: &Self::Credentials,
        cx: &RenderContext<'_>,
    ) -> Result<QueryParams, RenderError> {
        render_named::<Self>(&Self::spec().query, config, credentials, cx)
    }

    /// The headers of the credential check (`proxy.verification.headers`), rendered with
    /// `cx`.
    fn verification_headers_with(
        config: &Self::Config,
        credentials: &Self::Credentials,
        cx: &RenderContext<'_>,
    ) -> Result<Headers, RenderError> {
        render_named::<Self>(&Self::spec().verification_headers, config, credentials, cx)
    }

    /// The params of the token request (`token_params`), unencoded, rendered with `cx`.
    fn token_params_with(
        config: &Self::Config,
        credentials: &Self::Credentials,
        cx: &RenderContext<'_>,
    ) -> Result<QueryParams, RenderError> {
        render_named::<Self>(&Self::spec().token_params, config, credentials, cx)
    }

    /// One of the provider's URLs rendered from the connection config, each value checked
    /// for where it lands, the host kept as the template fixes it. A URL the catalog does not
    /// have, or writes with credentials, is an error naming it.
    fn url(kind: UrlKind, config: &Self::Config) -> Result<Url, RenderError> {
        let spec = Self::spec();
        render_config_url(spec, spec.url(kind), config).map_err(|e| match e {
            RenderError::MissingValue { param } if param.is_empty() => RenderError::MissingValue {
                param: kind.catalog_key().to_owned(),
            },
            e => e,
        })
    }

    /// The API root (`proxy.base_url`), rendered from the connection config.
    fn base_url(config: &Self::Config) -> Result<Url, RenderError> {
        Self::url(UrlKind::BaseUrl, config)
    }
}

fn render_named<P: TypedProvider + ?Sized>(
    templates: &'static [super::NamedTemplate],
    config: &P::Config,
    credentials: &P::Credentials,
    cx: &RenderContext<'_>,
) -> Result<Headers, RenderError> {
    let values = Sections {
        config,
        credentials: Some(credentials),
    };
    P::spec().render_named_static(templates, &values, cx)
}

/// The typed connection config or credentials of a generated provider: a struct with a field
/// per param, whose checks and serde are provided here.
///
/// Generated code implements [`Params::from_fields`] and [`Params::value_of`]; reading JSON
/// ([`Params::from_json`]) checks every param of the section and reports every problem at
/// once. Deserializing with serde runs the same checks.
pub trait Params: Clone + std::fmt::Debug + Send + Sync + Sized + 'static {
    /// The provider these params belong to.
    type Provider: TypedProvider;
    /// Which section of the catalog entry they are (`connection_config` or `credentials`).
    const SECTION: Section;

    /// The value built from checked fields (by the index of their param).
    fn from_fields(fields: &Fields<'_>) -> Self;

    /// The value of param `index`; `None` when it is absent. Secrets are exposed, for
    /// rendering only.
    fn value_of(&self, index: usize) -> Option<&str>;

    /// The declared params of this section.
    fn params() -> &'static [ParamSpec] {
        let spec = <Self::Provider as TypedProvider>::spec();
        match Self::SECTION {
            Section::ConnectionConfig => &spec.config,
            Section::Credentials => &spec.credentials,
        }
    }

    /// Reads and validates a JSON object: every problem (missing, empty, not a string,
    /// pattern, unknown param) is reported at once.
    fn from_json(value: &serde_json::Value) -> Result<Self, ValidationErrors> {
        let fields = Fields::read(Self::SECTION, Self::params(), value)?;
        Ok(Self::from_fields(&fields))
    }

    /// Runs the checks of [`Params::from_json`] without building the value: every problem
    /// at once, and no heap allocation when the input is valid.
    fn validate_json(value: &serde_json::Value) -> Result<(), ValidationErrors> {
        Fields::validate(Self::SECTION, Self::params(), value)
    }
}

/// The values of a typed connection: a config, and the credentials where known (URLs are
/// rendered from the config alone).
#[derive(Clone, Copy)]
pub struct Sections<'a> {
    /// The connection config.
    pub config: &'a dyn SectionValues,
    /// The credentials.
    pub credentials: Option<&'a dyn SectionValues>,
}

impl Values for Sections<'_> {
    fn value(&self, section: Section, index: usize) -> Option<&str> {
        match section {
            Section::ConnectionConfig => self.config.value(index),
            Section::Credentials => self.credentials?.value(index),
        }
    }
}

/// The owned typed values of a connection.
#[derive(Debug, Clone)]
pub struct TypedValues<P: TypedProvider> {
    /// The connection config.
    pub config: P::Config,
    /// The credentials.
    pub credentials: P::Credentials,
}

impl<P: TypedProvider> Values for TypedValues<P> {
    fn value(&self, section: Section, index: usize) -> Option<&str> {
        match section {
            Section::ConnectionConfig => self.config.value_of(index),
            Section::Credentials => self.credentials.value_of(index),
        }
    }
}

/// Renders one of `spec`'s URLs from a typed config: what a generated `base_url(config)`
/// returns. A URL the description knows as text only is reported as its first param missing.
pub fn render_config_url(
    spec: &ProviderSpec,
    url: Option<&UrlSpec>,
    config: &dyn SectionValues,
) -> Result<Url, RenderError> {
    let values = Sections {
        config,
        credentials: None,
    };
    match url.and_then(|u| spec.render_url(u, &values)) {
        Some(rendered) => rendered,
        None => Err(RenderError::MissingValue {
            param: url.map_or_else(String::new, |u| u.source.to_string()),
        }),
    }
}

/// What a generated `Deserialize` does: reads a JSON value and checks it with the type's
/// `from_json`, so deserializing runs every check (every problem at once, in the error's
/// message).
pub fn deserialize_checked<'de, D, T>(
    deserializer: D,
    from_json: fn(&serde_json::Value) -> Result<T, crate::ValidationErrors>,
) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let value = <serde_json::Value as serde::Deserialize>::deserialize(deserializer)?;
    from_json(&value).map_err(serde::de::Error::custom)
}

/// What a generated `Serialize` does (only for sections without a secret): the present
/// values as a map by param key, in the catalog's order.
pub fn serialize_section<S: serde::Serializer>(
    params: &[crate::ParamSpec],
    values: &dyn SectionValues,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut map = serializer.serialize_map(None)?;
    for (i, param) in params.iter().enumerate() {
        if let Some(value) = values.value(i) {
            map.serialize_entry(&*param.key, value)?;
        }
    }
    map.end()
}
