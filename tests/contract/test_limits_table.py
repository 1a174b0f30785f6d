"""docs/limits.md's table is batchrecs.limits' (the numbers AWS documents), and the code's bounds come from it."""

from __future__ import annotations

import re
from pathlib import Path

from batchrecs import limits
from batchrecs.execution import QUEUE_TRIES_MAX, queue_wait_floor

DOC = Path(__file__).resolve().parents[2] / "docs" / "limits.md"
DOCUMENTED = {
    # AWS's documented numbers, written out: a change to batchrecs.limits must be a change of AWS's quotas.
    ("Step Functions", "execution input"): 256 * 1024,
    ("Step Functions", "state input or output, Map results"): 256 * 1024,
    ("Step Functions", "execution history"): 25_000,
    ("Step Functions", "execution name"): 80,
    ("EventBridge", "PutEvents entry"): 256 * 1024,
    ("DynamoDB", "item"): 400 * 1024,
    ("Lambda", "asynchronous payload"): 256 * 1024,
    ("Lambda", "synchronous payload"): 6 * 1024 * 1024,
    ("Lambda", "environment variables"): 4 * 1024,
    ("S3", "object key"): 1024,
    ("S3", "bucket name"): 63,
}


def doc_rows() -> dict[tuple[str, str], tuple[int, str]]:
    rows = {}
    for line in DOC.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and re.fullmatch(r"\d+ \w+", cells[2]):
            value, unit = cells[2].split()
            rows[(cells[0], cells[1])] = (int(value), unit)
    return rows


def test_the_limits_are_the_documented_numbers() -> None:
    assert {(limit.service, limit.what): limit.value for limit in limits.LIMITS} == DOCUMENTED


def test_docs_limits_table_is_the_code_table() -> None:
    assert doc_rows() == {(limit.service, limit.what): (limit.value, limit.unit) for limit in limits.LIMITS}


def test_a_job_queued_for_seven_days_stays_inside_the_history() -> None:
    seven_days = 7 * 86_400
    tries = seven_days // queue_wait_floor(seven_days) + 1
    assert tries <= QUEUE_TRIES_MAX + 1
    assert tries * 9 < limits.STATES_HISTORY_EVENTS - 10_000  # the rest for polls (tests/integration: measured)


def test_an_entry_is_sized_as_eventbridge_sizes_it() -> None:
    # 14 bytes for Time, then the UTF-8 bytes of Source, DetailType, Detail and each resource
    assert limits.event_entry_size("s", "dt", "{}", ["arn"]) == 14 + 1 + 2 + 2 + 3
    assert limits.event_entry_size("s", "dt", '"é"') == 14 + 1 + 2 + 4
