//! Instants on the wire (RFC 3339 in, UTC with a "Z" out) and the whole seconds the engine counts in.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{de, Deserialize, Deserializer, Serializer};

/// Unix seconds: the engine's resolution. Breaches are detected "to the second", and whole
/// seconds make every deadline exact and every comparison cheap.
pub(crate) type Secs = i64;

/// The whole second containing `t` (a fraction is dropped, so 09:15:00.9 counts as 09:15:00).
pub fn whole_second(t: DateTime<Utc>) -> Secs {
    t.timestamp()
}

/// The instant `secs` seconds after the Unix epoch.
pub fn from_whole_second(secs: Secs) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0).expect("engine instants stay inside chrono's range")
}

/// "2026-11-23T08:15:00Z"; a fraction of a second only when there is one.
pub fn format_utc(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// Parses an RFC 3339 timestamp with any offset, e.g. "2026-11-23T09:20:00+01:00".
pub fn parse_rfc3339(text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| {
            format!("{text:?} is not an RFC 3339 timestamp (e.g. \"2026-11-23T09:20:00+01:00\")")
        })
}

/// An instant written in the code (a constant, a test's times): RFC 3339 with any offset.
///
/// # Panics
/// On a malformed one, naming it.
pub fn utc(text: &str) -> DateTime<Utc> {
    parse_rfc3339(text).unwrap_or_else(|e| panic!("{e}"))
}

/// Serde for `DateTime<Utc>` fields: RFC 3339 with a clear error, written back in UTC.
pub mod rfc3339 {
    use super::*;

    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_utc(*t))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let text = String::deserialize(d)?;
        parse_rfc3339(&text).map_err(de::Error::custom)
    }
}

/// Serde for `Option<DateTime<Utc>>` fields; `null` is `None`.
pub mod option_rfc3339 {
    use super::*;

    pub fn serialize<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => s.serialize_str(&format_utc(*t)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
        match Option::<String>::deserialize(d)? {
            Some(text) => parse_rfc3339(&text).map(Some).map_err(de::Error::custom),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_offsets_and_writes_utc_with_z() {
        let t = parse_rfc3339("2026-11-23T09:20:00+01:00").unwrap();
        assert_eq!(format_utc(t), "2026-11-23T08:20:00Z");
        let t = parse_rfc3339("2026-11-23T09:20:00.250Z").unwrap();
        assert_eq!(format_utc(t), "2026-11-23T09:20:00.250Z");
        assert_eq!(
            format_utc(from_whole_second(whole_second(t))),
            "2026-11-23T09:20:00Z"
        );
    }

    #[test]
    fn rejects_timestamps_without_offset_or_date() {
        for bad in [
            "2026-11-23 09:20",
            "2026-11-23T09:20:00",
            "yesterday",
            "2026-13-01T00:00:00Z",
        ] {
            let err = parse_rfc3339(bad).unwrap_err();
            assert!(err.contains("is not an RFC 3339 timestamp"), "{err}");
        }
    }
}
