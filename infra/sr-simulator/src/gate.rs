//! Middleware in front of every route: request log, fault injection and SR-like rate limiting.
//!
//! Order: log (outermost, so injected answers are logged too) → fault → rate limit → handler.
//! Admin routes (`/__sim/...`) bypass all of it so test set-up never trips an injected fault.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::auth;
use crate::error::SrError;
use crate::ids;
use crate::state::{AppState, Fault, LoggedRequest, SimState};

pub const TOKEN_PATH: &str = "/identity/oauth/token";
/// Largest token request the gate reads to learn its client id.
const TOKEN_BODY_LIMIT: usize = 64 * 1024;

/// How a path is treated by the gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathClass {
    /// `POST /identity/oauth/token`: logged; faults only with `include_token`; never rate limited.
    Token,
    /// SR API endpoints: logged, faults, rate limit.
    Sr,
    /// `GET /attachments/{id}`, the files SR hosts (also the connector tests' `data_url`s):
    /// logged; faults only when they name the path (a blanket fault stays on SR's API), so a
    /// test can make a download fail; never rate limited.
    File,
    /// Other non-admin routes (inline-complete callback, unknown paths): logged only.
    Other,
    /// `/__sim/...` admin API: untouched.
    Admin,
}

pub fn classify(path: &str) -> PathClass {
    if path == TOKEN_PATH {
        PathClass::Token
    } else if path.starts_with("/assessment-api/")
        || path.starts_with("/candidates/")
        || path.starts_with("/jobs/")
    {
        PathClass::Sr
    } else if path.starts_with("/attachments/") {
        PathClass::File
    } else if path.starts_with("/__sim/") && !path.starts_with("/__sim/inline-complete/") {
        PathClass::Admin
    } else {
        PathClass::Other
    }
}

/// Decrements the client's in-flight count when the handler is done (even if it panicked).
struct InFlight {
    state: Arc<Mutex<crate::state::SimState>>,
    key: String,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = state.in_flight.get_mut(&self.key) {
            *n = n.saturating_sub(1);
        }
    }
}

/// Allowed through: what to attach to the response and what to release afterwards.
struct Permit {
    _in_flight: Option<InFlight>,
    /// `(limit, remaining, reset_epoch)` when a per-second limit is configured.
    rate_headers: Option<(u32, u32, u64)>,
}

pub async fn gate(State(app): State<AppState>, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    let class = classify(&path);
    if class == PathClass::Admin {
        return next.run(request).await;
    }
    let method = request.method().as_str().to_owned();
    let query = request.uri().query().map(str::to_owned);
    let (request, client_id) = if class == PathClass::Token {
        // The client authenticating, from the form or HTTP Basic: the body is read here and
        // handed on unchanged.
        let (parts, body) = request.into_parts();
        let bytes = axum::body::to_bytes(body, TOKEN_BODY_LIMIT)
            .await
            .unwrap_or_default();
        let client = crate::routes::identity::requesting_client(&parts.headers, &bytes);
        (Request::from_parts(parts, bytes.into()), client)
    } else {
        let client = auth::bearer_token(request.headers())
            .and_then(|token| app.lock().tokens.get(token).map(|t| t.client_id.clone()));
        (request, client)
    };
    let started = Instant::now();

    let (response, injected) = match admit(&app, &method, &path, class, client_id.as_deref()).await
    {
        Err(rejection) => (rejection, true),
        Ok(permit) => {
            let mut response = next.run(request).await;
            if let Some((limit, remaining, reset)) = permit.rate_headers {
                set_rate_headers(&mut response, limit, remaining, reset);
            }
            (response, false)
        }
    };

    app.lock().record_request(LoggedRequest {
        at: ids::now_rfc3339(),
        method,
        path,
        query,
        status: response.status().as_u16(),
        client_id,
        duration_ms: started.elapsed().as_millis().try_into().unwrap_or(u64::MAX),
        injected,
    });
    response
}

/// Applies a matching fault, then the rate limiter. `Err` is the answer to send instead.
async fn admit(
    app: &AppState,
    method: &str,
    path: &str,
    class: PathClass,
    client_id: Option<&str>,
) -> Result<Permit, Response> {
    let fault = take_fault(&mut app.lock(), method, path, class, client_id);
    if let Some(fault) = fault {
        if fault.delay_ms > 0 {
            tokio::time::sleep(Duration::from_millis(fault.delay_ms)).await;
        }
        if fault.status != 0 {
            let limit = app.lock().rate_limit.per_second.unwrap_or(0);
            return Err(fault_response(&fault, limit));
        }
    }
    if class != PathClass::Sr {
        return Ok(Permit {
            _in_flight: None,
            rate_headers: None,
        });
    }
    let key = client_id.unwrap_or("anonymous").to_owned();
    let mut guard = app.lock();
    let state = &mut *guard;
    let now = ids::epoch_secs();
    let mut rate_headers = None;
    if let Some(limit) = state.rate_limit.per_second {
        let window = state.rate_windows.entry(key.clone()).or_insert((now, 0));
        if window.0 != now {
            *window = (now, 0);
        }
        if window.1 >= limit {
            return Err(too_many_requests(
                limit,
                0,
                now + 1,
                Some(1),
                "Rate limit exceeded: too many requests per second",
            ));
        }
        window.1 += 1;
        rate_headers = Some((limit, limit - window.1, now + 1));
    }
    let in_flight = state.in_flight.entry(key.clone()).or_default();
    if let Some(max) = state.rate_limit.concurrent {
        if *in_flight >= max {
            let limit = rate_headers.map_or(max, |(l, _, _)| l);
            return Err(too_many_requests(
                limit,
                0,
                now + 1,
                Some(1),
                "Rate limit exceeded: too many concurrent requests",
            ));
        }
    }
    *in_flight += 1;
    Ok(Permit {
        _in_flight: Some(InFlight {
            state: app.inner.clone(),
            key,
        }),
        rate_headers,
    })
}

/// Consumes one use of the first fault matching this request.
fn take_fault(
    state: &mut SimState,
    method: &str,
    path: &str,
    class: PathClass,
    client_id: Option<&str>,
) -> Option<Fault> {
    let applies = match class {
        PathClass::Sr | PathClass::File => true,
        PathClass::Token => state.faults.iter().any(|f| f.include_token),
        PathClass::Other | PathClass::Admin => false,
    };
    if !applies {
        return None;
    }
    let index = state.faults.iter().position(|f| {
        f.count > 0
            && path.contains(&f.path_contains)
            && (class != PathClass::Token || f.include_token)
            && (class != PathClass::File || !f.path_contains.is_empty())
            && f.method
                .as_deref()
                .is_none_or(|m| m.eq_ignore_ascii_case(method))
            && f.client_id.as_deref().is_none_or(|c| Some(c) == client_id)
    })?;
    let fault = &mut state.faults[index];
    fault.count -= 1;
    let hit = fault.clone();
    if fault.count == 0 {
        state.faults.remove(index);
    }
    Some(hit)
}

fn fault_response(fault: &Fault, rate_limit: u32) -> Response {
    let mut response = fault_answer(fault, rate_limit);
    for (name, value) in &fault.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

fn fault_answer(fault: &Fault, rate_limit: u32) -> Response {
    let status = StatusCode::from_u16(fault.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if status == StatusCode::TOO_MANY_REQUESTS {
        // Saturating: faults may carry absurd values on purpose (`u64::MAX` seconds).
        let reset = ids::epoch_secs().saturating_add(fault.retry_after_secs.unwrap_or(1));
        let mut response = too_many_requests(
            rate_limit,
            0,
            reset,
            fault.retry_after_secs,
            "Simulated 429 (fault injection)",
        );
        if let Some(body) = &fault.body {
            *response.body_mut() = Json(body.clone()).into_response().into_body();
        }
        return response;
    }
    let mut response = match &fault.body {
        Some(body) => (status, Json(body.clone())).into_response(),
        None => SrError::new(
            status,
            "SIMULATED_FAULT",
            format!("Simulated {} (fault injection)", status.as_u16()),
        )
        .into_response(),
    };
    if let Some(secs) = fault.retry_after_secs {
        insert_header(&mut response, "retry-after", &secs.to_string());
    }
    response
}

fn too_many_requests(
    limit: u32,
    remaining: u32,
    reset: u64,
    retry_after: Option<u64>,
    message: &str,
) -> Response {
    let mut response =
        SrError::new(StatusCode::TOO_MANY_REQUESTS, "TOO_MANY_REQUESTS", message).into_response();
    set_rate_headers(&mut response, limit, remaining, reset);
    if let Some(secs) = retry_after {
        insert_header(&mut response, "retry-after", &secs.to_string());
    }
    response
}

/// `X-RateLimit-Reset` is the Unix time (seconds) at which the window resets.
fn set_rate_headers(response: &mut Response, limit: u32, remaining: u32, reset: u64) {
    insert_header(response, "x-ratelimit-limit", &limit.to_string());
    insert_header(response, "x-ratelimit-remaining", &remaining.to_string());
    insert_header(response, "x-ratelimit-reset", &reset.to_string());
}

fn insert_header(response: &mut Response, name: &'static str, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        response
            .headers_mut()
            .insert(HeaderName::from_static(name), value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fault(path: &str, count: u32, include_token: bool) -> Fault {
        Fault {
            path_contains: path.to_owned(),
            method: None,
            status: 500,
            count,
            retry_after_secs: None,
            delay_ms: 0,
            include_token,
            body: None,
            headers: Default::default(),
            client_id: None,
        }
    }

    #[test]
    fn classifies_paths() {
        assert_eq!(classify("/identity/oauth/token"), PathClass::Token);
        assert_eq!(
            classify("/assessment-api/v202010/orders/x/results"),
            PathClass::Sr
        );
        assert_eq!(classify("/jobs/1/hiring-team"), PathClass::Sr);
        assert_eq!(classify("/__sim/state"), PathClass::Admin);
        assert_eq!(classify("/__sim/inline-complete/1"), PathClass::Other);
        assert_eq!(classify("/attachments/1"), PathClass::File);
    }

    #[test]
    fn only_faults_naming_a_file_path_hit_downloads() {
        let mut state = SimState {
            faults: vec![fault("", 1, false)],
            ..SimState::default()
        };
        assert!(take_fault(&mut state, "GET", "/attachments/a1", PathClass::File, None).is_none());
        state.faults.push(fault("/attachments/a1", 1, false));
        let hit = take_fault(&mut state, "GET", "/attachments/a1", PathClass::File, None);
        assert_eq!(
            hit.map(|f| f.path_contains).as_deref(),
            Some("/attachments/a1")
        );
        assert_eq!(state.faults.len(), 1, "the blanket fault is still pending");
    }

    #[test]
    fn faults_are_consumed_and_token_path_needs_opt_in() {
        let mut state = SimState {
            faults: vec![fault("", 2, false)],
            ..Default::default()
        };
        assert!(take_fault(&mut state, "POST", TOKEN_PATH, PathClass::Token, None).is_none());
        assert!(take_fault(&mut state, "GET", "/jobs/1", PathClass::Sr, None).is_some());
        assert!(take_fault(&mut state, "GET", "/jobs/1", PathClass::Sr, None).is_some());
        assert!(take_fault(&mut state, "GET", "/jobs/1", PathClass::Sr, None).is_none());
        state.faults = vec![fault("/results", 1, false), fault("token", 1, true)];
        assert!(take_fault(&mut state, "GET", "/jobs/1", PathClass::Sr, None).is_none());
        assert_eq!(
            take_fault(&mut state, "POST", TOKEN_PATH, PathClass::Token, None)
                .map(|f| f.path_contains),
            Some("token".into())
        );
        assert_eq!(state.faults.len(), 1);
    }
}
