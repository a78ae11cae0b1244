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
