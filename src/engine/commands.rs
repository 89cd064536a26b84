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

/// The legacy status of one instance's run (`InstanceInvokeStatus` in DescribeInvocations,
/// `InvokeRecordStatus` in DescribeInvocationResults; SPEC 9.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvokeRecordStatus {
    /// Pending or running.
    Running,
    /// Ran to its end, whatever its exit code (`Success`, `Failed`).
    Finished,
    /// Never ran to its end (`Invalid`, `Aborted`, `Timeout`).
    Failed,
    /// Cancelled before delivery.
    Stopped,
}

impl InvokeRecordStatus {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "Running",
            Self::Finished => "Finished",
            Self::Failed => "Failed",
            Self::Stopped => "Stopped",
        }
    }
}

impl RunStatus {
    /// The legacy status of a run in this state (SPEC 9.4). A run that exits non-zero is
    /// `Finished`, as in the vendor's sample.
    pub fn legacy(self) -> InvokeRecordStatus {
        match self {
            Self::Pending | Self::Running => InvokeRecordStatus::Running,
            Self::Success | Self::Failed => InvokeRecordStatus::Finished,
            Self::Invalid | Self::Aborted | Self::Timeout => InvokeRecordStatus::Failed,
            Self::Cancelled => InvokeRecordStatus::Stopped,
        }
    }
}

/// The status of an invocation as a whole (`InvocationStatus` of DescribeInvocations).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvocationStatus {
    /// Some run waits for delivery, none runs.
    Pending,
    /// Some run runs.
    Running,
    /// At least one run succeeded; the others succeeded or were cancelled.
    Success,
    /// At least one run succeeded and at least one failed.
    PartialFailed,
    /// Every run ended, none succeeded, not all were cancelled.
    Failed,
    /// Every run was cancelled.
    Stopped,
}

impl InvocationStatus {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "Pending",
            Self::Running => "Running",
            Self::Success => "Success",
            Self::PartialFailed => "PartialFailed",
            Self::Failed => "Failed",
            Self::Stopped => "Stopped",
        }
    }

    /// The status of runs in these states, by the first rule that holds (SPEC 9.4): any
    /// `Running`; any `Pending`; all `Cancelled`: `Stopped`; at least one `Success` and the rest
    /// `Success` or `Cancelled`: `Success`; at least one `Success` and one that failed
    /// (`Failed`, `Invalid`, `Aborted`, `Timeout`): `PartialFailed`; else `Failed`. No runs at
    /// all count as all cancelled.
    pub fn of(runs: impl IntoIterator<Item = RunStatus>) -> Self {
        let (mut running, mut pending, mut success, mut failed, mut cancelled_only) =
            (false, false, false, false, true);
        for status in runs {
            match status {
                RunStatus::Running => running = true,
                RunStatus::Pending => pending = true,
                RunStatus::Success => success = true,
                RunStatus::Failed
                | RunStatus::Invalid
                | RunStatus::Aborted
                | RunStatus::Timeout => failed = true,
                RunStatus::Cancelled => continue,
            }
            cancelled_only = false;
        }
        if running {
            Self::Running
        } else if pending {
            Self::Pending
        } else if cancelled_only {
            Self::Stopped
        } else if success && !failed {
            Self::Success
        } else if success {
            Self::PartialFailed
        } else {
            Self::Failed
        }
    }
}

/// The legacy status of an invocation as a whole (`InvokeStatus` of DescribeInvocations).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvokeStatus {
    /// Some run is pending or running.
    Running,
    /// Every run ended; none failed to run, or some did and some ran.
    Finished,
    /// Every run that was not stopped failed to run.
    Failed,
    /// Some runs failed to run, not all that were not stopped.
    PartialFailed,
    /// Every run was stopped.
    Stopped,
}

impl InvokeStatus {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "Running",
            Self::Finished => "Finished",
            Self::Failed => "Failed",
            Self::PartialFailed => "PartialFailed",
            Self::Stopped => "Stopped",
        }
    }

    /// The status of runs with these legacy states, by the first rule that holds (SPEC 9.4):
    /// any `Running`; all `Stopped`; every one not `Stopped` is `Failed`: `Failed`; some
    /// `Failed`: `PartialFailed`; else `Finished`. No runs at all count as all stopped.
    pub fn of(runs: impl IntoIterator<Item = InvokeRecordStatus>) -> Self {
        let (mut running, mut failed, mut finished) = (false, false, false);
        for status in runs {
            match status {
                InvokeRecordStatus::Running => running = true,
                InvokeRecordStatus::Failed => failed = true,
                InvokeRecordStatus::Finished => finished = true,
                InvokeRecordStatus::Stopped => {}
            }
        }
        match (running, failed, finished) {
            (true, ..) => Self::Running,
            (false, false, false) => Self::Stopped,
            (false, true, false) => Self::Failed,
            (false, true, true) => Self::PartialFailed,
            (false, false, true) => Self::Finished,
        }
    }
}

impl Invocation {
    /// The status of its runs as a whole.
    pub fn status(&self) -> InvocationStatus {
        InvocationStatus::of(self.instances.iter().map(|run| run.status))
    }

    /// The legacy status of its runs as a whole.
    pub fn legacy_status(&self) -> InvokeStatus {
        InvokeStatus::of(self.instances.iter().map(|run| run.status.legacy()))
    }
}

#[cfg(test)]
mod status_tests {
    use super::*;
    use RunStatus::*;

    const ALL: [RunStatus; 8] = [
        Pending, Running, Success, Failed, Timeout, Aborted, Invalid, Cancelled,
    ];

    #[test]
    fn legacy_status_of_each_run() {
        let legacy: Vec<&str> = ALL.iter().map(|s| s.legacy().as_str()).collect();
        assert_eq!(
            legacy,
            [
                "Running", "Running", "Finished", "Finished", "Failed", "Failed", "Failed",
                "Stopped"
            ]
        );
    }

    fn both(runs: &[RunStatus]) -> (&'static str, &'static str) {
        (
            InvocationStatus::of(runs.iter().copied()).as_str(),
            InvokeStatus::of(runs.iter().map(|s| s.legacy())).as_str(),
        )
    }

    #[test]
    fn aggregate_statuses_first_rule_wins() {
        for (runs, expected) in [
            (&[Running, Pending, Failed][..], ("Running", "Running")),
            (&[Pending, Success], ("Pending", "Running")),
            (&[Pending, Cancelled], ("Pending", "Running")),
            (&[Cancelled, Cancelled], ("Stopped", "Stopped")),
            (&[Success, Success], ("Success", "Finished")),
            (&[Success, Cancelled], ("Success", "Finished")),
            (&[Success, Failed], ("PartialFailed", "Finished")),
            (&[Success, Timeout], ("PartialFailed", "PartialFailed")),
            (
                &[Success, Aborted, Cancelled],
                ("PartialFailed", "PartialFailed"),
            ),
            (&[Success, Invalid], ("PartialFailed", "PartialFailed")),
            (&[Failed], ("Failed", "Finished")),
            (&[Failed, Cancelled], ("Failed", "Finished")),
            (&[Failed, Aborted], ("Failed", "PartialFailed")),
            (&[Aborted, Invalid, Timeout], ("Failed", "Failed")),
            (&[Timeout, Cancelled], ("Failed", "Failed")),
            (&[], ("Stopped", "Stopped")),
        ] {
            assert_eq!(both(runs), expected, "{runs:?}");
        }
    }

    #[test]
    fn every_pair_follows_the_rules() {
        // The rules restated over sets, checked against every pair of states.
        for a in ALL {
            for b in ALL {
                let runs = [a, b];
                let has = |s: RunStatus| runs.contains(&s);
                let failed = |s: &RunStatus| matches!(s, Failed | Invalid | Aborted | Timeout);
                let expected = if has(Running) {
                    "Running"
                } else if has(Pending) {
                    "Pending"
                } else if runs.iter().all(|s| *s == Cancelled) {
                    "Stopped"
                } else if has(Success) && runs.iter().all(|s| matches!(s, Success | Cancelled)) {
                    "Success"
                } else if has(Success) && runs.iter().any(failed) {
                    "PartialFailed"
                } else {
                    "Failed"
                };
                assert_eq!(both(&runs).0, expected, "{runs:?}");
            }
        }
    }
}

/// Where a record stands in a listing of a space (SPEC 9.3): newest entry first (its key),
/// then, for invocation results, instance order (its index). A NextToken holds the position of
/// the last record returned, so a walk resumes after it whatever was added or removed since.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    /// The command's or invocation's key in its map.
    pub key: u64,
    /// The instance's index in the invocation; 0 for a listing of whole entries.
    pub index: usize,
}

impl Position {
    /// The position of a whole entry.
    pub fn entry(key: u64) -> Self {
        Self { key, index: 0 }
    }

    /// As a cursor: `SEQ.INDEX`, the entry's sequence number (shorter than its key).
    pub fn cursor(self) -> String {
        format!("{}.{}", seq_of(self.key), self.index)
    }

    /// The position a cursor holds; `None` for text [`Self::cursor`] does not make.
    pub fn parse(cursor: &str) -> Option<Self> {
        let (seq, index) = cursor.split_once('.')?;
        let canonical = |n: &str| {
            !n.is_empty()
                && n.bytes().all(|b| b.is_ascii_digit())
                && (n == "0" || !n.starts_with('0'))
        };
        if !canonical(seq) || !canonical(index) {
            return None;
        }
        Some(Self {
            key: key_of(seq.parse().ok()?),
            index: index.parse().ok()?,
        })
    }
}

/// A page of a listing of a space.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpacePage<T> {
    /// Records matching the query, on every page.
    pub total: u64,
    /// This page's records with their positions, in listing order.
    pub rows: Vec<(Position, T)>,
    /// True when matching records follow this page.
    pub more: bool,
}

impl<T> SpacePage<T> {
    /// The position to resume after: the last record's, when records follow.
    pub fn resume_after(&self) -> Option<Position> {
        self.rows.last().filter(|_| self.more).map(|(at, _)| *at)
    }
}

fn cursor_position(cursor: &str) -> Result<Position, super::ListError> {
    Position::parse(cursor).ok_or_else(|| super::ListError::CursorOutsideSelection(cursor.into()))
}

/// One page of the records that match a query, given every one of them in listing order: a
/// page mode offset counts matching records, a cursor resumes after its position. Every record
/// is looked at once, since the total is counted too.
pub fn page_matching<T>(
    matching: impl Iterator<Item = (Position, T)>,
    start: super::PageStart<'_>,
    limit: usize,
) -> Result<SpacePage<T>, super::ListError> {
    let after = match start {
        super::PageStart::After(Some(cursor)) => Some(cursor_position(cursor)?),
        _ => None,
    };
    let mut page = SpacePage {
        total: 0,
        rows: Vec::new(),
        more: false,
    };
    for (position, record) in matching {
        let seen = page.total;
        page.total += 1;
        let on_page = match start {
            super::PageStart::Offset(offset) => seen >= offset,
            super::PageStart::After(_) => after.is_none_or(|after| position > after),
        };
        if !on_page {
            continue;
        }
        if page.rows.len() < limit {
            page.rows.push((position, record));
        } else {
            page.more = true;
        }
    }
    Ok(page)
}

/// One page of every entry of a map (no filter): a seek and the page, O(log n + page).
pub fn page_all<'m, V>(
    entries: &'m OrderedMap<u64, V>,
    start: super::PageStart<'_>,
    limit: usize,
) -> Result<SpacePage<&'m V>, super::ListError>
where
    V: Clone,
{
    let len = entries.len();
    let first = match start {
        super::PageStart::Offset(offset) => usize::try_from(offset).map_or(len, |o| o.min(len)),
        super::PageStart::After(None) => 0,
        super::PageStart::After(Some(cursor)) => {
            entries.count_through(&cursor_position(cursor)?.key)
        }
    };
    let rows: Vec<(Position, &V)> = entries
        .iter_from(first)
        .take(limit)
        .map(|(key, value)| (Position::entry(*key), value))
        .collect();
    Ok(SpacePage {
        total: len as u64,
        more: first + rows.len() < len,
        rows,
    })
}

#[cfg(test)]
mod listing_tests {
    use super::*;
    use crate::engine::{ListError, PageStart};

    fn map(seqs: &[u64]) -> OrderedMap<u64, u64> {
        let mut map = OrderedMap::new();
        for &seq in seqs {
            map.insert(key_of(seq), seq);
        }
        map
    }

    fn seqs<T: Copy>(page: &SpacePage<&T>) -> Vec<T> {
        page.rows.iter().map(|(_, v)| **v).collect()
    }

    #[test]
    fn positions_round_trip_as_cursors() {
        let at = Position {
            key: key_of(41),
            index: 3,
        };
        assert_eq!(at.cursor(), "41.3");
        assert_eq!(Position::parse("41.3"), Some(at));
        assert_eq!(Position::parse("0.0"), Some(Position::entry(key_of(0))));
        for bad in [
            "",
            "41",
            ".3",
            "41.",
            "041.3",
            "41.03",
            "+1.0",
            "1.2.3",
            "a.b",
            "99999999999999999999.0",
        ] {
            assert_eq!(Position::parse(bad), None, "{bad:?}");
        }
        // Newer entries (higher sequence numbers) come first.
        assert!(Position::entry(key_of(9)) < Position::entry(key_of(8)));
    }

    #[test]
    fn whole_listing_pages_by_offset_and_by_cursor() {
        let map = map(&[1, 2, 3, 4, 5]);
        let first = page_all(&map, PageStart::Offset(0), 2).unwrap();
        assert_eq!(
            (seqs(&first), first.total, first.more),
            (vec![5, 4], 5, true)
        );
        let cursor = first.resume_after().unwrap().cursor();
        let next = page_all(&map, PageStart::After(Some(&cursor)), 2).unwrap();
        assert_eq!(seqs(&next), [3, 2]);
        let last = page_all(&map, PageStart::Offset(4), 2).unwrap();
        assert_eq!(
            (seqs(&last), last.more, last.resume_after()),
            (vec![1], false, None)
        );
        let past = page_all(&map, PageStart::Offset(u64::MAX), 2).unwrap();
        assert!(past.rows.is_empty() && !past.more);
        assert!(matches!(
            page_all(&map, PageStart::After(Some("x")), 2),
            Err(ListError::CursorOutsideSelection(_))
        ));
    }

    #[test]
    fn a_cursor_survives_its_record_leaving() {
        let mut map = map(&[1, 2, 3, 4, 5]);
        let first = page_all(&map, PageStart::After(None), 2).unwrap();
        let cursor = first.resume_after().unwrap().cursor();
        map.remove(&key_of(4));
        map.insert(key_of(6), 6);
        let next = page_all(&map, PageStart::After(Some(&cursor)), 2).unwrap();
        assert_eq!(seqs(&next), [3, 2]);
    }

    #[test]
    fn matching_records_page_by_offset_and_by_cursor() {
        let rows = || {
            [(9, 0), (9, 1), (7, 0), (7, 2), (4, 1)]
                .map(|(seq, index)| {
                    (
                        Position {
                            key: key_of(seq),
                            index,
                        },
                        (seq, index),
                    )
                })
                .into_iter()
        };
        let first = page_matching(rows(), PageStart::Offset(1), 2).unwrap();
        let got: Vec<_> = first.rows.iter().map(|(_, r)| *r).collect();
        assert_eq!(
            (got, first.total, first.more),
            (vec![(9, 1), (7, 0)], 5, true)
        );
        let cursor = first.resume_after().unwrap().cursor();
        assert_eq!(cursor, "7.0");
        let next = page_matching(rows(), PageStart::After(Some(&cursor)), 2).unwrap();
        let got: Vec<_> = next.rows.iter().map(|(_, r)| *r).collect();
        assert_eq!((got, next.more), (vec![(7, 2), (4, 1)], false));
        // A cursor between records resumes at the next one.
        let between = page_matching(rows(), PageStart::After(Some("8.0")), 10).unwrap();
        assert_eq!(between.rows.len(), 3);
        assert!(page_matching(rows(), PageStart::After(Some("7")), 1).is_err());
    }
}
