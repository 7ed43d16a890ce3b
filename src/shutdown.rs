//! Graceful shutdown. On SIGTERM (or SIGINT) `jowi serve` stops accepting
//! connections, closes live-stock WebSockets with a reason (code 1001, "going
//! away"), lets in-flight requests finish — so every receipt it answered is
//! committed — waits for the writer's queued receipts, and exits within
//! `server.shutdown_timeout_s`. A second signal exits at once.

use std::sync::Arc;
use tokio::sync::watch;

/// The close reason live subscribers get; they should reconnect (to another
/// instance, through the load balancer) and resume with `since_seq`.
pub const WS_CLOSE_REASON: &str = "server shutting down; reconnect and resume";

/// A one-way switch every long-lived task can wait on.
#[derive(Clone)]
pub struct Shutdown {
    tx: Arc<watch::Sender<bool>>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Self {
            tx: Arc::new(watch::channel(false).0),
        }
    }
}

impl Shutdown {
    pub fn trigger(&self) {
        self.tx.send_replace(true);
    }

    pub fn is_triggered(&self) -> bool {
        *self.tx.borrow()
    }

    /// Resolves once `trigger` has been called (at once if it was).
    pub async fn wait(&self) {
        let mut rx = self.tx.subscribe();
        // Err only if the sender is gone, which `self` prevents.
        let _ = rx.wait_for(|on| *on).await;
    }
}

/// Runs `server` until a signal, then drains it (see the module comment).
pub async fn run(
    server: actix_web::dev::Server,
    state: &actix_web::web::Data<crate::state::AppState>,
    writer: &jowi_actors::writer::Writer,
) -> anyhow::Result<()> {
    use actix_rt::signal::unix::{signal, SignalKind};
    use std::time::{Duration, Instant};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let handle = server.handle();
    let mut running = actix_rt::spawn(server);
    tokio::select! {
        ended = &mut running => return Ok(ended??),
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    let bound = Duration::from_secs(state.settings.server.shutdown_timeout_s);
    let started = Instant::now();
    tracing::info!(
        bound_s = bound.as_secs(),
        "signal received: closing subscriptions, draining requests and the writer"
    );
    state.shutdown.trigger();
    let drain = async {
        // Stops accepting at once; waits for in-flight requests (each
        // receipt's request waits for its commit) up to the same bound.
        handle.stop(true).await;
        let _ = running.await;
        writer.drained().await;
    };
    tokio::select! {
        finished = tokio::time::timeout(bound, drain) => match finished {
            Ok(()) => tracing::info!(elapsed_ms = started.elapsed().as_millis() as u64, "stopped cleanly"),
            Err(_) => tracing::warn!(bound_s = bound.as_secs(), "shutdown bound reached; exiting with work unfinished"),
        },
        _ = term.recv() => tracing::warn!("second signal: exiting now"),
        _ = int.recv() => tracing::warn!("second signal: exiting now"),
    }
    Ok(())
}
