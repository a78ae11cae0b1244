"""moto_server with DynamoDB requests serialised.

moto's TransactWriteItems deep-copies whole tables while other threads of the threaded server
write to them ("dictionary changed size during iteration" -> HTTP 500). Real DynamoDB has no such
problem, so the fix belongs in the stand-in: one lock around DynamoDB requests. SQS long polls and
Secrets Manager calls still run concurrently.

moto also backs up a transaction by deep-copying the whole table once per item of the
transaction (O(items x table size) time and memory per call: seconds and megabytes once the local
table holds a few thousand items). `patch_transaction_backup` makes it back up only the items the
transaction touches and restore those when it is cancelled, which is what DynamoDB's semantics
need; a cancelled transaction also leaves no record on the table's stream (moto would show an
INSERT of an order that was never stored, which infra/stream_poller.py would forward), and
DynamoDB Streams requests take the same lock.

`--record-calls PATH` appends, per request of a function of the stack (its SDK names it in the
User-Agent as `app/<name>`), what IAM would authorise (infra/aws_calls.py, which checks them
against template.yaml).

Usage: python3 infra/moto_server.py -H 127.0.0.1 -p 5320 [--record-calls .local/aws-calls.jsonl]
"""

import argparse
import io
import json
import os
import signal
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import aws_calls  # noqa: E402

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import run_simple

_dynamodb_lock = threading.Lock()


def patch_transaction_backup():
    """Per-item backup and rollback for moto's TransactWriteItems (see the module docstring)."""
    import copy

    from moto.dynamodb import models
    from moto.dynamodb.models.table import Table

    real_deepcopy = copy.deepcopy

    class _NoTableCopies:
        """`copy` as moto's models module sees it: tables are not copied (we back up items)."""

        @staticmethod
        def deepcopy(value, *args, **kwargs):
            return value if isinstance(value, Table) else real_deepcopy(value, *args, **kwargs)

    models.copy = _NoTableCopies
    original = models.DynamoDBBackend.transact_write_items

    def transact_write_items(self, transact_items):
        backups = []
        # A cancelled transaction leaves nothing on the tables' streams either (moto appends a
        # record per item as it goes, and the rollback below would add more).
        stream_lengths = {}
        for entry in transact_items:
            _, op = next(iter(entry.items()))
            name = op.get("TableName")
            if name not in self.tables:
                continue
            table = self.tables[name]
            if table.stream_shard is not None:
                stream_lengths.setdefault(name, len(table.stream_shard.items))
            if "Key" in op:
                key = op["Key"]
            else:
                item = op.get("Item") or {}
                key = {table.hash_key_attr: item.get(table.hash_key_attr)}
                if table.range_key_attr is not None:
                    key[table.range_key_attr] = item.get(table.range_key_attr)
            try:
                current = self.get_item(name, key)
            except Exception:  # noqa: BLE001 - a malformed key: moto's own call reports it
                continue
            backups.append((name, key, current.to_json()["Attributes"] if current else None))
        try:
            return original(self, transact_items)
        except Exception:
            for name, key, attributes in reversed(backups):
                if attributes is None:
                    self.delete_item(name, key)
                else:
                    self.put_item(name, attributes)
            for name, length in stream_lengths.items():
                shard = self.tables[name].stream_shard
                if shard is not None:
                    del shard.items[length:]
            raise

    models.DynamoDBBackend.transact_write_items = transact_write_items


class SerialiseDynamoDB:
    """WSGI middleware: one DynamoDB request at a time, everything else untouched."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        # DynamoDB Streams too: a GetRecords never sees a transaction half done.
        if not target.startswith(("DynamoDB_", "DynamoDBStreams_")):
            return self.app(environ, start_response)
        with _dynamodb_lock:
            # Materialise the body inside the lock: moto builds it eagerly, but be sure.
            return list(self.app(environ, start_response))


class RecordCalls:
    """WSGI middleware: one JSON line per authorised action of a function's request (see
    aws_calls.calls_from_request), the request itself untouched."""

    def __init__(self, app, path):
        self.app = app
        self.path = path
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        function = aws_calls.function_of(
            [environ.get("HTTP_X_AMZ_USER_AGENT", ""), environ.get("HTTP_USER_AGENT", "")])
        if target and function:
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length) if length else b""
            environ["wsgi.input"] = io.BytesIO(body)
            try:
                calls = aws_calls.calls_from_request(function, target, json.loads(body or b"{}"))
            except (ValueError, KeyError, AttributeError, TypeError) as error:
                calls = [{"function": function, "service": "unparsed", "action": target, "error": str(error)}]
            with self.lock, open(self.path, "a", encoding="utf-8") as log:
                for call in calls:
                    log.write(json.dumps(call) + "\n")
        return self.app(environ, start_response)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=5000)
    parser.add_argument("--record-calls", metavar="PATH", help="append the functions' AWS calls here")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    patch_transaction_backup()
    app = SerialiseDynamoDB(DomainDispatcherApplication(create_backend_app))
    if args.record_calls:
        app = RecordCalls(app, args.record_calls)
    run_simple(args.host, args.port, app, threaded=True)


if __name__ == "__main__":
    main()
