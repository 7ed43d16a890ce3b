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

    /// The same receiver over HTTPS on `https://127.0.0.1:<port>`, with a
    /// certificate for 127.0.0.1 and localhost issued by a CA made here.
    /// Answers the receiver and that CA's certificate (PEM).
    pub async fn start_tls() -> (Receiver, String) {
        let ca = TestCa::new("jowi test CA");
        let (chain, key) = ca.issue(&["127.0.0.1", "localhost"]);
        (Self::start_tls_with(chain, key), ca.pem())
    }

    /// An HTTPS receiver presenting `chain` (leaf first) with `key`.
    pub fn start_tls_with(
        chain: Vec<rustls::pki_types::CertificateDer<'static>>,
        key: rustls::pki_types::PrivateKeyDer<'static>,
    ) -> Receiver {
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .unwrap();
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
        .listen_rustls_0_23(listener, config)
        .unwrap()
        .run();
        actix_rt::spawn(server);
        Receiver {
            url: format!("https://127.0.0.1:{port}"),
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

/// A certificate authority made in the test (rcgen), for HTTPS receivers.
pub struct TestCa {
    cert: rcgen::Certificate,
    key: rcgen::KeyPair,
}

impl TestCa {
    pub fn new(name: &str) -> TestCa {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
        ];
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        TestCa { cert, key }
    }

    /// This CA's certificate, PEM (what `webhooks.ca_file` holds).
    pub fn pem(&self) -> String {
        self.cert.pem()
    }

    /// A server certificate for `names` (DNS names or IP addresses) signed
    /// by this CA: the chain (leaf, CA) and the leaf's key.
    pub fn issue(
        &self,
        names: &[&str],
    ) -> (
        Vec<rustls::pki_types::CertificateDer<'static>>,
        rustls::pki_types::PrivateKeyDer<'static>,
    ) {
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let mut params = rcgen::CertificateParams::new(names).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "jowi test receiver");
        let key = rcgen::KeyPair::generate().unwrap();
        let leaf = params.signed_by(&key, &self.cert, &self.key).unwrap();
        let chain = vec![leaf.der().clone(), self.cert.der().clone()];
        let key = rustls::pki_types::PrivateKeyDer::Pkcs8(
            rustls::pki_types::PrivatePkcs8KeyDer::from(key.serialize_der()),
        );
        (chain, key)
    }
}
