//! Do API reads wait for heavy work? On a store of 2,000,000 plug-in records (500,000
//! instances × 4), reader tasks send ListPluginStatus requests through the whole app without
//! pause while, one phase at a time, the heavy operations run:
//!
//! - `idle`: nothing else (the baseline);
//! - `first change`: the first `PUT /_emulator/instances/{id}/plugins/{name}` after start-up;
//! - `export`: `GET /_emulator/state` (the whole store as JSON);
//! - `writes`: 200 plug-in changes one after another;
//! - `reset`: `POST /_emulator/reset` after those changes;
//! - `replace`: a new store of the same size put in place of the current one, whose 2,000,000
//!   records are then freed.
//!
//! For each phase it prints the reads answered and their latency (p50, p99, max), and the ratio
//! of p99 and max to the idle phase's, from one run on one machine, so noise hits every phase
//! alike. The target: no read waits more than a few milliseconds in any phase.
//!
//! Run with `cargo bench --bench readers` (about a minute; `-- --instances N` for another size).

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::Request;
use axum::Router;
use ecs_emulator::{app, AppState};
use http_body_util::BodyExt;
use tower::ServiceExt;

use common::{build_store, instance_id, PLUGINS_PER_INSTANCE, REGION};

const READERS: usize = 4;
/// Each phase lasts at least this long, so it has enough reads to measure.
const MIN_PHASE: Duration = Duration::from_secs(2);

async fn call(app: &Router, method: &str, uri: &str, body: &str) -> (u16, usize) {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .body(Body::from(body.to_owned()))
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, bytes.len())
}

/// Latencies of the reads answered while a phase ran.
#[derive(Default)]
struct Latencies(Vec<Duration>);

impl Latencies {
    fn quantile(&self, q: f64) -> Duration {
        let mut sorted = self.0.clone();
        sorted.sort();
        sorted
            .get(((sorted.len() as f64 - 1.0) * q).round() as usize)
            .copied()
            .unwrap_or_default()
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    let instances = std::env::args()
        .skip_while(|a| a != "--instances")
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(500_000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let started = Instant::now();
    let state = AppState::new(build_store(instances));
    let replacement = build_store(instances);
    println!(
        "built two stores of {} plug-in records in {:.1} s",
        instances * PLUGINS_PER_INSTANCE,
        started.elapsed().as_secs_f64()
    );
    let app = app(state.clone());
    let current: Arc<Mutex<Latencies>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));

    runtime.block_on(async {
        let readers: Vec<_> = (0..READERS)
            .map(|r| {
                let (app, current, stop) = (app.clone(), current.clone(), stop.clone());
                tokio::spawn(async move {
                    let mut n = r * 7_919;
                    while !stop.load(Ordering::Relaxed) {
                        n = (n + 104_729) % instances;
                        let uri = format!(
                            "/?Action=ListPluginStatus&Version=2014-05-26&Format=JSON\
                             &RegionId={REGION}&InstanceId.1={}",
                            instance_id(n)
                        );
                        let sent = Instant::now();
                        let (status, _) = call(&app, "GET", &uri, "").await;
                        let took = sent.elapsed();
                        assert_eq!(status, 200);
                        current.lock().unwrap().0.push(took);
                        // An in-process answer never waits on I/O: yield, so the runtime's
                        // timers and other tasks get their turn as they would behind a socket.
                        tokio::task::yield_now().await;
                    }
                })
            })
            .collect();

        let plugin_body = r#"{"version": "2.0", "status": "Stopped"}"#;
        let mut rows: Vec<(&str, Duration, Latencies)> = Vec::new();
        let mut replacement = Some(replacement);
        for phase in [
            "idle",
            "first change",
            "export",
            "writes",
            "reset",
            "replace",
        ] {
            *current.lock().unwrap() = Latencies::default();
            let began = Instant::now();
            match phase {
                "idle" => {}
                "first change" => {
                    let uri = format!("/_emulator/instances/{}/plugins/extra", instance_id(1));
                    assert_eq!(call(&app, "PUT", &uri, plugin_body).await.0, 201);
                }
                "export" => {
                    let (status, bytes) = call(&app, "GET", "/_emulator/state", "").await;
                    assert_eq!(status, 200);
                    println!("export: {:.0} MB", bytes as f64 / 1e6);
                }
                "writes" => {
                    for i in 0..200 {
                        let uri = format!(
                            "/_emulator/instances/{}/plugins/plugin-0",
                            instance_id(i * 997 % instances)
                        );
                        assert_eq!(call(&app, "PUT", &uri, plugin_body).await.0, 200);
                    }
                }
                "reset" => assert_eq!(call(&app, "POST", "/_emulator/reset", "").await.0, 200),
                _ => {
                    let store = replacement.take().unwrap();
                    state.replace_store(store).await.unwrap();
                }
            }
            let op = began.elapsed();
            if let Some(rest) = MIN_PHASE.checked_sub(op) {
                tokio::time::sleep(rest).await;
            }
            let latencies = std::mem::take(&mut *current.lock().unwrap());
            rows.push((phase, op, latencies));
        }
        stop.store(true, Ordering::Relaxed);
        for reader in readers {
            reader.await.unwrap();
        }

        let idle = &rows[0].2;
        let (idle_p99, idle_max) = (idle.quantile(0.99), idle.quantile(1.0));
        println!(
            "\n{:<13} {:>9} {:>8} {:>8} {:>8} {:>8} {:>10} {:>10}",
            "phase", "op ms", "reads", "p50 ms", "p99 ms", "max ms", "p99/idle", "max/idle"
        );
        for (phase, op, latencies) in &rows {
            let (p99, max) = (latencies.quantile(0.99), latencies.quantile(1.0));
            println!(
                "{:<13} {:>9.1} {:>8} {:>8.3} {:>8.3} {:>8.3} {:>10.2} {:>10.2}",
                phase,
                ms(*op),
                latencies.0.len(),
                ms(latencies.quantile(0.5)),
                ms(p99),
                ms(max),
                p99.as_secs_f64() / idle_p99.as_secs_f64(),
                max.as_secs_f64() / idle_max.as_secs_f64(),
            );
        }
    });
}
