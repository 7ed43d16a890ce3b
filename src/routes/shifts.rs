//! Cashier shifts: open, cash in/out, X report, close with Z report.

use crate::auth::{Auth, Tenant};
use crate::error::{ApiError, ApiResult};
use crate::json::Json;
use crate::state::AppState;
use actix_web::{get, post, web, HttpResponse};
use jowi_actors::domain::pin::Pin;
use jowi_actors::domain::Money;
use jowi_actors::pg::pins;
use jowi_actors::pg::shifts::{self, Shift, ShiftReport};
use jowi_actors::Error;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(open)
        .service(close)
        .service(cash)
        .service(report)
        .service(get_one);
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenShift {
    pub register_id: Uuid,
    /// Cash in the drawer at opening, minor units.
    #[serde(default)]
    #[schema(minimum = 0, maximum = 1000000000000000_i64)]
    pub opening_cash: i64,
    /// The employee opening the shift; their PIN is checked, and every
    /// receipt of the shift is attributed to them. Required (with `pin`)
    /// once the store has an active employee with a PIN (bound to the store
    /// or to none): 422 naming `employee_id` when missing. A tenant without
    /// such employees may open anonymous shifts.
    pub employee_id: Option<Uuid>,
    /// 4-8 digits; required with `employee_id`.
    pub pin: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CloseShift {
    /// Cash counted in the drawer, minor units.
    #[schema(minimum = 0, maximum = 1000000000000000_i64)]
    pub counted_cash: i64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CashMovement {
    /// Client-generated id: a retry with the same id and body is answered
    /// 200 and counted once; the same id with another body is 409.
    #[serde(default)]
    pub id: Option<Uuid>,
    /// "in" or "out".
    #[schema(pattern = "^(in|out)$")]
    pub kind: String,
    #[schema(minimum = 1, maximum = 1000000000000000_i64)]
    pub amount: i64,
    #[schema(
        min_length = 0,
        max_length = 500,
        pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$"
    )]
    pub note: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CashMovementCreated {
    pub id: Uuid,
}

/// A register token may only act on its own register's shifts.
fn own_register(auth: &Auth, register: Uuid) -> Result<(), ApiError> {
    match auth.0.register_id {
        Some(own) if own != register => Err(ApiError::forbidden("act on another register's shift")),
        _ => Ok(()),
    }
}

async fn shift_for(auth: &Auth, state: &AppState, id: Uuid) -> ApiResult<Shift> {
    let shift = shifts::get(&state.db, auth.tenant(), id).await?;
    own_register(auth, shift.register_id)?;
    Ok(shift)
}

#[utoipa::path(post, path = "/api/v1/shifts", tag = "sales", request_body = OpenShift,
    responses((status = 201, body = Shift), (status = 403, description = "wrong_pin"),
        (status = 409, description = "shift_already_open, pin_not_set"),
        (status = 422, description = "validation_failed: `employee_id` missing while the store has employees with a PIN, \
            `pin` missing, or the employee unknown or of another store"),
        (status = 429, description = "too_many_attempts: too many wrong PINs")))]
#[post("/shifts")]
pub async fn open(
    tenant: Tenant,
    state: web::Data<AppState>,
    body: Json<OpenShift>,
) -> ApiResult<HttpResponse> {
    tenant.auth.require_sell("open shifts")?;
    own_register(&tenant.auth, body.register_id)?;
    let opening = Money::parse_non_negative("opening_cash", body.opening_cash)?;
    let register = tenant
        .catalog
        .register(body.register_id)
        .ok_or_else(|| Error::invalid("register_id", "no such register"))?;
    let employee = match (body.employee_id, body.pin.as_deref()) {
        (Some(employee), Some(pin)) => {
            let pin = Pin::parse("pin", pin)?;
            pins::check_pin(
                &state.db,
                tenant.auth.tenant(),
                employee,
                register.store_id,
                pin,
            )
            .await?;
            Some(employee)
        }
        (Some(_), None) => {
            return Err(Error::invalid("pin", "the employee's PIN is required").into())
        }
        (None, Some(_)) => {
            return Err(Error::invalid("employee_id", "name the employee the PIN is for").into())
        }
        (None, None) => {
            // Who sold it: once the store has an employee with a PIN, a
            // shift is theirs; a tenant without such employees (none yet)
            // still opens anonymous shifts, whose receipts count under
            // employee `none`.
            if pins::store_needs_cashier(&state.db, tenant.auth.tenant(), register.store_id).await?
            {
                return Err(Error::invalid(
                    "employee_id",
                    "this store's shifts are opened by an employee with their PIN",
                )
                .into());
            }
            None
        }
    };
    let shift = shifts::open(
        &state.db,
        tenant.auth.tenant(),
        register.store_id,
        register.id,
        opening.0,
        employee,
    )
    .await?;
    Ok(HttpResponse::Created().json(shift))
}

#[utoipa::path(get, path = "/api/v1/shifts/{id}", tag = "sales",
    responses((status = 200, body = Shift), (status = 404)))]
#[get("/shifts/{id}")]
pub async fn get_one(
    auth: Auth,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(shift_for(&auth, &state, *id).await?))
}

/// Close with the counted cash; answers the Z report.
#[utoipa::path(post, path = "/api/v1/shifts/{id}/close", tag = "sales", request_body = CloseShift,
    responses((status = 200, body = ShiftReport), (status = 409, description = "shift_closed")))]
#[post("/shifts/{id}/close")]
pub async fn close(
    auth: Auth,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    body: Json<CloseShift>,
) -> ApiResult<HttpResponse> {
    auth.require_sell("close shifts")?;
    shift_for(&auth, &state, *id).await?;
    let counted = Money::parse_non_negative("counted_cash", body.counted_cash)?;
    shifts::close(&state.db, auth.tenant(), *id, counted.0).await?;
    Ok(HttpResponse::Ok().json(shifts::report(&state.db, auth.tenant(), *id).await?))
}

/// Cash put in or taken out of the drawer during the shift.
#[utoipa::path(post, path = "/api/v1/shifts/{id}/cash", tag = "sales", request_body = CashMovement,
    responses((status = 201, body = CashMovementCreated), (status = 409), (status = 422)))]
#[post("/shifts/{id}/cash")]
pub async fn cash(
    auth: Auth,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    body: Json<CashMovement>,
) -> ApiResult<HttpResponse> {
    auth.require_sell("move cash")?;
    shift_for(&auth, &state, *id).await?;
    if !matches!(body.kind.as_str(), "in" | "out") {
        return Err(Error::invalid("kind", "must be \"in\" or \"out\"").into());
    }
    let amount = Money::parse_positive("amount", body.amount)?;
    let note = super::optional_text("note", body.note.as_deref(), 500)?;
    let Some(client_id) = body.id else {
        let id = shifts::cash_movement(
            &state.db,
            auth.tenant(),
            *id,
            &body.kind,
            amount.0,
            note.as_deref(),
        )
        .await?;
        return Ok(HttpResponse::Created().json(CashMovementCreated { id }));
    };
    let created = jowi_actors::pg::manage::cash_movement(
        &state.db,
        auth.tenant(),
        client_id,
        *id,
        &body.kind,
        amount.0,
        note.as_deref(),
    )
    .await?;
    let out = CashMovementCreated { id: client_id };
    Ok(if created {
        HttpResponse::Created().json(out)
    } else {
        HttpResponse::Ok().json(out)
    })
}

/// X report (running totals) of an open shift; the Z report once closed.
#[utoipa::path(get, path = "/api/v1/shifts/{id}/report", tag = "sales",
    responses((status = 200, body = ShiftReport), (status = 404)))]
#[get("/shifts/{id}/report")]
pub async fn report(
    auth: Auth,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let report = shifts::report(&state.db, auth.tenant(), *id).await?;
    own_register(&auth, report.shift.register_id)?;
    Ok(HttpResponse::Ok().json(report))
}
