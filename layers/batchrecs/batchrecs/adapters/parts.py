"""What each folder drop included, in the jobs table: one item per part version that a folder's run took in
(``part#<bucket>/<key>#<ETag>``), and one per folder (``folder#<bucket>/<folder>``) saying which run is under
way and which ran last. A part's watch reads them to end the part once: included (its folder drop's events end
it), or not (its own Input Rejected, naming the folder's job that started without it)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from batchrecs.ports import FolderState

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

QUOTE = '"'
PART_PREFIX = "part#"
FOLDER_PREFIX = "folder#"
_BATCH_WRITE = 25
_BATCH_GET = 100


class FolderRecords:
    def __init__(self, dynamodb: DynamoDBClient, table: str, keep_seconds: int) -> None:
        self.dynamodb = dynamodb
        self.table = table
        self.keep_seconds = keep_seconds
        """How long the items live (TTL): longer than any part's wait for its marker."""

    def begin_run(self, bucket: str, folder: str, drop_id: str) -> None:
        """A folder's run is about to list and read its parts: parts' watches wait for it to record them."""
        values = {":drop": {"S": drop_id}, ":now": {"N": f"{time.time():.3f}"}}
        self._set(bucket, folder, "runningDrop = :drop, runningSince = :now", values)

    def record(self, bucket: str, folder: str, parts: list[tuple[str, str]], drop_id: str) -> None:
        """The run of ``drop_id`` took in ``parts`` (key, ETag): whatever it becomes, their end is its."""
        expires = {"N": str(int(time.time()) + self.keep_seconds)}
        items = [
            {"id": {"S": part_id(bucket, key, etag)}, "dropId": {"S": drop_id}, "expiration": expires}
            for key, etag in parts
        ]
        for start in range(0, len(items), _BATCH_WRITE):
            pending: dict[str, Any] = {
                self.table: [{"PutRequest": {"Item": item}} for item in items[start : start + _BATCH_WRITE]]
            }
            for attempt in range(10):
                unprocessed = self.dynamodb.batch_write_item(RequestItems=pending).get("UnprocessedItems", {})
                if not unprocessed:
                    break
                pending = unprocessed
                time.sleep(min(1.0, 0.05 * 2**attempt))
            else:
                raise RuntimeError(f"DynamoDB left {len(pending[self.table])} part records unwritten")
        self._set(bucket, folder, "doneDrop = :drop", {":drop": {"S": drop_id}})

    def ran(self, bucket: str, folder: str, drop_id: str, jobs: list[str]) -> None:
        """The run of ``drop_id`` started ``jobs`` (none when its marker was rejected)."""
        self._set(
            bucket,
            folder,
            "doneDrop = :drop, doneJobs = :jobs",
            {":drop": {"S": drop_id}, ":jobs": {"L": [{"S": j} for j in jobs]}},
        )

    def _set(self, bucket: str, folder: str, expression: str, values: dict[str, Any]) -> None:
        self.dynamodb.update_item(
            TableName=self.table,
            Key={"id": {"S": f"{FOLDER_PREFIX}{bucket}/{folder}"}},
            UpdateExpression=f"SET {expression}, expiration = :expires",
            ExpressionAttributeValues={**values, ":expires": {"N": str(int(time.time()) + self.keep_seconds)}},
        )

    def included(self, bucket: str, parts: list[tuple[str, str]]) -> dict[tuple[str, str], str]:
        """Of ``parts`` (key, ETag), those a folder drop took in already, with that drop's id."""
        found: dict[tuple[str, str], str] = {}
        by_id = {part_id(bucket, key, etag): (key, etag) for key, etag in parts}
        for chunk in _chunks(list(by_id), _BATCH_GET):
            request: dict[str, Any] = {self.table: {"Keys": [{"id": {"S": i}} for i in chunk], "ConsistentRead": True}}
            while request:
                answer = self.dynamodb.batch_get_item(RequestItems=request)
                for item in answer.get("Responses", {}).get(self.table, []):
                    found[by_id[item["id"]["S"]]] = item["dropId"]["S"]
                request = answer.get("UnprocessedKeys") or {}
        return found

    def folder(self, bucket: str, folder: str) -> FolderState:
        item = self.dynamodb.get_item(
            TableName=self.table, Key={"id": {"S": f"{FOLDER_PREFIX}{bucket}/{folder}"}}, ConsistentRead=True
        ).get("Item", {})
        return FolderState(
            running_drop=item.get("runningDrop", {}).get("S"),
            running_since=float(item["runningSince"]["N"]) if "runningSince" in item else None,
            done_drop=item.get("doneDrop", {}).get("S"),
            done_jobs=tuple(job["S"] for job in item.get("doneJobs", {}).get("L", [])),
        )


def part_id(bucket: str, key: str, etag: str) -> str:
    return f"{PART_PREFIX}{bucket}/{key}#{etag.strip(QUOTE)}"


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
