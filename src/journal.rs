//! The request journal: the last API requests received, newest first, for tests to assert
//! on what their code sent (`GET /_emulator/requests`). Secrets never enter it.

use std::collections::VecDeque;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;

/// What replaces a redacted value.
pub const REDACTED: &str = "***";

/// Default number of requests kept.
pub const DEFAULT_CAPACITY: usize = 1_000;

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
    #[serde(serialize_with = "ordered_map")]
    pub params: Vec<(String, String)>,
    /// The HTTP status answered.
    pub status: u16,
    /// The error code answered, empty on success.
    pub code: String,
}

fn rfc3339_millis<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&t.to_rfc3339_opts(SecondsFormat::Millis, true))
}

fn ordered_map<S: Serializer>(pairs: &[(String, String)], s: S) -> Result<S::Ok, S::Error> {
    let mut map = s.serialize_map(Some(pairs.len()))?;
    for (k, v) in pairs {
        map.serialize_entry(k, v)?;
    }
    map.end()
}

/// True for a parameter whose value must never be shown: the signature, secrets, security
/// tokens, passwords.
pub fn is_secret(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower == "signature"
        || lower.contains("secret")
        || lower.contains("securitytoken")
        || lower.contains("security_token")
        || lower.contains("password")
}

/// Parameters with secret values replaced by [`REDACTED`].
pub fn redact<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Vec<(String, String)> {
    pairs
        .into_iter()
        .map(|(k, v)| {
            let value = if is_secret(k) { REDACTED } else { v };
            (k.to_owned(), value.to_owned())
        })
        .collect()
}

/// Which requests a query wants.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Only this action.
    pub action: Option<String>,
    /// Only this error code; an empty code means successes only.
    pub code: Option<String>,
    /// At most this many, newest first.
    pub limit: Option<usize>,
}

/// A bounded ring of requests; the oldest is dropped when it is full.
#[derive(Debug)]
pub struct Journal {
    capacity: usize,
    entries: VecDeque<RecordedRequest>,
}

impl Journal {
    /// An empty journal keeping `capacity` requests (0 keeps none).
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            entries: VecDeque::with_capacity(capacity.min(DEFAULT_CAPACITY)),
        }
    }

    /// Records a request.
    pub fn record(&mut self, request: RecordedRequest) {
        if self.capacity == 0 {
            return;
        }
        if self.entries.len() == self.capacity {
            self.entries.pop_back();
        }
        self.entries.push_front(request);
    }

    /// The requests matching `filter`, newest first.
    pub fn query(&self, filter: &Filter) -> Vec<RecordedRequest> {
        self.entries
            .iter()
            .filter(|r| filter.action.as_ref().map_or(true, |a| &r.action == a))
            .filter(|r| filter.code.as_ref().map_or(true, |c| &r.code == c))
            .take(filter.limit.unwrap_or(usize::MAX))
            .cloned()
            .collect()
    }

    /// Forgets every request.
    pub fn clear(&mut self) {
        self.entries.clear();
    }

    /// How many requests it keeps at most.
    pub fn capacity(&self) -> usize {
        self.capacity
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
            params: vec![],
            status: if code.is_empty() { 200 } else { 400 },
            code: code.into(),
        }
    }

    #[test]
    fn keeps_the_newest_first_and_drops_the_oldest() {
        let mut journal = Journal::new(3);
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
        let mut journal = Journal::new(10);
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
        let values: Vec<&str> = got.iter().map(|(_, v)| v.as_str()).collect();
        assert_eq!(values, [REDACTED, REDACTED, REDACTED, "n", "LTAI"]);
    }
}
