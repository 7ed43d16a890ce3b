//! Process and edge metrics that Prometheus expects of any service: CPU
//! seconds, resident memory, open and maximum file descriptors, threads and
//! start time (read from /proc at each scrape, under the conventional
//! `process_*` names), and the number of HTTP requests in flight.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use prometheus::{Counter, Gauge, IntGauge, Opts, Registry};

/// /proc's clock tick (USER_HZ): 100 on every Linux the server runs on.
const TICKS_PER_SECOND: f64 = 100.0;

pub struct ProcessCollector {
    cpu: Counter,
    resident: IntGauge,
    open_fds: IntGauge,
    max_fds: IntGauge,
    threads: IntGauge,
    start_time: Gauge,
}

impl ProcessCollector {
    pub fn register(registry: &Registry) -> prometheus::Result<()> {
        let c = ProcessCollector {
            cpu: Counter::with_opts(Opts::new(
                "process_cpu_seconds_total",
                "User and system CPU time spent, in seconds",
            ))?,
            resident: IntGauge::new("process_resident_memory_bytes", "Resident memory in bytes")?,
            open_fds: IntGauge::new("process_open_fds", "Open file descriptors")?,
            max_fds: IntGauge::new("process_max_fds", "Limit of open file descriptors")?,
            threads: IntGauge::new("process_threads", "OS threads of the process")?,
            start_time: Gauge::new(
                "process_start_time_seconds",
                "Start time of the process since the Unix epoch, in seconds",
            )?,
        };
        registry.register(Box::new(c))
    }

    fn refresh(&self) {
        let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
        // Fields after the parenthesised command name (which may hold spaces).
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map(|(_, rest)| rest.split_whitespace().collect())
            .unwrap_or_default();
        let field = |n: usize| -> f64 {
            // /proc/<pid>/stat numbers fields from 1; fields[0] is field 3.
            fields
                .get(n - 3)
                .and_then(|v| v.parse().ok())
                .unwrap_or(0.0)
        };
        let cpu = (field(14) + field(15)) / TICKS_PER_SECOND;
        let grown = cpu - self.cpu.get();
        if grown > 0.0 {
            self.cpu.inc_by(grown);
        }
        self.threads.set(field(20) as i64);
        let boot: f64 = std::fs::read_to_string("/proc/stat")
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix("btime "))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0.0);
        self.start_time.set(boot + field(22) / TICKS_PER_SECOND);
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let rss_kb: i64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0);
        self.resident.set(rss_kb * 1024);
        let fds = std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count() as i64);
        self.open_fds.set(fds);
        let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
        let max = limits
            .lines()
            .find(|l| l.starts_with("Max open files"))
            .and_then(|l| l.split_whitespace().nth(3))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        self.max_fds.set(max);
    }
}

impl Collector for ProcessCollector {
    fn desc(&self) -> Vec<&Desc> {
        [
            self.cpu.desc(),
            self.resident.desc(),
            self.open_fds.desc(),
            self.max_fds.desc(),
            self.threads.desc(),
            self.start_time.desc(),
        ]
        .concat()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        self.refresh();
        [
            self.cpu.collect(),
            self.resident.collect(),
            self.open_fds.collect(),
            self.max_fds.collect(),
            self.threads.collect(),
            self.start_time.collect(),
        ]
        .concat()
    }
}

/// Registers the in-flight gauge; `track_in_flight` keeps it.
pub fn in_flight_gauge(registry: &Registry) -> prometheus::Result<IntGauge> {
    let g = IntGauge::new(
        "jowi_http_requests_in_flight",
        "HTTP requests being handled now",
    )?;
    registry.register(Box::new(g.clone()))?;
    Ok(g)
}

/// Middleware: counts a request in flight from arrival to response.
pub async fn track_in_flight(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let gauge = req.app_data::<InFlight>().map(|g| g.0.clone());
    let _guard = gauge.map(|g| {
        g.inc();
        Decrement(g)
    });
    next.call(req).await
}

/// The gauge as app data (cloned into every worker).
#[derive(Clone)]
pub struct InFlight(pub IntGauge);

/// Decrements on drop: a request cancelled mid-way still leaves the count.
struct Decrement(IntGauge);

impl Drop for Decrement {
    fn drop(&mut self) {
        self.0.dec();
    }
}
