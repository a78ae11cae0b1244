//! Results throughput under SR's rate limit: N stored results are queued on a queue of their own
//! (same visibility timeout as the stack's results queue), and the harness plays the SQS event
//! source mapping of the template — batches of 10, at most 2 concurrent invocations, failed
//! batch items left for redelivery — into two release `result-publisher` processes whose SR URLs
//! go through a counting proxy to the simulator. The simulator's rate limit is set for the run and
//! always reset afterwards.
//!
//! Throughput = delivered results / time from start to the last delivery (or to the deadline when
//! not all were delivered), as a ratio of the configured per-second limit. With several companies
//! (`--companies`), each has its own SR credential, so its own limit: the figures are per company,
//! their results interleaved on the one queue.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_sqs::types::{
    DeleteMessageBatchRequestEntry, MessageSystemAttributeName, QueueAttributeName,
    SendMessageBatchRequestEntry,
};
use serde::Serialize;
use serde_json::json;

use crate::context::Context;
use crate::fixtures::{self, SqsRecord, Tenant};
use crate::launch::Instance;
use crate::proxy::{by_operation, CountingProxy, Upstream};
use crate::Result;

/// As `ResultPublisherQueueMapping` in template.yaml.
const BATCH_SIZE: i32 = 10;
const MAX_CONCURRENCY: usize = 2;

#[derive(Debug, Serialize)]
pub struct Throughput {
    pub results: usize,
    pub rate_limit_per_second: u32,
    pub concurrency_limit: u32,
    pub visibility_timeout_s: u64,
    pub deadline_s: f64,
    pub delivered: usize,
    pub all_delivered: bool,
    pub elapsed_s: f64,
    pub results_per_second: f64,
    pub ratio_of_limit: f64,
    /// 429s the publisher received (counted at the proxy).
    pub responses_429: u64,
    /// The simulator's own 429 counter over the run (every client; a cross-check).
    pub simulator_429_delta: u64,
    pub sr_calls: BTreeMap<String, u64>,
    pub invocations: u64,
    /// Batch items the publisher asked SQS to redeliver.
    pub retried_items: u64,
    pub peak_rss_kib: Option<u64>,
    /// Per second since the start: `[second, results delivered, 429s]`.
    pub timeline: Vec<[u64; 3]>,
    /// Each company's own figures (one entry when the run has one company).
    pub companies: Vec<CompanyThroughput>,
}

/// One company's share of the run: its results, paced on its own credential.
#[derive(Debug, Serialize)]
pub struct CompanyThroughput {
    pub company_id: String,
    pub results: usize,
    pub delivered: usize,
    /// From the start to this company's last delivery (or to the end of the run).
    pub elapsed_s: f64,
    pub results_per_second: f64,
    pub ratio_of_limit: f64,
    pub responses_429: u64,
}

pub struct Settings {
    /// Results per company.
    pub results: usize,
    /// Companies, each with its own SR credential (and so its own rate limit).
    pub companies: usize,
    pub per_second: u32,
    pub concurrent: u32,
    pub deadline: Option<Duration>,
}

pub async fn measure(ctx: &Context, settings: &Settings) -> Result<Throughput> {
    let mut per_company = Vec::new();
    let mut company_of = HashMap::new();
    for i in 0..settings.companies.max(1) {
        let tenant = Tenant::create(&ctx.stack, &format!("bench-throughput-{i}")).await?;
        eprintln!(
            "  throughput: placing {} orders of company {} through the SR simulator",
            settings.results, tenant.company.company_id
        );
        let results = fixtures::stored_results(&ctx.stack, &tenant, settings.results).await?;
        for (order_id, _) in &results {
            company_of.insert(order_id.clone(), tenant.company.company_id.clone());
        }
        per_company.push(results);
    }
    // Interleaved, so every company's results are in the queue from the start.
    let longest = per_company.iter().map(Vec::len).max().unwrap_or(0);
    let results: Vec<(String, String)> = (0..longest)
        .flat_map(|i| per_company.iter().filter_map(move |r| r.get(i).cloned()))
        .collect();
    // Each new order is enriched (three SR reads) by the stack's own publisher on the same
    // company's SR schedule; let that finish so the run measures result delivery alone.
    wait_for_enrichment(ctx, &results, settings.per_second).await?;
    let sqs = ctx.stack.aws.sqs.clone();
    let visibility = queue_visibility_timeout(&sqs, &ctx.stack.config.results_queue_url).await?;
    let queue_url = sqs
        .create_queue()
        // FIFO like the stack's results queue (one group per order).
        .queue_name(format!(
            "connector-bench-{}.fifo",
            &connector_tests::uuid()[..8]
        ))
        .attributes(QueueAttributeName::FifoQueue, "true")
        .attributes(
            QueueAttributeName::VisibilityTimeout,
            visibility.to_string(),
        )
        .send()
        .await?
        .queue_url
        .ok_or("CreateQueue answered no URL")?;
    let outcome = run(ctx, settings, &queue_url, &results, &company_of, visibility).await;
    let _ = sqs.delete_queue().queue_url(&queue_url).send().await;
    outcome
}

/// Waits until every order of the run has its enrichment stored (bounded: 3 SR reads per order at
/// the configured rate, tripled, plus a minute).
async fn wait_for_enrichment(ctx: &Context, results: &[(String, String)], rate: u32) -> Result<()> {
    let ids: Vec<&str> = results.iter().map(|(id, _)| id.as_str()).collect();
    let limit = Duration::from_secs(60 + (9 * ids.len() as u64) / u64::from(rate.max(1)));
    let deadline = Instant::now() + limit;
    eprintln!(
        "  throughput: waiting for the {} orders' enrichment to finish",
        ids.len()
    );
    loop {
        let mut pending = 0;
        for chunk in ids.chunks(100) {
            let orders = ctx.stack.store.get_orders(chunk).await?;
            pending += chunk
                .iter()
                .filter(|id| orders.get(**id).is_none_or(|o| o.enrichment.is_none()))
                .count();
        }
        if pending == 0 {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("{pending} orders still not enriched after {limit:?}").into());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn run(
    ctx: &Context,
    settings: &Settings,
    queue_url: &str,
    results: &[(String, String)],
    company_of: &HashMap<String, String>,
    visibility: u64,
) -> Result<Throughput> {
    let sqs = ctx.stack.aws.sqs.clone();
    let queue_arn = sqs
        .get_queue_attributes()
        .queue_url(queue_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await?
        .attributes
        .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
        .ok_or("no queue ARN")?;
    for chunk in results.chunks(10) {
        let mut batch = sqs.send_message_batch().queue_url(queue_url);
        for (i, (order_id, body)) in chunk.iter().enumerate() {
            batch = batch.entries(
                SendMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .message_body(body)
                    .message_group_id(order_id)
                    .message_deduplication_id(format!("{order_id}-1"))
                    .build()?,
            );
        }
        batch.send().await?;
    }
    let sr = Arc::new(CountingProxy::start(Upstream::Sr, &ctx.sim_url).await?);
    let spec = ctx
        .publisher_spec(&sr.url())
        .with_env(&[("RESULTS_QUEUE_URL", queue_url)]);
    let mut instances = Vec::new();
    for _ in 0..MAX_CONCURRENCY {
        let mut instance = Instance::start(&spec, &ctx.logs).await?;
        instance.init_time().await?;
        instances.push(instance);
    }
    let n = results.len();
    let deadline = settings.deadline.unwrap_or_else(|| {
        Duration::from_secs_f64((3.0 * n as f64 / f64::from(settings.per_second)).max(30.0))
    });
    let sim_429_before = simulator_429s(ctx).await?;
    set_rate_limit(ctx, Some((settings.per_second, settings.concurrent))).await?;
    let started = Instant::now();
    let mut pollers = tokio::task::JoinSet::new();
    for instance in instances {
        pollers.spawn(poll(
            instance,
            sqs.clone(),
            queue_url.to_string(),
            queue_arn.clone(),
            sr.clone(),
            n,
            started + deadline,
        ));
    }
    let mut polled = Vec::new();
    while let Some(done) = pollers.join_next().await {
        polled.push(done);
    }
    let ended = Instant::now();
    // Always reset, whatever happened above.
    let reset = set_rate_limit(ctx, None).await;
    let sim_429_after = simulator_429s(ctx).await.unwrap_or(sim_429_before);
    reset?;
    let (mut invocations, mut retried, mut peak) = (0, 0, None::<u64>);
    for result in polled {
        let stats = result??;
        invocations += stats.invocations;
        retried += stats.retried;
        peak = peak.max(stats.peak_rss_kib);
    }
    let calls = sr.since(0);
    let companies = per_company(&calls, company_of, started, ended, settings.per_second);
    let delivered_at = deliveries(&calls);
    let Rate {
        delivered,
        elapsed_s: elapsed,
        per_second,
    } = Rate::of(&delivered_at, n, started, ended);
    let all_delivered = delivered >= n;
    Ok(Throughput {
        results: n,
        rate_limit_per_second: settings.per_second,
        concurrency_limit: settings.concurrent,
        visibility_timeout_s: visibility,
        deadline_s: deadline.as_secs_f64(),
        delivered,
        all_delivered,
        elapsed_s: elapsed,
        results_per_second: per_second,
        // The run's limit: one per company, each on its own credential.
        ratio_of_limit: per_second
            / (f64::from(settings.per_second) * companies.len().max(1) as f64),
        responses_429: calls.iter().filter(|c| c.status == 429).count() as u64,
        simulator_429_delta: sim_429_after.saturating_sub(sim_429_before),
        sr_calls: by_operation(&calls),
        invocations,
        retried_items: retried,
        peak_rss_kib: peak,
        timeline: timeline(&calls, &delivered_at, started),
        companies,
    })
}

/// Deliveries over time: from the start to the last of `n` deliveries, or to the end of the run
/// when not all `n` were delivered.
struct Rate {
    delivered: usize,
    elapsed_s: f64,
    per_second: f64,
}

impl Rate {
    fn of(delivered_at: &[Instant], n: usize, started: Instant, ended: Instant) -> Self {
        let delivered = delivered_at.len();
        let elapsed_s = match (delivered >= n, delivered_at.iter().max()) {
            (true, Some(last)) => last.saturating_duration_since(started),
            _ => ended.saturating_duration_since(started),
        }
        .as_secs_f64();
        let per_second = if elapsed_s > 0.0 {
            delivered as f64 / elapsed_s
        } else {
            0.0
        };
        Self {
            delivered,
            elapsed_s,
            per_second,
        }
    }
}

/// The order id in an SR path (`…/orders/{id}/results…`).
fn order_in_path(path: &str) -> Option<&str> {
    let mut segments = path.split('/');
    segments.find(|s| *s == "orders")?;
    segments.next()
}

/// Each company's deliveries, 429s and rate over the run, by the orders its results belong to.
fn per_company(
    calls: &[crate::proxy::Call],
    company_of: &HashMap<String, String>,
    started: Instant,
    ended: Instant,
    limit: u32,
) -> Vec<CompanyThroughput> {
    let mut results: BTreeMap<&str, usize> = BTreeMap::new();
    for company in company_of.values() {
        *results.entry(company.as_str()).or_default() += 1;
    }
    results
        .into_iter()
        .map(|(company, n)| {
            let own: Vec<crate::proxy::Call> = calls
                .iter()
                .filter(|c| {
                    order_in_path(&c.path).and_then(|id| company_of.get(id))
                        == Some(&company.to_string())
                })
                .cloned()
                .collect();
            let rate = Rate::of(&deliveries(&own), n, started, ended);
            CompanyThroughput {
                company_id: company.to_string(),
                results: n,
                delivered: rate.delivered,
                elapsed_s: rate.elapsed_s,
                results_per_second: rate.per_second,
                ratio_of_limit: rate.per_second / f64::from(limit),
                responses_429: own.iter().filter(|c| c.status == 429).count() as u64,
            }
        })
        .collect()
}

/// Deliveries and 429s per second since `started` (seconds with neither are left out).
fn timeline(
    calls: &[crate::proxy::Call],
    delivered: &[Instant],
    started: Instant,
) -> Vec<[u64; 3]> {
    let second = |at: &Instant| at.saturating_duration_since(started).as_secs();
    let mut buckets: BTreeMap<u64, [u64; 3]> = BTreeMap::new();
    for at in delivered {
        let s = second(at);
        buckets.entry(s).or_insert([s, 0, 0])[1] += 1;
    }
    for call in calls.iter().filter(|c| c.status == 429) {
        let s = second(&call.at);
        buckets.entry(s).or_insert([s, 0, 0])[2] += 1;
    }
    buckets.into_values().collect()
}

/// When each order's result was first accepted by SR (a 2xx PATCH).
fn deliveries(calls: &[crate::proxy::Call]) -> Vec<Instant> {
    let mut seen = BTreeSet::new();
    calls
        .iter()
        .filter(|c| c.operation.starts_with("sr:PATCH") && (200..300).contains(&c.status))
        .filter(|c| seen.insert(c.path.clone()))
        .map(|c| c.at)
        .collect()
}

struct PollerStats {
    invocations: u64,
    retried: u64,
    peak_rss_kib: Option<u64>,
}

/// One concurrent "event source mapping" lane: receive up to a batch, invoke, delete what the
/// function did not report as failed.
async fn poll(
    mut instance: Instance,
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
    queue_arn: String,
    sr: Arc<CountingProxy>,
    n: usize,
    deadline: Instant,
) -> Result<PollerStats> {
    let mut stats = PollerStats {
        invocations: 0,
        retried: 0,
        peak_rss_kib: None,
    };
    while Instant::now() < deadline && deliveries(&sr.since(0)).len() < n {
        let received = sqs
            .receive_message()
            .queue_url(&queue_url)
            .max_number_of_messages(BATCH_SIZE)
            .wait_time_seconds(1)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await?;
        let messages = received.messages.unwrap_or_default();
        if messages.is_empty() {
            continue;
        }
        let records: Vec<SqsRecord> = messages
            .iter()
            .map(|m| SqsRecord {
                message_id: m.message_id.clone().unwrap_or_default(),
                receipt_handle: m.receipt_handle.clone().unwrap_or_default(),
                body: m.body.clone().unwrap_or_default(),
                receive_count: m
                    .attributes
                    .as_ref()
                    .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(1),
            })
            .collect();
        let answer = instance
            .invoke(&fixtures::sqs_event(&records, &queue_arn))
            .await?;
        stats.invocations += 1;
        if answer.error {
            // A failed invocation: SQS redelivers the whole batch after the visibility timeout.
            stats.retried += records.len() as u64;
            continue;
        }
        let failed: BTreeSet<String> = answer.json()["batchItemFailures"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|f| f["itemIdentifier"].as_str().map(String::from))
            .collect();
        stats.retried += failed.len() as u64;
        let done: Vec<&SqsRecord> = records
            .iter()
            .filter(|r| !failed.contains(&r.message_id))
            .collect();
        if !done.is_empty() {
            let mut delete = sqs.delete_message_batch().queue_url(&queue_url);
            for (i, r) in done.iter().enumerate() {
                delete = delete.entries(
                    DeleteMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .receipt_handle(&r.receipt_handle)
                        .build()?,
                );
            }
            delete.send().await?;
        }
    }
    stats.peak_rss_kib = instance.peak_rss_kib();
    Ok(stats)
}

async fn queue_visibility_timeout(sqs: &aws_sdk_sqs::Client, queue_url: &str) -> Result<u64> {
    let attributes = sqs
        .get_queue_attributes()
        .queue_url(queue_url)
        .attribute_names(QueueAttributeName::VisibilityTimeout)
        .send()
        .await?
        .attributes
        .unwrap_or_default();
    Ok(attributes
        .get(&QueueAttributeName::VisibilityTimeout)
        .and_then(|v| v.parse().ok())
        .unwrap_or(30))
}

/// `POST /__sim/rate-limit`; `None` removes both limits.
async fn set_rate_limit(ctx: &Context, limit: Option<(u32, u32)>) -> Result<()> {
    let body = match limit {
        Some((per_second, concurrent)) => {
            json!({"per_second": per_second, "concurrent": concurrent})
        }
        None => json!({"per_second": null, "concurrent": null}),
    };
    let response = reqwest::Client::new()
        .post(format!("{}/__sim/rate-limit", ctx.sim_url))
        .json(&body)
        .send()
        .await?;
    if !response.status().is_success() {
        return Err(format!(
            "the simulator refused the rate limit {body}: {}",
            response.status()
        )
        .into());
    }
    Ok(())
}

async fn simulator_429s(ctx: &Context) -> Result<u64> {
    let state: serde_json::Value = reqwest::get(format!("{}/__sim/state", ctx.sim_url))
        .await?
        .json()
        .await?;
    Ok(state["responses429"].as_u64().unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(path: &str, status: u16, after_ms: u64, started: Instant) -> crate::proxy::Call {
        crate::proxy::Call {
            operation: "sr:PATCH /orders/{id}/results".into(),
            status,
            path: path.into(),
            at: started + Duration::from_millis(after_ms),
        }
    }

    #[test]
    fn each_company_is_measured_on_its_own_results() {
        let started = Instant::now();
        let company_of = HashMap::from([
            ("o1".to_string(), "a".to_string()),
            ("o2".to_string(), "a".to_string()),
            ("o3".to_string(), "b".to_string()),
        ]);
        let calls = [
            call(
                "/assessment-api/v202010/orders/o1/results",
                200,
                100,
                started,
            ),
            call(
                "/assessment-api/v202010/orders/o3/results",
                429,
                150,
                started,
            ),
            call(
                "/assessment-api/v202010/orders/o3/results",
                200,
                400,
                started,
            ),
            call(
                "/assessment-api/v202010/orders/o2/results",
                200,
                200,
                started,
            ),
        ];
        let ended = started + Duration::from_secs(1);
        let companies = per_company(&calls, &company_of, started, ended, 10);
        assert_eq!(companies.len(), 2);
        let (a, b) = (&companies[0], &companies[1]);
        assert_eq!((a.company_id.as_str(), a.delivered, a.results), ("a", 2, 2));
        assert!((a.elapsed_s - 0.2).abs() < 1e-9);
        assert!((a.ratio_of_limit - 1.0).abs() < 1e-9, "{a:?}");
        assert_eq!((b.delivered, b.responses_429), (1, 1));
        assert!((b.elapsed_s - 0.4).abs() < 1e-9);
        assert_eq!(order_in_path("/x/orders/o9/results/attachment"), Some("o9"));
        assert_eq!(order_in_path("/identity/oauth/token"), None);
    }
}
