//! Health, readiness, the OpenAPI description, the clock, the request journal and the fault
//! rules.

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{query_params, read_json, AdminError, AdminPath, AdminResult};
use crate::faults::{FaultSpec, RuleView};
use crate::journal::{Filter, RecordedRequest};
use crate::state::AppState;

/// The OpenAPI 3 description of the control plane, served as is.
pub const OPENAPI: &str = include_str!("openapi.json");

/// `GET /_emulator/health`: the process is up.
pub async fn health() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

/// `GET /_emulator/ready`: the data is loaded and the API is served. The router exists only
/// once the data is loaded, so answering at all means ready.
pub async fn ready() -> Json<serde_json::Value> {
    Json(json!({"status": "ready"}))
}

/// `GET /_emulator/openapi.json`.
pub async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

/// `GET /_emulator/metrics`: the Prometheus text format (see [`crate::metrics`]).
pub async fn metrics(State(state): State<AppState>) -> Response {
    let text = state.read(|store| state.metrics().render(store));
    ([(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)], text).into_response()
}

#[derive(Serialize)]
struct Requests {
    requests: Vec<RecordedRequest>,
}

/// `GET /_emulator/requests?action=&code=&limit=`: newest first.
pub async fn list_requests(State(state): State<AppState>, uri: Uri) -> AdminResult<Response> {
    let mut filter = Filter::default();
    for (key, value) in query_params(uri.query(), &["action", "code", "instanceId", "limit"])? {
        match key.as_str() {
            "action" => filter.action = Some(value),
            "instanceId" => filter.instance_id = Some(value),
            "code" => filter.code = Some(value),
            _ => {
                let limit = value
                    .parse::<usize>()
                    .ok()
                    .filter(|&n| n >= 1)
                    .ok_or_else(|| {
                        AdminError::invalid_field("limit", "must be a whole number of at least 1")
                    })?;
                filter.limit = Some(limit);
            }
        }
    }
    let requests = state.journal(|journal| journal.query(&filter));
    Ok(Json(Requests { requests }).into_response())
}

/// `DELETE /_emulator/requests`.
pub async fn clear_requests(State(state): State<AppState>) -> StatusCode {
    state.journal(|journal| journal.clear());
    StatusCode::NO_CONTENT
}

#[derive(Serialize)]
struct FaultList {
    faults: Vec<RuleView>,
}

/// `GET /_emulator/faults`: every rule with how often it fired.
pub async fn list_faults(State(state): State<AppState>) -> Json<impl Serialize> {
    Json(FaultList {
        faults: state.faults(|faults| faults.list()),
    })
}

/// `POST /_emulator/faults`: adds a rule (201, with its id).
pub async fn add_fault(State(state): State<AppState>, body: Body) -> AdminResult<Response> {
    let spec: FaultSpec = read_json(body, false).await?;
    let rule = state
        .faults(|faults| faults.add(spec))
        .map_err(|e| AdminError::invalid_field(e.field, e.message))?;
    Ok((StatusCode::CREATED, Json(rule)).into_response())
}

/// `DELETE /_emulator/faults`: every rule.
pub async fn clear_faults(State(state): State<AppState>) -> StatusCode {
    state.faults(|faults| faults.clear());
    StatusCode::NO_CONTENT
}

fn fault_not_found(id: &str) -> AdminError {
    AdminError::not_found("FaultNotFound", format!("id: no fault rule {id}"))
}

/// `GET /_emulator/faults/{id}`.
pub async fn get_fault(
    State(state): State<AppState>,
    AdminPath(id): AdminPath<String>,
) -> AdminResult<Json<RuleView>> {
    state
        .faults(|faults| faults.list().into_iter().find(|r| r.id == id))
        .map(Json)
        .ok_or_else(|| fault_not_found(&id))
}

/// `DELETE /_emulator/faults/{id}`.
pub async fn delete_fault(
    State(state): State<AppState>,
    AdminPath(id): AdminPath<String>,
) -> AdminResult<StatusCode> {
    if state.faults(|faults| faults.remove(&id)) {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(fault_not_found(&id))
    }
}

/// The body of `PUT /_emulator/clock`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClockBody {
    /// The time to set; default the emulator's current time.
    #[serde(default, deserialize_with = "rfc3339")]
    now: Option<DateTime<Utc>>,
    /// Stand still (true) or run on from `now` (false, the default).
    #[serde(default)]
    frozen: bool,
}

/// An RFC 3339 time, with a message that says what is expected (chrono's own says only
/// "input contains invalid characters", e.g. for a five-digit year).
fn rfc3339<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
    let Some(text) = Option::<String>::deserialize(d)? else {
        return Ok(None);
    };
    text.parse::<DateTime<Utc>>().map(Some).map_err(|e| {
        serde::de::Error::custom(format!(
            "{text:?} is not an RFC 3339 time from 0001-01-01T00:00:00Z to \
                 9999-12-31T23:59:59Z, like 2026-01-01T00:00:00Z ({e})"
        ))
    })
}

/// `GET /_emulator/clock`.
pub async fn get_clock(State(state): State<AppState>) -> Response {
    Json(state.clock().view()).into_response()
}

/// `PUT /_emulator/clock`: `{"now"?, "frozen"?}`; a `now` outside years 1 to 9999 is 400.
pub async fn set_clock(State(state): State<AppState>, body: Body) -> AdminResult<Response> {
    let body: ClockBody = read_json(body, false).await?;
    state
        .clock()
        .set(body.now, body.frozen)
        .map_err(|refusal| AdminError::invalid_field("now", refusal))?;
    Ok(Json(state.clock().view()).into_response())
}

/// `DELETE /_emulator/clock`: back to real time.
pub async fn real_clock(State(state): State<AppState>) -> StatusCode {
    state.clock().reset();
    StatusCode::NO_CONTENT
}
