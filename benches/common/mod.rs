//! What the benchmarks share: a store of a given size, built in memory.

use axum::body::{Body, Bytes};
use axum::http::Request;
use axum::Router;
use chrono::{DateTime, Utc};
use ecs_emulator::engine::{PluginRecord, PluginStatus, Store};
use http_body_util::BodyExt;
use tower::ServiceExt;

/// The region every instance lives in.
pub const REGION: &str = "cn-hangzhou";
/// Plug-ins on each instance.
pub const PLUGINS_PER_INSTANCE: usize = 4;

/// The id of the i-th instance.
pub fn instance_id(i: usize) -> String {
    format!("i-bench{i:011}")
}

/// `instances` instances of the default account in [`REGION`], each with
/// [`PLUGINS_PER_INSTANCE`] plug-ins `plugin-0`, `plugin-1`, ... in every status in turn.
pub fn build_store(instances: usize) -> Store {
    let heartbeat: DateTime<Utc> = "2026-01-01T00:00:00Z".parse().unwrap();
    let mut store = Store::new(Vec::new(), Vec::new()).unwrap();
    let account = store.default_account().to_owned();
    for i in 0..instances {
        let plugins = (0..PLUGINS_PER_INSTANCE)
            .map(|p| {
                let record = PluginRecord {
                    version: "1.0".into(),
                    status: PluginStatus::ALL[(i + p) % PluginStatus::ALL.len()],
                    first_heartbeat: Some(heartbeat),
                    last_heartbeat: Some(heartbeat),
                };
                (format!("plugin-{p}"), record)
            })
            .collect();
        store
            .add_instance(&account, REGION, &instance_id(i), plugins)
            .unwrap();
    }
    store
}

/// A RunCommand that leaves one invocation for [`request_cases`]' DescribeInvocations page.
#[allow(dead_code)] // used by the whole-request benches (router, allocations) only
pub fn run_command_query() -> String {
    format!(
        "Action=RunCommand&Version=2014-05-26&RegionId={REGION}&Type=RunShellScript\
         &CommandContent=true&InstanceId.1={}",
        instance_id(0)
    )
}

/// The whole requests measured through the router: (label, query, expected status). The first
/// is the 10-record ListPluginStatus page in token mode, JSON.
#[allow(dead_code)] // used by the whole-request benches (router, allocations) only
pub fn request_cases() -> [(&'static str, String, u16); 4] {
    let common = format!("Version=2014-05-26&RegionId={REGION}");
    [
        (
            "list_json_token_10",
            format!("Action=ListPluginStatus&{common}&Format=JSON&Name=plugin-1&MaxResults=10"),
            200,
        ),
        (
            "list_xml_token_10",
            format!("Action=ListPluginStatus&{common}&Format=XML&Name=plugin-1&MaxResults=10"),
            200,
        ),
        (
            "error_answer",
            format!("Action=ListPluginStatus&{common}&Format=JSON&Name=no-such-plugin"),
            404,
        ),
        (
            "describe_invocations_10",
            format!("Action=DescribeInvocations&{common}&Format=JSON&MaxResults=10"),
            200,
        ),
    ]
}

/// One whole request `GET /?{query}` through `app` with `oneshot`: the status and the body.
#[allow(dead_code)] // used by the whole-request benches (router, allocations) only
pub async fn get(app: &Router, query: &str) -> (u16, Bytes) {
    let request = Request::get(format!("/?{query}"))
        .body(Body::empty())
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    (
        status,
        response.into_body().collect().await.unwrap().to_bytes(),
    )
}

/// A current-thread runtime and the app on [`build_store`]`(instances)` with one finished
/// RunCommand (so DescribeInvocations has a page): what the whole-request benches measure.
/// Enter the runtime (`runtime.enter()`) before sending requests.
#[allow(dead_code)] // used by the whole-request benches (router, allocations) only
pub fn routed_app(instances: usize) -> (tokio::runtime::Runtime, Router) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let app = {
        let _inside = runtime.enter();
        ecs_emulator::app(ecs_emulator::AppState::new(build_store(instances)))
    };
    assert_eq!(runtime.block_on(get(&app, &run_command_query())).0, 200);
    (runtime, app)
}
