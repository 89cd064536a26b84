//! `--state-file` as a user meets it (SPEC section 8), through the built binary: the files it
//! refuses (and leaves as they were), a file another emulator holds, the environment twin, the
//! seed and `reset` across restarts, SIGTERM with requests in flight, what is not durable, and
//! a state file in a directory that does not exist.
//!
//! Files are built and tampered with through `rusqlite` (the `sqlite3` tool may be missing).

use std::ffi::{OsStr, OsString};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// How long a start may take before the ready line (or the exit of a refused start).
const START_TIMEOUT: Duration = Duration::from_secs(20);
/// How long the emulator may take to exit after SIGTERM.
const EXIT_TIMEOUT: Duration = Duration::from_secs(20);
/// Connect, read and write timeout of one request.
const IO_TIMEOUT: Duration = Duration::from_secs(20);

/// The region of every instance in the fixtures.
const REGION: &str = "cn-hangzhou";

// ---------------------------------------------------------------------------------------------
// Refusals
// ---------------------------------------------------------------------------------------------

/// Every kind of file the emulator must refuse is refused with exit code 2, no ready line, a
/// message on stderr naming the file and the problem, and the file byte for byte as it was:
/// (a) random bytes, (b) a state file cut to half its size, (c) a state file with bytes in its
/// table b-trees overwritten, (d) someone else's SQLite database, (e) a state file of a newer
/// schema (`user_version` 99), (f) a state file whose data breaks a rule (a plug-in status
/// `Sleeping`).
#[test]
fn refused_files_are_left_untouched() {
    let dir = TempDir::new("refused");
    let base = make_state_file(&dir, "base.db", 40);
    let base_bytes = std::fs::read(&base).expect("the state file is read");

    // (a) Random bytes (deterministic), a few pages' worth.
    let random = dir.path("random.db");
    std::fs::write(&random, pseudo_random_bytes(3 * 4096 + 123, 0x5eed)).unwrap();
    expect_refused(
        &random,
        &["is damaged", "does not start as an SQLite database does"],
    );

    // (b) The state file cut to half its size.
    let truncated = dir.path("truncated.db");
    std::fs::write(&truncated, &base_bytes[..base_bytes.len() / 2]).unwrap();
    expect_refused(&truncated, &["is damaged"]);

    // (c) Bytes inside the table b-trees overwritten.
    overwritten_pages_are_refused(&dir, &base);

    // (d) An SQLite database of someone else: a table of its own, application_id 0.
    let foreign = dir.path("foreign.db");
    {
        let db = rusqlite::Connection::open(&foreign).unwrap();
        db.execute_batch(
            "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL);
             INSERT INTO notes (body) VALUES ('not an emulator''s file');",
        )
        .unwrap();
        db.close().unwrap();
    }
    expect_refused(&foreign, &["is not an ecs-emulator state file"]);

    // (e) A state file of a newer schema.
    let newer = dir.path("newer.db");
    std::fs::copy(&base, &newer).unwrap();
    tamper(&newer, |db| db.pragma_update(None, "user_version", 99));
    expect_refused(&newer, &["has schema version 99, newer than the"]);

    // (f) A state file whose data breaks a rule: a status that is not a plug-in status.
    let sleeping = dir.path("sleeping.db");
    std::fs::copy(&base, &sleeping).unwrap();
    tamper(&sleeping, |db| {
        let changed = db.execute(
            "UPDATE plugin SET status = 'Sleeping' WHERE instance_id = \
             (SELECT min(instance_id) FROM plugin)",
            [],
        )?;
        assert!(changed > 0, "no plug-in row was changed");
        Ok(())
    });
    expect_refused(
        &sleeping,
        &["holds data the emulator cannot serve", "Sleeping"],
    );
}

/// A refusal leaves nothing beside the file either: no `-wal` or `-shm` appears next to a
/// refused state file (a file in WAL mode, as every state file is: a newer schema, data that
/// breaks a rule, a truncated file).
#[test]
fn a_refusal_leaves_no_files_beside_the_state_file() {
    let dir = TempDir::new("sidecars");
    let base = make_state_file(&dir, "base.db", 10);
    let newer = dir.path("newer.db");
    std::fs::copy(&base, &newer).unwrap();
    tamper(&newer, |db| db.pragma_update(None, "user_version", 99));
    let sleeping = dir.path("sleeping.db");
    std::fs::copy(&base, &sleeping).unwrap();
    tamper(&sleeping, |db| {
        db.execute("UPDATE plugin SET status = 'Sleeping'", [])
            .map(drop)
    });
    let truncated = dir.path("truncated.db");
    let bytes = std::fs::read(&base).unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    std::fs::remove_file(&base).unwrap();
    for state in [&newer, &sleeping, &truncated] {
        expect_refused(state, &[]);
    }
    let mut left: Vec<_> = std::fs::read_dir(&dir.0)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".db") || name.ends_with("-wal") || name.ends_with("-shm"))
        .collect();
    left.sort();
    assert_eq!(left, ["newer.db", "sleeping.db", "truncated.db"]);
}

/// (c) of [`refused_files_are_left_untouched`]: 64 bytes overwritten in a page of a table
/// b-tree. The pages are tried in a fixed order (the plug-in and instance tables' pages nearest
/// the middle of the file first; in each page its middle, then its header) until a corruption
/// is one SQLite or the loader can see; at least one must be, and it must be refused untouched.
fn overwritten_pages_are_refused(dir: &TempDir, base: &Path) {
    // Page numbers from a scratch copy: opening the base itself would add a -wal and a -shm.
    let probe = dir.path("probe.db");
    std::fs::copy(base, &probe).unwrap();
    let (page_size, page_count, mut pages) = {
        let db = rusqlite::Connection::open(&probe).unwrap();
        let number = |n: i64| u64::try_from(n).expect("a page number or size");
        let page_size: i64 = db
            .pragma_query_value(None, "page_size", |r| r.get(0))
            .unwrap();
        let page_count: i64 = db
            .pragma_query_value(None, "page_count", |r| r.get(0))
            .unwrap();
        let pages: Vec<i64> = db
            .prepare(
                "SELECT pageno FROM dbstat WHERE name IN \
                 ('plugin', 'instance', 'seed_plugin', 'seed_instance') ORDER BY pageno",
            )
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        db.close().unwrap();
        (
            number(page_size),
            number(page_count),
            pages.into_iter().map(number).collect::<Vec<_>>(),
        )
    };
    assert!(!pages.is_empty(), "no pages of the data tables were found");
    let middle = page_count / 2;
    pages.sort_by_key(|&p| (p.abs_diff(middle), p));
    let original = std::fs::read(base).unwrap();
    let spots = pages
        .iter()
        .flat_map(|&page| [(page, page_size / 2), (page, 0)]);
    let mut undetected = Vec::new();
    for (page, offset) in spots {
        let start = usize::try_from((page - 1) * page_size + offset).unwrap();
        let mut bytes = original.clone();
        let end = (start + 64).min(bytes.len());
        for (i, byte) in bytes[start..end].iter_mut().enumerate() {
            *byte = 0xA5 ^ (i as u8);
        }
        let corrupt = dir.path(&format!("overwritten-{page}-{offset}.db"));
        std::fs::write(&corrupt, &bytes).unwrap();
        let before = sha256(&corrupt);
        match attempt(
            &[arg("--state-file"), corrupt.clone().into_os_string()],
            &[],
        ) {
            Outcome::Started => undetected.push(format!("page {page} at offset {offset}")),
            Outcome::Exited(exit) => {
                check_refusal(&corrupt, &exit, &[]);
                let stderr = &exit.stderr;
                assert!(
                    stderr.contains("is damaged")
                        || stderr.contains("holds data the emulator cannot serve"),
                    "page {page} at offset {offset}: refused for another reason: {stderr}"
                );
                assert_eq!(
                    sha256(&corrupt),
                    before,
                    "{} was modified",
                    corrupt.display()
                );
                return;
            }
        }
    }
    panic!("no overwritten page was detected; tried {undetected:?}");
}

/// A second emulator on a file the first one holds is refused (exit 2, "held by another
/// running emulator", no ready line) without touching the file, and the first one keeps
/// serving the same data and accepting changes.
#[test]
fn a_held_file_is_refused_and_the_holder_keeps_serving() {
    let dir = TempDir::new("held");
    let data = dir.write_json("a.json", &fixture("a", 6));
    let state = dir.path("state.db");
    let first = Emulator::start(&state_args(&state, Some(&data)), &[]);
    let before = export(first.addr);
    let (main_before, wal_before) = (sha256(&state), sha256_if_any(&wal_of(&state)));

    let exit = match attempt(&state_args(&state, None), &[]) {
        Outcome::Exited(exit) => exit,
        Outcome::Started => panic!("a second emulator started on a held state file"),
    };
    check_refusal(&state, &exit, &["is held by another running emulator"]);
    assert_eq!(sha256(&state), main_before, "the held file was modified");
    assert_eq!(
        sha256_if_any(&wal_of(&state)),
        wal_before,
        "the held file's -wal was modified"
    );

    assert_eq!(export(first.addr), before, "the holder's data changed");
    let reply = list_plugins(first.addr, "ecs_tools_test");
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.json()["TotalCount"], 6);
    put_instance(first.addr, "i-held-new", "9.9", "Stopped");
    let status = first.terminate();
    assert!(status.success(), "the holder exited with {status:?}");
    let again = Emulator::start(&state_args(&state, None), &[]);
    assert_eq!(instance_ids(&export(again.addr)).len(), 7);
}

/// `ECS_EMULATOR_STATE_FILE` works as `--state-file` does: it creates the file from the data,
/// a change made then is there on a start that names the file only through the variable, and
/// a refusal through it names the file.
#[test]
fn the_environment_twin_works_like_the_flag() {
    let dir = TempDir::new("env");
    let data = dir.write_json("a.json", &fixture("a", 4));
    let state = dir.path("state.db");
    let env = [("ECS_EMULATOR_STATE_FILE", state.as_os_str())];
    let first = Emulator::start(&[arg("--data"), data.clone().into_os_string()], &env);
    assert!(
        std::fs::read(&state)
            .unwrap()
            .starts_with(b"SQLite format 3\0"),
        "{} was not created as an SQLite database",
        state.display()
    );
    put_instance(first.addr, "i-env-new", "1.2", "Running");
    let changed = export(first.addr);
    assert!(first.terminate().success());

    let second = Emulator::start(&[], &env);
    assert_eq!(export(second.addr), changed);
    let before = sha256(&state);
    let exit = match attempt(&[], &env) {
        Outcome::Exited(exit) => exit,
        Outcome::Started => panic!("a second emulator started on a held state file"),
    };
    check_refusal(&state, &exit, &["is held by another running emulator"]);
    assert_eq!(sha256(&state), before);
}

/// The file remembers its seed: created from `--data A` and changed, a restart with
/// `--data B` serves A plus the change (B is not read, and the log says so); `reset` brings
/// back A's data, durably: after `kill -9` and a start with no `--data` it is still A's.
#[test]
fn the_seed_and_reset_survive_restarts() {
    let dir = TempDir::new("seed");
    let a = dir.write_json("a.json", &fixture("a", 5));
    let b = dir.write_json("b.json", &fixture("b", 3));
    let state = dir.path("state.db");

    let first = Emulator::start(&state_args(&state, Some(&a)), &[]);
    let seeded = export(first.addr);
    assert_eq!(instance_ids(&seeded), ids("a", 5));
    put_instance(first.addr, "i-a-0002", "7.0", "Crashed");
    put_instance(first.addr, "i-a-9999", "1.0", "Running");
    let changed = export(first.addr);
    assert_ne!(changed, seeded);
    assert!(first.terminate().success());

    let second = Emulator::start(&state_args(&state, Some(&b)), &[]);
    assert_eq!(export(second.addr), changed, "not A plus the change");
    assert!(
        second
            .log()
            .iter()
            .any(|line| line.contains(&format!("--data {} is not read", b.display()))),
        "no log line says that --data is not read: {:?}",
        second.log()
    );
    let reply = http(second.addr, "POST", "/_emulator/reset", None);
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(export(second.addr), seeded, "reset did not restore A");
    second.kill_9();

    let third = Emulator::start(&state_args(&state, None), &[]);
    assert_eq!(export(third.addr), seeded, "the reset was not durable");
    // And reset still restores A, whatever this start was given.
    put_instance(third.addr, "i-a-0001", "8.0", "Stopped");
    let reply = http(third.addr, "POST", "/_emulator/reset", None);
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(export(third.addr), seeded);
}

/// SIGTERM with two requests in flight: an API request held by a 1.5 s latency fault, and a
/// `PUT /_emulator/state` of thousands of instances whose body is only half sent when the
/// signal lands (the `100 Continue` proves the server is reading it; connections refused prove
/// the shutdown began before the rest is sent). Both get their complete 200 answer, the process
/// exits 0 with the `-wal` (and `-shm`) gone, and the replaced state is there on a restart.
#[test]
fn sigterm_finishes_in_flight_requests_and_closes_the_file() {
    let dir = TempDir::new("sigterm");
    let data = dir.write_json("a.json", &fixture("a", 5));
    let state = dir.path("state.db");
    let emulator = Emulator::start(&state_args(&state, Some(&data)), &[]);
    let addr = emulator.addr;

    let fault = http(
        addr,
        "POST",
        "/_emulator/faults",
        Some(&json!({"action": "ListPluginStatus", "latencyMs": 1500}).to_string()),
    );
    assert_eq!(fault.status, 201, "{}", fault.body);
    let slow = std::thread::spawn(move || list_plugins(addr, "ecs_tools_test"));
    // The rule fires before its latency is waited: then the API request is in flight.
    wait_for("the latency fault to fire", Duration::from_secs(10), || {
        let faults = http(addr, "GET", "/_emulator/faults", None).json();
        faults["faults"][0]["fired"] == 1
    });

    let replacement = fixture("big", 3_000);
    let body = replacement.to_string();
    let mut put = TcpStream::connect_timeout(&addr, IO_TIMEOUT).unwrap();
    put.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    put.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
    write!(
        put,
        "PUT /_emulator/state HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    let mut received = Vec::new();
    let interim = read_head(&mut put, &mut received);
    assert!(
        interim.starts_with("HTTP/1.1 100"),
        "no 100 Continue: {interim}"
    );
    let half = body.len() / 2;
    put.write_all(&body.as_bytes()[..half]).unwrap();
    put.flush().unwrap();

    emulator.sigterm();
    wait_for(
        "the emulator to stop accepting connections",
        EXIT_TIMEOUT,
        || TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err(),
    );
    put.write_all(&body.as_bytes()[half..]).unwrap();
    let reply = read_reply(&mut put, received)
        .unwrap_or_else(|e| panic!("the in-flight PUT got no complete answer: {e}"));
    assert_eq!(reply.status, 200, "{}", reply.body);
    let slow = slow.join().expect("the slow request's thread");
    assert_eq!(slow.status, 200, "{}", slow.body);
    // Read after its latency: the data before the replacement or after it.
    let total = &slow.json()["TotalCount"];
    assert!(*total == 5 || *total == 3_000, "{}", slow.body);

    let status = emulator.wait_exit();
    assert_eq!(status.code(), Some(0), "{status:?}");
    for sidecar in [wal_of(&state), shm_of(&state)] {
        assert!(
            !sidecar.exists(),
            "{} is left after the exit",
            sidecar.display()
        );
    }

    let again = Emulator::start(&state_args(&state, None), &[]);
    let after = export(again.addr);
    assert_eq!(instance_ids(&after), ids("big", 3_000));
    let (got, sent) = (&after["instances"][1234], &replacement["instances"][1234]);
    assert_eq!(got["instanceId"], sent["instanceId"]);
    assert_eq!(got["plugins"], sent["plugins"]);
}

/// Fault rules, the request journal and the clock are not durable: set, used and seen before a
/// SIGTERM, they are empty (real time) after a restart on the same file, while a change written
/// at the frozen time keeps its time.
#[test]
fn faults_journal_and_clock_start_empty_after_a_restart() {
    let dir = TempDir::new("session");
    let data = dir.write_json("a.json", &fixture("a", 3));
    let state = dir.path("state.db");
    let first = Emulator::start(&state_args(&state, Some(&data)), &[]);
    let addr = first.addr;

    let fault = http(
        addr,
        "POST",
        "/_emulator/faults",
        Some(
            &json!({"action": "ListPluginStatus", "code": "Throttling.User", "status": 400,
                    "times": 1})
            .to_string(),
        ),
    );
    assert_eq!(fault.status, 201, "{}", fault.body);
    let clock = http(
        addr,
        "PUT",
        "/_emulator/clock",
        Some(&json!({"now": "2030-01-02T03:04:05Z", "frozen": true}).to_string()),
    );
    assert_eq!(clock.status, 200, "{}", clock.body);
    let replies: Vec<u16> = (0..3)
        .map(|_| list_plugins(addr, "ecs_tools_test").status)
        .collect();
    assert_eq!(replies, [400, 200, 200]);
    let event = http(
        addr,
        "POST",
        "/_emulator/instances/i-a-0001/plugins/ecs_tools_test/heartbeat",
        None,
    );
    assert_eq!(event.status, 200, "{}", event.body);
    // What the restart must not keep was there.
    let faults = http(addr, "GET", "/_emulator/faults", None).json();
    assert_eq!(faults["faults"].as_array().map(Vec::len), Some(1));
    let journal = http(addr, "GET", "/_emulator/requests", None).json();
    assert_eq!(journal["requests"].as_array().map(Vec::len), Some(3));
    let clock = http(addr, "GET", "/_emulator/clock", None).json();
    assert_eq!(clock["frozen"], true, "{clock}");
    assert!(first.terminate().success());

    let second = Emulator::start(&state_args(&state, None), &[]);
    let addr = second.addr;
    let faults = http(addr, "GET", "/_emulator/faults", None).json();
    assert_eq!(faults, json!({"faults": []}));
    let journal = http(addr, "GET", "/_emulator/requests", None).json();
    assert_eq!(journal, json!({"requests": []}));
    let clock = http(addr, "GET", "/_emulator/clock", None).json();
    assert_eq!(clock["frozen"], false, "{clock}");
    assert_eq!(clock["real"], true, "{clock}");
    // No fault answers now, and the data written at the frozen time kept that time.
    assert_eq!(list_plugins(addr, "ecs_tools_test").status, 200);
    let record = http(
        addr,
        "GET",
        "/_emulator/instances/i-a-0001/plugins/ecs_tools_test",
        None,
    );
    assert_eq!(record.status, 200, "{}", record.body);
    assert!(
        record.body.contains("2030-01-02T03:04:05Z"),
        "the heartbeat's time was not kept: {}",
        record.body
    );
}

/// A state file in a directory that does not exist: a non-zero exit, no ready line, a message
/// naming the path, and nothing created (neither the directory nor any file).
#[test]
fn a_state_file_in_a_missing_directory_is_a_clear_error() {
    let dir = TempDir::new("missing");
    let missing = dir.path("no-such-directory");
    let state = missing.join("state.db");
    let exit = match attempt(&state_args(&state, None), &[]) {
        Outcome::Exited(exit) => exit,
        Outcome::Started => panic!("the emulator started on {}", state.display()),
    };
    assert!(!exit.status.success(), "{:?}", exit.status);
    assert!(
        exit.stderr.contains(&state.display().to_string()),
        "stderr does not name {}: {}",
        state.display(),
        exit.stderr
    );
    assert!(!exit.ready, "a ready line was printed");
    assert!(!missing.exists(), "{} was created", missing.display());
    let left: Vec<_> = std::fs::read_dir(&dir.0)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "files were created: {left:?}");
}

// ---------------------------------------------------------------------------------------------
// Files
// ---------------------------------------------------------------------------------------------

/// Makes a state file of `instances` instances the way a user does: an emulator started on a
/// new path with a small `--data`, then stopped with SIGTERM.
fn make_state_file(dir: &TempDir, name: &str, instances: usize) -> PathBuf {
    let data = dir.write_json(&format!("{name}.json"), &fixture("base", instances));
    let state = dir.path(name);
    let emulator = Emulator::start(&state_args(&state, Some(&data)), &[]);
    assert_eq!(instance_ids(&export(emulator.addr)).len(), instances);
    let status = emulator.terminate();
    assert!(status.success(), "{status:?}");
    assert!(!wal_of(&state).exists(), "the -wal is left after SIGTERM");
    state
}

/// Changes a copy of a state file through SQLite.
fn tamper(path: &Path, change: impl FnOnce(&rusqlite::Connection) -> rusqlite::Result<()>) {
    let db = rusqlite::Connection::open(path).unwrap();
    change(&db).unwrap();
    db.close().unwrap();
    assert!(!wal_of(path).exists());
}

/// Starts the emulator on `state` and checks it is refused as the test of refusals says, with
/// stderr containing every one of `problem`.
fn expect_refused(state: &Path, problem: &[&str]) {
    let before = sha256(state);
    let exit = match attempt(&[arg("--state-file"), state.as_os_str().to_owned()], &[]) {
        Outcome::Exited(exit) => exit,
        Outcome::Started => panic!("the emulator started on {}", state.display()),
    };
    check_refusal(state, &exit, problem);
    assert_eq!(sha256(state), before, "{} was modified", state.display());
}

/// Exit code 2, no ready line, and stderr naming the file and every one of `problem`.
fn check_refusal(state: &Path, exit: &Exit, problem: &[&str]) {
    let file = state.display().to_string();
    assert_eq!(
        exit.status.code(),
        Some(2),
        "{file}: {:?}, stderr: {}",
        exit.status,
        exit.stderr
    );
    assert!(!exit.ready, "{file}: a ready line was printed");
    assert!(
        exit.stderr.contains(&format!("state file {file}")),
        "stderr does not name {file}: {}",
        exit.stderr
    );
    for words in problem {
        assert!(
            exit.stderr.contains(words),
            "{file}: stderr does not say {words:?}: {}",
            exit.stderr
        );
    }
}

fn sha256(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    hex::encode(Sha256::digest(bytes))
}

/// The SHA-256 of a file that may not exist.
fn sha256_if_any(path: &Path) -> Option<String> {
    path.exists().then(|| sha256(path))
}

fn wal_of(state: &Path) -> PathBuf {
    sidecar(state, "-wal")
}

fn shm_of(state: &Path) -> PathBuf {
    sidecar(state, "-shm")
}

fn sidecar(state: &Path, suffix: &str) -> PathBuf {
    let mut name = state.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// `len` bytes from a xorshift generator.
fn pseudo_random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// A directory under the system's temp directory, unique to this process and call, removed
/// when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(label: &str) -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!(
            "ecs-emulator-state-file-{}-{n}-{label}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("the temp directory is made");
        Self(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    fn write_json(&self, name: &str, json: &Value) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, json.to_string()).expect("the fixture is written");
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

// ---------------------------------------------------------------------------------------------
// Data
// ---------------------------------------------------------------------------------------------

/// `n` instances `i-{tag}-0001`... in one region, each with one or two plug-ins.
fn fixture(tag: &str, n: usize) -> Value {
    let instances: Vec<Value> = (1..=n)
        .map(|k| {
            let status = ["Running", "Stopped", "Crashed"][k % 3];
            let mut plugins = vec![json!({
                "name": "ecs_tools_test", "version": format!("1.{}", k % 7),
                "status": status,
                "firstHeartbeatTime": "2025-01-01T00:00:00Z",
                "lastHeartbeatTime": format!("2025-02-{:02}T10:00:00Z", 1 + k % 28),
            })];
            if k % 2 == 0 {
                plugins.push(json!({
                    "name": "config_ecs_instance_connect", "version": "", "status": "Installed",
                }));
            }
            json!({"instanceId": format!("i-{tag}-{k:04}"), "regionId": REGION,
                   "plugins": plugins})
        })
        .collect();
    json!({
        "catalog": [
            {"name": "ecs_tools_test", "type": "Persist"},
            {"name": "config_ecs_instance_connect", "type": "Once"},
        ],
        "instances": instances,
    })
}

fn ids(tag: &str, n: usize) -> Vec<String> {
    (1..=n).map(|k| format!("i-{tag}-{k:04}")).collect()
}

/// The instance ids of an exported state, sorted.
fn instance_ids(state: &Value) -> Vec<String> {
    let mut ids: Vec<String> = state["instances"]
        .as_array()
        .expect("the export has instances")
        .iter()
        .map(|i| i["instanceId"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

// ---------------------------------------------------------------------------------------------
// The process
// ---------------------------------------------------------------------------------------------

fn arg(text: &str) -> OsString {
    OsString::from(text)
}

fn state_args(state: &Path, data: Option<&PathBuf>) -> Vec<OsString> {
    let mut args = vec![arg("--state-file"), state.as_os_str().to_owned()];
    if let Some(data) = data {
        args.extend([arg("--data"), data.as_os_str().to_owned()]);
    }
    args
}

/// The emulator binary with a free port, info logs, and no `ECS_EMULATOR_*` from the caller's
/// environment but those in `env`.
fn command(args: &[OsString], env: &[(&str, &OsStr)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ecs-emulator"));
    command
        .args(["--listen", "127.0.0.1:0"])
        .args(args)
        .env("RUST_LOG", "info");
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("ECS_EMULATOR_") {
            command.env_remove(name);
        }
    }
    command.envs(env.iter().copied());
    command
}

/// A running emulator, killed with SIGKILL when dropped.
struct Emulator {
    child: Child,
    addr: SocketAddr,
    log: Arc<Mutex<Vec<String>>>,
    drain: Option<JoinHandle<()>>,
}

impl Emulator {
    /// Starts the binary and waits for its ready line.
    fn start(args: &[OsString], env: &[(&str, &OsStr)]) -> Self {
        let mut child = command(args, env)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the binary starts");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (ready, addr) = mpsc::channel();
        let drain = {
            let stdout = child.stdout.take().expect("piped stdout");
            let log = log.clone();
            // Reads the ready line, then keeps draining stdout so that logging never blocks.
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    if let Some(rest) = line.split("ecs-emulator ready on http://").nth(1) {
                        let _ = ready.send(rest.trim().to_owned());
                    }
                    log.lock().unwrap().push(line);
                }
            })
        };
        let mut emulator = Self {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            log,
            drain: Some(drain),
        };
        let addr = addr.recv_timeout(START_TIMEOUT).unwrap_or_else(|e| {
            panic!(
                "no ready line from the emulator started with {args:?} ({e}); log: {:?}",
                emulator.log()
            )
        });
        emulator.addr = addr.parse().expect("the ready line ends with the address");
        emulator
    }

    /// The lines logged so far.
    fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    fn sigterm(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -TERM failed: {status:?}");
    }

    /// Waits (bounded) for the exit.
    fn wait_exit(mut self) -> ExitStatus {
        let deadline = Instant::now() + EXIT_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().expect("the child can be waited for") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the emulator did not exit within {EXIT_TIMEOUT:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGTERM, and the exit status.
    fn terminate(self) -> ExitStatus {
        self.sigterm();
        self.wait_exit()
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

/// How a start that may be refused ended.
enum Outcome {
    /// It printed its ready line (and was then killed).
    Started,
    /// It exited without serving.
    Exited(Exit),
}

/// An exit, with what the process printed.
struct Exit {
    status: ExitStatus,
    stderr: String,
    /// Whether a ready line was printed.
    ready: bool,
}

/// A child killed (and reaped) when dropped, should a check panic while it runs.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Starts the binary and waits (bounded) for it either to exit or to print its ready line.
fn attempt(args: &[OsString], env: &[(&str, &OsStr)]) -> Outcome {
    let mut child = KillOnDrop(
        command(args, env)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary starts"),
    );
    let child = &mut child.0;
    let (lines, seen) = mpsc::channel::<String>();
    let stdout = child.stdout.take().expect("piped stdout");
    let out = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let _ = lines.send(line);
        }
    });
    let mut stderr_pipe = child.stderr.take().expect("piped stderr");
    let err = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr_pipe.read_to_string(&mut text);
        text
    });
    let deadline = Instant::now() + START_TIMEOUT;
    let mut ready = false;
    let status = loop {
        while let Ok(line) = seen.try_recv() {
            ready |= line.contains("ecs-emulator ready on");
        }
        if ready {
            let _ = child.kill();
            let _ = child.wait();
            let _ = out.join();
            let _ = err.join();
            return Outcome::Started;
        }
        if let Some(status) = child.try_wait().expect("the child can be waited for") {
            break status;
        }
        if Instant::now() >= deadline {
            panic!("started with {args:?}: neither exited nor ready within {START_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let _ = out.join();
    ready |= seen
        .try_iter()
        .any(|line| line.contains("ecs-emulator ready on"));
    let stderr = err.join().expect("the stderr reader");
    Outcome::Exited(Exit {
        status,
        stderr,
        ready,
    })
}

/// Polls `done` every 20 ms until it holds, at most `limit`.
fn wait_for(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(
            Instant::now() < deadline,
            "waited {limit:?} for {what} in vain"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

// ---------------------------------------------------------------------------------------------
// The wire
// ---------------------------------------------------------------------------------------------

/// A complete answer.
#[derive(Debug)]
struct Reply {
    status: u16,
    body: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// One request on its own connection (`Connection: close`); panics without a complete answer.
fn http(addr: SocketAddr, method: &str, path: &str, body: Option<&str>) -> Reply {
    let what = format!("{method} {path}");
    let mut stream = TcpStream::connect_timeout(&addr, IO_TIMEOUT)
        .unwrap_or_else(|e| panic!("{what}: connect: {e}"));
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    stream.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
    let body = body.unwrap_or("");
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream
        .write_all(request.as_bytes())
        .unwrap_or_else(|e| panic!("{what}: write: {e}"));
    read_reply(&mut stream, Vec::new()).unwrap_or_else(|e| panic!("{what}: {e}"))
}

/// Reads until a head is complete and returns it (bytes after it stay in `received`).
fn read_head(stream: &mut TcpStream, received: &mut Vec<u8>) -> String {
    let mut chunk = [0_u8; 4096];
    loop {
        if let Some(end) = received.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&received[..end]).into_owned();
            received.drain(..end + 4);
            return head;
        }
        match stream.read(&mut chunk) {
            Ok(0) => panic!("closed before a complete head: {received:?}"),
            Ok(n) => received.extend_from_slice(&chunk[..n]),
            Err(e) => panic!("reading a head: {e}"),
        }
    }
}

/// Reads a complete answer (head and `Content-Length` bytes of body), starting from the bytes
/// already `received`.
fn read_reply(stream: &mut TcpStream, mut bytes: Vec<u8>) -> Result<Reply, String> {
    let mut chunk = [0_u8; 16 * 1024];
    loop {
        if let Some(reply) = complete_reply(&bytes)? {
            return Ok(reply);
        }
        match stream.read(&mut chunk) {
            Ok(0) => return Err(format!("closed after {} bytes of the answer", bytes.len())),
            Ok(n) => bytes.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(format!("read after {} bytes: {e}", bytes.len())),
        }
    }
}

/// The answer in `bytes` if it is all there.
fn complete_reply(bytes: &[u8]) -> Result<Option<Reply>, String> {
    let Some(end) = bytes.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Ok(None);
    };
    let head = String::from_utf8_lossy(&bytes[..end]);
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("no status in the answer head {head:?}"))?;
    let length = match status {
        204 => 0,
        _ => head
            .lines()
            .filter_map(|line| line.split_once(':'))
            .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
            .and_then(|(_, value)| value.trim().parse().ok())
            .ok_or_else(|| format!("no Content-Length in the answer head {head:?}"))?,
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
    let reply = http(addr, "GET", "/_emulator/state", None);
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.json()
}

/// `PUT /_emulator/instances/{id}` with one `ecs_tools_test` record; 200 or 201.
fn put_instance(addr: SocketAddr, id: &str, version: &str, status: &str) {
    let body = json!({"regionId": REGION, "plugins": [
        {"name": "ecs_tools_test", "version": version, "status": status,
         "firstHeartbeatTime": "2025-03-01T00:00:00Z", "lastHeartbeatTime": "2025-03-02T00:00:00Z"}
    ]});
    let reply = http(
        addr,
        "PUT",
        &format!("/_emulator/instances/{id}"),
        Some(&body.to_string()),
    );
    assert!(
        matches!(reply.status, 200 | 201),
        "PUT instance {id}: {} {}",
        reply.status,
        reply.body
    );
}

/// `ListPluginStatus` of plug-in `name` over every instance of the region.
fn list_plugins(addr: SocketAddr, name: &str) -> Reply {
    http(
        addr,
        "GET",
        &format!(
            "/?Action=ListPluginStatus&Version=2014-05-26&Format=JSON&RegionId={REGION}\
             &Name={name}&PageSize=50"
        ),
        None,
    )
}
