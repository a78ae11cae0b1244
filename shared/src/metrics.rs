//! Business metrics in CloudWatch Embedded Metric Format: one JSON line on stdout that CloudWatch
//! Logs turns into metrics, with no PutMetricData call (and no extra latency or IAM).
//!
//! Namespace `SrConnector`, dimension `Function` (the Lambda's name). `DlqMoves` counts a retry
//! on the message's last allowed receive (`MAX_RECEIVE_COUNT`, 20 like the results queue's
//! `maxReceiveCount`).

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Map, Value};

pub const NAMESPACE: &str = "SrConnector";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    OrdersReceived,
    ResultsDelivered,
    /// Milliseconds from the vendor's submission to SR accepting it.
    DeliveryLatency,
    DeliveryRetries,
    /// Messages whose retries are exhausted: SQS moves them to the dead-letter queue.
    DlqMoves,
}

impl Metric {
    fn name(self) -> &'static str {
        match self {
            Self::OrdersReceived => "OrdersReceived",
            Self::ResultsDelivered => "ResultsDelivered",
            Self::DeliveryLatency => "DeliveryLatency",
            Self::DeliveryRetries => "DeliveryRetries",
            Self::DlqMoves => "DlqMoves",
        }
    }

    fn unit(self) -> &'static str {
        match self {
            Self::DeliveryLatency => "Milliseconds",
            _ => "Count",
        }
    }
}

/// The EMF document for `values`.
pub fn document(function: &str, values: &[(Metric, f64)], timestamp_ms: u128) -> Value {
    let definitions: Vec<Value> = values
        .iter()
        .map(|(m, _)| json!({"Name": m.name(), "Unit": m.unit()}))
        .collect();
    let mut root = Map::new();
    root.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp_ms as u64,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [["Function"]],
                "Metrics": definitions,
            }]
        }),
    );
    root.insert("Function".into(), Value::String(function.to_string()));
    for (metric, value) in values {
        root.insert(metric.name().into(), json!(value));
    }
    Value::Object(root)
}

/// Emits `values` as one EMF line for this Lambda (`AWS_LAMBDA_FUNCTION_NAME`).
pub fn emit(values: &[(Metric, f64)]) {
    if values.is_empty() {
        return;
    }
    let function =
        std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|_| "local".to_string());
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default();
    println!("{}", document(&function, values, now));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_follow_the_embedded_metric_format() {
        let doc = document(
            "result-publisher",
            &[
                (Metric::ResultsDelivered, 1.0),
                (Metric::DeliveryLatency, 250.0),
            ],
            1_700_000_000_000,
        );
        assert_eq!(doc["_aws"]["Timestamp"], 1_700_000_000_000u64);
        let directive = &doc["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "SrConnector");
        assert_eq!(directive["Dimensions"], json!([["Function"]]));
        assert_eq!(
            directive["Metrics"][1],
            json!({"Name": "DeliveryLatency", "Unit": "Milliseconds"})
        );
        assert_eq!(doc["Function"], "result-publisher");
        assert_eq!(doc["ResultsDelivered"], 1.0);
        assert_eq!(doc["DeliveryLatency"], 250.0);
    }
}
