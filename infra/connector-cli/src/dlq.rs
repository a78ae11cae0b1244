//! `connector dlq list|redrive`.

use connector::aws::AwsClients;
use connector::ops::dlq::{self, DeadLetter};
use connector::queue::QueueMessage;
use serde_json::json;

use crate::cli::DlqCommand;
use crate::environment::require;
use crate::render::{count, time};

pub async fn run(command: DlqCommand) -> Result<String, String> {
    let dlq_url = require("RESULTS_DLQ_URL").map_err(|e| e.to_string())?;
    match command {
        DlqCommand::List { max, output } => {
            let aws = AwsClients::from_env().await;
            let max = max as usize;
            let letters = dlq::list(&aws.sqs, &dlq_url, max)
                .await
                .map_err(|e| e.to_string())?;
            Ok(render_list(&dlq_url, &letters, max, output.json))
        }
        DlqCommand::Redrive { max, output } => {
            let results_url = require("RESULTS_QUEUE_URL").map_err(|e| e.to_string())?;
            let aws = AwsClients::from_env().await;
            let moved = dlq::redrive(&aws.sqs, &dlq_url, &results_url, max.map(|m| m as usize))
                .await
                .map_err(|e| e.to_string())?;
            Ok(render_redrive(&dlq_url, &results_url, moved, output.json))
        }
    }
}

fn describe(message: &Option<QueueMessage>) -> String {
    match message {
        Some(QueueMessage::Result {
            order_id,
            company_id,
            version,
        }) => format!("result version {version} of order {order_id} (company {company_id})"),
        Some(QueueMessage::OrderReceived {
            order_id,
            company_id,
        }) => format!("enrichment of order {order_id} (company {company_id})"),
        None => "not a results-queue message".into(),
    }
}

pub fn render_list(queue_url: &str, letters: &[DeadLetter], max: usize, as_json: bool) -> String {
    if as_json {
        return json!({"queue_url": queue_url, "count": letters.len(), "messages": letters})
            .to_string();
    }
    if letters.is_empty() {
        return "The dead-letter queue is empty.".into();
    }
    let mut blocks: Vec<String> = letters
        .iter()
        .map(|l| {
            format!(
                "{}  receives: {}  sent: {}\n  {}\n  {}",
                l.message_id,
                l.receive_count
                    .map(|c| c.to_string())
                    .unwrap_or_else(|| "?".into()),
                l.sent_at.as_ref().map(time).unwrap_or_else(|| "?".into()),
                describe(&l.message),
                l.body
            )
        })
        .collect();
    let mut footer = format!(
        "{} listed; they stay in the dead-letter queue (`connector dlq redrive` moves them back).",
        count(letters.len(), "message", "messages")
    );
    if letters.len() >= max {
        footer.push_str(&format!(" There may be more: raise --max (now {max})."));
    }
    blocks.push(footer);
    blocks.join("\n\n")
}

pub fn render_redrive(dlq_url: &str, results_url: &str, moved: usize, as_json: bool) -> String {
    if as_json {
        return json!({"moved": moved, "from": dlq_url, "to": results_url}).to_string();
    }
    if moved == 0 {
        return "The dead-letter queue is empty; nothing to move.".into();
    }
    format!(
        "Moved {} from the dead-letter queue to the results queue; the publisher delivers them again.",
        count(moved, "message", "messages")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn letter(body: &str) -> DeadLetter {
        DeadLetter {
            message_id: "m-1".into(),
            receive_count: Some(11),
            sent_at: chrono::DateTime::from_timestamp(1_767_225_600, 0),
            body: body.into(),
            message: serde_json::from_str(body).ok(),
        }
    }

    #[test]
    fn listed_messages_show_id_count_time_and_body() {
        let body = r#"{"kind":"result","order_id":"o-1","company_id":"acme","version":2}"#;
        let text = render_list("q", &[letter(body), letter("junk")], 10, false);
        assert!(text.starts_with(&format!(
            "m-1  receives: 11  sent: 2026-01-01T00:00:00Z\n  result version 2 of order o-1 (company acme)\n  {body}\n\n"
        )), "{text}");
        assert!(
            text.contains("  not a results-queue message\n  junk"),
            "{text}"
        );
        assert!(text.ends_with("2 messages listed; they stay in the dead-letter queue (`connector dlq redrive` moves them back)."), "{text}");
        assert!(render_list("q", &[letter("x")], 1, false).ends_with("raise --max (now 1)."));
        assert_eq!(
            render_list("q", &[], 10, false),
            "The dead-letter queue is empty."
        );
        let parsed: Value =
            serde_json::from_str(&render_list("q", &[letter(body)], 10, true)).unwrap();
        assert_eq!(parsed["count"], 1);
        assert_eq!(parsed["messages"][0]["receive_count"], 11);
        assert_eq!(parsed["messages"][0]["body"], body);
        assert_eq!(parsed["messages"][0]["message"]["order_id"], "o-1");
    }

    #[test]
    fn redrive_output() {
        assert_eq!(
            render_redrive("d", "q", 0, false),
            "The dead-letter queue is empty; nothing to move."
        );
        assert!(render_redrive("d", "q", 1, false).starts_with("Moved 1 message from"));
        let parsed: Value = serde_json::from_str(&render_redrive("d", "q", 3, true)).unwrap();
        assert_eq!(parsed, json!({"moved": 3, "from": "d", "to": "q"}));
    }
}
