//! ecs-emulator: a local emulator of the Alibaba Cloud ECS operation `ListPluginStatus` and of
//! the Cloud Assistant command operations that change plug-in states (RunCommand and friends).
//!
//! It answers like the real endpoint (same parameters, validation order, error codes, JSON and
//! XML, paging) on fixture data, so SDK tests and curl sessions cannot tell the difference.
//!
//! # Layout
//!
//! A request travels one way through the code:
//!
//! - [`rpc`]: the wire, which knows no operation by name. Decodes the query and form body into
//!   [`rpc::params::Params`], resolves Action, Version and Format, checks signatures, applies
//!   fault rules, keeps the journal, and renders the typed outcome as JSON or XML
//!   ([`rpc::render`]).
//! - [`api`]: the operations. [`api::Operation`] lists them and [`api::dispatch`] runs one;
//!   one module per operation ([`api::list_plugin_status`]) turns parameters into a validated
//!   request and the engine's page into the typed response; [`api::paging`] reads the paging
//!   parameters every paged operation shares, [`api::next_token`] issues and opens paging
//!   tokens, and [`api::parse`] reads the parameters several operations share.
//! - [`engine`]: the data and the paging, pure and synchronous: `model.rs` the data types,
//!   `store.rs` the [`engine::Store`] and its indexes, `paging.rs` one page of a listing,
//!   `change.rs` every change as one typed value, [`engine::commands`] and
//!   [`engine::invocation`] Cloud Assistant commands and runs on the clock, [`engine::script`]
//!   what a command does on an instance.
//! - [`error`]: the one error enum, with every wire code and HTTP status.
//! - [`fixture`]: the data file format (`format.rs`), loading it with error positions
//!   (`load.rs`), the built-in demo data, and the generator (`generate.rs`).
//! - [`text`]: the one rule for text XML answers cannot carry; [`clock`]: the emulator's time
//!   and its range.
//! - [`persist`]: where accepted changes are made durable: nothing ([`persist::Memory`]) or
//!   the `--state-file` ([`persist::sqlite`]), behind one trait.
//! - [`state`]: the shared handle the handlers receive, and the one write path (validate,
//!   commit, publish, answer); [`server`]: binding, the ready line,
//!   the connection limit, graceful shutdown; [`cli`]: flags and subcommands.
//! - [`journal`]: the request journal, bounded in count and bytes; [`faults`]: fault rules;
//!   [`command_rules`]: what Cloud Assistant runs do, set by a test.

pub mod admin;
pub mod api;
pub mod cli;
pub mod clock;
pub mod command_rules;
pub mod engine;
pub mod error;
pub mod faults;
pub mod fixture;
pub mod journal;
pub mod log_writer;
pub mod metrics;
pub mod persist;
pub mod rpc;
pub mod server;
pub mod state;
pub mod text;
pub mod ui;

use axum::response::Response;
use axum::Router;
use tower_http::catch_panic::CatchPanicLayer;

pub use state::AppState;
use state::RequestIds as _;

/// The HTTP application: the control plane under `/_emulator/`, every other request to the
/// RPC handler.
pub fn app(state: AppState) -> Router {
    Router::new()
        .nest(admin::PREFIX, admin::router(state.clone()))
        .route("/_emulator/", admin::bare_prefix(state.clone()))
        .fallback(rpc::handle)
        .layer(CatchPanicLayer::custom(panic_response))
        .with_state(state)
}

/// What a caught panic says, for the log.
pub(crate) fn panic_detail<'p>(panic: &'p (dyn std::any::Any + Send + 'static)) -> &'p str {
    panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("unknown panic")
}

/// A panic is a fault of the emulator: logged, and answered as `InternalError.Dispatch`. The
/// control plane catches its own first ([`admin::router`]) and answers in its own format.
fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let detail = panic_detail(panic.as_ref());
    tracing::error!(%detail, "a request handler panicked");
    let reply = rpc::render::ReplyTo {
        request_id: state::RandomRequestIds.next_id(),
        host: rpc::render::DEFAULT_HOST.to_owned(),
        format: rpc::render::Format::Json,
    };
    reply.error(&error::ApiError::InternalDispatch)
}
