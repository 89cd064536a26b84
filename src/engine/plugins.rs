//! How plug-in records are stored, and the views that read them.
//!
//! Records are the bulk of the data (two million of them and more), so each is kept small:
//! a [`StoredRecord`] is 24 bytes, a name id and a version id into the store's shared
//! [`Strings`], the first heartbeat, and the last heartbeat with the status in its top byte.
//! The records of one instance are one sorted slice (`Arc<[StoredRecord]>`): one heap block
//! per instance instead of a map with its own blocks, and shared between clones of the store,
//! so the copy-on-write of a chunk of instances copies pointers, not records. An instance
//! rarely has more than a few dozen plug-ins; a change to one rebuilds its slice, O(plug-ins).
//!
//! Heartbeat times are kept in whole seconds. Every time the emulator writes is whole seconds
//! already (SPEC section 7), and every output shows whole seconds: ListPluginStatus and the
//! fixture export (`GET /_emulator/state`, the instance and plug-in routes) format with
//! seconds only, truncating. A fixture or a control-plane body may give a fraction; it is
//! truncated when stored, which is what every output showed of it before (a leap second
//! stays `:60`). No rule compares heartbeats. The state file kept the fraction; it now keeps
//! the whole second, which reads back to the same outputs.
//!
//! Readers get [`PluginView`]s, small `Copy` values that borrow the record and the strings;
//! [`PluginView::to_record`] gives the owned [`PluginRecord`] that writers hand to the store.

use chrono::{DateTime, Utc};
use std::fmt;
use std::sync::Arc;

use super::strings::{Strings, Sym};
use super::{AgentState, Instance, OsType, PluginRecord, PluginStatus};

/// One stored plug-in record; its name is known by its place in the instance's slice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct StoredRecord {
    pub(super) name: Sym,
    pub(super) version: Sym,
    /// The first heartbeat ([`encode_beat`]).
    first: u64,
    /// The status's index in [`PluginStatus::ALL`] in bits 56..64, the last heartbeat
    /// ([`encode_beat`]) below.
    last_and_status: u64,
}

/// Where the status sits in `last_and_status`.
const STATUS_SHIFT: u32 = 56;
const BEAT_MASK: u64 = (1 << STATUS_SHIFT) - 1;

/// A heartbeat as whole seconds since chrono's earliest time, plus one, shifted left by one
/// bit that marks a leap second (`23:59:60`, which chrono keeps as `23:59:59` and a second
/// more of fraction, and which the outputs show as `:60`); 0 is none. Every time chrono
/// represents fits in 46 bits, well below the 56 kept.
fn encode_beat(time: Option<DateTime<Utc>>) -> u64 {
    time.map_or(0, |t| {
        let since_min = (t.timestamp() - DateTime::<Utc>::MIN_UTC.timestamp()) as u64;
        let leap = u64::from(t.timestamp_subsec_nanos() >= 1_000_000_000);
        (since_min + 1) << 1 | leap
    })
}

fn decode_beat(bits: u64) -> Option<DateTime<Utc>> {
    let since_min = (bits >> 1).checked_sub(1)?;
    let leap = if bits & 1 == 1 { 1_000_000_000 } else { 0 };
    DateTime::from_timestamp(
        DateTime::<Utc>::MIN_UTC.timestamp() + since_min as i64,
        leap,
    )
}

impl StoredRecord {
    /// The stored form of `record`, its name and version already counted in `strings`.
    pub(super) fn new(name: Sym, version: Sym, record: &PluginRecord) -> Self {
        let status = PluginStatus::ALL
            .iter()
            .position(|s| *s == record.status)
            .expect("every status is in ALL") as u64;
        Self {
            name,
            version,
            first: encode_beat(record.first_heartbeat),
            last_and_status: status << STATUS_SHIFT | encode_beat(record.last_heartbeat),
        }
    }

    fn status(&self) -> PluginStatus {
        PluginStatus::ALL[(self.last_and_status >> STATUS_SHIFT) as usize]
    }
}

/// The records of an instance, sorted by name, with the strings to read them.
#[derive(Clone, Copy)]
pub struct Plugins<'a> {
    records: &'a [StoredRecord],
    strings: &'a Strings,
}

impl<'a> Plugins<'a> {
    pub(super) fn new(records: &'a [StoredRecord], strings: &'a Strings) -> Self {
        Self { records, strings }
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// True when the instance has no record.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The record of plug-in `name`.
    pub fn get(&self, name: &str) -> Option<PluginView<'a>> {
        let i = position(self.records, self.strings, name).ok()?;
        Some(self.view(&self.records[i]))
    }

    /// The records by name.
    pub fn iter(&self) -> impl Iterator<Item = (&'a str, PluginView<'a>)> + 'a {
        self.iter_from(0)
    }

    /// The records by name from position `start` on; past the end yields nothing.
    pub fn iter_from(&self, start: usize) -> impl Iterator<Item = (&'a str, PluginView<'a>)> + 'a {
        let this = *self;
        self.records
            .get(start..)
            .unwrap_or_default()
            .iter()
            .map(move |record| (this.strings.get(record.name), this.view(record)))
    }

    /// How many names are `<= name`: the position of the first record after `name`.
    pub fn count_through(&self, name: &str) -> usize {
        self.records
            .partition_point(|r| self.strings.get(r.name) <= name)
    }

    fn view(&self, record: &'a StoredRecord) -> PluginView<'a> {
        PluginView {
            record,
            strings: self.strings,
        }
    }
}

impl fmt::Debug for Plugins<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// Where `name` is (or would go) in records sorted by name.
pub(super) fn position(
    records: &[StoredRecord],
    strings: &Strings,
    name: &str,
) -> Result<usize, usize> {
    records.binary_search_by(|r| strings.get(r.name).cmp(name))
}

/// One plug-in record as read from the store.
#[derive(Clone, Copy)]
pub struct PluginView<'a> {
    record: &'a StoredRecord,
    strings: &'a Strings,
}

impl<'a> PluginView<'a> {
    /// The plug-in name.
    pub fn name(&self) -> &'a str {
        self.strings.get(self.record.name)
    }

    /// Version string as reported, e.g. `1.1`; may be empty.
    pub fn version(&self) -> &'a str {
        self.strings.get(self.record.version)
    }

    /// Current state.
    pub fn status(&self) -> PluginStatus {
        self.record.status()
    }

    /// First heartbeat, in whole seconds; `None` until one arrives.
    pub fn first_heartbeat(&self) -> Option<DateTime<Utc>> {
        decode_beat(self.record.first)
    }

    /// Latest heartbeat, in whole seconds; `None` until one arrives.
    pub fn last_heartbeat(&self) -> Option<DateTime<Utc>> {
        decode_beat(self.record.last_and_status & BEAT_MASK)
    }

    /// The owned record.
    pub fn to_record(&self) -> PluginRecord {
        PluginRecord {
            version: self.version().to_owned(),
            status: self.status(),
            first_heartbeat: self.first_heartbeat(),
            last_heartbeat: self.last_heartbeat(),
        }
    }
}

impl fmt::Debug for PluginView<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PluginView")
            .field("version", &self.version())
            .field("status", &self.status())
            .field("first_heartbeat", &self.first_heartbeat())
            .field("last_heartbeat", &self.last_heartbeat())
            .finish()
    }
}

impl PartialEq<PluginRecord> for PluginView<'_> {
    fn eq(&self, other: &PluginRecord) -> bool {
        self.to_record() == *other
    }
}

/// An instance as read from the store: its OS, its agent and its plug-ins.
#[derive(Debug, Clone, Copy)]
pub struct InstanceView<'a> {
    /// The operating system.
    pub os: OsType,
    /// The Cloud Assistant agent.
    pub agent: &'a AgentState,
    /// Its plug-ins by name, `Removed` ones included.
    pub plugins: Plugins<'a>,
}

impl<'a> InstanceView<'a> {
    pub(super) fn new(instance: &'a Instance, strings: &'a Strings) -> Self {
        Self {
            os: instance.os,
            agent: &instance.agent,
            plugins: Plugins::new(&instance.plugins, strings),
        }
    }
}

/// The records of an instance with `record` put under `name` (replacing one there), and the
/// record it replaced.
pub(super) fn with_record(
    records: &Arc<[StoredRecord]>,
    strings: &Strings,
    name: &str,
    record: StoredRecord,
) -> (Arc<[StoredRecord]>, Option<StoredRecord>) {
    let mut all = records.to_vec();
    let replaced = match position(records, strings, name) {
        Ok(i) => Some(std::mem::replace(&mut all[i], record)),
        Err(i) => {
            all.insert(i, record);
            None
        }
    };
    (all.into(), replaced)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The layout this module is about: a record is three words.
    #[test]
    fn a_stored_record_is_24_bytes() {
        assert!(std::mem::size_of::<StoredRecord>() <= 24);
    }

    #[test]
    fn heartbeats_and_status_survive_storage_in_whole_seconds() {
        let mut strings = Strings::default();
        let (name, version) = (strings.retain("p"), strings.retain("1.0"));
        let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        for (first, last) in [
            (None, None),
            (
                Some(at("0001-01-01T00:00:00Z")),
                Some(at("9999-12-31T23:59:59Z")),
            ),
            (
                Some(DateTime::<Utc>::MIN_UTC),
                Some(DateTime::<Utc>::MAX_UTC),
            ),
            (Some(at("1969-12-31T23:59:59.5Z")), None),
            (
                Some(at("2016-12-31T23:59:60.5Z")),
                Some(at("2016-12-31T23:59:60Z")),
            ),
        ] {
            for status in PluginStatus::ALL {
                let record = PluginRecord {
                    version: "1.0".into(),
                    status,
                    first_heartbeat: first,
                    last_heartbeat: last,
                };
                let stored = [StoredRecord::new(name, version, &record)];
                let view = Plugins::new(&stored, &strings).get("p").unwrap();
                let whole = |t: Option<DateTime<Utc>>| t.map(crate::clock::whole_seconds);
                assert_eq!(view.status(), status);
                assert_eq!(view.first_heartbeat(), whole(first));
                assert_eq!(view.last_heartbeat(), whole(last));
                assert_eq!((view.name(), view.version()), ("p", "1.0"));
            }
        }
    }
}
