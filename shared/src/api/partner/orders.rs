//! `POST {packageOrderUrl}` and `POST {inlineAssessmentPackageOrderUrl}`: SR's orders, accepted
//! (`crate::orders`) and received once (`crate::orders::receive`).
//!
//! On a warm Lambda an order costs one AWS call: it is accepted against the catalog kept from an
//! earlier order ([`crate::store::CatalogCache`]) and stored by the transaction that also checks
//! the token's record and that the catalog is still that version. Whatever is answered without
//! that transaction (a bad body, an unknown package, …) is answered only once the token's record
//! has been read, so a caller without a valid token gets the same 401 as before.

use chrono::{DateTime, Utc};
use lambda_http::http::StatusCode;
use lambda_http::Request;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{caller, claims, HandlerResult, PartnerApi};
use crate::config::SrEndpoints;
use crate::http::{
    body_bytes, body_limits, json_response, parse_json, require_body_within,
    require_json_or_untyped, require_storable, sr_error_response, ApiError,
};
use crate::orders::receive::{asks_vendor, receive, receive_inline, ReceiveError};
use crate::orders::{accept_inline_order, accept_order, Caller, Order, OrderError};
use crate::packages::Catalog;
use crate::sr::InlineOrderResponse;
use crate::store::OrderChecks;

/// How often an order is accepted again because the catalog changed under it (or the token had
/// to be read first) before SR is answered a 503 to retry.
const PLACE_ATTEMPTS: usize = 4;

/// Which endpoint an order came through, and so how it is received and answered.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    Order,
    Inline,
}

impl PartnerApi {
    /// `POST {packageOrderUrl}`: stores the order once, however often SR retries; 202 `{}`.
    pub async fn create_order(&self, request: Request) -> HandlerResult {
        Ok(self
            .place(&request, Endpoint::Order, accept_order)
            .await
            .map(|_| json_response(StatusCode::ACCEPTED, &serde_json::json!({})))
            .unwrap_or_else(|e| sr_error_response(&e)))
    }

    /// `POST {inlineAssessmentPackageOrderUrl}`: like an order, answered with the candidate's URL.
    pub async fn create_inline_order(&self, request: Request) -> HandlerResult {
        Ok(self
            .place(&request, Endpoint::Inline, accept_inline_order)
            .await
            .map(|url| {
                let url = url.unwrap_or_default();
                json_response(StatusCode::OK, &InlineOrderResponse { url })
            })
            .unwrap_or_else(|e| sr_error_response(&e)))
    }

    /// Accepts SR's order against the integration's catalog and receives it (see the module
    /// doc). The body's size is checked first, then the token's form; then, in this order once
    /// the token's record has been read, the JSON body, the order's fields and package.
    /// Answers the candidate's assessment URL for an inline order (`None` for the other).
    async fn place<T, A>(
        &self,
        request: &Request,
        endpoint: Endpoint,
        accept: A,
    ) -> Result<Option<String>, ApiError>
    where
        T: DeserializeOwned + Serialize,
        A: Fn(
            T,
            &Caller,
            Option<&Catalog>,
            &SrEndpoints,
            DateTime<Utc>,
        ) -> Result<Order, OrderError>,
    {
        require_body_within(request, body_limits::ORDER)?;
        let claims = claims(request)?;
        let caller = caller(&claims);
        let mut catalog = self.catalogs.get(&claims.integration_id);
        let mut verified = false;
        for _ in 0..PLACE_ATTEMPTS {
            if catalog.is_none() && !verified {
                let auth = self.verify(&claims).await?;
                verified = true;
                catalog = match auth.catalog {
                    Some(current) => Some(self.catalogs.keep(current)),
                    None => {
                        self.catalogs.forget(&claims.integration_id);
                        None
                    }
                };
            }
            let now = Utc::now();
            let accepted = order_body::<T>(request).and_then(|body| {
                accept(body, &caller, catalog.as_deref(), &self.sr, now).map_err(order_error)
            });
            let order = match accepted {
                // The vendor is asked for an inline URL only for a token whose record was read.
                Ok(order) if verified || !asks_vendor(&order) => order,
                Err(e) if verified => return Err(e),
                // Refused against a kept catalog: read the token (401 first) and the catalog.
                Ok(_) | Err(_) => {
                    catalog = None;
                    continue;
                }
            };
            let checks = OrderChecks {
                token: &claims,
                catalog_version: catalog.as_ref().map_or(0, |c| c.version),
                now,
            };
            let received = match endpoint {
                Endpoint::Order => receive(&self.store, order, &checks).await.map(|_| None),
                Endpoint::Inline => {
                    receive_inline(&self.store, self.inline_urls.as_ref(), order, &checks)
                        .await
                        .map(Some)
                }
            };
            match received {
                Err(ReceiveError::CatalogChanged(current)) => {
                    catalog = current.map(|c| self.catalogs.keep(*c));
                    if catalog.is_none() {
                        self.catalogs.forget(&claims.integration_id);
                    }
                }
                answer => return answer.map_err(ApiError::from),
            }
        }
        Err(ReceiveError::Contended.into())
    }
}

/// The order's JSON body, which must fit the order item.
fn order_body<T: DeserializeOwned + Serialize>(request: &Request) -> Result<T, ApiError> {
    require_json_or_untyped(request)?;
    let body: T = parse_json(body_bytes(request))?;
    require_storable(&serde_json::to_value(&body).unwrap_or_default(), "")?;
    Ok(body)
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
