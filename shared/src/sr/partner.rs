//! Partner-level calls: `PUT /partner/configuration` and `POST /integration/company/{companyId}`.

use serde::{Deserialize, Serialize};

use super::packages::AssessmentType;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ConsentDisplayMode {
    Popup,
    Redirect,
}

/// A custom field the vendor asks SR customers to bind to job fields (at most five).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Field {
    pub id: String,
    pub name: String,
    pub description: String,
}

/// `PartnerConfigurationRequest`: the URLs SR will call and what the vendor supports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PartnerConfiguration {
    pub consent_url: String,
    pub consent_display_mode: ConsentDisplayMode,
    pub assessment_package_list_url: String,
    pub single_assessment_package_url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package_order_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inline_assessment_package_order_url: Option<String>,
    pub oauth_token_url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub integration_disable_url: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<Field>,
    pub supported_assessment_types: Vec<AssessmentType>,
}

/// Why a partner configuration would mislead SR.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigurationError {
    #[error("supportedAssessmentTypes must list 1 to 6 types, each once")]
    Types,
    #[error(
        "supportedAssessmentTypes lists INLINE_ASSESSMENT but no inlineAssessmentPackageOrderUrl \
         is registered, so SR would offer inline packages it cannot order: enable inline \
         assessments (settings \"inline_enabled\": true, or --inline) or leave INLINE_ASSESSMENT out"
    )]
    InlineWithoutUrl,
    #[error(
        "inlineAssessmentPackageOrderUrl is registered but supportedAssessmentTypes does not list \
         INLINE_ASSESSMENT, so SR would never order inline: add INLINE_ASSESSMENT or disable \
         inline assessments"
    )]
    InlineUrlWithoutType,
    #[error(
        "supportedAssessmentTypes lists {0} but no packageOrderUrl is registered, so SR could not \
         order those packages"
    )]
    OrderUrlMissing(String),
    #[error("at most 5 custom fields are allowed (got {0})")]
    TooManyFields(usize),
}

impl PartnerConfiguration {
    /// The configuration is consistent: every advertised assessment type can be ordered through
    /// a registered URL, and every registered order URL serves an advertised type. SR takes any
    /// of these inconsistencies without complaint and then shows packages it cannot order.
    pub fn check(&self) -> Result<(), ConfigurationError> {
        let types = &self.supported_assessment_types;
        let distinct: std::collections::HashSet<_> = types.iter().collect();
        if types.is_empty() || types.len() > 6 || distinct.len() != types.len() {
            return Err(ConfigurationError::Types);
        }
        if self.fields.len() > 5 {
            return Err(ConfigurationError::TooManyFields(self.fields.len()));
        }
        let inline = types.contains(&AssessmentType::InlineAssessment);
        match (inline, &self.inline_assessment_package_order_url) {
            (true, None) => return Err(ConfigurationError::InlineWithoutUrl),
            (false, Some(_)) => return Err(ConfigurationError::InlineUrlWithoutType),
            _ => {}
        }
        let ordered: Vec<&str> = types
            .iter()
            .filter(|t| **t != AssessmentType::InlineAssessment)
            .map(|t| t.as_str())
            .collect();
        if !ordered.is_empty() && self.package_order_url.is_none() {
            return Err(ConfigurationError::OrderUrlMissing(ordered.join(", ")));
        }
        Ok(())
    }
}

/// `ClientCredentials`, in both directions of the company integration call.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientCredentials {
    pub client_id: String,
    pub client_secret: String,
}

impl std::fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCredentials")
            .field("client_id", &self.client_id)
            .field("client_secret", &"[redacted]")
            .finish()
    }
}
