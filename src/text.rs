//! The one rule for text the emulator keeps or answers (SPEC sections 5 to 7): every XML answer
//! must be well-formed XML 1.0, so text XML cannot carry is refused where it is stored and
//! replaced by U+FFFD where a request's own text is echoed.
//!
//! XML cannot carry control characters other than tab, CR and LF, nor the Unicode
//! non-characters (U+FFFE, U+FFFF, U+FDD0..U+FDEF and U+nFFFE/U+nFFFF of every plane). Stored
//! text (the data file, the control plane's ids and names, fault rules) is stricter still: no
//! control character at all, as a tab or a newline in an id is always a mistake.

use std::borrow::Cow;

/// What replaces a character that cannot be answered.
pub const REPLACEMENT: char = '\u{FFFD}';

/// Longest piece of a request echoed in a message, in characters.
pub const MAX_ECHO_CHARS: usize = 100;

/// True for a Unicode non-character: U+FDD0..U+FDEF and the last two code points of each plane.
pub fn is_noncharacter(c: char) -> bool {
    let code = u32::from(c);
    (0xFDD0..=0xFDEF).contains(&code) || code & 0xFFFE == 0xFFFE
}

/// True for a character an XML answer cannot carry.
pub fn is_unfit_for_xml(c: char) -> bool {
    (c.is_control() && !matches!(c, '\t' | '\n' | '\r')) || is_noncharacter(c)
}

/// True for a character stored text may not hold: any control character or non-character.
pub fn is_unfit_for_data(c: char) -> bool {
    c.is_control() || is_noncharacter(c)
}

/// Checks text to be stored; the error says which character is refused and why, for a message
/// that names the field first.
pub fn check(value: &str) -> Result<(), String> {
    match value.chars().find(|&c| is_unfit_for_data(c)) {
        None => Ok(()),
        Some(c) => Err(format!(
            "character {} is not allowed: no control characters or Unicode non-characters \
             (XML answers cannot carry them)",
            c.escape_unicode()
        )),
    }
}

/// A request's own text as it may appear in an answer: what stored text may not hold replaced
/// by U+FFFD.
pub fn echo(value: &str) -> String {
    value
        .chars()
        .map(|c| if is_unfit_for_data(c) { REPLACEMENT } else { c })
        .collect()
}

/// [`echo`], cut after [`MAX_ECHO_CHARS`] characters with a visible `…`: for a piece of a
/// request quoted inside a message.
pub fn echo_short(value: &str) -> String {
    let cut = value.char_indices().nth(MAX_ECHO_CHARS).map(|(i, _)| i);
    match cut {
        Some(end) => echo(&value[..end]) + "…",
        None => echo(value),
    }
}

/// `text` with every character XML cannot carry replaced by U+FFFD; borrowed when already fit.
pub fn fit_for_xml(text: &str) -> Cow<'_, str> {
    if text.chars().any(is_unfit_for_xml) {
        Cow::Owned(
            text.chars()
                .map(|c| if is_unfit_for_xml(c) { REPLACEMENT } else { c })
                .collect(),
        )
    } else {
        Cow::Borrowed(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_characters_of_every_plane() {
        for c in [
            '\u{FFFE}',
            '\u{FFFF}',
            '\u{FDD0}',
            '\u{FDEF}',
            '\u{1FFFE}',
            '\u{10FFFF}',
        ] {
            assert!(is_noncharacter(c), "{}", c.escape_unicode());
        }
        for c in ['\u{FDCF}', '\u{FDF0}', '\u{FFFD}', '\u{1FFFD}', 'a', '中'] {
            assert!(!is_noncharacter(c), "{}", c.escape_unicode());
        }
    }

    #[test]
    fn xml_keeps_tab_cr_lf_and_data_keeps_none() {
        for c in ['\t', '\n', '\r'] {
            assert!(!is_unfit_for_xml(c));
            assert!(is_unfit_for_data(c));
        }
        for c in ['\0', '\u{1B}', '\u{7F}', '\u{85}', '\u{FFFF}'] {
            assert!(is_unfit_for_xml(c) && is_unfit_for_data(c));
        }
    }

    #[test]
    fn check_names_the_character() {
        assert_eq!(check("ecs_tools-中 1.0"), Ok(()));
        let refusal = check("a\u{FFFF}b").unwrap_err();
        assert!(
            refusal.starts_with("character \\u{ffff} is not allowed"),
            "{refusal}"
        );
    }

    #[test]
    fn echo_replaces_and_cuts() {
        assert_eq!(echo("a\u{FFFE}\u{1}\tb"), "a\u{FFFD}\u{FFFD}\u{FFFD}b");
        let long = "x".repeat(MAX_ECHO_CHARS + 1);
        assert_eq!(echo(&long), long);
        assert_eq!(
            echo_short(&long),
            format!("{}…", "x".repeat(MAX_ECHO_CHARS))
        );
        assert_eq!(echo_short("a\u{1}"), "a\u{FFFD}");
    }

    #[test]
    fn fit_for_xml_borrows_clean_text() {
        assert!(matches!(fit_for_xml("<a>\tb</a>"), Cow::Borrowed(_)));
        assert_eq!(fit_for_xml("a\u{0}b\u{FDD0}"), "a\u{FFFD}b\u{FFFD}");
    }
}
