//! Secrets Manager adapter: the partner master credential, the vendor API key, and one secret per
//! company holding both of its credential pairs.
//!
//! Names and shapes: the partner master credential `{stack}/partner-credential` (JSON
//! `{"client_id","client_secret"}`), the vendor API admin key `{stack}/vendor-api-key`, and per
//! company `{stack}/companies/{companyId}`: `outbound`, the pair we present to SR (`{clientId,
//! clientSecret}`), and `inbound`, the client SR presents to our token endpoint, kept as
//! `{clientId, secretSha256}` only (the token endpoint compares digests; a secret written before
//! this shape, with `clientSecret` in clear, is read as its digest).

use std::collections::HashMap;
use std::future::Future;
use std::time::{Duration, Instant};

use aws_sdk_secretsmanager::error::ProvideErrorMetadata;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use crate::aws::LazyClient;
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

/// One version of a secret (`Debug` prints `[REDACTED]` for its value).
#[derive(Clone, Debug)]
pub struct SecretVersion {
    pub value: SecretString,
    /// When this version was created, if Secrets Manager said.
    pub created_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Days a disabled company's secret can still be restored (Secrets Manager allows 7 to 30).
pub const RECOVERY_WINDOW_DAYS: i64 = 30;

/// Both credential pairs of one SR company.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CompanyCredentials {
    /// The client SR presents to our token endpoint (we generated it): its id and the digest
    /// of its secret, never the secret itself.
    pub inbound: InboundClient,
    /// The pair we present to SR's token endpoint (SR generated it).
    pub outbound: ClientCredentials,
}

/// The inbound client as stored: `{"clientId", "secretSha256"}`. Only a digest is needed, since
/// the token endpoint compares digests (`auth::secret_matches`). Secrets written before the
/// digest-only shape hold `clientSecret` in clear; they are read as its digest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", try_from = "StoredInbound")]
pub struct InboundClient {
    pub client_id: String,
    /// Hex SHA-256 of the client secret (`auth::hash_secret`).
    pub secret_sha256: String,
}

/// Either shape of [`InboundClient`] in a stored secret.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredInbound {
    client_id: String,
    #[serde(default)]
    secret_sha256: Option<String>,
    #[serde(default)]
    client_secret: Option<String>,
}

impl TryFrom<StoredInbound> for InboundClient {
    type Error = &'static str;

    fn try_from(stored: StoredInbound) -> Result<Self, Self::Error> {
        let secret_sha256 = match (stored.secret_sha256, stored.client_secret) {
            (Some(digest), _) => digest,
            (None, Some(secret)) => crate::auth::credentials::hash_secret(&secret),
            (None, None) => return Err("inbound needs secretSha256 (or clientSecret)"),
        };
        Ok(Self {
            client_id: stored.client_id,
            secret_sha256,
        })
    }
}

impl InboundClient {
    /// What is kept of a freshly generated pair.
    pub fn of(credentials: &ClientCredentials) -> Self {
        Self {
            client_id: credentials.client_id.clone(),
            secret_sha256: crate::auth::credentials::hash_secret(&credentials.client_secret),
        }
    }
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
    client: LazyClient<aws_sdk_secretsmanager::Client>,
    prefix: String,
}

impl Secrets {
    pub fn new(
        client: impl Into<LazyClient<aws_sdk_secretsmanager::Client>>,
        prefix: impl Into<String>,
    ) -> Self {
        Self {
            client: client.into(),
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
                // A secret scheduled for deletion (a disabled company's) reads as absent.
                Some("ResourceNotFoundException" | "InvalidRequestException") => {
                    SecretError::NotFound(id.to_string())
                }
                _ => SecretError::Service(describe(&e)),
            })?;
        output.secret_string.ok_or_else(|| SecretError::Malformed {
            id: id.to_string(),
            reason: "no string value".into(),
        })
    }

    /// The version of secret `id` labelled `stage` (`AWSCURRENT`, `AWSPREVIOUS`) with the time it
    /// was created (when it became current: a rotation's time); `None` when there is no such
    /// version.
    pub async fn get_version(
        &self,
        id: &str,
        stage: &str,
    ) -> Result<Option<SecretVersion>, SecretError> {
        let output = match self
            .client
            .get_secret_value()
            .secret_id(id)
            .version_stage(stage)
            .send()
            .await
        {
            Ok(output) => output,
            Err(e) if e.code() == Some("ResourceNotFoundException") => return Ok(None),
            Err(e) => return Err(SecretError::Service(describe(&e))),
        };
        let value = output.secret_string.ok_or_else(|| SecretError::Malformed {
            id: id.to_string(),
            reason: "no string value".into(),
        })?;
        let created_at = output
            .created_date
            .and_then(|d| chrono::DateTime::from_timestamp(d.secs(), d.subsec_nanos()));
        Ok(Some(SecretVersion {
            value: value.into(),
            created_at,
        }))
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

    /// Creates or overwrites the company's secret; one scheduled for deletion (the company was
    /// disabled and connects again) is restored first.
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
            Ok(_) => return Ok(()),
            Err(e) if e.code() == Some("ResourceExistsException") => {}
            Err(e) => return Err(SecretError::Service(describe(&e))),
        }
        // InvalidRequestException: it was not scheduled for deletion, nothing to restore.
        match self.client.restore_secret().secret_id(&id).send().await {
            Ok(_) => tracing::info!(
                company_id,
                "restored the company's secret scheduled for deletion"
            ),
            Err(e) if e.code() == Some("InvalidRequestException") => {}
            Err(e) => return Err(SecretError::Service(describe(&e))),
        }
        self.client
            .put_secret_value()
            .secret_id(&id)
            .secret_string(&value)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| SecretError::Service(describe(&e)))
    }

    /// Rewrites the company's secret in the digest-only shape when it still holds the inbound
    /// client secret in clear (written before that shape), then takes the `AWSPREVIOUS` label off
    /// the version that held it, so no labelled version keeps it (an unlabelled version is
    /// deprecated, and Secrets Manager may delete it). True when it rewrote; false when there
    /// was nothing to do
    /// (already digest-only, or no readable secret: a disabled company's is scheduled for
    /// deletion).
    pub async fn drop_clear_inbound_secret(&self, company_id: &str) -> Result<bool, SecretError> {
        let id = self.company_secret_id(company_id);
        let current = match self.client.get_secret_value().secret_id(&id).send().await {
            Ok(output) => output,
            Err(e)
                if matches!(
                    e.code(),
                    Some("ResourceNotFoundException" | "InvalidRequestException")
                ) =>
            {
                return Ok(false)
            }
            Err(e) => return Err(SecretError::Service(describe(&e))),
        };
        let raw = current.secret_string().unwrap_or_default();
        let stored: serde_json::Value =
            serde_json::from_str(raw).map_err(|e| SecretError::Malformed {
                id: id.clone(),
                reason: format!("expected JSON ({})", e.classify_reason()),
            })?;
        if stored["inbound"].get("clientSecret").is_none() {
            return Ok(false);
        }
        let credentials: CompanyCredentials =
            serde_json::from_value(stored).map_err(|e| SecretError::Malformed {
                id: id.clone(),
                reason: format!("expected company credentials ({})", e.classify_reason()),
            })?;
        self.client
            .put_secret_value()
            .secret_id(&id)
            .secret_string(serde_json::to_string(&credentials).expect("credentials serialize"))
            .send()
            .await
            .map_err(|e| SecretError::Service(describe(&e)))?;
        if let Some(clear) = current.version_id() {
            self.client
                .update_secret_version_stage()
                .secret_id(&id)
                .version_stage("AWSPREVIOUS")
                .remove_from_version_id(clear)
                .send()
                .await
                .map_err(|e| SecretError::Service(describe(&e)))?;
        }
        Ok(true)
    }

    /// Schedules the company's secret for deletion after [`RECOVERY_WINDOW_DAYS`]: from now on it
    /// reads as absent (a disabled integration's credentials are not used), yet an operator can
    /// still restore it (`aws secretsmanager restore-secret`) when a disable was a mistake.
    /// Absent or already scheduled is fine.
    pub async fn delete_company_credentials(&self, company_id: &str) -> Result<(), SecretError> {
        let result = self
            .client
            .delete_secret()
            .secret_id(self.company_secret_id(company_id))
            .recovery_window_in_days(RECOVERY_WINDOW_DAYS)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e)
                if matches!(
                    e.code(),
                    Some("ResourceNotFoundException" | "InvalidRequestException")
                ) =>
            {
                Ok(())
            }
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
/// The rule (shared/README.md "Delivery"): credentials that SR refuses — its token endpoint answers
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_inbound_client_is_stored_as_a_digest_and_the_old_shape_still_reads() {
        let pair = ClientCredentials {
            client_id: "src_1".into(),
            client_secret: "s3cr3t-s3cr3t".into(),
        };
        let outbound = ClientCredentials {
            client_id: "sr_1".into(),
            client_secret: "theirs".into(),
        };
        let stored = serde_json::to_value(CompanyCredentials {
            inbound: InboundClient::of(&pair),
            outbound: outbound.clone(),
        })
        .unwrap();
        assert_eq!(
            stored["inbound"],
            serde_json::json!({"clientId": "src_1", "secretSha256": crate::auth::hash_secret("s3cr3t-s3cr3t")})
        );
        assert!(!stored.to_string().contains("s3cr3t-s3cr3t"));
        let old = serde_json::json!({
            "inbound": {"clientId": "src_1", "clientSecret": "s3cr3t-s3cr3t"},
            "outbound": {"clientId": "sr_1", "clientSecret": "theirs"}
        });
        let read: CompanyCredentials = serde_json::from_value(old).unwrap();
        assert_eq!(read.inbound, InboundClient::of(&pair));
        assert_eq!(read.outbound, outbound);
        let neither =
            serde_json::json!({"inbound": {"clientId": "x"}, "outbound": stored["outbound"]});
        assert!(serde_json::from_value::<CompanyCredentials>(neither).is_err());
    }
}
