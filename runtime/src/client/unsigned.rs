//! Without the `signing` feature: the modes that sign a JWT with a key report
//! [`Unsupported::SigningFeature`](crate::spec::Unsupported::SigningFeature).

use std::time::{Duration, SystemTime};

use super::Connection;
use super::error::Error;
use crate::Secret;
use crate::token::Token;

impl Connection {
    fn signing_unavailable(&self) -> Error {
        Error::Unsupported {
            provider: self.inner.spec.key.clone(),
            auth_mode: self.inner.spec.auth_mode,
            reason: crate::spec::Unsupported::SigningFeature,
        }
    }

    /// A new JWT: unavailable in this build.
    pub(crate) fn sign_jwt(&self) -> Result<(Secret, SystemTime, Duration), Error> {
        Err(self.signing_unavailable())
    }

    /// A JWT as the connection's access token: unavailable in this build.
    pub(crate) fn signed_token(&self) -> Result<Token, Error> {
        Err(self.signing_unavailable())
    }
}
