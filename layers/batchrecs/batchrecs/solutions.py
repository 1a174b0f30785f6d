"""A solution named instead of one of its versions: which version a drop runs, decided once per drop, without I/O.

Solutions retrain by themselves (every 7 days by default), and Personalize updates a User-Personalization job's
new items only for the latest fully trained version (docs/personalize.md, "The latest version"): a pipeline that
pins a version ARN goes stale. ``solution-version-arn`` may therefore name a solution
(``arn:aws:personalize:…:solution/<name>``); SubmitFunction lists its versions (ListSolutionVersions) and runs the
newest ACTIVE one its ``solution-version-policy`` allows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

SOLUTION_ARN = re.compile(r"arn:aws[a-z-]*:personalize:[a-z0-9-]+:\d{12}:solution/[a-zA-Z0-9][a-zA-Z0-9_-]*")
"""A solution's ARN: ``…:solution/<name>``, where a version's is ``…:solution/<name>/<version id>``."""


def is_solution_arn(arn: str) -> bool:
    return SOLUTION_ARN.fullmatch(arn) is not None


def latest_alias(arn: str) -> str | None:
    """Why ``…/solution/<name>/latest`` is refused (Personalize has no such ARN), with the form that works."""
    if arn.endswith("/latest") and is_solution_arn(arn.removesuffix("/latest")):
        return (
            f"{arn} names no version: Personalize has no 'latest' alias; name the solution "
            f"({arn.removesuffix('/latest')}) to run its newest ACTIVE version"
        )
    return None


class SolutionVersionPolicy(StrEnum):
    """Which of a named solution's ACTIVE versions a drop runs: the newest whose training mode the policy allows."""

    FULL_OR_AUTOTRAIN = "full-or-autotrain"
    """The newest fully trained version, by hand (FULL) or by automatic training (AUTOTRAIN): not an UPDATE."""
    ANY = "any"
    """The newest ACTIVE version, UPDATE included."""
    FULL = "full"
    """The newest version trained FULL."""

    def allows(self, training_mode: str | None) -> bool:
        if self is SolutionVersionPolicy.ANY:
            return True
        modes = ("FULL",) if self is SolutionVersionPolicy.FULL else ("FULL", "AUTOTRAIN")
        return (training_mode or "FULL") in modes  # a version without a mode was trained in full


@dataclass(frozen=True)
class VersionSummary:
    """One of ListSolutionVersions' SolutionVersionSummary items, the fields a choice needs."""

    arn: str
    status: str
    training_mode: str | None
    created: datetime


def newest_version(versions: list[VersionSummary], policy: SolutionVersionPolicy) -> VersionSummary | None:
    """The newest ACTIVE version the policy allows (the list's order is not documented: by creation time)."""
    allowed = [v for v in versions if v.status == "ACTIVE" and policy.allows(v.training_mode)]
    return max(allowed, key=lambda v: v.created, default=None)


LISTED = 10
"""How many of a solution's versions a refusal lists (weekly retraining piles them up): the newest."""


def no_version(solution_arn: str, versions: list[VersionSummary], policy: SolutionVersionPolicy) -> str:
    """Why a named solution has no version to run, listing its newest versions."""
    newest = sorted(versions, key=lambda v: v.created, reverse=True)
    seen = ", ".join(f"{v.arn.rsplit('/', 1)[-1]} {v.status} {v.training_mode or 'FULL'}" for v in newest[:LISTED])
    if len(versions) > LISTED:
        seen += f" and {len(versions) - LISTED} older"
    return (
        f"solution {solution_arn} has no ACTIVE version that solution-version-policy {policy.value} allows "
        f"({seen or 'no versions at all'}): train one, or name a version"
    )
