//! Times as the viewer reads them: every instant a page shows goes through [`local`] (or
//! [`local_minutes`]), in the signed-in user's zone (`PATCH /api/v1/me`), else the browser's,
//! else UTC, with the zone's abbreviation. What belongs to a calendar (business hours, the
//! wallboard's intervals) stays in the calendar's zone; the API stays in UTC.

use chrono::{DateTime, Utc};
use leptos::prelude::*;
pub use promptly::local_time::ViewerZone;

/// The viewer's zone, fetched once per page load by the shell ([`crate::api::get_zone`]).
#[derive(Clone, Copy)]
pub struct Zone(pub Resource<Result<ViewerZone, ServerFnError>>);

/// The viewer's zone as a page finds it: taken when the page is built, awaited in its
/// `Suspend` ([`ZoneOf::read`]).
#[derive(Clone, Copy)]
pub struct ZoneOf(Option<Zone>);

/// The shell's [`Zone`] (UTC outside the shell).
pub fn use_zone() -> ZoneOf {
    ZoneOf(use_context::<Zone>())
}

impl ZoneOf {
    /// The viewer's zone; UTC when it could not be read.
    pub async fn read(self) -> ViewerZone {
        match self.0 {
            Some(Zone(z)) => z.await.unwrap_or_default(),
            None => ViewerZone::utc(),
        }
    }
}

/// "2026-12-07 14:05:09 CET".
pub fn local(t: DateTime<Utc>, zone: &ViewerZone) -> String {
    zone.seconds(t)
}

/// "2026-12-07 14:05 CET".
pub fn local_minutes(t: DateTime<Utc>, zone: &ViewerZone) -> String {
    zone.minutes(t)
}

/// [`local_minutes`] of an RFC 3339 text (the text itself when it is not one).
pub fn local_minutes_of(rfc3339: &str, zone: &ViewerZone) -> String {
    zone.minutes_of(rfc3339)
}

/// Tells the server the browser's time zone (`Intl`), in a cookie that the next pages are
/// rendered with while the user has chosen none. The first page before it is in UTC, which
/// its times say.
#[cfg(feature = "hydrate")]
pub fn remember_browser_zone() {
    use wasm_bindgen::JsValue;
    let options = js_sys::Intl::DateTimeFormat::new(&js_sys::Array::new(), &js_sys::Object::new())
        .resolved_options();
    let Some(zone) = js_sys::Reflect::get(&options, &JsValue::from_str("timeZone"))
        .ok()
        .and_then(|z| z.as_string())
    else {
        return;
    };
    // An IANA name; nothing that could end the cookie or add an attribute.
    let plausible = !zone.is_empty()
        && zone.len() <= 64
        && zone
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/_+-".contains(&b));
    let Some(document) = web_sys::window().and_then(|w| w.document()) else {
        return;
    };
    let cookie = crate::api::BROWSER_ZONE_COOKIE;
    let current = js_sys::Reflect::get(&document, &JsValue::from_str("cookie"))
        .ok()
        .and_then(|c| c.as_string())
        .unwrap_or_default();
    let already = current
        .split(';')
        .any(|kv| kv.trim() == format!("{cookie}={zone}"));
    if plausible && !already {
        let value = format!("{cookie}={zone}; Path=/; Max-Age=31536000; SameSite=Lax");
        let _ = js_sys::Reflect::set(
            &document,
            &JsValue::from_str("cookie"),
            &JsValue::from_str(&value),
        );
    }
}
