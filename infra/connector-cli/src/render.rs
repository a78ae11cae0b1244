//! Text output helpers shared by the operations commands.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

/// `2026-01-01T00:00:00Z`.
pub fn time(at: &DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A unit enum's serialized name (`ACTIVE`, `COMPLETED`, …), as the JSON output spells it.
pub fn word<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => "?".into(),
    }
}

/// Left-aligned columns separated by two spaces; the last column is not padded.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let line = |cells: Vec<&str>| {
        let last = cells.len().saturating_sub(1);
        let mut out = String::new();
        for (i, cell) in cells.into_iter().enumerate() {
            out.push_str(cell);
            if i < last {
                let pad = widths[i] - cell.chars().count() + 2;
                out.push_str(&" ".repeat(pad));
            }
        }
        // An empty last cell leaves no trailing blanks.
        out.truncate(out.trim_end().len());
        out
    };
    let mut lines = vec![line(headers.to_vec())];
    lines.extend(
        rows.iter()
            .map(|row| line(row.iter().map(String::as_str).collect())),
    );
    lines.join("\n")
}

/// Labelled lines with the values aligned: `label:  value`.
pub fn fields(pairs: &[(&str, String)]) -> String {
    let width = pairs
        .iter()
        .map(|(label, _)| label.chars().count())
        .max()
        .unwrap_or(0);
    pairs
        .iter()
        .map(|(label, value)| {
            let pad = width - label.chars().count() + 2;
            format!("{label}:{}{value}", " ".repeat(pad))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `1 message` / `3 messages`.
pub fn count(n: usize, singular: &str, plural: &str) -> String {
    format!("{n} {}", if n == 1 { singular } else { plural })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_columns() {
        let text = table(
            &["ID", "STATUS", "UPDATED"],
            &[
                vec!["a".into(), "ACTIVE".into(), "x".into()],
                vec!["longer-id".into(), "DISABLED".into(), "y".into()],
            ],
        );
        assert_eq!(
            text,
            "ID         STATUS    UPDATED\na          ACTIVE    x\nlonger-id  DISABLED  y"
        );
        let sparse = table(&["A", "NOTE"], &[vec!["x".into(), String::new()]]);
        assert_eq!(sparse, "A  NOTE\nx");
    }

    #[test]
    fn fields_align_values() {
        assert_eq!(
            fields(&[("company", "a".into()), ("status", "ACTIVE".into())]),
            "company:  a\nstatus:   ACTIVE"
        );
    }

    #[test]
    fn words_and_times() {
        assert_eq!(word(&connector::store::CompanyStatus::Disabled), "DISABLED");
        let at = DateTime::from_timestamp(1_767_225_600, 0).unwrap();
        assert_eq!(time(&at), "2026-01-01T00:00:00Z");
        assert_eq!(count(1, "message", "messages"), "1 message");
        assert_eq!(count(0, "message", "messages"), "0 messages");
    }
}
