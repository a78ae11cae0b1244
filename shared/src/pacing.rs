//! Pacing SR calls per company credential across every concurrent publisher invocation.
//!
//! SR allows 10 requests/s per credential and answers 429 beyond that. Lambda runs several
//! publisher instances at once (up to the event source mapping's `MaximumConcurrency`), so a
//! limiter inside one process is not enough. This is a shared schedule kept in DynamoDB (a GCRA,
//! "generic cell rate algorithm"): one item per company holds `next_ms`, the earliest time the
//! next SR call may start. An instance about to make `n` calls reserves `n` consecutive slots with
//! one atomic `ADD`, then waits for each slot. Reserving for a whole batch costs one DynamoDB call
//! per company per batch, not per result. A 429 pushes `next_ms` past SR's `Retry-After`, so every
//! instance pauses together.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};

use crate::store::{Store, StoreError};

/// SR's documented limit per credential.
pub const SR_REQUESTS_PER_SECOND: u32 = 10;

/// Reservations further ahead than this are not slept through: the messages are retried later
/// instead, so an invocation never idles for long (and never nears the Lambda timeout).
pub const MAX_WAIT: Duration = Duration::from_secs(20);

/// The spacing between two calls of one credential. 3% slower than the limit so that clock
/// jitter between our slots and SR's one-second windows does not spill an 11th call into a
/// window.
pub fn interval_for(requests_per_second: u32) -> Duration {
    let per_second = requests_per_second.max(1) as f64 * 0.97;
    Duration::from_secs_f64(1.0 / per_second)
}

/// Slots reserved for one company: call `i` may start at `start + i · interval`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slots {
    pub start_ms: u64,
    pub interval: Duration,
    pub count: u32,
}

impl Slots {
    /// When call `i` (0-based) may start, in epoch milliseconds.
    pub fn at_ms(&self, i: u32) -> u64 {
        self.start_ms + (self.interval.as_secs_f64() * 1000.0 * i as f64).round() as u64
    }

    /// How long from `now_ms` until the first slot.
    pub fn wait_from(&self, now_ms: u64) -> Duration {
        Duration::from_millis(self.start_ms.saturating_sub(now_ms))
    }

    /// Sleeps until call `i` may start.
    pub async fn wait_for(&self, i: u32) {
        let wait = self.at_ms(i).saturating_sub(now_ms());
        if wait > 0 {
            tokio::time::sleep(Duration::from_millis(wait)).await;
        }
    }
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}

/// Epoch milliseconds `wait` from now, saturating: `wait` may come from SR's headers.
pub fn ms_after(wait: Duration) -> u64 {
    now_ms().saturating_add(u64::try_from(wait.as_millis()).unwrap_or(u64::MAX))
}

/// The shared per-company schedule.
#[derive(Clone, Debug)]
pub struct Pacer {
    store: Store,
    interval: Duration,
    /// Where this instance last saw each company's schedule end: it picks which update to try
    /// first, so both a trickle (schedule idle) and a burst (schedule busy) cost one call.
    last_end: std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, u64>>>,
}

impl Pacer {
    pub fn new(store: Store, requests_per_second: u32) -> Self {
        Self {
            store,
            interval: interval_for(requests_per_second),
            last_end: Default::default(),
        }
    }

    /// `SR_RATE_LIMIT_PER_SECOND` (default 10, SR's limit).
    pub fn from_env(store: Store) -> Self {
        let limit = std::env::var("SR_RATE_LIMIT_PER_SECOND")
            .ok()
            .and_then(|v| v.parse().ok())
            .filter(|v: &u32| *v > 0)
            .unwrap_or(SR_REQUESTS_PER_SECOND);
        Self::new(store, limit)
    }

    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// Reserves `count` consecutive call slots for `company_id`, usually with one `UpdateItem`:
    /// a conditional "start now" when the schedule looks idle, an atomic `ADD` when it looks
    /// busy; a wrong guess costs a second call. Idle time is never banked as a burst.
    pub async fn reserve(&self, company_id: &str, count: u32) -> Result<Slots, StoreError> {
        let slots = self.reserve_uncached(company_id, count).await?;
        self.last_end
            .lock()
            .expect("never poisoned")
            .insert(company_id.to_owned(), slots.at_ms(count));
        Ok(slots)
    }

    async fn reserve_uncached(&self, company_id: &str, count: u32) -> Result<Slots, StoreError> {
        let span = self.span_ms(count);
        let now = now_ms();
        let looks_idle = self
            .last_end
            .lock()
            .expect("never poisoned")
            .get(company_id)
            .is_none_or(|end| *end <= now);
        if looks_idle && self.start_if_idle(company_id, now, span).await? {
            return Ok(self.slots(now, count));
        }
        let end = self.add(company_id, span).await?;
        let start = end.saturating_sub(span);
        let now = now_ms();
        if start >= now {
            return Ok(self.slots(start, count));
        }
        // Idle: restart the schedule at now, unless someone else reserved meanwhile.
        let restarted = now + span;
        match self.restart(company_id, end, restarted).await? {
            true => Ok(self.slots(now, count)),
            false => {
                let end = self.add(company_id, span).await?;
                Ok(self.slots(end.saturating_sub(span).max(now), count))
            }
        }
    }

    /// Moves the schedule to `until_ms` at the earliest (after SR's 429 with `Retry-After`), so
    /// every instance holds back, not only the one that was refused.
    pub async fn hold_until(&self, company_id: &str, until_ms: u64) -> Result<(), StoreError> {
        self.set_if(
            company_id,
            "attribute_not_exists(next_ms) OR next_ms < :until",
            &[(":next", until_ms), (":until", until_ms)],
        )
        .await
        .map(|_| ())
    }

    fn span_ms(&self, count: u32) -> u64 {
        (self.interval.as_secs_f64() * 1000.0 * count as f64).round() as u64
    }

    fn slots(&self, start_ms: u64, count: u32) -> Slots {
        Slots {
            start_ms,
            interval: self.interval,
            count,
        }
    }

    /// Atomically moves `next_ms` forward by `span` and answers the new value.
    async fn add(&self, company_id: &str, span: u64) -> Result<u64, StoreError> {
        let output = self
            .store
            .db()
            .update_item()
            .table_name(self.store.table())
            .set_key(Some(key(company_id)))
            .update_expression("ADD next_ms :span")
            .expression_attribute_values(":span", number(span))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(StoreError::service)?;
        Ok(output
            .attributes
            .as_ref()
            .and_then(|a| a.get("next_ms"))
            .and_then(|v| v.as_n().ok())
            .and_then(|n| n.parse().ok())
            .unwrap_or_default())
    }

    /// Starts the schedule at `now` if it is idle (absent or in the past).
    async fn start_if_idle(
        &self,
        company_id: &str,
        now: u64,
        span: u64,
    ) -> Result<bool, StoreError> {
        self.set_if(
            company_id,
            "attribute_not_exists(next_ms) OR next_ms <= :now",
            &[(":next", now + span), (":now", now)],
        )
        .await
    }

    /// Sets `next_ms` to `to` if it still is `expected`.
    async fn restart(&self, company_id: &str, expected: u64, to: u64) -> Result<bool, StoreError> {
        self.set_if(
            company_id,
            "next_ms = :expected",
            &[(":next", to), (":expected", expected)],
        )
        .await
    }

    /// `SET next_ms = :next` under `condition`; `Ok(false)` when the condition did not hold.
    async fn set_if(
        &self,
        company_id: &str,
        condition: &str,
        values: &[(&str, u64)],
    ) -> Result<bool, StoreError> {
        let mut update = self
            .store
            .db()
            .update_item()
            .table_name(self.store.table())
            .set_key(Some(key(company_id)))
            .update_expression("SET next_ms = :next")
            .condition_expression(condition);
        for (name, value) in values {
            update = update.expression_attribute_values(*name, number(*value));
        }
        match update.send().await {
            Ok(_) => Ok(true),
            Err(e) if is_conditional(&e) => Ok(false),
            Err(e) => Err(StoreError::service(e)),
        }
    }
}

fn key(company_id: &str) -> std::collections::HashMap<String, AttributeValue> {
    let (pk, sk) = crate::store::keys::pacing(company_id);
    std::collections::HashMap::from([
        (crate::store::keys::PK.to_string(), AttributeValue::S(pk)),
        (crate::store::keys::SK.to_string(), AttributeValue::S(sk)),
    ])
}

fn number(n: u64) -> AttributeValue {
    AttributeValue::N(n.to_string())
}

fn is_conditional<E: aws_sdk_dynamodb::error::ProvideErrorMetadata>(
    e: &aws_sdk_dynamodb::error::SdkError<E>,
) -> bool {
    aws_sdk_dynamodb::error::ProvideErrorMetadata::code(e)
        == Some("ConditionalCheckFailedException")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_interval_stays_just_under_the_limit() {
        let i = interval_for(10);
        assert!(
            i > Duration::from_millis(100) && i < Duration::from_millis(105),
            "{i:?}"
        );
        assert_eq!(interval_for(0), interval_for(1));
    }

    #[test]
    fn slots_are_evenly_spaced_from_their_start() {
        let slots = Slots {
            start_ms: 1_000,
            interval: Duration::from_millis(100),
            count: 3,
        };
        assert_eq!(slots.at_ms(0), 1_000);
        assert_eq!(slots.at_ms(2), 1_200);
        assert_eq!(slots.wait_from(900), Duration::from_millis(100));
        assert_eq!(slots.wait_from(5_000), Duration::ZERO);
    }
}
