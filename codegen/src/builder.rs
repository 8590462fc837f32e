//! [`Builder`]: generation from a build script, in the style of `prost-build`.

use std::path::{Path, PathBuf};

use proc_macro2::TokenStream;

use crate::emit::ModuleFiles;
use crate::rules::{Level, Rule};
use crate::{Error, InvalidProviders, Options, generate_files_many, generate_many};

/// Generates Rust from a providers.yaml in a build script.
///
/// ```no_run
/// // build.rs
/// fn main() -> Result<(), Box<dyn std::error::Error>> {
///     terapi_codegen::Builder::new()
///         .input("providers.yaml")
///         .providers(["personio", "personio-recruiting"])
///         .generate()?;
///     Ok(())
/// }
/// ```
///
/// and in the crate: `terapi_runtime::include_providers!();`.
///
/// The output goes to `$OUT_DIR/providers.rs` (see [`Builder::file_name`]) and is written
/// only when its content changed. The Builder prints `cargo:rerun-if-changed` for its input,
/// so a build without changes does not run the build script again, and `cargo:warning` for
/// each warning. Errors in the catalog fail the build with every located diagnostic.
#[derive(Debug, Clone)]
pub struct Builder {
    inputs: Vec<PathBuf>,
    module_per_file: bool,
    out_dir: Option<PathBuf>,
    file_name: String,
    options: Options,
    cargo_directives: bool,
    /// A setting that cannot be applied, reported by `generate`.
    invalid: Option<String>,
    /// The integrations file, if any.
    integrations: Option<PathBuf>,
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            inputs: vec![PathBuf::from("providers.yaml")],
            module_per_file: false,
            out_dir: None,
            file_name: "providers.rs".to_owned(),
            options: Options {
                formatted: false,
                ..Options::default()
            },
            cargo_directives: true,
            invalid: None,
            integrations: None,
        }
    }
}

impl Builder {
    /// A Builder for `providers.yaml` next to the crate's Cargo.toml.
    pub fn new() -> Self {
        Builder::default()
    }

    /// The catalog; a relative path is relative to the crate's manifest directory.
    pub fn input(mut self, path: impl AsRef<Path>) -> Self {
        self.inputs = vec![path.as_ref().to_owned()];
        self
    }

    /// Several catalogs generated as one (a provider key may stand in one of them only),
    /// e.g. the platform's catalog and a file of custom providers.
    pub fn inputs<I, P>(mut self, paths: I) -> Self
    where
        I: IntoIterator<Item = P>,
        P: AsRef<Path>,
    {
        self.inputs = paths.into_iter().map(|p| p.as_ref().to_owned()).collect();
        self
    }

    /// Writes each provider module to its own file (`$OUT_DIR/<file stem>/<module>.rs`),
    /// included from the main file, instead of one file for everything.
    pub fn module_per_file(mut self, on: bool) -> Self {
        self.module_per_file = on;
        self
    }

    /// Adds a derive to every generated `ConnectionConfig`, as a path
    /// (`::core::hash::Hash`, `::schemars::JsonSchema`). `Credentials` hold secrets and get
    /// no extra derives.
    pub fn derive(mut self, path: impl Into<String>) -> Self {
        self.options.derives.push(path.into());
        self
    }

    /// Generates only these providers (by catalog key). By default, all of them.
    pub fn providers<I, S>(mut self, keys: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.options.providers = Some(keys.into_iter().map(Into::into).collect());
        self
    }

    /// Leaves out these providers (by catalog key), e.g. entries with known faults.
    pub fn exclude<I, S>(mut self, keys: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.options.exclude = keys.into_iter().map(Into::into).collect();
        self
    }

    /// Also generates the integrations file at `path` (syncs, actions and models per provider
    /// of the catalog) into `integrations.rs` next to the providers' output; include it with
    /// `terapi_runtime::include_integrations!()`. Its providers are checked against the
    /// catalog.
    pub fn integrations(mut self, path: impl AsRef<Path>) -> Self {
        self.integrations = Some(path.as_ref().to_path_buf());
        self
    }

    /// The output directory (default: `$OUT_DIR`).
    pub fn out_dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.out_dir = Some(dir.as_ref().to_owned());
        self
    }

    /// The output file name inside the output directory (default: `providers.rs`).
    pub fn file_name(mut self, name: impl Into<String>) -> Self {
        self.file_name = name.into();
        self
    }

    /// The path of the runtime crate in generated code (default: `::terapi_runtime`), for
    /// crates that re-export it.
    pub fn runtime_path(mut self, path: impl Into<String>) -> Self {
        self.options.runtime_path = path.into();
        self
    }

    /// The level of one rule, like `-A/-W/-D RULE` on the command line: e.g.
    /// `.lint_level(Rule::UnusedParam, Level::Deny)`. A fixed rule (one the generator cannot
    /// go past) cannot be lowered: `generate` then fails with the reason.
    pub fn lint_level(mut self, rule: Rule, level: Level) -> Self {
        if let Err(e) = self.options.lint_levels.set(rule, level) {
            self.invalid.get_or_insert(e);
        }
        self
    }

    /// The level of every rule whose level is `warn` (`-D warnings`).
    pub fn warnings_level(mut self, level: Level) -> Self {
        self.options.lint_levels.set_warnings(level);
        self
    }

    /// What to do with providers that have errors: fail the build (the default), or leave
    /// them out with one warning each ([`InvalidProviders::Skip`]), so that an upstream
    /// catalog always generates.
    pub fn invalid_providers(mut self, what: InvalidProviders) -> Self {
        self.options.invalid_providers = what;
        self
    }

    /// Whether to emit doc comments from the catalog (default: true).
    pub fn docs(mut self, on: bool) -> Self {
        self.options.docs = on;
        self
    }

    /// Whether to lay the output out for reading with prettyplease (default: false: `OUT_DIR`
    /// is read by the compiler only, and formatting is most of the generation time). Turn it
    /// on when the output is also committed for review and compared with the CLI's.
    pub fn formatted(mut self, on: bool) -> Self {
        self.options.formatted = on;
        self
    }

    /// Whether to print `cargo:` directives (default: true; turn off outside build scripts).
    pub fn cargo_directives(mut self, on: bool) -> Self {
        self.cargo_directives = on;
        self
    }

    fn input_paths(&self) -> Vec<PathBuf> {
        let manifest = std::env::var_os("CARGO_MANIFEST_DIR");
        self.inputs
            .iter()
            .map(|input| match &manifest {
                Some(dir) if input.is_relative() => Path::new(dir).join(input),
                _ => input.clone(),
            })
            .collect()
    }

    /// Reads the inputs, printing `cargo:rerun-if-changed` for each (before reading, so a
    /// missing file that appears later still triggers a rebuild).
    fn read_inputs(&self) -> Result<Vec<(PathBuf, String)>, Error> {
        if let Some(e) = &self.invalid {
            return Err(Error::InvalidOption(e.clone()));
        }
        let paths = self.input_paths();
        if paths.is_empty() {
            return Err(Error::InvalidOption(
                "no input catalog: call input() or inputs()".into(),
            ));
        }
        paths
            .into_iter()
            .map(|path| {
                if self.cargo_directives {
                    println!("cargo:rerun-if-changed={}", path.display());
                }
                let text = crate::read_catalog_file(&path)?;
                Ok((path, text))
            })
            .collect()
    }

    fn warn(&self, warnings: &[crate::Diagnostic], inputs: &[(PathBuf, String)]) {
        if self.cargo_directives {
            for w in warnings {
                let path = w.file.as_deref().unwrap_or_else(|| inputs[0].0.as_path());
                println!("cargo:warning={}", w.headline(path));
            }
        }
    }

    /// Generates the code as a string, without writing it (one file, whatever
    /// [`Builder::module_per_file`] says).
    pub fn generate_to_string(&self) -> Result<String, Error> {
        let inputs = self.read_inputs()?;
        let refs: Vec<(&Path, &str)> = inputs
            .iter()
            .map(|(p, t)| (p.as_path(), t.as_str()))
            .collect();
        let generated = generate_many(&refs, &self.options)?;
        self.warn(&generated.warnings, &inputs);
        Ok(generated.code)
    }

    /// Generates and writes the output (only files whose content changed); returns the main
    /// file's path.
    pub fn generate(&self) -> Result<PathBuf, Error> {
        let dir = match &self.out_dir {
            Some(dir) => dir.clone(),
            None => std::env::var_os("OUT_DIR")
                .map(PathBuf::from)
                .ok_or_else(|| {
                    Error::InvalidOption(
                        "OUT_DIR is not set: call generate() from a build script, or set out_dir()"
                            .into(),
                    )
                })?,
        };
        let path = dir.join(&self.file_name);
        self.generate_integrations(&dir)?;
        if !self.module_per_file {
            let code = self.generate_to_string()?;
            write_if_changed(&path, &code)?;
            return Ok(path);
        }
        let inputs = self.read_inputs()?;
        let refs: Vec<(&Path, &str)> = inputs
            .iter()
            .map(|(p, t)| (p.as_path(), t.as_str()))
            .collect();
        let stem = Path::new(&self.file_name)
            .file_stem()
            .map_or_else(|| "providers".into(), |s| s.to_string_lossy().into_owned());
        let layout = ModuleFiles::OutDir(stem);
        let generated = generate_files_many(
            &refs,
            &self.options,
            &self.file_name,
            &layout,
            TokenStream::new(),
        )?;
        self.warn(&generated.warnings, &inputs);
        for (name, text) in &generated.files {
            write_if_changed(&dir.join(name), text)?;
        }
        Ok(path)
    }
}

impl Builder {
    fn generate_integrations(&self, dir: &Path) -> Result<(), Error> {
        let Some(input) = &self.integrations else {
            return Ok(());
        };
        let path = match std::env::var_os("CARGO_MANIFEST_DIR") {
            Some(d) if input.is_relative() => Path::new(&d).join(input),
            _ => input.clone(),
        };
        if self.cargo_directives {
            println!("cargo:rerun-if-changed={}", path.display());
        }
        let inputs = self.read_inputs()?;
        let mut keys: Vec<String> = Vec::new();
        for (p, text) in &inputs {
            let loaded = crate::load(p, text, &self.options)?;
            keys.extend(loaded.providers.iter().map(|s| s.key.to_string()));
        }
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        let text = crate::read_catalog_file(&path)?;
        let generated = crate::integrations::generate_integrations(
            &path,
            &text,
            Some(&keys),
            &self.options.lint_levels,
            self.options.formatted,
        )?;
        if self.cargo_directives {
            for w in &generated.warnings {
                println!("cargo:warning={}", w.headline(&path));
            }
        }
        write_if_changed(&dir.join("integrations.rs"), &generated.code)?;
        Ok(())
    }
}

/// Writes `content` to `path` unless the file already holds exactly that (so its mtime, and
/// anything that depends on it, stays unchanged). Returns whether it wrote.
pub fn write_if_changed(path: &Path, content: &str) -> Result<bool, Error> {
    if std::fs::read(path).is_ok_and(|old| old == content.as_bytes()) {
        return Ok(false);
    }
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|source| Error::Io {
            path: parent.to_owned(),
            source,
        })?;
    }
    std::fs::write(path, content).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })?;
    Ok(true)
}
