//! ListPluginStatus: the typed request, its validation, and the typed response.
//!
//! Validation follows SPEC section 4, first failure wins: RegionId, InstanceId.N, Name, the
//! paging parameters of the chosen mode, then existence (in the engine).

use serde::Serialize;

use super::next_token::{TokenKey, TokenScope};
use super::paging::{Limit, Paging, PagingErrors, PagingRules};
use super::parse::{self, InstanceIdList};
use crate::engine::{ListError, ListedPage, PluginView, Selection, Store, MAX_NAME_CHARS};
use crate::error::ApiError;
use crate::rpc::params::Params;

/// Most instance ids in one request, and the largest N of `InstanceId.N`.
pub const MAX_INSTANCE_IDS: u64 = 50;

/// `InstanceId.N`: optional, and over the limit 400 `InstanceIds.ExceedLimit` (section 4).
pub const INSTANCE_IDS: InstanceIdList = InstanceIdList {
    limit: MAX_INSTANCE_IDS,
    too_many: ApiError::InstanceIdsExceedLimit,
    required: false,
};

/// Paging as SPEC section 4 step 4 has it, with the reference page's messages.
pub const PAGING: PagingRules = PagingRules {
    page_size: Limit {
        default: 10,
        max: 50,
    },
    max_results: Limit {
        default: 10,
        max: 50,
    },
    errors: PagingErrors {
        page_number: ApiError::InvalidPageNumber,
        page_size: ApiError::InvalidPageSize,
        max_results: ApiError::InvalidMaxResults,
        next_token: ApiError::InvalidNextToken,
    },
};

/// A validated ListPluginStatus request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListPluginStatusRequest {
    /// The caller's account, from the access key.
    pub account: String,
    /// The region.
    pub region_id: String,
    /// Instance ids in N order, each once.
    pub instance_ids: Vec<String>,
    /// The plug-in name, if given.
    pub name: Option<String>,
    /// Page or token mode.
    pub paging: Paging,
}

impl ListPluginStatusRequest {
    /// Reads and validates the request. `store` answers which regions exist; `tokens` opens a
    /// NextToken for the caller's scope.
    pub fn parse(
        params: &Params,
        account: &str,
        store: &Store,
        tokens: &TokenKey,
    ) -> Result<Self, ApiError> {
        let region_id = parse::region_id(params, store, ApiError::RegionNotFound)?;
        let instance_ids = INSTANCE_IDS.parse(params)?;
        let name = params.get("Name");
        if let Some(name) = name {
            if name.chars().count() > MAX_NAME_CHARS {
                return Err(ApiError::invalid(
                    "Name",
                    format!("it must be 1 to {MAX_NAME_CHARS} characters long"),
                ));
            }
        } else if instance_ids.len() != 1 {
            return Err(ApiError::PluginNameMissing);
        }
        let scope = TokenScope {
            account,
            region: region_id,
            instance_ids: &instance_ids,
            name,
        };
        let paging = Paging::parse(params, &PAGING, tokens, &scope)?;
        Ok(Self {
            account: account.to_owned(),
            region_id: region_id.to_owned(),
            instance_ids,
            name: name.map(str::to_owned),
            paging,
        })
    }

    fn selection(&self) -> Selection<'_> {
        match &self.name {
            Some(name) => Selection::PluginOnInstances {
                name,
                instances: (!self.instance_ids.is_empty()).then_some(&self.instance_ids[..]),
            },
            None => Selection::PluginsOfInstance {
                instance: &self.instance_ids[0],
            },
        }
    }

    fn scope(&self) -> TokenScope<'_> {
        TokenScope {
            account: &self.account,
            region: &self.region_id,
            instance_ids: &self.instance_ids,
            name: self.name.as_deref(),
        }
    }

    /// Answers the request from `store`.
    pub fn execute(
        &self,
        store: &Store,
        tokens: &TokenKey,
        request_id: String,
    ) -> Result<ListPluginStatusResponse, ApiError> {
        let selection = self.selection();
        let (start, limit) = self.paging.window();
        let page = store
            .list(&self.account, &self.region_id, selection, start, limit)
            .map_err(|e| match e {
                ListError::InstanceNotFound(_) => ApiError::InstanceNotFound,
                ListError::PluginNameNotFound(_) => ApiError::PluginNameNotFound,
                ListError::CursorOutsideSelection(_) => ApiError::InvalidNextToken,
            })?;
        let resume_after = match page.records.last() {
            Some(last) if page.more => Some(last.cursor_key(&selection)),
            _ => None,
        };
        let fields = self
            .paging
            .answer(page.total, resume_after, tokens, &self.scope());
        Ok(ListPluginStatusResponse {
            page_size: fields.page_size,
            request_id,
            page_number: fields.page_number,
            total_count: fields.total_count,
            next_token: fields.next_token,
            instance_plugin_status_set: group_by_instance(page),
        })
    }
}

fn group_by_instance(page: ListedPage<'_>) -> InstancePluginStatusSet {
    let mut entries: Vec<InstancePluginStatus> = Vec::new();
    for listed in page.records {
        let item = PluginStatusItem::from_record(listed.plugin_name.to_owned(), listed.record);
        match entries.last_mut() {
            Some(entry) if entry.instance_id == listed.instance_id => {
                entry.plugin_status_set.plugin_status.push(item)
            }
            _ => entries.push(InstancePluginStatus {
                instance_id: listed.instance_id.to_owned(),
                plugin_status_set: PluginStatusSet {
                    plugin_status: vec![item],
                },
            }),
        }
    }
    InstancePluginStatusSet {
        instance_plugin_status: entries,
    }
}

/// The response body. Field order is the vendor sample's; absent fields are left out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListPluginStatusResponse {
    /// Page mode only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page_size: Option<u64>,
    /// The request id.
    pub request_id: String,
    /// Page mode only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page_number: Option<u64>,
    /// Records matching the query.
    pub total_count: u64,
    /// Present when records follow this page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
    /// The page, grouped by instance.
    pub instance_plugin_status_set: InstancePluginStatusSet,
}

/// `InstancePluginStatusSet: {InstancePluginStatus: [...]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct InstancePluginStatusSet {
    /// One entry per instance on the page, in record order.
    pub instance_plugin_status: Vec<InstancePluginStatus>,
}

/// One instance's records on the page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct InstancePluginStatus {
    /// The instance.
    pub instance_id: String,
    /// Its plug-ins on this page.
    pub plugin_status_set: PluginStatusSet,
}

/// `PluginStatusSet: {PluginStatus: [...]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PluginStatusSet {
    /// The plug-ins.
    pub plugin_status: Vec<PluginStatusItem>,
}

/// One plug-in record on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PluginStatusItem {
    /// Empty when not installed.
    pub plugin_version: String,
    /// The name.
    pub plugin_name: String,
    /// `YYYY-MM-DDThh:mm:ssZ`, empty before the first heartbeat.
    pub first_heartbeat_time: String,
    /// `YYYY-MM-DDThh:mm:ssZ`, empty before the first heartbeat.
    pub last_heartbeat_time: String,
    /// One of the seven statuses.
    pub plugin_status: &'static str,
}

impl PluginStatusItem {
    fn from_record(name: String, record: Option<PluginView<'_>>) -> Self {
        // `YYYY-MM-DDThh:mm:ssZ`; RFC 3339 with seconds and `Z` is that, and formats faster
        // than a strftime pattern.
        let time = |t: Option<chrono::DateTime<chrono::Utc>>| {
            t.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                .unwrap_or_default()
        };
        match record {
            Some(r) => Self {
                plugin_version: r.version().to_owned(),
                plugin_name: name,
                first_heartbeat_time: time(r.first_heartbeat()),
                last_heartbeat_time: time(r.last_heartbeat()),
                plugin_status: r.status().as_str(),
            },
            None => Self {
                plugin_version: String::new(),
                plugin_name: name,
                first_heartbeat_time: String::new(),
                last_heartbeat_time: String::new(),
                plugin_status: crate::engine::PluginStatus::NotInstalled.as_str(),
            },
        }
    }
}
