use crate::helpers::*;
use reqwest::{Method, StatusCode};

/// Liveness and readiness answer 200 with PostgreSQL up.
#[actix_web::test]
async fn health_and_ready() {
    let app = spawn_app().await;
    let r = app.send(Method::GET, "/api/v1/health", None, None).await;
    assert_eq!(r.status, StatusCode::OK);
    let r = app
        .send(Method::GET, "/api/v1/health/ready", None, None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["postgres"], "up");
}

/// Readiness is 503 when PostgreSQL refuses connections, 200 again after.
#[actix_web::test]
async fn ready_fails_without_postgres() {
    let app = spawn_app().await;
    set_database_reachable(&app, false).await;
    let r = app
        .send(Method::GET, "/api/v1/health/ready", None, None)
        .await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.body);
    assert_eq!(r.body["postgres"], "down");
    set_database_reachable(&app, true).await;
    assert!(
        eventually(std::time::Duration::from_secs(10), || async {
            app.send(Method::GET, "/api/v1/health/ready", None, None)
                .await
                .status
                == StatusCode::OK
        })
        .await
    );
}

/// The OpenAPI document lists the endpoints.
#[actix_web::test]
async fn openapi_lists_endpoints() {
    let app = spawn_app().await;
    let r = app
        .send(Method::GET, "/api/v1/openapi.json", None, None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let paths = r.body["paths"].as_object().unwrap();
    for p in [
        "/api/v1/products",
        "/api/v1/products/{id}",
        "/api/v1/products/barcode/{barcode}",
        "/api/v1/products/changes",
        "/api/v1/admin/tenants",
        "/api/v1/stores/{id}/registers",
        "/api/v1/health/cache",
        // The back office's own reads and actions.
        "/api/v1/catalog/export",
        "/api/v1/catalog/import",
        "/api/v1/catalog/imports/{id}",
        "/api/v1/dashboard",
        "/api/v1/receipts/{id}/returns",
        "/api/v1/search/receipts",
        "/api/v1/stores/{id}/stock-view",
        "/api/v1/users",
        "/api/v1/registers/{id}/token",
        // Sign-in for people.
        "/api/v1/auth/login",
        "/api/v1/auth/logout",
        "/api/v1/auth/me",
        "/api/v1/auth/password",
    ] {
        assert!(paths.contains_key(p), "missing {p}");
    }
    // Signing in needs no credentials; the rest of /auth takes the session
    // cookie, not a bearer token; both say how sign-ins are limited.
    let login = &paths["/api/v1/auth/login"]["post"];
    assert_eq!(login["security"], serde_json::json!([]), "{login}");
    assert!(login["responses"]["429"]["headers"]["Retry-After"].is_object());
    let me = &paths["/api/v1/auth/me"]["get"];
    assert_eq!(me["security"], serde_json::json!([{"session": []}]), "{me}");
    assert_eq!(
        r.body["components"]["securitySchemes"]["session"]["in"],
        "cookie"
    );
    // CSV travels as CSV, both ways.
    let import = &paths["/api/v1/catalog/import"]["post"];
    assert!(
        import["requestBody"]["content"]["text/csv"].is_object(),
        "{import}"
    );
    let export = &paths["/api/v1/catalog/export"]["get"]["responses"]["200"];
    assert!(
        export["content"]["text/csv; charset=utf-8"].is_object(),
        "{export}"
    );
    assert!(paths["/api/v1/users"]["get"].is_object());
    assert!(paths["/api/v1/users"]["post"]["requestBody"].is_object());
}

/// /metrics exposes HTTP and catalog metrics.
#[actix_web::test]
async fn metrics_exposed() {
    let app = spawn_app().await;
    let t = app.create_tenant("m").await;
    app.create_product(&t.token, "Milk", "111", 100).await;
    app.get("/api/v1/products/barcode/111", &t.token).await;
    let text = app
        .http
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("jowi_http_requests_total"), "{text}");
    assert!(
        text.contains("jowi_catalog_lookups_total{result=\"hit\"}"),
        "{text}"
    );
}

/// Unknown routes answer a JSON 404.
#[actix_web::test]
async fn unknown_route_is_json_404() {
    let app = spawn_app().await;
    let r = app
        .send(Method::GET, "/api/v1/nothing-here", None, None)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.code(), "route_not_found");
}
