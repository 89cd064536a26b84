//! What the Cloud Assistant Describe* operations share (SPEC 9.1 to 9.3): the filters a
//! NextToken is bound to, the tag filter, the wire form of tags, times and content, and the
//! paging fields of a page.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::next_token::{FilterScope, TokenKey};
use super::paging::{PageFields, Paging};
use super::parse::{ContentEncoding, Tag};
use crate::engine::commands::SpacePage;
use crate::engine::ListError;
use crate::error::ApiError;

/// The filters of a query as given, in an order fixed by the operation: what its NextToken is
/// bound to, beside the caller, the region and the action.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FilterValues(Vec<(&'static str, String)>);

impl FilterValues {
    /// Adds a filter when given.
    pub fn add(&mut self, name: &'static str, value: Option<&str>) {
        if let Some(value) = value {
            self.0.push((name, value.to_owned()));
        }
    }

    /// Adds the tags, in N order (their N itself is not bound: only what they filter).
    pub fn add_tags(&mut self, tags: &[Tag]) {
        for tag in tags {
            self.0.push(("Tag.Key", tag.key.clone()));
            self.0.push(("Tag.Value", tag.value.clone()));
        }
    }

    /// The scope of a NextToken of `action` for these filters, handed to `use_scope`.
    pub fn with_scope<R>(
        &self,
        action: &str,
        account: &str,
        region: &str,
        use_scope: impl FnOnce(&FilterScope<'_>) -> R,
    ) -> R {
        let pairs: Vec<(&str, &str)> = self.0.iter().map(|(n, v)| (*n, v.as_str())).collect();
        use_scope(&FilterScope {
            action,
            account,
            region,
            filters: &pairs,
        })
    }
}

/// Whether a record with tags `have` carries every tag of `wanted`: the same key and, when the
/// filter gives a value, the same value (decision: a key alone matches any value).
pub fn has_tags(have: &[(String, String)], wanted: &[Tag]) -> bool {
    wanted.iter().all(|tag| {
        have.iter()
            .any(|(key, value)| *key == tag.key && (tag.value.is_empty() || *value == tag.value))
    })
}

/// `YYYY-MM-DDThh:mm:ssZ` (SPEC section 4).
pub fn time(at: DateTime<Utc>) -> String {
    let mut text = [0u8; WIRE_TIME_LEN];
    match write_time(at, &mut text) {
        Some(written) => written.to_owned(),
        None => at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    }
}

/// The length of `YYYY-MM-DDThh:mm:ssZ`.
const WIRE_TIME_LEN: usize = 20;

/// Writes `YYYY-MM-DDThh:mm:ssZ` into `out` (a year outside 0 to 9999 has no such form:
/// `None`). The same text chrono's RFC 3339 with whole seconds and `Z` gives, with no
/// allocation: answers write two times per plug-in record.
fn write_time(at: DateTime<Utc>, out: &mut [u8; WIRE_TIME_LEN]) -> Option<&str> {
    use chrono::{Datelike, Timelike};
    // One conversion to calendar fields; each accessor of a `DateTime` would convert again.
    let naive = at.naive_utc();
    let (date, clock) = (naive.date(), naive.time());
    let year = u32::try_from(date.year()).ok().filter(|y| *y <= 9999)?;
    let fields = [
        (0, 4, year),
        (5, 2, date.month()),
        (8, 2, date.day()),
        (11, 2, clock.hour()),
        (14, 2, clock.minute()),
        (17, 2, clock.second()),
    ];
    *out = *b"0000-00-00T00:00:00Z";
    for (start, width, mut value) in fields {
        for digit in out[start..start + width].iter_mut().rev() {
            *digit = b'0' + (value % 10) as u8;
            value /= 10;
        }
    }
    std::str::from_utf8(out).ok()
}

/// A time on the wire as a serializable value: `YYYY-MM-DDThh:mm:ssZ`, or `""` when absent
/// (SPEC 4, 9.1). Serializing it allocates nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WireTime(pub Option<DateTime<Utc>>);

impl serde::Serialize for WireTime {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let Some(at) = self.0 else {
            return serializer.serialize_str("");
        };
        let mut text = [0u8; WIRE_TIME_LEN];
        match write_time(at, &mut text) {
            Some(written) => serializer.serialize_str(written),
            None => serializer.serialize_str(&time(at)),
        }
    }
}

/// A time, or `""` when not reached (SPEC 9.1).
pub fn time_or_empty(at: Option<DateTime<Utc>>) -> String {
    at.map(time).unwrap_or_default()
}

/// Content or output in the answer's encoding: padded Base64 of the bytes, or the text itself
/// (bytes that are not UTF-8 shown as U+FFFD: the text cannot carry them).
pub fn encode_bytes(encoding: ContentEncoding, bytes: &[u8]) -> String {
    match encoding {
        ContentEncoding::PlainText => String::from_utf8_lossy(bytes).into_owned(),
        ContentEncoding::Base64 => STANDARD.encode(bytes),
    }
}

/// `Tags: {Tag: [{TagKey, TagValue}]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagSet {
    /// The tags, in the order given when created.
    pub tag: Vec<TagItem>,
}

impl TagSet {
    /// The wire form of a record's tags.
    pub fn of(tags: &[(String, String)]) -> Self {
        Self {
            tag: tags
                .iter()
                .map(|(key, value)| TagItem {
                    tag_key: key.clone(),
                    tag_value: value.clone(),
                })
                .collect(),
        }
    }
}

/// One tag on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagItem {
    /// The key.
    pub tag_key: String,
    /// The value; may be empty.
    pub tag_value: String,
}

/// The paging fields answering `page`, its NextToken bound to `scope`.
pub fn page_fields<T>(
    paging: &Paging,
    page: &SpacePage<T>,
    tokens: &TokenKey,
    scope: &FilterScope<'_>,
) -> PageFields {
    let resume_after = page.resume_after().map(|at| at.cursor());
    paging.answer(page.total, resume_after.as_deref(), tokens, scope)
}

/// A cursor that opened (it was issued for this scope) but names no position of the listing
/// can only come from another build of the emulator: a bad NextToken all the same.
pub fn bad_cursor(_: ListError) -> ApiError {
    ApiError::InvalidNextToken
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(key: &str, value: &str) -> Tag {
        Tag {
            key: key.into(),
            value: value.into(),
        }
    }

    #[test]
    fn every_wanted_tag_must_be_there() {
        let have = vec![
            ("env".to_string(), "prod".to_string()),
            ("team".to_string(), String::new()),
        ];
        assert!(has_tags(&have, &[]));
        assert!(has_tags(&have, &[tag("env", "prod")]));
        assert!(has_tags(&have, &[tag("env", "")]));
        assert!(has_tags(&have, &[tag("env", "prod"), tag("team", "")]));
        assert!(!has_tags(&have, &[tag("env", "dev")]));
        assert!(!has_tags(&have, &[tag("env", "prod"), tag("owner", "")]));
        assert!(!has_tags(&[], &[tag("env", "")]));
    }

    #[test]
    fn times_and_content_on_the_wire() {
        let at: DateTime<Utc> = "2026-01-02T03:04:05.999Z".parse().unwrap();
        assert_eq!(time(at), "2026-01-02T03:04:05Z");
        assert_eq!(time_or_empty(None), "");
        assert_eq!(
            encode_bytes(ContentEncoding::Base64, b"echo hi"),
            "ZWNobyBoaQ=="
        );
        assert_eq!(
            encode_bytes(ContentEncoding::PlainText, b"echo hi"),
            "echo hi"
        );
        assert_eq!(encode_bytes(ContentEncoding::Base64, &[0xff, 0x00]), "/wA=");
        assert_eq!(
            encode_bytes(ContentEncoding::PlainText, &[b'a', 0xff]),
            "a\u{fffd}"
        );
    }

    #[test]
    fn wire_times_are_chronos_rfc_3339_in_whole_seconds() {
        let chrono_text = |at: DateTime<Utc>| at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let mut seconds: i64 = -62_135_596_800; // 0001-01-01T00:00:00Z
        while seconds <= 253_402_300_799 {
            let at = DateTime::from_timestamp(seconds, 123_456_789).unwrap();
            assert_eq!(time(at), chrono_text(at));
            let json = serde_json::to_string(&WireTime(Some(at))).unwrap();
            assert_eq!(json, format!("\"{}\"", chrono_text(at)));
            seconds += 86_399 * 37 + 3_607;
        }
        assert_eq!(serde_json::to_string(&WireTime(None)).unwrap(), "\"\"");
        // Beyond four-digit years, chrono's own text.
        let far = DateTime::from_timestamp(253_402_300_800 + 86_400, 0).unwrap();
        assert_eq!(time(far), chrono_text(far));
    }

    #[test]
    fn filters_bind_the_token_in_their_order() {
        let mut filters = FilterValues::default();
        filters.add("Name", Some("x*"));
        filters.add("Type", None);
        filters.add_tags(&[tag("env", "prod")]);
        let key = TokenKey::derive(&[]);
        let token = filters.with_scope("DescribeCommands", "a", "r", |scope| {
            key.issue(scope, "1.0")
        });
        let opened = filters.with_scope("DescribeCommands", "a", "r", |scope| {
            key.open(scope, &token)
        });
        assert_eq!(opened.as_deref(), Some("1.0"));
        let mut other = FilterValues::default();
        other.add("Name", Some("x*"));
        let refused = other.with_scope("DescribeCommands", "a", "r", |scope| {
            key.open(scope, &token)
        });
        assert_eq!(refused, None);
    }
}
