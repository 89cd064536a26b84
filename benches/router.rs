//! One whole request through the router, without a socket: the hot path of the wire, the
//! operation and the rendering, as `tower::ServiceExt::oneshot` on `app(state)`. Cases: a
//! 10-record ListPluginStatus page in token mode (JSON and XML), an error answer, and a
//! DescribeInvocations page, on a store of 40,000 plug-in records with the journal and the
//! fault rules at their defaults.
//!
//! Run with `cargo bench --bench router` (add `-- --quick` for a short run).

mod common;

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};

use common::{get, request_cases, routed_app};

const INSTANCES: usize = 10_000;

fn benches(c: &mut Criterion) {
    let (runtime, app) = routed_app(INSTANCES);
    let _inside = runtime.enter();
    let cases = request_cases();
    let mut group = c.benchmark_group("router");
    group.sample_size(30);
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(2));
    for (label, query, status) in &cases {
        assert_eq!(runtime.block_on(get(&app, query)).0, *status, "{label}");
        group.bench_function(*label, |b| {
            b.iter(|| runtime.block_on(get(&app, black_box(query))))
        });
    }
    group.finish();
}

criterion_group!(router, benches);
criterion_main!(router);
