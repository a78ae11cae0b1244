//! Order enrichment, in-process against moto and the SR simulator: create-order stores the
//! order, the table's stream hands the new item to the order-stream consumer, which queues an
//! `OrderReceived` message; the publisher's enrichment arm reads the candidate, job and hiring
//! team from SR's Customer API, stores them on the order, and the vendor sees them (order view,
//! events).
//!
//! Each in-process test works on a table of its own (`Stack::isolated`, no stream) and hands the
//! stored item to the real consumer as the stream would, with a queue of its own: the running
//! stack's pipeline never sees these orders, so the SR faults a test injects meet only its own
//! publisher. The stack's own stream, consumer and publisher are driven end to end by
//! `an_order_sr_places_is_enriched_through_the_tables_stream`.

use std::time::Duration;

use aws_lambda_events::event::dynamodb::EventRecord;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_sqs::types::QueueAttributeName;
use connector::kombo::webhooks::WebhookFormat;
use connector::order_stream::OrderStream;
use connector::publisher::{Outcome, ResultPublisher};
use connector::queue::{QueueMessage, ResultsQueue};
use connector_tests::publishing::{self, drain, sqs_message_received, LAST_RECEIVE};
use connector_tests::scenario::demo_catalog;
use connector_tests::{
    create_order_through, eventually, json_body, order_body, request, unique, Stack, TestCompany,
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

/// The stream record DynamoDB writes for the order item just stored (`INSERT`, its keys and new
/// image, read back from the table).
async fn insert_record(stack: &Stack, order_id: &str, sequence_number: &str) -> EventRecord {
    let key = std::collections::HashMap::from([
        (
            "pk".to_string(),
            AttributeValue::S(format!("ORDER#{order_id}")),
        ),
        ("sk".to_string(), AttributeValue::S("ORDER".into())),
    ]);
    let item = stack
        .aws
        .dynamodb
        .get_item()
        .table_name(&stack.config.table_name)
        .set_key(Some(key.clone()))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .expect("the order is stored");
    let mut record = EventRecord::default();
    record.event_name = "INSERT".into();
    record.change.keys = key.into();
    record.change.new_image = item.into();
    record.change.sequence_number = Some(sequence_number.into());
    record
}

/// What the order-stream consumer queues for the order just stored, through a queue of the
/// test's own: the messages' bodies.
async fn streamed(stack: &Stack, order_id: &str) -> Vec<String> {
    let queue = fifo_queue(stack).await;
    let consumer = OrderStream::new(ResultsQueue::new(stack.aws.sqs.clone(), &queue));
    let answer = consumer
        .forward(&[insert_record(stack, order_id, "1").await])
        .await;
    assert!(answer.batch_item_failures.is_empty(), "{answer:?}");
    drain(stack, &queue).await
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
/// answers the company, the order id, its request and the messages the stream consumer queued
/// for it.
async fn ordered(stack: &Stack, label: &str) -> (TestCompany, String, Value, Vec<String>) {
    let company = stack.new_company(label).await;
    stack.put_catalog(&company, demo_catalog()).await;
    let token = stack.access_token(&company).await;
    let (order_id, body) = order_body(stack, &company, "culture-fit");
    let response = create_order_through(&stack.partner_api(), &token, &body).await;
    assert_eq!(response.status(), 202, "{:?}", response.body());
    let messages = streamed(stack, &order_id).await;
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
    let stack = Stack::isolated().await;
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
    let stack = Stack::isolated().await;
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
async fn a_429_on_an_enrichment_read_holds_back_the_company_and_makes_its_spacing_careful() {
    let stack = Stack::isolated().await;
    let (company, _, body, messages) = ordered(&stack, "enrich-429").await;
    let candidate_id = body["candidate"]["id"].as_str().unwrap();
    stack
        .sim
        .inject_fault(json!({"path_contains": format!("/candidates/{candidate_id}"), "status": 429, "retry_after_secs": 4, "count": 1}))
        .await;
    let before = connector::pacing::now_ms();
    let outcome = publisher(&stack).process(&record(&messages[0], 1)).await;
    assert!(outcome.is_retry(), "{outcome:?}");
    let (next_ms, careful_until_ms) = stack.pacing_schedule(&company.company_id).await;
    assert!(next_ms >= before + 4_000, "held until {next_ms}");
    let quarter = connector::pacing::CAREFUL_FOR.as_millis() as u64;
    assert!(
        careful_until_ms >= before + quarter,
        "careful until {careful_until_ms}"
    );
}

#[tokio::test]
async fn a_candidate_sr_does_not_know_is_noted_and_the_rest_is_stored() {
    let stack = Stack::isolated().await;
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
async fn an_order_sr_places_is_enriched_through_the_tables_stream() {
    // The running stack: SR's POST reaches create-order, whose only AWS call stores the order;
    // the stream poller hands the new item to order-stream, which queues its enrichment.
    let stack = Stack::connect().await;
    let company = stack.new_company("enrich-stream").await;
    stack.put_catalog(&company, demo_catalog()).await;
    let (order_id, placed, _) = stack
        .sim
        .place_order(&company.company_id, "culture-fit")
        .await;
    assert_eq!(placed.status, 202, "{:?}", placed.body);
    let enrichment = eventually(
        "the order to be enriched through the stream",
        Duration::from_secs(120),
        || async {
            stack
                .store
                .get_order(&order_id)
                .await
                .ok()
                .flatten()
                .and_then(|o| o.enrichment)
        },
    )
    .await;
    assert!(enrichment.job.is_some(), "{enrichment:?}");
}

#[tokio::test]
async fn a_new_order_the_consumer_cannot_queue_is_reported_so_the_stream_retries_from_it() {
    let stack = Stack::isolated().await;
    let (company, first, _, _) = ordered(&stack, "enrich-stream-down").await;
    let token = stack.access_token(&company).await;
    let (second, body) = order_body(&stack, &company, "culture-fit");
    let response = create_order_through(&stack.partner_api(), &token, &body).await;
    assert_eq!(response.status(), 202, "{:?}", response.body());
    let records = [
        insert_record(&stack, &first, "100").await,
        insert_record(&stack, &second, "101").await,
    ];
    // The results queue cannot be reached: the first record is reported, the rest left for the
    // retry, which starts at the reported record (`ReportBatchItemFailures`).
    let missing = format!(
        "{}/123456789012/{}.fifo",
        stack.env["MOTO_URL"],
        unique("no-such-queue")
    );
    let down = OrderStream::new(ResultsQueue::new(stack.aws.sqs.clone(), &missing));
    let answer = down.forward(&records).await;
    let reported: Vec<_> = answer
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect();
    assert_eq!(reported, [Some("100".to_string())]);
    // The retry reaches the queue: both orders are announced, in order.
    let queue = fifo_queue(&stack).await;
    let up = OrderStream::new(ResultsQueue::new(stack.aws.sqs.clone(), &queue));
    assert!(up.forward(&records).await.batch_item_failures.is_empty());
    assert_eq!(
        drain(&stack, &queue).await,
        [
            order_received(&company, &first),
            order_received(&company, &second)
        ]
    );
}

#[tokio::test]
async fn an_inline_order_is_enriched_without_a_candidate_and_announced_as_inline() {
    let stack = Stack::isolated().await;
    let company = stack.new_company("enrich-inline").await;
    stack
        .put_catalog(
            &company,
            json!({"packages": [{"id": "chat-inline", "type": "INLINE_ASSESSMENT", "name": "Chat interview",
                "inline_url_template": "https://vendor.example.com/take/{orderId}"}]}),
        )
        .await;
    let token = stack.access_token(&company).await;
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
    let response = stack
        .partner_api()
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
    let messages = streamed(&stack, &order_id).await;
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
    let stack = Stack::isolated().await;
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
    let stack = Stack::isolated().await;
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
    let stack = Stack::isolated().await;
    let (company, order_id, _body, messages) = ordered(&stack, "enrich-disabled").await;
    // SR disables the integration (its DELETE with the company's token, in-process: the
    // company lives in this test's own table).
    let token = stack.access_token(&company).await;
    let disabled = stack
        .partner_api()
        .disable_integration(request(
            Method::DELETE,
            &format!("/integrations/companies/{}", company.company_id),
            &[("authorization", &format!("Bearer {token}"))],
            "",
        ))
        .await
        .unwrap();
    assert_eq!(disabled.status(), 204, "{:?}", disabled.body());

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
