"""The job ledger: one item per job in the jobs table, kept from the stack's own events.

JobOutcomeFunction records Job Submitted and the terminal event of every job, whichever backend ran it, so that
``batchrecs jobs`` can list jobs without reading the bus's archive. EventBridge delivers at least once and in no
set order, so every write is idempotent and order-proof:

- Job Submitted fills in the job only where nothing newer is there (``if_not_exists``);
- a terminal event sets the status, unless a later outcome (a redriven execution's) is recorded already.

The items share the table with Powertools' idempotency records and the quota queue; the ``ledger`` index (hash
``ledger``, range ``submittedAt``) holds only ledger items, so listing them reads nothing else, newest first.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from pydantic import Field

from batchrecs.events import (
    JOB_ENDS,
    DropJob,
    InputRejected,
    JobDetail,
    JobFailed,
    JobSubmitted,
    JobSucceeded,
    aws_time,
)
from batchrecs.fit import DROP_JOB_ATTRIBUTE
from batchrecs.model import WireModel

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

INDEX = "ledger"
PARTITION = "job"
"""The one value of the index's hash key: every ledger item, sorted by submittedAt."""
KEY_PREFIX = "job#"
DROP_PREFIX = "drop#"
REJECTED_PREFIX = "rejected#"
"""A rejected drop's item (``rejected#<bucket>/<key>#<version>``): no job, but listed among them, with its report."""
REJECTED = "REJECTED"
DROP_JOB = DROP_JOB_ATTRIBUTE
"""A drop item's attribute per ended job: ``job:<job name>``, holding its DropJob (fit.fit_problems sizes the item
before any job of the drop is created)."""
EVENT_ATTRIBUTES = {"Job Submitted": "submittedEvent", "Job Succeeded": "succeededEvent", "Job Failed": "failedEvent"}


class LedgerEvent(WireModel):
    detail_type: str
    time: str | None = None
    detail: dict[str, Any]


class LedgerEntry(WireModel):
    """One job as the ledger knows it: its latest detail, its status, and the events recorded for it; or a drop
    that was rejected (status REJECTED, no job: its report, and its first problem as the reason)."""

    job_name: str | None = Field(description="null for a rejected drop")
    status: str
    backend: str | None
    kind: str | None
    input: str = Field(description="s3://bucket/key of the dropped file")
    input_version: str | None = None
    submitted_at: str = Field(description="when the job was submitted, or the drop rejected")
    finished_at: str | None = None
    output: str | None
    failure_reason: str | None = None
    drop_id: str | None = None
    drop_jobs: int = Field(default=1, description="how many jobs the job's drop made (a folder, split or compare)")
    job_arn: str | None = None
    report: str | None = Field(default=None, description="a rejected drop's report, s3://bucket/key")
    events: list[LedgerEvent] = Field(default_factory=list)


class JobLedger:
    def __init__(self, dynamodb: DynamoDBClient, table: str, history_days: int = 90) -> None:
        self.dynamodb = dynamodb
        self.table = table
        self.history_days = history_days

    def _expires(self) -> str:
        """When an item written now expires (the table's TTL attribute): JobHistoryDays from now, in epoch seconds."""
        return str(int(time.time()) + self.history_days * 86_400)

    def record(self, detail_type: str, detail: JobDetail, time_: str | None = None) -> bool:
        """Record one event of a job. Returns False when a later outcome was recorded already (nothing changed)."""
        wire = detail.model_dump_json(by_alias=True)
        event = json.dumps({"time": time_, "detail": json.loads(wire)}, separators=(",", ":"))
        values: dict[str, Any] = {
            ":ledger": {"S": PARTITION},
            ":submitted": {"S": aws_time(detail.submitted_at)},
            ":job": {"S": wire},
            ":event": {"S": event},
            ":expires": {"N": self._expires()},
            ":key": {"S": detail.input.key},
            ":drop": {"S": detail.drop_id or detail.job_name},
        }
        names = {"#event": EVENT_ATTRIBUTES[detail_type], "#status": "status"}
        common = "ledger = :ledger, submittedAt = :submitted, inputKey = :key, #event = :event, expiration = :expires"
        common += ", dropId = :drop"
        condition = None
        if detail_type in JOB_ENDS:
            assert isinstance(detail, JobSucceeded | JobFailed)
            values[":status"] = {"S": detail.status}
            values[":finished"] = {"S": aws_time(detail.finished_at)}
            expression = f"SET {common}, #status = :status, job = :job, finishedAt = :finished"
            condition = "attribute_not_exists(finishedAt) OR finishedAt <= :finished"
        else:
            assert isinstance(detail, JobSubmitted)
            values[":status"] = {"S": detail.status}
            expression = f"SET {common}, #status = if_not_exists(#status, :status), job = if_not_exists(job, :job)"
        request: dict[str, Any] = {
            "TableName": self.table,
            "Key": {"id": {"S": KEY_PREFIX + detail.job_name}},
            "UpdateExpression": expression,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }
        if condition:
            request["ConditionExpression"] = condition
        try:
            self.dynamodb.update_item(**request)
        except self.dynamodb.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def reject(self, rejected: InputRejected, time_: str | None = None) -> None:
        """Record a rejected drop among the jobs (safe to repeat: a redelivery writes the same item)."""
        source = rejected.input
        version = source.version_id or "unversioned"
        event = {"time": time_, "detail": json.loads(rejected.model_dump_json(by_alias=True))}
        self.dynamodb.update_item(
            TableName=self.table,
            Key={"id": {"S": f"{REJECTED_PREFIX}{source.bucket}/{source.key}#{version}"}},
            UpdateExpression="SET ledger = :ledger, submittedAt = :at, inputKey = :key, #status = :status, "
            "rejected = :rejected, expiration = :expires",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={
                ":ledger": {"S": PARTITION},
                ":at": {"S": aws_time(rejected.rejected_at)},
                ":key": {"S": source.key},
                ":status": {"S": REJECTED},
                ":rejected": {"S": json.dumps(event, separators=(",", ":"))},
                ":expires": {"N": self._expires()},
            },
        )

    def end_drop_job(self, ended: JobSucceeded | JobFailed) -> list[DropJob] | None:
        """Record the end of one job of a drop that made several, in the drop's item; once every one of them has
        ended, return each job's outcome (to whichever delivery sees that, and to its retries); else None.

        Order-proof and safe to repeat: a job's end sets its own attribute (a redelivery sets the same), and the
        drop is complete when there are ``drop_jobs`` of them. Nothing is claimed: Drop Completed's exactly-once
        is its execution's name (``outcomes.record_event``).
        """
        assert ended.drop_id is not None
        item = self.dynamodb.update_item(
            TableName=self.table,
            Key={"id": {"S": DROP_PREFIX + ended.drop_id}},
            UpdateExpression="SET #job = :job, expected = :expected, expiration = :expires",
            ExpressionAttributeNames={"#job": DROP_JOB + ended.job_name},
            ExpressionAttributeValues={
                ":job": {"S": DropJob.of(ended).model_dump_json(by_alias=True)},
                ":expected": {"N": str(ended.drop_jobs)},
                ":expires": {"N": self._expires()},
            },
            ReturnValues="ALL_NEW",
        )["Attributes"]
        jobs = [DropJob.model_validate_json(value["S"]) for name, value in item.items() if name.startswith(DROP_JOB)]
        return jobs if len(jobs) >= ended.drop_jobs else None

    def jobs(
        self, limit: int | None = None, *, input_key: str | None = None, drop_id: str | None = None
    ) -> Iterator[LedgerEntry]:
        """Jobs and rejected drops, newest first, a page at a time; with ``input_key``, only those of drops of that
        key; with ``drop_id``, only the jobs of that drop."""
        query: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": INDEX,
            "KeyConditionExpression": "ledger = :ledger",
            "ExpressionAttributeValues": {":ledger": {"S": PARTITION}},
            "ScanIndexForward": False,
            "PaginationConfig": {"MaxItems": limit} if limit else {},
        }
        for attribute, value in (("inputKey", input_key), ("dropId", drop_id)):
            if value is not None:
                query["FilterExpression"] = f"{attribute} = :value"
                query["ExpressionAttributeValues"][":value"] = {"S": value}
        for page in self.dynamodb.get_paginator("query").paginate(**query):
            for item in page.get("Items", []):
                yield entry(item)

    def drop_job_names(self, drop_id: str) -> list[str]:
        """The names of a drop's jobs that have ended, from the drop's own item (kept for drops of several jobs)."""
        item = self.dynamodb.get_item(TableName=self.table, Key={"id": {"S": DROP_PREFIX + drop_id}}).get("Item", {})
        return sorted(name.removeprefix(DROP_JOB) for name in item if name.startswith(DROP_JOB))

    def job(self, name: str) -> LedgerEntry | None:
        item = self.dynamodb.get_item(TableName=self.table, Key={"id": {"S": KEY_PREFIX + name}}, ConsistentRead=True)
        return entry(item["Item"]) if "Item" in item else None


def entry(item: dict[str, Any]) -> LedgerEntry:
    """A ledger item as a LedgerEntry: the job's latest detail, with its recorded events in order."""
    if "rejected" in item:
        return rejected_entry(json.loads(item["rejected"]["S"]))
    job = json.loads(item["job"]["S"])
    events = []
    for detail_type, attribute in EVENT_ATTRIBUTES.items():
        if attribute in item:
            recorded = json.loads(item[attribute]["S"])
            events.append(LedgerEvent(detail_type=detail_type, time=recorded["time"], detail=recorded["detail"]))
    source = job["input"]
    return LedgerEntry(
        job_name=job["jobName"],
        status=item["status"]["S"],
        backend=job["backend"],
        kind=job["kind"],
        input=f"s3://{source['bucket']}/{source['key']}",
        input_version=source.get("versionId"),
        submitted_at=item["submittedAt"]["S"],
        finished_at=item.get("finishedAt", {}).get("S"),
        output=job["output"]["path"],
        failure_reason=job.get("failureReason"),
        drop_id=job.get("dropId"),
        drop_jobs=job.get("dropJobs") or 1,
        job_arn=job.get("jobArn"),
        events=events,
    )


def rejected_entry(event: dict[str, Any]) -> LedgerEntry:
    """A rejected drop as a LedgerEntry: no job; its first problem, and where its report is. Read field by field, as
    a job's item is, so that an item written by another version of the stack still lists."""
    detail = event["detail"]
    source = detail["input"]
    first = (detail.get("errors") or [{}])[0]
    where = f"line {first['line']}: " if first.get("line") else ""
    return LedgerEntry(
        job_name=None,
        status=REJECTED,
        backend=None,
        kind=detail.get("kind"),
        input=f"s3://{source['bucket']}/{source['key']}",
        input_version=source.get("versionId"),
        submitted_at=detail["rejectedAt"],
        finished_at=detail["rejectedAt"],
        output=None,
        failure_reason=f"{where}{first.get('message', '')} ({detail.get('errorCount', 1)} problem(s) in all)",
        report=f"s3://{source['bucket']}/{detail['reportKey']}",
        events=[LedgerEvent(detail_type="Input Rejected", time=event["time"], detail=detail)],
    )
