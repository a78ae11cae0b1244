//! `connector candidates erase|export` and the erasure report `connector orders erase` prints.

use chrono::Utc;
use connector::aws::AwsClients;
use connector::notifications::Notifications;
use connector::privacy::{self, CandidateSelector, ErasureReport};
use connector::store::Store;
use serde_json::json;

use crate::cli::{CandidateArgs, CandidatesCommand};
use crate::environment::require;
use crate::render::fields;

pub async fn run(command: CandidatesCommand) -> Result<String, String> {
    let notifications = notifications().await?;
    match command {
        CandidatesCommand::Erase { candidate, output } => {
            let report = privacy::erase_candidate(
                &notifications,
                &candidate.integration,
                &selector(&candidate)?,
                Utc::now(),
            )
            .await
            .map_err(|e| format!("{e}; the command is safe to run again"))?;
            Ok(render_erasure(&report, output.json))
        }
        CandidatesCommand::Export { candidate } => {
            let export = privacy::export_candidate(
                &notifications,
                &candidate.integration,
                &selector(&candidate)?,
            )
            .await
            .map_err(|e| e.to_string())?;
            Ok(serde_json::to_string_pretty(&export).expect("exports serialize"))
        }
    }
}

/// The stack's store and, when NOTIFICATIONS_QUEUE_URL is set, its notifications queue (the
/// candidate.erased webhook); without it the event is only listable.
pub async fn notifications() -> Result<Notifications, String> {
    let table_name = require("TABLE_NAME").map_err(|e| e.to_string())?;
    let aws = AwsClients::from_env().await;
    let queue_url = std::env::var("NOTIFICATIONS_QUEUE_URL")
        .ok()
        .filter(|v| !v.trim().is_empty());
    Ok(Notifications::new(
        Store::new(aws.dynamodb, table_name),
        aws.sqs,
        queue_url,
    ))
}

fn selector(candidate: &CandidateArgs) -> Result<CandidateSelector, String> {
    match (&candidate.candidate_id, &candidate.email) {
        (Some(id), None) if !id.trim().is_empty() => Ok(CandidateSelector::CandidateId(id.clone())),
        (None, Some(email)) if email.contains('@') => Ok(CandidateSelector::Email(email.clone())),
        (None, Some(_)) => Err("--email must be an e-mail address".into()),
        _ => Err("name the candidate with --candidate-id or --email".into()),
    }
}

pub fn render_erasure(report: &ErasureReport, as_json: bool) -> String {
    if as_json {
        return json!({ "erased": report }).to_string();
    }
    let erased = &report.erased;
    fields(&[
        (
            "orders",
            if report.order_ids.is_empty() {
                "none found".into()
            } else {
                report.order_ids.join(", ")
            },
        ),
        (
            "erased",
            format!(
                "{} order items, {} submissions, {} delivery attempts, {} files, {} events",
                erased.orders,
                erased.submissions,
                erased.delivery_attempts,
                erased.files,
                erased.events
            ),
        ),
        (
            "notice",
            report
                .event_id
                .as_ref()
                .map(|id| format!("candidate.erased event {id}"))
                .unwrap_or_else(|| "none (nothing was left to erase)".into()),
        ),
    ])
}
