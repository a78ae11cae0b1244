"""Schemathesis hooks for infra/schemathesis.sh (loaded through SCHEMATHESIS_HOOKS).

Generated ids and credentials only ever reach the error paths (unknown order, another company,
unknown client). So that the success paths are checked against the schema too, about half of the
generated cases are pointed at the data the script set up (environment variables it exports):

* ``ST_ORDER_IDS`` (comma-separated): orders of the integration under test, used as the ``id`` of
  the vendor API's ``/assessment/orders/{id}`` operations;
* ``ST_CLIENT_ID`` / ``ST_CLIENT_SECRET``: the company's inbound credentials, put into
  ``POST /oauth/token`` forms (``grant_type`` stays as generated);
* consent forms (``POST /integration``) carry their ``csrf`` as the ``consent_csrf`` cookie, as the
  page's browser would, so the key and organisation steps are reached;
* ``ST_COMPANY_ID``, ``ST_PACKAGE_ID``, ``ST_INLINE_PACKAGE_ID`` and ``ST_SR_API_BASE_URL``: the
  token's company, an orderable package, an inline package and SR's API base, put into order
  bodies (with a fresh order id in ``resultCallbackURL``), ``GET /packages/{id}`` and
  ``DELETE /integrations/companies/{companyId}``.

Which cases are rewritten depends on a hash of the generated value, so a replay does the same.

One more rewrite is about the local emulator, not the connector: ``cargo lambda watch`` answers a
500 of its own (``failed to deserialize the request body``, before any function runs) when a body
with a text content type is not valid UTF-8. API Gateway hands such bodies to the function
(base64-encoded), and the handlers answer 400. Invalid UTF-8 bodies are therefore sent with
their invalid bytes replaced by U+FFFD - still invalid JSON or form data for the handler.

``text/html`` responses (the consent page) are deserialized as text so their schema is checked.
"""

from __future__ import annotations

import os
import uuid
import zlib

import schemathesis


def _env_list(name: str) -> list[str]:
    return [v for v in os.environ.get(name, "").split(",") if v]


ORDER_IDS = _env_list("ST_ORDER_IDS")
CLIENT_ID = os.environ.get("ST_CLIENT_ID", "")
CLIENT_SECRET = os.environ.get("ST_CLIENT_SECRET", "")
COMPANY_ID = os.environ.get("ST_COMPANY_ID", "")
PACKAGE_ID = os.environ.get("ST_PACKAGE_ID", "")
INLINE_PACKAGE_ID = os.environ.get("ST_INLINE_PACKAGE_ID", "")
SR_API_BASE_URL = os.environ.get("ST_SR_API_BASE_URL", "").rstrip("/")
RUN_ID = os.environ.get("ST_RUN_ID", "")


def _digest(value: object) -> int:
    return zlib.crc32(repr(value).encode("utf-8", "surrogatepass"))


def _pick(value: object, choices: list[str]) -> str | None:
    """One of `choices` for about half of the values, else None (keep the generated value)."""
    choices = [c for c in choices if c]
    if not choices:
        return None
    digest = _digest(value)
    if digest % 2:
        return None
    return choices[(digest // 2) % len(choices)]


def _replace_path_parameter(case, name: str, choices: list[str]) -> None:
    params = case.path_parameters
    if isinstance(params, dict) and isinstance(params.get(name), str):
        chosen = _pick(params[name], choices)
        if chosen is not None:
            params[name] = chosen


def _aim_order(body: dict, package_id: str, inline: bool) -> None:
    """Makes a generated order body about the token's company, a real package and SR's host."""
    if _pick(body, [COMPANY_ID]) is None:
        return
    if "companyId" in body:
        body["companyId"] = COMPANY_ID
    if "assessmentPackageId" in body and package_id:
        body["assessmentPackageId"] = package_id
    order_id = uuid.uuid5(uuid.NAMESPACE_URL, f"{RUN_ID}:{_digest(body)}")
    if "resultCallbackURL" in body and SR_API_BASE_URL:
        body["resultCallbackURL"] = f"{SR_API_BASE_URL}/orders/{order_id}/results"
    if inline and "completedAssessmentCallbackUrl" in body:
        body["completedAssessmentCallbackUrl"] = f"https://www.smartrecruiters.com/inline/{order_id}"


def _cookie_safe(value: str) -> bool:
    """Printable ASCII without separators: what a cookie value can carry (and what
    `cargo lambda watch` accepts - it answers 500 itself to any non-ASCII header value)."""
    return bool(value) and value.isascii() and value.isprintable() and not any(c in value for c in ' ;,"\\')


def _double_submit(case) -> None:
    """Sends the consent form's `csrf` as the `consent_csrf` cookie too, as a browser would."""
    csrf = case.body.get("csrf")
    if not isinstance(csrf, str) or not _cookie_safe(csrf) or _pick(case.body, ["cookie"]) is None:
        return
    cookies = case.cookies if isinstance(case.cookies, dict) else {}
    cookies["consent_csrf"] = csrf
    case.cookies = cookies


TEXT_MEDIA_TYPES = ("application/json", "application/x-www-form-urlencoded", "text/")


def _utf8_body(case) -> None:
    body = case.body
    media_type = (case.media_type or "").lower()
    if not isinstance(body, (bytes, bytearray)) or not media_type.startswith(TEXT_MEDIA_TYPES):
        return
    try:
        bytes(body).decode("utf-8")
    except UnicodeDecodeError:
        case.body = bytes(body).decode("utf-8", "replace").encode("utf-8")


@schemathesis.hook
def before_call(context, case, kwargs):
    path = case.operation.path
    if path.startswith("/assessment/orders/{id}"):
        _replace_path_parameter(case, "id", ORDER_IDS)
    elif path == "/packages/{assessmentPackageId}":
        _replace_path_parameter(case, "assessmentPackageId", [PACKAGE_ID, INLINE_PACKAGE_ID])
    elif path == "/integrations/companies/{companyId}":
        _replace_path_parameter(case, "companyId", [COMPANY_ID])
    elif path == "/oauth/token" and CLIENT_ID and isinstance(case.body, dict):
        if _pick(case.body.get("client_id"), [CLIENT_ID]) is not None:
            case.body["client_id"] = CLIENT_ID
            case.body["client_secret"] = CLIENT_SECRET
    elif path == "/integration" and isinstance(case.body, dict):
        _double_submit(case)
    elif path == "/packages/orders" and isinstance(case.body, dict):
        _aim_order(case.body, PACKAGE_ID, inline=False)
    elif path == "/packages/inline/orders" and isinstance(case.body, dict):
        _aim_order(case.body, INLINE_PACKAGE_ID, inline=True)
    _utf8_body(case)


@schemathesis.deserializer("text/html")
def html_as_text(ctx, response):
    return response.content.decode("utf-8", "replace")
