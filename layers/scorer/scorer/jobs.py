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

from batchrecs.layout import interactions_key, latest_key, model_of, model_version_folder
from batchrecs.lines import iter_lines, read_chunks
from batchrecs.naming import version_argument
from batchrecs.scoring import ScoreRequest, Shard
from scorer.interactions import Interactions
from scorer.model import Model
from scorer.score import score_lines


@dataclass(frozen=True)
class TrainedVersion:
    name: str
    version: str
    model_key: str
    created: bool
    """False when this version already existed (a redelivered drop): models are immutable once written."""
    metadata: dict[str, Any]


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
    try:
        existing = s3.get_object(Bucket=bucket, Key=f"{prefix}metadata.json")["Body"].read()
        return TrainedVersion(name, version, f"{prefix}model.npz", False, json.loads(existing))
    except ClientError as error:
        if error.response["Error"]["Code"] not in ("NoSuchKey", "404"):
            raise
    body = s3.get_object(Bucket=bucket, Key=key, **version_argument(source_version))["Body"]
    interactions = Interactions.read_csv(io.TextIOWrapper(body, encoding="utf-8", newline=""), name=key)
    model = Model.train(interactions)
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
    s3.put_object(
        Bucket=bucket,
        Key=latest_key(name),
        ContentType="application/json",
        Body=json.dumps(
            {"version": version, "modelKey": f"{prefix}model.npz", "trainedAt": model.metadata["trainedAt"]}
        ).encode(),
    )
    return TrainedVersion(name, version, f"{prefix}model.npz", True, model.metadata)


@lru_cache(maxsize=2)
def _cached_model(s3: Any, bucket: str, key: str) -> Model:
    """Model versions never change, so a warm container keeps the last two it used."""
    return Model.load(io.BytesIO(s3.get_object(Bucket=bucket, Key=key)["Body"].read()))


def score_job(s3: Any, request: ScoreRequest, shard: Shard | None = None) -> int:
    """Score exactly one version of an input file (or one shard's byte range of it) into one output file in
    Personalize's format. Lines are framed as the validator frames them (LF, a CR before it dropped; a bare CR is
    data). A shard's output goes to its own key, for MergeFunction to join. Returns the lines written."""
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
    kms = request.kms_key_arn
    encryption = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": kms} if kms else {}
    key = shard.output_key if shard else request.output_key
    s3.put_object(Bucket=request.output_bucket, Key=key, Body=b"".join(lines), **encryption)
    return len(lines)
