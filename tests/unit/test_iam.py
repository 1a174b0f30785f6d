"""The local stack's IAM evaluator against IAM's documented logic, on statements written here (no stack)."""

from __future__ import annotations

import pytest

from batchrecs_local.iam import Need, Principal, Unmapped, decide, needs_of

ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/r"


def role(*statements: dict[str, object]) -> Principal:
    return Principal(ROLE, tuple(statements))


def allow(action: object, resource: object, **extra: object) -> dict[str, object]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def test_an_action_needs_an_allow_and_wildcards_match() -> None:
    principal = role(allow("s3:Get*", "arn:aws:s3:::b/input/*"))
    assert decide(principal, Need("s3:GetObject", "arn:aws:s3:::b/input/a.jsonl")).allowed
    assert decide(principal, Need("S3:getobject", "arn:aws:s3:::b/input/a.jsonl")).allowed  # actions: any case
    assert not decide(principal, Need("s3:GetObject", "arn:aws:s3:::b/Input/a.jsonl")).allowed  # ARNs: exact case
    assert not decide(principal, Need("s3:PutObject", "arn:aws:s3:::b/input/a.jsonl")).allowed


def test_an_explicit_deny_wins_over_any_allow() -> None:
    principal = role(allow("s3:*", "*"), {"Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "*"})
    assert not decide(principal, Need("s3:DeleteObject", "arn:aws:s3:::b/k")).allowed
    assert decide(principal, Need("s3:GetObject", "arn:aws:s3:::b/k")).allowed


def test_conditions_hold_by_iams_rules() -> None:
    principal = role(allow("s3:ListBucket", "arn:aws:s3:::b", Condition={"StringLike": {"s3:prefix": "models/*"}}))
    bucket = "arn:aws:s3:::b"
    assert decide(principal, Need("s3:ListBucket", bucket, {"s3:prefix": "models/x"})).allowed
    assert not decide(principal, Need("s3:ListBucket", bucket, {"s3:prefix": "input/"})).allowed
    assert not decide(principal, Need("s3:ListBucket", bucket)).allowed  # a missing key fails a positive operator
    negated = role(allow("s3:*", "*", Condition={"StringNotEquals": {"aws:SourceAccount": ACCOUNT}}))
    assert decide(negated, Need("s3:GetObject", "arn:aws:s3:::b/k")).allowed  # ...and satisfies a negated one
    if_exists = role(allow("s3:*", "*", Condition={"StringEqualsIfExists": {"s3:prefix": "a"}}))
    assert decide(if_exists, Need("s3:GetObject", "arn:aws:s3:::b/k")).allowed


def test_a_resource_policy_grants_a_service_principal_by_its_source() -> None:
    policy = [
        {
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Action": "lambda:InvokeFunction",
            "Resource": "arn:aws:lambda:us-east-1:123456789012:function:f",
            "Condition": {"ArnLike": {"aws:SourceArn": "arn:aws:events:us-east-1:123456789012:rule/bus/r"}},
        }
    ]
    events = Principal("events.amazonaws.com", service="events.amazonaws.com")
    need = Need("lambda:InvokeFunction", "arn:aws:lambda:us-east-1:123456789012:function:f")
    from_rule = Need(need.action, need.resource, {"aws:SourceArn": "arn:aws:events:us-east-1:123456789012:rule/bus/r"})
    assert decide(events, from_rule, policy).allowed
    assert not decide(events, need, policy).allowed
    s3 = Principal("s3.amazonaws.com", service="s3.amazonaws.com")
    assert not decide(s3, from_rule, policy).allowed


def test_a_bucket_policys_deny_binds_even_the_administrator() -> None:
    tls_only = [
        {
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": "*",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
    ]
    admin = Principal(f"arn:aws:iam::{ACCOUNT}:user/admin", admin=True)
    assert not decide(
        admin, Need("s3:GetObject", "arn:aws:s3:::b/k", {"aws:SecureTransport": "false"}), tls_only
    ).allowed
    assert decide(admin, Need("s3:GetObject", "arn:aws:s3:::b/k", {"aws:SecureTransport": "true"}), tls_only).allowed


def test_calls_map_to_the_requests_the_service_authorization_reference_lists() -> None:
    copy = needs_of("s3", "CopyObject", {"Bucket": "d", "Key": "k", "CopySource": "s/a%20b?versionId=3"}, "r", ACCOUNT)
    assert copy == [Need("s3:PutObject", "arn:aws:s3:::d/k"), Need("s3:GetObjectVersion", "arn:aws:s3:::s/a b")]
    listed = needs_of("s3", "ListObjectsV2", {"Bucket": "b", "Prefix": "input/"}, "r", ACCOUNT)
    assert listed == [Need("s3:ListBucket", "arn:aws:s3:::b", {"s3:prefix": "input/"})]
    create = needs_of(
        "personalize",
        "CreateBatchInferenceJob",
        {"jobName": "j", "solutionVersionArn": "arn:sv", "roleArn": "arn:role", "tags": [{"tagKey": "a"}]},
        "us-east-1",
        ACCOUNT,
    )
    job = f"arn:aws:personalize:us-east-1:{ACCOUNT}:batch-inference-job/j"
    assert [(n.action, n.resource) for n in create] == [
        ("personalize:CreateBatchInferenceJob", job),
        ("personalize:CreateBatchInferenceJob", "arn:sv"),
        ("personalize:TagResource", job),
        ("iam:PassRole", "arn:role"),
    ]
    assert create[-1].context == {"iam:PassedToService": "personalize.amazonaws.com"}


def test_a_call_with_no_mapping_is_refused_not_waved_through() -> None:
    with pytest.raises(Unmapped, match="s3:PutBucketPolicy"):
        needs_of("s3", "PutBucketPolicy", {"Bucket": "b"}, "r", ACCOUNT)


def test_condition_keys_are_case_insensitive_and_set_operators_follow_iam_on_a_missing_key() -> None:
    account = Need("s3:GetObject", "arn:aws:s3:::b/k", {"aws:PrincipalAccount": ACCOUNT})
    cased = role(allow("s3:*", "*", Condition={"StringEquals": {"AWS:PRINCIPALACCOUNT": ACCOUNT}}))
    assert decide(cased, account).allowed
    every = role(allow("s3:*", "*", Condition={"ForAllValues:StringEquals": {"aws:TagKeys": ["a"]}}))
    assert decide(every, Need("s3:GetObject", "arn:aws:s3:::b/k")).allowed  # vacuously true
    some = role(allow("s3:*", "*", Condition={"ForAnyValue:StringNotEquals": {"aws:TagKeys": ["a"]}}))
    assert not decide(some, Need("s3:GetObject", "arn:aws:s3:::b/k")).allowed


def test_a_deny_with_not_principal_binds_everyone_else() -> None:
    policy = [{"Effect": "Deny", "NotPrincipal": {"AWS": ROLE}, "Action": "s3:*", "Resource": "*"}]
    others = Principal(f"arn:aws:iam::{ACCOUNT}:role/other", (allow("s3:*", "*"),))
    assert not decide(others, Need("s3:GetObject", "arn:aws:s3:::b/k"), policy).allowed
    assert decide(role(allow("s3:*", "*")), Need("s3:GetObject", "arn:aws:s3:::b/k"), policy).allowed


def test_batches_qualifiers_and_calls_without_a_resource_map_as_aws_does() -> None:
    url = f"https://sqs.us-east-1.amazonaws.com/{ACCOUNT}/q"
    (batch,) = needs_of("sqs", "SendMessageBatch", {"QueueUrl": url}, "us-east-1", ACCOUNT)
    assert batch == Need("sqs:SendMessage", f"arn:aws:sqs:us-east-1:{ACCOUNT}:q")
    (invoke,) = needs_of("lambda", "Invoke", {"FunctionName": "f", "Qualifier": "live"}, "us-east-1", ACCOUNT)
    assert invoke.resource == f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:f:live"
    (partial,) = needs_of("lambda", "Invoke", {"FunctionName": f"{ACCOUNT}:function:f"}, "us-east-1", ACCOUNT)
    assert partial.resource == f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:f"
    with pytest.raises(Unmapped, match="dynamodb:ListTables"):
        needs_of("dynamodb", "ListTables", {}, "us-east-1", ACCOUNT)
