//! The endpoints SmartRecruiters calls, one file per seam: the token endpoint (`token`), the
//! package list and single package (`packages`), orders (`orders`) and the disable call
//! (`disable`). Each public method of [`PartnerApi`] is one Lambda's handler; this file holds
//! the state they share and the bearer-token check.

use std::time::Duration;

use chrono::Utc;
use lambda_http::{Body, Request, Response};

use crate::auth::{AccessToken, TokenClaims};
use crate::aws::LazyClient;
use crate::config::{Config, SrEndpoints};
use crate::http::{bearer_token, ApiError};
use crate::kombo::inline::{InlineUrlClient, InlineUrlSettings};
use crate::notifications::Notifications;
use crate::orders::Caller;
use crate::packages::Catalog;
use crate::secrets::Secrets;
use crate::sr::SrClient;
use crate::store::{CatalogCache, Store};

mod disable;
mod orders;
mod packages;
mod token;

pub type HandlerResult = Result<Response<Body>, lambda_http::Error>;

/// Shared state of the SR-facing Lambdas, built once per cold start.
pub struct PartnerApi {
    store: Store,
    secrets: Secrets,
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
    /// The catalogs orders were accepted against, kept while the Lambda is warm (see
    /// [`CatalogCache`]: the order's transaction checks they are current).
    catalogs: CatalogCache,
}

/// An authenticated SR call: the catalog of the integration it speaks for.
struct Authorized {
    catalog: Option<Catalog>,
}

impl PartnerApi {
    pub fn new(
        store: Store,
        secrets: Secrets,
        notifications: Notifications,
        sr: SrEndpoints,
        token_ttl: Duration,
    ) -> Self {
        Self {
            store,
            secrets,
            notifications,
            sr_client: SrClient::new(sr.clone()),
            sr,
            token_ttl,
            disable_requires_token: true,
            inline_urls: None,
            catalogs: CatalogCache::default(),
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
        let sdk = crate::aws::load_sdk_config().await;
        // Every partner function reads DynamoDB; only disable queues (SQS, `company.disabled`)
        // and only inline orders and disable read secrets, so those clients are built on first
        // use.
        let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
        let sqs = LazyClient::new(&sdk, aws_sdk_sqs::Client::new);
        let secrets = LazyClient::new(&sdk, aws_sdk_secretsmanager::Client::new);
        let requires_token = std::env::var("DISABLE_REQUIRES_TOKEN").map_or(true, |v| v != "false");
        let store = Store::new(dynamodb, config.table_name);
        let secrets = Secrets::new(secrets, config.secret_prefix);
        let inline_urls = InlineUrlClient::new(
            InlineUrlSettings::from_lookup(|name| std::env::var(name).ok())?,
            secrets.clone(),
        );
        Ok(Self::new(
            store.clone(),
            secrets,
            Notifications::new(store, sqs, config.notifications_queue_url),
            config.sr,
            config.access_token_ttl,
        )
        .with_disable_requires_token(requires_token)
        .with_inline_urls(inline_urls))
    }

    /// Checks the bearer token and loads the company's catalog in the same round trip.
    async fn authorize(&self, request: &Request) -> Result<Authorized, ApiError> {
        self.verify(&claims(request)?).await
    }

    /// Checks the token's record and loads the company's catalog in one round trip.
    async fn verify(&self, claims: &TokenClaims) -> Result<Authorized, ApiError> {
        let (record, catalog) = self.store.token_and_catalog(claims).await?;
        let valid = record.is_some_and(|r| r.is_valid_for(claims, Utc::now()));
        if !valid {
            return Err(ApiError::unauthorized(
                "the access token is invalid or expired",
            ));
        }
        Ok(Authorized { catalog })
    }
}

/// The claims of the request's bearer token, read from the token alone (no AWS call; untrusted
/// until its record confirms them): a 401 for a missing or malformed token.
fn claims(request: &Request) -> Result<TokenClaims, ApiError> {
    let token = bearer_token(request)
        .ok_or_else(|| ApiError::unauthorized("a Bearer access token is required"))?;
    AccessToken::parse(token)
        .ok_or_else(|| ApiError::unauthorized("the access token is invalid or expired"))
}

/// The company and integration `claims` speak for.
fn caller(claims: &TokenClaims) -> Caller {
    Caller {
        company_id: claims.company_id.clone(),
        integration_id: claims.integration_id.clone(),
    }
}
