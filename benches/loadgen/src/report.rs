//! The report: JSON (everything) and a markdown table (what to read first),
//! both as benches/results/<date>-<shortcommit>.{json,md}.

use crate::cli::RunArgs;
use crate::fixture::Fixture;
use crate::scenarios::ScenarioResult;
use serde::Serialize;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The seed plan's NestJS + Prisma figures (4 CPU / 8 GB server, 2025-01-06).
const BASELINE: [(&str, f64); 3] = [("barcode", 1912.0), ("list", 1689.0), ("receipt", 1062.0)];

#[derive(Debug, Clone, Default, Serialize)]
pub struct ServerConfig {
    pub file: String,
    pub workers: Option<i64>,
    pub pool_max: Option<i64>,
    pub statement_cache: Option<bool>,
    pub batch_max_receipts: Option<i64>,
    pub flush_interval_ms: Option<i64>,
    pub writer_concurrency: Option<i64>,
    pub store_mailbox_capacity: Option<i64>,
    /// JOWI_* variables in the environment of this run (the server started
    /// by run.sh gets the same environment); secrets masked.
    pub env: Vec<String>,
}

impl ServerConfig {
    pub fn read(path: &Path) -> Self {
        let mut c = ServerConfig {
            file: path.display().to_string(),
            ..Default::default()
        };
        if let Ok(text) = std::fs::read_to_string(path) {
            if let Ok(v) = text.parse::<toml::Table>() {
                let int = |section: &str, key: &str| {
                    v.get(section)
                        .and_then(|s| s.get(key))
                        .and_then(|x| x.as_integer())
                };
                c.workers = int("server", "workers");
                c.pool_max = int("database", "pool_max");
                c.batch_max_receipts = int("sales", "batch_max_receipts");
                c.flush_interval_ms = int("sales", "flush_interval_ms");
                c.writer_concurrency = int("sales", "writer_concurrency");
                c.store_mailbox_capacity = int("sales", "store_mailbox_capacity");
                c.statement_cache = v
                    .get("database")
                    .and_then(|s| s.get("statement_cache"))
                    .and_then(|x| x.as_bool());
            }
        }
        let mut env: Vec<String> = std::env::vars()
            .filter(|(k, _)| k.starts_with("JOWI_") && k != "JOWI_ADMIN_TOKEN")
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        env.sort();
        c.env = env;
        c
    }

    fn describe(&self) -> String {
        let show = |v: Option<i64>| v.map_or("?".to_owned(), |x| x.to_string());
        let mut s = format!(
            "{}: workers={} (0 = one per core), database.pool_max={}, statement_cache={}, \
             sales.batch_max_receipts={}, sales.flush_interval_ms={}, sales.writer_concurrency={}, \
             sales.store_mailbox_capacity={}",
            self.file,
            show(self.workers),
            show(self.pool_max),
            self.statement_cache
                .map_or("?".to_owned(), |b| b.to_string()),
            show(self.batch_max_receipts),
            show(self.flush_interval_ms),
            show(self.writer_concurrency),
            show(self.store_mailbox_capacity),
        );
        if !self.env.is_empty() {
            let _ = write!(s, "; environment: {}", self.env.join(" "));
        }
        s
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    pub nproc: usize,
    pub cpu_model: String,
    pub mem_total_gb: f64,
    pub kernel: String,
    /// /proc/loadavg when the run started (other work on the machine skews results).
    pub loadavg_at_start: String,
    /// % of all cores busy during 1 s just before the warm-up.
    pub busy_pct_before_start: Option<f64>,
}

impl Machine {
    fn probe(busy_pct_before_start: Option<f64>) -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo
            .lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split_once(':'))
            .map_or("unknown".to_owned(), |(_, m)| m.trim().to_owned());
        let mem_total_gb = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|m| {
                m.lines()
                    .find(|l| l.starts_with("MemTotal:"))
                    .and_then(|l| l.split_whitespace().nth(1))
                    .and_then(|kb| kb.parse::<f64>().ok())
            })
            .map_or(0.0, |kb| kb / 1024.0 / 1024.0);
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| s.trim().to_owned())
            .unwrap_or_default();
        let loadavg_at_start = std::fs::read_to_string("/proc/loadavg")
            .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
            .unwrap_or_default();
        Self {
            nproc: std::thread::available_parallelism().map_or(0, |n| n.get()),
            cpu_model,
            mem_total_gb,
            kernel,
            loadavg_at_start,
            busy_pct_before_start,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Git {
    pub commit: String,
    pub short: String,
    /// Tracked files outside benches/ differ from the commit (the server
    /// measured may not be the commit).
    pub dirty: bool,
}

impl Git {
    pub fn probe() -> Self {
        let run = |args: &[&str]| {
            std::process::Command::new("git")
                .args(args)
                .output()
                .ok()
                .filter(|o| o.status.success())
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        };
        let commit = run(&["rev-parse", "HEAD"]).unwrap_or_else(|| "unknown".to_owned());
        let short = run(&["rev-parse", "--short", "HEAD"]).unwrap_or_else(|| "unknown".to_owned());
        let dirty = run(&[
            "status",
            "--porcelain",
            "--untracked-files=no",
            "--",
            ".",
            ":!benches",
        ])
        .is_some_and(|s| !s.is_empty());
        Self {
            commit,
            short,
            dirty,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct RunInfo {
    pub url: String,
    pub mode: String,
    pub connections: usize,
    pub duration_s: u64,
    pub warmup_s: u64,
    pub rate: Option<f64>,
    pub tenants: usize,
    pub products: usize,
    pub registers: usize,
    pub note: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Target {
    pub what: String,
    pub measured: String,
    pub verdict: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub started_at: String,
    pub date: String,
    pub machine: Machine,
    pub git: Git,
    pub server: ServerConfig,
    pub run: RunInfo,
    pub seed_baseline_rps: serde_json::Value,
    pub static_ceiling_rps: Option<f64>,
    pub pg_insert_ceiling_receipts_per_s: Option<f64>,
    pub targets: Vec<Target>,
    pub results: Vec<ScenarioResult>,
}

impl Report {
    pub fn new(
        args: &RunArgs,
        fixture: &Fixture,
        server: ServerConfig,
        started: chrono::DateTime<chrono::Local>,
        busy_before: Option<f64>,
        results: Vec<ScenarioResult>,
    ) -> Self {
        let find = |n: &str| results.iter().find(|r| r.name == n);
        let static_ceiling_rps = find("static").map(|r| r.per_s);
        let pg_ceiling = find("pg-insert").map(|r| r.per_s);
        let spec_mode = match args.rate {
            Some(r) => format!("constant arrival rate {r}/s, latency from scheduled send time"),
            None => "closed loop: each connection sends its next request when the previous \
                     one is answered; coordinated omission not corrected"
                .to_owned(),
        };
        let mut report = Self {
            started_at: started.to_rfc3339(),
            date: started.format("%Y-%m-%d").to_string(),
            machine: Machine::probe(busy_before),
            git: Git::probe(),
            server,
            run: RunInfo {
                url: args.url.clone(),
                mode: spec_mode,
                connections: args.connections,
                duration_s: args.duration,
                warmup_s: args.warmup,
                rate: args.rate,
                tenants: fixture.tenants.len(),
                products: fixture.variant_count(),
                registers: fixture.registers().len(),
                note: args.note.clone(),
            },
            seed_baseline_rps: serde_json::json!({
                "barcode": 1912, "list": 1689, "receipt": 1062,
                "source": "seed plan, NestJS + Prisma, 4 CPU / 8 GB server, 2025-01-06"
            }),
            static_ceiling_rps,
            pg_insert_ceiling_receipts_per_s: pg_ceiling,
            targets: Vec::new(),
            results,
        };
        report.targets = report.judge();
        report
    }

    fn find(&self, name: &str) -> Option<&ScenarioResult> {
        self.results.iter().find(|r| r.name == name)
    }

    /// The project's targets against what this run measured.
    fn judge(&self) -> Vec<Target> {
        let mut out = Vec::new();
        let verdict = |ok: bool| if ok { "met" } else { "not met" }.to_owned();
        let missing = |what: &str| Target {
            what: what.to_owned(),
            measured: "not measured".to_owned(),
            verdict: "—".to_owned(),
        };
        let w = "barcode ≥ 30,000 req/s with p99 ≤ 10 ms";
        out.push(match self.find("barcode") {
            Some(r) => Target {
                what: w.to_owned(),
                measured: format!(
                    "{} req/s, p99 {:.2} ms",
                    thousands(r.per_s),
                    r.latency.p99_ms
                ),
                verdict: self.throughput_verdict(r.per_s >= 30_000.0, r.latency.p99_ms <= 10.0),
            },
            None => missing(w),
        });
        let w = "list ≥ 8,000 req/s";
        out.push(match self.find("list") {
            Some(r) => Target {
                what: w.to_owned(),
                measured: format!("{} req/s", thousands(r.per_s)),
                verdict: self.throughput_verdict(r.per_s >= 8_000.0, true),
            },
            None => missing(w),
        });
        let w = "receipt ≥ 3,000 receipts/s with p99 ≤ 50 ms";
        out.push(match self.find("receipt") {
            Some(r) => Target {
                what: w.to_owned(),
                measured: format!(
                    "{} receipts/s, p99 {:.2} ms",
                    thousands(r.per_s),
                    r.latency.p99_ms
                ),
                verdict: self
                    .throughput_verdict(r.per_s >= 3_000.0 && r.ok > 0, r.latency.p99_ms <= 50.0),
            },
            None => missing(w),
        });
        let w = "receipt throughput with webhooks within 10% of without (same run)";
        out.push(match (self.find("receipt"), self.find("receipt-webhook")) {
            (Some(plain), Some(hooked)) if plain.per_s > 0.0 => Target {
                what: w.to_owned(),
                measured: format!(
                    "{} vs {} receipts/s ({:+.1}%)",
                    thousands(hooked.per_s),
                    thousands(plain.per_s),
                    (hooked.per_s / plain.per_s - 1.0) * 100.0
                ),
                verdict: verdict(hooked.per_s >= plain.per_s * 0.9),
            },
            _ => missing(w),
        });
        let w = "≤ 20 PostgreSQL connections with 1,000 client connections";
        out.push(match self.find("connections") {
            Some(r) => {
                let idle = r
                    .extra
                    .get("idle_opened")
                    .and_then(|v| v.as_u64())
                    .unwrap_or(0);
                match r.samples.pg_connections_max {
                    Some(pg) => Target {
                        what: w.to_owned(),
                        measured: format!(
                            "{pg} PostgreSQL connections with {idle} idle + {} active clients",
                            r.connections
                        ),
                        verdict: verdict(pg <= 20 && idle >= 1000),
                    },
                    None => missing(w),
                }
            }
            None => missing(w),
        });
        let w = "catalog cache hit rate ≥ 99% (barcode)";
        out.push(
            match self.find("barcode").and_then(|r| r.samples.cache_hit_rate) {
                Some(rate) => Target {
                    what: w.to_owned(),
                    measured: format!("{:.3}%", rate * 100.0),
                    verdict: verdict(rate >= 0.99),
                },
                None => missing(w),
            },
        );
        let w = "server RSS ≤ 512 MB with 100,000 products";
        let rss = self
            .results
            .iter()
            .filter_map(|r| r.samples.rss_max_mb)
            .fold(None, |m: Option<f64>, x| Some(m.map_or(x, |m| m.max(x))));
        out.push(match rss {
            Some(mb) => Target {
                what: w.to_owned(),
                measured: format!("{mb:.0} MB max with {} products", self.run.products),
                verdict: if self.run.products >= 100_000 {
                    verdict(mb <= 512.0)
                } else {
                    "n/a (fewer products)".to_owned()
                },
            },
            None => missing(w),
        });
        out
    }

    /// In rate mode the throughput is the offered rate, so only the latency
    /// part of a target can be judged.
    fn throughput_verdict(&self, rate_ok: bool, latency_ok: bool) -> String {
        match self.run.rate {
            None if rate_ok && latency_ok => "met".to_owned(),
            None => "not met".to_owned(),
            Some(r) if latency_ok => format!("latency met at {} req/s offered", thousands(r)),
            Some(r) => format!("latency not met at {} req/s offered", thousands(r)),
        }
    }

    pub fn write(&self, dir: &Path) -> anyhow::Result<(PathBuf, PathBuf)> {
        std::fs::create_dir_all(dir)?;
        let stem = format!("{}-{}", self.date, self.git.short);
        let json = dir.join(format!("{stem}.json"));
        let md = dir.join(format!("{stem}.md"));
        std::fs::write(&json, serde_json::to_vec_pretty(self)?)?;
        std::fs::write(&md, self.markdown())?;
        Ok((json, md))
    }

    pub fn markdown(&self) -> String {
        let mut s = String::new();
        let m = &self.machine;
        let _ = writeln!(
            s,
            "# JOWi Shop server benchmark — {} — {}{}\n",
            self.date,
            self.git.short,
            if self.git.dirty {
                " (uncommitted changes outside benches/)"
            } else {
                ""
            }
        );
        let _ = writeln!(
            s,
            "- **Machine:** {} cores, {}, {:.0} GB RAM, Linux {}; busy before the run: {} of all \
             cores (load average {}, which includes the data setup just before). The load \
             generator, the server and PostgreSQL share these cores, so every figure is a floor \
             for the server alone.",
            m.nproc,
            m.cpu_model,
            m.mem_total_gb,
            m.kernel,
            m.busy_pct_before_start
                .map_or("?".to_owned(), |b| format!("{b:.0}%")),
            m.loadavg_at_start
        );
        let _ = writeln!(
            s,
            "- **Date:** {}; **commit:** {}",
            self.started_at, self.git.commit
        );
        let _ = writeln!(s, "- **Server:** {}", self.server.describe());
        let _ = writeln!(
            s,
            "- **Load:** {} connections, {} s per scenario after a {} s warm-up; {}.",
            self.run.connections, self.run.duration_s, self.run.warmup_s, self.run.mode
        );
        let _ = writeln!(
            s,
            "- **Data:** {} tenants, {} products (one variant each), {} registers.",
            self.run.tenants, self.run.products, self.run.registers
        );
        if !self.run.note.is_empty() {
            let _ = writeln!(s, "- **Note:** {}", self.run.note);
        }
        let _ = writeln!(
            s,
            "- **Seed baseline** (NestJS + Prisma, 4 CPU server): barcode 1,912 req/s, list 1,689 req/s, receipt 1,062 req/s.\n"
        );

        let _ = writeln!(
            s,
            "CPU columns: server process and this load tool in % of one core, the whole machine \
             (everything, PostgreSQL included) in % of all {} cores.\n",
            m.nproc
        );
        let _ = writeln!(
            s,
            "| scenario | throughput | p50 ms | p95 ms | p99 ms | max ms | ok | non-2xx | errors | PG conns max | cache hit rate | RSS max MB | CPU server / tool / machine | of static | vs seed | write ceiling |"
        );
        let _ = writeln!(
            s,
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
        );
        for r in &self.results {
            let _ = writeln!(s, "{}", self.row(r));
            if r.kinds.len() > 1 {
                for k in &r.kinds {
                    let _ = writeln!(
                        s,
                        "| ↳ {} | {} /s | {} | {} | {} | {} | {} | {} | {} | | | | | | | |",
                        k.kind,
                        thousands(k.per_s),
                        ms(k.latency.p50_ms),
                        ms(k.latency.p95_ms),
                        ms(k.latency.p99_ms),
                        ms(k.latency.max_ms),
                        k.ok,
                        k.non_2xx,
                        k.errors
                    );
                }
            }
        }

        let _ = writeln!(s, "\n## Targets\n");
        let _ = writeln!(s, "| target | measured | verdict |\n|---|---|---|");
        for t in &self.targets {
            let _ = writeln!(s, "| {} | {} | {} |", t.what, t.measured, t.verdict);
        }
        if self.run.rate.is_none() {
            let _ = writeln!(
                s,
                "\nLatency targets are judged on closed-loop percentiles, which understate \
                 queueing (coordinated omission); rerun with `--rate` to check a p99 at a given load."
            );
        }

        let _ = writeln!(s, "\n## Notes\n");
        for r in &self.results {
            let _ = writeln!(
                s,
                "- **{}** ({}): latency = {}.",
                r.name, r.mode, r.latency_of
            );
            for n in &r.notes {
                let _ = writeln!(s, "  - {n}");
            }
            let mut statuses = std::collections::BTreeMap::new();
            let mut errors = std::collections::BTreeMap::new();
            for k in &r.kinds {
                for (code, c) in &k.statuses {
                    if !(200..300).contains(code) {
                        *statuses.entry(*code).or_insert(0) += c;
                    }
                }
                for (e, c) in &k.error_samples {
                    *errors.entry(e.clone()).or_insert(0) += c;
                }
            }
            if !statuses.is_empty() {
                let _ = writeln!(s, "  - non-2xx statuses: {statuses:?}");
            }
            for (e, c) in errors {
                let _ = writeln!(s, "  - error ×{c}: {e}");
            }
        }
        s
    }

    fn row(&self, r: &ScenarioResult) -> String {
        // HTTP scenarios only (pg-insert and ws deliveries are not requests).
        let http = !matches!(r.name.as_str(), "pg-insert" | "ws");
        let of_static = match self.static_ceiling_rps {
            Some(_) if r.name == "static" => "100%".to_owned(),
            Some(c) if c > 0.0 && http => format!("{:.1}%", r.per_s / c * 100.0),
            _ => String::new(),
        };
        let vs_seed = BASELINE
            .iter()
            .find(|(n, _)| *n == r.name)
            .map_or(String::new(), |(_, b)| format!("{:.1}×", r.per_s / b));
        let ceiling = match (r.name.as_str(), self.pg_insert_ceiling_receipts_per_s) {
            ("receipt", Some(c)) if c > 0.0 => format!(
                "pg-insert {} receipts/s ({:.1}%)",
                thousands(c),
                r.per_s / c * 100.0
            ),
            _ => String::new(),
        };
        let pct = |x: Option<f64>| x.map_or("—".to_owned(), |v| format!("{:.2}%", v * 100.0));
        format!(
            "| {} | {} {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.name,
            thousands(r.per_s),
            r.unit,
            ms(r.latency.p50_ms),
            ms(r.latency.p95_ms),
            ms(r.latency.p99_ms),
            ms(r.latency.max_ms),
            r.ok,
            r.non_2xx,
            r.errors,
            r.samples
                .pg_connections_max
                .map_or("—".to_owned(), |v| v.to_string()),
            pct(r.samples.cache_hit_rate),
            r.samples
                .rss_max_mb
                .map_or("—".to_owned(), |v| format!("{v:.0}")),
            cpu(&r.samples),
            of_static,
            vs_seed,
            ceiling
        )
    }
}

/// The line printed after each scenario.
pub fn one_line(r: &ScenarioResult) -> String {
    format!(
        "{:>12}: {:>10} {:<12} p50 {} p95 {} p99 {} max {} ms | ok {} non-2xx {} errors {} | pg {} | hit {} | rss {} MB",
        r.name,
        thousands(r.per_s),
        r.unit,
        ms(r.latency.p50_ms),
        ms(r.latency.p95_ms),
        ms(r.latency.p99_ms),
        ms(r.latency.max_ms),
        r.ok,
        r.non_2xx,
        r.errors,
        r.samples
            .pg_connections_max
            .map_or("—".to_owned(), |v| v.to_string()),
        r.samples
            .cache_hit_rate
            .map_or("—".to_owned(), |v| format!("{:.2}%", v * 100.0)),
        r.samples
            .rss_max_mb
            .map_or("—".to_owned(), |v| format!("{v:.0}")),
    )
}

/// "server % / tool % / machine %" (% of one core, one core, all cores).
fn cpu(s: &crate::sampler::Samples) -> String {
    let p = |x: Option<f64>| x.map_or("—".to_owned(), |v| format!("{v:.0}%"));
    format!(
        "{} / {} / {}",
        p(s.server_cpu_pct),
        p(s.tool_cpu_pct),
        p(s.machine_busy_pct)
    )
}

fn ms(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

fn thousands(v: f64) -> String {
    let n = v.round() as i64;
    let digits = n.unsigned_abs().to_string();
    let head = digits.len() % 3;
    let mut groups: Vec<&str> = Vec::new();
    if head > 0 {
        groups.push(&digits[..head]);
    }
    groups.extend(
        digits.as_bytes()[head..]
            .chunks(3)
            .filter_map(|c| std::str::from_utf8(c).ok()),
    );
    let out = groups.join(",");
    if n < 0 {
        format!("-{out}")
    } else {
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(thousands(1912.4), "1,912");
        assert_eq!(thousands(30000.0), "30,000");
        assert_eq!(thousands(999.0), "999");
        assert_eq!(ms(0.1234), "0.12");
        assert_eq!(ms(123.4), "123");
    }
}
