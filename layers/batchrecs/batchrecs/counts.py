"""What a job's output holds, counted line by line: its lines, its error lines, and the first of them (the input
each echoes and its error), for the job's end. The scorer counts as it writes; MergeFunction counts a Personalize
job's output files as it streams them. Both read lines in Personalize's output format, where a good line ends with
``"error":null}`` (the scorer's, and Personalize's) or ``"error": null}`` (a segment job's)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson
from pydantic import Field

from batchrecs.lines import OversizedLine
from batchrecs.model import WireModel

ERRORS_SHOWN = 10
"""How many of a job's error lines its end quotes (counts has the total)."""


class ErrorLine(WireModel):
    """One error line of a job's output: where it is, the input it echoes, and why Personalize (or the scorer)
    could not answer it."""

    file: str = Field(description="S3 URI of the output file")
    line: int = Field(ge=1, description="the line in that file, 1-based")
    input: str = Field(description="the input the line echoes, as JSON, cut (with …) to 400 bytes as a JSON string")
    error: str = Field(description="the line's error, cut likewise")


class OutputCounts(WireModel):
    """What the job's output holds, counted line by line once it was written."""

    lines: int = Field(ge=0, description="the output's lines, in all its files")
    error_lines: int = Field(ge=0, description="those of them with an error (no recommendations)")
    errors: list[ErrorLine] = Field(
        max_length=ERRORS_SHOWN, description="the first 10 error lines, in file and line order"
    )
    error_percent: float | None = Field(
        default=None, ge=0, le=100, description="errorLines in percent of lines, which max-error-percent is held to"
    )


GOOD_ENDINGS = (b'"error":null}', b'"error": null}')
INPUT_SHOWN = 400
"""The bytes an error line's input takes in an event, as JSON (escapes included): what fit.py reserves for it."""
ERROR_SHOWN = 400
"""The same for the line's error."""


class OutputCounter:
    """Counts one output file's lines (or one shard's part of it, its line numbers then relative to the shard).
    Blank lines are neither counted nor numbered (Personalize and the scorer write none)."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.lines = 0
        self.error_lines = 0
        self.errors: list[ErrorLine] = []

    def add(self, line: bytes) -> None:
        text = line.strip()
        if not text:
            return
        self.lines += 1
        if text.endswith(GOOD_ENDINGS) or isinstance(line, OversizedLine):  # one over 1 MiB: its end is unread
            return
        try:
            parsed = orjson.loads(text)
        except orjson.JSONDecodeError:
            parsed = None
        error = _error_of(parsed)
        if error is None:
            return
        self.error_lines += 1
        if len(self.errors) < ERRORS_SHOWN:
            self.errors.append(ErrorLine(file=self.file, line=self.lines, input=_input_of(parsed, text), error=error))

    def add_all(self, lines: Iterable[bytes]) -> OutputCounts:
        for line in lines:
            self.add(line)
        return self.counts()

    def counts(self) -> OutputCounts:
        return counted(self.lines, self.error_lines, list(self.errors))


def _error_of(parsed: Any) -> str | None:
    """A parsed line's error (None for a good line whose error is not last, as no writer here puts it); ``parsed``
    None: the line was not JSON."""
    if parsed is None:
        return "not JSON"
    error = parsed.get("error") if isinstance(parsed, dict) else "not a JSON object"
    if error is None:
        return None
    return shown(error if isinstance(error, str) else orjson.dumps(error).decode(), ERROR_SHOWN)


def _input_of(parsed: Any, text: bytes) -> str:
    if parsed is None:
        return shown(text.decode(errors="replace"), INPUT_SHOWN)
    echoed = parsed.get("input") if isinstance(parsed, dict) else parsed
    return shown(orjson.dumps(echoed).decode(), INPUT_SHOWN)


def shown(text: str, limit: int) -> str:
    """``text`` cut so that, as a JSON string (quotes and escapes included, UTF-8), it takes at most ``limit``
    bytes, ending in … when cut."""
    if len(orjson.dumps(text)) <= limit:
        return text
    while len(orjson.dumps(text + "…")) > limit:
        text = text[: len(text) * 3 // 4]
    return text + "…"


def combined(parts: list[OutputCounts], offsets: list[int] | None = None) -> OutputCounts:
    """The counts of several files, or of one file's shards in order (``offsets``: the lines before each, which
    turn a shard's line numbers into the file's); the first ERRORS_SHOWN error lines of them all."""
    errors: list[ErrorLine] = []
    for n, part in enumerate(parts):
        before = offsets[n] if offsets else 0
        errors += [error.model_copy(update={"line": error.line + before}) for error in part.errors]
    lines = sum(part.lines for part in parts)
    return counted(lines, sum(part.error_lines for part in parts), errors[:ERRORS_SHOWN])


def counted(lines: int, error_lines: int, errors: list[ErrorLine]) -> OutputCounts:
    """OutputCounts with its error percent: the share of lines that are error lines (0 for an empty output)."""
    percent = 100.0 * error_lines / lines if lines else 0.0  # unrounded: 1 in 3 million is still over 0
    return OutputCounts(lines=lines, error_lines=error_lines, errors=errors, error_percent=percent)
