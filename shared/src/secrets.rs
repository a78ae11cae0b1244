//! Secrets Manager adapter: the partner master credential, the vendor API key, and one secret per
//! company holding both of its credential pairs.

use std::collections::HashMap;
use std::future::Future;
use std::time::{Duration, Instant};

use aws_sdk_secretsmanager::error::ProvideErrorMetadata;
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use crate::sr::partner::ClientCredentials;
use crate::sr::{SrClient, SrClientError, SrCredentials};

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("secret {0} does not exist")]
    NotFound(String),
    #[error("secret {id} is malformed: {reason}")]
    Malformed { id: String, reason: String },
    #[error("Secrets Manager request failed: {0}")]
    Service(String),
}

/// Both credential pairs of one SR company.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CompanyCredentials {
    /// The pair SR presents to our token endpoint (we generated it).
    pub inbound: ClientCredentials,
    /// The pair we present to SR's token endpoint (SR generated it).
    pub outbound: ClientCredentials,
}

/// The operator-set partner master credential: `{"client_id": "…", "client_secret": "…"}`.
#[derive(Deserialize)]
struct PartnerCredentialSecret {
    #[serde(alias = "clientId")]
    client_id: String,
    #[serde(alias = "clientSecret")]
    client_secret: String,
}

#[derive(Clone, Debug)]
pub struct Secrets {
    client: aws_sdk_secretsmanager::Client,
    prefix: String,
}

impl Secrets {
    pub fn new(client: aws_sdk_secretsmanager::Client, prefix: impl Into<String>) -> Self {
        Self {
            client,
            prefix: prefix.into(),
        }
    }

    pub fn company_secret_id(&self, company_id: &str) -> String {
        format!("{}companies/{}", self.prefix, company_id)
    }

    pub async fn get_string(&self, id: &str) -> Result<String, SecretError> {
        let output = self
            .client
            .get_secret_value()
            .secret_id(id)
            .send()
            .await
            .map_err(|e| match e.code() {
                Some("ResourceNotFoundException") => SecretError::NotFound(id.to_string()),
                _ => SecretError::Service(describe(&e)),
            })?;
        output.secret_string.ok_or_else(|| SecretError::Malformed {
            id: id.to_string(),
            reason: "no string value".into(),
        })
    }

    async fn get_json<T: for<'de> Deserialize<'de>>(&self, id: &str) -> Result<T, SecretError> {
        let raw = self.get_string(id).await?;
        // The serde error names the field, never echoes the value.
        serde_json::from_str(&raw).map_err(|e| SecretError::Malformed {
            id: id.to_string(),
            reason: format!("expected JSON ({})", e.classify_reason()),
        })
    }

    pub async fn partner_credential(&self, id: &str) -> Result<ClientCredentials, SecretError> {
        let secret: PartnerCredentialSecret = self.get_json(id).await?;
        Ok(ClientCredentials {
            client_id: secret.client_id,
            client_secret: secret.client_secret,
        })
    }

    pub async fn company_credentials(
        &self,
        company_id: &str,
    ) -> Result<CompanyCredentials, SecretError> {
        self.get_json(&self.company_secret_id(company_id)).await
    }

    /// Creates or overwrites the company's secret.
    pub async fn put_company_credentials(
        &self,
        company_id: &str,
        credentials: &CompanyCredentials,
    ) -> Result<(), SecretError> {
        let id = self.company_secret_id(company_id);
        let value = serde_json::to_string(credentials).expect("credentials serialize");
        let created = self
            .client
            .create_secret()
            .name(&id)
            .description(format!(
                "SmartRecruiters credentials of company {company_id} (managed by the connector)"
            ))
            .secret_string(&value)
            .send()
            .await;
        match created {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some("ResourceExistsException") => self
                .client
                .put_secret_value()
                .secret_id(&id)
                .secret_string(&value)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| SecretError::Service(describe(&e))),
            Err(e) => Err(SecretError::Service(describe(&e))),
        }
    }

    /// Removes the company's secret immediately (no recovery window: a disabled integration's
    /// credentials must stop existing). Absent already is fine.
    pub async fn delete_company_credentials(&self, company_id: &str) -> Result<(), SecretError> {
        let result = self
            .client
            .delete_secret()
            .secret_id(self.company_secret_id(company_id))
            .force_delete_without_recovery(true)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some("ResourceNotFoundException") => Ok(()),
            Err(e) => Err(SecretError::Service(describe(&e))),
        }
    }
}

/// The SDK error with its causes (code, message, or the transport failure); never a secret value.
fn describe<E: std::error::Error>(error: &E) -> String {
    aws_smithy_types::error::display::DisplayErrorContext(error).to_string()
}

trait ClassifyReason {
    fn classify_reason(&self) -> &'static str;
}

impl ClassifyReason for serde_json::Error {
    fn classify_reason(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Data => "a field is missing or has the wrong type",
            _ => "not valid JSON",
        }
    }
}

/// SR credentials kept for a few minutes per warm container (a company's pairs, the partner
/// master credential), shared by everything one function does with them, and read again from
/// Secrets Manager the moment SR refuses them.
///
/// The rule (README "Delivery"): credentials that SR refuses — its token endpoint answers
/// `invalid_client`, or a call answers 401 even with a fresh token — are dropped from the
/// cache, their SR token with them, and read again; when the secret holds different
/// credentials (the company reconnected, an operator rotated the secret) the call is made once
/// more with those, before any retry of the message or request is spent. Only when the secret
/// still holds the refused credentials does the refusal reach the caller.
pub struct CredentialCache {
    secrets: Secrets,
    companies: Mutex<HashMap<String, (CompanyCredentials, Instant)>>,
    partner: Mutex<HashMap<String, (ClientCredentials, Instant)>>,
}

impl CredentialCache {
    /// Entries are re-read after this long even without a refusal.
    const KEEP_FOR: Duration = Duration::from_secs(300);

    pub fn new(secrets: Secrets) -> Self {
        Self {
            secrets,
            companies: Mutex::default(),
            partner: Mutex::default(),
        }
    }

    /// The company's credential pairs, from the cache when fresh.
    pub async fn company(&self, company_id: &str) -> Result<CompanyCredentials, SecretError> {
        Self::cached(&self.companies, company_id, || {
            self.secrets.company_credentials(company_id)
        })
        .await
    }

    /// Drops a company's entry: the next use reads the secret again.
    pub async fn forget(&self, company_id: &str) {
        self.companies.lock().await.remove(company_id);
    }

    /// The partner master credential of secret `secret_id`, from the cache when fresh.
    pub async fn partner(&self, secret_id: &str) -> Result<ClientCredentials, SecretError> {
        Self::cached(&self.partner, secret_id, || {
            self.secrets.partner_credential(secret_id)
        })
        .await
    }

    /// Runs `call` with the company's customer-level (outbound) credentials; when `refused`
    /// says SR refused them, re-reads the secret and, if it changed, runs `call` once more.
    /// `Err` only when the secret cannot be read (`NotFound`: the company is disconnected).
    pub async fn call_as_company<T, Fut>(
        &self,
        sr: &SrClient,
        company_id: &str,
        call: impl Fn(SrCredentials) -> Fut,
        refused: impl Fn(&T) -> bool,
    ) -> Result<T, SecretError>
    where
        Fut: Future<Output = T>,
    {
        self.call_as(sr, Holder::Company(company_id), call, refused)
            .await
    }

    /// [`Self::call_as_company`] for the partner master credential of secret `secret_id`
    /// (partner configuration, connecting a company).
    pub async fn call_as_partner<T, Fut>(
        &self,
        sr: &SrClient,
        secret_id: &str,
        call: impl Fn(SrCredentials) -> Fut,
        refused: impl Fn(&T) -> bool,
    ) -> Result<T, SecretError>
    where
        Fut: Future<Output = T>,
    {
        self.call_as(sr, Holder::Partner(secret_id), call, refused)
            .await
    }

    async fn call_as<T, Fut>(
        &self,
        sr: &SrClient,
        holder: Holder<'_>,
        call: impl Fn(SrCredentials) -> Fut,
        refused: impl Fn(&T) -> bool,
    ) -> Result<T, SecretError>
    where
        Fut: Future<Output = T>,
    {
        let cached = self.credentials_of(holder).await?;
        let answer = call(cached.clone()).await;
        if !refused(&answer) {
            return Ok(answer);
        }
        match holder {
            Holder::Company(company_id) => self.forget(company_id).await,
            Holder::Partner(secret_id) => {
                self.partner.lock().await.remove(secret_id);
            }
        }
        sr.forget_token(&cached.client_id);
        let fresh = self.credentials_of(holder).await?;
        if fresh == cached {
            return Ok(answer);
        }
        tracing::info!(?holder, "SmartRecruiters refused the cached credentials; using the ones read again from Secrets Manager");
        Ok(call(fresh).await)
    }

    /// The pair the holder presents to SR.
    async fn credentials_of(&self, holder: Holder<'_>) -> Result<ClientCredentials, SecretError> {
        match holder {
            Holder::Company(company_id) => Ok(self.company(company_id).await?.outbound),
            Holder::Partner(secret_id) => self.partner(secret_id).await,
        }
    }

    /// `entries[key]` while younger than [`Self::KEEP_FOR`], else what `read` answers (kept).
    async fn cached<V, Fut>(
        entries: &Mutex<HashMap<String, (V, Instant)>>,
        key: &str,
        read: impl FnOnce() -> Fut,
    ) -> Result<V, SecretError>
    where
        V: Clone,
        Fut: Future<Output = Result<V, SecretError>>,
    {
        let mut entries = entries.lock().await;
        if let Some((value, at)) = entries.get(key) {
            if at.elapsed() < Self::KEEP_FOR {
                return Ok(value.clone());
            }
        }
        let value = read().await?;
        entries.insert(key.to_owned(), (value.clone(), Instant::now()));
        Ok(value)
    }
}

/// Whose SR credentials a call uses: a company's (by id) or the partner's (by secret id).
#[derive(Debug, Clone, Copy)]
enum Holder<'a> {
    Company(&'a str),
    Partner(&'a str),
}

/// For [`CredentialCache`]'s `refused`: an SR call whose error refuses the credentials.
pub fn sr_refused<T>(answer: &Result<T, SrClientError>) -> bool {
    matches!(answer, Err(e) if e.refuses_credentials())
}
