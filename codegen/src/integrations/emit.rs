//! [`Integrations`] → Rust: a type per model, a function per sync returning its
//! [`SyncSpec`](terapi_model::sync::SyncSpec), and a typed async function per action.
//!
//! Every description is embedded once, as the JSON of [`Integrations`]; the functions look
//! theirs up in it, so a fact of the file is stated once in the output too.

use std::collections::{BTreeMap, BTreeSet};

use proc_macro2::{Ident, Span, TokenStream};
use quote::quote;
use terapi_model::integration::{FieldSpec, FieldType, Integrations, ModelSpec};

use crate::doc;
use crate::names;

/// How the code is emitted.
#[derive(Debug, Clone)]
pub struct IntegrationsEmitOptions {
    /// The file's name, for the header comment.
    pub source_name: String,
    /// The Rust path of the module holding the types generated from OpenAPI documents
    /// (`$ref` models), relative to the `models` module: `super::openapi`.
    pub openapi_module: String,
}

fn ident(name: &str) -> Ident {
    Ident::new(name, Span::call_site())
}

fn docs(lines: impl IntoIterator<Item = String>) -> TokenStream {
    let lines = lines.into_iter().map(|l| {
        if l.is_empty() {
            l
        } else {
            format!(" {}", doc::visible(&l))
        }
    });
    quote! { #( #[doc = #lines] )* }
}

struct Cx<'a> {
    file: &'a Integrations,
    /// Models a provider's answer is read into (outputs, and what they name): they keep
    /// unknown fields.
    read: BTreeSet<String>,
    /// Extra types (enums, nested objects) by name, emitted after the models.
    extra: Vec<TokenStream>,
    /// Every type name in `models`, to refuse a collision.
    names: BTreeMap<String, String>,
    openapi: TokenStream,
}

/// Emits the integrations module's items (not formatted, no header).
///
/// With `spliced`, each provider's `actions` module (which sits inside a `__with_client!`
/// invocation, whose tokens prettyplease cannot lay out) is left out: the invocation holds a
/// marker identifier instead, and the module goes to `spliced` with it, for
/// [`splice`] to put back formatted.
pub fn tokens(
    file: &Integrations,
    options: &IntegrationsEmitOptions,
    json: &str,
    mut spliced: Option<&mut Vec<(String, TokenStream)>>,
) -> Result<TokenStream, String> {
    let openapi: TokenStream = syn::parse_str::<syn::Path>(&options.openapi_module)
        .map(|p| quote::ToTokens::to_token_stream(&p))
        .map_err(|e| format!("`{}` is not a Rust path: {e}", options.openapi_module))?;
    let mut cx = Cx {
        file,
        read: read_models(file),
        extra: Vec::new(),
        names: file
            .models
            .iter()
            .map(|m| (m.name.clone(), format!("the model `{}`", m.name)))
            .collect(),
        openapi,
    };
    let mut models = Vec::new();
    for m in &file.models {
        models.push(cx.model(m)?);
    }
    let extra = std::mem::take(&mut cx.extra);
    let model_names: Vec<&str> = file.models.iter().map(|m| m.name.as_str()).collect();
    let model_idents: Vec<Ident> = model_names.iter().map(|n| ident(n)).collect();
    let providers = file
        .integrations
        .iter()
        .map(|i| provider_module(file, i, spliced.as_deref_mut()))
        .collect::<Result<Vec<_>, String>>()?;
    let format = proc_macro2::Literal::u32_unsuffixed(terapi_model::FORMAT);
    let source = doc::code(&options.source_name);
    let top = docs([
        format!(
            "Everything {source} declares: per provider its syncs and actions, and the models."
        ),
        String::new(),
        "An error only if a generator of another version wrote this code.".to_owned(),
    ]);
    Ok(quote! {
        ::terapi_runtime::expect_format!(#format);

        static INTEGRATIONS: ::terapi_runtime::integration::EmbeddedIntegrations =
            ::terapi_runtime::integration::EmbeddedIntegrations::new(#json);

        #top
        pub fn integrations() -> ::core::result::Result<
            &'static ::terapi_runtime::integration::Integrations,
            ::terapi_runtime::integration::UnreadableIntegrations,
        > {
            INTEGRATIONS.get()
        }

        /// The models: what syncs store and actions take and return.
        pub mod models {
            #( #models )*
            #( #extra )*

            /// `value` read as the model `name` and written back as JSON: its typed view
            /// (`terapi records --typed`). `None`: no model of that name.
            pub fn typed_json(
                name: &::core::primitive::str,
                value: ::terapi_runtime::serde_json::Value,
            ) -> ::core::option::Option<::core::result::Result<
                ::terapi_runtime::serde_json::Value,
                ::terapi_runtime::integration::ReadError,
            >> {
                match name {
                    #( #model_names => ::core::option::Option::Some(
                        ::terapi_runtime::integration::typed_json::<#model_idents>(value)
                    ), )*
                    _ => ::core::option::Option::None,
                }
            }
        }

        #( #providers )*
    })
}

/// The models a provider's answers are read into: outputs, and every model they name.
fn read_models(file: &Integrations) -> BTreeSet<String> {
    let mut todo: Vec<String> = file
        .syncs()
        .filter_map(|s| s.output.as_deref().map(str::to_owned))
        .chain(file.actions().filter_map(|a| a.output.clone()))
        .collect();
    let mut seen = BTreeSet::new();
    while let Some(name) = todo.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        if let Some(m) = file.model(&name) {
            let mut names = Vec::new();
            for f in &m.fields {
                named_models(&f.ty, &mut names);
            }
            todo.extend(names);
        }
    }
    seen
}

fn named_models(ty: &FieldType, out: &mut Vec<String>) {
    match ty {
        FieldType::Model(n) => out.push(n.clone()),
        FieldType::Array(t) => named_models(t, out),
        FieldType::Object(fields) => fields.iter().for_each(|f| named_models(&f.ty, out)),
        _ => {}
    }
}

/// Whether `from` reaches `target` through fields that are not lists (then a field of type
/// `target` in `from` needs a `Box`).
fn reaches(file: &Integrations, from: &str, target: &str, seen: &mut BTreeSet<String>) -> bool {
    if from == target {
        return true;
    }
    if !seen.insert(from.to_owned()) {
        return false;
    }
    let Some(m) = file.model(from) else {
        return false;
    };
    fn direct(ty: &FieldType, out: &mut Vec<String>) {
        match ty {
            FieldType::Model(n) => out.push(n.clone()),
            FieldType::Object(fields) => fields.iter().for_each(|f| direct(&f.ty, out)),
            _ => {}
        }
    }
    let mut next = Vec::new();
    for f in &m.fields {
        direct(&f.ty, &mut next);
    }
    next.iter().any(|n| reaches(file, n, target, seen))
}

impl Cx<'_> {
    fn claim(&mut self, name: &str, what: String) -> Result<(), String> {
        match self.names.insert(name.to_owned(), what.clone()) {
            None => Ok(()),
            Some(other) => Err(format!(
                "{what} and {other} both need the Rust type name `{name}`; rename one of them"
            )),
        }
    }

    fn model(&mut self, m: &ModelSpec) -> Result<TokenStream, String> {
        let name = ident(&m.name);
        if let Some(r) = &m.openapi {
            let openapi = &self.openapi;
            let d = docs([format!(
                "Typed from the OpenAPI schema {} (`terapi generate --openapi`).",
                doc::code(r)
            )]);
            return Ok(quote! { #d pub type #name = #openapi::#name; });
        }
        let keeps = self.read.contains(&m.name);
        let d = docs([format!("The model {}.", doc::code(&m.name))]);
        let body = self.fields(&m.name, &m.name, &m.fields, keeps)?;
        let validate = quote! {
            impl #name {
                /// `value` checked against the model (every problem at once), then read.
                pub fn from_json(
                    value: &::terapi_runtime::serde_json::Value,
                ) -> ::core::result::Result<Self, ::terapi_runtime::integration::InputErrors> {
                    super::INTEGRATIONS.read_model(::core::stringify!(#name), value)
                }
            }
        };
        Ok(quote! { #d #body #validate })
    }

    /// A struct named `type_name` (in the model `model`) with `fields`.
    fn fields(
        &mut self,
        model: &str,
        type_name: &str,
        fields: &[FieldSpec],
        keeps: bool,
    ) -> Result<TokenStream, String> {
        let name = ident(type_name);
        let mut items = Vec::new();
        for f in fields {
            let rust = names::snake(&f.name);
            let field = ident(&rust);
            let mut ty = self.ty(model, type_name, &f.name, &f.ty, keeps)?;
            if let FieldType::Model(target) = &f.ty
                && reaches(self.file, target, type_name, &mut BTreeSet::new())
            {
                ty = quote! { ::std::boxed::Box<#ty> };
            }
            let wire = &f.name;
            let rename = (rust != *wire).then(|| quote! { rename = #wire, });
            let d = docs([format!(
                "{}{} ({}{}).",
                doc::code(wire),
                if f.optional { ", optional" } else { "" },
                doc::escape(&f.ty.describe()).join(" "),
                match (f.optional, f.nullable) {
                    (true, true) => {
                        " or null: `None` leaves it out, `Some(None)` sends null, which clears it"
                    }
                    (false, true) => " or null",
                    _ => "",
                }
            )]);
            let attrs = if f.optional && f.nullable {
                quote! {
                    #[serde(
                        #rename default,
                        skip_serializing_if = "::core::option::Option::is_none",
                        with = "::terapi_runtime::integration::double_option"
                    )]
                }
            } else if f.optional {
                quote! { #[serde(#rename default, skip_serializing_if = "::core::option::Option::is_none")] }
            } else if f.nullable {
                quote! { #[serde(#rename default)] }
            } else if rename.is_some() {
                quote! { #[serde(#rename)] }
            } else {
                TokenStream::new()
            };
            let ty = match (f.optional, f.nullable) {
                (true, true) => {
                    quote! { ::core::option::Option<::core::option::Option<#ty>> }
                }
                (true, false) | (false, true) => quote! { ::core::option::Option<#ty> },
                (false, false) => ty,
            };
            items.push(quote! { #d #attrs pub #field: #ty, });
        }
        let extra = keeps.then(|| {
            quote! {
                /// Fields the model does not declare, kept as the provider sent them.
                #[serde(flatten)]
                pub extra: ::terapi_runtime::integration::Extra,
            }
        });
        Ok(quote! {
            #[derive(
                ::core::fmt::Debug, ::core::clone::Clone, ::core::cmp::PartialEq,
                ::terapi_runtime::__private::serde::Serialize,
                ::terapi_runtime::__private::serde::Deserialize
            )]
            #[serde(crate = "::terapi_runtime::__private::serde")]
            pub struct #name {
                #( #items )*
                #extra
            }
        })
    }

    fn ty(
        &mut self,
        model: &str,
        owner: &str,
        field: &str,
        ty: &FieldType,
        keeps: bool,
    ) -> Result<TokenStream, String> {
        Ok(match ty {
            FieldType::String | FieldType::DateTime | FieldType::Date | FieldType::Time => {
                quote! { ::std::string::String }
            }
            FieldType::Number => quote! { ::core::primitive::f64 },
            FieldType::Integer => quote! { ::core::primitive::i64 },
            FieldType::Boolean => quote! { ::core::primitive::bool },
            FieldType::Any => quote! { ::terapi_runtime::serde_json::Value },
            FieldType::File => quote! { ::terapi_runtime::integration::FileUpload },
            FieldType::Model(name) => {
                let n = ident(name);
                quote! { #n }
            }
            FieldType::Array(item) => {
                let inner = self.ty(model, owner, field, item, keeps)?;
                quote! { ::std::vec::Vec<#inner> }
            }
            FieldType::Enum(values) => {
                let name = format!("{owner}{}", names::camel(field));
                self.claim(&name, format!("the enum of `{model}.{field}`"))?;
                let n = ident(&name);
                let variants = values.iter().map(|v| {
                    let var = ident(&names::camel(v));
                    let d = docs([doc::code(v)]);
                    quote! { #d #[serde(rename = #v)] #var, }
                });
                let d = docs([format!(
                    "The values of {}.",
                    doc::code(&format!("{model}.{field}"))
                )]);
                self.extra.push(quote! {
                    #d
                    #[derive(
                        ::core::fmt::Debug, ::core::clone::Clone, ::core::cmp::PartialEq, ::core::cmp::Eq,
                        ::core::hash::Hash,
                        ::terapi_runtime::__private::serde::Serialize,
                        ::terapi_runtime::__private::serde::Deserialize
                    )]
                    #[serde(crate = "::terapi_runtime::__private::serde")]
                    pub enum #n {
                        #( #variants )*
                        /// A value the file does not list, kept as the provider sent it.
                        #[serde(untagged)]
                        Other(::std::string::String),
                    }
                });
                quote! { #n }
            }
            FieldType::Object(fields) => {
                let name = format!("{owner}{}", names::camel(field));
                self.claim(&name, format!("the object `{model}.{field}`"))?;
                let d = docs([format!(
                    "The object {}.",
                    doc::code(&format!("{model}.{field}"))
                )]);
                let body = self.fields(model, &name, fields, keeps)?;
                self.extra.push(quote! { #d #body });
                let n = ident(&name);
                quote! { #n }
            }
        })
    }
}

fn provider_module(
    file: &Integrations,
    integration: &terapi_model::integration::Integration,
    spliced: Option<&mut Vec<(String, TokenStream)>>,
) -> Result<TokenStream, String> {
    let key = &integration.provider;
    let module = ident(&names::snake(key));
    let syncs = integration.syncs.iter().map(|s| {
        let f = ident(&names::snake(&s.model));
        let name = s.model.as_ref();
        let d = docs([format!(
            "The sync {} of {}: {} {}.",
            doc::code(name),
            doc::code(key),
            doc::code(&format!("GET {}", s.endpoint)),
            match &s.incremental {
                Some(i) => format!("incremental through {}", doc::code(&i.param)),
                None => "full".to_owned(),
            }
        )]);
        quote! {
            #d
            pub fn #f() -> ::terapi_runtime::sync::SyncSpec {
                super::super::INTEGRATIONS.sync(#key, #name)
            }
        }
    });
    let all: Vec<Ident> = integration
        .syncs
        .iter()
        .map(|s| ident(&names::snake(&s.model)))
        .collect();
    let mut actions = Vec::new();
    for a in &integration.actions {
        let f = ident(&names::snake(&a.name));
        let name = &a.name;
        let input = match &a.input {
            Some(m) => {
                let m = ident(m);
                quote! { &super::super::models::#m }
            }
            None => quote! { &() },
        };
        let output = match &a.output {
            Some(m) => {
                let m = ident(m);
                quote! { super::super::models::#m }
            }
            None => quote! { ::terapi_runtime::serde_json::Value },
        };
        let mut lines = vec![format!(
            "The action {} of {}: {}.",
            doc::code(name),
            doc::code(key),
            doc::code(&format!("{} {}", a.method, a.path))
        )];
        if let Some(d) = &a.description {
            lines.push(String::new());
            lines.extend(doc::escape(d));
        }
        lines.push(String::new());
        lines.push(
            if a.idempotent {
                "Idempotent: retried after a 5xx or a dropped connection, within the connection's retry policy."
            } else {
                "Not idempotent: retried only after a 429 (which the provider did not act on), never after a 5xx."
            }
            .to_owned(),
        );
        let d = docs(lines);
        let _ = file;
        actions.push(quote! {
            #d
            pub async fn #f(
                conn: &::terapi_runtime::client::Connection,
                input: #input,
            ) -> ::core::result::Result<#output, ::terapi_runtime::client::action::ActionError> {
                let (integrations, action) = super::super::INTEGRATIONS.action(#key, #name)?;
                ::terapi_runtime::client::action::run_typed(conn, integrations, action, input).await
            }
        });
    }
    let mdoc = docs([format!("The syncs and actions of {}.", doc::code(key))]);
    let actions = (!actions.is_empty()).then(|| {
        let module = quote! {
            /// The actions: typed calls through a connection (validated input, auth,
            /// retries for idempotent ones, the provider's request budget).
            pub mod actions {
                #( #actions )*
            }
        };
        let body = match spliced {
            Some(spliced) => {
                let marker = format!("__terapi_actions_of_{}", names::snake(key));
                spliced.push((marker.clone(), module));
                let marker = ident(&marker);
                quote! { #marker }
            }
            None => module,
        };
        quote! {
            ::terapi_runtime::__with_client! {
                #body
            }
        }
    });
    Ok(quote! {
        #mdoc
        pub mod #module {
            /// The syncs: what `terapi_sync::sync` runs.
            pub mod syncs {
                #( #syncs )*

                /// Every sync of this provider, in the file's order.
                pub fn all() -> ::std::vec::Vec<::terapi_runtime::sync::SyncSpec> {
                    ::std::vec![ #( #all() ),* ]
                }
            }
            #actions
        }
    })
}

/// Puts each module of `spliced` back into `code` (formatted by prettyplease), formatted on its
/// own, in place of the line that holds its marker, indented as that line.
pub fn splice(code: &str, spliced: &[(String, TokenStream)]) -> Result<String, String> {
    let mut out = code.to_owned();
    for (marker, module) in spliced {
        let file: syn::File = syn::parse2(module.clone())
            .map_err(|e| format!("the emitted actions do not parse: {e}"))?;
        let text = prettyplease::unparse(&file);
        let line = out
            .lines()
            .find(|l| l.trim() == marker)
            .ok_or_else(|| format!("the marker `{marker}` is not on a line of its own"))?
            .to_owned();
        let indent = &line[..line.len() - line.trim_start().len()];
        let indented: Vec<String> = text
            .lines()
            .map(|l| {
                if l.is_empty() {
                    String::new()
                } else {
                    format!("{indent}{l}")
                }
            })
            .collect();
        out = out.replacen(&line, indented.join("\n").trim_end(), 1);
    }
    Ok(out)
}
