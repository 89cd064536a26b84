//! Consistency under change (SPEC sections 4, 5 and 7): a NextToken walk never repeats or skips
//! a record that exists for the whole walk while others come and go; dozens of concurrent
//! readers and writers neither deadlock nor see a torn page (one response never mixes two
//! states); refused and panicking writes leave the data as it was.
//!
//! Every test runs on a multi-threaded runtime under a deadline, so a deadlock fails instead of
//! hanging. The work is bounded by iteration counts and nothing asserts on timing.

mod common;

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use axum::Router;
use common::{app_with, enc, send, send_request, Reply, BASE};
use ecs_emulator::engine::Change;
use ecs_emulator::state::WriteFailed;
use ecs_emulator::{app, fixture, AppState};
use serde_json::{json, Value};

const REGION: &str = "cn-hangzhou";
/// How long a test may take before it counts as a deadlock.
const DEADLINE: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// Runs a test body under [`DEADLINE`].
async fn within_deadline(body: impl Future<Output = ()>) {
    tokio::time::timeout(DEADLINE, body)
        .await
        .expect("the test did not finish in time: a deadlock?");
}

/// A fixture plug-in.
fn plugin(name: &str, version: &str) -> Value {
    json!({"name": name, "version": version, "status": "Running",
           "firstHeartbeatTime": "2024-01-02T03:04:05Z",
           "lastHeartbeatTime": "2024-01-02T03:04:05Z"})
}

/// A fixture instance in [`REGION`].
fn instance(id: &str, plugins: Vec<Value>) -> Value {
    json!({"instanceId": id, "regionId": REGION, "plugins": plugins})
}

/// A whole fixture of the default account.
fn fixture_of(instances: Vec<Value>) -> Value {
    json!({"instances": instances})
}

/// The body of `PUT /_emulator/instances/{id}`.
fn instance_body(plugins: Vec<Value>) -> Value {
    json!({"regionId": REGION, "plugins": plugins})
}

/// A control-plane request with a JSON body (`None`: empty).
async fn admin(app: &Router, method: &str, path: &str, body: Option<&Value>) -> Reply {
    let body = body.map(Value::to_string).unwrap_or_default();
    admin_raw(app, method, path, &body).await
}

/// A control-plane request with a raw (possibly invalid) body.
async fn admin_raw(app: &Router, method: &str, path: &str, body: &str) -> Reply {
    let request = Request::builder()
        .method(method)
        .uri(format!("/_emulator{path}"))
        .header("content-type", "application/json")
        .body(Body::from(body.to_owned()))
        .unwrap();
    send_request(app, request).await
}

/// Asserts the status is one of `allowed`, showing the request and body otherwise.
fn expect_status(reply: &Reply, allowed: &[u16], what: &str) {
    assert!(
        allowed.contains(&reply.status),
        "{what}: status {} not in {allowed:?}: {}",
        reply.status,
        reply.body
    );
}

/// A ListPluginStatus call in [`REGION`], JSON, answered 200.
async fn list(app: &Router, query: &str) -> Value {
    let reply = send(app, &format!("{BASE}&RegionId={REGION}&{query}")).await;
    assert_eq!(reply.status, 200, "{query}: {}", reply.body);
    reply.json()
}

/// One record as the wire shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Rec {
    instance: String,
    name: String,
    version: String,
}

/// The records of a JSON response, in order.
fn records(body: &Value) -> Vec<Rec> {
    let entries = body["InstancePluginStatusSet"]["InstancePluginStatus"]
        .as_array()
        .unwrap_or_else(|| panic!("no InstancePluginStatus list: {body}"));
    entries
        .iter()
        .flat_map(|entry| {
            let instance = entry["InstanceId"].as_str().unwrap().to_owned();
            let plugins = entry["PluginStatusSet"]["PluginStatus"].as_array().unwrap();
            plugins.iter().map(move |p| Rec {
                instance: instance.clone(),
                name: p["PluginName"].as_str().unwrap().to_owned(),
                version: p["PluginVersion"].as_str().unwrap().to_owned(),
            })
        })
        .collect()
}

/// The text of every `<tag>…</tag>` (or `<tag/>`) in an XML body, in order. The tests' values
/// need no unescaping.
fn xml_values(xml: &str, tag: &str) -> Vec<String> {
    let (open, close) = (format!("<{tag}"), format!("</{tag}>"));
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(at) = rest.find(&open) {
        rest = &rest[at + open.len()..];
        if let Some(after) = rest.strip_prefix("/>") {
            out.push(String::new());
            rest = after;
        } else if let Some(after) = rest.strip_prefix('>') {
            let end = after.find(&close).expect("a closed element");
            out.push(after[..end].to_owned());
            rest = &after[end + close.len()..];
        }
        // Otherwise a longer tag name sharing the prefix: skip it.
    }
    out
}

/// A NextToken walk, page by page: `InstanceId`/`Name` in `query`, `MaxResults` = `max`.
struct Walk<'a> {
    app: &'a Router,
    query: String,
    max: usize,
    token: Option<String>,
    done: bool,
    pages: usize,
}

impl<'a> Walk<'a> {
    fn new(app: &'a Router, query: &str, max: usize) -> Self {
        Self {
            app,
            query: query.to_owned(),
            max,
            token: None,
            done: false,
            pages: 0,
        }
    }

    /// The next page, or `None` after the last one. Checks the page's shape: at most `max`
    /// records, a NextToken exactly when the page is not the last, no PageNumber or PageSize.
    async fn next_page(&mut self) -> Option<Vec<Rec>> {
        if self.done {
            return None;
        }
        let token = self
            .token
            .as_deref()
            .map(|t| format!("&NextToken={}", enc(t)))
            .unwrap_or_default();
        let body = list(
            self.app,
            &format!("{}&MaxResults={}{token}", self.query, self.max),
        )
        .await;
        self.pages += 1;
        assert!(body.get("PageNumber").is_none() && body.get("PageSize").is_none());
        let page = records(&body);
        assert!(page.len() <= self.max, "page over MaxResults: {body}");
        self.token = body["NextToken"].as_str().map(str::to_owned);
        match &self.token {
            Some(_) => assert!(!page.is_empty(), "an empty page with a NextToken: {body}"),
            None => self.done = true,
        }
        Some(page)
    }
}

/// A small deterministic generator (no shared RNG state between tasks).
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) % n as u64) as usize
    }
}

// ---------------------------------------------------------------------------------------------
// 1. A NextToken walk under churn
// ---------------------------------------------------------------------------------------------

/// A listing walked while its records come and go. Records are numbered through their keys:
/// stable ones odd (1, 3, …, 2·stable − 1) and churn ones even (0, 2, …, 2·stable), so a
/// churn record sorts before the first stable one, between every two, and after the last.
/// Stable records exist for the whole walk (writers only replace them in place); churn
/// records are PUT and DELETEd all along.
struct Churned {
    /// The selection, e.g. `Name=p`.
    query: String,
    /// How many stable records.
    stable: usize,
    /// The key of record number n, zero-padded so that string order is number order.
    key: fn(usize) -> String,
    /// A listed record's key, after checking the record belongs to the listing.
    key_of: fn(&Rec) -> &str,
    /// The control-plane path of the record with this key.
    path: fn(&str) -> String,
    /// The PUT body of a record with this version.
    body: fn(&str) -> Value,
}

impl Churned {
    /// The number in a key.
    fn number(&self, key: &str) -> usize {
        let digits = key.trim_start_matches(|c: char| !c.is_ascii_digit());
        let n: usize = digits
            .parse()
            .unwrap_or_else(|_| panic!("unexpected key {key}"));
        assert!(n <= 2 * self.stable, "unexpected key {key}");
        n
    }

    async fn put(&self, app: &Router, n: usize, version: &str, allowed: &[u16]) {
        let path = (self.path)(&(self.key)(n));
        let reply = admin(app, "PUT", &path, Some(&(self.body)(version))).await;
        expect_status(&reply, allowed, &path);
    }

    async fn delete(&self, app: &Router, n: usize) {
        let path = (self.path)(&(self.key)(n));
        let reply = admin(app, "DELETE", &path, None).await;
        expect_status(&reply, &[204, 404], &path);
    }

    /// Writers that PUT and DELETE churn records until `stop`; writer 0 also replaces stable
    /// records in place with a new version.
    fn spawn_writers(
        self: &Arc<Self>,
        app: &Router,
        writers: u64,
        stop: &Arc<AtomicBool>,
    ) -> Vec<tokio::task::JoinHandle<()>> {
        (0..writers)
            .map(|w| {
                let (this, app, stop) = (self.clone(), app.clone(), stop.clone());
                tokio::spawn(async move {
                    let mut rng = Lcg(w + 1);
                    let mut ops = 0;
                    while !stop.load(Ordering::Relaxed) {
                        let n = 2 * rng.below(this.stable + 1);
                        if rng.below(2) == 0 {
                            this.put(&app, n, "churn", &[200, 201]).await;
                        } else {
                            this.delete(&app, n).await;
                        }
                        if w == 0 && ops % 4 == 0 {
                            let odd = 2 * (n / 2 % this.stable) + 1;
                            this.put(&app, odd, &format!("stable-{ops}"), &[200]).await;
                        }
                        ops += 1;
                        tokio::task::yield_now().await;
                    }
                })
            })
            .collect()
    }

    /// One NextToken walk to the end while the writers run. After every page it also churns
    /// at the cursor itself, whatever the writers do: the last record goes away when it is a
    /// churn one, and the churn records just behind and just ahead of it are put back.
    /// Checks every page as it comes: keys strictly increase (so none repeats and a walk that
    /// starts over fails at once), stable records carry a stable version, churn ones `churn`;
    /// and at the end that no stable record was skipped.
    async fn walk(&self, app: &Router, max: usize) {
        let what = format!("{} walk, MaxResults={max}", self.query);
        let mut walk = Walk::new(app, &self.query, max);
        let mut keys: Vec<String> = Vec::new();
        while let Some(page) = walk.next_page().await {
            for rec in &page {
                let key = (self.key_of)(rec);
                if let Some(previous) = keys.last() {
                    assert!(
                        previous.as_str() < key,
                        "{what}: {key} after {previous}: not strictly increasing"
                    );
                }
                let expected = match self.number(key) % 2 {
                    1 => "stable",
                    _ => "churn",
                };
                assert!(rec.version.starts_with(expected), "{what}: {rec:?}");
                keys.push(key.to_owned());
            }
            if let Some(last) = page.last().map(|rec| self.number((self.key_of)(rec))) {
                if last % 2 == 0 {
                    self.delete(app, last).await;
                }
                let behind = last.checked_sub(1).map(|n| n & !1);
                let ahead = (last + 2) & !1;
                for n in behind.into_iter().chain([ahead]) {
                    if n <= 2 * self.stable {
                        self.put(app, n, "churn", &[200, 201]).await;
                    }
                }
            }
            tokio::task::yield_now().await;
        }
        let stable: BTreeSet<String> = (0..self.stable).map(|k| (self.key)(2 * k + 1)).collect();
        let seen: BTreeSet<String> = keys.iter().cloned().collect();
        let missing: Vec<&String> = stable.difference(&seen).collect();
        assert!(
            missing.is_empty(),
            "{what}: skipped {} stable record(s), e.g. {:?}",
            missing.len(),
            &missing[..missing.len().min(5)]
        );
        assert!(walk.pages > 1, "{what}: one page only");
    }

    /// Walks once per page size while three writers churn.
    async fn walk_under_churn(self, app: &Router, sizes: &[usize]) {
        let this = Arc::new(self);
        let stop = Arc::new(AtomicBool::new(false));
        let writers = this.spawn_writers(app, 3, &stop);
        for &max in sizes {
            this.walk(app, max).await;
        }
        stop.store(true, Ordering::Relaxed);
        for writer in writers {
            writer.await.expect("a writer failed");
        }
    }
}

/// Stable instances of the Name=p walk.
const STABLE: usize = 200;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_token_walk_under_instance_churn_returns_every_stable_instance_once() {
    let churned = Churned {
        query: "Name=p".into(),
        stable: STABLE,
        key: |n| format!("i-{n:05}"),
        key_of: |rec| {
            assert_eq!(rec.name, "p", "{rec:?}");
            &rec.instance
        },
        path: |key| format!("/instances/{key}"),
        body: |version| instance_body(vec![plugin("p", version)]),
    };
    within_deadline(async {
        // Every churn instance exists at the start, so pages often end on one.
        let instances: Vec<Value> = (0..=2 * STABLE)
            .map(|n| {
                let version = if n % 2 == 1 { "stable" } else { "churn" };
                instance(&(churned.key)(n), vec![plugin("p", version)])
            })
            .collect();
        let app = app_with(&fixture_of(instances).to_string());
        churned.walk_under_churn(&app, &[7, 1, 13, 50, 7]).await;
    })
    .await;
}

/// The instance whose plug-ins are walked.
const X: &str = "i-walked";
/// Stable plug-ins of X.
const STABLE_PLUGINS: usize = 60;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_token_walk_of_one_instances_plugins_under_churn_returns_every_stable_plugin_once() {
    let churned = Churned {
        query: format!("InstanceId.1={X}"),
        stable: STABLE_PLUGINS,
        key: |n| format!("plug-{n:03}"),
        key_of: |rec| {
            assert_eq!(rec.instance, X, "{rec:?}");
            &rec.name
        },
        path: |key| format!("/instances/{X}/plugins/{key}"),
        body: |version| json!({"version": version, "status": "Stopped"}),
    };
    within_deadline(async {
        let plugins: Vec<Value> = (0..=2 * STABLE_PLUGINS)
            .map(|n| {
                let version = if n % 2 == 1 { "stable" } else { "churn" };
                plugin(&(churned.key)(n), version)
            })
            .collect();
        let other = instance("i-other", vec![plugin("p", "1")]);
        let app = app_with(&fixture_of(vec![instance(X, plugins), other]).to_string());
        churned.walk_under_churn(&app, &[5, 1, 50, 9]).await;
        // Without Name, only one instance's plug-ins can be listed (SPEC section 4).
        for ids in ["", "&InstanceId.1=i-walked&InstanceId.2=i-other"] {
            let query = format!("{BASE}&RegionId={REGION}&MaxResults=5{ids}");
            let reply = send(&app, &query).await;
            assert_eq!(reply.status, 400, "{query}: {}", reply.body);
            assert_eq!(reply.code(), "PluginName.MissingValue", "{query}");
        }
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// 2. Many readers and writers: no deadlock, no torn page
// ---------------------------------------------------------------------------------------------
//
// Whole-state generation k has `cold_count(k)` cold instances `i-0000…` and HOT hot instances
// `i-hot-…` (sorted after the cold ones), and every plug-in in it has version `gen-k`. Instance
// writers replace a hot instance with plug-ins that all have version `inst-m`. So in any one
// state: every cold record has one same `gen-k`, each hot instance's plug-ins share one version,
// and a hot instance still at a `gen-…` version has the cold instances' one. The number in a
// version says how many records there are, so TotalCount can be checked against it.

/// Instances replaced one by one.
const HOT: usize = 4;

fn cold_id(j: usize) -> String {
    format!("i-{j:04}")
}

fn hot_id(j: usize) -> String {
    format!("i-hot-{j}")
}

/// Cold instances in generation k: at least 30, so small pages never reach the hot ones.
fn cold_count(k: usize) -> usize {
    30 + k % 11
}

/// The plug-in names of an instance whose version carries number n: `p` and 0 to 4 others.
fn plugin_names(n: usize) -> Vec<String> {
    let others = (1..=n % 5).map(|i| format!("x{i}"));
    std::iter::once("p".to_owned()).chain(others).collect()
}

fn plugins_labelled(n: usize, version: &str) -> Vec<Value> {
    plugin_names(n)
        .iter()
        .map(|name| plugin(name, version))
        .collect()
}

/// Whole-state generation k.
fn generation(k: usize) -> Value {
    let version = format!("gen-{k}");
    let cold = (0..cold_count(k)).map(|j| {
        instance(
            &cold_id(j),
            vec![plugin("p", &version), plugin("y", &version)],
        )
    });
    let hot = (0..HOT).map(|j| instance(&hot_id(j), plugins_labelled(k, &version)));
    fixture_of(cold.chain(hot).collect())
}

/// The number in a `gen-k` or `inst-m` version.
fn label_number(version: &str) -> usize {
    version
        .strip_prefix("gen-")
        .or_else(|| version.strip_prefix("inst-"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("unexpected version {version:?}"))
}

/// Checks one Name=p page (ids and versions in record order) against the one generation it
/// must come from.
fn check_p_page(ids: &[String], versions: &[String], total: u64, number: usize, size: usize) {
    let what = format!("Name=p page {number} of {size}: {ids:?} {versions:?}");
    assert_eq!(ids.len(), versions.len(), "{what}");
    let cold_versions: BTreeSet<&String> = ids
        .iter()
        .zip(versions)
        .filter(|(id, _)| !id.starts_with("i-hot-"))
        .map(|(_, v)| v)
        .collect();
    let [generation] = cold_versions.into_iter().collect::<Vec<_>>()[..] else {
        panic!("torn page: {what}");
    };
    assert!(generation.starts_with("gen-"), "{what}");
    let cold = cold_count(label_number(generation));
    assert_eq!(
        total,
        (cold + HOT) as u64,
        "TotalCount of {generation}: {what}"
    );
    let offset = (number - 1) * size;
    let expected: Vec<String> = (offset..(offset + size).min(cold + HOT))
        .map(|pos| {
            if pos < cold {
                cold_id(pos)
            } else {
                hot_id(pos - cold)
            }
        })
        .collect();
    assert_eq!(ids, expected, "{what}");
    for (id, version) in ids.iter().zip(versions) {
        if id.starts_with("i-hot-") {
            assert!(
                version == generation || version.starts_with("inst-"),
                "torn page: {id} at {version} in {generation}: {what}"
            );
        }
    }
}

/// Checks one instance's plug-in listing: one version, the names and count it says.
fn check_plugins_page(names: &[String], versions: &[String], total: u64) {
    let what = format!("plug-ins {names:?} {versions:?}");
    let distinct: BTreeSet<&String> = versions.iter().collect();
    assert_eq!(distinct.len(), 1, "torn instance: {what}");
    let expected = plugin_names(label_number(&versions[0]));
    assert_eq!(names, expected, "{what}");
    assert_eq!(total, expected.len() as u64, "TotalCount: {what}");
}

/// Checks an exported state: one generation for the cold instances, one version per hot one.
fn check_export(state: &Value) {
    let instances = state["instances"].as_array().expect("instances");
    let summary = |inst: &Value| -> (String, Vec<String>, BTreeSet<String>) {
        let plugins = inst["plugins"].as_array().unwrap();
        (
            inst["instanceId"].as_str().unwrap().to_owned(),
            plugins
                .iter()
                .map(|p| p["name"].as_str().unwrap().to_owned())
                .collect(),
            plugins
                .iter()
                .map(|p| p["version"].as_str().unwrap().to_owned())
                .collect(),
        )
    };
    let all: Vec<_> = instances.iter().map(summary).collect();
    let (hot, cold): (Vec<_>, Vec<_>) = all.iter().partition(|(id, ..)| id.starts_with("i-hot-"));
    let cold_versions: BTreeSet<&String> = cold.iter().flat_map(|(.., v)| v).collect();
    let [generation] = cold_versions.into_iter().collect::<Vec<_>>()[..] else {
        panic!("torn export: {all:?}");
    };
    assert_eq!(cold.len(), cold_count(label_number(generation)), "{all:?}");
    assert_eq!(hot.len(), HOT, "{all:?}");
    for (id, names, versions) in hot {
        let [version] = versions.iter().collect::<Vec<_>>()[..] else {
            panic!("torn instance {id} in export: {all:?}");
        };
        assert!(
            version == generation || version.starts_with("inst-"),
            "{all:?}"
        );
        assert_eq!(names, &plugin_names(label_number(version)), "{id}");
    }
}

/// (PageNumber, PageSize) pairs the readers cycle through; PageSize 50 reaches the hot ones.
const PAGES: [(usize, usize); 5] = [(1, 5), (3, 7), (2, 10), (1, 50), (4, 6)];
const XML_BASE: &str = "Action=ListPluginStatus&Version=2014-05-26&Format=XML";
const READERS: usize = 32;
const READS: usize = 25;
const WRITERS: usize = 8;
const WRITES: usize = 10;

/// One read of kind `r % 4`, iteration i; panics on any inconsistency.
async fn read_once(app: &Router, r: usize, i: usize) {
    let (number, size) = PAGES[(r + i) % PAGES.len()];
    let paging = format!("PageNumber={number}&PageSize={size}");
    let hot = hot_id((r + i) % HOT);
    match r % 4 {
        0 => {
            let body = list(app, &format!("Name=p&{paging}")).await;
            assert_eq!(body["PageNumber"], number as u64, "{body}");
            assert_eq!(body["PageSize"], size as u64, "{body}");
            let recs = records(&body);
            let ids: Vec<String> = recs.iter().map(|r| r.instance.clone()).collect();
            let versions: Vec<String> = recs.iter().map(|r| r.version.clone()).collect();
            let total = body["TotalCount"].as_u64().unwrap();
            check_p_page(&ids, &versions, total, number, size);
        }
        1 => {
            let query = format!("{XML_BASE}&RegionId={REGION}&Name=p&{paging}");
            let reply = send(app, &query).await;
            assert_eq!(reply.status, 200, "{}", reply.body);
            let xml = &reply.body;
            assert_eq!(xml_values(xml, "PageNumber"), [number.to_string()], "{xml}");
            assert_eq!(xml_values(xml, "PageSize"), [size.to_string()], "{xml}");
            let total = xml_values(xml, "TotalCount")[0].parse().unwrap();
            let ids = xml_values(xml, "InstanceId");
            let versions = xml_values(xml, "PluginVersion");
            check_p_page(&ids, &versions, total, number, size);
        }
        2 if i.is_multiple_of(2) => {
            let body = list(app, &format!("InstanceId.1={hot}&PageSize=50")).await;
            let recs = records(&body);
            assert!(recs.iter().all(|r| r.instance == hot), "{body}");
            let names: Vec<String> = recs.iter().map(|r| r.name.clone()).collect();
            let versions: Vec<String> = recs.iter().map(|r| r.version.clone()).collect();
            check_plugins_page(&names, &versions, body["TotalCount"].as_u64().unwrap());
        }
        2 => {
            let query = format!("{XML_BASE}&RegionId={REGION}&InstanceId.1={hot}&PageSize=50");
            let reply = send(app, &query).await;
            assert_eq!(reply.status, 200, "{}", reply.body);
            let xml = &reply.body;
            assert_eq!(xml_values(xml, "InstanceId"), [hot], "{xml}");
            let total = xml_values(xml, "TotalCount")[0].parse().unwrap();
            let names = xml_values(xml, "PluginName");
            let versions = xml_values(xml, "PluginVersion");
            check_plugins_page(&names, &versions, total);
        }
        _ => {
            let reply = admin(app, "GET", "/state", None).await;
            assert_eq!(reply.status, 200, "{}", reply.body);
            check_export(&reply.json());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dozens_of_readers_and_writers_neither_deadlock_nor_tear_a_page() {
    within_deadline(async {
        let app = app_with(&generation(0).to_string());
        let mut tasks = Vec::new();
        for r in 0..READERS {
            let app = app.clone();
            tasks.push(tokio::spawn(async move {
                for i in 0..READS {
                    read_once(&app, r, i).await;
                    tokio::task::yield_now().await;
                }
            }));
        }
        for w in 0..WRITERS {
            let state_app = app.clone();
            tasks.push(tokio::spawn(async move {
                for i in 0..WRITES {
                    let k = 1 + w * 100 + i;
                    let reply = admin(&state_app, "PUT", "/state", Some(&generation(k))).await;
                    expect_status(&reply, &[200], "PUT /state");
                    tokio::task::yield_now().await;
                }
            }));
            let instance_app = app.clone();
            tasks.push(tokio::spawn(async move {
                for i in 0..WRITES {
                    let m = w * 100 + i;
                    let path = format!("/instances/{}", hot_id((w + i) % HOT));
                    let plugins = plugins_labelled(m, &format!("inst-{m}"));
                    let reply =
                        admin(&instance_app, "PUT", &path, Some(&instance_body(plugins))).await;
                    expect_status(&reply, &[200], &path);
                    tokio::task::yield_now().await;
                }
            }));
        }
        assert_eq!(tasks.len(), READERS + 2 * WRITERS);
        for task in tasks {
            task.await.expect("a reader or writer failed");
        }
        // Once everything has settled, every kind of read still agrees with itself.
        for r in 0..4 {
            read_once(&app, r, 0).await;
        }
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// 3. Refused and panicking writes change nothing
// ---------------------------------------------------------------------------------------------

/// A response body without its RequestId (JSON or XML), for comparing answers.
fn without_request_id(body: &str) -> String {
    if body.starts_with('{') {
        let mut value: Value = serde_json::from_str(body).unwrap();
        value.as_object_mut().unwrap().remove("RequestId");
        return value.to_string();
    }
    match (body.find("<RequestId>"), body.find("</RequestId>")) {
        (Some(start), Some(end)) => format!("{}{}", &body[..start], &body[end..]),
        _ => body.to_owned(),
    }
}

/// Write requests that must all be refused: (method, path, body, status).
fn refused_writes() -> Vec<(&'static str, String, String, u16)> {
    let mut duplicate = generation(99);
    let twice = duplicate["instances"][0].clone();
    duplicate["instances"].as_array_mut().unwrap().push(twice);
    let mut bad_status = generation(98);
    bad_status["instances"][3]["plugins"][0]["status"] = json!("Dancing");
    let mut two_defaults = generation(97);
    two_defaults["accounts"] = json!([
        {"accountId": "111111111111111", "default": true},
        {"accountId": "222222222222222", "default": true},
    ]);
    let twice_p = instance_body(vec![plugin("p", "inst-1"), plugin("p", "inst-1")]);
    let ok_instance = instance_body(vec![plugin("p", "inst-1")]);
    let ok_plugin = json!({"version": "inst-1", "status": "Running"});
    let cold = cold_id(1);
    vec![
        ("PUT", "/state".into(), r#"{"instances": ["#.into(), 400),
        ("PUT", "/state".into(), duplicate.to_string(), 400),
        ("PUT", "/state".into(), bad_status.to_string(), 400),
        ("PUT", "/state".into(), two_defaults.to_string(), 400),
        (
            "PUT",
            format!("/instances/{cold}"),
            twice_p.to_string(),
            400,
        ),
        (
            "PUT",
            format!("/instances/{cold}?accountId=999"),
            ok_instance.to_string(),
            400,
        ),
        (
            "PUT",
            "/instances/i-none/plugins/p".into(),
            ok_plugin.to_string(),
            404,
        ),
        (
            "PUT",
            format!("/instances/{cold}/plugins/p"),
            r#"{"version": "9", "status": "Dancing"}"#.into(),
            400,
        ),
        (
            "POST",
            format!("/instances/{cold}/plugins/p/install"),
            String::new(),
            409,
        ),
        (
            "POST",
            format!("/instances/{cold}/plugins/p/start"),
            String::new(),
            409,
        ),
        (
            "POST",
            format!("/instances/{cold}/plugins/none/heartbeat"),
            String::new(),
            409,
        ),
        (
            "POST",
            format!("/instances/{cold}/plugins/p/explode"),
            String::new(),
            404,
        ),
        ("DELETE", "/instances/i-none".into(), String::new(), 404),
        (
            "DELETE",
            format!("/instances/{cold}/plugins/none"),
            String::new(),
            404,
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn refused_and_panicking_writes_leave_the_data_intact() {
    within_deadline(async {
        let store = fixture::load_str("refusals", &generation(7).to_string()).unwrap();
        let state = AppState::new(store);
        let app = app(state.clone());
        let queries: Vec<String> = [
            format!("{BASE}&RegionId={REGION}&Name=p&PageNumber=2&PageSize=7"),
            format!("{BASE}&RegionId={REGION}&Name=p&PageSize=50"),
            format!("{BASE}&RegionId={REGION}&Name=p&MaxResults=9"),
            format!("{BASE}&RegionId={REGION}&InstanceId.1={}", hot_id(1)),
            format!("{XML_BASE}&RegionId={REGION}&Name=p&PageNumber=3&PageSize=6"),
        ]
        .into();
        let mut baseline = Vec::new();
        for query in &queries {
            let reply = send(&app, query).await;
            assert_eq!(reply.status, 200, "{}", reply.body);
            baseline.push(without_request_id(&reply.body));
        }
        let exported = admin(&app, "GET", "/state", None).await.json();
        check_export(&exported);
        let (queries, baseline) = (Arc::new(queries), Arc::new(baseline));

        let mut tasks = Vec::new();
        for r in 0..16 {
            let (app, queries, baseline) = (app.clone(), queries.clone(), baseline.clone());
            let exported = exported.clone();
            tasks.push(tokio::spawn(async move {
                for i in 0..30 {
                    let q = (r + i) % (queries.len() + 1);
                    if q == queries.len() {
                        let reply = admin(&app, "GET", "/state", None).await;
                        assert_eq!(reply.json(), exported, "the state changed");
                    } else {
                        let reply = send(&app, &queries[q]).await;
                        assert_eq!(reply.status, 200, "{}", reply.body);
                        let body = without_request_id(&reply.body);
                        assert_eq!(body, baseline[q], "{} changed", queries[q]);
                    }
                    tokio::task::yield_now().await;
                }
            }));
        }
        for w in 0..8 {
            let app = app.clone();
            tasks.push(tokio::spawn(async move {
                let writes = refused_writes();
                for i in 0..20 {
                    let (method, path, body, status) = &writes[(w * 3 + i) % writes.len()];
                    let reply = admin_raw(&app, method, path, body).await;
                    assert_eq!(reply.status, *status, "{method} {path}: {}", reply.body);
                    tokio::task::yield_now().await;
                }
            }));
        }
        // A writer that panics halfway through a change, holding its turn: nothing of the
        // change is seen, and readers and later writers carry on.
        for _ in 0..3 {
            let state = state.clone();
            let outcome = tokio::spawn(async move {
                state
                    .write::<(), WriteFailed>(|draft| {
                        let account = draft.default_account().to_owned();
                        let gone = Change::RemoveInstance {
                            account,
                            instance_id: hot_id(1),
                        };
                        draft.apply(gone).expect("the instance exists");
                        panic!("injected panic halfway through a change (expected)")
                    })
                    .await
            })
            .await;
            assert!(outcome.unwrap_err().is_panic());
            tokio::task::yield_now().await;
        }
        for task in tasks {
            task.await.expect("a reader or writer failed");
        }

        // Nothing changed, and the store still takes writes after the panics.
        for (query, expected) in queries.iter().zip(baseline.iter()) {
            let reply = send(&app, query).await;
            assert_eq!(&without_request_id(&reply.body), expected, "{query}");
        }
        assert_eq!(admin(&app, "GET", "/state", None).await.json(), exported);
        let body = instance_body(vec![plugin("p", "inst-1")]);
        let reply = admin(&app, "PUT", "/instances/i-new", Some(&body)).await;
        expect_status(&reply, &[201], "PUT /instances/i-new after the panics");
        let reply = admin(&app, "DELETE", "/instances/i-new", None).await;
        expect_status(&reply, &[204], "DELETE /instances/i-new");
        assert_eq!(admin(&app, "GET", "/state", None).await.json(), exported);
    })
    .await;
}

/// Readers take snapshots: while a writer is halfway through a change (holding its turn for as
/// long as it likes), API reads and exports go on and see the state before the change; the
/// change shows once it is published. (With a lock around the store, every read here waited
/// for the writer, and the writer for the test: a deadlock.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_never_wait_for_a_writer() {
    within_deadline(async {
        let store = fixture::load_str("snapshots", &generation(3).to_string()).unwrap();
        let state = AppState::new(store);
        let app = app(state.clone());
        let query = format!("{BASE}&RegionId={REGION}&InstanceId.1={}", hot_id(1));
        let before = send(&app, &query).await;
        assert_eq!(before.status, 200, "{}", before.body);
        let exported = admin(&app, "GET", "/state", None).await.json();

        let (entered, writer_entered) = std::sync::mpsc::channel();
        let (release, writer_released) = std::sync::mpsc::channel::<()>();
        let writer = {
            let state = state.clone();
            tokio::task::spawn_blocking(move || {
                tokio::runtime::Handle::current().block_on(state.write(|draft| {
                    let account = draft.default_account().to_owned();
                    draft
                        .apply(Change::RemoveInstance {
                            account,
                            instance_id: hot_id(1),
                        })
                        .expect("the instance exists");
                    entered.send(()).unwrap();
                    writer_released.recv().unwrap();
                    Ok::<_, WriteFailed>(())
                }))
            })
        };
        tokio::task::spawn_blocking(move || writer_entered.recv())
            .await
            .unwrap()
            .expect("the writer started its change");

        for _ in 0..10 {
            let reply = tokio::time::timeout(Duration::from_secs(10), send(&app, &query))
                .await
                .expect("an API read waited for the writer");
            assert_eq!(
                without_request_id(&reply.body),
                without_request_id(&before.body)
            );
            let export =
                tokio::time::timeout(Duration::from_secs(10), admin(&app, "GET", "/state", None))
                    .await
                    .expect("an export waited for the writer");
            assert_eq!(export.json(), exported);
        }

        release.send(()).unwrap();
        writer.await.unwrap().unwrap();
        let after = send(&app, &query).await;
        assert_eq!(
            after.status, 404,
            "the published change shows: {}",
            after.body
        );
    })
    .await;
}
