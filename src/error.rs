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
    /// 408 `RequestTimeout`: the body did not arrive in time.
    #[error("The request body was not received within {seconds} seconds.")]
    BodyTimeout {
        /// The limit.
        seconds: u64,
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

    // ---- ListPluginStatus ----
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
    /// 400 `InvalidParameter.MaxResults`.
    #[error("The specified parameter MaxResults is not valid.")]
    InvalidMaxResults,
    /// 400 `InvalidParameter.NextToken`: a token this emulator did not issue for this query.
    #[error("The specified parameter NextToken is not valid.")]
    InvalidNextToken,
    /// 404 `InvalidInstance.NotFound`: an instance the caller does not have in the region.
    #[error("The specified instance does not exist.")]
    InstanceNotFound,
    /// 404 `InvalidPluginName.NotFound`: a plug-in name the caller may not ask for.
    #[error("The specified plugin name does not exist.")]
    PluginNameNotFound,

    // ---- faults of the emulator itself ----
    /// 500 `InternalError.Dispatch`: a fault inside the emulator (logged in detail).
    #[error("An error occurred when you dispatched the request.")]
    InternalDispatch,
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
            Self::IncompleteSignature { .. } => "IncompleteSignature",
            Self::AccessKeyNotFound => "InvalidAccessKeyId.NotFound",
            Self::AccessKeyInactive => "InvalidAccessKeyId.Inactive",
            Self::SignatureDoesNotMatch { .. } => "SignatureDoesNotMatch",
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
            Self::InternalDispatch => "InternalError.Dispatch",
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
            | Self::PluginNameNotFound => StatusCode::NOT_FOUND,
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
            | Self::InvalidNextToken => StatusCode::BAD_REQUEST,
            Self::InternalDispatch => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Injected { status, .. } => *status,
        }
    }

    /// A parameter error naming the parameter and what is wrong. The name is echoed safely:
    /// control characters (which XML cannot carry) are escaped and a long name is cut short.
    pub fn invalid(name: &str, reason: impl Into<String>) -> Self {
        const MAX_ECHO: usize = 100;
        let mut shown: String = name
            .chars()
            .take(MAX_ECHO)
            .flat_map(|c| {
                // U+FFFE and U+FFFF are no more XML characters than the controls are.
                let escaped: Vec<char> = if c.is_control() || matches!(c, '\u{fffe}' | '\u{ffff}') {
                    c.escape_default().collect()
                } else {
                    vec![c]
                };
                escaped
            })
            .collect();
        if name.chars().nth(MAX_ECHO).is_some() {
            shown.push('…');
        }
        Self::InvalidParameter {
            name: shown,
            reason: reason.into(),
        }
    }
}
