//! A burst of 500 results for one company through the whole local pipeline, with the SR
//! simulator enforcing SR's limits (10 requests/s, 8 concurrent per credential): every result
//! arrives, and the publisher's shared pacing keeps SR's 429s to a handful.
//!
//! A test binary of its own (binaries run one after another), so the burst's backlog on the
//! shared local queue does not starve other tests.

use std::collections::HashSet;
use std::time::Duration;

use connector_tests::pipeline::{company_with_orders, completed, sr_result, submit, RateLimit};
use connector_tests::{eventually, Stack};

#[tokio::test]
async fn a_burst_of_500_results_for_one_company_reaches_sr_paced_and_complete() {
    const N: usize = 500;
    let stack = Stack::connect().await;
    let (company, order_ids) = company_with_orders(&stack, "burst", N).await;
    let _limit = RateLimit::set(&stack, 10, 8).await;
    for (i, order_id) in order_ids.iter().enumerate() {
        submit(&stack, &company, order_id, completed(i as f64 % 100.0)).await;
    }
    eventually(
        "every result of the burst to reach SR",
        Duration::from_secs(400),
        || async {
            let mut missing = 0;
            for order_id in &order_ids {
                if sr_result(&stack, order_id).await.is_none() {
                    missing += 1;
                }
            }
            (missing == 0).then_some(())
        },
    )
    .await;
    for (i, order_id) in order_ids.iter().enumerate() {
        assert_eq!(
            sr_result(&stack, order_id).await,
            Some(("COMPLETED".into(), (i % 100) as i64))
        );
    }
    let ours: HashSet<&str> = order_ids.iter().map(String::as_str).collect();
    let throttled = stack
        .sim
        .requests("/results")
        .await
        .iter()
        .filter(|r| r["status"] == 429)
        .filter(|r| {
            let path = r["path"].as_str().unwrap_or_default();
            path.split('/').any(|segment| ours.contains(segment))
        })
        .count();
    // "A handful": at most 2% of the burst. The slots are spaced 0.75% under SR's limit, 3% for
    // a quarter of an hour after a 429; what remains is clock jitter against the simulator's
    // one-second windows on a busy host.
    assert!(
        throttled <= 10,
        "SR answered 429 {throttled} times to a paced burst of {N}"
    );
}
