//! Candidates' personal data (README "Personal data"): erasure through the vendor API, proven by
//! scanning the whole table and every queue (dead-letter queues included) of the local stack;
//! export; retention stamps. Runs against the local stack (`make stack-up`).

use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine as _;
use connector::api::vendor::VendorApi;
use connector::queue::QueueMessage;
use connector::webhooks::{Outcome, WebhookDispatcher};
use connector_tests::kombo::{signing_secret_id, Answer, KomboEvents, VendorEndpoint};
use connector_tests::publishing::{publisher, sqs_message, unpolled_results_queue};
use connector_tests::scenario::{demo_catalog, sr_result_with_status};
use connector_tests::{json_body, request, unique, uuid, Stack, TestCompany};
use lambda_http::http::Method;
use serde_json::{json, Value};

/// One candidate's values, unique to the test run, so a scan can look for them.
struct Person {
    id: String,
    first: String,
    last: String,
    email: String,
    phone: String,
}

impl Person {
    fn new(label: &str) -> Self {
        let tag = unique(label);
        let digits: String = uuid()
            .chars()
            .filter(char::is_ascii_digit)
            .take(7)
            .collect();
        Self {
            id: uuid(),
            first: format!("First{tag}"),
            last: format!("Last{tag}"),
            email: format!("{tag}@mail.example.org"),
            // Seven random digits: unique enough for one run.
            phone: format!("+46 7{digits:0<7}"),
        }
    }

    fn as_sr_candidate(&self) -> Value {
        json!({"id": self.id, "firstName": self.first, "lastName": self.last,
               "email": self.email, "phoneNumber": self.phone})
    }

    /// The values that must not survive an erasure.
    fn values(&self) -> [&str; 5] {
        [&self.id, &self.first, &self.last, &self.email, &self.phone]
    }
}

/// Every string (and the text of every binary) of an item, recursively.
fn item_text(value: &AttributeValue, out: &mut String) {
    match value {
        AttributeValue::S(s) | AttributeValue::N(s) => out.push_str(s),
        AttributeValue::B(b) => out.push_str(&String::from_utf8_lossy(b.as_ref())),
        AttributeValue::M(m) => m.values().for_each(|v| item_text(v, out)),
        AttributeValue::L(l) => l.iter().for_each(|v| item_text(v, out)),
        AttributeValue::Ss(l) | AttributeValue::Ns(l) => l.iter().for_each(|s| out.push_str(s)),
        _ => {}
    }
    out.push('\n');
}

/// Whether `text` holds `value` in any form it could be stored in: any letter case, digits only
/// (a phone number written without its spaces and `+`), or base64 (standard or URL-safe; the
/// value's whole 3-byte groups, which encode the same wherever the value starts a blob).
fn holds(text: &str, value: &str) -> bool {
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
    let lower = text.to_lowercase();
    if lower.contains(&value.to_lowercase()) {
        return true;
    }
    let digits: String = value.chars().filter(char::is_ascii_digit).collect();
    if digits.len() >= 7 && value.starts_with('+') && text.contains(&digits) {
        return true;
    }
    let bytes = value.as_bytes();
    let whole = &bytes[..bytes.len() / 3 * 3];
    !whole.is_empty()
        && [STANDARD.encode(whole), URL_SAFE_NO_PAD.encode(whole)]
            .iter()
            .any(|encoded| text.contains(encoded.as_str()))
}

#[test]
fn a_value_is_found_in_any_case_as_digits_or_in_base64() {
    use base64::engine::general_purpose::STANDARD;
    assert!(holds("x ADA@Example.org y", "ada@example.org"));
    assert!(holds("tel:46712345678", "+46 712345678"));
    assert!(holds(
        &STANDARD.encode("ada@example.org;rest"),
        "ada@example.org"
    ));
    assert!(!holds("bob@example.org", "ada@example.org"));
}

/// The text of every item of the table (a full, strongly consistent Scan).
async fn table_texts(stack: &Stack) -> Vec<String> {
    let mut texts = Vec::new();
    let mut start = None;
    loop {
        let page = stack
            .aws
            .dynamodb
            .scan()
            .table_name(&stack.config.table_name)
            .consistent_read(true)
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .unwrap();
        for item in page.items.unwrap_or_default() {
            let mut text = String::new();
            for (name, value) in &item {
                text.push_str(name);
                text.push('=');
                item_text(value, &mut text);
            }
            texts.push(text);
        }
        match page.last_evaluated_key.filter(|k| !k.is_empty()) {
            Some(key) => start = Some(key),
            None => return texts,
        }
    }
}

/// The body of every message visible in every queue of the stack (results, notifications,
/// their dead-letter queues, tests' own), peeked with a visibility timeout of 0 so nothing is
/// taken from its consumer.
async fn queue_bodies(stack: &Stack) -> Vec<String> {
    let queues = stack
        .aws
        .sqs
        .list_queues()
        .max_results(1000)
        .send()
        .await
        .unwrap()
        .queue_urls
        .unwrap_or_default();
    assert!(queues.len() >= 4, "the stack's queues: {queues:?}");
    let mut bodies = Vec::new();
    for url in queues {
        for _ in 0..3 {
            let received = stack
                .aws
                .sqs
                .receive_message()
                .queue_url(&url)
                .max_number_of_messages(10)
                .visibility_timeout(0)
                .send()
                .await
                .unwrap();
            bodies.extend(
                received
                    .messages
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|m| m.body),
            );
        }
    }
    bodies
}

/// A vendor API call through the in-process handler: the status and the JSON answer.
async fn vendor(
    api: &VendorApi,
    stack: &Stack,
    company: &TestCompany,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let response = api
        .handle(request(
            method,
            path,
            &[
                ("authorization", &format!("Bearer {}", stack.vendor_api_key)),
                ("x-integration-id", &company.integration_id),
                ("content-type", "application/json"),
            ],
            body.map(|b| b.to_string()).unwrap_or_default(),
        ))
        .await
        .unwrap();
    (response.status().as_u16(), json_body(&response))
}

/// SR places an order for `person`; the stack enriches it.
async fn enriched_order_for(stack: &Stack, company: &TestCompany, person: &Person) -> String {
    let (order_id, placed) = stack
        .sim
        .place_order_for(&company.company_id, "culture-fit", person.as_sr_candidate())
        .await;
    assert_eq!(placed.status, 202, "{:?}", placed.body);
    let order = connector_tests::kombo::enriched_order(stack, &order_id).await;
    let enriched = order.enrichment.unwrap().candidate.unwrap();
    assert_eq!(enriched.phone.as_deref(), Some(person.phone.as_str()));
    order_id
}

/// What most erasure tests start from: a company with the demo catalog, its vendor API, a
/// person, and SR's order for them, enriched.
struct Erasable {
    stack: Stack,
    company: TestCompany,
    api: VendorApi,
    ada: Person,
    order_id: String,
}

async fn erasable(label: &str) -> Erasable {
    let stack = Stack::connect().await;
    let company = stack.new_company(&format!("gdpr-{label}")).await;
    stack.put_catalog(&company, demo_catalog()).await;
    let api = stack.vendor_api();
    let ada = Person::new(label);
    let order_id = enriched_order_for(&stack, &company, &ada).await;
    Erasable {
        stack,
        company,
        api,
        ada,
        order_id,
    }
}

/// Erases the candidate `candidate_id` through `api` (a 200): the answer.
async fn erase_candidate(
    api: &VendorApi,
    stack: &Stack,
    company: &TestCompany,
    candidate_id: &str,
) -> Value {
    let body = json!({ "candidate_id": candidate_id });
    let path = "/assessment/candidates/erase";
    let (status, erased) = vendor(api, stack, company, Method::POST, path, Some(body)).await;
    assert_eq!(status, 200, "{erased}");
    erased
}

/// SR refuses the order's next result with an answer that names `person`: that answer.
async fn refuse_naming(stack: &Stack, person: &Person, order_id: &str) -> String {
    let refusal = format!("{} {} has withdrawn", person.first, person.last);
    stack
        .sim
        .inject_fault(json!({"path_contains": format!("/orders/{order_id}/results"),
            "method": "PATCH", "status": 400, "count": 1,
            "body": {"message": refusal, "errors": [{"code": "INVALID_RESULT", "message": refusal}]}}))
        .await;
    refusal
}

/// Stores `body` as the order's result through `api` (a 200).
async fn put_result(
    api: &VendorApi,
    stack: &Stack,
    company: &TestCompany,
    order_id: &str,
    body: Value,
) {
    let path = format!("/assessment/orders/{order_id}/result");
    let (status, answer) = vendor(api, stack, company, Method::PUT, &path, Some(body)).await;
    assert_eq!(status, 200, "{answer}");
}

/// A result that repeats the candidate's name (in a file name and the file's bytes, a label and
/// a report URL), as vendors' results do.
fn result_naming(person: &Person, score: f64) -> Value {
    let report = format!(
        "%PDF-1.7\n% report of {} {}\n%%EOF\n",
        person.first, person.last
    );
    json!({"status": "COMPLETED", "score": score, "max_score": 100,
           "result_url": format!("https://vendor.example.com/r/{}", person.first),
           "remote_fields": {"smartrecruiters": {"scoreLabel": format!("{} did well", person.first)}},
           "attachments": [{"name": format!("{} {}.pdf", person.first, person.last),
                            "content_type": "application/pdf",
                            "data": base64::engine::general_purpose::STANDARD.encode(report)}]})
}

#[tokio::test]
async fn erasing_a_candidate_leaves_none_of_their_values_in_the_table_or_any_queue() {
    let stack = Stack::connect().await;
    let company = stack.new_company("gdpr-erase").await;
    stack.put_catalog(&company, demo_catalog()).await;
    let api = stack.vendor_api();
    let (ada, bob) = (Person::new("ada"), Person::new("bob"));
    let ada_order = enriched_order_for(&stack, &company, &ada).await;
    let bob_order = enriched_order_for(&stack, &company, &bob).await;

    // Results with files, delivered to SR by the stack's publisher.
    for (person, order) in [(&ada, &ada_order), (&bob, &bob_order)] {
        let (status, answer) = vendor(
            &api,
            &stack,
            &company,
            Method::PUT,
            &format!("/assessment/orders/{order}/result"),
            Some(result_naming(person, 80.0)),
        )
        .await;
        assert_eq!(status, 200, "{answer}");
        sr_result_with_status(&stack, order, "COMPLETED").await;
    }
    // A revision of Ada's result still waiting in a queue (one no poller reads) when she is
    // erased.
    let held = unpolled_results_queue(&stack).await;
    let holding_api = VendorApi::new(
        stack.store.clone(),
        held.clone(),
        stack.vendor_key_verifier(),
    )
    .with_notifications(stack.notifications());
    let (status, answer) = vendor(
        &holding_api,
        &stack,
        &company,
        Method::PUT,
        &format!("/assessment/orders/{ada_order}/result"),
        Some(result_naming(&ada, 95.0)),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    // Kombo-format webhooks for both orders, queued and not yet sent.
    let hooks = KomboEvents::new(&stack).await;
    for order in [&ada_order, &bob_order] {
        let order = stack.store.get_order(order).await.unwrap().unwrap();
        hooks
            .notifications
            .order_received(&order, chrono::Utc::now())
            .await
            .unwrap()
            .expect("a Kombo event");
    }
    let before = table_texts(&stack).await.join("\n");
    for value in ada.values().into_iter().chain(bob.values()) {
        assert!(
            before.contains(value),
            "{value} is stored before the erasure"
        );
    }

    let (status, erased) = vendor(
        &api,
        &stack,
        &company,
        Method::POST,
        "/v1/assessment/candidates/erase",
        Some(json!({"candidate_id": ada.id})),
    )
    .await;
    assert_eq!(status, 200, "{erased}");
    let data = &erased["data"];
    assert_eq!(data["order_ids"], json!([ada_order]));
    assert_eq!(data["orders"], 1);
    assert_eq!(data["submissions"], 2, "{data}");
    assert_eq!(data["files"], 1, "{data}");
    assert!(data["events"].as_u64().unwrap() >= 3, "{data}");
    assert!(data["event_id"].is_string(), "{data}");

    // The whole table and every queue: nothing of Ada's, Bob's intact.
    let after = table_texts(&stack).await;
    let queued = queue_bodies(&stack).await;
    for value in ada.values() {
        let found: Vec<&String> = after.iter().filter(|t| holds(t, value)).collect();
        assert!(
            found.is_empty(),
            "{value} survived the erasure in {found:#?}"
        );
        let found: Vec<&String> = queued.iter().filter(|b| holds(b, value)).collect();
        assert!(
            found.is_empty(),
            "{value} is in a queued message: {found:#?}"
        );
    }
    let after = after.join("\n");
    for value in bob.values() {
        assert!(after.contains(value), "Bob's {value} is still stored");
    }

    // Both skeletons still answer; Ada's without her data, Bob's as it was.
    let (status, ada_view) = vendor(
        &api,
        &stack,
        &company,
        Method::GET,
        &format!("/assessment/orders/{ada_order}"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{ada_view}");
    assert_eq!(ada_view["data"]["status"], "COMPLETED");
    assert_eq!(ada_view["data"]["file_attachments"], json!([]));
    assert!(!ada_view.to_string().contains(&ada.first));
    let (status, bob_view) = vendor(
        &api,
        &stack,
        &company,
        Method::GET,
        &format!("/assessment/orders/{bob_order}"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(bob_view["data"]["candidate"]["email"], bob.email.as_str());

    // The result held in the queue reaches the publisher after the erasure: not delivered.
    let patches_before = stack
        .sim
        .requests(&format!("/orders/{ada_order}/results"))
        .await
        .len();
    let held_bodies = connector_tests::publishing::drain(&stack, held.url()).await;
    assert_eq!(held_bodies.len(), 1);
    let message: QueueMessage = serde_json::from_str(&held_bodies[0]).unwrap();
    assert!(matches!(message, QueueMessage::Result { version: 2, .. }));
    let outcome = publisher(&stack, stack.notifications())
        .process(&sqs_message(&held_bodies[0]))
        .await;
    assert_eq!(outcome, Outcome::Done);
    let patches_after = stack
        .sim
        .requests(&format!("/orders/{ada_order}/results"))
        .await
        .len();
    assert_eq!(
        patches_after, patches_before,
        "SR got a result of an erased order"
    );
    // And the order takes no new result.
    let (status, refused) = vendor(
        &api,
        &stack,
        &company,
        Method::PUT,
        &format!("/assessment/orders/{ada_order}/result"),
        Some(json!({"status": "COMPLETED", "score": 1, "max_score": 100})),
    )
    .await;
    assert_eq!(status, 409, "{refused}");
    assert_eq!(refused["error"]["connector_code"], "ORDER_ERASED");

    // The queued webhooks: Ada's is dropped at send time, Bob's goes out with his data.
    let endpoint = VendorEndpoint::start(Answer::Reply(200, "{}".into())).await;
    let dispatcher = WebhookDispatcher::new(
        stack.store.clone(),
        stack.secrets.clone(),
        stack.aws.sqs.clone(),
        connector::webhooks::WebhookSettings {
            url: Some(endpoint.url.parse().unwrap()),
            signing_secret_id: signing_secret_id(&stack),
            queue_url: hooks.queue_url.clone(),
            max_receive_count: 10,
            backoff: connector::backoff::Backoff::default(),
        },
    );
    for body in connector_tests::publishing::drain(&stack, &hooks.queue_url).await {
        assert_eq!(dispatcher.process(&sqs_message(&body)).await, Outcome::Done);
        // The same message as queued before messages became references: carrying its data.
        let mut legacy: Value = serde_json::from_str(&body).unwrap();
        legacy["data"] = json!({"id": "queued-copy", "candidate": {"email": ada.email}});
        let legacy = legacy.to_string();
        assert_eq!(
            dispatcher.process(&sqs_message(&legacy)).await,
            Outcome::Done
        );
    }
    // Bob's, twice, with the stored data; Ada's in neither form.
    let sent: Vec<Value> = endpoint.received().iter().map(|r| r.json()).collect();
    assert_eq!(sent.len(), 2, "{sent:#?}");
    for sent in &sent {
        assert_eq!(sent["data"]["id"], bob_order.as_str());
        assert_eq!(sent["data"]["candidate"]["email"], bob.email.as_str());
    }

    // The notice: candidate.erased with the order ids only.
    let (_, events) = vendor(
        &api,
        &stack,
        &company,
        Method::GET,
        "/assessment/events?page_size=250",
        None,
    )
    .await;
    let notice = events["data"]["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "candidate.erased")
        .expect("a candidate.erased event")
        .clone();
    assert_eq!(
        notice["data"],
        json!({"erased_by": "candidate_id", "order_ids": [ada_order]})
    );

    // Erasing again is harmless: 200, nothing left to erase.
    let (status, again) = vendor(
        &api,
        &stack,
        &company,
        Method::POST,
        "/assessment/candidates/erase",
        Some(json!({"candidate_id": ada.id})),
    )
    .await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(
        again["data"],
        json!({"order_ids": [], "orders": 0, "submissions": 0, "delivery_attempts": 0,
               "files": 0, "events": 0, "event_id": null})
    );
    let (status, again) = vendor(
        &api,
        &stack,
        &company,
        Method::POST,
        &format!("/assessment/orders/{ada_order}/erase"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["data"]["order_ids"], json!([ada_order]));
    assert_eq!(again["data"]["orders"], 0);
    assert_eq!(again["data"]["events"], 0);
}

#[tokio::test]
async fn a_candidate_is_exported_then_erased_by_email_across_their_orders() {
    let stack = Stack::connect().await;
    let company = stack.new_company("gdpr-email").await;
    stack.put_catalog(&company, demo_catalog()).await;
    let api = stack.vendor_api();
    let cleo = Person::new("cleo");
    let first = enriched_order_for(&stack, &company, &cleo).await;
    // A second application of the same person, under another candidate id.
    let again = Person {
        id: uuid(),
        ..Person::new("cleo")
    };
    let again = Person {
        email: cleo.email.clone(),
        ..again
    };
    let second = enriched_order_for(&stack, &company, &again).await;

    let by_email = json!({"email": cleo.email.to_uppercase()});
    let (status, export) = vendor(
        &api,
        &stack,
        &company,
        Method::POST,
        "/assessment/candidates/export",
        Some(by_email.clone()),
    )
    .await;
    assert_eq!(status, 200, "{export}");
    let mut exported: Vec<&str> = export["data"]["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["order_id"].as_str().unwrap())
        .collect();
    exported.sort();
    let mut expected = vec![first.as_str(), second.as_str()];
    expected.sort();
    assert_eq!(exported, expected);
    assert!(export.to_string().contains(&cleo.phone));
    assert!(!export["data"]["events"].as_array().unwrap().is_empty());

    let (status, erased) = vendor(
        &api,
        &stack,
        &company,
        Method::POST,
        "/assessment/candidates/erase",
        Some(by_email.clone()),
    )
    .await;
    assert_eq!(status, 200, "{erased}");
    assert_eq!(erased["data"]["orders"], 2);
    let (status, export) = vendor(
        &api,
        &stack,
        &company,
        Method::POST,
        "/assessment/candidates/export",
        Some(by_email),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(export["data"]["orders"], json!([]));
    for order in [&first, &second] {
        let stored = stack.stored_order(order).await;
        assert!(stored.erased_at.is_some());
        assert_eq!(stored.candidate.email, None);
        assert!(stored.enrichment.is_none());
    }
}

#[tokio::test]
async fn erasure_requests_name_exactly_one_candidate_and_an_existing_order() {
    let stack = Stack::connect().await;
    let company = stack.new_company("gdpr-bad").await;
    let api = stack.vendor_api();
    for (body, field) in [
        (json!({}), None),
        (json!({"candidate_id": "c1", "email": "a@b.c"}), None),
        (json!({"email": "not-an-address"}), Some("email")),
        (json!({"name": "Ada"}), Some("name")),
    ] {
        let (status, answer) = vendor(
            &api,
            &stack,
            &company,
            Method::POST,
            "/assessment/candidates/erase",
            Some(body.clone()),
        )
        .await;
        assert_eq!(status, 400, "{body}: {answer}");
        if let Some(field) = field {
            assert_eq!(answer["error"]["field"], field, "{answer}");
        }
    }
    let (status, answer) = vendor(
        &api,
        &stack,
        &company,
        Method::POST,
        &format!("/assessment/orders/{}/erase", uuid()),
        None,
    )
    .await;
    assert_eq!(status, 404, "{answer}");
    // Nobody matched: 200, zero counts, no event.
    let (status, answer) = vendor(
        &api,
        &stack,
        &company,
        Method::POST,
        "/assessment/candidates/erase",
        Some(json!({"candidate_id": uuid()})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(answer["data"]["order_ids"], json!([]));
    assert_eq!(answer["data"]["event_id"], Value::Null);
}

#[tokio::test]
async fn with_a_short_retention_every_item_of_an_order_carries_the_tables_ttl_attribute() {
    use connector::store::keys::EXPIRES_AT;
    use connector::store::retention::Retention;
    let stack = Stack::connect().await;
    // The stack's table expires items through the attribute the template declares, and its
    // functions read the template's retention.
    let ttl = stack
        .aws
        .dynamodb
        .describe_time_to_live()
        .table_name(&stack.config.table_name)
        .send()
        .await
        .unwrap()
        .time_to_live_description
        .unwrap();
    assert_eq!(ttl.attribute_name(), Some(EXPIRES_AT));
    assert_eq!(
        ttl.time_to_live_status(),
        Some(&aws_sdk_dynamodb::types::TimeToLiveStatus::Enabled)
    );
    let env =
        std::fs::read_to_string(connector_tests::stack_env_path().with_file_name("env")).unwrap();
    assert!(
        env.lines().any(|l| l == "PERSONAL_DATA_RETENTION_DAYS=365"),
        "the template's default reaches the functions"
    );

    // One day of retention: SR's order, the vendor's result with a file, the events, the
    // delivery — each written by the same code the functions run, in a table of the test's own
    // (the stack's stream would otherwise have its publisher enrich the order, under the
    // stack's own retention).
    let stack = Stack::isolated().await;
    let store = stack.store.clone().with_retention(Retention::days(1));
    let notifications = connector::notifications::Notifications::record_only(store.clone());
    let company = stack.new_company("gdpr-ttl").await;
    stack.put_catalog(&company, demo_catalog()).await;
    let queue = unpolled_results_queue(&stack).await;
    let partner = connector::api::partner::PartnerApi::new(
        store.clone(),
        stack.secrets.clone(),
        notifications.clone(),
        stack.config.sr.clone(),
        stack.config.access_token_ttl,
    );
    let (order_id, body) = connector_tests::order_body(&stack, &company, "culture-fit");
    let token = stack.access_token(&company).await;
    let placed = connector_tests::create_order_through(&partner, &token, &body).await;
    assert_eq!(placed.status(), 202);
    let order = stack.store.get_order(&order_id).await.unwrap().unwrap();
    notifications
        .order_created(&order, chrono::Utc::now())
        .await
        .unwrap();
    let api = VendorApi::new(store.clone(), queue.clone(), stack.vendor_key_verifier())
        .with_notifications(notifications.clone());
    let person = Person::new("ttl");
    put_result(
        &api,
        &stack,
        &company,
        &order_id,
        result_naming(&person, 50.0),
    )
    .await;
    // The bytes waiting for the publisher: kept no longer than the personal data.
    let staged = stack.order_items(&order_id, "FILEDATA#").await;
    assert!(!staged.is_empty());
    for item in &staged {
        let at: i64 = item[EXPIRES_AT].as_n().unwrap().parse().unwrap();
        assert!(
            at <= chrono::Utc::now().timestamp() + 86_400 + 5,
            "{item:?}"
        );
    }
    let published = connector::publisher::ResultPublisher::new(
        store.clone(),
        stack.secrets.clone(),
        connector::sr::SrClient::new(stack.config.sr.clone()),
    )
    .with_notifications(notifications.clone())
    .process(&connector_tests::publishing::result_message(
        &company, &order_id, 1,
    ))
    .await;
    assert_eq!(published, Outcome::Done);

    let now = chrono::Utc::now().timestamp();
    let day = 86_400;
    let expiry = |item: &std::collections::HashMap<String, AttributeValue>| {
        item.get(EXPIRES_AT)
            .and_then(|v| v.as_n().ok())
            .and_then(|n| n.parse::<i64>().ok())
    };
    let items = stack
        .aws
        .dynamodb
        .query()
        .table_name(&stack.config.table_name)
        .key_condition_expression("pk = :pk")
        .expression_attribute_values(":pk", AttributeValue::S(format!("ORDER#{order_id}")))
        .send()
        .await
        .unwrap()
        .items
        .unwrap();
    let kinds: Vec<String> = items
        .iter()
        .map(|i| {
            i["sk"]
                .as_s()
                .unwrap()
                .split('#')
                .take(2)
                .collect::<Vec<_>>()
                .join("#")
        })
        .collect();
    for kind in [
        "ORDER",
        "STATE",
        "FILE#",
        "HISTORY#SUBMISSION",
        "HISTORY#ATTEMPT",
    ] {
        assert!(
            kinds.iter().any(|k| k.starts_with(kind)),
            "{kind} among {kinds:?}"
        );
    }
    for item in &items {
        let sk = item["sk"].as_s().unwrap();
        let at = expiry(item).unwrap_or_else(|| panic!("{sk} has no {EXPIRES_AT}"));
        if sk.starts_with("FILEDATA#") {
            // The bytes keep their own expiry, never past the personal data's.
            assert!(at <= now + day + 5, "{sk}: {at}");
        } else if sk == "ORDER" {
            // The order item outlives its state item by a little: a result within that time
            // does not rewrite it.
            let slack = connector::store::order_item_slack(Retention::days(1)).num_seconds();
            assert!(
                (now + day - 300..=now + day + slack + 5).contains(&at),
                "{sk}: {at}"
            );
        } else {
            assert!(
                (now + day - 300..=now + day + 5).contains(&at),
                "{sk}: {at}"
            );
        }
    }
    let events = stack
        .store
        .events_of_order(&company.integration_id, &order_id)
        .await
        .unwrap();
    assert!(!events.is_empty());
    for event in events {
        for key in [
            connector::store::keys::event(&event.integration_id, event.at, &event.id),
            connector::store::keys::event_id(&event.integration_id, &event.id),
        ] {
            let item = stack
                .aws
                .dynamodb
                .get_item()
                .table_name(&stack.config.table_name)
                .key("pk", AttributeValue::S(key.0.clone()))
                .key("sk", AttributeValue::S(key.1.clone()))
                .send()
                .await
                .unwrap()
                .item
                .unwrap();
            let at = expiry(&item).unwrap_or_else(|| panic!("{key:?} has no {EXPIRES_AT}"));
            assert!(
                (now + day - 300..=now + day + 5).contains(&at),
                "{key:?}: {at}"
            );
        }
    }
}

#[tokio::test]
async fn an_inline_order_is_erased_with_its_assessment_url() {
    let stack = Stack::connect().await;
    let company = stack.new_company("gdpr-inline").await;
    connector_tests::kombo::publish_full_catalog(&stack, &company).await;
    let (order_id, placed) = stack
        .sim
        .place_inline_order(&company.company_id, "quiz")
        .await;
    assert_eq!(placed.status, 200, "{:?}", placed.body);
    let before = stack.stored_order(&order_id).await;
    assert!(!before.inline.unwrap().assessment_url.is_empty());
    let api = stack.vendor_api();
    let (status, erased) = vendor(
        &api,
        &stack,
        &company,
        Method::POST,
        &format!("/assessment/orders/{order_id}/erase"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{erased}");
    assert_eq!(erased["data"]["orders"], 1);
    let after = stack.stored_order(&order_id).await;
    assert_eq!(after.inline.unwrap().assessment_url, "");
    assert_eq!(after.candidate.first_name, "");
}

/// SR refuses a result, naming the candidate in its answer, and the candidate is erased
/// before the publisher (which read the order and sent the result before the erasure) records
/// the refusal: the attempt is stored without SR's answer, and no `delivery.failed` carries it
/// to the vendor. The publisher is held at its recording write (`Pause`) while the vendor API
/// erases.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_recorded_after_the_erasure_leaves_nothing_of_the_candidate() {
    use connector_tests::faults::Pause;
    use connector_tests::publishing::result_message;
    let Erasable {
        stack,
        company,
        api,
        ada,
        order_id,
    } = erasable("inflight").await;
    // The result waits in a queue no poller reads: this test's publisher delivers it.
    let held = unpolled_results_queue(&stack).await;
    let holding_api = VendorApi::new(stack.store.clone(), held, stack.vendor_key_verifier())
        .with_notifications(stack.notifications());
    put_result(
        &holding_api,
        &stack,
        &company,
        &order_id,
        result_naming(&ada, 55.0),
    )
    .await;
    refuse_naming(&stack, &ada, &order_id).await;

    let pause = Pause::default();
    let publisher = connector::publisher::ResultPublisher::new(
        stack.store_pausing_requests_carrying("HISTORY#ATTEMPT#", &pause),
        stack.secrets.clone(),
        connector::sr::SrClient::new(stack.config.sr.clone()),
    )
    .with_notifications(stack.notifications());
    let message = result_message(&company, &order_id, 1);
    let delivering = tokio::spawn(async move { publisher.process_batch(&[message]).await });
    tokio::time::timeout(std::time::Duration::from_secs(60), pause.held())
        .await
        .expect("the publisher records the refusal");
    erase_candidate(&api, &stack, &company, &ada.id).await;
    pause.release();
    let outcomes = delivering.await.unwrap();
    assert_eq!(outcomes, [Outcome::Done]);

    let order = stack.stored_order(&order_id).await;
    assert!(!order.deliveries.is_empty());
    assert!(
        order.deliveries.iter().all(|a| a.detail.is_none()),
        "{:?}",
        order.deliveries
    );
    // The erasure's stand-in for the event, erased: nothing else was recorded.
    let failed = stack
        .store
        .get_recorded_event(
            &company.integration_id,
            &format!("delivery.failed:{order_id}:1"),
        )
        .await
        .unwrap();
    assert_eq!(
        failed.map(|e| e.data),
        Some(connector::store::erased_event_data(&order_id))
    );
    let table = table_texts(&stack).await.join("\n");
    let queues = queue_bodies(&stack).await.join("\n");
    for value in ada.values() {
        assert!(!holds(&table, value), "{value} is in the table");
        assert!(!holds(&queues, value), "{value} is in a queue");
    }
}

/// SR refuses a result with an answer that names the candidate, whose report is named after
/// them: the functions' log (which no erasure reaches) holds neither; the attempt's `detail`
/// (which an erasure clears) holds SR's answer.
#[tokio::test]
async fn a_refusal_naming_the_candidate_stays_out_of_the_log() {
    let Erasable {
        stack,
        company,
        api,
        ada,
        order_id,
    } = erasable("log").await;
    let refusal = refuse_naming(&stack, &ada, &order_id).await;
    put_result(&api, &stack, &company, &order_id, result_naming(&ada, 45.0)).await;
    // The refusal is recorded after it is logged.
    connector_tests::eventually(
        "the refused attempt to be recorded with SR's answer",
        std::time::Duration::from_secs(60),
        || async {
            let order = stack.stored_order(&order_id).await;
            order
                .deliveries
                .iter()
                .any(|a| a.detail.as_deref().is_some_and(|d| d.contains(&refusal)))
                .then_some(())
        },
    )
    .await;
    let log = connector_tests::eventually(
        "the stack's publisher to log the refusal",
        std::time::Duration::from_secs(60),
        || async {
            let log = connector_tests::lambda_log();
            log.lines()
                .any(|l| l.contains(&order_id) && l.contains("result delivery failed"))
                .then_some(log)
        },
    )
    .await;
    assert!(log.contains("INVALID_RESULT"), "SR's error code is logged");
    for value in ada.values() {
        assert!(!holds(&log, value), "{value} is in the functions' log");
    }
}

/// SR refuses result 1 after the vendor stored result 2 (not erased): the attempt is kept with
/// SR's answer, in a transaction that checks the order is still not erased (the path whose
/// condition check `aws_calls` holds against the publisher's role), and result 2 is delivered.
#[tokio::test]
async fn a_refusal_answered_after_a_newer_result_is_kept_with_srs_answer() {
    let Erasable {
        stack,
        company,
        api,
        ada: _,
        order_id,
    } = erasable("newer").await;
    let results = format!("/orders/{order_id}/results");
    stack
        .sim
        .inject_fault(
            json!({"path_contains": results, "method": "PATCH", "status": 400,
            "delay_ms": 5_000, "count": 1,
            "body": {"message": "score out of range", "errors": [{"code": "INVALID_SCORE"}]}}),
        )
        .await;
    let submit = |body: Value| put_result(&api, &stack, &company, &order_id, body);
    submit(json!({"status": "IN_PROGRESS"})).await;
    connector_tests::eventually(
        "the stack's publisher to have result 1 in flight",
        std::time::Duration::from_secs(60),
        || async {
            let pending = stack.sim.pending_faults().await;
            (!pending
                .iter()
                .any(|f| f["path_contains"] == results.as_str()))
            .then_some(())
        },
    )
    .await;
    submit(json!({"status": "COMPLETED", "score": 70, "max_score": 100})).await;

    let order = connector_tests::eventually(
        "result 2 to be delivered after result 1's refusal",
        std::time::Duration::from_secs(60),
        || async {
            let order = stack
                .store
                .get_order_with_history(&order_id)
                .await
                .unwrap()?;
            (order.sent_version == 2).then_some(order)
        },
    )
    .await;
    let refused = order
        .deliveries
        .iter()
        .find(|a| a.version == 1)
        .expect("result 1's attempt is kept");
    assert_eq!(refused.sr_status_code, Some(400));
    assert!(
        refused
            .detail
            .as_deref()
            .is_some_and(|d| d.contains("score out of range")),
        "{refused:?}"
    );
    assert!(order.erased_at.is_none());
}

/// A `delivery.failed` recorded just after an erasure (its delivery was refused and recorded
/// just before): the erasure left an erased marker in its place, so the event records, queues
/// and lists nothing of SR's answer.
#[tokio::test]
async fn a_delivery_failure_announced_after_the_erasure_announces_nothing() {
    let Erasable {
        stack,
        company,
        api,
        ada,
        order_id,
    } = erasable("late-event").await;
    put_result(
        &api,
        &stack,
        &company,
        &order_id,
        json!({"status": "COMPLETED", "score": 40, "max_score": 100}),
    )
    .await;
    let read_before = stack.store.get_order(&order_id).await.unwrap().unwrap();
    erase_through_the_store(&stack, &company, &read_before).await;

    let refusal = format!("{} {} has withdrawn", ada.first, ada.last);
    let announced = stack
        .notifications()
        .delivery_failed(
            &read_before,
            1,
            Some(400),
            Some(&refusal),
            chrono::Utc::now(),
        )
        .await
        .unwrap();
    let id = format!("delivery.failed:{order_id}:1");
    assert_eq!(announced.id, id);
    assert_eq!(
        announced.data,
        connector::store::erased_event_data(&order_id)
    );
    assert_eq!(
        recorded_event(&stack, &company, &id).await.data,
        announced.data
    );
    assert!(listed_event(&stack, &company, announced.at, &id)
        .await
        .is_none());
    let table = table_texts(&stack).await.join("\n");
    assert!(!table.contains(&refusal), "SR's answer is in the table");
    assert!(!holds(&table, &ada.first));
}

/// An erasure that stopped after the events (a timeout, throttling) left the order item, which
/// still names the candidate: erasing by candidate id again finishes it and tells the vendor.
#[tokio::test]
async fn an_erasure_stopped_before_the_order_item_is_finished_by_repeating_it() {
    let Erasable {
        stack,
        company,
        api,
        ada,
        order_id,
    } = erasable("resume").await;
    put_result(&api, &stack, &company, &order_id, result_naming(&ada, 70.0)).await;
    let order = stack.store.get_order(&order_id).await.unwrap().unwrap();
    stack
        .notifications()
        .order_created(&order, chrono::Utc::now())
        .await
        .unwrap();

    // Every step before the order item.
    let store = &stack.store;
    store
        .stamp_erased(&order, chrono::Utc::now())
        .await
        .unwrap();
    let partial = store.erase_order_history(&order_id).await.unwrap();
    assert!(partial.files > 0 && partial.submissions > 0, "{partial:?}");
    let events = store
        .erase_events_of_orders(&company.integration_id, std::slice::from_ref(&order))
        .await
        .unwrap();
    assert!(events > 0);
    let stopped = stack.stored_order(&order_id).await;
    assert!(stopped.erased_at.is_some());
    assert_eq!(stopped.candidate.id, ada.id);

    let erased = erase_candidate(&api, &stack, &company, &ada.id).await;
    assert_eq!(erased["data"]["order_ids"], json!([order_id]));
    assert_eq!(erased["data"]["orders"], 1);
    assert!(erased["data"]["event_id"].is_string(), "{erased}");
    let after = serde_json::to_string(&stack.stored_order(&order_id).await).unwrap();
    for value in ada.values() {
        assert!(!after.contains(value), "{value} survived in {after}");
    }
    assert!(!after.contains("did well"), "{after}");
}

/// The order the erasure was given was read before its result was stored (the list's index is
/// eventually consistent): the result's details are erased all the same.
#[tokio::test]
async fn a_result_stored_after_the_orders_were_listed_is_erased_too() {
    let Erasable {
        stack,
        company,
        api,
        ada,
        order_id,
    } = erasable("race").await;
    let listed = stack.store.get_order(&order_id).await.unwrap().unwrap();
    assert!(listed.result.is_none());
    put_result(&api, &stack, &company, &order_id, result_naming(&ada, 60.0)).await;

    let counts = erase_through_the_store(&stack, &company, &listed).await;
    assert_eq!(counts.orders, 1);
    let after = stack.stored_order(&order_id).await;
    let result = after.result.expect("the result's status stays");
    assert_eq!(
        result,
        connector::sr::PackageResult {
            status: result.status,
            assessment_package_date: result.assessment_package_date,
            submission_date: result.submission_date,
            ..Default::default()
        }
    );
    let text = serde_json::to_string(&stack.stored_order(&order_id).await).unwrap();
    assert!(!text.contains("did well"), "{text}");
    assert!(!text.contains(&ada.first), "{text}");
}

/// A new company's order whose Kombo `order-received` event is recorded (its id marker, its
/// webhook queued on `hooks`) but not listed: the listing failed (its sort key `EVENT#…` could
/// not be written; the marker's is `EVENTID`), as when a worker stops between the two. The
/// event's id.
async fn unlisted_kombo_event(
    stack: &Stack,
    label: &str,
) -> (TestCompany, connector::orders::Order, KomboEvents, String) {
    use connector::kombo::webhooks::WebhookFormat;
    let (company, orders) = connector_tests::pipeline::company_with_orders(stack, label, 1).await;
    let order = stack.stored_order(&orders[0]).await;
    let hooks = KomboEvents::new(stack).await;
    let stopped = connector::notifications::Notifications::new(
        stack.store_failing_requests_carrying(r#"{"S":"EVENT#"#),
        stack.aws.sqs.clone(),
        Some(hooks.queue_url.clone()),
    )
    .with_format(WebhookFormat::Kombo);
    assert!(stopped
        .order_received(&order, chrono::Utc::now())
        .await
        .is_err());
    let event_id = connector::kombo::webhooks::event_id(&order);
    (company, order, hooks, event_id)
}

/// The event `id` of `company` as listed, if it is.
async fn listed_event(
    stack: &Stack,
    company: &TestCompany,
    at: chrono::DateTime<chrono::Utc>,
    id: &str,
) -> Option<connector::store::EventRecord> {
    stack
        .store
        .get_event(&company.integration_id, at, id)
        .await
        .unwrap()
}

/// The event `id` of `company` as its id marker holds it.
async fn recorded_event(
    stack: &Stack,
    company: &TestCompany,
    id: &str,
) -> connector::store::EventRecord {
    stack
        .store
        .get_recorded_event(&company.integration_id, id)
        .await
        .unwrap()
        .expect("recorded")
}

/// Erases `order` as the vendor API does, through the store.
async fn erase_through_the_store(
    stack: &Stack,
    company: &TestCompany,
    order: &connector::orders::Order,
) -> connector::store::ErasedCounts {
    stack
        .store
        .erase_orders_data(
            &company.integration_id,
            std::slice::from_ref(order),
            chrono::Utc::now(),
            &connector::notifications::event_ids_of,
        )
        .await
        .unwrap()
}

/// An event recorded but not listed yet (it is listed after its webhook is queued; here the
/// listing failed) is erased by its id: the queued webhook then sends nothing, and the
/// emitter's retry neither queues it again nor lists the data.
#[tokio::test]
async fn an_erasure_reaches_an_event_recorded_but_not_listed_yet() {
    let stack = Stack::connect().await;
    let (company, order, hooks, event_id) = unlisted_kombo_event(&stack, "gdpr-unlisted").await;
    let recorded = recorded_event(&stack, &company, &event_id).await;
    assert_eq!(recorded.data["id"], order.order_id.as_str());
    assert!(listed_event(&stack, &company, recorded.at, &event_id)
        .await
        .is_none());

    let counts = erase_through_the_store(&stack, &company, &order).await;
    assert!(counts.events >= 1, "{counts:?}");
    let erased = connector::store::erased_event_data(&order.order_id);
    assert_eq!(
        recorded_event(&stack, &company, &event_id).await.data,
        erased
    );
    let listed = listed_event(&stack, &company, recorded.at, &event_id).await;
    assert_eq!(listed.expect("listed, erased").data, erased);

    // The queued webhook: nothing is sent.
    let endpoint = VendorEndpoint::start(Answer::Reply(200, "{}".into())).await;
    let dispatcher = WebhookDispatcher::new(
        stack.store.clone(),
        stack.secrets.clone(),
        stack.aws.sqs.clone(),
        connector::webhooks::WebhookSettings {
            url: Some(endpoint.url.parse().unwrap()),
            signing_secret_id: signing_secret_id(&stack),
            queue_url: hooks.queue_url.clone(),
            max_receive_count: 10,
            backoff: connector::backoff::Backoff::default(),
        },
    );
    let queued = connector_tests::publishing::drain(&stack, &hooks.queue_url).await;
    assert_eq!(queued.len(), 1);
    assert_eq!(
        dispatcher.process(&sqs_message(&queued[0])).await,
        Outcome::Done
    );
    assert!(endpoint.received().is_empty());

    // The emitter's retry: listed already, so nothing is queued and the data stays erased.
    hooks
        .notifications
        .order_received(&order, chrono::Utc::now())
        .await
        .unwrap();
    assert!(connector_tests::publishing::drain(&stack, &hooks.queue_url)
        .await
        .is_empty());
    let listed = listed_event(&stack, &company, recorded.at, &event_id).await;
    assert_eq!(listed.unwrap().data, erased);
}

/// An erasure that stopped after erasing an unlisted event's id marker, before listing it
/// erased, is finished by the next run: the event is listed erased, so the emitter's retry
/// (holding the data in memory) lists nothing.
#[tokio::test]
async fn a_repeated_erasure_lists_an_unlisted_event_the_stopped_one_erased() {
    let stack = Stack::connect().await;
    let (company, order, hooks, event_id) = unlisted_kombo_event(&stack, "gdpr-rerun").await;
    let erased = connector::store::erased_event_data(&order.order_id);
    // What the stopped erasure did: the marker's data overwritten, nothing listed.
    let (pk, sk) = connector::store::keys::event_id(&company.integration_id, &event_id);
    stack
        .aws
        .dynamodb
        .update_item()
        .table_name(&stack.config.table_name)
        .key("pk", AttributeValue::S(pk))
        .key("sk", AttributeValue::S(sk))
        .update_expression("SET #event.#data = :erased")
        .expression_attribute_names("#event", "event")
        .expression_attribute_names("#data", "data")
        .expression_attribute_values(
            ":erased",
            serde_dynamo::to_attribute_value(&erased).unwrap(),
        )
        .send()
        .await
        .unwrap();

    erase_through_the_store(&stack, &company, &order).await;
    let at = recorded_event(&stack, &company, &event_id).await.at;
    let listed = listed_event(&stack, &company, at, &event_id).await;
    assert_eq!(listed.expect("listed, erased").data, erased);
    hooks
        .notifications
        .order_received(&order, chrono::Utc::now())
        .await
        .unwrap();
    let listed = listed_event(&stack, &company, at, &event_id).await;
    assert_eq!(listed.unwrap().data, erased);
}
