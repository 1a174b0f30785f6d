"""Simulation of the polling policy over job durations: Describe calls, state transitions and detection latency.

The schedule is the one SubmitFunction puts in the execution input (batchrecs.execution.polling_schedule); the count of
state transitions follows the ASL's loop (Wait, Count the wait, Describe job, Job finished? per poll).
"""

from __future__ import annotations

from dataclasses import dataclass

from batchrecs.execution import polling_schedule
from batchrecs.stack_settings import stack_default

TRANSITIONS_PER_POLL = 4
FIXED_TRANSITIONS = 6
"""Which backend?, Queued behind the quota?, the first Wait, and the ending: a Pass, putEvents and the end."""


@dataclass(frozen=True)
class Outcome:
    duration: int
    describes: int
    transitions: int
    latency: int

    @property
    def describes_per_hour(self) -> float:
        return self.describes / (self.duration / 3600)

    @property
    def transitions_per_hour(self) -> float:
        return self.transitions / (self.duration / 3600)

    @property
    def allowed_latency(self) -> float:
        return max(60.0, 0.05 * self.duration)


def simulate(
    duration: int,
    *,
    first_wait: int = stack_default("poll_first_wait_seconds"),
    minimum: int = stack_default("poll_interval_seconds"),
    maximum: int = stack_default("poll_max_interval_seconds"),
    growth_percent: int = stack_default("poll_growth_percent"),
    horizon: int = stack_default("max_job_seconds"),
) -> Outcome:
    """Poll a job that becomes ACTIVE after ``duration`` seconds; count until the first poll that sees it."""
    waits = polling_schedule(
        first_wait=first_wait, minimum=minimum, maximum=maximum, growth_percent=growth_percent, horizon=horizon
    )
    at, describes = first_wait, 1
    for wait in waits:
        if at >= duration:
            break
        at += wait
        describes += 1
    return Outcome(
        duration=duration,
        describes=describes,
        transitions=FIXED_TRANSITIONS + TRANSITIONS_PER_POLL * describes,
        latency=at - duration,
    )


DURATIONS = [15 * 60, 20 * 60, 30 * 60, 45 * 60, 3600, 2 * 3600, 3 * 3600, 4 * 3600, 6 * 3600]


def table(durations: list[int] = DURATIONS) -> str:
    rows = [
        "| job duration | Describe calls | per job-hour | transitions per job-hour | detection latency | allowed |",
        "|---|---|---|---|---|---|",
    ]
    for duration in durations:
        o = simulate(duration)
        rows.append(
            f"| {duration / 60:.0f} min | {o.describes} | {o.describes_per_hour:.1f} | "
            f"{o.transitions_per_hour:.0f} | {o.latency} s | {o.allowed_latency:.0f} s |"
        )
    return "\n".join(rows)


if __name__ == "__main__":
    print(table())
