"""The commands on a deployed stack: its scorer models, its job ledger, and a redrive of its failed drops."""

from __future__ import annotations

import json
import sys
from typing import Any

from batchrecs.layout import MODELS, latest_key, report_key
from batchrecs_ops.deployed import Deployed, UserError, aws_errors
from batchrecs_ops.redrive import Redriven, deployed


def redrive(stack: str, region: str | None) -> Redriven:
    """``batchrecs redrive`` on a deployed stack, with AWS's usual settings; their absence named, with the fix."""
    with aws_errors(stack):
        return deployed(Deployed(stack, region=region))


def models(stack: str | None, bucket: str | None, region: str | None, endpoint_url: str | None) -> int:
    """List the scorer models in a stack's input bucket: each name, its versions (newest first) with their metadata,
    and which one new jobs use (latest.json)."""
    deployed = Deployed(stack or "", region=region, endpoint_url=endpoint_url)
    with aws_errors(stack):
        bucket = bucket or deployed.name("InputBucket")
        s3 = deployed.client("s3")
        keys = [
            item["Key"]
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=MODELS)
            for item in page.get("Contents", [])
        ]
        found: dict[str, list[dict[str, Any]]] = {}
        for key in keys:
            parts = key.split("/")
            if len(parts) == 4 and parts[3] == "metadata.json":
                metadata = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
                found.setdefault(parts[1], []).append({"version": parts[2], **metadata})
        for name, versions in sorted(found.items()):
            latest = json.loads(s3.get_object(Bucket=bucket, Key=latest_key(name))["Body"].read())
            for version in sorted(versions, key=lambda v: str(v.get("trainedAt", "")), reverse=True):
                version["latest"] = version["version"] == latest["version"]
                print(json.dumps({"model": name, **version}, sort_keys=True))
    if not found:
        print(
            f"no scorer models in s3://{bucket}/models/ (drop models/<name>/interactions.csv to train one)",
            file=sys.stderr,
        )
    return 0


JOB_COLUMNS = ("jobName", "status", "backend", "kind", "finished", "input")
"""The table's columns; `jobs show` and `--json` give the rest (versions, times, output, events)."""
TABLE_WIDTH = 100


def jobs(
    stack: str, region: str | None, endpoint_url: str | None, *, name: str | None, limit: int, as_json: bool
) -> int:
    """``batchrecs jobs``: the stack's job ledger (JobsTable), newest first; ``jobs show NAME``: one job with its
    events."""
    from batchrecs.adapters.ledger import JobLedger

    deployed = Deployed(stack, region=region, endpoint_url=endpoint_url)
    with aws_errors(stack):
        ledger = JobLedger(deployed.client("dynamodb"), deployed.name("JobsTable"))
        if name is not None:
            # A job's name, or an input key (job names have no "/"): the latest job of a drop of that key.
            job = next(ledger.jobs(1, input_key=name), None) if "/" in name else ledger.job(name)
            if job is None:
                rejected = latest_report(deployed, name) if "/" in name else None
                if rejected is not None:
                    raise UserError(f"no job for {name!r}: it was rejected; its report is {rejected}")
                raise UserError(
                    f"no job {name!r} in stack {stack!r}'s ledger: `batchrecs jobs --stack {stack}` lists them"
                )
            print(json.dumps(job.to_wire(), indent=2))
            return 0
        entries = [entry.to_wire() for entry in ledger.jobs(limit)]
    if as_json:
        for entry in entries:
            entry.pop("events")
            print(json.dumps(entry, sort_keys=True))
        return 0
    if not entries:
        print(f"no jobs in stack {stack!r}'s ledger yet (drop a file under input/)", file=sys.stderr)
        return 0
    for line in job_table(entries):
        print(line)
    return 0


def latest_report(deployed: Deployed, key: str) -> str | None:
    """The newest rejection report of a dropped key (``rejected/<key>.<version>.report.json``), as an S3 URI."""
    bucket = deployed.name("InputBucket")
    prefix = report_key(key, "").removesuffix("unversioned.report.json")
    listed = deployed.client("s3").list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
    reports = [item for item in listed if item["Key"].endswith(".report.json")]
    if not reports:
        return None
    newest = max(reports, key=lambda item: item["LastModified"])
    return f"s3://{bucket}/{newest['Key']}"


def job_table(entries: list[dict[str, Any]], width: int = TABLE_WIDTH) -> list[str]:
    """The jobs as a table at most ``width`` columns wide: the input's key (not its bucket) cut from the left with
    … where it would not fit, the finishing time to the minute (UTC)."""
    rows = []
    for entry in entries:
        finished = str(entry.get("finishedAt") or "")[:16].replace("T", " ") or "-"
        key = str(entry.get("input") or "-").removeprefix("s3://").split("/", 1)[-1]
        rows.append([str(entry.get(c) or "-") for c in JOB_COLUMNS[:4]] + [finished, key])
    widths = [max(len(column), *(len(row[i]) for row in rows)) for i, column in enumerate(JOB_COLUMNS)]
    room = max(width - sum(widths[:-1]) - 2 * (len(widths) - 1), len("input"))
    lines = []
    for row in [list(JOB_COLUMNS), *rows]:
        key = row[-1] if len(row[-1]) <= room else "…" + row[-1][-(room - 1) :]
        lines.append("  ".join(cell.ljust(w) for cell, w in zip(row[:-1], widths, strict=False)) + "  " + key)
    return [line.rstrip() for line in lines]
