//! Paging properties of ListPluginStatus (SPEC section 4): page mode and token mode walk every
//! record exactly once in order, for every page size, in the three listing shapes; NextTokens
//! are bound to their query and refuse tampering.

mod common;

use axum::Router;
use common::{app_with, enc, send, Reply, BASE};
use serde_json::{json, Value};

const REGION: &str = "cn-hangzhou";
const OTHER_REGION: &str = "cn-shanghai";
const DEFAULT_ACCOUNT: &str = "111111111111111";
const OTHER_ACCOUNT: &str = "222222222222222";
const DEFAULT_KEY: &str = "LTAI5tPagingKey001";
const OTHER_KEY: &str = "LTAI5tPagingKey002";
/// Instances of the default account in REGION: i-test0001..=i-test0037.
const INSTANCES: usize = 37;
/// The instance carrying many plug-ins (and not "p").
const MANY: &str = "i-test0020";
/// Plug-ins on MANY.
const MANY_PLUGINS: usize = 37;
/// Instances with an index divisible by this have no plug-in "p" (NotInstalled).
const WITHOUT_P_EVERY: usize = 4;

const STATUSES: [&str; 7] = [
    "NotInstalled",
    "Installed",
    "Running",
    "Stopped",
    "Crashed",
    "Removed",
    "Unknown",
];

const BAD_TOKEN_MESSAGE: &str = "The specified parameter NextToken is not valid.";

/// One record as the wire shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Rec {
    instance: String,
    name: String,
    version: String,
    status: String,
    first: String,
    last: String,
}

fn id(k: usize) -> String {
    format!("i-test{k:04}")
}

/// The stored plug-in "p" of instance k, if it has one.
fn p_of(k: usize) -> Option<Value> {
    if k.is_multiple_of(WITHOUT_P_EVERY) {
        return None;
    }
    let mut plugin = json!({
        "name": "p",
        "version": format!("1.{k}"),
        "status": STATUSES[k % STATUSES.len()],
    });
    if !k.is_multiple_of(5) {
        plugin["firstHeartbeatTime"] = json!(format!("2024-02-03T04:{k:02}:05Z"));
        plugin["lastHeartbeatTime"] = json!(format!("2025-06-07T08:{k:02}:10Z"));
    }
    Some(plugin)
}

/// The plug-ins of MANY, in fixture (not name) order.
fn many_plugins() -> Vec<Value> {
    (0..MANY_PLUGINS)
        .map(|i| {
            // 17 is coprime with 37: every name once, shuffled.
            let n = (i * 17) % MANY_PLUGINS;
            let mut plugin = json!({
                "name": format!("plugin-{n:02}"),
                "version": format!("0.{n}.1"),
                "status": STATUSES[n % STATUSES.len()],
            });
            if !n.is_multiple_of(3) {
                plugin["firstHeartbeatTime"] = json!(format!("2023-03-04T05:06:{n:02}Z"));
                plugin["lastHeartbeatTime"] = json!(format!("2026-01-02T03:04:{n:02}Z"));
            }
            plugin
        })
        .collect()
}

fn plugins_of(k: usize) -> Vec<Value> {
    if id(k) == MANY {
        return many_plugins();
    }
    let mut plugins = Vec::new();
    if k % 2 == 1 {
        plugins.push(json!({"name": "q", "version": "9", "status": "Running"}));
    }
    plugins.extend(p_of(k));
    if k.is_multiple_of(3) {
        plugins.push(json!({"name": format!("extra-{k}"), "version": "2", "status": "Stopped"}));
    }
    plugins
}

fn fixture() -> String {
    let mut instances = Vec::new();
    // Instances in a shuffled order (11 is coprime with 37), so the id order is the emulator's.
    for i in 0..INSTANCES {
        let k = (i * 11) % INSTANCES + 1;
        instances.push(json!({
            "instanceId": id(k),
            "regionId": REGION,
            "plugins": plugins_of(k),
        }));
    }
    // Another region of the default account.
    for k in 101..=103 {
        instances.push(json!({
            "instanceId": id(k),
            "regionId": OTHER_REGION,
            "plugins": [{"name": "p", "version": "3", "status": "Running"}],
        }));
    }
    // Another account in the same region, one id shared with the default account.
    for (instance, status) in [
        ("i-test0001", "Stopped"),
        ("i-other0001", "Running"),
        ("i-other0002", "Crashed"),
        ("i-other0003", "Installed"),
        ("i-other0004", "Removed"),
    ] {
        instances.push(json!({
            "instanceId": instance,
            "regionId": REGION,
            "accountId": OTHER_ACCOUNT,
            "plugins": [{"name": "p", "version": "7", "status": status}],
        }));
    }
    json!({
        "accounts": [
            {"accountId": DEFAULT_ACCOUNT, "default": true,
             "accessKeys": [{"id": DEFAULT_KEY, "secret": "default-secret"}]},
            {"accountId": OTHER_ACCOUNT,
             "accessKeys": [{"id": OTHER_KEY, "secret": "other-secret"}]}
        ],
        "catalog": [{"name": "catalogued", "type": "Once"}],
        "instances": instances,
    })
    .to_string()
}

fn app() -> Router {
    app_with(&fixture())
}

/// The wire record of a fixture plug-in on an instance, or NotInstalled.
fn rec(instance: &str, name: &str, plugin: Option<&Value>) -> Rec {
    let text = |p: &Value, key: &str| p[key].as_str().unwrap_or_default().to_owned();
    match plugin {
        Some(p) => Rec {
            instance: instance.to_owned(),
            name: name.to_owned(),
            version: text(p, "version"),
            status: text(p, "status"),
            first: text(p, "firstHeartbeatTime"),
            last: text(p, "lastHeartbeatTime"),
        },
        None => Rec {
            instance: instance.to_owned(),
            name: name.to_owned(),
            version: String::new(),
            status: "NotInstalled".to_owned(),
            first: String::new(),
            last: String::new(),
        },
    }
}

/// Plug-in "p" on instance k as a record.
fn p_rec(k: usize) -> Rec {
    rec(&id(k), "p", p_of(k).as_ref())
}

/// Name=p over every instance of the default account in REGION, by instance id.
fn all_p_records() -> Vec<Rec> {
    (1..=INSTANCES).map(p_rec).collect()
}

/// Every plug-in of MANY, by name.
fn many_records() -> Vec<Rec> {
    let mut plugins = many_plugins();
    plugins.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    plugins
        .iter()
        .map(|p| rec(MANY, p["name"].as_str().unwrap(), Some(p)))
        .collect()
}

/// `InstanceId.N` as given (N, k), written in this shuffled order; 30 appears twice.
const LIST: [(usize, usize); 8] = [
    (12, 3),
    (1, 30),
    (5, 1),
    (3, 12),
    (9, 20),
    (2, 7),
    (7, 36),
    (4, 30),
];

fn list_query() -> String {
    LIST.iter()
        .map(|(n, k)| format!("InstanceId.{n}={}", id(*k)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The LIST's records: N order, 30 once.
fn list_records() -> Vec<Rec> {
    [30, 7, 12, 1, 36, 20, 3].into_iter().map(p_rec).collect()
}

/// Flattens one page, checking that records of one instance are grouped in one entry.
fn records(body: &Value) -> Vec<Rec> {
    let entries = body["InstancePluginStatusSet"]["InstancePluginStatus"]
        .as_array()
        .unwrap_or_else(|| panic!("no InstancePluginStatus list: {body}"));
    let mut out = Vec::new();
    let mut previous: Option<&str> = None;
    for entry in entries {
        let instance = entry["InstanceId"].as_str().expect("InstanceId");
        assert_ne!(
            previous,
            Some(instance),
            "records of one instance split over entries: {body}"
        );
        previous = Some(instance);
        let items = entry["PluginStatusSet"]["PluginStatus"]
            .as_array()
            .expect("PluginStatus list");
        assert!(!items.is_empty(), "an entry without records: {body}");
        for item in items {
            let text = |key: &str| {
                item[key]
                    .as_str()
                    .unwrap_or_else(|| panic!("{key} is not a string: {item}"))
                    .to_owned()
            };
            out.push(Rec {
                instance: instance.to_owned(),
                name: text("PluginName"),
                version: text("PluginVersion"),
                status: text("PluginStatus"),
                first: text("FirstHeartbeatTime"),
                last: text("LastHeartbeatTime"),
            });
        }
    }
    out
}

async fn ok(app: &Router, query: &str) -> Value {
    let reply = send(app, query).await;
    assert_eq!(reply.status, 200, "{query}: {}", reply.body);
    reply.json()
}

fn token_of(body: &Value) -> Option<String> {
    body.get("NextToken").map(|t| {
        let t = t
            .as_str()
            .unwrap_or_else(|| panic!("NextToken not a string: {body}"));
        assert!(!t.is_empty(), "empty NextToken: {body}");
        t.to_owned()
    })
}

fn assert_bad_token(reply: &Reply, context: &str) {
    assert_eq!(reply.status, 400, "{context}: {}", reply.body);
    let body = reply.json();
    assert_eq!(body["Code"], "InvalidParameter.NextToken", "{context}");
    assert_eq!(body["Message"], BAD_TOKEN_MESSAGE, "{context}");
}

/// Walks `query` in page mode for every PageSize 1..=50.
async fn walk_pages(app: &Router, query: &str, expected: &[Rec]) {
    let total = expected.len();
    for size in 1..=50usize {
        let pages = total.div_ceil(size);
        let mut got = Vec::new();
        for number in 1..=pages + 1 {
            let q = format!("{BASE}&{query}&PageNumber={number}&PageSize={size}");
            let body = ok(app, &q).await;
            assert_eq!(body["PageNumber"], json!(number), "{q}");
            assert_eq!(body["PageSize"], json!(size), "{q}");
            assert_eq!(body["TotalCount"], json!(total), "{q}");
            let page = records(&body);
            if number > pages {
                // Past the end: empty, not an error.
                assert_eq!(
                    body["InstancePluginStatusSet"],
                    json!({"InstancePluginStatus": []}),
                    "{q}"
                );
                assert_eq!(token_of(&body), None, "{q}");
                continue;
            }
            assert_eq!(page.len(), size.min(total - (number - 1) * size), "{q}");
            assert_eq!(
                token_of(&body).is_some(),
                number < pages,
                "NextToken on every page but the last: {q}"
            );
            got.extend(page);
        }
        assert_eq!(got, expected, "{query} PageSize={size}");
    }
}

/// Walks `query` in token mode from `start` (a NextToken, or the first page) and returns the
/// records and the number of pages.
async fn follow(
    app: &Router,
    query: &str,
    max: usize,
    start: Option<String>,
    total: usize,
) -> (Vec<Rec>, usize) {
    let mut token = start;
    let mut got = Vec::new();
    let mut pages = 0;
    loop {
        let mut q = format!("{BASE}&{query}&MaxResults={max}");
        if let Some(t) = &token {
            q.push_str(&format!("&NextToken={}", enc(t)));
        }
        let body = ok(app, &q).await;
        let object = body.as_object().expect("an object");
        assert!(!object.contains_key("PageNumber"), "{q}: {body}");
        assert!(!object.contains_key("PageSize"), "{q}: {body}");
        assert_eq!(body["TotalCount"], json!(total), "{q}");
        let page = records(&body);
        assert!(page.len() <= max, "{q}");
        pages += 1;
        assert!(pages <= total + 1, "the walk does not end: {q}");
        got.extend(page);
        token = token_of(&body);
        if token.is_none() {
            break;
        }
    }
    (got, pages)
}

/// Walks `query` in token mode for every MaxResults 1..=50.
async fn walk_tokens(app: &Router, query: &str, expected: &[Rec]) {
    let total = expected.len();
    for max in 1..=50usize {
        let (got, pages) = follow(app, query, max, None, total).await;
        assert_eq!(got, expected, "{query} MaxResults={max}");
        // Every page full but the last, and no empty last page.
        assert_eq!(pages, total.div_ceil(max), "{query} MaxResults={max}");
    }
}

#[test]
fn the_fixture_has_what_the_walks_need() {
    let p = all_p_records();
    assert_eq!(p.len(), INSTANCES);
    assert!(p
        .iter()
        .any(|r| r.status == "NotInstalled" && r.version.is_empty()));
    assert!(p.iter().any(|r| r.status == "Running"));
    let many = many_records();
    assert_eq!(many.len(), MANY_PLUGINS);
    assert!(many.iter().any(|r| r.status == "Removed"));
    assert_eq!(list_records().len(), 7);
}

#[tokio::test]
async fn page_mode_walks_every_instance_once_in_id_order() {
    let app = app();
    walk_pages(&app, &format!("RegionId={REGION}&Name=p"), &all_p_records()).await;
}

#[tokio::test]
async fn token_mode_walks_every_instance_once_in_id_order() {
    let app = app();
    walk_tokens(&app, &format!("RegionId={REGION}&Name=p"), &all_p_records()).await;
}

#[tokio::test]
async fn no_name_mode_walks_every_plugin_by_name_removed_included() {
    let app = app();
    let query = format!("RegionId={REGION}&InstanceId.1={MANY}");
    walk_pages(&app, &query, &many_records()).await;
    walk_tokens(&app, &query, &many_records()).await;
}

#[tokio::test]
async fn an_instance_list_is_walked_in_n_order_with_a_repeated_id_once() {
    let app = app();
    let query = format!("RegionId={REGION}&Name=p&{}", list_query());
    walk_pages(&app, &query, &list_records()).await;
    walk_tokens(&app, &query, &list_records()).await;
}

#[tokio::test]
async fn the_second_account_sees_only_its_own_instances() {
    let app = app();
    let body = ok(
        &app,
        &format!("{BASE}&RegionId={REGION}&Name=p&PageSize=50&AccessKeyId={OTHER_KEY}"),
    )
    .await;
    let got: Vec<(String, String)> = records(&body)
        .into_iter()
        .map(|r| (r.instance, r.status))
        .collect();
    let want: Vec<(String, String)> = [
        ("i-other0001", "Running"),
        ("i-other0002", "Crashed"),
        ("i-other0003", "Installed"),
        ("i-other0004", "Removed"),
        ("i-test0001", "Stopped"),
    ]
    .iter()
    .map(|(i, s)| (i.to_string(), s.to_string()))
    .collect();
    assert_eq!(got, want);
    assert_eq!(body["TotalCount"], 5);

    // The default account's own key is the same caller as no key.
    let with_key = ok(
        &app,
        &format!("{BASE}&RegionId={REGION}&Name=p&PageSize=50&AccessKeyId={DEFAULT_KEY}"),
    )
    .await;
    assert_eq!(records(&with_key), all_p_records());
}

#[tokio::test]
async fn a_page_mode_token_starts_a_token_mode_walk_after_that_page() {
    let app = app();
    let cases = [
        (format!("RegionId={REGION}&Name=p"), all_p_records()),
        (
            format!("RegionId={REGION}&InstanceId.1={MANY}"),
            many_records(),
        ),
        (
            format!("RegionId={REGION}&Name=p&{}", list_query()),
            list_records(),
        ),
    ];
    for (query, expected) in &cases {
        for (size, number) in [(1, 1), (2, 3), (3, 1), (5, 2), (6, 1)] {
            let q = format!("{BASE}&{query}&PageNumber={number}&PageSize={size}");
            let page = ok(&app, &q).await;
            if number * size >= expected.len() {
                assert_eq!(token_of(&page), None, "{q}");
                continue;
            }
            let token = token_of(&page).unwrap_or_else(|| panic!("no NextToken: {q}"));
            for max in [1, 4, 10, 50] {
                let (got, _) = follow(&app, query, max, Some(token.clone()), expected.len()).await;
                assert_eq!(got, expected[number * size..], "{q} then MaxResults={max}");
            }
            // NextToken alone (no MaxResults) is token mode with 10 records.
            let body = ok(&app, &format!("{BASE}&{query}&NextToken={}", enc(&token))).await;
            assert!(body.get("PageNumber").is_none(), "{body}");
            let rest = &expected[number * size..];
            assert_eq!(records(&body), rest[..rest.len().min(10)], "{q}");
            assert_eq!(token_of(&body).is_some(), rest.len() > 10, "{q}");
        }
    }
}

#[tokio::test]
async fn a_page_past_the_end_is_empty() {
    let app = app();
    for number in ["38", "1000", "9223372036854775807"] {
        let q = format!("{BASE}&RegionId={REGION}&Name=p&PageNumber={number}&PageSize=1");
        let body = ok(&app, &q).await;
        assert_eq!(
            body["InstancePluginStatusSet"],
            json!({"InstancePluginStatus": []}),
            "{q}"
        );
        assert_eq!(body["TotalCount"], 37, "{q}");
        assert_eq!(
            body["PageNumber"],
            json!(number.parse::<u64>().unwrap()),
            "{q}"
        );
        assert!(body.get("NextToken").is_none(), "{q}");
    }
    let q = format!("{BASE}&RegionId={REGION}&Name=p&PageNumber=9223372036854775807&PageSize=50");
    let body = ok(&app, &q).await;
    assert_eq!(
        body["InstancePluginStatusSet"]["InstancePluginStatus"],
        json!([])
    );
}

async fn first_token(app: &Router, query: &str) -> String {
    let body = ok(app, &format!("{BASE}&{query}&MaxResults=2")).await;
    token_of(&body).unwrap_or_else(|| panic!("no NextToken for {query}"))
}

#[tokio::test]
async fn tampered_and_garbage_tokens_are_refused() {
    let app = app();
    let query = format!("RegionId={REGION}&Name=p");
    let token = first_token(&app, &query).await;
    // The untouched token works.
    let body = ok(&app, &format!("{BASE}&{query}&NextToken={}", enc(&token))).await;
    assert_eq!(records(&body), all_p_records()[2..12]);

    for position in 0..token.len() {
        let mut chars: Vec<char> = token.chars().collect();
        chars[position] = if chars[position] == 'A' { 'B' } else { 'A' };
        let tampered: String = chars.into_iter().collect();
        let q = format!("{BASE}&{query}&NextToken={}", enc(&tampered));
        assert_bad_token(&send(&app, &q).await, &format!("flipped at {position}"));
    }
    let long = "A".repeat(5_000);
    let appended = format!("{token}A");
    for garbage in [
        "AAAAAdDWBF2",
        "!!!",
        long.as_str(),
        &token[..token.len() - 1],
        appended.as_str(),
    ] {
        let q = format!("{BASE}&{query}&NextToken={}", enc(garbage));
        assert_bad_token(&send(&app, &q).await, garbage);
        // MaxResults given too: still the token's error.
        let q = format!("{BASE}&{query}&MaxResults=5&NextToken={}", enc(garbage));
        assert_bad_token(&send(&app, &q).await, garbage);
    }
}

#[tokio::test]
async fn foreign_tokens_are_refused() {
    let app = app();
    let by_name = first_token(&app, &format!("RegionId={REGION}&Name=p")).await;
    let three = format!(
        "RegionId={REGION}&Name=p&InstanceId.1={}&InstanceId.2={}&InstanceId.3={}",
        id(1),
        id(2),
        id(3)
    );
    let by_list = first_token(&app, &three).await;
    let by_many = first_token(&app, &format!("RegionId={REGION}&InstanceId.1={MANY}")).await;
    let by_other_account = first_token(
        &app,
        &format!("RegionId={REGION}&Name=p&AccessKeyId={OTHER_KEY}"),
    )
    .await;

    let refused = [
        // Another Name.
        (&by_name, format!("RegionId={REGION}&Name=q")),
        (&by_name, format!("RegionId={REGION}&Name=catalogued")),
        // Another region.
        (&by_name, format!("RegionId={OTHER_REGION}&Name=p")),
        // Another account.
        (
            &by_name,
            format!("RegionId={REGION}&Name=p&AccessKeyId={OTHER_KEY}"),
        ),
        (&by_other_account, format!("RegionId={REGION}&Name=p")),
        (
            &by_other_account,
            format!("RegionId={REGION}&Name=p&AccessKeyId={DEFAULT_KEY}"),
        ),
        // Another instance list (or none, or a list where there was none).
        (
            &by_name,
            format!("RegionId={REGION}&Name=p&InstanceId.1={}", id(1)),
        ),
        (&by_list, format!("RegionId={REGION}&Name=p")),
        (
            &by_list,
            format!(
                "RegionId={REGION}&Name=p&InstanceId.1={}&InstanceId.2={}",
                id(1),
                id(2)
            ),
        ),
        (
            &by_list,
            format!(
                "RegionId={REGION}&Name=p&InstanceId.1={}&InstanceId.2={}&InstanceId.3={}",
                id(1),
                id(3),
                id(2)
            ),
        ),
        (
            &by_list,
            format!(
                "RegionId={REGION}&Name=p&InstanceId.1={}&InstanceId.2={}\
                 &InstanceId.3={}&InstanceId.4={}",
                id(1),
                id(2),
                id(3),
                id(4)
            ),
        ),
        // No Name vs a Name; another instance in no-Name mode.
        (
            &by_many,
            format!("RegionId={REGION}&Name=p&InstanceId.1={MANY}"),
        ),
        (
            &by_many,
            format!("RegionId={REGION}&InstanceId.1={}", id(1)),
        ),
    ];
    for (token, query) in refused {
        let q = format!("{BASE}&{query}&NextToken={}", enc(token));
        assert_bad_token(&send(&app, &q).await, &query);
    }

    // The same scope accepts them: the default account's key is the default caller, an unknown
    // key is the default account too, and a repeated id does not change the list.
    let accepted = [
        (&by_name, format!("RegionId={REGION}&Name=p")),
        (
            &by_name,
            format!("RegionId={REGION}&Name=p&AccessKeyId={DEFAULT_KEY}"),
        ),
        (
            &by_name,
            format!("RegionId={REGION}&Name=p&AccessKeyId=LTAI5tUnknownKey"),
        ),
        (&by_list, three.clone()),
        (&by_list, format!("{three}&InstanceId.7={}", id(2))),
        (&by_many, format!("RegionId={REGION}&InstanceId.1={MANY}")),
        (
            &by_other_account,
            format!("RegionId={REGION}&Name=p&AccessKeyId={OTHER_KEY}"),
        ),
    ];
    for (token, query) in accepted {
        let q = format!("{BASE}&{query}&NextToken={}", enc(token));
        let body = ok(&app, &q).await;
        assert!(!records(&body).is_empty(), "{q}: {body}");
    }
    let body = ok(&app, &format!("{BASE}&{three}&NextToken={}", enc(&by_list))).await;
    assert_eq!(records(&body), vec![p_rec(3)]);
    assert!(body.get("NextToken").is_none());
}

#[tokio::test]
async fn token_mode_ignores_invalid_page_parameters() {
    let app = app();
    let query = format!("RegionId={REGION}&Name=p");
    // In page mode these values are refused...
    for (params, code) in [
        ("PageNumber=0", "InvalidParam.PageNumber"),
        ("PageNumber=abc", "InvalidParam.PageNumber"),
        ("PageSize=51", "InvalidParam.PageSize"),
        ("PageSize=-1", "InvalidParam.PageSize"),
    ] {
        let reply = send(&app, &format!("{BASE}&{query}&{params}")).await;
        assert_eq!(
            (reply.status, reply.code()),
            (400, code.to_owned()),
            "{params}"
        );
    }
    // ...and in token mode they are not even read.
    let token = first_token(&app, &query).await;
    for params in [
        "MaxResults=5&PageNumber=0&PageSize=51".to_owned(),
        "MaxResults=5&PageNumber=abc&PageSize=-1".to_owned(),
        format!(
            "MaxResults=5&PageNumber=0&PageSize=0&NextToken={}",
            enc(&token)
        ),
        format!("PageNumber=-3&PageSize=x&NextToken={}", enc(&token)),
    ] {
        let q = format!("{BASE}&{query}&{params}");
        let body = ok(&app, &q).await;
        assert!(body.get("PageNumber").is_none(), "{q}: {body}");
        assert!(body.get("PageSize").is_none(), "{q}: {body}");
        let skip = if params.contains("NextToken") { 2 } else { 0 };
        let take = if params.contains("MaxResults") { 5 } else { 10 };
        assert_eq!(records(&body), all_p_records()[skip..skip + take], "{q}");
        assert!(body.get("NextToken").is_some(), "{q}");
    }
}
