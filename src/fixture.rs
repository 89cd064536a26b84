//! The fixture file (SPEC section 6): its JSON format, loading with exact error positions,
//! the built-in demo data, and the `generate` subcommand's writer.
//!
//! Shape and types (unknown fields, bad statuses, bad times, over-long ids) are checked while
//! parsing, so serde_json reports the exact line and column. Rules across records (one default
//! account, ids unique, accounts defined) are checked while building the store; their position
//! is that of the offending value in the text.

use chrono::{DateTime, Utc};
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::io::{self, Write};
use std::path::Path;

use crate::engine::{
    regions::PUBLIC_REGIONS, AccessKey, Account, DataError, Instance, PluginRecord, PluginStatus,
    PluginType, Store, MAX_NAME_CHARS,
};

/// The built-in demo data, compiled in.
pub const DEMO_DATA: &str = include_str!("../data/demo.json");
/// How the demo data is named in messages.
pub const DEMO_DATA_NAME: &str = "built-in demo data";

/// A fixture file.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Fixture {
    /// Accounts; none means one default account with no keys.
    #[serde(default)]
    pub accounts: Vec<FixtureAccount>,
    /// Plug-in names every caller may ask for.
    #[serde(default)]
    pub catalog: Vec<CatalogEntry>,
    /// Instances with their plug-ins.
    #[serde(default)]
    pub instances: Vec<FixtureInstance>,
}

/// An account.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FixtureAccount {
    /// The account id.
    pub account_id: Bounded<64>,
    /// Exactly one account is the default: callers with an unknown key are its.
    #[serde(default)]
    pub default: bool,
    /// Access keys.
    #[serde(default)]
    pub access_keys: Vec<FixtureAccessKey>,
}

/// An access key.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FixtureAccessKey {
    /// AccessKeyId.
    pub id: Bounded<128>,
    /// AccessKeySecret.
    pub secret: Bounded<256>,
    /// Default `true`.
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
}

fn enabled_by_default() -> bool {
    true
}

/// A catalog entry.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogEntry {
    /// Plug-in name.
    pub name: Bounded<MAX_NAME_CHARS>,
    /// `Once` or `Persist` (default).
    #[serde(rename = "type", default = "persist")]
    pub plugin_type: PluginType,
}

fn persist() -> PluginType {
    PluginType::Persist
}

/// An instance.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FixtureInstance {
    /// Unique within its account.
    pub instance_id: Bounded<128>,
    /// The region it lives in.
    pub region_id: Bounded<64>,
    /// Owner; default the default account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<Bounded<64>>,
    /// Its plug-ins.
    #[serde(default)]
    pub plugins: Vec<FixturePlugin>,
}

/// A plug-in on an instance.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FixturePlugin {
    /// Plug-in name.
    pub name: Bounded<MAX_NAME_CHARS>,
    /// Version; may be empty.
    #[serde(default)]
    pub version: Version,
    /// One of the seven statuses.
    pub status: PluginStatus,
    /// RFC 3339; empty or absent until a heartbeat.
    #[serde(default, with = "wire_time", skip_serializing_if = "Option::is_none")]
    pub first_heartbeat_time: Option<DateTime<Utc>>,
    /// RFC 3339; empty or absent until a heartbeat.
    #[serde(default, with = "wire_time", skip_serializing_if = "Option::is_none")]
    pub last_heartbeat_time: Option<DateTime<Utc>>,
}

/// The body of `PUT /_emulator/instances/{id}`: a fixture instance without its id.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InstanceBody {
    /// The region it lives in.
    pub region_id: Bounded<64>,
    /// Owner; default the default account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<Bounded<64>>,
    /// Its plug-ins.
    #[serde(default)]
    pub plugins: Vec<FixturePlugin>,
}

/// The body of `PUT /_emulator/instances/{id}/plugins/{name}`: a fixture plug-in without its
/// name.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PluginBody {
    /// Version; may be empty.
    #[serde(default)]
    pub version: Version,
    /// One of the seven statuses.
    pub status: PluginStatus,
    /// RFC 3339; empty or absent until a heartbeat.
    #[serde(default, with = "wire_time", skip_serializing_if = "Option::is_none")]
    pub first_heartbeat_time: Option<DateTime<Utc>>,
    /// RFC 3339; empty or absent until a heartbeat.
    #[serde(default, with = "wire_time", skip_serializing_if = "Option::is_none")]
    pub last_heartbeat_time: Option<DateTime<Utc>>,
}

impl PluginBody {
    /// The engine's record.
    pub fn into_record(self) -> PluginRecord {
        PluginRecord {
            version: self.version.into(),
            status: self.status,
            first_heartbeat: self.first_heartbeat_time,
            last_heartbeat: self.last_heartbeat_time,
        }
    }
}

impl FixturePlugin {
    /// The engine's (name, record).
    pub fn into_named_record(self) -> (String, PluginRecord) {
        let record = PluginRecord {
            version: self.version.into(),
            status: self.status,
            first_heartbeat: self.first_heartbeat_time,
            last_heartbeat: self.last_heartbeat_time,
        };
        (self.name.into(), record)
    }

    /// The fixture form of a stored record.
    pub fn from_record(name: &str, record: &PluginRecord) -> Self {
        Self {
            name: Bounded(name.to_owned()),
            version: Version(record.version.clone()),
            status: record.status,
            first_heartbeat_time: record.first_heartbeat,
            last_heartbeat_time: record.last_heartbeat,
        }
    }
}

impl FixtureInstance {
    /// The fixture form of a stored instance.
    pub fn from_instance(account: &str, region: &str, id: &str, instance: &Instance) -> Self {
        Self {
            instance_id: Bounded(id.to_owned()),
            region_id: Bounded(region.to_owned()),
            account_id: Some(Bounded(account.to_owned())),
            plugins: instance
                .plugins
                .iter()
                .map(|(name, record)| FixturePlugin::from_record(name, record))
                .collect(),
        }
    }
}

/// A string of 1 to `MAX` characters, checked while parsing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Bounded<const MAX: usize>(String);

impl<const MAX: usize> Bounded<MAX> {
    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<const MAX: usize> TryFrom<String> for Bounded<MAX> {
    type Error = String;
    fn try_from(value: String) -> Result<Self, String> {
        check_text(&value, 1, MAX)?;
        Ok(Self(value))
    }
}

/// Text of `min` to `max` characters that [`crate::text::check`] accepts: every string of the
/// data is answered in XML too.
fn check_text(value: &str, min: usize, max: usize) -> Result<(), String> {
    let len = value.chars().count();
    if len < min || len > max {
        return Err(format!("expected {min} to {max} characters, got {len}"));
    }
    crate::text::check(value).map_err(|refusal| format!("{refusal}, in {value:?}"))
}

/// A plug-in version: up to 255 characters, possibly empty, text [`crate::text::check`] accepts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Version(String);

impl Version {
    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Version {
    type Error = String;
    fn try_from(value: String) -> Result<Self, String> {
        check_text(&value, 0, 255)?;
        Ok(Self(value))
    }
}

impl From<Version> for String {
    fn from(value: Version) -> String {
        value.0
    }
}

impl<const MAX: usize> From<Bounded<MAX>> for String {
    fn from(value: Bounded<MAX>) -> String {
        value.0
    }
}

impl<const MAX: usize> From<&str> for Bounded<MAX> {
    /// For code that builds fixtures; the length is the caller's to keep.
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

/// Times as `YYYY-MM-DDThh:mm:ssZ`; any RFC 3339 time from year 1 to 9999 (in UTC) is read, an
/// empty string is `None`.
mod wire_time {
    use chrono::{DateTime, SecondsFormat, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => s.serialize_str(&t.to_rfc3339_opts(SecondsFormat::Secs, true)),
            None => s.serialize_str(""),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
        let text = Option::<String>::deserialize(d)?.unwrap_or_default();
        if text.is_empty() {
            return Ok(None);
        }
        let time = DateTime::parse_from_rfc3339(&text)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| {
                serde::de::Error::custom(format!(
                    "time {text:?} is not RFC 3339 like 2020-01-19T09:15:46Z ({e})"
                ))
            })?;
        if !crate::clock::in_range(time) {
            return Err(serde::de::Error::custom(crate::clock::out_of_range(
                &format!("{text:?}"),
            )));
        }
        Ok(Some(time))
    }
}

/// A fixture that cannot be used, with where and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FixtureError {
    /// The file (or "built-in demo data").
    pub file: String,
    /// 1-based line, when known.
    pub line: usize,
    /// 1-based column, when known.
    pub column: usize,
    /// What is wrong.
    pub problem: String,
}

impl fmt::Display for FixtureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.column, self.problem
        )
    }
}

impl std::error::Error for FixtureError {}

/// What a loaded fixture holds, for `check-data`, the start-up log and the control plane.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Accounts.
    pub accounts: usize,
    /// Catalog entries.
    pub catalog: usize,
    /// Instances.
    pub instances: usize,
    /// Regions holding instances.
    pub regions: usize,
    /// Plug-in records.
    pub records: usize,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} accounts, {} catalog plug-ins, {} instances in {} regions, {} plug-in records",
            self.accounts, self.catalog, self.instances, self.regions, self.records
        )
    }
}

/// Reads a fixture file into a store.
///
/// The text is dropped before the store is built, so that loading a large file does not hold
/// text, parsed fixture and store at once; it is read again only to place an error.
pub fn load_file(path: &Path) -> Result<Store, FixtureError> {
    let name = path.display().to_string();
    let read = || {
        std::fs::read_to_string(path).map_err(|e| FixtureError {
            file: name.clone(),
            line: 0,
            column: 0,
            problem: format!("cannot read the file: {e}"),
        })
    };
    let fixture = parse(&name, &read()?)?;
    fixture.into_store().map_err(|e| {
        let text = read().unwrap_or_default();
        locate(&name, &text, &e)
    })
}

/// Parses fixture text into a store; `name` is used in errors.
pub fn load_str(name: &str, text: &str) -> Result<Store, FixtureError> {
    parse(name, text)?
        .into_store()
        .map_err(|e| locate(name, text, &e))
}

fn parse(name: &str, text: &str) -> Result<Fixture, FixtureError> {
    serde_json::from_str(text).map_err(|e| FixtureError {
        file: name.to_owned(),
        line: e.line(),
        // serde_json counts the column at the end of input as 0; columns start at 1.
        column: e.column().max(1),
        problem: strip_position(&e.to_string()),
    })
}

/// A cross-record error placed at the offending value of the fixture text.
pub fn locate(name: &str, text: &str, error: &DataError) -> FixtureError {
    let (line, column) = position_of(text, error);
    FixtureError {
        file: name.to_owned(),
        line,
        column,
        problem: error.to_string(),
    }
}

/// The demo data as a store.
pub fn demo_store() -> Store {
    load_str(DEMO_DATA_NAME, DEMO_DATA).expect("the built-in demo data is valid (tested)")
}

/// Summarises a store.
pub fn summarize(store: &Store) -> Summary {
    let (instances, records) = store.counts();
    Summary {
        accounts: store.accounts().len(),
        catalog: store.catalog().count(),
        instances,
        regions: store.data_regions().count(),
        records,
    }
}

impl Fixture {
    /// The whole state of a store as a fixture, secrets included: loading it gives the same
    /// store. Instances come grouped by account and region, by id within each.
    pub fn from_store(store: &Store) -> Self {
        let accounts = store
            .accounts()
            .iter()
            .map(|a| FixtureAccount {
                account_id: Bounded(a.id.clone()),
                default: a.id == store.default_account(),
                access_keys: a
                    .access_keys
                    .iter()
                    .map(|k| FixtureAccessKey {
                        id: Bounded(k.id.clone()),
                        secret: Bounded(k.secret.clone()),
                        enabled: k.enabled,
                    })
                    .collect(),
            })
            .collect();
        let catalog = store
            .catalog()
            .map(|(name, plugin_type)| CatalogEntry {
                name: Bounded(name.to_owned()),
                plugin_type,
            })
            .collect();
        let instances = store
            .instances()
            .map(|(account, region, id, instance)| {
                FixtureInstance::from_instance(account, region, id, instance)
            })
            .collect();
        Self {
            accounts,
            catalog,
            instances,
        }
    }

    /// Builds the store, checking the rules that span records.
    pub fn into_store(self) -> Result<Store, DataError> {
        let accounts = self
            .accounts
            .into_iter()
            .map(|a| {
                let keys = a
                    .access_keys
                    .into_iter()
                    .map(|k| AccessKey {
                        id: k.id.into(),
                        secret: k.secret.into(),
                        enabled: k.enabled,
                    })
                    .collect();
                (
                    Account {
                        id: a.account_id.into(),
                        access_keys: keys,
                    },
                    a.default,
                )
            })
            .collect();
        let catalog = self
            .catalog
            .into_iter()
            .map(|c| (c.name.into(), c.plugin_type))
            .collect();
        let mut store = Store::new(accounts, catalog)?;
        let default_account = store.default_account().to_owned();
        for instance in self.instances {
            let account = instance
                .account_id
                .map_or_else(|| default_account.clone(), String::from);
            let plugins = instance
                .plugins
                .into_iter()
                .map(FixturePlugin::into_named_record)
                .collect();
            store.add_instance(
                &account,
                instance.region_id.as_str(),
                instance.instance_id.as_str(),
                plugins,
            )?;
        }
        Ok(store)
    }
}

/// serde_json appends " at line L column C"; the position is reported separately.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

/// Where in the text a cross-record error is: the offending occurrence of the value it names.
fn position_of(text: &str, error: &DataError) -> (usize, usize) {
    let quoted = |s: &str| serde_json::to_string(s).unwrap_or_default();
    let offset = match error {
        DataError::DefaultAccount(_) => find_nth(text, "\"accounts\"", 0, 1),
        DataError::DuplicateAccount(id) => find_nth(text, &quoted(id), 0, 2),
        DataError::DuplicateAccessKey(id) => find_nth(text, &quoted(id), 0, 2),
        DataError::DuplicateCatalogEntry(name) => find_nth(text, &quoted(name), 0, 2),
        DataError::UnknownAccount { account, instance } => {
            let at = find_nth(text, &quoted(instance), 0, 1).unwrap_or(0);
            find_nth(text, &quoted(account), at, 1).or(Some(at))
        }
        DataError::DuplicateInstance { instance, .. } => find_nth(text, &quoted(instance), 0, 2),
        DataError::DuplicatePlugin { instance, plugin } => {
            let at = find_nth(text, &quoted(instance), 0, 1).unwrap_or(0);
            find_nth(text, &quoted(plugin), at, 2)
        }
        DataError::BadLength { .. } | DataError::UnknownInstance { .. } => None,
    };
    match offset {
        Some(offset) => line_column(text, offset),
        None => (1, 1),
    }
}

fn find_nth(text: &str, needle: &str, from: usize, nth: usize) -> Option<usize> {
    let mut at = from;
    for _ in 1..nth {
        at += text.get(at..)?.find(needle)? + needle.len();
    }
    text.get(at..)?.find(needle).map(|i| at + i)
}

fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rfind('\n').map_or(offset, |nl| offset - nl - 1) + 1;
    (line, column)
}

/// Plug-in names the generator uses first; more are numbered.
const GENERATED_NAMES: [(&str, PluginType); 6] = [
    ("ACS-ECS-GpuCheck", PluginType::Once),
    ("config_ecs_instance_connect", PluginType::Once),
    ("ecs_dump_config", PluginType::Once),
    ("ecs_tools_test", PluginType::Persist),
    ("multi-nic-util", PluginType::Persist),
    ("oos-package-agent", PluginType::Persist),
];

/// Options of `generate`.
#[derive(Debug, Clone, Copy)]
pub struct GenerateOptions {
    /// Instances in all.
    pub instances: u64,
    /// Plug-ins on each instance.
    pub plugins_per_instance: u64,
    /// Regions the instances are spread over (at most the public list's length).
    pub regions: usize,
    /// Seed; the same seed gives the same file.
    pub seed: u64,
}

/// Writes a valid fixture of the given size, streaming so that millions of records fit.
pub fn generate(options: GenerateOptions, out: &mut dyn Write) -> io::Result<()> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(options.seed);
    let regions = &PUBLIC_REGIONS[..options.regions.clamp(1, PUBLIC_REGIONS.len())];
    let names: Vec<(String, PluginType)> = (0..options.plugins_per_instance)
        .map(|i| match GENERATED_NAMES.get(i as usize) {
            Some((name, t)) => ((*name).to_owned(), *t),
            None => (format!("generated-plugin-{i:05}"), PluginType::Persist),
        })
        .collect();
    let header = Fixture {
        accounts: vec![FixtureAccount {
            account_id: crate::engine::DEFAULT_ACCOUNT_ID.into(),
            default: true,
            access_keys: vec![FixtureAccessKey {
                id: "LTAI5tDemoKey0001".into(),
                secret: "demo-secret".into(),
                enabled: true,
            }],
        }],
        catalog: names
            .iter()
            .map(|(name, t)| CatalogEntry {
                name: name.as_str().into(),
                plugin_type: *t,
            })
            .collect(),
        instances: Vec::new(),
    };
    let head = serde_json::to_string(&header)?;
    // Reopen the empty instances array and stream into it.
    let head = head
        .strip_suffix("[]}")
        .expect("instances is the last field and empty");
    out.write_all(head.as_bytes())?;
    out.write_all(b"[\n")?;
    let epoch = DateTime::parse_from_rfc3339("2024-01-01T00:00:00Z")
        .expect("valid constant")
        .with_timezone(&Utc);
    for index in 0..options.instances {
        let region = regions[(index % regions.len() as u64) as usize];
        let plugins = names
            .iter()
            .map(|(name, _)| {
                let status = PluginStatus::ALL[rng.gen_range(0..PluginStatus::ALL.len())];
                let first = epoch + chrono::Duration::seconds(rng.gen_range(0..60 * 86_400));
                let last = first + chrono::Duration::seconds(rng.gen_range(0..300 * 86_400));
                let beat = status != PluginStatus::NotInstalled;
                FixturePlugin {
                    name: name.as_str().into(),
                    version: Version(if beat {
                        format!("1.{}", rng.gen_range(0..20))
                    } else {
                        String::new()
                    }),
                    status,
                    first_heartbeat_time: beat.then_some(first),
                    last_heartbeat_time: beat.then_some(last),
                }
            })
            .collect();
        let instance = FixtureInstance {
            instance_id: format!("i-gen{:04x}{index:012}", options.seed & 0xffff)
                .as_str()
                .into(),
            region_id: region.into(),
            account_id: None,
            plugins,
        };
        if index > 0 {
            out.write_all(b",\n")?;
        }
        serde_json::to_writer(&mut *out, &instance)?;
    }
    out.write_all(b"\n]}\n")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_data_loads_and_covers_every_status() {
        let store = demo_store();
        let seen: std::collections::HashSet<PluginStatus> = store
            .instances()
            .flat_map(|(_, _, _, i)| i.plugins.iter().map(|(_, r)| r.status))
            .collect();
        for status in PluginStatus::ALL {
            assert!(seen.contains(&status), "demo data lacks {status}");
        }
        assert!(store.accounts().len() >= 2);
        assert!(store.data_regions().count() >= 3);
    }

    #[test]
    fn syntax_and_type_errors_carry_their_position() {
        let text = "{\n  \"instances\": [\n    {\"instanceId\": \"i-1\", \"regionId\": \"cn-hangzhou\",\n     \"plugins\": [{\"name\": \"p\", \"status\": \"Sleeping\"}]}\n  ]\n}\n";
        let err = load_str("f.json", text).unwrap_err();
        assert_eq!((err.file.as_str(), err.line), ("f.json", 4));
        assert!(err.problem.contains("Sleeping"), "{err}");
        assert!(!err.problem.contains(" at line "), "{err}");
    }

    #[test]
    fn cross_record_errors_point_at_the_offending_value() {
        let text = "{\"instances\": [\n{\"instanceId\": \"i-1\", \"regionId\": \"r\"},\n{\"instanceId\": \"i-1\", \"regionId\": \"r\"}\n]}";
        let err = load_str("f.json", text).unwrap_err();
        assert_eq!((err.line, err.column), (3, 16), "{err}");
        assert!(err.problem.contains("i-1"), "{err}");

        let text = "{\"instances\": [\n{\"instanceId\": \"i-1\", \"regionId\": \"r\", \"accountId\": \"999\"}]}";
        let err = load_str("f.json", text).unwrap_err();
        assert_eq!(err.line, 2, "{err}");
        assert!(err.problem.contains("999"), "{err}");
    }

    #[test]
    fn generate_is_deterministic_and_loads() {
        let options = GenerateOptions {
            instances: 30,
            plugins_per_instance: 8,
            regions: 3,
            seed: 42,
        };
        let (mut a, mut b) = (Vec::new(), Vec::new());
        generate(options, &mut a).unwrap();
        generate(options, &mut b).unwrap();
        assert_eq!(a, b);
        let store = load_str("generated", std::str::from_utf8(&a).unwrap()).unwrap();
        let summary = summarize(&store);
        assert_eq!(
            (summary.instances, summary.records, summary.regions),
            (30, 240, 3)
        );
    }

    #[test]
    fn a_store_exported_and_loaded_again_is_the_same() {
        let store = demo_store();
        let exported = serde_json::to_string(&Fixture::from_store(&store)).unwrap();
        let again = load_str("exported", &exported).unwrap();
        let exported_again = serde_json::to_string(&Fixture::from_store(&again)).unwrap();
        assert_eq!(exported, exported_again);
        assert_eq!(summarize(&store), summarize(&again));
        assert_eq!(store.accounts(), again.accounts());
    }
}
