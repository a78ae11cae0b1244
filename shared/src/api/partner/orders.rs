//! `POST {packageOrderUrl}` and `POST {inlineAssessmentPackageOrderUrl}`: SR's orders, accepted
//! (`crate::orders`) and received once (`crate::orders::receive`).

use chrono::Utc;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{Authorized, HandlerResult, PartnerApi};
use crate::http::{
    body_bytes, body_limits, json_response, parse_json, require_body_within,
    require_json_or_untyped, require_storable, sr_error_response, ApiError,
};
use crate::orders::receive::{receive, receive_inline};
use crate::orders::{accept_inline_order, accept_order, OrderError};
use crate::sr::{InlineOrderRequest, InlineOrderResponse, OrderRequest};

impl PartnerApi {
    /// `POST {packageOrderUrl}`: stores the order once, however often SR retries; 202 `{}`.
    pub async fn create_order(&self, request: Request) -> HandlerResult {
        Ok(self
            .order(&request)
            .await
            .unwrap_or_else(|e| sr_error_response(&e)))
    }

    async fn order(&self, request: &Request) -> Result<Response<Body>, ApiError> {
        let (auth, body) = self.order_request::<OrderRequest>(request).await?;
        let order = accept_order(
            body,
            &auth.caller,
            auth.catalog.as_ref(),
            &self.sr,
            Utc::now(),
        )
        .map_err(order_error)?;
        receive(&self.store, &self.queue, order).await?;
        Ok(json_response(StatusCode::ACCEPTED, &serde_json::json!({})))
    }

    /// `POST {inlineAssessmentPackageOrderUrl}`: like an order, answered with the candidate's URL.
    pub async fn create_inline_order(&self, request: Request) -> HandlerResult {
        Ok(self
            .inline_order(&request)
            .await
            .unwrap_or_else(|e| sr_error_response(&e)))
    }

    async fn inline_order(&self, request: &Request) -> Result<Response<Body>, ApiError> {
        let (auth, body) = self.order_request::<InlineOrderRequest>(request).await?;
        let order = accept_inline_order(
            body,
            &auth.caller,
            auth.catalog.as_ref(),
            &self.sr,
            Utc::now(),
        )
        .map_err(order_error)?;
        let url =
            receive_inline(&self.store, &self.queue, self.inline_urls.as_ref(), order).await?;
        Ok(json_response(StatusCode::OK, &InlineOrderResponse { url }))
    }

    /// What both order endpoints check first: the body's size, the caller's token, then the
    /// JSON body, which must fit the order item.
    async fn order_request<T: DeserializeOwned + Serialize>(
        &self,
        request: &Request,
    ) -> Result<(Authorized, T), ApiError> {
        require_body_within(request, body_limits::ORDER)?;
        let auth = self.authorize(request).await?;
        require_json_or_untyped(request)?;
        let body: T = parse_json(body_bytes(request))?;
        require_storable(&serde_json::to_value(&body).unwrap_or_default(), "")?;
        Ok((auth, body))
    }
}

fn order_error(error: OrderError) -> ApiError {
    match &error {
        OrderError::InvalidField { .. } => {
            ApiError::bad_request("INVALID_FIELD", error.to_string())
        }
        OrderError::CompanyMismatch(_) => ApiError::forbidden(error.to_string()),
        OrderError::UnknownPackage(_) => {
            ApiError::not_found("PACKAGE_NOT_FOUND", error.to_string())
        }
        OrderError::InlineOnly(_) | OrderError::NotInline(_) => {
            ApiError::bad_request("WRONG_ORDER_ENDPOINT", error.to_string())
        }
    }
}
