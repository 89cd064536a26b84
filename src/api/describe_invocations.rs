//! DescribeInvocations (SPEC 9.2): the caller's invocations in a region, newest first; the unit
//! of paging is one invocation.
//!
//! Validation, first failure wins: `RegionId`; then the shapes in the SPEC's order (`Timed`,
//! tags, `IncludeOutput`); then paging. Filters with unknown ids or values match nothing.
//! With `InstanceId`, an invocation shows that instance only and its statuses are that run's.

use std::sync::Arc;

use serde::Serialize;

use super::describe::{self, FilterValues, TagSet};
use super::next_token::TokenKey;
use super::paging::{self, Paging};
use super::parse::{self, ContentEncoding, Tag};
use crate::engine::commands::{
    self, Invocation, InvocationInstance, InvocationStatus, InvokeStatus, Position, SpacePage,
};
use crate::engine::Store;
use crate::error::ApiError;
use crate::rpc::params::Params;

/// The action, as NextTokens are bound to it.
const ACTION: &str = "DescribeInvocations";

/// A validated DescribeInvocations request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescribeInvocationsRequest {
    /// The caller's account.
    pub account: String,
    /// The region.
    pub region_id: String,
    /// `InvokeId`.
    pub invoke_id: Option<String>,
    /// `CommandId`.
    pub command_id: Option<String>,
    /// `CommandName`, exact; `None` beside `InstanceId`, which makes it ignored.
    pub command_name: Option<String>,
    /// `RepeatMode`, exact; `None` beside `InstanceId`, which makes it ignored.
    pub repeat_mode: Option<String>,
    /// `CommandType`, exact.
    pub command_type: Option<String>,
    /// `InstanceId`: one plain id.
    pub instance_id: Option<String>,
    /// `InvokeStatus`: the aggregate or the legacy status.
    pub invoke_status: Option<String>,
    /// `Timed=true`: no invocation is periodic, so none matches.
    pub timed_only: bool,
    /// `Tag.N.*`: every one must be on the invocation.
    pub tags: Vec<Tag>,
    /// `IncludeOutput`, where it is honoured (beside `InvokeId` or `InstanceId`).
    pub include_output: bool,
    /// How `CommandContent` and `Output` are answered.
    pub encoding: ContentEncoding,
    /// Page or token mode.
    pub paging: Paging,
    /// What the NextToken is bound to.
    pub filters: FilterValues,
}

impl DescribeInvocationsRequest {
    /// Reads and validates the request; `tokens` opens a NextToken for the caller's scope.
    pub fn parse(
        params: &Params<'_>,
        account: &str,
        store: &Store,
        tokens: &TokenKey,
    ) -> Result<Self, ApiError> {
        let region_id = parse::region_id(params, store, ApiError::CloudAssistantRegionNotFound)?;
        let invoke_id = params.get("InvokeId");
        let command_id = params.get("CommandId");
        let instance_id = params.get("InstanceId");
        // Ignored beside InstanceId: not filters then, so not bound to the token either.
        let command_name = params.get("CommandName").filter(|_| instance_id.is_none());
        let repeat_mode = params.get("RepeatMode").filter(|_| instance_id.is_none());
        let command_type = params.get("CommandType");
        let invoke_status = params.get("InvokeStatus");
        let timed = parse::boolean(params, "Timed")?;
        let tags = parse::tags(params)?;
        let include_output = parse::boolean(params, "IncludeOutput")?.unwrap_or(false);
        let encoding = ContentEncoding::parse(params, ContentEncoding::Base64);

        let mut filters = FilterValues::default();
        filters.add("InvokeId", invoke_id);
        filters.add("CommandId", command_id);
        filters.add("CommandName", command_name);
        filters.add("RepeatMode", repeat_mode);
        filters.add("CommandType", command_type);
        filters.add("InstanceId", instance_id);
        filters.add("InvokeStatus", invoke_status);
        filters.add("Timed", timed.map(|t| if t { "true" } else { "false" }));
        filters.add_tags(&tags);
        let paging = filters.with_scope(ACTION, account, region_id, |scope| {
            Paging::parse(params, &paging::CLOUD_ASSISTANT, tokens, scope)
        })?;
        let owned = |value: Option<&str>| value.map(str::to_owned);
        Ok(Self {
            account: account.to_owned(),
            region_id: region_id.to_owned(),
            invoke_id: owned(invoke_id),
            command_id: owned(command_id),
            command_name: owned(command_name),
            repeat_mode: owned(repeat_mode),
            command_type: owned(command_type),
            instance_id: owned(instance_id),
            invoke_status: owned(invoke_status),
            timed_only: timed == Some(true),
            tags,
            include_output: include_output && (invoke_id.is_some() || instance_id.is_some()),
            encoding,
            paging,
            filters,
        })
    }

    /// The runs of `invocation` this query shows: all, or the one of `InstanceId`; `None` when
    /// the invocation does not have that instance.
    fn runs<'i>(&self, invocation: &'i Invocation) -> Option<&'i [InvocationInstance]> {
        match &self.instance_id {
            None => Some(&invocation.instances),
            Some(id) => invocation
                .instances
                .iter()
                .position(|run| run.instance_id == *id)
                .map(|index| &invocation.instances[index..=index]),
        }
    }

    fn matches(&self, invocation: &Invocation) -> bool {
        let Some(runs) = self.runs(invocation) else {
            return false;
        };
        let equal =
            |filter: &Option<String>, value: &str| filter.as_ref().is_none_or(|f| f == value);
        !self.timed_only
            && equal(&self.command_id, &invocation.command_id)
            && equal(&self.command_name, &invocation.command_name)
            && equal(&self.repeat_mode, &invocation.repeat_mode)
            && equal(&self.command_type, invocation.command_type.as_str())
            && self.invoke_status.as_ref().is_none_or(|wanted| {
                let (status, legacy) = statuses(runs);
                wanted == status.as_str() || wanted == legacy.as_str()
            })
            && describe::has_tags(&invocation.tags, &self.tags)
    }

    /// True when the query lists every invocation (no filter narrows it).
    fn lists_all(&self) -> bool {
        self.invoke_id.is_none()
            && self.command_id.is_none()
            && self.command_name.is_none()
            && self.repeat_mode.is_none()
            && self.command_type.is_none()
            && self.instance_id.is_none()
            && self.invoke_status.is_none()
            && !self.timed_only
            && self.tags.is_empty()
    }

    /// The page of matching invocations.
    fn page<'s>(&self, store: &'s Store) -> Result<SpacePage<&'s Arc<Invocation>>, ApiError> {
        let (start, limit) = self.paging.window();
        let Some(space) = store.space(&self.account, &self.region_id) else {
            return commands::page_matching(std::iter::empty(), start, limit)
                .map_err(describe::bad_cursor);
        };
        if self.lists_all() {
            return commands::page_all(space.invocations(), start, limit)
                .map_err(describe::bad_cursor);
        }
        let matching = |(key, invocation): (&u64, &'s Arc<Invocation>)| {
            self.matches(invocation)
                .then_some((Position::entry(*key), invocation))
        };
        let page = match &self.invoke_id {
            // One invocation at most: looked up, not scanned.
            Some(id) => {
                let found = space
                    .invocation_key(id)
                    .and_then(|key| Some((key, space.invocations().get(&key)?)));
                let candidates = found.iter().map(|(key, invocation)| (key, *invocation));
                commands::page_matching(candidates.filter_map(matching), start, limit)
            }
            None => commands::page_matching(
                space.invocations().iter().filter_map(matching),
                start,
                limit,
            ),
        };
        page.map_err(describe::bad_cursor)
    }

    /// Answers the request from `store`.
    pub fn execute(
        &self,
        store: &Store,
        tokens: &TokenKey,
        request_id: String,
    ) -> Result<DescribeInvocationsResponse, ApiError> {
        let page = self.page(store)?;
        let fields = self
            .filters
            .with_scope(ACTION, &self.account, &self.region_id, |scope| {
                describe::page_fields(&self.paging, &page, tokens, scope)
            });
        let invocation = page
            .rows
            .iter()
            .filter_map(|(_, invocation)| {
                let runs = self.runs(invocation)?;
                Some(InvocationItem::of(invocation, runs, self))
            })
            .collect();
        Ok(DescribeInvocationsResponse {
            page_size: fields.page_size,
            request_id,
            page_number: fields.page_number,
            total_count: fields.total_count,
            next_token: fields.next_token,
            invocations: Invocations { invocation },
        })
    }
}

/// The aggregate and the legacy aggregate status of these runs.
fn statuses(runs: &[InvocationInstance]) -> (InvocationStatus, InvokeStatus) {
    (
        InvocationStatus::of(runs.iter().map(|run| run.status)),
        InvokeStatus::of(runs.iter().map(|run| run.status.legacy())),
    )
}

/// The answer (SPEC Appendix D), keys in the vendor sample's order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeInvocationsResponse {
    /// Page mode only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page_size: Option<u64>,
    /// The request id.
    pub request_id: String,
    /// Page mode only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page_number: Option<u64>,
    /// Invocations matching the query.
    pub total_count: u64,
    /// Present when invocations follow this page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
    /// The page.
    pub invocations: Invocations,
}

/// `Invocations: {Invocation: [...]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Invocations {
    /// The invocations, newest first.
    pub invocation: Vec<InvocationItem>,
}

/// One invocation on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct InvocationItem {
    /// Only when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oss_output_delivery: Option<String>,
    /// The aggregate status of the runs shown.
    pub invocation_status: &'static str,
    /// The custom parameters as JSON text.
    pub parameters: String,
    /// Never periodic.
    pub timed: bool,
    /// The command's description.
    pub command_description: String,
    /// Seconds a run may take.
    pub timeout: u64,
    /// The runs shown.
    pub invoke_instances: InvokeInstances,
    /// The script as given, in the answer's encoding.
    pub command_content: String,
    /// Where it runs.
    pub working_dir: String,
    /// Always `Once`.
    pub repeat_mode: String,
    /// The legacy aggregate status of the runs shown.
    pub invoke_status: &'static str,
    /// The script language.
    pub command_type: &'static str,
    /// Who it runs as.
    pub username: String,
    /// Only when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_id: Option<String>,
    /// Only when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_name: Option<String>,
    /// When it was made.
    pub creation_time: String,
    /// No periodic runs: always empty.
    pub frequency: &'static str,
    /// Only when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub launcher: Option<String>,
    /// The command run.
    pub command_id: String,
    /// Its name.
    pub command_name: String,
    /// The invocation's id.
    pub invoke_id: String,
    /// Only when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub termination_mode: Option<String>,
    /// Its tags.
    pub tags: TagSet,
}

impl InvocationItem {
    fn of(
        invocation: &Invocation,
        runs: &[InvocationInstance],
        request: &DescribeInvocationsRequest,
    ) -> Self {
        let (status, legacy) = statuses(runs);
        let encoding = request.encoding;
        Self {
            oss_output_delivery: invocation.oss_output_delivery.clone(),
            invocation_status: status.as_str(),
            parameters: invocation.parameters.clone(),
            timed: false,
            command_description: invocation.command_description.clone(),
            timeout: invocation.timeout,
            invoke_instances: InvokeInstances {
                invoke_instance: runs
                    .iter()
                    .map(|run| InvokeInstanceItem::of(run, request.include_output, encoding))
                    .collect(),
            },
            command_content: describe::encode_bytes(encoding, &invocation.content),
            working_dir: invocation.working_dir.clone(),
            repeat_mode: invocation.repeat_mode.clone(),
            invoke_status: legacy.as_str(),
            command_type: invocation.command_type.as_str(),
            username: invocation.username.clone(),
            container_id: invocation.container_id.clone(),
            container_name: invocation.container_name.clone(),
            creation_time: describe::time(invocation.creation_time),
            frequency: "",
            launcher: invocation.launcher.clone(),
            command_id: invocation.command_id.clone(),
            command_name: invocation.command_name.clone(),
            invoke_id: invocation.id.clone(),
            termination_mode: invocation.termination_mode.clone(),
            tags: TagSet::of(&invocation.tags),
        }
    }
}

/// `InvokeInstances: {InvokeInstance: [...]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct InvokeInstances {
    /// In the invocation's instance order.
    pub invoke_instance: Vec<InvokeInstanceItem>,
}

/// One instance's run on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct InvokeInstanceItem {
    /// Bytes of output cut from the front.
    pub dropped: u64,
    /// The run's status.
    pub invocation_status: &'static str,
    /// The instance.
    pub instance_id: String,
    /// Never periodic.
    pub timed: bool,
    /// The run's legacy status.
    pub instance_invoke_status: &'static str,
    /// 0 until it ends.
    pub exit_code: i64,
    /// Why it failed; empty otherwise.
    pub error_info: String,
    /// When it was delivered, or empty.
    pub start_time: String,
    /// 1 once delivered.
    pub repeats: u32,
    /// When it ended after running, or empty.
    pub finish_time: String,
    /// Its output in the answer's encoding, when asked for and honoured; else empty.
    pub output: String,
    /// When the invocation was made.
    pub creation_time: String,
    /// Its last change.
    pub update_time: String,
    /// Why it failed; empty otherwise.
    pub error_code: String,
    /// When it was cancelled, or empty.
    pub stop_time: String,
}

impl InvokeInstanceItem {
    fn of(run: &InvocationInstance, include_output: bool, encoding: ContentEncoding) -> Self {
        Self {
            dropped: run.dropped,
            invocation_status: run.status.as_str(),
            instance_id: run.instance_id.clone(),
            timed: false,
            instance_invoke_status: run.status.legacy().as_str(),
            exit_code: run.exit_code,
            error_info: run.error_info.clone(),
            start_time: describe::time_or_empty(run.start_time),
            repeats: run.repeats,
            finish_time: describe::time_or_empty(run.finish_time),
            output: if include_output {
                describe::encode_bytes(encoding, &run.output)
            } else {
                String::new()
            },
            creation_time: describe::time(run.creation_time),
            update_time: describe::time(run.update_time),
            error_code: run.error_code.clone(),
            stop_time: describe::time_or_empty(run.stop_time),
        }
    }
}
