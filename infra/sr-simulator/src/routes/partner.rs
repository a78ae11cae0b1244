//! Master-token endpoints: partner configuration and company integration set-up.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::Json;
use serde_json::{json, Value};

use crate::auth::require_master;
use crate::error::SrError;
use crate::ids;
use crate::state::{AppState, Integration};
use crate::validate;

/// Parses a JSON body, answering SR's error body (not axum's plain text) when it is not JSON.
pub fn parse_json(body: &Bytes) -> Result<Value, SrError> {
    serde_json::from_slice(body)
        .map_err(|e| SrError::bad_request(format!("Request body is not valid JSON: {e}")))
}

/// `GET /assessment-api/v202010/partner/configuration`
pub async fn get_configuration(
    State(app): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Value>, SrError> {
    require_master(&app, &headers)?;
    let state = app.lock();
    state
        .partner_configuration
        .clone()
        .map(Json)
        .ok_or_else(|| SrError::not_found("Configuration does not exist"))
}

/// `PUT /assessment-api/v202010/partner/configuration`
pub async fn put_configuration(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, SrError> {
    require_master(&app, &headers)?;
    let request = parse_json(&body)?;
    let stored = validate::partner_configuration(&request)
        .map_err(|errors| SrError::validation("Invalid configuration provided", errors))?;
    app.lock().partner_configuration = Some(stored.clone());
    Ok(Json(stored))
}

/// `POST /assessment-api/v202010/integration/company/{companyId}`
pub async fn integrate_company(
    State(app): State<AppState>,
    Path(company_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, SrError> {
    require_master(&app, &headers)?;
    let (partner_client_id, partner_client_secret) =
        validate::client_credentials(&parse_json(&body)?)
            .map_err(|errors| SrError::validation("Invalid request body", errors))?;
    let mut state = app.lock();
    if state.partner_configuration.is_none() {
        return Err(SrError::not_found("Partner configuration does not exist"));
    }
    let company = state.companies.entry(company_id.clone()).or_default();
    if !company.consent {
        return Err(SrError::forbidden(format!(
            "Company {company_id} did not give consent for integration with partner"
        )));
    }
    if company.integration.is_some() {
        return Err(SrError::conflict(format!(
            "Partner already integrated for company {company_id}"
        )));
    }
    let integration = Integration {
        partner_client_id,
        partner_client_secret,
        customer_client_id: ids::random_string(18),
        customer_client_secret: ids::random_string(36),
        integrated_at: ids::now_rfc3339(),
    };
    let answer = json!({
        "clientId": integration.customer_client_id,
        "clientSecret": integration.customer_client_secret,
    });
    company.integration = Some(integration);
    company.connector_token = None;
    Ok(Json(answer))
}
