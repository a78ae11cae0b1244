//! Key layout of the single table.
//!
//! | item            | pk                          | sk              |
//! |-----------------|-----------------------------|-----------------|
//! | company         | `COMPANY#{companyId}`       | `PROFILE`       |
//! | access token    | `COMPANY#{companyId}`       | `TOKEN#{sha256}`|
//! | client (SR→us)  | `CLIENT#{clientId}`         | `CLIENT`        |
//! | catalog         | `INTEGRATION#{integrationId}` | `CATALOG`     |
//! | order           | `ORDER#{orderId}`           | `ORDER`         |
//! | … its state (result, delivery) | `ORDER#{orderId}` | `STATE`   |
//! | result file     | `ORDER#{orderId}`           | `FILE#{sha256(name)}` |
//! | … its bytes (inline) | `ORDER#{orderId}`      | `FILEDATA#{sha256(name)}#{revision}` |
//! | submission      | `ORDER#{orderId}`           | `HISTORY#SUBMISSION#{version:020}` |
//! | delivery attempt| `ORDER#{orderId}`           | `HISTORY#ATTEMPT#{time}#{random}` |
//! | connect key     | `CONNECTKEY#{sha256}`       | `CONNECTKEY`    |
//! | consent session | `CONSENT#{sha256}`          | `SESSION`       |
//! | sign-in state (OpenID Connect) | `CONSENT#{sha256(state)}` | `SIGNIN` |
//! | signed-in session | `CONSENT#{sha256}`        | `SIGNEDIN`      |
//! | failed key tries| `COMPANY#{companyId}`       | `CONSENTFAILURES#{window}` |
//! | … per address   | `CONSENTADDR#{address}`     | `CONSENTFAILURES#{window}` |
//! | event           | `INTEGRATION#{integrationId}` | `EVENT#{time}#{id}` |
//! | event id marker | `EVENTID#{integrationId}#{eventId}` | `EVENTID`  |
//! | SR call schedule| `PACE#{companyId}`          | `PACE`          |
//! | vendor API key  | `VENDORKEY#{keyId}` (`admin` for the admin key) | `VENDORKEY` |
//!
//! Orders are indexed in `gsi2` by integration (`INTEGRATION#{id}#ORDERS`, created time) for the
//! vendor's order list. `gsi2` projects keys only, so the order's many updates (enrichment,
//! results, deliveries) never rewrite an index copy; the list reads the orders themselves.
//! Orders written before `gsi2` existed are in `gsi1` (projection `ALL`) under the same keys, and
//! the list reads those first. `gsi1` also indexes per-integration vendor keys
//! (`INTEGRATION#{id}#VENDORKEYS`). Tokens sit under their company so disabling it can find them all.

pub const PK: &str = "pk";
pub const SK: &str = "sk";
pub const GSI1: &str = "gsi1";
pub const GSI1_PK: &str = "gsi1pk";
pub const GSI1_SK: &str = "gsi1sk";
/// The order list's index (projection `KEYS_ONLY`).
pub const GSI2: &str = "gsi2";
pub const GSI2_PK: &str = "gsi2pk";
pub const GSI2_SK: &str = "gsi2sk";
/// Epoch seconds; DynamoDB's TTL deletes expired items (tokens) in the background.
pub const EXPIRES_AT: &str = "expires_at";

pub fn company(company_id: &str) -> (String, String) {
    (format!("COMPANY#{company_id}"), "PROFILE".into())
}

pub fn token(company_id: &str, digest: &str) -> (String, String) {
    (format!("COMPANY#{company_id}"), format!("TOKEN#{digest}"))
}

pub fn client(client_id: &str) -> (String, String) {
    (format!("CLIENT#{client_id}"), "CLIENT".into())
}

pub fn catalog(integration_id: &str) -> (String, String) {
    (format!("INTEGRATION#{integration_id}"), "CATALOG".into())
}

/// The catalog's `version` alone, written with the catalog: what an order's transaction checks
/// (a condition check is billed at the checked item's size, and the catalog is kilobytes).
pub fn catalog_version(integration_id: &str) -> (String, String) {
    (
        format!("INTEGRATION#{integration_id}"),
        "CATALOGVERSION".into(),
    )
}

pub fn order(order_id: &str) -> (String, String) {
    (order_pk(order_id), "ORDER".into())
}

const ORDER_PREFIX: &str = "ORDER#";

/// The partition of an order's items: `ORDER#{id}`.
fn order_pk(order_id: &str) -> String {
    format!("{ORDER_PREFIX}{order_id}")
}

/// The order id in an order partition's `pk` (`ORDER#{id}`); `None` for another partition.
pub fn order_id_in(pk: &str) -> Option<&str> {
    pk.strip_prefix(ORDER_PREFIX)
}

/// The order id of an item of an order's partition (its order item, state item, history).
pub fn order_id_of(item: &super::Item) -> Option<&str> {
    order_id_in(item.get(PK)?.as_s().ok()?)
}

/// What changes on an order after SR placed it: its latest result and version, its delivery
/// state, the erasure tombstone. An item of its own beside the order item (request and
/// enrichment), because DynamoDB bills a write at the size of the whole item it rewrites: a
/// result or a delivery then rewrites a few hundred bytes, not the 2–3 KB order. Sorts right
/// after the order item (`ORDER` < `STATE`), so the order's history Query reads it too. Orders
/// written before it existed keep their state on the order item until their next result.
pub fn order_state(order_id: &str) -> (String, String) {
    (order_pk(order_id), "STATE".into())
}

/// Sort-key prefix of an order's result files (see [`file()`]).
pub const FILE_PREFIX: &str = "FILE#";

/// A file attachment of an order's result: next to the order (one Query finds them all) but its
/// own item, so file bytes never count against the order item's 400 KB. Keyed by a digest of the
/// file name: names are free text, and re-submitting a name replaces its item.
pub fn file(order_id: &str, name: &str) -> (String, String) {
    (
        order_pk(order_id),
        format!(
            "{FILE_PREFIX}{}",
            crate::auth::credentials::hex_digest(name.as_bytes())
        ),
    )
}

/// The bytes of an inline file as one submission (`revision`) sent them: written before that
/// submission's result is stored, so the transaction that stores it only points the file at
/// them, and a submission that is never stored leaves the order's files as they were. Sorts
/// after every `FILE#` item (`#` < `D`), so the Query of an order's files does not read bytes.
pub fn file_data(order_id: &str, name: &str, revision: &str) -> (String, String) {
    (
        order_pk(order_id),
        format!(
            "FILEDATA#{}#{revision}",
            crate::auth::credentials::hex_digest(name.as_bytes())
        ),
    )
}

/// Sort-key prefix of an order's history: its submissions and delivery attempts (but the
/// acceptances on its state item, `order_state::Acceptance`), each its own item so the order
/// item never grows with them (DynamoDB items hold at most 400 KB). They sort
/// after the files and right before the order item (`FILE#` < `HISTORY#` < `ORDER`), so one
/// Query from this prefix reads the history and the order together.
pub const HISTORY_PREFIX: &str = "HISTORY#";
pub const SUBMISSION_PREFIX: &str = "HISTORY#SUBMISSION#";
pub const ATTEMPT_PREFIX: &str = "HISTORY#ATTEMPT#";

/// The submission that became result `version` (zero-padded: sorts in version order).
pub fn submission(order_id: &str, version: u64) -> (String, String) {
    (
        order_pk(order_id),
        format!("{SUBMISSION_PREFIX}{version:020}"),
    )
}

/// One delivery attempt, in time order; `unique` tells apart attempts of the same instant.
pub fn attempt(
    order_id: &str,
    at: chrono::DateTime<chrono::Utc>,
    unique: &str,
) -> (String, String) {
    (
        order_pk(order_id),
        format!(
            "{ATTEMPT_PREFIX}{}#{unique}",
            at.format("%Y-%m-%dT%H:%M:%S%.6fZ")
        ),
    )
}

pub fn orders_of_integration(integration_id: &str) -> String {
    format!("INTEGRATION#{integration_id}#ORDERS")
}

/// A vendor API key's record (digest only); looked up by the id the key carries.
pub fn vendor_key(key_id: &str) -> (String, String) {
    (format!("VENDORKEY#{key_id}"), "VENDORKEY".into())
}

/// `gsi1pk` of an integration's vendor keys.
pub fn vendor_keys_of_integration(integration_id: &str) -> String {
    format!("INTEGRATION#{integration_id}#VENDORKEYS")
}

pub fn connect_key(digest: &str) -> (String, String) {
    (format!("CONNECTKEY#{digest}"), "CONNECTKEY".into())
}

pub fn consent_session(digest: &str) -> (String, String) {
    (format!("CONSENT#{digest}"), "SESSION".into())
}

/// An OpenID Connect sign-in under way, by the digest of its `state`.
pub fn sign_in_state(state_digest: &str) -> (String, String) {
    (format!("CONSENT#{state_digest}"), "SIGNIN".into())
}

/// A signed-in admin's session, by the digest of its cookie.
pub fn signed_in_session(digest: &str) -> (String, String) {
    (format!("CONSENT#{digest}"), "SIGNEDIN".into())
}

/// One counter per company and rate-limit window.
pub fn consent_failures(company_id: &str, bucket: i64) -> (String, String) {
    (
        format!("COMPANY#{company_id}"),
        format!("CONSENTFAILURES#{bucket}"),
    )
}

/// One counter per client address and rate-limit window (a partition of its own: an address is
/// no company's).
pub fn consent_address_failures(address: &str, bucket: i64) -> (String, String) {
    (
        format!("CONSENTADDR#{address}"),
        format!("CONSENTFAILURES#{bucket}"),
    )
}

/// Events sort by time, then id, under their integration.
pub fn event(
    integration_id: &str,
    at: chrono::DateTime<chrono::Utc>,
    id: &str,
) -> (String, String) {
    (
        format!("INTEGRATION#{integration_id}"),
        format!("EVENT#{}#{id}", at.format("%Y-%m-%dT%H:%M:%S%.6fZ")),
    )
}

/// The shared SR call schedule of one company's credential (see `pacing`).
pub fn pacing(company_id: &str) -> (String, String) {
    (format!("PACE#{company_id}"), "PACE".into())
}

/// One per event id: records an event once however often it is emitted, and holds it for the
/// webhook dispatcher (the event is listed only after its message is queued). A partition of
/// its own, so it never shows up in the event list.
pub fn event_id(integration_id: &str, event_id: &str) -> (String, String) {
    (
        format!("EVENTID#{integration_id}#{event_id}"),
        "EVENTID".into(),
    )
}
