"""The Lambda side of S3 notifications and EventBridge rules, for functions that run in this process.

moto keeps a bucket's notification configuration and a rule's targets as the template deploys them, but it can
only hand Lambda destinations to its own (container-based) Lambda. These hooks hand them to the local stack
instead, asynchronously, as S3 and EventBridge invoke Lambda. They sit where moto sends notifications, so an
upload from any client (boto3 in process, the AWS CLI against ``batchrecs serve``) fires the same functions.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any
from unittest import mock
from urllib.parse import quote_plus

from moto.events.models import Rule
from moto.s3 import notifications
from moto.s3.responses import S3Response

Deliver = Callable[[str, dict[str, Any], tuple[str, str, str] | None, tuple[str, str]], bool]
"""(function ARN, event, the (bucket, key, version) an S3 event is for, (the invoking service, the source ARN)) →
True if that function is local."""


def s3_event(event_name: str, bucket: Any, key: Any, configuration_id: str) -> dict[str, Any]:
    """The notification S3 sends for ``key`` (moto's own leaves out versionId and sequencer)."""
    obj: dict[str, Any] = {
        "key": quote_plus(key.name, safe="/"),
        "size": key.size,
        "eTag": key.etag.strip('"'),
        "sequencer": f"{time.time_ns():X}",
    }
    if bucket.is_versioned and key.version_id not in (None, "null"):
        obj["versionId"] = key.version_id
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": bucket.region_name,
                "eventTime": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                "eventName": event_name.removeprefix("s3:"),
                "userIdentity": {"principalId": "AWS:LOCAL"},
                "requestParameters": {"sourceIPAddress": "127.0.0.1"},
                "responseElements": {"x-amz-request-id": f"{time.time_ns():016X}"[-16:], "x-amz-id-2": "local"},
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": configuration_id,
                    "bucket": {
                        "name": bucket.name,
                        "ownerIdentity": {"principalId": "LOCAL"},
                        "arn": f"arn:aws:s3:::{bucket.name}",
                    },
                    "object": obj,
                },
            }
        ]
    }


_request = threading.local()
"""The S3 notifications an S3 request being served on this thread has sent, held until it is done."""


def _after_the_request(handler: Callable[..., Any]) -> Callable[..., Any]:
    """An S3 request handler whose notifications go out once it has returned. moto sends a PutObject's inside its
    backend call, before the request sets the object's metadata: a function notified at once could read the object
    without it, which S3 never shows (it notifies once the object is whole)."""

    @functools.wraps(handler)
    def handled(self: Any, *args: Any, **kwargs: Any) -> Any:
        if getattr(_request, "held", None) is not None:  # within a request already
            return handler(self, *args, **kwargs)
        _request.held = []
        try:
            return handler(self, *args, **kwargs)
        finally:
            held, _request.held = _request.held, None
            for send in held:
                send()

    return handled


@contextlib.contextmanager
def lambda_destinations(deliver: Deliver, account: str) -> Iterator[None]:
    """While open, S3 notifications and rule targets that name a local function go to ``deliver``, an S3 request's
    once it is done."""
    send_s3 = notifications.send_event
    send_rule = Rule.send_to_targets

    def send_event(account_id: str, event_name: Any, bucket: Any, key: Any) -> None:
        held = getattr(_request, "held", None)
        if held is not None:
            held.append(functools.partial(send_now, account_id, event_name, bucket, key))
        else:
            send_now(account_id, event_name, bucket, key)

    def send_now(account_id: str, event_name: Any, bucket: Any, key: Any) -> None:
        configuration = bucket.notification_configuration
        for notification in configuration.cloud_function if configuration else []:
            if notification.matches(event_name, key.name):
                event = s3_event(getattr(event_name, "value", event_name), bucket, key, notification.id)
                source = ("s3.amazonaws.com", f"arn:aws:s3:::{bucket.name}")
                deliver(notification.arn, event, (bucket.name, key.name, str(key.version_id)), source)
        send_s3(account_id, event_name, bucket, key)  # queues, topics; moto finds no Lambda of its own

    def send_to_targets(rule: Any, event: Any, transform_input: bool = True) -> None:
        others = list(rule.targets)
        if rule.event_pattern.matches_event(event):
            envelope = {**event, "account": account, "time": _iso_time(event.get("time"))}
            source = ("events.amazonaws.com", rule.arn)
            others = [t for t in rule.targets if not deliver(t["Arn"], copy.deepcopy(envelope), None, source)]
        rest = copy.copy(rule)
        rest.targets = others
        send_rule(rest, event, transform_input)

    with (
        mock.patch.object(notifications, "send_event", send_event),
        mock.patch.object(Rule, "send_to_targets", send_to_targets),
        mock.patch.object(S3Response, "key_response", _after_the_request(S3Response.key_response)),
        mock.patch.object(S3Response, "bucket_response", _after_the_request(S3Response.bucket_response)),
    ):
        yield


def _iso_time(value: Any) -> Any:
    """EventBridge's envelope time as it delivers it (moto keeps a float timestamp until it sends)."""
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(float(value), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return value
