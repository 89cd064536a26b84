//! DescribeCommands (SPEC 9.2): the caller's retained commands in a region, newest first.
//!
//! Validation, first failure wins: `RegionId`; then the filters' shapes in the SPEC's order
//! (`Name`, `Description`, `Type`, tags); then paging. Unknown ids and values match nothing.

use std::sync::Arc;

use serde::Serialize;

use super::describe::{self, FilterValues, TagSet};
use super::paging::{self, Paging};
use super::parse::{self, ContentEncoding, Tag};
use crate::engine::commands::{self, Command, CommandType, Position, SpacePage};
use crate::engine::Store;
use crate::error::ApiError;
use crate::rpc::params::Params;

/// The action, as NextTokens are bound to it.
const ACTION: &str = "DescribeCommands";
/// Longest `Name` filter, `*` included.
pub const MAX_NAME_CHARS: usize = 128;
/// Longest `Description` filter, `*` included.
pub const MAX_DESCRIPTION_CHARS: usize = 512;

/// A text filter: the exact text, or with `*` at either or both ends a prefix, suffix or part.
/// A `*` anywhere else is itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TextFilter {
    /// The whole text.
    Exact(String),
    /// `text*`.
    Prefix(String),
    /// `*text`.
    Suffix(String),
    /// `*text*`.
    Contains(String),
}

impl TextFilter {
    /// Reads a filter.
    pub fn new(pattern: &str) -> Self {
        match (pattern.strip_prefix('*'), pattern.strip_suffix('*')) {
            (Some(rest), Some(_)) if !rest.is_empty() => {
                // `*` alone is caught below: it is both ends of nothing.
                Self::Contains(rest[..rest.len() - 1].to_owned())
            }
            (Some(rest), _) => Self::Suffix(rest.to_owned()),
            (None, Some(start)) => Self::Prefix(start.to_owned()),
            (None, None) => Self::Exact(pattern.to_owned()),
        }
    }

    /// Whether `text` matches (case-sensitive).
    pub fn matches(&self, text: &str) -> bool {
        match self {
            Self::Exact(wanted) => text == wanted,
            Self::Prefix(start) => text.starts_with(start.as_str()),
            Self::Suffix(end) => text.ends_with(end.as_str()),
            Self::Contains(part) => text.contains(part.as_str()),
        }
    }
}

/// A validated DescribeCommands request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescribeCommandsRequest {
    /// The caller's account.
    pub account: String,
    /// The region.
    pub region_id: String,
    /// `CommandId`.
    pub command_id: Option<String>,
    /// `Name`.
    pub name: Option<TextFilter>,
    /// `Description`.
    pub description: Option<TextFilter>,
    /// `Type`.
    pub command_type: Option<CommandType>,
    /// `Provider` given: public commands only, and none is emulated.
    pub public_only: bool,
    /// `ResourceGroupId`.
    pub resource_group_id: Option<String>,
    /// `Tag.N.*`: every one must be on the command.
    pub tags: Vec<Tag>,
    /// How `CommandContent` is answered.
    pub encoding: ContentEncoding,
    /// Page or token mode.
    pub paging: Paging,
    /// What the NextToken is bound to.
    pub filters: FilterValues,
}

impl DescribeCommandsRequest {
    /// Reads and validates the request; `tokens` opens a NextToken for the caller's scope.
    pub fn parse(
        params: &Params<'_>,
        account: &str,
        store: &Store,
        tokens: &crate::api::next_token::TokenKey,
    ) -> Result<Self, ApiError> {
        let region_id = parse::region_id(params, store, ApiError::CloudAssistantRegionNotFound)?;
        let command_id = params.get("CommandId");
        let name = params.get("Name");
        if name.is_some_and(|n| n.chars().count() > MAX_NAME_CHARS) {
            return Err(ApiError::NameFilterExceedLimit);
        }
        let description = params.get("Description");
        if description.is_some_and(|d| d.chars().count() > MAX_DESCRIPTION_CHARS) {
            return Err(ApiError::DescriptionFilterExceedLimit);
        }
        let type_name = params.get("Type");
        let command_type = match type_name {
            Some(name) => {
                Some(CommandType::parse(name).ok_or(ApiError::CommandTypeFilterNotFound)?)
            }
            None => None,
        };
        let provider = params.get("Provider");
        let encoding = ContentEncoding::parse(params, ContentEncoding::Base64);
        let resource_group_id = params.get("ResourceGroupId");
        let tags = parse::tags(params)?;

        let mut filters = FilterValues::default();
        filters.add("CommandId", command_id);
        filters.add("Name", name);
        filters.add("Description", description);
        filters.add("Type", type_name);
        filters.add("Provider", provider);
        filters.add("ResourceGroupId", resource_group_id);
        filters.add_tags(&tags);
        let paging = filters.with_scope(ACTION, account, region_id, |scope| {
            Paging::parse(params, &paging::CLOUD_ASSISTANT, tokens, scope)
        })?;
        Ok(Self {
            account: account.to_owned(),
            region_id: region_id.to_owned(),
            command_id: command_id.map(str::to_owned),
            name: name.map(TextFilter::new),
            description: description.map(TextFilter::new),
            command_type,
            public_only: provider.is_some(),
            resource_group_id: resource_group_id.map(str::to_owned),
            tags,
            encoding,
            paging,
            filters,
        })
    }

    /// True when the query lists every command (no filter narrows it).
    fn lists_all(&self) -> bool {
        self.command_id.is_none()
            && self.name.is_none()
            && self.description.is_none()
            && self.command_type.is_none()
            && !self.public_only
            && self.resource_group_id.is_none()
            && self.tags.is_empty()
    }

    fn matches(&self, command: &Command) -> bool {
        !self.public_only
            && self.name.as_ref().is_none_or(|f| f.matches(&command.name))
            && self
                .description
                .as_ref()
                .is_none_or(|f| f.matches(&command.description))
            && self.command_type.is_none_or(|t| t == command.command_type)
            && self
                .resource_group_id
                .as_ref()
                .is_none_or(|g| command.resource_group_id.as_ref() == Some(g))
            && describe::has_tags(&command.tags, &self.tags)
    }

    /// The page of matching commands.
    fn page<'s>(&self, store: &'s Store) -> Result<SpacePage<&'s Arc<Command>>, ApiError> {
        let (start, limit) = self.paging.window();
        let Some(space) = store.space(&self.account, &self.region_id) else {
            return commands::page_matching(std::iter::empty(), start, limit)
                .map_err(describe::bad_cursor);
        };
        if self.lists_all() {
            return commands::page_all(space.commands(), start, limit)
                .map_err(describe::bad_cursor);
        }
        let matching = |(key, command): (&u64, &'s Arc<Command>)| {
            self.matches(command)
                .then_some((Position::entry(*key), command))
        };
        let page = match &self.command_id {
            // One command at most: looked up, not scanned.
            Some(id) => {
                let found = space
                    .command_key(id)
                    .and_then(|key| Some((key, space.commands().get(&key)?)));
                let candidates = found.iter().map(|(key, command)| (key, *command));
                commands::page_matching(candidates.filter_map(matching), start, limit)
            }
            None => {
                commands::page_matching(space.commands().iter().filter_map(matching), start, limit)
            }
        };
        page.map_err(describe::bad_cursor)
    }

    /// Answers the request from `store`.
    pub fn execute(
        &self,
        store: &Store,
        tokens: &crate::api::next_token::TokenKey,
        request_id: String,
    ) -> Result<DescribeCommandsResponse, ApiError> {
        let page = self.page(store)?;
        let fields = self
            .filters
            .with_scope(ACTION, &self.account, &self.region_id, |scope| {
                describe::page_fields(&self.paging, &page, tokens, scope)
            });
        Ok(DescribeCommandsResponse {
            page_size: fields.page_size,
            request_id,
            page_number: fields.page_number,
            total_count: fields.total_count,
            next_token: fields.next_token,
            commands: Commands {
                command: page
                    .rows
                    .iter()
                    .map(|(_, command)| CommandItem::of(command, self.encoding))
                    .collect(),
            },
        })
    }
}

/// The answer (SPEC Appendix D), keys in the vendor sample's order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeCommandsResponse {
    /// Page mode only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page_size: Option<u64>,
    /// The request id.
    pub request_id: String,
    /// Page mode only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page_number: Option<u64>,
    /// Commands matching the query.
    pub total_count: u64,
    /// Present when commands follow this page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
    /// The page.
    pub commands: Commands,
}

/// `Commands: {Command: [...]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Commands {
    /// The commands, newest first.
    pub command: Vec<CommandItem>,
}

/// `ParameterNames: {ParameterName: [...]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ParameterNames {
    /// In first-appearance order.
    pub parameter_name: Vec<String>,
}

/// One command on the wire. `ParameterDefinitions`, `Version` and `Latest` belong to public
/// commands, which are not emulated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CommandItem {
    /// Its description.
    pub description: String,
    /// A public command's category: always empty.
    pub category: &'static str,
    /// Only when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_group_id: Option<String>,
    /// Its custom parameter names.
    pub parameter_names: ParameterNames,
    /// Seconds a run may take.
    pub timeout: u64,
    /// A public command's provider: always empty.
    pub provider: &'static str,
    /// Its name.
    pub name: String,
    /// Where it runs.
    pub working_dir: String,
    /// The script, in the answer's encoding.
    pub command_content: String,
    /// The script language.
    #[serde(rename = "Type")]
    pub command_type: &'static str,
    /// Invocations that ran it.
    pub invoke_times: u64,
    /// When it was created.
    pub creation_time: String,
    /// Only when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub launcher: Option<String>,
    /// Whether `{{name}}` parameters are filled.
    pub enable_parameter: bool,
    /// Its id.
    pub command_id: String,
    /// Its tags.
    pub tags: TagSet,
}

impl CommandItem {
    fn of(command: &Command, encoding: ContentEncoding) -> Self {
        Self {
            description: command.description.clone(),
            category: "",
            resource_group_id: command.resource_group_id.clone(),
            parameter_names: ParameterNames {
                parameter_name: command.parameter_names.clone(),
            },
            timeout: command.timeout,
            provider: "",
            name: command.name.clone(),
            working_dir: command.working_dir.clone(),
            command_content: describe::encode_bytes(encoding, &command.content),
            command_type: command.command_type.as_str(),
            invoke_times: command.invoke_times,
            creation_time: describe::time(command.creation_time),
            launcher: command.launcher.clone(),
            enable_parameter: command.enable_parameter,
            command_id: command.id.clone(),
            tags: TagSet::of(&command.tags),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_filters_take_a_star_at_either_end() {
        let cases = [
            ("deploy", "deploy", true),
            ("deploy", "deploy-web", false),
            ("deploy*", "deploy-web", true),
            ("deploy*", "web-deploy", false),
            ("*deploy", "web-deploy", true),
            ("*deploy", "deploy-web", false),
            ("*deploy*", "a-deploy-b", true),
            ("*deploy*", "a-depl-b", false),
            ("*", "", true),
            ("*", "anything", true),
            ("**", "anything", true),
            ("de*ploy", "de*ploy", true),
            ("de*ploy", "deXploy", false),
            ("Deploy", "deploy", false),
        ];
        for (pattern, text, expected) in cases {
            assert_eq!(
                TextFilter::new(pattern).matches(text),
                expected,
                "{pattern:?} on {text:?}"
            );
        }
    }
}
