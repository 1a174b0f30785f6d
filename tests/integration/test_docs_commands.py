"""Every shell block in README.md and docs/ runs as written.

The blocks are read from the documents (tests/docs_blocks.py), so what runs is what a reader pastes. Blocks that
need a deployed stack run against `batchrecs serve --stack-name batchrecs`, the local stack served under the
README's stack name, with the usual AWS settings pointing at it (AWS_ENDPOINT_URL, test credentials): the AWS CLI,
boto3 and the batchrecs CLI find it as they would find the deployed one. Only `sam deploy` and `sam delete`, which
need an AWS account, are skipped, with that reason. The `sam local invoke` block runs in tests/sam_local.

Every test here waits on events or files with a deadline, never for a fixed time.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from batchrecs_local.stack import LOCAL_ENVIRONMENT
from tests.docs_blocks import ROOT, block, port_lock, run_block, shell_blocks, workspace

pytestmark = pytest.mark.integration
BIN = Path(sys.executable).parent
DEADLINE = 180.0
"""Generous: a loaded 2-core machine; the tests wait for events, never for a fixed time."""

VALIDATE = ".venv/bin/batchrecs sample-data ."
SPLIT = ".venv/bin/batchrecs validate --kind item-attributes"
DEMO = "make demo"
SERVE = "mkdir -p build/serve   # serve's files"
UPLOAD = "aws s3 cp users.jsonl s3://batchrecs-input-123456789012/input/"
OVERRIDE = "aws s3 cp ranking.jsonl"
COMPARE = "aws s3 cp users.jsonl s3://batchrecs-input-123456789012/input/users-compared.jsonl"
JOBS = ".venv/bin/batchrecs jobs --stack batchrecs"
MODEL = "aws s3 cp interactions.csv s3://batchrecs-input-123456789012/models/default/"
VERSUS = "aws s3 cp interactions.csv s3://batchrecs-input-123456789012/models/ials/"
COMPARE_REPORT = ".venv/bin/batchrecs compare input/users-versus.jsonl"
REDRIVE = ".venv/bin/batchrecs redrive --stack batchrecs"
REPLAY = "STACK=batchrecs   # your stack's name; RULE"
TEARDOWN = "STACK=batchrecs   # your stack's name"
SAM_LOCAL = "mkdir -p build/serve   # serve listens on 172.17.0.1"
NEEDS_AN_ACCOUNT = {
    "make lint": "sam deploy",
    "sam delete": "sam delete",
    "make build && .venv/bin/sam deploy": "sam deploy",
}
RUN_HERE = {
    VALIDATE, SPLIT, DEMO, SERVE, UPLOAD, OVERRIDE, COMPARE, JOBS, MODEL, VERSUS, COMPARE_REPORT, REDRIVE, REPLAY,
    TEARDOWN,
}  # fmt: skip
RUN_IN_SAM_LOCAL_TIER = {SAM_LOCAL}
"""tests/sam_local/test_sam_local.py runs it: it needs Docker and the built functions."""


def test_every_shell_block_has_a_test_and_every_test_a_block() -> None:
    known = RUN_HERE | RUN_IN_SAM_LOCAL_TIER | set(NEEDS_AN_ACCOUNT)
    unknown = [f"{b.where}: {b.first}" for b in shell_blocks() if not any(b.first.startswith(k) for k in known)]
    assert not unknown, "shell blocks no test runs: add them to tests/integration/test_docs_commands.py"
    for start in known:
        block(start)  # exactly one block: a test's block is never gone, nor two blocks taken for one


@pytest.mark.parametrize("first", sorted(NEEDS_AN_ACCOUNT))
def test_blocks_that_need_an_aws_account(first: str) -> None:
    found = block(first)
    if found.first.startswith("make lint"):
        # The block's first line runs in every `make test`: the Makefile's test target depends on lint.
        assert re.search(r"^test:.*\blint\b", (ROOT / "Makefile").read_text(), re.M)
    pytest.skip(f"{found.where}: {NEEDS_AN_ACCOUNT[first]} needs an AWS account (none on this machine)")


@pytest.fixture(scope="module")
def place(tmp_path_factory: pytest.TempPathFactory, sample: Path) -> Path:
    return workspace(tmp_path_factory.mktemp("docs"), sample)


def test_validate_train_and_score(tmp_path: Path, sample: Path) -> None:
    """In a workspace without the sample files (as a new machine has none): the block makes its own."""
    place = workspace(tmp_path, sample, with_samples=False)
    assert not (place / "users.jsonl").exists()
    run_block(block(VALIDATE), place)
    lines = (place / "users.jsonl.out").read_text().splitlines()
    assert len(lines) == len((place / "users.jsonl").read_text().splitlines())
    assert all(len(json.loads(line)["output"]["recommendedItems"]) == 10 for line in lines)
    assert (place / "model" / "metadata.json").is_file()


def test_validate_shows_the_parts_of_a_file_over_one_jobs_limits(place: Path) -> None:
    output = run_block(block(SPLIT), place)
    assert (
        "segments-attributes.jsonl: valid (item-attributes, 12 records); over one job's limits, it runs as 2 " in output
    )
    assert "of lines 1-10, 11-12" in output


def test_make_demo_and_run(place: Path) -> None:
    output = run_block(block(DEMO), place, timeout=900)
    assert (place / "results").is_dir() and any((place / "results").rglob("my-users.jsonl.out"))
    events = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    succeeded = {e["detail"]["input"]["key"] for e in events if e["detail-type"] == "Job Succeeded"}
    assert {"input/my-users.jsonl", "input/items.jsonl"} <= succeeded
    # make demo runs a batch segment job of each recipe too
    segments = {e["detail"]["input"]["key"] for e in events if e["detail"].get("jobType") == "segment"}
    assert {"input/segments-items.jsonl", "input/segments-attributes.jsonl"} <= segments & succeeded
    # and a folder drop: three part files and their _SUCCESS, one job
    assert "input/export/_SUCCESS" in succeeded
    # the twelve attribute queries as two jobs, and their one Drop Completed
    completed = {e["detail"]["input"]["key"]: e["detail"] for e in events if e["detail-type"] == "Drop Completed"}
    assert sorted(completed) == ["input/segments-attributes.jsonl", "input/users-compared.jsonl"]
    attributes = completed["input/segments-attributes.jsonl"]
    assert (len(attributes["jobs"]), attributes["succeeded"]) == (2, 2)
    # and one comparison of users' two versions on the holdout, its report and page copied beside the outputs
    (ready,) = [e["detail"] for e in events if e["detail-type"] == "Comparison Ready"]
    assert ready["input"]["key"] == "input/users-compared.jsonl" and ready["holdout"].endswith("/holdout/holdout.csv")
    assert all(version["ndcgAt10"] is not None for version in ready["versions"])
    (page,) = (place / "build/demo/output").rglob(f"{ready['dropId']}/report.html")
    assert page.read_text().count("<svg") >= 3


def test_serve_and_the_aws_cli(place: Path) -> None:
    with port_lock(4566):
        run_block(block(SERVE), place, timeout=300)
    events = [json.loads(line) for line in (place / "build/serve/events.jsonl").read_text().splitlines()]
    assert (place / "build/serve/env.json").is_file() and (place / "build/serve/serve.log").is_file()
    assert not {"env.json", "events.jsonl", "serve.log"} & {p.name for p in place.iterdir()}  # none left at the root
    assert [e["detail-type"] for e in events][:1] == ["Job Submitted"]
    assert any(e["detail-type"] == "Job Succeeded" and e["detail"]["settings"]["numResults"] == 7 for e in events)


# Blocks that need a deployed stack: `batchrecs serve --stack-name batchrecs` stands in for it.


@dataclass
class Deployed:
    process: subprocess.Popen[bytes]
    cwd: Path
    environment: dict[str, str]

    def events(self) -> list[dict[str, Any]]:
        text = (self.cwd / "events.jsonl").read_text()
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    def wait_for(self, done: Callable[[list[dict[str, Any]]], bool]) -> list[dict[str, Any]]:
        deadline = time.monotonic() + DEADLINE
        while not done(events := self.events()):
            log = (self.cwd / "serve.log").read_text()[-2000:]
            assert time.monotonic() < deadline and self.process.poll() is None, f"{events}\n{log}"
            time.sleep(0.2)
        return events

    def outcome(self, key: str, count: int = 1) -> list[dict[str, Any]]:
        """The terminal events of the drops of ``key``, once there are ``count``."""

        def terminal(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
            ends = ("Job Succeeded", "Job Failed", "Input Rejected")
            return [e for e in events if e["detail-type"] in ends and e["detail"]["input"]["key"] == key]

        return terminal(self.wait_for(lambda events: len(terminal(events)) >= count))

    def run(self, first: str) -> str:
        return run_block(block(first), self.cwd, self.environment, timeout=DEADLINE)

    def aws(self, *args: str) -> Any:
        done = subprocess.run(
            ["aws", *args, "--output", "json"],
            cwd=self.cwd,
            env={**os.environ, **self.environment},
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        return json.loads(done.stdout or "null")


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory, sample: Path) -> Iterator[Deployed]:
    cwd = workspace(tmp_path_factory.mktemp("deployed"), sample)
    command = [
        str(BIN / "batchrecs"), "serve", "--stack-name", "batchrecs", "--host", "127.0.0.1", "--port", "0",
        "--interactions", str(sample / "interactions.csv"),
    ]  # fmt: skip
    with (cwd / "events.jsonl").open("wb") as out, (cwd / "serve.log").open("wb") as log:
        process = subprocess.Popen(command, cwd=cwd, stdout=out, stderr=log)
    deadline = time.monotonic() + DEADLINE
    while not (served := re.search(r"served at (http://\S+)", (cwd / "serve.log").read_text())):
        assert time.monotonic() < deadline and process.poll() is None, (cwd / "serve.log").read_text()
        time.sleep(0.2)
    environment = {
        **LOCAL_ENVIRONMENT,
        "AWS_ENDPOINT_URL": served.group(1),
        "AWS_DEFAULT_REGION": "us-east-1",
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
    }
    try:
        yield Deployed(process, cwd, environment)
    finally:
        process.terminate()
        process.wait(timeout=60)


def test_drop_list_redrive_replay_and_tear_down(deployed: Deployed) -> None:
    # Use: a drop with the stack's settings succeeds
    deployed.run(UPLOAD)
    (users,) = deployed.outcome("input/users.jsonl")
    assert users["detail-type"] == "Job Succeeded", users

    # The README's solution versions are examples: as on AWS, a drop that names one the account lacks is rejected,
    # and the rejection names every missing version (the local stack has only its own, batchrecs-local-*).
    deployed.run(OVERRIDE)
    (ranking,) = deployed.outcome("input/ranking.jsonl")
    assert ranking["detail-type"] == "Input Rejected"
    assert "solution/rank/abc does not exist" in json.dumps(ranking["detail"]["errors"])
    deployed.run(COMPARE)
    (compared,) = deployed.outcome("input/users-compared.jsonl")
    assert compared["detail-type"] == "Input Rejected"
    assert [p["message"].split()[2].rsplit(":", 1)[1] for p in compared["detail"]["errors"]] == [
        "solution/movies/1",
        "solution/movies/2",
    ]

    # the ledger lists the jobs and the rejected drops, and shows the users file's
    listing = deployed.run(JOBS)
    assert users["detail"]["jobName"] in listing
    rejected = [row.split() for row in listing.splitlines() if "REJECTED" in row]
    assert sorted(row[-1].rsplit("/", 1)[-1] for row in rejected) == ["ranking.jsonl", "users-compared.jsonl"], listing

    # a model drop trains a version
    deployed.run(MODEL)
    bucket = "batchrecs-input-123456789012"
    deadline = time.monotonic() + DEADLINE
    while not deployed.aws("s3api", "list-objects-v2", "--bucket", bucket, "--prefix", "models/default/latest.json"):
        assert time.monotonic() < deadline, "no model version"
        time.sleep(0.5)

    # two scorer models compared on a holdout: the report, then its table and page from `batchrecs compare`
    deployed.run(VERSUS)
    ready = deployed.wait_for(lambda events: any(e["detail-type"] == "Comparison Ready" for e in events))
    (report,) = [e["detail"] for e in ready if e["detail-type"] == "Comparison Ready"]
    assert [v["label"] for v in report["versions"]] == ["default", "ials"]
    assert all(v["ndcgAt10"] is not None for v in report["versions"]) and report["holdout"]
    table = deployed.run(COMPARE_REPORT)
    assert [row.split()[0] for row in table.splitlines()[1:3]] == ["default", "ials"], table
    assert (deployed.cwd / "report.html").read_text().count("<svg") >= 3

    # nothing waits in the failure queues: redrive says so and succeeds
    assert "nothing to redrive: stack batchrecs's failure queues are empty" in deployed.run(REDRIVE)

    # replay finds the archive, the bus and the rule from the stack's name
    deployed.run(REPLAY)
    assert deployed.aws("events", "list-replays")["Replays"]

    # tear down: every bucket of the stack is left without a version or delete marker
    deployed.run(TEARDOWN)
    buckets = deployed.aws(
        "cloudformation",
        "describe-stack-resources",
        "--stack-name",
        "batchrecs",
        "--query",
        "StackResources[?ResourceType=='AWS::S3::Bucket'].PhysicalResourceId",
    )
    assert len(buckets) == 2
    for name in buckets:
        versions = deployed.aws("s3api", "list-object-versions", "--bucket", name)
        assert not versions.get("Versions") and not versions.get("DeleteMarkers"), name
