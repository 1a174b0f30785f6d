"""AWS's documented limits that shape batchrecs' messages: one table, read by the code that bounds its payloads and by
the local stack that enforces them. docs/limits.md shows the same table with its sources; a contract test holds
the two equal."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limit:
    service: str
    what: str
    value: int
    unit: str
    source: str


KIB = 1024

STATES_PAYLOAD_BYTES = 256 * KIB
"""Step Functions: an execution's input, a state's input or output, a Map's results (UTF-8 bytes)."""
STATES_HISTORY_EVENTS = 25_000
"""Step Functions: events in one Standard execution's history."""
STATES_EXECUTION_NAME = 80
"""Step Functions: characters in an execution's name."""
EVENTS_ENTRY_BYTES = 256 * KIB
"""EventBridge: one PutEvents entry, as PutEvents sizes it."""
DYNAMODB_ITEM_BYTES = 400 * KIB
"""DynamoDB: one item, attribute names included."""
LAMBDA_ASYNC_PAYLOAD_BYTES = 256 * KIB
"""Lambda: an asynchronous invocation's event."""
LAMBDA_SYNC_PAYLOAD_BYTES = 6 * KIB * KIB
"""Lambda: a synchronous invocation's request or response."""
LAMBDA_ENVIRONMENT_BYTES = 4 * KIB
"""Lambda: a function's environment variables, names and values together."""
S3_KEY_BYTES = 1024
"""S3: an object key (UTF-8 bytes)."""
S3_BUCKET_NAME = 63
"""S3: characters in a bucket name."""

LIMITS = (
    Limit("Step Functions", "execution input", STATES_PAYLOAD_BYTES, "bytes", "Step Functions quotas: payload size"),
    Limit(
        "Step Functions",
        "state input or output, Map results",
        STATES_PAYLOAD_BYTES,
        "bytes",
        "Step Functions quotas: payload size",
    ),
    Limit("Step Functions", "execution history", STATES_HISTORY_EVENTS, "events", "Step Functions quotas: history"),
    Limit("Step Functions", "execution name", STATES_EXECUTION_NAME, "characters", "StartExecution API: name"),
    Limit(
        "EventBridge", "PutEvents entry", EVENTS_ENTRY_BYTES, "bytes", "EventBridge: calculating PutEvents entry size"
    ),
    Limit("DynamoDB", "item", DYNAMODB_ITEM_BYTES, "bytes", "DynamoDB quotas: item size"),
    Limit("Lambda", "asynchronous payload", LAMBDA_ASYNC_PAYLOAD_BYTES, "bytes", "Lambda quotas: invocation payload"),
    Limit("Lambda", "synchronous payload", LAMBDA_SYNC_PAYLOAD_BYTES, "bytes", "Lambda quotas: invocation payload"),
    Limit("Lambda", "environment variables", LAMBDA_ENVIRONMENT_BYTES, "bytes", "Lambda quotas: environment variables"),
    Limit("S3", "object key", S3_KEY_BYTES, "bytes", "S3: naming objects"),
    Limit("S3", "bucket name", S3_BUCKET_NAME, "characters", "S3: bucket naming rules"),
)


def event_entry_size(source: str, detail_type: str, detail: str, resources: list[str] | None = None) -> int:
    """A PutEvents entry's size as EventBridge computes it: 14 bytes for Time, then the UTF-8 bytes of Source,
    DetailType, Detail and each resource."""
    size = 14 + len(source.encode()) + len(detail_type.encode()) + len(detail.encode())
    return size + sum(len(r.encode()) for r in resources or [])
