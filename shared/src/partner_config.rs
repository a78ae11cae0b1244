//! What the vendor registers with SR (`PUT /partner/configuration`): the connector's URLs and the
//! vendor's settings. Used by the ops CLI (`connector configure`) and by the local stack.

use serde::Deserialize;
use url::Url;

use crate::sr::partner::{ConsentDisplayMode, Field, PartnerConfiguration};
use crate::sr::AssessmentType;

/// SR allows at most five custom fields.
pub const MAX_FIELDS: usize = 5;

/// The URL of every SR-facing endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartnerUrls {
    pub consent: String,
    pub package_list: String,
    pub single_package: String,
    pub order: String,
    pub inline_order: String,
    pub token: String,
    pub disable: String,
}

impl PartnerUrls {
    /// URLs of a deployed stack: every route of `template.yaml` under the API's base URL.
    pub fn from_api_base(base: &str) -> Self {
        let base = base.trim_end_matches('/');
        Self {
            consent: format!("{base}/integration"),
            package_list: format!("{base}/packages"),
            single_package: format!("{base}/packages/{{assessmentPackageId}}"),
            order: format!("{base}/packages/orders"),
            inline_order: format!("{base}/packages/inline/orders"),
            token: format!("{base}/oauth/token"),
            disable: format!("{base}/integrations/companies/{{companyId}}"),
        }
    }

    /// URLs under `cargo lambda watch`, where function `f` answers at `{prefix}/f/<path>`.
    pub fn local(prefix: &str) -> Self {
        let prefix = prefix.trim_end_matches('/');
        Self {
            consent: format!("{prefix}/consent/integration"),
            package_list: format!("{prefix}/list-packages/packages"),
            single_package: format!("{prefix}/get-package/packages/{{assessmentPackageId}}"),
            order: format!("{prefix}/create-order/packages/orders"),
            inline_order: format!("{prefix}/create-inline-order/packages/inline/orders"),
            token: format!("{prefix}/oauth-token/oauth/token"),
            disable: format!("{prefix}/disable-integration/integrations/companies/{{companyId}}"),
        }
    }
}

/// The vendor's choices, from a JSON file or defaults.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct PartnerSettings {
    #[serde(default = "popup")]
    pub consent_display_mode: ConsentDisplayMode,
    /// Registers `inlineAssessmentPackageOrderUrl` only when the vendor offers inline assessments.
    #[serde(default)]
    pub inline_enabled: bool,
    #[serde(default)]
    pub fields: Vec<Field>,
    /// What SR may order. Unset: every type, `INLINE_ASSESSMENT` only when `inline_enabled`
    /// (so the default configuration never advertises what it cannot take).
    #[serde(default)]
    pub supported_assessment_types: Option<Vec<AssessmentType>>,
}

fn popup() -> ConsentDisplayMode {
    ConsentDisplayMode::Popup
}

impl Default for PartnerSettings {
    fn default() -> Self {
        Self {
            consent_display_mode: popup(),
            inline_enabled: false,
            fields: Vec::new(),
            supported_assessment_types: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    #[error("at most {MAX_FIELDS} custom fields are allowed (got {0})")]
    TooManyFields(usize),
    #[error("custom field #{0} needs a non-empty id, name and description")]
    IncompleteField(usize),
    #[error("custom field id `{0}` is used twice or clashes with SR's own query parameters")]
    FieldIdClash(String),
    #[error("supportedAssessmentTypes must list 1 to 6 types")]
    NoTypes,
    #[error("{0} is not an absolute http(s) URL")]
    BadUrl(String),
    #[error("the configuration would mislead SR: {0}")]
    Inconsistent(#[from] crate::sr::partner::ConfigurationError),
}

/// SR's own `GET /packages` query parameters; a custom field must not reuse one of them.
pub const LOCATION_PARAMETERS: [&str; 6] = [
    "country-code",
    "region-abbr",
    "city",
    "address",
    "postal-code",
    "remote",
];

impl PartnerSettings {
    pub fn validate(&self) -> Result<(), SettingsError> {
        if self.fields.len() > MAX_FIELDS {
            return Err(SettingsError::TooManyFields(self.fields.len()));
        }
        let mut seen = std::collections::HashSet::new();
        for (i, f) in self.fields.iter().enumerate() {
            if f.id.trim().is_empty() || f.name.trim().is_empty() || f.description.trim().is_empty()
            {
                return Err(SettingsError::IncompleteField(i));
            }
            if !seen.insert(f.id.as_str()) || LOCATION_PARAMETERS.contains(&f.id.as_str()) {
                return Err(SettingsError::FieldIdClash(f.id.clone()));
            }
        }
        if self
            .supported_assessment_types
            .as_ref()
            .is_some_and(|t| t.is_empty() || t.len() > 6)
        {
            return Err(SettingsError::NoTypes);
        }
        Ok(())
    }

    /// The types to advertise: the settings' list, else every type SR can order here.
    pub fn assessment_types(&self) -> Vec<AssessmentType> {
        match &self.supported_assessment_types {
            Some(types) => types.clone(),
            None => AssessmentType::ALL
                .into_iter()
                .filter(|t| self.inline_enabled || *t != AssessmentType::InlineAssessment)
                .collect(),
        }
    }
}

/// The body of `PUT /partner/configuration`.
pub fn partner_configuration(
    urls: &PartnerUrls,
    settings: &PartnerSettings,
) -> Result<PartnerConfiguration, SettingsError> {
    settings.validate()?;
    for url in [
        &urls.consent,
        &urls.package_list,
        &urls.single_package,
        &urls.order,
        &urls.inline_order,
        &urls.token,
        &urls.disable,
    ] {
        let parsed = Url::parse(url).map_err(|_| SettingsError::BadUrl(url.clone()))?;
        if !matches!(parsed.scheme(), "https" | "http") {
            return Err(SettingsError::BadUrl(url.clone()));
        }
    }
    let configuration = PartnerConfiguration {
        consent_url: urls.consent.clone(),
        consent_display_mode: settings.consent_display_mode,
        assessment_package_list_url: urls.package_list.clone(),
        single_assessment_package_url: urls.single_package.clone(),
        package_order_url: Some(urls.order.clone()),
        inline_assessment_package_order_url: settings
            .inline_enabled
            .then(|| urls.inline_order.clone()),
        oauth_token_url: urls.token.clone(),
        integration_disable_url: Some(urls.disable.clone()),
        fields: settings.fields.clone(),
        supported_assessment_types: settings.assessment_types(),
    };
    // Whatever the settings, nothing inconsistent is ever sent.
    configuration.check()?;
    Ok(configuration)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(id: &str) -> Field {
        Field {
            id: id.into(),
            name: "Lens".into(),
            description: "Which lens".into(),
        }
    }

    #[test]
    fn deployed_urls_follow_the_template_routes() {
        let urls = PartnerUrls::from_api_base("https://abc.execute-api.eu-west-1.amazonaws.com/");
        assert_eq!(
            urls.token,
            "https://abc.execute-api.eu-west-1.amazonaws.com/oauth/token"
        );
        assert_eq!(
            urls.disable,
            "https://abc.execute-api.eu-west-1.amazonaws.com/integrations/companies/{companyId}"
        );
    }

    #[test]
    fn inline_url_is_registered_only_when_enabled() {
        let urls = PartnerUrls::local("http://127.0.0.1:9000/lambda-url");
        let mut settings = PartnerSettings::default();
        let config = partner_configuration(&urls, &settings).unwrap();
        assert_eq!(config.inline_assessment_package_order_url, None);
        settings.inline_enabled = true;
        let config = partner_configuration(&urls, &settings).unwrap();
        assert!(config
            .inline_assessment_package_order_url
            .unwrap()
            .ends_with("/packages/inline/orders"));
    }

    #[test]
    fn fields_are_checked() {
        let urls = PartnerUrls::local("http://127.0.0.1:9000/lambda-url");
        let settings = PartnerSettings {
            fields: (0..6).map(|i| field(&format!("f{i}"))).collect(),
            ..Default::default()
        };
        assert_eq!(
            partner_configuration(&urls, &settings).unwrap_err(),
            SettingsError::TooManyFields(6)
        );
        let settings = PartnerSettings {
            fields: vec![field("lens"), field("lens")],
            ..Default::default()
        };
        assert!(matches!(
            partner_configuration(&urls, &settings),
            Err(SettingsError::FieldIdClash(_))
        ));
        let settings = PartnerSettings {
            fields: vec![field("city")],
            ..Default::default()
        };
        assert!(matches!(
            partner_configuration(&urls, &settings),
            Err(SettingsError::FieldIdClash(_))
        ));
    }

    #[test]
    fn settings_parse_from_json() {
        let settings: PartnerSettings = serde_json::from_str(
            r#"{"consent_display_mode":"REDIRECT","inline_enabled":true,
                "fields":[{"id":"lens","name":"Lens","description":"Which lens"}]}"#,
        )
        .unwrap();
        assert_eq!(settings.consent_display_mode, ConsentDisplayMode::Redirect);
        assert_eq!(settings.assessment_types().len(), 6);
    }

    #[test]
    fn the_default_configuration_advertises_only_what_it_registers() {
        let urls = PartnerUrls::local("http://127.0.0.1:9000/lambda-url");
        let config = partner_configuration(&urls, &PartnerSettings::default()).unwrap();
        assert!(!config
            .supported_assessment_types
            .contains(&AssessmentType::InlineAssessment));
        assert_eq!(config.inline_assessment_package_order_url, None);
        let inline = PartnerSettings {
            inline_enabled: true,
            ..Default::default()
        };
        let config = partner_configuration(&urls, &inline).unwrap();
        assert!(config
            .supported_assessment_types
            .contains(&AssessmentType::InlineAssessment));
    }

    #[test]
    fn inconsistent_settings_are_refused_before_anything_is_sent() {
        let urls = PartnerUrls::local("http://127.0.0.1:9000/lambda-url");
        let advertised_not_enabled = PartnerSettings {
            supported_assessment_types: Some(vec![
                AssessmentType::SkillTest,
                AssessmentType::InlineAssessment,
            ]),
            ..Default::default()
        };
        let err = partner_configuration(&urls, &advertised_not_enabled).unwrap_err();
        assert!(
            err.to_string().contains("inlineAssessmentPackageOrderUrl"),
            "{err}"
        );
        let enabled_not_advertised = PartnerSettings {
            inline_enabled: true,
            supported_assessment_types: Some(vec![AssessmentType::SkillTest]),
            ..Default::default()
        };
        assert!(partner_configuration(&urls, &enabled_not_advertised).is_err());
        let twice = PartnerSettings {
            supported_assessment_types: Some(vec![
                AssessmentType::SkillTest,
                AssessmentType::SkillTest,
            ]),
            ..Default::default()
        };
        assert!(partner_configuration(&urls, &twice).is_err());
    }
}
