//! DescribeCommands, DeleteCommand, DescribeInvocations, DescribeInvocationResults and
//! StopInvocation (SPEC 9.2 to 9.4, Appendices C and D) through the in-process app.
//!
//! Commands and invocations are put in place as engine changes through the app's own state (the
//! operations that create them are tested elsewhere), on a frozen clock: runs move on only when
//! a test moves the clock, or are made in the state a test needs.

mod common;

use axum::Router;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use ecs_emulator::engine::commands::{
    Command, CommandType, Invocation, InvocationInstance, RunStatus,
};
use ecs_emulator::engine::Change;
use ecs_emulator::state::{SequentialRequestIds, WriteFailed};
use ecs_emulator::{app, fixture, AppState};
use serde_json::{json, Value};

use common::{admin, enc, send, send_request, Reply};

const ACCOUNT: &str = "1234567890123456";
const OTHER_ACCOUNT: &str = "2345678901234567";
const OTHER_KEY: &str = "LTAI5tOtherKey0001";
const REGION: &str = "cn-hangzhou";
const T0: &str = "2026-01-01T00:00:00Z";

/// Linux instances `i-a` (plug-in `foo` installed) and `i-b`, `i-off` whose agent is offline,
/// `i-win` on Windows, `i-bj` in another region, and the other account's `i-a`.
const FIXTURE: &str = r#"{
  "accounts": [
    {"accountId": "1234567890123456", "default": true,
     "accessKeys": [{"id": "LTAI5tDemoKey0001", "secret": "demo-secret", "enabled": true}]},
    {"accountId": "2345678901234567",
     "accessKeys": [{"id": "LTAI5tOtherKey0001", "secret": "other-secret", "enabled": true}]}
  ],
  "catalog": [{"name": "foo", "type": "Persist"}],
  "instances": [
    {"instanceId": "i-a", "regionId": "cn-hangzhou",
     "plugins": [{"name": "foo", "version": "1.0", "status": "Running"}]},
    {"instanceId": "i-b", "regionId": "cn-hangzhou"},
    {"instanceId": "i-off", "regionId": "cn-hangzhou", "cloudAssistant": {"online": false}},
    {"instanceId": "i-win", "regionId": "cn-hangzhou", "osType": "Windows"},
    {"instanceId": "i-bj", "regionId": "cn-beijing"},
    {"instanceId": "i-a", "regionId": "cn-hangzhou", "accountId": "2345678901234567"}
  ]
}"#;

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// `T0` plus `seconds`.
fn at(seconds: i64) -> DateTime<Utc> {
    T0.parse::<DateTime<Utc>>().unwrap() + Duration::seconds(seconds)
}

fn wire_time(seconds: i64) -> String {
    at(seconds).format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn b64(text: &str) -> String {
    STANDARD.encode(text)
}

/// The app and the state behind it, the clock frozen at `T0`.
struct Emulator {
    app: Router,
    state: AppState,
}

async fn emulator() -> Emulator {
    let store = fixture::load_str("test fixture", FIXTURE).expect("the fixture is valid");
    let state = AppState::with_request_ids(store, SequentialRequestIds::default());
    let emulator = Emulator {
        app: app(state.clone()),
        state,
    };
    emulator.clock(0).await;
    emulator
}

impl Emulator {
    /// Freezes the clock at `T0 + seconds`.
    async fn clock(&self, seconds: i64) {
        let body = json!({"now": wire_time(seconds), "frozen": true});
        let reply = send_request(&self.app, admin("PUT", "/clock", Some(body))).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
    }

    /// Applies changes as one write.
    async fn apply(&self, changes: Vec<Change>) {
        self.state
            .write(|draft| {
                for change in changes {
                    draft.apply(change).map_err(WriteFailed::from)?;
                }
                Ok::<_, WriteFailed>(())
            })
            .await
            .expect("the test's changes are valid");
    }

    async fn create(&self, command: Command) {
        self.create_in(ACCOUNT, REGION, command).await;
    }

    async fn create_in(&self, account: &str, region: &str, command: Command) {
        let change = Change::CreateCommand {
            account: account.into(),
            region: region.into(),
            command,
        };
        self.apply(vec![change]).await;
    }

    async fn invoke(&self, invocation: Invocation) {
        self.invoke_in(ACCOUNT, REGION, invocation).await;
    }

    async fn invoke_in(&self, account: &str, region: &str, invocation: Invocation) {
        let change = Change::Invoke {
            account: account.into(),
            region: region.into(),
            invocation,
        };
        self.apply(vec![change]).await;
    }

    /// An API call in JSON from the default account: `query` follows the common parameters.
    async fn raw(&self, action: &str, query: &str) -> Reply {
        send(
            &self.app,
            &format!("Action={action}&Version=2014-05-26&Format=JSON&{query}"),
        )
        .await
    }

    /// The same in `cn-hangzhou`.
    async fn call(&self, action: &str, query: &str) -> Reply {
        self.raw(action, &format!("RegionId={REGION}&{query}"))
            .await
    }

    /// The same in XML.
    async fn call_xml(&self, action: &str, query: &str) -> Reply {
        let query =
            format!("Action={action}&Version=2014-05-26&Format=XML&RegionId={REGION}&{query}");
        send(&self.app, &query).await
    }

    /// A call that must succeed, as JSON.
    async fn ok(&self, action: &str, query: &str) -> Value {
        let reply = self.call(action, query).await;
        assert_eq!(reply.status, 200, "{action}?{query}: {}", reply.body);
        reply.json()
    }
}

/// A command with `id`, named `name`, running `content`, created at `T0`.
fn command(id: &str, name: &str, content: &str) -> Command {
    Command {
        id: id.into(),
        name: name.into(),
        description: String::new(),
        command_type: CommandType::RunShellScript,
        content: content.as_bytes().to_vec(),
        working_dir: String::new(),
        timeout: 60,
        enable_parameter: false,
        parameter_names: vec![],
        launcher: None,
        resource_group_id: None,
        tags: vec![],
        creation_time: at(0),
        invoke_times: 0,
    }
}

/// A run on `instance` made at `T0`, in `status` with what that status has.
fn run(instance: &str, status: RunStatus) -> InvocationInstance {
    let mut run = InvocationInstance {
        instance_id: instance.into(),
        status,
        content: b"echo hi".to_vec(),
        exit_code: 0,
        output: vec![],
        dropped: 0,
        error_code: String::new(),
        error_info: String::new(),
        creation_time: at(0),
        start_time: None,
        finish_time: None,
        stop_time: None,
        update_time: at(0),
        repeats: 0,
        next_check: at(1),
        rule: None,
    };
    let mut fail = |code: &str, info: &str| {
        run.error_code = code.into();
        run.error_info = info.into();
    };
    match status {
        RunStatus::Pending => {}
        RunStatus::Invalid => fail("CommandNotApplicable", "the command is not applicable"),
        RunStatus::Aborted => fail(
            "ClientNotRunning",
            "the aliyun service is not running on the instance",
        ),
        RunStatus::Failed => fail(
            "ExitCodeNonzero",
            "the command execution exit code is not zero.",
        ),
        RunStatus::Timeout => fail("ExecutionTimeout", "the command execution has been timeout"),
        RunStatus::Running | RunStatus::Success | RunStatus::Cancelled => {}
    }
    match status {
        RunStatus::Running => {
            run.start_time = Some(at(0));
            run.repeats = 1;
        }
        RunStatus::Success | RunStatus::Failed | RunStatus::Timeout => {
            run.start_time = Some(at(0));
            run.finish_time = Some(at(0));
            run.repeats = 1;
            run.exit_code = i64::from(status != RunStatus::Success);
            if status != RunStatus::Timeout {
                run.output = format!("{instance} says {}\n", status.as_str()).into_bytes();
            }
        }
        RunStatus::Cancelled => run.stop_time = Some(at(0)),
        _ => {}
    }
    run
}

/// An invocation `id` of `command_id` made at `T0` with these runs.
fn invocation(id: &str, command_id: &str, runs: Vec<InvocationInstance>) -> Invocation {
    Invocation {
        id: id.into(),
        command_id: command_id.into(),
        command_name: String::new(),
        command_description: String::new(),
        command_type: CommandType::RunShellScript,
        content: b"echo hi".to_vec(),
        parameters: "{}".into(),
        timeout: 60,
        working_dir: String::new(),
        username: "root".into(),
        repeat_mode: "Once".into(),
        creation_time: at(0),
        launcher: None,
        container_id: None,
        container_name: None,
        termination_mode: None,
        oss_output_delivery: None,
        tags: vec![],
        instances: runs,
    }
}

/// Pending runs on `instances`, made at `T0`, of `content`.
fn pending(id: &str, command_id: &str, content: &str, instances: &[&str]) -> Invocation {
    let runs = instances
        .iter()
        .map(|instance| InvocationInstance {
            content: content.as_bytes().to_vec(),
            ..run(instance, RunStatus::Pending)
        })
        .collect();
    Invocation {
        content: content.as_bytes().to_vec(),
        ..invocation(id, command_id, runs)
    }
}

fn tagged(mut command: Command, tags: &[(&str, &str)]) -> Command {
    command.tags = tags
        .iter()
        .map(|(k, v)| ((*k).into(), (*v).into()))
        .collect();
    command
}

/// The request id a reply carries, to put in an expected body.
fn request_id(reply: &Reply) -> String {
    reply.header("x-acs-request-id").unwrap().to_owned()
}

/// The values of `field` in the items of a list answer (`list` a JSON pointer).
fn column(body: &Value, list: &str, field: &str) -> Vec<String> {
    body.pointer(list)
        .unwrap_or_else(|| panic!("no {list} in {body}"))
        .as_array()
        .unwrap()
        .iter()
        .map(|item| match &item[field] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .collect()
}

fn command_ids(body: &Value) -> Vec<String> {
    column(body, "/Commands/Command", "CommandId")
}

fn invoke_ids(body: &Value) -> Vec<String> {
    column(body, "/Invocations/Invocation", "InvokeId")
}

/// `InvokeId/InstanceId` of each result.
fn result_ids(body: &Value) -> Vec<String> {
    let list = body["Invocation"]["InvocationResults"]["InvocationResult"]
        .as_array()
        .unwrap_or_else(|| panic!("no results in {body}"));
    list.iter()
        .map(|r| {
            format!(
                "{}/{}",
                r["InvokeId"].as_str().unwrap(),
                r["InstanceId"].as_str().unwrap()
            )
        })
        .collect()
}

/// Asserts an error reply: status, code and message.
#[track_caller]
fn assert_error(reply: &Reply, status: u16, code: &str, message: &str, context: &str) {
    assert_eq!(
        (reply.status, reply.code().as_str()),
        (status, code),
        "{context}: {}",
        reply.body
    );
    assert_eq!(reply.json()["Message"], message, "{context}");
}

// ---------------------------------------------------------------------------------------------
// Happy paths: each answer exactly, keys in Appendix D's order
// ---------------------------------------------------------------------------------------------

/// A command with every optional field set, invoked once.
async fn full_command(emu: &Emulator) {
    let mut full = tagged(
        command("c-full0000000001", "deploy", "echo {{name}}"),
        &[("env", "prod"), ("team", "")],
    );
    full.description = "ship it".into();
    full.working_dir = "/srv".into();
    full.timeout = 120;
    full.enable_parameter = true;
    full.parameter_names = vec!["name".into()];
    full.resource_group_id = Some("rg-1".into());
    full.launcher = Some("bash -l".into());
    emu.create(full).await;
    emu.invoke(pending(
        "t-full0000000001",
        "c-full0000000001",
        "echo x",
        &["i-a"],
    ))
    .await;
}

#[tokio::test]
async fn describe_commands_answers_every_field_in_order() {
    let emu = emulator().await;
    emu.create(command("c-bare0000000001", "", "ls")).await;
    full_command(&emu).await;
    let reply = emu.call("DescribeCommands", "").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let expected = format!(
        concat!(
            r#"{{"PageSize":10,"RequestId":"{}","PageNumber":1,"TotalCount":2,"Commands":{{"Command":["#,
            r#"{{"Description":"ship it","Category":"","ResourceGroupId":"rg-1","#,
            r#""ParameterNames":{{"ParameterName":["name"]}},"Timeout":120,"Provider":"","#,
            r#""Name":"deploy","WorkingDir":"/srv","CommandContent":"{}","Type":"RunShellScript","#,
            r#""InvokeTimes":1,"CreationTime":"2026-01-01T00:00:00Z","Launcher":"bash -l","#,
            r#""EnableParameter":true,"CommandId":"c-full0000000001","Tags":{{"Tag":["#,
            r#"{{"TagKey":"env","TagValue":"prod"}},{{"TagKey":"team","TagValue":""}}]}}}},"#,
            r#"{{"Description":"","Category":"","ParameterNames":{{"ParameterName":[]}},"#,
            r#""Timeout":60,"Provider":"","Name":"","WorkingDir":"","CommandContent":"bHM=","#,
            r#""Type":"RunShellScript","InvokeTimes":0,"CreationTime":"2026-01-01T00:00:00Z","#,
            r#""EnableParameter":false,"CommandId":"c-bare0000000001","Tags":{{"Tag":[]}}}}"#,
            r#"]}}}}"#
        ),
        request_id(&reply),
        b64("echo {{name}}")
    );
    assert_eq!(reply.body, expected);
}

#[tokio::test]
async fn describe_commands_in_xml() {
    let emu = emulator().await;
    full_command(&emu).await;
    let reply = emu
        .call_xml("DescribeCommands", "ContentEncoding=PlainText&MaxResults=5")
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.header("content-type"), Some("text/xml;charset=utf-8"));
    let expected = format!(
        concat!(
            r#"<?xml version="1.0" encoding="UTF-8"?><DescribeCommandsResponse>"#,
            "<RequestId>{}</RequestId><TotalCount>1</TotalCount><Commands><Command>",
            "<Description>ship it</Description><Category/><ResourceGroupId>rg-1</ResourceGroupId>",
            "<ParameterNames><ParameterName>name</ParameterName></ParameterNames>",
            "<Timeout>120</Timeout><Provider/><Name>deploy</Name><WorkingDir>/srv</WorkingDir>",
            "<CommandContent>echo {{{{name}}}}</CommandContent><Type>RunShellScript</Type>",
            "<InvokeTimes>1</InvokeTimes><CreationTime>2026-01-01T00:00:00Z</CreationTime>",
            "<Launcher>bash -l</Launcher><EnableParameter>true</EnableParameter>",
            "<CommandId>c-full0000000001</CommandId><Tags>",
            "<Tag><TagKey>env</TagKey><TagValue>prod</TagValue></Tag>",
            "<Tag><TagKey>team</TagKey><TagValue/></Tag>",
            "</Tags></Command></Commands></DescribeCommandsResponse>"
        ),
        request_id(&reply)
    );
    assert_eq!(reply.body, expected);
}

/// `acs-plugin-manager --remove --plugin foo` on `i-a` (which has it) and `i-b` (which does
/// not), run by the lifecycle: delivered at T0+1, ended at T0+2.
async fn mixed_run(emu: &Emulator) {
    emu.create(command("c-mixed000000001", "remove-foo", "x"))
        .await;
    let content = "acs-plugin-manager --remove --plugin foo";
    emu.invoke(pending(
        "t-mixed000000001",
        "c-mixed000000001",
        content,
        &["i-a", "i-b"],
    ))
    .await;
    emu.clock(2).await;
}

const REMOVED: &str = "RemovePlugin success, plugin[foo]\n";
const NOT_REMOVED: &str = "RemovePlugin PACKAGE_NOT_FOUND: plugin not exist foo\n\
                           RemovePlugin error, plugin[foo], err: Plugin foo not found in installed_plugins\n";

#[tokio::test]
async fn describe_invocations_answers_every_field_in_order() {
    let emu = emulator().await;
    mixed_run(&emu).await;
    let reply = emu
        .call(
            "DescribeInvocations",
            "InvokeId=t-mixed000000001&IncludeOutput=true",
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let instance = |id: &str, status: &str, exit: i64, info: &str, output: &str, code: &str| {
        format!(
            concat!(
                r#"{{"Dropped":0,"InvocationStatus":"{}","InstanceId":"{}","Timed":false,"#,
                r#""InstanceInvokeStatus":"Finished","ExitCode":{},"ErrorInfo":"{}","#,
                r#""StartTime":"2026-01-01T00:00:01Z","Repeats":1,"#,
                r#""FinishTime":"2026-01-01T00:00:02Z","Output":"{}","#,
                r#""CreationTime":"2026-01-01T00:00:00Z","UpdateTime":"2026-01-01T00:00:02Z","#,
                r#""ErrorCode":"{}","StopTime":""}}"#
            ),
            status,
            id,
            exit,
            info,
            b64(output),
            code
        )
    };
    let expected = format!(
        concat!(
            r#"{{"PageSize":10,"RequestId":"{}","PageNumber":1,"TotalCount":1,"#,
            r#""Invocations":{{"Invocation":[{{"InvocationStatus":"PartialFailed","#,
            r#""Parameters":"{{}}","Timed":false,"CommandDescription":"","Timeout":60,"#,
            r#""InvokeInstances":{{"InvokeInstance":[{},{}]}},"CommandContent":"{}","#,
            r#""WorkingDir":"","RepeatMode":"Once","InvokeStatus":"Finished","#,
            r#""CommandType":"RunShellScript","Username":"root","#,
            r#""CreationTime":"2026-01-01T00:00:00Z","Frequency":"","#,
            r#""CommandId":"c-mixed000000001","CommandName":"","InvokeId":"t-mixed000000001","#,
            r#""Tags":{{"Tag":[]}}}}]}}}}"#
        ),
        request_id(&reply),
        instance("i-a", "Success", 0, "", REMOVED, ""),
        instance(
            "i-b",
            "Failed",
            234,
            "the command execution exit code is not zero.",
            NOT_REMOVED,
            "ExitCodeNonzero"
        ),
        b64("acs-plugin-manager --remove --plugin foo")
    );
    assert_eq!(reply.body, expected);
}

/// An invocation with every optional field set, one run cancelled.
fn full_invocation() -> Invocation {
    let mut full = invocation(
        "t-full0000000001",
        "c-gone0000000001",
        vec![run("i-a", RunStatus::Cancelled)],
    );
    full.command_name = "n".into();
    full.command_description = "d".into();
    full.parameters = r#"{"name":"x"}"#.into();
    full.oss_output_delivery = Some("oss://bucket/prefix".into());
    full.container_id = Some("ctr-1".into());
    full.container_name = Some("web".into());
    full.launcher = Some("bash".into());
    full.termination_mode = Some("ProcessTree".into());
    full.tags = vec![("env".into(), "prod".into())];
    full
}

#[tokio::test]
async fn describe_invocations_in_xml_with_every_optional_field() {
    let emu = emulator().await;
    emu.invoke(full_invocation()).await;
    let reply = emu
        .call_xml("DescribeInvocations", "ContentEncoding=plaintext")
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let expected = format!(
        concat!(
            r#"<?xml version="1.0" encoding="UTF-8"?><DescribeInvocationsResponse>"#,
            "<PageSize>10</PageSize><RequestId>{}</RequestId><PageNumber>1</PageNumber>",
            "<TotalCount>1</TotalCount><Invocations><Invocation>",
            "<OssOutputDelivery>oss://bucket/prefix</OssOutputDelivery>",
            "<InvocationStatus>Stopped</InvocationStatus>",
            r#"<Parameters>{{"name":"x"}}</Parameters><Timed>false</Timed>"#,
            "<CommandDescription>d</CommandDescription><Timeout>60</Timeout>",
            "<InvokeInstances><InvokeInstance><Dropped>0</Dropped>",
            "<InvocationStatus>Cancelled</InvocationStatus><InstanceId>i-a</InstanceId>",
            "<Timed>false</Timed><InstanceInvokeStatus>Stopped</InstanceInvokeStatus>",
            "<ExitCode>0</ExitCode><ErrorInfo/><StartTime/><Repeats>0</Repeats><FinishTime/>",
            "<Output/><CreationTime>2026-01-01T00:00:00Z</CreationTime>",
            "<UpdateTime>2026-01-01T00:00:00Z</UpdateTime><ErrorCode/>",
            "<StopTime>2026-01-01T00:00:00Z</StopTime></InvokeInstance></InvokeInstances>",
            "<CommandContent>echo hi</CommandContent><WorkingDir/><RepeatMode>Once</RepeatMode>",
            "<InvokeStatus>Stopped</InvokeStatus><CommandType>RunShellScript</CommandType>",
            "<Username>root</Username><ContainerId>ctr-1</ContainerId>",
            "<ContainerName>web</ContainerName><CreationTime>2026-01-01T00:00:00Z</CreationTime>",
            "<Frequency/><Launcher>bash</Launcher><CommandId>c-gone0000000001</CommandId>",
            "<CommandName>n</CommandName><InvokeId>t-full0000000001</InvokeId>",
            "<TerminationMode>ProcessTree</TerminationMode>",
            "<Tags><Tag><TagKey>env</TagKey><TagValue>prod</TagValue></Tag></Tags>",
            "</Invocation></Invocations></DescribeInvocationsResponse>"
        ),
        request_id(&reply)
    );
    assert_eq!(reply.body, expected);
}

#[tokio::test]
async fn describe_invocation_results_answers_every_field_in_order() {
    let emu = emulator().await;
    mixed_run(&emu).await;
    let reply = emu
        .call(
            "DescribeInvocationResults",
            "InvokeId=t-mixed000000001&MaxResults=1",
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let body = reply.json();
    let token = body["Invocation"]["NextToken"]
        .as_str()
        .expect("a second run follows");
    let expected = format!(
        concat!(
            r#"{{"RequestId":"{}","Invocation":{{"TotalCount":2,"NextToken":"{}","#,
            r#""InvocationResults":{{"InvocationResult":[{{"Dropped":0,"#,
            r#""InvocationStatus":"Success","InstanceId":"i-a","ExitCode":0,"ErrorInfo":"","#,
            r#""StartTime":"2026-01-01T00:00:01Z","Repeats":1,"InvokeRecordStatus":"Finished","#,
            r#""FinishedTime":"2026-01-01T00:00:02Z","Username":"root","Output":"{}","#,
            r#""CommandId":"c-mixed000000001","ErrorCode":"","InvokeId":"t-mixed000000001","#,
            r#""Tags":{{"Tag":[]}},"StopTime":""}}]}}}}}}"#
        ),
        request_id(&reply),
        token,
        b64(REMOVED)
    );
    assert_eq!(reply.body, expected);
}

#[tokio::test]
async fn describe_invocation_results_in_xml_with_every_optional_field() {
    let emu = emulator().await;
    emu.invoke(full_invocation()).await;
    let reply = emu.call_xml("DescribeInvocationResults", "").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let expected = format!(
        concat!(
            r#"<?xml version="1.0" encoding="UTF-8"?><DescribeInvocationResultsResponse>"#,
            "<RequestId>{}</RequestId><Invocation><PageSize>10</PageSize>",
            "<PageNumber>1</PageNumber><TotalCount>1</TotalCount><InvocationResults>",
            "<InvocationResult><Dropped>0</Dropped><InvocationStatus>Cancelled</InvocationStatus>",
            "<InstanceId>i-a</InstanceId><ExitCode>0</ExitCode><ErrorInfo/><StartTime/>",
            "<Repeats>0</Repeats><InvokeRecordStatus>Stopped</InvokeRecordStatus>",
            "<FinishedTime/><Username>root</Username><ContainerId>ctr-1</ContainerId>",
            "<ContainerName>web</ContainerName><Output/><Launcher>bash</Launcher>",
            "<CommandId>c-gone0000000001</CommandId><ErrorCode/>",
            "<InvokeId>t-full0000000001</InvokeId><TerminationMode>ProcessTree</TerminationMode>",
            "<Tags><Tag><TagKey>env</TagKey><TagValue>prod</TagValue></Tag></Tags>",
            "<StopTime>2026-01-01T00:00:00Z</StopTime></InvocationResult></InvocationResults>",
            "</Invocation></DescribeInvocationResultsResponse>"
        ),
        request_id(&reply)
    );
    assert_eq!(reply.body, expected);
}

#[tokio::test]
async fn delete_command_forgets_it_and_invocations_keep_their_content() {
    let emu = emulator().await;
    mixed_run(&emu).await;
    emu.create(command("c-kept000000001", "kept", "ls")).await;
    let reply = emu
        .call("DeleteCommand", "CommandId=c-mixed000000001")
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        reply.body,
        format!(r#"{{"RequestId":"{}"}}"#, request_id(&reply))
    );
    let listed = emu.ok("DescribeCommands", "").await;
    assert_eq!(command_ids(&listed), ["c-kept000000001"]);
    assert_eq!(listed["TotalCount"], 1);
    let by_id = emu
        .ok("DescribeCommands", "CommandId=c-mixed000000001")
        .await;
    assert_eq!(by_id["TotalCount"], 0);
    let invocations = emu
        .ok(
            "DescribeInvocations",
            "CommandId=c-mixed000000001&ContentEncoding=PlainText",
        )
        .await;
    assert_eq!(
        column(&invocations, "/Invocations/Invocation", "CommandContent"),
        ["acs-plugin-manager --remove --plugin foo"]
    );
    let again = emu
        .call("DeleteCommand", "CommandId=c-mixed000000001")
        .await;
    assert_error(
        &again,
        404,
        "InvalidCmdId.NotFound",
        "The specified command ID does not exist.",
        "deleted twice",
    );
    let xml = emu
        .call_xml("DeleteCommand", "CommandId=c-kept000000001")
        .await;
    assert_eq!(
        xml.body,
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><DeleteCommandResponse><RequestId>{}</RequestId></DeleteCommandResponse>"#,
            request_id(&xml)
        )
    );
}

#[tokio::test]
async fn stop_invocation_cancels_pending_runs_and_leaves_running_ones() {
    let emu = emulator().await;
    // i-a and i-b are delivered at T0+1; i-off waits for its agent.
    emu.invoke(pending(
        "t-stop0000000001",
        "c-x",
        "echo hi",
        &["i-a", "i-off"],
    ))
    .await;
    emu.clock(1).await;
    let reply = emu
        .call("StopInvocation", "InvokeId=t-stop0000000001")
        .await;
    assert_eq!(
        (reply.status, reply.body.clone()),
        (200, format!(r#"{{"RequestId":"{}"}}"#, request_id(&reply)))
    );
    let results = emu
        .ok("DescribeInvocationResults", "InvokeId=t-stop0000000001")
        .await;
    let list = "/Invocation/InvocationResults/InvocationResult";
    assert_eq!(
        column(&results, list, "InvocationStatus"),
        ["Running", "Cancelled"]
    );
    assert_eq!(
        column(&results, list, "InvokeRecordStatus"),
        ["Running", "Stopped"]
    );
    assert_eq!(column(&results, list, "StopTime"), ["", &wire_time(1)]);
    assert_eq!(column(&results, list, "StartTime"), [&wire_time(1), ""]);
    let invocations = emu
        .ok("DescribeInvocations", "InvokeId=t-stop0000000001")
        .await;
    let list = "/Invocations/Invocation";
    assert_eq!(column(&invocations, list, "InvocationStatus"), ["Running"]);

    // The running run goes on and ends; stopping a finished invocation changes nothing.
    emu.clock(5).await;
    let again = emu
        .call("StopInvocation", "InvokeId=t-stop0000000001")
        .await;
    assert_eq!(again.status, 200, "{}", again.body);
    let results = emu
        .ok("DescribeInvocationResults", "InvokeId=t-stop0000000001")
        .await;
    let list = "/Invocation/InvocationResults/InvocationResult";
    assert_eq!(
        column(&results, list, "InvocationStatus"),
        ["Success", "Cancelled"]
    );
    assert_eq!(column(&results, list, "StopTime"), ["", &wire_time(1)]);
    let invocations = emu
        .ok("DescribeInvocations", "InvokeId=t-stop0000000001")
        .await;
    let list = "/Invocations/Invocation";
    assert_eq!(column(&invocations, list, "InvocationStatus"), ["Success"]);
    assert_eq!(column(&invocations, list, "InvokeStatus"), ["Finished"]);
}

#[tokio::test]
async fn stop_invocation_stops_the_instances_named_only() {
    let emu = emulator().await;
    emu.invoke(pending(
        "t-some0000000001",
        "c-x",
        "echo hi",
        &["i-a", "i-b", "i-off"],
    ))
    .await;
    let reply = emu
        .call_xml(
            "StopInvocation",
            "InvokeId=t-some0000000001&InstanceId.1=i-off&InstanceId.2=i-a&InstanceId.3=i-off",
        )
        .await;
    assert_eq!(
        reply.body,
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><StopInvocationResponse><RequestId>{}</RequestId></StopInvocationResponse>"#,
            request_id(&reply)
        )
    );
    emu.clock(2).await;
    let results = emu
        .ok("DescribeInvocationResults", "InvokeId=t-some0000000001")
        .await;
    let list = "/Invocation/InvocationResults/InvocationResult";
    assert_eq!(
        column(&results, list, "InvocationStatus"),
        ["Cancelled", "Success", "Cancelled"]
    );
    assert_eq!(
        column(&results, list, "StopTime"),
        [wire_time(0), String::new(), wire_time(0)]
    );
}

// ---------------------------------------------------------------------------------------------
// Paging (SPEC 9.3)
// ---------------------------------------------------------------------------------------------

/// Follows NextTokens from a first token-mode page of `query`: the ids of each page. Asserts
/// the token-mode fields: no PageSize or PageNumber, the total on every page, a NextToken on
/// every page but the last.
async fn walk(
    emu: &Emulator,
    action: &str,
    query: &str,
    ids: fn(&Value) -> Vec<String>,
    between_pages: &mut (dyn FnMut(usize) -> Vec<Change> + Send),
) -> Vec<Vec<String>> {
    let mut pages = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page_query = match &token {
            Some(token) => format!("{query}&NextToken={}", enc(token)),
            None => query.to_owned(),
        };
        let body = emu.ok(action, &page_query).await;
        let fields = if action == "DescribeInvocationResults" {
            &body["Invocation"]
        } else {
            &body
        };
        assert!(fields.get("PageSize").is_none() && fields.get("PageNumber").is_none());
        assert!(fields["TotalCount"].is_u64(), "{body}");
        pages.push(ids(&body));
        token = fields["NextToken"].as_str().map(str::to_owned);
        if token.is_none() {
            return pages;
        }
        let changes = between_pages(pages.len());
        if !changes.is_empty() {
            emu.apply(changes).await;
        }
        assert!(pages.len() < 50, "the walk does not end");
    }
}

fn no_changes(_: usize) -> Vec<Change> {
    Vec::new()
}

fn ids(prefix: &str, numbers: &[u32]) -> Vec<String> {
    numbers.iter().map(|n| format!("{prefix}{n}")).collect()
}

#[tokio::test]
async fn describe_commands_pages_newest_first_in_both_modes() {
    let emu = emulator().await;
    for n in 1..=7 {
        emu.create(command(&format!("c-page{n}"), "p", "ls")).await;
    }
    let page = |number: u32| format!("PageSize=3&PageNumber={number}");
    let first = emu.ok("DescribeCommands", &page(1)).await;
    assert_eq!(command_ids(&first), ids("c-page", &[7, 6, 5]));
    assert_eq!(
        (
            &first["PageSize"],
            &first["PageNumber"],
            &first["TotalCount"]
        ),
        (&json!(3), &json!(1), &json!(7))
    );
    let token = first["NextToken"]
        .as_str()
        .expect("pages follow")
        .to_owned();
    let third = emu.ok("DescribeCommands", &page(3)).await;
    assert_eq!(command_ids(&third), ["c-page1"]);
    assert!(third.get("NextToken").is_none(), "{third}");
    for past in ["PageSize=3&PageNumber=4", "PageNumber=9223372036854775807"] {
        let empty = emu.ok("DescribeCommands", past).await;
        assert_eq!(
            (command_ids(&empty).len(), &empty["TotalCount"]),
            (0, &json!(7))
        );
        assert!(empty.get("NextToken").is_none());
    }
    // A page-mode NextToken continues in token mode.
    let next = emu
        .ok(
            "DescribeCommands",
            &format!("MaxResults=3&NextToken={}", enc(&token)),
        )
        .await;
    assert_eq!(command_ids(&next), ids("c-page", &[4, 3, 2]));

    // Token mode ignores PageNumber and PageSize, even invalid ones.
    let pages = walk(
        &emu,
        "DescribeCommands",
        "MaxResults=3&PageNumber=0&PageSize=x",
        command_ids,
        &mut no_changes,
    )
    .await;
    assert_eq!(
        pages,
        [
            ids("c-page", &[7, 6, 5]),
            ids("c-page", &[4, 3, 2]),
            ids("c-page", &[1])
        ]
    );
    let default_size = emu.ok("DescribeCommands", "NextToken=").await;
    assert_eq!(command_ids(&default_size).len(), 7);
}

#[tokio::test]
async fn a_walk_returns_what_stays_exactly_once_whatever_changes() {
    let emu = emulator().await;
    for n in 1..=7 {
        emu.create(command(&format!("c-page{n}"), "p", "ls")).await;
    }
    let mut between = |page: usize| {
        if page != 1 {
            return Vec::new();
        }
        vec![
            // One not yet returned leaves, one already returned leaves, a newer one comes.
            Change::DeleteCommand {
                account: ACCOUNT.into(),
                region: REGION.into(),
                command_id: "c-page3".into(),
            },
            Change::DeleteCommand {
                account: ACCOUNT.into(),
                region: REGION.into(),
                command_id: "c-page5".into(),
            },
            Change::CreateCommand {
                account: ACCOUNT.into(),
                region: REGION.into(),
                command: command("c-page8", "p", "ls"),
            },
        ]
    };
    let pages = walk(
        &emu,
        "DescribeCommands",
        "MaxResults=3",
        command_ids,
        &mut between,
    )
    .await;
    assert_eq!(
        pages,
        [ids("c-page", &[7, 6, 5]), ids("c-page", &[4, 2, 1])]
    );

    // The same over a filter: the last returned record leaving does not lose the place.
    let mut between = |page: usize| {
        if page != 1 {
            return Vec::new();
        }
        vec![Change::DeleteCommand {
            account: ACCOUNT.into(),
            region: REGION.into(),
            command_id: "c-page6".into(),
        }]
    };
    let pages = walk(
        &emu,
        "DescribeCommands",
        "MaxResults=2&Name=p",
        command_ids,
        &mut between,
    )
    .await;
    assert_eq!(
        pages,
        [
            ids("c-page", &[8, 7]),
            ids("c-page", &[4, 2]),
            ids("c-page", &[1])
        ]
    );
}

#[tokio::test]
async fn a_next_token_is_bound_to_caller_region_action_and_filters() {
    let emu = emulator().await;
    for n in 1..=3 {
        emu.create(command(&format!("c-bind{n}"), "deploy", "ls"))
            .await;
        emu.invoke(pending(&format!("t-bind{n}"), "c-bind1", "ls", &["i-off"]))
            .await;
    }
    let first = emu.ok("DescribeCommands", "MaxResults=1&Name=deploy").await;
    let token = enc(first["NextToken"].as_str().unwrap());
    let good = emu
        .call(
            "DescribeCommands",
            &format!("MaxResults=1&Name=deploy&NextToken={token}"),
        )
        .await;
    assert_eq!(good.status, 200, "{}", good.body);
    let bad = "The specified parameter NextToken is not valid.";
    for (context, action, query) in [
        (
            "another filter",
            "DescribeCommands",
            format!("Name=deploy*&NextToken={token}"),
        ),
        (
            "a filter less",
            "DescribeCommands",
            format!("NextToken={token}"),
        ),
        (
            "a filter more",
            "DescribeCommands",
            format!("Name=deploy&Type=RunShellScript&NextToken={token}"),
        ),
        (
            "another action",
            "DescribeInvocations",
            format!("NextToken={token}"),
        ),
        (
            "tampered",
            "DescribeCommands",
            format!("Name=deploy&NextToken={token}x"),
        ),
        ("garbage", "DescribeCommands", "NextToken=abc".to_owned()),
    ] {
        let reply = emu.call(action, &query).await;
        assert_error(&reply, 400, "InvalidParameter.NextToken", bad, context);
    }
    let other_region = emu
        .raw(
            "DescribeCommands",
            &format!("RegionId=cn-beijing&Name=deploy&NextToken={token}"),
        )
        .await;
    assert_error(
        &other_region,
        400,
        "InvalidParameter.NextToken",
        bad,
        "another region",
    );
    let other_caller = emu
        .call(
            "DescribeCommands",
            &format!("AccessKeyId={OTHER_KEY}&Name=deploy&NextToken={token}"),
        )
        .await;
    assert_error(
        &other_caller,
        400,
        "InvalidParameter.NextToken",
        bad,
        "another caller",
    );

    // The same for the invocation listings, whose filters differ.
    let first = emu
        .ok("DescribeInvocations", "MaxResults=1&CommandId=c-bind1")
        .await;
    let token = enc(first["NextToken"].as_str().unwrap());
    let reused = emu
        .call(
            "DescribeInvocations",
            &format!("CommandId=c-bind2&NextToken={token}"),
        )
        .await;
    assert_error(
        &reused,
        400,
        "InvalidParameter.NextToken",
        bad,
        "invocations",
    );
    let elsewhere = emu
        .call(
            "DescribeInvocationResults",
            &format!("CommandId=c-bind1&NextToken={token}"),
        )
        .await;
    assert_error(
        &elsewhere,
        400,
        "InvalidParameter.NextToken",
        bad,
        "results",
    );
    let first = emu
        .ok(
            "DescribeInvocationResults",
            "MaxResults=1&InvokeRecordStatus=Running",
        )
        .await;
    let token = enc(first["Invocation"]["NextToken"].as_str().unwrap());
    let reused = emu
        .call(
            "DescribeInvocationResults",
            &format!("InvokeRecordStatus=Stopped&NextToken={token}"),
        )
        .await;
    assert_error(
        &reused,
        400,
        "InvalidParameter.NextToken",
        bad,
        "results filter",
    );
}

#[tokio::test]
async fn describe_invocations_pages_and_a_status_filter_lets_records_join_and_leave() {
    let emu = emulator().await;
    // Six invocations waiting on the offline agent: Pending until T0+60.
    for n in 1..=6 {
        emu.invoke(pending(&format!("t-page{n}"), "c-x", "ls", &["i-off"]))
            .await;
    }
    let first = emu
        .ok("DescribeInvocations", "PageSize=4&PageNumber=2")
        .await;
    assert_eq!(invoke_ids(&first), ids("t-page", &[2, 1]));
    assert!(first.get("NextToken").is_none());
    let stop = |id: &str| Change::StopInvocation {
        account: ACCOUNT.into(),
        region: REGION.into(),
        invoke_id: id.into(),
        instances: vec![],
        at: at(0),
    };
    // Pending ones: t-page3, not yet returned, leaves; the rest stay and come once each.
    let mut between = |page: usize| {
        if page == 1 {
            vec![stop("t-page3")]
        } else {
            vec![]
        }
    };
    let pages = walk(
        &emu,
        "DescribeInvocations",
        "MaxResults=2&InvokeStatus=Pending",
        invoke_ids,
        &mut between,
    )
    .await;
    assert_eq!(
        pages,
        [
            ids("t-page", &[6, 5]),
            ids("t-page", &[4, 2]),
            ids("t-page", &[1])
        ]
    );
    // Stopped ones (legacy and aggregate status alike): t-page4 joins ahead of the walk.
    emu.apply(vec![stop("t-page5")]).await;
    let mut between = |page: usize| {
        if page == 1 {
            vec![stop("t-page4")]
        } else {
            vec![]
        }
    };
    let pages = walk(
        &emu,
        "DescribeInvocations",
        "MaxResults=1&InvokeStatus=Stopped",
        invoke_ids,
        &mut between,
    )
    .await;
    assert_eq!(
        pages,
        [
            ids("t-page", &[5]),
            ids("t-page", &[4]),
            ids("t-page", &[3])
        ]
    );
}

#[tokio::test]
async fn describe_invocation_results_pages_runs_across_invocations() {
    let emu = emulator().await;
    for n in 1..=3 {
        emu.invoke(pending(
            &format!("t-run{n}"),
            "c-x",
            "ls",
            &["i-b", "i-a", "i-off"],
        ))
        .await;
    }
    let all: Vec<String> = [3, 2, 1]
        .iter()
        .flat_map(|n| ["i-b", "i-a", "i-off"].map(|i| format!("t-run{n}/{i}")))
        .collect();
    let pages = walk(
        &emu,
        "DescribeInvocationResults",
        "MaxResults=4",
        result_ids,
        &mut no_changes,
    )
    .await;
    assert_eq!(
        pages,
        [all[..4].to_vec(), all[4..8].to_vec(), all[8..].to_vec()]
    );
    let second = emu
        .ok("DescribeInvocationResults", "PageSize=4&PageNumber=2")
        .await;
    assert_eq!(result_ids(&second), all[4..8]);
    let fields = &second["Invocation"];
    assert_eq!(
        (
            &fields["PageSize"],
            &fields["PageNumber"],
            &fields["TotalCount"]
        ),
        (&json!(4), &json!(2), &json!(9))
    );
    assert!(fields["NextToken"].is_string());
    // The page mode token resumes after the page's last run.
    let token = enc(fields["NextToken"].as_str().unwrap());
    let rest = emu
        .ok("DescribeInvocationResults", &format!("NextToken={token}"))
        .await;
    assert_eq!(result_ids(&rest), all[8..]);
    // One invocation: its runs only.
    let pages = walk(
        &emu,
        "DescribeInvocationResults",
        "MaxResults=2&InvokeId=t-run2",
        result_ids,
        &mut no_changes,
    )
    .await;
    assert_eq!(pages, [all[3..5].to_vec(), all[5..6].to_vec()]);
}

// ---------------------------------------------------------------------------------------------
// Errors (Appendix C): every code these operations answer, first failure wins
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn every_error_code_with_its_status_and_message() {
    let emu = emulator().await;
    emu.create(command("c-err", "n", "ls")).await;
    emu.invoke(pending("t-err", "c-err", "ls", &["i-a", "i-off"]))
        .await;
    emu.create_in(ACCOUNT, "cn-beijing", command("c-bj", "n", "ls"))
        .await;
    emu.invoke_in(
        ACCOUNT,
        "cn-beijing",
        pending("t-bj", "c-bj", "ls", &["i-bj"]),
    )
    .await;
    emu.create_in(OTHER_ACCOUNT, REGION, command("c-other", "n", "ls"))
        .await;
    emu.invoke_in(
        OTHER_ACCOUNT,
        REGION,
        pending("t-other", "c-other", "ls", &["i-a"]),
    )
    .await;

    const MISSING_REGION: &str = "RegionId is mandatory for this action.";
    const REGION_NOT_FOUND: &str = "The RegionId provided does not exist in our records.";
    const INVALID_PAGE: &str = "The specified parameter is invalid.";
    const MAX_RESULTS: &str = "The specified parameter MaxResults is not valid.";
    const NEXT_TOKEN: &str = "The specified parameter NextToken is not valid.";
    const TAGS: &str = "The Tags parameter number is exceed.";
    const TAG_KEY: &str = "You must specify Tag.N.Key.";
    const DUPLICATE_TAG: &str = "The Tag.N.Key contain duplicate key.";
    const CMD_NOT_FOUND: &str = "The specified command ID does not exist.";
    const INVOKE_NOT_FOUND: &str = "The specified invoke ID does not exist.";
    let name_129 = "n".repeat(129);
    let description_513 = "d".repeat(513);
    let missing = |name: &str| {
        format!(
            "The input parameter \"{name}\" that is mandatory for processing this request is \
             not supplied."
        )
    };
    let invalid = |name: &str, reason: &str| {
        format!("The specified parameter \"{name}\" is not valid: {reason}")
    };
    let describes = [
        "DescribeCommands",
        "DescribeInvocations",
        "DescribeInvocationResults",
    ];

    // (action, query with RegionId where wanted, status, code, message)
    let mut table: Vec<(&str, String, u16, &str, String)> = Vec::new();
    for action in describes.iter().chain(&["DeleteCommand", "StopInvocation"]) {
        table.extend([
            (
                *action,
                "CommandId=c-err&InvokeId=t-err".to_owned(),
                400,
                "MissingRegionId",
                MISSING_REGION.to_owned(),
            ),
            (
                *action,
                "RegionId=cn-atlantis&PageSize=0".to_owned(),
                404,
                "InvalidRegionId.NotFound",
                REGION_NOT_FOUND.to_owned(),
            ),
        ]);
    }
    for action in describes {
        let r = |query: &str| format!("RegionId={REGION}&{query}");
        table.extend([
            (
                action,
                r("Tag.21.Key=a"),
                400,
                "NumberExceed.Tags",
                TAGS.to_owned(),
            ),
            (
                action,
                r("Tag.1.Value=v"),
                400,
                "MissingParameter.TagKey",
                TAG_KEY.to_owned(),
            ),
            (
                action,
                r("Tag.1.Key="),
                400,
                "MissingParameter.TagKey",
                TAG_KEY.to_owned(),
            ),
            (
                action,
                r("Tag.1.Key=a&Tag.2.Key=a"),
                400,
                "Duplicate.TagKey",
                DUPLICATE_TAG.to_owned(),
            ),
            (
                action,
                r("Tag.x.Key=a"),
                400,
                "InvalidParameter",
                invalid(
                    "Tag.x.Key",
                    "N of Tag.N.Key must be a whole number from 1 to 20",
                ),
            ),
            // Tags are checked before paging.
            (
                action,
                r("Tag.21.Key=a&PageSize=0"),
                400,
                "NumberExceed.Tags",
                TAGS.to_owned(),
            ),
            (
                action,
                r("PageNumber=0"),
                400,
                "InvalidParam.PageNumber",
                INVALID_PAGE.to_owned(),
            ),
            (
                action,
                r("PageNumber=x"),
                400,
                "InvalidParam.PageNumber",
                INVALID_PAGE.to_owned(),
            ),
            (
                action,
                r("PageNumber=9223372036854775808"),
                400,
                "InvalidParam.PageNumber",
                INVALID_PAGE.to_owned(),
            ),
            (
                action,
                r("PageSize=51"),
                400,
                "InvalidParam.PageSize",
                INVALID_PAGE.to_owned(),
            ),
            (
                action,
                r("PageSize=0"),
                400,
                "InvalidParam.PageSize",
                INVALID_PAGE.to_owned(),
            ),
            (
                action,
                r("MaxResults=0&PageSize=0"),
                400,
                "InvalidParameter.MaxResults",
                MAX_RESULTS.to_owned(),
            ),
            (
                action,
                r("MaxResults=51"),
                400,
                "InvalidParameter.MaxResults",
                MAX_RESULTS.to_owned(),
            ),
            (
                action,
                r("NextToken=x"),
                400,
                "InvalidParameter.NextToken",
                NEXT_TOKEN.to_owned(),
            ),
        ]);
    }
    let r = |query: &str| format!("RegionId={REGION}&{query}");
    table.extend([
        (
            "DescribeCommands",
            r(&format!("Name={name_129}")),
            403,
            "InvalidName.LengthLimitExceeded",
            "The length of the parameter Name exceeds the upper limit.".to_owned(),
        ),
        (
            "DescribeCommands",
            r(&format!("Name={name_129}&Type=bad&Tag.21.Key=a")),
            403,
            "InvalidName.LengthLimitExceeded",
            "The length of the parameter Name exceeds the upper limit.".to_owned(),
        ),
        (
            "DescribeCommands",
            r(&format!("Description={description_513}&Type=bad")),
            403,
            "InvalidDescription.LengthLimitExceeded",
            "The length of the parameter Description exceeds the upper limit.".to_owned(),
        ),
        (
            "DescribeCommands",
            r("Type=runshellscript&Tag.21.Key=a"),
            404,
            "InvalidCommandType.NotFound",
            "The specified parameter Type does not exist.".to_owned(),
        ),
        (
            "DescribeInvocations",
            r("Timed=yes"),
            400,
            "InvalidParameter",
            invalid("Timed", "\"yes\" is not true or false"),
        ),
        (
            "DescribeInvocations",
            r("IncludeOutput=x&Tag.21.Key=a&Timed=yes"),
            400,
            "InvalidParameter",
            invalid("Timed", "\"yes\" is not true or false"),
        ),
        (
            "DescribeInvocations",
            r("IncludeOutput=x&Tag.21.Key=a&PageSize=0"),
            400,
            "NumberExceed.Tags",
            TAGS.to_owned(),
        ),
        (
            "DescribeInvocations",
            r("IncludeOutput=1&InvokeId=t-err"),
            400,
            "InvalidParameter",
            invalid("IncludeOutput", "\"1\" is not true or false"),
        ),
        (
            "DeleteCommand",
            r(""),
            400,
            "MissingParameter",
            missing("CommandId"),
        ),
        (
            "DeleteCommand",
            r("CommandId=c-nope"),
            404,
            "InvalidCmdId.NotFound",
            CMD_NOT_FOUND.to_owned(),
        ),
        (
            "DeleteCommand",
            r("CommandId=c-bj"),
            404,
            "InvalidCmdId.NotFound",
            CMD_NOT_FOUND.to_owned(),
        ),
        (
            "DeleteCommand",
            r("CommandId=c-other"),
            404,
            "InvalidCmdId.NotFound",
            CMD_NOT_FOUND.to_owned(),
        ),
        (
            "DeleteCommand",
            r("CommandId=t-err"),
            404,
            "InvalidCmdId.NotFound",
            CMD_NOT_FOUND.to_owned(),
        ),
        (
            "StopInvocation",
            r("InstanceId.1=i-a"),
            400,
            "MissingParameter",
            missing("InvokeId"),
        ),
        (
            "StopInvocation",
            r("InvokeId=t-nope&InstanceId.0=i-a"),
            400,
            "InvalidParameter",
            invalid(
                "InstanceId.0",
                "N of InstanceId.N must be a whole number from 1 to 50",
            ),
        ),
        (
            "StopInvocation",
            r("InvokeId=t-nope&InstanceId.51=i-a"),
            403,
            "InstanceIds.ExceedLimit",
            "The number of instance IDs exceeds the upper limit.".to_owned(),
        ),
        (
            "StopInvocation",
            r("InvokeId=t-nope"),
            404,
            "InvalidInvokeId.NotFound",
            INVOKE_NOT_FOUND.to_owned(),
        ),
        (
            "StopInvocation",
            r("InvokeId=t-bj&InstanceId.1=i-bj"),
            404,
            "InvalidInvokeId.NotFound",
            INVOKE_NOT_FOUND.to_owned(),
        ),
        (
            "StopInvocation",
            r("InvokeId=t-other"),
            404,
            "InvalidInvokeId.NotFound",
            INVOKE_NOT_FOUND.to_owned(),
        ),
        (
            "StopInvocation",
            r("InvokeId=t-err&InstanceId.1=i-a&InstanceId.2=i-b"),
            404,
            "InvalidInstanceId.NotFound",
            "The specified parameter InstanceId does not exist.".to_owned(),
        ),
        (
            "StopInvocation",
            r("InvokeId=t-err&InstanceId.1=i-nope"),
            404,
            "InvalidInstanceId.NotFound",
            "The specified parameter InstanceId does not exist.".to_owned(),
        ),
    ]);
    for (action, query, status, code, message) in &table {
        let reply = emu.raw(action, query).await;
        let context = format!("{action}?{}", &query[..query.len().min(80)]);
        assert_error(&reply, *status, code, message, &context);
    }

    // Nothing refused changed anything: both runs of t-err still wait.
    let results = emu.ok("DescribeInvocationResults", "InvokeId=t-err").await;
    assert_eq!(
        column(
            &results,
            "/Invocation/InvocationResults/InvocationResult",
            "InvocationStatus"
        ),
        ["Pending", "Pending"]
    );
    assert_eq!(
        command_ids(&emu.ok("DescribeCommands", "").await),
        ["c-err"]
    );
}

#[tokio::test]
async fn limits_are_inclusive_and_counted_in_characters() {
    let emu = emulator().await;
    let name = "é".repeat(128);
    let description = "*".repeat(512);
    let query = format!("Name={}&Description={}", enc(&name), enc(&description));
    let reply = emu.call("DescribeCommands", &query).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let fifty: String = (1..=50).map(|n| format!("&InstanceId.{n}=i-a")).collect();
    emu.invoke(pending("t-lim", "c-x", "ls", &["i-a"])).await;
    let reply = emu
        .call("StopInvocation", &format!("InvokeId=t-lim{fifty}"))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    for action in [
        "DescribeCommands",
        "DescribeInvocations",
        "DescribeInvocationResults",
    ] {
        for size in [
            "PageSize=50&PageNumber=9223372036854775807",
            "MaxResults=50",
        ] {
            let reply = emu.call(action, size).await;
            assert_eq!(reply.status, 200, "{action}?{size}: {}", reply.body);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Filters
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn describe_commands_filters() {
    let emu = emulator().await;
    let mut f1 = tagged(command("c-f1", "deploy-web", "ls"), &[("env", "prod")]);
    f1.description = "web tier".into();
    f1.resource_group_id = Some("rg-1".into());
    let mut f2 = tagged(
        command("c-f2", "web-deploy", "ls"),
        &[("env", "dev"), ("team", "a")],
    );
    f2.description = "deploy web".into();
    f2.command_type = CommandType::RunBatScript;
    let mut f3 = command("c-f3", "deploy", "ls");
    f3.command_type = CommandType::RunPowerShellScript;
    f3.resource_group_id = Some("rg-2".into());
    for c in [f1, f2, f3] {
        emu.create(c).await;
    }
    emu.create_in(OTHER_ACCOUNT, REGION, command("c-o", "deploy", "ls"))
        .await;
    emu.create_in(ACCOUNT, "cn-beijing", command("c-bj", "deploy", "ls"))
        .await;

    let all = ["c-f3", "c-f2", "c-f1"];
    let cases: Vec<(&str, Vec<&str>)> = vec![
        ("", all.to_vec()),
        ("CommandId=c-f2", vec!["c-f2"]),
        ("CommandId=c-nope", vec![]),
        ("CommandId=c-o", vec![]),
        ("CommandId=c-bj", vec![]),
        ("Name=deploy", vec!["c-f3"]),
        ("Name=deploy*", vec!["c-f3", "c-f1"]),
        ("Name=*deploy", vec!["c-f3", "c-f2"]),
        ("Name=*deploy*", all.to_vec()),
        ("Name=*", all.to_vec()),
        ("Name=Deploy", vec![]),
        ("Name=dep*web", vec![]),
        ("Description=*web*", vec!["c-f2", "c-f1"]),
        ("Description=web*", vec!["c-f1"]),
        ("Description=*web", vec!["c-f2"]),
        ("Type=RunBatScript", vec!["c-f2"]),
        ("Type=RunShellScript", vec!["c-f1"]),
        ("Provider=AlibabaCloud", vec![]),
        ("Latest=true", all.to_vec()),
        ("Latest=not-a-boolean", all.to_vec()),
        ("ResourceGroupId=rg-1", vec!["c-f1"]),
        ("ResourceGroupId=rg-3", vec![]),
        ("Tag.1.Key=env", vec!["c-f2", "c-f1"]),
        ("Tag.1.Key=env&Tag.1.Value=prod", vec!["c-f1"]),
        ("Tag.1.Key=env&Tag.2.Key=team", vec!["c-f2"]),
        ("Tag.1.Key=nope", vec![]),
        (
            "Name=*deploy*&Type=RunShellScript&Tag.1.Key=env",
            vec!["c-f1"],
        ),
        ("CommandId=c-f1&Name=web*", vec![]),
        ("CommandId=c-f1&Tag.1.Key=env", vec!["c-f1"]),
    ];
    for (query, expected) in cases {
        let body = emu.ok("DescribeCommands", query).await;
        assert_eq!(command_ids(&body), expected, "{query}");
        assert_eq!(body["TotalCount"], expected.len(), "{query}");
    }
    // Each caller and region sees its own.
    let other = emu
        .ok("DescribeCommands", &format!("AccessKeyId={OTHER_KEY}"))
        .await;
    assert_eq!(command_ids(&other), ["c-o"]);
    let beijing = emu.raw("DescribeCommands", "RegionId=cn-beijing").await;
    assert_eq!(command_ids(&beijing.json()), ["c-bj"]);
    let empty_region = emu.raw("DescribeCommands", "RegionId=eu-west-1").await;
    assert_eq!(
        (
            command_ids(&empty_region.json()).len(),
            &empty_region.json()["TotalCount"]
        ),
        (0, &json!(0))
    );
}

/// Invocations in every mix of run states: (id, command id and name, runs).
fn mixes() -> Vec<Invocation> {
    use RunStatus::*;
    let make = |id: &str, command: &str, name: &str, runs: &[(&str, RunStatus)]| {
        let mut made = invocation(id, command, runs.iter().map(|(i, s)| run(i, *s)).collect());
        made.command_name = name.into();
        made
    };
    let mut partial = make("t-1", "c-1", "alpha", &[("i-a", Success), ("i-b", Failed)]);
    partial.tags = vec![("env".into(), "prod".into())];
    let mut invalid = make("t-2", "c-2", "beta", &[("i-win", Invalid)]);
    invalid.command_type = CommandType::RunBatScript;
    vec![
        partial,
        invalid,
        make(
            "t-3",
            "c-1",
            "alpha",
            &[("i-a", Cancelled), ("i-b", Cancelled)],
        ),
        make(
            "t-4",
            "c-1",
            "alpha",
            &[("i-a", Running), ("i-off", Pending)],
        ),
        make("t-5", "c-2", "beta", &[("i-off", Pending)]),
        make(
            "t-6",
            "c-3",
            "gamma",
            &[("i-a", Success), ("i-b", Cancelled)],
        ),
        make("t-7", "c-3", "gamma", &[("i-a", Timeout), ("i-b", Aborted)]),
        make("t-8", "c-3", "gamma", &[("i-a", Failed)]),
        make("t-9", "c-3", "gamma", &[("i-a", Success), ("i-b", Timeout)]),
        make(
            "t-10",
            "c-3",
            "gamma",
            &[("i-a", Pending), ("i-b", Cancelled)],
        ),
    ]
}

#[tokio::test]
async fn aggregate_statuses_over_mixed_runs() {
    let emu = emulator().await;
    for made in mixes() {
        emu.invoke(made).await;
    }
    let body = emu.ok("DescribeInvocations", "PageSize=50").await;
    let list = "/Invocations/Invocation";
    let statuses: Vec<String> = invoke_ids(&body)
        .iter()
        .zip(column(&body, list, "InvocationStatus"))
        .zip(column(&body, list, "InvokeStatus"))
        .map(|((id, status), legacy)| format!("{id} {status} {legacy}"))
        .collect();
    assert_eq!(
        statuses,
        [
            "t-10 Pending Running",
            "t-9 PartialFailed PartialFailed",
            "t-8 Failed Finished",
            "t-7 Failed Failed",
            "t-6 Success Finished",
            "t-5 Pending Running",
            "t-4 Running Running",
            "t-3 Stopped Stopped",
            "t-2 Failed Failed",
            "t-1 PartialFailed Finished",
        ]
    );
    // Per instance: the vendor status and the legacy one, in both listings.
    let per_run = |body: &Value, list: &str, legacy: &str| -> Vec<String> {
        body.pointer(list)
            .unwrap()
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                format!(
                    "{} {}",
                    r["InvocationStatus"].as_str().unwrap(),
                    r[legacy].as_str().unwrap()
                )
            })
            .collect()
    };
    let results = emu.ok("DescribeInvocationResults", "PageSize=50").await;
    let runs = per_run(
        &results,
        "/Invocation/InvocationResults/InvocationResult",
        "InvokeRecordStatus",
    );
    let instances: Vec<String> = body["Invocations"]["Invocation"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|i| per_run(i, "/InvokeInstances/InvokeInstance", "InstanceInvokeStatus"))
        .collect();
    assert_eq!(runs, instances);
    let mut seen: Vec<String> = runs.clone();
    seen.sort();
    seen.dedup();
    assert_eq!(
        seen,
        [
            "Aborted Failed",
            "Cancelled Stopped",
            "Failed Finished",
            "Invalid Failed",
            "Pending Running",
            "Running Running",
            "Success Finished",
            "Timeout Failed",
        ]
    );

    // With InstanceId, the statuses are that run's.
    let one = emu
        .ok("DescribeInvocations", "InvokeId=t-1&InstanceId=i-b")
        .await;
    assert_eq!(column(&one, list, "InvocationStatus"), ["Failed"]);
    assert_eq!(column(&one, list, "InvokeStatus"), ["Finished"]);
    let instances = one.pointer("/Invocations/Invocation/0/InvokeInstances/InvokeInstance");
    assert_eq!(instances.unwrap().as_array().unwrap().len(), 1);
    let other = emu
        .ok("DescribeInvocations", "InvokeId=t-1&InstanceId=i-a")
        .await;
    assert_eq!(column(&other, list, "InvocationStatus"), ["Success"]);
}

#[tokio::test]
async fn describe_invocations_filters() {
    let emu = emulator().await;
    for made in mixes() {
        emu.invoke(made).await;
    }
    emu.invoke_in(OTHER_ACCOUNT, REGION, pending("t-o", "c-1", "ls", &["i-a"]))
        .await;
    let t = |n: &[u32]| ids("t-", n);
    let everything = t(&[10, 9, 8, 7, 6, 5, 4, 3, 2, 1]);
    let cases: Vec<(&str, Vec<String>)> = vec![
        ("", everything.clone()),
        ("InvokeId=t-3", t(&[3])),
        ("InvokeId=t-nope", vec![]),
        ("InvokeId=t-o", vec![]),
        ("CommandId=c-2", t(&[5, 2])),
        ("CommandId=c-nope", vec![]),
        ("CommandName=alpha", t(&[4, 3, 1])),
        ("CommandName=alph*", vec![]),
        ("RepeatMode=Once", everything.clone()),
        ("RepeatMode=Period", vec![]),
        ("CommandType=RunBatScript", t(&[2])),
        ("CommandType=runbatscript", vec![]),
        ("InstanceId=i-win", t(&[2])),
        ("InstanceId=i-off", t(&[5, 4])),
        ("InstanceId=i-nope", vec![]),
        // CommandName and RepeatMode are ignored beside InstanceId.
        (
            "InstanceId=i-off&CommandName=nope&RepeatMode=Period",
            t(&[5, 4]),
        ),
        ("Timed=true", vec![]),
        ("Timed=FALSE", everything.clone()),
        ("Tag.1.Key=env", t(&[1])),
        ("Tag.1.Key=env&Tag.1.Value=dev", vec![]),
        ("InvokeId=t-1&CommandId=c-2", vec![]),
        // InvokeStatus: the aggregate status or the legacy one.
        ("InvokeStatus=Running", t(&[10, 5, 4])),
        ("InvokeStatus=Pending", t(&[10, 5])),
        ("InvokeStatus=Success", t(&[6])),
        ("InvokeStatus=Finished", t(&[8, 6, 1])),
        ("InvokeStatus=Failed", t(&[8, 7, 2])),
        ("InvokeStatus=PartialFailed", t(&[9, 1])),
        ("InvokeStatus=Stopped", t(&[3])),
        ("InvokeStatus=running", vec![]),
        ("InvokeStatus=Scheduled", vec![]),
        ("InstanceId=i-b&InvokeStatus=Stopped", t(&[10, 6, 3])),
        ("InstanceId=i-b&InvokeStatus=Failed", t(&[9, 7, 1])),
    ];
    for (query, expected) in cases {
        let body = emu
            .ok("DescribeInvocations", &format!("PageSize=50&{query}"))
            .await;
        assert_eq!(invoke_ids(&body), expected, "{query}");
        assert_eq!(body["TotalCount"], expected.len(), "{query}");
    }
    let other = emu
        .ok("DescribeInvocations", &format!("AccessKeyId={OTHER_KEY}"))
        .await;
    assert_eq!(invoke_ids(&other), ["t-o"]);
}

#[tokio::test]
async fn describe_invocation_results_filters() {
    let emu = emulator().await;
    for made in mixes() {
        emu.invoke(made).await;
    }
    let cases: Vec<(&str, Vec<&str>)> = vec![
        ("InvokeId=t-1", vec!["t-1/i-a", "t-1/i-b"]),
        ("InvokeId=t-nope", vec![]),
        ("InstanceId=i-off", vec!["t-5/i-off", "t-4/i-off"]),
        ("InstanceId=i-off&InvokeId=t-5", vec!["t-5/i-off"]),
        ("CommandId=c-2", vec!["t-5/i-off", "t-2/i-win"]),
        (
            "InvokeRecordStatus=Stopped",
            vec!["t-10/i-b", "t-6/i-b", "t-3/i-a", "t-3/i-b"],
        ),
        (
            "InvokeRecordStatus=Running",
            vec!["t-10/i-a", "t-5/i-off", "t-4/i-a", "t-4/i-off"],
        ),
        (
            "InvokeRecordStatus=Failed",
            vec!["t-9/i-b", "t-7/i-a", "t-7/i-b", "t-2/i-win"],
        ),
        (
            "InvokeRecordStatus=Finished&InstanceId=i-b",
            vec!["t-1/i-b"],
        ),
        ("InvokeRecordStatus=Success", vec![]),
        ("Tag.1.Key=env&Tag.1.Value=prod", vec!["t-1/i-a", "t-1/i-b"]),
        ("Tag.1.Key=env&InstanceId=i-a", vec!["t-1/i-a"]),
        ("InvokeId=t-2&IncludeHistory=whatever", vec!["t-2/i-win"]),
    ];
    for (query, expected) in cases {
        let body = emu
            .ok("DescribeInvocationResults", &format!("PageSize=50&{query}"))
            .await;
        assert_eq!(result_ids(&body), expected, "{query}");
        assert_eq!(body["Invocation"]["TotalCount"], expected.len(), "{query}");
    }
}

// ---------------------------------------------------------------------------------------------
// ContentEncoding and IncludeOutput
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn content_encoding_applies_to_content_and_output() {
    let emu = emulator().await;
    let mut text = command("c-text", "t", "echo 你好");
    text.creation_time = at(0);
    emu.create(text).await;
    let mut bytes = command("c-bytes", "b", "");
    bytes.content = vec![0xff, b'a'];
    emu.create(bytes).await;
    let mut ran = invocation("t-enc", "c-text", vec![run("i-a", RunStatus::Success)]);
    ran.content = "echo 你好".as_bytes().to_vec();
    emu.invoke(ran).await;
    let output = "i-a says Success\n";

    for (encoding, plain) in [
        ("", false),
        ("ContentEncoding=Base64&", false),
        ("ContentEncoding=base64&", false),
        ("ContentEncoding=hex&", false),
        ("ContentEncoding=PlainText&", true),
        ("ContentEncoding=PLAINTEXT&", true),
    ] {
        let commands = emu.ok("DescribeCommands", encoding).await;
        let content = column(&commands, "/Commands/Command", "CommandContent");
        let invocations = emu
            .ok(
                "DescribeInvocations",
                &format!("{encoding}InvokeId=t-enc&IncludeOutput=true"),
            )
            .await;
        let results = emu.ok("DescribeInvocationResults", encoding).await;
        let invocation_output = invocations
            .pointer("/Invocations/Invocation/0/InvokeInstances/InvokeInstance/0/Output")
            .unwrap()
            .clone();
        let seen = (
            content,
            column(&invocations, "/Invocations/Invocation", "CommandContent"),
            invocation_output,
            column(
                &results,
                "/Invocation/InvocationResults/InvocationResult",
                "Output",
            ),
        );
        let expected = if plain {
            (
                vec!["\u{fffd}a".to_owned(), "echo 你好".to_owned()],
                vec!["echo 你好".to_owned()],
                json!(output),
                vec![output.to_owned()],
            )
        } else {
            (
                vec!["/2E=".to_owned(), b64("echo 你好")],
                vec![b64("echo 你好")],
                json!(b64(output)),
                vec![b64(output)],
            )
        };
        assert_eq!(seen, expected, "{encoding}");
    }
}

#[tokio::test]
async fn include_output_is_honoured_beside_invoke_id_or_instance_id_only() {
    let emu = emulator().await;
    for made in mixes() {
        emu.invoke(made).await;
    }
    let outputs = |body: &Value| -> Vec<String> {
        body["Invocations"]["Invocation"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|i| {
                column(i, "/InvokeInstances/InvokeInstance", "Output")
                    .into_iter()
                    .map(|o| String::from_utf8(STANDARD.decode(o).unwrap()).unwrap())
            })
            .collect()
    };
    let said = |who: &str, what: &str| format!("{who} says {what}\n");
    for (query, expected) in [
        ("InvokeId=t-1", vec![String::new(), String::new()]),
        (
            "InvokeId=t-1&IncludeOutput=false",
            vec![String::new(), String::new()],
        ),
        (
            "InvokeId=t-1&IncludeOutput=true",
            vec![said("i-a", "Success"), said("i-b", "Failed")],
        ),
        (
            "InvokeId=t-9&IncludeOutput=TRUE",
            vec![said("i-a", "Success"), String::new()],
        ),
        (
            // t-9 (timed out), t-7 (aborted), t-1: i-b's runs only.
            "InstanceId=i-b&IncludeOutput=true&InvokeStatus=Failed",
            vec![String::new(), String::new(), said("i-b", "Failed")],
        ),
        ("CommandId=c-1&IncludeOutput=true", vec![String::new(); 6]),
    ] {
        let body = emu.ok("DescribeInvocations", query).await;
        assert_eq!(outputs(&body), expected, "{query}");
    }
}
