//! Version strings of plug-ins and of the Cloud Assistant agent: dotted whole numbers compared
//! numerically (SPEC sections 9.5 and 9.6), so `1.10` is above `1.9` and `2.2.3.344` above
//! `2.2.3.99`.
//!
//! Any text is accepted and never panics. Each dot-separated part is read as runs of ASCII
//! digits and runs of other characters: digit runs compare as whole numbers of any length,
//! other runs as text; a digit run is above a text run at the same place (a release is above
//! a pre-release: `1.2.0` > `1.2.rc1`); a part that goes on with text after the other ended is
//! below it (`1.5` > `1.5b3`); a version with more parts is above its prefix (`1.0` > `1`).
//! Surrounding white space is ignored. Leading zeros are not significant, so `1.01` and `1.1`
//! compare [`Ordering::Equal`] although they are different text.

use std::cmp::Ordering;

/// Compares two versions numerically, part by part (see the module documentation).
pub fn compare(a: &str, b: &str) -> Ordering {
    let mut parts_a = a.trim().split('.');
    let mut parts_b = b.trim().split('.');
    loop {
        match (parts_a.next(), parts_b.next()) {
            (None, None) => return Ordering::Equal,
            (Some(_), None) => return Ordering::Greater,
            (None, Some(_)) => return Ordering::Less,
            (Some(x), Some(y)) => match compare_part(x, y) {
                Ordering::Equal => {}
                unequal => return unequal,
            },
        }
    }
}

/// The highest of `versions` by [`compare`]; the first of equal highest ones; `None` when
/// there are none.
pub fn highest<'a>(versions: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let mut best: Option<&'a str> = None;
    for version in versions {
        if best.is_none_or(|b| compare(version, b) == Ordering::Greater) {
            best = Some(version);
        }
    }
    best
}

/// One dot-separated part, run by run.
fn compare_part(a: &str, b: &str) -> Ordering {
    let mut runs_a = Runs(a);
    let mut runs_b = Runs(b);
    loop {
        match (runs_a.next(), runs_b.next()) {
            (None, None) => return Ordering::Equal,
            // What goes on after the other part ended: more digits can only follow text, so
            // this is `b3` against `b`; text after a number is a pre-release suffix.
            (Some(rest), None) => {
                return if is_number(rest) {
                    Ordering::Greater
                } else {
                    Ordering::Less
                }
            }
            (None, Some(rest)) => {
                return if is_number(rest) {
                    Ordering::Less
                } else {
                    Ordering::Greater
                }
            }
            (Some(x), Some(y)) => {
                let order = match (is_number(x), is_number(y)) {
                    (true, true) => compare_numbers(x, y),
                    (true, false) => Ordering::Greater,
                    (false, true) => Ordering::Less,
                    (false, false) => x.cmp(y),
                };
                if order != Ordering::Equal {
                    return order;
                }
            }
        }
    }
}

/// Two runs of ASCII digits as whole numbers of any length.
fn compare_numbers(a: &str, b: &str) -> Ordering {
    let a = a.trim_start_matches('0');
    let b = b.trim_start_matches('0');
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// A run of ASCII digits (runs are never empty).
fn is_number(run: &str) -> bool {
    run.starts_with(|c: char| c.is_ascii_digit())
}

/// The runs of a part: maximal stretches of ASCII digits or of other characters.
struct Runs<'a>(&'a str);

impl<'a> Iterator for Runs<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let first = self.0.chars().next()?;
        let digits = first.is_ascii_digit();
        let end = self
            .0
            .find(|c: char| c.is_ascii_digit() != digits)
            .unwrap_or(self.0.len());
        let (run, rest) = self.0.split_at(end);
        self.0 = rest;
        Some(run)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::{Equal, Greater, Less};

    #[test]
    fn compares_dotted_whole_numbers_numerically() {
        let cases = [
            ("1.10", "1.9", Greater),
            ("1.2", "1.2", Equal),
            ("2.2.3.344", "2.2.3.99", Greater),
            ("2.1.3.344", "2.2.3.344", Less),
            ("10", "9", Greater),
            ("0.9", "1.0", Less),
            ("1.0", "1", Greater),
            ("1", "1.0", Less),
            ("1.01", "1.1", Equal),
            ("007", "7", Equal),
            (" 1.2 ", "1.2", Equal),
            (
                "99999999999999999999999999.1",
                "99999999999999999999999998.9",
                Greater,
            ),
        ];
        for (a, b, expected) in cases {
            assert_eq!(compare(a, b), expected, "{a} vs {b}");
            assert_eq!(compare(b, a), expected.reverse(), "{b} vs {a}");
        }
    }

    #[test]
    fn compares_text_sensibly_and_never_panics() {
        let cases = [
            ("1.2.0", "1.2.rc1", Greater),
            ("1.5", "1.5b3", Greater),
            ("1.5b3", "1.5b2", Greater),
            ("1.5b", "1.5b3", Less),
            ("1.5.rc1", "1.5", Greater),
            ("abc", "abd", Less),
            ("", "0", Less),
            ("", "", Equal),
            ("1..2", "1.0.2", Less),
            ("v1", "1", Less),
            ("版本", "版本", Equal),
            ("1.٣", "1.3", Less),
            (".", "", Greater),
        ];
        for (a, b, expected) in cases {
            assert_eq!(compare(a, b), expected, "{a:?} vs {b:?}");
            assert_eq!(compare(b, a), expected.reverse(), "{b:?} vs {a:?}");
        }
    }

    #[test]
    fn highest_picks_the_numeric_maximum_and_the_first_of_equals() {
        assert_eq!(highest(["1.0", "1.10", "1.9"]), Some("1.10"));
        assert_eq!(highest(["1.1", "1.01"]), Some("1.1"));
        assert_eq!(highest(["1.01", "1.1"]), Some("1.01"));
        assert_eq!(highest(["x"]), Some("x"));
        assert_eq!(highest(Vec::<&str>::new()), None);
    }
}
