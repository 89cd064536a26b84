//! Response formats (SPEC sections 2 and 5): the vendor's sample, JSON and XML with the same
//! data, key order, escaping, content types, request ids, the error envelope, how the format is
//! chosen, and the two request styles (form bodies, V3 headers).

mod common;

use std::fmt;

use axum::body::Body;
use axum::http::Request;
use axum::Router;
use common::{app_with, demo_app, enc, send, send_request, Reply, BASE};
use quick_xml::events::Event;
use quick_xml::reader::Reader;
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{json, Value};

const JSON_TYPE: &str = "application/json;charset=utf-8";
const XML_TYPE: &str = "text/xml;charset=utf-8";
const XML_DECLARATION: &str = r#"<?xml version="1.0" encoding="UTF-8"?>"#;
/// The common parameters of a V1 call without Format.
const V1: &str = "Action=ListPluginStatus&Version=2014-05-26";
const OTHER_KEY: &str = "LTAI5tOtherKey001";
const V3_AUTH: &str =
    "ACS3-HMAC-SHA256 Credential=LTAI5tOtherKey001,SignedHeaders=host,Signature=00";

// ---------------------------------------------------------------------------------------------
// A JSON value that keeps the order of object keys as written.

#[derive(Debug, Clone, PartialEq)]
enum Ordered {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    Str(String),
    Array(Vec<Ordered>),
    Object(Vec<(String, Ordered)>),
}

impl Ordered {
    fn parse(text: &str) -> Self {
        serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
    }

    fn keys(&self) -> Vec<&str> {
        match self {
            Ordered::Object(members) => members.iter().map(|(k, _)| k.as_str()).collect(),
            other => panic!("not an object: {other:?}"),
        }
    }

    fn get(&self, key: &str) -> &Ordered {
        match self {
            Ordered::Object(members) => members
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v)
                .unwrap_or_else(|| panic!("no key {key} in {self:?}")),
            other => panic!("not an object: {other:?}"),
        }
    }

    fn index(&self, i: usize) -> &Ordered {
        match self {
            Ordered::Array(items) => &items[i],
            other => panic!("not an array: {other:?}"),
        }
    }
}

struct OrderedVisitor;

impl<'de> Visitor<'de> for OrderedVisitor {
    type Value = Ordered;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_unit<E>(self) -> Result<Ordered, E> {
        Ok(Ordered::Null)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Ordered, E> {
        Ok(Ordered::Bool(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Ordered, E> {
        Ok(Ordered::Number(v.into()))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Ordered, E> {
        Ok(Ordered::Number(v.into()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Ordered, E> {
        serde_json::Number::from_f64(v)
            .map(Ordered::Number)
            .ok_or_else(|| E::custom("not a finite number"))
    }
    fn visit_str<E>(self, v: &str) -> Result<Ordered, E> {
        Ok(Ordered::Str(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Ordered, E> {
        Ok(Ordered::Str(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Ordered, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Ordered::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Ordered, A::Error> {
        let mut members: Vec<(String, Ordered)> = Vec::new();
        while let Some((key, value)) = map.next_entry::<String, Ordered>()? {
            if members.iter().any(|(k, _)| *k == key) {
                return Err(de::Error::custom(format!("key {key} twice")));
            }
            members.push((key, value));
        }
        Ok(Ordered::Object(members))
    }
}

impl<'de> Deserialize<'de> for Ordered {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(OrderedVisitor)
    }
}

// ---------------------------------------------------------------------------------------------
// One element tree for both formats: a JSON member whose value is an array becomes one element
// per item, as XML writes lists (container element wrapping repeated items).

#[derive(Debug, Clone, PartialEq, Eq)]
struct Node {
    name: String,
    text: String,
    children: Vec<Node>,
}

impl Node {
    fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            text: String::new(),
            children: Vec::new(),
        }
    }

    fn child(&self, name: &str) -> &Node {
        self.children
            .iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("no <{name}> in {self:?}"))
    }

    fn child_names(&self) -> Vec<&str> {
        self.children.iter().map(|c| c.name.as_str()).collect()
    }

    /// The tree without the children named `name` (at the top level).
    fn without(mut self, names: &[&str]) -> Self {
        self.children.retain(|c| !names.contains(&c.name.as_str()));
        self
    }
}

fn json_members(name: &str, value: &Ordered, out: &mut Vec<Node>) {
    match value {
        Ordered::Array(items) => {
            for item in items {
                out.push(json_node(name, item));
            }
        }
        other => out.push(json_node(name, other)),
    }
}

fn json_node(name: &str, value: &Ordered) -> Node {
    let mut node = Node::new(name);
    match value {
        Ordered::Object(members) => {
            for (key, value) in members {
                json_members(key, value, &mut node.children);
            }
        }
        Ordered::Str(s) => node.text = s.clone(),
        Ordered::Number(n) => node.text = n.to_string(),
        Ordered::Array(_) => panic!("an array directly in an array under {name}"),
        Ordered::Null | Ordered::Bool(_) => panic!("unexpected {value:?} under {name}"),
    }
    node
}

/// A JSON body as the element tree its XML twin has under `root`.
fn json_tree(root: &str, body: &str) -> Node {
    json_node(root, &Ordered::parse(body))
}

/// True for a character XML 1.0 allows in a document (raw or as a character reference).
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && c != '\u{FFFE}' && c != '\u{FFFF}')
}

/// Parses XML strictly (well-formed, one root, no attributes, no mixed content, only XML 1.0
/// characters).
fn xml_tree(xml: &str) -> Node {
    if let Some(bad) = xml.chars().find(|&c| !is_xml_char(c)) {
        panic!("XML 1.0 forbids the character {bad:?}: {xml:?}");
    }
    let mut reader = Reader::from_str(xml);
    reader.config_mut().check_end_names = true;
    let mut stack: Vec<Node> = Vec::new();
    let mut root: Option<Node> = None;
    let close = |node: Node, stack: &mut Vec<Node>, root: &mut Option<Node>| {
        assert!(
            node.text.is_empty() || node.children.is_empty(),
            "mixed content in <{}>: {xml}",
            node.name
        );
        match stack.last_mut() {
            Some(parent) => parent.children.push(node),
            None => {
                assert!(root.is_none(), "more than one root: {xml}");
                *root = Some(node);
            }
        }
    };
    loop {
        let event = reader
            .read_event()
            .unwrap_or_else(|e| panic!("not well-formed XML ({e}): {xml}"));
        match event {
            Event::Decl(_) => {}
            Event::Start(e) => {
                assert_eq!(e.attributes().count(), 0, "attributes: {xml}");
                stack.push(Node::new(std::str::from_utf8(e.name().as_ref()).unwrap()));
            }
            Event::Empty(e) => {
                assert_eq!(e.attributes().count(), 0, "attributes: {xml}");
                let node = Node::new(std::str::from_utf8(e.name().as_ref()).unwrap());
                close(node, &mut stack, &mut root);
            }
            Event::End(_) => {
                let node = stack.pop().expect("an open element");
                close(node, &mut stack, &mut root);
            }
            Event::Text(t) => {
                let text = t
                    .unescape()
                    .unwrap_or_else(|e| panic!("bad escape ({e}): {xml}"));
                if let Some(bad) = text.chars().find(|&c| !is_xml_char(c)) {
                    panic!("XML 1.0 forbids the character {bad:?}, even escaped: {xml:?}");
                }
                match stack.last_mut() {
                    Some(top) => top.text.push_str(&text),
                    None => assert!(text.trim().is_empty(), "text outside the root: {xml}"),
                }
            }
            Event::CData(c) => {
                let text = String::from_utf8(c.into_inner().into_owned()).unwrap();
                stack
                    .last_mut()
                    .expect("CDATA in an element")
                    .text
                    .push_str(&text);
            }
            Event::Eof => break,
            other => panic!("unexpected XML event {other:?}: {xml}"),
        }
    }
    assert!(stack.is_empty(), "unclosed elements: {xml}");
    root.unwrap_or_else(|| panic!("no root element: {xml}"))
}

// ---------------------------------------------------------------------------------------------
// Helpers.

fn assert_uppercase_uuid(id: &str) {
    assert_eq!(id.len(), 36, "{id}");
    for (i, c) in id.chars().enumerate() {
        if [8, 13, 18, 23].contains(&i) {
            assert_eq!(c, '-', "{id}");
        } else {
            assert!(
                c.is_ascii_digit() || ('A'..='F').contains(&c),
                "not an uppercase UUID: {id}"
            );
        }
    }
}

/// The body's RequestId (JSON or XML by Content-Type), checked against the header.
fn request_id_of(reply: &Reply) -> String {
    let id = match reply.header("content-type") {
        Some(JSON_TYPE) => reply.json()["RequestId"]
            .as_str()
            .unwrap_or_else(|| panic!("no RequestId: {}", reply.body))
            .to_owned(),
        Some(XML_TYPE) => xml_tree(&reply.body).child("RequestId").text.clone(),
        other => panic!("unexpected Content-Type {other:?}: {}", reply.body),
    };
    assert_uppercase_uuid(&id);
    assert_eq!(
        reply.header("x-acs-request-id"),
        Some(id.as_str()),
        "{reply:?}"
    );
    id
}

fn assert_json(reply: &Reply, status: u16) -> Value {
    assert_eq!(reply.status, status, "{}", reply.body);
    assert_eq!(
        reply.header("content-type"),
        Some(JSON_TYPE),
        "{}",
        reply.body
    );
    request_id_of(reply);
    reply.json()
}

fn assert_xml(reply: &Reply, status: u16) -> Node {
    assert_eq!(reply.status, status, "{}", reply.body);
    assert_eq!(
        reply.header("content-type"),
        Some(XML_TYPE),
        "{}",
        reply.body
    );
    assert!(reply.body.starts_with(XML_DECLARATION), "{}", reply.body);
    request_id_of(reply);
    xml_tree(&reply.body)
}

fn recommend(code: &str, request_id: &str) -> String {
    format!("https://api.aliyun.com/troubleshoot?q={code}&product=Ecs&requestId={request_id}")
}

fn get(uri: &str) -> axum::http::request::Builder {
    Request::get(uri)
}

/// A V3-style GET: no Action parameter, action and version in headers.
fn v3(query: &str) -> Request<Body> {
    get(&format!("/?{query}"))
        .header("x-acs-action", "ListPluginStatus")
        .header("x-acs-version", "2014-05-26")
        .body(Body::empty())
        .unwrap()
}

fn form_post(query: &str, content_type: &str, body: &str) -> Request<Body> {
    Request::post(format!("/?{query}"))
        .header("content-type", content_type)
        .body(Body::from(body.to_owned()))
        .unwrap()
}

/// Instance ids of a JSON success body, in order.
fn instance_ids(body: &Value) -> Vec<String> {
    body["InstancePluginStatusSet"]["InstancePluginStatus"]
        .as_array()
        .unwrap_or_else(|| panic!("no list: {body}"))
        .iter()
        .map(|e| e["InstanceId"].as_str().unwrap().to_owned())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The vendor's sample.

const SAMPLE_QUERY: &str = "RegionId=cn-hangzhou&InstanceId.1=i-xxxxx&Name=testName";

fn sample_app() -> Router {
    app_with(include_str!("fixtures/vendor_sample.json"))
}

#[tokio::test]
async fn the_vendor_sample_is_answered_exactly() {
    let app = sample_app();
    let reply = send(&app, &format!("{BASE}&{SAMPLE_QUERY}")).await;
    let mut body = assert_json(&reply, 200);
    let request_id = body
        .as_object_mut()
        .unwrap()
        .remove("RequestId")
        .expect("RequestId");
    assert_uppercase_uuid(request_id.as_str().expect("a string"));
    assert_eq!(
        body,
        json!({
            "PageSize": 10,
            "PageNumber": 1,
            "TotalCount": 1,
            "InstancePluginStatusSet": {"InstancePluginStatus": [{
                "InstanceId": "i-xxxxx",
                "PluginStatusSet": {"PluginStatus": [{
                    "PluginVersion": "1.1",
                    "PluginName": "testName",
                    "FirstHeartbeatTime": "2020-01-19T09:15:46Z",
                    "LastHeartbeatTime": "2020-01-19T09:15:46Z",
                    "PluginStatus": "Running"
                }]}
            }]}
        })
    );
}

#[tokio::test]
async fn json_keys_are_in_the_sample_order() {
    let app = sample_app();
    let reply = send(&app, &format!("{BASE}&{SAMPLE_QUERY}")).await;
    let body = Ordered::parse(&reply.body);
    assert_eq!(
        body.keys(),
        [
            "PageSize",
            "RequestId",
            "PageNumber",
            "TotalCount",
            "InstancePluginStatusSet"
        ]
    );
    let set = body.get("InstancePluginStatusSet");
    assert_eq!(set.keys(), ["InstancePluginStatus"]);
    let entry = set.get("InstancePluginStatus").index(0);
    assert_eq!(entry.keys(), ["InstanceId", "PluginStatusSet"]);
    assert_eq!(entry.get("PluginStatusSet").keys(), ["PluginStatus"]);
    let item = entry.get("PluginStatusSet").get("PluginStatus").index(0);
    assert_eq!(
        item.keys(),
        [
            "PluginVersion",
            "PluginName",
            "FirstHeartbeatTime",
            "LastHeartbeatTime",
            "PluginStatus"
        ]
    );

    // NextToken sits between TotalCount and the set; token mode has no page keys.
    let app = demo_app();
    let cases: [(&str, &[&str]); 4] = [
        (
            "RegionId=cn-hangzhou&Name=ecs_tools_test&PageSize=2",
            &[
                "PageSize",
                "RequestId",
                "PageNumber",
                "TotalCount",
                "NextToken",
                "InstancePluginStatusSet",
            ],
        ),
        (
            "RegionId=cn-hangzhou&Name=ecs_tools_test&PageSize=2&PageNumber=6",
            &[
                "PageSize",
                "RequestId",
                "PageNumber",
                "TotalCount",
                "InstancePluginStatusSet",
            ],
        ),
        (
            "RegionId=cn-hangzhou&Name=ecs_tools_test&MaxResults=2",
            &[
                "RequestId",
                "TotalCount",
                "NextToken",
                "InstancePluginStatusSet",
            ],
        ),
        (
            "RegionId=cn-hangzhou&Name=ecs_tools_test&MaxResults=50",
            &["RequestId", "TotalCount", "InstancePluginStatusSet"],
        ),
    ];
    for (query, keys) in cases {
        let reply = send(&app, &format!("{BASE}&{query}")).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_eq!(Ordered::parse(&reply.body).keys(), keys, "{query}");
    }
}

#[tokio::test]
async fn the_vendor_sample_in_xml() {
    let app = sample_app();
    let reply = send(&app, &format!("{V1}&Format=XML&{SAMPLE_QUERY}")).await;
    let tree = assert_xml(&reply, 200);
    let request_id = tree.child("RequestId").text.clone();
    let expected = format!(
        "{XML_DECLARATION}<ListPluginStatusResponse><PageSize>10</PageSize>\
         <RequestId>{request_id}</RequestId><PageNumber>1</PageNumber><TotalCount>1</TotalCount>\
         <InstancePluginStatusSet><InstancePluginStatus><InstanceId>i-xxxxx</InstanceId>\
         <PluginStatusSet><PluginStatus><PluginVersion>1.1</PluginVersion>\
         <PluginName>testName</PluginName>\
         <FirstHeartbeatTime>2020-01-19T09:15:46Z</FirstHeartbeatTime>\
         <LastHeartbeatTime>2020-01-19T09:15:46Z</LastHeartbeatTime>\
         <PluginStatus>Running</PluginStatus></PluginStatus></PluginStatusSet>\
         </InstancePluginStatus></InstancePluginStatusSet></ListPluginStatusResponse>"
    );
    assert_eq!(xml_tree(&expected), tree);
}

// ---------------------------------------------------------------------------------------------
// Content types and request ids.

#[tokio::test]
async fn content_types_and_the_request_id_header() {
    let app = demo_app();
    let ok = "RegionId=cn-hangzhou&Name=ecs_tools_test";
    // (query, status, code or "" for success, XML?)
    let cases = [
        (format!("{BASE}&{ok}"), 200, "", false),
        (format!("{V1}&Format=XML&{ok}"), 200, "", true),
        (format!("{V1}&{ok}"), 200, "", true),
        (format!("{BASE}&Name=x"), 400, "MissingRegionId", false),
        (format!("{V1}&Name=x"), 400, "MissingRegionId", true),
        (
            format!("{BASE}&RegionId=xx-nowhere-1"),
            404,
            "InvalidRegionId.NotFound",
            false,
        ),
        (
            format!("{V1}&Format=XML&RegionId=cn-hangzhou&Name=nope"),
            404,
            "InvalidPluginName.NotFound",
            true,
        ),
        (
            "Action=Nope&Version=2014-05-26&Format=XML".to_owned(),
            404,
            "InvalidAction.NotFound",
            true,
        ),
        (
            "Action=ListPluginStatus&Version=2000-01-01&Format=JSON".to_owned(),
            400,
            "InvalidVersion",
            false,
        ),
        (
            format!("{V1}&Format=yaml&{ok}"),
            400,
            "InvalidParameter.Format",
            false,
        ),
    ];
    let mut seen = Vec::new();
    for (query, status, code, xml) in cases {
        let reply = send(&app, &query).await;
        let id = if xml {
            let tree = assert_xml(&reply, status);
            if code.is_empty() {
                assert_eq!(tree.name, "ListPluginStatusResponse", "{query}");
            } else {
                assert_eq!(tree.name, "Error", "{query}");
                assert_eq!(tree.child("Code").text, code, "{query}");
            }
            tree.child("RequestId").text.clone()
        } else {
            let body = assert_json(&reply, status);
            assert_eq!(body.get("Code").and_then(Value::as_str).unwrap_or(""), code);
            body["RequestId"].as_str().unwrap().to_owned()
        };
        assert!(!seen.contains(&id), "request id {id} reused");
        seen.push(id);
    }

    // Another method: refused, still with a request id.
    let reply = send_request(
        &app,
        Request::delete(format!("/?{BASE}&{ok}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    let body = assert_json(&reply, 403);
    assert_eq!(body["Code"], "UnsupportedHTTPMethod");
    assert_eq!(body["Message"], "This http method not supported.");
}

// ---------------------------------------------------------------------------------------------
// XML and JSON carry the same data.

#[tokio::test]
async fn xml_and_json_carry_the_same_data() {
    let app = demo_app();
    let queries = [
        "RegionId=cn-hangzhou&Name=ecs_tools_test",
        "RegionId=cn-hangzhou&Name=ecs_tools_test&PageSize=3&PageNumber=2",
        "RegionId=cn-hangzhou&InstanceId.1=i-bp1iudwa5b1tqa0006",
        "RegionId=cn-hangzhou&InstanceId.1=i-bp1iudwa5b1tqa0001",
        "RegionId=cn-hangzhou&Name=ecs_tools_test&MaxResults=4",
        "RegionId=cn-hangzhou&Name=ecs_tools_test&MaxResults=50",
        "RegionId=cn-hangzhou&Name=ecs_tools_test&InstanceId.1=i-bp1iudwa5b1tqa0005\
         &InstanceId.2=i-bp1iudwa5b1tqa0001&InstanceId.3=i-bp1iudwa5b1tqa0007",
        "RegionId=cn-hangzhou&Name=ecs_tools_test&PageNumber=50",
        "RegionId=cn-beijing&Name=ecs_tools_test",
        "RegionId=ap-southeast-1&Name=ACS-ECS-GpuCheck",
        "RegionId=cn-hangzhou&Name=acme-private-agent&AccessKeyId=LTAI5tOtherKey001",
    ];
    for query in queries {
        let json_reply = send(&app, &format!("{V1}&Format=JSON&{query}")).await;
        assert_json(&json_reply, 200);
        let xml_reply = send(&app, &format!("{V1}&Format=XML&{query}")).await;
        let xml = assert_xml(&xml_reply, 200);
        assert_eq!(xml.name, "ListPluginStatusResponse");
        let json = json_tree("ListPluginStatusResponse", &json_reply.body);
        // The list is always there, even when empty.
        xml.child("InstancePluginStatusSet");
        assert_eq!(
            xml.without(&["RequestId"]),
            json.without(&["RequestId"]),
            "{query}"
        );
    }

    // Error envelopes too, RequestId and the Recommend naming it aside.
    let errors = [
        ("Name=ecs_tools_test", 400, "MissingRegionId"),
        ("RegionId=xx-nowhere-1", 404, "InvalidRegionId.NotFound"),
        (
            "RegionId=cn-hangzhou&Name=nope",
            404,
            "InvalidPluginName.NotFound",
        ),
        (
            "RegionId=cn-hangzhou&InstanceId.51=i-1&Name=x",
            400,
            "InstanceIds.ExceedLimit",
        ),
        ("RegionId=cn-hangzhou", 400, "PluginName.MissingValue"),
        (
            "RegionId=cn-hangzhou&Name=ecs_tools_test&NextToken=AAAA",
            400,
            "InvalidParameter.NextToken",
        ),
    ];
    for (query, status, code) in errors {
        let json_reply = send(&app, &format!("{V1}&Format=JSON&{query}")).await;
        let json_body = assert_json(&json_reply, status);
        assert_eq!(json_body["Code"], code, "{query}");
        let xml_reply = send(&app, &format!("{V1}&Format=XML&{query}")).await;
        let xml = assert_xml(&xml_reply, status);
        assert_eq!(xml.name, "Error");
        assert_eq!(
            xml.child_names(),
            ["RequestId", "HostId", "Code", "Message", "Recommend"]
        );
        let json = json_tree("Error", &json_reply.body);
        assert_eq!(
            xml.without(&["RequestId", "Recommend"]),
            json.without(&["RequestId", "Recommend"]),
            "{query}"
        );
    }
}

#[tokio::test]
async fn xml_escapes_text() {
    let name = "a<b>&\"c'";
    let version = "<1&2>";
    let fixture = json!({
        "instances": [{
            "instanceId": "i-escape",
            "regionId": "cn-hangzhou",
            "plugins": [
                {"name": name, "version": version, "status": "Running"},
                {"name": "plain", "version": "1", "status": "Stopped"}
            ]
        }]
    })
    .to_string();
    let app = app_with(&fixture);
    for query in [
        "RegionId=cn-hangzhou&InstanceId.1=i-escape".to_owned(),
        format!("RegionId=cn-hangzhou&Name={}", enc(name)),
    ] {
        let reply = send(&app, &format!("{V1}&Format=XML&{query}")).await;
        let tree = assert_xml(&reply, 200);
        assert!(!reply.body.contains("<b>"), "{}", reply.body);
        assert!(!reply.body.contains("<1&2>"), "{}", reply.body);
        assert!(!reply.body.contains("&\"c"), "{}", reply.body);
        let item = tree
            .child("InstancePluginStatusSet")
            .child("InstancePluginStatus")
            .child("PluginStatusSet")
            .child("PluginStatus");
        assert_eq!(item.child("PluginName").text, name, "{query}");
        assert_eq!(item.child("PluginVersion").text, version, "{query}");

        let json_reply = send(&app, &format!("{V1}&Format=JSON&{query}")).await;
        let body = assert_json(&json_reply, 200);
        let item = &body["InstancePluginStatusSet"]["InstancePluginStatus"][0]["PluginStatusSet"]
            ["PluginStatus"][0];
        assert_eq!(item["PluginName"], name);
        assert_eq!(item["PluginVersion"], version);
        assert_eq!(
            tree.without(&["RequestId"]),
            json_tree("ListPluginStatusResponse", &json_reply.body).without(&["RequestId"])
        );
    }

    // An error message echoing nothing unsafe is still escaped where it has '&' (Recommend).
    let reply = send(&app, &format!("{V1}&Format=XML&RegionId=cn-hangzhou")).await;
    assert!(
        reply.body.contains("&amp;product=Ecs&amp;requestId="),
        "{}",
        reply.body
    );
}

/// SPEC 5: XML text is escaped, so the document stays well-formed whatever the data. XML 1.0
/// cannot carry C0 control characters at all (not even as `&#1;`), yet a parameter name echoed in
/// a message, or a plug-in name from the data, can hold one.
#[tokio::test]
async fn xml_stays_well_formed_with_control_characters_in_a_message() {
    let app = demo_app();
    let reply = send(
        &app,
        &format!("{V1}&Format=XML&RegionId=cn-hangzhou&Name=a&InstanceId.%01=i-1"),
    )
    .await;
    assert_eq!(
        assert_xml(&reply, 400).child("Code").text,
        "InvalidParameter"
    );
}

#[tokio::test]
async fn control_characters_in_the_data_are_refused_at_load() {
    // XML 1.0 cannot carry them, so data holding them is refused with its position.
    for plugin in [
        json!({"name": "ctl\u{1}name", "version": "1", "status": "Running"}),
        json!({"name": "ok", "version": "1\u{1b}", "status": "Running"}),
    ] {
        let fixture = json!({"instances": [{"instanceId": "i-ctl", "regionId": "cn-hangzhou",
            "plugins": [plugin]}]})
        .to_string();
        let err = ecs_emulator::fixture::load_str("control characters", &fixture).unwrap_err();
        assert_eq!(err.line, 1, "{err}");
        assert!(err.problem.contains("control character"), "{err}");
    }
}

#[tokio::test]
async fn random_request_ids_are_distinct_uppercase_v4_uuids() {
    let app = ecs_emulator::app(ecs_emulator::AppState::new(
        ecs_emulator::fixture::demo_store(),
    ));
    let mut seen = Vec::new();
    for query in [
        format!("{BASE}&RegionId=cn-hangzhou&Name=ecs_tools_test"),
        format!("{V1}&RegionId=cn-hangzhou&Name=ecs_tools_test"),
        format!("{BASE}&Name=ecs_tools_test"),
        format!("{V1}&Name=ecs_tools_test"),
    ] {
        for _ in 0..5 {
            let reply = send(&app, &query).await;
            let id = request_id_of(&reply);
            assert_eq!(&id[14..15], "4", "version 4: {id}");
            assert!("89AB".contains(&id[19..20]), "RFC 4122 variant: {id}");
            assert!(!seen.contains(&id), "{id} twice");
            seen.push(id);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Choosing the format.

#[tokio::test]
async fn format_is_case_insensitive_and_defaults_by_style() {
    let app = demo_app();
    let query = "RegionId=cn-hangzhou&Name=ecs_tools_test&PageSize=1";
    for format in ["JSON", "json", "Json", "jSoN"] {
        let reply = send(&app, &format!("{V1}&Format={format}&{query}")).await;
        assert_eq!(assert_json(&reply, 200)["TotalCount"], 12, "{format}");
    }
    for format in ["XML", "xml", "Xml"] {
        let reply = send(&app, &format!("{V1}&Format={format}&{query}")).await;
        assert_eq!(
            assert_xml(&reply, 200).child("TotalCount").text,
            "12",
            "{format}"
        );
    }
    // V1 without Format: XML; an empty Format counts as absent.
    for extra in ["", "&Format="] {
        let reply = send(&app, &format!("{V1}{extra}&{query}")).await;
        assert_eq!(assert_xml(&reply, 200).name, "ListPluginStatusResponse");
    }
    // V3 without Format: JSON; with Format=XML: XML.
    let reply = send_request(&app, v3(query)).await;
    assert_eq!(assert_json(&reply, 200)["TotalCount"], 12);
    let reply = send_request(&app, v3(&format!("Format=xml&{query}"))).await;
    assert_eq!(assert_xml(&reply, 200).child("TotalCount").text, "12");
    // An ACS3 Authorization makes a request V3 even with an Action parameter.
    let reply = send_request(
        &app,
        get(&format!("/?{V1}&{query}"))
            .header("authorization", V3_AUTH)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_json(&reply, 200);
    // An invalid Format is refused, in JSON, in either style.
    for format in ["yaml", "JSONP", "x"] {
        let reply = send(&app, &format!("{V1}&Format={format}&{query}")).await;
        let body = assert_json(&reply, 400);
        assert_eq!(body["Code"], "InvalidParameter.Format", "{format}");
        assert_eq!(body["Message"], "Specified parameter format is not valid.");
        let reply = send_request(&app, v3(&format!("Format={format}&{query}"))).await;
        assert_eq!(assert_json(&reply, 400)["Code"], "InvalidParameter.Format");
    }
}

// ---------------------------------------------------------------------------------------------
// The error envelope.

#[tokio::test]
async fn the_xml_error_envelope() {
    let app = demo_app();
    let query = format!("{V1}&Format=XML&Name=ecs_tools_test");

    // No Host header: the default HostId.
    let reply = send(&app, &query).await;
    let tree = assert_xml(&reply, 400);
    assert_eq!(tree.name, "Error");
    assert_eq!(
        tree.child_names(),
        ["RequestId", "HostId", "Code", "Message", "Recommend"]
    );
    let id = tree.child("RequestId").text.clone();
    assert_eq!(tree.child("HostId").text, "ecs.aliyuncs.com");
    assert_eq!(tree.child("Code").text, "MissingRegionId");
    assert_eq!(
        tree.child("Message").text,
        "RegionId is mandatory for this action."
    );
    assert_eq!(
        tree.child("Recommend").text,
        recommend("MissingRegionId", &id)
    );
    assert!(
        reply.body.contains(&format!(
            "<Recommend>https://api.aliyun.com/troubleshoot?q=MissingRegionId\
             &amp;product=Ecs&amp;requestId={id}</Recommend>"
        )),
        "{}",
        reply.body
    );

    // With a Host header: that host.
    let reply = send_request(
        &app,
        get(&format!("/?{query}"))
            .header("host", "ecs.cn-hangzhou.aliyuncs.com")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    let tree = assert_xml(&reply, 400);
    assert_eq!(tree.child("HostId").text, "ecs.cn-hangzhou.aliyuncs.com");
    let id = tree.child("RequestId").text.clone();
    assert_eq!(
        tree.child("Recommend").text,
        recommend("MissingRegionId", &id)
    );

    // The JSON envelope has the same five keys, in the same order.
    let reply = send_request(
        &app,
        get(&format!("/?{BASE}&RegionId=cn-hangzhou&Name=nope"))
            .header("host", "localhost:9080")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    let body = assert_json(&reply, 404);
    assert_eq!(
        Ordered::parse(&reply.body).keys(),
        ["RequestId", "HostId", "Code", "Message", "Recommend"]
    );
    let id = body["RequestId"].as_str().unwrap().to_owned();
    assert_eq!(
        body,
        json!({
            "RequestId": id,
            "HostId": "localhost:9080",
            "Code": "InvalidPluginName.NotFound",
            "Message": "The specified plugin name does not exist.",
            "Recommend": recommend("InvalidPluginName.NotFound", &id),
        })
    );
}

// ---------------------------------------------------------------------------------------------
// JSON values.

/// Every leaf is a string except the three counters, which are numbers.
fn assert_leaf_types(value: &Value, key: &str) {
    match value {
        Value::Object(members) => members.iter().for_each(|(k, v)| assert_leaf_types(v, k)),
        Value::Array(items) => items.iter().for_each(|v| assert_leaf_types(v, key)),
        Value::Number(n) => assert!(
            ["PageSize", "PageNumber", "TotalCount"].contains(&key) && n.is_u64(),
            "{key} is the number {n}"
        ),
        Value::String(_) => assert!(
            !["PageSize", "PageNumber", "TotalCount"].contains(&key),
            "{key} is a string"
        ),
        other => panic!("{key} is {other}"),
    }
}

#[tokio::test]
async fn numbers_are_numbers_and_success_has_no_code() {
    let app = demo_app();
    for query in [
        "RegionId=cn-hangzhou&Name=ecs_tools_test&PageSize=5&PageNumber=2",
        "RegionId=cn-hangzhou&Name=ecs_tools_test&MaxResults=3",
        "RegionId=cn-hangzhou&InstanceId.1=i-bp1iudwa5b1tqa0001",
        "RegionId=cn-hangzhou&Name=ecs_tools_test&PageNumber=9",
    ] {
        let body = assert_json(&send(&app, &format!("{BASE}&{query}")).await, 200);
        assert!(body.get("Code").is_none(), "{query}: {body}");
        assert!(body["TotalCount"].is_u64(), "{query}");
        assert_leaf_types(&body, "");
    }
    let body = assert_json(
        &send(
            &app,
            &format!("{BASE}&RegionId=cn-hangzhou&Name=ecs_tools_test&PageSize=5&PageNumber=2"),
        )
        .await,
        200,
    );
    assert_eq!(
        (&body["PageSize"], &body["PageNumber"], &body["TotalCount"]),
        (&json!(5), &json!(2), &json!(12))
    );
}

#[tokio::test]
async fn not_installed_records_and_empty_results() {
    let app = demo_app();
    let not_installed = |id: &str| {
        json!({"InstanceId": id, "PluginStatusSet": {"PluginStatus": [{
            "PluginVersion": "",
            "PluginName": "ecs_tools_test",
            "FirstHeartbeatTime": "",
            "LastHeartbeatTime": "",
            "PluginStatus": "NotInstalled"
        }]}})
    };
    // 0005 has no plug-ins, 0009 others, 0007 has it stored as NotInstalled.
    let query = "RegionId=cn-hangzhou&Name=ecs_tools_test&InstanceId.1=i-bp1iudwa5b1tqa0005\
                 &InstanceId.2=i-bp1iudwa5b1tqa0009&InstanceId.3=i-bp1iudwa5b1tqa0007";
    let body = assert_json(&send(&app, &format!("{BASE}&{query}")).await, 200);
    assert_eq!(body["TotalCount"], 3);
    assert_eq!(
        body["InstancePluginStatusSet"],
        json!({"InstancePluginStatus": [
            not_installed("i-bp1iudwa5b1tqa0005"),
            not_installed("i-bp1iudwa5b1tqa0009"),
            not_installed("i-bp1iudwa5b1tqa0007"),
        ]})
    );

    for query in [
        // A page past the end.
        "RegionId=cn-hangzhou&Name=ecs_tools_test&PageNumber=3",
        // A known region without data.
        "RegionId=cn-beijing&Name=ecs_tools_test",
        // An instance without plug-ins, no Name.
        "RegionId=cn-hangzhou&InstanceId.1=i-bp1iudwa5b1tqa0005",
    ] {
        let reply = send(&app, &format!("{BASE}&{query}")).await;
        let body = assert_json(&reply, 200);
        assert_eq!(
            body["InstancePluginStatusSet"],
            json!({"InstancePluginStatus": []}),
            "{query}"
        );
        assert!(
            reply
                .body
                .contains(r#""InstancePluginStatusSet":{"InstancePluginStatus":[]}"#),
            "{}",
            reply.body
        );
        assert!(body.get("NextToken").is_none(), "{query}");
    }
    let body = assert_json(
        &send(
            &app,
            &format!("{BASE}&RegionId=cn-beijing&Name=ecs_tools_test"),
        )
        .await,
        200,
    );
    assert_eq!(body["TotalCount"], 0);
}

// ---------------------------------------------------------------------------------------------
// Request styles: form bodies and V3 headers.

#[tokio::test]
async fn a_form_body_merges_with_the_query() {
    let app = demo_app();
    let expected_ids = ["i-bp1iudwa5b1tqa0001", "i-bp1iudwa5b1tqa0002"];
    for content_type in [
        "application/x-www-form-urlencoded",
        "application/x-www-form-urlencoded; charset=UTF-8",
    ] {
        let reply = send_request(
            &app,
            form_post(
                V1,
                content_type,
                "Format=JSON&RegionId=cn-hangzhou&Name=ecs_tools_test&PageSize=2",
            ),
        )
        .await;
        let body = assert_json(&reply, 200);
        assert_eq!(instance_ids(&body), expected_ids, "{content_type}");
        assert_eq!(body["PageSize"], 2);
        assert_eq!(body["TotalCount"], 12);
    }
    // Everything in the body, nothing in the query.
    let reply = send_request(
        &app,
        form_post(
            "",
            "application/x-www-form-urlencoded",
            &format!("{BASE}&RegionId=cn-hangzhou&Name=ecs_tools_test&PageSize=2"),
        ),
    )
    .await;
    assert_eq!(instance_ids(&assert_json(&reply, 200)), expected_ids);

    // A key in both places is refused, naming it.
    let reply = send_request(
        &app,
        form_post(
            &format!("{BASE}&RegionId=cn-hangzhou"),
            "application/x-www-form-urlencoded",
            "RegionId=cn-hangzhou&Name=ecs_tools_test",
        ),
    )
    .await;
    let body = assert_json(&reply, 400);
    assert_eq!(body["Code"], "InvalidParameter");
    assert!(
        body["Message"].as_str().unwrap().contains("\"RegionId\""),
        "{body}"
    );

    // A body of another type is not read.
    let reply = send_request(
        &app,
        form_post(
            BASE,
            "text/plain",
            "RegionId=cn-hangzhou&Name=ecs_tools_test",
        ),
    )
    .await;
    assert_eq!(assert_json(&reply, 400)["Code"], "MissingRegionId");
}

#[tokio::test]
async fn v3_requests_pick_the_account_from_the_credential() {
    let app = demo_app();
    let signed = |query: &str| {
        get(&format!("/?{query}"))
            .header("x-acs-action", "ListPluginStatus")
            .header("x-acs-version", "2014-05-26")
            .header("x-acs-date", "2026-01-01T00:00:00Z")
            .header("x-acs-signature-nonce", "nonce-1")
            .header("authorization", V3_AUTH)
            .body(Body::empty())
            .unwrap()
    };

    // The second account sees its own instances, and not the default account's.
    let reply = send_request(&app, signed("RegionId=cn-hangzhou&Name=ecs_tools_test")).await;
    let body = assert_json(&reply, 200);
    assert_eq!(body["TotalCount"], 2);
    assert_eq!(
        body["InstancePluginStatusSet"]["InstancePluginStatus"],
        json!([
            {"InstanceId": "i-bp1otheraccount0001", "PluginStatusSet": {"PluginStatus": [{
                "PluginVersion": "1.1", "PluginName": "ecs_tools_test",
                "FirstHeartbeatTime": "2026-05-05T05:05:00Z",
                "LastHeartbeatTime": "2026-11-21T05:05:00Z", "PluginStatus": "Running"}]}},
            {"InstanceId": "i-bp1otheraccount0002", "PluginStatusSet": {"PluginStatus": [{
                "PluginVersion": "", "PluginName": "ecs_tools_test",
                "FirstHeartbeatTime": "", "LastHeartbeatTime": "",
                "PluginStatus": "NotInstalled"}]}}
        ])
    );
    let reply = send_request(&app, signed("RegionId=cn-hangzhou&Name=acme-private-agent")).await;
    let body = assert_json(&reply, 200);
    assert_eq!(
        instance_ids(&body),
        ["i-bp1otheraccount0001", "i-bp1otheraccount0002"]
    );
    let reply = send_request(
        &app,
        signed("RegionId=cn-hangzhou&InstanceId.1=i-bp1iudwa5b1tqa0001"),
    )
    .await;
    assert_eq!(assert_json(&reply, 404)["Code"], "InvalidInstance.NotFound");

    // The same query as the default account (V3 without a credential) sees the other side.
    let reply = send_request(&app, v3("RegionId=cn-hangzhou&Name=ecs_tools_test")).await;
    let body = assert_json(&reply, 200);
    assert_eq!(body["TotalCount"], 12);
    assert!(!instance_ids(&body)
        .iter()
        .any(|id| id.contains("otheraccount")));
    let reply = send_request(&app, v3("RegionId=cn-hangzhou&Name=acme-private-agent")).await;
    assert_eq!(
        assert_json(&reply, 404)["Code"],
        "InvalidPluginName.NotFound"
    );

    // V1 with AccessKeyId picks the same account.
    let reply = send(
        &app,
        &format!("{BASE}&RegionId=cn-hangzhou&Name=acme-private-agent&AccessKeyId={OTHER_KEY}"),
    )
    .await;
    assert_eq!(
        instance_ids(&assert_json(&reply, 200)),
        ["i-bp1otheraccount0001", "i-bp1otheraccount0002"]
    );

    // V3 parameters in a form body.
    let request = Request::post("/")
        .header("x-acs-action", "ListPluginStatus")
        .header("x-acs-version", "2014-05-26")
        .header("authorization", V3_AUTH)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(
            "RegionId=cn-hangzhou&Name=acme-private-agent&PageSize=1",
        ))
        .unwrap();
    let body = assert_json(&send_request(&app, request).await, 200);
    assert_eq!(instance_ids(&body), ["i-bp1otheraccount0001"]);
    assert!(body.get("NextToken").is_some(), "{body}");
}
