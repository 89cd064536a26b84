//! Helpers shared by the integration tests: an in-process app and a `send` that returns the
//! status, headers and body of one request.
#![allow(dead_code)] // each test binary uses a different subset

use axum::body::Body;
use axum::http::{HeaderMap, Request};
use axum::Router;
use ecs_emulator::state::SequentialRequestIds;
use ecs_emulator::{app, fixture, AppState};
use http_body_util::BodyExt;
use tower::ServiceExt;

/// The common parameters of a JSON V1 call, to prefix a query with.
pub const BASE: &str = "Action=ListPluginStatus&Version=2014-05-26&Format=JSON";

/// One response.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
}

impl Reply {
    /// The body as JSON; panics with the body when it is not JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    /// The error code of a JSON error envelope.
    pub fn code(&self) -> String {
        self.json()["Code"].as_str().unwrap_or_default().to_owned()
    }

    /// A response header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// The app on the built-in demo data, with predictable request ids.
pub fn demo_app() -> Router {
    app(AppState::with_request_ids(
        fixture::demo_store(),
        SequentialRequestIds::default(),
    ))
}

/// The app on a fixture given as JSON text.
pub fn app_with(fixture_json: &str) -> Router {
    let store = fixture::load_str("test fixture", fixture_json).expect("test fixture is valid");
    app(AppState::with_request_ids(
        store,
        SequentialRequestIds::default(),
    ))
}

/// A control-plane request: `path` is below `/_emulator`, `body` is sent as JSON.
pub fn admin(method: &str, path: &str, body: Option<serde_json::Value>) -> Request<Body> {
    let builder = Request::builder()
        .method(method)
        .uri(format!("/_emulator{path}"));
    match body {
        Some(body) => builder
            .header("content-type", "application/json")
            .body(Body::from(body.to_string())),
        None => builder.body(Body::empty()),
    }
    .unwrap()
}

/// GET `/?{query}`.
pub async fn send(app: &Router, query: &str) -> Reply {
    let request = Request::get(format!("/?{query}"))
        .body(Body::empty())
        .unwrap();
    send_request(app, request).await
}

/// Any request.
pub async fn send_request(app: &Router, request: Request<Body>) -> Reply {
    let response = app
        .clone()
        .oneshot(request)
        .await
        .expect("the router is infallible");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    Reply {
        status,
        headers,
        body: String::from_utf8(bytes.to_vec()).expect("responses are UTF-8"),
    }
}

/// Percent-encodes a value for a query string (RFC 3986 unreserved kept).
pub fn enc(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Freezes the emulator's clock at `now` (RFC 3339) through the control plane.
pub async fn freeze(app: &Router, now: &str) {
    let body = serde_json::json!({"now": now, "frozen": true});
    let reply = send_request(app, admin("PUT", "/clock", Some(body))).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
}
