//! Hostile input at the edges of the contract (SPEC 3, 5 and 7), a section per hole closed.
//! Every XML answer here is parsed with a strict XML 1.0 parser.

mod common;

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, Request};
use axum::Router;
use chrono::{DateTime, Utc};
use ecs_emulator::rpc::render::{encode, Format};
use ecs_emulator::rpc::signature::{
    v3_canonical_request, v3_signature, v3_string_to_sign, SignatureMode,
};
use ecs_emulator::state::{Clock, FixedClock, Options, SequentialRequestIds};
use ecs_emulator::{app, fixture, AppState};
use http_body_util::channel::{Channel, Sender};
use serde::Serialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use common::{admin, enc, send, send_request, Reply, BASE};

const QUERY: &str = "RegionId=cn-hangzhou&Name=testPlugin";

fn fixture_json() -> String {
    json!({
        "accounts": [{"accountId": "1234567890123456", "default": true,
            "accessKeys": [{"id": "testid", "secret": "testsecret"}]}],
        "instances": [{"instanceId": "i-bp1iudwa5b1tqa0001", "regionId": "cn-hangzhou",
            "plugins": [{"name": "testPlugin", "version": "1.1", "status": "Running"}]}]
    })
    .to_string()
}

fn app_on(signature: SignatureMode, clock: Box<dyn Clock>) -> Router {
    let store = fixture::load_str("hostile fixture", &fixture_json()).unwrap();
    app(AppState::with_options(
        store,
        Options {
            request_ids: Box::new(SequentialRequestIds::default()),
            clock,
            signature,
            ..Options::default()
        },
    ))
}

// ---------------------------------------------------------------------------------------------
// A strict XML 1.0 check.

/// True for what SPEC 5 says an XML answer never carries: control characters other than tab,
/// CR and LF, and the Unicode non-characters. Written out here rather than taken from the
/// crate, so that the test does not check the emulator against itself.
fn unfit_for_xml(c: char) -> bool {
    let code = u32::from(c);
    (c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
        || (0xFDD0..=0xFDEF).contains(&code)
        || code & 0xFFFF >= 0xFFFE
}

/// Parses `xml` with roxmltree (which refuses every character outside XML 1.0's `Char`, raw or
/// as a reference), checks its text against SPEC 5, and answers the text of each `element`.
#[track_caller]
fn xml_texts(xml: &str, element: &str) -> Vec<String> {
    let document = roxmltree::Document::parse(xml)
        .unwrap_or_else(|e| panic!("not well-formed XML 1.0 ({e}): {xml:?}"));
    for node in document.descendants() {
        if let Some(text) = node.text() {
            if let Some(bad) = text.chars().find(|&c| unfit_for_xml(c)) {
                panic!("XML text holds {}: {xml:?}", bad.escape_unicode());
            }
        }
    }
    document
        .descendants()
        .filter(|n| n.has_tag_name(element))
        .map(|n| n.text().unwrap_or_default().to_owned())
        .collect()
}

/// An XML answer: well-formed, with the given status, answering the text of `element`.
#[track_caller]
fn xml_field(reply: &Reply, status: u16, element: &str) -> String {
    assert_eq!(reply.status, status, "{}", reply.body);
    assert_eq!(
        reply.header("content-type"),
        Some("text/xml;charset=utf-8"),
        "{}",
        reply.body
    );
    let texts = xml_texts(&reply.body, element);
    assert_eq!(texts.len(), 1, "one <{element}>: {}", reply.body);
    texts[0].clone()
}

#[test]
fn the_checker_refuses_what_xml_cannot_carry() {
    let bad = [
        "<a>\u{1}</a>",
        "<a>&#1;</a>",
        "<a>\u{FFFF}</a>",
        "<a>&#xFFFE;</a>",
        "<a>\u{FDD0}</a>",
        "<a>\u{1FFFF}</a>",
    ];
    for xml in bad {
        let outcome = std::panic::catch_unwind(|| xml_texts(xml, "a"));
        assert!(outcome.is_err(), "accepted {xml:?}");
    }
    assert_eq!(xml_texts("<a>\tx\u{FFFD}&amp;</a>", "a"), ["\tx\u{FFFD}&"]);
}

// ---------------------------------------------------------------------------------------------
// Hole 3: text XML cannot carry.

async fn call(app: &Router, method: &str, path: &str, body: Option<Value>) -> Reply {
    send_request(app, admin(method, path, body)).await
}

/// A control-plane error: status, code, and a message naming `field` first.
#[track_caller]
fn admin_error(reply: &Reply, status: u16, code: &str, field: &str) -> String {
    assert_eq!(reply.status, status, "{}", reply.body);
    let body = reply.json();
    let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["code", "message"], "{}", reply.body);
    assert_eq!(body["code"], code, "{}", reply.body);
    let message = body["message"].as_str().unwrap().to_owned();
    assert!(message.starts_with(&format!("{field}: ")), "{message}");
    message
}

fn demo() -> Router {
    app_on(
        SignatureMode::Off,
        Box::new(ecs_emulator::state::SystemClock),
    )
}

const UNFIT: [char; 6] = [
    '\u{FFFF}',
    '\u{FFFE}',
    '\u{FDD0}',
    '\u{FDEF}',
    '\u{1FFFE}',
    '\u{10FFFF}',
];

#[tokio::test]
async fn the_control_plane_refuses_names_xml_cannot_carry() {
    let app = demo();
    let state = call(&app, "GET", "/state", None).await.body;
    for c in UNFIT.into_iter().chain(['\u{1}', '\u{7F}', '\u{85}']) {
        let name = enc(&format!("a{c}b"));
        let plugin = json!({"version": "1", "status": "Running"});
        let path = format!("/instances/i-bp1iudwa5b1tqa0001/plugins/{name}");
        let reply = call(&app, "PUT", &path, Some(plugin)).await;
        let message = admin_error(&reply, 400, "InvalidField", "name");
        assert!(message.contains("not allowed"), "{message}");
        let reply = call(&app, "POST", &format!("{path}/install"), None).await;
        admin_error(&reply, 400, "InvalidField", "name");
        let instance = json!({"regionId": "cn-hangzhou"});
        let reply = call(&app, "PUT", &format!("/instances/i-{name}"), Some(instance)).await;
        admin_error(&reply, 400, "InvalidField", "instanceId");
        let body = json!({"regionId": "cn-hangzhou",
            "plugins": [{"name": format!("a{c}b"), "status": "Running"}]});
        let reply = call(&app, "PUT", "/instances/i-new", Some(body)).await;
        admin_error(&reply, 400, "InvalidField", "plugins[0].name");
    }
    assert_eq!(call(&app, "GET", "/state", None).await.body, state);
    let query = format!("Action=ListPluginStatus&Version=2014-05-26&Format=XML&{QUERY}");
    let reply = send(&app, &query).await;
    assert_eq!(xml_field(&reply, 200, "TotalCount"), "1");
}

#[tokio::test]
async fn the_data_file_refuses_non_characters_and_control_characters() {
    for c in UNFIT.into_iter().chain(['\t', '\u{1}']) {
        for (field, plugin) in [
            (
                "name",
                json!({"name": format!("p{c}"), "status": "Running"}),
            ),
            (
                "version",
                json!({"name": "p", "version": format!("1{c}"), "status": "Running"}),
            ),
        ] {
            let data = json!({"instances": [{"instanceId": "i-1", "regionId": "cn-hangzhou",
                "plugins": [plugin]}]})
            .to_string();
            let err = fixture::load_str("hostile data", &data).unwrap_err();
            let shown = c.escape_unicode().to_string();
            assert!(
                err.problem
                    .contains(&format!("character {shown} is not allowed")),
                "{field} {shown}: {err}"
            );
            let reply = send_request(
                &demo(),
                Request::put("/_emulator/state")
                    .body(Body::from(data))
                    .unwrap(),
            )
            .await;
            admin_error(
                &reply,
                400,
                "InvalidField",
                &format!("instances[0].plugins[0].{field}"),
            );
        }
    }
}

#[tokio::test]
async fn fault_rules_refuse_text_xml_cannot_carry() {
    let app = demo();
    for field in ["action", "regionId", "instanceId", "code", "message"] {
        for c in ['\u{FFFF}', '\u{FDD0}', '\u{1B}'] {
            let mut rule = json!({"code": "Throttling.User"});
            rule[field] = json!(format!("x{c}"));
            let reply = call(&app, "POST", "/faults", Some(rule)).await;
            admin_error(&reply, 400, "InvalidField", field);
        }
    }
    let listed = call(&app, "GET", "/faults", None).await.json();
    assert_eq!(listed["faults"], json!([]));
    // A message XML can carry is answered as given, in well-formed XML.
    let rule = json!({"code": "Throttling.User", "message": "slow <down> & \u{FFFD} 中"});
    assert_eq!(call(&app, "POST", "/faults", Some(rule)).await.status, 201);
    let reply = send(
        &app,
        "Action=ListPluginStatus&Version=2014-05-26&Format=XML",
    )
    .await;
    assert_eq!(
        xml_field(&reply, 400, "Message"),
        "slow <down> & \u{FFFD} 中"
    );
}

#[tokio::test]
async fn echoed_parameter_names_are_replaced_by_u_fffd() {
    let app = demo();
    for (c, raw) in [
        ('\u{FFFE}', "%EF%BF%BE"),
        ('\u{1}', "%01"),
        ('\u{FDD0}', "%EF%B7%90"),
    ] {
        let key = format!("X{raw}Y");
        let query =
            format!("Action=ListPluginStatus&Version=2014-05-26&Format=XML&{key}=1&{key}=2");
        let reply = send(&app, &query).await;
        assert_eq!(xml_field(&reply, 400, "Code"), "InvalidParameter");
        let message = xml_field(&reply, 400, "Message");
        assert!(
            message.starts_with("The specified parameter \"X\u{FFFD}Y\" is not valid"),
            "{}: {message}",
            c.escape_unicode()
        );
        let reply = send(&app, &query.replace("Format=XML", "Format=JSON")).await;
        let json_message = reply.json()["Message"].as_str().unwrap().to_owned();
        assert_eq!(json_message, message);
    }
    // A Host is echoed as HostId under the same rule.
    let request = Request::get("/?Action=ListPluginStatus&Version=2014-05-26")
        .header("host", HeaderValue::from_bytes(b"ecs\tlocal").unwrap())
        .body(Body::empty())
        .unwrap();
    let reply = send_request(&app, request).await;
    assert_eq!(xml_field(&reply, 400, "HostId"), "ecs\u{FFFD}local");
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Unfit {
    name: String,
    items: Vec<String>,
}

#[test]
fn the_xml_encoder_replaces_what_xml_cannot_carry() {
    let body = Unfit {
        name: "a\u{FFFF}b\u{0}c\td".to_owned(),
        items: UNFIT.iter().map(|c| format!("<{c}&")).collect(),
    };
    let bytes = encode(Format::Xml, "Root", &body).unwrap();
    let xml = String::from_utf8(bytes).unwrap();
    assert_eq!(xml_texts(&xml, "Name"), ["a\u{FFFD}b\u{FFFD}c\td"]);
    assert_eq!(xml_texts(&xml, "Items"), vec!["<\u{FFFD}&"; UNFIT.len()]);
    // JSON carries every character as is.
    let json = encode(Format::Json, "Root", &body).unwrap();
    let value: Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(value["Name"], "a\u{FFFF}b\u{0}c\td");
}

// ---------------------------------------------------------------------------------------------
// Hole 4: clock extremes.

fn at(time: &str) -> DateTime<Utc> {
    time.parse().unwrap()
}

async fn set_clock(app: &Router, body: Value) -> Reply {
    call(app, "PUT", "/clock", Some(body)).await
}

#[tokio::test]
async fn a_clock_outside_years_1_to_9999_is_refused() {
    let app = demo();
    for now in [
        "+262142-12-31T23:59:59Z",
        "+10000-01-01T00:00:00Z",
        "9999-12-31T23:59:59.5Z",
        "0000-12-31T23:59:59Z",
        "0001-01-01T00:59:59+01:00",
        "-0001-01-01T00:00:00Z",
    ] {
        for frozen in [true, false] {
            let reply = set_clock(&app, json!({"now": now, "frozen": frozen})).await;
            let message = admin_error(&reply, 400, "InvalidField", "now");
            assert!(
                message.ends_with("0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z"),
                "{now}: {message}"
            );
        }
    }
    let clock = call(&app, "GET", "/clock", None).await;
    assert_eq!(clock.status, 200, "{}", clock.body);
    assert_eq!(clock.json()["real"], true);
    let reply = send(&app, &format!("{BASE}&{QUERY}")).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
}

#[tokio::test]
async fn the_year_262142_clock_no_longer_breaks_the_api() {
    let app = demo();
    let reply = set_clock(&app, json!({"now": "+262142-12-31T23:59:59Z"})).await;
    admin_error(&reply, 400, "InvalidField", "now");
    assert_eq!(call(&app, "GET", "/clock", None).await.status, 200);
    assert_eq!(send(&app, &format!("{BASE}&{QUERY}")).await.status, 200);
    let event = "/instances/i-bp1iudwa5b1tqa0001/plugins/testPlugin/heartbeat";
    assert_eq!(call(&app, "POST", event, None).await.status, 200);
}

/// Events at the first and last second the emulator keeps, on a frozen and a running clock:
/// the heartbeats are written in whole seconds, exported, and read back.
#[tokio::test]
async fn events_at_the_extremes_round_trip_through_the_state() {
    let app = demo();
    for (now, frozen, written) in [
        ("9999-12-31T23:59:59Z", true, "9999-12-31T23:59:59Z"),
        ("9999-12-31T23:59:59Z", false, "9999-12-31T23:59:59Z"),
        ("9999-12-31T23:59:58.999Z", true, "9999-12-31T23:59:58Z"),
        ("0001-01-01T00:00:00Z", true, "0001-01-01T00:00:00Z"),
        ("0001-01-01T00:00:00.75Z", true, "0001-01-01T00:00:00Z"),
    ] {
        let reply = set_clock(&app, json!({"now": now, "frozen": frozen})).await;
        assert_eq!(reply.status, 200, "{now}: {}", reply.body);
        let base = "/instances/i-bp1iudwa5b1tqa0001/plugins/fresh";
        call(&app, "DELETE", base, None).await;
        let reply = call(&app, "POST", &format!("{base}/install"), None).await;
        assert_eq!(reply.status, 200, "{now}: {}", reply.body);
        assert_eq!(reply.json()["firstHeartbeatTime"], written, "{now}");
        assert_eq!(reply.json()["lastHeartbeatTime"], written, "{now}");
        let clock = call(&app, "GET", "/clock", None).await.json();
        let shown: DateTime<Utc> = clock["now"].as_str().unwrap().parse().unwrap();
        assert!(
            shown >= at(now) && shown <= at("9999-12-31T23:59:59Z"),
            "{now}: {clock}"
        );

        let exported = call(&app, "GET", "/state", None).await;
        assert_eq!(exported.status, 200);
        let reply = send_request(
            &app,
            Request::put("/_emulator/state")
                .body(Body::from(exported.body.clone()))
                .unwrap(),
        )
        .await;
        assert_eq!(reply.status, 200, "{now}: {}", reply.body);
        assert_eq!(call(&app, "GET", "/state", None).await.body, exported.body);

        let query = "Action=ListPluginStatus&Version=2014-05-26&Format=XML\
                     &RegionId=cn-hangzhou&InstanceId.1=i-bp1iudwa5b1tqa0001&Name=fresh";
        let reply = send(&app, query).await;
        assert_eq!(xml_field(&reply, 200, "LastHeartbeatTime"), written);
    }
}

#[tokio::test]
async fn the_data_reader_refuses_times_outside_the_range() {
    for time in [
        "0000-06-01T00:00:00Z",
        "0001-01-01T00:00:00+01:00",
        "9999-12-31T23:59:59-00:01",
    ] {
        let data = json!({"instances": [{"instanceId": "i-1", "regionId": "cn-hangzhou",
            "plugins": [{"name": "p", "status": "Running", "lastHeartbeatTime": time}]}]})
        .to_string();
        let err = fixture::load_str("hostile data", &data).unwrap_err();
        assert!(
            err.problem
                .contains("0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z"),
            "{time}: {err}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Holes 1 and 2: a V3 signature covers the body and every header that matters.

const NOW: &str = "2026-11-26T06:38:45Z";
const SIGNED_ALL: &str =
    "host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version";

fn strict_app() -> Router {
    app_on(SignatureMode::Strict, Box::new(FixedClock(at(NOW))))
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A V3 request signed with `testid`/`testsecret`.
struct V3 {
    method: &'static str,
    query: String,
    headers: Vec<(&'static str, String)>,
    signed_headers: String,
    /// The hash signed as `x-acs-content-sha256` (`None`: no such header; the server then signs
    /// the body's own hash).
    content_sha256: Option<String>,
    body: Vec<u8>,
}

impl V3 {
    fn new(nonce: &str) -> Self {
        Self {
            method: "POST",
            query: QUERY.to_owned(),
            headers: vec![
                ("host", "ecs.aliyuncs.com".to_owned()),
                ("x-acs-action", "ListPluginStatus".to_owned()),
                ("x-acs-version", "2014-05-26".to_owned()),
                ("x-acs-date", NOW.to_owned()),
                ("x-acs-signature-nonce", nonce.to_owned()),
            ],
            signed_headers: SIGNED_ALL.to_owned(),
            content_sha256: Some(sha256_hex(b"")),
            body: Vec::new(),
        }
    }

    fn header(mut self, name: &'static str, value: &str) -> Self {
        self.headers.push((name, value.to_owned()));
        self
    }

    fn body(mut self, body: &[u8], content_type: &'static str) -> Self {
        self.body = body.to_vec();
        self.header("content-type", content_type)
    }

    fn signing(mut self, signed_headers: &str) -> Self {
        self.signed_headers = signed_headers.to_owned();
        self
    }

    fn request(&self) -> Request<Body> {
        self.request_with(Body::from(self.body.clone()))
    }

    /// The signed request carrying `body` instead of the one signed.
    fn request_with(&self, body: Body) -> Request<Body> {
        let mut headers = HeaderMap::new();
        for (name, value) in &self.headers {
            headers.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        if let Some(hash) = &self.content_sha256 {
            headers.insert("x-acs-content-sha256", hash.parse().unwrap());
        }
        let query: Vec<(String, String)> = self
            .query
            .split('&')
            .map(|pair| {
                let (k, v) = pair.split_once('=').unwrap();
                (k.to_owned(), v.to_owned())
            })
            .collect();
        let pairs: Vec<(&str, &str)> = query.iter().map(|(k, v)| (&k[..], &v[..])).collect();
        let payload = self
            .content_sha256
            .clone()
            .unwrap_or_else(|| sha256_hex(&self.body));
        let canonical = v3_canonical_request(
            self.method,
            &pairs,
            &headers,
            &self.signed_headers,
            &payload,
        );
        let signature = v3_signature("testsecret", &v3_string_to_sign(&canonical));
        let authorization = format!(
            "ACS3-HMAC-SHA256 Credential=testid,SignedHeaders={},Signature={signature}",
            self.signed_headers
        );
        headers.insert("authorization", authorization.parse().unwrap());
        let mut request = Request::builder()
            .method(self.method)
            .uri(format!("/?{}", self.query))
            .body(body)
            .unwrap();
        *request.headers_mut() = headers;
        request
    }
}

const FORM: &str = "application/x-www-form-urlencoded";

#[tokio::test]
async fn a_fully_signed_v3_request_with_a_form_body_passes() {
    let app = strict_app();
    let body = b"Format=XML&PageSize=1";
    let mut request = V3::new("n-form").body(body, FORM);
    request.content_sha256 = Some(sha256_hex(body));
    let reply = send_request(&app, request.request()).await;
    assert_eq!(xml_field(&reply, 200, "PageSize"), "1");
    // Without x-acs-content-sha256 the body's own hash is what is signed.
    let mut request = V3::new("n-nohash")
        .body(body, FORM)
        .signing("host;x-acs-action;x-acs-date;x-acs-signature-nonce;x-acs-version");
    request.content_sha256 = None;
    let reply = send_request(&app, request.request()).await;
    assert_eq!(xml_field(&reply, 200, "TotalCount"), "1");
}

#[tokio::test]
async fn a_v3_body_other_than_the_signed_one_is_refused() {
    let app = strict_app();
    // Signed for an empty body, sent with a form body that would switch the answer to XML.
    let request = V3::new("n-1").body(b"Format=XML", FORM);
    let reply = send_request(&app, request.request()).await;
    assert_eq!(
        xml_field(&reply, 400, "Code"),
        "SignatureDoesNotMatch",
        "{}",
        reply.body
    );
    let message = xml_field(&reply, 400, "Message");
    assert_eq!(
        message,
        format!(
            "The SHA-256 of the request body received, {}, is not the signed \
             x-acs-content-sha256.",
            sha256_hex(b"Format=XML")
        )
    );
    // Any body, not only a form: its hash is checked too.
    for (body, content_type) in [
        (&b"{\"RegionId\":\"cn-shanghai\"}"[..], "application/json"),
        (&b"\x00\xff"[..], "application/octet-stream"),
    ] {
        let nonce = format!("n-{}", content_type.len());
        let reply = send_request(&app, V3::new(&nonce).body(body, content_type).request()).await;
        assert_eq!(reply.status, 400, "{}", reply.body);
        assert_eq!(reply.code(), "SignatureDoesNotMatch", "{}", reply.body);
        assert!(reply.json()["Message"]
            .as_str()
            .unwrap()
            .contains("is not the signed x-acs-content-sha256"));
    }
    // The hash must be the lowercase hex of the body received.
    let mut request = V3::new("n-upper").body(b"Format=XML", FORM);
    request.content_sha256 = Some(sha256_hex(b"Format=XML").to_uppercase());
    let reply = send_request(&app, request.request()).await;
    assert_eq!(xml_field(&reply, 400, "Code"), "SignatureDoesNotMatch");
}

#[tokio::test]
async fn a_refused_body_does_not_burn_the_nonce() {
    let app = strict_app();
    let tampered = V3::new("n-keep").body(b"PageSize=1", FORM);
    let reply = send_request(&app, tampered.request()).await;
    assert_eq!(reply.code(), "SignatureDoesNotMatch", "{}", reply.body);
    let genuine = V3::new("n-keep");
    let reply = send_request(&app, genuine.request()).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
}

/// A body that never arrives, and the sender that keeps it open.
fn stalled() -> (Sender<Bytes>, Body) {
    let (sender, body) = Channel::<Bytes>::new(1);
    (sender, Body::new(body))
}

#[tokio::test(start_paused = true)]
async fn strict_mode_reads_any_body_within_the_time_limit() {
    let app = strict_app();
    let (_open, body) = stalled();
    let request = V3::new("n-slow")
        .header("content-type", "application/json")
        .request_with(body);
    let reply = send_request(&app, request).await;
    assert_eq!(reply.status, 408, "{}", reply.body);
    assert_eq!(reply.code(), "RequestTimeout");
}

#[tokio::test]
async fn off_mode_neither_reads_nor_checks_a_body_it_does_not_use() {
    let app = app_on(SignatureMode::Off, Box::new(FixedClock(at(NOW))));
    let reply = send_request(&app, V3::new("n").body(b"Format=XML", FORM).request()).await;
    assert_eq!(xml_field(&reply, 200, "TotalCount"), "1");
    let (_open, body) = stalled();
    let request = V3::new("n")
        .header("content-type", "application/json")
        .request_with(body);
    let reply = tokio::time::timeout(Duration::from_secs(5), send_request(&app, request))
        .await
        .expect("answered without waiting for the body");
    assert_eq!(reply.status, 200, "{}", reply.body);
}

#[tokio::test]
async fn signatures_work_at_the_last_second() {
    let app = app_on(
        SignatureMode::Strict,
        Box::new(FixedClock(at("9999-12-31T23:59:59Z"))),
    );
    let mut request = V3::new("n-end");
    request.headers[3].1 = "9999-12-31T23:59:59Z".to_owned();
    assert_eq!(send_request(&app, request.request()).await.status, 200);
    let reply = send_request(&app, request.request()).await;
    assert_eq!(reply.code(), "SignatureNonceUsed", "{}", reply.body);
}

// ---------------------------------------------------------------------------------------------
// Hole 2: every V3 header that matters is signed.

#[tokio::test]
async fn a_v3_header_left_out_of_signed_headers_is_incomplete() {
    let app = strict_app();
    let all: Vec<&str> = SIGNED_ALL.split(';').collect();
    for left_out in all.iter().copied().chain(["x-acs-security-token"]) {
        let signed: Vec<&str> = all.iter().copied().filter(|h| *h != left_out).collect();
        let mut request = V3::new(&format!("n-{left_out}")).signing(&signed.join(";"));
        if left_out == "x-acs-security-token" {
            request = request.header("x-acs-security-token", "token");
        }
        let reply = send_request(&app, request.request()).await;
        assert_eq!(reply.status, 400, "{left_out}: {}", reply.body);
        assert_eq!(reply.code(), "IncompleteSignature", "{left_out}");
        let message = reply.json()["Message"].as_str().unwrap().to_owned();
        assert!(
            message.starts_with(
                "The request signature does not conform to Aliyun standards. \
                 server string to sign is:ACS3-HMAC-SHA256\n"
            ),
            "{left_out}: {message}"
        );
    }
    // Headers outside host and x-acs-* may stay unsigned; names are compared in any case.
    let request = V3::new("n-ok")
        .header("user-agent", "hostile-test")
        .signing(&SIGNED_ALL.to_uppercase());
    let reply = send_request(&app, request.request()).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
}

#[tokio::test]
async fn an_unsigned_nonce_cannot_be_changed_to_replay_a_request() {
    let app = strict_app();
    let signed = "host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-version";
    for nonce in ["first", "second"] {
        let reply = send_request(&app, V3::new(nonce).signing(signed).request()).await;
        assert_eq!(reply.code(), "IncompleteSignature", "{}", reply.body);
    }
}

// ---------------------------------------------------------------------------------------------
// Hole 7: a panic in a control-plane handler.

/// A time source that fails: what the emulator's handlers call, so a panic can be driven
/// through the real routes and layers.
struct BrokenClock;

impl Clock for BrokenClock {
    fn now(&self) -> DateTime<Utc> {
        panic!("the time source is broken")
    }
}

#[tokio::test]
async fn a_panic_in_the_control_plane_is_answered_in_its_own_format() {
    let app = app_on(SignatureMode::Off, Box::new(BrokenClock));
    for (method, path) in [
        ("GET", "/clock"),
        (
            "POST",
            "/instances/i-bp1iudwa5b1tqa0001/plugins/testPlugin/heartbeat",
        ),
    ] {
        let reply = call(&app, method, path, None).await;
        let body = reply.json();
        assert_eq!(reply.status, 500, "{}", reply.body);
        assert_eq!(
            body,
            json!({"code": "InternalError",
                "message": "The emulator failed while handling this request; the fault is logged."}),
            "{method} {path}"
        );
        assert_eq!(reply.header("content-type"), Some("application/json"));
    }
    // The API keeps its own envelope.
    let reply = send(&app, &format!("{BASE}&{QUERY}")).await;
    assert_eq!(reply.status, 500, "{}", reply.body);
    assert_eq!(reply.code(), "InternalError.Dispatch");
    // Nothing was changed by the failed event.
    let reply = call(
        &app,
        "GET",
        "/instances/i-bp1iudwa5b1tqa0001/plugins/testPlugin",
        None,
    )
    .await;
    assert_eq!(
        reply.json()["lastHeartbeatTime"],
        Value::Null,
        "{}",
        reply.body
    );
}
