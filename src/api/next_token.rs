//! NextToken: an opaque, self-contained, tamper-evident paging cursor.
//!
//! A token is `base64url(version ‖ cursor ‖ tag)`, where the cursor is the key of the last
//! record returned (an instance id, or a plug-in name when one instance's plug-ins are listed)
//! and the tag is an HMAC-SHA256 over the version, a fingerprint of the query's scope (caller,
//! region, instance ids, Name) and the cursor. The server keeps no session: a token is valid
//! for exactly the scope it was issued for, across restarts and between replicas that start
//! with the same accounts, and resuming after its key never repeats or skips a record.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::engine::Account;

type HmacSha256 = Hmac<Sha256>;

const VERSION: u8 = 1;
/// Bytes of the HMAC kept in a token.
const TAG_LEN: usize = 16;
/// Longest token accepted for decoding; longer input is refused before any work.
const MAX_TOKEN_CHARS: usize = 2_048;

/// What a token is bound to: a token issued for one scope is refused for any other.
#[derive(Debug, Clone, Copy)]
pub struct TokenScope<'a> {
    /// The caller's account.
    pub account: &'a str,
    /// The region.
    pub region: &'a str,
    /// The instance ids, deduplicated, in request order.
    pub instance_ids: &'a [String],
    /// The plug-in name, if given.
    pub name: Option<&'a str>,
}

/// The key tokens are signed with.
#[derive(Clone)]
pub struct TokenKey([u8; 32]);

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKey(..)")
    }
}

impl TokenKey {
    /// Derives the key from the accounts and their secrets, so that emulators started with the
    /// same accounts accept each other's tokens and a client cannot mint one without a secret.
    pub fn derive(accounts: &[Account]) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(b"ecs-emulator next-token key v1");
        let mut material: Vec<(&str, &str)> = accounts
            .iter()
            .flat_map(|a| {
                a.access_keys
                    .iter()
                    .map(move |k| (a.id.as_str(), k.secret.as_str()))
            })
            .collect();
        material.sort_unstable();
        for (account, secret) in material {
            update_field(&mut hasher, account.as_bytes());
            update_field(&mut hasher, secret.as_bytes());
        }
        Self(hasher.finalize().into())
    }

    fn tag(&self, scope: &TokenScope<'_>, cursor: &[u8]) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.0).expect("HMAC takes a key of any size");
        let mut fields = Sha256::new();
        update_field(&mut fields, scope.account.as_bytes());
        update_field(&mut fields, scope.region.as_bytes());
        fields.update((scope.instance_ids.len() as u64).to_be_bytes());
        for id in scope.instance_ids {
            update_field(&mut fields, id.as_bytes());
        }
        match scope.name {
            Some(name) => {
                fields.update([1]);
                update_field(&mut fields, name.as_bytes());
            }
            None => fields.update([0]),
        }
        mac.update(&[VERSION]);
        mac.update(&fields.finalize());
        mac.update(cursor);
        mac
    }

    /// A token that resumes after `cursor` within `scope`.
    pub fn issue(&self, scope: &TokenScope<'_>, cursor: &str) -> String {
        let tag = self.tag(scope, cursor.as_bytes()).finalize().into_bytes();
        let mut raw = Vec::with_capacity(1 + cursor.len() + TAG_LEN);
        raw.push(VERSION);
        raw.extend_from_slice(cursor.as_bytes());
        raw.extend_from_slice(&tag[..TAG_LEN]);
        URL_SAFE_NO_PAD.encode(raw)
    }

    /// The cursor inside `token`, if this key issued it for exactly `scope`.
    pub fn open(&self, scope: &TokenScope<'_>, token: &str) -> Option<String> {
        if token.len() > MAX_TOKEN_CHARS {
            return None;
        }
        let raw = URL_SAFE_NO_PAD.decode(token).ok()?;
        let (&version, rest) = raw.split_first()?;
        if version != VERSION || rest.len() < TAG_LEN {
            return None;
        }
        let (cursor, tag) = rest.split_at(rest.len() - TAG_LEN);
        // Constant-time comparison of the truncated tag.
        self.tag(scope, cursor).verify_truncated_left(tag).ok()?;
        String::from_utf8(cursor.to_vec()).ok()
    }
}

/// Hashes a length-prefixed field so that field boundaries cannot be shifted.
fn update_field(hasher: &mut Sha256, bytes: &[u8]) {
    hasher.update((bytes.len() as u64).to_be_bytes());
    hasher.update(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> TokenKey {
        TokenKey::derive(&[])
    }

    #[test]
    fn round_trips_within_its_scope_only() {
        let ids = vec!["i-1".to_string(), "i-2".to_string()];
        let scope = TokenScope {
            account: "a",
            region: "cn-hangzhou",
            instance_ids: &ids,
            name: Some("p"),
        };
        let token = key().issue(&scope, "i-1");
        assert_eq!(key().open(&scope, &token).as_deref(), Some("i-1"));

        let other_name = TokenScope {
            name: Some("q"),
            ..scope
        };
        let other_region = TokenScope {
            region: "cn-beijing",
            ..scope
        };
        let other_account = TokenScope {
            account: "b",
            ..scope
        };
        let fewer = TokenScope {
            instance_ids: &ids[..1],
            ..scope
        };
        for foreign in [other_name, other_region, other_account, fewer] {
            assert_eq!(key().open(&foreign, &token), None);
        }
    }

    #[test]
    fn refuses_every_single_byte_change() {
        let scope = TokenScope {
            account: "a",
            region: "r",
            instance_ids: &[],
            name: Some("p"),
        };
        let token = key().issue(&scope, "i-0001");
        let raw = URL_SAFE_NO_PAD.decode(&token).unwrap();
        for i in 0..raw.len() {
            let mut changed = raw.clone();
            changed[i] ^= 0x01;
            assert_eq!(
                key().open(&scope, &URL_SAFE_NO_PAD.encode(changed)),
                None,
                "byte {i}"
            );
        }
        for garbage in ["", "AAAAAdDWBF2", "!!!", &"A".repeat(5_000)] {
            assert_eq!(key().open(&scope, garbage), None);
        }
    }

    #[test]
    fn keys_differ_with_secrets() {
        let account = Account {
            id: "a".into(),
            access_keys: vec![crate::engine::AccessKey {
                id: "k".into(),
                secret: "s".into(),
                enabled: true,
            }],
        };
        let scope = TokenScope {
            account: "a",
            region: "r",
            instance_ids: &[],
            name: None,
        };
        let token = TokenKey::derive(&[account]).issue(&scope, "x");
        assert_eq!(key().open(&scope, &token), None);
    }
}
