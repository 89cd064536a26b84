//! What the dashboard (`/_emulator/ui`) stands on: its assets behind the admin token (bearer or
//! cookie, a login page otherwise), the journal's error messages (the string to sign of a
//! signature mismatch among them) and instance filter, and `GET /_emulator/invocations`.
//! The page itself is tested in a real browser by `tests/browser/run.sh`.

mod common;

use axum::body::Body;
use axum::http::Request;
use axum::Router;
use common::{admin, enc, freeze, send, send_request, Reply};
use ecs_emulator::rpc::signature::SignatureMode;
use ecs_emulator::state::{Options, SequentialRequestIds};
use ecs_emulator::{app, fixture, AppState};
use serde_json::{json, Value};

const TOKEN: &str = "s3cret token/+=";
const REGION: &str = "cn-hangzhou";
const I1: &str = "i-bp1iudwa5b1tqa0001";
const I2: &str = "i-bp1iudwa5b1tqa0002";

fn app_on(signature: SignatureMode, admin_token: Option<&str>) -> Router {
    app(AppState::with_options(
        fixture::demo_store(),
        Options {
            request_ids: Box::new(SequentialRequestIds::default()),
            signature,
            admin_token: admin_token.map(str::to_owned),
            ..Options::default()
        },
    ))
}

fn get(path: &str, headers: &[(&str, &str)]) -> Request<Body> {
    let mut builder = Request::get(format!("/_emulator{path}"));
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(Body::empty()).unwrap()
}

async fn journal(app: &Router, query: &str) -> Vec<Value> {
    let reply = send_request(app, admin("GET", &format!("/requests?{query}"), None)).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.json()["requests"].as_array().unwrap().clone()
}

#[tokio::test]
async fn the_assets_want_the_token_by_header_or_cookie_and_ask_for_it_otherwise() {
    let app = app_on(SignatureMode::Off, Some(TOKEN));
    let cookie = format!("theme=dark; ecs_emulator_token={}", enc(TOKEN));
    let bearer = format!("Bearer {TOKEN}");
    for path in ["/ui", "/ui/app.js", "/ui/style.css"] {
        // Without the token, or with a wrong one: the page that asks for it.
        for headers in [
            vec![],
            vec![("cookie", "ecs_emulator_token=wrong")],
            vec![("authorization", "Bearer wrong")],
        ] {
            let reply = send_request(&app, get(path, &headers)).await;
            assert_eq!(reply.status, 401, "{path} {headers:?}");
            assert_eq!(
                reply.header("content-type"),
                Some("text/html; charset=utf-8")
            );
            assert_eq!(reply.header("www-authenticate"), Some("Bearer"));
            assert!(reply.body.contains("Admin token"), "{}", reply.body);
            assert!(reply.body.contains("ecs_emulator_token="));
            // A browser opening it gets the same page with 200: asking is not an error.
            let mut browser = headers.clone();
            browser.push(("accept", "text/html,application/xhtml+xml,*/*;q=0.8"));
            let reply = send_request(&app, get(path, &browser)).await;
            assert_eq!(reply.status, 200, "{path} {browser:?}");
            assert!(reply.header("www-authenticate").is_none());
            assert!(reply.body.contains("Admin token"), "{}", reply.body);
            assert!(!reply.body.contains("app.js"), "{}", reply.body);
        }
        for headers in [
            vec![("cookie", cookie.as_str())],
            vec![("authorization", &bearer)],
        ] {
            let reply = send_request(&app, get(path, &headers)).await;
            assert_eq!(reply.status, 200, "{path} {headers:?}: {}", reply.body);
            assert!(!reply.body.is_empty());
        }
    }
    // The cookie opens the assets only: every other route still wants the bearer header.
    let reply = send_request(&app, get("/requests", &[("cookie", &cookie)])).await;
    assert_eq!(reply.status, 401);
    assert_eq!(reply.json()["code"], "Unauthorized");
    // A method the assets do not have is 405, behind the token like every guarded route.
    let post = |auth: Option<&str>| {
        let mut builder = Request::post("/_emulator/ui");
        if let Some(auth) = auth {
            builder = builder.header("authorization", auth);
        }
        builder.body(Body::empty()).unwrap()
    };
    assert_eq!(send_request(&app, post(None)).await.status, 401);
    let reply = send_request(&app, post(Some(&bearer))).await;
    assert_eq!(reply.status, 405);
    assert_eq!(reply.json()["code"], "MethodNotAllowed");
}

#[tokio::test]
async fn the_assets_are_served_with_their_types_and_the_page_with_its_policy() {
    let app = app_on(SignatureMode::Off, None);
    let page = send_request(&app, get("/ui", &[])).await;
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let policy = page.header("content-security-policy").unwrap();
    assert!(policy.contains("script-src 'self'"), "{policy}");
    assert!(page.body.contains("/_emulator/ui/app.js"));
    assert!(page.body.contains("/_emulator/ui/style.css"));
    // No favicon request reaches the API (and its journal).
    assert!(page.body.contains(r#"rel="icon" href="data:,""#));
    for (path, content_type) in [
        ("/ui/app.js", "text/javascript; charset=utf-8"),
        ("/ui/style.css", "text/css; charset=utf-8"),
    ] {
        let reply = send_request(&app, get(path, &[])).await;
        assert_eq!(reply.status, 200, "{path}");
        assert_eq!(reply.header("content-type"), Some(content_type), "{path}");
        assert_eq!(reply.header("x-content-type-options"), Some("nosniff"));
    }
    let slash = send_request(&app, get("/ui/", &[])).await;
    assert_eq!(slash.status, 308);
    assert_eq!(slash.header("location"), Some("/_emulator/ui"));
    assert_eq!(
        send_request(&app, get("/ui/nothing", &[])).await.status,
        404
    );
    // Serving the page records nothing: the journal holds API requests only.
    assert!(journal(&app, "").await.is_empty());
}

#[tokio::test]
async fn the_journal_keeps_the_message_answered_and_the_string_to_sign() {
    let app = app_on(SignatureMode::Strict, None);
    let now = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let query = format!(
        "Action=ListPluginStatus&Version=2014-05-26&Format=JSON&RegionId={REGION}\
         &AccessKeyId=testid&SignatureMethod=HMAC-SHA1&SignatureVersion=1.0\
         &SignatureNonce=n-dashboard-1&Timestamp={}&Signature=bm90IGl0",
        enc(&now)
    );
    let refused = send(&app, &query).await;
    assert_eq!(refused.code(), "SignatureDoesNotMatch", "{}", refused.body);
    let answered = refused.json()["Message"].as_str().unwrap().to_owned();
    assert!(answered.contains("server string to sign is:GET&%2F&"));

    let kept = journal(&app, "").await;
    assert_eq!(kept[0]["code"], "SignatureDoesNotMatch");
    assert_eq!(kept[0]["status"], 400);
    assert_eq!(kept[0]["message"], answered.as_str());
    assert_eq!(kept[0]["params"]["Signature"], "***");

    // Another refusal keeps its own message; a success keeps none.
    let missing = send(
        &app,
        "Action=ListPluginStatus&Version=2014-05-26&Format=JSON",
    )
    .await;
    let kept = journal(&app, "limit=1").await;
    assert_eq!(kept[0]["message"], missing.json()["Message"]);
    let open = app_on(SignatureMode::Off, None);
    let ok = send(
        &open,
        &format!("{}&RegionId={REGION}&Name=ecs_tools_test", common::BASE),
    )
    .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(journal(&open, "").await[0]["message"], "");
}

#[tokio::test]
async fn the_journal_is_filtered_by_instance() {
    let app = app_on(SignatureMode::Off, None);
    let list = |pairs: &str| format!("{}&RegionId={REGION}{pairs}", common::BASE);
    send(
        &app,
        &list(&format!("&InstanceId.1={I1}&InstanceId.2={I2}")),
    )
    .await;
    send(&app, &list(&format!("&InstanceId.1={I2}"))).await;
    send(&app, &list("")).await;
    // DescribeInvocationResults names its instance in `InstanceId`.
    send(
        &app,
        &format!(
            "Action=DescribeInvocationResults&Version=2014-05-26&RegionId={REGION}&InstanceId={I1}"
        ),
    )
    .await;
    let ids = |requests: Vec<Value>| -> Vec<String> {
        requests
            .iter()
            .map(|r| r["requestId"].as_str().unwrap().to_owned())
            .collect()
    };
    let all = ids(journal(&app, "").await);
    assert_eq!(all.len(), 4);
    assert_eq!(
        ids(journal(&app, &format!("instanceId={I1}")).await),
        [all[0].clone(), all[3].clone()]
    );
    assert_eq!(
        ids(journal(&app, &format!("instanceId={I2}&limit=1")).await),
        [all[2].clone()]
    );
    assert!(journal(&app, "instanceId=i-none").await.is_empty());
}

async fn invocations(app: &Router, query: &str) -> Reply {
    send_request(app, admin("GET", &format!("/invocations{query}"), None)).await
}

#[tokio::test]
async fn invocations_are_listed_with_their_runs_newest_first() {
    let app = app_on(SignatureMode::Off, None);
    assert_eq!(
        invocations(&app, "").await.json(),
        json!({"invocations": []})
    );
    freeze(&app, "2030-01-01T00:00:00Z").await;
    let rule = json!({"contentRegex": "^echo hi$", "output": "hi\n"});
    let added = send_request(&app, admin("POST", "/commands", Some(rule))).await;
    assert_eq!(added.status, 201, "{}", added.body);
    let run = |content: &str, instances: &[&str]| {
        let mut query = format!(
            "Action=RunCommand&Version=2014-05-26&Format=JSON&RegionId={REGION}\
             &Type=RunShellScript&CommandContent={}",
            enc(content)
        );
        for (n, id) in instances.iter().enumerate() {
            query.push_str(&format!("&InstanceId.{}={id}", n + 1));
        }
        query
    };
    let first = send(
        &app,
        &run(
            "acs-plugin-manager --exec --plugin ecs-nvme-tool --params --install",
            &[I1],
        ),
    )
    .await;
    assert_eq!(first.status, 200, "{}", first.body);
    let second = send(&app, &run("echo hi", &[I1, I2])).await;
    assert_eq!(second.status, 200, "{}", second.body);
    let journal_before = journal(&app, "").await.len();

    let listed = invocations(&app, "").await.json();
    let listed = listed["invocations"].as_array().unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0]["invokeId"], second.json()["InvokeId"]);
    assert_eq!(listed[1]["invokeId"], first.json()["InvokeId"]);
    assert_eq!(listed[0]["content"], "echo hi");
    assert_eq!(listed[0]["accountId"], "1234567890123456");
    assert_eq!(listed[0]["regionId"], REGION);
    assert_eq!(listed[0]["invocationStatus"], "Pending");
    assert_eq!(listed[0]["instances"][1]["instanceId"], I2);
    assert!(listed[0]["instances"][0].get("startTime").is_none());

    // Two seconds on, the plug-in install has run: Success, exit code 0, its output.
    freeze(&app, "2030-01-01T00:00:02Z").await;
    let listed = invocations(&app, &format!("?instanceId={I2}")).await.json();
    assert_eq!(listed["invocations"].as_array().unwrap().len(), 1);
    let listed = invocations(&app, "?limit=1").await.json();
    assert_eq!(listed["invocations"].as_array().unwrap().len(), 1);
    let listed = invocations(&app, "").await.json();
    let install = &listed["invocations"][1];
    assert_eq!(install["invocationStatus"], "Success", "{install}");
    let run = &install["instances"][0];
    assert_eq!(run["invocationStatus"], "Success");
    assert_eq!(run["exitCode"], 0);
    assert_eq!(run["startTime"], "2030-01-01T00:00:01Z");
    assert_eq!(run["finishTime"], "2030-01-01T00:00:02Z");
    let echo = &listed["invocations"][0];
    assert_eq!(echo["instances"][1]["output"], "hi\n", "{echo}");
    // Reading invocations is not an API request: the journal did not grow.
    assert_eq!(journal(&app, "").await.len(), journal_before);

    for query in ["?limit=0", "?limit=1001", "?limit=x", "?other=1"] {
        let reply = invocations(&app, query).await;
        assert_eq!(reply.status, 400, "{query}");
        assert_eq!(reply.json()["code"], "InvalidField", "{query}");
    }
}

/// README.md and docs/dashboard.md state the size of the page's three assets ("about N KiB in
/// all"): it stays true, to the nearest 2 KiB.
#[test]
fn the_stated_size_of_the_assets_is_true() {
    let size_kib = ecs_emulator::ui::assets_size() as f64 / 1024.0;
    for page in ["README.md", "docs/dashboard.md"] {
        let text = std::fs::read_to_string(page).unwrap();
        let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
        let stated = text
            .split("about ")
            .skip(1)
            .find_map(stated_kib)
            .unwrap_or_else(|| panic!("{page} states no \"about N KiB in all\""));
        assert!(
            (stated - size_kib).abs() <= 2.0,
            "{page} says about {stated} KiB; the assets are {size_kib:.1} KiB"
        );
    }
}

/// `N KiB in all...` → N.
fn stated_kib(text: &str) -> Option<f64> {
    let (number, rest) = text.split_once(' ')?;
    rest.starts_with("KiB in all")
        .then(|| number.parse().ok())
        .flatten()
}
