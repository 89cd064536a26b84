//! How invocations move on with the clock (SPEC section 9.4), and how an agent being installed
//! becomes ready (9.6).
//!
//! Nothing here reads a clock: [`Store::next_step`] names the earliest transition due at a
//! given time, and a [`Step`] is applied as a change like any other
//! ([`super::Change::Step`]), so that with a state file every transition is durable before an
//! answer shows it. Applying every due step in turn, in the order `next_step` gives them (time;
//! at one time an agent becoming ready first, then older invocations, then instance order),
//! brings the data to a time.

use chrono::{DateTime, Duration, Utc};

use super::commands::{key_of, Command, Invocation, InvocationInstance, RuleEffect, RunStatus};
use super::script::{self, CatalogPlugin, LocalPlugin, Machine};
use super::{DataError, PluginRecord, Refused, Store};

/// A run is delivered this long after it is made, when its agent is online.
pub const DELIVERY_DELAY_SECONDS: i64 = 1;
/// A run not delivered this long after it is made is aborted.
pub const DELIVERY_TIMEOUT_SECONDS: i64 = 60;
/// How long a run takes unless a command rule says otherwise.
pub const DEFAULT_RUN_SECONDS: u64 = 1;
/// How long InstallCloudAssistant takes.
pub const INSTALL_SECONDS: i64 = 10;
/// The output kept of a run: its last bytes, as the agent keeps them.
pub const OUTPUT_LIMIT: usize = 24_576;

/// A transition due at a time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// An agent being installed becomes installed and online.
    AgentReady {
        /// The owner.
        account: String,
        /// The instance.
        instance_id: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// A pending run is looked at: delivered (running, or invalid for its OS), aborted, or
    /// left waiting for its agent.
    Check(RunRef),
    /// A running run ends: it finishes, or its timeout kills it.
    End(RunRef),
}

/// One run: an instance of an invocation, at a time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunRef {
    /// The owner.
    pub account: String,
    /// The region of the invocation.
    pub region: String,
    /// The invocation's key in its space.
    pub key: u64,
    /// The instance's index in the invocation.
    pub index: usize,
    /// When.
    pub at: DateTime<Utc>,
}

impl Step {
    /// When it is due.
    pub fn at(&self) -> DateTime<Utc> {
        match self {
            Self::AgentReady { at, .. } => *at,
            Self::Check(run) | Self::End(run) => run.at,
        }
    }
}

/// A run about to be delivered: what a command rule is matched against.
#[derive(Debug, Clone, Copy)]
pub struct Delivery<'a> {
    /// The owner.
    pub account: &'a str,
    /// The region.
    pub region: &'a str,
    /// The instance.
    pub instance_id: &'a str,
    /// The script as it runs there.
    pub content: &'a [u8],
}

fn seconds(n: u64) -> Duration {
    Duration::seconds(
        i64::try_from(n)
            .unwrap_or(i64::MAX / 1_000)
            .min(i64::MAX / 1_000),
    )
}

/// How long a run takes, by its rule.
fn run_length(run: &InvocationInstance) -> u64 {
    run.rule
        .as_ref()
        .and_then(|rule| rule.duration_seconds)
        .unwrap_or(DEFAULT_RUN_SECONDS)
}

/// When a run's next transition is due, if it has one.
fn due(invocation: &Invocation, run: &InvocationInstance) -> Option<DateTime<Utc>> {
    match run.status {
        RunStatus::Pending => Some(run.next_check),
        RunStatus::Running => {
            // It ends after its length, or is killed when that exceeds its timeout.
            let start = run.start_time?;
            let length = run_length(run).min(invocation.timeout);
            Some(crate::clock::add_clamped(start, seconds(length)))
        }
        _ => None,
    }
}

impl Store {
    /// When the earliest step is due, if any is waiting: worked out once per store value and
    /// kept, so that a reader asking "is anything due?" before every answer pays for it once
    /// per change, not once per request. A change clears it (see `Store::apply`).
    pub fn earliest_step(&self) -> Option<DateTime<Utc>> {
        *self.earliest_step.0.get_or_init(|| {
            self.next_step(DateTime::<Utc>::MAX_UTC)
                .map(|step| step.at())
        })
    }

    /// The earliest transition due at or before `now`: by time, then an agent becoming ready
    /// before any run, then older invocations first, then instance order.
    pub fn next_step(&self, now: DateTime<Utc>) -> Option<Step> {
        let mut best: Option<(DateTime<Utc>, u8, u64, usize, Step)> = None;
        let mut consider = |candidate: (DateTime<Utc>, u8, u64, usize, Step)| {
            let better = best.as_ref().is_none_or(|b| {
                (candidate.0, candidate.1, candidate.2, candidate.3) < (b.0, b.1, b.2, b.3)
            });
            if better {
                best = Some(candidate);
            }
        };
        for (account, instance_id) in &self.installing {
            let Some((_, instance)) = self.instance(account, instance_id) else {
                continue;
            };
            if let Some(at) = instance.agent.ready_at.filter(|at| *at <= now) {
                let step = Step::AgentReady {
                    account: account.clone(),
                    instance_id: instance_id.clone(),
                    at,
                };
                consider((at, 0, 0, 0, step));
            }
        }
        for (account, region, key) in &self.active {
            let Some(invocation) = self.invocation_by_key(account, region, *key) else {
                continue;
            };
            for (index, run) in invocation.instances.iter().enumerate() {
                let Some(at) = due(invocation, run).filter(|at| *at <= now) else {
                    continue;
                };
                let reference = RunRef {
                    account: account.clone(),
                    region: region.clone(),
                    key: *key,
                    index,
                    at,
                };
                let step = match run.status {
                    RunStatus::Pending => Step::Check(reference),
                    _ => Step::End(reference),
                };
                // Older invocations first: the oldest has the highest key.
                consider((at, 1, u64::MAX - key, index, step));
            }
        }
        best.map(|(.., step)| step)
    }

    fn invocation_by_key(&self, account: &str, region: &str, key: u64) -> Option<&Invocation> {
        let space = self.spaces.get(&(account.to_owned(), region.to_owned()))?;
        space.invocations.get(&key).map(|i| &**i)
    }

    /// The run a step is about, when the step would deliver it now (the agent installed and
    /// online, the command fit for the OS): what command rules are matched against.
    pub fn delivery<'a>(&'a self, step: &'a Step) -> Option<Delivery<'a>> {
        let Step::Check(run) = step else {
            return None;
        };
        let invocation = self.invocation_by_key(&run.account, &run.region, run.key)?;
        let target = invocation.instances.get(run.index)?;
        let (_, instance) = self.instance(&run.account, &target.instance_id)?;
        let deliverable = instance.agent.installed
            && instance.agent.online
            && invocation.command_type.fits(instance.os);
        deliverable.then_some(Delivery {
            account: &run.account,
            region: &run.region,
            instance_id: &target.instance_id,
            content: &target.content,
        })
    }

    /// Applies a due step; `rule` is the command rule matched at a delivery.
    pub(super) fn apply_step(
        &mut self,
        step: &Step,
        rule: Option<&RuleEffect>,
    ) -> Result<(), Refused> {
        match step {
            Step::AgentReady {
                account,
                instance_id,
                at,
            } => {
                let agent = &mut self.instance_mut(account, instance_id)?.agent;
                agent.installed = true;
                agent.online = true;
                agent.ready_at = None;
                agent.last_heartbeat = Some(crate::clock::whole_seconds(*at));
                self.installing
                    .remove(&(account.clone(), instance_id.clone()));
                self.agent_online(account, instance_id, *at);
                Ok(())
            }
            Step::Check(run) => self.check(run, rule),
            Step::End(run) => self.end(run),
        }
    }

    /// Pending runs waiting for this agent are looked at again from `at`.
    pub(super) fn agent_online(&mut self, account: &str, instance_id: &str, at: DateTime<Utc>) {
        let keys: Vec<(String, String, u64)> = self
            .active
            .iter()
            .filter(|(a, ..)| a == account)
            .cloned()
            .collect();
        for (account, region, key) in keys {
            self.update_invocation(&account, &region, key, |invocation| {
                for run in &mut invocation.instances {
                    let waiting = run.status == RunStatus::Pending
                        && run.instance_id == instance_id
                        && run.next_check > at
                        && at >= run.creation_time + Duration::seconds(DELIVERY_DELAY_SECONDS);
                    if waiting {
                        run.next_check = at;
                    }
                }
            });
        }
    }

    /// Changes one stored invocation in place (copying it only if a reader shares it) and
    /// keeps the set of active invocations true.
    pub(super) fn update_invocation(
        &mut self,
        account: &str,
        region: &str,
        key: u64,
        change: impl FnOnce(&mut Invocation),
    ) -> bool {
        let id = (account.to_owned(), region.to_owned());
        let Some(stored) = self
            .spaces
            .get_mut(&id)
            .and_then(|space| space.invocations.get_mut(&key))
        else {
            return false;
        };
        let invocation = std::sync::Arc::make_mut(stored);
        change(invocation);
        let active = invocation.is_active();
        let entry = (id.0, id.1, key);
        if active {
            self.active.insert(entry);
        } else {
            self.active.remove(&entry);
        }
        true
    }

    fn run_of(&self, run: &RunRef) -> Result<(&Invocation, &InvocationInstance), Refused> {
        let invocation = self
            .invocation_by_key(&run.account, &run.region, run.key)
            .ok_or_else(|| Refused::NoSuchInvocation(format!("key {}", run.key)))?;
        let target = invocation
            .instances
            .get(run.index)
            .ok_or_else(|| Refused::NoSuchInvocation(invocation.id.clone()))?;
        Ok((invocation, target))
    }

    /// A pending run looked at: delivered, aborted, or left waiting (SPEC 9.4).
    fn check(&mut self, run: &RunRef, rule: Option<&RuleEffect>) -> Result<(), Refused> {
        let (invocation, target) = self.run_of(run)?;
        if target.status != RunStatus::Pending {
            return Ok(());
        }
        let at = run.at;
        let deadline = target.creation_time + Duration::seconds(DELIVERY_TIMEOUT_SECONDS);
        let agent = self
            .instance(&run.account, &target.instance_id)
            .map(|(_, instance)| (instance.agent.installed, instance.agent.online, instance.os));
        let outcome = match agent {
            Some((true, true, os)) if invocation.command_type.fits(os) => Looked::Runs,
            Some((true, true, _)) => Looked::Ends(
                RunStatus::Invalid,
                "CommandNotApplicable",
                "the command is not applicable",
            ),
            _ if at >= deadline => Looked::Ends(
                RunStatus::Aborted,
                "DeliveryTimeout",
                "the command delivery has been timeout",
            ),
            Some((true, false, _)) => Looked::WaitsUntil(deadline),
            _ => Looked::Ends(
                RunStatus::Aborted,
                "ClientNotRunning",
                "the aliyun service is not running on the instance",
            ),
        };
        let index = run.index;
        self.update_invocation(&run.account, &run.region, run.key, |invocation| {
            let r = &mut invocation.instances[index];
            match outcome {
                Looked::Runs => {
                    r.status = RunStatus::Running;
                    r.start_time = Some(at);
                    r.repeats = 1;
                    r.rule = rule.cloned();
                    r.update_time = at;
                }
                Looked::Ends(status, code, info) => fail(r, status, code, info, at),
                Looked::WaitsUntil(deadline) => r.next_check = deadline,
            }
        });
        Ok(())
    }

    /// A running run ends: finished (the script runs against the data as it stands) or killed
    /// by its timeout.
    fn end(&mut self, run: &RunRef) -> Result<(), Refused> {
        let (invocation, target) = self.run_of(run)?;
        if target.status != RunStatus::Running {
            return Ok(());
        }
        let at = run.at;
        let index = run.index;
        if run_length(target) > invocation.timeout {
            self.update_invocation(&run.account, &run.region, run.key, |invocation| {
                let r = &mut invocation.instances[index];
                r.status = RunStatus::Timeout;
                r.exit_code = 1;
                r.error_code = "ExecutionTimeout".to_owned();
                r.error_info = "the command execution has been timeout".to_owned();
                r.finish_time = Some(at);
                r.update_time = at;
            });
            return Ok(());
        }
        let rule = target.rule.clone().unwrap_or_default();
        let instance_id = target.instance_id.clone();
        let (exit_code, mut output) = match rule.exit_code {
            Some(code) => (code, Vec::new()),
            None => {
                let content = target.content.clone();
                self.run_script(&run.account, &instance_id, &content, at)?
            }
        };
        if let Some(replacement) = &rule.output {
            output = replacement.clone().into_bytes();
        }
        let dropped = output.len().saturating_sub(OUTPUT_LIMIT);
        output.drain(..dropped);
        self.update_invocation(&run.account, &run.region, run.key, |invocation| {
            let r = &mut invocation.instances[index];
            r.exit_code = exit_code;
            r.output = output;
            r.dropped = dropped as u64;
            r.finish_time = Some(at);
            r.update_time = at;
            if exit_code == 0 {
                r.status = RunStatus::Success;
            } else {
                r.status = RunStatus::Failed;
                r.error_code = "ExitCodeNonzero".to_owned();
                r.error_info = "the command execution exit code is not zero.".to_owned();
            }
        });
        Ok(())
    }

    /// Runs a script on an instance at `at` and applies what the agent reports: the exit code
    /// and output. An instance that no longer exists runs nothing.
    fn run_script(
        &mut self,
        account: &str,
        instance_id: &str,
        content: &[u8],
        at: DateTime<Utc>,
    ) -> Result<(i64, Vec<u8>), Refused> {
        let Some((_, instance)) = self.instance(account, instance_id) else {
            return Ok((0, Vec::new()));
        };
        let catalog: Vec<CatalogPlugin> = self
            .catalog_entries()
            .map(|(name, entry)| CatalogPlugin {
                name: name.to_owned(),
                plugin_type: entry.plugin_type,
                versions: entry.versions.clone(),
            })
            .collect();
        let plugins = instance
            .plugins
            .iter()
            .map(|(name, record)| {
                let local = LocalPlugin {
                    status: record.status(),
                    version: record.version().to_owned(),
                };
                (name.to_string(), local)
            })
            .collect();
        let os = instance.os;
        let agent_version = instance.agent.version.clone();
        let mut machine = Machine {
            os,
            agent_version: &agent_version,
            catalog: &catalog,
            plugins,
        };
        let outcome = script::run(content, &mut machine);
        if script::reports_allowed(os, &agent_version) {
            let heartbeat = crate::clock::whole_seconds(at);
            for report in outcome.reports {
                let (_, instance) = self.instance(account, instance_id).ok_or_else(|| {
                    DataError::UnknownInstance {
                        account: account.to_owned(),
                        instance: instance_id.to_owned(),
                    }
                })?;
                let first = instance
                    .plugins
                    .get(report.name.as_str())
                    .and_then(|record| record.first_heartbeat())
                    .unwrap_or(heartbeat);
                let record = PluginRecord {
                    version: report.version,
                    status: report.status,
                    first_heartbeat: Some(first),
                    last_heartbeat: Some(heartbeat),
                };
                self.put_plugin(account, instance_id, &report.name, record)?;
            }
        }
        Ok((i64::from(outcome.exit_code), outcome.output.into_bytes()))
    }

    /// Stores a retained command under the next sequence number.
    pub(super) fn store_command(&mut self, account: &str, region: &str, command: Command) {
        let key = key_of(self.next_seq);
        self.next_seq += 1;
        let space = self
            .spaces
            .entry((account.to_owned(), region.to_owned()))
            .or_default();
        space.command_keys.insert(command.id.clone(), key);
        space.commands.insert(key, std::sync::Arc::new(command));
    }

    /// Stores an invocation under the next sequence number.
    pub(super) fn store_invocation(&mut self, account: &str, region: &str, invocation: Invocation) {
        let key = key_of(self.next_seq);
        self.next_seq += 1;
        let active = invocation.is_active();
        let space = self
            .spaces
            .entry((account.to_owned(), region.to_owned()))
            .or_default();
        space.invocation_keys.insert(invocation.id.clone(), key);
        space
            .invocations
            .insert(key, std::sync::Arc::new(invocation));
        if active {
            self.active
                .insert((account.to_owned(), region.to_owned(), key));
        }
    }
}

/// What looking at a pending run decides.
enum Looked {
    /// It is delivered and starts running.
    Runs,
    /// It ends without running.
    Ends(RunStatus, &'static str, &'static str),
    /// It waits for its agent, at most until then.
    WaitsUntil(DateTime<Utc>),
}

/// Ends a run that never ran.
fn fail(
    run: &mut InvocationInstance,
    status: RunStatus,
    code: &str,
    info: &str,
    at: DateTime<Utc>,
) {
    run.status = status;
    run.error_code = code.to_owned();
    run.error_info = info.to_owned();
    run.update_time = at;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::commands::{CommandType, RunStatus};
    use crate::engine::{AgentState, Change, OsType, PluginStatus, PluginType, DEFAULT_ACCOUNT_ID};

    const ACCOUNT: &str = DEFAULT_ACCOUNT_ID;

    fn t(s: &str) -> DateTime<Utc> {
        format!("2026-03-01T00:{s}Z").parse().unwrap()
    }

    fn store() -> Store {
        let mut store = Store::new(Vec::new(), vec![("p".into(), PluginType::Persist)]).unwrap();
        store.settle_catalog_versions(vec![("p".into(), vec!["1.0".into(), "1.2".into()])]);
        for (id, os) in [("i-linux", OsType::Linux), ("i-win", OsType::Windows)] {
            store.add_instance(ACCOUNT, "r1", id, vec![]).unwrap();
            store
                .set_os_and_agent(ACCOUNT, id, os, AgentState::default_for(os))
                .unwrap();
        }
        store
    }

    fn invocation(id: &str, content: &str, instances: &[&str], at: DateTime<Utc>) -> Invocation {
        Invocation {
            id: id.into(),
            command_id: "c-1".into(),
            command_name: String::new(),
            command_description: String::new(),
            command_type: CommandType::RunShellScript,
            content: content.as_bytes().to_vec(),
            parameters: "{}".into(),
            timeout: 60,
            working_dir: String::new(),
            username: "root".into(),
            repeat_mode: "Once".into(),
            creation_time: at,
            launcher: None,
            container_id: None,
            container_name: None,
            termination_mode: None,
            oss_output_delivery: None,
            tags: vec![],
            instances: instances
                .iter()
                .map(|i| InvocationInstance {
                    instance_id: (*i).into(),
                    status: RunStatus::Pending,
                    content: content.as_bytes().to_vec(),
                    exit_code: 0,
                    output: vec![],
                    dropped: 0,
                    error_code: String::new(),
                    error_info: String::new(),
                    creation_time: at,
                    start_time: None,
                    finish_time: None,
                    stop_time: None,
                    update_time: at,
                    repeats: 0,
                    next_check: at + Duration::seconds(DELIVERY_DELAY_SECONDS),
                    rule: None,
                })
                .collect(),
        }
    }

    fn invoke(store: &mut Store, invocation: Invocation) {
        let change = Change::Invoke {
            account: ACCOUNT.into(),
            region: "r1".into(),
            invocation,
        };
        store.apply(&change).unwrap();
    }

    /// Applies every step due by `now`, rules given per delivery by `rule`.
    fn advance(store: &mut Store, now: DateTime<Utc>, rule: Option<RuleEffect>) {
        while let Some(step) = store.next_step(now) {
            let rule = store.delivery(&step).and(rule.clone());
            store.apply(&Change::Step { step, rule }).unwrap();
        }
    }

    fn run<'s>(store: &'s Store, id: &str, index: usize) -> &'s InvocationInstance {
        &store
            .space(ACCOUNT, "r1")
            .unwrap()
            .invocation(id)
            .unwrap()
            .instances[index]
    }

    #[test]
    fn a_run_is_delivered_after_a_second_and_finishes_a_second_later() {
        let mut store = store();
        let install = "acs-plugin-manager --exec --plugin p --params --install";
        invoke(
            &mut store,
            invocation("t-1", install, &["i-linux", "i-win"], t("00:00")),
        );
        advance(&mut store, t("00:00.9"), None);
        assert_eq!(run(&store, "t-1", 0).status, RunStatus::Pending);
        advance(&mut store, t("00:01"), None);
        let linux = run(&store, "t-1", 0);
        assert_eq!(linux.status, RunStatus::Running);
        assert_eq!(linux.start_time, Some(t("00:01")));
        assert_eq!(linux.repeats, 1);
        // A shell script does not fit Windows.
        let windows = run(&store, "t-1", 1);
        assert_eq!(windows.status, RunStatus::Invalid);
        assert_eq!(windows.error_code, "CommandNotApplicable");
        assert_eq!(windows.start_time, None);
        advance(&mut store, t("00:02"), None);
        let linux = run(&store, "t-1", 0);
        assert_eq!(linux.status, RunStatus::Success);
        assert_eq!(linux.finish_time, Some(t("00:02")));
        let (_, instance) = store.instance(ACCOUNT, "i-linux").unwrap();
        let record = instance.plugins.get("p").unwrap();
        assert_eq!(record.status(), PluginStatus::Running);
        assert_eq!(record.version(), "1.2");
        assert_eq!(record.last_heartbeat(), Some(t("00:02")));
        assert!(store.next_step(t("59:00")).is_none());
        assert!(store.active.is_empty());
    }

    #[test]
    fn the_earliest_step_is_kept_per_store_value_and_cleared_by_a_change() {
        let mut store = store();
        assert_eq!(store.earliest_step(), None);
        invoke(
            &mut store,
            invocation("t-1", "true", &["i-linux"], t("00:00")),
        );
        let due = store.earliest_step().expect("a pending run");
        assert_eq!(Some(due), store.next_step(due).map(|step| step.at()));
        assert_eq!(
            store.next_step(due - chrono::TimeDelta::milliseconds(1)),
            None
        );
        // A clone starts afresh; a change on it clears what it worked out.
        let mut copy = store.clone();
        advance(&mut copy, t("00:05"), None);
        assert_eq!(copy.earliest_step(), None, "the run ended");
        assert_eq!(
            store.earliest_step(),
            Some(due),
            "the original keeps its own"
        );
    }

    #[test]
    fn agents_missing_or_offline_abort_the_run() {
        let mut store = store();
        let agent = AgentState {
            installed: false,
            ..AgentState::default()
        };
        store
            .set_os_and_agent(ACCOUNT, "i-linux", OsType::Linux, agent)
            .unwrap();
        invoke(
            &mut store,
            invocation("t-1", "true", &["i-linux"], t("00:00")),
        );
        advance(&mut store, t("00:01"), None);
        assert_eq!(run(&store, "t-1", 0).status, RunStatus::Aborted);
        assert_eq!(run(&store, "t-1", 0).error_code, "ClientNotRunning");

        let offline = AgentState {
            online: false,
            ..AgentState::default()
        };
        store
            .set_os_and_agent(ACCOUNT, "i-linux", OsType::Linux, offline.clone())
            .unwrap();
        invoke(
            &mut store,
            invocation("t-2", "true", &["i-linux"], t("00:00")),
        );
        advance(&mut store, t("00:59"), None);
        assert_eq!(run(&store, "t-2", 0).status, RunStatus::Pending);
        advance(&mut store, t("01:00"), None);
        assert_eq!(run(&store, "t-2", 0).status, RunStatus::Aborted);
        assert_eq!(run(&store, "t-2", 0).error_code, "DeliveryTimeout");

        // Coming online at T delivers a waiting run from T.
        invoke(
            &mut store,
            invocation("t-3", "true", &["i-linux"], t("02:00")),
        );
        advance(&mut store, t("02:30"), None);
        let online = Change::SetAgent {
            account: ACCOUNT.into(),
            instance_id: "i-linux".into(),
            agent: AgentState::default(),
            at: t("02:30"),
        };
        store.apply(&online).unwrap();
        advance(&mut store, t("02:30"), None);
        assert_eq!(run(&store, "t-3", 0).status, RunStatus::Running);
        assert_eq!(run(&store, "t-3", 0).start_time, Some(t("02:30")));
    }

    #[test]
    fn an_installed_agent_is_ready_ten_seconds_later() {
        let mut store = store();
        let agent = AgentState {
            installed: false,
            ..AgentState::default()
        };
        store
            .set_os_and_agent(ACCOUNT, "i-linux", OsType::Linux, agent)
            .unwrap();
        let install = Change::InstallAgent {
            account: ACCOUNT.into(),
            instance_id: "i-linux".into(),
            at: t("00:00"),
        };
        store.apply(&install).unwrap();
        invoke(
            &mut store,
            invocation("t-1", "true", &["i-linux"], t("00:00")),
        );
        invoke(
            &mut store,
            invocation("t-2", "true", &["i-linux"], t("00:09")),
        );
        advance(&mut store, t("00:20"), None);
        // Delivered before the agent was there: aborted; at its ready time: run.
        assert_eq!(run(&store, "t-1", 0).status, RunStatus::Aborted);
        assert_eq!(run(&store, "t-2", 0).status, RunStatus::Success);
        assert_eq!(run(&store, "t-2", 0).start_time, Some(t("00:10")));
        let (_, instance) = store.instance(ACCOUNT, "i-linux").unwrap();
        assert!(instance.agent.installed && instance.agent.online);
    }

    #[test]
    fn rules_set_the_exit_code_output_and_length_and_timeouts_kill() {
        let mut store = store();
        invoke(
            &mut store,
            invocation("t-1", "anything", &["i-linux"], t("00:00")),
        );
        let rule = RuleEffect {
            exit_code: Some(3),
            output: Some("boom".into()),
            duration_seconds: Some(5),
        };
        advance(&mut store, t("00:05"), Some(rule));
        assert_eq!(run(&store, "t-1", 0).status, RunStatus::Running);
        advance(&mut store, t("00:06"), None);
        let done = run(&store, "t-1", 0);
        assert_eq!(
            (done.status, done.exit_code, &done.output[..]),
            (RunStatus::Failed, 3, &b"boom"[..])
        );
        assert_eq!(done.error_code, "ExitCodeNonzero");

        let mut long = invocation("t-2", "anything", &["i-linux"], t("00:00"));
        long.timeout = 10;
        invoke(&mut store, long);
        let slow = RuleEffect {
            duration_seconds: Some(30),
            ..RuleEffect::default()
        };
        advance(&mut store, t("00:12"), Some(slow));
        let killed = run(&store, "t-2", 0);
        assert_eq!(killed.status, RunStatus::Timeout);
        assert_eq!(killed.exit_code, 1);
        assert_eq!(killed.finish_time, Some(t("00:11")));
    }

    #[test]
    fn stop_cancels_pending_runs_only() {
        let mut store = store();
        let mut slow = invocation("t-1", "true", &["i-linux"], t("00:00"));
        slow.instances[0].next_check = t("00:01");
        invoke(&mut store, slow);
        invoke(
            &mut store,
            invocation("t-2", "true", &["i-linux"], t("00:00")),
        );
        advance(&mut store, t("00:01"), None);
        invoke(
            &mut store,
            invocation("t-3", "true", &["i-linux"], t("00:01")),
        );
        for id in ["t-1", "t-3"] {
            let stop = Change::StopInvocation {
                account: ACCOUNT.into(),
                region: "r1".into(),
                invoke_id: id.into(),
                instances: vec![],
                at: t("00:01.5"),
            };
            store.apply(&stop).unwrap();
        }
        assert_eq!(run(&store, "t-1", 0).status, RunStatus::Running);
        assert_eq!(run(&store, "t-3", 0).status, RunStatus::Cancelled);
        assert_eq!(run(&store, "t-3", 0).stop_time, Some(t("00:01.5")));
        let refused = store.apply(&Change::StopInvocation {
            account: ACCOUNT.into(),
            region: "r1".into(),
            invoke_id: "t-3".into(),
            instances: vec!["i-win".into()],
            at: t("00:02"),
        });
        assert!(matches!(refused, Err(Refused::NotInInvocation { .. })));
    }
}
