//! Webhooks and the events feed, end to end with a real local receiver.

use crate::helpers::*;
use crate::receiver::{Received, Receiver};
use jowi_actors::webhooks::signing;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// Test settings: private URLs allowed (the receiver is on 127.0.0.1),
/// fast ticks and short backoff so retries happen within the test.
pub async fn webhook_app() -> TestApp {
    spawn_app_with(fast_webhooks).await
}

pub fn fast_webhooks(s: &mut jowi::settings::Settings) {
    s.webhooks.allow_private_urls = true;
    s.webhooks.sequencer_interval_ms = 10;
    s.webhooks.sequencer_idle_ms = 50;
    s.webhooks.poll_interval_ms = 20;
    s.webhooks.backoff_base_ms = 20;
    s.webhooks.backoff_max_ms = 100;
    s.webhooks.timeout_ms = 1000;
    s.webhooks.lease_s = 5;
}

pub async fn subscribe(app: &TestApp, token: &str, url: &str, types: &[&str]) -> (String, String) {
    let r = app
        .post(
            "/api/v1/webhooks",
            token,
            json!({"url": url, "event_types": types}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    (
        r.body["webhook"]["id"].as_str().unwrap().to_owned(),
        r.body["secret"].as_str().unwrap().to_owned(),
    )
}

pub fn body_json(r: &Received) -> Value {
    serde_json::from_slice(&r.body).unwrap()
}

/// Every received request carries a valid signature over timestamp + body.
pub fn assert_signed(received: &[Received], secret: &str) {
    for r in received {
        let ts: i64 = r.timestamp.parse().expect("timestamp header");
        assert!(
            signing::verify(secret, ts, &r.body, &r.signature),
            "bad signature on {}",
            String::from_utf8_lossy(&r.body)
        );
        let b = body_json(r);
        assert_eq!(b["event_id"].as_str().unwrap(), r.event_id);
        assert_eq!(b["type"].as_str().unwrap(), r.event_type);
    }
}

/// The whole feed of a tenant, page by page.
pub async fn whole_feed(app: &TestApp, token: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut after = 0;
    loop {
        let r = app
            .get(&format!("/api/v1/events?after={after}&limit=3"), token)
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        out.extend(r.body["events"].as_array().unwrap().iter().cloned());
        after = r.body["next_after"].as_i64().unwrap();
        if !r.body["has_more"].as_bool().unwrap() {
            return out;
        }
    }
}

async fn wait_for(rx: &Receiver, n: usize) -> bool {
    eventually(Duration::from_secs(20), || async {
        rx.delivered().len() >= n
    })
    .await
}

/// Catalog and customer changes each arrive once, signed, in seq order, with
/// the documented body; the feed holds the same sequence.
#[actix_web::test]
async fn catalog_and_customer_events_arrive_signed_and_match_the_feed() {
    let app = webhook_app().await;
    let rx = Receiver::start().await;
    let t = app.create_tenant("hooks").await;
    let (_id, secret) = subscribe(&app, &t.token, &format!("{}/all", rx.url), &[]).await;

    let p = app
        .create_product(&t.token, "Tea", "4600000000011", 1500)
        .await;
    let pid = p["id"].as_str().unwrap();
    let r = app
        .patch(
            &format!("/api/v1/products/{pid}"),
            &t.token,
            json!({"name": "Green tea", "version": 1}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = app
        .delete(&format!("/api/v1/products/{pid}"), &t.token)
        .await;
    assert!(r.status.is_success(), "{}", r.body);
    let c = app
        .post(
            "/api/v1/customers",
            &t.token,
            json!({"name": "Ann", "phone": "+998 90 123 45 67"}),
        )
        .await;
    assert_eq!(c.status, StatusCode::CREATED, "{}", c.body);
    let cid = c.body["id"].as_str().unwrap();
    let r = app
        .patch(
            &format!("/api/v1/customers/{cid}"),
            &t.token,
            // Customer edits are versioned (retail): name the one created.
            json!({"email": "ann@example.com", "version": c.body["version"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);

    assert!(wait_for(&rx, 5).await, "got {:?}", rx.all());
    let got = rx.delivered();
    assert_signed(&got, &secret);
    let bodies: Vec<Value> = got.iter().map(body_json).collect();
    let types: Vec<&str> = bodies.iter().map(|b| b["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        [
            "product.created",
            "product.updated",
            "product.deleted",
            "customer.created",
            "customer.updated"
        ]
    );
    assert_eq!(bodies[1]["data"]["name"], "Green tea");
    assert_eq!(bodies[2]["data"]["id"], pid);
    assert_eq!(bodies[4]["data"]["email"], "ann@example.com");
    for b in &bodies {
        assert_eq!(b["tenant_id"].as_str().unwrap(), t.id.to_string());
        assert!(b["occurred_at"].as_str().is_some());
    }
    let seqs: Vec<i64> = bodies.iter().map(|b| b["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, [1, 2, 3, 4, 5]);

    let feed = whole_feed(&app, &t.token).await;
    let feed_ids: Vec<&str> = feed
        .iter()
        .map(|e| e["event_id"].as_str().unwrap())
        .collect();
    let hook_ids: Vec<&str> = bodies
        .iter()
        .map(|b| b["event_id"].as_str().unwrap())
        .collect();
    assert_eq!(feed_ids, hook_ids);
    // The body on the wire is exactly the feed entry.
    assert_eq!(feed, bodies);

    // The delivery log shows each attempt (successes are recorded shortly
    // after they are sent, in runs).
    let id = _id;
    let recorded = eventually(Duration::from_secs(10), || async {
        app.get(&format!("/api/v1/webhooks/{id}"), &t.token)
            .await
            .body["delivered_through"]
            == 5
    })
    .await;
    assert!(recorded);
    let log = app
        .get(&format!("/api/v1/webhooks/{id}/deliveries"), &t.token)
        .await;
    assert_eq!(log.status, StatusCode::OK);
    let entries = log.body["deliveries"].as_array().unwrap();
    assert!(entries
        .iter()
        .all(|d| d["ok"] == true && d["status_code"] == 200 && d["attempt"] == 1));
    // Successes recorded together are one row per run: the rows (newest
    // first) cover seq 1..=5 exactly, each event once.
    let mut covered: Vec<i64> = Vec::new();
    for d in entries.iter().rev() {
        let (first, last) = (
            d["first_event_seq"].as_i64().unwrap(),
            d["event_seq"].as_i64().unwrap(),
        );
        assert_eq!(d["events"].as_i64().unwrap(), last - first + 1, "{d}");
        covered.extend(first..=last);
    }
    assert_eq!(covered, [1, 2, 3, 4, 5]);
}

/// A subscription gets only its types; the feed filters the same way;
/// another tenant sees none of it.
#[actix_web::test]
async fn types_filter_and_tenants_are_isolated() {
    let app = webhook_app().await;
    let rx = Receiver::start().await;
    let a = app.create_tenant("a").await;
    let b = app.create_tenant("b").await;
    subscribe(
        &app,
        &a.token,
        &format!("{}/a", rx.url),
        &["customer.created"],
    )
    .await;
    app.create_product(&a.token, "X", "111", 1).await;
    app.create_product(&b.token, "Y", "222", 1).await;
    let c = app
        .post(
            "/api/v1/customers",
            &a.token,
            json!({"name": "Bo", "phone": "12345"}),
        )
        .await;
    assert_eq!(c.status, StatusCode::CREATED);
    assert!(wait_for(&rx, 1).await);
    // Let the worker run past the product events too.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let got = rx.delivered();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].event_type, "customer.created");

    let r = app
        .get("/api/v1/events?types=customer.created", &a.token)
        .await;
    assert_eq!(r.body["events"].as_array().unwrap().len(), 1);
    let r = app.get("/api/v1/events", &b.token).await;
    let evs = r.body["events"].as_array().unwrap();
    assert_eq!(evs.len(), 1);
    assert_eq!(evs[0]["type"], "product.created");
    assert_eq!(evs[0]["seq"], 1, "sequences are per tenant");
    let r = app.get("/api/v1/events?types=nope", &a.token).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.code(), "validation_failed");
}

/// A receiver that fails five times then recovers gets every event, in
/// order, none lost; the log shows the five failures with their attempt
/// numbers.
#[actix_web::test]
async fn failing_receiver_recovers_and_gets_everything_in_order() {
    let app = webhook_app().await;
    let rx = Receiver::start().await;
    rx.shared.behaviour.fail_first.store(5, Ordering::SeqCst);
    let t = app.create_tenant("flaky").await;
    let (id, secret) = subscribe(&app, &t.token, &format!("{}/flaky", rx.url), &[]).await;
    for i in 0..6 {
        app.create_product(&t.token, &format!("P{i}"), &format!("bc{i}"), 100)
            .await;
    }
    assert!(wait_for(&rx, 6).await, "got {:?}", rx.all().len());
    let got = rx.delivered();
    assert_signed(&got, &secret);
    let seqs: Vec<i64> = got
        .iter()
        .map(|r| body_json(r)["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs, [1, 2, 3, 4, 5, 6]);
    let failed: Vec<Received> = rx.all().into_iter().filter(|r| r.status == 500).collect();
    assert_eq!(failed.len(), 5);
    // All five failures were of the first event: order held.
    assert!(failed.iter().all(|r| body_json(r)["seq"] == 1));

    // Successes are recorded shortly after they are sent (in runs).
    let recorded = eventually(Duration::from_secs(10), || async {
        app.get(&format!("/api/v1/webhooks/{id}"), &t.token)
            .await
            .body["delivered_through"]
            == 6
    })
    .await;
    assert!(recorded);
    let log = app
        .get(
            &format!("/api/v1/webhooks/{id}/deliveries?limit=500"),
            &t.token,
        )
        .await;
    let mut entries = log.body["deliveries"].as_array().unwrap().clone();
    entries.reverse();
    let attempts: Vec<(i64, i64, bool)> = entries
        .iter()
        .map(|d| {
            (
                d["event_seq"].as_i64().unwrap(),
                d["attempt"].as_i64().unwrap(),
                d["ok"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        &attempts[..6],
        &[
            (1, 1, false),
            (1, 2, false),
            (1, 3, false),
            (1, 4, false),
            (1, 5, false),
            (1, 6, true)
        ]
    );
    assert_eq!(entries[0]["status_code"], 500);
    // The rest were first-attempt successes, logged as runs covering 2..=6.
    let rest: i64 = entries[6..]
        .iter()
        .map(|d| {
            assert_eq!(
                (d["ok"].as_bool(), d["attempt"].as_i64()),
                (Some(true), Some(1))
            );
            d["events"].as_i64().unwrap()
        })
        .sum();
    assert_eq!(rest, 5);
    let sub = app.get(&format!("/api/v1/webhooks/{id}"), &t.token).await;
    assert_eq!(sub.body["failures"], 0);
    assert_eq!(sub.body["delivered_through"], 6);
}

/// After failing for the whole retry window the subscription is paused
/// with a reason; re-activating resumes from the failed event; manual
/// redelivery sends earlier events again with their ids.
#[actix_web::test]
async fn long_failure_pauses_visibly_and_resume_and_redelivery_work() {
    let app = spawn_app_with(|s| {
        fast_webhooks(s);
        s.webhooks.retry_window_s = 1;
    })
    .await;
    let rx = Receiver::start().await;
    rx.shared.behaviour.fail_all.store(true, Ordering::SeqCst);
    let t = app.create_tenant("down").await;
    let (id, _) = subscribe(&app, &t.token, &format!("{}/down", rx.url), &[]).await;
    app.create_product(&t.token, "A", "1", 1).await;
    app.create_product(&t.token, "B", "2", 1).await;
    let paused = eventually(Duration::from_secs(15), || async {
        app.get(&format!("/api/v1/webhooks/{id}"), &t.token)
            .await
            .body["status"]
            == "paused"
    })
    .await;
    assert!(paused);
    let sub = app.get(&format!("/api/v1/webhooks/{id}"), &t.token).await;
    let reason = sub.body["paused_reason"].as_str().unwrap();
    assert!(reason.contains("HTTP 500"), "{reason}");
    assert!(sub.body["last_error"].as_str().unwrap().contains("500"));
    // Paused: no more attempts.
    let attempts = rx.all().len();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(rx.all().len(), attempts);

    rx.shared.behaviour.fail_all.store(false, Ordering::SeqCst);
    let r = app
        .patch(
            &format!("/api/v1/webhooks/{id}"),
            &t.token,
            json!({"active": true}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["status"], "active");
    assert!(wait_for(&rx, 2).await);
    let first: Vec<String> = rx.delivered().iter().map(|r| r.event_id.clone()).collect();

    let r = app
        .post(
            &format!("/api/v1/webhooks/{id}/redeliver"),
            &t.token,
            json!({"from_seq": 1}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(wait_for(&rx, 4).await);
    let again: Vec<String> = rx.delivered().iter().map(|r| r.event_id.clone()).collect();
    assert_eq!(
        again[2..],
        first[..],
        "redelivery resends the same events in order"
    );

    let r = app
        .post(
            &format!("/api/v1/webhooks/{id}/redeliver"),
            &t.token,
            json!({"from_seq": 9}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
}

/// Subscriptions: secret only at creation; bad input is a 4xx with its
/// code; private URLs refused by default; other tenants get 404; registers
/// may not manage webhooks or read the feed.
#[actix_web::test]
async fn subscription_crud_and_refusals() {
    let app = spawn_app().await;
    let t = app.create_tenant("crud").await;
    for (body, field) in [
        (json!({"url": "http://127.0.0.1:9/x"}), "url"),
        (
            json!({"url": "http://169.254.169.254/latest/meta-data/"}),
            "url",
        ),
        (json!({"url": "http://localhost:8080/"}), "url"),
        (json!({"url": "ftp://example.com/"}), "url"),
        (json!({"url": "not a url"}), "url"),
        (
            json!({"url": "https://example.com/", "event_types": ["bogus"]}),
            "event_types[0]",
        ),
    ] {
        let r = app.post("/api/v1/webhooks", &t.token, body.clone()).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            r.body
        );
        assert_eq!(r.code(), "validation_failed");
        assert_eq!(r.body["error"]["field"], field);
    }
    let r = app
        .post("/api/v1/webhooks", &t.token, json!({"uri": "x"}))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    // A public address literal needs no DNS.
    let r = app
        .post(
            "/api/v1/webhooks",
            &t.token,
            json!({"url": "https://93.184.215.14/hook", "event_types": ["receipt.created"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let id = r.body["webhook"]["id"].as_str().unwrap().to_owned();
    assert!(r.body["secret"].as_str().unwrap().starts_with("whsec_"));
    let g = app.get(&format!("/api/v1/webhooks/{id}"), &t.token).await;
    assert_eq!(g.status, StatusCode::OK);
    assert!(g.body.get("secret").is_none());
    assert!(!g.body.to_string().contains("whsec_"));
    let l = app.get("/api/v1/webhooks", &t.token).await;
    assert_eq!(l.body.as_array().unwrap().len(), 1);

    let p = app
        .patch(
            &format!("/api/v1/webhooks/{id}"),
            &t.token,
            json!({"active": false, "version": 1}),
        )
        .await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    assert_eq!(p.body["status"], "disabled");
    let p = app
        .patch(
            &format!("/api/v1/webhooks/{id}"),
            &t.token,
            json!({"active": true, "version": 1}),
        )
        .await;
    assert_eq!(p.status, StatusCode::CONFLICT);
    assert_eq!(p.code(), "version_conflict");
    let p = app
        .patch(
            &format!("/api/v1/webhooks/{id}"),
            &t.token,
            json!({"url": "http://10.0.0.1/"}),
        )
        .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);

    let other = app.create_tenant("other").await;
    let r = app
        .get(&format!("/api/v1/webhooks/{id}"), &other.token)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = app
        .delete(&format!("/api/v1/webhooks/{id}"), &other.token)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    let store = app.create_store(&t.token, "S").await;
    let (_, reg) = app
        .create_register(&t.token, store["id"].as_str().unwrap(), "R")
        .await;
    let r = app.get("/api/v1/webhooks", &reg).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app.get("/api/v1/events", &reg).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    let r = app
        .delete(&format!("/api/v1/webhooks/{id}"), &t.token)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = app.get(&format!("/api/v1/webhooks/{id}"), &t.token).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

/// The feed pages by cursor; a cursor older than what retention kept gets
/// 410 cursor_expired naming where to restart; limits are checked.
#[actix_web::test]
async fn feed_pages_and_expired_cursor_is_a_clear_error() {
    let app = webhook_app().await;
    let t = app.create_tenant("feed").await;
    for i in 0..5 {
        app.create_product(&t.token, &format!("P{i}"), &format!("b{i}"), 1)
            .await;
    }
    let ok = eventually(Duration::from_secs(10), || async {
        app.get("/api/v1/events", &t.token).await.body["head"] == 5
    })
    .await;
    assert!(ok);
    let page = app.get("/api/v1/events?after=1&limit=2", &t.token).await;
    let seqs: Vec<i64> = page.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs, [2, 3]);
    assert_eq!(page.body["next_after"], 3);
    assert_eq!(page.body["has_more"], true);

    // Age the first three events past retention and prune.
    let db = app.db().await;
    db.execute(
        "UPDATE events SET recorded_at = now() - interval '400 hours' WHERE seq <= 3",
        &[],
    )
    .await
    .unwrap();
    let pool = jowi_actors::pg::connect(&jowi::startup::pool_settings(&app.settings)).unwrap();
    let pdb = jowi_actors::pg::Db::new(pool, true);
    let n = jowi_actors::pg::outbox::prune(&pdb, Duration::from_secs(3600), 1000)
        .await
        .unwrap();
    assert_eq!(n, 3);
    let r = app.get("/api/v1/events?after=1", &t.token).await;
    assert_eq!(r.status, StatusCode::GONE);
    assert_eq!(r.code(), "cursor_expired");
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("after=3"));
    let r = app.get("/api/v1/events?after=3", &t.token).await;
    assert_eq!(r.status, StatusCode::OK);
    let r = app.get("/api/v1/events", &t.token).await;
    assert_eq!(
        r.body["events"][0]["seq"], 4,
        "no cursor: from the oldest kept"
    );
    for q in ["limit=0", "limit=1001", "after=-1", "after=x"] {
        let r = app.get(&format!("/api/v1/events?{q}"), &t.token).await;
        assert!(r.status.is_client_error(), "{q}: {}", r.status);
    }
}

/// Two instances share the work but never overlap on one subscription:
/// the receiver never sees two requests for it at once and no attempt is
/// logged twice.
#[actix_web::test]
async fn two_instances_never_deliver_one_subscription_at_once() {
    let app = webhook_app().await;
    let second = spawn_with_settings(app.settings.clone()).await;
    let rx = Receiver::start().await;
    rx.shared.behaviour.delay_ms.store(15, Ordering::SeqCst);
    let t = app.create_tenant("two").await;
    let mut subs = Vec::new();
    for i in 0..3 {
        subs.push(subscribe(&app, &t.token, &format!("{}/s{i}", rx.url), &[]).await);
    }
    for i in 0..15 {
        let via = if i % 2 == 0 { &app } else { &second };
        via.create_product(&t.token, &format!("P{i}"), &format!("b{i}"), 1)
            .await;
    }
    assert!(wait_for(&rx, 45).await, "got {}", rx.delivered().len());
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(rx.shared.max_in_flight.load(Ordering::SeqCst), 1);
    let got = rx.delivered();
    for i in 0..3 {
        let seqs: Vec<i64> = got
            .iter()
            .filter(|r| r.path == format!("/s{i}"))
            .map(|r| body_json(r)["seq"].as_i64().unwrap())
            .collect();
        assert_eq!(seqs, (1..=15).collect::<Vec<_>>(), "subscription {i}");
    }
    let db = app.db().await;
    let dup: i64 = db
        .query_one(
            "SELECT count(*) FROM (SELECT 1 FROM webhook_deliveries \
             GROUP BY subscription_id, event_seq, attempt HAVING count(*) > 1) d",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(dup, 0);
    let workers: i64 = db
        .query_one(
            "SELECT count(DISTINCT worker_id) FROM webhook_deliveries",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(workers >= 1);
    let unique: HashSet<String> = got.iter().map(|r| r.event_id.clone()).collect();
    assert_eq!(unique.len(), 15);
}

/// Closing a shift sends `shift.closed` with the Z totals of every receipt
/// acknowledged in it.
#[actix_web::test]
async fn shift_closed_carries_the_z_totals() {
    let app = webhook_app().await;
    let rx = Receiver::start().await;
    let s = crate::sales::shop(&app, 2).await;
    let (_, secret) = subscribe(&app, &s.owner, &format!("{}/z", rx.url), &["shift.closed"]).await;
    let mut total = 0;
    for lines in [&[(0, "1")][..], &[(0, "2"), (1, "1")][..]] {
        let body = s.sale(lines);
        total += body["payments"][0]["amount"].as_i64().unwrap();
        let r = app.post("/api/v1/receipts", &s.register_token, body).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    }
    let r = app
        .post(
            &format!("/api/v1/shifts/{}/close", s.shift),
            &s.register_token,
            json!({"counted_cash": 5000 + total}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(wait_for(&rx, 1).await);
    let got = rx.delivered();
    assert_signed(&got, &secret);
    let z = body_json(&got[0]);
    assert_eq!(z["type"], "shift.closed");
    assert_eq!(z["data"]["kind"], "z");
    assert_eq!(z["data"]["shift"]["id"], s.shift.as_str());
    assert_eq!(z["data"]["receipts"], 2);
    assert_eq!(z["data"]["sales_total"], total);
    assert_eq!(z["data"]["expected_cash"], 5000 + total);
    assert_eq!(z["data"]["difference"], 0);
    // The event's totals are the Z report's.
    let report = app
        .get(&format!("/api/v1/shifts/{}/report", s.shift), &s.owner)
        .await;
    assert_eq!(report.body, z["data"]);
}

/// Sales and returns send `receipt.created` with the number the register
/// was given; stock moves send `stock.changed` per warehouse and variant
/// whose deltas add up to the ledger and whose last quantity is the level;
/// the feed holds the same sequence.
#[actix_web::test]
async fn receipts_and_stock_changes_arrive_with_numbers_and_levels() {
    let app = webhook_app().await;
    let rx = Receiver::start().await;
    let s = crate::sales::shop(&app, 2).await;
    let (_, secret) = subscribe(&app, &s.owner, &format!("{}/sales", rx.url), &[]).await;
    let mut numbers = Vec::new();
    let mut sale_ids = Vec::new();
    for lines in [
        &[(0, "1"), (1, "2")][..],
        &[(0, "0.5")][..],
        &[(1, "1")][..],
    ] {
        let r = app
            .post("/api/v1/receipts", &s.register_token, s.sale(lines))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        numbers.push(r.body["number"].as_str().unwrap().to_owned());
        sale_ids.push(r.body["id"].as_str().unwrap().to_owned());
    }
    let r = app
        .post(
            "/api/v1/receipts",
            &s.register_token,
            s.refund(&sale_ids[0], &[(1, "1")]),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    numbers.push(r.body["number"].as_str().unwrap().to_owned());

    // 4 receipts, and at least one stock event per variant moved.
    let ok = eventually(Duration::from_secs(20), || async {
        let got = rx.delivered();
        got.iter()
            .filter(|r| r.event_type == "receipt.created")
            .count()
            >= 4
            && got
                .iter()
                .filter(|r| r.event_type == "stock.changed")
                .count()
                >= 2
    })
    .await;
    assert!(
        ok,
        "got {:?}",
        rx.delivered()
            .iter()
            .map(|r| &r.event_type)
            .collect::<Vec<_>>()
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    let got = rx.delivered();
    assert_signed(&got, &secret);
    let bodies: Vec<Value> = got.iter().map(body_json).collect();
    let receipts: Vec<&Value> = bodies
        .iter()
        .filter(|b| b["type"] == "receipt.created")
        .collect();
    let got_numbers: Vec<&str> = receipts
        .iter()
        .map(|b| b["data"]["number"].as_str().unwrap())
        .collect();
    assert_eq!(got_numbers, numbers);
    assert_eq!(receipts[3]["data"]["kind"], "return");
    assert_eq!(
        receipts[3]["data"]["original_receipt_id"],
        sale_ids[0].as_str()
    );
    assert_eq!(receipts[0]["data"]["items"].as_array().unwrap().len(), 2);

    // Deltas add up per variant; the last quantity is the level now.
    let levels = app
        .get(&format!("/api/v1/stores/{}/stock", s.store), &s.owner)
        .await;
    for (i, expected) in [(0usize, "-1.5"), (1, "-2")] {
        let v = &s.variants[i].0;
        let stock: Vec<&Value> = bodies
            .iter()
            .filter(|b| b["type"] == "stock.changed" && b["data"]["variant_id"] == v.as_str())
            .collect();
        assert!(!stock.is_empty());
        let sum: f64 = stock
            .iter()
            .map(|b| b["data"]["delta"].as_str().unwrap().parse::<f64>().unwrap())
            .sum();
        assert_eq!(sum, expected.parse::<f64>().unwrap(), "variant {i}");
        let last = stock.last().unwrap();
        assert_eq!(last["data"]["quantity"], expected);
        assert_eq!(last["data"]["warehouse_id"], s.warehouse.as_str());
        assert_eq!(last["data"]["store_id"], s.store.as_str());
        assert!(levels.body.to_string().contains(v.as_str()));
    }
    // A batch's stock changes travel as one carrier row that the sequencer
    // expands: every event still has its own id and seq, and the carrier's
    // per-element id does not leak into the data.
    let ids: std::collections::HashSet<&str> = bodies
        .iter()
        .map(|b| b["event_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), bodies.len(), "event ids are unique");
    let seqs: Vec<i64> = bodies.iter().map(|b| b["seq"].as_i64().unwrap()).collect();
    assert!(
        seqs.windows(2).all(|w| w[1] == w[0] + 1),
        "gapless: {seqs:?}"
    );
    assert!(bodies.iter().all(|b| b["data"].get("event_id").is_none()));
    let feed = whole_feed(&app, &s.owner).await;
    // The subscription starts at the events published after it was made
    // (the shop's product events may be published before or after).
    let first = bodies[0]["seq"].as_i64();
    let feed: Vec<Value> = feed
        .into_iter()
        .filter(|e| e["seq"].as_i64() >= first)
        .collect();
    assert_eq!(feed, bodies, "the feed is the webhook sequence");
}

/// A receiver that hangs holds one delivery slot until its timeout, never a
/// receipt: receipts keep being answered while its request hangs.
#[actix_web::test]
async fn hanging_receiver_does_not_hold_up_receipts() {
    let app = webhook_app().await;
    let rx = Receiver::start().await;
    rx.shared.behaviour.hang.store(true, Ordering::SeqCst);
    let s = crate::sales::shop(&app, 2).await;
    subscribe(&app, &s.owner, &format!("{}/hang", rx.url), &[]).await;
    let first = app
        .post("/api/v1/receipts", &s.register_token, s.sale(&[(0, "1")]))
        .await;
    assert_eq!(first.status, StatusCode::CREATED);
    assert!(
        eventually(Duration::from_secs(10), || async {
            rx.shared.hanging_now.load(Ordering::SeqCst) > 0
        })
        .await,
        "the receiver never got a request"
    );
    let started = std::time::Instant::now();
    let mut answered = 0;
    let posts: Vec<_> = (0..40)
        .map(|_| app.post("/api/v1/receipts", &s.register_token, s.sale(&[(1, "1")])))
        .collect();
    for r in futures::future::join_all(posts).await {
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        answered += 1;
    }
    assert_eq!(answered, 40);
    // All were answered while the receiver was still holding its request
    // (the worker waits out timeout_ms = 1 s for it).
    assert!(
        rx.shared.hanging_now.load(Ordering::SeqCst) > 0
            || started.elapsed() < Duration::from_secs(1),
        "receipts waited for the hanging receiver"
    );
    let log_ok = eventually(Duration::from_secs(10), || async {
        let sub = app.get("/api/v1/webhooks", &s.owner).await;
        sub.body[0]["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("timed out"))
    })
    .await;
    assert!(log_ok, "the hang is logged as a timeout");
}

/// Stock documents send `stock.changed` too, naming their cause and
/// document; a replayed document sends nothing more.
#[actix_web::test]
async fn stock_documents_send_stock_changed() {
    let app = webhook_app().await;
    let rx = Receiver::start().await;
    let s = crate::sales::shop(&app, 1).await;
    subscribe(
        &app,
        &s.owner,
        &format!("{}/docs", rx.url),
        &["stock.changed"],
    )
    .await;
    let v0 = &s.variants[0].0;
    let doc = json!({"id": uuid::Uuid::new_v4(), "kind": "receiving", "warehouse_id": s.warehouse,
        "lines": [{"variant_id": v0, "quantity": "10.5"}]});
    let r = app
        .post("/api/v1/stock/movements", &s.owner, doc.clone())
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let r = app
        .post("/api/v1/stock/movements", &s.owner, doc.clone())
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(wait_for(&rx, 1).await);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let got = rx.delivered();
    assert_eq!(got.len(), 1, "a replay emits nothing");
    let b = body_json(&got[0]);
    assert_eq!(b["data"]["cause"], "receiving");
    assert_eq!(b["data"]["document_id"], doc["id"]);
    assert_eq!(b["data"]["variant_id"], v0.as_str());
    assert_eq!(b["data"]["delta"], "10.5");
    assert_eq!(b["data"]["quantity"], "10.5");
}

/// The `customer.points_changed` events a receipt answer implies, in the
/// order the batch writes them (earn, then redeem; a return's reversals),
/// with the balance after each, starting from `balance`.
fn points_events_of(receipt: &Value, balance: &mut i64) -> Vec<(String, i64, i64, Value)> {
    let earned = receipt["points_earned"].as_i64().unwrap_or(0);
    let redeemed = receipt["points_redeemed"].as_i64().unwrap_or(0);
    let (earn, redeem) = if earned < 0 || redeemed < 0 {
        ("reverse_earn", "reverse_redeem")
    } else {
        ("earn", "redeem")
    };
    let mut out = Vec::new();
    for (kind, delta) in [(earn, earned), (redeem, -redeemed)] {
        if delta != 0 {
            *balance += delta;
            out.push((kind.to_owned(), delta, *balance, receipt["id"].clone()));
        }
    }
    out
}

/// Points earned, redeemed, reversed on a return and adjusted by hand, and
/// store settings changes: each arrives once per change, through a webhook
/// and the feed alike, with the balance after it; refused or replayed
/// changes send nothing.
#[actix_web::test]
async fn points_and_settings_changes_arrive_once_through_feed_and_webhook() {
    let app = webhook_app().await;
    let rx = Receiver::start().await;
    let s = crate::sales::shop(&app, 0).await;
    let types = ["customer.points_changed", "store.settings_updated"];
    let (_, secret) = subscribe(&app, &s.owner, &format!("{}/points", rx.url), &types).await;
    // Settings PATCH (version 1 -> 2), the points program, a customer with
    // +10 points by hand ("welcome").
    let (a, b, customer) = crate::money::retail_shop(&app, &s).await;
    let mut balance = 10;
    let mut expected: Vec<(String, i64, i64, Value)> = vec![("adjust".into(), 10, 10, Value::Null)];
    let sale = app
        .post(
            "/api/v1/receipts",
            &s.register_token,
            crate::money::example(&s, &a, &b),
        )
        .await;
    assert_eq!(sale.status, StatusCode::CREATED, "{}", sale.body);
    expected.extend(points_events_of(&sale.body, &mut balance));
    let ret = json!({
        "id": uuid::Uuid::new_v4(), "store_id": s.store, "register_id": s.register,
        "shift_id": s.shift, "kind": "return", "original_receipt_id": sale.body["id"],
        "items": [{"variant_id": a, "quantity": "1"}],
        "payments": [{"method": "cash", "amount": 12_800}]
    });
    let back = app.post("/api/v1/receipts", &s.register_token, ret).await;
    assert_eq!(back.status, StatusCode::CREATED, "{}", back.body);
    expected.extend(points_events_of(&back.body, &mut balance));
    // A manual adjustment; its replay and a refused one send nothing.
    let adj = format!("/api/v1/customers/{customer}/points/adjustments");
    let body = json!({"id": uuid::Uuid::new_v4(), "points": -3, "reason": "fix"});
    assert_eq!(
        app.post(&adj, &s.owner, body.clone()).await.status,
        StatusCode::CREATED
    );
    balance -= 3;
    expected.push(("adjust".into(), -3, balance, Value::Null));
    assert_eq!(app.post(&adj, &s.owner, body).await.status, StatusCode::OK);
    let too_much = json!({"id": uuid::Uuid::new_v4(), "points": -1_000_000, "reason": "no"});
    assert_eq!(
        app.post(&adj, &s.owner, too_much).await.code(),
        "insufficient_points"
    );
    // A second settings change; a stale one sends nothing.
    let path = format!("/api/v1/stores/{}/settings", s.store);
    let r = app
        .patch(
            &path,
            &s.owner,
            json!({"version": 2, "receipt_footer": "Rahmat!"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let stale = app
        .patch(
            &path,
            &s.owner,
            json!({"version": 2, "receipt_footer": "x"}),
        )
        .await;
    assert_eq!(stale.code(), "version_conflict");

    let want = expected.len() + 2;
    assert!(wait_for(&rx, want).await, "got {:?}", rx.all().len());
    tokio::time::sleep(Duration::from_millis(500)).await;
    let got = rx.delivered();
    assert_signed(&got, &secret);
    let bodies: Vec<Value> = got.iter().map(body_json).collect();
    assert_eq!(bodies.len(), want, "{bodies:#?}");

    let settings: Vec<&Value> = bodies
        .iter()
        .filter(|b| b["type"] == "store.settings_updated")
        .collect();
    assert_eq!(settings.len(), 2);
    assert_eq!(settings[0]["data"]["store_id"], s.store.as_str());
    assert_eq!(settings[0]["data"]["version"], 2);
    assert_eq!(settings[0]["data"]["cash_rounding_unit"], 100);
    assert_eq!(settings[1]["data"]["version"], 3);
    assert_eq!(settings[1]["data"]["receipt_footer"], "Rahmat!");

    let points: Vec<(String, i64, i64, Value)> = bodies
        .iter()
        .filter(|b| b["type"] == "customer.points_changed")
        .map(|b| {
            let d = &b["data"];
            assert_eq!(d["customer_id"], customer.as_str());
            (
                d["reason"].as_str().unwrap().to_owned(),
                d["delta"].as_i64().unwrap(),
                d["balance_after"].as_i64().unwrap(),
                d["receipt_id"].clone(),
            )
        })
        .collect();
    assert_eq!(points, expected);
    assert!(
        points.iter().any(|p| p.0 == "earn") && points.iter().any(|p| p.0 == "redeem"),
        "the example sale earns and redeems: {points:?}"
    );
    assert!(points.iter().any(|p| p.0 == "reverse_earn"), "{points:?}");
    let notes: Vec<&Value> = bodies
        .iter()
        .filter(|b| b["data"]["reason"] == "adjust")
        .map(|b| &b["data"]["note"])
        .collect();
    assert_eq!(notes, [&json!("welcome"), &json!("fix")]);
    let now = app
        .get(&format!("/api/v1/customers/{customer}/points"), &s.owner)
        .await;
    assert_eq!(now.body["balance"], balance);

    // The feed holds the same events, once each.
    let feed = app
        .get(
            &format!("/api/v1/events?types={}&limit=100", types.join(",")),
            &s.owner,
        )
        .await;
    assert_eq!(feed.status, StatusCode::OK, "{}", feed.body);
    assert_eq!(feed.body["events"].as_array().unwrap(), &bodies);
}

/// Writes `pem` to a fresh file for `webhooks.ca_file`.
fn ca_file(pem: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("jowi-test-ca-{}.pem", uuid::Uuid::new_v4()));
    std::fs::write(&path, pem).unwrap();
    path
}

/// An https:// receiver whose certificate chains to a private CA given in
/// `webhooks.ca_file` gets signed deliveries.
#[actix_web::test]
async fn https_receiver_with_a_private_ca_gets_deliveries() {
    let (rx, ca) = Receiver::start_tls().await;
    let path = ca_file(&ca);
    let file = path.clone();
    let app = spawn_app_with(move |s| {
        fast_webhooks(s);
        s.webhooks.ca_file = Some(file);
    })
    .await;
    let t = app.create_tenant("tls").await;
    let (id, secret) = subscribe(&app, &t.token, &format!("{}/tls", rx.url), &[]).await;
    app.create_product(&t.token, "Tea", "4600000000011", 1500)
        .await;
    assert!(wait_for(&rx, 1).await, "got {:?}", rx.all().len());
    let got = rx.delivered();
    assert_signed(&got, &secret);
    assert_eq!(got[0].event_type, "product.created");
    let recorded = eventually(Duration::from_secs(10), || async {
        app.get(&format!("/api/v1/webhooks/{id}"), &t.token)
            .await
            .body["delivered_through"]
            == 1
    })
    .await;
    assert!(recorded);
    let _ = std::fs::remove_file(path);
}

/// A receiver whose certificate is not trusted (its CA is neither in the
/// system store nor in `webhooks.ca_file`) never gets the request; the
/// attempt is a failure with a clear error in the delivery log.
#[actix_web::test]
async fn https_receiver_with_an_untrusted_certificate_is_a_failed_attempt() {
    let (rx, _their_ca) = Receiver::start_tls().await;
    let ours = crate::receiver::TestCa::new("another CA");
    let path = ca_file(&ours.pem());
    let file = path.clone();
    let app = spawn_app_with(move |s| {
        fast_webhooks(s);
        s.webhooks.ca_file = Some(file);
    })
    .await;
    let t = app.create_tenant("untrusted").await;
    let (id, _) = subscribe(&app, &t.token, &format!("{}/x", rx.url), &[]).await;
    app.create_product(&t.token, "Tea", "4600000000011", 1500)
        .await;
    let logged = eventually(Duration::from_secs(20), || async {
        let log = app
            .get(&format!("/api/v1/webhooks/{id}/deliveries"), &t.token)
            .await;
        !log.body["deliveries"].as_array().unwrap().is_empty()
    })
    .await;
    assert!(logged, "no attempt logged");
    let log = app
        .get(&format!("/api/v1/webhooks/{id}/deliveries"), &t.token)
        .await;
    let first = &log.body["deliveries"].as_array().unwrap()[0];
    assert_eq!(first["ok"], false, "{first}");
    assert!(first["status_code"].is_null(), "{first}");
    let error = first["error"].as_str().unwrap();
    assert!(
        error.starts_with("TLS certificate not trusted") && error.contains("webhooks.ca_file"),
        "{error}"
    );
    let sub = app.get(&format!("/api/v1/webhooks/{id}"), &t.token).await;
    assert!(sub.body["last_error"]
        .as_str()
        .is_some_and(|e| e.starts_with("TLS certificate not trusted")));
    assert_eq!(sub.body["delivered_through"], 0);
    assert!(
        rx.all().is_empty(),
        "the request never reached the receiver"
    );
    let _ = std::fs::remove_file(path);
}

/// Receipt events are published on the writer's commit signal, not at the
/// sequencer's idle poll (set to a minute here): they arrive promptly.
#[actix_web::test]
async fn receipt_events_are_published_on_commit_not_at_the_idle_poll() {
    let app = spawn_app_with(|s| {
        fast_webhooks(s);
        s.webhooks.sequencer_idle_ms = 60_000;
    })
    .await;
    let rx = Receiver::start().await;
    let s = crate::sales::shop(&app, 1).await;
    subscribe(
        &app,
        &s.owner,
        &format!("{}/commit", rx.url),
        &["receipt.created"],
    )
    .await;
    // Let the sequencer's first idle wait begin.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = std::time::Instant::now();
    let r = app
        .post("/api/v1/receipts", &s.register_token, s.sale(&[(0, "1")]))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let arrived = eventually(Duration::from_secs(10), || async {
        !rx.delivered().is_empty()
    })
    .await;
    assert!(arrived, "the receipt event did not arrive");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}: published at an idle poll, not on commit",
        started.elapsed()
    );
    assert_eq!(body_json(&rx.delivered()[0])["data"]["id"], r.body["id"]);
}
