//! The data types: plug-in records, accounts with their keys, instances, and why data could
//! not be stored.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::{Arc, OnceLock};

use super::plugins::StoredRecord;

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

/// The operating system of an instance (SPEC section 9.6); it decides which command types an
/// instance can run and how the agent names things.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum OsType {
    /// Linux (the default).
    #[default]
    Linux,
    /// Windows.
    Windows,
    /// FreeBSD.
    FreeBSD,
}

impl OsType {
    /// Every OS type.
    pub const ALL: [OsType; 3] = [Self::Linux, Self::Windows, Self::FreeBSD];

    /// The wire name: `Linux`, `Windows`, `FreeBSD`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Linux => "Linux",
            Self::Windows => "Windows",
            Self::FreeBSD => "FreeBSD",
        }
    }

    /// The OS type of its wire name (exact case).
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|os| os.as_str() == name)
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

/// One plug-in on one instance, as a value: what a writer hands to the store and what
/// [`super::PluginView::to_record`] gives back. The store keeps it in a compact form
/// (see [`super::plugins`]), heartbeats in whole seconds.
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

/// The Cloud Assistant agent on an instance (SPEC section 9.6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentState {
    /// Whether the agent is installed.
    pub installed: bool,
    /// Whether it is online (heartbeating); only an installed agent runs commands.
    pub online: bool,
    /// Its version: dotted whole numbers, compared numerically. Most instances have the
    /// default version of their OS, so it is shared ([`agent_version`]): 16 bytes an
    /// instance rather than a string of its own.
    pub version: Arc<str>,
    /// Its last heartbeat as stored; shown while it is offline.
    pub last_heartbeat: Option<DateTime<Utc>>,
    /// Being installed by InstallCloudAssistant: installed and online from this time on.
    pub ready_at: Option<DateTime<Utc>>,
}

/// The agent version an instance has when its data names none: the oldest that reports
/// plug-in states to ListPluginStatus, as the vendor documents.
pub fn default_agent_version(os: OsType) -> &'static str {
    match os {
        OsType::Linux | OsType::FreeBSD => "2.2.3.344",
        OsType::Windows => "2.1.3.344",
    }
}

/// An agent version to store: the one shared copy when it is a default version, else its own.
pub fn agent_version(text: &str) -> Arc<str> {
    static DEFAULTS: OnceLock<[Arc<str>; 2]> = OnceLock::new();
    let defaults = DEFAULTS.get_or_init(|| {
        [OsType::Linux, OsType::Windows].map(|os| Arc::from(default_agent_version(os)))
    });
    match defaults.iter().find(|shared| ***shared == *text) {
        Some(shared) => shared.clone(),
        None => Arc::from(text),
    }
}

impl AgentState {
    /// Installed, online, at the default version for `os`, never heartbeating yet.
    pub fn default_for(os: OsType) -> Self {
        Self {
            installed: true,
            online: true,
            version: agent_version(default_agent_version(os)),
            last_heartbeat: None,
            ready_at: None,
        }
    }
}

impl Default for AgentState {
    fn default() -> Self {
        Self::default_for(OsType::Linux)
    }
}

/// A plug-in of the catalog: its type and the versions published online.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogEntry {
    /// `Once` or `Persist`.
    pub plugin_type: PluginType,
    /// The versions an `acs-plugin-manager --exec` can fetch.
    pub versions: Vec<String>,
}

/// An instance as stored: its plug-ins, its OS and its Cloud Assistant agent. Its plug-ins
/// are read through [`super::InstanceView`], which the store gives with the strings they
/// need.
#[derive(Debug, Clone)]
pub struct Instance {
    /// Plug-ins sorted by name, `Removed` ones included: one shared block per instance
    /// (see [`super::plugins`]).
    pub(super) plugins: Arc<[StoredRecord]>,
    /// The operating system.
    pub os: OsType,
    /// The Cloud Assistant agent.
    pub agent: AgentState,
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

/// The account used when a fixture names none.
pub const DEFAULT_ACCOUNT_ID: &str = "1234567890123456";

/// Longest plug-in name, as the vendor documents.
pub const MAX_NAME_CHARS: usize = 255;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_agent_versions_are_shared() {
        let linux = AgentState::default_for(OsType::FreeBSD).version;
        assert!(Arc::ptr_eq(&linux, &agent_version("2.2.3.344")));
        assert!(Arc::ptr_eq(
            &AgentState::default_for(OsType::Windows).version,
            &agent_version("2.1.3.344")
        ));
        assert_eq!(&*agent_version("2.2.3.400"), "2.2.3.400");
    }
}
