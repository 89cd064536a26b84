//! RunCommand, CreateCommand and InvokeCommand (SPEC 9.1, 9.2): their answers in JSON and XML,
//! every Appendix C code they answer, the validation order, ClientToken repeats, DryRun,
//! KeepCommand, custom parameters filled per instance (read through the state), and a run
//! followed to ListPluginStatus on a frozen clock.

mod common;

use std::sync::Arc;

use axum::Router;
use common::{enc, freeze, send, Reply};
use ecs_emulator::engine::commands::{Command, Invocation, RunStatus, Space};
use ecs_emulator::state::SequentialRequestIds;
use ecs_emulator::{app, fixture, AppState};
use serde_json::{json, Value};

const ACCOUNT: &str = "1234567890123456";
const OTHER_KEY: &str = "LTAI5tOtherKey001";
const REGION: &str = "cn-hangzhou";
const I1: &str = "i-bp1iudwa5b1tqa0001";
const I2: &str = "i-bp1iudwa5b1tqa0002";
/// The other account's instance in the same region.
const OTHERS: &str = "i-bp1otheraccount0001";
/// An instance of the caller in another region.
const SHANGHAI: &str = "i-uf6f5nbjtnmw7kap0001";

/// The demo data with a handle on its state, to read what the operations stored.
fn demo() -> (Router, AppState) {
    let state = AppState::with_request_ids(fixture::demo_store(), SequentialRequestIds::default());
    (app(state.clone()), state)
}

/// A JSON V1 query of `action` with `pairs`, each value percent-encoded.
fn query<K: AsRef<str>, V: AsRef<str>>(action: &str, pairs: &[(K, V)]) -> String {
    let mut query = format!("Action={action}&Version=2014-05-26&Format=JSON");
    for (key, value) in pairs {
        query.push_str(&format!("&{}={}", enc(key.as_ref()), enc(value.as_ref())));
    }
    query
}

/// `base` with each of `changes` replacing the value of its key, or added; an empty value
/// counts as absent (SPEC section 2), which is how a case leaves a parameter out.
fn with(base: &[(&str, &str)], changes: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = base
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    for (key, value) in changes {
        match pairs.iter_mut().find(|(k, _)| k == key) {
            Some(pair) => pair.1 = (*value).to_owned(),
            None => pairs.push(((*key).to_owned(), (*value).to_owned())),
        }
    }
    pairs
}

const RUN: &[(&str, &str)] = &[
    ("RegionId", REGION),
    ("Type", "RunShellScript"),
    ("CommandContent", "echo hi"),
    ("InstanceId.1", I1),
];

/// `echo hi` in Base64, CreateCommand's default encoding.
const ECHO_HI: &str = "ZWNobyBoaQ==";

const CREATE: &[(&str, &str)] = &[
    ("RegionId", REGION),
    ("Name", "hello"),
    ("Type", "RunShellScript"),
    ("CommandContent", ECHO_HI),
];

async fn call<K: AsRef<str>, V: AsRef<str>>(app: &Router, action: &str, pairs: &[(K, V)]) -> Reply {
    send(app, &query(action, pairs)).await
}

/// The answer's top-level keys, in the order sent (a `Value` would sort them).
fn keys(reply: &Reply) -> Vec<String> {
    struct Keys(Vec<String>);
    impl<'de> serde::Deserialize<'de> for Keys {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct Visit;
            impl<'de> serde::de::Visitor<'de> for Visit {
                type Value = Keys;
                fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("an object")
                }
                fn visit_map<A: serde::de::MapAccess<'de>>(
                    self,
                    mut map: A,
                ) -> Result<Keys, A::Error> {
                    let mut keys = Vec::new();
                    while let Some((key, _)) = map.next_entry::<String, serde::de::IgnoredAny>()? {
                        keys.push(key);
                    }
                    Ok(Keys(keys))
                }
            }
            d.deserialize_map(Visit)
        }
    }
    let Keys(keys) = serde_json::from_str(&reply.body).expect("a JSON object");
    keys
}

fn space(state: &AppState, account: &str, region: &str) -> Option<Space> {
    state.read(|store| store.space(account, region).cloned())
}

fn stored_invocation(state: &AppState, id: &str) -> Arc<Invocation> {
    state.read(|store| {
        store
            .space(ACCOUNT, REGION)
            .and_then(|space| space.invocation(id).cloned())
            .unwrap_or_else(|| panic!("invocation {id} is stored"))
    })
}

fn stored_command(state: &AppState, id: &str) -> Option<Arc<Command>> {
    state.read(|store| {
        store
            .space(ACCOUNT, REGION)
            .and_then(|space| space.command(id).cloned())
    })
}

/// (commands, invocations) of the caller in the region.
fn counts(state: &AppState) -> (usize, usize) {
    space(state, ACCOUNT, REGION).map_or((0, 0), |space| {
        (space.commands().len(), space.invocations().len())
    })
}

fn is_id(id: &str, prefix: &str) -> bool {
    id.len() == 16
        && id.starts_with(prefix)
        && id[2..]
            .bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase())
}

async fn create(app: &Router, changes: &[(&str, &str)]) -> String {
    let reply = call(app, "CreateCommand", &with(CREATE, changes)).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.json()["CommandId"].as_str().unwrap().to_owned()
}

// ---- happy paths ----

#[tokio::test]
async fn run_command_runs_on_the_instances_without_keeping_the_command() {
    let (app, state) = demo();
    freeze(&app, "2030-01-01T00:00:00.750Z").await;
    let reply = call(&app, "RunCommand", &with(RUN, &[("InstanceId.2", I2)])).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let body = reply.json();
    assert_eq!(keys(&reply), ["RequestId", "CommandId", "InvokeId"]);
    assert_eq!(body["RequestId"], reply.header("x-acs-request-id").unwrap());
    let (command_id, invoke_id) = (
        body["CommandId"].as_str().unwrap(),
        body["InvokeId"].as_str().unwrap(),
    );
    assert!(is_id(command_id, "c-"), "{command_id}");
    assert!(is_id(invoke_id, "t-"), "{invoke_id}");

    // Not retained, but the invocation names it.
    assert!(stored_command(&state, command_id).is_none());
    let invocation = stored_invocation(&state, invoke_id);
    let now = "2030-01-01T00:00:00Z".parse().unwrap();
    assert_eq!(invocation.command_id, command_id);
    assert_eq!(invocation.command_name, "");
    assert_eq!(invocation.content, b"echo hi");
    assert_eq!(invocation.parameters, "{}");
    assert_eq!(invocation.timeout, 60);
    assert_eq!(invocation.working_dir, "");
    assert_eq!(invocation.username, "root");
    assert_eq!(invocation.repeat_mode, "Once");
    assert_eq!(invocation.creation_time, now);
    let ids: Vec<&str> = invocation
        .instances
        .iter()
        .map(|run| run.instance_id.as_str())
        .collect();
    assert_eq!(ids, [I1, I2]);
    for run in &invocation.instances {
        assert_eq!(run.status, RunStatus::Pending);
        assert_eq!(run.content, b"echo hi");
        assert_eq!((run.creation_time, run.update_time), (now, now));
        assert_eq!(run.next_check, now + chrono::Duration::seconds(1));
        assert_eq!(
            (run.start_time, run.finish_time, run.stop_time),
            (None, None, None)
        );
    }
    // Deleting or invoking it: it does not exist.
    let reply = call(
        &app,
        "InvokeCommand",
        &[
            ("RegionId", REGION),
            ("CommandId", command_id),
            ("InstanceId.1", I1),
        ],
    )
    .await;
    assert_eq!(
        (reply.status, reply.code()),
        (404, "InvalidCmdId.NotFound".into())
    );
}

#[tokio::test]
async fn run_command_answers_in_xml() {
    let (app, _) = demo();
    let xml_query = query("RunCommand", RUN).replace("Format=JSON", "Format=XML");
    let reply = send(&app, &xml_query).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(reply
        .header("content-type")
        .unwrap()
        .starts_with("text/xml"));
    let document = roxmltree::Document::parse(&reply.body).unwrap();
    let root = document.root_element();
    assert_eq!(root.tag_name().name(), "RunCommandResponse");
    let children: Vec<&str> = root
        .children()
        .filter(|n| n.is_element())
        .map(|n| n.tag_name().name())
        .collect();
    assert_eq!(children, ["RequestId", "CommandId", "InvokeId"]);
}

#[tokio::test]
async fn create_command_keeps_a_base64_command() {
    let (app, state) = demo();
    freeze(&app, "2030-01-01T00:00:00Z").await;
    let reply = call(
        &app,
        "CreateCommand",
        &with(
            CREATE,
            &[
                ("Description", "says hi"),
                ("WorkingDir", "/tmp"),
                ("Timeout", "120"),
                ("EnableParameter", "true"),
                (
                    "CommandContent",
                    "ZWNobyB7e25hbWV9fSB7e0FDUzo6SW5zdGFuY2VJZH19",
                ),
                ("Launcher", "bash"),
                ("ResourceGroupId", "rg-1"),
                ("Tag.1.Key", "team"),
                ("Tag.1.Value", "ops"),
            ],
        ),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let body = reply.json();
    assert_eq!(keys(&reply), ["CommandId", "RequestId"]);
    let id = body["CommandId"].as_str().unwrap();
    assert!(is_id(id, "c-"));
    let command = stored_command(&state, id).expect("retained");
    assert_eq!(command.name, "hello");
    assert_eq!(command.description, "says hi");
    assert_eq!(command.content, b"echo {{name}} {{ACS::InstanceId}}");
    assert_eq!(command.working_dir, "/tmp");
    assert_eq!(command.timeout, 120);
    assert!(command.enable_parameter);
    assert_eq!(command.parameter_names, ["name"]);
    assert_eq!(command.launcher.as_deref(), Some("bash"));
    assert_eq!(command.resource_group_id.as_deref(), Some("rg-1"));
    assert_eq!(command.tags, [("team".to_owned(), "ops".to_owned())]);
    assert_eq!(command.invoke_times, 0);
    assert_eq!(
        command.creation_time,
        "2030-01-01T00:00:00Z"
            .parse::<chrono::DateTime<chrono::Utc>>()
            .unwrap()
    );
    assert_eq!(counts(&state), (1, 0));

    // PlainText when asked, any case; Base64 for any other value.
    let plain = create(
        &app,
        &[("ContentEncoding", "plaintext"), ("CommandContent", "ls")],
    )
    .await;
    assert_eq!(command_content(&state, &plain), b"ls");
    let other = create(&app, &[("ContentEncoding", "hex")]).await;
    assert_eq!(command_content(&state, &other), b"echo hi");

    let xml_query = query("CreateCommand", CREATE).replace("Format=JSON", "Format=XML");
    let reply = send(&app, &xml_query).await;
    let document = roxmltree::Document::parse(&reply.body).unwrap();
    let root = document.root_element();
    assert_eq!(root.tag_name().name(), "CreateCommandResponse");
    let children: Vec<&str> = root
        .children()
        .filter(|n| n.is_element())
        .map(|n| n.tag_name().name())
        .collect();
    assert_eq!(children, ["CommandId", "RequestId"]);
}

fn command_content(state: &AppState, id: &str) -> Vec<u8> {
    stored_command(state, id).unwrap().content.clone()
}

#[tokio::test]
async fn invoke_command_runs_a_kept_command_with_its_settings() {
    let (app, state) = demo();
    let id = create(
        &app,
        &[
            ("Type", "RunBatScript"),
            ("WorkingDir", "C:\\work"),
            ("Timeout", "300"),
            ("Launcher", "cmd"),
        ],
    )
    .await;
    let reply = call(
        &app,
        "InvokeCommand",
        &[
            ("RegionId", REGION),
            ("CommandId", id.as_str()),
            ("InstanceId.1", I2),
            ("InstanceId.2", I1),
            ("InstanceId.3", I2),
            ("ContainerName", "web"),
            ("TerminationMode", "Process"),
            ("Tag.1.Key", "k"),
        ],
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let body = reply.json();
    assert_eq!(keys(&reply), ["InvokeId", "RequestId"]);
    let invoke_id = body["InvokeId"].as_str().unwrap();
    assert!(is_id(invoke_id, "t-"));
    let invocation = stored_invocation(&state, invoke_id);
    assert_eq!(invocation.command_id, id);
    assert_eq!(invocation.command_name, "hello");
    assert_eq!(invocation.timeout, 300);
    assert_eq!(invocation.working_dir, "C:\\work");
    assert_eq!(invocation.username, "System");
    assert_eq!(invocation.launcher.as_deref(), Some("cmd"));
    assert_eq!(invocation.container_name.as_deref(), Some("web"));
    assert_eq!(invocation.termination_mode.as_deref(), Some("Process"));
    assert_eq!(invocation.tags, [("k".to_owned(), String::new())]);
    let ids: Vec<&str> = invocation
        .instances
        .iter()
        .map(|run| run.instance_id.as_str())
        .collect();
    assert_eq!(ids, [I2, I1], "request order, a repeat once");
    assert_eq!(stored_command(&state, &id).unwrap().invoke_times, 1);

    // The request's settings win over the command's.
    let reply = call(
        &app,
        "InvokeCommand",
        &[
            ("RegionId", REGION),
            ("CommandId", id.as_str()),
            ("InstanceId.1", I1),
            ("Timeout", "30"),
            ("WorkingDir", "D:\\"),
            ("Username", "admin"),
            ("Launcher", "pwsh"),
        ],
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let invocation = stored_invocation(&state, reply.json()["InvokeId"].as_str().unwrap());
    assert_eq!(
        (
            invocation.timeout,
            invocation.working_dir.as_str(),
            invocation.username.as_str(),
            invocation.launcher.as_deref()
        ),
        (30, "D:\\", "admin", Some("pwsh"))
    );
    assert_eq!(stored_command(&state, &id).unwrap().invoke_times, 2);

    let xml_query = query(
        "InvokeCommand",
        &[
            ("RegionId", REGION),
            ("CommandId", id.as_str()),
            ("InstanceId.1", I1),
        ],
    )
    .replace("Format=JSON", "Format=XML");
    let reply = send(&app, &xml_query).await;
    let document = roxmltree::Document::parse(&reply.body).unwrap();
    let root = document.root_element();
    assert_eq!(root.tag_name().name(), "InvokeCommandResponse");
    let children: Vec<&str> = root
        .children()
        .filter(|n| n.is_element())
        .map(|n| n.tag_name().name())
        .collect();
    assert_eq!(children, ["InvokeId", "RequestId"]);
}

// ---- every code, and the validation order ----

struct Case {
    what: &'static str,
    action: &'static str,
    pairs: Vec<(String, String)>,
    status: u16,
    code: &'static str,
    message: String,
}

fn case(
    what: &'static str,
    action: &'static str,
    pairs: Vec<(String, String)>,
    status: u16,
    code: &'static str,
    message: impl Into<String>,
) -> Case {
    Case {
        what,
        action,
        pairs,
        status,
        code,
        message: message.into(),
    }
}

fn missing(name: &str) -> String {
    format!("The input parameter \"{name}\" that is mandatory for processing this request is not supplied.")
}

const M_REGION: &str = "The RegionId provided does not exist in our records.";
const M_NO_IDS: &str = "The parameter instanceId is missing or empty.";
const M_TOO_MANY_IDS: &str = "The number of instance IDs exceeds the upper limit.";
const M_TYPE: &str = "The specified command type does not exist.";
const M_DECODE: &str = "The CommandContent can not be base64 decoded.";
const M_CONTENT_RUN: &str = "The length of the command content exceeds the upper limit.";
const M_CONTENT_INVOKE: &str = "The maximum length of a command is exceeded.";
const M_NAME: &str = "The length of the command name exceeds the upper limit.";
const M_DESC: &str = "The length of the command description exceeds the upper limit.";
const M_DIR: &str = "The specified parameter WorkingDir is not valid.";
const M_USER: &str = "The length of the username exceeds the upper limit.";
const M_TIMEOUT: &str = "The specified parameter Timeout exceeds the upper limit.";
const M_PARAM_NAME: &str = "Invalid parameter name. The name can contain only lowercase letters (a to z), uppercase letters (A to Z), numbers (0 to 9), hyphens (-), and underscores (_).";
const M_PARAM_COUNT: &str = "The maximum number of custom parameters is exceeded.";
const M_PARAM_NAME_LONG: &str = "The maximum length of a parameter name is exceeded.";
const M_PARAMETERS: &str = "The specified parameter Parameters is not valid.";
const M_KEY_DUPLICATE: &str = "Parameter names cannot be duplicated.";
const M_KEY_COUNT: &str = "The maximum number of parameters is exceeded.";
const M_KEY_LONG: &str = "The maximum length of a parameter name is exceeded.";
const M_VALUE_TYPE: &str = "The type of parameter value is not supported.";
const M_DISABLED: &str =
    "Parameters cannot be passed in when the command customization function is disabled.";
const M_NOT_MATCHED: &str =
    "The passed-in parameters do not match the parameters defined when you created the command.";
const M_MISSING_VALUE: &str = "The parameter value of this command is required.";
const M_REPEAT_MODE: &str = "The specified repeat mode does not exist.";
const M_FORBIDDEN: &str = "The operation is not permitted.";
const M_TOKEN: &str = "The specified parameter clientToken is not valid.";
const M_TAGS: &str = "The Tags parameter number is exceed.";
const M_TAG_KEY: &str = "You must specify Tag.N.Key.";
const M_TAG_TWICE: &str = "The Tag.N.Key contain duplicate key.";
const M_RESOURCE_TAG_CONFLICT: &str = "The specified param ResourceTag conflicts with InstanceId.";
const M_RESOURCE_TAG: &str = "InstanceIds are not found by the specified ResourceTag.";
const M_LAUNCHER: &str =
    "The length of the parameter Launcher exceeds the limit of 1 KB characters.";
const M_TERMINATION: &str = "The specified parameter TerminationMode does not exist.";
const M_INSTANCE: &str = "The specified instance does not exist.";
const M_COMMAND: &str = "The specified command ID does not exist.";
const M_DRY_RUN: &str = "Request validation has been passed with DryRun flag set.";

/// Every code the three operations answer (but the quota's: its own test), and which of two
/// failures wins.
fn table(plain: &str, with_parameters: &str, near_limit: &str) -> Vec<Case> {
    let run = |changes: &[(&str, &str)]| with(RUN, changes);
    let create = |changes: &[(&str, &str)]| with(CREATE, changes);
    let invoke_base: Vec<(&str, &str)> = vec![
        ("RegionId", REGION),
        ("CommandId", plain),
        ("InstanceId.1", I1),
    ];
    let invoke = |changes: &[(&str, &str)]| with(&invoke_base, changes);
    let name_129 = "n".repeat(129);
    let description_513 = "d".repeat(513);
    let dir_201 = "w".repeat(201);
    let user_256 = "u".repeat(256);
    let launcher_1025 = "l".repeat(1025);
    let twenty_one: String = (0..21).map(|i| format!("{{{{p{i}}}}} ")).collect();
    let long_name = format!("{{{{{}}}}}", "n".repeat(65));
    let eleven = format!(
        "{{{}}}",
        (0..11)
            .map(|i| format!("\"k{i}\":\"v\""))
            .collect::<Vec<_>>()
            .join(",")
    );
    let long_key = format!("{{\"{}\":\"v\"}}", "k".repeat(65));
    let content_over = "x".repeat(18_433);
    let content_at_limit = "x".repeat(18_432);
    let base64_over = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(vec![b'x'; 18_433])
    };
    let ids_101: Vec<(String, String)> = (1..=101)
        .map(|n| (format!("InstanceId.{n}"), format!("i-{n}")))
        .collect();
    let mut run_101: Vec<(String, String)> = with(RUN, &[])
        .into_iter()
        .filter(|(key, _)| key != "InstanceId.1")
        .collect();
    run_101.extend(ids_101.iter().cloned());
    let forty_one = format!("{{\"a\":\"{}\"}}", "v".repeat(41));
    let s = |text: &str| text.to_owned();

    vec![
        // (1) the region.
        case("no RegionId", "RunCommand", run(&[("RegionId", ""), ("Type", "")]), 400, "MissingRegionId",
            "RegionId is mandatory for this action."),
        case("unknown region, before a missing Type", "RunCommand", run(&[("RegionId", "cn-atlantis"), ("Type", "")]), 404,
            "InvalidRegionId.NotFound", M_REGION),
        case("unknown region, CreateCommand", "CreateCommand", create(&[("RegionId", "cn-atlantis")]), 404,
            "InvalidRegionId.NotFound", M_REGION),
        case("unknown region, InvokeCommand", "InvokeCommand", invoke(&[("RegionId", "cn-atlantis")]), 404,
            "InvalidRegionId.NotFound", M_REGION),
        // (2) required parameters, in 9.2 order.
        case("no Type, before no CommandContent", "RunCommand", run(&[("Type", ""), ("CommandContent", "")]), 400,
            "MissingParameter", missing("Type")),
        case("no CommandContent, before no instance", "RunCommand", run(&[("CommandContent", ""), ("InstanceId.1", "")]), 400,
            "MissingParameter", missing("CommandContent")),
        case("no instance, before a bad Type", "RunCommand", run(&[("InstanceId.1", ""), ("Type", "Bash")]), 400,
            "MissingParam.InstanceId", M_NO_IDS),
        case("CreateCommand: no Name, before no Type", "CreateCommand", create(&[("Name", ""), ("Type", "")]), 400,
            "MissingParameter", missing("Name")),
        case("CreateCommand: no CommandContent", "CreateCommand", create(&[("CommandContent", "")]), 400,
            "MissingParameter", missing("CommandContent")),
        case("InvokeCommand: no CommandId, before no instance", "InvokeCommand", invoke(&[("CommandId", ""), ("InstanceId.1", "")]), 400,
            "MissingParameter", missing("CommandId")),
        case("InvokeCommand: no instance, before bad Parameters", "InvokeCommand", invoke(&[("InstanceId.1", ""), ("Parameters", "[")]), 400,
            "MissingParam.InstanceId", M_NO_IDS),
        // (3) each parameter, in 9.2 order.
        case("bad Type, before undecodable content", "RunCommand", run(&[("Type", "runshellscript"), ("ContentEncoding", "Base64")]), 404,
            "InvalidCmdType.NotFound", M_TYPE),
        case("CreateCommand: bad Type", "CreateCommand", create(&[("Type", "Bash")]), 404, "InvalidCmdType.NotFound", M_TYPE),
        case("undecodable Base64, before too many instances", "RunCommand",
            { let mut p = run_101.clone(); p.push((s("ContentEncoding"), s("base64"))); p }, 400, "CmdContent.DecodeError", M_DECODE),
        case("CreateCommand: plain text is not Base64", "CreateCommand", create(&[("CommandContent", "echo hi")]), 400,
            "CmdContent.DecodeError", M_DECODE),
        case("content over 24,576 Base64 bytes, before too many instances", "RunCommand",
            { let mut p = run_101.clone(); p[2].1 = content_over.clone(); p }, 403, "CmdContent.ExceedLimit", M_CONTENT_RUN),
        case("CreateCommand: content over the limit", "CreateCommand", create(&[("CommandContent", &base64_over)]), 403,
            "CmdContent.ExceedLimit", M_CONTENT_RUN),
        case("101 instances, before a long Name", "RunCommand",
            { let mut p = run_101.clone(); p.push((s("Name"), name_129.clone())); p }, 403, "InstanceIds.ExceedLimit", M_TOO_MANY_IDS),
        case("InstanceId.101", "InvokeCommand", invoke(&[("InstanceId.101", I2)]), 403, "InstanceIds.ExceedLimit", M_TOO_MANY_IDS),
        case("a malformed N", "RunCommand", run(&[("InstanceId.01", I2)]), 400, "InvalidParameter",
            "The specified parameter \"InstanceId.01\" is not valid: N of InstanceId.N must be a whole number from 1 to 100"),
        case("Name over 128, before Description over 512", "RunCommand", run(&[("Name", &name_129), ("Description", &description_513)]), 403,
            "CmdName.ExceedLimit", M_NAME),
        case("CreateCommand: Name over 128, before a bad Type", "CreateCommand", create(&[("Name", &name_129), ("Type", "Bash")]), 403,
            "CmdName.ExceedLimit", M_NAME),
        case("Description over 512, before WorkingDir over 200", "RunCommand", run(&[("Description", &description_513), ("WorkingDir", &dir_201)]), 403,
            "CmdDesc.ExceedLimit", M_DESC),
        case("CreateCommand: Description over 512", "CreateCommand", create(&[("Description", &description_513)]), 403,
            "CmdDesc.ExceedLimit", M_DESC),
        case("WorkingDir over 200, before Username over 255", "RunCommand", run(&[("WorkingDir", &dir_201), ("Username", &user_256)]), 400,
            "InvalidParameter.WorkingDir", M_DIR),
        case("InvokeCommand: WorkingDir over 200", "InvokeCommand", invoke(&[("WorkingDir", &dir_201)]), 400,
            "InvalidParameter.WorkingDir", M_DIR),
        case("Username over 255, before Timeout over 86400", "RunCommand", run(&[("Username", &user_256), ("Timeout", "86401")]), 403,
            "Username.ExceedLimit", M_USER),
        case("InvokeCommand: Username over 255", "InvokeCommand", invoke(&[("Username", &user_256)]), 403,
            "Username.ExceedLimit", M_USER),
        case("Timeout over 86400, before a bad parameter name", "RunCommand",
            run(&[("Timeout", "86401"), ("EnableParameter", "true"), ("CommandContent", "{{a b}}")]), 403,
            "InvalidTimeout.ExceedLimit", M_TIMEOUT),
        case("CreateCommand: Timeout over 86400", "CreateCommand", create(&[("Timeout", "86401")]), 403,
            "InvalidTimeout.ExceedLimit", M_TIMEOUT),
        case("Timeout below 10", "RunCommand", run(&[("Timeout", "9")]), 400, "InvalidParameter",
            "The specified parameter \"Timeout\" is not valid: 9 is below 10: a timeout is 10 to 86400 seconds"),
        case("Timeout not a number", "InvokeCommand", invoke(&[("Timeout", "1m")]), 400, "InvalidParameter",
            "The specified parameter \"Timeout\" is not valid: \"1m\" is not a decimal integer of 64 bits"),
        case("EnableParameter not a boolean", "RunCommand", run(&[("EnableParameter", "yes")]), 400, "InvalidParameter",
            "The specified parameter \"EnableParameter\" is not valid: \"yes\" is not true or false"),
        case("a bad parameter name, before bad Parameters", "RunCommand",
            run(&[("EnableParameter", "true"), ("CommandContent", "echo {{na.me}}"), ("Parameters", "[")]), 400,
            "CmdParam.InvalidParamName", M_PARAM_NAME),
        case("CreateCommand: ACS:: names only the built-ins", "CreateCommand",
            create(&[("EnableParameter", "true"), ("ContentEncoding", "PlainText"), ("CommandContent", "{{ACS::Zone}}")]), 400,
            "CmdParam.InvalidParamName", M_PARAM_NAME),
        case("21 parameter names", "RunCommand", run(&[("EnableParameter", "true"), ("CommandContent", &twenty_one)]), 403,
            "CmdParamCount.ExceedLimit", M_PARAM_COUNT),
        case("a parameter name over 64 bytes", "CreateCommand",
            create(&[("EnableParameter", "true"), ("ContentEncoding", "PlainText"), ("CommandContent", &long_name)]), 403,
            "CmdParamName.ExceedLimit", M_PARAM_NAME_LONG),
        case("Parameters not an object, before a bad KeepCommand", "RunCommand", run(&[("Parameters", "[1]"), ("KeepCommand", "1")]), 400,
            "InvalidParameter.Parameters", M_PARAMETERS),
        case("InvokeCommand: bad Parameters, before an unknown command", "InvokeCommand",
            invoke(&[("Parameters", "{\"a\":"), ("CommandId", "c-unknown")]), 400, "InvalidParameter.Parameters", M_PARAMETERS),
        case("a key twice", "RunCommand", run(&[("Parameters", "{\"a\":\"1\",\"a\":\"2\"}")]), 403,
            "ParameterKey.Duplicate", M_KEY_DUPLICATE),
        case("11 keys", "InvokeCommand", invoke(&[("Parameters", &eleven)]), 403, "ParameterCount.ExceedLimit", M_KEY_COUNT),
        case("a key over 64", "RunCommand", run(&[("Parameters", &long_key)]), 403, "ParameterKey.ExceedLimit", M_KEY_LONG),
        case("a null value", "RunCommand", run(&[("Parameters", "{\"a\":null}")]), 403, "ParameterType.NotSupported", M_VALUE_TYPE),
        case("Parameters with the feature off", "RunCommand", run(&[("Parameters", "{\"a\":\"1\"}")]), 400, "Parameter.Disabled", M_DISABLED),
        case("a key the content does not name", "RunCommand",
            run(&[("EnableParameter", "true"), ("CommandContent", "echo {{a}}"), ("Parameters", "{\"a\":\"1\",\"b\":\"2\"}")]), 403,
            "Parameter.NotMatched", M_NOT_MATCHED),
        case("a name without a value", "RunCommand",
            run(&[("EnableParameter", "true"), ("CommandContent", "echo {{a}} {{b}}"), ("Parameters", "{\"A\":\"1\"}")]), 400,
            "Parameter.MissingValue", M_MISSING_VALUE),
        case("content and Parameters over the limit together", "RunCommand",
            run(&[("CommandContent", &content_at_limit), ("Parameters", "{}")]), 403, "CmdContent.ExceedLimit", M_CONTENT_RUN),
        case("KeepCommand not a boolean, before a bad RepeatMode", "RunCommand", run(&[("KeepCommand", "1"), ("RepeatMode", "Always")]), 400,
            "InvalidParameter", "The specified parameter \"KeepCommand\" is not valid: \"1\" is not true or false"),
        case("unknown RepeatMode, before a Frequency", "RunCommand", run(&[("RepeatMode", "Always"), ("Frequency", "rate(5m)")]), 404,
            "InvalidRepeatMode.NotFound", M_REPEAT_MODE),
        case("InvokeCommand: unknown RepeatMode", "InvokeCommand", invoke(&[("RepeatMode", "once")]), 404,
            "InvalidRepeatMode.NotFound", M_REPEAT_MODE),
        case("a periodic RepeatMode", "RunCommand", run(&[("RepeatMode", "Period")]), 403, "Operation.Forbidden", M_FORBIDDEN),
        case("NextRebootOnly", "InvokeCommand", invoke(&[("RepeatMode", "NextRebootOnly")]), 403, "Operation.Forbidden", M_FORBIDDEN),
        case("EveryReboot", "RunCommand", run(&[("RepeatMode", "EveryReboot")]), 403, "Operation.Forbidden", M_FORBIDDEN),
        case("a Frequency, before a malformed ClientToken", "RunCommand",
            run(&[("Frequency", "0 */10 * * * ?"), ("ClientToken", "\u{e9}")]), 403, "Operation.Forbidden", M_FORBIDDEN),
        case("DryRun with a Frequency", "InvokeCommand", invoke(&[("RepeatMode", "DryRun"), ("Frequency", "rate(5m)")]), 403,
            "Operation.Forbidden", M_FORBIDDEN),
        case("a malformed ClientToken, before 21 tags", "RunCommand", run(&[("ClientToken", &"t".repeat(65)), ("Tag.21.Key", "k")]), 400,
            "InvalidClientToken.Malformed", M_TOKEN),
        case("CreateCommand: a malformed ClientToken", "CreateCommand", create(&[("ClientToken", "a\u{7f}")]), 400,
            "InvalidClientToken.Malformed", M_TOKEN),
        case("InvokeCommand: a malformed ClientToken", "InvokeCommand", invoke(&[("ClientToken", "\u{e9}t\u{e9}")]), 400,
            "InvalidClientToken.Malformed", M_TOKEN),
        case("Tag.21, before a ResourceTag conflict", "RunCommand", run(&[("Tag.21.Key", "k"), ("ResourceTag.1.Key", "k")]), 400,
            "NumberExceed.Tags", M_TAGS),
        case("CreateCommand: Tag.21", "CreateCommand", create(&[("Tag.21.Key", "k")]), 400, "NumberExceed.Tags", M_TAGS),
        case("a tag without a key", "InvokeCommand", invoke(&[("Tag.1.Value", "v")]), 400, "MissingParameter.TagKey", M_TAG_KEY),
        case("a tag key twice", "RunCommand", run(&[("Tag.1.Key", "k"), ("Tag.2.Key", "k")]), 400, "Duplicate.TagKey", M_TAG_TWICE),
        case("ResourceTag beside InstanceId, before a long Launcher", "RunCommand",
            run(&[("ResourceTag.1.Key", "env"), ("Launcher", &launcher_1025)]), 400,
            "InvalidResourceTag.ConflictWithInstanceIds", M_RESOURCE_TAG_CONFLICT),
        case("InvokeCommand: ResourceTag beside InstanceId", "InvokeCommand", invoke(&[("ResourceTag.1.Value", "prod")]), 400,
            "InvalidResourceTag.ConflictWithInstanceIds", M_RESOURCE_TAG_CONFLICT),
        case("Launcher over 1 KB, before a bad TerminationMode", "RunCommand",
            run(&[("Launcher", &launcher_1025), ("TerminationMode", "Kill")]), 403, "InvalidLauncher.LengthLimitExceeded", M_LAUNCHER),
        case("CreateCommand: Launcher over 1 KB", "CreateCommand", create(&[("Launcher", &launcher_1025)]), 403,
            "InvalidLauncher.LengthLimitExceeded", M_LAUNCHER),
        case("a bad TerminationMode, before an unknown instance", "RunCommand",
            run(&[("TerminationMode", "process"), ("InstanceId.1", "i-nowhere")]), 404, "InvalidTerminationMode.NotFound", M_TERMINATION),
        case("InvokeCommand: a bad TerminationMode, before an unknown command", "InvokeCommand",
            invoke(&[("TerminationMode", "Kill"), ("CommandId", "c-nowhere")]), 404, "InvalidTerminationMode.NotFound", M_TERMINATION),
        case("Timed not a boolean", "RunCommand", run(&[("Timed", "sometimes")]), 400, "InvalidParameter",
            "The specified parameter \"Timed\" is not valid: \"sometimes\" is not true or false"),
        // (5) existence: the command, the instances in N order, then what needs the command.
        case("ResourceTag alone: no instance has tags", "RunCommand", run(&[("InstanceId.1", ""), ("ResourceTag.1.Key", "env")]), 400,
            "InvalidResourceTag.InstanceNotFound", M_RESOURCE_TAG),
        case("an unknown instance, before DryRun", "RunCommand",
            run(&[("InstanceId.2", "i-nowhere"), ("RepeatMode", "DryRun")]), 404, "InvalidInstance.NotFound", M_INSTANCE),
        case("another account's instance", "RunCommand", run(&[("InstanceId.3", OTHERS)]), 404, "InvalidInstance.NotFound", M_INSTANCE),
        case("an instance in another region", "RunCommand", run(&[("InstanceId.1", SHANGHAI)]), 404, "InvalidInstance.NotFound", M_INSTANCE),
        case("an unknown command, before an unknown instance", "InvokeCommand",
            invoke(&[("CommandId", "c-nowhere"), ("InstanceId.1", "i-nowhere")]), 404, "InvalidCmdId.NotFound", M_COMMAND),
        case("a command of another region", "InvokeCommand", invoke(&[("RegionId", "cn-shanghai"), ("InstanceId.1", SHANGHAI)]), 404,
            "InvalidCmdId.NotFound", M_COMMAND),
        case("InvokeCommand: ResourceTag alone", "InvokeCommand", invoke(&[("InstanceId.1", ""), ("ResourceTag.1.Key", "env")]), 400,
            "InvalidResourceTag.InstanceNotFound", M_RESOURCE_TAG),
        case("an unknown instance, before Parameters the command does not take", "InvokeCommand",
            invoke(&[("InstanceId.2", "i-nowhere"), ("Parameters", "{\"a\":\"1\"}")]), 404, "InvalidInstance.NotFound", M_INSTANCE),
        case("Parameters to a command without the feature", "InvokeCommand", invoke(&[("Parameters", "{\"a\":\"1\"}")]), 400,
            "Parameter.Disabled", M_DISABLED),
        case("a key the command does not name", "InvokeCommand",
            invoke(&[("CommandId", with_parameters), ("Parameters", "{\"name\":\"1\",\"other\":\"2\"}")]), 403,
            "Parameter.NotMatched", M_NOT_MATCHED),
        case("a name of the command without a value", "InvokeCommand", invoke(&[("CommandId", with_parameters)]), 400,
            "Parameter.MissingValue", M_MISSING_VALUE),
        case("the command and Parameters over the limit together", "InvokeCommand",
            invoke(&[("CommandId", near_limit), ("Parameters", &forty_one)]), 403, "CmdContent.ExceedLimit", M_CONTENT_INVOKE),
        // (8) a dry run, once every check passed.
        case("RunCommand DryRun", "RunCommand", run(&[("RepeatMode", "DryRun"), ("KeepCommand", "true")]), 400,
            "DryRunOperation", M_DRY_RUN),
        case("InvokeCommand DryRun", "InvokeCommand", invoke(&[("RepeatMode", "DryRun")]), 400, "DryRunOperation", M_DRY_RUN),
    ]
}

#[tokio::test]
async fn every_code_in_validation_order() {
    let (app, state) = demo();
    let plain = create(&app, &[]).await;
    let with_parameters = create(
        &app,
        &[
            ("EnableParameter", "true"),
            ("ContentEncoding", "PlainText"),
            ("CommandContent", "echo {{name}}"),
        ],
    )
    .await;
    // 18,400 bytes: 24,536 in Base64, 40 short of the limit.
    let near_limit_content = format!("{{{{a}}}}{}", "x".repeat(18_395));
    let near_limit = create(
        &app,
        &[
            ("EnableParameter", "true"),
            ("ContentEncoding", "PlainText"),
            ("CommandContent", &near_limit_content),
        ],
    )
    .await;
    // A Parameters text of exactly 40 bytes still fits.
    let forty = format!("{{\"a\":\"{}\"}}", "v".repeat(32));
    assert_eq!(forty.len(), 40);
    let reply = call(
        &app,
        "InvokeCommand",
        &[
            ("RegionId", REGION),
            ("CommandId", near_limit.as_str()),
            ("InstanceId.1", I1),
            ("Parameters", forty.as_str()),
        ],
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let before = counts(&state);

    let mut failures = Vec::new();
    for case in table(&plain, &with_parameters, &near_limit) {
        let reply = call(&app, case.action, &case.pairs).await;
        let got = (reply.status, reply.code(), reply.json()["Message"].clone());
        let want = (
            case.status,
            case.code.to_owned(),
            Value::from(case.message.clone()),
        );
        if got != want {
            failures.push(format!("{}: got {got:?}, want {want:?}", case.what));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(counts(&state), before, "a refused request creates nothing");
    assert_eq!(stored_command(&state, &plain).unwrap().invoke_times, 0);
}

#[tokio::test]
async fn errors_answer_in_xml_too() {
    let (app, _) = demo();
    let xml_query =
        query("RunCommand", &with(RUN, &[("Type", "Bash")])).replace("Format=JSON", "Format=XML");
    let reply = send(&app, &xml_query).await;
    assert_eq!(reply.status, 404);
    let document = roxmltree::Document::parse(&reply.body).unwrap();
    let code = document
        .descendants()
        .find(|n| n.has_tag_name("Code"))
        .and_then(|n| n.text());
    assert_eq!(code, Some("InvalidCmdType.NotFound"));
}

#[tokio::test]
async fn the_quota_of_retained_commands_is_500_per_account_and_region() {
    let (app, state) = demo();
    for _ in 0..499 {
        create(&app, &[]).await;
    }
    let kept = call(&app, "RunCommand", &with(RUN, &[("KeepCommand", "true")])).await;
    assert_eq!(kept.status, 200, "{}", kept.body);
    assert_eq!(counts(&state), (500, 1));

    let refused = call(&app, "CreateCommand", CREATE).await;
    assert_eq!(
        (
            refused.status,
            refused.code(),
            refused.json()["Message"].clone()
        ),
        (
            403,
            "CmdCount.ExceedQuota".to_owned(),
            json!("The total number of commands in the current region exceeds the quota.")
        )
    );
    // The quota (7) wins over DryRun (8); ClientToken reuse (6) wins over the quota.
    let dry = with(RUN, &[("KeepCommand", "true"), ("RepeatMode", "DryRun")]);
    assert_eq!(
        call(&app, "RunCommand", &dry).await.code(),
        "CmdCount.ExceedQuota"
    );
    let again = call(
        &app,
        "RunCommand",
        &with(RUN, &[("KeepCommand", "true"), ("ClientToken", "first")]),
    )
    .await;
    assert_eq!(again.code(), "CmdCount.ExceedQuota");
    // A run that keeps nothing, InvokeCommand, another region and another account still work.
    assert_eq!(call(&app, "RunCommand", RUN).await.status, 200);
    let reply = call(
        &app,
        "InvokeCommand",
        &[
            ("RegionId", REGION),
            ("CommandId", kept.json()["CommandId"].as_str().unwrap()),
            ("InstanceId.1", I1),
        ],
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let shanghai = with(CREATE, &[("RegionId", "cn-shanghai")]);
    assert_eq!(call(&app, "CreateCommand", &shanghai).await.status, 200);
    let other = with(CREATE, &[("AccessKeyId", OTHER_KEY)]);
    assert_eq!(call(&app, "CreateCommand", &other).await.status, 200);
    assert_eq!(counts(&state), (500, 3));
}

// ---- ClientToken ----

#[tokio::test]
async fn a_client_token_repeated_answers_the_first_ids_and_creates_nothing() {
    let (app, state) = demo();
    let first = with(
        RUN,
        &[
            ("ClientToken", "token-1"),
            ("KeepCommand", "true"),
            ("SignatureNonce", "n1"),
            ("Timestamp", "2030-01-01T00:00:00Z"),
        ],
    );
    let reply = call(&app, "RunCommand", &first).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let answer = reply.json();
    assert_eq!(counts(&state), (1, 1));

    // Signed anew, parameters in another order: the same answer, a new request id.
    let mut retry = with(
        RUN,
        &[
            ("ClientToken", "token-1"),
            ("KeepCommand", "true"),
            ("SignatureNonce", "n2"),
            ("Timestamp", "2030-01-01T00:00:05Z"),
        ],
    );
    retry.reverse();
    let reply = call(&app, "RunCommand", &retry).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(keys(&reply), ["RequestId", "CommandId", "InvokeId"]);
    let repeat = reply.json();
    assert_eq!(repeat["CommandId"], answer["CommandId"]);
    assert_eq!(repeat["InvokeId"], answer["InvokeId"]);
    assert_ne!(repeat["RequestId"], answer["RequestId"]);
    assert_eq!(counts(&state), (1, 1));
    let kept = answer["CommandId"].as_str().unwrap();
    assert_eq!(stored_command(&state, kept).unwrap().invoke_times, 1);

    // Other parameters: refused, nothing made.
    let changed = with(
        RUN,
        &[
            ("ClientToken", "token-1"),
            ("KeepCommand", "true"),
            ("CommandContent", "echo bye"),
        ],
    );
    let reply = call(&app, "RunCommand", &changed).await;
    assert_eq!(
        (reply.status, reply.code()),
        (403, "IdempotentParameterMismatch".into())
    );
    assert_eq!(
        reply.json()["Message"],
        "The specified parameter has changed while using an already used clientToken."
    );
    // Reuse (6) is checked before DryRun (8).
    let dry = with(
        RUN,
        &[
            ("ClientToken", "token-1"),
            ("KeepCommand", "true"),
            ("RepeatMode", "DryRun"),
        ],
    );
    assert_eq!(
        call(&app, "RunCommand", &dry).await.code(),
        "IdempotentParameterMismatch"
    );
    // ...and after the instances (5).
    let gone = with(
        RUN,
        &[
            ("ClientToken", "token-1"),
            ("KeepCommand", "true"),
            ("InstanceId.1", "i-nowhere"),
        ],
    );
    assert_eq!(
        call(&app, "RunCommand", &gone).await.code(),
        "InvalidInstance.NotFound"
    );
    assert_eq!(counts(&state), (1, 1));

    // The token is the caller's, for this action, in this region.
    let create_reply = call(
        &app,
        "CreateCommand",
        &with(CREATE, &[("ClientToken", "token-1")]),
    )
    .await;
    assert_eq!(create_reply.status, 200, "{}", create_reply.body);
    let other_account = with(
        RUN,
        &[
            ("ClientToken", "token-1"),
            ("InstanceId.1", OTHERS),
            ("AccessKeyId", OTHER_KEY),
        ],
    );
    assert_eq!(call(&app, "RunCommand", &other_account).await.status, 200);
    let other_region = with(
        RUN,
        &[
            ("ClientToken", "token-1"),
            ("RegionId", "cn-shanghai"),
            ("InstanceId.1", SHANGHAI),
        ],
    );
    assert_eq!(call(&app, "RunCommand", &other_region).await.status, 200);
    assert_eq!(counts(&state), (2, 1));

    // CreateCommand and InvokeCommand repeat the same way.
    let created = create_reply.json()["CommandId"].clone();
    let again = call(
        &app,
        "CreateCommand",
        &with(CREATE, &[("ClientToken", "token-1")]),
    )
    .await;
    assert_eq!(again.json()["CommandId"], created);
    let renamed = call(
        &app,
        "CreateCommand",
        &with(CREATE, &[("ClientToken", "token-1"), ("Name", "other")]),
    )
    .await;
    assert_eq!(renamed.code(), "IdempotentParameterMismatch");
    let invoke = [
        ("RegionId", REGION),
        ("CommandId", created.as_str().unwrap()),
        ("InstanceId.1", I1),
        ("ClientToken", "token-2"),
    ];
    let first = call(&app, "InvokeCommand", &invoke).await.json();
    let repeat = call(&app, "InvokeCommand", &invoke).await;
    assert_eq!(keys(&repeat), ["InvokeId", "RequestId"]);
    assert_eq!(repeat.json()["InvokeId"], first["InvokeId"]);
    let created = created.as_str().unwrap();
    assert_eq!(stored_command(&state, created).unwrap().invoke_times, 1);
    assert_eq!(counts(&state), (2, 2));
    let mut elsewhere = invoke.to_vec();
    elsewhere[2] = ("InstanceId.1", I2);
    assert_eq!(
        call(&app, "InvokeCommand", &elsewhere).await.code(),
        "IdempotentParameterMismatch"
    );
}

// ---- DryRun, KeepCommand ----

#[tokio::test]
async fn dry_runs_check_everything_and_create_nothing() {
    let (app, state) = demo();
    let id = create(&app, &[]).await;
    let before = state.read(|store| store.space(ACCOUNT, REGION).cloned().unwrap());

    let dry_run = with(
        RUN,
        &[
            ("RepeatMode", "DryRun"),
            ("KeepCommand", "true"),
            ("ClientToken", "dry"),
        ],
    );
    let reply = call(&app, "RunCommand", &dry_run).await;
    assert_eq!(
        (reply.status, reply.code()),
        (400, "DryRunOperation".into())
    );
    let dry_invoke = [
        ("RegionId", REGION),
        ("CommandId", id.as_str()),
        ("InstanceId.1", I1),
        ("RepeatMode", "DryRun"),
        ("ClientToken", "dry"),
    ];
    let reply = call(&app, "InvokeCommand", &dry_invoke).await;
    assert_eq!(
        (reply.status, reply.code()),
        (400, "DryRunOperation".into())
    );

    let after = state.read(|store| store.space(ACCOUNT, REGION).cloned().unwrap());
    assert_eq!(after.commands().len(), before.commands().len());
    assert_eq!(after.invocations().len(), 0);
    assert_eq!(stored_command(&state, &id).unwrap().invoke_times, 0);
    // No token was kept: the same token now makes a run.
    assert!(after.token("RunCommand", "dry").is_none());
    assert!(after.token("InvokeCommand", "dry").is_none());
    let run = with(RUN, &[("ClientToken", "dry")]);
    assert_eq!(call(&app, "RunCommand", &run).await.status, 200);
}

#[tokio::test]
async fn keep_command_true_retains_what_ran_once() {
    let (app, state) = demo();
    let reply = call(
        &app,
        "RunCommand",
        &with(
            RUN,
            &[
                ("KeepCommand", "TRUE"),
                ("Name", "kept"),
                ("Description", "a kept one"),
                ("ContentEncoding", "Base64"),
                ("CommandContent", ECHO_HI),
                ("Timeout", "90"),
                ("WorkingDir", "/srv"),
                ("Launcher", "sh"),
                ("ResourceGroupId", "rg-2"),
                ("Tag.1.Key", "a"),
                ("Tag.1.Value", "b"),
            ],
        ),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let body = reply.json();
    let command_id = body["CommandId"].as_str().unwrap();
    let command = stored_command(&state, command_id).expect("retained");
    assert_eq!(command.name, "kept");
    assert_eq!(command.description, "a kept one");
    assert_eq!(command.content, b"echo hi");
    assert_eq!(
        (command.timeout, command.working_dir.as_str()),
        (90, "/srv")
    );
    assert_eq!(command.launcher.as_deref(), Some("sh"));
    assert_eq!(command.resource_group_id.as_deref(), Some("rg-2"));
    assert_eq!(command.tags, [("a".to_owned(), "b".to_owned())]);
    assert_eq!(command.invoke_times, 1, "the run counts");
    let invocation = stored_invocation(&state, body["InvokeId"].as_str().unwrap());
    assert_eq!(invocation.command_id, command_id);
    assert_eq!(invocation.command_name, "kept");
    assert_eq!(invocation.tags, command.tags);

    let reply = call(
        &app,
        "InvokeCommand",
        &[
            ("RegionId", REGION),
            ("CommandId", command_id),
            ("InstanceId.1", I2),
        ],
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(stored_command(&state, command_id).unwrap().invoke_times, 2);
}

#[tokio::test]
async fn keep_command_false_keeps_no_command() {
    let (app, state) = demo();
    let reply = call(&app, "RunCommand", &with(RUN, &[("KeepCommand", "false")])).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let command_id = reply.json()["CommandId"].as_str().unwrap().to_owned();
    assert!(command_id.starts_with("c-"));
    assert_eq!(counts(&state), (0, 1));
    let reply = call(
        &app,
        "InvokeCommand",
        &[
            ("RegionId", REGION),
            ("CommandId", command_id.as_str()),
            ("InstanceId.1", I1),
        ],
    )
    .await;
    assert_eq!(
        (reply.status, reply.code()),
        (404, "InvalidCmdId.NotFound".into())
    );
}

// ---- custom parameters ----

#[tokio::test]
async fn custom_and_built_in_parameters_are_filled_per_instance() {
    let (app, state) = demo();
    let content = "echo {{ Name }} {{count}} {{flag}} {{ACS::InstanceId}} {{ACS::InstanceName}} {{ACS::RegionId}} {{ACS::AccountId}} {{ACS::InvokeId}} {{ACS::CommandId}} {{ unknown.name";
    let parameters = r#"{"name":"Jack","COUNT":3,"flag":false}"#;
    let reply = call(
        &app,
        "RunCommand",
        &with(
            RUN,
            &[
                ("InstanceId.2", I2),
                ("EnableParameter", "true"),
                ("CommandContent", content),
                ("Parameters", parameters),
            ],
        ),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let body = reply.json();
    let (command_id, invoke_id) = (
        body["CommandId"].as_str().unwrap(),
        body["InvokeId"].as_str().unwrap(),
    );
    let invocation = stored_invocation(&state, invoke_id);
    assert_eq!(invocation.content, content.as_bytes(), "kept as given");
    assert_eq!(invocation.parameters, parameters);
    for (run, instance) in invocation.instances.iter().zip([I1, I2]) {
        assert_eq!(
            String::from_utf8(run.content.clone()).unwrap(),
            format!("echo Jack 3 false {instance} {instance} {REGION} {ACCOUNT} {invoke_id} {command_id} {{{{ unknown.name")
        );
    }

    // With the feature off nothing is filled, built-ins included.
    let reply = call(
        &app,
        "RunCommand",
        &with(RUN, &[("CommandContent", "echo {{ACS::InstanceId}} {{x}}")]),
    )
    .await;
    let invocation = stored_invocation(&state, reply.json()["InvokeId"].as_str().unwrap());
    assert_eq!(
        invocation.instances[0].content,
        b"echo {{ACS::InstanceId}} {{x}}"
    );

    // InvokeCommand fills the kept command's parameters the same way.
    let id = create(
        &app,
        &[
            ("EnableParameter", "true"),
            ("ContentEncoding", "PlainText"),
            ("CommandContent", "cd {{dir}} && echo {{ACS::CommandId}}"),
        ],
    )
    .await;
    let reply = call(
        &app,
        "InvokeCommand",
        &[
            ("RegionId", REGION),
            ("CommandId", id.as_str()),
            ("InstanceId.1", I1),
            ("Parameters", r#"{"DIR":"/tmp"}"#),
        ],
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let invocation = stored_invocation(&state, reply.json()["InvokeId"].as_str().unwrap());
    assert_eq!(invocation.parameters, r#"{"DIR":"/tmp"}"#);
    assert_eq!(
        String::from_utf8(invocation.instances[0].content.clone()).unwrap(),
        format!("cd /tmp && echo {id}")
    );
}

#[tokio::test]
async fn base64_content_need_not_be_utf8() {
    let (app, state) = demo();
    // 0xFF 0xFE: not UTF-8, kept as bytes.
    let reply = call(
        &app,
        "RunCommand",
        &with(
            RUN,
            &[("ContentEncoding", "base64"), ("CommandContent", "//4=")],
        ),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let invocation = stored_invocation(&state, reply.json()["InvokeId"].as_str().unwrap());
    assert_eq!(invocation.content, [0xff, 0xfe]);
}

// ---- the lifecycle ----

#[tokio::test]
async fn a_run_installs_a_plugin_that_list_plugin_status_then_shows() {
    let (app, state) = demo();
    freeze(&app, "2030-01-01T00:00:00Z").await;
    let list = query(
        "ListPluginStatus",
        &[
            ("RegionId", REGION),
            ("InstanceId.1", I1),
            ("Name", "ecs-nvme-tool"),
        ],
    );
    let status = |reply: &Reply| {
        reply.json()["InstancePluginStatusSet"]["InstancePluginStatus"][0]["PluginStatusSet"]
            ["PluginStatus"][0]
            .clone()
    };
    assert_eq!(
        status(&send(&app, &list).await)["PluginStatus"],
        "NotInstalled"
    );

    let reply = call(
        &app,
        "RunCommand",
        &with(
            RUN,
            &[(
                "CommandContent",
                "acs-plugin-manager --exec --plugin ecs-nvme-tool --params --install",
            )],
        ),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let invoke_id = reply.json()["InvokeId"].as_str().unwrap().to_owned();

    // A frozen clock freezes the run.
    assert_eq!(
        status(&send(&app, &list).await)["PluginStatus"],
        "NotInstalled"
    );
    assert_eq!(
        stored_invocation(&state, &invoke_id).instances[0].status,
        RunStatus::Pending
    );

    freeze(&app, "2030-01-01T00:00:01Z").await;
    assert_eq!(
        status(&send(&app, &list).await)["PluginStatus"],
        "NotInstalled"
    );
    assert_eq!(
        stored_invocation(&state, &invoke_id).instances[0].status,
        RunStatus::Running
    );

    freeze(&app, "2030-01-01T00:00:02Z").await;
    let shown = status(&send(&app, &list).await);
    assert_eq!(shown["PluginStatus"], "Running", "{shown}");
    assert_eq!(shown["PluginName"], "ecs-nvme-tool");
    assert_eq!(shown["FirstHeartbeatTime"], "2030-01-01T00:00:02Z");
    assert_eq!(shown["LastHeartbeatTime"], "2030-01-01T00:00:02Z");
    let run = stored_invocation(&state, &invoke_id).instances[0].clone();
    assert_eq!(run.status, RunStatus::Success);
    assert_eq!(run.exit_code, 0);
    assert_eq!(
        run.finish_time,
        Some("2030-01-01T00:00:02Z".parse().unwrap())
    );
}
