//! The vendor's package catalog for one integration, and the rules for replacing it.
//!
//! A catalog is one DynamoDB item (a map of packages) so a partner endpoint reads it together with
//! the caller's token in a single round trip. Replacing the catalog marks omitted packages as
//! deleted instead of dropping them: orders already placed for them keep working. Storing a
//! replacement is the operation [`replace`] (the one part of `packages` that uses the store).

pub mod replace;

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::sr::{Assessment, AssessmentPackage, AssessmentType};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CatalogEntry {
    pub package: AssessmentPackage,
    /// Where SR sends the candidate for an `INLINE_ASSESSMENT` package (see [`inline_url`]).
    #[serde(default)]
    pub inline_url_template: Option<String>,
    #[serde(default)]
    pub availability: Availability,
    pub deleted: bool,
    pub updated_at: DateTime<Utc>,
}

/// A validated package plus the vendor-only settings SR never sees.
#[derive(Debug, Clone, PartialEq)]
pub struct CatalogPackage {
    pub package: AssessmentPackage,
    pub inline_url_template: Option<String>,
    pub availability: Availability,
}

/// Where a package may be offered. Every non-empty restriction must match what SR sends with
/// `GET /packages` (job location, custom fields, requester); empty means "everywhere".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Availability {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub country_codes: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub regions: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cities: Vec<String>,
    /// `Some(true)`: remote jobs only; `Some(false)`: on-site jobs only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote: Option<bool>,
    /// Custom field id → accepted values.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<String, Vec<String>>,
    /// E-mail domains of recruiters who may see the package (`acme.com`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requester_domains: Vec<String>,
}

/// What SR tells us about the job and the recruiter when listing packages.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PackageQuery {
    pub country_code: Option<String>,
    pub region: Option<String>,
    pub city: Option<String>,
    pub remote: Option<bool>,
    pub fields: BTreeMap<String, String>,
    pub requester_email: Option<String>,
}

fn one_of(allowed: &[String], value: Option<&str>) -> bool {
    allowed.is_empty()
        || value.is_some_and(|v| {
            allowed
                .iter()
                .any(|a| a.trim().eq_ignore_ascii_case(v.trim()))
        })
}

impl Availability {
    /// A restriction SR gave no value for does not match: the package is only offered where the
    /// vendor said it may be.
    pub fn matches(&self, query: &PackageQuery) -> bool {
        let remote_ok = match self.remote {
            None => true,
            Some(true) => query.remote == Some(true),
            Some(false) => query.remote != Some(true),
        };
        let domain = query
            .requester_email
            .as_deref()
            .and_then(|e| e.rsplit_once('@'))
            .map(|(_, d)| d);
        remote_ok
            && one_of(&self.country_codes, query.country_code.as_deref())
            && one_of(&self.regions, query.region.as_deref())
            && one_of(&self.cities, query.city.as_deref())
            && one_of(&self.requester_domains, domain)
            && self
                .fields
                .iter()
                .all(|(id, allowed)| one_of(allowed, query.fields.get(id).map(String::as_str)))
    }
}

/// The candidate's URL of an inline assessment: the package's template with `{orderId}`,
/// `{companyId}`, `{packageId}` and `{language}` filled in (each percent-encoded).
pub fn inline_url(
    template: &str,
    order_id: &str,
    company_id: &str,
    package_id: &str,
    language: &str,
) -> String {
    // `%20` for a space is right in a path as well as a query.
    let enc =
        |s: &str| percent_encoding::utf8_percent_encode(s, crate::sr::PATH_SEGMENT).to_string();
    template
        .replace("{orderId}", &enc(order_id))
        .replace("{companyId}", &enc(company_id))
        .replace("{packageId}", &enc(package_id))
        .replace("{language}", &enc(language))
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Catalog {
    pub integration_id: String,
    #[serde(default)]
    pub packages: BTreeMap<String, CatalogEntry>,
    /// Optimistic-locking counter: concurrent replacements cannot lose each other's writes.
    #[serde(default)]
    pub version: u64,
    pub updated_at: DateTime<Utc>,
}

/// What a replacement changed, reported back to the vendor.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct ReplaceSummary {
    pub created: Vec<String>,
    pub updated: Vec<String>,
    pub deleted: Vec<String>,
}

impl Catalog {
    pub fn empty(integration_id: &str, now: DateTime<Utc>) -> Self {
        Self {
            integration_id: integration_id.to_string(),
            packages: BTreeMap::new(),
            version: 0,
            updated_at: now,
        }
    }

    /// Packages SR may list and order, in id order.
    pub fn visible(&self) -> Vec<&AssessmentPackage> {
        self.packages
            .values()
            .filter(|e| !e.deleted)
            .map(|e| &e.package)
            .collect()
    }

    /// The packages to offer for this job and recruiter.
    pub fn offered(&self, query: &PackageQuery) -> Vec<&AssessmentPackage> {
        self.packages
            .values()
            .filter(|e| !e.deleted && e.availability.matches(query))
            .map(|e| &e.package)
            .collect()
    }

    /// A package SR may order; deleted packages are not orderable.
    pub fn active(&self, id: &str) -> Option<&AssessmentPackage> {
        self.active_entry(id).map(|e| &e.package)
    }

    pub fn active_entry(&self, id: &str) -> Option<&CatalogEntry> {
        self.packages.get(id).filter(|e| !e.deleted)
    }

    /// Replace semantics: `incoming` is the whole catalog; anything omitted is marked deleted.
    pub fn replace(&mut self, incoming: Vec<CatalogPackage>, now: DateTime<Utc>) -> ReplaceSummary {
        let mut summary = ReplaceSummary::default();
        let incoming_ids: HashSet<String> = incoming.iter().map(|p| p.package.id.clone()).collect();
        for (id, entry) in self.packages.iter_mut() {
            if !entry.deleted && !incoming_ids.contains(id) {
                entry.deleted = true;
                entry.updated_at = now;
                summary.deleted.push(id.clone());
            }
        }
        for incoming in incoming {
            let id = incoming.package.id.clone();
            let entry = CatalogEntry {
                package: incoming.package,
                inline_url_template: incoming.inline_url_template,
                availability: incoming.availability,
                deleted: false,
                updated_at: now,
            };
            match self.packages.get_mut(&id) {
                Some(old) if !old.deleted && same_content(old, &entry) => {}
                Some(old) => {
                    summary.updated.push(id);
                    *old = entry;
                }
                None => {
                    summary.created.push(id.clone());
                    self.packages.insert(id, entry);
                }
            }
        }
        self.updated_at = now;
        summary
    }
}

fn same_content(a: &CatalogEntry, b: &CatalogEntry) -> bool {
    a.package == b.package
        && a.inline_url_template == b.inline_url_template
        && a.availability == b.availability
}

/// A package as the vendor sends it (`PUT /assessment/packages`, Kombo's shape). `assessments` is
/// our SR-only addition; without it the package holds one assessment mirroring itself.
#[derive(Debug, Clone, Deserialize)]
pub struct VendorPackage {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: AssessmentType,
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub assessments: Option<Vec<VendorAssessment>>,
    /// For `INLINE_ASSESSMENT` packages only: an https URL where the candidate takes the
    /// assessment, with optional `{orderId}`, `{companyId}`, `{packageId}`, `{language}`.
    /// Without it, each inline order's URL is asked from the vendor (`kombo::inline`).
    #[serde(default)]
    pub inline_url_template: Option<String>,
    #[serde(default)]
    pub availability: Availability,
}

#[derive(Debug, Clone, Deserialize)]
pub struct VendorAssessment {
    pub id: String,
    #[serde(rename = "type", default)]
    pub kind: Option<AssessmentType>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid field `{field}`: {reason}")]
pub struct PackageError {
    pub field: String,
    pub reason: String,
}

/// Most catalogs hold a handful of packages; this keeps the catalog item far below DynamoDB's
/// 400 KB item limit.
pub const MAX_PACKAGES: usize = 200;

/// What a catalog's URLs may be: https, and plain http to a loopback host only on local stacks
/// (`ALLOW_INSECURE_SR_URLS`, the switch of every other insecure URL), where the candidate's
/// page may be served on 127.0.0.1.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UrlRules {
    pub allow_loopback_http: bool,
}

impl UrlRules {
    /// An https URL, or http to `localhost`/a loopback address when allowed.
    pub fn allows(self, url: &url::Url) -> bool {
        let loopback = match url.host() {
            Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        };
        url.scheme() == "https" || (self.allow_loopback_http && url.scheme() == "http" && loopback)
    }
}

/// Validates the vendor's packages (https URLs only) and turns them into SR's
/// `AssessmentPackage`s.
pub fn validate_packages(
    packages: Vec<VendorPackage>,
) -> Result<Vec<CatalogPackage>, PackageError> {
    validate_packages_with(packages, UrlRules::default())
}

/// [`validate_packages`] with the URL rules of the deployment.
pub fn validate_packages_with(
    packages: Vec<VendorPackage>,
    urls: UrlRules,
) -> Result<Vec<CatalogPackage>, PackageError> {
    let error = |field: String, reason: &str| PackageError {
        field,
        reason: reason.to_string(),
    };
    if packages.len() > MAX_PACKAGES {
        return Err(error("packages".into(), "at most 200 packages per catalog"));
    }
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(packages.len());
    for (i, p) in packages.into_iter().enumerate() {
        let at = |f: &str| format!("packages[{i}].{f}");
        if p.id.trim().is_empty() || p.id.len() > 128 {
            return Err(error(at("id"), "must be 1 to 128 characters"));
        }
        if !seen.insert(p.id.clone()) {
            return Err(error(at("id"), &format!("duplicate package id `{}`", p.id)));
        }
        if p.name.trim().is_empty() {
            return Err(error(at("name"), "must not be empty"));
        }
        let description = p.description.unwrap_or_default();
        let assessments = match p.assessments {
            None => vec![Assessment {
                id: p.id.clone(),
                kind: p.kind,
                name: Some(p.name.clone()),
                description: description.clone(),
            }],
            Some(list) if list.is_empty() => {
                return Err(error(
                    at("assessments"),
                    "must hold at least one assessment",
                ))
            }
            Some(list) => {
                let mut ids = HashSet::new();
                let mut assessments = Vec::with_capacity(list.len());
                for (j, a) in list.into_iter().enumerate() {
                    if a.id.trim().is_empty() || !ids.insert(a.id.clone()) {
                        return Err(error(
                            at(&format!("assessments[{j}].id")),
                            "must be non-empty and unique within the package",
                        ));
                    }
                    assessments.push(Assessment {
                        id: a.id,
                        kind: a.kind.unwrap_or(p.kind),
                        name: a.name,
                        description: a.description.unwrap_or_default(),
                    });
                }
                assessments
            }
        };
        let inline_url_template = match (p.kind, p.inline_url_template) {
            // No template: the vendor is asked for each order's URL (`kombo::inline`).
            (AssessmentType::InlineAssessment, None) => None,
            (AssessmentType::InlineAssessment, Some(t)) => {
                let probe = inline_url(&t, "o", "c", "p", "en");
                let ok = url::Url::parse(&probe).is_ok_and(|u| urls.allows(&u));
                if !ok {
                    return Err(error(
                        at("inline_url_template"),
                        "must be an absolute https URL",
                    ));
                }
                Some(t)
            }
            (_, Some(_)) => {
                return Err(error(
                    at("inline_url_template"),
                    "is only for INLINE_ASSESSMENT packages",
                ))
            }
            (_, None) => None,
        };
        out.push(CatalogPackage {
            package: AssessmentPackage {
                id: p.id,
                name: p.name,
                description,
                kind: p.kind,
                assessments,
            },
            inline_url_template,
            availability: p.availability,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vendor(id: &str) -> VendorPackage {
        VendorPackage {
            id: id.into(),
            kind: AssessmentType::SkillTest,
            name: format!("Package {id}"),
            description: Some("d".into()),
            assessments: None,
            inline_url_template: None,
            availability: Availability::default(),
        }
    }

    fn now() -> DateTime<Utc> {
        "2026-01-01T00:00:00Z".parse().unwrap()
    }

    #[test]
    fn a_package_without_assessments_mirrors_itself() {
        let packages = validate_packages(vec![vendor("p1")]).unwrap();
        assert_eq!(packages[0].package.assessments.len(), 1);
        assert_eq!(packages[0].package.assessments[0].id, "p1");
    }

    #[test]
    fn duplicate_ids_are_refused_with_the_field() {
        let err = validate_packages(vec![vendor("p1"), vendor("p1")]).unwrap_err();
        assert_eq!(err.field, "packages[1].id");
    }

    #[test]
    fn replacing_marks_omitted_packages_deleted_and_keeps_them() {
        let mut catalog = Catalog::empty("org", now());
        let first = validate_packages(vec![vendor("a"), vendor("b")]).unwrap();
        let summary = catalog.replace(first, now());
        assert_eq!(summary.created, vec!["a", "b"]);
        let second = validate_packages(vec![vendor("b"), vendor("c")]).unwrap();
        let summary = catalog.replace(second, now());
        assert_eq!(summary.deleted, vec!["a"]);
        assert_eq!(summary.created, vec!["c"]);
        assert!(summary.updated.is_empty());
        assert!(catalog.active("a").is_none());
        assert!(catalog.packages.contains_key("a"));
        let visible: Vec<&str> = catalog.visible().iter().map(|p| p.id.as_str()).collect();
        assert_eq!(visible, vec!["b", "c"]);
    }

    #[test]
    fn a_deleted_package_comes_back_when_resent() {
        let mut catalog = Catalog::empty("org", now());
        catalog.replace(validate_packages(vec![vendor("a")]).unwrap(), now());
        catalog.replace(vec![], now());
        let summary = catalog.replace(validate_packages(vec![vendor("a")]).unwrap(), now());
        assert_eq!(summary.updated, vec!["a"]);
        assert!(catalog.active("a").is_some());
    }

    fn query() -> PackageQuery {
        PackageQuery::default()
    }

    #[test]
    fn availability_filters_by_location_fields_and_requester() {
        let only_se = Availability {
            country_codes: vec!["SE".into()],
            ..Default::default()
        };
        let se = PackageQuery {
            country_code: Some("se".into()),
            ..query()
        };
        assert!(only_se.matches(&se));
        assert!(!only_se.matches(&query()), "no country given: not offered");
        let lens = Availability {
            fields: BTreeMap::from([("lens".to_string(), vec!["blue".to_string()])]),
            ..Default::default()
        };
        let blue = PackageQuery {
            fields: BTreeMap::from([("lens".to_string(), "Blue".to_string())]),
            ..query()
        };
        assert!(lens.matches(&blue));
        assert!(!lens.matches(&query()));
        let acme = Availability {
            requester_domains: vec!["acme.com".into()],
            ..Default::default()
        };
        let from_acme = PackageQuery {
            requester_email: Some("r@acme.com".into()),
            ..query()
        };
        assert!(acme.matches(&from_acme));
        assert!(!acme.matches(&PackageQuery {
            requester_email: Some("r@other.com".into()),
            ..query()
        }));
        let remote_only = Availability {
            remote: Some(true),
            ..Default::default()
        };
        assert!(!remote_only.matches(&query()));
        assert!(remote_only.matches(&PackageQuery {
            remote: Some(true),
            ..query()
        }));
        assert!(Availability::default().matches(&query()));
    }

    #[test]
    fn inline_packages_take_a_url_template_or_ask_the_vendor() {
        let mut p = vendor("inline");
        p.kind = AssessmentType::InlineAssessment;
        assert_eq!(
            validate_packages(vec![p.clone()]).unwrap()[0].inline_url_template,
            None
        );
        p.inline_url_template = Some("ftp://v.example.com/{orderId}".into());
        assert_eq!(
            validate_packages(vec![p.clone()]).unwrap_err().field,
            "packages[0].inline_url_template"
        );
        p.inline_url_template = Some("https://v.example.com/take/{orderId}?lang={language}".into());
        let ok = validate_packages(vec![p]).unwrap();
        assert_eq!(
            inline_url(
                ok[0].inline_url_template.as_deref().unwrap(),
                "o 1",
                "c",
                "p",
                "sv"
            ),
            "https://v.example.com/take/o%201?lang=sv"
        );
        let mut not_inline = vendor("x");
        not_inline.inline_url_template = Some("https://v.example.com".into());
        assert!(validate_packages(vec![not_inline]).is_err());
    }
}

#[cfg(test)]
mod url_rules_tests {
    use super::*;

    fn inline(template: &str) -> VendorPackage {
        VendorPackage {
            id: "chat".into(),
            kind: AssessmentType::InlineAssessment,
            name: "Chat".into(),
            description: None,
            assessments: None,
            inline_url_template: Some(template.into()),
            availability: Availability::default(),
        }
    }

    #[test]
    fn inline_urls_are_https_and_loopback_http_only_on_local_stacks() {
        let local = UrlRules {
            allow_loopback_http: true,
        };
        for (template, deployed, on_local_stack) in [
            ("https://v.example.com/take/{orderId}", true, true),
            ("http://v.example.com/take/{orderId}", false, false),
            ("http://127.0.0.1:8080/take/{orderId}", false, true),
            ("http://localhost/take/{orderId}", false, true),
            ("http://[::1]:8080/take/{orderId}", false, true),
            ("http://127.0.0.1.example.com/{orderId}", false, false),
            ("ftp://v.example.com/{orderId}", false, false),
            ("javascript:alert(1)//{orderId}", false, false),
        ] {
            assert_eq!(
                validate_packages(vec![inline(template)]).is_ok(),
                deployed,
                "{template}"
            );
            assert_eq!(
                validate_packages_with(vec![inline(template)], local).is_ok(),
                on_local_stack,
                "{template}"
            );
        }
        let err = validate_packages(vec![inline("http://v.example.com/{orderId}")]).unwrap_err();
        assert_eq!(err.field, "packages[0].inline_url_template");
        assert!(err.reason.contains("https"), "{err}");
    }
}
