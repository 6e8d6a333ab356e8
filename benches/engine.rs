//! Criterion benchmarks of the SLA engine: a busy conversation's full state, and deadlines.

use chrono::{DateTime, Duration, Utc};
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use promptly::{
    evaluate, Author, BusinessCalendar, ConversationStatus, Event, Policy, SlaDuration,
};

fn office() -> BusinessCalendar {
    serde_json::from_str(
        r#"{"timezone": "Europe/Amsterdam",
            "hours": {"mon": ["09:00-17:00"], "tue": ["09:00-12:00", "13:00-17:00"], "wed": ["09:00-17:00"],
                      "thu": ["09:00-17:00"], "fri": ["09:00-17:00"]},
            "holidays": ["2026-12-25"], "overrides": {"2026-12-24": ["09:00-13:00"]}}"#,
    )
    .unwrap()
}

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

/// Fifty events over a working week: customer messages and replies, private notes, bot and
/// system messages, waits on the customer, a policy change, and a wait still running.
fn busy_conversation() -> Vec<Event> {
    let start = at("2026-11-16T08:40:00Z");
    let mut events = vec![
        Event::created(start),
        Event::message(start, Author::Customer),
    ];
    let mut t = start;
    let mut step = |minutes: i64| {
        t += Duration::minutes(minutes);
        t
    };
    for round in 0..8 {
        events.push(Event::message(step(17), Author::Agent));
        events.push(Event::private_note(step(3)));
        events.push(Event::status(step(1), ConversationStatus::Pending));
        events.push(Event::message(step(95), Author::Customer));
        events.push(Event::message(step(2), Author::Customer));
        events.push(Event::message(step(1), Author::System));
        if round == 3 {
            let policy: Policy = serde_json::from_str(
                r#"{"first_response": "30m", "next_response": "2h", "resolution": "3d", "business_hours_only": true}"#,
            )
            .unwrap();
            events.push(Event::apply_policy(step(1), policy));
        }
    }
    events.push(Event::message(step(40), Author::Bot));
    events.truncate(50);
    assert_eq!(events.len(), 50);
    events
}

fn engine(c: &mut Criterion) {
    let calendar = office();
    let policy: Policy = serde_json::from_str(
        r#"{"first_response": "30m", "next_response": "1h", "resolution": "2d", "business_hours_only": true, "warning": "25%"}"#,
    )
    .unwrap();
    let events = busy_conversation();
    let now = at("2026-11-20T15:00:00Z");
    // Builds the calendar's deadline table once, as a running server or page already has.
    evaluate(&policy, Some(&calendar), &events, now);

    c.bench_function("evaluate 50-event conversation (business hours)", |b| {
        b.iter(|| evaluate(black_box(&policy), Some(&calendar), black_box(&events), now))
    });
    let wall = Policy {
        business_hours_only: false,
        ..policy
    };
    c.bench_function("evaluate 50-event conversation (all time)", |b| {
        b.iter(|| evaluate(black_box(&wall), None, black_box(&events), now))
    });

    let starts: Vec<(DateTime<Utc>, SlaDuration)> = (0..1000_i64)
        .map(|i| {
            let start = at("2026-01-05T00:00:00Z") + Duration::seconds(i * 31_337 % (360 * 86_400));
            let target = [300, 1800, 3600, 4 * 3600, 8 * 3600, 24 * 3600][i as usize % 6];
            (start, SlaDuration::from_secs(target).unwrap())
        })
        .collect();
    let mut group = c.benchmark_group("calendar");
    group.throughput(Throughput::Elements(starts.len() as u64));
    group.bench_function("1000 deadlines (precomputed table)", |b| {
        b.iter(|| {
            for &(start, target) in black_box(&starts) {
                black_box(calendar.add_open_time(start, target));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, engine);
criterion_main!(benches);
