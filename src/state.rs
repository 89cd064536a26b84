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

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex, PoisonError};
use std::time::Duration;

use arc_swap::ArcSwap;
use chrono::{DateTime, Utc};
use tokio::sync::oneshot;

pub use crate::clock::{Clock, EmulatorClock, FixedClock, SystemClock};

use crate::api::next_token::TokenKey;
use crate::command_rules::CommandRules;
use crate::engine::{Applied, Change, Refused, Store};
use crate::faults::Faults;
use crate::journal::{self, Journal};
use crate::metrics::Metrics;
use crate::persist::{Commit, Durable, Memory};
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
    /// Where accepted changes are made durable: [`Memory`] (none) or a state file.
    pub persist: Box<dyn Durable>,
    /// Where the data `reset` restores comes from.
    pub seed: SeedOrigin,
}

/// Where the data `reset` restores comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SeedOrigin {
    /// The store the state starts on is the seed.
    #[default]
    Served,
    /// The [`Durable`] keeps it (an existing state file); it is loaded when first needed.
    Kept,
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
            persist: Box::new(Memory),
            seed: SeedOrigin::Served,
        }
    }
}

/// Where request ids come from; injected so tests can predict them.
pub trait RequestIds: Send + Sync + 'static {
    /// A new request id: an uppercase UUID.
    fn next_id(&self) -> String;
}

/// Random version-4 UUIDs, as the real service sends.
///
/// The random bits come from a ChaCha generator per thread, seeded once from the operating
/// system: asking the OS for every id would cost a system call per request.
#[derive(Debug, Default)]
pub struct RandomRequestIds;

thread_local! {
    static REQUEST_ID_BITS: std::cell::RefCell<rand_chacha::ChaCha12Rng> = {
        use rand::SeedableRng;
        // Two OS-random version-4 UUIDs: 244 random bits of seed.
        let mut seed = [0u8; 32];
        seed[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        seed[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        std::cell::RefCell::new(rand_chacha::ChaCha12Rng::from_seed(seed))
    };
}

impl RequestIds for RandomRequestIds {
    fn next_id(&self) -> String {
        use rand::RngCore;
        let mut bytes = [0u8; 16];
        REQUEST_ID_BITS.with(|rng| rng.borrow_mut().fill_bytes(&mut bytes));
        let id = uuid::Builder::from_random_bytes(bytes).into_uuid();
        let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
        id.hyphenated().encode_upper(&mut text).to_owned()
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
    /// The data as readers see it, and the head writers build on; shared with the committer.
    data: Arc<Data>,
    /// Where accepted changes go to be made durable, in order.
    jobs: mpsc::Sender<Job>,
    /// The data `reset` restores: kept from the start, or loaded from the state file the first
    /// time it is needed.
    seed: tokio::sync::OnceCell<Arc<Store>>,
    tokens: TokenKey,
    request_ids: Box<dyn RequestIds>,
    clock: EmulatorClock,
    signature: SignatureMode,
    admin_token: Option<String>,
    request_timeout: Duration,
    nonces: Mutex<NonceCache>,
    journal: Mutex<Journal>,
    faults: Mutex<Faults>,
    command_rules: Mutex<CommandRules>,
    metrics: Metrics,
}

/// The data, committed and accepted.
struct Data {
    /// What readers snapshot: every change in it is durable.
    published: ArcSwap<Store>,
    /// The data after every accepted change, durable or still being committed: what the next
    /// writer checks its change against. Writers take turns through this lock.
    head: tokio::sync::Mutex<Arc<Store>>,
    /// Where a retired store is dropped.
    runtime: Option<tokio::runtime::Handle>,
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

    /// State over `store` put together as `options` say. Starts the committer thread, which
    /// ends when the last handle is dropped or [`AppState::close`] is called.
    pub fn with_options(store: Store, options: Options) -> Self {
        let tokens = TokenKey::derive(store.accounts());
        let seed = tokio::sync::OnceCell::new();
        if let SeedOrigin::Served = options.seed {
            // A clone shares the records: the seed costs no second copy.
            let _ = seed.set(Arc::new(store.clone()));
        }
        let published = Arc::new(store);
        let data = Arc::new(Data {
            published: ArcSwap::new(published.clone()),
            head: tokio::sync::Mutex::new(published),
            runtime: tokio::runtime::Handle::try_current().ok(),
        });
        let (jobs, queue) = mpsc::channel();
        let metrics = Metrics::new();
        let committer = Committer {
            metrics: options.persist.is_file().then(|| metrics.clone()),
            durable: options.persist,
            data: data.clone(),
            queue,
            backlog: VecDeque::new(),
        };
        let spawned = std::thread::Builder::new()
            .name("ecs-commit".to_owned())
            .spawn(move || committer.run());
        if let Err(error) = spawned {
            // Without the thread every write answers that the emulator is stopping.
            tracing::error!(%error, "cannot start the committer thread");
        }
        Self {
            inner: Arc::new(Inner {
                data,
                jobs,
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
                command_rules: Mutex::new(CommandRules::default()),
                metrics,
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
        f(&self.inner.data.published.load())
    }

    /// A snapshot of the store to keep, e.g. for work on a blocking thread.
    pub fn snapshot(&self) -> Arc<Store> {
        self.inner.data.published.load_full()
    }

    /// The one way to change the data. `f` sees the data after every accepted change and makes
    /// its own through [`Draft::apply`]; then, in this order, the changes are committed (to the
    /// state file, when there is one), published for readers, and the answer returned.
    ///
    /// When `f` answers `Err`, or panics, nothing is committed or published. Writers take
    /// turns for `f` only: a writer whose changes are being committed does not hold up the next
    /// one, and the changes of every writer waiting for the file are committed together (group
    /// commit). If the commit fails, the writer gets [`WriteFailed`], and so does every writer
    /// whose change was built on that one; the data stays as it was committed last.
    pub async fn write<T, E>(&self, f: impl FnOnce(&mut Draft) -> Result<T, E>) -> Result<T, E>
    where
        E: From<WriteFailed>,
    {
        let (committed, answer) = {
            let mut head = self.inner.data.head.lock().await;
            let mut draft = Draft {
                store: Store::clone(&head),
                changes: Vec::new(),
            };
            let answer = f(&mut draft)?;
            if draft.changes.is_empty() {
                return Ok(answer);
            }
            let after = Arc::new(draft.store);
            let (done, committed) = oneshot::channel();
            let job = Job::Commit(Pending {
                changes: draft.changes,
                after: after.clone(),
                done,
            });
            self.inner
                .jobs
                .send(job)
                .map_err(|_| E::from(WriteFailed::Stopped))?;
            *head = after;
            (committed, answer)
        };
        match committed.await {
            Ok(Ok(())) => Ok(answer),
            Ok(Err(failed)) => Err(E::from(failed)),
            Err(_) => Err(E::from(WriteFailed::Stopped)),
        }
    }

    /// Puts `store` in place of the whole data, as one change.
    pub async fn replace_store(&self, store: Store) -> Result<(), WriteFailed> {
        let with = Arc::new(store);
        self.write(|draft| {
            draft
                .apply(Change::ReplaceAll(with))
                .map(drop)
                .map_err(WriteFailed::from)
        })
        .await
    }

    /// The data `reset` restores (loaded from the state file the first time, when it keeps it).
    pub async fn seed(&self) -> Result<Arc<Store>, WriteFailed> {
        self.inner
            .seed
            .get_or_try_init(|| async {
                let (done, loaded) = oneshot::channel();
                self.inner
                    .jobs
                    .send(Job::LoadSeed(done))
                    .map_err(|_| WriteFailed::Stopped)?;
                match loaded.await {
                    Ok(Ok(Some(store))) => Ok(Arc::new(store)),
                    Ok(Ok(None)) => Err(WriteFailed::NoSeed),
                    Ok(Err(error)) => Err(WriteFailed::NotDurable(error)),
                    Err(_) => Err(WriteFailed::Stopped),
                }
            })
            .await
            .cloned()
    }

    /// Restores everything to how it started: the seed data (durably, as one change), no fault
    /// rules, an empty journal, real time.
    /// Answers the seed it restored.
    pub async fn reset(&self) -> Result<Arc<Store>, WriteFailed> {
        let seed = self.seed().await?;
        let restored = seed.clone();
        self.write(|draft| {
            draft
                .apply(Change::Reset(restored))
                .map(drop)
                .map_err(WriteFailed::from)
        })
        .await?;
        self.reset_session();
        Ok(seed)
    }

    /// Empties what is not durable: the fault and command rules and the journal; real time
    /// again.
    pub fn reset_session(&self) {
        self.faults(Faults::clear);
        self.command_rules(CommandRules::clear);
        self.journal(Journal::clear);
        self.inner.clock.reset();
    }

    /// Commits what is accepted, closes the state file and stops the committer: for a clean
    /// stop. Every write after it fails with [`WriteFailed::Stopped`].
    pub async fn close(&self) -> Result<(), crate::persist::PersistError> {
        let (done, closed) = oneshot::channel();
        if self.inner.jobs.send(Job::Close(done)).is_err() {
            return Ok(());
        }
        closed.await.unwrap_or(Ok(()))
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

    /// Runs `f` on the command rules.
    pub fn command_rules<R>(&self, f: impl FnOnce(&mut CommandRules) -> R) -> R {
        let mut rules = self
            .inner
            .command_rules
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        f(&mut rules)
    }

    /// Brings the data to the emulator's clock: every transition of Cloud Assistant runs and
    /// agents due by now is applied in order (SPEC 9.4), as changes like any other, durable
    /// before this returns. Costs one look at the due transitions when none is due.
    pub async fn catch_up(&self) -> Result<(), WriteFailed> {
        let now = self.now();
        if self.read(|store| store.earliest_step().is_none_or(|at| at > now)) {
            return Ok(());
        }
        self.write(|draft| {
            while let Some(step) = draft.next_step(now) {
                let rule = draft
                    .delivery(&step)
                    .and_then(|run| self.command_rules(|rules| rules.matched(&run)));
                draft.apply(Change::Step { step, rule })?;
            }
            Ok(())
        })
        .await
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

    /// The metrics (`GET /_emulator/metrics`).
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// A fresh request id.
    pub fn next_request_id(&self) -> String {
        self.inner.request_ids.next_id()
    }
}

/// Drops a store that is no longer served once no reader holds it, on a blocking thread: the
/// last reader of a replaced store must not pay for freeing it on an async worker.
fn retire(store: Arc<Store>, runtime: Option<&tokio::runtime::Handle>) {
    let Some(runtime) = runtime else {
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

/// The data as a writer's function sees and changes it: the data after every change accepted
/// so far, which only [`Draft::apply`] changes.
pub struct Draft {
    store: Store,
    changes: Vec<Change>,
}

impl std::ops::Deref for Draft {
    type Target = Store;

    fn deref(&self) -> &Store {
        &self.store
    }
}

impl Draft {
    /// Checks `change` against the data and applies it, or refuses it and changes nothing.
    pub fn apply(&mut self, change: Change) -> Result<Applied, Refused> {
        let applied = self.store.apply(&change)?;
        self.changes.push(change);
        Ok(applied)
    }
}

/// Why an accepted change was not made.
#[derive(Debug, Clone, thiserror::Error)]
pub enum WriteFailed {
    /// The state file could not take it: nothing changed.
    #[error("the change could not be made durable: {0}")]
    NotDurable(crate::persist::PersistError),
    /// The emulator is stopping and takes no more changes.
    #[error("the emulator is stopping and takes no more changes")]
    Stopped,
    /// The state file keeps no seed to restore.
    #[error("no seed is kept to restore")]
    NoSeed,
    /// The engine refused the change.
    #[error(transparent)]
    Refused(#[from] Refused),
}

/// Work for the committer thread, in the order writers accepted it.
enum Job {
    Commit(Pending),
    LoadSeed(oneshot::Sender<Result<Option<Store>, crate::persist::PersistError>>),
    Close(oneshot::Sender<Result<(), crate::persist::PersistError>>),
}

/// One writer's accepted changes, waiting to be committed.
struct Pending {
    changes: Vec<Change>,
    after: Arc<Store>,
    done: oneshot::Sender<Result<(), WriteFailed>>,
}

/// Most writers' changes in one transaction.
const MAX_BATCH: usize = 1_024;

/// The thread that owns the [`Durable`]: it commits accepted changes in batches, publishes the
/// data after each batch, then answers the writers.
struct Committer {
    durable: Box<dyn Durable>,
    /// Where durable commits are counted; `None` without a file.
    metrics: Option<Metrics>,
    data: Arc<Data>,
    queue: mpsc::Receiver<Job>,
    /// Jobs taken from the queue but not yet handled.
    backlog: VecDeque<Job>,
}

impl Committer {
    fn run(mut self) {
        loop {
            let job = match self.backlog.pop_front() {
                Some(job) => job,
                None => match self.queue.recv() {
                    Ok(job) => job,
                    // Every handle is gone: close quietly.
                    Err(_) => return self.close(None),
                },
            };
            match job {
                Job::Commit(first) => self.commit(first),
                Job::LoadSeed(done) => {
                    let _ = done.send(self.durable.load_seed());
                }
                Job::Close(done) => return self.close(Some(done)),
            }
        }
    }

    /// Commits `first` with every commit queued behind it, as one batch.
    fn commit(&mut self, first: Pending) {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match self.queue.try_recv() {
                Ok(Job::Commit(next)) => batch.push(next),
                Ok(other) => {
                    self.backlog.push_back(other);
                    break;
                }
                Err(_) => break,
            }
        }
        let commits: Vec<Commit<'_>> = batch
            .iter()
            .map(|pending| Commit {
                changes: &pending.changes,
                after: &pending.after,
            })
            .collect();
        let outcome = self.durable.commit(&commits);
        let changes: usize = commits.iter().map(|c| c.changes.len()).sum();
        drop(commits);
        match outcome {
            Ok(()) => {
                if let Some(metrics) = &self.metrics {
                    metrics.committed(changes);
                }
                let last = batch.last().expect("a batch is never empty").after.clone();
                let old = self.data.published.swap(last);
                retire(old, self.data.runtime.as_ref());
                for pending in batch {
                    let _ = pending.done.send(Ok(()));
                }
            }
            Err(error) => {
                tracing::error!(%error, "changes could not be committed; they are undone");
                // Back to the data last committed, and fail every change built on the failed
                // ones: those in the batch and those queued behind it. Holding the writers'
                // lock, no new change can be built on them meanwhile.
                let mut head = self.data.head.blocking_lock();
                *head = self.data.published.load_full();
                let failed = WriteFailed::NotDurable(error);
                for pending in batch {
                    let _ = pending.done.send(Err(failed.clone()));
                }
                while let Ok(job) = self.queue.try_recv() {
                    match job {
                        Job::Commit(pending) => {
                            let _ = pending.done.send(Err(failed.clone()));
                        }
                        other => self.backlog.push_back(other),
                    }
                }
            }
        }
    }

    /// Commits whatever is still queued, then closes the durable store.
    fn close(mut self, done: Option<oneshot::Sender<Result<(), crate::persist::PersistError>>>) {
        while let Some(job) = self
            .backlog
            .pop_front()
            .or_else(|| self.queue.try_recv().ok())
        {
            match job {
                Job::Commit(pending) => self.commit(pending),
                Job::LoadSeed(reply) => {
                    let _ = reply.send(Ok(None));
                }
                Job::Close(reply) => {
                    let _ = reply.send(Ok(()));
                }
            }
        }
        let closed = self.durable.close();
        if let Err(error) = &closed {
            tracing::error!(%error, "the state file was not closed cleanly");
        }
        if let Some(done) = done {
            let _ = done.send(closed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{PluginRecord, PluginStatus};
    use crate::persist::{PersistError, Problem};
    use std::sync::atomic::{AtomicBool, AtomicUsize};

    /// A durable store that refuses commits while `failing` is set, and counts what it took.
    struct Flaky {
        failing: Arc<AtomicBool>,
        committed: Arc<AtomicUsize>,
        batches: Arc<AtomicUsize>,
    }

    impl Durable for Flaky {
        fn commit(&mut self, batch: &[Commit<'_>]) -> Result<(), PersistError> {
            if self.failing.load(Ordering::SeqCst) {
                return Err(PersistError::new(
                    std::path::Path::new("flaky.db"),
                    Problem::Io("disk full".into()),
                ));
            }
            let changes: usize = batch.iter().map(|c| c.changes.len()).sum();
            self.committed.fetch_add(changes, Ordering::SeqCst);
            self.batches.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }

        fn load_seed(&mut self) -> Result<Option<Store>, PersistError> {
            Ok(None)
        }

        fn close(self: Box<Self>) -> Result<(), PersistError> {
            Ok(())
        }

        fn describe(&self) -> String {
            "flaky".into()
        }
    }

    fn put(instance: &str, name: &str) -> Change {
        Change::PutPlugin {
            account: crate::engine::DEFAULT_ACCOUNT_ID.into(),
            instance_id: instance.into(),
            name: name.into(),
            record: PluginRecord {
                version: "1".into(),
                status: PluginStatus::Running,
                first_heartbeat: None,
                last_heartbeat: None,
            },
        }
    }

    fn flaky_state() -> (
        AppState,
        Arc<AtomicBool>,
        Arc<AtomicUsize>,
        Arc<AtomicUsize>,
    ) {
        let mut store = Store::new(Vec::new(), Vec::new()).unwrap();
        for i in 0..40 {
            store
                .add_instance(
                    crate::engine::DEFAULT_ACCOUNT_ID,
                    "r1",
                    &format!("i-{i}"),
                    vec![],
                )
                .unwrap();
        }
        let failing = Arc::new(AtomicBool::new(false));
        let committed = Arc::new(AtomicUsize::new(0));
        let batches = Arc::new(AtomicUsize::new(0));
        let options = Options {
            persist: Box::new(Flaky {
                failing: failing.clone(),
                committed: committed.clone(),
                batches: batches.clone(),
            }),
            ..Options::default()
        };
        (
            AppState::with_options(store, options),
            failing,
            committed,
            batches,
        )
    }

    fn has_plugin(state: &AppState, instance: &str, name: &str) -> bool {
        state.read(|store| {
            store
                .instance(crate::engine::DEFAULT_ACCOUNT_ID, instance)
                .is_some_and(|(_, i)| i.plugins.get(name).is_some())
        })
    }

    /// A commit that fails is answered as a failure, publishes nothing, and undoes the change
    /// for the next writer too; once the file takes commits again, writes go on.
    #[tokio::test]
    async fn a_failed_commit_changes_nothing() {
        let (state, failing, committed, _) = flaky_state();
        failing.store(true, Ordering::SeqCst);
        let failed = state
            .write(|draft| draft.apply(put("i-1", "p")).map_err(WriteFailed::from))
            .await;
        assert!(
            matches!(failed, Err(WriteFailed::NotDurable(_))),
            "{failed:?}"
        );
        assert!(!has_plugin(&state, "i-1", "p"));
        failing.store(false, Ordering::SeqCst);
        // The next writer builds on the data as committed, not on the failed change.
        let seen = state
            .write(|draft| {
                let before = draft
                    .instance(crate::engine::DEFAULT_ACCOUNT_ID, "i-1")
                    .is_some_and(|(_, i)| i.plugins.get("p").is_some());
                draft.apply(put("i-1", "q")).map_err(WriteFailed::from)?;
                Ok::<_, WriteFailed>(before)
            })
            .await
            .unwrap();
        assert!(!seen, "the failed change was undone for later writers");
        assert!(has_plugin(&state, "i-1", "q") && !has_plugin(&state, "i-1", "p"));
        assert_eq!(committed.load(Ordering::SeqCst), 1);
    }

    /// A refused change reaches neither the file nor the data.
    #[tokio::test]
    async fn a_refused_change_is_not_committed() {
        let (state, _, committed, _) = flaky_state();
        let refused = state
            .write(|draft| {
                draft
                    .apply(put("i-missing", "p"))
                    .map_err(WriteFailed::from)
            })
            .await;
        assert!(matches!(refused, Err(WriteFailed::Refused(_))));
        assert_eq!(committed.load(Ordering::SeqCst), 0);
    }

    /// Concurrent writers share commits, and every acknowledged change is published.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_writers_share_commits() {
        let (state, _, committed, batches) = flaky_state();
        let writers: Vec<_> = (0..40)
            .map(|i| {
                let state = state.clone();
                tokio::spawn(async move {
                    for n in 0..20 {
                        let change = put(&format!("i-{i}"), &format!("p{n}"));
                        state
                            .write(|draft| draft.apply(change).map_err(WriteFailed::from))
                            .await
                            .unwrap();
                    }
                })
            })
            .collect();
        for writer in writers {
            writer.await.unwrap();
        }
        assert_eq!(committed.load(Ordering::SeqCst), 800);
        assert!(batches.load(Ordering::SeqCst) <= 800);
        assert_eq!(state.read(|s| s.counts()), (40, 800));
        state.close().await.unwrap();
        let after = state
            .write(|draft| draft.apply(put("i-1", "late")).map_err(WriteFailed::from))
            .await;
        assert!(matches!(after, Err(WriteFailed::Stopped)), "{after:?}");
    }
}
