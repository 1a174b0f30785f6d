"""Folder drops in the order real clients upload them: the real AWS CLI's `s3 cp --recursive` and `s3 sync` send a
Spark folder's `_SUCCESS` first (`_` sorts before `p`), a part may land late, and a part may land after its folder's
job started. Every file ends once: in its folder's job, or in its own Input Rejected.

The served stack (`LocalStack.serve`, as `batchrecs serve`) and the CLI run in a subprocess of their own, talking
over loopback: this test process opens no socket. The folder steps are held with gates while the CLI uploads, so
the outcome never depends on how fast the machine is: a slow large part, on S3, is the same order."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration
AWS = Path(sys.executable).parent / "aws"
SCRIPT = r"""
import json, os, subprocess, sys, tempfile, threading, time
from pathlib import Path
from typing import Any
from batchrecs_local.stack import LOCAL_ENVIRONMENT, EventTap, LocalStack, demo_emulator

aws_bin, interactions = sys.argv[1], Path(sys.argv[2])
TERMINAL = {"Job Succeeded", "Job Failed", "Input Rejected"}


def users(*ids):
    return b"".join(json.dumps({"userId": f"user-{n:04d}"}).encode() + b"\n" for n in ids)


settings = demo_emulator(pending_seconds=0.2, running_seconds=0.3, interactions=interactions)
with LocalStack(settings=settings, parameters={"FolderMarkerWaitHours": "0.0005"}) as stack, stack.serve() as endpoint:
    settle, watch = threading.Event(), threading.Event()
    stack.lambdas.gates["SubmitFunction:settle"] = settle
    stack.lambdas.gates["SubmitFunction:partWatch"] = watch
    tap = EventTap(stack)
    environment = {**os.environ, **LOCAL_ENVIRONMENT, "AWS_DEFAULT_REGION": stack.region}
    bucket = stack.name("InputBucket")

    def aws(*args):
        done = subprocess.run(
            [aws_bin, "--endpoint-url", endpoint, *args], env=environment, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    root = Path(tempfile.mkdtemp())

    def folder(name, files):
        path = root / name
        path.mkdir()
        for file, body in files.items():
            (path / file).write_bytes(body)
        return path

    spark = {"_SUCCESS": b"", "part-00000.json": users(1, 2), "part-00001.json": users(3), ".part-00000.json.crc": b"x"}
    listed = json.dumps(["input/run-7/a.jsonl", "input/run-7/b.jsonl"]).encode()
    # The CLI's own order: cp --recursive and sync walk the folder in name order, _SUCCESS first
    out = aws("s3", "cp", str(folder("spark-cp", spark)), f"s3://{bucket}/input/spark-cp/", "--recursive")
    aws("s3", "sync", str(folder("spark-sync", spark)), f"s3://{bucket}/input/spark-sync/")
    aws("s3", "cp", str(folder("run-7", {"a.jsonl": users(4), "b.jsonl": users(5, 6), "manifest.json": listed})),
        f"s3://{bucket}/input/run-7/", "--recursive")
    aws("s3", "cp", str(folder("late", {"_SUCCESS": b"", "part-00000.json": users(7)})),
        f"s3://{bucket}/input/late/", "--recursive")
    extra = folder("extra", {"part-00001.json": users(8), "part-00002.json": users(9)})
    # A part landing after its marker, before the folder settled (on S3: a slow large part)
    aws("s3", "cp", str(extra / "part-00001.json"), f"s3://{bucket}/input/late/part-00001.json")
    settle.set()
    markers = {
        "input/spark-cp/_SUCCESS", "input/spark-sync/_SUCCESS", "input/run-7/manifest.json", "input/late/_SUCCESS"
    }
    events = tap.collect(
        lambda es: {e["detail"]["input"]["key"] for e in es if e["detail-type"] in TERMINAL} >= markers, timeout=180
    )
    # A part landing after its folder's job started
    aws("s3", "cp", str(extra / "part-00002.json"), f"s3://{bucket}/input/spark-cp/part-00002.json")
    watch.set()
    sfn = stack.client("stepfunctions")
    deadline = time.monotonic() + 180
    while True:  # every part's watch has ended it: 2 + 2 + 2 + 2 + 1 parts (the checksum is no part)
        found = sfn.list_executions(stateMachineArn=stack.name("JobStateMachine"))["executions"]
        watches = [e for e in found if e["name"].startswith("part-")]
        if len(watches) == 9 and all(e["status"] == "SUCCEEDED" for e in watches):
            break
        assert time.monotonic() < deadline, [(e["name"], e["status"]) for e in watches]
        time.sleep(0.2)
    events += tap.drain()
    order = [line.split(" to ")[-1].rsplit("/", 1)[-1] for line in out.splitlines() if line.startswith("upload:")]
    shown = [{"type": e["detail-type"], "detail": e["detail"]} for e in events]
    print(json.dumps({"uploaded": order, "events": shown, "denials": stack.denials}))
"""


def test_aws_cli_folder_uploads_in_any_order_end_every_file_once(sample: Path) -> None:
    ran = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(AWS), str(sample / "interactions.csv")],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr[-4000:]
    found = json.loads(ran.stdout.strip().splitlines()[-1])
    events, denials = found["events"], found["denials"]
    assert set(found["uploaded"]) == {"_SUCCESS", "part-00000.json", "part-00001.json", ".part-00000.json.crc"}
    assert denials == []
    terminal = [e for e in events if e["type"] in ("Job Succeeded", "Job Failed", "Input Rejected")]
    by_key: dict[str, list[dict[str, Any]]] = {}
    for event in terminal:
        by_key.setdefault(event["detail"]["input"]["key"], []).append(event)
    # Each folder ran once, with every part: the marker first (cp, sync), a manifest's files, a part landing late
    expected = {
        "input/spark-cp/_SUCCESS": ["input/spark-cp/part-00000.json", "input/spark-cp/part-00001.json"],
        "input/spark-sync/_SUCCESS": ["input/spark-sync/part-00000.json", "input/spark-sync/part-00001.json"],
        "input/run-7/manifest.json": ["input/run-7/a.jsonl", "input/run-7/b.jsonl"],
        "input/late/_SUCCESS": ["input/late/part-00000.json", "input/late/part-00001.json"],
    }
    for marker, parts in expected.items():
        (event,) = by_key.pop(marker)
        assert event["type"] == "Job Succeeded", event
        assert [part["key"] for part in event["detail"]["parts"]] == parts
    # and the one part that landed after its folder's job started has its own end, naming that job
    (late,) = by_key.pop("input/spark-cp/part-00002.json")
    job = next(e["detail"]["jobName"] for e in terminal if e["detail"]["input"]["key"] == "input/spark-cp/_SUCCESS")
    assert late["type"] == "Input Rejected" and job in late["detail"]["errors"][0]["message"]
    # Nothing else ended: no file ran alone, none twice
    assert by_key == {}
    submitted = [e["detail"]["input"]["key"] for e in events if e["type"] == "Job Submitted"]
    assert sorted(submitted) == sorted(expected)
