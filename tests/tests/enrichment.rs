//! Order enrichment, in-process against moto and the SR simulator: create-order queues an
//! `OrderReceived` message, the publisher's enrichment arm reads the candidate, job and hiring team
//! from SR's Customer API, stores them on the order, and the vendor sees them (order view, events).
//!
//! Each test sends create-order's messages to a FIFO queue of its own, so it can read them without
//! taking messages from the stack's results queue (which the running stack's poller consumes).

use aws_sdk_sqs::types::QueueAttributeName;
use connector::api::partner::PartnerApi;
use connector::kombo::webhooks::WebhookFormat;
use connector::publisher::{Outcome, ResultPublisher};
use connector::queue::{QueueMessage, ResultsQueue};
use connector_tests::publishing::{self, drain, sqs_message_received, LAST_RECEIVE};
use connector_tests::scenario::demo_catalog;
use connector_tests::{
    create_order_through, json_body, order_body, request, unique, Stack, TestCompany,
};
use lambda_http::http::Method;
use serde_json::{json, Value};

fn record(body: &str, receive_count: u32) -> aws_lambda_events::event::sqs::SqsMessage {
    sqs_message_received(body, receive_count)
}

/// A FIFO queue like the results queue, for this test only.
async fn fifo_queue(stack: &Stack) -> String {
    stack
        .aws
        .sqs
        .create_queue()
        .queue_name(format!("{}.fifo", unique("enrich-test")))
        .attributes(QueueAttributeName::FifoQueue, "true")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap()
}

/// The SR-facing handlers with create-order's messages going to `queue_url`.
fn partner_api(stack: &Stack, queue_url: &str) -> PartnerApi {
    PartnerApi::new(
        stack.store.clone(),
        stack.secrets.clone(),
        ResultsQueue::new(stack.aws.sqs.clone(), queue_url),
        stack.notifications(),
        stack.config.sr.clone(),
        stack.config.access_token_ttl,
    )
}

fn publisher(stack: &Stack) -> ResultPublisher {
    publishing::publisher(stack, stack.notifications())
}

/// What the simulator's fixtures derive from an id (`infra/sr-simulator/src/fixtures.rs`).
fn short_id(id: &str) -> String {
    id.chars()
        .filter(char::is_ascii_alphanumeric)
        .take(8)
        .collect()
}

/// A connected company with the demo catalog and an order the in-process create-order accepted;
/// answers the company, the order id, its request and the messages create-order queued.
async fn ordered(stack: &Stack, label: &str) -> (TestCompany, String, Value, Vec<String>) {
    let company = stack.new_company(label).await;
    stack.put_catalog(&company, demo_catalog()).await;
    let token = stack.access_token(&company).await;
    let queue = fifo_queue(stack).await;
    let (order_id, body) = order_body(stack, &company, "culture-fit");
    let response = create_order_through(&partner_api(stack, &queue), &token, &body).await;
    assert_eq!(response.status(), 202, "{:?}", response.body());
    let messages = drain(stack, &queue).await;
    (company, order_id, body, messages)
}

fn order_received(company: &TestCompany, order_id: &str) -> String {
    serde_json::to_string(&QueueMessage::OrderReceived {
        order_id: order_id.into(),
        company_id: company.company_id.clone(),
    })
    .unwrap()
}

/// Every event of the integration, through the vendor API, one page at a time.
async fn events(stack: &Stack, company: &TestCompany) -> Vec<Value> {
    let mut all = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/assessment/events?page_size=2&cursor={c}"),
            None => "/assessment/events?page_size=2".to_string(),
        };
        let response = stack
            .vendor_call(Method::GET, &path, &company.integration_id, None)
            .await;
        assert_eq!(response.status(), 200, "{:?}", response.body());
        let page = json_body(&response)["data"].clone();
        all.extend(page["results"].as_array().unwrap().iter().cloned());
        match page["next"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => return all,
        }
    }
}

fn ids_of(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn an_order_is_enriched_with_what_sr_holds_about_candidate_job_and_hiring_team() {
    let stack = Stack::connect().await;
    let (company, order_id, body, messages) = ordered(&stack, "enrich").await;
    assert_eq!(messages, vec![order_received(&company, &order_id)]);

    let outcome = publisher(&stack).process(&record(&messages[0], 1)).await;
    assert_eq!(outcome, Outcome::Done);

    let candidate_id = body["candidate"]["id"].as_str().unwrap();
    let job_id = body["job"]["id"].as_str().unwrap();
    let (c, j) = (short_id(candidate_id), short_id(job_id));
    let response = stack
        .vendor_call(
            Method::GET,
            &format!("/assessment/orders/{order_id}"),
            &company.integration_id,
            None,
        )
        .await;
    assert_eq!(response.status(), 200, "{:?}", response.body());
    let enrichment = json_body(&response)["data"]["enrichment"].clone();
    assert_eq!(
        enrichment["candidate"],
        json!({
            "id": candidate_id, "first_name": "Test", "last_name": format!("Candidate-{c}"),
            "email": format!("candidate-{}@example.com", c.to_lowercase()),
            "phone": "+46 70 000 00 00",
            "location": {"city": "Stockholm", "region": "Stockholm County", "country": "Sweden", "country_code": "SE"}
        })
    );
    assert_eq!(
        enrichment["job"],
        json!({
            "id": job_id, "title": format!("Test Job {j}"), "ref_number": format!("REF-{}", j.to_uppercase()),
            "department": {"id": format!("dept-{j}"), "name": "Engineering"},
            "location": {"city": "Stockholm", "region": "Stockholm County", "country": "Sweden",
                         "country_code": "SE", "remote": false}
        })
    );
    assert_eq!(
        enrichment["hiring_team"],
        json!([
            {"user_id": format!("user-{j}-hm"), "role": "HIRING_MANAGER"},
            {"user_id": format!("user-{j}-rec"), "role": "RECRUITER"}
        ])
    );
    assert_eq!(enrichment["notes"], json!([]));

    // The list shows it too.
    let list = stack
        .vendor_call(
            Method::GET,
            "/assessment/orders",
            &company.integration_id,
            None,
        )
        .await;
    let listed = json_body(&list)["data"]["results"][0].clone();
    assert_eq!(listed["id"], order_id.as_str());
    assert_eq!(
        listed["enrichment"]["job"]["ref_number"],
        enrichment["job"]["ref_number"]
    );

    // The vendor was told: order.created, then order.enriched carrying what was found.
    let listed_events = events(&stack, &company).await;
    let ids = ids_of(&listed_events);
    let created = format!("order.created:{order_id}");
    let enriched = format!("order.enriched:{order_id}");
    assert!(ids.contains(&created) && ids.contains(&enriched), "{ids:?}");
    let event = listed_events
        .iter()
        .find(|e| e["id"] == enriched.as_str())
        .unwrap();
    assert_eq!(event["type"], "order.enriched");
    assert_eq!(event["data"]["enrichment"]["job"], enrichment["job"]);

    // SQS delivers at least once: a second delivery changes nothing and repeats no event.
    let again = publisher(&stack).process(&record(&messages[0], 1)).await;
    assert_eq!(again, Outcome::Done);
    assert_eq!(ids_of(&events(&stack, &company).await), ids);
    let stored = stack.store.get_order(&order_id).await.unwrap().unwrap();
    assert_eq!(
        serde_json::to_value(stored.enrichment.unwrap()).unwrap(),
        enrichment
    );
}

#[tokio::test]
async fn an_sr_error_on_the_candidate_is_retried_and_then_the_order_is_enriched() {
    let stack = Stack::connect().await;
    let (company, order_id, body, messages) = ordered(&stack, "enrich-retry").await;
    let candidate_id = body["candidate"]["id"].as_str().unwrap();
    stack
        .sim
        .inject_fault(json!({"path_contains": format!("/candidates/{candidate_id}"), "status": 500, "count": 1}))
        .await;
    let publisher = publisher(&stack);

    let first = publisher.process(&record(&messages[0], 1)).await;
    assert_eq!(first, Outcome::Retry { after: None });
    let order = stack.store.get_order(&order_id).await.unwrap().unwrap();
    assert!(order.enrichment.is_none());
    // SR's outage delays only the enrichment: the vendor already knows of the order.
    let ids = ids_of(&events(&stack, &company).await);
    assert!(
        ids.contains(&format!("order.created:{order_id}")),
        "{ids:?}"
    );
    assert!(
        !ids.contains(&format!("order.enriched:{order_id}")),
        "{ids:?}"
    );

    let second = publisher.process(&record(&messages[0], 2)).await;
    assert_eq!(second, Outcome::Done);
    let enrichment = stack
        .store
        .get_order(&order_id)
        .await
        .unwrap()
        .unwrap()
        .enrichment
        .expect("enriched on the retry");
    assert_eq!(enrichment.candidate.unwrap().id, candidate_id);
    assert!(enrichment.notes.is_empty(), "{:?}", enrichment.notes);
    let ids = ids_of(&events(&stack, &company).await);
    assert_eq!(
        ids.iter().filter(|id| id.ends_with(&order_id)).count(),
        2,
        "order.created once and order.enriched once: {ids:?}"
    );
}

#[tokio::test]
async fn a_candidate_sr_does_not_know_is_noted_and_the_rest_is_stored() {
    let stack = Stack::connect().await;
    let (_company, order_id, body, messages) = ordered(&stack, "enrich-404").await;
    let candidate_id = body["candidate"]["id"].as_str().unwrap();
    stack
        .sim
        .inject_fault(json!({"path_contains": format!("/candidates/{candidate_id}"), "status": 404, "count": 1}))
        .await;
    let outcome = publisher(&stack).process(&record(&messages[0], 1)).await;
    assert_eq!(outcome, Outcome::Done);
    let enrichment = stack
        .store
        .get_order(&order_id)
        .await
        .unwrap()
        .unwrap()
        .enrichment
        .unwrap();
    assert!(enrichment.candidate.is_none());
    assert_eq!(
        enrichment.notes,
        vec![format!(
            "candidate {candidate_id}: not found in SmartRecruiters (404)"
        )]
    );
    assert!(enrichment.job.is_some() && enrichment.hiring_team.is_some());
}

#[tokio::test]
async fn sr_retrying_an_order_after_a_failed_enqueue_still_gets_it_enriched() {
    let stack = Stack::connect().await;
    let company = stack.new_company("enrich-enqueue").await;
    stack.put_catalog(&company, demo_catalog()).await;
    let token = stack.access_token(&company).await;
    let (order_id, body) = order_body(&stack, &company, "culture-fit");

    // The queue is unreachable: the order is stored but SR is told to retry.
    let missing_queue = format!(
        "{}/123456789012/{}.fifo",
        stack.env["MOTO_URL"],
        unique("no-such-queue")
    );
    let response = create_order_through(&partner_api(&stack, &missing_queue), &token, &body).await;
    assert_eq!(response.status(), 503);
    let error = json_body(&response);
    assert_eq!(
        error["errors"][0]["code"], "TEMPORARILY_UNAVAILABLE",
        "{error}"
    );
    assert!(stack.store.get_order(&order_id).await.unwrap().is_some());

    // SR retries the same POST: the stored order is recognised and its message sent now.
    let queue = fifo_queue(&stack).await;
    let retried = create_order_through(&partner_api(&stack, &queue), &token, &body).await;
    assert_eq!(retried.status(), 202, "{:?}", retried.body());
    let messages = drain(&stack, &queue).await;
    assert_eq!(messages, vec![order_received(&company, &order_id)]);
    assert_eq!(
        publisher(&stack).process(&record(&messages[0], 1)).await,
        Outcome::Done
    );
    let order = stack.store.get_order(&order_id).await.unwrap().unwrap();
    assert!(order.enrichment.unwrap().job.is_some());
}

#[tokio::test]
async fn an_inline_order_is_enriched_without_a_candidate_and_announced_as_inline() {
    let stack = Stack::connect().await;
    let company = stack.new_company("enrich-inline").await;
    stack
        .put_catalog(
            &company,
            json!({"packages": [{"id": "chat-inline", "type": "INLINE_ASSESSMENT", "name": "Chat interview",
                "inline_url_template": "https://vendor.example.com/take/{orderId}"}]}),
        )
        .await;
    let token = stack.access_token(&company).await;
    let queue = fifo_queue(&stack).await;
    let order_id = connector_tests::uuid();
    let callback = stack
        .config
        .sr
        .api_url(&format!("orders/{order_id}/results"));
    let body = json!({
        "resultCallbackURL": callback.as_str(),
        "candidate": {"email": "ada@example.com", "firstName": "Ada", "lastName": "Lovelace", "applicationLanguage": "sv"},
        "job": {"id": connector_tests::uuid()},
        "assessmentPackageId": "chat-inline",
        "companyId": company.company_id,
        "completedAssessmentCallbackUrl": "https://www.smartrecruiters.com/inline/done/abc"
    });
    let response = partner_api(&stack, &queue)
        .create_inline_order(request(
            Method::POST,
            "/packages/inline/orders",
            &[
                ("authorization", &format!("Bearer {token}")),
                ("content-type", "application/json"),
            ],
            body.to_string(),
        ))
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{:?}", response.body());
    let messages = drain(&stack, &queue).await;
    assert_eq!(messages, vec![order_received(&company, &order_id)]);

    assert_eq!(
        publisher(&stack).process(&record(&messages[0], 1)).await,
        Outcome::Done
    );
    let enrichment = stack
        .store
        .get_order(&order_id)
        .await
        .unwrap()
        .unwrap()
        .enrichment
        .unwrap();
    assert!(enrichment.candidate.is_none());
    assert_eq!(
        enrichment.job.unwrap().id,
        body["job"]["id"].as_str().unwrap()
    );
    assert_eq!(enrichment.notes.len(), 1, "{:?}", enrichment.notes);
    let listed = events(&stack, &company).await;
    let created = listed
        .iter()
        .find(|e| e["id"] == format!("inline_order.created:{order_id}").as_str())
        .expect("inline_order.created is listed");
    assert_eq!(
        created["data"]["assessment_url"],
        format!("https://vendor.example.com/take/{order_id}").as_str()
    );
}

#[tokio::test]
async fn results_still_reach_sr_while_enrichment_keeps_failing() {
    let stack = Stack::connect().await;
    let (company, order_id, body, messages) = ordered(&stack, "enrich-down").await;
    let job_id = body["job"]["id"].as_str().unwrap();
    stack
        .sim
        .inject_fault(
            json!({"path_contains": format!("/jobs/{job_id}"), "status": 503, "count": 50}),
        )
        .await;
    let publisher = publisher(&stack);
    assert!(publisher.process(&record(&messages[0], 1)).await.is_retry());

    // The vendor submits a result; the publisher delivers it although the order is not enriched.
    // SR (the simulator) accepts results only for orders it placed: make this one known.
    let registered = stack
        .http
        .post(format!("{}/__sim/orders", stack.sim.base()))
        .json(&json!({"orderId": order_id, "companyId": company.company_id}))
        .send()
        .await
        .unwrap();
    assert!(registered.status().is_success());
    let submitted = stack
        .vendor_call(
            Method::PUT,
            &format!("/assessment/orders/{order_id}/result"),
            &company.integration_id,
            Some(json!({"status": "COMPLETED", "score": 80, "max_score": 100})),
        )
        .await;
    assert!(submitted.status().is_success(), "{:?}", submitted.body());
    let version = json_body(&submitted)["data"]["result_version"]
        .as_u64()
        .unwrap();
    let result = serde_json::to_string(&QueueMessage::Result {
        order_id: order_id.clone(),
        company_id: company.company_id.clone(),
        version,
    })
    .unwrap();
    assert_eq!(publisher.process(&record(&result, 1)).await, Outcome::Done);
    let sr = stack.sim.order(&order_id).await.unwrap();
    assert_eq!(sr["result"]["status"], "COMPLETED");
    let order = stack.store.get_order(&order_id).await.unwrap().unwrap();
    assert!(order.enrichment.is_none());
}

/// The publisher of a stack whose webhooks are in Kombo's format (`WebhookFormat=kombo`).
fn kombo_publisher(stack: &Stack) -> ResultPublisher {
    publishing::publisher(
        stack,
        stack.notifications().with_format(WebhookFormat::Kombo),
    )
}

#[tokio::test]
async fn a_kombo_vendor_hears_of_an_order_whose_enrichment_is_given_up_once() {
    let stack = Stack::connect().await;
    let (company, order_id, body, messages) = ordered(&stack, "enrich-given-up").await;
    let job_id = body["job"]["id"].as_str().unwrap();
    // SR fails the job read on the first and the last receive; the redriven message succeeds.
    stack
        .sim
        .inject_fault(
            json!({"path_contains": format!("/jobs/{job_id}"), "status": 503, "count": 2}),
        )
        .await;
    let publisher = kombo_publisher(&stack);
    let kombo_event = format!("assessment:order-received:{order_id}");

    // While enrichment may still succeed, Kombo's event waits for it.
    assert!(publisher.process(&record(&messages[0], 1)).await.is_retry());
    assert!(!ids_of(&events(&stack, &company).await).contains(&kombo_event));

    // The last receive fails too (the message goes to the dead-letter queue): the vendor hears
    // of the order all the same, with what SR's order carries.
    let last = publisher.process(&record(&messages[0], LAST_RECEIVE)).await;
    assert!(last.is_retry(), "{last:?}");
    let listed = events(&stack, &company).await;
    let received: Vec<&Value> = listed
        .iter()
        .filter(|e| e["id"] == kombo_event.as_str())
        .collect();
    assert_eq!(received.len(), 1, "{listed:?}");
    let data = &received[0]["data"];
    assert_eq!(received[0]["type"], "assessment:order-received");
    assert_eq!(data["id"], order_id.as_str());
    assert_eq!(data["status"], "OPEN");
    assert_eq!(data["candidate"]["remote_id"], body["candidate"]["id"]);
    assert_eq!(data["candidate"]["first_name"], "Ada");
    assert_eq!(data["candidate"]["email"], "ada@example.com");
    assert_eq!(data["job"]["remote_id"], job_id);
    assert_eq!(data["job"]["name"], "Engineer");
    assert_eq!(data["job"]["location"], Value::Null, "{data}");
    assert_eq!(data["job"]["hiring_team"], json!([]));

    // An operator redrives the message and SR answers now: the order is enriched, and the
    // vendor does not get Kombo's event a second time.
    assert_eq!(
        publisher.process(&record(&messages[0], 1)).await,
        Outcome::Done
    );
    let order = stack.store.get_order(&order_id).await.unwrap().unwrap();
    assert!(order.enrichment.unwrap().job.is_some());
    let ids = ids_of(&events(&stack, &company).await);
    assert_eq!(
        ids.iter().filter(|id| **id == kombo_event).count(),
        1,
        "{ids:?}"
    );
    assert!(
        ids.contains(&format!("order.enriched:{order_id}")),
        "{ids:?}"
    );
}

#[tokio::test]
async fn a_kombo_vendor_hears_of_an_order_of_a_company_disabled_before_its_enrichment() {
    let stack = Stack::connect().await;
    let (company, order_id, _body, messages) = ordered(&stack, "enrich-disabled").await;
    let disabled = stack.sim.disable(&company.company_id).await;
    assert!(disabled.status < 300, "{:?}", disabled.body);

    // The company's SR credentials are gone: enrichment cannot succeed, and is not retried.
    let outcome = kombo_publisher(&stack)
        .process(&record(&messages[0], 1))
        .await;
    assert_eq!(outcome, Outcome::Done);
    let ids = ids_of(&events(&stack, &company).await);
    assert!(
        ids.contains(&format!("assessment:order-received:{order_id}")),
        "{ids:?}"
    );
    let order = stack.store.get_order(&order_id).await.unwrap().unwrap();
    assert!(order.enrichment.is_none());
}
