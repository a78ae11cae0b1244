//! Command line and environment configuration.
//!
//! Plain `std::env` parsing keeps the binary free of a CLI framework; flags win over env vars,
//! env vars win over the built-in defaults.

use std::fmt;

/// Default listen address (the local test setup expects SR on this port).
pub const DEFAULT_LISTEN: &str = "127.0.0.1:5310";
/// Default master (partner-level) client id accepted by `/identity/oauth/token`.
pub const DEFAULT_MASTER_CLIENT_ID: &str = "local-partner";
/// Default master client secret.
pub const DEFAULT_MASTER_CLIENT_SECRET: &str = "local-partner-secret";

pub const USAGE: &str = "\
sr-simulator: local SmartRecruiters Assessment Partner API v202010 simulator

USAGE:
    sr-simulator [--listen ADDR] [--master-client-id ID] [--master-client-secret SECRET]
                 [--public-base-url URL]

OPTIONS (env var in brackets):
    --listen ADDR                  [SR_SIM_LISTEN]               default 127.0.0.1:5310
    --master-client-id ID          [SR_SIM_MASTER_CLIENT_ID]     default local-partner
    --master-client-secret SECRET  [SR_SIM_MASTER_CLIENT_SECRET] default local-partner-secret
    --public-base-url URL          [SR_SIM_PUBLIC_BASE_URL]      default http://<bound address>
    -h, --help                     print this help
";

/// Runtime configuration of the simulator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimConfig {
    /// Address to bind (`host:port`); only used by the binary / [`crate::start`].
    pub listen: String,
    /// Master client credentials (scope `partner_configuration_manage`).
    pub master_client_id: String,
    pub master_client_secret: String,
    /// Base URL the connector should use to reach the simulator (callback URLs, attachment URLs).
    /// `None` means `http://{bound address}`.
    pub public_base_url: Option<String>,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            listen: DEFAULT_LISTEN.to_owned(),
            master_client_id: DEFAULT_MASTER_CLIENT_ID.to_owned(),
            master_client_secret: DEFAULT_MASTER_CLIENT_SECRET.to_owned(),
            public_base_url: None,
        }
    }
}

/// Why the command line could not be turned into a [`SimConfig`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CliError {
    /// `--help` was given; the caller prints [`USAGE`] and exits 0.
    Help,
    Invalid(String),
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Help => f.write_str("help requested"),
            CliError::Invalid(msg) => f.write_str(msg),
        }
    }
}

impl std::error::Error for CliError {}

impl SimConfig {
    /// Parses the real process arguments (without the program name) and environment.
    pub fn from_process() -> Result<Self, CliError> {
        Self::parse(std::env::args().skip(1), |key| std::env::var(key).ok())
    }

    /// Parses `args` (program name already removed) with `env` as the source of defaults.
    /// Accepts both `--flag value` and `--flag=value`.
    pub fn parse<I, E>(args: I, env: E) -> Result<Self, CliError>
    where
        I: IntoIterator<Item = String>,
        E: Fn(&str) -> Option<String>,
    {
        let non_empty = |key: &str| env(key).filter(|v| !v.is_empty());
        let mut config = SimConfig::default();
        if let Some(v) = non_empty("SR_SIM_LISTEN") {
            config.listen = v;
        }
        if let Some(v) = non_empty("SR_SIM_MASTER_CLIENT_ID") {
            config.master_client_id = v;
        }
        if let Some(v) = non_empty("SR_SIM_MASTER_CLIENT_SECRET") {
            config.master_client_secret = v;
        }
        config.public_base_url = non_empty("SR_SIM_PUBLIC_BASE_URL");

        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            if arg == "-h" || arg == "--help" {
                return Err(CliError::Help);
            }
            let (flag, inline_value) = match arg.split_once('=') {
                Some((flag, value)) if flag.starts_with("--") => {
                    (flag.to_owned(), Some(value.to_owned()))
                }
                _ => (arg.clone(), None),
            };
            let mut value = || {
                inline_value
                    .clone()
                    .or_else(|| args.next())
                    .filter(|v| !v.is_empty())
                    .ok_or_else(|| CliError::Invalid(format!("{flag} needs a value")))
            };
            match flag.as_str() {
                "--listen" => config.listen = value()?,
                "--master-client-id" => config.master_client_id = value()?,
                "--master-client-secret" => config.master_client_secret = value()?,
                "--public-base-url" => config.public_base_url = Some(value()?),
                other => return Err(CliError::Invalid(format!("unknown argument `{other}`"))),
            }
        }
        if let Some(base) = &config.public_base_url {
            let parsed = url::Url::parse(base).map_err(|e| {
                CliError::Invalid(format!(
                    "--public-base-url `{base}` is not an absolute URL: {e}"
                ))
            })?;
            if !matches!(parsed.scheme(), "http" | "https") {
                return Err(CliError::Invalid(format!(
                    "--public-base-url `{base}` must be http(s)"
                )));
            }
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn defaults_without_flags_or_env() {
        let config = SimConfig::parse(args(&[]), |_| None).unwrap();
        assert_eq!(config, SimConfig::default());
    }

    #[test]
    fn env_then_flags_override() {
        let env = |key: &str| match key {
            "SR_SIM_LISTEN" => Some("0.0.0.0:1".to_owned()),
            "SR_SIM_MASTER_CLIENT_ID" => Some("env-id".to_owned()),
            "SR_SIM_PUBLIC_BASE_URL" => Some("http://sim.local:9".to_owned()),
            _ => None,
        };
        let config = SimConfig::parse(
            args(&["--listen", "127.0.0.1:0", "--master-client-secret=s3"]),
            env,
        )
        .unwrap();
        assert_eq!(config.listen, "127.0.0.1:0");
        assert_eq!(config.master_client_id, "env-id");
        assert_eq!(config.master_client_secret, "s3");
        assert_eq!(
            config.public_base_url.as_deref(),
            Some("http://sim.local:9")
        );
    }

    #[test]
    fn rejects_unknown_flag_missing_value_and_bad_base_url() {
        assert!(matches!(
            SimConfig::parse(args(&["--nope"]), |_| None),
            Err(CliError::Invalid(_))
        ));
        assert!(matches!(
            SimConfig::parse(args(&["--listen"]), |_| None),
            Err(CliError::Invalid(_))
        ));
        assert!(matches!(
            SimConfig::parse(args(&["--public-base-url", "not a url"]), |_| None),
            Err(CliError::Invalid(_))
        ));
        assert_eq!(
            SimConfig::parse(args(&["--help"]), |_| None),
            Err(CliError::Help)
        );
    }
}
