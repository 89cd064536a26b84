//! StopInvocation (SPEC 9.2, 9.4): cancels the runs of an invocation not yet delivered; runs
//! already started go on, and a finished invocation is left as it is.
//!
//! Validation, first failure wins: `RegionId`, `InvokeId` given, `InstanceId.N` (1 to 50,
//! optional), then an invocation of the caller in the region (`InvalidInvokeId.NotFound`), then
//! each instance id in N order is one of its instances (`InvalidInstanceId.NotFound`).

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::parse::{self, InstanceIdList};
use crate::engine::{Change, Store};
use crate::error::ApiError;
use crate::rpc::params::Params;

/// `InstanceId.N`: optional (none: every instance), at most 50.
pub const INSTANCE_IDS: InstanceIdList = InstanceIdList::cloud_assistant(50, false);

/// A validated StopInvocation request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StopInvocationRequest {
    /// The caller's account.
    pub account: String,
    /// The region.
    pub region_id: String,
    /// The invocation.
    pub invoke_id: String,
    /// The instances whose runs stop, in N order; empty: all.
    pub instance_ids: Vec<String>,
}

impl StopInvocationRequest {
    /// Reads and validates the request against `store`, existence included.
    pub fn parse(params: &Params<'_>, account: &str, store: &Store) -> Result<Self, ApiError> {
        let region_id = parse::region_id(params, store, ApiError::CloudAssistantRegionNotFound)?;
        let invoke_id = parse::required(params, "InvokeId")?;
        let instance_ids = INSTANCE_IDS.parse(params)?;
        let invocation = store
            .space(account, region_id)
            .and_then(|space| space.invocation(invoke_id))
            .ok_or(ApiError::InvocationNotFound)?;
        for id in &instance_ids {
            if !invocation
                .instances
                .iter()
                .any(|run| run.instance_id == *id)
            {
                return Err(ApiError::InstanceNotInInvocation);
            }
        }
        Ok(Self {
            account: account.to_owned(),
            region_id: region_id.to_owned(),
            invoke_id: invoke_id.to_owned(),
            instance_ids,
        })
    }

    /// The change that stops the runs, at `now` (whole seconds, as every time written).
    pub fn change(&self, now: DateTime<Utc>) -> Change {
        Change::StopInvocation {
            account: self.account.clone(),
            region: self.region_id.clone(),
            invoke_id: self.invoke_id.clone(),
            instances: self.instance_ids.clone(),
            at: crate::clock::whole_seconds(now),
        }
    }
}

/// The answer: `{RequestId}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct StopInvocationResponse {
    /// The request id.
    pub request_id: String,
}
