//! The Cloud Assistant agents of a partition as DescribeCloudAssistantStatus shows them
//! (SPEC 9.6): a page of the instances by id, and what each agent reports, its runs counted
//! from the invocations of the account and region.

use std::cmp::Ordering;
use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::commands::RunStatus;
use super::paging::PageStart;
use super::{version, Instance, OsType, Store};

/// A page of a partition's instances, by instance id.
#[derive(Debug, Clone)]
pub struct InstancePage<'s> {
    /// Instances matching the filter, on every page.
    pub total: u64,
    /// This page's instances with their ids, in id order.
    pub instances: Vec<(&'s str, &'s Instance)>,
    /// True when matching instances follow this page.
    pub more: bool,
}

/// What DescribeCloudAssistantStatus answers about one instance's agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentReport {
    /// The instance.
    pub instance_id: String,
    /// Its operating system.
    pub os: OsType,
    /// Installed and online: the agent takes commands (`CloudAssistantStatus`).
    pub running: bool,
    /// The agent's version; `None` when it is not installed or offline.
    pub version: Option<String>,
    /// Now (whole seconds) while the agent runs; else its last heartbeat as stored.
    pub last_heartbeat: Option<DateTime<Utc>>,
    /// Its runs now `Running`.
    pub active_tasks: u64,
    /// Its runs that ran and ended: `Success`, `Failed`, `Timeout`.
    pub invocation_count: u64,
    /// The latest `StartTime` of its runs.
    pub last_invoked: Option<DateTime<Utc>>,
    /// An installed agent at or above [`session_manager_minimum`].
    pub supports_session_manager: bool,
}

/// The oldest agent that supports Session Manager, by OS (the vendor's figures; FreeBSD is
/// taken to be as Linux).
pub fn session_manager_minimum(os: OsType) -> &'static str {
    match os {
        OsType::Linux | OsType::FreeBSD => "2.2.3.189",
        OsType::Windows => "2.1.3.189",
    }
}

impl Store {
    /// A page of the account's instances in the region, ordered by id; with `os`, only those
    /// of that OS. Without a filter a page costs O(log n + page); with one, the instances are
    /// scanned to count the matching ones.
    pub fn instance_page(
        &self,
        account: &str,
        region: &str,
        os: Option<OsType>,
        start: PageStart<'_>,
        limit: usize,
    ) -> InstancePage<'_> {
        let Some(partition) = self.partition(account, region) else {
            return InstancePage {
                total: 0,
                instances: Vec::new(),
                more: false,
            };
        };
        let all = &partition.instances;
        let fits = |(_, instance): &(&String, &Instance)| os.is_none_or(|os| instance.os == os);
        // Where the walk starts, and how many matching instances it skips from there.
        let (first, skip) = match start {
            PageStart::Offset(offset) => {
                let offset = usize::try_from(offset).unwrap_or(usize::MAX);
                match os {
                    None => (offset.min(all.len()), 0),
                    Some(_) => (0, offset),
                }
            }
            PageStart::After(None) => (0, 0),
            PageStart::After(Some(cursor)) => (all.count_through(cursor), 0),
        };
        let mut rows = all.iter_from(first).filter(fits).skip(skip);
        let instances: Vec<(&str, &Instance)> = rows
            .by_ref()
            .take(limit)
            .map(|(id, instance)| (id.as_str(), instance))
            .collect();
        let more = rows.next().is_some();
        let total = match os {
            None => all.len(),
            Some(_) => all.iter().filter(fits).count(),
        };
        InstancePage {
            total: total as u64,
            instances,
            more,
        }
    }

    /// The account's instance in the region, if it is there.
    pub fn instance_in(&self, account: &str, region: &str, instance_id: &str) -> Option<&Instance> {
        self.partition(account, region)?.instances.get(instance_id)
    }

    /// What each of `instances` (the account's, in the region) reports at `now`, in the order
    /// given. Their runs are counted in one pass over the invocations of the account and
    /// region.
    pub fn agent_reports(
        &self,
        account: &str,
        region: &str,
        instances: &[(&str, &Instance)],
        now: DateTime<Utc>,
    ) -> Vec<AgentReport> {
        let now = crate::clock::whole_seconds(now);
        let mut reports: Vec<AgentReport> = instances
            .iter()
            .map(|&(id, instance)| {
                let agent = &instance.agent;
                let running = agent.installed && agent.online;
                let minimum = session_manager_minimum(instance.os);
                AgentReport {
                    instance_id: id.to_owned(),
                    os: instance.os,
                    running,
                    version: running.then(|| agent.version.to_string()),
                    last_heartbeat: if running {
                        Some(now)
                    } else {
                        agent.last_heartbeat
                    },
                    active_tasks: 0,
                    invocation_count: 0,
                    last_invoked: None,
                    supports_session_manager: agent.installed
                        && version::compare(&agent.version, minimum) != Ordering::Less,
                }
            })
            .collect();
        let Some(space) = self.space(account, region) else {
            return reports;
        };
        let index: HashMap<&str, usize> = instances
            .iter()
            .enumerate()
            .map(|(i, &(id, _))| (id, i))
            .collect();
        for (_, invocation) in space.invocations().iter() {
            for run in &invocation.instances {
                let Some(&i) = index.get(run.instance_id.as_str()) else {
                    continue;
                };
                let report = &mut reports[i];
                match run.status {
                    RunStatus::Running => report.active_tasks += 1,
                    RunStatus::Success | RunStatus::Failed | RunStatus::Timeout => {
                        report.invocation_count += 1
                    }
                    RunStatus::Pending
                    | RunStatus::Aborted
                    | RunStatus::Invalid
                    | RunStatus::Cancelled => {}
                }
                if run.start_time > report.last_invoked {
                    report.last_invoked = run.start_time;
                }
            }
        }
        reports
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::commands::{CommandType, Invocation, InvocationInstance};
    use crate::engine::{Account, AgentState, Change};

    fn time(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    /// Account a1: r1 holds i-0..i-5 (i-1 and i-4 Windows, i-5 FreeBSD), r2 holds i-9;
    /// account a2 has its own i-0 in r1.
    fn store() -> Store {
        let accounts = ["a1", "a2"].map(|id| {
            let account = Account {
                id: id.into(),
                access_keys: vec![],
            };
            (account, id == "a1")
        });
        let mut store = Store::new(accounts.into(), vec![]).unwrap();
        for i in 0..6 {
            store
                .add_instance("a1", "r1", &format!("i-{i}"), vec![])
                .unwrap();
        }
        store.add_instance("a1", "r2", "i-9", vec![]).unwrap();
        store.add_instance("a2", "r1", "i-0", vec![]).unwrap();
        for (id, os) in [("i-1", OsType::Windows), ("i-4", OsType::Windows)] {
            store
                .set_os_and_agent("a1", id, os, AgentState::default_for(os))
                .unwrap();
        }
        let freebsd = OsType::FreeBSD;
        store
            .set_os_and_agent("a1", "i-5", freebsd, AgentState::default_for(freebsd))
            .unwrap();
        store
    }

    fn ids(page: &InstancePage<'_>) -> Vec<String> {
        page.instances
            .iter()
            .map(|(id, _)| id.to_string())
            .collect()
    }

    #[test]
    fn pages_by_id_at_offsets_and_after_cursors() {
        let store = store();
        let page = store.instance_page("a1", "r1", None, PageStart::Offset(0), 4);
        assert_eq!(ids(&page), ["i-0", "i-1", "i-2", "i-3"]);
        assert_eq!((page.total, page.more), (6, true));
        let page = store.instance_page("a1", "r1", None, PageStart::Offset(4), 4);
        assert_eq!(ids(&page), ["i-4", "i-5"]);
        assert!(!page.more);
        let page = store.instance_page("a1", "r1", None, PageStart::Offset(u64::MAX), 4);
        assert!(ids(&page).is_empty() && !page.more && page.total == 6);
        // After a cursor, even one that is gone.
        let page = store.instance_page("a1", "r1", None, PageStart::After(Some("i-25")), 2);
        assert_eq!(ids(&page), ["i-3", "i-4"]);
        assert!(page.more);
        let page = store.instance_page("a1", "r1", None, PageStart::After(Some("i-5")), 2);
        assert!(ids(&page).is_empty() && !page.more);
        // Another account's partition, and a region with nothing.
        let page = store.instance_page("a2", "r1", None, PageStart::Offset(0), 10);
        assert_eq!((ids(&page), page.total), (vec!["i-0".to_owned()], 1));
        let page = store.instance_page("a1", "r9", None, PageStart::Offset(0), 10);
        assert_eq!((page.total, page.more), (0, false));
    }

    #[test]
    fn an_os_filter_counts_and_skips_matching_instances_only() {
        let store = store();
        let windows = Some(OsType::Windows);
        let page = store.instance_page("a1", "r1", windows, PageStart::Offset(0), 1);
        assert_eq!(ids(&page), ["i-1"]);
        assert_eq!((page.total, page.more), (2, true));
        let page = store.instance_page("a1", "r1", windows, PageStart::Offset(1), 1);
        assert_eq!(ids(&page), ["i-4"]);
        assert!(!page.more);
        let page = store.instance_page("a1", "r1", windows, PageStart::After(Some("i-1")), 5);
        assert_eq!(ids(&page), ["i-4"]);
        assert!(!page.more);
        let linux = Some(OsType::Linux);
        let page = store.instance_page("a1", "r1", linux, PageStart::Offset(0), 10);
        assert_eq!(ids(&page), ["i-0", "i-2", "i-3"]);
        let freebsd = Some(OsType::FreeBSD);
        let page = store.instance_page("a1", "r1", freebsd, PageStart::After(None), 10);
        assert_eq!((ids(&page), page.total), (vec!["i-5".to_owned()], 1));
    }

    #[test]
    fn instances_are_found_in_their_own_partition_only() {
        let store = store();
        assert!(store.instance_in("a1", "r1", "i-0").is_some());
        assert!(store.instance_in("a1", "r2", "i-0").is_none());
        assert!(store.instance_in("a1", "r2", "i-9").is_some());
        assert!(store.instance_in("a2", "r1", "i-1").is_none());
    }

    fn run(instance: &str, status: RunStatus, start: Option<&str>) -> InvocationInstance {
        let created = time("2026-01-01T00:00:00Z");
        InvocationInstance {
            instance_id: instance.into(),
            status,
            content: Vec::new(),
            exit_code: 0,
            output: Vec::new(),
            dropped: 0,
            error_code: String::new(),
            error_info: String::new(),
            creation_time: created,
            start_time: start.map(time),
            finish_time: None,
            stop_time: None,
            update_time: created,
            repeats: 0,
            next_check: created,
            rule: None,
        }
    }

    fn invoke(store: &mut Store, account: &str, id: &str, runs: Vec<InvocationInstance>) {
        let invocation = Invocation {
            id: id.into(),
            command_id: "c-1".into(),
            command_name: String::new(),
            command_description: String::new(),
            command_type: CommandType::RunShellScript,
            content: Vec::new(),
            parameters: "{}".into(),
            timeout: 60,
            working_dir: String::new(),
            username: "root".into(),
            repeat_mode: "Once".into(),
            creation_time: time("2026-01-01T00:00:00Z"),
            launcher: None,
            container_id: None,
            container_name: None,
            termination_mode: None,
            oss_output_delivery: None,
            tags: vec![],
            instances: runs,
        };
        let change = Change::Invoke {
            account: account.into(),
            region: "r1".into(),
            invocation,
        };
        store.apply(&change).unwrap();
    }

    #[test]
    fn reports_count_the_runs_of_each_instance() {
        let mut store = store();
        invoke(
            &mut store,
            "a1",
            "t-1",
            vec![
                run("i-0", RunStatus::Success, Some("2026-01-01T00:00:01Z")),
                run("i-1", RunStatus::Running, Some("2026-01-01T00:00:03Z")),
                run("i-2", RunStatus::Aborted, None),
            ],
        );
        invoke(
            &mut store,
            "a1",
            "t-2",
            vec![
                run("i-0", RunStatus::Failed, Some("2026-01-02T00:00:01Z")),
                run("i-1", RunStatus::Timeout, Some("2026-01-01T00:00:02Z")),
                run("i-2", RunStatus::Pending, None),
                run("i-3", RunStatus::Invalid, None),
            ],
        );
        invoke(
            &mut store,
            "a1",
            "t-3",
            vec![
                run("i-0", RunStatus::Running, Some("2026-01-01T12:00:00Z")),
                run("i-2", RunStatus::Cancelled, None),
            ],
        );
        // Another account's runs on its own i-0 count for that one only.
        invoke(
            &mut store,
            "a2",
            "t-4",
            vec![run("i-0", RunStatus::Success, Some("2027-01-01T00:00:00Z"))],
        );
        let page = store.instance_page("a1", "r1", None, PageStart::Offset(0), 4);
        let now = time("2026-03-01T10:00:00.75Z");
        let reports = store.agent_reports("a1", "r1", &page.instances, now);
        let counts: Vec<_> = reports
            .iter()
            .map(|r| {
                let last = r.last_invoked.map(|t| t.to_rfc3339());
                (
                    r.instance_id.as_str(),
                    r.active_tasks,
                    r.invocation_count,
                    last,
                )
            })
            .collect();
        let at = |t: &str| Some(time(t).to_rfc3339());
        assert_eq!(
            counts,
            [
                ("i-0", 1, 2, at("2026-01-02T00:00:01Z")),
                ("i-1", 1, 1, at("2026-01-01T00:00:03Z")),
                ("i-2", 0, 0, None),
                ("i-3", 0, 0, None),
            ]
        );
        let others = store.instance_page("a2", "r1", None, PageStart::Offset(0), 4);
        let reports = store.agent_reports("a2", "r1", &others.instances, now);
        assert_eq!(
            (reports[0].invocation_count, reports[0].active_tasks),
            (1, 0)
        );
        // No invocations at all in the region.
        let page = store.instance_page("a1", "r2", None, PageStart::Offset(0), 4);
        let reports = store.agent_reports("a1", "r2", &page.instances, now);
        assert_eq!(reports[0].invocation_count, 0);
        assert_eq!(reports[0].last_invoked, None);
    }

    fn report_for(os: OsType, agent: AgentState) -> AgentReport {
        let mut store = store();
        store.set_os_and_agent("a1", "i-0", os, agent).unwrap();
        let instance = store.instance_in("a1", "r1", "i-0").unwrap();
        let now = time("2026-03-01T10:00:00.75Z");
        store
            .agent_reports("a1", "r1", &[("i-0", instance)], now)
            .remove(0)
    }

    #[test]
    fn a_running_agent_shows_its_version_and_a_heartbeat_now() {
        let stored = Some(time("2025-01-01T00:00:00Z"));
        let agent = AgentState {
            last_heartbeat: stored,
            ..AgentState::default_for(OsType::Linux)
        };
        let report = report_for(OsType::Linux, agent.clone());
        assert!(report.running);
        assert_eq!(report.version.as_deref(), Some("2.2.3.344"));
        assert_eq!(report.last_heartbeat, Some(time("2026-03-01T10:00:00Z")));
        assert!(report.supports_session_manager);

        let offline = report_for(
            OsType::Linux,
            AgentState {
                online: false,
                ..agent.clone()
            },
        );
        assert!(!offline.running);
        assert_eq!(offline.version, None);
        assert_eq!(offline.last_heartbeat, stored);
        assert!(offline.supports_session_manager, "installed, if offline");

        let absent = report_for(
            OsType::Linux,
            AgentState {
                installed: false,
                last_heartbeat: None,
                ..agent
            },
        );
        assert!(!absent.running);
        assert_eq!((absent.version, absent.last_heartbeat), (None, None));
        assert!(!absent.supports_session_manager);
    }

    #[test]
    fn an_agent_installed_runs_the_default_version_ten_seconds_later() {
        let mut store = store();
        let absent = AgentState {
            installed: false,
            online: false,
            version: "1.0.0.1".into(),
            ..AgentState::default_for(OsType::Windows)
        };
        store
            .set_os_and_agent("a1", "i-1", OsType::Windows, absent)
            .unwrap();
        let start = time("2026-01-01T00:00:00Z");
        let install = Change::InstallAgent {
            account: "a1".into(),
            instance_id: "i-1".into(),
            at: start,
        };
        store.apply(&install).unwrap();
        let report_at = |store: &mut Store, now: DateTime<Utc>| {
            while let Some(step) = store.next_step(now) {
                store.apply(&Change::Step { step, rule: None }).unwrap();
            }
            let instance = store.instance_in("a1", "r1", "i-1").unwrap();
            store
                .agent_reports("a1", "r1", &[("i-1", instance)], now)
                .remove(0)
        };
        let before = report_at(&mut store, start + chrono::Duration::seconds(9));
        assert!(!before.running && before.version.is_none());
        let ready = start + chrono::Duration::seconds(10);
        let after = report_at(&mut store, ready);
        assert!(after.running);
        assert_eq!(after.version.as_deref(), Some("2.1.3.344"));
        assert_eq!(after.last_heartbeat, Some(ready));
        // Installing again leaves an installed agent alone.
        let newer = AgentState {
            version: "2.1.4.0".into(),
            ..AgentState::default_for(OsType::Windows)
        };
        store
            .set_os_and_agent("a1", "i-1", OsType::Windows, newer.clone())
            .unwrap();
        store.apply(&install).unwrap();
        let (_, instance) = store.instance("a1", "i-1").unwrap();
        assert_eq!(*instance.agent, newer);
    }

    #[test]
    fn session_manager_needs_the_minimum_of_the_os() {
        let at = |os, version: &str| {
            let agent = AgentState {
                version: version.into(),
                ..AgentState::default_for(os)
            };
            report_for(os, agent).supports_session_manager
        };
        for os in [OsType::Linux, OsType::FreeBSD] {
            assert!(at(os, "2.2.3.189"));
            assert!(at(os, "2.2.3.1000"));
            assert!(at(os, "2.10.0.0"));
            assert!(!at(os, "2.2.3.188"));
            assert!(!at(os, "2.1.3.189"));
        }
        assert!(at(OsType::Windows, "2.1.3.189"));
        assert!(at(OsType::Windows, "2.2.0.1"));
        assert!(!at(OsType::Windows, "2.1.3.99"));
    }
}
