//! The simulator acting as SR towards the connector: `POST /__sim/companies/{companyId}/...`.
//!
//! Uses the stored partner configuration URLs and the partner credentials SR received for the
//! company in `POST /integration/company/{companyId}`, like real SR does. Each call answers
//! `{"status", "body"}` with what the connector returned (plus extras per endpoint); failures to
//! reach the connector at all answer 502.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::header;
use axum::Json;
use reqwest::{Method, RequestBuilder};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::error::SrError;
use crate::fixtures;
use crate::ids::{self, encode_segment};
use crate::routes::admin::optional_json;
use crate::state::{AppState, Integration, Order};

/// Connector tokens are refreshed this long before the expiry they announced.
const TOKEN_EXPIRY_MARGIN_SECS: u64 = 5;
/// Cache lifetime when the connector's token answer has no `expires_in`.
const DEFAULT_CONNECTOR_TOKEN_TTL_SECS: u64 = 300;

/// What the connector answered.
struct Upstream {
    status: u16,
    headers: BTreeMap<String, String>,
    body: Value,
}

impl Upstream {
    fn status_and_body(&self) -> Value {
        json!({ "status": self.status, "body": self.body })
    }
}

/// Sends `request` and reads the whole answer; JSON bodies are parsed, others kept as text.
async fn send(request: RequestBuilder, what: &str) -> Result<Upstream, SrError> {
    let response = request
        .send()
        .await
        .map_err(|e| SrError::bad_gateway(format!("Could not call connector ({what}): {e}")))?;
    let status = response.status().as_u16();
    let mut headers = BTreeMap::new();
    for (name, value) in response.headers() {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        headers
            .entry(name.as_str().to_owned())
            .and_modify(|v: &mut String| {
                v.push_str(", ");
                v.push_str(&value);
            })
            .or_insert(value);
    }
    let bytes = response.bytes().await.map_err(|e| {
        SrError::bad_gateway(format!("Could not read connector answer ({what}): {e}"))
    })?;
    let body = if bytes.iter().all(u8::is_ascii_whitespace) {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
    };
    Ok(Upstream {
        status,
        headers,
        body,
    })
}

/// The partner configuration and the company's integration, or 404.
fn company_setup(app: &AppState, company_id: &str) -> Result<(Value, Integration), SrError> {
    let state = app.lock();
    let config = state.partner_configuration.clone().ok_or_else(|| {
        SrError::not_found("No partner configuration stored (PUT /partner/configuration first)")
    })?;
    let integration = state
        .companies
        .get(company_id)
        .and_then(|c| c.integration.clone())
        .ok_or_else(|| SrError::not_found(format!("Company {company_id} is not integrated")))?;
    Ok((config, integration))
}

/// A configured URL by key (`packageOrderUrl`, ...), or 400 when the partner did not configure it.
fn configured_url(config: &Value, key: &str) -> Result<String, SrError> {
    config
        .get(key)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| SrError::bad_request(format!("Partner configuration has no `{key}`")))
}

/// Substitutes `{placeholder}` in `url` with `value`, or appends `value` as a path segment.
pub fn fill_url(url: &str, placeholder: &str, value: &str) -> String {
    let marker = format!("{{{placeholder}}}");
    if url.contains(&marker) {
        return url.replace(&marker, &encode_segment(value));
    }
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            if let Ok(mut segments) = parsed.path_segments_mut() {
                segments.pop_if_empty().push(value);
            }
            parsed.to_string()
        }
        Err(_) => format!("{}/{}", url.trim_end_matches('/'), encode_segment(value)),
    }
}

/// Calls the connector's `oauthTokenUrl` with the company's partner credentials; caches the
/// token on success.
async fn fetch_token(app: &AppState, company_id: &str) -> Result<Upstream, SrError> {
    let (config, integration) = company_setup(app, company_id)?;
    let url = configured_url(&config, "oauthTokenUrl")?;
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", integration.partner_client_id.as_str()),
        ("client_secret", integration.partner_client_secret.as_str()),
    ];
    let upstream = send(app.http.post(&url).form(&form), "token").await?;
    let token = upstream.body.get("access_token").and_then(Value::as_str);
    if let (200, Some(token)) = (upstream.status, token) {
        let ttl = upstream
            .body
            .get("expires_in")
            .and_then(Value::as_u64)
            .unwrap_or(DEFAULT_CONNECTOR_TOKEN_TTL_SECS)
            .saturating_sub(TOKEN_EXPIRY_MARGIN_SECS);
        let mut state = app.lock();
        if let Some(company) = state.companies.get_mut(company_id) {
            company.connector_token =
                (ttl > 0).then(|| (token.to_owned(), Instant::now() + Duration::from_secs(ttl)));
        }
    }
    Ok(upstream)
}

/// A connector access token for the company: cached until expiry, else freshly fetched.
async fn bearer(app: &AppState, company_id: &str) -> Result<String, SrError> {
    let cached = app
        .lock()
        .companies
        .get(company_id)
        .and_then(|c| c.connector_token.clone())
        .filter(|(_, expires_at)| *expires_at > Instant::now());
    if let Some((token, _)) = cached {
        return Ok(token);
    }
    let upstream = fetch_token(app, company_id).await?;
    match upstream.body.get("access_token").and_then(Value::as_str) {
        Some(token) if upstream.status == 200 => Ok(token.to_owned()),
        _ => Err(
            SrError::bad_gateway("Connector token endpoint did not issue an access token")
                .with_detail(upstream.status_and_body()),
        ),
    }
}

/// Drops a cached connector token the connector rejected, so the next call fetches a new one.
fn forget_token_on_401(app: &AppState, company_id: &str, upstream: &Upstream) {
    if upstream.status == 401 {
        if let Some(company) = app.lock().companies.get_mut(company_id) {
            company.connector_token = None;
        }
    }
}

/// Sends an authorized request to the connector on behalf of the company.
async fn call_connector(
    app: &AppState,
    company_id: &str,
    request: RequestBuilder,
    what: &str,
) -> Result<Upstream, SrError> {
    let token = bearer(app, company_id).await?;
    let upstream = send(request.bearer_auth(token), what).await?;
    forget_token_on_401(app, company_id, &upstream);
    Ok(upstream)
}

/// `POST /__sim/companies/{companyId}/token`: always fetches a fresh connector token.
pub async fn token(
    State(app): State<AppState>,
    Path(company_id): Path<String>,
) -> Result<Json<Value>, SrError> {
    Ok(Json(
        fetch_token(&app, &company_id).await?.status_and_body(),
    ))
}

#[derive(Deserialize, Default)]
pub struct PackagesCall {
    /// Query parameters (`country-code`, `remote`, partner field ids, ...); non-strings are stringified.
    query: Option<Map<String, Value>>,
    /// Sent as the `requester` header, JSON-encoded.
    requester: Option<Value>,
}

/// `POST /__sim/companies/{companyId}/packages`: `GET assessmentPackageListUrl`.
pub async fn list_packages(
    State(app): State<AppState>,
    Path(company_id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, SrError> {
    let call: PackagesCall = optional_json(&body)?;
    let (config, _) = company_setup(&app, &company_id)?;
    let url = configured_url(&config, "assessmentPackageListUrl")?;
    let query: Vec<(String, String)> = call
        .query
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, v.as_str().map_or_else(|| v.to_string(), str::to_owned)))
        .collect();
    let mut request = app.http.get(&url).query(&query);
    if let Some(requester) = call.requester {
        request = request.header("requester", requester.to_string());
    }
    let upstream = call_connector(&app, &company_id, request, "list packages").await?;
    Ok(Json(upstream.status_and_body()))
}

/// `POST /__sim/companies/{companyId}/packages/{packageId}`: `GET singleAssessmentPackageUrl`.
pub async fn get_package(
    State(app): State<AppState>,
    Path((company_id, package_id)): Path<(String, String)>,
) -> Result<Json<Value>, SrError> {
    let (config, _) = company_setup(&app, &company_id)?;
    let url = fill_url(
        &configured_url(&config, "singleAssessmentPackageUrl")?,
        "assessmentPackageId",
        &package_id,
    );
    let upstream = call_connector(&app, &company_id, app.http.get(&url), "get package").await?;
    Ok(Json(upstream.status_and_body()))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct PlaceOrder {
    assessment_package_id: Option<String>,
    /// Merge-patched onto the generated candidate / job / requester (null removes a member).
    candidate: Option<Value>,
    job: Option<Value>,
    requester: Option<Value>,
    fields: Option<Value>,
    order_id: Option<String>,
    #[serde(default)]
    inline: bool,
    /// Merge-patched onto the whole request body last (e.g. `{"resultCallbackURL": null}`).
    request_patch: Option<Value>,
}

fn patched(mut base: Value, patch: Option<&Value>) -> Value {
    if let Some(patch) = patch {
        json_patch::merge(&mut base, patch);
    }
    base
}

/// Builds the `AssessmentPackageOrderRequest` / `InlineAssessmentPackageOrderRequest` SR sends.
fn build_order_request(
    app: &AppState,
    company_id: &str,
    order_id: &str,
    package_id: &str,
    order: &PlaceOrder,
) -> Value {
    let base = &app.base_url;
    let seg = encode_segment(order_id);
    let default_candidate = fixtures::order_candidate(&ids::uuid_v4(), base);
    let job = patched(
        fixtures::order_job(&ids::uuid_v4(), base),
        order.job.as_ref(),
    );
    let mut body = json!({
        "resultCallbackURL": format!("{base}/assessment-api/v202010/orders/{seg}/results"),
        "assessmentPackageId": package_id,
        "jobId": job["id"],
        "companyId": company_id,
    });
    if order.inline {
        let candidate = json!({
            "email": default_candidate["email"],
            "firstName": default_candidate["firstName"],
            "lastName": default_candidate["lastName"],
            "applicationLanguage": "en",
        });
        body["candidate"] = patched(candidate, order.candidate.as_ref());
        body["job"] = patched(json!({ "id": job["id"] }), order.job.as_ref());
        body["completedAssessmentCallbackUrl"] =
            json!(format!("{base}/__sim/inline-complete/{seg}"));
    } else {
        let requester = json!({ "userId": ids::uuid_v4(), "email": "recruiter@example.com" });
        body["candidate"] = patched(default_candidate, order.candidate.as_ref());
        body["job"] = job;
        body["requester"] = patched(requester, order.requester.as_ref());
    }
    if let Some(fields) = &order.fields {
        body["fields"] = fields.clone();
    }
    patched(body, order.request_patch.as_ref())
}

/// Keeps `GET /candidates/{id}` and `GET /jobs/{id}` consistent with overridden order data.
fn remember_overridden_fixtures(app: &AppState, request: &Value, order: &PlaceOrder) {
    let mut state = app.lock();
    if let (Some(_), Some(id)) = (&order.candidate, request["candidate"]["id"].as_str()) {
        let mut fixture = fixtures::candidate(id, &app.base_url);
        json_patch::merge(&mut fixture, &request["candidate"]);
        state.fixtures.candidates.insert(id.to_owned(), fixture);
    }
    if let (Some(_), Some(id)) = (&order.job, request["job"]["id"].as_str()) {
        let mut fixture = fixtures::job(id, &app.base_url);
        json_patch::merge(&mut fixture, &request["job"]);
        state.fixtures.jobs.insert(id.to_owned(), fixture);
    }
}

/// `POST /__sim/companies/{companyId}/orders`: registers the order and sends it to the connector.
pub async fn place_order(
    State(app): State<AppState>,
    Path(company_id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, SrError> {
    let order: PlaceOrder = optional_json(&body)?;
    let package_id = order
        .assessment_package_id
        .clone()
        .filter(|p| !p.is_empty())
        .ok_or_else(|| SrError::bad_request("`assessmentPackageId` is required"))?;
    let (config, _) = company_setup(&app, &company_id)?;
    let url_key = if order.inline {
        "inlineAssessmentPackageOrderUrl"
    } else {
        "packageOrderUrl"
    };
    let url = configured_url(&config, url_key)?;
    let order_id = order
        .order_id
        .clone()
        .filter(|o| !o.is_empty())
        .unwrap_or_else(ids::uuid_v4);
    let request = build_order_request(&app, &company_id, &order_id, &package_id, &order);
    let token = bearer(&app, &company_id).await?;

    remember_overridden_fixtures(&app, &request, &order);
    {
        let mut state = app.lock();
        let known = state
            .orders
            .entry(order_id.clone())
            .or_insert_with(|| Order::new(company_id.clone(), order.inline));
        known.company_id = company_id.clone();
        known.inline = order.inline;
        known.request = Some(request.clone());
    }
    let upstream = send(
        app.http.post(&url).bearer_auth(token).json(&request),
        "place order",
    )
    .await?;
    forget_token_on_401(&app, &company_id, &upstream);
    Ok(Json(json!({
        "orderId": order_id,
        "url": url,
        "request": request,
        "status": upstream.status,
        "body": upstream.body,
    })))
}

#[derive(Deserialize)]
pub struct RawCall {
    #[serde(default = "default_raw_method")]
    method: String,
    /// Partner configuration key naming the target URL (`{companyId}` is substituted) ...
    url_key: Option<String>,
    /// ... or an absolute URL.
    url: Option<String>,
    #[serde(default)]
    path_suffix: String,
    #[serde(default)]
    query: Map<String, Value>,
    /// Extra headers; an `Authorization` here replaces the company bearer token.
    #[serde(default)]
    headers: BTreeMap<String, String>,
    /// JSON is sent serialized; a JSON string is sent verbatim.
    body: Option<Value>,
    content_type: Option<String>,
    /// Send without any `Authorization` header.
    #[serde(default)]
    no_auth: bool,
}

fn default_raw_method() -> String {
    "POST".to_owned()
}

/// `POST /__sim/companies/{companyId}/raw`: an arbitrary request to a configured connector URL.
pub async fn raw(
    State(app): State<AppState>,
    Path(company_id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, SrError> {
    let call: RawCall = serde_json::from_slice(&body)
        .map_err(|e| SrError::bad_request(format!("Invalid raw call: {e}")))?;
    let method = Method::from_bytes(call.method.to_ascii_uppercase().as_bytes())
        .map_err(|_| SrError::bad_request(format!("Invalid method `{}`", call.method)))?;
    let base_url = match (&call.url, &call.url_key) {
        (Some(url), _) => url.clone(),
        (None, Some(key)) => {
            let config = app
                .lock()
                .partner_configuration
                .clone()
                .ok_or_else(|| SrError::not_found("No partner configuration stored"))?;
            configured_url(&config, key)?.replace("{companyId}", &encode_segment(&company_id))
        }
        (None, None) => {
            return Err(SrError::bad_request(
                "Either `url_key` or `url` is required",
            ))
        }
    };
    let url = format!("{base_url}{}", call.path_suffix);
    let query: Vec<(String, String)> = call
        .query
        .into_iter()
        .map(|(k, v)| (k, v.as_str().map_or_else(|| v.to_string(), str::to_owned)))
        .collect();
    let mut request = app.http.request(method, &url).query(&query);
    let explicit_auth = call
        .headers
        .keys()
        .any(|k| k.eq_ignore_ascii_case("authorization"));
    for (name, value) in &call.headers {
        request = request.header(name.as_str(), value.as_str());
    }
    match call.body {
        None => {}
        Some(Value::String(text)) => request = request.body(text),
        Some(json) => {
            request = request.body(json.to_string());
            if call.content_type.is_none() {
                request = request.header(header::CONTENT_TYPE, "application/json");
            }
        }
    }
    if let Some(content_type) = &call.content_type {
        request = request.header(header::CONTENT_TYPE, content_type.as_str());
    }
    let upstream = if call.no_auth || explicit_auth {
        send(request, "raw").await?
    } else {
        call_connector(&app, &company_id, request, "raw").await?
    };
    Ok(Json(json!({
        "url": url,
        "status": upstream.status,
        "headers": upstream.headers,
        "body": upstream.body,
    })))
}

#[derive(Deserialize)]
pub struct DisableCall {
    /// Call the connector's `integrationDisableUrl` (false: SR's call is lost on the way).
    #[serde(default = "yes")]
    notify: bool,
    /// Send the company's connector token with it (false: no `Authorization`, as SR's spec
    /// allows; the connector must then confirm with SR).
    #[serde(default = "yes")]
    with_token: bool,
}

impl Default for DisableCall {
    fn default() -> Self {
        Self {
            notify: true,
            with_token: true,
        }
    }
}

fn yes() -> bool {
    true
}

/// `POST /__sim/companies/{companyId}/disable` `{notify?, with_token?}`: SR-side integration
/// removal. SR disables the integration on its side first — the company's customer-level
/// credentials and the tokens issued with them stop working — then calls
/// `DELETE integrationDisableUrl` (with `{companyId}` substituted or appended), with the
/// connector token it holds for the company unless `with_token` is false.
pub async fn disable_integration(
    State(app): State<AppState>,
    Path(company_id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, SrError> {
    let call: DisableCall = optional_json(&body)?;
    let (config, _) = company_setup(&app, &company_id)?;
    let url = fill_url(
        &configured_url(&config, "integrationDisableUrl")?,
        "companyId",
        &company_id,
    );
    // The connector token is fetched while SR still holds the partner credentials.
    let token = if call.notify && call.with_token {
        Some(bearer(&app, &company_id).await?)
    } else {
        None
    };
    {
        let mut state = app.lock();
        let owner = crate::state::TokenOwner::Company(company_id.clone());
        state.tokens.retain(|_, t| t.owner != owner);
        if let Some(company) = state.companies.get_mut(&company_id) {
            company.integration = None;
            company.connector_token = None;
        }
    }
    if !call.notify {
        return Ok(Json(json!({ "status": null, "body": null })));
    }
    let mut request = app.http.delete(&url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let upstream = send(request, "disable integration").await?;
    Ok(Json(upstream.status_and_body()))
}

/// `GET /__sim/companies/{companyId}/credentials`: the client credentials SR received for the
/// company in `POST /integration/company/{companyId}` (what SR presents to the connector's
/// token endpoint). The connector keeps only their digest, so tests read them here.
pub async fn partner_credentials(
    State(app): State<AppState>,
    Path(company_id): Path<String>,
) -> Result<Json<Value>, SrError> {
    let (_, integration) = company_setup(&app, &company_id)?;
    Ok(Json(json!({
        "clientId": integration.partner_client_id,
        "clientSecret": integration.partner_client_secret,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_url_substitutes_or_appends() {
        assert_eq!(
            fill_url(
                "http://h/packages/{assessmentPackageId}",
                "assessmentPackageId",
                "a b"
            ),
            "http://h/packages/a%20b"
        );
        assert_eq!(
            fill_url("http://h/packages", "assessmentPackageId", "p1"),
            "http://h/packages/p1"
        );
        assert_eq!(
            fill_url("http://h/packages/", "assessmentPackageId", "p1"),
            "http://h/packages/p1"
        );
        assert_eq!(
            fill_url("http://h/packages?x=1", "assessmentPackageId", "p1"),
            "http://h/packages/p1?x=1"
        );
    }
}
