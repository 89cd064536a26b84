//! The control plane, `/_emulator/` (SPEC section 7), route by route through the in-process
//! app: status, `code` and the field the message names, and what each change does to the API.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use axum::Router;
use base64::Engine as _;
use ecs_emulator::rpc::signature::SignatureMode;
use ecs_emulator::state::{Options, SequentialRequestIds};
use ecs_emulator::{app, fixture, AppState};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha1::Sha1;

use common::{admin, demo_app, enc, send, send_request, Reply, BASE};

const DEFAULT_ACCOUNT: &str = "1234567890123456";
const OTHER_ACCOUNT: &str = "2345678901234567";
const OTHER_KEY: &str = "LTAI5tOtherKey001";
const TOKEN: &str = "s3cret-admin-token";
const DEMO_JSON: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/data/demo.json"));

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// The same with a raw (possibly invalid) body.
fn admin_raw(method: &str, path: &str, body: &str) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(format!("/_emulator{path}"))
        .header("content-type", "application/json")
        .body(Body::from(body.to_owned()))
        .unwrap()
}

/// The same carrying `Authorization: Bearer {token}`.
fn with_token(mut request: Request<Body>, token: &str) -> Request<Body> {
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    request
}

async fn call(app: &Router, method: &str, path: &str, body: Option<Value>) -> Reply {
    send_request(app, admin(method, path, body)).await
}

/// Asserts a control-plane error: status, `code`, the message naming `field` first, and a body
/// of `code` and `message` only.
#[track_caller]
fn assert_admin_error(reply: &Reply, status: u16, code: &str, field: &str) {
    assert_eq!(reply.status, status, "{}", reply.body);
    let body = reply.json();
    let keys: Vec<&String> = body.as_object().expect("an object").keys().collect();
    assert_eq!(keys, ["code", "message"], "{}", reply.body);
    assert_eq!(body["code"], code, "{}", reply.body);
    let message = body["message"].as_str().unwrap();
    assert!(
        message.starts_with(&format!("{field}: ")),
        "message should name {field}: {message}"
    );
}

fn message(reply: &Reply) -> String {
    reply.json()["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// A ListPluginStatus call in JSON with `query` after the common parameters.
async fn api(app: &Router, query: &str) -> Reply {
    send(app, &format!("{BASE}&{query}")).await
}

/// Every plug-in record of a ListPluginStatus reply, each with its `InstanceId`.
fn records(reply: &Reply) -> Vec<Value> {
    assert_eq!(reply.status, 200, "{}", reply.body);
    let body = reply.json();
    let mut out = Vec::new();
    for entry in body["InstancePluginStatusSet"]["InstancePluginStatus"]
        .as_array()
        .unwrap()
    {
        for plugin in entry["PluginStatusSet"]["PluginStatus"].as_array().unwrap() {
            let mut plugin = plugin.clone();
            plugin["InstanceId"] = entry["InstanceId"].clone();
            out.push(plugin);
        }
    }
    out
}

/// The one record ListPluginStatus gives for `name` on `instance` (cn-hangzhou, default account).
async fn api_record(app: &Router, instance: &str, name: &str) -> Value {
    let reply = api(
        app,
        &format!(
            "RegionId=cn-hangzhou&InstanceId.1={instance}&Name={}",
            enc(name)
        ),
    )
    .await;
    let mut found = records(&reply);
    assert_eq!(found.len(), 1, "{}", reply.body);
    found.remove(0)
}

/// The app on the demo data put together as `options` say, with predictable request ids.
fn app_with_options(options: Options) -> Router {
    app(AppState::with_options(
        fixture::demo_store(),
        Options {
            request_ids: Box::new(SequentialRequestIds::default()),
            ..options
        },
    ))
}

fn token_app() -> Router {
    app_with_options(Options {
        admin_token: Some(TOKEN.to_owned()),
        ..Options::default()
    })
}

async fn state_of(app: &Router) -> Value {
    let reply = call(app, "GET", "/state", None).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.json()
}

/// A fixture normalised for comparison: instances keyed by (account, id) with plug-ins sorted
/// by name, catalog sorted by name, accounts keyed by id with `enabled` filled in.
fn normalised(fixture: &Value) -> Value {
    let default = fixture["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["default"] == true)
        .map(|a| a["accountId"].as_str().unwrap().to_owned())
        .unwrap();
    let mut accounts = BTreeMap::new();
    for account in fixture["accounts"].as_array().unwrap() {
        let keys: Vec<Value> = account["accessKeys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| json!([k["id"], k["secret"], k["enabled"].as_bool().unwrap_or(true)]))
            .collect();
        accounts.insert(
            account["accountId"].as_str().unwrap().to_owned(),
            json!({"default": account["default"] == true, "keys": keys}),
        );
    }
    let mut catalog: Vec<(String, String)> = fixture["catalog"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_owned(),
                c["type"].as_str().unwrap_or("Persist").to_owned(),
            )
        })
        .collect();
    catalog.sort();
    let mut instances = BTreeMap::new();
    for instance in fixture["instances"].as_array().unwrap() {
        let account = instance["accountId"]
            .as_str()
            .unwrap_or(&default)
            .to_owned();
        let mut plugins: Vec<Value> = instance["plugins"].as_array().unwrap().clone();
        plugins.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
        instances.insert(
            format!("{account}/{}", instance["instanceId"].as_str().unwrap()),
            json!({"regionId": instance["regionId"], "plugins": plugins}),
        );
    }
    json!({"accounts": accounts, "catalog": catalog, "instances": instances})
}

/// RFC 3339 text of a time in the control plane's answers, as a chrono time.
fn time_of(value: &Value) -> chrono::DateTime<chrono::Utc> {
    value
        .as_str()
        .unwrap_or_else(|| panic!("not a time: {value}"))
        .parse()
        .unwrap()
}

/// An RPC V1 query signed with HMAC-SHA1 (SPEC section 3), computed here independently of the
/// emulator's own code.
fn signed_v1_query(key_id: &str, secret: &str, timestamp: &str, nonce: &str) -> String {
    let params = [
        ("AccessKeyId", key_id),
        ("Action", "ListPluginStatus"),
        ("Format", "JSON"),
        ("Name", "ecs_tools_test"),
        ("RegionId", "cn-hangzhou"),
        ("SignatureMethod", "HMAC-SHA1"),
        ("SignatureNonce", nonce),
        ("SignatureVersion", "1.0"),
        ("Timestamp", timestamp),
        ("Version", "2014-05-26"),
    ];
    let mut encoded: Vec<(String, String)> = params.iter().map(|(k, v)| (enc(k), enc(v))).collect();
    encoded.sort();
    let canonical = encoded
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    let string_to_sign = format!("GET&{}&{}", enc("/"), enc(&canonical));
    let mut mac = Hmac::<Sha1>::new_from_slice(format!("{secret}&").as_bytes()).unwrap();
    mac.update(string_to_sign.as_bytes());
    let signature = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    format!("{canonical}&Signature={}", enc(&signature))
}

async fn add_fault(app: &Router, rule: Value) -> Value {
    let reply = call(app, "POST", "/faults", Some(rule)).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    reply.json()
}

async fn journal(app: &Router, query: &str) -> Vec<Value> {
    let path = if query.is_empty() {
        "/requests".to_owned()
    } else {
        format!("/requests?{query}")
    };
    let reply = call(app, "GET", &path, None).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.json()["requests"].as_array().unwrap().clone()
}

const ASK_TOOLS: &str = "RegionId=cn-hangzhou&Name=ecs_tools_test&PageSize=50";

// ---------------------------------------------------------------------------------------------
// Health, routing errors
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn health_and_ready_answer_200() {
    let app = demo_app();
    for path in ["/health", "/ready"] {
        let reply = call(&app, "GET", path, None).await;
        assert_eq!(reply.status, 200, "{path}: {}", reply.body);
        assert!(reply.json().is_object(), "{path}: {}", reply.body);
    }
}

#[tokio::test]
async fn an_unknown_route_is_404_route_not_found() {
    let app = demo_app();
    for (method, path) in [
        ("GET", "/nothing-here"),
        ("POST", "/instances"),
        ("GET", "/instances/i-bp1iudwa5b1tqa0001/plugins"),
        ("GET", "/faults/f-1/more"),
    ] {
        let reply = call(&app, method, path, None).await;
        assert_admin_error(&reply, 404, "RouteNotFound", "path");
    }
}

#[tokio::test]
async fn a_wrong_method_is_405_method_not_allowed() {
    let app = demo_app();
    for (method, path) in [
        ("PATCH", "/state"),
        ("GET", "/reset"),
        ("POST", "/instances/i-bp1iudwa5b1tqa0001"),
        ("POST", "/clock"),
        ("PUT", "/faults"),
        ("DELETE", "/health"),
        (
            "GET",
            "/instances/i-bp1iudwa5b1tqa0001/plugins/ecs_tools_test/stop",
        ),
    ] {
        let reply = call(&app, method, path, None).await;
        assert_admin_error(&reply, 405, "MethodNotAllowed", "method");
    }
}

/// `/_emulator/` itself is under the control plane: a control-plane 404, not an API request.
#[tokio::test]
async fn the_control_plane_root_with_a_slash_is_route_not_found() {
    let app = demo_app();
    let reply = call(&app, "GET", "/", None).await;
    assert_admin_error(&reply, 404, "RouteNotFound", "path");
    assert!(journal(&app, "").await.is_empty());
}

#[tokio::test]
async fn the_control_plane_is_not_reachable_through_action() {
    let app = demo_app();
    let reply = send(&app, "Action=_emulator&Version=2014-05-26&Format=JSON").await;
    assert_eq!(reply.status, 404, "{}", reply.body);
    assert_eq!(reply.code(), "InvalidAction.NotFound");
}

// ---------------------------------------------------------------------------------------------
// --admin-token
// ---------------------------------------------------------------------------------------------

/// One request on every guarded route (and an unknown one), each valid were the token right.
fn guarded_requests() -> Vec<Request<Body>> {
    let plugin = json!({"version": "1.0", "status": "Running"});
    let instance = json!({"regionId": "cn-hangzhou", "plugins": []});
    vec![
        admin("GET", "/openapi.json", None),
        admin("GET", "/state", None),
        admin("PUT", "/state", Some(json!({"instances": []}))),
        admin("POST", "/reset", None),
        admin("PUT", "/instances/i-new", Some(instance)),
        admin("GET", "/instances/i-bp1iudwa5b1tqa0001", None),
        admin("DELETE", "/instances/i-bp1iudwa5b1tqa0001", None),
        admin(
            "PUT",
            "/instances/i-bp1iudwa5b1tqa0005/plugins/p",
            Some(plugin),
        ),
        admin(
            "GET",
            "/instances/i-bp1iudwa5b1tqa0001/plugins/ecs_tools_test",
            None,
        ),
        admin(
            "DELETE",
            "/instances/i-bp1iudwa5b1tqa0001/plugins/ecs_tools_test",
            None,
        ),
        admin(
            "POST",
            "/instances/i-bp1iudwa5b1tqa0001/plugins/ecs_tools_test/stop",
            None,
        ),
        admin("GET", "/requests", None),
        admin("DELETE", "/requests", None),
        admin("GET", "/faults", None),
        admin("POST", "/faults", Some(json!({"code": "Throttling.User"}))),
        admin("DELETE", "/faults", None),
        admin("GET", "/faults/f-1", None),
        admin("DELETE", "/faults/f-1", None),
        admin("GET", "/clock", None),
        admin(
            "PUT",
            "/clock",
            Some(json!({"now": "2030-01-01T00:00:00Z", "frozen": true})),
        ),
        admin("DELETE", "/clock", None),
        admin("GET", "/no-such-route", None),
    ]
}

#[tokio::test]
async fn with_a_token_health_and_ready_stay_open() {
    let app = token_app();
    for path in ["/health", "/ready"] {
        let reply = call(&app, "GET", path, None).await;
        assert_eq!(reply.status, 200, "{path}: {}", reply.body);
    }
}

#[tokio::test]
async fn with_a_token_every_other_route_is_401_without_it() {
    let app = token_app();
    for request in guarded_requests() {
        let what = format!("{} {}", request.method(), request.uri());
        let reply = send_request(&app, request).await;
        assert_eq!(reply.status, 401, "{what}: {}", reply.body);
        assert_eq!(reply.header("www-authenticate"), Some("Bearer"), "{what}");
        assert_eq!(reply.json()["code"], "Unauthorized", "{what}");
        assert!(message(&reply).starts_with("Authorization: "), "{what}");
    }
}

/// Without the token, neither an unknown path nor a wrong method tells which routes exist.
#[tokio::test]
async fn with_a_token_unknown_routes_and_wrong_methods_are_401_too() {
    let app = token_app();
    for (method, path) in [
        ("PATCH", "/state"),
        ("POST", "/clock"),
        ("GET", "/nope"),
        ("GET", "/"),
    ] {
        let reply = call(&app, method, path, None).await;
        assert_admin_error(&reply, 401, "Unauthorized", "Authorization");
        let reply = send_request(&app, with_token(admin(method, path, None), TOKEN)).await;
        assert!(
            matches!(reply.status, 404 | 405),
            "{method} {path}: {}",
            reply.body
        );
    }
}

#[tokio::test]
async fn with_a_token_a_wrong_token_is_401() {
    let app = token_app();
    let wrong = [
        format!("Bearer {TOKEN}x"),
        "Bearer ".to_owned(),
        format!("Basic {TOKEN}"),
        TOKEN.to_owned(),
        format!("Bearer {}", &TOKEN[..TOKEN.len() - 1]),
    ];
    for authorization in wrong {
        for mut request in guarded_requests() {
            request
                .headers_mut()
                .insert("authorization", authorization.parse().unwrap());
            let what = format!("{} {} ({authorization})", request.method(), request.uri());
            let reply = send_request(&app, request).await;
            assert_eq!(reply.status, 401, "{what}: {}", reply.body);
            assert_eq!(reply.header("www-authenticate"), Some("Bearer"), "{what}");
            assert_eq!(reply.json()["code"], "Unauthorized", "{what}");
        }
    }
}

#[tokio::test]
async fn with_a_token_a_refused_request_changes_nothing() {
    let app = token_app();
    // Something in the journal to (not) delete.
    api(&app, ASK_TOOLS).await;
    let authed = |r| with_token(r, TOKEN);
    let state_before = send_request(&app, authed(admin("GET", "/state", None)))
        .await
        .json();

    for request in [
        admin(
            "PUT",
            "/instances/i-new",
            Some(json!({"regionId": "cn-hangzhou"})),
        ),
        admin("DELETE", "/instances/i-bp1iudwa5b1tqa0001", None),
        admin("PUT", "/state", Some(json!({"instances": []}))),
        admin(
            "POST",
            "/instances/i-bp1iudwa5b1tqa0001/plugins/ecs_tools_test/stop",
            None,
        ),
        admin("POST", "/faults", Some(json!({"code": "Throttling.User"}))),
        admin("DELETE", "/requests", None),
        admin(
            "PUT",
            "/clock",
            Some(json!({"now": "2030-01-01T00:00:00Z"})),
        ),
    ] {
        let what = format!("{} {}", request.method(), request.uri());
        let reply = send_request(&app, with_token(request, "wrong")).await;
        assert_eq!(reply.status, 401, "{what}");
    }

    let state_after = send_request(&app, authed(admin("GET", "/state", None)))
        .await
        .json();
    assert_eq!(state_after, state_before);
    let faults = send_request(&app, authed(admin("GET", "/faults", None))).await;
    assert_eq!(faults.json(), json!({"faults": []}));
    let requests = send_request(&app, authed(admin("GET", "/requests", None))).await;
    assert_eq!(requests.json()["requests"].as_array().unwrap().len(), 1);
    let clock = send_request(&app, authed(admin("GET", "/clock", None))).await;
    assert_eq!(clock.json()["real"], true, "{}", clock.body);
    // And the API still answers as before.
    assert_eq!(records(&api(&app, ASK_TOOLS).await).len(), 12);
}

#[tokio::test]
async fn with_a_token_the_right_token_works() {
    let app = token_app();
    let reply = send_request(&app, with_token(admin("GET", "/state", None), TOKEN)).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let reply = send_request(
        &app,
        with_token(
            admin(
                "PUT",
                "/instances/i-bp1newinstance01",
                Some(json!({"regionId": "cn-hangzhou"})),
            ),
            TOKEN,
        ),
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let reply = send_request(
        &app,
        with_token(admin("GET", "/instances/i-bp1newinstance01", None), TOKEN),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let reply = send_request(
        &app,
        with_token(
            admin("POST", "/faults", Some(json!({"latencyMs": 1}))),
            TOKEN,
        ),
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
}

#[tokio::test]
async fn with_a_token_api_requests_never_need_it() {
    let app = token_app();
    let reply = api(&app, ASK_TOOLS).await;
    assert_eq!(records(&reply).len(), 12);
    // Not even one carrying a wrong bearer token.
    let request = with_token(
        Request::get(format!("/?{BASE}&{ASK_TOOLS}"))
            .body(Body::empty())
            .unwrap(),
        "wrong",
    );
    let reply = send_request(&app, request).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
}

// ---------------------------------------------------------------------------------------------
// State and reset
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn get_state_exports_the_demo_data_as_a_fixture() {
    let app = demo_app();
    let exported = state_of(&app).await;
    let demo: Value = serde_json::from_str(DEMO_JSON).unwrap();
    assert_eq!(normalised(&exported), normalised(&demo));
    // Every instance names its account in the export.
    for instance in exported["instances"].as_array().unwrap() {
        assert!(instance["accountId"].is_string(), "{instance}");
    }
    // And it is a valid fixture.
    fixture::load_str("export", &exported.to_string()).expect("the export is a valid fixture");
}

#[tokio::test]
async fn put_state_of_the_export_round_trips() {
    let app = demo_app();
    let exported = state_of(&app).await;
    let reply = call(&app, "PUT", "/state", Some(exported.clone())).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(state_of(&app).await, exported);
}

#[tokio::test]
async fn put_state_replaces_everything_and_answers_a_summary() {
    let app = demo_app();
    let fixture = json!({
        "accounts": [
            {"accountId": "999", "default": true,
             "accessKeys": [{"id": "LTAI5tNewKey", "secret": "x"}]},
            {"accountId": "888"}
        ],
        "catalog": [{"name": "new_catalog_plugin", "type": "Once"}],
        "instances": [
            {"instanceId": "i-new-1", "regionId": "cn-beijing",
             "plugins": [{"name": "only_here", "version": "9", "status": "Running"},
                         {"name": "other", "version": "1", "status": "Stopped"}]},
            {"instanceId": "i-new-2", "regionId": "cn-shenzhen", "plugins": []}
        ]
    });
    let reply = call(&app, "PUT", "/state", Some(fixture)).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        reply.json(),
        json!({"accounts": 2, "catalog": 1, "instances": 2, "regions": 2, "records": 2})
    );

    let listed = records(&api(&app, "RegionId=cn-beijing&Name=only_here").await);
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["InstanceId"], "i-new-1");
    assert_eq!(listed[0]["PluginVersion"], "9");
    // The old data is gone: its names, instances and the region only it used.
    let reply = api(&app, ASK_TOOLS).await;
    assert_eq!(
        (reply.status, reply.code().as_str()),
        (404, "InvalidPluginName.NotFound"),
        "{}",
        reply.body
    );
    let reply = api(
        &app,
        "RegionId=cn-hangzhou&InstanceId.1=i-bp1iudwa5b1tqa0001",
    )
    .await;
    assert_eq!(reply.code(), "InvalidInstance.NotFound", "{}", reply.body);
    let reply = api(&app, "RegionId=emulator-local-1&Name=ecs_tools_test").await;
    assert_eq!(reply.code(), "InvalidRegionId.NotFound", "{}", reply.body);
    // The new catalog is askable.
    let listed = records(&api(&app, "RegionId=cn-beijing&Name=new_catalog_plugin").await);
    assert_eq!(listed[0]["PluginStatus"], "NotInstalled");
}

#[tokio::test]
async fn put_state_with_bad_json_is_400_invalid_json_and_changes_nothing() {
    let app = demo_app();
    let before = state_of(&app).await;
    for body in ["{\"instances\": [", "not json", "", "{} trailing"] {
        let reply = send_request(&app, admin_raw("PUT", "/state", body)).await;
        assert_eq!(reply.status, 400, "{body:?}: {}", reply.body);
        assert_eq!(
            reply.json()["code"],
            "InvalidJson",
            "{body:?}: {}",
            reply.body
        );
        assert!(message(&reply).starts_with("body: "), "{}", reply.body);
    }
    assert_eq!(state_of(&app).await, before);
}

#[tokio::test]
async fn put_state_with_a_wrong_type_names_the_path_and_changes_nothing() {
    let app = demo_app();
    let before = state_of(&app).await;
    let cases = [
        (
            json!({"instances": [{"instanceId": "i-1", "regionId": "cn-hangzhou",
                "plugins": [{"name": "p", "version": "1", "status": "Flying"}]}]}),
            "instances[0].plugins[0].status",
        ),
        (json!({"instances": "none"}), "instances"),
        (json!({"instances": [], "extra": 1}), "extra"),
        (
            json!({"accounts": [{"accountId": 5, "default": true}]}),
            "accounts[0].accountId",
        ),
        (
            json!({"instances": [{"instanceId": "i-1", "regionId": "cn-hangzhou"},
                {"instanceId": "i-2", "regionId": "cn-hangzhou",
                 "plugins": [{"name": "p", "status": "Running", "lastHeartbeatTime": "yesterday"}]}]}),
            "instances[1].plugins[0].lastHeartbeatTime",
        ),
    ];
    for (body, path) in cases {
        let reply = call(&app, "PUT", "/state", Some(body)).await;
        assert_admin_error(&reply, 400, "InvalidField", path);
    }
    assert_eq!(state_of(&app).await, before);
}

/// Valid JSON whose value has the wrong type for an enum field (a number or `null` where a
/// status or plug-in type string belongs) is a bad field, not bad JSON.
#[tokio::test]
async fn put_state_with_a_non_string_enum_value_names_the_path() {
    let app = demo_app();
    let before = state_of(&app).await;
    let cases = [
        (
            json!({"instances": [{"instanceId": "i-1", "regionId": "cn-hangzhou",
                "plugins": [{"name": "p", "version": "1", "status": 3}]}]}),
            "instances[0].plugins[0].status",
        ),
        (
            json!({"catalog": [{"name": "p", "type": null}]}),
            "catalog[0].type",
        ),
    ];
    for (body, path) in cases {
        let reply = call(&app, "PUT", "/state", Some(body)).await;
        assert_admin_error(&reply, 400, "InvalidField", path);
    }
    let reply = call(
        &app,
        "PUT",
        "/instances/i-bp1iudwa5b1tqa0001/plugins/ecs_tools_test",
        Some(json!({"version": "1", "status": 3})),
    )
    .await;
    assert_admin_error(&reply, 400, "InvalidField", "status");
    assert_eq!(state_of(&app).await, before);
}

#[tokio::test]
async fn put_state_with_a_duplicate_instance_is_400_and_changes_nothing() {
    let app = demo_app();
    let before = state_of(&app).await;
    let body = json!({"instances": [
        {"instanceId": "i-twice", "regionId": "cn-hangzhou"},
        {"instanceId": "i-twice", "regionId": "cn-shanghai"}
    ]});
    let reply = call(&app, "PUT", "/state", Some(body)).await;
    assert_admin_error(&reply, 400, "InvalidField", "instanceId");
    assert!(message(&reply).contains("i-twice"), "{}", reply.body);
    // An instance of an account that is not defined, and two default accounts, likewise.
    let reply = call(
        &app,
        "PUT",
        "/state",
        Some(json!({"instances": [{"instanceId": "i-1", "regionId": "cn-hangzhou", "accountId": "404"}]})),
    )
    .await;
    assert_admin_error(&reply, 400, "InvalidField", "accountId");
    let reply = call(
        &app,
        "PUT",
        "/state",
        Some(json!({"accounts": [{"accountId": "1", "default": true}, {"accountId": "2", "default": true}]})),
    )
    .await;
    assert_admin_error(&reply, 400, "InvalidField", "accounts[].default");
    assert_eq!(state_of(&app).await, before);
}

#[tokio::test]
async fn reset_restores_the_start_up_data_and_clears_faults_journal_and_clock() {
    let app = demo_app();
    let start = state_of(&app).await;
    call(&app, "DELETE", "/instances/i-bp1iudwa5b1tqa0001", None).await;
    call(
        &app,
        "PUT",
        "/instances/i-bp1brandnew0001",
        Some(json!({"regionId": "cn-hangzhou"})),
    )
    .await;
    add_fault(&app, json!({"code": "Throttling.User", "action": "Nope"})).await;
    api(&app, ASK_TOOLS).await;
    call(
        &app,
        "PUT",
        "/clock",
        Some(json!({"now": "2030-01-01T00:00:00Z", "frozen": true})),
    )
    .await;
    assert_ne!(state_of(&app).await, start);

    let reply = call(&app, "POST", "/reset", None).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        reply.json(),
        json!({"accounts": 2, "catalog": 6, "instances": 20, "regions": 4, "records": 33})
    );
    assert_eq!(state_of(&app).await, start);
    assert_eq!(
        call(&app, "GET", "/faults", None).await.json(),
        json!({"faults": []})
    );
    assert!(journal(&app, "").await.is_empty());
    let clock = call(&app, "GET", "/clock", None).await.json();
    assert_eq!(clock["real"], true, "{clock}");
    assert_eq!(clock["frozen"], false, "{clock}");
    let year = time_of(&clock["now"]).format("%Y").to_string();
    assert_ne!(year, "2030", "{clock}");
}

// ---------------------------------------------------------------------------------------------
// Instances
// ---------------------------------------------------------------------------------------------

fn new_instance(region: &str) -> Value {
    json!({"regionId": region, "plugins": [
        {"name": "ecs_tools_test", "version": "2.0", "status": "Running",
         "firstHeartbeatTime": "2026-01-01T00:00:00Z", "lastHeartbeatTime": "2026-01-02T00:00:00Z"}
    ]})
}

#[tokio::test]
async fn put_instance_creates_201_then_replaces_200_moving_region() {
    let app = demo_app();
    let path = "/instances/i-bp1brandnew0001";
    let reply = call(&app, "PUT", path, Some(new_instance("cn-hangzhou"))).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let created = reply.json();
    assert_eq!(created["instanceId"], "i-bp1brandnew0001");
    assert_eq!(created["regionId"], "cn-hangzhou");
    assert_eq!(created["accountId"], DEFAULT_ACCOUNT);
    assert_eq!(created["plugins"][0]["version"], "2.0");

    let reply = call(
        &app,
        "PUT",
        path,
        Some(json!({"regionId": "cn-shanghai", "plugins": [
            {"name": "multi-nic-util", "version": "1.0.0", "status": "Stopped"}]})),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.json()["regionId"], "cn-shanghai");

    // The API sees it in its new region only, with only its new plug-ins.
    let reply = api(&app, "RegionId=cn-hangzhou&InstanceId.1=i-bp1brandnew0001").await;
    assert_eq!(reply.code(), "InvalidInstance.NotFound", "{}", reply.body);
    let listed = records(&api(&app, "RegionId=cn-shanghai&InstanceId.1=i-bp1brandnew0001").await);
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["PluginName"], "multi-nic-util");
    assert_eq!(listed[0]["PluginStatus"], "Stopped");
}

#[tokio::test]
async fn get_instance_answers_it_as_a_fixture_instance() {
    let app = demo_app();
    let reply = call(&app, "GET", "/instances/i-bp1iudwa5b1tqa0002", None).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        reply.json(),
        json!({
            "instanceId": "i-bp1iudwa5b1tqa0002",
            "regionId": "cn-hangzhou",
            "accountId": DEFAULT_ACCOUNT,
            "plugins": [
                {"name": "ecs_dump_config", "version": "2.3", "status": "Installed",
                 "firstHeartbeatTime": "2025-02-11T04:22:00Z", "lastHeartbeatTime": "2025-02-11T04:22:00Z"},
                {"name": "ecs_tools_test", "version": "1.1", "status": "Crashed",
                 "firstHeartbeatTime": "2025-02-11T04:21:09Z", "lastHeartbeatTime": "2026-11-19T17:45:33Z"}
            ],
            "osType": "Linux",
            "cloudAssistant": {"installed": true, "online": true, "version": "2.2.3.344"}
        })
    );
    let reply = call(&app, "GET", "/instances/i-nope", None).await;
    assert_admin_error(&reply, 404, "InstanceNotFound", "instanceId");
}

#[tokio::test]
async fn put_instance_is_listed_by_the_api_and_delete_makes_it_not_found() {
    let app = demo_app();
    let query = "RegionId=cn-hangzhou&InstanceId.1=i-bp1brandnew0001";
    let reply = api(&app, query).await;
    assert_eq!(reply.code(), "InvalidInstance.NotFound", "{}", reply.body);

    let reply = call(
        &app,
        "PUT",
        "/instances/i-bp1brandnew0001",
        Some(new_instance("cn-hangzhou")),
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let listed = records(&api(&app, query).await);
    assert_eq!(
        listed,
        [
            json!({"InstanceId": "i-bp1brandnew0001", "PluginName": "ecs_tools_test",
            "PluginVersion": "2.0", "PluginStatus": "Running",
            "FirstHeartbeatTime": "2026-01-01T00:00:00Z", "LastHeartbeatTime": "2026-01-02T00:00:00Z"})
        ]
    );

    let reply = call(&app, "DELETE", "/instances/i-bp1brandnew0001", None).await;
    assert_eq!(reply.status, 204, "{}", reply.body);
    assert!(reply.body.is_empty());
    let reply = call(&app, "GET", "/instances/i-bp1brandnew0001", None).await;
    assert_admin_error(&reply, 404, "InstanceNotFound", "instanceId");
    let reply = call(&app, "DELETE", "/instances/i-bp1brandnew0001", None).await;
    assert_admin_error(&reply, 404, "InstanceNotFound", "instanceId");
    let reply = api(&app, query).await;
    assert_eq!(reply.code(), "InvalidInstance.NotFound", "{}", reply.body);
}

#[tokio::test]
async fn deleting_a_demo_instance_makes_it_not_found_for_the_api() {
    let app = demo_app();
    let query = "RegionId=cn-hangzhou&InstanceId.1=i-bp1iudwa5b1tqa0001";
    assert_eq!(records(&api(&app, query).await).len(), 3);
    let reply = call(&app, "DELETE", "/instances/i-bp1iudwa5b1tqa0001", None).await;
    assert_eq!(reply.status, 204, "{}", reply.body);
    let reply = api(&app, query).await;
    assert_eq!(
        (reply.status, reply.code().as_str()),
        (404, "InvalidInstance.NotFound"),
        "{}",
        reply.body
    );
    assert_eq!(records(&api(&app, ASK_TOOLS).await).len(), 11);
}

#[tokio::test]
async fn account_id_selects_between_instances_with_the_same_id() {
    let app = demo_app();
    let id = "i-bp1iudwa5b1tqa0001";
    let reply = call(
        &app,
        "PUT",
        &format!("/instances/{id}?accountId={OTHER_ACCOUNT}"),
        Some(json!({"regionId": "cn-hangzhou", "plugins": [
            {"name": "acme-private-agent", "version": "7", "status": "Running"}]})),
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(reply.json()["accountId"], OTHER_ACCOUNT);

    // Without ?accountId= the id is ambiguous, for every instance route.
    for (method, path) in [
        ("GET", format!("/instances/{id}")),
        ("DELETE", format!("/instances/{id}")),
        ("GET", format!("/instances/{id}/plugins/ecs_tools_test")),
        ("DELETE", format!("/instances/{id}/plugins/ecs_tools_test")),
        (
            "POST",
            format!("/instances/{id}/plugins/ecs_tools_test/heartbeat"),
        ),
    ] {
        let reply = call(&app, method, &path, None).await;
        assert_admin_error(&reply, 400, "InvalidField", "accountId");
        let text = message(&reply);
        assert!(
            text.contains(DEFAULT_ACCOUNT) && text.contains(OTHER_ACCOUNT),
            "{text}"
        );
    }
    let reply = call(
        &app,
        "PUT",
        &format!("/instances/{id}"),
        Some(json!({"regionId": "cn-hangzhou"})),
    )
    .await;
    assert_admin_error(&reply, 400, "InvalidField", "accountId");

    // With it, each account's own.
    let reply = call(
        &app,
        "GET",
        &format!("/instances/{id}?accountId={OTHER_ACCOUNT}"),
        None,
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.json()["plugins"][0]["name"], "acme-private-agent");
    let reply = call(
        &app,
        "GET",
        &format!("/instances/{id}?accountId={DEFAULT_ACCOUNT}"),
        None,
    )
    .await;
    assert_eq!(reply.json()["plugins"].as_array().unwrap().len(), 3);

    // The API shows each caller its own account's instance.
    let query = format!("RegionId=cn-hangzhou&InstanceId.1={id}");
    let other = records(&api(&app, &format!("AccessKeyId={OTHER_KEY}&{query}")).await);
    assert_eq!(other.len(), 1);
    assert_eq!(other[0]["PluginName"], "acme-private-agent");
    assert_eq!(other[0]["PluginVersion"], "7");
    assert_eq!(records(&api(&app, &query).await).len(), 3);

    // Deleting one leaves the other.
    let reply = call(
        &app,
        "DELETE",
        &format!("/instances/{id}?accountId={OTHER_ACCOUNT}"),
        None,
    )
    .await;
    assert_eq!(reply.status, 204, "{}", reply.body);
    let reply = api(&app, &format!("AccessKeyId={OTHER_KEY}&{query}")).await;
    assert_eq!(reply.code(), "InvalidInstance.NotFound", "{}", reply.body);
    assert_eq!(records(&api(&app, &query).await).len(), 3);
    let reply = call(&app, "GET", &format!("/instances/{id}"), None).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
}

#[tokio::test]
async fn an_instance_of_another_account_is_created_there_and_seen_by_its_key() {
    let app = demo_app();
    let reply = call(
        &app,
        "PUT",
        "/instances/i-bp1otheraccount0099",
        Some(
            json!({"regionId": "cn-hangzhou", "accountId": OTHER_ACCOUNT, "plugins": [
            {"name": "acme-private-agent", "version": "5", "status": "Stopped"}]}),
        ),
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let query = "RegionId=cn-hangzhou&InstanceId.1=i-bp1otheraccount0099";
    let listed = records(&api(&app, &format!("AccessKeyId={OTHER_KEY}&{query}")).await);
    assert_eq!(listed[0]["PluginStatus"], "Stopped");
    // The default account does not see it.
    let reply = api(&app, query).await;
    assert_eq!(reply.code(), "InvalidInstance.NotFound", "{}", reply.body);
    // The owner is found without ?accountId= when the id is unique.
    let reply = call(&app, "GET", "/instances/i-bp1otheraccount0099", None).await;
    assert_eq!(reply.json()["accountId"], OTHER_ACCOUNT, "{}", reply.body);
}

#[tokio::test]
async fn an_unknown_account_id_is_400() {
    let app = demo_app();
    let before = state_of(&app).await;
    for (method, path, body) in [
        (
            "PUT",
            "/instances/i-x?accountId=404404",
            Some(json!({"regionId": "cn-hangzhou"})),
        ),
        (
            "PUT",
            "/instances/i-x",
            Some(json!({"regionId": "cn-hangzhou", "accountId": "404404"})),
        ),
        (
            "GET",
            "/instances/i-bp1iudwa5b1tqa0001?accountId=404404",
            None,
        ),
        (
            "DELETE",
            "/instances/i-bp1iudwa5b1tqa0001?accountId=404404",
            None,
        ),
        (
            "GET",
            "/instances/i-bp1iudwa5b1tqa0001/plugins/ecs_tools_test?accountId=404404",
            None,
        ),
    ] {
        let reply = call(&app, method, path, body).await;
        assert_admin_error(&reply, 400, "InvalidField", "accountId");
        assert!(message(&reply).contains("404404"), "{}", reply.body);
    }
    assert_eq!(state_of(&app).await, before);
}

#[tokio::test]
async fn an_instance_in_the_wrong_account_is_404() {
    let app = demo_app();
    let reply = call(
        &app,
        "GET",
        &format!("/instances/i-bp1iudwa5b1tqa0001?accountId={OTHER_ACCOUNT}"),
        None,
    )
    .await;
    assert_admin_error(&reply, 404, "InstanceNotFound", "instanceId");
}

#[tokio::test]
async fn query_and_body_account_ids_that_differ_are_400() {
    let app = demo_app();
    let before = state_of(&app).await;
    let reply = call(
        &app,
        "PUT",
        &format!("/instances/i-bp1brandnew0001?accountId={DEFAULT_ACCOUNT}"),
        Some(json!({"regionId": "cn-hangzhou", "accountId": OTHER_ACCOUNT})),
    )
    .await;
    assert_admin_error(&reply, 400, "InvalidField", "accountId");
    assert_eq!(state_of(&app).await, before);
    // The same account in both places is fine.
    let reply = call(
        &app,
        "PUT",
        &format!("/instances/i-bp1brandnew0001?accountId={OTHER_ACCOUNT}"),
        Some(json!({"regionId": "cn-hangzhou", "accountId": OTHER_ACCOUNT})),
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
}

#[tokio::test]
async fn an_unknown_query_parameter_is_400_naming_it() {
    let app = demo_app();
    let before = state_of(&app).await;
    for (method, path, body) in [
        (
            "PUT",
            "/instances/i-x?acountId=1",
            Some(json!({"regionId": "cn-hangzhou"})),
        ),
        ("GET", "/instances/i-bp1iudwa5b1tqa0001?acountId=1", None),
        ("DELETE", "/instances/i-bp1iudwa5b1tqa0001?acountId=1", None),
        (
            "POST",
            "/instances/i-bp1iudwa5b1tqa0001/plugins/ecs_tools_test/heartbeat?acountId=1",
            None,
        ),
    ] {
        let reply = call(&app, method, path, body).await;
        assert_admin_error(&reply, 400, "InvalidField", "acountId");
    }
    let reply = call(&app, "GET", "/requests?actions=x", None).await;
    assert_admin_error(&reply, 400, "InvalidField", "actions");
    assert_eq!(state_of(&app).await, before);
}

/// Ids and names in the path follow the data file's rules: no control characters (an XML
/// answer could not carry them), bounded length.
#[tokio::test]
async fn a_path_id_or_name_with_a_control_character_is_400() {
    let app = demo_app();
    let reply = call(
        &app,
        "PUT",
        "/instances/i-%01bad",
        Some(new_instance("cn-hangzhou")),
    )
    .await;
    assert_admin_error(&reply, 400, "InvalidField", "instanceId");
    let long = "i".repeat(129);
    let reply = call(
        &app,
        "PUT",
        &format!("/instances/{long}"),
        Some(new_instance("cn-hangzhou")),
    )
    .await;
    assert_admin_error(&reply, 400, "InvalidField", "instanceId");
    let reply = call(
        &app,
        "POST",
        "/instances/i-bp1iudwa5b1tqa0001/plugins/bad%0Aname/install",
        None,
    )
    .await;
    assert_admin_error(&reply, 400, "InvalidField", "name");
}

#[tokio::test]
async fn an_instance_body_with_an_unknown_or_bad_field_is_400() {
    let app = demo_app();
    let before = state_of(&app).await;
    let path = "/instances/i-bp1brandnew0001";
    let reply = call(
        &app,
        "PUT",
        path,
        Some(json!({"regionId": "cn-hangzhou", "region": "cn-shanghai"})),
    )
    .await;
    assert_admin_error(&reply, 400, "InvalidField", "region");

    let reply = call(&app, "PUT", path, Some(json!({"plugins": []}))).await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert!(message(&reply).contains("regionId"), "{}", reply.body);

    let reply = call(
        &app,
        "PUT",
        path,
        Some(json!({"regionId": "cn-hangzhou", "plugins": [{"name": "p", "status": "Fine"}]})),
    )
    .await;
    assert_admin_error(&reply, 400, "InvalidField", "plugins[0].status");

    let reply = call(
        &app,
        "PUT",
        path,
        Some(json!({"regionId": "cn-hangzhou", "plugins": [
            {"name": "p", "status": "Running"}, {"name": "p", "status": "Stopped"}]})),
    )
    .await;
    assert_admin_error(&reply, 400, "InvalidField", "plugins[].name");

    let reply = send_request(&app, admin_raw("PUT", path, "{\"regionId\": ")).await;
    assert_admin_error(&reply, 400, "InvalidJson", "body");
    assert_eq!(state_of(&app).await, before);
}

// ---------------------------------------------------------------------------------------------
// Plug-ins
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn put_plugin_creates_201_replaces_200_get_and_delete() {
    let app = demo_app();
    let path = "/instances/i-bp1iudwa5b1tqa0005/plugins/ecs_tools_test";
    let reply = call(&app, "GET", path, None).await;
    assert_admin_error(&reply, 404, "PluginNotFound", "name");

    let reply = call(
        &app,
        "PUT",
        path,
        Some(json!({"version": "1.5", "status": "Running",
            "firstHeartbeatTime": "2026-03-01T00:00:00Z", "lastHeartbeatTime": "2026-03-02T00:00:00Z"})),
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(
        reply.json(),
        json!({"name": "ecs_tools_test", "version": "1.5", "status": "Running",
            "firstHeartbeatTime": "2026-03-01T00:00:00Z", "lastHeartbeatTime": "2026-03-02T00:00:00Z"})
    );
    let record = api_record(&app, "i-bp1iudwa5b1tqa0005", "ecs_tools_test").await;
    assert_eq!(record["PluginStatus"], "Running");
    assert_eq!(record["PluginVersion"], "1.5");

    let reply = call(
        &app,
        "PUT",
        path,
        Some(json!({"version": "1.6", "status": "Stopped"})),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let reply = call(&app, "GET", path, None).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        reply.json(),
        json!({"name": "ecs_tools_test", "version": "1.6", "status": "Stopped"})
    );
    let record = api_record(&app, "i-bp1iudwa5b1tqa0005", "ecs_tools_test").await;
    assert_eq!(record["PluginStatus"], "Stopped");
    assert_eq!(record["LastHeartbeatTime"], "");

    let reply = call(&app, "DELETE", path, None).await;
    assert_eq!(reply.status, 204, "{}", reply.body);
    assert!(reply.body.is_empty());
    let reply = call(&app, "GET", path, None).await;
    assert_admin_error(&reply, 404, "PluginNotFound", "name");
    let reply = call(&app, "DELETE", path, None).await;
    assert_admin_error(&reply, 404, "PluginNotFound", "name");
    // Gone, not Removed: the instance never had it.
    let record = api_record(&app, "i-bp1iudwa5b1tqa0005", "ecs_tools_test").await;
    assert_eq!(record["PluginStatus"], "NotInstalled");
}

#[tokio::test]
async fn plugin_routes_on_an_unknown_instance_are_404_instance_not_found() {
    let app = demo_app();
    let path = "/instances/i-nope/plugins/ecs_tools_test";
    let reply = call(
        &app,
        "PUT",
        path,
        Some(json!({"version": "1", "status": "Running"})),
    )
    .await;
    assert_admin_error(&reply, 404, "InstanceNotFound", "instanceId");
    for method in ["GET", "DELETE"] {
        let reply = call(&app, method, path, None).await;
        assert_admin_error(&reply, 404, "InstanceNotFound", "instanceId");
    }
}

#[tokio::test]
async fn a_plugin_body_with_a_bad_field_is_400_and_changes_nothing() {
    let app = demo_app();
    let before = state_of(&app).await;
    let path = "/instances/i-bp1iudwa5b1tqa0001/plugins/ecs_tools_test";
    let reply = call(
        &app,
        "PUT",
        path,
        Some(json!({"version": "1", "status": "Sleeping"})),
    )
    .await;
    assert_admin_error(&reply, 400, "InvalidField", "status");
    let reply = call(
        &app,
        "PUT",
        path,
        Some(json!({"version": "1", "status": "Running", "firstHeartbeatTime": "noon"})),
    )
    .await;
    assert_admin_error(&reply, 400, "InvalidField", "firstHeartbeatTime");
    let reply = call(
        &app,
        "PUT",
        path,
        Some(json!({"version": "1", "status": "Running", "name": "x"})),
    )
    .await;
    assert_admin_error(&reply, 400, "InvalidField", "name");
    assert_eq!(state_of(&app).await, before);
}

#[tokio::test]
async fn a_plugin_name_only_on_an_instance_is_askable_until_removed() {
    let app = demo_app();
    let ask = "RegionId=cn-hangzhou&Name=acme-custom-agent&PageSize=50";
    let reply = api(&app, ask).await;
    assert_eq!(
        (reply.status, reply.code().as_str()),
        (404, "InvalidPluginName.NotFound"),
        "{}",
        reply.body
    );

    let path = "/instances/i-bp1iudwa5b1tqa0005/plugins/acme-custom-agent";
    let reply = call(
        &app,
        "PUT",
        path,
        Some(json!({"version": "0.1", "status": "Running"})),
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let listed = records(&api(&app, ask).await);
    // One record per instance of the default account in the region.
    assert_eq!(listed.len(), 12);
    let mine: Vec<&Value> = listed
        .iter()
        .filter(|r| r["PluginStatus"] != "NotInstalled")
        .collect();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0]["InstanceId"], "i-bp1iudwa5b1tqa0005");
    assert_eq!(mine[0]["PluginVersion"], "0.1");
    // Another account does not get to ask for it.
    let reply = api(&app, &format!("AccessKeyId={OTHER_KEY}&{ask}")).await;
    assert_eq!(reply.code(), "InvalidPluginName.NotFound", "{}", reply.body);

    let reply = call(&app, "DELETE", path, None).await;
    assert_eq!(reply.status, 204, "{}", reply.body);
    let reply = api(&app, ask).await;
    assert_eq!(reply.code(), "InvalidPluginName.NotFound", "{}", reply.body);
}

// ---------------------------------------------------------------------------------------------
// Lifecycle events
// ---------------------------------------------------------------------------------------------

async fn event(
    app: &Router,
    instance: &str,
    name: &str,
    event: &str,
    body: Option<Value>,
) -> Reply {
    call(
        app,
        "POST",
        &format!("/instances/{instance}/plugins/{name}/{event}"),
        body,
    )
    .await
}

#[tokio::test]
async fn every_event_of_a_persist_plugin_through_http() {
    let app = demo_app();
    let id = "i-bp1iudwa5b1tqa0005";
    let name = "multi-nic-util"; // Persist in the catalog
    for (ev, status) in [
        ("install", "Running"),
        ("stop", "Stopped"),
        ("start", "Running"),
        ("crash", "Crashed"),
        ("start", "Running"),
        ("heartbeat", "Running"),
        ("remove", "Removed"),
        ("install", "Running"),
    ] {
        let reply = event(&app, id, name, ev, None).await;
        assert_eq!(reply.status, 200, "{ev}: {}", reply.body);
        let plugin = reply.json();
        assert_eq!(plugin["name"], name, "{ev}");
        assert_eq!(plugin["status"], status, "{ev}");
        assert_eq!(
            plugin["version"], "1.0",
            "{ev}: a first install reports 1.0"
        );
        assert_eq!(
            api_record(&app, id, name).await["PluginStatus"],
            status,
            "{ev}"
        );
    }
    // Unknown goes to Running on start, and heartbeats keep each live state.
    let reply = event(
        &app,
        "i-bp1iudwa5b1tqa0004",
        "ecs_tools_test",
        "start",
        None,
    )
    .await;
    assert_eq!(reply.json()["status"], "Running", "{}", reply.body);
    for instance in ["i-bp1iudwa5b1tqa0002", "i-bp1iudwa5b1tqa0008"] {
        let before = call(
            &app,
            "GET",
            &format!("/instances/{instance}/plugins/ecs_tools_test"),
            None,
        )
        .await
        .json();
        let reply = event(&app, instance, "ecs_tools_test", "heartbeat", None).await;
        assert_eq!(reply.json()["status"], before["status"], "{}", reply.body);
    }
}

#[tokio::test]
async fn install_of_a_once_catalog_plugin_is_installed_and_persist_is_running() {
    let app = demo_app();
    let id = "i-bp1iudwa5b1tqa0005";
    let reply = event(&app, id, "config_ecs_instance_connect", "install", None).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.json()["status"], "Installed");
    let reply = event(&app, id, "ecs-nvme-tool", "install", None).await;
    assert_eq!(reply.json()["status"], "Running", "{}", reply.body);
    // Not in the catalog: Persist.
    let reply = event(&app, id, "acme-new-agent", "install", None).await;
    assert_eq!(reply.json()["status"], "Running", "{}", reply.body);
    // Once: heartbeat keeps Installed, remove works, and it does not start.
    let reply = event(&app, id, "config_ecs_instance_connect", "heartbeat", None).await;
    assert_eq!(reply.json()["status"], "Installed", "{}", reply.body);
    let reply = event(&app, id, "config_ecs_instance_connect", "remove", None).await;
    assert_eq!(reply.json()["status"], "Removed", "{}", reply.body);
    assert_eq!(
        api_record(&app, id, "config_ecs_instance_connect").await["PluginStatus"],
        "Removed"
    );
}

#[tokio::test]
async fn type_and_version_in_the_event_body_are_used() {
    let app = demo_app();
    let id = "i-bp1iudwa5b1tqa0005";
    // ecs_dump_config is Once in the catalog; the body overrides.
    let reply = event(
        &app,
        id,
        "ecs_dump_config",
        "install",
        Some(json!({"type": "Persist", "version": "3.0"})),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.json()["status"], "Running");
    assert_eq!(reply.json()["version"], "3.0");
    // multi-nic-util is Persist in the catalog; the body overrides.
    let reply = event(
        &app,
        id,
        "multi-nic-util",
        "install",
        Some(json!({"type": "Once"})),
    )
    .await;
    assert_eq!(reply.json()["status"], "Installed", "{}", reply.body);
    // A version on a later event replaces it; none keeps it.
    let reply = event(
        &app,
        id,
        "ecs_dump_config",
        "heartbeat",
        Some(json!({"version": "3.1"})),
    )
    .await;
    assert_eq!(reply.json()["version"], "3.1", "{}", reply.body);
    let reply = event(&app, id, "ecs_dump_config", "stop", None).await;
    assert_eq!(reply.json()["version"], "3.1", "{}", reply.body);
    assert_eq!(
        api_record(&app, id, "ecs_dump_config").await["PluginVersion"],
        "3.1"
    );
    // A reinstall without a version keeps the previous one.
    event(&app, id, "ecs_dump_config", "remove", None).await;
    let reply = event(&app, id, "ecs_dump_config", "install", None).await;
    assert_eq!(reply.json()["version"], "3.1", "{}", reply.body);
    assert_eq!(
        reply.json()["status"],
        "Installed",
        "Once again, by the catalog"
    );

    // A bad body is 400 naming the field.
    let reply = event(
        &app,
        id,
        "acme-x",
        "install",
        Some(json!({"type": "Sometimes"})),
    )
    .await;
    assert_admin_error(&reply, 400, "InvalidField", "type");
    let reply = event(
        &app,
        id,
        "acme-x",
        "install",
        Some(json!({"colour": "red"})),
    )
    .await;
    assert_admin_error(&reply, 400, "InvalidField", "colour");
    let reply = call(
        &app,
        "GET",
        &format!("/instances/{id}/plugins/acme-x"),
        None,
    )
    .await;
    assert_eq!(reply.status, 404, "{}", reply.body);
}

#[tokio::test]
async fn an_impossible_transition_is_409_naming_state_and_event_and_changes_nothing() {
    let app = demo_app();
    let cases = [
        // (instance, plug-in, event, state in words)
        ("i-bp1iudwa5b1tqa0002", "ecs_tools_test", "stop", "Crashed"),
        ("i-bp1iudwa5b1tqa0002", "ecs_tools_test", "crash", "Crashed"),
        (
            "i-bp1iudwa5b1tqa0001",
            "ecs_tools_test",
            "install",
            "Running",
        ),
        ("i-bp1iudwa5b1tqa0001", "ecs_tools_test", "start", "Running"),
        (
            "i-bp1iudwa5b1tqa0003",
            "ecs_tools_test",
            "heartbeat",
            "Removed",
        ),
        (
            "i-bp1iudwa5b1tqa0003",
            "ecs_tools_test",
            "remove",
            "Removed",
        ),
        ("i-bp1iudwa5b1tqa0003", "ecs_tools_test", "start", "Removed"),
        ("i-bp1iudwa5b1tqa0008", "ecs_tools_test", "crash", "Stopped"),
        (
            "i-bp1iudwa5b1tqa0001",
            "config_ecs_instance_connect",
            "stop",
            "Installed",
        ),
        (
            "i-bp1iudwa5b1tqa0001",
            "config_ecs_instance_connect",
            "start",
            "Installed",
        ),
        (
            "i-bp1iudwa5b1tqa0007",
            "ecs_tools_test",
            "heartbeat",
            "not installed",
        ),
        (
            "i-bp1iudwa5b1tqa0005",
            "ecs_tools_test",
            "stop",
            "not installed",
        ),
        (
            "i-bp1iudwa5b1tqa0005",
            "ecs_tools_test",
            "remove",
            "not installed",
        ),
    ];
    let before = state_of(&app).await;
    for (instance, name, ev, state) in cases {
        let reply = event(&app, instance, name, ev, None).await;
        assert_admin_error(&reply, 409, "InvalidTransition", "event");
        let text = message(&reply);
        assert!(
            text.contains(&format!("cannot {ev} plug-in {name}: it is {state}")),
            "{instance} {name} {ev}: {text}"
        );
    }
    assert_eq!(state_of(&app).await, before);
}

#[tokio::test]
async fn a_once_plugin_does_not_start() {
    let app = demo_app();
    let path = "/instances/i-bp1iudwa5b1tqa0005/plugins/config_ecs_instance_connect";
    call(
        &app,
        "PUT",
        path,
        Some(json!({"version": "1.0", "status": "Stopped"})),
    )
    .await;
    let reply = call(&app, "POST", &format!("{path}/start"), None).await;
    assert_admin_error(&reply, 409, "InvalidTransition", "event");
    assert!(
        message(&reply).contains("it is Stopped and a Once plug-in does not start"),
        "{}",
        reply.body
    );
    // Unless the body says it is Persist.
    let reply = call(
        &app,
        "POST",
        &format!("{path}/start"),
        Some(json!({"type": "Persist"})),
    )
    .await;
    assert_eq!(reply.json()["status"], "Running", "{}", reply.body);
}

#[tokio::test]
async fn an_unknown_event_or_instance_is_404() {
    let app = demo_app();
    let reply = event(
        &app,
        "i-bp1iudwa5b1tqa0001",
        "ecs_tools_test",
        "reboot",
        None,
    )
    .await;
    assert_admin_error(&reply, 404, "RouteNotFound", "event");
    assert!(message(&reply).contains("reboot"), "{}", reply.body);
    let reply = event(&app, "i-nope", "ecs_tools_test", "install", None).await;
    assert_admin_error(&reply, 404, "InstanceNotFound", "instanceId");
    assert!(message(&reply).contains("i-nope"), "{}", reply.body);
}

#[tokio::test]
async fn heartbeats_follow_the_frozen_clock_first_once_last_every_time() {
    let app = demo_app();
    let set_clock = |now: &'static str| {
        let app = app.clone();
        async move {
            let reply = call(
                &app,
                "PUT",
                "/clock",
                Some(json!({"now": now, "frozen": true})),
            )
            .await;
            assert_eq!(reply.status, 200, "{}", reply.body);
        }
    };
    let id = "i-bp1iudwa5b1tqa0005";
    // A plug-in with no heartbeat yet.
    call(
        &app,
        "PUT",
        &format!("/instances/{id}/plugins/ecs_tools_test"),
        Some(json!({"version": "1.1", "status": "Running"})),
    )
    .await;
    let record = api_record(&app, id, "ecs_tools_test").await;
    assert_eq!(
        (
            record["FirstHeartbeatTime"].as_str(),
            record["LastHeartbeatTime"].as_str()
        ),
        (Some(""), Some(""))
    );

    set_clock("2030-01-01T00:00:00Z").await;
    let reply = event(&app, id, "ecs_tools_test", "heartbeat", None).await;
    assert_eq!(reply.json()["firstHeartbeatTime"], "2030-01-01T00:00:00Z");
    assert_eq!(reply.json()["lastHeartbeatTime"], "2030-01-01T00:00:00Z");
    let record = api_record(&app, id, "ecs_tools_test").await;
    assert_eq!(record["FirstHeartbeatTime"], "2030-01-01T00:00:00Z");
    assert_eq!(record["LastHeartbeatTime"], "2030-01-01T00:00:00Z");

    set_clock("2030-01-01T00:05:00Z").await;
    event(&app, id, "ecs_tools_test", "heartbeat", None).await;
    let record = api_record(&app, id, "ecs_tools_test").await;
    assert_eq!(record["FirstHeartbeatTime"], "2030-01-01T00:00:00Z");
    assert_eq!(record["LastHeartbeatTime"], "2030-01-01T00:05:00Z");

    // Every accepted event moves the last heartbeat, not only `heartbeat`.
    set_clock("2030-01-01T01:00:00Z").await;
    event(&app, id, "ecs_tools_test", "stop", None).await;
    let record = api_record(&app, id, "ecs_tools_test").await;
    assert_eq!(record["PluginStatus"], "Stopped");
    assert_eq!(record["FirstHeartbeatTime"], "2030-01-01T00:00:00Z");
    assert_eq!(record["LastHeartbeatTime"], "2030-01-01T01:00:00Z");

    // A refused event moves nothing.
    set_clock("2030-01-01T02:00:00Z").await;
    let reply = event(&app, id, "ecs_tools_test", "stop", None).await;
    assert_eq!(reply.status, 409, "{}", reply.body);
    let record = api_record(&app, id, "ecs_tools_test").await;
    assert_eq!(record["LastHeartbeatTime"], "2030-01-01T01:00:00Z");

    // A demo plug-in keeps its first heartbeat.
    let reply = event(
        &app,
        "i-bp1iudwa5b1tqa0001",
        "ecs_tools_test",
        "heartbeat",
        None,
    )
    .await;
    assert_eq!(reply.json()["firstHeartbeatTime"], "2020-01-19T09:15:46Z");
    assert_eq!(reply.json()["lastHeartbeatTime"], "2030-01-01T02:00:00Z");
}

// ---------------------------------------------------------------------------------------------
// Clock
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn clock_get_put_and_delete() {
    let app = demo_app();
    let reply = call(&app, "GET", "/clock", None).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let clock = reply.json();
    assert_eq!(
        (clock["real"].as_bool(), clock["frozen"].as_bool()),
        (Some(true), Some(false))
    );
    let drift = (time_of(&clock["now"]) - chrono::Utc::now())
        .num_seconds()
        .abs();
    assert!(drift < 60, "{clock}");

    let reply = call(
        &app,
        "PUT",
        "/clock",
        Some(json!({"now": "2030-01-01T00:00:00Z", "frozen": true})),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let expected = json!({"now": "2030-01-01T00:00:00Z", "frozen": true, "real": false});
    assert_eq!(reply.json(), expected);
    std::thread::sleep(Duration::from_millis(5));
    assert_eq!(call(&app, "GET", "/clock", None).await.json(), expected);

    let reply = call(&app, "DELETE", "/clock", None).await;
    assert_eq!(reply.status, 204, "{}", reply.body);
    assert!(reply.body.is_empty());
    let clock = call(&app, "GET", "/clock", None).await.json();
    assert_eq!(clock["real"], true, "{clock}");
    assert!(time_of(&clock["now"]) < time_of(&json!("2030-01-01T00:00:00Z")));
}

#[tokio::test]
async fn a_running_clock_moves_on_from_the_time_set() {
    let app = demo_app();
    let reply = call(
        &app,
        "PUT",
        "/clock",
        Some(json!({"now": "2030-01-01T00:00:00Z", "frozen": false})),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let set = reply.json();
    assert_eq!(
        (set["frozen"].as_bool(), set["real"].as_bool()),
        (Some(false), Some(false))
    );
    let start = time_of(&json!("2030-01-01T00:00:00Z"));
    let first = time_of(&set["now"]);
    assert!(first >= start, "{set}");
    std::thread::sleep(Duration::from_millis(20));
    let later = call(&app, "GET", "/clock", None).await.json();
    let second = time_of(&later["now"]);
    assert!(second > first, "{set} then {later}");
    assert!(second - start < chrono::Duration::hours(1), "{later}");

    // `frozen` defaults to false: running on.
    let reply = call(
        &app,
        "PUT",
        "/clock",
        Some(json!({"now": "2031-06-01T12:00:00Z"})),
    )
    .await;
    assert_eq!(reply.json()["frozen"], false, "{}", reply.body);
    // With no `now`, freezing keeps the emulator's current time.
    let reply = call(&app, "PUT", "/clock", Some(json!({"frozen": true}))).await;
    let frozen_at = time_of(&reply.json()["now"]);
    assert!(
        frozen_at >= time_of(&json!("2031-06-01T12:00:00Z")),
        "{}",
        reply.body
    );
    assert!(
        frozen_at < time_of(&json!("2031-06-01T13:00:00Z")),
        "{}",
        reply.body
    );
}

#[tokio::test]
async fn a_bad_clock_body_is_400_and_changes_nothing() {
    let app = demo_app();
    for (body, field) in [
        (json!({"now": "tomorrow"}), "now"),
        (
            json!({"now": "2030-01-01T00:00:00Z", "frozen": "yes"}),
            "frozen",
        ),
    ] {
        let reply = call(&app, "PUT", "/clock", Some(body)).await;
        assert_admin_error(&reply, 400, "InvalidField", field);
    }
    let reply = call(&app, "PUT", "/clock", Some(json!({"when": "now"}))).await;
    assert_admin_error(&reply, 400, "InvalidField", "when");
    assert_eq!(call(&app, "GET", "/clock", None).await.json()["real"], true);
}

#[tokio::test]
async fn signature_windows_follow_the_clock() {
    let app = app_with_options(Options {
        signature: SignatureMode::Strict,
        ..Options::default()
    });
    let signed = |nonce: &str| {
        signed_v1_query(
            "LTAI5tDemoKey0001",
            "demo-secret",
            "2030-01-01T00:00:00Z",
            nonce,
        )
    };
    let reply = send(&app, &signed("nonce-1")).await;
    assert_eq!(
        (reply.status, reply.code().as_str()),
        (400, "InvalidTimeStamp.Expired"),
        "{}",
        reply.body
    );

    let reply = call(
        &app,
        "PUT",
        "/clock",
        Some(json!({"now": "2030-01-01T00:00:00Z", "frozen": true})),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let reply = send(&app, &signed("nonce-2")).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.json()["TotalCount"], 12);

    // 14 minutes later still in the window; 16 minutes later not.
    call(
        &app,
        "PUT",
        "/clock",
        Some(json!({"now": "2030-01-01T00:14:00Z", "frozen": true})),
    )
    .await;
    assert_eq!(send(&app, &signed("nonce-3")).await.status, 200);
    call(
        &app,
        "PUT",
        "/clock",
        Some(json!({"now": "2030-01-01T00:16:00Z", "frozen": true})),
    )
    .await;
    assert_eq!(
        send(&app, &signed("nonce-4")).await.code(),
        "InvalidTimeStamp.Expired"
    );

    // Back to real time: expired again.
    call(&app, "DELETE", "/clock", None).await;
    let reply = send(&app, &signed("nonce-5")).await;
    assert_eq!(reply.code(), "InvalidTimeStamp.Expired", "{}", reply.body);
}

// ---------------------------------------------------------------------------------------------
// Request journal
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn the_journal_lists_api_requests_newest_first_with_every_field() {
    let app = demo_app();
    call(
        &app,
        "PUT",
        "/clock",
        Some(json!({"now": "2030-01-01T00:00:00Z", "frozen": true})),
    )
    .await;
    let first = api(&app, ASK_TOOLS).await;
    let second = api(&app, "RegionId=nowhere-1&Name=ecs_tools_test").await;
    let post = Request::post("/")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(format!("{BASE}&RegionId=cn-shanghai")))
        .unwrap();
    let third = send_request(&app, post).await;

    let entries = journal(&app, "").await;
    assert_eq!(entries.len(), 3);
    let ids: Vec<&str> = entries
        .iter()
        .map(|e| e["requestId"].as_str().unwrap())
        .collect();
    let expected: Vec<&str> = [&third, &second, &first]
        .iter()
        .map(|r| r.header("x-acs-request-id").unwrap())
        .collect();
    assert_eq!(ids, expected);

    assert_eq!(
        entries[1],
        json!({
            "requestId": second.header("x-acs-request-id").unwrap(),
            "time": "2030-01-01T00:00:00.000Z",
            "method": "GET",
            "action": "ListPluginStatus",
            "params": {"Action": "ListPluginStatus", "Version": "2014-05-26", "Format": "JSON",
                       "RegionId": "nowhere-1", "Name": "ecs_tools_test"},
            "status": 404,
            "code": "InvalidRegionId.NotFound",
            "message": second.json()["Message"],
        })
    );
    assert_eq!(entries[2]["status"], 200);
    assert_eq!(entries[2]["code"], "");
    assert_eq!(entries[2]["message"], "");
    assert_eq!(entries[0]["method"], "POST");
    assert_eq!(entries[0]["params"]["RegionId"], "cn-shanghai");
    assert_eq!(entries[0]["code"], "PluginName.MissingValue");
    // A request naming no action has an empty action.
    send(&app, "Version=2014-05-26&Format=JSON").await;
    let newest = &journal(&app, "limit=1").await[0];
    assert_eq!(newest["action"], "", "{newest}");
    assert_eq!(newest["code"], "MissingParameter", "{newest}");
}

#[tokio::test]
async fn the_journal_redacts_signatures_secrets_and_security_tokens() {
    let app = demo_app();
    api(
        &app,
        &format!("{ASK_TOOLS}&AccessKeyId=LTAI5tDemoKey0001&Signature=c2lnbmF0dXJl&AccessKeySecret=demo-secret&SecurityToken=STS.token&NextToken=opaque-token"),
    )
    .await;
    let entries = journal(&app, "").await;
    let params = &entries[0]["params"];
    assert_eq!(params["Signature"], "***");
    assert_eq!(params["AccessKeySecret"], "***");
    assert_eq!(params["SecurityToken"], "***");
    assert_eq!(params["NextToken"], "opaque-token");
    assert_eq!(params["AccessKeyId"], "LTAI5tDemoKey0001");
    let text = serde_json::to_string(&entries).unwrap();
    for secret in ["c2lnbmF0dXJl", "demo-secret", "STS.token"] {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }
}

#[tokio::test]
async fn the_journal_filters_by_action_code_and_limit() {
    let app = demo_app();
    api(&app, ASK_TOOLS).await; // success
    api(&app, "RegionId=nowhere-1&Name=ecs_tools_test").await; // InvalidRegionId.NotFound
    send(
        &app,
        "Action=DescribeInstances&Version=2014-05-26&Format=JSON",
    )
    .await; // unknown action
    api(&app, "RegionId=cn-shanghai&Name=ecs_tools_test").await; // success
    api(&app, "Name=ecs_tools_test").await; // MissingRegionId

    let codes = |entries: &[Value]| -> Vec<String> {
        entries
            .iter()
            .map(|e| e["code"].as_str().unwrap().to_owned())
            .collect()
    };
    let all = journal(&app, "").await;
    assert_eq!(
        codes(&all),
        [
            "MissingRegionId",
            "",
            "InvalidAction.NotFound",
            "InvalidRegionId.NotFound",
            ""
        ]
    );
    let listed = journal(&app, "action=ListPluginStatus").await;
    assert_eq!(
        codes(&listed),
        ["MissingRegionId", "", "InvalidRegionId.NotFound", ""]
    );
    assert!(journal(&app, "action=DescribeInstances").await.is_empty());
    let successes = journal(&app, "code=").await;
    assert_eq!(codes(&successes), ["", ""]);
    assert!(successes.iter().all(|e| e["status"] == 200));
    assert_eq!(
        codes(&journal(&app, "code=InvalidRegionId.NotFound").await),
        ["InvalidRegionId.NotFound"]
    );
    assert_eq!(
        codes(&journal(&app, "limit=2").await),
        ["MissingRegionId", ""]
    );
    assert_eq!(
        codes(&journal(&app, "action=ListPluginStatus&code=&limit=1").await),
        [""]
    );
    assert_eq!(
        journal(&app, "action=ListPluginStatus&code=&limit=1").await[0]["params"]["RegionId"],
        "cn-shanghai"
    );
}

#[tokio::test]
async fn a_bad_journal_limit_is_400_naming_limit() {
    let app = demo_app();
    for limit in ["0", "-1", "ten", "1.5", ""] {
        let reply = call(&app, "GET", &format!("/requests?limit={limit}"), None).await;
        assert_admin_error(&reply, 400, "InvalidField", "limit");
    }
}

#[tokio::test]
async fn the_journal_keeps_only_its_capacity_dropping_the_oldest() {
    let app = app_with_options(Options {
        journal_capacity: 3,
        ..Options::default()
    });
    for region in [
        "cn-hangzhou",
        "cn-shanghai",
        "ap-southeast-1",
        "cn-beijing",
        "cn-shenzhen",
    ] {
        api(&app, &format!("RegionId={region}&Name=ecs_tools_test")).await;
    }
    let entries = journal(&app, "").await;
    let regions: Vec<&str> = entries
        .iter()
        .map(|e| e["params"]["RegionId"].as_str().unwrap())
        .collect();
    assert_eq!(regions, ["cn-shenzhen", "cn-beijing", "ap-southeast-1"]);
    assert_eq!(journal(&app, "limit=10").await.len(), 3);
}

#[tokio::test]
async fn delete_requests_clears_the_journal() {
    let app = demo_app();
    api(&app, ASK_TOOLS).await;
    api(&app, ASK_TOOLS).await;
    assert_eq!(journal(&app, "").await.len(), 2);
    let reply = call(&app, "DELETE", "/requests", None).await;
    assert_eq!(reply.status, 204, "{}", reply.body);
    assert!(reply.body.is_empty());
    assert!(journal(&app, "").await.is_empty());
    api(&app, ASK_TOOLS).await;
    assert_eq!(journal(&app, "").await.len(), 1);
}

/// A refused request still shows the action it named, so `?action=` finds it; an unknown
/// action is shown as none.
#[tokio::test]
async fn a_refused_request_is_journaled_with_the_action_it_named() {
    let app = demo_app();
    send(
        &app,
        "Action=ListPluginStatus&Version=2013-01-01&Format=JSON&RegionId=cn-hangzhou",
    )
    .await;
    send(
        &app,
        "Action=DescribeNothing&Version=2014-05-26&Format=JSON",
    )
    .await;
    let entries = journal(&app, "").await;
    let seen: Vec<(&str, &str)> = entries
        .iter()
        .map(|e| (e["action"].as_str().unwrap(), e["code"].as_str().unwrap()))
        .collect();
    assert_eq!(
        seen,
        [
            ("", "InvalidAction.NotFound"),
            ("ListPluginStatus", "InvalidVersion")
        ]
    );
    assert_eq!(journal(&app, "action=ListPluginStatus").await.len(), 1);
}

#[tokio::test]
async fn control_plane_requests_are_not_journaled() {
    let app = demo_app();
    call(&app, "GET", "/health", None).await;
    call(&app, "GET", "/state", None).await;
    call(
        &app,
        "PUT",
        "/instances/i-bp1brandnew0001",
        Some(json!({"regionId": "cn-hangzhou"})),
    )
    .await;
    call(&app, "GET", "/nothing-here", None).await;
    call(&app, "GET", "/requests", None).await;
    add_fault(&app, json!({"code": "Throttling.User", "action": "Nope"})).await;
    assert!(journal(&app, "").await.is_empty());
}

// ---------------------------------------------------------------------------------------------
// Faults
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn post_fault_is_201_with_an_id_and_fired_0() {
    let app = demo_app();
    let rule = add_fault(
        &app,
        json!({"code": "Throttling.User", "regionId": "cn-hangzhou"}),
    )
    .await;
    assert_eq!(
        rule,
        json!({"id": "f-1", "fired": 0, "code": "Throttling.User", "regionId": "cn-hangzhou"})
    );
    let rule = add_fault(&app, json!({"latencyMs": 10})).await;
    assert_eq!(rule["id"], "f-2");
    assert_eq!(rule["fired"], 0);
}

#[tokio::test]
async fn a_throttling_fault_answers_in_the_json_envelope_with_retry_after() {
    let app = demo_app();
    add_fault(&app, json!({"code": "Throttling.User"})).await;
    let reply = api(&app, ASK_TOOLS).await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert_eq!(reply.header("x-acs-retry-after"), Some("1000"));
    assert!(reply
        .header("content-type")
        .unwrap()
        .starts_with("application/json"));
    let request_id = reply.header("x-acs-request-id").unwrap().to_owned();
    assert_eq!(
        reply.json(),
        json!({
            "RequestId": request_id,
            "HostId": "ecs.aliyuncs.com",
            "Code": "Throttling.User",
            "Message": "Request was denied due to user flow control.",
            "Recommend": format!("https://api.aliyun.com/troubleshoot?q=Throttling.User&product=Ecs&requestId={request_id}")
        })
    );
}

#[tokio::test]
async fn a_throttling_fault_answers_in_xml_when_asked() {
    let app = demo_app();
    add_fault(&app, json!({"code": "Throttling.User"})).await;
    let reply = send(
        &app,
        &format!("Action=ListPluginStatus&Version=2014-05-26&Format=XML&{ASK_TOOLS}"),
    )
    .await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert_eq!(reply.header("x-acs-retry-after"), Some("1000"));
    assert!(reply
        .header("content-type")
        .unwrap()
        .starts_with("text/xml"));
    assert!(reply.body.starts_with("<?xml"), "{}", reply.body);
    assert!(reply.body.contains("<Error>"), "{}", reply.body);
    assert!(
        reply.body.contains("<Code>Throttling.User</Code>"),
        "{}",
        reply.body
    );
    assert!(
        reply
            .body
            .contains("<Message>Request was denied due to user flow control.</Message>"),
        "{}",
        reply.body
    );
    // A V1 request without Format gets XML too.
    let reply = send(
        &app,
        &format!("Action=ListPluginStatus&Version=2014-05-26&{ASK_TOOLS}"),
    )
    .await;
    assert!(
        reply.body.contains("<Code>Throttling.User</Code>"),
        "{}",
        reply.body
    );
}

#[tokio::test]
async fn a_custom_retry_after_is_sent() {
    let app = demo_app();
    add_fault(
        &app,
        json!({"code": "Throttling.Api", "retryAfterMs": 2500}),
    )
    .await;
    let reply = api(&app, ASK_TOOLS).await;
    assert_eq!(reply.header("x-acs-retry-after"), Some("2500"));
    assert_eq!(reply.code(), "Throttling.Api");
    // A non-throttling code sends none unless asked.
    let app = demo_app();
    add_fault(&app, json!({"code": "ServiceUnavailable"})).await;
    let reply = api(&app, ASK_TOOLS).await;
    assert_eq!(reply.header("x-acs-retry-after"), None);
    let app = demo_app();
    add_fault(
        &app,
        json!({"code": "ServiceUnavailable", "retryAfterMs": 300}),
    )
    .await;
    let reply = api(&app, ASK_TOOLS).await;
    assert_eq!(reply.header("x-acs-retry-after"), Some("300"));
}

#[tokio::test]
async fn service_unavailable_is_503_and_internal_error_is_500() {
    for (code, status, text) in [
        (
            "ServiceUnavailable",
            503,
            "The request has failed due to a temporary failure of the server.",
        ),
        (
            "InternalError.Dispatch",
            500,
            "An error occurred when you dispatched the request.",
        ),
    ] {
        let app = demo_app();
        add_fault(&app, json!({"code": code})).await;
        let reply = api(&app, ASK_TOOLS).await;
        assert_eq!(reply.status, status, "{}", reply.body);
        assert_eq!(reply.code(), code);
        assert_eq!(reply.json()["Message"], text);
    }
}

#[tokio::test]
async fn a_custom_status_and_message_are_answered() {
    let app = demo_app();
    add_fault(
        &app,
        json!({"code": "Forbidden.RAM", "status": 403, "message": "You are not authorized."}),
    )
    .await;
    let reply = api(&app, ASK_TOOLS).await;
    assert_eq!(reply.status, 403, "{}", reply.body);
    assert_eq!(reply.code(), "Forbidden.RAM");
    assert_eq!(reply.json()["Message"], "You are not authorized.");
    assert_eq!(reply.header("x-acs-retry-after"), None);
}

#[tokio::test]
async fn a_fault_with_times_fires_that_often_then_requests_succeed() {
    let app = demo_app();
    let rule = add_fault(&app, json!({"code": "Throttling.User", "times": 2})).await;
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(api(&app, ASK_TOOLS).await.status);
    }
    assert_eq!(statuses, [400, 400, 200, 200]);
    let reply = call(
        &app,
        "GET",
        &format!("/faults/{}", rule["id"].as_str().unwrap()),
        None,
    )
    .await;
    assert_eq!(reply.json()["fired"], 2, "{}", reply.body);
}

#[tokio::test]
async fn a_fault_matches_by_action_region_and_instance() {
    let app = demo_app();
    add_fault(
        &app,
        json!({"code": "Throttling.User", "action": "DescribeInstances"}),
    )
    .await;
    add_fault(
        &app,
        json!({"code": "ServiceUnavailable", "regionId": "cn-shanghai"}),
    )
    .await;
    add_fault(
        &app,
        json!({"code": "InternalError.Dispatch", "instanceId": "i-bp1iudwa5b1tqa0002",
               "action": "ListPluginStatus"}),
    )
    .await;

    let code = |reply: Reply| (reply.status, reply.code());
    assert_eq!(code(api(&app, ASK_TOOLS).await), (200, String::new()));
    assert_eq!(
        code(api(&app, "RegionId=cn-shanghai&Name=ecs_tools_test").await),
        (503, "ServiceUnavailable".to_owned())
    );
    assert_eq!(
        code(
            api(
                &app,
                "RegionId=cn-hangzhou&InstanceId.1=i-bp1iudwa5b1tqa0001"
            )
            .await
        ),
        (200, String::new())
    );
    assert_eq!(
        code(
            api(
                &app,
                "RegionId=cn-hangzhou&InstanceId.1=i-bp1iudwa5b1tqa0002"
            )
            .await
        ),
        (500, "InternalError.Dispatch".to_owned())
    );
    assert_eq!(
        code(
            api(
                &app,
                "RegionId=cn-hangzhou&Name=ecs_tools_test&InstanceId.1=i-bp1iudwa5b1tqa0001&InstanceId.2=i-bp1iudwa5b1tqa0002"
            )
            .await
        ),
        (500, "InternalError.Dispatch".to_owned())
    );
    let fired: Vec<u64> = call(&app, "GET", "/faults", None).await.json()["faults"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["fired"].as_u64().unwrap())
        .collect();
    assert_eq!(fired, [0, 1, 2]);
}

#[tokio::test]
async fn a_fault_probability_with_a_seed_is_reproducible() {
    async fn run(seed: u64) -> (Vec<u16>, u64) {
        let app = demo_app();
        add_fault(
            &app,
            json!({"code": "Throttling.User", "probability": 0.5, "seed": seed}),
        )
        .await;
        let mut statuses = Vec::new();
        for _ in 0..40 {
            statuses.push(api(&app, ASK_TOOLS).await.status);
        }
        let fired = call(&app, "GET", "/faults/f-1", None).await.json()["fired"]
            .as_u64()
            .unwrap();
        (statuses, fired)
    }
    let (first, fired) = run(42).await;
    let (again, _) = run(42).await;
    assert_eq!(first, again);
    let failures = first.iter().filter(|&&s| s == 400).count() as u64;
    assert_eq!(fired, failures);
    assert!(
        (5..=35).contains(&failures),
        "{failures} of 40 at p=0.5: {first:?}"
    );
    assert!(first.iter().all(|&s| s == 200 || s == 400));
    let (other, _) = run(43).await;
    assert_ne!(first, other, "another seed, another sequence");
}

/// On tokio's paused clock, which moves only when every task waits: the latency is exactly
/// what the rule says, with no real waiting and no timing on a shared machine.
#[tokio::test(start_paused = true)]
async fn a_latency_fault_delays_the_answer() {
    let app = demo_app();
    add_fault(&app, json!({"latencyMs": 300, "regionId": "cn-hangzhou"})).await;
    let started = tokio::time::Instant::now();
    let reply = api(&app, ASK_TOOLS).await;
    assert_eq!(started.elapsed(), Duration::from_millis(300));
    // Latency alone does not fail the request.
    assert_eq!(reply.status, 200, "{}", reply.body);

    // Other regions are not delayed.
    let started = tokio::time::Instant::now();
    let reply = api(&app, "RegionId=cn-shanghai&Name=ecs_tools_test").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(started.elapsed(), Duration::ZERO);

    // Latencies of all firing rules add up; then the first code answers.
    add_fault(
        &app,
        json!({"latencyMs": 60_000, "code": "ServiceUnavailable"}),
    )
    .await;
    let started = tokio::time::Instant::now();
    let reply = api(&app, ASK_TOOLS).await;
    assert_eq!(started.elapsed(), Duration::from_millis(60_300));
    assert_eq!(reply.status, 503, "{}", reply.body);
}

#[tokio::test]
async fn get_faults_lists_rules_with_fired_counts() {
    let app = demo_app();
    add_fault(&app, json!({"code": "Throttling.User", "times": 1})).await;
    add_fault(&app, json!({"latencyMs": 1, "regionId": "cn-shanghai"})).await;
    api(&app, ASK_TOOLS).await;
    api(&app, ASK_TOOLS).await;
    let reply = call(&app, "GET", "/faults", None).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        reply.json(),
        json!({"faults": [
            {"id": "f-1", "fired": 1, "code": "Throttling.User", "times": 1},
            {"id": "f-2", "fired": 0, "latencyMs": 1, "regionId": "cn-shanghai"}
        ]})
    );
}

#[tokio::test]
async fn get_and_delete_one_fault_and_404_fault_not_found() {
    let app = demo_app();
    add_fault(&app, json!({"code": "Throttling.User"})).await;
    add_fault(&app, json!({"code": "ServiceUnavailable"})).await;
    let reply = call(&app, "GET", "/faults/f-2", None).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        reply.json(),
        json!({"id": "f-2", "fired": 0, "code": "ServiceUnavailable"})
    );

    let reply = call(&app, "DELETE", "/faults/f-1", None).await;
    assert_eq!(reply.status, 204, "{}", reply.body);
    assert!(reply.body.is_empty());
    for method in ["GET", "DELETE"] {
        let reply = call(&app, method, "/faults/f-1", None).await;
        assert_admin_error(&reply, 404, "FaultNotFound", "id");
        let reply = call(&app, method, "/faults/f-99", None).await;
        assert_admin_error(&reply, 404, "FaultNotFound", "id");
    }
    // The remaining rule answers.
    assert_eq!(api(&app, ASK_TOOLS).await.code(), "ServiceUnavailable");
}

#[tokio::test]
async fn delete_faults_clears_every_rule_and_ids_keep_counting() {
    let app = demo_app();
    add_fault(&app, json!({"code": "Throttling.User"})).await;
    add_fault(&app, json!({"code": "ServiceUnavailable"})).await;
    let reply = call(&app, "DELETE", "/faults", None).await;
    assert_eq!(reply.status, 204, "{}", reply.body);
    assert_eq!(
        call(&app, "GET", "/faults", None).await.json(),
        json!({"faults": []})
    );
    assert_eq!(api(&app, ASK_TOOLS).await.status, 200);
    let rule = add_fault(&app, json!({"code": "Throttling.User"})).await;
    assert_eq!(rule["id"], "f-3");
}

#[tokio::test]
async fn an_invalid_fault_rule_is_400_naming_the_field_and_adds_nothing() {
    let app = demo_app();
    for (rule, field) in [
        (json!({}), "code"),
        (json!({"regionId": "cn-hangzhou"}), "code"),
        (json!({"code": "Throttling.User", "status": 200}), "status"),
        (json!({"code": "Throttling.User", "status": 600}), "status"),
        (
            json!({"code": "Throttling.User", "probability": 2}),
            "probability",
        ),
        (
            json!({"code": "Throttling.User", "probability": -0.1}),
            "probability",
        ),
        (json!({"code": "Throttling.User", "times": 0}), "times"),
        (json!({"code": "bad code!"}), "code"),
        (json!({"latencyMs": 300_001}), "latencyMs"),
        (json!({"latencyMs": 5, "status": 500}), "status"),
        (json!({"latencyMs": 5, "retryAfterMs": 5}), "retryAfterMs"),
        (
            json!({"code": "Throttling.User", "times": "twice"}),
            "times",
        ),
        (
            json!({"code": "Throttling.User", "latencyMs": -1}),
            "latencyMs",
        ),
    ] {
        let reply = call(&app, "POST", "/faults", Some(rule.clone())).await;
        assert_eq!(reply.status, 400, "{rule}: {}", reply.body);
        assert_admin_error(&reply, 400, "InvalidField", field);
    }
    let reply = call(
        &app,
        "POST",
        "/faults",
        Some(json!({"code": "Throttling.User", "when": "always"})),
    )
    .await;
    assert_admin_error(&reply, 400, "InvalidField", "when");
    let reply = send_request(&app, admin_raw("POST", "/faults", "{")).await;
    assert_admin_error(&reply, 400, "InvalidJson", "body");

    assert_eq!(
        call(&app, "GET", "/faults", None).await.json(),
        json!({"faults": []})
    );
    assert_eq!(api(&app, ASK_TOOLS).await.status, 200);
    // The refusals used no ids.
    assert_eq!(
        add_fault(&app, json!({"code": "Throttling.User"})).await["id"],
        "f-1"
    );
}

#[tokio::test]
async fn a_faulted_request_is_journaled_with_its_code() {
    let app = demo_app();
    add_fault(&app, json!({"code": "Throttling.User", "times": 1})).await;
    let throttled = api(&app, ASK_TOOLS).await;
    api(&app, ASK_TOOLS).await;
    let entries = journal(&app, "code=Throttling.User").await;
    assert_eq!(entries.len(), 1);
    assert_eq!(
        entries[0]["requestId"],
        throttled.header("x-acs-request-id").unwrap()
    );
    assert_eq!(entries[0]["status"], 400);
    assert_eq!(entries[0]["action"], "ListPluginStatus");
    assert_eq!(journal(&app, "code=").await.len(), 1);
}
