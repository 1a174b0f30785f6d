"""First in, first out for jobs queued behind Personalize's quota: tickets in the jobs table.

Two counters in one item: ``issued`` (tickets handed out, in the order jobs were queued) and ``left`` (queued jobs
that have left the queue: created, or timed out). A job may try CreateBatchInferenceJob only while its ticket is
within ``window`` of the queue's head (``ticket <= left + window``): the oldest jobs take the slots that free up,
newcomers wait their turn. A job whose execution dies without leaving shrinks the window by one until other jobs'
QUEUE_TIMEOUTs move the head past it: the queue slows, it never stops.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

COUNTERS_ID = "capacity-queue"


class QueueTickets:
    def __init__(self, dynamodb: DynamoDBClient, table: str) -> None:
        self.dynamodb = dynamodb
        self.table = table

    def _add(self, counter: str) -> int:
        updated = self.dynamodb.update_item(
            TableName=self.table,
            Key={"id": {"S": COUNTERS_ID}},
            UpdateExpression="ADD #counter :one",
            ExpressionAttributeNames={"#counter": counter},
            ExpressionAttributeValues={":one": {"N": "1"}},
            ReturnValues="UPDATED_NEW",
        )
        return int(updated["Attributes"][counter]["N"])

    def take(self) -> int:
        """The next ticket (1, 2, …): a job's place in the queue."""
        return self._add("issued")

    def counts(self) -> tuple[int, int]:
        """(issued, left), read strongly consistent."""
        item = self.dynamodb.get_item(TableName=self.table, Key={"id": {"S": COUNTERS_ID}}, ConsistentRead=True)
        found = item.get("Item", {})
        return int(found.get("issued", {}).get("N", "0")), int(found.get("left", {}).get("N", "0"))

    def left(self) -> int:
        """How many queued jobs have left the queue so far."""
        return self.counts()[1]

    def waiting(self) -> int:
        """How many queued jobs are still waiting: a new job must queue behind them, not take a free slot first."""
        issued, left = self.counts()
        return max(0, issued - left)

    def leave(self) -> None:
        """A queued job left the queue (created, or given up): the head moves on."""
        self._add("left")
