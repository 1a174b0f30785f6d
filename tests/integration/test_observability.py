"""Alarms and the dashboard watch metrics the code really emits: the pipeline runs every outcome (self-hosted and
Personalize, succeeded and failed, rejected) in process, Powertools' EMF lines are read back, and every batchrecs
metric template.yaml alarms on or charts must be among them, with the same dimensions."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pytest

from batchrecs.observability import Metric
from batchrecs_local.stack import EventTap, LocalStack
from batchrecs_local.template import Template

NAMESPACE = "batchrecs"
Emitted = set[tuple[str, frozenset[tuple[str, str]]]]


def emitted_metrics(text: str) -> Emitted:
    """(metric name, dimensions) for every metric in Powertools' EMF lines."""
    found: Emitted = set()
    for line in text.splitlines():
        if '"_aws"' not in line:
            continue
        document = json.loads(line[line.index("{") :])
        for directive in document["_aws"]["CloudWatchMetrics"]:
            assert directive["Namespace"] == NAMESPACE
            for dimension_set in directive["Dimensions"]:
                dimensions = frozenset((name, str(document[name])) for name in dimension_set)
                found |= {(metric["Name"], dimensions) for metric in directive["Metrics"]}
    return found


def alarm_metrics(template: Template) -> list[tuple[str, str, frozenset[tuple[str, str]]]]:
    """(alarm, metric name, dimensions) for every batchrecs-namespace metric an alarm reads."""
    watched = []
    for logical in template.resources_of("AWS::CloudWatch::Alarm"):
        props = template.properties(logical)
        stats = [m["MetricStat"]["Metric"] for m in props.get("Metrics", []) if "MetricStat" in m]
        if "MetricName" in props:
            stats.append(props)
        assert stats, f"{logical} reads no metric"
        for metric in stats:
            if metric["Namespace"] == NAMESPACE:
                dimensions = frozenset((d["Name"], d["Value"]) for d in metric.get("Dimensions", []))
                watched.append((logical, metric["MetricName"], dimensions))
    return watched


def dashboard_metrics(template: Template) -> set[str]:
    body = template.resources["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"][0]
    widgets = json.loads(re.sub(r"\$\{[^}]+\}", "x", body))["widgets"]
    names = set()
    for widget in widgets:
        previous: list[Any] = []
        for row in widget["properties"].get("metrics", []):
            row = [*previous[: len(previous) - (len(row) - 1)], *row[1:]] if row[0] == "..." else row
            previous = [c for c in row if not isinstance(c, dict)]
            if previous[0] == NAMESPACE:
                names.add(previous[1])
    return names


@pytest.fixture
def ran_every_outcome(stack: LocalStack, tap: EventTap, sample: Path, capfd: pytest.CaptureFixture[str]) -> Emitted:
    s3, bucket = stack.client("s3"), stack.name("InputBucket")
    (training,) = stack.drop((sample / "interactions.csv").read_bytes(), "models/default/interactions.csv")
    assert training.error is None
    # A model whose file is not a model: jobs routed to it fail in ScoreFunction
    s3.put_object(Bucket=bucket, Key="models/broken/v1/model.npz", Body=b"not a model")
    s3.put_object(Bucket=bucket, Key="models/broken/latest.json", Body=b'{"version": "v1", "modelKey": '
                  b'"models/broken/v1/model.npz", "trainedAt": "2026-11-22T00:00:00Z"}')  # fmt: skip
    users = (sample / "users.jsonl").read_bytes()
    drops = {
        "input/small.jsonl": {},  # self-hosted, succeeds
        "input/unlucky.jsonl": {"scorer-model": "broken"},  # self-hosted, fails
        "input/large.jsonl": {"backend": "personalize"},  # Personalize, succeeds
        "input/doomed.jsonl": {"backend": "personalize"},  # Personalize, CREATE FAILED (the emulator's failures)
    }
    for key, metadata in drops.items():
        stack.drop(users, key, metadata)
    stack.drop(b"not json\n", "input/broken.jsonl")  # rejected
    ends = {"Job Succeeded", "Job Failed", "Input Rejected"}  # not Job Submitted, nor the training's Model Trained
    events = tap.collect(lambda es: sum(e["detail-type"] in ends for e in es) >= 5, timeout=60)
    outcomes = sorted((e["detail"]["backend"], e["detail-type"]) for e in events if "backend" in e["detail"])
    assert [o for o in outcomes if o[1] != "Job Submitted"] == [
        ("personalize", "Job Failed"),
        ("personalize", "Job Succeeded"),
        ("self-hosted", "Job Failed"),
        ("self-hosted", "Job Succeeded"),
    ]
    # JobOutcomeFunction gets the four jobs' events from its rule (Job Submitted and the terminal one of each), and
    # the rejected drop's Input Rejected
    deadline = time.monotonic() + 30
    while sum(i.function == "JobOutcomeFunction" for i in stack.invocations) < 9 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [i.error for i in stack.invocations if i.function == "JobOutcomeFunction"] == [None] * 9
    captured = capfd.readouterr()
    return emitted_metrics(captured.out + captured.err)


def test_each_alarm_is_tied_to_a_metric_the_code_emits(ran_every_outcome: Emitted, stack: LocalStack) -> None:
    watched = alarm_metrics(stack.template)
    assert {alarm for alarm, *_ in watched} >= {"JobsFailedAlarm", "InputsRejectedAlarm"}
    for alarm, name, dimensions in watched:
        assert (name, dimensions) in ran_every_outcome, f"{alarm} watches {name} {set(dimensions)}, never emitted"


def test_jobs_are_counted_by_backend_and_outcome(ran_every_outcome: Emitted) -> None:
    for metric in (Metric.JOBS_SUBMITTED, Metric.JOBS_SUCCEEDED, Metric.JOBS_FAILED, Metric.JOB_DURATION):
        for backend in ("personalize", "self-hosted"):
            assert (metric, frozenset({("service", "batchrecs"), ("backend", backend)})) in ran_every_outcome
    service = frozenset({("service", "batchrecs")})
    for metric in (Metric.INPUTS_REJECTED, Metric.RECORDS_VALIDATED, Metric.SCORING_DURATION, Metric.RECORDS_SCORED):
        assert (metric, service) in ran_every_outcome


def test_the_dashboard_charts_only_metrics_the_code_names() -> None:
    charted = dashboard_metrics(Template())
    assert charted <= {m.value for m in Metric}, charted - {m.value for m in Metric}
    assert {Metric.JOBS_SUCCEEDED, Metric.JOBS_FAILED, Metric.INPUTS_REJECTED} <= charted
