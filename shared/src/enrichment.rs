//! Order enrichment: what SR's Customer API says about an order's candidate, job and hiring team,
//! fetched after the order is stored, through the table's stream (`crate::order_stream`) and the
//! results queue (`QueueMessage::OrderReceived`), so SR's `POST /packages/orders` never waits on
//! SR itself, nor on anything but its one DynamoDB transaction.
//!
//! The worker also announces the order to the vendor (`order.created` / `inline_order.created`)
//! before calling SR, so an SR outage delays only the enrichment, and `order.enriched` after.
//! Enrichment never blocks the order or its results: the order is orderable, submittable and
//! deliverable whether or not this ever succeeds. In the Kombo webhook formats the vendor hears
//! of the order through Kombo's `assessment:order-received`, sent once the enrichment is stored
//! or, when it is given up (last receive of the message, the company's credentials gone), with
//! what SR's order itself carries.
//!
//! Where it runs: the result publisher (`crate::publisher`, the `result-publisher` Lambda) hands
//! every `OrderReceived` message of its batch to [`Enricher::enrich_order`].
//!
//! Per message (happy path): GetItem (order), 4 calls per event (see `crate::notifications`) × 2,
//! GetSecretValue (company credentials), UpdateItem (store the enrichment); SR: token (cached by
//! `SrClient`) and two or three GETs.

use std::time::Duration;

use chrono::Utc;

use crate::notifications::Notifications;
use crate::orders::enrichment::{enriched_candidate, enriched_job, hiring_team, OrderEnrichment};
use crate::orders::Order;
use crate::pacing::{self, Pacer};
use crate::secrets::{CredentialCache, SecretError};
use crate::sqs_batch::Outcome;
use crate::sr::{SrClient, SrClientError, SrCredentials};
use crate::store::enrichment::EnrichmentWrite;
use crate::store::Store;

/// How far one try at an order's enrichment got.
enum Attempt {
    /// Enriched (now or before) and the vendor told, or nothing more to do.
    Done,
    /// A transient failure: try again, after `after` when SR said how long.
    Retry { after: Option<Duration> },
    /// Enrichment cannot succeed: the company's SR credentials are gone (disabled).
    GivenUp,
}

/// One SR read's result, for the parts enrichment tolerates.
enum Fetched<T> {
    Found(T),
    /// SR answered 404 or refused this read for good: stored as a note.
    Missing(String),
}

/// A transient failure that makes the whole message retry.
struct Transient {
    after: Option<Duration>,
    /// For the log: what was read and why it failed, never SR's words nor the record's id.
    detail: String,
    /// SR refused the credentials (token endpoint, or a 401 with a fresh token).
    refused: bool,
}

/// The enrichment worker; borrows the publisher's clients (one SR client, one token cache).
pub struct Enricher<'a> {
    pub store: &'a Store,
    /// The publisher's cache: one secret read per company and container, not per order.
    pub credentials: &'a CredentialCache,
    pub sr: &'a SrClient,
    pub notifications: &'a Notifications,
    /// Paces SR calls on the company's shared schedule with the result publisher, when given.
    pub pacer: Option<&'a Pacer>,
    /// Bounds SR calls in flight together with the publisher's deliveries (SR allows 8
    /// concurrent requests per credential), when given.
    pub in_flight: Option<&'a tokio::sync::Semaphore>,
}

impl Enricher<'_> {
    /// Handles `QueueMessage::OrderReceived` for an order already read (the publisher reads a
    /// batch's orders in one call); `None` when it does not exist. `last_receive`: SQS will not
    /// hand the message out again (a retry now moves it to the dead-letter queue).
    ///
    /// When the enrichment is given up — a retry on the last receive (SR down for hours, SR
    /// refusing the company's credentials), or the company's credentials gone (disabled) — the
    /// vendor still hears of the order: Kombo's `assessment:order-received` goes out with what
    /// SR's order carries (see `Notifications::order_received`; the connector's `order.created`
    /// went out first anyway).
    pub async fn enrich_order(
        &self,
        order: Option<&Order>,
        order_id: &str,
        company_id: &str,
        last_receive: bool,
    ) -> Outcome {
        let Some(order) = order else {
            tracing::error!(
                order_id,
                company_id,
                "enrichment queued for an order that does not exist"
            );
            return Outcome::Done;
        };
        let outcome = match self.attempt(order).await {
            Attempt::Done => return Outcome::Done,
            Attempt::Retry { after } if !last_receive => return Outcome::Retry { after },
            Attempt::Retry { after } => Outcome::Retry { after },
            Attempt::GivenUp => Outcome::Done,
        };
        tracing::error!(order_id, company_id = %order.company_id, "order enrichment given up; the order stays as SR placed it");
        // The stored order, in case another worker enriched it meanwhile.
        let current = match self.store.get_order(order_id).await {
            Ok(Some(current)) => current,
            _ => order.clone(),
        };
        if current.erased_at.is_some() {
            return outcome;
        }
        match self
            .notifications
            .order_received(&current, Utc::now())
            .await
        {
            Ok(_) => outcome,
            Err(e) => {
                // On the last receive the message goes to the dead-letter queue all the same
                // (`connector dlq redrive` brings it back); otherwise it is tried again.
                tracing::error!(order_id, company_id = %order.company_id, error = %e, "could not record or queue the order's Kombo event; will retry");
                Outcome::Retry { after: None }
            }
        }
    }

    /// One try at enriching `order` and telling the vendor.
    async fn attempt(&self, order: &Order) -> Attempt {
        let order_id = order.order_id.as_str();
        if order.erased_at.is_some() {
            // Its personal data was erased: nothing is fetched, stored or announced again.
            tracing::info!(order_id, company_id = %order.company_id, "order erased; not enriched");
            return Attempt::Done;
        }
        let retry = Attempt::Retry { after: None };
        let now = Utc::now();
        if let Err(e) = self.notifications.order_created(order, now).await {
            tracing::warn!(order_id, company_id = %order.company_id, error = %e, "could not record or queue order.created; will retry");
            return retry;
        }
        if let Some(existing) = &order.enrichment {
            // A repeat (SR retried the order, or SQS redelivered): make sure the vendor was told.
            return match self
                .notifications
                .order_enriched(order, existing, now)
                .await
            {
                Ok(_) => Attempt::Done,
                Err(e) => {
                    tracing::warn!(order_id, company_id = %order.company_id, error = %e, "could not queue order.enriched; will retry");
                    retry
                }
            };
        }
        // SR refusing the cached credentials (a reconnected company) makes the cache read
        // them again and the reads run once more, before the message is retried.
        let fetched = self
            .credentials
            .call_as_company(
                self.sr,
                &order.company_id,
                |credentials| async move { self.fetch(order, &credentials).await },
                |fetched| matches!(fetched, Err(t) if t.refused),
            )
            .await;
        let enrichment = match fetched {
            Ok(Ok(enrichment)) => enrichment,
            Ok(Err(t)) => {
                tracing::warn!(order_id, company_id = %order.company_id, detail = %t.detail, "enrichment failed for now; will retry");
                return Attempt::Retry { after: t.after };
            }
            Err(SecretError::NotFound(_)) => {
                // Disabled company: its secret is gone and SR would refuse us anyway.
                tracing::warn!(order_id, company_id = %order.company_id, "no SmartRecruiters credentials (integration disabled?); order left without enrichment");
                return Attempt::GivenUp;
            }
            Err(e) => {
                tracing::warn!(order_id, company_id = %order.company_id, error = %e, "could not read company credentials; will retry");
                return retry;
            }
        };
        let (order, enrichment) = match self.store.put_enrichment(order_id, &enrichment).await {
            Ok(EnrichmentWrite::Stored(order)) => (order, enrichment),
            Ok(EnrichmentWrite::AlreadyEnriched(order)) => {
                let theirs = order.enrichment.clone().unwrap_or(enrichment);
                (order, theirs)
            }
            Ok(EnrichmentWrite::Missing) => return Attempt::Done,
            Err(e) => {
                tracing::warn!(order_id, company_id = %order.company_id, error = %e, "could not store the enrichment; will retry");
                return retry;
            }
        };
        tracing::info!(order_id, company_id = %order.company_id, notes = enrichment.notes.len(), "order enriched");
        match self
            .notifications
            .order_enriched(&order, &enrichment, Utc::now())
            .await
        {
            Ok(_) => Attempt::Done,
            Err(e) => {
                // The enrichment is stored; the retry only queues the event (see above).
                tracing::warn!(order_id, company_id = %order.company_id, error = %e, "could not queue order.enriched; will retry");
                retry
            }
        }
    }

    /// The candidate (skipped for inline orders), the job and its hiring team, one after the
    /// other on the company's SR schedule.
    async fn fetch(
        &self,
        order: &Order,
        credentials: &SrCredentials,
    ) -> Result<OrderEnrichment, Transient> {
        let candidate_id = order.candidate.id.as_str();
        let job_id = order.job.id.as_str();
        let mut notes = Vec::new();
        let calls = if candidate_id.is_empty() { 2 } else { 3 };
        let slots = match self.pacer {
            Some(pacer) => {
                let slots =
                    pacer
                        .reserve(&order.company_id, calls)
                        .await
                        .map_err(|e| Transient {
                            after: None,
                            detail: format!("could not reserve SR call slots: {e}"),
                            refused: false,
                        })?;
                let wait = slots.wait_from(pacing::now_ms());
                if wait > pacing::MAX_WAIT {
                    return Err(Transient {
                        after: Some(wait),
                        detail: "the company's SR schedule is full".into(),
                        refused: false,
                    });
                }
                Some(slots)
            }
            None => None,
        };
        let mut call = 0;
        let in_flight = self.in_flight;
        // Waits for room among the calls in flight, then for the next reserved slot: the call
        // starts at its slot, not at a later time the permit would have decided (a late call
        // would crowd the next ones into one of SR's seconds). A slow read before it can still
        // make it late.
        let mut next_slot = || {
            let i = call;
            call += 1;
            async move {
                let permit = match in_flight {
                    Some(semaphore) => Some(semaphore.acquire().await.expect("never closed")),
                    None => None,
                };
                if let Some(slots) = &slots {
                    slots.wait_for(i).await;
                }
                permit
            }
        };
        let candidate = if candidate_id.is_empty() {
            notes.push("candidate: inline orders carry no SmartRecruiters candidate id".into());
            None
        } else {
            let permit = next_slot().await;
            let answer = self.sr.get_candidate(credentials, candidate_id).await;
            drop(permit);
            match self
                .classify(order, "candidate", candidate_id, answer)
                .await?
            {
                Fetched::Found(details) => Some(enriched_candidate(candidate_id, details)),
                Fetched::Missing(note) => {
                    notes.push(note);
                    None
                }
            }
        };
        let permit = next_slot().await;
        let answer = self.sr.get_job(credentials, job_id).await;
        drop(permit);
        let job = match self.classify(order, "job", job_id, answer).await? {
            Fetched::Found(details) => Some(enriched_job(job_id, details)),
            Fetched::Missing(note) => {
                notes.push(note);
                None
            }
        };
        let permit = next_slot().await;
        let answer = self.sr.get_hiring_team(credentials, job_id).await;
        drop(permit);
        let team = match self
            .classify(order, "hiring team of job", job_id, answer)
            .await?
        {
            Fetched::Found(team) => Some(hiring_team(team)),
            Fetched::Missing(note) => {
                notes.push(note);
                None
            }
        };
        Ok(OrderEnrichment {
            enriched_at: Utc::now(),
            candidate,
            job,
            hiring_team: team,
            notes,
        })
    }

    /// Sorts one SR answer: found, missing for good (a note), or transient (retry everything).
    async fn classify<T>(
        &self,
        order: &Order,
        what: &str,
        id: &str,
        answer: Result<T, SrClientError>,
    ) -> Result<Fetched<T>, Transient> {
        match answer {
            Ok(value) => Ok(Fetched::Found(value)),
            Err(SrClientError::Rejected { status: 404, .. }) => Ok(Fetched::Missing(format!(
                "{what} {id}: not found in SmartRecruiters (404)"
            ))),
            Err(
                e @ (SrClientError::CredentialsRefused { .. }
                | SrClientError::Rejected { status: 401, .. }),
            ) => {
                // Not a missing part: the credentials. The caller reads them again; the
                // queue's DLQ ends this if SR keeps refusing the stored ones.
                Err(Transient {
                    after: None,
                    detail: format!("{what}: {}", e.for_log()),
                    refused: true,
                })
            }
            Err(e @ SrClientError::Rejected { status, .. }) => {
                tracing::warn!(order_id = %order.order_id, company_id = %order.company_id, what, status, error = %e.for_log(), "SmartRecruiters refused an enrichment read");
                Ok(Fetched::Missing(format!(
                    "{what} {id}: SmartRecruiters refused the read ({status})"
                )))
            }
            Err(SrClientError::Transient {
                status,
                retry_after,
                detail,
            }) => {
                if let (Some(429), Some(pacer)) = (status, self.pacer) {
                    // Every instance holds back for this company, not only this one, and spaces
                    // its calls carefully for a while (`pacing`).
                    let until = pacing::ms_after(pacing::wait_after_429(retry_after));
                    if let Err(e) = pacer.hold_until(&order.company_id, until).await {
                        tracing::warn!(company_id = %order.company_id, error = %e, "could not hold the SR schedule");
                    }
                }
                Err(Transient {
                    after: retry_after,
                    detail: format!("{what}: {detail}"),
                    refused: false,
                })
            }
        }
    }
}
