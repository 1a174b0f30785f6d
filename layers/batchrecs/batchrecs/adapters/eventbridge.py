"""Publishing detail-types to the bus, refusing to lose an entry silently."""

from __future__ import annotations

from typing import TYPE_CHECKING

from batchrecs.events import DETAIL_TYPES
from batchrecs.model import WireModel

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient

MAX_ENTRIES = 10
"""PutEvents accepts at most 10 entries per call."""


class PublishFailed(RuntimeError):
    """Some entries were refused after botocore's retries; raised so that Lambda retries the invocation."""


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
            batch = entries[start : start + MAX_ENTRIES]
            response = self.events.put_events(Entries=batch)  # type: ignore[arg-type]
            if response.get("FailedEntryCount", 0):
                failures = [e for e in response["Entries"] if "ErrorCode" in e]
                raise PublishFailed(f"{len(failures)} of {len(batch)} events refused: {failures}")
