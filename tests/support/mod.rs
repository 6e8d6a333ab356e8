//! What the property tests share. Not a test crate of its own: `tests/*.rs` include it.

use promptly::{PauseOn, Policy, SlaDuration, Target, WarningThreshold};
use proptest::prelude::*;
use std::ops::Range;

/// Random policies: each target absent or one of `targets`, business hours or not, a warning
/// as a percentage or a fixed threshold in `fixed_warnings`, any statuses pausing. Targets and
/// thresholds are in the unit `unit` reads (`SlaDuration::from_secs`, `from_minutes`).
pub fn policies(
    targets: Vec<i64>,
    fixed_warnings: Range<i64>,
    unit: fn(i64) -> Option<SlaDuration>,
) -> impl Strategy<Value = Policy> {
    let target = prop::option::of(prop::sample::select(targets));
    let warning = prop_oneof![
        (0u8..=100).prop_map(WarningThreshold::Percent),
        fixed_warnings.prop_map(move |w| WarningThreshold::Fixed(unit(w).unwrap())),
    ];
    (
        target.clone(),
        target.clone(),
        target,
        any::<bool>(),
        warning,
        any::<(bool, bool)>(),
    )
        .prop_map(
            move |(f, n, r, business_hours_only, warning, (pending, snoozed))| Policy {
                first_response: f.and_then(unit).map(Target::Counted),
                next_response: n.and_then(unit).map(Target::Counted),
                resolution: r.and_then(unit).map(Target::Counted),
                business_hours_only,
                warning,
                pause_on: PauseOn { pending, snoozed },
            },
        )
}

/// The event kinds random conversations are made of, as a weighted `prop_oneof!`: customer
/// messages (weight `customer`), agent replies (4), a private note, a bot and a system message
/// (1 each), status changes (weight `status`), a bot hand-over (1), then the `weight => strategy`
/// arms given after those.
macro_rules! event_kinds {
    (customer: $customer:expr, status: $status:expr $(, $weight:expr => $extra:expr)* $(,)?) => {{
        use promptly::ConversationStatus::*;
        use promptly::{Author, EventKind};
        prop_oneof![
            $customer => Just(EventKind::Message { author: Author::Customer, private: false }),
            4 => Just(EventKind::Message { author: Author::Agent, private: false }),
            1 => Just(EventKind::Message { author: Author::Agent, private: true }),
            1 => Just(EventKind::Message { author: Author::Bot, private: false }),
            1 => Just(EventKind::Message { author: Author::System, private: false }),
            $status => prop::sample::select(vec![Open, Pending, Snoozed, Resolved])
                .prop_map(|status| EventKind::Status { status }),
            1 => Just(EventKind::Handover),
            $($weight => $extra,)*
        ]
    }};
}

pub(crate) use event_kinds;
