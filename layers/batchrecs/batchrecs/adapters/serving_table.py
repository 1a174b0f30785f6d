"""The serving table in DynamoDB (issue 32, in progress): a generation's rows written by BatchWriteItem, every
unprocessed item sent again with exponential backoff and jitter (boto3's batch_writer resends them at once, with
no backoff, which AWS advises against); the pointer flipped by one conditional write; reads pinned to one
generation."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from batchrecs.serving import Pointer, ServingRow, pointer_key, row_key

BATCH = 25
"""BatchWriteItem's most items a call."""
MAX_ATTEMPTS = 12
BASE_DELAY = 0.05
MAX_DELAY = 5.0


class LoadFailed(RuntimeError):
    """A generation could not be written whole: the pointer stays where it was."""


class PointerMoved(RuntimeError):
    """Another load flipped the pointer first: this one's generation is not served."""


class ServingTable:
    def __init__(self, dynamodb: Any, table: str, *, sleep: Callable[[float], None] = time.sleep) -> None:
        self.dynamodb = dynamodb
        self.table = table
        self.sleep = sleep

    def write(self, rows: Iterable[ServingRow], generation: str, drop_id: str, version: str | None) -> int:
        """Write every row of a generation; returns how many. Nothing is served until ``flip``."""
        written = 0
        batch: list[dict[str, Any]] = []
        for row in rows:
            batch.append({"PutRequest": {"Item": self._item(row, generation, drop_id, version)}})
            if len(batch) == BATCH:
                self._send(batch)
                written, batch = written + BATCH, []
        if batch:
            self._send(batch)
            written += len(batch)
        return written

    def _item(self, row: ServingRow, generation: str, drop_id: str, version: str | None) -> dict[str, Any]:
        key = row_key(row.space, row.id, generation)
        item: dict[str, Any] = {
            "pk": {"S": key["pk"]},
            "sk": {"S": key["sk"]},
            "items": {"L": [{"S": item} for item in row.items]},
            "dropId": {"S": drop_id},
        }
        if row.scores is not None:
            item["scores"] = {"L": [{"N": repr(score)} for score in row.scores]}
        if version is not None:
            item["version"] = {"S": version}
        return item

    def _send(self, batch: list[dict[str, Any]]) -> None:
        """One BatchWriteItem, and its unprocessed items again until none is left, backing off between tries."""
        pending: list[Any] = batch
        for attempt in range(MAX_ATTEMPTS):
            answer = self.dynamodb.batch_write_item(RequestItems={self.table: pending})
            pending = answer.get("UnprocessedItems", {}).get(self.table, [])
            if not pending:
                return
            self.sleep(random.uniform(0, min(MAX_DELAY, BASE_DELAY * 2**attempt)))  # full jitter
        raise LoadFailed(f"{len(pending)} items still unprocessed after {MAX_ATTEMPTS} BatchWriteItem attempts")

    def flip(self, space: str, generation: str, drop_id: str, lines: int, expected: str | None) -> Pointer:
        """Serve ``generation`` from now on, if the pointer still names ``expected`` (None: no generation yet)."""
        pointer = Pointer(
            generation=generation,
            previous=expected,
            drop_id=drop_id,
            lines=lines,
            loaded_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        key = pointer_key(space)
        item = {
            "pk": {"S": key["pk"]},
            "sk": {"S": key["sk"]},
            "generation": {"S": generation},
            "dropId": {"S": drop_id},
            "lines": {"N": str(lines)},
            "loadedAt": {"S": pointer.loaded_at},
        }
        if expected is not None:
            item["previous"] = {"S": expected}
        condition = "attribute_not_exists(generation)" if expected is None else "generation = :expected"
        request: dict[str, Any] = {"TableName": self.table, "Item": item, "ConditionExpression": condition}
        if expected is not None:
            request["ExpressionAttributeValues"] = {":expected": {"S": expected}}
        try:
            self.dynamodb.put_item(**request)
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise PointerMoved(f"{space}: another load was served first (expected {expected})") from None
            raise
        return pointer

    def current(self, space: str) -> str | None:
        """The generation served now (a strongly consistent read: the flip is seen as soon as it is made)."""
        found = self.dynamodb.get_item(TableName=self.table, Key=_typed(pointer_key(space)), ConsistentRead=True)
        item = found.get("Item")
        return item["generation"]["S"] if item else None

    def get(self, space: str, ids: list[str]) -> dict[str, list[str]]:
        """The items served now for each id, all from one generation (the pointer read once)."""
        generation = self.current(space)
        if generation is None:
            return {}
        found: dict[str, list[str]] = {}
        for id_ in ids:
            item = self.dynamodb.get_item(TableName=self.table, Key=_typed(row_key(space, id_, generation))).get("Item")
            if item is not None:
                found[id_] = [entry["S"] for entry in item["items"]["L"]]
        return found


def _typed(key: dict[str, str]) -> dict[str, Any]:
    return {name: {"S": value} for name, value in key.items()}
