//! Results: turning the vendor's submission (Kombo's shape plus SR-only fields) into SR's
//! `PackageResult`, and the rule that a final status never changes at SR. Storing and queueing
//! a submission is the operation [`submit`] (the one part of `results` that uses the store).

mod files;
mod mapping;
mod submission;
pub mod submit;

pub use files::*;
pub use mapping::*;
pub use submission::*;

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::files::is_media_type;
    use super::*;
    use crate::orders::{DeliveryState, Order, OrderedPackage};
    use crate::sr::results::UrlAttachmentType;
    use crate::sr::{AssessmentType, Candidate, Job, ResultStatus, Score};

    fn order() -> Order {
        let now = Utc::now();
        Order {
            order_id: "o1".into(),
            company_id: "c".into(),
            integration_id: "i".into(),
            package: OrderedPackage {
                id: "pkg".into(),
                name: "Java".into(),
                kind: AssessmentType::SkillTest,
                assessment_ids: vec!["a1".into(), "a2".into()],
            },
            result_callback_url: "https://x/orders/o1/results".into(),
            candidate: Candidate {
                id: "c".into(),
                first_name: "A".into(),
                last_name: "B".into(),
                email: None,
                phone_number: None,
                other: Default::default(),
            },
            job: Job {
                id: "j".into(),
                title: None,
                ref_number: None,
                other: Default::default(),
            },
            requester: None,
            fields: Default::default(),
            inline: None,
            request_fingerprint: "f".into(),
            created_at: now,
            updated_at: now,
            result: None,
            result_version: 0,
            sent_version: 0,
            delivery_state: DeliveryState::None,
            delivered_status: None,
            result_submitted_at: None,
            has_file_attachments: false,
            result_request_sha256: None,
            result_rejected_by_vendor: false,
            submissions: vec![],
            deliveries: vec![],
            enrichment: None,
            erased_at: None,
            item_expires_at: None,
            state_item: false,
            state_item_bytes: 0,
        }
    }

    fn submission(json: serde_json::Value) -> ResultSubmission {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn kombo_result_maps_onto_package_result() {
        let s = submission(serde_json::json!({
            "status": "COMPLETED",
            "result_url": "https://vendor.example.com/r/1",
            "completed_at": "2026-04-04T00:00:00Z",
            "score": 90, "max_score": 100,
            "attributes": [
                {"type": "TEXT", "label": "Role fit", "value": "Excellent"},
                {"type": "SUB_RESULT", "id": "a1", "label": "Personality", "score": {"value": 97.5, "max": 100}, "status": "COMPLETED"}
            ],
            "score_label": "Strong hire"
        }));
        let r = to_package_result(&s, &order()).unwrap().result;
        assert_eq!(r.status, Some(ResultStatus::Completed));
        assert_eq!(
            r.score,
            Some(Score {
                raw: 90,
                min: 0,
                max: 100
            })
        );
        assert_eq!(r.summary.as_deref(), Some("Role fit: Excellent"));
        assert_eq!(r.attachments[0].url, "https://vendor.example.com/r/1");
        assert_eq!(r.assessment_results[0].score.unwrap().raw, 98);
        assert_eq!(r.name.as_deref(), Some("Java"));
        assert_eq!(
            r.submission_date.unwrap().to_rfc3339(),
            "2026-04-04T00:00:00+00:00"
        );
    }

    #[test]
    fn fractional_scores_round_half_away_from_zero() {
        assert_eq!(to_score("s", 2.5, 0.0, 10.0).unwrap().raw, 3);
        assert_eq!(to_score("s", 2.4, 0.0, 10.0).unwrap().raw, 2);
        assert_eq!(to_score("s", -2.5, -5.0, 10.0).unwrap().raw, -3);
    }

    #[test]
    fn score_outside_range_is_refused() {
        let err = to_score("score", 101.0, 0.0, 100.0).unwrap_err();
        assert_eq!(err.field, "score");
        assert!(err.reason.contains("outside"));
        assert!(to_score("score", 5.0, 10.0, 1.0).is_err());
    }

    #[test]
    fn sub_results_of_other_ids_become_summary_lines_with_a_warning_each() {
        let s = submission(serde_json::json!({
            "status": "COMPLETED",
            "summary": "Overall strong",
            "attributes": [
                {"type": "SUB_RESULT", "id": "a2", "label": "Coding", "score": {"value": 8, "max": 10}, "status": "COMPLETED"},
                {"type": "SUB_RESULT", "id": "vendor-personality", "label": "Personality test",
                 "score": {"value": 97.5, "max": 100}, "status": "COMPLETED", "score_label": "Calm",
                 "attachments": [{"name": "Profile", "url": "https://v.example.com/p"}]},
                {"type": "TEXT", "label": "Role fit", "value": "Excellent"},
                {"type": "SUB_RESULT", "id": "vendor-logic", "label": "Logic", "score": {"value": 3, "max": 5}, "status": "CANCELLED"}
            ]
        }));
        let mapped = to_package_result(&s, &order()).unwrap();
        let r = &mapped.result;
        assert_eq!(r.assessment_results.len(), 1);
        assert_eq!(r.assessment_results[0].assessment_id, "a2");
        assert_eq!(
            r.summary.as_deref(),
            Some(
                "Overall strong\nPersonality test: 97.5/100, COMPLETED, Calm\n\
                 Role fit: Excellent\nLogic: 3/5, REJECTED"
            )
        );
        assert_eq!(r.attachments[0].url, "https://v.example.com/p");
        assert_eq!(mapped.warnings.len(), 3, "{:?}", mapped.warnings);
        assert!(mapped.warnings[0].contains("became assessmentResults[0]"));
        assert!(mapped.warnings[1].contains("`attributes[1]` (SUB_RESULT `vendor-personality`)"));
        assert!(mapped.warnings[1].contains("line of `summary`"));
        assert!(mapped.warnings[2].contains("`attributes[3]`"));
        // A non-matching sub-result is still validated like any other.
        let bad = submission(serde_json::json!({"status": "COMPLETED", "attributes": [
            {"type": "SUB_RESULT", "id": "zzz", "label": "x", "score": {"value": 11, "max": 10}, "status": "COMPLETED"}
        ]}));
        assert_eq!(
            to_package_result(&bad, &order()).unwrap_err().field,
            "attributes[0].score"
        );
    }

    #[test]
    fn remote_fields_carry_sr_only_fields_and_other_atss_are_ignored() {
        let s = submission(serde_json::json!({
            "status": "OPEN", "result_url": "https://v.example.com/r",
            "remote_fields": {
                "smartrecruiters": {"scoreLabel": "Promising", "status": "PENDING",
                                    "assessmentPackageDate": "2026-05-01"},
                "workday": {"Assess_Candidate_Data": {}}
            }
        }));
        let mapped = to_package_result(&s, &order()).unwrap();
        assert_eq!(mapped.result.score_label.as_deref(), Some("Promising"));
        assert_eq!(mapped.result.status, Some(ResultStatus::Pending));
        assert_eq!(
            mapped.result.assessment_package_date.unwrap().to_rfc3339(),
            "2026-05-01T00:00:00+00:00"
        );
        assert!(mapped.warnings[0].contains("`remote_fields.workday`"));
        let field_of = |json: serde_json::Value| {
            to_package_result(&submission(json), &order())
                .unwrap_err()
                .field
        };
        assert_eq!(
            field_of(
                serde_json::json!({"status": "COMPLETED", "score_label": "A",
                "remote_fields": {"smartrecruiters": {"scoreLabel": "B"}}})
            ),
            "remote_fields.smartrecruiters.scoreLabel"
        );
        assert_eq!(
            field_of(serde_json::json!({"status": "COMPLETED",
                "remote_fields": {"smartrecruiters": {"status": "PENDING"}}})),
            "remote_fields.smartrecruiters.status"
        );
        let typo: Result<ResultSubmission, _> = serde_json::from_value(serde_json::json!({
            "status": "COMPLETED", "remote_fields": {"smartrecruiters": {"scorelabel": "x"}}}));
        assert!(typo.unwrap_err().to_string().contains("scorelabel"));
    }

    #[test]
    fn completed_at_may_be_a_date_or_a_date_time_without_offset() {
        for (given, read) in [
            ("2024-05-01", "2024-05-01T00:00:00+00:00"),
            ("2024-05-01T09:30:00", "2024-05-01T09:30:00+00:00"),
            ("2024-05-01T09:30:00.250", "2024-05-01T09:30:00.250+00:00"),
            ("2024-05-01T09:30:00+02:00", "2024-05-01T07:30:00+00:00"),
            ("2024-05-01T09:30:00.000Z", "2024-05-01T09:30:00+00:00"),
        ] {
            let s = submission(
                serde_json::json!({"status": "COMPLETED", "completed_at": given,
                "attributes": [{"type": "SUB_RESULT", "id": "a1", "completed_at": given}]}),
            );
            assert_eq!(s.completed_at.unwrap().to_rfc3339(), read, "{given}");
            let r = to_package_result(&s, &order()).unwrap().result;
            assert_eq!(r.assessment_results[0].submission_date, s.completed_at);
        }
        let bad: Result<ResultSubmission, _> = serde_json::from_value(
            serde_json::json!({"status": "COMPLETED", "completed_at": "May 1st"}),
        );
        assert!(bad.unwrap_err().to_string().contains("May 1st"));
    }

    /// SR reads RFC 3339 date-times: a year outside 0000–9999 (`-0001-01-01`) was accepted,
    /// sent, and refused by SR for good; a leap second is read as the last instant before it.
    #[test]
    fn dates_sr_cannot_read_are_refused_or_normalised() {
        for unreadable in [
            "-0001-01-01",
            "-2024-05-01T09:30:00",
            "+10000-01-01T00:00:00Z",
            "10000-01-01",
        ] {
            assert_eq!(parse_lenient_time(unreadable), None, "{unreadable}");
        }
        for (given, read) in [
            ("0000-01-01", "0000-01-01T00:00:00+00:00"),
            ("9999-12-31T23:59:59Z", "9999-12-31T23:59:59+00:00"),
            (
                "2016-12-31T23:59:60Z",
                "2016-12-31T23:59:59.999999999+00:00",
            ),
            ("2016-12-31T23:59:60", "2016-12-31T23:59:59.999999999+00:00"),
        ] {
            let t = parse_lenient_time(given).unwrap_or_else(|| panic!("{given}"));
            assert_eq!(t.to_rfc3339(), read, "{given}");
        }
    }

    /// Kombo's SDK lets a `data_url` file go without `content_type` (Kombo takes it from the
    /// download); the connector takes it from the file name and says so.
    #[test]
    fn a_data_url_file_without_content_type_gets_one_from_its_name() {
        let s = submission(serde_json::json!({"status": "COMPLETED", "attachments": [
            {"name": "Interview.mp4", "data_url": "https://files.example.com/i.mp4?sig=a"},
            {"name": "notes", "data_url": "https://files.example.com/n"},
            {"name": "Report.PDF", "content_type": "application/pdf", "data_url": "https://files.example.com/r"}
        ]}));
        let files = file_attachments(&s, MAX_INLINE_FILE_BYTES).unwrap();
        let types: Vec<_> = files.iter().map(|f| f.content_type.as_str()).collect();
        assert_eq!(
            types,
            ["video/mp4", "application/octet-stream", "application/pdf"]
        );
        let warnings = to_package_result(&s, &order()).unwrap().warnings;
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings[0].contains("`attachments[0].content_type`"));
        assert!(warnings[0].contains("video/mp4"));
        assert!(warnings[1].contains("application/octet-stream"));
        // Inline data still needs it (Kombo requires it there too).
        let inline = submission(serde_json::json!({"status": "COMPLETED", "attachments": [
            {"name": "r.pdf", "data": b64(b"%PDF")}]}));
        match file_attachments(&inline, MAX_INLINE_FILE_BYTES).unwrap_err() {
            AttachmentError::Invalid(e) => assert_eq!(e.field, "attachments[0].content_type"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn score_needs_max_score() {
        let s = submission(serde_json::json!({"status": "COMPLETED", "score": 3}));
        assert_eq!(
            to_package_result(&s, &order()).unwrap_err().field,
            "max_score"
        );
    }

    #[test]
    fn a_final_status_never_changes_and_the_same_one_is_a_revision() {
        use ResultStatus::*;
        assert_eq!(decide(None, 0, InProgress), Ok(Decision::Forward));
        assert_eq!(
            decide(Some(InProgress), 1, Completed),
            Ok(Decision::Forward)
        );
        assert_eq!(decide(Some(Pending), 1, InProgress), Ok(Decision::Forward));
        assert_eq!(
            decide(Some(Completed), 2, Completed),
            Ok(Decision::Revision { of: 2 })
        );
        for (now, next) in [
            (Completed, InProgress),
            (Completed, Rejected),
            (Rejected, Completed),
            (Expired, Pending),
            (Expired, Completed),
        ] {
            let conflict = decide(Some(now), 3, next).unwrap_err();
            assert_eq!((conflict.current, conflict.submitted), (now, next));
            let message = conflict.to_string();
            assert!(message.contains(now.as_str()), "{message}");
            assert!(message.contains(next.as_str()), "{message}");
        }
    }

    #[test]
    fn kombo_statuses_map_to_sr() {
        assert_eq!(SubmittedStatus::Open.to_sr(), ResultStatus::InProgress);
        assert_eq!(SubmittedStatus::Cancelled.to_sr(), ResultStatus::Rejected);
    }

    fn b64(bytes: &[u8]) -> String {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }

    #[test]
    fn an_attachment_is_exactly_one_of_link_inline_file_or_download() {
        let both = submission(serde_json::json!({"status": "COMPLETED", "attachments": [
            {"name": "r.pdf", "url": "https://x/r.pdf", "data": b64(b"%PDF")}
        ]}));
        let err = to_package_result(&both, &order()).unwrap_err();
        assert_eq!(err.field, "attachments[0]");
        assert!(err.reason.contains("exactly one of"), "{}", err.reason);
        let none = submission(
            serde_json::json!({"status": "COMPLETED", "attachments": [{"name": "r.pdf"}]}),
        );
        assert_eq!(
            to_package_result(&none, &order()).unwrap_err().field,
            "attachments[0]"
        );
        let typed_file = submission(serde_json::json!({"status": "COMPLETED", "attachments": [
            {"name": "r.pdf", "type": "PDF_URL", "content_type": "application/pdf", "data": b64(b"%PDF")}
        ]}));
        assert_eq!(
            to_package_result(&typed_file, &order()).unwrap_err().field,
            "attachments[0].type"
        );
    }

    #[test]
    fn files_are_uploaded_not_linked_and_links_stay_in_the_patch() {
        let s = submission(serde_json::json!({"status": "COMPLETED",
            "attachments": [
                {"name": "Video", "url": "https://v.example.com/1", "content_type": "video/mp4"},
                {"name": "report.pdf", "content_type": "application/pdf", "data": b64(b"%PDF-1.7 report")},
                {"name": "big.mp4", "content_type": "video/mp4", "data_url": "https://files.example.com/big.mp4?sig=abc"}
            ],
            "attributes": [{"type": "SUB_RESULT", "id": "a1", "attachments": [
                {"name": "a1.csv", "content_type": "text/csv; charset=utf-8", "data": "YSxi\nLGM"}
            ]}]
        }));
        let result = to_package_result(&s, &order()).unwrap().result;
        assert_eq!(result.attachments.len(), 1);
        assert_eq!(result.attachments[0].kind, UrlAttachmentType::VideoUrl);
        assert!(result.assessment_results[0].attachments.is_empty());
        let files = file_attachments(&s, MAX_INLINE_FILE_BYTES).unwrap();
        let names: Vec<_> = files
            .iter()
            .map(|f| (f.field.as_str(), f.name.as_str()))
            .collect();
        assert_eq!(
            names,
            [
                ("attachments[1]", "report.pdf"),
                ("attachments[2]", "big.mp4"),
                ("attributes[0].attachments[0]", "a1.csv")
            ]
        );
        assert_eq!(
            files[0].content,
            FileContent::Inline(b"%PDF-1.7 report".to_vec())
        );
        assert_eq!(
            files[1].content,
            FileContent::DataUrl("https://files.example.com/big.mp4?sig=abc".into())
        );
        // Line-wrapped, unpadded base64 decodes.
        assert_eq!(files[2].content, FileContent::Inline(b"a,b,c".to_vec()));
    }

    #[test]
    fn inline_data_over_the_limit_is_too_large_and_points_at_data_url() {
        let s = submission(serde_json::json!({"status": "COMPLETED", "attachments": [
            {"name": "r.pdf", "content_type": "application/pdf", "data": b64(&[7u8; 1001])}
        ]}));
        let err = file_attachments(&s, 1000).unwrap_err();
        let AttachmentError::TooLarge { field, size, limit } = &err else {
            panic!("{err:?}")
        };
        assert_eq!(
            (field.as_str(), *size, *limit),
            ("attachments[0]", 1001, 1000)
        );
        assert!(err.to_string().contains("`data_url`"), "{err}");
        assert_eq!(file_attachments(&s, 1001).unwrap().len(), 1);
    }

    #[test]
    fn malformed_files_are_refused_naming_the_field() {
        let field_of = |attachment: serde_json::Value| {
            let s =
                submission(serde_json::json!({"status": "COMPLETED", "attachments": [attachment]}));
            match file_attachments(&s, MAX_INLINE_FILE_BYTES).unwrap_err() {
                AttachmentError::Invalid(e) => e.field,
                other => panic!("{other:?}"),
            }
        };
        let pdf = b64(b"%PDF");
        assert_eq!(
            field_of(
                serde_json::json!({"name": "r.pdf", "content_type": "application/pdf", "data": "not base64!"})
            ),
            "attachments[0].data"
        );
        assert_eq!(
            field_of(serde_json::json!({"name": "r.pdf", "data": pdf})),
            "attachments[0].content_type"
        );
        assert_eq!(
            field_of(serde_json::json!({"name": "r.pdf", "content_type": "pdf", "data": pdf})),
            "attachments[0].content_type"
        );
        assert_eq!(
            field_of(
                serde_json::json!({"name": "../etc/passwd", "content_type": "text/plain", "data": pdf})
            ),
            "attachments[0].name"
        );
        assert_eq!(
            field_of(
                serde_json::json!({"name": "x".repeat(101), "content_type": "text/plain", "data": pdf})
            ),
            "attachments[0].name"
        );
        assert_eq!(
            field_of(
                serde_json::json!({"name": "r.pdf", "content_type": "application/pdf", "data_url": "ftp://x/r.pdf"})
            ),
            "attachments[0].data_url"
        );
        assert_eq!(
            field_of(
                serde_json::json!({"name": "r.pdf", "content_type": "application/pdf", "data_url": "https://u:p@x/r.pdf"})
            ),
            "attachments[0].data_url"
        );
        assert_eq!(
            field_of(
                serde_json::json!({"name": "r.pdf", "content_type": "application/pdf", "data": ""})
            ),
            "attachments[0].data"
        );
    }

    #[test]
    fn a_resubmitted_name_or_url_replaces_instead_of_duplicating() {
        let s = submission(serde_json::json!({"status": "COMPLETED",
            "result_url": "https://vendor.example.com/r/1",
            "attachments": [
                {"name": "Report", "url": "https://vendor.example.com/old"},
                {"name": "Same link", "url": "https://vendor.example.com/r/1"},
                {"name": "Report", "url": "https://vendor.example.com/new"},
                {"name": "f.txt", "content_type": "text/plain", "data": b64(b"one")},
                {"name": "f.txt", "content_type": "text/plain", "data": b64(b"two")}
            ]
        }));
        let result = to_package_result(&s, &order()).unwrap().result;
        let links: Vec<_> = result
            .attachments
            .iter()
            .map(|a| (a.name.as_deref().unwrap(), a.url.as_str()))
            .collect();
        assert_eq!(
            links,
            [
                ("Same link", "https://vendor.example.com/r/1"),
                ("Report", "https://vendor.example.com/new")
            ]
        );
        let files = file_attachments(&s, MAX_INLINE_FILE_BYTES).unwrap();
        assert_eq!(files.len(), 1);
        assert_eq!(files[0].content, FileContent::Inline(b"two".to_vec()));
        assert_eq!(files[0].field, "attachments[4]");
    }

    #[test]
    fn inline_orders_refuse_files_with_a_clear_message() {
        let mut inline = order();
        inline.inline = Some(crate::orders::InlineDetails {
            assessment_url: "https://vendor.example.com/take/o1".into(),
            completed_assessment_callback_url: "https://sr.example.com/done".into(),
            application_language: "en".into(),
            url_source: Default::default(),
        });
        for attachment in [
            serde_json::json!({"name": "r.pdf", "content_type": "application/pdf", "data": b64(b"%PDF")}),
            serde_json::json!({"name": "r.pdf", "content_type": "application/pdf", "data_url": "https://x/r.pdf"}),
            serde_json::json!({"name": "r", "url": "https://x/r"}),
        ] {
            let s =
                submission(serde_json::json!({"status": "COMPLETED", "attachments": [attachment]}));
            let err = to_package_result(&s, &inline).unwrap_err();
            assert_eq!(err.field, "attachments");
            assert!(err.reason.contains("inline"), "{}", err.reason);
        }
    }

    #[test]
    fn the_stored_body_keeps_no_file_bytes() {
        let body = serde_json::json!({"status": "COMPLETED",
            "attachments": [{"name": "r.pdf", "content_type": "application/pdf", "data": "QUJD"}],
            "attributes": [{"type": "SUB_RESULT", "id": "a1", "attachments": [{"name": "s", "content_type": "text/plain", "data": "QQ=="}]}]
        });
        let kept = without_inline_data(body);
        assert!(kept["attachments"][0].get("data").is_none());
        assert!(kept["attachments"][0]["data_omitted"]
            .as_str()
            .unwrap()
            .starts_with("4 base64 characters"));
        assert!(kept["attributes"][0]["attachments"][0]
            .get("data")
            .is_none());
        assert_eq!(kept["attachments"][0]["name"], "r.pdf");
    }

    #[test]
    fn media_types_are_type_slash_subtype() {
        for ok in [
            "application/pdf",
            "text/csv; charset=utf-8",
            "application/vnd.ms-excel",
            "video/mp4",
        ] {
            assert!(is_media_type(ok), "{ok}");
        }
        for bad in [
            "",
            "pdf",
            "application/",
            "/pdf",
            "text/plain\r\nX-Evil: 1",
            "a b/c",
        ] {
            assert!(!is_media_type(bad), "{bad}");
        }
    }
}
