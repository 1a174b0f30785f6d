"""Deploying the transformed template onto moto: every resource that has a local counterpart, in the order
CloudFormation could create them, and the stack registered in moto's CloudFormation by its name."""

from __future__ import annotations

import json
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from batchrecs_local import limits
from batchrecs_local.lambdas import Lambdas, LocalFunction
from batchrecs_local.template import ACCOUNT, Template, deploy_order


class Deployer:
    """Creates ``template``'s resources with ``client``'s AWS clients; its functions go to ``lambdas``."""

    def __init__(self, template: Template, client: Callable[[str], Any], lambdas: Lambdas, region: str) -> None:
        self.template = template
        self.client = client
        self.lambdas = lambdas
        self.region = region

    def name(self, logical: str) -> str:
        return self.template.physical[logical].ref

    def deploy(self) -> None:
        """Create every resource of the transformed template that has a local counterpart, in dependency order."""
        t = self.template
        for logical in deploy_order({"Resources": t.resources}):
            kind = t.resources[logical]["Type"]
            create = getattr(self, "_create_" + kind.replace("::", "_"), None)
            if create is not None:
                create(logical, t.properties(logical))
            elif kind not in NOT_NEEDED_LOCALLY:
                raise NotImplementedError(f"{logical}: {kind} has no local counterpart")
        self._register_stack()

    def _register_stack(self) -> None:
        """The stack as CloudFormation lists it, every resource with its physical name, so that tools which find a
        stack's resources by its name (``batchrecs jobs --stack``, ``aws cloudformation describe-stack-resources``)
        work on this one as on a deployed one. moto's CloudFormation would create the resources again, so the
        stack is registered empty and its resource list filled in."""
        from moto.cloudformation.models import cloudformation_backends

        self.client("cloudformation").create_stack(
            StackName=self.template.stack_name, TemplateBody=json.dumps({"Resources": {}})
        )
        stack = cloudformation_backends[ACCOUNT][self.region].get_stack(self.template.stack_name)
        stack.template = json.dumps(self.template.document)  # GetTemplate gives the processed template, as on AWS
        resources = stack.resource_map
        for logical, resource in self.template.resources.items():
            resources._resource_json_map[logical] = resource
            resources._parsed_resources[logical] = SimpleNamespace(
                logical_resource_id=logical,
                physical_resource_id=self.template.physical[logical].ref,
                cf_resource_type=resource["Type"],
            )

    def _create_AWS_S3_Bucket(self, logical: str, props: dict[str, Any]) -> None:
        s3, bucket = self.client("s3"), self.name(logical)
        s3.create_bucket(Bucket=bucket)
        if props.get("VersioningConfiguration", {}).get("Status") == "Enabled":
            s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        if "PublicAccessBlockConfiguration" in props:
            s3.put_public_access_block(
                Bucket=bucket, PublicAccessBlockConfiguration=props["PublicAccessBlockConfiguration"]
            )
        lambdas = props.get("NotificationConfiguration", {}).get("LambdaConfigurations", [])
        if lambdas:
            s3.put_bucket_notification_configuration(
                Bucket=bucket,
                NotificationConfiguration={
                    "LambdaFunctionConfigurations": [
                        {
                            "LambdaFunctionArn": c["Function"],
                            "Events": [c["Event"]],
                            **(
                                {"Filter": {"Key": {"FilterRules": c["Filter"]["S3Key"]["Rules"]}}}
                                if "Filter" in c
                                else {}
                            ),
                        }
                        for c in lambdas
                    ]
                },
            )

    def _create_AWS_DynamoDB_Table(self, logical: str, props: dict[str, Any]) -> None:
        self.client("dynamodb").create_table(
            TableName=self.name(logical),
            KeySchema=props["KeySchema"],
            AttributeDefinitions=props["AttributeDefinitions"],
            BillingMode=props.get("BillingMode", "PAY_PER_REQUEST"),
            **(
                {"GlobalSecondaryIndexes": props["GlobalSecondaryIndexes"]} if "GlobalSecondaryIndexes" in props else {}
            ),
        )

    def _create_AWS_SQS_Queue(self, logical: str, props: dict[str, Any]) -> None:
        self.client("sqs").create_queue(QueueName=self.template.physical[logical].attributes["QueueName"])

    def _create_AWS_Events_EventBus(self, logical: str, props: dict[str, Any]) -> None:
        self.client("events").create_event_bus(Name=self.name(logical))

    def _create_AWS_Events_Archive(self, logical: str, props: dict[str, Any]) -> None:
        self.client("events").create_archive(
            ArchiveName=self.name(logical),
            EventSourceArn=props["SourceArn"],
            EventPattern=json.dumps(props.get("EventPattern", {})),
            RetentionDays=int(props.get("RetentionDays", 0)),
        )

    def _create_AWS_Events_Rule(self, logical: str, props: dict[str, Any]) -> None:
        events, bus = self.client("events"), props.get("EventBusName", "default")
        events.put_rule(
            Name=self.name(logical),
            EventBusName=bus,
            EventPattern=json.dumps(props["EventPattern"]),
            State=props.get("State", "ENABLED"),
        )
        targets = [{"Id": t["Id"], "Arn": t["Arn"]} for t in props.get("Targets", [])]
        if targets:
            events.put_targets(Rule=self.name(logical), EventBusName=bus, Targets=targets)

    def _create_AWS_IAM_Role(self, logical: str, props: dict[str, Any]) -> None:
        self.client("iam").create_role(
            RoleName=self.name(logical), AssumeRolePolicyDocument=json.dumps(props["AssumeRolePolicyDocument"])
        )

    def _create_AWS_StepFunctions_StateMachine(self, logical: str, props: dict[str, Any]) -> None:
        self.client("stepfunctions").create_state_machine(
            name=self.template.physical[logical].attributes["Name"],
            roleArn=props["RoleArn"],
            definition=self.template.state_machine_definition(logical),
            type=props.get("StateMachineType", "STANDARD"),
        )

    def _create_AWS_Lambda_Function(self, logical: str, props: dict[str, Any]) -> None:
        physical = self.template.physical[logical]
        limits.check_environment(logical, self.template.function_environment(logical))
        self.lambdas.functions[logical] = LocalFunction(
            logical=logical,
            name=physical.ref,
            arn=physical.attributes["Arn"],
            code=self.template.function_code(logical),
            handler=props["Handler"],
            environment=self.template.function_environment(logical),
            role=props["Role"],
        )

    def _create_AWS_Lambda_EventInvokeConfig(self, logical: str, props: dict[str, Any]) -> None:
        (function,) = (f for f in self.lambdas.functions.values() if f.name == props["FunctionName"])
        function.retries = int(props.get("MaximumRetryAttempts", 2))
        function.on_failure = props.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")


NOT_NEEDED_LOCALLY = {
    "AWS::S3::BucketPolicy": "enforced by batchrecs_local.iam from the template (moto evaluates no policy)",
    "AWS::SQS::QueuePolicy": "enforced by batchrecs_local.iam from the template (moto evaluates no policy)",
    "AWS::Events::EventBusPolicy": "enforced by batchrecs_local.iam from the template (moto evaluates no policy)",
    "AWS::Lambda::LayerVersion": "layers are on the Python path in process",
    "AWS::Lambda::Permission": "enforced by batchrecs_local.iam from the template: S3's and EventBridge's invokes",
    "AWS::EventSchemas::Registry": "schemas are checked against the models in the contract tests",
    "AWS::EventSchemas::Schema": "schemas are checked against the models in the contract tests",
    "AWS::CloudFormation::Stack": "the event schemas' nested stack (schemas/registry.yaml): the rehearsal checks it",
    "AWS::CloudWatch::Alarm": "no metrics locally",
    "AWS::CloudWatch::Dashboard": "no metrics locally",
    "AWS::SNS::Topic": "no alarms locally",
    "AWS::SNS::TopicPolicy": "no alarms locally",
    "AWS::Logs::LogGroup": "logs go to the process's stderr locally",
}
