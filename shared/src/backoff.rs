//! When a queue consumer retries: exponential backoff with jitter, applied by changing the
//! failed messages' visibility so SQS redelivers each one at its own time.
//!
//! Without this, every failure would come back after the queue's fixed visibility timeout, so an
//! SR outage would burn through `maxReceiveCount` in minutes and a 429's `Retry-After` would be
//! ignored. With it, receive `n` waits about `base · 2^(n-1)` (capped), and the queue's receive
//! count budget spans hours (see shared/README.md "Delivery").

use std::time::Duration;

use aws_sdk_sqs::types::ChangeMessageVisibilityBatchRequestEntry;
use rand::Rng;

/// SQS refuses visibility timeouts above 12 hours.
const SQS_MAX_VISIBILITY: Duration = Duration::from_secs(12 * 60 * 60);

/// The backoff curve, from `BACKOFF_BASE_MS` / `BACKOFF_CAP_MS` (defaults 2 s and 15 min; the
/// local stack shortens them so fault tests finish quickly).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub base: Duration,
    pub cap: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            base: Duration::from_secs(2),
            cap: Duration::from_secs(15 * 60),
        }
    }
}

impl Backoff {
    pub fn from_env() -> Self {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let millis = |name: &str| {
            lookup(name)
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_millis)
        };
        let default = Self::default();
        let base = millis("BACKOFF_BASE_MS").unwrap_or(default.base);
        let cap = millis("BACKOFF_CAP_MS").unwrap_or(default.cap).max(base);
        Self { base, cap }
    }

    /// The delay before receive `receive_count + 1`: "equal jitter" — half the exponential step
    /// fixed, half random — so retries spread out but never come back immediately.
    pub fn delay(&self, receive_count: u32, rng: &mut impl Rng) -> Duration {
        let exponent = receive_count.saturating_sub(1).min(20);
        let step = self.base.saturating_mul(1 << exponent).min(self.cap);
        let half = step / 2;
        let jitter = rng.random_range(0..=half.as_millis() as u64);
        half + Duration::from_millis(jitter)
    }
}

/// One failed message and when it should come back.
#[derive(Debug, Clone)]
pub struct Redelivery {
    pub message_id: String,
    pub receipt_handle: String,
    pub after: Duration,
}

/// Sets each message's visibility to its delay, in batches of ten (one SQS call per batch). A
/// failure here only means SQS uses the queue's default visibility timeout instead, so it is
/// logged, not raised.
pub async fn schedule(sqs: &aws_sdk_sqs::Client, queue_url: &str, redeliveries: &[Redelivery]) {
    for chunk in redeliveries.chunks(10) {
        let entries: Vec<_> = chunk
            .iter()
            .enumerate()
            .filter_map(|(i, r)| {
                ChangeMessageVisibilityBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(&r.receipt_handle)
                    .visibility_timeout(visibility_seconds(r.after))
                    .build()
                    .ok()
            })
            .collect();
        let result = sqs
            .change_message_visibility_batch()
            .queue_url(queue_url)
            .set_entries(Some(entries))
            .send()
            .await;
        match result {
            Ok(output) if output.failed.is_empty() => {}
            Ok(output) => {
                tracing::warn!(failed = output.failed.len(), "could not delay some retries")
            }
            Err(e) => tracing::warn!(
                error = %aws_smithy_types::error::display::DisplayErrorContext(&e),
                "could not delay retries; the queue's visibility timeout applies"
            ),
        }
    }
}

fn visibility_seconds(after: Duration) -> i32 {
    let secs = after.min(SQS_MAX_VISIBILITY).as_secs_f64().ceil() as i32;
    secs.max(1)
}

/// The queue URL a Lambda SQS record came from, chosen among the queues this function knows by
/// matching the queue name at the end of the record's `eventSourceARN` (no SQS call needed).
pub fn queue_url_for_arn<'a>(arn: &str, known_urls: &[&'a str]) -> Option<&'a str> {
    let name = arn.rsplit(':').next()?;
    known_urls
        .iter()
        .copied()
        .find(|url| url.trim_end_matches('/').rsplit('/').next() == Some(name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    #[test]
    fn delays_grow_exponentially_within_jitter_and_stop_at_the_cap() {
        let backoff = Backoff {
            base: Duration::from_secs(2),
            cap: Duration::from_secs(60),
        };
        let mut rng = StdRng::seed_from_u64(7);
        for receive in 1..=12u32 {
            let step = (2u64 << (receive - 1).min(20)).min(60);
            for _ in 0..50 {
                let d = backoff.delay(receive, &mut rng).as_millis() as u64;
                assert!(
                    d >= step * 500 && d <= step * 1000,
                    "receive {receive}: {d} ms"
                );
            }
        }
    }

    #[test]
    fn configuration_comes_from_the_environment_and_the_cap_is_never_below_the_base() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(Backoff::from_lookup(env(&[])), Backoff::default());
        let b = Backoff::from_lookup(env(&[
            ("BACKOFF_BASE_MS", "200"),
            ("BACKOFF_CAP_MS", "100"),
        ]));
        assert_eq!(b.base, Duration::from_millis(200));
        assert_eq!(b.cap, Duration::from_millis(200));
    }

    #[test]
    fn visibility_is_whole_seconds_between_one_second_and_twelve_hours() {
        assert_eq!(visibility_seconds(Duration::ZERO), 1);
        assert_eq!(visibility_seconds(Duration::from_millis(1500)), 2);
        assert_eq!(visibility_seconds(Duration::from_secs(999_999)), 43_200);
    }

    #[test]
    fn a_record_arn_maps_to_the_known_queue_of_that_name() {
        let urls = [
            "http://127.0.0.1:5320/123456789012/stack-results.fifo",
            "https://sqs.eu-west-1.amazonaws.com/1/stack-notifications",
        ];
        assert_eq!(
            queue_url_for_arn(
                "arn:aws:sqs:us-east-1:123456789012:stack-results.fifo",
                &urls
            ),
            Some(urls[0])
        );
        assert_eq!(
            queue_url_for_arn("arn:aws:sqs:eu-west-1:1:stack-notifications", &urls),
            Some(urls[1])
        );
        assert_eq!(
            queue_url_for_arn("arn:aws:sqs:eu-west-1:1:other", &urls),
            None
        );
    }
}
