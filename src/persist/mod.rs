//! Where the data lives beyond the process (SPEC section 8), behind one small trait.
//!
//! The served state ([`crate::state`]) hands every accepted [`Change`] to a [`Durable`] before
//! readers see it and before the writer is answered. Two implement it:
//!
//! - [`Memory`]: no file. Commits nothing, so the data lives as long as the process; this is
//!   the mode without `--state-file`, and it takes exactly the same path through the code.
//! - [`sqlite::StateFile`]: the `--state-file`, an SQLite database. A batch of changes from
//!   concurrent writers is one transaction (group commit), durable when `commit` returns.
//!
//! Nothing here knows HTTP; nothing in [`crate::engine`] knows the database.

mod rows;
mod schema;
pub mod sqlite;

use std::fmt;
use std::path::{Path, PathBuf};

use crate::engine::{Change, Store};

/// One writer's accepted changes, with the data as it stands after them: what the file must
/// hold for every key the changes touch.
#[derive(Debug, Clone, Copy)]
pub struct Commit<'a> {
    /// The changes, in the order they were applied.
    pub changes: &'a [Change],
    /// The data after them (and after every earlier commit of the batch).
    pub after: &'a Store,
}

/// Where accepted changes are made durable.
pub trait Durable: Send + 'static {
    /// Makes the whole batch durable, in order, or none of it. When this returns `Ok`, the
    /// changes survive a crash of the process (and, as far as the file's settings promise, of
    /// the machine).
    fn commit(&mut self, batch: &[Commit<'_>]) -> Result<(), PersistError>;

    /// The data the state was seeded with, for `reset`; `None` when no seed is kept here (the
    /// caller keeps it in memory).
    fn load_seed(&mut self) -> Result<Option<Store>, PersistError>;

    /// Flushes and closes; called once, when the emulator stops.
    fn close(self: Box<Self>) -> Result<(), PersistError>;

    /// What the data is kept in, for logs.
    fn describe(&self) -> String;

    /// True when commits reach a file (what the metrics count as durable commits).
    fn is_file(&self) -> bool {
        true
    }
}

/// No file: the data lives in memory only.
#[derive(Debug, Default, Clone, Copy)]
pub struct Memory;

impl Durable for Memory {
    fn commit(&mut self, _batch: &[Commit<'_>]) -> Result<(), PersistError> {
        Ok(())
    }

    fn load_seed(&mut self) -> Result<Option<Store>, PersistError> {
        Ok(None)
    }

    fn close(self: Box<Self>) -> Result<(), PersistError> {
        Ok(())
    }

    fn describe(&self) -> String {
        "memory (no --state-file)".to_owned()
    }

    fn is_file(&self) -> bool {
        false
    }
}

/// Why the state file could not be opened, read or written. Its message names the file.
#[derive(Debug, Clone)]
pub struct PersistError {
    /// The state file.
    pub file: PathBuf,
    /// What is wrong.
    pub problem: Problem,
}

/// What is wrong with a state file.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Problem {
    /// Another process (another emulator) has the file open for writing.
    #[error(
        "is held by another running emulator (it is locked); stop that one or use another \
         --state-file"
    )]
    Held,
    /// The file is not an SQLite database, or its pages are damaged.
    #[error("is damaged: {0}; it was left as it is (move it away to start from the seed again)")]
    Damaged(String),
    /// An SQLite database, but not an emulator's state file.
    #[error(
        "is not an ecs-emulator state file ({0}); it was left as it is (choose another \
         --state-file)"
    )]
    Foreign(String),
    /// Written by a newer emulator.
    #[error(
        "has schema version {found}, newer than the {supported} this emulator reads; it was left \
         as it is (use a newer ecs-emulator)"
    )]
    Newer {
        /// The file's schema version.
        found: i64,
        /// The newest this build knows.
        supported: i64,
    },
    /// The data in the file breaks a rule of the data (edited by hand, say).
    #[error("holds data the emulator cannot serve: {0}; it was left as it is")]
    InvalidData(String),
    /// The operating system or SQLite failed (permissions, a full disk, ...).
    #[error("{0}")]
    Io(String),
}

impl PersistError {
    pub(crate) fn new(file: &Path, problem: Problem) -> Self {
        Self {
            file: file.to_owned(),
            problem,
        }
    }
}

impl fmt::Display for PersistError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "state file {}: {}", self.file.display(), self.problem)
    }
}

impl std::error::Error for PersistError {}
