"""Kombo's official Python SDK (`kombo` 1.4.0 from PyPI), unchanged and with its response
validation on, against the local stack's vendor API: a vendor switching from Kombo changes only
`server_url` and the key. Every result is followed to the SR simulator.

Needs the local stack (`infra/stack.sh up`; `make test` starts it) and the `kombo-fixture`
binary of the tests crate (built by `make build`; `cargo run` otherwise). Run:
`python3 -m pytest -q tests/kombo`.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import re
import threading
import time
import typing
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from kombo import Kombo, errors, models

from kombo_support import ROOT, kombo_fixture, readme_snippet

REPORT = b"%PDF-1.7\n% a report the vendor attaches inline\n"
RECORDING = b"\x00\x00\x00\x18ftypmp42 a recording downloaded from data_url"


@pytest.fixture(scope="module")
def company() -> dict:
    return kombo_fixture("company")


def sdk(company: dict, *, v1: bool = False, api_key: str | None = None) -> Kombo:
    """The SDK exactly as a Kombo customer builds it, pointed at the stack (optionally with
    Kombo's `/v1` habit)."""
    base = company["server_url"] + ("/v1" if v1 else "")
    return Kombo(
        api_key=api_key or company["api_key"],
        integration_id=company["integration_id"],
        server_url=base,
    )


class VendorServer:
    """The vendor's side on 127.0.0.1: serves result files (`data_url`) and receives webhooks,
    answering `inline-assessment:order-received` with an assessment URL as Kombo asks."""

    def __init__(self) -> None:
        self.webhooks: list[tuple[dict[str, str], bytes]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path != "/files/recording.mp4":
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "video/mp4")
                self.send_header("Content-Length", str(len(RECORDING)))
                self.end_headers()
                self.wfile.write(RECORDING)

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                server.webhooks.append(({k.lower(): v for k, v in self.headers.items()}, body))
                event = json.loads(body)
                answer = {}
                if event["type"] == "inline-assessment:order-received":
                    answer = {"assessment_url": f"https://assess.example.com/py/{event['data']['id']}"}
                payload = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_port}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()


@pytest.fixture(scope="module")
def vendor_server():
    server = VendorServer()
    yield server
    server.close()


def place_order(company: dict, package_id: str) -> str:
    """SR (the simulator) orders `package_id` for a candidate of the company."""
    answer = httpx.post(
        f"{company['simulator_url']}/__sim/companies/{company['company_id']}/orders",
        json={"assessmentPackageId": package_id},
        timeout=120,
    ).json()
    assert answer["status"] == 202, answer
    return answer["orderId"]


def sr_order(company: dict, order_id: str, until, what: str, timeout: float = 120) -> dict:
    """What SR (the simulator) holds for the order, once `until(order)` holds."""
    deadline = time.monotonic() + timeout
    while True:
        response = httpx.get(f"{company['simulator_url']}/__sim/orders/{order_id}", timeout=30)
        order = response.json() if response.status_code == 200 else None
        if order is not None and until(order):
            return order
        assert time.monotonic() < deadline, f"SR never got {what}: {order}"
        time.sleep(0.3)


def put_catalog_over_http(company: dict, catalog: dict) -> None:
    """The SR-only parts of a catalog (assessments, an inline package) go around the SDK: its
    request model only knows Kombo's four fields and five types."""
    response = httpx.put(
        f"{company['server_url']}/assessment/packages",
        headers={"Authorization": f"Bearer {company['api_key']}",
                 "X-Integration-Id": company["integration_id"]},
        json=catalog,
        timeout=120,
    )
    assert response.status_code == 200, response.text


FULL_CATALOG = {"packages": [
    {"id": "assessed", "type": "SKILLS_TEST", "name": "Java test", "description": "Two parts",
     "assessments": [
         {"id": "java-coding", "name": "Coding exercise", "description": "Three tasks"},
         {"id": "system-design", "name": "System design", "description": "20 questions"}]},
    {"id": "behavioral", "type": "BEHAVIORAL", "name": "Culture fit", "description": "15 minutes"},
    {"id": "quiz", "type": "INLINE_ASSESSMENT", "name": "Quick quiz", "description": "Five minutes",
     "inline_url_template": "https://assess.example.com/quiz/{orderId}"},
]}


def test_packages_of_every_kombo_type_and_an_inline_one_are_set_and_read(company):
    kombo = sdk(company, v1=True)
    kombo_types = ["SKILLS_TEST", "BEHAVIORAL", "VIDEO_INTERVIEW", "BACKGROUND_CHECK",
                   "REFERENCE_CHECK"]
    answer = kombo.assessment.set_packages(packages=[
        {"id": f"p-{t.lower()}", "type": t, "name": t.title(), "description": f"A {t} package"}
        for t in kombo_types
    ])
    assert answer.warnings == []
    packages = kombo.assessment.get_packages().data.packages
    assert sorted(p.type for p in packages) == sorted(kombo_types)
    assert all(isinstance(p.updated_at, dt.datetime) for p in packages)

    put_catalog_over_http(company, FULL_CATALOG)
    packages = {p.id: p for p in sdk(company).assessment.get_packages().data.packages}
    assert set(packages) == {"assessed", "behavioral", "quiz"}
    assert packages["assessed"].type == "SKILLS_TEST"
    assert packages["quiz"].type is None, "SR's inline type has no Kombo name"
    assert packages["quiz"].description == "Five minutes"


def test_orders_are_listed_with_each_filter_and_across_pages(company):
    put_catalog_over_http(company, FULL_CATALOG)
    kombo = sdk(company)
    first = [place_order(company, "behavioral") for _ in range(3)]
    # Taken between two orders: "created on or after" splits them here.
    between = dt.datetime.now(dt.timezone.utc)
    later = [place_order(company, "behavioral") for _ in range(2)]
    mine = first + later

    seen, pages = [], 0
    page = kombo.assessment.get_assessment_orders(page_size=2)
    while page is not None:
        pages += 1
        seen += [o.id for o in page.result.data.results]
        page = page.next()
    assert [o for o in seen if o in mine] == mine
    assert pages >= 3

    order = kombo.assessment.get_assessment_orders(ids=[mine[0]]).result.data.results[0]
    assert order.status == "OPEN"
    assert order.package_id == "behavioral"
    assert order.candidate.email and order.candidate.remote_id
    assert order.application.remote_id is None
    assert order.job.remote_id

    by_ids = kombo.assessment.get_assessment_orders(ids=[mine[4], mine[1]])
    assert [o.id for o in by_ids.result.data.results] == [mine[1], mine[4]]
    recent = kombo.assessment.get_assessment_orders(created_after=between)
    assert [o.id for o in recent.result.data.results if o.id in mine] == later
    kombo.assessment.update_order_result(
        assessment_order_id=mine[2], status="CANCELLED", result_url="https://v.example.com/r")
    sr_order(company, mine[2], lambda o: (o["result"] or {}).get("status") == "REJECTED",
             "REJECTED (SR's word for Kombo's CANCELLED)")
    cancelled = kombo.assessment.get_assessment_orders(statuses=["CANCELLED", "COMPLETED"])
    assert [o.id for o in cancelled.result.data.results if o.id in mine] == [mine[2]]
    open_ = kombo.assessment.get_assessment_orders(statuses=["OPEN"], ids=mine)
    assert [o.id for o in open_.result.data.results] == [mine[0], mine[1], mine[3], mine[4]]


def test_open_then_completed_results_reach_sr_with_score_sub_results_and_files(
        company, vendor_server):
    put_catalog_over_http(company, FULL_CATALOG)
    kombo = sdk(company, v1=True)
    order_id = place_order(company, "assessed")

    kombo.assessment.update_order_result(
        assessment_order_id=order_id, status="OPEN",
        result_url="https://vendor.example.com/results/7")
    sr_order(company, order_id, lambda o: (o["result"] or {}).get("status") == "IN_PROGRESS",
             "IN_PROGRESS")

    answer = kombo.assessment.update_order_result(
        assessment_order_id=order_id,
        status="COMPLETED",
        result_url="https://vendor.example.com/results/7",
        completed_at=dt.datetime(2026, 5, 1, 9, 30, tzinfo=dt.timezone.utc),
        score=87.5,
        max_score=100,
        attributes=[
            {"type": "TEXT", "label": "Role fit", "value": "Excellent"},
            {"type": "SUB_RESULT", "id": "java-coding", "label": "Coding exercise",
             "score": {"value": 92, "max": 100}, "status": "COMPLETED"},
            {"type": "SUB_RESULT", "id": "vendor-personality", "label": "Personality test",
             "score": {"value": 97.5, "max": 100}, "status": "COMPLETED"},
        ],
        attachments=[
            {"name": "Report.pdf", "content_type": "application/pdf",
             "data": base64.b64encode(REPORT).decode()},
            # Kombo's model lets a data_url file go without content_type.
            {"name": "Recording.mp4", "data_url": f"{vendor_server.base}/files/recording.mp4"},
        ],
        remote_fields={"smartrecruiters": {"scoreLabel": "Strong hire"}},
    )
    mapped = [w.message for w in answer.warnings]
    assert any("vendor-personality" in w and "summary" in w for w in mapped), mapped
    assert any("attachments[1].content_type" in w and "video/mp4" in w for w in mapped), mapped

    sr = sr_order(
        company, order_id,
        lambda o: (o["result"] or {}).get("status") == "COMPLETED" and len(o["attachments"]) == 2,
        "COMPLETED with two files")
    result = sr["result"]
    assert result["score"] == {"raw": 88, "min": 0, "max": 100}, "an integer score for SR"
    assert result["scoreLabel"] == "Strong hire"
    assert result["submissionDate"] == "2026-05-01T09:30:00Z"
    assert [r["assessmentId"] for r in result["assessmentResults"]] == ["java-coding"]
    assert result["assessmentResults"][0]["score"] == {"raw": 92, "min": 0, "max": 100}
    assert result["summary"] == (
        "Role fit: Excellent\nPersonality test: 97.5/100, COMPLETED")
    assert result["attachments"][0]["url"] == "https://vendor.example.com/results/7"
    files = {f["fileName"]: f for f in sr["attachments"]}
    assert files["Report.pdf"]["sha256"] == hashlib.sha256(REPORT).hexdigest()
    assert files["Report.pdf"]["contentType"] == "application/pdf"
    assert files["Recording.mp4"]["sha256"] == hashlib.sha256(RECORDING).hexdigest()
    assert files["Recording.mp4"]["contentType"] == "video/mp4"


def test_an_invalid_submission_is_the_sdks_api_error_with_the_message(company):
    put_catalog_over_http(company, FULL_CATALOG)
    kombo = sdk(company)
    order_id = place_order(company, "behavioral")
    with pytest.raises(errors.KomboAtsError) as raised:
        kombo.assessment.update_order_result(
            assessment_order_id=order_id, status="COMPLETED",
            result_url="https://vendor.example.com/r", score=120, max_score=100)
    error = raised.value
    assert error.data.error.code == "PLATFORM.INPUT_INVALID"
    assert "score 120 is outside [0, 100]" in error.data.error.message
    assert "score 120" in str(error)
    body = error.raw_response.json()["error"]
    assert (body["connector_code"], body["field"]) == ("INVALID_FIELD", "score")
    sr = sr_order(company, order_id, lambda o: True, "the order")
    assert sr["result"] is None and sr["patches"] == [], "nothing reached SR"

    with pytest.raises(errors.KomboAtsError) as raised:
        kombo.assessment.update_order_result(
            assessment_order_id="no-such-order", status="OPEN", result_url="https://v.example.com")
    assert raised.value.data.error.code == "PLATFORM.INPUT_INVALID"
    assert "no-such-order" in raised.value.data.error.message

    with pytest.raises(errors.KomboAtsError) as raised:
        sdk(company, api_key="not-the-key").assessment.get_packages()
    assert raised.value.data.error.code == "PLATFORM.AUTHENTICATION_INVALID"


def test_every_error_code_the_connector_answers_is_one_of_kombos():
    source = (ROOT / "shared/src/kombo/errors.rs").read_text()
    answered = set(re.findall(r'"((?:PLATFORM|INTEGRATION|REMOTE)\.[A-Z_]+)"', source))
    assert len(answered) >= 10
    assert answered <= set(typing.get_args(models.KomboAtsErrorCode))


def test_the_readme_kombo_snippet_answers_false_to_malformed_signatures_and_never_raises():
    namespace: dict = {}
    exec(readme_snippet("kombo-verify-python"), namespace)
    verify = namespace["verify_kombo_signature"]
    body = b'{"id":"evt_1"}'
    # README's test vector, then headers no signer sends (compare_digest raises on non-ASCII str).
    assert verify("whsec_test", "Aw-jskE9GZPFUTZL1Tu5s-21wMNNVdumraYEEkVjKBE", body) is True
    for signature in ["", "=", "not base64!", "\u00e9" * 43, "\uff21" * 43, "\x00"]:
        assert verify("whsec_test", signature, body) is False, signature


def test_kombo_webhooks_verify_with_the_readme_snippet_and_parse_with_the_sdks_models(
        vendor_server):
    story = kombo_fixture("webhooks", f"{vendor_server.base}/hooks")
    namespace: dict = {}
    exec(readme_snippet("kombo-verify-python"), namespace)
    verify = namespace["verify_kombo_signature"]
    secret = story["signing_secret"]
    received = {}
    for headers, body in vendor_server.webhooks:
        assert verify(secret, headers["x-kombo-signature"], body), body
        assert not verify(secret, headers["x-kombo-signature"], body.replace(b"OPEN", b"DONE"))
        received[json.loads(body)["data"]["id"]] = (headers, body)

    headers, body = received[story["order_id"]]
    payload = models.AssessmentOrderReceivedWebhookPayload.model_validate_json(body)
    assert payload.type == "assessment:order-received"
    assert payload.data.package_id == "assessed"
    assert payload.data.integration_id == story["integration_id"]
    assert payload.data.job.location.country == "SE"
    assert payload.data.job.hiring_team[0].hiring_team_roles == ["HIRING_MANAGER"]
    request = models.WebhookAssessmentOrderReceivedWebhookPayloadRequest.model_validate(
        {"X-Kombo-Signature": headers["x-kombo-signature"], "body": json.loads(body)})
    assert request.body.data.id == story["order_id"]

    # An order whose enrichment was given up: sent with what SR's order carries, nulls elsewhere.
    headers, body = received[story["never_enriched_order_id"]]
    payload = models.AssessmentOrderReceivedWebhookPayload.model_validate_json(body)
    assert payload.type == "assessment:order-received"
    assert payload.data.candidate.first_name == "Ada"
    assert payload.data.job.name == "Engineer"
    assert payload.data.job.location is None

    for inline_id in (story["inline_order_id"], story["asked_order_id"]):
        headers, body = received[inline_id]
        payload = models.InlineAssessmentOrderReceivedWebhookPayload.model_validate_json(body)
        assert payload.type == "inline-assessment:order-received"
        assert payload.data.candidate.remote_id is None
        models.WebhookInlineAssessmentOrderReceivedWebhookPayloadRequest.model_validate(
            {"X-Kombo-Signature": headers["x-kombo-signature"], "body": json.loads(body)})
    # The synchronous call's answer is what SR got as the candidate's URL.
    assert story["asked_order_answer"] == {
        "status": 200,
        "body": {"url": f"https://assess.example.com/py/{story['asked_order_id']}"},
    }
