from __future__ import annotations

import io
from datetime import UTC, datetime
from unittest import mock

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.response import StreamingBody
from botocore.stub import Stubber

from batchrecs.adapters.eventbridge import MAX_ENTRIES, EventPublisher
from batchrecs.adapters.personalize import PersonalizeJobs
from batchrecs.adapters.s3 import S3Files
from batchrecs.errors import (
    CapacityExceeded,
    JobRefused,
    ObjectGone,
    PublishFailed,
    RecipeCannotBatch,
    UnusableSolutionVersion,
)
from batchrecs.events import InputFile, InputRejected
from batchrecs.execution import CreateJobRequest
from batchrecs.kinds import JobKind
from batchrecs.naming import split_uri
from batchrecs.recipes import RECIPES
from batchrecs.settings import JobSettings
from batchrecs.validation import Problem

SV = "arn:aws:personalize:us-east-1:123456789012:solution/movies/abc"
JOB = "arn:aws:personalize:us-east-1:123456789012:batch-inference-job/br-x"
REQUEST = CreateJobRequest.for_job(
    JobSettings(solution_version_arn=SV),
    job_name="br-x",
    role_arn="arn:aws:iam::123456789012:role/p",
    input_path="s3://in/input/x.jsonl",
    output_path="s3://out/output/br-x/",
)


def rejected(n: int) -> InputRejected:
    return InputRejected(
        input=InputFile(bucket="b", key=f"input/{n}", records=1),
        kind=None,
        error_count=1,
        errors=[Problem(line=1, field=None, message="bad")],
        report_key="r",
        rejected_at=datetime.now(UTC),
    )


def test_publisher_splits_into_batches_of_ten() -> None:
    events = boto3.client("events", region_name="us-east-1")
    with Stubber(events) as stub:
        for size in (MAX_ENTRIES, MAX_ENTRIES, 3):
            stub.add_response("put_events", {"FailedEntryCount": 0, "Entries": [{"EventId": "e"}] * size})
        EventPublisher(events, "bus", "batchrecs").publish(*(rejected(n) for n in range(23)))
        stub.assert_no_pending_responses()


def test_publisher_resends_only_refused_entries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("batchrecs.adapters.eventbridge.PARTIAL_BACKOFF_SECONDS", 0)
    events = boto3.client("events", region_name="us-east-1")
    with Stubber(events) as stub:
        stub.add_response(
            "put_events",
            {
                "FailedEntryCount": 1,
                "Entries": [
                    {"EventId": "1"},
                    {"ErrorCode": "InternalFailure", "ErrorMessage": "try again"},
                    {"EventId": "3"},
                ],
            },
        )
        details = [rejected(1), rejected(2), rejected(3)]
        second = details[1].model_dump_json(by_alias=True)
        stub.add_response(
            "put_events",
            {"FailedEntryCount": 0, "Entries": [{"EventId": "2"}]},
            {
                "Entries": [
                    {"EventBusName": "bus", "Source": "batchrecs", "DetailType": "Input Rejected", "Detail": second}
                ]
            },
        )
        EventPublisher(events, "bus", "batchrecs").publish(*details)
        stub.assert_no_pending_responses()


def test_publisher_raises_when_entries_stay_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("batchrecs.adapters.eventbridge.PARTIAL_BACKOFF_SECONDS", 0)
    events = boto3.client("events", region_name="us-east-1")
    with Stubber(events) as stub:
        for _ in range(5):
            stub.add_response(
                "put_events",
                {"FailedEntryCount": 1, "Entries": [{"ErrorCode": "InternalFailure", "ErrorMessage": "try again"}]},
            )
        with pytest.raises(PublishFailed, match="1 events refused after 5 tries"):
            EventPublisher(events, "bus", "batchrecs").publish(rejected(1))


def test_create_adopts_a_job_an_earlier_delivery_created() -> None:
    personalize = boto3.client("personalize", region_name="us-east-1")
    with Stubber(personalize) as stub:
        stub.add_client_error("create_batch_inference_job", "ResourceAlreadyExistsException")
        stub.add_response(
            "describe_batch_inference_job",
            {"batchInferenceJob": {"status": "CREATE IN_PROGRESS"}},
            {"batchInferenceJobArn": JOB},
        )
        created = PersonalizeJobs(personalize).create(REQUEST)
    assert (created.arn, created.status, created.adopted) == (JOB, "CREATE IN_PROGRESS", True)


def test_create_turns_the_quota_into_capacity_exceeded() -> None:
    personalize = boto3.client("personalize", region_name="us-east-1")
    with Stubber(personalize) as stub:
        stub.add_client_error("create_batch_inference_job", "LimitExceededException")
        with pytest.raises(CapacityExceeded):
            PersonalizeJobs(personalize).create(REQUEST)


@pytest.mark.parametrize(
    ("recipe", "kind"),
    [
        ("aws-user-personalization-v2", JobKind.USERS),
        ("aws-similar-items", JobKind.ITEMS),
        ("aws-personalized-ranking", JobKind.RANKING),
        ("some-future-recipe", None),
    ],
)
def test_recipe_kind(recipe: str, kind: JobKind | None) -> None:
    personalize = boto3.client("personalize", region_name="us-east-1")
    with Stubber(personalize) as stub:
        stub.add_response(
            "describe_solution_version", {"solutionVersion": {"recipeArn": f"arn:aws:personalize:::recipe/{recipe}"}}
        )
        found = PersonalizeJobs(personalize).recipe(SV)
        assert found is not None and (found.name, found.kind, found.known) == (recipe, kind, kind is not None)


def test_recipe_that_cannot_batch_raises() -> None:
    personalize = boto3.client("personalize", region_name="us-east-1")
    with Stubber(personalize) as stub:
        stub.add_response(
            "describe_solution_version",
            {"solutionVersion": {"recipeArn": "arn:aws:personalize:::recipe/aws-trending-now"}},
        )
        with pytest.raises(RecipeCannotBatch):
            PersonalizeJobs(personalize).recipe(SV)


def test_the_recipe_is_unknown_when_the_version_cannot_be_described_yet() -> None:
    personalize = boto3.client("personalize", region_name="us-east-1")
    with Stubber(personalize) as stub:
        stub.add_client_error("describe_solution_version", "AccessDeniedException")
        assert PersonalizeJobs(personalize).recipe(SV) is None


def test_a_throttled_describe_is_raised_for_a_retry_and_a_version_in_training_is_unusable() -> None:
    """A throttle (after botocore's own retries) is not a verdict: the drop is retried, never routed on a guess.
    A version that is not ACTIVE cannot run a batch job, whichever backend would run it."""
    personalize = boto3.client("personalize", region_name="us-east-1")
    jobs = PersonalizeJobs(personalize)
    with Stubber(personalize) as stub:
        stub.add_client_error("describe_solution_version", "ThrottlingException")
        with pytest.raises(ClientError, match="ThrottlingException"):
            jobs.recipe(SV)
        training = {"recipeArn": "arn:aws:personalize:::recipe/aws-sims", "status": "CREATE PENDING"}
        stub.add_response("describe_solution_version", {"solutionVersion": training})
        with pytest.raises(UnusableSolutionVersion, match="is CREATE PENDING, not ACTIVE"):
            jobs.recipe(SV)
        stub.add_response("describe_solution_version", {"solutionVersion": training | {"status": "ACTIVE"}})
        assert jobs.recipe(SV) == RECIPES["aws-sims"]  # not cached while it was training


def test_list_solution_versions_reads_every_page_and_keeps_each_versions_time() -> None:
    personalize = boto3.client("personalize", region_name="us-east-1")
    solution = SV.rsplit("/", 1)[0]
    made = datetime(2026, 12, 1, tzinfo=UTC)
    first = {
        "solutionVersionArn": f"{solution}/b",
        "status": "ACTIVE",
        "trainingMode": "FULL",
        "creationDateTime": made,
    }
    second = {"solutionVersionArn": f"{solution}/a", "status": "CREATE FAILED"}  # creationDateTime is optional
    with Stubber(personalize) as stub:
        stub.add_response(
            "list_solution_versions", {"solutionVersions": [first], "nextToken": "t"}, {"solutionArn": solution}
        )
        stub.add_response(
            "list_solution_versions", {"solutionVersions": [second]}, {"solutionArn": solution, "nextToken": "t"}
        )
        versions = PersonalizeJobs(personalize).solution_versions(solution)
        stub.assert_no_pending_responses()
    assert [(v.arn.rsplit("/", 1)[-1], v.status, v.training_mode) for v in versions] == [
        ("b", "ACTIVE", "FULL"),
        ("a", "CREATE FAILED", None),
    ]
    assert versions[0].created == made and versions[1].created < made
    with Stubber(personalize) as stub:
        stub.add_client_error("list_solution_versions", "ResourceNotFoundException")
        with pytest.raises(UnusableSolutionVersion, match=f"solution {solution} does not exist"):
            PersonalizeJobs(personalize).solution_versions(solution)


def test_a_solution_version_that_does_not_exist_is_unusable() -> None:
    personalize = boto3.client("personalize", region_name="us-east-1")
    with Stubber(personalize) as stub:
        stub.add_client_error("describe_solution_version", "ResourceNotFoundException")
        with pytest.raises(UnusableSolutionVersion, match="does not exist"):
            PersonalizeJobs(personalize).recipe(SV)


@pytest.mark.parametrize("code", ["InvalidInputException", "ResourceNotFoundException", "TooManyTagsException"])
def test_permanent_create_errors_are_refusals_not_retries(code: str) -> None:
    personalize = boto3.client("personalize", region_name="us-east-1")
    with Stubber(personalize) as stub:
        stub.add_client_error("create_batch_inference_job", code, "bad")
        with pytest.raises(JobRefused, match=code):
            PersonalizeJobs(personalize).create(REQUEST)


def test_a_deleted_version_is_gone() -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    with Stubber(s3) as stub:
        stub.add_client_error("head_object", "404", http_status_code=404)
        with pytest.raises(ObjectGone):
            S3Files(s3).head("b", "input/k.jsonl", "v1")


def test_the_recipe_is_cached_per_solution_version() -> None:
    personalize = boto3.client("personalize", region_name="us-east-1")
    jobs = PersonalizeJobs(personalize)
    with Stubber(personalize) as stub:
        stub.add_response(
            "describe_solution_version", {"solutionVersion": {"recipeArn": "arn:aws:personalize:::recipe/aws-sims"}}
        )
        assert jobs.recipe(SV) == RECIPES["aws-sims"]
        assert jobs.recipe(SV) == RECIPES["aws-sims"]  # a second call would find no stubbed response
        stub.assert_no_pending_responses()


def test_the_create_client_makes_one_attempt() -> None:
    # botocore counts LimitExceededException as throttling; queued creates must not sleep through retries
    from batchrecs.adapters import ONE_ATTEMPT

    personalize = boto3.client("personalize", region_name="us-east-1", config=ONE_ATTEMPT)
    with Stubber(personalize) as stub:
        stub.add_client_error("create_batch_inference_job", "LimitExceededException", http_status_code=400)
        stub.add_response("create_batch_inference_job", {"batchInferenceJobArn": JOB})  # a retry would take this
        with pytest.raises(CapacityExceeded):
            PersonalizeJobs(personalize).create(REQUEST)


def test_redrive_of_a_deployed_stack_finds_each_queue_and_its_function(monkeypatch: pytest.MonkeyPatch) -> None:
    import json as json_module

    from batchrecs_local.template import Template
    from batchrecs_ops import redrive as redrive_module

    cloudformation = boto3.client("cloudformation", region_name="us-east-1")
    sqs = boto3.client("sqs", region_name="us-east-1")
    lambda_client = boto3.client("lambda", region_name="us-east-1")
    queue = "https://sqs.us-east-1.amazonaws.com/123456789012/batchrecs-SubmitFailures"
    event = {"Records": [{"s3": {"object": {"key": "input/x.jsonl"}}}]}
    with Stubber(cloudformation) as cfn, Stubber(sqs) as queue_stub, Stubber(lambda_client) as invoke:
        cfn.add_response(
            "describe_stack_resources",
            {
                "StackResources": [
                    {
                        "LogicalResourceId": n,
                        "PhysicalResourceId": p,
                        "ResourceType": "t",
                        "ResourceStatus": "CREATE_COMPLETE",
                        "Timestamp": datetime.now(UTC),
                    }
                    for n, p in (
                        ("SubmitFunction", "batchrecs-SubmitFunction-1"),
                        ("SubmitFailures", queue),
                        ("TrainFunction", "batchrecs-TrainFunction-1"),
                        ("TrainFailures", queue.replace("Submit", "Train")),
                    )
                ]
            },
        )
        # the wiring as CloudFormation holds it: the processed template (here, this checkout's, transformed)
        cfn.add_response(
            "get_template",
            {"TemplateBody": json_module.dumps(Template().document)},
            {"StackName": "batchrecs", "TemplateStage": "Processed"},
        )
        queue_stub.add_response(
            "receive_message",
            {
                "Messages": [
                    {"MessageId": "m1", "ReceiptHandle": "r1", "Body": json_module.dumps({"requestPayload": event})}
                ]
            },
        )
        answer = b'{"results": [{"outcome": "submitted"}]}'
        invoke.add_response(
            "invoke",
            {"StatusCode": 200, "Payload": StreamingBody(io.BytesIO(answer), len(answer))},
            {
                "FunctionName": "batchrecs-SubmitFunction-1",
                "InvocationType": "RequestResponse",  # run to its end: a failure keeps the message
                "Payload": json_module.dumps(event).encode(),
            },
        )
        queue_stub.add_response("delete_message", {}, {"QueueUrl": queue, "ReceiptHandle": "r1"})
        queue_stub.add_response("receive_message", {})
        queue_stub.add_response("receive_message", {}, {  # then TrainFailures, empty
            "QueueUrl": queue.replace("Submit", "Train"), "MaxNumberOfMessages": 10, "VisibilityTimeout": 300,
            "WaitTimeSeconds": 0,
        })  # fmt: skip
        clients = {"cloudformation": cloudformation, "sqs": sqs, "lambda": lambda_client}
        monkeypatch.setattr(boto3.session.Session, "client", lambda self, name, **_: clients[name])
        from batchrecs_ops.deployed import Deployed

        result = redrive_module.deployed(Deployed("batchrecs", region="us-east-1"))
    assert (result.delivered, result.kept) == (["input/x.jsonl"], [])


def test_queue_tickets_in_dynamodb_order_waiting_jobs_and_forget_the_stale() -> None:
    from moto import mock_aws

    from batchrecs.adapters.queue import QueueTickets

    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        dynamodb.create_table(
            TableName="jobs",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        tickets = QueueTickets(dynamodb, "jobs")
        assert [tickets.take() for _ in range(3)] == [1, 2, 3]
        assert tickets.waiting(stale_after=60) == 3 and tickets.ahead(3, stale_after=60) == 2
        tickets.leave(1)
        assert tickets.ahead(3, stale_after=60) == 1 and tickets.waiting(stale_after=60) == 2
        # A ticket that has not been renewed within stale_after no longer counts (here: all but the one renewed)
        assert tickets.ahead(3, stale_after=0.0001) == 0
        # and is removed from the item: only the renewed one is left
        item = dynamodb.get_item(TableName="jobs", Key=tickets.key)["Item"]
        assert set(item["waiting"]["M"]) == {"3"}


def test_the_ticket_item_is_bounded() -> None:
    from moto import mock_aws

    from batchrecs.adapters import queue
    from batchrecs.adapters.queue import QueueTickets

    with mock_aws(), mock.patch.object(queue, "MAX_WAITING", 3):
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        dynamodb.create_table(
            TableName="jobs",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        tickets = QueueTickets(dynamodb, "jobs")
        # Given the map full: no fourth ticket (the job queues without one), until one leaves
        assert [tickets.take() for _ in range(4)] == [1, 2, 3, None]
        tickets.leave(2)
        assert tickets.take() == 4
        # and at the real bound, the item stays under DynamoDB's 400 KB
    entry = len('"9999999"') + len('{"N": "1733456789.123"}')
    assert queue.MAX_WAITING * entry < 400_000


def test_split_uri_is_the_one_s3_uri_parser() -> None:
    assert split_uri("s3://out/output/br-x/users.jsonl.out") == ("out", "output/br-x/users.jsonl.out")
    assert split_uri("s3://bucket") == ("bucket", "")
    with pytest.raises(ValueError, match="not an S3 URI"):
        split_uri("out/output/users.jsonl.out")
