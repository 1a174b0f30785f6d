"""Publishing detail-types to the bus, refusing to lose an entry silently."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from batchrecs.errors import PublishFailed
from batchrecs.events import DETAIL_TYPES
from batchrecs.model import WireModel

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient

MAX_ENTRIES = 10
"""PutEvents accepts at most 10 entries per call."""


PARTIAL_RETRIES = 4
PARTIAL_BACKOFF_SECONDS = 0.1


class EventPublisher:
    def __init__(self, events: EventBridgeClient, bus_name: str, source: str) -> None:
        self.events = events
        self.bus_name = bus_name
        self.source = source

    def publish(self, *details: WireModel) -> None:
        """Publish each detail under the detail-type its model stands for."""
        types = {model: name for name, model in DETAIL_TYPES.items()}
        entries = [
            {
                "EventBusName": self.bus_name,
                "Source": self.source,
                "DetailType": types[type(d)],
                "Detail": d.model_dump_json(by_alias=True),
            }
            for d in details
        ]
        for start in range(0, len(entries), MAX_ENTRIES):
            self._put(entries[start : start + MAX_ENTRIES])

    def _put(self, batch: list[dict[str, str]]) -> None:
        """PutEvents, resending only the refused entries. botocore retries throttled calls, but a partial failure
        is a 200 answer it never retries, so this loop does, with backoff; then the caller's retries take over."""
        for attempt in range(PARTIAL_RETRIES + 1):
            response = self.events.put_events(Entries=batch)  # type: ignore[arg-type]
            if not response.get("FailedEntryCount", 0):
                return
            refused = [entry for entry, result in zip(batch, response["Entries"], strict=True) if "ErrorCode" in result]
            if attempt == PARTIAL_RETRIES:
                errors = [result for result in response["Entries"] if "ErrorCode" in result]
                raise PublishFailed(f"{len(refused)} events refused after {attempt + 1} tries: {errors}")
            batch = refused
            time.sleep(PARTIAL_BACKOFF_SECONDS * 2**attempt)
