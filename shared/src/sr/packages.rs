//! `AssessmentPackage` and friends: what `GET /packages` and `GET /packages/{id}` return.

use serde::{Deserialize, Serialize};

/// SR's six assessment types. Kombo spells two of them differently; the aliases let a vendor
/// coming from Kombo keep its payloads (deserialization only — we always answer SR's names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AssessmentType {
    VideoInterview,
    #[serde(alias = "BEHAVIORAL")]
    BehavioralAssessment,
    BackgroundCheck,
    ReferenceCheck,
    #[serde(alias = "SKILLS_TEST")]
    SkillTest,
    InlineAssessment,
}

impl AssessmentType {
    pub const ALL: [AssessmentType; 6] = [
        Self::VideoInterview,
        Self::BehavioralAssessment,
        Self::BackgroundCheck,
        Self::ReferenceCheck,
        Self::SkillTest,
        Self::InlineAssessment,
    ];

    /// SR's name of the type.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::VideoInterview => "VIDEO_INTERVIEW",
            Self::BehavioralAssessment => "BEHAVIORAL_ASSESSMENT",
            Self::BackgroundCheck => "BACKGROUND_CHECK",
            Self::ReferenceCheck => "REFERENCE_CHECK",
            Self::SkillTest => "SKILL_TEST",
            Self::InlineAssessment => "INLINE_ASSESSMENT",
        }
    }
}

/// One assessment inside a package; `assessmentResults[].assessmentId` refers to its `id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Assessment {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: AssessmentType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub description: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AssessmentPackage {
    pub id: String,
    pub name: String,
    pub description: String,
    #[serde(rename = "type")]
    pub kind: AssessmentType,
    pub assessments: Vec<Assessment>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_serializes_with_sr_field_names() {
        let package = AssessmentPackage {
            id: "p1".into(),
            name: "Java".into(),
            description: "Java test".into(),
            kind: AssessmentType::SkillTest,
            assessments: vec![Assessment {
                id: "a1".into(),
                kind: AssessmentType::SkillTest,
                name: None,
                description: "Core Java".into(),
            }],
        };
        let json = serde_json::to_value(&package).unwrap();
        assert_eq!(json["type"], "SKILL_TEST");
        assert_eq!(json["assessments"][0]["type"], "SKILL_TEST");
        assert!(json["assessments"][0].get("name").is_none());
    }

    #[test]
    fn kombo_spellings_are_accepted() {
        let t: AssessmentType = serde_json::from_str("\"SKILLS_TEST\"").unwrap();
        assert_eq!(t, AssessmentType::SkillTest);
        assert_eq!(serde_json::to_string(&t).unwrap(), "\"SKILL_TEST\"");
    }

    #[test]
    fn unknown_fields_are_ignored() {
        let json = r#"{"id":"p","name":"n","description":"d","type":"VIDEO_INTERVIEW",
            "assessments":[],"somethingNew":1}"#;
        assert!(serde_json::from_str::<AssessmentPackage>(json).is_ok());
    }
}
