//! How long items holding candidates' personal data are kept: each carries the table's TTL
//! attribute (`expires_at`, `TimeToLiveSpecification` in template.yaml), stamped here, so
//! DynamoDB deletes it in the background (typically within a few days of the time).
//!
//! The clock restarts with every change of the order (its creation, each result), so an
//! order's items expire `PERSONAL_DATA_RETENTION_DAYS` after its last change — for a finished
//! order, after it reached its final status, which is its last change. A disabled company's
//! orders run on the same clock: SR orders nothing more and results no longer reach SR, so
//! each expires that long after its last change (at most that long after the disable, unless
//! the vendor still submits to it).
//!
//! Stamped: the order item and its state item, its submissions and result files (`FILE#`), its
//! events and their id markers. Inline file bytes (`FILEDATA#`) keep their own, shorter expiry
//! (`store::files`). The order item's stamp runs a little longer than the others
//! (`order_state::order_item_slack`): a result re-stamps it only when it would expire before
//! the state item, so most results rewrite the small state item alone. A delivery re-stamps
//! nothing: it changes no data of the order.

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};

use super::{keys, Item};

/// Default of `PERSONAL_DATA_RETENTION_DAYS` (the template's `PersonalDataRetentionDays`).
pub const DEFAULT_PERSONAL_DATA_DAYS: i64 = 365;

/// How long personal data is kept after the last change of its order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    pub personal_data: chrono::Duration,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            personal_data: chrono::Duration::days(DEFAULT_PERSONAL_DATA_DAYS),
        }
    }
}

impl Retention {
    /// `PERSONAL_DATA_RETENTION_DAYS` (1 to 3653 days; unset, empty or invalid: the default,
    /// logged).
    pub fn from_env() -> Self {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let days = lookup("PERSONAL_DATA_RETENTION_DAYS").filter(|v| !v.trim().is_empty());
        match days.as_deref().map(|v| v.trim().parse::<i64>()) {
            None => Self::default(),
            Some(Ok(days)) if (1..=3653).contains(&days) => Self::days(days),
            Some(_) => {
                tracing::error!(
                    value = days.as_deref().unwrap_or_default(),
                    "PERSONAL_DATA_RETENTION_DAYS must be 1 to 3653 days; using {DEFAULT_PERSONAL_DATA_DAYS}"
                );
                Self::default()
            }
        }
    }

    pub fn days(days: i64) -> Self {
        Self {
            personal_data: chrono::Duration::days(days),
        }
    }

    /// When personal data written at `now` expires (epoch seconds, the TTL attribute's unit).
    pub fn personal_data_expiry(&self, now: DateTime<Utc>) -> i64 {
        (now + self.personal_data).timestamp()
    }

    /// The TTL attribute's value for personal data written at `now`.
    pub fn expiry_value(&self, now: DateTime<Utc>) -> AttributeValue {
        AttributeValue::N(self.personal_data_expiry(now).to_string())
    }

    /// Stamps an item holding personal data, written at `now`, with its expiry.
    pub fn stamp(&self, item: &mut Item, now: DateTime<Utc>) {
        item.insert(keys::EXPIRES_AT.into(), self.expiry_value(now));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_retention_is_read_in_days_within_bounds() {
        let read = |v: &str| {
            let v = v.to_string();
            Retention::from_lookup(move |_| Some(v.clone()))
        };
        assert_eq!(read("30"), Retention::days(30));
        assert_eq!(read(" 7 "), Retention::days(7));
        assert_eq!(read(""), Retention::default());
        assert_eq!(read("0"), Retention::default());
        assert_eq!(read("forever"), Retention::default());
        assert_eq!(Retention::from_lookup(|_| None), Retention::days(365));
        let now = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            Retention::days(1).personal_data_expiry(now),
            now.timestamp() + 86_400
        );
    }
}
