//! The one error type of the wire API: every code the emulator answers, with its HTTP status
//! and message. `code()` and `status()` are exhaustive, so a new variant cannot ship without
//! both. Rendering into the error envelope lives in [`crate::rpc::render`].

use axum::http::StatusCode;

/// An error answered in the API's error envelope.
///
/// Each variant's doc gives `HTTP status, wire code`. Messages are the vendor's where the
/// vendor documents one; otherwise they name the parameter and the bad value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    // ---- the gateway: method, action, version, format, request shape ----
    /// 403 `UnsupportedHTTPMethod`: a method other than GET or POST.
    #[error("This http method not supported.")]
    UnsupportedHttpMethod,
    /// 400 `MissingParameter`: a mandatory common parameter (e.g. `Action`) is absent.
    #[error("The input parameter \"{0}\" that is mandatory for processing this request is not supplied.")]
    MissingParameter(&'static str),
    /// 404 `InvalidAction.NotFound`: an unknown action, or a path other than `/`.
    #[error("Specified api is not found, please check your url and method.")]
    ActionNotFound,
    /// 400 `MissingVersion`: no `Version` parameter nor `x-acs-version` header.
    #[error("Version is mandatory for this action.")]
    MissingVersion,
    /// 400 `InvalidVersion`: a version other than `2014-05-26`.
    #[error("Specified parameter Version is not valid.")]
    InvalidVersion,
    /// 400 `InvalidParameter.Format`: `Format` other than JSON or XML (any case).
    #[error("Specified parameter format is not valid.")]
    InvalidFormat,
    /// 400 `InvalidParameter`: a parameter that cannot be read: given twice, badly encoded,
    /// a malformed `InstanceId.N`, a `Name` over 255 characters.
    #[error("The specified parameter \"{name}\" is not valid: {reason}")]
    InvalidParameter {
        /// The parameter's name as received.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// 400 `InvalidParameter.TooManyParameters`: more than 1,000 parameters.
    #[error("The request has {count} parameters; at most {limit} are accepted.")]
    TooManyParameters {
        /// Parameters received.
        count: usize,
        /// The limit.
        limit: usize,
    },
    /// 414 `InvalidParameter.QueryTooLong`: a query string over 64 KiB.
    #[error("The query string is {len} bytes long; at most {limit} bytes are accepted.")]
    QueryTooLong {
        /// Bytes received.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// 413 `InvalidParameter.BodyTooLarge`: a request body over 1 MiB.
    #[error("The request body is larger than {limit} bytes.")]
    BodyTooLarge {
        /// The limit.
        limit: usize,
    },
    /// 408 `RequestTimeout`: the body did not arrive in time (`--request-timeout`).
    #[error("The request body was not received within {seconds} seconds.")]
    BodyTimeout {
        /// The limit.
        seconds: u64,
    },
    /// 503 `ServiceUnavailable`: the emulator already serves `--max-connections` connections;
    /// answered on the refused connection, which is then closed.
    #[error("The emulator is serving its limit of {limit} connections; retry later.")]
    TooManyConnections {
        /// The limit.
        limit: usize,
    },

    // ---- signatures and access keys (only with `--signature strict`) ----
    /// 400 `IncompleteSignature`: no signature, or a part of it missing.
    #[error("The request signature does not conform to Aliyun standards. server string to sign is:{string_to_sign}")]
    IncompleteSignature {
        /// The server's string to sign.
        string_to_sign: String,
    },
    /// 404 `InvalidAccessKeyId.NotFound`: a key no account has.
    #[error("Specified access key is not found.")]
    AccessKeyNotFound,
    /// 400 `InvalidAccessKeyId.Inactive`: a disabled key.
    #[error("Specified access key is disabled.")]
    AccessKeyInactive,
    /// 400 `SignatureDoesNotMatch`; the message ends with the server's string to sign.
    #[error("Specified signature is not matched with our calculation. server string to sign is:{string_to_sign}")]
    SignatureDoesNotMatch {
        /// The server's string to sign.
        string_to_sign: String,
    },
    /// 400 `SignatureDoesNotMatch`: a V3 `x-acs-content-sha256` that is not the SHA-256 of the
    /// body received.
    #[error("The SHA-256 of the request body received, {body_sha256}, is not the signed x-acs-content-sha256.")]
    BodyHashMismatch {
        /// Lowercase hex SHA-256 of the body received.
        body_sha256: String,
    },
    /// 400 `InvalidTimeStamp.Format`: `Timestamp` or `x-acs-date` unreadable or absent.
    #[error("Specified time stamp or date value is not well formatted.")]
    TimestampFormat,
    /// 400 `InvalidTimeStamp.Expired`: more than 15 minutes off the emulator's clock.
    #[error("Specified time stamp or date value is expired.")]
    TimestampExpired,
    /// 400 `SignatureNonceUsed`: a nonce this key used in the last 15 minutes.
    #[error("Specified signature nonce was used already.")]
    SignatureNonceUsed,
    /// 400 `InvalidSignatureMethod`: not HMAC-SHA1 (V1) or ACS3-HMAC-SHA256 (V3).
    #[error("Specified signature method is not valid.")]
    InvalidSignatureMethod,

    // ---- ListPluginStatus (SPEC section 4) ----
    /// 400 `MissingRegionId`: no `RegionId`.
    #[error("RegionId is mandatory for this action.")]
    MissingRegionId,
    /// 404 `InvalidRegionId.NotFound`: a region that is neither public nor in the data.
    #[error("The specified RegionId does not exist.")]
    RegionNotFound,
    /// 400 `InstanceIds.ExceedLimit`: more than 50 instance ids, or `InstanceId.N` with N > 50.
    #[error("The number of instance IDs exceeds the upper limit.")]
    InstanceIdsExceedLimit,
    /// 400 `PluginName.MissingValue`: no `Name` and a number of instance ids other than 1.
    #[error("The plugin name must be specified when the number of InstanceIds is not 1.")]
    PluginNameMissing,
    /// 400 `InvalidParam.PageNumber`.
    #[error("The specified parameter PageNumber is invalid.")]
    InvalidPageNumber,
    /// 400 `InvalidParam.PageSize`.
    #[error("The specified parameter PageSize is invalid.")]
    InvalidPageSize,
    /// 400 `InvalidParameter.MaxResults`, for every paged operation.
    #[error("The specified parameter MaxResults is not valid.")]
    InvalidMaxResults,
    /// 400 `InvalidParameter.NextToken`: a token this emulator did not issue for this query, for
    /// every paged operation.
    #[error("The specified parameter NextToken is not valid.")]
    InvalidNextToken,
    /// 404 `InvalidInstance.NotFound`: an instance the caller does not have in the region, for
    /// every operation.
    #[error("The specified instance does not exist.")]
    InstanceNotFound,
    /// 404 `InvalidPluginName.NotFound`: a plug-in name the caller may not ask for.
    #[error("The specified plugin name does not exist.")]
    PluginNameNotFound,

    // ---- Cloud Assistant (SPEC section 9, Appendix C): 400 ----
    // `InvalidParameter.MaxResults`, `InvalidParameter.NextToken` and `InvalidInstance.NotFound`
    // are worded as for ListPluginStatus, so those variants above serve both. Where a code is
    // worded differently (`InvalidRegionId.NotFound`, `InstanceIds.ExceedLimit`,
    // `InvalidParam.PageNumber`, `InvalidParam.PageSize`) the `CloudAssistant*` variant is
    // section 9's.
    /// 400 `MissingParam.InstanceId`: no `InstanceId.N` where one is required.
    #[error("The parameter instanceId is missing or empty.")]
    MissingInstanceId,
    /// 400 `InvalidClientToken.Malformed`: a `ClientToken` not 1 to 64 printable ASCII characters.
    #[error("The specified parameter clientToken is not valid.")]
    MalformedClientToken,
    /// 400 `CmdContent.DecodeError`: `CommandContent` said to be Base64 and not decodable.
    #[error("The CommandContent can not be base64 decoded.")]
    ContentDecodeError,
    /// 400 `InvalidParameter.WorkingDir`: a `WorkingDir` over 200 characters.
    #[error("The specified parameter WorkingDir is not valid.")]
    InvalidWorkingDir,
    /// 400 `CmdParam.InvalidParamName`: a custom parameter name (`{{name}}` in the content) with
    /// a character other than `[A-Za-z0-9_-]`.
    #[error("Invalid parameter name. The name can contain only lowercase letters (a to z), uppercase letters (A to Z), numbers (0 to 9), hyphens (-), and underscores (_).")]
    InvalidCustomParameterName,
    /// 400 `InvalidParameter.Parameters`: `Parameters` that is not a JSON object.
    #[error("The specified parameter Parameters is not valid.")]
    InvalidParameters,
    /// 400 `Parameter.Disabled`: `Parameters` given to a command with `EnableParameter` off.
    #[error("Parameters cannot be passed in when the command customization function is disabled.")]
    ParametersDisabled,
    /// 400 `Parameter.MissingValue`: a custom parameter of the command with no value in
    /// `Parameters`.
    #[error("The parameter value of this command is required.")]
    ParameterValueMissing,
    /// 400 `InvalidResourceTag.InstanceNotFound`: `ResourceTag.N.*` given (instances have no
    /// tags, so none matches).
    #[error("InstanceIds are not found by the specified ResourceTag.")]
    ResourceTagInstanceNotFound,
    /// 400 `InvalidResourceTag.ConflictWithInstanceIds`: `ResourceTag.N.*` beside `InstanceId.N`.
    #[error("The specified param ResourceTag conflicts with InstanceId.")]
    ResourceTagConflictsWithInstanceIds,
    /// 400 `NumberExceed.Tags`: `Tag.N.*` with N over 20.
    #[error("The Tags parameter number is exceed.")]
    TooManyTags,
    /// 400 `MissingParameter.TagKey`: a `Tag.N` whose `Key` is empty or absent.
    #[error("You must specify Tag.N.Key.")]
    MissingTagKey,
    /// 400 `Duplicate.TagKey`: one tag key twice.
    #[error("The Tag.N.Key contain duplicate key.")]
    DuplicateTagKey,
    /// 400 `InvalidParam.PageNumber`, worded as the Cloud Assistant pages word it.
    #[error("The specified parameter is invalid.")]
    CloudAssistantInvalidPageNumber,
    /// 400 `InvalidParam.PageSize`, worded as the Cloud Assistant pages word it.
    #[error("The specified parameter is invalid.")]
    CloudAssistantInvalidPageSize,
    /// 400 `DryRunOperation`: every check passed for `RepeatMode=DryRun`; nothing was created.
    #[error("Request validation has been passed with DryRun flag set.")]
    DryRunOperation,

    // ---- Cloud Assistant: 403 ----
    /// 403 `CmdContent.ExceedLimit` as RunCommand and CreateCommand word it: the Base64 content
    /// (with `Parameters`) over 24,576 bytes.
    #[error("The length of the command content exceeds the upper limit.")]
    CommandContentExceedLimit,
    /// 403 `CmdContent.ExceedLimit` as InvokeCommand words it: the stored command's content with
    /// the `Parameters` filled in over the limit.
    #[error("The maximum length of a command is exceeded.")]
    InvokedContentExceedLimit,
    /// 403 `CmdName.ExceedLimit`: a command `Name` over 128 characters.
    #[error("The length of the command name exceeds the upper limit.")]
    CommandNameExceedLimit,
    /// 403 `CmdDesc.ExceedLimit`: a command `Description` over 512 characters.
    #[error("The length of the command description exceeds the upper limit.")]
    CommandDescriptionExceedLimit,
    /// 403 `CmdCount.ExceedQuota`: the account already keeps its quota of commands in the region.
    #[error("The total number of commands in the current region exceeds the quota.")]
    CommandQuotaExceeded,
    /// 403 `CmdParamCount.ExceedLimit`: more than 20 custom parameters in the content.
    #[error("The maximum number of custom parameters is exceeded.")]
    CustomParameterCountExceedLimit,
    /// 403 `CmdParamName.ExceedLimit`: a custom parameter name over 64 bytes.
    #[error("The maximum length of a parameter name is exceeded.")]
    CustomParameterNameExceedLimit,
    /// 403 `InvalidTimeout.ExceedLimit`: a `Timeout` over 86,400 seconds.
    #[error("The specified parameter Timeout exceeds the upper limit.")]
    TimeoutExceedLimit,
    /// 403 `InvalidLauncher.LengthLimitExceeded`: a `Launcher` over 1 KB.
    #[error("The length of the parameter Launcher exceeds the limit of 1 KB characters.")]
    LauncherExceedLimit,
    /// 403 `Username.ExceedLimit`: a `Username` over 255 characters.
    #[error("The length of the username exceeds the upper limit.")]
    UsernameExceedLimit,
    /// 403 `InstanceIds.ExceedLimit`: more instance ids than the operation takes (ListPluginStatus
    /// answers 400: [`Self::InstanceIdsExceedLimit`]).
    #[error("The number of instance IDs exceeds the upper limit.")]
    CloudAssistantInstanceIdsExceedLimit,
    /// 403 `ParameterCount.ExceedLimit`: more than 10 keys in `Parameters`.
    #[error("The maximum number of parameters is exceeded.")]
    ParametersCountExceedLimit,
    /// 403 `ParameterKey.ExceedLimit`: a key of `Parameters` over 64 characters.
    #[error("The maximum length of a parameter name is exceeded.")]
    ParametersKeyExceedLimit,
    /// 403 `ParameterKey.Duplicate`: one key twice in `Parameters`.
    #[error("Parameter names cannot be duplicated.")]
    ParametersKeyDuplicate,
    /// 403 `Parameter.NotMatched`: a key of `Parameters` the command does not declare.
    #[error("The passed-in parameters do not match the parameters defined when you created the command.")]
    ParametersNotMatched,
    /// 403 `ParameterType.NotSupported`: an array, object or null value in `Parameters`.
    #[error("The type of parameter value is not supported.")]
    ParametersTypeNotSupported,
    /// 403 `IdempotentParameterMismatch`: a `ClientToken` used before with other parameters.
    #[error("The specified parameter has changed while using an already used clientToken.")]
    IdempotentParameterMismatch,
    /// 403 `Operation.Forbidden`: what the emulator refuses rather than fakes, e.g. a periodic
    /// `RepeatMode` or a `Frequency`.
    #[error("The operation is not permitted.")]
    OperationForbidden,
    /// 403 `InvalidName.LengthLimitExceeded`: a DescribeCommands `Name` filter over 128
    /// characters.
    #[error("The length of the parameter Name exceeds the upper limit.")]
    NameFilterExceedLimit,
    /// 403 `InvalidDescription.LengthLimitExceeded`: a DescribeCommands `Description` filter over
    /// 512 characters.
    #[error("The length of the parameter Description exceeds the upper limit.")]
    DescriptionFilterExceedLimit,

    // ---- Cloud Assistant: 404 ----
    /// 404 `InvalidRegionId.NotFound`, worded as the Cloud Assistant pages word it (ListPluginStatus:
    /// [`Self::RegionNotFound`]).
    #[error("The RegionId provided does not exist in our records.")]
    CloudAssistantRegionNotFound,
    /// 404 `InvalidCmdType.NotFound`: a command `Type` other than `RunShellScript`,
    /// `RunBatScript`, `RunPowerShellScript` (RunCommand, CreateCommand).
    #[error("The specified command type does not exist.")]
    CommandTypeNotFound,
    /// 404 `InvalidCommandType.NotFound`: an unknown `Type` filter (DescribeCommands).
    #[error("The specified parameter Type does not exist.")]
    CommandTypeFilterNotFound,
    /// 404 `InvalidRepeatMode.NotFound`: a `RepeatMode` the vendor does not list.
    #[error("The specified repeat mode does not exist.")]
    RepeatModeNotFound,
    /// 404 `InvalidTerminationMode.NotFound`: a `TerminationMode` other than `Process` or
    /// `ProcessTree`.
    #[error("The specified parameter TerminationMode does not exist.")]
    TerminationModeNotFound,
    /// 404 `InvalidCmdId.NotFound`: a `CommandId` the caller does not keep in the region.
    #[error("The specified command ID does not exist.")]
    CommandNotFound,
    /// 404 `InvalidInvokeId.NotFound`: an `InvokeId` the caller does not have in the region.
    #[error("The specified invoke ID does not exist.")]
    InvocationNotFound,
    /// 404 `InvalidInstanceId.NotFound`: an instance that is not part of the invocation
    /// (StopInvocation).
    #[error("The specified parameter InstanceId does not exist.")]
    InstanceNotInInvocation,

    // ---- faults of the emulator itself ----
    /// 500 `InternalError.Dispatch`: a fault inside the emulator (logged in detail).
    #[error("An error occurred when you dispatched the request.")]
    InternalDispatch,
    /// 503 `ServiceUnavailable`: the emulator is stopping and takes no more changes; nothing
    /// changed.
    #[error("The request has failed due to a temporary failure of the server.")]
    Stopping,
    /// Any status and code: the answer of a fault rule (`/_emulator/faults`), e.g. 400
    /// `Throttling.User`, 503 `ServiceUnavailable`.
    #[error("{message}")]
    Injected {
        /// The code.
        code: String,
        /// The status.
        status: StatusCode,
        /// The message.
        message: String,
    },
}

impl ApiError {
    /// The wire error code.
    pub fn code(&self) -> &str {
        match self {
            Self::UnsupportedHttpMethod => "UnsupportedHTTPMethod",
            Self::MissingParameter(_) => "MissingParameter",
            Self::ActionNotFound => "InvalidAction.NotFound",
            Self::MissingVersion => "MissingVersion",
            Self::InvalidVersion => "InvalidVersion",
            Self::InvalidFormat => "InvalidParameter.Format",
            Self::InvalidParameter { .. } => "InvalidParameter",
            Self::TooManyParameters { .. } => "InvalidParameter.TooManyParameters",
            Self::QueryTooLong { .. } => "InvalidParameter.QueryTooLong",
            Self::BodyTooLarge { .. } => "InvalidParameter.BodyTooLarge",
            Self::BodyTimeout { .. } => "RequestTimeout",
            Self::TooManyConnections { .. } => "ServiceUnavailable",
            Self::IncompleteSignature { .. } => "IncompleteSignature",
            Self::AccessKeyNotFound => "InvalidAccessKeyId.NotFound",
            Self::AccessKeyInactive => "InvalidAccessKeyId.Inactive",
            Self::SignatureDoesNotMatch { .. } | Self::BodyHashMismatch { .. } => {
                "SignatureDoesNotMatch"
            }
            Self::TimestampFormat => "InvalidTimeStamp.Format",
            Self::TimestampExpired => "InvalidTimeStamp.Expired",
            Self::SignatureNonceUsed => "SignatureNonceUsed",
            Self::InvalidSignatureMethod => "InvalidSignatureMethod",
            Self::MissingRegionId => "MissingRegionId",
            Self::RegionNotFound => "InvalidRegionId.NotFound",
            Self::InstanceIdsExceedLimit => "InstanceIds.ExceedLimit",
            Self::PluginNameMissing => "PluginName.MissingValue",
            Self::InvalidPageNumber => "InvalidParam.PageNumber",
            Self::InvalidPageSize => "InvalidParam.PageSize",
            Self::InvalidMaxResults => "InvalidParameter.MaxResults",
            Self::InvalidNextToken => "InvalidParameter.NextToken",
            Self::InstanceNotFound => "InvalidInstance.NotFound",
            Self::PluginNameNotFound => "InvalidPluginName.NotFound",
            Self::MissingInstanceId => "MissingParam.InstanceId",
            Self::MalformedClientToken => "InvalidClientToken.Malformed",
            Self::ContentDecodeError => "CmdContent.DecodeError",
            Self::InvalidWorkingDir => "InvalidParameter.WorkingDir",
            Self::InvalidCustomParameterName => "CmdParam.InvalidParamName",
            Self::InvalidParameters => "InvalidParameter.Parameters",
            Self::ParametersDisabled => "Parameter.Disabled",
            Self::ParameterValueMissing => "Parameter.MissingValue",
            Self::ResourceTagInstanceNotFound => "InvalidResourceTag.InstanceNotFound",
            Self::ResourceTagConflictsWithInstanceIds => {
                "InvalidResourceTag.ConflictWithInstanceIds"
            }
            Self::TooManyTags => "NumberExceed.Tags",
            Self::MissingTagKey => "MissingParameter.TagKey",
            Self::DuplicateTagKey => "Duplicate.TagKey",
            Self::CloudAssistantInvalidPageNumber => "InvalidParam.PageNumber",
            Self::CloudAssistantInvalidPageSize => "InvalidParam.PageSize",
            Self::DryRunOperation => "DryRunOperation",
            Self::CommandContentExceedLimit | Self::InvokedContentExceedLimit => {
                "CmdContent.ExceedLimit"
            }
            Self::CommandNameExceedLimit => "CmdName.ExceedLimit",
            Self::CommandDescriptionExceedLimit => "CmdDesc.ExceedLimit",
            Self::CommandQuotaExceeded => "CmdCount.ExceedQuota",
            Self::CustomParameterCountExceedLimit => "CmdParamCount.ExceedLimit",
            Self::CustomParameterNameExceedLimit => "CmdParamName.ExceedLimit",
            Self::TimeoutExceedLimit => "InvalidTimeout.ExceedLimit",
            Self::LauncherExceedLimit => "InvalidLauncher.LengthLimitExceeded",
            Self::UsernameExceedLimit => "Username.ExceedLimit",
            Self::CloudAssistantInstanceIdsExceedLimit => "InstanceIds.ExceedLimit",
            Self::ParametersCountExceedLimit => "ParameterCount.ExceedLimit",
            Self::ParametersKeyExceedLimit => "ParameterKey.ExceedLimit",
            Self::ParametersKeyDuplicate => "ParameterKey.Duplicate",
            Self::ParametersNotMatched => "Parameter.NotMatched",
            Self::ParametersTypeNotSupported => "ParameterType.NotSupported",
            Self::IdempotentParameterMismatch => "IdempotentParameterMismatch",
            Self::OperationForbidden => "Operation.Forbidden",
            Self::NameFilterExceedLimit => "InvalidName.LengthLimitExceeded",
            Self::DescriptionFilterExceedLimit => "InvalidDescription.LengthLimitExceeded",
            Self::CloudAssistantRegionNotFound => "InvalidRegionId.NotFound",
            Self::CommandTypeNotFound => "InvalidCmdType.NotFound",
            Self::CommandTypeFilterNotFound => "InvalidCommandType.NotFound",
            Self::RepeatModeNotFound => "InvalidRepeatMode.NotFound",
            Self::TerminationModeNotFound => "InvalidTerminationMode.NotFound",
            Self::CommandNotFound => "InvalidCmdId.NotFound",
            Self::InvocationNotFound => "InvalidInvokeId.NotFound",
            Self::InstanceNotInInvocation => "InvalidInstanceId.NotFound",
            Self::InternalDispatch => "InternalError.Dispatch",
            Self::Stopping => "ServiceUnavailable",
            Self::Injected { code, .. } => code,
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::UnsupportedHttpMethod => StatusCode::FORBIDDEN,
            Self::ActionNotFound
            | Self::AccessKeyNotFound
            | Self::RegionNotFound
            | Self::InstanceNotFound
            | Self::PluginNameNotFound
            | Self::CloudAssistantRegionNotFound
            | Self::CommandTypeNotFound
            | Self::CommandTypeFilterNotFound
            | Self::RepeatModeNotFound
            | Self::TerminationModeNotFound
            | Self::CommandNotFound
            | Self::InvocationNotFound
            | Self::InstanceNotInInvocation => StatusCode::NOT_FOUND,
            Self::QueryTooLong { .. } => StatusCode::URI_TOO_LONG,
            Self::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::BodyTimeout { .. } => StatusCode::REQUEST_TIMEOUT,
            Self::MissingParameter(_)
            | Self::MissingVersion
            | Self::InvalidVersion
            | Self::InvalidFormat
            | Self::InvalidParameter { .. }
            | Self::TooManyParameters { .. }
            | Self::IncompleteSignature { .. }
            | Self::AccessKeyInactive
            | Self::SignatureDoesNotMatch { .. }
            | Self::BodyHashMismatch { .. }
            | Self::TimestampFormat
            | Self::TimestampExpired
            | Self::SignatureNonceUsed
            | Self::InvalidSignatureMethod
            | Self::MissingRegionId
            | Self::InstanceIdsExceedLimit
            | Self::PluginNameMissing
            | Self::InvalidPageNumber
            | Self::InvalidPageSize
            | Self::InvalidMaxResults
            | Self::InvalidNextToken
            | Self::MissingInstanceId
            | Self::MalformedClientToken
            | Self::ContentDecodeError
            | Self::InvalidWorkingDir
            | Self::InvalidCustomParameterName
            | Self::InvalidParameters
            | Self::ParametersDisabled
            | Self::ParameterValueMissing
            | Self::ResourceTagInstanceNotFound
            | Self::ResourceTagConflictsWithInstanceIds
            | Self::TooManyTags
            | Self::MissingTagKey
            | Self::DuplicateTagKey
            | Self::CloudAssistantInvalidPageNumber
            | Self::CloudAssistantInvalidPageSize
            | Self::DryRunOperation => StatusCode::BAD_REQUEST,
            Self::CommandContentExceedLimit
            | Self::InvokedContentExceedLimit
            | Self::CommandNameExceedLimit
            | Self::CommandDescriptionExceedLimit
            | Self::CommandQuotaExceeded
            | Self::CustomParameterCountExceedLimit
            | Self::CustomParameterNameExceedLimit
            | Self::TimeoutExceedLimit
            | Self::LauncherExceedLimit
            | Self::UsernameExceedLimit
            | Self::CloudAssistantInstanceIdsExceedLimit
            | Self::ParametersCountExceedLimit
            | Self::ParametersKeyExceedLimit
            | Self::ParametersKeyDuplicate
            | Self::ParametersNotMatched
            | Self::ParametersTypeNotSupported
            | Self::IdempotentParameterMismatch
            | Self::OperationForbidden
            | Self::NameFilterExceedLimit
            | Self::DescriptionFilterExceedLimit => StatusCode::FORBIDDEN,
            Self::InternalDispatch => StatusCode::INTERNAL_SERVER_ERROR,
            Self::TooManyConnections { .. } | Self::Stopping => StatusCode::SERVICE_UNAVAILABLE,
            Self::Injected { status, .. } => *status,
        }
    }

    /// A parameter error naming the parameter and what is wrong. The name is echoed safely
    /// ([`crate::text::echo_short`]): what XML cannot carry is replaced by U+FFFD and a long
    /// name is cut short.
    pub fn invalid(name: &str, reason: impl Into<String>) -> Self {
        Self::InvalidParameter {
            name: crate::text::echo_short(name),
            reason: reason.into(),
        }
    }
}

/// A change an operation could not make ([`crate::state::AppState::write`]): 503 while the
/// emulator stops; otherwise a fault of the emulator, logged and answered as
/// `InternalError.Dispatch`. A refusal of the engine counts as such a fault: an operation checks
/// what it asks for before it asks.
impl From<crate::state::WriteFailed> for ApiError {
    fn from(failed: crate::state::WriteFailed) -> Self {
        match failed {
            crate::state::WriteFailed::Stopped => Self::Stopping,
            crate::state::WriteFailed::NotDurable(_)
            | crate::state::WriteFailed::NoSeed
            | crate::state::WriteFailed::Refused(_) => {
                tracing::error!(detail = %failed, "an operation could not make its change");
                Self::InternalDispatch
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_write_is_503_while_stopping_else_an_internal_fault() {
        use crate::state::WriteFailed;
        let stopping = ApiError::from(WriteFailed::Stopped);
        assert_eq!(
            (stopping.code(), stopping.status().as_u16()),
            ("ServiceUnavailable", 503)
        );
        assert_eq!(
            stopping.to_string(),
            "The request has failed due to a temporary failure of the server."
        );
        assert_eq!(
            ApiError::from(WriteFailed::NoSeed),
            ApiError::InternalDispatch
        );
    }

    /// SPEC Appendix C, row by row: every Cloud Assistant code with its status and message.
    #[test]
    fn cloud_assistant_codes_are_answered_as_appendix_c_gives_them() {
        use ApiError::*;
        #[rustfmt::skip]
        let table: Vec<(ApiError, &str, u16, &str)> = vec![
            (MissingInstanceId, "MissingParam.InstanceId", 400, "The parameter instanceId is missing or empty."),
            (MalformedClientToken, "InvalidClientToken.Malformed", 400, "The specified parameter clientToken is not valid."),
            (ContentDecodeError, "CmdContent.DecodeError", 400, "The CommandContent can not be base64 decoded."),
            (InvalidWorkingDir, "InvalidParameter.WorkingDir", 400, "The specified parameter WorkingDir is not valid."),
            (InvalidCustomParameterName, "CmdParam.InvalidParamName", 400, "Invalid parameter name. The name can contain only lowercase letters (a to z), uppercase letters (A to Z), numbers (0 to 9), hyphens (-), and underscores (_)."),
            (InvalidParameters, "InvalidParameter.Parameters", 400, "The specified parameter Parameters is not valid."),
            (ParametersDisabled, "Parameter.Disabled", 400, "Parameters cannot be passed in when the command customization function is disabled."),
            (ParameterValueMissing, "Parameter.MissingValue", 400, "The parameter value of this command is required."),
            (ResourceTagInstanceNotFound, "InvalidResourceTag.InstanceNotFound", 400, "InstanceIds are not found by the specified ResourceTag."),
            (ResourceTagConflictsWithInstanceIds, "InvalidResourceTag.ConflictWithInstanceIds", 400, "The specified param ResourceTag conflicts with InstanceId."),
            (TooManyTags, "NumberExceed.Tags", 400, "The Tags parameter number is exceed."),
            (MissingTagKey, "MissingParameter.TagKey", 400, "You must specify Tag.N.Key."),
            (DuplicateTagKey, "Duplicate.TagKey", 400, "The Tag.N.Key contain duplicate key."),
            (CloudAssistantInvalidPageNumber, "InvalidParam.PageNumber", 400, "The specified parameter is invalid."),
            (CloudAssistantInvalidPageSize, "InvalidParam.PageSize", 400, "The specified parameter is invalid."),
            (InvalidMaxResults, "InvalidParameter.MaxResults", 400, "The specified parameter MaxResults is not valid."),
            (InvalidNextToken, "InvalidParameter.NextToken", 400, "The specified parameter NextToken is not valid."),
            (DryRunOperation, "DryRunOperation", 400, "Request validation has been passed with DryRun flag set."),
            (CommandContentExceedLimit, "CmdContent.ExceedLimit", 403, "The length of the command content exceeds the upper limit."),
            (InvokedContentExceedLimit, "CmdContent.ExceedLimit", 403, "The maximum length of a command is exceeded."),
            (CommandNameExceedLimit, "CmdName.ExceedLimit", 403, "The length of the command name exceeds the upper limit."),
            (CommandDescriptionExceedLimit, "CmdDesc.ExceedLimit", 403, "The length of the command description exceeds the upper limit."),
            (CommandQuotaExceeded, "CmdCount.ExceedQuota", 403, "The total number of commands in the current region exceeds the quota."),
            (CustomParameterCountExceedLimit, "CmdParamCount.ExceedLimit", 403, "The maximum number of custom parameters is exceeded."),
            (CustomParameterNameExceedLimit, "CmdParamName.ExceedLimit", 403, "The maximum length of a parameter name is exceeded."),
            (TimeoutExceedLimit, "InvalidTimeout.ExceedLimit", 403, "The specified parameter Timeout exceeds the upper limit."),
            (LauncherExceedLimit, "InvalidLauncher.LengthLimitExceeded", 403, "The length of the parameter Launcher exceeds the limit of 1 KB characters."),
            (UsernameExceedLimit, "Username.ExceedLimit", 403, "The length of the username exceeds the upper limit."),
            (CloudAssistantInstanceIdsExceedLimit, "InstanceIds.ExceedLimit", 403, "The number of instance IDs exceeds the upper limit."),
            (ParametersCountExceedLimit, "ParameterCount.ExceedLimit", 403, "The maximum number of parameters is exceeded."),
            (ParametersKeyExceedLimit, "ParameterKey.ExceedLimit", 403, "The maximum length of a parameter name is exceeded."),
            (ParametersKeyDuplicate, "ParameterKey.Duplicate", 403, "Parameter names cannot be duplicated."),
            (ParametersNotMatched, "Parameter.NotMatched", 403, "The passed-in parameters do not match the parameters defined when you created the command."),
            (ParametersTypeNotSupported, "ParameterType.NotSupported", 403, "The type of parameter value is not supported."),
            (IdempotentParameterMismatch, "IdempotentParameterMismatch", 403, "The specified parameter has changed while using an already used clientToken."),
            (OperationForbidden, "Operation.Forbidden", 403, "The operation is not permitted."),
            (NameFilterExceedLimit, "InvalidName.LengthLimitExceeded", 403, "The length of the parameter Name exceeds the upper limit."),
            (DescriptionFilterExceedLimit, "InvalidDescription.LengthLimitExceeded", 403, "The length of the parameter Description exceeds the upper limit."),
            (CloudAssistantRegionNotFound, "InvalidRegionId.NotFound", 404, "The RegionId provided does not exist in our records."),
            (CommandTypeNotFound, "InvalidCmdType.NotFound", 404, "The specified command type does not exist."),
            (CommandTypeFilterNotFound, "InvalidCommandType.NotFound", 404, "The specified parameter Type does not exist."),
            (RepeatModeNotFound, "InvalidRepeatMode.NotFound", 404, "The specified repeat mode does not exist."),
            (TerminationModeNotFound, "InvalidTerminationMode.NotFound", 404, "The specified parameter TerminationMode does not exist."),
            (CommandNotFound, "InvalidCmdId.NotFound", 404, "The specified command ID does not exist."),
            (InvocationNotFound, "InvalidInvokeId.NotFound", 404, "The specified invoke ID does not exist."),
            (InstanceNotInInvocation, "InvalidInstanceId.NotFound", 404, "The specified parameter InstanceId does not exist."),
            (InstanceNotFound, "InvalidInstance.NotFound", 404, "The specified instance does not exist."),
            // ListPluginStatus's twins keep their own wording and status.
            (RegionNotFound, "InvalidRegionId.NotFound", 404, "The specified RegionId does not exist."),
            (InstanceIdsExceedLimit, "InstanceIds.ExceedLimit", 400, "The number of instance IDs exceeds the upper limit."),
            (InvalidPageNumber, "InvalidParam.PageNumber", 400, "The specified parameter PageNumber is invalid."),
            (InvalidPageSize, "InvalidParam.PageSize", 400, "The specified parameter PageSize is invalid."),
        ];
        for (error, code, status, message) in table {
            assert_eq!(
                (error.code(), error.status().as_u16(), error.to_string()),
                (code, status, message.to_owned()),
                "{error:?}"
            );
        }
    }
}
