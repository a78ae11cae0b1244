//! `connector orders show|replay|announce|erase`.

use connector::aws::AwsClients;
use connector::ops::replay::{announce_order, replay_result, Announced, Replayed};
use connector::orders::Order;
use connector::queue::ResultsQueue;
use connector::sr::PackageResult;
use connector::store::Store;
use serde_json::json;

use crate::cli::OrdersCommand;
use crate::environment::require;
use crate::render::{count, fields, table, time, word};

pub async fn run(command: OrdersCommand) -> Result<String, String> {
    let table_name = require("TABLE_NAME").map_err(|e| e.to_string())?;
    match command {
        OrdersCommand::Show { order_id, output } => {
            let aws = AwsClients::from_env().await;
            let store = Store::new(aws.dynamodb, table_name);
            let order = store
                .get_order_with_history(&order_id)
                .await
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("order {order_id} does not exist"))?;
            Ok(render_order(&order, output.json))
        }
        OrdersCommand::Replay { order_id, output } => {
            let queue_url = require("RESULTS_QUEUE_URL").map_err(|e| e.to_string())?;
            let aws = AwsClients::from_env().await;
            let store = Store::new(aws.dynamodb, table_name);
            let queue = ResultsQueue::new(aws.sqs, queue_url);
            let replayed = replay_result(&store, &queue, &order_id)
                .await
                .map_err(|e| e.to_string())?;
            Ok(render_replayed(&replayed, output.json))
        }
        OrdersCommand::Announce { order_id, output } => {
            let queue_url = require("RESULTS_QUEUE_URL").map_err(|e| e.to_string())?;
            let aws = AwsClients::from_env().await;
            let store = Store::new(aws.dynamodb, table_name);
            let queue = ResultsQueue::new(aws.sqs, queue_url);
            let announced = announce_order(&store, &queue, &order_id)
                .await
                .map_err(|e| e.to_string())?;
            Ok(render_announced(&announced, output.json))
        }
        OrdersCommand::Erase { order_id, output } => {
            let notifications = crate::candidates::notifications().await?;
            let order = notifications
                .store()
                .get_order(&order_id)
                .await
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("order {order_id} does not exist"))?;
            let integration = connector::ids::IntegrationId::parse(&order.integration_id)
                .map_err(|e| e.to_string())?;
            let id = connector::ids::OrderId::parse(&order_id).map_err(|e| e.to_string())?;
            let report = connector::privacy::erase_order(
                &notifications,
                &integration,
                &id,
                chrono::Utc::now(),
            )
            .await
            .map_err(|e| format!("{e}; the command is safe to run again"))?
            .ok_or_else(|| format!("order {order_id} does not exist"))?;
            Ok(crate::candidates::render_erasure(&report, output.json))
        }
    }
}

/// `COMPLETED 88/100 "Strong hire"`.
pub fn result_line(result: &PackageResult) -> String {
    let mut parts = vec![result
        .status
        .map(|s| word(&s))
        .unwrap_or_else(|| "no status".into())];
    if let Some(score) = &result.score {
        parts.push(format!(
            "score {} (min {}, max {})",
            score.raw, score.min, score.max
        ));
    }
    if let Some(label) = &result.score_label {
        parts.push(format!("{label:?}"));
    }
    parts.join(", ")
}

pub fn render_order(order: &Order, as_json: bool) -> String {
    if as_json {
        return json!({ "order": order }).to_string();
    }
    let package = &order.package;
    let result = match &order.result {
        Some(result) => format!("version {}: {}", order.result_version, result_line(result)),
        None => "none yet".into(),
    };
    let mut text = fields(&[
        ("order", order.order_id.clone()),
        (
            "company",
            format!(
                "{} (integration {})",
                order.company_id, order.integration_id
            ),
        ),
        (
            "package",
            format!("{} ({}, {})", package.id, package.name, word(&package.kind)),
        ),
        (
            "inline",
            if order.inline.is_some() { "yes" } else { "no" }.into(),
        ),
        ("created", time(&order.created_at)),
        ("updated", time(&order.updated_at)),
        ("result", result),
        (
            "delivery",
            format!(
                "{} (version {} claimed for sending)",
                word(&order.delivery_state),
                order.sent_version
            ),
        ),
        ("callback", order.result_callback_url.clone()),
    ]);
    text.push_str(&format!(
        "\n\n{}",
        count(order.submissions.len(), "submission", "submissions")
    ));
    if !order.submissions.is_empty() {
        let rows: Vec<Vec<String>> = order
            .submissions
            .iter()
            .map(|s| {
                vec![
                    time(&s.submitted_at),
                    s.version
                        .map(|v| v.to_string())
                        .unwrap_or_else(|| "-".into()),
                    word(&s.status),
                    s.note.clone().unwrap_or_default(),
                ]
            })
            .collect();
        text.push('\n');
        text.push_str(&table(&["SUBMITTED", "VERSION", "STATUS", "NOTE"], &rows));
    }
    text.push_str(&format!(
        "\n\n{}",
        count(
            order.deliveries.len(),
            "delivery attempt",
            "delivery attempts"
        )
    ));
    if !order.deliveries.is_empty() {
        let rows: Vec<Vec<String>> = order
            .deliveries
            .iter()
            .map(|d| {
                vec![
                    time(&d.at),
                    d.version.to_string(),
                    d.sr_status_code
                        .map(|c| c.to_string())
                        .unwrap_or_else(|| "-".into()),
                    word(&d.outcome),
                    d.detail.clone().unwrap_or_default(),
                ]
            })
            .collect();
        text.push('\n');
        text.push_str(&table(
            &["AT", "VERSION", "SR STATUS", "OUTCOME", "DETAIL"],
            &rows,
        ));
    }
    text
}

pub fn render_replayed(replayed: &Replayed, as_json: bool) -> String {
    if as_json {
        return json!({"queued": true, "order_id": replayed.order_id, "company_id": replayed.company_id,
                      "version": replayed.version})
        .to_string();
    }
    format!(
        "Queued result version {} of order {} (company {}): the publisher sends it to \
         SmartRecruiters again; `connector orders show {}` shows the new delivery attempt.",
        replayed.version, replayed.order_id, replayed.company_id, replayed.order_id
    )
}

pub fn render_announced(announced: &Announced, as_json: bool) -> String {
    if as_json {
        return json!({"queued": true, "order_id": announced.order_id,
                      "company_id": announced.company_id,
                      "already_enriched": announced.already_enriched})
        .to_string();
    }
    let effect = if announced.already_enriched {
        "it was enriched already, so nothing changes"
    } else {
        "the publisher enriches it and tells the vendor (order.created)"
    };
    format!(
        "Queued the announcement of order {} (company {}): {effect}.",
        announced.order_id, announced.company_id
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn order() -> Order {
        serde_json::from_value(json!({
            "order_id": "o-1", "company_id": "acme", "integration_id": "acme-org",
            "package": {"id": "java", "name": "Java test", "kind": "SKILL_TEST", "assessment_ids": ["java"]},
            "result_callback_url": "https://api.smartrecruiters.com/assessment-api/v202010/orders/o-1/results",
            "candidate": {"id": "c", "firstName": "Ada", "lastName": "Lovelace"},
            "job": {"id": "j"},
            "requester": null,
            "request_fingerprint": "f",
            "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:05:00Z",
            "result": {"status": "COMPLETED", "score": {"raw": 88, "min": 0, "max": 100}, "scoreLabel": "Strong hire"},
            "result_version": 2, "sent_version": 2, "delivery_state": "DELIVERED",
            "submissions": [
                {"version": 1, "submitted_at": "2026-01-01T00:01:00Z", "status": "IN_PROGRESS", "vendor_body": {}, "note": null},
                {"version": 2, "submitted_at": "2026-01-01T00:02:00Z", "status": "COMPLETED", "vendor_body": {}, "note": null}
            ],
            "deliveries": [
                {"version": 2, "at": "2026-01-01T00:03:00Z", "sr_status_code": 503, "outcome": "RETRYING", "detail": "SR unavailable"},
                {"version": 2, "at": "2026-01-01T00:04:00Z", "sr_status_code": 200, "outcome": "DELIVERED", "detail": null}
            ]
        }))
        .unwrap()
    }

    #[test]
    fn the_summary_shows_result_submissions_and_deliveries() {
        let text = render_order(&order(), false);
        assert!(text.contains("order:     o-1\n"), "{text}");
        assert!(
            text.contains(
                "result:    version 2: COMPLETED, score 88 (min 0, max 100), \"Strong hire\""
            ),
            "{text}"
        );
        assert!(
            text.contains("delivery:  DELIVERED (version 2 claimed for sending)"),
            "{text}"
        );
        assert!(text.contains("\n2 submissions\nSUBMITTED"), "{text}");
        assert!(
            text.contains("2026-01-01T00:03:00Z  2        503        RETRYING   SR unavailable"),
            "{text}"
        );
    }

    #[test]
    fn json_is_the_whole_order() {
        let parsed: Value = serde_json::from_str(&render_order(&order(), true)).unwrap();
        assert_eq!(parsed["order"]["order_id"], "o-1");
        assert_eq!(parsed["order"]["deliveries"][1]["sr_status_code"], 200);
        assert_eq!(parsed["order"]["submissions"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn an_order_without_anything_yet_says_so() {
        let mut order = order();
        order.result = None;
        order.submissions.clear();
        order.deliveries.clear();
        let text = render_order(&order, false);
        assert!(text.contains("result:    none yet"), "{text}");
        assert!(
            text.ends_with("0 submissions\n\n0 delivery attempts"),
            "{text}"
        );
    }

    #[test]
    fn replay_output() {
        let replayed = Replayed {
            order_id: "o-1".into(),
            company_id: "acme".into(),
            version: 2,
        };
        assert!(
            render_replayed(&replayed, false).starts_with("Queued result version 2 of order o-1")
        );
        let parsed: Value = serde_json::from_str(&render_replayed(&replayed, true)).unwrap();
        assert_eq!(
            parsed,
            json!({"queued": true, "order_id": "o-1", "company_id": "acme", "version": 2})
        );
    }
}
