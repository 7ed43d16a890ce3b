//! Test harness: each test gets its own database (cloned from a migrated
//! template), its own server on port 0 and its own bus channel.

use jowi::settings::Settings;
use jowi::startup::Application;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::Duration;
use tokio_postgres::NoTls;
use uuid::Uuid;

#[allow(dead_code)] // fields used by some test modules only
pub struct TestApp {
    pub base: String,
    pub http: reqwest::Client,
    pub db_url: String,
    pub admin_token: String,
    pub settings: Settings,
    /// Base URL of the separate metrics listener, when configured.
    pub metrics_base: Option<String>,
}

#[allow(dead_code)]
pub struct Tenant {
    pub id: Uuid,
    pub token: String,
}

/// The server's answer: status and JSON body (Null when empty).
pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
}

impl Reply {
    /// The error code of an error body.
    pub fn code(&self) -> &str {
        self.body["error"]["code"]
            .as_str()
            .unwrap_or("<no error code>")
    }
}

fn base_url() -> String {
    std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// Replaces the database name of a PostgreSQL URL.
pub fn with_db(url: &str, db: &str) -> String {
    let (head, tail) = match url.split_once('?') {
        Some((h, t)) => (h, Some(t)),
        None => (url, None),
    };
    let cut = head
        .rfind('/')
        .filter(|i| *i > "postgres://".len())
        .unwrap_or(head.len());
    let mut out = format!("{}/{}", &head[..cut], db);
    if let Some(t) = tail {
        out.push('?');
        out.push_str(t);
    }
    out
}

async fn admin_client() -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(&with_db(&base_url(), "postgres"), NoTls)
        .await
        .expect("connect to PostgreSQL (set DATABASE_URL)");
    tokio::spawn(conn);
    client
}

/// A fresh migrated database: the template is built once per migration set
/// (under an advisory lock, since test processes run in parallel), then
/// cloned, which is much faster than migrating each time.
pub async fn fresh_database() -> String {
    let mut hash: u64 = 1469598103934665603;
    let mut files: Vec<_> = std::fs::read_dir("migrations")
        .expect("migrations dir")
        .filter_map(|e| e.ok())
        .collect();
    files.sort_by_key(|e| e.file_name());
    for f in files {
        for b in std::fs::read(f.path()).expect("read migration") {
            hash = (hash ^ u64::from(b)).wrapping_mul(1099511628211);
        }
    }
    let template = format!("jowi_tpl_{:016x}", hash);
    let name = format!("jowi_test_{}", Uuid::new_v4().simple());
    let admin = admin_client().await;
    admin
        .execute("SELECT pg_advisory_lock(7220399)", &[])
        .await
        .expect("lock");
    let exists = !admin
        .query("SELECT 1 FROM pg_database WHERE datname = $1", &[&template])
        .await
        .expect("query")
        .is_empty();
    if !exists {
        admin
            .batch_execute(&format!("CREATE DATABASE {template}"))
            .await
            .expect("create template");
        jowi_actors::pg::migrate(&with_db(&base_url(), &template))
            .await
            .expect("migrate template");
    }
    admin
        .batch_execute(&format!("CREATE DATABASE {name} TEMPLATE {template}"))
        .await
        .expect("clone template");
    admin
        .execute("SELECT pg_advisory_unlock(7220399)", &[])
        .await
        .expect("unlock");
    with_db(&base_url(), &name)
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(configure: impl FnOnce(&mut Settings)) -> TestApp {
    let db_url = fresh_database().await;
    let mut settings = Settings::load().expect("settings");
    settings.database.url = db_url.clone();
    settings.server.listen = "127.0.0.1:0".into();
    settings.server.workers = 2;
    settings.server.admin_token = format!("admin-{}", Uuid::new_v4());
    settings.redis.url = String::new();
    settings.redis.channel = format!("jowi:test:{}", Uuid::new_v4().simple());
    // Tests hammer the API from one token; the rate-limit tests turn
    // limits on with their own budgets.
    settings.limits.enabled = false;
    configure(&mut settings);
    spawn_with_settings(settings).await
}

/// Starts a server on an existing database (e.g. a second instance).
pub async fn spawn_with_settings(settings: Settings) -> TestApp {
    let app = Application::build(settings.clone())
        .await
        .expect("build app");
    let port = app.port();
    let metrics_base = app.metrics_port().map(|p| format!("http://127.0.0.1:{p}"));
    actix_rt::spawn(app.run_until_stopped());
    TestApp {
        base: format!("http://127.0.0.1:{port}"),
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("client"),
        db_url: settings.database.url.clone(),
        admin_token: settings.server.admin_token.clone(),
        settings,
        metrics_base,
    }
}

impl TestApp {
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Reply {
        let mut req = self.http.request(method, format!("{}{}", self.base, path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status();
        let text = resp.text().await.expect("body");
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text)
                .unwrap_or_else(|_| panic!("non-JSON body ({status}): {text}"))
        };
        Reply { status, body }
    }

    pub async fn get(&self, path: &str, token: &str) -> Reply {
        self.send(reqwest::Method::GET, path, Some(token), None)
            .await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Reply {
        self.send(reqwest::Method::POST, path, Some(token), Some(&body))
            .await
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> Reply {
        self.send(reqwest::Method::PATCH, path, Some(token), Some(&body))
            .await
    }

    pub async fn delete(&self, path: &str, token: &str) -> Reply {
        self.send(reqwest::Method::DELETE, path, Some(token), None)
            .await
    }

    /// Sends a raw body with a content type (malformed-input tests).
    pub async fn raw(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> Reply {
        let resp = self
            .http
            .request(method, format!("{}{}", self.base, path))
            .bearer_auth(token)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("request");
        let status = resp.status();
        let text = resp.text().await.expect("body");
        Reply {
            status,
            body: serde_json::from_str(&text).unwrap_or(Value::String(text)),
        }
    }

    pub async fn create_tenant(&self, name: &str) -> Tenant {
        let r = self
            .send(
                reqwest::Method::POST,
                "/api/v1/admin/tenants",
                Some(&self.admin_token),
                Some(&json!({"name": name})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        Tenant {
            id: r.body["tenant_id"]
                .as_str()
                .and_then(|s| s.parse().ok())
                .expect("tenant id"),
            token: r.body["token"].as_str().expect("token").to_owned(),
        }
    }

    /// Creates a product with one variant; answers the product JSON.
    pub async fn create_product(
        &self,
        token: &str,
        name: &str,
        barcode: &str,
        price: i64,
    ) -> Value {
        let r = self
            .post(
                "/api/v1/products",
                token,
                json!({"name": name, "variants": [{"barcode": barcode, "price": price}]}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        r.body
    }

    pub async fn create_store(&self, token: &str, name: &str) -> Value {
        let r = self
            .post("/api/v1/stores", token, json!({"name": name}))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        r.body
    }

    /// A register in `store`; answers (register JSON, device token).
    pub async fn create_register(&self, token: &str, store: &str, name: &str) -> (Value, String) {
        let r = self
            .post(
                &format!("/api/v1/stores/{store}/registers"),
                token,
                json!({"name": name}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        (
            r.body["register"].clone(),
            r.body["token"].as_str().expect("token").to_owned(),
        )
    }

    pub async fn issue_token(&self, owner: &str, role: &str) -> String {
        let r = self
            .post("/api/v1/tokens", owner, json!({"role": role, "name": role}))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        r.body["token"].as_str().expect("token").to_owned()
    }

    pub async fn cache_stats(&self) -> Value {
        self.send(reqwest::Method::GET, "/api/v1/health/cache", None, None)
            .await
            .body
    }

    /// Rows in one table of this app's database.
    pub async fn count(&self, table: &str) -> i64 {
        self.db()
            .await
            .query_one(&format!("SELECT count(*) FROM {table}"), &[])
            .await
            .expect("count")
            .get(0)
    }

    pub async fn db(&self) -> tokio_postgres::Client {
        let (client, conn) = tokio_postgres::connect(&self.db_url, NoTls)
            .await
            .expect("connect");
        tokio::spawn(conn);
        client
    }
}

/// Makes the app's database refuse connections (and drops the open ones),
/// or accept them again: PostgreSQL "down" for this app only.
pub async fn set_database_reachable(app: &TestApp, reachable: bool) {
    let name = app.db_url.rsplit('/').next().expect("db name").to_owned();
    let (admin, conn) = tokio_postgres::connect(&with_db(&app.db_url, "postgres"), NoTls)
        .await
        .expect("connect");
    tokio::spawn(conn);
    admin
        .batch_execute(&format!(
            "ALTER DATABASE {name} ALLOW_CONNECTIONS {reachable}"
        ))
        .await
        .expect("alter database");
    if !reachable {
        admin
            .execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
                &[&name],
            )
            .await
            .expect("terminate");
    }
}

/// Polls `check` until it holds or `timeout` passes (no fixed sleeps).
pub async fn eventually<F, Fut>(timeout: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if check().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

// ---- the shared shop fixture ----------------------------------------------

/// A product variant of the shop fixture.
#[allow(dead_code)]
#[derive(Debug, Clone)]
pub struct Variant {
    pub product_id: String,
    pub id: String,
    pub barcode: String,
    pub price: i64,
}

/// A register of the shop fixture, its device token and its open shift.
#[allow(dead_code)]
#[derive(Debug, Clone)]
pub struct Till {
    pub register_id: String,
    pub number: i64,
    pub token: String,
    pub shift_id: String,
}

/// One tenant, one store, `registers` registers each with a shift opened by
/// its own token (opening cash 5000), and `products` products of one variant
/// each (barcode `bc{i}`, price 1000 + i). Built over HTTP against any
/// server, so the API, crash and cluster tests share it.
#[allow(dead_code)]
pub struct Shop {
    pub tenant_id: Uuid,
    pub owner: String,
    pub store: String,
    pub warehouse: String,
    pub tills: Vec<Till>,
    pub variants: Vec<Variant>,
}

async fn post_created(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    path: &str,
    body: Value,
) -> Value {
    let resp = http
        .post(format!("{base}{path}"))
        .bearer_auth(token)
        .json(&body)
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .unwrap_or_else(|e| panic!("POST {path}: {e}"));
    let status = resp.status();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    assert_eq!(status, StatusCode::CREATED, "POST {path}: {body}");
    body
}

#[allow(dead_code)]
pub async fn open_shop(
    http: &reqwest::Client,
    base: &str,
    admin: &str,
    registers: usize,
    products: usize,
) -> Shop {
    let tenant = post_created(
        http,
        base,
        admin,
        "/api/v1/admin/tenants",
        json!({"name": "shop"}),
    )
    .await;
    let owner = tenant["token"].as_str().expect("owner token").to_owned();
    let store = post_created(
        http,
        base,
        &owner,
        "/api/v1/stores",
        json!({"name": "Main"}),
    )
    .await;
    let store_id = store["id"].as_str().expect("store id").to_owned();
    let mut tills = Vec::new();
    for i in 0..registers {
        let reg = post_created(
            http,
            base,
            &owner,
            &format!("/api/v1/stores/{store_id}/registers"),
            json!({"name": format!("Till {i}")}),
        )
        .await;
        let register_id = reg["register"]["id"]
            .as_str()
            .expect("register id")
            .to_owned();
        let token = reg["token"].as_str().expect("register token").to_owned();
        let shift = post_created(
            http,
            base,
            &token,
            "/api/v1/shifts",
            json!({"register_id": register_id, "opening_cash": 5000}),
        )
        .await;
        tills.push(Till {
            register_id,
            number: reg["register"]["number"].as_i64().expect("register number"),
            token,
            shift_id: shift["id"].as_str().expect("shift id").to_owned(),
        });
    }
    let mut variants = Vec::new();
    for i in 0..products {
        let (barcode, price) = (format!("bc{i}"), 1000 + i as i64);
        let p = post_created(
            http,
            base,
            &owner,
            "/api/v1/products",
            json!({"name": format!("P{i}"), "variants": [{"barcode": barcode, "price": price}]}),
        )
        .await;
        variants.push(Variant {
            product_id: p["id"].as_str().expect("product id").to_owned(),
            id: p["variants"][0]["id"]
                .as_str()
                .expect("variant id")
                .to_owned(),
            barcode,
            price,
        });
    }
    Shop {
        tenant_id: tenant["tenant_id"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .expect("tenant id"),
        owner,
        store: store_id,
        warehouse: store["default_warehouse_id"]
            .as_str()
            .expect("warehouse")
            .to_owned(),
        tills,
        variants,
    }
}

/// Every (tenant, warehouse, variant) stock level equals the sum of its
/// movements (the ledger), in the database `db` is connected to.
#[allow(dead_code)]
pub async fn assert_stock_equals_ledger(db: &tokio_postgres::Client) {
    // The simple protocol: no prepared statement, so this also works over a
    // transaction-mode PgBouncer, which may switch server connections
    // between a statement's prepare and its execution.
    let rows = db
        .simple_query(
            "SELECT count(*) FROM stock_levels l FULL JOIN \
               (SELECT tenant_id, warehouse_id, variant_id, sum(delta) AS s FROM stock_movements GROUP BY 1, 2, 3) m \
               USING (tenant_id, warehouse_id, variant_id) \
             WHERE COALESCE(l.quantity, 0) <> COALESCE(m.s, 0)",
        )
        .await
        .expect("ledger query");
    let bad: i64 = rows
        .iter()
        .find_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0).and_then(|v| v.parse().ok()),
            _ => None,
        })
        .expect("ledger count");
    assert_eq!(
        bad, 0,
        "stock levels that differ from the sum of their movements"
    );
}
