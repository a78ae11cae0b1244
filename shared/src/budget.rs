//! The time one invocation may still spend on calls to the outside (SR, `data_url` hosts).
//!
//! Lambda stops an invocation at its deadline. Stopped mid-batch, the publisher would record no
//! outcome and SQS would hand every message of the batch out again, delivered ones included. So
//! work that may take long (a download, an upload, the PATCH) starts only when the budget still
//! covers it, and its timeout never runs past the budget: what does not fit is retried by a
//! later invocation, and the batch's outcomes are always recorded.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    until: Option<Instant>,
}

impl Budget {
    /// No deadline (tools, in-process tests): every call gets its own full timeout.
    pub const UNLIMITED: Budget = Budget { until: None };

    pub fn until(deadline: Instant) -> Self {
        Self {
            until: Some(deadline),
        }
    }

    /// Lambda's deadline (`Context::deadline`, epoch milliseconds) less `reserve`, the time
    /// recording the outcomes needs after the last call. A deadline that is not ahead when the
    /// invocation starts is no deadline: Lambda's always is (by the function's timeout), and
    /// local emulators such as `cargo lambda watch` send the invocation time itself.
    pub fn before_lambda_deadline(deadline_ms: u64, reserve: Duration) -> Self {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        if deadline_ms <= now_ms {
            return Self::UNLIMITED;
        }
        let left = Duration::from_millis(deadline_ms - now_ms);
        Self::until(Instant::now() + left.saturating_sub(reserve))
    }

    /// What is left; `None` without a deadline.
    pub fn remaining(&self) -> Option<Duration> {
        self.until
            .map(|until| until.saturating_duration_since(Instant::now()))
    }

    /// Whether `needed` still fits.
    pub fn allows(&self, needed: Duration) -> bool {
        self.remaining().is_none_or(|left| left >= needed)
    }

    /// `timeout`, shortened to what is left.
    pub fn cap(&self, timeout: Duration) -> Duration {
        self.remaining().map_or(timeout, |left| timeout.min(left))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_budget_caps_timeouts_and_refuses_what_does_not_fit() {
        let budget = Budget::until(Instant::now() + Duration::from_secs(5));
        assert!(budget.allows(Duration::from_secs(3)));
        assert!(!budget.allows(Duration::from_secs(60)));
        assert!(budget.cap(Duration::from_secs(20)) <= Duration::from_secs(5));
        assert_eq!(budget.cap(Duration::from_secs(1)), Duration::from_secs(1));
        assert!(Budget::UNLIMITED.allows(Duration::MAX));
        assert_eq!(
            Budget::UNLIMITED.cap(Duration::from_secs(20)),
            Duration::from_secs(20)
        );
        // Lambda's deadline, less the reserve; a deadline not ahead is an emulator's.
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        let lambda = Budget::before_lambda_deadline(now_ms + 30_000, Duration::from_secs(5));
        assert!(lambda.remaining().unwrap() <= Duration::from_secs(25));
        assert!(lambda.remaining().unwrap() > Duration::from_secs(20));
        let short = Budget::before_lambda_deadline(now_ms + 2_000, Duration::from_secs(5));
        assert_eq!(short.remaining(), Some(Duration::ZERO));
        assert_eq!(
            Budget::before_lambda_deadline(now_ms, Duration::from_secs(5)),
            Budget::UNLIMITED
        );
    }
}
