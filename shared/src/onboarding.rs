//! Connecting an SR company: the credential exchange of SR's partner guide.
//!
//! Generate the customer-level pair SR will use to call us; get a master token and hand the pair
//! to SR (`POST /integration/company/{companyId}`); keep both pairs in Secrets Manager and the
//! client lookup in DynamoDB; mark the company ACTIVE. SR is called before anything is stored,
//! so a refusal (409, 404) leaves nothing half-done and a retry starts clean.

use chrono::Utc;

use crate::auth::{generate_client_credentials, hash_secret};
use crate::notifications::{company_connected_event, Notifications};
use crate::secrets::{sr_refused, CompanyCredentials, CredentialCache, SecretError, Secrets};
use crate::sr::{SrClient, SrClientError};
use crate::store::{ClientRecord, CompanyRecord, CompanyStatus, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum OnboardingError {
    #[error("SmartRecruiters refused the integration: {0}")]
    Sr(#[from] SrClientError),
    #[error(transparent)]
    Secrets(#[from] SecretError),
    #[error(transparent)]
    Store(#[from] StoreError),
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
    /// Connects `company_id` to the vendor's `integration_id` and returns the stored company.
    pub async fn connect(
        &self,
        company_id: &str,
        integration_id: &str,
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
                    inbound: inbound.clone(),
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
            .emit_recorded(company_connected_event(company_id, integration_id, now))
            .await?;
        tracing::info!(company_id, integration_id, "company connected");
        Ok(company)
    }
}
