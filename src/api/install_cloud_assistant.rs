//! InstallCloudAssistant (SPEC 9.2, 9.6): an instance without an agent gets one, installed and
//! online a few seconds later; an instance that has one is left alone.
//!
//! Validation follows SPEC 9.1, first failure wins: RegionId, `InstanceId.N` present, its
//! shape and limit, then each id in N order must be the caller's in the region. The checks and
//! the change are made against the same data, in one write.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::parse::{self, InstanceIdList};
use crate::engine::{Change, Store};
use crate::error::ApiError;
use crate::rpc::params::Params;
use crate::state::AppState;

/// `InstanceId.N`: required, 1 to 50.
pub const INSTANCE_IDS: InstanceIdList = InstanceIdList::cloud_assistant(50, true);

/// A validated InstallCloudAssistant request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstallCloudAssistantRequest {
    /// The caller's account.
    pub account: String,
    /// The region.
    pub region_id: String,
    /// The instances, in N order, each once; each the caller's in the region.
    pub instance_ids: Vec<String>,
}

impl InstallCloudAssistantRequest {
    /// Reads and validates the request against `store`, existence included.
    pub fn parse(params: &Params<'_>, account: &str, store: &Store) -> Result<Self, ApiError> {
        let region_id = parse::region_id(params, store, ApiError::CloudAssistantRegionNotFound)?;
        INSTANCE_IDS.check_present(params)?;
        let instance_ids = INSTANCE_IDS.parse(params)?;
        if instance_ids
            .iter()
            .any(|id| store.instance_in(account, region_id, id).is_none())
        {
            return Err(ApiError::InstanceNotFound);
        }
        Ok(Self {
            account: account.to_owned(),
            region_id: region_id.to_owned(),
            instance_ids,
        })
    }

    /// The changes that carry the request out at `now` (whole seconds).
    pub fn changes(&self, now: DateTime<Utc>) -> impl Iterator<Item = Change> + '_ {
        let at = crate::clock::whole_seconds(now);
        self.instance_ids
            .iter()
            .map(move |id| Change::InstallAgent {
                account: self.account.clone(),
                instance_id: id.clone(),
                at,
            })
    }
}

/// Validates and carries out the request in one write, durable before it is answered.
pub async fn execute(
    state: &AppState,
    params: &Params<'_>,
    account: &str,
    request_id: String,
) -> Result<InstallCloudAssistantResponse, ApiError> {
    let now = state.now();
    state
        .write(|draft| {
            let request = InstallCloudAssistantRequest::parse(params, account, draft)?;
            for change in request.changes(now) {
                // Every instance was found above, in this same data: a refusal is a bug.
                draft
                    .apply(change)
                    .map_err(crate::state::WriteFailed::from)?;
            }
            Ok(InstallCloudAssistantResponse { request_id })
        })
        .await
}

/// The response body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct InstallCloudAssistantResponse {
    /// The request id.
    pub request_id: String,
}
