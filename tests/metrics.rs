//! `GET /_emulator/metrics`: the Prometheus text format, counting what the emulator did.

mod common;

use ecs_emulator::persist::sqlite;
use ecs_emulator::state::Options;
use ecs_emulator::{app, fixture, AppState};
use serde_json::json;

use common::{admin, demo_app, send, send_request, BASE};

/// The value of the sample `name{labels}` (labels as the text format writes them, sorted by
/// name), or of `name` without labels.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| {
            let (name, value) = line.rsplit_once(' ')?;
            (name == series).then(|| value.parse().ok())?
        })
}

async fn scrape(app: &axum::Router) -> String {
    let reply = send_request(app, admin("GET", "/metrics", None)).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        reply.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    reply.body
}

#[tokio::test]
async fn requests_are_counted_by_action_status_and_code_with_their_latency() {
    let app = demo_app();
    let before = scrape(&app).await;
    assert_eq!(sample(&before, "ecs_emulator_instances"), Some(20.0));
    assert!(sample(&before, "ecs_emulator_plugin_records").is_some_and(|n| n > 0.0));
    for _ in 0..3 {
        let ok = send(
            &app,
            &format!("{BASE}&RegionId=cn-hangzhou&InstanceId.1=i-bp1iudwa5b1tqa0001"),
        )
        .await;
        assert_eq!(ok.status, 200, "{}", ok.body);
    }
    let refused = send(&app, &format!("{BASE}&RegionId=cn-hangzhou&Name=no-such")).await;
    assert_eq!(refused.status, 404);
    let code = refused.json()["Code"].as_str().unwrap().to_owned();
    // An action nobody knows is counted under an empty action, never under the caller's text.
    let unknown = send(&app, "Action=Nonsense-12345&Version=2014-05-26").await;
    assert_eq!(unknown.status, 404, "{}", unknown.body);

    let text = scrape(&app).await;
    let ok = r#"ecs_emulator_requests_total{action="ListPluginStatus",code="",status="200"}"#;
    assert_eq!(sample(&text, ok), Some(3.0), "{text}");
    let refused = format!(
        r#"ecs_emulator_requests_total{{action="ListPluginStatus",code="{code}",status="404"}}"#
    );
    assert_eq!(sample(&text, &refused), Some(1.0), "{text}");
    assert!(!text.contains("Nonsense-12345"), "{text}");
    assert!(text.contains(r#"ecs_emulator_requests_total{action="",code="#));
    let count = r#"ecs_emulator_request_duration_seconds_count{action="ListPluginStatus"}"#;
    assert_eq!(sample(&text, count), Some(4.0), "{text}");
    let bucket =
        r#"ecs_emulator_request_duration_seconds_bucket{action="ListPluginStatus",le="+Inf"}"#;
    assert_eq!(sample(&text, bucket), Some(4.0), "{text}");
    // Without a state file, nothing is committed durably.
    assert_eq!(
        sample(&text, "ecs_emulator_durable_commits_total"),
        Some(0.0)
    );
}

#[tokio::test]
async fn faults_fired_and_the_size_of_the_data_are_shown() {
    let app = demo_app();
    let rule = json!({"action": "ListPluginStatus", "code": "Throttling.User", "times": 2});
    let added = send_request(&app, admin("POST", "/faults", Some(rule))).await;
    assert_eq!(added.status, 201, "{}", added.body);
    let query = format!("{BASE}&RegionId=cn-hangzhou&InstanceId.1=i-bp1iudwa5b1tqa0001");
    for _ in 0..3 {
        send(&app, &query).await;
    }
    let run = send(
        &app,
        "Action=RunCommand&Version=2014-05-26&Format=JSON&RegionId=cn-hangzhou\
         &Type=RunShellScript&CommandContent=echo+hi&InstanceId.1=i-bp1iudwa5b1tqa0001",
    )
    .await;
    assert_eq!(run.status, 200, "{}", run.body);

    let text = scrape(&app).await;
    let fired =
        r#"ecs_emulator_faults_fired_total{action="ListPluginStatus",code="Throttling.User"}"#;
    assert_eq!(sample(&text, fired), Some(2.0), "{text}");
    let throttled = r#"ecs_emulator_requests_total{action="ListPluginStatus",code="Throttling.User",status="400"}"#;
    assert_eq!(sample(&text, throttled), Some(2.0), "{text}");
    assert_eq!(sample(&text, "ecs_emulator_invocations"), Some(1.0));
    assert_eq!(sample(&text, "ecs_emulator_commands"), Some(0.0));
}

#[tokio::test]
async fn durable_commits_are_counted_with_a_state_file() {
    let dir = std::env::temp_dir().join(format!("ecs-metrics-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("state.db");
    let _ = std::fs::remove_file(&path);
    let seed = || {
        Ok::<_, std::convert::Infallible>(sqlite::Seed {
            store: fixture::demo_store(),
            source: "the demo data".to_owned(),
        })
    };
    let opened = sqlite::open(&path, seed).unwrap();
    let options = Options {
        persist: Box::new(opened.file),
        ..Options::default()
    };
    let app = app(AppState::with_options(opened.store, options));
    let event = admin(
        "POST",
        "/instances/i-bp1iudwa5b1tqa0001/plugins/ecs_tools_test/stop",
        None,
    );
    let stopped = send_request(&app, event).await;
    assert!(stopped.status < 300, "{}", stopped.body);
    let text = scrape(&app).await;
    assert!(sample(&text, "ecs_emulator_durable_commits_total").is_some_and(|n| n >= 1.0));
    assert!(sample(&text, "ecs_emulator_durable_changes_total").is_some_and(|n| n >= 1.0));
    drop(app);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn the_admin_token_guards_the_metrics() {
    let store = fixture::demo_store();
    let options = Options {
        admin_token: Some("t0ken".to_owned()),
        ..Options::default()
    };
    let app = app(AppState::with_options(store, options));
    let refused = send_request(&app, admin("GET", "/metrics", None)).await;
    assert_eq!(refused.status, 401);
    let mut request = admin("GET", "/metrics", None);
    request
        .headers_mut()
        .insert("authorization", "Bearer t0ken".parse().unwrap());
    assert_eq!(send_request(&app, request).await.status, 200);
}
