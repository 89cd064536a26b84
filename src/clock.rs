//! The emulator's time. Heartbeats written by lifecycle events and the signature window both
//! read [`EmulatorClock::now`], so a test can freeze or move time for both at once
//! (`/_emulator/clock`).
//!
//! The clock stays within [`EARLIEST`]..=[`LATEST`] (SPEC section 7), the years every reader of
//! RFC 3339 times accepts: a time outside cannot be set, and a running clock that passes the
//! end stays there. Its arithmetic is checked, so no setting can make it panic.

use std::sync::{Mutex, PoisonError};

use chrono::{DateTime, SecondsFormat, SubsecRound, TimeDelta, Utc};
use serde::Serialize;

/// The earliest time the emulator keeps or writes: 0001-01-01T00:00:00Z.
pub const EARLIEST: DateTime<Utc> = at_timestamp(-62_135_596_800);
/// The latest time the emulator keeps or writes: 9999-12-31T23:59:59Z.
pub const LATEST: DateTime<Utc> = at_timestamp(253_402_300_799);

const fn at_timestamp(seconds: i64) -> DateTime<Utc> {
    match DateTime::from_timestamp(seconds, 0) {
        Some(time) => time,
        None => panic!("a time within chrono's range"),
    }
}

/// True when `time` is within [`EARLIEST`]..=[`LATEST`].
pub fn in_range(time: DateTime<Utc>) -> bool {
    (EARLIEST..=LATEST).contains(&time)
}

/// Why a time cannot be kept, for a message that names the field first.
pub fn out_of_range(time: &str) -> String {
    format!(
        "time {time} is outside the times the emulator keeps, \
         0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z"
    )
}

/// A time the emulator writes: whole seconds, truncated.
pub fn whole_seconds(time: DateTime<Utc>) -> DateTime<Utc> {
    time.trunc_subsecs(0)
}

/// `time` moved by `delta`, kept within [`EARLIEST`]..=[`LATEST`].
pub fn add_clamped(time: DateTime<Utc>, delta: TimeDelta) -> DateTime<Utc> {
    time.checked_add_signed(delta)
        .unwrap_or(if delta < TimeDelta::zero() {
            EARLIEST
        } else {
            LATEST
        })
        .clamp(EARLIEST, LATEST)
}

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
        let time = match setting {
            Setting::Real => self.source.now(),
            Setting::Frozen(at) => at,
            Setting::Shifted { from, set_at } => {
                let elapsed = self.source.now().signed_duration_since(set_at);
                from.checked_add_signed(elapsed)
                    .unwrap_or(if elapsed < TimeDelta::zero() {
                        EARLIEST
                    } else {
                        LATEST
                    })
            }
        };
        time.clamp(EARLIEST, LATEST)
    }

    /// Sets the time to `now` (default: the current emulator time), frozen there or running
    /// on from it. A `now` outside [`EARLIEST`]..=[`LATEST`] is refused with the message of
    /// [`out_of_range`] and changes nothing.
    pub fn set(&self, now: Option<DateTime<Utc>>, frozen: bool) -> Result<(), String> {
        if let Some(time) = now.filter(|&t| !in_range(t)) {
            return Err(out_of_range(
                &time.to_rfc3339_opts(SecondsFormat::AutoSi, true),
            ));
        }
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
        Ok(())
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

        clock.set(Some(at("2030-01-01T00:00:00Z")), true).unwrap();
        *real.lock().unwrap() = at("2026-11-26T10:00:30Z");
        assert_eq!(clock.now(), at("2030-01-01T00:00:00Z"));
        assert!(clock.view().frozen && !clock.view().real);

        clock.set(Some(at("2030-01-01T00:00:00Z")), false).unwrap();
        *real.lock().unwrap() = at("2026-11-26T10:01:30Z");
        assert_eq!(clock.now(), at("2030-01-01T00:01:00Z"));
        assert!(!clock.view().frozen);

        // Freezing with no time given freezes the current emulator time.
        clock.set(None, true).unwrap();
        assert_eq!(clock.now(), at("2030-01-01T00:01:00Z"));

        clock.reset();
        assert_eq!(clock.now(), at("2026-11-26T10:01:30Z"));
        assert!(clock.view().real);
    }

    #[test]
    fn the_range_is_years_1_to_9999() {
        assert_eq!(EARLIEST, at("0001-01-01T00:00:00Z"));
        assert_eq!(LATEST, at("9999-12-31T23:59:59Z"));
    }

    #[test]
    fn a_time_outside_the_range_is_refused_and_changes_nothing() {
        let clock = EmulatorClock::new(Box::new(FixedClock(at("2026-01-01T00:00:00Z"))));
        for outside in [
            DateTime::<Utc>::MAX_UTC,
            DateTime::<Utc>::MIN_UTC,
            at("9999-12-31T23:59:59.5Z"),
            at("0000-12-31T23:59:59Z"),
        ] {
            let refusal = clock.set(Some(outside), true).unwrap_err();
            assert!(refusal.contains("0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z"));
            assert!(clock.view().real);
        }
        clock.set(Some(LATEST), true).unwrap();
        assert_eq!(clock.now(), LATEST);
        clock.set(Some(EARLIEST), false).unwrap();
        assert_eq!(clock.now(), EARLIEST);
    }

    #[test]
    fn a_running_clock_stops_at_the_end_of_the_range() {
        let real = Arc::new(Mutex::new(at("2026-01-01T00:00:00Z")));
        let clock = EmulatorClock::new(Box::new(Manual(real.clone())));
        clock.set(Some(at("9999-12-31T23:59:58Z")), false).unwrap();
        *real.lock().unwrap() = at("2027-01-01T00:00:00Z");
        assert_eq!(clock.now(), LATEST);
        // The source running backwards (a stepped system clock) stops at the start.
        clock.set(Some(EARLIEST), false).unwrap();
        *real.lock().unwrap() = at("2026-01-01T00:00:00Z");
        assert_eq!(clock.now(), EARLIEST);
        // A source far outside the range (no real clock is) is held within it too.
        *real.lock().unwrap() = DateTime::<Utc>::MAX_UTC;
        clock.reset();
        assert_eq!(clock.now(), LATEST);
    }

    #[test]
    fn written_times_are_whole_seconds_truncated() {
        assert_eq!(
            whole_seconds(at("2026-01-01T00:00:00.999Z")),
            at("2026-01-01T00:00:00Z")
        );
        assert_eq!(
            whole_seconds(at("0001-01-01T00:00:00.5Z")),
            at("0001-01-01T00:00:00Z")
        );
    }
}
