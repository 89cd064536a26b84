//! DescribeCloudAssistantStatus (SPEC 9.2, 9.6): whether the Cloud Assistant agent of the
//! caller's instances takes commands, with its version, heartbeat and run counts.
//!
//! Validation follows SPEC 9.1, first failure wins: RegionId, InstanceId.N, then (without ids)
//! paging, then the existence of the ids in N order. With ids every one is answered on one page
//! and the paging parameters are neither read nor checked; without, the caller's instances in
//! the region are paged by id (SPEC 9.3), filtered by `OSType` when given.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::next_token::{FilterScope, TokenKey};
use super::paging::{self, Paging};
use super::parse::{self, InstanceIdList};
use crate::engine::{AgentReport, Instance, OsType, Store};
use crate::error::ApiError;
use crate::rpc::params::Params;

/// The operation's wire name, which its NextTokens are bound to.
pub const ACTION: &str = "DescribeCloudAssistantStatus";

/// `InstanceId.N`: optional, 1 to 100.
pub const INSTANCE_IDS: InstanceIdList = InstanceIdList::cloud_assistant(100, false);

/// Which instances are answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listing {
    /// These instances, in N order, all on one page.
    Instances(Vec<String>),
    /// The caller's instances in the region by id, a page at a time.
    Paged {
        /// `OSType` as given: filters by OS (a value that names none matches nothing).
        os_type: Option<String>,
        /// Page or token mode.
        paging: Paging,
    },
}

/// A validated DescribeCloudAssistantStatus request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescribeCloudAssistantStatusRequest {
    /// The caller's account.
    pub account: String,
    /// The region.
    pub region_id: String,
    /// Which instances.
    pub listing: Listing,
}

impl DescribeCloudAssistantStatusRequest {
    /// Reads and validates the request; `store` answers which regions exist, `tokens` opens a
    /// NextToken for the caller's scope.
    pub fn parse(
        params: &Params<'_>,
        account: &str,
        store: &Store,
        tokens: &TokenKey,
    ) -> Result<Self, ApiError> {
        let region_id = parse::region_id(params, store, ApiError::CloudAssistantRegionNotFound)?;
        let instance_ids = INSTANCE_IDS.parse(params)?;
        let listing = if instance_ids.is_empty() {
            let os_type = params.get("OSType");
            let filters = scope_filters(os_type);
            let scope = scope(account, region_id, &filters);
            let paging = Paging::parse(params, &paging::CLOUD_ASSISTANT, tokens, &scope)?;
            Listing::Paged {
                os_type: os_type.map(str::to_owned),
                paging,
            }
        } else {
            Listing::Instances(instance_ids)
        };
        Ok(Self {
            account: account.to_owned(),
            region_id: region_id.to_owned(),
            listing,
        })
    }

    /// Answers the request from `store` as it stands at `now`.
    pub fn execute(
        &self,
        store: &Store,
        tokens: &TokenKey,
        now: DateTime<Utc>,
        request_id: String,
    ) -> Result<DescribeCloudAssistantStatusResponse, ApiError> {
        let (account, region) = (self.account.as_str(), self.region_id.as_str());
        let (fields, instances) = match &self.listing {
            Listing::Instances(ids) => {
                let mut instances: Vec<(&str, &Instance)> = Vec::with_capacity(ids.len());
                for id in ids {
                    let instance = store
                        .instance_in(account, region, id)
                        .ok_or(ApiError::InstanceNotFound)?;
                    instances.push((id.as_str(), instance));
                }
                let count = ids.len() as u64;
                let fields = paging::PageFields {
                    page_size: Some(count),
                    page_number: Some(1),
                    total_count: count,
                    next_token: None,
                };
                (fields, instances)
            }
            Listing::Paged { os_type, paging } => {
                let (start, limit) = paging.window();
                let page = match os_type.as_deref().map(OsType::parse) {
                    // An OS no instance has: nothing matches.
                    Some(None) => crate::engine::InstancePage {
                        total: 0,
                        instances: Vec::new(),
                        more: false,
                    },
                    os => store.instance_page(account, region, os.flatten(), start, limit),
                };
                let resume_after = match page.instances.last() {
                    Some((last, _)) if page.more => Some(*last),
                    _ => None,
                };
                let filters = scope_filters(os_type.as_deref());
                let scope = scope(account, region, &filters);
                let fields = paging.answer(page.total, resume_after, tokens, &scope);
                (fields, page.instances)
            }
        };
        let reports = store.agent_reports(account, region, &instances, now);
        Ok(DescribeCloudAssistantStatusResponse {
            page_size: fields.page_size,
            request_id,
            page_number: fields.page_number,
            total_count: fields.total_count,
            next_token: fields.next_token,
            instance_cloud_assistant_status_set: InstanceCloudAssistantStatusSet {
                instance_cloud_assistant_status: reports.into_iter().map(Into::into).collect(),
            },
        })
    }
}

/// The filters a NextToken is bound to: `OSType` when given.
fn scope_filters(os_type: Option<&str>) -> Vec<(&'static str, &str)> {
    os_type.map(|os| ("OSType", os)).into_iter().collect()
}

fn scope<'a>(
    account: &'a str,
    region: &'a str,
    filters: &'a [(&'a str, &'a str)],
) -> FilterScope<'a> {
    FilterScope {
        action: ACTION,
        account,
        region,
        filters,
    }
}

/// `YYYY-MM-DDThh:mm:ssZ`, or `""` for a time not reached.
fn wire_time(time: Option<DateTime<Utc>>) -> String {
    time.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

/// The response body; keys in the vendor sample's order, paging keys as the mode has them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeCloudAssistantStatusResponse {
    /// Page mode, or the number of ids given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page_size: Option<u64>,
    /// The request id.
    pub request_id: String,
    /// Page mode, or 1 with ids.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page_number: Option<u64>,
    /// Instances matching the query.
    pub total_count: u64,
    /// Present when instances follow this page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
    /// The page.
    pub instance_cloud_assistant_status_set: InstanceCloudAssistantStatusSet,
}

/// `InstanceCloudAssistantStatusSet: {InstanceCloudAssistantStatus: [...]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct InstanceCloudAssistantStatusSet {
    /// One entry per instance, in listing order.
    pub instance_cloud_assistant_status: Vec<InstanceCloudAssistantStatus>,
}

/// One instance's agent on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct InstanceCloudAssistantStatus {
    /// `"true"` when the agent is installed and online, else `"false"` (a string: the SDK's
    /// type).
    pub cloud_assistant_status: &'static str,
    /// The latest start of a run on the instance, or `""`.
    pub last_invoked_time: String,
    /// `""` when not installed or offline.
    pub cloud_assistant_version: String,
    /// Runs now running.
    pub active_task_count: u64,
    /// Runs that ran and ended.
    pub invocation_count: u64,
    /// The instance.
    pub instance_id: String,
    /// Now while online, else the last heartbeat stored, or `""`.
    pub last_heartbeat_time: String,
    /// `Linux`, `Windows` or `FreeBSD`.
    #[serde(rename = "OSType")]
    pub os_type: &'static str,
    /// Whether the agent supports Session Manager.
    pub support_session_manager: bool,
}

impl From<AgentReport> for InstanceCloudAssistantStatus {
    fn from(report: AgentReport) -> Self {
        Self {
            cloud_assistant_status: if report.running { "true" } else { "false" },
            last_invoked_time: wire_time(report.last_invoked),
            cloud_assistant_version: report.version.unwrap_or_default(),
            active_task_count: report.active_tasks,
            invocation_count: report.invocation_count,
            instance_id: report.instance_id,
            last_heartbeat_time: wire_time(report.last_heartbeat),
            os_type: report.os.as_str(),
            support_session_manager: report.supports_session_manager,
        }
    }
}
