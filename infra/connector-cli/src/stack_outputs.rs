//! `--stack-outputs`: the deployed stack's CloudFormation outputs, so the operator registers
//! exactly the URLs and secret that `sam deploy` created instead of copying them by hand.

use std::path::Path;

use serde::Deserialize;

/// What `configure` needs from the outputs of `template.yaml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackOutputs {
    /// `ApiBaseUrl`: the HTTP API's base URL; every SR-facing route hangs below it.
    pub api_base_url: String,
    /// `PartnerCredentialSecretId`: the secret holding SR's partner master credential.
    pub partner_credential_secret_id: Option<String>,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum StackOutputsError {
    #[error("cannot read stack outputs {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("stack outputs {path} are not the JSON of `aws cloudformation describe-stacks --query 'Stacks[0].Outputs'`: {reason}")]
    Format { path: String, reason: String },
    #[error("stack outputs {path} have no ApiBaseUrl (found: {found})")]
    NoApiBaseUrl { path: String, found: String },
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Output {
    output_key: String,
    output_value: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Stack {
    #[serde(default)]
    outputs: Vec<Output>,
}

/// The documented `--query 'Stacks[0].Outputs'` array, or the whole `describe-stacks` answer
/// (first stack) because forgetting the query is an easy mistake.
#[derive(Deserialize)]
#[serde(untagged)]
enum Document {
    Outputs(Vec<Output>),
    DescribeStacks {
        #[serde(rename = "Stacks")]
        stacks: Vec<Stack>,
    },
}

pub fn parse(text: &str, path: &str) -> Result<StackOutputs, StackOutputsError> {
    let document: Document = serde_json::from_str(text).map_err(|e| StackOutputsError::Format {
        path: path.to_string(),
        reason: e.to_string(),
    })?;
    let outputs = match document {
        Document::Outputs(outputs) => outputs,
        Document::DescribeStacks { stacks } => stacks
            .into_iter()
            .next()
            .map(|s| s.outputs)
            .unwrap_or_default(),
    };
    let find = |key: &str| {
        outputs
            .iter()
            .find(|o| o.output_key == key)
            .map(|o| o.output_value.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let api_base_url = find("ApiBaseUrl").ok_or_else(|| StackOutputsError::NoApiBaseUrl {
        path: path.to_string(),
        found: if outputs.is_empty() {
            "no outputs".to_string()
        } else {
            outputs
                .iter()
                .map(|o| o.output_key.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        },
    })?;
    Ok(StackOutputs {
        api_base_url,
        partner_credential_secret_id: find("PartnerCredentialSecretId"),
    })
}

pub fn read(path: &Path) -> Result<StackOutputs, StackOutputsError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| StackOutputsError::Read {
        path: shown.clone(),
        reason: e.to_string(),
    })?;
    parse(&text, &shown)
}

#[cfg(test)]
mod tests {
    use super::*;

    const OUTPUTS: &str = r#"[
        {"OutputKey": "OAuthTokenUrl", "OutputValue": "https://abc.execute-api.eu-west-1.amazonaws.com/oauth/token",
         "Description": "SR's oauthTokenUrl"},
        {"OutputKey": "ApiBaseUrl", "OutputValue": "https://abc.execute-api.eu-west-1.amazonaws.com"},
        {"OutputKey": "PartnerCredentialSecretId",
         "OutputValue": "arn:aws:secretsmanager:eu-west-1:1:secret:prod/partner-credential-AbC", "ExportName": "x"}
    ]"#;

    #[test]
    fn takes_the_api_base_url_and_the_partner_secret() {
        let outputs = parse(OUTPUTS, "outputs.json").unwrap();
        assert_eq!(
            outputs,
            StackOutputs {
                api_base_url: "https://abc.execute-api.eu-west-1.amazonaws.com".into(),
                partner_credential_secret_id: Some(
                    "arn:aws:secretsmanager:eu-west-1:1:secret:prod/partner-credential-AbC".into()
                ),
            }
        );
    }

    #[test]
    fn the_secret_is_optional() {
        let outputs = parse(
            r#"[{"OutputKey":"ApiBaseUrl","OutputValue":"https://x.example.com"}]"#,
            "o.json",
        )
        .unwrap();
        assert_eq!(outputs.partner_credential_secret_id, None);
    }

    #[test]
    fn accepts_the_whole_describe_stacks_answer() {
        let whole = format!(r#"{{"Stacks": [{{"StackName": "prod", "Outputs": {OUTPUTS}}}]}}"#);
        assert_eq!(
            parse(&whole, "o.json").unwrap(),
            parse(OUTPUTS, "o.json").unwrap()
        );
    }

    #[test]
    fn a_missing_api_base_url_names_what_was_found() {
        let err = parse(
            r#"[{"OutputKey":"TableName","OutputValue":"t"},{"OutputKey":"ResultsQueueUrl","OutputValue":"q"}]"#,
            "o.json",
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "stack outputs o.json have no ApiBaseUrl (found: TableName, ResultsQueueUrl)"
        );
        let err = parse("[]", "o.json").unwrap_err();
        assert!(err.to_string().ends_with("(found: no outputs)"));
    }

    #[test]
    fn other_json_is_refused() {
        assert!(matches!(
            parse(r#"{"ApiBaseUrl": "https://x"}"#, "o.json"),
            Err(StackOutputsError::Format { .. })
        ));
        assert!(matches!(
            parse("not json", "o.json"),
            Err(StackOutputsError::Format { .. })
        ));
    }
}
