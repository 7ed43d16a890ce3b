//! Latency histograms (HdrHistogram, microseconds, 3 significant digits)
//! and outcome counters, kept per worker and merged at the end.

use hdrhistogram::Histogram;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Highest recordable latency: 120 s (longer values are clamped).
const MAX_US: u64 = 120_000_000;
/// Distinct error messages kept per kind for the report.
const MAX_ERROR_SAMPLES: usize = 8;

/// Live counters for the progress line.
#[derive(Default)]
pub struct Live {
    pub ok: AtomicU64,
    pub failed: AtomicU64,
}

impl Live {
    pub fn ok(&self) {
        self.ok.fetch_add(1, Ordering::Relaxed);
    }
    pub fn failed(&self) {
        self.failed.fetch_add(1, Ordering::Relaxed);
    }
    pub fn snapshot(&self) -> (u64, u64) {
        (
            self.ok.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed),
        )
    }
}

#[allow(clippy::expect_used)] // constant, valid bounds: this cannot fail
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_US, 3).expect("valid histogram bounds")
}

pub fn record(h: &mut Histogram<u64>, d: Duration) {
    let us = (d.as_micros() as u64).clamp(1, MAX_US);
    h.saturating_record(us);
}

/// Outcomes of one kind of operation (a scenario has one kind; `mix` has several).
#[derive(Clone)]
pub struct KindStats {
    /// Latency of successful (2xx) operations.
    pub hist: Histogram<u64>,
    pub ok: u64,
    pub non_2xx: u64,
    pub errors: u64,
    pub statuses: BTreeMap<u16, u64>,
    pub error_samples: BTreeMap<String, u64>,
}

impl Default for KindStats {
    fn default() -> Self {
        Self {
            hist: new_histogram(),
            ok: 0,
            non_2xx: 0,
            errors: 0,
            statuses: BTreeMap::new(),
            error_samples: BTreeMap::new(),
        }
    }
}

impl KindStats {
    pub fn merge(&mut self, other: &KindStats) {
        // Same bounds on both sides: add cannot fail; a failure would only
        // lose the other side's latencies, never the counters.
        let _ = self.hist.add(&other.hist);
        self.ok += other.ok;
        self.non_2xx += other.non_2xx;
        self.errors += other.errors;
        for (k, v) in &other.statuses {
            *self.statuses.entry(*k).or_default() += v;
        }
        for (k, v) in &other.error_samples {
            note_error(&mut self.error_samples, k, *v);
        }
    }
}

fn note_error(samples: &mut BTreeMap<String, u64>, msg: &str, n: u64) {
    if let Some(c) = samples.get_mut(msg) {
        *c += n;
    } else if samples.len() < MAX_ERROR_SAMPLES {
        samples.insert(msg.to_owned(), n);
    }
}

/// Per-kind outcomes, in first-seen order.
#[derive(Default, Clone)]
pub struct Recorder {
    kinds: Vec<(&'static str, KindStats)>,
}

impl Recorder {
    fn kind(&mut self, kind: &'static str) -> &mut KindStats {
        let i = match self.kinds.iter().position(|(k, _)| *k == kind) {
            Some(i) => i,
            None => {
                self.kinds.push((kind, KindStats::default()));
                self.kinds.len() - 1
            }
        };
        &mut self.kinds[i].1
    }

    /// A response arrived: 2xx counts as a success with its latency.
    pub fn response(&mut self, kind: &'static str, status: u16, latency: Duration) {
        let k = self.kind(kind);
        *k.statuses.entry(status).or_default() += 1;
        if (200..300).contains(&status) {
            k.ok += 1;
            record(&mut k.hist, latency);
        } else {
            k.non_2xx += 1;
        }
    }

    /// A success measured some other way (pg-insert batches, ws deliveries).
    pub fn success(&mut self, kind: &'static str, latency: Duration) {
        let k = self.kind(kind);
        k.ok += 1;
        record(&mut k.hist, latency);
    }

    /// No response: connect failure, reset, timeout.
    pub fn error(&mut self, kind: &'static str, err: &anyhow::Error) {
        let k = self.kind(kind);
        k.errors += 1;
        // Strip ids and numbers so similar errors group together.
        let msg: String = format!("{err:#}")
            .chars()
            .map(|c| if c.is_ascii_digit() { '#' } else { c })
            .take(160)
            .collect();
        note_error(&mut k.error_samples, &msg, 1);
    }

    pub fn merge(&mut self, other: &Recorder) {
        for (name, stats) in &other.kinds {
            self.kind(name).merge(stats);
        }
    }

    pub fn total(&self) -> KindStats {
        let mut t = KindStats::default();
        for (_, k) in &self.kinds {
            t.merge(k);
        }
        t
    }

    pub fn kinds(&self) -> &[(&'static str, KindStats)] {
        &self.kinds
    }
}

/// Latency figures in milliseconds.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Latency {
    pub count: u64,
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

impl Latency {
    pub fn of(h: &Histogram<u64>) -> Self {
        if h.is_empty() {
            return Self::default();
        }
        let ms = |us: u64| us as f64 / 1000.0;
        Self {
            count: h.len(),
            mean_ms: h.mean() / 1000.0,
            p50_ms: ms(h.value_at_quantile(0.50)),
            p95_ms: ms(h.value_at_quantile(0.95)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            p999_ms: ms(h.value_at_quantile(0.999)),
            max_ms: ms(h.max()),
        }
    }
}

/// What the report keeps of a `KindStats`.
#[derive(Debug, Clone, Serialize)]
pub struct KindSummary {
    pub kind: String,
    pub ok: u64,
    pub per_s: f64,
    pub non_2xx: u64,
    pub errors: u64,
    pub latency: Latency,
    pub statuses: BTreeMap<u16, u64>,
    pub error_samples: BTreeMap<String, u64>,
}

impl KindSummary {
    pub fn of(kind: &str, k: &KindStats, elapsed: Duration) -> Self {
        let secs = elapsed.as_secs_f64().max(1e-9);
        Self {
            kind: kind.to_owned(),
            ok: k.ok,
            per_s: k.ok as f64 / secs,
            non_2xx: k.non_2xx,
            errors: k.errors,
            latency: Latency::of(&k.hist),
            statuses: k.statuses.clone(),
            error_samples: k.error_samples.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorder_counts_and_percentiles() {
        let mut r = Recorder::default();
        for i in 1..=100u64 {
            r.response("a", 200, Duration::from_millis(i));
        }
        r.response("a", 404, Duration::from_millis(1));
        r.error("b", &anyhow::anyhow!("timeout after 10 ms"));
        let mut other = Recorder::default();
        other.response("b", 201, Duration::from_millis(5));
        r.merge(&other);
        let t = r.total();
        assert_eq!((t.ok, t.non_2xx, t.errors), (101, 1, 1));
        let l = Latency::of(&r.kinds()[0].1.hist);
        assert!((49.0..=51.0).contains(&l.p50_ms), "{l:?}");
        assert!((99.0..=101.0).contains(&l.max_ms), "{l:?}");
        assert_eq!(r.kinds()[1].1.error_samples.len(), 1);
    }
}
