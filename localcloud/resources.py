"""Creates the template's tables, queues, streams and buckets in moto and answers Ref/GetAtt for them."""

from __future__ import annotations

import json
import logging
from typing import Any

import boto3

from localcloud.errors import TemplateError
from localcloud.intrinsics import ACCOUNT_ID, REGION, Resolver
from localcloud.template import Template

log = logging.getLogger("localcloud")

_NAME_PROPERTY = {
    "AWS::DynamoDB::Table": "TableName",
    "AWS::SQS::Queue": "QueueName",
    "AWS::Kinesis::Stream": "Name",
    "AWS::Lambda::Function": "FunctionName",
    "AWS::S3::Bucket": "BucketName",
    "AWS::SSM::Parameter": "Name",
    "AWS::IAM::Role": "RoleName",
}
PROVISIONED_TYPES = ("AWS::SQS::Queue", "AWS::DynamoDB::Table", "AWS::Kinesis::Stream", "AWS::S3::Bucket")
# (type, Ref or GetAtt attribute) -> value; any other Ref/Name/QueueName is the physical name
_ATTRIBUTES = {
    ("AWS::SQS::Queue", "Ref"): "{endpoint}/{account}/{name}",
    ("AWS::SQS::Queue", "QueueUrl"): "{endpoint}/{account}/{name}",
    ("AWS::SQS::Queue", "Arn"): "arn:aws:sqs:{region}:{account}:{name}",
    ("AWS::DynamoDB::Table", "Arn"): "arn:aws:dynamodb:{region}:{account}:table/{name}",
    ("AWS::DynamoDB::Table", "StreamArn"): "arn:aws:dynamodb:{region}:{account}:table/{name}/stream/local",
    ("AWS::Kinesis::Stream", "Arn"): "arn:aws:kinesis:{region}:{account}:stream/{name}",
    ("AWS::Lambda::Function", "Arn"): "arn:aws:lambda:{region}:{account}:function:{name}",
    ("AWS::Lambda::LayerVersion", "Ref"): "arn:aws:lambda:{region}:{account}:layer:{name}:1",
    ("AWS::IAM::Role", "Arn"): "arn:aws:iam::{account}:role/{name}",
    ("AWS::S3::Bucket", "Arn"): "arn:aws:s3:::{name}",
    ("AWS::ApiGateway::RestApi", "Ref"): "local",
    ("AWS::ApiGateway::RestApi", "RootResourceId"): "root",
}


def client(service: str, endpoint: str) -> Any:
    make: Any = boto3.client  # the stubs only type literal service names
    return make(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


class LocalResources:
    """Physical names and attributes of every resource, as CloudFormation would report them."""

    def __init__(self, template: Template, *, stack_name: str, endpoint: str) -> None:
        self.template = template
        self.stack_name = stack_name
        self.endpoint = endpoint
        self.resolver = Resolver(
            stack_name=stack_name,
            parameters=template.parameters,
            conditions=template.conditions,
            mappings=template.mappings,
            attribute=self.attribute,
        )
        self.names: dict[str, str] = {}
        for logical_id, resource in template.resources.items():
            self.names[logical_id] = self._physical_name(logical_id, resource)

    def _physical_name(self, logical_id: str, resource: dict[str, Any]) -> str:
        resource_type = resource.get("Type", "")
        explicit = resource.get("Properties", {}).get(_NAME_PROPERTY.get(resource_type, ""))
        if explicit is not None:
            return str(self.resolver.resolve(explicit))
        name = f"{self.stack_name}-{logical_id}"
        if resource_type == "AWS::SQS::Queue" and resource.get("Properties", {}).get("FifoQueue"):
            name += ".fifo"
        if resource_type == "AWS::S3::Bucket":
            name = name.lower()
        return name

    def properties(self, logical_id: str) -> dict[str, Any]:
        resolved = self.resolver.resolve(self.template.resources[logical_id].get("Properties", {}))
        return resolved if isinstance(resolved, dict) else {}

    def attribute(self, logical_id: str, attribute: str) -> Any:
        resource = self.template.resources.get(logical_id)
        if resource is None:
            raise TemplateError(f"unknown resource {logical_id}")
        name = self.names[logical_id]
        shape = _ATTRIBUTES.get((resource["Type"], attribute))
        if shape is not None:
            return shape.format(endpoint=self.endpoint, region=REGION, account=ACCOUNT_ID, name=name)
        if attribute in ("Ref", "Name", "QueueName"):
            return name
        raise TemplateError(f"GetAtt {logical_id}.{attribute} is not supported by the local cloud")

    def by_arn(self) -> dict[str, str]:
        """ARN → logical id, for event sources and destinations."""
        arns: dict[str, str] = {}
        for logical_id, resource in self.template.resources.items():
            if resource["Type"] in (*PROVISIONED_TYPES, "AWS::Lambda::Function"):
                try:
                    arns[str(self.attribute(logical_id, "Arn"))] = logical_id
                except TemplateError:
                    continue
        return arns

    def provision(self) -> None:
        """Create every provisioned resource; already existing ones are left as they are."""
        ordered = sorted(
            (lid for lid, r in self.template.resources.items() if r["Type"] in PROVISIONED_TYPES),
            # dead-letter queues must exist before the queues whose redrive policy names them
            key=lambda lid: "RedrivePolicy" in self.template.resources[lid].get("Properties", {}),
        )
        for logical_id in ordered:
            creator = getattr(self, "_create_" + self.template.resources[logical_id]["Type"].split("::")[1])
            creator(logical_id, self.properties(logical_id))

    def _create_SQS(self, logical_id: str, props: dict[str, Any]) -> None:
        attributes: dict[str, str] = {}
        for key, value in props.items():
            if key in ("QueueName", "Tags"):
                continue
            if key in {"RedrivePolicy", "RedriveAllowPolicy"}:
                attributes[key] = json.dumps(value)
            else:
                attributes[key] = str(value).lower() if isinstance(value, bool) else str(value)
        client("sqs", self.endpoint).create_queue(QueueName=self.names[logical_id], Attributes=attributes)

    @staticmethod
    def table_arguments(props: dict[str, Any]) -> dict[str, Any]:
        """CreateTable's arguments (all but the name) for an AWS::DynamoDB::Table's properties."""
        args = {
            k: v
            for k, v in props.items()
            if k
            in (
                "AttributeDefinitions",
                "KeySchema",
                "GlobalSecondaryIndexes",
                "LocalSecondaryIndexes",
                "ProvisionedThroughput",
                "StreamSpecification",
            )
        }
        args["BillingMode"] = props.get("BillingMode", "PROVISIONED")
        if args["BillingMode"] == "PROVISIONED" and "ProvisionedThroughput" not in args:
            args["ProvisionedThroughput"] = {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}
        return args

    def _create_DynamoDB(self, logical_id: str, props: dict[str, Any]) -> None:
        ddb = client("dynamodb", self.endpoint)
        try:
            ddb.create_table(TableName=self.names[logical_id], **self.table_arguments(props))
        except ddb.exceptions.ResourceInUseException:
            return
        ttl = props.get("TimeToLiveSpecification")
        if ttl and ttl.get("Enabled"):
            ddb.update_time_to_live(TableName=self.names[logical_id], TimeToLiveSpecification=ttl)

    def _create_Kinesis(self, logical_id: str, props: dict[str, Any]) -> None:
        kinesis = client("kinesis", self.endpoint)
        try:
            kinesis.create_stream(
                StreamName=self.names[logical_id], ShardCount=int(props.get("ShardCount", 1))
            )
        except kinesis.exceptions.ResourceInUseException:
            return
        kinesis.get_waiter("stream_exists").wait(
            StreamName=self.names[logical_id], WaiterConfig={"Delay": 0.1, "MaxAttempts": 50}
        )

    def _create_S3(self, logical_id: str, props: dict[str, Any]) -> None:
        client("s3", self.endpoint).create_bucket(Bucket=self.names[logical_id])
