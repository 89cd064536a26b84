//! The Cloud Assistant agent (SPEC 9.2, 9.6, 9.7): DescribeCloudAssistantStatus in both
//! formats, with ids, filtered by OS and paged in both modes, with every error it can answer;
//! InstallCloudAssistant on the emulator's clock; and the control-plane routes that set an
//! agent's state and the command rules.
//!
//! Runs are made here by applying `Change::Invoke` to the app's own state, so that the counts
//! can be checked whatever RunCommand does.

mod common;

use axum::Router;
use chrono::{DateTime, Duration, Utc};
use ecs_emulator::engine::commands::{CommandType, Invocation, InvocationInstance, RunStatus};
use ecs_emulator::engine::Change;
use ecs_emulator::state::{AppState, SequentialRequestIds, WriteFailed};
use ecs_emulator::{app, fixture};
use serde_json::{json, Value};

use common::{admin, freeze, send, send_request, Reply};

const DEFAULT_ACCOUNT: &str = "1234567890123456";
const OTHER_ACCOUNT: &str = "2345678901234567";
const OTHER_KEY: &str = "LTAI5tAgentOther01";
const REGION: &str = "cn-hangzhou";
/// The frozen time of most tests.
const T: &str = "2026-01-01T00:00:00Z";

/// The default account's instances in cn-hangzhou, by id: i-bsd-05, i-linux-01, i-linux-02,
/// i-none-03, i-old-06, i-shared-07, i-win-04. The other account has i-other-01 and its own
/// i-shared-07 there; i-sh-01 is the default account's in cn-shanghai.
const FIXTURE: &str = r#"{
  "accounts": [
    {"accountId": "1234567890123456", "default": true,
     "accessKeys": [{"id": "LTAI5tAgentMain001", "secret": "main-secret"}]},
    {"accountId": "2345678901234567",
     "accessKeys": [{"id": "LTAI5tAgentOther01", "secret": "other-secret"}]}
  ],
  "instances": [
    {"instanceId": "i-linux-01", "regionId": "cn-hangzhou"},
    {"instanceId": "i-linux-02", "regionId": "cn-hangzhou",
     "cloudAssistant": {"online": false, "lastHeartbeatTime": "2025-12-31T23:00:00Z"}},
    {"instanceId": "i-none-03", "regionId": "cn-hangzhou",
     "cloudAssistant": {"installed": false, "online": false}},
    {"instanceId": "i-win-04", "regionId": "cn-hangzhou", "osType": "Windows",
     "cloudAssistant": {"version": "2.1.3.100"}},
    {"instanceId": "i-bsd-05", "regionId": "cn-hangzhou", "osType": "FreeBSD",
     "cloudAssistant": {"version": "2.2.3.189"}},
    {"instanceId": "i-old-06", "regionId": "cn-hangzhou",
     "cloudAssistant": {"version": "2.2.3.100"}},
    {"instanceId": "i-shared-07", "regionId": "cn-hangzhou"},
    {"instanceId": "i-sh-01", "regionId": "cn-shanghai"},
    {"instanceId": "i-other-01", "regionId": "cn-hangzhou", "accountId": "2345678901234567"},
    {"instanceId": "i-shared-07", "regionId": "cn-hangzhou", "accountId": "2345678901234567"}
  ]
}"#;

/// Every instance of the default account in cn-hangzhou, by id.
const ALL: [&str; 7] = [
    "i-bsd-05",
    "i-linux-01",
    "i-linux-02",
    "i-none-03",
    "i-old-06",
    "i-shared-07",
    "i-win-04",
];

fn setup() -> (AppState, Router) {
    let store = fixture::load_str("agent fixture", FIXTURE).expect("the fixture is valid");
    let state = AppState::with_request_ids(store, SequentialRequestIds::default());
    let router = app(state.clone());
    (state, router)
}

fn time(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

fn later(seconds: i64) -> String {
    (time(T) + Duration::seconds(seconds)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// A control-plane request; `path` starts with `/_emulator`.
async fn call(app: &Router, method: &str, path: &str, body: Option<Value>) -> Reply {
    let below = path
        .strip_prefix("/_emulator")
        .expect("a control-plane path");
    send_request(app, admin(method, below, body)).await
}

/// Freezes the emulator's clock at `now`.
/// DescribeCloudAssistantStatus in cn-hangzhou, JSON.
async fn describe(app: &Router, query: &str) -> Reply {
    let base = "Action=DescribeCloudAssistantStatus&Version=2014-05-26&Format=JSON";
    send(app, &format!("{base}&RegionId={REGION}&{query}")).await
}

/// A successful DescribeCloudAssistantStatus answer.
async fn described(app: &Router, query: &str) -> Value {
    let reply = describe(app, query).await;
    assert_eq!(reply.status, 200, "{query}: {}", reply.body);
    reply.json()
}

async fn install(app: &Router, query: &str) -> Reply {
    let base = "Action=InstallCloudAssistant&Version=2014-05-26&Format=JSON";
    send(app, &format!("{base}&{query}")).await
}

/// The entries of an answer.
fn entries(body: &Value) -> Vec<Value> {
    body["InstanceCloudAssistantStatusSet"]["InstanceCloudAssistantStatus"]
        .as_array()
        .unwrap_or_else(|| panic!("no entries: {body}"))
        .clone()
}

fn ids(body: &Value) -> Vec<String> {
    entries(body)
        .iter()
        .map(|e| e["InstanceId"].as_str().unwrap().to_owned())
        .collect()
}

/// The one entry of an answer about one instance.
async fn status_of(app: &Router, instance: &str) -> Value {
    let body = described(app, &format!("InstanceId.1={instance}")).await;
    let mut all = entries(&body);
    assert_eq!(all.len(), 1, "{body}");
    all.remove(0)
}

/// An entry as the wire shows it.
#[allow(clippy::too_many_arguments)] // one argument per field of the wire entry
fn entry(
    id: &str,
    status: &str,
    version: &str,
    heartbeat: &str,
    os: &str,
    session_manager: bool,
    counts: (u64, u64),
    last_invoked: &str,
) -> Value {
    json!({
        "CloudAssistantStatus": status,
        "LastInvokedTime": last_invoked,
        "CloudAssistantVersion": version,
        "ActiveTaskCount": counts.0,
        "InvocationCount": counts.1,
        "InstanceId": id,
        "LastHeartbeatTime": heartbeat,
        "OSType": os,
        "SupportSessionManager": session_manager,
    })
}

/// Every instance of the default account at T with no runs, by id.
fn idle_entries() -> Vec<Value> {
    vec![
        entry(
            "i-bsd-05",
            "true",
            "2.2.3.189",
            T,
            "FreeBSD",
            true,
            (0, 0),
            "",
        ),
        entry(
            "i-linux-01",
            "true",
            "2.2.3.344",
            T,
            "Linux",
            true,
            (0, 0),
            "",
        ),
        entry(
            "i-linux-02",
            "false",
            "",
            "2025-12-31T23:00:00Z",
            "Linux",
            true,
            (0, 0),
            "",
        ),
        entry("i-none-03", "false", "", "", "Linux", false, (0, 0), ""),
        entry(
            "i-old-06",
            "true",
            "2.2.3.100",
            T,
            "Linux",
            false,
            (0, 0),
            "",
        ),
        entry(
            "i-shared-07",
            "true",
            "2.2.3.344",
            T,
            "Linux",
            true,
            (0, 0),
            "",
        ),
        entry(
            "i-win-04",
            "true",
            "2.1.3.100",
            T,
            "Windows",
            false,
            (0, 0),
            "",
        ),
    ]
}

#[tokio::test]
async fn every_instance_in_the_region_in_json() {
    let (_, app) = setup();
    freeze(&app, "2026-01-01T00:00:00.900Z").await;
    let reply = describe(&app, "").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        reply.header("content-type"),
        Some("application/json;charset=utf-8")
    );
    let body = reply.json();
    let request_id = body["RequestId"].as_str().unwrap().to_owned();
    assert_eq!(reply.header("x-acs-request-id"), Some(request_id.as_str()));
    assert_eq!(
        body,
        json!({
            "PageSize": 10,
            "RequestId": request_id,
            "PageNumber": 1,
            "TotalCount": 7,
            "InstanceCloudAssistantStatusSet": {"InstanceCloudAssistantStatus": idle_entries()},
        })
    );
    // Keys in the vendor sample's order; no NextToken on the last page.
    let prefix = format!(
        r#"{{"PageSize":10,"RequestId":"{request_id}","PageNumber":1,"TotalCount":7,"InstanceCloudAssistantStatusSet":{{"InstanceCloudAssistantStatus":[{{"CloudAssistantStatus":"true","LastInvokedTime":"","CloudAssistantVersion":"2.2.3.189","ActiveTaskCount":0,"InvocationCount":0,"InstanceId":"i-bsd-05","LastHeartbeatTime":"{T}","OSType":"FreeBSD","SupportSessionManager":true}}"#
    );
    assert!(reply.body.starts_with(&prefix), "{}", reply.body);

    // Another account sees its own instances only; a region with none answers none.
    let other = described(&app, &format!("AccessKeyId={OTHER_KEY}")).await;
    assert_eq!(ids(&other), ["i-other-01", "i-shared-07"]);
    let empty = send(
        &app,
        "Action=DescribeCloudAssistantStatus&Version=2014-05-26&Format=JSON&RegionId=cn-beijing",
    )
    .await
    .json();
    assert_eq!(empty["TotalCount"], 0);
    assert_eq!(
        empty["InstanceCloudAssistantStatusSet"],
        json!({"InstanceCloudAssistantStatus": []})
    );
}

#[tokio::test]
async fn the_same_answer_in_xml() {
    let (_, app) = setup();
    freeze(&app, T).await;
    let query = format!(
        "Action=DescribeCloudAssistantStatus&Version=2014-05-26&Format=XML&RegionId={REGION}\
         &InstanceId.1=i-linux-02&InstanceId.2=i-win-04"
    );
    let reply = send(&app, &query).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.header("content-type"), Some("text/xml;charset=utf-8"));
    let request_id = reply.header("x-acs-request-id").unwrap();
    let expected = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><DescribeCloudAssistantStatusResponse><PageSize>2</PageSize><RequestId>{request_id}</RequestId><PageNumber>1</PageNumber><TotalCount>2</TotalCount><InstanceCloudAssistantStatusSet><InstanceCloudAssistantStatus><CloudAssistantStatus>false</CloudAssistantStatus><LastInvokedTime/><CloudAssistantVersion/><ActiveTaskCount>0</ActiveTaskCount><InvocationCount>0</InvocationCount><InstanceId>i-linux-02</InstanceId><LastHeartbeatTime>2025-12-31T23:00:00Z</LastHeartbeatTime><OSType>Linux</OSType><SupportSessionManager>true</SupportSessionManager></InstanceCloudAssistantStatus><InstanceCloudAssistantStatus><CloudAssistantStatus>true</CloudAssistantStatus><LastInvokedTime/><CloudAssistantVersion>2.1.3.100</CloudAssistantVersion><ActiveTaskCount>0</ActiveTaskCount><InvocationCount>0</InvocationCount><InstanceId>i-win-04</InstanceId><LastHeartbeatTime>{T}</LastHeartbeatTime><OSType>Windows</OSType><SupportSessionManager>false</SupportSessionManager></InstanceCloudAssistantStatus></InstanceCloudAssistantStatusSet></DescribeCloudAssistantStatusResponse>"#
    );
    assert_eq!(reply.body, expected);
}

#[tokio::test]
async fn ids_are_answered_on_one_page_in_n_order_paging_ignored() {
    let (_, app) = setup();
    freeze(&app, T).await;
    // Paging parameters are neither checked nor used beside ids; OSType does not filter them.
    let body = described(
        &app,
        "InstanceId.3=i-win-04&InstanceId.1=i-none-03&InstanceId.2=i-win-04&InstanceId.4=\
         &PageSize=1&PageNumber=0&MaxResults=999&NextToken=garbage&OSType=FreeBSD",
    )
    .await;
    assert_eq!(body["PageSize"], 2);
    assert_eq!(body["PageNumber"], 1);
    assert_eq!(body["TotalCount"], 2);
    assert!(body.get("NextToken").is_none(), "{body}");
    let all = idle_entries();
    assert_eq!(entries(&body), [all[3].clone(), all[6].clone()]);

    // As many as 100 ids, N up to 100.
    let many: String = (1..=100)
        .map(|n| format!("&InstanceId.{n}={}", ALL[n % ALL.len()]))
        .collect();
    let body = described(&app, &many[1..]).await;
    assert_eq!(body["PageSize"], 7);
    assert_eq!(body["TotalCount"], 7);
    assert_eq!(ids(&body)[0], "i-linux-01");
}

#[tokio::test]
async fn os_type_filters_the_listing() {
    let (_, app) = setup();
    freeze(&app, T).await;
    for (os, expected) in [
        ("Windows", vec!["i-win-04"]),
        ("FreeBSD", vec!["i-bsd-05"]),
        (
            "Linux",
            vec![
                "i-linux-01",
                "i-linux-02",
                "i-none-03",
                "i-old-06",
                "i-shared-07",
            ],
        ),
        // Other values match none.
        ("linux", vec![]),
        ("Solaris", vec![]),
    ] {
        let body = described(&app, &format!("OSType={os}")).await;
        assert_eq!(ids(&body), expected, "{os}");
        assert_eq!(body["TotalCount"], expected.len(), "{os}");
        assert!(body.get("NextToken").is_none(), "{os}");
    }
    // Filtered pages in both modes.
    let first = described(&app, "OSType=Linux&PageSize=3").await;
    assert_eq!(ids(&first), ["i-linux-01", "i-linux-02", "i-none-03"]);
    assert_eq!(
        (&first["TotalCount"], &first["PageSize"]),
        (&json!(5), &json!(3))
    );
    assert!(first["NextToken"].is_string());
    let second = described(&app, "OSType=Linux&PageSize=3&PageNumber=2").await;
    assert_eq!(ids(&second), ["i-old-06", "i-shared-07"]);
    assert!(second.get("NextToken").is_none());
    let walk = described(&app, "OSType=Linux&MaxResults=4").await;
    assert_eq!(ids(&walk).len(), 4);
    let token = walk["NextToken"].as_str().unwrap().to_owned();
    let rest = described(
        &app,
        &format!("OSType=Linux&MaxResults=4&NextToken={token}"),
    )
    .await;
    assert_eq!(ids(&rest), ["i-shared-07"]);
    // The token belongs to the filter it was issued for.
    for query in [
        format!("NextToken={token}"),
        format!("OSType=Windows&NextToken={token}"),
    ] {
        let reply = describe(&app, &query).await;
        assert_eq!(reply.status, 400, "{query}");
        assert_eq!(reply.code(), "InvalidParameter.NextToken");
    }
}

#[tokio::test]
async fn paging_in_page_mode_and_token_mode() {
    let (_, app) = setup();
    freeze(&app, T).await;
    let first = described(&app, "PageSize=4").await;
    assert_eq!(ids(&first), ALL[..4]);
    assert_eq!(
        (&first["PageNumber"], &first["PageSize"]),
        (&json!(1), &json!(4))
    );
    assert_eq!(first["TotalCount"], 7);
    assert!(first["NextToken"].is_string());
    let second = described(&app, "PageSize=4&PageNumber=2").await;
    assert_eq!(ids(&second), ALL[4..]);
    assert!(second.get("NextToken").is_none());
    let past = described(&app, "PageSize=4&PageNumber=9223372036854775807").await;
    assert!(ids(&past).is_empty());
    assert_eq!(past["TotalCount"], 7);

    // Token mode: no PageNumber or PageSize; a walk sees each instance once, and one added
    // behind the cursor mid-walk is not seen while one added ahead is.
    let walk = described(&app, "MaxResults=3&PageNumber=0&PageSize=x").await;
    assert!(walk.get("PageNumber").is_none() && walk.get("PageSize").is_none());
    assert_eq!(ids(&walk), ALL[..3]);
    assert_eq!(walk["TotalCount"], 7);
    for id in ["i-aaa-00", "i-zzz-99"] {
        let reply = call(
            &app,
            "PUT",
            &format!("/_emulator/instances/{id}"),
            Some(json!({"regionId": REGION})),
        )
        .await;
        assert_eq!(reply.status, 201, "{}", reply.body);
    }
    let mut seen = ids(&walk);
    let mut token = walk["NextToken"].as_str().unwrap().to_owned();
    loop {
        let page = described(&app, &format!("MaxResults=3&NextToken={token}")).await;
        assert_eq!(page["TotalCount"], 9);
        seen.extend(ids(&page));
        match page.get("NextToken").and_then(Value::as_str) {
            Some(next) => token = next.to_owned(),
            None => break,
        }
    }
    let mut expected: Vec<String> = ALL.iter().map(|s| s.to_string()).collect();
    expected.push("i-zzz-99".into());
    assert_eq!(seen, expected);

    // A token is the caller's: another account, region or operation cannot use it.
    let reply = describe(&app, &format!("AccessKeyId={OTHER_KEY}&NextToken={token}")).await;
    assert_eq!(reply.code(), "InvalidParameter.NextToken");
    let elsewhere = send(
        &app,
        &format!(
            "Action=DescribeCloudAssistantStatus&Version=2014-05-26&Format=JSON\
             &RegionId=cn-shanghai&NextToken={token}"
        ),
    )
    .await;
    assert_eq!(elsewhere.code(), "InvalidParameter.NextToken");
}

#[tokio::test]
async fn every_error_it_answers() {
    let (_, app) = setup();
    let base = "Action=DescribeCloudAssistantStatus&Version=2014-05-26&Format=JSON";
    let invalid_page = "The specified parameter is invalid.";
    let not_found = "The specified instance does not exist.";
    for (query, status, code, message) in [
        (
            "",
            400,
            "MissingRegionId",
            "RegionId is mandatory for this action.",
        ),
        // RegionId first.
        (
            "InstanceId.101=i-linux-01&PageSize=0",
            400,
            "MissingRegionId",
            "RegionId is mandatory for this action.",
        ),
        (
            "RegionId=cn-atlantis",
            404,
            "InvalidRegionId.NotFound",
            "The RegionId provided does not exist in our records.",
        ),
        (
            "RegionId=cn-hangzhou&InstanceId.0=i-linux-01",
            400,
            "InvalidParameter",
            "The specified parameter \"InstanceId.0\" is not valid: N of InstanceId.N must be a \
             whole number from 1 to 100",
        ),
        (
            "RegionId=cn-hangzhou&InstanceId=i-linux-01",
            400,
            "InvalidParameter",
            "The specified parameter \"InstanceId\" is not valid: instance ids are given as \
             InstanceId.N, N from 1 to 100",
        ),
        // Ids before paging.
        (
            "RegionId=cn-hangzhou&InstanceId.101=i-linux-01&PageSize=0",
            403,
            "InstanceIds.ExceedLimit",
            "The number of instance IDs exceeds the upper limit.",
        ),
        (
            "RegionId=cn-hangzhou&PageNumber=0",
            400,
            "InvalidParam.PageNumber",
            invalid_page,
        ),
        (
            "RegionId=cn-hangzhou&PageSize=51",
            400,
            "InvalidParam.PageSize",
            invalid_page,
        ),
        (
            "RegionId=cn-hangzhou&PageSize=0&PageNumber=1",
            400,
            "InvalidParam.PageSize",
            invalid_page,
        ),
        (
            "RegionId=cn-hangzhou&MaxResults=51",
            400,
            "InvalidParameter.MaxResults",
            "The specified parameter MaxResults is not valid.",
        ),
        (
            "RegionId=cn-hangzhou&NextToken=garbage",
            400,
            "InvalidParameter.NextToken",
            "The specified parameter NextToken is not valid.",
        ),
        // Existence last, in N order; paging is not read beside ids.
        (
            "RegionId=cn-hangzhou&InstanceId.1=i-ghost&PageSize=0",
            404,
            "InvalidInstance.NotFound",
            not_found,
        ),
        (
            "RegionId=cn-hangzhou&InstanceId.1=i-linux-01&InstanceId.2=i-other-01",
            404,
            "InvalidInstance.NotFound",
            not_found,
        ),
        (
            "RegionId=cn-hangzhou&InstanceId.1=i-sh-01",
            404,
            "InvalidInstance.NotFound",
            not_found,
        ),
    ] {
        let reply = send(&app, &format!("{base}&{query}")).await;
        assert_eq!(reply.status, status, "{query}: {}", reply.body);
        let body = reply.json();
        assert_eq!(body["Code"], code, "{query}");
        assert_eq!(body["Message"], message, "{query}");
    }
}

/// One run of an invocation made directly in the data.
fn run(
    instance: &str,
    status: RunStatus,
    start: Option<&str>,
    created: &str,
) -> InvocationInstance {
    let created = time(created);
    InvocationInstance {
        instance_id: instance.into(),
        status,
        content: Vec::new(),
        exit_code: 0,
        output: Vec::new(),
        dropped: 0,
        error_code: String::new(),
        error_info: String::new(),
        creation_time: created,
        start_time: start.map(time),
        finish_time: None,
        stop_time: None,
        update_time: created,
        repeats: u32::from(start.is_some()),
        next_check: created + Duration::seconds(1),
        rule: None,
    }
}

/// Stores an invocation of `runs` in the account and region, as RunCommand would.
async fn invoke(
    state: &AppState,
    account: &str,
    region: &str,
    id: &str,
    content: &str,
    runs: Vec<InvocationInstance>,
) {
    let created = runs[0].creation_time;
    let runs = runs
        .into_iter()
        .map(|mut run| {
            run.content = content.as_bytes().to_vec();
            run
        })
        .collect();
    let invocation = Invocation {
        id: id.into(),
        command_id: "c-agenttests0001".into(),
        command_name: String::new(),
        command_description: String::new(),
        command_type: CommandType::RunShellScript,
        content: content.as_bytes().to_vec(),
        parameters: "{}".into(),
        timeout: 60,
        working_dir: String::new(),
        username: "root".into(),
        repeat_mode: "Once".into(),
        creation_time: created,
        launcher: None,
        container_id: None,
        container_name: None,
        termination_mode: None,
        oss_output_delivery: None,
        tags: vec![],
        instances: runs,
    };
    let change = Change::Invoke {
        account: account.into(),
        region: region.into(),
        invocation,
    };
    state
        .write(|draft| draft.apply(change).map(drop).map_err(WriteFailed::from))
        .await
        .expect("the invocation is stored");
}

#[tokio::test]
async fn counts_follow_the_runs_of_each_instance() {
    let (state, app) = setup();
    freeze(&app, T).await;
    let hour_ago = "2025-12-31T23:00:00Z";
    let minutes_ago = "2025-12-31T23:50:00Z";
    invoke(
        &state,
        DEFAULT_ACCOUNT,
        REGION,
        "t-agenttests0001",
        "true",
        vec![
            run(
                "i-linux-01",
                RunStatus::Success,
                Some("2025-12-31T23:01:00Z"),
                hour_ago,
            ),
            run(
                "i-win-04",
                RunStatus::Failed,
                Some("2025-12-31T23:02:00Z"),
                hour_ago,
            ),
            run("i-none-03", RunStatus::Aborted, None, hour_ago),
        ],
    )
    .await;
    invoke(
        &state,
        DEFAULT_ACCOUNT,
        REGION,
        "t-agenttests0002",
        "true",
        vec![
            run(
                "i-linux-01",
                RunStatus::Timeout,
                Some("2025-12-31T23:51:00Z"),
                minutes_ago,
            ),
            // Started now: it ends a second from now.
            run("i-win-04", RunStatus::Running, Some(T), minutes_ago),
            run("i-old-06", RunStatus::Cancelled, None, minutes_ago),
            run("i-none-03", RunStatus::Invalid, None, minutes_ago),
        ],
    )
    .await;
    // Made now: delivered a second from now.
    invoke(
        &state,
        DEFAULT_ACCOUNT,
        REGION,
        "t-agenttests0003",
        "true",
        vec![run("i-bsd-05", RunStatus::Pending, None, T)],
    )
    .await;
    // Runs of another account, and of another region, count for their own instances only.
    invoke(
        &state,
        OTHER_ACCOUNT,
        REGION,
        "t-agenttests0004",
        "true",
        vec![run(
            "i-shared-07",
            RunStatus::Success,
            Some(hour_ago),
            hour_ago,
        )],
    )
    .await;
    invoke(
        &state,
        DEFAULT_ACCOUNT,
        "cn-shanghai",
        "t-agenttests0005",
        "true",
        vec![run("i-sh-01", RunStatus::Success, Some(hour_ago), hour_ago)],
    )
    .await;

    let counts = |body: &Value| -> Vec<(String, u64, u64, String)> {
        entries(body)
            .iter()
            .map(|e| {
                (
                    e["InstanceId"].as_str().unwrap().to_owned(),
                    e["ActiveTaskCount"].as_u64().unwrap(),
                    e["InvocationCount"].as_u64().unwrap(),
                    e["LastInvokedTime"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    let row = |id: &str, active, ended, last: &str| (id.to_owned(), active, ended, last.to_owned());
    let body = described(&app, "").await;
    assert_eq!(
        counts(&body),
        [
            row("i-bsd-05", 0, 0, ""),
            row("i-linux-01", 0, 2, "2025-12-31T23:51:00Z"),
            row("i-linux-02", 0, 0, ""),
            row("i-none-03", 0, 0, ""),
            row("i-old-06", 0, 0, ""),
            row("i-shared-07", 0, 0, ""),
            row("i-win-04", 1, 1, T),
        ]
    );
    let other = described(
        &app,
        &format!("AccessKeyId={OTHER_KEY}&InstanceId.1=i-shared-07"),
    )
    .await;
    assert_eq!(
        counts(&other),
        [row("i-shared-07", 0, 1, "2025-12-31T23:00:00Z")]
    );

    // A second on: the running run has ended, the pending one runs.
    freeze(&app, &later(1)).await;
    let body = described(&app, "InstanceId.1=i-win-04&InstanceId.2=i-bsd-05").await;
    assert_eq!(
        counts(&body),
        [row("i-win-04", 0, 2, T), row("i-bsd-05", 1, 0, &later(1))]
    );
    freeze(&app, &later(2)).await;
    let body = described(&app, "InstanceId.1=i-bsd-05").await;
    assert_eq!(counts(&body), [row("i-bsd-05", 0, 1, &later(1))]);
}

#[tokio::test]
async fn install_cloud_assistant_on_the_clock() {
    let (_, app) = setup();
    freeze(&app, T).await;
    // An agent-less instance, set up through the control plane.
    let reply = call(
        &app,
        "PUT",
        "/_emulator/instances/i-linux-01/cloud-assistant",
        Some(json!({"installed": false, "online": false, "version": "1.0.0.1"})),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        reply.json(),
        json!({"installed": false, "online": false, "version": "1.0.0.1"})
    );
    let absent = status_of(&app, "i-linux-01").await;
    assert_eq!(
        absent,
        entry("i-linux-01", "false", "", "", "Linux", false, (0, 0), "")
    );

    // The installed one in the same call is left alone.
    let reply = install(
        &app,
        &format!("RegionId={REGION}&InstanceId.1=i-linux-01&InstanceId.2=i-win-04"),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let body = reply.json();
    assert_eq!(body, json!({"RequestId": body["RequestId"]}));
    assert!(body["RequestId"].is_string());

    freeze(&app, &later(9)).await;
    assert_eq!(
        status_of(&app, "i-linux-01").await["CloudAssistantStatus"],
        "false"
    );
    freeze(&app, &later(10)).await;
    let ready = status_of(&app, "i-linux-01").await;
    let now = later(10);
    assert_eq!(
        ready,
        entry(
            "i-linux-01",
            "true",
            "2.2.3.344",
            &now,
            "Linux",
            true,
            (0, 0),
            ""
        )
    );
    let left_alone = status_of(&app, "i-win-04").await;
    assert_eq!(
        left_alone,
        entry(
            "i-win-04",
            "true",
            "2.1.3.100",
            &now,
            "Windows",
            false,
            (0, 0),
            ""
        )
    );
    // The agent's state as the control plane shows it: heartbeat at its ready time.
    let instance = call(&app, "GET", "/_emulator/instances/i-linux-01", None).await;
    assert_eq!(
        instance.json()["cloudAssistant"],
        json!({"installed": true, "online": true, "version": "2.2.3.344",
               "lastHeartbeatTime": now})
    );

    // Installing an installed agent again changes nothing; the answer is XML on request.
    let xml = send(
        &app,
        &format!(
            "Action=InstallCloudAssistant&Version=2014-05-26&Format=XML&RegionId={REGION}\
             &InstanceId.1=i-linux-01"
        ),
    )
    .await;
    assert_eq!(xml.status, 200, "{}", xml.body);
    let request_id = xml.header("x-acs-request-id").unwrap();
    assert_eq!(
        xml.body,
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><InstallCloudAssistantResponse><RequestId>{request_id}</RequestId></InstallCloudAssistantResponse>"#
        )
    );
    assert_eq!(status_of(&app, "i-linux-01").await, ready);
}

#[tokio::test]
async fn install_cloud_assistant_errors_change_nothing() {
    let (_, app) = setup();
    freeze(&app, T).await;
    let not_found = "The specified instance does not exist.";
    let missing = "The parameter instanceId is missing or empty.";
    for (query, status, code, message) in [
        (
            "",
            400,
            "MissingRegionId",
            "RegionId is mandatory for this action.",
        ),
        (
            "InstanceId.1=i-none-03",
            400,
            "MissingRegionId",
            "RegionId is mandatory for this action.",
        ),
        (
            "RegionId=cn-atlantis&InstanceId.1=i-none-03",
            404,
            "InvalidRegionId.NotFound",
            "The RegionId provided does not exist in our records.",
        ),
        (
            "RegionId=cn-hangzhou",
            400,
            "MissingParam.InstanceId",
            missing,
        ),
        (
            "RegionId=cn-hangzhou&InstanceId.1=",
            400,
            "MissingParam.InstanceId",
            missing,
        ),
        (
            "RegionId=cn-hangzhou&InstanceIds=i-none-03",
            400,
            "MissingParam.InstanceId",
            missing,
        ),
        (
            "RegionId=cn-hangzhou&InstanceId.0=i-none-03",
            400,
            "InvalidParameter",
            "The specified parameter \"InstanceId.0\" is not valid: N of InstanceId.N must be a \
             whole number from 1 to 50",
        ),
        (
            "RegionId=cn-hangzhou&InstanceId.51=i-none-03",
            403,
            "InstanceIds.ExceedLimit",
            "The number of instance IDs exceeds the upper limit.",
        ),
        (
            "RegionId=cn-hangzhou&InstanceId.1=i-none-03&InstanceId.2=i-ghost",
            404,
            "InvalidInstance.NotFound",
            not_found,
        ),
        (
            "RegionId=cn-hangzhou&InstanceId.1=i-none-03&InstanceId.2=i-other-01",
            404,
            "InvalidInstance.NotFound",
            not_found,
        ),
        (
            "RegionId=cn-hangzhou&InstanceId.1=i-sh-01",
            404,
            "InvalidInstance.NotFound",
            not_found,
        ),
    ] {
        let reply = install(&app, query).await;
        assert_eq!(reply.status, status, "{query}: {}", reply.body);
        let body = reply.json();
        assert_eq!(body["Code"], code, "{query}");
        assert_eq!(body["Message"], message, "{query}");
    }
    // 50 ids are accepted.
    let fifty: String = (1..=50)
        .map(|n| format!("&InstanceId.{n}={}", ALL[n % ALL.len()]))
        .collect();
    let reply = install(&app, &format!("RegionId={REGION}{fifty}")).await;
    assert_eq!(reply.status, 200, "{}", reply.body);

    // The refused calls installed nothing: only the accepted one did.
    let instance = call(&app, "GET", "/_emulator/instances/i-none-03", None).await;
    assert_eq!(instance.json()["cloudAssistant"]["installed"], false);
    freeze(&app, &later(10)).await;
    assert_eq!(
        status_of(&app, "i-none-03").await["CloudAssistantStatus"],
        "true"
    );
}

#[tokio::test]
async fn the_agent_route_merges_and_delivers_waiting_runs() {
    let (state, app) = setup();
    freeze(&app, T).await;
    // A run waits for the offline agent of i-linux-02.
    invoke(
        &state,
        DEFAULT_ACCOUNT,
        REGION,
        "t-agenttests0010",
        "true",
        vec![run("i-linux-02", RunStatus::Pending, None, T)],
    )
    .await;
    freeze(&app, &later(5)).await;
    let waiting = status_of(&app, "i-linux-02").await;
    assert_eq!(waiting["ActiveTaskCount"], 0);

    // Only the fields given change; the answer is the whole state.
    let path =
        format!("/_emulator/instances/i-linux-02/cloud-assistant?accountId={DEFAULT_ACCOUNT}");
    let reply = call(&app, "PUT", &path, Some(json!({"online": true}))).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        reply.json(),
        json!({"installed": true, "online": true, "version": "2.2.3.344",
               "lastHeartbeatTime": "2025-12-31T23:00:00Z"})
    );
    // Online from now: the waiting run is delivered now.
    let online = status_of(&app, "i-linux-02").await;
    assert_eq!(
        online,
        entry(
            "i-linux-02",
            "true",
            "2.2.3.344",
            &later(5),
            "Linux",
            true,
            (1, 0),
            &later(5)
        )
    );
    let reply = call(
        &app,
        "PUT",
        &path,
        Some(json!({"version": "2.2.4.1", "lastHeartbeatTime": "2026-01-01T00:00:03Z"})),
    )
    .await;
    assert_eq!(
        reply.json(),
        json!({"installed": true, "online": true, "version": "2.2.4.1",
               "lastHeartbeatTime": "2026-01-01T00:00:03Z"})
    );
    // Empty changes nothing; the state is durable data, exported with the instance.
    let reply = call(&app, "PUT", &path, Some(json!({}))).await;
    assert_eq!(reply.json()["version"], "2.2.4.1");
    let exported = call(&app, "GET", "/_emulator/state", None).await.json();
    let instance = exported["instances"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["instanceId"] == "i-linux-02")
        .unwrap()
        .clone();
    assert_eq!(instance["cloudAssistant"]["version"], "2.2.4.1");

    // Setting `installed` calls off an installation under way.
    let none = "/_emulator/instances/i-none-03/cloud-assistant";
    let reply = install(&app, &format!("RegionId={REGION}&InstanceId.1=i-none-03")).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let reply = call(&app, "PUT", none, Some(json!({"installed": false}))).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    freeze(&app, &later(60)).await;
    assert_eq!(
        status_of(&app, "i-none-03").await["CloudAssistantStatus"],
        "false"
    );
}

/// Asserts a control-plane error: status, code, and the field named first in the message.
fn refused(reply: &Reply, status: u16, code: &str, field: &str) {
    assert_eq!(reply.status, status, "{}", reply.body);
    let body = reply.json();
    assert_eq!(body["code"], code, "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(
        message.starts_with(&format!("{field}: ")),
        "{field}: {message}"
    );
}

#[tokio::test]
async fn the_agent_route_refuses_bad_bodies_and_unknown_instances() {
    let (_, app) = setup();
    let path = "/_emulator/instances/i-linux-01/cloud-assistant";
    for (body, field) in [
        (json!({"version": "two"}), "version"),
        (json!({"version": "1..2"}), "version"),
        (json!({"version": "1".repeat(33)}), "version"),
        (json!({"installed": "yes"}), "installed"),
        (json!({"online": 1}), "online"),
        (
            json!({"lastHeartbeatTime": "yesterday"}),
            "lastHeartbeatTime",
        ),
    ] {
        let reply = call(&app, "PUT", path, Some(body.clone())).await;
        refused(&reply, 400, "InvalidField", field);
    }
    let reply = call(&app, "PUT", path, Some(json!({"bogus": true}))).await;
    assert_eq!(
        (reply.status, reply.json()["code"].clone()),
        (400, json!("InvalidField"))
    );
    assert!(reply.body.contains("bogus"), "{}", reply.body);
    let reply = call(&app, "PUT", path, None).await;
    refused(&reply, 400, "InvalidJson", "body");

    // Unknown instances; the account named must exist and hold it; an id in two accounts
    // needs one.
    let reply = call(
        &app,
        "PUT",
        "/_emulator/instances/i-ghost/cloud-assistant",
        Some(json!({})),
    )
    .await;
    refused(&reply, 404, "InstanceNotFound", "instanceId");
    let reply = call(
        &app,
        "PUT",
        &format!("{path}?accountId={OTHER_ACCOUNT}"),
        Some(json!({})),
    )
    .await;
    refused(&reply, 404, "InstanceNotFound", "instanceId");
    let reply = call(
        &app,
        "PUT",
        &format!("{path}?accountId=999"),
        Some(json!({})),
    )
    .await;
    refused(&reply, 400, "InvalidField", "accountId");
    let reply = call(&app, "PUT", &format!("{path}?bogus=1"), Some(json!({}))).await;
    refused(&reply, 400, "InvalidField", "bogus");
    let shared = "/_emulator/instances/i-shared-07/cloud-assistant";
    let reply = call(&app, "PUT", shared, Some(json!({"online": false}))).await;
    refused(&reply, 400, "InvalidField", "accountId");
    let reply = call(
        &app,
        "PUT",
        &format!("{shared}?accountId={OTHER_ACCOUNT}"),
        Some(json!({"online": false})),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    // Only the other account's instance went offline.
    freeze(&app, T).await;
    assert_eq!(
        status_of(&app, "i-shared-07").await["CloudAssistantStatus"],
        "true"
    );
    let theirs = described(
        &app,
        &format!("AccessKeyId={OTHER_KEY}&InstanceId.1=i-shared-07"),
    )
    .await;
    assert_eq!(entries(&theirs)[0]["CloudAssistantStatus"], "false");
    // Nothing else changed.
    assert_eq!(
        call(&app, "GET", "/_emulator/instances/i-linux-01", None)
            .await
            .json()["cloudAssistant"],
        json!({"installed": true, "online": true, "version": "2.2.3.344"})
    );
}

#[tokio::test]
async fn command_rules_are_added_listed_read_and_deleted() {
    let (_, app) = setup();
    let reply = call(&app, "GET", "/_emulator/commands", None).await;
    assert_eq!((reply.status, reply.json()), (200, json!({"rules": []})));

    let reply = call(
        &app,
        "POST",
        "/_emulator/commands",
        Some(json!({"contentRegex": "reboot", "exitCode": 3})),
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let first = json!({"id": "r-1", "fired": 0, "contentRegex": "reboot", "exitCode": 3});
    assert_eq!(reply.json(), first);
    let every_field = json!({
        "contentRegex": "acs-plugin-manager .*--plugin ecs_tools_test",
        "instanceId": "i-linux-01",
        "regionId": REGION,
        "accountId": DEFAULT_ACCOUNT,
        "exitCode": 0,
        "output": "line 1\nline 2\n",
        "durationSeconds": 30,
        "times": 2,
    });
    let reply = call(
        &app,
        "POST",
        "/_emulator/commands",
        Some(every_field.clone()),
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let mut second = every_field;
    second["id"] = json!("r-2");
    second["fired"] = json!(0);
    assert_eq!(reply.json(), second);

    let listed = call(&app, "GET", "/_emulator/commands", None).await.json();
    assert_eq!(listed, json!({"rules": [first, second]}));
    let one = call(&app, "GET", "/_emulator/commands/r-2", None).await;
    assert_eq!((one.status, one.json()), (200, second.clone()));

    let reply = call(&app, "DELETE", "/_emulator/commands/r-1", None).await;
    assert_eq!((reply.status, reply.body.as_str()), (204, ""));
    for method in ["GET", "DELETE"] {
        let reply = call(&app, method, "/_emulator/commands/r-1", None).await;
        refused(&reply, 404, "CommandRuleNotFound", "id");
    }
    let listed = call(&app, "GET", "/_emulator/commands", None).await.json();
    assert_eq!(listed, json!({"rules": [second]}));
    let reply = call(&app, "DELETE", "/_emulator/commands", None).await;
    assert_eq!((reply.status, reply.body.as_str()), (204, ""));
    let listed = call(&app, "GET", "/_emulator/commands", None).await.json();
    assert_eq!(listed, json!({"rules": []}));
    // Ids are never reused.
    let reply = call(
        &app,
        "POST",
        "/_emulator/commands",
        Some(json!({"contentRegex": "x", "output": "y"})),
    )
    .await;
    assert_eq!(reply.json()["id"], "r-3");
}

#[tokio::test]
async fn bad_command_rules_are_refused_naming_the_field() {
    let (_, app) = setup();
    for (body, field) in [
        (json!({"contentRegex": "x"}), "exitCode"),
        (json!({"contentRegex": "(", "exitCode": 1}), "contentRegex"),
        (
            json!({"contentRegex": "x".repeat(4097), "exitCode": 1}),
            "contentRegex",
        ),
        (
            json!({"contentRegex": "x", "exitCode": 1u64 << 40}),
            "exitCode",
        ),
        (json!({"contentRegex": "x", "exitCode": "1"}), "exitCode"),
        (
            json!({"contentRegex": "x", "durationSeconds": 86401}),
            "durationSeconds",
        ),
        (
            json!({"contentRegex": "x", "durationSeconds": -1}),
            "durationSeconds",
        ),
        (
            json!({"contentRegex": "x", "exitCode": 1, "times": 0}),
            "times",
        ),
        (json!({"contentRegex": "x", "output": "a\u{0}b"}), "output"),
        (
            json!({"contentRegex": "x", "exitCode": 1, "instanceId": ""}),
            "instanceId",
        ),
        (
            json!({"contentRegex": "x", "exitCode": 1, "regionId": ""}),
            "regionId",
        ),
        (
            json!({"contentRegex": "x", "exitCode": 1, "accountId": ""}),
            "accountId",
        ),
        (json!({"contentRegex": 1, "exitCode": 1}), "contentRegex"),
    ] {
        let reply = call(&app, "POST", "/_emulator/commands", Some(body.clone())).await;
        refused(&reply, 400, "InvalidField", field);
    }
    let reply = call(
        &app,
        "POST",
        "/_emulator/commands",
        Some(json!({"exitCode": 1})),
    )
    .await;
    assert_eq!(reply.status, 400);
    assert!(reply.body.contains("contentRegex"), "{}", reply.body);
    let reply = call(
        &app,
        "POST",
        "/_emulator/commands",
        Some(json!({"contentRegex": "x", "exitCode": 1, "bogus": 1})),
    )
    .await;
    assert_eq!(reply.status, 400);
    assert!(reply.body.contains("bogus"), "{}", reply.body);
    let reply = call(&app, "POST", "/_emulator/commands", None).await;
    refused(&reply, 400, "InvalidJson", "body");
    let listed = call(&app, "GET", "/_emulator/commands", None).await.json();
    assert_eq!(listed, json!({"rules": []}), "a refused rule was added");
}

#[tokio::test]
async fn a_rule_applies_at_delivery_and_reset_clears_the_rules() {
    let (state, app) = setup();
    freeze(&app, T).await;
    let reply = call(
        &app,
        "POST",
        "/_emulator/commands",
        Some(json!({"contentRegex": "^reboot", "exitCode": 3, "times": 1})),
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    invoke(
        &state,
        DEFAULT_ACCOUNT,
        REGION,
        "t-agenttests0020",
        "reboot now",
        vec![
            run("i-linux-01", RunStatus::Pending, None, T),
            run("i-old-06", RunStatus::Pending, None, T),
        ],
    )
    .await;
    freeze(&app, &later(2)).await;
    let listed = call(&app, "GET", "/_emulator/commands", None).await.json();
    assert_eq!(listed["rules"][0]["fired"], 1);
    // Both runs ran and ended: the first as the rule says, the second as the script does.
    let body = described(&app, "InstanceId.1=i-linux-01&InstanceId.2=i-old-06").await;
    let ended: Vec<Value> = entries(&body)
        .iter()
        .map(|e| e["InvocationCount"].clone())
        .collect();
    assert_eq!(ended, [json!(1), json!(1)]);

    // reset: the rules are gone, and the agents are the seed's again.
    call(
        &app,
        "PUT",
        "/_emulator/instances/i-linux-01/cloud-assistant",
        Some(json!({"online": false})),
    )
    .await;
    let reply = call(&app, "POST", "/_emulator/reset", None).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let listed = call(&app, "GET", "/_emulator/commands", None).await.json();
    assert_eq!(listed, json!({"rules": []}));
    let instance = call(&app, "GET", "/_emulator/instances/i-linux-01", None).await;
    assert_eq!(instance.json()["cloudAssistant"]["online"], true);
    // The runs are gone with the reset too.
    let entry = status_of(&app, "i-linux-01").await;
    assert_eq!(entry["InvocationCount"], 0);
}
