//! Cloud Assistant commands and invocations (SPEC section 9): the data, where it lives, and
//! the changes that create, invoke, stop and delete.
//!
//! Commands and invocations belong to one account in one region (a [`Space`]). Each gets a
//! sequence number when it is stored; listings go newest first, so their maps are keyed by the
//! number counted down from `u64::MAX`, and a cursor is that key. How an invocation moves on
//! with the clock is [`super::invocation`]'s.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::OrderedMap;

/// The script language of a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CommandType {
    /// A shell script, for Linux and FreeBSD.
    RunShellScript,
    /// A batch script, for Windows.
    RunBatScript,
    /// A PowerShell script, for Windows.
    RunPowerShellScript,
}

impl CommandType {
    /// Every type.
    pub const ALL: [CommandType; 3] = [
        Self::RunShellScript,
        Self::RunBatScript,
        Self::RunPowerShellScript,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RunShellScript => "RunShellScript",
            Self::RunBatScript => "RunBatScript",
            Self::RunPowerShellScript => "RunPowerShellScript",
        }
    }

    /// The type of its wire name (exact case).
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == name)
    }

    /// Whether an instance of this OS can run it: shell scripts off Windows, the others on it.
    pub fn fits(self, os: super::OsType) -> bool {
        (self == Self::RunShellScript) != (os == super::OsType::Windows)
    }
}

/// A tag: key and value.
pub type Tag = (String, String);

/// A retained command (`CreateCommand`, or `RunCommand` with `KeepCommand=true`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Command {
    /// `c-` and 14 characters.
    pub id: String,
    /// Up to 128 characters; may be empty.
    pub name: String,
    /// Up to 512 characters.
    pub description: String,
    /// The script language.
    pub command_type: CommandType,
    /// The script, decoded (it may be any bytes).
    #[serde(with = "base64_bytes")]
    pub content: Vec<u8>,
    /// Where it runs.
    pub working_dir: String,
    /// Seconds a run may take.
    pub timeout: u64,
    /// Whether `{{name}}` parameters are filled in.
    pub enable_parameter: bool,
    /// The custom parameter names of the content, in first-appearance order.
    pub parameter_names: Vec<String>,
    /// Stored and echoed.
    pub launcher: Option<String>,
    /// Stored and echoed.
    pub resource_group_id: Option<String>,
    /// Its tags.
    pub tags: Vec<Tag>,
    /// When it was created.
    pub creation_time: DateTime<Utc>,
    /// How many invocations ran it.
    pub invoke_times: u64,
}

/// What happens to one instance in an invocation (SPEC section 9.4's `InvocationStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RunStatus {
    /// Waiting for delivery.
    Pending,
    /// Delivered and running.
    Running,
    /// Ended with exit code 0.
    Success,
    /// Ended with another exit code.
    Failed,
    /// Killed for running longer than its timeout.
    Timeout,
    /// Never delivered: no agent, or the agent stayed offline.
    Aborted,
    /// Never run: the command type does not fit the OS.
    Invalid,
    /// Stopped before delivery.
    Cancelled,
}

impl RunStatus {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "Pending",
            Self::Running => "Running",
            Self::Success => "Success",
            Self::Failed => "Failed",
            Self::Timeout => "Timeout",
            Self::Aborted => "Aborted",
            Self::Invalid => "Invalid",
            Self::Cancelled => "Cancelled",
        }
    }

    /// True once nothing more happens to it.
    pub fn is_final(self) -> bool {
        !matches!(self, Self::Pending | Self::Running)
    }
}

/// What a command rule (`POST /_emulator/commands`) does to a run it matched at delivery.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RuleEffect {
    /// Replaces the run: this exit code, the rule's output (or none), no plug-in effect.
    pub exit_code: Option<i64>,
    /// Replaces the run's output.
    pub output: Option<String>,
    /// How long the run takes instead of 1 second.
    pub duration_seconds: Option<u64>,
}

/// One instance of an invocation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvocationInstance {
    /// The instance.
    pub instance_id: String,
    /// Where its run stands.
    pub status: RunStatus,
    /// The script as run there (built-in parameters filled for it).
    #[serde(with = "base64_bytes")]
    pub content: Vec<u8>,
    /// 0 until it ends.
    pub exit_code: i64,
    /// The last 24,576 bytes of its output.
    #[serde(with = "base64_bytes")]
    pub output: Vec<u8>,
    /// Bytes of output cut from the front.
    pub dropped: u64,
    /// Why it failed, in the vendor's words; empty otherwise.
    pub error_code: String,
    /// The error's text; empty otherwise.
    pub error_info: String,
    /// When the invocation was made.
    pub creation_time: DateTime<Utc>,
    /// When it was delivered.
    pub start_time: Option<DateTime<Utc>>,
    /// When it ended after running.
    pub finish_time: Option<DateTime<Utc>>,
    /// When it was cancelled.
    pub stop_time: Option<DateTime<Utc>>,
    /// Its last change.
    pub update_time: DateTime<Utc>,
    /// 1 once delivered.
    pub repeats: u32,
    /// When it is next looked at while `Pending`: one second after creation, then when the
    /// agent comes online or the delivery times out.
    pub next_check: DateTime<Utc>,
    /// The rule matched at delivery.
    pub rule: Option<RuleEffect>,
}

/// One run of a command on one or more instances.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invocation {
    /// `t-` and 14 characters.
    pub id: String,
    /// The command run (retained or not).
    pub command_id: String,
    /// The command's name.
    pub command_name: String,
    /// The command's description.
    pub command_description: String,
    /// The script language.
    pub command_type: CommandType,
    /// The script as given (parameters not filled).
    #[serde(with = "base64_bytes")]
    pub content: Vec<u8>,
    /// The custom parameters as JSON text, `{}` when none.
    pub parameters: String,
    /// Seconds a run may take.
    pub timeout: u64,
    /// Where it runs.
    pub working_dir: String,
    /// Who it runs as.
    pub username: String,
    /// Always `Once`: no other mode is emulated.
    pub repeat_mode: String,
    /// When it was made.
    pub creation_time: DateTime<Utc>,
    /// Stored and echoed.
    pub launcher: Option<String>,
    /// Stored and echoed.
    pub container_id: Option<String>,
    /// Stored and echoed.
    pub container_name: Option<String>,
    /// Stored and echoed.
    pub termination_mode: Option<String>,
    /// Stored and echoed.
    pub oss_output_delivery: Option<String>,
    /// Its tags.
    pub tags: Vec<Tag>,
    /// Its instances, in request order.
    pub instances: Vec<InvocationInstance>,
}

impl Invocation {
    /// True while any of its runs may still change.
    pub fn is_active(&self) -> bool {
        self.instances.iter().any(|i| !i.status.is_final())
    }
}

/// What a `ClientToken` was first answered with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    /// The request's parameters, less the signature's, as one text: a repeat must match it.
    pub fingerprint: String,
    /// The ids answered (command id, invoke id, as the action answers them).
    pub answer: Vec<String>,
}

/// The commands, invocations and client tokens of one account in one region.
#[derive(Debug, Clone, Default)]
pub struct Space {
    /// Retained commands, newest first.
    pub(super) commands: OrderedMap<u64, Arc<Command>>,
    /// Command id → key in `commands`.
    pub(super) command_keys: OrderedMap<String, u64>,
    /// Invocations, newest first.
    pub(super) invocations: OrderedMap<u64, Arc<Invocation>>,
    /// Invoke id → key in `invocations`.
    pub(super) invocation_keys: OrderedMap<String, u64>,
    /// (action, token) → what it was answered.
    pub(super) tokens: OrderedMap<(String, String), TokenRecord>,
}

impl Space {
    /// Retained commands, newest first, with their keys (cursors).
    pub fn commands(&self) -> &OrderedMap<u64, Arc<Command>> {
        &self.commands
    }

    /// Invocations, newest first, with their keys (cursors).
    pub fn invocations(&self) -> &OrderedMap<u64, Arc<Invocation>> {
        &self.invocations
    }

    /// A retained command by id.
    pub fn command(&self, id: &str) -> Option<&Arc<Command>> {
        self.commands.get(self.command_keys.get(id)?)
    }

    /// An invocation by id.
    pub fn invocation(&self, id: &str) -> Option<&Arc<Invocation>> {
        self.invocations.get(self.invocation_keys.get(id)?)
    }

    /// The key of a retained command by id.
    pub fn command_key(&self, id: &str) -> Option<u64> {
        self.command_keys.get(id).copied()
    }

    /// The key of an invocation by id.
    pub fn invocation_key(&self, id: &str) -> Option<u64> {
        self.invocation_keys.get(id).copied()
    }

    /// What a client token was first answered with.
    pub fn token(&self, action: &str, token: &str) -> Option<&TokenRecord> {
        self.tokens.get(&(action.to_owned(), token.to_owned()))
    }

    /// True when the space holds nothing.
    pub fn is_empty(&self) -> bool {
        self.commands.is_empty() && self.invocations.is_empty() && self.tokens.is_empty()
    }
}

/// The key a sequence number is stored under: newest first.
pub fn key_of(seq: u64) -> u64 {
    u64::MAX - seq
}

/// Bytes as standard padded Base64 text, in the state file's JSON.
mod base64_bytes {
    use base64::Engine as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(serde::de::Error::custom)
    }
}

impl super::Store {
    /// The commands, invocations and client tokens of an account in a region.
    pub fn space(&self, account: &str, region: &str) -> Option<&Space> {
        self.spaces.get(&(account.to_owned(), region.to_owned()))
    }

    /// Every space with its account and region, for the state file.
    pub fn spaces(&self) -> impl Iterator<Item = (&str, &str, &Space)> + '_ {
        self.spaces
            .iter()
            .map(|((account, region), space)| (account.as_str(), region.as_str(), space))
    }

    /// Puts back a retained command read from the state file, under its sequence number.
    pub fn restore_command(&mut self, account: &str, region: &str, seq: u64, command: Command) {
        let space = self
            .spaces
            .entry((account.to_owned(), region.to_owned()))
            .or_default();
        space.command_keys.insert(command.id.clone(), key_of(seq));
        space.commands.insert(key_of(seq), Arc::new(command));
        self.next_seq = self.next_seq.max(seq.saturating_add(1));
    }

    /// Puts back an invocation read from the state file, under its sequence number.
    pub fn restore_invocation(
        &mut self,
        account: &str,
        region: &str,
        seq: u64,
        invocation: Invocation,
    ) {
        let active = invocation.is_active();
        let space = self
            .spaces
            .entry((account.to_owned(), region.to_owned()))
            .or_default();
        space
            .invocation_keys
            .insert(invocation.id.clone(), key_of(seq));
        space.invocations.insert(key_of(seq), Arc::new(invocation));
        if active {
            self.active
                .insert((account.to_owned(), region.to_owned(), key_of(seq)));
        }
        self.next_seq = self.next_seq.max(seq.saturating_add(1));
    }

    /// Puts back a client token read from the state file.
    pub fn restore_token(
        &mut self,
        account: &str,
        region: &str,
        action: &str,
        token: &str,
        record: TokenRecord,
    ) {
        self.spaces
            .entry((account.to_owned(), region.to_owned()))
            .or_default()
            .tokens
            .insert((action.to_owned(), token.to_owned()), record);
    }
}

/// The sequence number stored under a key.
pub fn seq_of(key: u64) -> u64 {
    u64::MAX - key
}
