//! What the server answers when no handler takes a request: 405 with an
//! `Allow` header when the path is one of ours under another method, 404
//! otherwise. The known paths come from the OpenAPI document, so a route
//! added with its `#[utoipa::path]` is known here without another list.
//! Wrong and unknown methods (`FOO`, `PROPFIND`) are answered here before
//! routing and before the metrics middleware, so a client cannot mint new
//! label values; unknown ones are counted in
//! `jowi_http_unknown_method_requests_total`.

use crate::error::ApiError;
use crate::openapi::ApiDoc;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use std::collections::BTreeSet;
use std::sync::OnceLock;
use utoipa::OpenApi;

/// Path patterns (split into segments, `None` = a `{parameter}`) and the
/// methods each accepts.
struct RouteTable {
    routes: Vec<(Vec<Option<String>>, BTreeSet<&'static str>)>,
}

/// Methods any route of ours uses; everything else is refused up front.
const KNOWN_METHODS: [Method; 7] = [
    Method::GET,
    Method::POST,
    Method::PUT,
    Method::PATCH,
    Method::DELETE,
    Method::HEAD,
    Method::OPTIONS,
];

fn table() -> &'static RouteTable {
    static TABLE: OnceLock<RouteTable> = OnceLock::new();
    TABLE.get_or_init(|| {
        let doc = ApiDoc::openapi();
        let mut routes: Vec<(Vec<Option<String>>, BTreeSet<&'static str>)> = doc
            .paths
            .paths
            .iter()
            .map(|(path, item)| {
                let methods = [
                    ("GET", item.get.is_some()),
                    ("POST", item.post.is_some()),
                    ("PUT", item.put.is_some()),
                    ("PATCH", item.patch.is_some()),
                    ("DELETE", item.delete.is_some()),
                ]
                .into_iter()
                .filter_map(|(m, has)| has.then_some(m))
                .collect();
                (segments(path), methods)
            })
            .collect();
        for extra in ["/metrics", "/api/v1/openapi.json"] {
            routes.push((segments(extra), BTreeSet::from(["GET"])));
        }
        RouteTable { routes }
    })
}

fn segments(pattern: &str) -> Vec<Option<String>> {
    pattern
        .trim_matches('/')
        .split('/')
        .map(|s| (!s.starts_with('{')).then(|| s.to_owned()))
        .collect()
}

/// The methods `path` accepts, or None when no route has this path. Where
/// several patterns match (`/products/changes` and `/products/{id}`), the
/// most literal one names the resource, as in the router.
fn allowed(path: &str) -> Option<BTreeSet<&'static str>> {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let mut best: Option<(usize, BTreeSet<&'static str>)> = None;
    for (pattern, m) in &table().routes {
        let same = pattern.len() == parts.len()
            && pattern
                .iter()
                .zip(&parts)
                .all(|(p, s)| p.as_deref().is_none_or(|lit| lit == *s));
        if !same {
            continue;
        }
        let params = pattern.iter().filter(|p| p.is_none()).count();
        match &mut best {
            Some((fewest, methods)) if *fewest == params => methods.extend(m.iter().copied()),
            Some((fewest, _)) if *fewest < params => {}
            _ => best = Some((params, m.clone())),
        }
    }
    best.map(|(_, methods)| methods)
}

fn answer(req: &HttpRequest) -> HttpResponse {
    match allowed(req.path()) {
        // The method is right but nothing took it (e.g. /metrics when it
        // has its own listener): not here.
        Some(methods) if !methods.contains(req.method().as_str()) => {
            let allow = methods.into_iter().collect::<Vec<_>>().join(", ");
            ApiError::MethodNotAllowed(allow).error_response()
        }
        _ => ApiError::RouteNotFound.error_response(),
    }
}

/// The app's default service.
pub async fn not_routed(req: HttpRequest) -> HttpResponse {
    answer(&req)
}

/// Middleware (outside the metrics one): answers 405 for a known path
/// under a method it does not take before routing (the router would hand
/// `PATCH /products/changes` to `PATCH /products/{id}`), and refuses
/// unknown methods.
pub async fn refuse_unknown_methods(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let known = KNOWN_METHODS.contains(req.method());
    let routable = allowed(req.path()).is_none_or(|m| m.contains(req.method().as_str()));
    if known && routable {
        return Ok(next.call(req).await?.map_into_left_body());
    }
    if !known {
        if let Some(counter) = req.app_data::<web::Data<UnknownMethods>>() {
            counter.0.inc();
        }
    }
    let response = answer(req.request());
    Ok(req.into_response(response).map_into_right_body())
}

/// Counter of requests refused for an unknown method.
pub struct UnknownMethods(pub prometheus::IntCounter);

impl UnknownMethods {
    pub fn register(registry: &prometheus::Registry) -> anyhow::Result<Self> {
        let c = prometheus::IntCounter::new(
            "jowi_http_unknown_method_requests_total",
            "Requests refused because no route uses their method",
        )?;
        registry.register(Box::new(c.clone()))?;
        Ok(Self(c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_paths_answer_their_methods() {
        let list = |p: &str| allowed(p).map(|m| m.into_iter().collect::<Vec<_>>().join(", "));
        assert_eq!(
            list("/api/v1/receipts/0191d6b0-0000-7000-8000-000000000000").as_deref(),
            Some("GET")
        );
        assert_eq!(
            list("/api/v1/categories/x").as_deref(),
            Some("DELETE, GET, PATCH")
        );
        assert_eq!(list("/api/v1/nothing/here"), None);
        // The literal route names the resource, not /receipts/{id}.
        assert_eq!(list("/api/v1/receipts/batch").as_deref(), Some("POST"));
        assert_eq!(list("/api/v1/products/changes").as_deref(), Some("GET"));
        assert_eq!(list("/metrics").as_deref(), Some("GET"));
        // A back-office list beside a documented POST.
        assert_eq!(list("/api/v1/shifts").as_deref(), Some("GET, POST"));
        assert_eq!(list("/api/v1/users").as_deref(), Some("GET, POST"));
        assert_eq!(list("/api/v1/catalog/import").as_deref(), Some("POST"));
    }
}
