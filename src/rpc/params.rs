//! Request parameters: the query string and a form body, decoded strictly and merged.
//!
//! Decoding is strict (a `%` must start two hex digits, the result must be UTF-8) because a
//! lenient decoder would make the emulator accept what the real service refuses, and would let
//! two spellings of one key slip past the duplicate check. While decoding, a lossy view of every
//! pair is kept too, so the reply to a bad request can still be given in the caller's `Format`.

use std::borrow::Cow;

use crate::error::ApiError;

/// Most parameters one request may carry.
pub const MAX_PARAMETERS: usize = 1_000;

/// Decoded, merged parameters with no key twice, in the order received.
///
/// A key or value that needed no decoding borrows the request's own bytes, so a typical query
/// is read without copying it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params<'a> {
    pairs: Vec<(Cow<'a, str>, Cow<'a, str>)>,
    /// Positions in `pairs`, sorted by key: a lookup is a binary search.
    by_key: Vec<usize>,
}

impl Params<'_> {
    /// The same parameters, owning their text: for keeping them beyond the request.
    pub fn into_owned(self) -> Params<'static> {
        Params {
            pairs: self
                .pairs
                .into_iter()
                .map(|(k, v)| (Cow::Owned(k.into_owned()), Cow::Owned(v.into_owned())))
                .collect(),
            by_key: self.by_key,
        }
    }

    /// The value of `key` as received, an empty one included.
    pub fn raw(&self, key: &str) -> Option<&str> {
        self.by_key
            .binary_search_by(|&i| self.pairs[i].0.as_ref().cmp(key))
            .ok()
            .map(|at| self.pairs[self.by_key[at]].1.as_ref())
    }

    /// The value of `key`, with an empty value counted as absent (as for optional parameters).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.raw(key).filter(|v| !v.is_empty())
    }

    /// Every pair, in the order received.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.pairs.iter().map(|(k, v)| (k.as_ref(), v.as_ref()))
    }

    /// Number of parameters.
    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }
}

/// The outcome of decoding: the lossy pairs (always) and the first problem found (if any).
#[derive(Debug)]
pub struct Decoded<'a> {
    lossy: Vec<(Cow<'a, str>, Cow<'a, str>)>,
    problem: Option<ApiError>,
}

impl<'a> Decoded<'a> {
    /// Decodes `query` and, when present, a form `body`, merging them.
    pub fn new(query: &'a [u8], body: Option<&'a [u8]>) -> Self {
        let segments = || split(query).chain(body.into_iter().flat_map(split));
        let count = segments().count();
        if count > MAX_PARAMETERS {
            return Self {
                lossy: Vec::new(),
                problem: Some(ApiError::TooManyParameters {
                    count,
                    limit: MAX_PARAMETERS,
                }),
            };
        }
        let mut lossy = Vec::with_capacity(count);
        let mut problem = None;
        for segment in segments() {
            let (key, value) = match segment.iter().position(|&b| b == b'=') {
                Some(eq) => (&segment[..eq], &segment[eq + 1..]),
                None => (segment, &b""[..]),
            };
            let key = decode(key);
            let value = decode(value);
            let key = match key {
                Ok(text) => text,
                Err((why, bytes)) => {
                    let text = lossy_text(&bytes);
                    problem = problem.or_else(|| Some(refusal(why, &text, "name")));
                    text
                }
            };
            let value = match value {
                Ok(text) => text,
                Err((why, bytes)) => {
                    problem = problem.or_else(|| Some(refusal(why, &key, "value")));
                    lossy_text(&bytes)
                }
            };
            lossy.push((key, value));
        }
        Self { lossy, problem }
    }

    /// The value of `key` as far as it could be decoded; for choosing the reply's format even
    /// when the request is refused.
    pub fn lossy(&self, key: &str) -> Option<&str> {
        self.lossy
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_ref())
    }

    /// Every pair as far as it could be decoded, in the order received.
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.lossy.iter().map(|(k, v)| (k.as_ref(), v.as_ref()))
    }

    /// The parameters, or the first problem: bad encoding, too many, or a key given twice (the
    /// key whose second use comes first).
    pub fn into_params(self) -> Result<Params<'a>, ApiError> {
        if let Some(problem) = self.problem {
            return Err(problem);
        }
        let mut pairs = self.lossy;
        pairs.retain(|(key, _)| !key.is_empty());
        let mut by_key: Vec<usize> = (0..pairs.len()).collect();
        // Stable, so equal keys stay in the order received.
        by_key.sort_by(|&a, &b| pairs[a].0.cmp(&pairs[b].0));
        let twice = by_key
            .windows(2)
            .filter(|w| pairs[w[0]].0 == pairs[w[1]].0)
            .map(|w| w[1])
            .min();
        if let Some(at) = twice {
            return Err(ApiError::invalid(
                &pairs[at].0,
                "the parameter is given more than once",
            ));
        }
        Ok(Params { pairs, by_key })
    }
}

fn split(input: &[u8]) -> impl Iterator<Item = &[u8]> {
    input.split(|&b| b == b'&').filter(|s| !s.is_empty())
}

/// Why a piece of a request could not be decoded.
#[derive(Debug, Clone, Copy)]
enum DecodeError {
    Percent,
    Utf8,
}

/// Percent-decodes with `+` as a space, refusing a `%` not followed by two hex digits; what
/// needs no decoding is borrowed. On refusal, the bytes as far as they could be decoded.
fn decode(raw: &[u8]) -> Result<Cow<'_, str>, (DecodeError, Cow<'_, [u8]>)> {
    if !raw.iter().any(|&b| b == b'%' || b == b'+') {
        return std::str::from_utf8(raw)
            .map(Cow::Borrowed)
            .map_err(|_| (DecodeError::Utf8, Cow::Borrowed(raw)));
    }
    let mut out = Vec::with_capacity(raw.len());
    let mut bad_percent = false;
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'+' => out.push(b' '),
            b'%' => match (raw.get(i + 1).and_then(hex), raw.get(i + 2).and_then(hex)) {
                (Some(hi), Some(lo)) => {
                    out.push(hi << 4 | lo);
                    i += 2;
                }
                _ => {
                    bad_percent = true;
                    out.push(b'%');
                }
            },
            other => out.push(other),
        }
        i += 1;
    }
    if bad_percent {
        return Err((DecodeError::Percent, Cow::Owned(out)));
    }
    String::from_utf8(out)
        .map(Cow::Owned)
        .map_err(|e| (DecodeError::Utf8, Cow::Owned(e.into_bytes())))
}

fn hex(byte: &u8) -> Option<u8> {
    (*byte as char).to_digit(16).map(|d| d as u8)
}

fn lossy_text<'a>(bytes: &[u8]) -> Cow<'a, str> {
    Cow::Owned(String::from_utf8_lossy(bytes).into_owned())
}

fn refusal(why: DecodeError, key: &str, part: &str) -> ApiError {
    let reason = match why {
        DecodeError::Percent => {
            format!("its {part} has a '%' that is not followed by two hexadecimal digits")
        }
        DecodeError::Utf8 => format!("its {part} is not valid UTF-8 once decoded"),
    };
    ApiError::invalid(key, reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(query: &str) -> Result<Params<'_>, ApiError> {
        Decoded::new(query.as_bytes(), None).into_params()
    }

    #[test]
    fn decodes_plus_and_percent() {
        let params = parse("Name=a+b%2F%2A~%2B%3D%26%E4%B8%AD&Empty=&Bare").unwrap();
        assert_eq!(params.get("Name"), Some("a b/*~+=&中"));
        assert_eq!(params.raw("Empty"), Some(""));
        assert_eq!(params.get("Empty"), None);
        assert_eq!(params.raw("Bare"), Some(""));
    }

    #[test]
    fn merges_query_and_form_and_refuses_a_key_twice() {
        let merged = Decoded::new(b"A=1", Some(b"B=2")).into_params().unwrap();
        assert_eq!((merged.get("A"), merged.get("B")), (Some("1"), Some("2")));
        let twice = Decoded::new(b"A=1", Some(b"A=1"))
            .into_params()
            .unwrap_err();
        assert_eq!(twice.code(), "InvalidParameter");
        assert!(twice.to_string().contains("\"A\""), "{twice}");
    }

    #[test]
    fn names_the_key_whose_second_use_comes_first() {
        let err = parse("B=1&A=1&C=1&B=2&A=2").unwrap_err();
        assert!(err.to_string().contains("\"B\""), "{err}");
        // A key spelled two ways is one key once decoded.
        let err = parse("A=1&Z=0&%41=2").unwrap_err();
        assert!(err.to_string().contains("\"A\""), "{err}");
    }

    #[test]
    fn plain_text_is_borrowed_and_escapes_are_decoded() {
        let params = parse("Plain=abc&Escaped=a%2Bb&Spaced=a+b").unwrap();
        assert!(matches!(params.pairs[0].1, Cow::Borrowed("abc")));
        assert_eq!(params.get("Escaped"), Some("a+b"));
        assert_eq!(params.get("Spaced"), Some("a b"));
        assert_eq!(params.get("Missing"), None);
        let owned = params.clone().into_owned();
        assert_eq!(owned, params);
    }

    #[test]
    fn refuses_bad_encoding_but_keeps_a_lossy_view() {
        let decoded = Decoded::new(b"Format=XML&Name=%zz&Other=%FF", None);
        assert_eq!(decoded.lossy("Format"), Some("XML"));
        let err = decoded.into_params().unwrap_err();
        assert!(err.to_string().contains("\"Name\""), "{err}");
        let err = parse("Name=%FF%FE").unwrap_err();
        assert!(err.to_string().contains("UTF-8"), "{err}");
    }

    #[test]
    fn refuses_too_many_parameters() {
        let query: Vec<String> = (0..=MAX_PARAMETERS).map(|i| format!("k{i}=v")).collect();
        let err = parse(&query.join("&")).unwrap_err();
        assert_eq!(err.code(), "InvalidParameter.TooManyParameters");
    }
}
