//! SR's error body, `{errors: [{code, message}], message}`, used by SR and by our partner endpoints.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SrError {
    pub code: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SrErrorBody {
    #[serde(default)]
    pub errors: Vec<SrError>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl SrErrorBody {
    pub fn single(code: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        Self {
            errors: vec![SrError {
                code: code.to_string(),
                message: Some(message.clone()),
            }],
            message: Some(message),
        }
    }

    /// One line for logs and operator output.
    pub fn summary(&self) -> String {
        let codes: Vec<&str> = self.errors.iter().map(|e| e.code.as_str()).collect();
        match &self.message {
            Some(m) => format!("{m} ({})", codes.join(", ")),
            None => codes.join(", "),
        }
    }
}
