//! Latency of named PostgreSQL statements: a histogram per name, and a
//! warning in the log for each one slower than the threshold (the seed's
//! 100 ms), carrying its name, duration and tenant; the request id and
//! tenant of the HTTP request come from the current tracing span.

use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry};
use std::future::Future;
use std::time::{Duration, Instant};

pub struct StatementTimer {
    seconds: HistogramVec,
    slow_total: IntCounterVec,
    slow: Duration,
}

impl StatementTimer {
    pub fn register(registry: &Registry, slow: Duration) -> prometheus::Result<Self> {
        let seconds = HistogramVec::new(
            HistogramOpts::new(
                "jowi_db_statement_seconds",
                "Duration of named PostgreSQL statements",
            )
            .buckets(vec![
                0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
            ]),
            &["statement"],
        )?;
        let slow_total = IntCounterVec::new(
            Opts::new(
                "jowi_db_slow_statements_total",
                "Statements slower than database.slow_statement_ms",
            ),
            &["statement"],
        )?;
        registry.register(Box::new(seconds.clone()))?;
        registry.register(Box::new(slow_total.clone()))?;
        Ok(Self {
            seconds,
            slow_total,
            slow,
        })
    }

    /// Runs `fut`, records its duration under `name`, and logs it if slow.
    /// `tenant` names the tenant(s) concerned when the caller knows them.
    pub async fn time<T>(&self, name: &str, tenant: &str, fut: impl Future<Output = T>) -> T {
        let started = Instant::now();
        let out = fut.await;
        let took = started.elapsed();
        self.seconds
            .with_label_values(&[name])
            .observe(took.as_secs_f64());
        if took >= self.slow {
            self.slow_total.with_label_values(&[name]).inc();
            tracing::warn!(
                statement = name,
                duration_ms = took.as_secs_f64() * 1000.0,
                tenant = tenant,
                "slow statement"
            );
        }
        out
    }
}

/// A short stable name for an ad-hoc statement: its verb and first table
/// ("select shifts", "insert shifts"), so the label set stays small.
pub fn statement_name(sql: &str) -> String {
    let words: Vec<&str> = sql.split_whitespace().take(64).collect();
    let verb = words
        .first()
        .map(|w| w.to_ascii_lowercase())
        .unwrap_or_default();
    let after = match verb.as_str() {
        "select" | "delete" => "from",
        "insert" => "into",
        "update" => "update",
        _ => return verb,
    };
    let table = words
        .iter()
        .position(|w| w.eq_ignore_ascii_case(after))
        .and_then(|i| words.get(i + 1))
        .map(|t| {
            t.chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '.')
                .collect::<String>()
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    format!("{verb} {table}").trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::statement_name;

    #[test]
    fn names_are_verb_and_table() {
        assert_eq!(
            statement_name("SELECT a, b FROM shifts WHERE x = $1"),
            "select shifts"
        );
        assert_eq!(
            statement_name("INSERT INTO shifts (a) VALUES ($1)"),
            "insert shifts"
        );
        assert_eq!(
            statement_name("UPDATE products SET x = 1"),
            "update products"
        );
        assert_eq!(
            statement_name("SELECT action FROM jowi_partition_plan($1, $2)"),
            "select jowi_partition_plan"
        );
    }
}
