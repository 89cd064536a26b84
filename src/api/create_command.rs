//! CreateCommand (SPEC 9.2): retains a command for InvokeCommand.
//!
//! Validation follows SPEC 9.1, first failure wins: RegionId; the required `Name`, `Type` and
//! `CommandContent`; each parameter in 9.2 order; the `ClientToken`; the quota of retained
//! commands.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::command_input::{
    self as input, MAX_DESCRIPTION_CHARS, MAX_NAME_CHARS, MAX_WORKING_DIR_CHARS,
};
use super::parse::{self, ContentEncoding};
use crate::engine::commands::{Command, CommandType, Tag, TokenRecord};
use crate::engine::{Change, Store};
use crate::error::ApiError;
use crate::rpc::params::Params;
use crate::state::Draft;

/// The action, as its client tokens are kept.
const ACTION: &str = "CreateCommand";

/// A validated CreateCommand request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateCommandRequest {
    /// The region.
    pub region_id: String,
    /// `Name`.
    pub name: String,
    /// The script language.
    pub command_type: CommandType,
    /// The script, decoded.
    pub content: Vec<u8>,
    /// `Description`, `""` when not given.
    pub description: String,
    /// `WorkingDir`, `""` when not given.
    pub working_dir: String,
    /// `Timeout` in seconds, 60 when not given.
    pub timeout: u64,
    /// `EnableParameter`.
    pub enable_parameter: bool,
    /// The custom parameter names of the content (none with the feature off).
    pub parameter_names: Vec<String>,
    /// `Launcher`, kept and echoed.
    pub launcher: Option<String>,
    /// `ResourceGroupId`, kept and echoed.
    pub resource_group_id: Option<String>,
    /// `Tag.N.*`.
    pub tags: Vec<Tag>,
    /// `ClientToken`.
    pub client_token: Option<String>,
    /// What a repeat of the client token must match.
    pub fingerprint: String,
}

impl CreateCommandRequest {
    /// Reads and validates the request: SPEC 9.1 steps 1 to 3. `store` answers which regions
    /// exist.
    pub fn parse(params: &Params<'_>, store: &Store) -> Result<Self, ApiError> {
        // (1) the region.
        let region_id =
            parse::region_id(params, store, ApiError::CloudAssistantRegionNotFound)?.to_owned();
        // (2) required parameters, in 9.2 order.
        let name = parse::required(params, "Name")?;
        let command_type = parse::required(params, "Type")?;
        let raw_content = parse::required(params, "CommandContent")?;
        // (3) each parameter's shape and limits, in 9.2 order.
        if name.chars().count() > MAX_NAME_CHARS {
            return Err(ApiError::CommandNameExceedLimit);
        }
        let command_type = input::command_type(command_type)?;
        let content = input::content(params, raw_content, ContentEncoding::Base64)?;
        let description = input::limited_text(
            params,
            "Description",
            MAX_DESCRIPTION_CHARS,
            ApiError::CommandDescriptionExceedLimit,
        )?;
        let working_dir = input::limited_text(
            params,
            "WorkingDir",
            MAX_WORKING_DIR_CHARS,
            ApiError::InvalidWorkingDir,
        )?;
        let timeout = input::timeout(params)?;
        let enable_parameter = parse::boolean(params, "EnableParameter")?.unwrap_or(false);
        let parameter_names = if enable_parameter {
            input::custom_parameter_names(&content)?
        } else {
            Vec::new()
        };
        let launcher = input::launcher(params)?;
        let resource_group_id = params.get("ResourceGroupId").map(str::to_owned);
        let tags = input::tags(params)?;
        let client_token = parse::client_token(params)?.map(str::to_owned);
        Ok(Self {
            region_id,
            name: name.to_owned(),
            command_type,
            content,
            description: description.unwrap_or_default(),
            working_dir: working_dir.unwrap_or_default(),
            timeout: timeout.unwrap_or(input::DEFAULT_TIMEOUT_SECONDS),
            enable_parameter,
            parameter_names,
            launcher,
            resource_group_id,
            tags,
            client_token,
            fingerprint: input::fingerprint(params),
        })
    }

    /// SPEC 9.1 steps 6 and 7, then the command and the client token in one change of the
    /// data.
    pub fn execute(
        self,
        draft: &mut Draft,
        account: &str,
        now: DateTime<Utc>,
        request_id: String,
    ) -> Result<CreateCommandResponse, ApiError> {
        let region = self.region_id.as_str();
        // (6) a client token used before.
        let token = self.client_token.as_deref();
        if let Some(answer) =
            input::earlier_answer(draft, account, region, ACTION, token, &self.fingerprint)?
        {
            return Ok(CreateCommandResponse {
                command_id: answer.into_iter().next().unwrap_or_default(),
                request_id,
            });
        }
        // (7) the quota of retained commands.
        input::check_quota(draft, account, region)?;

        let command_id = input::new_command_id(draft, account, region);
        let command = Command {
            id: command_id.clone(),
            name: self.name,
            description: self.description,
            command_type: self.command_type,
            content: self.content,
            working_dir: self.working_dir,
            timeout: self.timeout,
            enable_parameter: self.enable_parameter,
            parameter_names: self.parameter_names,
            launcher: self.launcher,
            resource_group_id: self.resource_group_id,
            tags: self.tags,
            creation_time: now,
            invoke_times: 0,
        };
        input::apply(
            draft,
            Change::CreateCommand {
                account: account.to_owned(),
                region: region.to_owned(),
                command,
            },
        )?;
        if let Some(token) = self.client_token {
            input::apply(
                draft,
                Change::RecordToken {
                    account: account.to_owned(),
                    region: region.to_owned(),
                    action: ACTION.to_owned(),
                    token,
                    record: TokenRecord {
                        fingerprint: self.fingerprint,
                        answer: vec![command_id.clone()],
                    },
                },
            )?;
        }
        Ok(CreateCommandResponse {
            command_id,
            request_id,
        })
    }
}

/// The answer, keys in the vendor sample's order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateCommandResponse {
    /// The command made.
    pub command_id: String,
    /// The request id.
    pub request_id: String,
}
