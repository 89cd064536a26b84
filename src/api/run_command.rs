//! RunCommand (SPEC 9.2): makes a command and runs it on instances in one call; the command is
//! retained only with `KeepCommand=true`.
//!
//! Validation follows SPEC 9.1, first failure wins: RegionId; the required `Type`,
//! `CommandContent` and `InstanceId.N`; each parameter in 9.2 order; the instances; the
//! `ClientToken`; the quota of retained commands; `RepeatMode=DryRun`.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::command_input::{
    self as input, BuiltInValues, Echoed, ParameterValues, RepeatMode, MAX_DESCRIPTION_CHARS,
    MAX_NAME_CHARS, MAX_USERNAME_CHARS, MAX_WORKING_DIR_CHARS,
};
use super::parse::{self, ContentEncoding};
use crate::engine::commands::{Command, CommandType, Invocation, Tag, TokenRecord};
use crate::engine::{Change, Store};
use crate::error::ApiError;
use crate::rpc::params::Params;
use crate::state::Draft;

/// The action, as its client tokens are kept.
const ACTION: &str = "RunCommand";

/// A validated RunCommand request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunCommandRequest {
    /// The region.
    pub region_id: String,
    /// The script language.
    pub command_type: CommandType,
    /// The script, decoded.
    pub content: Vec<u8>,
    /// Instance ids in N order, each once.
    pub instance_ids: Vec<String>,
    /// `Name`, `""` when not given.
    pub name: String,
    /// `Description`, `""` when not given.
    pub description: String,
    /// `WorkingDir`, `""` when not given.
    pub working_dir: String,
    /// `Username`, else `root` for shell scripts and `System` for the others.
    pub username: String,
    /// `Timeout` in seconds, 60 when not given.
    pub timeout: u64,
    /// `EnableParameter`.
    pub enable_parameter: bool,
    /// The custom parameter names of the content (none with the feature off).
    pub parameter_names: Vec<String>,
    /// `Parameters`.
    pub parameters: Option<ParameterValues>,
    /// `KeepCommand`: whether the command is retained.
    pub keep_command: bool,
    /// `RepeatMode`.
    pub repeat_mode: RepeatMode,
    /// `ClientToken`.
    pub client_token: Option<String>,
    /// `Tag.N.*`: the invocation's, and the command's when it is retained.
    pub tags: Vec<Tag>,
    /// Whether `ResourceTag.N.*` chose the instances.
    pub resource_tags: bool,
    /// Kept and echoed.
    pub echoed: Echoed,
    /// What a repeat of the client token must match.
    pub fingerprint: String,
}

impl RunCommandRequest {
    /// Reads and validates the request: SPEC 9.1 steps 1 to 3. `store` answers which regions
    /// exist.
    pub fn parse(params: &Params<'_>, store: &Store) -> Result<Self, ApiError> {
        // (1) the region.
        let region_id =
            parse::region_id(params, store, ApiError::CloudAssistantRegionNotFound)?.to_owned();
        // (2) required parameters, in 9.2 order.
        let command_type = parse::required(params, "Type")?;
        let raw_content = parse::required(params, "CommandContent")?;
        let resource_tags = input::resource_tags_given(params);
        let instance_list = input::instance_ids(resource_tags);
        instance_list.check_present(params)?;
        // (3) each parameter's shape and limits, in 9.2 order.
        let command_type = input::command_type(command_type)?;
        let content = input::content(params, raw_content, ContentEncoding::PlainText)?;
        let instance_ids = instance_list.parse(params)?;
        let name = input::limited_text(
            params,
            "Name",
            MAX_NAME_CHARS,
            ApiError::CommandNameExceedLimit,
        )?;
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
        let username = input::limited_text(
            params,
            "Username",
            MAX_USERNAME_CHARS,
            ApiError::UsernameExceedLimit,
        )?;
        let timeout = input::timeout(params)?;
        let enable_parameter = parse::boolean(params, "EnableParameter")?.unwrap_or(false);
        let parameter_names = if enable_parameter {
            input::custom_parameter_names(&content)?
        } else {
            Vec::new()
        };
        let parameters = ParameterValues::parse(params)?;
        ParameterValues::check(parameters.as_ref(), enable_parameter, &parameter_names)?;
        if !input::fits_content_limit(content.len(), parameters.as_ref()) {
            return Err(ApiError::CommandContentExceedLimit);
        }
        let keep_command = parse::boolean(params, "KeepCommand")?.unwrap_or(false);
        let repeat_mode = input::repeat_mode(params)?;
        input::frequency(params)?;
        let client_token = parse::client_token(params)?.map(str::to_owned);
        let tags = input::tags(params)?;
        input::check_resource_tags(resource_tags, &instance_ids)?;
        let echoed = Echoed::parse(params)?;
        Ok(Self {
            region_id,
            command_type,
            content,
            instance_ids,
            name: name.unwrap_or_default(),
            description: description.unwrap_or_default(),
            working_dir: working_dir.unwrap_or_default(),
            username: username.unwrap_or_else(|| input::default_username(command_type).to_owned()),
            timeout: timeout.unwrap_or(input::DEFAULT_TIMEOUT_SECONDS),
            enable_parameter,
            parameter_names,
            parameters,
            keep_command,
            repeat_mode,
            client_token,
            tags,
            resource_tags,
            echoed,
            fingerprint: input::fingerprint(params),
        })
    }

    /// SPEC 9.1 steps 5 to 8, then the command (when retained), the invocation and the client
    /// token in one change of the data.
    pub fn execute(
        self,
        draft: &mut Draft,
        account: &str,
        now: DateTime<Utc>,
        request_id: String,
    ) -> Result<RunCommandResponse, ApiError> {
        let region = self.region_id.as_str();
        // (5) existence: the instances.
        if self.resource_tags {
            return Err(ApiError::ResourceTagInstanceNotFound);
        }
        input::check_instances(draft, account, region, &self.instance_ids)?;
        // (6) a client token used before.
        let token = self.client_token.as_deref();
        if let Some(answer) =
            input::earlier_answer(draft, account, region, ACTION, token, &self.fingerprint)?
        {
            let mut ids = answer.into_iter();
            return Ok(RunCommandResponse {
                request_id,
                command_id: ids.next().unwrap_or_default(),
                invoke_id: ids.next().unwrap_or_default(),
            });
        }
        // (7) the quota of retained commands.
        if self.keep_command {
            input::check_quota(draft, account, region)?;
        }
        // (8) a dry run ends here.
        if self.repeat_mode == RepeatMode::DryRun {
            return Err(ApiError::DryRunOperation);
        }

        let command_id = input::new_command_id(draft, account, region);
        let invoke_id = input::new_invoke_id(draft, account, region);
        let context = BuiltInValues {
            region_id: region,
            account_id: account,
            instance_id: "",
            invoke_id: &invoke_id,
            command_id: &command_id,
        };
        let instances = input::runs(
            &self.content,
            self.enable_parameter,
            self.parameters.as_ref(),
            &context,
            &self.instance_ids,
            now,
        );
        let invocation = Invocation {
            id: invoke_id.clone(),
            command_id: command_id.clone(),
            command_name: self.name.clone(),
            command_description: self.description.clone(),
            command_type: self.command_type,
            content: self.content.clone(),
            parameters: ParameterValues::stored_text(self.parameters.as_ref()),
            timeout: self.timeout,
            working_dir: self.working_dir.clone(),
            username: self.username,
            repeat_mode: "Once".to_owned(),
            creation_time: now,
            launcher: self.echoed.launcher.clone(),
            container_id: self.echoed.container_id,
            container_name: self.echoed.container_name,
            termination_mode: self.echoed.termination_mode,
            oss_output_delivery: self.echoed.oss_output_delivery,
            tags: self.tags.clone(),
            instances,
        };
        if self.keep_command {
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
                launcher: self.echoed.launcher,
                resource_group_id: self.echoed.resource_group_id,
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
        }
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
                        answer: vec![command_id.clone(), invoke_id.clone()],
                    },
                },
            )?;
        }
        Ok(RunCommandResponse {
            request_id,
            command_id,
            invoke_id,
        })
    }
}

/// The answer, keys in the vendor sample's order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RunCommandResponse {
    /// The request id.
    pub request_id: String,
    /// The command made (retained or not).
    pub command_id: String,
    /// The invocation made.
    pub invoke_id: String,
}
