//! What this server counts for `/metrics` (Prometheus' text format 0.0.4): counters and
//! histograms kept in memory as things happen, and gauges read at each scrape (the outbox's
//! backlog, the database pool). One registry per server process ([`AppState::metrics`]);
//! each series and its help text is defined here once, and the README lists them.
//!
//! [`AppState::metrics`]: crate::state::AppState::metrics

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Bucket bounds (seconds) of request latencies.
const REQUEST_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Bucket bounds (seconds) of the delay from an SLA instant to its committed firing.
const FIRING_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// A histogram of fixed buckets (cumulative when written out).
#[derive(Debug, Clone)]
struct Histogram {
    bounds: &'static [f64],
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    fn new(bounds: &'static [f64]) -> Histogram {
        Histogram {
            bounds,
            counts: vec![0; bounds.len()],
            sum: 0.0,
            count: 0,
        }
    }

    fn observe(&mut self, v: f64) {
        let v = v.max(0.0);
        if let Some(i) = self.bounds.iter().position(|b| v <= *b) {
            self.counts[i] += 1;
        }
        self.sum += v;
        self.count += 1;
    }

    fn write(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        let mut running = 0;
        for (bound, n) in self.bounds.iter().zip(&self.counts) {
            running += n;
            let _ = writeln!(
                out,
                "{name}_bucket{{{labels}{sep}le=\"{bound}\"}} {running}"
            );
        }
        let _ = writeln!(
            out,
            "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {}",
            self.count
        );
        let _ = writeln!(out, "{name}_sum{} {}", braces(labels), self.sum);
        let _ = writeln!(out, "{name}_count{} {}", braces(labels), self.count);
    }
}

fn braces(labels: &str) -> String {
    if labels.is_empty() {
        String::new()
    } else {
        format!("{{{labels}}}")
    }
}

/// A label value as the text format quotes it.
fn quoted(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// An outbox receiver's attempts so far.
#[derive(Debug, Default, Clone, Copy)]
struct Attempts {
    delivered: u64,
    failed: u64,
}

/// The server's counters and histograms.
#[derive(Debug, Default)]
pub struct Metrics {
    ingest_accepted: AtomicU64,
    ingest_duplicates: AtomicU64,
    /// (method, route, status class) → latency.
    requests: Mutex<BTreeMap<(String, String, &'static str), Histogram>>,
    /// SLA event (`sla.warning`, `sla.breached`) → delay from its instant to its firing.
    firings: Mutex<BTreeMap<String, Histogram>>,
    /// Receiver (host:port) → attempts.
    outbox: Mutex<BTreeMap<String, Attempts>>,
    open_streams: Arc<AtomicI64>,
    compliance_hits: AtomicU64,
    compliance_misses: AtomicU64,
}

/// Held while a live stream is open.
pub struct OpenStream(Arc<AtomicI64>);

impl Drop for OpenStream {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// What a scrape reads from the database at that moment.
#[derive(Debug, Default, Clone)]
pub struct Gauges {
    /// Pending deliveries per receiver.
    pub outbox_backlog: Vec<(String, i64)>,
    pub pool: crate::store::PoolUse,
    /// Whether the database answered.
    pub database_up: bool,
    /// (commits, batches) of this server's ingest (`Store::ingest_commits`).
    pub ingest_commits: (u64, u64),
}

impl Metrics {
    /// A posted batch's outcome: events stored, and events acknowledged as repeats.
    pub fn ingested(&self, accepted: u64, duplicates: u64) {
        self.ingest_accepted.fetch_add(accepted, Ordering::Relaxed);
        self.ingest_duplicates
            .fetch_add(duplicates, Ordering::Relaxed);
    }

    /// A request answered: its method, its route as the router names it (`other` for the
    /// assets and anything unmatched), its status and how long until its headers.
    pub fn request(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let class = match status / 100 {
            1 => "1xx",
            2 => "2xx",
            3 => "3xx",
            4 => "4xx",
            _ => "5xx",
        };
        let mut r = self.requests.lock().unwrap_or_else(|p| p.into_inner());
        r.entry((method.to_string(), route.to_string(), class))
            .or_insert_with(|| Histogram::new(REQUEST_BUCKETS))
            .observe(seconds);
    }

    /// An SLA event committed `seconds` after its instant.
    pub fn fired(&self, event: &str, seconds: f64) {
        let mut f = self.firings.lock().unwrap_or_else(|p| p.into_inner());
        f.entry(event.to_string())
            .or_insert_with(|| Histogram::new(FIRING_BUCKETS))
            .observe(seconds);
    }

    /// A delivery attempt to `receiver` and whether it was delivered.
    pub fn attempt(&self, receiver: &str, delivered: bool) {
        let mut o = self.outbox.lock().unwrap_or_else(|p| p.into_inner());
        let a = o.entry(receiver.to_string()).or_default();
        if delivered {
            a.delivered += 1;
        } else {
            a.failed += 1;
        }
    }

    /// A live stream opened; it counts until the guard drops.
    pub fn stream_opened(&self) -> OpenStream {
        self.open_streams.fetch_add(1, Ordering::Relaxed);
        OpenStream(self.open_streams.clone())
    }

    /// A compliance figure read from the cache (`true`) or computed.
    pub fn compliance_lookup(&self, hit: bool) {
        if hit {
            &self.compliance_hits
        } else {
            &self.compliance_misses
        }
        .fetch_add(1, Ordering::Relaxed);
    }

    /// Everything, in the text format, with the gauges read for this scrape.
    pub fn render(&self, gauges: &Gauges) -> String {
        let mut out = String::new();
        let load = |n: &AtomicU64| n.load(Ordering::Relaxed);
        family(
            &mut out,
            "promptly_ingest_events_total",
            "counter",
            "Conversation events posted to this server, by outcome (accepted: stored; duplicate: an id already stored, acknowledged).",
            "outcome",
            [
                ("accepted", load(&self.ingest_accepted)),
                ("duplicate", load(&self.ingest_duplicates)),
            ],
        );

        header(
            &mut out,
            "promptly_http_request_duration_seconds",
            "histogram",
            "Time from a request's arrival to its answer's headers, by method, route and status class.",
        );
        let requests = self
            .requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        for ((method, route, class), h) in &requests {
            let labels = format!(
                "method=\"{}\",route=\"{}\",status=\"{class}\"",
                quoted(method),
                quoted(route)
            );
            h.write(&mut out, "promptly_http_request_duration_seconds", &labels);
        }

        header(
            &mut out,
            "promptly_sla_firing_delay_seconds",
            "histogram",
            "Delay from an SLA instant (a warning or breach due) to its firing committed by this server, by event.",
        );
        let firings = self
            .firings
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        for (event, h) in &firings {
            let labels = format!("event=\"{}\"", quoted(event));
            h.write(&mut out, "promptly_sla_firing_delay_seconds", &labels);
        }

        let attempts = self
            .outbox
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        family(
            &mut out,
            "promptly_outbox_attempts_total",
            "counter",
            "Delivery attempts (webhooks and channel sends) made by this server, by receiver (host:port).",
            "receiver",
            attempts
                .iter()
                .map(|(r, a)| (r.as_str(), a.delivered + a.failed)),
        );
        family(
            &mut out,
            "promptly_outbox_failures_total",
            "counter",
            "Delivery attempts that failed (to be tried again, or given up), by receiver.",
            "receiver",
            attempts.iter().map(|(r, a)| (r.as_str(), a.failed)),
        );
        family(
            &mut out,
            "promptly_outbox_backlog",
            "gauge",
            "Deliveries waiting to be delivered (all servers), by receiver.",
            "receiver",
            gauges
                .outbox_backlog
                .iter()
                .map(|(r, n)| (r.as_str(), *n as u64)),
        );
        family(
            &mut out,
            "promptly_ingest_commits_total",
            "counter",
            "Ingest transactions this server committed (on SQLite one carries every batch that arrived meanwhile).",
            "",
            [("", gauges.ingest_commits.0)],
        );
        family(
            &mut out,
            "promptly_ingest_batches_total",
            "counter",
            "Ingest batches those commits made durable.",
            "",
            [("", gauges.ingest_commits.1)],
        );
        family(
            &mut out,
            "promptly_open_streams",
            "gauge",
            "Live streams (server-sent events) open on this server.",
            "",
            [("", self.open_streams.load(Ordering::Relaxed).max(0) as u64)],
        );
        family(
            &mut out,
            "promptly_compliance_cache_lookups_total",
            "counter",
            "Compliance figures asked for, by result (hit: from this server's cache; miss: computed).",
            "result",
            [
                ("hit", load(&self.compliance_hits)),
                ("miss", load(&self.compliance_misses)),
            ],
        );
        let pool = &gauges.pool;
        family(
            &mut out,
            "promptly_db_pool_connections",
            "gauge",
            "Database pool connections, by state (in_use, idle) and the pool's maximum (max).",
            "state",
            [
                ("in_use", pool.size.saturating_sub(pool.idle)),
                ("idle", pool.idle),
                ("max", pool.max),
            ],
        );
        family(
            &mut out,
            "promptly_database_up",
            "gauge",
            "Whether the database answered at this scrape (1) or not (0).",
            "",
            [("", u64::from(gauges.database_up))],
        );
        out
    }
}

/// A family of plain series: its HELP and TYPE, then one line per value of `label` (none
/// when `label` is empty: one unlabelled series).
fn family<'a>(
    out: &mut String,
    name: &str,
    kind: &str,
    help: &str,
    label: &str,
    values: impl IntoIterator<Item = (&'a str, u64)>,
) {
    header(out, name, kind, help);
    for (v, n) in values {
        if label.is_empty() {
            let _ = writeln!(out, "{name} {n}");
        } else {
            let _ = writeln!(out, "{name}{{{label}=\"{}\"}} {n}", quoted(v));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_are_cumulative_and_labels_escaped() {
        let m = Metrics::default();
        m.request("GET", "/a\"b", 200, 0.003);
        m.request("GET", "/a\"b", 204, 0.2);
        m.request("GET", "/a\"b", 503, 20.0);
        let text = m.render(&Gauges::default());
        let series = "promptly_http_request_duration_seconds_bucket{method=\"GET\",route=\"/a\\\"b\",status=\"2xx\"";
        assert!(
            text.contains(&format!("{series},le=\"0.001\"}} 0\n")),
            "{text}"
        );
        assert!(text.contains(&format!("{series},le=\"0.005\"}} 1\n")));
        assert!(text.contains(&format!("{series},le=\"0.25\"}} 2\n")));
        assert!(text.contains(&format!("{series},le=\"+Inf\"}} 2\n")));
        assert!(text.contains(
            "promptly_http_request_duration_seconds_count{method=\"GET\",route=\"/a\\\"b\",status=\"5xx\"} 1\n"
        ));
        // Every series has its HELP and TYPE once.
        for name in [
            "promptly_ingest_events_total",
            "promptly_http_request_duration_seconds",
            "promptly_sla_firing_delay_seconds",
            "promptly_outbox_backlog",
            "promptly_open_streams",
            "promptly_db_pool_connections",
        ] {
            assert_eq!(
                text.matches(&format!("# TYPE {name} ")).count(),
                1,
                "{name}"
            );
        }
    }

    #[test]
    fn open_streams_count_until_their_guard_drops() {
        let m = Metrics::default();
        let a = m.stream_opened();
        let b = m.stream_opened();
        drop(a);
        assert!(m
            .render(&Gauges::default())
            .contains("promptly_open_streams 1\n"));
        drop(b);
        assert!(m
            .render(&Gauges::default())
            .contains("promptly_open_streams 0\n"));
    }
}
