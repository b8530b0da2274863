//! Canonical JSON: one byte string per JSON value, so a hash over it does not depend on how the
//! value was built or printed.
//!
//! Rules (enough to re-implement it in any language):
//!
//! - No whitespace anywhere.
//! - `null`, `true`, `false` as such.
//! - Numbers: integers only, in `[-2^63, 2^64 - 1]`, printed in decimal without sign for
//!   non-negative values, with `-` for negative ones, no leading zeros, no exponent, no fraction.
//!   **Floating-point numbers are refused** ([`CanonicalError::Float`]): their printed form is
//!   not stable across languages and libraries. Put decimal amounts in strings or as integers in
//!   base units.
//! - Strings: `"` + the UTF-8 text + `"`, where only these characters are escaped: `"` as `\"`,
//!   `\` as `\\`, U+0008 as `\b`, U+000C as `\f`, U+000A as `\n`, U+000D as `\r`, U+0009 as `\t`,
//!   and every other character below U+0020 as `\u00xx` with lowercase hex digits. Everything
//!   else (including `/`, U+007F and all non-ASCII characters) is written as raw UTF-8. This is
//!   what `serde_json` prints.
//! - Arrays: `[` + elements joined by `,` + `]`, in order.
//! - Objects: `{` + `"key":value` pairs joined by `,` + `}`, keys sorted by the **bytes of their
//!   UTF-8 encoding** (not UTF-16 code units as in RFC 8785; the two orders differ only for
//!   keys containing characters above U+FFFF versus U+E000..U+FFFF), recursively. Keys are
//!   escaped like strings. A JSON object cannot hold a key twice (the parser keeps one).
//! - At most [`MAX_JSON_DEPTH`] nested arrays/objects ([`CanonicalError::TooDeep`]).

use std::fmt::Write as _;

use serde_json::{Map, Value};

/// Maximum nesting of arrays and objects in a canonicalized value (a scalar has depth 0, `[1]`
/// depth 1).
pub const MAX_JSON_DEPTH: usize = 64;

/// Why a value has no canonical form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CanonicalError {
    /// A floating-point number (anything with a fraction or an exponent, or an integer outside
    /// the 64-bit range). `path` is a JSON pointer (RFC 6901) to it, `""` for the root.
    #[error("floating-point number at {path:?}: only integers are allowed")]
    Float {
        /// JSON pointer to the number.
        path: String,
    },
    /// Nesting deeper than [`MAX_JSON_DEPTH`]; `path` points at the container that is too deep.
    #[error("JSON nested deeper than {MAX_JSON_DEPTH} levels at {path:?}")]
    TooDeep {
        /// JSON pointer to the container.
        path: String,
    },
}

/// The canonical JSON text of `value` (see the [module documentation](self)).
pub fn canonical_json(value: &Value) -> Result<String, CanonicalError> {
    canonical_json_depth(value, MAX_JSON_DEPTH)
}

/// [`canonical_json`] with another depth limit (an export line wraps the body in one object).
pub(crate) fn canonical_json_depth(
    value: &Value,
    max_depth: usize,
) -> Result<String, CanonicalError> {
    let mut out = String::new();
    let mut path = String::new();
    write_value(&mut out, value, &mut path, 0, max_depth)?;
    Ok(out)
}

fn write_value(
    out: &mut String,
    value: &Value,
    path: &mut String,
    depth: usize,
    max_depth: usize,
) -> Result<(), CanonicalError> {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(n) => {
            // Writing to a String cannot fail.
            if let Some(u) = n.as_u64() {
                let _ = write!(out, "{u}");
            } else if let Some(i) = n.as_i64() {
                let _ = write!(out, "{i}");
            } else {
                return Err(CanonicalError::Float { path: path.clone() });
            }
        }
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            if depth >= max_depth {
                return Err(CanonicalError::TooDeep { path: path.clone() });
            }
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                let len = path.len();
                let _ = write!(path, "/{i}");
                write_value(out, item, path, depth + 1, max_depth)?;
                path.truncate(len);
            }
            out.push(']');
        }
        Value::Object(map) => {
            if depth >= max_depth {
                return Err(CanonicalError::TooDeep { path: path.clone() });
            }
            write_object(out, map, path, depth, max_depth)?;
        }
    }
    Ok(())
}

fn write_object(
    out: &mut String,
    map: &Map<String, Value>,
    path: &mut String,
    depth: usize,
    max_depth: usize,
) -> Result<(), CanonicalError> {
    // Never rely on the map's iteration order: with serde_json's `preserve_order` feature
    // (enabled by other crates in a workspace build) it is insertion order.
    let mut pairs: Vec<(&String, &Value)> = map.iter().collect();
    pairs.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    out.push('{');
    for (i, (key, item)) in pairs.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_string(out, key);
        out.push(':');
        let len = path.len();
        path.push('/');
        path.push_str(&key.replace('~', "~0").replace('/', "~1"));
        write_value(out, item, path, depth + 1, max_depth)?;
        path.truncate(len);
    }
    out.push('}');
    Ok(())
}

/// `s` as a canonical JSON string (quoted and escaped).
pub(crate) fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    write_string(&mut out, s);
    out
}

fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sorts_keys_recursively_and_drops_whitespace() {
        let v: Value = serde_json::from_str(
            r#"{ "b": 1, "a": { "z": [ 3, { "y": null, "x": true } ], "m": "s" } }"#,
        )
        .unwrap();
        assert_eq!(
            canonical_json(&v).unwrap(),
            r#"{"a":{"m":"s","z":[3,{"x":true,"y":null}]},"b":1}"#
        );
    }

    #[test]
    fn independent_of_insertion_order() {
        let mut a = Map::new();
        a.insert("zeta".into(), json!(1));
        a.insert("alpha".into(), json!({"d": 1, "c": 2}));
        a.insert("mid".into(), json!([{"k2": 0, "k1": -5}]));
        let mut inner = Map::new();
        inner.insert("c".into(), json!(2));
        inner.insert("d".into(), json!(1));
        let mut b = Map::new();
        b.insert("mid".into(), json!([{"k1": -5, "k2": 0}]));
        b.insert("alpha".into(), Value::Object(inner));
        b.insert("zeta".into(), json!(1));
        let (a, b) = (Value::Object(a), Value::Object(b));
        assert_eq!(canonical_json(&a).unwrap(), canonical_json(&b).unwrap());
        assert_eq!(
            canonical_json(&a).unwrap(),
            r#"{"alpha":{"c":2,"d":1},"mid":[{"k1":-5,"k2":0}],"zeta":1}"#
        );
    }

    #[test]
    fn keys_sort_by_utf8_bytes() {
        let v = json!({"b": 0, "B": 0, "é": 0, "a": 0, "\u{10000}": 0, "\u{e000}": 0, "": 0});
        assert_eq!(
            canonical_json(&v).unwrap(),
            "{\"\":0,\"B\":0,\"a\":0,\"b\":0,\"é\":0,\"\u{e000}\":0,\"\u{10000}\":0}"
        );
    }

    #[test]
    fn integers_as_serde_json_prints_them() {
        let v = json!([0, 1, -1, u64::MAX, i64::MIN, 1_000_000]);
        assert_eq!(
            canonical_json(&v).unwrap(),
            "[0,1,-1,18446744073709551615,-9223372036854775808,1000000]"
        );
        assert_eq!(canonical_json(&v).unwrap(), v.to_string());
    }

    #[test]
    fn strings_escape_like_serde_json() {
        let s: String = (0u32..0x80)
            .filter_map(char::from_u32)
            .chain("é€\u{10348}/\u{7f}\u{2028}".chars())
            .collect();
        let v = Value::String(s);
        assert_eq!(
            canonical_json(&v).unwrap(),
            serde_json::to_string(&v).unwrap()
        );
        assert_eq!(
            canonical_json(&json!("a\"b\\c\n\u{1}\u{1f}")).unwrap(),
            r#""a\"b\\c\n\u0001\u001f""#
        );
    }

    #[test]
    fn refuses_floats_with_their_path() {
        for (v, path) in [
            (json!(1.5), ""),
            (json!({"a": {"b/c": [1, 2.0]}}), "/a/b~1c/1"),
            (json!([{"x~": 1e3}]), "/0/x~0"),
        ] {
            assert_eq!(
                canonical_json(&v),
                Err(CanonicalError::Float { path: path.into() }),
                "{v}"
            );
        }
        // Parsed text: a fraction or exponent makes a float even when the value is integral.
        for text in ["1.0", "1e2", "-0.0", "18446744073709551616"] {
            let v: Value = serde_json::from_str(text).unwrap();
            assert!(
                matches!(canonical_json(&v), Err(CanonicalError::Float { .. })),
                "{text}"
            );
        }
    }

    #[test]
    fn refuses_deep_nesting() {
        let mut v = json!(1);
        for _ in 0..MAX_JSON_DEPTH {
            v = json!([v]);
        }
        assert!(canonical_json(&v).is_ok());
        let v = json!({ "k": v });
        assert_eq!(
            canonical_json(&v),
            Err(CanonicalError::TooDeep {
                path: format!("/k{}", "/0".repeat(MAX_JSON_DEPTH - 1))
            })
        );
    }
}
