//! Companies as an operator sees them (`connector companies list|show|migrate-secrets`).
//! Disabling one is `onboarding::disconnect`, beside connecting it.

use aws_sdk_secretsmanager::error::ProvideErrorMetadata;
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::onboarding::CompanyError;
use crate::secrets::{SecretError, Secrets};
use crate::store::{CompanyRecord, Store};

/// What [`drop_clear_inbound_secrets`] did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SecretsMigration {
    /// Companies whose secret held the inbound client secret in clear and now holds its digest.
    pub rewritten: Vec<String>,
    /// Companies whose secret was digest-only already, or that have none to read.
    pub unchanged: usize,
    /// Companies whose secret could not be read or rewritten, with why (never a secret value).
    pub failed: Vec<SecretFailure>,
}

/// A company [`drop_clear_inbound_secrets`] could not migrate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SecretFailure {
    pub company_id: String,
    pub error: String,
}

/// Rewrites every company secret that still holds the inbound client secret in clear (written
/// before the digest-only shape) to hold its digest only; see
/// [`Secrets::drop_clear_inbound_secret`]. One company's failure does not stop the others; it
/// is reported. Safe to repeat.
pub async fn drop_clear_inbound_secrets(
    store: &Store,
    secrets: &Secrets,
) -> Result<SecretsMigration, CompanyError> {
    let mut migration = SecretsMigration::default();
    for company in store.list_companies(None).await? {
        match secrets.drop_clear_inbound_secret(&company.company_id).await {
            Ok(true) => {
                tracing::info!(company_id = %company.company_id, "company secret rewritten digest-only");
                migration.rewritten.push(company.company_id);
            }
            Ok(false) => migration.unchanged += 1,
            Err(e) => migration.failed.push(SecretFailure {
                company_id: company.company_id,
                error: e.to_string(),
            }),
        }
    }
    Ok(migration)
}

/// Whether a company's Secrets Manager secret exists. Never reads its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SecretState {
    Present,
    Absent,
    /// Scheduled for deletion with a recovery window (a disabled company's; restorable until then).
    PendingDeletion,
}

/// One company as an operator sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CompanyDetails {
    pub company: CompanyRecord,
    pub secret_id: String,
    pub secret: SecretState,
    /// Stored access tokens that have not expired yet.
    pub live_tokens: usize,
}

/// The company's record, whether its secret exists and how many live tokens it has;
/// `None` when there is no such company.
pub async fn company_details(
    store: &Store,
    secrets: &Secrets,
    secrets_client: &aws_sdk_secretsmanager::Client,
    company_id: &str,
    now: DateTime<Utc>,
) -> Result<Option<CompanyDetails>, CompanyError> {
    let Some(company) = store.get_company(company_id).await? else {
        return Ok(None);
    };
    let secret_id = secrets.company_secret_id(company_id);
    let secret = secret_state(secrets_client, &secret_id).await?;
    let live_tokens = store.live_token_count(company_id, now).await?;
    Ok(Some(CompanyDetails {
        company,
        secret_id,
        secret,
        live_tokens,
    }))
}

/// `DescribeSecret` (metadata only, never the value).
pub async fn secret_state(
    client: &aws_sdk_secretsmanager::Client,
    secret_id: &str,
) -> Result<SecretState, SecretError> {
    match client.describe_secret().secret_id(secret_id).send().await {
        Ok(output) if output.deleted_date.is_some() => Ok(SecretState::PendingDeletion),
        Ok(_) => Ok(SecretState::Present),
        Err(e) if e.code() == Some("ResourceNotFoundException") => Ok(SecretState::Absent),
        Err(e) => Err(SecretError::Service(
            aws_smithy_types::error::display::DisplayErrorContext(&e).to_string(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_states_serialize_as_words() {
        assert_eq!(
            serde_json::to_value(SecretState::PendingDeletion).unwrap(),
            "PENDING_DELETION"
        );
        assert_eq!(
            serde_json::to_value(SecretState::Present).unwrap(),
            "PRESENT"
        );
    }
}
