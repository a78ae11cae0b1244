//! The state one batch's deliveries share: the SR call slots each company's messages reserve
//! on the shared schedule (`crate::pacing`), the companies SR throttled during the batch, and the
//! delivery attempts recorded together at its end (one `TransactWriteItems`).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use tokio::sync::Mutex;

use super::Outcome;
use crate::budget::Budget;
use crate::orders::{DeliveryAttempt, DeliveryState, Order};
use crate::pacing::{self, Pacer, Slots};
use crate::queue::QueueMessage;
use crate::store::DeliveryRecord;

/// An attempt's `detail`, by whose words it holds.
#[derive(Debug)]
pub(super) enum Detail {
    /// The connector's own words (a status, a host, a rule): nothing an erasure removes.
    Ours(String),
    /// SR's answer or a file's name, which may quote the candidate: cleared by an erasure, and
    /// never stored once the order is erased (`Store::record_deliveries`).
    Quoting(String),
}

impl Detail {
    fn into_text(self) -> String {
        match self {
            Detail::Ours(text) | Detail::Quoting(text) => text,
        }
    }

    fn map(self, f: impl FnOnce(String) -> String) -> Self {
        match self {
            Detail::Ours(text) => Detail::Ours(f(text)),
            Detail::Quoting(text) => Detail::Quoting(f(text)),
        }
    }
}

/// Per-batch state shared by the concurrent deliveries: SR call slots per company, companies SR
/// throttled, and the attempts to record at the end.
pub(super) struct Batch<'p> {
    pacer: &'p Pacer,
    /// What this invocation may still spend on SR calls and downloads.
    pub(super) budget: Budget,
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
    /// When this batch's last call for the company was let go (epoch ms): at its slot, or at
    /// once when the slot had passed (its task waited for room among the calls in flight, or
    /// for a slow answer). Overdue calls are so spread out again, an interval apart, instead of
    /// firing together, which would put more than SR's limit into one of its one-second
    /// windows. A call that oversleeps its slot is not seen here.
    last_start_ms: u64,
}

impl<'p> Batch<'p> {
    pub(super) fn new(pacer: &'p Pacer, parsed: &[Option<QueueMessage>], budget: Budget) -> Self {
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

    /// This batch's schedule for the company's SR calls (one lock per company, so companies
    /// never wait on each other).
    async fn schedule(&self, company_id: &str) -> Arc<Mutex<Schedule>> {
        self.schedules
            .lock()
            .await
            .entry(company_id.to_owned())
            .or_default()
            .clone()
    }

    /// Waits for this company's next SR call slot. `Err(wait)` when the wait would be too long
    /// or SR throttled the company in this batch: retry the message after `wait` instead.
    pub(super) async fn slot(&self, company_id: &str) -> Result<(), Duration> {
        let schedule = self.schedule(company_id).await;
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
            s.last_start_ms = start.max(pacing::now_ms());
            start
        };
        let wait = Duration::from_millis(start.saturating_sub(pacing::now_ms()));
        if wait > pacing::MAX_WAIT {
            return Err(wait);
        }
        tokio::time::sleep(wait).await;
        Ok(())
    }

    /// SR throttled the company: its later calls in this batch are retried after `wait`.
    pub(super) async fn throttle(&self, company_id: &str, wait: Duration) {
        let schedule = self.schedule(company_id).await;
        // `checked_add`: a wait past what `Instant` holds just means "not in this batch".
        let until = Instant::now().checked_add(wait);
        schedule.lock().await.throttled_until =
            Some(until.unwrap_or_else(|| Instant::now() + pacing::MAX_WAIT));
    }

    /// The attempts queued for recording, taken out once every delivery of the batch is done.
    pub(super) async fn take_records(&self) -> Vec<DeliveryRecord> {
        std::mem::take(&mut *self.records.lock().await)
    }

    /// Queues the attempt for recording; a retrying state asks SQS to redeliver.
    pub(super) async fn record(
        &self,
        order: &Order,
        version: u64,
        sr_status_code: Option<u16>,
        outcome: DeliveryState,
        detail: Option<Detail>,
    ) -> Outcome {
        let detail_is_ours = !matches!(detail, Some(Detail::Quoting(_)));
        let attempt = DeliveryAttempt {
            version,
            at: Utc::now(),
            sr_status_code,
            outcome,
            detail: detail.map(Detail::into_text),
            result_status: order.result_status(),
        };
        let record = DeliveryRecord {
            detail_is_ours,
            ..DeliveryRecord::of(order, attempt)
        };
        self.records.lock().await.push(record);
        match outcome {
            DeliveryState::Retrying => Outcome::RETRY,
            _ => Outcome::Done,
        }
    }

    /// A transient failure: RETRYING, or FAILED on the last receive (the message is about to go
    /// to the dead-letter queue; `connector dlq redrive` brings it back).
    pub(super) async fn record_retry(
        &self,
        order: &Order,
        version: u64,
        sr_status_code: Option<u16>,
        detail: Detail,
        last_receive: bool,
    ) -> Outcome {
        if last_receive {
            let detail = detail.map(|text| {
                format!("{text}; retries exhausted, the message is in the dead-letter queue")
            });
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
