//! The settings the operations commands read from the environment (or `--env-file`): only what
//! each command needs, so `companies list` works with nothing but `TABLE_NAME` and AWS access.
//!
//! In a deployment the values are the stack's outputs; a missing one is named together with the
//! output that holds it.

/// A required variable is unset or empty.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("environment variable {name} is not set{hint}")]
pub struct MissingVariable {
    pub name: &'static str,
    hint: &'static str,
}

/// Where an operator finds the value of `name`.
fn hint(name: &str) -> &'static str {
    match name {
        "TABLE_NAME" => " (the stack output TableName)",
        "RESULTS_QUEUE_URL" => " (the stack output ResultsQueueUrl)",
        "RESULTS_DLQ_URL" => " (the stack output ResultsDeadLetterQueueUrl)",
        "VENDOR_API_KEY_SECRET_ID" => " (the stack output VendorApiKeySecretId)",
        "SECRET_PREFIX" => " (the stack name followed by `/`)",
        _ => "",
    }
}

/// The non-empty value of `name` according to `lookup`.
pub fn require_with(
    lookup: impl Fn(&str) -> Option<String>,
    name: &'static str,
) -> Result<String, MissingVariable> {
    lookup(name)
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .ok_or(MissingVariable {
            name,
            hint: hint(name),
        })
}

/// The non-empty value of the environment variable `name`.
pub fn require(name: &'static str) -> Result<String, MissingVariable> {
    require_with(|n| std::env::var(n).ok(), name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_variable_names_the_stack_output() {
        let none = |_: &str| None;
        assert_eq!(
            require_with(none, "RESULTS_DLQ_URL")
                .unwrap_err()
                .to_string(),
            "environment variable RESULTS_DLQ_URL is not set (the stack output ResultsDeadLetterQueueUrl)"
        );
        assert_eq!(
            require_with(|_| Some("  ".into()), "OTHER")
                .unwrap_err()
                .to_string(),
            "environment variable OTHER is not set"
        );
        assert_eq!(
            require_with(|_| Some(" t ".into()), "TABLE_NAME").unwrap(),
            "t"
        );
    }
}
