//! Readers of the business parameters several operations share (SPEC sections 4 and 9.1):
//! `RegionId`, required parameters, `InstanceId.N`, booleans, integers, `ClientToken`,
//! `Tag.N.Key`/`Tag.N.Value` and `ContentEncoding`.
//!
//! Each reads raw [`Params`] into a typed value or the error SPEC names; an empty value counts
//! as absent, as for any optional parameter (SPEC section 2). Messages of `InvalidParameter`
//! name the parameter and, echoed safely, the bad value.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use crate::engine::Store;
use crate::error::ApiError;
use crate::rpc::params::Params;
use crate::text::echo_short;

/// `RegionId`: required (`MissingRegionId`), and a region the emulator knows (the public list
/// or the data), else `unknown`: [`ApiError::RegionNotFound`] for ListPluginStatus,
/// [`ApiError::CloudAssistantRegionNotFound`] for section 9.
pub fn region_id<'p>(
    params: &'p Params,
    store: &Store,
    unknown: ApiError,
) -> Result<&'p str, ApiError> {
    let region = params.get("RegionId").ok_or(ApiError::MissingRegionId)?;
    if !store.knows_region(region) {
        return Err(unknown);
    }
    Ok(region)
}

/// A required parameter: `MissingParameter` naming it when absent or empty.
pub fn required<'p>(params: &'p Params, key: &'static str) -> Result<&'p str, ApiError> {
    params.get(key).ok_or(ApiError::MissingParameter(key))
}

/// How an operation takes `InstanceId.N`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceIdList {
    /// Most ids, and the largest N.
    pub limit: u64,
    /// Answered for more ids than `limit`, or an N over it.
    pub too_many: ApiError,
    /// Whether at least one id is required (`MissingParam.InstanceId`).
    pub required: bool,
}

impl InstanceIdList {
    /// A section 9 operation's list: over `limit`, 403 `InstanceIds.ExceedLimit`.
    pub const fn cloud_assistant(limit: u64, required: bool) -> Self {
        Self {
            limit,
            too_many: ApiError::CloudAssistantInstanceIdsExceedLimit,
            required,
        }
    }

    /// SPEC 9.1 step 2, before any parameter's shape is checked: when ids are required and no
    /// `InstanceId` parameter has a value, `MissingParam.InstanceId`. Malformed ones count as
    /// given here; [`Self::parse`] refuses them at step 3.
    pub fn check_present(&self, params: &Params<'_>) -> Result<(), ApiError> {
        let given = params.iter().any(|(key, value)| {
            let instance_key = key == "InstanceId" || key.starts_with("InstanceId.");
            instance_key && !value.is_empty()
        });
        if self.required && !given {
            return Err(ApiError::MissingInstanceId);
        }
        Ok(())
    }

    /// The ids in N order, each once (a repeat counts once). N is a canonical whole number
    /// (no sign, no leading zero); a malformed N, or a bare `InstanceId`, is `InvalidParameter`
    /// at once, before any count is checked; then an N over the limit is `too_many`; then no
    /// id at all, when one is required, is `MissingParam.InstanceId`. Empty values count as
    /// absent. Other parameters that start with `InstanceId` (e.g. `InstanceIds`) are not read.
    pub fn parse(&self, params: &Params<'_>) -> Result<Vec<String>, ApiError> {
        let mut numbered = Vec::new();
        let mut exceeds = false;
        for (key, value) in params.iter() {
            let Some(suffix) = key.strip_prefix("InstanceId") else {
                continue;
            };
            let Some(n) = suffix.strip_prefix('.') else {
                if suffix.is_empty() && !value.is_empty() {
                    return Err(ApiError::invalid(
                        key,
                        format!(
                            "instance ids are given as InstanceId.N, N from 1 to {}",
                            self.limit
                        ),
                    ));
                }
                continue;
            };
            let Some(n) = canonical_index(n) else {
                return Err(ApiError::invalid(
                    key,
                    format!(
                        "N of InstanceId.N must be a whole number from 1 to {}",
                        self.limit
                    ),
                ));
            };
            match n {
                Some(n) if n <= self.limit => {
                    if !value.is_empty() {
                        numbered.push((n, value));
                    }
                }
                _ => exceeds = true,
            }
        }
        if exceeds {
            return Err(self.too_many.clone());
        }
        numbered.sort_unstable_by_key(|&(n, _)| n);
        let mut ids: Vec<String> = Vec::with_capacity(numbered.len());
        for (_, id) in numbered {
            if !ids.iter().any(|seen| seen == id) {
                ids.push(id.to_owned());
            }
        }
        if self.required && ids.is_empty() {
            return Err(ApiError::MissingInstanceId);
        }
        Ok(ids)
    }
}

/// The N of a `Key.N` parameter: `None` when not a canonical whole number from 1 (digits, no
/// leading zero); `Some(None)` when canonical but beyond `u64`, which is over any limit.
fn canonical_index(n: &str) -> Option<Option<u64>> {
    let canonical = !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) && !n.starts_with('0');
    canonical.then(|| n.parse::<u64>().ok())
}

/// A boolean: `true` or `false` in any case; absent is `None`.
pub fn boolean(params: &Params<'_>, key: &str) -> Result<Option<bool>, ApiError> {
    let Some(value) = params.get(key) else {
        return Ok(None);
    };
    if value.eq_ignore_ascii_case("true") {
        Ok(Some(true))
    } else if value.eq_ignore_ascii_case("false") {
        Ok(Some(false))
    } else {
        Err(ApiError::invalid(
            key,
            format!("\"{}\" is not true or false", echo_short(value)),
        ))
    }
}

/// A decimal integer (optional `-`, then digits) that fits 64 bits; absent is `None`. Ranges
/// are the operation's to check, as their errors differ.
pub fn integer(params: &Params<'_>, key: &str) -> Result<Option<i64>, ApiError> {
    let Some(value) = params.get(key) else {
        return Ok(None);
    };
    let digits = value.strip_prefix('-').unwrap_or(value);
    let parsed = if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        value.parse::<i64>().ok()
    } else {
        None
    };
    parsed.map(Some).ok_or_else(|| {
        ApiError::invalid(
            key,
            format!(
                "\"{}\" is not a decimal integer of 64 bits",
                echo_short(value)
            ),
        )
    })
}

/// Longest `ClientToken`.
pub const MAX_CLIENT_TOKEN_CHARS: usize = 64;

/// `ClientToken`: 1 to 64 printable ASCII characters (space to `~`), else
/// `InvalidClientToken.Malformed`; absent is `None`.
pub fn client_token<'p>(params: &'p Params<'_>) -> Result<Option<&'p str>, ApiError> {
    let Some(token) = params.get("ClientToken") else {
        return Ok(None);
    };
    if token.len() > MAX_CLIENT_TOKEN_CHARS || !token.bytes().all(|b| (b' '..=b'~').contains(&b)) {
        return Err(ApiError::MalformedClientToken);
    }
    Ok(Some(token))
}

/// Most tags, and the largest N of `Tag.N.Key`.
pub const MAX_TAGS: u64 = 20;

/// One tag, as given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    /// `Tag.N.Key`, not empty.
    pub key: String,
    /// `Tag.N.Value`; empty when absent.
    pub value: String,
}

/// `Tag.N.Key` / `Tag.N.Value`, in N order. First failure wins: a malformed N
/// (`InvalidParameter`, as for `InstanceId.N`), then an N over 20 (`NumberExceed.Tags`), then,
/// in N order, a tag without a key (`MissingParameter.TagKey`) or with the key of an earlier
/// one (`Duplicate.TagKey`). A tag is given when its `Key` is received, even empty (an empty
/// key is refused, not ignored), or its `Value` is not empty (decision). Other `Tag.N.*`
/// parameters are not read.
pub fn tags(params: &Params<'_>) -> Result<Vec<Tag>, ApiError> {
    let mut given: std::collections::BTreeMap<u64, (Option<&str>, &str)> = Default::default();
    let mut exceeds = false;
    for (key, value) in params.iter() {
        let Some(rest) = key.strip_prefix("Tag.") else {
            continue;
        };
        let (n, field) = match rest.rsplit_once('.') {
            Some((n, field @ ("Key" | "Value"))) => (n, field),
            _ => continue,
        };
        let Some(n) = canonical_index(n) else {
            return Err(ApiError::invalid(
                key,
                format!("N of Tag.N.{field} must be a whole number from 1 to {MAX_TAGS}"),
            ));
        };
        let Some(n) = n.filter(|&n| n <= MAX_TAGS) else {
            exceeds = true;
            continue;
        };
        let entry = given.entry(n).or_default();
        if field == "Key" {
            entry.0 = Some(value);
        } else {
            entry.1 = value;
        }
    }
    if exceeds {
        return Err(ApiError::TooManyTags);
    }
    let mut tags: Vec<Tag> = Vec::with_capacity(given.len());
    for (key, value) in given.into_values() {
        let key = match key {
            Some(key) if !key.is_empty() => key,
            Some(_) => return Err(ApiError::MissingTagKey),
            None if value.is_empty() => continue,
            None => return Err(ApiError::MissingTagKey),
        };
        if tags.iter().any(|tag| tag.key == key) {
            return Err(ApiError::DuplicateTagKey);
        }
        tags.push(Tag {
            key: key.to_owned(),
            value: value.to_owned(),
        });
    }
    Ok(tags)
}

/// How a command's content is written: `ContentEncoding`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentEncoding {
    /// The text itself.
    PlainText,
    /// Standard, padded Base64 of the UTF-8 bytes.
    Base64,
}

impl ContentEncoding {
    /// `ContentEncoding`: `PlainText` or `Base64` in any case; absent or any other value is
    /// `default` (SPEC 9.1, 9.2: PlainText for RunCommand, Base64 for CreateCommand and the
    /// Describe* answers).
    pub fn parse(params: &Params<'_>, default: Self) -> Self {
        match params.get("ContentEncoding") {
            Some(v) if v.eq_ignore_ascii_case("PlainText") => Self::PlainText,
            Some(v) if v.eq_ignore_ascii_case("Base64") => Self::Base64,
            _ => default,
        }
    }

    /// Content received in this encoding, as bytes: Base64 that does not decode is
    /// `CmdContent.DecodeError`. The bytes need not be UTF-8 (SPEC 9.5: such content runs as
    /// "anything else").
    pub fn decode_bytes(self, content: &str) -> Result<Vec<u8>, ApiError> {
        match self {
            Self::PlainText => Ok(content.as_bytes().to_vec()),
            Self::Base64 => STANDARD
                .decode(content)
                .map_err(|_| ApiError::ContentDecodeError),
        }
    }

    /// Content received in this encoding, as text: Base64 that does not decode to UTF-8 is
    /// `CmdContent.DecodeError`.
    pub fn decode(self, content: &str) -> Result<String, ApiError> {
        match self {
            Self::PlainText => Ok(content.to_owned()),
            Self::Base64 => STANDARD
                .decode(content)
                .ok()
                .and_then(|bytes| String::from_utf8(bytes).ok())
                .ok_or(ApiError::ContentDecodeError),
        }
    }

    /// Text to answer in this encoding (`CommandContent`, `Output`).
    pub fn encode(self, text: &str) -> String {
        match self {
            Self::PlainText => text.to_owned(),
            Self::Base64 => STANDARD.encode(text),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rpc::params::Decoded;

    fn params(query: &str) -> Params<'static> {
        Decoded::new(query.as_bytes(), None)
            .into_params()
            .unwrap()
            .into_owned()
    }

    fn code(result: Result<impl std::fmt::Debug, ApiError>) -> String {
        result.unwrap_err().code().to_owned()
    }

    #[test]
    fn region_and_required_parameters() {
        let store = Store::new(vec![], vec![]).unwrap();
        let unknown = || ApiError::CloudAssistantRegionNotFound;
        assert_eq!(
            region_id(&params("RegionId=cn-hangzhou"), &store, unknown()),
            Ok("cn-hangzhou")
        );
        assert_eq!(
            region_id(&params("RegionId="), &store, unknown()),
            Err(ApiError::MissingRegionId)
        );
        assert_eq!(
            region_id(&params("RegionId=cn-atlantis"), &store, unknown()),
            Err(unknown())
        );
        assert_eq!(required(&params("Type=x"), "Type"), Ok("x"));
        let missing = required(&params("Type="), "Type").unwrap_err();
        assert_eq!(
            missing.to_string(),
            "The input parameter \"Type\" that is mandatory for processing this request is not \
             supplied."
        );
    }

    #[test]
    fn instance_ids_in_n_order_each_once() {
        let list = InstanceIdList::cloud_assistant(100, true);
        let ids = list
            .parse(&params(
                "InstanceId.3=i-c&InstanceId.1=i-a&InstanceId.2=i-c&InstanceId.100=i-a&InstanceId.4=&InstanceIds=x",
            ))
            .unwrap();
        assert_eq!(ids, ["i-a", "i-c"]);
        let optional = InstanceIdList::cloud_assistant(50, false);
        assert_eq!(optional.parse(&params("InstanceId.1=")), Ok(vec![]));
    }

    #[test]
    fn instance_ids_are_present_before_they_are_well_formed() {
        let list = InstanceIdList::cloud_assistant(100, true);
        for query in ["", "InstanceId.1=", "InstanceIds=i-1", "InstanceIdx=i-1"] {
            assert_eq!(
                list.check_present(&params(query)),
                Err(ApiError::MissingInstanceId),
                "{query}"
            );
        }
        for query in [
            "InstanceId.1=i-1",
            "InstanceId.0=i-1",
            "InstanceId=i-1",
            "InstanceId.x=i",
        ] {
            assert_eq!(list.check_present(&params(query)), Ok(()), "{query}");
        }
        let optional = InstanceIdList::cloud_assistant(50, false);
        assert_eq!(optional.check_present(&params("")), Ok(()));
    }

    #[test]
    fn instance_id_errors_first_failure_wins() {
        let list = InstanceIdList::cloud_assistant(100, true);
        for (query, expected) in [
            ("", "MissingParam.InstanceId"),
            ("InstanceId.1=", "MissingParam.InstanceId"),
            ("InstanceId.101=i-1", "InstanceIds.ExceedLimit"),
            (
                "InstanceId.99999999999999999999999=i-1",
                "InstanceIds.ExceedLimit",
            ),
            ("InstanceId.0=i-1", "InvalidParameter"),
            ("InstanceId.01=i-1", "InvalidParameter"),
            ("InstanceId.+1=i-1", "InvalidParameter"),
            ("InstanceId.=i-1", "InvalidParameter"),
            ("InstanceId=i-1", "InvalidParameter"),
            // A malformed N wins over one over the limit, wherever it comes.
            ("InstanceId.101=i-1&InstanceId.x=i-2", "InvalidParameter"),
        ] {
            assert_eq!(code(list.parse(&params(query))), expected, "{query}");
        }
        let err = list.parse(&params("InstanceId.0=i-1")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "The specified parameter \"InstanceId.0\" is not valid: N of InstanceId.N must be a \
             whole number from 1 to 100"
        );
        assert_eq!(
            list.parse(&params("InstanceId.101=i"))
                .unwrap_err()
                .status(),
            axum::http::StatusCode::FORBIDDEN
        );
        let many: String = (1..=101)
            .map(|n| format!("InstanceId.{n}=i-{n}&"))
            .collect();
        assert_eq!(code(list.parse(&params(&many))), "InstanceIds.ExceedLimit");
    }

    #[test]
    fn booleans_in_any_case() {
        let p = params("A=TRUE&B=false&C=FaLsE&D=yes&E=");
        assert_eq!(boolean(&p, "A"), Ok(Some(true)));
        assert_eq!(boolean(&p, "B"), Ok(Some(false)));
        assert_eq!(boolean(&p, "C"), Ok(Some(false)));
        assert_eq!(boolean(&p, "E"), Ok(None));
        assert_eq!(boolean(&p, "Z"), Ok(None));
        assert_eq!(
            boolean(&p, "D").unwrap_err().to_string(),
            "The specified parameter \"D\" is not valid: \"yes\" is not true or false"
        );
    }

    #[test]
    fn decimal_integers_only() {
        let p = params("A=60&B=-5&C=007&E=");
        assert_eq!(integer(&p, "A"), Ok(Some(60)));
        assert_eq!(integer(&p, "B"), Ok(Some(-5)));
        assert_eq!(integer(&p, "C"), Ok(Some(7)));
        assert_eq!(integer(&p, "E"), Ok(None));
        for bad in ["1.5", "+1", "-", "0x10", "1e3", " 1", "9223372036854775808"] {
            let p = params(&format!(
                "T={}",
                bad.replace('+', "%2B").replace(' ', "%20")
            ));
            let err = integer(&p, "T").unwrap_err();
            assert_eq!(
                err.to_string(),
                format!(
                    "The specified parameter \"T\" is not valid: \"{bad}\" is not a decimal \
                     integer of 64 bits"
                )
            );
        }
    }

    #[test]
    fn client_tokens_are_1_to_64_printable_ascii() {
        assert_eq!(client_token(&params("")), Ok(None));
        assert_eq!(client_token(&params("ClientToken=")), Ok(None));
        let longest = "t".repeat(64);
        assert_eq!(
            client_token(&params(&format!("ClientToken={longest}"))),
            Ok(Some(longest.as_str()))
        );
        assert_eq!(client_token(&params("ClientToken=a+b~")), Ok(Some("a b~")));
        for bad in [
            "t".repeat(65),
            "a%09b".into(),
            "%C3%A9".into(),
            "a%7Fb".into(),
        ] {
            let query = format!("ClientToken={bad}");
            assert_eq!(
                client_token(&params(&query)),
                Err(ApiError::MalformedClientToken),
                "{bad}"
            );
        }
    }

    #[test]
    fn tags_in_n_order() {
        let tags = tags(&params(
            "Tag.2.Key=b&Tag.1.Value=v1&Tag.1.Key=a&Tag.20.Key=z&Tag.3.Value=&Tag.2.Other=x",
        ))
        .unwrap();
        let pairs: Vec<_> = tags
            .iter()
            .map(|t| (t.key.as_str(), t.value.as_str()))
            .collect();
        assert_eq!(pairs, [("a", "v1"), ("b", ""), ("z", "")]);
    }

    #[test]
    fn tag_errors_first_failure_wins() {
        for (query, expected) in [
            ("Tag.21.Key=k", "NumberExceed.Tags"),
            ("Tag.21.Value=v", "NumberExceed.Tags"),
            ("Tag.1.Key=", "MissingParameter.TagKey"),
            ("Tag.1.Value=v", "MissingParameter.TagKey"),
            ("Tag.1.Key=k&Tag.2.Key=k", "Duplicate.TagKey"),
            ("Tag.0.Key=k", "InvalidParameter"),
            ("Tag.x.Value=v", "InvalidParameter"),
            // Over 20 before a missing key, a malformed N before both.
            ("Tag.1.Value=v&Tag.21.Key=k", "NumberExceed.Tags"),
            ("Tag.21.Key=k&Tag.01.Key=k", "InvalidParameter"),
            // In N order: the missing key of tag 2 before the repeat of tag 3.
            (
                "Tag.3.Key=a&Tag.1.Key=a&Tag.2.Value=v",
                "MissingParameter.TagKey",
            ),
        ] {
            assert_eq!(code(tags(&params(query))), expected, "{query}");
        }
    }

    #[test]
    fn content_encodings() {
        use ContentEncoding::*;
        let parse = |query: &str, default| ContentEncoding::parse(&params(query), default);
        assert_eq!(parse("ContentEncoding=plaintext", Base64), PlainText);
        assert_eq!(parse("ContentEncoding=BASE64", PlainText), Base64);
        assert_eq!(parse("ContentEncoding=hex", PlainText), PlainText);
        assert_eq!(parse("ContentEncoding=hex", Base64), Base64);
        assert_eq!(parse("", Base64), Base64);

        assert_eq!(Base64.encode("echo 中"), "ZWNobyDkuK0=");
        assert_eq!(Base64.decode("ZWNobyDkuK0="), Ok("echo 中".to_owned()));
        assert_eq!(PlainText.decode("ZWNobw"), Ok("ZWNobw".to_owned()));
        assert_eq!(PlainText.encode("echo"), "echo");
        // Not Base64, unpadded, or not UTF-8 once decoded.
        for bad in ["echo hi", "ZWNobw", "/w=="] {
            assert_eq!(
                Base64.decode(bad),
                Err(ApiError::ContentDecodeError),
                "{bad}"
            );
        }
        // As bytes, content that is not UTF-8 is kept; Base64 that does not decode is not.
        assert_eq!(Base64.decode_bytes("/w=="), Ok(vec![0xff]));
        assert_eq!(PlainText.decode_bytes("echo"), Ok(b"echo".to_vec()));
        for bad in ["echo hi", "ZWNobw"] {
            assert_eq!(
                Base64.decode_bytes(bad),
                Err(ApiError::ContentDecodeError),
                "{bad}"
            );
        }
    }
}
