//! `connector vendor-key rotate`.

use connector::aws::AwsClients;
use connector::ops::vendor_key::rotate;
use serde_json::json;

use crate::cli::VendorKeyCommand;
use crate::environment::require;

pub async fn run(command: VendorKeyCommand) -> Result<String, String> {
    match command {
        VendorKeyCommand::Rotate { output } => {
            let secret_id = require("VENDOR_API_KEY_SECRET_ID").map_err(|e| e.to_string())?;
            let aws = AwsClients::from_env().await;
            let key = rotate(&aws.secrets, &secret_id)
                .await
                .map_err(|e| format!("cannot store the new vendor API key: {e}"))?;
            Ok(render_rotated(&secret_id, &key, output.json))
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
         The vendor API accepts it within about 30 seconds; instances that cached the previous key \
         may still accept that one for up to 5 minutes."
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_printed_once_on_its_own_line() {
        let text = render_rotated("s", "K3y", false);
        assert_eq!(text.lines().nth(1), Some("K3y"));
        assert!(text.contains("within about 30 seconds"));
        assert_eq!(
            render_rotated("s", "K3y", true),
            r#"{"vendor_api_key":"K3y"}"#
        );
    }
}
