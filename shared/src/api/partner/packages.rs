//! `GET {assessmentPackageListUrl}` and `GET {singleAssessmentPackageUrl}`: the company's
//! catalog as SR reads it.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, RequestExt, Response};

use super::{HandlerResult, PartnerApi};
use crate::http::{
    body_limits, decode_segment, empty_response, header_text, json_response, require_body_within,
    segments_after, sr_error_response, ApiError,
};
use crate::packages::PackageQuery;

impl PartnerApi {
    /// `GET {assessmentPackageListUrl}`: the company's packages, or 204 when there are none.
    pub async fn list_packages(&self, request: Request) -> HandlerResult {
        Ok(self
            .packages(&request)
            .await
            .unwrap_or_else(|e| sr_error_response(&e)))
    }

    async fn packages(&self, request: &Request) -> Result<Response<Body>, ApiError> {
        require_body_within(request, body_limits::NO_BODY)?;
        let auth = self.authorize(request).await?;
        let query = package_query(request)?;
        let packages = auth
            .catalog
            .as_ref()
            .map(|c| c.offered(&query))
            .unwrap_or_default();
        if packages.is_empty() {
            return Ok(empty_response(StatusCode::NO_CONTENT));
        }
        Ok(json_response(StatusCode::OK, &packages))
    }

    /// `GET {singleAssessmentPackageUrl}`.
    pub async fn get_package(&self, request: Request) -> HandlerResult {
        Ok(self
            .package(&request)
            .await
            .unwrap_or_else(|e| sr_error_response(&e)))
    }

    async fn package(&self, request: &Request) -> Result<Response<Body>, ApiError> {
        require_body_within(request, body_limits::NO_BODY)?;
        let auth = self.authorize(request).await?;
        let id = package_id(request)?;
        let package = auth
            .catalog
            .as_ref()
            .and_then(|c| c.active(&id))
            .ok_or_else(|| {
                ApiError::not_found(
                    "PACKAGE_NOT_FOUND",
                    format!("there is no assessment package `{id}`"),
                )
            })?;
        Ok(json_response(StatusCode::OK, package))
    }
}

/// The package id: API Gateway's path parameter, or the segment after `packages` elsewhere.
fn package_id(request: &Request) -> Result<String, ApiError> {
    if let Some(id) = request
        .path_parameters_ref()
        .and_then(|p| p.first("assessmentPackageId"))
    {
        return Ok(id.to_string());
    }
    match segments_after(request.uri().path(), "packages").as_deref() {
        Some([id]) if !id.is_empty() => Ok(decode_segment(id)),
        _ => Err(ApiError::not_found(
            "PACKAGE_NOT_FOUND",
            "the path must be /packages/{assessmentPackageId}",
        )),
    }
}

/// What SR sends with `GET /packages`: the job's location, the requester (a JSON header) and one
/// query parameter per custom field.
fn package_query(request: &Request) -> Result<PackageQuery, ApiError> {
    let mut query = PackageQuery::default();
    if request.headers().contains_key("requester") {
        let parsed: Option<serde_json::Value> =
            header_text(request, "requester").and_then(|s| serde_json::from_str(s).ok());
        match parsed
            .as_ref()
            .and_then(|v| v.get("email"))
            .and_then(|e| e.as_str())
        {
            Some(email) => query.requester_email = Some(email.to_string()),
            None => {
                return Err(ApiError::bad_request(
                    "INVALID_REQUESTER",
                    "header `requester` must be a JSON object with a string `email`",
                ))
            }
        }
    }
    let pairs: Vec<(String, String)> = request
        .uri()
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    for (name, value) in pairs {
        match name.as_str() {
            "country-code" => query.country_code = Some(value),
            "region-abbr" => query.region = Some(value),
            "city" => query.city = Some(value),
            "address" | "postal-code" => {}
            "remote" => {
                query.remote = Some(match value.to_ascii_lowercase().as_str() {
                    "true" => true,
                    "false" => false,
                    _ => {
                        return Err(ApiError::bad_request(
                            "INVALID_PARAMETER",
                            "query parameter `remote` must be true or false",
                        ))
                    }
                })
            }
            _ => {
                query.fields.insert(name, value);
            }
        }
    }
    Ok(query)
}
