//! The integrations a command works with: the built-in one of terapi-providers (Personio's
//! syncs and actions, its models typed), or an integrations file loaded at run time with
//! terapi-codegen (`--integrations FILE`, checked against the catalog in use).

use std::path::{Path, PathBuf};

use terapi_runtime::integration::{ActionSpec, Integrations, ReadError};
use terapi_sync::SyncSpec;

use crate::catalog::Catalog;
use crate::fail::Failure;

/// The syncs, actions and models a command works with.
pub struct Workflows {
    integrations: Integrations,
    /// The file loaded, if not the built-in one.
    path: Option<PathBuf>,
}

impl Workflows {
    /// The built-in integrations.
    pub fn built_in() -> Result<Workflows, Failure> {
        let integrations = terapi_providers::integrations::integrations()
            .map_err(|e| Failure::usage(e.to_string()))?
            .clone();
        Ok(Workflows {
            integrations,
            path: None,
        })
    }

    /// The integrations file `path`, checked against `catalog`.
    pub fn load(path: &Path, catalog: &Catalog) -> Result<Workflows, Failure> {
        let keys: Vec<&str> = catalog.specs().keys().collect();
        match terapi_codegen::load_integrations_file(path, Some(&keys), &Default::default()) {
            Ok(loaded) => {
                for w in &loaded.warnings {
                    eprintln!("{}", crate::escape::shown(&w.headline(path)));
                }
                Ok(Workflows {
                    integrations: loaded.integrations,
                    path: Some(path.to_owned()),
                })
            }
            Err(terapi_codegen::Error::Catalog {
                path,
                source_text,
                diagnostics,
            }) => Err(Failure::report(terapi_codegen::render_report_colored(
                &path,
                &source_text,
                &diagnostics,
                crate::catalog::color(),
            ))),
            Err(e) => Err(Failure::usage(format!("integrations: {e}"))),
        }
    }

    /// What they declare.
    pub fn integrations(&self) -> &Integrations {
        &self.integrations
    }

    fn source(&self) -> String {
        match &self.path {
            Some(p) => p.display().to_string(),
            None => "the built-in integrations".to_owned(),
        }
    }

    /// The sync `model` of `provider` (the provider of connection `id`); an unknown one
    /// fails with the syncs the provider has.
    pub fn sync(&self, id: &str, provider: &str, model: &str) -> Result<SyncSpec, Failure> {
        if let Some(spec) = self.integrations.sync(provider, model) {
            return Ok(spec.clone());
        }
        let known: Vec<&str> = self
            .integrations
            .integration(provider)
            .map(|i| i.syncs.iter().map(|s| s.model.as_ref()).collect())
            .unwrap_or_default();
        let model = model.escape_default();
        if known.is_empty() {
            let providers: Vec<&str> = self
                .integrations
                .integrations
                .iter()
                .filter(|i| !i.syncs.is_empty())
                .map(|i| i.provider.as_str())
                .collect();
            return Err(Failure::failed(format!(
                "connection `{id}` is of provider `{provider}`, which has no syncs in {} (it has syncs for {})",
                self.source(),
                providers.join(", ")
            )));
        }
        Err(Failure::failed(format!(
            "provider `{provider}` (connection `{id}`) has no sync `{model}` in {}: its syncs are {}",
            self.source(),
            known.join(", ")
        )))
    }

    /// The action `name` of `provider`; an unknown one fails with the actions it has.
    pub fn action(&self, id: &str, provider: &str, name: &str) -> Result<&ActionSpec, Failure> {
        if let Some(action) = self.integrations.action(provider, name) {
            return Ok(action);
        }
        let known: Vec<&str> = self
            .integrations
            .integration(provider)
            .map(|i| i.actions.iter().map(|a| a.name.as_str()).collect())
            .unwrap_or_default();
        let name = name.escape_default();
        if known.is_empty() {
            return Err(Failure::failed(format!(
                "connection `{id}` is of provider `{provider}`, which has no actions in {}",
                self.source()
            )));
        }
        let hint = terapi_runtime::closest(&name.to_string(), known.iter().copied())
            .map(|c| format!(" (did you mean `{c}`?)"))
            .unwrap_or_default();
        Err(Failure::failed(format!(
            "provider `{provider}` (connection `{id}`) has no action `{name}`{hint} in {}: its actions are {}",
            self.source(),
            known.join(", ")
        )))
    }

    /// A record's typed view: read as the generated type of `model` and written back.
    /// `Err`: the model has no generated type here (an integrations file loaded at run time:
    /// its models are only known as descriptions).
    pub fn typed_view(
        &self,
        model: &str,
        value: serde_json::Value,
    ) -> Result<Result<serde_json::Value, ReadError>, Failure> {
        if self.path.is_some() {
            return Err(Failure::usage(format!(
                "--typed reads records as the generated types of the built-in integrations; the models of {} have none (run without --integrations)",
                self.source()
            )));
        }
        terapi_providers::integrations::models::typed_json(model, value).ok_or_else(|| {
            Failure::usage(format!(
                "the model `{}` has no generated type",
                model.escape_default()
            ))
        })
    }
}
