//! An order's enrichment: what SR's Customer API says about the order's candidate, job and
//! hiring team, as stored on the order item and shown in the vendor API's order view. The worker
//! that fetches it is `enrichment` (the runner); these are the model's types and the
//! mapping from SR's Customer API shapes (`crate::sr::customer`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::sr::customer::{self, CandidateDetails, HiringTeamMembers, JobDetails};

/// What enrichment found, stored on the order and shown in the vendor API's order view.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderEnrichment {
    pub enriched_at: DateTime<Utc>,
    /// `None` when SR had no such candidate, or for inline orders (which carry no candidate id).
    #[serde(default)]
    pub candidate: Option<EnrichedCandidate>,
    #[serde(default)]
    pub job: Option<EnrichedJob>,
    #[serde(default)]
    pub hiring_team: Option<Vec<HiringTeamMember>>,
    /// Why a part is missing (SR's 404, an inline order without candidate id, …).
    #[serde(default)]
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EnrichedCandidate {
    pub id: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub location: Option<Location>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EnrichedJob {
    pub id: String,
    pub title: Option<String>,
    pub ref_number: Option<String>,
    pub department: Option<Department>,
    pub location: Option<Location>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Department {
    pub id: Option<String>,
    pub name: Option<String>,
}

/// A candidate's or a job's location. Country codes are upper-cased: SR's candidate API answers
/// `SE` and its job API `se` for the same country.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Location {
    pub city: Option<String>,
    pub region: Option<String>,
    pub country: Option<String>,
    pub country_code: Option<String>,
    /// Jobs only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HiringTeamMember {
    pub user_id: String,
    pub role: Option<String>,
}

impl From<customer::Location> for Location {
    fn from(l: customer::Location) -> Self {
        Self {
            city: l.city,
            region: l.region,
            country: l.country,
            country_code: l.country_code.map(|c| c.to_ascii_uppercase()),
            remote: l.remote,
        }
    }
}

/// The candidate as stored; `id` falls back to the id we asked for.
pub fn enriched_candidate(id: &str, details: CandidateDetails) -> EnrichedCandidate {
    EnrichedCandidate {
        id: details.id.unwrap_or_else(|| id.to_string()),
        first_name: details.first_name,
        last_name: details.last_name,
        email: details.email,
        phone: details.phone_number,
        location: details.location.map(Location::from),
    }
}

pub fn enriched_job(id: &str, details: JobDetails) -> EnrichedJob {
    EnrichedJob {
        id: details.id.unwrap_or_else(|| id.to_string()),
        title: details.title,
        ref_number: details.ref_number,
        department: details.department.map(|d| Department {
            id: d.id,
            name: d.label,
        }),
        location: details.location.map(Location::from),
    }
}

/// Team members without an id are dropped: the vendor cannot do anything with them.
pub fn hiring_team(team: HiringTeamMembers) -> Vec<HiringTeamMember> {
    team.content
        .into_iter()
        .filter_map(|m| {
            Some(HiringTeamMember {
                user_id: m.id.filter(|id| !id.is_empty())?,
                role: m.role,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_simulators_shapes_map_onto_the_stored_fields() {
        let candidate: CandidateDetails = serde_json::from_value(json!({
            "id": "c1", "firstName": "Test", "lastName": "Candidate-c1",
            "email": "candidate-c1@example.com", "phoneNumber": "+46 70 000 00 00",
            "location": {"country": "Sweden", "countryCode": "SE", "city": "Stockholm", "region": "Stockholm County"}
        }))
        .unwrap();
        let c = enriched_candidate("c1", candidate);
        assert_eq!(c.phone.as_deref(), Some("+46 70 000 00 00"));
        assert_eq!(
            c.location.as_ref().unwrap().city.as_deref(),
            Some("Stockholm")
        );
        let job: JobDetails = serde_json::from_value(json!({
            "id": "j1", "title": "Test Job j1", "refNumber": "REF-J1",
            "department": {"id": "dept-j1", "label": "Engineering"},
            "location": {"country": "Sweden", "countryCode": "se", "city": "Stockholm", "remote": false}
        }))
        .unwrap();
        let j = enriched_job("j1", job);
        assert_eq!(j.ref_number.as_deref(), Some("REF-J1"));
        assert_eq!(j.department.unwrap().name.as_deref(), Some("Engineering"));
        let location = j.location.unwrap();
        assert_eq!(location.country_code.as_deref(), Some("SE"));
        assert_eq!(location.remote, Some(false));
    }

    #[test]
    fn an_empty_answer_still_names_what_was_asked_for() {
        let c = enriched_candidate("c9", CandidateDetails::default());
        assert_eq!(c.id, "c9");
        assert_eq!(c.email, None);
        let j = enriched_job("j9", JobDetails::default());
        assert_eq!(j.id, "j9");
    }

    #[test]
    fn team_members_without_an_id_are_dropped() {
        let team: HiringTeamMembers = serde_json::from_value(json!({
            "totalFound": 3,
            "content": [{"id": "u1", "role": "HIRING_MANAGER"}, {"role": "RECRUITER"}, {"id": "u3"}]
        }))
        .unwrap();
        assert_eq!(
            hiring_team(team),
            vec![
                HiringTeamMember {
                    user_id: "u1".into(),
                    role: Some("HIRING_MANAGER".into())
                },
                HiringTeamMember {
                    user_id: "u3".into(),
                    role: None
                }
            ]
        );
    }

    #[test]
    fn stored_enrichment_round_trips_and_tolerates_missing_parts() {
        let e = OrderEnrichment {
            enriched_at: Utc::now(),
            candidate: None,
            job: Some(enriched_job("j1", JobDetails::default())),
            hiring_team: Some(vec![]),
            notes: vec!["candidate c1: not found in SmartRecruiters (404)".into()],
        };
        let value = serde_json::to_value(&e).unwrap();
        assert_eq!(serde_json::from_value::<OrderEnrichment>(value).unwrap(), e);
        let minimal: OrderEnrichment =
            serde_json::from_value(json!({"enriched_at": "2026-01-01T00:00:00Z"})).unwrap();
        assert!(minimal.candidate.is_none() && minimal.notes.is_empty());
    }
}
