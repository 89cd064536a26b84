//! Every error code of SPEC sections 2 and 4: input → HTTP status, code, message.

mod common;

use axum::body::Body;
use axum::http::Request;
use common::{demo_app, enc, send, send_request, BASE};

/// Parameters that make a valid request on the demo data, to break one at a time.
const OK: &str = "RegionId=cn-hangzhou&Name=ecs_tools_test";

struct Case {
    what: &'static str,
    query: String,
    status: u16,
    code: &'static str,
    message: String,
}

fn case(
    what: &'static str,
    query: impl Into<String>,
    status: u16,
    code: &'static str,
    message: impl Into<String>,
) -> Case {
    Case {
        what,
        query: query.into(),
        status,
        code,
        message: message.into(),
    }
}

fn table() -> Vec<Case> {
    let ids_51: String = (1..=51).map(|n| format!("&InstanceId.{n}=i-{n}")).collect();
    let long_name = "n".repeat(256);
    let too_many: String = (0..1_001).map(|n| format!("&k{n}=v")).collect();
    vec![
        // ---- section 2: the wire ----
        case("no Action anywhere", "Version=2014-05-26&RegionId=cn-hangzhou", 400, "MissingParameter",
            "The input parameter \"Action\" that is mandatory for processing this request is not supplied."),
        case("unknown Action", "Action=DescribeInstances&Version=2014-05-26&Format=JSON", 404, "InvalidAction.NotFound",
            "Specified api is not found, please check your url and method."),
        case("no Version", "Action=ListPluginStatus&Format=JSON&RegionId=cn-hangzhou", 400, "MissingVersion",
            "Version is mandatory for this action."),
        case("wrong Version", "Action=ListPluginStatus&Version=2016-04-28&Format=JSON", 400, "InvalidVersion",
            "Specified parameter Version is not valid."),
        case("unknown Format", format!("Action=ListPluginStatus&Version=2014-05-26&Format=yaml&{OK}"), 400, "InvalidParameter.Format",
            "Specified parameter format is not valid."),
        case("a key twice", format!("{BASE}&{OK}&RegionId=cn-hangzhou"), 400, "InvalidParameter",
            "The specified parameter \"RegionId\" is not valid: the parameter is given more than once"),
        case("bad percent-encoding", format!("{BASE}&{OK}&InstanceId.1=i-%zz"), 400, "InvalidParameter",
            "The specified parameter \"InstanceId.1\" is not valid: its value has a '%' that is not followed by two hexadecimal digits"),
        case("not UTF-8", format!("{BASE}&RegionId=cn-hangzhou&Name=%FF%FE"), 400, "InvalidParameter",
            "The specified parameter \"Name\" is not valid: its value is not valid UTF-8 once decoded"),
        case("more than 1,000 parameters", format!("{BASE}&{OK}{too_many}"), 400, "InvalidParameter.TooManyParameters",
            "The request has 1006 parameters; at most 1000 are accepted."),
        // ---- section 4, in validation order ----
        case("no RegionId", format!("{BASE}&Name=ecs_tools_test"), 400, "MissingRegionId",
            "RegionId is mandatory for this action."),
        case("empty RegionId counts as absent", format!("{BASE}&RegionId=&Name=ecs_tools_test"), 400, "MissingRegionId",
            "RegionId is mandatory for this action."),
        case("unknown region", format!("{BASE}&RegionId=cn-atlantis&Name=ecs_tools_test"), 404, "InvalidRegionId.NotFound",
            "The specified RegionId does not exist."),
        case("51 instance ids", format!("{BASE}&{OK}{ids_51}"), 400, "InstanceIds.ExceedLimit",
            "The number of instance IDs exceeds the upper limit."),
        case("InstanceId.N with N > 50", format!("{BASE}&{OK}&InstanceId.51=i-1"), 400, "InstanceIds.ExceedLimit",
            "The number of instance IDs exceeds the upper limit."),
        case("InstanceId.0", format!("{BASE}&{OK}&InstanceId.0=i-1"), 400, "InvalidParameter",
            "The specified parameter \"InstanceId.0\" is not valid: N of InstanceId.N must be a whole number from 1 to 50"),
        case("InstanceId.x", format!("{BASE}&{OK}&InstanceId.x=i-1"), 400, "InvalidParameter",
            "The specified parameter \"InstanceId.x\" is not valid: N of InstanceId.N must be a whole number from 1 to 50"),
        case("InstanceId.01", format!("{BASE}&{OK}&InstanceId.01=i-1"), 400, "InvalidParameter",
            "The specified parameter \"InstanceId.01\" is not valid: N of InstanceId.N must be a whole number from 1 to 50"),
        case("bare InstanceId", format!("{BASE}&{OK}&InstanceId=i-1"), 400, "InvalidParameter",
            "The specified parameter \"InstanceId\" is not valid: instance ids are given as InstanceId.N, N from 1 to 50"),
        case("Name over 255 characters", format!("{BASE}&RegionId=cn-hangzhou&Name={long_name}"), 400, "InvalidParameter",
            "The specified parameter \"Name\" is not valid: it must be 1 to 255 characters long"),
        case("no Name, no instance", format!("{BASE}&RegionId=cn-hangzhou"), 400, "PluginName.MissingValue",
            "The plugin name must be specified when the number of InstanceIds is not 1."),
        case("no Name, two instances", format!("{BASE}&RegionId=cn-hangzhou&InstanceId.1=i-bp1iudwa5b1tqa0001&InstanceId.2=i-bp1iudwa5b1tqa0002"),
            400, "PluginName.MissingValue", "The plugin name must be specified when the number of InstanceIds is not 1."),
        case("PageNumber 0", format!("{BASE}&{OK}&PageNumber=0"), 400, "InvalidParam.PageNumber",
            "The specified parameter PageNumber is invalid."),
        case("PageNumber over i64", format!("{BASE}&{OK}&PageNumber=9223372036854775808"), 400, "InvalidParam.PageNumber",
            "The specified parameter PageNumber is invalid."),
        case("PageNumber not a number", format!("{BASE}&{OK}&PageNumber=one"), 400, "InvalidParam.PageNumber",
            "The specified parameter PageNumber is invalid."),
        case("PageNumber negative", format!("{BASE}&{OK}&PageNumber=-1"), 400, "InvalidParam.PageNumber",
            "The specified parameter PageNumber is invalid."),
        case("PageSize 0", format!("{BASE}&{OK}&PageSize=0"), 400, "InvalidParam.PageSize",
            "The specified parameter PageSize is invalid."),
        case("PageSize 51", format!("{BASE}&{OK}&PageSize=51"), 400, "InvalidParam.PageSize",
            "The specified parameter PageSize is invalid."),
        case("PageSize fractional", format!("{BASE}&{OK}&PageSize=1.5"), 400, "InvalidParam.PageSize",
            "The specified parameter PageSize is invalid."),
        case("MaxResults 0", format!("{BASE}&{OK}&MaxResults=0"), 400, "InvalidParameter.MaxResults",
            "The specified parameter MaxResults is not valid."),
        case("MaxResults 51", format!("{BASE}&{OK}&MaxResults=51"), 400, "InvalidParameter.MaxResults",
            "The specified parameter MaxResults is not valid."),
        case("garbage NextToken", format!("{BASE}&{OK}&NextToken=AAAAAdDWBF2"), 400, "InvalidParameter.NextToken",
            "The specified parameter NextToken is not valid."),
        case("unknown instance", format!("{BASE}&{OK}&InstanceId.1=i-doesnotexist"), 404, "InvalidInstance.NotFound",
            "The specified instance does not exist."),
        case("instance of another region", format!("{BASE}&RegionId=cn-shanghai&Name=ecs_tools_test&InstanceId.1=i-bp1iudwa5b1tqa0001"),
            404, "InvalidInstance.NotFound", "The specified instance does not exist."),
        case("instance of another account", format!("{BASE}&{OK}&InstanceId.1=i-bp1otheraccount0001"), 404, "InvalidInstance.NotFound",
            "The specified instance does not exist."),
        case("unknown plug-in name", format!("{BASE}&RegionId=cn-hangzhou&Name=no-such-plugin"), 404, "InvalidPluginName.NotFound",
            "The specified plugin name does not exist."),
        case("another account's plug-in name", format!("{BASE}&RegionId=cn-hangzhou&Name=acme-private-agent"), 404,
            "InvalidPluginName.NotFound", "The specified plugin name does not exist."),
        // ---- first failure wins ----
        case("region before PageSize", format!("{BASE}&Name=x&PageSize=0"), 400, "MissingRegionId",
            "RegionId is mandatory for this action."),
        case("instance ids before Name", format!("{BASE}&RegionId=cn-hangzhou&InstanceId.99=i"), 400, "InstanceIds.ExceedLimit",
            "The number of instance IDs exceeds the upper limit."),
        case("Name before paging", format!("{BASE}&RegionId=cn-hangzhou&PageSize=0"), 400, "PluginName.MissingValue",
            "The plugin name must be specified when the number of InstanceIds is not 1."),
        case("PageNumber before PageSize", format!("{BASE}&{OK}&PageNumber=0&PageSize=0"), 400, "InvalidParam.PageNumber",
            "The specified parameter PageNumber is invalid."),
        case("MaxResults before NextToken", format!("{BASE}&{OK}&MaxResults=0&NextToken=garbage"), 400, "InvalidParameter.MaxResults",
            "The specified parameter MaxResults is not valid."),
        case("paging before existence", format!("{BASE}&{OK}&InstanceId.1=i-nope&PageSize=99"), 400, "InvalidParam.PageSize",
            "The specified parameter PageSize is invalid."),
        case("instances before name", format!("{BASE}&RegionId=cn-hangzhou&Name=nope&InstanceId.1=i-nope"), 404, "InvalidInstance.NotFound",
            "The specified instance does not exist."),
        case("Action before Version", "Format=JSON&x=1", 400, "MissingParameter",
            "The input parameter \"Action\" that is mandatory for processing this request is not supplied."),
        case("Version before Format", "Action=ListPluginStatus&Format=yaml", 400, "MissingVersion",
            "Version is mandatory for this action."),
    ]
}

#[tokio::test]
async fn every_error_code_has_its_status_and_message() {
    let app = demo_app();
    for case in table() {
        let reply = send(&app, &case.query).await;
        assert_eq!(reply.status, case.status, "{}: {}", case.what, reply.body);
        let body = reply.json();
        assert_eq!(body["Code"], case.code, "{}: {}", case.what, reply.body);
        assert_eq!(body["Message"], case.message.as_str(), "{}", case.what);
        let request_id = body["RequestId"].as_str().expect("RequestId");
        assert_eq!(
            reply.header("x-acs-request-id"),
            Some(request_id),
            "{}",
            case.what
        );
        assert_eq!(body["HostId"], "ecs.aliyuncs.com", "{}", case.what);
        assert_eq!(
            body["Recommend"],
            format!(
                "https://api.aliyun.com/troubleshoot?q={}&product=Ecs&requestId={request_id}",
                case.code
            ),
            "{}",
            case.what
        );
    }
}

#[tokio::test]
async fn methods_other_than_get_and_post_are_refused() {
    let app = demo_app();
    for method in ["PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"] {
        let request = Request::builder()
            .method(method)
            .uri(format!("/?{BASE}&{OK}"))
            .body(Body::empty())
            .unwrap();
        let reply = send_request(&app, request).await;
        assert_eq!(reply.status, 403, "{method}");
        if method != "HEAD" {
            assert_eq!(reply.code(), "UnsupportedHTTPMethod", "{method}");
            assert_eq!(reply.json()["Message"], "This http method not supported.");
        }
    }
}

#[tokio::test]
async fn other_paths_are_an_unknown_api() {
    let reply = send_request(
        &demo_app(),
        Request::get(format!("/v2/instances?{BASE}&{OK}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(
        (reply.status, reply.code().as_str()),
        (404, "InvalidAction.NotFound")
    );
}

#[tokio::test]
async fn a_key_in_both_query_and_form_is_a_duplicate() {
    let request = Request::post(format!("/?{BASE}&RegionId=cn-hangzhou"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from("Name=ecs_tools_test&RegionId=cn-hangzhou"))
        .unwrap();
    let reply = send_request(&demo_app(), request).await;
    assert_eq!(
        (reply.status, reply.code().as_str()),
        (400, "InvalidParameter")
    );
    assert!(reply.json()["Message"]
        .as_str()
        .unwrap()
        .contains("\"RegionId\""));
}

#[tokio::test]
async fn oversized_bodies_and_queries_are_refused_in_the_envelope() {
    let app = demo_app();
    let body = format!("{BASE}&{OK}&Pad={}", "x".repeat(1 << 20));
    let request = Request::post("/")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(body))
        .unwrap();
    let reply = send_request(&app, request).await;
    assert_eq!(
        (reply.status, reply.code().as_str()),
        (413, "InvalidParameter.BodyTooLarge")
    );
    assert_eq!(
        reply.json()["Message"],
        "The request body is larger than 1048576 bytes."
    );

    let query = format!("{BASE}&{OK}&Pad={}", "x".repeat(61 << 10));
    let reply = send(&app, &query).await;
    assert_eq!(
        (reply.status, reply.code().as_str()),
        (414, "InvalidParameter.QueryTooLong")
    );
    assert_eq!(
        reply.json()["Message"],
        format!(
            "The query string is {} bytes long; at most 61440 bytes are accepted.",
            query.len()
        )
    );
    // Just under the limit is served.
    let query = format!("{BASE}&{OK}&Pad={}", "x".repeat(59 << 10));
    assert_eq!(send(&app, &query).await.status, 200);
}

#[tokio::test]
async fn errors_follow_the_requested_format() {
    let app = demo_app();
    // V1 without Format: XML, even for an error found while decoding.
    let reply = send(
        &app,
        "Action=ListPluginStatus&Version=2014-05-26&RegionId=cn-hangzhou&RegionId=x",
    )
    .await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.header("content-type"), Some("text/xml;charset=utf-8"));
    assert!(
        reply.body.contains("<Code>InvalidParameter</Code>"),
        "{}",
        reply.body
    );
    // An invalid Format is answered in JSON.
    let reply = send(
        &app,
        "Action=ListPluginStatus&Version=2014-05-26&Format=yaml",
    )
    .await;
    assert_eq!(
        reply.header("content-type"),
        Some("application/json;charset=utf-8")
    );
}

#[tokio::test]
async fn unknown_and_hidden_parameters_are_ignored_and_empty_optionals_are_absent() {
    let app = demo_app();
    let query = format!(
        "{BASE}&{OK}&OwnerId=1&OwnerAccount=x&ResourceOwnerId=2&ResourceOwnerAccount=y&Foo=bar&PageSize=&PageNumber=&MaxResults=&NextToken=&InstanceId.1="
    );
    let reply = send(&app, &query).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let body = reply.json();
    assert_eq!(
        (body["PageSize"].as_u64(), body["PageNumber"].as_u64()),
        (Some(10), Some(1))
    );
    assert_eq!(body["TotalCount"], 12);
}

#[tokio::test]
async fn names_of_any_characters_are_read_exactly() {
    // Unknown name with every awkward character: refused as not found, not as malformed.
    let name = "a b/*~+=&中'!()@:,;$";
    let reply = send(
        &demo_app(),
        &format!("{BASE}&RegionId=cn-hangzhou&Name={}", enc(name)),
    )
    .await;
    assert_eq!(
        (reply.status, reply.code().as_str()),
        (404, "InvalidPluginName.NotFound")
    );
}
