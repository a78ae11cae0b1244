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
use std::time::Duration;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use chrono::Utc;
use lambda_runtime::LambdaEvent;
use tokio::sync::Semaphore;

use crate::aws::LazyAwsClients;
use crate::backoff::Backoff;
use crate::budget::Budget;
use crate::config::Config;
use crate::enrichment::Enricher;
use crate::metrics::{self, Metric};
use crate::notifications::Notifications;
use crate::orders::{DeliveryState, Order};
use crate::pacing::Pacer;
use crate::queue::QueueMessage;
use crate::secrets::{CredentialCache, Secrets};
use crate::sqs_batch::{self, SqsBatchRunner};
use crate::sr::SrClient;
use crate::store::Store;

mod batch;
mod delivery;

use batch::Batch;
use delivery::Delivery;

/// The outcome of one message (the one outcome of every queue consumer, `crate::sqs_batch`).
pub use crate::sqs_batch::Outcome;

/// What recording a batch's outcomes needs after its last SR call (a `TransactWriteItems`,
/// `ChangeMessageVisibilityBatch`, the `delivery.failed` events): kept out of the time budget.
const RECORDING_RESERVE: Duration = Duration::from_secs(5);

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
    pub fn with_redelivery(
        mut self,
        sqs: impl Into<crate::aws::LazyClient<aws_sdk_sqs::Client>>,
        queue_urls: Vec<String>,
    ) -> Self {
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
        let aws = LazyAwsClients::from_env().await;
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
        let records = batch.take_records().await;
        let recorded = self.store.record_deliveries(&records, Utc::now()).await;
        for (record, written) in records.iter().zip(recorded) {
            let attempt = &record.attempt;
            let written = match written {
                // Erased while the attempt was in flight: nothing of it goes to the vendor.
                Ok(crate::store::AttemptRecorded::OrderErased) => continue,
                Ok(crate::store::AttemptRecorded::Stored) => Ok(()),
                Err(e) => Err(e),
            };
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
