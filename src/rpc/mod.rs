//! The wire: an HTTP request becomes a typed call, its outcome becomes a response.
//!
//! Order of checks, first failure wins: method, query size, body size and arrival, parameter
//! decoding (encoding, count, duplicates), Action, Version, Format, the signature (strict
//! mode), then the operation's own validation. The reply format is chosen before any of these,
//! from a lenient read of `Format`, so even a refused request is answered in the caller's
//! format.
//!
//! The wire knows no operation by name: `Action` is resolved by [`Operation::parse`], and once
//! the caller's account is known and the fault rules have had their say, the request goes to
//! [`api::dispatch`]. The journal and the log name the operation.

pub mod json;
pub mod params;
pub mod render;
pub mod signature;
pub mod xml;

use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, request::Parts, HeaderMap, HeaderValue, Method};
use axum::response::Response;

use crate::api::{self, Operation};
use crate::error::ApiError;
use crate::faults::Target;
use crate::journal::{self, RecordedRequest};
use crate::state::AppState;
use params::{Decoded, Params};
use render::{Format, ReplyTo, DEFAULT_HOST};
use signature::{SignatureMode, SignedRequest};

/// The only API version this emulator speaks.
pub const API_VERSION: &str = "2014-05-26";
/// Largest request body.
pub const MAX_BODY_BYTES: usize = 1 << 20;
/// Longest query string answered by the emulator: 60 KiB.
///
/// SPEC section 2 refuses queries over 64 KiB. The HTTP layer itself cannot hold a request
/// target over 65,534 bytes and refuses those with a bare 414 before the emulator sees them,
/// so the emulator's own limit sits below that: every over-long query it can see gets the
/// error envelope.
pub const MAX_QUERY_BYTES: usize = 60 << 10;
/// The two request styles the official SDKs use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// RPC V1: common parameters in the query or form; XML unless `Format` says otherwise.
    V1,
    /// ACS3-HMAC-SHA256: action and version in `x-acs-*` headers; JSON by default.
    V3,
}

impl Style {
    fn of(headers: &HeaderMap, decoded: &Decoded) -> Self {
        let v3_auth = header_str(headers, header::AUTHORIZATION.as_str())
            .is_some_and(|auth| auth.starts_with("ACS3-HMAC-SHA256"));
        let has_action = decoded.lossy("Action").is_some_and(|a| !a.is_empty());
        if v3_auth || !has_action {
            Self::V3
        } else {
            Self::V1
        }
    }

    fn default_format(self) -> Format {
        match self {
            Self::V1 => Format::Xml,
            Self::V3 => Format::Json,
        }
    }
}

/// Serves every request outside the control plane.
pub async fn handle(State(state): State<AppState>, request: Request) -> Response {
    let started = Instant::now();
    let received_at = state.now();
    let (parts, body) = request.into_parts();
    let query = parts.uri.query().unwrap_or_default().as_bytes();
    let query_too_long = query.len() > MAX_QUERY_BYTES;
    // The request's own time (`--request-timeout`) bounds the body's arrival; what follows
    // awaits nothing but the injected latency, which does not count against it.
    let received = read_body(
        &parts,
        body,
        state.signature_mode(),
        state.request_timeout(),
    )
    .await;
    let decoded = Decoded::new(
        if query_too_long { b"" } else { query },
        received.as_ref().ok().and_then(ReceivedBody::form),
    );
    // Copied only when the journal keeps anything: with a bound of 0 nothing is copied.
    let recorded_params = state
        .journal(|journal| journal.is_recording())
        .then(|| journal::redact(decoded.pairs()));
    // For the log and the journal: the operation the request named, even when it is refused.
    // When the request is accepted this is the operation resolved below.
    let operation = action_name(decoded.lossy("Action"), &parts.headers).and_then(Operation::parse);
    let style = Style::of(&parts.headers, &decoded);
    // `Some(None)`: a `Format` the emulator does not know, refused below and answered in JSON.
    let requested_format = decoded
        .lossy("Format")
        .filter(|f| !f.is_empty())
        .map(Format::parse);
    let reply = ReplyTo {
        request_id: state.next_request_id(),
        host: header_str(&parts.headers, header::HOST.as_str())
            .map_or_else(|| DEFAULT_HOST.to_owned(), crate::text::echo),
        format: requested_format.map_or(style.default_format(), |f| f.unwrap_or(Format::Json)),
    };

    let outcome = (|| {
        if parts.method != Method::GET && parts.method != Method::POST {
            return Err(ApiError::UnsupportedHttpMethod);
        }
        if parts.uri.path() != "/" {
            return Err(ApiError::ActionNotFound);
        }
        if query_too_long {
            return Err(ApiError::QueryTooLong {
                len: query.len(),
                limit: MAX_QUERY_BYTES,
            });
        }
        let received = received.as_ref().map_err(Clone::clone)?;
        let params = decoded.into_params()?;
        let operation = resolve_operation(&params, &parts.headers)?;
        check_version(&params, &parts.headers)?;
        if requested_format == Some(None) {
            return Err(ApiError::InvalidFormat);
        }
        let verified_account = match state.signature_mode() {
            SignatureMode::Off => None,
            SignatureMode::Strict => Some(verify_signature(
                &state,
                &parts,
                query,
                &params,
                &received.bytes,
            )?),
        };
        Ok((operation, params, verified_account))
    })();

    let mut retry_after_ms = None;
    let result = match outcome {
        Ok((operation, params, verified_account)) => {
            let injection = state.faults(|faults| faults.inject(&fault_target(operation, &params)));
            if injection.error.is_some() || !injection.latency.is_zero() {
                let code = injection.error.as_ref().map_or("", ApiError::code);
                state.metrics().fault_fired(operation.name(), code);
            }
            if !injection.latency.is_zero() {
                tokio::time::sleep(injection.latency).await;
            }
            retry_after_ms = injection.retry_after_ms;
            match injection.error {
                Some(error) => Err(error),
                None => {
                    let account = verified_account.unwrap_or_else(|| {
                        state.read(|store| caller_account(store, &params, &parts.headers))
                    });
                    api::dispatch(&state, operation, &params, account, &reply).await
                }
            }
        }
        Err(error) => Err(error),
    };
    let (mut response, code, message) = match result {
        Ok(response) => (response, String::new(), String::new()),
        Err(error) => (
            reply.error(&error),
            error.code().to_owned(),
            // Kept for the journal only: the answer above wrote its own copy.
            if recorded_params.is_some() {
                journal::keep_message(error.to_string())
            } else {
                String::new()
            },
        ),
    };
    if let Some(ms) = retry_after_ms {
        response
            .headers_mut()
            .insert(RETRY_AFTER_HEADER, HeaderValue::from(ms));
    }
    let status = response.status().as_u16();
    let action = operation.map_or("", Operation::name);
    state
        .metrics()
        .request(action, status, &code, started.elapsed());
    tracing::info!(
        request_id = %reply.request_id,
        method = %parts.method,
        action,
        status,
        code,
        elapsed_us = started.elapsed().as_micros() as u64,
        "request"
    );
    if let Some(params) = recorded_params {
        let recorded = RecordedRequest {
            request_id: reply.request_id.clone(),
            time: received_at,
            method: parts.method.to_string(),
            action: action.to_owned(),
            params,
            status,
            code,
            message,
        };
        state.journal(|journal| journal.record(recorded));
    }
    response
}

/// The header telling a throttled client how many milliseconds to wait.
pub const RETRY_AFTER_HEADER: &str = "x-acs-retry-after";

/// What the fault rules match on.
fn fault_target<'p>(operation: Operation, params: &'p Params<'_>) -> Target<'p> {
    Target {
        action: operation.name(),
        region: params.get("RegionId"),
        instances: params
            .iter()
            .filter(|(k, _)| k.starts_with("InstanceId."))
            .map(|(_, v)| v)
            .collect(),
    }
}

/// Checks the signature (strict mode) and answers the signer's account.
fn verify_signature(
    state: &AppState,
    parts: &Parts,
    query: &[u8],
    params: &Params<'_>,
    body: &[u8],
) -> Result<String, ApiError> {
    // The query alone was already decoded as part of `params`; this cannot fail.
    let query_params = Decoded::new(query, None).into_params()?;
    let query_pairs: Vec<(&str, &str)> = query_params.iter().collect();
    let all_pairs: Vec<(&str, &str)> = params.iter().collect();
    let request = SignedRequest {
        method: parts.method.as_str(),
        params: &all_pairs,
        query: &query_pairs,
        headers: &parts.headers,
        body,
    };
    let now = state.now();
    let verified = state.read(|store| {
        signature::verify(&request, store, now, &mut |key, nonce| {
            state.record_nonce(key, nonce)
        })
    })?;
    Ok(verified.account)
}

/// The caller's account when signatures are not checked: the owner of the access key if the
/// data knows it, else the default.
fn caller_account(
    store: &crate::engine::Store,
    params: &Params<'_>,
    headers: &HeaderMap,
) -> String {
    let key_id = params.get("AccessKeyId").or_else(|| v3_credential(headers));
    key_id.and_then(|id| store.access_key(id)).map_or_else(
        || store.default_account().to_owned(),
        |(account, _)| account.id.clone(),
    )
}

/// The access key id in `Authorization: ACS3-HMAC-SHA256 Credential=AK,SignedHeaders=…`.
fn v3_credential(headers: &HeaderMap) -> Option<&str> {
    let auth = header_str(headers, header::AUTHORIZATION.as_str())?;
    let fields = auth.strip_prefix("ACS3-HMAC-SHA256")?;
    fields
        .split(',')
        .find_map(|field| field.trim().strip_prefix("Credential="))
}

/// The action a request names: the `Action` parameter, else the `x-acs-action` header.
fn action_name<'a>(parameter: Option<&'a str>, headers: &'a HeaderMap) -> Option<&'a str> {
    parameter
        .filter(|a| !a.is_empty())
        .or_else(|| header_str(headers, "x-acs-action").filter(|a| !a.is_empty()))
}

/// The operation the request names, or why there is none.
fn resolve_operation(params: &Params<'_>, headers: &HeaderMap) -> Result<Operation, ApiError> {
    let name =
        action_name(params.get("Action"), headers).ok_or(ApiError::MissingParameter("Action"))?;
    Operation::parse(name).ok_or(ApiError::ActionNotFound)
}

fn check_version(params: &Params<'_>, headers: &HeaderMap) -> Result<(), ApiError> {
    let version = params
        .get("Version")
        .or_else(|| header_str(headers, "x-acs-version").filter(|v| !v.is_empty()))
        .ok_or(ApiError::MissingVersion)?;
    if version != API_VERSION {
        return Err(ApiError::InvalidVersion);
    }
    Ok(())
}

/// The body as far as the wire needs it.
#[derive(Debug, Default)]
struct ReceivedBody {
    /// The bytes read: a form's always; in strict mode any body, as V3 signs its hash.
    bytes: Bytes,
    /// True for a POST with `Content-Type: application/x-www-form-urlencoded`: its body holds
    /// parameters.
    is_form: bool,
}

impl ReceivedBody {
    fn form(&self) -> Option<&[u8]> {
        self.is_form.then_some(&self.bytes[..])
    }
}

/// Reads the body of a GET or POST, bounded in size ([`MAX_BODY_BYTES`]) and in time
/// (`timeout`). Off mode reads only a form body, so it never waits on a body nor
/// hashes one it does not use; a declared length over the limit is refused in both modes.
async fn read_body(
    parts: &Parts,
    body: Body,
    mode: SignatureMode,
    timeout: Duration,
) -> Result<ReceivedBody, ApiError> {
    let too_large = ApiError::BodyTooLarge {
        limit: MAX_BODY_BYTES,
    };
    let declared = header_str(&parts.headers, header::CONTENT_LENGTH.as_str())
        .and_then(|len| len.parse::<u64>().ok());
    if declared.is_some_and(|len| len > MAX_BODY_BYTES as u64) {
        return Err(too_large);
    }
    let is_form = parts.method == Method::POST
        && header_str(&parts.headers, header::CONTENT_TYPE.as_str()).is_some_and(|ct| {
            ct.split(';').next().is_some_and(|mime| {
                mime.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            })
        });
    let signed = mode == SignatureMode::Strict
        && (parts.method == Method::GET || parts.method == Method::POST);
    if !is_form && !signed {
        return Ok(ReceivedBody::default());
    }
    match tokio::time::timeout(timeout, axum::body::to_bytes(body, MAX_BODY_BYTES)).await {
        Ok(Ok(bytes)) => Ok(ReceivedBody { bytes, is_form }),
        Ok(Err(_)) => Err(too_large),
        Err(_) => Err(ApiError::BodyTimeout {
            seconds: timeout.as_secs(),
        }),
    }
}

fn header_str<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}
