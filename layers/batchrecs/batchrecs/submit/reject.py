"""A rejected drop: its report beside it under rejected/, its Input Rejected on the bus, and a count. Every
rejection of every kind of drop ends here, once (``DropRejected`` is caught in ``batchrecs.submit``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from batchrecs.errors import DropRejected
from batchrecs.events import EVENTS_SHOWN, InputFile, InputRejected
from batchrecs.layout import report_key
from batchrecs.observability import Metric, count, logger
from batchrecs.ports import SubmitPorts
from batchrecs.stack_settings import StackSettings
from batchrecs.submit.model import Drop, Outcome, SubmitResult
from batchrecs.validation import Problem, ValidationReport


def reject(drop: Drop, rejected: DropRejected, ports: SubmitPorts, stack: StackSettings) -> SubmitResult:
    """Write the report, publish Input Rejected, count it. Problems of the drop as a whole (its key, its settings)
    become report lines without a line number."""
    report = rejected.report
    if report is None:
        errors = [Problem(line=None, field=field, message=message) for field, message in rejected.problems]
        report = ValidationReport(
            file=drop.key, kind=rejected.kind, records=rejected.records, error_count=len(errors), errors=errors
        )
    version_id = rejected.version_id
    key = report_key(drop.key, version_id)
    document: dict[str, Any] = {"bucket": drop.bucket, "versionId": version_id, **report.to_wire()}
    ports.files.put_json(stack.input_bucket, key, document)
    ports.publisher.publish(
        InputRejected(
            input=InputFile(bucket=drop.bucket, key=drop.key, version_id=version_id, records=report.records),
            kind=report.kind,
            error_count=report.error_count,
            errors=report.errors[:EVENTS_SHOWN],
            report_key=key,
            rejected_at=datetime.now(UTC),
        )
    )
    count(Metric.INPUTS_REJECTED)
    logger.warning("input rejected", extra={"key": drop.key, "errors": report.error_count, "report": key})
    return SubmitResult(outcome=Outcome.REJECTED, report_key=key)


def guarded(drop: Drop, ports: SubmitPorts, stack: StackSettings, submit: Callable[[], SubmitResult]) -> SubmitResult:
    """``submit()``, or the rejection it raised, written."""
    try:
        return submit()
    except DropRejected as rejected:
        return reject(drop, rejected, ports, stack)
