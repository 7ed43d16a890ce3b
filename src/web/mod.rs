//! The back-office web app, served by the same binary at `/`: one HTML
//! shell for every page and hand-written JavaScript modules and CSS embedded
//! in the binary (no CDN, no internet at run time). The pages talk to the
//! JSON API with the session cookie (`session`); security headers forbid
//! inline scripts and framing.

pub mod assets;
pub mod demo_owner;
pub mod session;

use actix_web::{middleware, web};

/// Paths that answer the HTML shell; the page's script draws the rest.
pub const PAGES: [&str; 11] = [
    "/",
    "/login",
    "/catalog",
    "/stock",
    "/receipts",
    "/shifts",
    "/people",
    "/stores",
    "/tokens",
    "/import",
    "/account",
];

pub fn configure(cfg: &mut web::ServiceConfig) {
    for page in PAGES {
        cfg.service(
            web::resource(page)
                .wrap(middleware::Compress::default())
                .route(web::get().to(assets::shell)),
        );
    }
    cfg.service(
        web::resource("/assets/{version}/{path:.*}")
            .wrap(middleware::Compress::default())
            .route(web::get().to(assets::asset)),
    );
}
