//! Optimistic locking's other half: a write that lost a race (`StoreError::Conflict`: the item
//! changed since it was read) is read and tried again, a few times, by the operation that wrote
//! it. Every read-modify-write of the vendor API (a result, the catalog) retries through here.

use std::future::Future;

use super::StoreError;

/// How many times a read-modify-write is tried when writers race on the same item: two
/// writers of one order or catalog rarely race more than twice in a row; a third loss answers
/// the conflict (409) so the caller retries later.
pub const WRITE_ATTEMPTS: usize = 3;

/// An error that may be a lost optimistic-lock race.
pub trait MaybeConflict {
    /// Whether reading again and retrying may succeed.
    fn is_conflict(&self) -> bool;
}

impl MaybeConflict for StoreError {
    fn is_conflict(&self) -> bool {
        matches!(self, StoreError::Conflict)
    }
}

/// Runs `attempt` (read, decide, conditional write) until it succeeds, fails otherwise than by
/// a conflict, or has lost [`WRITE_ATTEMPTS`] races; the last answer is returned as it is.
///
/// A closure returning a future rather than an async closure: the futures of async closures
/// are not shown `Send` by today's compiler ("implementation of `Send` is not general
/// enough"), and a Lambda handler's future must be.
pub async fn retry_on_conflict<T, E, F, Fut>(mut attempt: F) -> Result<T, E>
where
    E: MaybeConflict,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let mut tries = 1;
    loop {
        match attempt().await {
            Err(e) if e.is_conflict() && tries < WRITE_ATTEMPTS => tries += 1,
            answer => return answer,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    #[tokio::test]
    async fn a_lost_race_is_retried_and_the_third_loss_is_answered() {
        let calls = Cell::new(0);
        let won: Result<usize, StoreError> = retry_on_conflict(|| {
            calls.set(calls.get() + 1);
            let n = calls.get();
            async move {
                if n < 3 {
                    Err(StoreError::Conflict)
                } else {
                    Ok(n)
                }
            }
        })
        .await;
        assert_eq!(won.unwrap(), 3);

        let calls = Cell::new(0);
        let lost: Result<(), StoreError> = retry_on_conflict(|| {
            calls.set(calls.get() + 1);
            async { Err(StoreError::Conflict) }
        })
        .await;
        assert!(matches!(lost, Err(StoreError::Conflict)));
        assert_eq!(calls.get(), WRITE_ATTEMPTS);
    }

    #[tokio::test]
    async fn other_failures_are_not_retried() {
        let calls = Cell::new(0);
        let failed: Result<(), StoreError> = retry_on_conflict(|| {
            calls.set(calls.get() + 1);
            async { Err(StoreError::TooLarge { what: "a result" }) }
        })
        .await;
        assert!(matches!(failed, Err(StoreError::TooLarge { .. })));
        assert_eq!(calls.get(), 1);
    }
}
