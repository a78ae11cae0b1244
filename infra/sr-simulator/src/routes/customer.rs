//! Customer API reads (company token): candidate, job and hiring team fixtures.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::Json;
use serde_json::Value;

use crate::auth::require_company;
use crate::error::SrError;
use crate::fixtures;
use crate::state::AppState;

/// `GET /candidates/{id}`
pub async fn candidate(
    State(app): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, SrError> {
    require_company(&app, &headers)?;
    let overridden = app.lock().fixtures.candidates.get(&id).cloned();
    Ok(Json(overridden.unwrap_or_else(|| {
        fixtures::candidate(&id, &app.base_url)
    })))
}

/// `GET /jobs/{id}`
pub async fn job(
    State(app): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, SrError> {
    require_company(&app, &headers)?;
    let overridden = app.lock().fixtures.jobs.get(&id).cloned();
    Ok(Json(
        overridden.unwrap_or_else(|| fixtures::job(&id, &app.base_url)),
    ))
}

/// `GET /jobs/{id}/hiring-team`
pub async fn hiring_team(
    State(app): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, SrError> {
    require_company(&app, &headers)?;
    let overridden = app.lock().fixtures.hiring_teams.get(&id).cloned();
    Ok(Json(overridden.unwrap_or_else(|| {
        fixtures::hiring_team(&id, &app.base_url)
    })))
}
