//! The back office in a real browser: Debian's headless Chromium driven
//! through chromedriver (WebDriver) against a server of this test. Walks
//! the tasks of issue 11 and writes screenshots of the main pages at 1280
//! and 390 px to docs/screenshots/.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[allow(dead_code)]
#[path = "../api/helpers.rs"]
mod helpers;

use fantoccini::{Client, ClientBuilder, Locator};
use helpers::*;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use uuid::Uuid;

const PASSWORD: &str = "correct horse battery";

/// chromedriver on a free port; killed (with its browsers) on drop.
struct Driver {
    child: Child,
    port: u16,
    profile: PathBuf,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    })
}

async fn start_driver() -> Driver {
    let driver = which("chromedriver")
        .expect("chromedriver not found: scripts/test.sh installs chromium and chromium-driver");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(driver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromedriver");
    let profile = std::env::temp_dir().join(format!("jowi-chrome-{}", Uuid::new_v4().simple()));
    let d = Driver {
        child,
        port,
        profile,
    };
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(r) = http
            .get(format!("http://127.0.0.1:{port}/status"))
            .send()
            .await
        {
            if r.status().is_success() {
                return d;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("chromedriver did not start");
}

async fn browser(d: &Driver) -> Client {
    let chromium = which("chromium").expect("chromium not found");
    let mut caps = serde_json::Map::new();
    caps.insert("browserName".into(), json!("chrome"));
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": chromium,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--hide-scrollbars", "--force-device-scale-factor=1",
                format!("--user-data-dir={}", d.profile.display()),
                "--window-size=1280,1000",
            ]
        }),
    );
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", d.port))
        .await
        .expect("WebDriver session")
}

/// Waits until an element matching `css` shows `text` (or any text when
/// empty); answers the element's text.
async fn wait_text(c: &Client, css: &str, text: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut last = String::new();
    while Instant::now() < deadline {
        if let Ok(els) = c.find_all(Locator::Css(css)).await {
            for el in els {
                if let Ok(t) = el.text().await {
                    if t.contains(text) {
                        return t;
                    }
                    last = t;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let page: Value = c
        .execute("return document.body.innerText", vec![])
        .await
        .unwrap_or(Value::Null);
    panic!("no {css:?} showing {text:?} (last seen: {last:?}); the page says:\n{page}");
}

async fn fill(c: &Client, css: &str, value: &str) {
    let el = c.wait().for_element(Locator::Css(css)).await.unwrap();
    el.clear().await.unwrap();
    el.send_keys(value).await.unwrap();
}

async fn click(c: &Client, css: &str) {
    c.wait()
        .for_element(Locator::Css(css))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

fn shots_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots")
}

async fn shot(c: &Client, name: &str, width: u32) {
    // Let animations (row flash) and fonts settle.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let png = c.screenshot().await.unwrap();
    std::fs::create_dir_all(shots_dir()).unwrap();
    std::fs::write(shots_dir().join(format!("{name}-{width}.png")), png).unwrap();
}

async fn visit(c: &Client, base: &str, path: &str, heading: &str) {
    c.goto(&format!("{base}{path}")).await.unwrap();
    wait_text(c, "main h1", heading).await;
    // The page module has drawn something.
    c.wait()
        .for_element(Locator::Css("main .page > *"))
        .await
        .unwrap();
}

/// Everything the tests need, made through the API.
struct World {
    owner: String,
    store: String,
    warehouse: String,
    register_a: (String, String),
    shift_a: String,
    tea: String,
    register_b: (String, String),
    closed_shift: String,
    /// The cashier of shift B (and so of its two receipts).
    cashier: String,
}

async fn sale(
    app: &TestApp,
    token: &str,
    w: &World,
    shift: &str,
    register: &str,
    qty: &str,
    method: &str,
) {
    sale_at(app, token, w, shift, register, qty, method, None).await;
}

#[allow(clippy::too_many_arguments)]
async fn sale_at(
    app: &TestApp,
    token: &str,
    w: &World,
    shift: &str,
    register: &str,
    qty: &str,
    method: &str,
    at: Option<chrono::DateTime<chrono::Utc>>,
) {
    let q: i64 = qty.parse().unwrap();
    let mut body = json!({
        "id": Uuid::new_v4(), "store_id": w.store, "register_id": register, "shift_id": shift,
        "kind": "sale", "items": [{"variant_id": w.tea, "quantity": qty}],
        "payments": [{"method": method, "amount": 1_200_000 * q}]
    });
    if let Some(at) = at {
        body["occurred_at"] = json!(at);
    }
    let r = app.post("/api/v1/receipts", token, body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
}

/// Earlier sales of today and of the same weekday last week (the chart's
/// bars), at whole hours of the local day before now. Answers how many
/// fell today, and the tea they sold in all.
async fn history(app: &TestApp, w: &World) -> (usize, i64) {
    use chrono::{Duration as D, Local, TimeZone};
    let now = Local::now();
    let midnight = Local
        .from_local_datetime(&now.date_naive().and_hms_opt(0, 0, 0).unwrap())
        .earliest()
        .unwrap();
    let (reg, tok) = w.register_a.clone();
    let mut today = 0;
    let mut sold = 0;
    for h in (1..24).step_by(2) {
        let t = midnight + D::hours(h) + D::minutes(7);
        let q = ((h * 7) % 4 + 1).to_string();
        let method = if h % 3 == 0 { "cash" } else { "card" };
        let before = t - D::days(7);
        if before < now - D::days(7) - D::minutes(10) {
            sale_at(
                app,
                &tok,
                w,
                &w.shift_a,
                &reg,
                &q,
                method,
                Some(before.to_utc()),
            )
            .await;
            sold += q.parse::<i64>().unwrap();
        }
        if t < now - D::minutes(10) {
            let q = ((h * 5) % 3 + 1).to_string();
            sale_at(app, &tok, w, &w.shift_a, &reg, &q, method, Some(t.to_utc())).await;
            sold += q.parse::<i64>().unwrap();
            today += 1;
        }
    }
    (today, sold)
}

async fn world(app: &TestApp) -> World {
    let t = app.create_tenant("Chorsu Market").await;
    let r = app
        .post(
            "/api/v1/users",
            &t.token,
            json!({"email": "olga@chorsu.uz", "name": "Olga Karimova", "role": "owner", "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let store = app.create_store(&t.token, "Chilonzor").await;
    app.create_store(&t.token, "Yunusobod").await;
    let store_id = store["id"].as_str().unwrap().to_owned();
    let (ra, ta) = app.create_register(&t.token, &store_id, "Till 1").await;
    let (rb, tb) = app.create_register(&t.token, &store_id, "Till 2").await;
    let tea = app
        .create_product(&t.token, "Green tea 100 g", "4780000000101", 1_200_000)
        .await;
    let bread = app
        .create_product(&t.token, "Bread, white", "4780000000118", 450_000)
        .await;
    let tea_variant = tea["variants"][0]["id"].as_str().unwrap().to_owned();
    let warehouse = store["default_warehouse_id"].as_str().unwrap().to_owned();
    let r = app
        .post(
            "/api/v1/stock/movements",
            &t.token,
            json!({"id": Uuid::new_v4(), "kind": "receiving", "warehouse_id": warehouse,
                   "lines": [{"variant_id": tea_variant, "quantity": "500"}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let r = app
        .post(
            "/api/v1/employees",
            &t.token,
            json!({"name": "Aziza Rahimova", "role": "cashier", "store_id": store_id, "pin": "4321"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let cashier = r.body["id"].as_str().unwrap().to_owned();
    // Shifts of a store with PIN-holding employees are opened by one of
    // them: shift A is Bobur's, so the cashier filter has someone to leave out.
    let r = app
        .post(
            "/api/v1/employees",
            &t.token,
            json!({"name": "Bobur Karimov", "role": "cashier", "store_id": store_id, "pin": "4321"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let other_cashier = r.body["id"].as_str().unwrap().to_owned();
    let open = |reg: &Value, token: &str, employee: Option<&str>| {
        let reg = reg["id"].as_str().unwrap().to_owned();
        let token = token.to_owned();
        let mut body = json!({"register_id": reg, "opening_cash": 100_000});
        if let Some(e) = employee {
            body["employee_id"] = json!(e);
            body["pin"] = json!("4321");
        }
        async move {
            let r = app.post("/api/v1/shifts", &token, body).await;
            assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
            r.body["id"].as_str().unwrap().to_owned()
        }
    };
    let shift_a = open(&ra, &ta, Some(&other_cashier)).await;
    // `history` dates sales of shift A back a week: the shift opened before
    // them (a receipt must lie within its shift).
    app.db()
        .await
        .execute(
            "UPDATE shifts SET opened_at = now() - interval '10 days' WHERE id = $1",
            &[&shift_a.parse::<Uuid>().unwrap()],
        )
        .await
        .unwrap();
    // Shift B is Aziza's: its receipts name her as their cashier.
    let shift_b = open(&rb, &tb, Some(&cashier)).await;
    let mut w = World {
        owner: t.token.clone(),
        store: store_id,
        warehouse,
        register_a: (ra["id"].as_str().unwrap().to_owned(), ta),
        shift_a,
        tea: tea_variant,
        register_b: (rb["id"].as_str().unwrap().to_owned(), tb),
        closed_shift: shift_b.clone(),
        cashier,
    };
    let (reg_a, tok_a) = w.register_a.clone();
    let (reg_b, tok_b) = w.register_b.clone();
    sale(app, &tok_a, &w, &w.shift_a.clone(), &reg_a, "2", "card").await;
    sale(app, &tok_b, &w, &shift_b, &reg_b, "1", "cash").await;
    sale(app, &tok_b, &w, &shift_b, &reg_b, "3", "card").await;
    let r = app
        .post(
            &format!("/api/v1/shifts/{shift_b}/close"),
            &tok_b,
            json!({"counted_cash": 1_300_000}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    w.closed_shift = shift_b;
    // Sold with no stock received: the level goes negative and is flagged.
    let r = app
        .post(
            "/api/v1/receipts",
            &tok_a,
            json!({
                "id": Uuid::new_v4(), "store_id": w.store, "register_id": reg_a, "shift_id": w.shift_a,
                "kind": "sale", "items": [{"variant_id": bread["variants"][0]["id"], "quantity": "2"}],
                "payments": [{"method": "cash", "amount": 900_000}]
            }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    w
}

/// 1,000 data rows, three of them bad (lines 101, 502 and 903).
fn import_file() -> PathBuf {
    let mut csv = String::from("product,category,sku,barcode,price\n");
    for i in 0..1000 {
        let line = i + 2;
        match line {
            101 => csv.push_str("Broken price,Snacks,IMP-BAD1,4790000000101,12.345\n"),
            502 => csv.push_str("Broken barcode,Snacks,IMP-BAD2,47 90,100\n"),
            903 => csv.push_str(",Snacks,IMP-BAD3,4790000000903,100\n"),
            _ => csv.push_str(&format!(
                "Imported item {i},{},IMP-{i},479{i:010},{}.00\n",
                ["Snacks", "Drinks", "Dairy"][i % 3],
                1000 + i
            )),
        }
    }
    let path = std::env::temp_dir().join(format!("jowi-import-{}.csv", Uuid::new_v4().simple()));
    std::fs::write(&path, csv).unwrap();
    path
}

/// Sign in; create a product and find it by barcode; import 1,000 rows with
/// 3 bad ones and see the three errors; watch a stock level change when a
/// receipt is posted through the API; open a closed shift's Z report;
/// revoke a register token and see the register get 401; sign out. Then the
/// main pages again at 390 px.
#[actix_rt::test]
async fn back_office_in_a_real_browser() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let (earlier_today, sold_before) = history(&app, &w).await;
    let driver = start_driver().await;
    let c = browser(&driver).await;
    let base = app.base.clone();

    // Sign in.
    c.goto(&format!("{base}/")).await.unwrap();
    wait_text(&c, "form.login h1", "Sign in").await;
    assert!(c.current_url().await.unwrap().path().ends_with("/login"));
    fill(&c, "input[name=email]", "olga@chorsu.uz").await;
    fill(&c, "input[name=password]", "wrong password").await;
    click(&c, "form.login button[type=submit]").await;
    wait_text(&c, ".notice.error", "Wrong e-mail or password").await;
    shot(&c, "login", 1280).await;
    fill(&c, "input[name=password]", PASSWORD).await;
    click(&c, "form.login button[type=submit]").await;
    wait_text(&c, "main h1", "Dashboard").await;
    // 3 teas and 1 bread sold just now, plus the earlier sales of today.
    wait_text(&c, ".kpi-value", &(4 + earlier_today).to_string()).await;
    // Money in the stores' currency (UZS, 2 minor units: their settings).
    let revenue = wait_text(&c, ".kpi-value", "UZS").await;
    assert!(is_money(&revenue, "UZS"), "{revenue}");
    assert!(c.find(Locator::Css("svg.chart rect.bar")).await.is_ok());
    shot(&c, "dashboard", 1280).await;

    // Create a product, then find it by barcode.
    visit(&c, &base, "/catalog", "Catalog").await;
    click(&c, "#new-product").await;
    fill(&c, "#editor input[name=name]", "Black coffee 250 g").await;
    fill(&c, "#editor input[name=barcode]", "4780000000206").await;
    fill(&c, "#editor input[name=price]", "38500").await;
    click(&c, "#editor button[type=submit]").await;
    wait_text(&c, ".notice.ok", "Saved \"Black coffee 250 g\"").await;
    fill(&c, "input[name=q]", "4780000000206").await;
    click(&c, "form[role=search] button[type=submit]").await;
    let found = wait_text(&c, "#product-results tbody", "Black coffee 250 g").await;
    assert!(found.contains("38,500"), "{found}");
    assert!(
        !found.contains("Green tea"),
        "a barcode search finds one product: {found}"
    );
    shot(&c, "catalog", 1280).await;

    // A stale edit: someone else saves first; the page says so and reloads.
    click(
        &c,
        "#product-results button[aria-label^=\"Edit Black coffee\"]",
    )
    .await;
    wait_text(&c, "#editor h2", "Edit: Black coffee").await;
    let hit = app
        .get("/api/v1/products/barcode/4780000000206", &w.owner)
        .await;
    let id = hit.body["product"]["id"].as_str().unwrap().to_owned();
    let r = app
        .patch(
            &format!("/api/v1/products/{id}"),
            &w.owner,
            json!({"version": 1, "name": "Black coffee 500 g"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    fill(&c, "#editor input[name=price]", "39000").await;
    click(&c, "#editor button[type=submit]").await;
    wait_text(
        &c,
        "#editor .notice.error",
        "Someone else changed this product",
    )
    .await;
    click(&c, "#reload-product").await;
    wait_text(&c, "#editor h2", "Edit: Black coffee 500 g").await;
    click(&c, "#editor button[type=submit]").await;
    wait_text(&c, ".notice.ok", "Saved \"Black coffee 500 g\"").await;

    // Import 1,000 rows with 3 bad ones.
    let file = import_file();
    visit(&c, &base, "/import", "Import").await;
    c.wait()
        .for_element(Locator::Css("input[type=file]"))
        .await
        .unwrap()
        .send_keys(file.to_str().unwrap())
        .await
        .unwrap();
    click(&c, "form button[type=submit]").await;
    let summary = wait_text(&c, "#import-result .notice", "imported").await;
    assert!(
        summary.contains("997 rows imported") && summary.contains("3 with errors"),
        "{summary}"
    );
    let errors = wait_text(&c, "#import-result table.errors tbody", "").await;
    for needle in ["101", "price", "502", "barcode", "903", "product"] {
        assert!(errors.contains(needle), "{needle} in {errors}");
    }
    assert_eq!(
        c.find_all(Locator::Css("#import-result table.errors tbody tr"))
            .await
            .unwrap()
            .len(),
        3
    );
    shot(&c, "import", 1280).await;
    let _ = std::fs::remove_file(file);

    // Stock changes on screen when a receipt is posted through the API.
    visit(&c, &base, "/stock", "Stock").await;
    wait_text(&c, ".live.on", "live").await;
    let row = "#stock-list tr[data-key$=\"".to_owned() + &w.tea + "\"]";
    let before = wait_text(&c, &row, "Green tea").await;
    let level = 500 - 6 - sold_before;
    assert!(
        before.contains(&level.to_string()),
        "500 received - sold: {before}"
    );
    let (reg_a, tok_a) = w.register_a.clone();
    sale(&app, &tok_a, &w, &w.shift_a, &reg_a, "4", "cash").await;
    wait_text(&c, &format!("{row} .qty"), &(level - 4).to_string()).await;
    let bread = wait_text(&c, "#stock-list tr.negative", "Bread").await;
    assert!(
        bread.contains("-2") && bread.contains("negative"),
        "{bread}"
    );
    shot(&c, "stock", 1280).await;
    let _ = w.warehouse.len();

    // Receipts: list and one receipt's detail, amounts in UZS.
    visit(&c, &base, "/receipts", "Receipts").await;
    wait_text(&c, "#receipt-list tbody", "Aziza Rahimova").await;
    click(&c, "#receipt-list tbody tr td a").await;
    wait_text(&c, "#receipt-detail h2", "Receipt").await;
    // The newest receipt: 4 teas at 12,000.00.
    let detail = wait_text(&c, "#receipt-detail", "12,000.00").await;
    assert!(
        detail.contains("UZS") && detail.contains("48,000.00"),
        "{detail}"
    );
    shot(&c, "receipts", 1280).await;
    // Only Aziza's receipts: the two of shift B.
    c.find(Locator::Css("select[name=employee]"))
        .await
        .unwrap()
        .select_by_value(&w.cashier)
        .await
        .unwrap();
    click(&c, "main form.toolbar button[type=submit]").await;
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let rows = c
            .find_all(Locator::Css("#receipt-list tbody tr"))
            .await
            .unwrap();
        let mut texts = Vec::new();
        for r in &rows {
            texts.push(r.text().await.unwrap_or_default());
        }
        if texts.len() == 2 && texts.iter().all(|t| t.contains("Aziza Rahimova")) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the cashier filter shows: {texts:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // A closed shift's Z report.
    visit(&c, &base, "/shifts", "Shifts").await;
    click(&c, &format!("button[data-shift=\"{}\"]", w.closed_shift)).await;
    let z = wait_text(&c, "#shift-report", "Z report").await;
    assert!(z.contains("Expected cash"), "{z}");
    shot(&c, "shifts", 1280).await;

    // Revoke a register's token: its next API call gets 401.
    let (_, tok_b) = w.register_b.clone();
    assert_eq!(
        app.get("/api/v1/stores", &tok_b).await.status,
        StatusCode::OK
    );
    let tokens = app.get("/api/v1/tokens", &w.owner).await;
    let b_token = tokens
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["register_id"] == json!(w.register_b.0))
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    visit(&c, &base, "/stores", "Stores").await;
    click(&c, &format!("button[data-token=\"{b_token}\"]")).await;
    c.accept_alert().await.unwrap();
    wait_text(&c, "#stores-out .notice", "Token revoked").await;
    let r = app.get("/api/v1/stores", &tok_b).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::UNAUTHORIZED, "unauthorized")
    );
    shot(&c, "stores", 1280).await;

    visit(&c, &base, "/tokens", "API tokens").await;
    shot(&c, "tokens", 1280).await;
    visit(&c, &base, "/people", "Employees").await;
    shot(&c, "people", 1280).await;

    // The same pages on a phone.
    c.set_window_size(390, 1100).await.unwrap();
    let inner: Value = c.execute("return window.innerWidth", vec![]).await.unwrap();
    let width = inner.as_u64().unwrap() as u32;
    if width != 390 {
        c.set_window_size(390 + (390 - width.min(390)), 1100)
            .await
            .unwrap();
    }
    for (path, heading, name) in [
        ("/", "Dashboard", "dashboard"),
        ("/catalog", "Catalog", "catalog"),
        ("/stock", "Stock", "stock"),
        ("/receipts", "Receipts", "receipts"),
        ("/shifts", "Shifts", "shifts"),
        ("/stores", "Stores", "stores"),
        ("/import", "Import", "import"),
    ] {
        visit(&c, &base, path, heading).await;
        if path == "/stock" {
            wait_text(&c, "#stock-list tbody", "Green tea").await;
        }
        if path == "/" {
            wait_text(&c, ".kpi-value", "").await;
        }
        shot(&c, name, 390).await;
    }
    // No sideways scrolling on a phone.
    let overflow: Value = c
        .execute(
            "return document.documentElement.scrollWidth <= window.innerWidth + 1",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        overflow,
        json!(true),
        "the import page scrolls sideways at 390 px"
    );

    // The money follows the store's settings: Chilonzor now counts in US
    // dollars; its receipts show dollars, and the dashboard of all stores
    // (Yunusobod still in UZS) says the currencies differ.
    c.set_window_size(1280, 1000).await.unwrap();
    let s = app
        .get(&format!("/api/v1/stores/{}/settings", w.store), &w.owner)
        .await;
    assert_eq!(s.status, StatusCode::OK, "{}", s.body);
    let r = app
        .patch(
            &format!("/api/v1/stores/{}/settings", w.store),
            &w.owner,
            json!({"version": s.body["version"], "currency": "USD", "minor_units": 2}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    visit(&c, &base, "/receipts", "Receipts").await;
    click(&c, "#receipt-list tbody tr td a").await;
    let detail = wait_text(&c, "#receipt-detail", "$48,000.00").await;
    assert!(!detail.contains("UZS"), "{detail}");
    visit(&c, &base, "/", "Dashboard").await;
    wait_text(&c, "main .page", "use different currencies").await;
    let revenue = wait_text(&c, ".kpi-value", ".").await;
    assert!(
        !revenue.contains("UZS") && !revenue.contains('$'),
        "{revenue}"
    );

    // Sign out: the session ends and the pages ask to sign in again.
    click(&c, "#sign-out").await;
    wait_text(&c, "form.login h1", "Sign in").await;
    shot(&c, "login", 390).await;
    visit_login(&c, &base).await;
    c.close().await.unwrap();
}

/// "UZS 12,345.00": the code, digit groups and the two minor digits.
fn is_money(text: &str, code: &str) -> bool {
    let Some(rest) = text.split(code).nth(1) else {
        return false;
    };
    let amount: String = rest
        .trim_start_matches(|ch: char| ch.is_whitespace() || ch == '\u{a0}')
        .chars()
        .take_while(|ch| ch.is_ascii_digit() || *ch == ',' || *ch == '.')
        .collect();
    let (whole, minor) = amount.split_once('.').unwrap_or((&amount, ""));
    let groups: Vec<&str> = whole.split(',').collect();
    minor.len() == 2
        && groups.len() >= 2
        && groups[0].len() <= 3
        && groups[1..].iter().all(|g| g.len() == 3)
}

async fn visit_login(c: &Client, base: &str) {
    c.goto(&format!("{base}/catalog")).await.unwrap();
    wait_text(c, "form.login h1", "Sign in").await;
}
