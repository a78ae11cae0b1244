//! `bench`: the connector's benchmark harness (`make bench`).
//!
//! Builds the release functions and the two baselines, then measures against the running local
//! stack (moto, SR simulator), each figure beside a baseline measured in the same run:
//!
//! 1. init time of every function vs the empty `hello-lambda` ([`init`]);
//! 2. AWS round trips per warm call, counted by a proxy in front of moto ([`roundtrips`]);
//! 3. warm latency p50/p99 vs `baseline-handler`, which makes the minimal AWS calls for the
//!    endpoint and nothing else ([`latency`]);
//! 4. results throughput under the simulator's rate limit ([`throughput`]);
//! 5. stripped binary size and peak RSS under a short load ([`size`], [`latency`]);
//! 6. the same `GET /packages` in Python + boto3, beside ours ([`python`]);
//! 7. peak RSS of the publisher delivering ten results with a 10 MiB `data_url` file each,
//!    beside the same batch without files ([`files`]);
//! 8. DynamoDB write units of one order's lifecycle, billed from item sizes by a proxy in front
//!    of moto ([`writes`]).
//!
//! Prints a table and writes `infra/bench/results/latest.json`. Not a test: nothing here asserts.
//! `bench --help` lists the knobs.

mod context;
mod files;
mod fixtures;
mod http1;
mod init;
mod latency;
mod launch;
mod proxy;
mod python;
mod report;
mod roundtrips;
mod size;
mod stats;
mod stub;
mod throughput;
mod writes;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::{json, Value};

use context::{Context, BASELINE, FUNCTIONS, HELLO};
use fixtures::{http_event, Tenant};
use report::{Row, Target};

pub type Error = Box<dyn std::error::Error + Send + Sync>;
pub type Result<T> = std::result::Result<T, Error>;

const MIB: f64 = 1024.0;

const USAGE: &str = "\
usage: cargo run --release -p connector-bench --bin bench -- [options]

Needs the local stack (make stack-up). Options:
  --only LIST         sections to run, comma-separated: size,init,trips,latency,rss,throughput,
                      files,writes (default: all)
  --functions LIST    functions the size and init sections measure, comma-separated
                      (default: all eleven; e.g. list-packages,result-publisher)
  --init-rounds N     interleaved launches per binary for init time (default 40)
  --calls N           warm calls per endpoint for latency and RSS (default 200)
  --token-calls N     at most this many for the token endpoint (default 15: its TransactWriteItems
                      costs moto 0.2-0.5 s and memory it never frees)
  --trips N           warm calls per endpoint for round-trip counting (default 10)
  --results N         results pushed through the publisher for throughput, per company (default 100)
  --companies N       after the one-company run, a run with N companies at once, each on its own
                      SR credential (default 3; 1 skips it)
  --rate N            simulator rate limit, requests per second per client (default 10)
  --concurrent N      simulator concurrency limit per client (default 8)
  --deadline SECS     throughput time limit (default max(30, 3 x results / rate))
  --quick             small numbers for a smoke run (8 rounds, 30 calls, 30 results)
  --no-build          use target/release as it is
  --bin-dir DIR       measure the binaries in DIR instead of target/release (implies --no-build)
  --out PATH          JSON output (default infra/bench/results/latest.json)
";

struct Options {
    sections: Vec<String>,
    functions: Vec<String>,
    init_rounds: usize,
    calls: usize,
    token_calls: usize,
    trips: usize,
    results: usize,
    companies: usize,
    rate: u32,
    concurrent: u32,
    deadline: Option<Duration>,
    build: bool,
    bin_dir: Option<PathBuf>,
    out: Option<PathBuf>,
}

impl Options {
    fn parse() -> Result<Self> {
        let mut o = Options {
            sections: [
                "size",
                "init",
                "trips",
                "latency",
                "rss",
                "throughput",
                "files",
                "writes",
            ]
            .map(String::from)
            .to_vec(),
            functions: FUNCTIONS.map(String::from).to_vec(),
            init_rounds: 40,
            calls: 200,
            token_calls: 15,
            trips: 10,
            results: 100,
            companies: 3,
            rate: 10,
            concurrent: 8,
            deadline: None,
            build: true,
            bin_dir: None,
            out: None,
        };
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            let mut value = || args.next().ok_or_else(|| format!("{arg} needs a value"));
            match arg.as_str() {
                "--only" => {
                    o.sections = value()?.split(',').map(|s| s.trim().to_string()).collect()
                }
                "--functions" => {
                    let named: Vec<String> =
                        value()?.split(',').map(|s| s.trim().to_string()).collect();
                    if let Some(unknown) = named.iter().find(|f| !FUNCTIONS.contains(&f.as_str())) {
                        return Err(format!("--functions: no function {unknown}").into());
                    }
                    o.functions = named;
                }
                "--init-rounds" => o.init_rounds = value()?.parse()?,
                "--calls" => o.calls = value()?.parse()?,
                "--token-calls" => o.token_calls = value()?.parse()?,
                "--trips" => o.trips = value()?.parse()?,
                "--results" => o.results = value()?.parse()?,
                "--companies" => o.companies = value()?.parse()?,
                "--rate" => o.rate = value()?.parse()?,
                "--concurrent" => o.concurrent = value()?.parse()?,
                "--deadline" => o.deadline = Some(Duration::from_secs_f64(value()?.parse()?)),
                "--out" => o.out = Some(PathBuf::from(value()?)),
                "--no-build" => o.build = false,
                "--bin-dir" => {
                    o.bin_dir = Some(PathBuf::from(value()?));
                    o.build = false;
                }
                "--quick" => {
                    o.init_rounds = 8;
                    o.calls = 30;
                    o.token_calls = 8;
                    o.trips = 3;
                    o.results = 30;
                }
                "-h" | "--help" => {
                    print!("{USAGE}");
                    std::process::exit(0);
                }
                other => return Err(format!("unknown option {other}\n\n{USAGE}").into()),
            }
        }
        Ok(o)
    }

    fn wants(&self, section: &str) -> bool {
        self.sections.iter().any(|s| s == section)
    }
}

fn repository_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .join("../..")
        .canonicalize()
        .unwrap_or_else(|_| manifest.join("../.."))
}

/// Where cargo puts build outputs: `target_directory` of `cargo metadata` (honours
/// `CARGO_TARGET_DIR` and `build.target-dir`); `<root>/target` if cargo cannot say.
pub fn cargo_target_dir(root: &Path) -> PathBuf {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .current_dir(root)
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .output()
        .ok()
        .filter(|out| out.status.success())
        .and_then(|out| serde_json::from_slice::<serde_json::Value>(&out.stdout).ok())
        .and_then(|metadata| metadata["target_directory"].as_str().map(PathBuf::from))
        .unwrap_or_else(|| root.join("target"))
}

/// `<target>/release`: where this binary runs from when started with `cargo run --release`.
fn release_dir(root: &Path) -> PathBuf {
    let here = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf));
    match here {
        Some(dir) if dir.file_name().is_some_and(|n| n == "release") => dir,
        _ => {
            eprintln!("bench: not a release build of the harness; measuring target/release anyway (use --release)");
            cargo_target_dir(root).join("release")
        }
    }
}

/// `cargo build --release` of every function and of this crate's binaries, in one invocation so
/// shared crates are compiled once, with the same features as for the functions alone.
fn build(root: &Path) -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = Command::new(cargo);
    command.current_dir(root).args(["build", "--release"]);
    // `cargo run` sets these for the running binary. Build scripts (ring's) track some of them, so
    // inheriting them would make every `cargo run` and this build rebuild each other's crates.
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        let from_cargo_run = name.starts_with("CARGO_PKG_")
            || name.starts_with("CARGO_MANIFEST_")
            || matches!(
                name.as_ref(),
                "CARGO_CRATE_NAME" | "CARGO_BIN_NAME" | "CARGO_PRIMARY_PACKAGE" | "OUT_DIR"
            );
        if from_cargo_run {
            command.env_remove(name.as_ref());
        }
    }
    for name in FUNCTIONS {
        command.args(["-p", name]);
    }
    command.args(["-p", "connector-bench", "--bins"]);
    eprintln!("bench: building release binaries (cargo build --release -p <functions> -p connector-bench)");
    let status = command.status()?;
    if !status.success() {
        return Err(format!("cargo build failed ({status})").into());
    }
    Ok(())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("bench: {e}");
        std::process::exit(1);
    }
}

async fn run() -> Result<()> {
    let options = Options::parse()?;
    let root = repository_root();
    if options.build {
        build(&root)?;
    }
    connector::aws::install_crypto_provider();
    let release = options
        .bin_dir
        .clone()
        .unwrap_or_else(|| release_dir(&root));
    let ctx = Context::new(&root, &release).await?;
    let load_before = load_average();
    let mut rows = Vec::new();
    let mut details = serde_json::Map::new();

    if options.wants("size") {
        eprintln!("bench: size");
        let done = size_section(&ctx, &options.functions, &mut rows, &mut details);
        record(&mut rows, "size", done);
    }
    if options.wants("init") {
        eprintln!(
            "bench: init time ({} interleaved rounds)",
            options.init_rounds
        );
        let done = init_section(
            &ctx,
            &options.functions,
            options.init_rounds,
            &mut rows,
            &mut details,
        )
        .await;
        record(&mut rows, "init", done);
    }
    let needs_tenant = ["trips", "latency", "rss"].iter().any(|s| options.wants(s));
    let tenant = match needs_tenant {
        true => {
            let created = Tenant::create(&ctx.stack, "bench").await;
            record(&mut rows, "set-up", created)
        }
        false => None,
    };
    let mut publisher_rss = None;
    if let (true, Some(tenant)) = (options.wants("trips"), &tenant) {
        eprintln!("bench: AWS round trips ({} warm calls each)", options.trips);
        let done = trips_section(&ctx, tenant, options.trips, &mut rows, &mut details).await;
        publisher_rss = record(&mut rows, "AWS calls", done).flatten();
    }
    if let (true, Some(tenant)) = (options.wants("latency"), &tenant) {
        eprintln!(
            "bench: warm latency ({} calls each, token endpoint {}, interleaved with the baseline)",
            options.calls,
            options.calls.min(options.token_calls)
        );
        let done = latency_section(&ctx, tenant, &options, &mut rows, &mut details).await;
        record(&mut rows, "latency", done);
    }
    if let (true, Some(tenant)) = (options.wants("rss"), &tenant) {
        eprintln!(
            "bench: peak RSS of the other functions ({} calls each)",
            options.calls
        );
        let done = rss_section(&ctx, tenant, options.calls, &mut rows, &mut details).await;
        record(&mut rows, "peak RSS", done);
    }
    // One company, then (unless `--companies 1`) several at once, each on its own credential.
    let mut company_counts = vec![1];
    if options.companies > 1 {
        company_counts.push(options.companies);
    }
    for companies in company_counts
        .into_iter()
        .filter(|_| options.wants("throughput"))
    {
        eprintln!(
            "bench: results throughput ({} results per company, {companies} companies, limit {}/s, {} concurrent)",
            options.results, options.rate, options.concurrent
        );
        let settings = throughput::Settings {
            results: options.results,
            companies,
            per_second: options.rate,
            concurrent: options.concurrent,
            deadline: options.deadline,
        };
        let measured = throughput::measure(&ctx, &settings).await;
        if let Some(measured) = record(&mut rows, "throughput", measured) {
            publisher_rss = publisher_rss.max(measured.peak_rss_kib);
            throughput_rows(&measured, &mut rows);
            let key = if companies == 1 {
                "throughput".to_string()
            } else {
                format!("throughput_{companies}_companies")
            };
            details.insert(key, serde_json::to_value(&measured)?);
        }
    }
    if options.wants("files") {
        eprintln!(
            "bench: publisher peak RSS, {FILE_RESULTS} results with a {} MiB data_url file each",
            FILE_BYTES / (1024 * 1024)
        );
        let measured = files::measure(&ctx, FILE_RESULTS, FILE_BYTES).await;
        if let Some(measured) = record(&mut rows, "files", measured) {
            files_rows(&measured, &mut rows);
            details.insert("files".into(), serde_json::to_value(&measured)?);
        }
    }
    if options.wants("writes") {
        eprintln!("bench: DynamoDB write units of one order's lifecycle");
        let measured = writes::measure(&ctx).await;
        if let Some(measured) = record(&mut rows, "writes", measured) {
            writes_rows(&measured, &mut rows);
            details.insert("writes".into(), serde_json::to_value(&measured)?);
        }
    }
    if let Some(kib) = publisher_rss {
        rows.push(
            rss_row("result-publisher", kib, &details)
                .note("max of the round-trip and throughput runs"),
        );
    }

    let table = report::table(&rows);
    println!("\n{table}");
    let out = options
        .out
        .clone()
        .unwrap_or_else(|| root.join("infra/bench/results/latest.json"));
    let meta = json!({
        "generated_at": chrono::Utc::now().to_rfc3339(),
        "git_commit": git(&root, &["rev-parse", "HEAD"]),
        "git_dirty": git(&root, &["status", "--porcelain"]).is_some_and(|s| !s.is_empty()),
        "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "load_average_before": load_before,
        "load_average_after": load_average(),
        "settings": {
            "sections": options.sections, "init_rounds": options.init_rounds,
            "latency_calls": options.calls, "token_latency_calls": options.token_calls.min(options.calls),
            "round_trip_calls": options.trips,
            "results": options.results, "rate_per_second": options.rate,
            "concurrent": options.concurrent,
        },
        "release_dir": release.display().to_string(),
        "function_logs": ctx.logs.display().to_string(),
    });
    report::write_json(&out, meta, &rows, Value::Object(details))?;
    let misses = rows.iter().filter(|r| r.pass == Some(false)).count();
    println!(
        "{misses} of {} targets missed; JSON: {}",
        rows.iter().filter(|r| r.pass.is_some()).count(),
        out.display()
    );
    Ok(())
}

/// The `files` section: one SQS event of this many results, each with a file of this size (SR's
/// largest, `MAX_DOWNLOAD_BYTES`).
const FILE_RESULTS: usize = 10;
const FILE_BYTES: usize = connector::attachments::MAX_DOWNLOAD_BYTES;

fn files_rows(measured: &files::FilesRss, rows: &mut Vec<Row>) {
    let (Some(with), Some(without)) = (measured.with_files_kib, measured.without_files_kib) else {
        rows.push(Row::error("files", "no peak RSS could be read"));
        return;
    };
    rows.push(
        Row::new(
            "peak RSS",
            "result-publisher",
            &format!(
                "{} results × {} MiB data_url",
                measured.results,
                measured.file_bytes / (1024 * 1024)
            ),
            with as f64 / MIB,
            "MiB",
        )
        .against("same batch, no files", without as f64 / MIB)
        // The function has 128 MB: a quarter of it stays free.
        .target(Target::AtMost(96.0))
        .note(format!(
            "one SQS event; {} of {} files reached the simulator whole; at most 4 files in \
             memory at once (the concurrency permits); the function has 128 MB",
            measured.uploaded, measured.results
        )),
    );
}

/// A failed section becomes an ERROR row; the run goes on with the next one.
fn record<T>(rows: &mut Vec<Row>, section: &str, result: Result<T>) -> Option<T> {
    match result {
        Ok(value) => Some(value),
        Err(e) => {
            eprintln!("bench: {section} failed: {e}");
            rows.push(Row::error(section, &e.to_string()));
            None
        }
    }
}

fn size_section(
    ctx: &Context,
    functions: &[String],
    rows: &mut Vec<Row>,
    details: &mut serde_json::Map<String, Value>,
) -> Result<()> {
    let mut names: Vec<&str> = functions.iter().map(String::as_str).collect();
    names.extend([HELLO, BASELINE, context::PROBE]);
    let sizes = size::measure(ctx, &names)?;
    let hello = sizes[HELLO] as f64 / 1e6;
    for name in functions {
        let name = name.as_str();
        let mb = sizes[name] as f64 / 1e6;
        rows.push(
            Row::new("size", name, "stripped binary", mb, "MB")
                .against(HELLO, hello)
                .target(Target::AtMost(8.0))
                .note(format!(
                    "{} bytes = {:.2} MiB",
                    sizes[name],
                    sizes[name] as f64 / MIB / MIB
                )),
        );
    }
    details.insert("size_bytes".into(), serde_json::to_value(&sizes)?);
    Ok(())
}

async fn init_section(
    ctx: &Context,
    functions: &[String],
    rounds: usize,
    rows: &mut Vec<Row>,
    details: &mut serde_json::Map<String, Value>,
) -> Result<()> {
    let mut specs = vec![ctx.hello_spec()];
    specs.extend(functions.iter().map(|f| ctx.function_spec(f)));
    specs.extend(ctx.python_spec());
    let measured = init::measure(&specs, rounds, &ctx.logs).await?;
    let hello = &measured.stats[HELLO];
    for name in functions {
        let name = name.as_str();
        let s = &measured.stats[name];
        rows.push(
            Row::new("init", name, "median spawn→/next", s.p50_ms, "ms")
                .against(HELLO, hello.p50_ms)
                .target(Target::RatioAtMost(1.3))
                .note(format!(
                    "p90 {:.2} ms (hello p90 {:.2} ms), {} launches",
                    s.p90_ms, hello.p90_ms, s.n
                )),
        );
    }
    if let (Some(s), Some(ours)) = (
        measured.stats.get(python::LABEL),
        measured.stats.get("list-packages"),
    ) {
        rows.push(
            Row::new("python", python::LABEL, "median init", s.p50_ms, "ms")
                .against("list-packages", ours.p50_ms)
                .note(format!(
                    "{:.1}× hello-lambda; p90 {:.1} ms",
                    s.p50_ms / hello.p50_ms,
                    s.p90_ms
                )),
        );
    }
    details.insert("init".into(), serde_json::to_value(&measured)?);

    // Where the functions' extra init time goes (info rows, no target).
    let probe = ctx.function_spec(context::PROBE);
    let chain = probe.with_env(&[("INIT_PROBE_PROVIDER_CHAIN", "1")]);
    let without_roots = chain.with_env(&[("INIT_PROBE_NO_NATIVE_ROOTS", "1")]);
    let runs = rounds.clamp(5, 20);
    let (steps, with_chain, bare) = tokio::task::spawn_blocking(move || {
        Ok::<_, Error>((
            init::breakdown(&probe, runs)?,
            init::breakdown(&chain, runs)?,
            init::breakdown(&without_roots, runs)?,
        ))
    })
    .await??;
    for (step, ms) in &steps.phases_ms {
        rows.push(Row::new("init steps", context::PROBE, step, *ms, "ms"));
    }
    let partner_steps: f64 = steps
        .phases_ms
        .iter()
        .filter(|(step, _)| {
            // Built on first use in the partner functions (`aws::LazyClient`, `SrClient`).
            !(step.starts_with("SrClient")
                || step.ends_with("Secrets Manager")
                || step.ends_with("SQS"))
        })
        .map(|(_, ms)| ms)
        .sum();
    let extra = measured
        .stats
        .get("list-packages")
        .map_or(f64::NAN, |s| s.p50_ms - hello.p50_ms);
    rows.push(
        Row::new("init steps", context::PROBE, "sum of partner-function steps", partner_steps, "ms")
            .against("list-packages − hello", extra)
            .note(format!(
                "median of {runs} init-probe runs, each step of PartnerApi::from_env timed in-process; \
                 the partner functions build the Secrets Manager and SQS clients on first use, and \
                 SrClient's HTTP client too"
            )),
    );
    let sdk_config = |b: &init::InitBreakdown| -> f64 {
        b.phases_ms
            .iter()
            .filter(|(step, _)| step.starts_with("SDK config") || step.starts_with("aws::http"))
            .map(|(_, ms)| ms)
            .sum()
    };
    rows.push(
        Row::new("init steps", context::PROBE, "SDK config from the Lambda environment", sdk_config(&steps), "ms")
            .against("provider chain", sdk_config(&with_chain))
            .note(
                "aws::lambda_sdk_config (region and role credentials from the variables Lambda sets) \
                 vs aws_config's provider chain (INIT_PROBE_PROVIDER_CHAIN), both with the SDK's HTTP client",
            ),
    );
    let sdk_steps = |b: &init::InitBreakdown| -> f64 {
        b.phases_ms
            .iter()
            .filter(|(step, _)| step.starts_with("SDK config") || step.starts_with("SDK client"))
            .map(|(_, ms)| ms)
            .sum()
    };
    rows.push(
        Row::new("init steps", context::PROBE, "SDK init without the system CA store", sdk_steps(&bare), "ms")
            .against("with it", sdk_steps(&with_chain))
            .note(
                "provider chain + 3 SDK clients with an empty trust store (INIT_PROBE_NO_NATIVE_ROOTS): \
                 the difference is loading and parsing the system CA store, which happens during init, \
                 not on the first request",
            ),
    );
    details.insert("init_breakdown".into(), serde_json::to_value(&steps)?);
    details.insert(
        "init_breakdown_provider_chain".into(),
        serde_json::to_value(&with_chain)?,
    );
    details.insert(
        "init_breakdown_without_native_roots".into(),
        serde_json::to_value(&bare)?,
    );
    Ok(())
}

/// Returns the publisher's peak RSS.
async fn trips_section(
    ctx: &Context,
    tenant: &Tenant,
    warm: usize,
    rows: &mut Vec<Row>,
    details: &mut serde_json::Map<String, Value>,
) -> Result<Option<u64>> {
    let partner = roundtrips::partner(ctx, tenant, warm).await?;
    for t in &partner {
        let mut row = Row::new(
            "AWS calls",
            &t.function,
            "per warm call",
            t.ours.per_warm_call(),
            "calls",
        )
        .against(BASELINE, t.baseline.per_warm_call());
        if let Some(target) = t.target_per_warm_call {
            row = row.target(Target::AtMost(target));
        }
        let mut note = format!(
            "{}: warm {}; cold {}",
            t.endpoint,
            t.ours.warm_breakdown(),
            roundtrips::breakdown(&t.ours.cold, 1)
        );
        if !t.ours.during_init.is_empty() {
            note.push_str(&format!(
                "; during init {}",
                roundtrips::breakdown(&t.ours.during_init, 1)
            ));
        }
        rows.push(row.note(note));
    }
    let publisher = roundtrips::publisher(ctx, warm).await?;
    rows.push(
        Row::new(
            "AWS calls",
            "result-publisher",
            "per warm result (events of 10)",
            publisher.aws_per_result(),
            "calls",
        )
        .target(Target::AtMost(1.0))
        .note(format!(
            "warm {}; cold {}",
            roundtrips::breakdown(&publisher.warm_aws, publisher.warm_results),
            roundtrips::breakdown(&publisher.cold_aws, 1)
        )),
    );
    rows.push(
        Row::new(
            "SR calls",
            "result-publisher",
            "per warm result",
            publisher.sr_per_result(),
            "calls",
        )
        .note(format!(
            "warm {}; cold {}; {}/{} warm results confirmed on the simulator",
            roundtrips::breakdown(&publisher.warm_sr, publisher.warm_results),
            roundtrips::breakdown(&publisher.cold_sr, 1),
            publisher.delivered,
            publisher.warm_results
        )),
    );
    rows.push(
        Row::new(
            "AWS calls",
            "result-publisher",
            "secret/SR-token re-reads, warm",
            publisher.warm_refetches() as f64,
            "calls",
        )
        .target(Target::AtMost(0.0))
        .note("Secrets Manager reads + SR token requests over all warm results (cached: 0)"),
    );
    details.insert(
        "round_trips".into(),
        json!({"partner": partner, "publisher": &publisher}),
    );
    Ok(publisher.peak_rss_kib)
}

async fn latency_section(
    ctx: &Context,
    tenant: &Tenant,
    options: &Options,
    rows: &mut Vec<Row>,
    details: &mut serde_json::Map<String, Value>,
) -> Result<()> {
    let mut measured = Vec::new();
    for (endpoint, result) in
        latency::measure(ctx, tenant, options.calls, options.token_calls).await
    {
        let section = format!("latency {}", endpoint.label());
        measured.extend(record(rows, &section, result));
    }
    let calls = options.calls;
    for e in &measured {
        let (ours, base) = (&e.ours.stats, &e.baseline.stats);
        for (metric, value, baseline) in [
            ("p50 warm", ours.p50_ms, base.p50_ms),
            ("p99 warm", ours.p99_ms, base.p99_ms),
        ] {
            let row =
                Row::new("latency", &e.function, metric, value, "ms").against(BASELINE, baseline);
            rows.push(if metric == "p50 warm" {
                row.target(Target::RatioAtMost(1.05)).note(latency_note(e))
            } else {
                row
            });
        }
        if let Some(py) = &e.python {
            for (metric, value, baseline) in [
                ("p50 warm", py.stats.p50_ms, ours.p50_ms),
                ("p99 warm", py.stats.p99_ms, ours.p99_ms),
            ] {
                rows.push(
                    Row::new("python", python::LABEL, metric, value, "ms")
                        .against(&e.function, baseline),
                );
            }
        }
    }
    let hello = hello_rss(ctx, calls).await?;
    details.insert("hello_rss_kib".into(), json!(hello));
    details.insert("latency".into(), serde_json::to_value(&measured)?);
    for e in &measured {
        if let Some(kib) = e.ours.peak_rss_kib {
            let load = format!("after {} warm calls", e.ours.stats.n);
            rows.push(rss_row(&e.function, kib, details).note(load));
        }
        if let (Some(py), Some(ours)) = (&e.python, e.ours.peak_rss_kib) {
            if let Some(kib) = py.peak_rss_kib {
                rows.push(
                    Row::new("python", python::LABEL, "peak RSS", kib as f64 / MIB, "MiB")
                        .against(&e.function, ours as f64 / MIB),
                );
            }
        }
    }
    Ok(())
}

fn latency_note(e: &latency::EndpointLatency) -> String {
    let mut note = format!(
        "{}: {} calls each, interleaved; baseline = the minimal AWS calls, nothing else",
        e.endpoint, e.ours.stats.n
    );
    if let Some(first) = e.failures.first() {
        note.push_str(&format!(
            "; {} failed calls left out (first: {first})",
            e.failures.len()
        ));
    }
    note
}

/// Peak RSS of `hello-lambda` under the same number of calls: the RSS baseline.
async fn hello_rss(ctx: &Context, calls: usize) -> Result<Option<u64>> {
    let (kib, _) = latency::rss_under_load(ctx, &ctx.hello_spec(), calls, || json!({})).await?;
    Ok(kib)
}

fn rss_row(function: &str, kib: u64, details: &serde_json::Map<String, Value>) -> Row {
    let mut row = Row::new(
        "peak RSS",
        function,
        "VmHWM after load",
        kib as f64 / MIB,
        "MiB",
    );
    if let Some(hello) = details.get("hello_rss_kib").and_then(Value::as_u64) {
        row = row.against(HELLO, hello as f64 / MIB);
    }
    row.target(Target::AtMost(16.0))
}

type EventMaker = Box<dyn Fn() -> Value>;

/// Peak RSS of the functions the latency section does not load.
async fn rss_section(
    ctx: &Context,
    tenant: &Tenant,
    calls: usize,
    rows: &mut Vec<Row>,
    details: &mut serde_json::Map<String, Value>,
) -> Result<()> {
    if !details.contains_key("hello_rss_kib") {
        let hello = hello_rss(ctx, calls).await?;
        details.insert("hello_rss_kib".into(), json!(hello));
    }
    let company = tenant.company.company_id.clone();
    let consent = move || {
        let mut event = http_event(
            "GET",
            "/integration",
            &[("accept", "text/html")],
            None,
            None,
        );
        event["rawQueryString"] = json!(format!("companyId={company}"));
        event["queryStringParameters"] = json!({"companyId": company});
        event
    };
    let key = format!("Bearer {}", ctx.stack.vendor_api_key);
    let integration = tenant.company.integration_id.clone();
    let vendor = move || {
        http_event(
            "GET",
            "/assessment/packages",
            &[("authorization", &key), ("x-integration-id", &integration)],
            None,
            None,
        )
    };
    // A company of its own: the first call disables it, the rest are SR's harmless repeats.
    let doomed = Tenant::create(&ctx.stack, "bench-disable").await?;
    let (doomed_id, bearer) = (
        doomed.company.company_id.clone(),
        format!("Bearer {}", doomed.token),
    );
    let disable = move || {
        http_event(
            "DELETE",
            &format!("/integrations/companies/{doomed_id}"),
            &[("authorization", &bearer)],
            None,
            Some(json!({"companyId": doomed_id})),
        )
    };
    let mut measured = serde_json::Map::new();
    let loads: [(&str, EventMaker); 3] = [
        ("consent", Box::new(consent)),
        ("vendor-api", Box::new(vendor)),
        ("disable-integration", Box::new(disable)),
    ];
    for (function, event) in loads {
        let (kib, statuses) =
            latency::rss_under_load(ctx, &ctx.function_spec(function), calls, event).await?;
        measured.insert(
            function.into(),
            json!({"peak_rss_kib": kib, "statuses": statuses}),
        );
        if let Some(kib) = kib {
            rows.push(
                rss_row(function, kib, details)
                    .note(format!("{calls} calls answered {statuses:?}")),
            );
        }
    }
    details.insert("rss_other_functions".into(), Value::Object(measured));
    Ok(())
}

fn throughput_rows(t: &throughput::Throughput, rows: &mut Vec<Row>) {
    if t.companies.len() > 1 {
        // Each company has its own credential and limit: one row each, beside that limit.
        for (i, c) in t.companies.iter().enumerate() {
            rows.push(
                Row::new(
                    "throughput",
                    "result-publisher",
                    &format!("results/s, company {} of {}", i + 1, t.companies.len()),
                    c.results_per_second,
                    "/s",
                )
                .with_ratio("limit", f64::from(t.rate_limit_per_second), c.ratio_of_limit)
                .target(Target::RatioAtLeast(0.99))
                .note(format!(
                    "{}: delivered {}/{} in {:.1} s; {} SR 429s; all {} companies at once on one queue",
                    c.company_id,
                    c.delivered,
                    c.results,
                    c.elapsed_s,
                    c.responses_429,
                    t.companies.len()
                )),
            );
        }
    }
    rows.push(
        Row::new("throughput", "result-publisher", "results/s under SR limit", t.results_per_second, "/s")
            .with_ratio(
                "limit",
                f64::from(t.rate_limit_per_second) * t.companies.len().max(1) as f64,
                t.ratio_of_limit,
            )
            .target(Target::RatioAtLeast(0.99))
            .note(format!(
                "delivered {}/{} in {:.1} s (deadline {:.0} s); {} SR 429s (simulator counted {}); {} batch items retried over {} invocations; queue visibility timeout {} s; SR calls {:?}",
                t.delivered,
                t.results,
                t.elapsed_s,
                t.deadline_s,
                t.responses_429,
                t.simulator_429_delta,
                t.retried_items,
                t.invocations,
                t.visibility_timeout_s,
                t.sr_calls
            )),
    );
    let timeline: Vec<String> = t
        .timeline
        .iter()
        .map(|[second, delivered, refused]| format!("{second}s {delivered}/{refused}"))
        .collect();
    rows.push(
        Row::new(
            "throughput",
            "result-publisher",
            "SR 429 responses",
            t.responses_429 as f64,
            "responses",
        )
        .note(format!(
            "per second since the start, delivered/429: {}",
            timeline.join(", ")
        )),
    );
}

/// Write units of the lifecycle (list, order + enrichment, IN_PROGRESS, COMPLETED, both
/// delivered) with the write path of df8edaa, measured by this section
/// (`bench --only writes`, 2026-11-30): the baseline the target halves. The order item grows to
/// 2.4 KB (enrichment 0.6 KB, result 0.5 KB) and is in `gsi1` with projection ALL, so each of
/// its six writes costs 3 units in the table and 3 in the index (the two result writes twice
/// the table's share, being transactional): 38 of the 53.
const LIFECYCLE_WRITE_UNITS_BEFORE: f64 = 53.0;

fn writes_rows(w: &writes::LifecycleWrites, rows: &mut Vec<Row>) {
    for step in &w.steps {
        rows.push(
            Row::new("writes", "lifecycle", &step.step, step.units(), "WCU").note(step.breakdown()),
        );
    }
    rows.push(
        Row::new(
            "writes",
            "lifecycle",
            "write units per order",
            w.units(),
            "WCU",
        )
        .against("before (df8edaa)", LIFECYCLE_WRITE_UNITS_BEFORE)
        .target(Target::RatioAtMost(0.5))
        .note(format!(
            "billed from item sizes as DynamoDB bills them (moto answers ReturnConsumedCapacity \
                 with a constant: {} for these writes); order {}",
            w.moto_reported(),
            w.order_id
        )),
    );
}

fn git(root: &Path, args: &[&str]) -> Option<String> {
    let output = Command::new("git")
        .current_dir(root)
        .args(args)
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_string())
}

fn load_average() -> Option<String> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
}
