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

use super::commands::{Command, Invocation, RuleEffect, RunStatus, TokenRecord};
use super::invocation::{Step, INSTALL_SECONDS};

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
    /// Stores a retained command (CreateCommand, or RunCommand with KeepCommand).
    CreateCommand {
        /// The owner.
        account: String,
        /// The region it belongs to.
        region: String,
        /// The command, with a new id.
        command: Command,
    },
    /// Deletes a retained command; its invocations keep what they ran.
    DeleteCommand {
        /// The owner.
        account: String,
        /// The region it belongs to.
        region: String,
        /// The command.
        command_id: String,
    },
    /// Starts an invocation on instances of the account in the region; a retained command it
    /// runs counts one more invocation.
    Invoke {
        /// The owner.
        account: String,
        /// The region.
        region: String,
        /// The invocation, with a new id, every run `Pending`.
        invocation: Invocation,
    },
    /// Remembers what a request with a `ClientToken` was answered, for its repeats.
    RecordToken {
        /// The caller's account.
        account: String,
        /// The region.
        region: String,
        /// The action.
        action: String,
        /// The token.
        token: String,
        /// The parameters' fingerprint and the ids answered.
        record: TokenRecord,
    },
    /// StopInvocation: pending runs are cancelled at once; started runs go on.
    StopInvocation {
        /// The owner.
        account: String,
        /// The region.
        region: String,
        /// The invocation.
        invoke_id: String,
        /// The instances whose runs stop; empty: all.
        instances: Vec<String>,
        /// Now.
        at: DateTime<Utc>,
    },
    /// InstallCloudAssistant: an instance without an agent has one, online, some seconds
    /// later; one that has an agent is left alone.
    InstallAgent {
        /// The owner.
        account: String,
        /// The instance.
        instance_id: String,
        /// Now.
        at: DateTime<Utc>,
    },
    /// Sets an instance's agent state (`PUT /_emulator/instances/{id}/cloud-assistant`); an
    /// agent coming online delivers the runs waiting for it from `at`.
    SetAgent {
        /// The owner.
        account: String,
        /// The instance.
        instance_id: String,
        /// The agent's new state.
        agent: AgentState,
        /// Now.
        at: DateTime<Utc>,
    },
    /// A transition due by the clock ([`Store::next_step`]); `rule` is the command rule matched
    /// when the step delivers a run.
    Step {
        /// The transition.
        step: Step,
        /// The rule's effect, for a delivery.
        rule: Option<RuleEffect>,
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
    /// No retained command of this id in the account and region.
    #[error("command {0} does not exist")]
    NoSuchCommand(String),
    /// No invocation of this id in the account and region.
    #[error("invocation {0} does not exist")]
    NoSuchInvocation(String),
    /// The instance is not one of the invocation's.
    #[error("instance {instance} is not in invocation {invocation}")]
    NotInInvocation {
        /// The invocation.
        invocation: String,
        /// The instance.
        instance: String,
    },
    /// A command or invocation id that is already stored.
    #[error("id {0} is already in use")]
    IdInUse(String),
}

impl Store {
    /// Refuses an id already used by a command or invocation of the space.
    fn check_new_id(&self, account: &str, region: &str, id: &str) -> Result<(), Refused> {
        let used = self
            .spaces
            .get(&(account.to_owned(), region.to_owned()))
            .is_some_and(|space| {
                space.command_keys.contains_key(id) || space.invocation_keys.contains_key(id)
            });
        if used {
            return Err(Refused::IdInUse(id.to_owned()));
        }
        Ok(())
    }

    /// Checks `change` against this store and applies it whole, or refuses it and changes
    /// nothing.
    pub fn apply(&mut self, change: &Change) -> Result<Applied, Refused> {
        self.earliest_step = Default::default();
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
                let current = instance.plugins.get(name).map(|r| r.to_record());
                let plugin_type = plugin_type.unwrap_or_else(|| self.plugin_type(name));
                let next = lifecycle::apply(
                    name,
                    current.as_ref(),
                    plugin_type,
                    *event,
                    version.as_deref(),
                    *at,
                )?;
                Ok(created_or_replaced(self.put_plugin(
                    account,
                    instance_id,
                    name,
                    next,
                )?))
            }
            Change::CreateCommand {
                account,
                region,
                command,
            } => {
                self.check_new_id(account, region, &command.id)?;
                self.store_command(account, region, command.clone());
                Ok(Applied::Created)
            }
            Change::DeleteCommand {
                account,
                region,
                command_id,
            } => {
                let space = self
                    .spaces
                    .get_mut(&(account.clone(), region.clone()))
                    .filter(|space| space.command_keys.contains_key(command_id.as_str()))
                    .ok_or_else(|| Refused::NoSuchCommand(command_id.clone()))?;
                if let Some(key) = space.command_keys.remove(command_id.as_str()) {
                    space.commands.remove(&key);
                }
                Ok(Applied::Removed)
            }
            Change::Invoke {
                account,
                region,
                invocation,
            } => {
                self.check_new_id(account, region, &invocation.id)?;
                for run in &invocation.instances {
                    if self.instance_region(account, &run.instance_id) != Some(region.as_str()) {
                        return Err(DataError::UnknownInstance {
                            account: account.clone(),
                            instance: run.instance_id.clone(),
                        }
                        .into());
                    }
                }
                let space = self
                    .spaces
                    .entry((account.clone(), region.clone()))
                    .or_default();
                if let Some(key) = space
                    .command_keys
                    .get(invocation.command_id.as_str())
                    .copied()
                {
                    if let Some(command) = space.commands.get_mut(&key) {
                        Arc::make_mut(command).invoke_times += 1;
                    }
                }
                self.store_invocation(account, region, invocation.clone());
                Ok(Applied::Created)
            }
            Change::RecordToken {
                account,
                region,
                action,
                token,
                record,
            } => {
                self.spaces
                    .entry((account.clone(), region.clone()))
                    .or_default()
                    .tokens
                    .insert((action.clone(), token.clone()), record.clone());
                Ok(Applied::Created)
            }
            Change::StopInvocation {
                account,
                region,
                invoke_id,
                instances,
                at,
            } => {
                let space = self
                    .spaces
                    .get(&(account.clone(), region.clone()))
                    .ok_or_else(|| Refused::NoSuchInvocation(invoke_id.clone()))?;
                let key = space
                    .invocation_key(invoke_id)
                    .ok_or_else(|| Refused::NoSuchInvocation(invoke_id.clone()))?;
                let invocation = space.invocation(invoke_id).expect("keyed above");
                if let Some(missing) = instances
                    .iter()
                    .find(|id| !invocation.instances.iter().any(|r| &r.instance_id == *id))
                {
                    return Err(Refused::NotInInvocation {
                        invocation: invoke_id.clone(),
                        instance: missing.clone(),
                    });
                }
                let at = *at;
                self.update_invocation(account, region, key, |invocation| {
                    for run in &mut invocation.instances {
                        let chosen = instances.is_empty() || instances.contains(&run.instance_id);
                        if chosen && run.status == RunStatus::Pending {
                            run.status = RunStatus::Cancelled;
                            run.stop_time = Some(at);
                            run.update_time = at;
                        }
                    }
                });
                Ok(Applied::Replaced)
            }
            Change::InstallAgent {
                account,
                instance_id,
                at,
            } => {
                let instance = self.instance_mut(account, instance_id)?;
                let agent = &mut instance.agent;
                if !agent.installed && agent.ready_at.is_none() {
                    // What gets installed is the default version for the OS (SPEC 9.6).
                    agent.version = super::agent_version(super::default_agent_version(instance.os));
                    agent.ready_at = Some(crate::clock::add_clamped(
                        *at,
                        chrono::Duration::seconds(INSTALL_SECONDS),
                    ));
                    self.installing
                        .insert((account.clone(), instance_id.clone()));
                }
                Ok(Applied::Replaced)
            }
            Change::SetAgent {
                account,
                instance_id,
                agent,
                at,
            } => {
                let os = self.instance(account, instance_id).map(|(_, i)| i.os);
                let os = os.ok_or_else(|| DataError::UnknownInstance {
                    account: account.clone(),
                    instance: instance_id.clone(),
                })?;
                self.set_os_and_agent(account, instance_id, os, agent.clone())?;
                if agent.installed && agent.online {
                    self.agent_online(account, instance_id, *at);
                }
                Ok(Applied::Replaced)
            }
            Change::Step { step, rule } => {
                self.apply_step(step, rule.as_ref())?;
                Ok(Applied::Replaced)
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
        assert_eq!(p.status(), PluginStatus::Stopped);
        assert_eq!(
            p.last_heartbeat(),
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
