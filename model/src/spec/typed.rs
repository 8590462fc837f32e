//! What generated code implements to use the model: its typed `ConnectionConfig` and
//! `Credentials` give their values by index ([`SectionValues`]), and a marker type names the
//! provider's `static` description ([`TypedProvider`]).

use url::Url;

use super::{ProviderSpec, UrlSpec, Values};
use crate::render::RenderError;
use crate::validate::Section;

/// One section's values by the index of their param: implemented by generated
/// `ConnectionConfig` and `Credentials` (secrets exposed for rendering only).
pub trait SectionValues: Send + Sync {
    /// The value of param `index`; `None` when it is absent.
    fn value(&self, index: usize) -> Option<&str>;
}

/// A generated provider: its description and its typed inputs.
pub trait TypedProvider: 'static {
    /// The typed connection config.
    type Config: SectionValues + Clone + std::fmt::Debug + 'static;
    /// The typed credentials.
    type Credentials: SectionValues + Clone + std::fmt::Debug + 'static;
    /// The description generated code holds as a `static`.
    fn spec() -> &'static ProviderSpec;
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
            Section::ConnectionConfig => self.config.value(index),
            Section::Credentials => self.credentials.value(index),
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
