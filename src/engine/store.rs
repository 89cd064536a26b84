//! The [`Store`]: accounts, the catalog and the partitions, with the indexes every change keeps
//! true (regions holding data, plug-in names per partition, the shared strings).
//!
//! # Memory
//!
//! A plug-in record costs about 32 bytes resident (`scripts/memory.sh`: 100,000 instances of
//! 20 plug-ins): 24 for the [`StoredRecord`] in its instance's slice, and the instance's own
//! share spread over its plug-ins (its entry in the partition with its agent, its id, the
//! slice's header: about 150 bytes). Names and versions are kept once in the store's
//! [`Strings`] and records hold their ids; the agent's default version is shared too.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use super::commands::Space;
use super::plugins::{self, InstanceView, StoredRecord};
use super::regions;
use super::strings::{Strings, Sym};
use super::{
    AccessKey, Account, AgentState, CatalogEntry, DataError, Instance, OrderedMap, OsType,
    PluginRecord, PluginType, DEFAULT_ACCOUNT_ID, MAX_NAME_CHARS,
};

/// The instances of one account in one region.
#[derive(Debug, Clone, Default)]
pub(super) struct Partition {
    pub(super) instances: OrderedMap<String, Instance>,
    /// How many instances of the partition have each plug-in name: the names a caller may ask
    /// for here besides the catalog's.
    plugin_names: HashMap<Sym, usize>,
}

/// Everything the emulator knows: accounts, the plug-in catalog, and the instances.
#[derive(Debug, Clone)]
pub struct Store {
    accounts: Vec<Account>,
    default_account: String,
    /// AccessKeyId → index into `accounts`.
    key_owners: HashMap<String, usize>,
    catalog: BTreeMap<Arc<str>, CatalogEntry>,
    /// account → region → partition.
    partitions: Partitions,
    /// Every region that holds at least one instance, with its instance count.
    data_regions: BTreeMap<String, usize>,
    /// Every plug-in name and version the records hold, once, counted by record.
    pub(super) strings: Strings,
    /// (account, region) → its commands, invocations and client tokens.
    pub(super) spaces: BTreeMap<(String, String), Space>,
    /// The next sequence number of a command or invocation.
    pub(super) next_seq: u64,
    /// (account, region, key) of every invocation with a run that may still change.
    pub(super) active: BTreeSet<(String, String, u64)>,
    /// (account, instance) of every agent being installed.
    pub(super) installing: BTreeSet<(String, String)>,
    /// When the earliest step of a run or an agent is due: see [`Store::earliest_step`].
    pub(super) earliest_step: EarliestStep,
}

/// The time of a store's earliest due step, worked out once per store value. A clone starts
/// without it and a change clears it, so only a store that no longer changes (a published
/// snapshot) keeps it.
#[derive(Debug, Default)]
pub(super) struct EarliestStep(
    pub(super) std::sync::OnceLock<Option<chrono::DateTime<chrono::Utc>>>,
);

impl Clone for EarliestStep {
    fn clone(&self) -> Self {
        Self::default()
    }
}

impl Store {
    /// A store with these accounts (exactly one `default`) and catalog, and no instances.
    /// With no accounts, one default account with no keys is made.
    pub fn new(
        accounts: Vec<(Account, bool)>,
        catalog: Vec<(String, PluginType)>,
    ) -> Result<Self, DataError> {
        let accounts = if accounts.is_empty() {
            vec![(
                Account {
                    id: DEFAULT_ACCOUNT_ID.to_owned(),
                    access_keys: Vec::new(),
                },
                true,
            )]
        } else {
            accounts
        };
        let defaults: Vec<&Account> = accounts
            .iter()
            .filter(|(_, d)| *d)
            .map(|(a, _)| a)
            .collect();
        let [default] = defaults[..] else {
            return Err(DataError::DefaultAccount(defaults.len()));
        };
        let default_account = default.id.clone();
        let mut key_owners = HashMap::new();
        let mut ids = BTreeSet::new();
        for (index, (account, _)) in accounts.iter().enumerate() {
            check_length("an account id", &account.id, 64)?;
            if !ids.insert(account.id.as_str()) {
                return Err(DataError::DuplicateAccount(account.id.clone()));
            }
            for key in &account.access_keys {
                check_length("an access key id", &key.id, 128)?;
                if key_owners.insert(key.id.clone(), index).is_some() {
                    return Err(DataError::DuplicateAccessKey(key.id.clone()));
                }
            }
        }
        let mut store = Self {
            accounts: accounts.into_iter().map(|(a, _)| a).collect(),
            default_account,
            key_owners,
            catalog: BTreeMap::new(),
            partitions: HashMap::new(),
            data_regions: BTreeMap::new(),
            strings: Strings::default(),
            spaces: BTreeMap::new(),
            next_seq: 0,
            active: BTreeSet::new(),
            installing: BTreeSet::new(),
            earliest_step: EarliestStep::default(),
        };
        for (name, plugin_type) in catalog {
            check_length("a plug-in name", &name, MAX_NAME_CHARS)?;
            if store.catalog.contains_key(name.as_str()) {
                return Err(DataError::DuplicateCatalogEntry(name));
            }
            let entry = CatalogEntry {
                plugin_type,
                versions: Vec::new(),
            };
            store.catalog.insert(Arc::from(name), entry);
        }
        Ok(store)
    }

    /// The stored form of `record` under `name`, counting one use of each string; only for a
    /// record about to be stored, since [`Store::release_record`] gives the uses back.
    fn retain_record(&mut self, name: &str, record: &PluginRecord) -> StoredRecord {
        let name = self.strings.retain(name);
        let version = self.strings.retain(&record.version);
        StoredRecord::new(name, version, record)
    }

    /// Gives back the uses of a record's strings.
    fn release_record(strings: &mut Strings, record: &StoredRecord) {
        strings.release(record.name);
        strings.release(record.version);
    }

    /// Adds an instance with its plug-ins. The account must exist and the id be new in it.
    pub fn add_instance(
        &mut self,
        account: &str,
        region: &str,
        instance_id: &str,
        plugins: Vec<(String, PluginRecord)>,
    ) -> Result<(), DataError> {
        if self.instance_region(account, instance_id).is_some() {
            return Err(DataError::DuplicateInstance {
                account: account.to_owned(),
                instance: instance_id.to_owned(),
            });
        }
        self.put_instance(account, region, instance_id, plugins)
            .map(|_| ())
    }

    /// Creates or replaces an instance with its plug-ins, possibly in another region; true when
    /// it is new. Everything is checked before anything changes, so a refusal changes nothing.
    pub fn put_instance(
        &mut self,
        account: &str,
        region: &str,
        instance_id: &str,
        plugins: Vec<(String, PluginRecord)>,
    ) -> Result<bool, DataError> {
        check_length("an instance id", instance_id, 128)?;
        check_length("a region id", region, 64)?;
        if !self.has_account(account) {
            return Err(DataError::UnknownAccount {
                account: account.to_owned(),
                instance: instance_id.to_owned(),
            });
        }
        for (name, _) in &plugins {
            check_length("a plug-in name", name, MAX_NAME_CHARS)?;
        }
        let mut sorted: Vec<(String, PluginRecord)> = plugins;
        sorted.sort_by(|a, b| a.0.cmp(&b.0));
        if let Some(pair) = sorted.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(DataError::DuplicatePlugin {
                instance: instance_id.to_owned(),
                plugin: pair[0].0.clone(),
            });
        }
        let created = !self.remove_instance(account, instance_id);
        let records: Arc<[StoredRecord]> = sorted
            .iter()
            .map(|(name, record)| self.retain_record(name, record))
            .collect();
        let partition = self
            .partitions
            .entry(account.to_owned())
            .or_default()
            .entry(region.to_owned())
            .or_default();
        for record in records.iter() {
            partition.count_name(record.name);
        }
        partition.instances.insert(
            instance_id.to_owned(),
            Instance {
                plugins: records,
                os: OsType::default(),
                agent: AgentState::default(),
            },
        );
        *self.data_regions.entry(region.to_owned()).or_insert(0) += 1;
        Ok(created)
    }

    /// Removes an instance and its plug-ins; false when the account has no such instance.
    pub fn remove_instance(&mut self, account: &str, instance_id: &str) -> bool {
        let Some(region) = self
            .instance_region(account, instance_id)
            .map(str::to_owned)
        else {
            return false;
        };
        let regions = self.partitions.get_mut(account).expect("found account");
        let partition = regions.get_mut(&region).expect("found region");
        let instance = partition
            .instances
            .remove(instance_id)
            .expect("found instance");
        for record in instance.plugins.iter() {
            partition.forget_name(record.name);
            Self::release_record(&mut self.strings, record);
        }
        if partition.instances.is_empty() {
            regions.remove(&region);
        }
        if let Some(count) = self.data_regions.get_mut(&region) {
            *count -= 1;
            if *count == 0 {
                self.data_regions.remove(&region);
            }
        }
        self.installing
            .remove(&(account.to_owned(), instance_id.to_owned()));
        true
    }

    /// Creates or replaces one plug-in of an existing instance; true when it is new.
    pub fn put_plugin(
        &mut self,
        account: &str,
        instance_id: &str,
        name: &str,
        record: PluginRecord,
    ) -> Result<bool, DataError> {
        check_length("a plug-in name", name, MAX_NAME_CHARS)?;
        // Checked before the strings are counted, so a refused write leaves no trace.
        let region = self.region_of(account, instance_id)?;
        let stored = self.retain_record(name, &record);
        let partition = partition_mut(&mut self.partitions, account, &region);
        let instance = partition
            .instances
            .get_mut(instance_id)
            .expect("found instance");
        let (records, replaced) =
            plugins::with_record(&instance.plugins, &self.strings, name, stored);
        instance.plugins = records;
        match replaced {
            Some(old) => Self::release_record(&mut self.strings, &old),
            None => partition.count_name(stored.name),
        }
        Ok(replaced.is_none())
    }

    /// Deletes one plug-in record of an instance (it is no longer listed at all).
    pub fn remove_plugin(
        &mut self,
        account: &str,
        instance_id: &str,
        name: &str,
    ) -> Result<bool, DataError> {
        let region = self.region_of(account, instance_id)?;
        let partition = partition_mut(&mut self.partitions, account, &region);
        let instance = partition
            .instances
            .get_mut(instance_id)
            .expect("found instance");
        let Ok(i) = plugins::position(&instance.plugins, &self.strings, name) else {
            return Ok(false);
        };
        let mut records = instance.plugins.to_vec();
        let removed = records.remove(i);
        instance.plugins = records.into();
        partition.forget_name(removed.name);
        Self::release_record(&mut self.strings, &removed);
        Ok(true)
    }

    /// The region of an account's instance, or the error naming both.
    fn region_of(&self, account: &str, instance_id: &str) -> Result<String, DataError> {
        self.instance_region(account, instance_id)
            .map(str::to_owned)
            .ok_or_else(|| DataError::UnknownInstance {
                account: account.to_owned(),
                instance: instance_id.to_owned(),
            })
    }

    /// The region of an account's instance. An account's instances are spread over the few
    /// regions it has data in, so this asks each of them (O(regions × log n)) rather than keep
    /// an index of every instance, which every change to the store would have to copy.
    pub fn instance_region(&self, account: &str, instance_id: &str) -> Option<&str> {
        self.partitions
            .get(account)?
            .iter()
            .find(|(_, partition)| partition.instances.contains_key(instance_id))
            .map(|(region, _)| region.as_str())
    }

    /// An account's instance with its region.
    pub fn instance(&self, account: &str, instance_id: &str) -> Option<(&str, InstanceView<'_>)> {
        let region = self.instance_region(account, instance_id)?;
        let instance = self
            .partition(account, region)?
            .instances
            .get(instance_id)?;
        Some((region, self.view(instance)))
    }

    /// A stored instance as readers see it.
    pub(super) fn view<'s>(&'s self, instance: &'s Instance) -> InstanceView<'s> {
        InstanceView::new(instance, &self.strings)
    }

    /// The accounts that have an instance with this id, in account order.
    pub fn owners_of(&self, instance_id: &str) -> Vec<&str> {
        self.accounts
            .iter()
            .map(|a| a.id.as_str())
            .filter(|account| self.instance_region(account, instance_id).is_some())
            .collect()
    }

    /// True when the account exists.
    pub fn has_account(&self, account: &str) -> bool {
        self.accounts.iter().any(|a| a.id == account)
    }

    /// A plug-in's type: the catalog's, else `Persist`.
    pub fn plugin_type(&self, name: &str) -> PluginType {
        self.catalog
            .get(name)
            .map_or(PluginType::Persist, |entry| entry.plugin_type)
    }

    /// Sets the versions a catalog plug-in is published at; false when it is not in the
    /// catalog.
    pub fn set_catalog_versions(&mut self, name: &str, versions: Vec<String>) -> bool {
        match self.catalog.get_mut(name) {
            Some(entry) => {
                entry.versions = versions;
                true
            }
            None => false,
        }
    }

    /// Sets every catalog plug-in's published versions: those `given`, else the versions the
    /// plug-in has in the data as it stands (any account, since the catalog is shared; lowest
    /// first), else `["1.0"]`. Loading data does this once, so that a fixture's plug-ins are
    /// not downgraded by the first `acs-plugin-manager --exec`.
    pub fn settle_catalog_versions(&mut self, given: Vec<(String, Vec<String>)>) {
        let mut found: BTreeMap<String, Vec<String>> = self
            .catalog
            .keys()
            .map(|name| (name.to_string(), Vec::new()))
            .collect();
        for (_, _, _, instance) in self.instances() {
            for (name, record) in instance.plugins.iter() {
                if let Some(versions) = found.get_mut(name) {
                    let version = record.version();
                    if !version.is_empty() && !versions.iter().any(|v| v == version) {
                        versions.push(version.to_owned());
                    }
                }
            }
        }
        for versions in found.values_mut() {
            versions.sort_by(|a, b| super::version::compare(a, b));
            if versions.is_empty() {
                versions.push("1.0".to_owned());
            }
        }
        found.extend(given);
        for (name, versions) in found {
            self.set_catalog_versions(&name, versions);
        }
    }

    /// Sets an instance's OS and agent.
    pub fn set_os_and_agent(
        &mut self,
        account: &str,
        instance_id: &str,
        os: OsType,
        agent: AgentState,
    ) -> Result<(), DataError> {
        let installing = agent.ready_at.is_some();
        let instance = self.instance_mut(account, instance_id)?;
        instance.os = os;
        instance.agent = agent;
        let key = (account.to_owned(), instance_id.to_owned());
        if installing {
            self.installing.insert(key);
        } else {
            self.installing.remove(&key);
        }
        Ok(())
    }

    /// An instance of the account, to change.
    pub(super) fn instance_mut(
        &mut self,
        account: &str,
        instance_id: &str,
    ) -> Result<&mut Instance, DataError> {
        let region = self.region_of(account, instance_id)?;
        partition_mut(&mut self.partitions, account, &region)
            .instances
            .get_mut(instance_id)
            .ok_or_else(|| DataError::UnknownInstance {
                account: account.to_owned(),
                instance: instance_id.to_owned(),
            })
    }

    /// The default account's id.
    pub fn default_account(&self) -> &str {
        &self.default_account
    }

    /// The accounts, in fixture order.
    pub fn accounts(&self) -> &[Account] {
        &self.accounts
    }

    /// The account owning an access key, with the key.
    pub fn access_key(&self, key_id: &str) -> Option<(&Account, &AccessKey)> {
        let account = &self.accounts[*self.key_owners.get(key_id)?];
        let key = account.access_keys.iter().find(|k| k.id == key_id)?;
        Some((account, key))
    }

    /// The plug-in catalog by name.
    pub fn catalog(&self) -> impl Iterator<Item = (&str, PluginType)> + '_ {
        self.catalog.iter().map(|(n, e)| (&**n, e.plugin_type))
    }

    /// The plug-in catalog by name, with the versions published.
    pub fn catalog_entries(&self) -> impl Iterator<Item = (&str, &CatalogEntry)> + '_ {
        self.catalog.iter().map(|(n, e)| (&**n, e))
    }

    /// True for a public region or a region holding an instance of any account.
    pub fn knows_region(&self, region: &str) -> bool {
        regions::is_public(region) || self.data_regions.contains_key(region)
    }

    /// Regions that hold instances, sorted.
    pub fn data_regions(&self) -> impl Iterator<Item = &str> + '_ {
        self.data_regions.keys().map(String::as_str)
    }

    /// Every instance of every account: (account, region, instance id, instance), grouped by
    /// partition and by instance id within one.
    pub fn instances(&self) -> impl Iterator<Item = (&str, &str, &str, InstanceView<'_>)> + '_ {
        let mut keys: Vec<(&str, &str, &Partition)> = self
            .partitions
            .iter()
            .flat_map(|(account, regions)| {
                regions
                    .iter()
                    .map(move |(region, p)| (account.as_str(), region.as_str(), p))
            })
            .collect();
        keys.sort_by_key(|&(account, region, _)| (account, region));
        keys.into_iter()
            .flat_map(move |(account, region, partition)| {
                partition
                    .instances
                    .iter()
                    .map(move |(id, inst)| (account, region, id.as_str(), self.view(inst)))
            })
    }

    /// Number of instances and plug-in records.
    pub fn counts(&self) -> (usize, usize) {
        self.partitions
            .values()
            .flat_map(HashMap::values)
            .flat_map(|p| p.instances.iter())
            .fold((0, 0), |(i, r), (_, inst)| (i + 1, r + inst.plugins.len()))
    }

    /// True when a caller of `account` may ask for `name` in `region`: the catalog's names and
    /// the names on the account's own instances there.
    pub fn may_ask_for(&self, account: &str, region: &str, name: &str) -> bool {
        self.catalog.contains_key(name)
            || self.partition(account, region).is_some_and(|p| {
                self.strings
                    .find(name)
                    .is_some_and(|sym| p.plugin_names.contains_key(&sym))
            })
    }

    pub(super) fn partition(&self, account: &str, region: &str) -> Option<&Partition> {
        self.partitions.get(account)?.get(region)
    }
}

/// Partitions by account, then region.
type Partitions = HashMap<String, HashMap<String, Partition>>;

fn partition_mut<'p>(
    partitions: &'p mut Partitions,
    account: &str,
    region: &str,
) -> &'p mut Partition {
    partitions
        .get_mut(account)
        .and_then(|regions| regions.get_mut(region))
        .expect("found partition")
}

impl Partition {
    /// Counts one more instance of the partition having the name `name`. The name's string
    /// is counted by the record that holds it, so it lives at least as long as this entry.
    fn count_name(&mut self, name: Sym) {
        *self.plugin_names.entry(name).or_insert(0) += 1;
    }

    /// Drops one instance of the partition having the name `name`.
    fn forget_name(&mut self, name: Sym) {
        if let Some(count) = self.plugin_names.get_mut(&name) {
            *count -= 1;
            if *count == 0 {
                self.plugin_names.remove(&name);
            }
        }
    }
}

fn check_length(what: &'static str, value: &str, max: usize) -> Result<(), DataError> {
    let len = value.chars().count();
    if len == 0 || len > max {
        return Err(DataError::BadLength { what, max, len });
    }
    Ok(())
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::engine::PluginStatus;

    fn record(status: PluginStatus) -> PluginRecord {
        PluginRecord {
            version: "1.0".into(),
            status,
            first_heartbeat: None,
            last_heartbeat: None,
        }
    }

    pub(in crate::engine) fn store() -> Store {
        let account = Account {
            id: "a1".into(),
            access_keys: vec![],
        };
        let mut store = Store::new(
            vec![(account, true)],
            vec![("cat".into(), PluginType::Once)],
        )
        .unwrap();
        for i in 0..5 {
            let plugins = vec![("p".to_string(), record(PluginStatus::Running))];
            let plugins = if i % 2 == 0 { plugins } else { vec![] };
            store
                .add_instance("a1", "r1", &format!("i-{i}"), plugins)
                .unwrap();
        }
        store
    }

    #[test]
    fn refuses_duplicates() {
        let mut store = store();
        let err = store.add_instance("a1", "r2", "i-1", vec![]).unwrap_err();
        assert!(matches!(err, DataError::DuplicateInstance { .. }));
        let twice = vec![
            ("x".to_string(), record(PluginStatus::Running)),
            ("x".to_string(), record(PluginStatus::Stopped)),
        ];
        let err = store.add_instance("a1", "r2", "i-new", twice).unwrap_err();
        assert!(matches!(err, DataError::DuplicatePlugin { .. }));
    }

    fn names_of(store: &Store, account: &str, region: &str) -> Vec<String> {
        let mut names: Vec<String> = store
            .partition(account, region)
            .map(|p| {
                p.plugin_names
                    .keys()
                    .map(|n| store.strings.get(*n).to_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }

    #[test]
    fn put_and_remove_keep_every_index_true() {
        let mut store = store();
        assert!(!store.may_ask_for("a1", "r9", "q"));
        let q = vec![("q".to_string(), record(PluginStatus::Stopped))];
        assert!(store.put_instance("a1", "r9", "i-9", q).unwrap());
        assert!(store.knows_region("r9") && store.may_ask_for("a1", "r9", "q"));
        // Replacing moves it to another region and drops its old names there.
        assert!(!store.put_instance("a1", "r1", "i-9", vec![]).unwrap());
        assert!(!store.knows_region("r9"));
        assert!(!store.may_ask_for("a1", "r9", "q"));
        assert_eq!(store.instance_region("a1", "i-9"), Some("r1"));
        assert_eq!(store.counts(), (6, 3));
        // Plug-ins one by one.
        assert!(store
            .put_plugin("a1", "i-9", "q", record(PluginStatus::Running))
            .unwrap());
        assert_eq!(names_of(&store, "a1", "r1"), ["p", "q"]);
        assert!(!store
            .put_plugin("a1", "i-9", "q", record(PluginStatus::Crashed))
            .unwrap());
        assert_eq!(
            store
                .instance("a1", "i-9")
                .unwrap()
                .1
                .plugins
                .get("q")
                .unwrap()
                .status(),
            PluginStatus::Crashed
        );
        assert!(store.remove_plugin("a1", "i-9", "q").unwrap());
        assert!(!store.remove_plugin("a1", "i-9", "q").unwrap());
        assert_eq!(names_of(&store, "a1", "r1"), ["p"]);
        // The name p stays while any instance has it.
        for i in [0, 2] {
            assert!(store.remove_instance("a1", &format!("i-{i}")));
        }
        assert_eq!(names_of(&store, "a1", "r1"), ["p"]);
        assert!(store.remove_instance("a1", "i-4"));
        assert!(names_of(&store, "a1", "r1").is_empty());
        assert!(!store.remove_instance("a1", "i-4"));
        assert_eq!(store.owners_of("i-1"), ["a1"]);
        let err = store
            .put_plugin("a1", "i-4", "q", record(PluginStatus::Running))
            .unwrap_err();
        assert!(matches!(err, DataError::UnknownInstance { .. }));
    }

    #[test]
    fn strings_are_kept_only_while_used() {
        let mut store = store();
        let kept = |store: &Store| store.strings.in_use().join(" ");
        assert_eq!(kept(&store), "1.0 p");
        // A refused write counts nothing.
        let err = store
            .put_plugin("a1", "i-missing", "ghost", record(PluginStatus::Running))
            .unwrap_err();
        assert!(matches!(err, DataError::UnknownInstance { .. }));
        assert_eq!(kept(&store), "1.0 p");
        // A name or version lives while a record has it.
        store
            .put_plugin("a1", "i-1", "q", record(PluginStatus::Running))
            .unwrap();
        let mut newer = record(PluginStatus::Stopped);
        newer.version = "2.0".into();
        store
            .put_instance("a1", "r2", "i-7", vec![("q".into(), newer.clone())])
            .unwrap();
        assert_eq!(kept(&store), "1.0 2.0 p q");
        assert!(store.remove_plugin("a1", "i-1", "q").unwrap());
        assert_eq!(kept(&store), "1.0 2.0 p q");
        // Replacing a record gives its old version back.
        store
            .put_plugin("a1", "i-7", "q", record(PluginStatus::Running))
            .unwrap();
        assert_eq!(kept(&store), "1.0 p q");
        store.put_plugin("a1", "i-7", "q", newer).unwrap();
        assert!(store.remove_instance("a1", "i-7"));
        assert_eq!(kept(&store), "1.0 p");
        for i in [0, 2, 4] {
            store.remove_instance("a1", &format!("i-{i}"));
        }
        assert_eq!(kept(&store), "");
    }

    #[test]
    fn a_clone_is_independent() {
        let original = store();
        let mut copy = original.clone();
        copy.put_plugin("a1", "i-1", "q", record(PluginStatus::Running))
            .unwrap();
        assert!(copy.remove_instance("a1", "i-0"));
        assert_eq!(original.counts(), (5, 3));
        assert_eq!(copy.counts(), (4, 3));
        assert!(original
            .instance("a1", "i-1")
            .unwrap()
            .1
            .plugins
            .get("q")
            .is_none());
    }

    #[test]
    fn a_refused_put_changes_nothing() {
        let mut store = store();
        let twice = vec![
            ("x".to_string(), record(PluginStatus::Running)),
            ("x".to_string(), record(PluginStatus::Stopped)),
        ];
        let err = store.put_instance("a1", "r1", "i-1", twice).unwrap_err();
        assert!(matches!(err, DataError::DuplicatePlugin { .. }));
        let err = store.put_instance("zz", "r1", "i-1", vec![]).unwrap_err();
        assert!(matches!(err, DataError::UnknownAccount { .. }));
        assert_eq!(store.counts(), (5, 3));
        assert_eq!(store.instance_region("a1", "i-1"), Some("r1"));
    }
}
