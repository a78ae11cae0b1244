//! `DELETE {integrationDisableUrl}`: SR disables a company's integration
//! (`crate::onboarding::disable_company`).

use chrono::Utc;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, RequestExt, Response};

use super::{HandlerResult, PartnerApi};
use crate::auth::AccessToken;
use crate::http::{
    bearer_token, body_limits, decode_segment, empty_response, require_body_within, segments_after,
    sr_error_response, ApiError,
};
use crate::ids::CompanyId;
use crate::onboarding::{disable_company, disable_if_sr_confirms, REASON_SMARTRECRUITERS};

impl PartnerApi {
    /// `DELETE {integrationDisableUrl}`: disables the company at once; repeating it is harmless.
    pub async fn disable_integration(&self, request: Request) -> HandlerResult {
        Ok(self
            .disable(&request)
            .await
            .unwrap_or_else(|e| sr_error_response(&e)))
    }

    /// Who may disable: the company's own token; SR repeating its call with the token the
    /// first call revoked (a no-op); and, only when `DISABLE_REQUIRES_TOKEN=false`, anyone
    /// without a valid token — but then SR must confirm ([`disable_if_sr_confirms`]).
    /// A caller without a valid token learns nothing about the company's state: a forged token
    /// is 401 whatever the company, and without a token every company answers 204.
    async fn disable(&self, request: &Request) -> Result<Response<Body>, ApiError> {
        require_body_within(request, body_limits::NO_BODY)?;
        let company_id = path_company_id(request)?;
        let presented = bearer_token(request).and_then(AccessToken::parse);
        let record = match &presented {
            Some(claims) => self.store.token_and_catalog(claims).await?.0,
            None => None,
        };
        match (&presented, record) {
            (Some(claims), Some(record)) if record.is_valid_for(claims, Utc::now()) => {
                if claims.company_id != company_id {
                    return Err(ApiError::forbidden(
                        "the access token belongs to another company",
                    ));
                }
            }
            // Revoked by the first call: the company is disabled already.
            (Some(claims), Some(record))
                if record.revoked_for(claims) && claims.company_id == company_id =>
            {
                return Ok(empty_response(StatusCode::NO_CONTENT));
            }
            _ if self.disable_requires_token => {
                return Err(ApiError::unauthorized(
                    "a Bearer access token of this company is required",
                ))
            }
            _ => {
                if let Ok(company_id) = CompanyId::parse(&company_id) {
                    disable_if_sr_confirms(
                        &self.store,
                        &self.secrets,
                        &self.notifications,
                        &self.sr_client,
                        &company_id,
                    )
                    .await?;
                }
                return Ok(empty_response(StatusCode::NO_CONTENT));
            }
        }
        // An id SR cannot have names no company here: as for any unknown company, nothing to do.
        let Ok(company_id) = CompanyId::parse(&company_id) else {
            return Ok(empty_response(StatusCode::NO_CONTENT));
        };
        disable_company(
            &self.store,
            &self.secrets,
            &self.notifications,
            &company_id,
            REASON_SMARTRECRUITERS,
            Utc::now(),
        )
        .await?;
        Ok(empty_response(StatusCode::NO_CONTENT))
    }
}

/// The company id of `DELETE …/integrations/companies/{companyId}`.
fn path_company_id(request: &Request) -> Result<String, ApiError> {
    if let Some(id) = request
        .path_parameters_ref()
        .and_then(|p| p.first("companyId"))
    {
        return Ok(id.to_string());
    }
    match segments_after(request.uri().path(), "companies").as_deref() {
        Some([id]) if !id.is_empty() => Ok(decode_segment(id)),
        _ => Err(ApiError::not_found(
            "COMPANY_NOT_FOUND",
            "the path must be /integrations/companies/{companyId}",
        )),
    }
}
