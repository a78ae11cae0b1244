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
//!
//! How far under SR's limit the schedule runs is learnt from SR's answers. Calls are normally
//! spaced 0.75% slower than the limit ([`MARGIN`]): 100.76 ms apart at 10/s, so 11 calls span
//! 1,007.6 ms and an 11th call reaches one of SR's one-second windows only if calls a second
//! apart arrive more than 7.5 ms out of step, while the steady rate stays at 0.9925× of the
//! limit (`make bench` measures the rate over a run, start-up included). Where that is not
//! enough (a slower network path to SR, a busier host), SR answers a 429: the item then also
//! holds `careful_until_ms`, and for [`CAREFUL_FOR`] every instance spaces the company's calls 3%
//! slower ([`CAREFUL_MARGIN`], 31 ms out of step tolerated), renewed by each later 429. So a
//! company is delivered at 0.9925× of SR's limit while SR answers no 429, and at 0.97× for a
//! while after one. An instance learns of another's 429 from the item its next reservation
//! answers, so the reservation after that one is careful; the slots it reserved until then
//! keep their spacing (a batch's worth or two).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};

use crate::store::{Store, StoreError};

/// SR's documented limit per credential.
pub const SR_REQUESTS_PER_SECOND: u32 = 10;

/// Reservations further ahead than this are not slept through: the messages are retried later
/// instead, so an invocation never idles for long (and never nears the Lambda timeout).
pub const MAX_WAIT: Duration = Duration::from_secs(20);

/// The share of SR's limit the schedule uses while SR has not answered a 429 (module docs).
pub const MARGIN: f64 = 0.9925;

/// The share used for [`CAREFUL_FOR`] after a 429: 31 ms of arrival jitter tolerated at 10/s.
pub const CAREFUL_MARGIN: f64 = 0.97;

/// How long a company's calls stay at [`CAREFUL_MARGIN`] after SR's last 429 for it.
pub const CAREFUL_FOR: Duration = Duration::from_secs(15 * 60);

/// How long a company's calls hold back after SR's 429: SR's `Retry-After` (or
/// `X-RateLimit-Reset`), 1 s when it gave neither, never less than 200 ms.
pub fn wait_after_429(retry_after: Option<Duration>) -> Duration {
    retry_after
        .unwrap_or(Duration::from_secs(1))
        .max(Duration::from_millis(200))
}

/// The spacing between two calls of one credential when the schedule uses `margin` of the
/// limit (`margin` in (0, 1]; [`MARGIN`] or [`CAREFUL_MARGIN`]).
pub fn interval_for(requests_per_second: u32, margin: f64) -> Duration {
    let per_second = requests_per_second.max(1) as f64 * margin;
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
    /// The spacing while SR answers no 429 ([`MARGIN`]).
    interval: Duration,
    /// The spacing for [`CAREFUL_FOR`] after a 429 ([`CAREFUL_MARGIN`]).
    careful_interval: Duration,
    /// What this instance last saw of each company's schedule item.
    seen: Arc<Mutex<HashMap<String, Seen>>>,
}

/// What one instance last saw of a company's schedule item (epoch milliseconds).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Seen {
    /// Where the schedule ended after this instance's last reservation: it picks which update to
    /// try first, so both a trickle (schedule idle) and a burst (schedule busy) cost one call.
    end_ms: u64,
    /// Until when the company's calls are spaced at [`CAREFUL_MARGIN`] (`0`: never were).
    careful_until_ms: u64,
}

impl Pacer {
    pub fn new(store: Store, requests_per_second: u32) -> Self {
        Self {
            store,
            interval: interval_for(requests_per_second, MARGIN),
            careful_interval: interval_for(requests_per_second, CAREFUL_MARGIN),
            seen: Default::default(),
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

    /// The spacing while SR answers no 429 ([`MARGIN`] of the limit).
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// The spacing after a 429 ([`CAREFUL_MARGIN`] of the limit).
    pub fn careful_interval(&self) -> Duration {
        self.careful_interval
    }

    /// Reserves `count` consecutive call slots for `company_id`, usually with one `UpdateItem`:
    /// a conditional "start now" when the schedule looks idle, an atomic `ADD` when it looks
    /// busy; a wrong guess costs a second call. Idle time is never banked as a burst.
    ///
    /// The slots are spaced by [`Self::careful_interval`] while this instance knows of a 429 in
    /// the last [`CAREFUL_FOR`], else by [`Self::interval`]. An instance learns of another's 429
    /// from the item each reservation answers, so its next reservation is careful too.
    pub async fn reserve(&self, company_id: &str, count: u32) -> Result<Slots, StoreError> {
        let seen = self.seen(company_id);
        let interval = match seen.careful_until_ms > now_ms() {
            true => self.careful_interval,
            false => self.interval,
        };
        let (slots, item) = self
            .reserve_uncached(company_id, count, interval, seen)
            .await?;
        self.remember(company_id, Some(slots.at_ms(count)), item.careful_until_ms);
        Ok(slots)
    }

    async fn reserve_uncached(
        &self,
        company_id: &str,
        count: u32,
        interval: Duration,
        seen: Seen,
    ) -> Result<(Slots, Item), StoreError> {
        let slots = |start_ms| Slots {
            start_ms,
            interval,
            count,
        };
        let span = slots(0).at_ms(count);
        let now = now_ms();
        if seen.end_ms <= now {
            if let Some(item) = self.start_if_idle(company_id, now, span).await? {
                return Ok((slots(now), item));
            }
        }
        let item = self.add(company_id, span).await?;
        let start = item.next_ms.saturating_sub(span);
        let now = now_ms();
        if start >= now {
            return Ok((slots(start), item));
        }
        // Idle: restart the schedule at now, unless someone else reserved meanwhile.
        let restarted = now + span;
        match self.restart(company_id, item.next_ms, restarted).await? {
            true => Ok((slots(now), item)),
            false => {
                let item = self.add(company_id, span).await?;
                Ok((slots(item.next_ms.saturating_sub(span).max(now)), item))
            }
        }
    }

    /// Moves the schedule to `until_ms` at the earliest (after SR's 429 with `Retry-After`), so
    /// every instance holds back, not only the one that was refused, and spaces the company's
    /// calls at [`CAREFUL_MARGIN`] for the next [`CAREFUL_FOR`]. Usually one `UpdateItem`; two
    /// when the schedule already ran past `until_ms`.
    pub async fn hold_until(&self, company_id: &str, until_ms: u64) -> Result<(), StoreError> {
        let careful_until_ms = ms_after(CAREFUL_FOR);
        self.remember(company_id, None, careful_until_ms);
        let held = self
            .update(
                company_id,
                "SET next_ms = :next, careful_until_ms = :careful",
                Some("attribute_not_exists(next_ms) OR next_ms < :until"),
                &[
                    (":next", until_ms),
                    (":until", until_ms),
                    (":careful", careful_until_ms),
                ],
            )
            .await?;
        if held.is_none() {
            // Already reserved past `until_ms`: only the spacing changes.
            self.update(
                company_id,
                "SET careful_until_ms = :careful",
                None,
                &[(":careful", careful_until_ms)],
            )
            .await?;
        }
        Ok(())
    }

    fn seen(&self, company_id: &str) -> Seen {
        let seen = self.seen.lock().expect("never poisoned");
        seen.get(company_id).copied().unwrap_or_default()
    }

    /// Keeps where the schedule ended when `end_ms` is given, and the later of the careful
    /// times (a reservation answered before this instance's own 429 must not undo it).
    fn remember(&self, company_id: &str, end_ms: Option<u64>, careful_until_ms: u64) {
        let mut all = self.seen.lock().expect("never poisoned");
        let seen = all.entry(company_id.to_owned()).or_default();
        if let Some(end_ms) = end_ms {
            seen.end_ms = end_ms;
        }
        seen.careful_until_ms = seen.careful_until_ms.max(careful_until_ms);
    }

    /// Atomically moves `next_ms` forward by `span` and answers the item as updated.
    async fn add(&self, company_id: &str, span: u64) -> Result<Item, StoreError> {
        self.update(company_id, "ADD next_ms :span", None, &[(":span", span)])
            .await
            .map(Option::unwrap_or_default)
    }

    /// Starts the schedule at `now` if it is idle (absent or in the past).
    async fn start_if_idle(
        &self,
        company_id: &str,
        now: u64,
        span: u64,
    ) -> Result<Option<Item>, StoreError> {
        self.update(
            company_id,
            "SET next_ms = :next",
            Some("attribute_not_exists(next_ms) OR next_ms <= :now"),
            &[(":next", now + span), (":now", now)],
        )
        .await
    }

    /// Sets `next_ms` to `to` if it still is `expected`.
    async fn restart(&self, company_id: &str, expected: u64, to: u64) -> Result<bool, StoreError> {
        self.update(
            company_id,
            "SET next_ms = :next",
            Some("next_ms = :expected"),
            &[(":next", to), (":expected", expected)],
        )
        .await
        .map(|item| item.is_some())
    }

    /// One `UpdateItem` of the company's schedule item, answering the item as updated;
    /// `Ok(None)` when `condition` did not hold.
    async fn update(
        &self,
        company_id: &str,
        expression: &str,
        condition: Option<&str>,
        values: &[(&str, u64)],
    ) -> Result<Option<Item>, StoreError> {
        let mut update = self
            .store
            .db()
            .update_item()
            .table_name(self.store.table())
            .set_key(Some(key(company_id)))
            .update_expression(expression)
            .set_condition_expression(condition.map(str::to_owned))
            .return_values(ReturnValue::AllNew);
        for (name, value) in values {
            update = update.expression_attribute_values(*name, number(*value));
        }
        match update.send().await {
            Ok(output) => Ok(Some(Item::of(output.attributes.as_ref()))),
            Err(e) if is_conditional(&e) => Ok(None),
            Err(e) => Err(StoreError::service(e)),
        }
    }
}

/// The schedule item's numbers (epoch milliseconds; absent reads as `0`).
#[derive(Clone, Copy, Debug, Default)]
struct Item {
    next_ms: u64,
    careful_until_ms: u64,
}

impl Item {
    fn of(attributes: Option<&HashMap<String, AttributeValue>>) -> Self {
        let number = |name: &str| {
            attributes
                .and_then(|a| a.get(name))
                .and_then(|v| v.as_n().ok())
                .and_then(|n| n.parse().ok())
                .unwrap_or_default()
        };
        Self {
            next_ms: number("next_ms"),
            careful_until_ms: number("careful_until_ms"),
        }
    }
}

fn key(company_id: &str) -> HashMap<String, AttributeValue> {
    let (pk, sk) = crate::store::keys::pacing(company_id);
    HashMap::from([
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
        // Eleven calls span a second plus 7.5 ms normally, plus 31 ms when careful.
        let i = interval_for(10, MARGIN);
        assert_eq!((i * 10).as_micros(), 1_007_556);
        let careful = interval_for(10, CAREFUL_MARGIN);
        assert_eq!((careful * 10).as_millis(), 1_030);
        assert_eq!(interval_for(0, MARGIN), interval_for(1, MARGIN));
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

    #[test]
    fn a_429_holds_back_for_srs_wait_or_a_second_never_less_than_200_ms() {
        assert_eq!(wait_after_429(None), Duration::from_secs(1));
        assert_eq!(
            wait_after_429(Some(Duration::from_secs(7))),
            Duration::from_secs(7)
        );
        assert_eq!(
            wait_after_429(Some(Duration::ZERO)),
            Duration::from_millis(200)
        );
    }

    #[test]
    fn an_instance_keeps_the_later_careful_time_it_has_seen() {
        let config = aws_sdk_dynamodb::Config::builder()
            .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
            .region(aws_sdk_dynamodb::config::Region::new("eu-west-1"))
            .build();
        let store = Store::new(aws_sdk_dynamodb::Client::from_conf(config), "connector");
        let pacer = Pacer::new(store, 10);
        // Its own 429, then a reservation DynamoDB answered before that 429's hold landed.
        pacer.remember("c", None, 5_000);
        pacer.remember("c", Some(1_200), 0);
        assert_eq!(
            pacer.seen("c"),
            Seen {
                end_ms: 1_200,
                careful_until_ms: 5_000
            }
        );
    }
}
