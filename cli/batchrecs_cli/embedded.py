"""The embedded local stack's commands: ``batchrecs run`` (files through the stack to their end, with progress)
and ``batchrecs serve`` (the stack over HTTP, for the AWS CLI and ``sam local invoke``). The stack's heavy modules
(moto, the SAM transform) are imported by the commands, never at import."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from batchrecs.kinds import JobKind
from batchrecs.layout import HOLDOUT, INPUT, interactions_key, shard_folder
from batchrecs.lines import is_blank, iter_lines, read_chunks
from batchrecs.naming import split_uri
from batchrecs.records import kind_of_line
from batchrecs_ops.deployed import UserError

if TYPE_CHECKING:
    from batchrecs_local.stack import EventTap, LocalStack

TERMINAL = {"Job Succeeded", "Job Failed", "Input Rejected"}
SERVE_FOLDER = Path("build/serve")
"""Where `serve` writes its env.json by default (relative to where it runs), out of the user's own files."""


def add_commands(commands: Any) -> None:
    run_parser = commands.add_parser("run", help="run files through the embedded local stack to their end")
    run_parser.add_argument("files", nargs="+", type=Path, metavar="FILE")
    run_parser.add_argument("--out", type=Path, default=Path("batchrecs-output"), help="where outputs are copied")
    run_parser.add_argument(
        "--metadata",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="S3 user metadata for every file, as with aws s3 cp --metadata (repeatable)",
    )
    run_parser.add_argument(
        "--parameter",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a template.yaml parameter for the local stack (repeatable)",
    )
    run_parser.add_argument(
        "--interactions",
        type=Path,
        help="interactions CSV the emulated Personalize is trained on (default: sample data)",
    )
    run_parser.add_argument(
        "--timeout", type=float, default=300, help="seconds to wait for jobs after the drops (default 300)"
    )
    run_parser.add_argument(
        "--holdout",
        type=Path,
        action="append",
        default=[],
        metavar="CSV",
        help="an interactions CSV uploaded as holdout/<its name> first, for a compare drop's holdout= (repeatable)",
    )
    run_parser.add_argument("--verbose", action="store_true", help="show the functions' log lines on stderr")
    run_parser.set_defaults(handler=run_command)
    serve_parser = commands.add_parser(
        "serve", help="serve the local stack over HTTP for sam local invoke; print its events until Ctrl-C"
    )
    serve_parser.add_argument("--host", help="address to listen on (default: Docker's bridge gateway, else loopback)")
    serve_parser.add_argument("--port", type=int, default=0, help="default: any free port")
    serve_parser.add_argument(
        "--env-vars",
        type=Path,
        default=SERVE_FOLDER / "env.json",
        help=f"where to write sam local invoke's --env-vars (default {SERVE_FOLDER}/env.json)",
    )
    serve_parser.add_argument("--interactions", type=Path, help="CSV the emulated Personalize is trained on")
    serve_parser.add_argument(
        "--stack-name",
        default="batchrecs-local",
        help="the stack's name, as in sam deploy: its resources are named from it (default batchrecs-local)",
    )
    serve_parser.add_argument(
        "--parameter",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a template.yaml parameter for the served stack (repeatable)",
    )
    serve_parser.set_defaults(handler=serve_command)


def run_command(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    missing = [str(f) for f in args.files if not (f.is_file() or f.is_dir())]
    missing += [str(f) for f in args.holdout if not f.is_file()]
    if missing:
        parser.error(f"no such file: {', '.join(missing)}")
    names = [f.name for f in args.files]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        parser.error(
            f"two files are named {', '.join(twice)}: each is dropped as input/<file name>, so one would "
            "replace the other (and Personalize names outputs by file name): rename one"
        )
    try:
        overrides = pairs(args.metadata, "--metadata")
    except argparse.ArgumentTypeError as error:
        parser.error(str(error))
    needs_local_extra()
    parameters = checked_parameters(args.parameter)
    return run(
        args.files,
        out=args.out,
        overrides=overrides,
        interactions=args.interactions,
        timeout=args.timeout,
        parameters=parameters,
        verbose=args.verbose,
        holdouts=args.holdout,
    )


def serve_command(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    needs_local_extra()
    parameters = checked_parameters(args.parameter)
    return serve(args.host, args.port, args.env_vars, args.interactions, args.stack_name, parameters)


@dataclass
class JobState:
    """One job of a dropped file: its ARN and status while Personalize runs it, and how it ended."""

    job_arn: str | None = None
    status: str | None = None
    submitted: bool = False
    outcome: str | None = None
    shards: int | None = None
    """A fanned-out self-hosted job's shard count; ``scored``, how many have written their output so far."""
    scored: int = 0


@dataclass
class Tracked:
    """One dropped file and what is known of it so far: one job per solution version it names and part it is split
    into (its events' dropJobs)."""

    path: Path
    key: str
    expected: int = 1
    outcome: str | None = None
    """The drop's own end, when it makes no job: Input Rejected or Submit Failed."""
    jobs: dict[str, JobState] = field(default_factory=dict)
    drop_completed: bool = False
    versions: int = 1
    """The solution versions it compares: with 2 or more, a comparison report follows its Drop Completed."""
    drop_id: str | None = None
    comparison: dict[str, Any] | None = None
    """Its Comparison Ready."""
    compare_failed: bool = False

    @property
    def done(self) -> bool:
        """Ended, and every event of its story printed: events may arrive out of order (EventBridge does not
        promise order), so a job's Job Submitted can come after its Job Succeeded; a drop of several jobs ends
        with its Drop Completed, published after the last of them, and one comparing versions with its report."""
        if self.outcome is not None:
            return True
        ended = [job for job in self.jobs.values() if job.outcome is not None and job.submitted]
        announced = self.expected == 1 or self.drop_completed
        compared = self.versions < 2 or self.comparison is not None or self.compare_failed
        return len(ended) >= self.expected and announced and compared

    def label(self, job_name: str) -> str:
        return self.path.name if self.expected == 1 else f"{self.path.name} ({job_name})"


def _compared(metadata: dict[str, str]) -> int:
    """How many solution versions (or scorer models) a drop's metadata compares: its jobs per part."""
    from batchrecs.settings import COMPARED_KEYS

    listed = [len(value.split()) for key, value in metadata.items() if key.lower() in COMPARED_KEYS]
    return max([1, *listed])


def metadata_for(path: Path, overrides: dict[str, str]) -> dict[str, str]:
    """S3 user metadata for a file: its sidecar ``<file>.metadata.json`` if present, then --metadata options. With
    no solution version named, the local stack's one for the file's kind (from its first record), so that users,
    items and ranking files run together."""
    sidecar = path.with_name(path.name + ".metadata.json")
    metadata = json.loads(sidecar.read_text()) if sidecar.exists() else {}
    metadata = {**metadata, **overrides}
    if "solution-version-arn" not in {key.lower() for key in metadata}:
        kind = _first_kind(path)
        if kind is not None:
            from batchrecs_local.stack import solution_version_arn

            metadata["solution-version-arn"] = solution_version_arn(kind.value)
    return metadata


def _drop_key(path: Path) -> str:
    """Where a file is dropped (input/<name>), or a folder's marker (input/<folder>/_SUCCESS)."""
    return f"{INPUT}{path.name}/_SUCCESS" if path.is_dir() else f"{INPUT}{path.name}"


def _parts(path: Path) -> list[Path]:
    """A folder's input files, as a folder drop reads them (no hidden, ``_…`` or sidecar files); none for a file."""
    if not path.is_dir():
        return []
    return sorted(
        p
        for p in path.iterdir()
        if p.is_file() and not p.name.startswith((".", "_")) and not p.name.endswith(".metadata.json")
    )


def _first_kind(path: Path) -> JobKind | None:
    """The kind of the file's first non-blank record (None when it cannot tell: the stack then decides); a
    folder's is its first file's."""
    if path.is_dir():
        parts = _parts(path)
        return _first_kind(parts[0]) if parts else None
    with path.open("rb") as handle:
        for raw in iter_lines(read_chunks(handle)):
            if not is_blank(raw):
                return kind_of_line(raw)
    return None


def _job_status(personalize: Any, arn: str) -> str:
    """A Personalize job's status, batch segment job or batch inference job (the ARN says which)."""
    if ":batch-segment-job/" in arn:
        status: str = personalize.describe_batch_segment_job(batchSegmentJobArn=arn)["batchSegmentJob"]["status"]
    else:
        status = personalize.describe_batch_inference_job(batchInferenceJobArn=arn)["batchInferenceJob"]["status"]
    return status


def run(
    files: list[Path],
    *,
    out: Path,
    overrides: dict[str, str],
    interactions: Path | None,
    timeout: float,
    parameters: dict[str, str],
    verbose: bool = False,
    holdouts: list[Path] | None = None,
) -> int:
    """Drop each file into the local stack, print every event as one JSON line, copy outputs to ``out``.

    ``timeout`` counts the wait for jobs only, from the last drop: training and dropping do not use it up."""
    started = time.monotonic()
    # Events go to the stdout this command started with: the local stack redirects sys.stdout (process-wide)
    # while a function runs, and Step Functions runs ScoreFunction on its own thread, concurrently with this one.
    events_out = sys.stdout
    from batchrecs_local.progress import JobBoard

    board = JobBoard()

    def progress(message: str) -> None:
        board.log(f"[{time.monotonic() - started:6.1f}s] {message}")

    out = run_folder(out)
    quiet_moto(verbose)
    with board:
        progress(f"outputs go to {out}")
        interactions = _interactions_or_sample(interactions, progress)
        from batchrecs_local.stack import EventTap, LocalStack, demo_emulator

        settings = demo_emulator(interactions=interactions)
        with LocalStack(settings=settings, parameters=parameters, function_logs=verbose) as stack:
            watch = Watch(stack, EventTap(stack), out, events_out, progress, board)
            if not watch.train_scorer(interactions):
                return 1
            for holdout in holdouts or []:
                stack.drop(holdout, f"{HOLDOUT}{holdout.name}")
                progress(f"{holdout.name}: uploaded as s3://{stack.name('InputBucket')}/{HOLDOUT}{holdout.name}")
            watch.tracked = {_drop_key(path): Tracked(path=path, key=_drop_key(path)) for path in files}
            for item in watch.tracked.values():
                watch.drop(item, overrides)
            watch.until_done(timeout)
        tracked = watch.tracked.values()
        total = sum(item.expected for item in tracked)
        succeeded = sum(job.outcome == "Job Succeeded" for item in tracked for job in item.jobs.values())
        progress(f"{succeeded} of {total} jobs succeeded; outputs in {out}")
    for item in tracked:
        if item.comparison is not None:
            _print_comparison(out / item.comparison["dropId"] / "report.json")
    return 0 if succeeded == total else 1


def _print_comparison(report: Path) -> None:
    """A compare drop's table, on stderr after the run's progress (stdout has only events)."""
    from batchrecs.comparison import ComparisonReport
    from batchrecs_ops.compare import comparison_table

    print(f"\ncomparison ({report.parent / 'report.html'}):", file=sys.stderr)
    for line in comparison_table(ComparisonReport.model_validate_json(report.read_bytes())):
        print(line, file=sys.stderr)


@dataclass
class Watch:
    """A run's view of the stack: what it dropped, and each event and job status as it comes."""

    stack: LocalStack
    tap: EventTap
    out: Path
    events_out: Any
    progress: Callable[[str], None]
    board: Any
    tracked: dict[str, Tracked] = field(default_factory=dict)

    def train_scorer(self, interactions: Path) -> bool:
        model = self.stack.template.parameters["ScorerModelName"]
        (training,) = self.stack.drop(interactions.read_bytes(), interactions_key(model))
        if training.error:
            self.progress(f"training the scorer model failed: {training.error}")
            return False
        if not training.result["models"]:  # Model Rejected: the reason is in its event
            rejected = [e for e in self.tap.drain() if e["detail-type"] == "Model Rejected"]
            reason = rejected[0]["detail"]["reason"] if rejected else "see the Model Rejected event"
            self.progress(f"training the scorer model failed: {reason}")
            return False
        (trained,) = training.result["models"]
        self.progress(
            f"scorer model {model!r} trained from {interactions.name} (version {trained['version']}): "
            "small jobs run self-hosted"
        )
        return True

    def drop(self, item: Tracked, overrides: dict[str, str]) -> None:
        """Drop a file, or a folder's files and then its marker (its files wait for it)."""
        stack, progress = self.stack, self.progress
        progress(f"{item.path.name}: dropped as s3://{stack.name('InputBucket')}/{item.key}")
        self.board.update(item.path.name, "dropped")
        metadata = metadata_for(item.path, overrides)
        item.expected = item.versions = _compared(metadata)
        for part in _parts(item.path):
            for invocation in stack.drop(part, f"{INPUT}{item.path.name}/{part.name}"):
                if invocation.error:
                    progress(f"{part.name}: SubmitFunction failed: {invocation.error}")
        body: Path | bytes = b"" if item.path.is_dir() else item.path
        for invocation in stack.drop(body, item.key, metadata):
            if invocation.error:
                item.outcome = "Submit Failed"
                progress(
                    f"{item.path.name}: SubmitFunction failed after {invocation.attempts} attempts: "
                    f"{invocation.error} (kept in the on-failure queue)"
                )

    def until_done(self, timeout: float) -> None:
        """Report events and job statuses until every drop ended, or ``timeout`` seconds passed."""
        waiting_since = time.monotonic()
        while not all(item.done for item in self.tracked.values()):
            if time.monotonic() - waiting_since > timeout:
                # One last look: a job that finished meanwhile is reported and copied, never dropped.
                self.report(self.tap.drain())
                unfinished = [item.path.name for item in self.tracked.values() if not item.done]
                if unfinished:
                    self.progress(f"gave up waiting after {timeout:.0f}s for: {', '.join(unfinished)}")
                return
            self.report(self.tap.drain())
            self.poll_jobs()
            time.sleep(0.2)

    def poll_jobs(self) -> None:
        """A fanned-out job's shards scored so far; a Personalize job's status when it changed; a comparison that
        could not be written."""
        personalize = self.stack.client("personalize")
        for item in self.tracked.values():
            if item.drop_id and item.versions > 1 and item.comparison is None and not item.compare_failed:
                item.compare_failed = self._no_report(item)
            for name, job in item.jobs.items():
                if job.outcome is not None:
                    continue
                if job.shards:
                    self.shard_progress(item.label(name), name, job)
                if job.job_arn:
                    current = _job_status(personalize, job.job_arn)
                    if current != job.status:
                        job.status = current
                        self.progress(f"{item.label(name)}: Personalize job {job.status}")
                        self.board.update(item.label(name), f"Personalize {job.status}")

    def report(self, events: list[dict[str, Any]]) -> None:
        """Print each event as one JSON line, note what it says of its file, and copy a finished job's outputs."""
        for event in events:
            if event["detail-type"] in MODEL_EVENTS:  # the run's own training, which its progress reports
                continue
            print(json.dumps(event, sort_keys=True), file=self.events_out, flush=True)
            item = self.tracked.get(event["detail"]["input"]["key"])
            if item is not None:
                self.note(item, event)

    def note(self, item: Tracked, event: dict[str, Any]) -> None:
        detail_type, detail = event["detail-type"], event["detail"]
        name = detail.get("jobName")
        if detail_type == "Drop Completed":  # after its jobs' own ends, which say the rest
            self.progress(
                f"{item.path.name}: Drop Completed, {detail['succeeded']} of {len(detail['jobs'])} jobs succeeded"
            )
            item.drop_completed, item.drop_id = True, detail["dropId"]
            return
        if detail_type == "Comparison Ready":
            item.comparison = detail
            for uri in (detail["report"], detail["html"]):
                self.stack.save_object(*split_uri(uri), self.out / detail["dropId"] / uri.rsplit("/", 1)[-1])
            self.progress(f"{item.path.name}: Comparison Ready, {self.out / detail['dropId'] / 'report.html'}")
            return
        if name is None:  # Input Rejected: the drop made no (more) jobs
            item.outcome = detail_type
            self.progress(f"{item.path.name}: {detail_type}")
            self.board.update(item.path.name, detail_type)
            return
        job = item.jobs.setdefault(name, JobState())
        item.expected = max(item.expected, detail.get("dropJobs", 1))  # parts × versions compared
        job.job_arn = detail.get("jobArn") or job.job_arn
        job.submitted = job.submitted or detail_type == "Job Submitted"
        job.shards = detail.get("shards") or job.shards
        if detail_type in TERMINAL:
            job.outcome = detail_type
            _copy_outputs(self.stack, event, self.out)
        self.progress(f"{item.label(name)}: {detail_type}{_counted(detail)}")
        self.board.update(item.label(name), detail_type)

    def _no_report(self, item: Tracked) -> bool:
        """Has the drop's execution ended without Comparison Ready (its report failed, or the drop gets none: a
        segment drop)? It publishes the event before it ends, so one last look at the bus first."""
        from batchrecs.execution import drop_execution_name

        machine = self.stack.name("JobStateMachine")
        arn = f"{machine.replace(':stateMachine:', ':execution:')}:{drop_execution_name(item.drop_id or '')}"
        status = self.stack.client("stepfunctions").describe_execution(executionArn=arn)["status"]
        if status == "RUNNING":
            return False
        self.report(self.tap.drain())
        if item.comparison is None and status != "SUCCEEDED":
            self.progress(f"{item.path.name}: its comparison report could not be written ({status})")
        return item.comparison is None

    def shard_progress(self, label: str, name: str, job: JobState) -> None:
        """A fanned-out job's shards scored so far: the outputs waiting for the merge under shards/<job>/ (the
        merge deletes them, so the count only ever rises here)."""
        listed = self.stack.client("s3").list_objects_v2(
            Bucket=self.stack.name("OutputBucket"), Prefix=shard_folder(name)
        )
        scored = listed.get("KeyCount", 0)
        if scored > job.scored:
            job.scored = scored
            self.progress(f"{label}: {scored} of {job.shards} shards scored")
            self.board.update(label, f"{scored}/{job.shards} shards scored")


def _interactions_or_sample(interactions: Path | None, progress: Callable[[str], None]) -> Path:
    """The emulated solution versions need something to be trained on: the given CSV, else sample data."""
    if interactions is not None:
        return interactions
    from batchrecs_local.sample_data import write_sample_data

    # Seeded, so always the same: written once per machine and reused, never a new folder per run.
    sample = Path(tempfile.gettempdir()) / "batchrecs-sample"
    if not (sample / "interactions.csv").is_file():
        write_sample_data(sample)
    progress(f"no --interactions: the emulated Personalize is trained on sample data ({sample / 'interactions.csv'})")
    return sample / "interactions.csv"


MODEL_EVENTS = frozenset({"Model Trained", "Model Rejected"})
"""Events of model drops: `run` reports its own training in its progress; stdout carries the files' events."""


def needs_local_extra() -> None:
    """The embedded stack's packages, imported before anything is touched: without the ``local`` extra, the
    ModuleNotFoundError names the module, and ``batchrecs_cli.main`` says which extra to install."""
    import cfnlint  # noqa: F401
    import moto  # noqa: F401
    import samtranslator  # noqa: F401


def quiet_moto(verbose: bool) -> None:
    """moto's Step Functions interpreter logs each Choice over an absent path as an error, with the state
    machine's whole repr, and warns of every ToleratedFailurePercentagePath it parses: noise to a user of the stack
    (the events say how every job ended). ``--verbose`` keeps them."""
    if not verbose:
        logging.getLogger("moto.stepfunctions.parser").setLevel(logging.CRITICAL)


def run_folder(out: Path) -> Path:
    """This run's own folder under ``out`` (``run-20261206T231500Z``, with ``-2`` … if that exists): earlier runs'
    outputs, and anything else in ``out``, are never touched."""
    stamp = datetime.now(UTC).strftime("run-%Y%m%dT%H%M%SZ")
    folder, n = out / stamp, 1
    while folder.exists():
        n += 1
        folder = out / f"{stamp}-{n}"
    return folder


def checked_parameters(values: list[str]) -> dict[str, str]:
    """``--parameter`` values, held to template.yaml's own constraints as a deploy would hold them: a UserError (exit
    2) in one line naming the constraint, before anything starts."""
    from batchrecs_local.parameters import ParameterError, check
    from batchrecs_local.template import TEMPLATE, read_source

    try:
        given = pairs(values, "--parameter")
        check(read_source(TEMPLATE).get("Parameters", {}), given)
    except (argparse.ArgumentTypeError, ParameterError) as error:
        raise UserError(str(error), code=2) from None
    return given


def serve(
    host: str | None,
    port: int,
    env_file: Path,
    interactions: Path | None,
    stack_name: str = "batchrecs-local",
    parameters: dict[str, str] | None = None,
) -> int:
    """Serve the local stack over HTTP until Ctrl-C: any AWS client may drive it (an upload under input/ fires
    SubmitFunction through the bucket's notification configuration, as on AWS). Every event is printed on stdout as
    one JSON line; everything else goes to stderr."""
    from batchrecs_local import sam_local

    events_out = sys.stdout  # the local stack sends function logs to stderr while they run, process-wide

    def progress(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    if host is None:
        host = sam_local.bridge_gateway() if sam_local.docker_answers() else "127.0.0.1"
    from batchrecs_local.stack import EventTap, LocalStack, demo_emulator

    quiet_moto(verbose=False)
    settings = demo_emulator(interactions=_interactions_or_sample(interactions, progress))
    with (
        LocalStack(settings=settings, stack_name=stack_name, parameters=parameters) as stack,
        stack.serve(host, port) as endpoint,
    ):
        tap = EventTap(stack)
        env_file.parent.mkdir(parents=True, exist_ok=True)
        env_file.write_text(json.dumps(sam_local.env_vars(stack, endpoint), indent=2) + "\n")
        bucket = stack.name("InputBucket")
        progress(f"local stack served at {endpoint}")
        progress(banner(stack.region, endpoint, bucket, stack.template.parameters["ScorerModelName"]))
        if (sam_local.BUILD / "template.yaml").exists():
            progress(
                f"or invoke a built function with: AWS_ENDPOINT_URL={endpoint} sam local invoke FUNCTION -e events/… "
                f"--env-vars {env_file.resolve()} --template {sam_local.invoke_template()} --skip-pull-image"
            )
        progress("events follow on stdout, one JSON line each; Ctrl-C stops")
        try:
            while True:
                for event in tap.drain():
                    print(json.dumps(event), file=events_out, flush=True)
                time.sleep(0.2)
        except KeyboardInterrupt:
            return 0


def _counted(detail: dict[str, Any]) -> str:
    """What a job's end says its output holds, for its progress line (nothing when it was not counted)."""
    counts = detail.get("counts")
    if not counts:
        return ""
    first = counts["errors"][0] if counts["errors"] else None
    example = f"; line {first['line']}: {first['error'][:80]}" if first else ""
    return f", {counts['lines']:,} lines, {counts['errorLines']:,} error lines ({counts['errorPercent']}%){example}"


def banner(region: str, endpoint: str, bucket: str, model: str) -> str:
    """How to use the served stack: the AWS CLI's settings, then a ready upload per kind, each naming the local
    solution version of its recipe (users run on the stack's default, SolutionVersionArn), and the model drop."""
    from batchrecs_local.demo import DEMO_RECIPES, solution_version_arn

    aws = f"aws --endpoint-url {endpoint} s3 cp"
    lines = [
        f"with AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION={region} set, drop files:",
        f"  {aws} users.jsonl s3://{bucket}/input/",
    ]
    for kind, recipe in DEMO_RECIPES.items():
        if kind != "users":
            arn = solution_version_arn(kind, region)
            lines.append(
                f"  {aws} {kind}.jsonl s3://{bucket}/input/ --metadata solution-version-arn={arn}"
                f"   # {recipe.rsplit('/', 1)[-1]}"
            )
    lines.append(f"and train a scorer model: {aws} interactions.csv s3://{bucket}/models/{model}/interactions.csv")
    lines.append("only keys under input/ and models/ act; a file anywhere else is stored, and nothing more")
    return "\n".join(lines)


def _copy_outputs(stack: LocalStack, event: dict[str, Any], out: Path) -> None:
    if event["detail-type"] != "Job Succeeded":
        return
    detail = event["detail"]
    # Jobs that compare solution versions on one drop sit side by side: <out>/<drop id>/<job name>/.
    folder = (
        out / detail["jobName"]
        if detail.get("dropId") in (None, detail["jobName"])
        else out / detail["dropId"] / detail["jobName"]
    )
    for uri in detail["output"]["files"]:
        bucket, key = split_uri(uri)
        target = folder / key.rsplit("/", 1)[-1]
        target.parent.mkdir(parents=True, exist_ok=True)
        stack.save_object(bucket, key, target)  # a chunk at a time: outputs can be gigabytes


def pairs(values: list[str], option: str) -> dict[str, str]:
    pairs = {}
    for value in values:
        key, sep, val = value.partition("=")
        if not sep:
            raise argparse.ArgumentTypeError(f"{option} takes KEY=VALUE, got {value!r}")
        pairs[key] = val
    return pairs
