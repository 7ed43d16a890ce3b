//! Embedded static files. Asset URLs carry a version (a hash of all files),
//! so browsers may cache them for a year; the HTML shell is revalidated on
//! every load and names the current version. Every answer carries the
//! security headers.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse, HttpResponseBuilder};
use sha2::{Digest, Sha256};
use std::sync::OnceLock;

pub struct Asset {
    pub path: &'static str,
    pub content_type: &'static str,
    pub body: &'static [u8],
}

macro_rules! asset {
    ($path:literal, $ct:expr) => {
        Asset {
            path: $path,
            content_type: $ct,
            body: include_bytes!(concat!("static/", $path)),
        }
    };
}

const JS: &str = "text/javascript; charset=utf-8";

pub static ASSETS: &[Asset] = &[
    asset!("style.css", "text/css; charset=utf-8"),
    asset!("favicon.svg", "image/svg+xml"),
    asset!("js/app.js", JS),
    asset!("js/api.js", JS),
    asset!("js/dom.js", JS),
    asset!("js/chart.js", JS),
    asset!("js/pages/login.js", JS),
    asset!("js/pages/dashboard.js", JS),
    asset!("js/pages/catalog.js", JS),
    asset!("js/pages/stock.js", JS),
    asset!("js/pages/receipts.js", JS),
    asset!("js/pages/shifts.js", JS),
    asset!("js/pages/people.js", JS),
    asset!("js/pages/stores.js", JS),
    asset!("js/pages/tokens.js", JS),
    asset!("js/pages/import.js", JS),
    asset!("js/pages/account.js", JS),
];

const SHELL: &str = include_str!("static/index.html");

/// Hash of every embedded file: changes whenever any file does.
pub fn version() -> &'static str {
    static V: OnceLock<String> = OnceLock::new();
    V.get_or_init(|| {
        let mut h = Sha256::new();
        for a in ASSETS {
            h.update(a.path.as_bytes());
            h.update(a.body);
        }
        h.update(SHELL.as_bytes());
        hex::encode(&h.finalize()[..6])
    })
}

/// No inline script or style, nothing from elsewhere, never framed.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; connect-src 'self'; font-src 'self'; form-action 'self'; \
    frame-ancestors 'none'; base-uri 'none'";

fn secured(mut b: HttpResponseBuilder) -> HttpResponseBuilder {
    b.insert_header((header::CONTENT_SECURITY_POLICY, CSP))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header(("Cross-Origin-Opener-Policy", "same-origin"))
        .insert_header((
            "Permissions-Policy",
            "camera=(), microphone=(), geolocation=()",
        ));
    b
}

pub async fn shell() -> HttpResponse {
    static PAGE: OnceLock<String> = OnceLock::new();
    let page = PAGE.get_or_init(|| SHELL.replace("{{V}}", version()));
    secured(HttpResponse::Ok())
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(page.as_str())
}

pub async fn asset(req: HttpRequest, path: web::Path<(String, String)>) -> HttpResponse {
    let (ver, file) = path.into_inner();
    let Some(a) = ASSETS.iter().find(|a| a.path == file) else {
        return secured(HttpResponse::NotFound())
            .content_type("text/plain")
            .body("no such file");
    };
    let etag = format!("\"{}\"", version());
    if req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == etag)
    {
        return secured(HttpResponse::NotModified()).finish();
    }
    // An old version's URL gets today's file, but must not be cached long.
    let cache = if ver == version() {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    secured(HttpResponse::Ok())
        .content_type(a.content_type)
        .insert_header((header::CACHE_CONTROL, cache))
        .insert_header((header::ETAG, etag))
        .body(a.body)
}
