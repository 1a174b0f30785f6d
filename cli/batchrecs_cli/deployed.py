"""The commands on a deployed stack (or the one ``batchrecs serve`` serves, by its endpoint): ``redrive``,
``models``, ``jobs`` and ``compare``, over ``batchrecs_ops``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from batchrecs_ops.commands import jobs, models, redrive


def add_commands(commands: Any) -> None:
    redrive_parser = commands.add_parser(
        "redrive",
        help="replay a deployed stack's failed drops (SubmitFailures, TrainFailures) into their functions",
    )
    redrive_parser.add_argument("--stack", required=True, help="the deployed stack's name")
    redrive_parser.add_argument("--region", help="the stack's region (default: the AWS CLI's)")
    redrive_parser.set_defaults(handler=redrive_command)
    models_parser = commands.add_parser(
        "models", help="list the scorer models of a stack (names, versions, metadata, which is latest)"
    )
    where = models_parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--stack", help="a deployed stack's name (its InputBucket)")
    where.add_argument("--bucket", help="the input bucket itself")
    models_parser.add_argument("--region", help="default: the AWS CLI's")
    models_parser.add_argument("--endpoint-url", help="e.g. the endpoint `batchrecs serve` prints")
    models_parser.set_defaults(handler=models_command)
    jobs_parser = commands.add_parser(
        "jobs",
        help="list a stack's jobs and rejected drops from its ledger (newest first); `jobs show NAME` shows one",
    )
    jobs_parser.add_argument("action", nargs="?", choices=["show"], help="show one job (with NAME)")
    jobs_parser.add_argument(
        "name",
        nargs="?",
        metavar="NAME",
        help="a job's name (jobName in its events), an input key for its latest drop, or a dropId for its jobs",
    )
    jobs_parser.add_argument("--stack", required=True, help="the stack's name (batchrecs-local for `batchrecs serve`)")
    jobs_parser.add_argument("--region", help="default: the AWS CLI's")
    jobs_parser.add_argument("--endpoint-url", help="e.g. the endpoint `batchrecs serve` prints")
    jobs_parser.add_argument("--limit", type=int, default=50, help="at most this many, newest first (default 50)")
    jobs_parser.add_argument("--json", action="store_true", help="one JSON object per job")
    jobs_parser.set_defaults(handler=jobs_command)
    compare_parser = commands.add_parser(
        "compare", help="a compare drop's report: the table here, its page (report.html) written or opened"
    )
    compare_parser.add_argument(
        "drop_id",
        metavar="DROPID",
        help="the drop's dropId (its events, `batchrecs jobs`), or an input key: its latest drop",
    )
    compare_parser.add_argument("--stack", required=True, help="the stack's name (batchrecs-local for `serve`)")
    compare_parser.add_argument("--region", help="default: the AWS CLI's")
    compare_parser.add_argument("--endpoint-url", help="e.g. the endpoint `batchrecs serve` prints")
    compare_parser.add_argument("--html", type=Path, help="where to write the page (default: report-DROPID.html)")
    compare_parser.add_argument("--open", action="store_true", help="open the page in a browser too")
    compare_parser.set_defaults(handler=compare_command)


def redrive_command(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    redriven = redrive(args.stack, args.region)
    if not redriven.delivered and not redriven.kept:
        print(f"nothing to redrive: stack {args.stack}'s failure queues are empty")
    for key in redriven.delivered:
        print(f"redriven, ran to its end: {key}")
    for kept in redriven.kept:
        print(f"still failing, kept in the queue: {kept}", file=sys.stderr)
    if redriven.kept:
        print(f"{len(redriven.kept)} drop(s) still fail: fix the cause above, then redrive again", file=sys.stderr)
    return 1 if redriven.kept else 0


def models_command(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    return models(args.stack, args.bucket, args.region, args.endpoint_url)


def jobs_command(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    if (args.action == "show") != (args.name is not None):
        parser.error("jobs show takes a job's name, an input key or a dropId: batchrecs jobs show NAME --stack STACK")
    if args.limit < 1:
        parser.error("--limit must be at least 1")
    return jobs(args.stack, args.region, args.endpoint_url, name=args.name, limit=args.limit, as_json=args.json)


def compare_command(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    from batchrecs_ops.compare import compare

    return compare(args.stack, args.region, args.endpoint_url, args.drop_id, html=args.html, open_page=args.open)
