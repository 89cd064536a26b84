//! The operations: the list of those the emulator answers, the dispatch to them, and one file
//! per operation with its typed request and response.
//!
//! The wire ([`crate::rpc`]) knows no operation by name: it resolves the `Action` through
//! [`Operation::parse`] and hands the request to [`dispatch`]. Adding an operation touches this
//! module only (its file, a variant of [`Operation`], an arm of [`dispatch`]) and the error codes
//! in [`crate::error`]. [`paging`] and [`next_token`] are shared by every paged operation,
//! [`parse`] reads the parameters several operations share.

pub mod command_input;
pub mod create_command;
pub mod delete_command;
pub mod describe;
pub mod describe_cloud_assistant_status;
pub mod describe_commands;
pub mod describe_invocation_results;
pub mod describe_invocations;
pub mod install_cloud_assistant;
pub mod invoke_command;
pub mod list_plugin_status;
pub mod next_token;
pub mod paging;
pub mod parse;
pub mod run_command;
pub mod stop_invocation;

use axum::response::Response;

use crate::error::ApiError;
use crate::rpc::params::Params;
use crate::rpc::render::ReplyTo;
use crate::state::{AppState, WriteFailed};
use create_command::CreateCommandRequest;
use delete_command::{DeleteCommandRequest, DeleteCommandResponse};
use describe_cloud_assistant_status::DescribeCloudAssistantStatusRequest;
use describe_commands::DescribeCommandsRequest;
use describe_invocation_results::DescribeInvocationResultsRequest;
use describe_invocations::DescribeInvocationsRequest;
use invoke_command::InvokeCommandRequest;
use list_plugin_status::ListPluginStatusRequest;
use run_command::RunCommandRequest;
use stop_invocation::{StopInvocationRequest, StopInvocationResponse};

/// The operations this emulator answers; an operation is listed once it is implemented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// ListPluginStatus (SPEC section 4).
    ListPluginStatus,
    /// DescribeCloudAssistantStatus (SPEC 9.2, 9.6).
    DescribeCloudAssistantStatus,
    /// InstallCloudAssistant (SPEC 9.2, 9.6).
    InstallCloudAssistant,
    /// RunCommand (SPEC 9.2).
    RunCommand,
    /// CreateCommand (SPEC 9.2).
    CreateCommand,
    /// InvokeCommand (SPEC 9.2).
    InvokeCommand,
    /// DescribeCommands (SPEC 9.2).
    DescribeCommands,
    /// DeleteCommand (SPEC 9.2).
    DeleteCommand,
    /// DescribeInvocations (SPEC 9.2).
    DescribeInvocations,
    /// DescribeInvocationResults (SPEC 9.2).
    DescribeInvocationResults,
    /// StopInvocation (SPEC 9.2).
    StopInvocation,
}

impl Operation {
    /// Every operation, in the order listed.
    pub const ALL: &'static [Self] = &[
        Self::ListPluginStatus,
        Self::DescribeCloudAssistantStatus,
        Self::InstallCloudAssistant,
        Self::RunCommand,
        Self::CreateCommand,
        Self::InvokeCommand,
        Self::DescribeCommands,
        Self::DeleteCommand,
        Self::DescribeInvocations,
        Self::DescribeInvocationResults,
        Self::StopInvocation,
    ];

    /// The wire name, as in `Action`.
    pub fn name(self) -> &'static str {
        match self {
            Self::ListPluginStatus => "ListPluginStatus",
            Self::DescribeCloudAssistantStatus => "DescribeCloudAssistantStatus",
            Self::InstallCloudAssistant => "InstallCloudAssistant",
            Self::RunCommand => "RunCommand",
            Self::CreateCommand => "CreateCommand",
            Self::InvokeCommand => "InvokeCommand",
            Self::DescribeCommands => "DescribeCommands",
            Self::DeleteCommand => "DeleteCommand",
            Self::DescribeInvocations => "DescribeInvocations",
            Self::DescribeInvocationResults => "DescribeInvocationResults",
            Self::StopInvocation => "StopInvocation",
        }
    }

    /// The operation an `Action` names, exactly as spelled; `None` for any other name.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "ListPluginStatus" => Some(Self::ListPluginStatus),
            "DescribeCloudAssistantStatus" => Some(Self::DescribeCloudAssistantStatus),
            "InstallCloudAssistant" => Some(Self::InstallCloudAssistant),
            "RunCommand" => Some(Self::RunCommand),
            "CreateCommand" => Some(Self::CreateCommand),
            "InvokeCommand" => Some(Self::InvokeCommand),
            "DescribeCommands" => Some(Self::DescribeCommands),
            "DeleteCommand" => Some(Self::DeleteCommand),
            "DescribeInvocations" => Some(Self::DescribeInvocations),
            "DescribeInvocationResults" => Some(Self::DescribeInvocationResults),
            "StopInvocation" => Some(Self::StopInvocation),
            _ => None,
        }
    }

    /// The XML root element of the operation's answer.
    pub fn response_root(self) -> &'static str {
        match self {
            Self::ListPluginStatus => "ListPluginStatusResponse",
            Self::DescribeCloudAssistantStatus => "DescribeCloudAssistantStatusResponse",
            Self::InstallCloudAssistant => "InstallCloudAssistantResponse",
            Self::RunCommand => "RunCommandResponse",
            Self::CreateCommand => "CreateCommandResponse",
            Self::InvokeCommand => "InvokeCommandResponse",
            Self::DescribeCommands => "DescribeCommandsResponse",
            Self::DeleteCommand => "DeleteCommandResponse",
            Self::DescribeInvocations => "DescribeInvocationsResponse",
            Self::DescribeInvocationResults => "DescribeInvocationResultsResponse",
            Self::StopInvocation => "StopInvocationResponse",
        }
    }
}

/// Runs `operation` for the caller's `account` and renders its success through `reply`; its
/// error is the caller's to render. Reads take one snapshot of the data each; writes go through
/// [`AppState::write`], which answers once the change is durable.
pub async fn dispatch(
    state: &AppState,
    operation: Operation,
    params: &Params<'_>,
    account: String,
    reply: &ReplyTo,
) -> Result<Response, ApiError> {
    // Runs and agents move on with the clock before any answer shows them (SPEC 9.4).
    state.catch_up().await?;
    match operation {
        Operation::ListPluginStatus => {
            // The page is encoded straight from one snapshot of the data.
            state.read(|store| {
                let request =
                    ListPluginStatusRequest::parse(params, &account, store, state.tokens())?;
                let page = request.list(store)?;
                let body = request.respond(&page, state.tokens(), &reply.request_id);
                Ok(reply.success(operation.response_root(), &body))
            })
        }
        Operation::DescribeCloudAssistantStatus => {
            let now = state.now();
            let body = state.read(|store| {
                let request = DescribeCloudAssistantStatusRequest::parse(
                    params,
                    &account,
                    store,
                    state.tokens(),
                )?;
                request.execute(store, state.tokens(), now, reply.request_id.clone())
            })?;
            Ok(reply.success(operation.response_root(), &body))
        }
        Operation::DescribeCommands => {
            let body = state.read(|store| {
                let request =
                    DescribeCommandsRequest::parse(params, &account, store, state.tokens())?;
                request.execute(store, state.tokens(), reply.request_id.clone())
            })?;
            Ok(reply.success(operation.response_root(), &body))
        }
        Operation::DescribeInvocations => {
            let body = state.read(|store| {
                let request =
                    DescribeInvocationsRequest::parse(params, &account, store, state.tokens())?;
                request.execute(store, state.tokens(), reply.request_id.clone())
            })?;
            Ok(reply.success(operation.response_root(), &body))
        }
        Operation::DescribeInvocationResults => {
            let body = state.read(|store| {
                let request = DescribeInvocationResultsRequest::parse(
                    params,
                    &account,
                    store,
                    state.tokens(),
                )?;
                request.execute(store, state.tokens(), reply.request_id.clone())
            })?;
            Ok(reply.success(operation.response_root(), &body))
        }
        Operation::InstallCloudAssistant => {
            let body =
                install_cloud_assistant::execute(state, params, &account, reply.request_id.clone())
                    .await?;
            Ok(reply.success(operation.response_root(), &body))
        }
        // A change is checked and made in one turn of the writers, so two requests cannot both
        // pass a check (a client token, the quota) that only one of them may pass.
        Operation::RunCommand => {
            let now = crate::clock::whole_seconds(state.now());
            let body = state
                .write(|draft| {
                    let request = RunCommandRequest::parse(params, draft)?;
                    request.execute(draft, &account, now, reply.request_id.clone())
                })
                .await?;
            Ok(reply.success(operation.response_root(), &body))
        }
        Operation::CreateCommand => {
            let now = crate::clock::whole_seconds(state.now());
            let body = state
                .write(|draft| {
                    let request = CreateCommandRequest::parse(params, draft)?;
                    request.execute(draft, &account, now, reply.request_id.clone())
                })
                .await?;
            Ok(reply.success(operation.response_root(), &body))
        }
        Operation::InvokeCommand => {
            let now = crate::clock::whole_seconds(state.now());
            let body = state
                .write(|draft| {
                    let request = InvokeCommandRequest::parse(params, draft)?;
                    request.execute(draft, &account, now, reply.request_id.clone())
                })
                .await?;
            Ok(reply.success(operation.response_root(), &body))
        }
        Operation::DeleteCommand => {
            // Checked against the data the change applies to, so it cannot be refused.
            state
                .write(|draft| {
                    let request = DeleteCommandRequest::parse(params, &account, draft)?;
                    draft.apply(request.change()).map_err(WriteFailed::from)?;
                    Ok::<_, ApiError>(())
                })
                .await?;
            let body = DeleteCommandResponse {
                request_id: reply.request_id.clone(),
            };
            Ok(reply.success(operation.response_root(), &body))
        }
        Operation::StopInvocation => {
            let now = state.now();
            state
                .write(|draft| {
                    let request = StopInvocationRequest::parse(params, &account, draft)?;
                    draft
                        .apply(request.change(now))
                        .map_err(WriteFailed::from)?;
                    Ok::<_, ApiError>(())
                })
                .await?;
            let body = StopInvocationResponse {
                request_id: reply.request_id.clone(),
            };
            Ok(reply.success(operation.response_root(), &body))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_back_and_nothing_else_does() {
        for &operation in Operation::ALL {
            assert_eq!(Operation::parse(operation.name()), Some(operation));
            assert_eq!(
                operation.response_root(),
                format!("{}Response", operation.name())
            );
        }
        for other in [
            "",
            "listpluginstatus",
            "ListPluginStatus ",
            "DescribeInstances",
        ] {
            assert_eq!(Operation::parse(other), None, "{other:?}");
        }
    }
}
