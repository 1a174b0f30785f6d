"""First in, first out for jobs queued behind Personalize's quota: tickets in the jobs table.

One item holds ``issued`` (the last ticket handed out) and ``waiting``, a map from each waiting ticket to when its
job last looked. A job may try CreateBatchInferenceJob only while fewer than ``window`` live tickets are older than
its own; a new drop queues behind live tickets even when a slot is free. A ticket whose job stopped looking (its
execution died, or a retried submission took a second one) goes stale after ``stale_after`` seconds and no longer
holds anyone back: the queue can slow down, never wedge.

The item is bounded: every ``ahead`` removes up to PRUNE stale tickets (each only if it was not renewed
meanwhile), and ``take`` hands out no ticket while MAX_WAITING are in the map. At about 30 bytes a ticket
(``"1234567": {"N": "1733456789.123"}`` as JSON; DynamoDB stores less), MAX_WAITING tickets are
under 320 KB of DynamoDB's 400 KB item. A job
that gets no ticket still queues: it tries to create with growing backoff (``CapacityRetry``), just not in line.
"""

from __future__ import annotations

import contextlib
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

MAX_WAITING = 10_000
"""Tickets the item holds at most: ten thousand jobs queued behind a quota of five is a day's work or more."""
PRUNE = 50
"""Stale tickets one ``ahead`` removes (one conditional write): it runs each time a queued job looks."""
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

    def take(self) -> int | None:
        """The next ticket (1, 2, …): a job's place in the queue, live from now; None while MAX_WAITING are out."""
        try:
            issued = self.dynamodb.update_item(
                TableName=self.table,
                Key=self.key,
                UpdateExpression="ADD issued :one SET waiting = if_not_exists(waiting, :empty)",
                ConditionExpression="attribute_not_exists(waiting) OR size(waiting) < :max",
                ExpressionAttributeValues={":one": {"N": "1"}, ":empty": {"M": {}}, ":max": {"N": str(MAX_WAITING)}},
                ReturnValues="ALL_NEW",
            )["Attributes"]
        except self.dynamodb.exceptions.ConditionalCheckFailedException:
            return None
        ticket = int(issued["issued"]["N"])
        self.ahead(ticket, stale_after=1)  # registers it
        return ticket

    def ahead(self, ticket: int, stale_after: float) -> int:
        """Say the job holding ``ticket`` is still waiting; return how many live tickets are older than it. Stale
        tickets seen on the way are removed."""
        now = time.time()
        item = self._update("SET waiting.#t = :now", {"#t": str(ticket)}, {":now": {"N": f"{now:.3f}"}})
        self._prune(item, now, stale_after, keep=str(ticket))
        return sum(1 for t in _live(item, now, stale_after) if t < ticket)

    def _prune(self, item: dict[str, Any], now: float, stale_after: float, keep: str) -> None:
        """Remove up to PRUNE stale tickets (never ``keep``, the caller's own, just renewed), each on condition
        that it was not renewed since it was read."""
        waiting = item.get("waiting", {}).get("M", {})
        stale = [(t, seen) for t, seen in waiting.items() if t != keep and now - float(seen["N"]) >= stale_after]
        stale = stale[:PRUNE]
        if not stale:
            return
        names = {f"#s{i}": t for i, (t, _) in enumerate(stale)}
        values = {f":s{i}": seen for i, (_, seen) in enumerate(stale)}
        # One renewed or removed meanwhile fails the condition: the next look prunes.
        with contextlib.suppress(self.dynamodb.exceptions.ConditionalCheckFailedException):
            self.dynamodb.update_item(
                TableName=self.table,
                Key=self.key,
                UpdateExpression="REMOVE " + ", ".join(f"waiting.#s{i}" for i in range(len(stale))),
                ConditionExpression=" AND ".join(f"waiting.#s{i} = :s{i}" for i in range(len(stale))),
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )

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
