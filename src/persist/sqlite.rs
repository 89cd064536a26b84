//! The `--state-file`: an SQLite database (SPEC section 8).
//!
//! # Settings, and what they promise
//!
//! - `journal_mode = WAL`: a commit appends to the write-ahead log; readers (the `sqlite3` tool,
//!   say) can look at the file while the emulator writes.
//! - `synchronous = FULL`: the log is synced to the disk before a commit returns, so an
//!   acknowledged change survives the process being killed (`kill -9`) and a power loss or an
//!   operating-system crash too, as far as the disk honours a sync.
//! - One transaction per batch of concurrent changes (group commit, see
//!   [`crate::state::AppState::write`]): one sync serves every writer waiting.
//!
//! # Opening, and what is refused
//!
//! The file is locked (an exclusive `flock`, held until the emulator stops) so that a second
//! emulator on the same file is refused. An existing file is then inspected through a
//! read-only connection: not SQLite, damaged, not an emulator's, or of a newer schema, and it is
//! refused, left byte for byte as it was. A file that does not exist yet (or is empty) is created
//! and seeded in one transaction, so a crash while seeding leaves an empty file that the next
//! start seeds again.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::Read;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags, TransactionBehavior};

use super::rows::{self, Set};
use super::schema::{self, APPLICATION_ID};
use super::{Commit, Durable, PersistError, Problem};
use crate::engine::Store;

/// What a state file was seeded from, as its `meta` table keeps it.
#[derive(Debug, Clone)]
pub struct Seed {
    /// The data.
    pub store: Store,
    /// Where it came from: a `--data` path or the built-in demo data.
    pub source: String,
}

/// An open state file.
pub struct StateFile {
    /// Declared before `lock`, so it is closed first: the lock outlives every use of the file.
    db: Connection,
    /// The exclusive lock on the file, released when this is dropped.
    _lock: File,
    path: PathBuf,
}

impl std::fmt::Debug for StateFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateFile")
            .field("path", &self.path)
            .finish()
    }
}

/// A state file opened, with the data it holds.
#[derive(Debug)]
pub struct Opened {
    /// The file, ready for commits.
    pub file: StateFile,
    /// The data served.
    pub store: Store,
    /// The seed, when the file was created now (it is then the data served too).
    pub created: Option<String>,
    /// What the file was seeded from, as it remembers.
    pub seed_source: String,
    /// The schema version the file had before this start, when it was migrated.
    pub migrated_from: Option<i64>,
}

/// Why opening failed: the state file, or the seed for a new one.
#[derive(Debug)]
pub enum OpenFailure<E> {
    /// The state file is refused or cannot be used.
    State(PersistError),
    /// The seed could not be loaded.
    Seed(E),
}

/// Opens the state file at `path`, creating and seeding it from `seed` when it does not exist
/// yet (or is empty). `seed` is not called for an existing file.
pub fn open<E>(
    path: &Path,
    seed: impl FnOnce() -> Result<Seed, E>,
) -> Result<Opened, OpenFailure<E>> {
    let fail = |problem| OpenFailure::State(PersistError::new(path, problem));
    let (lock, created_now) = lock(path).map_err(fail)?;
    let file = |db| StateFile {
        db,
        _lock: lock,
        path: path.to_owned(),
    };
    // A read-only look at a file in WAL mode makes SQLite create its `-wal` and `-shm` beside
    // it; a refused file must be left as it was found, those included.
    let sidecars = Sidecars::absent(path);
    let refuse = |problem| {
        sidecars.remove();
        fail(problem)
    };
    let found = inspect(path).map_err(refuse)?;
    match found {
        Found::Empty => {
            let seed = match seed() {
                Ok(seed) => seed,
                Err(e) => {
                    if created_now {
                        // Leave nothing behind that the next start would take for a state file.
                        let _ = std::fs::remove_file(path);
                    }
                    return Err(OpenFailure::Seed(e));
                }
            };
            let db = read_write(path).map_err(fail)?;
            create(&db, &seed).map_err(|e| fail(Problem::Io(e.to_string())))?;
            Ok(Opened {
                file: file(db),
                created: Some(seed.source.clone()),
                seed_source: seed.source,
                store: seed.store,
                migrated_from: None,
            })
        }
        Found::Current(ro) => {
            let loaded = load_served(&ro);
            drop(ro);
            let (store, seed_source) = loaded.map_err(refuse)?;
            let db = read_write(path).map_err(fail)?;
            Ok(Opened {
                file: file(db),
                store,
                created: None,
                seed_source,
                migrated_from: None,
            })
        }
        Found::Older(version) => {
            let mut db = read_write(path).map_err(fail)?;
            let migrated = db
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .and_then(|tx| schema::migrate(&tx, version).and_then(|()| tx.commit()));
            migrated.map_err(|e| {
                fail(Problem::Io(format!(
                    "migrating from version {version}: {e}"
                )))
            })?;
            let (store, seed_source) = load_served(&db).map_err(fail)?;
            Ok(Opened {
                file: file(db),
                store,
                created: None,
                seed_source,
                migrated_from: Some(version),
            })
        }
    }
}

/// The data served and where its seed came from.
fn load_served(db: &Connection) -> Result<(Store, String), Problem> {
    let store = rows::load(db, Set::Served)?;
    let source = rows::meta(db, "seed_source")
        .map_err(rows::read_problem)?
        .unwrap_or_default();
    Ok((store, source))
}

/// The `-wal` and `-shm` files that did not exist beside a state file when it was opened.
struct Sidecars(Vec<PathBuf>);

impl Sidecars {
    fn absent(path: &Path) -> Self {
        let beside = |suffix: &str| {
            let mut name = path.as_os_str().to_owned();
            name.push(suffix);
            PathBuf::from(name)
        };
        Self(
            ["-wal", "-shm"]
                .into_iter()
                .map(beside)
                .filter(|p| !p.exists())
                .collect(),
        )
    }

    /// Removes those that exist now: made by the look at a file that is then refused. Only an
    /// empty log is removed (a read-only look writes none, so it always is).
    fn remove(&self) {
        for path in &self.0 {
            let index = path.to_string_lossy().ends_with("-shm");
            if index || std::fs::metadata(path).is_ok_and(|m| m.len() == 0) {
                let _ = std::fs::remove_file(path);
            }
        }
    }
}

/// Opens (or creates) the file and takes its exclusive lock; true when it was created now.
fn lock(path: &Path) -> Result<(File, bool), Problem> {
    let io = |e: std::io::Error| Problem::Io(format!("cannot open it: {e}"));
    let (file, created) = match OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(path)
    {
        Ok(file) => (file, true),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => (
            OpenOptions::new()
                .read(true)
                .write(true)
                .open(path)
                .map_err(io)?,
            false,
        ),
        Err(e) => return Err(io(e)),
    };
    match file.try_lock() {
        Ok(()) => Ok((file, created)),
        Err(TryLockError::WouldBlock) => Err(Problem::Held),
        Err(TryLockError::Error(e)) => Err(Problem::Io(format!("cannot lock it: {e}"))),
    }
}

/// What an existing file turned out to be.
enum Found {
    /// Nothing in it yet: to be seeded.
    Empty,
    /// A state file of this build's schema, open read-only.
    Current(Connection),
    /// A state file of an older schema.
    Older(i64),
}

/// The first bytes of every SQLite database.
const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";

/// Looks at the file without changing it.
fn inspect(path: &Path) -> Result<Found, Problem> {
    let mut head = Vec::with_capacity(16);
    File::open(path)
        .and_then(|f| f.take(16).read_to_end(&mut head))
        .map_err(|e| Problem::Io(format!("cannot read it: {e}")))?;
    // An empty main file may still have its pages in a write-ahead log: SQLite decides below.
    if !head.is_empty() && head != SQLITE_MAGIC {
        return Err(Problem::Damaged(
            "it does not start as an SQLite database does".to_owned(),
        ));
    }
    let ro = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(rows::read_problem)?;
    let pragma = |name: &str| -> Result<i64, Problem> {
        ro.pragma_query_value(None, name, |row| row.get(0))
            .map_err(rows::read_problem)
    };
    let application_id = pragma("application_id")?;
    let version = pragma("user_version")?;
    let tables: i64 = ro
        .query_row("SELECT count(*) FROM sqlite_schema", [], |row| row.get(0))
        .map_err(rows::read_problem)?;
    if application_id == 0 && version == 0 && tables == 0 {
        return Ok(Found::Empty);
    }
    if application_id != APPLICATION_ID {
        return Err(Problem::Foreign(format!(
            "its application_id is {application_id:#x}, not {APPLICATION_ID:#x}"
        )));
    }
    if version > schema::latest() {
        return Err(Problem::Newer {
            found: version,
            supported: schema::latest(),
        });
    }
    if version < 1 {
        return Err(Problem::Damaged(format!("its schema version is {version}")));
    }
    let check: Vec<String> = ro
        .prepare("PRAGMA quick_check(5)")
        .and_then(|mut s| {
            s.query_map([], |row| row.get::<_, String>(0))?
                .collect::<rusqlite::Result<_>>()
        })
        .map_err(rows::read_problem)?;
    if check != ["ok"] {
        return Err(Problem::Damaged(check.join("; ")));
    }
    if version < schema::latest() {
        return Ok(Found::Older(version));
    }
    Ok(Found::Current(ro))
}

/// The connection that writes, with the settings the module doc describes.
fn read_write(path: &Path) -> Result<Connection, Problem> {
    let db = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(rows::read_problem)?;
    let setup = || -> rusqlite::Result<()> {
        db.pragma_update_and_check(None, "journal_mode", "WAL", |row| {
            row.get::<_, String>(0).map(drop)
        })?;
        db.pragma_update(None, "synchronous", "FULL")?;
        // Big enough that loading and whole-state writes do not thrash (64 MiB).
        db.pragma_update(None, "cache_size", -65_536)?;
        db.busy_timeout(std::time::Duration::from_secs(10))?;
        Ok(())
    };
    setup().map_err(|e| Problem::Io(format!("cannot set it up: {e}")))?;
    Ok(db)
}

/// Creates the schema and writes the seed as both the seed and the data served, in one
/// transaction.
fn create(db: &Connection, seed: &Seed) -> rusqlite::Result<()> {
    let tx = db.unchecked_transaction()?;
    schema::migrate(&tx, 0)?;
    rows::write_store(&tx, Set::Seed, &seed.store)?;
    for table in schema::DATA_TABLES {
        tx.execute(
            &format!("INSERT INTO {table} SELECT * FROM seed_{table}"),
            [],
        )?;
    }
    rows::set_meta(&tx, "seed_source", &seed.source)?;
    rows::set_meta(
        &tx,
        "created_at",
        &chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    )?;
    rows::set_meta(
        &tx,
        "created_by",
        concat!("ecs-emulator ", env!("CARGO_PKG_VERSION")),
    )?;
    tx.commit()
}

impl Durable for StateFile {
    fn commit(&mut self, batch: &[Commit<'_>]) -> Result<(), PersistError> {
        let write = |db: &mut Connection| -> rusqlite::Result<()> {
            let tx = db.transaction_with_behavior(TransactionBehavior::Immediate)?;
            for commit in batch {
                for change in commit.changes {
                    rows::write_change(&tx, change, commit.after)?;
                }
            }
            tx.commit()
        };
        write(&mut self.db).map_err(|e| PersistError::new(&self.path, Problem::Io(e.to_string())))
    }

    fn load_seed(&mut self) -> Result<Option<Store>, PersistError> {
        rows::load(&self.db, Set::Seed)
            .map(Some)
            .map_err(|problem| PersistError::new(&self.path, problem))
    }

    fn close(self: Box<Self>) -> Result<(), PersistError> {
        let Self { db, _lock, path } = *self;
        // Closing the last connection checkpoints the log into the file and removes it.
        db.close()
            .map_err(|(_, e)| PersistError::new(&path, Problem::Io(e.to_string())))?;
        drop(_lock);
        Ok(())
    }

    fn describe(&self) -> String {
        format!("state file {}", self.path.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Change, PluginRecord, PluginStatus};
    use crate::fixture::{self, Fixture};

    /// A fresh path in a directory of its own.
    fn temp_path(name: &str) -> PathBuf {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "ecs-emulator-sqlite-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join(name)
    }

    fn demo_seed() -> Result<Seed, std::convert::Infallible> {
        Ok(Seed {
            store: fixture::demo_store(),
            source: "demo".into(),
        })
    }

    fn exported(store: &Store) -> String {
        serde_json::to_string(&Fixture::from_store(store)).unwrap()
    }

    fn open_ok(path: &Path) -> Opened {
        match open(path, demo_seed) {
            Ok(opened) => opened,
            Err(OpenFailure::State(e)) => panic!("{e}"),
            Err(OpenFailure::Seed(e)) => match e {},
        }
    }

    /// What is committed is what a later start loads, and the seed stays what it was.
    #[test]
    fn commits_survive_a_reopen_and_the_seed_stays() {
        let path = temp_path("state.db");
        let Opened {
            mut file,
            mut store,
            created,
            ..
        } = open_ok(&path);
        assert_eq!(created.as_deref(), Some("demo"));
        let seed = exported(&store);
        let (account, region, id) = store
            .instances()
            .next()
            .map(|(a, r, i, _)| (a.to_owned(), r.to_owned(), i.to_owned()))
            .unwrap();
        let changes = vec![
            Change::PutPlugin {
                account: account.clone(),
                instance_id: id.clone(),
                name: "new-plugin".into(),
                record: PluginRecord {
                    version: "9.9".into(),
                    status: PluginStatus::Crashed,
                    first_heartbeat: Some("2026-01-01T00:00:00Z".parse().unwrap()),
                    last_heartbeat: None,
                },
            },
            Change::PutInstance {
                account: account.clone(),
                region,
                instance_id: "i-added".into(),
                plugins: vec![],
                os: crate::engine::OsType::Windows,
                agent: crate::engine::AgentState::default_for(crate::engine::OsType::Windows),
            },
        ];
        for change in &changes {
            store.apply(change).unwrap();
        }
        file.commit(&[Commit {
            changes: &changes,
            after: &store,
        }])
        .unwrap();
        let expected = exported(&store);
        Box::new(file).close().unwrap();

        let mut again = open_ok(&path);
        assert!(again.created.is_none());
        assert_eq!(again.seed_source, "demo");
        assert_eq!(exported(&again.store), expected);
        let seed_store = again.file.load_seed().unwrap().unwrap();
        assert_eq!(exported(&seed_store), seed);
        // A reset copies the seed in the file too.
        let reset = [Change::Reset(std::sync::Arc::new(seed_store))];
        again
            .file
            .commit(&[Commit {
                changes: &reset,
                after: &again.store,
            }])
            .unwrap();
        drop(again);
        assert_eq!(exported(&open_ok(&path).store), seed);
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }

    /// A file made by the first schema, with data in it, is brought to the newest schema
    /// and keeps its data.
    #[test]
    fn a_file_of_the_first_schema_is_migrated() {
        let path = temp_path("v1.db");
        {
            let mut db = Connection::open(&path).unwrap();
            let tx = db.transaction().unwrap();
            schema::create_at_version(&tx, 1).unwrap();
            tx.execute_batch(
                "INSERT INTO account VALUES ('100', 0, 1);
                 INSERT INTO catalog VALUES ('cat', 'Once');
                 INSERT INTO instance VALUES ('100', 'i-1', 'cn-hangzhou');
                 INSERT INTO plugin VALUES ('100', 'i-1', 'p', '1.0', 'Running',
                     '2020-01-19T09:15:46Z', '2020-01-19T09:15:46Z');
                 INSERT INTO seed_account VALUES ('100', 0, 1);
                 INSERT INTO meta VALUES ('seed_source', 'first schema');",
            )
            .unwrap();
            tx.commit().unwrap();
        }
        let opened = open_ok(&path);
        assert_eq!(opened.seed_source, "first schema");
        assert_eq!(opened.migrated_from, Some(1));
        assert_eq!(opened.store.counts(), (1, 1));
        let (region, instance) = opened.store.instance("100", "i-1").unwrap();
        assert_eq!(region, "cn-hangzhou");
        assert_eq!(
            instance.plugins.get("p").unwrap().status(),
            PluginStatus::Running
        );
        // Version 2's columns: the defaults for data that had none.
        assert_eq!(instance.os, crate::engine::OsType::Linux);
        assert_eq!(*instance.agent, crate::engine::AgentState::default());
        let (_, cat) = opened.store.catalog_entries().next().unwrap();
        assert_eq!(cat.versions, ["1.0"]);
        drop(opened);
        let db = Connection::open(&path).unwrap();
        let version: i64 = db
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .unwrap();
        assert_eq!(version, schema::latest());
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }

    /// Commands, invocations and client tokens are durable, come back with their order, and
    /// are emptied by a reset (they are not seed data).
    #[test]
    fn commands_and_invocations_survive_a_reopen_until_a_reset() {
        use crate::engine::commands::{
            Command, CommandType, Invocation, InvocationInstance, RunStatus, TokenRecord,
        };
        let path = temp_path("commands.db");
        let Opened {
            mut file,
            mut store,
            ..
        } = open_ok(&path);
        // A demo instance whose agent is installed and online.
        let (account, region, id) = store
            .instances()
            .find(|(_, _, i, _)| *i == "i-bp1iudwa5b1tqa0001")
            .map(|(a, r, i, _)| (a.to_owned(), r.to_owned(), i.to_owned()))
            .unwrap();
        let at: chrono::DateTime<chrono::Utc> = "2026-03-01T00:00:00Z".parse().unwrap();
        let command = Command {
            id: "c-00000000000001".into(),
            name: "install".into(),
            description: String::new(),
            command_type: CommandType::RunShellScript,
            content: b"acs-plugin-manager --list".to_vec(),
            working_dir: String::new(),
            timeout: 60,
            enable_parameter: false,
            parameter_names: vec![],
            launcher: None,
            resource_group_id: None,
            tags: vec![("team".into(), "a".into())],
            creation_time: at,
            invoke_times: 0,
        };
        let run = InvocationInstance {
            instance_id: id.clone(),
            status: RunStatus::Pending,
            content: command.content.clone(),
            exit_code: 0,
            output: vec![],
            dropped: 0,
            error_code: String::new(),
            error_info: String::new(),
            creation_time: at,
            start_time: None,
            finish_time: None,
            stop_time: None,
            update_time: at,
            repeats: 0,
            next_check: at + chrono::Duration::seconds(1),
            rule: None,
        };
        let invocation = Invocation {
            id: "t-00000000000001".into(),
            command_id: command.id.clone(),
            command_name: command.name.clone(),
            command_description: String::new(),
            command_type: command.command_type,
            content: command.content.clone(),
            parameters: "{}".into(),
            timeout: 60,
            working_dir: String::new(),
            username: "root".into(),
            repeat_mode: "Once".into(),
            creation_time: at,
            launcher: None,
            container_id: None,
            container_name: None,
            termination_mode: None,
            oss_output_delivery: None,
            tags: vec![],
            instances: vec![run],
        };
        let changes = vec![
            Change::CreateCommand {
                account: account.clone(),
                region: region.clone(),
                command,
            },
            Change::Invoke {
                account: account.clone(),
                region: region.clone(),
                invocation,
            },
            Change::RecordToken {
                account: account.clone(),
                region: region.clone(),
                action: "RunCommand".into(),
                token: "tok".into(),
                record: TokenRecord {
                    fingerprint: "f".into(),
                    answer: vec!["c-00000000000001".into(), "t-00000000000001".into()],
                },
            },
        ];
        for change in &changes {
            store.apply(change).unwrap();
        }
        let later = at + chrono::Duration::seconds(5);
        let mut steps = Vec::new();
        while let Some(step) = store.next_step(later) {
            let change = Change::Step { step, rule: None };
            store.apply(&change).unwrap();
            steps.push(change);
        }
        assert_eq!(steps.len(), 2, "delivered, then finished");
        file.commit(&[
            Commit {
                changes: &changes,
                after: &store,
            },
            Commit {
                changes: &steps,
                after: &store,
            },
        ])
        .unwrap();
        Box::new(file).close().unwrap();

        let mut again = open_ok(&path);
        let space = again.store.space(&account, &region).unwrap();
        let command = space.command("c-00000000000001").unwrap();
        assert_eq!(command.invoke_times, 1);
        assert_eq!(command.tags, [("team".to_owned(), "a".to_owned())]);
        let invocation = space.invocation("t-00000000000001").unwrap();
        assert_eq!(invocation.instances[0].status, RunStatus::Success);
        assert!(invocation.instances[0].output.starts_with(b"Name"));
        assert_eq!(space.token("RunCommand", "tok").unwrap().fingerprint, "f");
        assert!(again.store.next_step(later).is_none());
        let seed = again.file.load_seed().unwrap().unwrap();
        let reset = [Change::Reset(std::sync::Arc::new(seed))];
        again
            .file
            .commit(&[Commit {
                changes: &reset,
                after: &again.store,
            }])
            .unwrap();
        drop(again);
        assert!(open_ok(&path).store.space(&account, &region).is_none());
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }
}
