//! Redis pub/sub bus: a bb8 pool publishes, one dedicated connection
//! subscribes and reconnects with backoff. After every (re)connect it hands
//! its subscribers a `Resync`, because pub/sub loses whatever was sent while
//! the connection was down.

use super::{Bus, BusEvent, Envelope};
use crate::metrics::Metrics;
use bb8_redis::RedisConnectionManager;
use futures::StreamExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, mpsc};
use uuid::Uuid;

/// Bound of the outgoing queue; overflow is dropped (receivers resync).
const OUT_QUEUE: usize = 8192;

pub struct RedisBus {
    origin: Uuid,
    out: mpsc::Sender<Envelope>,
    inbound: broadcast::Sender<Envelope>,
    connected: Arc<AtomicBool>,
    metrics: Metrics,
}

impl RedisBus {
    /// Starts the publisher and subscriber tasks on the current runtime.
    /// Never fails for Redis being down: it keeps trying in the background.
    pub fn start(url: &str, channel: String, metrics: Metrics) -> anyhow::Result<Arc<Self>> {
        let client = redis::Client::open(url)
            .map_err(|e| anyhow::anyhow!("redis.url is not a Redis URL: {e}"))?;
        let manager = RedisConnectionManager::new(url)?;
        let pool = bb8::Pool::builder()
            .max_size(4)
            .connection_timeout(Duration::from_millis(500))
            .build_unchecked(manager);
        let (out, out_rx) = mpsc::channel(OUT_QUEUE);
        let (inbound, _) = broadcast::channel(4096);
        let bus = Arc::new(Self {
            origin: Uuid::new_v4(),
            out,
            inbound: inbound.clone(),
            connected: Arc::new(AtomicBool::new(false)),
            metrics: metrics.clone(),
        });
        tokio::spawn(publish_loop(pool, channel.clone(), out_rx, metrics.clone()));
        tokio::spawn(subscribe_loop(
            client,
            channel,
            bus.origin,
            inbound,
            Arc::clone(&bus.connected),
            metrics,
        ));
        Ok(bus)
    }
}

async fn publish_loop(
    pool: bb8::Pool<RedisConnectionManager>,
    channel: String,
    mut rx: mpsc::Receiver<Envelope>,
    metrics: Metrics,
) {
    while let Some(env) = rx.recv().await {
        let Ok(payload) = serde_json::to_string(&env) else {
            continue;
        };
        let sent = match pool.get().await {
            Ok(mut conn) => redis::cmd("PUBLISH")
                .arg(&channel)
                .arg(payload)
                .query_async::<i64>(&mut *conn)
                .await
                .is_ok(),
            Err(_) => false,
        };
        if sent {
            metrics.bus_events.with_label_values(&["out"]).inc();
        } else {
            metrics.bus_events.with_label_values(&["dropped"]).inc();
        }
    }
}

async fn subscribe_loop(
    client: redis::Client,
    channel: String,
    origin: Uuid,
    inbound: broadcast::Sender<Envelope>,
    connected: Arc<AtomicBool>,
    metrics: Metrics,
) {
    let mut backoff = Duration::from_millis(100);
    loop {
        match client.get_async_pubsub().await {
            Ok(mut pubsub) => match pubsub.subscribe(&channel).await {
                Ok(()) => {
                    connected.store(true, Ordering::SeqCst);
                    metrics.bus_connected.set(1);
                    backoff = Duration::from_millis(100);
                    tracing::info!(channel = %channel, "bus connected");
                    let _ = inbound.send(Envelope {
                        origin: Uuid::nil(),
                        event: BusEvent::Resync,
                    });
                    let mut stream = pubsub.on_message();
                    while let Some(msg) = stream.next().await {
                        let Ok(payload) = msg.get_payload::<String>() else {
                            continue;
                        };
                        match serde_json::from_str::<Envelope>(&payload) {
                            Ok(env) if env.origin != origin => {
                                metrics.bus_events.with_label_values(&["in"]).inc();
                                let _ = inbound.send(env);
                            }
                            Ok(_) => {}
                            Err(e) => tracing::warn!(error = %e, "unreadable bus message"),
                        }
                    }
                    tracing::warn!("bus connection lost");
                }
                Err(e) => tracing::warn!(error = %e, "bus subscribe failed"),
            },
            Err(e) => tracing::debug!(error = %e, "bus connect failed"),
        }
        connected.store(false, Ordering::SeqCst);
        metrics.bus_connected.set(0);
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(2));
    }
}

impl Bus for RedisBus {
    fn publish(&self, event: BusEvent) {
        let env = Envelope {
            origin: self.origin,
            event,
        };
        if self.out.try_send(env).is_err() {
            self.metrics
                .bus_events
                .with_label_values(&["dropped"])
                .inc();
        }
    }
    fn subscribe(&self) -> broadcast::Receiver<Envelope> {
        self.inbound.subscribe()
    }
    fn connected(&self) -> bool {
        self.connected.load(Ordering::SeqCst)
    }
    fn origin(&self) -> Uuid {
        self.origin
    }
    fn kind(&self) -> &'static str {
        "redis"
    }
}
