//! SmartRecruiters (SR) simulator: plays SR's side of the Assessment Partner API v202010 for
//! local tests of the connector, records what it receives, injects faults and rate limits, and
//! can act as SR towards the connector (token, packages, orders).
//!
//! Start it in-process with [`start`] (binds `config.listen`, use `127.0.0.1:0` for an
//! ephemeral port) or [`serve`] (your own listener). All state is in memory.

pub mod acting_as_sr;
pub mod auth;
pub mod config;
pub mod error;
pub mod fixtures;
pub mod gate;
pub mod ids;
pub mod routes;
pub mod state;
pub mod validate;

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub use config::SimConfig;
pub use state::AppState;

/// Timeout for every call the simulator makes to the connector.
const OUTBOUND_TIMEOUT: Duration = Duration::from_secs(30);

/// Builds the application (router plus fresh state) for a server bound at `local_addr`.
pub fn app(config: SimConfig, local_addr: SocketAddr) -> std::io::Result<axum::Router> {
    // reqwest is compiled with `rustls-no-provider`: a process-wide provider must exist before a
    // Client is built, even though the simulator only calls plain http:// URLs.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::builder()
        .timeout(OUTBOUND_TIMEOUT)
        .build()
        .map_err(std::io::Error::other)?;
    let base_url = config
        .public_base_url
        .clone()
        .unwrap_or_else(|| format!("http://{local_addr}"));
    Ok(routes::router(AppState::new(config, base_url, http)))
}

/// Serves the simulator on `listener` until the task is dropped or the server fails.
pub async fn serve(listener: TcpListener, config: SimConfig) -> std::io::Result<()> {
    let app = app(config, listener.local_addr()?)?;
    axum::serve(listener, app).await
}

/// A simulator running on a background task; dropping it stops the server.
pub struct RunningSimulator {
    pub addr: SocketAddr,
    /// `http://{addr}` (or the configured public base URL).
    pub base_url: String,
    handle: JoinHandle<std::io::Result<()>>,
}

impl Drop for RunningSimulator {
    fn drop(&mut self) {
        self.handle.abort();
    }
}

/// Binds `config.listen` and serves on a spawned task (call from within a Tokio runtime).
pub async fn start(config: SimConfig) -> std::io::Result<RunningSimulator> {
    let listener = TcpListener::bind(&config.listen).await?;
    let addr = listener.local_addr()?;
    let base_url = config
        .public_base_url
        .clone()
        .unwrap_or_else(|| format!("http://{addr}"))
        .trim_end_matches('/')
        .to_owned();
    let handle = tokio::spawn(serve(listener, config));
    Ok(RunningSimulator {
        addr,
        base_url,
        handle,
    })
}
