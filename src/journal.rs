//! The request journal: the last API requests received, newest first, for tests to assert
//! on what their code sent (`GET /_emulator/requests`). Secrets never enter it.
//!
//! It is bounded twice: in requests ([`DEFAULT_CAPACITY`]) and in bytes
//! ([`DEFAULT_MAX_BYTES`], counted by [`RecordedRequest::bytes`]); the oldest requests are
//! dropped until both bounds hold. A parameter value over [`MAX_VALUE_BYTES`] (a name over
//! [`MAX_NAME_BYTES`]) is kept cut, ending in a visible marker (see [`keep_cut`]).

use std::collections::VecDeque;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;

/// What replaces a redacted value.
pub const REDACTED: &str = "***";

/// Default number of requests kept.
pub const DEFAULT_CAPACITY: usize = 1_000;
/// Default number of bytes the kept requests may take: 16 MiB.
pub const DEFAULT_MAX_BYTES: usize = 16 << 20;
/// Longest parameter value kept whole: 4 KiB. A longer one is cut (see [`keep_cut`]).
pub const MAX_VALUE_BYTES: usize = 4 << 10;
/// Longest parameter name kept whole. A longer one is cut (see [`keep_cut`]).
pub const MAX_NAME_BYTES: usize = 256;
/// Longest error message kept whole: 16 KiB, room for the string to sign of the longest query
/// the emulator answers. A longer one is cut (see [`keep_cut`]).
pub const MAX_MESSAGE_BYTES: usize = 16 << 10;
/// Bytes counted for each kept request besides its texts (its fields and slot).
const REQUEST_OVERHEAD: usize = 256;
/// Bytes counted for each kept parameter besides its texts (two string headers).
const PARAM_OVERHEAD: usize = 48;

/// One received API request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordedRequest {
    /// The request id answered.
    pub request_id: String,
    /// When it arrived, by the emulator's clock.
    #[serde(serialize_with = "rfc3339_millis")]
    pub time: DateTime<Utc>,
    /// `GET` or `POST` (or whatever was sent).
    pub method: String,
    /// The action, or empty when the request did not name a known one.
    pub action: String,
    /// Query and form parameters as received, in order, secrets redacted.
    pub params: RecordedParams,
    /// The HTTP status answered.
    pub status: u16,
    /// The error code answered, empty on success.
    pub code: String,
    /// The error message answered, empty on success; for `SignatureDoesNotMatch` it ends with
    /// the server's string to sign. Kept cut beyond [`MAX_MESSAGE_BYTES`].
    pub message: String,
}

impl RecordedRequest {
    /// What the request costs against the journal's byte bound: the bytes of its texts plus a
    /// fixed overhead per request and per parameter.
    pub fn bytes(&self) -> usize {
        let texts = self.request_id.len()
            + self.method.len()
            + self.action.len()
            + self.code.len()
            + self.message.len();
        let params: usize = self
            .params
            .iter()
            .map(|(k, v)| k.len() + v.len() + PARAM_OVERHEAD)
            .sum();
        REQUEST_OVERHEAD + texts + params
    }
}

fn rfc3339_millis<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&t.to_rfc3339_opts(SecondsFormat::Millis, true))
}

/// The parameters of one recorded request, kept in one buffer: a request's parameters cost
/// the journal two allocations, not two per parameter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordedParams {
    /// Every name and value, one after the other.
    text: String,
    /// Where each name ends and where its value ends, in `text`.
    ends: Vec<(usize, usize)>,
}

impl RecordedParams {
    /// Every (name, value), in the order received.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        let mut start = 0;
        self.ends.iter().map(move |&(name_end, value_end)| {
            let pair = (&self.text[start..name_end], &self.text[name_end..value_end]);
            start = value_end;
            pair
        })
    }

    /// The number of parameters.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Adds one parameter as the journal keeps it: see [`redact`].
    pub fn push(&mut self, name: &str, value: &str) {
        let value = if is_secret(name) { REDACTED } else { value };
        push_cut(&mut self.text, name, MAX_NAME_BYTES);
        let name_end = self.text.len();
        push_cut(&mut self.text, value, MAX_VALUE_BYTES);
        self.ends.push((name_end, self.text.len()));
    }
}

impl Serialize for RecordedParams {
    /// A JSON object, in the order received.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.len()))?;
        for (k, v) in self.iter() {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

/// True for a parameter whose value must never be shown: the signature, secrets, security
/// tokens, passwords.
pub fn is_secret(name: &str) -> bool {
    let contains = |needle: &str| {
        name.as_bytes()
            .windows(needle.len())
            .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
    };
    name.eq_ignore_ascii_case("signature")
        || contains("secret")
        || contains("securitytoken")
        || contains("security_token")
        || contains("password")
}

/// Parameters as the journal keeps them: secret values replaced by [`REDACTED`] (decided on
/// the whole name), names over [`MAX_NAME_BYTES`] and values over [`MAX_VALUE_BYTES`] cut.
pub fn redact<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> RecordedParams {
    let pairs = pairs.into_iter();
    let mut params = RecordedParams {
        text: String::with_capacity(256),
        ends: Vec::with_capacity(pairs.size_hint().0),
    };
    for (name, value) in pairs {
        params.push(name, value);
    }
    params
}

/// Appends [`keep_cut`]`(text, limit)` to `out`.
fn push_cut(out: &mut String, text: &str, limit: usize) {
    if text.len() <= limit {
        out.push_str(text);
    } else {
        out.push_str(&keep_cut(text, limit));
    }
}

/// `text` whole if it has at most `limit` bytes, else its first `limit` bytes (back to a
/// character boundary) followed by `…[cut: N bytes in all]`, N being the whole text's length.
pub fn keep_cut(text: &str, limit: usize) -> String {
    if text.len() <= limit {
        return text.to_owned();
    }
    let mut end = limit;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…[cut: {} bytes in all]", &text[..end], text.len())
}

/// Which requests a query wants.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Only this action.
    pub action: Option<String>,
    /// Only this error code; an empty code means successes only.
    pub code: Option<String>,
    /// Only requests naming this instance: a parameter `InstanceId` or `InstanceId.N` (the
    /// name compared without regard to case) with this value.
    pub instance_id: Option<String>,
    /// At most this many, newest first.
    pub limit: Option<usize>,
}

/// True when `params` has an `InstanceId` or `InstanceId.N` parameter equal to `id`.
fn names_instance(params: &RecordedParams, id: &str) -> bool {
    params.iter().any(|(name, value)| {
        let prefix = name
            .get(..10)
            .is_some_and(|p| p.eq_ignore_ascii_case("InstanceId"));
        prefix && matches!(name.as_bytes().get(10), None | Some(b'.')) && value == id
    })
}

/// The message as the journal keeps it: cut beyond [`MAX_MESSAGE_BYTES`].
pub fn keep_message(message: String) -> String {
    if message.len() <= MAX_MESSAGE_BYTES {
        message
    } else {
        keep_cut(&message, MAX_MESSAGE_BYTES)
    }
}

/// A ring of requests bounded in count and in bytes; the oldest are dropped first.
#[derive(Debug)]
pub struct Journal {
    capacity: usize,
    max_bytes: usize,
    /// The sum of the kept requests' [`RecordedRequest::bytes`].
    bytes: usize,
    /// Newest first, each with its [`RecordedRequest::bytes`].
    entries: VecDeque<(usize, RecordedRequest)>,
}

impl Journal {
    /// An empty journal keeping at most `capacity` requests taking at most `max_bytes` (either
    /// 0 keeps none).
    pub fn new(capacity: usize, max_bytes: usize) -> Self {
        Self {
            capacity,
            max_bytes,
            bytes: 0,
            entries: VecDeque::with_capacity(capacity.min(DEFAULT_CAPACITY)),
        }
    }

    /// False when nothing is ever kept (a bound of 0): then callers need not even build a
    /// [`RecordedRequest`].
    pub fn is_recording(&self) -> bool {
        self.capacity > 0 && self.max_bytes > 0
    }

    /// Records a request, dropping the oldest until both bounds hold. A request larger than
    /// the whole byte bound is not kept (the older ones stay).
    pub fn record(&mut self, request: RecordedRequest) {
        let size = request.bytes();
        if !self.is_recording() || size > self.max_bytes {
            return;
        }
        while self.entries.len() >= self.capacity || self.bytes + size > self.max_bytes {
            match self.entries.pop_back() {
                Some((dropped, _)) => self.bytes -= dropped,
                None => break,
            }
        }
        self.bytes += size;
        self.entries.push_front((size, request));
    }

    /// The requests matching `filter`, newest first.
    pub fn query(&self, filter: &Filter) -> Vec<RecordedRequest> {
        self.entries
            .iter()
            .map(|(_, r)| r)
            .filter(|r| filter.action.as_ref().is_none_or(|a| &r.action == a))
            .filter(|r| filter.code.as_ref().is_none_or(|c| &r.code == c))
            .filter(|r| {
                filter
                    .instance_id
                    .as_ref()
                    .is_none_or(|id| names_instance(&r.params, id))
            })
            .take(filter.limit.unwrap_or(usize::MAX))
            .cloned()
            .collect()
    }

    /// Forgets every request.
    pub fn clear(&mut self) {
        self.entries.clear();
        self.bytes = 0;
    }

    /// How many requests it keeps at most.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// How many bytes its requests may take at most.
    pub fn max_bytes(&self) -> usize {
        self.max_bytes
    }

    /// How many bytes its requests take now, as [`RecordedRequest::bytes`] counts them.
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(n: usize, action: &str, code: &str) -> RecordedRequest {
        RecordedRequest {
            request_id: format!("r{n}"),
            time: DateTime::UNIX_EPOCH,
            method: "GET".into(),
            action: action.into(),
            params: RecordedParams::default(),
            status: if code.is_empty() { 200 } else { 400 },
            code: code.into(),
            message: String::new(),
        }
    }

    #[test]
    fn keeps_the_newest_first_and_drops_the_oldest() {
        let mut journal = Journal::new(3, DEFAULT_MAX_BYTES);
        for n in 0..5 {
            journal.record(request(n, "A", ""));
        }
        let ids: Vec<_> = journal
            .query(&Filter::default())
            .into_iter()
            .map(|r| r.request_id)
            .collect();
        assert_eq!(ids, ["r4", "r3", "r2"]);
        journal.clear();
        assert!(journal.query(&Filter::default()).is_empty());
    }

    #[test]
    fn filters_by_action_code_and_limit() {
        let mut journal = Journal::new(10, DEFAULT_MAX_BYTES);
        journal.record(request(1, "A", ""));
        journal.record(request(2, "A", "Throttling.User"));
        journal.record(request(3, "", "MissingParameter"));
        journal.record(request(4, "A", ""));
        let ids = |f: Filter| -> Vec<String> {
            journal
                .query(&f)
                .into_iter()
                .map(|r| r.request_id)
                .collect()
        };
        let action = Some("A".to_owned());
        assert_eq!(
            ids(Filter {
                action: action.clone(),
                ..Filter::default()
            }),
            ["r4", "r2", "r1"]
        );
        assert_eq!(
            ids(Filter {
                code: Some("Throttling.User".into()),
                ..Filter::default()
            }),
            ["r2"]
        );
        assert_eq!(
            ids(Filter {
                code: Some(String::new()),
                ..Filter::default()
            }),
            ["r4", "r1"]
        );
        assert_eq!(
            ids(Filter {
                limit: Some(1),
                ..Filter::default()
            }),
            ["r4"]
        );
    }

    #[test]
    fn redacts_signatures_secrets_and_tokens() {
        let pairs = [
            ("Signature", "abc"),
            ("AccessKeySecret", "s"),
            ("SecurityToken", "t"),
            ("NextToken", "n"),
            ("AccessKeyId", "LTAI"),
        ];
        let got = redact(pairs);
        let values: Vec<&str> = got.iter().map(|(_, v)| v).collect();
        assert_eq!(values, [REDACTED, REDACTED, REDACTED, "n", "LTAI"]);
    }

    #[test]
    fn long_values_and_names_are_kept_cut_with_a_marker_and_secrets_stay_redacted() {
        let long = "é".repeat(10_000);
        let long_name = format!("{}Password", "N".repeat(1_000));
        let kept = redact([
            ("Name", long.as_str()),
            (long_name.as_str(), "hunter2"),
            ("Short", "kept"),
        ]);
        let got: Vec<(&str, &str)> = kept.iter().collect();
        let (name, value) = &got[0];
        assert_eq!(*name, "Name");
        assert!(value.ends_with("…[cut: 20000 bytes in all]"), "{value}");
        assert!(value.len() <= MAX_VALUE_BYTES + 32);
        assert!(value.starts_with(&"é".repeat(100)));
        let (name, value) = &got[1];
        assert!(name.ends_with("…[cut: 1008 bytes in all]"), "{name}");
        assert_eq!(*value, REDACTED);
        assert_eq!(got[2], ("Short", "kept"));
    }

    #[test]
    fn stays_within_its_byte_bound_dropping_the_oldest() {
        let max_bytes = 100_000;
        let mut journal = Journal::new(1_000, max_bytes);
        for n in 0..200 {
            let mut big = request(n, "A", "");
            big.params = redact([("Name", "x".repeat(900_000).as_str())]);
            for i in 0..5 {
                big.params.push(&format!("P{i}"), &"y".repeat(4_000));
            }
            journal.record(big);
            assert!(journal.bytes() <= max_bytes, "{} bytes", journal.bytes());
        }
        let kept = journal.query(&Filter::default());
        assert!((1..200).contains(&kept.len()), "{}", kept.len());
        assert_eq!(kept[0].request_id, "r199");
        let counted: usize = kept.iter().map(RecordedRequest::bytes).sum();
        assert_eq!(counted, journal.bytes());
        journal.clear();
        assert_eq!(journal.bytes(), 0);
    }

    #[test]
    fn a_bound_of_zero_keeps_nothing() {
        for mut journal in [Journal::new(0, DEFAULT_MAX_BYTES), Journal::new(10, 0)] {
            assert!(!journal.is_recording());
            journal.record(request(1, "A", ""));
            assert!(journal.query(&Filter::default()).is_empty());
        }
        assert!(Journal::new(1, 1).is_recording());
    }
}
