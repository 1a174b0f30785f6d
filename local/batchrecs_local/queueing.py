"""Simulation of a burst of drops queued behind Personalize's concurrency quota.

It runs the real policies: the first create in SubmitFunction, then CreateJobFunction's tries with
``CapacityRetry`` (its waits and its QUEUE_TIMEOUT rule), then the polling schedule of ``Polling.adaptive`` until
the job is seen done or MaxJobSeconds passes. Personalize is modelled as ``quota`` slots, each job holding one for
its duration. Every file ends in exactly one outcome; the question is how many end in QUEUE_TIMEOUT, how long the
longest execution runs (Step Functions stops a standard execution at 8 days, with no event), and how close to
first in, first out the queue drains.
"""

from __future__ import annotations

import heapq
import random
import statistics
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from batchrecs.execution import CapacityRetry, Polling
from batchrecs.stack_settings import stack_default

STEP_FUNCTIONS_LIMIT = 8 * 24 * 3600
"""The state machine's TimeoutSeconds (691,200): an execution stopped there publishes nothing."""


@dataclass(frozen=True)
class Stack:
    """The stack parameters the simulation needs (the stack's defaults, from StackSettings)."""

    quota: int = 5
    """Personalize's default quota of batch inference jobs pending or in progress."""
    poll_first_wait: int = stack_default("poll_first_wait_seconds")
    poll_interval: int = stack_default("poll_interval_seconds")
    poll_max_interval: int = stack_default("poll_max_interval_seconds")
    poll_growth_percent: int = stack_default("poll_growth_percent")
    max_job_seconds: int = stack_default("max_job_seconds")
    capacity_retry_seconds: int = stack_default("capacity_retry_seconds")
    capacity_retry_max_seconds: int = stack_default("capacity_retry_max_seconds")


@dataclass
class Burst:
    files: int
    outcomes: Counter[str] = field(default_factory=Counter)
    longest_execution: int = 0
    queue_waits: list[int] = field(default_factory=list)
    created_order: list[int] = field(default_factory=list)
    create_calls: int = 0

    @property
    def inversions(self) -> float:
        """Share of pairs of created jobs that were created in the opposite order to their drops."""
        order = self.created_order
        pairs = len(order) * (len(order) - 1) // 2
        if not pairs:
            return 0.0
        inverted = sum(1 for i in range(len(order)) for j in range(i + 1, len(order)) if order[i] > order[j])
        return inverted / pairs


Wait = Callable[[CapacityRetry, random.Random], int]


def growing(capacity: CapacityRetry, rng: random.Random) -> int:
    """The policy CreateJobFunction uses (CapacityRetry.next_wait): full jitter under a doubling cap."""
    return capacity.next_wait(rng)


def seniority(capacity: CapacityRetry, rng: random.Random) -> int:
    """The alternative measured against it: the cap starts at the maximum and halves with every try, so that a job
    queued long tries more often than a newcomer (equal jitter, uniform in [cap/2, cap])."""
    cap = max(capacity.base_seconds, capacity.max_seconds >> min(capacity.attempt, 32))
    return max(1, round(rng.uniform(cap / 2, cap)))


def simulate(
    files: int,
    stack: Stack = Stack(),
    *,
    seed: int = 0,
    drop_gap: float = 0.1,
    durations: tuple[int, int] = (13 * 60, 30 * 60),
    wait: Wait = growing,
    window: int | None = 5,
) -> Burst:
    """Drop ``files`` files ``drop_gap`` seconds apart and run every one to its end. ``window``: the ticket window
    (QueueWindow) that keeps the queue first in, first out; None for the unordered scramble."""
    rng = random.Random(seed)
    burst = Burst(files)
    polling = Polling.adaptive(
        first_wait=stack.poll_first_wait,
        minimum=stack.poll_interval,
        maximum=stack.poll_max_interval,
        growth_percent=stack.poll_growth_percent,
        max_seconds=stack.max_job_seconds,
    )
    running = 0
    issued = 0
    waiting: set[int] = set()  # live tickets (a simulated job never dies, so none goes stale)
    tickets: dict[int, int] = {}
    events: list[tuple[float, int, str, int]] = []  # (time, tiebreak, what, file)
    capacity: dict[int, CapacityRetry] = {}
    submitted: dict[int, float] = {}
    sequence = 0

    def push(time: float, what: str, file: int) -> None:
        nonlocal sequence
        sequence += 1
        heapq.heappush(events, (time, sequence, what, file))

    def start(file: int, now: float) -> None:
        nonlocal running
        running += 1
        burst.created_order.append(file)
        queued = capacity[file].queued_seconds if file in capacity else 0
        burst.queue_waits.append(round(now - submitted[file]))
        duration = rng.randint(*durations)
        push(now + duration, "end", file)
        # The execution polls from now on; what the job has left of MaxJobSeconds excludes its time queued.
        elapsed, polled_at, index = polling.elapsed_seconds + queued, now + polling.first_wait_seconds, 0
        interval = polling.interval_seconds
        while polled_at < now + duration and elapsed < polling.max_seconds:
            polled_at += interval
            elapsed += interval
            interval = polling.schedule[min(index, len(polling.schedule) - 1)]
            index += 1
        outcome = "Job Succeeded" if polled_at >= now + duration else "TIMED_OUT"
        burst.outcomes[outcome] += 1
        burst.longest_execution = max(burst.longest_execution, round(polled_at - submitted[file]))

    for file in range(files):
        push(file * drop_gap, "drop", file)
    while events:
        now, _, what, file = heapq.heappop(events)
        if what == "end":
            running -= 1
            continue
        if what == "drop":
            submitted[file] = now
        queued_behind = window is not None and what == "drop" and bool(waiting)  # SubmitFunction's check
        ahead = sum(1 for t in waiting if t < tickets[file]) if file in tickets else None
        turn = file not in capacity or capacity[file].in_turn(ahead)
        if turn and not queued_behind:
            burst.create_calls += 1
            if running < stack.quota:
                waiting.discard(tickets.get(file, 0))
                start(file, now)
                continue
        retry = capacity.setdefault(
            file,
            CapacityRetry(
                base_seconds=stack.capacity_retry_seconds,
                max_seconds=stack.capacity_retry_max_seconds,
                window=window or stack.quota,
            ),
        )
        if what == "drop":  # queued; the state machine's first CreateJobFunction try follows
            if window is not None:
                issued += 1
                tickets[file] = issued
                waiting.add(issued)
                retry = capacity[file] = retry.model_copy(update={"ticket": issued})
            push(now, "retry", file)
            continue
        delay = retry.wait_after(ahead, rng) if window is not None else wait(retry, rng)
        if retry.out_of_time(delay, polling):
            burst.outcomes["QUEUE_TIMEOUT"] += 1
            burst.longest_execution = max(burst.longest_execution, round(now - submitted[file]))
            waiting.discard(tickets.get(file, 0))
            continue
        capacity[file] = retry.model_copy(
            update={"attempt": retry.attempt + 1, "queued_seconds": retry.queued_seconds + delay}
        )
        push(now + delay, "retry", file)
    return burst


def report(sizes: tuple[int, ...] = (100, 300, 330, 340, 1000, 2000)) -> str:
    """The table docs/reliability.md records."""
    rows = [
        "| files | policy | succeeded | QUEUE_TIMEOUT | TIMED_OUT | longest execution (h) "
        "| median / p95 queue wait (h) | inverted pairs | create calls |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for files in sizes:
        for name, policy, window in (
            ("tickets, window 5", growing, 5),
            ("no order", growing, None),
            ("seniority", seniority, None),
        ):
            burst = simulate(files, wait=policy, window=window)
            waits = sorted(burst.queue_waits)
            p95 = waits[int(0.95 * (len(waits) - 1))] if waits else 0
            rows.append(
                f"| {files} | {name} | {burst.outcomes['Job Succeeded']} | {burst.outcomes['QUEUE_TIMEOUT']} "
                f"| {burst.outcomes['TIMED_OUT']} | {burst.longest_execution / 3600:.1f} "
                f"| {statistics.median(waits) / 3600 if waits else 0:.1f} / {p95 / 3600:.1f} "
                f"| {burst.inversions:.1%} | {burst.create_calls:,} |"
            )
    return "\n".join(rows)


if __name__ == "__main__":
    print(report())
