//! Kombo's package types. Kombo knows five; SR six. Two are spelled differently
//! (`SKILLS_TEST` = SR's `SKILL_TEST`, `BEHAVIORAL` = `BEHAVIORAL_ASSESSMENT`) and SR's
//! `INLINE_ASSESSMENT` has no Kombo counterpart: Kombo's `type` is nullable, so an inline package
//! is listed with `type: null` and SR's type in `sr_type`, which Kombo's clients ignore.
//! (Reading, the connector accepts both spellings: see `crate::sr::AssessmentType`.)

use crate::sr::AssessmentType;

/// Kombo's name for an SR assessment type; `None` for `INLINE_ASSESSMENT`.
pub fn kombo_type(kind: AssessmentType) -> Option<&'static str> {
    match kind {
        AssessmentType::BehavioralAssessment => Some("BEHAVIORAL"),
        AssessmentType::VideoInterview => Some("VIDEO_INTERVIEW"),
        AssessmentType::SkillTest => Some("SKILLS_TEST"),
        AssessmentType::BackgroundCheck => Some("BACKGROUND_CHECK"),
        AssessmentType::ReferenceCheck => Some("REFERENCE_CHECK"),
        AssessmentType::InlineAssessment => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sr_type_but_inline_has_a_kombo_name_that_reads_back() {
        for kind in AssessmentType::ALL {
            match kombo_type(kind) {
                Some(name) => {
                    let back: AssessmentType =
                        serde_json::from_value(serde_json::json!(name)).unwrap();
                    assert_eq!(back, kind, "{name}");
                }
                None => assert_eq!(kind, AssessmentType::InlineAssessment),
            }
        }
    }
}
