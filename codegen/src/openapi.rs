//! Rust types from schemas of OpenAPI documents, with typify (feature `openapi`).
//!
//! [`generate`] reads the documents that a list of [`OpenApiRef`]s names, takes each
//! referenced schema and everything it references (transitively, across documents when a
//! `$ref` names another file), adjusts the OpenAPI 3.0 schemas into JSON Schema that typify
//! reads, and returns one formatted Rust file: one `pub mod` per document (one typify
//! `TypeSpace` each, so names of different documents never collide) and one
//! `pub type <name> = <module>::<Type>;` per reference.
//!
//! The adjustments, in the order they apply:
//!
//! 1. Provider fixes, each for one schema of one document ([`PROVIDER_FIXES`]):
//!    - Personio v1 employee attributes (`Employee` and `ShortEmployee.attributes` of
//!      `personio-personnel-data-api-oa3.yaml`): every attribute is `{label, value, type,
//!      universal_id}`. An attribute whose `value` the schema leaves untyped becomes a
//!      reference to one shared struct `EmployeeAttribute` (`label: String`, `value: any JSON`,
//!      `type: TypeEnum`, `universal_id: String`; `label` and `value` required). An attribute
//!      whose `value` the schema types (office, department, cost centers, supervisor, ...) or
//!      that has more keys (`currency` of the salaries) keeps its own struct, with `label` and
//!      `universal_id` typed as strings, `type` as `TypeEnum`, and `value` optional and
//!      nullable (an employee without a supervisor or department has none).
//!    - `Attendance` gets `updated_at` (a string, optional): the documents' example carries
//!      it, the schema does not.
//!    - `AbsenceType.id` is no longer required: the absence-periods example nests it as
//!      `absence_type: {type, attributes: {id, ...}}`, so the required `id` is missing there
//!      (the example's keys are kept as extra fields).
//! 2. Every schema (schema positions only, not property names or example values):
//!    - `nullable: true` (OpenAPI 3.0) becomes JSON Schema's null alternative: `type: [T,
//!      "null"]` (and `null` added to an `enum`), or `anyOf: [schema, {type: null}]` when
//!      there is no single type, so the Rust field is an `Option`.
//!    - `$ref: "#/components/schemas/X"` becomes `#/definitions/X`; a `$ref` to another
//!      pointer of the same document, or to another document (`other.json#/pointer`), is
//!      resolved and its schema added to this document's module under a name of its own.
//!      Keys beside a `$ref` are dropped (OpenAPI 3.0 ignores them).
//!    - Keys typify does not read or would turn into constraints the provider does not
//!      keep are removed: `example`, `examples`, `xml`, `externalDocs`, `discriminator`,
//!      `x-*` extensions; `format` of strings (`date-time`, `date`, `uuid`, `email`, and
//!      nonstandard ones like `datetime`: Personio's date-times are not all RFC 3339, e.g.
//!      `+0100` offsets, so they stay `String`); `pattern`, `minLength`, `maxLength`,
//!      `minimum`, `maximum`, `exclusiveMinimum`, `exclusiveMaximum`, `multipleOf`,
//!      `minItems`, `maxItems`, `uniqueItems` (validation stays the API's business; a model
//!      that rejects what the provider sends would lose records).
//!    - A schema with `properties` and no `type` is an object.
//!    - Unknown fields are kept: every object schema with properties gets
//!      `additionalProperties: {}` (also where it said `false` or `true`), which typify turns
//!      into a `#[serde(flatten)] pub extra: serde_json::Map<String, serde_json::Value>`
//!      field, so a field the provider adds survives a round trip (typify ignores unknown
//!      fields when `additionalProperties` is absent or `true`).
//!
//! Other maps are `::std::collections::BTreeMap` (deterministic output order).

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

/// One model to generate: a schema of an OpenAPI document and the Rust name it gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenApiRef {
    /// The Rust type name the integrations file gives the model (`Employee`).
    pub name: String,
    /// A file name inside the documents directory (`personio-personnel-data-api-oa3.yaml`).
    pub document: String,
    /// A JSON pointer inside it (`/components/schemas/Employee`).
    pub pointer: String,
}

/// Why [`generate`] failed. Each message names the document and the pointer involved.
#[derive(Debug)]
pub enum OpenApiError {
    /// The documents directory does not exist.
    MissingDirectory {
        /// The directory.
        directory: PathBuf,
    },
    /// A document is not in the documents directory (or cannot be read).
    MissingDocument {
        /// The directory.
        directory: PathBuf,
        /// The document's file name.
        document: String,
        /// The pointer that needed it.
        pointer: String,
        /// Why it could not be read.
        reason: String,
    },
    /// A document is not valid YAML or JSON.
    Parse {
        /// The document's file name.
        document: String,
        /// The pointer that needed it.
        pointer: String,
        /// The parser's message.
        message: String,
    },
    /// A pointer resolves to nothing.
    PointerNotFound {
        /// The document's file name.
        document: String,
        /// The pointer.
        pointer: String,
    },
    /// A `$ref` cannot be resolved (another document missing or unreadable, or a form this
    /// module does not read).
    UnresolvedRef {
        /// The document holding the `$ref`.
        document: String,
        /// The pointer of the schema holding the `$ref`.
        pointer: String,
        /// The `$ref`'s text.
        reference: String,
        /// Why.
        reason: String,
    },
    /// typify rejected a schema.
    Typify {
        /// The document's file name.
        document: String,
        /// The pointer.
        pointer: String,
        /// typify's message.
        message: String,
    },
    /// A reference's name is not a Rust identifier, or two references share it.
    InvalidName {
        /// The name.
        name: String,
        /// The document's file name.
        document: String,
        /// The pointer.
        pointer: String,
        /// Why.
        reason: String,
    },
}

impl fmt::Display for OpenApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpenApiError::MissingDirectory { directory } => write!(
                f,
                "the OpenAPI documents directory {} does not exist: expected a directory holding \
                 the provider's OpenAPI documents (the files the references name)",
                directory.display()
            ),
            OpenApiError::MissingDocument {
                directory,
                document,
                pointer,
                reason,
            } => write!(
                f,
                "{document}: expected the OpenAPI document `{document}` in {} (needed for \
                 `{pointer}`): {reason}",
                directory.display()
            ),
            OpenApiError::Parse {
                document,
                pointer,
                message,
            } => write!(
                f,
                "{document}: not a valid YAML or JSON document (needed for `{pointer}`): {message}"
            ),
            OpenApiError::PointerNotFound { document, pointer } => {
                write!(f, "{document}: the pointer `{pointer}` resolves to nothing")
            }
            OpenApiError::UnresolvedRef {
                document,
                pointer,
                reference,
                reason,
            } => write!(
                f,
                "{document}: `$ref: \"{reference}\"` in `{pointer}` cannot be resolved: {reason}"
            ),
            OpenApiError::Typify {
                document,
                pointer,
                message,
            } => write!(
                f,
                "{document}: typify rejected the schema `{pointer}`: {message}"
            ),
            OpenApiError::InvalidName {
                name,
                document,
                pointer,
                reason,
            } => write!(f, "{document}#{pointer}: the model name `{name}` {reason}"),
        }
    }
}

impl std::error::Error for OpenApiError {}

/// Generates the Rust source of one file holding the types of `refs`, read from the OpenAPI
/// documents in `documents`. Deterministic to the byte; formatted; starts with `// @generated`
/// comment lines and has no inner attributes or inner doc comments (meant to be `include!`d
/// inside a module). The generated code uses `::serde` (derive) and `::serde_json`.
pub fn generate(documents: &Path, refs: &[OpenApiRef]) -> Result<String, OpenApiError> {
    if !documents.is_dir() {
        return Err(OpenApiError::MissingDirectory {
            directory: documents.to_owned(),
        });
    }
    let mut seen = std::collections::BTreeSet::new();
    for r in refs {
        let bad = |reason: &str| OpenApiError::InvalidName {
            name: r.name.clone(),
            document: r.document.clone(),
            pointer: r.pointer.clone(),
            reason: reason.to_owned(),
        };
        if syn::parse_str::<syn::Ident>(&r.name).is_err() {
            return Err(bad("is not a Rust identifier"));
        }
        if !seen.insert(r.name.as_str()) {
            return Err(bad("is given to two references"));
        }
    }
    let mut loader = Loader {
        directory: documents.to_owned(),
        docs: BTreeMap::new(),
    };
    // Documents in name order, each with its references in the given order.
    let mut by_document: BTreeMap<&str, Vec<&OpenApiRef>> = BTreeMap::new();
    for r in refs {
        by_document.entry(&r.document).or_default().push(r);
    }
    let mut modules = Vec::new();
    let mut aliases = Vec::new();
    for (document, refs) in &by_document {
        let module = module_name(document);
        let (code, names) = document_types(&mut loader, document, refs)?;
        let module_ident = syn::Ident::new(&module, proc_macro2::Span::call_site());
        modules.push(format!(
            "#[doc = \" Types of `{document}`.\"]\n#[allow(clippy::all, missing_docs, dead_code, unused_imports)]\npub mod {module_ident} {{ {code} }}"
        ));
        for (r, type_name) in refs.iter().zip(names) {
            aliases.push(format!(
                "#[doc = \" `{}#{}`\"]\npub type {} = {module}::{type_name};",
                r.document, r.pointer, r.name
            ));
        }
    }
    let source = format!("{}\n{}", modules.join("\n"), aliases.join("\n"));
    let file: syn::File = syn::parse_str(&source).map_err(|e| OpenApiError::Typify {
        document: by_document.keys().copied().collect::<Vec<_>>().join(", "),
        pointer: String::new(),
        message: format!("the generated code does not parse ({e}); please report it"),
    })?;
    let mut out = String::from(
        "// @generated by terapi-codegen's `openapi` module from OpenAPI documents (typify).\n\
         // Do not edit: regenerate it (codegen/tests/openapi.rs, `TERAPI_OPENAPI_DIR`).\n",
    );
    let docs: Vec<&str> = loader.docs.keys().map(String::as_str).collect();
    out.push_str(&format!("// Documents: {}.\n", docs.join(", ")));
    out.push_str(&prettyplease::unparse(&file));
    Ok(out)
}

/// The module name of a document: its file stem in snake_case.
fn module_name(document: &str) -> String {
    use heck::ToSnakeCase;
    let stem = document
        .rsplit_once('.')
        .map_or(document, |(stem, _)| stem)
        .to_snake_case();
    if stem.starts_with(|c: char| c.is_ascii_digit())
        || syn::parse_str::<syn::Ident>(&stem).is_err()
    {
        format!("doc_{stem}")
    } else {
        stem
    }
}

struct Loader {
    directory: PathBuf,
    /// Parsed and fixed documents by file name.
    docs: BTreeMap<String, Value>,
}

impl Loader {
    fn load(&mut self, document: &str, pointer: &str) -> Result<&Value, OpenApiError> {
        if !self.docs.contains_key(document) {
            let path = self.directory.join(document);
            let missing = |reason: String| OpenApiError::MissingDocument {
                directory: self.directory.clone(),
                document: document.to_owned(),
                pointer: pointer.to_owned(),
                reason,
            };
            if document.contains(['/', '\\']) || document.is_empty() {
                return Err(missing(
                    "a file name inside the directory is expected".into(),
                ));
            }
            let text = std::fs::read_to_string(&path).map_err(|e| missing(e.to_string()))?;
            let parse_error = |message: String| OpenApiError::Parse {
                document: document.to_owned(),
                pointer: pointer.to_owned(),
                message,
            };
            let mut value: Value = if document.ends_with(".json") {
                serde_json::from_str(&text).map_err(|e| parse_error(e.to_string()))?
            } else {
                serde_saphyr::from_str(&text).map_err(|e| parse_error(e.to_string()))?
            };
            if !value.is_object() {
                return Err(parse_error("the document is not a mapping".into()));
            }
            apply_provider_fixes(document, &mut value);
            self.docs.insert(document.to_owned(), value);
        }
        Ok(&self.docs[document])
    }
}

/// One schema to define in a document's module: where it comes from and its definition name.
struct Pending {
    document: String,
    pointer: String,
    name: String,
}

/// The definitions of one document's module, collected from its references.
struct Collector<'a> {
    /// The module's document.
    home: &'a str,
    /// (document, pointer) -> definition name, in order of discovery.
    names: BTreeMap<(String, String), String>,
    taken: std::collections::BTreeSet<String>,
    queue: Vec<Pending>,
}

impl Collector<'_> {
    /// The definition name of `pointer` in `document`, queued for definition if new.
    fn name_of(&mut self, document: &str, pointer: &str) -> String {
        let key = (document.to_owned(), pointer.to_owned());
        if let Some(name) = self.names.get(&key) {
            return name.clone();
        }
        let mut base = pointer_name(pointer);
        if document != self.home {
            use heck::ToUpperCamelCase;
            let stem = module_name(document).to_upper_camel_case();
            base = format!("{stem}{base}");
        }
        let mut name = base.clone();
        let mut n = 2;
        while !self.taken.insert(name.clone()) {
            name = format!("{base}{n}");
            n += 1;
        }
        self.names.insert(key, name.clone());
        self.queue.push(Pending {
            document: document.to_owned(),
            pointer: pointer.to_owned(),
            name: name.clone(),
        });
        name
    }
}

/// A definition name for a pointer: `X` for `/components/schemas/X`; for a pointer inside a
/// schema, the schema's name and the path's named steps (`properties`, `allOf`/`anyOf`/
/// `oneOf` and indexes skipped, `items` as `Item`), e.g.
/// `AttendancePeriodsResponseDataItem` for
/// `/components/schemas/AttendancePeriodsResponse/allOf/1/properties/data/items`.
fn pointer_name(pointer: &str) -> String {
    use heck::ToUpperCamelCase;
    let steps: Vec<String> = pointer
        .split('/')
        .skip(1)
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
        .collect();
    let rest: &[String] = match steps.as_slice() {
        [c, s, rest @ ..] if c == "components" && s == "schemas" => rest,
        [d, rest @ ..] if d == "definitions" => rest,
        _ => &steps,
    };
    let mut name = String::new();
    for (i, step) in rest.iter().enumerate() {
        let skip = [
            "properties",
            "allOf",
            "anyOf",
            "oneOf",
            "additionalProperties",
        ];
        if i > 0 && (skip.contains(&step.as_str()) || step.parse::<usize>().is_ok()) {
            continue;
        }
        if i > 0 && step == "items" {
            name.push_str("Item");
        } else {
            name.push_str(&step.to_upper_camel_case());
        }
    }
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        name.insert_str(0, "Schema");
    }
    name
}

/// typify's output for one document: the module's code and the Rust name of each reference.
fn document_types(
    loader: &mut Loader,
    document: &str,
    refs: &[&OpenApiRef],
) -> Result<(String, Vec<String>), OpenApiError> {
    let mut collector = Collector {
        home: document,
        names: BTreeMap::new(),
        taken: Default::default(),
        queue: Vec::new(),
    };
    let mut ref_names = Vec::new();
    for r in refs {
        loader.load(document, &r.pointer)?;
        ref_names.push(collector.name_of(document, &r.pointer));
    }
    let mut definitions: Vec<(String, String, schemars::schema::Schema)> = Vec::new();
    let mut next = 0;
    while next < collector.queue.len() {
        let Pending {
            document: doc,
            pointer,
            name,
        } = &collector.queue[next];
        let (doc, pointer, name) = (doc.clone(), pointer.clone(), name.clone());
        next += 1;
        let root = loader.load(&doc, &pointer)?;
        let mut schema =
            root.pointer(&pointer)
                .cloned()
                .ok_or_else(|| OpenApiError::PointerNotFound {
                    document: doc.clone(),
                    pointer: pointer.clone(),
                })?;
        let mut refs_found = Vec::new();
        adjust(&mut schema, &mut refs_found);
        // Resolve the `$ref`s found, in order, and rewrite them to definitions.
        let mut rewrites = BTreeMap::new();
        for reference in refs_found {
            if rewrites.contains_key(&reference) {
                continue;
            }
            let unresolved = |reason: String| OpenApiError::UnresolvedRef {
                document: doc.clone(),
                pointer: pointer.clone(),
                reference: reference.clone(),
                reason,
            };
            let (target_doc, target_pointer) = match reference.split_once('#') {
                Some(("", p)) => (doc.clone(), p.to_owned()),
                Some((file, p)) => (file.to_owned(), p.to_owned()),
                None => (reference.clone(), String::new()),
            };
            if !target_pointer.is_empty() && !target_pointer.starts_with('/') {
                return Err(unresolved(
                    "only JSON pointers (`#/...`) are supported, not anchors".into(),
                ));
            }
            if target_doc.contains("://") {
                return Err(unresolved(
                    "remote documents are not fetched; only files of the documents directory"
                        .into(),
                ));
            }
            let target = loader
                .load(&target_doc, &target_pointer)
                .map_err(|e| unresolved(format!("another document that cannot be read: {e}")))?;
            if target.pointer(&target_pointer).is_none() {
                return Err(unresolved(format!(
                    "`{target_pointer}` resolves to nothing in `{target_doc}`"
                )));
            }
            let def = collector.name_of(&target_doc, &target_pointer);
            rewrites.insert(reference, format!("#/definitions/{def}"));
        }
        rewrite_refs(&mut schema, &rewrites);
        let schema: schemars::schema::Schema =
            serde_json::from_value(schema).map_err(|e| OpenApiError::Typify {
                document: doc.clone(),
                pointer: pointer.clone(),
                message: format!("not a JSON schema: {e}"),
            })?;
        definitions.push((name, format!("{doc}#{pointer}"), schema));
    }
    let schemas: Vec<(String, schemars::schema::Schema)> = definitions
        .iter()
        .map(|(name, _, schema)| (name.clone(), schema.clone()))
        .collect();
    match run_typify(&schemas, &ref_names) {
        Ok(done) => Ok(done),
        Err(message) => {
            // Name the schema at fault: the first whose replacement by `{}` lets typify
            // through (the definitions go to typify together, as they refer to each other).
            let culprit = (0..schemas.len()).find(|&i| {
                let mut without = schemas.clone();
                without[i].1 = schemars::schema::Schema::Bool(true);
                run_typify(&without, &ref_names).is_ok()
            });
            let (document, pointer) = match culprit {
                Some(i) => {
                    let (doc, pointer) = definitions[i].1.split_once('#').unwrap_or_default();
                    (doc.to_owned(), pointer.to_owned())
                }
                None => (
                    document.to_owned(),
                    refs.iter()
                        .map(|r| r.pointer.as_str())
                        .collect::<Vec<_>>()
                        .join("`, `"),
                ),
            };
            Err(OpenApiError::Typify {
                document,
                pointer,
                message,
            })
        }
    }
}

/// typify on a document's definitions: the module's code and the Rust name of each
/// reference's definition. A panic of typify (it has some, e.g. on a `default` that does not
/// fit its type) is an error too.
fn run_typify(
    definitions: &[(String, schemars::schema::Schema)],
    ref_names: &[String],
) -> Result<(String, Vec<String>), String> {
    let run = || -> Result<(String, Vec<String>), String> {
        let mut settings = typify_impl::TypeSpaceSettings::default();
        settings.with_map_type("::std::collections::BTreeMap");
        settings.with_derive("PartialEq".to_owned());
        let mut space = typify_impl::TypeSpace::new(&settings);
        space
            .add_ref_types(definitions.iter().cloned())
            .map_err(|e| e.to_string())?;
        let mut type_names = Vec::new();
        for def in ref_names {
            let id = space
                .add_type(&schemars::schema::Schema::new_ref(format!(
                    "#/definitions/{def}"
                )))
                .map_err(|e| e.to_string())?;
            type_names.push(space.get_type(&id).map_err(|e| e.to_string())?.name());
        }
        Ok((space.to_stream().to_string(), type_names))
    };
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(run)) {
        Ok(result) => result,
        Err(panic) => {
            let text = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("(no message)");
            // Its first lines (the rest is typify's internal state).
            let text = text.lines().take(2).collect::<Vec<_>>().join(" ");
            Err(format!("typify panicked: {text}"))
        }
    }
}

/// The shared struct of Personio v1's employee attributes whose value the schema leaves
/// untyped.
fn employee_attribute_schema() -> Value {
    serde_json::json!({
        "description": "A Personio v1 employee attribute: its label, value, type and universal id.",
        "type": "object",
        "required": ["label", "value"],
        "properties": {
            "label": {"type": "string"},
            "value": {"description": "The value, as Personio sends it (any JSON, null when unset)."},
            "type": {"$ref": "#/components/schemas/TypeEnum"},
            "universal_id": {"type": ["string", "null"]}
        },
        "additionalProperties": {}
    })
}

/// Document-specific fixes: (document, what).
pub const PROVIDER_FIXES: &[(&str, &str)] = &[
    (
        "personio-personnel-data-api-oa3.yaml",
        "Employee and ShortEmployee.attributes: attributes typed as {label, value, type, universal_id}",
    ),
    (
        "personio-personnel-data-api-oa3.yaml",
        "Attendance: optional `updated_at` (in the example, missing from the schema)",
    ),
    (
        "personio-personnel-data-api-oa3.yaml",
        "AbsenceType: `id` not required (the absence-periods example nests it)",
    ),
];

fn apply_provider_fixes(document: &str, doc: &mut Value) {
    if document != "personio-personnel-data-api-oa3.yaml" {
        return;
    }
    if let Some(Value::Object(schemas)) = doc.pointer_mut("/components/schemas") {
        schemas
            .entry("EmployeeAttribute")
            .or_insert_with(employee_attribute_schema);
    }
    for pointer in [
        "/components/schemas/Employee/properties",
        "/components/schemas/ShortEmployee/properties/attributes/properties",
    ] {
        if let Some(Value::Object(props)) = doc.pointer_mut(pointer) {
            for (_, attribute) in props.iter_mut() {
                type_employee_attribute(attribute);
            }
        }
    }
    // `Supervisor` and the other attribute schemas referenced from `Employee`.
    for name in [
        "Supervisor",
        "Office",
        "Department",
        "CostCenters",
        "HolidayCalendar",
        "WorkSchedule",
        "Team",
        "AbsenceEntitlement",
    ] {
        if let Some(schema) = doc.pointer_mut(&format!("/components/schemas/{name}")) {
            type_employee_attribute(schema);
        }
    }
    if let Some(Value::Object(props)) = doc.pointer_mut("/components/schemas/Attendance/properties")
    {
        props
            .entry("updated_at")
            .or_insert_with(|| serde_json::json!({"type": "string", "description": "When the period was last updated (in the documents' example, not in their schema)."}));
    }
    if let Some(Value::Object(schema)) = doc.pointer_mut("/components/schemas/AbsenceType") {
        schema.remove("required");
    }
}

/// One employee attribute: `{label, value, type, universal_id}`. An inline attribute whose
/// value is untyped becomes a reference to the shared `EmployeeAttribute`; the others get
/// typed `label`, `type`, `universal_id` and an optional, nullable `value`.
fn type_employee_attribute(attribute: &mut Value) {
    let Some(obj) = attribute.as_object_mut() else {
        return;
    };
    if obj.contains_key("$ref") {
        return;
    }
    let Some(Value::Object(props)) = obj.get_mut("properties") else {
        return;
    };
    if !props.contains_key("label") || !props.contains_key("value") {
        return;
    }
    let untyped_value = props["value"].as_object().is_some_and(|v| {
        v.keys()
            .all(|k| matches!(k.as_str(), "example" | "description"))
    });
    let only_attribute_keys = props
        .keys()
        .all(|k| matches!(k.as_str(), "label" | "value" | "type" | "universal_id"));
    if untyped_value && only_attribute_keys {
        *attribute = serde_json::json!({"$ref": "#/components/schemas/EmployeeAttribute"});
        return;
    }
    props.insert("label".into(), serde_json::json!({"type": "string"}));
    props.insert(
        "universal_id".into(),
        serde_json::json!({"type": "string", "nullable": true}),
    );
    props.insert(
        "type".into(),
        serde_json::json!({"$ref": "#/components/schemas/TypeEnum"}),
    );
    if let Some(Value::Object(value)) = props.get_mut("value") {
        value.insert("nullable".into(), Value::Bool(true));
    }
    if let Some(Value::Array(required)) = obj.get_mut("required") {
        required.retain(|r| r != "value");
    }
}

/// Adjusts one schema and the schemas inside it (see the module's documentation); collects
/// the `$ref`s it holds.
fn adjust(schema: &mut Value, refs: &mut Vec<String>) {
    let Value::Object(obj) = schema else {
        return;
    };
    if let Some(Value::String(reference)) = obj.get("$ref") {
        let reference = reference.clone();
        refs.push(reference.clone());
        let nullable = obj.get("nullable") == Some(&Value::Bool(true));
        obj.clear();
        if nullable {
            obj.insert(
                "anyOf".into(),
                serde_json::json!([{"$ref": reference}, {"type": "null"}]),
            );
        } else {
            obj.insert("$ref".into(), Value::String(reference));
        }
        return;
    }
    for key in [
        "example",
        "examples",
        "xml",
        "externalDocs",
        "discriminator",
    ] {
        obj.remove(key);
    }
    obj.retain(|k, _| !k.starts_with("x-"));
    let is_number = matches!(
        obj.get("type").and_then(Value::as_str),
        Some("integer" | "number")
    );
    if !is_number {
        obj.remove("format");
    }
    for key in [
        "pattern",
        "minLength",
        "maxLength",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "multipleOf",
        "minItems",
        "maxItems",
        "uniqueItems",
    ] {
        obj.remove(key);
    }
    if obj.contains_key("properties") && !obj.contains_key("type") {
        obj.insert("type".into(), Value::String("object".into()));
    }
    let is_object = obj.get("type").and_then(Value::as_str) == Some("object");
    if is_object && obj.contains_key("properties") {
        let keep = matches!(obj.get("additionalProperties"), Some(Value::Object(_)));
        if !keep {
            obj.insert("additionalProperties".into(), Value::Object(Map::new()));
        }
    }
    if obj.remove("nullable") == Some(Value::Bool(true)) {
        make_nullable(obj);
    }
    // Subschemas.
    for key in ["properties", "patternProperties", "definitions"] {
        if let Some(Value::Object(map)) = obj.get_mut(key) {
            for (_, sub) in map.iter_mut() {
                adjust(sub, refs);
            }
        }
    }
    for key in ["additionalProperties", "items", "not", "propertyNames"] {
        match obj.get_mut(key) {
            Some(Value::Array(list)) => list.iter_mut().for_each(|s| adjust(s, refs)),
            Some(sub) => adjust(sub, refs),
            None => {}
        }
    }
    for key in ["allOf", "anyOf", "oneOf"] {
        if let Some(Value::Array(list)) = obj.get_mut(key) {
            list.iter_mut().for_each(|s| adjust(s, refs));
        }
    }
}

/// `nullable: true` as JSON Schema: `null` among the types (and the enum's values), or an
/// `anyOf` with `{type: null}` when there is no single type.
fn make_nullable(obj: &mut Map<String, Value>) {
    match obj.get_mut("type") {
        Some(Value::String(t)) => {
            let t = Value::String(std::mem::take(t));
            obj.insert(
                "type".into(),
                Value::Array(vec![t, Value::String("null".into())]),
            );
            if let Some(Value::Array(values)) = obj.get_mut("enum")
                && !values.contains(&Value::Null)
            {
                values.push(Value::Null);
            }
        }
        Some(Value::Array(types)) => {
            if !types.contains(&Value::String("null".into())) {
                types.push(Value::String("null".into()));
            }
        }
        _ => {
            let metadata: Vec<(String, Value)> = ["description", "title", "default"]
                .iter()
                .filter_map(|k| obj.remove(*k).map(|v| ((*k).to_owned(), v)))
                .collect();
            if obj.is_empty() {
                // Any value already admits null.
                obj.extend(metadata);
                return;
            }
            let inner = Value::Object(std::mem::take(obj));
            obj.insert(
                "anyOf".into(),
                Value::Array(vec![inner, serde_json::json!({"type": "null"})]),
            );
            obj.extend(metadata);
        }
    }
}

fn rewrite_refs(schema: &mut Value, rewrites: &BTreeMap<String, String>) {
    match schema {
        Value::Object(obj) => {
            if let Some(Value::String(r)) = obj.get_mut("$ref")
                && let Some(new) = rewrites.get(r.as_str())
            {
                *r = new.clone();
            }
            obj.values_mut().for_each(|v| rewrite_refs(v, rewrites));
        }
        Value::Array(list) => list.iter_mut().for_each(|v| rewrite_refs(v, rewrites)),
        _ => {}
    }
}

/// The models of an integrations file typed from OpenAPI schemas, as [`OpenApiRef`]s.
pub fn refs_of(loaded: &crate::LoadedIntegrations) -> Vec<OpenApiRef> {
    loaded
        .schema_refs()
        .into_iter()
        .map(|r| OpenApiRef {
            name: r.name,
            document: r.document,
            pointer: r.pointer,
        })
        .collect()
}

/// Where an integrations file's OpenAPI types are generated from and to: its
/// `openapi.documents` (unless `documents` overrides it) and `openapi.output`, both relative
/// to the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenApiPaths {
    /// The documents' directory.
    pub documents: std::path::PathBuf,
    /// The generated file.
    pub output: std::path::PathBuf,
}

/// The paths of `loaded` (read from `file`); `None` when it names no `openapi.output` or
/// (without an override) no `openapi.documents`.
pub fn paths_of(
    file: &Path,
    loaded: &crate::LoadedIntegrations,
    documents: Option<&Path>,
) -> Option<OpenApiPaths> {
    let base = file.parent().unwrap_or_else(|| Path::new(""));
    let output = base.join(loaded.openapi.output.as_ref()?);
    let documents = match documents {
        Some(d) => d.to_path_buf(),
        None => base.join(loaded.openapi.documents.as_ref()?),
    };
    Some(OpenApiPaths { documents, output })
}
