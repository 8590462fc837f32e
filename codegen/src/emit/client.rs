//! The client items of a provider module (`CLIENT_SPEC`, `Binding`, `Connection`) and the
//! crate-level `Connection` that picks a provider by key at run time.

use proc_macro2::TokenStream;
use quote::quote;

use super::{Emitter, ident};
use crate::client::ClientPlan;
use crate::doc;
use crate::plan::{PartPlan, Plan, ProviderPlan};

impl Emitter<'_> {
    /// The client items of one provider module, or nothing when the client is off or cannot
    /// serve the provider.
    pub(super) fn client_items(&self, p: &ProviderPlan<'_>) -> TokenStream {
        if !self.options.client {
            return TokenStream::new();
        }
        let rt = &self.rt;
        let c = match &p.client {
            Ok(c) => c,
            Err(reason) => {
                let doc = format!(
                    " Why this provider has no `Connection`: the HTTP client of the runtime cannot serve it as the catalog describes it ({})",
                    doc::escape(reason).join(" ")
                );
                return quote! {
                    #[doc = #doc]
                    pub const CLIENT_UNSUPPORTED: &::core::primitive::str = #reason;
                };
            }
        };
        let spec = self.client_spec(p, c);
        let has = |name: &str| {
            p.urls
                .iter()
                .any(|u| u.fn_name == name && u.alternatives.is_some())
        };
        let token_url = has("token_url").then(|| {
            quote! {
                fn token_url(&self) -> ::core::option::Option<::core::result::Result<#rt::__private::url::Url, #rt::RenderError>> {
                    ::core::option::Option::Some(token_url(&self.config))
                }
            }
        });
        let verification_url = has("verification_base_url").then(|| {
            quote! {
                fn verification_base_url(&self) -> ::core::option::Option<::core::result::Result<#rt::__private::url::Url, #rt::RenderError>> {
                    ::core::option::Option::Some(verification_base_url(&self.config))
                }
            }
        });
        let query = (!p.query.is_empty()).then(|| {
            quote! {
                fn query(&self, cx: &#rt::RenderContext<'_>) -> ::core::result::Result<#rt::QueryParams, #rt::RenderError> {
                    proxy_query_with(&self.config, &self.credentials, cx)
                }
            }
        });
        let verification_headers = (!p.verification_headers.is_empty()).then(|| {
            quote! {
                fn verification_headers(&self, cx: &#rt::RenderContext<'_>) -> ::core::result::Result<#rt::Headers, #rt::RenderError> {
                    verification_headers_with(&self.config, &self.credentials, cx)
                }
            }
        });
        let token_params_fns = (!p.token_params.is_empty()).then(|| {
            self.named_fns(
                p,
                &p.token_params,
                ("token_params", "token_params_with", "QueryParams"),
                "The params of the token request (`token_params`), unencoded",
            )
        });
        let token_params = (!p.token_params.is_empty()).then(|| {
            quote! {
                fn token_params(&self, cx: &#rt::RenderContext<'_>) -> ::core::result::Result<#rt::QueryParams, #rt::RenderError> {
                    token_params_with(&self.config, &self.credentials, cx)
                }
            }
        });
        let text = |index: usize| self.credential_text(p, index);
        let client_credentials = c.client_credentials.map(|(id, secret)| {
            let (id, secret) = (text(id), text(secret));
            quote! {
                fn client_credentials(&self) -> ::core::option::Option<(&::core::primitive::str, &::core::primitive::str)> {
                    ::core::option::Option::Some((#id, #secret))
                }
            }
        });
        let basic = c.basic.map(|(user, password)| {
            let user = text(user);
            let password = match password {
                Some(i) if p.credentials[i].optional => {
                    let field = ident(&p.credentials[i].field);
                    if p.credentials[i].secret {
                        quote!(self.credentials.#field.as_ref().map(#rt::Secret::expose))
                    } else {
                        quote!(self.credentials.#field.as_deref())
                    }
                }
                Some(i) => {
                    let value = text(i);
                    quote!(::core::option::Option::Some(#value))
                }
                None => quote!(::core::option::Option::None),
            };
            quote! {
                fn basic_credentials(&self) -> ::core::option::Option<(&::core::primitive::str, ::core::option::Option<&::core::primitive::str>)> {
                    ::core::option::Option::Some((#user, #password))
                }
            }
        });
        let rt_secret = quote!(#rt::Secret::expose);
        let values: Vec<TokenStream> = [
            (quote!(config), &p.config),
            (quote!(credentials), &p.credentials),
        ]
        .into_iter()
        .flat_map(|(var, params)| {
            let rt_secret = rt_secret.clone();
            params
                .iter()
                .filter(|param| param.secret)
                .map(move |param| {
                    let field = ident(&param.field);
                    if param.optional {
                        quote!(self.#var.#field.as_ref().map(#rt_secret))
                    } else {
                        quote!(::core::option::Option::Some(self.#var.#field.expose()))
                    }
                })
        })
        .collect();
        let secrets = (!values.is_empty()).then(|| {
            quote! {
                fn secrets(&self) -> ::std::vec::Vec<&::core::primitive::str> {
                    [ #( #values ),* ].into_iter().flatten().collect()
                }
            }
        });
        let newtype = self.connection_newtype();
        let name = doc::escape(p.display_name).join(" ");
        let connection_doc = self.docs([
            format!("A connection to {name}: the typed config and credentials, an HTTP client, and (for OAuth) the cached access token."),
            String::new(),
            "It dereferences to the runtime's `Connection`, which sends requests (`request`), paginates (`paginate`) and checks the credentials (`verify`).".to_owned(),
        ]);
        quote! {
            #spec

            /// The config and credentials of a connection, bound to this provider's templates
            /// for the runtime's HTTP client.
            #[derive(::core::fmt::Debug, ::core::clone::Clone)]
            pub struct Binding {
                /// The connection config.
                pub config: ConnectionConfig,
                /// The credentials.
                pub credentials: Credentials,
            }

            impl #rt::client::Binding for Binding {
                fn spec(&self) -> &#rt::client::ClientSpec {
                    &CLIENT_SPEC
                }
                fn base_url(&self) -> ::core::result::Result<#rt::__private::url::Url, #rt::RenderError> {
                    base_url(&self.config)
                }
                #token_url
                #verification_url
                fn headers(&self, cx: &#rt::RenderContext<'_>) -> ::core::result::Result<#rt::Headers, #rt::RenderError> {
                    proxy_headers_with(&self.config, &self.credentials, cx)
                }
                #query
                #verification_headers
                #token_params
                #client_credentials
                #secrets
                #basic
            }

            #token_params_fns

            #connection_doc
            #[derive(::core::fmt::Debug, ::core::clone::Clone)]
            pub struct Connection(#rt::client::Connection);

            impl Connection {
                /// Connects with the default settings: renders and checks the URLs. No request
                /// is sent until one is made (a token is requested with the first).
                pub fn new(
                    config: ConnectionConfig,
                    credentials: Credentials,
                ) -> ::core::result::Result<Self, #rt::client::Error> {
                    Self::with_settings(config, credentials, #rt::client::Settings::default())
                }

                /// Connects with `settings` (timeouts, retries, the test-only origin override).
                pub fn with_settings(
                    config: ConnectionConfig,
                    credentials: Credentials,
                    settings: #rt::client::Settings,
                ) -> ::core::result::Result<Self, #rt::client::Error> {
                    #rt::client::Connection::with_settings(Binding { config, credentials }, settings).map(Connection)
                }
            }

            #newtype
        }
    }

    /// `into_inner` and `Deref` of a `Connection(runtime Connection)` newtype.
    fn connection_newtype(&self) -> TokenStream {
        let rt = &self.rt;
        quote! {
            impl Connection {
                /// The runtime's untyped connection.
                pub fn into_inner(self) -> #rt::client::Connection {
                    self.0
                }
            }

            impl ::core::ops::Deref for Connection {
                type Target = #rt::client::Connection;
                fn deref(&self) -> &Self::Target {
                    &self.0
                }
            }
        }
    }

    /// A credential's value as `&str` (the field is required).
    fn credential_text(&self, p: &ProviderPlan<'_>, index: usize) -> TokenStream {
        let param = &p.credentials[index];
        let field = ident(&param.field);
        if param.secret {
            quote!(self.credentials.#field.expose())
        } else {
            quote!(self.credentials.#field.as_str())
        }
    }

    fn client_spec(&self, p: &ProviderPlan<'_>, c: &ClientPlan) -> TokenStream {
        let rt = &self.rt;
        let key = p.key;
        let mode = ident(&format!("{:?}", p.auth_mode));
        let body_format = if c.json_body {
            quote!(#rt::client::BodyFormat::Json)
        } else {
            quote!(#rt::client::BodyFormat::Form)
        };
        let token_auth = if c.basic_token_auth {
            quote!(#rt::client::TokenAuth::Basic)
        } else {
            quote!(#rt::client::TokenAuth::Body)
        };
        let opt = |v: Option<&String>| match v {
            Some(s) => quote!(::core::option::Option::Some(::std::borrow::Cow::Borrowed(#s))),
            None => quote!(::core::option::Option::None),
        };
        let list = |items: &[String]| quote!(::std::borrow::Cow::Borrowed(&[ #( ::std::borrow::Cow::Borrowed(#items) ),* ]));
        let paginate = match &c.paginate {
            None => quote!(::core::option::Option::None),
            Some(pg) => {
                let kind = ident(pg.kind);
                let fields = pg.fields.iter().map(|(name, value)| {
                    let name = ident(name);
                    let value = opt(value.as_ref());
                    quote!(#name: #value,)
                });
                let start = pg.offset_start;
                let step = if pg.per_page {
                    quote!(#rt::paginate::OffsetStep::PerPage)
                } else {
                    quote!(#rt::paginate::OffsetStep::ByResponseSize)
                };
                quote! {
                    ::core::option::Option::Some(#rt::paginate::PaginateConfig {
                        kind: #rt::paginate::PageKind::#kind,
                        #( #fields )*
                        offset_start: #start,
                        offset_step: #step,
                        total_pages_path: ::core::option::Option::None,
                    })
                }
            }
        };
        let (at, after) = (list(&c.retry.at), list(&c.retry.after));
        let remaining = opt(c.retry.remaining.as_ref());
        let error_code = match &c.retry.error_code {
            Some(codes) => {
                let codes = list(codes);
                quote!(::core::option::Option::Some(#codes))
            }
            None => quote!(::core::option::Option::None),
        };
        let verification = match &c.verification {
            None => quote!(::core::option::Option::None),
            Some(v) => {
                let method = &v.method;
                let (endpoints, params) = (list(&v.endpoints), list(&v.host_params));
                let body = opt(v.body.as_ref());
                quote! {
                    ::core::option::Option::Some(#rt::client::VerificationSpec {
                        method: ::std::borrow::Cow::Borrowed(#method),
                        endpoints: #endpoints,
                        host_params: #params,
                        body: #body,
                    })
                }
            }
        };
        let query_has_secret = p.query_has_secret;
        let default_scope = opt(c.default_scope.as_ref());
        let header_parts: Vec<PartPlan> = p
            .headers
            .iter()
            .flat_map(|h| h.alternatives.iter().flatten().cloned())
            .collect();
        let static_headers = !PartPlan::uses_context(&header_parts);
        quote! {
            /// What the runtime's HTTP client needs to know about this provider.
            pub static CLIENT_SPEC: #rt::client::ClientSpec = #rt::client::ClientSpec {
                key: ::std::borrow::Cow::Borrowed(#key),
                auth_mode: #rt::AuthMode::#mode,
                body_format: #body_format,
                token_auth: #token_auth,
                default_scope: #default_scope,
                paginate: #paginate,
                retry: #rt::client::RetrySpec {
                    at: #at,
                    after: #after,
                    remaining: #remaining,
                    error_code: #error_code,
                },
                verification: #verification,
                query_has_secret: #query_has_secret,
                static_headers: #static_headers,
            };
        }
    }

    /// The crate-level `Connection`: a provider chosen by key, with JSON params.
    pub(super) fn root_connection(&self, plan: &Plan<'_>) -> TokenStream {
        if !self.options.client {
            return TokenStream::new();
        }
        let rt = &self.rt;
        let newtype = self.connection_newtype();
        let arms = plan.providers.iter().map(|p| {
            let variant = ident(&p.variant);
            let module = ident(&p.module);
            let connect = match &p.client {
                Ok(_) => quote! {
                    #rt::client::Connection::with_settings(#module::Binding { config, credentials }, settings)
                        .map_err(#rt::client::ConnectError::Connect)
                },
                Err(reason) => {
                    let key = p.key;
                    let mode = ident(&format!("{:?}", p.auth_mode));
                    quote! {{
                        let _ = (config, credentials, settings);
                        ::core::result::Result::Err(#rt::client::ConnectError::Connect(#rt::client::Error::Unsupported {
                            provider: ::std::borrow::Cow::Borrowed(#key),
                            auth_mode: #rt::AuthMode::#mode,
                            message: ::std::string::String::from(#reason),
                        }))
                    }}
                }
            };
            quote! {
                Provider::#variant => {
                    let (config, credentials) = #rt::client::validated(
                        #module::ConnectionConfig::from_json(connection_config),
                        #module::Credentials::from_json(credentials),
                    )?;
                    #connect
                }
            }
        });
        quote! {
            /// A connection to any provider of the catalog, chosen by its key at run time, with
            /// its params as JSON: the typed modules' `Connection`s, for callers that have a
            /// key and two JSON objects (`connection_config` and `credentials`).
            ///
            /// It dereferences to the runtime's `Connection` (`request`, `paginate`, `verify`).
            #[derive(::core::fmt::Debug, ::core::clone::Clone)]
            pub struct Connection(#rt::client::Connection);

            impl Connection {
                /// Validates `connection_config` and `credentials` for the provider `key` and
                /// connects with the default settings. Every validation problem of both objects
                /// is reported at once.
                pub fn from_json(
                    key: &::core::primitive::str,
                    connection_config: &#rt::__private::serde_json::Value,
                    credentials: &#rt::__private::serde_json::Value,
                ) -> ::core::result::Result<Self, #rt::client::ConnectError> {
                    Self::from_json_with(key, connection_config, credentials, #rt::client::Settings::default())
                }

                /// [`Connection::from_json`] with `settings`.
                pub fn from_json_with(
                    key: &::core::primitive::str,
                    connection_config: &#rt::__private::serde_json::Value,
                    credentials: &#rt::__private::serde_json::Value,
                    settings: #rt::client::Settings,
                ) -> ::core::result::Result<Self, #rt::client::ConnectError> {
                    let provider: Provider = key.parse()?;
                    let connection: ::core::result::Result<#rt::client::Connection, #rt::client::ConnectError> = match provider {
                        #( #arms )*
                    };
                    ::core::result::Result::Ok(Connection(connection?))
                }
            }

            #newtype
        }
    }
}
