//! The data and the paging: pure and synchronous, no HTTP, no clock, no randomness.
//!
//! Records live in partitions, one per (account, region). A partition keeps its instances in
//! an [`OrderedMap`] by instance id, and every instance its plug-ins in one slice sorted by
//! plug-in name, so a page after a cursor or at an offset costs O(log n + page). A record is
//! stored in 24 bytes, its name and version shared by the store (see `plugins` and `strings`).
//!
//! Every change to the data is a [`Change`] value that [`Store::apply`] checks and applies
//! whole, or refuses leaving the store as it was.
//!
//! Cloning a [`Store`] is cheap: the maps share their chunks with the clone, and a change to
//! the clone copies only what it touches. The served state publishes changed clones for
//! readers to snapshot, so no reader ever waits for a writer (see [`crate::state`]).

pub mod agents;
mod change;
pub mod commands;
pub mod invocation;
pub mod lifecycle;
mod model;
mod ordered;
mod paging;
mod plugins;
pub mod regions;
pub mod script;
mod store;
mod strings;
pub mod version;

pub use agents::{AgentReport, InstancePage};
pub use change::{Applied, Change, Refused};
pub use model::{
    agent_version, default_agent_version, AccessKey, Account, AgentState, CatalogEntry, DataError,
    Instance, OsType, PluginRecord, PluginStatus, PluginType, DEFAULT_ACCOUNT_ID, MAX_NAME_CHARS,
};
pub use ordered::OrderedMap;
pub use paging::{ListError, ListedPage, ListedRecord, PageStart, Selection};
pub use plugins::{InstanceView, PluginView, Plugins};
pub use store::Store;
