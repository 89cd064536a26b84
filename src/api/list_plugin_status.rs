//! ListPluginStatus: the typed request, its validation, and the typed response.
//!
//! Validation follows SPEC section 4, first failure wins: RegionId, InstanceId.N, Name, the
//! paging parameters of the chosen mode, then existence (in the engine).

use serde::ser::{SerializeStruct, Serializer};
use serde::Serialize;

use super::describe::WireTime;
use super::next_token::{TokenKey, TokenScope};
use super::paging::{Limit, Paging, PagingErrors, PagingRules};
use super::parse::{self, InstanceIdList};
use crate::engine::{
    ListError, ListedPage, ListedRecord, PluginView, Selection, Store, MAX_NAME_CHARS,
};
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
        params: &Params<'_>,
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

    /// Lists the request's page from `store`.
    pub fn list<'s>(&'s self, store: &'s Store) -> Result<ListedPage<'s>, ApiError> {
        let (start, limit) = self.paging.window();
        store
            .list(
                &self.account,
                &self.region_id,
                self.selection(),
                start,
                limit,
            )
            .map_err(|e| match e {
                ListError::InstanceNotFound(_) => ApiError::InstanceNotFound,
                ListError::PluginNameNotFound(_) => ApiError::PluginNameNotFound,
                ListError::CursorOutsideSelection(_) => ApiError::InvalidNextToken,
            })
    }

    /// The answer showing `page`: it borrows the page's text, so nothing is copied before
    /// it is encoded.
    pub fn respond<'p>(
        &self,
        page: &'p ListedPage<'_>,
        tokens: &TokenKey,
        request_id: &'p str,
    ) -> ListPluginStatusResponse<'p> {
        let resume_after = match page.records.last() {
            Some(last) if page.more => Some(last.cursor_key(&self.selection())),
            _ => None,
        };
        let fields = self
            .paging
            .answer(page.total, resume_after, tokens, &self.scope());
        ListPluginStatusResponse {
            page_size: fields.page_size,
            request_id,
            page_number: fields.page_number,
            total_count: fields.total_count,
            next_token: fields.next_token,
            instance_plugin_status_set: InstancePluginStatusSet(&page.records),
        }
    }
}

/// The response body. Field order is the vendor sample's; absent fields are left out.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListPluginStatusResponse<'a> {
    /// Page mode only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page_size: Option<u64>,
    /// The request id.
    pub request_id: &'a str,
    /// Page mode only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page_number: Option<u64>,
    /// Records matching the query.
    pub total_count: u64,
    /// Present when records follow this page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
    /// The page, grouped by instance.
    pub instance_plugin_status_set: InstancePluginStatusSet<'a>,
}

/// `InstancePluginStatusSet: {InstancePluginStatus: [...]}`: the page's records grouped by
/// instance (consecutive records of one instance make one entry), written as they are read.
#[derive(Debug, Clone)]
pub struct InstancePluginStatusSet<'a>(pub &'a [ListedRecord<'a>]);

impl Serialize for InstancePluginStatusSet<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let entries = || {
            self.0
                .chunk_by(|a, b| a.instance_id == b.instance_id)
                .map(|records| InstancePluginStatus {
                    instance_id: records[0].instance_id,
                    plugin_status_set: PluginStatusSet(records),
                })
        };
        let mut set = serializer.serialize_struct("InstancePluginStatusSet", 1)?;
        set.serialize_field("InstancePluginStatus", &Seq(entries))?;
        set.end()
    }
}

/// One instance's records on the page.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct InstancePluginStatus<'a> {
    /// The instance.
    pub instance_id: &'a str,
    /// Its plug-ins on this page.
    pub plugin_status_set: PluginStatusSet<'a>,
}

/// `PluginStatusSet: {PluginStatus: [...]}`: one instance's records.
#[derive(Debug, Clone)]
pub struct PluginStatusSet<'a>(pub &'a [ListedRecord<'a>]);

impl Serialize for PluginStatusSet<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let items = || {
            self.0
                .iter()
                .map(|r| PluginStatusItem::from_record(r.plugin_name, r.record))
        };
        let mut set = serializer.serialize_struct("PluginStatusSet", 1)?;
        set.serialize_field("PluginStatus", &Seq(items))?;
        set.end()
    }
}

/// A sequence written from the iterator its function makes, with no collection in between.
struct Seq<F>(F);

impl<F, I> Serialize for Seq<F>
where
    F: Fn() -> I,
    I: Iterator,
    I::Item: Serialize,
{
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq((self.0)())
    }
}

/// One plug-in record on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PluginStatusItem<'a> {
    /// Empty when not installed.
    pub plugin_version: &'a str,
    /// The name.
    pub plugin_name: &'a str,
    /// `YYYY-MM-DDThh:mm:ssZ`, empty before the first heartbeat.
    pub first_heartbeat_time: WireTime,
    /// `YYYY-MM-DDThh:mm:ssZ`, empty before the first heartbeat.
    pub last_heartbeat_time: WireTime,
    /// One of the seven statuses.
    pub plugin_status: &'static str,
}

impl<'a> PluginStatusItem<'a> {
    fn from_record(name: &'a str, record: Option<PluginView<'a>>) -> Self {
        match record {
            Some(r) => Self {
                plugin_version: r.version(),
                plugin_name: name,
                first_heartbeat_time: WireTime(r.first_heartbeat()),
                last_heartbeat_time: WireTime(r.last_heartbeat()),
                plugin_status: r.status().as_str(),
            },
            None => Self {
                plugin_version: "",
                plugin_name: name,
                first_heartbeat_time: WireTime(None),
                last_heartbeat_time: WireTime(None),
                plugin_status: crate::engine::PluginStatus::NotInstalled.as_str(),
            },
        }
    }
}
