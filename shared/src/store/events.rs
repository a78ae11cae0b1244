//! Events the vendor can poll (`GET /assessment/events`): company connected or disabled.

use aws_sdk_dynamodb::types::AttributeValue;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{from_item, keys, to_item, Store, StoreError};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub integration_id: String,
    pub company_id: String,
    pub at: DateTime<Utc>,
    #[serde(default)]
    pub data: serde_json::Value,
}

#[derive(Debug)]
pub struct EventPage {
    pub events: Vec<Event>,
    pub next: Option<String>,
}

impl Store {
    pub async fn put_event(&self, event: &Event) -> Result<(), StoreError> {
        let item = to_item(
            event,
            keys::event(&event.integration_id, event.at, &event.id),
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

    /// Oldest first; the cursor is the sort key of the last event returned.
    pub async fn list_events(
        &self,
        integration_id: &str,
        cursor: Option<&str>,
        page_size: usize,
    ) -> Result<EventPage, StoreError> {
        let (pk, _) = keys::event(integration_id, Utc::now(), "");
        let after = match cursor {
            Some(c) => Some(
                URL_SAFE_NO_PAD
                    .decode(c)
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok())
                    .filter(|sk| sk.starts_with("EVENT#"))
                    .ok_or(StoreError::Corrupt {
                        key: "cursor".into(),
                        reason: "not an event cursor".into(),
                    })?,
            ),
            None => None,
        };
        let mut query = self
            .db
            .query()
            .table_name(&self.table)
            .expression_attribute_values(":pk", AttributeValue::S(pk))
            .limit(page_size as i32);
        query = match &after {
            Some(sk) => query
                .key_condition_expression("pk = :pk AND sk > :after")
                .expression_attribute_values(":after", AttributeValue::S(sk.clone())),
            None => query
                .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                .expression_attribute_values(":prefix", AttributeValue::S("EVENT#".into())),
        };
        let output = query.send().await.map_err(StoreError::service)?;
        let items = output.items.unwrap_or_default();
        let last_sk = items
            .last()
            .and_then(|i| i.get(keys::SK))
            .and_then(|v| v.as_s().ok())
            .cloned();
        let events = items
            .into_iter()
            .map(from_item)
            .collect::<Result<Vec<Event>, _>>()?;
        let next = match (output.last_evaluated_key, last_sk) {
            (Some(_), Some(sk)) => Some(URL_SAFE_NO_PAD.encode(sk)),
            _ => None,
        };
        Ok(EventPage { events, next })
    }
}
