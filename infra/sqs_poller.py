#!/usr/bin/env python3
"""Local SQS -> Lambda event source mapping (what AWS does for the result publisher).

Long-polls an SQS queue, sends each batch as the Lambda SQS event to a function's
invoke URL (cargo lambda watch: /2015-03-31/functions/<name>/invocations) and
handles the answer the way the real mapping with ReportBatchItemFailures does:

* 2xx answer with ``{"batchItemFailures": [{"itemIdentifier": "<messageId>"}]}``:
  the listed messages stay in the queue (redelivered after their visibility timeout,
  which the function may have changed), all others are deleted;
* an empty / null / ``{}`` answer or an empty list: the whole batch is deleted;
* a failed invocation (connection error, timeout, non-2xx status, an
  ``X-Amz-Function-Error`` header, an ``{"errorType", "errorMessage"}`` body) or an
  invalid answer (not JSON, unknown or empty item identifier): nothing is deleted.

Messages received more often than the queue's redrive policy allows go to the
dead-letter queue. moto does this itself on receive; the poller only moves a
message it is handed with a receive count above maxReceiveCount (a safety net for
endpoints that do not implement redrive).

Example::

    python3 infra/sqs_poller.py --endpoint http://127.0.0.1:5320 \\
        --queue-url http://127.0.0.1:5320/123456789012/sr-connector-local-ResultsQueue \\
        --function-url http://127.0.0.1:9000/2015-03-31/functions/result-publisher/invocations \\
        --batch-size 10 --max-concurrency 2 --wait 1
"""
from __future__ import annotations

import argparse
import base64
import json
import signal
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

DEFAULT_REGION = "us-east-1"
SQS_MAX_RECEIVE = 10  # ReceiveMessage returns at most 10 messages per call


def log(message: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} sqs_poller: {message}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------ event shape
def to_lambda_record(message: dict[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    """One SQS message as a record of the Lambda SQS event."""
    attributes = {k: str(v) for k, v in (message.get("Attributes") or {}).items()}
    message_attributes = {}
    for name, attribute in (message.get("MessageAttributes") or {}).items():
        converted: dict[str, Any] = {
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": attribute.get("DataType", "String"),
        }
        if "StringValue" in attribute:
            converted["stringValue"] = attribute["StringValue"]
        if "BinaryValue" in attribute:
            converted["binaryValue"] = _b64(attribute["BinaryValue"])
        if attribute.get("StringListValues"):
            converted["stringListValues"] = list(attribute["StringListValues"])
        if attribute.get("BinaryListValues"):
            converted["binaryListValues"] = [_b64(v) for v in attribute["BinaryListValues"]]
        message_attributes[name] = converted
    record: dict[str, Any] = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message.get("Body", ""),
        "attributes": attributes,
        "messageAttributes": message_attributes,
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }
    if message.get("MD5OfMessageAttributes"):
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    return record


def _b64(value: Any) -> str:
    if isinstance(value, str):
        value = value.encode()
    return base64.b64encode(bytes(value)).decode()


def build_event(messages: list[dict[str, Any]], queue_arn: str, region: str) -> dict[str, Any]:
    return {"Records": [to_lambda_record(m, queue_arn, region) for m in messages]}


class InvocationFailed(Exception):
    """The function failed or answered something the event source cannot use."""


def failed_message_ids(status: int, headers: dict[str, str], body: bytes,
                       batch_ids: set[str]) -> set[str]:
    """Message ids to keep, from the function's answer (raises InvocationFailed)."""
    if not 200 <= status < 300:
        raise InvocationFailed(f"HTTP {status}: {body[:300]!r}")
    if any(k.lower() == "x-amz-function-error" for k in headers):
        raise InvocationFailed(f"function error: {body[:300]!r}")
    text = body.decode("utf-8", errors="replace").strip()
    if not text or text == "null":
        return set()
    try:
        answer = json.loads(text)
    except ValueError:
        raise InvocationFailed(f"answer is not JSON: {text[:300]!r}") from None
    if answer is None:
        return set()
    if not isinstance(answer, dict):
        raise InvocationFailed(f"answer is not an object: {text[:300]!r}")
    if "errorType" in answer and "errorMessage" in answer:
        raise InvocationFailed(f"function error {answer['errorType']}: {answer['errorMessage']}")
    failures = answer.get("batchItemFailures")
    if failures is None:
        return set()
    if not isinstance(failures, list):
        raise InvocationFailed("batchItemFailures is not a list")
    kept: set[str] = set()
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not isinstance(identifier, str) or not identifier or identifier not in batch_ids:
            raise InvocationFailed(f"invalid batch item failure {failure!r}")
        kept.add(identifier)
    return kept


# ---------------------------------------------------------------------- poller
@dataclass
class Poller:
    sqs: Any
    queue_url: str
    function_url: str
    batch_size: int = 10
    max_concurrency: int = 2
    wait_seconds: int = 1
    invoke_timeout: float = 900.0
    region: str = DEFAULT_REGION
    stop: threading.Event = field(default_factory=threading.Event)
    queue_arn: str = ""
    redrive: dict[str, Any] | None = None
    dlq_url: str | None = None
    # One ReceiveMessage at a time: SQS hands a message (and a FIFO group) to one receiver
    # only, but moto's receive is not atomic across threads, so two workers polling at once
    # can both get the same message, and a FIFO group's next message while one is in flight.
    receive_lock: threading.Lock = field(default_factory=threading.Lock)

    def describe_queue(self) -> None:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.queue_url, AttributeNames=["QueueArn", "RedrivePolicy"])["Attributes"]
        self.queue_arn = attributes["QueueArn"]
        if attributes.get("RedrivePolicy"):
            self.redrive = json.loads(attributes["RedrivePolicy"])
            dlq_name = self.redrive["deadLetterTargetArn"].rsplit(":", 1)[-1]
            self.dlq_url = self.sqs.get_queue_url(QueueName=dlq_name)["QueueUrl"]

    def receive_batch(self) -> list[dict[str, Any]]:
        with self.receive_lock:
            return self._receive_batch()

    def _receive_batch(self) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []
        wait = self.wait_seconds
        while len(messages) < self.batch_size and not self.stop.is_set():
            answer = self.sqs.receive_message(
                QueueUrl=self.queue_url,
                AttributeNames=["All"],
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
                MaxNumberOfMessages=min(SQS_MAX_RECEIVE, self.batch_size - len(messages)),
                WaitTimeSeconds=wait,
            )
            received = answer.get("Messages") or []
            messages.extend(received)
            if not received or len(received) < SQS_MAX_RECEIVE:
                break
            wait = 0  # fill the batch with what is already there, do not wait again
        return messages

    def redrive_overdue(self, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Move messages past maxReceiveCount to the DLQ (if the endpoint did not)."""
        if not self.redrive or not self.dlq_url:
            return messages
        limit = int(self.redrive.get("maxReceiveCount", 0))
        keep = []
        for message in messages:
            count = int((message.get("Attributes") or {}).get("ApproximateReceiveCount", "1"))
            if limit and count > limit:
                request: dict[str, Any] = {"QueueUrl": self.dlq_url, "MessageBody": message.get("Body", "")}
                if message.get("MessageAttributes"):
                    request["MessageAttributes"] = message["MessageAttributes"]
                attributes = message.get("Attributes") or {}
                if attributes.get("MessageGroupId"):  # FIFO: the dead-letter queue is FIFO too
                    request["MessageGroupId"] = attributes["MessageGroupId"]
                    request["MessageDeduplicationId"] = message["MessageId"]
                self.sqs.send_message(**request)
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
                log(f"moved {message['MessageId']} to the dead-letter queue (received {count} times)")
            else:
                keep.append(message)
        return keep

    def invoke(self, event: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
        request = urllib.request.Request(
            self.function_url,
            data=json.dumps(event).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=self.invoke_timeout) as response:
                return response.status, dict(response.headers.items()), response.read()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers.items()), error.read()
        except (urllib.error.URLError, OSError) as error:
            raise InvocationFailed(f"invoke failed: {getattr(error, 'reason', error)}") from None

    def delete(self, messages: list[dict[str, Any]]) -> int:
        failed = 0
        for start in range(0, len(messages), SQS_MAX_RECEIVE):
            chunk = messages[start:start + SQS_MAX_RECEIVE]
            answer = self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)],
            )
            for failure in answer.get("Failed") or []:
                failed += 1
                log(f"delete failed for entry {failure.get('Id')}: {failure.get('Message')}")
        return failed

    def process(self, messages: list[dict[str, Any]]) -> None:
        started = time.monotonic()
        messages = self.redrive_overdue(messages)
        if not messages:
            return
        event = build_event(messages, self.queue_arn, self.region)
        batch_ids = {m["MessageId"] for m in messages}
        try:
            status, headers, body = self.invoke(event)
            kept = failed_message_ids(status, headers, body, batch_ids)
        except InvocationFailed as error:
            log(f"batch of {len(messages)}: invocation failed, nothing deleted ({error}) "
                f"[{(time.monotonic() - started) * 1000:.0f} ms]")
            return
        to_delete = [m for m in messages if m["MessageId"] not in kept]
        delete_failures = self.delete(to_delete) if to_delete else 0
        log(f"batch of {len(messages)}: {len(kept)} failure(s), {len(to_delete) - delete_failures} deleted"
            f" [{(time.monotonic() - started) * 1000:.0f} ms]")

    def worker(self) -> None:
        while not self.stop.is_set():
            try:
                messages = self.receive_batch()
                if messages and not self.stop.is_set():
                    self.process(messages)
            except Exception as error:  # keep polling: the endpoint may be restarting
                log(f"poll error: {error}")
                self.stop.wait(1.0)

    def run(self) -> None:
        self.describe_queue()
        log(f"polling {self.queue_url} -> {self.function_url} "
            f"(batch {self.batch_size}, concurrency {self.max_concurrency}, wait {self.wait_seconds}s)")
        threads = [threading.Thread(target=self.worker, name=f"poller-{i}", daemon=True)
                   for i in range(self.max_concurrency)]
        for thread in threads:
            thread.start()
        while not self.stop.is_set():
            self.stop.wait(0.5)
        deadline = time.monotonic() + self.wait_seconds + 5
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        log("stopped")


def make_sqs(endpoint: str, region: str) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.session.Session(
        aws_access_key_id="test", aws_secret_access_key="test", region_name=region,
    ).client("sqs", endpoint_url=endpoint, config=Config(
        retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5, read_timeout=60,
        max_pool_connections=32))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Local SQS -> Lambda event source mapping")
    parser.add_argument("--endpoint", required=True, help="SQS endpoint, e.g. http://127.0.0.1:5320")
    parser.add_argument("--queue-url", required=True)
    parser.add_argument("--function-url", required=True,
                        help="Lambda invoke URL, e.g. http://127.0.0.1:9000/2015-03-31/functions/NAME/invocations")
    parser.add_argument("--batch-size", type=int, default=10)
    parser.add_argument("--max-concurrency", type=int, default=2)
    parser.add_argument("--wait", type=int, default=1, help="ReceiveMessage WaitTimeSeconds (0-20)")
    parser.add_argument("--invoke-timeout", type=float, default=900.0,
                        help="seconds to wait for the function (cargo lambda may compile it first)")
    parser.add_argument("--region", default=DEFAULT_REGION)
    args = parser.parse_args(argv)
    if args.batch_size < 1 or args.max_concurrency < 1 or not 0 <= args.wait <= 20:
        parser.error("--batch-size and --max-concurrency must be >= 1, --wait 0..20")

    poller = Poller(
        sqs=make_sqs(args.endpoint, args.region),
        queue_url=args.queue_url,
        function_url=args.function_url,
        batch_size=args.batch_size,
        max_concurrency=args.max_concurrency,
        wait_seconds=args.wait,
        invoke_timeout=args.invoke_timeout,
        region=args.region,
    )

    def on_signal(signum: int, _frame: Any) -> None:
        log(f"received {signal.Signals(signum).name}, stopping")
        poller.stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        poller.run()
    except Exception as error:
        log(f"fatal: {error}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
