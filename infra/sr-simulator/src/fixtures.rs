//! Deterministic Customer API fixtures (`CandidateDetails`, `JobDetails`, `HiringTeamMembers`).
//!
//! Values are derived from the id so tests can predict them without asking the simulator:
//! with `s = short_id(id)` (first 8 ASCII alphanumerics of the id):
//! - candidate: firstName `Test`, lastName `Candidate-{s}`, email `candidate-{s}@example.com`
//!   (lowercased), phoneNumber `+46 70 000 00 00`, location Stockholm, Sweden (`SE`);
//! - job: title `Test Job {s}`, refNumber `REF-{S}` (uppercased), department `{id: dept-{s},
//!   label: Engineering}`, location Stockholm, Sweden (`se`: SR's job API uses lowercase codes);
//! - hiring team: `user-{s}-hm` (HIRING_MANAGER) and `user-{s}-rec` (RECRUITER).

use serde_json::{json, Value};

pub const FIXED_CREATED_ON: &str = "2024-01-15T09:30:00.000Z";

/// First 8 ASCII alphanumerics of `id` (or `x` when there are none).
pub fn short_id(id: &str) -> String {
    let s: String = id
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(8)
        .collect();
    if s.is_empty() {
        "x".to_owned()
    } else {
        s
    }
}

fn action(url: String) -> Value {
    json!({ "url": url, "method": "GET" })
}

pub fn candidate(id: &str, base: &str) -> Value {
    let s = short_id(id);
    let seg = crate::ids::encode_segment(id);
    json!({
        "id": id,
        "internal": false,
        "firstName": "Test",
        "lastName": format!("Candidate-{s}"),
        "email": format!("candidate-{}@example.com", s.to_lowercase()),
        "phoneNumber": "+46 70 000 00 00",
        "location": {
            "country": "Sweden",
            "countryCode": "SE",
            "city": "Stockholm",
            "region": "Stockholm County"
        },
        "web": {},
        "tags": [],
        "createdOn": FIXED_CREATED_ON,
        "updatedOn": FIXED_CREATED_ON,
        "actions": {
            "properties": action(format!("{base}/candidates/{seg}/properties")),
            "attachments": action(format!("{base}/candidates/{seg}/attachments")),
        }
    })
}

pub fn job(id: &str, base: &str) -> Value {
    let s = short_id(id);
    let seg = crate::ids::encode_segment(id);
    json!({
        "id": id,
        "title": format!("Test Job {s}"),
        "refNumber": format!("REF-{}", s.to_uppercase()),
        "createdOn": FIXED_CREATED_ON,
        "updatedOn": FIXED_CREATED_ON,
        "lastActivityOn": FIXED_CREATED_ON,
        "status": "SOURCING",
        "postingStatus": "PUBLIC",
        "department": { "id": format!("dept-{s}"), "label": "Engineering" },
        "location": {
            "country": "Sweden",
            "countryCode": "se",
            "city": "Stockholm",
            "region": "Stockholm County",
            "remote": false
        },
        "actions": {
            "details": action(format!("{base}/jobs/{seg}")),
            "hiringTeam": action(format!("{base}/jobs/{seg}/hiring-team")),
        }
    })
}

pub fn hiring_team(job_id: &str, base: &str) -> Value {
    let s = short_id(job_id);
    let member = |suffix: &str, role: &str| {
        let user_id = format!("user-{s}-{suffix}");
        json!({
            "id": user_id,
            "role": role,
            "actions": { "details": action(format!("{base}/users/{user_id}")) }
        })
    };
    json!({
        "totalFound": 2,
        "content": [member("hm", "HIRING_MANAGER"), member("rec", "RECRUITER")]
    })
}

/// The `candidate` object SR puts into an `AssessmentPackageOrderRequest` (consistent with
/// what `GET /candidates/{id}` answers for the same id).
pub fn order_candidate(id: &str, base: &str) -> Value {
    let full = candidate(id, base);
    json!({
        "id": id,
        "firstName": full["firstName"],
        "lastName": full["lastName"],
        "email": full["email"],
        "phoneNumber": full["phoneNumber"],
    })
}

/// The `job` object SR puts into an `AssessmentPackageOrderRequest`.
pub fn order_job(id: &str, base: &str) -> Value {
    json!({ "id": id, "title": job(id, base)["title"] })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixtures_are_predictable_from_the_id() {
        let c = candidate("3fa85f64-5717-4562-b3fc-2c963f66afa6", "http://sim");
        assert_eq!(c["lastName"], "Candidate-3fa85f64");
        assert_eq!(c["email"], "candidate-3fa85f64@example.com");
        let j = job("ab-CD", "http://sim");
        assert_eq!(j["title"], "Test Job abCD");
        assert_eq!(j["refNumber"], "REF-ABCD");
        assert_eq!(
            hiring_team("ab", "http://sim")["content"][0]["id"],
            "user-ab-hm"
        );
        assert_eq!(short_id("--"), "x");
    }
}
