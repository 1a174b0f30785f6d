"""The local stack's demo configuration: one solution version per kind (two, to compare), registered with the
emulator, and polling parameters short enough for a laptop."""

from __future__ import annotations

from typing import Any

from batchrecs_local import emulator
from batchrecs_local.template import ACCOUNT

DEMO_RECIPES = {
    "users": "arn:aws:personalize:::recipe/aws-user-personalization-v2",
    "items": "arn:aws:personalize:::recipe/aws-similar-items",
    "ranking": "arn:aws:personalize:::recipe/aws-personalized-ranking-v2",
    "item-affinity": "arn:aws:personalize:::recipe/aws-item-affinity",
    "item-attributes": "arn:aws:personalize:::recipe/aws-item-attribute-affinity",
    "popularity": "arn:aws:personalize:::recipe/aws-popularity-count",
    "semantic": "arn:aws:personalize:::recipe/aws-semantic-similarity",
}
"""The local stack's solution versions, one per kind, registered with the emulator (item-affinity and
item-attributes make segments), and two of recipes with their own semantics (docs/personalize.md): Popularity-Count
(users) and Semantic-Similarity (items, Personalize only)."""
FAST_PARAMETERS = {
    "PollFirstWaitSeconds": "1",
    "PollIntervalSeconds": "1",
    "CapacityRetrySeconds": "1",
    "CapacityRetryMaxSeconds": "2",
    # Queued jobs try at most QUEUE_TRIES_MAX times within MaxJobSeconds (Step Functions' history): ten minutes
    # lets the local stack's queue try every second, where a day's default would space tries a minute apart.
    "MaxJobSeconds": "600",
    "FolderSettleSeconds": "1",
    # A part that no marker includes is rejected after 36 s locally (tests that wait for it set less).
    "FolderMarkerWaitHours": "0.01",
}


LOCAL_VERSIONS = (1, 2)
"""Each kind's solution versions on the local stack: 1 is the default, 2 is there to compare against (the emulator
gives both one model, so their outputs match; on AWS, two versions' outputs differ)."""


def solution_version_arn(kind: str, region: str = "us-east-1", version: int = 1) -> str:
    return f"arn:aws:personalize:{region}:{ACCOUNT}:solution/batchrecs-local-{kind}/{version}"


def demo_emulator(region: str = "us-east-1", **settings: Any) -> emulator.EmulatorSettings:
    """The emulator's settings with the local stack's solution versions (two per kind) registered."""
    versions = {solution_version_arn(k, region, v): r for k, r in DEMO_RECIPES.items() for v in LOCAL_VERSIONS}
    # users' version 2 is emulated by iALS (version 1 by EASE, as the demo's catalogue calls for): a drop comparing
    # them has two versions that recommend differently, as two real ones do.
    settings.setdefault("algorithms", {solution_version_arn("users", region, 2): "ials"})
    return emulator.EmulatorSettings(solution_versions=versions, **settings)
