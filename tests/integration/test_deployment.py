"""template.yaml deploys: the SAM translation, created as a CloudFormation stack in moto.

The stack is created with the `prod` parameters of samconfig.toml, so what is checked is what
`sam deploy --config-env prod` would create. moto builds every table, queue, stream, role, function, log
group and event source mapping from the translated template; those are read back from moto. Three parts
cannot be built by moto's CloudFormation and are checked on the translated template instead, which is
exactly what `sam deploy` hands to CloudFormation:
- the REST API: moto cannot create the deployment from the swagger body SAM generates, so the
  AWS::ApiGateway::* and AWS::Lambda::Permission resources are left out of the stack;
- CloudWatch alarms and Kinesis stream consumers: moto has no CloudFormation support for them (the
  consumers exist only with EnhancedFanOut=true, so the moto stack is created with it off);
- what moto's CloudFormation drops when it creates a resource: tracing and layers of functions, the TTL of
  tables, managed policies of roles.
"""

from __future__ import annotations

import ast
import io
import json
import re
import tomllib
import urllib.parse
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws

from localcloud import template as template_loader
from localcloud.template import Template, load_raw
from tests.support import ROOT, TEMPLATE

STACK = "tradestream-prod"
REGION = "us-east-1"
ACCOUNT = "123456789012"
FOURTEEN_DAYS = 1_209_600
# What moto's CloudFormation cannot build (see the module docstring).
NOT_IN_MOTO = (
    "AWS::ApiGateway::",
    "AWS::Lambda::Permission",
    "AWS::CloudWatch::Alarm",
    "AWS::Kinesis::StreamConsumer",
)
# The managed policies SAM attaches, by what they are for; nothing broader is acceptable.
ALLOWED_MANAGED_POLICIES = {
    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",  # logs
    "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess",  # Tracing: Active
    "arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole",  # the lane's event source
    "arn:aws:iam::aws:policy/service-role/AWSLambdaKinesisExecutionRole",  # the stream's event source
}
DYNAMODB_WRITES = {
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:TransactWriteItems",
}


# --- parameters -------------------------------------------------------------------------------------------
def samconfig_parameters(env: str) -> dict[str, str]:
    config = tomllib.loads((ROOT / "samconfig.toml").read_text())
    merged: dict[str, Any] = {}
    for command in ("global", "build", "deploy"):
        merged.update(config.get(env, {}).get(command, {}).get("parameters", {}))
    raw = merged.get("parameter_overrides", [])
    pairs = raw if isinstance(raw, list) else str(raw).split()
    return dict(str(pair).split("=", 1) for pair in pairs)


PROD = samconfig_parameters("prod")
# moto has no AWS::Kinesis::StreamConsumer: the moto stack polls; fan-out is checked on the template.
MOTO_PARAMETERS = {**PROD, "EnhancedFanOut": "false"}


def _of_type(resources: dict[str, Any], *types: str) -> dict[str, dict[str, Any]]:
    return {k: r for k, r in resources.items() if r["Type"] in types}


def _refs(node: Any) -> Iterator[str]:
    """Logical ids a template fragment refers to (Ref, GetAtt, ${X} and ${X.Attr} in Sub)."""
    if isinstance(node, list):
        for item in node:
            yield from _refs(item)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                yield value
            elif key == "Fn::GetAtt":
                yield value[0] if isinstance(value, list) else str(value).split(".")[0]
            elif key == "Fn::Sub":
                text = value if isinstance(value, str) else value[0]
                yield from (m.split(".")[0] for m in re.findall(r"\$\{([^}!]+)\}", text))
                if not isinstance(value, str):
                    yield from _refs(value[1])
            else:
                yield from _refs(value)


# --- the deployed stack -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Deployed:
    template: Template  # the translated template the stack was created from (before the moto filter)
    physical: dict[str, str]  # logical id -> physical id, as CloudFormation reports it
    status: dict[str, str]

    def client(self, service: str) -> Any:
        make: Any = boto3.client
        return make(service, region_name=REGION)

    def of_type(self, *types: str) -> dict[str, dict[str, Any]]:
        return _of_type(self.template.resources, *types)


@pytest.fixture(scope="module")
def translated() -> Template:
    return template_loader.load(TEMPLATE, PROD)


@pytest.fixture(scope="module")
def stack() -> Iterator[Deployed]:
    with pytest.MonkeyPatch.context() as env:
        for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
            env.delenv(name, raising=False)
        env.setenv("AWS_DEFAULT_REGION", REGION)
        env.setenv("AWS_ACCESS_KEY_ID", "testing")
        env.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        template = template_loader.load(TEMPLATE, MOTO_PARAMETERS)
        skipped = {k for k, r in template.resources.items() if r["Type"].startswith(NOT_IN_MOTO)}
        body = {
            "AWSTemplateFormatVersion": "2010-09-09",
            "Parameters": load_raw(TEMPLATE)["Parameters"],
            "Conditions": template.conditions,
            "Resources": {k: r for k, r in template.resources.items() if k not in skipped},
            "Outputs": {k: o for k, o in template.outputs.items() if not set(_refs(o)) & skipped},
        }
        with mock_aws():
            deployed = _create(template, body)
            yield deployed


def _create(template: Template, body: dict[str, Any]) -> Deployed:
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=template_loader.LOCAL_CODE_BUCKET)
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("app.py", "def lambda_handler(event, context):\n    return event\n")
    for key in template.code_dirs:  # every function's and layer's code, where the template points
        s3.put_object(Bucket=template_loader.LOCAL_CODE_BUCKET, Key=key, Body=archive.getvalue())
    cfn = boto3.client("cloudformation", region_name=REGION)
    cfn.create_stack(
        StackName=STACK,
        TemplateBody=json.dumps(body),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in MOTO_PARAMETERS.items()],
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"],
    )
    created = cfn.describe_stacks(StackName=STACK)["Stacks"][0]
    assert created["StackStatus"] == "CREATE_COMPLETE", created.get("StackStatusReason")
    summaries = [
        summary
        for page in cfn.get_paginator("list_stack_resources").paginate(StackName=STACK)
        for summary in page["StackResourceSummaries"]
    ]
    return Deployed(
        template=template,
        physical={s["LogicalResourceId"]: s["PhysicalResourceId"] for s in summaries},
        status={s["LogicalResourceId"]: s["ResourceStatus"] for s in summaries},
    )


# --- everything exists --------------------------------------------------------------------------------------
def test_every_table_queue_stream_function_and_mapping_is_created(stack: Deployed) -> None:
    kinds = (
        "AWS::DynamoDB::Table",
        "AWS::SQS::Queue",
        "AWS::Kinesis::Stream",
        "AWS::Lambda::Function",
        "AWS::Lambda::LayerVersion",
        "AWS::Lambda::EventSourceMapping",
        "AWS::IAM::Role",
        "AWS::Logs::LogGroup",
    )
    expected = set(stack.of_type(*kinds))
    assert expected <= set(stack.physical), f"not created: {sorted(expected - set(stack.physical))}"
    assert {stack.status[k] for k in expected} == {"CREATE_COMPLETE"}
    assert len(stack.of_type("AWS::Lambda::Function")) >= 10


def test_tables_have_their_keys_indexes_and_on_demand_billing(stack: Deployed) -> None:
    ddb = stack.client("dynamodb")
    for logical_id, resource in stack.of_type("AWS::DynamoDB::Table").items():
        declared = resource["Properties"]
        table = ddb.describe_table(TableName=stack.physical[logical_id])["Table"]
        assert table["KeySchema"] == declared["KeySchema"], logical_id
        assert {(a["AttributeName"], a["AttributeType"]) for a in table["AttributeDefinitions"]} == {
            (a["AttributeName"], a["AttributeType"]) for a in declared["AttributeDefinitions"]
        }, logical_id
        assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST", logical_id
        indexes = {i["IndexName"]: i["KeySchema"] for i in table.get("GlobalSecondaryIndexes", [])}
        assert indexes == {i["IndexName"]: i["KeySchema"] for i in declared.get("GlobalSecondaryIndexes", [])}
    book_log = ddb.describe_table(TableName=stack.physical["BookLogTable"])["Table"]
    assert book_log["KeySchema"] == [
        {"AttributeName": "ticker", "KeyType": "HASH"},
        {"AttributeName": "seq", "KeyType": "RANGE"},
    ], "the event-sourced book: one log per ticker, ordered by seq"
    orders = ddb.describe_table(TableName=stack.physical["OrdersTable"])["Table"]
    assert [i["IndexName"] for i in orders["GlobalSecondaryIndexes"]] == ["byUser", "pending"]


def test_expiring_tables_have_ttl(translated: Template) -> None:
    # moto's CloudFormation does not apply TimeToLiveSpecification: checked on the template.
    for logical_id in ("SessionsTable", "RateLimitTable", "TradesTable"):
        ttl = translated.resources[logical_id]["Properties"]["TimeToLiveSpecification"]
        assert ttl == {"AttributeName": "expiresAt", "Enabled": True}, logical_id


def _queue(stack: Deployed, logical_id: str) -> dict[str, str]:
    attributes: dict[str, str] = stack.client("sqs").get_queue_attributes(
        QueueUrl=stack.physical[logical_id], AttributeNames=["All"]
    )["Attributes"]
    return attributes


def test_the_lane_is_a_fifo_queue_per_ticker_with_redrive_to_its_dlq(stack: Deployed) -> None:
    lane, dlq = _queue(stack, "OrdersLane"), _queue(stack, "OrdersLaneDLQ")
    assert lane["FifoQueue"] == "true" and lane["QueueArn"].endswith(".fifo")
    assert lane["ContentBasedDeduplication"] == "false", "deduplication by the command id, not by content"
    assert lane["DeduplicationScope"] == "messageGroup"
    assert lane["FifoThroughputLimit"] == "perMessageGroupId"
    assert int(lane["VisibilityTimeout"]) >= 6 * 30 / 3, "at least the matching timeout (30 s) twice"
    assert json.loads(lane["RedrivePolicy"]) == {"deadLetterTargetArn": dlq["QueueArn"], "maxReceiveCount": 5}
    assert dlq["FifoQueue"] == "true" and dlq["QueueArn"].endswith(".fifo"), "a FIFO queue's DLQ is FIFO"
    assert int(dlq["MessageRetentionPeriod"]) == FOURTEEN_DAYS
    projections_dlq = _queue(stack, "ProjectionsDLQ")
    assert int(projections_dlq["MessageRetentionPeriod"]) == FOURTEEN_DAYS


def test_every_fifo_queue_is_named_fifo_and_every_lane_has_a_dlq(stack: Deployed) -> None:
    mappings = stack.of_type("AWS::Lambda::EventSourceMapping").values()
    sources = {next(iter(_refs(m["Properties"]["EventSourceArn"]))) for m in mappings}
    for logical_id, resource in stack.of_type("AWS::SQS::Queue").items():
        attributes = _queue(stack, logical_id)
        if resource["Properties"].get("FifoQueue"):
            assert attributes["QueueArn"].endswith(".fifo"), logical_id
        if logical_id in sources:
            assert "RedrivePolicy" in attributes, f"{logical_id} feeds a function: it needs a DLQ"


def test_the_stream(stack: Deployed) -> None:
    kinesis = stack.client("kinesis")
    description = kinesis.describe_stream_summary(StreamName=stack.physical["MatchingEventsStream"])
    summary = description["StreamDescriptionSummary"]
    assert summary["OpenShardCount"] == int(PROD.get("StreamShards", "1"))
    assert summary["RetentionPeriodHours"] == 24


def _function(stack: Deployed, logical_id: str) -> dict[str, Any]:
    configuration: dict[str, Any] = stack.client("lambda").get_function_configuration(
        FunctionName=stack.physical[logical_id]
    )
    return configuration


def test_functions_run_python_311_with_their_environment(stack: Deployed) -> None:
    tables = {stack.physical[k] for k in stack.of_type("AWS::DynamoDB::Table")}
    queues = {stack.physical[k] for k in stack.of_type("AWS::SQS::Queue")}
    streams = {stack.physical[k] for k in stack.of_type("AWS::Kinesis::Stream")}
    for logical_id in stack.of_type("AWS::Lambda::Function"):
        configuration = _function(stack, logical_id)
        assert configuration["Runtime"] == "python3.11", logical_id
        assert configuration["Handler"] == "app.lambda_handler", logical_id
        variables = configuration["Environment"]["Variables"]
        assert variables["STAGE"] == PROD["Stage"]
        assert variables["POWERTOOLS_LOG_LEVEL"] == PROD["LogLevel"]
        assert variables["SIGNING_KEY_PARAMETER"] == PROD["SigningKeyParameter"]
        for name, value in variables.items():
            if name.endswith("_TABLE"):
                assert value in tables, f"{logical_id}.{name} names no table of the stack"
            elif name.endswith("_URL") and "sqs" in value:
                assert value in queues, f"{logical_id}.{name} names no queue of the stack"
            elif name.endswith("_STREAM"):
                assert value in streams, f"{logical_id}.{name} names no stream of the stack"
    matching = _function(stack, "MatchingFunction")["Environment"]["Variables"]
    assert str(matching["SNAPSHOT_EVERY"]) == PROD["SnapshotEvery"]


def test_functions_are_traced_and_use_the_common_layer(translated: Template) -> None:
    # moto's CloudFormation drops TracingConfig and Layers: checked on the template.
    layers = set(_of_type(translated.resources, "AWS::Lambda::LayerVersion"))
    assert len(layers) == 1
    for logical_id, resource in _of_type(translated.resources, "AWS::Lambda::Function").items():
        properties = resource["Properties"]
        assert properties["TracingConfig"] == {"Mode": "Active"}, logical_id
        assert [ref.get("Ref") for ref in properties["Layers"]] == sorted(layers), logical_id


def test_event_source_mappings(stack: Deployed) -> None:
    lam = stack.client("lambda")
    mappings = {
        m["UUID"]: m for m in lam.list_event_source_mappings()["EventSourceMappings"]
    }  # moto lists every mapping of the account, which is this stack's
    by_logical = {k: mappings[stack.physical[k]] for k in stack.of_type("AWS::Lambda::EventSourceMapping")}
    lane_arn = _queue(stack, "OrdersLane")["QueueArn"]
    projections_dlq_arn = _queue(stack, "ProjectionsDLQ")["QueueArn"]
    stream_arn = stack.client("kinesis").describe_stream_summary(
        StreamName=stack.physical["MatchingEventsStream"]
    )["StreamDescriptionSummary"]["StreamARN"]
    function_arns = {_function(stack, k)["FunctionArn"]: k for k in stack.of_type("AWS::Lambda::Function")}
    kinesis_functions = set()
    for logical_id, mapping in by_logical.items():
        function = function_arns[mapping["FunctionArn"]]
        assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"], logical_id
        if mapping["EventSourceArn"] == lane_arn:
            assert function == "MatchingFunction", logical_id
            assert mapping["BatchSize"] == 10, "a FIFO batch is at most 10 messages"
            continue
        assert mapping["EventSourceArn"] == stream_arn, (
            f"{logical_id}: a projection reads the matching stream"
        )
        kinesis_functions.add(function)
        assert mapping["StartingPosition"] == "TRIM_HORIZON", logical_id
        assert mapping["BatchSize"] == 100, logical_id
        assert mapping["BisectBatchOnFunctionError"] is True, logical_id
        assert 0 <= mapping["MaximumRetryAttempts"] <= 10, f"{logical_id}: retries are bounded"
        assert mapping["DestinationConfig"] == {"OnFailure": {"Destination": projections_dlq_arn}}, logical_id
    assert kinesis_functions == {
        "OrderStatusFunction",
        "JournalFunction",
        "PortfolioFunction",
        "MarketDataFunction",
    }


def test_every_function_has_a_log_group_with_retention(stack: Deployed) -> None:
    logs = stack.client("logs")
    groups = {
        g["logGroupName"]: g for g in logs.describe_log_groups(logGroupNamePrefix="/aws/lambda/")["logGroups"]
    }
    for logical_id in stack.of_type("AWS::Lambda::Function"):
        name = f"/aws/lambda/{stack.physical[logical_id]}"
        assert name in groups, (
            f"{logical_id} has no log group: add {logical_id}LogGroup to the operations section"
        )
        assert groups[name]["retentionInDays"] == int(PROD["LogRetentionDays"]), logical_id


# --- least privilege ----------------------------------------------------------------------------------------
def _statements(stack: Deployed, function: str) -> list[dict[str, Any]]:
    iam = stack.client("iam")
    role = _function(stack, function)["Role"].rsplit("/", 1)[-1]
    statements: list[dict[str, Any]] = []
    for name in iam.list_role_policies(RoleName=role)["PolicyNames"]:
        document = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
        if isinstance(document, str):
            # moto's CloudFormation stores some inline policies as the Python repr of the document.
            document = ast.literal_eval(urllib.parse.unquote(document))
        for statement in document["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            resources = (
                statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            )
            statements.append({"actions": actions, "resources": resources})
    return statements


def test_each_role_reaches_only_the_resources_its_function_is_configured_with(stack: Deployed) -> None:
    table_arn = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/"
    for function in stack.of_type("AWS::Lambda::Function"):
        variables = _function(stack, function)["Environment"]["Variables"]
        configured = set(variables.values())
        for statement in _statements(stack, function):
            assert "*" not in statement["actions"] and "*" not in statement["resources"], function
            service = {a.split(":")[0] for a in statement["actions"]}
            assert len(service) == 1, f"{function}: one service per statement"
            for resource in statement["resources"]:
                name = resource.split(":")[-1]
                if service == {"dynamodb"}:
                    table = resource.removeprefix(table_arn).split("/")[0]
                    assert table in configured, (
                        f"{function} may touch {table}, which it is not configured with"
                    )
                    if set(statement["actions"]) & DYNAMODB_WRITES:
                        assert function != "QueryFunction", "the query function only reads"
                elif service == {"sqs"}:
                    assert any(str(v).endswith(f"/{name}") for v in configured), (
                        f"{function} may send to {name}"
                    )
                elif service == {"kinesis"}:
                    assert function == "MatchingFunction", (
                        f"only matching publishes to the stream, not {function}"
                    )
                    assert name == f"stream/{variables['EVENTS_STREAM']}"
                elif service == {"ssm"}:
                    assert function in {"AuthFunction", "AuthorizerFunction"}, f"{function} reads no key"
                    assert name == f"parameter{PROD['SigningKeyParameter']}", "the key ring only"
                else:
                    pytest.fail(f"{function}: unexpected permission {statement}")


def test_roles_carry_only_the_managed_policies_of_their_event_sources(translated: Template) -> None:
    # moto's CloudFormation does not attach AWS managed policies: checked on the template.
    for logical_id, role in _of_type(translated.resources, "AWS::IAM::Role").items():
        attached = set(role["Properties"].get("ManagedPolicyArns", []))
        assert attached <= ALLOWED_MANAGED_POLICIES, f"{logical_id}: {attached - ALLOWED_MANAGED_POLICIES}"


# --- checked on the translated template ---------------------------------------------------------------------
def _api_events() -> list[tuple[str, dict[str, Any]]]:
    functions = _of_type(load_raw(TEMPLATE)["Resources"], "AWS::Serverless::Function")
    return [
        (function, event["Properties"])
        for function, resource in functions.items()
        for event in resource["Properties"].get("Events", {}).values()
        if event["Type"] == "Api"
    ]


def test_every_route_reaches_its_function_behind_the_authorizer_unless_public(translated: Template) -> None:
    body = translated.resources["Api"]["Properties"]["Body"]
    declared = _api_events()
    served = {
        (path, method) for path, methods in body["paths"].items() for method in methods if method != "options"
    }
    assert served == {(e["Path"], e["Method"]) for _, e in declared}, (
        "the swagger serves exactly the Api events"
    )
    for function, event in declared:
        operation = body["paths"][event["Path"]][event["Method"]]
        integration = operation["x-amazon-apigateway-integration"]
        assert integration["type"] == "aws_proxy"
        assert f"${{{function}.Arn}}" in integration["uri"]["Fn::Sub"], f"{event['Path']} reaches {function}"
        public = event.get("Auth", {}).get("Authorizer") == "NONE"
        assert operation["security"] == ([{"NONE": []}] if public else [{"BearerAuthorizer": []}]), event[
            "Path"
        ]


def test_the_authorizer_is_a_cached_request_authorizer_on_the_authorization_header(
    translated: Template,
) -> None:
    definition = translated.resources["Api"]["Properties"]["Body"]["securityDefinitions"]["BearerAuthorizer"]
    authorizer = definition["x-amazon-apigateway-authorizer"]
    assert authorizer["type"] == "request"
    assert authorizer["identitySource"] == "method.request.header.Authorization"
    assert authorizer["authorizerResultTtlInSeconds"] == PROD.get("AuthorizerCacheSeconds", "60")
    assert "AuthorizerFunction" in set(_refs(authorizer["authorizerUri"]))
    permissions = _of_type(translated.resources, "AWS::Lambda::Permission").values()
    assert any(
        "AuthorizerFunction" in set(_refs(p["Properties"]["FunctionName"]))
        and p["Properties"]["Principal"] == "apigateway.amazonaws.com"
        for p in permissions
    ), "API Gateway may invoke the authorizer"


def test_stage_throttling_tracing_and_cors(translated: Template) -> None:
    stage = translated.resources["ApiStage"]["Properties"]
    assert stage["TracingEnabled"] is True
    assert stage["MethodSettings"] == [
        {
            "HttpMethod": "*",
            "ResourcePath": "/*",
            "ThrottlingRateLimit": {"Ref": "ApiThrottlingRateLimit"},
            "ThrottlingBurstLimit": {"Ref": "ApiThrottlingBurstLimit"},
        }
    ]
    assert int(PROD["ApiThrottlingBurstLimit"]) >= int(PROD["ApiThrottlingRateLimit"])
    body = translated.resources["Api"]["Properties"]["Body"]
    for path, methods in body["paths"].items():
        preflight = methods["options"]["x-amazon-apigateway-integration"]
        headers = preflight["responses"]["default"]["responseParameters"]
        assert preflight["type"] == "mock", path
        assert headers["method.response.header.Access-Control-Allow-Origin"] == "'*'", path
        allowed = headers["method.response.header.Access-Control-Allow-Headers"].strip("'").split(",")
        assert {"Authorization", "Content-Type", "X-Request-Id"} <= set(allowed), path
    responses = body["x-amazon-apigateway-gateway-responses"]
    for kind in ("UNAUTHORIZED", "ACCESS_DENIED", "MISSING_AUTHENTICATION_TOKEN", "DEFAULT_5XX"):
        assert (
            responses[kind]["responseParameters"]["gatewayresponse.header.Access-Control-Allow-Origin"]
            == "'*'"
        )


def _alarms(translated: Template) -> list[dict[str, Any]]:
    return [r["Properties"] for r in _of_type(translated.resources, "AWS::CloudWatch::Alarm").values()]


def _alarm_on(translated: Template, metric: str, dimension_target: str) -> dict[str, Any] | None:
    for alarm in _alarms(translated):
        targets = {t for d in alarm["Dimensions"] for t in _refs(d["Value"])}
        if alarm["MetricName"] == metric and dimension_target in targets:
            return alarm
    return None


def test_alarms_on_every_dlq_the_lane_and_every_projection(translated: Template) -> None:
    resources = translated.resources
    dlqs = {
        next(iter(_refs(q["Properties"]["RedrivePolicy"]["deadLetterTargetArn"])))
        for q in _of_type(resources, "AWS::SQS::Queue").values()
        if "RedrivePolicy" in q["Properties"]
    }
    mappings = _of_type(resources, "AWS::Lambda::EventSourceMapping").values()
    dlqs |= {
        next(iter(_refs(m["Properties"]["DestinationConfig"]["OnFailure"]["Destination"])))
        for m in mappings
        if "DestinationConfig" in m["Properties"]
    }
    assert dlqs == {"OrdersLaneDLQ", "ProjectionsDLQ"}
    for dlq in dlqs:
        alarm = _alarm_on(translated, "ApproximateNumberOfMessagesVisible", dlq)
        assert alarm is not None, f"no depth alarm on {dlq}"
        assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (0, "GreaterThanThreshold"), dlq
    lane_age = _alarm_on(translated, "ApproximateAgeOfOldestMessage", "OrdersLane")
    assert lane_age is not None, "no alarm on the lane's age"
    projections = {
        next(iter(_refs(m["Properties"]["FunctionName"])))
        for m in mappings
        if "StartingPosition" in m["Properties"]  # stream mappings
    }
    for function in projections:
        alarm = _alarm_on(translated, "IteratorAge", function)
        assert alarm is not None, f"no iterator-age alarm on {function}: add one to the operations section"
        assert alarm["Namespace"] == "AWS/Lambda"
    for alarm in _alarms(translated):
        assert alarm["TreatMissingData"] == "notBreaching", alarm["AlarmName"]
        assert alarm["AlarmActions"] == {
            "Fn::If": ["HasAlarmTopic", [{"Ref": "AlarmTopicArn"}], {"Ref": "AWS::NoValue"}]
        }


def test_projections_read_through_their_own_fan_out_consumer_when_enabled(translated: Template) -> None:
    resources = translated.resources
    assert translated.conditions["EnhancedFanOutEnabled"] == {
        "Fn::Equals": [{"Ref": "EnhancedFanOut"}, "true"]
    }
    consumers = _of_type(resources, "AWS::Kinesis::StreamConsumer")
    used = []
    for logical_id, mapping in _of_type(resources, "AWS::Lambda::EventSourceMapping").items():
        source = mapping["Properties"]["EventSourceArn"]
        if "StartingPosition" not in mapping["Properties"]:
            continue  # the lane
        condition, when_on, when_off = source["Fn::If"]
        assert condition == "EnhancedFanOutEnabled", logical_id
        assert when_off == {"Fn::GetAtt": ["MatchingEventsStream", "Arn"]}, logical_id
        consumer = when_on["Fn::GetAtt"][0]
        assert when_on == {"Fn::GetAtt": [consumer, "ConsumerARN"]}, logical_id
        assert consumers[consumer]["Condition"] == "EnhancedFanOutEnabled"
        assert consumers[consumer]["Properties"]["StreamARN"] == {
            "Fn::GetAtt": ["MatchingEventsStream", "Arn"]
        }
        used.append(consumer)
    assert len(used) == len(set(used)) == len(consumers), "one consumer per projection, none unused"
    assert PROD["EnhancedFanOut"] == "true", "prod reads through the consumers"


def test_outputs_give_the_api_url(translated: Template) -> None:
    url = translated.outputs["ApiUrl"]["Value"]["Fn::Sub"]
    assert url == "https://${Api}.execute-api.${AWS::Region}.amazonaws.com/${Stage}"
    assert translated.outputs["ApiId"]["Value"] == {"Ref": "Api"}


# --- samconfig.toml -----------------------------------------------------------------------------------
@pytest.mark.parametrize("env", ["default", "localstack", "prod"])
def test_samconfig_environments_set_valid_template_parameters(env: str) -> None:
    parameters = load_raw(TEMPLATE)["Parameters"]
    values = samconfig_parameters(env)
    required = {
        "Stage",
        "LogLevel",
        "SigningKeyParameter",
        "ApiThrottlingRateLimit",
        "ApiThrottlingBurstLimit",
    }
    assert required | {"SnapshotEvery", "EnhancedFanOut"} <= set(values), env
    for name, value in values.items():
        assert name in parameters, f"{env}: {name} is not a parameter of template.yaml"
        spec = parameters[name]
        if "AllowedValues" in spec:
            assert value in [str(v) for v in spec["AllowedValues"]], f"{env}: {name}={value}"
        if spec["Type"] == "Number":
            number = float(value)
            assert number >= float(spec.get("MinValue", number)), f"{env}: {name}={value}"
            assert number <= float(spec.get("MaxValue", number)), f"{env}: {name}={value}"
    assert values["EnhancedFanOut"] == ("true" if env == "prod" else "false"), (
        "LocalStack's free tier: no fan-out"
    )
    template_loader.load(TEMPLATE, values)  # and the template translates with them
