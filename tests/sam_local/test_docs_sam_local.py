"""The README's `sam local invoke` block, run as written: `batchrecs serve` on Docker's bridge gateway, an upload
with the AWS CLI, then SubmitFunction invoked in its container with the payload in events/ (a redelivery of that
upload, which must not start a second job)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.docs_blocks import block, port_lock, run_block, workspace
from tests.integration.test_docs_commands import SAM_LOCAL

pytestmark = pytest.mark.sam_local


def test_the_readme_sam_local_invoke_block(gateway: str, invoke_template: Path, tmp_path: Path, sample: Path) -> None:
    if gateway != "172.17.0.1":
        pytest.skip(f"the README's block names Docker's usual gateway 172.17.0.1; this engine's is {gateway}")
    place = workspace(tmp_path, sample)
    with port_lock(4566):
        output = run_block(block(SAM_LOCAL), place, timeout=600)
    events = [json.loads(line) for line in (place / "build/serve/events.jsonl").read_text().splitlines()]
    # The upload fired SubmitFunction in the served stack (the block waits for its Job Submitted); the invoke in
    # the container, the same drop again, was
    # recognised as a redelivery: one job, not two.
    assert [e["detail-type"] for e in events].count("Job Submitted") == 1, events
    assert events[0]["detail"]["input"]["key"] == "input/users.jsonl"
    # The function's result, as sam local invoke prints it: the JSON first on its line, SAM's logs after it.
    result, _ = json.JSONDecoder().raw_decode(output[output.index('{"results"') :])
    assert result["results"][0]["adopted"] is True
    assert result["results"][0]["jobName"] == events[0]["detail"]["jobName"]
