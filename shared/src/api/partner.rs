//! The endpoints SmartRecruiters calls: token, package list, single package, order.
//! Each public method is one Lambda's handler.

use std::time::Duration;

use chrono::Utc;
use lambda_http::http::{header, HeaderValue, StatusCode};
use lambda_http::{Body, Request, RequestExt, Response};

use crate::auth::{hash_secret, secret_matches, AccessToken, TokenClaims};
use crate::aws::AwsClients;
use crate::config::{Config, SrEndpoints};
use crate::http::{
    bearer_token, body_bytes, decode_segment, empty_response, json_response, parse_json,
    require_content_type, segments_after, sr_error_response, ApiError,
};
use crate::orders::{accept_order, Caller, OrderError};
use crate::packages::Catalog;
use crate::sr::oauth::{OAuthErrorBody, OAuthErrorCode, TokenRequest, TokenResponse};
use crate::sr::OrderRequest;
use crate::store::{PutOrderOutcome, Store, TokenRecord};

pub type HandlerResult = Result<Response<Body>, lambda_http::Error>;

/// Shared state of the SR-facing Lambdas, built once per cold start.
pub struct PartnerApi {
    store: Store,
    sr: SrEndpoints,
    token_ttl: Duration,
}

/// An authenticated SR call: the company it speaks for and that company's catalog.
struct Authorized {
    caller: Caller,
    catalog: Option<Catalog>,
}

impl PartnerApi {
    pub fn new(store: Store, sr: SrEndpoints, token_ttl: Duration) -> Self {
        Self {
            store,
            sr,
            token_ttl,
        }
    }

    pub async fn from_env() -> Result<Self, lambda_http::Error> {
        let config = Config::from_env()?;
        let aws = AwsClients::from_env().await;
        Ok(Self::new(
            Store::new(aws.dynamodb, config.table_name),
            config.sr,
            config.access_token_ttl,
        ))
    }

    /// `POST {oauthTokenUrl}`: RFC 6749 §4.4 client-credentials grant.
    pub async fn oauth_token(&self, request: Request) -> HandlerResult {
        Ok(match self.issue_token(&request).await {
            Ok(token) => {
                let mut response = json_response(StatusCode::OK, &token);
                no_store(&mut response);
                response
            }
            Err((status, code, description)) => oauth_error(status, code, description),
        })
    }

    async fn issue_token(
        &self,
        request: &Request,
    ) -> Result<TokenResponse, (StatusCode, OAuthErrorCode, String)> {
        use OAuthErrorCode::*;
        let bad = |code, text: &str| (StatusCode::BAD_REQUEST, code, text.to_string());
        require_content_type(request, "application/x-www-form-urlencoded").map_err(|_| {
            bad(
                InvalidRequest,
                "Content-Type must be application/x-www-form-urlencoded",
            )
        })?;
        let form: TokenRequest = serde_urlencoded::from_bytes(body_bytes(request))
            .map_err(|_| bad(InvalidRequest, "the body is not a valid form"))?;
        match form.grant_type.as_deref() {
            None => return Err(bad(InvalidRequest, "grant_type is required")),
            Some("client_credentials") => {}
            Some(_) => {
                return Err(bad(
                    UnsupportedGrantType,
                    "only grant_type=client_credentials is supported",
                ))
            }
        }
        let (Some(client_id), Some(client_secret)) = (form.client_id, form.client_secret) else {
            return Err(bad(
                InvalidRequest,
                "client_id and client_secret are required",
            ));
        };
        let invalid_client = || {
            (
                StatusCode::UNAUTHORIZED,
                InvalidClient,
                "unknown client or wrong secret".to_string(),
            )
        };
        let unavailable = |_| {
            (
                StatusCode::SERVICE_UNAVAILABLE,
                InvalidRequest,
                "temporarily unavailable; retry".to_string(),
            )
        };
        let client = self
            .store
            .get_client(&client_id)
            .await
            .map_err(unavailable)?;
        // Compare against a dummy digest for unknown clients too, so timing does not reveal
        // which client ids exist.
        let stored = client
            .as_ref()
            .map(|c| c.secret_sha256.clone())
            .unwrap_or_else(|| hash_secret("no such client"));
        let matches = secret_matches(&client_secret, &stored);
        let client = client.filter(|_| matches).ok_or_else(invalid_client)?;
        let token = AccessToken::issue(&client.company_id, &client.integration_id);
        let now = Utc::now();
        let record = TokenRecord {
            company_id: client.company_id.clone(),
            integration_id: client.integration_id.clone(),
            issued_at: now,
            expires_at: now.timestamp() + self.token_ttl.as_secs() as i64,
        };
        let active = self
            .store
            .put_token(&token.claims.digest, &record, &client.client_id)
            .await
            .map_err(unavailable)?;
        if !active {
            return Err((
                StatusCode::UNAUTHORIZED,
                InvalidClient,
                "the integration of this client is disabled".into(),
            ));
        }
        tracing::info!(company_id = %client.company_id, "access token issued");
        Ok(TokenResponse {
            access_token: token.value,
            token_type: "Bearer".into(),
            expires_in: self.token_ttl.as_secs(),
        })
    }

    /// `GET {assessmentPackageListUrl}`: the company's packages, or 204 when there are none.
    pub async fn list_packages(&self, request: Request) -> HandlerResult {
        Ok(self
            .packages(&request)
            .await
            .unwrap_or_else(|e| sr_error_response(&e)))
    }

    async fn packages(&self, request: &Request) -> Result<Response<Body>, ApiError> {
        let auth = self.authorize(request).await?;
        validate_requester_header(request)?;
        let packages = auth
            .catalog
            .as_ref()
            .map(Catalog::visible)
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

    /// `POST {packageOrderUrl}`: stores the order once, however often SR retries; 202 `{}`.
    pub async fn create_order(&self, request: Request) -> HandlerResult {
        Ok(self
            .order(&request)
            .await
            .unwrap_or_else(|e| sr_error_response(&e)))
    }

    async fn order(&self, request: &Request) -> Result<Response<Body>, ApiError> {
        let auth = self.authorize(request).await?;
        require_content_type(request, "application/json")?;
        let body: OrderRequest = parse_json(body_bytes(request))?;
        let order = accept_order(
            body,
            &auth.caller,
            auth.catalog.as_ref(),
            &self.sr,
            Utc::now(),
        )
        .map_err(order_error)?;
        match self.store.put_order_if_absent(&order).await? {
            PutOrderOutcome::Created => {
                tracing::info!(company_id = %order.company_id, order_id = %order.order_id, package_id = %order.package.id, "order accepted");
            }
            PutOrderOutcome::Exists(existing)
                if existing.company_id == order.company_id
                    && existing.request_fingerprint == order.request_fingerprint =>
            {
                tracing::info!(company_id = %order.company_id, order_id = %order.order_id, "order retried by SR; already stored");
            }
            PutOrderOutcome::Exists(_) => {
                return Err(ApiError::conflict(
                    "ORDER_EXISTS",
                    format!(
                        "order `{}` already exists with different content",
                        order.order_id
                    ),
                ))
            }
        }
        Ok(json_response(StatusCode::ACCEPTED, &serde_json::json!({})))
    }

    /// Checks the bearer token and loads the company's catalog in the same round trip.
    async fn authorize(&self, request: &Request) -> Result<Authorized, ApiError> {
        let token = bearer_token(request)
            .ok_or_else(|| ApiError::unauthorized("a Bearer access token is required"))?;
        let claims: TokenClaims = AccessToken::parse(token)
            .ok_or_else(|| ApiError::unauthorized("the access token is invalid or expired"))?;
        let (record, catalog) = self.store.token_and_catalog(&claims).await?;
        let valid = record.is_some_and(|r| r.is_valid_for(&claims, Utc::now()));
        if !valid {
            return Err(ApiError::unauthorized(
                "the access token is invalid or expired",
            ));
        }
        Ok(Authorized {
            caller: Caller {
                company_id: claims.company_id,
                integration_id: claims.integration_id,
            },
            catalog,
        })
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

/// SR sends the recruiter as a JSON header: `requester: {"email": "…"}`.
fn validate_requester_header(request: &Request) -> Result<(), ApiError> {
    let Some(value) = request.headers().get("requester") else {
        return Ok(());
    };
    let parsed: Option<serde_json::Value> = value
        .to_str()
        .ok()
        .and_then(|s| serde_json::from_str(s).ok());
    match parsed {
        Some(v) if v.get("email").is_some_and(serde_json::Value::is_string) => Ok(()),
        _ => Err(ApiError::bad_request(
            "INVALID_REQUESTER",
            "header `requester` must be a JSON object with a string `email`",
        )),
    }
}

fn no_store(response: &mut Response<Body>) {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

fn oauth_error(status: StatusCode, code: OAuthErrorCode, description: String) -> Response<Body> {
    let mut response = json_response(
        status,
        &OAuthErrorBody {
            error: code,
            error_description: description,
        },
    );
    no_store(&mut response);
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"oauth\""),
        );
    }
    response
}
