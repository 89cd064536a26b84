//! The data and the paging: pure and synchronous, no HTTP, no clock, no randomness.
//!
//! Records live in partitions, one per (account, region). A partition keeps its instances in
//! an [`OrderedMap`] by instance id, and every instance its plug-ins in an [`OrderedMap`] by
//! plug-in name, so a page after a cursor or at an offset costs O(log n + page).
//!
//! Every change to the data is a [`Change`] value that [`Store::apply`] checks and applies
//! whole, or refuses leaving the store as it was.
//!
//! Cloning a [`Store`] is cheap: the maps share their chunks with the clone, and a change to
//! the clone copies only what it touches. The served state publishes changed clones for
//! readers to snapshot, so no reader ever waits for a writer (see [`crate::state`]).

mod change;
pub mod lifecycle;
mod ordered;
pub mod regions;

pub use change::{Applied, Change, Refused};
pub use ordered::OrderedMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::sync::Arc;

/// A plug-in's state as Cloud Assistant reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PluginStatus {
    /// The plug-in is not installed.
    NotInstalled,
    /// A one-time plug-in is installed.
    Installed,
    /// A long-running plug-in is running.
    Running,
    /// A long-running plug-in is not running.
    Stopped,
    /// The plug-in is abnormal.
    Crashed,
    /// The plug-in was uninstalled; it is still listed.
    Removed,
    /// The state is unknown.
    Unknown,
}

impl PluginStatus {
    /// Every status, in the vendor's documented order.
    pub const ALL: [PluginStatus; 7] = [
        Self::NotInstalled,
        Self::Installed,
        Self::Running,
        Self::Stopped,
        Self::Crashed,
        Self::Removed,
        Self::Unknown,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotInstalled => "NotInstalled",
            Self::Installed => "Installed",
            Self::Running => "Running",
            Self::Stopped => "Stopped",
            Self::Crashed => "Crashed",
            Self::Removed => "Removed",
            Self::Unknown => "Unknown",
        }
    }
}

impl fmt::Display for PluginStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether a plug-in runs once (`Once`) or keeps running (`Persist`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PluginType {
    /// Runs once and is then `Installed`.
    Once,
    /// Keeps running: `Running`, `Stopped`, `Crashed`.
    Persist,
}

/// One plug-in on one instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginRecord {
    /// Version string as reported, e.g. `1.1`.
    pub version: String,
    /// Current state.
    pub status: PluginStatus,
    /// First heartbeat; `None` until one arrives.
    pub first_heartbeat: Option<DateTime<Utc>>,
    /// Latest heartbeat; `None` until one arrives.
    pub last_heartbeat: Option<DateTime<Utc>>,
}

/// An access key of an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessKey {
    /// The AccessKeyId.
    pub id: String,
    /// The AccessKeySecret; never logged or answered.
    pub secret: String,
    /// A disabled key is refused when signatures are checked.
    pub enabled: bool,
}

/// An account: the unit of isolation. A caller sees only its own account's instances.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// The account (owner) id.
    pub id: String,
    /// Its access keys.
    pub access_keys: Vec<AccessKey>,
}

/// An instance's plug-ins, ordered by name.
#[derive(Debug, Clone, Default)]
pub struct Instance {
    /// Plug-ins by name, `Removed` ones included.
    pub plugins: OrderedMap<Arc<str>, PluginRecord>,
}

/// The instances of one account in one region.
#[derive(Debug, Clone, Default)]
struct Partition {
    instances: OrderedMap<String, Instance>,
    /// How many instances of the partition have each plug-in name: the names a caller may ask
    /// for here besides the catalog's.
    plugin_names: HashMap<Arc<str>, usize>,
}

/// Which records a listing covers; the unit of paging is one plug-in record.
#[derive(Debug, Clone, Copy)]
pub enum Selection<'a> {
    /// One plug-in on the given instances (in this order), or on every instance of the
    /// partition in instance id order when `instances` is `None`.
    PluginOnInstances {
        /// The plug-in name.
        name: &'a str,
        /// The instances, already deduplicated; `None` means all.
        instances: Option<&'a [String]>,
    },
    /// Every plug-in the instance ever had, by name.
    PluginsOfInstance {
        /// The instance.
        instance: &'a str,
    },
}

/// Where a page starts and how long it is.
#[derive(Debug, Clone, Copy)]
pub enum PageStart<'a> {
    /// Skip `offset` records (page mode).
    Offset(u64),
    /// Start after the record whose key is this cursor (token mode); `None` is the start.
    After(Option<&'a str>),
}

/// One listed record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedRecord {
    /// The instance.
    pub instance_id: String,
    /// The plug-in name.
    pub plugin_name: String,
    /// The plug-in on the instance; `None` when the instance never had it (`NotInstalled`).
    pub record: Option<PluginRecord>,
}

impl ListedRecord {
    /// The record's position key: what a cursor holds to resume after it.
    pub fn cursor_key<'s>(&'s self, selection: &Selection<'_>) -> &'s str {
        match selection {
            Selection::PluginOnInstances { .. } => &self.instance_id,
            Selection::PluginsOfInstance { .. } => &self.plugin_name,
        }
    }
}

/// A page of records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedPage {
    /// Records matching the selection, on every page.
    pub total: u64,
    /// This page's records, in listing order.
    pub records: Vec<ListedRecord>,
    /// True when records follow this page.
    pub more: bool,
}

/// Why a listing could not be answered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ListError {
    /// An instance is not in this partition.
    #[error("instance {0} does not exist")]
    InstanceNotFound(String),
    /// The caller may not ask for this plug-in name here.
    #[error("plug-in name {0} does not exist")]
    PluginNameNotFound(String),
    /// The cursor does not belong to the selection.
    #[error("cursor {0} is not a position of this listing")]
    CursorOutsideSelection(String),
}

/// Why data could not be stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DataError {
    /// More than one default account, or none with accounts present.
    #[error("exactly one account must be the default, found {0}")]
    DefaultAccount(usize),
    /// Two accounts with one id.
    #[error("account {0} is defined twice")]
    DuplicateAccount(String),
    /// Two access keys with one id.
    #[error("access key {0} is defined twice")]
    DuplicateAccessKey(String),
    /// An instance names an account that is not defined.
    #[error("account {account} of instance {instance} is not defined")]
    UnknownAccount {
        /// The account id.
        account: String,
        /// The instance naming it.
        instance: String,
    },
    /// An instance id twice in one account.
    #[error("instance {instance} is defined twice in account {account}")]
    DuplicateInstance {
        /// The account id.
        account: String,
        /// The instance id.
        instance: String,
    },
    /// A plug-in twice on one instance.
    #[error("plug-in {plugin} is listed twice on instance {instance}")]
    DuplicatePlugin {
        /// The instance id.
        instance: String,
        /// The plug-in name.
        plugin: String,
    },
    /// An instance the account does not have.
    #[error("instance {instance} does not exist in account {account}")]
    UnknownInstance {
        /// The account id.
        account: String,
        /// The instance id.
        instance: String,
    },
    /// A catalog name twice.
    #[error("plug-in {0} is in the catalog twice")]
    DuplicateCatalogEntry(String),
    /// An empty or over-long identifier.
    #[error("{what} must be 1 to {max} characters, got {len}")]
    BadLength {
        /// What is measured.
        what: &'static str,
        /// The limit.
        max: usize,
        /// The length found.
        len: usize,
    },
}

/// Everything the emulator knows: accounts, the plug-in catalog, and the instances.
#[derive(Debug, Clone)]
pub struct Store {
    accounts: Vec<Account>,
    default_account: String,
    /// AccessKeyId → index into `accounts`.
    key_owners: HashMap<String, usize>,
    catalog: BTreeMap<Arc<str>, PluginType>,
    /// account → region → partition.
    partitions: Partitions,
    /// Every region that holds at least one instance, with its instance count.
    data_regions: BTreeMap<String, usize>,
    /// One shared copy of every plug-in name in use, with the number of uses (catalog entries
    /// and partitions that have it), so a name no longer used is forgotten.
    names: BTreeMap<Arc<str>, usize>,
}

/// The account used when a fixture names none.
pub const DEFAULT_ACCOUNT_ID: &str = "1234567890123456";

/// Longest plug-in name, as the vendor documents.
pub const MAX_NAME_CHARS: usize = 255;

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
            names: BTreeMap::new(),
        };
        for (name, plugin_type) in catalog {
            check_length("a plug-in name", &name, MAX_NAME_CHARS)?;
            if store.catalog.contains_key(name.as_str()) {
                return Err(DataError::DuplicateCatalogEntry(name));
            }
            let name = store.intern(&name);
            Self::retain_name(&mut store.names, &name);
            store.catalog.insert(name, plugin_type);
        }
        Ok(store)
    }

    /// The shared copy of `name`; only for a name about to be stored, since the copy lives
    /// until [`Store::release`] drops its last use.
    fn intern(&mut self, name: &str) -> Arc<str> {
        if let Some((existing, _)) = self.names.get_key_value(name) {
            return existing.clone();
        }
        let shared: Arc<str> = Arc::from(name);
        self.names.insert(shared.clone(), 0);
        shared
    }

    /// Counts one more use of an interned name.
    fn retain_name(names: &mut BTreeMap<Arc<str>, usize>, name: &Arc<str>) {
        *names.entry(name.clone()).or_insert(0) += 1;
    }

    /// Drops one use of a name; the last use forgets it.
    fn release(names: &mut BTreeMap<Arc<str>, usize>, name: &str) {
        if let Some(count) = names.get_mut(name) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                names.remove(name);
            }
        }
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
        let sorted: Vec<(Arc<str>, PluginRecord)> = sorted
            .into_iter()
            .map(|(name, record)| (self.intern(&name), record))
            .collect();
        let partition = self
            .partitions
            .entry(account.to_owned())
            .or_default()
            .entry(region.to_owned())
            .or_default();
        for (name, _) in &sorted {
            partition.count_name(&mut self.names, name);
        }
        partition.instances.insert(
            instance_id.to_owned(),
            Instance {
                plugins: OrderedMap::from_sorted(sorted),
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
        for (name, _) in instance.plugins.iter() {
            partition.forget_name(&mut self.names, name);
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
        // Checked before the name is interned, so a refused write leaves no trace.
        let region = self.region_of(account, instance_id)?;
        let name = self.intern(name);
        let partition = partition_mut(&mut self.partitions, account, &region);
        let instance = partition
            .instances
            .get_mut(instance_id)
            .expect("found instance");
        let created = instance.plugins.insert(name.clone(), record).is_none();
        if created {
            partition.count_name(&mut self.names, &name);
        }
        Ok(created)
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
        let removed = instance.plugins.remove(name).is_some();
        if removed {
            partition.forget_name(&mut self.names, name);
        }
        Ok(removed)
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
    pub fn instance(&self, account: &str, instance_id: &str) -> Option<(&str, &Instance)> {
        let region = self.instance_region(account, instance_id)?;
        let instance = self
            .partition(account, region)?
            .instances
            .get(instance_id)?;
        Some((region, instance))
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
            .copied()
            .unwrap_or(PluginType::Persist)
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
        self.catalog.iter().map(|(n, t)| (&**n, *t))
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
    pub fn instances(&self) -> impl Iterator<Item = (&str, &str, &str, &Instance)> + '_ {
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
        keys.into_iter().flat_map(|(account, region, partition)| {
            partition
                .instances
                .iter()
                .map(move |(id, inst)| (account, region, id.as_str(), inst))
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
            || self
                .partition(account, region)
                .is_some_and(|p| p.plugin_names.contains_key(name))
    }

    fn partition(&self, account: &str, region: &str) -> Option<&Partition> {
        self.partitions.get(account)?.get(region)
    }

    /// Lists one page. Existence is checked first: every named instance must be the account's
    /// in the region, then the plug-in name must be one the caller may ask for.
    pub fn list(
        &self,
        account: &str,
        region: &str,
        selection: Selection<'_>,
        start: PageStart<'_>,
        limit: usize,
    ) -> Result<ListedPage, ListError> {
        let empty = Partition::default();
        let partition = self.partition(account, region).unwrap_or(&empty);
        match selection {
            Selection::PluginOnInstances { name, instances } => {
                if let Some(ids) = instances {
                    if let Some(missing) = ids
                        .iter()
                        .find(|id| !partition.instances.contains_key(id.as_str()))
                    {
                        return Err(ListError::InstanceNotFound(missing.clone()));
                    }
                }
                if !self.may_ask_for(account, region, name) {
                    return Err(ListError::PluginNameNotFound(name.to_owned()));
                }
                let listed = |(id, instance): (&String, &Instance)| ListedRecord {
                    instance_id: id.clone(),
                    plugin_name: name.to_owned(),
                    record: instance.plugins.get(name).cloned(),
                };
                match instances {
                    Some(ids) => {
                        let first = match start {
                            PageStart::Offset(offset) => offset_index(offset, ids.len()),
                            PageStart::After(None) => 0,
                            PageStart::After(Some(cursor)) => {
                                ids.iter().position(|id| id == cursor).ok_or_else(|| {
                                    ListError::CursorOutsideSelection(cursor.to_owned())
                                })? + 1
                            }
                        };
                        let rows = ids[first..].iter().take(limit).map(|id| {
                            let instance = partition.instances.get(id.as_str());
                            (id, instance.expect("existence checked above"))
                        });
                        Ok(page(ids.len(), first, limit, rows.map(listed)))
                    }
                    None => {
                        let all = &partition.instances;
                        let first = start_position(start, all.len(), |c| all.count_through(c));
                        let rows = all.iter_from(first).take(limit).map(listed);
                        Ok(page(all.len(), first, limit, rows))
                    }
                }
            }
            Selection::PluginsOfInstance { instance } => {
                let Some(found) = partition.instances.get(instance) else {
                    return Err(ListError::InstanceNotFound(instance.to_owned()));
                };
                let plugins = &found.plugins;
                let first = start_position(start, plugins.len(), |c| plugins.count_through(c));
                let rows =
                    plugins
                        .iter_from(first)
                        .take(limit)
                        .map(|(name, record)| ListedRecord {
                            instance_id: instance.to_owned(),
                            plugin_name: name.to_string(),
                            record: Some(record.clone()),
                        });
                Ok(page(plugins.len(), first, limit, rows))
            }
        }
    }
}

/// The first position of a page in a sorted listing of `len` records.
fn start_position(
    start: PageStart<'_>,
    len: usize,
    count_through: impl Fn(&str) -> usize,
) -> usize {
    match start {
        PageStart::Offset(offset) => offset_index(offset, len),
        PageStart::After(None) => 0,
        PageStart::After(Some(cursor)) => count_through(cursor),
    }
}

/// An offset clamped to the listing's end, so a page past the end is empty.
fn offset_index(offset: u64, len: usize) -> usize {
    usize::try_from(offset).map_or(len, |o| o.min(len))
}

fn page(
    total: usize,
    first: usize,
    limit: usize,
    rows: impl Iterator<Item = ListedRecord>,
) -> ListedPage {
    let records: Vec<ListedRecord> = rows.take(limit).collect();
    ListedPage {
        total: total as u64,
        more: first + records.len() < total,
        records,
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
    /// Counts one more instance of the partition having `name`; the partition's first use of
    /// a name is one use of the store's interned copy.
    fn count_name(&mut self, interned: &mut BTreeMap<Arc<str>, usize>, name: &Arc<str>) {
        let count = self.plugin_names.entry(name.clone()).or_insert(0);
        if *count == 0 {
            Store::retain_name(interned, name);
        }
        *count += 1;
    }

    /// Drops one instance of the partition having `name`; the last one releases the name.
    fn forget_name(&mut self, interned: &mut BTreeMap<Arc<str>, usize>, name: &str) {
        if let Some(count) = self.plugin_names.get_mut(name) {
            *count -= 1;
            if *count == 0 {
                self.plugin_names.remove(name);
                Store::release(interned, name);
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
mod tests {
    use super::*;

    fn record(status: PluginStatus) -> PluginRecord {
        PluginRecord {
            version: "1.0".into(),
            status,
            first_heartbeat: None,
            last_heartbeat: None,
        }
    }

    fn store() -> Store {
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
    fn lists_every_instance_by_id_with_not_installed_gaps() {
        let store = store();
        let sel = Selection::PluginOnInstances {
            name: "p",
            instances: None,
        };
        let page = store
            .list("a1", "r1", sel, PageStart::Offset(0), 10)
            .unwrap();
        assert_eq!(page.total, 5);
        assert!(!page.more);
        let got: Vec<_> = page
            .records
            .iter()
            .map(|r| (r.instance_id.as_str(), r.record.is_some()))
            .collect();
        assert_eq!(
            got,
            [
                ("i-0", true),
                ("i-1", false),
                ("i-2", true),
                ("i-3", false),
                ("i-4", true)
            ]
        );
    }

    #[test]
    fn resumes_after_a_cursor_even_when_it_is_gone() {
        let store = store();
        let sel = Selection::PluginOnInstances {
            name: "cat",
            instances: None,
        };
        let page = store
            .list("a1", "r1", sel, PageStart::After(Some("i-15")), 2)
            .unwrap();
        let ids: Vec<_> = page
            .records
            .iter()
            .map(|r| r.instance_id.as_str())
            .collect();
        assert_eq!(ids, ["i-2", "i-3"]);
        assert!(page.more);
    }

    #[test]
    fn existence_is_checked_instances_first() {
        let store = store();
        let ids = vec!["i-9".to_string()];
        let sel = Selection::PluginOnInstances {
            name: "nope",
            instances: Some(&ids),
        };
        let err = store
            .list("a1", "r1", sel, PageStart::Offset(0), 10)
            .unwrap_err();
        assert_eq!(err, ListError::InstanceNotFound("i-9".into()));
        let sel = Selection::PluginOnInstances {
            name: "nope",
            instances: None,
        };
        let err = store
            .list("a1", "r1", sel, PageStart::Offset(0), 10)
            .unwrap_err();
        assert_eq!(err, ListError::PluginNameNotFound("nope".into()));
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
            .map(|p| p.plugin_names.keys().map(|n| n.to_string()).collect())
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
                .status,
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
    fn names_are_interned_only_while_used() {
        let mut store = store();
        let interned =
            |store: &Store| -> Vec<String> { store.names.keys().map(|n| n.to_string()).collect() };
        assert_eq!(interned(&store), ["cat", "p"]);
        // A refused write interns nothing.
        let err = store
            .put_plugin("a1", "i-missing", "ghost", record(PluginStatus::Running))
            .unwrap_err();
        assert!(matches!(err, DataError::UnknownInstance { .. }));
        assert_eq!(interned(&store), ["cat", "p"]);
        // A name lives while an instance has it, the catalog's always.
        store
            .put_plugin("a1", "i-1", "q", record(PluginStatus::Running))
            .unwrap();
        store
            .put_instance(
                "a1",
                "r2",
                "i-7",
                vec![("q".into(), record(PluginStatus::Stopped))],
            )
            .unwrap();
        assert_eq!(interned(&store), ["cat", "p", "q"]);
        assert!(store.remove_plugin("a1", "i-1", "q").unwrap());
        assert_eq!(interned(&store), ["cat", "p", "q"]);
        assert!(store.remove_instance("a1", "i-7"));
        assert_eq!(interned(&store), ["cat", "p"]);
        for i in [0, 2, 4] {
            store.remove_instance("a1", &format!("i-{i}"));
        }
        assert_eq!(interned(&store), ["cat"]);
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
