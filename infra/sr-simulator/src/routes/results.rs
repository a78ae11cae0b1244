//! Company-token endpoints the connector uses to report results.

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Path, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::auth::require_company;
use crate::error::SrError;
use crate::ids;
use crate::state::{AppState, AttachmentRecord, Order, PatchRecord, StoredFile};
use crate::validate;

/// The multipart part SR reads the file from.
pub const ATTACHMENT_PART: &str = "attachment";

/// Largest attachment upload accepted (axum's default of 2 MiB is too small for PDFs/videos).
pub const MAX_ATTACHMENT_BYTES: usize = 64 * 1024 * 1024;

pub fn attachment_body_limit() -> DefaultBodyLimit {
    DefaultBodyLimit::max(MAX_ATTACHMENT_BYTES)
}

fn content_type(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
}

/// Known order owned by `company`, else 404 / 403.
fn owned_order<'a>(
    orders: &'a mut std::collections::BTreeMap<String, Order>,
    order_id: &str,
    company: &str,
) -> Result<&'a mut Order, SrError> {
    let order = orders.get_mut(order_id).ok_or_else(|| {
        SrError::not_found(format!("Order with given id does not exist: {order_id}"))
    })?;
    if order.company_id != company {
        return Err(SrError::forbidden("Order belongs to another company"));
    }
    Ok(order)
}

/// Checks the patch and merges it; the caller records the attempt with the resulting status.
fn apply_patch(order: &mut Order, headers: &HeaderMap, body: &Bytes) -> Result<Value, SrError> {
    if content_type(headers).as_deref() != Some("application/json") {
        return Err(SrError::unsupported_media_type(
            "Content-Type must be application/json",
        ));
    }
    let patch: Value = serde_json::from_slice(body)
        .map_err(|e| SrError::bad_request(format!("Request body is not valid JSON: {e}")))?;
    validate::package_result(&patch)
        .map_err(|errors| SrError::validation("Invalid result partial update provided", errors))?;
    let mut merged = order.result.take().unwrap_or_else(|| json!({}));
    json_patch::merge(&mut merged, &patch);
    order.result = Some(merged.clone());
    Ok(merged)
}

/// `PATCH /assessment-api/v202010/orders/{orderId}/results`: RFC 7396 merge onto the stored result.
pub async fn patch_result(
    State(app): State<AppState>,
    Path(order_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, SrError> {
    let company = require_company(&app, &headers)?;
    let mut state = app.lock();
    let order = owned_order(&mut state.orders, &order_id, &company)?;
    let outcome = apply_patch(order, &headers, &body);
    let recorded_body = serde_json::from_slice(&body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()));
    order.patches.push(PatchRecord {
        at: ids::now_rfc3339(),
        body: recorded_body,
        status_code: outcome.as_ref().map_or_else(|e| e.status.as_u16(), |_| 200),
    });
    outcome.map(Json)
}

/// `POST /assessment-api/v202010/orders/{orderId}/results/attachment` (multipart).
///
/// Like SR, reads the file from the part named `attachment` ("The API looks for a part
/// containing the `attachment` control name"); other parts are ignored. The part must carry a
/// file name and at least one byte; a second `attachment` part is refused.
pub async fn add_attachment(
    State(app): State<AppState>,
    Path(order_id): Path<String>,
    request: Request,
) -> Result<Response, SrError> {
    let company = require_company(&app, request.headers())?;
    {
        let mut state = app.lock();
        let order = owned_order(&mut state.orders, &order_id, &company)?;
        if order.inline {
            return Err(SrError::bad_request(
                "Adding attachment to inline assessment orders is not supported",
            ));
        }
    }
    if content_type(request.headers()).as_deref() != Some("multipart/form-data") {
        return Err(SrError::bad_request(
            "Content-Type must be multipart/form-data",
        ));
    }
    let mut multipart = Multipart::from_request(request, &app)
        .await
        .map_err(|e| SrError::bad_request(format!("Invalid multipart body: {e}")))?;
    let mut file = None;
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|e| SrError::bad_request(format!("Invalid multipart body: {e}")))?
    {
        let name = field.name().unwrap_or("").to_owned();
        if name != ATTACHMENT_PART {
            continue; // SR reads only the `attachment` part
        }
        if file.is_some() {
            return Err(SrError::bad_request(
                "Exactly one `attachment` part is expected",
            ));
        }
        let Some(file_name) = field.file_name().map(str::to_owned) else {
            return Err(SrError::bad_request(
                "The `attachment` part has no filename (Content-Disposition: form-data; name=\"attachment\"; filename=\"…\")",
            ));
        };
        let content_type = field.content_type().map(str::to_owned);
        let bytes = field
            .bytes()
            .await
            .map_err(|e| SrError::bad_request(format!("Could not read file part `{name}`: {e}")))?;
        if bytes.is_empty() {
            return Err(SrError::bad_request("The attached file is empty"));
        }
        file = Some((name, Some(file_name), content_type, bytes));
    }
    let (field, file_name, content_type, bytes) = file.ok_or_else(|| {
        SrError::bad_request("No file part in multipart body (expected field `attachment`)")
    })?;

    let id = ids::uuid_v4();
    let url = format!("{}/attachments/{id}", app.base_url);
    let record = AttachmentRecord {
        id: id.clone(),
        url: url.clone(),
        at: ids::now_rfc3339(),
        field,
        file_name,
        content_type: content_type.clone(),
        size: bytes.len(),
        sha256: hex::encode(Sha256::digest(&bytes)),
    };
    let mut state = app.lock();
    let order = owned_order(&mut state.orders, &order_id, &company)?;
    order.attachments.push(record);
    state.attachment_files.insert(
        id,
        StoredFile {
            content_type,
            bytes: bytes.to_vec(),
        },
    );
    Ok((StatusCode::CREATED, Json(json!({ "url": url }))).into_response())
}

/// `GET /attachments/{id}`: serves an uploaded file back (the URL SR answered with).
pub async fn download_attachment(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, SrError> {
    let state = app.lock();
    let file = state
        .attachment_files
        .get(&id)
        .ok_or_else(|| SrError::not_found("Attachment does not exist"))?;
    let content_type = file
        .content_type
        .clone()
        .unwrap_or_else(|| "application/octet-stream".to_owned());
    Ok(([(header::CONTENT_TYPE, content_type)], file.bytes.clone()).into_response())
}
