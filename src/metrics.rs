//! What the emulator did, for `GET /_emulator/metrics` in the Prometheus text format (0.0.4):
//! API requests by action, HTTP status and code, their latency, faults fired, durable commits,
//! and the size of the data.
//!
//! Each [`AppState`](crate::AppState) has its own registry (the `prometheus` crate's), so two
//! emulators in one process (as in the tests) count apart. Labels take values from closed
//! sets only: the action is an operation the emulator knows (or `""`), the code one of its own
//! error codes or an injected fault's, never a caller's free text, so a scrape stays small
//! whatever the callers send.

use std::time::Duration;

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

use crate::engine::Store;

/// The Content-Type of a scrape.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Latency buckets, in seconds: the emulator answers in microseconds unless a fault adds
/// latency or a write waits for the disk.
const LATENCY_BUCKETS: &[f64] = &[
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5, 5.0, 10.0,
];

/// The emulator's metrics.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    faults: IntCounterVec,
    commits: IntCounter,
    committed_changes: IntCounter,
    instances: IntGauge,
    plugin_records: IntGauge,
    commands: IntGauge,
    invocations: IntGauge,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics(..)")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A registry with every metric at zero.
    pub fn new() -> Self {
        let registry =
            Registry::new_custom(Some("ecs_emulator".to_owned()), None).expect("a valid prefix");
        let requests = IntCounterVec::new(
            Opts::new(
                "requests_total",
                "API requests answered, by action, HTTP status and error code (empty on success).",
            ),
            &["action", "status", "code"],
        )
        .expect("a valid metric");
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "request_duration_seconds",
                "Time from a request's arrival to its answer, by action.",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["action"],
        )
        .expect("a valid metric");
        let faults = IntCounterVec::new(
            Opts::new(
                "faults_fired_total",
                "Fault rules fired, by action and injected code (empty for latency only).",
            ),
            &["action", "code"],
        )
        .expect("a valid metric");
        let commits = IntCounter::new(
            "durable_commits_total",
            "Transactions committed to the state file (0 without --state-file).",
        )
        .expect("a valid metric");
        let committed_changes = IntCounter::new(
            "durable_changes_total",
            "Changes committed to the state file; a transaction holds one or more.",
        )
        .expect("a valid metric");
        let gauge = |name: &str, help: &str| IntGauge::new(name, help).expect("a valid metric");
        let instances = gauge("instances", "Instances held, every account and region.");
        let plugin_records = gauge(
            "plugin_records",
            "Plug-in records held (Removed ones included).",
        );
        let commands = gauge("commands", "Cloud Assistant commands held.");
        let invocations = gauge("invocations", "Cloud Assistant invocations held.");
        let metrics = Self {
            registry,
            requests,
            latency,
            faults,
            commits,
            committed_changes,
            instances,
            plugin_records,
            commands,
            invocations,
        };
        let collectors: [Box<dyn prometheus::core::Collector>; 9] = [
            Box::new(metrics.requests.clone()),
            Box::new(metrics.latency.clone()),
            Box::new(metrics.faults.clone()),
            Box::new(metrics.commits.clone()),
            Box::new(metrics.committed_changes.clone()),
            Box::new(metrics.instances.clone()),
            Box::new(metrics.plugin_records.clone()),
            Box::new(metrics.commands.clone()),
            Box::new(metrics.invocations.clone()),
        ];
        for collector in collectors {
            metrics
                .registry
                .register(collector)
                .expect("each metric is registered once");
        }
        metrics
    }

    /// Counts one answered API request.
    pub fn request(&self, action: &'static str, status: u16, code: &str, elapsed: Duration) {
        let mut status_text = itoa::Buffer::new();
        self.requests
            .with_label_values(&[action, status_text.format(status), code])
            .inc();
        self.latency
            .with_label_values(&[action])
            .observe(elapsed.as_secs_f64());
    }

    /// Counts one fault rule fired on `action`; `code` is empty when it only added latency.
    pub fn fault_fired(&self, action: &'static str, code: &str) {
        self.faults.with_label_values(&[action, code]).inc();
    }

    /// Counts one transaction of `changes` changes committed to the state file.
    pub fn committed(&self, changes: usize) {
        self.commits.inc();
        self.committed_changes.inc_by(changes as u64);
    }

    /// The scrape: every metric, with the data's size read from `store`.
    pub fn render(&self, store: &Store) -> String {
        let (instances, plugin_records) = store.counts();
        let (commands, invocations) = store.spaces().fold((0, 0), |(c, i), (_, _, space)| {
            (c + space.commands().len(), i + space.invocations().len())
        });
        let gauge = |g: &IntGauge, n: usize| g.set(i64::try_from(n).unwrap_or(i64::MAX));
        gauge(&self.instances, instances);
        gauge(&self.plugin_records, plugin_records);
        gauge(&self.commands, commands);
        gauge(&self.invocations, invocations);
        let mut text = Vec::new();
        // Writing to a Vec fails only on a malformed metric, which the registry refuses first.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut text);
        String::from_utf8(text).unwrap_or_default()
    }
}
