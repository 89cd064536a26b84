//! Every change to the data as one typed value.
//!
//! A writer (the control plane today, the Cloud Assistant operations next) says what it wants
//! as a [`Change`], and [`Store::apply`] checks it against the store and applies it whole, or
//! refuses it and changes nothing. The served state takes every change the same way
//! ([`crate::state::AppState::write`]): validated against the current data, committed to the
//! state file ([`crate::persist`]), applied for readers, then acknowledged. A refused change
//! touches neither the file nor the data.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::lifecycle::{self, Event, TransitionRefused};
use super::{AgentState, DataError, OsType, PluginRecord, PluginType, Store};

/// One change to the data.
#[derive(Debug, Clone)]
pub enum Change {
    /// Creates or replaces an account's instance with its plug-ins, possibly in another region.
    PutInstance {
        /// The owner.
        account: String,
        /// The region it is to live in.
        region: String,
        /// Its id, unique in the account.
        instance_id: String,
        /// Its plug-ins by name.
        plugins: Vec<(String, PluginRecord)>,
        /// Its operating system.
        os: OsType,
        /// Its Cloud Assistant agent.
        agent: AgentState,
    },
    /// Removes an account's instance with its plug-ins.
    RemoveInstance {
        /// The owner.
        account: String,
        /// The instance.
        instance_id: String,
    },
    /// Creates or replaces one plug-in record of an existing instance.
    PutPlugin {
        /// The owner.
        account: String,
        /// The instance.
        instance_id: String,
        /// The plug-in name.
        name: String,
        /// The record.
        record: PluginRecord,
    },
    /// Deletes one plug-in record (it is no longer listed at all).
    RemovePlugin {
        /// The owner.
        account: String,
        /// The instance.
        instance_id: String,
        /// The plug-in name.
        name: String,
    },
    /// What the agent reports about a plug-in at a time (SPEC section 7's event table).
    PluginEvent {
        /// The owner.
        account: String,
        /// The instance.
        instance_id: String,
        /// The plug-in name.
        name: String,
        /// The event.
        event: Event,
        /// The plug-in's type; default the catalog's, else `Persist`.
        plugin_type: Option<PluginType>,
        /// The version reported, if any.
        version: Option<String>,
        /// When it happened, by the emulator's clock.
        at: DateTime<Utc>,
    },
    /// Replaces the whole data (`PUT /_emulator/state`) with a store already checked whole.
    ReplaceAll(Arc<Store>),
    /// Restores the data the emulator (or its state file) was seeded with
    /// (`POST /_emulator/reset`).
    Reset(Arc<Store>),
}

/// What an accepted change did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// Something new exists.
    Created,
    /// Something that existed was replaced or changed.
    Replaced,
    /// Something was removed.
    Removed,
}

/// Why a change was refused; the store is as it was.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// The data would break a rule of the data file (an unknown account or instance, an id
    /// twice, a bad length).
    #[error(transparent)]
    Data(#[from] DataError),
    /// The instance has no plug-in record of this name.
    #[error("instance {instance} has no plug-in {name}")]
    NoSuchPlugin {
        /// The instance.
        instance: String,
        /// The plug-in name.
        name: String,
    },
    /// The event makes no sense in the plug-in's state.
    #[error(transparent)]
    Transition(#[from] TransitionRefused),
}

impl Store {
    /// Checks `change` against this store and applies it whole, or refuses it and changes
    /// nothing.
    pub fn apply(&mut self, change: &Change) -> Result<Applied, Refused> {
        let created_or_replaced = |created: bool| {
            if created {
                Applied::Created
            } else {
                Applied::Replaced
            }
        };
        match change {
            Change::PutInstance {
                account,
                region,
                instance_id,
                plugins,
                os,
                agent,
            } => {
                let created = self.put_instance(account, region, instance_id, plugins.clone())?;
                // The instance exists now: this cannot refuse, so the change stays whole.
                self.set_os_and_agent(account, instance_id, *os, agent.clone())?;
                Ok(created_or_replaced(created))
            }
            Change::RemoveInstance {
                account,
                instance_id,
            } => {
                if self.remove_instance(account, instance_id) {
                    Ok(Applied::Removed)
                } else {
                    Err(DataError::UnknownInstance {
                        account: account.clone(),
                        instance: instance_id.clone(),
                    }
                    .into())
                }
            }
            Change::PutPlugin {
                account,
                instance_id,
                name,
                record,
            } => Ok(created_or_replaced(self.put_plugin(
                account,
                instance_id,
                name,
                record.clone(),
            )?)),
            Change::RemovePlugin {
                account,
                instance_id,
                name,
            } => {
                if self.remove_plugin(account, instance_id, name)? {
                    Ok(Applied::Removed)
                } else {
                    Err(Refused::NoSuchPlugin {
                        instance: instance_id.clone(),
                        name: name.clone(),
                    })
                }
            }
            Change::PluginEvent {
                account,
                instance_id,
                name,
                event,
                plugin_type,
                version,
                at,
            } => {
                let (_, instance) = self.instance(account, instance_id).ok_or_else(|| {
                    DataError::UnknownInstance {
                        account: account.clone(),
                        instance: instance_id.clone(),
                    }
                })?;
                let current = instance.plugins.get(name.as_str());
                let plugin_type = plugin_type.unwrap_or_else(|| self.plugin_type(name));
                let next =
                    lifecycle::apply(name, current, plugin_type, *event, version.as_deref(), *at)?;
                Ok(created_or_replaced(self.put_plugin(
                    account,
                    instance_id,
                    name,
                    next,
                )?))
            }
            // The new store shares its chunks with the given one: no record is copied.
            Change::ReplaceAll(with) | Change::Reset(with) => {
                *self = Store::clone(with);
                Ok(Applied::Replaced)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Account, PluginStatus};

    fn store() -> Store {
        let account = Account {
            id: "a1".into(),
            access_keys: vec![],
        };
        let mut store = Store::new(vec![(account, true)], vec![]).unwrap();
        store.add_instance("a1", "r1", "i-1", vec![]).unwrap();
        store
    }

    fn record(status: PluginStatus) -> PluginRecord {
        PluginRecord {
            version: "1.0".into(),
            status,
            first_heartbeat: None,
            last_heartbeat: None,
        }
    }

    fn event(event: Event) -> Change {
        Change::PluginEvent {
            account: "a1".into(),
            instance_id: "i-1".into(),
            name: "p".into(),
            event,
            plugin_type: None,
            version: None,
            at: "2026-01-01T00:00:00.9Z".parse().unwrap(),
        }
    }

    #[test]
    fn each_change_reports_what_it_did() {
        let mut store = store();
        let put = Change::PutPlugin {
            account: "a1".into(),
            instance_id: "i-1".into(),
            name: "q".into(),
            record: record(PluginStatus::Stopped),
        };
        assert_eq!(store.apply(&put), Ok(Applied::Created));
        assert_eq!(store.apply(&put), Ok(Applied::Replaced));
        assert_eq!(store.apply(&event(Event::Install)), Ok(Applied::Created));
        assert_eq!(store.apply(&event(Event::Stop)), Ok(Applied::Replaced));
        let (_, instance) = store.instance("a1", "i-1").unwrap();
        let p = instance.plugins.get("p").unwrap();
        assert_eq!(p.status, PluginStatus::Stopped);
        assert_eq!(
            p.last_heartbeat,
            Some("2026-01-01T00:00:00Z".parse().unwrap())
        );
        let remove = Change::RemovePlugin {
            account: "a1".into(),
            instance_id: "i-1".into(),
            name: "q".into(),
        };
        assert_eq!(store.apply(&remove), Ok(Applied::Removed));
        assert!(matches!(
            store.apply(&remove),
            Err(Refused::NoSuchPlugin { .. })
        ));
        let gone = Change::RemoveInstance {
            account: "a1".into(),
            instance_id: "i-1".into(),
        };
        assert_eq!(store.apply(&gone), Ok(Applied::Removed));
        assert!(matches!(
            store.apply(&gone),
            Err(Refused::Data(DataError::UnknownInstance { .. }))
        ));
    }

    #[test]
    fn a_refused_change_changes_nothing() {
        let mut store = store();
        let before = format!("{:?}", store.instance("a1", "i-1"));
        assert!(matches!(
            store.apply(&event(Event::Stop)),
            Err(Refused::Transition(_))
        ));
        assert_eq!(format!("{:?}", store.instance("a1", "i-1")), before);
        let elsewhere = Change::PutInstance {
            account: "nobody".into(),
            region: "r1".into(),
            instance_id: "i-2".into(),
            plugins: vec![],
            os: OsType::Linux,
            agent: AgentState::default(),
        };
        assert!(matches!(
            store.apply(&elsewhere),
            Err(Refused::Data(DataError::UnknownAccount { .. }))
        ));
        assert_eq!(store.counts(), (1, 0));
    }
}
