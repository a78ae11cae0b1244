//! Pure request-body validation against the v202010 contract.
//!
//! Kept free of HTTP types so every rule is unit-tested. The merged spec's union-only required
//! fields (`Candidate.internal`, `Attachment.actions`, ...) are deliberately NOT enforced: SR's
//! real answers and requests omit them. Every error message names the offending field (dotted path).

use serde_json::{Map, Value};

/// One violation; `field` is a dotted path such as `assessmentResults[0].score.raw`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub code: &'static str,
    pub message: String,
}

pub const RESULT_STATUSES: &[&str] =
    &["IN_PROGRESS", "PENDING", "COMPLETED", "REJECTED", "EXPIRED"];
pub const ATTACHMENT_TYPES: &[&str] = &["VIDEO_URL", "PDF_URL", "OTHER_URL"];
pub const ASSESSMENT_TYPES: &[&str] = &[
    "VIDEO_INTERVIEW",
    "BEHAVIORAL_ASSESSMENT",
    "BACKGROUND_CHECK",
    "REFERENCE_CHECK",
    "SKILL_TEST",
    "INLINE_ASSESSMENT",
];
pub const CONSENT_DISPLAY_MODES: &[&str] = &["REDIRECT", "POPUP"];

/// Keys of `PackageResult` (the body of `PATCH /orders/{orderId}/results`).
pub const PACKAGE_RESULT_KEYS: &[&str] = &[
    "summary",
    "description",
    "assessmentPackageDate",
    "submissionDate",
    "name",
    "status",
    "score",
    "scoreLabel",
    "attachments",
    "assessmentResults",
];
const ASSESSMENT_RESULT_KEYS: &[&str] = &[
    "assessmentId",
    "status",
    "score",
    "scoreLabel",
    "summary",
    "name",
    "assessmentDate",
    "submissionDate",
    "attachments",
];
const ATTACHMENT_KEYS: &[&str] = &["type", "url", "name"];
const SCORE_KEYS: &[&str] = &["raw", "min", "max"];

/// URL-valued keys of `PartnerConfigurationRequest`, required ones first.
pub const CONFIG_REQUIRED_URL_KEYS: &[&str] = &[
    "assessmentPackageListUrl",
    "singleAssessmentPackageUrl",
    "consentUrl",
    "oauthTokenUrl",
];
pub const CONFIG_OPTIONAL_URL_KEYS: &[&str] = &[
    "packageOrderUrl",
    "inlineAssessmentPackageOrderUrl",
    "integrationDisableUrl",
];

/// Collects violations so one answer reports all of them.
#[derive(Default)]
struct Errors(Vec<FieldError>);

impl Errors {
    fn push(&mut self, field: &str, code: &'static str, message: String) {
        self.0.push(FieldError {
            field: field.to_owned(),
            code,
            message,
        });
    }
    fn missing(&mut self, field: &str) {
        self.push(field, "MISSING_FIELD", format!("`{field}` is required"));
    }
    fn unknown(&mut self, field: &str) {
        self.push(
            field,
            "UNKNOWN_FIELD",
            format!("`{field}` is not a known property"),
        );
    }
    fn invalid(&mut self, field: &str, what: &str) {
        self.push(field, "INVALID_VALUE", format!("`{field}` {what}"));
    }
    fn finish(self) -> Result<(), Vec<FieldError>> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(self.0)
        }
    }
}

fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

/// Object at `path`, or records an error.
fn object<'a>(errs: &mut Errors, path: &str, value: &'a Value) -> Option<&'a Map<String, Value>> {
    let obj = value.as_object();
    if obj.is_none() {
        errs.invalid(path, "must be an object");
    }
    obj
}

fn unknown_keys(errs: &mut Errors, path: &str, obj: &Map<String, Value>, allowed: &[&str]) {
    for key in obj.keys().filter(|k| !allowed.contains(&k.as_str())) {
        errs.unknown(&join(path, key));
    }
}

fn string(errs: &mut Errors, path: &str, value: &Value) -> Option<String> {
    match value.as_str() {
        Some(s) => Some(s.to_owned()),
        None => {
            errs.invalid(path, "must be a string");
            None
        }
    }
}

fn non_empty_string(errs: &mut Errors, path: &str, value: &Value) {
    if let Some(s) = string(errs, path, value) {
        if s.trim().is_empty() {
            errs.invalid(path, "must not be empty");
        }
    }
}

fn enumeration(errs: &mut Errors, path: &str, value: &Value, allowed: &[&str]) {
    if let Some(s) = string(errs, path, value) {
        if !allowed.contains(&s.as_str()) {
            errs.invalid(
                path,
                &format!("must be one of {}, got `{s}`", allowed.join("|")),
            );
        }
    }
}

fn date_time(errs: &mut Errors, path: &str, value: &Value) {
    if let Some(s) = string(errs, path, value) {
        if chrono::DateTime::parse_from_rfc3339(&s).is_err() {
            errs.invalid(path, &format!("must be an RFC 3339 date-time, got `{s}`"));
        }
    }
}

/// True when `s` parses as an absolute http(s) URL with a host.
pub fn is_absolute_http_url(s: &str) -> bool {
    url::Url::parse(s)
        .map(|u| {
            matches!(u.scheme(), "http" | "https") && u.host_str().is_some_and(|h| !h.is_empty())
        })
        .unwrap_or(false)
}

fn absolute_url(errs: &mut Errors, path: &str, value: &Value) {
    if let Some(s) = string(errs, path, value) {
        if !is_absolute_http_url(&s) {
            errs.invalid(path, &format!("must be an absolute http(s) URL, got `{s}`"));
        }
    }
}

/// `Score`: `{raw, min, max}` integers, all required, `min <= raw <= max`.
fn score(errs: &mut Errors, path: &str, value: &Value) {
    let Some(obj) = object(errs, path, value) else {
        return;
    };
    unknown_keys(errs, path, obj, SCORE_KEYS);
    let mut numbers = [0i64; 3];
    let mut complete = true;
    for (slot, key) in numbers.iter_mut().zip(SCORE_KEYS) {
        let field = join(path, key);
        match obj.get(*key) {
            None | Some(Value::Null) => {
                errs.missing(&field);
                complete = false;
            }
            Some(v) => match v.as_i64() {
                Some(n) => *slot = n,
                None => {
                    errs.invalid(&field, "must be an integer (int64)");
                    complete = false;
                }
            },
        }
    }
    let [raw, min, max] = numbers;
    if complete && min > max {
        errs.invalid(
            &join(path, "min"),
            &format!("({min}) must not be greater than `{path}.max` ({max})"),
        );
    } else if complete && !(min..=max).contains(&raw) {
        errs.invalid(
            &join(path, "raw"),
            &format!("({raw}) must be between `{path}.min` ({min}) and `{path}.max` ({max})"),
        );
    }
}

/// Assessment `Attachment`: `{type: VIDEO_URL|PDF_URL|OTHER_URL, url, name?}`.
fn attachments(errs: &mut Errors, path: &str, value: &Value) {
    let Some(items) = value.as_array() else {
        errs.invalid(path, "must be an array");
        return;
    };
    for (i, item) in items.iter().enumerate() {
        let item_path = format!("{path}[{i}]");
        let Some(obj) = object(errs, &item_path, item) else {
            continue;
        };
        unknown_keys(errs, &item_path, obj, ATTACHMENT_KEYS);
        match obj.get("type") {
            None | Some(Value::Null) => errs.missing(&join(&item_path, "type")),
            Some(v) => enumeration(errs, &join(&item_path, "type"), v, ATTACHMENT_TYPES),
        }
        match obj.get("url") {
            None | Some(Value::Null) => errs.missing(&join(&item_path, "url")),
            Some(v) => absolute_url(errs, &join(&item_path, "url"), v),
        }
        if let Some(v) = obj.get("name").filter(|v| !v.is_null()) {
            string(errs, &join(&item_path, "name"), v);
        }
    }
}

fn assessment_results(errs: &mut Errors, path: &str, value: &Value) {
    let Some(items) = value.as_array() else {
        errs.invalid(path, "must be an array");
        return;
    };
    for (i, item) in items.iter().enumerate() {
        let item_path = format!("{path}[{i}]");
        let Some(obj) = object(errs, &item_path, item) else {
            continue;
        };
        if obj.get("assessmentId").is_none_or(Value::is_null) {
            errs.missing(&join(&item_path, "assessmentId"));
        }
        for (key, v) in obj {
            let field = join(&item_path, key);
            if v.is_null() && key != "assessmentId" {
                if !ASSESSMENT_RESULT_KEYS.contains(&key.as_str()) {
                    errs.unknown(&field);
                }
                continue;
            }
            match key.as_str() {
                "assessmentId" => {
                    if !v.is_null() {
                        non_empty_string(errs, &field, v);
                    }
                }
                "summary" | "name" | "scoreLabel" => {
                    string(errs, &field, v);
                }
                "assessmentDate" | "submissionDate" => date_time(errs, &field, v),
                "status" => enumeration(errs, &field, v, RESULT_STATUSES),
                "score" => score(errs, &field, v),
                "attachments" => attachments(errs, &field, v),
                _ => errs.unknown(&field),
            }
        }
    }
}

/// Validates a `PackageResult` merge patch. `null` members are allowed (RFC 7396 removal).
pub fn package_result(body: &Value) -> Result<(), Vec<FieldError>> {
    let mut errs = Errors::default();
    let Some(obj) = body.as_object() else {
        errs.push(
            "",
            "INVALID_VALUE",
            "request body must be a JSON object (PackageResult)".to_owned(),
        );
        return errs.finish();
    };
    for (key, value) in obj {
        if value.is_null() {
            if !PACKAGE_RESULT_KEYS.contains(&key.as_str()) {
                errs.unknown(key);
            }
            continue;
        }
        match key.as_str() {
            "summary" | "description" | "name" | "scoreLabel" => {
                string(&mut errs, key, value);
            }
            "assessmentPackageDate" | "submissionDate" => date_time(&mut errs, key, value),
            "status" => enumeration(&mut errs, key, value, RESULT_STATUSES),
            "score" => score(&mut errs, key, value),
            "attachments" => attachments(&mut errs, key, value),
            "assessmentResults" => assessment_results(&mut errs, key, value),
            _ => errs.unknown(key),
        }
    }
    errs.finish()
}

/// Validates a `PartnerConfigurationRequest` and returns the configuration to store
/// (the same object with `null` members dropped, i.e. treated as absent).
pub fn partner_configuration(body: &Value) -> Result<Value, Vec<FieldError>> {
    let mut errs = Errors::default();
    let Some(obj) = body.as_object() else {
        errs.push(
            "",
            "INVALID_VALUE",
            "request body must be a JSON object (PartnerConfigurationRequest)".to_owned(),
        );
        return errs.finish().map(|()| Value::Null);
    };
    let present = |key: &str| obj.get(key).filter(|v| !v.is_null());
    for key in CONFIG_REQUIRED_URL_KEYS
        .iter()
        .chain(["consentDisplayMode", "supportedAssessmentTypes"].iter())
    {
        if present(key).is_none() {
            errs.missing(key);
        }
    }
    for (key, value) in obj.iter().filter(|(_, v)| !v.is_null()) {
        match key.as_str() {
            k if CONFIG_REQUIRED_URL_KEYS.contains(&k) || CONFIG_OPTIONAL_URL_KEYS.contains(&k) => {
                absolute_url(&mut errs, key, value)
            }
            "consentDisplayMode" => enumeration(&mut errs, key, value, CONSENT_DISPLAY_MODES),
            "supportedAssessmentTypes" => match value.as_array() {
                None => errs.invalid(key, "must be an array"),
                Some(types) => {
                    if types.is_empty() || types.len() > ASSESSMENT_TYPES.len() {
                        errs.invalid(key, &format!("must have 1 to 6 items, got {}", types.len()));
                    }
                    for (i, t) in types.iter().enumerate() {
                        enumeration(&mut errs, &format!("{key}[{i}]"), t, ASSESSMENT_TYPES);
                    }
                }
            },
            "fields" => match value.as_array() {
                None => errs.invalid(key, "must be an array"),
                Some(fields) => {
                    if fields.len() > 5 {
                        errs.invalid(
                            key,
                            &format!("must have at most 5 items, got {}", fields.len()),
                        );
                    }
                    for (i, field) in fields.iter().enumerate() {
                        let path = format!("fields[{i}]");
                        let Some(field_obj) = object(&mut errs, &path, field) else {
                            continue;
                        };
                        unknown_keys(&mut errs, &path, field_obj, &["id", "name", "description"]);
                        for member in ["id", "name", "description"] {
                            let member_path = join(&path, member);
                            match field_obj.get(member).filter(|v| !v.is_null()) {
                                None => errs.missing(&member_path),
                                Some(v) if member == "id" => {
                                    non_empty_string(&mut errs, &member_path, v)
                                }
                                Some(v) => {
                                    string(&mut errs, &member_path, v);
                                }
                            }
                        }
                    }
                }
            },
            _ => errs.unknown(key),
        }
    }
    errs.finish()?;
    let stored: Map<String, Value> = obj
        .iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Ok(Value::Object(stored))
}

/// Validates `ClientCredentials` (`{clientId, clientSecret}`, both non-empty strings).
pub fn client_credentials(body: &Value) -> Result<(String, String), Vec<FieldError>> {
    let mut errs = Errors::default();
    let Some(obj) = body.as_object() else {
        errs.push(
            "",
            "INVALID_VALUE",
            "request body must be a JSON object (ClientCredentials)".to_owned(),
        );
        return Err(errs.0);
    };
    unknown_keys(&mut errs, "", obj, &["clientId", "clientSecret"]);
    let mut values = Vec::new();
    for key in ["clientId", "clientSecret"] {
        match obj.get(key).filter(|v| !v.is_null()) {
            None => errs.missing(key),
            Some(v) => {
                non_empty_string(&mut errs, key, v);
                values.push(v.as_str().unwrap_or_default().to_owned());
            }
        }
    }
    errs.finish()?;
    let secret = values.pop().unwrap_or_default();
    let id = values.pop().unwrap_or_default();
    Ok((id, secret))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn valid_result() -> Value {
        json!({
            "summary": "Strong candidate",
            "description": "deprecated but allowed",
            "assessmentPackageDate": "2024-03-01T10:00:00Z",
            "submissionDate": "2024-03-02T11:30:00.123+01:00",
            "name": "Package A",
            "status": "COMPLETED",
            "score": {"raw": 28, "min": 20, "max": 80},
            "scoreLabel": "Good",
            "attachments": [
                {"type": "PDF_URL", "url": "https://vendor.example/report.pdf", "name": "Report"},
                {"type": "VIDEO_URL", "url": "http://localhost:9/v.mp4"}
            ],
            "assessmentResults": [{
                "assessmentId": "a-1",
                "status": "COMPLETED",
                "score": {"raw": 5, "min": 0, "max": 10},
                "scoreLabel": "5/10",
                "summary": "ok",
                "name": "Skill test",
                "assessmentDate": "2024-03-01T10:00:00Z",
                "submissionDate": "2024-03-01T10:30:00Z",
                "attachments": [{"type": "OTHER_URL", "url": "https://vendor.example/x"}]
            }]
        })
    }

    /// Asserts `result` failed and some error message names `field`.
    fn assert_names<T: std::fmt::Debug>(result: Result<T, Vec<FieldError>>, field: &str) {
        let errs = result.expect_err("expected a validation error");
        assert!(
            errs.iter().any(|e| e.field == field
                && (field.is_empty() || e.message.contains(&format!("`{field}`")))),
            "no error naming `{field}` in {errs:?}"
        );
    }

    fn with(mut base: Value, pointer: &str, value: Value) -> Value {
        *base.pointer_mut(pointer).expect("pointer exists") = value;
        base
    }

    #[test]
    fn valid_package_result_passes() {
        package_result(&valid_result()).unwrap();
        package_result(&json!({})).unwrap();
        package_result(&json!({"score": null, "attachments": null, "status": "IN_PROGRESS"}))
            .unwrap();
    }

    #[test]
    fn package_result_rejects_each_invalid_case() {
        let base = valid_result();
        assert_names(package_result(&json!([])), "");
        let mut unknown = base.clone();
        unknown["assessmentName"] = json!("x");
        assert_names(package_result(&unknown), "assessmentName");
        assert_names(
            package_result(&with(base.clone(), "/status", json!("DONE"))),
            "status",
        );
        assert_names(
            package_result(&with(base.clone(), "/summary", json!(3))),
            "summary",
        );
        assert_names(
            package_result(&with(base.clone(), "/submissionDate", json!("2024-03-02"))),
            "submissionDate",
        );
        assert_names(
            package_result(&with(
                base.clone(),
                "/assessmentPackageDate",
                json!("yesterday"),
            )),
            "assessmentPackageDate",
        );
        assert_names(
            package_result(&with(base.clone(), "/score", json!("28"))),
            "score",
        );
        assert_names(
            package_result(&with(base.clone(), "/score/raw", json!(28.5))),
            "score.raw",
        );
        assert_names(
            package_result(&with(base.clone(), "/score/max", json!("80"))),
            "score.max",
        );
        assert_names(
            package_result(&with(base.clone(), "/score/raw", json!(81))),
            "score.raw",
        );
        assert_names(
            package_result(&with(base.clone(), "/score/min", json!(90))),
            "score.min",
        );
        assert_names(
            package_result(&with(base.clone(), "/score", json!({"raw": 1, "max": 2}))),
            "score.min",
        );
        assert_names(
            package_result(&with(
                base.clone(),
                "/score",
                json!({"raw": 1, "min": 0, "max": 2, "x": 1}),
            )),
            "score.x",
        );
        assert_names(
            package_result(&with(base.clone(), "/attachments", json!({}))),
            "attachments",
        );
        assert_names(
            package_result(&with(base.clone(), "/attachments/0/type", json!("PDF"))),
            "attachments[0].type",
        );
        assert_names(
            package_result(&with(
                base.clone(),
                "/attachments/0/url",
                json!("/relative.pdf"),
            )),
            "attachments[0].url",
        );
        assert_names(
            package_result(&with(
                base.clone(),
                "/attachments/1",
                json!({"type": "PDF_URL"}),
            )),
            "attachments[1].url",
        );
        assert_names(
            package_result(&with(
                base.clone(),
                "/attachments/1",
                json!({"url": "https://x.example/a", "fileName": "a"}),
            )),
            "attachments[1].fileName",
        );
        assert_names(
            package_result(&with(
                base.clone(),
                "/assessmentResults/0/assessmentId",
                json!(null),
            )),
            "assessmentResults[0].assessmentId",
        );
        assert_names(
            package_result(&with(
                base.clone(),
                "/assessmentResults/0/assessmentId",
                json!(""),
            )),
            "assessmentResults[0].assessmentId",
        );
        assert_names(
            package_result(&with(
                base.clone(),
                "/assessmentResults/0/status",
                json!("OK"),
            )),
            "assessmentResults[0].status",
        );
        assert_names(
            package_result(&with(
                base.clone(),
                "/assessmentResults/0/score",
                json!("5"),
            )),
            "assessmentResults[0].score",
        );
        assert_names(
            package_result(&with(
                base.clone(),
                "/assessmentResults/0/assessmentDate",
                json!(1),
            )),
            "assessmentResults[0].assessmentDate",
        );
        assert_names(
            package_result(&with(
                base.clone(),
                "/assessmentResults/0/attachments/0/url",
                json!("nope"),
            )),
            "assessmentResults[0].attachments[0].url",
        );
        let mut unknown_item = base.clone();
        unknown_item["assessmentResults"][0]["assessmentName"] = json!("x");
        assert_names(
            package_result(&unknown_item),
            "assessmentResults[0].assessmentName",
        );
        assert_names(
            package_result(&with(base, "/assessmentResults", json!("x"))),
            "assessmentResults",
        );
    }

    fn valid_config() -> Value {
        json!({
            "assessmentPackageListUrl": "https://vendor.example/packages",
            "singleAssessmentPackageUrl": "https://vendor.example/packages/{assessmentPackageId}",
            "consentUrl": "https://vendor.example/integration",
            "consentDisplayMode": "POPUP",
            "oauthTokenUrl": "http://127.0.0.1:9000/oauth/token",
            "supportedAssessmentTypes": ["SKILL_TEST", "INLINE_ASSESSMENT"],
            "packageOrderUrl": "https://vendor.example/packages/orders",
            "inlineAssessmentPackageOrderUrl": "https://vendor.example/packages/inline/orders",
            "integrationDisableUrl": "https://vendor.example/integrations/companies/{companyId}",
            "fields": [{"id": "level", "name": "Level", "description": "Seniority"}]
        })
    }

    #[test]
    fn valid_configuration_passes_and_drops_nulls() {
        let stored = partner_configuration(&valid_config()).unwrap();
        assert_eq!(stored, valid_config());
        let mut minimal = valid_config();
        for key in [
            "packageOrderUrl",
            "inlineAssessmentPackageOrderUrl",
            "integrationDisableUrl",
        ] {
            minimal.as_object_mut().unwrap().remove(key);
        }
        minimal["fields"] = Value::Null;
        let stored = partner_configuration(&minimal).unwrap();
        assert!(stored.get("fields").is_none());
    }

    #[test]
    fn configuration_rejects_each_invalid_case() {
        let base = valid_config();
        for key in [
            "assessmentPackageListUrl",
            "singleAssessmentPackageUrl",
            "consentUrl",
            "consentDisplayMode",
            "oauthTokenUrl",
            "supportedAssessmentTypes",
        ] {
            let mut missing = base.clone();
            missing.as_object_mut().unwrap().remove(key);
            assert_names(partner_configuration(&missing), key);
        }
        for key in CONFIG_REQUIRED_URL_KEYS
            .iter()
            .chain(CONFIG_OPTIONAL_URL_KEYS)
        {
            assert_names(
                partner_configuration(&with(base.clone(), &format!("/{key}"), json!("not a url"))),
                key,
            );
        }
        assert_names(
            partner_configuration(&with(
                base.clone(),
                "/packageOrderUrl",
                json!("ftp://x.example/a"),
            )),
            "packageOrderUrl",
        );
        assert_names(
            partner_configuration(&with(base.clone(), "/consentDisplayMode", json!("IFRAME"))),
            "consentDisplayMode",
        );
        assert_names(
            partner_configuration(&with(base.clone(), "/supportedAssessmentTypes", json!([]))),
            "supportedAssessmentTypes",
        );
        assert_names(
            partner_configuration(&with(
                base.clone(),
                "/supportedAssessmentTypes",
                json!(vec!["SKILL_TEST"; 7]),
            )),
            "supportedAssessmentTypes",
        );
        assert_names(
            partner_configuration(&with(
                base.clone(),
                "/supportedAssessmentTypes",
                json!(["QUIZ"]),
            )),
            "supportedAssessmentTypes[0]",
        );
        let six = json!(vec![json!({"id":"a","name":"a","description":"a"}); 6]);
        assert_names(
            partner_configuration(&with(base.clone(), "/fields", six)),
            "fields",
        );
        assert_names(
            partner_configuration(&with(
                base.clone(),
                "/fields/0",
                json!({"id": "a", "name": "A"}),
            )),
            "fields[0].description",
        );
        assert_names(
            partner_configuration(&with(base.clone(), "/fields/0/id", json!(""))),
            "fields[0].id",
        );
        let mut unknown = base;
        unknown["oauthTokenURL"] = json!("https://vendor.example/t");
        assert_names(partner_configuration(&unknown), "oauthTokenURL");
        assert_names(partner_configuration(&json!("x")), "");
    }

    #[test]
    fn client_credentials_rules() {
        let ok = client_credentials(&json!({"clientId": "id", "clientSecret": "secret"})).unwrap();
        assert_eq!(ok, ("id".to_owned(), "secret".to_owned()));
        assert_names(
            client_credentials(&json!({"clientSecret": "s"})),
            "clientId",
        );
        assert_names(
            client_credentials(&json!({"clientId": "i", "clientSecret": ""})),
            "clientSecret",
        );
        assert_names(
            client_credentials(&json!({"clientId": 1, "clientSecret": "s"})),
            "clientId",
        );
    }
}
