"""The commands on a user's own files, with no stack: ``validate`` (as SubmitFunction validates), ``train`` and
``score`` (as TrainFunction and ScoreFunction do), and ``sample-data`` (the demo's seeded data). ``--help`` and
``validate`` import nothing heavy: numpy and the scorer load only for ``train`` and ``score``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from batchrecs.kinds import JobKind
from batchrecs.lines import is_blank, iter_lines, read_chunks
from batchrecs.records import kind_of_line
from batchrecs.settings import CAUTIOUS_MAX, DEFAULT_NUM_RESULTS
from batchrecs.split import Piece, splitter_for
from batchrecs.validation import Limits, ValidationReport, validate_file
from batchrecs_ops.deployed import UserError


def add_commands(commands: Any) -> None:
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
    validate_parser.set_defaults(handler=validate_command)
    train_parser = commands.add_parser("train", help="train a scorer model from an interactions CSV")
    train_parser.add_argument("csv", type=Path, metavar="CSV")
    train_parser.add_argument("-o", "--output", type=Path, required=True, metavar="MODEL_DIR")
    train_parser.add_argument("--algorithm", choices=["ease", "ials", "svd"], help="default: by catalogue size")
    train_parser.set_defaults(handler=train_command)
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
    score_parser.set_defaults(handler=score_command)
    sample_parser = commands.add_parser("sample-data", help="write the demo's seeded synthetic data")
    sample_parser.add_argument("directory", type=Path)
    sample_parser.set_defaults(handler=sample_data_command)


def validate_command(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    missing = [str(f) for f in args.files if not f.is_file()]
    if missing:
        parser.error(f"no such file: {', '.join(missing)}")
    return validate(args.files, kind=args.kind, max_item_list=args.max_item_list, as_json=args.json)


def train_command(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    if not args.csv.is_file():
        raise UserError(f"no such file: {args.csv}", 2)
    return train(args.csv, args.output, algorithm=args.algorithm)


def score_command(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
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


def sample_data_command(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    from batchrecs_local.sample_data import write_sample_data

    for path in write_sample_data(args.directory):
        print(path)
    return 0


def train(csv_path: Path, directory: Path, *, algorithm: str | None) -> int:
    """Train as TrainFunction does and write MODEL_DIR/model.npz and metadata.json."""
    from batchrecs_local.progress import stage
    from scorer.interactions import Interactions, InteractionsError, utf8_lines
    from scorer.model import Model

    try:
        with csv_path.open("rb") as handle, stage(f"reading {csv_path.name} and training"):
            lines = utf8_lines(handle, str(csv_path))
            model = Model.train(Interactions.read_csv(lines, name=str(csv_path)), algorithm=algorithm)
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
    invalid = 0
    for path in files:
        # A job's limits depend on its kind (a segment recipe's queries per file): without --kind, the first
        # record's, as the recipe would give SubmitFunction (the whole file is still checked for one kind).
        limited = job_kind or first_kind(path)
        limits = Limits.for_mode(themes=themes, max_item_list=max_item_list, kind=limited)  # as SubmitFunction's
        splitter = splitter_for(path.stat().st_size, limits.max_bytes, limits.max_records)
        report = validate_file(path, kind=job_kind, limits=limits, splitter=splitter)
        parts = splitter.pieces if splitter is not None and report.valid and len(splitter.pieces) > 1 else []
        invalid += not report.valid
        wire = {**report.to_wire(), **({"parts": [part.to_wire() for part in parts]} if parts else {})}
        print(json.dumps(wire) if as_json else describe(report, parts))
    return 1 if invalid else 0


def first_kind(path: Path) -> JobKind | None:
    """The kind of a file's first non-blank line (None: it names no user or item, or there is none)."""
    with path.open("rb") as handle:
        for raw in iter_lines(read_chunks(handle)):
            if not is_blank(raw):
                return kind_of_line(raw)
    return None


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
