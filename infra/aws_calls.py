"""Every AWS call the local stack's functions made, checked against template.yaml's IAM.

moto does not evaluate IAM, so a permission missing from template.yaml (an action, a resource, an
item family of a `dynamodb:LeadingKeys` condition) passes every local test and fails in AWS
with AccessDenied. Under `cargo lambda watch` each function's SDK names the function in its
User-Agent (`app/<name>`, `connector::aws::load_sdk_config`); infra/moto_server.py
(`--record-calls`) writes one JSON line per authorised action of such a call, as IAM sees it
(a TransactWriteItems is one PutItem/UpdateItem/ConditionCheckItem/DeleteItem per item), and
this script checks each against the statements of that function in template.yaml, the way IAM
evaluates them: some statement must allow the action on the resource, and for DynamoDB every
leading key of the request (all keys of a batch) must match that statement's
`ForAllValues:StringLike` `dynamodb:LeadingKeys` patterns.

Usage (after the stack's tests ran; `make test-stack` does it last):
  python3 infra/aws_calls.py [--log .local/aws-calls.jsonl] [--env .local/stack.env]
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import re
import sys
from pathlib import Path
from typing import Any, Iterable

INFRA = Path(__file__).resolve().parent
ROOT = INFRA.parent

# Item actions of a TransactWriteItems entry, as IAM authorises them.
TRANSACT_ACTIONS = {"ConditionCheck": "ConditionCheckItem", "Put": "PutItem",
                    "Update": "UpdateItem", "Delete": "DeleteItem"}
SQS_BATCH_ACTIONS = {"SendMessageBatch": "SendMessage", "DeleteMessageBatch": "DeleteMessage",
                     "ChangeMessageVisibilityBatch": "ChangeMessageVisibility"}
# The table's partition keys: of the table, and of its indexes gsi1 and gsi2.
HASH_KEYS = {None: "pk", "gsi1": "gsi1pk", "gsi2": "gsi2pk"}
APP = re.compile(r"(?:^|\s)app/(\S+)")


def function_of(user_agents: Iterable[str]) -> str | None:
    """The `app/<name>` of a request's User-Agent headers: the calling function."""
    for agent in user_agents:
        found = APP.search(agent or "")
        if found:
            return found.group(1)
    return None


def _pk(item: dict[str, Any] | None, name: str = "pk") -> str | None:
    value = (item or {}).get(name) or {}
    return value.get("S")


def _query_key(body: dict[str, Any]) -> str | None:
    """The hash key value a Query names (`pk = :pk`, also through `#names`)."""
    hash_key = HASH_KEYS.get(body.get("IndexName"), "pk")
    names = body.get("ExpressionAttributeNames") or {}
    values = body.get("ExpressionAttributeValues") or {}
    for attribute, placeholder in re.findall(r"([#\w]+)\s*=\s*(:\w+)", body.get("KeyConditionExpression", "")):
        if names.get(attribute, attribute) == hash_key:
            return (values.get(placeholder) or {}).get("S")
    return None


def calls_from_request(function: str, target: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    """The authorised actions of one request (`X-Amz-Target`, JSON body), without any value but
    the table, index, leading keys, secret id or queue URL."""
    service, _, operation = target.partition(".")
    if service.startswith("DynamoDB_"):
        def call(action: str, table: str | None, keys: list[str | None], index: str | None = None):
            return {"function": function, "service": "dynamodb", "action": action, "table": table,
                    "index": index, "leading_keys": sorted({k for k in keys if k is not None})}
        if operation in ("GetItem", "DeleteItem", "UpdateItem"):
            return [call(operation, body.get("TableName"), [_pk(body.get("Key"))])]
        if operation == "PutItem":
            return [call(operation, body.get("TableName"), [_pk(body.get("Item"))])]
        if operation == "Query":
            return [call(operation, body.get("TableName"), [_query_key(body)], body.get("IndexName"))]
        if operation == "BatchGetItem":
            return [call(operation, table, [_pk(k) for k in request.get("Keys", [])])
                    for table, request in (body.get("RequestItems") or {}).items()]
        if operation == "BatchWriteItem":
            return [call(operation, table, [
                _pk((w.get("PutRequest") or {}).get("Item")) or _pk((w.get("DeleteRequest") or {}).get("Key"))
                for w in writes]) for table, writes in (body.get("RequestItems") or {}).items()]
        if operation == "TransactWriteItems":
            calls = []
            for entry in body.get("TransactItems", []):
                for kind, spec in entry.items():
                    key = _pk(spec.get("Key")) or _pk(spec.get("Item"))
                    calls.append(call(TRANSACT_ACTIONS[kind], spec.get("TableName"), [key]))
            return calls
        if operation == "TransactGetItems":
            return [call("GetItem", e["Get"].get("TableName"), [_pk(e["Get"].get("Key"))])
                    for e in body.get("TransactItems", [])]
        return [call(operation, body.get("TableName"), [])]
    if service == "secretsmanager":
        return [{"function": function, "service": "secretsmanager", "action": operation,
                 "secret": body.get("SecretId") or body.get("Name")}]
    if service == "AmazonSQS":
        return [{"function": function, "service": "sqs", "action": operation, "queue": body.get("QueueUrl")}]
    return [{"function": function, "service": service, "action": operation}]


# ------------------------------------------------------------------ the template's side
def _resource_token(resource: Any) -> str:
    """A statement's resource as a name: a logical id, `<Table>/index/gsi1` or `companies/*`."""
    if isinstance(resource, dict):
        if "Fn::GetAtt" in resource:
            target = resource["Fn::GetAtt"]
            return (target[0] if isinstance(target, list) else target.split(".")[0])
        if "Ref" in resource:
            return resource["Ref"]
        if "Fn::Sub" in resource:
            text = resource["Fn::Sub"] if isinstance(resource["Fn::Sub"], str) else resource["Fn::Sub"][0]
            if re.search(r"/index/gsi\d+$", text):
                return re.sub(r"\$\{(\w+)\.Arn\}", r"\1", text)
            if ":secret:${AWS::StackName}/companies/*" in text:
                return "companies/*"
            return text
    return str(resource)


def statements_by_function(template: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Binary name (the `cargo lambda` function name) -> its inline statements."""
    found: dict[str, list[dict[str, Any]]] = {}
    for spec in template["Resources"].values():
        if spec.get("Type") != "AWS::Serverless::Function":
            continue
        binary = spec["Metadata"]["BuildProperties"]["Binary"]
        statements = []
        for policy in spec["Properties"].get("Policies", []):
            for statement in policy.get("Statement", []):
                actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
                condition = (statement.get("Condition") or {}).get("ForAllValues:StringLike") or {}
                statements.append({
                    "sid": statement.get("Sid"),
                    "actions": set(actions),
                    "resources": {_resource_token(r) for r in resources},
                    "leading_keys": condition.get("dynamodb:LeadingKeys"),
                })
        found[binary] = statements
    return found


def resources_by_env(template: dict[str, Any]) -> dict[str, str]:
    """Environment variable -> the logical id its `!Ref` names (TABLE_NAME -> ConnectorTable)."""
    names: dict[str, str] = {}
    variables = dict(template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {}))
    for spec in template["Resources"].values():
        if spec.get("Type") == "AWS::Serverless::Function":
            variables.update(spec["Properties"].get("Environment", {}).get("Variables", {}))
    for variable, value in variables.items():
        if isinstance(value, dict) and "Ref" in value:
            names[variable] = value["Ref"]
    return names


def call_resource(call: dict[str, Any], env: dict[str, str], by_env: dict[str, str]) -> str | None:
    """The logical resource a recorded call touched, named as the statements name them."""
    logical = {env.get(variable): resource for variable, resource in by_env.items() if env.get(variable)}
    if call["service"] == "dynamodb":
        table = logical.get(call.get("table"), call.get("table"))
        return f"{table}/index/{call['index']}" if call.get("index") else table
    if call["service"] == "secretsmanager":
        secret = call.get("secret") or ""
        if secret.startswith(env.get("SECRET_PREFIX", "\0") + "companies/"):
            return "companies/*"
        return logical.get(secret, secret)
    if call["service"] == "sqs":
        return logical.get(call.get("queue"), call.get("queue"))
    return None


def allowed(call: dict[str, Any], resource: str | None, statements: list[dict[str, Any]]) -> bool:
    # SQS authorises a batch action as its single action (SQS API permissions reference).
    name = SQS_BATCH_ACTIONS.get(call["action"], call["action"]) if call["service"] == "sqs" else call["action"]
    action = f"{call['service']}:{name}"
    for statement in statements:
        if action not in statement["actions"] or resource not in statement["resources"]:
            continue
        patterns = statement["leading_keys"]
        if call["service"] == "dynamodb" and patterns is not None:
            keys = call.get("leading_keys") or []
            if not all(any(fnmatch.fnmatchcase(k, p) for p in patterns) for k in keys):
                continue
        return True
    return False


def violations(calls: Iterable[dict[str, Any]], template: dict[str, Any], env: dict[str, str]) -> list[str]:
    """One line per distinct call of a function that its statements do not allow."""
    statements = statements_by_function(template)
    by_env = resources_by_env(template)
    found: set[str] = set()
    for call in calls:
        function = call["function"]
        if function not in statements:
            continue  # not one of the stack's functions (a tool naming itself in its User-Agent)
        resource = call_resource(call, env, by_env)
        if not allowed(call, resource, statements[function]):
            families = sorted({k.split("#", 1)[0] + "#" for k in call.get("leading_keys") or []})
            found.add(f"{function}: {call['service']}:{call['action']} on {resource}"
                      + (f" with leading keys {', '.join(families)}" if families else ""))
    return sorted(found)


def read_env(path: Path) -> dict[str, str]:
    env = {}
    for line in path.read_text().splitlines():
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
                value = value[1:-1]
            env[key] = value
    return env


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--log", default=str(ROOT / ".local" / "aws-calls.jsonl"))
    parser.add_argument("--env", default=str(ROOT / ".local" / "stack.env"))
    parser.add_argument("--template", default=str(ROOT / "template.yaml"))
    args = parser.parse_args(argv)
    sys.path.insert(0, str(INFRA))
    import local_stack  # noqa: PLC0415 - needs PyYAML, as the local stack does

    log = Path(args.log)
    if not log.is_file():
        print(f"aws_calls: no call log at {log} (start the stack with infra/stack.sh up)", file=sys.stderr)
        return 1
    calls = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    problems = violations(calls, local_stack.load_template(args.template), read_env(Path(args.env)))
    functions = sorted({c["function"] for c in calls})
    if problems:
        print("AWS calls the functions made that template.yaml does not allow (AccessDenied in AWS):")
        for problem in problems:
            print(f"  {problem}")
        return 1
    print(f"aws_calls: {len(calls)} calls by {len(functions)} functions ({', '.join(functions)}), "
          "every one allowed by template.yaml")
    return 0


if __name__ == "__main__":
    sys.exit(main())
