//! `connector configure`: builds the partner configuration from the stack's URLs and the vendor's
//! settings, and registers it with SR (`PUT /partner/configuration`, so repeating it is harmless).

use std::path::{Path, PathBuf};

use connector::config::{ConfigError, SrEndpoints};
use connector::partner_config::{
    partner_configuration, PartnerSettings, PartnerUrls, SettingsError,
};
use connector::secrets::{sr_refused, CredentialCache, SecretError, Secrets};
use connector::sr::errors::SrErrorBody;
use connector::sr::partner::{ConsentDisplayMode, PartnerConfiguration};
use connector::sr::{SrClient, SrClientError};
use serde_json::{json, Value};

use crate::cli::ConfigureArgs;
use crate::stack_outputs::{self, StackOutputsError};

/// Where the connector's public URLs come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UrlSource {
    ApiBase(String),
    StackOutputs(PathBuf),
    LocalPrefix(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    pub source: UrlSource,
    pub settings: Option<PathBuf>,
    pub display_mode: Option<ConsentDisplayMode>,
    pub inline: bool,
    pub dry_run: bool,
    pub json: bool,
}

impl From<ConfigureArgs> for Options {
    fn from(args: ConfigureArgs) -> Self {
        // clap's required "urls" group guarantees exactly one source.
        let source = match (args.api_base_url, args.stack_outputs, args.local_prefix) {
            (Some(base), _, _) => UrlSource::ApiBase(base),
            (None, Some(file), _) => UrlSource::StackOutputs(file),
            (None, None, Some(prefix)) => UrlSource::LocalPrefix(prefix),
            (None, None, None) => unreachable!("clap requires one URL source"),
        };
        Self {
            source,
            settings: args.settings,
            display_mode: args.display_mode.map(Into::into),
            inline: args.inline,
            dry_run: args.dry_run,
            json: args.json,
        }
    }
}

/// Every way `configure` can fail; each displays as one line without any secret value.
#[derive(Debug, thiserror::Error)]
pub enum ConfigureError {
    #[error("cannot read settings file {path}: {reason}")]
    SettingsFile { path: String, reason: String },
    #[error("invalid settings: {0}")]
    Settings(#[from] SettingsError),
    #[error(transparent)]
    StackOutputs(#[from] StackOutputsError),
    #[error("{0}")]
    Environment(#[from] ConfigError),
    #[error("PARTNER_CREDENTIAL_SECRET_ID is not set and no stack outputs name a PartnerCredentialSecretId")]
    NoSecretId,
    #[error("cannot read secret {id}: {reason}")]
    Secret { id: String, reason: String },
    #[error("SmartRecruiters refused the partner configuration ({status}): {summary}")]
    Refused { status: u16, summary: String },
    #[error("SmartRecruiters refused the master credential ({status}): check client_id and client_secret in secret {secret_id}")]
    CredentialsRefused { status: u16, secret_id: String },
    #[error("SmartRecruiters is unavailable ({detail}); the command is safe to run again")]
    Unavailable { detail: String },
}

/// The settings file (or the defaults), with the command-line overrides applied.
pub fn load_settings(
    path: Option<&Path>,
    display_mode: Option<ConsentDisplayMode>,
    inline: bool,
) -> Result<PartnerSettings, ConfigureError> {
    let mut settings = match path {
        None => PartnerSettings::default(),
        Some(path) => {
            let file_error = |reason: String| ConfigureError::SettingsFile {
                path: path.display().to_string(),
                reason,
            };
            let text = std::fs::read_to_string(path).map_err(|e| file_error(e.to_string()))?;
            serde_json::from_str(&text).map_err(|e| file_error(e.to_string()))?
        }
    };
    if let Some(mode) = display_mode {
        settings.consent_display_mode = mode;
    }
    if inline {
        settings.inline_enabled = true;
    }
    Ok(settings)
}

/// The connector's URLs, plus the partner secret id when the stack outputs name it.
pub fn resolve_urls(source: &UrlSource) -> Result<(PartnerUrls, Option<String>), ConfigureError> {
    Ok(match source {
        UrlSource::ApiBase(base) => (PartnerUrls::from_api_base(base), None),
        UrlSource::LocalPrefix(prefix) => (PartnerUrls::local(prefix), None),
        UrlSource::StackOutputs(path) => {
            let outputs = stack_outputs::read(path)?;
            (
                PartnerUrls::from_api_base(&outputs.api_base_url),
                outputs.partner_credential_secret_id,
            )
        }
    })
}

/// SR's endpoints by the same rules as the functions (`SrEndpoints::from_lookup`), without
/// requiring the table, queue and other Lambda settings `configure` never uses.
pub fn sr_endpoints(lookup: impl Fn(&str) -> Option<String>) -> Result<SrEndpoints, ConfigError> {
    SrEndpoints::from_lookup(lookup)
}

/// The stack outputs name the secret of the very stack being registered, so they win over
/// `PARTNER_CREDENTIAL_SECRET_ID`, which may be left over from another stack.
pub fn partner_secret_id(
    from_outputs: Option<String>,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<String, ConfigureError> {
    from_outputs
        .or_else(|| lookup("PARTNER_CREDENTIAL_SECRET_ID"))
        .filter(|id| !id.trim().is_empty())
        .ok_or(ConfigureError::NoSecretId)
}

/// SR's error body as one line: its message, then every `code: message` it lists.
pub fn refusal_summary(body: Option<&SrErrorBody>, detail: &str) -> String {
    let Some(body) = body.filter(|b| b.message.is_some() || !b.errors.is_empty()) else {
        return if detail.trim().is_empty() {
            "no details given".to_string()
        } else {
            detail.to_string()
        };
    };
    let items: Vec<String> = body
        .errors
        .iter()
        .map(|e| match &e.message {
            Some(m) => format!("{}: {m}", e.code),
            None => e.code.clone(),
        })
        .collect();
    match (&body.message, items.is_empty()) {
        (Some(message), true) => message.clone(),
        (Some(message), false) => format!("{message} ({})", items.join("; ")),
        (None, _) => items.join("; "),
    }
}

fn sr_error(error: SrClientError, secret_id: &str) -> ConfigureError {
    match error {
        SrClientError::Rejected {
            status,
            body,
            detail,
        } => ConfigureError::Refused {
            status,
            summary: refusal_summary(body.as_ref(), &detail),
        },
        SrClientError::CredentialsRefused { status, .. } => ConfigureError::CredentialsRefused {
            status,
            secret_id: secret_id.to_string(),
        },
        SrClientError::Transient { detail, .. } => ConfigureError::Unavailable { detail },
    }
}

fn secret_error(id: &str, error: SecretError) -> ConfigureError {
    let reason = match error {
        SecretError::NotFound(_) => "it does not exist".to_string(),
        SecretError::Malformed { reason, .. } => {
            format!("{reason}; expected {{\"client_id\": \"…\", \"client_secret\": \"…\"}}")
        }
        SecretError::Service(detail) => detail,
    };
    ConfigureError::Secret {
        id: id.to_string(),
        reason,
    }
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).expect("a JSON value always serializes")
}

/// What `--dry-run` prints: the payload, pretty, or wrapped in one JSON line with `--json`.
pub fn render_dry_run(payload: &PartnerConfiguration, as_json: bool) -> String {
    let payload = serde_json::to_value(payload).expect("the configuration serializes");
    if as_json {
        json!({"dry_run": true, "configuration": payload}).to_string()
    } else {
        pretty(&payload)
    }
}

/// What a successful registration prints: a sentence and SR's answer, or one JSON line.
pub fn render_accepted(status: u16, answer: &Value, as_json: bool) -> String {
    if as_json {
        return json!({"status": status, "configuration": answer}).to_string();
    }
    let mut text = format!("SmartRecruiters accepted the partner configuration ({status})");
    if !answer.is_null() {
        text.push('\n');
        text.push_str(&pretty(answer));
    }
    text
}

/// Runs the command and returns what to print on stdout. Settings and URLs are checked before
/// any secret is read or SR is called, so a bad file never reaches SR.
pub async fn run(options: &Options) -> Result<String, ConfigureError> {
    let env = |name: &str| std::env::var(name).ok();
    let settings = load_settings(
        options.settings.as_deref(),
        options.display_mode,
        options.inline,
    )?;
    let (urls, secret_from_outputs) = resolve_urls(&options.source)?;
    let payload = partner_configuration(&urls, &settings)?;
    if options.dry_run {
        return Ok(render_dry_run(&payload, options.json));
    }

    let endpoints = sr_endpoints(env)?;
    let secret_id = partner_secret_id(secret_from_outputs, env)?;
    let sdk = connector::aws::load_sdk_config().await;
    let secrets = Secrets::new(aws_sdk_secretsmanager::Client::new(&sdk), "");
    let sr = SrClient::new(endpoints);
    // SR refusing the master credential makes it be read once more (it may have just been
    // rotated) before the refusal is reported.
    let answer = CredentialCache::new(secrets)
        .call_as_partner(
            &sr,
            &secret_id,
            |master| {
                let (sr, payload) = (&sr, &payload);
                async move { sr.put_partner_configuration(&master, payload).await }
            },
            sr_refused,
        )
        .await
        .map_err(|e| secret_error(&secret_id, e))?
        .map_err(|e| sr_error(e, &secret_id))?;
    Ok(render_accepted(answer.status, &answer.body, options.json))
}

#[cfg(test)]
mod tests {
    use super::*;
    use connector::config::{DEFAULT_SR_API_BASE_URL, DEFAULT_SR_TOKEN_URL};
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    fn temp_file(name: &str, contents: &str) -> PathBuf {
        let path =
            std::env::temp_dir().join(format!("connector-cli-{}-{name}", std::process::id()));
        std::fs::write(&path, contents).unwrap();
        path
    }

    #[test]
    fn sr_endpoints_default_to_production_and_refuse_plain_http() {
        let sr = sr_endpoints(env(&[])).unwrap();
        assert_eq!(sr.api_base_url.as_str(), DEFAULT_SR_API_BASE_URL);
        assert_eq!(sr.token_url.as_str(), DEFAULT_SR_TOKEN_URL);
        assert!(!sr.allow_insecure);

        let local = [
            (
                "SR_API_BASE_URL",
                "http://127.0.0.1:5310/assessment-api/v202010",
            ),
            ("SR_TOKEN_URL", "http://127.0.0.1:5310/identity/oauth/token"),
        ];
        let err = sr_endpoints(env(&local)).unwrap_err();
        assert!(err
            .to_string()
            .starts_with("environment variable SR_API_BASE_URL is invalid: must be https"));
        let mut allowed = local.to_vec();
        allowed.push(("ALLOW_INSECURE_SR_URLS", "true"));
        assert!(sr_endpoints(env(&allowed)).unwrap().allow_insecure);
        assert!(sr_endpoints(env(&[("SR_TOKEN_URL", "not a url")])).is_err());
    }

    #[test]
    fn the_secret_id_comes_from_the_outputs_first() {
        let lookup = env(&[("PARTNER_CREDENTIAL_SECRET_ID", "from-env")]);
        assert_eq!(
            partner_secret_id(Some("from-outputs".into()), &lookup).unwrap(),
            "from-outputs"
        );
        assert_eq!(partner_secret_id(None, &lookup).unwrap(), "from-env");
        assert!(matches!(
            partner_secret_id(None, env(&[("PARTNER_CREDENTIAL_SECRET_ID", "")])),
            Err(ConfigureError::NoSecretId)
        ));
    }

    #[test]
    fn settings_default_and_flags_override_the_file() {
        let defaults = load_settings(None, None, false).unwrap();
        assert_eq!(defaults, PartnerSettings::default());

        let file = temp_file(
            "settings.json",
            r#"{"consent_display_mode": "REDIRECT", "inline_enabled": false}"#,
        );
        let from_file = load_settings(Some(&file), None, false).unwrap();
        assert_eq!(from_file.consent_display_mode, ConsentDisplayMode::Redirect);
        let overridden = load_settings(Some(&file), Some(ConsentDisplayMode::Popup), true).unwrap();
        assert_eq!(overridden.consent_display_mode, ConsentDisplayMode::Popup);
        assert!(overridden.inline_enabled);
        std::fs::remove_file(file).unwrap();
    }

    #[test]
    fn a_bad_settings_file_is_named() {
        let file = temp_file("typo.json", r#"{"consent_mode": "POPUP"}"#);
        let err = load_settings(Some(&file), None, false)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(&format!(
                "cannot read settings file {}: unknown field `consent_mode`",
                file.display()
            )),
            "{err}"
        );
        std::fs::remove_file(file).unwrap();
        assert!(load_settings(Some(Path::new("/nonexistent.json")), None, false).is_err());
    }

    #[test]
    fn too_many_fields_name_the_limit() {
        let settings = PartnerSettings {
            fields: (0..6)
                .map(|i| connector::sr::partner::Field {
                    id: format!("f{i}"),
                    name: "n".into(),
                    description: "d".into(),
                })
                .collect(),
            ..Default::default()
        };
        let urls = PartnerUrls::from_api_base("https://x.example.com");
        let err: ConfigureError = partner_configuration(&urls, &settings).unwrap_err().into();
        assert_eq!(
            err.to_string(),
            "invalid settings: at most 5 custom fields are allowed (got 6)"
        );
    }

    #[test]
    fn urls_come_from_the_chosen_source() {
        let (urls, secret) = resolve_urls(&UrlSource::LocalPrefix(
            "http://127.0.0.1:9000/lambda-url/".into(),
        ))
        .unwrap();
        assert_eq!(
            urls.token,
            "http://127.0.0.1:9000/lambda-url/oauth-token/oauth/token"
        );
        assert_eq!(secret, None);
        let file = temp_file(
            "outputs.json",
            r#"[{"OutputKey":"ApiBaseUrl","OutputValue":"https://abc.example.com"},
                {"OutputKey":"PartnerCredentialSecretId","OutputValue":"prod/partner-credential"}]"#,
        );
        let (urls, secret) = resolve_urls(&UrlSource::StackOutputs(file.clone())).unwrap();
        assert_eq!(urls, PartnerUrls::from_api_base("https://abc.example.com"));
        assert_eq!(secret.as_deref(), Some("prod/partner-credential"));
        std::fs::remove_file(file).unwrap();
    }

    #[test]
    fn refusals_show_sr_message_and_errors() {
        let body: SrErrorBody = serde_json::from_str(
            r#"{"errors":[{"code":"INVALID","message":"bad consentUrl"},{"code":"MISSING"}],"message":"Invalid configuration"}"#,
        )
        .unwrap();
        assert_eq!(
            refusal_summary(Some(&body), "ignored"),
            "Invalid configuration (INVALID: bad consentUrl; MISSING)"
        );
        let empty = SrErrorBody {
            errors: vec![],
            message: None,
        };
        assert_eq!(refusal_summary(Some(&empty), "plain text"), "plain text");
        assert_eq!(refusal_summary(None, ""), "no details given");

        let err = sr_error(
            SrClientError::Rejected {
                status: 400,
                body: Some(body),
                detail: String::new(),
            },
            "s",
        );
        assert_eq!(
            err.to_string(),
            "SmartRecruiters refused the partner configuration (400): Invalid configuration (INVALID: bad consentUrl; MISSING)"
        );
        let err = sr_error(
            SrClientError::CredentialsRefused {
                client_id: "c".into(),
                status: 401,
            },
            "prod/partner-credential",
        );
        assert!(err
            .to_string()
            .starts_with("SmartRecruiters refused the master credential (401)"));
    }

    #[test]
    fn output_is_text_or_one_json_object() {
        let answer = json!({"oauthTokenUrl": "https://x/oauth/token"});
        let text = render_accepted(200, &answer, false);
        assert!(text.starts_with("SmartRecruiters accepted the partner configuration (200)\n{"));
        let line = render_accepted(200, &answer, true);
        assert!(!line.contains('\n'));
        let parsed: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(parsed, json!({"status": 200, "configuration": answer}));

        let payload = partner_configuration(
            &PartnerUrls::from_api_base("https://x.example.com"),
            &PartnerSettings::default(),
        )
        .unwrap();
        let dry: Value = serde_json::from_str(&render_dry_run(&payload, false)).unwrap();
        assert_eq!(dry["oauthTokenUrl"], "https://x.example.com/oauth/token");
        let dry: Value = serde_json::from_str(&render_dry_run(&payload, true)).unwrap();
        assert_eq!(dry["dry_run"], true);
        assert_eq!(dry["configuration"]["consentDisplayMode"], "POPUP");
    }
}
