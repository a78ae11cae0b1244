//! The connection lifecycle's items: one-time connect keys (claimed atomically while a company is
//! being connected), consent sessions (the organisation choice step), counters of failed key
//! attempts per company and per client address, and disabling a company.

use aws_sdk_dynamodb::types::{
    AttributeValue, DeleteRequest, PutRequest, ReturnValue, WriteRequest,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{from_item, key_of, keys, to_item, to_value, written, Store, StoreError};
use crate::store::CompanyRecord;

/// A vendor organisation (the vendor-side id is the vendor API's `X-Integration-Id`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Organisation {
    pub id: String,
    pub name: String,
}

/// A one-time key the vendor hands its customer; stored by digest only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectKeyRecord {
    pub organisations: Vec<Organisation>,
    /// The SR company the vendor minted the key for: no other company can use it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: i64,
    /// Absent (not NULL) until used: the claim condition is `attribute_not_exists(used_at)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub used_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub used_by_company: Option<String>,
    /// While a company is being connected with the key: who claimed it, and until when (epoch
    /// seconds) the claim holds if its holder never releases it (a Lambda that died mid-way).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claimed_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claimed_until: Option<i64>,
}

impl ConnectKeyRecord {
    /// Not used and not expired (it may still be claimed by a connection under way).
    pub fn usable(&self, now: DateTime<Utc>) -> bool {
        self.used_at.is_none() && self.expires_at > now.timestamp()
    }

    /// Whether `company_id` may use the key: any company, unless the vendor bound it to one.
    pub fn allows_company(&self, company_id: &str) -> bool {
        self.company_id
            .as_deref()
            .is_none_or(|bound| bound == company_id)
    }
}

/// Whose failed connect-key attempts a counter counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureCounter<'a> {
    /// Wrong keys presented for one SR company (by anyone).
    Company(&'a str),
    /// Wrong keys presented from one client address (for any company).
    Address(&'a str),
}

impl FailureCounter<'_> {
    fn key(self, bucket: i64) -> (String, String) {
        match self {
            Self::Company(id) => keys::consent_failures(id, bucket),
            Self::Address(address) => keys::consent_address_failures(address, bucket),
        }
    }
}

/// How long a claim on a connect key holds when its holder never releases or consumes it; well
/// above the consent function's timeout, so a live claim never lapses under its holder.
pub const KEY_CLAIM_SECONDS: i64 = 120;

/// Between "key accepted" and "organisation chosen": the page carries only the session id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConsentSession {
    pub company_id: String,
    pub key_digest: String,
    pub organisations: Vec<Organisation>,
    pub expires_at: i64,
}

/// An OpenID Connect sign-in under way (between the redirect to the identity provider and its
/// callback), stored by the digest of its `state` and consumed once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignInState {
    pub company_id: String,
    /// SR's REDIRECT-mode return address, when SR sent one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect: Option<String>,
    /// The PKCE verifier (RFC 7636) whose S256 challenge went to the identity provider.
    pub pkce_verifier: String,
    /// The `nonce` the ID token must carry.
    pub nonce: String,
    /// Digest of the browser-binding cookie: a `state` presented by another browser is refused.
    pub browser_digest: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: i64,
}

/// An admin signed in with the vendor's identity provider, until they give consent: who they
/// are and which organisations they may connect. Stored by the digest of its cookie.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignedInSession {
    pub company_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect: Option<String>,
    pub subject: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    pub organisations: Vec<Organisation>,
    pub expires_at: i64,
}

fn with_ttl(mut item: super::Item, expires_at: i64) -> super::Item {
    item.insert(
        keys::EXPIRES_AT.into(),
        AttributeValue::N(expires_at.to_string()),
    );
    item
}

impl Store {
    pub async fn put_connect_key(
        &self,
        digest: &str,
        record: &ConnectKeyRecord,
    ) -> Result<(), StoreError> {
        let item = with_ttl(
            to_item(record, keys::connect_key(digest)),
            record.expires_at,
        );
        self.db
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(StoreError::service)?;
        Ok(())
    }

    pub async fn get_connect_key(
        &self,
        digest: &str,
    ) -> Result<Option<ConnectKeyRecord>, StoreError> {
        self.get(keys::connect_key(digest), true).await
    }

    /// Claims the key for `company_id` before SR is called, in one conditional write: only an
    /// unused, unexpired key that is not claimed by a connection under way, and bound to no other
    /// company, can be claimed, so one key never connects two companies, even concurrently. A
    /// claim that lapsed (its holder died, perhaps after SR integrated its company) is taken over
    /// only for the same company: the key may already have connected that one.
    /// `claim_id` identifies this claim to [`Self::release_connect_key`] and
    /// [`Self::consume_connect_key`]. False when the key cannot be claimed.
    pub async fn claim_connect_key(
        &self,
        digest: &str,
        company_id: &str,
        claim_id: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.update_connect_key(
            digest,
            "SET claimed_by = :company, claim_id = :claim, claimed_until = :until",
            "attribute_exists(pk) AND attribute_not_exists(used_at) AND expires_at > :epoch \
             AND (attribute_not_exists(claimed_until) \
                  OR (claimed_until < :epoch AND claimed_by = :company)) \
             AND (attribute_not_exists(company_id) OR company_id = :company)",
            [
                (":company", AttributeValue::S(company_id.into())),
                (":claim", AttributeValue::S(claim_id.into())),
                (
                    ":until",
                    AttributeValue::N((now.timestamp() + KEY_CLAIM_SECONDS).to_string()),
                ),
                (":epoch", AttributeValue::N(now.timestamp().to_string())),
            ],
        )
        .await
    }

    /// Gives a claimed key back (SR refused, or the connection failed), so a retry can use it.
    /// False when the claim is no longer this one's.
    pub async fn release_connect_key(
        &self,
        digest: &str,
        claim_id: &str,
    ) -> Result<bool, StoreError> {
        self.update_connect_key(
            digest,
            "REMOVE claimed_by, claim_id, claimed_until",
            "claim_id = :claim",
            [(":claim", AttributeValue::S(claim_id.into()))],
        )
        .await
    }

    /// Marks a claimed key used by `company_id` once it is connected. False when the claim is no
    /// longer this one's (it lapsed and another connection took the key).
    pub async fn consume_connect_key(
        &self,
        digest: &str,
        company_id: &str,
        claim_id: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.update_connect_key(
            digest,
            "SET used_at = :now, used_by_company = :company \
             REMOVE claimed_by, claim_id, claimed_until",
            "claim_id = :claim",
            [
                (":now", to_value(&now)),
                (":company", AttributeValue::S(company_id.into())),
                (":claim", AttributeValue::S(claim_id.into())),
            ],
        )
        .await
    }

    /// One conditional update of a connect key; false when `condition` did not hold.
    async fn update_connect_key<const N: usize>(
        &self,
        digest: &str,
        update: &str,
        condition: &str,
        values: [(&str, AttributeValue); N],
    ) -> Result<bool, StoreError> {
        let mut request = self
            .db
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_of(keys::connect_key(digest))))
            .update_expression(update)
            .condition_expression(condition);
        for (name, value) in values {
            request = request.expression_attribute_values(name, value);
        }
        written(request.send().await)
    }

    pub async fn put_consent_session(
        &self,
        id_digest: &str,
        session: &ConsentSession,
    ) -> Result<(), StoreError> {
        let item = with_ttl(
            to_item(session, keys::consent_session(id_digest)),
            session.expires_at,
        );
        self.db
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(StoreError::service)?;
        Ok(())
    }

    pub async fn get_consent_session(
        &self,
        id_digest: &str,
    ) -> Result<Option<ConsentSession>, StoreError> {
        self.get(keys::consent_session(id_digest), true).await
    }

    pub async fn put_sign_in_state(
        &self,
        state_digest: &str,
        state: &SignInState,
    ) -> Result<(), StoreError> {
        let item = with_ttl(
            to_item(state, keys::sign_in_state(state_digest)),
            state.expires_at,
        );
        self.put_new(item).await
    }

    /// Takes the sign-in state out (a conditional delete): a `state` works once, so a replayed
    /// callback finds nothing. `None` when there is no such state (never issued, or used).
    pub async fn take_sign_in_state(
        &self,
        state_digest: &str,
    ) -> Result<Option<SignInState>, StoreError> {
        self.take(keys::sign_in_state(state_digest)).await
    }

    pub async fn put_signed_in_session(
        &self,
        digest: &str,
        session: &SignedInSession,
    ) -> Result<(), StoreError> {
        let item = with_ttl(
            to_item(session, keys::signed_in_session(digest)),
            session.expires_at,
        );
        self.put_new(item).await
    }

    pub async fn get_signed_in_session(
        &self,
        digest: &str,
    ) -> Result<Option<SignedInSession>, StoreError> {
        self.get(keys::signed_in_session(digest), true).await
    }

    /// Takes the signed-in session out once consent is given: one sign-in connects once.
    pub async fn take_signed_in_session(
        &self,
        digest: &str,
    ) -> Result<Option<SignedInSession>, StoreError> {
        self.take(keys::signed_in_session(digest)).await
    }

    /// PutItem of an item whose key is random (never overwrites one).
    async fn put_new(&self, item: super::Item) -> Result<(), StoreError> {
        self.db
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
            .map_err(StoreError::service)?;
        Ok(())
    }

    /// Deletes an item if it exists and answers it as it was: of two concurrent takes, one gets
    /// the item and the other `None`.
    async fn take<T: serde::de::DeserializeOwned>(
        &self,
        key: (String, String),
    ) -> Result<Option<T>, StoreError> {
        let result = self
            .db
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key_of(key)))
            .condition_expression("attribute_exists(pk)")
            .return_values(ReturnValue::AllOld)
            .send()
            .await;
        match result {
            Ok(output) => Ok(Some(from_item(output.attributes.unwrap_or_default())?)),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(None)
            }
            Err(e) => Err(StoreError::service(e)),
        }
    }

    /// Counts one failed attempt and answers the count; the counter expires with its window.
    pub async fn record_consent_failure(
        &self,
        counter: FailureCounter<'_>,
        window: i64,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let bucket = now.timestamp() / window;
        let output = self
            .db
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_of(counter.key(bucket))))
            .update_expression("ADD failures :one SET expires_at = :expires")
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .expression_attribute_values(
                ":expires",
                AttributeValue::N(((bucket + 2) * window).to_string()),
            )
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(StoreError::service)?;
        Ok(output
            .attributes
            .and_then(|a| {
                a.get("failures")
                    .and_then(|v| v.as_n().ok())
                    .and_then(|n| n.parse().ok())
            })
            .unwrap_or(1))
    }

    /// Disables the company at once: status DISABLED, its client record deleted and every access
    /// token revoked (no token keeps working; the revoked records stay until their TTL, so SR's
    /// repeated disable call with its token is recognised). Returns the company as it was,
    /// `None` if unknown.
    pub async fn disable_company(
        &self,
        company_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<CompanyRecord>, StoreError> {
        let result = self
            .db
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_of(keys::company(company_id))))
            .update_expression("SET #status = :disabled, updated_at = :now")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":disabled", AttributeValue::S("DISABLED".into()))
            .expression_attribute_values(":now", to_value(&now))
            .return_values(ReturnValue::AllOld)
            .send()
            .await;
        let before: CompanyRecord = match result {
            Ok(output) => from_item(output.attributes.unwrap_or_default())?,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                return Ok(None)
            }
            Err(e) => return Err(StoreError::service(e)),
        };
        let client = WriteRequest::builder()
            .delete_request(
                DeleteRequest::builder()
                    .set_key(Some(key_of(keys::client(&before.client_id))))
                    .build()
                    .expect("key is set"),
            )
            .build();
        let mut writes = vec![client];
        for mut token in self.live_token_items(company_id).await? {
            token.insert("revoked_at".into(), to_value(&now));
            writes.push(
                WriteRequest::builder()
                    .put_request(
                        PutRequest::builder()
                            .set_item(Some(token))
                            .build()
                            .expect("item is set"),
                    )
                    .build(),
            );
        }
        for chunk in writes.chunks(25) {
            let requests = chunk.to_vec();
            let mut pending = Some(std::collections::HashMap::from([(
                self.table.clone(),
                requests,
            )]));
            for _ in 0..5 {
                let Some(items) = pending.take().filter(|m| !m.is_empty()) else {
                    break;
                };
                let output = self
                    .db
                    .batch_write_item()
                    .set_request_items(Some(items))
                    .send()
                    .await
                    .map_err(StoreError::service)?;
                pending = output.unprocessed_items;
            }
            if pending.is_some_and(|m| !m.is_empty()) {
                return Err(StoreError::Service(
                    "BatchWriteItem left deletions unprocessed".into(),
                ));
            }
        }
        Ok(Some(before))
    }

    /// The company's token items not revoked yet (whole items: they are written back revoked).
    async fn live_token_items(&self, company_id: &str) -> Result<Vec<super::Item>, StoreError> {
        let (pk, _) = keys::company(company_id);
        let mut keys_found = Vec::new();
        let mut start = None;
        loop {
            let output = self
                .db
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND begins_with(sk, :token)")
                .filter_expression("attribute_not_exists(revoked_at)")
                .expression_attribute_values(":pk", AttributeValue::S(pk.clone()))
                .expression_attribute_values(":token", AttributeValue::S("TOKEN#".into()))
                .set_exclusive_start_key(start.take())
                .consistent_read(true)
                .send()
                .await
                .map_err(StoreError::service)?;
            keys_found.extend(output.items.unwrap_or_default());
            match output.last_evaluated_key {
                Some(key) => start = Some(key),
                None => return Ok(keys_found),
            }
        }
    }
}
