//! What RunCommand, CreateCommand and InvokeCommand share (SPEC 9.1, 9.2): the limits of their
//! parameters and the codes that refuse them, custom parameters (`{{name}}` in the content,
//! `Parameters` in the request) and how they are filled in, `RepeatMode`, `ResourceTag.N.*`, the
//! stored-and-echoed parameters, `ClientToken` reuse, the quota of retained commands, new ids,
//! and the runs of a new invocation.
//!
//! Each reader refuses with the code SPEC names; the operations call them in their own 9.2
//! order, so that the first failure wins.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use rand::{Rng, SeedableRng};
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use sha2::{Digest, Sha256};

use super::parse::{self, InstanceIdList};
use crate::engine::commands::{CommandType, InvocationInstance, RunStatus, Tag};
use crate::engine::invocation::DELIVERY_DELAY_SECONDS;
use crate::engine::{Change, Store};
use crate::error::ApiError;
use crate::rpc::params::Params;
use crate::state::{Draft, WriteFailed};

/// Most instance ids of RunCommand and InvokeCommand, and the largest N of `InstanceId.N`.
pub const MAX_INSTANCE_IDS: u64 = 100;
/// Longest command `Name`, in characters (`CmdName.ExceedLimit`).
pub const MAX_NAME_CHARS: usize = 128;
/// Longest command `Description`, in characters (`CmdDesc.ExceedLimit`).
pub const MAX_DESCRIPTION_CHARS: usize = 512;
/// Longest `WorkingDir`, in characters (`InvalidParameter.WorkingDir`).
pub const MAX_WORKING_DIR_CHARS: usize = 200;
/// Longest `Username`, in characters (`Username.ExceedLimit`).
pub const MAX_USERNAME_CHARS: usize = 255;
/// Longest `Launcher`, in bytes (`InvalidLauncher.LengthLimitExceeded`: "1 KB").
pub const MAX_LAUNCHER_BYTES: usize = 1024;
/// Shortest `Timeout`, in seconds (below: `InvalidParameter`).
pub const MIN_TIMEOUT_SECONDS: i64 = 10;
/// Longest `Timeout`, in seconds (above: `InvalidTimeout.ExceedLimit`).
pub const MAX_TIMEOUT_SECONDS: i64 = 86_400;
/// `Timeout` when not given.
pub const DEFAULT_TIMEOUT_SECONDS: u64 = 60;
/// Most bytes of the Base64 content plus the `Parameters` text (`CmdContent.ExceedLimit`).
pub const MAX_CONTENT_BYTES: usize = 24_576;
/// Most custom parameter names in a content (`CmdParamCount.ExceedLimit`).
pub const MAX_CUSTOM_PARAMETERS: usize = 20;
/// Longest custom parameter name, in bytes (`CmdParamName.ExceedLimit`).
pub const MAX_CUSTOM_PARAMETER_NAME_BYTES: usize = 64;
/// Most keys of `Parameters` (`ParameterCount.ExceedLimit`).
pub const MAX_PARAMETERS: usize = 10;
/// Longest key of `Parameters`, in characters (`ParameterKey.ExceedLimit`).
pub const MAX_PARAMETER_KEY_CHARS: usize = 64;
/// Most retained commands per account and region (`CmdCount.ExceedQuota`).
pub const MAX_RETAINED_COMMANDS: usize = 500;

/// `InstanceId.N` of RunCommand and InvokeCommand: 1 to 100 ids, required unless
/// `ResourceTag.N.*` selects the instances instead.
pub fn instance_ids(resource_tags: bool) -> InstanceIdList {
    InstanceIdList::cloud_assistant(MAX_INSTANCE_IDS, !resource_tags)
}

/// `Type`: one of the three script languages, exactly spelled, else `InvalidCmdType.NotFound`.
pub fn command_type(value: &str) -> Result<CommandType, ApiError> {
    CommandType::parse(value).ok_or(ApiError::CommandTypeNotFound)
}

/// `CommandContent` decoded as `ContentEncoding` says (`default` when absent or another
/// value): undecodable Base64 is `CmdContent.DecodeError`; content whose Base64 alone is over
/// the limit is `CmdContent.ExceedLimit`.
pub fn content(
    params: &Params<'_>,
    raw: &str,
    default: parse::ContentEncoding,
) -> Result<Vec<u8>, ApiError> {
    let bytes = parse::ContentEncoding::parse(params, default).decode_bytes(raw)?;
    if base64_len(bytes.len()) > MAX_CONTENT_BYTES {
        return Err(ApiError::CommandContentExceedLimit);
    }
    Ok(bytes)
}

/// Length of the standard padded Base64 of `n` bytes.
pub fn base64_len(n: usize) -> usize {
    n.div_ceil(3).saturating_mul(4)
}

/// Whether content of `content_len` bytes with `Parameters` text `parameters` fits the limit.
pub fn fits_content_limit(content_len: usize, parameters: Option<&ParameterValues>) -> bool {
    let text = parameters.map_or(0, |p| p.text.len());
    base64_len(content_len).saturating_add(text) <= MAX_CONTENT_BYTES
}

/// An optional text of at most `max_chars` characters, else `too_long`.
pub fn limited_text(
    params: &Params<'_>,
    key: &str,
    max_chars: usize,
    too_long: ApiError,
) -> Result<Option<String>, ApiError> {
    match params.get(key) {
        Some(value) if value.chars().count() > max_chars => Err(too_long),
        value => Ok(value.map(str::to_owned)),
    }
}

/// `Timeout`: seconds from 10 to 86,400. Above: `InvalidTimeout.ExceedLimit`; below, or not a
/// decimal integer: `InvalidParameter`.
pub fn timeout(params: &Params<'_>) -> Result<Option<u64>, ApiError> {
    let Some(seconds) = parse::integer(params, "Timeout")? else {
        return Ok(None);
    };
    if seconds > MAX_TIMEOUT_SECONDS {
        return Err(ApiError::TimeoutExceedLimit);
    }
    if seconds < MIN_TIMEOUT_SECONDS {
        return Err(ApiError::invalid(
            "Timeout",
            format!(
                "{seconds} is below {MIN_TIMEOUT_SECONDS}: a timeout is {MIN_TIMEOUT_SECONDS} to \
                 {MAX_TIMEOUT_SECONDS} seconds"
            ),
        ));
    }
    Ok(u64::try_from(seconds).ok())
}

/// Who a run runs as when `Username` is not given: `root` for shell scripts, else `System`.
pub fn default_username(command_type: CommandType) -> &'static str {
    match command_type {
        CommandType::RunShellScript => "root",
        CommandType::RunBatScript | CommandType::RunPowerShellScript => "System",
    }
}

// ---- custom parameters in the content ----

/// The built-in parameters, `{{ACS::X}}`, filled for each instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BuiltIn {
    RegionId,
    AccountId,
    InstanceId,
    InstanceName,
    InvokeId,
    CommandId,
}

impl BuiltIn {
    const ALL: [(Self, &'static str); 6] = [
        (Self::RegionId, "RegionId"),
        (Self::AccountId, "AccountId"),
        (Self::InstanceId, "InstanceId"),
        (Self::InstanceName, "InstanceName"),
        (Self::InvokeId, "InvokeId"),
        (Self::CommandId, "CommandId"),
    ];
}

/// What a `{{ ... }}` of the content names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Name<'c> {
    /// A built-in parameter.
    BuiltIn(BuiltIn),
    /// A custom parameter, as spelled.
    Custom(&'c str),
    /// Not a name: `CmdParam.InvalidParamName` when the content is checked, left as it is when
    /// it is filled.
    Invalid,
}

/// One `{{ ... }}` of a content: the bytes it spans and what it names.
struct Placeholder<'c> {
    start: usize,
    end: usize,
    name: Name<'c>,
}

/// The placeholders of a content, in order: each `{{` with the first `}}` after it; what is
/// between, less the white space at either end, is the name (SDK: spaces and line feeds around
/// the name are ignored). A `{{` with no `}}` after it is text.
fn placeholders(content: &[u8]) -> impl Iterator<Item = Placeholder<'_>> + '_ {
    let mut from = 0;
    std::iter::from_fn(move || {
        let open = from + find(&content[from..], b"{{")?;
        let close = open + 2 + find(&content[open + 2..], b"}}")?;
        from = close + 2;
        Some(Placeholder {
            start: open,
            end: close + 2,
            name: classify(content[open + 2..close].trim_ascii()),
        })
    })
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

/// A name is `ACS::` and a built-in (any case), or `[A-Za-z0-9_-]+`.
fn classify(name: &[u8]) -> Name<'_> {
    let prefix = b"ACS::";
    if name.len() >= prefix.len() && name[..prefix.len()].eq_ignore_ascii_case(prefix) {
        let rest = &name[prefix.len()..];
        return BuiltIn::ALL
            .iter()
            .find(|(_, spelled)| rest.eq_ignore_ascii_case(spelled.as_bytes()))
            .map_or(Name::Invalid, |(builtin, _)| Name::BuiltIn(*builtin));
    }
    let valid = !name.is_empty()
        && name
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'-');
    match std::str::from_utf8(name) {
        Ok(name) if valid => Name::Custom(name),
        _ => Name::Invalid,
    }
}

/// The custom parameter names of a content with `EnableParameter` on, each once (names match
/// in any case; the first spelling is kept), in first-appearance order; built-ins are not
/// counted. First failure wins: a placeholder that is no name (`CmdParam.InvalidParamName`),
/// then more than 20 names (`CmdParamCount.ExceedLimit`), then a name over 64 bytes
/// (`CmdParamName.ExceedLimit`).
pub fn custom_parameter_names(content: &[u8]) -> Result<Vec<String>, ApiError> {
    let mut names: Vec<String> = Vec::new();
    for placeholder in placeholders(content) {
        match placeholder.name {
            Name::Invalid => return Err(ApiError::InvalidCustomParameterName),
            Name::BuiltIn(_) => {}
            Name::Custom(name) => {
                if !names.iter().any(|seen| seen.eq_ignore_ascii_case(name)) {
                    names.push(name.to_owned());
                }
            }
        }
    }
    if names.len() > MAX_CUSTOM_PARAMETERS {
        return Err(ApiError::CustomParameterCountExceedLimit);
    }
    if names
        .iter()
        .any(|name| name.len() > MAX_CUSTOM_PARAMETER_NAME_BYTES)
    {
        return Err(ApiError::CustomParameterNameExceedLimit);
    }
    Ok(names)
}

/// What the built-in parameters stand for on one instance.
#[derive(Debug, Clone, Copy)]
pub struct BuiltInValues<'a> {
    /// The region.
    pub region_id: &'a str,
    /// The caller's account.
    pub account_id: &'a str,
    /// The instance (also its name: instances have no other name here).
    pub instance_id: &'a str,
    /// The new invocation.
    pub invoke_id: &'a str,
    /// The command run.
    pub command_id: &'a str,
}

/// The content as it runs on one instance: every built-in and every custom parameter with a
/// value replaced; anything else, unknown names included, left as it is.
pub fn fill(
    content: &[u8],
    values: Option<&ParameterValues>,
    builtins: &BuiltInValues<'_>,
) -> Vec<u8> {
    let mut filled = Vec::with_capacity(content.len());
    let mut copied = 0;
    for placeholder in placeholders(content) {
        let value = match placeholder.name {
            Name::BuiltIn(builtin) => Some(match builtin {
                BuiltIn::RegionId => builtins.region_id,
                BuiltIn::AccountId => builtins.account_id,
                BuiltIn::InstanceId | BuiltIn::InstanceName => builtins.instance_id,
                BuiltIn::InvokeId => builtins.invoke_id,
                BuiltIn::CommandId => builtins.command_id,
            }),
            Name::Custom(name) => values.and_then(|values| values.get(name)),
            Name::Invalid => None,
        };
        if let Some(value) = value {
            filled.extend_from_slice(&content[copied..placeholder.start]);
            filled.extend_from_slice(value.as_bytes());
            copied = placeholder.end;
        }
    }
    filled.extend_from_slice(&content[copied..]);
    filled
}

// ---- `Parameters` ----

/// `Parameters`, read: the JSON text as passed, and each key with its value as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParameterValues {
    /// The text as passed.
    pub text: String,
    values: Vec<(String, String)>,
}

impl ParameterValues {
    /// `Parameters`: a JSON object (`InvalidParameter.Parameters`). First failure wins: a key
    /// twice, in any case since names match in any case (`ParameterKey.Duplicate`), more than
    /// 10 keys (`ParameterCount.ExceedLimit`), a key over 64 characters
    /// (`ParameterKey.ExceedLimit`), an array, object or null value
    /// (`ParameterType.NotSupported`). Numbers and booleans stand for their JSON text.
    pub fn parse(params: &Params<'_>) -> Result<Option<Self>, ApiError> {
        let Some(text) = params.get("Parameters") else {
            return Ok(None);
        };
        let Entries(entries) =
            serde_json::from_str(text).map_err(|_| ApiError::InvalidParameters)?;
        for (i, (key, _)) in entries.iter().enumerate() {
            if entries[..i]
                .iter()
                .any(|(earlier, _)| earlier.eq_ignore_ascii_case(key))
            {
                return Err(ApiError::ParametersKeyDuplicate);
            }
        }
        if entries.len() > MAX_PARAMETERS {
            return Err(ApiError::ParametersCountExceedLimit);
        }
        if entries
            .iter()
            .any(|(key, _)| key.chars().count() > MAX_PARAMETER_KEY_CHARS)
        {
            return Err(ApiError::ParametersKeyExceedLimit);
        }
        let values = entries
            .into_iter()
            .map(|(key, value)| {
                let value = match value {
                    serde_json::Value::String(text) => text,
                    serde_json::Value::Number(number) => number.to_string(),
                    serde_json::Value::Bool(flag) => flag.to_string(),
                    serde_json::Value::Null
                    | serde_json::Value::Array(_)
                    | serde_json::Value::Object(_) => {
                        return Err(ApiError::ParametersTypeNotSupported)
                    }
                };
                Ok((key, value))
            })
            .collect::<Result<_, _>>()?;
        Ok(Some(Self {
            text: text.to_owned(),
            values,
        }))
    }

    /// The value of a name, matched in any case.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// Whether no key is given (`{}`).
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The values against the command's parameters. First failure wins: keys given with the
    /// feature off (`Parameter.Disabled`; `{}` gives none), a key that is not one of the
    /// command's names (`Parameter.NotMatched`), a name of the command without a value
    /// (`Parameter.MissingValue`; an empty string is a value).
    pub fn check(
        given: Option<&Self>,
        enable_parameter: bool,
        names: &[String],
    ) -> Result<(), ApiError> {
        let given_keys = given.map_or(&[][..], |given| &given.values[..]);
        if !enable_parameter {
            return match given_keys.is_empty() {
                true => Ok(()),
                false => Err(ApiError::ParametersDisabled),
            };
        }
        let declared = |key: &str| names.iter().any(|name| name.eq_ignore_ascii_case(key));
        if given_keys.iter().any(|(key, _)| !declared(key)) {
            return Err(ApiError::ParametersNotMatched);
        }
        if names
            .iter()
            .any(|name| given.and_then(|given| given.get(name)).is_none())
        {
            return Err(ApiError::ParameterValueMissing);
        }
        Ok(())
    }

    /// The text an invocation keeps: as passed, or `{}`.
    pub fn stored_text(given: Option<&Self>) -> String {
        given.map_or_else(|| "{}".to_owned(), |given| given.text.clone())
    }
}

/// A JSON object's members in order, a key twice included (a map would keep one).
struct Entries(Vec<(String, serde_json::Value)>);

impl<'de> Deserialize<'de> for Entries {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EntriesVisitor;
        impl<'de> Visitor<'de> for EntriesVisitor {
            type Value = Entries;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entries, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry::<String, serde_json::Value>()? {
                    entries.push(entry);
                }
                Ok(Entries(entries))
            }
        }
        deserializer.deserialize_map(EntriesVisitor)
    }
}

// ---- RepeatMode, Frequency, ResourceTag ----

/// How a run is made: at once, or checked and not made (`RepeatMode=DryRun`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RepeatMode {
    /// `Once` (the default): runs now.
    Once,
    /// `DryRun`: every check, then `DryRunOperation`; nothing is made.
    DryRun,
}

/// `RepeatMode` (exact spelling): `Once` (default) or `DryRun`; the scheduled modes `Period`,
/// `NextRebootOnly` and `EveryReboot` are refused, not faked (`Operation.Forbidden`); any other
/// value is `InvalidRepeatMode.NotFound`.
pub fn repeat_mode(params: &Params<'_>) -> Result<RepeatMode, ApiError> {
    match params.get("RepeatMode") {
        None | Some("Once") => Ok(RepeatMode::Once),
        Some("DryRun") => Ok(RepeatMode::DryRun),
        Some("Period" | "NextRebootOnly" | "EveryReboot") => Err(ApiError::OperationForbidden),
        Some(_) => Err(ApiError::RepeatModeNotFound),
    }
}

/// `Frequency`: any value schedules the run (the SDK: it makes the mode `Period`), which is
/// refused, not faked (`Operation.Forbidden`).
pub fn frequency(params: &Params<'_>) -> Result<(), ApiError> {
    match params.get("Frequency") {
        Some(_) => Err(ApiError::OperationForbidden),
        None => Ok(()),
    }
}

/// Whether `ResourceTag.N.Key` or `ResourceTag.N.Value` is given with a value: instances are
/// chosen by their tags, and instances have none here.
pub fn resource_tags_given(params: &Params<'_>) -> bool {
    params
        .iter()
        .any(|(key, value)| key.starts_with("ResourceTag.") && !value.is_empty())
}

/// `ResourceTag.N.*` beside `InstanceId.N`: `InvalidResourceTag.ConflictWithInstanceIds`.
pub fn check_resource_tags(resource_tags: bool, instance_ids: &[String]) -> Result<(), ApiError> {
    if resource_tags && !instance_ids.is_empty() {
        return Err(ApiError::ResourceTagConflictsWithInstanceIds);
    }
    Ok(())
}

/// `Tag.N.Key`/`Tag.N.Value` as the engine keeps them.
pub fn tags(params: &Params<'_>) -> Result<Vec<Tag>, ApiError> {
    Ok(parse::tags(params)?
        .into_iter()
        .map(|tag| (tag.key, tag.value))
        .collect())
}

// ---- stored and echoed ----

/// `Launcher`: at most 1 KB (`InvalidLauncher.LengthLimitExceeded`).
pub fn launcher(params: &Params<'_>) -> Result<Option<String>, ApiError> {
    match params.get("Launcher") {
        Some(value) if value.len() > MAX_LAUNCHER_BYTES => Err(ApiError::LauncherExceedLimit),
        value => Ok(value.map(str::to_owned)),
    }
}

/// What RunCommand and InvokeCommand keep and echo without any effect on the run. An
/// invocation keeps `ContainerId`, `ContainerName`, `Launcher`, `TerminationMode` and
/// `OssOutputDelivery` (a retained command keeps `Launcher` and `ResourceGroupId`); no answer
/// shows an invocation's `ResourceGroupId`, `WindowsPasswordName` or `Timed` (Appendix D), so
/// they are checked and count in the `ClientToken` fingerprint, and are not kept.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Echoed {
    /// `ContainerId`.
    pub container_id: Option<String>,
    /// `ContainerName`.
    pub container_name: Option<String>,
    /// `Launcher`.
    pub launcher: Option<String>,
    /// `TerminationMode`: `Process` or `ProcessTree`.
    pub termination_mode: Option<String>,
    /// `OssOutputDelivery`.
    pub oss_output_delivery: Option<String>,
    /// `ResourceGroupId`, unchecked.
    pub resource_group_id: Option<String>,
    /// `WindowsPasswordName`.
    pub windows_password_name: Option<String>,
    /// `Timed` (the SDK: no longer used).
    pub timed: Option<bool>,
}

impl Echoed {
    /// Reads them in SPEC 9.1's order; `Launcher` over 1 KB, a `TerminationMode` other than
    /// `Process` or `ProcessTree` (`InvalidTerminationMode.NotFound`) and a `Timed` that is no
    /// boolean are refused.
    pub fn parse(params: &Params<'_>) -> Result<Self, ApiError> {
        let text = |key: &str| params.get(key).map(str::to_owned);
        let container_id = text("ContainerId");
        let container_name = text("ContainerName");
        let launcher = launcher(params)?;
        let termination_mode = match params.get("TerminationMode") {
            None => None,
            Some(mode @ ("Process" | "ProcessTree")) => Some(mode.to_owned()),
            Some(_) => return Err(ApiError::TerminationModeNotFound),
        };
        Ok(Self {
            container_id,
            container_name,
            launcher,
            termination_mode,
            oss_output_delivery: text("OssOutputDelivery"),
            resource_group_id: text("ResourceGroupId"),
            windows_password_name: text("WindowsPasswordName"),
            timed: parse::boolean(params, "Timed")?,
        })
    }
}

// ---- ClientToken ----

/// Parameters that are not the request's own: the protocol's, the signature's, the hidden
/// owner parameters, `RegionId` (the token is kept per region already) and the token itself.
const NOT_FINGERPRINTED: &[&str] = &[
    "Action",
    "Version",
    "Format",
    "AccessKeyId",
    "Signature",
    "SignatureMethod",
    "SignatureVersion",
    "SignatureNonce",
    "SignatureType",
    "Timestamp",
    "SecurityToken",
    "RegionId",
    "ClientToken",
    "OwnerId",
    "OwnerAccount",
    "ResourceOwnerId",
    "ResourceOwnerAccount",
];

/// What a repeat of a `ClientToken` must match: the SHA-256 (hex) of the request's own
/// parameters with a value, sorted by key, as JSON pairs. A retry signed anew matches.
pub fn fingerprint(params: &Params<'_>) -> String {
    let own: BTreeMap<&str, &str> = params
        .iter()
        .filter(|(key, value)| !value.is_empty() && !NOT_FINGERPRINTED.contains(key))
        .collect();
    let pairs: Vec<(&str, &str)> = own.into_iter().collect();
    let text = serde_json::to_string(&pairs).unwrap_or_default();
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// A `ClientToken` the caller used before for this action in this region: the first answer's
/// ids when the parameters match, `IdempotentParameterMismatch` when they do not; `None` when
/// the token is new or not given.
pub fn earlier_answer(
    store: &Store,
    account: &str,
    region: &str,
    action: &str,
    token: Option<&str>,
    fingerprint: &str,
) -> Result<Option<Vec<String>>, ApiError> {
    let Some(token) = token else {
        return Ok(None);
    };
    let Some(record) = store
        .space(account, region)
        .and_then(|space| space.token(action, token))
    else {
        return Ok(None);
    };
    if record.fingerprint != fingerprint {
        return Err(ApiError::IdempotentParameterMismatch);
    }
    Ok(Some(record.answer.clone()))
}

// ---- existence, quota, ids, changes ----

/// Every instance is the caller's in the region, checked in N order
/// (`InvalidInstance.NotFound`).
pub fn check_instances(
    store: &Store,
    account: &str,
    region: &str,
    instance_ids: &[String],
) -> Result<(), ApiError> {
    for id in instance_ids {
        if store.instance_region(account, id) != Some(region) {
            return Err(ApiError::InstanceNotFound);
        }
    }
    Ok(())
}

/// One more retained command fits the account's quota in the region (`CmdCount.ExceedQuota`).
pub fn check_quota(store: &Store, account: &str, region: &str) -> Result<(), ApiError> {
    let kept = store
        .space(account, region)
        .map_or(0, |space| space.commands().len());
    if kept >= MAX_RETAINED_COMMANDS {
        return Err(ApiError::CommandQuotaExceeded);
    }
    Ok(())
}

/// A new command id (`c-`) not used by a retained command of the space.
pub fn new_command_id(store: &Store, account: &str, region: &str) -> String {
    new_id("c-", |id| {
        store
            .space(account, region)
            .is_some_and(|space| space.command(id).is_some())
    })
}

/// A new invoke id (`t-`) not used by an invocation of the space.
pub fn new_invoke_id(store: &Store, account: &str, region: &str) -> String {
    new_id("t-", |id| {
        store
            .space(account, region)
            .is_some_and(|space| space.invocation(id).is_some())
    })
}

/// `prefix` and 14 random `[0-9a-z]` (about 72 bits), drawn again while `taken`. Only stored
/// ids can be looked up; that a deleted command's id, or a command id of a run that kept none,
/// comes back is left to those 72 bits.
fn new_id(prefix: &str, taken: impl Fn(&str) -> bool) -> String {
    const ALPHABET: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    // The operating system's randomness, through the v4 UUIDs the request ids use too.
    let mut seed = [0u8; 32];
    seed[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    seed[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    let mut rng = rand_chacha::ChaCha8Rng::from_seed(seed);
    loop {
        let id: String = std::iter::once(prefix.to_owned())
            .chain((0..14).map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]).into()))
            .collect();
        if !taken(&id) {
            return id;
        }
    }
}

/// The runs of a new invocation, one per instance in request order, each `Pending` from `now`
/// and looked at first a second later, its content filled for its instance.
pub fn runs(
    content: &[u8],
    fill_parameters: bool,
    values: Option<&ParameterValues>,
    context: &BuiltInValues<'_>,
    instance_ids: &[String],
    now: DateTime<Utc>,
) -> Vec<InvocationInstance> {
    let next_check = crate::clock::add_clamped(now, Duration::seconds(DELIVERY_DELAY_SECONDS));
    instance_ids
        .iter()
        .map(|instance_id| {
            let content = if fill_parameters {
                let builtins = BuiltInValues {
                    instance_id,
                    ..*context
                };
                fill(content, values, &builtins)
            } else {
                content.to_vec()
            };
            InvocationInstance {
                instance_id: instance_id.clone(),
                status: RunStatus::Pending,
                content,
                exit_code: 0,
                output: Vec::new(),
                dropped: 0,
                error_code: String::new(),
                error_info: String::new(),
                creation_time: now,
                start_time: None,
                finish_time: None,
                stop_time: None,
                update_time: now,
                repeats: 0,
                next_check,
                rule: None,
            }
        })
        .collect()
}

/// Applies a change the operation has checked; a refusal is the emulator's fault (500).
pub fn apply(draft: &mut Draft, change: Change) -> Result<(), ApiError> {
    draft
        .apply(change)
        .map(drop)
        .map_err(|refused| ApiError::from(WriteFailed::from(refused)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rpc::params::Decoded;
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine as _;

    fn params(query: &str) -> Params<'_> {
        Decoded::new(query.as_bytes(), None).into_params().unwrap()
    }

    fn parameters(json: &str) -> Result<Option<ParameterValues>, ApiError> {
        let query = format!("Parameters={}", urlencode(json));
        ParameterValues::parse(&params(&query))
    }

    fn urlencode(value: &str) -> String {
        value
            .bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' => char::from(b).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect()
    }

    fn code<T: std::fmt::Debug>(result: Result<T, ApiError>) -> String {
        result.unwrap_err().code().to_owned()
    }

    fn base64(bytes: &[u8]) -> String {
        STANDARD.encode(bytes)
    }

    #[test]
    fn names_in_braces_any_case_spaces_ignored_first_spelling_kept() {
        let names =
            custom_parameter_names(b"echo {{ name }} {{Name}} {{\n dir-1_x }} {{ACS::InstanceId}} {{acs::regionid}} {{ unclosed")
                .unwrap();
        assert_eq!(names, ["name", "dir-1_x"]);
        assert_eq!(custom_parameter_names(b"no braces"), Ok(vec![]));
    }

    #[test]
    fn custom_name_errors_first_failure_wins() {
        let many: String = (0..21).map(|i| format!("{{{{p{i}}}}}")).collect();
        let twenty: String = (0..20).map(|i| format!("{{{{p{i}}}}}")).collect();
        let long = format!("{{{{{}}}}}", "n".repeat(65));
        let longest = format!("{{{{{}}}}}", "n".repeat(64));
        for (content, expected) in [
            ("{{a b}}", "CmdParam.InvalidParamName"),
            ("{{}}", "CmdParam.InvalidParamName"),
            ("{{ACS::Unknown}}", "CmdParam.InvalidParamName"),
            ("{{na.me}}", "CmdParam.InvalidParamName"),
            (many.as_str(), "CmdParamCount.ExceedLimit"),
            (long.as_str(), "CmdParamName.ExceedLimit"),
            // An invalid name anywhere wins over the count.
            (&format!("{many}{{{{x!}}}}"), "CmdParam.InvalidParamName"),
        ] {
            assert_eq!(
                code(custom_parameter_names(content.as_bytes())),
                expected,
                "{content}"
            );
        }
        assert_eq!(custom_parameter_names(twenty.as_bytes()).unwrap().len(), 20);
        assert!(custom_parameter_names(longest.as_bytes()).is_ok());
    }

    #[test]
    fn filling_replaces_builtins_and_given_values_only() {
        let values = parameters(r#"{"NAME":"Jack","n":7,"b":true}"#)
            .unwrap()
            .unwrap();
        let context = BuiltInValues {
            region_id: "cn-hangzhou",
            account_id: "123",
            instance_id: "i-1",
            invoke_id: "t-1",
            command_id: "c-1",
        };
        let filled = fill(
            b"{{name}} {{ n }}/{{b}} {{ACS::RegionId}} {{ACS::AccountId}} {{ACS::InstanceId}} {{ACS::InstanceName}} {{acs::invokeid}} {{ACS::CommandId}} {{other}} {{x y}} {{",
            Some(&values),
            &context,
        );
        assert_eq!(
            String::from_utf8(filled).unwrap(),
            "Jack 7/true cn-hangzhou 123 i-1 i-1 t-1 c-1 {{other}} {{x y}} {{"
        );
        // Bytes that are not UTF-8 stay as they are.
        assert_eq!(
            fill(
                b"\xff{{a}}\xfe",
                Some(&parameters(r#"{"a":"v"}"#).unwrap().unwrap()),
                &context
            ),
            b"\xffv\xfe"
        );
    }

    #[test]
    fn parameters_errors_first_failure_wins() {
        let eleven: String = (0..11)
            .map(|i| format!("\"k{i}\":\"v\""))
            .collect::<Vec<_>>()
            .join(",");
        for (json, expected) in [
            ("[1]", "InvalidParameter.Parameters"),
            ("{", "InvalidParameter.Parameters"),
            ("\"text\"", "InvalidParameter.Parameters"),
            (r#"{"a":"1","a":"2"}"#, "ParameterKey.Duplicate"),
            (r#"{"a":"1","A":"2"}"#, "ParameterKey.Duplicate"),
            (&format!("{{{eleven}}}"), "ParameterCount.ExceedLimit"),
            (
                &format!(r#"{{"{}":"v"}}"#, "k".repeat(65)),
                "ParameterKey.ExceedLimit",
            ),
            (r#"{"a":null}"#, "ParameterType.NotSupported"),
            (r#"{"a":[1]}"#, "ParameterType.NotSupported"),
            (r#"{"a":{"b":1}}"#, "ParameterType.NotSupported"),
            // A duplicate wins over the type of a value.
            (r#"{"a":null,"a":null}"#, "ParameterKey.Duplicate"),
        ] {
            assert_eq!(code(parameters(json)), expected, "{json}");
        }
        let read = parameters(r#"{"a":"","b":1.5}"#).unwrap().unwrap();
        assert_eq!(read.text, r#"{"a":"","b":1.5}"#);
        assert_eq!((read.get("A"), read.get("b")), (Some(""), Some("1.5")));
        assert_eq!(ParameterValues::parse(&params("Parameters=")), Ok(None));
    }

    #[test]
    fn parameters_against_the_command() {
        let names = vec!["name".to_owned(), "dir".to_owned()];
        let given = |json: &str| parameters(json).unwrap();
        let check = |json: Option<&str>, enable, names: &[String]| {
            let given = json.and_then(given);
            ParameterValues::check(given.as_ref(), enable, names)
        };
        assert_eq!(
            check(Some(r#"{"a":"1"}"#), false, &[]),
            Err(ApiError::ParametersDisabled)
        );
        assert_eq!(check(Some("{}"), false, &[]), Ok(()));
        assert_eq!(check(None, false, &names), Ok(()));
        assert_eq!(
            check(Some(r#"{"name":"1","x":"2"}"#), true, &names),
            Err(ApiError::ParametersNotMatched)
        );
        assert_eq!(
            check(Some(r#"{"NAME":"1"}"#), true, &names),
            Err(ApiError::ParameterValueMissing)
        );
        assert_eq!(
            check(None, true, &names),
            Err(ApiError::ParameterValueMissing)
        );
        assert_eq!(
            check(Some(r#"{"Name":"","DIR":"/"}"#), true, &names),
            Ok(())
        );
    }

    #[test]
    fn content_limits_count_base64_bytes_and_the_parameters_text() {
        assert_eq!(base64_len(0), 0);
        assert_eq!(base64_len(1), 4);
        assert_eq!(base64_len(3), 4);
        assert_eq!(base64_len(4), 8);
        // 18,432 bytes are exactly 24,576 in Base64.
        assert!(fits_content_limit(18_432, None));
        assert!(!fits_content_limit(18_433, None));
        let values = parameters("{}").unwrap().unwrap();
        assert!(fits_content_limit(18_429, Some(&values)));
        assert!(!fits_content_limit(18_432, Some(&values)));
        let big = base64(&vec![b'x'; 18_433]);
        let query = format!("ContentEncoding=Base64&X={}", urlencode(&big));
        assert_eq!(
            code(content(
                &params(&query),
                &big,
                parse::ContentEncoding::PlainText
            )),
            "CmdContent.ExceedLimit"
        );
    }

    #[test]
    fn timeouts_from_10_to_86400() {
        assert_eq!(timeout(&params("")), Ok(None));
        assert_eq!(timeout(&params("Timeout=10")), Ok(Some(10)));
        assert_eq!(timeout(&params("Timeout=86400")), Ok(Some(86_400)));
        assert_eq!(
            code(timeout(&params("Timeout=86401"))),
            "InvalidTimeout.ExceedLimit"
        );
        assert_eq!(code(timeout(&params("Timeout=9"))), "InvalidParameter");
        assert_eq!(code(timeout(&params("Timeout=-1"))), "InvalidParameter");
        assert_eq!(code(timeout(&params("Timeout=ten"))), "InvalidParameter");
    }

    #[test]
    fn repeat_modes_and_frequency() {
        assert_eq!(repeat_mode(&params("")), Ok(RepeatMode::Once));
        assert_eq!(
            repeat_mode(&params("RepeatMode=Once")),
            Ok(RepeatMode::Once)
        );
        assert_eq!(
            repeat_mode(&params("RepeatMode=DryRun")),
            Ok(RepeatMode::DryRun)
        );
        for mode in ["Period", "NextRebootOnly", "EveryReboot"] {
            let query = format!("RepeatMode={mode}");
            assert_eq!(
                repeat_mode(&params(&query)),
                Err(ApiError::OperationForbidden)
            );
        }
        for mode in ["once", "Always"] {
            let query = format!("RepeatMode={mode}");
            assert_eq!(
                repeat_mode(&params(&query)),
                Err(ApiError::RepeatModeNotFound)
            );
        }
        assert_eq!(
            frequency(&params("Frequency=rate(5m)")),
            Err(ApiError::OperationForbidden)
        );
        assert_eq!(frequency(&params("Frequency=")), Ok(()));
    }

    #[test]
    fn echoed_parameters() {
        let echoed = Echoed::parse(&params(
            "ContainerId=abc&ContainerName=web&Launcher=python3&TerminationMode=ProcessTree&OssOutputDelivery=oss%3A%2F%2Fb&ResourceGroupId=rg-1&WindowsPasswordName=pw&Timed=TRUE",
        ))
        .unwrap();
        assert_eq!(echoed.termination_mode.as_deref(), Some("ProcessTree"));
        assert_eq!(echoed.oss_output_delivery.as_deref(), Some("oss://b"));
        assert_eq!(echoed.timed, Some(true));
        let long = format!("Launcher={}", "l".repeat(1025));
        assert_eq!(
            code(Echoed::parse(&params(&long))),
            "InvalidLauncher.LengthLimitExceeded"
        );
        let longest = format!("Launcher={}", "l".repeat(1024));
        assert!(Echoed::parse(&params(&longest)).is_ok());
        assert_eq!(
            code(Echoed::parse(&params("TerminationMode=process"))),
            "InvalidTerminationMode.NotFound"
        );
        assert_eq!(code(Echoed::parse(&params("Timed=1"))), "InvalidParameter");
    }

    #[test]
    fn fingerprints_ignore_the_signature_and_order() {
        let a = fingerprint(&params(
            "Action=RunCommand&Timestamp=1&SignatureNonce=a&RegionId=r&Type=RunShellScript&InstanceId.1=i-1&ClientToken=t&Name=",
        ));
        let b = fingerprint(&params(
            "InstanceId.1=i-1&Type=RunShellScript&SignatureNonce=b&Timestamp=2&Action=RunCommand&RegionId=r&ClientToken=t",
        ));
        let c = fingerprint(&params("Type=RunShellScript&InstanceId.1=i-2"));
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.len(), 64);
    }

    #[test]
    fn ids_are_a_prefix_and_14_characters() {
        let id = new_id("c-", |_| false);
        assert_eq!(id.len(), 16);
        assert!(id.starts_with("c-"));
        assert!(id[2..]
            .bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase()));
        // A taken id is drawn again.
        let first = std::sync::Mutex::new(None::<String>);
        let id = new_id("t-", |id| {
            let mut first = first.lock().unwrap();
            match &*first {
                None => {
                    *first = Some(id.to_owned());
                    true
                }
                Some(_) => false,
            }
        });
        assert_ne!(Some(id), first.into_inner().unwrap());
    }

    #[test]
    fn default_usernames() {
        assert_eq!(default_username(CommandType::RunShellScript), "root");
        assert_eq!(default_username(CommandType::RunBatScript), "System");
        assert_eq!(default_username(CommandType::RunPowerShellScript), "System");
    }
}
