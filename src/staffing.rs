//! Staffing what-if: how many agents a service-level target needs at a forecast volume.
//!
//! Plain maths, no I/O, the same on the server and in the browser (`wasm32`).
//!
//! # Notation
//!
//! For an interval of `interval_min` minutes with `transactions` contacts, each handled in
//! `aht_min` minutes on average: arrival rate `λ = transactions / interval_min` per minute,
//! service rate `μ = 1 / aht_min`, offered traffic `A = λ · aht_min` Erlangs, `n` agents on
//! the phones, and `T` the answer-time threshold of the service level ("80% within 20 s":
//! `service_level = 0.8`, `T = 1/3` minute).
//!
//! # Erlang C (M/M/n, nobody abandons)
//!
//! Erlang B by the stable recurrence `1/B(0) = 1`, `1/B(k) = 1 + (k / A) · 1/B(k-1)` (no
//! factorials, no powers; the inverse only grows, and an overflow to `inf` just means
//! `B = 0`). Then, for `n > A`:
//!
//! - probability of waiting `C(n, A) = n·B / (n − A·(1 − B))` (`1` when `n ≤ A`),
//! - service level `SL(T) = 1 − C · e^{−(n − A)·T / aht}`,
//! - average speed of answer (mean wait of all contacts) `ASA = C · aht / (n − A)`,
//! - occupancy `A / n`.
//!
//! [`ErlangC`] and [`required_positions`] reproduce Python's `pyworkforce.queuing.ErlangC`
//! (version 0.5.1) operation for operation, so they give the same floating-point numbers and
//! the same integer answers; see [`ErlangC::required_positions`] for its search and rounding.
//! [`erlang_c`], [`erlang_c_service_level`], [`erlang_c_asa`] and [`achieved`] are the
//! textbook functions for a given number of agents (defined for every `n`, also `n ≤ A`).
//!
//! # Erlang A (M/M/n+M: customers abandon after an exponential patience)
//!
//! With mean patience `p` minutes (abandonment rate `θ = 1/p`) the number in system is a
//! birth-death chain: births at `λ`; deaths at `kμ` for `k ≤ n` and `nμ + (k − n)θ` above.
//! With `x = nμ/θ`, `y = λ/θ` and weights relative to state `n`:
//!
//! - `L = Σ_{k<n} π_k/π_n = (n/A) / B(n−1, A)` (the Erlang B recurrence again),
//! - `t_m = π_{n+m}/π_n = Π_{k=1..m} y / (x + k)`, `U = Σ_{m≥0} t_m`,
//! - `P(wait) = U / (L + U)` (arrivals see time averages),
//! - `P(abandon) = θ·E[queue]/λ = Σ m·t_m / (y·(L + U))`.
//!
//! A contact that finds `j` waiting moves up at rate `nμ + iθ` with `i` ahead and abandons
//! at rate `θ`, so it is served with probability `nμ / (nμ + (j+1)θ)`, and, given that, its
//! wait is a sum of exponentials with rates `nμ + kθ`, `k = 1..j+1`. Weighted by the
//! stationary law, `P(served after waiting, j ahead) = (x/y)·π_{n+j+1}`, which gives
//!
//! - `ASA = E[wait | answered] = (x/y) Σ_{m≥1} t_m H_m / (L + (x/y)·Σ_{m≥1} t_m)` with
//!   `H_m = Σ_{k=1..m} 1/(nμ + kθ)`,
//! - `P(answered after waiting longer than T) = V(T)/(L + U)` where (summing the
//!   hypoexponential densities in closed form, `z = e^{−θT}`)
//!   `V(T) = x · z^{x+1} · e^{y(1−z)} · Σ_{k≥0} (yz)^k / Π_{i=1..k+1} (x + i)`
//!   (that is `x e^y y^{−(x+1)} γ(x+1, y z)` with the lower incomplete gamma function),
//! - service level = fraction of *all* arrivals answered within `T`
//!   `= (L + (x/y)·Σ_{m≥1} t_m − V(T)) / (L + U)`; contacts that abandon count as missed, so
//!   it never exceeds `1 − P(abandon)`.
//!
//! All series have positive terms only; they are summed with power-of-two rescaling (no
//! overflow for any load) and truncated once the geometric tail bound is below `1e-17` of
//! the sum. As `p → ∞` the results tend to Erlang C's.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Most agents any answer may need. Inputs that would need more are rejected by validation,
/// which bounds the work of every function here.
pub const MAX_AGENTS: u64 = 1_000_000;

/// Largest `λ · patience` (arrivals during one mean patience) accepted by [`ErlangA`]; the
/// Erlang A series need about that many terms when agents are far too few.
pub const MAX_PATIENCE_LOAD: f64 = 1e7;

// ---------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------

/// One rejected input field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    /// The JSON key (or parameter name) at fault, e.g. `"shrinkage"`.
    pub field: String,
    /// What is wrong, e.g. `"must be at least 0 and less than 1"`.
    pub message: String,
}

/// Every problem found with a staffing question, in field order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffingError {
    pub errors: Vec<FieldError>,
}

impl StaffingError {
    /// Whether `field` is among the rejected fields.
    pub fn has(&self, field: &str) -> bool {
        self.errors.iter().any(|e| e.field == field)
    }
}

impl fmt::Display for StaffingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{}: {}", e.field, e.message)?;
        }
        Ok(())
    }
}

impl std::error::Error for StaffingError {}

/// A [`StaffingError`] for the case at `index` of a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseError {
    pub index: usize,
    pub error: StaffingError,
}

impl fmt::Display for CaseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "case {}: {}", self.index, self.error)
    }
}

impl std::error::Error for CaseError {}

#[derive(Default)]
struct Checker(Vec<FieldError>);

impl Checker {
    fn fail(&mut self, field: &str, message: impl Into<String>) {
        self.0.push(FieldError {
            field: field.to_string(),
            message: message.into(),
        });
    }

    /// Finite and passing `ok`; records at most one error per field. Returns whether fine.
    fn check(&mut self, field: &str, value: f64, ok: fn(f64) -> bool, message: &str) -> bool {
        if !value.is_finite() {
            self.fail(field, "must be a finite number");
            false
        } else if !ok(value) {
            self.fail(field, message);
            false
        } else {
            true
        }
    }

    fn positive(&mut self, field: &str, value: f64) -> bool {
        self.check(field, value, |v| v > 0.0, "must be greater than 0")
    }

    fn fraction(&mut self, field: &str, value: f64) -> bool {
        self.check(
            field,
            value,
            |v| (0.0..=1.0).contains(&v),
            "must be between 0 and 1",
        )
    }

    fn occupancy(&mut self, field: &str, value: f64) -> bool {
        self.check(
            field,
            value,
            |v| v > 0.0 && v <= 1.0,
            "must be greater than 0 and at most 1",
        )
    }

    fn shrinkage(&mut self, field: &str, value: f64) -> bool {
        self.check(
            field,
            value,
            |v| (0.0..1.0).contains(&v),
            "must be at least 0 and less than 1",
        )
    }

    /// Refuses at `field` an offered `traffic` (Erlangs) that, at `occupancy`, would need
    /// more than [`MAX_AGENTS`] agents.
    fn traffic_limit(&mut self, field: &str, traffic: f64, occupancy: f64) {
        if traffic / occupancy > MAX_AGENTS as f64 {
            self.fail(field, agents_limit_message(traffic));
        }
    }

    fn finish(self) -> Result<(), StaffingError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(StaffingError { errors: self.0 })
        }
    }
}

fn agents_limit_message(traffic: f64) -> String {
    format!("offered traffic of {traffic} Erlangs would need more than {MAX_AGENTS} agents")
}

// ---------------------------------------------------------------------------------------
// The staffing question and answer
// ---------------------------------------------------------------------------------------

fn default_max_occupancy() -> f64 {
    1.0
}

/// One staffing question, with the JSON keys of the bench's case lines:
/// `{"transactions": 100, "aht_min": 3, "interval_min": 30, "asa_min": 0.333,
/// "service_level": 0.8, "max_occupancy": 0.85, "shrinkage": 0.3}`.
/// `max_occupancy` defaults to 1 and `shrinkage` to 0 (pyworkforce's defaults).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StaffingCase {
    /// Contacts arriving in the interval.
    pub transactions: f64,
    /// Average handling time, minutes.
    pub aht_min: f64,
    /// Interval length, minutes.
    pub interval_min: f64,
    /// Answer-time threshold of the service level, minutes (pyworkforce calls it `asa`, but
    /// it is the `T` of "answered within T", not an average-speed-of-answer target).
    pub asa_min: f64,
    /// Target fraction answered within `asa_min`, 0..=1.
    pub service_level: f64,
    /// Highest acceptable agent occupancy, in (0, 1].
    #[serde(default = "default_max_occupancy")]
    pub max_occupancy: f64,
    /// Fraction of paid time not on the phones, in [0, 1).
    #[serde(default)]
    pub shrinkage: f64,
}

impl StaffingCase {
    /// Offered traffic in Erlangs, computed as pyworkforce does:
    /// `(transactions / interval_min) * aht_min`.
    pub fn intensity(&self) -> f64 {
        (self.transactions / self.interval_min) * self.aht_min
    }
}

/// Checks every field of `case` and reports all problems at once: non-finite numbers,
/// `transactions`, `aht_min`, `interval_min`, `asa_min` not above 0, `service_level` outside
/// 0..=1, `max_occupancy` outside (0, 1], `shrinkage` outside [0, 1), and questions needing
/// more than [`MAX_AGENTS`] agents. pyworkforce rejects the same inputs, except that it
/// accepts `max_occupancy = 0` (and then divides by zero).
pub fn validate(case: &StaffingCase) -> Result<(), StaffingError> {
    let mut c = Checker::default();
    let tx = c.positive("transactions", case.transactions);
    let aht = c.positive("aht_min", case.aht_min);
    let interval = c.positive("interval_min", case.interval_min);
    c.positive("asa_min", case.asa_min);
    c.fraction("service_level", case.service_level);
    let occ = c.occupancy("max_occupancy", case.max_occupancy);
    c.shrinkage("shrinkage", case.shrinkage);
    if tx && aht && interval && occ {
        c.traffic_limit("transactions", case.intensity(), case.max_occupancy);
    }
    c.finish()
}

/// The answer to a staffing question.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = StaffingPositions)]
pub struct Positions {
    /// Agents needed on the phones (pyworkforce's `raw_positions`).
    pub raw_positions: u64,
    /// Agents to schedule once shrinkage is added: `ceil(raw_positions / (1 − shrinkage))`.
    pub positions: u64,
    /// Service level achieved with `raw_positions`.
    pub service_level: f64,
    /// Occupancy of the `raw_positions` agents.
    pub occupancy: f64,
    /// Probability that a contact waits at all.
    pub waiting_probability: f64,
    /// Probability that a contact abandons (always 0 under Erlang C).
    pub abandonment_probability: f64,
    /// Average speed of answer in minutes (Erlang C: mean wait of all contacts; Erlang A:
    /// mean wait of answered contacts).
    pub asa_min: f64,
    /// Offered traffic, Erlangs.
    pub intensity: f64,
    /// Whether `max_occupancy`, not the service-level target, set `raw_positions`.
    pub occupancy_capped: bool,
}

fn positions_after_shrinkage(raw: u64, shrinkage: f64) -> u64 {
    // pyworkforce: ceil(raw_positions / (1 - self.shrinkage)). Saturates near shrinkage 1.
    (raw as f64 / (1.0 - shrinkage)).ceil() as u64
}

/// Erlang C staffing exactly as pyworkforce's `ErlangC(...).required_positions(...)`.
///
/// # Panics
///
/// If `validate(case)` fails; use [`try_required_positions`] on untrusted input.
pub fn required_positions(case: &StaffingCase) -> Positions {
    match try_required_positions(case) {
        Ok(p) => p,
        Err(e) => panic!("invalid staffing case: {e}"),
    }
}

/// [`required_positions`] after [`validate`].
pub fn try_required_positions(case: &StaffingCase) -> Result<Positions, StaffingError> {
    validate(case)?;
    Ok(ErlangC::unchecked(case).solve(case.service_level, case.max_occupancy))
}

/// The bench's output: `"<raw_positions>,<positions>\n"` for every case, in order (hash it
/// to compare with `erlang_peer.py run`).
///
/// # Panics
///
/// If a case is invalid; use [`try_bench_lines`] on untrusted input.
pub fn bench_lines(cases: &[StaffingCase]) -> String {
    match try_bench_lines(cases) {
        Ok(s) => s,
        Err(e) => panic!("invalid staffing case: {e}"),
    }
}

/// [`bench_lines`], or the first invalid case.
pub fn try_bench_lines(cases: &[StaffingCase]) -> Result<String, CaseError> {
    use fmt::Write;
    let mut out = String::with_capacity(cases.len() * 8);
    for (index, case) in cases.iter().enumerate() {
        let p = try_required_positions(case).map_err(|error| CaseError { index, error })?;
        let _ = writeln!(out, "{},{}", p.raw_positions, p.positions);
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------
// pyworkforce's ErlangC, operation for operation
// ---------------------------------------------------------------------------------------

/// Python's `pyworkforce.queuing.ErlangC` (0.5.1), ported so that every result is the same
/// `f64` (same operations in the same order; checked on all 4080 bench grid cases: integers,
/// service level, occupancy and waiting probability bit for bit). `exp` is the platform's:
/// on `wasm32` (Rust's own libm) 18 of those 4080 service levels differ in the last bit,
/// and no integer answer changes.
///
/// Its methods are the raw formulas: `waiting_probability` etc. are meaningful only for
/// `positions > intensity` and give `NaN` where Python raises `ZeroDivisionError`
/// (`positions = 0`). Use [`erlang_c`] and friends for the textbook functions.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ErlangC {
    transactions: f64,
    aht: f64,
    asa: f64,
    interval: f64,
    shrinkage: f64,
    intensity: f64,
}

/// `1/B(n, a)` by pyworkforce's loop `inv = 1 + inv * position / intensity`.
fn py_inverse_erlang_b(n: u64, a: f64) -> f64 {
    let mut inv = 1.0;
    for position in 1..=n {
        inv = 1.0 + inv * position as f64 / a;
    }
    inv
}

/// pyworkforce's `waiting_probability` from `1/B(n)`.
fn py_waiting(n: u64, a: f64, inverse_b: f64) -> f64 {
    let erlang_b = 1.0 / inverse_b;
    let n = n as f64;
    n * erlang_b / (n - a * (1.0 - erlang_b))
}

impl ErlangC {
    /// `ErlangC(transactions, aht, asa, interval, shrinkage)`, with pyworkforce's checks
    /// (`transactions`, `aht`, `asa`, `interval` above 0, `shrinkage` in [0, 1)) plus
    /// finiteness and an offered traffic of at most [`MAX_AGENTS`] Erlangs.
    pub fn new(
        transactions: f64,
        aht: f64,
        asa: f64,
        interval: f64,
        shrinkage: f64,
    ) -> Result<Self, StaffingError> {
        let mut c = Checker::default();
        let tx = c.positive("transactions", transactions);
        let ok_aht = c.positive("aht", aht);
        c.positive("asa", asa);
        let ok_interval = c.positive("interval", interval);
        c.shrinkage("shrinkage", shrinkage);
        let intensity = (transactions / interval) * aht;
        if tx && ok_aht && ok_interval {
            c.traffic_limit("transactions", intensity, 1.0);
        }
        c.finish()?;
        Ok(ErlangC {
            transactions,
            aht,
            asa,
            interval,
            shrinkage,
            intensity,
        })
    }

    fn unchecked(case: &StaffingCase) -> Self {
        ErlangC {
            transactions: case.transactions,
            aht: case.aht_min,
            asa: case.asa_min,
            interval: case.interval_min,
            shrinkage: case.shrinkage,
            intensity: case.intensity(),
        }
    }

    /// Offered traffic `(transactions / interval) * aht`, Erlangs.
    pub fn intensity(&self) -> f64 {
        self.intensity
    }

    /// Contacts per interval, as given.
    pub fn transactions(&self) -> f64 {
        self.transactions
    }

    /// Interval length, as given.
    pub fn interval(&self) -> f64 {
        self.interval
    }

    fn productive(&self, positions: u64, scale_positions: bool) -> u64 {
        if scale_positions {
            ((1.0 - self.shrinkage) * positions as f64).floor() as u64
        } else {
            positions
        }
    }

    /// `n·B / (n − A(1 − B))`; with `scale_positions`, `n = floor((1 − shrinkage)·positions)`.
    pub fn waiting_probability(&self, positions: u64, scale_positions: bool) -> f64 {
        let n = self.productive(positions, scale_positions);
        py_waiting(n, self.intensity, py_inverse_erlang_b(n, self.intensity))
    }

    /// `max(0, 1 − P(wait)·exp(−(n − A)·(asa / aht)))`.
    pub fn service_level(&self, positions: u64, scale_positions: bool) -> f64 {
        let n = self.productive(positions, scale_positions);
        self.service_level_from(n, py_inverse_erlang_b(n, self.intensity))
    }

    fn service_level_from(&self, n: u64, inverse_b: f64) -> f64 {
        let probability_wait = py_waiting(n, self.intensity, inverse_b);
        let exponential = (-(n as f64 - self.intensity) * (self.asa / self.aht)).exp();
        let sl = 1.0 - probability_wait * exponential;
        // Python's max(0, sl): 0 unless sl > 0 (so NaN gives 0 too).
        if sl > 0.0 {
            sl
        } else {
            0.0
        }
    }

    /// `A / n`.
    pub fn achieved_occupancy(&self, positions: u64, scale_positions: bool) -> f64 {
        self.intensity / self.productive(positions, scale_positions) as f64
    }

    /// pyworkforce's `required_positions(service_level, max_occupancy)`:
    ///
    /// 1. start at `n = round(A + 1)` (Python's `round`: half to even) and add one agent at a
    ///    time while `service_level(n) < target` (never searching below the start);
    /// 2. if `A / n > max_occupancy`, replace `n` by `ceil(A / max_occupancy)` and recompute
    ///    occupancy and service level there;
    /// 3. `positions = ceil(n / (1 − shrinkage))`.
    ///
    /// The search here extends the Erlang B recurrence by one step per agent instead of
    /// restarting it (pyworkforce restarts: quadratic work); the operations, hence the
    /// floating-point values, are the same. Rejects `service_level` outside 0..=1 and
    /// `max_occupancy` outside (0, 1] or needing more than [`MAX_AGENTS`] agents.
    pub fn required_positions(
        &self,
        service_level: f64,
        max_occupancy: f64,
    ) -> Result<Positions, StaffingError> {
        let mut c = Checker::default();
        c.fraction("service_level", service_level);
        if c.occupancy("max_occupancy", max_occupancy) {
            c.traffic_limit("max_occupancy", self.intensity, max_occupancy);
        }
        c.finish()?;
        Ok(self.solve(service_level, max_occupancy))
    }

    fn solve(&self, target: f64, max_occupancy: f64) -> Positions {
        let a = self.intensity;
        let mut n = (a + 1.0).round_ties_even() as u64;
        let mut inverse_b = py_inverse_erlang_b(n, a);
        let mut service_level = self.service_level_from(n, inverse_b);
        while service_level < target {
            n += 1;
            inverse_b = 1.0 + inverse_b * n as f64 / a;
            service_level = self.service_level_from(n, inverse_b);
        }
        let mut occupancy = a / n as f64;
        let mut raw = n;
        let occupancy_capped = occupancy > max_occupancy;
        if occupancy_capped {
            raw = (a / max_occupancy).ceil() as u64;
            if raw >= n {
                for position in n + 1..=raw {
                    inverse_b = 1.0 + inverse_b * position as f64 / a;
                }
            } else {
                inverse_b = py_inverse_erlang_b(raw, a);
            }
            occupancy = a / raw as f64;
            service_level = self.service_level_from(raw, inverse_b);
        }
        let waiting_probability = py_waiting(raw, a, inverse_b);
        Positions {
            raw_positions: raw,
            positions: positions_after_shrinkage(raw, self.shrinkage),
            service_level,
            occupancy,
            waiting_probability,
            abandonment_probability: 0.0,
            asa_min: waiting_probability * self.aht / (raw as f64 - a),
            intensity: a,
            occupancy_capped,
        }
    }
}

// ---------------------------------------------------------------------------------------
// Textbook Erlang C for a given number of agents
// ---------------------------------------------------------------------------------------

/// Erlang B blocking probability of `agents` servers offered `traffic` Erlangs (recurrence
/// on `1/B`; `1` for zero agents).
pub fn erlang_b(agents: u64, traffic: f64) -> f64 {
    1.0 / py_inverse_erlang_b(agents, traffic)
}

/// Erlang C probability that a contact waits: `n·B / (n − A(1 − B))`, and `1` when
/// `agents ≤ traffic` (the queue grows without bound).
pub fn erlang_c(agents: u64, traffic: f64) -> f64 {
    let n = agents as f64;
    if n <= traffic {
        return 1.0;
    }
    let b = erlang_b(agents, traffic);
    (n * b / (n - traffic * (1.0 - b))).clamp(0.0, 1.0)
}

/// Erlang C fraction answered within `answer_time_min`: `1 − C·e^{−(n − A)T/aht}` (0 when
/// `agents ≤ traffic`).
pub fn erlang_c_service_level(
    agents: u64,
    traffic: f64,
    aht_min: f64,
    answer_time_min: f64,
) -> f64 {
    let n = agents as f64;
    if n <= traffic {
        return 0.0;
    }
    let c = erlang_c(agents, traffic);
    (1.0 - c * (-(n - traffic) * answer_time_min / aht_min).exp()).clamp(0.0, 1.0)
}

/// Erlang C average speed of answer in minutes, `C·aht / (n − A)` (mean wait over all
/// contacts; infinite when `agents ≤ traffic`).
pub fn erlang_c_asa(agents: u64, traffic: f64, aht_min: f64) -> f64 {
    let n = agents as f64;
    if n <= traffic {
        return f64::INFINITY;
    }
    erlang_c(agents, traffic) * aht_min / (n - traffic)
}

/// What a given number of agents on the phones achieves for a question (Erlang C).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = StaffingAchieved)]
pub struct Achieved {
    pub agents: u64,
    /// Fraction answered within `asa_min`.
    pub service_level: f64,
    pub waiting_probability: f64,
    /// Average speed of answer, minutes (infinite, serialised as `null`, when
    /// `agents ≤ intensity`).
    #[schema(value_type = Option<f64>)]
    pub asa_min: f64,
    /// `min(1, A / agents)`.
    pub occupancy: f64,
}

/// Erlang C service level, P(wait), ASA and occupancy of `agents` agents on the phones (no
/// shrinkage applied) for `case`'s volume and answer time. Call [`validate`] first; the
/// targets of `case` are not used.
pub fn achieved(case: &StaffingCase, agents: u64) -> Achieved {
    let a = case.intensity();
    Achieved {
        agents,
        service_level: erlang_c_service_level(agents, a, case.aht_min, case.asa_min),
        waiting_probability: erlang_c(agents, a),
        asa_min: erlang_c_asa(agents, a, case.aht_min),
        occupancy: if agents == 0 {
            1.0
        } else {
            (a / agents as f64).min(1.0)
        },
    }
}

// ---------------------------------------------------------------------------------------
// Erlang A
// ---------------------------------------------------------------------------------------

/// 2^800 and its inverse: rescaling by powers of two is exact.
const BIG: f64 = f64::from_bits((1023 + 800) << 52);
const SMALL: f64 = f64::from_bits((1023 - 800) << 52);
const LN_BIG: f64 = 800.0 * std::f64::consts::LN_2;
/// Relative size of the dropped tail of every series.
const TAIL: f64 = 1e-17;
/// Safety net on series length (validation keeps real cases far below).
const MAX_TERMS: u64 = 100_000_000;

/// `ln(a + b)` from `ln a`, `ln b` (either may be `-inf`).
fn ln_add(la: f64, lb: f64) -> f64 {
    let (hi, lo) = if la >= lb { (la, lb) } else { (lb, la) };
    if hi == f64::NEG_INFINITY {
        hi
    } else {
        hi + (lo - hi).exp().ln_1p()
    }
}

/// `ln(1/B(k, a))`, the Erlang B recurrence with rescaling (no overflow).
fn ln_inverse_erlang_b(k: u64, a: f64) -> f64 {
    let (mut v, mut one, mut offset) = (1.0f64, 1.0f64, 0.0f64);
    for p in 1..=k {
        v = one + v * p as f64 / a;
        if v > BIG {
            v *= SMALL;
            one *= SMALL;
            offset += LN_BIG;
        }
    }
    v.ln() + offset
}

/// Erlang A (M/M/n+M): Poisson arrivals, exponential handling and exponential patience.
/// See the module documentation for the formulas. Build it with [`ErlangA::new`], which
/// validates (hence no `Deserialize`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ErlangA {
    /// Arrivals per minute (`λ`).
    pub arrival_rate: f64,
    /// Average handling time, minutes.
    pub aht_min: f64,
    /// Mean patience before abandoning, minutes.
    pub patience_min: f64,
}

/// Everything Erlang A says about a given number of agents.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ErlangAMetrics {
    pub agents: u64,
    /// Probability that a contact has to wait.
    pub waiting_probability: f64,
    /// Probability that a contact abandons before being answered.
    pub abandonment_probability: f64,
    /// Fraction of all contacts answered within the answer time.
    pub service_level: f64,
    /// Average speed of answer: mean wait of answered contacts, minutes (infinite,
    /// serialised as `null`, with zero agents).
    pub asa_min: f64,
    /// Mean time in queue over all contacts (answered or not), minutes.
    pub mean_wait_min: f64,
    /// Busy fraction of the agents: carried traffic `A·(1 − P(abandon)) / n`.
    pub occupancy: f64,
}

impl ErlangA {
    /// `transactions` per `interval_min` minutes, `aht_min` and mean `patience_min` all above
    /// 0 and finite, offered traffic at most [`MAX_AGENTS`] Erlangs and
    /// `λ · patience ≤` [`MAX_PATIENCE_LOAD`].
    pub fn new(
        transactions: f64,
        aht_min: f64,
        interval_min: f64,
        patience_min: f64,
    ) -> Result<Self, StaffingError> {
        let mut c = Checker::default();
        let tx = c.positive("transactions", transactions);
        let aht = c.positive("aht_min", aht_min);
        let interval = c.positive("interval_min", interval_min);
        let patience = c.positive("patience_min", patience_min);
        let arrival_rate = transactions / interval_min;
        if tx && aht && interval {
            c.traffic_limit("transactions", arrival_rate * aht_min, 1.0);
        }
        if tx && interval && patience && arrival_rate * patience_min > MAX_PATIENCE_LOAD {
            c.fail(
                "patience_min",
                format!(
                    "arrivals per mean patience (rate × patience = {}) must be at most {MAX_PATIENCE_LOAD}",
                    arrival_rate * patience_min
                ),
            );
        }
        c.finish()?;
        Ok(ErlangA {
            arrival_rate,
            aht_min,
            patience_min,
        })
    }

    /// Offered traffic `λ · aht`, Erlangs.
    pub fn traffic(&self) -> f64 {
        self.arrival_rate * self.aht_min
    }

    /// Probability of waiting with `agents` agents.
    pub fn waiting_probability(&self, agents: u64) -> f64 {
        self.metrics(agents, 0.0).waiting_probability
    }

    /// Probability of abandoning with `agents` agents.
    pub fn abandonment_probability(&self, agents: u64) -> f64 {
        self.metrics(agents, 0.0).abandonment_probability
    }

    /// Fraction of all contacts answered within `answer_time_min`.
    pub fn service_level(&self, agents: u64, answer_time_min: f64) -> f64 {
        self.metrics(agents, answer_time_min).service_level
    }

    /// Mean wait of answered contacts, minutes.
    pub fn asa_min(&self, agents: u64) -> f64 {
        self.metrics(agents, 0.0).asa_min
    }

    /// All measures for `agents` agents; `answer_time_min` is the service level's threshold
    /// (negative or `NaN` counts as 0). Work is linear in `agents` plus the series lengths.
    pub fn metrics(&self, agents: u64, answer_time_min: f64) -> ErlangAMetrics {
        let lambda = self.arrival_rate;
        let a = self.traffic();
        if agents == 0 {
            return ErlangAMetrics {
                agents,
                waiting_probability: 1.0,
                abandonment_probability: 1.0,
                service_level: 0.0,
                asa_min: f64::INFINITY,
                mean_wait_min: self.patience_min,
                occupancy: 1.0,
            };
        }
        let t_answer = answer_time_min.max(0.0);
        let nf = agents as f64;
        let n_mu = nf / self.aht_min;
        let theta = 1.0 / self.patience_min;
        let x = nf * self.patience_min / self.aht_min;
        let y = lambda * self.patience_min;

        // Below n: L = (n/A) / B(n-1).
        let ln_l = ln_inverse_erlang_b(agents - 1, a) + (nf / a).ln();

        // At and above n: t_m = Π y/(x+k); sums of t_m, m·t_m, H_m·t_m over m ≥ 1.
        let (mut t, mut one, mut offset) = (1.0f64, 1.0f64, 0.0f64);
        let (mut u1, mut q1, mut hs, mut h) = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
        let mut m = 0u64;
        loop {
            m += 1;
            let mf = m as f64;
            let r = y / (x + mf);
            t *= r;
            h += 1.0 / (n_mu + mf * theta);
            u1 += t;
            q1 += mf * t;
            hs += h * t;
            if t > BIG {
                t *= SMALL;
                one *= SMALL;
                u1 *= SMALL;
                q1 *= SMALL;
                hs *= SMALL;
                offset += LN_BIG;
            }
            let r_next = y / (x + mf + 1.0);
            if r_next < 1.0 {
                // Terms fall at least geometrically by r_next from here on.
                let g = r_next / (1.0 - r_next);
                let g2 = r_next / ((1.0 - r_next) * (1.0 - r_next));
                let step_h = 1.0 / (n_mu + mf * theta);
                let tail_u = t * g;
                let tail_q = t * (mf * g + g2);
                let tail_h = t * (h * g + step_h * g2);
                if tail_u <= TAIL * (one + u1) && tail_q <= TAIL * q1 && tail_h <= TAIL * hs {
                    break;
                }
            }
            if m >= MAX_TERMS {
                break;
            }
        }
        let ln_u = (one + u1).ln() + offset;
        let ln_u1 = u1.ln() + offset;
        let ln_q1 = q1.ln() + offset;
        let ln_hs = hs.ln() + offset;
        let ln_z = ln_add(ln_l, ln_u);
        let ln_x_over_y = x.ln() - y.ln();

        // V(T) = x z^{x+1} e^{y(1-z)} Σ_k (yz)^k / Π_{i=1..k+1}(x+i), z = e^{-θT}.
        let theta_t = theta * t_answer;
        let w = y * (-theta_t).exp();
        let (mut s_term, mut s_sum, mut s_offset) = (1.0 / (x + 1.0), 1.0 / (x + 1.0), 0.0f64);
        let mut k = 0u64;
        loop {
            k += 1;
            s_term *= w / (x + k as f64 + 1.0);
            s_sum += s_term;
            if s_term > BIG {
                s_term *= SMALL;
                s_sum *= SMALL;
                s_offset += LN_BIG;
            }
            let r_next = w / (x + k as f64 + 2.0);
            if (r_next < 1.0 && s_term * r_next / (1.0 - r_next) <= TAIL * s_sum) || k >= MAX_TERMS
            {
                break;
            }
        }
        let ln_v =
            x.ln() - (n_mu + theta) * t_answer + y * -(-theta_t).exp_m1() + s_sum.ln() + s_offset;

        let p = |ln_num: f64| (ln_num - ln_z).exp();
        let p_wait = p(ln_u).min(1.0);
        let p_no_wait = p(ln_l);
        let p_served_waited = p(ln_x_over_y + ln_u1);
        let p_served = (p_no_wait + p_served_waited).min(1.0);
        let p_late = p(ln_v);
        let p_abandon = p(ln_q1 - y.ln()).clamp(0.0, 1.0);
        let service_level = (p_no_wait + p_served_waited - p_late).clamp(0.0, 1.0);
        let wait_served = p(ln_x_over_y + ln_hs);
        ErlangAMetrics {
            agents,
            waiting_probability: p_wait,
            abandonment_probability: p_abandon,
            service_level,
            asa_min: wait_served / p_served,
            mean_wait_min: p(ln_q1) / lambda,
            occupancy: (p_served * a / nf).min(1.0),
        }
    }

    /// Fewest agents (at least 1) whose service level within `answer_time_min` reaches
    /// `service_level` and whose occupancy is at most `max_occupancy`, both monotone in the
    /// number of agents (found by doubling, then bisection). Errors for a target outside
    /// 0..=1, an occupancy outside (0, 1], a negative answer time, or a target not met with
    /// [`MAX_AGENTS`] agents.
    pub fn required_agents(
        &self,
        service_level: f64,
        answer_time_min: f64,
        max_occupancy: f64,
    ) -> Result<u64, StaffingError> {
        let mut c = Checker::default();
        c.fraction("service_level", service_level);
        c.check(
            "asa_min",
            answer_time_min,
            |v| v >= 0.0,
            "must be at least 0",
        );
        c.occupancy("max_occupancy", max_occupancy);
        c.finish()?;
        let meets = |n: u64| {
            let m = self.metrics(n, answer_time_min);
            m.service_level >= service_level && m.occupancy <= max_occupancy
        };
        let mut hi = 1u64;
        while !meets(hi) {
            if hi >= MAX_AGENTS {
                return Err(StaffingError {
                    errors: vec![FieldError {
                        field: "service_level".into(),
                        message: format!("not reachable with {MAX_AGENTS} agents"),
                    }],
                });
            }
            hi = (hi * 2).min(MAX_AGENTS);
        }
        let mut lo = hi / 2; // fails (or is 0)
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if meets(mid) {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        Ok(hi)
    }
}

/// Erlang A counterpart of [`try_required_positions`]: the same question with a mean
/// patience of `patience_min` minutes; `asa_min` is the answer time of the service level.
/// `positions` adds shrinkage as pyworkforce does.
pub fn required_positions_erlang_a(
    case: &StaffingCase,
    patience_min: f64,
) -> Result<Positions, StaffingError> {
    let checked = validate(case);
    let model = ErlangA::new(
        case.transactions,
        case.aht_min,
        case.interval_min,
        patience_min,
    );
    let model = match (checked, model) {
        (Ok(()), Ok(model)) => model,
        (a, b) => {
            let mut errors = a.err().map(|e| e.errors).unwrap_or_default();
            for e in b.err().map(|e| e.errors).unwrap_or_default() {
                if !errors.contains(&e) {
                    errors.push(e);
                }
            }
            return Err(StaffingError { errors });
        }
    };
    let raw = model.required_agents(case.service_level, case.asa_min, case.max_occupancy)?;
    let m = model.metrics(raw, case.asa_min);
    let occupancy_capped =
        raw > 1 && model.metrics(raw - 1, case.asa_min).service_level >= case.service_level;
    Ok(Positions {
        raw_positions: raw,
        positions: positions_after_shrinkage(raw, case.shrinkage),
        service_level: m.service_level,
        occupancy: m.occupancy,
        waiting_probability: m.waiting_probability,
        abandonment_probability: m.abandonment_probability,
        asa_min: m.asa_min,
        intensity: model.traffic(),
        occupancy_capped,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(
        transactions: f64,
        aht_min: f64,
        asa_min: f64,
        service_level: f64,
        max_occupancy: f64,
        shrinkage: f64,
    ) -> StaffingCase {
        StaffingCase {
            transactions,
            aht_min,
            interval_min: 30.0,
            asa_min,
            service_level,
            max_occupancy,
            shrinkage,
        }
    }

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    /// Grid cases of `erlang_peer.py gen` (index, transactions, aht, asa, service level,
    /// max occupancy, shrinkage) with pyworkforce 0.5.1's (raw_positions, positions).
    /// (index, transactions, aht, asa, service level, max occupancy, shrinkage, raw, positions)
    type GridCase = (usize, f64, f64, f64, f64, f64, f64, u64, u64);

    const PYWORKFORCE_GRID: &[GridCase] = &[
        (0, 20.0, 1.5, 1.0 / 3.0, 0.8, 0.85, 0.0, 3, 3),
        (1, 20.0, 1.5, 1.0 / 3.0, 0.8, 0.85, 0.3, 3, 5),
        (8, 20.0, 1.5, 1.0, 0.8, 0.85, 0.0, 2, 2),
        (20, 20.0, 1.5, 2.0, 0.9, 0.85, 0.0, 2, 2),
        (136, 80.0, 1.5, 2.0, 0.8, 0.85, 0.0, 5, 5),
        (153, 80.0, 3.0, 1.0, 0.8, 0.85, 0.3, 11, 16),
        (243, 140.0, 1.5, 1.0 / 3.0, 0.8, 1.0, 0.3, 10, 15),
        (256, 140.0, 1.5, 2.0, 0.8, 0.85, 0.0, 9, 9),
        (386, 200.0, 3.0, 1.0 / 3.0, 0.8, 1.0, 0.0, 24, 24),
        (437, 200.0, 8.0, 1.0 / 3.0, 0.9, 0.85, 0.3, 63, 90),
        (496, 260.0, 1.5, 2.0, 0.8, 0.85, 0.0, 16, 16),
        (556, 260.0, 8.0, 1.0 / 3.0, 0.9, 0.85, 0.0, 82, 82),
        (672, 320.0, 8.0, 1.0 / 3.0, 0.8, 0.85, 0.0, 101, 101),
        (1020, 500.0, 5.0, 1.0, 0.9, 0.85, 0.0, 99, 99),
        (1320, 680.0, 1.5, 1.0 / 3.0, 0.8, 0.85, 0.0, 40, 40),
        (1344, 680.0, 3.0, 1.0 / 3.0, 0.8, 0.85, 0.0, 80, 80),
        (1347, 680.0, 3.0, 1.0 / 3.0, 0.8, 1.0, 0.3, 74, 106),
        (1737, 860.0, 5.0, 1.0, 0.8, 0.85, 0.3, 169, 242),
        (2028, 980.0, 12.0, 1.0, 0.9, 0.85, 0.0, 462, 462),
        (2583, 1280.0, 5.0, 1.0, 0.9, 1.0, 0.3, 222, 318),
        (3077, 1520.0, 8.0, 1.0 / 3.0, 0.9, 0.85, 0.3, 477, 682),
        (3360, 1700.0, 1.5, 1.0 / 3.0, 0.8, 0.85, 0.0, 100, 100),
        (3746, 1880.0, 3.0, 1.0 / 3.0, 0.8, 1.0, 0.0, 196, 196),
        (3978, 2000.0, 1.5, 2.0, 0.8, 1.0, 0.0, 102, 102),
        (4078, 2000.0, 12.0, 2.0, 0.9, 1.0, 0.0, 811, 811),
        (4079, 2000.0, 12.0, 2.0, 0.9, 1.0, 0.3, 811, 1159),
    ];

    fn grid_cases() -> Vec<StaffingCase> {
        PYWORKFORCE_GRID
            .iter()
            .map(|&(_, tx, aht, asa, sl, occ, shr, _, _)| case(tx, aht, asa, sl, occ, shr))
            .collect()
    }

    #[test]
    fn matches_pyworkforce_on_embedded_grid_cases() {
        for (c, &(index, .., raw, positions)) in grid_cases().iter().zip(PYWORKFORCE_GRID) {
            let p = required_positions(c);
            assert_eq!(
                (p.raw_positions, p.positions),
                (raw, positions),
                "grid case {index}: {c:?}"
            );
        }
    }

    #[test]
    fn bench_lines_are_raw_comma_positions_per_case() {
        let cases = grid_cases();
        let expected: String = PYWORKFORCE_GRID
            .iter()
            .map(|&(.., raw, positions)| format!("{raw},{positions}\n"))
            .collect();
        assert_eq!(bench_lines(&cases), expected);
        assert_eq!(bench_lines(&[]), "");
    }

    #[test]
    fn floats_are_bit_identical_to_pyworkforce() {
        // repr() of pyworkforce's results for grid cases 0, 1320 (occupancy cap lands
        // exactly on 34 / 0.85 = 40) and 4078.
        let expect = [
            (
                0,
                0.941710873779095,
                0.3333333333333333,
                0.09090909090909091,
            ),
            (14, 0.9380729753921434, 0.85, 0.2349305650680805),
            (
                24,
                0.9045564373568169,
                0.9864364981504316,
                0.5969709421205118,
            ),
        ];
        let cases = grid_cases();
        for (i, sl, occ, pw) in expect {
            let p = required_positions(&cases[i]);
            assert_eq!(p.service_level.to_bits(), f64::to_bits(sl), "case {i}");
            assert_eq!(p.occupancy.to_bits(), f64::to_bits(occ), "case {i}");
            assert_eq!(
                p.waiting_probability.to_bits(),
                f64::to_bits(pw),
                "case {i}"
            );
        }
        assert!(required_positions(&cases[14]).occupancy_capped);
        assert!(!required_positions(&cases[24]).occupancy_capped);
    }

    #[test]
    fn erlang_c_methods_match_pyworkforce() {
        // ErlangC(transactions=100, aht=3, asa=20/60, interval=30, shrinkage=0.3)
        let e = ErlangC::new(100.0, 3.0, 20.0 / 60.0, 30.0, 0.3).unwrap();
        assert_eq!(e.intensity(), 10.0);
        let expect = [
            (
                12,
                false,
                0.4493882242982709,
                0.6401580403740066,
                0.8333333333333334,
            ),
            (
                17,
                true,
                0.6821182046893323,
                0.38961381172915344,
                0.9090909090909091,
            ),
            (
                11,
                false,
                0.6821182046893323,
                0.38961381172915344,
                0.9090909090909091,
            ),
            (
                30,
                false,
                2.5673575885669063e-07,
                0.9999999721780534,
                0.3333333333333333,
            ),
        ];
        for (n, scale, pw, sl, occ) in expect {
            assert_eq!(e.waiting_probability(n, scale), pw, "{n} {scale}");
            assert_eq!(e.service_level(n, scale), sl, "{n} {scale}");
            assert_eq!(e.achieved_occupancy(n, scale), occ, "{n} {scale}");
        }
        // {'raw_positions': 14, 'positions': 20, 'service_level': 0.8883500191794669,
        //  'occupancy': 0.7142857142857143, 'waiting_probability': 0.1741319335950498}
        let p = e.required_positions(0.8, 0.85).unwrap();
        assert_eq!((p.raw_positions, p.positions), (14, 20));
        assert_eq!(p.service_level, 0.8883500191794669);
        assert_eq!(p.occupancy, 0.7142857142857143);
        assert_eq!(p.waiting_probability, 0.1741319335950498);
        assert!(e.waiting_probability(0, false).is_nan()); // Python: ZeroDivisionError
        assert!(e
            .required_positions(1.5, 0.85)
            .unwrap_err()
            .has("service_level"));
        assert!(e
            .required_positions(0.8, 0.0)
            .unwrap_err()
            .has("max_occupancy"));
        let bad = ErlangC::new(0.0, -1.0, 0.0, 0.0, 1.0).unwrap_err();
        for field in ["transactions", "aht", "asa", "interval", "shrinkage"] {
            assert!(bad.has(field), "{field}: {bad}");
        }
    }

    #[test]
    fn search_start_uses_round_half_to_even() {
        // A = 1.5 exactly: Python's round(2.5) == 2, so the search starts at 2 agents and a
        // target of 0 stops there (round half away from zero would give 3).
        let p = required_positions(&case(30.0, 1.5, 1.0, 0.0, 1.0, 0.0));
        assert_eq!(p.intensity, 1.5);
        assert_eq!(p.raw_positions, 2);
        let p = required_positions(&case(30.0, 2.5, 1.0, 0.0, 1.0, 0.0)); // A = 2.5 -> 4
        assert_eq!(p.raw_positions, 4);
    }

    #[test]
    fn incremental_recurrence_equals_restarted_one() {
        let a = 37.123;
        let mut inv = py_inverse_erlang_b(30, a);
        for n in 31..200u64 {
            inv = 1.0 + inv * n as f64 / a;
            assert_eq!(inv.to_bits(), py_inverse_erlang_b(n, a).to_bits());
        }
    }

    #[test]
    fn textbook_erlang_c_example() {
        // 100 calls per 30 minutes, AHT 3 minutes: A = 10 Erlangs. Exact rational arithmetic
        // (Python fractions) gives C(12, 10) = 0.44938822429827086, B(10, 10) = 0.2145823431.
        let a = 100.0 / 30.0 * 3.0;
        assert!(close(erlang_c(12, a), 0.44938822429827086, 1e-14));
        assert!(close(erlang_b(10, a), 0.21458234310734733, 1e-14));
        // 80/20: SL(20 s) = 1 - C e^{-(12-10)(1/3)/3}; ASA = C * 3 / 2 minutes.
        assert!(close(
            erlang_c_service_level(12, a, 3.0, 1.0 / 3.0),
            0.6401580403740066,
            1e-14
        ));
        assert!(close(erlang_c_asa(12, a, 3.0), 0.6740823364474062, 1e-14));
        // Unstable: everyone waits, nobody within T, ASA unbounded.
        assert_eq!(erlang_c(10, a), 1.0);
        assert_eq!(erlang_c_service_level(9, a, 3.0, 1.0), 0.0);
        assert_eq!(erlang_c_asa(10, a, 3.0), f64::INFINITY);
        assert_eq!(erlang_b(0, a), 1.0);
        // Huge overstaffing: 1/B overflows, B = 0, no NaN.
        assert_eq!(erlang_c(2000, 0.5), 0.0);
        let c = case(100.0, 3.0, 1.0 / 3.0, 0.8, 1.0, 0.0);
        let got = achieved(&c, 12);
        assert!(close(got.waiting_probability, 0.44938822429827086, 1e-14));
        assert!(close(got.occupancy, 10.0 / 12.0, 1e-15));
        // The faithful port agrees with the textbook functions where both are defined.
        let p = required_positions(&c);
        assert_eq!(p.raw_positions, 14);
        assert!(close(p.asa_min, erlang_c_asa(14, a, 3.0), 1e-14));
        assert!(close(
            p.service_level,
            erlang_c_service_level(14, a, 3.0, 1.0 / 3.0),
            1e-14
        ));
    }

    #[test]
    fn large_traffic_does_not_overflow() {
        // 1/B stays moderate near n ≈ A; a naive A^n / n! would overflow long before this.
        let p = required_positions(&case(1_500_000.0, 12.0, 1.0 / 3.0, 0.9, 1.0, 0.3));
        assert_eq!(p.intensity, 600_000.0);
        assert!(
            p.raw_positions > 600_000 && p.raw_positions < 601_000,
            "{p:?}"
        );
        assert!(p.service_level >= 0.9 && p.service_level < 1.0);
    }

    #[test]
    fn case_lines_parse_with_the_bench_keys() {
        let line = r#"{"transactions": 20, "aht_min": 1.5, "interval_min": 30, "asa_min": 0.3333333333333333, "service_level": 0.8, "max_occupancy": 0.85, "shrinkage": 0.0}"#;
        let c: StaffingCase = serde_json::from_str(line).unwrap();
        assert_eq!(c, case(20.0, 1.5, 1.0 / 3.0, 0.8, 0.85, 0.0));
        assert_eq!(c.asa_min.to_bits(), (1.0f64 / 3.0).to_bits());
        let c: StaffingCase = serde_json::from_str(
            r#"{"transactions": 20, "aht_min": 3, "interval_min": 30, "asa_min": 1, "service_level": 0.8}"#,
        )
        .unwrap();
        assert_eq!((c.max_occupancy, c.shrinkage), (1.0, 0.0));
        assert!(serde_json::from_str::<StaffingCase>(r#"{"transactions": 20}"#).is_err());
        let json = serde_json::to_value(required_positions(&c)).unwrap();
        for key in ["raw_positions", "positions", "service_level", "occupancy"] {
            assert!(json.get(key).is_some(), "{key}");
        }
    }

    #[test]
    fn validation_reports_every_bad_field() {
        assert_eq!(
            validate(&case(100.0, 3.0, 1.0 / 3.0, 0.8, 0.85, 0.3)),
            Ok(())
        );
        let bad = StaffingCase {
            transactions: -5.0,
            aht_min: 0.0,
            interval_min: 0.0,
            asa_min: f64::NAN,
            service_level: 1.2,
            max_occupancy: 0.0,
            shrinkage: 1.0,
        };
        let err = validate(&bad).unwrap_err();
        let fields: Vec<&str> = err.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "transactions",
                "aht_min",
                "interval_min",
                "asa_min",
                "service_level",
                "max_occupancy",
                "shrinkage"
            ]
        );
        assert_eq!(err.errors[0].message, "must be greater than 0");
        assert_eq!(err.errors[3].message, "must be a finite number");
        assert_eq!(err.errors[6].message, "must be at least 0 and less than 1");
        assert!(err
            .to_string()
            .starts_with("transactions: must be greater than 0; "));
        // Each alone.
        let ok = case(100.0, 3.0, 1.0 / 3.0, 0.8, 0.85, 0.3);
        let only = |f: &dyn Fn(&mut StaffingCase)| {
            let mut c = ok;
            f(&mut c);
            validate(&c).unwrap_err().errors
        };
        assert_eq!(only(&|c| c.shrinkage = -0.1)[0].field, "shrinkage");
        assert_eq!(only(&|c| c.service_level = -0.01)[0].field, "service_level");
        assert_eq!(only(&|c| c.max_occupancy = 1.01)[0].field, "max_occupancy");
        assert_eq!(only(&|c| c.interval_min = 0.0)[0].field, "interval_min");
        assert_eq!(only(&|c| c.aht_min = f64::INFINITY)[0].field, "aht_min");
        // Too big to answer: rejected, not a long loop.
        let huge = only(&|c| c.transactions = 1e12);
        assert_eq!(huge[0].field, "transactions");
        assert!(huge[0].message.contains("more than 1000000 agents"));
        assert!(!only(&|c| c.max_occupancy = 1e-9).is_empty());
        // Edge values that are fine.
        for f in [
            |c: &mut StaffingCase| c.service_level = 0.0,
            |c: &mut StaffingCase| c.service_level = 1.0,
            |c: &mut StaffingCase| c.max_occupancy = 1.0,
            |c: &mut StaffingCase| c.shrinkage = 0.0,
        ] {
            let mut c = ok;
            f(&mut c);
            assert_eq!(validate(&c), Ok(()));
        }
        assert!(try_required_positions(&bad).is_err());
        let err = try_bench_lines(&[ok, bad]).unwrap_err();
        assert_eq!(err.index, 1);
        assert!(err.to_string().starts_with("case 1: transactions"));
    }

    #[test]
    fn full_service_level_target_terminates() {
        let p = required_positions(&case(300.0, 3.0, 1.0 / 3.0, 1.0, 1.0, 0.0));
        assert_eq!(p.service_level, 1.0);
        assert!(p.raw_positions > 30 && p.raw_positions < 100, "{p:?}");
    }

    /// When `STAFFING_GRID` names a JSONL file of cases (from `erlang_peer.py gen`), computes
    /// the bench lines for all of them, writes them to `STAFFING_GRID_OUT` if set (compare
    /// its `sha256sum` with `erlang_peer.py run`), and prints the rate. Without the variable
    /// this only checks the embedded cases above.
    #[test]
    fn full_grid_from_env() {
        let Ok(path) = std::env::var("STAFFING_GRID") else {
            assert_eq!(
                bench_lines(&grid_cases()).lines().count(),
                PYWORKFORCE_GRID.len()
            );
            return;
        };
        let text = std::fs::read_to_string(&path).unwrap();
        let cases: Vec<StaffingCase> = text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let start = std::time::Instant::now();
        let mut lines = String::new();
        let rounds = 20;
        for _ in 0..rounds {
            lines = bench_lines(&cases);
        }
        let secs = start.elapsed().as_secs_f64();
        println!(
            "cases_per_s={:.1} n={}",
            (rounds * cases.len()) as f64 / secs,
            cases.len()
        );
        if let Ok(out) = std::env::var("STAFFING_GRID_OUT") {
            std::fs::write(out, &lines).unwrap();
        }
        for (c, &(index, .., raw, positions)) in grid_cases().iter().zip(PYWORKFORCE_GRID) {
            assert_eq!(cases[index], *c);
            let line = lines.lines().nth(index).unwrap();
            assert_eq!(line, format!("{raw},{positions}"));
        }
    }

    // ------------------------------------------------------------------ Erlang A

    /// Brute force: the truncated birth-death chain, summed directly.
    fn brute_chain(e: &ErlangA, n: u64) -> (f64, f64, f64) {
        let (lambda, mu, theta) = (e.arrival_rate, 1.0 / e.aht_min, 1.0 / e.patience_min);
        let mut w = vec![1.0f64];
        for k in 1..5000u64 {
            let death = if k <= n {
                k as f64 * mu
            } else {
                n as f64 * mu + (k - n) as f64 * theta
            };
            let prev = *w.last().unwrap();
            w.push(prev * lambda / death);
        }
        let z: f64 = w.iter().sum();
        let p_wait: f64 = w[n as usize..].iter().sum::<f64>() / z;
        let queue: f64 = w
            .iter()
            .enumerate()
            .map(|(k, v)| (k as f64 - n as f64).max(0.0) * v)
            .sum::<f64>()
            / z;
        let busy: f64 = w
            .iter()
            .enumerate()
            .map(|(k, v)| (k as f64).min(n as f64) * v)
            .sum::<f64>()
            / z;
        (p_wait, theta * queue / lambda, busy)
    }

    /// Brute force service level: for each number found waiting, the tagged contact's
    /// absorbing chain (move up / be served / abandon) solved by uniformisation up to `t`.
    fn brute_service_level(e: &ErlangA, n: u64, t: f64) -> f64 {
        let (lambda, mu, theta) = (e.arrival_rate, 1.0 / e.aht_min, 1.0 / e.patience_min);
        let nmu = n as f64 * mu;
        let mut w = vec![1.0f64];
        for k in 1..200u64 {
            let death = if k <= n {
                k as f64 * mu
            } else {
                nmu + (k - n) as f64 * theta
            };
            let prev = *w.last().unwrap();
            w.push(prev * lambda / death);
        }
        let z: f64 = w.iter().sum();
        let mut sl: f64 = w[..n as usize].iter().sum::<f64>() / z;
        let jmax = w.len() - n as usize;
        let big_lambda = nmu + (jmax as f64 + 1.0) * theta;
        for j in 0..jmax {
            let pj = w[n as usize + j] / z;
            if pj < 1e-18 {
                continue;
            }
            // State i = contacts ahead (j..=0); served mass accumulates.
            let mut v = vec![0.0f64; j + 1];
            v[j] = 1.0;
            let mut served = 0.0;
            let mut served_by_t = 0.0;
            let mean = big_lambda * t;
            let steps = (mean + 12.0 * mean.sqrt() + 40.0) as u64;
            let mut poisson = (-mean).exp();
            for step in 1..=steps {
                served_by_t += poisson * served;
                let mut next = vec![0.0f64; j + 1];
                for i in 0..=j {
                    let out = nmu + (i as f64 + 1.0) * theta;
                    next[i] += v[i] * (1.0 - out / big_lambda);
                    let up = (nmu + i as f64 * theta) / big_lambda;
                    if i == 0 {
                        served += v[0] * up;
                    } else {
                        next[i - 1] += v[i] * up;
                    }
                }
                v = next;
                poisson *= mean / step as f64;
            }
            served_by_t += poisson * served;
            sl += pj * served_by_t;
        }
        sl
    }

    #[test]
    fn erlang_a_matches_brute_force_chain() {
        for (tx, aht, patience, n) in [
            (100.0, 3.0, 2.0, 12),
            (100.0, 3.0, 2.0, 8), // overloaded: n < A, still stable
            (30.0, 5.0, 0.5, 3),
            (200.0, 1.5, 10.0, 11),
            (100.0, 3.0, 2.0, 1),
        ] {
            let e = ErlangA::new(tx, aht, 30.0, patience).unwrap();
            let m = e.metrics(n, 1.0 / 3.0);
            let (p_wait, p_ab, busy) = brute_chain(&e, n);
            assert!(
                close(m.waiting_probability, p_wait, 1e-12),
                "{m:?} {p_wait}"
            );
            assert!(
                close(m.abandonment_probability, p_ab, 1e-12),
                "{m:?} {p_ab}"
            );
            // Carried traffic = busy agents (flow conservation).
            assert!(close(m.occupancy * n as f64, busy, 1e-10), "{m:?} {busy}");
        }
    }

    #[test]
    fn erlang_a_service_level_matches_uniformisation() {
        for (tx, aht, patience, n, t) in [
            (100.0, 3.0, 2.0, 11, 1.0 / 3.0),
            (100.0, 3.0, 2.0, 8, 0.5),
            (30.0, 5.0, 0.5, 4, 1.0),
            (60.0, 2.0, 4.0, 4, 2.0),
        ] {
            let e = ErlangA::new(tx, aht, 30.0, patience).unwrap();
            let got = e.service_level(n, t);
            let want = brute_service_level(&e, n, t);
            assert!(
                close(got, want, 1e-9),
                "{tx} {aht} {patience} {n} {t}: {got} vs {want}"
            );
            // T = 0: only those answered at once; T large: all who are answered.
            let m = e.metrics(n, 0.0);
            assert!(close(m.service_level, 1.0 - m.waiting_probability, 1e-12));
            let late = e.metrics(n, 1e4);
            assert!(close(
                late.service_level,
                1.0 - late.abandonment_probability,
                1e-12
            ));
        }
    }

    #[test]
    fn erlang_a_tends_to_erlang_c_as_patience_grows() {
        let a = 10.0;
        let near = ErlangA::new(100.0, 3.0, 30.0, 1e5).unwrap();
        let far = ErlangA::new(100.0, 3.0, 30.0, 1e4).unwrap();
        for n in [11u64, 12, 14, 20] {
            let (c_wait, c_sl) = (erlang_c(n, a), erlang_c_service_level(n, a, 3.0, 1.0 / 3.0));
            let c_asa = erlang_c_asa(n, a, 3.0);
            let m = near.metrics(n, 1.0 / 3.0);
            assert!(close(m.waiting_probability, c_wait, 1e-4), "{n} {m:?}");
            assert!(close(m.service_level, c_sl, 1e-4), "{n} {m:?}");
            // ASA converges like 1/patience with a large constant near ρ = 1 (at n = 11:
            // 2.0315 at 1e4 min, 2.04485 at 1e5, 2.04620 at 1e6; Erlang C 2.04635).
            assert!(close(m.asa_min, c_asa, 1e-3 * c_asa), "{n} {m:?}");
            assert!(m.abandonment_probability < 1e-4);
            let f = far.metrics(n, 1.0 / 3.0);
            assert!((f.asa_min - c_asa).abs() > (m.asa_min - c_asa).abs());
            assert!(
                (f.waiting_probability - c_wait).abs() > (m.waiting_probability - c_wait).abs()
            );
        }
        let c = case(100.0, 3.0, 1.0 / 3.0, 0.8, 1.0, 0.0);
        let erlang_a = required_positions_erlang_a(&c, 1e5).unwrap();
        assert_eq!(
            erlang_a.raw_positions,
            (11..)
                .find(|&n| erlang_c_service_level(n, a, 3.0, 1.0 / 3.0) >= 0.8)
                .unwrap()
        );
    }

    #[test]
    fn erlang_a_impatience_lowers_waiting_and_raises_abandonment() {
        let mut last: Option<ErlangAMetrics> = None;
        for patience in [0.1, 0.5, 1.0, 3.0, 10.0, 100.0] {
            let m = ErlangA::new(100.0, 3.0, 30.0, patience)
                .unwrap()
                .metrics(11, 1.0 / 3.0);
            assert!(m.waiting_probability > 0.0 && m.waiting_probability < 1.0);
            if let Some(prev) = last {
                // More patience (less impatience): more wait, fewer abandon, longer ASA.
                assert!(m.waiting_probability > prev.waiting_probability);
                assert!(m.abandonment_probability < prev.abandonment_probability);
                assert!(m.asa_min > prev.asa_min);
            }
            last = Some(m);
        }
    }

    #[test]
    fn erlang_a_more_agents_never_hurt_and_search_is_minimal() {
        let e = ErlangA::new(600.0, 4.0, 30.0, 1.5).unwrap();
        let mut prev = e.metrics(1, 0.5);
        for n in 2..140 {
            let m = e.metrics(n, 0.5);
            assert!(m.service_level >= prev.service_level - 1e-15, "{n}");
            assert!(m.abandonment_probability <= prev.abandonment_probability + 1e-15);
            assert!(m.waiting_probability <= prev.waiting_probability + 1e-15);
            assert!(m.occupancy <= prev.occupancy + 1e-15);
            prev = m;
        }
        let n = e.required_agents(0.8, 0.5, 1.0).unwrap();
        assert!(e.service_level(n, 0.5) >= 0.8);
        assert!(e.service_level(n - 1, 0.5) < 0.8);
        let capped = e.required_agents(0.8, 0.5, 0.7).unwrap();
        assert!(capped > n && e.metrics(capped, 0.5).occupancy <= 0.7);
        assert!(e.metrics(capped - 1, 0.5).occupancy > 0.7);

        let c = StaffingCase {
            transactions: 600.0,
            aht_min: 4.0,
            interval_min: 30.0,
            asa_min: 0.5,
            service_level: 0.8,
            max_occupancy: 0.7,
            shrinkage: 0.3,
        };
        let p = required_positions_erlang_a(&c, 1.5).unwrap();
        assert_eq!(p.raw_positions, capped);
        assert!(p.occupancy_capped);
        assert_eq!(p.positions, (capped as f64 / 0.7).ceil() as u64);
        // Abandonment lets Erlang A staff no more than Erlang C.
        assert!(p.raw_positions <= required_positions(&c).raw_positions);
    }

    #[test]
    fn erlang_a_edge_cases_and_validation() {
        let e = ErlangA::new(100.0, 3.0, 30.0, 2.0).unwrap();
        let zero = e.metrics(0, 1.0);
        assert_eq!(
            (
                zero.waiting_probability,
                zero.abandonment_probability,
                zero.service_level
            ),
            (1.0, 1.0, 0.0)
        );
        // Heavy overload with long patience: the series are huge, rescaling keeps them finite.
        // λ = 10000/min, A = 30000 Erlangs, λ·patience = 5e5; half the needed agents.
        let heavy = ErlangA::new(300_000.0, 3.0, 30.0, 50.0).unwrap();
        let m = heavy.metrics(15_000, 1.0 / 3.0);
        assert!(
            m.waiting_probability > 0.999 && m.waiting_probability <= 1.0,
            "{m:?}"
        );
        assert!(close(m.abandonment_probability, 0.5, 1e-3), "{m:?}");
        assert!(m.service_level >= 0.0 && m.service_level < 0.01, "{m:?}");
        // Overstaffed: nobody waits.
        let light = ErlangA::new(1.0, 1.0, 30.0, 1.0).unwrap().metrics(500, 0.1);
        assert_eq!(light.waiting_probability, 0.0);
        assert_eq!(light.service_level, 1.0);
        assert_eq!(light.asa_min, 0.0);

        let bad = ErlangA::new(-1.0, 0.0, f64::NAN, 0.0).unwrap_err();
        for field in ["transactions", "aht_min", "interval_min", "patience_min"] {
            assert!(bad.has(field), "{field}: {bad}");
        }
        assert!(ErlangA::new(1e9, 3.0, 30.0, 1.0)
            .unwrap_err()
            .has("patience_min"));
        let err = e.required_agents(1.1, -1.0, 0.0).unwrap_err();
        assert!(err.has("service_level") && err.has("asa_min") && err.has("max_occupancy"));
        let mut c = case(100.0, 3.0, 1.0 / 3.0, 0.8, 1.0, 0.0);
        c.shrinkage = 1.0;
        let err = required_positions_erlang_a(&c, -2.0).unwrap_err();
        assert!(err.has("shrinkage") && err.has("patience_min"));
    }
}
