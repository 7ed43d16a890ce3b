use crate::helpers::*;
use reqwest::{Method, StatusCode};
use serde_json::json;
use std::time::Duration;

/// Create -> get -> barcode lookup with its category.
#[actix_web::test]
async fn product_create_get_and_barcode() {
    let app = spawn_app().await;
    let t = app.create_tenant("c").await;
    let cat = app
        .post("/api/v1/categories", &t.token, json!({"name": "Dairy"}))
        .await;
    assert_eq!(cat.status, StatusCode::CREATED);
    let r = app
        .post(
            "/api/v1/products",
            &t.token,
            json!({"name": "Milk 1L", "category_id": cat.body["id"], "variants": [
                {"barcode": "4780000000007", "price": 12500, "sku": "M-1"},
                {"barcode": "4780000000014", "price": 6500}
            ]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_owned();
    assert_eq!(r.body["version"], 1);
    assert_eq!(r.body["variants"].as_array().unwrap().len(), 2);
    let g = app.get(&format!("/api/v1/products/{id}"), &t.token).await;
    assert_eq!(g.status, StatusCode::OK);
    assert_eq!(g.body["name"], "Milk 1L");
    let b = app
        .get("/api/v1/products/barcode/4780000000014", &t.token)
        .await;
    assert_eq!(b.status, StatusCode::OK);
    assert_eq!(b.body["product"]["id"], id.as_str());
    assert_eq!(b.body["variant"]["price"], 6500);
    assert_eq!(b.body["category"]["name"], "Dairy");
    let missing = app.get("/api/v1/products/barcode/000", &t.token).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.code(), "not_found");
}

/// The second lookup is served from memory: hits go up, misses do not.
#[actix_web::test]
async fn second_lookup_is_a_cache_hit() {
    let app = spawn_app().await;
    let t = app.create_tenant("cache").await;
    app.create_product(&t.token, "Tea", "555", 100).await;
    let before = app.cache_stats().await;
    let r = app.get("/api/v1/products/barcode/555", &t.token).await;
    assert_eq!(r.status, StatusCode::OK);
    let mid = app.cache_stats().await;
    let r = app.get("/api/v1/products/barcode/555", &t.token).await;
    assert_eq!(r.status, StatusCode::OK);
    let after = app.cache_stats().await;
    assert_eq!(after["misses"], mid["misses"]);
    assert_eq!(
        after["hits"].as_u64().unwrap(),
        mid["hits"].as_u64().unwrap() + 1
    );
    assert!(mid["hits"].as_u64().unwrap() > before["hits"].as_u64().unwrap());
    assert_eq!(after["tenants_loaded"], 1);
    // Served from memory: with the database refusing connections the
    // lookup still answers.
    set_database_reachable(&app, false).await;
    let r = app.get("/api/v1/products/barcode/555", &t.token).await;
    assert_eq!(r.status, StatusCode::OK);
    let mid = app.cache_stats().await;
    let r = app.get("/api/v1/products/barcode/555", &t.token).await;
    assert_eq!(r.status, StatusCode::OK);
    let after = app.cache_stats().await;
    assert_eq!(after["misses"], mid["misses"]);
    assert_eq!(
        after["hits"].as_u64().unwrap(),
        mid["hits"].as_u64().unwrap() + 1
    );
    assert!(mid["hits"].as_u64().unwrap() > before["hits"].as_u64().unwrap());
    assert_eq!(after["tenants_loaded"], 1);
    // Served from memory: with the database refusing connections the
    // lookup still answers.
    let name = app.db_url.rsplit('/').next().unwrap().to_owned();
    let (admin, conn) =
        tokio_postgres::connect(&with_db(&app.db_url, "postgres"), tokio_postgres::NoTls)
            .await
            .unwrap();
    tokio::spawn(conn);
    admin
        .batch_execute(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS false"))
        .await
        .unwrap();
    admin
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
            &[&name],
        )
        .await
        .unwrap();
    let r = app.get("/api/v1/products/barcode/555", &t.token).await;
    set_database_reachable(&app, true).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

/// An idle tenant is evicted, then reloaded on demand with its data.
#[actix_web::test]
async fn idle_tenant_is_evicted_and_reloaded() {
    let app = spawn_app_with(|s| {
        s.catalog.tenant_idle_evict_s = 0;
        s.catalog.evict_check_interval_ms = 50;
    })
    .await;
    let t = app.create_tenant("evict").await;
    app.create_product(&t.token, "Rice", "777", 300).await;
    assert!(
        eventually(Duration::from_secs(5), || async {
            app.cache_stats().await["tenants_loaded"] == 0
        })
        .await,
        "tenant never evicted"
    );
    let misses = app.cache_stats().await["misses"].as_u64().unwrap();
    let r = app.get("/api/v1/products/barcode/777", &t.token).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["variant"]["price"], 300);
    assert_eq!(
        app.cache_stats().await["misses"].as_u64().unwrap(),
        misses + 1
    );
}

/// PATCH needs the current version: stale -> 409, none -> 428, If-Match works.
#[actix_web::test]
async fn patch_uses_optimistic_versions() {
    let app = spawn_app().await;
    let t = app.create_tenant("v").await;
    let p = app.create_product(&t.token, "Bread", "42", 100).await;
    let path = format!("/api/v1/products/{}", p["id"].as_str().unwrap());
    let r = app
        .patch(&path, &t.token, json!({"name": "Bread white"}))
        .await;
    assert_eq!(r.status, StatusCode::PRECONDITION_REQUIRED);
    assert_eq!(r.code(), "version_required");
    let r = app
        .patch(
            &path,
            &t.token,
            json!({"version": 1, "name": "Bread white"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["version"], 2);
    // The other manager still holds version 1.
    let r = app
        .patch(
            &path,
            &t.token,
            json!({"version": 1, "name": "Bread black"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.code(), "version_conflict");
    let r = app
        .http
        .patch(format!("{}{}", app.base, path))
        .bearer_auth(&t.token)
        .header("If-Match", "\"2\"")
        .json(&json!({"variants": [{"id": p["variants"][0]["id"], "barcode": "42", "price": 150}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let b = app.get("/api/v1/products/barcode/42", &t.token).await;
    assert_eq!(b.body["variant"]["price"], 150);
    assert_eq!(b.body["product"]["name"], "Bread white");
    assert_eq!(b.body["product"]["version"], 3);
}

/// Changing variants moves barcodes: the old one stops resolving.
#[actix_web::test]
async fn patch_variants_replaces_barcodes() {
    let app = spawn_app().await;
    let t = app.create_tenant("pv").await;
    let p = app.create_product(&t.token, "Juice", "100", 100).await;
    let path = format!("/api/v1/products/{}", p["id"].as_str().unwrap());
    let r = app
        .patch(
            &path,
            &t.token,
            json!({"version": 1, "variants": [{"barcode": "200", "price": 120}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        app.get("/api/v1/products/barcode/100", &t.token)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get("/api/v1/products/barcode/200", &t.token)
            .await
            .status,
        StatusCode::OK
    );
    // The freed barcode can be used by a new product.
    app.create_product(&t.token, "Other", "100", 1).await;
}

/// Soft delete hides the product from id, barcode and list; the change feed
/// reports it deleted; its barcode is free again.
#[actix_web::test]
async fn soft_delete_hides_product() {
    let app = spawn_app().await;
    let t = app.create_tenant("del").await;
    let p = app.create_product(&t.token, "Soap", "900", 100).await;
    let keep = app.create_product(&t.token, "Soap 2", "901", 100).await;
    let id = p["id"].as_str().unwrap();
    let r = app
        .delete(&format!("/api/v1/products/{id}"), &t.token)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.get(&format!("/api/v1/products/{id}"), &t.token)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get("/api/v1/products/barcode/900", &t.token)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let list = app.get("/api/v1/products", &t.token).await;
    let ids: Vec<_> = list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].clone())
        .collect();
    assert_eq!(ids, vec![keep["id"].clone()]);
    let feed = app.get("/api/v1/products/changes?since=0", &t.token).await;
    let last = feed.body["changes"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["product_id"], id);
    assert_eq!(last["deleted"], true);
    assert_eq!(
        app.delete(&format!("/api/v1/products/{id}"), &t.token)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    // The database row is kept (soft delete).
    let db = app.db().await;
    let n: i64 = db
        .query_one(
            "SELECT count(*) FROM products WHERE id = $1::text::uuid AND deleted_at IS NOT NULL",
            &[&id],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 1);
}

/// Listing: newest first, cursor pages, category filter, name prefix, limit bounds.
#[actix_web::test]
async fn list_pages_and_filters() {
    let app = spawn_app().await;
    let t = app.create_tenant("list").await;
    let cat = app
        .post("/api/v1/categories", &t.token, json!({"name": "Drinks"}))
        .await
        .body;
    let mut ids = Vec::new();
    for i in 0..7 {
        let body = if i % 2 == 0 {
            json!({"name": format!("Cola {i}"), "category_id": cat["id"], "variants": [{"barcode": format!("c{i}"), "price": 1}]})
        } else {
            json!({"name": format!("Water {i}"), "variants": [{"barcode": format!("c{i}"), "price": 1}]})
        };
        let r = app.post("/api/v1/products", &t.token, body).await;
        ids.push(r.body["id"].as_str().unwrap().to_owned());
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/products?limit=3&cursor={c}"),
            None => "/api/v1/products?limit=3".into(),
        };
        let r = app.get(&path, &t.token).await;
        assert_eq!(r.status, StatusCode::OK);
        for p in r.body["items"].as_array().unwrap() {
            seen.push(p["id"].as_str().unwrap().to_owned());
        }
        match r.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    let newest_first: Vec<_> = ids.iter().rev().cloned().collect();
    assert_eq!(seen, newest_first);
    let r = app
        .get(
            &format!(
                "/api/v1/products?category_id={}",
                cat["id"].as_str().unwrap()
            ),
            &t.token,
        )
        .await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 4);
    let r = app.get("/api/v1/products?q=wat", &t.token).await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 3);
    assert!(r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|p| p["name"].as_str().unwrap().starts_with("Water")));
    for bad in [
        "limit=0",
        "limit=201",
        "limit=abc",
        "cursor=not-a-uuid",
        "bogus=1",
    ] {
        let r = app.get(&format!("/api/v1/products?{bad}"), &t.token).await;
        assert!(r.status.is_client_error(), "{bad}: {}", r.status);
        assert!(r.body["error"]["code"].is_string(), "{bad}");
    }
}

/// The change feed returns changes in order with a cursor that resumes.
#[actix_web::test]
async fn change_feed_resumes_from_cursor() {
    let app = spawn_app().await;
    let t = app.create_tenant("feed").await;
    let a = app.create_product(&t.token, "A", "a1", 1).await;
    let b = app.create_product(&t.token, "B", "b1", 1).await;
    let r = app
        .get("/api/v1/products/changes?since=0&limit=1", &t.token)
        .await;
    assert_eq!(r.body["changes"][0]["product_id"], a["id"]);
    assert_eq!(r.body["has_more"], true);
    let cursor = r.body["next_cursor"].as_i64().unwrap();
    let r = app
        .get(
            &format!("/api/v1/products/changes?since={cursor}"),
            &t.token,
        )
        .await;
    assert_eq!(r.body["changes"].as_array().unwrap().len(), 1);
    assert_eq!(r.body["changes"][0]["product_id"], b["id"]);
    let cursor = r.body["next_cursor"].as_i64().unwrap();
    let path = format!("/api/v1/products/{}", a["id"].as_str().unwrap());
    app.patch(&path, &t.token, json!({"version": 1, "name": "A2"}))
        .await;
    let r = app
        .get(
            &format!("/api/v1/products/changes?since={cursor}"),
            &t.token,
        )
        .await;
    assert_eq!(r.body["changes"][0]["product"]["name"], "A2");
    let r = app.get("/api/v1/products/changes?since=-1", &t.token).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
}

/// Bad input: each gets a 4xx JSON error and nothing is written.
#[actix_web::test]
async fn bad_product_input_is_rejected_cleanly() {
    let app = spawn_app().await;
    let t = app.create_tenant("bad").await;
    app.create_product(&t.token, "Existing", "dup", 100).await;
    let cases = vec![
        (
            json!({"name": "X", "variants": [{"barcode": "n1", "price": -1}]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            json!({"name": "X", "variants": [{"barcode": "dup", "price": 1}]}),
            StatusCode::CONFLICT,
            "duplicate_barcode",
        ),
        (
            json!({"name": "X", "variants": [{"barcode": "n2", "price": 1}, {"barcode": "n2", "price": 1}]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            json!({"name": "X", "category_id": uuid::Uuid::new_v4(), "variants": [{"barcode": "n3", "price": 1}]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            json!({"name": "X", "variants": []}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            json!({"name": "", "variants": [{"barcode": "n4", "price": 1}]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            json!({"name": "X", "variants": [{"barcode": "has space", "price": 1}]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            json!({"name": "X", "variants": [{"barcode": "n5", "price": "12"}]}),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            json!({"name": "X", "variants": [{"barcode": "n6", "price": 1.5}]}),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            json!({"name": "X", "tenant_id": uuid::Uuid::new_v4(), "variants": [{"barcode": "n7", "price": 1}]}),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            json!({"name": "X", "variants": [{"id": uuid::Uuid::new_v4(), "barcode": "n8", "price": 1}]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            json!({"name": "X", "category_id": "nope", "variants": [{"barcode": "n9", "price": 1}]}),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
    ];
    for (body, status, code) in cases {
        let r = app.post("/api/v1/products", &t.token, body.clone()).await;
        assert_eq!(r.status, status, "{body} -> {}", r.body);
        assert_eq!(r.code(), code, "{body}");
        assert!(r.body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()));
    }
    let r = app
        .raw(
            Method::POST,
            "/api/v1/products",
            &t.token,
            "application/json",
            b"{\"name\": ".to_vec(),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = app
        .raw(
            Method::POST,
            "/api/v1/products",
            &t.token,
            "text/plain",
            b"{}".to_vec(),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = app
        .raw(
            Method::POST,
            "/api/v1/products",
            &t.token,
            "application/json",
            vec![0xff, 0xfe],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let huge = format!(
        "{{\"name\": \"{}\", \"variants\": []}}",
        "x".repeat(2 * 1024 * 1024)
    );
    let r = app
        .raw(
            Method::POST,
            "/api/v1/products",
            &t.token,
            "application/json",
            huge.into_bytes(),
        )
        .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    let r = app.get("/api/v1/products/not-a-uuid", &t.token).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.code(), "bad_request");
    // Nothing half-written: only the first product exists.
    let n = app.count("products").await;
    let v = app.count("product_variants").await;
    assert_eq!((n, v), (1, 1));
}

/// Category tree: create, nest, rename with version, refuse delete in use,
/// refuse cycles, delete when empty.
#[actix_web::test]
async fn categories_crud() {
    let app = spawn_app().await;
    let t = app.create_tenant("cats").await;
    let root = app
        .post("/api/v1/categories", &t.token, json!({"name": "Food"}))
        .await
        .body;
    let child = app
        .post(
            "/api/v1/categories",
            &t.token,
            json!({"name": "Dairy", "parent_id": root["id"]}),
        )
        .await;
    assert_eq!(child.status, StatusCode::CREATED);
    assert_eq!(child.body["parent_id"], root["id"]);
    let root_path = format!("/api/v1/categories/{}", root["id"].as_str().unwrap());
    let r = app
        .patch(
            &root_path,
            &t.token,
            json!({"version": 1, "parent_id": child.body["id"]}),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "cycle: {}",
        r.body
    );
    let r = app
        .patch(
            &root_path,
            &t.token,
            json!({"version": 1, "name": "Groceries"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["version"], 2);
    let r = app.delete(&root_path, &t.token).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.code(), "category_in_use");
    let list = app.get("/api/v1/categories", &t.token).await;
    assert_eq!(list.body.as_array().unwrap().len(), 2);
    let child_path = format!("/api/v1/categories/{}", child.body["id"].as_str().unwrap());
    assert_eq!(
        app.delete(&child_path, &t.token).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.delete(&root_path, &t.token).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.get(&root_path, &t.token).await.status,
        StatusCode::NOT_FOUND
    );
    let r = app
        .post(
            "/api/v1/categories",
            &t.token,
            json!({"name": "X", "parent_id": uuid::Uuid::new_v4()}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
}
