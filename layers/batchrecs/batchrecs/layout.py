"""The buckets' key layout: every key the stack reads or writes is made here, and nowhere else.

Input bucket::

    input/<file> | input/<folder>/<part>…     what users drop (a folder's marker: _SUCCESS or manifest.json)
    snapshots/<drop id>/[job-NNN/]<file>       the validated version each job reads (SubmitFunction alone writes)
    snapshots/<drop id>/<job>.shards.json      a fanned-out job's shard manifest, beside its snapshot
    rejected/<key>.<version>.report.json       a rejected version's report
    models/<name>/interactions.csv             a scorer model's training drop
    models/<name>/<version>/…, latest.json     its trained versions, and the one new jobs use
    holdout/<file>                             interactions a compare drop's report measures on (holdout=)

Output bucket::

    output/<job>/<file>.out                    a drop's only job
    output/<drop id>/<job>/<file>.out          each job of a drop that made several
    output/<drop id>/report.json, report.html  a compare drop's comparison report
    shards/<job>/NNNNN.out                     a fanned-out job's shards, until the merge
    manifests/<drop id>/<job>.json, drop.json  the whole lists an event carries only the first of

template.yaml names the same prefixes (notification filters, lifecycle rules, IAM resources): a contract test
(tests/contract/test_layout.py) holds them equal to ``INPUT_BUCKET`` and ``OUTPUT_BUCKET``."""

from __future__ import annotations

import posixpath
import re

from batchrecs.naming import bounded_key

INPUT = "input/"
SNAPSHOTS = "snapshots/"
REJECTED = "rejected/"
MODELS = "models/"
OUTPUT = "output/"
SHARDS = "shards/"
"""Outside output/, so that no partial output is ever under a job's prefix; a lifecycle rule expires what a
failed merge leaves."""
MANIFESTS = "manifests/"
HOLDOUT = "holdout/"
"""Users upload holdout interactions here; no notification reads it, MergeFunction alone (for a report)."""

INPUT_BUCKET = frozenset({INPUT, SNAPSHOTS, REJECTED, MODELS, HOLDOUT})
OUTPUT_BUCKET = frozenset({OUTPUT, SHARDS, MANIFESTS})

INTERACTIONS = "interactions.csv"
LATEST = "latest.json"


def snapshot_folder(drop_id: str, group: int | None = None) -> str:
    """Where a drop's snapshots go; a folder drop of several jobs gives each group its own (``job-NNN/``)."""
    return f"{SNAPSHOTS}{drop_id}/" + (f"job-{group:03d}/" if group is not None else "")


def output_folder(drop_id: str, job_name: str, *, alone: bool) -> str:
    """A drop's only job writes under ``output/<job>/``; each of several under ``output/<drop id>/<job>/``."""
    return f"{OUTPUT}{job_name}/" if alone else f"{OUTPUT}{drop_id}/{job_name}/"


def output_key(folder: str, input_key: str) -> str:
    """The output of an input file, as Personalize names it: the file's name (not its folders) plus ``.out``."""
    return f"{folder}{posixpath.basename(input_key)}.out"


def check_key(folder: str) -> str:
    """The ``_CHECK`` object Personalize leaves beside a job's outputs (its content is not public): readers of a
    job's outputs read ``output.files``, never a listing, so they never meet it."""
    return f"{folder}_CHECK"


def report_key(key: str, version_id: str | None) -> str:
    """Where a rejected version's report goes: beside the file under rejected/, named by its version, so that a
    later version's report never overwrites the one an earlier event names."""
    return bounded_key(f"{REJECTED}{key}", f".{version_id or 'unversioned'}.report.json")


def manifest_key(drop_id: str, name: str) -> str:
    """The key of a job's manifest (``name``: the job's name) or of its drop's (``name``: ``drop``)."""
    return f"{MANIFESTS}{drop_id}/{name}.json"


def shard_folder(job_name: str) -> str:
    return f"{SHARDS}{job_name}/"


def shard_key(folder: str, index: int) -> str:
    """Where shard ``index`` writes its output (five digits, for any number of shards a job may have)."""
    return f"{folder}{index:05d}.out"


def shard_manifest_key(snapshot_key: str, job_name: str) -> str:
    """A fanned-out job's shard manifest sits beside its snapshot, and expires with it."""
    return f"{posixpath.dirname(snapshot_key)}/{job_name}.shards.json"


def model_folder(name: str) -> str:
    return f"{MODELS}{name}/"


def model_version_folder(name: str, version: str) -> str:
    return f"{MODELS}{name}/{version}/"


def latest_key(name: str) -> str:
    """The pointer at the version of model ``name`` that new jobs use."""
    return f"{MODELS}{name}/{LATEST}"


def interactions_key(name: str) -> str:
    """The training drop of model ``name``."""
    return f"{MODELS}{name}/{INTERACTIONS}"


MODEL_ARTEFACT = re.compile(r"models/[^/]+/(?:[0-9a-f]{16}/(?:model\.npz|metadata\.json)|latest\.json)")
"""What TrainFunction writes under models/ itself: a version's files, and the latest pointer."""


def model_artefact(key: str) -> bool:
    """Is ``key`` one TrainFunction wrote (``models/<name>/<version>/model.npz``, ``metadata.json``, or
    ``models/<name>/latest.json``), not a drop?"""
    return MODEL_ARTEFACT.fullmatch(key) is not None


def model_folder_of(key: str) -> str | None:
    """The model a key under ``models/`` belongs to (``models/<name>/…`` → ``<name>``), or None."""
    parts = key.split("/")
    return parts[1] if len(parts) >= 3 and f"{parts[0]}/" == MODELS and parts[1] else None


def model_of(key: str) -> str | None:
    """``models/<name>/interactions.csv`` → ``<name>``; None for any other key."""
    parts = key.split("/")
    if len(parts) != 3 or f"{parts[0]}/" != MODELS or parts[2] != INTERACTIONS or not parts[1]:
        return None
    return parts[1]
