//! Signature checking (SPEC section 3) on the requests real SDKs sent, captured on the wire and
//! signed with `testid` / `testsecret`: every one verifies, and one byte changed does not.

mod common;

use axum::body::Body;
use axum::http::Request;
use axum::Router;
use chrono::{DateTime, Utc};
use ecs_emulator::rpc::signature::SignatureMode;
use ecs_emulator::state::{FixedClock, Options, SequentialRequestIds};
use ecs_emulator::{app, fixture, AppState};
use serde_json::{json, Value};

use common::{send_request, Reply};

const WEIRD_NAME: &str = "a b/*~+=&中'!()@:,;$";

fn fixture_json(secret: &str) -> String {
    let plugin = |name: &str| json!({"name": name, "version": "1.1", "status": "Running"});
    json!({
        "accounts": [
            {"accountId": "1234567890123456", "default": true, "accessKeys": [
                {"id": "testid", "secret": secret},
                {"id": "offkey", "secret": "off", "enabled": false}]},
            {"accountId": "2222222222222222", "accessKeys": [{"id": "otherid", "secret": "othersecret"}]}
        ],
        "catalog": [{"name": WEIRD_NAME}],
        "instances": [
            {"instanceId": "i-bp1iudwa5b1tqa0001", "regionId": "cn-hangzhou", "plugins": [plugin("testPlugin")]},
            {"instanceId": "i-bp1iudwa5b1tqa0002", "regionId": "cn-hangzhou", "plugins": [plugin("testPlugin")]}
        ]
    })
    .to_string()
}

fn strict_app(secret: &str, now: DateTime<Utc>) -> Router {
    let store = fixture::load_str("signature fixture", &fixture_json(secret)).unwrap();
    app(AppState::with_options(
        store,
        Options {
            request_ids: Box::new(SequentialRequestIds::default()),
            clock: Box::new(FixedClock(now)),
            signature: SignatureMode::Strict,
            ..Options::default()
        },
    ))
}

/// One captured request.
#[derive(Debug, Clone)]
struct Captured {
    name: String,
    time: DateTime<Utc>,
    method: String,
    raw_query: String,
    headers: Vec<(String, String)>,
    body: String,
}

impl Captured {
    fn from_json(name: String, request: &Value) -> Self {
        let text = |k: &str| request[k].as_str().unwrap_or_default().to_owned();
        Self {
            name,
            time: text("time").parse().expect("capture time"),
            method: text("method"),
            raw_query: text("raw_query"),
            headers: request["headers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| {
                    (
                        h[0].as_str().unwrap().to_owned(),
                        h[1].as_str().unwrap().to_owned(),
                    )
                })
                .collect(),
            body: text("body"),
        }
    }

    fn request(&self) -> Request<Body> {
        let uri = if self.raw_query.is_empty() {
            "/".to_owned()
        } else {
            format!("/?{}", self.raw_query)
        };
        let mut builder = Request::builder().method(self.method.as_str()).uri(uri);
        for (name, value) in &self.headers {
            if !name.eq_ignore_ascii_case("content-length")
                && !name.eq_ignore_ascii_case("connection")
            {
                builder = builder.header(name.as_str(), value.as_str());
            }
        }
        builder.body(Body::from(self.body.clone())).unwrap()
    }

    /// The same request with one byte of a signed value changed.
    fn with_one_byte_changed(&self) -> Self {
        let mut changed = self.clone();
        let (from, to) = ("cn-hangzhou", "cn-hangzhov");
        if changed.raw_query.contains(from) {
            changed.raw_query = changed.raw_query.replacen(from, to, 1);
        } else {
            assert!(
                changed.body.contains(from),
                "{}: no RegionId to change",
                self.name
            );
            changed.body = changed.body.replacen(from, to, 1);
        }
        changed
    }
}

/// Every captured request: both of each client file, and the encoding edge cases.
fn captures() -> Vec<Captured> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/captures");
    let mut found = Vec::new();
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    paths.sort();
    for path in paths {
        let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        if path.extension().is_some_and(|e| e == "jsonl") {
            for (i, line) in text.lines().filter(|l| !l.trim().is_empty()).enumerate() {
                let request: Value = serde_json::from_str(line).unwrap();
                let client = request["client"].as_str().unwrap_or("?");
                found.push(Captured::from_json(
                    format!("{stem}[{i}] {client}"),
                    &request,
                ));
            }
        } else {
            let file: Value = serde_json::from_str(&text).unwrap();
            for kind in ["page", "token"] {
                found.push(Captured::from_json(
                    format!("{stem} {kind}"),
                    &file[kind]["request"],
                ));
            }
        }
    }
    assert!(found.len() >= 20, "captures found: {}", found.len());
    found
}

/// Not a signature error: the request passed the gateway.
fn passed_gateway(reply: &Reply) -> bool {
    let code = serde_json::from_str::<Value>(&reply.body)
        .ok()
        .and_then(|v| v["Code"].as_str().map(str::to_owned))
        .unwrap_or_default();
    reply.status == 200 || ["InvalidParameter.NextToken"].contains(&code.as_str())
}

fn code_of(reply: &Reply) -> String {
    // V1 requests without Format get XML; read the code from either.
    if let Ok(v) = serde_json::from_str::<Value>(&reply.body) {
        return v["Code"].as_str().unwrap_or_default().to_owned();
    }
    let start = reply.body.find("<Code>").map(|i| i + 6).unwrap_or(0);
    let end = reply.body.find("</Code>").unwrap_or(start);
    reply.body[start..end].to_owned()
}

#[tokio::test]
async fn every_captured_request_verifies_and_one_byte_changed_does_not() {
    for captured in captures() {
        let app = strict_app("testsecret", captured.time);
        let reply = send_request(&app, captured.request()).await;
        assert!(
            passed_gateway(&reply),
            "{}: {} {}",
            captured.name,
            reply.status,
            reply.body
        );

        let changed = captured.with_one_byte_changed();
        let reply = send_request(&strict_app("testsecret", captured.time), changed.request()).await;
        assert_eq!(reply.status, 400, "{}: {}", captured.name, reply.body);
        assert_eq!(
            code_of(&reply),
            "SignatureDoesNotMatch",
            "{}",
            captured.name
        );
        assert!(
            reply.body.contains("server string to sign is:"),
            "{}",
            captured.name
        );
    }
}

#[tokio::test]
async fn a_replayed_nonce_is_refused() {
    let captured = &captures()[0];
    let app = strict_app("testsecret", captured.time);
    assert!(passed_gateway(
        &send_request(&app, captured.request()).await
    ));
    let reply = send_request(&app, captured.request()).await;
    assert_eq!(
        (reply.status, code_of(&reply).as_str()),
        (400, "SignatureNonceUsed"),
        "{}",
        reply.body
    );
}

#[tokio::test]
async fn a_wrong_secret_is_refused_with_the_string_to_sign() {
    for captured in captures() {
        let reply = send_request(
            &strict_app("another-secret", captured.time),
            captured.request(),
        )
        .await;
        assert_eq!(
            code_of(&reply),
            "SignatureDoesNotMatch",
            "{}",
            captured.name
        );
        let is_v3 = captured
            .headers
            .iter()
            .any(|(k, v)| k.eq_ignore_ascii_case("authorization") && v.starts_with("ACS3"));
        let marker = if is_v3 {
            "server string to sign is:ACS3-HMAC-SHA256\n"
        } else {
            "server string to sign is:"
        };
        assert!(
            reply.body.contains(marker)
                || reply
                    .body
                    .contains("server string to sign is:ACS3-HMAC-SHA256\\n"),
            "{}: {}",
            captured.name,
            reply.body
        );
        assert!(
            !reply.body.contains("testsecret"),
            "a secret leaked: {}",
            reply.body
        );
    }
}

#[tokio::test]
async fn times_outside_fifteen_minutes_are_expired() {
    for captured in captures().into_iter().take(6) {
        for minutes in [-16, 16] {
            let now = captured.time + chrono::Duration::minutes(minutes);
            let reply = send_request(&strict_app("testsecret", now), captured.request()).await;
            assert_eq!(
                code_of(&reply),
                "InvalidTimeStamp.Expired",
                "{} {minutes}",
                captured.name
            );
        }
        let now = captured.time + chrono::Duration::minutes(14);
        assert!(passed_gateway(
            &send_request(&strict_app("testsecret", now), captured.request()).await
        ));
    }
}

fn v1_request(extra: &str) -> Request<Body> {
    Request::get(format!(
        "/?Action=ListPluginStatus&Version=2014-05-26&Format=JSON&RegionId=cn-hangzhou&Name=testPlugin{extra}"
    ))
    .body(Body::empty())
    .unwrap()
}

#[tokio::test]
async fn gateway_errors_have_their_codes_statuses_and_messages() {
    let now: DateTime<Utc> = "2026-11-26T06:38:45Z".parse().unwrap();
    let app = strict_app("testsecret", now);
    let signed = "&SignatureMethod=HMAC-SHA1&SignatureVersion=1.0&SignatureNonce=n1&Timestamp=2026-11-26T06%3A38%3A45Z&Signature=AAAA";
    let cases = [
        ("", 400, "IncompleteSignature", "The request signature does not conform to Aliyun standards. server string to sign is:GET&%2F&"),
        ("&AccessKeyId=nobody&SignatureMethod=HMAC-SHA1&Timestamp=2026-11-26T06%3A38%3A45Z&SignatureNonce=n&Signature=AAAA", 404, "InvalidAccessKeyId.NotFound", "Specified access key is not found."),
        ("&AccessKeyId=offkey&SignatureMethod=HMAC-SHA1&Timestamp=2026-11-26T06%3A38%3A45Z&SignatureNonce=n&Signature=AAAA", 400, "InvalidAccessKeyId.Inactive", "Specified access key is disabled."),
        ("&AccessKeyId=testid&SignatureMethod=HMAC-SHA256&Timestamp=2026-11-26T06%3A38%3A45Z&SignatureNonce=n&Signature=AAAA", 400, "InvalidSignatureMethod", "Specified signature method is not valid."),
        ("&AccessKeyId=testid&SignatureMethod=HMAC-SHA1&Timestamp=yesterday&SignatureNonce=n&Signature=AAAA", 400, "InvalidTimeStamp.Format", "Specified time stamp or date value is not well formatted."),
        ("&AccessKeyId=testid&SignatureMethod=HMAC-SHA1&Timestamp=2026-11-26T05%3A00%3A00Z&SignatureNonce=n&Signature=AAAA", 400, "InvalidTimeStamp.Expired", "Specified time stamp or date value is expired."),
        (&format!("&AccessKeyId=testid{signed}")[..], 400, "SignatureDoesNotMatch", "Specified signature is not matched with our calculation. server string to sign is:GET&%2F&AccessKeyId%3Dtestid%26Action%3DListPluginStatus"),
    ];
    for (extra, status, code, message) in cases {
        let reply = send_request(&app, v1_request(extra)).await;
        assert_eq!(reply.status, status, "{code}: {}", reply.body);
        let body = reply.json();
        assert_eq!(body["Code"], code);
        let text = body["Message"].as_str().unwrap();
        assert!(text.starts_with(message), "{code}: {text}");
    }
    // V3 with an algorithm other than ACS3-HMAC-SHA256, and with fields missing.
    for (auth, code) in [
        (
            "ACS3-HMAC-SM3 Credential=testid,SignedHeaders=host,Signature=00",
            "InvalidSignatureMethod",
        ),
        ("ACS3-HMAC-SHA256 Credential=testid", "IncompleteSignature"),
    ] {
        let request = Request::post("/?RegionId=cn-hangzhou&Name=testPlugin")
            .header("x-acs-action", "ListPluginStatus")
            .header("x-acs-version", "2014-05-26")
            .header("authorization", auth)
            .body(Body::empty())
            .unwrap();
        let reply = send_request(&app, request).await;
        assert_eq!(
            (reply.status, reply.code().as_str()),
            (400, code),
            "{}",
            reply.body
        );
    }
}

#[tokio::test]
async fn off_mode_checks_nothing_but_still_picks_the_account_by_key() {
    let store = fixture::load_str("f", &fixture_json("testsecret")).unwrap();
    let app = app(AppState::with_request_ids(
        store,
        SequentialRequestIds::default(),
    ));
    let reply = send_request(&app, v1_request("&AccessKeyId=testid&Signature=garbage")).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    // The other account has no instances: its caller does not see testPlugin's instances.
    let reply = send_request(
        &app,
        v1_request("&AccessKeyId=otherid&InstanceId.1=i-bp1iudwa5b1tqa0001"),
    )
    .await;
    assert_eq!(reply.code(), "InvalidInstance.NotFound");
}
