//! The table on stdout and `infra/bench/results/latest.json`: every figure with the baseline measured in
//! the same run, their ratio, and PASS/MISS against the target where there is one (infra/bench/README.md lists them).

use std::path::Path;

use serde::Serialize;
use serde_json::Value;

use crate::Result;

#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// `ratio ≤ x`
    RatioAtMost(f64),
    /// `ratio ≥ x`
    RatioAtLeast(f64),
    /// `value ≤ x` (in the row's unit)
    AtMost(f64),
}

impl Target {
    fn passes(self, value: f64, ratio: Option<f64>) -> bool {
        match self {
            Self::RatioAtMost(x) => ratio.is_some_and(|r| r <= x),
            Self::RatioAtLeast(x) => ratio.is_some_and(|r| r >= x),
            Self::AtMost(x) => value <= x,
        }
    }

    fn describe(self, unit: &str) -> String {
        match self {
            Self::RatioAtMost(x) => format!("≤ {x}×"),
            Self::RatioAtLeast(x) => format!("≥ {x}×"),
            Self::AtMost(x) => format!("≤ {x} {unit}"),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub section: String,
    pub subject: String,
    pub metric: String,
    pub value: f64,
    pub unit: String,
    /// What the value is compared with, measured in the same run.
    pub baseline_of: Option<String>,
    pub baseline: Option<f64>,
    pub ratio: Option<f64>,
    pub target: Option<String>,
    pub pass: Option<bool>,
    pub note: String,
    /// The measurement failed; `note` says why.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub error: bool,
}

impl Row {
    pub fn new(section: &str, subject: &str, metric: &str, value: f64, unit: &str) -> Self {
        Self {
            section: section.into(),
            subject: subject.into(),
            metric: metric.into(),
            value,
            unit: unit.into(),
            baseline_of: None,
            baseline: None,
            ratio: None,
            target: None,
            pass: None,
            note: String::new(),
            error: false,
        }
    }

    /// A section (or endpoint) whose measurement failed.
    pub fn error(section: &str, message: &str) -> Self {
        let mut row = Self::new(section, "—", "measurement failed", f64::NAN, "");
        row.error = true;
        row.note = message.to_string();
        row
    }

    /// Compares with `baseline` (named `of`): ratio = value / baseline.
    pub fn against(mut self, of: &str, baseline: f64) -> Self {
        self.baseline_of = Some(of.into());
        self.baseline = Some(baseline);
        self.ratio = Some(crate::stats::ratio(self.value, baseline));
        self
    }

    /// Sets the ratio directly (e.g. a rate as a fraction of a limit).
    pub fn with_ratio(mut self, of: &str, baseline: f64, ratio: f64) -> Self {
        self.baseline_of = Some(of.into());
        self.baseline = Some(baseline);
        self.ratio = Some(ratio);
        self
    }

    pub fn target(mut self, target: Target) -> Self {
        self.target = Some(target.describe(&self.unit));
        self.pass = Some(target.passes(self.value, self.ratio));
        self
    }

    pub fn note(mut self, note: impl Into<String>) -> Self {
        self.note = note.into();
        self
    }
}

fn number(x: f64) -> String {
    if x.is_nan() {
        "—".into()
    } else if x == x.trunc() && x.abs() < 1e9 {
        format!("{x:.0}")
    } else if x.abs() >= 100.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}

/// The table, one line per row, notes under it.
pub fn table(rows: &[Row]) -> String {
    let header = [
        "section", "subject", "metric", "value", "baseline", "ratio", "target", "verdict",
    ];
    let mut lines: Vec<[String; 8]> = vec![header.map(String::from)];
    for r in rows {
        let baseline = match (&r.baseline, &r.baseline_of) {
            (Some(b), Some(of)) => format!("{} ({of})", number(*b)),
            _ => "—".into(),
        };
        lines.push([
            r.section.clone(),
            r.subject.clone(),
            r.metric.clone(),
            format!("{} {}", number(r.value), r.unit),
            baseline,
            r.ratio.map_or("—".into(), |x| format!("{}×", number(x))),
            r.target.clone().unwrap_or_else(|| "—".into()),
            match r.pass {
                _ if r.error => "ERROR".into(),
                Some(true) => "PASS".into(),
                Some(false) => "MISS".into(),
                None => "info".into(),
            },
        ]);
    }
    let widths: Vec<usize> = (0..8)
        .map(|i| {
            lines
                .iter()
                .map(|l| l[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for (n, line) in lines.iter().enumerate() {
        let cells: Vec<String> = line
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        out.push_str(cells.join(" | ").trim_end());
        out.push('\n');
        if n == 0 {
            let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
            out.push_str(&rule.join("-|-"));
            out.push('\n');
        }
    }
    let notes: Vec<String> = rows
        .iter()
        .filter(|r| !r.note.is_empty())
        .map(|r| format!("  {} / {} / {}: {}", r.section, r.subject, r.metric, r.note))
        .collect();
    if !notes.is_empty() {
        out.push_str("\nnotes:\n");
        out.push_str(&notes.join("\n"));
        out.push('\n');
    }
    out
}

/// Writes `{meta, rows, misses, errors, details}` to `path`.
pub fn write_json(path: &Path, meta: Value, rows: &[Row], details: Value) -> Result<()> {
    let misses: Vec<&Row> = rows.iter().filter(|r| r.pass == Some(false)).collect();
    let errors: Vec<&Row> = rows.iter().filter(|r| r.error).collect();
    let document = serde_json::json!({
        "meta": meta,
        "rows": rows,
        "misses": misses,
        "errors": errors,
        "details": details,
    });
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, serde_json::to_string_pretty(&document)? + "\n")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratio_targets_and_verdicts() {
        let row = Row::new("init", "f", "median", 13.0, "ms")
            .against("hello", 10.0)
            .target(Target::RatioAtMost(1.3));
        assert_eq!(row.pass, Some(true));
        let row = Row::new("init", "f", "median", 14.0, "ms")
            .against("hello", 10.0)
            .target(Target::RatioAtMost(1.3));
        assert_eq!(row.pass, Some(false));
        let row = Row::new("size", "f", "stripped", 9.0, "MB").target(Target::AtMost(8.0));
        assert_eq!(
            (row.pass, row.target.as_deref()),
            (Some(false), Some("≤ 8 MB"))
        );
    }

    #[test]
    fn the_table_lists_every_row() {
        let rows = vec![Row::new("size", "f", "stripped", 1.5, "MB").note("n")];
        let text = table(&rows);
        assert!(text.contains("1.50 MB") && text.contains("info") && text.contains("notes:"));
    }
}
