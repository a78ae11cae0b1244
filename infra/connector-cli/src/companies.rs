//! `connector companies list|show|disable|migrate-secrets`.

use chrono::Utc;
use connector::aws::AwsClients;
use connector::notifications::Notifications;
use connector::onboarding::{disable_company, DisableOutcome, REASON_OPERATOR};
use connector::ops::companies::{
    company_details, drop_clear_inbound_secrets, CompanyDetails, SecretState, SecretsMigration,
};
use connector::secrets::Secrets;
use connector::store::{CompanyRecord, CompanyStatus, Store};
use serde_json::json;

use crate::cli::CompaniesCommand;
use crate::environment::require;
use crate::render::{count, fields, table, time, word};

pub async fn run(command: CompaniesCommand) -> Result<String, String> {
    let table_name = require("TABLE_NAME").map_err(|e| e.to_string())?;
    match command {
        CompaniesCommand::List { status, output } => {
            let aws = AwsClients::from_env().await;
            let store = Store::new(aws.dynamodb, table_name);
            let status = status.map(CompanyStatus::from);
            let companies = store
                .list_companies(status)
                .await
                .map_err(|e| e.to_string())?;
            Ok(render_list(&companies, status, output.json))
        }
        CompaniesCommand::Show { company_id, output } => {
            let prefix = require("SECRET_PREFIX").map_err(|e| e.to_string())?;
            let aws = AwsClients::from_env().await;
            let store = Store::new(aws.dynamodb, table_name);
            let secrets = Secrets::new(aws.secrets.clone(), prefix);
            let details = company_details(&store, &secrets, &aws.secrets, &company_id, Utc::now())
                .await
                .map_err(|e| e.to_string())?
                .ok_or_else(|| unknown(&company_id))?;
            Ok(render_details(&details, output.json))
        }
        CompaniesCommand::Disable { company_id, output } => {
            let prefix = require("SECRET_PREFIX").map_err(|e| e.to_string())?;
            let aws = AwsClients::from_env().await;
            let store = Store::new(aws.dynamodb, table_name);
            let secrets = Secrets::new(aws.secrets, prefix);
            // The vendor's company.disabled webhook, when the stack's queue is known (the stack
            // output NotificationsQueueUrl); without it the event is only listable.
            let queue_url = std::env::var("NOTIFICATIONS_QUEUE_URL")
                .ok()
                .filter(|v| !v.trim().is_empty());
            let notifications = Notifications::new(store.clone(), aws.sqs, queue_url);
            let outcome = disable_company(
                &store,
                &secrets,
                &notifications,
                &company_id,
                REASON_OPERATOR,
                Utc::now(),
            )
            .await
            .map_err(|e| format!("{e}; the command is safe to run again"))?;
            render_disabled(
                &company_id,
                &secrets.company_secret_id(&company_id),
                &outcome,
                output.json,
            )
        }
        CompaniesCommand::MigrateSecrets { output } => {
            let prefix = require("SECRET_PREFIX").map_err(|e| e.to_string())?;
            let aws = AwsClients::from_env().await;
            let store = Store::new(aws.dynamodb, table_name);
            let secrets = Secrets::new(aws.secrets, prefix);
            let migration = drop_clear_inbound_secrets(&store, &secrets)
                .await
                .map_err(|e| format!("{e}; the command is safe to run again"))?;
            Ok(render_migration(&migration, output.json))
        }
    }
}

pub fn render_migration(migration: &SecretsMigration, as_json: bool) -> String {
    if as_json {
        return json!(migration).to_string();
    }
    let mut lines = vec![format!(
        "{} rewritten to keep only the inbound client's digest; {} in the digest-only shape already (or without a readable secret).",
        count(migration.rewritten.len(), "company secret", "company secrets"),
        migration.unchanged
    )];
    lines.extend(migration.rewritten.iter().map(|id| format!("  {id}")));
    if !migration.failed.is_empty() {
        lines.push(format!(
            "{} could not be rewritten (look at them, then run the command again):",
            count(migration.failed.len(), "company secret", "company secrets")
        ));
        lines.extend(
            migration
                .failed
                .iter()
                .map(|f| format!("  {}: {}", f.company_id, f.error)),
        );
    }
    lines.join("\n")
}

fn unknown(company_id: &str) -> String {
    format!("company {company_id} does not exist")
}

pub fn render_list(
    companies: &[CompanyRecord],
    status: Option<CompanyStatus>,
    as_json: bool,
) -> String {
    if as_json {
        return json!({"count": companies.len(), "companies": companies}).to_string();
    }
    let which = status.map(|s| format!("{} ", word(&s))).unwrap_or_default();
    if companies.is_empty() {
        return format!("No {which}companies.");
    }
    let rows: Vec<Vec<String>> = companies
        .iter()
        .map(|c| {
            vec![
                c.company_id.clone(),
                c.integration_id.clone(),
                word(&c.status),
                time(&c.updated_at),
            ]
        })
        .collect();
    format!(
        "{}\n{}",
        table(&["COMPANY", "INTEGRATION", "STATUS", "UPDATED"], &rows),
        count(
            companies.len(),
            &format!("{which}company"),
            &format!("{which}companies")
        )
    )
}

fn secret_text(state: SecretState) -> &'static str {
    match state {
        SecretState::Present => "present",
        SecretState::Absent => "absent",
        SecretState::PendingDeletion => "scheduled for deletion",
    }
}

/// Who gave consent: the vendor user who signed in (subject, e-mail, when), or a connect key.
fn consent_by(c: &CompanyRecord) -> String {
    match &c.connected_by {
        Some(by) => match &by.email {
            Some(email) => format!("{} <{email}>, {}", by.subject, time(&by.at)),
            None => format!("{}, {}", by.subject, time(&by.at)),
        },
        None => "a connect key".into(),
    }
}

pub fn render_details(details: &CompanyDetails, as_json: bool) -> String {
    if as_json {
        return json!({
            "company": details.company,
            "secret": {
                "id": details.secret_id,
                "exists": details.secret == SecretState::Present,
                "state": details.secret,
            },
            "live_tokens": details.live_tokens,
        })
        .to_string();
    }
    let c = &details.company;
    fields(&[
        ("company", c.company_id.clone()),
        ("integration", c.integration_id.clone()),
        ("status", word(&c.status)),
        ("client id", c.client_id.clone()),
        ("created", time(&c.created_at)),
        ("updated", time(&c.updated_at)),
        ("consent by", consent_by(c)),
        (
            "secret",
            format!("{} ({})", secret_text(details.secret), details.secret_id),
        ),
        ("live tokens", details.live_tokens.to_string()),
    ])
}

pub fn render_disabled(
    company_id: &str,
    secret_id: &str,
    outcome: &DisableOutcome,
    as_json: bool,
) -> Result<String, String> {
    let (before, event) = match outcome {
        DisableOutcome::Unknown => return Err(unknown(company_id)),
        DisableOutcome::Disabled { before, event } => (before, Some(event)),
        DisableOutcome::AlreadyDisabled { before } => (before, None),
    };
    if as_json {
        return Ok(json!({
            "company_id": company_id,
            "integration_id": before.integration_id,
            "status": "DISABLED",
            "previous_status": before.status,
            "secret_id": secret_id,
            "event": event.map(|e| json!({"id": e.id, "type": e.kind})),
        })
        .to_string());
    }
    Ok(match event {
        Some(event) => format!(
            "Company {company_id} (integration {}) is now DISABLED: its client record and access \
             tokens are deleted, secret {secret_id} is deleted, and event {} ({}) tells the vendor.",
            before.integration_id, event.kind, event.id
        ),
        None => format!(
            "Company {company_id} (integration {}) was already DISABLED; its client record, \
             access tokens and secret {secret_id} are gone.",
            before.integration_id
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use connector::onboarding::disabled_event;
    use serde_json::Value;

    fn company(id: &str, status: CompanyStatus) -> CompanyRecord {
        let at = chrono::DateTime::from_timestamp(1_767_225_600, 0).unwrap();
        CompanyRecord {
            company_id: id.into(),
            integration_id: format!("{id}-org"),
            status,
            client_id: "src_x".into(),
            created_at: at,
            updated_at: at,
            connected_by: None,
        }
    }

    #[test]
    fn the_list_is_a_table_or_json() {
        let companies = [
            company("acme", CompanyStatus::Active),
            company("globex", CompanyStatus::Disabled),
        ];
        let text = render_list(&companies, None, false);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "COMPANY  INTEGRATION  STATUS    UPDATED");
        assert_eq!(
            lines[1],
            "acme     acme-org     ACTIVE    2026-01-01T00:00:00Z"
        );
        assert_eq!(lines[3], "2 companies");
        let parsed: Value = serde_json::from_str(&render_list(&companies, None, true)).unwrap();
        assert_eq!(parsed["count"], 2);
        assert_eq!(parsed["companies"][1]["status"], "DISABLED");
        assert_eq!(
            render_list(&[], Some(CompanyStatus::Disabled), false),
            "No DISABLED companies."
        );
        assert!(
            render_list(&companies[..1], Some(CompanyStatus::Active), false)
                .ends_with("\n1 ACTIVE company")
        );
    }

    #[test]
    fn details_say_whether_the_secret_exists() {
        let details = CompanyDetails {
            company: company("acme", CompanyStatus::Disabled),
            secret_id: "stack/companies/acme".into(),
            secret: SecretState::Absent,
            live_tokens: 0,
        };
        let text = render_details(&details, false);
        assert!(text.contains("status:       DISABLED"), "{text}");
        assert!(
            text.contains("secret:       absent (stack/companies/acme)"),
            "{text}"
        );
        let parsed: Value = serde_json::from_str(&render_details(&details, true)).unwrap();
        assert_eq!(parsed["secret"]["exists"], false);
        assert_eq!(parsed["secret"]["state"], "ABSENT");
        assert_eq!(parsed["company"]["company_id"], "acme");
        assert!(text.contains("consent by:   a connect key"), "{text}");
    }

    #[test]
    fn details_name_who_signed_in_to_connect() {
        let mut company = company("acme", CompanyStatus::Active);
        company.connected_by = Some(connector::store::ConnectedBy {
            subject: "user-1".into(),
            email: Some("ada@vendor.example".into()),
            at: company.created_at,
        });
        let details = CompanyDetails {
            company,
            secret_id: "stack/companies/acme".into(),
            secret: SecretState::Present,
            live_tokens: 1,
        };
        let text = render_details(&details, false);
        assert!(
            text.contains("consent by:   user-1 <ada@vendor.example>, 2026-01-01T00:00:00Z"),
            "{text}"
        );
        let parsed: Value = serde_json::from_str(&render_details(&details, true)).unwrap();
        assert_eq!(
            parsed["company"]["connected_by"]["email"],
            "ada@vendor.example"
        );
    }

    #[test]
    fn disabling_reports_the_transition() {
        let before = company("acme", CompanyStatus::Active);
        let event = disabled_event(&before, REASON_OPERATOR, Utc::now());
        let outcome = DisableOutcome::Disabled {
            before: before.clone(),
            event: event.clone(),
        };
        let text = render_disabled("acme", "s/companies/acme", &outcome, false).unwrap();
        assert!(text.starts_with("Company acme (integration acme-org) is now DISABLED"));
        let parsed: Value =
            serde_json::from_str(&render_disabled("acme", "s", &outcome, true).unwrap()).unwrap();
        assert_eq!(parsed["previous_status"], "ACTIVE");
        assert_eq!(parsed["event"]["type"], "company.disabled");
        assert_eq!(parsed["event"]["id"], event.id.as_str());

        let again = DisableOutcome::AlreadyDisabled {
            before: company("acme", CompanyStatus::Disabled),
        };
        let parsed: Value =
            serde_json::from_str(&render_disabled("acme", "s", &again, true).unwrap()).unwrap();
        assert_eq!(parsed["event"], Value::Null);
        assert_eq!(
            render_disabled("nope", "s", &DisableOutcome::Unknown, false).unwrap_err(),
            "company nope does not exist"
        );
    }
}
