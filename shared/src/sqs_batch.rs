//! The one SQS batch runner both queue consumers use (the result publisher and the webhook
//! dispatcher): each message's [`Outcome`], FIFO message groups kept in order, the partial batch
//! response (`batchItemFailures`) and each retried message's redelivery time.
//!
//! Shaped like the Lambda runtime's `advanced-sqs-partial-batch-failures` example (one generic
//! runner turns per-record outcomes into an `SqsBatchResponse`) and Powertools' FIFO partial
//! processor: after the first retry in a message group, the group's later messages are not
//! processed and are reported failed too, so SQS hands them out again in their order.
//!
//! A retried message's visibility is set (`ChangeMessageVisibilityBatch`, [`crate::backoff`]) to
//! the consumer's own wait when it has one (SR's or the endpoint's `Retry-After`, the pacing
//! schedule), else to the exponential backoff for its receive count. Without that, SQS would hand
//! every failure back after the queue's fixed visibility timeout. The queue moves a message to its
//! dead-letter queue after `maxReceiveCount` receives; [`SqsBatchRunner::is_last_receive`] tells
//! a consumer when a retry does that, so it can record the failure first.

use std::future::Future;
use std::time::Duration;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsMessage};
use rand::Rng;

use crate::backoff::{self, Backoff, Redelivery};

/// What became of one message: the one "done or retry later" of every queue consumer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Done with it (handled, stale, or refused for good): SQS deletes the message.
    Done,
    /// Try again later: reported as a batch item failure. `after` is the consumer's own wait
    /// (a `Retry-After`, the pacing schedule's wait); `None` means the exponential backoff.
    Retry { after: Option<Duration> },
}

impl Outcome {
    /// A retry after the exponential backoff.
    pub const RETRY: Self = Self::Retry { after: None };

    pub fn is_retry(&self) -> bool {
        matches!(self, Self::Retry { .. })
    }
}

/// SQS's `ApproximateReceiveCount` of the message (1 on the first delivery).
pub fn receive_count(message: &SqsMessage) -> u32 {
    message
        .attributes
        .get("ApproximateReceiveCount")
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
}

/// Runs `process` on every message: the messages of one group in their order, groups
/// concurrently. `groups[i]` is message `i`'s FIFO message group; `None` puts it in a group of
/// its own (a standard queue's message, or one whose group cannot be read). After a group's
/// first retry its later messages are not processed: each gets that retry's outcome (the same
/// wait), so they come back after it, in order. Answers each message's outcome, in order.
pub async fn in_groups<G, F, Fut>(groups: &[Option<G>], process: F) -> Vec<Outcome>
where
    G: PartialEq,
    F: Fn(usize) -> Fut,
    Fut: Future<Output = Outcome>,
{
    let mut members: Vec<(Option<&G>, Vec<usize>)> = Vec::new();
    for (i, group) in groups.iter().enumerate() {
        let group = group.as_ref();
        match group.and_then(|g| members.iter_mut().find(|(k, _)| *k == Some(g))) {
            Some((_, list)) => list.push(i),
            None => members.push((group, vec![i])),
        }
    }
    let process = &process;
    let runs = members.into_iter().map(|(_, list)| async move {
        let mut outcomes = Vec::with_capacity(list.len());
        let mut blocked: Option<Outcome> = None;
        for i in list {
            let outcome = match blocked {
                Some(outcome) => outcome,
                None => process(i).await,
            };
            if outcome.is_retry() {
                blocked = Some(outcome);
            }
            outcomes.push((i, outcome));
        }
        outcomes
    });
    let mut outcomes = vec![Outcome::RETRY; groups.len()];
    for run in futures_util::future::join_all(runs).await {
        for (i, outcome) in run {
            outcomes[i] = outcome;
        }
    }
    outcomes
}

/// Where retried messages' visibility is changed.
struct Redeliveries {
    sqs: crate::aws::LazyClient<aws_sdk_sqs::Client>,
    queue_urls: Vec<String>,
}

/// A queue consumer's retry settings and the way back to its queues.
pub struct SqsBatchRunner {
    /// The queue's `maxReceiveCount`: a retry on that receive moves the message to the DLQ.
    max_receive_count: u32,
    backoff: Backoff,
    redeliveries: Option<Redeliveries>,
}

impl SqsBatchRunner {
    /// A runner for a queue whose redrive policy has `max_receive_count`; retries without a
    /// wait of their own come back after `backoff`. Until [`Self::with_redelivery`], retries
    /// keep the queue's visibility timeout (in-process tests).
    pub fn new(max_receive_count: u32, backoff: Backoff) -> Self {
        Self {
            max_receive_count,
            backoff,
            redeliveries: None,
        }
    }

    /// Sets retried messages' visibility through `sqs` on `queue_urls`, the queues this
    /// function consumes (a record's queue is found from its `eventSourceARN`).
    pub fn with_redelivery(
        mut self,
        sqs: impl Into<crate::aws::LazyClient<aws_sdk_sqs::Client>>,
        queue_urls: Vec<String>,
    ) -> Self {
        self.redeliveries = Some(Redeliveries {
            sqs: sqs.into(),
            queue_urls,
        });
        self
    }

    /// The queue's `maxReceiveCount`.
    pub fn max_receive_count(&self) -> u32 {
        self.max_receive_count
    }

    /// SQS will not hand `message` out again: a retry now moves it to the dead-letter queue.
    pub fn is_last_receive(&self, message: &SqsMessage) -> bool {
        receive_count(message) >= self.max_receive_count
    }

    /// The partial batch response for `records` and their `outcomes` (in the same order): the
    /// retried messages, each with its visibility set to its wait.
    pub async fn respond(&self, records: &[SqsMessage], outcomes: &[Outcome]) -> SqsBatchResponse {
        let known: Vec<&str> = self
            .redeliveries
            .iter()
            .flat_map(|r| r.queue_urls.iter().map(String::as_str))
            .collect();
        let (response, plan) = self.plan(records, outcomes, &known, &mut rand::rng());
        if let Some(target) = &self.redeliveries {
            for (url, list) in plan {
                backoff::schedule(&target.sqs, url, &list).await;
            }
        }
        response
    }

    /// The response and, per queue URL, the redeliveries to schedule (pure: no SQS call).
    fn plan<'u>(
        &self,
        records: &[SqsMessage],
        outcomes: &[Outcome],
        known_urls: &[&'u str],
        rng: &mut impl Rng,
    ) -> (SqsBatchResponse, Vec<(&'u str, Vec<Redelivery>)>) {
        let mut response = SqsBatchResponse::default();
        let mut plan: Vec<(&'u str, Vec<Redelivery>)> = Vec::new();
        for (message, outcome) in records.iter().zip(outcomes) {
            let Outcome::Retry { after } = *outcome else {
                continue;
            };
            let message_id = message.message_id.clone().unwrap_or_default();
            response.add_failure(message_id.clone());
            let Some(receipt_handle) = message.receipt_handle.clone() else {
                continue;
            };
            let Some(url) = queue_of(message, known_urls) else {
                if !known_urls.is_empty() {
                    tracing::warn!(arn = ?message.event_source_arn, "retries from an unknown queue keep its visibility timeout");
                }
                continue;
            };
            let after = after.unwrap_or_else(|| self.backoff.delay(receive_count(message), rng));
            let redelivery = Redelivery {
                message_id,
                receipt_handle,
                after,
            };
            match plan.iter_mut().find(|(u, _)| *u == url) {
                Some((_, list)) => list.push(redelivery),
                None => plan.push((url, vec![redelivery])),
            }
        }
        (response, plan)
    }
}

/// The queue a record came from: the known queue its `eventSourceARN` names; a record without
/// one (in-process tests) belongs to the function's only queue.
fn queue_of<'u>(message: &SqsMessage, known_urls: &[&'u str]) -> Option<&'u str> {
    match (message.event_source_arn.as_deref(), known_urls) {
        (Some(arn), _) => backoff::queue_url_for_arn(arn, known_urls),
        (None, [only]) => Some(only),
        (None, _) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;
    use std::sync::Mutex;

    const WAIT: Duration = Duration::from_secs(7);

    /// A consumer that records the order it saw messages in and answers a scripted outcome.
    struct Fake {
        script: Vec<Outcome>,
        seen: Mutex<Vec<usize>>,
    }

    impl Fake {
        fn new(script: Vec<Outcome>) -> Self {
            Self {
                script,
                seen: Mutex::new(Vec::new()),
            }
        }

        async fn process(&self, i: usize) -> Outcome {
            tokio::task::yield_now().await;
            self.seen.lock().unwrap().push(i);
            self.script[i]
        }

        fn seen(&self) -> Vec<usize> {
            self.seen.lock().unwrap().clone()
        }
    }

    fn record(id: &str, receive: u32, arn: Option<&str>) -> SqsMessage {
        serde_json::from_value(serde_json::json!({
            "messageId": id,
            "receiptHandle": format!("rh-{id}"),
            "body": "{}",
            "attributes": {"ApproximateReceiveCount": receive.to_string()},
            "messageAttributes": {},
            "eventSource": "aws:sqs",
            "eventSourceARN": arn,
            "awsRegion": "us-east-1"
        }))
        .unwrap()
    }

    fn failures(response: &SqsBatchResponse) -> Vec<&str> {
        response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect()
    }

    #[tokio::test]
    async fn after_a_retry_the_rest_of_its_group_waits_unprocessed_and_other_groups_go_on() {
        let retry = Outcome::Retry { after: Some(WAIT) };
        let fake = Fake::new(vec![
            Outcome::Done, // a
            retry,         // a: the first retry of group a
            Outcome::Done, // b
            Outcome::Done, // a: would succeed, but must not run before the retried one
            Outcome::Done, // b
            Outcome::Done, // no group
        ]);
        let groups = [Some("a"), Some("a"), Some("b"), Some("a"), Some("b"), None];
        let outcomes = in_groups(&groups, |i| fake.process(i)).await;
        assert_eq!(
            outcomes,
            vec![
                Outcome::Done,
                retry,
                Outcome::Done,
                retry,
                Outcome::Done,
                Outcome::Done
            ]
        );
        let mut seen = fake.seen();
        assert!(
            !seen.contains(&3),
            "{seen:?}: message 3 ran after its group failed"
        );
        let position = |i| seen.iter().position(|&s| s == i).unwrap();
        assert!(position(0) < position(1) && position(2) < position(4));
        seen.sort_unstable();
        assert_eq!(seen, vec![0, 1, 2, 4, 5]);
    }

    #[tokio::test]
    async fn messages_without_a_group_never_hold_each_other_back() {
        let fake = Fake::new(vec![Outcome::RETRY, Outcome::Done, Outcome::RETRY]);
        let outcomes = in_groups(&[None::<&str>, None, None], |i| fake.process(i)).await;
        assert_eq!(
            outcomes,
            vec![Outcome::RETRY, Outcome::Done, Outcome::RETRY]
        );
        assert_eq!(fake.seen().len(), 3);
    }

    #[tokio::test]
    async fn groups_run_concurrently() {
        // Each group's only message waits for the other's: run one after the other, they
        // would never finish (the timeout turns that into a failure instead of a hang).
        let barrier = tokio::sync::Barrier::new(2);
        let run = in_groups(&[Some("a"), Some("b")], |_| async {
            barrier.wait().await;
            Outcome::Done
        });
        let outcomes = tokio::time::timeout(Duration::from_secs(60), run)
            .await
            .expect("the groups ran one after the other");
        assert_eq!(outcomes, vec![Outcome::Done, Outcome::Done]);
    }

    #[test]
    fn retries_are_reported_with_their_own_wait_or_the_backoff() {
        let url = "http://127.0.0.1:5340/123456789012/stack-results.fifo";
        let arn = "arn:aws:sqs:us-east-1:123456789012:stack-results.fifo";
        let backoff = Backoff {
            base: Duration::from_secs(2),
            cap: Duration::from_secs(60),
        };
        let runner = SqsBatchRunner::new(5, backoff);
        let records = [
            record("done", 1, Some(arn)),
            record("waits", 1, Some(arn)),
            record("backs-off", 3, Some(arn)),
            record("elsewhere", 1, Some("arn:aws:sqs:us-east-1:1:other")),
        ];
        let outcomes = [
            Outcome::Done,
            Outcome::Retry { after: Some(WAIT) },
            Outcome::RETRY,
            Outcome::RETRY,
        ];
        let mut rng = StdRng::seed_from_u64(1);
        let (response, plan) = runner.plan(&records, &outcomes, &[url], &mut rng);
        assert_eq!(failures(&response), ["waits", "backs-off", "elsewhere"]);
        assert_eq!(plan.len(), 1, "one queue");
        let (queue, list) = &plan[0];
        assert_eq!(*queue, url);
        let ids: Vec<&str> = list.iter().map(|r| r.message_id.as_str()).collect();
        assert_eq!(
            ids,
            ["waits", "backs-off"],
            "the unknown queue's is left alone"
        );
        assert_eq!(list[0].after, WAIT);
        assert_eq!(list[0].receipt_handle, "rh-waits");
        // Receive 3: half of 2 s · 2² fixed, half jitter.
        let backed_off = list[1].after;
        assert!(
            backed_off >= Duration::from_secs(4) && backed_off <= Duration::from_secs(8),
            "{backed_off:?}"
        );
    }

    #[test]
    fn a_record_without_its_queue_arn_belongs_to_the_only_queue() {
        let runner = SqsBatchRunner::new(10, Backoff::default());
        let records = [record("m", 1, None)];
        let mut rng = StdRng::seed_from_u64(1);
        let (response, plan) = runner.plan(&records, &[Outcome::RETRY], &["https://q/n"], &mut rng);
        assert_eq!(failures(&response), ["m"]);
        assert_eq!(plan[0].0, "https://q/n");
        let (_, plan) = runner.plan(
            &records,
            &[Outcome::RETRY],
            &["https://q/a", "https://q/b"],
            &mut rng,
        );
        assert!(plan.is_empty(), "which of two queues is unknown");
        let (response, plan) = runner.plan(&records, &[Outcome::Done], &["https://q/n"], &mut rng);
        assert!(failures(&response).is_empty() && plan.is_empty());
    }

    #[test]
    fn the_last_receive_is_the_queues_max_receive_count() {
        let runner = SqsBatchRunner::new(3, Backoff::default());
        assert!(!runner.is_last_receive(&record("m", 2, None)));
        assert!(runner.is_last_receive(&record("m", 3, None)));
        assert!(runner.is_last_receive(&record("m", 4, None)));
        let mut without: SqsMessage = record("m", 1, None);
        without.attributes.clear();
        assert_eq!(receive_count(&without), 1, "a first delivery");
    }
}
