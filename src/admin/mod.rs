//! The control plane, `/_emulator/` (SPEC section 7): JSON in and out, for tests to set up
//! state, drive plug-in lifecycles, move the clock, inject faults and read the request journal.
//!
//! - [`data`]: `state`, `reset`, instances, plug-ins and lifecycle events.
//! - [`ops`]: `health`, `ready`, `openapi.json`, `metrics`, `clock`, `requests`, `faults`.
//! - [`commands`]: an instance's Cloud Assistant agent, the command rules, the invocations.
//!
//! Every error is `{"code", "message"}` with the message naming the bad field; a refused
//! request changes nothing. With `--admin-token`, every route but `health` and `ready` wants
//! `Authorization: Bearer TOKEN` and answers 401 otherwise, before reading anything. Every
//! route must be received and handled within `--request-timeout`, else 408 `RequestTimeout`.

mod commands;
mod data;
mod ops;

use axum::body::{Body, Bytes};
use axum::extract::{FromRequestParts, OriginalUri, Request, State};
use axum::http::{header, request::Parts, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tower_http::catch_panic::CatchPanicLayer;

use crate::state::AppState;

/// Where the control plane lives.
pub const PREFIX: &str = "/_emulator";
/// Largest body of `PUT /_emulator/state`.
pub const MAX_STATE_BYTES: usize = 256 << 20;
/// Largest body of every other route.
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// The control-plane routes, nested under [`PREFIX`] by [`crate::app`].
pub fn router(state: AppState) -> Router<AppState> {
    let open = Router::new()
        .route("/health", get(ops::health))
        .route("/ready", get(ops::ready));
    let guarded = Router::new()
        .route("/openapi.json", get(ops::openapi))
        .route("/metrics", get(ops::metrics))
        .route("/state", get(data::export_state).put(data::replace_state))
        .route("/reset", post(data::reset))
        .route(
            "/instances/{instance_id}",
            put(data::put_instance)
                .get(data::get_instance)
                .delete(data::delete_instance),
        )
        .route(
            "/instances/{instance_id}/plugins/{name}",
            put(data::put_plugin)
                .get(data::get_plugin)
                .delete(data::delete_plugin),
        )
        .route(
            "/instances/{instance_id}/plugins/{name}/{event}",
            post(data::plugin_event),
        )
        .route(
            "/instances/{instance_id}/cloud-assistant",
            put(commands::put_cloud_assistant),
        )
        .route(
            "/commands",
            get(commands::list_rules)
                .post(commands::add_rule)
                .delete(commands::clear_rules),
        )
        .route(
            "/commands/{id}",
            get(commands::get_rule).delete(commands::delete_rule),
        )
        .route("/invocations", get(commands::list_invocations))
        .route(
            "/requests",
            get(ops::list_requests).delete(ops::clear_requests),
        )
        .route(
            "/faults",
            get(ops::list_faults)
                .post(ops::add_fault)
                .delete(ops::clear_faults),
        )
        .route(
            "/faults/{id}",
            get(ops::get_fault).delete(ops::delete_fault),
        )
        .route(
            "/clock",
            get(ops::get_clock)
                .put(ops::set_clock)
                .delete(ops::real_clock),
        )
        .fallback(route_not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), catch_up))
        .layer(middleware::from_fn_with_state(state.clone(), require_token));
    open.method_not_allowed_fallback(method_not_allowed)
        .merge(crate::ui::router(state.clone()))
        .merge(guarded)
        .layer(middleware::from_fn_with_state(state, bound_time))
        .layer(CatchPanicLayer::custom(panic_response))
}

/// `/_emulator/` itself: no route, answered like any unknown control-plane path (behind the
/// token like them).
pub fn bare_prefix(state: AppState) -> axum::routing::MethodRouter<AppState> {
    axum::routing::any(route_not_found)
        .layer::<_, std::convert::Infallible>(middleware::from_fn_with_state(
            state.clone(),
            require_token,
        ))
        .layer::<_, std::convert::Infallible>(middleware::from_fn_with_state(state, bound_time))
        .layer(CatchPanicLayer::custom(panic_response))
}

/// A panic in a control-plane route is a fault of the emulator: logged in detail, and answered
/// 500 `{"code": "InternalError", "message"}` (SPEC section 7), not in the API's envelope.
fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let detail = crate::panic_detail(panic.as_ref());
    AdminError::internal(format_args!("a handler panicked: {detail}")).into_response()
}

/// 408 `RequestTimeout` unless the request is received and handled within
/// `--request-timeout`. A handler is only stopped where it awaits (reading the body, waiting for
/// a blocking task), before it changes anything, so a timed-out request changes nothing.
async fn bound_time(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let limit = state.request_timeout();
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => AdminError::new(
            StatusCode::REQUEST_TIMEOUT,
            "RequestTimeout",
            format!(
                "request: not received and handled within {} seconds (--request-timeout)",
                limit.as_secs()
            ),
        )
        .into_response(),
    }
}

/// A control-plane error: `{"code", "message"}` with its status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    code: &'a str,
    message: &'a str,
}

impl AdminError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    /// 400 `InvalidJson`: the body is not JSON at all.
    pub fn invalid_json(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "InvalidJson", message)
    }

    /// 400 `InvalidField`: a field (named first in the message) has a bad value.
    pub fn invalid_field(field: &str, message: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "InvalidField",
            format!("{field}: {message}"),
        )
    }

    /// 404 with a code like `InstanceNotFound`.
    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }

    /// 500 `InternalError`: a fault of the emulator itself (logged in detail).
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(%detail, "a control-plane request failed");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            "The emulator failed while handling this request; the fault is logged.",
        )
    }

    /// 409 `InvalidTransition`: an event that makes no sense in the plug-in's state.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "InvalidTransition", message)
    }
}

impl From<crate::state::WriteFailed> for AdminError {
    fn from(failed: crate::state::WriteFailed) -> Self {
        use crate::state::WriteFailed;
        match failed {
            WriteFailed::Stopped => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "ServiceUnavailable",
                "The emulator is stopping and takes no more changes; nothing changed.",
            ),
            WriteFailed::Refused(refused) => Self::conflict(refused.to_string()),
            WriteFailed::NotDurable(_) | WriteFailed::NoSeed => {
                tracing::error!(detail = %failed, "a change could not be made");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "InternalError",
                    "The change could not be written to the state file, so nothing changed; \
                     the cause is logged.",
                )
            }
        }
    }
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            code: self.code,
            message: &self.message,
        };
        let mut response = (self.status, Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// What every control-plane handler answers.
pub type AdminResult<T> = Result<T, AdminError>;

/// Brings Cloud Assistant runs and agents to the emulator's clock before the route answers
/// (SPEC 9.4: every route but `health` and `ready`).
async fn catch_up(State(state): State<AppState>, request: Request, next: Next) -> Response {
    match state.catch_up().await {
        Ok(()) => next.run(request).await,
        Err(failed) => AdminError::from(failed).into_response(),
    }
}

/// 401 unless the request carries the admin token (when one is set). Compared in constant time.
async fn require_token(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if let Some(expected) = state.admin_token() {
        let given = bearer_token(request.headers()).unwrap_or_default();
        if !constant_time_eq(given.as_bytes(), expected.as_bytes()) {
            return AdminError::new(
                StatusCode::UNAUTHORIZED,
                "Unauthorized",
                "Authorization: a valid 'Bearer TOKEN' (the --admin-token) is required",
            )
            .into_response();
        }
    }
    next.run(request).await
}

/// The token of `Authorization: Bearer TOKEN`, trimmed.
pub(crate) fn bearer_token(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
}

/// True when `a` and `b` are equal, compared in time that does not depend on where they differ.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn route_not_found(method: Method, OriginalUri(uri): OriginalUri) -> AdminError {
    AdminError::not_found(
        "RouteNotFound",
        format!(
            "path: no control-plane route {method} {}; GET {PREFIX}/openapi.json lists them",
            uri.path()
        ),
    )
}

pub(crate) async fn method_not_allowed(
    method: Method,
    OriginalUri(uri): OriginalUri,
) -> AdminError {
    AdminError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "MethodNotAllowed",
        format!("method: {method} is not allowed on {}", uri.path()),
    )
}

/// Reads a whole body of at most `limit` bytes.
pub async fn read_body(body: Body, limit: usize) -> AdminResult<Bytes> {
    axum::body::to_bytes(body, limit).await.map_err(|_| {
        AdminError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "BodyTooLarge",
            format!("body: larger than {limit} bytes"),
        )
    })
}

/// Reads and parses a JSON object body of at most [`MAX_BODY_BYTES`].
pub async fn read_json<T: DeserializeOwned>(body: Body, allow_empty: bool) -> AdminResult<T> {
    parse_json(&read_body(body, MAX_BODY_BYTES).await?, allow_empty)
}

/// Parses a JSON body; the error names the field by its path (`instances[2].plugins[0].status`).
/// An empty body is refused unless `T` is read from `{}` (`allow_empty`).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8], allow_empty: bool) -> AdminResult<T> {
    let blank = bytes.iter().all(u8::is_ascii_whitespace);
    let bytes: &[u8] = if blank && allow_empty { b"{}" } else { bytes };
    if blank && !allow_empty {
        return Err(AdminError::invalid_json(
            "body: empty; a JSON object is expected",
        ));
    }
    // Syntax first, so that every later error is about a field's value: serde_json reports
    // some type errors (a number where an enum's name belongs) as syntax errors.
    serde_json::from_slice::<serde::de::IgnoredAny>(bytes).map_err(|e| json_error(".", e, true))?;
    // serde would read a struct from an array too, by position; every body here is an object.
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(AdminError::invalid_field(
            "body",
            "a JSON object is expected",
        ));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        json_error(&path, error.into_inner(), false)
    })
}

fn json_error(path: &str, error: serde_json::Error, syntax: bool) -> AdminError {
    let position = format!("(line {}, column {})", error.line(), error.column());
    let text = strip_position(&error.to_string());
    if syntax {
        return AdminError::invalid_json(format!("body: not valid JSON: {text} {position}"));
    }
    let field = if path == "." { "body" } else { path };
    AdminError::invalid_field(field, format!("{text} {position}"))
}

fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

/// A path extractor whose refusals are control-plane errors.
pub struct AdminPath<T>(pub T);

impl<T, S> FromRequestParts<S> for AdminPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = AdminError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| Self(value))
            .map_err(|rejection| AdminError::invalid_field("path", rejection.body_text()))
    }
}

/// The query of a control-plane request: known keys only, each at most once.
pub fn query_params(
    parts_query: Option<&str>,
    known: &[&str],
) -> AdminResult<Vec<(String, String)>> {
    let decoded =
        crate::rpc::params::Decoded::new(parts_query.unwrap_or_default().as_bytes(), None);
    let params = decoded
        .into_params()
        .map_err(|e| AdminError::invalid_field("query", e.to_string()))?;
    let mut out = Vec::new();
    for (key, value) in params.iter() {
        if !known.contains(&key) {
            return Err(AdminError::invalid_field(
                key,
                format!("unknown query parameter; known here: {}", known.join(", ")),
            ));
        }
        out.push((key.to_owned(), value.to_owned()));
    }
    Ok(out)
}
