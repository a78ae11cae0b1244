//! The SQS-triggered result publisher: delivers stored results to SR's
//! `PATCH /orders/{orderId}/results`, never losing one and never regressing what SR shows.
//!
//! Per batch of up to ten messages (the results queue is FIFO, one message group per order):
//! - one `BatchGetItem` reads every order the batch names; a message older than its order's
//!   latest result is dropped (the newer message, later in the same group, delivers it);
//! - one `UpdateItem` per company reserves SR call slots in the shared schedule (`pacing`), so
//!   concurrent invocations together stay under SR's 10 requests/s per credential;
//! - orders are delivered concurrently, each order's messages in sequence;
//! - one `TransactWriteItems` records every attempt;
//! - failures are reported as batch item failures with their visibility set to the backoff
//!   (`backoff`), or to SR's `Retry-After` after a 429. SQS moves a message to the dead-letter
//!   queue only after the queue's `maxReceiveCount` receives.
//!
//! So a warm batch costs about three AWS calls for ten results, plus the SR calls.
//!
//! The results queue carries two kinds of message (`QueueMessage`): a stored result, delivered
//! here, and a new order (`OrderReceived`), whose enrichment runs in [`crate::enrichment`]
//! ([`Enricher::enrich_order`]) on this publisher's clients and SR call budget. Both go through
//! the one SQS batch runner ([`crate::sqs_batch`]) that the webhook dispatcher uses too.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use chrono::Utc;
use lambda_runtime::LambdaEvent;
use tokio::sync::{Mutex, Semaphore};

use crate::aws::AwsClients;
use crate::backoff::Backoff;
use crate::budget::Budget;
use crate::config::Config;
use crate::enrichment::Enricher;
use crate::metrics::{self, Metric};
use crate::notifications::Notifications;
use crate::orders::{DeliveryAttempt, DeliveryState, Order};
use crate::pacing::{self, Pacer, Slots};
use crate::queue::QueueMessage;
use crate::secrets::{CredentialCache, SecretError, Secrets};
use crate::sqs_batch::{self, SqsBatchRunner};
use crate::sr::client::SrAnswer;
use crate::sr::{SrClient, SrClientError, SrCredentials};
use crate::store::{DeliveryRecord, Store};

/// The outcome of one message (the one outcome of every queue consumer, `crate::sqs_batch`).
pub use crate::sqs_batch::Outcome;

/// What recording a batch's outcomes needs after its last SR call (a `TransactWriteItems`,
/// `ChangeMessageVisibilityBatch`, the `delivery.failed` events): kept out of the time budget.
const RECORDING_RESERVE: Duration = Duration::from_secs(5);
/// The PATCH starts only with this much budget left: the SR client's request timeout.
const PATCH_TIME: Duration = Duration::from_secs(10);

/// SR calls in flight per invocation. SR allows 8 per credential; with the event source
/// mapping's `MaximumConcurrency` of 2 this keeps the total within it.
const MAX_IN_FLIGHT: usize = 4;

pub struct ResultPublisher {
    /// The results queue's `maxReceiveCount` (`MAX_RECEIVE_COUNT`, default 20; a retry on the
    /// last receive means SQS moves the message to the dead-letter queue) and the backoff.
    runner: SqsBatchRunner,
    store: Store,
    sr: SrClient,
    pacer: Pacer,
    credentials: CredentialCache,
    in_flight: Semaphore,
    /// Uploads result files before the PATCH. Public so in-process tests can pick the download
    /// policy (`ALLOW_PRIVATE_ATTACHMENT_URLS` is read from the Lambda's environment otherwise).
    pub files: crate::attachments::FileDelivery,
    /// Vendor events: `delivery.failed` here, `order.created`/`order.enriched` in enrichment.
    notifications: Notifications,
}

impl ResultPublisher {
    pub fn new(store: Store, secrets: Secrets, sr: SrClient) -> Self {
        let max_receive_count = std::env::var("MAX_RECEIVE_COUNT")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(20);
        Self {
            runner: SqsBatchRunner::new(max_receive_count, Backoff::from_env()),
            pacer: Pacer::from_env(store.clone()),
            notifications: Notifications::record_only(store.clone()),
            store,
            files: crate::attachments::FileDelivery::from_env(sr.endpoints()),
            sr,
            credentials: CredentialCache::new(secrets),
            in_flight: Semaphore::new(MAX_IN_FLIGHT),
        }
    }

    /// Sets failed messages' visibility through `sqs` (the Lambda does; in-process tests that
    /// call [`Self::process`] need not).
    pub fn with_redelivery(mut self, sqs: aws_sdk_sqs::Client, queue_urls: Vec<String>) -> Self {
        self.runner = self.runner.with_redelivery(sqs, queue_urls);
        self
    }

    /// Queues vendor events for the webhook dispatcher (without: recorded, listable, not sent).
    pub fn with_notifications(mut self, notifications: Notifications) -> Self {
        self.notifications = notifications;
        self
    }

    pub fn with_pacer(mut self, pacer: Pacer) -> Self {
        self.pacer = pacer;
        self
    }

    pub async fn from_env() -> Result<Self, lambda_runtime::Error> {
        let config = Config::from_env()?;
        let aws = AwsClients::from_env().await;
        let store = Store::new(aws.dynamodb, config.table_name);
        let notifications = Notifications::new(
            store.clone(),
            aws.sqs.clone(),
            config.notifications_queue_url,
        );
        Ok(Self::new(
            store,
            Secrets::new(aws.secrets, config.secret_prefix),
            SrClient::new(config.sr),
        )
        .with_notifications(notifications)
        .with_redelivery(aws.sqs, vec![config.results_queue_url]))
    }

    /// The Lambda handler: a partial batch response naming the messages to retry, each with its
    /// redelivery time set.
    pub async fn handle(
        &self,
        event: LambdaEvent<SqsEvent>,
    ) -> Result<SqsBatchResponse, lambda_runtime::Error> {
        let records = &event.payload.records;
        let budget = Budget::before_lambda_deadline(event.context.deadline, RECORDING_RESERVE);
        let outcomes = self.process_batch_within(records, budget).await;
        Ok(self.runner.respond(records, &outcomes).await)
    }

    /// One message on its own (tests and tools): the same path as a batch of one.
    pub async fn process(&self, message: &SqsMessage) -> Outcome {
        self.process_batch(std::slice::from_ref(message))
            .await
            .pop()
            .unwrap_or(Outcome::RETRY)
    }

    /// The outcome of each message, in order, without a time budget.
    pub async fn process_batch(&self, messages: &[SqsMessage]) -> Vec<Outcome> {
        self.process_batch_within(messages, Budget::UNLIMITED).await
    }

    /// The outcome of each message, in order; SR calls and downloads stay within `budget`, and
    /// what does not fit is retried.
    pub async fn process_batch_within(
        &self,
        messages: &[SqsMessage],
        budget: Budget,
    ) -> Vec<Outcome> {
        let parsed: Vec<Option<QueueMessage>> = messages.iter().map(parse).collect();
        let order_ids: Vec<&str> = parsed
            .iter()
            .flatten()
            .map(|m| match m {
                QueueMessage::Result { order_id, .. }
                | QueueMessage::OrderReceived { order_id, .. } => order_id.as_str(),
            })
            .collect();
        let orders = match self.store.get_orders(&order_ids).await {
            Ok(orders) => orders,
            Err(e) => {
                tracing::warn!(error = %e, "could not read the batch's orders; will retry");
                return vec![Outcome::RETRY; messages.len()];
            }
        };
        let batch = Batch::new(&self.pacer, &parsed, budget);
        // Messages of one FIFO group (one order) in sequence; groups concurrently.
        let groups: Vec<Option<String>> = parsed
            .iter()
            .map(|m| m.as_ref().map(QueueMessage::group_id))
            .collect();
        let mut outcomes = sqs_batch::in_groups(&groups, |i| {
            self.handle_message(&messages[i], parsed[i].as_ref(), &orders, &batch)
        })
        .await;
        let records = std::mem::take(&mut *batch.records.lock().await);
        let recorded = self.store.record_deliveries(&records, Utc::now()).await;
        for (record, written) in records.iter().zip(recorded) {
            let attempt = &record.attempt;
            if let Err(e) = written {
                // Delivered (or not) but not recorded: only this order's messages come back,
                // and re-sending the same result is harmless. Other orders are unaffected.
                tracing::warn!(order_id = %record.order_id, error = %e, "could not record the delivery attempt; will retry");
                for (outcome, message) in outcomes.iter_mut().zip(&parsed) {
                    if matches!(message, Some(QueueMessage::Result { order_id, .. }) if *order_id == record.order_id)
                    {
                        *outcome = Outcome::RETRY;
                    }
                }
                continue;
            }
            // Where FAILED is recorded: the vendor learns of it (`delivery.failed`).
            if attempt.outcome != DeliveryState::Failed {
                continue;
            }
            let Some(order) = orders.get(&record.order_id) else {
                continue;
            };
            if let Err(e) = self
                .notifications
                .delivery_failed(
                    order,
                    attempt.version,
                    attempt.sr_status_code,
                    attempt.detail.as_deref(),
                    Utc::now(),
                )
                .await
            {
                tracing::error!(order_id = %record.order_id, company_id = %order.company_id, error = %e, "could not record or queue delivery.failed");
            }
        }
        for (message, outcome) in messages.iter().zip(&outcomes) {
            self.count_retry(message, *outcome);
        }
        outcomes
    }

    /// One message, by kind: a result goes to SR (`deliver`), a new order to its enrichment
    /// ([`crate::enrichment::Enricher::enrich_order`]).
    async fn handle_message(
        &self,
        message: &SqsMessage,
        parsed: Option<&QueueMessage>,
        orders: &HashMap<String, Order>,
        batch: &Batch<'_>,
    ) -> Outcome {
        let last_receive = self.runner.is_last_receive(message);
        match parsed {
            Some(QueueMessage::Result {
                order_id,
                company_id,
                version,
            }) => {
                let delivery = Delivery {
                    order_id,
                    company_id,
                    version: *version,
                    last_receive,
                };
                self.deliver(delivery, orders.get(order_id.as_str()), batch)
                    .await
            }
            Some(QueueMessage::OrderReceived {
                order_id,
                company_id,
            }) => {
                let order = orders.get(order_id.as_str());
                self.enricher()
                    .enrich_order(order, order_id, company_id, last_receive)
                    .await
            }
            None => {
                // Retried until the queue moves it to the DLQ, where an operator can look.
                tracing::error!(message_id = ?message.message_id, "unreadable queue message");
                Outcome::RETRY
            }
        }
    }

    /// The enrichment worker on this publisher's clients, SR call slots and in-flight bound.
    fn enricher(&self) -> Enricher<'_> {
        Enricher {
            store: &self.store,
            credentials: &self.credentials,
            sr: &self.sr,
            notifications: &self.notifications,
            pacer: Some(&self.pacer),
            in_flight: Some(&self.in_flight),
        }
    }

    async fn deliver(&self, d: Delivery<'_>, order: Option<&Order>, batch: &Batch<'_>) -> Outcome {
        let Some(order) = order else {
            tracing::error!(
                order_id = d.order_id,
                company_id = d.company_id,
                "queued result for an order that does not exist"
            );
            return Outcome::Done;
        };
        if d.version < order.result_version {
            tracing::info!(
                order_id = d.order_id,
                version = d.version,
                latest = order.result_version,
                "a newer result follows in the queue; skipping this one"
            );
            return Outcome::Done;
        }
        let Some(result) = order.result.as_ref() else {
            tracing::warn!(order_id = d.order_id, "order has no result to send");
            return Outcome::Done;
        };
        let version = order.result_version;
        // The final-status rule again (defence in depth; the vendor API already refuses such a
        // result): once SR holds a final status, a different one is never sent.
        if let Some(status) = result.status {
            if let Err(conflict) =
                crate::results::decide(order.status_at_sr(), order.result_version, status)
            {
                tracing::error!(order_id = d.order_id, company_id = %order.company_id, version, error = %conflict, "a stored result would change SR's final status; not sent");
                let detail = format!("not sent to SmartRecruiters: {conflict}");
                return batch
                    .record(order, version, None, DeliveryState::Failed, Some(detail))
                    .await;
            }
        }
        // Files, then the PATCH, with the company's credentials. When SR refuses them, the
        // cache reads them again and, if they changed (a reconnected company), sends once more
        // right away instead of spending a retry.
        let sent = self
            .credentials
            .call_as_company(
                &self.sr,
                &order.company_id,
                |credentials| self.send(order, result, credentials, batch),
                |sent| matches!(sent, Err(e) if e.refuses_credentials()),
            )
            .await;
        let error = match sent {
            Ok(Ok(answer)) => {
                self.delivered_metrics(order);
                tracing::info!(order_id = d.order_id, company_id = %order.company_id, version, sr_status = answer.status, "result delivered to SmartRecruiters");
                return batch
                    .record(
                        order,
                        version,
                        Some(answer.status),
                        DeliveryState::Delivered,
                        None,
                    )
                    .await;
            }
            Ok(Err(error)) => error,
            Err(SecretError::NotFound(_)) => {
                let detail =
                    "the company has no SmartRecruiters credentials (integration disabled?)";
                return batch
                    .record(
                        order,
                        version,
                        None,
                        DeliveryState::Failed,
                        Some(detail.into()),
                    )
                    .await;
            }
            Err(e) => {
                tracing::warn!(order_id = d.order_id, error = %e, "could not read company credentials; will retry");
                // The AWS error stays in the log: the detail is shown to the vendor.
                let detail = "the company's SmartRecruiters credentials could not be read";
                return batch
                    .record_retry(order, version, None, detail.into(), d.last_receive)
                    .await;
            }
        };
        match error {
            Sending::Paced(wait) => Outcome::Retry { after: Some(wait) },
            Sending::Files(error) => {
                tracing::warn!(order_id = d.order_id, company_id = %order.company_id, version, error = %aws_smithy_types::error::display::DisplayErrorContext(&error), "attachments not uploaded yet; will retry");
                let after = error.retry_after();
                if error.is_paced() {
                    return Outcome::Retry { after };
                }
                let detail = error.to_string();
                match batch
                    .record_retry(order, version, error.sr_status(), detail, d.last_receive)
                    .await
                {
                    Outcome::Retry { .. } => Outcome::Retry { after },
                    done => done,
                }
            }
            Sending::Sr(error) => {
                self.failed(order, version, error, d.last_receive, batch)
                    .await
            }
        }
    }

    /// The order's pending files (each upload on an SR call slot), then the PATCH.
    async fn send(
        &self,
        order: &Order,
        result: &crate::sr::PackageResult,
        credentials: SrCredentials,
        batch: &Batch<'_>,
    ) -> Result<SrAnswer<serde_json::Value>, Sending> {
        let paced = || async {
            batch.slot(&order.company_id).await?;
            Ok(self.in_flight.acquire().await.expect("never closed"))
        };
        self.files
            .deliver(
                &self.sr,
                &credentials,
                &self.store,
                order,
                paced,
                batch.budget,
            )
            .await
            .map_err(Sending::Files)?;
        if !batch.budget.allows(PATCH_TIME) {
            return Err(Sending::Paced(Duration::from_secs(1)));
        }
        batch
            .slot(&order.company_id)
            .await
            .map_err(Sending::Paced)?;
        let _permit = self.in_flight.acquire().await.expect("never closed");
        self.sr
            .patch_result(&credentials, &order.order_id, result)
            .await
            .map_err(Sending::Sr)
    }

    async fn failed(
        &self,
        order: &Order,
        version: u64,
        error: SrClientError,
        last_receive: bool,
        batch: &Batch<'_>,
    ) -> Outcome {
        tracing::warn!(order_id = %order.order_id, company_id = %order.company_id, version, error = %error, "result delivery failed");
        let status = error.status();
        match error {
            SrClientError::Rejected { .. } => {
                batch
                    .record(
                        order,
                        version,
                        status,
                        DeliveryState::Failed,
                        Some(error.to_string()),
                    )
                    .await
            }
            SrClientError::CredentialsRefused { .. } => {
                // The secret was read again already and still holds what SR refused.
                batch
                    .record_retry(order, version, status, error.to_string(), last_receive)
                    .await
            }
            SrClientError::Transient { retry_after, .. } => {
                let outcome = batch
                    .record_retry(order, version, status, error.to_string(), last_receive)
                    .await;
                if status != Some(429) {
                    return outcome;
                }
                // Rate limited: every instance holds back until SR's reset, and so does this
                // batch for the rest of this company's messages.
                let wait = retry_after
                    .unwrap_or(Duration::from_secs(1))
                    .max(Duration::from_millis(200));
                batch.throttle(&order.company_id, wait).await;
                if let Err(e) = self
                    .pacer
                    .hold_until(&order.company_id, pacing::ms_after(wait))
                    .await
                {
                    tracing::warn!(error = %e, "could not hold the shared SR schedule");
                }
                match outcome {
                    Outcome::Retry { .. } => Outcome::Retry { after: Some(wait) },
                    done => done,
                }
            }
        }
    }

    fn delivered_metrics(&self, order: &Order) {
        let submitted = order.result_submitted_at.or_else(|| {
            order
                .submissions
                .iter()
                .rev()
                .find(|s| s.version == Some(order.result_version))
                .map(|s| s.submitted_at)
        });
        let mut values = vec![(Metric::ResultsDelivered, 1.0)];
        if let Some(at) = submitted {
            let latency = (Utc::now() - at).num_milliseconds().max(0) as f64;
            values.push((Metric::DeliveryLatency, latency));
        }
        metrics::emit(&values);
    }

    fn count_retry(&self, message: &SqsMessage, outcome: Outcome) {
        if !outcome.is_retry() {
            return;
        }
        let mut values = vec![(Metric::DeliveryRetries, 1.0)];
        if self.runner.is_last_receive(message) {
            // This was the last receive SQS allows: the message moves to the DLQ now.
            tracing::error!(message_id = ?message.message_id, "retries exhausted; the message goes to the dead-letter queue");
            values.push((Metric::DlqMoves, 1.0));
        }
        metrics::emit(&values);
    }
}

/// Why sending a result stopped short of SR's answer to the PATCH.
enum Sending {
    /// The files could not all be delivered yet.
    Files(crate::attachments::FileDeliveryError),
    /// No SR call slot soon enough: retry after this.
    Paced(Duration),
    /// SR (or the way to it) failed the PATCH.
    Sr(SrClientError),
}

impl Sending {
    fn refuses_credentials(&self) -> bool {
        match self {
            Self::Files(e) => e.refuses_credentials(),
            Self::Paced(_) => false,
            Self::Sr(e) => e.refuses_credentials(),
        }
    }
}

/// One result message to deliver.
struct Delivery<'a> {
    order_id: &'a str,
    company_id: &'a str,
    version: u64,
    /// SQS will not hand this message out again: a retry now sends it to the DLQ.
    last_receive: bool,
}

/// Per-batch state shared by the concurrent deliveries: SR call slots per company, companies SR
/// throttled, and the attempts to record at the end.
struct Batch<'p> {
    pacer: &'p Pacer,
    /// What this invocation may still spend on SR calls and downloads.
    budget: Budget,
    /// How many SR calls each company's messages in this batch will need at most.
    planned: HashMap<String, u32>,
    schedules: Mutex<HashMap<String, Arc<Mutex<Schedule>>>>,
    records: Mutex<Vec<DeliveryRecord>>,
}

#[derive(Default)]
struct Schedule {
    slots: Option<Slots>,
    used: u32,
    throttled_until: Option<Instant>,
    /// When this batch's last call for the company started (epoch ms): after a late wake-up
    /// (a busy host, a slow DynamoDB answer) the overdue slots are spread out again instead of
    /// firing together, which would put more than SR's limit into one of its one-second windows.
    last_start_ms: u64,
}

impl<'p> Batch<'p> {
    fn new(pacer: &'p Pacer, parsed: &[Option<QueueMessage>], budget: Budget) -> Self {
        let mut planned = HashMap::new();
        for message in parsed.iter().flatten() {
            let QueueMessage::Result { company_id, .. } = message else {
                continue; // enrichment reserves its own SR call slots
            };
            *planned.entry(company_id.clone()).or_insert(0) += 1;
        }
        Self {
            pacer,
            budget,
            planned,
            schedules: Mutex::new(HashMap::new()),
            records: Mutex::new(Vec::new()),
        }
    }

    /// Waits for this company's next SR call slot. `Err(wait)` when the wait would be too long
    /// or SR throttled the company in this batch: retry the message after `wait` instead.
    async fn slot(&self, company_id: &str) -> Result<(), Duration> {
        let schedule = self
            .schedules
            .lock()
            .await
            .entry(company_id.to_owned())
            .or_default()
            .clone();
        let start = {
            let mut s = schedule.lock().await;
            if let Some(until) = s.throttled_until {
                return Err(until
                    .saturating_duration_since(Instant::now())
                    .max(Duration::from_millis(200)));
            }
            let exhausted = s.slots.is_none_or(|slots| s.used >= slots.count);
            if exhausted {
                let want = self.planned.get(company_id).copied().unwrap_or(1).max(1);
                match self.pacer.reserve(company_id, want).await {
                    Ok(slots) => {
                        s.slots = Some(slots);
                        s.used = 0;
                    }
                    Err(e) => {
                        // Without the shared schedule, go slowly rather than not at all.
                        tracing::warn!(error = %e, "could not reserve SR call slots; pacing locally");
                        s.slots = Some(Slots {
                            start_ms: pacing::now_ms(),
                            interval: self.pacer.interval() * 2,
                            count: want,
                        });
                        s.used = 0;
                    }
                }
            }
            let slots = s.slots.expect("set above");
            let index = s.used;
            s.used += 1;
            let spaced = s.last_start_ms + slots.interval.as_millis() as u64;
            let start = slots.at_ms(index).max(spaced);
            s.last_start_ms = start;
            start
        };
        let wait = Duration::from_millis(start.saturating_sub(pacing::now_ms()));
        if wait > pacing::MAX_WAIT {
            return Err(wait);
        }
        tokio::time::sleep(wait).await;
        Ok(())
    }

    async fn throttle(&self, company_id: &str, wait: Duration) {
        let schedule = self
            .schedules
            .lock()
            .await
            .entry(company_id.to_owned())
            .or_default()
            .clone();
        // `checked_add`: a wait past what `Instant` holds just means "not in this batch".
        let until = Instant::now().checked_add(wait);
        schedule.lock().await.throttled_until =
            Some(until.unwrap_or_else(|| Instant::now() + pacing::MAX_WAIT));
    }

    /// Queues the attempt for recording; a retrying state asks SQS to redeliver.
    async fn record(
        &self,
        order: &Order,
        version: u64,
        sr_status_code: Option<u16>,
        outcome: DeliveryState,
        detail: Option<String>,
    ) -> Outcome {
        let attempt = DeliveryAttempt {
            version,
            at: Utc::now(),
            sr_status_code,
            outcome,
            detail,
            result_status: order.result_status(),
        };
        self.records.lock().await.push(DeliveryRecord {
            order_id: order.order_id.clone(),
            attempt,
        });
        match outcome {
            DeliveryState::Retrying => Outcome::RETRY,
            _ => Outcome::Done,
        }
    }

    /// A transient failure: RETRYING, or FAILED on the last receive (the message is about to go
    /// to the dead-letter queue; `connector dlq redrive` brings it back).
    async fn record_retry(
        &self,
        order: &Order,
        version: u64,
        sr_status_code: Option<u16>,
        detail: String,
        last_receive: bool,
    ) -> Outcome {
        if last_receive {
            let detail =
                format!("{detail}; retries exhausted, the message is in the dead-letter queue");
            self.record(
                order,
                version,
                sr_status_code,
                DeliveryState::Failed,
                Some(detail),
            )
            .await;
            return Outcome::RETRY;
        }
        self.record(
            order,
            version,
            sr_status_code,
            DeliveryState::Retrying,
            Some(detail),
        )
        .await
    }
}

fn parse(message: &SqsMessage) -> Option<QueueMessage> {
    let body = message.body.as_deref().unwrap_or_default();
    match serde_json::from_str::<QueueMessage>(body) {
        Ok(m) => Some(m),
        Err(e) => {
            tracing::error!(message_id = ?message.message_id, error = %e, "unreadable queue message");
            None
        }
    }
}
