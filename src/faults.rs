//! Fault injection: rules that make matching API requests fail or slow down, so that client
//! retry logic can be exercised (`/_emulator/faults`).
//!
//! Rules are tried in the order they were added. A rule matches a request when each of its
//! `action`, `regionId` and `instanceId` it names equals the request's (`instanceId` matches
//! any of the request's `InstanceId.N`). A matching rule fires unless it already fired `times`
//! times, and then only with its `probability`, drawn from its own generator seeded with
//! `seed`: the same rules and requests give the same faults on every run. The latencies of all
//! firing rules add up, to at most [`MAX_LATENCY_MS`] in all; the first firing rule with a
//! `code` answers the request with that error, and the rules after it are not tried.

use std::time::Duration;

use axum::http::StatusCode;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;

/// Longest latency a rule may add: 5 minutes, so that a typo cannot hang a test run forever.
pub const MAX_LATENCY_MS: u64 = 300_000;
/// Default `x-acs-retry-after` (milliseconds) of a `Throttling*` fault.
pub const DEFAULT_RETRY_AFTER_MS: u64 = 1_000;
/// Most rules at once.
pub const MAX_RULES: usize = 1_000;

/// A rule as posted: `POST /_emulator/faults`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FaultSpec {
    /// Only requests for this action.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// Only requests with this `RegionId`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region_id: Option<String>,
    /// Only requests naming this instance in `InstanceId.N`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
    /// The error code answered, e.g. `Throttling.User`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Its HTTP status; default from the code (see [`default_status`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Its message; default from the code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Added latency before answering.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
    /// Chance of firing per matching request, 0 to 1 (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probability: Option<f64>,
    /// Seed of the draws (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Fire at most this many times (default: no limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u64>,
    /// `x-acs-retry-after` in milliseconds; default 1000 for `Throttling*` codes, else none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
}

/// A rule that cannot be added, naming the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct RuleError {
    /// The bad field.
    pub field: &'static str,
    /// What is wrong with it.
    pub message: String,
}

fn refuse(field: &'static str, message: impl Into<String>) -> RuleError {
    RuleError {
        field,
        message: message.into(),
    }
}

impl FaultSpec {
    fn validate(&self) -> Result<(), RuleError> {
        if self.code.is_none() && self.latency_ms.is_none() {
            return Err(refuse(
                "code",
                "a fault needs a code to answer, a latencyMs to add, or both",
            ));
        }
        // What a fault answers is echoed in XML too.
        for (field, value) in [
            ("action", &self.action),
            ("regionId", &self.region_id),
            ("instanceId", &self.instance_id),
            ("code", &self.code),
            ("message", &self.message),
        ] {
            if let Some(v) = value {
                crate::text::check(v).map_err(|refusal| refuse(field, refusal))?;
            }
        }
        for (field, value) in [
            ("action", &self.action),
            ("regionId", &self.region_id),
            ("instanceId", &self.instance_id),
        ] {
            if let Some(v) = value {
                if v.is_empty() || v.chars().count() > 255 {
                    return Err(refuse(field, "must be 1 to 255 characters"));
                }
            }
        }
        if let Some(code) = &self.code {
            let well_formed = !code.is_empty()
                && code.len() <= 128
                && code
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
            if !well_formed {
                return Err(refuse(
                    "code",
                    "must be 1 to 128 letters, digits, '.', '_' or '-', like Throttling.User",
                ));
            }
        }
        if let Some(status) = self.status {
            if self.code.is_none() {
                return Err(refuse("status", "a status needs a code"));
            }
            if !(400..=599).contains(&status) {
                return Err(refuse("status", "must be an error status, 400 to 599"));
            }
        }
        if let Some(message) = &self.message {
            if self.code.is_none() {
                return Err(refuse("message", "a message needs a code"));
            }
            if message.chars().count() > 1_000 {
                return Err(refuse("message", "must be at most 1000 characters"));
            }
        }
        if self.latency_ms.is_some_and(|ms| ms > MAX_LATENCY_MS) {
            return Err(refuse(
                "latencyMs",
                format!("must be at most {MAX_LATENCY_MS}"),
            ));
        }
        if let Some(p) = self.probability {
            if !(0.0..=1.0).contains(&p) {
                return Err(refuse("probability", "must be from 0 to 1"));
            }
        }
        if self.times == Some(0) {
            return Err(refuse("times", "must be at least 1"));
        }
        if self.retry_after_ms.is_some() && self.code.is_none() {
            return Err(refuse("retryAfterMs", "a retry-after needs a code"));
        }
        Ok(())
    }

    fn matches(&self, target: &Target<'_>) -> bool {
        let action = self.action.as_deref().is_none_or(|a| a == target.action);
        let region = self
            .region_id
            .as_deref()
            .is_none_or(|r| target.region == Some(r));
        let instance = self
            .instance_id
            .as_deref()
            .is_none_or(|i| target.instances.contains(&i));
        action && region && instance
    }
}

/// The status a code is answered with when the rule gives none.
pub fn default_status(code: &str) -> StatusCode {
    match code {
        "ServiceUnavailable" => StatusCode::SERVICE_UNAVAILABLE,
        c if c.starts_with("InternalError") || c == "UnknownError" => {
            StatusCode::INTERNAL_SERVER_ERROR
        }
        _ => StatusCode::BAD_REQUEST,
    }
}

/// The message a code is answered with when the rule gives none.
pub fn default_message(code: &str) -> String {
    match code {
        "Throttling.User" => "Request was denied due to user flow control.".to_owned(),
        "Throttling.Api" => "Request was denied due to api flow control.".to_owned(),
        c if c.starts_with("Throttling") => "Request was denied due to flow control.".to_owned(),
        "ServiceUnavailable" => {
            "The request has failed due to a temporary failure of the server.".to_owned()
        }
        "InternalError.Dispatch" => ApiError::InternalDispatch.to_string(),
        c if c.starts_with("InternalError") || c == "UnknownError" => {
            "The request processing has failed due to some unknown error.".to_owned()
        }
        c => format!("The request was answered with {c} by a fault rule of the emulator."),
    }
}

/// What a request is, for matching.
#[derive(Debug, Clone, Default)]
pub struct Target<'a> {
    /// The action.
    pub action: &'a str,
    /// `RegionId`, if any.
    pub region: Option<&'a str>,
    /// Every `InstanceId.N` value.
    pub instances: Vec<&'a str>,
}

/// What the rules do to one request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Injection {
    /// Wait this long first.
    pub latency: Duration,
    /// Then answer this error instead of the operation.
    pub error: Option<ApiError>,
    /// With this `x-acs-retry-after` (milliseconds).
    pub retry_after_ms: Option<u64>,
}

/// A rule as listed: the spec with its id and how often it fired.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleView {
    /// The rule's id, e.g. `f-1`.
    pub id: String,
    /// Times it fired.
    pub fired: u64,
    /// What was posted.
    #[serde(flatten)]
    pub spec: FaultSpec,
}

#[derive(Debug)]
struct Rule {
    view: RuleView,
    rng: ChaCha8Rng,
}

/// The rules in force.
#[derive(Debug, Default)]
pub struct Faults {
    rules: Vec<Rule>,
    next_id: u64,
}

impl Faults {
    /// Adds a rule after checking it; answers it with its id.
    pub fn add(&mut self, spec: FaultSpec) -> Result<RuleView, RuleError> {
        spec.validate()?;
        if self.rules.len() >= MAX_RULES {
            return Err(refuse(
                "id",
                format!("at most {MAX_RULES} rules at once; delete some first"),
            ));
        }
        self.next_id += 1;
        let view = RuleView {
            id: format!("f-{}", self.next_id),
            fired: 0,
            spec,
        };
        let rng = ChaCha8Rng::seed_from_u64(view.spec.seed.unwrap_or(0));
        self.rules.push(Rule {
            view: view.clone(),
            rng,
        });
        Ok(view)
    }

    /// Every rule, in the order tried.
    pub fn list(&self) -> Vec<RuleView> {
        self.rules.iter().map(|r| r.view.clone()).collect()
    }

    /// Deletes one rule; false when there is none with this id.
    pub fn remove(&mut self, id: &str) -> bool {
        let before = self.rules.len();
        self.rules.retain(|r| r.view.id != id);
        self.rules.len() != before
    }

    /// Deletes every rule. Ids keep counting up, so an old id never names a new rule.
    pub fn clear(&mut self) {
        self.rules.clear();
    }

    /// Decides what happens to a request, counting the rules that fire. The latencies of the
    /// firing rules add up to at most [`MAX_LATENCY_MS`], the bound of one rule, so that a
    /// thousand slow rules cannot hold a request for days.
    pub fn inject(&mut self, target: &Target<'_>) -> Injection {
        let mut injection = Injection::default();
        for rule in &mut self.rules {
            let spec = &rule.view.spec;
            if !spec.matches(target) || spec.times.is_some_and(|n| rule.view.fired >= n) {
                continue;
            }
            let p = spec.probability.unwrap_or(1.0);
            if p < 1.0 && rule.rng.gen::<f64>() >= p {
                continue;
            }
            rule.view.fired += 1;
            injection.latency += Duration::from_millis(spec.latency_ms.unwrap_or(0));
            if let Some(code) = &spec.code {
                injection.error = Some(ApiError::Injected {
                    code: code.clone(),
                    status: spec
                        .status
                        .and_then(|s| StatusCode::from_u16(s).ok())
                        .unwrap_or_else(|| default_status(code)),
                    message: spec
                        .message
                        .clone()
                        .unwrap_or_else(|| default_message(code)),
                });
                injection.retry_after_ms = spec.retry_after_ms.or_else(|| {
                    code.starts_with("Throttling")
                        .then_some(DEFAULT_RETRY_AFTER_MS)
                });
                break;
            }
        }
        injection.latency = injection.latency.min(Duration::from_millis(MAX_LATENCY_MS));
        injection
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target<'a>(region: &'a str, instances: &[&'a str]) -> Target<'a> {
        Target {
            action: "ListPluginStatus",
            region: Some(region),
            instances: instances.to_vec(),
        }
    }

    fn throttle(times: Option<u64>) -> FaultSpec {
        FaultSpec {
            code: Some("Throttling.User".into()),
            times,
            ..FaultSpec::default()
        }
    }

    #[test]
    fn fires_the_first_n_matches_then_lets_requests_through() {
        let mut faults = Faults::default();
        let rule = faults.add(throttle(Some(2))).unwrap();
        assert_eq!(rule.id, "f-1");
        for _ in 0..2 {
            let injection = faults.inject(&target("cn-hangzhou", &[]));
            let error = injection.error.unwrap();
            assert_eq!(error.code(), "Throttling.User");
            assert_eq!(error.status(), StatusCode::BAD_REQUEST);
            assert_eq!(injection.retry_after_ms, Some(DEFAULT_RETRY_AFTER_MS));
        }
        assert_eq!(
            faults.inject(&target("cn-hangzhou", &[])),
            Injection::default()
        );
        assert_eq!(faults.list()[0].fired, 2);
    }

    #[test]
    fn matches_action_region_and_instance() {
        let mut faults = Faults::default();
        faults
            .add(FaultSpec {
                region_id: Some("cn-shanghai".into()),
                instance_id: Some("i-2".into()),
                ..throttle(None)
            })
            .unwrap();
        faults
            .add(FaultSpec {
                action: Some("Other".into()),
                ..throttle(None)
            })
            .unwrap();
        assert!(faults
            .inject(&target("cn-hangzhou", &["i-2"]))
            .error
            .is_none());
        assert!(faults
            .inject(&target("cn-shanghai", &["i-1"]))
            .error
            .is_none());
        assert!(faults
            .inject(&target("cn-shanghai", &["i-1", "i-2"]))
            .error
            .is_some());
        let fired: Vec<u64> = faults.list().iter().map(|r| r.fired).collect();
        assert_eq!(fired, [1, 0]);
    }

    #[test]
    fn probability_is_reproducible_from_the_seed() {
        let run = |seed| {
            let mut faults = Faults::default();
            faults
                .add(FaultSpec {
                    probability: Some(0.3),
                    seed: Some(seed),
                    ..throttle(None)
                })
                .unwrap();
            (0..200)
                .map(|_| faults.inject(&target("r", &[])).error.is_some())
                .collect::<Vec<bool>>()
        };
        let first = run(7);
        assert_eq!(first, run(7));
        assert_ne!(first, run(8));
        let fired = first.iter().filter(|&&f| f).count();
        assert!((30..=90).contains(&fired), "{fired} of 200 at p=0.3");
    }

    #[test]
    fn latencies_add_up_and_the_first_code_answers() {
        let mut faults = Faults::default();
        let slow = |ms| FaultSpec {
            latency_ms: Some(ms),
            ..FaultSpec::default()
        };
        faults.add(slow(100)).unwrap();
        faults
            .add(FaultSpec {
                code: Some("ServiceUnavailable".into()),
                latency_ms: Some(50),
                ..FaultSpec::default()
            })
            .unwrap();
        faults.add(slow(1000)).unwrap();
        let injection = faults.inject(&target("r", &[]));
        assert_eq!(injection.latency, Duration::from_millis(150));
        let error = injection.error.unwrap();
        assert_eq!(error.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(injection.retry_after_ms, None);
        assert_eq!(faults.list()[2].fired, 0);
    }

    #[test]
    fn the_latencies_of_all_firing_rules_add_up_to_at_most_the_bound_of_one() {
        let mut faults = Faults::default();
        for _ in 0..3 {
            let slowest = FaultSpec {
                latency_ms: Some(MAX_LATENCY_MS),
                ..FaultSpec::default()
            };
            faults.add(slowest).unwrap();
        }
        let injection = faults.inject(&target("r", &[]));
        assert_eq!(injection.latency, Duration::from_millis(MAX_LATENCY_MS));
        assert!(faults.list().iter().all(|rule| rule.fired == 1));
    }

    #[test]
    fn refuses_rules_that_make_no_sense_naming_the_field() {
        let mut faults = Faults::default();
        let cases = [
            (FaultSpec::default(), "code"),
            (
                FaultSpec {
                    status: Some(200),
                    ..throttle(None)
                },
                "status",
            ),
            (
                FaultSpec {
                    probability: Some(1.5),
                    ..throttle(None)
                },
                "probability",
            ),
            (throttle(Some(0)), "times"),
            (
                FaultSpec {
                    latency_ms: Some(MAX_LATENCY_MS + 1),
                    ..FaultSpec::default()
                },
                "latencyMs",
            ),
            (
                FaultSpec {
                    code: Some("bad code!".into()),
                    ..FaultSpec::default()
                },
                "code",
            ),
        ];
        for (spec, field) in cases {
            assert_eq!(faults.add(spec).unwrap_err().field, field);
        }
        assert!(faults.list().is_empty());
    }
}
