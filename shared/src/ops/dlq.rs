//! The results dead-letter queue: where a result message lands after `maxReceiveCount` failed
//! deliveries (`connector dlq list|redrive`).
//!
//! Both commands use plain ReceiveMessage / SendMessage / DeleteMessage, which every SQS
//! implementation has (`StartMessageMoveTask` is not available in every emulator).

use std::collections::HashMap;

use aws_sdk_sqs::types::{Message, MessageSystemAttributeName};
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::queue::QueueMessage;

/// SQS hands out at most 10 messages per ReceiveMessage.
const MAX_PER_RECEIVE: usize = 10;
/// How long received messages stay hidden: long enough to list or move a batch, short enough
/// that an interrupted command hides nothing for long. Listing makes them visible at once anyway.
pub const VISIBILITY_TIMEOUT_SECONDS: i32 = 30;
/// One second of long polling: enough for SQS to look at every server (short polling may answer
/// "empty" for a small queue that is not), without making an empty queue slow to list.
const WAIT_SECONDS: i32 = 1;

#[derive(Debug, thiserror::Error)]
#[error("SQS {operation} on {queue_url} failed: {detail}")]
pub struct DlqError {
    pub operation: &'static str,
    pub queue_url: String,
    pub detail: String,
}

impl DlqError {
    fn new<E: std::error::Error>(operation: &'static str, queue_url: &str, error: E) -> Self {
        Self {
            operation,
            queue_url: queue_url.to_string(),
            detail: aws_smithy_types::error::display::DisplayErrorContext(&error).to_string(),
        }
    }
}

/// A redrive that stopped part-way: `moved` messages reached the results queue before `error`.
#[derive(Debug, thiserror::Error)]
#[error("moved {moved} message(s), then stopped: {error}{note}", note = if *.sent_not_deleted {
    " (that message was sent to the results queue but is still in the dead-letter queue; \
     a second copy at most re-sends the same result)"
} else {
    "; the remaining messages stay in the dead-letter queue"
})]
pub struct RedriveError {
    pub moved: usize,
    pub error: DlqError,
    /// The failing message was copied to the results queue, only its deletion failed.
    pub sent_not_deleted: bool,
}

/// One message of the dead-letter queue, as listed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeadLetter {
    pub message_id: String,
    /// `ApproximateReceiveCount`: deliveries from the results queue, plus earlier listings.
    pub receive_count: Option<u32>,
    /// `SentTimestamp`: when the message was first sent to the results queue.
    pub sent_at: Option<DateTime<Utc>>,
    pub body: String,
    /// The body read as a results-queue message; `None` when it is not one (which is then
    /// why it failed).
    pub message: Option<QueueMessage>,
}

impl DeadLetter {
    pub fn from_message(message: &Message) -> Self {
        let attribute = |name: MessageSystemAttributeName| {
            message
                .attributes()
                .and_then(|a: &HashMap<MessageSystemAttributeName, String>| a.get(&name))
        };
        let body = message.body().unwrap_or_default().to_string();
        Self {
            message_id: message.message_id().unwrap_or_default().to_string(),
            receive_count: attribute(MessageSystemAttributeName::ApproximateReceiveCount)
                .and_then(|v| v.parse().ok()),
            sent_at: attribute(MessageSystemAttributeName::SentTimestamp)
                .and_then(|v| v.parse::<i64>().ok())
                .and_then(DateTime::from_timestamp_millis),
            message: serde_json::from_str(&body).ok(),
            body,
        }
    }
}

/// How many messages to ask for next: at most 10, never past `limit`.
fn batch_size(limit: Option<usize>, done: usize) -> usize {
    match limit {
        Some(limit) => limit.saturating_sub(done).min(MAX_PER_RECEIVE),
        None => MAX_PER_RECEIVE,
    }
}

async fn receive(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    count: usize,
) -> Result<Vec<Message>, DlqError> {
    let output = sqs
        .receive_message()
        .queue_url(queue_url)
        .max_number_of_messages(count as i32)
        .visibility_timeout(VISIBILITY_TIMEOUT_SECONDS)
        .wait_time_seconds(WAIT_SECONDS)
        .message_system_attribute_names(MessageSystemAttributeName::All)
        .message_attribute_names("All")
        .send()
        .await
        .map_err(|e| DlqError::new("ReceiveMessage", queue_url, e))?;
    Ok(output.messages.unwrap_or_default())
}

/// Makes received messages visible again at once (ChangeMessageVisibility 0).
async fn release(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    receipt_handles: &[String],
) -> Result<(), DlqError> {
    for handle in receipt_handles {
        sqs.change_message_visibility()
            .queue_url(queue_url)
            .receipt_handle(handle)
            .visibility_timeout(0)
            .send()
            .await
            .map_err(|e| DlqError::new("ChangeMessageVisibility", queue_url, e))?;
    }
    Ok(())
}

/// Up to `max` messages of the dead-letter queue, oldest SQS hands out first. Every message
/// received is made visible again before returning (also when a later call failed), so listing
/// hides nothing from a redrive or another listing; it does count as one more receive.
pub async fn list(
    sqs: &aws_sdk_sqs::Client,
    dlq_url: &str,
    max: usize,
) -> Result<Vec<DeadLetter>, DlqError> {
    let mut listed: Vec<DeadLetter> = Vec::new();
    let mut handles = Vec::new();
    let received: Result<(), DlqError> = async {
        loop {
            let count = batch_size(Some(max), listed.len());
            if count == 0 {
                return Ok(());
            }
            let batch = receive(sqs, dlq_url, count).await?;
            if batch.is_empty() {
                return Ok(());
            }
            for message in &batch {
                handles.extend(message.receipt_handle().map(str::to_string));
                let letter = DeadLetter::from_message(message);
                if !listed.iter().any(|l| l.message_id == letter.message_id) {
                    listed.push(letter);
                }
            }
        }
    }
    .await;
    let released = release(sqs, dlq_url, &handles).await;
    received?;
    released?;
    listed.truncate(max);
    Ok(listed)
}

/// Moves messages from the dead-letter queue back to the results queue (at most `max`, or until
/// the dead-letter queue is empty): each is sent with the same body and attributes, and deleted
/// from the dead-letter queue only after the send succeeded. Returns how many moved.
pub async fn redrive(
    sqs: &aws_sdk_sqs::Client,
    dlq_url: &str,
    results_queue_url: &str,
    max: Option<usize>,
) -> Result<usize, RedriveError> {
    let mut moved = 0;
    loop {
        let count = batch_size(max, moved);
        if count == 0 {
            return Ok(moved);
        }
        let batch = receive(sqs, dlq_url, count)
            .await
            .map_err(|error| RedriveError {
                moved,
                error,
                sent_not_deleted: false,
            })?;
        if batch.is_empty() {
            return Ok(moved);
        }
        for (index, message) in batch.iter().enumerate() {
            let sent = sqs
                .send_message()
                .queue_url(results_queue_url)
                .message_body(message.body().unwrap_or_default())
                .set_message_attributes(message.message_attributes().cloned())
                .message_group_id(redrive_group(message))
                // Unique per dead-lettered message, so a second redrive of the same message
                // (it failed again) is not swallowed as a duplicate.
                .message_deduplication_id(format!(
                    "redrive-{}",
                    message.message_id().unwrap_or_default()
                ))
                .send()
                .await;
            if let Err(e) = sent {
                // Show this message and the rest of the batch again right away (best effort:
                // otherwise they reappear after the visibility timeout anyway).
                let rest: Vec<String> = batch[index..]
                    .iter()
                    .filter_map(|m| m.receipt_handle().map(str::to_string))
                    .collect();
                let _ = release(sqs, dlq_url, &rest).await;
                return Err(RedriveError {
                    moved,
                    error: DlqError::new("SendMessage", results_queue_url, e),
                    sent_not_deleted: false,
                });
            }
            sqs.delete_message()
                .queue_url(dlq_url)
                .receipt_handle(message.receipt_handle().unwrap_or_default())
                .send()
                .await
                .map_err(|e| RedriveError {
                    moved,
                    error: DlqError::new("DeleteMessage", dlq_url, e),
                    sent_not_deleted: true,
                })?;
            moved += 1;
        }
    }
}

/// The FIFO group a redriven message returns to: its original group (the order), else the one
/// its body names, else a group of its own.
fn redrive_group(message: &Message) -> String {
    message
        .attributes()
        .and_then(|a| a.get(&MessageSystemAttributeName::MessageGroupId))
        .cloned()
        .or_else(|| {
            serde_json::from_str::<crate::queue::QueueMessage>(message.body()?)
                .ok()
                .map(|m| m.group_id().to_owned())
        })
        .unwrap_or_else(|| format!("redrive-{}", message.message_id().unwrap_or_default()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_never_exceed_ten_or_the_limit() {
        assert_eq!(batch_size(None, 0), 10);
        assert_eq!(batch_size(None, 1000), 10);
        assert_eq!(batch_size(Some(3), 0), 3);
        assert_eq!(batch_size(Some(25), 20), 5);
        assert_eq!(batch_size(Some(25), 25), 0);
        assert_eq!(batch_size(Some(5), 9), 0);
    }

    #[test]
    fn a_message_is_read_with_its_attributes() {
        let body = r#"{"kind":"result","order_id":"o-1","company_id":"acme","version":2}"#;
        let message = Message::builder()
            .message_id("m-1")
            .receipt_handle("rh")
            .body(body)
            .attributes(MessageSystemAttributeName::ApproximateReceiveCount, "11")
            .attributes(MessageSystemAttributeName::SentTimestamp, "1767225600000")
            .build();
        let letter = DeadLetter::from_message(&message);
        assert_eq!(letter.message_id, "m-1");
        assert_eq!(letter.receive_count, Some(11));
        assert_eq!(
            letter.sent_at.unwrap().to_rfc3339(),
            "2026-01-01T00:00:00+00:00"
        );
        assert_eq!(
            letter.message,
            Some(QueueMessage::Result {
                order_id: "o-1".into(),
                company_id: "acme".into(),
                version: 2
            })
        );
        assert_eq!(letter.body, body);
    }

    #[test]
    fn an_unreadable_body_is_kept_as_is() {
        let message = Message::builder().message_id("m").body("{not json").build();
        let letter = DeadLetter::from_message(&message);
        assert_eq!(letter.message, None);
        assert_eq!(letter.body, "{not json");
        assert_eq!(letter.receive_count, None);
        assert_eq!(letter.sent_at, None);
    }

    #[test]
    fn a_partial_redrive_says_what_happened() {
        let error = || DlqError {
            operation: "SendMessage",
            queue_url: "q".into(),
            detail: "boom".into(),
        };
        let stopped = RedriveError {
            moved: 2,
            error: error(),
            sent_not_deleted: false,
        };
        assert_eq!(
            stopped.to_string(),
            "moved 2 message(s), then stopped: SQS SendMessage on q failed: boom; the remaining messages stay in the dead-letter queue"
        );
        let copied = RedriveError {
            sent_not_deleted: true,
            ..stopped
        };
        assert!(copied
            .to_string()
            .contains("still in the dead-letter queue"));
    }
}
