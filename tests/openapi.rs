//! The control plane's OpenAPI document (`src/admin/openapi.json`) is kept true: it parses and
//! every `$ref` resolves; every documented operation is routed and answers only documented
//! statuses with bodies that validate against the documented schemas; nothing undocumented is
//! routed under `/_emulator/`; and the lifecycle table and event set it describes are the
//! server's.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use axum::body::Body;
use axum::http::Request;
use axum::Router;
use ecs_emulator::command_rules::CommandRuleSpec;
use ecs_emulator::engine::lifecycle::Event;
use ecs_emulator::engine::{PluginStatus, PluginType};
use ecs_emulator::faults::FaultSpec;
use ecs_emulator::state::Options;
use ecs_emulator::{fixture, AppState};
use serde_json::{json, Value};

use common::{demo_app, send_request, Reply};

/// The document as the server serves it.
const DOCUMENT: &str = include_str!("../src/admin/openapi.json");
/// The methods probed on every path.
const METHODS: [&str; 5] = ["get", "put", "post", "delete", "patch"];
/// Schema keywords the validator below understands; the document may use no others.
const KEYWORDS: [&str; 15] = [
    "$ref",
    "type",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "enum",
    "nullable",
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "format",
    "description",
    "example",
];
const DEFAULT_ACCOUNT: &str = "1234567890123456";
const OTHER_ACCOUNT: &str = "2345678901234567";
const DEMO_INSTANCE: &str = "i-bp1iudwa5b1tqa0001";
const ADMIN_TOKEN: &str = "s3cret-admin-token";

/// The parsed document with lookups and a validator for the JSON-schema subset it uses.
struct Spec {
    doc: Value,
}

/// One documented operation.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Operation {
    template: String,
    method: String,
}

impl Spec {
    fn load() -> Self {
        Self {
            doc: serde_json::from_str(DOCUMENT).expect("openapi.json is JSON"),
        }
    }

    /// Follows `$ref`s to the value they name.
    fn resolve<'a>(&'a self, mut value: &'a Value) -> &'a Value {
        for _ in 0..16 {
            let Some(reference) = value.get("$ref").and_then(Value::as_str) else {
                return value;
            };
            let pointer = reference
                .strip_prefix('#')
                .unwrap_or_else(|| panic!("$ref {reference} is not local"));
            value = self
                .doc
                .pointer(pointer)
                .unwrap_or_else(|| panic!("$ref {reference} does not resolve"));
        }
        panic!("$ref chain too long at {value}")
    }

    fn paths(&self) -> &serde_json::Map<String, Value> {
        self.doc["paths"].as_object().expect("paths is an object")
    }

    fn operations(&self) -> Vec<Operation> {
        let mut out = Vec::new();
        for (template, item) in self.paths() {
            for method in METHODS {
                if item.get(method).is_some() {
                    out.push(Operation {
                        template: template.clone(),
                        method: method.to_owned(),
                    });
                }
            }
        }
        out
    }

    fn operation(&self, template: &str, method: &str) -> &Value {
        self.doc["paths"][template]
            .get(method)
            .unwrap_or_else(|| panic!("{method} {template} is not documented"))
    }

    /// The parameters of an operation, its path item's included, resolved.
    fn parameters(&self, template: &str, method: &str) -> Vec<&Value> {
        let item = &self.doc["paths"][template];
        let op = self.operation(template, method);
        [&item["parameters"], &op["parameters"]]
            .into_iter()
            .filter_map(Value::as_array)
            .flatten()
            .map(|p| self.resolve(p))
            .collect()
    }

    fn query_parameters(&self, template: &str, method: &str) -> BTreeSet<String> {
        self.parameters(template, method)
            .into_iter()
            .filter(|p| p["in"] == "query")
            .map(|p| p["name"].as_str().expect("parameter name").to_owned())
            .collect()
    }

    /// The documented path a concrete path is, preferring literal segments.
    fn template_of(&self, path: &str) -> Option<String> {
        let concrete: Vec<&str> = path.split('/').collect();
        self.paths()
            .keys()
            .filter_map(|template| {
                let segments: Vec<&str> = template.split('/').collect();
                if segments.len() != concrete.len() {
                    return None;
                }
                let mut literals = 0;
                for (t, c) in segments.iter().zip(&concrete) {
                    if t.starts_with('{') && t.ends_with('}') {
                        if c.is_empty() {
                            return None;
                        }
                    } else if t == c {
                        literals += 1;
                    } else {
                        return None;
                    }
                }
                Some((literals, template.clone()))
            })
            .max()
            .map(|(_, template)| template)
    }

    /// The request body schema of an operation, resolved, if it takes one.
    fn request_schema(&self, template: &str, method: &str) -> Option<&Value> {
        let body = self.operation(template, method).get("requestBody")?;
        Some(self.resolve(&self.resolve(body)["content"]["application/json"]["schema"]))
    }

    /// The documented example body of an operation.
    fn example(&self, template: &str, method: &str) -> Value {
        let body = self.resolve(&self.operation(template, method)["requestBody"]);
        body["content"]["application/json"]["example"].clone()
    }

    fn validate(&self, schema: &Value, value: &Value) -> Result<(), Vec<String>> {
        let mut errors = Vec::new();
        self.validate_at(schema, value, "$", &mut errors);
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    fn validate_at(&self, schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
        let schema = self.resolve(schema);
        if let Some(unknown) = schema
            .as_object()
            .and_then(|o| o.keys().find(|k| !KEYWORDS.contains(&k.as_str())))
        {
            panic!("the validator does not know the keyword {unknown} (at {at})");
        }
        if value.is_null() {
            if schema["nullable"] != true {
                errors.push(format!("{at}: null is not allowed"));
            }
            return;
        }
        let type_ok = match schema["type"].as_str() {
            None => true,
            Some("object") => value.is_object(),
            Some("array") => value.is_array(),
            Some("string") => value.is_string(),
            Some("integer") => value.is_i64() || value.is_u64(),
            Some("number") => value.is_number(),
            Some("boolean") => value.is_boolean(),
            Some(other) => panic!("unknown type {other} at {at}"),
        };
        if !type_ok {
            errors.push(format!("{at}: {value} is not of type {}", schema["type"]));
            return;
        }
        if let Some(allowed) = schema["enum"].as_array() {
            if !allowed.contains(value) {
                errors.push(format!("{at}: {value} is not one of {allowed:?}"));
            }
        }
        if let Some(text) = value.as_str() {
            let chars = text.chars().count() as u64;
            if schema["minLength"].as_u64().is_some_and(|min| chars < min) {
                errors.push(format!(
                    "{at}: {text:?} is shorter than {}",
                    schema["minLength"]
                ));
            }
            if schema["maxLength"].as_u64().is_some_and(|max| chars > max) {
                errors.push(format!(
                    "{at}: {text:?} is longer than {}",
                    schema["maxLength"]
                ));
            }
            let format = schema["format"].as_str();
            assert!(
                format.is_none_or(|f| f == "date-time"),
                "the validator does not know the format {format:?} at {at}"
            );
            if format.is_some() && chrono::DateTime::parse_from_rfc3339(text).is_err() {
                errors.push(format!("{at}: {text:?} is not an RFC 3339 date-time"));
            }
        }
        if let Some(number) = value.as_f64() {
            if schema["minimum"].as_f64().is_some_and(|min| number < min) {
                errors.push(format!("{at}: {value} is below {}", schema["minimum"]));
            }
            if schema["maximum"].as_f64().is_some_and(|max| number > max) {
                errors.push(format!("{at}: {value} is above {}", schema["maximum"]));
            }
        }
        if let Some(object) = value.as_object() {
            for name in schema["required"].as_array().into_iter().flatten() {
                let name = name.as_str().expect("required names are strings");
                if !object.contains_key(name) {
                    errors.push(format!("{at}: required {name} is missing"));
                }
            }
            let properties = schema["properties"].as_object();
            for (key, item) in object {
                let at = format!("{at}.{key}");
                match properties.and_then(|p| p.get(key)) {
                    Some(property) => self.validate_at(property, item, &at, errors),
                    None => match &schema["additionalProperties"] {
                        Value::Bool(false) => errors.push(format!("{at}: not a documented field")),
                        Value::Null | Value::Bool(true) => {}
                        additional => self.validate_at(additional, item, &at, errors),
                    },
                }
            }
        }
        if let Some(items) = value.as_array() {
            for (i, item) in items.iter().enumerate() {
                self.validate_at(&schema["items"], item, &format!("{at}[{i}]"), errors);
            }
        }
    }

    /// Asserts that a reply is documented for the request: the path and method are, the
    /// status is, a JSON body validates against its schema, documented headers are present.
    /// Answers the documented path.
    fn check(&self, method: &str, uri: &str, reply: &Reply) -> String {
        let path = uri.split('?').next().expect("a path");
        let template = self
            .template_of(path)
            .unwrap_or_else(|| panic!("{method} {uri}: no documented path matches"));
        let method = method.to_ascii_lowercase();
        let responses = &self.operation(&template, &method)["responses"];
        let status = reply.status.to_string();
        let response = responses.get(&status).map(|r| self.resolve(r));
        let Some(response) = response else {
            let documented: Vec<&String> = responses.as_object().unwrap().keys().collect();
            panic!(
                "{method} {uri} answered {status}, not one of the documented {documented:?}: {}",
                reply.body
            );
        };
        match response.get("content") {
            // A plain-text answer (the metrics): the documented media type, and some text.
            Some(content) if content.get("application/json").is_none() => {
                let content_type = reply.header("content-type").unwrap_or_default();
                let documented = content.as_object().unwrap().keys().next().unwrap();
                assert_eq!(&content_type, documented, "{method} {uri} -> {status}");
                assert!(
                    !reply.body.is_empty(),
                    "{method} {uri} -> {status}: no text"
                );
            }
            Some(content) => {
                let content_type = reply.header("content-type").unwrap_or_default();
                assert!(
                    content_type.starts_with("application/json"),
                    "{method} {uri} -> {status}: content-type {content_type:?}"
                );
                let body: Value = serde_json::from_str(&reply.body).unwrap_or_else(|e| {
                    panic!("{method} {uri} -> {status}: not JSON ({e}): {}", reply.body)
                });
                let schema = &content["application/json"]["schema"];
                if let Err(errors) = self.validate(schema, &body) {
                    panic!(
                        "{method} {uri} -> {status}: the body does not match the documented \
                         schema:\n  {}\nbody: {}",
                        errors.join("\n  "),
                        reply.body
                    );
                }
            }
            None => assert!(
                reply.body.is_empty(),
                "{method} {uri} -> {status}: documented without a body, got {}",
                reply.body
            ),
        }
        for (name, header) in response["headers"].as_object().into_iter().flatten() {
            let value = reply
                .header(name)
                .unwrap_or_else(|| panic!("{method} {uri} -> {status}: no {name} header"));
            let schema = &self.resolve(header)["schema"];
            if let Err(errors) = self.validate(schema, &json!(value)) {
                panic!("{method} {uri} -> {status}: header {name}: {errors:?}");
            }
        }
        template
    }
}

/// Sends one request; a non-empty body is sent as JSON.
async fn call(app: &Router, method: &str, uri: &str, body: &str) -> Reply {
    call_with(app, method, uri, body, None).await
}

async fn call_with(
    app: &Router,
    method: &str,
    uri: &str,
    body: &str,
    authorization: Option<&str>,
) -> Reply {
    let mut request = Request::builder()
        .method(method.to_ascii_uppercase().as_str())
        .uri(uri);
    if !body.is_empty() {
        request = request.header("content-type", "application/json");
    }
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    send_request(app, request.body(Body::from(body.to_owned())).unwrap()).await
}

/// A concrete path for a documented one, naming things the demo data has.
fn concrete(template: &str) -> String {
    template
        .replace("{instanceId}", DEMO_INSTANCE)
        .replace("{name}", "ecs_tools_test")
        .replace("{event}", "heartbeat")
        .replace("{id}", "f-1")
}

/// The app on the demo data with `--admin-token`.
fn guarded_app() -> Router {
    ecs_emulator::app(AppState::with_options(
        fixture::demo_store(),
        Options {
            admin_token: Some(ADMIN_TOKEN.to_owned()),
            ..Options::default()
        },
    ))
}

fn code_of(reply: &Reply) -> String {
    reply.json()["code"].as_str().unwrap_or_default().to_owned()
}

#[test]
fn the_document_is_openapi_3_and_every_ref_resolves() {
    let spec = Spec::load();
    let doc = &spec.doc;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    assert!(doc["info"]["title"].is_string() && doc["info"]["version"].is_string());
    assert_eq!(doc["servers"][0]["url"], "http://127.0.0.1:9080");
    let bearer = &doc["components"]["securitySchemes"]["bearerAuth"];
    assert_eq!(
        (&bearer["type"], &bearer["scheme"]),
        (&json!("http"), &json!("bearer"))
    );
    assert_eq!(doc["security"], json!([{"bearerAuth": []}]));
    assert!(
        DOCUMENT.starts_with("{\n  \"openapi\": ") && DOCUMENT.ends_with("}\n"),
        "pretty-printed"
    );
    for line in DOCUMENT.lines() {
        let indent = line.len() - line.trim_start_matches(' ').len();
        assert!(
            indent % 2 == 0 && !line.starts_with('\t'),
            "2-space indent: {line}"
        );
    }

    // Every $ref anywhere resolves.
    fn walk(spec: &Spec, value: &Value, refs: &mut usize) {
        match value {
            Value::Object(map) => {
                if map.contains_key("$ref") {
                    spec.resolve(value);
                    *refs += 1;
                }
                map.values().for_each(|v| walk(spec, v, refs));
            }
            Value::Array(items) => items.iter().for_each(|v| walk(spec, v, refs)),
            _ => {}
        }
    }
    let mut refs = 0;
    walk(&spec, doc, &mut refs);
    assert!(refs > 50, "only {refs} $refs");

    for name in [
        "Error",
        "Fixture",
        "Account",
        "AccessKey",
        "CatalogEntry",
        "Instance",
        "InstanceBody",
        "Plugin",
        "PluginBody",
        "PluginStatus",
        "PluginType",
        "Summary",
        "FaultSpec",
        "FaultRule",
        "RecordedRequest",
        "RequestList",
        "FaultList",
        "Clock",
        "ClockBody",
        "EventBody",
        "CloudAssistant",
        "CommandRuleSpec",
        "CommandRule",
        "CommandRuleList",
    ] {
        let schema = &doc["components"]["schemas"][name];
        assert!(schema.is_object(), "components.schemas.{name} is missing");
    }
    for (name, schema) in doc["components"]["schemas"].as_object().unwrap() {
        check_keywords(schema, name);
    }

    let mut operation_ids = BTreeSet::new();
    for Operation { template, method } in spec.operations() {
        let op = spec.operation(&template, &method);
        let id = op["operationId"].as_str().expect("operationId");
        assert!(operation_ids.insert(id.to_owned()), "duplicate {id}");
        assert!(op["summary"].is_string(), "{id}: summary");
        assert!(template.starts_with("/_emulator/"), "{template}");

        // Path parameters are exactly the template's.
        let in_template: BTreeSet<String> = template
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(str::to_owned)
            .collect();
        let params = spec.parameters(&template, &method);
        let in_path: BTreeSet<String> = params
            .iter()
            .filter(|p| p["in"] == "path")
            .map(|p| {
                assert_eq!(p["required"], true, "{id}: path parameters are required");
                p["name"].as_str().unwrap().to_owned()
            })
            .collect();
        assert_eq!(in_template, in_path, "{id}: path parameters");
        for p in params {
            assert!(
                p["schema"].is_object(),
                "{id}: parameter {} schema",
                p["name"]
            );
            check_keywords(&p["schema"], id);
        }

        // Every response says what it is; every error is an Error.
        let responses = op["responses"].as_object().expect("responses");
        assert!(!responses.is_empty(), "{id}: no responses");
        for (status, response) in responses {
            let dashboard_login = response["$ref"] == "#/components/responses/DashboardLogin";
            let response = spec.resolve(response);
            assert!(response["description"].is_string(), "{id} {status}");
            let content = &response["content"];
            // JSON, but for the metrics' text and the dashboard's assets (one media type).
            let text = content
                .as_object()
                .filter(|c| c.get("application/json").is_none())
                .and_then(|c| c.values().next());
            let schema = match text {
                Some(text) => &text["schema"],
                None => &content["application/json"]["schema"],
            };
            if status.starts_with('4') && !dashboard_login {
                assert_eq!(
                    schema["$ref"], "#/components/schemas/Error",
                    "{id} {status}: errors are Error"
                );
            }
            if status == "204" {
                assert!(response.get("content").is_none(), "{id}: 204 has no body");
            } else {
                assert!(schema.is_object(), "{id} {status}: a schema");
            }
        }

        // The token is wanted everywhere but health and ready.
        let open = ["getHealth", "getReady"].contains(&id);
        if open {
            assert_eq!(op["security"], json!([]), "{id} is open");
            assert!(responses.get("401").is_none(), "{id} never answers 401");
        } else {
            assert!(
                op.get("security").is_none(),
                "{id} uses the global bearerAuth"
            );
            assert!(responses.contains_key("401"), "{id} documents 401");
        }

        // A documented request example is valid and names every documented field, so that
        // sending it (below) shows every documented field is accepted.
        if let Some(schema) = spec.request_schema(&template, &method) {
            let example = spec.example(&template, &method);
            assert!(example.is_object(), "{id}: a request example");
            spec.validate(schema, &example)
                .unwrap_or_else(|e| panic!("{id}: example: {e:?}"));
            assert_complete(&spec, schema, &example, id);
        }
    }
    assert_eq!(operation_ids.len(), 34, "{operation_ids:?}");
}

/// The validator understands every keyword of a schema and of the schemas inside it.
fn check_keywords(schema: &Value, at: &str) {
    let object = schema
        .as_object()
        .unwrap_or_else(|| panic!("{at}: not a schema"));
    if let Some(unknown) = object.keys().find(|k| !KEYWORDS.contains(&k.as_str())) {
        panic!("{at}: the validator does not know the keyword {unknown}");
    }
    assert!(
        object.get("format").is_none_or(|f| f == "date-time"),
        "{at}: only the date-time format is checked"
    );
    for (name, property) in object
        .get("properties")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        check_keywords(property, &format!("{at}.{name}"));
    }
    if let Some(items) = object.get("items") {
        check_keywords(items, &format!("{at}[]"));
    }
    if let Some(additional) = object.get("additionalProperties").filter(|a| a.is_object()) {
        check_keywords(additional, &format!("{at}{{}}"));
    }
}

/// Every object of `value` has every property its schema documents.
fn assert_complete(spec: &Spec, schema: &Value, value: &Value, at: &str) {
    let schema = spec.resolve(schema);
    if let (Some(properties), Some(object)) = (schema["properties"].as_object(), value.as_object())
    {
        for (name, property) in properties {
            let item = object
                .get(name)
                .unwrap_or_else(|| panic!("{at}: the example lacks {name}"));
            assert_complete(spec, property, item, &format!("{at}.{name}"));
        }
    }
    if let Some(items) = value.as_array() {
        for item in items {
            assert_complete(spec, &schema["items"], item, at);
        }
    }
}

#[test]
fn the_documented_enums_and_fields_are_the_servers() {
    let spec = Spec::load();
    let schemas = &spec.doc["components"]["schemas"];
    let statuses: Vec<&str> = PluginStatus::ALL.iter().map(|s| s.as_str()).collect();
    assert_eq!(schemas["PluginStatus"]["enum"], json!(statuses));
    let types = [PluginType::Once, PluginType::Persist].map(|t| serde_json::to_value(t).unwrap());
    assert_eq!(schemas["PluginType"]["enum"], json!(types));

    // FaultSpec as the server writes it with every field set; a FaultRule adds id and fired.
    let every_field = FaultSpec {
        action: Some("a".into()),
        region_id: Some("r".into()),
        instance_id: Some("i".into()),
        code: Some("c".into()),
        status: Some(400),
        message: Some("m".into()),
        latency_ms: Some(1),
        probability: Some(1.0),
        seed: Some(1),
        times: Some(1),
        retry_after_ms: Some(1),
    };
    let server_keys: BTreeSet<String> = serde_json::to_value(every_field)
        .unwrap()
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    let keys = |name: &str| -> BTreeSet<String> {
        schemas[name]["properties"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect()
    };
    assert_eq!(keys("FaultSpec"), server_keys);
    let mut rule_keys = server_keys.clone();
    rule_keys.extend(["id".to_owned(), "fired".to_owned()]);
    assert_eq!(keys("FaultRule"), rule_keys);

    // CommandRuleSpec likewise; a CommandRule adds id and fired.
    let every_field = CommandRuleSpec {
        content_regex: "x".into(),
        instance_id: Some("i".into()),
        region_id: Some("r".into()),
        account_id: Some("a".into()),
        exit_code: Some(1),
        output: Some("o".into()),
        duration_seconds: Some(1),
        times: Some(1),
    };
    let server_keys: BTreeSet<String> = serde_json::to_value(every_field)
        .unwrap()
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert_eq!(keys("CommandRuleSpec"), server_keys);
    let mut rule_keys = server_keys;
    rule_keys.extend(["id".to_owned(), "fired".to_owned()]);
    assert_eq!(keys("CommandRule"), rule_keys);

    // The bodies without their ids are the records without their ids.
    let mut instance = keys("Instance");
    instance.remove("instanceId");
    assert_eq!(keys("InstanceBody"), instance);
    let mut plugin = keys("Plugin");
    plugin.remove("name");
    assert_eq!(keys("PluginBody"), plugin);
}

/// Steps that each succeed, in order, covering every documented operation and success status.
#[tokio::test]
async fn every_documented_operation_is_routed_and_answers_as_documented() {
    let spec = Spec::load();
    let app = demo_app();
    let example = |template: &str, method: &str| spec.example(template, method).to_string();
    let instance = "/_emulator/instances/i-openapi-0001";
    let in_default = format!("?accountId={DEFAULT_ACCOUNT}");
    let in_other = format!("?accountId={OTHER_ACCOUNT}");
    let mut other_body = spec.example("/_emulator/instances/{instanceId}", "put");
    other_body["accountId"] = json!(OTHER_ACCOUNT);
    let plugin = |name: &str| format!("{instance}/plugins/{name}{in_default}");
    let event = |name: &str, event: &str| format!("{instance}/plugins/{name}/{event}{in_default}");

    let exported = call(&app, "GET", "/_emulator/state", "").await;
    assert_eq!(exported.status, 200);

    // An API request, so that the journal has something to list.
    let api = common::send(
        &app,
        &format!("{}&RegionId=cn-hangzhou&Name=ecs_tools_test", common::BASE),
    )
    .await;
    assert_eq!(api.status, 200, "{}", api.body);

    let steps: Vec<(&str, String, String, u16)> = vec![
        ("GET", "/_emulator/health".into(), String::new(), 200),
        ("GET", "/_emulator/ready".into(), String::new(), 200),
        ("GET", "/_emulator/openapi.json".into(), String::new(), 200),
        ("GET", "/_emulator/metrics".into(), String::new(), 200),
        ("GET", "/_emulator/state".into(), String::new(), 200),
        ("PUT", "/_emulator/state".into(), exported.body.clone(), 200),
        (
            "GET",
            "/_emulator/requests?action=ListPluginStatus&code=&limit=5".into(),
            String::new(),
            200,
        ),
        (
            "GET",
            "/_emulator/requests?instanceId=i-none&limit=5".into(),
            String::new(),
            200,
        ),
        (
            "GET",
            "/_emulator/invocations?instanceId=i-none&limit=5".into(),
            String::new(),
            200,
        ),
        ("GET", "/_emulator/ui".into(), String::new(), 200),
        ("GET", "/_emulator/ui/app.js".into(), String::new(), 200),
        ("GET", "/_emulator/ui/style.css".into(), String::new(), 200),
        ("DELETE", "/_emulator/requests".into(), String::new(), 204),
        (
            "PUT",
            instance.into(),
            example("/_emulator/instances/{instanceId}", "put"),
            201,
        ),
        (
            "PUT",
            format!("{instance}{in_default}"),
            example("/_emulator/instances/{instanceId}", "put"),
            200,
        ),
        (
            "PUT",
            format!("{instance}{in_other}"),
            other_body.to_string(),
            201,
        ),
        ("GET", format!("{instance}{in_default}"), String::new(), 200),
        (
            "PUT",
            plugin("multi-nic-util"),
            example("/_emulator/instances/{instanceId}/plugins/{name}", "put"),
            201,
        ),
        (
            "PUT",
            plugin("multi-nic-util"),
            example("/_emulator/instances/{instanceId}/plugins/{name}", "put"),
            200,
        ),
        ("GET", plugin("multi-nic-util"), String::new(), 200),
        ("POST", event("multi-nic-util", "start"), String::new(), 200),
        (
            "POST",
            event("multi-nic-util", "heartbeat"),
            "{}".into(),
            200,
        ),
        ("POST", event("multi-nic-util", "stop"), String::new(), 200),
        ("POST", event("multi-nic-util", "start"), String::new(), 200),
        ("POST", event("multi-nic-util", "crash"), String::new(), 200),
        (
            "POST",
            event("multi-nic-util", "remove"),
            String::new(),
            200,
        ),
        (
            "POST",
            event("multi-nic-util", "install"),
            example(
                "/_emulator/instances/{instanceId}/plugins/{name}/{event}",
                "post",
            ),
            200,
        ),
        (
            "POST",
            event("config_ecs_instance_connect", "install"),
            String::new(),
            200,
        ),
        ("DELETE", plugin("multi-nic-util"), String::new(), 204),
        (
            "DELETE",
            format!("{instance}{in_other}"),
            String::new(),
            204,
        ),
        ("DELETE", instance.into(), String::new(), 204),
        (
            "POST",
            "/_emulator/faults".into(),
            example("/_emulator/faults", "post"),
            201,
        ),
        (
            "POST",
            "/_emulator/faults".into(),
            r#"{"latencyMs": 1, "probability": 0.5, "seed": 7}"#.into(),
            201,
        ),
        ("GET", "/_emulator/faults".into(), String::new(), 200),
        ("GET", "/_emulator/faults/f-1".into(), String::new(), 200),
        ("DELETE", "/_emulator/faults/f-1".into(), String::new(), 204),
        ("DELETE", "/_emulator/faults".into(), String::new(), 204),
        (
            "PUT",
            format!("/_emulator/instances/{DEMO_INSTANCE}/cloud-assistant{in_default}"),
            example("/_emulator/instances/{instanceId}/cloud-assistant", "put"),
            200,
        ),
        (
            "PUT",
            format!("/_emulator/instances/{DEMO_INSTANCE}/cloud-assistant"),
            "{}".into(),
            200,
        ),
        (
            "POST",
            "/_emulator/commands".into(),
            example("/_emulator/commands", "post"),
            201,
        ),
        (
            "POST",
            "/_emulator/commands".into(),
            r#"{"contentRegex": "reboot", "exitCode": 1}"#.into(),
            201,
        ),
        ("GET", "/_emulator/commands".into(), String::new(), 200),
        ("GET", "/_emulator/commands/r-1".into(), String::new(), 200),
        (
            "DELETE",
            "/_emulator/commands/r-1".into(),
            String::new(),
            204,
        ),
        ("DELETE", "/_emulator/commands".into(), String::new(), 204),
        (
            "PUT",
            "/_emulator/clock".into(),
            example("/_emulator/clock", "put"),
            200,
        ),
        ("GET", "/_emulator/clock".into(), String::new(), 200),
        ("PUT", "/_emulator/clock".into(), "{}".into(), 200),
        ("DELETE", "/_emulator/clock".into(), String::new(), 204),
        (
            "PUT",
            "/_emulator/state".into(),
            example("/_emulator/state", "put"),
            200,
        ),
        ("POST", "/_emulator/reset".into(), String::new(), 200),
    ];

    let mut seen_status: BTreeSet<(Operation, String)> = BTreeSet::new();
    let mut seen_query: BTreeMap<Operation, BTreeSet<String>> = BTreeMap::new();
    for (method, uri, body, expected) in &steps {
        let reply = call(&app, method, uri, body).await;
        assert_eq!(
            reply.status, *expected,
            "{method} {uri} {body}: {}",
            reply.body
        );
        let template = spec.check(method, uri, &reply);
        let operation = Operation {
            template: template.clone(),
            method: method.to_ascii_lowercase(),
        };
        // What was sent is what the document describes.
        if let Some(schema) = spec.request_schema(&template, &operation.method) {
            if !body.is_empty() {
                let sent: Value = serde_json::from_str(body).unwrap();
                spec.validate(schema, &sent)
                    .unwrap_or_else(|e| panic!("{method} {uri}: the request body: {e:?}"));
            }
        }
        if let Some((_, query)) = uri.split_once('?') {
            let documented = spec.query_parameters(&template, &operation.method);
            for pair in query.split('&') {
                let key = pair.split('=').next().unwrap().to_owned();
                assert!(documented.contains(&key), "{method} {uri}: {key}");
                seen_query.entry(operation.clone()).or_default().insert(key);
            }
        }
        if *method == "GET" && uri.starts_with("/_emulator/requests") && !uri.contains("i-none") {
            assert!(!reply.json()["requests"].as_array().unwrap().is_empty());
        }
        seen_status.insert((operation, reply.status.to_string()));
    }

    for operation in spec.operations() {
        let op = spec.operation(&operation.template, &operation.method);
        for status in op["responses"].as_object().unwrap().keys() {
            if status.starts_with('2') {
                assert!(
                    seen_status.contains(&(operation.clone(), status.clone())),
                    "{operation:?} {status} was never answered by the steps"
                );
            }
        }
        let documented = spec.query_parameters(&operation.template, &operation.method);
        let used = seen_query.remove(&operation).unwrap_or_default();
        assert_eq!(
            documented, used,
            "{operation:?}: every documented query parameter is sent"
        );
    }
}

/// A request the server must refuse, with the status and error code it answers.
struct Refused {
    method: String,
    uri: String,
    body: String,
    status: u16,
    code: &'static str,
}

fn refused(method: &str, uri: &str, body: &str, status: u16, code: &'static str) -> Refused {
    Refused {
        method: method.to_ascii_lowercase(),
        uri: uri.to_owned(),
        body: body.to_owned(),
        status,
        code,
    }
}

/// Refused requests: each answers a documented status with an Error body, and changes nothing.
#[tokio::test]
async fn refused_requests_answer_documented_errors_and_change_nothing() {
    let spec = Spec::load();
    let app = demo_app();
    let before = call(&app, "GET", "/_emulator/state", "").await.body;
    let too_large = " ".repeat((1 << 20) + 1);

    // Every body: bad JSON, not an object, an undocumented field, missing, too large.
    let mut cases = Vec::new();
    for Operation { template, method } in spec.operations() {
        let Some(schema) = spec.request_schema(&template, &method) else {
            continue;
        };
        // An event allowed in the plug-in's state, so that only the body is wrong.
        let uri = &concrete(&template).replace("ecs_tools_test/heartbeat", "ecs_tools_test/stop");
        cases.push(refused(&method, uri, "{,}", 400, "InvalidJson"));
        cases.push(refused(&method, uri, "\"text\"", 400, "InvalidField"));
        if schema["additionalProperties"] == false {
            let mut body = spec.example(&template, &method);
            body["notDocumented"] = json!(1);
            cases.push(refused(
                &method,
                uri,
                &body.to_string(),
                400,
                "InvalidField",
            ));
        }
        let op = spec.operation(&template, &method);
        if spec.resolve(&op["requestBody"])["required"] == true {
            cases.push(refused(&method, uri, "", 400, "InvalidJson"));
        }
        // 1 MiB everywhere but the state (256 MiB, too much to send here).
        if template != "/_emulator/state" {
            cases.push(refused(&method, uri, &too_large, 413, "BodyTooLarge"));
        }
    }

    let instance = &format!("/_emulator/instances/{DEMO_INSTANCE}");
    let plugin = &format!("{instance}/plugins/ecs_tools_test");
    let unknown = "/_emulator/instances/i-does-not-exist";
    let running = r#"{"status": "Running"}"#;
    let both_accounts =
        format!(r#"{{"regionId": "cn-hangzhou", "accountId": "{DEFAULT_ACCOUNT}"}}"#);
    cases.extend([
        // Unknown things.
        refused("GET", unknown, "", 404, "InstanceNotFound"),
        refused("DELETE", unknown, "", 404, "InstanceNotFound"),
        refused(
            "PUT",
            &format!("{unknown}/plugins/p"),
            running,
            404,
            "InstanceNotFound",
        ),
        refused(
            "GET",
            &format!("{unknown}/plugins/p"),
            "",
            404,
            "InstanceNotFound",
        ),
        refused(
            "DELETE",
            &format!("{unknown}/plugins/p"),
            "",
            404,
            "InstanceNotFound",
        ),
        refused(
            "POST",
            &format!("{unknown}/plugins/p/install"),
            "",
            404,
            "InstanceNotFound",
        ),
        refused(
            "GET",
            &format!("{instance}/plugins/nope"),
            "",
            404,
            "PluginNotFound",
        ),
        refused(
            "DELETE",
            &format!("{instance}/plugins/nope"),
            "",
            404,
            "PluginNotFound",
        ),
        refused("GET", "/_emulator/faults/f-999", "", 404, "FaultNotFound"),
        refused(
            "PUT",
            &format!("{unknown}/cloud-assistant"),
            "{}",
            404,
            "InstanceNotFound",
        ),
        refused(
            "GET",
            "/_emulator/commands/r-999",
            "",
            404,
            "CommandRuleNotFound",
        ),
        refused(
            "DELETE",
            "/_emulator/commands/r-999",
            "",
            404,
            "CommandRuleNotFound",
        ),
        refused(
            "DELETE",
            "/_emulator/faults/f-999",
            "",
            404,
            "FaultNotFound",
        ),
        // Events that make no sense in the plug-in's state.
        refused(
            "POST",
            &format!("{plugin}/install"),
            "",
            409,
            "InvalidTransition",
        ),
        refused(
            "POST",
            &format!("{instance}/plugins/p/stop"),
            "",
            409,
            "InvalidTransition",
        ),
        // Bad queries.
        refused(
            "GET",
            &format!("{instance}?bogus=1"),
            "",
            400,
            "InvalidField",
        ),
        refused(
            "GET",
            &format!("{instance}?accountId=999"),
            "",
            400,
            "InvalidField",
        ),
        refused(
            "DELETE",
            &format!("{instance}?accountId=999"),
            "",
            400,
            "InvalidField",
        ),
        refused("GET", &format!("{plugin}?bogus=1"), "", 400, "InvalidField"),
        refused(
            "DELETE",
            &format!("{plugin}?bogus=1"),
            "",
            400,
            "InvalidField",
        ),
        refused(
            "POST",
            &format!("{plugin}/heartbeat?bogus=1"),
            "",
            400,
            "InvalidField",
        ),
        refused(
            "GET",
            "/_emulator/requests?limit=0",
            "",
            400,
            "InvalidField",
        ),
        refused(
            "GET",
            "/_emulator/requests?bogus=1",
            "",
            400,
            "InvalidField",
        ),
        // Bad values.
        refused(
            "PUT",
            &format!("{instance}?accountId={OTHER_ACCOUNT}"),
            &both_accounts,
            400,
            "InvalidField",
        ),
        refused(
            "PUT",
            plugin,
            r#"{"status": "Sleeping"}"#,
            400,
            "InvalidField",
        ),
        refused("PUT", plugin, r#"{"status": 3}"#, 400, "InvalidField"),
        refused("PUT", unknown, r#"{"regionId": ""}"#, 400, "InvalidField"),
        refused(
            "PUT",
            unknown,
            r#"{"regionId": "r", "accountId": "999"}"#,
            400,
            "InvalidField",
        ),
        refused("POST", "/_emulator/faults", "{}", 400, "InvalidField"),
        refused("POST", "/_emulator/commands", "{}", 400, "InvalidField"),
        refused(
            "POST",
            "/_emulator/commands",
            r#"{"contentRegex": "x"}"#,
            400,
            "InvalidField",
        ),
        refused(
            "POST",
            "/_emulator/commands",
            r#"{"contentRegex": "(", "exitCode": 1}"#,
            400,
            "InvalidField",
        ),
        refused(
            "PUT",
            &format!("{instance}/cloud-assistant"),
            r#"{"version": "two"}"#,
            400,
            "InvalidField",
        ),
        refused(
            "PUT",
            &format!("{instance}/cloud-assistant?accountId=999"),
            "{}",
            400,
            "InvalidField",
        ),
        refused(
            "POST",
            "/_emulator/faults",
            r#"{"code": "X", "probability": 2}"#,
            400,
            "InvalidField",
        ),
        refused(
            "PUT",
            "/_emulator/clock",
            r#"{"now": "yesterday"}"#,
            400,
            "InvalidField",
        ),
        refused(
            "PUT",
            "/_emulator/state",
            r#"{"accounts": [{"accountId": "1"}]}"#,
            400,
            "InvalidField",
        ),
        // Path segments that are not UTF-8.
        refused("GET", "/_emulator/instances/%FF", "", 400, "InvalidField"),
        refused(
            "DELETE",
            "/_emulator/instances/%FF",
            "",
            400,
            "InvalidField",
        ),
        refused(
            "GET",
            &format!("{instance}/plugins/%FF"),
            "",
            400,
            "InvalidField",
        ),
        refused(
            "DELETE",
            &format!("{instance}/plugins/%FF"),
            "",
            400,
            "InvalidField",
        ),
        refused("GET", "/_emulator/faults/%FF", "", 400, "InvalidField"),
        refused("DELETE", "/_emulator/faults/%FF", "", 400, "InvalidField"),
    ]);

    for case in &cases {
        let Refused {
            method,
            uri,
            body,
            status,
            code,
        } = case;
        let reply = call(&app, method, uri, body).await;
        let shown = &body[..body.len().min(80)];
        let what = format!("{method} {uri} {shown}: {}", reply.body);
        assert_eq!(reply.status, *status, "{what}");
        spec.check(method, uri, &reply);
        assert_eq!(code_of(&reply), *code, "{what}");
    }
    let after = call(&app, "GET", "/_emulator/state", "").await.body;
    assert_eq!(before, after, "a refused request changed the state");
    let faults = call(&app, "GET", "/_emulator/faults", "").await.json();
    assert_eq!(faults, json!({"faults": []}), "a refused fault was added");
    let rules = call(&app, "GET", "/_emulator/commands", "").await.json();
    assert_eq!(
        rules,
        json!({"rules": []}),
        "a refused command rule was added"
    );
}

/// A body the document calls optional may be left out.
#[tokio::test]
async fn optional_bodies_may_be_empty() {
    let spec = Spec::load();
    let app = demo_app();
    for Operation { template, method } in spec.operations() {
        let op = spec.operation(&template, &method);
        let Some(body) = op.get("requestBody").map(|b| spec.resolve(b)) else {
            continue;
        };
        if body["required"] == true {
            continue;
        }
        let uri = concrete(&template).replace("ecs_tools_test/heartbeat", "new-plugin/install");
        let reply = call(&app, &method, &uri, "").await;
        assert!(
            (200..300).contains(&reply.status),
            "{method} {uri} with no body: {} {}",
            reply.status,
            reply.body
        );
        spec.check(&method, &uri, &reply);
    }
}

#[tokio::test]
async fn the_token_is_wanted_exactly_where_documented() {
    let spec = Spec::load();
    let app = guarded_app();
    let bearer = format!("Bearer {ADMIN_TOKEN}");
    for Operation { template, method } in spec.operations() {
        let op = spec.operation(&template, &method);
        let uri = concrete(&template);
        let open = op["security"] == json!([]);
        for authorization in [None, Some("Bearer wrong"), Some(ADMIN_TOKEN)] {
            let reply = call_with(&app, &method, &uri, "", authorization).await;
            spec.check(&method, &uri, &reply);
            if open {
                assert_eq!(reply.status, 200, "{method} {uri}");
            } else {
                assert_eq!(reply.status, 401, "{method} {uri}: {}", reply.body);
                if template.starts_with("/_emulator/ui") {
                    // The dashboard's assets answer a page that asks for the token.
                    assert!(reply.body.contains("Admin token"), "{uri}: {}", reply.body);
                } else {
                    assert_eq!(code_of(&reply), "Unauthorized");
                }
            }
        }
        let reply = call_with(&app, &method, &uri, "", Some(&bearer)).await;
        assert_ne!(reply.status, 401, "{method} {uri} with the token");
        spec.check(&method, &uri, &reply);
    }

    // A method a guarded path does not have is 405 only behind the token: the token is
    // checked before anything else. Health and ready answer 405 to anyone.
    for (template, item) in spec.paths() {
        let uri = concrete(template);
        let open = METHODS
            .iter()
            .filter_map(|m| item.get(*m))
            .all(|op| op["security"] == json!([]));
        for method in METHODS.iter().filter(|m| item.get(**m).is_none()) {
            let anonymous = call_with(&app, method, &uri, "", None).await;
            let expected = if open { 405 } else { 401 };
            assert_eq!(
                anonymous.status, expected,
                "{method} {uri}: {}",
                anonymous.body
            );
            let authorized = call_with(&app, method, &uri, "", Some(&bearer)).await;
            assert_eq!(
                authorized.status, 405,
                "{method} {uri}: {}",
                authorized.body
            );
        }
    }
}

#[tokio::test]
async fn undocumented_methods_are_405_and_undocumented_paths_404() {
    let spec = Spec::load();
    let app = demo_app();
    for (template, item) in spec.paths() {
        let uri = concrete(template);
        let mut allowed: BTreeSet<String> = METHODS
            .iter()
            .filter(|m| item.get(**m).is_some())
            .map(|m| m.to_ascii_uppercase())
            .collect();
        if allowed.contains("GET") {
            allowed.insert("HEAD".into());
        }
        for method in METHODS.iter().filter(|m| item.get(**m).is_none()) {
            let reply = call(&app, method, &uri, "").await;
            assert_eq!(reply.status, 405, "{method} {uri}: {}", reply.body);
            spec.validate(
                &json!({"$ref": "#/components/schemas/Error"}),
                &reply.json(),
            )
            .unwrap();
            assert_eq!(code_of(&reply), "MethodNotAllowed");
            let allow: BTreeSet<String> = reply
                .header("allow")
                .unwrap_or_default()
                .split(',')
                .map(|m| m.trim().to_owned())
                .collect();
            assert_eq!(allow, allowed, "{method} {uri}: Allow");
        }
    }

    for path in [
        "/_emulator",
        "/_emulator/",
        "/_emulator/instance",
        "/_emulator/instances",
        "/_emulator/instances/",
        "/_emulator/instances/i-1/plugins",
        "/_emulator/instances/i-1/plugins/",
        "/_emulator/instances/i-1/plugins/p/install/x",
        "/_emulator/faults/x/y",
        "/_emulator/commands/x/y",
        "/_emulator/instances/i-1/cloud-assistant/x",
        "/_emulator/instances/i-1/cloud_assistant",
        "/_emulator/state/x",
        "/_emulator/reset/x",
        "/_emulator/requests/x",
        "/_emulator/clock/x",
        "/_emulator/health/x",
        "/_emulator/openapi.yaml",
        "/_emulator/Health",
    ] {
        assert!(spec.template_of(path).is_none(), "{path} is documented");
        for method in METHODS {
            let reply = call(&app, method, path, "").await;
            assert_eq!(reply.status, 404, "{method} {path}: {}", reply.body);
            spec.validate(
                &json!({"$ref": "#/components/schemas/Error"}),
                &reply.json(),
            )
            .unwrap_or_else(|e| panic!("{method} {path}: {e:?} {}", reply.body));
            assert_eq!(code_of(&reply), "RouteNotFound", "{method} {path}");
        }
    }
}

/// A JSON array is not an object: no body is read from one.
#[tokio::test]
async fn array_bodies_are_refused() {
    let spec = Spec::load();
    let app = demo_app();
    for Operation { template, method } in spec.operations() {
        if spec.request_schema(&template, &method).is_none() {
            continue;
        }
        let uri = concrete(&template).replace("ecs_tools_test/heartbeat", "ecs_tools_test/stop");
        let reply = call(&app, &method, &uri, "[]").await;
        assert_eq!(reply.status, 400, "{method} {uri} []: {}", reply.body);
        spec.check(&method, &uri, &reply);
    }
}

#[tokio::test]
async fn the_served_document_is_the_file() {
    let app = demo_app();
    let reply = call(&app, "GET", "/_emulator/openapi.json", "").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert_eq!(reply.body, DOCUMENT);
}

#[tokio::test]
async fn the_documented_events_are_the_servers() {
    let spec = Spec::load();
    let event = &spec.doc["components"]["parameters"]["Event"];
    let documented: Vec<String> = event["schema"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap().to_owned())
        .collect();
    let server: Vec<String> = Event::ALL.iter().map(|e| e.as_str().to_owned()).collect();
    assert_eq!(documented, server);

    // Probed: each documented event is routed (200 or 409, never 404); no other name is.
    let app = demo_app();
    let base = format!("/_emulator/instances/{DEMO_INSTANCE}/plugins/ecs_tools_test");
    for name in &documented {
        let uri = format!("{base}/{name}");
        let reply = call(&app, "POST", &uri, "").await;
        assert!([200, 409].contains(&reply.status), "{uri}: {}", reply.body);
        spec.check("POST", &uri, &reply);
    }
    for name in [
        "restart",
        "Install",
        "uninstall",
        "update",
        "heartbeats",
        "%20",
    ] {
        let uri = format!("{base}/{name}");
        let reply = call(&app, "POST", &uri, "").await;
        assert_eq!(reply.status, 404, "{uri}: {}", reply.body);
        spec.check("POST", &uri, &reply);
        assert_eq!(code_of(&reply), "RouteNotFound", "{uri}");
    }
}

/// Where an event leads, as the table in the event operation's description says.
#[derive(Debug)]
enum Outcome {
    Unchanged,
    To(String),
    ByType { once: String, persist: String },
}

/// One row of the lifecycle table: `None` in `from` is "not installed" (no record).
#[derive(Debug)]
struct Transition {
    event: String,
    from: Vec<Option<String>>,
    persist_only: bool,
    outcome: Outcome,
}

fn lifecycle_table(spec: &Spec) -> Vec<Transition> {
    let description = spec.operation(
        "/_emulator/instances/{instanceId}/plugins/{name}/{event}",
        "post",
    )["description"]
        .as_str()
        .unwrap();
    let unquote = |s: &str| s.trim().trim_matches('`').to_owned();
    description
        .lines()
        .filter(|line| line.starts_with("| `"))
        .map(|line| {
            let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
            assert_eq!(cells.len(), 3, "{line}");
            let (from, persist_only) = match cells[1].strip_suffix(" (Persist only)") {
                Some(from) => (from, true),
                None => (cells[1], false),
            };
            let from = from
                .split(", ")
                .map(|s| (s != "not installed").then(|| unquote(s)))
                .collect();
            let outcome = if cells[2] == "unchanged" {
                Outcome::Unchanged
            } else if let Some((once, persist)) = cells[2].split_once(" or ") {
                Outcome::ByType {
                    once: unquote(once.strip_suffix(" (Once)").expect("(Once)")),
                    persist: unquote(persist.strip_suffix(" (Persist)").expect("(Persist)")),
                }
            } else {
                Outcome::To(unquote(cells[2]))
            };
            Transition {
                event: unquote(cells[0]),
                from,
                persist_only,
                outcome,
            }
        })
        .collect()
}

#[tokio::test]
async fn the_documented_lifecycle_table_is_the_servers() {
    let spec = Spec::load();
    let table = lifecycle_table(&spec);
    let events: Vec<&str> = table.iter().map(|t| t.event.as_str()).collect();
    let server: Vec<&str> = Event::ALL.iter().map(|e| e.as_str()).collect();
    assert_eq!(events, server, "one row per event");

    let app = demo_app();
    let clock = call(
        &app,
        "PUT",
        "/_emulator/clock",
        r#"{"now": "2030-01-01T00:00:00Z", "frozen": true}"#,
    )
    .await;
    assert_eq!(clock.status, 200);
    let instance = "/_emulator/instances/i-lifecycle";
    let mut states: Vec<Option<&str>> = vec![None];
    states.extend(PluginStatus::ALL.iter().map(|s| Some(s.as_str())));
    let mut accepted = 0;
    for row in &table {
        for state in &states {
            for plugin_type in ["Once", "Persist"] {
                let plugins = match state {
                    None => json!([]),
                    Some("NotInstalled") => json!([{"name": "p", "status": "NotInstalled"}]),
                    Some(s) => json!([{"name": "p", "version": "0.1", "status": s,
                        "firstHeartbeatTime": "2020-01-01T00:00:00Z",
                        "lastHeartbeatTime": "2020-01-01T00:00:00Z"}]),
                };
                let body = json!({"regionId": "cn-hangzhou", "plugins": plugins}).to_string();
                let setup = call(&app, "PUT", instance, &body).await;
                assert!([200, 201].contains(&setup.status), "{}", setup.body);

                let uri = format!("{instance}/plugins/p/{}", row.event);
                let body = json!({"type": plugin_type}).to_string();
                let reply = call(&app, "POST", &uri, &body).await;
                spec.check("POST", &uri, &reply);
                let case = format!("{} from {state:?} ({plugin_type})", row.event);
                let allowed = row.from.iter().any(|f| f.as_deref() == *state)
                    && (!row.persist_only || plugin_type == "Persist");
                if !allowed {
                    assert_eq!(reply.status, 409, "{case}: {}", reply.body);
                    assert_eq!(code_of(&reply), "InvalidTransition");
                    let message = reply.json()["message"].as_str().unwrap().to_owned();
                    assert!(message.contains(&row.event), "{case}: {message}");
                    let state_words = state
                        .filter(|s| *s != "NotInstalled")
                        .unwrap_or("not installed");
                    assert!(message.contains(state_words), "{case}: {message}");
                    continue;
                }
                accepted += 1;
                assert_eq!(reply.status, 200, "{case}: {}", reply.body);
                let expected = match &row.outcome {
                    Outcome::Unchanged => state.expect("a state").to_owned(),
                    Outcome::To(to) => to.clone(),
                    Outcome::ByType { once, persist } => match plugin_type {
                        "Once" => once.clone(),
                        _ => persist.clone(),
                    },
                };
                let plugin = reply.json();
                assert_eq!(plugin["status"], json!(expected), "{case}");
                assert_eq!(
                    plugin["lastHeartbeatTime"], "2030-01-01T00:00:00Z",
                    "{case}"
                );
                let first = match state {
                    None | Some("NotInstalled") => "2030-01-01T00:00:00Z",
                    Some(_) => "2020-01-01T00:00:00Z",
                };
                assert_eq!(plugin["firstHeartbeatTime"], first, "{case}");
            }
        }
    }
    assert!(accepted > 30, "only {accepted} transitions accepted");
}
