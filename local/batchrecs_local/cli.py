"""The ``batchrecs`` command: run files through the embedded local stack, and make the demo's data.

Heavy modules (moto, the SAM transform, numpy) are imported by the commands that use them, so that ``--help`` and
``validate`` start at once, and work from a plain ``pip install .`` without the ``local`` extra."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from batchrecs.layout import INPUT, interactions_key, shard_folder
from batchrecs.settings import CAUTIOUS_MAX, DEFAULT_NUM_RESULTS, JobKind
from batchrecs.split import Piece, splitter_for
from batchrecs.validation import (
    Limits,
    ValidationReport,
    is_blank,
    iter_lines,
    kind_of_line,
    read_chunks,
    validate_file,
)
from batchrecs_ops.commands import jobs, models, redrive
from batchrecs_ops.deployed import UserError

if TYPE_CHECKING:
    from batchrecs_local.stack import LocalStack

TERMINAL = {"Job Succeeded", "Job Failed", "Input Rejected"}


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

    @property
    def done(self) -> bool:
        """Ended, and every event of its story printed: events may arrive out of order (EventBridge does not
        promise order), so a job's Job Submitted can come after its Job Succeeded; a drop of several jobs ends
        with its Drop Completed, published after the last of them."""
        if self.outcome is not None:
            return True
        ended = [job for job in self.jobs.values() if job.outcome is not None and job.submitted]
        return len(ended) >= self.expected and (self.expected == 1 or self.drop_completed)

    def label(self, job_name: str) -> str:
        return self.path.name if self.expected == 1 else f"{self.path.name} ({job_name})"


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

    with board:
        _clear_earlier_outputs(out, progress)
        interactions = _interactions_or_sample(interactions, progress)
        from batchrecs_local.stack import EventTap, LocalStack, demo_emulator

        settings = demo_emulator(interactions=interactions)
        with LocalStack(settings=settings, parameters=parameters, function_logs=verbose) as stack:
            tap = EventTap(stack)
            model = stack.template.parameters["ScorerModelName"]
            (training,) = stack.drop(interactions.read_bytes(), interactions_key(model))
            if training.error:
                progress(f"training the scorer model failed: {training.error}")
                return 1
            (trained,) = training.result["models"]
            progress(
                f"scorer model {model!r} trained from {interactions.name} (version {trained['version']}): "
                "small jobs run self-hosted"
            )
            tracked = {_drop_key(path): Tracked(path=path, key=_drop_key(path)) for path in files}
            for item in tracked.values():
                progress(f"{item.path.name}: dropped as s3://{stack.name('InputBucket')}/{item.key}")
                board.update(item.path.name, "dropped")
                metadata = metadata_for(item.path, overrides)
                item.expected = max(1, len(metadata.get("solution-version-arn", "").split()))
                for part in _parts(item.path):  # a folder's files wait for its marker, dropped last
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
            personalize = stack.client("personalize")
            waiting_since = time.monotonic()
            while not all(item.done for item in tracked.values()):
                if time.monotonic() - waiting_since > timeout:
                    # One last look: a job that finished meanwhile is reported and copied, never dropped.
                    _report(tap.drain(), tracked, stack, out, events_out, progress, board)
                    unfinished = [item.path.name for item in tracked.values() if not item.done]
                    if unfinished:
                        progress(f"gave up waiting after {timeout:.0f}s for: {', '.join(unfinished)}")
                    break
                _report(tap.drain(), tracked, stack, out, events_out, progress, board)
                for item in tracked.values():
                    for name, job in item.jobs.items():
                        if job.shards and job.outcome is None:
                            _shard_progress(stack, item.label(name), name, job, progress, board)
                        if job.job_arn and job.outcome is None:
                            current = _job_status(personalize, job.job_arn)
                            if current != job.status:
                                job.status = current
                                progress(f"{item.label(name)}: Personalize job {job.status}")
                                board.update(item.label(name), f"Personalize {job.status}")
                time.sleep(0.2)
        total = sum(item.expected for item in tracked.values())
        succeeded = sum(job.outcome == "Job Succeeded" for item in tracked.values() for job in item.jobs.values())
        progress(f"{succeeded} of {total} jobs succeeded; outputs in {out}")
        return 0 if succeeded == total else 1


def _report(
    events: list[dict[str, Any]],
    tracked: dict[str, Tracked],
    stack: LocalStack,
    out: Path,
    events_out: Any,
    progress: Callable[[str], None],
    board: Any,
) -> None:
    """Print each event as one JSON line, note what it says of its file, and copy a finished job's outputs."""
    for event in events:
        print(json.dumps(event, sort_keys=True), file=events_out, flush=True)
        item = tracked.get(event["detail"]["input"]["key"])
        if item is None:
            continue
        detail_type, name = event["detail-type"], event["detail"].get("jobName")
        if detail_type == "Drop Completed":  # after its jobs' own ends, which say the rest
            detail = event["detail"]
            progress(f"{item.path.name}: Drop Completed, {detail['succeeded']} of {len(detail['jobs'])} jobs succeeded")
            item.drop_completed = True
            continue
        if name is None:  # Input Rejected: the drop made no (more) jobs
            item.outcome = detail_type
            progress(f"{item.path.name}: {detail_type}")
            board.update(item.path.name, detail_type)
            continue
        job = item.jobs.setdefault(name, JobState())
        item.expected = max(item.expected, event["detail"].get("dropJobs", 1))  # parts × versions compared
        job.job_arn = event["detail"].get("jobArn") or job.job_arn
        job.submitted = job.submitted or detail_type == "Job Submitted"
        job.shards = event["detail"].get("shards") or job.shards
        if detail_type in TERMINAL:
            job.outcome = detail_type
            _copy_outputs(stack, event, out)
        progress(f"{item.label(name)}: {detail_type}")
        board.update(item.label(name), detail_type)


def _shard_progress(
    stack: LocalStack, label: str, name: str, job: JobState, progress: Callable[[str], None], board: Any
) -> None:
    """A fanned-out job's shards scored so far: the outputs waiting for the merge under shards/<job>/ (the merge
    deletes them, so the count only ever rises here)."""
    listed = stack.client("s3").list_objects_v2(Bucket=stack.name("OutputBucket"), Prefix=shard_folder(name))
    scored = listed.get("KeyCount", 0)
    if scored > job.scored:
        job.scored = scored
        progress(f"{label}: {scored} of {job.shards} shards scored")
        board.update(label, f"{scored}/{job.shards} shards scored")


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


def _clear_earlier_outputs(out: Path, progress: Callable[[str], None]) -> None:
    """Remove the job folders earlier runs copied into ``out`` (``br-*`` folders holding only ``.out`` files, or
    only such folders, for drops that compared solution versions); anything else there is the user's and stays."""

    def outputs_only(folder: Path, depth: int = 1) -> bool:
        return folder.is_dir() and all(
            (f.is_file() and f.suffix == ".out") or (depth > 0 and f.name.startswith("br-") and outputs_only(f, 0))
            for f in folder.iterdir()
        )

    stale = [folder for folder in (out.glob("br-*") if out.is_dir() else []) if outputs_only(folder)]
    for folder in stale:
        for file in sorted(folder.rglob("*"), reverse=True):
            file.rmdir() if file.is_dir() else file.unlink()
        folder.rmdir()
    if stale:
        progress(f"removed {len(stale)} job folder(s) of earlier runs from {out}")


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

    settings = demo_emulator(interactions=_interactions_or_sample(interactions, progress))
    with (
        LocalStack(settings=settings, stack_name=stack_name, parameters=parameters) as stack,
        stack.serve(host, port) as endpoint,
    ):
        tap = EventTap(stack)
        env_file.write_text(json.dumps(sam_local.env_vars(stack, endpoint), indent=2) + "\n")
        bucket = stack.name("InputBucket")
        progress(f"local stack served at {endpoint}")
        progress(
            "drop a file with:\n"
            f"  AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION={stack.region} "
            f"aws --endpoint-url {endpoint} s3 cp users.jsonl s3://{bucket}/input/\n"
            f"train a scorer model with the same command on an interactions CSV, to "
            f"s3://{bucket}/models/{stack.template.parameters['ScorerModelName']}/interactions.csv"
        )
        if (sam_local.BUILD / "template.yaml").exists():
            progress(
                f"or invoke a built function with: AWS_ENDPOINT_URL={endpoint} sam local invoke FUNCTION -e events/… "
                f"--env-vars {env_file} --template {sam_local.invoke_template()} --skip-pull-image"
            )
        progress("events follow on stdout, one JSON line each; Ctrl-C stops")
        try:
            while True:
                for event in tap.drain():
                    print(json.dumps(event), file=events_out, flush=True)
                time.sleep(0.2)
        except KeyboardInterrupt:
            return 0


def train(csv_path: Path, directory: Path, *, algorithm: str | None) -> int:
    """Train as TrainFunction does and write MODEL_DIR/model.npz and metadata.json."""
    from batchrecs_local.progress import stage
    from scorer.interactions import Interactions, InteractionsError
    from scorer.model import Model

    try:
        with csv_path.open(newline="") as handle, stage(f"reading {csv_path.name} and training"):
            model = Model.train(Interactions.read_csv(handle, name=str(csv_path)), algorithm=algorithm)
    except InteractionsError as error:
        raise UserError(
            f"{error}; an interactions CSV has a header USER_ID,ITEM_ID,TIMESTAMP and one interaction a line"
        ) from None
    model.save_dir(directory)
    print(json.dumps(model.metadata))
    return 0


def score(
    input_path: Path,
    directory: Path,
    output: Path,
    *,
    num_results: int,
    kind: str | None,
    exclude_seen: bool = False,
    max_num_results: int = CAUTIOUS_MAX,
) -> int:
    """Score as ScoreFunction does, after the same validation and limits as SubmitFunction: Personalize's output
    format, one line per input record."""
    if not 1 <= num_results <= max_num_results:
        raise UserError(f"--num-results must be between 1 and {max_num_results} (MaxNumResults), not {num_results}", 2)
    if not (directory / "model.npz").is_file():
        raise UserError(f"no model in {directory}: train one with `batchrecs train INTERACTIONS.csv -o {directory}`", 2)
    report = validate_file(input_path, kind=JobKind(kind) if kind else None)
    if not report.valid:
        print(describe(report), file=sys.stderr)
        raise UserError(f"{input_path} is not valid input; nothing was scored")
    if report.kind is not None and report.kind.is_segment:
        raise UserError(
            f"{input_path} holds {report.kind} segment queries: batch segment jobs run in Personalize (drop the file "
            "with an Item-Affinity or Item-Attribute-Affinity solution version); `score` scores users, items and "
            "ranking files",
            2,
        )
    from scorer.model import Model
    from scorer.score import score_lines

    model = Model.load(directory / "model.npz")
    kind = (report.kind or JobKind.USERS).value
    with input_path.open("rb") as handle:  # framed as the validator frames lines: LF, never a bare CR
        lines = [raw for raw in iter_lines(read_chunks(handle)) if not is_blank(raw)]
    output.parent.mkdir(parents=True, exist_ok=True)
    from batchrecs_local.progress import counted

    scored = counted(
        score_lines(model, lines, kind=kind, num_results=num_results, exclude_seen=exclude_seen),
        "records scored",
        total=len(lines),
    )
    with output.open("wb") as handle:
        count = sum(handle.write(line) > 0 for line in scored)
    print(f"{count:,} {kind} records scored into {output}", file=sys.stderr)
    return 0


def validate(files: list[Path], *, kind: str | None, max_item_list: int, as_json: bool) -> int:
    """Print each file's verdict (a person's summary, or the JSON report, with the parts of a file SubmitFunction
    would split); 1 if any file is invalid."""
    themes = kind == "themes"
    job_kind = JobKind.ITEMS if themes else JobKind(kind) if kind else None
    limits = Limits.for_mode(themes=themes, max_item_list=max_item_list, kind=job_kind)  # as SubmitFunction's
    invalid = 0
    for path in files:
        splitter = splitter_for(path.stat().st_size, limits.max_bytes, limits.max_records)
        report = validate_file(path, kind=job_kind, limits=limits, splitter=splitter)
        parts = splitter.pieces if splitter is not None and report.valid and len(splitter.pieces) > 1 else []
        invalid += not report.valid
        wire = {**report.to_wire(), **({"parts": [part.to_wire() for part in parts]} if parts else {})}
        print(json.dumps(wire) if as_json else describe(report, parts))
    return 1 if invalid else 0


def describe(report: ValidationReport, parts: list[Piece] | None = None) -> str:
    """A report as a person reads it: the verdict, then each kept problem with its line and an excerpt, or the
    parts a file over one job's limits runs as."""
    kind = report.kind.value if report.kind else "unknown kind"
    if report.valid:
        verdict = f"{report.file}: valid ({kind}, {report.records:,} records)"
        if not parts:
            return verdict
        shown = ", ".join(f"{part.first_line:,}-{part.last_line:,}" for part in parts[:SHOWN_PARTS])
        more = f" and {len(parts) - SHOWN_PARTS:,} more" if len(parts) > SHOWN_PARTS else ""
        return f"{verdict}; over one job's limits, it runs as {len(parts):,} jobs, of lines {shown}{more}"
    lines = [
        f"{report.file}: INVALID ({kind}, {report.records:,} records, {report.error_count:,} "
        f"{'error' if report.error_count == 1 else 'errors'})"
    ]
    for problem in report.errors:
        where = f"line {problem.line}" if problem.line else "file"
        lines.append(f"  {where}{', ' + problem.field if problem.field else ''}: {problem.message}")
        if problem.excerpt:
            lines.append(f"      {problem.excerpt}")
    if report.error_count > len(report.errors):
        lines.append(f"  … and {report.error_count - len(report.errors):,} more")
    return "\n".join(lines)


SHOWN_PARTS = 5


def _copy_outputs(stack: LocalStack, event: dict[str, Any], out: Path) -> None:
    if event["detail-type"] != "Job Succeeded":
        return
    from batchrecs.naming import split_uri

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


def _pairs(values: list[str], option: str) -> dict[str, str]:
    pairs = {}
    for value in values:
        key, sep, val = value.partition("=")
        if not sep:
            raise argparse.ArgumentTypeError(f"{option} takes KEY=VALUE, got {value!r}")
        pairs[key] = val
    return pairs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="batchrecs", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
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
    run_parser.add_argument("--verbose", action="store_true", help="show the functions' log lines on stderr")
    validate_parser = commands.add_parser(
        "validate", help="check files as SubmitFunction does: exit 0 valid, 1 invalid, 2 usage error"
    )
    validate_parser.add_argument("files", nargs="+", type=Path, metavar="FILE")
    validate_parser.add_argument(
        "--kind",
        choices=[*[k.value for k in JobKind], "themes"],
        help="the record kind (default: from the data); themes = items, at most 100",
    )
    validate_parser.add_argument(
        "--max-item-list", type=int, default=CAUTIOUS_MAX, help=f"longest itemList accepted (default {CAUTIOUS_MAX})"
    )
    validate_parser.add_argument("--json", action="store_true", help="print the JSON report SubmitFunction writes")
    train_parser = commands.add_parser("train", help="train a scorer model from an interactions CSV")
    train_parser.add_argument("csv", type=Path, metavar="CSV")
    train_parser.add_argument("-o", "--output", type=Path, required=True, metavar="MODEL_DIR")
    train_parser.add_argument("--algorithm", choices=["ease", "ials", "svd"], help="default: by catalogue size")
    score_parser = commands.add_parser("score", help="score a JSON Lines file with a model, as ScoreFunction does")
    score_parser.add_argument("input", type=Path, metavar="INPUT.jsonl")
    score_parser.add_argument("--model", type=Path, required=True, metavar="MODEL_DIR")
    score_parser.add_argument("-o", "--output", type=Path, required=True, metavar="OUTPUT.out")
    score_parser.add_argument(
        "--num-results", type=int, default=DEFAULT_NUM_RESULTS, help=f"1 to 500 (default {DEFAULT_NUM_RESULTS})"
    )
    score_parser.add_argument("--exclude-seen", action="store_true", help="drop each user's past items")
    score_parser.add_argument(
        "--kind",
        choices=[k.value for k in JobKind if not k.is_segment],
        help="default: from the first record (segment jobs run in Personalize only)",
    )
    redrive_parser = commands.add_parser(
        "redrive",
        help="replay a deployed stack's failed drops (SubmitFailures, TrainFailures) into their functions",
    )
    redrive_parser.add_argument("--stack", required=True, help="the deployed stack's name")
    redrive_parser.add_argument("--region", help="the stack's region (default: the AWS CLI's)")
    models_parser = commands.add_parser(
        "models", help="list the scorer models of a stack (names, versions, metadata, which is latest)"
    )
    where = models_parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--stack", help="a deployed stack's name (its InputBucket)")
    where.add_argument("--bucket", help="the input bucket itself")
    models_parser.add_argument("--region", help="default: the AWS CLI's")
    models_parser.add_argument("--endpoint-url", help="e.g. the endpoint `batchrecs serve` prints")
    jobs_parser = commands.add_parser(
        "jobs", help="list a stack's jobs from its ledger (newest first); `jobs show NAME` shows one with its events"
    )
    jobs_parser.add_argument("action", nargs="?", choices=["show"], help="show one job (with NAME)")
    jobs_parser.add_argument(
        "name",
        nargs="?",
        metavar="NAME",
        help="a job's name (jobName in its events), or an input key for its latest job",
    )
    jobs_parser.add_argument("--stack", required=True, help="the stack's name (batchrecs-local for `batchrecs serve`)")
    jobs_parser.add_argument("--region", help="default: the AWS CLI's")
    jobs_parser.add_argument("--endpoint-url", help="e.g. the endpoint `batchrecs serve` prints")
    jobs_parser.add_argument("--limit", type=int, default=50, help="at most this many, newest first (default 50)")
    jobs_parser.add_argument("--json", action="store_true", help="one JSON object per job")
    serve_parser = commands.add_parser(
        "serve", help="serve the local stack over HTTP for sam local invoke; print its events until Ctrl-C"
    )
    serve_parser.add_argument("--host", help="address to listen on (default: Docker's bridge gateway, else loopback)")
    serve_parser.add_argument("--port", type=int, default=0, help="default: any free port")
    serve_parser.add_argument("--env-vars", type=Path, default=Path("env.json"), help="where to write --env-vars")
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
    sample_parser = commands.add_parser("sample-data", help="write the demo's seeded synthetic data")
    sample_parser.add_argument("directory", type=Path)
    args = parser.parse_args(argv)
    try:
        return _dispatch(parser, args)
    except UserError as error:
        print(f"batchrecs {args.command}: {error}", file=sys.stderr)
        return error.code


def _dispatch(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:

    if args.command == "sample-data":
        from batchrecs_local.sample_data import write_sample_data

        for path in write_sample_data(args.directory):
            print(path)
        return 0
    if args.command == "redrive":
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
    if args.command == "models":
        return models(args.stack, args.bucket, args.region, args.endpoint_url)
    if args.command == "jobs":
        if (args.action == "show") != (args.name is not None):
            parser.error("jobs show takes a job's NAME: batchrecs jobs show NAME --stack STACK")
        if args.limit < 1:
            parser.error("--limit must be at least 1")
        return jobs(args.stack, args.region, args.endpoint_url, name=args.name, limit=args.limit, as_json=args.json)
    if args.command == "serve":
        parameters = _pairs(args.parameter, "--parameter")
        return serve(args.host, args.port, args.env_vars, args.interactions, args.stack_name, parameters)
    if args.command == "train":
        if not args.csv.is_file():
            raise UserError(f"no such file: {args.csv}", 2)
        return train(args.csv, args.output, algorithm=args.algorithm)
    if args.command == "score":
        if not args.input.is_file():
            raise UserError(f"no such file: {args.input}", 2)
        return score(
            args.input,
            args.model,
            args.output,
            num_results=args.num_results,
            kind=args.kind,
            exclude_seen=args.exclude_seen,
        )
    missing = [str(f) for f in args.files if not (f.is_file() or (args.command == "run" and f.is_dir()))]
    if missing:
        parser.error(f"no such file: {', '.join(missing)}")
    if args.command == "run":
        names = [f.name for f in args.files]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            parser.error(
                f"two files are named {', '.join(twice)}: each is dropped as input/<file name>, so one would "
                "replace the other (and Personalize names outputs by file name): rename one"
            )
    if args.command == "validate":
        return validate(args.files, kind=args.kind, max_item_list=args.max_item_list, as_json=args.json)
    try:
        overrides = _pairs(args.metadata, "--metadata")
        parameters = _pairs(args.parameter, "--parameter")
    except argparse.ArgumentTypeError as error:
        parser.error(str(error))
    return run(
        args.files,
        out=args.out,
        overrides=overrides,
        interactions=args.interactions,
        timeout=args.timeout,
        parameters=parameters,
        verbose=args.verbose,
    )


if __name__ == "__main__":
    sys.exit(main())
