//! Where a store finds the description of a connection's provider (a store keeps only the
//! provider's key): the generated crate's providers, a catalog loaded at run time, or both.

use std::collections::BTreeMap;

use terapi_runtime::spec::SpecRef;

/// Resolves a provider key to its description.
pub trait Catalog: Send + Sync + 'static {
    /// The description of `key`, if the catalog has it.
    fn spec(&self, key: &str) -> Option<SpecRef>;
}

impl<F> Catalog for F
where
    F: Fn(&str) -> Option<SpecRef> + Send + Sync + 'static,
{
    fn spec(&self, key: &str) -> Option<SpecRef> {
        self(key)
    }
}

/// Descriptions by key: `Specs::from_iter(terapi_providers::Provider::ALL.iter().map(|p|
/// p.spec().into()))`, or the `ProviderSpec`s `terapi_codegen::load` returns.
#[derive(Debug, Clone, Default)]
pub struct Specs(BTreeMap<String, SpecRef>);

impl Specs {
    /// No descriptions.
    pub fn new() -> Self {
        Specs::default()
    }

    /// Adds (or replaces) a description.
    pub fn insert(&mut self, spec: impl Into<SpecRef>) {
        let spec = spec.into();
        self.0.insert(spec.key.to_string(), spec);
    }

    /// The keys, sorted.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    /// The descriptions, by key.
    pub fn iter(&self) -> impl Iterator<Item = &SpecRef> {
        self.0.values()
    }
}

impl<S: Into<SpecRef>> FromIterator<S> for Specs {
    fn from_iter<I: IntoIterator<Item = S>>(iter: I) -> Self {
        let mut specs = Specs::new();
        for s in iter {
            specs.insert(s);
        }
        specs
    }
}

impl Catalog for Specs {
    fn spec(&self, key: &str) -> Option<SpecRef> {
        self.0.get(key).cloned()
    }
}
