//! What the client is handed: a provider's [`Binding`], its config and credentials bound to
//! the templates of its description (the description's types live in [`crate::spec`]).

use url::Url;

use crate::render::{Headers, QueryParams, RenderContext, RenderError};
pub use crate::spec::{BodyFormat, ClientSpec, TokenAuth, VerificationSpec};

/// A provider's typed connection config and credentials, as generated code binds them to the
/// templates of its catalog entry. Implemented by generated code; each method renders one
/// part of the catalog entry with every value checked for where it lands.
pub trait Binding: Send + Sync + 'static {
    /// The static description.
    fn spec(&self) -> &ClientSpec;
    /// `proxy.base_url`, rendered.
    fn base_url(&self) -> Result<Url, RenderError>;
    /// `token_url`, rendered (client-credentials providers).
    fn token_url(&self) -> Option<Result<Url, RenderError>> {
        None
    }
    /// `proxy.verification.base_url_override`, rendered.
    fn verification_base_url(&self) -> Option<Result<Url, RenderError>> {
        None
    }
    /// `proxy.headers`, rendered with `cx`.
    fn headers(&self, cx: &RenderContext<'_>) -> Result<Headers, RenderError>;
    /// `proxy.query`, rendered with `cx` (values unencoded).
    fn query(&self, _cx: &RenderContext<'_>) -> Result<QueryParams, RenderError> {
        Ok(QueryParams::new())
    }
    /// `proxy.verification.headers`, rendered with `cx`.
    fn verification_headers(&self, _cx: &RenderContext<'_>) -> Result<Headers, RenderError> {
        Ok(Headers::new())
    }
    /// `token_params`, rendered with `cx` (values unencoded).
    fn token_params(&self, _cx: &RenderContext<'_>) -> Result<QueryParams, RenderError> {
        Ok(QueryParams::new())
    }
    /// `refresh_params`, rendered with `cx` (values unencoded), when the entry has them.
    fn refresh_params(&self, _cx: &RenderContext<'_>) -> Option<Result<QueryParams, RenderError>> {
        None
    }
    /// `token_headers`, rendered with `cx`.
    fn token_headers(&self, _cx: &RenderContext<'_>) -> Result<Headers, RenderError> {
        Ok(Headers::new())
    }
    /// `refresh_token_params`, rendered with `cx` (values unencoded), when the entry has them.
    fn refresh_token_params(
        &self,
        _cx: &RenderContext<'_>,
    ) -> Option<Result<QueryParams, RenderError>> {
        None
    }
    /// A JWT's templates (`header.*`, `claim.*`, `key`), rendered with `cx`.
    fn jwt(&self, _cx: &RenderContext<'_>) -> Result<Headers, RenderError> {
        Ok(Headers::new())
    }
    /// Each credential's key and value (a JWT template may read a part of one).
    fn credential_values(&self) -> Vec<(String, &str)> {
        Vec::new()
    }
    /// Templates of the description that no other method renders (TWO_STEP's steps),
    /// rendered with `cx`.
    fn templates(
        &self,
        _templates: &[crate::spec::NamedTemplate],
        _cx: &RenderContext<'_>,
    ) -> Result<Headers, RenderError> {
        Ok(Headers::new())
    }
    /// `refresh_url`, rendered.
    fn refresh_url(&self) -> Option<Result<Url, RenderError>> {
        None
    }
    /// The OAuth client (`client_id`, `client_secret` credentials).
    fn client_credentials(&self) -> Option<(&str, &str)> {
        None
    }
    /// Every secret value of the config and credentials, to be masked in the provider's error
    /// messages (an API that echoes a key in its error body does not get it into ours).
    fn secrets(&self) -> Vec<&str> {
        Vec::new()
    }
    /// HTTP basic credentials (`username`, optional `password`).
    fn basic_credentials(&self) -> Option<(&str, Option<&str>)> {
        None
    }
}
