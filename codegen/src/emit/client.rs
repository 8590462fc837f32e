//! Which `Connection` a provider module gets from the runtime's `typed_provider!` (with the
//! runtime's `client` feature): the client's own reading of the auth mode, decided here once.

use super::Emitter;
use crate::plan::ProviderPlan;

impl Emitter<'_> {
    /// `typed` (credentials given), `authorized` (a user authorizes in a browser), or `none`
    /// (the client cannot serve the provider as the catalog describes it; its description
    /// says why).
    pub(super) fn connection_kind(&self, p: &ProviderPlan<'_>) -> &'static str {
        if p.client.is_err() {
            "none"
        } else if p
            .auth_mode
            .client_auth()
            .is_some_and(terapi_model::ClientAuth::authorizes)
        {
            "authorized"
        } else {
            "typed"
        }
    }
}
