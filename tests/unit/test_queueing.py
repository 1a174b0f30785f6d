"""The burst simulation's invariants: every file ends once, and no execution reaches Step Functions' limit."""

from __future__ import annotations

from batchrecs_local.queueing import STEP_FUNCTIONS_LIMIT, Stack, seniority, simulate


def test_a_burst_within_a_days_capacity_all_succeeds() -> None:
    burst = simulate(200)
    assert burst.outcomes == {"Job Succeeded": 200}
    assert burst.longest_execution < Stack().max_job_seconds + Stack().poll_max_interval


def test_a_burst_past_capacity_ends_every_file_once_and_never_reaches_the_step_functions_limit() -> None:
    for wait in (None, seniority):
        burst = simulate(1000) if wait is None else simulate(1000, wait=wait)
        assert sum(burst.outcomes.values()) == 1000
        assert burst.outcomes["QUEUE_TIMEOUT"] > 500  # said, with an event: never a silent loss
        # MaxJobSeconds, plus at most one polling interval (the check runs when a poll is due)
        assert burst.longest_execution <= Stack().max_job_seconds + Stack().poll_max_interval < STEP_FUNCTIONS_LIMIT


def test_even_the_longest_allowed_max_job_seconds_stays_under_the_limit() -> None:
    burst = simulate(400, Stack(max_job_seconds=604_800, capacity_retry_max_seconds=900))
    assert sum(burst.outcomes.values()) == 400
    assert burst.longest_execution < STEP_FUNCTIONS_LIMIT
