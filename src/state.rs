//! Shared state: a cheap `Clone` handle over the store, the start-up data, the clock, the
//! request journal and the fault rules.
//!
//! The store sits behind a `std::sync::RwLock`, the rest behind `std::sync::Mutex`es. Each lock
//! is only ever taken inside a synchronous closure ([`AppState::read`], [`AppState::write`],
//! [`AppState::journal`], [`AppState::faults`]), so no lock can be held across an `.await`, and
//! a page is built under one read lock, so it never mixes two states.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};

pub use crate::clock::{Clock, EmulatorClock, FixedClock, SystemClock};

use crate::api::next_token::TokenKey;
use crate::engine::Store;
use crate::faults::Faults;
use crate::journal::{self, Journal};
use crate::rpc::signature::{NonceCache, SignatureMode};

/// How an [`AppState`] is put together; `Default` is what the binary uses.
pub struct Options {
    /// Request id source.
    pub request_ids: Box<dyn RequestIds>,
    /// Time source under the emulator's clock (heartbeats, signature windows, the journal).
    pub clock: Box<dyn Clock>,
    /// Whether signatures are checked.
    pub signature: SignatureMode,
    /// The bearer token the control plane wants; `None` leaves it open.
    pub admin_token: Option<String>,
    /// How many API requests the journal keeps.
    pub journal_capacity: usize,
    /// How many bytes the journal's requests may take.
    pub journal_max_bytes: usize,
    /// How long a request may take to arrive and be handled, injected latency not counted.
    pub request_timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            request_ids: Box::new(RandomRequestIds),
            clock: Box::new(SystemClock),
            signature: SignatureMode::Off,
            admin_token: None,
            journal_capacity: journal::DEFAULT_CAPACITY,
            journal_max_bytes: journal::DEFAULT_MAX_BYTES,
            request_timeout: crate::server::DEFAULT_REQUEST_TIMEOUT,
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
    /// The data served. Shared with `seed` until the first change, so that the start-up data
    /// is held once until something changes and `reset` is a pointer swap.
    store: RwLock<Arc<Store>>,
    /// The start-up data, for `reset`.
    seed: Arc<Store>,
    tokens: TokenKey,
    request_ids: Box<dyn RequestIds>,
    clock: EmulatorClock,
    signature: SignatureMode,
    admin_token: Option<String>,
    request_timeout: Duration,
    nonces: Mutex<NonceCache>,
    journal: Mutex<Journal>,
    faults: Mutex<Faults>,
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
        let seed = Arc::new(store);
        Self {
            inner: Arc::new(Inner {
                store: RwLock::new(seed.clone()),
                seed,
                tokens,
                request_ids: options.request_ids,
                clock: EmulatorClock::new(options.clock),
                signature: options.signature,
                admin_token: options.admin_token,
                request_timeout: options.request_timeout,
                nonces: Mutex::new(NonceCache::default()),
                journal: Mutex::new(Journal::new(
                    options.journal_capacity,
                    options.journal_max_bytes,
                )),
                faults: Mutex::new(Faults::default()),
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

    /// The emulator's clock, to freeze or set.
    pub fn clock(&self) -> &EmulatorClock {
        &self.inner.clock
    }

    /// The control plane's bearer token, if one is required.
    pub fn admin_token(&self) -> Option<&str> {
        self.inner.admin_token.as_deref()
    }

    /// How long a request may take to arrive and be handled (`--request-timeout`).
    pub fn request_timeout(&self) -> Duration {
        self.inner.request_timeout
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
        // A poisoned lock still guards a whole store: writers check everything before they
        // change anything, and the engine's changes have no failure midway.
        let store = self
            .inner
            .store
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        f(&store)
    }

    /// Runs `f` on the store under the write lock. `f` must check before it changes anything,
    /// so that a refused change leaves the store as it was.
    ///
    /// The first change after start-up or `reset` copies the start-up data once (it stays
    /// for the next `reset`); later changes are made in place.
    pub fn write<R>(&self, f: impl FnOnce(&mut Store) -> R) -> R {
        let mut store = self
            .inner
            .store
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        f(Arc::make_mut(&mut store))
    }

    /// Puts `store` in place of the current one in one step.
    pub fn replace_store(&self, store: Store) {
        self.swap_store(Arc::new(store));
    }

    /// Swaps the store; the old one is dropped after the lock is released.
    fn swap_store(&self, store: Arc<Store>) {
        let old = {
            let mut current = self
                .inner
                .store
                .write()
                .unwrap_or_else(PoisonError::into_inner);
            std::mem::replace(&mut *current, store)
        };
        drop(old);
    }

    /// Restores everything to how it started: the start-up data, no fault rules, an empty
    /// journal, real time.
    pub fn reset(&self) {
        self.swap_store(self.inner.seed.clone());
        self.faults(Faults::clear);
        self.journal(Journal::clear);
        self.inner.clock.reset();
    }

    /// Runs `f` on the request journal.
    pub fn journal<R>(&self, f: impl FnOnce(&mut Journal) -> R) -> R {
        let mut journal = self
            .inner
            .journal
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        f(&mut journal)
    }

    /// Runs `f` on the fault rules.
    pub fn faults<R>(&self, f: impl FnOnce(&mut Faults) -> R) -> R {
        let mut faults = self
            .inner
            .faults
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        f(&mut faults)
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
