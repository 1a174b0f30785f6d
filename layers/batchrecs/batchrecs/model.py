"""The base every batchrecs contract derives from: frozen, strict about unknown keys, camelCase on the wire."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, PlainSerializer
from pydantic.alias_generators import to_camel


class WireModel(BaseModel):
    """A contract: snake_case in Python, camelCase in JSON, frozen, and no unknown fields."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        frozen=True,
        extra="forbid",
    )

    def to_wire(self) -> dict[str, Any]:
        """The JSON-ready dict that crosses a process boundary (events, execution input, reports)."""
        return self.model_dump(mode="json", by_alias=True)


def aws_time(moment: datetime) -> str:
    """ISO 8601 in UTC to the millisecond, ending in Z: how Step Functions writes ``$$.State.EnteredTime``, which
    becomes finishedAt. Every timestamp in every event is written this one way."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


Timestamp = Annotated[datetime, PlainSerializer(aws_time, return_type=str, when_used="json")]
