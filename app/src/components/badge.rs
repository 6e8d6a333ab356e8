//! The countdown badge: one per conversation, for its most urgent running clock. Every badge
//! on a page reads one shared clock signal that ticks each second in the browser; the text
//! and colour come from the domain crate's engine (`promptly::badge::project`).

use chrono::{DateTime, Utc};
use leptos::prelude::*;
use promptly::badge::{project, tone};
use promptly::{ClockState, Metric, MetricStatus};

/// The page's clock: `None` until the browser's first tick, so the hydrated page starts
/// from exactly what the server rendered.
#[derive(Clone, Copy)]
pub struct Tick(pub RwSignal<Option<DateTime<Utc>>>);

impl Tick {
    /// Creates the shared clock; in the browser one interval advances it every second.
    pub fn start() -> Tick {
        let now = RwSignal::new(None);
        #[cfg(feature = "hydrate")]
        Effect::new(move |_| {
            let read = || DateTime::<Utc>::from_timestamp_millis(js_sys::Date::now() as i64);
            if let Ok(handle) =
                set_interval_with_handle(move || now.set(read()), std::time::Duration::from_secs(1))
            {
                on_cleanup(move || handle.clear());
            }
        });
        Tick(now)
    }
}

pub fn metric_name(m: Metric) -> &'static str {
    match m {
        Metric::FirstResponse => "First response",
        Metric::NextResponse => "Next response",
        Metric::Resolution => "Resolution",
    }
}

fn spoken(p: &MetricStatus) -> String {
    let name = metric_name(p.metric);
    match p.state {
        ClockState::Breached => format!("{name}: breached {} ago", p.text.trim_start_matches('-')),
        ClockState::Warning => format!("{name}: running out, {} left", p.text),
        ClockState::Ok => format!("{name}: {} left", p.text),
        ClockState::Paused => format!("{name}: paused"),
        ClockState::Met => format!("{name}: met"),
        ClockState::Missed => format!("{name}: missed"),
        ClockState::NotStarted => format!("{name}: not started"),
    }
}

/// A badge for `metric` as evaluated at `evaluated_at`, carried forward by the page's tick.
#[component]
pub fn Badge(metric: MetricStatus, evaluated_at: DateTime<Utc>) -> impl IntoView {
    let tick = use_context::<Tick>().map(|t| t.0);
    let metric = StoredValue::new(metric);
    let current = Memo::new(move |_| {
        let at = tick.and_then(|t| t.get()).unwrap_or(evaluated_at);
        metric.with_value(|m| project(m, at))
    });
    view! {
        <span
            class=move || format!("badge {}", tone(current.with(|p| p.state)))
            data-state=move || current.with(|p| format!("{:?}", p.state).to_lowercase())
            title=move || current.with(|p| metric_name(p.metric))
            aria-label=move || current.with(spoken)
        >
            {move || current.with(|p| if p.state == ClockState::Paused { "paused".to_string() } else { p.text.clone() })}
        </span>
    }
}
