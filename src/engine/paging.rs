//! Paging: which records a listing covers, where a page starts, and [`Store::list`].

use std::sync::OnceLock;

use super::store::Partition;
use super::{Instance, PluginView, Store};

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

/// One listed record, borrowed from the store (and the selection): a page copies nothing.
#[derive(Debug, Clone, Copy)]
pub struct ListedRecord<'a> {
    /// The instance.
    pub instance_id: &'a str,
    /// The plug-in name.
    pub plugin_name: &'a str,
    /// The plug-in on the instance; `None` when the instance never had it (`NotInstalled`).
    pub record: Option<PluginView<'a>>,
}

impl<'a> ListedRecord<'a> {
    /// The record's position key: what a cursor holds to resume after it.
    pub fn cursor_key(&self, selection: &Selection<'_>) -> &'a str {
        match selection {
            Selection::PluginOnInstances { .. } => self.instance_id,
            Selection::PluginsOfInstance { .. } => self.plugin_name,
        }
    }
}

/// A page of records.
#[derive(Debug, Clone)]
pub struct ListedPage<'a> {
    /// Records matching the selection, on every page.
    pub total: u64,
    /// This page's records, in listing order.
    pub records: Vec<ListedRecord<'a>>,
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

impl Store {
    /// Lists one page. Existence is checked first: every named instance must be the account's
    /// in the region, then the plug-in name must be one the caller may ask for.
    pub fn list<'a>(
        &'a self,
        account: &str,
        region: &str,
        selection: Selection<'a>,
        start: PageStart<'_>,
        limit: usize,
    ) -> Result<ListedPage<'a>, ListError> {
        // A listing where the account has no data answers as an empty partition does; the
        // empty one lives as long as the store, since a page borrows from the partition.
        static EMPTY: OnceLock<Partition> = OnceLock::new();
        let partition = match self.partition(account, region) {
            Some(partition) => partition,
            None => EMPTY.get_or_init(Partition::default),
        };
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
                let listed = |(id, instance): (&'a String, &'a Instance)| ListedRecord {
                    instance_id: id,
                    plugin_name: name,
                    record: self.view(instance).plugins.get(name),
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
                let plugins = self.view(found).plugins;
                let first = start_position(start, plugins.len(), |c| plugins.count_through(c));
                let rows =
                    plugins
                        .iter_from(first)
                        .take(limit)
                        .map(|(name, record)| ListedRecord {
                            instance_id: instance,
                            plugin_name: name,
                            record: Some(record),
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

fn page<'a>(
    total: usize,
    first: usize,
    limit: usize,
    rows: impl Iterator<Item = ListedRecord<'a>>,
) -> ListedPage<'a> {
    let records: Vec<ListedRecord<'a>> = rows.take(limit).collect();
    ListedPage {
        total: total as u64,
        more: first + records.len() < total,
        records,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::store::tests::store;

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
            .map(|r| (r.instance_id, r.record.is_some()))
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
        let ids: Vec<_> = page.records.iter().map(|r| r.instance_id).collect();
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
}
