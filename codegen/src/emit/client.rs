//! The client items of a provider module (its marker type and `Connection`) and the
//! crate-level `Connection` that picks a provider by key at run time.

use proc_macro2::TokenStream;
use quote::quote;

use super::{Emitter, ident};
use crate::doc;
use crate::plan::{Plan, ProviderPlan};

impl Emitter<'_> {
    /// The marker type of one provider module, and its `Connection` when the client is on
    /// and can serve the provider (else the reason why not).
    pub(super) fn client_items(&self, p: &ProviderPlan<'_>) -> TokenStream {
        let rt = &self.rt;
        let marker = quote! {
            /// This provider as a type, for the runtime's generic items: its description and
            /// its typed config and credentials.
            #[derive(::core::fmt::Debug)]
            pub enum Marker {}

            impl #rt::spec::TypedProvider for Marker {
                type Config = ConnectionConfig;
                type Credentials = Credentials;
                fn spec() -> &'static #rt::spec::ProviderSpec {
                    &SPEC
                }
            }
        };
        if !self.options.client {
            return marker;
        }
        if let Err(reason) = &p.client {
            let reason = reason.to_string();
            let doc = format!(
                " Why this provider has no `Connection`: the HTTP client of the runtime cannot serve it as the catalog describes it ({})",
                doc::escape(&reason).join(" ")
            );
            return quote! {
                #marker
                #[doc = #doc]
                pub const CLIENT_UNSUPPORTED: &::core::primitive::str = #reason;
            };
        }
        let name = doc::escape(p.display_name).join(" ");
        if p.auth_mode
            .client_auth()
            .is_some_and(::terapi_model::ClientAuth::authorizes)
        {
            let connection_doc = self.docs([
                format!("A connection to {name} that a user authorized (OAuth): the typed config, the tokens, an HTTP client."),
                String::new(),
                "Start with `authorize(&config, &client, request)`, send the user to the pending authorization's `url()`, then make it with `Connection::from_callback(pending, &callback_url, settings)`; later, from saved `tokens()`, with `Connection::from_tokens`. It dereferences to the runtime's `Connection` (`request`, `paginate`, `verify`).".to_owned(),
            ]);
            let authorize_doc = self.docs([
                format!("Starts an authorization of {name} for `config`: the URL to send the user to (with its state, scopes and the catalog's `authorization_params`), and the pending flow that the callback needs."),
            ]);
            // OAuth 1.0a asks for temporary credentials first, a generic MCP server is
            // discovered first: their `authorize` is async.
            let asynchronous = matches!(
                p.auth_mode,
                ::terapi_model::AuthMode::OAuth1 | ::terapi_model::AuthMode::McpOAuth2Generic
            );
            if asynchronous {
                return quote! {
                    #marker
                    #connection_doc
                    pub type Connection = #rt::client::AuthorizedConnection<Marker>;

                    #authorize_doc
                    pub async fn authorize(
                        config: &ConnectionConfig,
                        client: &#rt::client::OAuthClient,
                        request: #rt::client::AuthorizationRequest,
                    ) -> ::core::result::Result<#rt::client::PendingAuthorization, #rt::client::Error> {
                        Connection::start_authorization(config, client, request).await
                    }
                };
            }
            return quote! {
                #marker
                #connection_doc
                pub type Connection = #rt::client::AuthorizedConnection<Marker>;

                #authorize_doc
                pub fn authorize(
                    config: &ConnectionConfig,
                    client: &#rt::client::OAuthClient,
                    request: #rt::client::AuthorizationRequest,
                ) -> ::core::result::Result<#rt::client::PendingAuthorization, #rt::client::Error> {
                    Connection::authorize(config, client, request)
                }
            };
        }
        let connection_doc = self.docs([
            format!("A connection to {name}: the typed config and credentials, an HTTP client, and (for OAuth) the cached access token."),
            String::new(),
            "Made with `Connection::new(config, credentials)` or `with_settings`; it dereferences to the runtime's `Connection`, which sends requests (`request`), paginates (`paginate`) and checks the credentials (`verify`).".to_owned(),
        ]);
        quote! {
            #marker
            #connection_doc
            pub type Connection = #rt::client::TypedConnection<Marker>;
        }
    }

    /// The crate-level `Connection`: a provider chosen by key, with JSON params.
    pub(super) fn root_connection(&self, plan: &Plan<'_>) -> TokenStream {
        let rt = &self.rt;
        let variants = plan.providers.iter().map(|p| ident(&p.variant));
        let modules = plan.providers.iter().map(|p| ident(&p.module));
        let spec = quote! {
            impl Provider {
                /// The provider's description: what the runtime's validation, rendering and
                /// client act on.
                pub fn spec(self) -> &'static #rt::spec::ProviderSpec {
                    match self { #( Provider::#variants => &#modules::SPEC, )* }
                }
            }
        };
        if !self.options.client {
            return spec;
        }
        quote! {
            #spec

            /// A connection to any provider of the catalog, chosen by its key at run time, with
            /// its params as JSON, for callers that have a key and two JSON objects
            /// (`connection_config` and `credentials`).
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
                    #rt::client::Connection::from_json(provider.spec(), connection_config, credentials, settings).map(Connection)
                }

                /// Finishes an authorization started with [`authorize`]: checks the callback
                /// and exchanges its code (the provider is the pending authorization's).
                pub async fn from_callback(
                    pending: #rt::client::PendingAuthorization,
                    callback_url: &::core::primitive::str,
                    settings: #rt::client::Settings,
                ) -> ::core::result::Result<Self, #rt::client::ConnectError> {
                    let provider: Provider = pending.provider().parse()?;
                    Ok(Connection(#rt::client::Connection::from_callback(provider.spec(), pending, callback_url, settings).await?))
                }

                /// A connection to the authorization code provider `key` from tokens saved
                /// earlier, with its connection config as JSON.
                pub fn from_tokens(
                    key: &::core::primitive::str,
                    connection_config: &#rt::__private::serde_json::Value,
                    client: #rt::client::OAuthClient,
                    tokens: #rt::client::TokenSet,
                    settings: #rt::client::Settings,
                ) -> ::core::result::Result<Self, #rt::client::ConnectError> {
                    let provider: Provider = key.parse()?;
                    #rt::client::Connection::from_tokens(provider.spec(), connection_config, client, tokens, settings).map(Connection)
                }

                /// The runtime's untyped connection.
                pub fn into_inner(self) -> #rt::client::Connection {
                    self.0
                }
            }

            /// Starts an authorization of the provider `key` (OAuth 2.0 authorization code) with
            /// its connection config as JSON: the URL to send the user to, and the pending flow
            /// that [`Connection::from_callback`] finishes.
            pub fn authorize(
                key: &::core::primitive::str,
                connection_config: &#rt::__private::serde_json::Value,
                client: &#rt::client::OAuthClient,
                request: #rt::client::AuthorizationRequest,
            ) -> ::core::result::Result<#rt::client::PendingAuthorization, #rt::client::ConnectError> {
                let provider: Provider = key.parse()?;
                #rt::client::authorize_json(provider.spec(), connection_config, client, request)
            }

            /// [`authorize`] for every mode that authorizes in a browser, OAUTH1 (temporary
            /// credentials first) and MCP_OAUTH2_GENERIC (its endpoints discovered first)
            /// included.
            pub async fn start_authorization(
                key: &::core::primitive::str,
                connection_config: &#rt::__private::serde_json::Value,
                client: &#rt::client::OAuthClient,
                request: #rt::client::AuthorizationRequest,
            ) -> ::core::result::Result<#rt::client::PendingAuthorization, #rt::client::ConnectError> {
                let provider: Provider = key.parse()?;
                #rt::client::Connection::start_authorization_json(provider.spec(), connection_config, client, request).await
            }

            impl ::core::ops::Deref for Connection {
                type Target = #rt::client::Connection;
                fn deref(&self) -> &Self::Target {
                    &self.0
                }
            }
        }
    }
}
