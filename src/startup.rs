//! Wiring: settings -> pool, bus, actors -> HTTP server. Used by `jowi
//! serve` and by the tests (which bind port 0 and get their own state).

use crate::error::{json_error, path_error, query_error};
use crate::fallback::{self, UnknownMethods};
use crate::rate_limit::RateLimits;
use crate::settings::Settings;
use crate::state::AppState;
use crate::{openapi::ApiDoc, routes, telemetry};
use actix_web::dev::Server;
use actix_web::{middleware, web, App, HttpResponse, HttpServer};
use actix_web_prom::{PrometheusMetrics, PrometheusMetricsBuilder};
use anyhow::Context;
use jowi_actors::auth::Authenticator;
use jowi_actors::bus::{redis_bus::RedisBus, Bus, InProcessBus};
use jowi_actors::directory::{Directory, SalesWiring};
use jowi_actors::maintenance::partitions::{self, PartitionMetrics, PartitionSettings};
use jowi_actors::memory::MemoryBudget;
use jowi_actors::metrics::Metrics;
use jowi_actors::pg::timing::StatementTimer;
use jowi_actors::pg::{self, Db, PoolSettings};
use jowi_actors::store::StoreSettings;
use jowi_actors::writer::{Writer, WriterSettings};
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;
use utoipa::OpenApi;

pub struct Application {
    server: Server,
    port: u16,
    /// Port of the separate metrics listener, when `server.metrics_listen` is set.
    metrics_port: Option<u16>,
    pub state: web::Data<AppState>,
    writer: Writer,
}

pub fn pool_settings(settings: &Settings) -> PoolSettings {
    PoolSettings {
        url: settings.database.url.clone(),
        max_size: settings.database.pool_max,
        wait_timeout: Duration::from_millis(settings.database.wait_timeout_ms),
        connect_timeout: Duration::from_millis(settings.database.connect_timeout_ms),
        statement_cache: settings.database.statement_cache,
    }
}

pub fn partition_settings(settings: &Settings) -> PartitionSettings {
    let m = &settings.maintenance;
    PartitionSettings {
        interval: Duration::from_millis(m.partition_interval_ms),
        months_ahead: m.partition_months_ahead.min(120) as i32,
        retention_months: m.partition_retention_months.min(1200) as i32,
        lock_timeout_ms: m.partition_lock_timeout_ms,
    }
}

impl Application {
    /// Migrates, builds the shared state and binds the listener. Must run
    /// inside an actix System (actors live on their own arbiter).
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        if settings.database.migrate_on_start {
            pg::migrate(&settings.database.url)
                .await
                .context("migrating the database (database.url / DATABASE_URL)")?;
        }
        let registry = prometheus::Registry::new();
        let metrics = Metrics::register(&registry)?;
        let partition_metrics = PartitionMetrics::register(&registry)?;
        crate::ops_metrics::ProcessCollector::register(&registry)?;
        let in_flight = crate::ops_metrics::in_flight_gauge(&registry)?;
        let pool = pg::connect(&pool_settings(&settings))?;
        let db =
            Db::new(pool, settings.database.statement_cache).with_timer(StatementTimer::register(
                &registry,
                Duration::from_millis(settings.database.slow_statement_ms),
            )?);
        let bus: Arc<dyn Bus> = if settings.redis.url.is_empty() {
            Arc::new(InProcessBus::default())
        } else {
            RedisBus::start(
                &settings.redis.url,
                settings.redis.channel.clone(),
                metrics.clone(),
            )?
        };
        let reads = crate::replica::read_router(&settings, &db, &registry)?;
        let auth = Arc::new(Authenticator::new(db.clone()));
        let db_for_sessions = db.clone();
        let arbiter = actix::Arbiter::new();
        let webhooks = start_webhooks(&settings, &registry)?;
        let writer: Writer = Writer::start(
            db.clone(),
            WriterSettings {
                batch_max: settings.sales.batch_max_receipts,
                flush_interval: Duration::from_millis(settings.sales.flush_interval_ms),
                concurrency: settings.sales.writer_concurrency,
                lanes_by: settings.sales.writer_lanes_by,
                queue: settings.sales.writer_queue,
                max_clock_skew: Duration::from_secs(settings.sales.max_clock_skew_s.max(0) as u64),
                running_totals: settings.sales.running_totals,
                on_commit: Some(webhooks.commit_signal()),
            },
            metrics.clone(),
        );
        let directory = Arc::new(Directory::new(
            db.clone(),
            Arc::clone(&bus),
            Arc::clone(&auth),
            metrics.clone(),
            arbiter.handle(),
            Duration::from_secs(settings.catalog.tenant_idle_evict_s),
            SalesWiring {
                writer: writer.clone(),
                store_settings: Arc::new(StoreSettings {
                    max_clock_skew_s: settings.sales.max_clock_skew_s,
                    ws_queue_events: settings.sales.ws_queue_events,
                    mailbox_capacity: settings.sales.store_mailbox_capacity,
                }),
                replay_events: settings.sales.ws_replay_events,
                budget: MemoryBudget::new(
                    settings.memory.budget_bytes,
                    Duration::from_secs(settings.memory.receipt_ttl_s),
                    Some(&registry),
                )?,
            },
        ));
        let limits = Arc::new(RateLimits::new(settings.limits.clone(), &registry)?);
        let state = web::Data::new(AppState {
            settings: Arc::new(settings.clone()),
            db,
            directory,
            auth,
            bus,
            metrics,
            limits,
            webhooks,
            reads,
            shutdown: Default::default(),
            sessions: Arc::new(jowi_actors::sessions::Sessions::new(
                db_for_sessions,
                settings.backoffice.sessions(),
            )),
            proxies: crate::client_addr::TrustedProxies::parse(&settings.server.trusted_proxies)
                .map_err(|e| anyhow::anyhow!("server.trusted_proxies: {e}"))?,
        });
        spawn_background(&state, &settings);
        crate::replica::spawn_checker(&state.reads, &settings);
        partitions::spawn(
            state.db.clone(),
            partition_settings(&settings),
            partition_metrics,
        );
        jowi_actors::maintenance::points::spawn(
            state.db.clone(),
            Duration::from_millis(settings.maintenance.points_expiry_interval_ms),
        );
        jowi_actors::maintenance::vacuum::spawn(
            state.db.clone(),
            Duration::from_millis(settings.maintenance.vacuum_interval_ms),
        );

        let unknown_methods = web::Data::new(UnknownMethods::register(&registry)?);
        // Requests are labelled by route pattern; every path no route
        // matched shares the one "unmatched" label.
        let mut prometheus = PrometheusMetricsBuilder::new("jowi")
            .registry(registry.clone())
            .mask_unmatched_patterns("unmatched");
        let metrics_addr = settings.metrics_listen_addr()?;
        if metrics_addr.is_none() {
            prometheus = prometheus.endpoint("/metrics");
        }
        let prometheus = prometheus
            .build()
            .map_err(|e| anyhow::anyhow!("metrics: {e}"))?;
        let metrics_port = match metrics_addr {
            Some(addr) => {
                let listener = TcpListener::bind(addr).with_context(|| {
                    format!(
                        "binding server.metrics_listen = {}",
                        settings.server.metrics_listen
                    )
                })?;
                let port = listener.local_addr()?.port();
                actix_rt::spawn(metrics_server(listener, registry)?);
                Some(port)
            }
            None => None,
        };
        let listener = TcpListener::bind(settings.listen_addr()?)
            .with_context(|| format!("binding server.listen = {}", settings.server.listen))?;
        let port = listener.local_addr()?.port();
        let server = build_server(
            listener,
            state.clone(),
            prometheus,
            in_flight,
            unknown_methods,
            &settings,
        )?;
        Ok(Self {
            server,
            port,
            metrics_port,
            state,
            writer,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics_port
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }

    /// Serves until SIGTERM/SIGINT, then shuts down gracefully (see
    /// `crate::shutdown`) within `server.shutdown_timeout_s`.
    pub async fn run_until_signalled(self) -> anyhow::Result<()> {
        crate::shutdown::run(self.server, &self.state, &self.writer).await
    }
}

/// The outbox sequencer and webhook worker, on a pool of their own.
fn start_webhooks(
    settings: &Settings,
    registry: &prometheus::Registry,
) -> anyhow::Result<jowi_actors::webhooks::WebhookHandle> {
    let metrics = jowi_actors::webhooks::metrics::WebhookMetrics::register(registry)?;
    let mut pool = pool_settings(settings);
    pool.max_size = settings.webhooks.pool_max;
    let db = Db::new(pg::connect(&pool)?, settings.database.statement_cache);
    jowi_actors::webhooks::start(db, settings.webhooks.clone(), metrics)
}

fn build_server(
    listener: TcpListener,
    state: web::Data<AppState>,
    prometheus: PrometheusMetrics,
    in_flight: prometheus::IntGauge,
    unknown_methods: web::Data<UnknownMethods>,
    settings: &Settings,
) -> anyhow::Result<Server> {
    let max_body = settings.server.max_body_bytes;
    let mut server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .app_data(crate::ops_metrics::InFlight(in_flight.clone()))
            .app_data(unknown_methods.clone())
            .app_data(
                web::JsonConfig::default()
                    .limit(max_body)
                    .error_handler(|e, _| json_error(e).into()),
            )
            .app_data(web::PathConfig::default().error_handler(|e, _| path_error(e).into()))
            .app_data(web::QueryConfig::default().error_handler(|e, _| query_error(e).into()))
            .wrap(prometheus.clone())
            .wrap(middleware::from_fn(fallback::refuse_unknown_methods))
            .wrap(middleware::from_fn(telemetry::request_span))
            .wrap(middleware::from_fn(crate::ops_metrics::track_in_flight))
            .route("/api/v1/openapi.json", web::get().to(openapi_json))
            .configure(routes::configure)
            .configure(crate::web::configure)
            .default_service(web::to(fallback::not_routed))
    })
    .shutdown_timeout(settings.server.shutdown_timeout_s)
    // Signals are handled in `crate::shutdown` (WebSockets, the writer).
    .disable_signals()
    .backlog(4096)
    .max_connection_rate(1024);
    if settings.server.workers > 0 {
        server = server.workers(settings.server.workers);
    }
    Ok(server.listen(listener)?.run())
}

/// `/metrics` alone on its own listener (`server.metrics_listen`), so it
/// need not be reachable from where the API is.
fn metrics_server(listener: TcpListener, registry: prometheus::Registry) -> anyhow::Result<Server> {
    let server = HttpServer::new(move || {
        let registry = registry.clone();
        App::new().route(
            "/metrics",
            web::get().to(move || {
                let registry = registry.clone();
                async move {
                    use prometheus::Encoder;
                    let mut out = Vec::new();
                    match prometheus::TextEncoder::new().encode(&registry.gather(), &mut out) {
                        Ok(()) => HttpResponse::Ok()
                            .content_type(prometheus::TEXT_FORMAT)
                            .body(out),
                        Err(e) => {
                            tracing::error!(error = %e, "encoding metrics");
                            HttpResponse::InternalServerError().finish()
                        }
                    }
                }
            }),
        )
    })
    .workers(1)
    // Lives as long as the process; shutdown is `crate::shutdown`'s.
    .disable_signals()
    .listen(listener)?
    .run();
    Ok(server)
}

async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}

/// Eviction of idle tenants, pool gauges, and the bus listener.
fn spawn_background(state: &web::Data<AppState>, settings: &Settings) {
    let st = state.clone();
    let every = Duration::from_millis(settings.catalog.evict_check_interval_ms);
    actix_rt::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            st.directory.evict_idle();
        }
    });

    let st = state.clone();
    actix_rt::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tick.tick().await;
            st.limits.prune();
        }
    });

    let st = state.clone();
    actix_rt::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tick.tick().await;
            let s = st.db.pool.status();
            st.metrics.db_pool_size.set(s.size as i64);
            st.metrics.db_pool_available.set(s.available as i64);
            st.metrics.db_pool_max.set(s.max_size as i64);
        }
    });

    actix_rt::spawn(Arc::clone(&state.directory).follow_bus());
}

/// Used by `main`: telemetry, then build and run.
pub async fn serve(settings: Settings) -> anyhow::Result<()> {
    telemetry::init();
    let app = Application::build(settings).await?;
    tracing::info!(port = app.port(), "jowi serving");
    app.run_until_signalled().await
}
