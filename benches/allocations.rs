//! Heap allocations per request, counted exactly (the `dhat` crate as the global allocator):
//! the cases of `benches/router.rs` through the router with `oneshot`, less what the same
//! harness costs around a router that answers fixed bytes (the `examples/fixed_body.rs`
//! baseline's handler). Counts do not depend on the machine's load, so they show a change to
//! the hot path that timings on a shared machine cannot.
//!
//! Run with `cargo bench --bench allocations`; prints one line per case.

mod common;

use axum::http::header;
use axum::response::IntoResponse;
use axum::Router;
use common::{get, request_cases, routed_app};

#[global_allocator]
static ALLOCATOR: dhat::Alloc = dhat::Alloc;

const INSTANCES: usize = 10_000;
const ROUNDS: u64 = 200;

/// Allocations and bytes allocated per request of `query` on `app`, after a warm-up.
fn per_request(runtime: &tokio::runtime::Runtime, app: &Router, query: &str) -> (f64, f64) {
    for _ in 0..20 {
        runtime.block_on(get(app, query));
    }
    let before = dhat::HeapStats::get();
    for _ in 0..ROUNDS {
        runtime.block_on(get(app, query));
    }
    let after = dhat::HeapStats::get();
    (
        (after.total_blocks - before.total_blocks) as f64 / ROUNDS as f64,
        (after.total_bytes - before.total_bytes) as f64 / ROUNDS as f64,
    )
}

fn main() {
    let _profiler = dhat::Profiler::builder().testing().build();
    let (runtime, app) = routed_app(INSTANCES);
    let _inside = runtime.enter();
    let cases = request_cases();
    let page = cases[0].1.clone();
    let body: &'static [u8] = Vec::leak(runtime.block_on(get(&app, &page)).1.to_vec());
    let fixed = Router::new().fallback(move || async move {
        (
            [(header::CONTENT_TYPE, "application/json;charset=utf-8")],
            body,
        )
            .into_response()
    });
    let (harness, harness_bytes) = per_request(&runtime, &fixed, &page);
    println!("harness (a fixed-body router): {harness:.1} allocations, {harness_bytes:.0} bytes");
    for (label, query, status) in cases {
        assert_eq!(runtime.block_on(get(&app, &query)).0, status, "{label}");
        let (blocks, bytes) = per_request(&runtime, &app, &query);
        println!(
            "{label}: {:.1} allocations and {:.0} bytes per request beyond the harness",
            blocks - harness,
            bytes - harness_bytes
        );
    }
}
