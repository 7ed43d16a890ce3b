//! `run --soak`: steady state. First the mix's capacity (closed loop,
//! `--capacity-s`), then the open model at `--share` of it for `--duration`
//! seconds, reported per `--window-s` window: throughput, p50/p95/p99/max
//! per request kind, server RSS and open fds, PostgreSQL connections, CPU
//! of server, PostgreSQL and this tool, the server's memory budget parts.
//! After the load, an idle pause and a leak check (fds, PostgreSQL
//! connections, WebSocket subscribers back to their values before the
//! load). Writes JSON, markdown and an SVG chart; prints a verdict against
//! the targets. Exit status 3 when the verdict fails.

use crate::http::{Conn, Target};
use crate::load::{self, LoadSpec};
use crate::report::Git;
use crate::sampler::{self, Sampler};
use crate::scenarios::{self, Ctx};
use crate::stats::Latency;
use hyper::Method;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

/// Targets of issue 16.
const P99_MAX_MS: f64 = 50.0;
const BARCODE_P99_MAX_MS: f64 = 10.0;
const RSS_GROWTH_MAX: f64 = 0.10;
/// RSS growth is judged from the end of this minute on.
const RSS_FROM_S: u64 = 300;

#[derive(Debug, Clone, Serialize)]
struct KindRow {
    ok: u64,
    non_2xx: u64,
    errors: u64,
    latency: Latency,
}

#[derive(Debug, Clone, Serialize)]
struct Window {
    index: usize,
    /// Seconds since the soak started, at the window's end.
    end_s: u64,
    per_s: f64,
    kinds: BTreeMap<String, KindRow>,
    rss_mb_end: Option<f64>,
    rss_mb_max: Option<f64>,
    server_fds: Option<usize>,
    pg_connections_max: Option<i64>,
    server_cpu_pct: Option<f64>,
    postgres_cpu_pct: Option<f64>,
    tool_cpu_pct: Option<f64>,
    machine_busy_pct: Option<f64>,
    /// The server's memory budget (`/api/v1/health/cache` .memory).
    memory: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Serialize)]
struct Idle {
    server_fds: Option<usize>,
    pg_connections: Option<i64>,
    ws_subscribers: Option<i64>,
    rss_mb: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
struct Verdict {
    pass: bool,
    failures: Vec<String>,
    rss_growth_pct: Option<f64>,
    leaks: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
struct SoakReport {
    started_at: String,
    git: Git,
    note: String,
    mix: String,
    connections: usize,
    capacity_rps: Option<f64>,
    share: f64,
    rate: f64,
    duration_s: u64,
    window_s: u64,
    windows: Vec<Window>,
    idle_before: Idle,
    idle_after: Idle,
    verdict: Verdict,
}

fn count_fds(pid: u32) -> Option<usize> {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .ok()
        .map(|d| d.count())
}

/// utime + stime of every `postgres` process, in clock ticks (backends
/// come and go; the pool's stay for the run).
fn postgres_ticks() -> u64 {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0;
    };
    dir.filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .filter_map(|e| std::fs::read_to_string(e.path().join("stat")).ok())
        .filter(|s| s.contains("(postgres)"))
        .filter_map(|s| {
            let rest = &s[s.rfind(')')? + 1..];
            let f: Vec<&str> = rest.split_whitespace().collect();
            Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
        })
        .sum()
}

async fn get_json(target: &Arc<Target>, path: &str) -> Option<serde_json::Value> {
    let mut conn = Conn::new(target.clone()).ok()?;
    let r = conn
        .request_within(Duration::from_secs(5), Method::GET, path, None, None)
        .await
        .ok()?;
    r.is_success()
        .then(|| serde_json::from_slice(&r.body).ok())
        .flatten()
}

async fn metric(target: &Arc<Target>, name: &str) -> Option<i64> {
    let mut conn = Conn::new(target.clone()).ok()?;
    let r = conn
        .request_within(Duration::from_secs(5), Method::GET, "/metrics", None, None)
        .await
        .ok()?;
    let text = String::from_utf8_lossy(&r.body).into_owned();
    text.lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse::<f64>().ok())
        .map(|v| v as i64)
}

async fn pg_connections(ctx: &Ctx) -> Option<i64> {
    let (config, db) = ctx.sampler.pg.as_ref()?;
    let c = crate::db::connect_config(config).await.ok()?;
    c.query_one(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = $1",
        &[db],
    )
    .await
    .ok()
    .map(|r| r.get(0))
}

async fn idle(ctx: &Ctx) -> Idle {
    let pid = ctx.sampler.server_pid;
    Idle {
        server_fds: pid.and_then(count_fds),
        pg_connections: pg_connections(ctx).await,
        ws_subscribers: metric(&ctx.target, "jowi_ws_subscribers").await,
        rss_mb: pid.and_then(sampler::rss_mb),
    }
}

pub async fn run(ctx: &Ctx) -> anyhow::Result<()> {
    let args = &ctx.args;
    let started_at = chrono::Local::now();
    let (workload, shift_note) = scenarios::mix_workload(ctx).await;
    scenarios::warm_up(ctx, args.warmup).await;
    let base = ctx.spec();
    let capacity = match args.rate {
        Some(_) => None,
        None => {
            let spec = LoadSpec {
                duration: Duration::from_secs(args.capacity_s.max(1)),
                rate: None,
                ..base
            };
            let r = load::drive(ctx.target.clone(), workload.clone(), spec, "capacity").await;
            let ok = r.recorder.total().ok as f64 / r.elapsed.as_secs_f64().max(1e-3);
            println!(
                "capacity (closed loop, {} s): {ok:.0} req/s",
                args.capacity_s
            );
            Some(ok)
        }
    };
    let rate = args
        .rate
        .or(capacity.map(|c| c * args.share))
        .filter(|r| *r > 0.0)
        .ok_or_else(|| anyhow::anyhow!("no capacity measured and no --rate"))?;
    // Let the capacity run's backlog drain before the idle values are taken.
    tokio::time::sleep(Duration::from_secs(args.idle_s.min(10))).await;
    let idle_before = idle(ctx).await;
    println!(
        "soak: {rate:.0} req/s ({}), {} s in {} s windows",
        match capacity {
            Some(c) => format!("{:.0}% of {c:.0}", args.share * 100.0),
            None => "--rate".to_owned(),
        },
        args.duration,
        args.window_s
    );

    let total = Duration::from_secs(args.duration.max(1));
    let window = Duration::from_secs(args.window_s.max(1)).min(total);
    let soak_start = std::time::Instant::now();
    let mut windows = Vec::new();
    while soak_start.elapsed() + Duration::from_millis(500) < total {
        let left = total.saturating_sub(soak_start.elapsed());
        let spec = LoadSpec {
            duration: window.min(left),
            rate: Some(rate),
            ..base
        };
        let pg_before = postgres_ticks();
        let sampler = Sampler::start(&ctx.sampler).await;
        let label = format!("window {}", windows.len() + 1);
        let r = load::drive(ctx.target.clone(), workload.clone(), spec, &label).await;
        let s = sampler.finish().await;
        let secs = r.elapsed.as_secs_f64().max(1e-3);
        let pg_cpu = postgres_ticks().saturating_sub(pg_before) as f64 / 100.0 / secs * 100.0;
        let kinds = r
            .recorder
            .kinds()
            .iter()
            .map(|(k, st)| {
                (
                    (*k).to_owned(),
                    KindRow {
                        ok: st.ok,
                        non_2xx: st.non_2xx,
                        errors: st.errors,
                        latency: Latency::of(&st.hist),
                    },
                )
            })
            .collect();
        let w = Window {
            index: windows.len() + 1,
            end_s: soak_start.elapsed().as_secs(),
            per_s: r.recorder.total().ok as f64 / secs,
            kinds,
            rss_mb_end: ctx.sampler.server_pid.and_then(sampler::rss_mb),
            rss_mb_max: s.rss_max_mb,
            server_fds: ctx.sampler.server_pid.and_then(count_fds),
            pg_connections_max: s.pg_connections_max,
            server_cpu_pct: s.server_cpu_pct,
            postgres_cpu_pct: Some(pg_cpu),
            tool_cpu_pct: s.tool_cpu_pct,
            machine_busy_pct: s.machine_busy_pct,
            memory: get_json(&ctx.target, "/api/v1/health/cache")
                .await
                .and_then(|v| v.get("memory").cloned()),
        };
        println!("{}", window_line(&w));
        windows.push(w);
    }

    println!("idle {} s, then the leak check", args.idle_s);
    tokio::time::sleep(Duration::from_secs(args.idle_s)).await;
    let idle_after = idle(ctx).await;
    let verdict = judge(&windows, &idle_before, &idle_after);
    let report = SoakReport {
        started_at: started_at.to_rfc3339(),
        git: Git::probe(),
        note: format!("{}; {shift_note}", args.note),
        mix: scenarios::MIX_DESCRIPTION.to_owned(),
        connections: base.connections,
        capacity_rps: capacity,
        share: args.share,
        rate,
        duration_s: args.duration,
        window_s: args.window_s,
        windows,
        idle_before,
        idle_after,
        verdict,
    };
    let stem = format!(
        "soak-{}-{}",
        started_at.format("%Y-%m-%d"),
        report.git.short
    );
    std::fs::create_dir_all(&args.out_dir)?;
    let json = args.out_dir.join(format!("{stem}.json"));
    let md = args.out_dir.join(format!("{stem}.md"));
    let svg = args.out_dir.join(format!("{stem}.svg"));
    std::fs::write(&json, serde_json::to_string_pretty(&report)?)?;
    std::fs::write(&md, markdown(&report, &format!("{stem}.svg")))?;
    std::fs::write(&svg, chart(&report))?;
    println!();
    println!("{}", markdown(&report, &format!("{stem}.svg")));
    println!(
        "wrote {}, {} and {}",
        json.display(),
        md.display(),
        svg.display()
    );
    if report.verdict.pass {
        Ok(())
    } else {
        eprintln!("soak verdict: FAIL");
        std::process::exit(3);
    }
}

fn window_line(w: &Window) -> String {
    let mut s = format!("[{:>3}] {:>5} s {:>7.0} req/s", w.index, w.end_s, w.per_s);
    for (k, r) in &w.kinds {
        let _ = write!(s, "  {k} p99 {:.1} ms", r.latency.p99_ms);
    }
    if let Some(rss) = w.rss_mb_end {
        let _ = write!(s, "  RSS {rss:.0} MB");
    }
    s
}

fn judge(windows: &[Window], before: &Idle, after: &Idle) -> Verdict {
    let mut failures = Vec::new();
    for w in windows {
        for (k, r) in &w.kinds {
            let bound = if k == "barcode" {
                BARCODE_P99_MAX_MS
            } else {
                P99_MAX_MS
            };
            if r.latency.p99_ms > bound {
                failures.push(format!(
                    "window {} ({} s): {k} p99 {:.1} ms > {bound} ms",
                    w.index, w.end_s, r.latency.p99_ms
                ));
            }
            if r.errors > 0 || r.non_2xx > 0 {
                failures.push(format!(
                    "window {}: {k} {} errors, {} non-2xx",
                    w.index, r.errors, r.non_2xx
                ));
            }
        }
    }
    // RSS from the end of minute 5 (or the first window of a shorter run).
    let from = windows
        .iter()
        .find(|w| w.end_s >= RSS_FROM_S)
        .or(windows.first());
    let growth = match (
        from.and_then(|w| w.rss_mb_end),
        windows.last().and_then(|w| w.rss_mb_end),
    ) {
        (Some(a), Some(b)) if a > 0.0 => Some((b - a) / a),
        _ => None,
    };
    if let Some(g) = growth {
        if g > RSS_GROWTH_MAX {
            failures.push(format!(
                "RSS grew {:.1}% after {} s (bound {:.0}%)",
                g * 100.0,
                from.map_or(0, |w| w.end_s),
                RSS_GROWTH_MAX * 100.0
            ));
        }
    }
    let mut leaks = Vec::new();
    if let (Some(a), Some(b)) = (before.server_fds, after.server_fds) {
        // A few sockets may still be closing.
        if b > a + 8 {
            leaks.push(format!("server fds {a} before the load, {b} after"));
        }
    }
    if let (Some(a), Some(b)) = (before.pg_connections, after.pg_connections) {
        if b > a {
            leaks.push(format!("PostgreSQL connections {a} before, {b} after"));
        }
    }
    if let (Some(a), Some(b)) = (before.ws_subscribers, after.ws_subscribers) {
        if b != a {
            leaks.push(format!("WebSocket subscribers {a} before, {b} after"));
        }
    }
    failures.extend(leaks.iter().map(|l| format!("leak: {l}")));
    Verdict {
        pass: failures.is_empty(),
        failures,
        rss_growth_pct: growth.map(|g| g * 100.0),
        leaks,
    }
}

fn opt<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map_or_else(|| "–".to_owned(), |v| v.to_string())
}

fn kinds_of(r: &SoakReport) -> Vec<String> {
    let mut k: Vec<String> = r
        .windows
        .iter()
        .flat_map(|w| w.kinds.keys().cloned())
        .collect();
    k.sort();
    k.dedup();
    k
}

fn markdown(r: &SoakReport, svg: &str) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# Soak {} ({}{})\n",
        r.started_at,
        r.git.short,
        if r.git.dirty { ", dirty" } else { "" }
    );
    let _ = writeln!(
        s,
        "Open model at {:.0} req/s{} for {} s ({} s windows), {} connections. {}\n\n{}\n",
        r.rate,
        match r.capacity_rps {
            Some(c) => format!(
                " = {:.0}% of the measured capacity {c:.0} req/s",
                r.share * 100.0
            ),
            None => String::new(),
        },
        r.duration_s,
        r.window_s,
        r.connections,
        r.mix,
        r.note
    );
    let _ = writeln!(
        s,
        "**Verdict: {}** (p99 ≤ {P99_MAX_MS} ms every kind every window, barcode p99 ≤ {BARCODE_P99_MAX_MS} ms, \
         RSS growth ≤ {:.0}% after {RSS_FROM_S} s, no leaks){}\n",
        if r.verdict.pass { "PASS" } else { "FAIL" },
        RSS_GROWTH_MAX * 100.0,
        r.verdict
            .rss_growth_pct
            .map_or(String::new(), |g| format!("; RSS growth {g:.1}%"))
    );
    for f in &r.verdict.failures {
        let _ = writeln!(s, "- {f}");
    }
    let kinds = kinds_of(r);
    let _ = write!(s, "\n| min | req/s |");
    for k in &kinds {
        let _ = write!(s, " {k} p50/p95/p99/max ms |");
    }
    let _ = writeln!(
        s,
        " RSS MB | fds | PG conns | CPU server/PG/tool % | budget MB (receipts/catalogs/replay) | evictions |"
    );
    let _ = write!(s, "|---|---|");
    for _ in &kinds {
        let _ = write!(s, "---|");
    }
    let _ = writeln!(s, "---|---|---|---|---|---|");
    for w in &r.windows {
        let _ = write!(s, "| {} | {:.0} |", w.index, w.per_s);
        for k in &kinds {
            match w.kinds.get(k) {
                Some(x) => {
                    let l = &x.latency;
                    let _ = write!(
                        s,
                        " {:.1}/{:.1}/{:.1}/{:.0} |",
                        l.p50_ms, l.p95_ms, l.p99_ms, l.max_ms
                    );
                }
                None => s.push_str(" – |"),
            }
        }
        let mb = |key: &str| {
            w.memory
                .as_ref()
                .and_then(|m| m.get(key))
                .and_then(|v| v.as_f64())
                .map_or("–".to_owned(), |b| format!("{:.1}", b / 1048576.0))
        };
        let _ = writeln!(
            s,
            " {} | {} | {} | {}/{}/{} | {}/{}/{} | {} |",
            opt(w.rss_mb_end.map(|v| format!("{v:.0}"))),
            opt(w.server_fds),
            opt(w.pg_connections_max),
            opt(w.server_cpu_pct.map(|v| format!("{v:.0}"))),
            opt(w.postgres_cpu_pct.map(|v| format!("{v:.0}"))),
            opt(w.tool_cpu_pct.map(|v| format!("{v:.0}"))),
            mb("receipts_bytes"),
            mb("catalogs_bytes"),
            mb("replay_bytes"),
            w.memory
                .as_ref()
                .and_then(|m| m.get("evictions"))
                .map_or("–".to_owned(), |v| v.to_string()),
        );
    }
    let _ = writeln!(
        s,
        "\nAfter the load ({} fds, {} PostgreSQL connections, {} subscribers before; {} / {} / {} after): {}\n\n![latency and memory]({svg})",
        opt(r.idle_before.server_fds),
        opt(r.idle_before.pg_connections),
        opt(r.idle_before.ws_subscribers),
        opt(r.idle_after.server_fds),
        opt(r.idle_after.pg_connections),
        opt(r.idle_after.ws_subscribers),
        if r.verdict.leaks.is_empty() {
            "no leaks".to_owned()
        } else {
            r.verdict.leaks.join("; ")
        }
    );
    s
}

/// Two panels over time: p99 per kind (ms, with the 50 and 10 ms bounds)
/// and server RSS (MB).
fn chart(r: &SoakReport) -> String {
    const W: f64 = 760.0;
    const H: f64 = 220.0;
    const L: f64 = 60.0;
    const GAP: f64 = 50.0;
    const COLORS: [&str; 6] = [
        "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b",
    ];
    let n = r.windows.len().max(1) as f64;
    let x = |i: usize| L + (W - L - 20.0) * if n > 1.0 { i as f64 / (n - 1.0) } else { 0.5 };
    let kinds = kinds_of(r);
    let p99 = |w: &Window, k: &str| w.kinds.get(k).map_or(0.0, |x| x.latency.p99_ms);
    let max_ms = r
        .windows
        .iter()
        .flat_map(|w| kinds.iter().map(move |k| p99(w, k)))
        .fold(P99_MAX_MS * 1.2, f64::max);
    let rss: Vec<f64> = r
        .windows
        .iter()
        .map(|w| w.rss_mb_end.unwrap_or(0.0))
        .collect();
    let max_rss = rss.iter().cloned().fold(1.0, f64::max) * 1.2;
    let top = 30.0;
    let bottom = top + H + GAP;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{}\" font-family=\"sans-serif\" font-size=\"11\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"{L}\" y=\"18\" font-size=\"13\">p99 latency per request kind (ms, log scale) by window — soak {} at {:.0} req/s</text>\n",
        bottom + H + 40.0,
        r.git.short,
        r.rate
    );
    // Log scale from 0.1 ms: the bounds and a multi-second stall both show.
    let lo = 0.1f64.log10();
    let y_ms = |v: f64| top + H - H * ((v.max(0.1).log10() - lo) / (max_ms.log10() - lo)).min(1.0);
    let y_rss = |v: f64| bottom + H - H * (v / max_rss).min(1.0);
    for (panel_top, label, zero) in [
        (top, format!("{max_ms:.0} ms"), "0.1 ms"),
        (bottom, format!("{max_rss:.0} MB"), "0"),
    ] {
        let _ = writeln!(
            s,
            "<rect x=\"{L}\" y=\"{panel_top}\" width=\"{}\" height=\"{H}\" fill=\"none\" stroke=\"#999\"/>\
             <text x=\"4\" y=\"{}\">{label}</text><text x=\"4\" y=\"{}\">{zero}</text>",
            W - L - 20.0,
            panel_top + 10.0,
            panel_top + H
        );
    }
    for (i, (bound, what)) in [(P99_MAX_MS, "50 ms"), (BARCODE_P99_MAX_MS, "barcode 10 ms")]
        .into_iter()
        .enumerate()
    {
        let y = y_ms(bound);
        let _ = writeln!(
            s,
            "<line x1=\"{L}\" y1=\"{y:.1}\" x2=\"{}\" y2=\"{y:.1}\" stroke=\"#aaa\" stroke-dasharray=\"4 3\"/>\
             <text x=\"{}\" y=\"{:.1}\" fill=\"#888\">{what}</text>",
            W - 20.0,
            W - 110.0 - 100.0 * i as f64,
            y - 3.0
        );
    }
    for (ci, k) in kinds.iter().enumerate() {
        let c = COLORS[ci % COLORS.len()];
        let pts: Vec<String> = r
            .windows
            .iter()
            .enumerate()
            .map(|(i, w)| format!("{:.1},{:.1}", x(i), y_ms(p99(w, k))))
            .collect();
        let _ = writeln!(
            s,
            "<polyline fill=\"none\" stroke=\"{c}\" stroke-width=\"1.5\" points=\"{}\"/>\
             <text x=\"{}\" y=\"{}\" fill=\"{c}\">{k}</text>",
            pts.join(" "),
            L + 10.0 + 90.0 * ci as f64,
            top + 14.0
        );
    }
    let pts: Vec<String> = rss
        .iter()
        .enumerate()
        .map(|(i, v)| format!("{:.1},{:.1}", x(i), y_rss(*v)))
        .collect();
    let _ = writeln!(
        s,
        "<text x=\"{L}\" y=\"{}\" font-size=\"13\">server RSS (MB) at the end of each window</text>\
         <polyline fill=\"none\" stroke=\"#333\" stroke-width=\"2\" points=\"{}\"/>",
        bottom - 8.0,
        pts.join(" ")
    );
    let _ = writeln!(
        s,
        "<text x=\"{L}\" y=\"{}\">window 1</text><text x=\"{}\" y=\"{}\">window {}</text>\n</svg>",
        bottom + H + 16.0,
        W - 90.0,
        bottom + H + 16.0,
        r.windows.len()
    );
    s
}
