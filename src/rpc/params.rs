//! Request parameters: the query string and a form body, decoded strictly and merged.
//!
//! Decoding is strict (a `%` must start two hex digits, the result must be UTF-8) because a
//! lenient decoder would make the emulator accept what the real service refuses, and would let
//! two spellings of one key slip past the duplicate check. While decoding, a lossy copy of every
//! pair is kept too, so the reply to a bad request can still be given in the caller's `Format`.

use crate::error::ApiError;
use std::collections::HashMap;

/// Most parameters one request may carry.
pub const MAX_PARAMETERS: usize = 1_000;

/// Decoded, merged parameters with no key twice, in the order received.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params {
    pairs: Vec<(String, String)>,
    index: HashMap<String, usize>,
}

impl Params {
    /// The value of `key` as received, an empty one included.
    pub fn raw(&self, key: &str) -> Option<&str> {
        self.index.get(key).map(|&i| self.pairs[i].1.as_str())
    }

    /// The value of `key`, with an empty value counted as absent (as for optional parameters).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.raw(key).filter(|v| !v.is_empty())
    }

    /// Every pair, in the order received.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))
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
pub struct Decoded {
    lossy: Vec<(String, String)>,
    problem: Option<ApiError>,
}

impl Decoded {
    /// Decodes `query` and, when present, a form `body`, merging them.
    pub fn new(query: &[u8], body: Option<&[u8]>) -> Self {
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
            let key_text = decode(key);
            let value_text = decode(value);
            let key_lossy = lossy_text(&key_text);
            if problem.is_none() {
                problem = describe(&key_text, &key_lossy, "name")
                    .or_else(|| describe(&value_text, &key_lossy, "value"));
            }
            lossy.push((key_lossy, lossy_text(&value_text)));
        }
        Self { lossy, problem }
    }

    /// The value of `key` as far as it could be decoded; for choosing the reply's format even
    /// when the request is refused.
    pub fn lossy(&self, key: &str) -> Option<&str> {
        self.lossy
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Every pair as far as it could be decoded, in the order received.
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.lossy.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The parameters, or the first problem: bad encoding, too many, or a key given twice.
    pub fn into_params(self) -> Result<Params, ApiError> {
        if let Some(problem) = self.problem {
            return Err(problem);
        }
        let mut params = Params::default();
        for (key, value) in self.lossy {
            if key.is_empty() {
                continue;
            }
            if params.index.contains_key(&key) {
                return Err(ApiError::invalid(
                    &key,
                    "the parameter is given more than once",
                ));
            }
            params.index.insert(key.clone(), params.pairs.len());
            params.pairs.push((key, value));
        }
        Ok(params)
    }
}

fn split(input: &[u8]) -> impl Iterator<Item = &[u8]> {
    input.split(|&b| b == b'&').filter(|s| !s.is_empty())
}

/// Why a piece of a request could not be decoded.
enum DecodeError {
    Percent,
    Utf8,
}

/// Percent-decodes with `+` as a space, refusing a `%` not followed by two hex digits.
fn decode(raw: &[u8]) -> Result<String, (DecodeError, Vec<u8>)> {
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
        return Err((DecodeError::Percent, out));
    }
    String::from_utf8(out).map_err(|e| (DecodeError::Utf8, e.into_bytes()))
}

fn hex(byte: &u8) -> Option<u8> {
    (*byte as char).to_digit(16).map(|d| d as u8)
}

fn lossy_text(decoded: &Result<String, (DecodeError, Vec<u8>)>) -> String {
    match decoded {
        Ok(text) => text.clone(),
        Err((_, bytes)) => String::from_utf8_lossy(bytes).into_owned(),
    }
}

fn describe(
    decoded: &Result<String, (DecodeError, Vec<u8>)>,
    key: &str,
    part: &str,
) -> Option<ApiError> {
    let reason = match decoded {
        Ok(_) => return None,
        Err((DecodeError::Percent, _)) => {
            format!("its {part} has a '%' that is not followed by two hexadecimal digits")
        }
        Err((DecodeError::Utf8, _)) => format!("its {part} is not valid UTF-8 once decoded"),
    };
    Some(ApiError::invalid(key, reason))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(query: &str) -> Result<Params, ApiError> {
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
