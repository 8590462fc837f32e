//! What can go wrong in a sync or a webhook. Messages never carry a record's content or a
//! token.

use terapi_store::StoreError;

/// An error of a sync run, a subscription or the receiver's applier.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SyncError {
    /// The store failed (another process runs the sync: [`StoreError::Busy`]).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A request to the provider failed.
    #[error(transparent)]
    Client(#[from] terapi_runtime::client::Error),
    /// A spec is not usable.
    #[error("sync spec `{model}`: {reason}")]
    Spec {
        /// The model.
        model: String,
        /// Why.
        reason: String,
    },
    /// A record has no id where the spec says.
    #[error(
        "model `{model}`: record {index} of page {page} has no id at `{path}` (a string or a number)"
    )]
    RecordId {
        /// The model.
        model: String,
        /// The page (1 = the first of this run).
        page: u64,
        /// The record's place in the page (0-based).
        index: usize,
        /// The spec's id path.
        path: String,
    },
    /// A saved checkpoint does not read back.
    #[error("model `{model}`: the saved checkpoint is not one this version wrote: {message}")]
    Checkpoint {
        /// The model.
        model: String,
        /// Why.
        message: String,
    },
    /// No spec serves this model of this provider.
    #[error("provider `{provider}` has no sync model `{model}` (known: {known})")]
    UnknownModel {
        /// The provider key.
        provider: String,
        /// The model asked for.
        model: String,
        /// The models there are.
        known: String,
    },
    /// A listing's record count differs from the total the provider states for it: the run
    /// is not complete (nothing deleted; the next run lists again from the start).
    #[error(
        "model `{model}`: the run listed {listed} records but the provider states {stated}: the listing is not complete, so nothing was deleted and the next run lists it again from the start"
    )]
    Incomplete {
        /// The model.
        model: String,
        /// Records the run listed.
        listed: u64,
        /// The total the provider states.
        stated: u64,
    },
    /// A parent's child listing answered 404 while the parent is not confirmed gone: the run
    /// fails, and deletes nothing of that parent's children.
    #[error(
        "model `{model}`: the listing of parent `{parent}` answered 404, but the parent is not confirmed gone ({reason}); nothing of it was deleted"
    )]
    ParentListing {
        /// The model.
        model: String,
        /// The parent's id.
        parent: String,
        /// Why it is not taken for gone.
        reason: String,
    },
    /// The provider answered a webhook call with something unexpected.
    #[error("webhooks: {0}")]
    Webhook(String),
}

impl From<terapi_runtime::sync::SpecError> for SyncError {
    fn from(e: terapi_runtime::sync::SpecError) -> Self {
        SyncError::Spec {
            model: e.model,
            reason: e.reason,
        }
    }
}
