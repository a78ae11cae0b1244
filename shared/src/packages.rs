//! The vendor's package catalog for one integration, and the rules for replacing it.
//!
//! A catalog is one DynamoDB item (a map of packages) so a partner endpoint reads it together with
//! the caller's token in a single round trip. Replacing the catalog marks omitted packages as
//! deleted instead of dropping them: orders already placed for them keep working.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::sr::{Assessment, AssessmentPackage, AssessmentType};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CatalogEntry {
    pub package: AssessmentPackage,
    pub deleted: bool,
    pub updated_at: DateTime<Utc>,
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

    /// A package SR may order; deleted packages are not orderable.
    pub fn active(&self, id: &str) -> Option<&AssessmentPackage> {
        self.packages
            .get(id)
            .filter(|e| !e.deleted)
            .map(|e| &e.package)
    }

    /// Replace semantics: `incoming` is the whole catalog; anything omitted is marked deleted.
    pub fn replace(
        &mut self,
        incoming: Vec<AssessmentPackage>,
        now: DateTime<Utc>,
    ) -> ReplaceSummary {
        let mut summary = ReplaceSummary::default();
        let incoming_ids: HashSet<String> = incoming.iter().map(|p| p.id.clone()).collect();
        for (id, entry) in self.packages.iter_mut() {
            if !entry.deleted && !incoming_ids.contains(id) {
                entry.deleted = true;
                entry.updated_at = now;
                summary.deleted.push(id.clone());
            }
        }
        for package in incoming {
            match self.packages.get_mut(&package.id) {
                Some(entry) if !entry.deleted && entry.package == package => {}
                Some(entry) => {
                    summary.updated.push(package.id.clone());
                    *entry = CatalogEntry {
                        package,
                        deleted: false,
                        updated_at: now,
                    };
                }
                None => {
                    summary.created.push(package.id.clone());
                    self.packages.insert(
                        package.id.clone(),
                        CatalogEntry {
                            package,
                            deleted: false,
                            updated_at: now,
                        },
                    );
                }
            }
        }
        self.updated_at = now;
        summary
    }
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

/// Validates the vendor's packages and turns them into SR's `AssessmentPackage`s.
pub fn validate_packages(
    packages: Vec<VendorPackage>,
) -> Result<Vec<AssessmentPackage>, PackageError> {
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
        out.push(AssessmentPackage {
            id: p.id,
            name: p.name,
            description,
            kind: p.kind,
            assessments,
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
        }
    }

    fn now() -> DateTime<Utc> {
        "2026-01-01T00:00:00Z".parse().unwrap()
    }

    #[test]
    fn a_package_without_assessments_mirrors_itself() {
        let packages = validate_packages(vec![vendor("p1")]).unwrap();
        assert_eq!(packages[0].assessments.len(), 1);
        assert_eq!(packages[0].assessments[0].id, "p1");
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
}
