//! Companies: what an operator sees of one, and disabling one.
//!
//! [`disable_company`] is the whole effect of SR's `DELETE …/integrations/companies/{id}` once the
//! caller is authorised, shared by that endpoint and `connector companies disable`.

use aws_sdk_secretsmanager::error::ProvideErrorMetadata;
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::http::ApiError;
use crate::notifications::Notifications;
use crate::secrets::{SecretError, Secrets};
use crate::store::{CompanyRecord, CompanyStatus, Event, Store, StoreError};

/// The event type the vendor sees in `GET /assessment/events`.
pub const DISABLED_EVENT: &str = "company.disabled";
/// `reason` of the event when SR disabled the integration.
pub const REASON_SMARTRECRUITERS: &str = "SmartRecruiters disabled the integration";
/// `reason` of the event when an operator did, with `connector companies disable`.
pub const REASON_OPERATOR: &str = "an operator disabled the integration";

#[derive(Debug, thiserror::Error)]
pub enum CompanyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Secret(#[from] SecretError),
}

/// An HTTP entry point answers dependency failures as its other handlers do (503, or 409 for a
/// concurrent change), so `?` works on [`disable_company`] in a handler.
impl From<CompanyError> for ApiError {
    fn from(error: CompanyError) -> Self {
        match error {
            CompanyError::Store(e) => e.into(),
            CompanyError::Secret(e) => e.into(),
        }
    }
}

/// What [`disable_company`] found and did.
#[derive(Debug, Clone, PartialEq)]
pub enum DisableOutcome {
    /// There is no company with this id; nothing changed.
    Unknown,
    /// The company was active: it is now `DISABLED`, its client record is gone, its access tokens
    /// revoked, its Secrets Manager secret scheduled for deletion, and a `company.disabled` event
    /// was recorded.
    Disabled { before: CompanyRecord, event: Event },
    /// It was disabled already. Client record, tokens and secret were removed again (a no-op
    /// unless an earlier attempt failed half-way); no second event.
    AlreadyDisabled { before: CompanyRecord },
}

/// Disables a company at once: status `DISABLED` with its client record deleted and every access
/// token revoked (tokens stop working immediately), its secret scheduled for deletion after the
/// recovery window (`secrets::RECOVERY_WINDOW_DAYS`; it reads as absent meanwhile), and
/// — only on the transition from `ACTIVE` — a `company.disabled` event carrying `reason`,
/// recorded and queued as a webhook through `notifications`.
/// Orders stay readable for the vendor. Safe to repeat, which is also how a failure half-way
/// is repaired.
pub async fn disable_company(
    store: &Store,
    secrets: &Secrets,
    notifications: &Notifications,
    company_id: &str,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<DisableOutcome, CompanyError> {
    let Some(before) = store.disable_company(company_id, now).await? else {
        return Ok(DisableOutcome::Unknown);
    };
    secrets.delete_company_credentials(company_id).await?;
    if before.status == CompanyStatus::Disabled {
        return Ok(DisableOutcome::AlreadyDisabled { before });
    }
    // A repeat answers AlreadyDisabled and emits nothing, so a queue failure is not worth
    // failing the disable over: the event stays recorded and listable.
    let event = notifications
        .emit_recorded(disabled_event(&before, reason, now))
        .await?;
    tracing::info!(company_id = %company_id, integration_id = %before.integration_id, reason, "integration disabled");
    Ok(DisableOutcome::Disabled { before, event })
}

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

/// The `company.disabled` event of `company`.
pub fn disabled_event(company: &CompanyRecord, reason: &str, now: DateTime<Utc>) -> Event {
    Event {
        id: crate::auth::credentials::random_token(12),
        kind: DISABLED_EVENT.into(),
        integration_id: company.integration_id.clone(),
        company_id: company.company_id.clone(),
        at: now,
        data: serde_json::json!({ "reason": reason }),
        webhook: None,
    }
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
    fn the_event_names_company_integration_and_reason() {
        let now = Utc::now();
        let company = CompanyRecord {
            company_id: "acme".into(),
            integration_id: "acme-org".into(),
            status: CompanyStatus::Active,
            client_id: "src_x".into(),
            created_at: now,
            updated_at: now,
        };
        let event = disabled_event(&company, REASON_OPERATOR, now);
        assert_eq!(event.kind, "company.disabled");
        assert_eq!(event.company_id, "acme");
        assert_eq!(event.integration_id, "acme-org");
        assert_eq!(event.at, now);
        assert_eq!(event.data["reason"], REASON_OPERATOR);
        assert_ne!(event.id, disabled_event(&company, REASON_OPERATOR, now).id);
    }

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
