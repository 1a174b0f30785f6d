"""template.yaml's security defaults, read from the file that deploys: least-privilege IAM, locked buckets,
lifecycle rules, tracing and logging. checkov and cfn-lint run on the same file in `make lint`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from batchrecs import layout
from batchrecs_local.template import ROOT, Template

TEMPLATE = Template()
SOURCE = TEMPLATE.source["Resources"]
DEPLOYED = TEMPLATE.document["Resources"]
"""The IAM that deploys is the SAM transform's output: policy templates expanded, generated roles included."""
NO_RESOURCE_LEVEL = {
    # X-Ray accepts no resource-level permissions.
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    # Step Functions' log delivery to CloudWatch Logs: AWS documents these with Resource "*" only.
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
    # Personalize's List actions take no resource-level permissions (batchrecs_local.iam maps them to "*").
    "personalize:ListSolutionVersions",
}


def statements(node: Any, where: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every IAM policy statement in the template (inline policies, SAM policies, resource policies)."""
    if isinstance(node, dict):
        if "Effect" in node and ("Action" in node or "NotAction" in node):
            yield where, node
        for key, value in node.items():
            yield from statements(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from statements(value, f"{where}[{index}]")


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_no_wildcard_resource_where_an_arn_could_be_named() -> None:
    found = list(statements(DEPLOYED))
    assert len(found) > 20
    for where, statement in found:
        if "*" in as_list(statement.get("Resource", [])):
            actions = set(as_list(statement["Action"]))
            assert actions <= NO_RESOURCE_LEVEL, f"{where}: Resource '*' for {sorted(actions - NO_RESOURCE_LEVEL)}"
        for action in as_list(statement.get("Action", [])):
            assert (action == "s3:*" and statement["Effect"] == "Deny") or "*" not in action, f"{where}: {action}"


def test_no_role_carries_an_aws_managed_policy_but_x_ray_write() -> None:
    # SAM's generated function roles attach AWSLambdaBasicExecutionRole (logs on every log group); the state
    # machine's gets AWSXrayWriteOnlyAccess for its tracing, and X-Ray has no resource-level permissions anyway.
    for logical, resource in DEPLOYED.items():
        if resource["Type"] == "AWS::IAM::Role":
            managed = resource["Properties"].get("ManagedPolicyArns", [])
            assert managed in ([], ["arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess"]), logical


def test_each_function_writes_logs_to_its_own_log_group_only() -> None:
    for logical in TEMPLATE.functions():
        role = DEPLOYED[logical]["Properties"]["Role"]["Fn::GetAtt"][0]
        logs = [s for _, s in statements(DEPLOYED[role]) if any(a.startswith("logs:") for a in as_list(s["Action"]))]
        assert logs and all(s["Resource"] == {"Fn::GetAtt": [f"{logical}Logs", "Arn"]} for s in logs), logical


def test_sam_policy_templates_that_grant_too_much_are_not_used() -> None:
    for where, statement in statements(DEPLOYED):
        actions = set(as_list(statement["Action"]))
        assert not actions & {"dynamodb:Scan", "dynamodb:Query"}, where
        if "dynamodb:BatchWriteItem" in actions:  # it deletes too: only for items of one kind, by their key
            keys = statement.get("Condition", {}).get("ForAllValues:StringLike", {}).get("dynamodb:LeadingKeys")
            assert keys and all(k.endswith("#*") for k in keys), where
        if "lambda:InvokeFunction" in actions and statement["Effect"] == "Allow":
            assert all("Fn::GetAtt" in r for r in as_list(statement["Resource"])), where  # no function:<name>*


def test_s3_may_invoke_the_functions_only_for_the_input_bucket_of_this_account() -> None:
    permissions = {k: r for k, r in DEPLOYED.items() if r["Type"] == "AWS::Lambda::Permission"}
    from_s3 = {k: r["Properties"] for k, r in permissions.items() if r["Properties"]["Principal"] == "s3.amazonaws.com"}
    assert set(from_s3) == {"SubmitFunctionS3Permission", "TrainFunctionS3Permission"}
    for props in from_s3.values():
        assert props["SourceAccount"] == {"Ref": "AWS::AccountId"}
        assert props["SourceArn"] == {"Fn::Sub": "arn:${AWS::Partition}:s3:::${AWS::StackName}-input-${AWS::AccountId}"}


def test_only_deny_statements_name_every_principal() -> None:
    for where, statement in statements(DEPLOYED):
        if statement.get("Principal") == "*":
            assert statement["Effect"] == "Deny", where


def test_pass_role_names_the_personalize_role_for_personalize_only() -> None:
    passing = [(w, s) for w, s in statements(DEPLOYED) if "iam:PassRole" in as_list(s["Action"])]
    assert {w.split("/")[1] for w, _ in passing} == {"SubmitFunctionRole", "CreateJobFunctionRole"}
    for where, statement in passing:
        assert statement["Resource"] == {"Fn::GetAtt": ["PersonalizeRole", "Arn"]}, where
        assert statement["Condition"] == {"StringEquals": {"iam:PassedToService": "personalize.amazonaws.com"}}


def test_personalize_role_trusts_this_account_and_its_personalize_resources_only() -> None:
    (trust,) = SOURCE["PersonalizeRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "personalize.amazonaws.com"}
    assert trust["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    assert "aws:SourceArn" in trust["Condition"]["ArnLike"]


def test_buckets_are_private_tls_only_versioned_encrypted_and_expire_old_data() -> None:
    for logical in ("InputBucket", "OutputBucket"):
        props = SOURCE[logical]["Properties"]
        assert set(props["PublicAccessBlockConfiguration"].values()) == {True}, logical
        assert props["VersioningConfiguration"] == {"Status": "Enabled"}
        (encryption,) = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        kms, default = encryption["ServerSideEncryptionByDefault"]["Fn::If"][1:]
        assert (kms["SSEAlgorithm"], default["SSEAlgorithm"]) == ("aws:kms", "AES256")
        rules = {rule["Id"]: rule for rule in props["LifecycleConfiguration"]["Rules"]}
        assert "NoncurrentVersionExpiration" in rules["ExpireOldVersions"]
        policy = SOURCE[f"{logical}Policy"]["Properties"]["PolicyDocument"]["Statement"]
        (tls,) = [s for s in policy if s["Sid"] == "TlsOnly"]
        assert (tls["Effect"], tls["Condition"]) == ("Deny", {"Bool": {"aws:SecureTransport": "false"}})
    reports = {r["Id"]: r for r in SOURCE["InputBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]}
    assert reports["ExpireRejectionReports"]["Prefix"] == layout.REJECTED


def test_only_personalize_the_scorer_and_the_merge_write_job_output() -> None:
    policy = SOURCE["OutputBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    (deny,) = [s for s in policy if s["Sid"] == "OnlyJobsWriteOutput"]
    assert (deny["Effect"], deny["Principal"], deny["Action"]) == ("Deny", "*", "s3:PutObject")
    writers = deny["Condition"]["ArnNotEquals"]["aws:PrincipalArn"]
    assert writers == [
        {"Fn::GetAtt": ["PersonalizeRole", "Arn"]},
        {"Fn::GetAtt": ["ScoreFunctionRole", "Arn"]},
        {"Fn::GetAtt": ["MergeFunctionRole", "Arn"]},
    ]
    assert deny["Condition"]["StringNotEquals"] == {"aws:PrincipalServiceName": "personalize.amazonaws.com"}
    writing = {w.split("/")[1] for w, s in statements(SOURCE) if "s3:PutObject" in as_list(s["Action"])}
    assert writing == {
        "InputBucketPolicy",
        "OutputBucketPolicy",
        "PersonalizeRole",
        "SubmitFunctionRole",
        "TrainFunctionRole",
        "JobOutcomeFunctionRole",
        "ScoreFunctionRole",
        "MergeFunctionRole",
    }


def test_only_the_stack_writes_its_output_bucket_and_only_submit_writes_snapshots() -> None:
    output = SOURCE["OutputBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    (deny,) = [s for s in output if s["Sid"] == "OnlyTheStackWrites"]
    assert (deny["Effect"], deny["Principal"], deny["Action"]) == ("Deny", "*", "s3:PutObject")
    assert deny["Resource"] == {"Fn::Sub": "${OutputBucket.Arn}/*"}
    writers = {w["Fn::GetAtt"][0] for w in deny["Condition"]["ArnNotEquals"]["aws:PrincipalArn"]}
    # every role whose policy may write to the output bucket, and no other
    writing = {
        where.split("/")[1]
        for where, s in statements(SOURCE)
        if "s3:PutObject" in as_list(s["Action"]) and "OutputBucket" in json.dumps(s["Resource"])
    }
    assert writers == writing - {"OutputBucketPolicy"}
    snapshots = SOURCE["InputBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    (deny,) = [s for s in snapshots if s["Sid"] == "OnlySubmitWritesSnapshots"]
    assert (deny["Effect"], deny["Principal"], deny["Action"]) == ("Deny", "*", "s3:PutObject")
    assert deny["Resource"] == {"Fn::Sub": "${InputBucket.Arn}/snapshots/*"}
    assert deny["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": {"Fn::GetAtt": ["SubmitFunctionRole", "Arn"]}}}


def test_only_the_stacks_publishers_may_put_its_source_on_its_bus() -> None:
    (policy,) = [r for r in SOURCE.values() if r["Type"] == "AWS::Events::EventBusPolicy"]
    statement = policy["Properties"]["Statement"]
    assert policy["Properties"]["EventBusName"] == {"Ref": "EventBus"}
    assert (statement["Effect"], statement["Principal"], statement["Action"]) == ("Deny", "*", "events:PutEvents")
    assert statement["Condition"]["StringEquals"] == {"events:source": {"Ref": "EventSource"}}
    allowed = {a["Fn::GetAtt"][0] for a in statement["Condition"]["ArnNotEquals"]["aws:PrincipalArn"]}
    publishing = {
        where.split("/")[1].removesuffix("Role")
        for where, s in statements(DEPLOYED)
        if "events:PutEvents" in as_list(s["Action"]) and s["Effect"] == "Allow"
    }
    assert {a.removesuffix("Role") for a in allowed} == publishing


def test_functions_and_state_machine_are_traced_and_the_state_machine_logs_errors() -> None:
    assert TEMPLATE.source["Globals"]["Function"]["Tracing"] == "Active"
    for logical in TEMPLATE.functions():
        assert "Tracing" not in SOURCE[logical]["Properties"], f"{logical} overrides Globals' tracing"
    machine = SOURCE["JobStateMachine"]["Properties"]
    assert machine["Tracing"] == {"Enabled": True}
    assert (machine["Logging"]["Level"], machine["Logging"]["IncludeExecutionData"]) == ("ERROR", False)


def test_every_function_logs_to_a_log_group_with_retention() -> None:
    for logical in TEMPLATE.functions():
        group = SOURCE[logical]["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
        props = SOURCE[group]["Properties"]
        assert SOURCE[group]["Type"] == "AWS::Logs::LogGroup"
        assert props["RetentionInDays"] == {"Ref": "LogRetentionDays"}, logical


def test_every_checkov_suppression_says_why() -> None:
    for logical, resource in SOURCE.items():
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", []):
            assert len(skip.get("comment", "")) > 40, f"{logical}: {skip['id']} has no justification"


def test_every_project_wide_checkov_suppression_says_why() -> None:
    # .checkov.yaml: each skipped check follows comment lines that name it and give the reason
    config = (ROOT / ".checkov.yaml").read_text().splitlines()
    checks = [line.strip().removeprefix("- ") for line in config if line.strip().startswith("- CKV")]
    assert checks, ".checkov.yaml suppresses nothing: remove it"
    for check in checks:
        index = next(i for i, line in enumerate(config) if line.strip() == f"- {check}")
        reason: list[str] = []
        for line in reversed(config[:index]):
            if not line.strip().startswith("#"):
                break
            reason.insert(0, line.strip().lstrip("# "))
        said = " ".join(reason)
        assert said.startswith(f"{check},") and len(said) > 80, f"{check} has no reason in .checkov.yaml"


def test_the_distributed_map_may_start_children_of_its_own_state_machine_and_no_other() -> None:
    """A distributed Map starts child executions of the state machine it runs in: its role names that state machine
    by the Name the template gives it (a !Ref would be a cycle), and its executions for Describe and Stop."""
    machine = SOURCE["JobStateMachine"]["Properties"]
    assert machine["Name"] == {"Fn::Sub": "${AWS::StackName}-jobs"}
    (policy,) = machine["Policies"]
    by_sid = {statement["Sid"]: statement for statement in policy["Statement"] if "Sid" in statement}
    (kms,) = [statement["Fn::If"] for statement in policy["Statement"] if "Fn::If" in statement]
    assert kms[0] == "UseKms" and kms[1]["Action"] == "kms:Decrypt" and kms[1]["Resource"] == {"Ref": "KmsKeyArn"}
    prefix = "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}"
    start = by_sid["RunDistributedMap"]
    assert (start["Action"], start["Resource"]) == (
        "states:StartExecution",
        {"Fn::Sub": f"{prefix}:stateMachine:${{AWS::StackName}}-jobs"},
    )
    watch = by_sid["WatchDistributedMapChildren"]
    assert watch["Resource"] == {"Fn::Sub": f"{prefix}:execution:${{AWS::StackName}}-jobs/*"}
    manifests = by_sid["ReadShardManifests"]
    assert manifests["Action"] == "s3:GetObject" and manifests["Resource"]["Fn::Sub"].endswith("/snapshots/*")


def test_shard_outputs_expire_when_a_merge_never_ran() -> None:
    rules = SOURCE["OutputBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    (shards,) = [rule for rule in rules if rule.get("Prefix") == "shards/"]
    assert shards["Status"] == "Enabled" and shards["ExpirationInDays"] == {"Ref": "SnapshotRetentionDays"}
