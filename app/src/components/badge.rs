//! The countdown badge: one per conversation, for its most urgent running clock. Every badge
//! on a page reads one shared clock signal that ticks each second in the browser; the text
//! and colour come from the domain crate's engine (`promptly::badge::project`).

use chrono::{DateTime, Utc};
use leptos::prelude::*;
use promptly::badge::{next_display_change, project, tone};
use promptly::{ClockState, Metric, MetricStatus};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The page's badge clock: one interval in the browser for every badge on the page. Each
/// badge registers the instant its text or colour next changes
/// ([`promptly::badge::next_display_change`]); a tick re-projects only the badges whose
/// instant has passed, so a page of 2,000 badges does per second the work of the few that
/// change, not of all of them.
#[derive(Clone, Copy)]
pub struct Tick(StoredValue<BadgeQueue>);

/// Badges waiting for their next change, by instant (then registration order).
#[derive(Default)]
pub struct BadgeQueue {
    next_id: u64,
    due: BTreeMap<(DateTime<Utc>, u64), Waiting>,
}

/// A badge's metric as evaluated, and the signal its view reads.
type Waiting = (Arc<MetricStatus>, RwSignal<MetricStatus>);

impl BadgeQueue {
    fn schedule(
        &mut self,
        metric: Arc<MetricStatus>,
        shown: RwSignal<MetricStatus>,
        after: DateTime<Utc>,
    ) {
        if let Some(at) = next_display_change(&metric, after) {
            self.next_id += 1;
            self.due.insert((at, self.next_id), (metric, shown));
        }
    }

    /// Re-projects the badges whose change instant is at or before `now`.
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    fn advance(&mut self, now: DateTime<Utc>) {
        while let Some(entry) = self.due.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let (metric, shown) = entry.remove();
            // A badge that left the page has a disposed signal: it is dropped here.
            if shown.try_update(|s| *s = project(&metric, now)).is_some() {
                self.schedule(metric, shown, now);
            }
        }
    }
}

impl Tick {
    /// Creates the page's badge clock; in the browser one interval advances it every second.
    pub fn start() -> Tick {
        let queue = StoredValue::new(BadgeQueue::default());
        #[cfg(feature = "hydrate")]
        Effect::new(move |_| {
            let read = || DateTime::<Utc>::from_timestamp_millis(js_sys::Date::now() as i64);
            if let Ok(handle) = set_interval_with_handle(
                move || {
                    if let Some(now) = read() {
                        queue.update_value(|q| q.advance(now));
                    }
                },
                std::time::Duration::from_secs(1),
            ) {
                on_cleanup(move || handle.clear());
            }
        });
        Tick(queue)
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

/// A badge for `metric` as evaluated at `evaluated_at`, carried forward by the page's clock.
#[component]
pub fn Badge(metric: MetricStatus, evaluated_at: DateTime<Utc>) -> impl IntoView {
    // Rendered as evaluated; the clock re-projects it when its text or colour changes.
    let current = RwSignal::new(project(&metric, evaluated_at));
    if let Some(Tick(queue)) = use_context::<Tick>() {
        queue.update_value(|q| q.schedule(Arc::new(metric), current, evaluated_at));
    }
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
