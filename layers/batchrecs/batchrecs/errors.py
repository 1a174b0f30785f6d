"""Every exception batchrecs raises on purpose, in one place: the use cases catch them by name without importing an
adapter, and a reader sees at once what can go wrong and what each failure means for a drop."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from batchrecs.kinds import JobKind
    from batchrecs.validation import ValidationReport

# The stack's configuration and a drop's settings


class SettingsError(ValueError):
    """A setting, from the stack or from an object's metadata, that Personalize would refuse."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{field}: {message}" for field, message in problems))


class StackSettingsError(ValueError):
    """The stack's own configuration is wrong: a parameter's value, not any drop's. It fails the invocation (the
    drop waits in the on-failure queue for a redrive once the stack is fixed) instead of rejecting the user's file
    for a setting the user never set."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("the stack is misconfigured: " + "; ".join(problems))


# Reading a drop


class ValidationStopped(Exception):
    """Validation ends early (an error budget spent, or the function's time running out): the drop is rejected with
    the problems found so far, and the reason."""


class ObjectGone(LookupError):
    """The dropped version is no longer there (deleted, or its version expired): nothing can ever be read."""


# Creating jobs


class CapacityExceeded(RuntimeError):
    """Personalize's concurrency quota is full (LimitExceededException) or it throttled the create: the job must
    be created later, by the state machine's backoff."""


class UnusableSolutionVersion(ValueError):
    """The solution version cannot serve this drop, whatever the retries: it does not exist here, or its recipe
    cannot batch."""


class RecipeCannotBatch(UnusableSolutionVersion):
    """The solution version's recipe has no batch inference (Trending-Now, Next-Best-Action)."""


class JobRefused(ValueError):
    """Personalize refused CreateBatchInferenceJob for a reason no retry changes (a bad setting, a missing resource,
    a missing permission): the drop is rejected with it, not retried into a dead letter."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        super().__init__(f"{code}: {message}")


class FirstJobRefused(ValueError):
    """Personalize refused the create of a drop's first job: nothing started, and the drop is rejected."""


# Announcing


class PublishFailed(RuntimeError):
    """Some entries were refused after botocore's retries; raised so that Lambda retries the invocation."""


# Rejecting a drop


class DropRejected(Exception):
    """A drop that cannot run: raised where the reason is found (its key, its settings, its records, Personalize's
    refusal of its first job), caught once, where its report is written and its Input Rejected published.

    ``problems`` are (field, message) pairs about the drop as a whole; ``report``, when validation found the
    problems, is its ValidationReport (lines and all). ``version_id`` is the version rejected."""

    def __init__(
        self,
        problems: list[tuple[str, str]] | None = None,
        *,
        version_id: str | None,
        records: int = 0,
        kind: JobKind | None = None,
        report: ValidationReport | None = None,
    ) -> None:
        self.problems = problems or []
        self.version_id = version_id
        self.records = records
        self.kind = kind
        self.report = report
        said = "; ".join(message for _, message in self.problems)
        super().__init__(said or (f"{report.error_count} problems" if report is not None else "rejected"))
