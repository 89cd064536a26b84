//! State, reset, instances, plug-ins and lifecycle events.
//!
//! Each change is one [`Change`] made through [`AppState::write`]: checked in full against the
//! data, committed to the state file (when there is one), then published and answered. A
//! refused request changes nothing, and an API page never sees half a change.

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

use super::{parse_json, query_params, read_body, read_json, AdminError, AdminPath, AdminResult};
use crate::engine::lifecycle::Event;
use crate::engine::{Applied, Change, DataError, PluginType, Refused, Store};
use crate::fixture::{
    self, Fixture, FixtureInstance, FixturePlugin, InstanceBody, PluginBody, Version,
};
use crate::state::{AppState, Draft};

/// `GET /_emulator/state`: the whole state as a fixture. Built and encoded from a snapshot on a
/// blocking thread: an export of millions of records holds up neither readers nor writers.
pub async fn export_state(State(state): State<AppState>) -> AdminResult<Response> {
    let snapshot = state.snapshot();
    let encoded =
        tokio::task::spawn_blocking(move || serde_json::to_vec(&Fixture::from_store(&snapshot)))
            .await;
    match encoded {
        Ok(Ok(bytes)) => Ok(([(header::CONTENT_TYPE, "application/json")], bytes).into_response()),
        Ok(Err(e)) => Err(AdminError::internal(format!(
            "the state could not be encoded: {e}"
        ))),
        Err(e) => Err(AdminError::internal(format!("the export failed: {e}"))),
    }
}

/// `PUT /_emulator/state`: replaces the whole state with a fixture, or changes nothing.
pub async fn replace_state(State(state): State<AppState>, body: Body) -> AdminResult<Response> {
    let bytes = read_body(body, super::MAX_STATE_BYTES).await?;
    // Parsing and building a large store is CPU work: keep it off the async workers.
    let built = tokio::task::spawn_blocking(move || -> AdminResult<Store> {
        let fixture: Fixture = parse_json(&bytes, false)?;
        fixture.into_store().map_err(|e| {
            let text = String::from_utf8_lossy(&bytes);
            let located = fixture::locate("body", &text, &e);
            AdminError::invalid_field(
                data_field(&e),
                format!("{} (line {}, column {})", e, located.line, located.column),
            )
        })
    })
    .await
    .map_err(|_| AdminError::invalid_json("body: could not be read"))??;
    let summary = fixture::summarize(&built);
    state.replace_store(built).await?;
    Ok(Json(summary).into_response())
}

/// `POST /_emulator/reset`: the seed data (the start-up data, or what the state file was
/// created from), no faults, an empty journal, real time.
pub async fn reset(State(state): State<AppState>) -> AdminResult<Response> {
    let seed = state.reset().await?;
    Ok(Json(fixture::summarize(&seed)).into_response())
}

/// The field a cross-record data error is about.
fn data_field(error: &DataError) -> &'static str {
    match error {
        DataError::DefaultAccount(_) => "accounts[].default",
        DataError::DuplicateAccount(_) => "accounts[].accountId",
        DataError::DuplicateAccessKey(_) => "accounts[].accessKeys[].id",
        DataError::UnknownAccount { .. } => "accountId",
        DataError::DuplicateInstance { .. } | DataError::UnknownInstance { .. } => "instanceId",
        DataError::DuplicatePlugin { .. } => "plugins[].name",
        DataError::DuplicateCatalogEntry(_) => "catalog[].name",
        DataError::BadLength { what, .. } => what,
    }
}

fn refused(error: DataError) -> AdminError {
    AdminError::invalid_field(data_field(&error), error)
}

/// Applies `change` to the data, or answers why it is refused (nothing changed).
pub(super) fn apply(draft: &mut Draft, change: Change) -> AdminResult<Applied> {
    draft.apply(change).map_err(|refusal| match refusal {
        Refused::Data(error) => refused(error),
        Refused::NoSuchPlugin { instance, name } => plugin_not_found(&instance, &name),
        Refused::Transition(refusal) => AdminError::conflict(format!("event: {refusal}")),
        // Command changes are not made here; any other refusal is a fault of the emulator.
        other @ (Refused::NoSuchCommand(_)
        | Refused::NoSuchInvocation(_)
        | Refused::NotInInvocation { .. }
        | Refused::IdInUse(_)) => AdminError::internal(other),
    })
}

fn instance_not_found(id: &str) -> AdminError {
    AdminError::not_found(
        "InstanceNotFound",
        format!("instanceId: instance {id} does not exist"),
    )
}

/// The `?accountId=` of an instance route, if given, checked to exist.
pub(super) fn account_param(store: &Store, uri: &Uri) -> AdminResult<Option<String>> {
    let params = query_params(uri.query(), &["accountId"])?;
    // An empty value is no value, as for the API's optional parameters.
    let account = params
        .into_iter()
        .next()
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty());
    if let Some(a) = &account {
        if !store.has_account(a) {
            return Err(AdminError::invalid_field(
                "accountId",
                format!("account {a} does not exist"),
            ));
        }
    }
    Ok(account)
}

/// The account of an existing instance: the one given, or the only one that has it.
pub(super) fn owner(store: &Store, id: &str, given: Option<String>) -> AdminResult<String> {
    if let Some(account) = given {
        return match store.instance_region(&account, id) {
            Some(_) => Ok(account),
            None => Err(instance_not_found(id)),
        };
    }
    match store.owners_of(id)[..] {
        [] => Err(instance_not_found(id)),
        [one] => Ok(one.to_owned()),
        ref many => Err(ambiguous(id, many)),
    }
}

fn ambiguous(id: &str, accounts: &[&str]) -> AdminError {
    AdminError::invalid_field(
        "accountId",
        format!(
            "instance {id} exists in accounts {}; say which with ?accountId=",
            accounts.join(", ")
        ),
    )
}

/// 201 for a creation, 200 for a replacement.
fn created_or_ok(applied: Applied) -> StatusCode {
    match applied {
        Applied::Created => StatusCode::CREATED,
        Applied::Replaced | Applied::Removed => StatusCode::OK,
    }
}

fn instance_json(store: &Store, account: &str, id: &str) -> FixtureInstance {
    let (region, instance) = store.instance(account, id).expect("the instance exists");
    FixtureInstance::from_instance(account, region, id, instance)
}

/// `PUT /_emulator/instances/{instanceId}`: creates (201) or replaces (200) an instance.
pub async fn put_instance(
    State(state): State<AppState>,
    AdminPath(id): AdminPath<String>,
    uri: Uri,
    body: Body,
) -> AdminResult<Response> {
    let body: InstanceBody = read_json(body, false).await?;
    check_text("instanceId", &id, 128)?;
    state
        .write(|store| {
            let given = account_param(store, &uri)?;
            let from_body = body.account_id.as_ref().map(|a| a.as_str().to_owned());
            let account = match (given, from_body) {
                (Some(q), Some(b)) if q != b => {
                    return Err(AdminError::invalid_field(
                        "accountId",
                        format!("the query says {q} and the body says {b}"),
                    ))
                }
                (Some(a), _) | (None, Some(a)) => a,
                (None, None) => match store.owners_of(&id)[..] {
                    [] => store.default_account().to_owned(),
                    [one] => one.to_owned(),
                    ref many => return Err(ambiguous(&id, many)),
                },
            };
            let plugins = body
                .plugins
                .into_iter()
                .map(FixturePlugin::into_named_record)
                .collect();
            let (os, agent) = fixture::os_and_agent(body.os_type, body.cloud_assistant.as_ref());
            let change = Change::PutInstance {
                account: account.clone(),
                region: body.region_id.as_str().to_owned(),
                instance_id: id.clone(),
                plugins,
                os,
                agent,
            };
            let applied = apply(store, change)?;
            Ok((
                created_or_ok(applied),
                Json(instance_json(store, &account, &id)),
            )
                .into_response())
        })
        .await
}

/// `GET /_emulator/instances/{instanceId}`.
pub async fn get_instance(
    State(state): State<AppState>,
    AdminPath(id): AdminPath<String>,
    uri: Uri,
) -> AdminResult<Response> {
    state.read(|store| {
        let account = owner(store, &id, account_param(store, &uri)?)?;
        Ok(Json(instance_json(store, &account, &id)).into_response())
    })
}

/// `DELETE /_emulator/instances/{instanceId}`.
pub async fn delete_instance(
    State(state): State<AppState>,
    AdminPath(id): AdminPath<String>,
    uri: Uri,
) -> AdminResult<StatusCode> {
    state
        .write(|store| {
            let account = owner(store, &id, account_param(store, &uri)?)?;
            let instance_id = id.clone();
            apply(
                store,
                Change::RemoveInstance {
                    account,
                    instance_id,
                },
            )?;
            Ok(StatusCode::NO_CONTENT)
        })
        .await
}

/// An id or name from the path: what the data file allows (1 to `max` characters that
/// [`crate::text::check`] accepts), as it is stored and answered in XML too.
fn check_text(field: &str, value: &str, max: usize) -> AdminResult<()> {
    let len = value.chars().count();
    if len == 0 || len > max {
        return Err(AdminError::invalid_field(
            field,
            format!("must be 1 to {max} characters, got {len}"),
        ));
    }
    crate::text::check(value).map_err(|refusal| AdminError::invalid_field(field, refusal))
}

fn check_name(name: &str) -> AdminResult<()> {
    check_text("name", name, crate::engine::MAX_NAME_CHARS)
}

fn plugin_json(store: &Store, account: &str, id: &str, name: &str) -> Option<FixturePlugin> {
    let (_, instance) = store.instance(account, id)?;
    let record = instance.plugins.get(name)?;
    Some(FixturePlugin::from_record(name, record))
}

fn plugin_not_found(id: &str, name: &str) -> AdminError {
    AdminError::not_found(
        "PluginNotFound",
        format!("name: instance {id} has no plug-in {name}"),
    )
}

/// `PUT /_emulator/instances/{instanceId}/plugins/{name}`: creates (201) or replaces (200).
pub async fn put_plugin(
    State(state): State<AppState>,
    AdminPath((id, name)): AdminPath<(String, String)>,
    uri: Uri,
    body: Body,
) -> AdminResult<Response> {
    let body: PluginBody = read_json(body, false).await?;
    check_name(&name)?;
    state
        .write(|store| {
            let account = owner(store, &id, account_param(store, &uri)?)?;
            let change = Change::PutPlugin {
                account: account.clone(),
                instance_id: id.clone(),
                name: name.clone(),
                record: body.into_record(),
            };
            let applied = apply(store, change)?;
            let json = plugin_json(store, &account, &id, &name).expect("just stored");
            Ok((created_or_ok(applied), Json(json)).into_response())
        })
        .await
}

/// `GET /_emulator/instances/{instanceId}/plugins/{name}`.
pub async fn get_plugin(
    State(state): State<AppState>,
    AdminPath((id, name)): AdminPath<(String, String)>,
    uri: Uri,
) -> AdminResult<Response> {
    state.read(|store| {
        let account = owner(store, &id, account_param(store, &uri)?)?;
        let json =
            plugin_json(store, &account, &id, &name).ok_or_else(|| plugin_not_found(&id, &name))?;
        Ok(Json(json).into_response())
    })
}

/// `DELETE /_emulator/instances/{instanceId}/plugins/{name}`: the record is gone, not
/// `Removed` (that is the `remove` event).
pub async fn delete_plugin(
    State(state): State<AppState>,
    AdminPath((id, name)): AdminPath<(String, String)>,
    uri: Uri,
) -> AdminResult<StatusCode> {
    state
        .write(|store| {
            let account = owner(store, &id, account_param(store, &uri)?)?;
            let change = Change::RemovePlugin {
                account,
                instance_id: id.clone(),
                name: name.clone(),
            };
            apply(store, change)?;
            Ok(StatusCode::NO_CONTENT)
        })
        .await
}

/// The optional body of a lifecycle event.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct EventBody {
    /// The version the agent reports.
    #[serde(default)]
    version: Option<Version>,
    /// `Once` or `Persist`; default the catalog's, else `Persist`.
    #[serde(default, rename = "type")]
    plugin_type: Option<PluginType>,
}

/// `POST /_emulator/instances/{instanceId}/plugins/{name}/{event}`: what the agent reports.
pub async fn plugin_event(
    State(state): State<AppState>,
    AdminPath((id, name, event)): AdminPath<(String, String, String)>,
    uri: Uri,
    body: Body,
) -> AdminResult<Response> {
    let Some(event) = Event::parse(&event) else {
        let known: Vec<&str> = Event::ALL.iter().map(|e| e.as_str()).collect();
        return Err(AdminError::not_found(
            "RouteNotFound",
            format!(
                "event: unknown event {event}; events are {}",
                known.join(", ")
            ),
        ));
    };
    let body: EventBody = read_json(body, true).await?;
    check_name(&name)?;
    let now = state.now();
    state
        .write(|store| {
            let account = owner(store, &id, account_param(store, &uri)?)?;
            let change = Change::PluginEvent {
                account: account.clone(),
                instance_id: id.clone(),
                name: name.clone(),
                event,
                plugin_type: body.plugin_type,
                version: body.version.map(String::from),
                at: now,
            };
            apply(store, change)?;
            let json = plugin_json(store, &account, &id, &name).expect("just stored");
            Ok(Json(json).into_response())
        })
        .await
}
