//! Companies (SR customers), the client credentials SR uses for them, and issued access tokens.

use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, Put, TransactWriteItem};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{from_item, key_of, keys, to_item, Store, StoreError};
use crate::auth::access_tokens::TokenClaims;
use crate::packages::Catalog;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CompanyStatus {
    Active,
    Disabled,
}

/// An SR company connected to one vendor integration (the vendor's customer organisation).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompanyRecord {
    pub company_id: String,
    pub integration_id: String,
    pub status: CompanyStatus,
    /// The client id SR presents for this company (the secret is only in Secrets Manager).
    pub client_id: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Who gave consent, when they signed in with the vendor's identity provider (absent for a
    /// connect key: the key's holder is not known by name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connected_by: Option<ConnectedBy>,
}

/// The vendor user who connected a company through OpenID Connect sign-in: the ID token's `sub`
/// and `email` (only when `email_verified`) claims, and when consent was given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectedBy {
    /// The ID token's `sub` (unique per issuer).
    pub subject: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    pub at: DateTime<Utc>,
}

/// Looks up the company behind a client id at the token endpoint without a Secrets Manager call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClientRecord {
    pub client_id: String,
    pub company_id: String,
    pub integration_id: String,
    /// SHA-256 of the client secret; see `auth::credentials` for why a digest suffices.
    pub secret_sha256: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenRecord {
    pub company_id: String,
    pub integration_id: String,
    pub issued_at: DateTime<Utc>,
    /// Epoch seconds; also the table's TTL attribute.
    pub expires_at: i64,
    /// Set when the company was disabled: the token no longer works, but its record stays until
    /// it expires, so SR repeating its disable call with it is recognised as SR (see
    /// `api::partner`), while a forged token is not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<DateTime<Utc>>,
}

impl TokenRecord {
    pub fn is_valid_for(&self, claims: &TokenClaims, now: DateTime<Utc>) -> bool {
        self.issued_to(claims) && self.revoked_at.is_none() && self.expires_at > now.timestamp()
    }

    /// Whether this record is the one of a token issued for `claims`' company and integration
    /// and then revoked by a disable.
    pub fn revoked_for(&self, claims: &TokenClaims) -> bool {
        self.issued_to(claims) && self.revoked_at.is_some()
    }

    fn issued_to(&self, claims: &TokenClaims) -> bool {
        self.company_id == claims.company_id && self.integration_id == claims.integration_id
    }
}

impl Store {
    /// Writes a connected company and its client record together (both or neither).
    pub async fn put_company(
        &self,
        company: &CompanyRecord,
        client: &ClientRecord,
    ) -> Result<(), StoreError> {
        let put = |item| {
            TransactWriteItem::builder()
                .put(
                    Put::builder()
                        .table_name(&self.table)
                        .set_item(Some(item))
                        .build()
                        .expect("table and item are set"),
                )
                .build()
        };
        self.db
            .transact_write_items()
            .transact_items(put(to_item(company, keys::company(&company.company_id))))
            .transact_items(put(to_item(client, keys::client(&client.client_id))))
            .send()
            .await
            .map_err(StoreError::service)?;
        Ok(())
    }

    pub async fn get_company(&self, company_id: &str) -> Result<Option<CompanyRecord>, StoreError> {
        self.get(keys::company(company_id), true).await
    }

    pub async fn get_client(&self, client_id: &str) -> Result<Option<ClientRecord>, StoreError> {
        self.get(keys::client(client_id), false).await
    }

    pub(crate) async fn get<T: serde::de::DeserializeOwned>(
        &self,
        key: (String, String),
        consistent: bool,
    ) -> Result<Option<T>, StoreError> {
        self.get_item(key, consistent)
            .await?
            .map(from_item)
            .transpose()
    }

    /// The item at `key` as stored (one `GetItem`).
    pub(crate) async fn get_item(
        &self,
        key: (String, String),
        consistent: bool,
    ) -> Result<Option<super::Item>, StoreError> {
        let output = self
            .db
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key_of(key)))
            .consistent_read(consistent)
            .send()
            .await
            .map_err(StoreError::service)?;
        Ok(output.item)
    }

    /// Stores a token record only while the company is ACTIVE and still uses `client_id`, in one
    /// transaction, so a token cannot be issued for a company that is being disabled.
    /// Returns false when the company is not (or no longer) active for that client.
    pub async fn put_token(
        &self,
        digest: &str,
        token: &TokenRecord,
        client_id: &str,
    ) -> Result<bool, StoreError> {
        let mut item = to_item(token, keys::token(&token.company_id, digest));
        item.insert(
            keys::EXPIRES_AT.into(),
            AttributeValue::N(token.expires_at.to_string()),
        );
        let check = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(key_of(keys::company(&token.company_id))))
            .condition_expression("#status = :active AND client_id = :client")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":active", AttributeValue::S("ACTIVE".into()))
            .expression_attribute_values(":client", AttributeValue::S(client_id.into()))
            .build()
            .expect("condition check is complete");
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .build()
            .expect("put is complete");
        let result = self
            .db
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().condition_check(check).build())
            .transact_items(TransactWriteItem::builder().put(put).build())
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) => {
                let cancelled = e
                    .as_service_error()
                    .map(|s| s.is_transaction_canceled_exception())
                    .unwrap_or(false);
                if cancelled {
                    Ok(false)
                } else {
                    Err(StoreError::service(e))
                }
            }
        }
    }

    /// The token's record and its integration's catalog in ONE round trip (BatchGetItem).
    /// Strongly consistent, so a token works the instant it was issued.
    pub async fn token_and_catalog(
        &self,
        claims: &TokenClaims,
    ) -> Result<(Option<TokenRecord>, Option<Catalog>), StoreError> {
        let token_key = keys::token(&claims.company_id, &claims.digest);
        let catalog_key = keys::catalog(&claims.integration_id);
        let items = self
            .batch_get(vec![key_of(token_key.clone()), key_of(catalog_key)])
            .await?;
        let mut token = None;
        let mut catalog = None;
        for item in items {
            let is_token =
                matches!(item.get(keys::SK), Some(AttributeValue::S(sk)) if *sk == token_key.1);
            if is_token {
                token = Some(from_item(item)?);
            } else {
                catalog = Some(from_item(item)?);
            }
        }
        Ok((token, catalog))
    }
}
