//! The consent page's steps before the credential exchange (`super::Onboarding`): checking the
//! connect key an admin pasted, counting wrong keys, and the short session in which an admin
//! whose key names several organisations picks one. The page (`api::consent`) shows what
//! these answer; nothing here knows of HTML or HTTP.
//!
//! The `companyId` comes from the browser: what a key allows never depends on the company's
//! state, and wrong keys are counted per company and per client address without ever refusing a
//! valid key for others' failures.

use chrono::{DateTime, Utc};

use crate::auth::credentials::{hash_secret, random_token};
use crate::ids::CompanyId;
use crate::store::{ConsentSession, FailureCounter, Organisation, Store, StoreError};

/// Wrong connect keys per company and window after which wrong keys get a 429 (a valid key still
/// connects: others' guesses never lock the real admin out).
pub const MAX_COMPANY_FAILURES: u64 = 10;
/// Wrong connect keys per client address and window after which that address's wrong keys get
/// a 429, whichever companies they named. A valid key still connects: an address may be shared
/// (an office NAT, a mobile carrier), and an admin is never refused for a neighbour's guesses.
pub const MAX_ADDRESS_FAILURES: u64 = 20;
/// The window wrong keys are counted in, in seconds.
pub const FAILURE_WINDOW_SECONDS: i64 = 900;
/// How long an admin has to choose an organisation, in seconds.
pub const SESSION_SECONDS: i64 = 900;

/// What a presented connect key allows for a company.
#[derive(Debug, Clone, PartialEq)]
pub enum KeyCheck {
    /// Not a key, expired, or used already.
    Unusable,
    /// Minted for another SR company.
    OtherCompany,
    /// It names one organisation: connect the company to it now.
    Connect {
        key_digest: String,
        organisation: Organisation,
    },
    /// It names several: the admin picks one within `session` (returned once, stored as its
    /// digest, valid [`SESSION_SECONDS`]).
    Choose {
        session: String,
        organisations: Vec<Organisation>,
    },
}

/// Checks `key` (trimmed) for `company_id`; opens a session when the admin must choose an
/// organisation. Per check: GetItem, and PutItem for a session.
pub async fn check_key(
    store: &Store,
    company_id: &CompanyId,
    key: &str,
    now: DateTime<Utc>,
) -> Result<KeyCheck, StoreError> {
    let digest = hash_secret(key);
    let record = store
        .get_connect_key(&digest)
        .await
        .inspect_err(|e| tracing::error!(error = %e, "connect key lookup failed"))?
        .filter(|r| !key.is_empty() && r.usable(now));
    let Some(record) = record else {
        return Ok(KeyCheck::Unusable);
    };
    if !record.allows_company(company_id) {
        return Ok(KeyCheck::OtherCompany);
    }
    if let [only] = record.organisations.as_slice() {
        return Ok(KeyCheck::Connect {
            key_digest: digest,
            organisation: only.clone(),
        });
    }
    let session = random_token(24);
    let stored = ConsentSession {
        company_id: company_id.to_string(),
        key_digest: digest,
        organisations: record.organisations.clone(),
        expires_at: now.timestamp() + SESSION_SECONDS,
    };
    store
        .put_consent_session(&hash_secret(&session), &stored)
        .await
        .inspect_err(|e| tracing::error!(error = %e, "could not store the consent session"))?;
    Ok(KeyCheck::Choose {
        session,
        organisations: record.organisations,
    })
}

/// Whether wrong keys are still answered as such, or too many were tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WrongKeys {
    /// Below both limits: the admin may try again.
    Counted,
    /// More than [`MAX_ADDRESS_FAILURES`] from the client's address in the window.
    TooManyFromAddress(u64),
    /// More than [`MAX_COMPANY_FAILURES`] for the company in the window.
    TooManyForCompany(u64),
}

/// Counts a wrong key for the company and the client address (when known). A counter that
/// cannot be written is logged and reads as zero: counting never blocks the page.
pub async fn count_wrong_key(
    store: &Store,
    company_id: &CompanyId,
    address: Option<&str>,
    now: DateTime<Utc>,
) -> WrongKeys {
    let mut counters = vec![FailureCounter::Company(company_id)];
    counters.extend(address.map(FailureCounter::Address));
    let (mut company_failures, mut address_failures) = (0, 0);
    for counter in counters {
        match store
            .record_consent_failure(counter, FAILURE_WINDOW_SECONDS, now)
            .await
        {
            Ok(n) if matches!(counter, FailureCounter::Company(_)) => company_failures = n,
            Ok(n) => address_failures = n,
            Err(e) => tracing::error!(error = %e, "could not count a failed connect key"),
        }
    }
    tracing::info!(
        company_id = %company_id,
        "wrong, expired, used or misdirected connect key"
    );
    let verdict = if address_failures > MAX_ADDRESS_FAILURES {
        WrongKeys::TooManyFromAddress(address_failures)
    } else if company_failures > MAX_COMPANY_FAILURES {
        WrongKeys::TooManyForCompany(company_failures)
    } else {
        WrongKeys::Counted
    };
    let counted = match verdict {
        WrongKeys::TooManyFromAddress(failures) => Some(("from one address", failures)),
        WrongKeys::TooManyForCompany(failures) => Some(("for one company", failures)),
        WrongKeys::Counted => None,
    };
    if let Some((counted, failures)) = counted {
        tracing::warn!(company_id = %company_id, failures, counted, "many wrong connect keys");
    }
    verdict
}

/// The admin's open session for `company_id`, if `session` names one that has not expired.
pub async fn resume(
    store: &Store,
    company_id: &CompanyId,
    session: &str,
    now: DateTime<Utc>,
) -> Result<Option<ConsentSession>, StoreError> {
    Ok(store
        .get_consent_session(&hash_secret(session))
        .await
        .inspect_err(|e| tracing::error!(error = %e, "consent session lookup failed"))?
        .filter(|s| s.company_id == *company_id && s.expires_at > now.timestamp()))
}
