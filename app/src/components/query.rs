//! Query strings for links the pages build.

/// A query-string value, percent-encoded (letters, digits and `-_.~@` stay).
pub fn url_escape(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~@".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `k=v&...` of the pairs, each value escaped.
pub fn query_string(pairs: &[(&str, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", url_escape(v)))
        .collect::<Vec<_>>()
        .join("&")
}
