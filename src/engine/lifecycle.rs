//! The Cloud Assistant agent's plug-in lifecycle (SPEC section 7): which event is allowed in
//! which state, and where it leads. Pure: the caller supplies the time.

use chrono::{DateTime, Utc};
use std::fmt;

use super::{PluginRecord, PluginStatus, PluginType};

/// An event the agent reports for a plug-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// Installed: `Installed` (Once) or `Running` (Persist).
    Install,
    /// Started again: `Running`.
    Start,
    /// Stopped on purpose: `Stopped`.
    Stop,
    /// Died: `Crashed`.
    Crash,
    /// Uninstalled: `Removed` (still listed).
    Remove,
    /// Alive; the state is unchanged.
    Heartbeat,
}

impl Event {
    /// Every event, in the table's order.
    pub const ALL: [Event; 6] = [
        Self::Install,
        Self::Start,
        Self::Stop,
        Self::Crash,
        Self::Remove,
        Self::Heartbeat,
    ];

    /// The name used in the route.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Install => "install",
            Self::Start => "start",
            Self::Stop => "stop",
            Self::Crash => "crash",
            Self::Remove => "remove",
            Self::Heartbeat => "heartbeat",
        }
    }

    /// The event named `name`.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.as_str() == name)
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An event that makes no sense in the plug-in's current state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot {event} plug-in {name}: it is {state}{why}")]
pub struct TransitionRefused {
    /// The event.
    pub event: Event,
    /// The plug-in name.
    pub name: String,
    /// The current state, in words (`not installed`, `Running`, …).
    pub state: String,
    /// More about why, or empty.
    pub why: String,
}

/// Applies `event` to a plug-in (`None`: not installed) of the given type at time `now`.
///
/// Every accepted event sets the last heartbeat to `now` in whole seconds (truncated, as every
/// time the emulator writes), and the first one too when it is empty. A `version` replaces the reported version; an install with none keeps the previous
/// version, or reports `1.0` for a first install.
pub fn apply(
    name: &str,
    current: Option<&PluginRecord>,
    plugin_type: PluginType,
    event: Event,
    version: Option<&str>,
    now: DateTime<Utc>,
) -> Result<PluginRecord, TransitionRefused> {
    use PluginStatus::*;
    let now = crate::clock::whole_seconds(now);
    let status = current.map(|r| r.status);
    let refuse = |why: &str| TransitionRefused {
        event,
        name: name.to_owned(),
        state: match status {
            None | Some(NotInstalled) => "not installed".to_owned(),
            Some(s) => s.as_str().to_owned(),
        },
        why: why.to_owned(),
    };
    let next = match (event, status) {
        (Event::Install, None | Some(NotInstalled | Removed)) => match plugin_type {
            PluginType::Once => Installed,
            PluginType::Persist => Running,
        },
        (Event::Install, _) => return Err(refuse("; remove it first")),
        (Event::Start, Some(Stopped | Crashed | Unknown)) => {
            if plugin_type == PluginType::Once {
                return Err(refuse(
                    " and a Once plug-in does not start; it runs at install",
                ));
            }
            Running
        }
        (Event::Stop | Event::Crash, Some(Running)) => match event {
            Event::Stop => Stopped,
            _ => Crashed,
        },
        (
            Event::Remove | Event::Heartbeat,
            Some(s @ (Installed | Running | Stopped | Crashed | Unknown)),
        ) => match event {
            Event::Remove => Removed,
            _ => s,
        },
        _ => return Err(refuse("")),
    };
    let previous_version = current
        .map(|r| r.version.as_str())
        .filter(|v| !v.is_empty());
    let version = match (version, event) {
        (Some(v), _) => v.to_owned(),
        (None, Event::Install) => previous_version.unwrap_or("1.0").to_owned(),
        (None, _) => previous_version.unwrap_or_default().to_owned(),
    };
    Ok(PluginRecord {
        version,
        status: next,
        first_heartbeat: current.and_then(|r| r.first_heartbeat).or(Some(now)),
        last_heartbeat: Some(now),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use PluginStatus::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn record(status: PluginStatus) -> PluginRecord {
        PluginRecord {
            version: "2.0".into(),
            status,
            first_heartbeat: Some(at("2020-01-01T00:00:00Z")),
            last_heartbeat: Some(at("2020-01-02T00:00:00Z")),
        }
    }

    /// The whole table of SPEC section 7, for a Persist and a Once plug-in, from every state.
    #[test]
    fn follows_the_table_from_every_state() {
        let now = at("2026-01-01T00:00:00Z");
        let states: Vec<Option<PluginStatus>> = std::iter::once(None)
            .chain(PluginStatus::ALL.map(Some))
            .collect();
        for plugin_type in [PluginType::Persist, PluginType::Once] {
            for &state in &states {
                for event in Event::ALL {
                    let current = state.map(record);
                    let got = apply("p", current.as_ref(), plugin_type, event, None, now)
                        .map(|r| r.status);
                    let installed = matches!(state, None | Some(NotInstalled));
                    let live = matches!(
                        state,
                        Some(Installed | Running | Stopped | Crashed | Unknown)
                    );
                    let expected = match event {
                        Event::Install if installed || state == Some(Removed) => {
                            Some(if plugin_type == PluginType::Once {
                                Installed
                            } else {
                                Running
                            })
                        }
                        Event::Start
                            if plugin_type == PluginType::Persist
                                && matches!(state, Some(Stopped | Crashed | Unknown)) =>
                        {
                            Some(Running)
                        }
                        Event::Stop if state == Some(Running) => Some(Stopped),
                        Event::Crash if state == Some(Running) => Some(Crashed),
                        Event::Remove if live => Some(Removed),
                        Event::Heartbeat if live => state,
                        _ => None,
                    };
                    assert_eq!(got.ok(), expected, "{plugin_type:?} {state:?} {event}");
                }
            }
        }
    }

    #[test]
    fn heartbeat_times_follow_the_clock() {
        let now = at("2026-01-01T00:00:00Z");
        let fresh = apply("p", None, PluginType::Persist, Event::Install, None, now).unwrap();
        assert_eq!(fresh.first_heartbeat, Some(now));
        assert_eq!(fresh.last_heartbeat, Some(now));
        assert_eq!(fresh.version, "1.0");
        let later = at("2026-01-01T00:05:00Z");
        let beat = apply(
            "p",
            Some(&fresh),
            PluginType::Persist,
            Event::Heartbeat,
            Some("1.1"),
            later,
        )
        .unwrap();
        assert_eq!(beat.first_heartbeat, Some(now));
        assert_eq!(beat.last_heartbeat, Some(later));
        assert_eq!(beat.version, "1.1");
    }

    #[test]
    fn heartbeat_times_are_whole_seconds() {
        let now = at("2026-01-01T00:00:00.999999Z");
        let fresh = apply("p", None, PluginType::Persist, Event::Install, None, now).unwrap();
        assert_eq!(fresh.first_heartbeat, Some(at("2026-01-01T00:00:00Z")));
        assert_eq!(fresh.last_heartbeat, Some(at("2026-01-01T00:00:00Z")));
    }

    #[test]
    fn refusals_name_the_state_and_the_event() {
        let now = at("2026-01-01T00:00:00Z");
        let err = apply("p", None, PluginType::Persist, Event::Stop, None, now).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot stop plug-in p: it is not installed"
        );
        let running = record(Running);
        let err = apply(
            "p",
            Some(&running),
            PluginType::Persist,
            Event::Install,
            None,
            now,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot install plug-in p: it is Running; remove it first"
        );
    }
}
