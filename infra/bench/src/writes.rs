//! DynamoDB write units of one order's lifecycle: SR lists the packages, orders one (the table's
//! stream hands it to `order-stream` and the publisher enriches it), the vendor reports
//! IN_PROGRESS then COMPLETED, and the publisher delivers both results — each step run by the
//! release function as Lambda would run it, with `AWS_ENDPOINT_URL` pointing at a metering proxy
//! in front of moto. The lifecycle runs on a table of its own without a stream
//! (`Stack::isolated`), so the stack's own stream consumer and publisher never touch the order;
//! the harness plays the stream, handing `order-stream` the order's `INSERT` record.
//!
//! moto answers `ReturnConsumedCapacity` with a constant (1.0 per call, whatever the item size;
//! the proxy asks on every write and reports the sum beside ours), so the proxy computes what
//! DynamoDB bills the way DynamoDB does: it reads each item a write touches right before and
//! right after the write (writes go through one at a time) and charges
//! `ceil(max(size before, size after) / 1 KB)` per item, twice that inside `TransactWriteItems`
//! (condition checks included), plus what the indexes copy: an item in `gsi1` (projection `ALL`)
//! is written there at its size whenever it changes, an item in `gsi2` (`KEYS_ONLY`) only when
//! its entry appears (its keys' size), and either twice when the index key changes. Item sizes follow DynamoDB's rules:
//! attribute names and values in UTF-8 bytes, numbers 1 byte per two significant digits plus 1,
//! lists and maps 3 bytes plus 1 per element.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use connector::store::{item_size, write_units};
use serde::Serialize;
use serde_json::{json, Value};
use tokio::sync::Mutex;

use crate::context::Context;
use crate::fixtures::{self, http_event, Endpoint, Tenant};
use crate::http1::{self, Request, Response, Server};
use crate::launch::{Instance, Spec};
use crate::proxy::forward;
use crate::Result;

/// One item a write touched, as billed.
#[derive(Debug, Clone, Serialize)]
pub struct ItemWrite {
    pub operation: String,
    /// `ORDER#…/ORDER`, `ORDER#…/HISTORY#SUBMISSION#…`: which item.
    pub key: String,
    pub bytes_before: usize,
    pub bytes_after: usize,
    pub transactional: bool,
    pub table_units: f64,
    pub index_units: f64,
}

impl ItemWrite {
    pub fn units(&self) -> f64 {
        self.table_units + self.index_units
    }
}

/// The write units of one lifecycle step.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StepWrites {
    pub step: String,
    pub items: Vec<ItemWrite>,
    /// What moto answered for `ReturnConsumedCapacity=TOTAL`, summed.
    pub moto_reported: f64,
}

impl StepWrites {
    pub fn units(&self) -> f64 {
        self.items
            .iter()
            .map(ItemWrite::units)
            .fold(0.0, |a, b| a + b)
    }

    /// `ORDER 3.0 (UpdateItem), SUBMISSION 2.0 (TransactWriteItems), …`, by item kind.
    pub fn breakdown(&self) -> String {
        let mut by_kind: BTreeMap<String, f64> = BTreeMap::new();
        for item in &self.items {
            *by_kind
                .entry(format!("{} {}", item.operation, kind_of(&item.key)))
                .or_default() += item.units();
        }
        if by_kind.is_empty() {
            return "no writes".into();
        }
        by_kind
            .iter()
            .map(|(k, u)| format!("{k} {u}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// `ORDER`, `SUBMISSION`, `ATTEMPT`, `EVENT`, …: the sort key without its ids.
fn kind_of(key: &str) -> String {
    let sk = key.split_once('/').map_or(key, |(_, sk)| sk);
    let parts: Vec<&str> = sk.split('#').collect();
    match parts.as_slice() {
        ["HISTORY", kind, ..] => kind.to_string(),
        [kind, ..] => kind.to_string(),
        [] => sk.to_string(),
    }
}

#[derive(Debug, Serialize)]
pub struct LifecycleWrites {
    pub steps: Vec<StepWrites>,
    pub order_id: String,
}

impl LifecycleWrites {
    pub fn units(&self) -> f64 {
        self.steps
            .iter()
            .map(StepWrites::units)
            .fold(0.0, |a, b| a + b)
    }

    pub fn moto_reported(&self) -> f64 {
        self.steps
            .iter()
            .map(|s| s.moto_reported)
            .fold(0.0, |a, b| a + b)
    }
}

/// Runs the lifecycle once for a fresh company, on a table of its own.
pub async fn measure(ctx: &Context) -> Result<LifecycleWrites> {
    let table = connector_tests::Stack::isolated().await;
    let tenant = Tenant::create(&table, "bench-writes").await?;
    let meter = MeteringProxy::start(ctx).await?;
    let sr = SrStandIn::start(&ctx.sim_url).await?;
    let queue = PrivateQueue::create(ctx).await?;
    let outcome = lifecycle(ctx, &table, &tenant, &meter, &sr, &queue).await;
    queue.delete(ctx).await;
    let _ = table
        .aws
        .dynamodb
        .delete_table()
        .table_name(&table.config.table_name)
        .send()
        .await;
    outcome
}

async fn lifecycle(
    ctx: &Context,
    table: &connector_tests::Stack,
    tenant: &Tenant,
    meter: &MeteringProxy,
    sr: &SrStandIn,
    queue: &PrivateQueue,
) -> Result<LifecycleWrites> {
    let environment = [
        ("AWS_ENDPOINT_URL", meter.url()),
        ("RESULTS_QUEUE_URL", queue.url.clone()),
        ("TABLE_NAME", table.config.table_name.clone()),
    ];
    let environment: Vec<(&str, &str)> =
        environment.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let metered = |function: &str| ctx.function_spec(function).with_env(&environment);
    let publisher_spec = ctx.publisher_spec(&sr.url()).with_env(&environment);
    let mut steps = Vec::new();

    // SR lists the packages.
    let mut list = start(ctx, &metered("list-packages")).await?;
    let answer = list
        .invoke(&Endpoint::List.event(&ctx.stack, tenant))
        .await?;
    expect_status("list-packages", &answer, 200)?;
    steps.push(meter.take("list packages").await);

    // SR orders one; the publisher enriches it (the queued message, if the order queued one).
    let (order_id, body) = connector_tests::order_body(&ctx.stack, &tenant.company, "java-senior");
    let mut order = start(ctx, &metered("create-order")).await?;
    let bearer = format!("Bearer {}", tenant.token);
    let event = http_event(
        "POST",
        "/packages/orders",
        &[
            ("authorization", &bearer),
            ("content-type", "application/json"),
        ],
        Some(body.to_string()),
        None,
    );
    expect_status("create-order", &order.invoke(&event).await?, 202)?;
    steps.push(meter.take("order").await);
    // The stream hands the new order item to order-stream, which queues its enrichment.
    let mut stream = start(ctx, &metered("order-stream")).await?;
    let answer = stream
        .invoke(&insert_event(table, &order_id).await?)
        .await?;
    if answer.error
        || answer.json()["batchItemFailures"]
            .as_array()
            .is_some_and(|f| !f.is_empty())
    {
        return Err(format!(
            "order-stream refused the record: {}",
            String::from_utf8_lossy(&answer.body)
        )
        .into());
    }
    steps.push(meter.take("order streamed").await);
    let mut publisher = start(ctx, &publisher_spec).await?;
    let queued = queue.drain(ctx).await?;
    if queued.is_empty() {
        return Err("order-stream queued no enrichment".into());
    }
    deliver(&mut publisher, &queued, "enrich").await?;
    steps.push(meter.take("enrichment").await);

    // The vendor reports IN_PROGRESS, then COMPLETED (the bodies of tests/src/scenario.rs).
    let mut vendor = start(ctx, &metered("vendor-api")).await?;
    let key = format!("Bearer {}", ctx.stack.vendor_api_key);
    let results = [
        (
            "IN_PROGRESS",
            json!({"status": "OPEN", "result_url": "https://vendor.example.com/results/42"}),
        ),
        (
            "COMPLETED",
            json!({
                "status": "COMPLETED", "completed_at": "2026-11-22T10:00:00Z",
                "score": 87.5, "max_score": 100, "score_label": "Strong hire",
                "result_url": "https://vendor.example.com/results/42",
                "attributes": [
                    {"type": "TEXT", "label": "Role fit", "value": "Excellent"},
                    {"type": "SUB_RESULT", "id": "java-coding", "label": "Coding exercise",
                     "score": {"value": 92, "max": 100}, "status": "COMPLETED"},
                    {"type": "SUB_RESULT", "id": "system-design", "label": "System design quiz",
                     "score": {"value": 15, "max": 20}, "status": "COMPLETED"}
                ]
            }),
        ),
    ];
    for (status, body) in results {
        let event = http_event(
            "PUT",
            &format!("/assessment/orders/{order_id}/result"),
            &[
                ("authorization", &key),
                ("x-integration-id", &tenant.company.integration_id),
                ("content-type", "application/json"),
            ],
            Some(body.to_string()),
            None,
        );
        expect_status("vendor-api", &vendor.invoke(&event).await?, 200)?;
        steps.push(meter.take(&format!("result {status}")).await);
        let queued = queue.drain(ctx).await?;
        if queued.is_empty() {
            return Err(format!("the {status} result queued nothing").into());
        }
        deliver(&mut publisher, &queued, status).await?;
        steps.push(meter.take(&format!("{status} delivered")).await);
    }
    let delivered = sr.patched(&order_id).await;
    if delivered != 2 {
        return Err(format!("SR got {delivered} of the 2 results").into());
    }
    Ok(LifecycleWrites { steps, order_id })
}

/// The DynamoDB stream event of the order item just stored (`INSERT`, keys and new image read
/// back from the table), as Lambda's event source mapping hands it to `order-stream`.
async fn insert_event(table: &connector_tests::Stack, order_id: &str) -> Result<Value> {
    let key = HashMap::from([
        (
            "pk".to_string(),
            AttributeValue::S(format!("ORDER#{order_id}")),
        ),
        ("sk".to_string(), AttributeValue::S("ORDER".into())),
    ]);
    let item = table
        .aws
        .dynamodb
        .get_item()
        .table_name(&table.config.table_name)
        .set_key(Some(key.clone()))
        .consistent_read(true)
        .send()
        .await?
        .item
        .ok_or("the order is not stored")?;
    let image = |item: HashMap<String, AttributeValue>| {
        serde_json::to_value(serde_dynamo::Item::from(item))
    };
    Ok(json!({"Records": [{
        "eventID": "1",
        "eventName": "INSERT",
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": {
            "ApproximateCreationDateTime": chrono::Utc::now().timestamp(),
            "Keys": image(key)?,
            "NewImage": image(item)?,
            "SequenceNumber": "1",
            "SizeBytes": 1,
            "StreamViewType": "NEW_IMAGE"
        },
        "eventSourceARN": format!("arn:aws:dynamodb:us-east-1:123456789012:table/{}/stream/bench", table.config.table_name)
    }]}))
}

async fn start(ctx: &Context, spec: &Spec) -> Result<Instance> {
    let mut instance = Instance::start(spec, &ctx.logs).await?;
    instance.init_time().await?;
    Ok(instance)
}

fn expect_status(label: &str, answer: &crate::stub::Answer, status: u16) -> Result<()> {
    if answer.error || answer.status_code() != status {
        return Err(format!(
            "{label} answered {} (expected {status}): {}",
            answer.status_code(),
            String::from_utf8_lossy(&answer.body)
        )
        .into());
    }
    Ok(())
}

/// Hands the publisher one SQS event of the queued `bodies` (`fixtures::deliver_event`).
async fn deliver(publisher: &mut Instance, bodies: &[String], tag: &str) -> Result<()> {
    let records: Vec<(String, String)> = bodies
        .iter()
        .map(|body| (String::new(), body.clone()))
        .collect();
    fixtures::deliver_event(publisher, &records, &format!("writes-{tag}")).await
}

/// A FIFO queue of the run's own (like the stack's results queue), so the stack's poller does
/// not take the messages the metered functions send.
struct PrivateQueue {
    url: String,
}

impl PrivateQueue {
    async fn create(ctx: &Context) -> Result<Self> {
        use aws_sdk_sqs::types::QueueAttributeName;
        let url = ctx
            .stack
            .aws
            .sqs
            .create_queue()
            .queue_name(format!(
                "connector-bench-writes-{}.fifo",
                &connector_tests::uuid()[..8]
            ))
            .attributes(QueueAttributeName::FifoQueue, "true")
            .send()
            .await?
            .queue_url
            .ok_or("CreateQueue answered no URL")?;
        Ok(Self { url })
    }

    /// Every message queued so far, deleted from the queue.
    async fn drain(&self, ctx: &Context) -> Result<Vec<String>> {
        let sqs = &ctx.stack.aws.sqs;
        let mut bodies = Vec::new();
        loop {
            let output = sqs
                .receive_message()
                .queue_url(&self.url)
                .max_number_of_messages(10)
                .wait_time_seconds(1)
                .send()
                .await?;
            let messages = output.messages.unwrap_or_default();
            if messages.is_empty() {
                return Ok(bodies);
            }
            for message in messages {
                if let Some(handle) = message.receipt_handle() {
                    sqs.delete_message()
                        .queue_url(&self.url)
                        .receipt_handle(handle)
                        .send()
                        .await?;
                }
                bodies.extend(message.body);
            }
        }
    }

    async fn delete(&self, ctx: &Context) {
        let _ = ctx
            .stack
            .aws
            .sqs
            .delete_queue()
            .queue_url(&self.url)
            .send()
            .await;
    }
}

/// SR for the metered publisher: everything goes to the simulator except the result PATCH,
/// answered `200 {}` and counted here — the order was placed by the metered `create-order`, not
/// through the simulator, so the simulator does not know it.
struct SrStandIn {
    server: Server,
    patched: Arc<Mutex<HashMap<String, usize>>>,
}

impl SrStandIn {
    async fn start(sim_url: &str) -> Result<Self> {
        let patched: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
        let http = reqwest::Client::builder().no_proxy().build()?;
        let upstream = sim_url.trim_end_matches('/').to_string();
        let log = patched.clone();
        let server = http1::serve(http1::handler(move |request: Request| {
            let (http, upstream, log) = (http.clone(), upstream.clone(), log.clone());
            async move {
                let path = request.path().to_string();
                let order = path
                    .strip_suffix("/results")
                    .and_then(|p| p.rsplit_once("/orders/"))
                    .map(|(_, id)| id.to_string());
                match order {
                    Some(id) if request.method == "PATCH" => {
                        *log.lock().await.entry(id).or_default() += 1;
                        Response::new(200, "{}").header("content-type", "application/json")
                    }
                    _ => forward(&http, &upstream, request).await,
                }
            }
        }))
        .await?;
        Ok(Self { server, patched })
    }

    fn url(&self) -> String {
        format!("http://{}", self.server.addr)
    }

    async fn patched(&self, order_id: &str) -> usize {
        self.patched
            .lock()
            .await
            .get(order_id)
            .copied()
            .unwrap_or(0)
    }
}

/// The proxy in front of moto that bills every write (see the module's documentation).
struct MeteringProxy {
    server: Server,
    log: Arc<Mutex<StepWrites>>,
}

impl MeteringProxy {
    async fn start(ctx: &Context) -> Result<Self> {
        let log: Arc<Mutex<StepWrites>> = Arc::default();
        let http = reqwest::Client::builder().no_proxy().build()?;
        let upstream = ctx.moto_url.trim_end_matches('/').to_string();
        let db = ctx.stack.aws.dynamodb.clone();
        let writes = log.clone();
        // One write at a time, so the sizes read around it are its own.
        let one_at_a_time = Arc::new(Mutex::new(()));
        let server = http1::serve(http1::handler(move |request: Request| {
            let (http, upstream, db, writes) =
                (http.clone(), upstream.clone(), db.clone(), writes.clone());
            let one_at_a_time = one_at_a_time.clone();
            async move {
                let operation = request
                    .header("x-amz-target")
                    .and_then(|t| t.strip_prefix("DynamoDB_20120810."))
                    .unwrap_or_default()
                    .to_string();
                let Some(mut body) = serde_json::from_slice::<Value>(&request.body)
                    .ok()
                    .filter(|_| WRITES.contains(&operation.as_str()))
                else {
                    return forward(&http, &upstream, request).await;
                };
                let _turn = one_at_a_time.lock().await;
                body["ReturnConsumedCapacity"] = json!("TOTAL");
                let touched = touched_items(&operation, &body);
                let mut before = Vec::with_capacity(touched.len());
                for t in &touched {
                    before.push(read_item(&db, t).await);
                }
                let request = Request {
                    body: serde_json::to_vec(&body).unwrap_or_default(),
                    ..request
                };
                let response = forward(&http, &upstream, request).await;
                let mut step = writes.lock().await;
                step.moto_reported += reported_units(&response.body);
                for (t, before) in touched.iter().zip(before) {
                    let after = read_item(&db, t).await;
                    step.items
                        .push(bill(&operation, t, before.as_ref(), after.as_ref()));
                }
                response
            }
        }))
        .await?;
        Ok(Self { server, log })
    }

    fn url(&self) -> String {
        format!("http://{}", self.server.addr)
    }

    /// The writes billed since the last call, as step `name`.
    async fn take(&self, name: &str) -> StepWrites {
        let mut log = self.log.lock().await;
        let mut step = std::mem::take(&mut *log);
        step.step = name.to_string();
        step
    }
}

const WRITES: [&str; 5] = [
    "PutItem",
    "UpdateItem",
    "DeleteItem",
    "TransactWriteItems",
    "BatchWriteItem",
];

/// An item a write names: its table and key (`pk`, `sk`).
#[derive(Debug, Clone)]
struct Touched {
    table: String,
    pk: String,
    sk: String,
    transactional: bool,
}

/// The items a write request touches.
fn touched_items(operation: &str, body: &Value) -> Vec<Touched> {
    let key_of = |table: &Value, key: &Value, transactional: bool| {
        Some(Touched {
            table: table.as_str()?.to_string(),
            pk: key["pk"]["S"].as_str()?.to_string(),
            sk: key["sk"]["S"].as_str()?.to_string(),
            transactional,
        })
    };
    match operation {
        "PutItem" => key_of(&body["TableName"], &body["Item"], false)
            .into_iter()
            .collect(),
        "UpdateItem" | "DeleteItem" => key_of(&body["TableName"], &body["Key"], false)
            .into_iter()
            .collect(),
        "TransactWriteItems" => body["TransactItems"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|item| {
                let (kind, action) = item.as_object()?.iter().next()?;
                let key = if kind == "Put" {
                    &action["Item"]
                } else {
                    &action["Key"]
                };
                key_of(&action["TableName"], key, true)
            })
            .collect(),
        "BatchWriteItem" => body["RequestItems"]
            .as_object()
            .into_iter()
            .flatten()
            .flat_map(|(table, requests)| {
                let table = Value::String(table.clone());
                requests
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|r| {
                        let put = &r["PutRequest"]["Item"];
                        let key = if put.is_null() {
                            &r["DeleteRequest"]["Key"]
                        } else {
                            put
                        };
                        key_of(&table, key, false)
                    })
                    .collect::<Vec<_>>()
            })
            .collect(),
        _ => Vec::new(),
    }
}

async fn read_item(
    db: &aws_sdk_dynamodb::Client,
    t: &Touched,
) -> Option<HashMap<String, AttributeValue>> {
    db.get_item()
        .table_name(&t.table)
        .key("pk", AttributeValue::S(t.pk.clone()))
        .key("sk", AttributeValue::S(t.sk.clone()))
        .consistent_read(true)
        .send()
        .await
        .ok()?
        .item
}

fn reported_units(body: &[u8]) -> f64 {
    let answer: Value = serde_json::from_slice(body).unwrap_or_default();
    let capacity = &answer["ConsumedCapacity"];
    let each = |c: &Value| c["CapacityUnits"].as_f64().unwrap_or(0.0);
    match capacity.as_array() {
        Some(list) => list.iter().map(each).sum(),
        None => each(capacity),
    }
}

/// What DynamoDB bills for one item of a write.
fn bill(
    operation: &str,
    t: &Touched,
    before: Option<&HashMap<String, AttributeValue>>,
    after: Option<&HashMap<String, AttributeValue>>,
) -> ItemWrite {
    let (bytes_before, bytes_after) = (before.map_or(0, item_size), after.map_or(0, item_size));
    let units = |bytes: usize| write_units(bytes) as f64;
    let factor = if t.transactional { 2.0 } else { 1.0 };
    let table_units = factor * units(bytes_before.max(bytes_after));
    let index_units = if before == after {
        0.0
    } else {
        INDEXES
            .iter()
            .map(|index| index.units(before, after))
            .fold(0.0, |a, b| a + b)
    };
    ItemWrite {
        operation: operation.to_string(),
        key: format!("{}/{}", t.pk, t.sk),
        bytes_before,
        bytes_after,
        transactional: t.transactional,
        table_units,
        index_units,
    }
}

/// The table's indexes as the template declares them (`template.yaml`, `ConnectorTable`).
const INDEXES: [Index; 2] = [
    Index {
        pk: "gsi1pk",
        sk: "gsi1sk",
        keys_only: false,
    },
    Index {
        pk: "gsi2pk",
        sk: "gsi2sk",
        keys_only: true,
    },
];

/// A global secondary index, for billing what a write copies into it.
struct Index {
    pk: &'static str,
    sk: &'static str,
    /// Projection `KEYS_ONLY` (otherwise `ALL`).
    keys_only: bool,
}

impl Index {
    /// What the index bills for an item going from `before` to `after` (which differ): an
    /// entry written when it appears, changes keys (removed and put: twice) or, with
    /// projection `ALL`, changes at all; an entry is the item's size, or its keys' alone.
    fn units(
        &self,
        before: Option<&HashMap<String, AttributeValue>>,
        after: Option<&HashMap<String, AttributeValue>>,
    ) -> f64 {
        let key = |item: Option<&HashMap<String, AttributeValue>>| {
            item.and_then(|i| Some((i.get(self.pk)?.clone(), i.get(self.sk)?.clone())))
        };
        let units = |bytes: usize| write_units(bytes) as f64;
        let entry = |item: Option<&HashMap<String, AttributeValue>>| -> f64 {
            let Some(item) = item else { return 0.0 };
            if self.keys_only {
                let keys: HashMap<String, AttributeValue> = item
                    .iter()
                    .filter(|(name, _)| ["pk", "sk", self.pk, self.sk].contains(&name.as_str()))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                units(item_size(&keys))
            } else {
                units(item_size(item))
            }
        };
        match (key(before), key(after)) {
            (Some(b), Some(a)) if a == b && self.keys_only => 0.0,
            (Some(b), Some(a)) if a == b => entry(after),
            (Some(_), Some(_)) => entry(before) + entry(after),
            (Some(_), None) => entry(before),
            (None, Some(_)) => entry(after),
            (None, None) => 0.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(pairs: &[(&str, AttributeValue)]) -> HashMap<String, AttributeValue> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    #[test]
    fn transactions_bill_twice_and_the_index_once_more() {
        let t = Touched {
            table: "t".into(),
            pk: "ORDER#1".into(),
            sk: "ORDER".into(),
            transactional: true,
        };
        let big = "x".repeat(1500);
        let before = item(&[
            ("gsi1pk", AttributeValue::S("I".into())),
            ("gsi1sk", AttributeValue::S("1".into())),
            ("body", AttributeValue::S(big.clone())),
        ]);
        let mut after = before.clone();
        after.insert("state".into(), AttributeValue::S("QUEUED".into()));
        let billed = bill("TransactWriteItems", &t, Some(&before), Some(&after));
        assert_eq!((billed.table_units, billed.index_units), (4.0, 2.0));
        let unchanged = bill(
            "UpdateItem",
            &Touched {
                transactional: false,
                ..t
            },
            Some(&before),
            Some(&before),
        );
        assert_eq!((unchanged.table_units, unchanged.index_units), (2.0, 0.0));
    }

    #[test]
    fn a_keys_only_index_bills_its_entry_once_and_not_the_updates() {
        let t = Touched {
            table: "t".into(),
            pk: "ORDER#1".into(),
            sk: "ORDER".into(),
            transactional: false,
        };
        let big = "x".repeat(1500);
        let created = item(&[
            ("pk", AttributeValue::S("ORDER#1".into())),
            ("sk", AttributeValue::S("ORDER".into())),
            ("gsi2pk", AttributeValue::S("I".into())),
            ("gsi2sk", AttributeValue::S("1".into())),
            ("body", AttributeValue::S(big)),
        ]);
        let put = bill("PutItem", &t, None, Some(&created));
        assert_eq!((put.table_units, put.index_units), (2.0, 1.0));
        let mut updated = created.clone();
        updated.insert("state".into(), AttributeValue::S("QUEUED".into()));
        let update = bill("UpdateItem", &t, Some(&created), Some(&updated));
        assert_eq!((update.table_units, update.index_units), (2.0, 0.0));
    }

    #[test]
    fn the_items_of_a_transaction_are_found() {
        let body = json!({"TransactItems": [
            {"Update": {"TableName": "t", "Key": {"pk": {"S": "ORDER#1"}, "sk": {"S": "ORDER"}}}},
            {"Put": {"TableName": "t", "Item": {"pk": {"S": "ORDER#1"}, "sk": {"S": "HISTORY#SUBMISSION#1"}, "x": {"S": "y"}}}}
        ]});
        let touched = touched_items("TransactWriteItems", &body);
        assert_eq!(touched.len(), 2);
        assert!(touched.iter().all(|t| t.transactional));
        assert_eq!(kind_of("ORDER#1/HISTORY#SUBMISSION#1"), "SUBMISSION");
        assert_eq!(kind_of("ORDER#1/ORDER"), "ORDER");
    }
}
