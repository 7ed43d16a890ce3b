//! The edge for requests no handler takes: 405 with Allow for a known path
//! under another method, 404 otherwise, and /metrics that such requests
//! cannot grow (nor reach, when it has its own listener).

use crate::helpers::*;
use reqwest::{Method, StatusCode};
use uuid::Uuid;

async fn metrics_text(base: &str) -> String {
    reqwest::get(format!("{base}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// A known path under a wrong (or unknown) method is 405 with an Allow
/// header naming what it takes; an unknown path is 404.
#[actix_web::test]
async fn wrong_method_on_a_known_path_is_405() {
    let app = spawn_app().await;
    let t = app.create_tenant("t").await;
    let send = |m: Method, path: String| {
        app.http
            .request(m, format!("{}{path}", app.base))
            .bearer_auth(&t.token)
            .send()
    };
    let cases = [
        (
            Method::DELETE,
            format!("/api/v1/receipts/{}", Uuid::new_v4()),
            "GET",
        ),
        (Method::PUT, "/api/v1/products".to_owned(), "GET, POST"),
        (
            Method::from_bytes(b"FOO").unwrap(),
            "/api/v1/products".to_owned(),
            "GET, POST",
        ),
        (
            Method::POST,
            format!("/api/v1/categories/{}", Uuid::new_v4()),
            "DELETE, GET, PATCH",
        ),
    ];
    for (method, path, allow) in cases {
        let r = send(method.clone(), path.clone()).await.unwrap();
        assert_eq!(
            r.status(),
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}"
        );
        assert_eq!(r.headers()["allow"], allow, "{method} {path}");
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], "method_not_allowed");
    }
    let r = send(Method::GET, "/api/v1/nowhere".into()).await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = send(
        Method::from_bytes(b"BREW").unwrap(),
        "/api/v1/nowhere".into(),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

/// A thousand random paths and custom methods add at most one label set
/// ("unmatched") to /metrics, not one per path or method.
#[actix_web::test]
async fn unknown_paths_and_methods_do_not_grow_metrics() {
    let app = spawn_app().await;
    // Warm the one label set a 404 on an unmatched path uses.
    app.http
        .get(format!("{}/warm-up", app.base))
        .send()
        .await
        .unwrap();
    // Only request metrics count: background work (partition upkeep)
    // adds its own series meanwhile.
    let http_lines = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| l.starts_with("jowi_http_requests"))
            .map(|l| l.split(' ').next().unwrap_or("").to_owned())
            .collect()
    };
    let before = http_lines(&metrics_text(&app.base).await);
    for i in 0..500 {
        let path = format!("{}/x/{}/{i}", app.base, Uuid::new_v4());
        app.http.get(&path).send().await.unwrap();
        let method = Method::from_bytes(format!("M{i}").as_bytes()).unwrap();
        app.http.request(method, &path).send().await.unwrap();
    }
    let after = metrics_text(&app.base).await;
    let grown: Vec<String> = http_lines(&after)
        .into_iter()
        .filter(|l| !before.contains(l))
        .collect();
    // /metrics itself adds its own label set on the first scrape.
    assert!(
        grown.iter().all(|l| l.contains("endpoint=\"/metrics\"")),
        "new request series: {grown:?}"
    );
    assert!(after.contains("endpoint=\"unmatched\""));
    assert!(after.contains("jowi_http_unknown_method_requests_total 500"));
    assert!(!after.contains("/x/"));
}

/// With `server.metrics_listen` set, /metrics is served there and not on
/// the API listener.
#[actix_web::test]
async fn metrics_can_have_their_own_listener() {
    let app = spawn_app_with(|s| s.server.metrics_listen = "127.0.0.1:0".into()).await;
    let metrics = app.metrics_base.clone().expect("metrics listener");
    let r = reqwest::get(format!("{}/metrics", app.base)).await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    app.get("/api/v1/health", "x").await;
    let text = metrics_text(&metrics).await;
    assert!(text.contains("jowi_http_requests_total"), "{text}");
    assert!(text.contains("/api/v1/health"));
}
