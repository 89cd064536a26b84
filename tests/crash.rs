//! Durable state under `kill -9` (SPEC section 8): writer threads drive control-plane changes
//! (SPEC section 7) over real sockets, the emulator is killed with SIGKILL at a seeded random
//! moment while writes are in flight, and restarted on the same `--state-file`. The state it
//! comes back with must hold every acknowledged change and no partial one; a change in flight at
//! the kill may or may not be there.
//!
//! A model of the control plane predicts every answer (status codes, the records events write,
//! the summaries of whole-state changes) and the whole state. Each writer owns its own instance
//! ids, so its instances are checked on their own against its acknowledged changes, with its one
//! in-flight change applied or not; instances of no writer, accounts and catalog must match
//! exactly. Whole-state changes (`PUT /state`, `reset`) are serialised against the writers by a
//! read-write lock in the driver, so every acknowledged change has one place in one order.
//!
//! The same driver and model run against the in-memory emulator (no state file, no kill): there
//! every change is acknowledged and the state must equal the model exactly.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};

/// Writer threads; writer `w` owns the instances `i-crash-w{w}-{k}`.
const WRITERS: usize = 4;
/// Instance ids per writer (`k` above).
const IDS_PER_WRITER: usize = 5;
/// Kills (and restarts) in the crash test.
const KILL_ROUNDS: u64 = 25;
/// Rounds of the in-memory check, in one process.
const IN_MEMORY_ROUNDS: u64 = 5;
/// Requests per writer and round in the in-memory check.
const OPS_PER_WRITER: usize = 150;
/// The kill comes this many milliseconds after the writers start.
const KILL_AFTER_MS: std::ops::RangeInclusive<u64> = 5..=150;
/// One request in this many is a whole-state change.
const WHOLE_STATE_ONE_IN: u32 = 80;
/// Every random choice derives from this (and the round and writer numbers).
const SEED: u64 = 0x00C0_FFEE_DEAD_BEEF;
/// A bound on every socket read and write.
const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the emulator may take to print its ready line.
const START_TIMEOUT: Duration = Duration::from_secs(20);

const DEFAULT_ACCOUNT: &str = "1000000000000001";
const OTHER_ACCOUNT: &str = "1000000000000002";
const PLUGINS: [&str; 4] = [
    "ecs_tools_test",
    "config_ecs_instance_connect",
    "crash-probe",
    "multi-nic-util",
];
const REGIONS: [&str; 3] = ["cn-hangzhou", "cn-shanghai", "emulator-crash-1"];
const VERSIONS: [&str; 4] = ["1.0", "1.1", "2.0.3", ""];
const EVENT_VERSIONS: [&str; 3] = ["1.0", "1.2", "3.0.1"];
const STATUSES: [&str; 7] = [
    "NotInstalled",
    "Installed",
    "Running",
    "Stopped",
    "Crashed",
    "Removed",
    "Unknown",
];
const TIMES: [&str; 3] = ["", "2025-01-02T03:04:05Z", "2026-02-28T23:59:59Z"];
const EVENTS: [&str; 6] = ["install", "start", "stop", "crash", "remove", "heartbeat"];

/// How the emulator runs under the driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// On a `--state-file`, a new process every round, killed with SIGKILL mid-writes.
    KillNine,
    /// State in memory, one process, writers stop after [`OPS_PER_WRITER`] requests: nothing is
    /// in flight and the state must equal the model exactly.
    InMemory,
}

/// Every acknowledged control-plane change survives `kill -9` at a random moment, no change is
/// half there, and an in-flight change is there whole or not at all; `--data` on a later start
/// does not replace the state file, and a `reset` restores the seed the file was created from.
#[test]
fn every_acknowledged_change_survives_kill_9() {
    run(Mode::KillNine);
}

/// The driver and model of the crash test against the in-memory emulator: every status code,
/// every record an event writes and every whole-state summary is as the model predicts, and the
/// state equals the model after each round.
#[test]
fn the_model_predicts_the_in_memory_emulator() {
    run(Mode::InMemory);
}

// ---------------------------------------------------------------------------------------------
// The rounds
// ---------------------------------------------------------------------------------------------

fn run(mode: Mode) {
    let started = Instant::now();
    let dir = TempDir::new(match mode {
        Mode::KillNine => "kill",
        Mode::InMemory => "memory",
    });
    let seed_file = dir.write("seed.json", &seed_fixture());
    let ignored_file = dir.write("ignored.json", &ignored_fixture());
    let state_file = dir.0.join("state.db");
    let rounds = match mode {
        Mode::KillNine => KILL_ROUNDS,
        Mode::InMemory => IN_MEMORY_ROUNDS,
    };
    let mut model = Model::from_state(&seed_fixture()).expect("the seed is valid");
    let mut in_flight = InFlight::none();
    let mut emulator = match mode {
        Mode::InMemory => Some(Emulator::start(&[arg("--data"), seed_file.clone().into()])),
        Mode::KillNine => None,
    };
    for number in 0..=rounds {
        if mode == Mode::KillNine {
            // The seed only makes the file; a later `--data` must change nothing.
            let data = match number {
                0 => Some(&seed_file),
                n if n % 2 == 1 => Some(&ignored_file),
                _ => None,
            };
            emulator = Some(Emulator::start(&state_file_args(&state_file, data)));
        }
        let addr = emulator.as_ref().expect("the emulator runs").addr;
        let (settled, found) = settle(&model, &in_flight, &export(addr))
            .unwrap_or_else(|e| panic!("round {number}: the state is not the model's:\n{e}"));
        let start = format!("{found} of {} in-flight changes there", in_flight.count());
        model = settled;
        if number == rounds {
            eprintln!("crash {mode:?} last check: state as the model, {start}");
            break;
        }
        let round = Round::new(mode, number, addr, model);
        freeze_clock(addr, &round.now).unwrap_or_else(|e| panic!("round {number}: {e:?}"));
        let kill_after = (mode == Mode::KillNine).then(|| kill_delay(number));
        let reports: Vec<WriterReport> = std::thread::scope(|s| {
            let writers: Vec<_> = (0..WRITERS)
                .map(|w| {
                    let round = &round;
                    s.spawn(move || writer(round, w))
                })
                .collect();
            if let Some(delay) = kill_after {
                std::thread::sleep(delay);
                round.killed.store(true, Ordering::SeqCst);
                emulator.take().expect("the emulator runs").kill_9();
            }
            writers
                .into_iter()
                .map(|h| h.join().expect("a writer thread panicked"))
                .collect()
        });
        let failures: Vec<&String> = reports.iter().flat_map(|r| &r.failures).collect();
        assert!(failures.is_empty(), "round {number}: {failures:#?}");
        in_flight = InFlight {
            whole: round.whole_in_flight.into_inner().unwrap(),
            changes: reports.iter().map(|r| r.in_flight.clone()).collect(),
            now: round.now,
        };
        model = round.model.into_inner().unwrap();
        if mode == Mode::InMemory {
            assert!(in_flight.is_empty(), "round {number}: {in_flight:?}");
        }
        eprintln!(
            "crash {mode:?} round {number}: state as the model, {start}; {}: {} acknowledged ({} refused, {} whole-state), {} in flight",
            kill_after.map_or("no kill".to_owned(), |d| format!("kill -9 after {d:?}")),
            reports.iter().map(|r| r.acked).sum::<usize>(),
            reports.iter().map(|r| r.refused).sum::<usize>(),
            reports.iter().map(|r| r.whole).sum::<usize>(),
            in_flight.count(),
        );
    }
    if mode == Mode::KillNine {
        reset_survives_kill_9(emulator.take().expect("the emulator runs"), &state_file);
    }
    eprintln!("crash {mode:?}: {rounds} rounds in {:?}", started.elapsed());
}

/// The last start was given other `--data`: an acknowledged `reset` still restores the seed the
/// state file was made from, and durably.
fn reset_survives_kill_9(emulator: Emulator, state_file: &Path) {
    let reply = http(emulator.addr, "POST", "/_emulator/reset", None).expect("reset answers");
    assert_eq!(reply.status, 200, "{}", reply.body);
    emulator.kill_9();
    let emulator = Emulator::start(&state_file_args(state_file, None));
    let seed = Model::from_state(&seed_fixture()).unwrap();
    if let Err(e) = settle(&seed, &InFlight::none(), &export(emulator.addr)) {
        panic!("after reset and kill -9, not the seed:\n{e}");
    }
}

fn state_file_args(state_file: &Path, data: Option<&PathBuf>) -> Vec<OsString> {
    let mut args = vec![arg("--state-file"), state_file.into()];
    if let Some(data) = data {
        args.extend([arg("--data"), data.into()]);
    }
    args
}

fn arg(text: &str) -> OsString {
    text.into()
}

/// The round's kill moment, from the round number alone.
fn kill_delay(number: u64) -> Duration {
    let mut rng = ChaCha8Rng::seed_from_u64(SEED ^ number);
    Duration::from_millis(rng.gen_range(KILL_AFTER_MS))
}

/// What the writers of one round share.
struct Round {
    mode: Mode,
    number: u64,
    addr: SocketAddr,
    /// The frozen clock of this round (whole seconds, as events write it).
    now: String,
    /// Writers hold it for reading while a change is out; a whole-state change for writing.
    gate: RwLock<()>,
    /// The state after every acknowledged change.
    model: Mutex<Model>,
    /// The whole-state change sent and not answered, if any.
    whole_in_flight: Mutex<Option<WholeChange>>,
    /// Set just before the kill: from then on a request may go unanswered.
    killed: AtomicBool,
}

impl Round {
    fn new(mode: Mode, number: u64, addr: SocketAddr, model: Model) -> Self {
        Self {
            mode,
            number,
            addr,
            now: format!("2026-03-01T{:02}:{:02}:00Z", number / 60, number % 60),
            gate: RwLock::new(()),
            model: Mutex::new(model),
            whole_in_flight: Mutex::new(None),
            killed: AtomicBool::new(false),
        }
    }

    fn killed(&self) -> bool {
        self.killed.load(Ordering::SeqCst)
    }
}

/// What one writer did in a round.
#[derive(Debug, Default)]
struct WriterReport {
    /// Complete answers read (refusals included).
    acked: usize,
    /// Of those, refusals (404 and 409, as the model predicts; they change nothing).
    refused: usize,
    /// Of those, whole-state changes.
    whole: usize,
    /// The change sent (or being sent) when the connection died.
    in_flight: Option<Change>,
    /// Everything that went against the model or the protocol.
    failures: Vec<String>,
}

impl WriterReport {
    /// Records why a request got no usable answer: only a cut connection after the kill is
    /// expected.
    fn stopped_by(&mut self, round: &Round, failure: Failure, what: &str) {
        match failure {
            Failure::Cut(_) if round.killed() => {}
            Failure::Cut(e) => self
                .failures
                .push(format!("{what}: no answer before any kill: {e}")),
            Failure::Wrong(e) => self.failures.push(format!("{what}: {e}")),
        }
    }
}

/// Writer `w`: random changes to its own instances, now and then a whole-state change, until
/// the kill (or [`OPS_PER_WRITER`] requests in memory), the first failure or a cut connection.
fn writer(round: &Round, w: usize) -> WriterReport {
    let mut rng = ChaCha8Rng::seed_from_u64(SEED ^ (round.number << 16) ^ ((w as u64 + 1) << 8));
    let mut report = WriterReport::default();
    for done in 0.. {
        if round.killed() || (round.mode == Mode::InMemory && done == OPS_PER_WRITER) {
            break;
        }
        let step = if rng.gen_ratio(1, WHOLE_STATE_ONE_IN) {
            whole_state_step(round, WholeChange::random(&mut rng), &mut report)
        } else {
            let part = round.model.lock().unwrap().parts[w].clone();
            change_step(round, w, Change::random(&mut rng, w, &part), &mut report)
        };
        if step.is_break() {
            break;
        }
    }
    report
}

/// Sends one change to writer `w`'s instances and checks the answer against the model.
fn change_step(
    round: &Round,
    w: usize,
    change: Change,
    report: &mut WriterReport,
) -> ControlFlow<()> {
    let _turn = round.gate.read().unwrap();
    // Once killed, nothing new goes out, so a whole-state change and writers' changes are never
    // in flight together.
    if round.killed() {
        return ControlFlow::Break(());
    }
    let (method, path, body) = change.request();
    let what = format!("{method} {path} {}", body.as_deref().unwrap_or(""));
    let reply = match http(round.addr, method, &path, body.as_deref()) {
        Ok(reply) => reply,
        Err(failure) => {
            report.stopped_by(round, failure, &what);
            report.in_flight = Some(change);
            return ControlFlow::Break(());
        }
    };
    let expected = {
        let mut model = round.model.lock().unwrap();
        let Model {
            parts,
            default_account,
            ..
        } = &mut *model;
        apply(&mut parts[w], &change, default_account, &round.now)
    };
    if let Err(e) = expected.check(&reply) {
        report.failures.push(format!("{what}: {e}"));
        return ControlFlow::Break(());
    }
    report.acked += 1;
    if !(200..300).contains(&reply.status) {
        report.refused += 1;
    }
    ControlFlow::Continue(())
}

/// Sends a whole-state change with no other change out, and re-freezes the clock after a reset.
fn whole_state_step(
    round: &Round,
    whole: WholeChange,
    report: &mut WriterReport,
) -> ControlFlow<()> {
    let _turn = round.gate.write().unwrap();
    if round.killed() {
        return ControlFlow::Break(());
    }
    *round.whole_in_flight.lock().unwrap() = Some(whole);
    let (method, path, body) = whole.request();
    let what = format!("{method} {path}");
    let reply = match http(round.addr, method, path, body.as_deref()) {
        Ok(reply) => reply,
        Err(failure) => {
            report.stopped_by(round, failure, &what);
            return ControlFlow::Break(());
        }
    };
    let after = whole.result();
    if let Err(e) = check_summary(&reply, &after) {
        report.failures.push(format!("{what}: {e}"));
        return ControlFlow::Break(());
    }
    *round.model.lock().unwrap() = after;
    *round.whole_in_flight.lock().unwrap() = None;
    report.acked += 1;
    report.whole += 1;
    if whole == WholeChange::Reset {
        // A reset returns to real time.
        if let Err(failure) = freeze_clock(round.addr, &round.now) {
            report.stopped_by(round, failure, "PUT /_emulator/clock");
            return ControlFlow::Break(());
        }
    }
    ControlFlow::Continue(())
}

/// The changes that may or may not have been applied when the emulator was killed.
#[derive(Debug)]
struct InFlight {
    /// A whole-state change (then no writer had a change out).
    whole: Option<WholeChange>,
    /// Per writer, the change it had out.
    changes: Vec<Option<Change>>,
    /// The clock those changes were sent under.
    now: String,
}

impl InFlight {
    fn none() -> Self {
        Self {
            whole: None,
            changes: vec![None; WRITERS],
            now: String::new(),
        }
    }

    fn count(&self) -> usize {
        usize::from(self.whole.is_some()) + self.changes.iter().flatten().count()
    }

    fn is_empty(&self) -> bool {
        self.count() == 0
    }
}

/// Checks the state the emulator came back with against the model: exactly the model, or the
/// model with the in-flight whole-state change, or with any of the writers' in-flight changes,
/// each writer's on its own. Answers that state, and how many in-flight changes it shows.
fn settle(model: &Model, in_flight: &InFlight, state: &Value) -> Result<(Model, usize), String> {
    let actual = Model::from_state(state)?;
    assert!(
        in_flight.whole.is_none() || in_flight.changes.iter().all(Option::is_none),
        "driver bug: a whole-state change and writers' changes in flight together: {in_flight:?}"
    );
    let mut bases = vec![(model.clone(), 0)];
    if let Some(whole) = in_flight.whole {
        bases.push((whole.result(), 1));
    }
    for (base, whole_applied) in &bases {
        if base.accounts != actual.accounts
            || base.catalog != actual.catalog
            || base.parts[WRITERS] != actual.parts[WRITERS]
        {
            continue;
        }
        let mut applied = *whole_applied;
        let writers_match = (0..WRITERS).all(|w| {
            if actual.parts[w] == base.parts[w] {
                return true;
            }
            let Some(change) = &in_flight.changes[w] else {
                return false;
            };
            let mut part = base.parts[w].clone();
            apply(&mut part, change, &base.default_account, &in_flight.now);
            applied += 1;
            part == actual.parts[w]
        });
        if writers_match {
            return Ok((actual, applied));
        }
    }
    Err(format!(
        "{}in flight: {in_flight:#?}",
        difference(model, &actual)
    ))
}

/// Where two states differ, instance by instance.
fn difference(expected: &Model, actual: &Model) -> String {
    let mut out = String::new();
    if expected.accounts != actual.accounts {
        let _ = writeln!(
            out,
            "accounts: expected {:?}\n  found {:?}",
            expected.accounts, actual.accounts
        );
    }
    if expected.catalog != actual.catalog {
        let _ = writeln!(
            out,
            "catalog: expected {:?}\n  found {:?}",
            expected.catalog, actual.catalog
        );
    }
    for (e, a) in expected.parts.iter().zip(&actual.parts) {
        let ids: BTreeSet<&String> = e.keys().chain(a.keys()).collect();
        for id in ids {
            if e.get(id) != a.get(id) {
                let _ = writeln!(
                    out,
                    "{id}: expected {:?}\n  found {:?}",
                    e.get(id),
                    a.get(id)
                );
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// The model
// ---------------------------------------------------------------------------------------------

/// One plug-in record as `GET /state` shows it (an absent time as "").
#[derive(Debug, Clone, PartialEq, Eq)]
struct Record {
    version: String,
    status: String,
    first: String,
    last: String,
}

/// One instance.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Instance {
    account: String,
    region: String,
    plugins: BTreeMap<String, Record>,
}

/// Instances by id.
type Part = BTreeMap<String, Instance>;

/// The whole state, normalised: accounts, keys and catalog sorted; instances split by the
/// writer that owns them.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Model {
    accounts: Vec<Value>,
    catalog: Vec<Value>,
    default_account: String,
    /// `parts[w]`: writer `w`'s instances; `parts[WRITERS]`: those of no writer.
    parts: Vec<Part>,
}

impl Model {
    /// Reads a fixture or an exported state (fields the model does not know are left out).
    fn from_state(state: &Value) -> Result<Self, String> {
        let mut accounts: Vec<Value> = array(state, "accounts")?
            .iter()
            .map(|a| {
                let mut keys: Vec<Value> = array(a, "accessKeys")?
                    .iter()
                    .map(|k| {
                        json!({"id": k["id"], "secret": k["secret"],
                               "enabled": k["enabled"].as_bool().unwrap_or(true)})
                    })
                    .collect();
                keys.sort_by_key(|k| k["id"].to_string());
                Ok(json!({"accountId": a["accountId"],
                          "default": a["default"].as_bool().unwrap_or(false),
                          "accessKeys": keys}))
            })
            .collect::<Result<_, String>>()?;
        accounts.sort_by_key(|a| a["accountId"].to_string());
        let default_account = accounts
            .iter()
            .find(|a| a["default"] == true)
            .and_then(|a| a["accountId"].as_str())
            .ok_or("no default account")?
            .to_owned();
        let mut catalog: Vec<Value> = array(state, "catalog")?
            .iter()
            .map(|c| json!({"name": c["name"], "type": c["type"].as_str().unwrap_or("Persist")}))
            .collect();
        catalog.sort_by_key(|c| c["name"].to_string());
        let mut parts = vec![Part::new(); WRITERS + 1];
        for value in array(state, "instances")? {
            let id = text(value, "instanceId")?;
            let instance = instance_from_json(value, &default_account)?;
            if parts[owner(&id)].insert(id.clone(), instance).is_some() {
                return Err(format!("instance {id} is there twice"));
            }
        }
        Ok(Self {
            accounts,
            catalog,
            default_account,
            parts,
        })
    }

    fn instances(&self) -> usize {
        self.parts.iter().map(Part::len).sum()
    }

    fn records(&self) -> usize {
        self.parts
            .iter()
            .flat_map(Part::values)
            .map(|i| i.plugins.len())
            .sum()
    }
}

/// The writer owning an instance id, or `WRITERS` for none.
fn owner(id: &str) -> usize {
    id.strip_prefix("i-crash-w")
        .and_then(|rest| rest.split_once('-'))
        .and_then(|(w, _)| w.parse().ok())
        .filter(|&w| w < WRITERS)
        .unwrap_or(WRITERS)
}

fn array<'a>(value: &'a Value, key: &str) -> Result<&'a [Value], String> {
    match &value[key] {
        Value::Null => Ok(&[]),
        Value::Array(items) => Ok(items),
        other => Err(format!("{key} is not an array: {other}")),
    }
}

fn text(value: &Value, key: &str) -> Result<String, String> {
    value[key]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("no {key} in {value}"))
}

fn instance_from_json(value: &Value, default_account: &str) -> Result<Instance, String> {
    let mut plugins = BTreeMap::new();
    for p in array(value, "plugins")? {
        if plugins
            .insert(text(p, "name")?, record_from_json(p)?)
            .is_some()
        {
            return Err(format!("a plug-in is there twice in {value}"));
        }
    }
    Ok(Instance {
        account: value["accountId"]
            .as_str()
            .unwrap_or(default_account)
            .to_owned(),
        region: text(value, "regionId")?,
        plugins,
    })
}

fn record_from_json(value: &Value) -> Result<Record, String> {
    let optional = |key: &str| value[key].as_str().unwrap_or_default().to_owned();
    Ok(Record {
        version: optional("version"),
        status: text(value, "status")?,
        first: optional("firstHeartbeatTime"),
        last: optional("lastHeartbeatTime"),
    })
}

/// A change to one writer's instances.
#[derive(Debug, Clone)]
enum Change {
    PutInstance {
        id: String,
        region: String,
        plugins: BTreeMap<String, Record>,
    },
    DeleteInstance {
        id: String,
    },
    PutPlugin {
        id: String,
        name: String,
        record: Record,
    },
    DeletePlugin {
        id: String,
        name: String,
    },
    Event {
        id: String,
        name: String,
        event: &'static str,
        once: bool,
        version: Option<&'static str>,
    },
}

fn pick<T: Copy>(rng: &mut ChaCha8Rng, items: &[T]) -> T {
    items[rng.gen_range(0..items.len())]
}

fn random_record(rng: &mut ChaCha8Rng) -> Record {
    Record {
        version: pick(rng, &VERSIONS).to_owned(),
        status: pick(rng, &STATUSES).to_owned(),
        first: pick(rng, &TIMES).to_owned(),
        last: pick(rng, &TIMES).to_owned(),
    }
}

impl Change {
    /// A change to one of writer `w`'s instances, mostly a lifecycle event. It is mostly about
    /// an instance, plug-in and event that `part` (the writer's instances as acknowledged so
    /// far) makes likely to be accepted, and now and then about anything: about one request in
    /// six is refused.
    fn random(rng: &mut ChaCha8Rng, w: usize, part: &Part) -> Self {
        let existing: Vec<&String> = part.keys().collect();
        let id = if !existing.is_empty() && rng.gen_ratio(3, 4) {
            pick(rng, &existing).clone()
        } else {
            format!("i-crash-w{w}-{}", rng.gen_range(0..IDS_PER_WRITER))
        };
        let plugins = part.get(&id).map(|i| &i.plugins);
        let names: Vec<&str> = plugins.map_or(vec![], |p| p.keys().map(String::as_str).collect());
        let name = if !names.is_empty() && rng.gen_ratio(2, 3) {
            pick(rng, &names)
        } else {
            pick(rng, &PLUGINS)
        }
        .to_owned();
        let once = rng.gen_ratio(1, 4);
        let current = plugins.and_then(|p| p.get(&name));
        let allowed: Vec<&'static str> = EVENTS
            .into_iter()
            .filter(|event| after_event(current, event, once, None, "").is_some())
            .collect();
        let event = if !allowed.is_empty() && rng.gen_ratio(3, 4) {
            pick(rng, &allowed)
        } else {
            pick(rng, &EVENTS)
        };
        // An instance that is not there is mostly created first.
        let kind = match plugins {
            None if rng.gen_ratio(2, 3) => 0,
            _ => rng.gen_range(0..100),
        };
        match kind {
            0..=11 => {
                let region = pick(rng, &REGIONS).to_owned();
                let mut plugins = BTreeMap::new();
                for name in PLUGINS {
                    if rng.gen_ratio(1, 2) {
                        plugins.insert(name.to_owned(), random_record(rng));
                    }
                }
                Self::PutInstance {
                    id,
                    region,
                    plugins,
                }
            }
            12..=16 => Self::DeleteInstance { id },
            17..=29 => Self::PutPlugin {
                id,
                name,
                record: random_record(rng),
            },
            30..=35 => Self::DeletePlugin { id, name },
            _ => Self::Event {
                id,
                name,
                event,
                once,
                version: rng.gen_ratio(1, 4).then(|| pick(rng, &EVENT_VERSIONS)),
            },
        }
    }

    /// Method, path and JSON body.
    fn request(&self) -> (&'static str, String, Option<String>) {
        let base = "/_emulator/instances";
        match self {
            Self::PutInstance {
                id,
                region,
                plugins,
            } => {
                let plugins: Vec<Value> = plugins
                    .iter()
                    .map(|(name, r)| {
                        let mut p = json!({"name": name, "version": r.version, "status": r.status});
                        // An empty time is left out here and sent as "" in a plug-in's PUT.
                        for (key, time) in [
                            ("firstHeartbeatTime", &r.first),
                            ("lastHeartbeatTime", &r.last),
                        ] {
                            if !time.is_empty() {
                                p[key] = json!(time);
                            }
                        }
                        p
                    })
                    .collect();
                let body = json!({"regionId": region, "plugins": plugins});
                ("PUT", format!("{base}/{id}"), Some(body.to_string()))
            }
            Self::DeleteInstance { id } => ("DELETE", format!("{base}/{id}"), None),
            Self::PutPlugin { id, name, record } => {
                let body = json!({"version": record.version, "status": record.status,
                                  "firstHeartbeatTime": record.first,
                                  "lastHeartbeatTime": record.last});
                (
                    "PUT",
                    format!("{base}/{id}/plugins/{name}"),
                    Some(body.to_string()),
                )
            }
            Self::DeletePlugin { id, name } => {
                ("DELETE", format!("{base}/{id}/plugins/{name}"), None)
            }
            Self::Event {
                id,
                name,
                event,
                once,
                version,
            } => {
                let mut body = json!({"type": if *once { "Once" } else { "Persist" }});
                if let Some(version) = version {
                    body["version"] = json!(version);
                }
                (
                    "POST",
                    format!("{base}/{id}/plugins/{name}/{event}"),
                    Some(body.to_string()),
                )
            }
        }
    }
}

/// The answer the model predicts.
#[derive(Debug)]
struct Expected {
    status: u16,
    /// The record answered by a plug-in PUT or an event.
    record: Option<Record>,
    /// The instance answered by an instance PUT.
    instance: Option<Instance>,
}

impl Expected {
    fn status(status: u16) -> Self {
        Self {
            status,
            record: None,
            instance: None,
        }
    }

    fn check(&self, reply: &Reply) -> Result<(), String> {
        if reply.status != self.status {
            return Err(format!(
                "answered {} {}, the model says {}",
                reply.status, reply.body, self.status
            ));
        }
        if let Some(record) = &self.record {
            let got = record_from_json(&reply.json()?)?;
            if &got != record {
                return Err(format!("answered {got:?}, the model says {record:?}"));
            }
        }
        if let Some(instance) = &self.instance {
            let got = instance_from_json(&reply.json()?, "")?;
            if &got != instance {
                return Err(format!("answered {got:?}, the model says {instance:?}"));
            }
        }
        Ok(())
    }
}

/// Applies `change` to a writer's part of the state as the emulator does (SPEC section 7) and
/// answers what the emulator says; a refused change leaves `part` as it was.
fn apply(part: &mut Part, change: &Change, default_account: &str, now: &str) -> Expected {
    match change {
        Change::PutInstance {
            id,
            region,
            plugins,
        } => {
            let account = part
                .get(id)
                .map_or(default_account, |i| i.account.as_str())
                .to_owned();
            let instance = Instance {
                account,
                region: region.clone(),
                plugins: plugins.clone(),
            };
            let replaced = part.insert(id.clone(), instance.clone()).is_some();
            Expected {
                instance: Some(instance),
                ..Expected::status(if replaced { 200 } else { 201 })
            }
        }
        Change::DeleteInstance { id } => match part.remove(id) {
            Some(_) => Expected::status(204),
            None => Expected::status(404),
        },
        Change::PutPlugin { id, name, record } => match part.get_mut(id) {
            None => Expected::status(404),
            Some(instance) => {
                let replaced = instance
                    .plugins
                    .insert(name.clone(), record.clone())
                    .is_some();
                Expected {
                    record: Some(record.clone()),
                    ..Expected::status(if replaced { 200 } else { 201 })
                }
            }
        },
        Change::DeletePlugin { id, name } => match part.get_mut(id) {
            Some(instance) => match instance.plugins.remove(name) {
                Some(_) => Expected::status(204),
                None => Expected::status(404),
            },
            None => Expected::status(404),
        },
        Change::Event {
            id,
            name,
            event,
            once,
            version,
        } => {
            let Some(instance) = part.get_mut(id) else {
                return Expected::status(404);
            };
            match after_event(instance.plugins.get(name), event, *once, *version, now) {
                None => Expected::status(409),
                Some(record) => {
                    instance.plugins.insert(name.clone(), record.clone());
                    Expected {
                        record: Some(record),
                        ..Expected::status(200)
                    }
                }
            }
        }
    }
}

/// The record after a lifecycle event (the table of SPEC section 7), or `None` when refused.
fn after_event(
    current: Option<&Record>,
    event: &str,
    once: bool,
    version: Option<&str>,
    now: &str,
) -> Option<Record> {
    let status = current.map(|r| r.status.as_str());
    let live = matches!(
        status,
        Some("Installed" | "Running" | "Stopped" | "Crashed" | "Unknown")
    );
    let next = match event {
        "install" if matches!(status, None | Some("NotInstalled" | "Removed")) => {
            if once {
                "Installed"
            } else {
                "Running"
            }
        }
        "start" if !once && matches!(status, Some("Stopped" | "Crashed" | "Unknown")) => "Running",
        "stop" if status == Some("Running") => "Stopped",
        "crash" if status == Some("Running") => "Crashed",
        "remove" if live => "Removed",
        "heartbeat" if live => status?,
        _ => return None,
    };
    let previous = current.map_or("", |r| r.version.as_str());
    // An install with no version keeps the one the record had, or reports 1.0.
    let version = match version {
        Some(v) => v,
        None if event == "install" && previous.is_empty() => "1.0",
        None => previous,
    };
    let first = current.map_or("", |r| r.first.as_str());
    Some(Record {
        version: version.to_owned(),
        status: next.to_owned(),
        first: if first.is_empty() { now } else { first }.to_owned(),
        last: now.to_owned(),
    })
}

/// A change to the whole state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WholeChange {
    /// `PUT /_emulator/state` with [`replacement_fixture`]`(n)`.
    PutState(usize),
    /// `POST /_emulator/reset`: back to the seed.
    Reset,
}

impl WholeChange {
    fn random(rng: &mut ChaCha8Rng) -> Self {
        if rng.gen_ratio(1, 2) {
            Self::Reset
        } else {
            Self::PutState(rng.gen_range(0..2))
        }
    }

    fn request(self) -> (&'static str, &'static str, Option<String>) {
        match self {
            Self::PutState(n) => (
                "PUT",
                "/_emulator/state",
                Some(replacement_fixture(n).to_string()),
            ),
            Self::Reset => ("POST", "/_emulator/reset", None),
        }
    }

    /// The state after it.
    fn result(self) -> Model {
        let fixture = match self {
            Self::PutState(n) => replacement_fixture(n),
            Self::Reset => seed_fixture(),
        };
        Model::from_state(&fixture).expect("the test's fixtures are valid")
    }
}

/// The summary a whole-state change answers counts what the model holds.
fn check_summary(reply: &Reply, after: &Model) -> Result<(), String> {
    if reply.status != 200 {
        return Err(format!("answered {} {}", reply.status, reply.body));
    }
    let summary = reply.json()?;
    let expected = [
        ("accounts", after.accounts.len()),
        ("catalog", after.catalog.len()),
        ("instances", after.instances()),
        ("records", after.records()),
    ];
    for (key, count) in expected {
        if summary[key] != count {
            return Err(format!("summary {summary}: the model has {count} {key}"));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

fn plugin(name: &str, version: &str, status: &str, first: &str, last: &str) -> Value {
    let mut p = json!({"name": name, "version": version, "status": status});
    if !first.is_empty() {
        p["firstHeartbeatTime"] = json!(first);
    }
    if !last.is_empty() {
        p["lastHeartbeatTime"] = json!(last);
    }
    p
}

fn account(id: &str, default: bool, key: &str, enabled: bool) -> Value {
    json!({"accountId": id, "default": default,
           "accessKeys": [{"id": key, "secret": format!("{key}-secret"), "enabled": enabled}]})
}

/// The first start's `--data`, and what `reset` restores: instances of no writer and of some
/// writers, in two accounts.
fn seed_fixture() -> Value {
    json!({
        "accounts": [
            account(DEFAULT_ACCOUNT, true, "LTAI5tCrashKey001", true),
            account(OTHER_ACCOUNT, false, "LTAI5tCrashKey002", false),
        ],
        "catalog": [
            {"name": "ecs_tools_test", "type": "Persist"},
            {"name": "config_ecs_instance_connect", "type": "Once"},
        ],
        "instances": [
            {"instanceId": "i-seed-0001", "regionId": "cn-hangzhou", "plugins": [
                plugin("ecs_tools_test", "1.1", "Running", "2025-05-20T08:00:00Z", "2026-01-01T00:00:00Z"),
                plugin("config_ecs_instance_connect", "", "Installed", "", ""),
            ]},
            {"instanceId": "i-seed-0002", "regionId": "cn-shanghai", "accountId": OTHER_ACCOUNT,
             "plugins": []},
            {"instanceId": "i-crash-w0-0", "regionId": "cn-hangzhou", "plugins": [
                plugin("ecs_tools_test", "1.0", "Stopped", "2025-06-01T00:00:00Z", "2025-06-02T00:00:00Z"),
            ]},
            {"instanceId": "i-crash-w1-1", "regionId": "cn-shanghai", "plugins": [
                plugin("crash-probe", "2.0.3", "Crashed", "2025-07-01T00:00:00Z", "2025-07-01T01:00:00Z"),
                plugin("multi-nic-util", "", "NotInstalled", "", ""),
            ]},
            {"instanceId": "i-crash-w2-2", "regionId": "emulator-crash-1", "accountId": OTHER_ACCOUNT,
             "plugins": [plugin("ecs_tools_test", "1.1", "Running", "2025-08-01T00:00:00Z", "2025-08-01T00:00:00Z")]},
        ],
    })
}

/// What `PUT /_emulator/state` sends: `0` makes the other account the default one and moves a
/// writer's instance there; `1` has no writer's instance at all.
fn replacement_fixture(n: usize) -> Value {
    match n {
        0 => json!({
            "accounts": [
                account(DEFAULT_ACCOUNT, false, "LTAI5tCrashKey001", false),
                account(OTHER_ACCOUNT, true, "LTAI5tCrashKey003", true),
            ],
            "catalog": [{"name": "crash-probe", "type": "Once"}],
            "instances": [
                {"instanceId": "i-crash-w3-4", "regionId": "cn-shanghai", "plugins": [
                    plugin("crash-probe", "1.0", "Installed", "2025-09-09T09:09:09Z", "2025-09-09T09:09:09Z"),
                ]},
                {"instanceId": "i-crash-w0-1", "regionId": "cn-hangzhou", "accountId": DEFAULT_ACCOUNT,
                 "plugins": [plugin("ecs_tools_test", "2.0.3", "Unknown", "", "")]},
                {"instanceId": "i-alt-0001", "regionId": "emulator-crash-1", "plugins": []},
            ],
        }),
        _ => json!({
            "accounts": [account(DEFAULT_ACCOUNT, true, "LTAI5tCrashKey001", true)],
            "instances": [
                {"instanceId": "i-alt-0002", "regionId": "cn-hangzhou", "plugins": [
                    plugin("multi-nic-util", "1.0", "Removed", "2025-10-10T10:10:10Z", "2025-10-11T10:10:10Z"),
                ]},
            ],
        }),
    }
}

/// Data a later start is given: the state file exists, so it must be ignored.
fn ignored_fixture() -> Value {
    json!({
        "accounts": [account("1000000000000009", true, "LTAI5tIgnoredKey1", true)],
        "instances": [{"instanceId": "i-ignored-0001", "regionId": "cn-hangzhou", "plugins": []}],
    })
}

// ---------------------------------------------------------------------------------------------
// The process and the wire
// ---------------------------------------------------------------------------------------------

/// A running emulator, killed with SIGKILL when dropped.
struct Emulator {
    child: Child,
    addr: SocketAddr,
    drain: Option<JoinHandle<()>>,
}

impl Emulator {
    /// Starts the binary on a free port and waits for its ready line.
    fn start(args: &[OsString]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ecs-emulator"))
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .env("RUST_LOG", "warn")
            .env_remove("ECS_EMULATOR_DATA")
            .env_remove("ECS_EMULATOR_STATE_FILE")
            .env_remove("ECS_EMULATOR_ADMIN_TOKEN")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the binary starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let (ready, addr) = mpsc::channel();
        // Reads the ready line, then keeps draining stdout so that logging never blocks.
        let drain = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(rest) = line.split("ecs-emulator ready on http://").nth(1) {
                    let _ = ready.send(rest.trim().to_owned());
                }
            }
        });
        let mut emulator = Self {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            drain: Some(drain),
        };
        let addr = addr.recv_timeout(START_TIMEOUT).unwrap_or_else(|e| {
            panic!("no ready line from the emulator started with {args:?} ({e})")
        });
        emulator.addr = addr.parse().expect("the ready line ends with the address");
        emulator
    }

    /// `kill -9` (what `Child::kill` sends on Unix), and waits until it is gone.
    fn kill_9(self) {
        drop(self);
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(drain) = self.drain.take() {
            let _ = drain.join();
        }
    }
}

/// A directory under the system's temp directory, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(label: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("ecs-emulator-crash-{}-{label}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("the temp directory is made");
        Self(dir)
    }

    fn write(&self, name: &str, json: &Value) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, json.to_string()).expect("the fixture is written");
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A complete answer.
#[derive(Debug)]
struct Reply {
    status: u16,
    body: String,
}

impl Reply {
    fn json(&self) -> Result<Value, String> {
        serde_json::from_str(&self.body).map_err(|e| format!("not JSON ({e}): {}", self.body))
    }
}

/// Why a request has no usable answer.
#[derive(Debug)]
enum Failure {
    /// No complete answer came back: refused, cut or timed out.
    Cut(String),
    /// An answer that is wrong whatever happened to the process.
    Wrong(String),
}

/// One request on its own connection (`Connection: close`); the answer once it is complete
/// (head and `Content-Length` bytes of body).
fn http(addr: SocketAddr, method: &str, path: &str, body: Option<&str>) -> Result<Reply, Failure> {
    let cut = |what: &str, e: std::io::Error| Failure::Cut(format!("{what}: {e}"));
    let mut stream =
        TcpStream::connect_timeout(&addr, IO_TIMEOUT).map_err(|e| cut("connect", e))?;
    stream
        .set_read_timeout(Some(IO_TIMEOUT))
        .and_then(|()| stream.set_write_timeout(Some(IO_TIMEOUT)))
        .map_err(|e| cut("set timeouts", e))?;
    let body = body.unwrap_or("");
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream
        .write_all(request.as_bytes())
        .map_err(|e| cut("write", e))?;
    let mut bytes = Vec::new();
    let mut chunk = [0_u8; 16 * 1024];
    loop {
        if let Some(reply) = complete_reply(&bytes)? {
            return Ok(reply);
        }
        match stream.read(&mut chunk) {
            Ok(0) => {
                return Err(Failure::Cut(format!(
                    "closed after {} bytes of the answer",
                    bytes.len()
                )))
            }
            Ok(n) => bytes.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(cut(&format!("read after {} bytes", bytes.len()), e)),
        }
    }
}

/// The answer in `bytes` if it is all there.
fn complete_reply(bytes: &[u8]) -> Result<Option<Reply>, Failure> {
    let Some(end) = bytes.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Ok(None);
    };
    let head = String::from_utf8_lossy(&bytes[..end]);
    let wrong = |what: &str| Failure::Wrong(format!("{what} in the answer head {head:?}"));
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| wrong("no status"))?;
    let length = match status {
        204 => 0,
        _ => head
            .lines()
            .filter_map(|line| line.split_once(':'))
            .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
            .and_then(|(_, value)| value.trim().parse().ok())
            .ok_or_else(|| wrong("no Content-Length"))?,
    };
    let body = &bytes[end + 4..];
    if body.len() < length {
        return Ok(None);
    }
    Ok(Some(Reply {
        status,
        body: String::from_utf8_lossy(&body[..length]).into_owned(),
    }))
}

/// `GET /_emulator/state`.
fn export(addr: SocketAddr) -> Value {
    let reply = http(addr, "GET", "/_emulator/state", None)
        .unwrap_or_else(|e| panic!("GET /_emulator/state: {e:?}"));
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.json().unwrap()
}

/// Stops the clock at `now`, so that events write known times.
fn freeze_clock(addr: SocketAddr, now: &str) -> Result<(), Failure> {
    let body = json!({"now": now, "frozen": true}).to_string();
    let reply = http(addr, "PUT", "/_emulator/clock", Some(&body))?;
    if reply.status != 200 {
        return Err(Failure::Wrong(format!(
            "PUT /_emulator/clock answered {} {}",
            reply.status, reply.body
        )));
    }
    Ok(())
}
