//! Warm handler latency: event handed out on `/next` → response POST, against moto directly.
//! Our function and `baseline-handler` (the minimal AWS calls, nothing else) — and for `GET /packages`
//! the Python/boto3 handler — run side by side and take turns call by call, so noise hits them
//! alike. Each gets a cold call and a few warm-ups that are not counted. Peak RSS (`VmHWM`) is
//! read after the load.

use std::time::Duration;

use serde::Serialize;

use crate::context::Context;
use crate::fixtures::{Endpoint, Tenant};
use crate::launch::{Instance, Spec};
use crate::roundtrips::check;
use crate::stats::Stats;
use crate::Result;

const WARM_UP: usize = 5;
/// Failed or timed-out calls tolerated per endpoint before it is reported as an error.
const MAX_FAILURES: usize = 5;

#[derive(Debug, Serialize)]
pub struct Measured {
    pub label: String,
    pub stats: Stats,
    pub peak_rss_kib: Option<u64>,
}

#[derive(Debug, Serialize)]
pub struct EndpointLatency {
    pub endpoint: String,
    pub function: String,
    pub ours: Measured,
    pub baseline: Measured,
    /// The Python/boto3 handler (`GET /packages` only).
    pub python: Option<Measured>,
    /// Calls that failed or timed out (not in the statistics).
    pub failures: Vec<String>,
}

/// Measures every partner endpoint; an endpoint that fails is reported in `Err` of its own entry
/// so the others still count.
pub async fn measure(
    ctx: &Context,
    tenant: &Tenant,
    calls: usize,
    token_cap: usize,
) -> Vec<(Endpoint, Result<EndpointLatency>)> {
    let mut out = Vec::new();
    for endpoint in Endpoint::ALL {
        let result =
            endpoint_latency(ctx, tenant, endpoint, endpoint.calls(calls, token_cap)).await;
        if let Err(e) = &result {
            eprintln!("  latency {:<14} failed: {e}", endpoint.label());
        }
        out.push((endpoint, result));
    }
    out
}

async fn endpoint_latency(
    ctx: &Context,
    tenant: &Tenant,
    endpoint: Endpoint,
    calls: usize,
) -> Result<EndpointLatency> {
    let mut specs = vec![
        ctx.function_spec(endpoint.function()),
        ctx.baseline_spec(tenant, endpoint.baseline_mode()),
    ];
    if endpoint == Endpoint::List {
        specs.extend(ctx.python_spec());
    }
    let (measured, failures) = run(ctx, tenant, endpoint, &specs, calls).await?;
    let mut measured = measured.into_iter();
    let ours = measured.next().ok_or("no measurement")?;
    let baseline = measured.next().ok_or("no baseline measurement")?;
    eprintln!(
        "  latency {:<14} p50 {:>7.2} ms (baseline {:>7.2} ms)",
        endpoint.label(),
        ours.stats.p50_ms,
        baseline.stats.p50_ms
    );
    Ok(EndpointLatency {
        endpoint: endpoint.label().into(),
        function: endpoint.function().into(),
        ours,
        baseline,
        python: measured.next(),
        failures,
    })
}

async fn run(
    ctx: &Context,
    tenant: &Tenant,
    endpoint: Endpoint,
    specs: &[Spec],
    calls: usize,
) -> Result<(Vec<Measured>, Vec<String>)> {
    let mut instances = Vec::new();
    for spec in specs {
        let mut instance = Instance::start(spec, &ctx.logs).await?;
        instance.init_time().await?;
        instances.push(instance);
    }
    let warm_up = WARM_UP.min(calls / 4);
    let mut samples: Vec<Vec<Duration>> = vec![Vec::with_capacity(calls); instances.len()];
    let mut failures = Vec::new();
    for i in 0..(1 + warm_up + calls) {
        for (instance, sample) in instances.iter_mut().zip(samples.iter_mut()) {
            let label = instance.label.clone();
            match check(&label, endpoint, instance, ctx, tenant).await {
                Ok(latency) if i > warm_up => sample.push(latency),
                Ok(_) => {}
                Err(e) if failures.len() < MAX_FAILURES => failures.push(e.to_string()),
                Err(e) => return Err(format!("{e} (after {} failed calls)", failures.len()).into()),
            }
        }
    }
    let measured = instances
        .iter()
        .zip(samples)
        .map(|(instance, sample)| Measured {
            label: instance.label.clone(),
            stats: Stats::of(&sample),
            peak_rss_kib: instance.peak_rss_kib(),
        })
        .collect();
    Ok((measured, failures))
}

/// Peak RSS of a function under a short load of `calls` invocations of `event` (any answer will
/// do: this is about memory, not correctness).
pub async fn rss_under_load(
    ctx: &Context,
    spec: &Spec,
    calls: usize,
    event: impl Fn() -> serde_json::Value,
) -> Result<(Option<u64>, Vec<u16>)> {
    let mut instance = Instance::start(spec, &ctx.logs).await?;
    instance.init_time().await?;
    let mut statuses = Vec::new();
    for _ in 0..calls {
        let answer = instance.invoke(&event()).await?;
        let status = answer.status_code();
        if !statuses.contains(&status) {
            statuses.push(status);
        }
    }
    Ok((instance.peak_rss_kib(), statuses))
}
