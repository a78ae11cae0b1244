//! A thin client of the SR simulator's test API (`/__sim/...`).

use serde_json::{json, Value};

#[derive(Clone)]
pub struct Simulator {
    base: String,
    http: reqwest::Client,
}

/// The simulator's report of a call it made to the connector as SR.
#[derive(Debug, Clone)]
pub struct SrCall {
    pub status: u16,
    pub body: Value,
}

impl Simulator {
    pub fn new(base: &str) -> Self {
        Self {
            base: base.trim_end_matches('/').to_string(),
            http: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(600))
                .build()
                .unwrap(),
        }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        let response = self
            .http
            .post(format!("{}/__sim{path}", self.base))
            .json(&body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("SR simulator unreachable: {e}"));
        let status = response.status();
        let value: Value = response.json().await.unwrap_or(Value::Null);
        assert!(
            status.is_success(),
            "simulator {path} answered {status}: {value}"
        );
        value
    }

    fn call(value: Value) -> SrCall {
        SrCall {
            status: value["status"].as_u64().unwrap_or(0) as u16,
            body: value["body"].clone(),
        }
    }

    /// SR asks the connector for an access token with the company's credentials.
    pub async fn token(&self, company_id: &str) -> SrCall {
        Self::call(
            self.post(&format!("/companies/{company_id}/token"), json!({}))
                .await,
        )
    }

    /// SR lists the company's packages.
    pub async fn list_packages(&self, company_id: &str) -> SrCall {
        Self::call(
            self.post(&format!("/companies/{company_id}/packages"), json!({}))
                .await,
        )
    }

    /// SR reads one package.
    pub async fn get_package(&self, company_id: &str, package_id: &str) -> SrCall {
        Self::call(
            self.post(
                &format!("/companies/{company_id}/packages/{package_id}"),
                json!({}),
            )
            .await,
        )
    }

    /// SR orders `package_id`; returns the order id and SR's view of the connector's answer.
    pub async fn place_order(&self, company_id: &str, package_id: &str) -> (String, SrCall, Value) {
        let value = self
            .post(
                &format!("/companies/{company_id}/orders"),
                json!({"assessmentPackageId": package_id}),
            )
            .await;
        let order_id = value["orderId"].as_str().expect("orderId").to_string();
        let request = value["request"].clone();
        (order_id, Self::call(value), request)
    }

    /// SR places an order of `package_id` for `candidate` (merged onto the generated one: e.g.
    /// `{"id", "firstName", "lastName", "email", "phoneNumber"}`); `GET /candidates/{id}`
    /// then answers the same person. Answers the order id.
    pub async fn place_order_for(
        &self,
        company_id: &str,
        package_id: &str,
        candidate: Value,
    ) -> (String, SrCall) {
        let value = self
            .post(
                &format!("/companies/{company_id}/orders"),
                json!({"assessmentPackageId": package_id, "candidate": candidate}),
            )
            .await;
        let order_id = value["orderId"].as_str().expect("orderId").to_string();
        (order_id, Self::call(value))
    }

    /// SR lists packages for a job at `query` (location and custom fields), as `requester`.
    pub async fn list_packages_for(
        &self,
        company_id: &str,
        query: Value,
        requester: Option<Value>,
    ) -> SrCall {
        let mut body = json!({"query": query});
        if let Some(r) = requester {
            body["requester"] = r;
        }
        Self::call(
            self.post(&format!("/companies/{company_id}/packages"), body)
                .await,
        )
    }

    /// SR places an inline order; the connector answers the candidate's URL.
    pub async fn place_inline_order(&self, company_id: &str, package_id: &str) -> (String, SrCall) {
        let value = self
            .post(
                &format!("/companies/{company_id}/orders"),
                json!({"assessmentPackageId": package_id, "inline": true}),
            )
            .await;
        let order_id = value["orderId"].as_str().expect("orderId").to_string();
        (order_id, Self::call(value))
    }

    /// SR disables the integration (`DELETE integrationDisableUrl`).
    pub async fn disable(&self, company_id: &str) -> SrCall {
        Self::call(
            self.post(&format!("/companies/{company_id}/disable"), json!({}))
                .await,
        )
    }

    /// SR disables the integration on its side (the company's SR credentials stop working),
    /// then calls the connector as `options` say: `{"notify": false}` (the call is lost) or
    /// `{"with_token": false}` (no `Authorization`).
    pub async fn disable_with(&self, company_id: &str, options: Value) -> SrCall {
        Self::call(
            self.post(&format!("/companies/{company_id}/disable"), options)
                .await,
        )
    }

    /// The client credentials SR presents to the connector's token endpoint for the company
    /// (`(client_id, client_secret)`); the connector itself keeps only their digest.
    pub async fn partner_credentials(&self, company_id: &str) -> (String, String) {
        let response = self
            .http
            .get(format!(
                "{}/__sim/companies/{company_id}/credentials",
                self.base
            ))
            .send()
            .await
            .expect("simulator reachable");
        assert!(
            response.status().is_success(),
            "no SR credentials for {company_id}"
        );
        let body: Value = response.json().await.unwrap();
        (
            body["clientId"].as_str().unwrap().to_string(),
            body["clientSecret"].as_str().unwrap().to_string(),
        )
    }

    /// Sends an arbitrary request to one of the configured partner URLs with the company's token.
    pub async fn raw(&self, company_id: &str, body: Value) -> SrCall {
        Self::call(
            self.post(&format!("/companies/{company_id}/raw"), body)
                .await,
        )
    }

    /// What the simulator (as SR) holds for an order: merged result, patches, attachments.
    pub async fn order(&self, order_id: &str) -> Option<Value> {
        let response = self
            .http
            .get(format!("{}/__sim/orders/{order_id}", self.base))
            .send()
            .await
            .ok()?;
        if !response.status().is_success() {
            return None;
        }
        response.json().await.ok()
    }

    pub async fn inject_fault(&self, fault: Value) {
        self.post("/faults", fault).await;
    }

    /// The faults no request has taken yet (`GET /__sim/faults`). A fault is taken when its
    /// request arrives, before its `delay_ms`: a delayed fault gone from here is a call in flight
    /// (or answered: see [`Self::requests`], which logs a call once answered).
    pub async fn pending_faults(&self) -> Vec<Value> {
        let answer: Value = self
            .http
            .get(format!("{}/__sim/faults", self.base))
            .send()
            .await
            .expect("simulator reachable")
            .json()
            .await
            .expect("faults are JSON");
        answer["faults"].as_array().cloned().unwrap_or_default()
    }

    /// Sets SR's per-credential limits (`None` = off); see [`RateLimit`](crate::pipeline::RateLimit) to restore them.
    pub async fn set_rate_limit(&self, per_second: Option<u32>, concurrent: Option<u32>) {
        self.post(
            "/rate-limit",
            serde_json::json!({"per_second": per_second, "concurrent": concurrent}),
        )
        .await;
    }

    /// What `client_id`'s token answers say in `expires_in` (`Value::Null` restores SR's 1800).
    pub async fn set_token_lifetime(&self, client_id: &str, expires_in: Value) {
        let response = self
            .http
            .post(format!(
                "{}/__sim/clients/{client_id}/token-lifetime",
                self.base
            ))
            .json(&json!({ "expires_in": expires_in }))
            .send()
            .await
            .expect("SR simulator reachable");
        assert!(response.status().is_success(), "{}", response.status());
    }

    /// The simulator's request log entries whose path contains `path_contains`.
    pub async fn requests(&self, path_contains: &str) -> Vec<Value> {
        self.http
            .get(format!("{}/__sim/requests", self.base))
            .query(&[("path_contains", path_contains)])
            .send()
            .await
            .expect("simulator reachable")
            .json()
            .await
            .expect("request log is JSON")
    }
}
