//! An item's size as DynamoDB counts it, which is what it bills a write by: one write unit per
//! started KB of the larger of the item before and after, twice inside a transaction
//! ("Item sizes and formats" and "Capacity unit consumption" in the DynamoDB developer guide).
//! The store uses it to keep small items under a KB boundary; the bench bills writes with it.

use aws_sdk_dynamodb::types::AttributeValue;

use super::Item;

/// One write unit's worth of item: 1 KB.
pub const WRITE_UNIT_BYTES: usize = 1024;

/// An item's size in bytes: each attribute's name plus its value.
pub fn item_size(item: &Item) -> usize {
    item.iter()
        .map(|(name, v)| name.len() + value_size(v))
        .sum()
}

/// A value's size in bytes: strings and binaries their length, numbers 1 byte per two
/// significant digits plus 1, `true`/`false`/`null` 1, lists and maps 3 plus 1 per element
/// (and each key's length).
pub fn value_size(value: &AttributeValue) -> usize {
    match value {
        AttributeValue::S(s) => s.len(),
        AttributeValue::N(n) => number_size(n),
        AttributeValue::B(b) => b.as_ref().len(),
        AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
        AttributeValue::Ss(items) => items.iter().map(String::len).sum(),
        AttributeValue::Ns(items) => items.iter().map(|n| number_size(n)).sum(),
        AttributeValue::Bs(items) => items.iter().map(|b| b.as_ref().len()).sum(),
        AttributeValue::L(items) => 3 + items.iter().map(|v| 1 + value_size(v)).sum::<usize>(),
        AttributeValue::M(map) => {
            3 + map
                .iter()
                .map(|(k, v)| 1 + k.len() + value_size(v))
                .sum::<usize>()
        }
        _ => 0,
    }
}

/// The write units of a non-transactional write of an item of `bytes` (at least 1).
pub fn write_units(bytes: usize) -> usize {
    bytes.div_ceil(WRITE_UNIT_BYTES).max(1)
}

/// 1 byte per two significant digits, plus 1.
fn number_size(n: &str) -> usize {
    let digits: String = n
        .split(['e', 'E'])
        .next()
        .unwrap_or_default()
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    let significant = digits.trim_start_matches('0').trim_end_matches('0').len();
    significant.max(1).div_ceil(2) + 1
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn item(pairs: &[(&str, AttributeValue)]) -> Item {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    #[test]
    fn item_sizes_follow_dynamodbs_rules() {
        // "pk" (2) + "ORDER#1" (7), "n" (1) + 3 digits (2 + 1), "ok" (2) + bool (1)
        let small = item(&[
            ("pk", AttributeValue::S("ORDER#1".into())),
            ("n", AttributeValue::N("123".into())),
            ("ok", AttributeValue::Bool(true)),
        ]);
        assert_eq!(item_size(&small), 9 + 4 + 3);
        // A map: 3 + (1 + "a" + "xy"); a list: 3 + (1 + "z")
        let nested = item(&[
            (
                "m",
                AttributeValue::M(HashMap::from([(
                    "a".into(),
                    AttributeValue::S("xy".into()),
                )])),
            ),
            ("l", AttributeValue::L(vec![AttributeValue::S("z".into())])),
        ]);
        assert_eq!(item_size(&nested), (1 + 3 + 1 + 1 + 2) + (1 + 3 + 1 + 1));
        assert_eq!(number_size("1000"), 2);
        assert_eq!(number_size("0.00123"), 3);
        assert_eq!(
            (write_units(0), write_units(1024), write_units(1025)),
            (1, 1, 2)
        );
    }
}
