//! The data as rows: writing a store or the keys a change touched, and loading a store back.

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::schema::DATA_TABLES;
use super::Problem;
use crate::engine::commands::{seq_of, Command, Invocation, TokenRecord};
use crate::engine::invocation::Step;
use crate::engine::{
    agent_version, default_agent_version, AccessKey, Account, AgentState, Change, InstanceView,
    OsType, PluginRecord, PluginStatus, PluginType, PluginView, Store,
};

/// Which set of tables: the data served, or the seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Set {
    /// The data served.
    Served,
    /// What the file was created from; `reset` copies it to the served set.
    Seed,
}

impl Set {
    fn prefix(self) -> &'static str {
        match self {
            Self::Served => "",
            Self::Seed => "seed_",
        }
    }

    fn table(self, name: &str) -> String {
        format!("{}{name}", self.prefix())
    }
}

/// A time as the file keeps it.
fn time_text(time: Option<DateTime<Utc>>) -> Option<String> {
    time.map(|t| t.to_rfc3339_opts(SecondsFormat::AutoSi, true))
}

fn type_text(plugin_type: PluginType) -> &'static str {
    match plugin_type {
        PluginType::Once => "Once",
        PluginType::Persist => "Persist",
    }
}

/// Writes what `change` touched as it stands in `after`: the served set then holds, for every
/// key the change touched, exactly what the data holds.
pub fn write_change(db: &Connection, change: &Change, after: &Store) -> rusqlite::Result<()> {
    match change {
        Change::PutInstance {
            account,
            instance_id,
            ..
        }
        | Change::RemoveInstance {
            account,
            instance_id,
        } => write_instance(db, after, account, instance_id),
        Change::PutPlugin {
            account,
            instance_id,
            name,
            ..
        }
        | Change::RemovePlugin {
            account,
            instance_id,
            name,
        }
        | Change::PluginEvent {
            account,
            instance_id,
            name,
            ..
        } => write_plugin(db, after, account, instance_id, name),
        Change::CreateCommand {
            account,
            region,
            command,
        } => write_command(db, after, account, region, &command.id),
        Change::DeleteCommand {
            account,
            region,
            command_id,
        } => write_command(db, after, account, region, command_id),
        Change::Invoke {
            account,
            region,
            invocation,
        } => {
            write_command(db, after, account, region, &invocation.command_id)?;
            write_invocation(db, after, account, region, &invocation.id)
        }
        Change::RecordToken {
            account,
            region,
            action,
            token,
            record,
        } => {
            let answer = serde_json::to_string(&record.answer).unwrap_or_default();
            db.prepare_cached(
                "INSERT OR REPLACE INTO client_token (account_id, region_id, action, token, \
                 fingerprint, answer) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                account,
                region,
                action,
                token,
                record.fingerprint,
                answer
            ])
            .map(drop)
        }
        Change::StopInvocation {
            account,
            region,
            invoke_id,
            ..
        } => write_invocation(db, after, account, region, invoke_id),
        Change::InstallAgent {
            account,
            instance_id,
            ..
        }
        | Change::SetAgent {
            account,
            instance_id,
            ..
        }
        | Change::Step {
            step:
                Step::AgentReady {
                    account,
                    instance_id,
                    ..
                },
            ..
        } => write_instance(db, after, account, instance_id),
        Change::Step {
            step: Step::Check(run) | Step::End(run),
            ..
        } => {
            let Some(invocation) = after
                .space(&run.account, &run.region)
                .and_then(|space| space.invocations().get(&run.key))
            else {
                return Ok(());
            };
            write_invocation(db, after, &run.account, &run.region, &invocation.id)?;
            // A finished run may have changed the instance's plug-ins.
            match invocation.instances.get(run.index) {
                Some(target) => write_instance(db, after, &run.account, &target.instance_id),
                None => Ok(()),
            }
        }
        Change::ReplaceAll(with) => {
            clear(db, Set::Served)?;
            clear_commands(db)?;
            write_store(db, Set::Served, with)
        }
        Change::Reset(_) => {
            clear_commands(db)?;
            copy_seed(db)
        }
    }
}

/// A retained command as it stands in `after`, or its absence.
fn write_command(
    db: &Connection,
    after: &Store,
    account: &str,
    region: &str,
    command_id: &str,
) -> rusqlite::Result<()> {
    let stored = after.space(account, region).and_then(|space| {
        let key = space.command_key(command_id)?;
        Some((seq_of(key), space.command(command_id)?))
    });
    match stored {
        Some((seq, command)) => {
            let body = serde_json::to_string(&**command).unwrap_or_default();
            db.prepare_cached(
                "INSERT OR REPLACE INTO command (account_id, region_id, command_id, seq, body) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![account, region, command_id, seq as i64, body])?;
        }
        None => {
            db.prepare_cached(
                "DELETE FROM command WHERE account_id = ?1 AND region_id = ?2 AND command_id = ?3",
            )?
            .execute(params![account, region, command_id])?;
        }
    }
    Ok(())
}

/// An invocation as it stands in `after`.
fn write_invocation(
    db: &Connection,
    after: &Store,
    account: &str,
    region: &str,
    invoke_id: &str,
) -> rusqlite::Result<()> {
    let Some(space) = after.space(account, region) else {
        return Ok(());
    };
    let (Some(key), Some(invocation)) =
        (space.invocation_key(invoke_id), space.invocation(invoke_id))
    else {
        return Ok(());
    };
    let body = serde_json::to_string(&**invocation).unwrap_or_default();
    db.prepare_cached(
        "INSERT OR REPLACE INTO invocation (account_id, region_id, invoke_id, seq, body) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        account,
        region,
        invoke_id,
        seq_of(key) as i64,
        body
    ])
    .map(drop)
}

/// Empties the commands, invocations and client tokens (not seed data).
fn clear_commands(db: &Connection) -> rusqlite::Result<()> {
    db.execute_batch("DELETE FROM command; DELETE FROM invocation; DELETE FROM client_token;")
}

/// Reads the commands, invocations and client tokens into `store`.
pub fn load_commands(db: &Connection, store: &mut Store) -> Result<(), Problem> {
    let mut statement = db
        .prepare("SELECT account_id, region_id, seq, body FROM command")
        .map_err(read_problem)?;
    let mut rows = statement.query([]).map_err(read_problem)?;
    while let Some(row) = rows.next().map_err(read_problem)? {
        let (account, region, seq, body) = record_row(row)?;
        let command: Command =
            serde_json::from_str(&body).map_err(|e| invalid(format!("command {body:.60}: {e}")))?;
        store.restore_command(&account, &region, seq, command);
    }
    let mut statement = db
        .prepare("SELECT account_id, region_id, seq, body FROM invocation")
        .map_err(read_problem)?;
    let mut rows = statement.query([]).map_err(read_problem)?;
    while let Some(row) = rows.next().map_err(read_problem)? {
        let (account, region, seq, body) = record_row(row)?;
        let invocation: Invocation = serde_json::from_str(&body)
            .map_err(|e| invalid(format!("invocation {body:.60}: {e}")))?;
        store.restore_invocation(&account, &region, seq, invocation);
    }
    let mut statement = db
        .prepare(
            "SELECT account_id, region_id, action, token, fingerprint, answer FROM client_token",
        )
        .map_err(read_problem)?;
    let mut rows = statement.query([]).map_err(read_problem)?;
    while let Some(row) = rows.next().map_err(read_problem)? {
        let text = |i| row.get::<_, String>(i).map_err(read_problem);
        let answer: Vec<String> = serde_json::from_str(&text(5)?)
            .map_err(|e| invalid(format!("client token answer: {e}")))?;
        let record = TokenRecord {
            fingerprint: text(4)?,
            answer,
        };
        store.restore_token(&text(0)?, &text(1)?, &text(2)?, &text(3)?, record);
    }
    Ok(())
}

fn record_row(row: &Row<'_>) -> Result<(String, String, u64, String), Problem> {
    let seq: i64 = row.get(2).map_err(read_problem)?;
    Ok((
        row.get(0).map_err(read_problem)?,
        row.get(1).map_err(read_problem)?,
        u64::try_from(seq).map_err(|_| invalid(format!("seq {seq} is negative")))?,
        row.get(3).map_err(read_problem)?,
    ))
}

/// An instance with all its plug-ins, or its absence.
fn write_instance(
    db: &Connection,
    after: &Store,
    account: &str,
    instance_id: &str,
) -> rusqlite::Result<()> {
    db.prepare_cached("DELETE FROM plugin WHERE account_id = ?1 AND instance_id = ?2")?
        .execute(params![account, instance_id])?;
    match after.instance(account, instance_id) {
        Some((region, instance)) => {
            insert_instance(db, Set::Served, account, region, instance_id, instance)?;
            for (name, record) in instance.plugins.iter() {
                insert_plugin(db, Set::Served, account, instance_id, name, record)?;
            }
        }
        None => {
            db.prepare_cached("DELETE FROM instance WHERE account_id = ?1 AND instance_id = ?2")?
                .execute(params![account, instance_id])?;
        }
    }
    Ok(())
}

/// One plug-in record, or its absence.
fn write_plugin(
    db: &Connection,
    after: &Store,
    account: &str,
    instance_id: &str,
    name: &str,
) -> rusqlite::Result<()> {
    let record = after
        .instance(account, instance_id)
        .and_then(|(_, instance)| instance.plugins.get(name));
    match record {
        Some(record) => insert_plugin(db, Set::Served, account, instance_id, name, record),
        None => db
            .prepare_cached(
                "DELETE FROM plugin WHERE account_id = ?1 AND instance_id = ?2 AND name = ?3",
            )?
            .execute(params![account, instance_id, name])
            .map(drop),
    }
}

fn insert_instance(
    db: &Connection,
    set: Set,
    account: &str,
    region: &str,
    instance_id: &str,
    instance: InstanceView<'_>,
) -> rusqlite::Result<()> {
    let sql = format!(
        "INSERT OR REPLACE INTO {} (account_id, instance_id, region_id, os_type, \
         agent_installed, agent_online, agent_version, agent_last_heartbeat, agent_ready_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        set.table("instance")
    );
    let agent = instance.agent;
    db.prepare_cached(&sql)?.execute(params![
        account,
        instance_id,
        region,
        instance.os.as_str(),
        agent.installed,
        agent.online,
        &*agent.version,
        time_text(agent.last_heartbeat),
        time_text(agent.ready_at),
    ])?;
    Ok(())
}

fn insert_plugin(
    db: &Connection,
    set: Set,
    account: &str,
    instance_id: &str,
    name: &str,
    record: PluginView<'_>,
) -> rusqlite::Result<()> {
    let sql = format!(
        "INSERT OR REPLACE INTO {} (account_id, instance_id, name, version, status, \
         first_heartbeat, last_heartbeat) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        set.table("plugin")
    );
    db.prepare_cached(&sql)?.execute(params![
        account,
        instance_id,
        name,
        record.version(),
        record.status().as_str(),
        time_text(record.first_heartbeat()),
        time_text(record.last_heartbeat()),
    ])?;
    Ok(())
}

/// Empties one set of tables.
pub fn clear(db: &Connection, set: Set) -> rusqlite::Result<()> {
    for table in DATA_TABLES.iter().rev() {
        db.execute(&format!("DELETE FROM {}", set.table(table)), [])?;
    }
    Ok(())
}

/// Makes the served set a copy of the seed set.
fn copy_seed(db: &Connection) -> rusqlite::Result<()> {
    clear(db, Set::Served)?;
    for table in DATA_TABLES {
        db.execute(
            &format!("INSERT INTO {table} SELECT * FROM seed_{table}"),
            [],
        )?;
    }
    Ok(())
}

/// Writes a whole store into an empty set.
pub fn write_store(db: &Connection, set: Set, store: &Store) -> rusqlite::Result<()> {
    let mut account_row = db.prepare_cached(&format!(
        "INSERT INTO {} (account_id, position, is_default) VALUES (?1, ?2, ?3)",
        set.table("account")
    ))?;
    let mut key_row = db.prepare_cached(&format!(
        "INSERT INTO {} (key_id, account_id, position, secret, enabled) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
        set.table("access_key")
    ))?;
    for (position, account) in store.accounts().iter().enumerate() {
        let is_default = account.id == store.default_account();
        account_row.execute(params![account.id, position as i64, is_default])?;
        for (position, key) in account.access_keys.iter().enumerate() {
            key_row.execute(params![
                key.id,
                account.id,
                position as i64,
                key.secret,
                key.enabled
            ])?;
        }
    }
    let mut catalog_row = db.prepare_cached(&format!(
        "INSERT INTO {} (name, plugin_type, versions) VALUES (?1, ?2, ?3)",
        set.table("catalog")
    ))?;
    for (name, entry) in store.catalog_entries() {
        let versions = serde_json::to_string(&entry.versions).unwrap_or_default();
        catalog_row.execute(params![name, type_text(entry.plugin_type), versions])?;
    }
    for (account, region, id, instance) in store.instances() {
        insert_instance(db, set, account, region, id, instance)?;
        for (name, record) in instance.plugins.iter() {
            insert_plugin(db, set, account, id, name, record)?;
        }
    }
    Ok(())
}

/// Whether a stored value breaks a rule of the data: the problem, naming the row.
fn invalid(what: impl std::fmt::Display) -> Problem {
    Problem::InvalidData(what.to_string())
}

/// SQLite's word on a read: damage, or an operating-system failure.
pub fn read_problem(error: rusqlite::Error) -> Problem {
    use rusqlite::ErrorCode::{DatabaseCorrupt, NotADatabase};
    match error.sqlite_error_code() {
        Some(DatabaseCorrupt | NotADatabase) => Problem::Damaged(error.to_string()),
        _ => match error {
            // A column of an unexpected type or NULL: the tables are not as this build wrote.
            rusqlite::Error::FromSqlConversionFailure(..)
            | rusqlite::Error::InvalidColumnType(..) => invalid(error),
            other => Problem::Io(other.to_string()),
        },
    }
}

fn text_field(row: &Row<'_>, index: usize, what: &str) -> Result<String, Problem> {
    let text: String = row.get(index).map_err(read_problem)?;
    crate::text::check(&text).map_err(|refusal| invalid(format!("{what} {text:?}: {refusal}")))?;
    Ok(text)
}

fn time_field(row: &Row<'_>, index: usize) -> Result<Option<DateTime<Utc>>, Problem> {
    let Some(text) = row.get::<_, Option<String>>(index).map_err(read_problem)? else {
        return Ok(None);
    };
    let time = DateTime::parse_from_rfc3339(&text)
        .map_err(|e| invalid(format!("time {text:?} is not RFC 3339 ({e})")))?
        .with_timezone(&Utc);
    if !crate::clock::in_range(time) {
        return Err(invalid(crate::clock::out_of_range(&format!("{text:?}"))));
    }
    Ok(Some(time))
}

fn status_field(row: &Row<'_>, index: usize) -> Result<PluginStatus, Problem> {
    let text: String = row.get(index).map_err(read_problem)?;
    PluginStatus::ALL
        .into_iter()
        .find(|s| s.as_str() == text)
        .ok_or_else(|| invalid(format!("status {text:?} is not a plug-in status")))
}

/// Reads one set of tables into a store, checking every rule the data file has.
pub fn load(db: &Connection, set: Set) -> Result<Store, Problem> {
    let mut accounts: Vec<(Account, bool)> = Vec::new();
    let mut statement = db
        .prepare(&format!(
            "SELECT account_id, is_default FROM {} ORDER BY position",
            set.table("account")
        ))
        .map_err(read_problem)?;
    let mut rows = statement.query([]).map_err(read_problem)?;
    while let Some(row) = rows.next().map_err(read_problem)? {
        let account = Account {
            id: text_field(row, 0, "account id")?,
            access_keys: Vec::new(),
        };
        accounts.push((account, row.get(1).map_err(read_problem)?));
    }
    let mut statement = db
        .prepare(&format!(
            "SELECT account_id, key_id, secret, enabled FROM {} ORDER BY account_id, position",
            set.table("access_key")
        ))
        .map_err(read_problem)?;
    let mut rows = statement.query([]).map_err(read_problem)?;
    while let Some(row) = rows.next().map_err(read_problem)? {
        let owner: String = row.get(0).map_err(read_problem)?;
        let key = AccessKey {
            id: text_field(row, 1, "access key id")?,
            secret: row.get(2).map_err(read_problem)?,
            enabled: row.get(3).map_err(read_problem)?,
        };
        let Some((account, _)) = accounts.iter_mut().find(|(a, _)| a.id == owner) else {
            return Err(invalid(format!(
                "access key {} belongs to account {owner}, which is not in the account table",
                key.id
            )));
        };
        account.access_keys.push(key);
    }
    let mut catalog = Vec::new();
    let mut versions_given = Vec::new();
    let mut statement = db
        .prepare(&format!(
            "SELECT name, plugin_type, versions FROM {} ORDER BY name",
            set.table("catalog")
        ))
        .map_err(read_problem)?;
    let mut rows = statement.query([]).map_err(read_problem)?;
    while let Some(row) = rows.next().map_err(read_problem)? {
        let name = text_field(row, 0, "catalog name")?;
        let plugin_type = match row.get_ref(1).map_err(read_problem)?.as_str() {
            Ok("Once") => PluginType::Once,
            Ok("Persist") => PluginType::Persist,
            _ => return Err(invalid(format!("catalog entry {name} has no valid type"))),
        };
        if let Some(text) = row.get::<_, Option<String>>(2).map_err(read_problem)? {
            let versions: Vec<String> = serde_json::from_str(&text)
                .map_err(|e| invalid(format!("catalog entry {name}: versions {text:?}: {e}")))?;
            for version in &versions {
                crate::text::check(version)
                    .map_err(|refusal| invalid(format!("catalog entry {name}: {refusal}")))?;
            }
            versions_given.push((name.clone(), versions));
        }
        catalog.push((name, plugin_type));
    }
    let mut store = Store::new(accounts, catalog).map_err(invalid)?;
    load_instances(db, set, &mut store)?;
    store.settle_catalog_versions(versions_given);
    if set == Set::Served {
        load_commands(db, &mut store)?;
    }
    Ok(store)
}

/// Reads the instances and their plug-ins: two scans in key order, merged.
fn load_instances(db: &Connection, set: Set, store: &mut Store) -> Result<(), Problem> {
    let mut instances = db
        .prepare(&format!(
            "SELECT account_id, instance_id, region_id, os_type, agent_installed, agent_online, \
             agent_version, agent_last_heartbeat, agent_ready_at FROM {} \
             ORDER BY account_id, instance_id",
            set.table("instance")
        ))
        .map_err(read_problem)?;
    let mut plugins = db
        .prepare(&format!(
            "SELECT account_id, instance_id, name, version, status, first_heartbeat, \
             last_heartbeat FROM {} ORDER BY account_id, instance_id, name",
            set.table("plugin")
        ))
        .map_err(read_problem)?;
    let mut instance_rows = instances.query([]).map_err(read_problem)?;
    let mut plugin_rows = plugins.query([]).map_err(read_problem)?;
    // The next plug-in row not yet placed: (account, instance, name, record).
    let mut next_plugin = read_plugin(plugin_rows.next().map_err(read_problem)?)?;
    while let Some(row) = instance_rows.next().map_err(read_problem)? {
        let account = text_field(row, 0, "account id")?;
        let id = text_field(row, 1, "instance id")?;
        let region = text_field(row, 2, "region id")?;
        let mut records = Vec::new();
        while let Some((owner, instance, name, record)) = next_plugin.take() {
            match (owner.as_str(), instance.as_str()).cmp(&(account.as_str(), id.as_str())) {
                std::cmp::Ordering::Equal => {
                    records.push((name, record));
                    next_plugin = read_plugin(plugin_rows.next().map_err(read_problem)?)?;
                }
                std::cmp::Ordering::Greater => {
                    next_plugin = Some((owner, instance, name, record));
                    break;
                }
                std::cmp::Ordering::Less => return Err(orphan(&owner, &instance, &name)),
            }
        }
        let (os, agent) = agent_fields(row)?;
        store
            .add_instance(&account, &region, &id, records)
            .and_then(|()| store.set_os_and_agent(&account, &id, os, agent))
            .map_err(invalid)?;
    }
    match next_plugin {
        Some((owner, instance, name, _)) => Err(orphan(&owner, &instance, &name)),
        None => Ok(()),
    }
}

/// An instance's OS and agent, from columns 3 to 8 of its row.
fn agent_fields(row: &Row<'_>) -> Result<(OsType, AgentState), Problem> {
    let os_text: String = row.get(3).map_err(read_problem)?;
    let os = OsType::parse(&os_text).ok_or_else(|| {
        invalid(format!(
            "os_type {os_text:?} is not Linux, Windows or FreeBSD"
        ))
    })?;
    let version = match row.get::<_, Option<String>>(6).map_err(read_problem)? {
        Some(version) => {
            crate::text::check(&version)
                .map_err(|refusal| invalid(format!("agent_version: {refusal}")))?;
            agent_version(&version)
        }
        None => agent_version(default_agent_version(os)),
    };
    let agent = AgentState {
        installed: row.get(4).map_err(read_problem)?,
        online: row.get(5).map_err(read_problem)?,
        version,
        last_heartbeat: time_field(row, 7)?,
        ready_at: time_field(row, 8)?,
    };
    Ok((os, agent))
}

type PluginRow = (String, String, String, PluginRecord);

fn read_plugin(row: Option<&Row<'_>>) -> Result<Option<PluginRow>, Problem> {
    let Some(row) = row else {
        return Ok(None);
    };
    let version = text_field(row, 3, "version")?;
    if version.chars().count() > 255 {
        return Err(invalid(format!(
            "version {version:?} is over 255 characters"
        )));
    }
    Ok(Some((
        row.get(0).map_err(read_problem)?,
        row.get(1).map_err(read_problem)?,
        text_field(row, 2, "plug-in name")?,
        PluginRecord {
            version,
            status: status_field(row, 4)?,
            first_heartbeat: time_field(row, 5)?,
            last_heartbeat: time_field(row, 6)?,
        },
    )))
}

fn orphan(account: &str, instance: &str, name: &str) -> Problem {
    invalid(format!(
        "plug-in {name} of instance {instance} (account {account}) has no row in the instance \
         table"
    ))
}

/// A value of the `meta` table.
pub fn meta(db: &Connection, key: &str) -> rusqlite::Result<Option<String>> {
    db.query_row("SELECT value FROM meta WHERE key = ?1", [key], |row| {
        row.get(0)
    })
    .optional()
}

/// Sets a value of the `meta` table.
pub fn set_meta(db: &Connection, key: &str, value: &str) -> rusqlite::Result<()> {
    db.execute(
        "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)",
        params![key, value],
    )
    .map(drop)
}
