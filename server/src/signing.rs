//! HMAC-SHA256 and hex, written once: Promptly's outbound webhooks' signatures, the
//! platforms' webhook signatures checked (and made for a test message), the benchmarks'
//! signed requests, hashes shown as hex.

use hmac::{Hmac, Mac};

fn mac(key: &[u8], parts: &[&[u8]]) -> Hmac<sha2::Sha256> {
    let mut m = Hmac::<sha2::Sha256>::new_from_slice(key).expect("any key length works");
    for p in parts {
        m.update(p);
    }
    m
}

/// HMAC-SHA256 with `key` over `parts`, one after the other.
pub fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    mac(key, parts).finalize().into_bytes().to_vec()
}

/// Whether `sent` is the HMAC-SHA256 with `key` over `parts`, compared in constant time.
pub fn verify(key: &[u8], parts: &[&[u8]], sent: &[u8]) -> bool {
    mac(key, parts).verify_slice(sent).is_ok()
}

/// Whether `a` and `b` are equal, in time that does not depend on where they differ.
pub fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Hex (either case) as bytes; `None` when it is not hex.
pub fn hex_decode(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_4231_case_2_and_hex_both_ways() {
        let mac = hmac_sha256(b"Jefe", &[b"what do ya want ", b"for nothing?"]);
        let expected = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
        assert_eq!(hex(&mac), expected);
        assert_eq!(hex_decode(&expected.to_uppercase()), Some(mac.clone()));
        assert!(verify(b"Jefe", &[b"what do ya want for nothing?"], &mac));
        assert!(!verify(b"Jefe", &[b"what do ya want for nothing!"], &mac));
        assert_eq!(hex_decode("abc"), None);
        assert_eq!(hex_decode("zz"), None);
    }
}
