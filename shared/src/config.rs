//! Runtime configuration, read once per cold start from the environment the SAM template sets.

use std::time::Duration;

use url::Url;

/// SR's production endpoints; overridable so tests and staging can point elsewhere.
pub const DEFAULT_SR_API_BASE_URL: &str = "https://api.smartrecruiters.com/assessment-api/v202010";
pub const DEFAULT_SR_TOKEN_URL: &str = "https://api.smartrecruiters.com/identity/oauth/token";
/// SR's Customer API (candidates, jobs, hiring teams) lives at the host root, not under the
/// assessment API's versioned path.
pub const DEFAULT_SR_CUSTOMER_API_BASE_URL: &str = "https://api.smartrecruiters.com";
const DEFAULT_ACCESS_TOKEN_TTL_SECONDS: u64 = 900;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is not set")]
    Missing(&'static str),
    #[error("environment variable {name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

/// Where SmartRecruiters lives. The connector only ever sends credentials to these hosts.
#[derive(Debug, Clone)]
pub struct SrEndpoints {
    pub api_base_url: Url,
    pub token_url: Url,
    /// The Customer API (`GET /candidates/{id}`, `/jobs/{id}`, `/jobs/{id}/hiring-team`), read
    /// with the same customer-level credentials for order enrichment.
    pub customer_api_base_url: Url,
    /// Local stacks run the SR simulator over plain http on loopback; production never does.
    pub allow_insecure: bool,
}

impl SrEndpoints {
    /// `SR_API_BASE_URL`, `SR_TOKEN_URL`, `SR_CUSTOMER_API_BASE_URL` (SR production by default)
    /// and `ALLOW_INSECURE_SR_URLS`; every URL must be https unless insecure URLs are allowed
    /// (local stacks only).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let url = |name: &'static str, default: &str| {
            let raw = lookup(name).unwrap_or_else(|| default.to_string());
            Url::parse(&raw).map_err(|e| ConfigError::Invalid {
                name,
                reason: e.to_string(),
            })
        };
        let allow_insecure = lookup("ALLOW_INSECURE_SR_URLS").as_deref() == Some("true");
        let sr = SrEndpoints {
            api_base_url: url("SR_API_BASE_URL", DEFAULT_SR_API_BASE_URL)?,
            token_url: url("SR_TOKEN_URL", DEFAULT_SR_TOKEN_URL)?,
            customer_api_base_url: url(
                "SR_CUSTOMER_API_BASE_URL",
                DEFAULT_SR_CUSTOMER_API_BASE_URL,
            )?,
            allow_insecure,
        };
        for (name, u) in [
            ("SR_API_BASE_URL", &sr.api_base_url),
            ("SR_TOKEN_URL", &sr.token_url),
            ("SR_CUSTOMER_API_BASE_URL", &sr.customer_api_base_url),
        ] {
            if u.scheme() != "https" && !allow_insecure {
                return Err(ConfigError::Invalid {
                    name,
                    reason: "must be https (set ALLOW_INSECURE_SR_URLS=true only for local stacks)"
                        .into(),
                });
            }
        }
        Ok(sr)
    }
    /// `{api_base_url}/{path}`, keeping the base path (`/assessment-api/v202010`).
    pub fn api_url(&self, path: &str) -> Url {
        let mut url = self.api_base_url.clone();
        let joined = format!(
            "{}/{}",
            url.path().trim_end_matches('/'),
            path.trim_start_matches('/')
        );
        url.set_path(&joined);
        url
    }

    /// `{customer_api_base_url}/{path}`, keeping any base path.
    pub fn customer_api_url(&self, path: &str) -> Url {
        let mut url = self.customer_api_base_url.clone();
        let joined = format!(
            "{}/{}",
            url.path().trim_end_matches('/'),
            path.trim_start_matches('/')
        );
        url.set_path(&joined);
        url
    }

    /// True when `url` points at SR's API host (same scheme, host and port) and, outside local
    /// stacks, uses https. This is what keeps a forged `resultCallbackURL` from receiving tokens.
    pub fn is_sr_api_url(&self, url: &Url) -> bool {
        let base = &self.api_base_url;
        let scheme_ok = url.scheme() == "https" || (self.allow_insecure && url.scheme() == "http");
        scheme_ok
            && url.scheme() == base.scheme()
            && url.host_str() == base.host_str()
            && url.port_or_known_default() == base.port_or_known_default()
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub table_name: String,
    pub results_queue_url: String,
    /// Vendor notifications (webhooks) queue; unset means events are recorded and listable but
    /// not pushed (tools and old local env files that predate the queue).
    pub notifications_queue_url: Option<String>,
    /// Per-company secrets live under `{secret_prefix}companies/{companyId}`.
    pub secret_prefix: String,
    pub vendor_api_key_secret_id: String,
    pub partner_credential_secret_id: String,
    pub sr: SrEndpoints,
    pub access_token_ttl: Duration,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup`, so tests need not touch the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let required = |name: &'static str| {
            lookup(name)
                .filter(|v| !v.is_empty())
                .ok_or(ConfigError::Missing(name))
        };
        let sr = SrEndpoints::from_lookup(&lookup)?;
        let ttl = match lookup("ACCESS_TOKEN_TTL_SECONDS") {
            None => DEFAULT_ACCESS_TOKEN_TTL_SECONDS,
            Some(raw) => raw
                .parse::<u64>()
                .ok()
                .filter(|s| (60..=86_400).contains(s))
                .ok_or(ConfigError::Invalid {
                    name: "ACCESS_TOKEN_TTL_SECONDS",
                    reason: "must be a whole number of seconds between 60 and 86400".into(),
                })?,
        };
        Ok(Self {
            table_name: required("TABLE_NAME")?,
            results_queue_url: required("RESULTS_QUEUE_URL")?,
            notifications_queue_url: lookup("NOTIFICATIONS_QUEUE_URL").filter(|v| !v.is_empty()),
            secret_prefix: required("SECRET_PREFIX")?,
            vendor_api_key_secret_id: required("VENDOR_API_KEY_SECRET_ID")?,
            partner_credential_secret_id: required("PARTNER_CREDENTIAL_SECRET_ID")?,
            sr,
            access_token_ttl: Duration::from_secs(ttl),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    const BASE: &[(&str, &str)] = &[
        ("TABLE_NAME", "t"),
        ("RESULTS_QUEUE_URL", "q"),
        ("SECRET_PREFIX", "p/"),
        ("VENDOR_API_KEY_SECRET_ID", "v"),
        ("PARTNER_CREDENTIAL_SECRET_ID", "m"),
    ];

    #[test]
    fn defaults_point_at_smartrecruiters_production() {
        let config = Config::from_lookup(env(BASE)).unwrap();
        assert_eq!(config.sr.api_base_url.as_str(), DEFAULT_SR_API_BASE_URL);
        assert_eq!(config.sr.token_url.as_str(), DEFAULT_SR_TOKEN_URL);
        assert_eq!(
            config.sr.customer_api_url("/candidates/c 1").as_str(),
            "https://api.smartrecruiters.com/candidates/c%201"
        );
        assert_eq!(config.notifications_queue_url, None);
        assert_eq!(config.access_token_ttl, Duration::from_secs(900));
    }

    #[test]
    fn missing_variable_is_named() {
        let err = Config::from_lookup(env(&BASE[1..])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "environment variable TABLE_NAME is not set"
        );
    }

    #[test]
    fn plain_http_sr_is_refused_unless_explicitly_allowed() {
        let mut pairs = BASE.to_vec();
        pairs.push((
            "SR_API_BASE_URL",
            "http://127.0.0.1:5310/assessment-api/v202010",
        ));
        assert!(Config::from_lookup(env(&pairs)).is_err());
        pairs.push(("SR_TOKEN_URL", "http://127.0.0.1:5310/identity/oauth/token"));
        pairs.push(("SR_CUSTOMER_API_BASE_URL", "http://127.0.0.1:5310"));
        pairs.push(("ALLOW_INSECURE_SR_URLS", "true"));
        let config = Config::from_lookup(env(&pairs)).unwrap();
        assert_eq!(
            config.sr.customer_api_url("jobs/j1/hiring-team").as_str(),
            "http://127.0.0.1:5310/jobs/j1/hiring-team"
        );
    }

    #[test]
    fn a_plain_http_customer_api_is_refused_too() {
        let mut pairs = BASE.to_vec();
        pairs.push(("SR_CUSTOMER_API_BASE_URL", "http://api.smartrecruiters.com"));
        let err = Config::from_lookup(env(&pairs)).unwrap_err();
        assert!(
            err.to_string().contains("SR_CUSTOMER_API_BASE_URL"),
            "{err}"
        );
    }

    #[test]
    fn api_url_keeps_the_base_path() {
        let config = Config::from_lookup(env(BASE)).unwrap();
        assert_eq!(
            config.sr.api_url("/orders/abc/results").as_str(),
            "https://api.smartrecruiters.com/assessment-api/v202010/orders/abc/results"
        );
    }

    #[test]
    fn only_sr_hosts_count_as_sr_urls() {
        let config = Config::from_lookup(env(BASE)).unwrap();
        let ok =
            Url::parse("https://api.smartrecruiters.com/assessment-api/v202010/orders/1/results")
                .unwrap();
        let evil = Url::parse("https://evil.example.com/orders/1/results").unwrap();
        let downgrade =
            Url::parse("http://api.smartrecruiters.com/assessment-api/v202010/orders/1/results")
                .unwrap();
        assert!(config.sr.is_sr_api_url(&ok));
        assert!(!config.sr.is_sr_api_url(&evil));
        assert!(!config.sr.is_sr_api_url(&downgrade));
    }
}
