"""`batchrecs serve` is a real endpoint: the AWS CLI uploads, the bucket's notification configuration fires the
functions, and every event comes out on stdout as one JSON line.

The served stack and the AWS CLI run as subprocesses talking over loopback; this test process opens no socket.
"""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from batchrecs_local.stack import LOCAL_ENVIRONMENT

pytestmark = pytest.mark.integration
BIN = Path(sys.executable).parent
DEADLINE = 120.0
"""Generous: a loaded 2-core machine; the test waits for events, never for a fixed time."""
PART = 3 << 20
"""The served stack's PartMaxBytes: a 9 MB upload (which the AWS CLI sends in multipart) runs as three jobs."""


@dataclass
class Served:
    process: subprocess.Popen[str]
    endpoint: str
    bucket: str
    stdout: queue.Queue[str] = field(default_factory=queue.Queue)
    stderr: list[str] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)

    def aws(self, *args: str) -> subprocess.CompletedProcess[str]:
        """The real AWS CLI, pointed at the served stack."""
        environment = {**os.environ, **LOCAL_ENVIRONMENT, "AWS_DEFAULT_REGION": "us-east-1"}
        command = [str(BIN / "aws"), "--endpoint-url", self.endpoint, *args]
        done = subprocess.run(command, capture_output=True, text=True, env=environment, timeout=120, check=False)
        assert done.returncode == 0, done.stderr
        return done

    def wait_for(self, done: Callable[[list[dict[str, Any]]], bool]) -> list[dict[str, Any]]:
        """Read stdout's event lines until ``done(events so far)``, within the deadline."""
        deadline = time.monotonic() + DEADLINE
        while not done(self.events):
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self.process.poll() is not None:
                raise AssertionError(f"events so far {[e['detail-type'] for e in self.events]}; {self.stderr[-5:]}")
            try:
                self.events.append(json.loads(self.stdout.get(timeout=min(remaining, 1.0))))
            except queue.Empty:
                continue
        return self.events


def _pump(stream: Any, sink: Callable[[str], None]) -> None:
    for line in stream:
        sink(line.rstrip("\n"))


FANNED = ["SmallJobMaxRecords=1000", "ShardMaxRecords=1000", "SelfHostedMaxRecords=100000"]
"""Self-hosted jobs over 1,000 records fan out in shards of 1,000 (the sample files have far fewer)."""


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, sample: Path) -> Iterator[Served]:
    workdir = tmp_path_factory.mktemp("served")
    command = [
        str(BIN / "batchrecs"), "serve", "--host", "127.0.0.1",
        "--env-vars", str(workdir / "env.json"), "--interactions", str(sample / "interactions.csv"),
        "--parameter", f"PartMaxBytes={PART}",
        *[arg for pair in FANNED for arg in ("--parameter", pair)],
    ]  # fmt: skip
    process = subprocess.Popen(command, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: queue.Queue[str] = queue.Queue()
    stderr: list[str] = []
    threading.Thread(target=_pump, args=(process.stdout, lines.put), daemon=True).start()
    threading.Thread(target=_pump, args=(process.stderr, stderr.append), daemon=True).start()
    try:
        deadline = time.monotonic() + DEADLINE
        while not any("local stack served at" in line for line in stderr):
            assert process.poll() is None and time.monotonic() < deadline, stderr
            time.sleep(0.1)
        (endpoint,) = re.findall(r"served at (http://127\.0\.0\.1:\d+)", "\n".join(stderr))
        (bucket,) = set(re.findall(r"s3://([a-z0-9.-]+)/input/", "\n".join(stderr)))
        yield Served(process, endpoint, bucket, lines, stderr)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def train(served: Served, sample: Path, name: str) -> None:
    """Upload an interactions CSV under models/<name>/ with the AWS CLI and wait, with a deadline, for its model
    version (training emits no event)."""
    served.aws("s3", "cp", str(sample / "interactions.csv"), f"s3://{served.bucket}/models/{name}/interactions.csv")
    deadline = time.monotonic() + DEADLINE
    while "latest.json" not in served.aws("s3", "ls", "--recursive", f"s3://{served.bucket}/models/{name}/").stdout:
        assert time.monotonic() < deadline, "no model was trained"
        time.sleep(0.5)


def ended(key: str) -> Callable[[list[dict[str, Any]]], bool]:
    def done(events: list[dict[str, Any]]) -> bool:
        kinds = {e["detail-type"] for e in events if e["detail"]["input"]["key"] == key}
        return "Job Submitted" in kinds and bool(kinds & {"Job Succeeded", "Job Failed", "Input Rejected"})

    return done


def of(events: list[dict[str, Any]], key: str, detail_type: str) -> dict[str, Any]:
    (event,) = (e for e in events if e["detail"]["input"]["key"] == key and e["detail-type"] == detail_type)
    return event


def test_aws_cli_upload_is_submitted_and_succeeds(served: Served, sample: Path) -> None:
    # Given the served stack, and the serve command's own instructions
    assert any(f"aws --endpoint-url {served.endpoint} s3 cp" in line for line in served.stderr)
    # When the AWS CLI uploads a users file under input/
    served.aws("s3", "cp", str(sample / "users.jsonl"), f"s3://{served.bucket}/input/cli-users.jsonl")
    # Then stdout carries Job Submitted and Job Succeeded for it, as JSON lines
    events = served.wait_for(ended("input/cli-users.jsonl"))
    succeeded = of(events, "input/cli-users.jsonl", "Job Succeeded")
    assert of(events, "input/cli-users.jsonl", "Job Submitted")["detail"]["jobName"] == succeeded["detail"]["jobName"]
    # And the output it names exists and holds one line per record
    (output,) = succeeded["detail"]["output"]["files"]
    served.aws("s3", "cp", output, str(sample.parent / "cli-users.out"))
    records = (sample / "users.jsonl").read_text().splitlines()
    assert len((sample.parent / "cli-users.out").read_text().splitlines()) == len(records)


def test_aws_cli_metadata_reaches_the_job(served: Served, sample: Path, tmp_path: Path) -> None:
    # When the AWS CLI uploads with --metadata num-results=7
    key = "input/cli-seven.jsonl"
    served.aws("s3", "cp", str(sample / "users.jsonl"), f"s3://{served.bucket}/{key}", "--metadata", "num-results=7")
    # Then the job runs with numResults 7 and every output line has 7 items
    events = served.wait_for(ended(key))
    succeeded = of(events, key, "Job Succeeded")
    assert succeeded["detail"]["settings"]["numResults"] == 7
    (output,) = succeeded["detail"]["output"]["files"]
    served.aws("s3", "cp", output, str(tmp_path / "seven.out"))
    lines = [json.loads(line) for line in (tmp_path / "seven.out").read_text().splitlines()]
    assert lines and all(len(line["output"]["recommendedItems"]) == 7 for line in lines)


def test_aws_cli_model_drop_trains_a_model_that_later_drops_use(served: Served, sample: Path) -> None:
    # When the AWS CLI uploads an interactions CSV under models/default/
    # Then TrainFunction writes a model version
    train(served, sample, "default")
    # And a small drop after it is scored self-hosted
    key = "input/cli-after-model.jsonl"
    served.aws("s3", "cp", str(sample / "users.jsonl"), f"s3://{served.bucket}/{key}")
    events = served.wait_for(ended(key))
    assert of(events, key, "Job Succeeded")["detail"]["backend"] == "self-hosted"


def test_models_lists_the_trained_versions_of_the_served_stack(served: Served, sample: Path) -> None:
    # (after the model drop above, or on its own: train one if none is there yet)
    train(served, sample, "movies")
    environment = {**os.environ, **LOCAL_ENVIRONMENT, "AWS_DEFAULT_REGION": "us-east-1"}
    command = [str(BIN / "batchrecs"), "models", "--bucket", served.bucket, "--endpoint-url", served.endpoint]
    done = subprocess.run(command, capture_output=True, text=True, env=environment, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    listed = [json.loads(line) for line in done.stdout.splitlines()]
    movies = [m for m in listed if m["model"] == "movies"]
    assert len(movies) == 1 and movies[0]["latest"] and movies[0]["algorithm"] in ("ease", "svd")
    assert movies[0]["items"] > 0 and movies[0]["version"]


def test_aws_cli_multipart_upload_over_the_part_size_runs_as_parts_and_one_drop_completed(
    served: Served, tmp_path: Path
) -> None:
    # Given a 9 MiB users file: the AWS CLI uploads it in 8 MiB parts, a multipart upload
    big = tmp_path / "big.jsonl"
    big.write_bytes(b"".join(b'{"userId": "user-%04d"}\n' % (n % 300) for n in range(9 * (1 << 20) // 24)))
    served.aws("s3", "cp", str(big), f"s3://{served.bucket}/input/cli-big.jsonl", "--metadata", "backend=personalize")
    # Then the served stack splits it into three jobs, and says once that all three have ended
    events = served.wait_for(
        lambda es: any(e["detail-type"] == "Drop Completed" and e["detail"]["input"]["key"] == "input/cli-big.jsonl"
                       for e in es)
    )  # fmt: skip
    (completed,) = [e["detail"] for e in events if e["detail-type"] == "Drop Completed"]
    assert (len(completed["jobs"]), completed["succeeded"]) == (3, 3)
    assert completed["input"]["records"] == big.read_bytes().count(b"\n")
    # And each part's output, fetched with the AWS CLI, answers its part's records
    answered = 0
    for job in completed["jobs"]:
        (output,) = job["output"]["files"]
        served.aws("s3", "cp", output, str(tmp_path / "part.out"))
        lines = (tmp_path / "part.out").read_text().splitlines()
        assert len(lines) == job["records"]
        answered += len(lines)
    assert answered == completed["input"]["records"]


def test_aws_cli_upload_of_a_large_self_hosted_job_fans_out_into_one_output_in_input_order(
    served: Served, sample: Path, tmp_path: Path
) -> None:
    # Given a trained model, and 5,000 users: five shards of 1,000
    train(served, sample, "default")
    users = tmp_path / "fanned.jsonl"
    ids = [f"user-{n % 300 + 1:04d}" if n % 7 else f"new-{n}" for n in range(5_000)]
    users.write_text("".join(json.dumps({"userId": user}) + "\n" for user in ids))
    key = "input/cli-fanned.jsonl"
    served.aws("s3", "cp", str(users), f"s3://{served.bucket}/{key}")
    # Then one Job Succeeded says how it was fanned out
    events = served.wait_for(ended(key))
    detail = of(events, key, "Job Succeeded")["detail"]
    assert (detail["backend"], detail["shards"], len(detail["shardTimings"])) == ("self-hosted", 5, 5)
    # And the AWS CLI fetches one output (written by a multipart upload of copied parts), every user in order
    (output,) = detail["output"]["files"]
    served.aws("s3", "cp", output, str(tmp_path / "fanned.out"))
    lines = [json.loads(line) for line in (tmp_path / "fanned.out").read_text().splitlines()]
    assert [line["input"]["userId"] for line in lines] == ids
    assert all(len(line["output"]["recommendedItems"]) == 25 for line in lines)
    # And nothing of the shards is left, nor anything beside the output under the job's prefix
    bucket = output.removeprefix("s3://").split("/", 1)[0]
    shards = served.aws("s3api", "list-objects-v2", "--bucket", bucket, "--prefix", "shards/").stdout
    assert "Contents" not in (json.loads(shards) if shards.strip() else {})
    listed = served.aws("s3", "ls", "--recursive", detail["output"]["path"]).stdout.splitlines()
    assert [line.rsplit(" ", 1)[-1] for line in listed] == [output.split("/", 3)[3]]


@pytest.mark.parametrize("kind", ["items", "ranking", "item-affinity"])
def test_the_banners_ready_line_for_a_kind_runs_as_printed(served: Served, sample: Path, kind: str) -> None:
    """serve's banner names each kind's local solution version in a ready `aws s3 cp` line: run as printed (the
    file named after its kind, from the sample data), the drop ends in Job Succeeded on that version."""
    (line,) = [line.strip() for line in served.stderr if f" s3 cp {kind}.jsonl " in line]
    words = line.split("#")[0].split()
    assert words[:4] == ["aws", "--endpoint-url", served.endpoint, "s3"]
    source = {"item-affinity": "segments-items.jsonl"}.get(kind, f"{kind}.jsonl")
    args = [str(sample / source) if word == f"{kind}.jsonl" else word for word in words[3:]]
    served.aws(*args)
    key = f"input/{source}"
    succeeded = of(served.wait_for(ended(key)), key, "Job Succeeded")
    version = words[words.index("--metadata") + 1].removeprefix("solution-version-arn=")
    assert succeeded["detail"]["settings"]["solutionVersionArn"] == version


# A newcomer's second hour (issue 30), through the real AWS CLI and the real `batchrecs` against the served stack.


def batchrecs(served: Served, *args: str) -> subprocess.CompletedProcess[str]:
    """The real `batchrecs` command on the served stack (found by its name, batchrecs-local, at its endpoint)."""
    environment = {**os.environ, **LOCAL_ENVIRONMENT, "AWS_DEFAULT_REGION": "us-east-1"}
    command = [str(BIN / "batchrecs"), *args, "--stack", "batchrecs-local", "--endpoint-url", served.endpoint]
    return subprocess.run(command, capture_output=True, text=True, env=environment, timeout=120, check=False)


def model_event(served: Served, key: str) -> dict[str, Any]:
    def said(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [e for e in events if e["detail-type"].startswith("Model ") and e["detail"]["input"]["key"] == key]

    (event,) = said(served.wait_for(lambda events: bool(said(events))))
    return event


def test_every_model_drop_ends_in_an_event_on_stdout(served: Served, sample: Path, tmp_path: Path) -> None:
    """A file of another name under models/, MovieLens' tab-separated file with its header, and u.data as it comes
    (no header): Model Rejected naming the key that trains, Model Trained, and Model Rejected with the header to add;
    never silence."""
    rows = (sample / "interactions.csv").read_text().splitlines()
    (tmp_path / "tabs.csv").write_text("\n".join(row.replace(",", "\t") for row in rows) + "\n")
    (tmp_path / "u.data").write_text("196\t242\t3\t881250949\n186\t302\t3\t891717742\n")  # MovieLens-100K's
    served.aws("s3", "cp", str(tmp_path / "u.data"), f"s3://{served.bucket}/models/lens/u.data")
    wrong = model_event(served, "models/lens/u.data")
    assert wrong["detail-type"] == "Model Rejected" and "models/lens/interactions.csv" in wrong["detail"]["reason"]
    served.aws("s3", "cp", str(tmp_path / "tabs.csv"), f"s3://{served.bucket}/models/tabs/interactions.csv")
    trained = model_event(served, "models/tabs/interactions.csv")
    assert trained["detail-type"] == "Model Trained" and trained["detail"]["interactions"] > 0
    served.aws("s3", "cp", str(tmp_path / "u.data"), f"s3://{served.bucket}/models/raw/interactions.csv")
    headerless = model_event(served, "models/raw/interactions.csv")
    assert (headerless["detail-type"], headerless["detail"]["line"]) == ("Model Rejected", 1)
    assert "no header" in headerless["detail"]["reason"] and "USER_ID\tITEM_ID" in headerless["detail"]["reason"]


def test_jobs_lists_rejected_and_compared_drops_and_shows_each(served: Served, sample: Path, tmp_path: Path) -> None:
    # A one-column CSV dropped as JSON Lines: rejected with one "looks like CSV" problem, whatever its length
    (tmp_path / "ids.jsonl").write_text("USER_ID\n" + "".join(f"{n}\n" for n in range(5_000)))
    served.aws("s3", "cp", str(tmp_path / "ids.jsonl"), f"s3://{served.bucket}/input/ids.jsonl")
    # exclude-seen on a job with no scorer model to run it: rejected, naming the missing model as the cause
    no_model = "exclude-seen=true,scorer-model=absent"
    served.aws(
        "s3", "cp", str(sample / "users.jsonl"), f"s3://{served.bucket}/input/seen.jsonl", "--metadata", no_model
    )
    # a comparison of the two local users versions: one drop, two jobs
    versions = [f"arn:aws:personalize:us-east-1:123456789012:solution/batchrecs-local-users/{n}" for n in (1, 2)]
    compare = ["--metadata", f"solution-version-arn={' '.join(versions)}"]
    served.aws("s3", "cp", str(sample / "users.jsonl"), f"s3://{served.bucket}/input/both.jsonl", *compare)

    events = served.wait_for(lambda es: bool(ended_by(es, "input/ids.jsonl")))
    (csv,) = ended_by(events, "input/ids.jsonl")
    assert [p["message"] for p in csv["detail"]["errors"]] == [
        'the file looks like CSV or TSV; batch inference reads JSON Lines, one object per line such as {"userId": '
        '"4638"}'
    ]
    (seen,) = ended_by(served.wait_for(lambda es: bool(ended_by(es, "input/seen.jsonl"))), "input/seen.jsonl")
    assert "no scorer model 'absent'" in json.dumps(seen["detail"]["errors"])
    both = served.wait_for(lambda es: len(ended_by(es, "input/both.jsonl", ("Job Succeeded", "Job Failed"))) == 2)
    (drop_id,) = {e["detail"]["dropId"] for e in ended_by(both, "input/both.jsonl", ("Job Succeeded",))}

    # `batchrecs jobs` lists the rejected drops and the comparison as one row by its dropId (the ledger is kept from
    # the events, so poll with a deadline)
    deadline = time.monotonic() + DEADLINE
    while True:
        listing = batchrecs(served, "jobs")
        assert listing.returncode == 0, listing.stderr
        rows = {row.split()[-1].rsplit("/", 1)[-1]: row.split() for row in listing.stdout.splitlines()[1:]}
        if {"ids.jsonl", "seen.jsonl", "both.jsonl"} <= set(rows) and rows["both.jsonl"][1] == "ACTIVE×2":
            break
        assert time.monotonic() < deadline, listing.stdout
        time.sleep(0.5)
    assert rows["ids.jsonl"][:2] == rows["seen.jsonl"][:2] == ["-", "REJECTED"]
    start, _, end = rows["both.jsonl"][0].partition("…")  # a long name is cut in its middle, its hash kept
    assert (
        drop_id.startswith(start)
        and drop_id.endswith(end)
        and all(len(line) <= 100 for line in listing.stdout.splitlines())
    )
    # `jobs show` of a rejected key gives its report; of the dropId, both jobs
    shown = batchrecs(served, "jobs", "show", "input/ids.jsonl")
    assert json.loads(shown.stdout)["report"] == f"s3://{served.bucket}/{csv['detail']['reportKey']}", shown.stderr
    jobs = json.loads(batchrecs(served, "jobs", "show", drop_id).stdout)["jobs"]
    assert sorted(job["events"][0]["detail"]["settings"]["solutionVersionArn"] for job in jobs) == versions


def ended_by(
    events: list[dict[str, Any]], key: str, detail_types: tuple[str, ...] = ("Input Rejected",)
) -> list[dict[str, Any]]:
    return [e for e in events if e["detail-type"] in detail_types and e["detail"]["input"]["key"] == key]


def test_the_banner_says_which_keys_act(served: Served) -> None:
    """A file at the bucket's root does nothing, as on AWS: the banner says so, and which prefixes act."""
    assert any("only keys under input/ and models/ act" in line for line in served.stderr), served.stderr
