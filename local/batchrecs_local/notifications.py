"""Asynchronous delivery on the local stack: S3 notifications and rule targets that name a local function invoke it on
its own thread, as Lambda's event invokes do (``batchrecs_local.delivery`` catches them, from any client); and the
EventTap, a subscriber of our own that collects the events on the bus."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from batchrecs_local import iam
from batchrecs_local.lambdas import Invocation, Lambdas

if TYPE_CHECKING:
    from batchrecs_local.stack import LocalStack


class Deliveries:
    """Event invokes of ``lambdas``' functions, each on its own thread. ``s3_notifications=False`` keeps S3's from
    them (a caller playing S3's part itself)."""

    def __init__(self, lambdas: Lambdas, *, s3_notifications: bool = True) -> None:
        self.lambdas = lambdas
        self.s3_notifications = s3_notifications
        self._threads: list[threading.Thread] = []
        self._awaited: set[tuple[str, str]] = set()
        """(bucket, key) of the objects being uploaded by ``drop``: only their notifications are kept to wait on."""
        self._by_object: dict[tuple[str, str, str], list[tuple[threading.Thread, Invocation]]] = {}

    def deliver(
        self, arn: str, event: dict[str, Any], s3_object: tuple[str, str, str] | None, source: tuple[str, str]
    ) -> bool:
        """An asynchronous invoke of the local function ``arn`` on its own thread; False if no function has it.
        ``source`` is the invoking service and the bucket or rule it acts for: the function's resource policy (its
        AWS::Lambda::Permission) must allow them, or the event is dropped, as Lambda refuses it."""
        function = self.lambdas.find(arn)
        if function is None:
            return False
        authorizer = iam.active()
        if authorizer is not None:
            service, source_arn = source
            invoker = iam.Principal(service, service=service)
            context = {"aws:SourceArn": source_arn, "aws:SourceAccount": authorizer.account}
            try:
                authorizer.check(invoker, iam.Need("lambda:InvokeFunction", function.arn, context))
            except iam.AccessDenied:
                return True  # refused: the denial is on record (LocalStack.denials); Lambda runs nothing
        if s3_object is not None and not self.s3_notifications:
            return True
        invocation = Invocation(function=function.logical, event=event)
        thread = threading.Thread(
            target=self.lambdas.invoke_async,
            args=(function.logical, event, invocation),
            name=f"lambda-{function.logical}",
        )
        thread.daemon = True
        # A long `batchrecs serve` makes thousands: keep only those still running, for the join at exit.
        thread.start()  # before it is listed: a concurrent wait() may only join started threads
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        if s3_object is not None and s3_object[:2] in self._awaited:
            self._by_object.setdefault(s3_object, []).append((thread, invocation))
        return True

    def wait(self, timeout: float = 60) -> None:
        """Wait for the invocations under way to end."""
        deadline = time.monotonic() + timeout
        for thread in list(self._threads):
            thread.join(max(0.0, deadline - time.monotonic()))

    @contextlib.contextmanager
    def awaiting(self, bucket: str, key: str) -> Iterator[None]:
        """Keep the invocations that the notifications of ``bucket/key`` make while the context lasts."""
        self._awaited.add((bucket, key))
        try:
            yield
        finally:
            self._awaited.discard((bucket, key))

    def of_object(self, bucket: str, key: str, version: str, timeout: float) -> list[Invocation]:
        """The invocations one version's notification made, once they have ended."""
        deliveries = self._by_object.pop((bucket, key, version), [])
        deadline = time.monotonic() + timeout
        for thread, _ in deliveries:
            thread.join(max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                raise TimeoutError(f"s3://{bucket}/{key}: its functions were still running after {timeout}s")
        return [invocation for _, invocation in deliveries]


class EventTap:
    """A rule delivering events to an SQS queue of the same name: by default every batchrecs event on the stack's
    bus (a subscriber of our own); the local stack also uses one per function subscribed to a rule."""

    def __init__(
        self,
        stack: LocalStack,
        name: str = "local-tap",
        *,
        pattern: dict[str, Any] | None = None,
        bus: str | None = None,
    ) -> None:
        self.sqs = stack.client("sqs")
        bus = bus or stack.name("EventBus")
        pattern = pattern or {"source": [stack.template.parameters["EventSource"]]}
        self.queue_url = self.sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])["Attributes"]
        events = stack.client("events")
        events.put_rule(Name=name, EventBusName=bus, EventPattern=json.dumps(pattern))
        events.put_targets(Rule=name, EventBusName=bus, Targets=[{"Id": "tap", "Arn": arn["QueueArn"]}])

    def drain(self) -> list[dict[str, Any]]:
        """Every event delivered since the last call, oldest first."""
        events: list[dict[str, Any]] = []
        while True:
            messages = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get("Messages", [])
            if not messages:
                return events
            for message in messages:
                events.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])

    def collect(self, done: Callable[[list[dict[str, Any]]], bool], timeout: float = 30) -> list[dict[str, Any]]:
        """Drain until ``done(events so far)`` holds; raise TimeoutError past the deadline."""
        events: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while not done(events):
            if time.monotonic() > deadline:
                raise TimeoutError(f"after {timeout}s, events were {[e['detail-type'] for e in events]}")
            events += self.drain()
            time.sleep(0.1)
        return events
