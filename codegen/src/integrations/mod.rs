//! The integrations file (`integrations.yaml`): syncs, actions and models declared per
//! provider of the catalog, read with located diagnostics and the same rule registry, loaded
//! at run time ([`load_integrations`]) or generated into typed Rust
//! ([`generate_integrations`], [`crate::Builder::integrations`]).
//!
//! Its shape follows the platform's integration file (`nango.yaml`): `integrations:
//! <provider>: {syncs, actions}` and `models`. See `codegen/README.md` ("The integrations
//! file") for every key and where it departs.

mod emit;
mod read;

use std::path::{Path, PathBuf};

use terapi_model::integration::Integrations;

pub use read::parse_duration;

use crate::diagnostic::Diagnostics;
use crate::lower::Cx;
use crate::rules::{Era, LintLevels};
use crate::{Error, Generated, yaml};

/// Where the types of `$ref` models come from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OpenApiSettings {
    /// The directory of the OpenAPI documents, relative to the integrations file.
    pub documents: Option<String>,
    /// The Rust file generated from them (committed), relative to the integrations file.
    pub output: Option<String>,
}

/// An integrations file, read and checked.
#[derive(Debug, Clone)]
pub struct LoadedIntegrations {
    /// What it declares.
    pub integrations: Integrations,
    /// Its `openapi` settings.
    pub openapi: OpenApiSettings,
    /// Warnings (errors fail the load instead).
    pub warnings: Vec<crate::Diagnostic>,
}

/// One model typed from an OpenAPI schema: the name, the document file and the pointer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaRef {
    /// The model's name (the Rust type's).
    pub name: String,
    /// The document's file name.
    pub document: String,
    /// The JSON pointer (`/components/schemas/Employee`).
    pub pointer: String,
}

impl LoadedIntegrations {
    /// The models typed from OpenAPI schemas.
    pub fn schema_refs(&self) -> Vec<SchemaRef> {
        self.integrations
            .models
            .iter()
            .filter_map(|m| {
                let r = m.openapi.as_ref()?;
                let (doc, ptr) = r.split_once('#')?;
                Some(SchemaRef {
                    name: m.name.clone(),
                    document: doc.to_owned(),
                    pointer: ptr.to_owned(),
                })
            })
            .collect()
    }
}

/// Every finding in an integrations file's text. `providers`: the catalog's keys, to check
/// that each integration names one (`None`: not checked).
pub fn lint_integrations(
    source: &str,
    providers: Option<&[&str]>,
    levels: &LintLevels,
) -> (Integrations, OpenApiSettings, Diagnostics) {
    let mut cx = Cx::new(levels.resolve(Era::Current));
    let mut diagnostics = Diagnostics::default();
    let root = match yaml::parse(source) {
        Ok(root) => root,
        Err(d) => {
            diagnostics.push(d);
            return (
                Integrations::default(),
                OpenApiSettings::default(),
                diagnostics,
            );
        }
    };
    let openapi = openapi_settings(&root, &mut cx);
    let root = without_key(&root, "openapi");
    let read = read::read(&root, providers, &mut cx);
    diagnostics.extend(cx.diagnostics);
    diagnostics.normalize();
    (read.integrations, openapi, diagnostics)
}

fn without_key(root: &yaml::Node, key: &str) -> yaml::Node {
    match &root.kind {
        yaml::NodeKind::Map(entries) => yaml::Node {
            kind: yaml::NodeKind::Map(
                entries
                    .iter()
                    .filter(|(k, _)| k.as_str() != Some(key))
                    .cloned()
                    .collect(),
            ),
            loc: root.loc,
        },
        _ => root.clone(),
    }
}

fn openapi_settings(root: &yaml::Node, cx: &mut Cx) -> OpenApiSettings {
    use crate::diagnostic::Diagnostic;
    use crate::rules::Rule;
    let mut out = OpenApiSettings::default();
    let Some(node) = root.get("openapi") else {
        return out;
    };
    let Some(map) = node.as_map() else {
        cx.push(Diagnostic::new(
            Rule::WrongType,
            node.loc,
            format!("`openapi` must be a mapping, not {}", node.describe()),
        ));
        return out;
    };
    for (k, v) in map {
        let slot = match k.as_str() {
            Some("documents") => &mut out.documents,
            Some("output") => &mut out.output,
            other => {
                cx.push(
                    Diagnostic::new(
                        Rule::UnknownKey,
                        k.loc,
                        format!(
                            "unknown key `{}` in `openapi`",
                            other.unwrap_or("?").escape_default()
                        ),
                    )
                    .with_suggestion(terapi_model::closest(
                        other.unwrap_or(""),
                        ["documents", "output"].into_iter(),
                    )),
                );
                continue;
            }
        };
        match v.as_str() {
            Some(s) if !s.is_empty() && !s.contains(['\n', '\r', '"', '\\']) => {
                *slot = Some(s.to_owned())
            }
            _ => cx.push(Diagnostic::new(
                Rule::WrongType,
                v.loc,
                "a path relative to the integrations file, with `/` between parts",
            )),
        }
    }
    out
}

/// Reads and checks an integrations file: its description, or every located error.
pub fn load_integrations(
    path: &Path,
    source: &str,
    providers: Option<&[&str]>,
    levels: &LintLevels,
) -> Result<LoadedIntegrations, Error> {
    let (integrations, openapi, diagnostics) = lint_integrations(source, providers, levels);
    if diagnostics.has_errors() {
        return Err(Error::Catalog {
            path: path.to_path_buf(),
            source_text: source.to_owned(),
            diagnostics,
        });
    }
    let warnings = diagnostics.iter().cloned().collect();
    Ok(LoadedIntegrations {
        integrations,
        openapi,
        warnings,
    })
}

/// Reads an integrations file from disk and checks it ([`load_integrations`]).
pub fn load_integrations_file(
    path: &Path,
    providers: Option<&[&str]>,
    levels: &LintLevels,
) -> Result<LoadedIntegrations, Error> {
    let source = crate::read_catalog_file(path)?;
    load_integrations(path, &source, providers, levels)
}

/// Generates the Rust of an integrations file: formatted (for a committed copy) or not (for
/// `OUT_DIR`).
pub fn generate_integrations(
    path: &Path,
    source: &str,
    providers: Option<&[&str]>,
    levels: &LintLevels,
    formatted: bool,
) -> Result<Generated, Error> {
    Ok(generate_integrations_with(path, source, providers, levels, formatted, None)?.code)
}

/// What [`generate_integrations_with`] made.
pub(crate) struct GeneratedIntegrations {
    /// The code and the warnings.
    pub code: Generated,
    /// The file of the OpenAPI types it includes (`openapi.output`, relative to the
    /// integrations file), if it has `$ref` models.
    pub openapi_output: Option<PathBuf>,
}

/// [`generate_integrations`], the OpenAPI types included from `openapi_include` (relative to
/// the crate's manifest directory) instead of the file's `openapi.output`.
pub(crate) fn generate_integrations_with(
    path: &Path,
    source: &str,
    providers: Option<&[&str]>,
    levels: &LintLevels,
    formatted: bool,
    openapi_include: Option<&str>,
) -> Result<GeneratedIntegrations, Error> {
    let loaded = load_integrations(path, source, providers, levels)?;
    let source_name = path.file_name().map_or_else(
        || "integrations.yaml".into(),
        |n| n.to_string_lossy().into_owned(),
    );
    let code = emit_loaded(&loaded, &source_name, formatted, openapi_include)?;
    let openapi_output = match (&loaded.openapi.output, loaded.schema_refs().is_empty()) {
        (Some(output), false) => Some(path.parent().unwrap_or(Path::new("")).join(output)),
        _ => None,
    };
    Ok(GeneratedIntegrations {
        code: Generated {
            code,
            warnings: loaded.warnings,
        },
        openapi_output,
    })
}

fn emit_loaded(
    loaded: &LoadedIntegrations,
    source_name: &str,
    formatted: bool,
    openapi_include: Option<&str>,
) -> Result<String, Error> {
    let json = serde_json::to_string(&loaded.integrations)
        .map_err(|e| Error::Internal(format!("the description does not serialize: {e}")))?;
    let options = emit::IntegrationsEmitOptions {
        source_name: source_name.to_owned(),
        openapi_module: "super::openapi".to_owned(),
    };
    let mut spliced = Vec::new();
    let items = emit::tokens(
        &loaded.integrations,
        &options,
        &json,
        formatted.then_some(&mut spliced),
    )
    .map_err(Error::InvalidOption)?;
    let openapi = match (&loaded.openapi.output, loaded.schema_refs().is_empty()) {
        (_, true) => proc_macro2::TokenStream::new(),
        (Some(output), false) => {
            let file = format!("/{}", openapi_include.unwrap_or(output));
            quote::quote! {
                /// The types generated from the OpenAPI documents (`terapi generate --openapi`).
                #[allow(clippy::all, missing_docs)]
                pub mod openapi {
                    ::core::include!(::core::concat!(::core::env!("CARGO_MANIFEST_DIR"), #file));
                }
            }
        }
        (None, false) => {
            return Err(Error::InvalidOption(
                "the file types models from OpenAPI schemas (`$ref`) but has no `openapi: {output: FILE}`".into(),
            ));
        }
    };
    let tokens = quote::quote! { #openapi #items };
    let header = format!(
        "// @generated by terapi-codegen from {}. DO NOT EDIT.\n\
         // Edit the integrations file instead, then run `cargo build` (build.rs) or `terapi generate`.\n\n",
        crate::doc::visible(&source_name.replace(['\n', '\r'], " "))
    );
    let body = if formatted {
        let file: syn::File = syn::parse2(tokens)
            .map_err(|e| Error::Internal(format!("the emitted code does not parse: {e}")))?;
        emit::splice(&prettyplease::unparse(&file), &spliced).map_err(Error::Internal)?
    } else {
        let mut t = tokens.to_string();
        t.push('\n');
        t
    };
    Ok(format!("{header}{body}"))
}

/// The integrations file's path next to a catalog's (for messages).
pub fn default_path(catalog: &Path) -> PathBuf {
    catalog.with_file_name("integrations.yaml")
}
