#!/usr/bin/env python3
"""Local DynamoDB stream -> Lambda event source mapping (what AWS does for order-stream).

Reads a table's stream from moto (DescribeStream, GetShardIterator, GetRecords, one reader per
shard, new shards followed), keeps the records the mapping's ``FilterCriteria`` matches, sends
them as the Lambda DynamoDB event to a function's invoke URL (cargo lambda watch:
/2015-03-31/functions/<name>/invocations) and handles the answer the way the real mapping does.
Its settings are read from the ``AWS::Lambda::EventSourceMapping`` resource of template.yaml
(``--mapping``), not repeated here:

* ``FilterCriteria``: a record is handed over when one filter's pattern matches it (the
  EventBridge pattern subset the template uses: nested objects, lists of exact values; any
  other operator is refused at start). Filtered-out records count as processed.
* ``BatchSize``: records per invocation (after filtering, from one GetRecords).
* ``FunctionResponseTypes: [ReportBatchItemFailures]``: an answer
  ``{"batchItemFailures": [{"itemIdentifier": "<SequenceNumber>"}]}`` means the records before
  the lowest reported sequence number are done and the retry starts at it; an empty / null /
  ``{}`` answer or an empty list means the whole batch is done.
* A failed invocation (connection error, timeout, non-2xx, ``X-Amz-Function-Error``, an
  ``{"errorType", "errorMessage"}`` body) or an invalid answer (not JSON, an identifier not in
  the batch): the whole batch is retried; with ``BisectBatchOnFunctionError`` it is split in two
  first (each failed invocation counts as one retry attempt).
* ``MaximumRetryAttempts`` / ``MaximumRecordAgeInSeconds`` (-1: unbounded): past either, the
  batch's description -- Lambda's on-failure record: the shard, the first and last sequence
  numbers, the condition -- goes to ``DestinationConfig.OnFailure`` (an SQS queue of the
  template, found by its local name ``<stack>-<LogicalId>``) and the shard moves on.
* ``StartingPosition``: TRIM_HORIZON or LATEST when the poller starts.

Records of one shard are handed over in order, one batch at a time (ParallelizationFactor 1).

Example::

    python3 infra/stream_poller.py --endpoint http://127.0.0.1:5320 \\
        --table-name sr-connector-local-ConnectorTable --stack-name sr-connector-local \\
        --mapping OrderStreamMapping \\
        --function-url http://127.0.0.1:9000/2015-03-31/functions/order-stream/invocations
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import signal
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

INFRA = Path(__file__).resolve().parent
sys.path.insert(0, str(INFRA))

from sqs_poller import InvocationFailed, failed_message_ids  # noqa: E402

DEFAULT_REGION = "us-east-1"
GET_RECORDS_MAX = 1000  # GetRecords returns at most 1000 records per call


def log(message: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} stream_poller: {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------- filter patterns
def check_pattern(pattern: Any, path: str = "") -> None:
    """Refuse what `matches` does not implement (instead of matching it wrongly)."""
    if not isinstance(pattern, dict) or not pattern:
        raise ValueError(f"filter pattern{path or ''} must be a non-empty object")
    for key, value in pattern.items():
        where = f"{path}.{key}"
        if isinstance(value, dict):
            check_pattern(value, where)
        elif isinstance(value, list):
            if not value:
                raise ValueError(f"filter pattern {where}: empty list")
            for option in value:
                if isinstance(option, (dict, list)):
                    raise ValueError(f"filter pattern {where}: operator {json.dumps(option)} is not supported "
                                     "locally (exact values only)")
        else:
            raise ValueError(f"filter pattern {where}: a value must be an object or a list")


def matches(pattern: dict[str, Any], event: Any) -> bool:
    """EventBridge pattern matching, the subset `check_pattern` accepts: every key of the pattern
    must be present; an object matches an object recursively; a list of values matches a value
    equal to one of them (or an array of the event containing one)."""
    if not isinstance(event, dict):
        return False
    for key, wanted in pattern.items():
        if key not in event:
            return False
        value = event[key]
        if isinstance(wanted, dict):
            if not matches(wanted, value):
                return False
        else:
            candidates = value if isinstance(value, list) else [value]
            if not any(_same(c, w) for c in candidates for w in wanted):
                return False
    return True


def _same(value: Any, wanted: Any) -> bool:
    if isinstance(value, bool) or isinstance(wanted, bool) or value is None or wanted is None:
        return value is wanted
    if isinstance(value, (int, float)) and isinstance(wanted, (int, float)):
        return float(value) == float(wanted)
    return type(value) is type(wanted) and value == wanted


# ---------------------------------------------------------------- the mapping
@dataclass
class MappingConfig:
    """The settings of an AWS::Lambda::EventSourceMapping on a DynamoDB stream."""
    batch_size: int = 100
    filters: list[dict[str, Any]] = field(default_factory=list)
    report_batch_item_failures: bool = False
    bisect_on_error: bool = False
    maximum_retry_attempts: int = -1
    maximum_record_age_seconds: int = -1
    starting_position: str = "TRIM_HORIZON"
    on_failure: str | None = None  # logical id of the on-failure SQS queue

    @classmethod
    def from_template(cls, template: dict[str, Any], logical_id: str) -> "MappingConfig":
        resources = template.get("Resources") or {}
        spec = resources.get(logical_id)
        if not spec or spec.get("Type") != "AWS::Lambda::EventSourceMapping":
            raise ValueError(f"{logical_id} is not an AWS::Lambda::EventSourceMapping of the template")
        props = spec.get("Properties") or {}
        filters = []
        for entry in (props.get("FilterCriteria") or {}).get("Filters") or []:
            pattern = entry["Pattern"]
            pattern = json.loads(pattern) if isinstance(pattern, str) else pattern
            check_pattern(pattern)
            filters.append(pattern)
        destination = ((props.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
        on_failure = None
        if destination is not None:
            target = destination.get("Fn::GetAtt") if isinstance(destination, dict) else None
            if isinstance(target, str):
                target = target.split(".", 1)
            if not target or target[1] != "Arn" or (resources.get(target[0]) or {}).get("Type") != "AWS::SQS::Queue":
                raise ValueError(f"{logical_id}: the on-failure destination must be !GetAtt <queue>.Arn "
                                 "of an SQS queue of the template")
            on_failure = target[0]
        position = props.get("StartingPosition", "TRIM_HORIZON")
        if position not in ("TRIM_HORIZON", "LATEST"):
            raise ValueError(f"{logical_id}: StartingPosition {position} is not supported locally")
        return cls(
            batch_size=int(props.get("BatchSize", 100)),
            filters=filters,
            report_batch_item_failures="ReportBatchItemFailures" in (props.get("FunctionResponseTypes") or []),
            bisect_on_error=props.get("BisectBatchOnFunctionError") in (True, "true", "True"),
            maximum_retry_attempts=int(props.get("MaximumRetryAttempts", -1)),
            maximum_record_age_seconds=int(props.get("MaximumRecordAgeInSeconds", -1)),
            starting_position=position,
            on_failure=on_failure,
        )

    def wants(self, record: dict[str, Any]) -> bool:
        return not self.filters or any(matches(p, record) for p in self.filters)


def failure_queue_name(template: dict[str, Any], logical_id: str, stack_name: str) -> str:
    """The queue's name as infra/local_stack.py creates it."""
    props = (template["Resources"][logical_id].get("Properties") or {})
    if isinstance(props.get("QueueName"), str):
        return props["QueueName"]
    fifo = props.get("FifoQueue") in (True, "true")
    return f"{stack_name}-{logical_id}" + (".fifo" if fifo else "")


# ------------------------------------------------------------------ event shape
def _epoch_seconds(value: Any) -> int | float:
    if isinstance(value, dt.datetime):
        return int(value.timestamp())
    if isinstance(value, (int, float)):
        return value
    return int(dt.datetime.fromisoformat(str(value)).timestamp())


def to_lambda_record(record: dict[str, Any], stream_arn: str, region: str) -> dict[str, Any]:
    """A GetRecords record as a record of the Lambda DynamoDB event."""
    change = dict(record.get("dynamodb") or {})
    if "ApproximateCreationDateTime" in change:
        change["ApproximateCreationDateTime"] = _epoch_seconds(change["ApproximateCreationDateTime"])
    return {
        "eventID": record["eventID"],
        "eventName": record["eventName"],
        "eventVersion": record.get("eventVersion", "1.1"),
        "eventSource": record.get("eventSource", "aws:dynamodb"),
        "awsRegion": record.get("awsRegion") or region,
        "dynamodb": change,
        "eventSourceARN": stream_arn,
    }


def _sequence(record: dict[str, Any]) -> str:
    return record["dynamodb"]["SequenceNumber"]


def _iso(epoch: Any) -> str | None:
    if epoch is None:
        return None
    return dt.datetime.fromtimestamp(float(epoch), dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def on_failure_record(records: list[dict[str, Any]], shard_id: str, stream_arn: str, condition: str,
                      invoke_count: int, function_url: str, status: int | None = None,
                      function_error: str | None = None) -> dict[str, Any]:
    """Lambda's on-failure record of a stream batch (AWS docs, "Retaining discarded batches")."""
    response: dict[str, Any] = {"executedVersion": "$LATEST"}
    if status is not None:
        response["statusCode"] = status
    if function_error:
        response["functionError"] = function_error
    return {
        "requestContext": {
            "requestId": str(uuid.uuid4()),
            "functionArn": function_url,
            "condition": condition,
            "approximateInvokeCount": invoke_count,
        },
        "responseContext": response,
        "version": "1.0",
        "timestamp": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
        "DDBStreamBatchInfo": {
            "shardId": shard_id,
            "startSequenceNumber": _sequence(records[0]),
            "endSequenceNumber": _sequence(records[-1]),
            "approximateArrivalOfFirstRecord": _iso(records[0]["dynamodb"].get("ApproximateCreationDateTime")),
            "approximateArrivalOfLastRecord": _iso(records[-1]["dynamodb"].get("ApproximateCreationDateTime")),
            "batchSize": len(records),
            "streamArn": stream_arn,
        },
    }


# ---------------------------------------------------------------------- poller
@dataclass
class StreamPoller:
    streams: Any  # boto3 dynamodbstreams client
    stream_arn: str
    function_url: str
    config: MappingConfig
    sqs: Any = None  # boto3 sqs client, for the on-failure queue
    failure_queue_url: str | None = None
    idle_sleep: float = 0.3
    retry_delay: float = 0.2  # first retry's delay; doubles up to 2 s
    discover_every: float = 5.0
    invoke_timeout: float = 900.0
    region: str = DEFAULT_REGION
    stop: threading.Event = field(default_factory=threading.Event)
    shards: dict[str, threading.Thread] = field(default_factory=dict)
    finished: set[str] = field(default_factory=set)
    checkpoints: dict[str, str] = field(default_factory=dict)  # shard -> last processed sequence number
    lock: threading.Lock = field(default_factory=threading.Lock)

    # ---- the function
    def invoke(self, records: list[dict[str, Any]]) -> tuple[int, dict[str, str], bytes]:
        request = urllib.request.Request(
            self.function_url, data=json.dumps({"Records": records}).encode(),
            headers={"Content-Type": "application/json"}, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.invoke_timeout) as response:
                return response.status, dict(response.headers.items()), response.read()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers.items()), error.read()
        except (urllib.error.URLError, OSError) as error:
            raise InvocationFailed(f"invoke failed: {getattr(error, 'reason', error)}") from None

    def first_failure(self, records: list[dict[str, Any]]) -> int | None:
        """Index of the first record to retry (None: all done); raises InvocationFailed."""
        status, headers, body = self.invoke(records)
        sequences = [_sequence(r) for r in records]
        failed = failed_message_ids(status, headers, body, set(sequences))
        if not self.config.report_batch_item_failures or not failed:
            return None
        return min(sequences.index(s) for s in failed)

    def send_to_failure_queue(self, records: list[dict[str, Any]], shard_id: str, condition: str,
                              invoke_count: int, error: str | None = None) -> None:
        description = on_failure_record(records, shard_id, self.stream_arn, condition, invoke_count,
                                        self.function_url, function_error="Unhandled" if error else None)
        first, last = _sequence(records[0]), _sequence(records[-1])
        if self.sqs is None or not self.failure_queue_url:
            log(f"{shard_id}: {condition}, {len(records)} record(s) {first}..{last} discarded "
                "(no on-failure destination)")
            return
        while not self.stop.is_set():
            try:
                self.sqs.send_message(QueueUrl=self.failure_queue_url, MessageBody=json.dumps(description))
                break
            except Exception as failure:  # keep the shard where it is until the record is kept
                log(f"{shard_id}: on-failure send failed ({failure}), retrying")
                self.stop.wait(1.0)
        log(f"{shard_id}: {condition}, {len(records)} record(s) {first}..{last} sent to the on-failure queue")

    # ---- one batch, as the mapping retries it
    def deliver(self, batch: list[dict[str, Any]], shard_id: str) -> None:
        """Hands `batch` (one shard's records, in order) to the function until every record is
        done or given up on."""
        pending = batch
        window = len(pending)
        attempts = 0  # invocations of the records at the head of `pending` that failed
        max_retries = self.config.maximum_retry_attempts
        max_age = self.config.maximum_record_age_seconds
        while pending and not self.stop.is_set():
            if max_age >= 0:
                now = time.time()
                expired = 0
                while expired < len(pending) and now - float(
                        pending[expired]["dynamodb"].get("ApproximateCreationDateTime", now)) > max_age:
                    expired += 1
                if expired:
                    self.send_to_failure_queue(pending[:expired], shard_id, "RecordAgeExceeded", attempts)
                    pending, attempts = pending[expired:], 0
                    window = len(pending)
                    continue
            chunk = pending[:window]
            started = time.monotonic()
            try:
                failed_at = self.first_failure(chunk)
                error = None
            except InvocationFailed as failure:
                failed_at, error = 0, str(failure)
            took = f"[{(time.monotonic() - started) * 1000:.0f} ms]"
            if failed_at is None:
                log(f"{shard_id}: batch of {len(chunk)} done {took}")
                pending, attempts = pending[len(chunk):], 0
                window = len(pending)
                continue
            done = failed_at
            if done:
                log(f"{shard_id}: batch of {len(chunk)}: {done} done, retrying from {_sequence(chunk[done])} {took}")
                pending, attempts = pending[done:], 0
                chunk = chunk[done:]
            else:
                log(f"{shard_id}: batch of {len(chunk)} failed"
                    f"{' (' + error + ')' if error else ' at its first record'} {took}")
            attempts += 1
            if 0 <= max_retries < attempts:
                self.send_to_failure_queue(chunk, shard_id, "RetryAttemptsExhausted", attempts, error)
                pending, attempts = pending[len(chunk):], 0
                window = len(pending)
                continue
            if error and self.config.bisect_on_error and len(chunk) > 1:
                window = (len(chunk) + 1) // 2
                log(f"{shard_id}: bisecting, retrying the first {window}")
            else:
                window = len(chunk)
            self.stop.wait(min(2.0, self.retry_delay * 2 ** (attempts - 1)))

    # ---- shards
    def iterator(self, shard_id: str) -> str:
        """An iterator after the shard's last processed record, or at the start position."""
        request = {"StreamArn": self.stream_arn, "ShardId": shard_id}
        checkpoint = self.checkpoints.get(shard_id)
        if checkpoint:
            request.update(ShardIteratorType="AFTER_SEQUENCE_NUMBER", SequenceNumber=checkpoint)
        else:
            request.update(ShardIteratorType=self.config.starting_position)
        return self.streams.get_shard_iterator(**request)["ShardIterator"]

    def read_shard(self, shard_id: str, parent: str | None) -> None:
        closed = False
        try:
            while parent and not self.stop.is_set():  # a child shard starts after its parent
                with self.lock:
                    if parent in self.finished or parent not in self.shards:
                        break
                self.stop.wait(self.idle_sleep)
            position: str | None = self.iterator(shard_id)
            while position and not self.stop.is_set():
                try:
                    answer = self.streams.get_records(
                        ShardIterator=position, Limit=min(GET_RECORDS_MAX, self.config.batch_size))
                except Exception as error:  # the endpoint may be restarting: read on from the checkpoint
                    log(f"{shard_id}: GetRecords failed ({error})")
                    self.stop.wait(1.0)
                    position = self.iterator(shard_id)
                    continue
                records = [to_lambda_record(r, self.stream_arn, self.region) for r in answer.get("Records") or []]
                wanted = [r for r in records if self.config.wants(r)]
                if wanted:
                    self.deliver(wanted, shard_id)
                if self.stop.is_set():
                    break  # the batch may be unfinished: no checkpoint past it
                if records:
                    self.checkpoints[shard_id] = _sequence(records[-1])
                    if len(wanted) < len(records):
                        log(f"{shard_id}: {len(records) - len(wanted)} record(s) filtered out")
                position = answer.get("NextShardIterator")
                if not records:
                    self.stop.wait(self.idle_sleep)
            closed = position is None
            if closed:
                log(f"{shard_id}: closed, all records read")
        except Exception as error:
            log(f"{shard_id}: reader failed ({error}); read again from its checkpoint")
        finally:
            with self.lock:
                if closed:
                    self.finished.add(shard_id)
                elif not self.stop.is_set():
                    self.shards.pop(shard_id, None)  # rediscovered, read on from the checkpoint

    def discover(self) -> None:
        description = self.streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]
        for shard in description.get("Shards") or []:
            shard_id = shard["ShardId"]
            with self.lock:
                if shard_id in self.shards:
                    continue
                thread = threading.Thread(target=self.read_shard, args=(shard_id, shard.get("ParentShardId")),
                                          name=f"shard-{shard_id}", daemon=True)
                self.shards[shard_id] = thread
            log(f"reading shard {shard_id} from {self.config.starting_position}")
            thread.start()

    def run(self) -> None:
        log(f"polling {self.stream_arn} -> {self.function_url} (batch {self.config.batch_size}, "
            f"{len(self.config.filters)} filter(s), retries {self.config.maximum_retry_attempts}, "
            f"on failure {self.failure_queue_url or 'discard'})")
        while not self.stop.is_set():
            try:
                self.discover()
            except Exception as error:
                log(f"DescribeStream failed ({error})")
            self.stop.wait(self.discover_every)
        with self.lock:
            threads = list(self.shards.values())
        for thread in threads:
            thread.join(10)
        log("stopped")


# ------------------------------------------------------------------------- main
def make_client(service: str, endpoint: str, region: str) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.session.Session(
        aws_access_key_id="test", aws_secret_access_key="test", region_name=region,
    ).client(service, endpoint_url=endpoint, config=Config(
        retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5, read_timeout=60))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Local DynamoDB stream -> Lambda event source mapping")
    parser.add_argument("--endpoint", required=True, help="moto endpoint, e.g. http://127.0.0.1:5320")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--table-name", help="the table whose latest stream is read")
    source.add_argument("--stream-arn")
    parser.add_argument("--function-url", required=True,
                        help="Lambda invoke URL, e.g. http://127.0.0.1:9000/2015-03-31/functions/NAME/invocations")
    parser.add_argument("--template", default=str(INFRA.parent / "template.yaml"))
    parser.add_argument("--mapping", required=True, help="logical id of the EventSourceMapping in the template")
    parser.add_argument("--stack-name", default="sr-connector-local",
                        help="the local stack's name (its queues are <stack>-<LogicalId>)")
    parser.add_argument("--failure-queue-url", help="instead of the template's on-failure queue")
    parser.add_argument("--idle-sleep", type=float, default=0.3, help="seconds between empty GetRecords")
    parser.add_argument("--retry-delay", type=float, default=0.2,
                        help="delay before the first retry of a failed batch (doubles, at most 2 s)")
    parser.add_argument("--invoke-timeout", type=float, default=900.0)
    parser.add_argument("--region", default=DEFAULT_REGION)
    args = parser.parse_args(argv)

    import local_stack  # noqa: PLC0415 - PyYAML, as the local stack

    try:
        template = local_stack.load_template(args.template)
        config = MappingConfig.from_template(template, args.mapping)
        dynamodb = make_client("dynamodb", args.endpoint, args.region)
        stream_arn = args.stream_arn or dynamodb.describe_table(TableName=args.table_name)["Table"].get(
            "LatestStreamArn")
        if not stream_arn:
            raise SystemExit(f"table {args.table_name} has no stream (StreamSpecification in the template?)")
        sqs = make_client("sqs", args.endpoint, args.region)
        failure_queue_url = args.failure_queue_url
        if failure_queue_url is None and config.on_failure:
            name = failure_queue_name(template, config.on_failure, args.stack_name)
            failure_queue_url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    except Exception as error:
        log(f"fatal: {error}")
        return 1
    poller = StreamPoller(
        streams=make_client("dynamodbstreams", args.endpoint, args.region), stream_arn=stream_arn,
        function_url=args.function_url, config=config, sqs=sqs, failure_queue_url=failure_queue_url,
        idle_sleep=args.idle_sleep, retry_delay=args.retry_delay, invoke_timeout=args.invoke_timeout,
        region=args.region)

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
