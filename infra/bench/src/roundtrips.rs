//! AWS round trips per warm call: the function's `AWS_ENDPOINT_URL` points at a counting proxy in
//! front of moto (and, for the publisher, its SR URLs at one in front of the simulator). One cold
//! call, then `warm` calls; every call's requests are attributed to it by operation.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::context::Context;
use crate::fixtures::{self, Endpoint, Tenant};
use crate::launch::{Instance, Spec};
use crate::proxy::{by_operation, CountingProxy, Upstream};
use crate::Result;

/// Calls of one implementation of one endpoint.
#[derive(Debug, Clone, Serialize)]
pub struct Counted {
    /// Calls made before the first event (should be none: clients connect lazily).
    pub during_init: BTreeMap<String, u64>,
    pub cold: BTreeMap<String, u64>,
    /// Summed over the warm calls.
    pub warm_total: BTreeMap<String, u64>,
    pub warm_calls: usize,
}

impl Counted {
    /// Mean calls per warm invocation.
    pub fn per_warm_call(&self) -> f64 {
        total(&self.warm_total) as f64 / self.warm_calls.max(1) as f64
    }

    /// `dynamodb:BatchGetItem 1, …` per warm invocation.
    pub fn warm_breakdown(&self) -> String {
        breakdown(&self.warm_total, self.warm_calls)
    }
}

pub fn total(counts: &BTreeMap<String, u64>) -> u64 {
    counts.values().sum()
}

pub fn breakdown(counts: &BTreeMap<String, u64>, per: usize) -> String {
    if counts.is_empty() {
        return "none".into();
    }
    counts
        .iter()
        .map(|(op, n)| {
            let each = *n as f64 / per.max(1) as f64;
            format!("{op} {}", trim_float(each))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn trim_float(x: f64) -> String {
    let s = format!("{x:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[derive(Debug, Serialize)]
pub struct EndpointTrips {
    pub endpoint: String,
    pub function: String,
    pub ours: Counted,
    /// The latency baseline, counted the same way: the minimal calls for the endpoint (for an
    /// order, one transaction; ours also sends the enrichment message).
    pub baseline: Counted,
    pub target_per_warm_call: Option<f64>,
}

/// Counts one implementation: cold call, then `warm` calls.
async fn count(
    ctx: &Context,
    spec: &Spec,
    endpoint: Endpoint,
    tenant: &Tenant,
    warm: usize,
) -> Result<Counted> {
    let proxy = CountingProxy::start(Upstream::Aws, &ctx.moto_url).await?;
    let spec = spec.with_env(&[("AWS_ENDPOINT_URL", &proxy.url())]);
    let mut instance = Instance::start(&spec, &ctx.logs).await?;
    instance.init_time().await?;
    let during_init = by_operation(&proxy.since(0));
    let mark = proxy.mark();
    check(&spec.label, endpoint, &mut instance, ctx, tenant).await?;
    let cold = by_operation(&proxy.since(mark));
    let mut warm_total: BTreeMap<String, u64> = BTreeMap::new();
    for _ in 0..warm {
        let mark = proxy.mark();
        check(&spec.label, endpoint, &mut instance, ctx, tenant).await?;
        for (op, n) in by_operation(&proxy.since(mark)) {
            *warm_total.entry(op).or_default() += n;
        }
    }
    Ok(Counted {
        during_init,
        cold,
        warm_total,
        warm_calls: warm,
    })
}

/// One successful invocation, or an error naming what the function answered.
pub async fn check(
    label: &str,
    endpoint: Endpoint,
    instance: &mut Instance,
    ctx: &Context,
    tenant: &Tenant,
) -> Result<std::time::Duration> {
    let answer = instance.invoke(&endpoint.event(&ctx.stack, tenant)).await?;
    let status = answer.status_code();
    if answer.error || status != endpoint.ok_status() {
        return Err(format!(
            "{label} answered {status} (expected {}): {}",
            endpoint.ok_status(),
            String::from_utf8_lossy(&answer.body)
        )
        .into());
    }
    Ok(answer.latency())
}

pub async fn partner(ctx: &Context, tenant: &Tenant, warm: usize) -> Result<Vec<EndpointTrips>> {
    let mut out = Vec::new();
    for endpoint in Endpoint::ALL {
        let warm = endpoint.calls(warm, 3);
        let ours = ctx.function_spec(endpoint.function());
        let baseline = ctx.baseline_spec(tenant, endpoint.baseline_mode());
        out.push(EndpointTrips {
            endpoint: endpoint.label().into(),
            function: endpoint.function().into(),
            ours: count(ctx, &ours, endpoint, tenant, warm).await?,
            baseline: count(ctx, &baseline, endpoint, tenant, warm).await?,
            target_per_warm_call: endpoint.target_calls(),
        });
    }
    Ok(out)
}

#[derive(Debug, Serialize)]
pub struct PublisherTrips {
    /// AWS and SR calls of the first (cold) result.
    pub cold_aws: BTreeMap<String, u64>,
    pub cold_sr: BTreeMap<String, u64>,
    /// Summed over the warm results, in SQS events of up to ten records.
    pub warm_aws: BTreeMap<String, u64>,
    pub warm_sr: BTreeMap<String, u64>,
    pub warm_results: usize,
    /// Warm results SR really received (checked on the simulator).
    pub delivered: usize,
    pub peak_rss_kib: Option<u64>,
}

impl PublisherTrips {
    pub fn aws_per_result(&self) -> f64 {
        total(&self.warm_aws) as f64 / self.warm_results.max(1) as f64
    }

    pub fn sr_per_result(&self) -> f64 {
        total(&self.warm_sr) as f64 / self.warm_results.max(1) as f64
    }

    /// Secrets Manager reads and SR token requests on warm results (caching makes them 0).
    pub fn warm_refetches(&self) -> u64 {
        let secrets: u64 = self
            .warm_aws
            .iter()
            .filter(|(op, _)| op.starts_with("secretsmanager:"))
            .map(|(_, n)| n)
            .sum();
        let tokens: u64 = self
            .warm_sr
            .iter()
            .filter(|(op, _)| op.contains("/oauth/token"))
            .map(|(_, n)| n)
            .sum();
        secrets + tokens
    }
}

/// SQS records per event for warm results: the event source mapping's `BatchSize`.
const BATCH: usize = 10;

/// The publisher, for one company: 1 cold result alone, then `warm` results in events of ten.
pub async fn publisher(ctx: &Context, warm: usize) -> Result<PublisherTrips> {
    let tenant = Tenant::create(&ctx.stack, "bench-publisher").await?;
    let results = fixtures::stored_results(&ctx.stack, &tenant, warm + 1).await?;
    let aws = CountingProxy::start(Upstream::Aws, &ctx.moto_url).await?;
    let sr = CountingProxy::start(Upstream::Sr, &ctx.sim_url).await?;
    let spec = ctx
        .publisher_spec(&sr.url())
        .with_env(&[("AWS_ENDPOINT_URL", &aws.url())]);
    let mut instance = Instance::start(&spec, &ctx.logs).await?;
    instance.init_time().await?;
    // The first result alone (cold), then the warm ones in SQS events of up to ten records, as
    // the event source mapping batches them when results queue up.
    let mut per_event = Vec::new();
    let (cold, warm_results) = results.split_at(1.min(results.len()));
    let events = std::iter::once(cold).chain(warm_results.chunks(BATCH));
    for (i, chunk) in events.enumerate() {
        let (aws_mark, sr_mark) = (aws.mark(), sr.mark());
        fixtures::deliver_event(&mut instance, chunk, &i.to_string()).await?;
        per_event.push((
            by_operation(&aws.since(aws_mark)),
            by_operation(&sr.since(sr_mark)),
        ));
    }
    let per_result = per_event;
    let mut delivered = 0;
    for (order_id, _) in results.iter().skip(1) {
        let sr_order = ctx.stack.sim.order(order_id).await;
        if sr_order.is_some_and(|o| o["result"]["status"] == "COMPLETED") {
            delivered += 1;
        }
    }
    let (cold_aws, cold_sr) = per_result.first().cloned().unwrap_or_default();
    let mut warm_aws = BTreeMap::new();
    let mut warm_sr = BTreeMap::new();
    for (a, s) in per_result.iter().skip(1) {
        for (op, n) in a {
            *warm_aws.entry(op.clone()).or_default() += n;
        }
        for (op, n) in s {
            *warm_sr.entry(op.clone()).or_default() += n;
        }
    }
    Ok(PublisherTrips {
        cold_aws,
        cold_sr,
        warm_aws,
        warm_sr,
        warm_results: warm,
        delivered,
        peak_rss_kib: instance.peak_rss_kib(),
    })
}
