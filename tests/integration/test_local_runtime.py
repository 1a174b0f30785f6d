"""The in-process Lambda runtime keeps stacks apart, as separate accounts' functions are: one stack's work never
runs into the next stack's, signed as another function.

A CI run found a closed stack's late JobOutcomeFunction invocation calling DescribeExecution signed as the next
stack's SubmitFunction: each stack had its own invocation lock, while both patched the one os.environ."""

from __future__ import annotations

import contextlib
import threading
import time

import pytest

from batchrecs_local import lambdas
from batchrecs_local.lambdas import FunctionGone, Lambdas
from batchrecs_local.stack import LocalStack, demo_emulator


def test_a_closed_stacks_functions_are_gone_and_send_nothing_to_a_destination() -> None:
    # Given a stack that has closed
    with LocalStack(settings=demo_emulator()) as stack:
        runtime = stack.lambdas
    # Then its functions do not run, synchronously or asynchronously, and an asynchronous invoke is not retried
    with pytest.raises(FunctionGone, match="its stack is closed"):
        runtime.invoke("JobOutcomeFunction", {})
    invocation = runtime.invoke_async("SubmitFunction", {"Records": []})
    assert invocation.attempts == 1 and invocation.error is not None and "closed" in invocation.error


def test_invocations_of_two_stacks_take_turns_in_the_process() -> None:
    with LocalStack(settings=demo_emulator()) as stack:
        # Given a second runtime over the same functions (as a stack still closing is to the next one)
        other = Lambdas(stack.client)
        other.functions = stack.lambdas.functions
        ran = threading.Event()

        def invoke() -> None:
            with contextlib.suppress(Exception):  # an empty event fails parsing: it ran, all this test needs
                other.invoke("JobOutcomeFunction", {})
            ran.set()

        # When one invocation is under way (it holds the process's environment)
        with lambdas._INVOKING:
            thread = threading.Thread(target=invoke)
            thread.start()
            # Then the other stack's invocation waits for it
            time.sleep(0.2)
            assert not ran.is_set()
        assert ran.wait(timeout=60)
        thread.join()
