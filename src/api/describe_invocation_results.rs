//! DescribeInvocationResults (SPEC 9.2): the runs of the caller's invocations in a region; the
//! unit of paging is one run (an invocation on one instance), newest invocation first, then
//! the invocation's instance order.
//!
//! Validation, first failure wins: `RegionId`; then tags; then paging. Filters with unknown ids
//! or values match nothing; `IncludeHistory` is ignored.

use serde::Serialize;

use super::describe::{self, FilterValues, TagSet};
use super::next_token::TokenKey;
use super::paging::{self, Paging};
use super::parse::{self, ContentEncoding, Tag};
use crate::engine::commands::{self, Invocation, InvocationInstance, Position, SpacePage};
use crate::engine::Store;
use crate::error::ApiError;
use crate::rpc::params::Params;

/// The action, as NextTokens are bound to it.
const ACTION: &str = "DescribeInvocationResults";

/// A validated DescribeInvocationResults request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescribeInvocationResultsRequest {
    /// The caller's account.
    pub account: String,
    /// The region.
    pub region_id: String,
    /// `InvokeId`.
    pub invoke_id: Option<String>,
    /// `InstanceId`: one plain id.
    pub instance_id: Option<String>,
    /// `CommandId`.
    pub command_id: Option<String>,
    /// `InvokeRecordStatus`: the run's legacy status.
    pub invoke_record_status: Option<String>,
    /// `Tag.N.*`: every one must be on the invocation.
    pub tags: Vec<Tag>,
    /// How `Output` is answered.
    pub encoding: ContentEncoding,
    /// Page or token mode.
    pub paging: Paging,
    /// What the NextToken is bound to.
    pub filters: FilterValues,
}

/// One run listed: its invocation and itself.
type Run<'s> = (&'s Invocation, &'s InvocationInstance);

impl DescribeInvocationResultsRequest {
    /// Reads and validates the request; `tokens` opens a NextToken for the caller's scope.
    pub fn parse(
        params: &Params<'_>,
        account: &str,
        store: &Store,
        tokens: &TokenKey,
    ) -> Result<Self, ApiError> {
        let region_id = parse::region_id(params, store, ApiError::CloudAssistantRegionNotFound)?;
        let invoke_id = params.get("InvokeId");
        let instance_id = params.get("InstanceId");
        let command_id = params.get("CommandId");
        let invoke_record_status = params.get("InvokeRecordStatus");
        let tags = parse::tags(params)?;
        let encoding = ContentEncoding::parse(params, ContentEncoding::Base64);

        let mut filters = FilterValues::default();
        filters.add("InvokeId", invoke_id);
        filters.add("InstanceId", instance_id);
        filters.add("CommandId", command_id);
        filters.add("InvokeRecordStatus", invoke_record_status);
        filters.add_tags(&tags);
        let paging = filters.with_scope(ACTION, account, region_id, |scope| {
            Paging::parse(params, &paging::CLOUD_ASSISTANT, tokens, scope)
        })?;
        let owned = |value: Option<&str>| value.map(str::to_owned);
        Ok(Self {
            account: account.to_owned(),
            region_id: region_id.to_owned(),
            invoke_id: owned(invoke_id),
            instance_id: owned(instance_id),
            command_id: owned(command_id),
            invoke_record_status: owned(invoke_record_status),
            tags,
            encoding,
            paging,
            filters,
        })
    }

    fn invocation_matches(&self, invocation: &Invocation) -> bool {
        self.command_id
            .as_ref()
            .is_none_or(|id| *id == invocation.command_id)
            && describe::has_tags(&invocation.tags, &self.tags)
    }

    fn run_matches(&self, run: &InvocationInstance) -> bool {
        self.instance_id
            .as_ref()
            .is_none_or(|id| *id == run.instance_id)
            && self
                .invoke_record_status
                .as_ref()
                .is_none_or(|wanted| wanted == run.status.legacy().as_str())
    }

    /// The page of matching runs. Every run is counted for the total, so a page costs a look
    /// at each invocation (one with `InvokeId`).
    fn page<'s>(&self, store: &'s Store) -> Result<SpacePage<Run<'s>>, ApiError> {
        let (start, limit) = self.paging.window();
        let Some(space) = store.space(&self.account, &self.region_id) else {
            return commands::page_matching(std::iter::empty(), start, limit)
                .map_err(describe::bad_cursor);
        };
        let runs_of = |(key, invocation): (u64, &'s Invocation)| {
            let shown = self.invocation_matches(invocation);
            invocation
                .instances
                .iter()
                .enumerate()
                .filter(move |(_, run)| shown && self.run_matches(run))
                .map(move |(index, run)| (Position { key, index }, (invocation, run)))
        };
        let page = match &self.invoke_id {
            // One invocation at most: looked up, not scanned.
            Some(id) => {
                let found = space
                    .invocation_key(id)
                    .and_then(|key| Some((key, &**space.invocations().get(&key)?)));
                commands::page_matching(found.into_iter().flat_map(runs_of), start, limit)
            }
            None => {
                let all = space
                    .invocations()
                    .iter()
                    .map(|(key, invocation)| (*key, &**invocation));
                commands::page_matching(all.flat_map(runs_of), start, limit)
            }
        };
        page.map_err(describe::bad_cursor)
    }

    /// Answers the request from `store`.
    pub fn execute(
        &self,
        store: &Store,
        tokens: &TokenKey,
        request_id: String,
    ) -> Result<DescribeInvocationResultsResponse, ApiError> {
        let page = self.page(store)?;
        let fields = self
            .filters
            .with_scope(ACTION, &self.account, &self.region_id, |scope| {
                describe::page_fields(&self.paging, &page, tokens, scope)
            });
        Ok(DescribeInvocationResultsResponse {
            request_id,
            invocation: ResultPage {
                page_size: fields.page_size,
                page_number: fields.page_number,
                total_count: fields.total_count,
                next_token: fields.next_token,
                invocation_results: InvocationResults {
                    invocation_result: page
                        .rows
                        .iter()
                        .map(|(_, (invocation, run))| {
                            InvocationResult::of(invocation, run, self.encoding)
                        })
                        .collect(),
                },
            },
        })
    }
}

/// The answer (SPEC Appendix D), keys in the vendor sample's order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeInvocationResultsResponse {
    /// The request id.
    pub request_id: String,
    /// The page, with its paging fields.
    pub invocation: ResultPage,
}

/// `Invocation: {PageSize, PageNumber, TotalCount, NextToken, InvocationResults}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ResultPage {
    /// Page mode only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page_size: Option<u64>,
    /// Page mode only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page_number: Option<u64>,
    /// Runs matching the query.
    pub total_count: u64,
    /// Present when runs follow this page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
    /// The runs.
    pub invocation_results: InvocationResults,
}

/// `InvocationResults: {InvocationResult: [...]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct InvocationResults {
    /// Newest invocation first, then instance order.
    pub invocation_result: Vec<InvocationResult>,
}

/// One run on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct InvocationResult {
    /// Bytes of output cut from the front.
    pub dropped: u64,
    /// The run's status.
    pub invocation_status: &'static str,
    /// The instance.
    pub instance_id: String,
    /// 0 until it ends.
    pub exit_code: i64,
    /// Why it failed; empty otherwise.
    pub error_info: String,
    /// When it was delivered, or empty.
    pub start_time: String,
    /// 1 once delivered.
    pub repeats: u32,
    /// The run's legacy status.
    pub invoke_record_status: &'static str,
    /// When it ended after running, or empty (the vendor spells it so here).
    pub finished_time: String,
    /// Who it runs as.
    pub username: String,
    /// Only when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_id: Option<String>,
    /// Only when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_name: Option<String>,
    /// Its output in the answer's encoding.
    pub output: String,
    /// Only when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub launcher: Option<String>,
    /// The command run.
    pub command_id: String,
    /// Why it failed; empty otherwise.
    pub error_code: String,
    /// The invocation.
    pub invoke_id: String,
    /// Only when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub termination_mode: Option<String>,
    /// The invocation's tags.
    pub tags: TagSet,
    /// When it was cancelled, or empty.
    pub stop_time: String,
}

impl InvocationResult {
    fn of(invocation: &Invocation, run: &InvocationInstance, encoding: ContentEncoding) -> Self {
        Self {
            dropped: run.dropped,
            invocation_status: run.status.as_str(),
            instance_id: run.instance_id.clone(),
            exit_code: run.exit_code,
            error_info: run.error_info.clone(),
            start_time: describe::time_or_empty(run.start_time),
            repeats: run.repeats,
            invoke_record_status: run.status.legacy().as_str(),
            finished_time: describe::time_or_empty(run.finish_time),
            username: invocation.username.clone(),
            container_id: invocation.container_id.clone(),
            container_name: invocation.container_name.clone(),
            output: describe::encode_bytes(encoding, &run.output),
            launcher: invocation.launcher.clone(),
            command_id: invocation.command_id.clone(),
            error_code: run.error_code.clone(),
            invoke_id: invocation.id.clone(),
            termination_mode: invocation.termination_mode.clone(),
            tags: TagSet::of(&invocation.tags),
            stop_time: describe::time_or_empty(run.stop_time),
        }
    }
}
