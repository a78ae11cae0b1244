"""Tests of the local-stack tooling: local_stack.py, sqs_poller.py, stream_poller.py and stack.sh.

Each test session starts its own moto server on a free port (no Docker, no network).
Run: python3 -m pytest infra/test_local_stack.py -q
"""
from __future__ import annotations

import contextlib
import http.server
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

INFRA = Path(__file__).resolve().parent
ROOT = INFRA.parent
TEMPLATE = ROOT / "template.yaml"
sys.path.insert(0, str(INFRA))

import local_stack  # noqa: E402
import sqs_poller  # noqa: E402
import stream_poller  # noqa: E402

REGION = "us-east-1"
STACK = "sr-test"


# ------------------------------------------------------------------ fixtures
def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def answers(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=1).read()
        return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        assert wait_until(lambda: answers(f"{endpoint}/moto-api/"), 30), "moto server did not start"
        yield endpoint
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def client(service: str, endpoint: str) -> Any:
    return boto3.client(service, endpoint_url=endpoint, region_name=REGION,
                        aws_access_key_id="test", aws_secret_access_key="test")


def run_local_stack(endpoint: str, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(INFRA / "local_stack.py"), "--endpoint", endpoint,
         "--stack-name", STACK, "--template", str(TEMPLATE), "--out", str(out),
         "--partner-client-id", "test-partner", "--partner-client-secret", "test-partner-secret",
         *extra],
        capture_output=True, text=True, timeout=120, check=False,
    )


def unquote(value: str) -> str:
    """Strip one pair of quotes, as the Rust test support and stack.sh do."""
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def read_env(path: Path) -> dict[str, str]:
    """Read the env file the way the Rust test support does: split on the first '='
    and strip one pair of quotes (local_stack.py quotes values cargo lambda needs quoted)."""
    env = {}
    for line in path.read_text().splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            env[key] = unquote(value)
    return env


@pytest.fixture(scope="module")
def created(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("local") / "env"
    result = run_local_stack(
        moto_endpoint, out,
        "--set", "SR_API_BASE_URL=http://127.0.0.1:5310/assessment-api/v202010",
        "--set", "ALLOW_INSECURE_SR_URLS=true",
    )
    assert result.returncode == 0, result.stderr
    return {"out": out, "env": read_env(out), "stderr": result.stderr}


# ------------------------------------------------------------- template load
def test_loader_understands_short_tags() -> None:
    document = local_stack.load_template(TEMPLATE)
    env = document["Globals"]["Function"]["Environment"]["Variables"]
    assert env["TABLE_NAME"] == {"Ref": "ConnectorTable"}
    assert env["SECRET_PREFIX"] == {"Fn::Sub": "${AWS::StackName}/"}
    redrive = document["Resources"]["ResultsQueue"]["Properties"]["RedrivePolicy"]
    assert redrive["deadLetterTargetArn"] == {"Fn::GetAtt": ["ResultsDeadLetterQueue", "Arn"]}
    assert document["Conditions"]["HasAlarmTopic"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmTopicArn"}, ""]}]}


def test_resolver_intrinsics() -> None:
    template = {
        "Parameters": {"Env": {"Type": "String", "Default": "dev"}, "Flag": {"Default": "true"}},
        "Conditions": {"IsDev": {"Fn::Equals": [{"Ref": "Env"}, "dev"]},
                       "NotDev": {"Fn::Not": [{"Condition": "IsDev"}]}},
        "Resources": {"Q": {"Type": "AWS::SQS::Queue"}},
    }
    resolver = local_stack.Resolver(template=template, stack_name="s1")
    resolver.refs["Q"] = "http://q"
    resolver.attributes["Q"] = {"Arn": "arn:q"}
    assert resolver.resolve({"Fn::Sub": "${AWS::StackName}/${Env}/${Q.Arn}/${!Literal}"}) == "s1/dev/arn:q/${Literal}"
    assert resolver.resolve({"Fn::Sub": ["${A}-${AWS::Region}", {"A": {"Ref": "Q"}}]}) == "http://q-us-east-1"
    assert resolver.resolve({"Fn::If": ["NotDev", "a", "b"]}) == "b"
    assert resolver.resolve({"Fn::Join": ["-", ["a", {"Ref": "AWS::AccountId"}]]}) == "a-123456789012"
    assert resolver.resolve({"Fn::Select": [1, {"Fn::Split": [",", "x,y,z"]}]}) == "y"
    assert resolver.resolve({"Fn::GetAtt": ["Q", "Arn"]}) == "arn:q"
    assert resolver.resolve(["a", {"Ref": "AWS::NoValue"}]) == ["a"]
    assert resolver.resolve({"Fn::Sub": "https://x.${AWS::URLSuffix}/${AWS::Partition}"}) == \
        "https://x.amazonaws.com/aws"
    with pytest.raises(local_stack.Unresolvable):
        resolver.resolve({"Ref": "Missing"})


def test_creation_order_puts_dead_letter_queue_first() -> None:
    order = local_stack.creation_order(local_stack.load_template(TEMPLATE)["Resources"])
    assert order.index("ResultsDeadLetterQueue") < order.index("ResultsQueue")
    assert order.index("NotificationsDeadLetterQueue") < order.index("NotificationsQueue")
    assert set(order) == {"ConnectorTable", "ResultsQueue", "ResultsDeadLetterQueue",
                          "NotificationsQueue", "NotificationsDeadLetterQueue", "OrderStreamFailureQueue",
                          "PartnerCredentialSecret", "VendorApiKeySecret", "WebhookSigningSecret",
                          "OidcClientSecret"}


def test_env_line_quotes_only_what_cargo_lambda_cannot_parse() -> None:
    assert local_stack.env_line("A", "http://x:1/a?b") == "A=http://x:1/a?b"
    assert local_stack.env_line("A", "info,connector=debug") == "A='info,connector=debug'"
    assert local_stack.env_line("A", "two words") == "A='two words'"
    assert local_stack.env_line("A", "it's") == 'A="it\'s"'
    assert local_stack.env_line("A", "") == "A="
    assert local_stack.env_line("A", "a,b.c,127.0.0.1") == "A=a,b.c,127.0.0.1"
    assert local_stack.env_line("A", "p$ss\\w") == "A='p$ss\\w'"


# ------------------------------------------------- build outputs where cargo puts them
def test_binaries_are_found_in_cargos_target_directory(tmp_path: Path) -> None:
    global_dir = tmp_path / "global-target"
    env = {**os.environ, "CARGO_TARGET_DIR": str(global_dir)}
    found = subprocess.run([sys.executable, str(INFRA / "cargo_target.py"), "sr-simulator"],
                           env=env, capture_output=True, text=True, check=True, timeout=120)
    assert found.stdout.strip() == str(global_dir / "debug" / "sr-simulator")


def test_no_script_looks_for_binaries_under_a_fixed_target_directory() -> None:
    # A global CARGO_TARGET_DIR leaves ./target missing or stale: every script asks cargo.
    scripts = [*INFRA.glob("*.sh"), *INFRA.glob("*.py"), ROOT / "Makefile", ROOT / ".ci" / "run",
               *(ROOT / "tests").glob("*/*.py"), *(ROOT / "tests").glob("*/*.mjs")]
    for script in scripts:
        if script.name == "test_local_stack.py":
            continue
        text = script.read_text()
        for fixed in ("target/debug", "target/release", '"target"'):
            assert fixed not in text, f"{script.relative_to(ROOT)} names {fixed}"


# ------------------------------------------------- template checklist (static)
# The hardening checklist of template.yaml, so a later edit cannot quietly undo it. The
# tools (cfn-lint, sam validate, checkov) run in infra/template_checks.sh.
# What a DynamoDB stream event source mapping reads with the function's role.
STREAM_READS = {"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator",
                "dynamodb:ListStreams"}
ALLOWED_MANAGED_POLICIES = {
    # Added by SAM to every function role: CloudWatch Logs writes only.
    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
    # Added by SAM because Tracing is set (even to PassThrough): X-Ray writes only.
    "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess",
}
SR_ROUTES = {
    ("POST", "/oauth/token"), ("GET", "/packages"), ("GET", "/packages/{assessmentPackageId}"),
    ("POST", "/packages/orders"), ("POST", "/packages/inline/orders"), ("GET", "/integration"),
    ("POST", "/integration"), ("GET", "/integration/callback"),
    ("DELETE", "/integrations/companies/{companyId}"),
    ("ANY", "/assessment/{proxy+}"),
    # The vendor API under Kombo's /v1 base URL.
    ("ANY", "/v1/assessment/{proxy+}"),
}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return local_stack.load_template(TEMPLATE)


def of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: spec for name, spec in template["Resources"].items() if spec["Type"] == kind}


def test_every_function_meets_the_runtime_checklist(template: dict[str, Any]) -> None:
    globals_ = template["Globals"]["Function"]
    assert template["Parameters"]["Architecture"]["Default"] == "arm64"
    assert template["Conditions"]["TracingOn"] == {"Fn::Equals": [{"Ref": "EnableTracing"}, "true"]}
    log_groups = {spec["Properties"]["LogGroupName"]["Fn::Sub"]: spec["Properties"]
                  for spec in of_type(template, "AWS::Logs::LogGroup").values()}
    functions = of_type(template, "AWS::Serverless::Function")
    assert len(functions) == 11
    for name, spec in functions.items():
        props = {**globals_, **spec["Properties"]}
        assert props["Runtime"] == "provided.al2023", name
        assert props["Handler"] == "bootstrap", name
        assert props["Architectures"] == [{"Ref": "Architecture"}], name
        assert props["MemorySize"] == 128, name
        assert props["Tracing"] == {"Fn::If": ["TracingOn", "Active", "PassThrough"]}, name
        assert spec["Metadata"]["BuildMethod"] == "rust-cargolambda", name
        binary = spec["Metadata"]["BuildProperties"]["Binary"]
        assert (ROOT / "functions" / binary / "Cargo.toml").is_file(), f"{name}: no crate {binary}"
        group = log_groups.get(f"/aws/lambda/${{{name}}}")
        assert group is not None, f"{name} has no explicit log group"
        assert group["RetentionInDays"] == {"Ref": "LogRetentionDays"}, name


def test_log_level_takes_only_the_levels_the_functions_accept(template: dict[str, Any]) -> None:
    # shared/src/telemetry.rs LEVELS: anything else would be refused at start (logged at info).
    source = (ROOT / "shared" / "src" / "telemetry.rs").read_text()
    declared = source.split("pub const LEVELS: &[&str] = &[", 1)[1].split("]", 1)[0]
    levels = [part.strip().strip('"') for part in declared.split(",") if part.strip()]
    parameter = template["Parameters"]["LogLevel"]
    assert parameter["AllowedValues"] == levels == ["error", "warn", "info", "debug", "trace"]
    assert parameter["Default"] == "info"
    assert template["Globals"]["Function"]["Environment"]["Variables"]["RUST_LOG"] == {"Ref": "LogLevel"}


def test_table_checklist(template: dict[str, Any]) -> None:
    props = template["Resources"]["ConnectorTable"]["Properties"]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    # The order stream (OrderStreamMapping) reads the inserted items.
    assert props["StreamSpecification"] == {"StreamViewType": "NEW_IMAGE"}
    assert props["SSESpecification"]["SSEEnabled"] is True
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert [(i["IndexName"], i["Projection"]["ProjectionType"]) for i in props["GlobalSecondaryIndexes"]] == [
        ("gsi1", "ALL"), ("gsi2", "KEYS_ONLY")]
    assert props["DeletionProtectionEnabled"] == {"Fn::If": ["DeletionProtectionEnabled", True, False]}
    assert template["Conditions"]["DeletionProtectionEnabled"] == {
        "Fn::Equals": [{"Ref": "DeletionProtection"}, "true"]}


def test_personal_data_expires_through_the_tables_ttl_attribute(template: dict[str, Any]) -> None:
    """The retention parameter reaches every function, and the attribute the code stamps
    (shared/src/store/keys.rs EXPIRES_AT) is the one the table's TTL reads."""
    parameter = template["Parameters"]["PersonalDataRetentionDays"]
    assert (parameter["Default"], parameter["MinValue"], parameter["MaxValue"]) == (365, 1, 3653)
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["PERSONAL_DATA_RETENTION_DAYS"] == {"Ref": "PersonalDataRetentionDays"}
    keys = (ROOT / "shared/src/store/keys.rs").read_text()
    attribute = keys.split("pub const EXPIRES_AT: &str = \"", 1)[1].split('"', 1)[0]
    ttl = template["Resources"]["ConnectorTable"]["Properties"]["TimeToLiveSpecification"]
    assert ttl == {"AttributeName": attribute, "Enabled": True}


def test_queues_have_dead_letter_queues_and_encryption(template: dict[str, Any]) -> None:
    queues = of_type(template, "AWS::SQS::Queue")
    assert set(queues) == {"ResultsQueue", "ResultsDeadLetterQueue",
                           "NotificationsQueue", "NotificationsDeadLetterQueue", "OrderStreamFailureQueue"}
    # The order stream's on-failure destination keeps its records as long as the DLQs theirs.
    failures = queues["OrderStreamFailureQueue"]["Properties"]
    assert failures["MessageRetentionPeriod"] == 1209600 and "FifoQueue" not in failures
    # The results queue is retried with backoff over hours (20 receives); notifications as well.
    for name in ("ResultsQueue", "NotificationsQueue"):
        redrive = queues[name]["Properties"]["RedrivePolicy"]
        assert redrive["deadLetterTargetArn"] == {
            "Fn::GetAtt": [name.replace("Queue", "DeadLetterQueue"), "Arn"]}, name
        assert redrive["maxReceiveCount"] >= 10, name
    # Results are FIFO per order (group = order id), and so is their dead-letter queue.
    for name in ("ResultsQueue", "ResultsDeadLetterQueue"):
        assert queues[name]["Properties"]["FifoQueue"] is True, name
    assert queues["ResultsQueue"]["Properties"]["ContentBasedDeduplication"] is False
    for name, spec in queues.items():
        assert spec["Properties"]["SqsManagedSseEnabled"] is True, name
    env = template["Globals"]["Function"]["Environment"]["Variables"]
    assert env["NOTIFICATIONS_QUEUE_URL"] == {"Ref": "NotificationsQueue"}
    assert env["RESULTS_QUEUE_URL"] == {"Ref": "ResultsQueue"}


def test_http_api_checklist(template: dict[str, Any]) -> None:
    apis = of_type(template, "AWS::Serverless::HttpApi")
    assert list(apis) == ["HttpApi"]
    props = apis["HttpApi"]["Properties"]
    assert props["DefaultRouteSettings"]["ThrottlingRateLimit"] > 0
    assert props["DefaultRouteSettings"]["ThrottlingBurstLimit"] > 0
    logs = props["AccessLogSettings"]
    assert logs["DestinationArn"] == {"Fn::GetAtt": ["HttpApiAccessLogGroup", "Arn"]}
    fields = json.loads(logs["Format"])
    assert {"requestId", "routeKey", "status", "integrationLatency"} <= set(fields)
    for value in fields.values():  # no header, authorizer or body: never the Authorization header
        assert value.startswith("$context.") and not any(
            word in value.lower() for word in ("header", "authorizer", "authorization", "body")), value
    routes = set()
    for spec in of_type(template, "AWS::Serverless::Function").values():
        for event in (spec["Properties"].get("Events") or {}).values():
            assert event["Type"] == "HttpApi"
            assert event["Properties"]["ApiId"] == {"Ref": "HttpApi"}
            routes.add((event["Properties"]["Method"], event["Properties"]["Path"]))
    assert routes == SR_ROUTES


def test_publisher_event_source_mapping(template: dict[str, Any]) -> None:
    mappings = {m["Properties"]["FunctionName"]["Ref"]: m["Properties"]
                for m in of_type(template, "AWS::Lambda::EventSourceMapping").values()}
    assert set(mappings) == {"ResultPublisherFunction", "WebhookDispatcherFunction", "OrderStreamFunction"}
    props = mappings["ResultPublisherFunction"]
    assert props["EventSourceArn"] == {"Fn::GetAtt": ["ResultsQueue", "Arn"]}
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert props["ScalingConfig"]["MaximumConcurrency"] >= 2  # the minimum AWS allows


def test_order_stream_mapping(template: dict[str, Any]) -> None:
    """New orders reach the results queue through the table's stream, not from SR's request."""
    (props,) = [m["Properties"] for m in of_type(template, "AWS::Lambda::EventSourceMapping").values()
                if m["Properties"]["FunctionName"] == {"Ref": "OrderStreamFunction"}]
    assert props["EventSourceArn"] == {"Fn::GetAtt": ["ConnectorTable", "StreamArn"]}
    assert props["StartingPosition"] == "TRIM_HORIZON"
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert props["BisectBatchOnFunctionError"] is True
    assert 0 < props["MaximumRetryAttempts"] <= 10
    # Given up on well inside the stream's 24-hour retention: the failure record stays actionable.
    assert 60 <= props["MaximumRecordAgeInSeconds"] < 86400
    assert props["DestinationConfig"] == {"OnFailure": {"Destination": {
        "Fn::GetAtt": ["OrderStreamFailureQueue", "Arn"]}}}
    (pattern,) = [json.loads(f["Pattern"]) for f in props["FilterCriteria"]["Filters"]]
    keys = (ROOT / "shared/src/store/keys.rs").read_text()
    assert '"ORDER"' in keys
    assert pattern == {"eventName": ["INSERT"], "dynamodb": {"Keys": {"sk": {"S": ["ORDER"]}}}}
    function = template["Resources"]["OrderStreamFunction"]
    assert function["Metadata"]["BuildProperties"]["Binary"] == "order-stream"
    assert "Events" not in function["Properties"]  # no SAM event: it would add a managed policy
    # SR's request path no longer sends: only the stream function queues OrderReceived.
    for name in ("CreateOrderFunction", "CreateInlineOrderFunction"):
        statements = template["Resources"][name]["Properties"]["Policies"][0]["Statement"]
        assert not any(str(a).startswith("sqs:") for st in statements for a in st["Action"]), name


def test_webhook_dispatcher_consumes_the_notifications_queue(template: dict[str, Any]) -> None:
    (props,) = [m["Properties"] for m in of_type(template, "AWS::Lambda::EventSourceMapping").values()
                if m["Properties"]["FunctionName"] == {"Ref": "WebhookDispatcherFunction"}]
    assert props["EventSourceArn"] == {"Fn::GetAtt": ["NotificationsQueue", "Arn"]}
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert props["ScalingConfig"]["MaximumConcurrency"] >= 2
    function = template["Resources"]["WebhookDispatcherFunction"]["Properties"]
    env = function["Environment"]["Variables"]
    assert env["WEBHOOK_URL"] == {"Ref": "WebhookUrl"}
    assert env["WEBHOOK_SIGNING_SECRET_ID"] == {"Ref": "WebhookSigningSecret"}
    redrive = template["Resources"]["NotificationsQueue"]["Properties"]["RedrivePolicy"]
    assert env["WEBHOOK_MAX_RECEIVE_COUNT"] == str(redrive["maxReceiveCount"])
    # The queue hides a message longer than the dispatcher may run with it.
    visibility = template["Resources"]["NotificationsQueue"]["Properties"]["VisibilityTimeout"]
    assert function["Timeout"] < visibility
    parameter = template["Parameters"]["WebhookUrl"]
    assert parameter["Default"] == ""
    import re
    assert re.fullmatch(parameter["AllowedPattern"], "https://vendor.example.com/hooks")
    assert re.fullmatch(parameter["AllowedPattern"], "")
    assert not re.fullmatch(parameter["AllowedPattern"], "http://vendor.example.com/hooks")


def test_secret_values_are_not_in_the_template(template: dict[str, Any]) -> None:
    secrets = of_type(template, "AWS::SecretsManager::Secret")
    assert set(secrets) == {"PartnerCredentialSecret", "VendorApiKeySecret", "WebhookSigningSecret",
                            "OidcClientSecret"}
    for name, spec in secrets.items():
        assert "SecretString" not in spec["Properties"], name
        assert not local_stack.references(spec["Properties"]) - {"AWS::StackName"}, name
    for name, spec in template["Parameters"].items():
        assert not any(word in name.lower() for word in ("secret", "password", "apikey")), name


def _sam_transform(template: dict[str, Any]) -> dict[str, Any]:
    import copy

    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    document = copy.deepcopy(template)
    for spec in of_type(document, "AWS::Serverless::Function").values():
        spec["Properties"]["CodeUri"] = "s3://bucket/key"  # what `sam package` puts there
    session = boto3.session.Session(region_name=REGION, aws_access_key_id="test",
                                    aws_secret_access_key="test")
    return Translator(managed_policy_map=None, sam_parser=Parser(), boto_session=session).translate(
        sam_template=document, parameter_values={}, get_managed_policy_map=lambda: {})


def test_iam_is_least_privilege_after_the_sam_transform(template: dict[str, Any]) -> None:
    transformed = _sam_transform(template)
    roles = of_type(transformed, "AWS::IAM::Role")
    assert len(roles) == 11  # one per function, nothing shared
    for kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::User", "AWS::IAM::Group"):
        assert not of_type(transformed, kind), kind
    company_secrets = "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:${AWS::StackName}/companies/*"
    table_streams = "${ConnectorTable.Arn}/stream/*"
    for name, role in roles.items():
        props = role["Properties"]
        assert set(props.get("ManagedPolicyArns", [])) <= ALLOWED_MANAGED_POLICIES, name
        for policy in props.get("Policies", []):
            for statement in policy["PolicyDocument"]["Statement"]:
                assert statement["Effect"] == "Allow"
                actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                assert all("*" not in action for action in actions), (name, actions)
                resources = statement["Resource"]
                for resource in resources if isinstance(resources, list) else [resources]:
                    assert isinstance(resource, dict), (name, resource)  # never "*" or a literal ARN
                    if "Fn::Sub" in resource:
                        assert resource["Fn::Sub"] in (company_secrets, "${ConnectorTable.Arn}/index/gsi1",
                                                       "${ConnectorTable.Arn}/index/gsi2",
                                                       table_streams), (name, resource)
                        if resource["Fn::Sub"] == company_secrets:
                            assert all(a.startswith("secretsmanager:") for a in actions), name
                        if resource["Fn::Sub"] == table_streams:
                            assert set(actions) <= STREAM_READS, name
                    else:
                        assert set(resource) <= {"Ref", "Fn::GetAtt"}, (name, resource)
    # Exactly what each function's code calls (reviewed against shared/src): a new SDK call
    # needs its action here and in template.yaml. moto does not enforce IAM, so the local
    # tests would not notice a missing permission; AWS would.
    table, index, streams = "ConnectorTable", "ConnectorTable/index/gsi1", "ConnectorTable/stream/*"
    orders_index = "ConnectorTable/index/gsi2"
    results, company, partner, vendor = "ResultsQueue", "companies/*", "PartnerCredentialSecret", "VendorApiKeySecret"
    notifications, signing = "NotificationsQueue", "WebhookSigningSecret"
    expected = {
        "OAuthTokenFunctionRole": {(table, "dynamodb:GetItem"), (table, "dynamodb:PutItem"),
                                   (table, "dynamodb:ConditionCheckItem")},
        "ListPackagesFunctionRole": {(table, "dynamodb:BatchGetItem")},
        "GetPackageFunctionRole": {(table, "dynamodb:BatchGetItem")},
        # The order's TransactWriteItems: token and catalog checks, the order's Put.
        # The order's OrderReceived is queued by order-stream, from the table's stream.
        "CreateOrderFunctionRole": {(table, "dynamodb:BatchGetItem"), (table, "dynamodb:PutItem"),
                                    (table, "dynamodb:GetItem"), (table, "dynamodb:ConditionCheckItem")},
        "CreateInlineOrderFunctionRole": {(table, "dynamodb:BatchGetItem"), (table, "dynamodb:PutItem"),
                                          (table, "dynamodb:GetItem"), (table, "dynamodb:ConditionCheckItem"),
                                          # signs the synchronous inline-assessment:order-received
                                          (signing, "secretsmanager:GetSecretValue")},
        "ConsentFunctionRole": {(table, "dynamodb:GetItem"), (table, "dynamodb:PutItem"),
                                (table, "dynamodb:UpdateItem"), (partner, "secretsmanager:GetSecretValue"),
                                # sign-in: a state and a signed-in session are used once
                                (table, "dynamodb:DeleteItem"),
                                ("OidcClientSecret", "secretsmanager:GetSecretValue"),
                                (signing, "secretsmanager:GetSecretValue"),
                                (company, "secretsmanager:CreateSecret"),
                                (company, "secretsmanager:PutSecretValue"),
                                # a company disabled earlier connects again: its secret is restored
                                (company, "secretsmanager:RestoreSecret"),
                                (notifications, "sqs:SendMessage")},
        "DisableIntegrationFunctionRole": {(table, f"dynamodb:{a}") for a in (
            "BatchGetItem", "GetItem", "UpdateItem", "Query", "BatchWriteItem", "PutItem")}
        | {(company, "secretsmanager:DeleteSecret"), (notifications, "sqs:SendMessage"),
           # a disable without a token is confirmed with SR using the company's credentials
           (company, "secretsmanager:GetSecretValue")},
        "WebhookDispatcherFunctionRole": {(table, "dynamodb:UpdateItem"),
                                          # lists an event whose webhook settled first
                                          (table, "dynamodb:PutItem"),
                                          # the event's data, read when its webhook is sent
                                          (table, "dynamodb:GetItem"),
                                          (signing, "secretsmanager:GetSecretValue"),
                                          (notifications, "sqs:ReceiveMessage"),
                                          (notifications, "sqs:DeleteMessage"),
                                          (notifications, "sqs:GetQueueAttributes"),
                                          (notifications, "sqs:ChangeMessageVisibility")},
        "VendorApiFunctionRole": {(table, f"dynamodb:{a}") for a in (
            "GetItem", "BatchGetItem", "PutItem", "UpdateItem", "Query",
            # erasure deletes result files
            "DeleteItem")}
        | {(index, "dynamodb:Query"), (orders_index, "dynamodb:Query"),
           (results, "sqs:SendMessage"), (vendor, "secretsmanager:GetSecretValue"),
           # the candidate.erased webhook
           (notifications, "sqs:SendMessage"),
           # the SR passthrough uses the company's own credentials
           (company, "secretsmanager:GetSecretValue")},
        # OrderReceived per new order, and what its stream mapping needs (the stream reads, the
        # on-failure records).
        "OrderStreamFunctionRole": {(results, "sqs:SendMessage"),
                                    ("OrderStreamFailureQueue", "sqs:SendMessage")}
        | {(streams, action) for action in STREAM_READS},
        "ResultPublisherFunctionRole": {(table, "dynamodb:UpdateItem"), (table, "dynamodb:BatchGetItem"),
                                        (company, "secretsmanager:GetSecretValue"),
                                        (results, "sqs:ReceiveMessage"), (results, "sqs:DeleteMessage"),
                                        (results, "sqs:GetQueueAttributes"),
                                        (results, "sqs:ChangeMessageVisibility"),
                                        # enrichment and the events it and failed deliveries record
                                        (table, "dynamodb:GetItem"), (table, "dynamodb:PutItem"),
                                        (notifications, "sqs:SendMessage"),
                                        # an order's result files (FILE# items); the
                                        # erasure check of an attempt after a newer result
                                        (table, "dynamodb:Query"),
                                        (table, "dynamodb:ConditionCheckItem")},
    }

    def target(resource: dict[str, Any] | list[dict[str, Any]]) -> str:
        if isinstance(resource, list):  # one statement's resources: the table's indexes, or one kind
            kinds = {target(r) for r in resource}
            if kinds <= {index, orders_index}:
                return index
            (kind,) = kinds
            return kind
        if "Fn::Sub" in resource:
            if resource["Fn::Sub"] == "${ConnectorTable.Arn}/index/gsi2":
                return orders_index
            return {company_secrets: company, table_streams: streams}.get(resource["Fn::Sub"], index)
        return resource.get("Ref") or resource["Fn::GetAtt"][0]

    granted = {name: {(target(resource), action)
                      for policy in role["Properties"].get("Policies", [])
                      for statement in policy["PolicyDocument"]["Statement"]
                      for resource in (statement["Resource"] if isinstance(statement["Resource"], list)
                                       else [statement["Resource"]])
                      for action in (statement["Action"] if isinstance(statement["Action"], list)
                                     else [statement["Action"]])}
               for name, role in roles.items()}
    assert granted == expected

    # dynamodb:LeadingKeys: every table and index statement names the item families (partition
    # key prefixes, shared/src/store/keys.rs) its function's code touches with those actions.
    leading = {
        "OAuthTokenFunctionRole": {"GetItem": {"CLIENT"}, "PutItem": {"COMPANY"},
                                   "ConditionCheckItem": {"COMPANY"}},
        "ListPackagesFunctionRole": {"BatchGetItem": {"COMPANY", "INTEGRATION"}},
        "GetPackageFunctionRole": {"BatchGetItem": {"COMPANY", "INTEGRATION"}},
        "CreateOrderFunctionRole": {"BatchGetItem": {"COMPANY", "INTEGRATION"},
                                    "ConditionCheckItem": {"COMPANY", "INTEGRATION"},
                                    "PutItem": {"ORDER"}, "GetItem": {"ORDER"}},
        "CreateInlineOrderFunctionRole": {"BatchGetItem": {"COMPANY", "INTEGRATION"},
                                          "ConditionCheckItem": {"COMPANY", "INTEGRATION"},
                                          "PutItem": {"ORDER"}, "GetItem": {"ORDER"}},
        "ConsentFunctionRole": {
            "GetItem": {"COMPANY", "CONNECTKEY", "CONSENT", "EVENTID"},
            "PutItem": {"CONSENT", "COMPANY", "CLIENT", "INTEGRATION", "EVENTID"},
            "UpdateItem": {"COMPANY", "CONSENTADDR", "CONNECTKEY"},
            "DeleteItem": {"CONSENT"}},
        "DisableIntegrationFunctionRole": {
            "BatchGetItem": {"COMPANY", "CLIENT", "INTEGRATION"},
            "GetItem": {"COMPANY", "CLIENT", "INTEGRATION", "EVENTID"},
            "UpdateItem": {"COMPANY", "CLIENT", "INTEGRATION"},
            "Query": {"COMPANY", "CLIENT", "INTEGRATION"},
            "BatchWriteItem": {"COMPANY", "CLIENT", "INTEGRATION"},
            "PutItem": {"INTEGRATION", "EVENTID"}},
        # A result and its submission are one TransactWriteItems: UpdateItem and PutItem on ORDER.
        "VendorApiFunctionRole": {
            "GetItem": {"INTEGRATION", "ORDER", "COMPANY", "VENDORKEY", "EVENTID"},
            "BatchGetItem": {"INTEGRATION", "ORDER", "COMPANY", "VENDORKEY"},
            "Query": {"INTEGRATION", "ORDER", "COMPANY", "VENDORKEY"},
            "PutItem": {"INTEGRATION", "CONNECTKEY", "ORDER", "VENDORKEY", "EVENTID"},
            "UpdateItem": {"INTEGRATION", "CONNECTKEY", "ORDER", "VENDORKEY", "EVENTID"},
            # erasure (shared/src/store/privacy.rs): result files, the events' data
            "DeleteItem": {"ORDER"},
            "index Query": {"INTEGRATION"}},
        "ResultPublisherFunctionRole": {
            "BatchGetItem": {"ORDER", "PACE"},
            "UpdateItem": {"ORDER", "PACE"},
            "Query": {"ORDER"},
            "GetItem": {"ORDER", "INTEGRATION", "EVENTID"},
            "PutItem": {"ORDER", "INTEGRATION", "EVENTID"},
            "ConditionCheckItem": {"ORDER"}},
        "WebhookDispatcherFunctionRole": {"UpdateItem": {"INTEGRATION"}, "PutItem": {"INTEGRATION"},
                                          "GetItem": {"EVENTID"}},
    }
    found: dict[str, dict[str, set[str]]] = {}
    for name, role in roles.items():
        for policy in role["Properties"].get("Policies", []):
            for statement in policy["PolicyDocument"]["Statement"]:
                actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                if not any(a.startswith("dynamodb:") for a in actions) or target(statement["Resource"]) == streams:
                    continue  # stream reads have no item keys (no dynamodb:LeadingKeys)
                condition = statement.get("Condition")
                assert condition is not None and set(condition) == {"ForAllValues:StringLike"}, (name, statement)
                assert set(condition["ForAllValues:StringLike"]) == {"dynamodb:LeadingKeys"}, (name, statement)
                patterns = condition["ForAllValues:StringLike"]["dynamodb:LeadingKeys"]
                assert all(p.endswith("#*") and p[:-2].isupper() for p in patterns), (name, patterns)
                on_index = target(statement["Resource"]) == index
                for action in actions:
                    key = ("index " if on_index else "") + action.split(":", 1)[1]
                    found.setdefault(name, {}).setdefault(key, set()).update(p[:-2] for p in patterns)
    assert found == leading
    # Every family named is one the code has, and every family the code has is reachable.
    keys_rs = (ROOT / "shared" / "src" / "store" / "keys.rs").read_text()
    import re
    # The partition key is the first element of each `(pk, sk)` a key function returns.
    families = set(re.findall(r'\(\s*format!\(\s*"([A-Z]+)#', keys_rs))
    # ... or built by a `*_pk` function from a `const *_PREFIX` (`order_pk`: `ORDER#`).
    consts = dict(re.findall(r'const (\w+): &str = "([A-Z]+)#";', keys_rs))
    built = re.findall(r'fn \w+_pk\([^)]*\) -> String \{\s*format!\("\{(\w+)\}', keys_rs)
    families |= {consts[name] for name in built}
    named = {f for role in leading.values() for prefixes in role.values() for f in prefixes}
    assert named <= families, named - families
    assert families <= named, families - named


def test_recorded_calls_are_split_into_what_iam_authorises() -> None:
    import aws_calls

    table = "sr-test-ConnectorTable"
    transact = aws_calls.calls_from_request("oauth-token", "DynamoDB_20120810.TransactWriteItems", {
        "TransactItems": [
            {"ConditionCheck": {"TableName": table, "Key": {"pk": {"S": "COMPANY#c"}, "sk": {"S": "PROFILE"}}}},
            {"Put": {"TableName": table, "Item": {"pk": {"S": "COMPANY#c"}, "sk": {"S": "TOKEN#d"}}}},
        ]})
    assert [(c["action"], c["leading_keys"]) for c in transact] == [
        ("ConditionCheckItem", ["COMPANY#c"]), ("PutItem", ["COMPANY#c"])]
    batch = aws_calls.calls_from_request("get-package", "DynamoDB_20120810.BatchGetItem", {
        "RequestItems": {table: {"Keys": [{"pk": {"S": "COMPANY#c"}}, {"pk": {"S": "INTEGRATION#i"}}]}}})
    assert batch == [{"function": "get-package", "service": "dynamodb", "action": "BatchGetItem",
                      "table": table, "index": None, "leading_keys": ["COMPANY#c", "INTEGRATION#i"]}]
    query = aws_calls.calls_from_request("vendor-api", "DynamoDB_20120810.Query", {
        "TableName": table, "IndexName": "gsi1", "KeyConditionExpression": "#k = :pk AND gsi1sk > :s",
        "ExpressionAttributeNames": {"#k": "gsi1pk"},
        "ExpressionAttributeValues": {":pk": {"S": "INTEGRATION#i#ORDERS"}, ":s": {"S": "x"}}})
    assert (query[0]["index"], query[0]["leading_keys"]) == ("gsi1", ["INTEGRATION#i#ORDERS"])
    batch = aws_calls.calls_from_request("result-publisher", "AmazonSQS.ChangeMessageVisibilityBatch",
                                         {"QueueUrl": "http://q", "Entries": []})
    assert (batch[0]["action"], batch[0]["queue"]) == ("ChangeMessageVisibilityBatch", "http://q")
    secret = aws_calls.calls_from_request("consent", "secretsmanager.CreateSecret", {"Name": "s/companies/c"})
    assert secret[0]["secret"] == "s/companies/c"
    assert aws_calls.function_of(["aws-sdk-rust/1.3 os/linux lang/rust/1.90 app/vendor-api"]) == "vendor-api"
    assert aws_calls.function_of(["Boto3/1.35 md/Botocore#1.35"]) is None


def test_a_call_outside_a_functions_statements_is_reported(template: dict[str, Any]) -> None:
    import aws_calls

    env = {"TABLE_NAME": "t", "SECRET_PREFIX": "s/", "PARTNER_CREDENTIAL_SECRET_ID": "arn:partner",
           "RESULTS_QUEUE_URL": "http://q/results", "NOTIFICATIONS_QUEUE_URL": "http://q/notifications"}

    def dynamodb(function: str, action: str, *keys: str, index: str | None = None) -> dict[str, Any]:
        return {"function": function, "service": "dynamodb", "action": action, "table": "t",
                "index": index, "leading_keys": list(keys)}

    allowed = [
        dynamodb("consent", "UpdateItem", "CONSENTADDR#10.0.0.1"),
        dynamodb("get-package", "BatchGetItem", "COMPANY#c", "INTEGRATION#i"),
        dynamodb("vendor-api", "Query", "INTEGRATION#i#ORDERS", index="gsi1"),
        dynamodb("vendor-api", "Query", "INTEGRATION#i#ORDERS", index="gsi2"),
        dynamodb("oauth-token", "ConditionCheckItem", "COMPANY#c"),
        {"function": "consent", "service": "secretsmanager", "action": "GetSecretValue", "secret": "arn:partner"},
        {"function": "consent", "service": "secretsmanager", "action": "RestoreSecret", "secret": "s/companies/c"},
        {"function": "vendor-api", "service": "sqs", "action": "SendMessage", "queue": "http://q/results"},
        # New orders are queued from the table's stream.
        {"function": "order-stream", "service": "sqs", "action": "SendMessage", "queue": "http://q/results"},
        # SQS authorises a batch action as its single action.
        {"function": "result-publisher", "service": "sqs", "action": "ChangeMessageVisibilityBatch",
         "queue": "http://q/results"},
        # Not a function of the stack: not checked.
        dynamodb("connector", "Scan"),
    ]
    assert aws_calls.violations(allowed, template, env) == []
    refused = [
        dynamodb("consent", "GetItem", "CONSENTADDR#10.0.0.1"),  # counters are only counted up
        dynamodb("vendor-api", "PutItem", "CONSENT#s"),  # a family it does not own
        dynamodb("vendor-api", "Query", "ORDER#o", index="gsi1"),
        dynamodb("webhook-dispatcher", "DeleteItem", "INTEGRATION#i"),  # an action it does not have
        dynamodb("vendor-api", "BatchGetItem", "ORDER#o", "CONNECTKEY#k"),  # one key outside
        {"function": "disable-integration", "service": "secretsmanager", "action": "GetSecretValue",
         "secret": "arn:partner"},
        {"function": "consent", "service": "sqs", "action": "SendMessage", "queue": "http://q/results"},
        # SR's request path no longer queues the order (order-stream does).
        {"function": "create-order", "service": "sqs", "action": "SendMessage", "queue": "http://q/results"},
        {"function": "order-stream", "service": "sqs", "action": "SendMessage",
         "queue": "http://q/notifications"},
    ]
    assert aws_calls.violations(refused, template, env) == [
        "consent: dynamodb:GetItem on ConnectorTable with leading keys CONSENTADDR#",
        "consent: sqs:SendMessage on ResultsQueue",
        "create-order: sqs:SendMessage on ResultsQueue",
        "disable-integration: secretsmanager:GetSecretValue on PartnerCredentialSecret",
        "order-stream: sqs:SendMessage on NotificationsQueue",
        "vendor-api: dynamodb:BatchGetItem on ConnectorTable with leading keys CONNECTKEY#, ORDER#",
        "vendor-api: dynamodb:PutItem on ConnectorTable with leading keys CONSENT#",
        "vendor-api: dynamodb:Query on ConnectorTable/index/gsi1 with leading keys ORDER#",
        "webhook-dispatcher: dynamodb:DeleteItem on ConnectorTable with leading keys INTEGRATION#",
    ]


def test_alarms_checklist(template: dict[str, Any]) -> None:
    alarms = of_type(template, "AWS::CloudWatch::Alarm")
    actions = {"Fn::If": ["HasAlarmTopic", [{"Ref": "AlarmTopicArn"}], {"Ref": "AWS::NoValue"}]}
    for name, spec in alarms.items():
        assert spec["Properties"]["AlarmActions"] == actions, name
    watched = {(p["Namespace"], p["MetricName"], json.dumps(p["Dimensions"][0]["Value"], sort_keys=True))
               for p in (spec["Properties"] for spec in alarms.values())}
    queues = of_type(template, "AWS::SQS::Queue")
    dead_letter_queues = {next(iter(local_stack.references(q["Properties"]["RedrivePolicy"])))
                          for q in queues.values() if "RedrivePolicy" in q["Properties"]}
    assert dead_letter_queues == {"ResultsDeadLetterQueue", "NotificationsDeadLetterQueue"}
    for dlq in dead_letter_queues:
        assert ("AWS/SQS", "ApproximateNumberOfMessagesVisible",
                json.dumps({"Fn::GetAtt": [dlq, "QueueName"]})) in watched, dlq
    assert ("AWS/SQS", "ApproximateNumberOfMessagesVisible",
            json.dumps({"Fn::GetAtt": ["OrderStreamFailureQueue", "QueueName"]})) in watched
    assert ("AWS/Lambda", "Errors", json.dumps({"Ref": "ResultPublisherFunction"})) in watched
    assert ("AWS/ApiGateway", "5xx", json.dumps({"Ref": "HttpApi"})) in watched


def test_outputs_checklist(template: dict[str, Any]) -> None:
    assert {"ApiBaseUrl", "VendorApiBaseUrl", "OAuthTokenUrl", "AssessmentPackageListUrl",
            "SingleAssessmentPackageUrl", "PackageOrderUrl", "InlineAssessmentPackageOrderUrl",
            "ConsentUrl", "IntegrationDisableUrl", "TableName", "ResultsQueueUrl",
            "ResultsDeadLetterQueueUrl", "NotificationsQueueUrl", "NotificationsDeadLetterQueueUrl",
            "OrderStreamFailureQueueUrl", "PartnerCredentialSecretId", "VendorApiKeySecretId"} <= set(template["Outputs"])


def test_every_checkov_suppression_has_a_reason() -> None:
    import re

    skips = [line.strip() for line in TEMPLATE.read_text().splitlines() if "checkov:skip" in line]
    assert skips
    for line in skips:
        match = re.fullmatch(r"# checkov:skip=(CKV2?_AWS_\d+):(.+)", line)
        assert match and len(match.group(2).strip()) >= 30, f"suppression without a real reason: {line}"


# ---------------------------------------------------------- local_stack.py
def test_table_matches_template(created: dict[str, Any], moto_endpoint: str) -> None:
    dynamodb = client("dynamodb", moto_endpoint)
    name = f"{STACK}-ConnectorTable"
    assert created["env"]["TABLE_NAME"] == name
    table = dynamodb.describe_table(TableName=name)["Table"]
    assert {(k["AttributeName"], k["KeyType"]) for k in table["KeySchema"]} == {("pk", "HASH"), ("sk", "RANGE")}
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    indexes = {gsi["IndexName"]: gsi for gsi in table["GlobalSecondaryIndexes"]}
    assert set(indexes) == {"gsi1", "gsi2"}
    for index, projection in (("gsi1", "ALL"), ("gsi2", "KEYS_ONLY")):
        assert {(k["AttributeName"], k["KeyType"]) for k in indexes[index]["KeySchema"]} == {
            (f"{index}pk", "HASH"), (f"{index}sk", "RANGE")}
        assert indexes[index]["Projection"]["ProjectionType"] == projection
    ttl = dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}
    # The stream infra/stream_poller.py reads (OrderStreamMapping).
    assert table["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}
    assert table["LatestStreamArn"].startswith(table["TableArn"] + "/stream/")


def test_queue_has_redrive_policy_to_dlq(created: dict[str, Any], moto_endpoint: str) -> None:
    sqs = client("sqs", moto_endpoint)
    env = created["env"]
    queue_url = sqs.get_queue_url(QueueName=f"{STACK}-ResultsQueue.fifo")["QueueUrl"]
    dlq_url = sqs.get_queue_url(QueueName=f"{STACK}-ResultsDeadLetterQueue.fifo")["QueueUrl"]
    assert env["RESULTS_QUEUE_URL"] == queue_url
    assert env["RESULTS_DLQ_URL"] == dlq_url
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])["Attributes"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    redrive = json.loads(attributes["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"] == dlq_arn
    assert int(redrive["maxReceiveCount"]) == 20
    assert attributes["VisibilityTimeout"] == "60"
    assert attributes["FifoQueue"] == "true"
    dlq_attributes = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["All"])["Attributes"]
    assert dlq_attributes["MessageRetentionPeriod"] == "1209600"


def test_notifications_queue_has_redrive_policy_to_its_dlq(created: dict[str, Any], moto_endpoint: str) -> None:
    sqs = client("sqs", moto_endpoint)
    env = created["env"]
    queue_url = sqs.get_queue_url(QueueName=f"{STACK}-NotificationsQueue")["QueueUrl"]
    dlq_url = sqs.get_queue_url(QueueName=f"{STACK}-NotificationsDeadLetterQueue")["QueueUrl"]
    assert env["NOTIFICATIONS_QUEUE_URL"] == queue_url  # from Globals
    assert env["NOTIFICATIONS_DLQ_URL"] == dlq_url
    assert env["RESULTS_QUEUE_URL"] != queue_url
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])["Attributes"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    redrive = json.loads(attributes["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"] == dlq_arn
    assert int(redrive["maxReceiveCount"]) == 10
    assert attributes["SqsManagedSseEnabled"] == "true"
    dlq_attributes = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["All"])["Attributes"]
    assert dlq_attributes["MessageRetentionPeriod"] == "1209600"
    assert dlq_attributes["SqsManagedSseEnabled"] == "true"


def test_secrets_exist_with_names_and_values(created: dict[str, Any], moto_endpoint: str) -> None:
    secrets = client("secretsmanager", moto_endpoint)
    env = created["env"]
    partner = secrets.get_secret_value(SecretId=f"{STACK}/partner-credential")
    assert json.loads(partner["SecretString"]) == {
        "client_id": "test-partner", "client_secret": "test-partner-secret"}
    assert env["PARTNER_CREDENTIAL_SECRET_ID"] == partner["ARN"]
    vendor = secrets.get_secret_value(SecretId=f"{STACK}/vendor-api-key")
    assert len(vendor["SecretString"]) == 48 and vendor["SecretString"].isalnum()
    assert env["VENDOR_API_KEY"] == vendor["SecretString"]
    assert env["VENDOR_API_KEY_SECRET_ID"] == vendor["ARN"]
    # the ARN in the env file works as a SecretId, as it does for the Rust SDK
    assert secrets.get_secret_value(SecretId=env["VENDOR_API_KEY_SECRET_ID"])["Name"] == f"{STACK}/vendor-api-key"


def test_env_file_contents(created: dict[str, Any], moto_endpoint: str) -> None:
    env = created["env"]
    assert env["SECRET_PREFIX"] == f"{STACK}/"
    assert env["SR_API_BASE_URL"] == "http://127.0.0.1:5310/assessment-api/v202010"  # --set override
    assert env["SR_TOKEN_URL"] == "https://api.smartrecruiters.com/identity/oauth/token"  # template default
    assert env["ALLOW_INSECURE_SR_URLS"] == "true"  # --set extra
    assert env["ACCESS_TOKEN_TTL_SECONDS"] == "900"
    assert env["RUST_LOG"] == "info"
    assert env["AWS_ENDPOINT_URL"] == moto_endpoint
    assert env["AWS_ACCESS_KEY_ID"] == env["AWS_SECRET_ACCESS_KEY"] == "test"
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == REGION
    assert env["PARTNER_CLIENT_ID"] == "test-partner"
    assert env["PARTNER_CLIENT_SECRET"] == "test-partner-secret"
    as_json = json.loads(created["out"].with_name("env.json").read_text())
    assert as_json == env
    # every variable of Globals.Function.Environment is resolved
    template = local_stack.load_template(TEMPLATE)
    assert set(template["Globals"]["Function"]["Environment"]["Variables"]) <= set(env)


def test_env_file_has_the_functions_own_variables(created: dict[str, Any], moto_endpoint: str) -> None:
    env = created["env"]
    # WebhookDispatcherFunction's own Environment: one local environment serves every function
    assert env["WEBHOOK_URL"] == ""  # the WebhookUrl parameter's default: webhooks off
    assert env["WEBHOOK_MAX_RECEIVE_COUNT"] == "10"
    secrets = client("secretsmanager", moto_endpoint)
    signing = secrets.get_secret_value(SecretId=env["WEBHOOK_SIGNING_SECRET_ID"])
    assert signing["Name"] == f"{STACK}/webhook-signing-secret"
    assert len(signing["SecretString"]) == 64 and signing["SecretString"].isalnum()


def test_functions_giving_one_variable_two_values_are_refused(moto_endpoint: str, tmp_path: Path) -> None:
    import yaml
    document = TEMPLATE.read_text()
    template = local_stack.load_template(TEMPLATE)
    first, second = list(of_type(template, "AWS::Serverless::Function"))[:2]
    data = yaml.load(document, Loader=local_stack.CfnLoader)  # noqa: S506 - SafeLoader subclass
    for name, value in ((first, "a"), (second, "b")):
        data["Resources"][name]["Properties"].setdefault("Environment", {"Variables": {}})
        data["Resources"][name]["Properties"]["Environment"]["Variables"]["CLASH"] = value
    resolver = local_stack.Resolver(template=data, stack_name=STACK)
    stack = local_stack.LocalStack(resolver=resolver, clients=lambda _: None, partner_client_id="p",
                                   partner_client_secret="s", vendor_api_key=None)
    for logical_id, spec in data["Resources"].items():  # what create_all would have resolved
        resolver.refs.setdefault(logical_id, f"arn:{logical_id}")
        resolver.attributes.setdefault(logical_id, {"Arn": f"arn:{logical_id}"})
    with pytest.raises(SystemExit, match="CLASH differs between"):
        local_stack.build_env(stack, moto_endpoint, {})
    assert local_stack.build_env(stack, moto_endpoint, {"CLASH": "c"})["CLASH"] == "c"


def test_env_file_has_vendor_and_consent_settings(created: dict[str, Any]) -> None:
    env = created["env"]
    # template defaults, resolved from the parameters
    assert env["VENDOR_NAME"] == "Assessment vendor"
    assert "VENDOR_NAME='Assessment vendor'" in created["out"].read_text().splitlines()  # quoted (space)
    assert env["VENDOR_LOGO_URL"] == ""
    assert "VENDOR_LOGO_URL=" in created["out"].read_text().splitlines()
    assert env["DISABLE_REQUIRES_TOKEN"] == "true"
    assert env["CONSENT_REDIRECT_HOSTS"] == "smartrecruiters.com"
    as_json = json.loads(created["out"].with_name("env.json").read_text())
    assert as_json["VENDOR_NAME"] == "Assessment vendor"
    assert as_json["VENDOR_LOGO_URL"] == ""


def test_vendor_and_consent_settings_from_parameters_and_overrides(
        created: dict[str, Any], moto_endpoint: str, tmp_path: Path) -> None:
    out = tmp_path / "env"
    result = run_local_stack(
        moto_endpoint, out,
        "--vendor-api-key", created["env"]["VENDOR_API_KEY"],
        "--parameter", "DisableRequiresToken=false",
        "--parameter", "VendorLogoUrl=https://cdn.example.com/logo.png",
        "--set", "CONSENT_REDIRECT_HOSTS=127.0.0.1,localhost,smartrecruiters.com",
        "--set", "VENDOR_NAME=Acme Assessments",
    )
    assert result.returncode == 0, result.stderr
    lines = out.read_text().splitlines()
    assert "VENDOR_NAME='Acme Assessments'" in lines
    assert "CONSENT_REDIRECT_HOSTS=127.0.0.1,localhost,smartrecruiters.com" in lines
    assert "VENDOR_LOGO_URL=https://cdn.example.com/logo.png" in lines
    assert "DISABLE_REQUIRES_TOKEN=false" in lines
    # the override replaces the template value in place: each variable once
    assert sum(1 for line in lines if line.startswith("VENDOR_NAME=")) == 1


def test_rerun_is_idempotent(created: dict[str, Any], moto_endpoint: str) -> None:
    out = created["out"]
    first = created["env"]
    result = run_local_stack(
        moto_endpoint, out,
        "--set", "SR_API_BASE_URL=http://127.0.0.1:5310/assessment-api/v202010",
        "--set", "ALLOW_INSECURE_SR_URLS=true",
    )
    assert result.returncode == 0, result.stderr
    assert "already exists" in result.stderr
    assert read_env(out) == first  # same names, URLs, ARNs and kept vendor key
    sqs = client("sqs", moto_endpoint)
    assert len(sqs.list_queues(QueueNamePrefix=STACK).get("QueueUrls", [])) == 5
    dynamodb = client("dynamodb", moto_endpoint)
    assert [t for t in dynamodb.list_tables()["TableNames"] if t.startswith(STACK)] == [f"{STACK}-ConnectorTable"]
    secrets = client("secretsmanager", moto_endpoint)
    names = [s["Name"] for s in secrets.list_secrets()["SecretList"] if s["Name"].startswith(f"{STACK}/")]
    assert sorted(names) == [f"{STACK}/oidc-client-secret", f"{STACK}/partner-credential", f"{STACK}/vendor-api-key",
                             f"{STACK}/webhook-signing-secret"]


def test_rerun_updates_secret_values(created: dict[str, Any], moto_endpoint: str, tmp_path: Path) -> None:
    out = tmp_path / "env"
    result = run_local_stack(moto_endpoint, out, "--vendor-api-key", "given-vendor-key")
    assert result.returncode == 0, result.stderr
    secrets = client("secretsmanager", moto_endpoint)
    assert secrets.get_secret_value(SecretId=f"{STACK}/vendor-api-key")["SecretString"] == "given-vendor-key"
    assert read_env(out)["VENDOR_API_KEY"] == "given-vendor-key"
    # restore what the module fixture created for the other tests
    result = run_local_stack(moto_endpoint, out, "--vendor-api-key", created["env"]["VENDOR_API_KEY"])
    assert result.returncode == 0, result.stderr


# ------------------------------------------------------------- sqs_poller.py
class FakeFunction:
    """A stand-in for the Lambda invoke endpoint of the result publisher."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.mode = "report"  # report: fail bodies containing "fail"; error: 500; junk: bad JSON
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length", 0))
                event = json.loads(self.rfile.read(length))
                fake.events.append(event)
                if fake.mode == "error":
                    status, answer = 500, {"errorType": "Boom", "errorMessage": "boom"}
                elif fake.mode == "junk":
                    status, answer = 200, None
                else:
                    status, answer = 200, {"batchItemFailures": [
                        {"itemIdentifier": r["messageId"]} for r in event["Records"] if "fail" in r["body"]]}
                body = b"not json" if fake.mode == "junk" else json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/2015-03-31/functions/result-publisher/invocations"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def fake_function() -> Iterator[FakeFunction]:
    fake = FakeFunction()
    yield fake
    fake.close()


_queue_counter = iter(range(1_000_000))


@pytest.fixture()
def test_queues(moto_endpoint: str) -> dict[str, str]:
    """A separate queue + DLQ with a short visibility timeout and maxReceiveCount 2."""
    sqs = client("sqs", moto_endpoint)
    suffix = f"{os.getpid()}-{next(_queue_counter)}"
    dlq_url = sqs.create_queue(QueueName=f"poller-dlq-{suffix}")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    queue_url = sqs.create_queue(QueueName=f"poller-q-{suffix}", Attributes={
        "VisibilityTimeout": "1",
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2}),
    })["QueueUrl"]
    return {"queue": queue_url, "dlq": dlq_url}


def queue_counts(sqs: Any, url: str) -> tuple[int, int]:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
        "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]), int(attributes["ApproximateNumberOfMessagesNotVisible"])


@pytest.fixture()
def running_poller(moto_endpoint: str, test_queues: dict[str, str],
                   fake_function: FakeFunction) -> Iterator[sqs_poller.Poller]:
    poller = sqs_poller.Poller(
        sqs=sqs_poller.make_sqs(moto_endpoint, REGION),
        queue_url=test_queues["queue"], function_url=fake_function.url,
        batch_size=10, max_concurrency=1, wait_seconds=1, invoke_timeout=10,
    )
    thread = threading.Thread(target=poller.run, daemon=True)
    thread.start()
    try:
        yield poller
    finally:
        poller.stop.set()
        thread.join(15)


def test_poller_deletes_successes_and_keeps_reported_failures(
        moto_endpoint: str, test_queues: dict[str, str], fake_function: FakeFunction) -> None:
    sqs = client("sqs", moto_endpoint)
    sqs.send_message(QueueUrl=test_queues["queue"], MessageBody='{"result":"ok"}',
                     MessageAttributes={"kind": {"DataType": "String", "StringValue": "result"}})
    failing = sqs.send_message(QueueUrl=test_queues["queue"], MessageBody='{"result":"fail"}')["MessageId"]

    poller = sqs_poller.Poller(
        sqs=sqs_poller.make_sqs(moto_endpoint, REGION),
        queue_url=test_queues["queue"], function_url=fake_function.url,
        batch_size=10, max_concurrency=1, wait_seconds=1, invoke_timeout=10,
    )
    poller.describe_queue()
    messages = poller.receive_batch()
    assert len(messages) == 2
    poller.process(messages)

    (event,) = fake_function.events
    records = event["Records"]
    assert {r["body"] for r in records} == {'{"result":"ok"}', '{"result":"fail"}'}
    queue_arn = sqs.get_queue_attributes(QueueUrl=test_queues["queue"], AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    for record in records:
        assert set(record) >= {"messageId", "receiptHandle", "body", "attributes", "messageAttributes",
                               "md5OfBody", "eventSource", "eventSourceARN", "awsRegion"}
        assert record["eventSource"] == "aws:sqs"
        assert record["eventSourceARN"] == queue_arn
        assert record["awsRegion"] == REGION
        assert record["attributes"]["ApproximateReceiveCount"] == "1"
        assert {"SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp"} <= set(record["attributes"])
    ok_record = next(r for r in records if "ok" in r["body"])
    assert ok_record["messageAttributes"]["kind"]["stringValue"] == "result"
    assert ok_record["messageAttributes"]["kind"]["dataType"] == "String"

    # the success is deleted, the reported failure comes back after its visibility timeout
    assert wait_until(lambda: queue_counts(sqs, test_queues["queue"]) == (1, 0), 10)
    again = sqs.receive_message(QueueUrl=test_queues["queue"], AttributeNames=["All"], WaitTimeSeconds=2)
    (message,) = again["Messages"]
    assert message["MessageId"] == failing
    assert message["Attributes"]["ApproximateReceiveCount"] == "2"


def test_poller_moves_failing_message_to_dlq(
        moto_endpoint: str, test_queues: dict[str, str], fake_function: FakeFunction,
        running_poller: sqs_poller.Poller) -> None:
    sqs = client("sqs", moto_endpoint)
    failing = sqs.send_message(QueueUrl=test_queues["queue"], MessageBody="always fail")["MessageId"]
    sqs.send_message(QueueUrl=test_queues["queue"], MessageBody="fine")

    assert wait_until(lambda: queue_counts(sqs, test_queues["dlq"])[0] == 1, 30), "message never reached the DLQ"
    running_poller.stop.set()
    (dead,) = sqs.receive_message(QueueUrl=test_queues["dlq"], MaxNumberOfMessages=10)["Messages"]
    assert dead["MessageId"] == failing and dead["Body"] == "always fail"
    assert queue_counts(sqs, test_queues["queue"]) == (0, 0)
    # delivered exactly maxReceiveCount (2) times, the good one once
    deliveries = [r["body"] for e in fake_function.events for r in e["Records"]]
    assert deliveries.count("always fail") == 2
    assert deliveries.count("fine") == 1


@pytest.mark.parametrize("mode", ["error", "junk"])
def test_poller_deletes_nothing_when_the_invocation_fails(
        mode: str, moto_endpoint: str, test_queues: dict[str, str], fake_function: FakeFunction) -> None:
    fake_function.mode = mode
    sqs = client("sqs", moto_endpoint)
    for body in ("a", "b"):
        sqs.send_message(QueueUrl=test_queues["queue"], MessageBody=body)
    poller = sqs_poller.Poller(
        sqs=sqs_poller.make_sqs(moto_endpoint, REGION),
        queue_url=test_queues["queue"], function_url=fake_function.url,
        batch_size=10, max_concurrency=1, wait_seconds=1, invoke_timeout=10,
    )
    poller.describe_queue()
    messages = poller.receive_batch()
    assert len(messages) == 2
    poller.process(messages)
    assert len(fake_function.events) == 1
    assert sum(queue_counts(sqs, test_queues["queue"])) == 2


def test_poller_keeps_messages_when_function_is_unreachable(
        moto_endpoint: str, test_queues: dict[str, str]) -> None:
    sqs = client("sqs", moto_endpoint)
    sqs.send_message(QueueUrl=test_queues["queue"], MessageBody="x")
    poller = sqs_poller.Poller(
        sqs=sqs_poller.make_sqs(moto_endpoint, REGION), queue_url=test_queues["queue"],
        function_url=f"http://127.0.0.1:{free_port()}/2015-03-31/functions/f/invocations",
        wait_seconds=1, invoke_timeout=5,
    )
    poller.describe_queue()
    poller.process(poller.receive_batch())
    assert sum(queue_counts(sqs, test_queues["queue"])) == 1


class OverlapRecordingSqs:
    """An SQS client stand-in whose ReceiveMessage takes a while and records overlapping calls."""

    def __init__(self) -> None:
        self.active = 0
        self.most_at_once = 0
        self.calls = 0
        self.lock = threading.Lock()

    def receive_message(self, **_request: Any) -> dict[str, Any]:
        with self.lock:
            self.active += 1
            self.calls += 1
            self.most_at_once = max(self.most_at_once, self.active)
        time.sleep(0.05)
        with self.lock:
            self.active -= 1
        return {"Messages": []}


def test_poller_workers_never_receive_at_the_same_time() -> None:
    """moto's ReceiveMessage is not atomic: two at once can hand out one message twice."""
    sqs = OverlapRecordingSqs()
    poller = sqs_poller.Poller(sqs=sqs, queue_url="http://q", function_url="http://f",
                               max_concurrency=4, wait_seconds=0)
    workers = [threading.Thread(target=poller.worker, daemon=True) for _ in range(4)]
    for worker in workers:
        worker.start()
    assert wait_until(lambda: sqs.calls >= 20, 10)
    poller.stop.set()
    for worker in workers:
        worker.join(5)
    assert sqs.most_at_once == 1


def test_failed_message_ids_rules() -> None:
    ids = {"m1", "m2"}
    parse = sqs_poller.failed_message_ids
    assert parse(200, {}, b"", ids) == set()
    assert parse(200, {}, b"null", ids) == set()
    assert parse(200, {}, b"{}", ids) == set()
    assert parse(200, {}, b'{"batchItemFailures":[]}', ids) == set()
    assert parse(200, {}, b'{"batchItemFailures":null}', ids) == set()
    assert parse(200, {}, b'{"batchItemFailures":[{"itemIdentifier":"m2"}]}', ids) == {"m2"}
    for status, headers, body in [
        (500, {}, b'{"errorType":"x","errorMessage":"y"}'),
        (200, {"X-Amz-Function-Error": "Unhandled"}, b'{"errorMessage":"y"}'),
        (200, {}, b'{"errorType":"x","errorMessage":"y"}'),
        (200, {}, b"not json"),
        (200, {}, b'{"batchItemFailures":[{"itemIdentifier":""}]}'),
        (200, {}, b'{"batchItemFailures":[{"itemIdentifier":"unknown"}]}'),
        (200, {}, b'{"batchItemFailures":[{"id":"m1"}]}'),
    ]:
        with pytest.raises(sqs_poller.InvocationFailed):
            parse(status, headers, body, ids)


def test_poller_process_stops_on_sigterm(moto_endpoint: str, test_queues: dict[str, str],
                                         fake_function: FakeFunction) -> None:
    proc = subprocess.Popen(
        [sys.executable, str(INFRA / "sqs_poller.py"), "--endpoint", moto_endpoint,
         "--queue-url", test_queues["queue"], "--function-url", fake_function.url,
         "--batch-size", "10", "--max-concurrency", "2", "--wait", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        sqs = client("sqs", moto_endpoint)
        sqs.send_message(QueueUrl=test_queues["queue"], MessageBody="hello")
        assert wait_until(lambda: sum(queue_counts(sqs, test_queues["queue"])) == 0, 15)
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stderr
    assert "batch of 1: 0 failure(s), 1 deleted" in stderr
    assert "stopped" in stderr


# ---------------------------------------------------------- stream_poller.py
def test_stream_mapping_is_read_from_the_template(template: dict[str, Any]) -> None:
    config = stream_poller.MappingConfig.from_template(template, "OrderStreamMapping")
    assert config.batch_size == 100
    assert config.report_batch_item_failures and config.bisect_on_error
    assert config.maximum_retry_attempts == 10
    assert config.starting_position == "TRIM_HORIZON"
    assert config.on_failure == "OrderStreamFailureQueue"
    assert stream_poller.failure_queue_name(template, "OrderStreamFailureQueue", STACK) == (
        f"{STACK}-OrderStreamFailureQueue")

    def record(event_name: str, sk: str) -> dict[str, Any]:
        keys = {"pk": {"S": "ORDER#o1"}, "sk": {"S": sk}}
        return {"eventName": event_name, "dynamodb": {"Keys": keys, "NewImage": dict(keys)}}

    assert config.wants(record("INSERT", "ORDER"))
    assert not config.wants(record("MODIFY", "ORDER"))  # a result on an order
    assert not config.wants(record("REMOVE", "ORDER"))
    assert not config.wants(record("INSERT", "FILE#f1"))  # another item under ORDER#
    assert not config.wants(record("INSERT", "PROFILE"))
    assert not config.wants({"eventName": "INSERT", "dynamodb": {"Keys": {"pk": {"S": "ORDER#o1"}}}})


def test_stream_filter_patterns() -> None:
    matches = stream_poller.matches
    pattern = {"a": ["x", "y"], "b": {"c": {"S": ["z"]}}, "n": [1]}
    assert matches(pattern, {"a": "y", "b": {"c": {"S": "z"}, "other": 1}, "n": 1.0, "more": True})
    assert matches(pattern, {"a": ["q", "x"], "b": {"c": {"S": "z"}}, "n": 1})  # an array: any element
    assert not matches(pattern, {"a": "q", "b": {"c": {"S": "z"}}, "n": 1})
    assert not matches(pattern, {"a": "x", "b": {"c": "z"}, "n": 1})
    assert not matches(pattern, {"a": "x", "b": {"c": {"S": "z"}}, "n": "1"})
    assert not matches(pattern, {"a": "x", "n": 1})
    assert matches({"f": [True]}, {"f": True}) and not matches({"f": [True]}, {"f": 1})
    for unsupported in ({"a": [{"prefix": "x"}]}, {"a": "x"}, {"a": []}, {}):
        with pytest.raises(ValueError):
            stream_poller.check_pattern(unsupported)


class FakeStreamFunction:
    """A stand-in for the order-stream invoke endpoint: `answer(records)` decides each reply
    (a batchItemFailures list of sequence numbers, or "error" for a failed invocation)."""

    def __init__(self, answer: Callable[[list[dict[str, Any]]], Any]) -> None:
        self.events: list[dict[str, Any]] = []
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                event = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                fake.events.append(event)
                reply = answer(event["Records"])
                if reply == "error":
                    status, body = 200, {"errorType": "Boom", "errorMessage": "boom"}
                else:
                    status, body = 200, {"batchItemFailures": [{"itemIdentifier": s} for s in reply or []]}
                data = json.dumps(body).encode()
                self.send_response(status)
                if reply == "error":
                    self.send_header("X-Amz-Function-Error", "Unhandled")
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/2015-03-31/functions/order-stream/invocations"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def batches(self) -> list[list[str]]:
        """The order ids of each invocation."""
        return [[order_id_of(r) for r in e["Records"]] for e in self.events]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def order_id_of(record: dict[str, Any]) -> str:
    """The order's id, from its key: order items carry no `order_id` attribute."""
    return record["dynamodb"]["Keys"]["pk"]["S"].removeprefix("ORDER#")


@pytest.fixture()
def stream_table(moto_endpoint: str) -> dict[str, str]:
    """A table of the connector's key schema with a NEW_IMAGE stream, and a failure queue."""
    suffix = f"{os.getpid()}-{next(_queue_counter)}"
    dynamodb = client("dynamodb", moto_endpoint)
    name = f"stream-t-{suffix}"
    table = dynamodb.create_table(
        TableName=name, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                              {"AttributeName": "sk", "AttributeType": "S"}],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"})["TableDescription"]
    failures = client("sqs", moto_endpoint).create_queue(QueueName=f"stream-failures-{suffix}")["QueueUrl"]
    return {"table": name, "stream": table["LatestStreamArn"], "failures": failures}


def put_order(moto_endpoint: str, table: str, order_id: str) -> None:
    """An order as create-order stores it: one TransactWriteItems."""
    item = {"pk": {"S": f"ORDER#{order_id}"}, "sk": {"S": "ORDER"}, "company_id": {"S": "acme"}}
    client("dynamodb", moto_endpoint).transact_write_items(TransactItems=[{"Put": {
        "TableName": table, "Item": item, "ConditionExpression": "attribute_not_exists(pk)"}}])


@contextlib.contextmanager
def running_stream_poller(moto_endpoint: str, stream_table: dict[str, str], fake: FakeStreamFunction,
                          template: dict[str, Any], **changes: Any) -> Iterator[stream_poller.StreamPoller]:
    config = stream_poller.MappingConfig.from_template(template, "OrderStreamMapping")
    for key, value in changes.items():
        setattr(config, key, value)
    poller = stream_poller.StreamPoller(
        streams=client("dynamodbstreams", moto_endpoint), stream_arn=stream_table["stream"],
        function_url=fake.url, config=config, sqs=client("sqs", moto_endpoint),
        failure_queue_url=stream_table["failures"], idle_sleep=0.1, retry_delay=0.01, invoke_timeout=10,
        region=REGION)
    thread = threading.Thread(target=poller.run, daemon=True)
    thread.start()
    try:
        yield poller
    finally:
        poller.stop.set()
        thread.join(15)
        fake.close()


def test_stream_poller_forwards_inserted_orders_in_the_lambda_event_shape(
        moto_endpoint: str, stream_table: dict[str, str], template: dict[str, Any]) -> None:
    dynamodb = client("dynamodb", moto_endpoint)
    table = stream_table["table"]
    put_order(moto_endpoint, table, "o1")
    # Not new orders: the order's result (MODIFY), another item of the order, a company item.
    dynamodb.update_item(TableName=table, Key={"pk": {"S": "ORDER#o1"}, "sk": {"S": "ORDER"}},
                         UpdateExpression="SET result_version = :v", ExpressionAttributeValues={":v": {"N": "1"}})
    dynamodb.put_item(TableName=table, Item={"pk": {"S": "ORDER#o1"}, "sk": {"S": "FILE#f"}, "order_id": {"S": "f"}})
    dynamodb.put_item(TableName=table, Item={"pk": {"S": "COMPANY#c"}, "sk": {"S": "PROFILE"}})
    fake = FakeStreamFunction(lambda records: [])
    with running_stream_poller(moto_endpoint, stream_table, fake, template):
        assert wait_until(lambda: len(fake.events) >= 1, 15), "nothing was forwarded"
        put_order(moto_endpoint, table, "o2")  # a later one, read by the same shard reader
        assert wait_until(lambda: len(fake.events) >= 2, 15)
        time.sleep(0.5)
    assert fake.batches() == [["o1"], ["o2"]]
    (record,) = fake.events[0]["Records"]
    assert set(record) == {"eventID", "eventName", "eventVersion", "eventSource", "awsRegion", "dynamodb",
                           "eventSourceARN"}
    assert (record["eventName"], record["eventSource"], record["awsRegion"]) == ("INSERT", "aws:dynamodb", REGION)
    assert record["eventSourceARN"] == stream_table["stream"]
    change = record["dynamodb"]
    assert set(change) >= {"ApproximateCreationDateTime", "Keys", "NewImage", "SequenceNumber", "SizeBytes",
                           "StreamViewType"}
    assert isinstance(change["ApproximateCreationDateTime"], int)
    assert abs(change["ApproximateCreationDateTime"] - time.time()) < 120
    assert change["Keys"] == {"pk": {"S": "ORDER#o1"}, "sk": {"S": "ORDER"}}
    assert change["NewImage"]["company_id"] == {"S": "acme"}
    assert isinstance(change["SequenceNumber"], str) and change["StreamViewType"] == "NEW_IMAGE"
    # The shape the Rust side parses (tests/events/dynamodb-stream-order-insert.json).
    fixture = json.loads((ROOT / "tests/events/dynamodb-stream-order-insert.json").read_text())["Records"][0]
    assert set(record) == set(fixture) and set(change) == set(fixture["dynamodb"])


def test_stream_poller_retries_from_the_reported_record(
        moto_endpoint: str, stream_table: dict[str, str], template: dict[str, Any]) -> None:
    for order_id in ("o1", "o2", "o3"):
        put_order(moto_endpoint, stream_table["table"], order_id)
    failed_once: list[str] = []

    def answer(records: list[dict[str, Any]]) -> list[str]:
        second = next((r for r in records if order_id_of(r) == "o2"), None)
        if second is not None and not failed_once:
            failed_once.append("o2")
            return [second["dynamodb"]["SequenceNumber"]]
        return []

    fake = FakeStreamFunction(answer)
    with running_stream_poller(moto_endpoint, stream_table, fake, template):
        assert wait_until(lambda: len(fake.events) >= 2, 15)
        time.sleep(0.5)
    # o1 is done; the retry starts at o2, which the function reported.
    assert fake.batches() == [["o1", "o2", "o3"], ["o2", "o3"]]
    assert queue_counts(client("sqs", moto_endpoint), stream_table["failures"]) == (0, 0)


def test_stream_poller_sends_exhausted_batches_to_the_failure_queue_and_moves_on(
        moto_endpoint: str, stream_table: dict[str, str], template: dict[str, Any]) -> None:
    for order_id in ("bad1", "bad2"):
        put_order(moto_endpoint, stream_table["table"], order_id)
    fake = FakeStreamFunction(lambda records: "error" if any("bad" in order_id_of(r) for r in records) else [])
    sqs = client("sqs", moto_endpoint)
    with running_stream_poller(moto_endpoint, stream_table, fake, template,
                               maximum_retry_attempts=2, bisect_on_error=False):
        assert wait_until(lambda: queue_counts(sqs, stream_table["failures"])[0] == 1, 15), "no failure record"
        put_order(moto_endpoint, stream_table["table"], "good")
        assert wait_until(lambda: fake.batches()[-1:] == [["good"]], 15), "the shard did not move on"
    # One invocation and two retries, then the batch is given up on.
    assert fake.batches() == [["bad1", "bad2"]] * 3 + [["good"]]
    (message,) = sqs.receive_message(QueueUrl=stream_table["failures"], MaxNumberOfMessages=10)["Messages"]
    description = json.loads(message["Body"])
    first, last = (e["dynamodb"]["SequenceNumber"] for e in fake.events[0]["Records"])
    info = description["DDBStreamBatchInfo"]
    assert (info["startSequenceNumber"], info["endSequenceNumber"], info["batchSize"]) == (first, last, 2)
    assert info["streamArn"] == stream_table["stream"] and info["shardId"].startswith("shardId-")
    assert description["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert description["requestContext"]["approximateInvokeCount"] == 3
    assert description["responseContext"]["functionError"] == "Unhandled"


def test_stream_poller_bisects_a_failing_batch(
        moto_endpoint: str, stream_table: dict[str, str], template: dict[str, Any]) -> None:
    for order_id in ("g1", "bad", "g2"):
        put_order(moto_endpoint, stream_table["table"], order_id)
    fake = FakeStreamFunction(lambda records: "error" if any(order_id_of(r) == "bad" for r in records) else [])
    sqs = client("sqs", moto_endpoint)
    with running_stream_poller(moto_endpoint, stream_table, fake, template, maximum_retry_attempts=2):
        assert wait_until(lambda: ["g2"] in fake.batches(), 15)
    # Split until the bad record is alone; only it is given up on.
    assert fake.batches() == [["g1", "bad", "g2"], ["g1", "bad"], ["g1"], ["bad", "g2"], ["bad"], ["bad"], ["g2"]]
    (message,) = sqs.receive_message(QueueUrl=stream_table["failures"], MaxNumberOfMessages=10)["Messages"]
    info = json.loads(message["Body"])["DDBStreamBatchInfo"]
    bad = fake.events[-2]["Records"][0]["dynamodb"]["SequenceNumber"]
    assert (info["startSequenceNumber"], info["endSequenceNumber"], info["batchSize"]) == (bad, bad, 1)


def test_stream_poller_gives_up_on_records_older_than_the_maximum_age(
        moto_endpoint: str, stream_table: dict[str, str], template: dict[str, Any]) -> None:
    put_order(moto_endpoint, stream_table["table"], "old")
    time.sleep(1.1)
    fake = FakeStreamFunction(lambda records: [])
    sqs = client("sqs", moto_endpoint)
    with running_stream_poller(moto_endpoint, stream_table, fake, template, maximum_record_age_seconds=0):
        assert wait_until(lambda: queue_counts(sqs, stream_table["failures"])[0] == 1, 15)
    assert fake.events == []
    (message,) = sqs.receive_message(QueueUrl=stream_table["failures"])["Messages"]
    assert json.loads(message["Body"])["requestContext"]["condition"] == "RecordAgeExceeded"


# ---------------------------------------------------------------- stack.sh
@pytest.mark.skipif(not (shutil.which("curl") and shutil.which("setsid") and shutil.which("moto_server")),
                    reason="stack.sh needs curl, setsid and moto_server")
def test_stack_sh_moto_component_up_status_down(tmp_path: Path) -> None:
    state = tmp_path / "state"
    port = free_port()
    env = {**os.environ, "STACK_STATE_DIR": str(state), "MOTO_PORT": str(port),
           "STACK_COMPONENTS": "moto,streams", "PYTHON": sys.executable}

    def stack(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["bash", str(INFRA / "stack.sh"), *args], env=env,
                              capture_output=True, text=True, timeout=120, check=False)

    try:
        up = stack("up")
        assert up.returncode == 0, up.stderr
        assert f"MOTO_URL=http://127.0.0.1:{port}" in up.stdout
        pid = int((state / "moto.pid").read_text().split()[0])
        stack_env = read_env(state / "stack.env")
        assert stack_env["MOTO_URL"] == f"http://127.0.0.1:{port}"
        lambda_port = os.environ.get("LAMBDA_PORT", "9000")
        assert stack_env["LAMBDA_INVOKE_URL_PREFIX"] == f"http://127.0.0.1:{lambda_port}/lambda-url"
        sim = f"http://127.0.0.1:{os.environ.get('SR_SIM_PORT', '5310')}"
        assert stack_env["SR_API_BASE_URL"] == f"{sim}/assessment-api/v202010"
        assert stack_env["SR_TOKEN_URL"] == f"{sim}/identity/oauth/token"
        assert stack_env["SR_CUSTOMER_API_BASE_URL"] == sim
        assert stack_env["ALLOW_INSECURE_SR_URLS"] == "true"
        assert stack_env["TABLE_NAME"] == "sr-connector-local-ConnectorTable"
        assert stack_env["VENDOR_NAME"] == "Acme Assessments"
        assert "VENDOR_NAME='Acme Assessments'" in (state / "env").read_text().splitlines()
        assert stack_env["CONSENT_REDIRECT_HOSTS"] == "127.0.0.1,localhost,smartrecruiters.com"
        assert stack_env["DISABLE_REQUIRES_TOKEN"] == "true"
        assert stack_env["VENDOR_LOGO_URL"] == ""
        client("dynamodb", stack_env["MOTO_URL"]).describe_table(TableName=stack_env["TABLE_NAME"])

        again = stack("up")  # idempotent: same moto process, resources kept
        assert again.returncode == 0, again.stderr
        assert "already running" in again.stderr
        assert int((state / "moto.pid").read_text().split()[0]) == pid
        assert read_env(state / "stack.env") == stack_env

        status = stack("status")
        assert status.returncode == 0 and "moto    running" in status.stdout
        # The stream poller reads the table's stream for order-stream (OrderStreamMapping).
        assert "streams running" in status.stdout
        assert "/2015-03-31/functions/order-stream/invocations" in status.stdout
        streams_log = (state / "streams.log").read_text()
        assert "stream_poller: polling arn:aws:dynamodb:" in streams_log
        assert "sr-connector-local-OrderStreamFailureQueue" in streams_log
    finally:
        down = stack("down")
    assert down.returncode == 0, down.stderr
    assert wait_until(lambda: not answers(f"http://127.0.0.1:{port}/moto-api/"), 10)
    assert not (state / "moto.pid").exists()
    assert not (state / "streams.pid").exists()
    assert stack("status").returncode != 0
    assert stack("down").returncode == 0  # safe when nothing runs


# ---------------------------------------------------------- moto_server.py
def test_moto_transactions_roll_back_only_what_they_touched() -> None:
    """The per-item backup of infra/moto_server.py keeps DynamoDB's all-or-nothing semantics."""
    import moto_server  # infra/ is on sys.path for these tests
    from moto import mock_aws

    moto_server.patch_transaction_backup()
    with mock_aws():
        db = boto3.client("dynamodb", region_name="us-east-1")
        db.create_table(TableName="t", BillingMode="PAY_PER_REQUEST",
                        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
        for i in range(3):
            db.put_item(TableName="t", Item={"pk": {"S": f"i{i}"}, "v": {"N": "1"}})
        bump = {":x": {"N": "2"}}
        db.transact_write_items(TransactItems=[
            {"Update": {"TableName": "t", "Key": {"pk": {"S": "i0"}}, "UpdateExpression": "SET v = :x",
                        "ExpressionAttributeValues": bump}}])
        assert db.get_item(TableName="t", Key={"pk": {"S": "i0"}})["Item"]["v"] == {"N": "2"}
        with pytest.raises(db.exceptions.TransactionCanceledException):
            db.transact_write_items(TransactItems=[
                {"Update": {"TableName": "t", "Key": {"pk": {"S": "i1"}}, "UpdateExpression": "SET v = :x",
                            "ExpressionAttributeValues": bump}},
                {"Put": {"TableName": "t", "Item": {"pk": {"S": "new"}, "v": {"N": "5"}}}},
                {"Update": {"TableName": "t", "Key": {"pk": {"S": "i2"}}, "UpdateExpression": "SET v = :x",
                            "ConditionExpression": "v = :no",
                            "ExpressionAttributeValues": {**bump, ":no": {"N": "42"}}}}])
        assert db.get_item(TableName="t", Key={"pk": {"S": "i1"}})["Item"]["v"] == {"N": "1"}
        assert "Item" not in db.get_item(TableName="t", Key={"pk": {"S": "new"}})


def test_a_cancelled_transaction_leaves_nothing_on_the_stream() -> None:
    """Real DynamoDB streams only what was written; moto alone would stream the rolled-back Put
    (an INSERT of an order never stored, which the stream poller would forward)."""
    import moto_server
    from moto import mock_aws

    moto_server.patch_transaction_backup()
    with mock_aws():
        db = boto3.client("dynamodb", region_name="us-east-1")
        stream_arn = db.create_table(
            TableName="t", BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                  {"AttributeName": "sk", "AttributeType": "S"}],
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
        )["TableDescription"]["LatestStreamArn"]
        order = {"pk": {"S": "ORDER#o1"}, "sk": {"S": "ORDER"}}
        token_check = {"ConditionCheck": {"TableName": "t", "Key": {"pk": {"S": "COMPANY#c"}, "sk": {"S": "TOKEN#x"}},
                                          "ConditionExpression": "attribute_exists(pk)"}}
        with pytest.raises(db.exceptions.TransactionCanceledException):
            db.transact_write_items(TransactItems=[{"Put": {"TableName": "t", "Item": order}}, token_check])
        db.put_item(TableName="t", Item={"pk": {"S": "COMPANY#c"}, "sk": {"S": "TOKEN#x"}})
        db.transact_write_items(TransactItems=[{"Put": {"TableName": "t", "Item": order}}, token_check])
        streams = boto3.client("dynamodbstreams", region_name="us-east-1")
        (shard,) = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"]
        iterator = streams.get_shard_iterator(StreamArn=stream_arn, ShardId=shard["ShardId"],
                                              ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        records = streams.get_records(ShardIterator=iterator)["Records"]
        assert [(r["eventName"], r["dynamodb"]["Keys"]["pk"]["S"]) for r in records] == [
            ("INSERT", "COMPANY#c"), ("INSERT", "ORDER#o1")]
        # Sequence numbers stay contiguous after the truncation.
        sequences = [int(r["dynamodb"]["SequenceNumber"]) for r in records]
        assert sequences[1] == sequences[0] + 1

