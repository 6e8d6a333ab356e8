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

/// The first and the last second RFC 3339 can write in UTC (years 0000 to 9999): every
/// instant read from the wire, and every deadline the engine hands out, lies between them,
/// so whatever Promptly prints reads back (a deadline past the last one is never reached).
pub const EARLIEST: Secs = -62_167_219_200;
pub const LATEST: Secs = 253_402_300_799;

/// The instant `secs` seconds after the Unix epoch.
pub fn from_whole_second(secs: Secs) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0).expect("engine instants stay inside chrono's range")
}

/// "2026-11-23T08:15:00Z"; a fraction of a second only when there is one.
pub fn format_utc(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// Parses an RFC 3339 timestamp with any offset, e.g. "2026-11-23T09:20:00+01:00", whose
/// UTC instant lies in the years 0000 to 9999 (an offset can carry a local time at either
/// end outside them, where it could no longer be written in UTC).
pub fn parse_rfc3339(text: &str) -> Result<DateTime<Utc>, String> {
    let t = DateTime::parse_from_rfc3339(text.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| {
            format!("{text:?} is not an RFC 3339 timestamp (e.g. \"2026-11-23T09:20:00+01:00\")")
        })?;
    if !(EARLIEST..=LATEST).contains(&whole_second(t)) {
        return Err(format!(
            "{text:?} lies outside the years 0000 to 9999 in UTC"
        ));
    }
    Ok(t)
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

    /// Found by the `sla_check` fuzz target: "0000-01-01T00:00:00+23:59" is year -1 in UTC,
    /// and `sla check` printed it as "-0001-12-31T00:01:00Z", which no RFC 3339 reader takes.
    #[test]
    fn refuses_instants_outside_the_years_rfc_3339_writes_in_utc() {
        for bad in ["0000-01-01T00:00:00+00:01", "9999-12-31T23:59:59-00:01"] {
            let err = parse_rfc3339(bad).unwrap_err();
            assert!(err.contains("outside the years 0000 to 9999"), "{err}");
        }
        for (text, secs) in [
            ("0000-01-01T00:00:00Z", EARLIEST),
            ("9999-12-31T23:59:59Z", LATEST),
            ("9999-12-31T23:59:59.999Z", LATEST),
        ] {
            let t = parse_rfc3339(text).unwrap();
            assert_eq!(whole_second(t), secs);
            assert_eq!(parse_rfc3339(&format_utc(t)).unwrap(), t);
        }
    }
}
