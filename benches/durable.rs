//! How many changes per second are durable, and how fast a large state file loads.
//!
//! 1. **Durable writes.** W writer tasks (1, 8, 32) each send
//!    `PUT /_emulator/instances/{id}/plugins/{name}` through the whole app (handler, engine,
//!    group commit, SQLite in WAL mode with `synchronous = FULL`) one after another, for a fixed
//!    time; a change counts once its 200 is answered, that is once it is synced to the disk.
//!    The same runs with no state file (memory) give the ceiling of the rest of the path. It
//!    prints acknowledged changes per second and the ratios, from one run on one machine.
//! 2. **Start-up.** A state file of 2,000,000 plug-in records (500,000 instances × 4) is created
//!    from a store, then opened again as `ecs-emulator --state-file` does at start-up (checks,
//!    then every row read back into the in-memory indexes); it prints both times and the file's
//!    size.
//!
//! Run with `cargo bench --bench durable` (about a minute; `-- --instances N` for another size
//! of the start-up part, `-- --seconds S` for the length of each write run).

mod common;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::Request;
use axum::Router;
use ecs_emulator::engine::Store;
use ecs_emulator::persist::sqlite::{self, Seed};
use ecs_emulator::persist::{Durable, Memory};
use ecs_emulator::state::{Options, SeedOrigin};
use ecs_emulator::{app, AppState};
use tower::ServiceExt;

use common::{build_store, instance_id, PLUGINS_PER_INSTANCE};

/// Instances of the store the writers change (one per writer and then some).
const WRITE_INSTANCES: usize = 1_000;

/// A fresh directory for this run's files.
fn scratch_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ecs-emulator-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn seed(store: Store) -> impl FnOnce() -> Result<Seed, std::convert::Infallible> {
    move || {
        Ok(Seed {
            store,
            source: "benchmark".to_owned(),
        })
    }
}

/// The app over a new state file at `path` (or memory when `None`).
fn open_app(path: Option<&Path>) -> (Router, AppState) {
    let store = build_store(WRITE_INSTANCES);
    let (store, persist): (Store, Box<dyn Durable>) = match path {
        None => (store, Box::new(Memory)),
        Some(path) => {
            let opened = sqlite::open(path, seed(store)).unwrap_or_else(|_| panic!("opens"));
            (opened.store, Box::new(opened.file))
        }
    };
    let options = Options {
        persist,
        seed: SeedOrigin::Served,
        ..Options::default()
    };
    let state = AppState::with_options(store, options);
    (app(state.clone()), state)
}

/// Acknowledged changes per second with `writers` writers sending one after another.
async fn writes_per_second(app: &Router, writers: usize, run: Duration) -> f64 {
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let began = Instant::now();
    let tasks: Vec<_> = (0..writers)
        .map(|w| {
            let (app, stop, done) = (app.clone(), stop.clone(), done.clone());
            tokio::spawn(async move {
                let mut n = 0usize;
                while !stop.load(Ordering::Relaxed) {
                    let uri = format!(
                        "/_emulator/instances/{}/plugins/plugin-{}",
                        instance_id(w + writers * (n % (WRITE_INSTANCES / writers))),
                        n % PLUGINS_PER_INSTANCE
                    );
                    let body = format!(r#"{{"version":"2.{n}","status":"Running"}}"#);
                    let request = Request::builder()
                        .method("PUT")
                        .uri(uri)
                        .body(Body::from(body))
                        .unwrap();
                    let response = app.clone().oneshot(request).await.unwrap();
                    assert_eq!(response.status(), 200);
                    done.fetch_add(1, Ordering::Relaxed);
                    n += 1;
                }
            })
        })
        .collect();
    tokio::time::sleep(run).await;
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await.unwrap();
    }
    done.load(Ordering::Relaxed) as f64 / began.elapsed().as_secs_f64()
}

fn arg(name: &str) -> Option<usize> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs nothing here.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let instances = arg("--instances").unwrap_or(500_000);
    let seconds = arg("--seconds").unwrap_or(4) as u64;
    let dir = scratch_dir();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();

    println!(
        "\ndurable writes: PUT plugin, each writer one request after another, {seconds} s a run"
    );
    println!(
        "{:<8} {:>16} {:>16} {:>12} {:>12}",
        "writers", "state file /s", "memory /s", "file/memory", "file/1 wr."
    );
    let mut single = None;
    for writers in [1, 8, 32] {
        let file = dir.join(format!("writes-{writers}.db"));
        let durable = runtime.block_on(async {
            let (app, state) = open_app(Some(&file));
            let rate = writes_per_second(&app, writers, Duration::from_secs(seconds)).await;
            state.close().await.unwrap();
            rate
        });
        let memory = runtime.block_on(async {
            let (app, _) = open_app(None);
            writes_per_second(&app, writers, Duration::from_secs(seconds)).await
        });
        let single = *single.get_or_insert(durable);
        println!(
            "{writers:<8} {durable:>16.0} {memory:>16.0} {:>12.3} {:>12.1}",
            durable / memory,
            durable / single
        );
    }

    let records = instances * PLUGINS_PER_INSTANCE;
    println!("\nstart-up: a state file of {records} plug-in records ({instances} instances)");
    let store = build_store(instances);
    let path = dir.join("large.db");
    let began = Instant::now();
    let opened = sqlite::open(&path, seed(store)).unwrap_or_else(|_| panic!("created"));
    let created = began.elapsed();
    drop(opened);
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    let began = Instant::now();
    let opened = sqlite::open(&path, seed(Store::new(Vec::new(), Vec::new()).unwrap()))
        .unwrap_or_else(|_| panic!("opened"));
    let loaded = began.elapsed();
    assert!(opened.created.is_none());
    assert_eq!(opened.store.counts(), (instances, records));
    println!(
        "created in {:.1} s, {:.0} MB; loaded at start-up in {:.2} s ({:.0} records/s)",
        created.as_secs_f64(),
        size as f64 / 1e6,
        loaded.as_secs_f64(),
        records as f64 / loaded.as_secs_f64()
    );
    drop(opened);
    let _ = std::fs::remove_dir_all(&dir);
}
