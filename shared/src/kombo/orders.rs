//! An order in Kombo's shape, as `GET /assessment/orders` lists it and the
//! `assessment:order-received` webhooks carry it. Kombo's clients require every key, with `null`
//! where a value is unknown, so every field below is always serialized.
//!
//! Where the values come from: SR's order request first (candidate name, e-mail and phone, job
//! id, title and ref number), then what the enrichment worker read from SR's Customer API (job
//! location, hiring team; candidate details SR's order left out).

use serde::Serialize;

use crate::orders::enrichment::{HiringTeamMember as SrTeamMember, Location as SrLocation};
use crate::orders::{Order, VendorOrderStatus};

/// `{id, package_id, status, integration_id, candidate, application, job}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AssessmentOrder {
    pub id: String,
    pub package_id: String,
    pub status: VendorOrderStatus,
    pub integration_id: String,
    pub candidate: Candidate,
    pub application: Application,
    pub job: Job,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Candidate {
    /// `null` for inline orders, which carry no SR candidate id.
    pub remote_id: Option<String>,
    /// Required and non-null in Kombo's model; `""` when SR gave none (SR's order request makes
    /// it optional).
    pub email: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub phone: Option<String>,
}

/// SR's assessment orders name no application; always `{remote_id: null}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Application {
    pub remote_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Job {
    pub remote_id: Option<String>,
    pub name: Option<String>,
    pub job_code: Option<String>,
    /// SR's order and the job read by the enrichment carry no description: always `null`.
    pub description: Option<String>,
    pub location: Option<Location>,
    pub hiring_team: Vec<HiringTeamMember>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Location {
    pub street_1: Option<String>,
    pub street_2: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub zip_code: Option<String>,
    /// The ISO 3166-1 alpha-2 code when SR gave one, else SR's country name (as Kombo does).
    pub country: Option<String>,
    /// `city, region, country` as far as known.
    pub raw: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HiringTeamMember {
    pub remote_id: Option<String>,
    /// SR's hiring-team read names users by id only.
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    /// `RECRUITER` / `HIRING_MANAGER`; SR's other roles (e.g. `COORDINATOR`) have no Kombo
    /// counterpart and leave this empty.
    pub hiring_team_roles: Vec<HiringTeamRole>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum HiringTeamRole {
    Recruiter,
    HiringManager,
}

fn non_empty(value: &str) -> Option<String> {
    let value = value.trim();
    (!value.is_empty()).then(|| value.to_string())
}

impl AssessmentOrder {
    pub fn of(order: &Order) -> Self {
        let enrichment = order.enrichment.as_ref();
        let enriched_candidate = enrichment.and_then(|e| e.candidate.as_ref());
        let enriched_job = enrichment.and_then(|e| e.job.as_ref());
        let candidate = &order.candidate;
        Self {
            id: order.order_id.clone(),
            package_id: order.package.id.clone(),
            status: order.vendor_status(),
            integration_id: order.integration_id.clone(),
            candidate: Candidate {
                remote_id: non_empty(&candidate.id),
                email: candidate
                    .email
                    .clone()
                    .or_else(|| enriched_candidate.and_then(|c| c.email.clone()))
                    .unwrap_or_default(),
                first_name: non_empty(&candidate.first_name)
                    .or_else(|| enriched_candidate.and_then(|c| c.first_name.clone())),
                last_name: non_empty(&candidate.last_name)
                    .or_else(|| enriched_candidate.and_then(|c| c.last_name.clone())),
                phone: candidate
                    .phone_number
                    .clone()
                    .or_else(|| enriched_candidate.and_then(|c| c.phone.clone())),
            },
            application: Application { remote_id: None },
            job: Job {
                remote_id: non_empty(&order.job.id),
                name: order
                    .job
                    .title
                    .clone()
                    .or_else(|| enriched_job.and_then(|j| j.title.clone())),
                job_code: order
                    .job
                    .ref_number
                    .clone()
                    .or_else(|| enriched_job.and_then(|j| j.ref_number.clone())),
                description: None,
                location: enriched_job
                    .and_then(|j| j.location.as_ref())
                    .and_then(location),
                hiring_team: enrichment
                    .and_then(|e| e.hiring_team.as_deref())
                    .unwrap_or_default()
                    .iter()
                    .map(team_member)
                    .collect(),
            },
        }
    }
}

fn location(l: &SrLocation) -> Option<Location> {
    let raw: Vec<&str> = [&l.city, &l.region, &l.country]
        .into_iter()
        .filter_map(|part| part.as_deref().filter(|p| !p.trim().is_empty()))
        .collect();
    let country = l.country_code.clone().or_else(|| l.country.clone());
    if raw.is_empty() && country.is_none() {
        return None;
    }
    Some(Location {
        street_1: None,
        street_2: None,
        city: l.city.clone(),
        state: l.region.clone(),
        zip_code: None,
        country,
        raw: (!raw.is_empty()).then(|| raw.join(", ")),
    })
}

fn team_member(member: &SrTeamMember) -> HiringTeamMember {
    let role = match member.role.as_deref() {
        Some("RECRUITER") => Some(HiringTeamRole::Recruiter),
        Some("HIRING_MANAGER") => Some(HiringTeamRole::HiringManager),
        _ => None,
    };
    HiringTeamMember {
        remote_id: Some(member.user_id.clone()),
        email: None,
        first_name: None,
        last_name: None,
        hiring_team_roles: role.into_iter().collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::orders::test_support::order;
    use serde_json::json;

    #[test]
    fn every_key_kombo_requires_is_present_with_null_where_unknown() {
        let view = serde_json::to_value(AssessmentOrder::of(&order(json!({})))).unwrap();
        assert_eq!(
            view,
            json!({
                "id": "o1", "package_id": "java", "status": "OPEN", "integration_id": "acme-org",
                "candidate": {"remote_id": "c1", "email": "", "first_name": "Ada",
                              "last_name": "Lovelace", "phone": null},
                "application": {"remote_id": null},
                "job": {"remote_id": "j1", "name": null, "job_code": null, "description": null,
                        "location": null, "hiring_team": []}
            })
        );
    }

    #[test]
    fn enrichment_fills_what_the_order_left_out() {
        let o = order(json!({
            "candidate": {"id": "c1", "firstName": "Ada", "lastName": "Lovelace", "email": "ada@example.com"},
            "job": {"id": "j1", "title": "Engineer"},
            "enrichment": {
                "enriched_at": "2026-01-01T00:00:01Z",
                "candidate": {"id": "c1", "email": "other@example.com", "phone": "+46 70"},
                "job": {"id": "j1", "title": "Senior engineer", "ref_number": "REF-1",
                        "location": {"city": "Stockholm", "region": "Stockholm County",
                                     "country": "Sweden", "country_code": "SE", "remote": false}},
                "hiring_team": [{"user_id": "u1", "role": "HIRING_MANAGER"},
                                {"user_id": "u2", "role": "RECRUITER"},
                                {"user_id": "u3", "role": "COORDINATOR"}]
            }
        }));
        let view = AssessmentOrder::of(&o);
        // SR's order wins where it has a value.
        assert_eq!(view.candidate.email, "ada@example.com");
        assert_eq!(view.job.name.as_deref(), Some("Engineer"));
        assert_eq!(view.candidate.phone.as_deref(), Some("+46 70"));
        assert_eq!(view.job.job_code.as_deref(), Some("REF-1"));
        let location = view.job.location.unwrap();
        assert_eq!(location.country.as_deref(), Some("SE"));
        assert_eq!(location.state.as_deref(), Some("Stockholm County"));
        assert_eq!(
            location.raw.as_deref(),
            Some("Stockholm, Stockholm County, Sweden")
        );
        let roles: Vec<_> = view
            .job
            .hiring_team
            .iter()
            .map(|m| (m.remote_id.as_deref().unwrap(), m.hiring_team_roles.clone()))
            .collect();
        assert_eq!(
            roles,
            [
                ("u1", vec![HiringTeamRole::HiringManager]),
                ("u2", vec![HiringTeamRole::Recruiter]),
                ("u3", vec![])
            ]
        );
    }

    #[test]
    fn inline_orders_have_no_candidate_id() {
        let o = order(
            json!({"candidate": {"id": "", "firstName": "A", "lastName": "B", "email": "a@b.c"}}),
        );
        let view = AssessmentOrder::of(&o);
        assert_eq!(view.candidate.remote_id, None);
        assert_eq!(view.candidate.email, "a@b.c");
    }
}
