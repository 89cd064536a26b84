//! InvokeCommand (SPEC 9.2): runs a retained command on instances; the command counts one more
//! invocation.
//!
//! Validation follows SPEC 9.1, first failure wins: RegionId; the required `CommandId` and
//! `InstanceId.N`; each parameter in 9.2 order; the command, then the instances, then what
//! needs the command (its custom parameters, the content size); the `ClientToken`;
//! `RepeatMode=DryRun`.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::command_input::{
    self as input, BuiltInValues, Echoed, ParameterValues, RepeatMode, MAX_USERNAME_CHARS,
    MAX_WORKING_DIR_CHARS,
};
use super::parse;
use crate::engine::commands::{Invocation, Tag, TokenRecord};
use crate::engine::{Change, Store};
use crate::error::ApiError;
use crate::rpc::params::Params;
use crate::state::Draft;

/// The action, as its client tokens are kept.
const ACTION: &str = "InvokeCommand";

/// A validated InvokeCommand request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvokeCommandRequest {
    /// The region.
    pub region_id: String,
    /// The retained command to run.
    pub command_id: String,
    /// Instance ids in N order, each once.
    pub instance_ids: Vec<String>,
    /// `Parameters`.
    pub parameters: Option<ParameterValues>,
    /// `Timeout` in seconds; the command's when not given.
    pub timeout: Option<u64>,
    /// `WorkingDir`; the command's when not given.
    pub working_dir: Option<String>,
    /// `Username`; else `root` for shell scripts and `System` for the others.
    pub username: Option<String>,
    /// `RepeatMode`.
    pub repeat_mode: RepeatMode,
    /// `ClientToken`.
    pub client_token: Option<String>,
    /// `Tag.N.*`: the invocation's.
    pub tags: Vec<Tag>,
    /// Whether `ResourceTag.N.*` chose the instances.
    pub resource_tags: bool,
    /// Kept and echoed; `Launcher` is the command's when not given.
    pub echoed: Echoed,
    /// What a repeat of the client token must match.
    pub fingerprint: String,
}

impl InvokeCommandRequest {
    /// Reads and validates the request: SPEC 9.1 steps 1 to 3. `store` answers which regions
    /// exist.
    pub fn parse(params: &Params<'_>, store: &Store) -> Result<Self, ApiError> {
        // (1) the region.
        let region_id =
            parse::region_id(params, store, ApiError::CloudAssistantRegionNotFound)?.to_owned();
        // (2) required parameters, in 9.2 order.
        let command_id = parse::required(params, "CommandId")?.to_owned();
        let resource_tags = input::resource_tags_given(params);
        let instance_list = input::instance_ids(resource_tags);
        instance_list.check_present(params)?;
        // (3) each parameter's shape and limits, in 9.2 order.
        let instance_ids = instance_list.parse(params)?;
        let parameters = ParameterValues::parse(params)?;
        let timeout = input::timeout(params)?;
        let working_dir = input::limited_text(
            params,
            "WorkingDir",
            MAX_WORKING_DIR_CHARS,
            ApiError::InvalidWorkingDir,
        )?;
        let username = input::limited_text(
            params,
            "Username",
            MAX_USERNAME_CHARS,
            ApiError::UsernameExceedLimit,
        )?;
        let repeat_mode = input::repeat_mode(params)?;
        input::frequency(params)?;
        let client_token = parse::client_token(params)?.map(str::to_owned);
        let tags = input::tags(params)?;
        input::check_resource_tags(resource_tags, &instance_ids)?;
        let echoed = Echoed::parse(params)?;
        Ok(Self {
            region_id,
            command_id,
            instance_ids,
            parameters,
            timeout,
            working_dir,
            username,
            repeat_mode,
            client_token,
            tags,
            resource_tags,
            echoed,
            fingerprint: input::fingerprint(params),
        })
    }

    /// SPEC 9.1 steps 5 to 8, then the invocation and the client token in one change of the
    /// data.
    pub fn execute(
        self,
        draft: &mut Draft,
        account: &str,
        now: DateTime<Utc>,
        request_id: String,
    ) -> Result<InvokeCommandResponse, ApiError> {
        let region = self.region_id.as_str();
        // (5) existence: the command, the instances, then what needs the command.
        let command = draft
            .space(account, region)
            .and_then(|space| space.command(&self.command_id))
            .cloned()
            .ok_or(ApiError::CommandNotFound)?;
        if self.resource_tags {
            return Err(ApiError::ResourceTagInstanceNotFound);
        }
        input::check_instances(draft, account, region, &self.instance_ids)?;
        ParameterValues::check(
            self.parameters.as_ref(),
            command.enable_parameter,
            &command.parameter_names,
        )?;
        if !input::fits_content_limit(command.content.len(), self.parameters.as_ref()) {
            return Err(ApiError::InvokedContentExceedLimit);
        }
        // (6) a client token used before.
        let token = self.client_token.as_deref();
        if let Some(answer) =
            input::earlier_answer(draft, account, region, ACTION, token, &self.fingerprint)?
        {
            return Ok(InvokeCommandResponse {
                invoke_id: answer.into_iter().next().unwrap_or_default(),
                request_id,
            });
        }
        // (8) a dry run ends here.
        if self.repeat_mode == RepeatMode::DryRun {
            return Err(ApiError::DryRunOperation);
        }

        let invoke_id = input::new_invoke_id(draft, account, region);
        let context = BuiltInValues {
            region_id: region,
            account_id: account,
            instance_id: "",
            invoke_id: &invoke_id,
            command_id: &command.id,
        };
        let instances = input::runs(
            &command.content,
            command.enable_parameter,
            self.parameters.as_ref(),
            &context,
            &self.instance_ids,
            now,
        );
        let invocation = Invocation {
            id: invoke_id.clone(),
            command_id: command.id.clone(),
            command_name: command.name.clone(),
            command_description: command.description.clone(),
            command_type: command.command_type,
            content: command.content.clone(),
            parameters: ParameterValues::stored_text(self.parameters.as_ref()),
            timeout: self.timeout.unwrap_or(command.timeout),
            working_dir: self
                .working_dir
                .unwrap_or_else(|| command.working_dir.clone()),
            username: self
                .username
                .unwrap_or_else(|| input::default_username(command.command_type).to_owned()),
            repeat_mode: "Once".to_owned(),
            creation_time: now,
            launcher: self.echoed.launcher.or_else(|| command.launcher.clone()),
            container_id: self.echoed.container_id,
            container_name: self.echoed.container_name,
            termination_mode: self.echoed.termination_mode,
            oss_output_delivery: self.echoed.oss_output_delivery,
            tags: self.tags,
            instances,
        };
        input::apply(
            draft,
            Change::Invoke {
                account: account.to_owned(),
                region: region.to_owned(),
                invocation,
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
                        answer: vec![invoke_id.clone()],
                    },
                },
            )?;
        }
        Ok(InvokeCommandResponse {
            invoke_id,
            request_id,
        })
    }
}

/// The answer, keys in the vendor sample's order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct InvokeCommandResponse {
    /// The invocation made.
    pub invoke_id: String,
    /// The request id.
    pub request_id: String,
}
