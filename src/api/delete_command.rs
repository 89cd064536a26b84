//! DeleteCommand (SPEC 9.2): forgets a retained command; invocations keep what they ran.
//!
//! Validation, first failure wins: `RegionId`, `CommandId` given, then a command the caller
//! keeps in the region (`InvalidCmdId.NotFound`).

use serde::Serialize;

use super::parse;
use crate::engine::{Change, Store};
use crate::error::ApiError;
use crate::rpc::params::Params;

/// A validated DeleteCommand request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteCommandRequest {
    /// The caller's account.
    pub account: String,
    /// The region.
    pub region_id: String,
    /// The command.
    pub command_id: String,
}

impl DeleteCommandRequest {
    /// Reads and validates the request against `store`, existence included.
    pub fn parse(params: &Params<'_>, account: &str, store: &Store) -> Result<Self, ApiError> {
        let region_id = parse::region_id(params, store, ApiError::CloudAssistantRegionNotFound)?;
        let command_id = parse::required(params, "CommandId")?;
        let kept = store
            .space(account, region_id)
            .is_some_and(|space| space.command(command_id).is_some());
        if !kept {
            return Err(ApiError::CommandNotFound);
        }
        Ok(Self {
            account: account.to_owned(),
            region_id: region_id.to_owned(),
            command_id: command_id.to_owned(),
        })
    }

    /// The change that deletes the command.
    pub fn change(&self) -> Change {
        Change::DeleteCommand {
            account: self.account.clone(),
            region: self.region_id.clone(),
            command_id: self.command_id.clone(),
        }
    }
}

/// The answer: `{RequestId}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteCommandResponse {
    /// The request id.
    pub request_id: String,
}
