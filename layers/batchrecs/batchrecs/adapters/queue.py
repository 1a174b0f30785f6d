"""First in, first out for jobs queued behind Personalize's quota: tickets in the jobs table.

One item holds ``issued`` (the last ticket handed out) and ``waiting``, a map from each waiting ticket to when its
job last looked. A job may try CreateBatchInferenceJob only while fewer than ``window`` live tickets are older than
its own; a new drop queues behind live tickets even when a slot is free. A ticket whose job stopped looking (its
execution died, or a retried submission took a second one) goes stale after ``stale_after`` seconds and no longer
holds anyone back: the queue can slow down, never wedge.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

COUNTERS_ID = "capacity-queue"
"""The batch inference jobs' queue; batch segment jobs, under their own quota, queue apart (``-segment``)."""


class QueueTickets:
    def __init__(self, dynamodb: DynamoDBClient, table: str, queue: str = "inference") -> None:
        self.dynamodb = dynamodb
        self.table = table
        self.queue = queue
        self.key = {"id": {"S": COUNTERS_ID if queue == "inference" else f"{COUNTERS_ID}-{queue}"}}

    def for_type(self, job_type: str) -> QueueTickets:
        """The queue of one job type: each has its own Personalize quota, so its own first in, first out."""
        return self if job_type == self.queue else QueueTickets(self.dynamodb, self.table, job_type)

    def _update(self, expression: str, names: dict[str, str], values: dict[str, Any]) -> dict[str, Any]:
        updated = self.dynamodb.update_item(
            TableName=self.table,
            Key=self.key,
            UpdateExpression=expression,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
            ReturnValues="ALL_NEW",
        )
        attributes: dict[str, Any] = updated["Attributes"]
        return attributes

    def take(self) -> int:
        """The next ticket (1, 2, …): a job's place in the queue, live from now."""
        issued = self._update(
            "ADD issued :one SET waiting = if_not_exists(waiting, :empty)",
            {},
            {":one": {"N": "1"}, ":empty": {"M": {}}},
        )
        ticket = int(issued["issued"]["N"])
        self.ahead(ticket, stale_after=1)  # registers it
        return ticket

    def ahead(self, ticket: int, stale_after: float) -> int:
        """Say the job holding ``ticket`` is still waiting; return how many live tickets are older than it."""
        now = time.time()
        item = self._update("SET waiting.#t = :now", {"#t": str(ticket)}, {":now": {"N": f"{now:.3f}"}})
        return sum(1 for t in _live(item, now, stale_after) if t < ticket)

    def waiting(self, stale_after: float) -> int:
        """How many live tickets wait: a new job must queue behind them, not take a free slot first."""
        item = self.dynamodb.get_item(TableName=self.table, Key=self.key, ConsistentRead=True).get("Item", {})
        return len(_live(item, time.time(), stale_after))

    def leave(self, ticket: int) -> None:
        """The job holding ``ticket`` left the queue (created, or given up)."""
        self.dynamodb.update_item(
            TableName=self.table,
            Key=self.key,
            UpdateExpression="REMOVE waiting.#t",
            ExpressionAttributeNames={"#t": str(ticket)},
        )


def _live(item: dict[str, Any], now: float, stale_after: float) -> list[int]:
    waiting = item.get("waiting", {}).get("M", {})
    return [int(t) for t, seen in waiting.items() if now - float(seen["N"]) < stale_after]
