"""Fault injection for the local stack: chosen AWS operations throttle, or PutEvents partly fails, at a seeded rate.

It wraps moto's botocore stubber, which every client in the process calls before sending: the application and
moto's Step Functions interpreter see the faults exactly as they would see AWS's, through their own retry logic.
"""

from __future__ import annotations

import contextlib
import json
import random
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

from botocore.awsrequest import AWSResponse
from moto.core.botocore_stubber import BotocoreStubber, MockRawResponse

from batchrecs_local.lambdas import FunctionKilled

THROTTLE = "ThrottlingException"
PARTIAL = "PartialFailure"
"""For events:PutEvents: a 200 answer with FailedEntryCount = number of entries, nothing delivered."""


@dataclass
class Faults:
    """operation ("personalize.CreateBatchInferenceJob") → probability; ``kinds`` per operation: an error code
    (default ThrottlingException, which botocore retries; AccessDeniedException, which it does not) or PARTIAL."""

    rates: dict[str, float] = field(default_factory=dict)
    kinds: dict[str, str] = field(default_factory=dict)
    first: dict[str, int] = field(default_factory=dict)
    """operation → N: its first N calls fail (with its kind), whatever the rate: an outage of a known length."""
    nth: dict[str, set[int]] = field(default_factory=dict)
    """operation → the numbers of its calls (1 for the first) that fail: one refusal in the middle of a drop."""
    seed: int = 0
    injected: Counter[str] = field(default_factory=Counter)
    calls: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self._rngs: dict[str, random.Random] = {}
        self._lock = threading.Lock()

    def decide(self, operation: str) -> str | None:
        """One seeded generator per operation: its n-th call draws the same fault whatever the threads do."""
        with self._lock:
            self.calls[operation] += 1
            rate = self.rates.get(operation, 0.0)
            rng = self._rngs.setdefault(operation, random.Random(f"{self.seed}:{operation}"))
            called = self.calls[operation]
            scheduled = called <= self.first.get(operation, 0) or called in self.nth.get(operation, ())
            if scheduled or (rate and rng.random() < rate):
                self.injected[operation] += 1
                return self.kinds.get(operation, THROTTLE)
        return None


_original_call = BotocoreStubber.__call__


@contextlib.contextmanager
def installed(faults: Faults | None) -> Iterator[None]:
    """Inject ``faults`` into every AWS call of the process while the context lasts (None: none)."""
    if faults is None:
        yield
        return

    def call(self: BotocoreStubber, event_name: str, request: Any, **kwargs: Any) -> Any:
        if self.enabled:
            service, operation = event_name.split(".")[1:3]
            fault = faults.decide(f"{service}.{operation}")
            if fault is not None and fault != PARTIAL:  # an error code: ThrottlingException, AccessDenied, …
                body = json.dumps({"__type": fault, "message": f"{fault} (injected)"}).encode()
                headers = {"x-amzn-errortype": fault, "x-amzn-RequestId": str(uuid.uuid4())}
                return AWSResponse(request.url, 400, headers, MockRawResponse(body))  # type: ignore[arg-type]
            if fault == PARTIAL:
                entries = json.loads(request.body or b"{}").get("Entries", [])
                body = json.dumps(
                    {
                        "FailedEntryCount": len(entries),
                        "Entries": [{"ErrorCode": "InternalFailure", "ErrorMessage": "injected"} for _ in entries],
                    }
                ).encode()
                headers = {"x-amzn-RequestId": str(uuid.uuid4())}  # every AWS answer has one; moto reads it
                return AWSResponse(request.url, 200, headers, MockRawResponse(body))  # type: ignore[arg-type]
        return _original_call(self, event_name, request, **kwargs)

    with mock.patch.object(BotocoreStubber, "__call__", call):
        yield


@dataclass
class Kill:
    """Where a function dies: at the ``nth`` AWS call it makes of ``operation`` ("sfn.StartExecution", as botocore
    names its events) whose request body holds ``matching`` (any, when None); before the call is sent, or
    ``after`` AWS has done it (its answer is lost with the function). It dies once; Lambda's retry runs on."""

    operation: str
    nth: int = 1
    after: bool = False
    matching: bytes | None = None
    seen: int = 0
    fired: int = 0


@contextlib.contextmanager
def killing(access_key: str, kill: Kill) -> Iterator[Kill]:
    """Kill the function whose role's credentials are ``access_key`` (``LocalFunction.credentials``) as ``kill``
    says, while the context lasts: the test of "a crash between any two calls"."""
    current = BotocoreStubber.__call__
    lock = threading.Lock()

    def call(self: BotocoreStubber, event_name: str, request: Any, **kwargs: Any) -> Any:
        service, operation = event_name.split(".")[1:3]
        signed = f"Credential={access_key}/" in str(request.headers.get("Authorization", b""))
        body = request.body if isinstance(request.body, bytes) else str(request.body or "").encode()
        dies = False
        if signed and f"{service}.{operation}" == kill.operation and (kill.matching is None or kill.matching in body):
            with lock:
                kill.seen += 1
                dies = kill.seen == kill.nth and not kill.fired
                kill.fired += dies
        if dies and not kill.after:
            raise FunctionKilled(f"killed before {kill.operation}")
        response = current(self, event_name, request, **kwargs)
        if dies:
            raise FunctionKilled(f"killed after {kill.operation}")
        return response

    with mock.patch.object(BotocoreStubber, "__call__", call):
        yield kill
