//! Rate limits in the server: a noisy tenant is throttled (429 with
//! Retry-After and RateLimit-* headers) while another keeps succeeding, and
//! a spray of made-up tokens reaches the database at a bounded rate.

use crate::helpers::*;
use futures::future::join_all;
use reqwest::StatusCode;

fn limited(s: &mut jowi::settings::Settings) {
    s.limits.enabled = true;
    s.limits.token_rps = 1000;
    s.limits.token_burst = 1000;
    // Slow refills, so a loaded machine cannot refill much during a test.
    s.limits.tenant_base_rps = 1;
    s.limits.tenant_per_register_rps = 0;
    s.limits.tenant_burst_s = 20;
    s.limits.unknown_token_lookups_rps = 1;
}

/// Tenant A floods; it gets 429 `rate_limited` with the headers, and every
/// request of tenant B, sent meanwhile, succeeds.
#[actix_web::test]
async fn noisy_tenant_is_throttled_while_another_succeeds() {
    let app = spawn_app_with(limited).await;
    let noisy = app.create_tenant("noisy").await;
    let quiet = app.create_tenant("quiet").await;
    let noisy_reqs = (0..120).map(|_| {
        app.http
            .get(format!("{}/api/v1/categories", app.base))
            .bearer_auth(&noisy.token)
            .send()
    });
    let quiet_reqs = (0..15).map(|_| app.get("/api/v1/categories", &quiet.token));
    let started = std::time::Instant::now();
    let (noisy_replies, quiet_replies) = futures::join!(join_all(noisy_reqs), join_all(quiet_reqs));
    let refilled = started.elapsed().as_secs() as usize + 1;
    for r in &quiet_replies {
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    }
    let mut throttled = 0;
    for r in noisy_replies {
        let r = r.unwrap();
        if r.status() == StatusCode::TOO_MANY_REQUESTS {
            throttled += 1;
            let h = r.headers();
            let retry: u64 = h["retry-after"].to_str().unwrap().parse().unwrap();
            assert!(retry >= 1);
            assert_eq!(h["ratelimit-limit"], "20");
            assert_eq!(h["ratelimit-remaining"], "0");
            assert_eq!(h["ratelimit-reset"], h["retry-after"]);
            let body: serde_json::Value = r.json().await.unwrap();
            assert_eq!(body["error"]["code"], "rate_limited");
        } else {
            assert_eq!(r.status(), StatusCode::OK);
        }
    }
    // 20 of burst, plus one a second refilled while the run lasted.
    assert!(
        throttled >= 120 - 20 - refilled,
        "only {throttled} of 120 throttled"
    );
    let metrics = reqwest::get(format!("{}/metrics", app.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(&format!(
            "jowi_rate_limited_total{{scope=\"tenant\"}} {throttled}"
        )),
        "{metrics}"
    );
}

/// Made-up (well-formed) tokens for a tenant: after the lookup budget, they
/// are refused with 429 before any database lookup; repeating one bad
/// token costs one lookup at most (it is remembered).
#[actix_web::test]
async fn token_spray_is_bounded_before_the_database() {
    let app = spawn_app_with(limited).await;
    let t = app.create_tenant("victim").await;
    let prefix = format!("jw_{}", t.id.simple());
    let r = app.get("/api/v1/categories", &t.token).await;
    assert_eq!(r.status, StatusCode::OK);
    let mut unauthorized = 0;
    let mut throttled = 0;
    let started = std::time::Instant::now();
    for i in 0..100 {
        let fake = format!("{prefix}_{:0>43}", i);
        let r = app.get("/api/v1/categories", &fake).await;
        match r.status {
            StatusCode::UNAUTHORIZED => unauthorized += 1,
            StatusCode::TOO_MANY_REQUESTS => {
                assert_eq!(r.code(), "rate_limited");
                throttled += 1
            }
            other => panic!("{other}: {}", r.body),
        }
    }
    // The lookup that spends the budget and the one that finds it spent,
    // again each second it refills: a handful, not one per token.
    let refilled = started.elapsed().as_secs() as usize + 1;
    assert!(
        unauthorized <= 2 * refilled + 2,
        "{unauthorized} database lookups"
    );
    assert_eq!(unauthorized + throttled, 100);
    // The real token was cached before the spray: still served.
    let r = app.get("/api/v1/categories", &t.token).await;
    assert_eq!(r.status, StatusCode::OK);
    // A repeated bad token is answered from memory: 401, not 429.
    let fake = format!("{prefix}_{:0>43}", 0);
    for _ in 0..20 {
        let r = app.get("/api/v1/categories", &fake).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
}
