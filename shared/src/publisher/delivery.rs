//! Delivering one stored result to SR: the final-status check, the order's files, then
//! `PATCH /orders/{orderId}/results` with the company's credentials, each SR call on a slot of
//! the company's schedule (`super::batch`), and what SR's answer means for the message
//! (delivered, failed for good, or retried: RETRYING, or FAILED on the last receive).

use std::time::Duration;

use chrono::Utc;

use super::batch::{Batch, Detail};
use super::{Outcome, ResultPublisher};
use crate::metrics::{self, Metric};
use crate::orders::{DeliveryState, Order};
use crate::pacing;
use crate::secrets::SecretError;
use crate::sr::client::SrAnswer;
use crate::sr::{SrClientError, SrCredentials};

/// The PATCH starts only with this much budget left: the SR client's request timeout.
const PATCH_TIME: Duration = Duration::from_secs(10);

impl ResultPublisher {
    pub(super) async fn deliver(
        &self,
        d: Delivery<'_>,
        order: Option<&Order>,
        batch: &Batch<'_>,
    ) -> Outcome {
        let Some(order) = order else {
            tracing::error!(
                order_id = d.order_id,
                company_id = d.company_id,
                "queued result for an order that does not exist"
            );
            return Outcome::Done;
        };
        if order.erased_at.is_some() {
            // The candidate's data was erased while the result waited in the queue: SR does
            // not get it (the order keeps no result details to send anyway).
            tracing::info!(
                order_id = d.order_id,
                company_id = d.company_id,
                "order erased; its queued result is not delivered"
            );
            return Outcome::Done;
        }
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
                    .record(
                        order,
                        version,
                        None,
                        DeliveryState::Failed,
                        Some(Detail::Ours(detail)),
                    )
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
                        Some(Detail::Ours(detail.into())),
                    )
                    .await;
            }
            Err(e) => {
                tracing::warn!(order_id = d.order_id, error = %e, "could not read company credentials; will retry");
                // The AWS error stays in the log: the detail is shown to the vendor.
                let detail = "the company's SmartRecruiters credentials could not be read";
                return batch
                    .record_retry(
                        order,
                        version,
                        None,
                        Detail::Ours(detail.into()),
                        d.last_receive,
                    )
                    .await;
            }
        };
        match error {
            Sending::Paced(wait) => Outcome::Retry { after: Some(wait) },
            Sending::Files(error) => {
                tracing::warn!(order_id = d.order_id, company_id = %order.company_id, version, error = %error.for_log(), "attachments not uploaded yet; will retry");
                let mut after = error.retry_after();
                if error.is_paced() {
                    return Outcome::Retry { after };
                }
                if error.sr_status() == Some(429) {
                    after = Some(self.rate_limited(order, after, batch).await);
                }
                // The file's name, and SR's answer to its upload.
                let detail = Detail::Quoting(error.to_string());
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
        // Room among the calls in flight first, then the slot: the call starts at its slot, not
        // at a later time the permit would have decided (a late call would crowd the next ones
        // into one of SR's seconds).
        let paced = || async {
            let permit = self.in_flight.acquire().await.expect("never closed");
            batch.slot(&order.company_id).await?;
            Ok(permit)
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
        let _permit = self.in_flight.acquire().await.expect("never closed");
        batch
            .slot(&order.company_id)
            .await
            .map_err(Sending::Paced)?;
        self.sr
            .patch_result(&credentials, &order.order_id, result)
            .await
            .map_err(Sending::Sr)
    }

    /// SR answered 429 for the company: every instance holds back until SR's reset (and spaces
    /// the company's calls carefully for a while, `pacing`), and so does this batch for the
    /// rest of the company's messages. The wait before the message is retried.
    async fn rate_limited(
        &self,
        order: &Order,
        retry_after: Option<Duration>,
        batch: &Batch<'_>,
    ) -> Duration {
        let wait = pacing::wait_after_429(retry_after);
        // This batch first (no DynamoDB call in the way), then every other instance.
        batch.throttle(&order.company_id, wait).await;
        if let Err(e) = self
            .pacer
            .hold_until(&order.company_id, pacing::ms_after(wait))
            .await
        {
            tracing::warn!(error = %e, "could not hold the shared SR schedule");
        }
        wait
    }

    async fn failed(
        &self,
        order: &Order,
        version: u64,
        error: SrClientError,
        last_receive: bool,
        batch: &Batch<'_>,
    ) -> Outcome {
        tracing::warn!(order_id = %order.order_id, company_id = %order.company_id, version, error = %error.for_log(), "result delivery failed");
        let status = error.status();
        match error {
            SrClientError::Rejected { .. } => {
                batch
                    .record(
                        order,
                        version,
                        status,
                        DeliveryState::Failed,
                        Some(Detail::Quoting(error.to_string())),
                    )
                    .await
            }
            SrClientError::CredentialsRefused { .. } => {
                // The secret was read again already and still holds what SR refused.
                batch
                    .record_retry(
                        order,
                        version,
                        status,
                        Detail::Ours(error.to_string()),
                        last_receive,
                    )
                    .await
            }
            SrClientError::Transient { retry_after, .. } => {
                let outcome = batch
                    .record_retry(
                        order,
                        version,
                        status,
                        Detail::Ours(error.to_string()),
                        last_receive,
                    )
                    .await;
                if status != Some(429) {
                    return outcome;
                }
                let wait = self.rate_limited(order, retry_after, batch).await;
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
pub(super) struct Delivery<'a> {
    pub(super) order_id: &'a str,
    pub(super) company_id: &'a str,
    pub(super) version: u64,
    /// SQS will not hand this message out again: a retry now sends it to the DLQ.
    pub(super) last_receive: bool,
}
