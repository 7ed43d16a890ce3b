//! Catalog import (CSV upload, streamed) and export (CSV download, streamed
//! page by page). The CSV logic lives in `jowi_actors::import`.

use crate::auth::Auth;
use crate::error::ApiResult;
use crate::state::AppState;
use actix_web::{get, post, web, HttpResponse};
use futures_util::StreamExt;
use jowi_actors::bus::BusEvent;
use jowi_actors::import::{self, ImportReport};
use jowi_actors::pg;
use jowi_actors::pg::import::ImportJob;
use jowi_actors::tenant::messages::ResyncCatalog;
use jowi_actors::Error;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(import_catalog)
        .service(import_job)
        .service(export_catalog);
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ImportParams {
    /// A new id chosen by the client, to follow progress at
    /// GET /catalog/imports/{job} while the upload runs.
    pub job: Option<Uuid>,
}

/// Brings this instance's catalog of `tenant` up to PostgreSQL and tells the
/// others to do the same.
pub async fn after_bulk_write(state: &AppState, tenant: Uuid) {
    if let Some(handle) = state.directory.loaded(tenant) {
        let _ = handle.actor.send(ResyncCatalog).await;
    }
    state.bus.publish(BusEvent::Resync);
}

/// The request body as a `Send` stream (the CSV reader needs one; actix's
/// payload is thread-local): a local task forwards chunks through a small
/// bounded channel, so memory stays bounded and a broken upload arrives as
/// an error, never as a silently shorter file.
fn sendable(
    mut body: web::Payload,
) -> impl futures_util::Stream<Item = std::io::Result<bytes::Bytes>> + Send + Unpin {
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<bytes::Bytes>>(8);
    actix_rt::spawn(async move {
        while let Some(chunk) = body.next().await {
            let failed = chunk.is_err();
            if tx.send(chunk.map_err(std::io::Error::other)).await.is_err() || failed {
                break;
            }
        }
    });
    Box::pin(futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    }))
}

/// What an import answers when its upload is done.
#[derive(Serialize, ToSchema)]
pub struct ImportDone {
    pub job: Uuid,
    pub report: ImportReport,
}

/// Upload a CSV (the body, as is, read whatever its Content-Type); answers
/// the report when done. Header `product,category,sku,barcode,price` (any
/// order, case-insensitive; `category` and `sku` optional), one row per
/// variant; `price` in major units with up to 2 decimals. Bad rows are
/// counted and listed in the report, the others imported.
#[utoipa::path(post, path = "/api/v1/catalog/import", tag = "catalog", params(ImportParams),
    request_body(content = String, content_type = "text/csv",
        description = "The catalog as CSV (UTF-8), as GET /catalog/export writes it"),
    responses((status = 200, body = ImportDone),
        (status = 409, description = "import_job_exists: this job id was used before"),
        (status = 422, description = "validation_failed: not a catalog CSV (e.g. a missing column)")))]
#[post("/catalog/import")]
pub async fn import_catalog(
    auth: Auth,
    state: web::Data<AppState>,
    q: web::Query<ImportParams>,
    body: web::Payload,
) -> ApiResult<HttpResponse> {
    auth.require_manage("import the catalog")?;
    let tenant = auth.tenant();
    let job = q.job.unwrap_or_else(jowi_actors::domain::new_id);
    pg::import::start_job(&state.db, tenant, job).await?;
    let reader = tokio_util::io::StreamReader::new(sendable(body));
    let result = import::import_csv(&state.db, tenant, reader, Some(job), |_| {}).await;
    after_bulk_write(&state, tenant).await;
    let report: ImportReport = result?;
    Ok(HttpResponse::Ok().json(ImportDone { job, report }))
}

/// Progress and errors of an import (running or finished).
#[utoipa::path(get, path = "/api/v1/catalog/imports/{id}", tag = "catalog",
    responses((status = 200, body = ImportJob), (status = 404)))]
#[get("/catalog/imports/{id}")]
pub async fn import_job(
    auth: Auth,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    auth.require_manage("read imports")?;
    let job = pg::import::get_job(&state.db, auth.tenant(), *id).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(job))
}

/// The live catalog as CSV, in the import format (streamed page by page).
#[utoipa::path(get, path = "/api/v1/catalog/export", tag = "catalog",
    responses((status = 200, description = "the catalog as CSV (attachment catalog.csv)",
        content_type = "text/csv; charset=utf-8", body = String)))]
#[get("/catalog/export")]
pub async fn export_catalog(auth: Auth, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    auth.require_manage("export the catalog")?;
    let tenant = auth.tenant();
    let db = state.db.clone();
    // State: None = header not sent; Some(None) = done; Some(Some(k)) = next page after k.
    enum Step {
        Header,
        After(Option<(Uuid, Uuid)>),
        Done,
    }
    let body = futures_util::stream::unfold(Step::Header, move |step| {
        let db = db.clone();
        async move {
            match step {
                Step::Done => None,
                Step::Header => Some((
                    Ok::<_, Error>(bytes::Bytes::from(import::export_header())),
                    Step::After(None),
                )),
                Step::After(after) => match import::export_chunk(&db, tenant, after).await {
                    Ok((text, Some(next))) => {
                        Some((Ok(bytes::Bytes::from(text)), Step::After(Some(next))))
                    }
                    Ok((text, None)) => Some((Ok(bytes::Bytes::from(text)), Step::Done)),
                    Err(e) => Some((Err(e), Step::Done)),
                },
            }
        }
    })
    .map(|r| r.map_err(|e| actix_web::error::ErrorServiceUnavailable(e.to_string())));
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            "Content-Disposition",
            "attachment; filename=\"catalog.csv\"",
        ))
        .streaming(body))
}
