//! Request signatures (SPEC section 3): RPC V1 HMAC-SHA1 and V3 ACS3-HMAC-SHA256.
//!
//! Parameters are decoded first and encoded again for signing (RFC 3986: only `A-Za-z0-9-_.~`
//! literal), because clients encode differently on the wire. V3 signs the headers the client
//! names in its own `SignedHeaders`. Signatures are compared in constant time. Secrets never
//! reach a log line, an error or a response.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};

use axum::http::HeaderMap;

use crate::engine::Store;
use crate::error::ApiError;

/// Whether signatures are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum SignatureMode {
    /// Accepted and not checked; the AccessKeyId only picks the account.
    #[default]
    Off,
    /// Every request must be signed with an enabled key of the data's accounts.
    Strict,
}

/// How far a request's time may be from the emulator's clock, and how long a nonce is kept.
pub const TIME_WINDOW: Duration = Duration::from_secs(15 * 60);
/// Most nonces remembered; past this the oldest are forgotten first.
pub const MAX_NONCES: usize = 200_000;
/// Most bytes the remembered nonces may take (their keys and nonces, counted as
/// [`NonceCache::bytes`] does); past this the oldest are forgotten first. Nonces come from the
/// request and can be tens of kilobytes each, so the count alone does not bound the memory.
pub const MAX_NONCE_BYTES: usize = 32 << 20;

/// The V3 algorithm name.
const V3_ALGORITHM: &str = "ACS3-HMAC-SHA256";

/// What a signature check needs of a request, already decoded.
#[derive(Debug, Clone, Copy)]
pub struct SignedRequest<'a> {
    /// `GET` or `POST`.
    pub method: &'a str,
    /// Query and form parameters, decoded (V1 signs both).
    pub params: &'a [(&'a str, &'a str)],
    /// Query parameters only, decoded (V3 signs these).
    pub query: &'a [(&'a str, &'a str)],
    /// The request headers.
    pub headers: &'a HeaderMap,
    /// The body as received (V3 signs its SHA-256).
    pub body: &'a [u8],
}

/// A verified caller: the account the key belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The account id.
    pub account: String,
}

/// RFC 3986 percent-encoding with upper-case hex: what both signature versions sign.
pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(byte as char)
            }
            _ => {
                const HEX: &[u8; 16] = b"0123456789ABCDEF";
                out.push('%');
                out.push(HEX[usize::from(byte >> 4)] as char);
                out.push(HEX[usize::from(byte & 0xf)] as char);
            }
        }
    }
    out
}

/// Sorted `k=v` pairs, both encoded, joined with `&`.
fn canonical_query(pairs: &[(&str, &str)]) -> String {
    let mut encoded: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| (percent_encode(k), percent_encode(v)))
        .collect();
    encoded.sort();
    let length = encoded.iter().map(|(k, v)| k.len() + v.len() + 2).sum();
    let mut query = String::with_capacity(length);
    for (k, v) in &encoded {
        if !query.is_empty() {
            query.push('&');
        }
        query.push_str(k);
        query.push('=');
        query.push_str(v);
    }
    query
}

/// V1 string to sign: `METHOD&%2F&` + encode(sorted, encoded parameters but `Signature`).
pub fn v1_string_to_sign(method: &str, params: &[(&str, &str)]) -> String {
    let signed: Vec<(&str, &str)> = params
        .iter()
        .copied()
        .filter(|(k, _)| *k != "Signature")
        .collect();
    format!(
        "{method}&{}&{}",
        percent_encode("/"),
        percent_encode(&canonical_query(&signed))
    )
}

/// V1 signature: base64 HMAC-SHA1 with key `secret&`.
pub fn v1_signature(secret: &str, string_to_sign: &str) -> String {
    STANDARD.encode(v1_mac(secret, string_to_sign).finalize().into_bytes())
}

fn v1_mac(secret: &str, string_to_sign: &str) -> Hmac<Sha1> {
    let mut mac = Hmac::<Sha1>::new_from_slice(format!("{secret}&").as_bytes())
        .expect("HMAC takes a key of any size");
    mac.update(string_to_sign.as_bytes());
    mac
}

/// The parts of `Authorization: ACS3-HMAC-SHA256 Credential=…,SignedHeaders=…,Signature=…`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V3Authorization<'a> {
    /// The algorithm named before the fields.
    pub algorithm: &'a str,
    /// The AccessKeyId.
    pub credential: Option<&'a str>,
    /// Lower-case header names, `;`-separated.
    pub signed_headers: Option<&'a str>,
    /// Hex signature.
    pub signature: Option<&'a str>,
}

impl<'a> V3Authorization<'a> {
    /// Reads an `ACS3-…` Authorization header; `None` for any other scheme.
    pub fn parse(header: &'a str) -> Option<Self> {
        let (algorithm, fields) = header.split_once(' ').unwrap_or((header, ""));
        if !algorithm.starts_with("ACS3-") {
            return None;
        }
        let field = |name: &str| {
            fields
                .split(',')
                .find_map(|f| f.trim().strip_prefix(name)?.strip_prefix('='))
        };
        Some(Self {
            algorithm,
            credential: field("Credential"),
            signed_headers: field("SignedHeaders"),
            signature: field("Signature"),
        })
    }
}

/// V3 canonical request over the client's own signed headers.
pub fn v3_canonical_request(
    method: &str,
    query: &[(&str, &str)],
    headers: &HeaderMap,
    signed_headers: &str,
    payload_sha256: &str,
) -> String {
    let mut names: Vec<String> = signed_headers
        .split(';')
        .map(|n| n.trim().to_ascii_lowercase())
        .filter(|n| !n.is_empty())
        .collect();
    names.sort();
    names.dedup();
    let headers: String = names
        .iter()
        .map(|n| format!("{n}:{}\n", header(headers, n).unwrap_or_default().trim()))
        .collect();
    format!(
        "{method}\n/\n{}\n{headers}\n{}\n{payload_sha256}",
        canonical_query(query),
        names.join(";")
    )
}

/// V3 string to sign: the algorithm and the hex SHA-256 of the canonical request.
pub fn v3_string_to_sign(canonical_request: &str) -> String {
    format!(
        "{V3_ALGORITHM}\n{}",
        hex::encode(Sha256::digest(canonical_request.as_bytes()))
    )
}

/// V3 signature: hex HMAC-SHA256 with the secret.
pub fn v3_signature(secret: &str, string_to_sign: &str) -> String {
    hex::encode(v3_mac(secret, string_to_sign).finalize().into_bytes())
}

fn v3_mac(secret: &str, string_to_sign: &str) -> Hmac<Sha256> {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any size");
    mac.update(string_to_sign.as_bytes());
    mac
}

/// True while a nonce recorded `at` is still remembered at `now`. Checked: a time at the end of
/// chrono's range has no end of window, so it stays remembered.
fn within_window(at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    chrono::TimeDelta::from_std(TIME_WINDOW)
        .ok()
        .and_then(|window| at.checked_add_signed(window))
        .is_none_or(|end| end > now)
}

/// Nonces seen in the last [`TIME_WINDOW`], per access key, with memory bounded in count
/// ([`MAX_NONCES`]) and in bytes ([`MAX_NONCE_BYTES`]). Past either bound the oldest are
/// forgotten first: a forgotten nonce could be used again, which only a flood of signed
/// requests from a key holder can bring about.
#[derive(Debug)]
pub struct NonceCache {
    seen: HashMap<(String, String), DateTime<Utc>>,
    /// Insertion order, for expiry and for forgetting the oldest when full.
    order: VecDeque<(DateTime<Utc>, String, String)>,
    /// What `order` and `seen` hold, as [`Self::entry_bytes`] counts it.
    bytes: usize,
    /// The byte bound.
    max_bytes: usize,
}

impl Default for NonceCache {
    fn default() -> Self {
        Self::with_max_bytes(MAX_NONCE_BYTES)
    }
}

impl NonceCache {
    /// Fixed cost counted for each remembered nonce besides its text: the strings' headers
    /// and the map and queue slots.
    const ENTRY_OVERHEAD: usize = 160;

    /// An empty cache holding at most `max_bytes` (and [`MAX_NONCES`] nonces).
    pub fn with_max_bytes(max_bytes: usize) -> Self {
        Self {
            seen: HashMap::new(),
            order: VecDeque::new(),
            bytes: 0,
            max_bytes,
        }
    }

    /// What one remembered nonce costs: key and nonce are held twice (map and queue).
    fn entry_bytes(key: &str, nonce: &str) -> usize {
        2 * (key.len() + nonce.len()) + Self::ENTRY_OVERHEAD
    }

    /// Records `nonce` for `key` at `now`; false when it was already seen in the window.
    pub fn check_and_record(&mut self, key: &str, nonce: &str, now: DateTime<Utc>) -> bool {
        let incoming = Self::entry_bytes(key, nonce);
        while let Some((at, k, n)) = self.order.front() {
            let room = self.order.len() < MAX_NONCES && self.bytes + incoming <= self.max_bytes;
            if within_window(*at, now) && room {
                break;
            }
            self.bytes -= Self::entry_bytes(k, n);
            let (at, k, n) = self.order.pop_front().expect("front exists");
            let pair = (k, n);
            if self.seen.get(&pair) == Some(&at) {
                self.seen.remove(&pair);
            }
        }
        let pair = (key.to_owned(), nonce.to_owned());
        if let Some(at) = self.seen.get(&pair) {
            if within_window(*at, now) {
                return false;
            }
        }
        if incoming > self.max_bytes {
            // Larger than the whole cache: it cannot be remembered, but it is not a replay.
            return true;
        }
        self.seen.insert(pair, now);
        self.order
            .push_back((now, key.to_owned(), nonce.to_owned()));
        self.bytes += incoming;
        true
    }

    /// Bytes the remembered nonces take, as counted against [`MAX_NONCE_BYTES`].
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Nonces remembered.
    pub fn len(&self) -> usize {
        self.seen.len()
    }

    /// True when none are remembered.
    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }
}

/// Checks a request's signature against the data's keys at time `now`; the nonce is recorded
/// by `record_nonce` only once the signature is valid, so a forged request cannot burn one.
pub fn verify(
    request: &SignedRequest<'_>,
    store: &Store,
    now: DateTime<Utc>,
    record_nonce: &mut dyn FnMut(&str, &str) -> bool,
) -> Result<Verified, ApiError> {
    let authorization = header(request.headers, "authorization").and_then(V3Authorization::parse);
    match authorization {
        Some(auth) => verify_v3(request, &auth, store, now, record_nonce),
        None => verify_v1(request, store, now, record_nonce),
    }
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn param<'a>(request: &SignedRequest<'a>, name: &str) -> Option<&'a str> {
    request
        .params
        .iter()
        .find(|(k, _)| *k == name)
        .map(|(_, v)| *v)
        .filter(|v| !v.is_empty())
}

fn verify_v1(
    request: &SignedRequest<'_>,
    store: &Store,
    now: DateTime<Utc>,
    record_nonce: &mut dyn FnMut(&str, &str) -> bool,
) -> Result<Verified, ApiError> {
    let string_to_sign = v1_string_to_sign(request.method, request.params);
    let incomplete = || ApiError::IncompleteSignature {
        string_to_sign: string_to_sign.clone(),
    };
    let signature = param(request, "Signature").ok_or_else(incomplete)?;
    let key_id = param(request, "AccessKeyId").ok_or_else(incomplete)?;
    let (account, secret) = enabled_key(store, key_id)?;
    if param(request, "SignatureMethod") != Some("HMAC-SHA1") {
        return Err(ApiError::InvalidSignatureMethod);
    }
    check_time(param(request, "Timestamp"), now)?;
    let nonce = param(request, "SignatureNonce").ok_or_else(incomplete)?;
    let given = STANDARD.decode(signature).unwrap_or_default();
    if v1_mac(secret, &string_to_sign)
        .verify_slice(&given)
        .is_err()
    {
        tracing::debug!(%string_to_sign, "V1 signature mismatch");
        return Err(ApiError::SignatureDoesNotMatch { string_to_sign });
    }
    if !record_nonce(key_id, nonce) {
        return Err(ApiError::SignatureNonceUsed);
    }
    Ok(Verified { account })
}

fn verify_v3(
    request: &SignedRequest<'_>,
    auth: &V3Authorization<'_>,
    store: &Store,
    now: DateTime<Utc>,
    record_nonce: &mut dyn FnMut(&str, &str) -> bool,
) -> Result<Verified, ApiError> {
    // Hashed only here: off mode and V1 never need it.
    let body_sha256 = hex::encode(Sha256::digest(request.body));
    // A value that is not text cannot be the hash, and must not pass as absent.
    let claimed_sha256 = request
        .headers
        .get("x-acs-content-sha256")
        .map(|v| v.to_str().unwrap_or_default());
    let canonical_request = v3_canonical_request(
        request.method,
        request.query,
        request.headers,
        auth.signed_headers.unwrap_or_default(),
        claimed_sha256.unwrap_or(&body_sha256),
    );
    let string_to_sign = v3_string_to_sign(&canonical_request);
    let incomplete = || ApiError::IncompleteSignature {
        string_to_sign: string_to_sign.clone(),
    };
    if auth.algorithm != V3_ALGORITHM {
        return Err(ApiError::InvalidSignatureMethod);
    }
    let (Some(key_id), Some(signed_headers), Some(signature)) =
        (auth.credential, auth.signed_headers, auth.signature)
    else {
        return Err(incomplete());
    };
    if let Some(name) = unsigned_header(request.headers, signed_headers) {
        tracing::debug!(
            header = name,
            "V3 request carries a header it does not sign"
        );
        return Err(incomplete());
    }
    let (account, secret) = enabled_key(store, key_id)?;
    check_time(header(request.headers, "x-acs-date"), now)?;
    let nonce = header(request.headers, "x-acs-signature-nonce")
        .filter(|n| !n.is_empty())
        .ok_or_else(incomplete)?;
    let given = hex::decode(signature).unwrap_or_default();
    if v3_mac(secret, &string_to_sign)
        .verify_slice(&given)
        .is_err()
    {
        tracing::debug!(%canonical_request, %string_to_sign, "V3 signature mismatch");
        return Err(ApiError::SignatureDoesNotMatch { string_to_sign });
    }
    // After the signature, so that only the key's holder learns the body's hash; before the
    // nonce, so that a replay with another body cannot burn it.
    if claimed_sha256.is_some_and(|claimed| claimed != body_sha256) {
        return Err(ApiError::BodyHashMismatch { body_sha256 });
    }
    if !record_nonce(key_id, nonce) {
        return Err(ApiError::SignatureNonceUsed);
    }
    Ok(Verified { account })
}

/// A header the request carries that V3 wants signed (`host` and every `x-acs-*`) but
/// `signed_headers` does not name: left unsigned, it could be changed or replayed freely.
fn unsigned_header<'h>(headers: &'h HeaderMap, signed_headers: &str) -> Option<&'h str> {
    let signed: Vec<String> = signed_headers
        .split(';')
        .map(|n| n.trim().to_ascii_lowercase())
        .collect();
    headers
        .keys()
        .map(|name| name.as_str())
        .filter(|name| *name == "host" || name.starts_with("x-acs-"))
        .find(|name| !signed.iter().any(|s| s == name))
}

fn enabled_key<'s>(store: &'s Store, key_id: &str) -> Result<(String, &'s str), ApiError> {
    let (account, key) = store
        .access_key(key_id)
        .ok_or(ApiError::AccessKeyNotFound)?;
    if !key.enabled {
        return Err(ApiError::AccessKeyInactive);
    }
    Ok((account.id.clone(), key.secret.as_str()))
}

/// `YYYY-MM-DDThh:mm:ssZ` (any RFC 3339 time is read) within [`TIME_WINDOW`] of `now`.
fn check_time(value: Option<&str>, now: DateTime<Utc>) -> Result<(), ApiError> {
    let time = value
        .and_then(|v| DateTime::parse_from_rfc3339(v).ok())
        .ok_or(ApiError::TimestampFormat)?;
    let skew = time.with_timezone(&Utc).signed_duration_since(now).abs();
    if skew.to_std().map_or(true, |s| s > TIME_WINDOW) {
        return Err(ApiError::TimestampExpired);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_published_v1_vector() {
        let sts = v1_string_to_sign("GET", &[("query", "test"), ("body", "test")]);
        assert_eq!(sts, "GET&%2F&body%3Dtest%26query%3Dtest");
        assert_eq!(v1_signature("secret", &sts), "XlUyV4sXjOuX5FnjUz9IF9tm5rU=");
    }

    #[test]
    fn encoding_is_rfc_3986() {
        assert_eq!(percent_encode("a b*~+/中"), "a%20b%2A~%2B%2F%E4%B8%AD");
    }

    #[test]
    fn nonces_are_per_key_and_expire() {
        let mut cache = NonceCache::default();
        let t0 = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert!(cache.check_and_record("k", "n", t0));
        assert!(!cache.check_and_record("k", "n", t0 + chrono::Duration::minutes(14)));
        assert!(cache.check_and_record("other", "n", t0));
        assert!(cache.check_and_record("k", "n", t0 + chrono::Duration::minutes(16)));
        // The expired entries were forgotten on the way.
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn nonces_are_bounded_in_bytes_the_oldest_forgotten_first() {
        let max_bytes = 1 << 20;
        let mut cache = NonceCache::with_max_bytes(max_bytes);
        let t0 = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let nonce = |i: usize| format!("{i:08}{}", "n".repeat(60_000));
        for i in 0..100 {
            assert!(cache.check_and_record("k", &nonce(i), t0));
            assert!(cache.bytes() <= max_bytes, "{} bytes", cache.bytes());
        }
        // About 8 of 120 KB fit: the newest are still refused, the oldest were forgotten.
        assert!((1..=9).contains(&cache.len()), "{}", cache.len());
        assert!(!cache.check_and_record("k", &nonce(99), t0));
        assert!(cache.check_and_record("k", &nonce(0), t0));
    }

    #[test]
    fn the_default_byte_bound_holds_for_nonces_of_60_kb() {
        let mut cache = NonceCache::default();
        let t0 = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let long = "n".repeat(60_000);
        for i in 0..1_000 {
            cache.check_and_record("k", &format!("{i}{long}"), t0);
        }
        assert!(cache.bytes() <= MAX_NONCE_BYTES);
        assert!(cache.len() < 1_000);
    }

    #[test]
    fn authorization_header_fields() {
        let auth = V3Authorization::parse(
            "ACS3-HMAC-SHA256 Credential=testid,SignedHeaders=host;x-acs-date,Signature=ab12",
        )
        .unwrap();
        assert_eq!(auth.credential, Some("testid"));
        assert_eq!(auth.signed_headers, Some("host;x-acs-date"));
        assert_eq!(auth.signature, Some("ab12"));
        assert!(V3Authorization::parse("Bearer x").is_none());
    }
}
