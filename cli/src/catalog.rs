//! The catalog: the built-in one of terapi-providers, or a providers.yaml loaded at run time
//! with terapi-codegen (its diagnostics printed as the codegen CLI prints them).

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};

use terapi_codegen::{Diagnostic, Options};
use terapi_runtime::spec::SpecRef;
use terapi_store::{Catalog as _, Specs};

use crate::fail::Failure;

/// The providers a command works with.
pub struct Catalog {
    specs: Specs,
    /// The file loaded, if not the built-in catalog.
    path: Option<PathBuf>,
    warnings: Vec<Diagnostic>,
}

impl Catalog {
    /// The built-in catalog.
    pub fn built_in() -> Catalog {
        Catalog {
            specs: Specs::from_iter(terapi_providers::Provider::ALL.iter().map(|p| p.spec())),
            path: None,
            warnings: Vec::new(),
        }
    }

    /// The catalog in `path`, checked as generation checks it. A provider with errors is
    /// left out (as `generate --invalid-providers skip` does), its errors kept as warnings:
    /// one broken entry of a real catalog does not make the others unusable.
    pub fn load(path: &Path) -> Result<Catalog, Failure> {
        let options = Options {
            invalid_providers: terapi_codegen::InvalidProviders::Skip,
            ..Options::default()
        };
        match terapi_codegen::load_file(path, &options) {
            Ok(loaded) => Ok(Catalog {
                specs: Specs::from_iter(loaded.providers),
                path: Some(path.to_owned()),
                warnings: loaded.warnings,
            }),
            Err(terapi_codegen::Error::Catalog {
                path,
                source_text,
                diagnostics,
            }) => Err(Failure::report(terapi_codegen::render_report_colored(
                &path,
                &source_text,
                &diagnostics,
                color(),
            ))),
            Err(e) => Err(Failure::usage(format!("catalog: {e}"))),
        }
    }

    /// The descriptions, for a store.
    pub fn specs(&self) -> &Specs {
        &self.specs
    }

    /// The provider `key`, or an error naming the closest key.
    pub fn get(&self, key: &str) -> Result<SpecRef, Failure> {
        self.specs.spec(key).ok_or_else(|| {
            let keys: Vec<&str> = self.specs.keys().collect();
            Failure::failed(terapi_runtime::UnknownProvider::new(key, &keys).to_string())
        })
    }

    /// The provider `key`, if the catalog has it.
    pub fn find(&self, key: &str) -> Option<SpecRef> {
        self.specs.spec(key)
    }

    /// Each warning's headline, on stderr (as the codegen CLI prints them).
    pub fn print_warnings(&self) {
        if let Some(path) = &self.path {
            for w in &self.warnings {
                eprintln!("{}", crate::escape::shown(&w.headline(path)));
            }
        }
    }
}

/// Diagnostics are colored only on a terminal, and not with `NO_COLOR`.
pub fn color() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}
