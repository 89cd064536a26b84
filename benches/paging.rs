//! Paging cost on a large store: a page deep in the listing should cost about the same as the
//! first one (O(log n + page)), whether it is reached by offset (PageNumber) or by cursor
//! (NextToken).
//!
//! Setup builds, in memory and without JSON:
//! - region `cn-hangzhou`: 500,000 instances × 4 plug-ins = 2,000,000 plug-in records, listed
//!   one plug-in name at a time (`Selection::PluginOnInstances`, 500,000 rows per name);
//! - region `cn-shanghai`: one instance with 100,000 plug-ins, listed without a name
//!   (`Selection::PluginsOfInstance`, 100,000 rows).
//!
//! Run with `cargo bench --bench paging` (add `-- --quick` for a short run).

use std::hint::black_box;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use ecs_emulator::api::list_plugin_status::ListPluginStatusRequest;
use ecs_emulator::api::next_token::{TokenKey, TokenScope};
use ecs_emulator::engine::{
    AccessKey, Account, PageStart, PluginRecord, PluginStatus, PluginType, Selection, Store,
};
use ecs_emulator::rpc::params::Decoded;
use ecs_emulator::rpc::render::{encode, Format};

const ACCOUNT: &str = "1234567890123456";
const REGION: &str = "cn-hangzhou";
const WIDE_REGION: &str = "cn-shanghai";
const INSTANCES: usize = 500_000;
const PLUGINS_PER_INSTANCE: usize = 4;
const WIDE_PLUGINS: usize = 100_000;
const WIDE_INSTANCE: &str = "i-wide000000000001";
const PAGE: usize = 50;
/// The plug-in name listed across instances.
const NAME: &str = "plugin-2";

fn instance_id(i: usize) -> String {
    format!("i-bench{i:010}")
}

fn wide_plugin_name(i: usize) -> String {
    format!("wide-plugin-{i:07}")
}

fn record(i: usize, heartbeat: DateTime<Utc>) -> PluginRecord {
    let status = PluginStatus::ALL[i % PluginStatus::ALL.len()];
    let beat = status != PluginStatus::NotInstalled;
    PluginRecord {
        version: if beat {
            format!("1.{}", i % 20)
        } else {
            String::new()
        },
        status,
        first_heartbeat: beat.then_some(heartbeat),
        last_heartbeat: beat.then_some(heartbeat),
    }
}

fn build_store() -> Store {
    let account = Account {
        id: ACCOUNT.to_owned(),
        access_keys: vec![AccessKey {
            id: "LTAI5tBenchKey001".to_owned(),
            secret: "bench-secret".to_owned(),
            enabled: true,
        }],
    };
    let catalog = (0..PLUGINS_PER_INSTANCE)
        .map(|p| (format!("plugin-{p}"), PluginType::Persist))
        .collect();
    let mut store = Store::new(vec![(account, true)], catalog).expect("valid accounts");
    let heartbeat = DateTime::parse_from_rfc3339("2024-01-01T00:00:00Z")
        .expect("valid constant")
        .with_timezone(&Utc);
    for i in 0..INSTANCES {
        let plugins = (0..PLUGINS_PER_INSTANCE)
            .map(|p| (format!("plugin-{p}"), record(i + p, heartbeat)))
            .collect();
        store
            .add_instance(ACCOUNT, REGION, &instance_id(i), plugins)
            .expect("unique instance");
    }
    let wide = (0..WIDE_PLUGINS)
        .map(|p| (wide_plugin_name(p), record(p, heartbeat)))
        .collect();
    store
        .add_instance(ACCOUNT, WIDE_REGION, WIDE_INSTANCE, wide)
        .expect("unique instance");
    store
}

/// One listing mode: its selection, its length, and the key of the record `k` positions in.
struct Mode {
    label: &'static str,
    selection: Selection<'static>,
    region: &'static str,
    len: usize,
    key_at: fn(usize) -> String,
}

fn modes() -> [Mode; 2] {
    [
        Mode {
            label: "name_on_all_instances",
            selection: Selection::PluginOnInstances {
                name: NAME,
                instances: None,
            },
            region: REGION,
            len: INSTANCES,
            key_at: instance_id,
        },
        Mode {
            label: "plugins_of_instance",
            selection: Selection::PluginsOfInstance {
                instance: WIDE_INSTANCE,
            },
            region: WIDE_REGION,
            len: WIDE_PLUGINS,
            key_at: wide_plugin_name,
        },
    ]
}

fn bench_engine(c: &mut Criterion, store: &Store) {
    let mut group = c.benchmark_group("engine_list");
    group.sample_size(30);
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(2));
    for mode in modes() {
        let deep_offset = mode.len - PAGE;
        let middle_offset = mode.len / 2;
        // Each cursor is the record just before its page, so a page reached by offset and the
        // one reached by cursor read the same records.
        let deep_cursor = (mode.key_at)(deep_offset - 1);
        let middle_cursor = (mode.key_at)(middle_offset - 1);
        let starts: [(&str, PageStart<'_>); 6] = [
            ("offset_first", PageStart::Offset(0)),
            ("offset_middle", PageStart::Offset(middle_offset as u64)),
            ("offset_deep", PageStart::Offset(deep_offset as u64)),
            ("cursor_first", PageStart::After(None)),
            ("cursor_middle", PageStart::After(Some(&middle_cursor))),
            ("cursor_deep", PageStart::After(Some(&deep_cursor))),
        ];
        for (label, start) in starts {
            // Sanity: every page is full and lands where it should.
            let page = store
                .list(ACCOUNT, mode.region, mode.selection, start, PAGE)
                .expect("listable");
            assert_eq!(page.total as usize, mode.len);
            assert_eq!(page.records.len(), PAGE, "{} {label}", mode.label);
            if label.ends_with("_deep") {
                assert!(!page.more, "{} {label}", mode.label);
                let last = page.records.last().expect("full page");
                assert_eq!(
                    last.cursor_key(&mode.selection),
                    (mode.key_at)(mode.len - 1)
                );
            }
            group.bench_function(BenchmarkId::new(mode.label, label), |b| {
                b.iter(|| {
                    store
                        .list(
                            black_box(ACCOUNT),
                            black_box(mode.region),
                            black_box(mode.selection),
                            black_box(start),
                            black_box(PAGE),
                        )
                        .expect("listable")
                })
            });
        }
    }
    group.finish();
}

/// Decodes the query, validates, lists and encodes: the request path without HTTP.
fn full_request(store: &Store, tokens: &TokenKey, query: &str, format: Format) -> Vec<u8> {
    let params = Decoded::new(query.as_bytes(), None)
        .into_params()
        .expect("well-formed query");
    let request = ListPluginStatusRequest::parse(&params, store.default_account(), store, tokens)
        .expect("valid request");
    let page = request.list(store).expect("answerable");
    let response = request.respond(&page, tokens, "00000000-0000-4000-8000-000000000001");
    encode(format, "ListPluginStatusResponse", &response).expect("encodable")
}

fn bench_request(c: &mut Criterion, store: &Store) {
    let tokens = TokenKey::derive(store.accounts());
    let common = "Action=ListPluginStatus&Version=2014-05-26&Format=JSON";
    let last_page = INSTANCES / PAGE;
    let named = TokenScope {
        account: ACCOUNT,
        region: REGION,
        instance_ids: &[],
        name: Some(NAME),
    };
    let deep_token = tokens.issue(&named, &instance_id(INSTANCES - PAGE - 1));
    let wide_ids = [WIDE_INSTANCE.to_owned()];
    let unnamed = TokenScope {
        account: ACCOUNT,
        region: WIDE_REGION,
        instance_ids: &wide_ids,
        name: None,
    };
    let wide_token = tokens.issue(&unnamed, &wide_plugin_name(WIDE_PLUGINS - PAGE - 1));
    let wide_last_page = WIDE_PLUGINS / PAGE;
    let cases: Vec<(&str, String, Format)> = vec![
        (
            "page_first_json",
            format!("{common}&RegionId={REGION}&Name={NAME}&PageNumber=1&PageSize={PAGE}"),
            Format::Json,
        ),
        (
            "page_deep_json",
            format!(
                "{common}&RegionId={REGION}&Name={NAME}&PageNumber={last_page}&PageSize={PAGE}"
            ),
            Format::Json,
        ),
        (
            "page_deep_xml",
            format!(
                "{common}&RegionId={REGION}&Name={NAME}&PageNumber={last_page}&PageSize={PAGE}"
            ),
            Format::Xml,
        ),
        (
            "token_deep_json",
            format!("{common}&RegionId={REGION}&Name={NAME}&MaxResults={PAGE}&NextToken={deep_token}"),
            Format::Json,
        ),
        (
            "instance_page_deep_json",
            format!(
                "{common}&RegionId={WIDE_REGION}&InstanceId.1={WIDE_INSTANCE}&PageNumber={wide_last_page}&PageSize={PAGE}"
            ),
            Format::Json,
        ),
        (
            "instance_token_deep_json",
            format!(
                "{common}&RegionId={WIDE_REGION}&InstanceId.1={WIDE_INSTANCE}&MaxResults={PAGE}&NextToken={wide_token}"
            ),
            Format::Json,
        ),
    ];
    let mut group = c.benchmark_group("request");
    group.sample_size(30);
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(2));
    for (label, query, format) in &cases {
        // Sanity: the request is answered with a full page and (deep pages) no NextToken.
        let body = full_request(store, &tokens, query, *format);
        let text = String::from_utf8(body).expect("UTF-8 body");
        if *format == Format::Json {
            let value: serde_json::Value = serde_json::from_str(&text).expect("JSON body");
            let sets = &value["InstancePluginStatusSet"]["InstancePluginStatus"];
            let rows: usize = sets
                .as_array()
                .expect("an array")
                .iter()
                .map(|s| {
                    s["PluginStatusSet"]["PluginStatus"]
                        .as_array()
                        .map_or(0, Vec::len)
                })
                .sum();
            assert_eq!(rows, PAGE, "{label}: {text}");
            if label.contains("deep") {
                assert!(value.get("NextToken").is_none(), "{label}: {text}");
            }
        } else {
            assert!(text.contains("<TotalCount>"), "{label}: {text}");
        }
        group.bench_function(*label, |b| {
            b.iter(|| full_request(store, &tokens, black_box(query), *format))
        });
    }
    group.finish();
}

/// A NextToken issued for a page and opened by the next request, on its own.
fn bench_token(c: &mut Criterion) {
    let tokens = TokenKey::derive(&[]);
    let ids = [WIDE_INSTANCE.to_owned()];
    let scope = TokenScope {
        account: ACCOUNT,
        region: REGION,
        instance_ids: &ids,
        name: Some(NAME),
    };
    let cursor = instance_id(INSTANCES / 2);
    let token = tokens.issue(&scope, &cursor);
    assert_eq!(
        tokens.open(&scope, &token).as_deref(),
        Some(cursor.as_str())
    );
    let mut group = c.benchmark_group("next_token");
    group.sample_size(30);
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(2));
    group.bench_function("issue", |b| {
        b.iter(|| tokens.issue(black_box(&scope), black_box(&cursor)))
    });
    group.bench_function("open", |b| {
        b.iter(|| tokens.open(black_box(&scope), black_box(&token)))
    });
    group.finish();
}

/// A 50-record answer encoded as JSON and as XML, the page listed once beforehand.
fn bench_encode(c: &mut Criterion, store: &Store) {
    let tokens = TokenKey::derive(store.accounts());
    let query = format!("RegionId={REGION}&Name={NAME}&MaxResults={PAGE}");
    let params = Decoded::new(query.as_bytes(), None)
        .into_params()
        .expect("well-formed query");
    let request =
        ListPluginStatusRequest::parse(&params, ACCOUNT, store, &tokens).expect("valid request");
    let page = request.list(store).expect("answerable");
    let response = request.respond(&page, &tokens, "00000000-0000-4000-8000-000000000001");
    let mut group = c.benchmark_group("encode_50_records");
    group.sample_size(30);
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(2));
    for (label, format) in [("json", Format::Json), ("xml", Format::Xml)] {
        group.bench_function(label, |b| {
            b.iter(|| encode(format, "ListPluginStatusResponse", black_box(&response)))
        });
    }
    group.finish();
}

fn benches(c: &mut Criterion) {
    let started = Instant::now();
    let store = build_store();
    let (instances, records) = store.counts();
    eprintln!(
        "paging bench: built {instances} instances, {records} plug-in records in {:.2?}",
        started.elapsed()
    );
    bench_engine(c, &store);
    bench_token(c);
    bench_encode(c, &store);
    bench_request(c, &store);
}

criterion_group!(paging, benches);
criterion_main!(paging);
