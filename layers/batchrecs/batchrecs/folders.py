"""Folder drops: the files of one folder, written by Spark, Glue or EMR (``part-…`` files and a ``_SUCCESS``
marker, in any upload order) or listed in a ``manifest.json``, run as one job over all of them, or as several when
they are over one job's limits (``group_jobs``). No I/O here.

The one rule (``role_of``): a key straight under ``input/`` is a drop of its own. A key in a folder under
``input/`` is a part of a folder drop, whatever its name: it never starts a job alone, and it ends with the folder
drop that includes it, or, when no marker includes it within FolderMarkerWaitHours, in its own Input Rejected.
Bookkeeping files in folders (``_…``, ``.…``, ``….crc``) are no data: ignored. So no file runs twice, and no file
waits without an end.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
from dataclasses import dataclass
from enum import StrEnum

from batchrecs.layout import INPUT
from batchrecs.naming import split_uri
from batchrecs.split import Piece

MARKERS = ("_SUCCESS", "manifest.json")
MAX_FILES = 1000
"""Input files one Personalize job reads."""


class Role(StrEnum):
    SINGLE = "single"
    """A drop of its own (straight under input/)."""
    MARKER = "marker"
    """A folder's _SUCCESS or manifest.json: its folder drop."""
    PART = "part"
    """A file of a folder drop: waits for the marker that includes it."""
    BOOKKEEPING = "bookkeeping"
    """A committer's or checksum file in a folder (``_…``, ``.…``, ``….crc``): no data, ignored."""


def _in_a_folder(folder: str, prefix: str) -> bool:
    """True for a folder under ``prefix`` (``input/x``), not ``prefix`` itself."""
    return folder.startswith(prefix) and len(folder) > len(prefix.rstrip("/"))


def role_of(key: str, prefix: str = INPUT) -> Role:
    """What a dropped key is (the module's one rule)."""
    folder, name = posixpath.split(key)
    if not _in_a_folder(folder, prefix):
        return Role.SINGLE
    if name in MARKERS:
        return Role.MARKER
    if is_bookkeeping(name):
        return Role.BOOKKEEPING
    return Role.PART


def is_bookkeeping(name: str) -> bool:
    return name.startswith(("_", ".")) or name.endswith(".crc")


def is_marker(key: str, prefix: str = INPUT) -> bool:
    """A folder's marker: ``input/<folder>/_SUCCESS`` or ``input/<folder>/manifest.json``."""
    return role_of(key, prefix) is Role.MARKER


def is_part(key: str, prefix: str = INPUT) -> bool:
    """A file in a folder under ``input/``: a part of a folder drop, never a job alone."""
    return role_of(key, prefix) is Role.PART


def committed_files(body: bytes, bucket: str) -> list[str] | None:
    """The files a Hadoop S3A committer's ``_SUCCESS`` lists (a JSON object whose ``filenames`` are ``/key`` paths
    or ``s3a://bucket/key`` URIs), as keys; None for an empty or plain ``_SUCCESS``, which lists nothing."""
    if not body.strip():
        return None
    try:
        document = json.loads(body)
    except ValueError:
        return None
    names = document.get("filenames") if isinstance(document, dict) else None
    if not isinstance(names, list) or not names or not all(isinstance(n, str) and n for n in names):
        return None
    keys = []
    for name in names:
        for scheme in ("s3a://", "s3://"):
            if name.startswith(scheme):
                named, _, name = name.removeprefix(scheme).partition("/")
                if named != bucket:
                    raise ValueError(f"_SUCCESS lists {scheme}{named}/{name}: a job reads only its own input bucket")
        keys.append(name.lstrip("/"))
    return keys


def fingerprint(listing: dict[str, str]) -> str:
    """One value for a folder's files as listed (key → ETag and size): any new, removed or rewritten file
    changes it."""
    digest = hashlib.sha256()
    for key in sorted(listing):
        digest.update(f"{key}\0{listing[key]}\n".encode())
    return digest.hexdigest()[:32]


def parts_of(folder: str, keys: list[str]) -> list[str]:
    """The input files of a folder drop marked by ``_SUCCESS``: the folder's own files (not its subfolders'),
    without markers, bookkeeping files (``_…``), checksums and hidden files (``.…``)."""
    found = []
    for key in keys:
        rest = key[len(folder) :]
        if not key.startswith(folder) or "/" in rest or not rest:
            continue
        if rest in MARKERS or is_bookkeeping(rest):
            continue
        found.append(key)
    return found


def manifest_keys(body: bytes, bucket: str, folder: str | None = None) -> list[str]:
    """The keys a manifest.json lists: a JSON array of keys, or of ``s3://<input bucket>/<key>`` URIs, each in the
    manifest's ``folder`` or below it (a file elsewhere ran as its own drop, or is another folder's part). Raises
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
            named, key = split_uri(entry)
            if named != bucket:
                raise ValueError(f"manifest.json names {entry}: a job reads only its own input bucket ({bucket})")
            entry = key
        if folder is not None and (not entry.startswith(folder) or role_of(entry) is not Role.PART):
            raise ValueError(
                f"manifest.json lists {entry}: a manifest lists data files in its own folder ({folder}) or below it"
            )
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
