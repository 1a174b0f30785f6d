"""The adapters and the fakes satisfy the same ports: a check for mypy, which reads tests/ (`make lint`), not a
pytest test. An adapter or a fake whose signature drifts from its Protocol in batchrecs.ports fails the lint."""

from __future__ import annotations

from typing import Any

from batchrecs.adapters.eventbridge import EventPublisher
from batchrecs.adapters.personalize import PersonalizeJobs
from batchrecs.adapters.queue import QueueTickets
from batchrecs.adapters.s3 import S3Files
from batchrecs.adapters.stepfunctions import JobExecutions
from batchrecs.ports import Executions, Files, Jobs, Publisher, SubmitPorts, Tickets
from tests.fakes import FakeExecutions, FakeFiles, FakePersonalize, FakePublisher, Fakes, FakeTickets


def fakes_are_ports() -> tuple[Files, Jobs, Executions, Publisher, Tickets, SubmitPorts]:
    return FakeFiles(), FakePersonalize(), FakeExecutions(), FakePublisher(), FakeTickets(), Fakes()


def adapters_are_ports(client: Any) -> tuple[Files, Jobs, Executions, Publisher, Tickets]:
    return (
        S3Files(client),
        PersonalizeJobs(client),
        JobExecutions(client, "arn:aws:states:us-east-1:123456789012:stateMachine:sm"),
        EventPublisher(client, "bus", "batchrecs"),
        QueueTickets(client, "jobs"),
    )
