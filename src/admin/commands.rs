//! Cloud Assistant in the control plane (SPEC 9.7): an instance's agent state, the command
//! rules that say what a run does, and every invocation with its runs (read only).
//!
//! The agent state is data: set through [`Change::SetAgent`], durable like every change. The
//! command rules are test-session state like the fault rules: kept in memory only and cleared
//! by `reset`.

use axum::body::Body;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use super::data::{account_param, apply, owner};
use super::{query_params, read_json, AdminError, AdminPath, AdminResult};
use crate::api::describe::time as wire_time;
use crate::command_rules::{CommandRuleSpec, CommandRuleView};
use crate::engine::commands::{seq_of, Invocation};
use crate::engine::Change;
use crate::fixture::CloudAssistant;
use crate::state::AppState;

/// `PUT /_emulator/instances/{instanceId}/cloud-assistant`: the fields given are put over the
/// instance's agent state; answers the whole state. An agent that is (still) installed and
/// online delivers the runs waiting for it from now. Giving `installed` settles the agent:
/// an installation under way (InstallCloudAssistant) is called off.
pub async fn put_cloud_assistant(
    State(state): State<AppState>,
    AdminPath(id): AdminPath<String>,
    uri: Uri,
    body: Body,
) -> AdminResult<Response> {
    let body: CloudAssistant = read_json(body, false).await?;
    let now = crate::clock::whole_seconds(state.now());
    state
        .write(|store| {
            let account = owner(store, &id, account_param(store, &uri)?)?;
            let (_, instance) = store
                .instance(&account, &id)
                .ok_or_else(|| AdminError::internal(format!("instance {id} vanished")))?;
            let mut agent = body.merged_into(instance.agent.clone());
            if body.installed.is_some() {
                agent.ready_at = None;
            }
            let change = Change::SetAgent {
                account: account.clone(),
                instance_id: id.clone(),
                agent,
                at: now,
            };
            apply(store, change)?;
            let (_, instance) = store
                .instance(&account, &id)
                .ok_or_else(|| AdminError::internal(format!("instance {id} vanished")))?;
            Ok(Json(CloudAssistant::from_state(instance.agent)).into_response())
        })
        .await
}

#[derive(Serialize)]
struct RuleList {
    rules: Vec<CommandRuleView>,
}

/// `GET /_emulator/commands`: every rule, in the order tried, with how many runs it applied to.
pub async fn list_rules(State(state): State<AppState>) -> Json<impl Serialize> {
    Json(RuleList {
        rules: state.command_rules(|rules| rules.list()),
    })
}

/// `POST /_emulator/commands`: adds a rule (201, with its id).
pub async fn add_rule(State(state): State<AppState>, body: Body) -> AdminResult<Response> {
    let spec: CommandRuleSpec = read_json(body, false).await?;
    let rule = state
        .command_rules(|rules| rules.add(spec))
        .map_err(|e| AdminError::invalid_field(e.field, e.message))?;
    Ok((StatusCode::CREATED, Json(rule)).into_response())
}

/// `DELETE /_emulator/commands`: every rule.
pub async fn clear_rules(State(state): State<AppState>) -> StatusCode {
    state.command_rules(|rules| rules.clear());
    StatusCode::NO_CONTENT
}

fn rule_not_found(id: &str) -> AdminError {
    AdminError::not_found("CommandRuleNotFound", format!("id: no command rule {id}"))
}

/// `GET /_emulator/commands/{id}`.
pub async fn get_rule(
    State(state): State<AppState>,
    AdminPath(id): AdminPath<String>,
) -> AdminResult<Json<CommandRuleView>> {
    state
        .command_rules(|rules| rules.list().into_iter().find(|r| r.id == id))
        .map(Json)
        .ok_or_else(|| rule_not_found(&id))
}

/// `DELETE /_emulator/commands/{id}`.
pub async fn delete_rule(
    State(state): State<AppState>,
    AdminPath(id): AdminPath<String>,
) -> AdminResult<StatusCode> {
    if state.command_rules(|rules| rules.remove(&id)) {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(rule_not_found(&id))
    }
}

/// Default and largest number of invocations `GET /_emulator/invocations` answers.
const DEFAULT_INVOCATIONS: usize = 100;
const MAX_INVOCATIONS: usize = 1_000;

#[derive(Serialize)]
struct InvocationList {
    invocations: Vec<InvocationView>,
}

/// One invocation as the control plane shows it: texts decoded, every account and region.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct InvocationView {
    invoke_id: String,
    account_id: String,
    region_id: String,
    command_id: String,
    command_name: String,
    command_type: &'static str,
    /// The script as given, decoded as UTF-8 (invalid bytes replaced).
    content: String,
    creation_time: String,
    invocation_status: &'static str,
    instances: Vec<RunView>,
}

/// One instance's run of an invocation.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RunView {
    instance_id: String,
    invocation_status: &'static str,
    exit_code: i64,
    /// The kept output, decoded as UTF-8 (invalid bytes replaced).
    output: String,
    /// Bytes of output cut from the front (only the last 24,576 are kept).
    dropped: u64,
    error_code: String,
    error_info: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    start_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    finish_time: Option<String>,
    update_time: String,
}

impl InvocationView {
    fn of(account: &str, region: &str, invocation: &Invocation) -> Self {
        Self {
            invoke_id: invocation.id.clone(),
            account_id: account.to_owned(),
            region_id: region.to_owned(),
            command_id: invocation.command_id.clone(),
            command_name: invocation.command_name.clone(),
            command_type: invocation.command_type.as_str(),
            content: String::from_utf8_lossy(&invocation.content).into_owned(),
            creation_time: wire_time(invocation.creation_time),
            invocation_status: invocation.status().as_str(),
            instances: invocation
                .instances
                .iter()
                .map(|run| RunView {
                    instance_id: run.instance_id.clone(),
                    invocation_status: run.status.as_str(),
                    exit_code: run.exit_code,
                    output: String::from_utf8_lossy(&run.output).into_owned(),
                    dropped: run.dropped,
                    error_code: run.error_code.clone(),
                    error_info: run.error_info.clone(),
                    start_time: run.start_time.map(wire_time),
                    finish_time: run.finish_time.map(wire_time),
                    update_time: wire_time(run.update_time),
                })
                .collect(),
        }
    }
}

/// `GET /_emulator/invocations?instanceId=&limit=`: the invocations of every account and
/// region, newest first (by creation time, then by the order they were made), with each
/// instance's run; `instanceId` keeps those that ran on it. What DescribeInvocations and
/// DescribeInvocationResults tell one account in one region, for a test or the dashboard to
/// read without signing, without knowing the account, and without entering the journal.
pub async fn list_invocations(State(state): State<AppState>, uri: Uri) -> AdminResult<Response> {
    let mut instance_id = None;
    let mut limit = DEFAULT_INVOCATIONS;
    for (key, value) in query_params(uri.query(), &["instanceId", "limit"])? {
        if key == "instanceId" {
            instance_id = Some(value);
        } else {
            limit = value
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=MAX_INVOCATIONS).contains(n))
                .ok_or_else(|| {
                    AdminError::invalid_field(
                        "limit",
                        format!("must be a whole number from 1 to {MAX_INVOCATIONS}"),
                    )
                })?;
        }
    }
    let invocations = state.read(|store| {
        let mut found: Vec<(&str, &str, u64, &Invocation)> = store
            .spaces()
            .flat_map(|(account, region, space)| {
                space
                    .invocations()
                    .iter()
                    .map(move |(key, inv)| (account, region, *key, inv.as_ref()))
            })
            .filter(|(_, _, _, inv)| {
                instance_id
                    .as_deref()
                    .is_none_or(|id| inv.instances.iter().any(|run| run.instance_id == id))
            })
            .collect();
        // Newest first: the later creation time, then the later sequence number.
        found.sort_by(|a, b| {
            (b.3.creation_time, seq_of(b.2)).cmp(&(a.3.creation_time, seq_of(a.2)))
        });
        found
            .into_iter()
            .take(limit)
            .map(|(account, region, _, inv)| InvocationView::of(account, region, inv))
            .collect()
    });
    Ok(Json(InvocationList { invocations }).into_response())
}
