//! The emulator's XML writer (`rpc::xml::to_xml`) against what the answers were before it:
//! quick-xml's serde serializer under the same root, after the same declaration, followed by
//! the U+FFFD scan of `text::fit_for_xml`. Every response type the emulator renders, with
//! realistic values and with generated text full of markup, non-ASCII and control characters.

use ecs_emulator::api::create_command::CreateCommandResponse;
use ecs_emulator::api::delete_command::DeleteCommandResponse;
use ecs_emulator::api::describe::TagSet;
use ecs_emulator::api::describe_cloud_assistant_status::{
    DescribeCloudAssistantStatusResponse, InstanceCloudAssistantStatus,
    InstanceCloudAssistantStatusSet,
};
use ecs_emulator::api::describe_commands::{
    CommandItem, Commands, DescribeCommandsResponse, ParameterNames,
};
use ecs_emulator::api::describe_invocation_results::{
    DescribeInvocationResultsResponse, InvocationResult, InvocationResults, ResultPage,
};
use ecs_emulator::api::describe_invocations::{
    DescribeInvocationsResponse, InvocationItem, Invocations, InvokeInstanceItem, InvokeInstances,
};
use ecs_emulator::api::install_cloud_assistant::InstallCloudAssistantResponse;
use ecs_emulator::api::invoke_command::InvokeCommandResponse;
use ecs_emulator::api::list_plugin_status::ListPluginStatusRequest;
use ecs_emulator::api::next_token::TokenKey;
use ecs_emulator::api::run_command::RunCommandResponse;
use ecs_emulator::api::stop_invocation::StopInvocationResponse;
use ecs_emulator::engine::{PluginRecord, PluginStatus, PluginType, Store};
use ecs_emulator::rpc::params::Decoded;
use ecs_emulator::rpc::render::{encode, ErrorBody, Format};
use ecs_emulator::rpc::signature::percent_encode;
use ecs_emulator::rpc::xml::{to_xml, DECLARATION};
use proptest::prelude::*;
use serde::Serialize;

/// The answer as quick-xml's serializer wrote it, with what XML cannot carry replaced.
fn quick_xml(root: &str, body: &impl Serialize) -> String {
    let mut xml = String::from(DECLARATION);
    let serializer = quick_xml::se::Serializer::with_root(&mut xml, Some(root)).unwrap();
    body.serialize(serializer).unwrap();
    ecs_emulator::text::fit_for_xml(&xml).into_owned()
}

/// Asserts the writer and quick-xml agree byte for byte, and that `encode` uses the writer.
fn check(root: &str, body: &impl Serialize) -> Result<(), TestCaseError> {
    let expected = quick_xml(root, body);
    let ours = to_xml(root, body).map_err(TestCaseError::fail)?;
    prop_assert_eq!(String::from_utf8(ours.clone()).unwrap(), expected);
    prop_assert_eq!(encode(Format::Xml, root, body).unwrap(), ours);
    Ok(())
}

/// The texts a response is built from, picked round-robin.
struct Texts(Vec<String>);

impl Texts {
    fn get(&self, i: usize) -> String {
        if self.0.is_empty() {
            String::new()
        } else {
            self.0[i % self.0.len()].clone()
        }
    }

    fn some(&self, i: usize, present: bool) -> Option<String> {
        present.then(|| self.get(i))
    }
}

/// Statuses and other fixed words are `&'static str` in the responses; markup among them too.
const WORDS: [&str; 6] = ["Running", "", "Finished", "a<b>&'\"", "中文", "x\u{1}y"];

fn word(i: usize) -> &'static str {
    WORDS[i % WORDS.len()]
}

fn tags(t: &Texts, n: usize) -> TagSet {
    let pairs: Vec<(String, String)> = (0..n).map(|i| (t.get(i), t.get(i + 1))).collect();
    TagSet::of(&pairs)
}

/// `text` as data may hold it (1 to 255 characters the data accepts), else `fallback`.
fn fit_for_data(text: String, fallback: &str) -> String {
    let fits =
        ecs_emulator::text::check(&text).is_ok() && (1..=255).contains(&text.chars().count());
    if fits {
        text
    } else {
        fallback.to_owned()
    }
}

/// A ListPluginStatus answer comes from a store (it borrows the page it shows): `n` instances,
/// two in three carrying a plug-in named from `t` with a version from `t`, listed by name (one
/// entry per instance, NotInstalled records included), answered with request id `t[0]`.
fn check_list_plugin_status(t: &Texts, n: usize, page: bool) -> Result<(), TestCaseError> {
    const ACCOUNT: &str = ecs_emulator::engine::DEFAULT_ACCOUNT_ID;
    let name = fit_for_data(t.get(1), "plugin");
    let mut store = Store::new(vec![], vec![(name.clone(), PluginType::Persist)]).unwrap();
    for i in 0..n {
        let heartbeat = chrono::DateTime::from_timestamp(1_700_000_000 + i as i64 * 3_601, 0);
        let record = PluginRecord {
            version: fit_for_data(t.get(i), ""),
            status: PluginStatus::ALL[i % PluginStatus::ALL.len()],
            first_heartbeat: heartbeat.filter(|_| i % 2 == 0),
            last_heartbeat: heartbeat,
        };
        let plugins = if i % 3 == 0 {
            vec![]
        } else {
            vec![(name.clone(), record)]
        };
        store
            .add_instance(ACCOUNT, "cn-hangzhou", &format!("i-{i:04}"), plugins)
            .unwrap();
    }
    let mode = if page {
        "PageSize=10&PageNumber=1"
    } else {
        "MaxResults=10"
    };
    let query = format!("RegionId=cn-hangzhou&Name={}&{mode}", percent_encode(&name));
    let params = Decoded::new(query.as_bytes(), None).into_params().unwrap();
    let key = TokenKey::derive(store.accounts());
    let request = ListPluginStatusRequest::parse(&params, ACCOUNT, &store, &key).unwrap();
    let listed = request.list(&store).unwrap();
    let request_id = t.get(0);
    check(
        "ListPluginStatusResponse",
        &request.respond(&listed, &key, &request_id),
    )
}

fn describe_cloud_assistant_status(
    t: &Texts,
    n: usize,
    page: bool,
) -> DescribeCloudAssistantStatusResponse {
    DescribeCloudAssistantStatusResponse {
        page_size: page.then_some(50),
        request_id: t.get(0),
        page_number: page.then_some(2),
        total_count: n as u64 + 100,
        next_token: t.some(2, !page),
        instance_cloud_assistant_status_set: InstanceCloudAssistantStatusSet {
            instance_cloud_assistant_status: (0..n)
                .map(|i| InstanceCloudAssistantStatus {
                    cloud_assistant_status: word(i),
                    last_invoked_time: t.get(i),
                    cloud_assistant_version: t.get(i + 1),
                    active_task_count: i as u64,
                    invocation_count: u64::MAX - i as u64,
                    instance_id: t.get(i + 2),
                    last_heartbeat_time: t.get(i + 3),
                    os_type: word(i + 1),
                    support_session_manager: i.is_multiple_of(2),
                })
                .collect(),
        },
    }
}

fn describe_commands(t: &Texts, n: usize, page: bool) -> DescribeCommandsResponse {
    DescribeCommandsResponse {
        page_size: page.then_some(10),
        request_id: t.get(0),
        page_number: page.then_some(1),
        total_count: n as u64,
        next_token: t.some(3, !page),
        commands: Commands {
            command: (0..n)
                .map(|i| CommandItem {
                    description: t.get(i),
                    category: word(i),
                    resource_group_id: t.some(i + 1, i % 2 == 1),
                    parameter_names: ParameterNames {
                        parameter_name: (0..i % 3).map(|j| t.get(i + j)).collect(),
                    },
                    timeout: 60 + i as u64,
                    provider: word(i + 1),
                    name: t.get(i + 2),
                    working_dir: t.get(i + 3),
                    command_content: t.get(i + 4),
                    command_type: word(i + 2),
                    invoke_times: i as u64,
                    creation_time: t.get(i + 5),
                    launcher: t.some(i + 6, i.is_multiple_of(3)),
                    enable_parameter: i.is_multiple_of(2),
                    command_id: t.get(i + 7),
                    tags: tags(t, i % 3),
                })
                .collect(),
        },
    }
}

fn invocation(t: &Texts, i: usize) -> InvocationItem {
    InvocationItem {
        oss_output_delivery: t.some(i, i.is_multiple_of(2)),
        invocation_status: word(i),
        parameters: t.get(i + 1),
        timed: i.is_multiple_of(3),
        command_description: t.get(i + 2),
        timeout: 3600,
        invoke_instances: InvokeInstances {
            invoke_instance: (0..i % 3)
                .map(|j| InvokeInstanceItem {
                    dropped: j as u64,
                    invocation_status: word(j),
                    instance_id: t.get(i + j),
                    timed: false,
                    instance_invoke_status: word(j + 1),
                    exit_code: -(j as i64),
                    error_info: t.get(i + j + 1),
                    start_time: t.get(i + j + 2),
                    repeats: j as u32,
                    finish_time: t.get(i + j + 3),
                    output: t.get(i + j + 4),
                    creation_time: t.get(i + j + 5),
                    update_time: t.get(i + j + 6),
                    error_code: t.get(i + j + 7),
                    stop_time: t.get(i + j + 8),
                })
                .collect(),
        },
        command_content: t.get(i + 3),
        working_dir: t.get(i + 4),
        repeat_mode: t.get(i + 5),
        invoke_status: word(i + 1),
        command_type: word(i + 2),
        username: t.get(i + 6),
        container_id: t.some(i + 7, i % 2 == 1),
        container_name: t.some(i + 8, i % 2 == 1),
        creation_time: t.get(i + 9),
        frequency: "",
        launcher: t.some(i + 10, i % 3 == 1),
        command_id: t.get(i + 11),
        command_name: t.get(i + 12),
        invoke_id: t.get(i + 13),
        termination_mode: t.some(i + 14, i % 3 == 2),
        tags: tags(t, i % 2),
    }
}

fn describe_invocations(t: &Texts, n: usize, page: bool) -> DescribeInvocationsResponse {
    DescribeInvocationsResponse {
        page_size: page.then_some(10),
        request_id: t.get(0),
        page_number: page.then_some(3),
        total_count: n as u64,
        next_token: t.some(4, !page),
        invocations: Invocations {
            invocation: (0..n).map(|i| invocation(t, i)).collect(),
        },
    }
}

fn describe_invocation_results(
    t: &Texts,
    n: usize,
    page: bool,
) -> DescribeInvocationResultsResponse {
    DescribeInvocationResultsResponse {
        request_id: t.get(0),
        invocation: ResultPage {
            page_size: page.then_some(10),
            page_number: page.then_some(1),
            total_count: n as u64,
            next_token: t.some(5, !page),
            invocation_results: InvocationResults {
                invocation_result: (0..n)
                    .map(|i| InvocationResult {
                        dropped: i as u64,
                        invocation_status: word(i),
                        instance_id: t.get(i),
                        exit_code: i64::MIN + i as i64,
                        error_info: t.get(i + 1),
                        start_time: t.get(i + 2),
                        repeats: i as u32,
                        invoke_record_status: word(i + 1),
                        finished_time: t.get(i + 3),
                        username: t.get(i + 4),
                        container_id: t.some(i + 5, i.is_multiple_of(2)),
                        container_name: t.some(i + 6, i.is_multiple_of(2)),
                        output: t.get(i + 7),
                        launcher: t.some(i + 8, i.is_multiple_of(3)),
                        command_id: t.get(i + 9),
                        error_code: t.get(i + 10),
                        invoke_id: t.get(i + 11),
                        termination_mode: t.some(i + 12, i % 2 == 1),
                        tags: tags(t, i % 3),
                        stop_time: t.get(i + 13),
                    })
                    .collect(),
            },
        },
    }
}

/// Every response type the emulator renders, under its root, built from `t`.
fn check_all(t: &Texts, n: usize, page: bool) -> Result<(), TestCaseError> {
    check_list_plugin_status(t, n, page)?;
    check(
        "DescribeCloudAssistantStatusResponse",
        &describe_cloud_assistant_status(t, n, page),
    )?;
    check("DescribeCommandsResponse", &describe_commands(t, n, page))?;
    check(
        "DescribeInvocationsResponse",
        &describe_invocations(t, n, page),
    )?;
    check(
        "DescribeInvocationResultsResponse",
        &describe_invocation_results(t, n, page),
    )?;
    check(
        "RunCommandResponse",
        &RunCommandResponse {
            request_id: t.get(0),
            command_id: t.get(1),
            invoke_id: t.get(2),
        },
    )?;
    check(
        "CreateCommandResponse",
        &CreateCommandResponse {
            command_id: t.get(1),
            request_id: t.get(0),
        },
    )?;
    check(
        "InvokeCommandResponse",
        &InvokeCommandResponse {
            invoke_id: t.get(2),
            request_id: t.get(0),
        },
    )?;
    check(
        "DeleteCommandResponse",
        &DeleteCommandResponse {
            request_id: t.get(0),
        },
    )?;
    check(
        "StopInvocationResponse",
        &StopInvocationResponse {
            request_id: t.get(0),
        },
    )?;
    check(
        "InstallCloudAssistantResponse",
        &InstallCloudAssistantResponse {
            request_id: t.get(0),
        },
    )?;
    let (request_id, host_id, code) = (t.get(0), t.get(1), t.get(2));
    check(
        "Error",
        &ErrorBody {
            request_id: &request_id,
            host_id: &host_id,
            code: &code,
            message: t.get(3),
            recommend: t.get(4),
        },
    )
}

fn realistic() -> Texts {
    Texts(
        [
            "473469C7-AA6F-4DC5-B3DB-A3DC0DE3C83E",
            "i-bp1example0000000001",
            "c-hz01example0001",
            "t-hz01example0001",
            "2026-12-02T10:40:37Z",
            "",
            "echo \"hello\" > /tmp/out && cat /tmp/out",
            r#"{"name":"<value>"}"#,
            "ZWNobyDkuK0=",
            "Finished",
            "root",
            "/home/admin",
            "The specified parameter \"Name\" is not valid: a<b>&c",
            "https://api.aliyun.com/troubleshoot?q=InvalidParameter&product=Ecs&requestId=1",
            "脚本 — ünïcödé 😀",
        ]
        .map(str::to_owned)
        .to_vec(),
    )
}

#[test]
fn every_response_type_matches_quick_xml_with_realistic_values() {
    for n in [0, 1, 3, 10] {
        for page in [false, true] {
            check_all(&realistic(), n, page).unwrap();
        }
    }
}

#[test]
fn empty_texts_and_empty_lists_match_quick_xml() {
    check_all(&Texts(vec![String::new()]), 0, false).unwrap();
    check_all(&Texts(vec![String::new()]), 4, true).unwrap();
}

/// Text with what makes XML hard: markup, quotes, spaces, non-ASCII, control characters and
/// non-characters, often empty.
fn hard_text() -> impl Strategy<Value = String> {
    let character = prop_oneof![
        3 => prop_oneof![
            Just('<'),
            Just('>'),
            Just('&'),
            Just('\''),
            Just('"'),
            Just(' '),
            Just('\t'),
            Just('\n'),
            Just('\r'),
            Just(';'),
            Just('#'),
        ],
        3 => proptest::char::range('a', 'z'),
        2 => proptest::char::range('\u{0}', '\u{1F}'),
        1 => proptest::char::range('\u{7F}', '\u{A0}'),
        1 => prop_oneof![
            Just('\u{FFFE}'),
            Just('\u{FFFF}'),
            Just('\u{FDD0}'),
            Just('\u{FDEF}'),
            Just('\u{1FFFE}'),
            Just('\u{10FFFF}'),
            Just('\u{FFFD}'),
        ],
        2 => any::<char>(),
    ];
    prop_oneof![
        1 => Just(String::new()),
        4 => proptest::collection::vec(character, 0..16).prop_map(String::from_iter),
    ]
}

proptest! {
    #[test]
    fn every_response_type_matches_quick_xml_on_hard_text(
        texts in proptest::collection::vec(hard_text(), 1..12),
        n in 0usize..5,
        page in any::<bool>(),
    ) {
        check_all(&Texts(texts), n, page)?;
    }
}
