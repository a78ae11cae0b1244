//! `POST /orders/{orderId}/results/attachment` validates the multipart body the way SR reads it:
//! the file is the part named `attachment`, with a file name and content.

use reqwest::multipart::{Form, Part};
use serde_json::{json, Value};
use sr_simulator::{start, RunningSimulator, SimConfig};

const API: &str = "/assessment-api/v202010";

struct Sim {
    running: RunningSimulator,
    http: reqwest::Client,
    token: String,
}

/// A simulator with one non-inline order `o1` of `company-1`, and that company's token.
async fn sim() -> Sim {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let running = start(SimConfig {
        listen: "127.0.0.1:0".to_owned(),
        ..SimConfig::default()
    })
    .await
    .expect("simulator starts");
    let http = reqwest::Client::new();
    let base = &running.base_url;
    http.post(format!("{base}/__sim/orders"))
        .json(&json!({"orderId": "o1", "companyId": "company-1"}))
        .send()
        .await
        .unwrap();
    let token: Value = http
        .post(format!("{base}/__sim/companies/company-1/customer-token"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    Sim {
        token: token["access_token"].as_str().unwrap().to_owned(),
        running,
        http,
    }
}

impl Sim {
    async fn upload(&self, form: Form) -> (u16, String) {
        let response = self
            .http
            .post(format!(
                "{}{API}/orders/o1/results/attachment",
                self.running.base_url
            ))
            .bearer_auth(&self.token)
            .multipart(form)
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }

    async fn attachments(&self) -> Vec<Value> {
        let view: Value = self
            .http
            .get(format!("{}/__sim/orders/o1", self.running.base_url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        view["attachments"].as_array().cloned().unwrap_or_default()
    }
}

fn pdf() -> Part {
    Part::bytes(b"%PDF-1.7".to_vec())
        .file_name("report.pdf")
        .mime_str("application/pdf")
        .unwrap()
}

#[tokio::test]
async fn the_attachment_part_is_stored_and_other_parts_are_ignored() {
    let sim = sim().await;
    let form = Form::new()
        .text("note", "ignored")
        .part("other", Part::bytes(b"x".to_vec()).file_name("other.txt"))
        .part("attachment", pdf());
    let (status, body) = sim.upload(form).await;
    assert_eq!(status, 201, "{body}");
    let url = serde_json::from_str::<Value>(&body).unwrap()["url"]
        .as_str()
        .unwrap()
        .to_owned();
    let stored = sim.attachments().await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0]["fileName"], "report.pdf");
    assert_eq!(stored[0]["contentType"], "application/pdf");
    assert_eq!(stored[0]["size"], 8);
    let download = sim.http.get(url).send().await.unwrap();
    assert_eq!(download.text().await.unwrap(), "%PDF-1.7");
}

#[tokio::test]
async fn a_file_under_another_part_name_is_not_an_attachment() {
    let sim = sim().await;
    let (status, body) = sim.upload(Form::new().part("file", pdf())).await;
    assert_eq!(status, 400);
    assert!(body.contains("expected field `attachment`"), "{body}");
    assert!(sim.attachments().await.is_empty());
}

#[tokio::test]
async fn the_attachment_needs_a_file_name_and_content_and_comes_once() {
    let sim = sim().await;
    let no_name = Form::new().part("attachment", Part::bytes(b"%PDF".to_vec()));
    let (status, body) = sim.upload(no_name).await;
    assert_eq!(status, 400);
    assert!(body.contains("no filename"), "{body}");

    let empty = Form::new().part("attachment", Part::bytes(Vec::new()).file_name("e.pdf"));
    let (status, body) = sim.upload(empty).await;
    assert_eq!(status, 400);
    assert!(body.contains("empty"), "{body}");

    let twice = Form::new()
        .part("attachment", pdf())
        .part("attachment", pdf());
    let (status, body) = sim.upload(twice).await;
    assert_eq!(status, 400);
    assert!(body.contains("Exactly one"), "{body}");
    assert!(sim.attachments().await.is_empty());
}

#[tokio::test]
async fn a_json_body_is_not_multipart() {
    let sim = sim().await;
    let response = sim
        .http
        .post(format!(
            "{}{API}/orders/o1/results/attachment",
            sim.running.base_url
        ))
        .bearer_auth(&sim.token)
        .json(&json!({"attachment": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert!(response
        .text()
        .await
        .unwrap()
        .contains("multipart/form-data"));
}
