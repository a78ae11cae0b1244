"""GET /packages written the way most assessment vendors would: Python 3.11 + boto3.

The comparison point of `make bench` (infra/bench): the same endpoint as our `list-packages`
Lambda — bearer token checked against its DynamoDB record, the company's catalog read, the
non-deleted packages answered as JSON — in the usual vendor style: a boto3 `Table` resource made
at import time, one `get_item` for the token and one for the catalog, `json.dumps` with a Decimal
encoder. Same table, same items, same answer shape as ours.

The bottom of the file is a minimal Lambda runtime-API client loop (what awslambdaric does for a
Python Lambda), so the harness drives this file through the same runtime-API stub as the Rust
binaries and measures init and warm latency the same way:

    AWS_LAMBDA_RUNTIME_API=127.0.0.1:PORT TABLE_NAME=... python3 infra/bench/python/list_packages.py
"""

import base64
import hashlib
import json
import os
import time
import urllib.request
from decimal import Decimal

import boto3

# Module-level clients are the usual way to reuse them across warm invocations.
TABLE = boto3.resource("dynamodb").Table(os.environ["TABLE_NAME"])


class DecimalEncoder(json.JSONEncoder):
    """boto3 returns DynamoDB numbers as Decimal; json cannot write those."""

    def default(self, o):
        if isinstance(o, Decimal):
            return int(o) if o == o.to_integral_value() else float(o)
        return super().default(o)


def _json(status, body):
    return {
        "statusCode": status,
        "headers": {"content-type": "application/json"},
        "body": json.dumps(body, cls=DecimalEncoder),
    }


def _error(status, code, message):
    return _json(status, {"errors": [{"code": code, "message": message}], "message": message})


def _b64(part):
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)).decode()


def handler(event, context):
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    auth = headers.get("authorization", "")
    if not auth.startswith("Bearer "):
        return _error(401, "UNAUTHORIZED", "a Bearer access token is required")
    token = auth[len("Bearer "):]
    try:
        company_part, integration_part, _ = token.split(".")
        company_id, integration_id = _b64(company_part), _b64(integration_part)
    except ValueError:
        return _error(401, "UNAUTHORIZED", "the access token is invalid or expired")
    digest = hashlib.sha256(token.encode()).hexdigest()

    record = TABLE.get_item(
        Key={"pk": f"COMPANY#{company_id}", "sk": f"TOKEN#{digest}"}, ConsistentRead=True
    ).get("Item")
    if (
        not record
        or record.get("integration_id") != integration_id
        or record.get("expires_at", 0) <= int(time.time())
    ):
        return _error(401, "UNAUTHORIZED", "the access token is invalid or expired")

    catalog = TABLE.get_item(
        Key={"pk": f"INTEGRATION#{integration_id}", "sk": "CATALOG"}, ConsistentRead=True
    ).get("Item") or {}
    packages = [
        entry["package"]
        for _, entry in sorted(catalog.get("packages", {}).items())
        if not entry.get("deleted")
    ]
    if not packages:
        return {"statusCode": 204, "headers": {}, "body": ""}
    return _json(200, packages)


# ---------------------------------------------------------------- runtime-API client loop
def main():
    base = f"http://{os.environ['AWS_LAMBDA_RUNTIME_API']}/2018-06-01/runtime"
    while True:
        with urllib.request.urlopen(f"{base}/invocation/next") as answer:
            request_id = answer.headers["Lambda-Runtime-Aws-Request-Id"]
            event = json.loads(answer.read())
        try:
            url = f"{base}/invocation/{request_id}/response"
            body = json.dumps(handler(event, None)).encode()
        except Exception as error:  # noqa: BLE001 - reported to the runtime API like awslambdaric
            url = f"{base}/invocation/{request_id}/error"
            body = json.dumps({"errorMessage": str(error), "errorType": type(error).__name__}).encode()
        post = urllib.request.Request(url, data=body, method="POST")
        post.add_header("content-type", "application/json")
        with urllib.request.urlopen(post) as answer:
            answer.read()


if __name__ == "__main__":
    main()
