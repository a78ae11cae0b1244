#!/usr/bin/env python3
"""Create the local AWS resources of the connector from template.yaml.

The DynamoDB tables, SQS queues and Secrets Manager secrets of the SAM template are
created against a local AWS endpoint (moto server), with the same key schemas,
indexes, TTL, queue attributes and redrive policies as in the deployed stack, so the
local and the deployed resources cannot drift apart. The environment variables of
``Globals.Function.Environment.Variables`` and of each function's own
``Environment.Variables`` are resolved and written to one env file for
``cargo lambda watch --env-file`` (which gives every function the same environment)
and the Rust tests.

Example::

    python3 infra/local_stack.py --endpoint http://127.0.0.1:5320 \\
        --stack-name sr-connector-local --template template.yaml --out .local/env \\
        --set SR_API_BASE_URL=http://127.0.0.1:5310/assessment-api/v202010

Re-running against the same endpoint is safe: existing resources are kept, secret
values are updated to the given ones (an existing generated vendor key is kept
unless --vendor-api-key is given).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import string
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

DEFAULT_REGION = "us-east-1"
DEFAULT_ACCOUNT_ID = "123456789012"
DUMMY_CREDENTIAL = "test"

# Resource types this script creates, in the order their kinds are handled when
# they do not depend on each other.
SUPPORTED_TYPES = (
    "AWS::DynamoDB::Table",
    "AWS::SQS::Queue",
    "AWS::SecretsManager::Secret",
)


# --------------------------------------------------------------------------- YAML
class CfnLoader(yaml.SafeLoader):
    """A YAML loader that understands CloudFormation short-form intrinsic tags."""


def _construct_node(loader: yaml.Loader, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_mapping(node, deep=True)


def _intrinsic(name: str) -> Callable[[yaml.Loader, yaml.Node], Any]:
    def construct(loader: yaml.Loader, node: yaml.Node) -> Any:
        return {name: _construct_node(loader, node)}

    return construct


def _construct_getatt(loader: yaml.Loader, node: yaml.Node) -> Any:
    value = _construct_node(loader, node)
    if isinstance(value, str):
        resource, _, attribute = value.partition(".")
        value = [resource, attribute]
    return {"Fn::GetAtt": value}


CfnLoader.add_constructor("!Ref", _intrinsic("Ref"))
CfnLoader.add_constructor("!Condition", _intrinsic("Condition"))
CfnLoader.add_constructor("!GetAtt", _construct_getatt)
for _fn in (
    "And", "Base64", "Cidr", "Equals", "FindInMap", "GetAZs", "If", "ImportValue",
    "Join", "Not", "Or", "Select", "Split", "Sub", "Transform", "Length", "ToJsonString",
):
    CfnLoader.add_constructor(f"!{_fn}", _intrinsic(f"Fn::{_fn}"))


def load_template(path: str | os.PathLike[str]) -> dict[str, Any]:
    with open(path, encoding="utf-8") as handle:
        document = yaml.load(handle, Loader=CfnLoader)  # noqa: S506 - SafeLoader subclass
    if not isinstance(document, dict) or "Resources" not in document:
        raise SystemExit(f"{path}: not a CloudFormation/SAM template (no Resources)")
    return document


# ------------------------------------------------------------------ intrinsics
class Unresolvable(Exception):
    """A value of the template that cannot be resolved locally."""


_NO_VALUE = object()
_SUB_VAR = re.compile(r"\$\{([^}]*)\}")


@dataclass
class Resolver:
    """Evaluates CloudFormation intrinsic functions with local values."""

    template: dict[str, Any]
    stack_name: str
    region: str = DEFAULT_REGION
    account_id: str = DEFAULT_ACCOUNT_ID
    parameter_overrides: dict[str, str] = field(default_factory=dict)
    # logical id -> value of `Ref`
    refs: dict[str, str] = field(default_factory=dict)
    # logical id -> attribute -> value of `Fn::GetAtt`
    attributes: dict[str, dict[str, str]] = field(default_factory=dict)

    def pseudo(self, name: str) -> Any:
        return {
            "AWS::StackName": self.stack_name,
            "AWS::Region": self.region,
            "AWS::AccountId": self.account_id,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackId": (
                f"arn:aws:cloudformation:{self.region}:{self.account_id}:stack/"
                f"{self.stack_name}/00000000-0000-0000-0000-000000000000"
            ),
            "AWS::NotificationARNs": [],
            "AWS::NoValue": _NO_VALUE,
        }.get(name, None)

    def ref(self, name: str) -> Any:
        value = self.pseudo(name)
        if value is not None:
            return value
        parameters = self.template.get("Parameters") or {}
        if name in parameters:
            if name in self.parameter_overrides:
                return self.parameter_overrides[name]
            spec = parameters[name] or {}
            if "Default" not in spec:
                raise Unresolvable(f"parameter {name} has no Default (pass --parameter {name}=...)")
            default = spec["Default"]
            if isinstance(default, bool):
                return "true" if default else "false"
            return str(default) if not isinstance(default, list) else default
        if name in self.refs:
            return self.refs[name]
        if name in (self.template.get("Resources") or {}):
            raise Unresolvable(f"Ref {name}: resource is not created locally")
        raise Unresolvable(f"Ref {name}: no such parameter or resource")

    def get_att(self, resource: str, attribute: str) -> Any:
        try:
            return self.attributes[resource][attribute]
        except KeyError:
            raise Unresolvable(f"GetAtt {resource}.{attribute}: not available locally") from None

    def condition(self, name: str) -> bool:
        conditions = self.template.get("Conditions") or {}
        if name not in conditions:
            raise Unresolvable(f"condition {name} is not defined")
        return bool(self.resolve(conditions[name]))

    def sub(self, value: Any) -> str:
        if isinstance(value, list):
            text, variables = value[0], {k: self.resolve(v) for k, v in (value[1] or {}).items()}
        else:
            text, variables = value, {}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return str(variables[name])
            if "." in name and not name.startswith("AWS::"):
                resource, attribute = name.split(".", 1)
                return str(self.get_att(resource, attribute))
            return str(self.ref(name))

        return _SUB_VAR.sub(replace, text)

    def resolve(self, value: Any) -> Any:
        """Resolve every intrinsic function inside value (recursively)."""
        if isinstance(value, list):
            items = [self.resolve(item) for item in value]
            return [item for item in items if item is not _NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (key, arg), = value.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Condition" and isinstance(arg, str):
                return self.condition(arg)
            if key == "Fn::GetAtt":
                parts = arg.split(".", 1) if isinstance(arg, str) else arg
                return self.get_att(parts[0], self.resolve(parts[1]))
            if key == "Fn::Sub":
                return self.sub(arg)
            if key == "Fn::Join":
                separator, items = arg
                return str(separator).join(str(i) for i in self.resolve(items))
            if key == "Fn::Select":
                index, items = arg
                return self.resolve(items)[int(self.resolve(index))]
            if key == "Fn::Split":
                separator, text = arg
                return str(self.resolve(text)).split(separator)
            if key == "Fn::If":
                condition, when_true, when_false = arg
                return self.resolve(when_true if self.condition(condition) else when_false)
            if key == "Fn::Equals":
                left, right = (self.resolve(a) for a in arg)
                return str(left) == str(right)
            if key == "Fn::Not":
                return not self.resolve(arg[0])
            if key == "Fn::And":
                return all(self.resolve(a) for a in arg)
            if key == "Fn::Or":
                return any(self.resolve(a) for a in arg)
            if key == "Fn::FindInMap":
                mapping, top, second = (self.resolve(a) for a in arg[:3])
                return self.template["Mappings"][mapping][top][second]
            if key == "Fn::Base64":
                import base64

                return base64.b64encode(str(self.resolve(arg)).encode()).decode()
            if key == "Fn::ToJsonString":
                return json.dumps(self.resolve(arg), separators=(",", ":"))
            if key == "Fn::GetAZs":
                return [f"{self.region}{zone}" for zone in "abc"]
            if key.startswith("Fn::"):
                raise Unresolvable(f"{key} is not supported locally")
        resolved = {k: self.resolve(v) for k, v in value.items()}
        return {k: v for k, v in resolved.items() if v is not _NO_VALUE}


def references(value: Any) -> set[str]:
    """Logical ids referenced (Ref, GetAtt, Sub) anywhere inside value."""
    found: set[str] = set()
    if isinstance(value, list):
        for item in value:
            found |= references(item)
    elif isinstance(value, dict):
        for key, arg in value.items():
            if key == "Ref" and isinstance(arg, str):
                found.add(arg)
            elif key == "Fn::GetAtt":
                found.add(arg.split(".", 1)[0] if isinstance(arg, str) else arg[0])
            elif key == "Fn::Sub":
                text = arg[0] if isinstance(arg, list) else arg
                for name in _SUB_VAR.findall(text):
                    if not name.startswith("!"):
                        found.add(name.split(".", 1)[0])
                if isinstance(arg, list) and len(arg) > 1:
                    found |= references(arg[1])
            else:
                found |= references(arg)
    return found


def creation_order(resources: dict[str, Any]) -> list[str]:
    """Supported resources in dependency order (dead-letter queues before their users)."""
    supported = {
        name: spec for name, spec in resources.items()
        if isinstance(spec, dict) and spec.get("Type") in SUPPORTED_TYPES
    }
    deps = {
        name: (references(spec.get("Properties") or {}) | set(_as_list(spec.get("DependsOn"))))
        & set(supported)
        for name, spec in supported.items()
    }
    ordered: list[str] = []
    visiting: set[str] = set()

    def visit(name: str) -> None:
        if name in ordered:
            return
        if name in visiting:
            raise SystemExit(f"circular dependency between local resources at {name}")
        visiting.add(name)
        for dep in sorted(deps[name]):
            visit(dep)
        visiting.discard(name)
        ordered.append(name)

    key = {t: i for i, t in enumerate(SUPPORTED_TYPES)}
    for name in sorted(supported, key=lambda n: (key[supported[n]["Type"]], list(resources).index(n))):
        visit(name)
    return ordered


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


# -------------------------------------------------------------------- creation
def _error_code(error: Exception) -> str:
    response = getattr(error, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def random_secret(length: int = 48, exclude_punctuation: bool = True,
                  exclude_characters: str = "") -> str:
    alphabet = string.ascii_letters + string.digits
    if not exclude_punctuation:
        alphabet += "!#$%&()*+,-.:;<=>?@[]^_{|}~"
    alphabet = "".join(c for c in alphabet if c not in exclude_characters)
    return "".join(secrets.choice(alphabet) for _ in range(length))


@dataclass
class LocalStack:
    resolver: Resolver
    clients: Callable[[str], Any]
    partner_client_id: str
    partner_client_secret: str
    vendor_api_key: str | None
    log: Callable[[str], None] = lambda message: print(message, file=sys.stderr)
    # values remembered for the env file
    secret_values: dict[str, str] = field(default_factory=dict)
    # --secret-value LOGICAL_ID=VALUE: a secret's local value (e.g. the local IdP's client secret)
    secret_overrides: dict[str, str] = field(default_factory=dict)
    queue_urls: dict[str, str] = field(default_factory=dict)

    @property
    def template(self) -> dict[str, Any]:
        return self.resolver.template

    def physical_name(self, logical_id: str, explicit: Any, suffix: str = "") -> str:
        if explicit not in (None, ""):
            return str(self.resolver.resolve(explicit))
        return f"{self.resolver.stack_name}-{logical_id}{suffix}"

    def create_all(self) -> None:
        resources = self.template["Resources"]
        for logical_id in creation_order(resources):
            spec = resources[logical_id]
            if "Condition" in spec and not self.resolver.condition(spec["Condition"]):
                self.log(f"skip {logical_id}: condition {spec['Condition']} is false")
                continue
            handler = {
                "AWS::DynamoDB::Table": self.create_table,
                "AWS::SQS::Queue": self.create_queue,
                "AWS::SecretsManager::Secret": self.create_secret,
            }[spec["Type"]]
            handler(logical_id, spec.get("Properties") or {})

    # ---- DynamoDB
    def create_table(self, logical_id: str, props: dict[str, Any]) -> None:
        dynamodb = self.clients("dynamodb")
        props = self.resolver.resolve(props)
        name = self.physical_name(logical_id, props.get("TableName"))
        request: dict[str, Any] = {
            "TableName": name,
            "KeySchema": props["KeySchema"],
            "AttributeDefinitions": props["AttributeDefinitions"],
            "BillingMode": props.get("BillingMode", "PROVISIONED"),
        }
        if request["BillingMode"] == "PROVISIONED":
            request["ProvisionedThroughput"] = props.get(
                "ProvisionedThroughput", {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5})
        indexes = []
        for gsi in props.get("GlobalSecondaryIndexes") or []:
            index = {k: gsi[k] for k in ("IndexName", "KeySchema", "Projection") if k in gsi}
            if request["BillingMode"] == "PROVISIONED":
                index["ProvisionedThroughput"] = gsi.get(
                    "ProvisionedThroughput", {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5})
            indexes.append(index)
        if indexes:
            request["GlobalSecondaryIndexes"] = indexes
        lsis = [
            {k: lsi[k] for k in ("IndexName", "KeySchema", "Projection") if k in lsi}
            for lsi in props.get("LocalSecondaryIndexes") or []
        ]
        if lsis:
            request["LocalSecondaryIndexes"] = lsis
        stream = props.get("StreamSpecification")
        if stream and stream.get("StreamViewType"):
            request["StreamSpecification"] = {
                "StreamEnabled": True, "StreamViewType": stream["StreamViewType"]}
        try:
            description = dynamodb.create_table(**request)["TableDescription"]
            self.log(f"created table {name}")
        except Exception as error:  # botocore ClientError
            if _error_code(error) != "ResourceInUseException":
                raise
            description = dynamodb.describe_table(TableName=name)["Table"]
            self.log(f"table {name} already exists")
        ttl = props.get("TimeToLiveSpecification") or {}
        if _truthy(ttl.get("Enabled")) and ttl.get("AttributeName"):
            current = dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
            if current.get("TimeToLiveStatus") not in ("ENABLED", "ENABLING") \
                    or current.get("AttributeName") != ttl["AttributeName"]:
                dynamodb.update_time_to_live(
                    TableName=name,
                    TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]},
                )
                self.log(f"enabled TTL on {name}.{ttl['AttributeName']}")
        arn = description.get("TableArn") or (
            f"arn:aws:dynamodb:{self.resolver.region}:{self.resolver.account_id}:table/{name}")
        self.resolver.refs[logical_id] = name
        self.resolver.attributes[logical_id] = {
            "Arn": arn,
            "StreamArn": description.get("LatestStreamArn", ""),
        }

    # ---- SQS
    _QUEUE_ATTRIBUTES = (
        "DelaySeconds", "MaximumMessageSize", "MessageRetentionPeriod",
        "ReceiveMessageWaitTimeSeconds", "VisibilityTimeout", "KmsMasterKeyId",
        "KmsDataKeyReusePeriodSeconds", "SqsManagedSseEnabled", "ContentBasedDeduplication",
        "DeduplicationScope", "FifoThroughputLimit",
    )

    def queue_attributes(self, props: dict[str, Any]) -> dict[str, str]:
        attributes: dict[str, str] = {}
        for key in self._QUEUE_ATTRIBUTES:
            if key in props:
                value = props[key]
                attributes[key] = ("true" if value else "false") if isinstance(value, bool) else str(value)
        for key in ("RedrivePolicy", "RedriveAllowPolicy"):
            if key in props:
                value = props[key]
                attributes[key] = value if isinstance(value, str) else json.dumps(value)
        return attributes

    def create_queue(self, logical_id: str, props: dict[str, Any]) -> None:
        sqs = self.clients("sqs")
        props = self.resolver.resolve(props)
        fifo = _truthy(props.get("FifoQueue"))
        name = self.physical_name(logical_id, props.get("QueueName"), ".fifo" if fifo else "")
        attributes = self.queue_attributes(props)
        if fifo:
            attributes["FifoQueue"] = "true"
        url = _existing_queue_url(sqs, name)
        if url is None:
            try:
                url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
                self.log(f"created queue {name}")
            except Exception as error:
                if _error_code(error) not in ("QueueAlreadyExists", "QueueNameExists"):
                    raise
                url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
        else:
            self.log(f"queue {name} already exists")
        current = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        changed = {k: v for k, v in attributes.items()
                   if k != "FifoQueue" and not _same_attribute(current.get(k), v)}
        if changed:
            sqs.set_queue_attributes(QueueUrl=url, Attributes=changed)
            self.log(f"queue {name}: updated {', '.join(sorted(changed))} from the template")
        arn = current.get("QueueArn") or sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.queue_urls[logical_id] = url
        self.resolver.refs[logical_id] = url
        self.resolver.attributes[logical_id] = {"Arn": arn, "QueueName": name, "QueueUrl": url}

    # ---- Secrets Manager
    def secret_value(self, logical_id: str, name: str, props: dict[str, Any],
                     existing: str | None) -> str:
        if logical_id in self.secret_overrides:
            return self.secret_overrides[logical_id]
        lowered = f"{logical_id} {name}".lower()
        if "partnercredential" in lowered.replace("-", "").replace("_", ""):
            return json.dumps({"client_id": self.partner_client_id,
                               "client_secret": self.partner_client_secret})
        if "vendorapikey" in lowered.replace("-", "").replace("_", ""):
            if self.vendor_api_key:
                return self.vendor_api_key
            return existing or random_secret(self._length(props), True)
        if "SecretString" in props:
            return str(props["SecretString"])
        if existing is not None:
            return existing
        generate = props.get("GenerateSecretString") or {}
        password = random_secret(
            self._length(props),
            _truthy(generate.get("ExcludePunctuation", False)),
            str(generate.get("ExcludeCharacters", "")),
        )
        if generate.get("SecretStringTemplate") and generate.get("GenerateStringKey"):
            document = json.loads(generate["SecretStringTemplate"])
            document[generate["GenerateStringKey"]] = password
            return json.dumps(document)
        return password

    @staticmethod
    def _length(props: dict[str, Any]) -> int:
        return int((props.get("GenerateSecretString") or {}).get("PasswordLength", 48))

    def create_secret(self, logical_id: str, props: dict[str, Any]) -> None:
        client = self.clients("secretsmanager")
        props = self.resolver.resolve(props)
        name = self.physical_name(logical_id, props.get("Name"))
        existing: str | None = None
        arn: str | None = None
        try:
            current = client.get_secret_value(SecretId=name)
            existing, arn = current.get("SecretString"), current["ARN"]
        except Exception as error:
            if _error_code(error) != "ResourceNotFoundException":
                raise
        value = self.secret_value(logical_id, name, props, existing)
        if arn is None:
            request = {"Name": name, "SecretString": value}
            if props.get("Description"):
                request["Description"] = props["Description"]
            try:
                arn = client.create_secret(**request)["ARN"]
                self.log(f"created secret {name}")
            except Exception as error:
                if _error_code(error) != "ResourceExistsException":
                    raise
                arn = client.put_secret_value(SecretId=name, SecretString=value)["ARN"]
        elif existing != value:
            client.put_secret_value(SecretId=name, SecretString=value)
            self.log(f"secret {name} already exists; value updated")
        else:
            self.log(f"secret {name} already exists; value unchanged")
        self.secret_values[logical_id] = value
        self.resolver.refs[logical_id] = arn
        self.resolver.attributes[logical_id] = {"Id": arn, "Name": name}


def _existing_queue_url(sqs: Any, name: str) -> str | None:
    try:
        return sqs.get_queue_url(QueueName=name)["QueueUrl"]
    except Exception as error:
        if _error_code(error) in ("AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"):
            return None
        raise


def _same_attribute(current: str | None, wanted: str) -> bool:
    if current is None:
        return False
    if current == wanted:
        return True
    try:  # JSON policies may differ only in formatting or number types
        return _normalise(json.loads(current)) == _normalise(json.loads(wanted))
    except (ValueError, TypeError):
        return current.lower() == wanted.lower()


def _normalise(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _normalise(v) for k, v in value.items()}
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(int(value)) if float(value).is_integer() else str(value)
    return value


# ------------------------------------------------------------------ env output
_UNSAFE_UNQUOTED = re.compile(r"[\s='\"`#$\\]")


def env_line(key: str, value: str) -> str:
    """KEY=VALUE in a form cargo lambda's --env-file parser (env-file-reader) accepts.

    Plain values are written unquoted (a reader that splits on the first '=' gets
    them verbatim). Values with whitespace, '=', '#' or quotes must be quoted for
    cargo lambda; they are single-quoted (readers should strip one pair of quotes).
    '$' and '\\' are quoted too: dotenv readers (the tests' and the CLI's dotenvy)
    substitute and unescape them outside single quotes.
    """
    if "\n" in value or "\r" in value:
        raise SystemExit(f"{key}: multi-line values cannot be written to an env file")
    if not _UNSAFE_UNQUOTED.search(value):
        return f"{key}={value}"
    if "'" not in value:
        return f"{key}='{value}'"
    if '"' not in value and "\\" not in value and "$" not in value:
        return f'{key}="{value}"'
    raise SystemExit(f"{key}: value contains both quote kinds; not representable in an env file")


def build_env(stack: LocalStack, endpoint: str, overrides: dict[str, str]) -> dict[str, str]:
    resolver = stack.resolver
    template = stack.template
    variables = (((template.get("Globals") or {}).get("Function") or {})
                 .get("Environment") or {}).get("Variables") or {}
    env: dict[str, str] = {}
    for key, raw in variables.items():
        if key in overrides:
            env[key] = overrides[key]
            continue
        try:
            value = resolver.resolve(raw)
        except Unresolvable as error:
            raise SystemExit(f"cannot resolve environment variable {key}: {error} "
                             f"(override it with --set {key}=...)") from None
        env[key] = _stringify(value)
    # cargo lambda watch gives every function one environment, so the functions' own variables
    # join it. Two functions giving one name different values cannot be represented locally.
    owners: dict[str, str] = {}
    for logical_id, spec in (template.get("Resources") or {}).items():
        if not isinstance(spec, dict) or spec.get("Type") != "AWS::Serverless::Function":
            continue
        own = (((spec.get("Properties") or {}).get("Environment") or {}).get("Variables") or {})
        for key, raw in own.items():
            if key in overrides:
                env[key] = overrides[key]
                continue
            try:
                value = _stringify(resolver.resolve(raw))
            except Unresolvable as error:
                raise SystemExit(f"cannot resolve environment variable {key} of {logical_id}: {error} "
                                 f"(override it with --set {key}=...)") from None
            if key in owners and env[key] != value:
                raise SystemExit(f"environment variable {key} differs between {owners[key]} and "
                                 f"{logical_id}; one local environment cannot hold both "
                                 f"(rename one, or --set {key}=...)")
            if key in variables and key not in owners and env.get(key) != value:
                raise SystemExit(f"environment variable {key} of {logical_id} overrides "
                                 f"Globals; one local environment cannot hold both")
            owners[key] = logical_id
            env[key] = value

    env.update({
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": DUMMY_CREDENTIAL,
        "AWS_SECRET_ACCESS_KEY": DUMMY_CREDENTIAL,
        "AWS_REGION": resolver.region,
        "AWS_DEFAULT_REGION": resolver.region,
    })
    # X_DLQ_URL for every X_QUEUE_URL whose queue has a dead-letter queue (RESULTS_DLQ_URL,
    # NOTIFICATIONS_DLQ_URL): the ops CLI and the tests read the dead-letter queues locally.
    for variable, dlq in dead_letter_queues(template).items():
        if dlq in stack.queue_urls:
            env[variable.removesuffix("_QUEUE_URL") + "_DLQ_URL"] = stack.queue_urls[dlq]
    vendor = next((v for k, v in stack.secret_values.items() if "vendorapikey" in k.lower()), None)
    if vendor is not None:
        env["VENDOR_API_KEY"] = vendor
    env["PARTNER_CLIENT_ID"] = stack.partner_client_id
    env["PARTNER_CLIENT_SECRET"] = stack.partner_client_secret
    for key, value in overrides.items():
        env[key] = value
    return env


def dlq_logical_id(template: dict[str, Any], variable: str) -> str | None:
    """The dead-letter queue of the queue behind the Globals variable (e.g. RESULTS_QUEUE_URL)."""
    resources = template.get("Resources") or {}
    variables = (((template.get("Globals") or {}).get("Function") or {})
                 .get("Environment") or {}).get("Variables") or {}
    source = variables.get(variable)
    queue = source.get("Ref") if isinstance(source, dict) else None
    if queue not in resources:
        return None
    redrive = ((resources[queue].get("Properties") or {}).get("RedrivePolicy") or {})
    target = redrive.get("deadLetterTargetArn") if isinstance(redrive, dict) else None
    found = references(target) if target is not None else set()
    return next(iter(found), None)


def results_dlq_logical_id(template: dict[str, Any]) -> str | None:
    """The dead-letter queue of the queue behind RESULTS_QUEUE_URL."""
    return dlq_logical_id(template, "RESULTS_QUEUE_URL")


def dead_letter_queues(template: dict[str, Any]) -> dict[str, str]:
    """Globals variable *_QUEUE_URL -> logical id of its queue's dead-letter queue."""
    variables = (((template.get("Globals") or {}).get("Function") or {})
                 .get("Environment") or {}).get("Variables") or {}
    found = {}
    for variable in variables:
        if variable.endswith("_QUEUE_URL"):
            dlq = dlq_logical_id(template, variable)
            if dlq:
                found[variable] = dlq
    return found


def _stringify(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def write_env(path: Path, env: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [env_line(key, value) for key, value in env.items()]
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    os.chmod(tmp, 0o600)
    tmp.replace(path)
    json_path = path.with_name(path.name + ".json")
    tmp = json_path.with_name(json_path.name + ".tmp")
    tmp.write_text(json.dumps(env, indent=2) + "\n", encoding="utf-8")
    os.chmod(tmp, 0o600)
    tmp.replace(json_path)


# ------------------------------------------------------------------------ main
def parse_pairs(values: list[str], flag: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise SystemExit(f"{flag} expects KEY=VALUE, got {item!r}")
        pairs[key.strip()] = value
    return pairs


def make_clients(endpoint: str, region: str) -> Callable[[str], Any]:
    import boto3
    from botocore.config import Config

    session = boto3.session.Session(
        aws_access_key_id=DUMMY_CREDENTIAL,
        aws_secret_access_key=DUMMY_CREDENTIAL,
        region_name=region,
    )
    config = Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5, read_timeout=30)
    cache: dict[str, Any] = {}

    def client(service: str) -> Any:
        if service not in cache:
            cache[service] = session.client(service, endpoint_url=endpoint, config=config)
        return cache[service]

    return client


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--endpoint", required=True, help="local AWS endpoint, e.g. http://127.0.0.1:5320")
    parser.add_argument("--stack-name", default="sr-connector-local")
    parser.add_argument("--template", default="template.yaml")
    parser.add_argument("--out", default=".local/env", help="env file to write (JSON copy at OUT.json)")
    parser.add_argument("--region", default=DEFAULT_REGION)
    parser.add_argument("--account-id", default=DEFAULT_ACCOUNT_ID)
    parser.add_argument("--partner-client-id", default="local-partner")
    parser.add_argument("--partner-client-secret", default="local-partner-secret")
    parser.add_argument("--vendor-api-key", default=None,
                        help="vendor API key (default: keep the existing one or generate 48 characters)")
    parser.add_argument("--parameter", action="append", default=[], metavar="NAME=VALUE",
                        help="template parameter override (repeatable)")
    parser.add_argument("--secret-value", action="append", default=[], metavar="LOGICAL_ID=VALUE",
                        help="a template secret's local value (repeatable)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="env file value override or extra variable (repeatable)")
    args = parser.parse_args(argv)

    template = load_template(args.template)
    resolver = Resolver(
        template=template,
        stack_name=args.stack_name,
        region=args.region,
        account_id=args.account_id,
        parameter_overrides=parse_pairs(args.parameter, "--parameter"),
    )
    stack = LocalStack(
        resolver=resolver,
        clients=make_clients(args.endpoint, args.region),
        partner_client_id=args.partner_client_id,
        partner_client_secret=args.partner_client_secret,
        vendor_api_key=args.vendor_api_key,
        secret_overrides=parse_pairs(args.secret_value, "--secret-value"),
    )
    try:
        stack.create_all()
    except Unresolvable as error:
        print(f"local_stack: {error}", file=sys.stderr)
        return 1
    env = build_env(stack, args.endpoint, parse_pairs(args.overrides, "--set"))
    out = Path(args.out)
    write_env(out, env)
    print(f"local_stack: wrote {out} and {out.name}.json ({len(env)} variables)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
