//! Structured JSON logs, one line per event, filtered by `RUST_LOG` (default `info`).
//!
//! Nothing here redacts: the code never hands a secret, token or Authorization header to
//! `tracing` in the first place; `Secret` values render as `[redacted]` if someone tries.

use tracing_subscriber::EnvFilter;

pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .try_init();
}
