//! The baseline of warm latency: a `lambda_http` function that makes the same DynamoDB calls as
//! one partner endpoint — same operations, same keys, items of similar size, through the same
//! SDK/TLS setup (`connector::aws`) — and does nothing else: no token parsing or validation, no
//! (de)serialization of domain types, a constant answer. Our handler's latency divided by this
//! one's is our own overhead.
//!
//! `BASELINE_MODE` picks the endpoint; the keys come from the environment the harness sets:
//!
//! | mode     | calls                                                            |
//! |----------|------------------------------------------------------------------|
//! | `token`  | GetItem client, TransactWriteItems (condition check + put token) |
//! | `list`   | BatchGetItem token + catalog                                     |
//! | `get`    | BatchGetItem token + catalog                                     |
//! | `order`  | TransactWriteItems: check token, check catalog version, put order|
//! | `inline` | TransactWriteItems: check token, check catalog version, put order|
//!
//! An order's baseline is the minimum the issue sets (one AWS call per order), which is also the
//! connector's own order path (the enrichment starts from the table's stream).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, KeysAndAttributes, Put, TransactWriteItem,
};
use connector::aws::AwsClients;
use lambda_http::{run, service_fn, Body, Error, Request, Response};

type Item = HashMap<String, AttributeValue>;

struct Baseline {
    db: aws_sdk_dynamodb::Client,
    table: String,
    mode: String,
    company_id: String,
    integration_id: String,
    token_digest: String,
    client_id: String,
    counter: AtomicU64,
}

fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_string())
}

fn key(pk: String, sk: &str) -> Item {
    HashMap::from([("pk".to_string(), s(&pk)), ("sk".to_string(), s(sk))])
}

impl Baseline {
    async fn from_env() -> Result<Self, Error> {
        let var = |name: &str| std::env::var(name).map_err(|_| format!("{name} is not set"));
        let aws = AwsClients::from_env().await;
        Ok(Self {
            db: aws.dynamodb,
            table: var("TABLE_NAME")?,
            mode: var("BASELINE_MODE")?,
            company_id: var("BASELINE_COMPANY_ID")?,
            integration_id: var("BASELINE_INTEGRATION_ID")?,
            token_digest: var("BASELINE_TOKEN_DIGEST")?,
            client_id: var("BASELINE_CLIENT_ID")?,
            counter: AtomicU64::new(0),
        })
    }

    /// A key no other call used (order ids, token digests).
    fn fresh(&self) -> String {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        format!("baseline-{}-{nanos:x}-{n}", std::process::id())
    }

    async fn handle(&self, request: Request) -> Result<Response<Body>, Error> {
        let (status, body) = match self.mode.as_str() {
            "token" => {
                self.get_client().await?;
                self.put_token().await?;
                (
                    200,
                    r#"{"access_token":"baseline","token_type":"Bearer","expires_in":900}"#,
                )
            }
            "list" | "get" => {
                self.token_and_catalog().await?;
                (200, "[]")
            }
            "order" | "inline" => {
                self.put_order_checked(&request).await?;
                if self.mode == "order" {
                    (202, "{}")
                } else {
                    (200, r#"{"url":"https://vendor.example.com/baseline"}"#)
                }
            }
            other => return Err(format!("unknown BASELINE_MODE {other}").into()),
        };
        Ok(Response::builder()
            .status(status)
            .header("content-type", "application/json")
            .body(Body::Text(body.to_string()))?)
    }

    async fn get_client(&self) -> Result<(), Error> {
        self.db
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(format!("CLIENT#{}", self.client_id), "CLIENT")))
            .send()
            .await?;
        Ok(())
    }

    async fn put_token(&self) -> Result<(), Error> {
        let now = chrono::Utc::now();
        let mut item = key(
            format!("COMPANY#{}", self.company_id),
            &format!("TOKEN#{}", self.fresh()),
        );
        item.insert("company_id".into(), s(&self.company_id));
        item.insert("integration_id".into(), s(&self.integration_id));
        item.insert("issued_at".into(), s(&now.to_rfc3339()));
        let expires = (now.timestamp() + 900).to_string();
        item.insert("expires_at".into(), AttributeValue::N(expires));
        let check = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(key(format!("COMPANY#{}", self.company_id), "PROFILE")))
            .condition_expression("#status = :active AND client_id = :client")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":active", s("ACTIVE"))
            .expression_attribute_values(":client", s(&self.client_id))
            .build()?;
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .build()?;
        self.db
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().condition_check(check).build())
            .transact_items(TransactWriteItem::builder().put(put).build())
            .send()
            .await?;
        Ok(())
    }

    async fn token_and_catalog(&self) -> Result<(), Error> {
        let keys = KeysAndAttributes::builder()
            .keys(key(
                format!("COMPANY#{}", self.company_id),
                &format!("TOKEN#{}", self.token_digest),
            ))
            .keys(key(
                format!("INTEGRATION#{}", self.integration_id),
                "CATALOG",
            ))
            .consistent_read(true)
            .build()?;
        self.db
            .batch_get_item()
            .request_items(&self.table, keys)
            .send()
            .await?;
        Ok(())
    }

    /// The order item with the request body as its nested attributes (the real item's size and
    /// shape: an emulator's time per write grows with the attributes it converts), put with
    /// `attribute_not_exists(pk)` in one transaction that checks the token's item and the
    /// catalog's version item, as the real order write (`Store::put_order_checked`).
    async fn put_order_checked(&self, request: &Request) -> Result<(), Error> {
        let id = self.fresh();
        let body = match request.body() {
            Body::Text(text) => text.clone(),
            Body::Binary(bytes) => String::from_utf8_lossy(bytes).into_owned(),
            _ => String::new(),
        };
        let now = chrono::Utc::now().to_rfc3339();
        // Not the sort key of an order (`ORDER`): the table's stream forwards new order items to
        // the enrichment, and these are not orders. Same size, same cost.
        let mut item = key(format!("ORDER#{id}"), "BASELINE");
        item.insert("order_id".into(), s(&id));
        item.insert("company_id".into(), s(&self.company_id));
        item.insert("integration_id".into(), s(&self.integration_id));
        let request = serde_json::from_str::<serde_json::Value>(&body)
            .ok()
            .and_then(|json| serde_dynamo::to_attribute_value(json).ok())
            .unwrap_or_else(|| s(&body));
        item.insert("request".into(), request);
        item.insert("created_at".into(), s(&now));
        item.insert(
            "gsi2pk".into(),
            s(&format!("INTEGRATION#{}#ORDERS", self.integration_id)),
        );
        item.insert("gsi2sk".into(), s(&format!("{now}#{id}")));
        let token = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(key(
                format!("COMPANY#{}", self.company_id),
                &format!("TOKEN#{}", self.token_digest),
            )))
            .condition_expression(
                "company_id = :company AND integration_id = :integration \
                 AND expires_at > :now AND attribute_not_exists(revoked_at)",
            )
            .expression_attribute_values(":company", s(&self.company_id))
            .expression_attribute_values(":integration", s(&self.integration_id))
            .expression_attribute_values(
                ":now",
                AttributeValue::N(chrono::Utc::now().timestamp().to_string()),
            )
            .build()?;
        let catalog = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(key(
                format!("INTEGRATION#{}", self.integration_id),
                "CATALOGVERSION",
            )))
            .condition_expression("attribute_not_exists(pk) OR attribute_exists(version)")
            .build()?;
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .build()?;
        self.db
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().condition_check(token).build())
            .transact_items(
                TransactWriteItem::builder()
                    .condition_check(catalog)
                    .build(),
            )
            .transact_items(TransactWriteItem::builder().put(put).build())
            .send()
            .await?;
        Ok(())
    }
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let baseline = Baseline::from_env().await?;
    run(service_fn(|request: Request| baseline.handle(request))).await
}
