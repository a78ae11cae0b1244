//! Queries for operators (`connector companies …`): whole-table views no Lambda needs.
//!
//! Listing companies is a Scan filtered on the profile items. That reads the whole table, which is
//! fine for an occasional operator command and avoids an index that only the CLI would use.

use aws_sdk_dynamodb::types::{AttributeValue, Select};
use chrono::{DateTime, Utc};

use super::{from_item, keys, CompanyRecord, CompanyStatus, Store, StoreError};

/// The sort key every company profile item has (`COMPANY#{id}` / `PROFILE`).
const PROFILE: &str = "PROFILE";
const COMPANY_PREFIX: &str = "COMPANY#";

fn status_value(status: CompanyStatus) -> &'static str {
    match status {
        CompanyStatus::Active => "ACTIVE",
        CompanyStatus::Disabled => "DISABLED",
    }
}

impl Store {
    /// Every company (optionally only those in `status`), ordered by company id. Follows the
    /// Scan's pagination to the end.
    pub async fn list_companies(
        &self,
        status: Option<CompanyStatus>,
    ) -> Result<Vec<CompanyRecord>, StoreError> {
        let mut filter = "sk = :profile AND begins_with(pk, :company)".to_string();
        if status.is_some() {
            filter.push_str(" AND #status = :status");
        }
        let mut companies = Vec::new();
        let mut start = None;
        loop {
            let mut scan = self
                .db
                .scan()
                .table_name(&self.table)
                .filter_expression(&filter)
                .expression_attribute_values(":profile", AttributeValue::S(PROFILE.into()))
                .expression_attribute_values(":company", AttributeValue::S(COMPANY_PREFIX.into()))
                .set_exclusive_start_key(start.take())
                .consistent_read(true);
            if let Some(status) = status {
                scan = scan
                    .expression_attribute_names("#status", "status")
                    .expression_attribute_values(
                        ":status",
                        AttributeValue::S(status_value(status).into()),
                    );
            }
            let output = scan.send().await.map_err(StoreError::service)?;
            for item in output.items.unwrap_or_default() {
                companies.push(from_item::<CompanyRecord>(item)?);
            }
            match output.last_evaluated_key.filter(|k| !k.is_empty()) {
                Some(key) => start = Some(key),
                None => break,
            }
        }
        companies.sort_by(|a, b| a.company_id.cmp(&b.company_id));
        Ok(companies)
    }

    /// How many access tokens of the company are stored, not revoked and not yet expired at `now`
    /// (tokens are revoked on disable, and deleted by DynamoDB's TTL some time after they expire).
    pub async fn live_token_count(
        &self,
        company_id: &str,
        now: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        let (pk, _) = keys::company(company_id);
        let mut count = 0usize;
        let mut start = None;
        loop {
            let output = self
                .db
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND begins_with(sk, :token)")
                .filter_expression("#expires > :now AND attribute_not_exists(revoked_at)")
                .expression_attribute_names("#expires", keys::EXPIRES_AT)
                .expression_attribute_values(":pk", AttributeValue::S(pk.clone()))
                .expression_attribute_values(":token", AttributeValue::S("TOKEN#".into()))
                .expression_attribute_values(":now", AttributeValue::N(now.timestamp().to_string()))
                .select(Select::Count)
                .set_exclusive_start_key(start.take())
                .consistent_read(true)
                .send()
                .await
                .map_err(StoreError::service)?;
            count += usize::try_from(output.count).unwrap_or_default();
            match output.last_evaluated_key.filter(|k| !k.is_empty()) {
                Some(key) => start = Some(key),
                None => return Ok(count),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_values_match_the_stored_spelling() {
        for status in [CompanyStatus::Active, CompanyStatus::Disabled] {
            assert_eq!(
                serde_json::to_value(status).unwrap(),
                serde_json::Value::String(status_value(status).into())
            );
        }
    }
}
