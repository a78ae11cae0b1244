//! `/__sim/...` admin and inspection API for tests (no auth; bypasses faults and rate limits).

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::issue_token;
use crate::error::SrError;
use crate::ids;
use crate::state::{
    AppState, Fault, Order, RateLimitSettings, SimState, TokenOwner, TOKEN_TTL_SECS,
};

/// Parses an optional JSON body: empty → `T::default()`.
pub fn optional_json<T: DeserializeOwned + Default>(body: &Bytes) -> Result<T, SrError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body)
        .map_err(|e| SrError::bad_request(format!("Invalid admin request body: {e}")))
}

/// `GET /__sim/state`
pub async fn state(State(app): State<AppState>) -> Json<Value> {
    Json(app.lock().summary())
}

/// `POST /__sim/reset`: forget everything (configuration, companies, tokens, orders, faults, counters).
pub async fn reset(State(app): State<AppState>) -> StatusCode {
    *app.lock() = SimState::default();
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    Many(Vec<Fault>),
    One(Fault),
}

/// `POST /__sim/faults`: one fault object or an array of them; answers the pending list.
pub async fn add_faults(State(app): State<AppState>, body: Bytes) -> Result<Json<Value>, SrError> {
    let faults = match serde_json::from_slice::<OneOrMany>(&body) {
        Ok(OneOrMany::Many(list)) => list,
        Ok(OneOrMany::One(fault)) => vec![fault],
        Err(e) => return Err(SrError::bad_request(format!("Invalid fault: {e}"))),
    };
    for fault in &faults {
        if fault.status != 0 && StatusCode::from_u16(fault.status).is_err() {
            return Err(SrError::bad_request(format!(
                "Invalid fault status {}",
                fault.status
            )));
        }
    }
    let mut state = app.lock();
    state
        .faults
        .extend(faults.into_iter().filter(|f| f.count > 0));
    Ok(Json(json!({ "faults": state.faults })))
}

/// `GET /__sim/faults`: pending faults.
pub async fn list_faults(State(app): State<AppState>) -> Json<Value> {
    Json(json!({ "faults": app.lock().faults }))
}

/// `DELETE /__sim/faults`
pub async fn clear_faults(State(app): State<AppState>) -> StatusCode {
    app.lock().faults.clear();
    StatusCode::NO_CONTENT
}

/// `POST /__sim/rate-limit`: `{"per_second": n|null, "concurrent": n|null}` (missing = off).
pub async fn set_rate_limit(
    State(app): State<AppState>,
    body: Bytes,
) -> Result<Json<RateLimitSettings>, SrError> {
    let settings: RateLimitSettings = optional_json(&body)?;
    let mut state = app.lock();
    state.rate_limit = settings.clone();
    state.rate_windows.clear();
    Ok(Json(settings))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct RegisterOrder {
    order_id: Option<String>,
    company_id: Option<String>,
    #[serde(default)]
    inline: bool,
}

/// `POST /__sim/orders` `{"orderId"?, "companyId", "inline"?}`: makes an order known (upsert).
pub async fn register_order(State(app): State<AppState>, body: Bytes) -> Result<Response, SrError> {
    let request: RegisterOrder = optional_json(&body)?;
    let company_id = request
        .company_id
        .filter(|c| !c.is_empty())
        .ok_or_else(|| SrError::bad_request("`companyId` is required"))?;
    let order_id = request
        .order_id
        .filter(|o| !o.is_empty())
        .unwrap_or_else(ids::uuid_v4);
    let mut state = app.lock();
    let existed = state.orders.contains_key(&order_id);
    let order = state
        .orders
        .entry(order_id.clone())
        .or_insert_with(|| Order::new(company_id.clone(), request.inline));
    order.company_id = company_id;
    order.inline = request.inline;
    let status = if existed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(order.view(&order_id))).into_response())
}

/// `GET /__sim/orders`: ids of known orders.
pub async fn list_orders(State(app): State<AppState>) -> Json<Value> {
    let state = app.lock();
    let orders: Vec<Value> = state
        .orders
        .iter()
        .map(|(id, o)| json!({ "orderId": id, "companyId": o.company_id, "inline": o.inline }))
        .collect();
    Json(Value::Array(orders))
}

/// `GET /__sim/orders/{orderId}`
pub async fn get_order(
    State(app): State<AppState>,
    Path(order_id): Path<String>,
) -> Result<Json<Value>, SrError> {
    let state = app.lock();
    let order = state
        .orders
        .get(&order_id)
        .ok_or_else(|| SrError::not_found(format!("Unknown order {order_id}")))?;
    Ok(Json(order.view(&order_id)))
}

#[derive(Deserialize)]
pub struct RequestFilter {
    path_contains: Option<String>,
    method: Option<String>,
}

/// `GET /__sim/requests?path_contains=..&method=..`: the request log, oldest first.
pub async fn requests(
    State(app): State<AppState>,
    Query(filter): Query<RequestFilter>,
) -> Json<Value> {
    let state = app.lock();
    let entries: Vec<Value> = state
        .request_log
        .iter()
        .filter(|r| {
            filter
                .path_contains
                .as_deref()
                .is_none_or(|p| r.path.contains(p))
        })
        .filter(|r| {
            filter
                .method
                .as_deref()
                .is_none_or(|m| r.method.eq_ignore_ascii_case(m))
        })
        .map(|r| json!(r))
        .collect();
    Json(Value::Array(entries))
}

#[derive(Deserialize, Default)]
pub struct ConsentRequest {
    consent: Option<bool>,
}

/// `POST /__sim/companies/{companyId}/consent` `{"consent": false}`
pub async fn set_consent(
    State(app): State<AppState>,
    Path(company_id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, SrError> {
    let request: ConsentRequest = optional_json(&body)?;
    let consent = request
        .consent
        .ok_or_else(|| SrError::bad_request("`consent` (boolean) is required"))?;
    app.lock()
        .companies
        .entry(company_id.clone())
        .or_default()
        .consent = consent;
    Ok(Json(json!({ "companyId": company_id, "consent": consent })))
}

/// `POST /__sim/companies/{companyId}/customer-token`: an SR access token bound to the company,
/// minted without credentials so tests can call SR endpoints as that company.
pub async fn customer_token(
    State(app): State<AppState>,
    Path(company_id): Path<String>,
) -> Json<Value> {
    let mut state = app.lock();
    let client_id = format!("sim-admin:{company_id}");
    let token = issue_token(&mut state, &client_id, TokenOwner::Company(company_id));
    Json(json!({ "access_token": token, "token_type": "Bearer", "expires_in": TOKEN_TTL_SECS }))
}

#[derive(Deserialize, Default)]
pub struct TokenLifetime {
    expires_in: Option<Value>,
}

/// `POST /__sim/clients/{clientId}/token-lifetime` `{"expires_in": any JSON | null}`: what the
/// client's token answers say in `expires_in` from now on (`null` restores the default), so
/// tests can offer the connector huge, string or missing lifetimes.
pub async fn set_token_lifetime(
    State(app): State<AppState>,
    Path(client_id): Path<String>,
    body: Bytes,
) -> Result<StatusCode, SrError> {
    let request: TokenLifetime = optional_json(&body)?;
    let mut state = app.lock();
    match request.expires_in {
        Some(value) => state.token_lifetimes.insert(client_id, value),
        None => state.token_lifetimes.remove(&client_id),
    };
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, Default)]
pub struct ExpireTokens {
    client_id: Option<String>,
}

/// `POST /__sim/tokens/expire` `{"client_id"?}`: expires issued SR tokens (all, or one client's)
/// so tests can check the connector re-authenticates after a 401.
pub async fn expire_tokens(
    State(app): State<AppState>,
    body: Bytes,
) -> Result<Json<Value>, SrError> {
    let request: ExpireTokens = optional_json(&body)?;
    let now = std::time::Instant::now();
    let mut state = app.lock();
    let mut expired = 0;
    for token in state.tokens.values_mut() {
        if request
            .client_id
            .as_deref()
            .is_none_or(|c| c == token.client_id)
        {
            token.expires_at = now;
            expired += 1;
        }
    }
    Ok(Json(json!({ "expired": expired })))
}

/// `PUT|DELETE /__sim/fixtures/{kind}/{id}` (kind: candidates, jobs, hiring-teams): replace or
/// restore the Customer API answer for one id.
pub async fn fixture(
    State(app): State<AppState>,
    method: Method,
    Path((kind, id)): Path<(String, String)>,
    body: Bytes,
) -> Result<StatusCode, SrError> {
    let mut state = app.lock();
    let fixtures = &mut state.fixtures;
    let map = match kind.as_str() {
        "candidates" => &mut fixtures.candidates,
        "jobs" => &mut fixtures.jobs,
        "hiring-teams" => &mut fixtures.hiring_teams,
        other => {
            return Err(SrError::not_found(format!(
                "Unknown fixture kind `{other}`"
            )))
        }
    };
    if method == Method::DELETE {
        map.remove(&id);
    } else {
        let value: Value = serde_json::from_slice(&body)
            .map_err(|e| SrError::bad_request(format!("Fixture body is not valid JSON: {e}")))?;
        map.insert(id, value);
    }
    Ok(StatusCode::NO_CONTENT)
}

/// `ANY /__sim/inline-complete/{orderId}`: the `completedAssessmentCallbackUrl` of inline orders.
pub async fn inline_complete(
    State(app): State<AppState>,
    method: Method,
    Path(order_id): Path<String>,
    uri: axum::http::Uri,
    body: Bytes,
) -> Result<Json<Value>, SrError> {
    let mut state = app.lock();
    let order = state.orders.get_mut(&order_id).ok_or_else(|| {
        SrError::not_found(format!("Order with given id does not exist: {order_id}"))
    })?;
    let body = serde_json::from_slice::<Value>(&body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()));
    order.inline_completions.push(json!({
        "at": ids::now_rfc3339(),
        "method": method.as_str(),
        "query": uri.query(),
        "body": body,
    }));
    Ok(Json(json!({ "orderId": order_id, "received": true })))
}
