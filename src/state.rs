//! Shared state: a cheap `Clone` handle over the store and the injected request-id source.
//!
//! The store sits behind a `std::sync::RwLock`. It is only ever taken inside [`AppState::read`],
//! a synchronous closure, so no lock can be held across an `.await`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use chrono::{DateTime, Utc};

use crate::api::next_token::TokenKey;
use crate::engine::Store;
use crate::rpc::signature::{NonceCache, SignatureMode};

/// Where the emulator's time comes from; injected so tests can fix it.
pub trait Clock: Send + Sync + 'static {
    /// The current time.
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock.
#[derive(Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that always answers the same time: for tests.
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub DateTime<Utc>);

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }
}

/// How an [`AppState`] is put together; `Default` is what the binary uses.
pub struct Options {
    /// Request id source.
    pub request_ids: Box<dyn RequestIds>,
    /// Time source (signature windows).
    pub clock: Box<dyn Clock>,
    /// Whether signatures are checked.
    pub signature: SignatureMode,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            request_ids: Box::new(RandomRequestIds),
            clock: Box::new(SystemClock),
            signature: SignatureMode::Off,
        }
    }
}

/// Where request ids come from; injected so tests can predict them.
pub trait RequestIds: Send + Sync + 'static {
    /// A new request id: an uppercase UUID.
    fn next_id(&self) -> String;
}

/// Random version-4 UUIDs, as the real service sends.
#[derive(Debug, Default)]
pub struct RandomRequestIds;

impl RequestIds for RandomRequestIds {
    fn next_id(&self) -> String {
        uuid::Uuid::new_v4().to_string().to_uppercase()
    }
}

/// `00000000-0000-4000-8000-000000000001`, `…002`, …: for tests.
#[derive(Debug, Default)]
pub struct SequentialRequestIds(AtomicU64);

impl RequestIds for SequentialRequestIds {
    fn next_id(&self) -> String {
        let n = self.0.fetch_add(1, Ordering::Relaxed) + 1;
        format!("00000000-0000-4000-8000-{n:012X}")
    }
}

/// The handle every request gets.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    store: RwLock<Store>,
    tokens: TokenKey,
    request_ids: Box<dyn RequestIds>,
    clock: Box<dyn Clock>,
    signature: SignatureMode,
    nonces: Mutex<NonceCache>,
}

impl AppState {
    /// State over `store` with random request ids.
    pub fn new(store: Store) -> Self {
        Self::with_request_ids(store, RandomRequestIds)
    }

    /// State over `store` with the given request-id source. The NextToken key is derived from
    /// the start-up accounts, so tokens stay valid across restarts with the same data.
    pub fn with_request_ids(store: Store, request_ids: impl RequestIds) -> Self {
        Self::with_options(
            store,
            Options {
                request_ids: Box::new(request_ids),
                ..Options::default()
            },
        )
    }

    /// State over `store` put together as `options` say.
    pub fn with_options(store: Store, options: Options) -> Self {
        let tokens = TokenKey::derive(store.accounts());
        Self {
            inner: Arc::new(Inner {
                store: RwLock::new(store),
                tokens,
                request_ids: options.request_ids,
                clock: options.clock,
                signature: options.signature,
                nonces: Mutex::new(NonceCache::default()),
            }),
        }
    }

    /// Whether signatures are checked.
    pub fn signature_mode(&self) -> SignatureMode {
        self.inner.signature
    }

    /// The emulator's current time.
    pub fn now(&self) -> DateTime<Utc> {
        self.inner.clock.now()
    }

    /// Records a signature nonce of `key`; false when it was used in the last 15 minutes.
    pub fn record_nonce(&self, key: &str, nonce: &str) -> bool {
        let now = self.now();
        let mut nonces = self
            .inner
            .nonces
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        nonces.check_and_record(key, nonce, now)
    }

    /// Runs `f` on the store under the read lock.
    pub fn read<R>(&self, f: impl FnOnce(&Store) -> R) -> R {
        // A panic elsewhere cannot leave the store half-written: writers replace whole values.
        let store = self
            .inner
            .store
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        f(&store)
    }

    /// The NextToken key.
    pub fn tokens(&self) -> &TokenKey {
        &self.inner.tokens
    }

    /// A fresh request id.
    pub fn next_request_id(&self) -> String {
        self.inner.request_ids.next_id()
    }
}
