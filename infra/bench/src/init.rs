//! Init time: spawn → first `GET /invocation/next`, for every function, the empty
//! `hello-lambda` and the Python handler, launched in interleaved rounds (hello, f1, f2, …, hello,
//! f1, …) so machine noise hits all of them alike. The first round only warms the page cache.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use crate::launch::{Instance, Spec};
use crate::stats::Stats;
use crate::Result;

#[derive(Debug, Serialize)]
pub struct InitTimes {
    /// Per label: init time statistics.
    pub stats: BTreeMap<String, Stats>,
    /// Per label: peak RSS right after init (KiB), median over the rounds.
    pub rss_after_init_kib: BTreeMap<String, u64>,
    pub rounds: usize,
}

pub async fn measure(specs: &[Spec], rounds: usize, logs: &Path) -> Result<InitTimes> {
    let mut times: BTreeMap<String, Vec<Duration>> = BTreeMap::new();
    let mut rss: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for round in 0..=rounds {
        for spec in specs {
            let mut instance = Instance::start(spec, logs).await?;
            let time = instance.init_time().await?;
            let peak = instance.peak_rss_kib();
            drop(instance);
            if round == 0 {
                continue; // warm-up round
            }
            times.entry(spec.label.clone()).or_default().push(time);
            if let Some(kib) = peak {
                rss.entry(spec.label.clone()).or_default().push(kib);
            }
        }
        if round > 0 && round % 10 == 0 {
            eprintln!("  init: {round}/{rounds} rounds");
        }
    }
    Ok(InitTimes {
        stats: times
            .iter()
            .map(|(k, v)| (k.clone(), Stats::of(v)))
            .collect(),
        rss_after_init_kib: rss
            .into_iter()
            .map(|(k, mut v)| {
                v.sort_unstable();
                (k, v[v.len() / 2])
            })
            .collect(),
        rounds,
    })
}

/// Median duration of each init step of a partner function, from `init-probe`, plus the time
/// from spawn to `main` (exec, dynamic loading).
#[derive(Debug, Serialize)]
pub struct InitBreakdown {
    pub runs: usize,
    pub before_main_ms: f64,
    /// In the order the steps run.
    pub phases_ms: Vec<(String, f64)>,
}

pub fn breakdown(probe: &Spec, runs: usize) -> Result<InitBreakdown> {
    let mut before_main = Vec::new();
    let mut phases: Vec<(String, Vec<f64>)> = Vec::new();
    for _ in 0..runs {
        let spawned = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_micros() as f64;
        let output = std::process::Command::new(&probe.program)
            .env_clear()
            .envs(&probe.env)
            .stderr(std::process::Stdio::null())
            .output()?;
        // The probe's own telemetry may log; its report is the last line.
        let text = String::from_utf8_lossy(&output.stdout);
        let line = text.lines().last().unwrap_or_default();
        let report: serde_json::Value = serde_json::from_str(line).map_err(|e| {
            format!(
                "init-probe printed {line:?} ({e}); status {}",
                output.status
            )
        })?;
        let entered = report["main_entered_unix_us"].as_f64().unwrap_or(spawned);
        before_main.push((entered - spawned) / 1e3);
        for pair in report["phases_ms"].as_array().into_iter().flatten() {
            let name = pair[0].as_str().unwrap_or("?").to_string();
            let ms = pair[1].as_f64().unwrap_or(0.0);
            match phases.iter_mut().find(|(n, _)| *n == name) {
                Some((_, v)) => v.push(ms),
                None => phases.push((name, vec![ms])),
            }
        }
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        crate::stats::percentile(&v, 50.0)
    };
    Ok(InitBreakdown {
        runs,
        before_main_ms: median(before_main),
        phases_ms: phases.into_iter().map(|(n, v)| (n, median(v))).collect(),
    })
}
