//! NextToken: an opaque, self-contained, tamper-evident paging cursor.
//!
//! A token is `base64url(version ‖ cursor ‖ tag)`, where the cursor is the key of the last
//! record returned and the tag is an HMAC-SHA256 over the version, a fingerprint of the query's
//! [`Scope`] and the cursor. The server keeps no session: a token is valid for exactly the scope
//! it was issued for, across restarts and between replicas that start with the same accounts,
//! and resuming after its key never repeats or skips a record.
//!
//! Two kinds of scope: [`TokenScope`], ListPluginStatus's (caller, region, instance ids, Name),
//! and [`FilterScope`], any other operation's (operation, caller, region, filters). Their
//! fingerprints never coincide, so a token opens for the operation that issued it only.

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

/// What a token is bound to: a token issued for one scope opens in that scope only.
pub trait Scope {
    /// A digest of every field of the scope, each length-prefixed so that field boundaries
    /// cannot be shifted.
    fn fingerprint(&self) -> [u8; 32];
}

/// ListPluginStatus's scope. Its fingerprint is the one tokens have always been issued with, so
/// tokens issued before [`FilterScope`] existed stay valid.
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

impl Scope for TokenScope<'_> {
    fn fingerprint(&self) -> [u8; 32] {
        let mut fields = Sha256::new();
        update_field(&mut fields, self.account.as_bytes());
        update_field(&mut fields, self.region.as_bytes());
        fields.update((self.instance_ids.len() as u64).to_be_bytes());
        for id in self.instance_ids {
            update_field(&mut fields, id.as_bytes());
        }
        match self.name {
            Some(name) => {
                fields.update([1]);
                update_field(&mut fields, name.as_bytes());
            }
            None => fields.update([0]),
        }
        fields.finalize().into()
    }
}

/// The scope of any other operation's listing (SPEC 9.3): a token is valid for the same
/// operation, caller, region and filters only.
#[derive(Debug, Clone, Copy)]
pub struct FilterScope<'a> {
    /// The operation's wire name.
    pub action: &'a str,
    /// The caller's account.
    pub account: &'a str,
    /// The region.
    pub region: &'a str,
    /// The filters given, as (name, value) pairs. The operation lists them in an order of its
    /// own that depends on the query only (e.g. its parameter order, tags in N order), and
    /// leaves out those not given.
    pub filters: &'a [(&'a str, &'a str)],
}

/// Starts a [`FilterScope`] fingerprint: a length no [`TokenScope`] field can have, so the two
/// kinds of scope never hash the same bytes.
const FILTER_SCOPE_MARK: [u8; 8] = u64::MAX.to_be_bytes();

impl Scope for FilterScope<'_> {
    fn fingerprint(&self) -> [u8; 32] {
        let mut fields = Sha256::new();
        fields.update(FILTER_SCOPE_MARK);
        update_field(&mut fields, self.action.as_bytes());
        update_field(&mut fields, self.account.as_bytes());
        update_field(&mut fields, self.region.as_bytes());
        fields.update((self.filters.len() as u64).to_be_bytes());
        for (name, value) in self.filters {
            update_field(&mut fields, name.as_bytes());
            update_field(&mut fields, value.as_bytes());
        }
        fields.finalize().into()
    }
}

/// The key tokens are signed with, kept as an HMAC already keyed: each token then costs only
/// the hashing of its own bytes, not the key's two padded blocks again.
#[derive(Clone)]
pub struct TokenKey(HmacSha256);

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
        let key: [u8; 32] = hasher.finalize().into();
        Self(HmacSha256::new_from_slice(&key).expect("HMAC takes a key of any size"))
    }

    fn tag(&self, scope: &impl Scope, cursor: &[u8]) -> HmacSha256 {
        let mut mac = self.0.clone();
        mac.update(&[VERSION]);
        mac.update(&scope.fingerprint());
        mac.update(cursor);
        mac
    }

    /// A token that resumes after `cursor` within `scope`.
    pub fn issue(&self, scope: &impl Scope, cursor: &str) -> String {
        let tag = self.tag(scope, cursor.as_bytes()).finalize().into_bytes();
        let mut raw = Vec::with_capacity(1 + cursor.len() + TAG_LEN);
        raw.push(VERSION);
        raw.extend_from_slice(cursor.as_bytes());
        raw.extend_from_slice(&tag[..TAG_LEN]);
        URL_SAFE_NO_PAD.encode(raw)
    }

    /// The cursor inside `token`, if this key issued it for exactly `scope`.
    pub fn open(&self, scope: &impl Scope, token: &str) -> Option<String> {
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

    /// Tokens issued before [`FilterScope`] existed, worked out by hand (a short Python script
    /// over hashlib and hmac): they must open unchanged, or every walk in progress would break.
    #[test]
    fn list_plugin_status_tokens_are_issued_as_always() {
        let ids = ["i-1".to_string(), "i-2".to_string()];
        let named = TokenScope {
            account: "1234567890123456",
            region: "cn-hangzhou",
            instance_ids: &ids,
            name: Some("ecs_tools_test"),
        };
        assert_eq!(key().issue(&named, "i-1"), "AWktMUwPGUTQ3nxUuP0d14RJwHM");
        let unnamed = TokenScope {
            instance_ids: &ids[..1],
            name: None,
            ..named
        };
        assert_eq!(
            key()
                .open(&unnamed, "AWFjcy1wbHVnaW4X8Ptn8LbfK00GGQjwO_r1")
                .as_deref(),
            Some("acs-plugin")
        );
    }

    #[test]
    fn filter_scopes_bind_operation_caller_region_and_filters() {
        let filters = [("Name", "deploy*"), ("Type", "RunShellScript")];
        let scope = FilterScope {
            action: "DescribeCommands",
            account: "1234567890123456",
            region: "cn-hangzhou",
            filters: &filters,
        };
        // Worked out by hand like the ListPluginStatus ones: the format is fixed.
        let token = key().issue(&scope, "c-1");
        assert_eq!(token, "AWMtMQbxsFa5CBaM-rWK25lofAs");
        assert_eq!(key().open(&scope, &token).as_deref(), Some("c-1"));

        let swapped = [filters[1], filters[0]];
        let fewer = &filters[..1];
        let other_value = [("Name", "deploy"), ("Type", "RunShellScript")];
        // A value moved across the name/value boundary.
        let shifted = [("Name", "deploy*Type"), ("", "RunShellScript")];
        let foreign = [
            FilterScope {
                action: "DescribeInvocations",
                ..scope
            },
            FilterScope {
                account: "1234567890123457",
                ..scope
            },
            FilterScope {
                region: "cn-beijing",
                ..scope
            },
            FilterScope {
                filters: &swapped,
                ..scope
            },
            FilterScope {
                filters: fewer,
                ..scope
            },
            FilterScope {
                filters: &other_value,
                ..scope
            },
            FilterScope {
                filters: &shifted,
                ..scope
            },
        ];
        for other in foreign {
            assert_eq!(key().open(&other, &token), None, "{other:?}");
        }
    }

    #[test]
    fn the_two_kinds_of_scope_never_share_a_token() {
        let plugin_scope = TokenScope {
            account: "a",
            region: "r",
            instance_ids: &[],
            name: None,
        };
        let filter_scope = FilterScope {
            action: "ListPluginStatus",
            account: "a",
            region: "r",
            filters: &[],
        };
        let token = key().issue(&plugin_scope, "x");
        assert_eq!(key().open(&filter_scope, &token), None);
        let token = key().issue(&filter_scope, "x");
        assert_eq!(key().open(&plugin_scope, &token), None);
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
