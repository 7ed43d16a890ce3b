//! A real HTTP receiver for webhook tests: records every request (headers
//! and raw body), can fail its first N requests or hang, and counts
//! requests in flight per subscription URL path.

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub timestamp: String,
    pub signature: String,
    pub event_id: String,
    pub event_type: String,
    pub body: Vec<u8>,
    /// The status this receiver answered.
    pub status: u16,
}

#[derive(Default)]
pub struct Behaviour {
    /// Answer 500 to this many requests first.
    pub fail_first: AtomicUsize,
    /// Answer 500 to everything while set.
    pub fail_all: AtomicBool,
    /// Hold every request (until the sender times out) while set.
    pub hang: AtomicBool,
    /// Delay each answer by this many ms (to expose overlapping requests).
    pub delay_ms: AtomicUsize,
}

#[derive(Default)]
pub struct Shared {
    pub log: Mutex<Vec<Received>>,
    pub behaviour: Behaviour,
    in_flight: Mutex<HashMap<String, usize>>,
    /// Highest number of requests seen at once on one path.
    pub max_in_flight: AtomicUsize,
    pub hanging_now: AtomicUsize,
}

pub struct Receiver {
    pub url: String,
    pub shared: Arc<Shared>,
}

impl Receiver {
    pub async fn start() -> Receiver {
        let shared = Arc::new(Shared::default());
        let data = web::Data::from(Arc::clone(&shared));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .app_data(web::PayloadConfig::new(1 << 20))
                .default_service(web::to(handle))
        })
        .workers(2)
        .disable_signals()
        .listen(listener)
        .unwrap()
        .run();
        actix_rt::spawn(server);
        Receiver {
            url: format!("http://127.0.0.1:{port}"),
            shared,
        }
    }

    /// Requests answered 2xx, in arrival order.
    pub fn delivered(&self) -> Vec<Received> {
        self.shared
            .log
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.status < 300)
            .cloned()
            .collect()
    }

    pub fn all(&self) -> Vec<Received> {
        self.shared.log.lock().unwrap().clone()
    }
}

async fn handle(req: HttpRequest, body: web::Bytes, shared: web::Data<Shared>) -> HttpResponse {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let path = req.path().to_owned();
    {
        let mut f = shared.in_flight.lock().unwrap();
        let n = f.entry(path.clone()).or_default();
        *n += 1;
        shared.max_in_flight.fetch_max(*n, Ordering::SeqCst);
    }
    let b = &shared.behaviour;
    let delay = b.delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay as u64)).await;
    }
    if b.hang.load(Ordering::SeqCst) {
        shared.hanging_now.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_secs(30)).await;
        shared.hanging_now.fetch_sub(1, Ordering::SeqCst);
    }
    let fail = b.fail_all.load(Ordering::SeqCst)
        || b.fail_first
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
    let status = if fail { 500 } else { 200 };
    shared.log.lock().unwrap().push(Received {
        path: path.clone(),
        timestamp: header("x-jowi-timestamp"),
        signature: header("x-jowi-signature"),
        event_id: header("x-jowi-event-id"),
        event_type: header("x-jowi-event-type"),
        body: body.to_vec(),
        status,
    });
    if let Some(n) = shared.in_flight.lock().unwrap().get_mut(&path) {
        *n -= 1;
    }
    if fail {
        HttpResponse::InternalServerError().body("nope")
    } else {
        HttpResponse::Ok().body("ok")
    }
}
