//! Cloud Assistant in the control plane (SPEC 9.7): an instance's agent state, and the command
//! rules that say what a run does.
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
use super::{read_json, AdminError, AdminPath, AdminResult};
use crate::command_rules::{CommandRuleSpec, CommandRuleView};
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
