//! The SQS-triggered result publisher: delivers stored results to SR's
//! `PATCH /orders/{orderId}/results`, never losing one and never regressing what SR shows.
//!
//! Per message: one conditional DynamoDB update claims the result version (a stale message loses
//! the claim and is dropped), one SR PATCH, one DynamoDB update records the attempt. Transient SR
//! failures are reported as batch item failures, so SQS redelivers them and, after the queue's
//! `maxReceiveCount`, moves them to the dead-letter queue.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use chrono::Utc;
use lambda_runtime::LambdaEvent;
use tokio::sync::Mutex;

use crate::aws::AwsClients;
use crate::config::Config;
use crate::metrics::{self, Metric};
use crate::orders::{DeliveryAttempt, DeliveryState};
use crate::queue::QueueMessage;
use crate::secrets::{CompanyCredentials, SecretError, Secrets};
use crate::sr::{SrClient, SrClientError};
use crate::store::{ClaimOutcome, Store};

/// Company credentials are re-read after this long, so rotated credentials are picked up.
const CREDENTIALS_CACHE_FOR: Duration = Duration::from_secs(300);

/// What became of one message.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Done with it (delivered, stale, or permanently refused): delete the message.
    Done,
    /// Try again later: report it as a batch item failure.
    Retry,
}

pub struct ResultPublisher {
    /// The results queue's `maxReceiveCount` (`MAX_RECEIVE_COUNT`, default 10): a retry on the
    /// last receive means SQS moves the message to the dead-letter queue.
    max_receive_count: u32,
    store: Store,
    secrets: Secrets,
    sr: SrClient,
    credentials: Mutex<HashMap<String, (CompanyCredentials, Instant)>>,
}

impl ResultPublisher {
    pub fn new(store: Store, secrets: Secrets, sr: SrClient) -> Self {
        Self {
            max_receive_count: std::env::var("MAX_RECEIVE_COUNT")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(10),
            store,
            secrets,
            sr,
            credentials: Mutex::new(HashMap::new()),
        }
    }

    pub async fn from_env() -> Result<Self, lambda_runtime::Error> {
        let config = Config::from_env()?;
        let aws = AwsClients::from_env().await;
        Ok(Self::new(
            Store::new(aws.dynamodb, config.table_name),
            Secrets::new(aws.secrets, config.secret_prefix),
            SrClient::new(config.sr),
        ))
    }

    /// The Lambda handler: a partial batch response naming the messages to retry.
    pub async fn handle(
        &self,
        event: LambdaEvent<SqsEvent>,
    ) -> Result<SqsBatchResponse, lambda_runtime::Error> {
        let mut response = SqsBatchResponse::default();
        for message in &event.payload.records {
            if self.process(message).await == Outcome::Retry {
                response.add_failure(message.message_id.clone().unwrap_or_default());
            }
        }
        Ok(response)
    }

    pub async fn process(&self, message: &SqsMessage) -> Outcome {
        let outcome = self.deliver_message(message).await;
        if outcome == Outcome::Retry {
            let mut values = vec![(Metric::DeliveryRetries, 1.0)];
            if receive_count(message) >= self.max_receive_count {
                // This was the last receive SQS allows: the message moves to the DLQ now.
                tracing::error!(message_id = ?message.message_id, "retries exhausted; the message goes to the dead-letter queue");
                values.push((Metric::DlqMoves, 1.0));
            }
            metrics::emit(&values);
        }
        outcome
    }

    async fn deliver_message(&self, message: &SqsMessage) -> Outcome {
        let body = message.body.as_deref().unwrap_or_default();
        match serde_json::from_str::<QueueMessage>(body) {
            Ok(QueueMessage::Result {
                order_id,
                company_id,
                version,
            }) => self.deliver(&order_id, &company_id, version).await,
            Err(e) => {
                // Retried until the queue moves it to the DLQ, where an operator can look at it.
                tracing::error!(message_id = ?message.message_id, error = %e, "unreadable queue message");
                Outcome::Retry
            }
        }
    }

    async fn deliver(&self, order_id: &str, company_id: &str, version: u64) -> Outcome {
        let claim = match self
            .store
            .claim_delivery(order_id, version, Utc::now())
            .await
        {
            Ok(claim) => claim,
            Err(e) => {
                tracing::warn!(order_id, error = %e, "could not claim the result; will retry");
                return Outcome::Retry;
            }
        };
        let order = match claim {
            ClaimOutcome::Claimed(order) => order,
            ClaimOutcome::Superseded => {
                tracing::info!(
                    order_id,
                    company_id,
                    version,
                    "a newer result was already sent; skipping this one"
                );
                return Outcome::Done;
            }
            ClaimOutcome::Missing => {
                tracing::error!(
                    order_id,
                    company_id,
                    "queued result for an order that does not exist"
                );
                return Outcome::Done;
            }
        };
        let Some(result) = order.result.as_ref() else {
            tracing::warn!(order_id, "order has no result to send");
            return Outcome::Done;
        };
        let credentials = match self.credentials_of(&order.company_id).await {
            Ok(c) => c,
            Err(SecretError::NotFound(_)) => {
                let detail =
                    "the company has no SmartRecruiters credentials (integration disabled?)";
                return self
                    .finish(
                        order_id,
                        version,
                        None,
                        DeliveryState::Failed,
                        Some(detail.into()),
                    )
                    .await;
            }
            Err(e) => {
                tracing::warn!(order_id, error = %e, "could not read company credentials; will retry");
                return self
                    .finish(
                        order_id,
                        version,
                        None,
                        DeliveryState::Retrying,
                        Some(e.to_string()),
                    )
                    .await;
            }
        };
        match self
            .sr
            .patch_result(&credentials.outbound, order_id, result)
            .await
        {
            Ok(answer) => {
                let submitted = order
                    .submissions
                    .iter()
                    .rev()
                    .find(|s| s.version == Some(order.result_version))
                    .map(|s| s.submitted_at);
                let mut values = vec![(Metric::ResultsDelivered, 1.0)];
                if let Some(at) = submitted {
                    let latency = (Utc::now() - at).num_milliseconds().max(0) as f64;
                    values.push((Metric::DeliveryLatency, latency));
                }
                metrics::emit(&values);
                tracing::info!(order_id, company_id = %order.company_id, version, sr_status = answer.status, "result delivered to SmartRecruiters");
                self.finish(
                    order_id,
                    version,
                    Some(answer.status),
                    DeliveryState::Delivered,
                    None,
                )
                .await
            }
            Err(error) => {
                if matches!(error, SrClientError::CredentialsRefused { .. }) {
                    self.credentials.lock().await.remove(&order.company_id);
                }
                let state = match &error {
                    SrClientError::Rejected { .. } => DeliveryState::Failed,
                    _ => DeliveryState::Retrying,
                };
                tracing::warn!(order_id, company_id = %order.company_id, version, error = %error, "result delivery failed");
                self.finish(
                    order_id,
                    version,
                    error.status(),
                    state,
                    Some(error.to_string()),
                )
                .await
            }
        }
    }

    /// Records the attempt; a retrying state asks SQS to redeliver.
    async fn finish(
        &self,
        order_id: &str,
        version: u64,
        sr_status_code: Option<u16>,
        outcome: DeliveryState,
        detail: Option<String>,
    ) -> Outcome {
        let now = Utc::now();
        let attempt = DeliveryAttempt {
            version,
            at: now,
            sr_status_code,
            outcome,
            detail,
        };
        if let Err(e) = self.store.record_delivery(order_id, &attempt, now).await {
            tracing::warn!(order_id, error = %e, "could not record the delivery attempt");
            // Delivered but not recorded: redelivery re-sends the same result, which is harmless.
            return Outcome::Retry;
        }
        match outcome {
            DeliveryState::Retrying => Outcome::Retry,
            _ => Outcome::Done,
        }
    }

    async fn credentials_of(&self, company_id: &str) -> Result<CompanyCredentials, SecretError> {
        let mut cache = self.credentials.lock().await;
        if let Some((credentials, at)) = cache.get(company_id) {
            if at.elapsed() < CREDENTIALS_CACHE_FOR {
                return Ok(credentials.clone());
            }
        }
        let credentials = self.secrets.company_credentials(company_id).await?;
        cache.insert(
            company_id.to_string(),
            (credentials.clone(), Instant::now()),
        );
        Ok(credentials)
    }
}

/// SQS's `ApproximateReceiveCount` of the message (1 on the first delivery).
fn receive_count(message: &SqsMessage) -> u32 {
    message
        .attributes
        .get("ApproximateReceiveCount")
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
}
