"""Deterministic job names: the second guard against S3's at-least-once delivery.

Personalize never frees a batch inference job name (there is no delete API), so the name derived from one
object version is used exactly once: a second delivery finds ResourceAlreadyExists and adopts the job.
The Step Functions execution carries the same name, which makes StartExecution idempotent too.
"""

from __future__ import annotations

import hashlib
import re
from typing import TypedDict

MAX_JOB_NAME = 63
_HASH_CHARS = 16
_UNSAFE = re.compile(r"[^a-zA-Z0-9_-]+")
JOB_NAME_PATTERN = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_-]{0,62}$")


ETAG_TOKEN = "etag:"


def is_version_id(version_id: str | None) -> bool:
    """A VersionId that names one version: not None, not "null" (S3's id for an object written while the bucket
    was unversioned or suspended, which a re-upload overwrites), and not an ``etag:`` token."""
    return bool(version_id) and version_id != "null" and not str(version_id).startswith(ETAG_TOKEN)


def version_token(version_id: str | None, etag: str) -> str:
    """The one name of one version of an object: its VersionId, or ``etag:<ETag>`` where S3 gave none that is
    stable (an unversioned or suspended bucket). Job names, drop ids and model versions all derive from it."""
    return version_id if version_id and is_version_id(version_id) else f"{ETAG_TOKEN}{etag.strip('"')}"


def job_name(bucket: str, key: str, version: str, variant: str | None = None) -> str:
    """A readable, unique, valid job name for one version of one object.

    ``version`` is the object's ``version_token``. The readable part is
    the file's stem; the hash of bucket, key and version makes it unique and stable. ``variant`` tells apart the
    jobs of one drop that compares solution versions: the version's ARN, whose last part joins the readable part.
    """
    seed = f"{bucket}\0{key}\0{version}" + (f"\0{variant}" if variant else "")
    digest = hashlib.sha256(seed.encode()).hexdigest()[:_HASH_CHARS]
    stem = key.rsplit("/", 1)[-1].split(".", 1)[0]
    room = MAX_JOB_NAME - _HASH_CHARS - 4
    tail = _UNSAFE.sub("-", variant.rsplit("/", 1)[-1]).strip("-_")[:20] if variant else ""
    readable = _UNSAFE.sub("-", stem).strip("-_")[: room - len(tail) - 1 if tail else room]
    readable = "-".join(part for part in (readable, tail) if part)
    name = f"br-{readable}-{digest}" if readable else f"br-{digest}"
    assert JOB_NAME_PATTERN.match(name), name
    return name


MAX_KEY_BYTES = 1024
"""S3's limit on an object key, in UTF-8 bytes."""
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def key_problems(key: str, output_key: str) -> list[str]:
    """Why a dropped object's key cannot be used, if it cannot. S3 accepts any UTF-8 key up to 1,024 bytes, but
    a job also writes ``<output prefix><job name>/<file name>.out``, and outputs are copied to disks by name."""
    problems = []
    segments = key.split("/")
    if any(segment in (".", "..") for segment in segments):
        problems.append(
            "the key has a '.' or '..' segment: S3 stores it literally, but tools that copy files to disk resolve "
            "it to another folder; rename the file"
        )
    control = _CONTROL.search(key)
    if control:
        problems.append(f"the key contains the control character U+{ord(control.group()):04X}; rename the file")
    size = len(output_key.encode())
    if size > MAX_KEY_BYTES:
        name = segments[-1]
        problems.append(
            f"the output file would be {output_key!r:.80}… ({size} bytes), over S3's {MAX_KEY_BYTES}-byte limit "
            f"for keys: shorten the file name ({len(name.encode())} bytes) by at least {size - MAX_KEY_BYTES} bytes"
        )
    return problems


def bounded_key(key: str, suffix: str = "") -> str:
    """``key + suffix`` if S3 can store it, else a stable shortened form: the key's start, a hash of the whole
    key, then the suffix."""
    if len((key + suffix).encode()) <= MAX_KEY_BYTES:
        return key + suffix
    digest = hashlib.sha256(key.encode()).hexdigest()[:_HASH_CHARS]
    room = MAX_KEY_BYTES - len(suffix.encode()) - _HASH_CHARS - 1
    head = key.encode()[:room].decode(errors="ignore")
    return f"{head}-{digest}{suffix}"


def split_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/key`` as ``(bucket, key)``: the one parser of S3 URIs."""
    if not uri.startswith("s3://"):
        raise ValueError(f"not an S3 URI: {uri!r}")
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


class VersionArgument(TypedDict, total=False):
    VersionId: str


def version_argument(version_id: str | None) -> VersionArgument:
    """``VersionId=`` for S3 calls on exactly that version; none for an object S3 keeps no version of."""
    return {"VersionId": version_id} if version_id and is_version_id(version_id) else {}
