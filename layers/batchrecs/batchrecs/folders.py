"""Folder drops: the files of one folder, written by Spark, Glue or EMR (``part-…`` files, then a ``_SUCCESS``
marker) or listed in a ``manifest.json``, run as one job over all of them, or as several when they are over one job's
limits (``group_jobs``). No I/O here.

The parts start nothing on their own: a key whose name is a Hadoop part (``part-…``), a hidden or bookkeeping
file (``_…``, ``.…``) or an Athena UNLOAD file waits for its folder's marker. The marker's drop is the job's drop:
its name, its idempotency and its events.
"""

from __future__ import annotations

import json
import posixpath
import re
from dataclasses import dataclass

from batchrecs.split import Piece

MARKERS = ("_SUCCESS", "manifest.json")
MAX_FILES = 1000
"""Input files one Personalize job reads."""
_ATHENA_UNLOAD = re.compile(
    r"^\d{8}_\d{6}_\d{5}_[a-z0-9]{5}_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
)
"""The names Athena's UNLOAD gives its files (query id, then a UUID)."""


def _in_a_folder(folder: str, prefix: str) -> bool:
    """True for a folder under ``prefix`` (``input/x``), not ``prefix`` itself."""
    return folder.startswith(prefix) and len(folder) > len(prefix.rstrip("/"))


def is_marker(key: str, prefix: str = "input/") -> bool:
    """A folder's marker: ``input/<folder>/_SUCCESS`` or ``input/<folder>/manifest.json``."""
    folder, name = posixpath.split(key)
    return name in MARKERS and _in_a_folder(folder, prefix)


def is_part(key: str, prefix: str = "input/") -> bool:
    """A file in a folder under ``input/`` that belongs to a folder drop and waits for its marker, never starting a
    job alone. A file dropped straight under ``input/`` always runs alone, whatever its name."""
    folder, name = posixpath.split(key)
    hadoop_or_athena = name.startswith(("part-", "_", ".")) or _ATHENA_UNLOAD.match(name) is not None
    return _in_a_folder(folder, prefix) and hadoop_or_athena


def parts_of(folder: str, keys: list[str]) -> list[str]:
    """The input files of a folder drop marked by ``_SUCCESS``: the folder's own files (not its subfolders'),
    without markers, bookkeeping files (``_…``), checksums and hidden files (``.…``)."""
    found = []
    for key in keys:
        rest = key[len(folder) :]
        if not key.startswith(folder) or "/" in rest or not rest:
            continue
        if rest in MARKERS or rest.startswith(("_", ".")) or rest.endswith(".crc"):
            continue
        found.append(key)
    return found


def manifest_keys(body: bytes, bucket: str) -> list[str]:
    """The keys a manifest.json lists: a JSON array of keys, or of ``s3://<input bucket>/<key>`` URIs. Raises
    ValueError saying what is wrong."""
    try:
        listed = json.loads(body)
    except ValueError as error:
        raise ValueError(f"manifest.json is not JSON: {error}") from None
    if not isinstance(listed, list) or not listed or not all(isinstance(k, str) and k for k in listed):
        raise ValueError(
            'manifest.json must be a JSON array of keys, e.g. ["input/run-7/a.jsonl", "input/run-7/b.jsonl"]'
        )
    keys = []
    for entry in listed:
        if entry.startswith("s3://"):
            named, _, key = entry.removeprefix("s3://").partition("/")
            if named != bucket:
                raise ValueError(f"manifest.json names {entry}: a job reads only its own input bucket ({bucket})")
            entry = key
        keys.append(entry)
    return keys


def shared_base_names(keys: list[str]) -> list[str]:
    """Base names two inputs share: Personalize names each output after its input's base name alone, so the
    second would overwrite the first."""
    seen: dict[str, int] = {}
    for key in keys:
        name = posixpath.basename(key)
        seen[name] = seen.get(name, 0) + 1
    return sorted(name for name, count in seen.items() if count > 1)


@dataclass(frozen=True)
class FolderPiece:
    """One file of a folder drop, or one part of a file of it over one job's limits."""

    key: str
    version_id: str | None
    size: int
    records: int
    piece: Piece | None = None
    """The part's byte range and lines, when the file was cut; None for the whole file."""

    @classmethod
    def part(cls, key: str, version_id: str | None, piece: Piece) -> FolderPiece:
        return cls(key, version_id, piece.end - piece.start, piece.records, piece)


def group_jobs(pieces: list[FolderPiece], *, max_bytes: int, max_records: int) -> list[list[FolderPiece]]:
    """The jobs a folder runs as, in order: as few as fit one job's limits each (at most ``max_bytes``,
    ``max_records`` and MAX_FILES files). A folder within the limits is one job, as it always was."""
    jobs: list[list[FolderPiece]] = [[]]
    size = records = 0
    for piece in pieces:
        current = jobs[-1]
        full = size + piece.size > max_bytes or records + piece.records > max_records
        if current and (full or len(current) == MAX_FILES):
            jobs.append(current := [])
            size = records = 0
        current.append(piece)
        size += piece.size
        records += piece.records
    return jobs if jobs[0] else []
