//! The credential check (`proxy.verification`).

use super::error::{Error, Step};
use super::request::{Body, Outgoing};
use super::{Connection, Method, url_check};

/// What [`Connection::verify`] checked.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Verified {
    /// The token endpoint issued a token for the client credentials.
    Token,
    /// An endpoint of `proxy.verification` answered with success.
    Endpoint {
        /// The endpoint, as in the catalog.
        endpoint: String,
    },
    /// Both: a token, and then the verification endpoint with it.
    TokenAndEndpoint {
        /// The endpoint, as in the catalog.
        endpoint: String,
    },
    /// The catalog gives no way to check these credentials without side effects; nothing was
    /// sent.
    NothingToCheck,
}

impl Connection {
    /// Checks the credentials the way the catalog says.
    ///
    /// For OAUTH2_CC, a token is requested (or the cached one used). Then, when the entry has
    /// a `proxy.verification`, its endpoints are tried in order with its method and headers
    /// until one succeeds. Credentials only go where they belong: a verification URL on the
    /// API's own host gets the provider's headers and credentials; one on another host
    /// (`base_url_override`, like Personio's public job feed) gets only the verification's
    /// own headers. A redirect from a verification URL whose host holds connection params is
    /// [`Error::UnknownAccount`] ("unknown company"); other failures are the last endpoint's
    /// error, with the step [`Step::Verify`].
    pub async fn verify(&self) -> Result<Verified, Error> {
        let inner = &self.inner;
        let token = if inner.auth.uses_token() {
            self.access_token(None).await?;
            true
        } else {
            false
        };
        // What was checked when no endpoint is (or can be) tried.
        let without_endpoint = if token {
            Verified::Token
        } else {
            Verified::NothingToCheck
        };
        let Some(spec) = &inner.spec.verification else {
            return Ok(without_endpoint);
        };
        let base = inner.verification_base.as_ref().unwrap_or(&inner.base);
        let same_host = inner.verification_on_api_host;
        let method = Method::from_bytes(spec.method.as_bytes()).unwrap_or(Method::GET);
        let body = spec.body.as_ref().map(|json| Body {
            bytes: json.as_bytes().to_vec(),
            content_type: Some("application/json".to_owned()),
        });
        let mut last = None;
        for endpoint in spec.endpoints.iter() {
            let endpoint: &str = endpoint;
            let url = url_check::join(base, endpoint, Step::Verify)?;
            let out = Outgoing {
                step: Step::Verify,
                method: method.clone(),
                url,
                endpoint,
                headers: &[],
                body: body.as_ref(),
                timeout: inner.settings.timeout,
                provider_headers: same_host,
                verification_headers: true,
                idempotent: None,
                budget: None,
                max_attempts: None,
                whole_bodies: false,
            };
            let exchanged = self.exchange(&out).await?;
            let raw = exchanged.raw();
            if (300..400).contains(&raw.status) && !spec.host_params.is_empty() {
                last = Some(
                    self.mask(Error::UnknownAccount {
                        params: spec
                            .host_params
                            .iter()
                            .map(|p| {
                                let name = p.rsplit('.').next().unwrap_or(p);
                                format!("{name} (`{p}`)")
                            })
                            .collect::<Vec<_>>()
                            .join(", "),
                        status: raw.status,
                        location: raw.location(),
                    }),
                );
                continue;
            }
            match self.finish(exchanged, &out) {
                Ok(_) if token => {
                    return Ok(Verified::TokenAndEndpoint {
                        endpoint: endpoint.to_owned(),
                    });
                }
                Ok(_) => {
                    return Ok(Verified::Endpoint {
                        endpoint: endpoint.to_owned(),
                    });
                }
                Err(e) => last = Some(e),
            }
        }
        match last {
            Some(e) => Err(e),
            None => Ok(without_endpoint),
        }
    }
}
