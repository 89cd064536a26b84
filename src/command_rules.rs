//! Command rules: what a Cloud Assistant run does, set by a test (`/_emulator/commands`,
//! SPEC section 9.7). Test-session state like fault rules: not durable, cleared by `reset`.
//!
//! A rule matches a run at its delivery when its `contentRegex` is found in the script as it
//! runs on that instance (decoded, parameters filled) and each of `instanceId`, `regionId` and
//! `accountId` it names equals the run's. Per run the first matching rule with `times` left
//! applies, and its use is counted then: `exitCode` replaces the run (its `output`, or none,
//! and no plug-in effect); without it the script runs and `output`, if given, replaces what
//! it printed; `durationSeconds` sets how long the run takes.

use regex::bytes::{Regex, RegexBuilder};
use serde::{Deserialize, Serialize};

use crate::engine::commands::RuleEffect;
use crate::engine::invocation::Delivery;
use crate::faults::RuleError;

/// Most rules at once.
pub const MAX_RULES: usize = 1_000;
/// Longest run a rule may set: a day, as the longest command timeout.
pub const MAX_DURATION_SECONDS: u64 = 86_400;
/// Longest pattern, in bytes, and the most memory its compiled form may take.
const MAX_PATTERN_BYTES: usize = 4_096;
const PATTERN_SIZE_LIMIT: usize = 1 << 20;

/// A rule as posted: `POST /_emulator/commands`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CommandRuleSpec {
    /// A regular expression (Rust `regex` syntax) searched in the script.
    pub content_regex: String,
    /// Only runs on this instance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
    /// Only runs in this region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region_id: Option<String>,
    /// Only runs of this account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    /// The run's exit code, instead of running the script.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// The run's output, instead of what it printed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    /// How long the run takes (0 to 86400 seconds; default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_seconds: Option<u64>,
    /// Apply to at most this many runs (default: no limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u64>,
}

/// A rule as listed: the spec with its id and how many runs it applied to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CommandRuleView {
    /// The rule's id, e.g. `r-1`.
    pub id: String,
    /// Runs it applied to.
    pub fired: u64,
    /// What was posted.
    #[serde(flatten)]
    pub spec: CommandRuleSpec,
}

#[derive(Debug)]
struct Rule {
    view: CommandRuleView,
    pattern: Regex,
}

/// The command rules in force.
#[derive(Debug, Default)]
pub struct CommandRules {
    rules: Vec<Rule>,
    next_id: u64,
}

fn refuse(field: &'static str, message: impl Into<String>) -> RuleError {
    RuleError {
        field,
        message: message.into(),
    }
}

impl CommandRuleSpec {
    fn validate(&self) -> Result<Regex, RuleError> {
        if self.exit_code.is_none() && self.output.is_none() && self.duration_seconds.is_none() {
            return Err(refuse(
                "exitCode",
                "a command rule needs an exitCode, an output or a durationSeconds",
            ));
        }
        if self.content_regex.len() > MAX_PATTERN_BYTES {
            return Err(refuse(
                "contentRegex",
                format!("must be at most {MAX_PATTERN_BYTES} bytes"),
            ));
        }
        let pattern = RegexBuilder::new(&self.content_regex)
            .size_limit(PATTERN_SIZE_LIMIT)
            .build()
            .map_err(|e| refuse("contentRegex", format!("not a regular expression: {e}")))?;
        for (field, value) in [
            ("instanceId", &self.instance_id),
            ("regionId", &self.region_id),
            ("accountId", &self.account_id),
        ] {
            if let Some(v) = value {
                if v.is_empty() || v.chars().count() > 255 {
                    return Err(refuse(field, "must be 1 to 255 characters"));
                }
            }
        }
        if let Some(output) = &self.output {
            // Output is answered in XML too; it may have lines, as a script's has.
            let unfit = output.chars().find(|&c| crate::text::is_unfit_for_xml(c));
            if let Some(c) = unfit {
                return Err(refuse(
                    "output",
                    format!(
                        "character {} is not allowed: no control characters but tab, CR and \
                         LF, no Unicode non-characters (XML answers cannot carry them)",
                        c.escape_unicode()
                    ),
                ));
            }
        }
        if self
            .duration_seconds
            .is_some_and(|d| d > MAX_DURATION_SECONDS)
        {
            return Err(refuse(
                "durationSeconds",
                format!("must be 0 to {MAX_DURATION_SECONDS}"),
            ));
        }
        if self.times == Some(0) {
            return Err(refuse("times", "must be at least 1"));
        }
        Ok(pattern)
    }
}

impl CommandRules {
    /// Adds a rule after checking it; answers it with its id.
    pub fn add(&mut self, spec: CommandRuleSpec) -> Result<CommandRuleView, RuleError> {
        let pattern = spec.validate()?;
        if self.rules.len() >= MAX_RULES {
            return Err(refuse(
                "id",
                format!("at most {MAX_RULES} rules at once; delete some first"),
            ));
        }
        self.next_id += 1;
        let view = CommandRuleView {
            id: format!("r-{}", self.next_id),
            fired: 0,
            spec,
        };
        self.rules.push(Rule {
            view: view.clone(),
            pattern,
        });
        Ok(view)
    }

    /// Every rule, in the order tried.
    pub fn list(&self) -> Vec<CommandRuleView> {
        self.rules.iter().map(|r| r.view.clone()).collect()
    }

    /// Deletes one rule; false when there is none with this id.
    pub fn remove(&mut self, id: &str) -> bool {
        let before = self.rules.len();
        self.rules.retain(|r| r.view.id != id);
        self.rules.len() != before
    }

    /// Deletes every rule; ids keep counting up.
    pub fn clear(&mut self) {
        self.rules.clear();
    }

    /// The effect of the first rule with uses left that matches a run being delivered,
    /// counting its use.
    pub fn matched(&mut self, run: &Delivery<'_>) -> Option<RuleEffect> {
        let rule = self.rules.iter_mut().find(|rule| {
            let spec = &rule.view.spec;
            let left = spec.times.is_none_or(|n| rule.view.fired < n);
            left && spec
                .instance_id
                .as_deref()
                .is_none_or(|i| i == run.instance_id)
                && spec.region_id.as_deref().is_none_or(|r| r == run.region)
                && spec.account_id.as_deref().is_none_or(|a| a == run.account)
                && rule.pattern.is_match(run.content)
        })?;
        rule.view.fired += 1;
        let spec = &rule.view.spec;
        Some(RuleEffect {
            exit_code: spec.exit_code.map(i64::from),
            output: spec.output.clone(),
            duration_seconds: spec.duration_seconds,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivery<'a>(instance: &'a str, content: &'a [u8]) -> Delivery<'a> {
        Delivery {
            account: "a1",
            region: "r1",
            instance_id: instance,
            content,
        }
    }

    #[test]
    fn the_first_matching_rule_with_uses_left_applies() {
        let mut rules = CommandRules::default();
        let once = CommandRuleSpec {
            content_regex: "--install".into(),
            exit_code: Some(7),
            times: Some(1),
            ..CommandRuleSpec::default()
        };
        let slow = CommandRuleSpec {
            content_regex: "acs-plugin-manager".into(),
            instance_id: Some("i-1".into()),
            duration_seconds: Some(30),
            ..CommandRuleSpec::default()
        };
        rules.add(once).unwrap();
        rules.add(slow).unwrap();
        let script = b"acs-plugin-manager --exec --plugin p --params --install";
        assert_eq!(
            rules.matched(&delivery("i-1", script)).unwrap().exit_code,
            Some(7)
        );
        let second = rules.matched(&delivery("i-1", script)).unwrap();
        assert_eq!(
            (second.exit_code, second.duration_seconds),
            (None, Some(30))
        );
        assert!(rules.matched(&delivery("i-2", script)).is_none());
        assert_eq!(rules.list()[0].fired, 1);
    }

    #[test]
    fn bad_rules_are_refused_naming_the_field() {
        let mut rules = CommandRules::default();
        let no_effect = CommandRuleSpec {
            content_regex: "x".into(),
            ..CommandRuleSpec::default()
        };
        assert_eq!(rules.add(no_effect).unwrap_err().field, "exitCode");
        let bad_regex = CommandRuleSpec {
            content_regex: "(".into(),
            exit_code: Some(1),
            ..CommandRuleSpec::default()
        };
        assert_eq!(rules.add(bad_regex).unwrap_err().field, "contentRegex");
        let too_long = CommandRuleSpec {
            content_regex: "x".into(),
            duration_seconds: Some(86_401),
            ..CommandRuleSpec::default()
        };
        assert_eq!(rules.add(too_long).unwrap_err().field, "durationSeconds");
        let unfit = CommandRuleSpec {
            content_regex: "x".into(),
            output: Some("a\u{1}b".into()),
            ..CommandRuleSpec::default()
        };
        assert_eq!(rules.add(unfit).unwrap_err().field, "output");
        let lines = CommandRuleSpec {
            content_regex: "x".into(),
            output: Some("line 1\r\n\tline 2\n".into()),
            ..CommandRuleSpec::default()
        };
        assert!(rules.add(lines).is_ok());
    }
}
