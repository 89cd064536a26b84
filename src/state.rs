//! Shared state: a cheap `Clone` handle over the store, the start-up data, the clock, the
//! request journal and the fault rules.
//!
//! # Readers never wait
//!
//! The store is published through an [`ArcSwap`]: a reader takes a snapshot (an `Arc` of the
//! store as it stands, without any lock) and builds its whole answer from it, so a page never
//! mixes two states and no reader ever waits for a writer, a copy, an export or a reset.
//! Writers take turns (an async mutex only they use), change a clone of the current store and
//! publish it in one step; the clone is cheap because the store's maps share their chunks with
//! it ([`crate::engine`]), and a refused or panicking change publishes nothing.
//!
//! A store that is replaced is dropped on a blocking thread once no reader holds it any more,
//! so freeing millions of records never stalls an async worker either.
//!
//! The journal, the fault rules and the nonces sit behind `std::sync::Mutex`es taken only
//! inside synchronous closures ([`AppState::journal`], [`AppState::faults`]), so no lock is
//! held across an `.await`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use arc_swap::ArcSwap;
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
    /// The data served, as readers snapshot it. Shares its unchanged parts with `seed`, so the
    /// start-up data is held once and `reset` is a pointer swap.
    store: ArcSwap<Store>,
    /// Writers take turns through it; readers never touch it.
    writer: tokio::sync::Mutex<()>,
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
                store: ArcSwap::new(seed.clone()),
                writer: tokio::sync::Mutex::new(()),
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

    /// Runs `f` on a snapshot of the store: the store as it stands, which no change can alter
    /// while `f` runs. Takes no lock.
    pub fn read<R>(&self, f: impl FnOnce(&Store) -> R) -> R {
        f(&self.inner.store.load())
    }

    /// A snapshot of the store to keep, e.g. for work on a blocking thread.
    pub fn snapshot(&self) -> Arc<Store> {
        self.inner.store.load_full()
    }

    /// Runs `f` on a copy of the store and, when it answers `Ok`, publishes the copy in one
    /// step. A refused (`Err`) or panicking change publishes nothing, so it changes nothing.
    /// Writers take turns; readers go on reading the current store meanwhile.
    pub async fn write<T, E>(&self, f: impl FnOnce(&mut Store) -> Result<T, E>) -> Result<T, E> {
        let _turn = self.inner.writer.lock().await;
        let mut next = Store::clone(&self.inner.store.load());
        let answer = f(&mut next)?;
        self.publish(Arc::new(next));
        Ok(answer)
    }

    /// Puts `store` in place of the current one in one step.
    pub async fn replace_store(&self, store: Store) {
        let _turn = self.inner.writer.lock().await;
        self.publish(Arc::new(store));
    }

    /// Publishes `store`; the one it replaces is retired (the start-up data stays for `reset`).
    fn publish(&self, store: Arc<Store>) {
        let old = self.inner.store.swap(store);
        if !Arc::ptr_eq(&old, &self.inner.seed) {
            retire(old);
        }
    }

    /// Restores everything to how it started: the start-up data, no fault rules, an empty
    /// journal, real time.
    pub async fn reset(&self) {
        {
            let _turn = self.inner.writer.lock().await;
            self.publish(self.inner.seed.clone());
        }
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

/// Drops a store that is no longer served once no reader holds it, on a blocking thread: the
/// last reader of a replaced store must not pay for freeing it on an async worker.
fn retire(store: Arc<Store>) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return drop(store);
    };
    runtime.spawn_blocking(move || {
        let mut store = store;
        let mut pause = Duration::from_micros(100);
        // Snapshots are held for one answer (or one export), so this ends soon.
        loop {
            match Arc::try_unwrap(store) {
                Ok(unshared) => return drop(unshared),
                Err(shared) => store = shared,
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(20));
        }
    });
}
