//! Text an adapter copies from a payload into an [`Intent`](crate::Intent): made safe to show.
//!
//! Whoever builds a payload chooses its text (an EIP-712 domain name, a `personal_sign`
//! message, a token name, an off-chain message). Shown as is, a few characters let that text
//! lie about what surrounds it:
//!
//! * bidirectional controls (U+202A–U+202E, U+2066–U+2069, U+200E/U+200F, U+061C) reorder
//!   what follows them, so `pay 0x…1234` can display as another amount or address (the
//!   "Trojan Source" attack, CVE-2021-42574);
//! * newlines, carriage returns, U+2028/U+2029 and other control characters start a new line
//!   or move the cursor, so a message can forge the lines of a summary that come after it
//!   (`…\nmax fee 0 ETH`);
//! * invisible format characters (zero-width spaces and joiners, U+FEFF, the Unicode tag
//!   characters U+E0000–U+E007F) hide text from a reader that a program still sees.
//!
//! [`sanitize`] replaces each of them with a visible escape such as `\u{202e}`, so nothing is
//! dropped (the reader sees that the text holds such a character, and where) and the result is
//! one line. Every adapter passes payload text through it before putting it into an intent.

/// Whether `c` can hide, reorder or forge what a reader sees: every control character
/// (C0, DEL, C1, including newline, carriage return and tab), the line and paragraph
/// separators, and the invisible format characters (Unicode category Cf: bidirectional
/// controls and isolates, zero-width characters, the BOM, tags, …).
pub fn is_deceptive(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{00ad}'
                | '\u{0600}'..='\u{0605}'
                | '\u{061c}'
                | '\u{06dd}'
                | '\u{070f}'
                | '\u{0890}'..='\u{0891}'
                | '\u{08e2}'
                | '\u{180e}'
                | '\u{200b}'..='\u{200f}'
                | '\u{2028}'..='\u{202e}'
                | '\u{2060}'..='\u{2064}'
                | '\u{2066}'..='\u{206f}'
                | '\u{feff}'
                | '\u{fff9}'..='\u{fffb}'
                | '\u{110bd}'
                | '\u{110cd}'
                | '\u{13430}'..='\u{1343f}'
                | '\u{1bca0}'..='\u{1bca3}'
                | '\u{1d173}'..='\u{1d17a}'
                | '\u{e0001}'
                | '\u{e0020}'..='\u{e007f}'
        )
}

/// Whether `s` holds any character [`sanitize`] would escape.
pub fn needs_sanitizing(s: &str) -> bool {
    s.chars().any(is_deceptive)
}

/// `s` with every [deceptive](is_deceptive) character replaced by its escape `\u{…}`
/// (lowercase hex, no leading zeros: a newline becomes `\u{a}`, a right-to-left override
/// `\u{202e}`). Everything else is kept as is, so plain text is returned unchanged.
pub fn sanitize(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if is_deceptive(c) {
            out.push_str(&c.escape_unicode().to_string());
        } else {
            out.push(c);
        }
    }
    out
}

/// `s` as a JSON string literal (with its quotes) in which every [deceptive](is_deceptive)
/// character is a `\uXXXX` escape (a surrogate pair above U+FFFF): the JSON still decodes to
/// exactly `s`, but shows no hidden or reordering character.
pub fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if is_deceptive(c) => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_bidi_controls_and_newlines() {
        assert_eq!(sanitize("pay \u{202e}1000"), "pay \\u{202e}1000");
        assert_eq!(
            sanitize("a\u{2066}b\u{2069}c\u{200e}d\u{200f}e\u{061c}"),
            "a\\u{2066}b\\u{2069}c\\u{200e}d\\u{200f}e\\u{61c}"
        );
        assert_eq!(
            sanitize("Sign in\nmax fee 0 ETH\r\t"),
            "Sign in\\u{a}max fee 0 ETH\\u{d}\\u{9}"
        );
        assert_eq!(
            sanitize("x\u{0}\u{7f}\u{85}\u{2028}\u{2029}\u{feff}\u{200b}\u{e0041}"),
            "x\\u{0}\\u{7f}\\u{85}\\u{2028}\\u{2029}\\u{feff}\\u{200b}\\u{e0041}"
        );
    }

    #[test]
    fn every_bidi_and_line_breaking_character_is_caught() {
        let required = ('\u{202a}'..='\u{202e}')
            .chain('\u{2066}'..='\u{2069}')
            .chain([
                '\u{200e}', '\u{200f}', '\u{061c}', '\n', '\r', '\u{2028}', '\u{2029}',
            ]);
        for c in required {
            assert!(is_deceptive(c), "{:?}", c);
            assert!(!needs_sanitizing(&sanitize(&format!("a{c}b"))), "{:?}", c);
        }
    }

    #[test]
    fn plain_text_is_unchanged() {
        for s in [
            "",
            "Ether Mail",
            "Tessera ✓ 日本語 עברית مرحبا",
            "a\\u{202e}b",
        ] {
            assert_eq!(sanitize(s), s);
            assert!(!needs_sanitizing(s) || s.contains('\u{202e}'));
        }
    }

    #[test]
    fn json_string_decodes_to_the_same_text() {
        for s in [
            "plain",
            "quote \" and \\ backslash",
            "rlo \u{202e} nl \n tag \u{e0041} bom \u{feff}",
        ] {
            let lit = json_string(s);
            assert!(!needs_sanitizing(&lit), "{lit}");
            assert_eq!(serde_json::from_str::<String>(&lit).unwrap(), s);
        }
        assert_eq!(json_string("\u{202e}"), "\"\\u202e\"");
        assert_eq!(json_string("\u{e0041}"), "\"\\udb40\\udc41\"");
    }
}
