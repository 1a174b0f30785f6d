"""The scorer's two S3 use cases: train a model version from a dropped interactions CSV, and run a small job.

Both take a boto3 S3 client and batchrecs's contracts (``batchrecs.scoring``); their keys come from
``batchrecs.layout``.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from botocore.exceptions import ClientError

from batchrecs.counts import OutputCounter, OutputCounts
from batchrecs.events import ModelFile, ModelRejected, ModelTrained
from batchrecs.layout import (
    interactions_key,
    latest_key,
    model_artefact,
    model_folder_of,
    model_of,
    model_version_folder,
)
from batchrecs.lines import iter_lines, read_chunks
from batchrecs.naming import version_argument
from batchrecs.scoring import ScoreRequest, Shard
from scorer.interactions import EXPECTED, Interactions, InteractionsError, utf8_lines
from scorer.model import EASE_MAX_ITEMS, Model
from scorer.score import score_lines


@dataclass(frozen=True)
class TrainedVersion:
    name: str
    version: str
    model_key: str
    created: bool
    """False when this version already existed (a redelivered drop): models are immutable once written."""
    metadata: dict[str, Any]


def model_drop(
    s3: Any, bucket: str, key: str, version_id: str | None, source_version: str
) -> TrainedVersion | ModelRejected | None:
    """A file under models/: trained into a version (``train_version``), or rejected saying why and what a model
    drop must be; None for what TrainFunction wrote there itself (a version's files, the latest pointer), and for a
    folder's marker (a key ending in /)."""
    if model_artefact(key) or key.endswith("/"):  # or a folder marker, as the S3 console's "Create folder" writes
        return None
    dropped = ModelFile(bucket=bucket, key=key, version_id=version_id)
    name = model_of(key)
    if name is None:
        reason = f"{key} trains nothing: a model drop is {interactions_key(model_folder_of(key) or '<name>')}"
        return ModelRejected(model=model_folder_of(key), input=dropped, line=None, reason=reason, expected=EXPECTED)
    try:
        return train_version(s3, bucket, key, source_version)
    except InteractionsError as error:
        return ModelRejected(model=name, input=dropped, line=error.line, reason=str(error), expected=EXPECTED)


def trained_event(trained: TrainedVersion, bucket: str, key: str, version_id: str | None) -> ModelTrained:
    """Model Trained, from a version's metadata (the chosen setting's validation nDCG@10, where one was measured)."""
    meta = trained.metadata
    tried = meta.get("lambdaValidationNdcg10") or meta.get("validationNdcg10") or {}
    return ModelTrained(
        model=trained.name,
        version=trained.version,
        input=ModelFile(bucket=bucket, key=key, version_id=version_id),
        model_key=trained.model_key,
        algorithm=str(meta.get("algorithm", "")),
        users=int(meta.get("users", 0)),
        items=int(meta.get("items", 0)),
        interactions=int(meta.get("interactions", 0)),
        validation_ndcg10=round(max(tried.values()), 4) if isinstance(tried, dict) and tried else None,
        training_seconds=float(meta.get("trainingSeconds", 0.0)),
        created=trained.created,
    )


def model_name(key: str) -> str:
    """``models/<name>/interactions.csv`` → ``<name>``."""
    name = model_of(key)
    if name is None:
        raise ValueError(f"{key}: interactions go to {interactions_key('<name>')}")
    return name


def train_version(s3: Any, bucket: str, key: str, source_version: str) -> TrainedVersion:
    """Train ``models/<name>/<version>/`` from one version of a dropped interactions CSV, then point
    ``models/<name>/latest.json`` at it. The version is derived from the drop, so a redelivery changes nothing."""
    name = model_name(key)
    version = hashlib.sha256(f"{bucket}\0{key}\0{source_version}".encode()).hexdigest()[:16]
    prefix = model_version_folder(name, version)
    existing = _json_object(s3, bucket, f"{prefix}metadata.json")
    if existing is not None:  # a redelivery, or a retry after a crash: latest.json may not point at it yet
        latest = _json_object(s3, bucket, latest_key(name))
        if latest is None or str(latest.get("trainedAt", "")) < str(existing["trainedAt"]):
            _point_latest(s3, bucket, name, version, str(existing["trainedAt"]))
        return TrainedVersion(name, version, f"{prefix}model.npz", False, existing)
    found = s3.get_object(Bucket=bucket, Key=key, **version_argument(source_version))
    algorithm = forced_algorithm(found.get("Metadata", {}), key)
    interactions = Interactions.read_csv(utf8_lines(found["Body"].iter_lines(keepends=True), key), name=key)
    if algorithm == "ease" and interactions.n_items > EASE_MAX_ITEMS:
        raise InteractionsError(
            f"{key}: algorithm=ease on {interactions.n_items:,} items; EASE trains up to {EASE_MAX_ITEMS:,} items "
            "(leave algorithm unset, or use ials)"
        )
    model = Model.train(interactions, algorithm=algorithm)
    model.metadata.update(name=name, version=version, source={"bucket": bucket, "key": key, "version": source_version})
    buffer = io.BytesIO()
    model.save(buffer)
    s3.put_object(Bucket=bucket, Key=f"{prefix}model.npz", Body=buffer.getvalue())
    s3.put_object(
        Bucket=bucket,
        Key=f"{prefix}metadata.json",
        Body=json.dumps(model.metadata, indent=2).encode(),
        ContentType="application/json",
    )
    _point_latest(s3, bucket, name, version, model.metadata["trainedAt"])
    return TrainedVersion(name, version, f"{prefix}model.npz", True, model.metadata)


ALGORITHMS = ("ease", "ials", "svd")


def forced_algorithm(metadata: dict[str, str], key: str) -> str | None:
    """The algorithm a model drop's metadata forces (``algorithm``: ease, ials or svd), or None: the catalogue's
    size chooses (EASE up to EASE_MAX_ITEMS items, else iALS)."""
    chosen = {name.lower(): value for name, value in metadata.items()}.get("algorithm")
    if chosen is None:
        return None
    if chosen.strip().lower() not in ALGORITHMS:
        raise InteractionsError(f"{key}: metadata algorithm={chosen[:40]!r}; use one of {', '.join(ALGORITHMS)}")
    return chosen.strip().lower()


def _point_latest(s3: Any, bucket: str, name: str, version: str, trained_at: str) -> None:
    """``models/<name>/latest.json``: the version new jobs use (written last, after the version's own files)."""
    model_key = f"{model_version_folder(name, version)}model.npz"
    pointer = {"version": version, "modelKey": model_key, "trainedAt": trained_at}
    s3.put_object(
        Bucket=bucket, Key=latest_key(name), ContentType="application/json", Body=json.dumps(pointer).encode()
    )


def _json_object(s3: Any, bucket: str, key: str) -> dict[str, Any] | None:
    try:
        document: dict[str, Any] = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    except ClientError as error:
        if error.response["Error"]["Code"] not in ("NoSuchKey", "404"):
            raise
        return None
    return document


@lru_cache(maxsize=2)
def _cached_model(s3: Any, bucket: str, key: str) -> Model:
    """Model versions never change, so a warm container keeps the last two it used."""
    return Model.load(io.BytesIO(s3.get_object(Bucket=bucket, Key=key)["Body"].read()))


def score_job(s3: Any, request: ScoreRequest, shard: Shard | None = None) -> OutputCounts:
    """Score exactly one version of an input file (or one shard's byte range of it) into one output file in
    Personalize's format. Lines are framed as the validator frames them (LF, a CR before it dropped; a bare CR is
    data). A shard's output goes to its own key, for MergeFunction to join. Returns what it wrote, counted as it
    wrote it (a shard's line numbers are its own: the merge offsets them)."""
    model = _cached_model(s3, request.model.bucket, request.model.key)
    version = version_argument(request.input_version_id)
    ranged = {"Range": f"bytes={shard.start}-{shard.end - 1}"} if shard else {}
    body = s3.get_object(Bucket=request.input_bucket, Key=request.input_key, **version, **ranged)["Body"]
    lines = list(
        score_lines(
            model,
            iter_lines(read_chunks(body)),
            kind=request.scorer_kind,
            num_results=request.num_results,
            exclude_seen=request.exclude_seen,
        )
    )
    key = shard.output_key if shard else request.output_key
    s3.put_object(Bucket=request.output_bucket, Key=key, Body=b"".join(lines), **request.encryption)
    return OutputCounter(request.output_uri).add_all(lines)
