from __future__ import annotations

import json
import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest
from aws_lambda_powertools.utilities.typing import LambdaContext

from batchrecs.create_job import create_queued_job
from batchrecs.errors import CapacityExceeded, SettingsError
from batchrecs.events import InputRejected, JobSubmitted
from batchrecs.execution import CapacityRetry, CreateJobRequest, CreateSegmentJobRequest, ExecutionInput
from batchrecs.kinds import JobKind
from batchrecs.paths import Paths
from batchrecs.plan import MAX_DROP_JOBS
from batchrecs.ports import CreatedJob
from batchrecs.recipes import RECIPES
from batchrecs.scoring import ModelLocation, Shard
from batchrecs.settings import JobSettings
from batchrecs.solutions import VersionSummary
from batchrecs.submit import IDEMPOTENCY, Drop, Outcome, submit_drop
from batchrecs.submit.versions import resolve_solutions
from tests.fakes import FakePersonalize, Fakes, FakeTickets, stack_settings

SV = "arn:aws:personalize:us-east-1:123456789012:solution/movies/abc"
STACK = stack_settings(job_defaults={"solution_version_arn": SV})


@pytest.fixture(autouse=True)
def _lambda_context(lambda_context: LambdaContext) -> None:
    IDEMPOTENCY.register_lambda_context(lambda_context)


@pytest.fixture
def ports() -> Fakes:
    return Fakes()


def drop(ports: Fakes, body: bytes, key: str = "input/users.jsonl", **metadata: str) -> Drop:
    ports.files.add("in", key, body, metadata)
    return Drop(bucket="in", key=key, version_id="v1", etag="e1", size=len(body))


def announced(ports: Fakes) -> JobSubmitted:
    """The Job Submitted the one started execution will publish (its first state publishes it)."""
    (started,) = ports.executions.started.values()
    execution = ExecutionInput.model_validate(started)
    return JobSubmitted(**dict(execution.event), status=execution.submitted.status)


def test_valid_drop_creates_a_job_starts_its_execution_and_says_so(ports: Fakes) -> None:
    # Given a valid users file with a metadata override
    the_drop = drop(ports, b'{"userId": "1"}\n{"userId": "2"}\n', **{"num-results": "10"})
    # When it is submitted
    result = submit_drop(the_drop, ports, STACK)
    # Then one job is created with the override, and its execution, named after it, will announce it
    assert result.outcome is Outcome.SUBMITTED
    (request,) = ports.personalize.requests
    assert request["numResults"] == 10
    # reading a job-scoped copy of the validated version, never the key a later upload could replace
    snapshot = f"snapshots/{result.job_name}/users.jsonl"
    assert request["jobInput"]["s3DataSource"]["path"] == f"s3://in/{snapshot}"
    assert ports.files.objects["in", snapshot] == ports.files.objects["in", "input/users.jsonl"]
    assert request["jobOutput"]["s3DataDestination"]["path"] == f"s3://out/output/{result.job_name}/"
    execution = ExecutionInput.model_validate(ports.executions.started[request["jobName"]])
    assert execution.event.output.files == [f"s3://out/output/{result.job_name}/users.jsonl.out"]
    assert execution.polling.elapsed_seconds == execution.polling.first_wait_seconds == STACK.poll_first_wait_seconds
    assert ports.publisher.published == []  # the execution publishes Job Submitted
    event = JobSubmitted(**dict(execution.event), status=execution.submitted.status)
    assert (event.kind, event.input.records, event.status) == (JobKind.USERS, 2, "CREATE PENDING")
    assert event.input.snapshot is not None
    assert (event.input.version_id, event.input.snapshot.key, event.input.snapshot.version_id) == (
        "v1",
        snapshot,
        "copy-of-v1",
    )


def test_bad_file_is_reported_beside_it_and_never_submitted(ports: Fakes) -> None:
    body = b"".join(b'{"userId": "%d"}\n' % n for n in range(6)) + b'{"userId": 7}\n'
    result = submit_drop(drop(ports, body, key="input/bad users.jsonl"), ports, STACK)
    assert result.outcome is Outcome.REJECTED
    assert ports.personalize.requests == []
    report = ports.files.reports["in", "rejected/input/bad users.jsonl.v1.report.json"]
    assert (report["errorCount"], report["errors"][0]["line"], report["records"]) == (1, 7, 7)
    (event,) = ports.publisher.published
    assert isinstance(event, InputRejected)
    assert event.errors[0].line == 7
    assert event.report_key == "rejected/input/bad users.jsonl.v1.report.json"


def test_input_rejected_carries_at_most_ten_errors(ports: Fakes) -> None:
    submit_drop(drop(ports, b"nope\n" * 30), ports, STACK)
    (event,) = ports.publisher.published
    assert isinstance(event, InputRejected)
    assert (event.error_count, len(event.errors)) == (30, 10)


def test_bad_metadata_is_rejected_naming_the_key(ports: Fakes) -> None:
    submit_drop(drop(ports, b'{"userId": "1"}\n', **{"num-results": "0", "color": "red"}), ports, STACK)
    (event,) = ports.publisher.published
    assert isinstance(event, InputRejected)
    assert sorted(e.field or "" for e in event.errors) == ["color", "num-results"]


def test_recipe_that_cannot_batch_is_rejected_up_front(ports: Fakes) -> None:
    ports = replace(ports, personalize=FakePersonalize(cannot_batch=True))
    submit_drop(drop(ports, b'{"userId": "1"}\n'), ports, STACK)
    (event,) = ports.publisher.published
    assert isinstance(event, InputRejected)
    assert "aws-trending-now" in event.errors[0].message


def test_recipe_kind_decides_how_records_are_read(ports: Fakes) -> None:
    ports = replace(ports, personalize=FakePersonalize("aws-sims"))
    submit_drop(drop(ports, b'{"userId": "1"}\n'), ports, STACK)
    (event,) = ports.publisher.published
    assert isinstance(event, InputRejected)
    assert event.kind is JobKind.ITEMS


def test_same_drop_twice_submits_once(ports: Fakes) -> None:
    the_drop = drop(ports, b'{"itemId": "1"}\n')
    first = submit_drop(the_drop, ports, STACK)
    second = submit_drop(the_drop, ports, STACK)
    assert first == second
    assert len(ports.personalize.requests) == 1
    assert len(ports.executions.started) == 1


def test_the_idempotency_records_keep_their_key_whatever_module_holds_the_code(ports: Fakes) -> None:
    # A deploy that moves the use case must find the records of drops in flight: the key was batchrecs.jobs's
    submit_drop(drop(ports, b'{"itemId": "1"}\n'), ports, STACK)
    (key,) = ports.idempotency_store.records
    assert key.startswith("test-func.batchrecs.jobs._submit#"), key


def test_a_redelivery_the_idempotency_store_cannot_match_adopts_the_job_and_counts_it_once(
    ports: Fakes, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a drop submitted from its S3 notification, then the same upload named without its version (the
    # payloads in events/, a hand-made redelivery): another idempotency key, the same object version
    the_drop = drop(ports, b'{"itemId": "1"}\n')
    first = submit_drop(the_drop, ports, STACK)
    second = submit_drop(the_drop.model_copy(update={"version_id": None}), ports, STACK)
    # Then it is one job, one execution, and one JobsSubmitted
    assert second.job_name == first.job_name and second.adopted
    assert len(ports.executions.started) == 1
    emitted = [line for line in capsys.readouterr().out.splitlines() if '"JobsSubmitted":[1.0]' in line]
    assert len(emitted) == 1


def test_a_new_version_of_the_same_key_is_a_new_job(ports: Fakes) -> None:
    the_drop = drop(ports, b'{"itemId": "1"}\n')
    first = submit_drop(the_drop, ports, STACK)
    second = submit_drop(the_drop.model_copy(update={"version_id": "v2"}), ports, STACK)
    assert first.job_name != second.job_name


def test_execution_input_is_json(ports: Fakes) -> None:
    result = submit_drop(drop(ports, b'{"userId": "1", "itemList": ["a"]}\n'), ports, STACK)
    started = ports.executions.started[str(result.job_name)]
    assert json.loads(json.dumps(started))["event"]["kind"] == "ranking"


def test_theme_generation_with_a_users_recipe_is_rejected(ports: Fakes) -> None:
    ports = replace(ports, personalize=FakePersonalize("aws-user-personalization"))
    metadata = {"batch-inference-job-mode": "THEME_GENERATION", "theme-item-name": "TITLE"}
    submit_drop(drop(ports, b'{"itemId": "1"}\n', **metadata), ports, STACK)
    (event,) = ports.publisher.published
    assert isinstance(event, InputRejected)
    assert "needs a Similar-Items solution version" in event.errors[0].message


def test_theme_generation_reads_items_in_jobs_of_at_most_100_records(ports: Fakes) -> None:
    # Given 250 items (blank lines among them) for THEME_GENERATION, whose jobs read at most 100 records
    metadata = {"batch-inference-job-mode": "THEME_GENERATION", "theme-item-name": "TITLE"}
    body = b"".join(b'{"itemId": "%d"}\n' % n + (b"\r\n" if n % 7 == 0 else b"") for n in range(250))
    # When it is dropped
    result = submit_drop(drop(ports, body, **metadata), ports, STACK)
    # Then it is split, not refused: three jobs of the drop, each reading its part, the parts together the file
    assert result.outcome is Outcome.SUBMITTED and ports.publisher.published == []
    events = [ExecutionInput.model_validate(started).event for started in ports.executions.started.values()]
    assert [event.input.records for event in events] == [100, 100, 50]
    assert {event.kind for event in events} == {JobKind.ITEMS} and {e.drop_id for e in events} == {result.drop_id}
    assert {event.drop_jobs for event in events} == {3} and result.jobs == [e.job_name for e in events]
    parts = [ports.files.objects["in", str(event.input.snapshot and event.input.snapshot.key)][0] for event in events]
    assert b"".join(parts) == body
    assert [part.count(b"itemId") for part in parts] == [100, 100, 50]
    assert [(e.split.first_line, e.split.last_line) for e in events if e.split] == [
        (1, body[: len(parts[0])].count(b"\n")),
        (body[: len(parts[0])].count(b"\n") + 1, body[: len(parts[0]) + len(parts[1])].count(b"\n")),
        (body[: len(parts[0]) + len(parts[1])].count(b"\n") + 1, body.count(b"\n")),
    ]
    assert [r["jobInput"]["s3DataSource"]["path"] for r in ports.personalize.requests] == [
        f"s3://in/{event.input.snapshot.key}" for event in events if event.input.snapshot
    ]


def test_a_drop_split_into_more_jobs_than_one_event_can_list_is_refused(ports: Fakes) -> None:
    metadata = {"batch-inference-job-mode": "THEME_GENERATION", "theme-item-name": "TITLE"}
    body = b"".join(b'{"itemId": "%d"}\n' % n for n in range(100 * MAX_DROP_JOBS + 1))
    submit_drop(drop(ports, body, **metadata), ports, STACK)
    (event,) = ports.publisher.published
    assert isinstance(event, InputRejected) and ports.executions.started == {}
    assert event.errors[0].message.startswith(f"{MAX_DROP_JOBS + 1:,} jobs ({MAX_DROP_JOBS + 1:,} parts)")


def test_a_file_over_the_part_size_is_split_on_line_boundaries(ports: Fakes) -> None:
    body = b"".join(b'{"userId": "%05d"}\n' % n for n in range(200_000))  # 3.8 MB
    result = submit_drop(drop(ports, body), ports, STACK.model_copy(update={"part_max_bytes": 1 << 20}))
    parts = [
        ports.files.objects["in", job.input.snapshot.key][0]
        for job in (ExecutionInput.model_validate(s).event for s in ports.executions.started.values())
        if job.input.snapshot
    ]
    assert len(result.jobs) == len(parts) == 4 and b"".join(parts) == body
    assert all(part.endswith(b"\n") and len(part) <= 1 << 20 for part in parts)
    assert max(map(len, parts)) - min(map(len, parts)) <= 2 * 21  # spread evenly, to within a line or two


MODEL = ModelLocation(bucket="in", key="models/default/abc/model.npz", version="abc")


def with_model(ports: Fakes, recipe: str = "aws-user-personalization") -> Fakes:
    """A trained scorer model, and a solution version of a recipe the scorer answers."""
    ports.files.models["default"] = MODEL
    ports.personalize.recipe_name = recipe
    return ports


def test_small_job_with_a_model_runs_self_hosted(ports: Fakes) -> None:
    result = submit_drop(drop(with_model(ports), b'{"userId": "1"}\n'), ports, STACK)
    assert ports.personalize.requests == []
    started = ports.executions.execution(result.job_name)
    assert (started.event.backend.value, started.event.job_arn, started.create) == ("self-hosted", None, None)
    # ScoreFunction's request: the validated snapshot, the model version, the one output file, the job's settings
    assert started.score is not None
    assert (started.score.input_key, started.score.input_version_id) == (
        f"snapshots/{result.job_name}/users.jsonl",
        "copy-of-v1",
    )
    assert (started.score.model, started.score.output_uri) == (MODEL, started.event.output.files[0])
    assert (started.score.kind, started.score.num_results) == (JobKind.USERS, STACK.job_defaults.get("num_results", 25))
    event = announced(ports)
    assert (event.backend.value, event.status) == ("self-hosted", "CREATE PENDING")
    assert event.model_version == MODEL.version  # the events name the model version the job runs on


@pytest.mark.parametrize(
    ("metadata", "records"),
    [
        ({"filter-arn": "arn:aws:personalize:us-east-1:123456789012:filter/f"}, 1),
        ({"item-exploration-config": '{"explorationWeight": "0.3"}'}, 1),
        ({"backend": "personalize"}, 1),
        ({}, 1_001),
    ],
    ids=["filter", "item-exploration", "explicit-personalize", "too-many-records"],
)
def test_what_the_scorer_cannot_honour_goes_to_personalize(
    metadata: dict[str, str], records: int, ports: Fakes
) -> None:
    body = b"".join(b'{"userId": "%d"}\n' % n for n in range(records))
    stack = STACK.model_copy(update={"small_job_max_records": 10, "self_hosted_max_records": 1_000})
    submit_drop(drop(with_model(ports), body, **metadata), ports, stack)
    (request,) = ports.personalize.requests
    event = announced(ports)
    assert event.backend.value == "personalize"
    assert request["jobName"] == event.job_name


BODIES = {
    JobKind.USERS: b'{"userId": "1"}\n',
    JobKind.ITEMS: b'{"itemId": "1"}\n',
    JobKind.RANKING: b'{"userId": "1", "itemList": ["1", "2"]}\n',
    JobKind.ITEM_AFFINITY: b'{"itemId": "1"}\n',
    JobKind.ITEM_ATTRIBUTES: b'{"itemAttributes": "ITEMS.genre = \\"comedy\\""}\n',
}


@pytest.mark.parametrize("recipe", sorted(RECIPES), ids=sorted(RECIPES))
def test_every_recipe_goes_where_its_row_says_and_the_events_say_why(recipe: str, ports: Fakes) -> None:
    """A small drop of each recipe's records, with a scorer model trained: the scorer answers exactly the recipes
    it models (and Popularity-Count without scores); every other one runs in Personalize, with the reason in its
    events; a recipe with no batch jobs is rejected, naming it."""
    row = RECIPES[recipe]
    with_model(ports, recipe)
    submit_drop(drop(ports, BODIES[row.kind or JobKind.USERS]), ports, STACK)
    if row.kind is None:
        (problem,) = rejection_of(ports).errors
        assert problem.message == f"recipe {recipe} cannot run batch inference jobs"
        return
    event = announced(ports)
    if row.answer is None:
        assert event.backend.value == "personalize" and event.backend_reasons is not None
        said = f"{row.kind} segment jobs run in Personalize" if row.kind.is_segment else f"recipe {recipe}: "
        assert event.backend_reasons[0] == (said if row.kind.is_segment else said + row.why_personalize)
        (request,) = ports.personalize.requests
        assert request["jobName"] == event.job_name
    else:
        (started,) = ports.executions.started.values()
        score = ExecutionInput.model_validate(started).score
        assert event.backend.value == "self-hosted" and event.backend_reasons is None and score is not None
        assert score.scorer_kind == ("popularity" if recipe == "aws-popularity-count" else row.kind.value)


def test_a_setting_the_recipe_does_not_take_is_refused_naming_the_recipe(ports: Fakes) -> None:
    with_model(ports, "aws-user-personalization-v2")
    submit_drop(drop(ports, BODIES[JobKind.USERS], **{"ranking-influence": '{"POPULARITY": 0.5}'}), ports, STACK)
    (problem,) = rejection_of(ports).errors
    assert (
        problem.field == "ranking-influence"
        and "recipe aws-user-personalization-v2 does not take it" in problem.message
    )
    assert "Semantic-Similarity's" in problem.message and ports.executions.started == {}


def test_semantic_similarity_takes_ranking_influence_and_runs_in_personalize(ports: Fakes) -> None:
    with_model(ports, "aws-semantic-similarity")
    body = BODIES[JobKind.ITEMS]
    submit_drop(drop(ports, body, key="input/items.jsonl", **{"ranking-influence": '{"FRESHNESS": 0.4}'}), ports, STACK)
    (request,) = ports.personalize.requests
    assert request["batchInferenceJobConfig"]["rankingInfluence"] == {"FRESHNESS": 0.4}
    assert announced(ports).backend.value == "personalize"


def test_without_a_model_jobs_go_to_personalize(ports: Fakes) -> None:
    submit_drop(drop(ports, b'{"userId": "1"}\n'), ports, STACK)
    event = announced(ports)
    assert event.backend.value == "personalize"


def test_explicit_self_hosted_that_cannot_be_honoured_is_refused_with_every_reason(ports: Fakes) -> None:
    metadata = {"backend": "self-hosted", "filter-arn": "arn:aws:personalize:us-east-1:123456789012:filter/f"}
    submit_drop(drop(ports, b'{"userId": "1"}\n', **metadata), ports, STACK)
    (event,) = ports.publisher.published
    assert isinstance(event, InputRejected)
    assert event.errors[0].field == "backend"
    assert "filters (filter-arn) run only in Personalize" in event.errors[0].message
    assert ports.personalize.requests == [] and ports.executions.started == {}


def test_a_drop_may_name_another_scorer_model(ports: Fakes) -> None:
    ports.files.models["movies"] = MODEL
    ports.personalize.recipe_name = "aws-user-personalization"
    submit_drop(drop(ports, b'{"userId": "1"}\n', **{"scorer-model": "movies"}), ports, STACK)
    event = announced(ports)
    assert event.backend.value == "self-hosted"


class FullPersonalize(FakePersonalize):
    """Personalize with its concurrency quota full for the next ``refusals`` creates."""

    def __init__(self, refusals: int) -> None:
        super().__init__()
        self.refusals = refusals

    def create(self, create: CreateJobRequest | CreateSegmentJobRequest) -> CreatedJob:
        if self.refusals:
            self.refusals -= 1
            raise CapacityExceeded("More than 5 jobs")
        return super().create(create)


def test_a_full_quota_queues_the_job_instead_of_failing(ports: Fakes) -> None:
    ports = replace(ports, personalize=FullPersonalize(refusals=1))
    result = submit_drop(drop(ports, b'{"userId": "1"}\n'), ports, STACK)
    event = announced(ports)
    assert (result.outcome, event.status, event.job_arn) == (Outcome.SUBMITTED, "QUEUED", None)
    started = ports.executions.execution(result.job_name)
    assert started.create is not None and started.create.job_name == result.job_name
    assert started.capacity is not None and started.capacity.attempt == 0


def test_create_queued_job_backs_off_with_jitter_then_creates(ports: Fakes) -> None:
    personalize = FullPersonalize(refusals=3)
    queued_ports = replace(ports, personalize=personalize)
    result = submit_drop(drop(queued_ports, b'{"userId": "1"}\n'), queued_ports, STACK)
    execution = ports.executions.execution(result.job_name)
    rng = random.Random(7)
    waits = []
    while execution.create is not None:
        execution = create_queued_job(execution, personalize, rng=rng)
        if execution.retry_in_seconds is not None:
            waits.append(execution.retry_in_seconds)
    assert len(waits) == 2  # the first refusal was SubmitFunction's; two more here, then created
    cap = STACK.capacity_retry_seconds
    assert all(1 <= wait <= min(STACK.capacity_retry_max_seconds, cap * 2 ** (n + 1)) for n, wait in enumerate(waits))
    assert execution.job.arn is not None and execution.job.arn.endswith(str(result.job_name))
    assert execution.event.job_arn == execution.job.arn
    # And the time queued counts towards MaxJobSeconds
    assert execution.polling.elapsed_seconds == STACK.poll_first_wait_seconds + sum(waits)


def test_full_jitter_stays_within_its_cap() -> None:
    capacity = CapacityRetry(base_seconds=60, max_seconds=900, attempt=10)
    waits = {capacity.next_wait(random.Random(seed)) for seed in range(200)}
    assert min(waits) >= 1 and max(waits) <= 900 and len(waits) > 50


def test_a_job_queued_past_max_job_seconds_ends_in_queue_timeout(ports: Fakes) -> None:
    personalize = FullPersonalize(refusals=1000)
    queued_ports = replace(ports, personalize=personalize)
    stack = STACK.model_copy(update={"max_job_seconds": 3600})
    result = submit_drop(drop(queued_ports, b'{"userId": "1"}\n'), queued_ports, stack)
    execution = ports.executions.execution(result.job_name)
    rng = random.Random(3)
    tries = 0
    while not execution.queue_timed_out:
        execution = create_queued_job(execution, personalize, rng=rng)
        tries += 1
        assert tries < 100
    assert execution.capacity is not None and execution.retry_in_seconds is None
    # It gave up before its queueing and its first wait could pass MaxJobSeconds
    assert execution.capacity.queued_seconds + STACK.poll_first_wait_seconds <= 3600


def test_folder_markers_are_ignored_with_a_log_line(ports: Fakes) -> None:
    # Given the zero-byte key the S3 console's "Create folder" makes under input/
    ports.files.add("in", "input/2026-12/", b"")
    marker = Drop(bucket="in", key="input/2026-12/", version_id="v1", etag="e", size=0)
    # When it is submitted, then nothing is rejected, submitted or published
    assert submit_drop(marker, ports, STACK).outcome is Outcome.IGNORED
    assert ports.publisher.published == [] and ports.files.reports == {}


def rejection(ports: Fakes) -> InputRejected:
    (event,) = ports.publisher.published
    assert isinstance(event, InputRejected)
    assert ports.personalize.requests == [] or ports.personalize.refusal
    assert ports.executions.started == {}
    return event


HOME = STACK.model_copy(update={"region": "us-east-1", "account_id": "123456789012"})


@pytest.mark.parametrize(
    ("metadata", "field", "says"),
    [
        ({"tags": '{"aws:team": "ml"}'}, "tags", "reserved by AWS"),
        ({"solution-version-arn": SV.replace("123456789012", "210987654321")}, "solution-version-arn", "210987654321"),
        ({"filter-arn": "arn:aws:personalize:eu-west-1:123456789012:filter/f"}, "filter-arn", "eu-west-1"),
        ({"kms-key-arn": "arn:aws:kms:us-east-1:999999999999:key/k"}, "kms-key-arn", "999999999999"),
    ],
)
def test_settings_personalize_would_refuse_are_rejected_up_front(
    ports: Fakes, metadata: dict[str, str], field: str, says: str
) -> None:
    result = submit_drop(drop(ports, b'{"userId": "1"}\n', **metadata), ports, HOME)
    assert result.outcome is Outcome.REJECTED
    (problem,) = rejection(ports).errors
    assert problem.field == field and says in problem.message


def test_a_solution_version_that_does_not_exist_is_rejected_not_retried(ports: Fakes) -> None:
    ports.personalize.missing = True
    assert submit_drop(drop(ports, b'{"userId": "1"}\n'), ports, HOME).outcome is Outcome.REJECTED
    (problem,) = rejection(ports).errors
    assert (problem.field, "does not exist" in problem.message) == ("solution-version-arn", True)


def test_a_version_deleted_before_it_was_read_is_rejected(ports: Fakes) -> None:
    gone = Drop(bucket="in", key="input/deleted.jsonl", version_id="v9", etag="e", size=10)
    assert submit_drop(gone, ports, HOME).outcome is Outcome.REJECTED
    (problem,) = rejection(ports).errors
    assert problem.field == "version" and "no longer exists" in problem.message


def test_a_create_personalize_refuses_for_good_is_rejected_with_its_reason(ports: Fakes) -> None:
    ports.personalize.refusal = "InvalidInputException"
    assert submit_drop(drop(ports, b'{"userId": "1"}\n'), ports, HOME).outcome is Outcome.REJECTED
    (problem,) = rejection(ports).errors
    assert problem.field == "personalize" and "InvalidInputException" in problem.message


def test_a_drop_too_slow_to_validate_in_time_is_rejected_saying_so(ports: Fakes) -> None:
    # Given a function with less time left than validation's margin
    result = submit_drop(drop(ports, b'{"userId": "1"}\n'), ports, STACK, remaining_ms=lambda: 1_000)
    # Then the drop is rejected with the reason, not left to time out into a dead letter
    assert result.outcome is Outcome.REJECTED
    (problem,) = rejection(ports).errors
    assert "time ran out" in problem.message


def test_queued_jobs_create_in_ticket_order(ports: Fakes) -> None:
    # Given a full quota and three drops queued behind it, holding tickets 1, 2 and 3, with a window of one
    tickets = FakeTickets()
    personalize = FullPersonalize(refusals=1)  # the first drop finds the quota full; the others queue behind it
    queued = replace(ports, personalize=personalize, tickets=tickets)
    stack = STACK.model_copy(update={"queue_window": 1})
    names = [
        submit_drop(drop(queued, b'{"userId": "1"}\n', key=f"input/{n}.jsonl"), queued, stack).job_name
        for n in range(3)
    ]
    executions = {n: ports.executions.execution(n) for n in names}
    assert [e.capacity.ticket if e.capacity else None for e in executions.values()] == [1, 2, 3]
    # When the third and second try first (a slot is free now), they wait their turn without calling Personalize
    calls = len(personalize.requests)
    for name in reversed(names[1:]):
        waiting = create_queued_job(executions[name], personalize, tickets)
        assert waiting.create is not None and waiting.retry_in_seconds is not None
        assert waiting.retry_in_seconds >= STACK.capacity_retry_seconds
    assert len(personalize.requests) == calls
    # And the first creates and moves the head on, so the second may then create
    first = create_queued_job(executions[names[0]], personalize, tickets)
    assert first.create is None and tickets.live == {2, 3}
    second = create_queued_job(executions[names[1]], personalize, tickets)
    assert second.create is None and tickets.live == {3}


def test_a_ticket_whose_job_died_holds_nobody_back(ports: Fakes) -> None:
    # Given tickets 1 and 2 queued with a window of one, and ticket 1's execution gone (it stopped looking)
    tickets = FakeTickets()
    personalize = FullPersonalize(refusals=1)
    queued = replace(ports, personalize=personalize, tickets=tickets)
    stack = STACK.model_copy(update={"queue_window": 1})
    names = [
        submit_drop(drop(queued, b'{"userId": "1"}\n', key=f"input/{n}.jsonl"), queued, stack).job_name
        for n in range(2)
    ]
    tickets.stale.add(1)
    # Then ticket 2 is in its turn, and creates
    second = ports.executions.execution(names[1])
    assert create_queued_job(second, personalize, tickets).create is None


def test_a_new_drop_queues_behind_waiting_jobs_even_when_a_slot_is_free(ports: Fakes) -> None:
    tickets = FakeTickets()
    tickets.take()  # one job waits already
    queued = replace(ports, tickets=tickets)
    result = submit_drop(drop(queued, b'{"userId": "1"}\n'), queued, STACK)
    assert ports.personalize.requests == []
    assert announced(queued).status == "QUEUED" and result.job_arn is None
    capacity = ports.executions.execution(result.job_name).capacity
    assert capacity is not None and capacity.ticket == 2


def test_exclude_seen_runs_self_hosted_and_is_never_dropped_on_the_way_to_personalize(ports: Fakes) -> None:
    # With a scorer model, the setting reaches the self-hosted job
    with_model(ports)
    result = submit_drop(drop(ports, b'{"userId": "1"}\n', **{"exclude-seen": "true"}), ports, STACK)
    started = ports.executions.execution(result.job_name)
    assert (started.event.backend.value, started.event.settings.exclude_seen) == ("self-hosted", True)
    # Sent to Personalize, which cannot honour it without a filter, it is refused, saying what to do instead
    metadata = {"exclude-seen": "true", "backend": "personalize"}
    refused = submit_drop(drop(ports, b'{"userId": "1"}\n', key="input/p.jsonl", **metadata), ports, STACK)
    assert refused.outcome is Outcome.REJECTED
    (problem,) = rejection_of(ports).errors
    assert problem.field == "exclude-seen" and "EXCLUDE filter" in problem.message


def rejection_of(ports: Fakes) -> InputRejected:
    (event,) = [e for e in ports.publisher.published if isinstance(e, InputRejected)]
    return event


def test_a_segment_drop_makes_a_segment_job_and_queues_as_one(ports: Fakes) -> None:
    # Given an Item-Affinity solution version, and Personalize's segment quota full for the first create
    personalize = FullPersonalize(refusals=1)
    personalize.recipe_name = "aws-item-affinity"
    tickets = FakeTickets()
    queued_ports = replace(ports, personalize=personalize, tickets=tickets)
    result = submit_drop(drop(queued_ports, b'{"itemId": "105"}\n'), queued_ports, STACK)
    # Then the job is a segment job, queued in the segment jobs' own queue, and its execution input carries the
    # CreateBatchSegmentJob request back unchanged (not read as an inference request)
    execution = ports.executions.execution(result.job_name)
    assert (execution.event.job_type.value, execution.event.kind) == ("segment", JobKind.ITEM_AFFINITY)
    assert type(execution.create) is CreateSegmentJobRequest
    assert tickets.live == set() and tickets.queues["segment"].live == {1}
    created = create_queued_job(execution, personalize, tickets)
    assert created.create is None and created.job.arn is not None and ":batch-segment-job/" in created.job.arn
    assert tickets.queues["segment"].live == set()


FANNED = STACK.model_copy(
    update={"small_job_max_records": 100, "shard_max_records": 1_000, "self_hosted_max_records": 100_000}
)


def users_file(records: int, blank_every: int = 0) -> bytes:
    return b"".join(
        (b"\r\n" if blank_every and n % blank_every == 0 else b"") + b'{"userId": "%d"}\r\n' % n for n in range(records)
    )


def test_a_self_hosted_job_over_small_job_max_records_is_fanned_out_in_byte_ranges_of_its_snapshot(
    ports: Fakes,
) -> None:
    body = users_file(3_500, blank_every=7)
    result = submit_drop(drop(with_model(ports), body), ports, FANNED)
    execution = ports.executions.execution(result.job_name)
    plan = execution.shards
    assert plan is not None and execution.score is not None and ports.personalize.requests == []
    assert plan.count == 4 and plan.manifest is not None and plan.items is None
    shards = [Shard.model_validate(item) for item in ports.files.reports["in", plan.manifest.key]]
    assert [shard.records for shard in shards] == [1_000, 1_000, 1_000, 500]
    # Contiguous ranges, each starting at a line's start, that together are the file byte for byte
    assert shards[0].start == 0 and shards[-1].end == len(body)
    assert all(a.end == b.start for a, b in pairwise(shards))
    assert all(body[shard.start - 1 : shard.start] == b"\n" for shard in shards[1:])
    lines = body.split(b"\n")
    for shard in shards:
        chunk = body[shard.start : shard.end]
        assert chunk == b"\n".join(lines[shard.first_line - 1 : shard.last_line]) + b"\n"
        assert shard.output_key.startswith(f"shards/{result.job_name}/") and not shard.output_key.startswith("output/")
    assert execution.event.shards == 4 and execution.event.backend.value == "self-hosted"
    assert plan.max_concurrency == FANNED.shard_concurrency and plan.tolerated_failure_percentage == 0


def test_the_shards_go_to_a_manifest_beside_the_snapshot_however_many(ports: Fakes) -> None:
    body = users_file(41_000)
    result = submit_drop(drop(with_model(ports), body), ports, FANNED)
    plan = ports.executions.execution(result.job_name).shards
    assert plan is not None and plan.items is None and plan.manifest is not None and plan.count == 41
    manifest = ports.files.reports["in", plan.manifest.key]
    assert plan.manifest.key.startswith("snapshots/") and plan.manifest.key.endswith(".shards.json")
    assert [item["index"] for item in manifest] == list(range(1, 42))
    assert manifest[-1]["end"] == len(body) and sum(item["records"] for item in manifest) == 41_000


def test_a_job_that_fits_one_shard_runs_in_one_score_function(ports: Fakes) -> None:
    result = submit_drop(drop(with_model(ports), users_file(900)), ports, FANNED)
    execution = ports.executions.execution(result.job_name)
    assert execution.shards is None and execution.score is not None and execution.event.shards is None


def test_over_self_hosted_max_records_goes_to_personalize_saying_why(ports: Fakes) -> None:
    stack = FANNED.model_copy(update={"self_hosted_max_records": 2_000})
    submit_drop(drop(with_model(ports), users_file(2_001)), ports, stack)
    assert announced(ports).backend.value == "personalize"
    refused = FANNED.model_copy(update={"self_hosted_max_records": 2_000})
    ports2 = type(ports)()
    submit_drop(drop(with_model(ports2), users_file(2_001), backend="self-hosted"), ports2, refused)
    (event,) = ports2.publisher.published
    assert isinstance(event, InputRejected)
    assert "2,001 records is more than SelfHostedMaxRecords (2,000)" in event.errors[0].message


def test_a_file_split_for_personalize_is_never_fanned_out(ports: Fakes) -> None:
    # Over PartMaxBytes (1 MiB here) but within SelfHostedMaxRecords: its parts are Personalize jobs
    stack = FANNED.model_copy(update={"part_max_bytes": 1 << 20})
    body = users_file(60_000)
    assert len(body) > 1 << 20
    submit_drop(drop(with_model(ports), body), ports, stack)
    started = [ports.executions.execution(name) for name in ports.executions.started]
    assert len(started) == 2 and all(e.shards is None and e.event.backend.value == "personalize" for e in started)


def test_without_a_model_a_large_file_is_validated_without_shard_cuts(ports: Fakes) -> None:
    result = submit_drop(drop(ports, users_file(3_000)), ports, FANNED)
    execution = ports.executions.execution(result.job_name)
    assert execution.shards is None and execution.event.backend.value == "personalize"


def test_an_explicit_self_hosted_drop_over_small_job_max_records_without_a_model_says_so(ports: Fakes) -> None:
    ports.personalize.recipe_name = "aws-user-personalization"
    submit_drop(drop(ports, users_file(3_000), backend="self-hosted"), ports, FANNED)
    (event,) = ports.publisher.published
    assert isinstance(event, InputRejected)
    assert "no scorer model 'default'" in event.errors[0].message and "limits" not in event.errors[0].message


def test_a_stack_default_the_recipe_does_not_take_is_left_out_not_refused(ports: Fakes) -> None:
    """A stack-wide ItemExplorationConfig is User-Personalization's: a Similar-Items drop on that stack runs
    without it (the drop did not ask for it), and a User-Personalization drop keeps it."""
    defaults = {**STACK.job_defaults, "item_exploration_config": {"explorationWeight": "0.3"}}
    stack = STACK.model_copy(update={"job_defaults": defaults})
    ports.personalize.recipe_name = "aws-sims"
    submit_drop(drop(ports, BODIES[JobKind.ITEMS], key="input/items.jsonl"), ports, stack)
    (request,) = ports.personalize.requests
    assert "itemExplorationConfig" not in (request.get("batchInferenceJobConfig") or {})
    ports.personalize.recipe_name = "aws-user-personalization"
    submit_drop(drop(ports, BODIES[JobKind.USERS], key="input/users.jsonl"), ports, stack)
    assert ports.personalize.requests[-1]["batchInferenceJobConfig"]["itemExplorationConfig"] == {
        "explorationWeight": "0.3"
    }


SOLUTION = "arn:aws:personalize:us-east-1:123456789012:solution/movies"


def three_versions() -> list[VersionSummary]:
    """An ACTIVE FULL version, a newer ACTIVE AUTOTRAIN, a newer ACTIVE UPDATE, and a newest one still training,
    listed out of order (ListSolutionVersions' order is not documented)."""
    made = datetime(2026, 12, 1, tzinfo=UTC)
    return [
        VersionSummary(f"{SOLUTION}/update", "ACTIVE", "UPDATE", made + timedelta(days=2)),
        VersionSummary(f"{SOLUTION}/full", "ACTIVE", "FULL", made),
        VersionSummary(f"{SOLUTION}/training", "CREATE PENDING", "AUTOTRAIN", made + timedelta(days=3)),
        VersionSummary(f"{SOLUTION}/auto", "ACTIVE", "AUTOTRAIN", made + timedelta(days=1)),
    ]


@pytest.mark.parametrize(
    ("policy", "runs"), [(None, "auto"), ("full-or-autotrain", "auto"), ("full", "full"), ("any", "update")]
)
def test_a_drop_naming_a_solution_runs_the_version_its_policy_picks_and_says_both(
    policy: str | None, runs: str, ports: Fakes
) -> None:
    ports.personalize.solutions[SOLUTION] = three_versions()
    metadata = {"solution-version-arn": SOLUTION} | ({"solution-version-policy": policy} if policy else {})
    submit_drop(drop(ports, BODIES[JobKind.USERS], **metadata), ports, STACK)
    (request,) = ports.personalize.requests
    assert request["solutionVersionArn"] == f"{SOLUTION}/{runs}"
    event = announced(ports)
    assert (event.solution_arn, event.settings.solution_version_arn) == (SOLUTION, f"{SOLUTION}/{runs}")
    assert ports.personalize.listed == [SOLUTION]  # resolved once for the drop


def test_a_compared_drop_resolves_its_solution_once_and_runs_one_version_throughout(ports: Fakes) -> None:
    ports.personalize.solutions[SOLUTION] = three_versions()
    other = "arn:aws:personalize:us-east-1:123456789012:solution/other/7"
    submit_drop(drop(ports, BODIES[JobKind.USERS], **{"solution-version-arn": f"{SOLUTION} {other}"}), ports, STACK)
    assert sorted(r["solutionVersionArn"] for r in ports.personalize.requests) == [f"{SOLUTION}/auto", other]
    assert ports.personalize.listed == [SOLUTION]


def test_a_solution_with_no_version_to_run_is_rejected_naming_it_and_what_it_has(ports: Fakes) -> None:
    ports.personalize.solutions[SOLUTION] = [
        v for v in three_versions() if v.status != "ACTIVE" or v.training_mode != "FULL"
    ]
    body = BODIES[JobKind.USERS]
    submit_drop(
        drop(ports, body, **{"solution-version-arn": SOLUTION, "solution-version-policy": "full"}), ports, STACK
    )
    (problem,) = rejection_of(ports).errors
    assert problem.field == "solution-version-arn" and f"solution {SOLUTION} has no ACTIVE version" in problem.message
    assert "update ACTIVE UPDATE" in problem.message and "training CREATE PENDING AUTOTRAIN" in problem.message
    assert ports.personalize.requests == []
    # A solution that does not exist is named too
    fresh = Fakes()
    submit_drop(drop(fresh, body, **{"solution-version-arn": f"{SOLUTION}-gone"}), fresh, STACK)
    (missing,) = rejection_of(fresh).errors
    assert f"solution {SOLUTION}-gone does not exist" in missing.message


def test_a_redelivery_that_resolves_to_a_newer_version_finds_the_jobs_already_made(ports: Fakes) -> None:
    """A compared drop's jobs are named after the solution the drop named, not the version it resolved to: a
    redelivery after a newer version appeared makes the same job names (and so adopts the jobs made)."""
    ports.personalize.solutions[SOLUTION] = three_versions()
    other = "arn:aws:personalize:us-east-1:123456789012:solution/other/7"
    each = JobSettings.merge_each(STACK.job_defaults, {"solution-version-arn": f"{SOLUTION} {other}"})
    first, named = resolve_solutions(each, ports)
    newer = VersionSummary(f"{SOLUTION}/newer", "ACTIVE", "FULL", datetime(2026, 12, 9, tzinfo=UTC))
    ports.personalize.solutions[SOLUTION] = [*three_versions(), newer]
    again, named_again = resolve_solutions(each, ports)
    assert {s.solution_version_arn for s in first} == {f"{SOLUTION}/auto", other}
    assert {s.solution_version_arn for s in again} == {f"{SOLUTION}/newer", other}
    names = Paths.of("in", "input/users.jsonl", "token", first, named=named).names
    assert Paths.of("in", "input/users.jsonl", "token", again, named=named_again).names == names


@pytest.mark.parametrize(
    ("metadata", "field", "said"),
    [
        ({"solution-version-arn": f"{SOLUTION}/latest"}, "solution-version-arn", "Personalize has no 'latest' alias"),
        ({"solution-version-policy": "any"}, "solution-version-policy", "applies to a solution"),
        ({"kind": "items"}, "kind", "recipe aws-user-personalization reads users records, not items"),
        ({"exclude-seen": "true", "backend": "self-hosted"}, "backend", "Popularity-Count gives every user the same"),
    ],
    ids=["latest", "policy-on-a-version", "kind-against-the-recipe", "popularity-exclude-seen"],
)
def test_what_the_recipe_or_the_solution_cannot_mean_is_refused_naming_why(
    metadata: dict[str, str], field: str, said: str, ports: Fakes
) -> None:
    with_model(ports, "aws-popularity-count" if "exclude-seen" in metadata else "aws-user-personalization")
    submit_drop(drop(ports, BODIES[JobKind.USERS], **metadata), ports, STACK)
    (problem,) = rejection_of(ports).errors
    assert problem.field == field and said in problem.message, problem
    assert ports.personalize.requests == [] and ports.executions.started == {}


def test_a_stack_wide_theme_mode_is_left_out_of_another_recipes_job_and_the_events_say_so(ports: Fakes) -> None:
    defaults = {**STACK.job_defaults, "job_mode": "THEME_GENERATION", "theme_item_name": "TITLE"}
    stack = STACK.model_copy(update={"job_defaults": defaults})
    ports.personalize.recipe_name = "aws-user-personalization"
    submit_drop(drop(ports, BODIES[JobKind.USERS]), ports, stack)
    (request,) = ports.personalize.requests
    assert request.get("batchInferenceJobMode", "BATCH_INFERENCE") == "BATCH_INFERENCE"
    assert "themeGenerationConfig" not in request
    event = announced(ports)
    assert event.settings_left_out == ["batch-inference-job-mode"] and event.settings.theme_item_name is None


def test_a_solution_and_its_own_version_are_refused_as_one_version_named_twice(ports: Fakes) -> None:
    """A solution resolving to a version the drop also names would make two jobs of one name (one execution, a
    drop that never completes): refused, as it was before scorer models could be compared."""
    ports.personalize.solutions[SOLUTION] = three_versions()
    each = JobSettings.merge_each(STACK.job_defaults, {"solution-version-arn": f"{SOLUTION} {SOLUTION}/auto"})
    with pytest.raises(SettingsError, match=r"names .*/auto twice \(once through its solution\)"):
        resolve_solutions(each, ports)
    # while two scorer models on one version are two jobs
    models = JobSettings.merge_each(STACK.job_defaults, {"scorer-model": "ease ials"})
    resolved, _ = resolve_solutions(models, ports)
    assert [s.scorer_model for s in resolved] == ["ease", "ials"]
    assert len(set(Paths.of("in", "input/users.jsonl", "token", resolved).names)) == 2
