//! The endpoints SmartRecruiters calls: token, package list, single package, order.
//! Each public method is one Lambda's handler.

use std::time::Duration;

use chrono::Utc;
use lambda_http::http::{header, HeaderValue, StatusCode};
use lambda_http::{Body, Request, RequestExt, Response};

use crate::auth::client_auth::{client_authentication, ClientAuthError};
use crate::auth::{hash_secret, secret_matches, AccessToken, TokenClaims};
use crate::aws::AwsClients;
use crate::config::{Config, SrEndpoints};
use crate::http::{
    bearer_token, body_bytes, body_limits, decode_segment, empty_response, header_text,
    json_response, parse_json, require_body_within, require_content_type, require_json_or_untyped,
    require_storable, segments_after, sr_error_response, ApiError,
};
use crate::ids::CompanyId;
use crate::kombo::inline::{InlineUrlClient, InlineUrlSettings};
use crate::notifications::Notifications;
use crate::onboarding::{disable_company, disable_if_sr_confirms, REASON_SMARTRECRUITERS};
use crate::orders::receive::{receive, receive_inline};
use crate::orders::{accept_inline_order, accept_order, Caller, OrderError};
use crate::packages::{Catalog, PackageQuery};
use crate::queue::ResultsQueue;
use crate::secrets::Secrets;
use crate::sr::oauth::{OAuthErrorBody, OAuthErrorCode, TokenRequest, TokenResponse};
use crate::sr::{InlineOrderRequest, InlineOrderResponse, OrderRequest, SrClient};
use crate::store::{Store, TokenRecord};

pub type HandlerResult = Result<Response<Body>, lambda_http::Error>;

/// Shared state of the SR-facing Lambdas, built once per cold start.
pub struct PartnerApi {
    store: Store,
    secrets: Secrets,
    /// Where an accepted order is announced for enrichment (`QueueMessage::OrderReceived`).
    queue: ResultsQueue,
    /// `company.disabled` for the vendor.
    notifications: Notifications,
    sr: SrEndpoints,
    /// Asks SR's token endpoint to confirm a disable made without a token (its HTTP client is
    /// built at the first such call only).
    sr_client: SrClient,
    token_ttl: Duration,
    /// Whether `DELETE /integrations/companies/{id}` needs a bearer token of that company
    /// (`DISABLE_REQUIRES_TOKEN`, default true).
    disable_requires_token: bool,
    /// Asks the vendor for the assessment URL of inline orders whose package has no template.
    inline_urls: Option<InlineUrlClient>,
}

/// An authenticated SR call: the company it speaks for and that company's catalog.
struct Authorized {
    caller: Caller,
    catalog: Option<Catalog>,
}

impl PartnerApi {
    pub fn new(
        store: Store,
        secrets: Secrets,
        queue: ResultsQueue,
        notifications: Notifications,
        sr: SrEndpoints,
        token_ttl: Duration,
    ) -> Self {
        Self {
            store,
            secrets,
            queue,
            notifications,
            sr_client: SrClient::new(sr.clone()),
            sr,
            token_ttl,
            disable_requires_token: true,
            inline_urls: None,
        }
    }

    /// Inline orders of packages without `inline_url_template` ask the vendor through `client`.
    pub fn with_inline_urls(mut self, client: InlineUrlClient) -> Self {
        self.inline_urls = Some(client);
        self
    }

    /// Lets SR disable an integration without a token (`DISABLE_REQUIRES_TOKEN=false`).
    pub fn with_disable_requires_token(mut self, required: bool) -> Self {
        self.disable_requires_token = required;
        self
    }

    pub async fn from_env() -> Result<Self, lambda_http::Error> {
        let config = Config::from_env()?;
        let aws = AwsClients::from_env().await;
        let requires_token = std::env::var("DISABLE_REQUIRES_TOKEN").map_or(true, |v| v != "false");
        let store = Store::new(aws.dynamodb, config.table_name);
        let secrets = Secrets::new(aws.secrets, config.secret_prefix);
        let inline_urls = InlineUrlClient::new(
            InlineUrlSettings::from_lookup(|name| std::env::var(name).ok())?,
            secrets.clone(),
        );
        Ok(Self::new(
            store.clone(),
            secrets,
            ResultsQueue::new(aws.sqs.clone(), config.results_queue_url),
            Notifications::new(store, aws.sqs, config.notifications_queue_url),
            config.sr,
            config.access_token_ttl,
        )
        .with_disable_requires_token(requires_token)
        .with_inline_urls(inline_urls))
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
        require_body_within(request, body_limits::TOKEN)
            .map_err(|e| (e.status, InvalidRequest, e.message))?;
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
        let authorization = request
            .headers()
            .get(header::AUTHORIZATION)
            .map(HeaderValue::as_bytes);
        let authentication = client_authentication(
            authorization,
            form.client_id.as_deref(),
            form.client_secret.as_deref(),
        )
        .map_err(|e| match e {
            ClientAuthError::UnsupportedScheme => {
                (StatusCode::UNAUTHORIZED, InvalidClient, e.to_string())
            }
            _ => bad(InvalidRequest, &e.to_string()),
        })?;
        let unavailable = |_| {
            (
                StatusCode::SERVICE_UNAVAILABLE,
                InvalidRequest,
                "temporarily unavailable; retry".to_string(),
            )
        };
        let mut authenticated = None;
        for presented in &authentication.candidates {
            let client = self
                .store
                .get_client(&presented.client_id)
                .await
                .map_err(unavailable)?;
            // Compare against a dummy digest for unknown clients too, so timing does not
            // reveal which client ids exist.
            let stored = client
                .as_ref()
                .map(|c| c.secret_sha256.clone())
                .unwrap_or_else(|| hash_secret("no such client"));
            if secret_matches(
                secrecy::ExposeSecret::expose_secret(&presented.client_secret),
                &stored,
            ) {
                authenticated = client;
                break;
            }
        }
        let client = authenticated.ok_or_else(|| {
            (
                StatusCode::UNAUTHORIZED,
                InvalidClient,
                "unknown client or wrong secret".to_string(),
            )
        })?;
        let token = AccessToken::issue(&client.company_id, &client.integration_id);
        let now = Utc::now();
        let record = TokenRecord {
            company_id: client.company_id.clone(),
            integration_id: client.integration_id.clone(),
            issued_at: now,
            expires_at: now.timestamp() + self.token_ttl.as_secs() as i64,
            revoked_at: None,
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
            access_token: secrecy::ExposeSecret::expose_secret(&token.value).to_owned(),
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

    /// `POST {packageOrderUrl}`: stores the order once, however often SR retries; 202 `{}`.
    pub async fn create_order(&self, request: Request) -> HandlerResult {
        Ok(self
            .order(&request)
            .await
            .unwrap_or_else(|e| sr_error_response(&e)))
    }

    async fn order(&self, request: &Request) -> Result<Response<Body>, ApiError> {
        require_body_within(request, body_limits::ORDER)?;
        let auth = self.authorize(request).await?;
        require_json_or_untyped(request)?;
        let body: OrderRequest = parse_json(body_bytes(request))?;
        require_storable(&serde_json::to_value(&body).unwrap_or_default(), "")?;
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
        require_body_within(request, body_limits::ORDER)?;
        let auth = self.authorize(request).await?;
        require_json_or_untyped(request)?;
        let body: InlineOrderRequest = parse_json(body_bytes(request))?;
        require_storable(&serde_json::to_value(&body).unwrap_or_default(), "")?;
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
        OrderError::InlineOnly(_) | OrderError::NotInline(_) => {
            ApiError::bad_request("WRONG_ORDER_ENDPOINT", error.to_string())
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
