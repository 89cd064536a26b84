//! Cloud Assistant runs end to end on a frozen clock, through the API only: RunCommand, the
//! clock moved with `PUT /_emulator/clock`, DescribeInvocationResults and DescribeInvocations
//! for the statuses, ListPluginStatus for what the agent reported (SPEC 9.4, 9.5).

mod common;

use axum::Router;
use common::{admin, app_with, enc, send, send_request, Reply};
use serde_json::{json, Value};

const START: &str = "2026-03-01T00:00:00Z";

/// Instances with every agent state, and a catalog with published versions.
fn fixture() -> String {
    json!({
        "catalog": [
            {"name": "p-persist", "type": "Persist", "versions": ["1.0", "2.0"]},
            {"name": "p-once", "type": "Once", "versions": ["1.0"]}
        ],
        "instances": [
            {"instanceId": "i-linux", "regionId": "cn-hangzhou"},
            {"instanceId": "i-noagent", "regionId": "cn-hangzhou",
             "cloudAssistant": {"installed": false}},
            {"instanceId": "i-offline", "regionId": "cn-hangzhou",
             "cloudAssistant": {"online": false}},
            {"instanceId": "i-windows", "regionId": "cn-hangzhou", "osType": "Windows"},
            {"instanceId": "i-old", "regionId": "cn-hangzhou",
             "cloudAssistant": {"version": "2.2.3.100"}}
        ]
    })
    .to_string()
}

struct Test {
    app: Router,
    /// Seconds since [`START`] the clock stands at.
    at: u64,
}

impl Test {
    async fn new() -> Self {
        let test = Self {
            app: app_with(&fixture()),
            at: 0,
        };
        test.set_clock().await;
        test
    }

    async fn set_clock(&self) {
        let now = chrono::DateTime::parse_from_rfc3339(START).unwrap()
            + chrono::Duration::seconds(self.at as i64);
        let body = json!({"now": now.to_rfc3339(), "frozen": true});
        let reply = send_request(&self.app, admin("PUT", "/clock", Some(body))).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
    }

    /// Moves the frozen clock on.
    async fn advance(&mut self, seconds: u64) {
        self.at += seconds;
        self.set_clock().await;
    }

    async fn api(&self, action: &str, params: &str) -> Reply {
        let query =
            format!("Action={action}&Version=2014-05-26&Format=JSON&RegionId=cn-hangzhou&{params}");
        send(&self.app, &query).await
    }

    async fn ok(&self, action: &str, params: &str) -> Value {
        let reply = self.api(action, params).await;
        assert_eq!(reply.status, 200, "{action} {params}: {}", reply.body);
        reply.json()
    }

    /// RunCommand of a shell script on instances; the InvokeId.
    async fn run(&self, script: &str, instances: &[&str], extra: &str) -> String {
        let ids: String = instances
            .iter()
            .enumerate()
            .map(|(n, id)| format!("&InstanceId.{}={id}", n + 1))
            .collect();
        let params = format!(
            "Type=RunShellScript&CommandContent={}{ids}{extra}",
            enc(script)
        );
        self.ok("RunCommand", &params).await["InvokeId"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// The invocation's results, one per instance, in instance order.
    async fn results(&self, invoke_id: &str) -> Vec<Value> {
        let answer = self
            .ok(
                "DescribeInvocationResults",
                &format!("InvokeId={invoke_id}&ContentEncoding=PlainText"),
            )
            .await;
        answer["Invocation"]["InvocationResults"]["InvocationResult"]
            .as_array()
            .unwrap()
            .clone()
    }

    async fn result(&self, invoke_id: &str) -> Value {
        self.results(invoke_id).await.remove(0)
    }

    /// The invocation as DescribeInvocations shows it.
    async fn invocation(&self, invoke_id: &str) -> Value {
        let answer = self
            .ok("DescribeInvocations", &format!("InvokeId={invoke_id}"))
            .await;
        answer["Invocations"]["Invocation"][0].clone()
    }

    /// (status, version) of a plug-in record, as ListPluginStatus lists it.
    async fn plugin(&self, instance: &str, name: &str) -> (String, String) {
        let answer = self
            .ok(
                "ListPluginStatus",
                &format!("InstanceId.1={instance}&Name={name}"),
            )
            .await;
        let record = &answer["InstancePluginStatusSet"]["InstancePluginStatus"][0]
            ["PluginStatusSet"]["PluginStatus"][0];
        (
            record["PluginStatus"].as_str().unwrap().to_owned(),
            record["PluginVersion"].as_str().unwrap().to_owned(),
        )
    }
}

fn status(result: &Value) -> (&str, i64, &str) {
    (
        result["InvocationStatus"].as_str().unwrap(),
        result["ExitCode"].as_i64().unwrap(),
        result["ErrorCode"].as_str().unwrap(),
    )
}

/// Pending until delivered a second later, Running for a second, then Success; the times are
/// the clock's.
#[tokio::test]
async fn a_run_is_pending_then_running_then_done() {
    let mut test = Test::new().await;
    let id = test
        .run("acs-plugin-manager --version", &["i-linux"], "")
        .await;
    let pending = test.result(&id).await;
    assert_eq!(status(&pending), ("Pending", 0, ""));
    assert_eq!(pending["InvokeRecordStatus"], "Running");
    assert_eq!(pending["StartTime"], "");
    test.advance(1).await;
    let running = test.result(&id).await;
    assert_eq!(status(&running), ("Running", 0, ""));
    assert_eq!(running["StartTime"], "2026-03-01T00:00:01Z");
    assert_eq!(running["Repeats"], 1);
    test.advance(1).await;
    let done = test.result(&id).await;
    assert_eq!(status(&done), ("Success", 0, ""));
    assert_eq!(done["FinishedTime"], "2026-03-01T00:00:02Z");
    assert_eq!(done["Output"], "2.2.3.344\n");
    assert_eq!(done["InvokeRecordStatus"], "Finished");
    let invocation = test.invocation(&id).await;
    assert_eq!(invocation["InvocationStatus"], "Success");
    assert_eq!(invocation["InvokeStatus"], "Finished");
}

/// Each manager call leaves the plug-in record as the agent reports it.
#[tokio::test]
async fn every_manager_call_leaves_the_record_the_agent_reports() {
    let mut test = Test::new().await;
    let steps: [(&str, (&str, &str)); 7] = [
        (
            "acs-plugin-manager --exec --plugin p-persist --params --install",
            ("Running", "2.0"),
        ),
        (
            "acs-plugin-manager --exec --plugin p-persist --params --stop",
            ("Stopped", "2.0"),
        ),
        (
            "sudo acs-plugin-manager --exec --plugin p-persist --params --start",
            ("Running", "2.0"),
        ),
        (
            "acs-plugin-manager -e -P p-persist -p --restart",
            ("Running", "2.0"),
        ),
        (
            "acs-plugin-manager --exec --plugin p-persist --pluginVersion 1.0 --params --upgrade",
            ("Running", "1.0"),
        ),
        (
            "/usr/local/bin/acs-plugin-manager --remove --plugin p-persist",
            ("Removed", "1.0"),
        ),
        (
            "acs-plugin-manager --exec --plugin p-once",
            ("Installed", "1.0"),
        ),
    ];
    for (script, expected) in steps {
        let id = test.run(script, &["i-linux"], "").await;
        test.advance(2).await;
        let done = test.result(&id).await;
        assert_eq!(status(&done), ("Success", 0, ""), "{script}: {done}");
        let name = if script.contains("p-once") {
            "p-once"
        } else {
            "p-persist"
        };
        let (record, version) = test.plugin("i-linux", name).await;
        assert_eq!(
            (record.as_str(), version.as_str()),
            expected,
            "after {script}"
        );
    }
    // The remove's output, as the agent prints it.
    let id = test
        .run(
            "acs-plugin-manager --remove --plugin p-persist",
            &["i-linux"],
            "",
        )
        .await;
    test.advance(2).await;
    let again = test.result(&id).await;
    assert_eq!(status(&again), ("Failed", 234, "ExitCodeNonzero"));
    assert!(again["Output"]
        .as_str()
        .unwrap()
        .starts_with("RemovePlugin PACKAGE_NOT_FOUND: plugin not exist p-persist\n"));
}

/// A package neither installed nor in the catalog: exit 234 with the agent's words, and no
/// record made.
#[tokio::test]
async fn a_package_not_found_fails_and_changes_nothing() {
    let mut test = Test::new().await;
    let id = test
        .run(
            "acs-plugin-manager --exec --plugin nope --params --install",
            &["i-linux"],
            "",
        )
        .await;
    test.advance(2).await;
    let failed = test.result(&id).await;
    assert_eq!(status(&failed), ("Failed", 234, "ExitCodeNonzero"));
    assert_eq!(
        failed["Output"],
        "ExecutePluginOnlineOrLocal PACKAGE_NOT_FOUND: Could not found both local and online, \
         package[nope] version[]\n\n"
    );
    assert_eq!(
        failed["ErrorInfo"],
        "the command execution exit code is not zero."
    );
    let listed = test
        .api("ListPluginStatus", "InstanceId.1=i-linux&Name=nope")
        .await;
    assert_eq!(
        listed.code(),
        "InvalidPluginName.NotFound",
        "{}",
        listed.body
    );
}

/// No agent: Aborted after a second; an offline agent: Aborted at 60 s; a shell script on
/// Windows: Invalid; a run longer than its timeout: Timeout; the aggregates over them.
#[tokio::test]
async fn runs_that_cannot_run_end_as_the_vendor_says() {
    let mut test = Test::new().await;
    let mixed = test
        .run(
            "acs-plugin-manager --list",
            &["i-linux", "i-noagent", "i-offline", "i-windows"],
            "",
        )
        .await;
    let rule = json!({"contentRegex": "sleep", "durationSeconds": 30});
    let reply = send_request(&test.app, admin("POST", "/commands", Some(rule))).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let slow = test.run("sleep 100", &["i-linux"], "&Timeout=10").await;
    test.advance(2).await;
    let results = test.results(&mixed).await;
    let seen: Vec<_> = results.iter().map(status).collect();
    assert_eq!(
        seen,
        [
            ("Success", 0, ""),
            ("Aborted", 0, "ClientNotRunning"),
            ("Pending", 0, ""),
            ("Invalid", 0, "CommandNotApplicable"),
        ]
    );
    assert_eq!(results[1]["InvokeRecordStatus"], "Failed");
    assert_eq!(test.invocation(&mixed).await["InvocationStatus"], "Pending");
    test.advance(58).await;
    let offline = &test.results(&mixed).await[2];
    assert_eq!(status(offline), ("Aborted", 0, "DeliveryTimeout"));
    let invocation = test.invocation(&mixed).await;
    assert_eq!(invocation["InvocationStatus"], "PartialFailed");
    assert_eq!(invocation["InvokeStatus"], "PartialFailed");
    let killed = test.result(&slow).await;
    assert_eq!(status(&killed), ("Timeout", 1, "ExecutionTimeout"));
    assert_eq!(killed["FinishedTime"], "2026-03-01T00:00:11Z");
}

/// StopInvocation cancels a run not yet delivered; an old agent runs the script but reports
/// nothing; an agent coming online runs what waits for it.
#[tokio::test]
async fn stop_old_agents_and_agents_coming_online() {
    let mut test = Test::new().await;
    let stopped = test
        .run(
            "acs-plugin-manager --exec --plugin p-once",
            &["i-linux"],
            "",
        )
        .await;
    test.ok("StopInvocation", &format!("InvokeId={stopped}"))
        .await;
    let cancelled = test.result(&stopped).await;
    assert_eq!(status(&cancelled), ("Cancelled", 0, ""));
    assert_eq!(cancelled["StopTime"], START);
    assert_eq!(
        test.invocation(&stopped).await["InvocationStatus"],
        "Stopped"
    );

    let old = test
        .run("acs-plugin-manager --exec --plugin p-once", &["i-old"], "")
        .await;
    let waiting = test
        .run(
            "acs-plugin-manager --exec --plugin p-once",
            &["i-offline"],
            "",
        )
        .await;
    test.advance(5).await;
    assert_eq!(status(&test.result(&old).await), ("Success", 0, ""));
    let listed = test
        .api("ListPluginStatus", "InstanceId.1=i-old&Name=p-once")
        .await
        .json();
    let record = &listed["InstancePluginStatusSet"]["InstancePluginStatus"][0]["PluginStatusSet"]
        ["PluginStatus"][0];
    assert_eq!(record["PluginStatus"], "NotInstalled", "{listed}");
    assert_eq!(status(&test.result(&waiting).await), ("Pending", 0, ""));
    let online = json!({"online": true});
    let reply = send_request(
        &test.app,
        admin("PUT", "/instances/i-offline/cloud-assistant", Some(online)),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let delivered = test.result(&waiting).await;
    assert_eq!(delivered["InvocationStatus"], "Running");
    assert_eq!(delivered["StartTime"], "2026-03-01T00:00:05Z");
    test.advance(1).await;
    assert_eq!(test.plugin("i-offline", "p-once").await.0, "Installed");
}
