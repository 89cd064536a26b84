//! What one hostile input does to the emulator, and what its answer must look like.
//!
//! Each `run_*` function takes the raw bytes of one input and panics when the emulator breaks
//! its promise: a panic of its own, a 5xx, an answer that is not the typed error envelope, XML
//! that is not well-formed, a well-signed request refused as badly signed, a NextToken that
//! opens outside its scope. The same functions serve three callers:
//!
//! - the cargo-fuzz targets in `fuzz/fuzz_targets/` (nightly, libFuzzer),
//! - `tests/fuzz_regressions.rs`, which replays every file of `fuzz/regressions/<target>/`
//!   under plain `cargo test`,
//! - `tests/properties.rs`, which uses the answer checks and the request signers.
//!
//! The two test files include this file with `#[path]`, so it only uses crates the root
//! package has too.

use std::collections::BTreeMap;

use arbitrary::Unstructured;
use axum::body::Body;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Request};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use http_body_util::BodyExt;
use quick_xml::events::Event;
use serde_json::Value;
use sha2::{Digest, Sha256};
use tower::ServiceExt;

use ecs_emulator::api::next_token::{TokenKey, TokenScope};
use ecs_emulator::engine::{Store, MAX_NAME_CHARS};
use ecs_emulator::fixture::{self, Fixture};
use ecs_emulator::rpc::params::{Decoded, MAX_PARAMETERS};
use ecs_emulator::rpc::signature::{self, NonceCache, SignatureMode, SignedRequest};
use ecs_emulator::state::{FixedClock, Options, SequentialRequestIds};
use ecs_emulator::{app, AppState};

/// What runs one input: panics when the emulator breaks a promise.
pub type Runner = fn(&[u8]);

/// Every target: its directory name under `fuzz/regressions/` and its runner.
pub const TARGETS: &[(&str, Runner)] = &[
    ("decode_params", run_decode_params),
    ("api_request", run_api_request),
    ("next_token", run_next_token),
    ("signature", run_signature),
    ("data_file", run_data_file),
    ("control_plane", run_control_plane),
];

// ---------------------------------------------------------------------------------------------
// Fixed data the runners share.

/// The enabled key of [`SMALL_FIXTURE`] and its secret.
pub const KEY_ID: &str = "fuzzkey";
/// The secret of [`KEY_ID`].
pub const SECRET: &str = "fuzz-secret";
/// A disabled key of [`SMALL_FIXTURE`].
pub const DISABLED_KEY_ID: &str = "offkey";
/// The account [`KEY_ID`] belongs to.
pub const ACCOUNT: &str = "111111111111111";
/// The region of [`SMALL_FIXTURE`]'s instances.
pub const REGION: &str = "cn-hangzhou";
/// An instance of [`SMALL_FIXTURE`] with plug-ins.
pub const INSTANCE: &str = "i-fuzz0001";

/// A small data file: two accounts, keys enabled and not, a catalog, plug-ins in every state.
pub const SMALL_FIXTURE: &str = r#"{
  "accounts": [
    {"accountId": "111111111111111", "default": true, "accessKeys": [
      {"id": "fuzzkey", "secret": "fuzz-secret"},
      {"id": "offkey", "secret": "off-secret", "enabled": false}]},
    {"accountId": "222222222222222", "accessKeys": [{"id": "otherkey", "secret": "other-secret"}]}
  ],
  "catalog": [{"name": "catalogued", "type": "Once"}, {"name": "p"}],
  "instances": [
    {"instanceId": "i-fuzz0001", "regionId": "cn-hangzhou", "plugins": [
      {"name": "p", "version": "1.0", "status": "Running",
       "firstHeartbeatTime": "2024-01-02T03:04:05Z", "lastHeartbeatTime": "2024-01-02T03:04:05Z"},
      {"name": "q", "version": "", "status": "Removed"},
      {"name": "r", "version": "2", "status": "Stopped"}]},
    {"instanceId": "i-fuzz0002", "regionId": "cn-hangzhou", "plugins": [
      {"name": "p", "version": "1.1", "status": "Crashed"}]},
    {"instanceId": "i-fuzz0003", "regionId": "cn-beijing", "plugins": []},
    {"instanceId": "i-fuzz0001", "regionId": "cn-hangzhou", "accountId": "222222222222222",
     "plugins": [{"name": "s", "version": "3", "status": "Installed"}]}
  ]
}"#;

/// The emulator's (frozen) time in every runner.
pub fn fixed_now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-06-01T12:00:00Z")
        .expect("a valid time")
        .with_timezone(&Utc)
}

thread_local! {
    static RUNTIME: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a tokio runtime");
    static SMALL_STORE: Store = fixture::load_str("small fixture", SMALL_FIXTURE)
        .expect("the small fixture is valid");
}

/// The small fixture's store.
pub fn small_store() -> Store {
    SMALL_STORE.with(Store::clone)
}

/// A fresh state over `store` at [`fixed_now`], with predictable request ids.
pub fn state_over(store: Store, signature: SignatureMode) -> AppState {
    AppState::with_options(
        store,
        Options {
            request_ids: Box::new(SequentialRequestIds::default()),
            clock: Box::new(FixedClock(fixed_now())),
            signature,
            ..Options::default()
        },
    )
}

// ---------------------------------------------------------------------------------------------
// Sending requests and checking answers.

/// One answer as the client sees it.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The HTTP status.
    pub status: u16,
    /// The headers.
    pub headers: HeaderMap,
    /// The body, which is always UTF-8.
    pub body: String,
}

/// Runs `future` to completion on this thread's runtime (not from inside a runtime).
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    RUNTIME.with(|runtime| runtime.block_on(future))
}

/// Sends `request` to the app over `state`, in process.
pub fn send(state: &AppState, request: Request<Body>) -> Answer {
    block_on(async {
        let response = app(state.clone())
            .oneshot(request)
            .await
            .expect("the router is infallible");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("a body in memory")
            .to_bytes();
        let body = String::from_utf8(bytes.to_vec())
            .unwrap_or_else(|_| panic!("a body that is not UTF-8: {bytes:?}"));
        Answer {
            status,
            headers,
            body,
        }
    })
}

/// What an API answer turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiOutcome {
    /// A 2xx success (JSON body when it was JSON).
    Success(Option<Value>),
    /// A 4xx error with its `Code`.
    Error(String),
}

/// Checks an answer of the API: a 2xx success or a 4xx error envelope with a `Code`, in JSON
/// or well-formed XML, with a request id header. Panics otherwise.
pub fn check_api_answer(answer: &Answer) -> ApiOutcome {
    let context = || format!("{} {}", answer.status, answer.body);
    assert!(
        (200..300).contains(&answer.status) || (400..500).contains(&answer.status),
        "the API answered neither 2xx nor 4xx: {}",
        context()
    );
    let request_id = answer
        .headers
        .get("x-acs-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("no x-acs-request-id: {}", context()));
    assert!(!request_id.is_empty(), "empty request id: {}", context());
    let content_type = answer
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let success = answer.status < 300;
    if content_type.starts_with("application/json") {
        let json: Value = serde_json::from_str(&answer.body)
            .unwrap_or_else(|e| panic!("JSON that does not parse ({e}): {}", context()));
        assert!(json.is_object(), "not a JSON object: {}", context());
        assert_eq!(
            json["RequestId"].as_str(),
            Some(request_id),
            "{}",
            context()
        );
        if success {
            assert!(
                json.get("Code").is_none(),
                "a success with a Code: {}",
                context()
            );
            return ApiOutcome::Success(Some(json));
        }
        for key in ["HostId", "Message", "Recommend"] {
            assert!(json[key].is_string(), "no {key}: {}", context());
        }
        let code = json["Code"].as_str().unwrap_or_default();
        assert!(!code.is_empty(), "an error without a Code: {}", context());
        ApiOutcome::Error(code.to_owned())
    } else if content_type.starts_with("text/xml") {
        let (root, code) = check_xml(&answer.body);
        if success {
            assert_eq!(root, "ListPluginStatusResponse", "{}", context());
            return ApiOutcome::Success(None);
        }
        assert_eq!(root, "Error", "{}", context());
        let code = code.unwrap_or_else(|| panic!("an XML error without a Code: {}", context()));
        assert!(!code.is_empty(), "an empty Code: {}", context());
        ApiOutcome::Error(code)
    } else {
        panic!("content type {content_type:?}: {}", context());
    }
}

/// Characters XML 1.0 cannot carry, escaped or not.
fn xml_forbidden(c: char) -> bool {
    matches!(c, '\u{0}'..='\u{8}' | '\u{b}' | '\u{c}' | '\u{e}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}')
}

/// Reads an XML document to its end; panics unless it is well-formed with one root. Answers
/// the root's name and the text of a `<Code>` child of the root, if any.
pub fn check_xml(text: &str) -> (String, Option<String>) {
    assert!(
        text.starts_with(r#"<?xml version="1.0" encoding="UTF-8"?>"#),
        "no XML declaration: {text}"
    );
    if let Some(c) = text.chars().find(|&c| xml_forbidden(c)) {
        panic!("XML with {:?}, which XML 1.0 cannot carry: {text}", c);
    }
    let mut reader = quick_xml::Reader::from_str(text);
    reader.config_mut().check_end_names = true;
    let mut stack: Vec<String> = Vec::new();
    let mut root = None;
    let mut code = None;
    loop {
        let event = reader
            .read_event()
            .unwrap_or_else(|e| panic!("XML that does not parse ({e}): {text}"));
        match event {
            Event::Eof => break,
            Event::Start(start) => {
                let name = String::from_utf8_lossy(start.name().as_ref()).into_owned();
                if stack.is_empty() {
                    assert!(root.is_none(), "two roots: {text}");
                    root = Some(name.clone());
                }
                stack.push(name);
            }
            Event::Empty(empty) => {
                if stack.is_empty() {
                    assert!(root.is_none(), "two roots: {text}");
                    root = Some(String::from_utf8_lossy(empty.name().as_ref()).into_owned());
                }
            }
            Event::End(_) => {
                stack.pop();
            }
            Event::Text(content) => {
                let unescaped = content
                    .unescape()
                    .unwrap_or_else(|e| panic!("text that does not unescape ({e}): {text}"));
                if let Some(c) = unescaped.chars().find(|&c| xml_forbidden(c)) {
                    panic!("XML escaping {:?}, which XML 1.0 cannot carry: {text}", c);
                }
                if stack.is_empty() {
                    assert!(unescaped.trim().is_empty(), "text outside the root: {text}");
                } else if stack.len() == 2 && stack[1] == "Code" {
                    code = Some(unescaped.into_owned());
                }
            }
            Event::CData(_) | Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::DocType(_) => panic!("a DOCTYPE in an answer: {text}"),
        }
    }
    assert!(stack.is_empty(), "unclosed elements {stack:?}: {text}");
    let root = root.unwrap_or_else(|| panic!("no root element: {text}"));
    (root, code)
}

/// Checks an answer of the control plane: a 2xx (JSON or no body) or a 4xx
/// `{"code", "message"}`; answers the code of an error.
pub fn check_admin_answer(answer: &Answer) -> Result<Option<Value>, String> {
    let context = || format!("{} {}", answer.status, answer.body);
    assert!(
        (200..300).contains(&answer.status) || (400..500).contains(&answer.status),
        "the control plane answered neither 2xx nor 4xx: {}",
        context()
    );
    if answer.status == 204 {
        assert!(answer.body.is_empty(), "204 with a body: {}", context());
        return Ok(None);
    }
    let json: Value = serde_json::from_str(&answer.body)
        .unwrap_or_else(|e| panic!("JSON that does not parse ({e}): {}", context()));
    if answer.status < 300 {
        return Ok(Some(json));
    }
    let code = json["code"].as_str().unwrap_or_default();
    assert!(!code.is_empty(), "an error without a code: {}", context());
    assert!(json["message"].is_string(), "no message: {}", context());
    assert_eq!(
        json.as_object().map(|o| o.len()),
        Some(2),
        "more than code and message: {}",
        context()
    );
    Err(code.to_owned())
}

// ---------------------------------------------------------------------------------------------
// Building requests.

/// RFC 3986 percent-encoding (unreserved characters literal): how clients encode values.
pub fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Pairs encoded as `k=v&k=v`.
pub fn encode_pairs(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Raw bytes as a query a URI can carry: what a URI allows in a query goes as it is (stray
/// `%`, `&`, `=` and `+` included, so the emulator's decoder sees them); any other byte is
/// percent-encoded.
pub fn raw_query(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &byte in bytes {
        if byte.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/?%".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// A request to the API: `method /?query`, a body, and headers.
pub fn api_request(
    method: &str,
    query: &str,
    body: Option<(&str, Vec<u8>)>,
    headers: &[(String, String)],
) -> Request<Body> {
    let uri = if query.is_empty() {
        "/".to_owned()
    } else {
        format!("/?{query}")
    };
    let mut builder = Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    match body {
        Some((content_type, bytes)) => builder
            .header("content-type", content_type)
            .body(Body::from(bytes)),
        None => builder.body(Body::empty()),
    }
    .expect("a request the caller made valid")
}

/// V1: every parameter signed, `Signature` added. `params` are the business and common
/// parameters; the signature parameters are added here.
pub fn sign_v1(
    method: &str,
    params: &[(String, String)],
    key_id: &str,
    secret: &str,
    nonce: &str,
    timestamp: &str,
) -> Vec<(String, String)> {
    let mut all: Vec<(String, String)> = params.to_vec();
    for (k, v) in [
        ("AccessKeyId", key_id),
        ("SignatureMethod", "HMAC-SHA1"),
        ("SignatureVersion", "1.0"),
        ("SignatureNonce", nonce),
        ("Timestamp", timestamp),
    ] {
        all.push((k.to_owned(), v.to_owned()));
    }
    let canonical = canonical_query(&all);
    let string_to_sign = format!("{method}&{}&{}", encode("/"), encode(&canonical));
    let mut mac =
        Hmac::<sha1::Sha1>::new_from_slice(format!("{secret}&").as_bytes()).expect("any key size");
    mac.update(string_to_sign.as_bytes());
    all.push((
        "Signature".to_owned(),
        STANDARD.encode(mac.finalize().into_bytes()),
    ));
    all
}

/// Sorted `k=v` pairs, both percent-encoded, joined with `&`: what both versions sign. Written
/// here apart from the emulator's own, so the fuzzers check the verifier against an independent
/// signer.
fn canonical_query(pairs: &[(String, String)]) -> String {
    let mut sorted: Vec<(String, String)> =
        pairs.iter().map(|(k, v)| (encode(k), encode(v))).collect();
    sorted.sort();
    sorted
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// V3: the headers of a request with `query` and `body`, signed over every header given plus
/// the `x-acs-*` ones added here. `headers` are lower-case names.
#[allow(clippy::too_many_arguments)] // one value per part of the signature, as the protocol has
pub fn sign_v3(
    method: &str,
    query: &[(String, String)],
    body: &[u8],
    headers: &[(String, String)],
    key_id: &str,
    secret: &str,
    nonce: &str,
    date: &str,
) -> Vec<(String, String)> {
    let mut signed: BTreeMap<String, String> = headers.iter().cloned().collect();
    signed.insert("x-acs-date".into(), date.into());
    signed.insert("x-acs-signature-nonce".into(), nonce.into());
    let content_sha256 = hex::encode(Sha256::digest(body));
    signed.insert("x-acs-content-sha256".into(), content_sha256.clone());
    let canonical_query = canonical_query(query);
    let canonical_headers: String = signed
        .iter()
        .map(|(k, v)| format!("{k}:{}\n", v.trim()))
        .collect();
    let names = signed.keys().cloned().collect::<Vec<_>>().join(";");
    let canonical_request =
        format!("{method}\n/\n{canonical_query}\n{canonical_headers}\n{names}\n{content_sha256}");
    let string_to_sign = format!(
        "ACS3-HMAC-SHA256\n{}",
        hex::encode(Sha256::digest(canonical_request.as_bytes()))
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key size");
    mac.update(string_to_sign.as_bytes());
    let signature = hex::encode(mac.finalize().into_bytes());
    let mut out: Vec<(String, String)> = signed.into_iter().collect();
    out.push((
        "authorization".into(),
        format!("ACS3-HMAC-SHA256 Credential={key_id},SignedHeaders={names},Signature={signature}"),
    ));
    out
}

/// The codes of the signature gate (SPEC section 3).
pub const SIGNATURE_CODES: [&str; 8] = [
    "IncompleteSignature",
    "InvalidAccessKeyId.NotFound",
    "InvalidAccessKeyId.Inactive",
    "SignatureDoesNotMatch",
    "InvalidTimeStamp.Format",
    "InvalidTimeStamp.Expired",
    "SignatureNonceUsed",
    "InvalidSignatureMethod",
];

// ---------------------------------------------------------------------------------------------
// The runners.

/// Parameter decoding: any query and form body decode to parameters or to one
/// `InvalidParameter*` problem; accepted parameters have no key twice and no empty key.
pub fn run_decode_params(data: &[u8]) {
    // The first byte says where the body starts (none when zero), the rest is query then body.
    let (split, rest) = match data.split_first() {
        Some((&split, rest)) => (split as usize, rest),
        None => (0, data),
    };
    let (query, body) = if split == 0 {
        (rest, None)
    } else {
        let at = split.min(rest.len());
        (&rest[..at], Some(&rest[at..]))
    };
    let decoded = Decoded::new(query, body);
    let lossy: Vec<(String, String)> = decoded
        .pairs()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    match decoded.into_params() {
        Ok(params) => {
            assert!(params.len() <= MAX_PARAMETERS);
            let mut seen = std::collections::HashSet::new();
            for (key, value) in params.iter() {
                assert!(!key.is_empty(), "an empty key was kept");
                assert!(seen.insert(key), "{key:?} twice");
                assert_eq!(params.raw(key), Some(value));
                assert!(
                    lossy.iter().any(|(k, v)| k == key && v == value),
                    "{key:?} is not among the decoded pairs"
                );
            }
        }
        Err(error) => {
            assert!(
                error.code().starts_with("InvalidParameter"),
                "decoding failed with {}",
                error.code()
            );
            assert_eq!(error.status().as_u16() / 100, 4);
        }
    }
}

/// Common parameters a fuzzed request may start with, so that inputs reach the operation.
pub const PREFIXES: [&str; 6] = [
    "",
    "Action=ListPluginStatus&Version=2014-05-26&",
    "Action=ListPluginStatus&Version=2014-05-26&Format=JSON&RegionId=cn-hangzhou&",
    "Action=ListPluginStatus&Version=2014-05-26&Format=XML&RegionId=cn-hangzhou&",
    "Action=ListPluginStatus&Version=2014-05-26&Format=XML&RegionId=cn-hangzhou&Name=p&",
    "Action=ListPluginStatus&Version=2014-05-26&RegionId=cn-hangzhou&InstanceId.1=i-fuzz0001&",
];

const HEADER_NAMES: [&str; 8] = [
    "authorization",
    "x-acs-action",
    "x-acs-version",
    "x-acs-date",
    "x-acs-signature-nonce",
    "x-acs-content-sha256",
    "host",
    "content-length",
];

/// Any method, query, body and headers, in either signature mode: a typed API answer.
pub fn run_api_request(data: &[u8]) {
    let _ = api_request_from(&mut Unstructured::new(data));
}

fn api_request_from(u: &mut Unstructured<'_>) -> arbitrary::Result<()> {
    let method = *u.choose(&["GET", "POST", "PUT", "DELETE", "HEAD"])?;
    let strict = u.arbitrary::<bool>()?;
    let prefix = *u.choose(&PREFIXES)?;
    let query_bytes: &[u8] = u.arbitrary()?;
    let content_type = *u.choose(&[
        "application/x-www-form-urlencoded",
        "application/x-www-form-urlencoded; charset=UTF-8",
        "application/json",
    ])?;
    let body: Option<&[u8]> = u.arbitrary()?;
    let mut headers = Vec::new();
    for _ in 0..u.int_in_range(0..=3)? {
        let name = *u.choose(&HEADER_NAMES)?;
        let value: &[u8] = u.arbitrary()?;
        if let Ok(value) = HeaderValue::from_bytes(value) {
            headers.push((name, value));
        }
    }
    let query = format!("{prefix}{}", raw_query(query_bytes));
    let mut builder = Request::builder().method(method).uri(format!("/?{query}"));
    for (name, value) in headers {
        builder = builder.header(name, value);
    }
    let request = match body {
        Some(bytes) => builder
            .header("content-type", content_type)
            .body(Body::from(bytes.to_vec())),
        None => builder.body(Body::empty()),
    }
    .expect("a valid request");
    let mode = if strict {
        SignatureMode::Strict
    } else {
        SignatureMode::Off
    };
    let answer = send(&state_over(small_store(), mode), request);
    if method == "HEAD" {
        // No body is sent back to a HEAD; the status still must be a client's.
        assert!(
            (400..500).contains(&answer.status),
            "HEAD: {}",
            answer.status
        );
    } else {
        check_api_answer(&answer);
    }
    Ok(())
}

/// Any token for any scope: opens only when it is exactly the token issued for that cursor in
/// that scope; a cursor round-trips in its scope and nowhere else.
pub fn run_next_token(data: &[u8]) {
    let _ = next_token_from(&mut Unstructured::new(data));
}

fn next_token_from(u: &mut Unstructured<'_>) -> arbitrary::Result<()> {
    let key = if u.arbitrary()? {
        TokenKey::derive(small_store().accounts())
    } else {
        TokenKey::derive(&[])
    };
    let account: String = u.arbitrary()?;
    let region: String = u.arbitrary()?;
    let ids: Vec<String> = u.arbitrary()?;
    let name: Option<String> = u.arbitrary()?;
    let scope = TokenScope {
        account: &account,
        region: &region,
        instance_ids: &ids,
        name: name.as_deref(),
    };
    // A cursor is a record's key: an instance id or a plug-in name, which the data holds to at
    // most 255 characters. (Longer ones make tokens over the 2,048 characters `open` reads.)
    let cursor: String = u
        .arbitrary::<String>()?
        .chars()
        .take(MAX_NAME_CHARS)
        .collect();
    let token = key.issue(&scope, &cursor);
    assert_eq!(key.open(&scope, &token).as_deref(), Some(cursor.as_str()));
    let other_name = match &name {
        Some(n) => Some(format!("{n}x")),
        None => Some(String::new()),
    };
    let moved = TokenScope {
        name: other_name.as_deref(),
        ..scope
    };
    assert_eq!(
        key.open(&moved, &token),
        None,
        "a token opened for another Name"
    );
    let other_region = format!("{region}x");
    let moved = TokenScope {
        region: &other_region,
        ..scope
    };
    assert_eq!(
        key.open(&moved, &token),
        None,
        "a token opened in another region"
    );

    let given = u.bytes(u.len())?;
    let given = String::from_utf8_lossy(given);
    if let Some(opened) = key.open(&scope, &given) {
        assert_eq!(
            key.issue(&scope, &opened),
            given,
            "a token the key never issued opened"
        );
    }
    Ok(())
}

/// Names a fuzzed signature parameter or header is most often given.
const SIGNATURE_PARAMS: [&str; 8] = [
    "Signature",
    "AccessKeyId",
    "SignatureMethod",
    "SignatureNonce",
    "Timestamp",
    "SignatureVersion",
    "RegionId",
    "Action",
];

fn some_text(u: &mut Unstructured<'_>, choices: &[&str]) -> arbitrary::Result<String> {
    if u.ratio(1, 2)? {
        Ok((*u.choose(choices)?).to_owned())
    } else {
        u.arbitrary()
    }
}

/// Signature checking, V1 and V3: garbage never passes and never panics; a well-signed request
/// with any parameters passes once, and is refused when replayed or changed.
pub fn run_signature(data: &[u8]) {
    let _ = signature_from(&mut Unstructured::new(data));
}

fn signature_from(u: &mut Unstructured<'_>) -> arbitrary::Result<()> {
    let store = small_store();
    let now = fixed_now();
    let mut nonces = NonceCache::default();
    let method = *u.choose(&["GET", "POST"])?;
    let mut params: Vec<(String, String)> = Vec::new();
    for _ in 0..u.int_in_range(0..=6)? {
        let key = some_text(u, &SIGNATURE_PARAMS)?;
        let value = some_text(
            u,
            &[
                KEY_ID,
                DISABLED_KEY_ID,
                "HMAC-SHA1",
                "2026-06-01T12:00:00Z",
                "",
            ],
        )?;
        params.push((key, value));
    }
    let well_signed = u.arbitrary::<bool>()?;
    let v3 = u.arbitrary::<bool>()?;
    let body: &[u8] = u.arbitrary()?;
    let body_sha256 = hex::encode(Sha256::digest(body));
    let timestamp = now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let nonce = format!("nonce-{}", u.arbitrary::<u32>()?);

    let mut headers = HeaderMap::new();
    let (all, query) = if well_signed {
        // Distinct keys (the wire refuses a key twice) that are not signature parameters.
        let mut distinct: BTreeMap<String, String> = BTreeMap::new();
        for (k, v) in params {
            if !k.is_empty() && !SIGNATURE_PARAMS[..6].contains(&k.as_str()) {
                distinct.insert(k, v);
            }
        }
        let params: Vec<(String, String)> = distinct.into_iter().collect();
        if v3 {
            let signed = sign_v3(
                method,
                &params,
                body,
                &[("host".into(), "ecs.aliyuncs.com".into())],
                KEY_ID,
                SECRET,
                &nonce,
                &timestamp,
            );
            for (name, value) in signed {
                let name = HeaderName::from_bytes(name.as_bytes()).expect("a header name");
                let value = HeaderValue::from_str(&value).expect("a header value");
                headers.insert(name, value);
            }
            (params.clone(), params)
        } else {
            let all = sign_v1(method, &params, KEY_ID, SECRET, &nonce, &timestamp);
            (all.clone(), all)
        }
    } else {
        for _ in 0..u.int_in_range(0..=4)? {
            let name = *u.choose(&HEADER_NAMES[..7])?;
            let value = if name == "authorization" && u.arbitrary()? {
                format!(
                    "{} Credential={},SignedHeaders={},Signature={}",
                    some_text(u, &["ACS3-HMAC-SHA256", "ACS3-HMAC-SM3"])?,
                    some_text(u, &[KEY_ID, DISABLED_KEY_ID])?,
                    some_text(u, &["host;x-acs-date", "x-acs-date;;", ""])?,
                    u.arbitrary::<String>()?,
                )
            } else {
                some_text(u, &[&timestamp, "nonce", &body_sha256])?
            };
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.append(HeaderName::from_static(name), value);
            }
        }
        (params.clone(), params)
    };

    let all_pairs: Vec<(&str, &str)> = all.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let query_pairs: Vec<(&str, &str)> = query
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let request = SignedRequest {
        method,
        params: &all_pairs,
        query: &query_pairs,
        headers: &headers,
        body,
    };
    let mut record = |key: &str, nonce: &str| nonces.check_and_record(key, nonce, now);
    let result = signature::verify(&request, &store, now, &mut record);
    if well_signed {
        let verified = result.unwrap_or_else(|e| panic!("a well-signed request refused: {e}"));
        assert_eq!(verified.account, ACCOUNT);
        let replayed = signature::verify(&request, &store, now, &mut record)
            .expect_err("a replayed nonce accepted");
        assert_eq!(replayed.code(), "SignatureNonceUsed");
        // One parameter more (with a fresh nonce, which a forger cannot sign) is refused.
        let mut changed: Vec<(&str, &str)> = all_pairs.clone();
        changed.push(("Extra", "1"));
        let changed_query = if v3 {
            changed.clone()
        } else {
            query_pairs.clone()
        };
        let forged = SignedRequest {
            params: &changed,
            query: &changed_query,
            ..request
        };
        let refused = signature::verify(&forged, &store, now, &mut |_: &str, _: &str| true)
            .expect_err("a changed request accepted");
        assert_eq!(refused.code(), "SignatureDoesNotMatch");
    } else if let Err(error) = result {
        assert!(
            SIGNATURE_CODES.contains(&error.code()),
            "a signature check failed with {}",
            error.code()
        );
        assert_eq!(error.status().as_u16() / 100, 4, "{}", error.code());
    } else {
        // Garbage passed: only possible by actually carrying the key's valid signature, which
        // a fuzzer cannot forge; check that the verdict names the key's account.
        assert_eq!(result.expect("ok").account, ACCOUNT);
    }
    Ok(())
}

/// A data file: loads or is refused with a position; one that loads exports to a file that
/// loads to the same summary, and its records are answered in well-formed XML and JSON.
pub fn run_data_file(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let store = match fixture::load_str("fuzz input", &text) {
        Ok(store) => store,
        Err(error) => {
            assert_eq!(error.file, "fuzz input");
            assert!(!error.problem.is_empty(), "an error without a problem");
            // A place in the text: 1-based, and no further down than its last line.
            let lines = text.split('\n').count();
            assert!(
                (1..=lines).contains(&error.line) && error.column >= 1,
                "{error} is outside the text's {lines} lines"
            );
            return;
        }
    };
    let exported = serde_json::to_string(&Fixture::from_store(&store)).expect("export");
    let again = fixture::load_str("exported", &exported)
        .unwrap_or_else(|e| panic!("an export that does not load: {e}: {exported}"));
    assert_eq!(fixture::summarize(&again), fixture::summarize(&store));
    let first = store
        .instances()
        .next()
        .map(|(account, region, id, instance)| {
            let name = instance.plugins.iter().next().map(|(n, _)| n.to_string());
            (account.to_owned(), region.to_owned(), id.to_owned(), name)
        });
    let state = state_over(store, SignatureMode::Off);
    let Some((account, region, id, name)) = first else {
        return;
    };
    let key = state.read(|s| {
        s.accounts()
            .iter()
            .find(|a| a.id == account)
            .and_then(|a| a.access_keys.first().map(|k| k.id.clone()))
    });
    for format in ["XML", "JSON"] {
        let mut params = vec![
            ("Action".to_owned(), "ListPluginStatus".to_owned()),
            ("Version".to_owned(), "2014-05-26".to_owned()),
            ("Format".to_owned(), format.to_owned()),
            ("RegionId".to_owned(), region.clone()),
            ("InstanceId.1".to_owned(), id.clone()),
        ];
        if let Some(key) = &key {
            params.push(("AccessKeyId".to_owned(), key.clone()));
        }
        let answer = send(
            &state,
            api_request("GET", &encode_pairs(&params), None, &[]),
        );
        check_api_answer(&answer);
        if let Some(name) = &name {
            params.push(("Name".to_owned(), name.clone()));
            let answer = send(
                &state,
                api_request("GET", &encode_pairs(&params), None, &[]),
            );
            check_api_answer(&answer);
        }
    }
}

/// Every control-plane route that takes a body, in the order of the first input byte.
pub const BODY_ROUTES: [(&str, &str); 12] = [
    ("PUT", "/_emulator/state"),
    ("PUT", "/_emulator/instances/i-fuzz0001"),
    ("PUT", "/_emulator/instances/i-new"),
    ("PUT", "/_emulator/instances/i-fuzz0001/plugins/p"),
    ("PUT", "/_emulator/instances/i-fuzz0002/plugins/new"),
    (
        "POST",
        "/_emulator/instances/i-fuzz0002/plugins/new/install",
    ),
    ("POST", "/_emulator/instances/i-fuzz0001/plugins/p/stop"),
    ("POST", "/_emulator/instances/i-fuzz0001/plugins/p/crash"),
    ("POST", "/_emulator/instances/i-fuzz0002/plugins/p/start"),
    ("POST", "/_emulator/instances/i-fuzz0001/plugins/q/install"),
    ("POST", "/_emulator/faults"),
    ("PUT", "/_emulator/clock"),
];

/// A control-plane request with this body.
pub fn admin_request(method: &str, path: &str, body: Vec<u8>) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/json")
        .body(Body::from(body))
        .expect("a valid request")
}

fn export(state: &AppState) -> String {
    let answer = send(state, admin_request("GET", "/_emulator/state", Vec::new()));
    assert_eq!(answer.status, 200, "{}", answer.body);
    answer.body
}

/// Any body on any body-taking route: a typed answer; a refusal changes nothing; after a
/// change, the API still answers in well-formed JSON and XML.
pub fn run_control_plane(data: &[u8]) {
    let Some((&route, body)) = data.split_first() else {
        return;
    };
    let (method, path) = BODY_ROUTES[route as usize % BODY_ROUTES.len()];
    send_admin_body(method, path, body);
}

/// Sends `body` to `method path` on a fresh small-fixture emulator and checks what follows.
pub fn send_admin_body(method: &str, path: &str, body: &[u8]) {
    let state = state_over(small_store(), SignatureMode::Off);
    let before = export(&state);
    let faults_before = send(
        &state,
        admin_request("GET", "/_emulator/faults", Vec::new()),
    );
    let clock_before = send(&state, admin_request("GET", "/_emulator/clock", Vec::new()));
    let answer = send(&state, admin_request(method, path, body.to_vec()));
    let outcome = check_admin_answer(&answer);
    let faults = send(
        &state,
        admin_request("GET", "/_emulator/faults", Vec::new()),
    );
    check_admin_answer(&faults).expect("faults are listed");
    let clock = send(&state, admin_request("GET", "/_emulator/clock", Vec::new()));
    check_admin_answer(&clock).expect("the clock is shown");
    if outcome.is_err() {
        assert_eq!(
            export(&state),
            before,
            "a refused {method} {path} changed the data"
        );
        assert_eq!(
            faults.body, faults_before.body,
            "a refused body added a fault"
        );
        assert_eq!(
            clock.body, clock_before.body,
            "a refused body moved the clock"
        );
        return;
    }
    if path.ends_with("/faults") {
        // A rule may inject any status, 5xx included: the API is not asked after one.
        return;
    }
    // Every region and instance of the new state, asked in both formats.
    let fixture: Value = serde_json::from_str(&export(&state)).expect("the export is JSON");
    let instances = fixture["instances"].as_array().cloned().unwrap_or_default();
    let accounts = fixture["accounts"].as_array().cloned().unwrap_or_default();
    for instance in instances.iter().take(4) {
        let text = |key: &str| instance[key].as_str().unwrap_or_default().to_owned();
        let account = text("accountId");
        let key = accounts
            .iter()
            .find(|a| {
                a["accountId"] == account.as_str() || (account.is_empty() && a["default"] == true)
            })
            .and_then(|a| a["accessKeys"][0]["id"].as_str().map(str::to_owned));
        for format in ["XML", "JSON"] {
            let mut params = vec![
                ("Action".to_owned(), "ListPluginStatus".to_owned()),
                ("Version".to_owned(), "2014-05-26".to_owned()),
                ("Format".to_owned(), format.to_owned()),
                ("RegionId".to_owned(), text("regionId")),
                ("InstanceId.1".to_owned(), text("instanceId")),
            ];
            if let Some(key) = &key {
                params.push(("AccessKeyId".to_owned(), key.clone()));
            }
            let answer = send(
                &state,
                api_request("GET", &encode_pairs(&params), None, &[]),
            );
            check_api_answer(&answer);
        }
    }
}
