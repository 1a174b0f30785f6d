"""The commands on a deployed stack: its scorer models, its job ledger, and a redrive of its failed drops."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

from batchrecs.layout import INPUT, MODELS, latest_key, report_key
from batchrecs_ops.deployed import Deployed, UserError, aws_errors
from batchrecs_ops.redrive import Redriven, deployed

if TYPE_CHECKING:
    from batchrecs.adapters.ledger import JobLedger


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


JOB_COLUMNS = ("drop or job", "status", "backend", "kind", "finished", "input/")
"""The table's columns: a job, a rejected drop (no job: "-"), or a drop of several jobs (a folder, a split or a
comparison) as one row by its dropId. `jobs show` and `--json` give the rest (versions, times, output, events)."""
TABLE_WIDTH = 100


def jobs(
    stack: str, region: str | None, endpoint_url: str | None, *, name: str | None, limit: int, as_json: bool
) -> int:
    """``batchrecs jobs``: the stack's job ledger (JobsTable), newest first, rejected drops included; ``jobs show
    NAME``: one job with its events, the latest drop of an input key, or every job of a drop by its dropId."""
    from batchrecs.adapters.ledger import JobLedger

    deployed = Deployed(stack, region=region, endpoint_url=endpoint_url)
    with aws_errors(stack):
        ledger = JobLedger(deployed.client("dynamodb"), deployed.name("JobsTable"))
        if name is not None:
            print(json.dumps(shown(ledger, deployed, name), indent=2))
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


def shown(ledger: JobLedger, deployed: Deployed, name: str) -> dict[str, Any]:
    """What `jobs show NAME` prints: for an input key (job names have no "/"), the key's latest drop (its job, each
    job of a drop of several, or its rejection); else the job of that name, or each job of the drop of that id."""
    if "/" in name:
        latest = next(ledger.jobs(1, input_key=name), None)
        if latest is not None and latest.drop_jobs > 1 and latest.drop_id:
            return drop_shown(ledger, latest.drop_id)
        if latest is not None:
            return latest.to_wire()
        report = latest_report(deployed, name)  # rejected before the ledger kept rejections, or its event was lost
        if report is not None:
            raise UserError(f"no job for {name!r}: it was rejected; its report is {report}")
    else:
        job = ledger.job(name)
        if job is not None:
            return job.to_wire()
        drop = drop_shown(ledger, name)
        if drop["jobs"]:
            return drop
    stack = deployed.stack
    raise UserError(f"no job or drop {name!r} in stack {stack!r}'s ledger: `batchrecs jobs --stack {stack}` lists them")


def drop_shown(ledger: JobLedger, drop_id: str) -> dict[str, Any]:
    """Each job of a drop: those whose items name the drop, and those its own item lists (a drop recorded before
    job items named their drop)."""
    jobs = {str(entry.job_name): entry for entry in ledger.jobs(drop_id=drop_id)}
    for name in ledger.drop_job_names(drop_id):
        if name not in jobs and (job := ledger.job(name)) is not None:
            jobs[name] = job
    return {"dropId": drop_id, "jobs": [jobs[name].to_wire() for name in sorted(jobs)]}


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
    """The jobs as a table at most ``width`` columns wide: a drop of several jobs as one row by its dropId, the
    finishing time to the minute (UTC, month-day), and the input's key under input/ (where every drop is). The key
    keeps at least KEY_ROOM columns: past that, the name column gives way first (cut in its middle, its hash kept),
    then the key (cut from the left, its file name kept); `jobs show` and --json have both whole."""
    rows = [_row(group) for group in _by_drop(entries)]
    widths = [max(len(column), *(len(row[i]) for row in rows)) for i, column in enumerate(JOB_COLUMNS)]
    gaps = 2 * (len(widths) - 1)
    widths[0] = max(len("drop or job") + 2, min(widths[0], width - sum(widths[1:-1]) - gaps - KEY_ROOM))
    room = max(width - sum(widths[:-1]) - gaps, len("input"))
    lines = []
    for row in [list(JOB_COLUMNS), *rows]:
        row[0] = _middle_cut(row[0], widths[0])
        key = row[-1] if len(row[-1]) <= room else "…" + row[-1][-(room - 1) :]
        lines.append("  ".join(cell.ljust(w) for cell, w in zip(row[:-1], widths, strict=False)) + "  " + key)
    return [line.rstrip() for line in lines]


KEY_ROOM = 16
"""The input key's least room in the table (a file name under input/), when names are long."""


def _middle_cut(text: str, room: int) -> str:
    """``text`` in ``room`` characters, cut in its middle with … (a job name keeps its start and its hash)."""
    if len(text) <= room:
        return text
    tail = (room - 1) // 2
    return text[: room - 1 - tail] + "…" + text[-tail:]


def _by_drop(entries: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The entries grouped into drops, in the order of each drop's newest entry: a job of a drop that made several
    joins its drop's group; any other entry is a group of its own."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for n, entry in enumerate(entries):
        several = (entry.get("dropJobs") or 1) > 1 and entry.get("dropId")
        groups.setdefault(str(entry["dropId"]) if several else f"#{n}", []).append(entry)
    return list(groups.values())


def _row(group: list[dict[str, Any]]) -> list[str]:
    first = group[0]
    finished = [str(entry.get("finishedAt") or "") for entry in group]
    if len(group) == 1 and (first.get("dropJobs") or 1) == 1:
        name, status = str(first.get("jobName") or "-"), str(first["status"])
    else:
        name, status = str(first.get("dropId") or first["jobName"]), _drop_status(group, int(first["dropJobs"]))
    backends = sorted({str(entry.get("backend") or "-") for entry in group})
    ended = all(finished) and len(group) >= (first.get("dropJobs") or 1)
    when = max(finished)[5:16].replace("T", " ") if ended else "-"
    key = str(first.get("input") or "-").removeprefix("s3://").split("/", 1)[-1].removeprefix(INPUT)
    return [name, status, "/".join(backends), str(first.get("kind") or "-"), when, key]


def _drop_status(group: list[dict[str, Any]], expected: int) -> str:
    """A drop's jobs in one word per status (``ACTIVE×2``), and how many of its jobs are listed if not all (the
    others are past --limit, or not submitted yet: `jobs show DROPID` shows every one)."""
    counts: dict[str, int] = {}
    for entry in group:
        counts[str(entry["status"])] = counts.get(str(entry["status"]), 0) + 1
    said = ",".join(f"{status}×{count}" for status, count in sorted(counts.items()))
    return said if len(group) >= expected else f"{said} +{expected - len(group)} more"
