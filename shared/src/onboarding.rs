//! Connecting an SR company: the credential exchange of SR's partner guide.
//!
//! Generate the customer-level pair SR will use to call us; get a master token and hand the pair
//! to SR (`POST /integration/company/{companyId}`); keep both pairs in Secrets Manager and the
//! client lookup in DynamoDB; mark the company ACTIVE. SR is called before anything is stored,
//! so a refusal (409, 404) leaves nothing half-done and a retry starts clean.
//!
//! The consent page connects with a one-time connect key ([`Onboarding::connect_with_key`]): a
//! company that is already connected is left as it is, and the key is claimed before SR is
//! called, so one key never connects two companies. Or it connects an admin who signed in with
//! the vendor's identity provider ([`sign_in`], [`Onboarding::connect_signed_in`]), and then the
//! company record and the `company.connected` event say who connected it.

pub mod consent;
pub mod disconnect;
pub mod sign_in;

pub use disconnect::{
    disable_company, disable_if_sr_confirms, disabled_event, CompanyError, DisableOutcome,
    REASON_OPERATOR, REASON_SMARTRECRUITERS,
};

use chrono::{DateTime, Utc};

use crate::auth::credentials::random_token;
use crate::auth::{generate_client_credentials, hash_secret};
use crate::ids::CompanyId;
use crate::notifications::{company_connected_event, Notifications};
use crate::secrets::{
    sr_refused, CompanyCredentials, CredentialCache, InboundClient, SecretError, Secrets,
};
use crate::sr::{SrClient, SrClientError};
use crate::store::{ClientRecord, CompanyRecord, CompanyStatus, ConnectedBy, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum OnboardingError {
    #[error("SmartRecruiters refused the integration: {0}")]
    Sr(#[from] SrClientError),
    #[error(transparent)]
    Secrets(#[from] SecretError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The connect key is used, expired, bound to another company, or claimed by a connection
    /// under way.
    #[error("the connect key cannot be used (used, expired, or in use by another connection)")]
    KeyUnavailable,
}

/// What a connect key did.
#[derive(Debug, Clone, PartialEq)]
pub enum KeyConnection {
    /// The company is connected now, and the key used up.
    Connected(CompanyRecord),
    /// The company was connected already: nothing changed, SR was not asked, the key stays
    /// unused.
    AlreadyConnected,
}

pub struct Onboarding<'a> {
    pub store: &'a Store,
    pub secrets: &'a Secrets,
    pub sr: &'a SrClient,
    pub partner_credential_secret_id: &'a str,
    /// Records `company.connected` and queues its webhook.
    pub notifications: &'a Notifications,
}

impl Onboarding<'_> {
    /// Connects `company_id` to `integration_id` with the connect key whose digest is
    /// `key_digest`, at most once per key. A company that is ACTIVE already is left alone (so a
    /// key of one customer cannot move another customer's company to its own organisation). The
    /// key is claimed with a conditional write before SR is called, released again when the
    /// connection fails (so a retry works), and used up when it succeeds.
    pub async fn connect_with_key(
        &self,
        key_digest: &str,
        company_id: &CompanyId,
        integration_id: &str,
        now: DateTime<Utc>,
    ) -> Result<KeyConnection, OnboardingError> {
        if self.connected_already(company_id).await? {
            return Ok(KeyConnection::AlreadyConnected);
        }
        let claim = random_token(16);
        if !self
            .store
            .claim_connect_key(key_digest, company_id, &claim, now)
            .await?
        {
            return Err(OnboardingError::KeyUnavailable);
        }
        match self.connect(company_id, integration_id).await {
            Ok(company) => {
                match self
                    .store
                    .consume_connect_key(key_digest, company_id, &claim, Utc::now())
                    .await
                {
                    Ok(true) => {}
                    Ok(false) => tracing::error!(
                        company_id = %company_id,
                        "the connect key's claim lapsed while connecting"
                    ),
                    Err(e) => {
                        tracing::error!(company_id = %company_id, error = %e, "could not mark the connect key used")
                    }
                }
                Ok(KeyConnection::Connected(company))
            }
            Err(e) => {
                if let Err(release) = self.store.release_connect_key(key_digest, &claim).await {
                    // The claim lapses on its own after `KEY_CLAIM_SECONDS`.
                    tracing::error!(company_id = %company_id, error = %release, "could not release the connect key");
                }
                Err(e)
            }
        }
    }

    /// Connects `company_id` to `integration_id` for an admin who signed in with the vendor's
    /// identity provider (`connected_by`). A company that is ACTIVE already is left alone, as with
    /// a key.
    pub async fn connect_signed_in(
        &self,
        company_id: &CompanyId,
        integration_id: &str,
        connected_by: ConnectedBy,
    ) -> Result<KeyConnection, OnboardingError> {
        if self.connected_already(company_id).await? {
            return Ok(KeyConnection::AlreadyConnected);
        }
        self.connect_as(company_id, integration_id, Some(connected_by))
            .await
            .map(KeyConnection::Connected)
    }

    /// Whether `company_id` is ACTIVE already: consent then changes nothing.
    async fn connected_already(&self, company_id: &CompanyId) -> Result<bool, OnboardingError> {
        let connected = self
            .store
            .get_company(company_id)
            .await?
            .is_some_and(|c| c.status == CompanyStatus::Active);
        if connected {
            tracing::info!(
                company_id = %company_id,
                "consent for a company that is connected already; nothing changed"
            );
        }
        Ok(connected)
    }

    /// Connects `company_id` to the vendor's `integration_id` and returns the stored company.
    pub async fn connect(
        &self,
        company_id: &CompanyId,
        integration_id: &str,
    ) -> Result<CompanyRecord, OnboardingError> {
        self.connect_as(company_id, integration_id, None).await
    }

    /// [`Self::connect`], recording who connected when they signed in.
    async fn connect_as(
        &self,
        company_id: &CompanyId,
        integration_id: &str,
        connected_by: Option<ConnectedBy>,
    ) -> Result<CompanyRecord, OnboardingError> {
        let inbound = generate_client_credentials();
        // The master credential is read for this connection; SR refusing it (an operator just
        // rotated the secret) makes it be read once more before the admin sees a failure.
        let outbound = CredentialCache::new(self.secrets.clone())
            .call_as_partner(
                self.sr,
                self.partner_credential_secret_id,
                |master| {
                    let inbound = &inbound;
                    async move {
                        self.sr
                            .integrate_company(&master, company_id, inbound)
                            .await
                    }
                },
                sr_refused,
            )
            .await??;
        self.secrets
            .put_company_credentials(
                company_id,
                &CompanyCredentials {
                    inbound: InboundClient::of(&inbound),
                    outbound,
                },
            )
            .await?;
        let now = Utc::now();
        let company = CompanyRecord {
            company_id: company_id.to_string(),
            integration_id: integration_id.to_string(),
            status: CompanyStatus::Active,
            client_id: inbound.client_id.clone(),
            created_at: now,
            updated_at: now,
            connected_by: connected_by.clone(),
        };
        let client = ClientRecord {
            client_id: inbound.client_id.clone(),
            company_id: company_id.to_string(),
            integration_id: integration_id.to_string(),
            secret_sha256: hash_secret(&inbound.client_secret),
            created_at: now,
        };
        self.store.put_company(&company, &client).await?;
        // Connecting again is refused by SR (409), so a queue failure cannot be retried usefully:
        // it is logged and the event stays listable.
        self.notifications
            .emit_recorded(company_connected_event(
                company_id,
                integration_id,
                connected_by.as_ref(),
                now,
            ))
            .await?;
        tracing::info!(company_id = %company_id, integration_id, "company connected");
        Ok(company)
    }
}
