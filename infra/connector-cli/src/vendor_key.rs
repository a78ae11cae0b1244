//! `connector vendor-key rotate|create|list|revoke`.

use chrono::Utc;
use connector::aws::AwsClients;
use connector::ops::vendor_key::{
    create_integration_key, list_integration_keys, revoke_integration_key, rotate,
    CreatedIntegrationKey, IntegrationKeyView,
};
use connector::store::Store;
use serde_json::json;

use crate::cli::VendorKeyCommand;
use crate::environment::require;
use crate::render::{count, fields, table, time};

pub async fn run(command: VendorKeyCommand) -> Result<String, String> {
    let table_name = require("TABLE_NAME").map_err(|e| e.to_string())?;
    let aws = AwsClients::from_env().await;
    let store = Store::new(aws.dynamodb.clone(), table_name);
    match command {
        VendorKeyCommand::Rotate { output } => {
            let secret_id = require("VENDOR_API_KEY_SECRET_ID").map_err(|e| e.to_string())?;
            let key = rotate(&aws.secrets, &store, &secret_id)
                .await
                .map_err(|e| format!("cannot store the new vendor API key: {e}"))?;
            Ok(render_rotated(&secret_id, &key, output.json))
        }
        VendorKeyCommand::Create {
            integration,
            label,
            output,
        } => {
            let created =
                create_integration_key(&store, &integration, label.as_deref(), Utc::now())
                    .await
                    .map_err(|e| format!("cannot create the key: {e}"))?;
            Ok(render_created(&created, output.json))
        }
        VendorKeyCommand::List {
            integration,
            output,
        } => {
            let keys = list_integration_keys(&store, &integration)
                .await
                .map_err(|e| e.to_string())?;
            Ok(render_list(&integration, &keys, output.json))
        }
        VendorKeyCommand::Revoke {
            key_id,
            integration,
            output,
        } => {
            let revoked = revoke_integration_key(&store, &integration, &key_id, Utc::now())
                .await
                .map_err(|e| e.to_string())?
                .ok_or_else(|| {
                    format!("integration {integration} has no vendor API key {key_id}")
                })?;
            Ok(render_revoked(&revoked, output.json))
        }
    }
}

pub fn render_rotated(secret_id: &str, key: &str, as_json: bool) -> String {
    if as_json {
        return json!({ "vendor_api_key": key }).to_string();
    }
    format!(
        "New vendor API key, stored in secret {secret_id} (shown only now; hand it to the vendor platform):\n\
         {key}\n\
         The vendor API accepts it at once and refuses the previous key at once."
    )
}

fn render_created(created: &CreatedIntegrationKey, as_json: bool) -> String {
    if as_json {
        return serde_json::to_string(created).expect("views serialize");
    }
    format!(
        "New vendor API key {} for integration {} (shown only now):\n{}\n\
         It reaches this integration only; `connector vendor-key revoke {} --integration {}` \
         revokes it at once.",
        created.key.key_id,
        created.key.integration_id,
        created.api_key,
        created.key.key_id,
        created.key.integration_id
    )
}

fn render_list(integration: &str, keys: &[IntegrationKeyView], as_json: bool) -> String {
    if as_json {
        return json!({ "integration_id": integration, "keys": keys }).to_string();
    }
    let rows: Vec<Vec<String>> = keys
        .iter()
        .map(|k| {
            vec![
                k.key_id.clone(),
                time(&k.created_at),
                k.revoked_at
                    .as_ref()
                    .map(time)
                    .unwrap_or_else(|| "-".into()),
                k.label.clone().unwrap_or_default(),
            ]
        })
        .collect();
    format!(
        "{}\n{}",
        table(&["KEY", "CREATED", "REVOKED", "LABEL"], &rows),
        count(keys.len(), "key", "keys")
    )
}

fn render_revoked(key: &IntegrationKeyView, as_json: bool) -> String {
    if as_json {
        return serde_json::to_string(key).expect("views serialize");
    }
    fields(&[
        ("key", key.key_id.clone()),
        ("integration", key.integration_id.clone()),
        (
            "revoked",
            key.revoked_at.as_ref().map(time).unwrap_or_default(),
        ),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_printed_once_on_its_own_line() {
        let text = render_rotated("s", "K3y", false);
        assert_eq!(text.lines().nth(1), Some("K3y"));
        assert!(text.contains("at once"));
        assert_eq!(
            render_rotated("s", "K3y", true),
            r#"{"vendor_api_key":"K3y"}"#
        );
    }
}
