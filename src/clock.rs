//! The emulator's time. Heartbeats written by lifecycle events and the signature window both
//! read [`EmulatorClock::now`], so a test can freeze or move time for both at once
//! (`/_emulator/clock`).

use std::sync::{Mutex, PoisonError};

use chrono::{DateTime, Utc};
use serde::Serialize;

/// Where time comes from; injected so tests can fix it.
pub trait Clock: Send + Sync + 'static {
    /// The current time.
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock.
#[derive(Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that always answers the same time: for tests.
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub DateTime<Utc>);

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }
}

/// How the emulator's clock is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Setting {
    /// The source's time.
    Real,
    /// Always this time.
    Frozen(DateTime<Utc>),
    /// `from`, plus however much source time passed since `set_at`.
    Shifted {
        from: DateTime<Utc>,
        set_at: DateTime<Utc>,
    },
}

/// What `GET /_emulator/clock` answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ClockView {
    /// The emulator's time now.
    pub now: DateTime<Utc>,
    /// True when time stands still.
    pub frozen: bool,
    /// True when the clock follows real time (never set, or set back).
    pub real: bool,
}

/// A source of time that can be frozen, set, and returned to the source's time.
pub struct EmulatorClock {
    source: Box<dyn Clock>,
    setting: Mutex<Setting>,
}

impl EmulatorClock {
    /// A clock following `source`.
    pub fn new(source: Box<dyn Clock>) -> Self {
        Self {
            source,
            setting: Mutex::new(Setting::Real),
        }
    }

    fn setting(&self) -> Setting {
        *self.setting.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The emulator's current time.
    pub fn now(&self) -> DateTime<Utc> {
        self.time_under(self.setting())
    }

    fn time_under(&self, setting: Setting) -> DateTime<Utc> {
        match setting {
            Setting::Real => self.source.now(),
            Setting::Frozen(at) => at,
            Setting::Shifted { from, set_at } => from + (self.source.now() - set_at),
        }
    }

    /// Sets the time to `now` (default: the current emulator time), frozen there or running
    /// on from it.
    pub fn set(&self, now: Option<DateTime<Utc>>, frozen: bool) {
        let mut setting = self.setting.lock().unwrap_or_else(PoisonError::into_inner);
        let from = now.unwrap_or_else(|| self.time_under(*setting));
        *setting = if frozen {
            Setting::Frozen(from)
        } else {
            Setting::Shifted {
                from,
                set_at: self.source.now(),
            }
        };
    }

    /// Returns to the source's time.
    pub fn reset(&self) {
        *self.setting.lock().unwrap_or_else(PoisonError::into_inner) = Setting::Real;
    }

    /// The time and how the clock is set.
    pub fn view(&self) -> ClockView {
        let setting = self.setting();
        ClockView {
            now: self.now(),
            frozen: matches!(setting, Setting::Frozen(_)),
            real: setting == Setting::Real,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// A source tests can move.
    struct Manual(Arc<Mutex<DateTime<Utc>>>);

    impl Clock for Manual {
        fn now(&self) -> DateTime<Utc> {
            *self.0.lock().unwrap()
        }
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn freezes_shifts_and_returns_to_real_time() {
        let real = Arc::new(Mutex::new(at("2026-11-26T10:00:00Z")));
        let clock = EmulatorClock::new(Box::new(Manual(real.clone())));
        assert_eq!(clock.now(), at("2026-11-26T10:00:00Z"));
        assert!(clock.view().real);

        clock.set(Some(at("2030-01-01T00:00:00Z")), true);
        *real.lock().unwrap() = at("2026-11-26T10:00:30Z");
        assert_eq!(clock.now(), at("2030-01-01T00:00:00Z"));
        assert!(clock.view().frozen && !clock.view().real);

        clock.set(Some(at("2030-01-01T00:00:00Z")), false);
        *real.lock().unwrap() = at("2026-11-26T10:01:30Z");
        assert_eq!(clock.now(), at("2030-01-01T00:01:00Z"));
        assert!(!clock.view().frozen);

        // Freezing with no time given freezes the current emulator time.
        clock.set(None, true);
        assert_eq!(clock.now(), at("2030-01-01T00:01:00Z"));

        clock.reset();
        assert_eq!(clock.now(), at("2026-11-26T10:01:30Z"));
        assert!(clock.view().real);
    }
}
