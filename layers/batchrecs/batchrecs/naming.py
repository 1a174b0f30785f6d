"""Deterministic job names: the second guard against S3's at-least-once delivery.

Personalize never frees a batch inference job name (there is no delete API), so the name derived from one
object version is used exactly once: a second delivery finds ResourceAlreadyExists and adopts the job.
The Step Functions execution carries the same name, which makes StartExecution idempotent too.
"""

from __future__ import annotations

import hashlib
import re

MAX_JOB_NAME = 63
_HASH_CHARS = 16
_UNSAFE = re.compile(r"[^a-zA-Z0-9_-]+")
JOB_NAME_PATTERN = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_-]{0,62}$")


def job_name(bucket: str, key: str, version: str) -> str:
    """A readable, unique, valid job name for one version of one object.

    ``version`` is the object's versionId, or its ETag where the bucket is unversioned. The readable part is
    the file's stem; the hash of bucket, key and version makes it unique and stable.
    """
    digest = hashlib.sha256(f"{bucket}\0{key}\0{version}".encode()).hexdigest()[:_HASH_CHARS]
    stem = key.rsplit("/", 1)[-1].split(".", 1)[0]
    readable = _UNSAFE.sub("-", stem).strip("-_")[: MAX_JOB_NAME - _HASH_CHARS - 4]
    name = f"br-{readable}-{digest}" if readable else f"br-{digest}"
    assert JOB_NAME_PATTERN.match(name), name
    return name
