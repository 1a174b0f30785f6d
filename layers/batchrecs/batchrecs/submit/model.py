"""What a submission is about and what it becomes: the drop (S3's notification), the version of it that was read,
and the result the handler returns."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig
from pydantic import Field

from batchrecs.model import WireModel
from batchrecs.naming import version_token

IDEMPOTENCY = IdempotencyConfig(expires_after_seconds=7 * 24 * 3600)
"""A week: far beyond S3's redelivery window, and the deterministic job name guards after that anyway."""
TIME_MARGIN_MS = 60_000
"""Validation stops this long before the function's deadline, leaving time to write the report and publish."""

QUEUED_STATUS = "QUEUED"
"""Job Submitted's status for a job waiting for Personalize's quota; its terminal event carries the jobArn."""
REFUSED_STATUS = "CREATE_REFUSED"
"""Job Submitted's and Job Failed's status for a job of a started drop that Personalize refused to create."""
SELF_HOSTED_STATUS = "CREATE PENDING"
"""Self-hosted jobs use Personalize's status words, so that subscribers handle one vocabulary."""


class Drop(WireModel):
    """One S3 ObjectCreated notification: the idempotency key of a submission."""

    bucket: str
    key: str
    version_id: str | None = None
    etag: str | None = None
    size: int = Field(default=0, ge=0)


@dataclass(frozen=True)
class DropVersion:
    """The version of a drop that was read (S3's HeadObject: the notification may name none), derived once: every
    name and key of its jobs comes from ``token``."""

    bucket: str
    key: str
    version_id: str | None
    etag: str

    @property
    def token(self) -> str:
        return version_token(self.version_id, self.etag)


class Outcome(StrEnum):
    SUBMITTED = "submitted"
    REJECTED = "rejected"
    IGNORED = "ignored"
    """A folder marker (a zero-byte key ending in "/", as the S3 console's "Create folder" makes): not a file."""
    WAITING = "waiting"
    """A folder drop's part: its watch ends it (included in a folder drop, or its own Input Rejected)."""
    SETTLING = "settling"
    """A folder's marker: the folder settles, then runs (``folder_drops``)."""


class SubmitResult(WireModel):
    """What one drop became. ``job_name`` and its ARNs are the drop's first job; ``jobs`` names every job (one per
    solution version compared), all sharing ``drop_id``."""

    outcome: Outcome
    drop_id: str | None = None
    jobs: list[str] = Field(default_factory=list)
    job_name: str | None = None
    job_arn: str | None = None
    execution_arn: str | None = None
    report_key: str | None = None
    adopted: bool = False
