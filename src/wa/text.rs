//! Text the gateway keeps and forwards. PostgreSQL cannot store the NUL
//! character (in TEXT or JSONB), and one row that cannot be written fails
//! the whole group commit it is in: so requests carrying it are refused
//! (`invalid_text`), and text from WhatsApp has it replaced (U+FFFD) before
//! it reaches the log or an event.

use serde_json::Value;

/// Replaces NUL characters in place.
pub fn clean(s: &mut String) {
    if s.contains('\0') {
        *s = s.replace('\0', "\u{FFFD}");
    }
}

/// Replaces NUL characters in every string and key of `v`.
pub fn clean_json(v: &mut Value) {
    match v {
        Value::String(s) => clean(s),
        Value::Array(items) => items.iter_mut().for_each(clean_json),
        Value::Object(map) => {
            if map.keys().any(|k| k.contains('\0')) {
                let entries = std::mem::take(map);
                for (mut k, v) in entries {
                    clean(&mut k);
                    map.insert(k, v);
                }
            }
            map.values_mut().for_each(clean_json);
        }
        _ => {}
    }
}

/// Whether a JSON document holds a NUL character. JSON can only write it
/// as the escape `\u0000` (a raw control character is invalid), so it is
/// found without parsing: an escape is one preceded by an odd number of
/// backslashes.
pub fn json_has_nul(body: &[u8]) -> bool {
    // Jumps from backslash run to backslash run: a base64 file has none,
    // so a large body costs one fast scan.
    let mut at = 0;
    while let Some(offset) = body[at..].iter().position(|b| *b == b'\\') {
        let start = at + offset;
        let run = body[start..].iter().take_while(|b| **b == b'\\').count();
        at = start + run;
        if run % 2 == 1 && body[at..].starts_with(b"u0000") {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_is_found_only_as_an_escape() {
        assert!(json_has_nul(br#"{"text": "a\u0000b"}"#));
        assert!(json_has_nul(br#"["\\\u0000"]"#), "an escaped backslash, then the escape");
        assert!(!json_has_nul(br#"{"text": "a\\u0000b"}"#), "the six characters \\u0000 as text");
        assert!(!json_has_nul(br#"{"text": "u0000"}"#));
        assert!(!json_has_nul(b""));
        assert!(!json_has_nul(br#"trailing \"#));
        assert!(json_has_nul(br#"\\\u0000"#), "three backslashes: the last escapes");
    }

    #[test]
    fn cleaning_replaces_nul_everywhere() {
        let mut v = serde_json::json!({"a\u{0}": ["x\u{0}y", {"k": "\u{0}"}], "n": 1});
        clean_json(&mut v);
        assert_eq!(v, serde_json::json!({"a\u{FFFD}": ["x\u{FFFD}y", {"k": "\u{FFFD}"}], "n": 1}));
        let mut s = String::from("plain");
        clean(&mut s);
        assert_eq!(s, "plain");
    }
}
