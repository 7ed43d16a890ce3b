//! Wiring: settings -> pool, bus, actors -> HTTP server. Used by `jowi
//! serve` and by the tests (which bind port 0 and get their own state).

use crate::error::{json_error, path_error, query_error, ApiError};
use crate::settings::Settings;
use crate::state::AppState;
use crate::{openapi::ApiDoc, routes, telemetry};
use actix_web::dev::Server;
use actix_web::{middleware, web, App, HttpResponse, HttpServer};
use actix_web_prom::{PrometheusMetrics, PrometheusMetricsBuilder};
use anyhow::Context;
use jowi_actors::auth::Authenticator;
use jowi_actors::bus::{redis_bus::RedisBus, Bus, BusEvent, InProcessBus};
use jowi_actors::directory::{Directory, SalesWiring};
use jowi_actors::metrics::Metrics;
use jowi_actors::pg::{self, Db, PoolSettings};
use jowi_actors::store::messages::ApplyLevels;
use jowi_actors::store::StoreSettings;
use jowi_actors::tenant::messages::ReloadEntity;
use jowi_actors::writer::{Writer, WriterSettings};
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;
use utoipa::OpenApi;

pub struct Application {
    server: Server,
    port: u16,
    pub state: web::Data<AppState>,
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
        let pool = pg::connect(&pool_settings(&settings))?;
        let db = Db::new(pool, settings.database.statement_cache);
        let bus: Arc<dyn Bus> = if settings.redis.url.is_empty() {
            Arc::new(InProcessBus::default())
        } else {
            RedisBus::start(
                &settings.redis.url,
                settings.redis.channel.clone(),
                metrics.clone(),
            )?
        };
        let auth = Arc::new(Authenticator::new(db.clone()));
        let arbiter = actix::Arbiter::new();
        let writer = Writer::start(
            db.clone(),
            WriterSettings {
                batch_max: settings.sales.batch_max_receipts,
                flush_interval: Duration::from_millis(settings.sales.flush_interval_ms),
                concurrency: settings.sales.writer_concurrency,
                queue: settings.sales.writer_queue,
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
                writer,
                store_settings: Arc::new(StoreSettings {
                    max_clock_skew_s: settings.sales.max_clock_skew_s,
                    ws_queue_events: settings.sales.ws_queue_events,
                    mailbox_capacity: settings.sales.store_mailbox_capacity,
                }),
                replay_events: settings.sales.ws_replay_events,
            },
        ));
        let webhooks = start_webhooks(&settings, &registry)?;
        let state = web::Data::new(AppState {
            settings: Arc::new(settings.clone()),
            db,
            directory,
            auth,
            bus,
            metrics,
            webhooks,
        });
        spawn_background(&state, &settings);

        let prometheus = PrometheusMetricsBuilder::new("jowi")
            .registry(registry)
            .endpoint("/metrics")
            .build()
            .map_err(|e| anyhow::anyhow!("metrics: {e}"))?;
        let listener = TcpListener::bind(settings.listen_addr()?)
            .with_context(|| format!("binding server.listen = {}", settings.server.listen))?;
        let port = listener.local_addr()?.port();
        let server = build_server(listener, state.clone(), prometheus, &settings)?;
        Ok(Self {
            server,
            port,
            state,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
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
    settings: &Settings,
) -> anyhow::Result<Server> {
    let max_body = settings.server.max_body_bytes;
    let mut server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .app_data(
                web::JsonConfig::default()
                    .limit(max_body)
                    .error_handler(|e, _| json_error(e).into()),
            )
            .app_data(web::PathConfig::default().error_handler(|e, _| path_error(e).into()))
            .app_data(web::QueryConfig::default().error_handler(|e, _| query_error(e).into()))
            .wrap(prometheus.clone())
            .wrap(middleware::from_fn(telemetry::request_span))
            .route("/api/v1/openapi.json", web::get().to(openapi_json))
            .configure(routes::configure)
            .default_service(web::to(|| async {
                Err::<HttpResponse, _>(ApiError::RouteNotFound)
            }))
    })
    .shutdown_timeout(settings.server.shutdown_timeout_s)
    .backlog(4096)
    .max_connection_rate(1024);
    if settings.server.workers > 0 {
        server = server.workers(settings.server.workers);
    }
    Ok(server.listen(listener)?.run())
}

async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}

/// Eviction of idle tenants, pool gauges, and the bus dispatcher.
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
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tick.tick().await;
            let s = st.db.pool.status();
            st.metrics.db_pool_size.set(s.size as i64);
            st.metrics.db_pool_available.set(s.available as i64);
            st.metrics.db_pool_max.set(s.max_size as i64);
        }
    });

    let st = state.clone();
    actix_rt::spawn(async move {
        let mut rx = st.bus.subscribe();
        let me = st.bus.origin();
        loop {
            let env = match rx.recv().await {
                Ok(env) => env,
                // Fell behind: treat like a reconnect, re-check everything.
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                    jowi_actors::bus::Envelope {
                        origin: uuid::Uuid::nil(),
                        event: BusEvent::Resync,
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
            };
            if env.origin == me {
                continue;
            }
            dispatch(&st, env.event).await;
        }
    });
}

async fn dispatch(st: &web::Data<AppState>, event: BusEvent) {
    match event {
        BusEvent::CatalogChanged {
            tenant_id,
            entity,
            id,
            ..
        } => {
            if let Some(handle) = st.directory.loaded(tenant_id) {
                let _ = handle.actor.send(ReloadEntity { entity, id }).await;
            }
        }
        BusEvent::TokenRevoked { token_hash, .. } => {
            if let Some(hash) = jowi_actors::auth::parse_token_hash(&token_hash) {
                st.auth.forget(&hash);
            }
        }
        BusEvent::StockChanged {
            tenant_id,
            store_id,
            changes,
        } => {
            // Another instance committed: show it to our subscribers.
            if let Some(store) = st.directory.running_store(tenant_id, store_id) {
                let cause = changes.first().map(|c| c.cause.clone()).unwrap_or_default();
                let levels = changes
                    .into_iter()
                    .map(|c| jowi_actors::pg::sales::LevelUpdate {
                        tenant_id,
                        store_id,
                        warehouse_id: c.warehouse_id,
                        variant_id: c.variant_id,
                        quantity: c.quantity,
                        delta: c.delta,
                    })
                    .collect();
                let _ = store
                    .send(ApplyLevels {
                        levels,
                        cause,
                        publish: false,
                    })
                    .await;
            }
        }
        BusEvent::Resync => {
            for handle in st.directory.loaded_tenants() {
                let _ = handle
                    .actor
                    .send(jowi_actors::tenant::messages::ResyncCatalog)
                    .await;
            }
        }
    }
}

/// Used by `main`: telemetry, then build and run.
pub async fn serve(settings: Settings) -> anyhow::Result<()> {
    telemetry::init();
    let app = Application::build(settings).await?;
    tracing::info!(port = app.port(), "jowi serving");
    app.run_until_stopped().await?;
    Ok(())
}
