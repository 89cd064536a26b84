//! Property tests: hostile input of every kind gets a typed answer, never a panic or a 5xx;
//! NextTokens open only in their own scope; paging walks random stores exactly once in order.
//!
//! The answer checks and request signers are those of the fuzz targets (`fuzz/src/lib.rs`).

#[path = "../fuzz/src/lib.rs"]
#[allow(dead_code)] // shared with the fuzz targets; each test binary uses a part
mod harness;

use std::collections::BTreeMap;

use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use proptest::sample::Index;
use serde_json::{json, Value};

use ecs_emulator::api::next_token::{TokenKey, TokenScope};
use ecs_emulator::fixture;
use ecs_emulator::rpc::signature::SignatureMode;
use harness::{check_api_answer, encode, encode_pairs, send, state_over, Answer, ApiOutcome};

/// Case counts are set per group so that the whole file runs in about 7 s in debug on two idle
/// cores; the fuzz targets go further for longer.
fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        max_shrink_iters: 2_000,
        ..ProptestConfig::default()
    }
}

fn strict_or_off() -> impl Strategy<Value = SignatureMode> {
    prop_oneof![Just(SignatureMode::Off), Just(SignatureMode::Strict)]
}

/// Bytes that mean something to the parameter decoder, mixed with any bytes.
fn hostile_bytes() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just(b"&".to_vec()),
        Just(b"=".to_vec()),
        Just(b"%".to_vec()),
        Just(b"+".to_vec()),
        Just(b"%FF".to_vec()),
        Just(b"%00".to_vec()),
        Just(b"%E4%B8%AD".to_vec()),
        Just(b"%EF%BF%BF".to_vec()),
        Just(b"%EF%BF%BE".to_vec()),
        Just(b"%0B".to_vec()),
        Just(b"Format=XML".to_vec()),
        Just(b"Format=json".to_vec()),
        Just(b"Name=".to_vec()),
        Just(b"PageNumber=".to_vec()),
        Just(b"MaxResults=".to_vec()),
        Just(b"NextToken=".to_vec()),
        "InstanceId(\\.[0-9]{0,3})?=".prop_map(String::into_bytes),
        "[0-9]{1,20}".prop_map(String::into_bytes),
        vec(any::<u8>(), 0..8),
    ];
    prop_oneof![
        vec(any::<u8>(), 0..300),
        vec(piece, 0..40).prop_map(|pieces| pieces.concat()),
    ]
}

fn prefix() -> impl Strategy<Value = &'static str> {
    proptest::sample::select(harness::PREFIXES.to_vec())
}

fn send_api(mode: SignatureMode, request: axum::http::Request<axum::body::Body>) -> ApiOutcome {
    check_api_answer(&send(&state_over(harness::small_store(), mode), request))
}

/// True when no extra parameter is one ListPluginStatus reads: the request must then succeed.
fn only_unknown(extra: &[(String, String)]) -> bool {
    extra.iter().all(|(k, _)| {
        !k.starts_with("InstanceId")
            && !["PageNumber", "PageSize", "MaxResults", "NextToken"].contains(&k.as_str())
    })
}

fn is_signature_error(outcome: &ApiOutcome) -> bool {
    matches!(outcome, ApiOutcome::Error(code) if harness::SIGNATURE_CODES.contains(&code.as_str()))
}

proptest! {
    #![proptest_config(config(384))]

    /// Any byte string as a query, after any common parameters, in either signature mode.
    #[test]
    fn any_query_gets_a_typed_answer(
        mode in strict_or_off(),
        prefix in prefix(),
        bytes in hostile_bytes(),
        post in any::<bool>(),
    ) {
        let query = format!("{prefix}{}", harness::raw_query(&bytes));
        let method = if post { "POST" } else { "GET" };
        send_api(mode, harness::api_request(method, &query, None, &[]));
    }

    /// Any byte string as a form body (POST, `application/x-www-form-urlencoded`).
    #[test]
    fn any_form_body_gets_a_typed_answer(
        mode in strict_or_off(),
        prefix in prefix(),
        body in hostile_bytes(),
        charset in any::<bool>(),
    ) {
        let content_type = if charset {
            "application/x-www-form-urlencoded; charset=UTF-8"
        } else {
            "application/x-www-form-urlencoded"
        };
        let request = harness::api_request("POST", prefix, Some((content_type, body)), &[]);
        send_api(mode, request);
    }

    /// Any byte string as a NextToken is refused as one (a token cannot be forged), in either
    /// format; bytes that are not UTF-8 are refused while decoding.
    #[test]
    fn any_next_token_is_refused(
        token in prop_oneof![vec(any::<u8>(), 1..120), "[A-Za-z0-9_-]{1,80}".prop_map(String::into_bytes)],
        format in proptest::sample::select(vec!["JSON", "XML"]),
        name in proptest::option::of(Just("p")),
    ) {
        let encoded: String = token.iter().map(|b| format!("%{b:02X}")).collect();
        let mut query = format!(
            "Action=ListPluginStatus&Version=2014-05-26&Format={format}&RegionId={}&NextToken={encoded}",
            harness::REGION
        );
        match name {
            Some(name) => query.push_str(&format!("&Name={name}")),
            None => query.push_str(&format!("&InstanceId.1={}", harness::INSTANCE)),
        }
        let outcome = send_api(SignatureMode::Off, harness::api_request("GET", &query, None, &[]));
        let expected = if std::str::from_utf8(&token).is_ok() {
            "InvalidParameter.NextToken"
        } else {
            "InvalidParameter"
        };
        prop_assert_eq!(outcome, ApiOutcome::Error(expected.to_owned()));
    }
}

/// Extra parameters a signed request carries: any non-empty key that is no common or
/// signature parameter, any value (empty ones too).
fn extra_params() -> impl Strategy<Value = Vec<(String, String)>> {
    let key = prop_oneof![
        "[A-Za-z][A-Za-z0-9._~-]{0,12}",
        "\\PC{1,8}",
        any::<String>()
    ];
    btree_map(key, any::<String>(), 0..6).prop_map(|map| {
        map.into_iter()
            .filter(|(k, _)| !k.is_empty() && !RESERVED.contains(&k.as_str()))
            .collect()
    })
}

/// What the base query and the signers set.
const RESERVED: [&str; 14] = [
    "Action",
    "Version",
    "Format",
    "RegionId",
    "Name",
    "InstanceId.1",
    "AccessKeyId",
    "Signature",
    "SignatureMethod",
    "SignatureVersion",
    "SignatureNonce",
    "Timestamp",
    "SecurityToken",
    "NextToken",
];

fn base_params(format: &str) -> Vec<(String, String)> {
    [
        ("Action", "ListPluginStatus"),
        ("Version", "2014-05-26"),
        ("Format", format),
        ("RegionId", harness::REGION),
        ("Name", "p"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

fn timestamp() -> String {
    harness::fixed_now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// A V1 request signed over `base + extra`; with `in_body`, the parameters after the first
/// `split` go in a form body.
fn v1_request(
    format: &str,
    extra: &[(String, String)],
    in_body: Option<Index>,
    nonce: u64,
) -> (String, Option<String>) {
    let mut params = base_params(format);
    params.extend(extra.iter().cloned());
    let method = if in_body.is_some() { "POST" } else { "GET" };
    let signed = harness::sign_v1(
        method,
        &params,
        harness::KEY_ID,
        harness::SECRET,
        &format!("n{nonce}"),
        &timestamp(),
    );
    match in_body {
        Some(split) => {
            let at = split.index(signed.len() + 1);
            let (query, body) = signed.split_at(at);
            (encode_pairs(query), Some(encode_pairs(body)))
        }
        None => (encode_pairs(&signed), None),
    }
}

fn send_v1(query: &str, body: Option<String>) -> ApiOutcome {
    let request = match body {
        Some(body) => harness::api_request(
            "POST",
            query,
            Some(("application/x-www-form-urlencoded", body.into_bytes())),
            &[],
        ),
        None => harness::api_request("GET", query, None, &[]),
    };
    send_api(SignatureMode::Strict, request)
}

/// A V3 request: the business parameters in the query, the action in headers.
fn v3_request(
    extra: &[(String, String)],
    post_body: Option<Vec<u8>>,
    nonce: u64,
) -> axum::http::Request<axum::body::Body> {
    let mut query: Vec<(String, String)> = base_params("JSON").split_off(3);
    query.extend(extra.iter().cloned());
    let method = if post_body.is_some() { "POST" } else { "GET" };
    let body = post_body.clone().unwrap_or_default();
    let headers = harness::sign_v3(
        method,
        &query,
        &body,
        &[
            ("host".into(), "ecs.aliyuncs.com".into()),
            ("x-acs-action".into(), "ListPluginStatus".into()),
            ("x-acs-version".into(), "2014-05-26".into()),
        ],
        harness::KEY_ID,
        harness::SECRET,
        &format!("n{nonce}"),
        &timestamp(),
    );
    harness::api_request(
        method,
        &encode_pairs(&query),
        post_body.map(|b| ("application/x-www-form-urlencoded", b)),
        &headers,
    )
}

proptest! {
    #![proptest_config(config(256))]

    /// Well-signed V1 requests with any extra parameters, in the query or a form body, pass
    /// the signature gate: a success or an operation's error, never a signature error.
    #[test]
    fn well_signed_v1_requests_pass_the_gate(
        extra in extra_params(),
        format in proptest::sample::select(vec!["JSON", "XML"]),
        in_body in proptest::option::of(any::<Index>()),
        nonce in any::<u64>(),
    ) {
        let (query, body) = v1_request(format, &extra, in_body, nonce);
        let outcome = send_v1(&query, body);
        prop_assert!(!is_signature_error(&outcome), "{:?}", outcome);
        if only_unknown(&extra) {
            prop_assert!(matches!(outcome, ApiOutcome::Success(_)), "{:?}", outcome);
        }
    }

    /// Well-signed V3 requests with any extra query parameters and any body pass the gate.
    #[test]
    fn well_signed_v3_requests_pass_the_gate(
        extra in extra_params(),
        body in proptest::option::of(vec(any::<u8>(), 0..64)),
        nonce in any::<u64>(),
    ) {
        let plain = body.is_none();
        let outcome = send_api(SignatureMode::Strict, v3_request(&extra, body, nonce));
        prop_assert!(!is_signature_error(&outcome), "{:?}", outcome);
        if plain && only_unknown(&extra) {
            prop_assert!(matches!(outcome, ApiOutcome::Success(Some(_))), "{:?}", outcome);
        }
    }

    /// A signed request with one value changed after signing is refused as badly signed; with
    /// any byte of its wire form changed it still gets a typed answer.
    #[test]
    fn changed_signed_requests_are_refused(
        extra in extra_params().prop_filter("something to change", |e| !e.is_empty()),
        which in any::<Index>(),
        appended in "\\PC",
        byte in any::<Index>(),
        to in any::<u8>(),
        v3 in any::<bool>(),
    ) {
        let mut changed = extra.clone();
        changed[which.index(extra.len())].1.push_str(&appended);
        if v3 {
            let signed = v3_request(&extra, None, 1);
            let (parts, _) = signed.into_parts();
            let mut forged = v3_request(&changed, None, 1);
            *forged.headers_mut() = parts.headers.clone();
            let outcome = send_api(SignatureMode::Strict, forged);
            prop_assert_eq!(outcome, ApiOutcome::Error("SignatureDoesNotMatch".into()));

            let mut query = parts.uri.query().unwrap_or_default().as_bytes().to_vec();
            let at = byte.index(query.len());
            query[at] = to;
            let request = harness::api_request("GET", &harness::raw_query(&query), None, &[]);
            let mut request = request;
            *request.headers_mut() = parts.headers;
            send_api(SignatureMode::Strict, request);
        } else {
            let (signed, _) = v1_request("JSON", &extra, None, 1);
            let (forged, _) = v1_request("JSON", &changed, None, 1);
            // The changed parameters with the original signature.
            let original_signature = signed.rsplit('&').next().expect("Signature last").to_owned();
            let mut forged_pairs: Vec<&str> = forged.split('&').collect();
            forged_pairs.pop();
            let forged = format!("{}&{original_signature}", forged_pairs.join("&"));
            prop_assert_eq!(send_v1(&forged, None), ApiOutcome::Error("SignatureDoesNotMatch".into()));

            let mut query = signed.into_bytes();
            let at = byte.index(query.len());
            query[at] = to;
            send_v1(&harness::raw_query(&query), None);
        }
    }

    /// Garbage in every signature parameter and header gets a typed answer.
    #[test]
    fn garbage_signatures_get_typed_answers(
        params in vec((proptest::sample::select(vec!["AccessKeyId", "Signature", "SignatureMethod", "SignatureNonce", "Timestamp", "SignatureVersion"]), prop_oneof![Just(harness::KEY_ID.to_owned()), Just(harness::DISABLED_KEY_ID.to_owned()), Just("HMAC-SHA1".to_owned()), Just(timestamp()), any::<String>()]), 0..6),
        headers in vec((proptest::sample::select(vec!["authorization", "x-acs-date", "x-acs-signature-nonce", "x-acs-content-sha256", "x-acs-action", "x-acs-version"]), prop_oneof![
            "ACS3-HMAC-SHA256 Credential=(fuzzkey|offkey|x),SignedHeaders=[a-z;-]{0,30},Signature=[0-9a-f]{0,64}",
            Just(timestamp()),
            "[ -~]{0,40}",
        ]), 0..5),
    ) {
        let mut pairs = base_params("XML");
        let mut seen: Vec<&str> = Vec::new();
        for (k, v) in &params {
            if !seen.contains(k) {
                seen.push(k);
                pairs.push((k.to_string(), v.clone()));
            }
        }
        let headers: Vec<(String, String)> = headers
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        let request = harness::api_request("GET", &encode_pairs(&pairs), None, &headers);
        let outcome = send_api(SignatureMode::Strict, request);
        prop_assert!(matches!(outcome, ApiOutcome::Error(_)), "garbage passed: {:?}", outcome);
    }
}

/// JSON values with the fields the control plane and data files know, at any depth.
fn json_value() -> impl Strategy<Value = Value> {
    let field = proptest::sample::select(vec![
        "accounts",
        "accountId",
        "default",
        "accessKeys",
        "id",
        "secret",
        "enabled",
        "catalog",
        "name",
        "type",
        "instances",
        "instanceId",
        "regionId",
        "plugins",
        "version",
        "status",
        "firstHeartbeatTime",
        "lastHeartbeatTime",
        "action",
        "code",
        "message",
        "latencyMs",
        "probability",
        "seed",
        "times",
        "retryAfterMs",
        "now",
        "frozen",
        "other",
    ]);
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        proptest::sample::select(vec![
            "Running",
            "Removed",
            "NotInstalled",
            "Once",
            "Persist",
            "cn-hangzhou",
            "i-fuzz0001",
            "111111111111111",
            "2024-01-01T00:00:00Z",
            "9999-12-31T23:59:59Z",
            "0000-01-01T00:00:00Z",
            "Throttling.User",
            "",
            "\u{1}",
            "\u{fffe}",
        ],)
        .prop_map(Value::from),
        any::<String>().prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(Value::Array),
            btree_map(field.clone(), inner, 0..6).prop_map(|m| Value::Object(
                m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
            )),
        ]
    })
}

/// A body: any bytes, or a JSON value with known fields.
fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        1 => vec(any::<u8>(), 0..200),
        3 => json_value().prop_map(|v| v.to_string().into_bytes()),
    ]
}

/// A valid body for each of [`harness::BODY_ROUTES`], to change in one place.
fn valid_body(route: usize) -> Value {
    let plugin = json!({"name": "n", "version": "1", "status": "Running",
        "firstHeartbeatTime": "2024-01-02T03:04:05Z", "lastHeartbeatTime": "2024-01-02T03:04:06Z"});
    match route {
        0 => json!({
            "accounts": [{"accountId": "1", "default": true, "accessKeys": [{"id": "k", "secret": "s", "enabled": true}]}],
            "catalog": [{"name": "c", "type": "Once"}],
            "instances": [{"instanceId": "i-1", "regionId": "cn-hangzhou", "accountId": "1", "plugins": [plugin]}],
        }),
        1 | 2 => {
            json!({"regionId": "cn-hangzhou", "accountId": "111111111111111", "plugins": [plugin]})
        }
        3 | 4 => {
            json!({"version": "2", "status": "Stopped", "firstHeartbeatTime": "2024-01-02T03:04:05Z",
            "lastHeartbeatTime": "2024-01-02T03:04:06Z"})
        }
        5..=9 => json!({"version": "3", "type": "Persist"}),
        10 => {
            json!({"action": "ListPluginStatus", "regionId": "cn-hangzhou", "instanceId": "i-fuzz0001",
            "code": "Throttling.User", "status": 429, "message": "slow down", "latencyMs": 0,
            "probability": 0.5, "seed": 7, "times": 3, "retryAfterMs": 10})
        }
        _ => json!({"now": "2030-01-02T03:04:05Z", "frozen": true}),
    }
}

/// Every place in `value` a change can go: object members and array items, at any depth.
fn places(value: &Value, at: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    let children: Vec<(String, &Value)> = match value {
        Value::Object(map) => map.iter().map(|(k, v)| (k.clone(), v)).collect(),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, v)| (i.to_string(), v))
            .collect(),
        _ => return,
    };
    for (key, child) in children {
        at.push(key);
        out.push(at.clone());
        places(child, at, out);
        at.pop();
    }
}

/// `value` with the member at `path` replaced by `with`, or removed when `with` is `None`.
fn change_at(value: &mut Value, path: &[String], with: Option<Value>) {
    let (last, parents) = path.split_last().expect("a path");
    let mut parent = value;
    for key in parents {
        parent = match parent {
            Value::Object(map) => map.get_mut(key).expect("a member"),
            Value::Array(items) => &mut items[key.parse::<usize>().expect("an index")],
            _ => unreachable!("paths go through containers"),
        };
    }
    match (parent, with) {
        (Value::Object(map), Some(v)) => {
            map.insert(last.clone(), v);
        }
        (Value::Object(map), None) => {
            map.remove(last);
        }
        (Value::Array(items), Some(v)) => items[last.parse::<usize>().expect("an index")] = v,
        (Value::Array(items), None) => {
            items.remove(last.parse::<usize>().expect("an index"));
        }
        _ => unreachable!("paths go through containers"),
    }
}

/// A route and a body: a valid one changed in one place, or anything.
fn route_and_body() -> impl Strategy<Value = (usize, Vec<u8>)> {
    let routes = harness::BODY_ROUTES.len();
    prop_oneof![
        3 => (0..routes, any::<Index>(), proptest::option::weighted(0.85, json_value())).prop_map(
            |(route, place, with)| {
                let mut body = valid_body(route);
                let mut all = Vec::new();
                places(&body, &mut Vec::new(), &mut all);
                change_at(&mut body, &all[place.index(all.len())], with);
                (route, body.to_string().into_bytes())
            }
        ),
        1 => (0..routes).prop_map(|route| (route, valid_body(route).to_string().into_bytes())),
        2 => (0..routes, body()),
    ]
}

proptest! {
    #![proptest_config(config(384))]

    /// Any body on every route that takes one (state, instances, plug-ins, events, faults,
    /// clock): `{"code","message"}` with a 4xx, or a 2xx; a refusal changes nothing, and after
    /// a change the API still answers in well-formed JSON and XML.
    #[test]
    fn any_control_plane_body_gets_a_typed_answer((route, body) in route_and_body()) {
        let (method, path) = harness::BODY_ROUTES[route];
        harness::send_admin_body(method, path, &body);
    }

    /// Any text as a data file loads or is refused with a position; see `run_data_file`.
    #[test]
    fn any_data_file_loads_or_is_refused(
        text in prop_oneof![
            json_value().prop_map(|v| json!({"instances": [v]}).to_string()),
            json_value().prop_map(|v| v.to_string()),
            (any::<Index>(), vec(any::<u8>(), 0..12)).prop_map(|(at, junk)| {
                let mut bytes = harness::SMALL_FIXTURE.as_bytes().to_vec();
                let at = at.index(bytes.len());
                bytes.splice(at..at, junk);
                String::from_utf8_lossy(&bytes).into_owned()
            }),
        ],
    ) {
        harness::run_data_file(text.as_bytes());
    }
}

proptest! {
    #![proptest_config(config(1024))]

    /// A token issued for a position opens to it for the same caller, region, ids and Name,
    /// and for no other.
    #[test]
    fn next_tokens_open_in_their_own_scope_only(
        account in "[0-9]{1,16}",
        region in "[a-z0-9-]{1,20}",
        ids in vec("\\PC{1,12}", 0..5),
        name in proptest::option::of("\\PC{1,20}"),
        cursor in "(?s).{0,255}",
        change in 0..6usize,
        secret in "[a-z]{0,8}",
    ) {
        let key = TokenKey::derive(&[ecs_emulator::engine::Account {
            id: account.clone(),
            access_keys: vec![ecs_emulator::engine::AccessKey {
                id: "k".into(),
                secret: secret.clone(),
                enabled: true,
            }],
        }]);
        let scope = TokenScope { account: &account, region: &region, instance_ids: &ids, name: name.as_deref() };
        let token = key.issue(&scope, &cursor);
        prop_assert_eq!(key.open(&scope, &token), Some(cursor.clone()));
        prop_assert!(token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));

        let other_account = format!("{account}0");
        let other_region = format!("{region}-x");
        let mut more_ids = ids.clone();
        more_ids.push("i-extra".into());
        let mut reversed = ids.clone();
        reversed.reverse();
        let other_name = match &name {
            Some(_) => None,
            None => Some("p".to_owned()),
        };
        let foreign = match change {
            0 => TokenScope { account: &other_account, ..scope },
            1 => TokenScope { region: &other_region, ..scope },
            2 => TokenScope { instance_ids: &more_ids, ..scope },
            3 if ids.len() > 1 && reversed != ids => TokenScope { instance_ids: &reversed, ..scope },
            4 => TokenScope { name: other_name.as_deref(), ..scope },
            _ => {
                // Another key (other secrets) does not open it either.
                let other = TokenKey::derive(&[]);
                prop_assert_eq!(other.open(&scope, &token), None);
                return Ok(());
            }
        };
        prop_assert_eq!(key.open(&foreign, &token), None);
    }
}

// ---------------------------------------------------------------------------------------------
// Paging over random stores.

const STATUSES: [&str; 7] = [
    "NotInstalled",
    "Installed",
    "Running",
    "Stopped",
    "Crashed",
    "Removed",
    "Unknown",
];
const REGIONS: [&str; 3] = ["cn-hangzhou", "cn-beijing", "ap-southeast-1"];
const ACCOUNTS: usize = 3;
const CATALOGUED: &str = "catalogued";

/// One stored instance.
#[derive(Debug, Clone)]
struct StoredInstance {
    account: usize,
    region: usize,
    id: String,
    /// name → (status, version)
    plugins: BTreeMap<String, (usize, String)>,
}

fn account_id(n: usize) -> String {
    format!("10000000000000{n}")
}

fn key_id(n: usize) -> String {
    format!("key-{n}")
}

/// Random instances (ids unique per account, shared across accounts at times).
fn stored_instances() -> impl Strategy<Value = Vec<StoredInstance>> {
    let instance = (
        0..ACCOUNTS,
        0..REGIONS.len(),
        "i-[a-c0-9]{1,3}",
        btree_map("[a-e]{1,2}", (0..STATUSES.len(), "[0-9.]{0,3}"), 0..7),
    )
        .prop_map(|(account, region, id, plugins)| StoredInstance {
            account,
            region,
            id,
            plugins,
        });
    vec(instance, 0..36).prop_map(|all| {
        let mut unique: BTreeMap<(usize, String), StoredInstance> = BTreeMap::new();
        for instance in all {
            unique.insert((instance.account, instance.id.clone()), instance);
        }
        unique.into_values().collect()
    })
}

fn fixture_json(instances: &[StoredInstance]) -> String {
    json!({
        "accounts": (0..ACCOUNTS).map(|n| json!({
            "accountId": account_id(n),
            "default": n == 0,
            "accessKeys": [{"id": key_id(n), "secret": format!("secret-{n}")}],
        })).collect::<Vec<_>>(),
        "catalog": [{"name": CATALOGUED}],
        "instances": instances.iter().map(|i| json!({
            "instanceId": i.id,
            "regionId": REGIONS[i.region],
            "accountId": account_id(i.account),
            "plugins": i.plugins.iter().map(|(name, (status, version))| json!({
                "name": name, "version": version, "status": STATUSES[*status],
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })
    .to_string()
}

/// One record as listed: instance, plug-in, status, version.
type Record = (String, String, String, String);

/// What a query should list, per SPEC section 4.
fn expected(
    instances: &[StoredInstance],
    account: usize,
    region: usize,
    shape: &Shape,
) -> Vec<Record> {
    let mut mine: Vec<&StoredInstance> = instances
        .iter()
        .filter(|i| i.account == account && i.region == region)
        .collect();
    mine.sort_by(|a, b| a.id.cmp(&b.id));
    let record = |i: &StoredInstance, name: &str| match i.plugins.get(name) {
        Some((status, version)) => (
            i.id.clone(),
            name.to_owned(),
            STATUSES[*status].to_owned(),
            version.clone(),
        ),
        None => (
            i.id.clone(),
            name.to_owned(),
            "NotInstalled".to_owned(),
            String::new(),
        ),
    };
    match shape {
        Shape::NameOnAll(name) => mine.iter().map(|i| record(i, name)).collect(),
        Shape::NameOnIds(name, ids) => ids
            .iter()
            .map(|id| record(mine.iter().find(|i| &i.id == id).expect("listed id"), name))
            .collect(),
        Shape::OneInstance(id) => {
            let instance = mine.iter().find(|i| &i.id == id).expect("the instance");
            instance
                .plugins
                .keys()
                .map(|name| record(instance, name))
                .collect()
        }
    }
}

/// Which records a query asks for.
#[derive(Debug, Clone)]
enum Shape {
    /// `Name`, no `InstanceId`: every instance of the caller in the region.
    NameOnAll(String),
    /// `Name` and `InstanceId.1..`: those instances, in N order.
    NameOnIds(String, Vec<String>),
    /// One `InstanceId`, no `Name`: its plug-ins by name.
    OneInstance(String),
}

impl Shape {
    fn query(&self) -> String {
        let ids = |ids: &[String]| {
            ids.iter()
                .enumerate()
                .map(|(n, id)| format!("&InstanceId.{}={}", n + 1, encode(id)))
                .collect::<String>()
        };
        match self {
            Self::NameOnAll(name) => format!("&Name={}", encode(name)),
            Self::NameOnIds(name, list) => format!("&Name={}{}", encode(name), ids(list)),
            Self::OneInstance(id) => ids(std::slice::from_ref(id)),
        }
    }
}

/// Picks a query the caller may make of this store.
fn pick_shape(
    instances: &[StoredInstance],
    account: usize,
    region: usize,
    picks: &[Index; 3],
) -> Shape {
    let mut ids: Vec<&StoredInstance> = instances
        .iter()
        .filter(|i| i.account == account && i.region == region)
        .collect();
    ids.sort_by(|a, b| a.id.cmp(&b.id));
    // The names this caller may ask for here: the catalog's and those on its instances.
    let mut names: Vec<String> = ids.iter().flat_map(|i| i.plugins.keys().cloned()).collect();
    names.push(CATALOGUED.to_owned());
    names.sort();
    names.dedup();
    let name = picks[1].get(&names).clone();
    match picks[0].index(3) {
        1 if !ids.is_empty() => {
            // Some of the instances, shuffled by the pick, each once.
            let mut chosen: Vec<String> = ids.iter().map(|i| i.id.clone()).collect();
            let rotate = picks[2].index(chosen.len());
            chosen.rotate_left(rotate);
            chosen.truncate(1 + picks[2].index(chosen.len().min(6)));
            chosen.reverse();
            Shape::NameOnIds(name, chosen)
        }
        2 if !ids.is_empty() => Shape::OneInstance(picks[2].get(&ids).id.clone()),
        _ => Shape::NameOnAll(name),
    }
}

fn ok_page(state: &ecs_emulator::AppState, query: &str) -> Value {
    let answer: Answer = send(state, harness::api_request("GET", query, None, &[]));
    match check_api_answer(&answer) {
        ApiOutcome::Success(Some(json)) => json,
        other => panic!("{query}: {other:?} {}", answer.body),
    }
}

fn page_records(body: &Value) -> Vec<Record> {
    let mut out = Vec::new();
    for entry in body["InstancePluginStatusSet"]["InstancePluginStatus"]
        .as_array()
        .expect("a list")
    {
        let instance = entry["InstanceId"].as_str().expect("InstanceId");
        for item in entry["PluginStatusSet"]["PluginStatus"]
            .as_array()
            .expect("items")
        {
            let text = |k: &str| item[k].as_str().expect("text").to_owned();
            out.push((
                instance.to_owned(),
                text("PluginName"),
                text("PluginStatus"),
                text("PluginVersion"),
            ));
        }
    }
    out
}

proptest! {
    #![proptest_config(config(192))]

    /// Walking by PageNumber and by NextToken returns every matching record exactly once, in
    /// order, with the right TotalCount; a page's token is refused for another query.
    #[test]
    fn paging_walks_every_record_once_in_order(
        instances in stored_instances(),
        account in 0..ACCOUNTS,
        region in 0..REGIONS.len(),
        picks in any::<[Index; 3]>(),
        size in prop_oneof![3 => 1..=6usize, 1 => 7..=50usize],
    ) {
        let store = fixture::load_str("random", &fixture_json(&instances)).expect("a valid store");
        let state = state_over(store, SignatureMode::Off);
        let shape = pick_shape(&instances, account, region, &picks);
        let want = expected(&instances, account, region, &shape);
        let base = format!(
            "Action=ListPluginStatus&Version=2014-05-26&Format=JSON&AccessKeyId={}&RegionId={}{}",
            key_id(account),
            REGIONS[region],
            shape.query()
        );
        let total = want.len();
        let pages = total.div_ceil(size);

        // Page mode, one page past the end.
        let mut got = Vec::new();
        for number in 1..=pages + 1 {
            let body = ok_page(&state, &format!("{base}&PageNumber={number}&PageSize={size}"));
            prop_assert_eq!(&body["TotalCount"], &json!(total));
            prop_assert_eq!(&body["PageNumber"], &json!(number));
            let page = page_records(&body);
            prop_assert_eq!(page.len(), size.min(total.saturating_sub((number - 1) * size)));
            prop_assert_eq!(body.get("NextToken").is_some(), number < pages);
            got.extend(page);
        }
        prop_assert_eq!(&got, &want);

        // Token mode.
        let mut got = Vec::new();
        let mut token: Option<String> = None;
        let mut first_token = None;
        for _ in 0..=pages {
            let mut query = format!("{base}&MaxResults={size}");
            if let Some(t) = &token {
                query.push_str(&format!("&NextToken={}", encode(t)));
            }
            let body = ok_page(&state, &query);
            prop_assert_eq!(&body["TotalCount"], &json!(total));
            prop_assert!(body.get("PageNumber").is_none());
            let page = page_records(&body);
            prop_assert!(!page.is_empty() || total == 0);
            got.extend(page);
            token = body.get("NextToken").and_then(Value::as_str).map(str::to_owned);
            if first_token.is_none() {
                first_token = token.clone();
            }
            if token.is_none() {
                break;
            }
        }
        prop_assert_eq!(token, None, "the walk did not end");
        prop_assert_eq!(&got, &want);

        // The first page's token, for another caller or another Name: refused.
        if let Some(t) = first_token {
            let other_caller = base.replacen(
                &format!("AccessKeyId={}", key_id(account)),
                &format!("AccessKeyId={}", key_id((account + 1) % ACCOUNTS)),
                1,
            );
            let other_name = match &shape {
                Shape::OneInstance(_) => format!("{base}&Name={CATALOGUED}"),
                _ => base.replacen("&Name=", "&Name=x", 1),
            };
            for query in [other_caller, other_name] {
                let query = format!("{query}&MaxResults={size}&NextToken={}", encode(&t));
                let answer = send(&state, harness::api_request("GET", &query, None, &[]));
                prop_assert_eq!(
                    check_api_answer(&answer),
                    ApiOutcome::Error("InvalidParameter.NextToken".into()),
                    "{}", query
                );
            }
        }
    }
}
