//! Every lease this store handle holds, released in one call: what a process does before it
//! exits on a signal, so an immediate re-run (or another process) proceeds instead of
//! waiting for the leases to expire.
//!
//! A store handle names its leases after its owner (unique per process and handle):
//! `OWNER-run` for sync runs and claimed models, `OWNER-N` for refreshes, `OWNER-events` for
//! claimed webhook events, `OWNER-outbox` for claimed outgoing deliveries. Releasing them
//! keeps everything else: an interrupted run keeps its checkpoint (the next run resumes it), a
//! claimed event or delivery stays due.

use crate::backend::Val;
use crate::error::StoreError;
use crate::store::Store;

const RELEASE_RUNS: &str = "UPDATE terapi_sync SET lease_owner = NULL, lease_until = NULL
     WHERE lease_owner LIKE $1";
const RELEASE_REFRESHES: &str =
    "UPDATE terapi_connections SET lease_owner = NULL, lease_until = NULL
     WHERE lease_owner LIKE $1";
const RELEASE_EVENTS: &str = "UPDATE terapi_events SET lease_owner = NULL, lease_until = NULL
     WHERE lease_owner LIKE $1 AND status = 'pending'";
const RELEASE_DELIVERIES: &str = "UPDATE terapi_outbox SET lease_owner = NULL, lease_until = NULL
     WHERE lease_owner LIKE $1 AND status = 'pending'";

impl Store {
    /// Releases every lease this store handle (and its clones) holds: sync runs and claimed
    /// models, token refreshes, claimed webhook events, claimed outgoing deliveries (due again
    /// at once, for any deliverer). Call it before the process exits early (Ctrl-C, SIGTERM),
    /// after the work holding them has stopped; a release is harmless when nothing is held.
    pub async fn release_leases(&self) -> Result<(), StoreError> {
        // The owner is digits, hex and `-`: nothing LIKE reads as a wildcard.
        let pattern = format!("{}-%", self.owner);
        for sql in [
            RELEASE_RUNS,
            RELEASE_REFRESHES,
            RELEASE_EVENTS,
            RELEASE_DELIVERIES,
        ] {
            self.backend
                .query(sql, vec![Val::text(pattern.clone())])
                .await?;
        }
        Ok(())
    }
}
