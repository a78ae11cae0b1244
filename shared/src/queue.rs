//! The results queue: small messages that say "order X has result version N to deliver".
//! The result itself stays on the order, so a message is tiny and a retried message always
//! delivers the latest stored result.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum QueueMessage {
    /// Deliver result `version` of `order_id` to SR.
    Result {
        order_id: String,
        company_id: String,
        version: u64,
    },
}

#[derive(Debug, thiserror::Error)]
#[error("SQS request failed: {0}")]
pub struct QueueError(String);

#[derive(Clone, Debug)]
pub struct ResultsQueue {
    sqs: aws_sdk_sqs::Client,
    url: String,
}

impl ResultsQueue {
    pub fn new(sqs: aws_sdk_sqs::Client, url: impl Into<String>) -> Self {
        Self {
            sqs,
            url: url.into(),
        }
    }

    pub async fn send(&self, message: &QueueMessage) -> Result<(), QueueError> {
        self.sqs
            .send_message()
            .queue_url(&self.url)
            .message_body(serde_json::to_string(message).expect("messages serialize"))
            .send()
            .await
            .map_err(|e| {
                QueueError(aws_smithy_types::error::display::DisplayErrorContext(&e).to_string())
            })?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_tagged_json() {
        let m = QueueMessage::Result {
            order_id: "o".into(),
            company_id: "c".into(),
            version: 2,
        };
        let json = serde_json::to_value(&m).unwrap();
        assert_eq!(json["kind"], "result");
        assert_eq!(serde_json::from_value::<QueueMessage>(json).unwrap(), m);
    }
}
