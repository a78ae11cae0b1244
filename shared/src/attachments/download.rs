//! Downloading a vendor's `data_url` without letting it reach anything it should not.
//!
//! The guard sits in two places, so no request can skip it:
//! - a DNS resolver (`GuardedResolver`) that resolves the host itself and refuses the lookup
//!   when any address is not public. reqwest connects only to the addresses this resolver
//!   returned, so the checked address *is* the connected one: a DNS answer that changes between
//!   check and connect (rebinding) cannot slip through. This is the same pinning
//!   `ClientBuilder::resolve` gives, applied to every host the client ever meets, redirect hops
//!   included;
//! - [`check_url`] for what never reaches a resolver: the scheme, credentials in the URL and IP
//!   literals (`https://10.0.0.1/`), on the first URL and on every redirect hop.
//!
//! Proxies are off (`no_proxy`): a proxy would resolve the host on its side of the guard.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::{redirect, StatusCode};
use url::{Host, Url};

use super::address::{classify, AddressClass};
use crate::config::SrEndpoints;

/// Largest file the publisher downloads from a `data_url`. SR's v202010 spec does not state a
/// limit for `POST /orders/{orderId}/results/attachment`; the only file limit in SR's spec is the
/// `Attachment.fileContent` maxLength of 13,981,014 base64 characters, i.e. 10 MiB of file, so
/// a larger file would most likely be refused by SR after a wasted download. It also keeps the
/// 128 MB publisher well inside its memory (the file is held once for the multipart body).
pub const MAX_DOWNLOAD_BYTES: usize = 10 * 1024 * 1024;
/// Whole download, connect to last byte: the publisher Lambda has 30 s for a batch.
pub const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(20);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Redirects followed (each hop is checked like the first URL); storage services that sign
/// URLs redirect once or twice at most.
pub const MAX_REDIRECTS: usize = 3;

/// What a download may do. Production: https, public addresses only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DownloadPolicy {
    /// `ALLOW_PRIVATE_ATTACHMENT_URLS=true`: local stacks download from the SR simulator or a
    /// test server on 127.0.0.1. Never set it in a deployment.
    pub allow_private_addresses: bool,
    /// Plain http, allowed only where SR itself may be reached over http (local stacks,
    /// `ALLOW_INSECURE_SR_URLS`).
    pub allow_http: bool,
    pub max_bytes: usize,
    pub timeout: Duration,
}

impl DownloadPolicy {
    /// https only, public addresses only.
    pub fn strict() -> Self {
        Self {
            allow_private_addresses: false,
            allow_http: false,
            max_bytes: MAX_DOWNLOAD_BYTES,
            timeout: DOWNLOAD_TIMEOUT,
        }
    }

    /// `ALLOW_PRIVATE_ATTACHMENT_URLS=true` lifts the address check; http follows `sr.allow_insecure`.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>, sr: &SrEndpoints) -> Self {
        Self {
            allow_private_addresses: lookup("ALLOW_PRIVATE_ATTACHMENT_URLS").as_deref()
                == Some("true"),
            allow_http: sr.allow_insecure,
            ..Self::strict()
        }
    }

    pub fn from_env(sr: &SrEndpoints) -> Self {
        Self::from_lookup(|name| std::env::var(name).ok(), sr)
    }
}

/// Why a download did not happen. [`DownloadError::is_transient`] tells a retry from a refusal.
/// Messages name the host, never the full URL: signed URLs carry credentials in their query.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DownloadError {
    #[error("data_url is not a usable URL: {0}")]
    InvalidUrl(String),
    #[error("data_url must use https (got {0})")]
    Scheme(String),
    #[error("data_url host `{host}` resolves to {address}, a {class} address; only public addresses may be downloaded from")]
    AddressRefused {
        host: String,
        address: std::net::IpAddr,
        class: AddressClass,
    },
    #[error("the file at host `{host}` is larger than {limit} bytes")]
    TooLarge { host: String, limit: usize },
    #[error("host `{host}` answered {status}")]
    Refused { host: String, status: u16 },
    #[error("more than {MAX_REDIRECTS} redirects from host `{host}`")]
    TooManyRedirects { host: String },
    /// Worth retrying: timeouts, connection failures, 408/429/5xx.
    #[error("download from host `{host}` failed for now: {detail}")]
    Unavailable {
        host: String,
        status: Option<u16>,
        detail: String,
    },
}

impl DownloadError {
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unavailable { .. })
    }
}

fn host_of(url: &Url) -> String {
    url.host_str().unwrap_or("?").to_string()
}

/// Scheme, credentials and IP-literal checks for a URL about to be requested (the first one or a
/// redirect target). Host names are checked by `GuardedResolver` when they are resolved.
pub fn check_url(url: &Url, policy: &DownloadPolicy) -> Result<(), DownloadError> {
    match url.scheme() {
        "https" => {}
        "http" if policy.allow_http => {}
        other => return Err(DownloadError::Scheme(other.to_string())),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(DownloadError::InvalidUrl(
            "credentials in the URL are not accepted".into(),
        ));
    }
    let ip = match url.host() {
        None => return Err(DownloadError::InvalidUrl("the URL has no host".into())),
        Some(Host::Domain(_)) => return Ok(()),
        Some(Host::Ipv4(v4)) => std::net::IpAddr::V4(v4),
        Some(Host::Ipv6(v6)) => std::net::IpAddr::V6(v6),
    };
    let class = classify(ip);
    if class.is_public() || policy.allow_private_addresses {
        Ok(())
    } else {
        Err(DownloadError::AddressRefused {
            host: host_of(url),
            address: ip,
            class,
        })
    }
}

/// Resolves with the system resolver and refuses names with any non-public address (unless the
/// policy allows private ones). One bad address refuses the whole name: an attacker's DNS could
/// otherwise mix a public address with an internal one and hope for the latter.
#[derive(Debug, Clone, Copy)]
struct GuardedResolver {
    allow_private_addresses: bool,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_string();
        let allow_private = self.allow_private_addresses;
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await
                .map_err(|e| {
                    // The resolver's own error is logged only: the detail reaches the vendor.
                    tracing::warn!(host = %host, error = %e, "attachment host did not resolve");
                    DownloadError::Unavailable {
                        host: host.clone(),
                        status: None,
                        detail: "could not resolve the host".into(),
                    }
                })?
                .collect();
            if addrs.is_empty() {
                return Err(DownloadError::Unavailable {
                    host,
                    status: None,
                    detail: "the host has no address".into(),
                }
                .into());
            }
            if !allow_private {
                if let Some((address, class)) = addrs
                    .iter()
                    .map(|a| (a.ip(), classify(a.ip())))
                    .find(|(_, class)| !class.is_public())
                {
                    return Err(DownloadError::AddressRefused {
                        host,
                        address,
                        class,
                    }
                    .into());
                }
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// Downloads `data_url` files under a [`DownloadPolicy`]. Build it once per cold start; its HTTP
/// client is built at the first download (building one reads the system CA store, ~5 ms, and
/// most results carry no `data_url` file).
pub struct Downloader {
    http: std::sync::OnceLock<reqwest::Client>,
    policy: DownloadPolicy,
}

impl Downloader {
    pub fn new(policy: DownloadPolicy) -> Self {
        Self {
            http: std::sync::OnceLock::new(),
            policy,
        }
    }

    fn http(&self) -> &reqwest::Client {
        self.http.get_or_init(|| {
            crate::aws::install_crypto_provider();
            let policy = self.policy;
            let redirects = redirect::Policy::custom(move |attempt| {
                if attempt.previous().len() > MAX_REDIRECTS {
                    let host = host_of(attempt.url());
                    return attempt.error(DownloadError::TooManyRedirects { host });
                }
                match check_url(attempt.url(), &policy) {
                    Ok(()) => attempt.follow(),
                    Err(e) => attempt.error(e),
                }
            });
            reqwest::Client::builder()
                .no_proxy()
                .dns_resolver(Arc::new(GuardedResolver {
                    allow_private_addresses: self.policy.allow_private_addresses,
                }))
                .redirect(redirects)
                .https_only(!self.policy.allow_http)
                .timeout(self.policy.timeout)
                .connect_timeout(CONNECT_TIMEOUT)
                .user_agent(concat!(
                    "sr-assessment-connector/",
                    env!("CARGO_PKG_VERSION")
                ))
                .build()
                .expect("a reqwest client with static settings always builds")
        })
    }

    pub fn policy(&self) -> &DownloadPolicy {
        &self.policy
    }

    /// The file's bytes, streamed and cut off at `max_bytes`, held once: chunks are appended
    /// to one buffer sized from `Content-Length`, and the result is shared, not copied, by the
    /// upload. The whole download (connect to last byte) takes at most `timeout` when that is
    /// less than the policy's: the invocation's time budget.
    pub async fn download(
        &self,
        data_url: &str,
        timeout: Duration,
    ) -> Result<Bytes, DownloadError> {
        let url = Url::parse(data_url)
            .map_err(|e| DownloadError::InvalidUrl(format!("not an absolute URL ({e})")))?;
        check_url(&url, &self.policy)?;
        let host = host_of(&url);
        let budgeted = timeout < self.policy.timeout;
        let timeout = timeout.min(self.policy.timeout);
        let fail = |e: reqwest::Error| match request_error(&host, e) {
            DownloadError::Unavailable { host, status, .. } if budgeted && status.is_none() => {
                DownloadError::Unavailable {
                    host,
                    status,
                    detail: format!(
                        "stopped after {} ms, the invocation's time budget; the next try resumes",
                        timeout.as_millis()
                    ),
                }
            }
            other => other,
        };
        let started = tokio::time::Instant::now();
        let mut response = self
            .http()
            .get(url)
            .timeout(timeout)
            .send()
            .await
            .map_err(fail)?;
        let status = response.status();
        if !status.is_success() {
            let code = status.as_u16();
            return Err(
                if status == StatusCode::TOO_MANY_REQUESTS
                    || status == StatusCode::REQUEST_TIMEOUT
                    || status.is_server_error()
                {
                    DownloadError::Unavailable {
                        host,
                        status: Some(code),
                        detail: format!("answered {status}"),
                    }
                } else {
                    // 4xx, or a 3xx reqwest could not follow (no Location): asking again
                    // will not change the answer.
                    DownloadError::Refused { host, status: code }
                },
            );
        }
        let limit = self.policy.max_bytes;
        if response.content_length().is_some_and(|n| n > limit as u64) {
            return Err(DownloadError::TooLarge { host, limit });
        }
        let mut body = BytesMut::with_capacity(
            response
                .content_length()
                .map_or(64 * 1024, |n| n as usize)
                .min(limit),
        );
        // The request's timeout covers reading the body too; this bounds each wait for a
        // chunk by what is left of it.
        loop {
            let left = timeout.saturating_sub(started.elapsed());
            let chunk = match tokio::time::timeout(left, response.chunk()).await {
                Ok(chunk) => chunk.map_err(fail)?,
                Err(_) => {
                    return Err(DownloadError::Unavailable {
                        host,
                        status: None,
                        detail: if budgeted {
                            format!(
                                "stopped after {} ms, the invocation's time budget; the next try resumes",
                                timeout.as_millis()
                            )
                        } else {
                            "timed out".into()
                        },
                    })
                }
            };
            let Some(chunk) = chunk else { break };
            if body.len() + chunk.len() > limit {
                return Err(DownloadError::TooLarge { host, limit });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body.freeze())
    }
}

/// Maps a reqwest failure: the guard's own refusal (from the resolver or the redirect policy,
/// found in the error's source chain) stays what it is; timeouts and connection trouble are
/// transient.
fn request_error(host: &str, error: reqwest::Error) -> DownloadError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&error);
    while let Some(e) = source {
        if let Some(ours) = e.downcast_ref::<DownloadError>() {
            return ours.clone();
        }
        source = e.source();
    }
    DownloadError::Unavailable {
        host: host.to_string(),
        status: None,
        detail: if error.is_timeout() {
            "timed out".into()
        } else {
            // The transport error is logged only (without the URL: its query may be a
            // signature); the detail reaches the vendor.
            tracing::warn!(host, error = %aws_smithy_types::error::display::DisplayErrorContext(error.without_url()), "attachment download failed");
            "no answer (connection failed)".into()
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn only_https_unless_http_is_allowed() {
        let strict = DownloadPolicy::strict();
        assert!(check_url(&url("https://files.example.com/a.pdf"), &strict).is_ok());
        assert_eq!(
            check_url(&url("http://files.example.com/a.pdf"), &strict),
            Err(DownloadError::Scheme("http".into()))
        );
        assert!(check_url(&url("ftp://files.example.com/a.pdf"), &strict).is_err());
        let local = DownloadPolicy {
            allow_http: true,
            ..strict
        };
        assert!(check_url(&url("http://files.example.com/a.pdf"), &local).is_ok());
        assert!(check_url(&url("file:///etc/passwd"), &local).is_err());
    }

    #[test]
    fn ip_literals_are_classified_in_every_spelling() {
        let strict = DownloadPolicy::strict();
        for literal in [
            "https://127.0.0.1/x",
            "https://2130706433/x",
            "https://0x7f.1/x",
            "https://[::1]/x",
            "https://[::ffff:169.254.169.254]/x",
            "https://169.254.169.254/latest/meta-data/",
            "https://10.0.0.8:8443/x",
            "https://0.0.0.0/x",
        ] {
            let err = check_url(&url(literal), &strict).unwrap_err();
            assert!(
                matches!(err, DownloadError::AddressRefused { .. }),
                "{literal}: {err}"
            );
        }
        assert!(check_url(&url("https://93.184.215.14/x"), &strict).is_ok());
        let private_ok = DownloadPolicy {
            allow_private_addresses: true,
            ..strict
        };
        assert!(check_url(&url("https://127.0.0.1/x"), &private_ok).is_ok());
    }

    #[test]
    fn credentials_in_the_url_are_refused() {
        let err = check_url(
            &url("https://user:pw@files.example.com/a"),
            &DownloadPolicy::strict(),
        )
        .unwrap_err();
        assert!(matches!(err, DownloadError::InvalidUrl(_)), "{err}");
        assert!(!err.to_string().contains("pw"));
    }

    #[test]
    fn the_flag_and_insecure_sr_urls_set_the_policy() {
        let sr = SrEndpoints::from_lookup(|_| None).unwrap();
        let strict = DownloadPolicy::from_lookup(|_| None, &sr);
        assert_eq!(strict, DownloadPolicy::strict());
        let allowed = DownloadPolicy::from_lookup(
            |k| (k == "ALLOW_PRIVATE_ATTACHMENT_URLS").then(|| "true".to_string()),
            &sr,
        );
        assert!(allowed.allow_private_addresses && !allowed.allow_http);
        let local_sr = SrEndpoints {
            allow_insecure: true,
            ..sr
        };
        assert!(DownloadPolicy::from_lookup(|_| None, &local_sr).allow_http);
    }

    #[test]
    fn only_unavailability_is_transient() {
        let host = "h".to_string();
        assert!(DownloadError::Unavailable {
            host: host.clone(),
            status: Some(503),
            detail: "x".into()
        }
        .is_transient());
        assert!(!DownloadError::Refused {
            host: host.clone(),
            status: 404
        }
        .is_transient());
        assert!(!DownloadError::TooLarge { host, limit: 1 }.is_transient());
    }

    /// `localhost` resolves (from /etc/hosts, no network needed) to loopback: the resolver
    /// refuses it and the refusal survives reqwest's error wrapping.
    #[tokio::test]
    async fn a_name_resolving_to_loopback_is_refused_before_connecting() {
        let downloader = Downloader::new(DownloadPolicy {
            allow_http: true,
            ..DownloadPolicy::strict()
        });
        let err = downloader
            .download("http://localhost:9/file.pdf", DOWNLOAD_TIMEOUT)
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                DownloadError::AddressRefused {
                    class: AddressClass::Loopback,
                    ..
                }
            ),
            "{err}"
        );
        assert!(!err.is_transient());
    }
}
