//! The three Customer API reads the connector makes for order enrichment, with customer-level
//! credentials: `GET /candidates/{id}` (`CandidateDetails`), `GET /jobs/{id}` (`JobDetails`) and
//! `GET /jobs/{id}/hiring-team` (`HiringTeamMembers`).
//!
//! Shapes follow SR's Customer API reference (Konfig's public OpenAPI merge of it); only the
//! fields a vendor needs are typed. Every field is optional and unknown fields are ignored: the
//! merged spec marks fields required that real answers may omit, and a missing phone
//! number must never cost the vendor the rest of the candidate.

use serde::{Deserialize, Serialize};

/// `CandidateDetails` (subset).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CandidateDetails {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub phone_number: Option<String>,
    #[serde(default)]
    pub location: Option<Location>,
}

/// `CandidateLocation`, and the job's `Location` (which adds `remote`, `address`, `postalCode`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Location {
    #[serde(default)]
    pub country: Option<String>,
    #[serde(default)]
    pub country_code: Option<String>,
    #[serde(default)]
    pub region_code: Option<String>,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub city: Option<String>,
    #[serde(default)]
    pub remote: Option<bool>,
}

/// `Department` of a job: a `Property`-like `{id, label}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Department {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub label: Option<String>,
}

/// `JobDetails` (subset).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobDetails {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub ref_number: Option<String>,
    #[serde(default)]
    pub department: Option<Department>,
    #[serde(default)]
    pub location: Option<Location>,
}

/// `HiringTeamMembers`: `{totalFound, content: [HiringTeamMemberResponse]}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HiringTeamMembers {
    #[serde(default)]
    pub total_found: Option<u64>,
    #[serde(default)]
    pub content: Vec<HiringTeamMember>,
}

/// `HiringTeamMember`: a user id and a role. The spec allows any string besides the known roles
/// (`HIRING_MANAGER`, `INTERVIEW_TEAM`, `RECRUITER`, `EXECUTIVE`, `COORDINATOR`), so the role is
/// kept as SR sends it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HiringTeamMember {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub role: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_full_candidate_answer_keeps_what_the_vendor_needs() {
        let c: CandidateDetails = serde_json::from_value(json!({
            "id": "c1", "internal": false, "firstName": "Ada", "lastName": "Lovelace",
            "email": "ada@example.com", "phoneNumber": "+46 70", "tags": [],
            "location": {"country": "Sweden", "countryCode": "SE", "city": "Stockholm", "lat": 59.3},
            "actions": {"properties": {"url": "u", "method": "GET"}}
        }))
        .unwrap();
        assert_eq!(c.last_name.as_deref(), Some("Lovelace"));
        assert_eq!(c.location.unwrap().country_code.as_deref(), Some("SE"));
    }

    #[test]
    fn missing_and_null_fields_are_tolerated() {
        let c: CandidateDetails =
            serde_json::from_value(json!({"id": "c1", "email": null})).unwrap();
        assert_eq!(c.email, None);
        assert_eq!(c.location, None);
        let j: JobDetails = serde_json::from_value(json!({})).unwrap();
        assert_eq!(j, JobDetails::default());
        let t: HiringTeamMembers =
            serde_json::from_value(json!({"content": [{"id": "u1"}, {"role": "CUSTOM"}]})).unwrap();
        assert_eq!(t.content.len(), 2);
        assert_eq!(t.content[1].role.as_deref(), Some("CUSTOM"));
    }
}
