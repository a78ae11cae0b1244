//! Disconnecting an SR company: the whole effect of SR's
//! `DELETE …/integrations/companies/{id}` once the caller is authorised, shared by that endpoint
//! and `connector companies disable`. It sits beside connecting (`super`), its inverse.

use chrono::{DateTime, Utc};

use crate::ids::CompanyId;
use crate::notifications::{EventKind, Notifications};
use crate::secrets::{SecretError, Secrets};
use crate::sr::{SrClient, SrClientError};
use crate::store::{CompanyRecord, CompanyStatus, EventRecord, Store, StoreError};

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
    /// A disable without a token could not be confirmed: SR's token endpoint was not reached.
    #[error("SmartRecruiters could not confirm the disable: {0}")]
    Unconfirmed(SrClientError),
}

/// What [`disable_company`] found and did.
#[derive(Debug, Clone, PartialEq)]
pub enum DisableOutcome {
    /// There is no company with this id; nothing changed.
    Unknown,
    /// The company was active: it is now `DISABLED`, its client record is gone, its access tokens
    /// revoked, its Secrets Manager secret scheduled for deletion, and a `company.disabled` event
    /// was recorded.
    Disabled {
        before: CompanyRecord,
        event: EventRecord,
    },
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
    company_id: &CompanyId,
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

/// A disable without a token (`DISABLE_REQUIRES_TOKEN=false`) is acted on only when SR
/// confirms it: SR stops accepting the company's SR credentials once it disabled the
/// integration, so a token request with them that SR refuses is the confirmation. While SR
/// still accepts them nothing changes. Unknown and already disabled companies need nothing.
/// SR unreachable is [`CompanyError::Unconfirmed`] (a 503, so SR retries).
pub async fn disable_if_sr_confirms(
    store: &Store,
    secrets: &Secrets,
    notifications: &Notifications,
    sr: &SrClient,
    company_id: &CompanyId,
) -> Result<(), CompanyError> {
    let active = store
        .get_company(company_id)
        .await?
        .is_some_and(|c| c.status == CompanyStatus::Active);
    if !active {
        return Ok(());
    }
    let credentials = match secrets.company_credentials(company_id).await {
        Ok(c) => c,
        Err(SecretError::NotFound(_)) => {
            tracing::warn!(company_id = %company_id, "disable without a token: the company has no credentials to confirm with SR; nothing changed");
            return Ok(());
        }
        Err(e) => return Err(e.into()),
    };
    match sr.credentials_accepted(&credentials.outbound).await {
        Ok(true) => {
            tracing::warn!(
                company_id = %company_id,
                "disable without a token refused: SR still accepts the company's credentials"
            );
            Ok(())
        }
        Ok(false) => {
            tracing::info!(
                company_id = %company_id,
                "SR refuses the company's credentials: the disable is confirmed"
            );
            disable_company(
                store,
                secrets,
                notifications,
                company_id,
                REASON_SMARTRECRUITERS,
                Utc::now(),
            )
            .await?;
            Ok(())
        }
        Err(e) => {
            tracing::warn!(company_id = %company_id, error = %e.for_log(), "disable without a token: SR could not confirm it");
            Err(CompanyError::Unconfirmed(e))
        }
    }
}

/// The `company.disabled` event of `company`.
pub fn disabled_event(company: &CompanyRecord, reason: &str, now: DateTime<Utc>) -> EventRecord {
    EventRecord {
        id: crate::auth::credentials::random_token(12),
        kind: EventKind::CompanyDisabled.as_str().into(),
        integration_id: company.integration_id.clone(),
        company_id: company.company_id.clone(),
        at: now,
        data: serde_json::json!({ "reason": reason }),
        webhook: None,
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
            connected_by: None,
        };
        let event = disabled_event(&company, REASON_OPERATOR, now);
        assert_eq!(event.kind, "company.disabled");
        assert_eq!(event.company_id, "acme");
        assert_eq!(event.integration_id, "acme-org");
        assert_eq!(event.at, now);
        assert_eq!(event.data["reason"], REASON_OPERATOR);
        assert_ne!(event.id, disabled_event(&company, REASON_OPERATOR, now).id);
    }
}
