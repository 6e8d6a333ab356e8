//! Instants as a person reads them: in their own time zone (a per-user setting, an IANA
//! name), with the zone's abbreviation, e.g. "2026-12-07 14:05:09 CET". The API stays in UTC.
//!
//! The server resolves the zone into the offsets it takes around now
//! ([`ViewerZone::around`], which reads chrono-tz's tables) and the pages format with that
//! alone ([`ViewerZone::seconds`], [`ViewerZone::minutes`]), in the browser as on the
//! server: the browser gets the same text without the zone tables in its WebAssembly.

use chrono::{DateTime, FixedOffset, Offset, TimeZone, Utc};
use chrono_tz::{OffsetName, Tz};
use serde::{Deserialize, Serialize};

/// How far before and after now a zone's offsets are resolved; an instant further away is
/// shown in UTC (and says so).
pub const REACH_DAYS: i64 = 5 * 366;

/// The IANA names a user may choose (the tz database the server parses with).
pub fn zone_names() -> impl Iterator<Item = &'static str> {
    chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name())
}

/// Reads a user's time zone setting: an IANA name from the tz database the server uses.
pub fn parse_zone(name: &str) -> Result<Tz, String> {
    name.trim()
        .parse::<Tz>()
        .map_err(|_| "Unknown time zone: use an IANA name such as Europe/Amsterdam.".to_string())
}

/// One offset from an instant on: (Unix seconds, offset east of UTC in seconds,
/// abbreviation).
type Span = (i64, i32, String);

/// A viewer's time zone as the pages format with: its offsets from `spans[0].0` until
/// `until` (Unix seconds, exclusive).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViewerZone {
    /// The IANA name ("UTC" for a viewer without a zone).
    pub name: String,
    spans: Vec<Span>,
    until: i64,
}

impl Default for ViewerZone {
    fn default() -> Self {
        ViewerZone::utc()
    }
}

impl ViewerZone {
    /// UTC, at every instant.
    pub fn utc() -> Self {
        ViewerZone {
            name: "UTC".into(),
            spans: vec![(i64::MIN, 0, "UTC".into())],
            until: i64::MAX,
        }
    }

    /// `tz`'s offsets from [`REACH_DAYS`] before `now` to as many after.
    pub fn around(tz: Tz, now: DateTime<Utc>) -> Self {
        let now = now.timestamp();
        let (start, until) = (now - REACH_DAYS * 86_400, now + REACH_DAYS * 86_400);
        let at = |s: i64| -> (i32, String) {
            let utc = DateTime::from_timestamp(s, 0)
                .unwrap_or_default()
                .naive_utc();
            let o = tz.offset_from_utc_datetime(&utc);
            let abbr = o
                .abbreviation()
                .map_or_else(|| numeric(o.fix().local_minus_utc()), str::to_string);
            (o.fix().local_minus_utc(), abbr)
        };
        let first = at(start);
        let mut spans = vec![(start, first.0, first.1)];
        // Zones change offset at most a few times a year, never twice within six hours:
        // look every six hours and find each change to the second.
        const STEP: i64 = 6 * 3600;
        let mut s = start;
        while s < until {
            let next = (s + STEP).min(until - 1);
            let last = spans.last().expect("one span at least");
            let here = at(next);
            if (here.0, &here.1) != (last.1, &last.2) {
                let (mut lo, mut hi) = (s, next);
                while hi - lo > 1 {
                    let mid = lo + (hi - lo) / 2;
                    let m = at(mid);
                    if (m.0, &m.1) == (last.1, &last.2) {
                        lo = mid;
                    } else {
                        hi = mid;
                    }
                }
                spans.push((hi, here.0, here.1));
            }
            if next == until - 1 {
                break;
            }
            s = next;
        }
        ViewerZone {
            name: tz.name().to_string(),
            spans,
            until,
        }
    }

    /// `t` on the viewer's wall clock and the zone's abbreviation then; UTC beyond the
    /// offsets the zone was resolved for.
    fn local(&self, t: DateTime<Utc>) -> (DateTime<FixedOffset>, &str) {
        let s = t.timestamp();
        let i = self.spans.partition_point(|span| span.0 <= s);
        match (i, s < self.until) {
            (1.., true) => {
                let (_, offset, abbr) = &self.spans[i - 1];
                let fixed = FixedOffset::east_opt(*offset).unwrap_or(Utc.fix());
                (t.with_timezone(&fixed), abbr.as_str())
            }
            _ => (t.with_timezone(&Utc.fix()), "UTC"),
        }
    }

    /// "2026-12-07 14:05:09 CET".
    pub fn seconds(&self, t: DateTime<Utc>) -> String {
        let (local, abbr) = self.local(t);
        format!("{} {abbr}", local.format("%Y-%m-%d %H:%M:%S"))
    }

    /// "2026-12-07 14:05 CET".
    pub fn minutes(&self, t: DateTime<Utc>) -> String {
        let (local, abbr) = self.local(t);
        format!("{} {abbr}", local.format("%Y-%m-%d %H:%M"))
    }

    /// [`ViewerZone::minutes`] of an RFC 3339 text; the text itself when it is not one.
    pub fn minutes_of(&self, rfc3339: &str) -> String {
        crate::instant::parse_rfc3339(rfc3339)
            .map_or_else(|_| rfc3339.to_string(), |t| self.minutes(t))
    }
}

/// "+0530", "-03": how tz names a zone without an abbreviation.
fn numeric(offset: i32) -> String {
    let sign = if offset < 0 { '-' } else { '+' };
    let m = offset.unsigned_abs() / 60;
    match m % 60 {
        0 => format!("{sign}{:02}", m / 60),
        r => format!("{sign}{:02}{r:02}", m / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn zone(name: &str, now: &str) -> ViewerZone {
        ViewerZone::around(name.parse().unwrap(), at(now))
    }

    #[test]
    fn winter_and_summer_in_amsterdam() {
        let z = zone("Europe/Amsterdam", "2026-12-07T12:00:00Z");
        assert_eq!(
            z.seconds(at("2026-12-07T12:00:00Z")),
            "2026-12-07 13:00:00 CET"
        );
        assert_eq!(
            z.minutes(at("2026-07-01T12:00:00Z")),
            "2026-07-01 14:00 CEST"
        );
    }

    #[test]
    fn the_dst_boundaries_to_the_second() {
        let z = zone("Europe/Amsterdam", "2026-12-07T12:00:00Z");
        // Spring forward: 2026-03-29 01:00 UTC, 02:00 CET becomes 03:00 CEST.
        assert_eq!(
            z.seconds(at("2026-03-29T00:59:59Z")),
            "2026-03-29 01:59:59 CET"
        );
        assert_eq!(
            z.seconds(at("2026-03-29T01:00:00Z")),
            "2026-03-29 03:00:00 CEST"
        );
        // Fall back: 2026-10-25 01:00 UTC, 03:00 CEST becomes 02:00 CET (02:xx twice).
        assert_eq!(
            z.seconds(at("2026-10-25T00:59:59Z")),
            "2026-10-25 02:59:59 CEST"
        );
        assert_eq!(
            z.seconds(at("2026-10-25T01:00:00Z")),
            "2026-10-25 02:00:00 CET"
        );
        // New York, the other side of the world's rules.
        let ny = zone("America/New_York", "2026-12-07T12:00:00Z");
        assert_eq!(
            ny.seconds(at("2026-03-08T06:59:59Z")),
            "2026-03-08 01:59:59 EST"
        );
        assert_eq!(
            ny.seconds(at("2026-03-08T07:00:00Z")),
            "2026-03-08 03:00:00 EDT"
        );
    }

    #[test]
    fn every_instant_in_reach_agrees_with_chrono_tz() {
        let tz: Tz = "America/Santiago".parse().unwrap();
        let z = ViewerZone::around(tz, at("2026-12-07T12:00:00Z"));
        let mut s = at("2022-01-01T00:00:00Z").timestamp();
        while s < at("2031-01-01T00:00:00Z").timestamp() {
            let t = DateTime::from_timestamp(s, 0).unwrap();
            let local = t.with_timezone(&tz);
            assert_eq!(z.local(t).0.naive_local(), local.naive_local(), "{t}");
            s += 3 * 3600 + 17;
        }
    }

    #[test]
    fn tokyo_and_zones_without_an_abbreviation() {
        let z = zone("Asia/Tokyo", "2026-12-07T12:00:00Z");
        assert_eq!(
            z.seconds(at("2026-12-07T12:00:00Z")),
            "2026-12-07 21:00:00 JST"
        );
        assert_eq!(z.spans.len(), 1);
        let kolkata = zone("Asia/Kolkata", "2026-12-07T12:00:00Z");
        assert_eq!(
            kolkata.minutes(at("2026-12-07T12:00:00Z")),
            "2026-12-07 17:30 IST"
        );
        let dubai = zone("Asia/Dubai", "2026-12-07T12:00:00Z");
        assert_eq!(
            dubai.minutes(at("2026-12-07T12:00:00Z")),
            "2026-12-07 16:00 +04"
        );
    }

    #[test]
    fn out_of_reach_and_unset_read_utc() {
        let z = zone("Europe/Amsterdam", "2026-12-07T12:00:00Z");
        assert_eq!(
            z.seconds(at("2015-06-01T12:00:00Z")),
            "2015-06-01 12:00:00 UTC"
        );
        assert_eq!(
            z.seconds(at("2040-06-01T12:00:00Z")),
            "2040-06-01 12:00:00 UTC"
        );
        let utc = ViewerZone::utc();
        assert_eq!(
            utc.seconds(at("2026-12-07T12:00:00Z")),
            "2026-12-07 12:00:00 UTC"
        );
        assert_eq!(
            utc.minutes_of("2026-12-07T12:00:30Z"),
            "2026-12-07 12:00 UTC"
        );
        assert_eq!(utc.minutes_of("soon"), "soon");
    }

    #[test]
    fn zone_names_are_checked() {
        assert_eq!(
            parse_zone("Europe/Amsterdam").unwrap(),
            Tz::Europe__Amsterdam
        );
        assert!(parse_zone("Mars/Olympus").is_err());
        assert!(parse_zone("").is_err());
    }

    #[test]
    fn it_travels_as_json() {
        let z = zone("Europe/Amsterdam", "2026-12-07T12:00:00Z");
        let back: ViewerZone = serde_json::from_str(&serde_json::to_string(&z).unwrap()).unwrap();
        assert_eq!(back, z);
        // Ten years of a zone with summer time: about twenty changes.
        assert!((19..=23).contains(&z.spans.len()), "{}", z.spans.len());
    }
}
