"""The polling policy meets its bounds over job durations from 15 minutes to 6 hours."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from batchrecs.execution import Polling, polling_schedule
from batchrecs_local.polling import simulate


@given(duration=st.integers(15 * 60, 6 * 3600))
def test_describe_calls_and_detection_latency_stay_within_bounds(duration: int) -> None:
    outcome = simulate(duration)
    assert outcome.describes_per_hour <= 40
    assert outcome.latency <= outcome.allowed_latency


def test_schedule_grows_with_elapsed_time_and_is_capped() -> None:
    waits = polling_schedule(first_wait=720, minimum=60, maximum=1800, growth_percent=5, horizon=7 * 86_400)
    assert waits[0] == 60 and max(waits) == 1800
    assert waits == sorted(waits)
    assert 720 + sum(waits) > 7 * 86_400


def test_execution_input_schedule_outlasts_the_maximum_duration() -> None:
    polling = Polling.adaptive(first_wait=720, minimum=60, maximum=1800, growth_percent=5, max_seconds=86_400)
    # the state machine reads schedule[index] after each wait; it must never run past the end before timing out
    elapsed, index = polling.elapsed_seconds, 0
    interval = polling.interval_seconds
    while elapsed < polling.max_seconds:
        elapsed += interval
        interval = polling.schedule[index]
        index += 1
    assert index <= len(polling.schedule)
