//! SR's orders on a warm create-order Lambda: one `PartnerApi` (as one Lambda instance) places
//! orders against the catalog it kept, in one `TransactWriteItems` that also checks the token's
//! record and the catalog's version. Every answer is the one SR got before (202, 409, 401, 404),
//! and a refused order leaves nothing behind. Against moto with the real AWS SDK clients.

use aws_sdk_dynamodb::types::AttributeValue;
use connector::auth::AccessToken;
use std::time::Duration;

use connector::api::partner::PartnerApi;
use connector_tests::kombo::{
    inline_order_body, inline_order_through, partner_api_asking, publish_full_catalog, Answer,
    VendorEndpoint,
};
use connector_tests::scenario::{company_with_catalog, demo_catalog};
use connector_tests::{create_order_through, json_body, order_body, request, Stack, TestCompany};
use lambda_http::http::Method;
use serde_json::json;

/// Sets `attribute` of `token`'s record (as a disable or time would).
async fn set_on_token_record(stack: &Stack, token: &str, attribute: &str, value: AttributeValue) {
    let claims = AccessToken::parse(token).expect("one of our tokens");
    stack
        .aws
        .dynamodb
        .update_item()
        .table_name(&stack.config.table_name)
        .key(
            "pk",
            AttributeValue::S(format!("COMPANY#{}", claims.company_id)),
        )
        .key("sk", AttributeValue::S(format!("TOKEN#{}", claims.digest)))
        .update_expression("SET #a = :v")
        .expression_attribute_names("#a", attribute)
        .expression_attribute_values(":v", value)
        .condition_expression("attribute_exists(pk)")
        .send()
        .await
        .expect("the token's record is updated");
}

async fn stored(stack: &Stack, order_id: &str) -> bool {
    stack.store.get_order(order_id).await.unwrap().is_some()
}

/// A first order warms the Lambda: it keeps the company's catalog.
async fn warm_api(stack: &Stack, company: &TestCompany, token: &str) -> PartnerApi {
    let api = stack.partner_api();
    let (order_id, body) = order_body(stack, company, "java-senior");
    assert_eq!(create_order_through(&api, token, &body).await.status(), 202);
    assert!(stored(stack, &order_id).await);
    api
}

#[tokio::test]
async fn on_a_warm_lambda_sr_retrying_is_202_and_another_body_with_the_id_is_409() {
    let stack = Stack::connect().await;
    let (company, token) = company_with_catalog(&stack, "warm-retry").await;
    let api = warm_api(&stack, &company, &token).await;
    let (order_id, mut body) = order_body(&stack, &company, "java-senior");
    assert_eq!(
        create_order_through(&api, &token, &body).await.status(),
        202
    );
    let first = stack.stored_order(&order_id).await;
    // SR's retry, sequential and racing: the same order, stored once, unchanged.
    assert_eq!(
        create_order_through(&api, &token, &body).await.status(),
        202
    );
    let (a, b) = tokio::join!(
        create_order_through(&api, &token, &body),
        create_order_through(&api, &token, &body)
    );
    assert_eq!((a.status().as_u16(), b.status().as_u16()), (202, 202));
    assert_eq!(stack.stored_order(&order_id).await, first);
    // The id reused with other content.
    body["assessmentPackageId"] = json!("culture-fit");
    let conflict = create_order_through(&api, &token, &body).await;
    assert_eq!(conflict.status(), 409);
    assert_eq!(json_body(&conflict)["errors"][0]["code"], "ORDER_EXISTS");
    assert_eq!(stack.stored_order(&order_id).await, first);
}

#[tokio::test]
async fn on_a_warm_lambda_an_expired_or_revoked_token_is_401_and_nothing_is_stored() {
    let stack = Stack::connect().await;
    let (company, token) = company_with_catalog(&stack, "warm-expired").await;
    let api = warm_api(&stack, &company, &token).await;
    let past = (chrono::Utc::now().timestamp() - 1).to_string();
    set_on_token_record(&stack, &token, "expires_at", AttributeValue::N(past)).await;
    let (order_id, body) = order_body(&stack, &company, "java-senior");
    let response = create_order_through(&api, &token, &body).await;
    assert_eq!(response.status(), 401);
    assert!(json_body(&response)["message"]
        .as_str()
        .unwrap()
        .contains("invalid or expired"));
    assert!(!stored(&stack, &order_id).await);

    let (company, token) = company_with_catalog(&stack, "warm-revoked").await;
    let api = warm_api(&stack, &company, &token).await;
    let now = AttributeValue::S(chrono::Utc::now().to_rfc3339());
    set_on_token_record(&stack, &token, "revoked_at", now).await;
    let (order_id, body) = order_body(&stack, &company, "java-senior");
    assert_eq!(
        create_order_through(&api, &token, &body).await.status(),
        401
    );
    assert!(!stored(&stack, &order_id).await);
}

#[tokio::test]
async fn on_a_warm_lambda_a_token_forged_for_another_company_is_401_and_nothing_is_stored() {
    let stack = Stack::connect().await;
    let (company, token) = company_with_catalog(&stack, "warm-victim").await;
    let api = warm_api(&stack, &company, &token).await;
    let (other, other_token) = company_with_catalog(&stack, "warm-attacker").await;
    // The victim's company and integration in front of the attacker's valid random part.
    let (victim_prefix, random) = {
        let mine: Vec<&str> = token.split('.').collect();
        let theirs: Vec<&str> = other_token.split('.').collect();
        (format!("{}.{}", mine[0], mine[1]), theirs[2].to_string())
    };
    let forged = format!("{victim_prefix}.{random}");
    let (order_id, body) = order_body(&stack, &company, "java-senior");
    assert_eq!(
        create_order_through(&api, &forged, &body).await.status(),
        401
    );
    assert!(!stored(&stack, &order_id).await);
    // The attacker's own token for the victim's order: the company check answers, as before.
    let api_of_other = warm_api(&stack, &other, &other_token).await;
    let response = create_order_through(&api_of_other, &other_token, &body).await;
    assert_eq!(response.status(), 403);
    assert!(!stored(&stack, &order_id).await);
}

#[tokio::test]
async fn on_a_warm_lambda_an_invalid_token_is_401_whatever_the_body() {
    let stack = Stack::connect().await;
    let (company, token) = company_with_catalog(&stack, "warm-bad-body").await;
    let api = warm_api(&stack, &company, &token).await;
    set_on_token_record(&stack, &token, "expires_at", AttributeValue::N("1".into())).await;
    // The kept catalog would refuse each of these; the token's record is read first.
    let (_, mut unknown_package) = order_body(&stack, &company, "nope");
    unknown_package["candidate"] = json!({"firstName": "no id"});
    assert_eq!(
        create_order_through(&api, &token, &unknown_package)
            .await
            .status(),
        401
    );
    let not_json = api
        .create_order(request(
            Method::POST,
            "/packages/orders",
            &[
                ("authorization", &format!("Bearer {token}")),
                ("content-type", "application/json"),
            ],
            "{oops",
        ))
        .await
        .unwrap();
    assert_eq!(not_json.status(), 401);
}

#[tokio::test]
async fn on_a_warm_lambda_the_vendors_catalog_change_is_seen_at_once() {
    let stack = Stack::connect().await;
    let (company, token) = company_with_catalog(&stack, "warm-catalog").await;
    let api = warm_api(&stack, &company, &token).await;
    // The vendor withdraws culture-fit: the kept catalog still offers it, the transaction
    // sees the new version and the order is refused as an unknown package, nothing stored.
    let mut only_java = demo_catalog();
    only_java["packages"].as_array_mut().unwrap().truncate(1);
    stack.put_catalog(&company, only_java).await;
    let (order_id, body) = order_body(&stack, &company, "culture-fit");
    let response = create_order_through(&api, &token, &body).await;
    assert_eq!(response.status(), 404);
    assert_eq!(
        json_body(&response)["errors"][0]["code"],
        "PACKAGE_NOT_FOUND"
    );
    assert!(!stored(&stack, &order_id).await);
    // It offers culture-fit again: the kept catalog lacks it, the current one is read.
    stack.put_catalog(&company, demo_catalog()).await;
    let (order_id, body) = order_body(&stack, &company, "culture-fit");
    assert_eq!(
        create_order_through(&api, &token, &body).await.status(),
        202
    );
    let order = stack.stored_order(&order_id).await;
    assert_eq!(order.package.name, "Culture fit");
    // A package renamed while kept: the order snapshots the current name.
    let mut renamed = demo_catalog();
    renamed["packages"][0]["name"] = json!("Java, renamed");
    stack.put_catalog(&company, renamed).await;
    let (order_id, body) = order_body(&stack, &company, "java-senior");
    assert_eq!(
        create_order_through(&api, &token, &body).await.status(),
        202
    );
    assert_eq!(
        stack.stored_order(&order_id).await.package.name,
        "Java, renamed"
    );
}

/// The order's transaction checks the catalog's small version item, not the catalog (billed at
/// the checked item's size): its version after each publication.
async fn catalog_version_item(stack: &Stack, company: &TestCompany) -> Option<u64> {
    let (pk, sk) = connector::store::keys::catalog_version(&company.integration_id);
    stack
        .aws
        .dynamodb
        .get_item()
        .table_name(&stack.config.table_name)
        .key("pk", AttributeValue::S(pk))
        .key("sk", AttributeValue::S(sk))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .map(|item| item["version"].as_n().unwrap().parse().unwrap())
}

#[tokio::test]
async fn a_catalog_published_before_its_version_item_existed_takes_orders_and_its_next_change_is_seen(
) {
    let stack = Stack::connect().await;
    let (company, token) = company_with_catalog(&stack, "legacy-catalog").await;
    let catalog = stack
        .store
        .get_catalog(&company.integration_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        catalog_version_item(&stack, &company).await,
        Some(catalog.version),
        "published with the catalog"
    );
    // As a catalog published by an older connector: no version item.
    let (pk, sk) = connector::store::keys::catalog_version(&company.integration_id);
    stack
        .aws
        .dynamodb
        .delete_item()
        .table_name(&stack.config.table_name)
        .key("pk", AttributeValue::S(pk))
        .key("sk", AttributeValue::S(sk))
        .send()
        .await
        .unwrap();
    let api = warm_api(&stack, &company, &token).await;
    let (order_id, body) = order_body(&stack, &company, "culture-fit");
    assert_eq!(
        create_order_through(&api, &token, &body).await.status(),
        202
    );
    assert!(stored(&stack, &order_id).await);
    // The vendor withdraws culture-fit: the publication writes the version item again, and the
    // warm Lambda's kept catalog (which still offers it) is refused by the transaction.
    let mut only_java = demo_catalog();
    only_java["packages"].as_array_mut().unwrap().truncate(1);
    stack.put_catalog(&company, only_java).await;
    assert_eq!(
        catalog_version_item(&stack, &company).await,
        Some(catalog.version + 1)
    );
    let (order_id, body) = order_body(&stack, &company, "culture-fit");
    let response = create_order_through(&api, &token, &body).await;
    assert_eq!(response.status(), 404, "{:?}", response.body());
    assert!(!stored(&stack, &order_id).await);
}

#[tokio::test]
async fn on_a_warm_lambda_inline_orders_answer_as_before_and_a_refused_token_never_reaches_the_vendor(
) {
    let stack = Stack::connect().await;
    let company = stack.new_company("warm-inline").await;
    publish_full_catalog(&stack, &company).await;
    let token = stack.access_token(&company).await;
    let vendor = VendorEndpoint::start(Answer::AssessmentUrl).await;
    let api = partner_api_asking(&stack, Some(&vendor.url), Duration::from_secs(5));
    // The first order warms the Lambda; the next ones use the catalog it kept.
    let (_, first) = inline_order_body(&stack, &company, "quiz");
    assert_eq!(inline_order_through(&api, &token, &first).await.0, 200);
    let (order_id, mut body) = inline_order_body(&stack, &company, "quiz");
    let (status, answer) = inline_order_through(&api, &token, &body).await;
    assert_eq!(status, 200, "{answer}");
    assert!(answer["url"].as_str().unwrap().contains(&order_id));
    // SR's retry: the stored URL; the id with another body: 409, the order unchanged.
    assert_eq!(
        inline_order_through(&api, &token, &body).await,
        (200, answer.clone())
    );
    let before = stack.stored_order(&order_id).await;
    body["candidate"]["firstName"] = json!("Someone else");
    let (status, conflict) = inline_order_through(&api, &token, &body).await;
    assert_eq!(status, 409, "{conflict}");
    assert_eq!(stack.stored_order(&order_id).await, before);
    // A package whose URL the vendor answers, ordered with an expired token: 401, the vendor is
    // not called, nothing is stored.
    set_on_token_record(&stack, &token, "expires_at", AttributeValue::N("1".into())).await;
    let (order_id, asking) = inline_order_body(&stack, &company, "ask");
    assert_eq!(inline_order_through(&api, &token, &asking).await.0, 401);
    assert!(vendor.received().is_empty());
    assert!(!stored(&stack, &order_id).await);
}
