//! The state file's schema, its version, and the migrations that bring an older file forward.
//!
//! `PRAGMA application_id` marks a file as an emulator's state file; `PRAGMA user_version` is
//! the number of [`MIGRATIONS`] applied to it. A migration, once released, never changes: a
//! new schema is a new entry at the end, applied in the same transaction as the version bump,
//! so a file is always at one version or the next, never between.
//!
//! # The tables
//!
//! The data served, and an identical set prefixed `seed_` with the data the file was created
//! from (what `reset` restores). Names, ids and versions are the data's own text; times are
//! RFC 3339 in UTC (`2020-01-19T09:15:46Z`), NULL until a heartbeat.
//!
//! | table | key | other columns |
//! |---|---|---|
//! | `meta` | `key` | `value`: `seed_source`, `created_at`, `created_by` |
//! | `account` | `account_id` | `position` (the data's order), `is_default` (0 or 1) |
//! | `access_key` | `key_id` | `account_id`, `position`, `secret`, `enabled` (0 or 1) |
//! | `catalog` | `name` | `plugin_type` (`Once` or `Persist`); from version 2 `versions` (a JSON array) |
//! | `instance` | `account_id`, `instance_id` | `region_id`; from version 2 `os_type`, `agent_installed`, `agent_online`, `agent_version`, `agent_last_heartbeat`, `agent_ready_at` |
//! | `plugin` | `account_id`, `instance_id`, `name` | `version`, `status`, `first_heartbeat`, `last_heartbeat` |
//! | `command` (version 3) | `account_id`, `region_id`, `command_id` | `seq`, `body` (JSON) |
//! | `invocation` (version 3) | `account_id`, `region_id`, `invoke_id` | `seq`, `body` (JSON) |
//! | `client_token` (version 3) | `account_id`, `region_id`, `action`, `token` | `fingerprint`, `answer` (JSON) |
//!
//! Commands, invocations and client tokens have no `seed_` tables: they are not seed data.

use rusqlite::Transaction;

/// `PRAGMA application_id` of a state file: "ECSE".
pub const APPLICATION_ID: i64 = 0x4543_5345;

/// The tables of the data, once for the data served (prefix "") and once for the seed
/// (prefix "seed_"). Frozen: version 1 as released.
const V1_DATA_TABLES: &str = "
CREATE TABLE {p}account (
    account_id TEXT PRIMARY KEY,
    position INTEGER NOT NULL,
    is_default INTEGER NOT NULL CHECK (is_default IN (0, 1))
) STRICT, WITHOUT ROWID;
CREATE TABLE {p}access_key (
    key_id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    secret TEXT NOT NULL,
    enabled INTEGER NOT NULL CHECK (enabled IN (0, 1))
) STRICT, WITHOUT ROWID;
CREATE TABLE {p}catalog (
    name TEXT PRIMARY KEY,
    plugin_type TEXT NOT NULL CHECK (plugin_type IN ('Once', 'Persist'))
) STRICT, WITHOUT ROWID;
CREATE TABLE {p}instance (
    account_id TEXT NOT NULL,
    instance_id TEXT NOT NULL,
    region_id TEXT NOT NULL,
    PRIMARY KEY (account_id, instance_id)
) STRICT, WITHOUT ROWID;
CREATE TABLE {p}plugin (
    account_id TEXT NOT NULL,
    instance_id TEXT NOT NULL,
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    status TEXT NOT NULL,
    first_heartbeat TEXT,
    last_heartbeat TEXT,
    PRIMARY KEY (account_id, instance_id, name)
) STRICT, WITHOUT ROWID;
";

/// Version 1: the data of SPEC section 6, served and seed, and `meta`.
fn v1(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    tx.execute_batch(
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT, WITHOUT ROWID;",
    )?;
    for prefix in ["", "seed_"] {
        tx.execute_batch(&V1_DATA_TABLES.replace("{p}", prefix))?;
    }
    Ok(())
}

/// The columns of SPEC section 9.6 and 9.7 on the tables of version 1, served and seed.
/// Frozen: version 2 as released.
const V2_AGENT_COLUMNS: &str = "
ALTER TABLE {p}instance ADD COLUMN os_type TEXT NOT NULL DEFAULT 'Linux';
ALTER TABLE {p}instance ADD COLUMN agent_installed INTEGER NOT NULL DEFAULT 1;
ALTER TABLE {p}instance ADD COLUMN agent_online INTEGER NOT NULL DEFAULT 1;
ALTER TABLE {p}instance ADD COLUMN agent_version TEXT;
ALTER TABLE {p}instance ADD COLUMN agent_last_heartbeat TEXT;
ALTER TABLE {p}instance ADD COLUMN agent_ready_at TEXT;
ALTER TABLE {p}catalog ADD COLUMN versions TEXT;
";

/// Version 2: each instance's OS and Cloud Assistant agent (a NULL `agent_version` is the
/// default for the OS; installed and online unless said otherwise), and the versions a catalog
/// plug-in is published at (a JSON array; NULL takes them from the data, as a fixture without
/// `versions` does).
fn v2(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    for prefix in ["", "seed_"] {
        tx.execute_batch(&V2_AGENT_COLUMNS.replace("{p}", prefix))?;
    }
    Ok(())
}

/// Version 3: Cloud Assistant commands, invocations and client tokens (SPEC section 9). Not
/// seed data: `PUT /state` and `reset` empty them. `seq` orders them (newest highest); `body`
/// is the record as JSON.
fn v3(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    tx.execute_batch(
        "CREATE TABLE command (
            account_id TEXT NOT NULL,
            region_id TEXT NOT NULL,
            command_id TEXT NOT NULL,
            seq INTEGER NOT NULL,
            body TEXT NOT NULL,
            PRIMARY KEY (account_id, region_id, command_id)
        ) STRICT, WITHOUT ROWID;
        CREATE TABLE invocation (
            account_id TEXT NOT NULL,
            region_id TEXT NOT NULL,
            invoke_id TEXT NOT NULL,
            seq INTEGER NOT NULL,
            body TEXT NOT NULL,
            PRIMARY KEY (account_id, region_id, invoke_id)
        ) STRICT, WITHOUT ROWID;
        CREATE TABLE client_token (
            account_id TEXT NOT NULL,
            region_id TEXT NOT NULL,
            action TEXT NOT NULL,
            token TEXT NOT NULL,
            fingerprint TEXT NOT NULL,
            answer TEXT NOT NULL,
            PRIMARY KEY (account_id, region_id, action, token)
        ) STRICT, WITHOUT ROWID;",
    )
}

/// A step from one schema version to the next.
pub type Migration = fn(&Transaction<'_>) -> rusqlite::Result<()>;

/// Every migration in order: a file at version `n` has had the first `n` applied.
pub const MIGRATIONS: &[Migration] = &[v1, v2, v3];

/// The schema version this build writes, and the newest it reads.
pub fn latest() -> i64 {
    MIGRATIONS.len() as i64
}

/// The tables of the data, in the order they are written (and cleared in reverse).
pub const DATA_TABLES: [&str; 5] = ["account", "access_key", "catalog", "instance", "plugin"];

/// Brings a file at version `from` to [`latest`] inside `tx` (the version bump included).
pub fn migrate(tx: &Transaction<'_>, from: i64) -> rusqlite::Result<()> {
    for migration in MIGRATIONS.iter().skip(usize::try_from(from).unwrap_or(0)) {
        migration(tx)?;
    }
    tx.pragma_update(None, "application_id", APPLICATION_ID)?;
    tx.pragma_update(None, "user_version", latest())?;
    Ok(())
}

/// Brings a new file to version `to` only: for tests of the migration path.
#[cfg(test)]
pub fn create_at_version(tx: &Transaction<'_>, to: i64) -> rusqlite::Result<()> {
    for migration in MIGRATIONS.iter().take(usize::try_from(to).unwrap_or(0)) {
        migration(tx)?;
    }
    tx.pragma_update(None, "application_id", APPLICATION_ID)?;
    tx.pragma_update(None, "user_version", to)?;
    Ok(())
}
