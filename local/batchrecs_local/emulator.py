"""A Personalize batch-inference emulator, grafted onto moto's Personalize backend (moto has none).

It follows the real lifecycle (CREATE PENDING → CREATE IN_PROGRESS → ACTIVE | CREATE FAILED) on a clock,
enforces the concurrency quota with LimitExceededException, checks what the service checks on create, and
on becoming ACTIVE writes real output in Personalize's format into moto's S3: one ``<input name>.out`` per input
file, scored by the self-hosted scorer trained on the interactions file it is given.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import itertools
import json
import re
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import orjson
from moto.core.common_models import BaseModel
from moto.personalize.exceptions import PersonalizeException, ResourceNotFoundException
from moto.personalize.models import PersonalizeBackend
from moto.personalize.responses import PersonalizeResponse
from moto.s3.models import s3_backends

from batchrecs.kinds import JobKind
from batchrecs.layout import check_key, latest_key, model_of, output_key
from batchrecs.lines import is_blank, iter_lines
from batchrecs.naming import split_uri
from batchrecs.recipes import RECIPES, Answer, Setting, recipe_of
from batchrecs.records import kind_of_line
from batchrecs.settings import DEFAULT_NUM_RESULTS, THEME_REGIONS
from batchrecs.validation import MAX_THEME_RECORDS
from batchrecs_local import iam
from scorer.interactions import Interactions
from scorer.model import Model
from scorer.personalize_format import error_line, missing_fields, segment_error_line, segment_line, theme_line
from scorer.score import score_lines

JOB_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9\-_]*$")
RUNNING = ("CREATE PENDING", "CREATE IN_PROGRESS")
MODES = ("BATCH_INFERENCE", "THEME_GENERATION")


class InvalidInputException(PersonalizeException):
    def __init__(self, message: str) -> None:
        super().__init__("InvalidInputException", message)


class ResourceAlreadyExistsException(PersonalizeException):
    def __init__(self, message: str) -> None:
        super().__init__("ResourceAlreadyExistsException", message)


class LimitExceededException(PersonalizeException):
    def __init__(self, message: str) -> None:
        super().__init__("LimitExceededException", message)


class ResourceInUseException(PersonalizeException):
    def __init__(self, message: str) -> None:
        super().__init__("ResourceInUseException", message)


@dataclass
class EmulatorSettings:
    """How the emulated service behaves. Tests shorten the clock and inject failures."""

    pending_seconds: float = 1.0
    running_seconds: float = 2.0
    quota: int = 5
    """Pending or in-progress jobs allowed at once (Personalize's default is 5 per region)."""
    segment_quota: int = 5
    """The same for batch segment jobs, counted apart (5, not adjustable)."""
    failures: dict[str, str] = field(default_factory=dict)
    """Input-path substring → failureReason: matching jobs end in CREATE FAILED with that reason."""
    solution_versions: dict[str, str] = field(default_factory=dict)
    """Solution version ARN → recipe ARN, for DescribeSolutionVersion. Unknown versions are not found."""
    version_states: dict[str, tuple[str, str]] = field(default_factory=dict)
    """Solution version ARN → (status, trainingMode), for DescribeSolutionVersion and ListSolutionVersions; a version
    not here is ACTIVE, trained FULL. Versions were created in the order ``solution_versions`` lists them."""

    def version_state(self, arn: str) -> tuple[str, str]:
        return self.version_states.get(arn, ("ACTIVE", "FULL"))

    interactions: Path | None = None
    """The interactions CSV the emulated solution versions were "trained" on: the scorer trains on it."""
    algorithms: dict[str, str] = field(default_factory=dict)
    """Solution version ARN → the scorer algorithm that emulates it (``ease`` or ``ials``); a version not here gets
    the one the catalogue calls for. Two versions emulated by two algorithms recommend differently, as two real
    versions do (a compare drop's report then has something to compare)."""
    hold: threading.Event | None = None
    """A gate: while it is given and not set, every job stays CREATE PENDING and its clock does not run. Tests
    hold jobs with it instead of racing the emulator's clock."""
    hold_running: threading.Event | None = None
    """The same for CREATE IN_PROGRESS: a job that has started stays in progress until it is set."""


_models: dict[tuple[Path, str | None], Model] = {}
"""A cache, once per interactions file, algorithm and process: training is the slow part of the emulator."""


def trained_model(settings: EmulatorSettings, solution_version_arn: str | None = None) -> Model:
    """The scorer's model of ``settings.interactions`` that emulates the version: the one TrainFunction trained from
    the same bytes in the local stack when there is one (the demo drops them under models/), else its own; a
    version ``settings.algorithms`` names is trained with that algorithm."""
    if settings.interactions is None:
        raise ValueError("the emulator has no interactions to train on (EmulatorSettings.interactions)")
    algorithm = settings.algorithms.get(solution_version_arn or "")
    cached = (settings.interactions, algorithm)
    if cached not in _models:
        data = settings.interactions.read_bytes()
        model = _model_trained_from(data) if algorithm is None else None
        if model is None:
            interactions = Interactions.read_csv(io.StringIO(data.decode("utf-8"), newline=""))
            model = Model.train(interactions, algorithm=algorithm)
        _models[cached] = model
    return _models[cached]


def _model_trained_from(data: bytes) -> Model | None:
    """A model version TrainFunction wrote from exactly ``data`` (models/<name>/interactions.csv), if any."""
    for backend in s3_backends.values():
        s3 = backend["aws"]
        for bucket in list(s3.buckets.values()):
            for key in list(bucket.keys.keys()):
                name = model_of(key)
                if name is None:
                    continue
                source = s3.get_object(bucket.name, key)
                pointer = s3.get_object(bucket.name, latest_key(name))
                if source is None or source.value != data or pointer is None:
                    continue
                model = s3.get_object(bucket.name, json.loads(pointer.value)["modelKey"])
                if model is not None:
                    return Model.load(io.BytesIO(model.value))
    return None


class BatchInferenceJob(BaseModel):
    """A batch inference job, or with ``segment`` a batch segment job: the same lifecycle, its own ARN and output."""

    def __init__(
        self,
        account_id: str,
        region: str,
        request: dict[str, Any],
        settings: EmulatorSettings,
        *,
        segment: bool = False,
    ) -> None:
        self.settings = settings
        self.segment = segment
        self.request = request
        self.name: str = request["jobName"]
        kind = "batch-segment-job" if segment else "batch-inference-job"
        self.arn = f"arn:aws:personalize:{region}:{account_id}:{kind}/{self.name}"
        self.account_id = account_id
        self.created_at = datetime.now(UTC)
        self.started = time.monotonic()
        self.input_path: str = request["jobInput"]["s3DataSource"]["path"]
        self.output_path: str = request["jobOutput"]["s3DataDestination"]["path"]
        self.failure: str | None = next(
            (reason for marker, reason in settings.failures.items() if marker in self.input_path), None
        )
        self.final_status: str | None = None
        self.finished_at: datetime | None = None
        self._lock = threading.Lock()

    @property
    def status(self) -> str:
        """The status now, on the emulator's clock; output is written the moment the job becomes ACTIVE."""
        with self._lock:
            if self.final_status:
                return self.final_status
            settings = self.settings
            if settings.hold is not None and not settings.hold.is_set():
                self.started = time.monotonic()
                return "CREATE PENDING"
            elapsed = time.monotonic() - self.started
            if elapsed < settings.pending_seconds:
                return "CREATE PENDING"
            if elapsed < settings.pending_seconds + settings.running_seconds:
                return "CREATE IN_PROGRESS"
            if settings.hold_running is not None and not settings.hold_running.is_set():
                return "CREATE IN_PROGRESS"
            if self.failure is None:
                try:
                    (write_segments if self.segment else write_output)(self)
                    write_check(self)
                except Exception as error:  # the real service reports any input or output problem the same way
                    self.failure = f"Failed to process input: {error}"
            self.final_status = "CREATE FAILED" if self.failure else "ACTIVE"
            self.finished_at = datetime.now(UTC)
            return self.final_status

    def to_dict(self) -> dict[str, Any]:
        status = self.status
        described = {k: v for k, v in self.request.items() if k != "tags"}
        described.update(
            **{"batchSegmentJobArn" if self.segment else "batchInferenceJobArn": self.arn},
            status=status,
            creationDateTime=self.created_at.timestamp(),
            lastUpdatedDateTime=(self.finished_at or self.created_at).timestamp(),
        )
        if status == "CREATE FAILED":
            described["failureReason"] = self.failure
        return described

    def summary(self) -> dict[str, Any]:
        described = self.to_dict()
        keys = (
            "batchInferenceJobArn",
            "batchSegmentJobArn",
            "jobName",
            "status",
            "creationDateTime",
            "lastUpdatedDateTime",
            "failureReason",
            "solutionVersionArn",
            "batchInferenceJobMode",
        )
        return {k: described[k] for k in keys if k in described}


def check_access(job: BatchInferenceJob, keys: list[str]) -> None:
    """What the job does with the role it was given, authorized as IAM would: Personalize assumes the role (its
    trust policy must allow the service from this account and job), lists the input folder, reads each input file
    and writes each output file as that role."""
    authorizer = iam.active()
    if authorizer is None:
        return
    role = job.request["roleArn"]
    if role not in authorizer.roles:
        raise iam.AccessDenied(f"Personalize cannot assume {role}: no such role")
    context = {"aws:SourceAccount": job.account_id, "aws:SourceArn": job.arn}
    principal = authorizer.assume(role, "personalize.amazonaws.com", f"personalize:{job.arn}", context)
    in_bucket, prefix = split_uri(job.input_path)
    out_bucket, out_prefix = split_uri(job.output_path)
    tls = iam.TLS
    needs = [iam.Need("s3:ListBucket", f"arn:aws:s3:::{in_bucket}", {**tls, "s3:prefix": prefix})]
    needs += [iam.Need("s3:GetObject", f"arn:aws:s3:::{in_bucket}/{key}", tls) for key in keys]
    needs += [iam.Need("s3:ListBucket", f"arn:aws:s3:::{out_bucket}", {**tls, "s3:prefix": out_prefix})]
    needs += [iam.Need("s3:PutObject", f"arn:aws:s3:::{out_bucket}/{output_key(out_prefix, key)}", tls) for key in keys]
    needs.append(iam.Need("s3:PutObject", f"arn:aws:s3:::{out_bucket}/{check_key(out_prefix)}", tls))
    for need in needs:
        authorizer.check(principal, need)


def write_output(job: BatchInferenceJob) -> None:
    """Score each input file with the scorer and write ``<output>/<file name>.out`` into moto's S3, streaming: the
    input is read and the output written a chunk at a time (moto keeps large objects on disk), so a file of
    millions of records never sits in memory whole, in or out."""
    s3 = s3_backends[job.account_id]["aws"]
    in_bucket, prefix = split_uri(job.input_path)
    out_bucket, out_prefix = split_uri(job.output_path)
    keys = _input_keys(s3, in_bucket, prefix)
    check_access(job, keys)
    num_results = int(job.request.get("numResults", DEFAULT_NUM_RESULTS))
    model = trained_model(job.settings, job.request.get("solutionVersionArn"))
    for key in keys:
        found = s3.get_object(in_bucket, key)
        if found is None:
            raise FileNotFoundError(f"s3://{in_bucket}/{key}")
        lines = (raw for raw in iter_lines(chunks_of(found)) if not is_blank(raw))
        if job.request.get("batchInferenceJobMode") == "THEME_GENERATION":
            records = list(itertools.islice(lines, MAX_THEME_RECORDS + 1))
            if len(records) > MAX_THEME_RECORDS:
                raise ValueError(f"THEME_GENERATION reads at most {MAX_THEME_RECORDS} records")
            output: Iterator[bytes] = theme_lines(model, records, num_results)
        else:
            first = next(lines, None)
            kind = _kind(job.settings, job.request.get("solutionVersionArn", ""), [first] if first is not None else [])
            output = score_lines(
                model, itertools.chain([first] if first is not None else [], lines), kind=kind, num_results=num_results
            )
        _write_streaming(s3, out_bucket, output_key(out_prefix, key), output)


def write_segments(job: BatchInferenceJob) -> None:
    """A batch segment job's output, as real ones are written: per query, the numResults users most likely to
    want the item (Item-Affinity: the item's column of the scorer's model). The emulator has no item attributes:
    an Item-Attribute-Affinity query is answered as the catalogue's most popular item would be."""
    s3 = s3_backends[job.account_id]["aws"]
    in_bucket, prefix = split_uri(job.input_path)
    out_bucket, out_prefix = split_uri(job.output_path)
    model = trained_model(job.settings)
    users = int(job.request.get("numResults", DEFAULT_NUM_RESULTS))
    popular = model.item_index(model.popular(1)[0]) if len(model.item_ids) else None
    keys = _input_keys(s3, in_bucket, prefix)
    check_access(job, keys)
    recipe = recipe_of(job.settings.solution_versions.get(job.request.get("solutionVersionArn", ""), ""))
    field = "itemAttributes" if recipe.kind is JobKind.ITEM_ATTRIBUTES else "itemId"
    for key in keys:
        found = s3.get_object(in_bucket, key)
        if found is None:
            raise FileNotFoundError(f"s3://{in_bucket}/{key}")
        lines = []
        for raw in iter_lines(chunks_of(found)):
            if is_blank(raw):
                continue
            record = orjson.loads(raw)
            if not isinstance(record, dict) or not {"itemId", "itemAttributes"} & record.keys():
                lines.append(segment_error_line(record, missing_fields(field)))
                continue
            index = model.item_index(record["itemId"]) if "itemId" in record else popular
            lines.append(segment_line(record, model.top_users(index, users) if index is not None else []))
        s3.put_object(out_bucket, output_key(out_prefix, key), b"".join(lines))


def write_check(job: BatchInferenceJob) -> None:
    """The ``_CHECK`` object real jobs (inference and segment) leave beside their outputs: written here empty, a
    placeholder, since its content is not public (docs/personalize.md). Readers of outputs skip it."""
    s3 = s3_backends[job.account_id]["aws"]
    out_bucket, out_prefix = split_uri(job.output_path)
    s3.put_object(out_bucket, check_key(out_prefix), b"")


def _input_keys(s3: Any, bucket: str, path: str) -> list[str]:
    """A job's input: one file, or every file under a folder path (ending in /), as Personalize reads it."""
    if not path.endswith("/"):
        return [path]
    return [k.name for k in s3.get_bucket(bucket).keys.values() if k.name.startswith(path)]


def chunks_of(found: Any, size: int = 1 << 20) -> Iterator[bytes]:
    """A moto object's bytes a chunk at a time (``value`` would copy it whole)."""
    position = 0
    while True:
        with found.lock:
            found._value_buffer.seek(position)
            chunk = found._value_buffer.read(size)
        if not chunk:
            return
        position += len(chunk)
        yield chunk


def _write_streaming(s3: Any, bucket: str, key: str, lines: Iterable[bytes], batch: int = 1 << 20) -> None:
    """Write ``lines`` into a new object a megabyte at a time (moto spills it to disk past a few MB)."""
    digest = hashlib.md5(usedforsecurity=False)
    written = 0
    fake = s3.put_object(bucket, key, b"")
    pending: list[bytes] = []
    pending_size = 0
    with fake.lock:
        buffer = fake._value_buffer
        buffer.seek(0)
        buffer.truncate()
        for line in itertools.chain(lines, [b""]):
            pending.append(line)
            pending_size += len(line)
            if pending_size >= batch or not line:
                block = b"".join(pending)
                buffer.write(block)
                digest.update(block)
                written += len(block)
                pending, pending_size = [], 0
        fake.contentsize = written
        fake._etag = digest.hexdigest()


def theme_lines(model: Model, lines: list[bytes], num_results: int) -> Iterator[bytes]:
    """Emulated themes: for each item, its related items ranked by similarity, a theme named after the item
    (the real service writes one with a language model), and relevance decreasing along the list. The shape is
    the documented one; the words and the values are placeholders."""
    for raw in lines:
        record = orjson.loads(raw)
        item = model.item_index(record.get("itemId", "")) if isinstance(record, dict) else None
        if item is None:
            yield error_line(record, "Item is not in the training data")
            continue
        related = model.related(item, num_results)
        relevance = [round(1.0 - n / max(len(related), 1), 7) for n in range(len(related))]
        yield theme_line(record, related, f"Items like {record['itemId']}", relevance)


def _kind(settings: EmulatorSettings, solution_version_arn: str, lines: list[bytes]) -> str:
    """How the solution version's recipe answers, as the real service knows it (``batchrecs.recipes``): the kind it
    reads, or Popularity-Count's one popular list; else the first record's kind. Semantic-Similarity is answered as
    related items from interactions: the emulator has no item text (docs/personalize.md)."""
    recipe = recipe_of(settings.solution_versions.get(solution_version_arn, ""))
    if recipe.answer is Answer.POPULAR:
        return "popularity"
    kind = recipe.kind or (kind_of_line(lines[0]) if lines else None)
    return (kind or JobKind.USERS).value


# --- the backend and response operations moto lacks -------------------------------------------------------


def _jobs(backend: PersonalizeBackend, *, segment: bool = False) -> dict[str, BatchInferenceJob]:
    """The backend's batch inference jobs, or its batch segment jobs: two kinds, each with its own quota."""
    attribute = "batch_segment_jobs" if segment else "batch_inference_jobs"
    if not hasattr(backend, attribute):
        setattr(backend, attribute, {})
    jobs: dict[str, BatchInferenceJob] = getattr(backend, attribute)
    return jobs


SEGMENT_RECIPES = tuple(name for name, recipe in RECIPES.items() if recipe.kind and recipe.kind.is_segment)


def create_batch_segment_job(backend: PersonalizeBackend, request: dict[str, Any], settings: EmulatorSettings) -> str:
    """CreateBatchSegmentJob: a solution version of a segment recipe, under the segment jobs' own quota (5 at
    once, not adjustable)."""
    recipe = settings.solution_versions.get(request.get("solutionVersionArn", ""), "").rsplit("/", 1)[-1]
    if settings.solution_versions and recipe and recipe not in SEGMENT_RECIPES:
        raise InvalidInputException("batch segment jobs need an Item-Affinity or Item-Attribute-Affinity recipe")
    return _create(backend, request, settings, segment=True)


def create_batch_inference_job(backend: PersonalizeBackend, request: dict[str, Any], settings: EmulatorSettings) -> str:
    if request.get("batchInferenceJobMode", "BATCH_INFERENCE") not in MODES:
        raise InvalidInputException(f"batchInferenceJobMode must be one of {MODES}")
    return _create(backend, request, settings, segment=False)


def _create(backend: PersonalizeBackend, request: dict[str, Any], settings: EmulatorSettings, *, segment: bool) -> str:
    """What the service checks on either create: a valid name, a known solution version (themes' rules for a
    theme job), a new name, and room under the job type's quota."""
    name = request.get("jobName", "")
    if not JOB_NAME.match(name) or len(name) > 63:
        raise InvalidInputException(f"jobName {name!r} must match [a-zA-Z0-9][a-zA-Z0-9-_]* and be 1-63 characters")
    if settings.solution_versions and request.get("solutionVersionArn") not in settings.solution_versions:
        raise ResourceNotFoundException(request.get("solutionVersionArn", ""))
    status, _ = settings.version_state(request.get("solutionVersionArn", ""))
    if status != "ACTIVE":  # inferred: the documented error for a resource that is not ready
        raise ResourceInUseException(f"solution version {request.get('solutionVersionArn')} is {status}, not ACTIVE")
    if request.get("batchInferenceJobMode") == "THEME_GENERATION":
        _check_themes(backend, request, settings)
    _check_ranking_influence(request)
    _check_recipe_settings(request, settings)
    jobs = _jobs(backend, segment=segment)
    what, quota = ("batch segment", settings.segment_quota) if segment else ("batch inference", settings.quota)
    if any(job.name == name for job in jobs.values()):
        raise ResourceAlreadyExistsException(f"{what.capitalize()} job {name} already exists")
    if sum(job.status in RUNNING for job in jobs.values()) >= quota:
        raise LimitExceededException(f"More than {quota} {what} jobs are pending or in progress")
    job = BatchInferenceJob(backend.account_id, backend.region_name, request, settings, segment=segment)
    jobs[job.arn] = job
    return job.arn


def _check_themes(backend: PersonalizeBackend, request: dict[str, Any], settings: EmulatorSettings) -> None:
    """What the service refuses for THEME_GENERATION: other regions, recipes other than Similar-Items, and a job
    without the item-name column."""
    if backend.region_name not in THEME_REGIONS:
        raise InvalidInputException(f"THEME_GENERATION is not available in {backend.region_name}")
    recipe = settings.solution_versions.get(request.get("solutionVersionArn", ""), "").rsplit("/", 1)[-1]
    if settings.solution_versions and recipe != "aws-similar-items":
        raise InvalidInputException("THEME_GENERATION needs a solution version of the Similar-Items recipe")
    if not request.get("themeGenerationConfig", {}).get("fieldsForThemeGeneration", {}).get("itemName"):
        raise InvalidInputException("THEME_GENERATION needs themeGenerationConfig.fieldsForThemeGeneration.itemName")


def _check_recipe_settings(request: dict[str, Any], settings: EmulatorSettings) -> None:
    """A batch inference setting the solution version's recipe does not take (``batchrecs.recipes``: item
    exploration is User-Personalization's, ranking influence Semantic-Similarity's) is refused, as batchrecs takes
    the service to (inferred, docs/personalize.md)."""
    recipe = recipe_of(settings.solution_versions.get(request.get("solutionVersionArn", ""), ""))
    config = request.get("batchInferenceJobConfig") or {}
    given = {"itemExplorationConfig": Setting.ITEM_EXPLORATION, "rankingInfluence": Setting.RANKING_INFLUENCE}
    for member, setting in given.items():
        if config.get(member) and recipe.refused(setting):
            raise InvalidInputException(f"{member} is not supported by recipe {recipe.name}")


def _check_ranking_influence(request: dict[str, Any]) -> None:
    """What the service documents for rankingInfluence (botocore's RankingInfluence): POPULARITY and FRESHNESS
    only, each weight from 0.0 to 1.0 (Semantic-Similarity's popularity and freshness factors)."""
    influence = request.get("batchInferenceJobConfig", {}).get("rankingInfluence") or {}
    for factor, weight in influence.items():
        if factor not in ("POPULARITY", "FRESHNESS") or not 0.0 <= float(weight) <= 1.0:
            raise InvalidInputException(f"rankingInfluence {factor}={weight}: POPULARITY or FRESHNESS, from 0.0 to 1.0")


VERSIONS_CREATED = datetime(2026, 11, 1, tzinfo=UTC)
"""When the emulated solution versions were trained: an hour apart, in the order they are registered."""


def solution_versions(
    settings: EmulatorSettings, solution_arn: str, max_results: int = 100, next_token: str | None = None
) -> dict[str, Any]:
    """ListSolutionVersions of one solution: its registered versions, oldest first (the real order is not documented,
    so callers must not rely on it), ``max_results`` a page (at most 100) from ``next_token``; a solution with none
    is not found."""
    listed = [arn for arn in settings.solution_versions if arn.rsplit("/", 1)[0] == solution_arn]
    if not listed:
        raise ResourceNotFoundException(solution_arn)
    summaries = []
    for arn in listed:
        status, mode = settings.version_state(arn)
        created = VERSIONS_CREATED + timedelta(hours=list(settings.solution_versions).index(arn))
        summaries.append(
            {
                "solutionVersionArn": arn,
                "status": status,
                "trainingMode": mode,
                "trainingType": "AUTOMATIC" if mode == "AUTOTRAIN" else "MANUAL",
                "creationDateTime": created.timestamp(),
                "lastUpdatedDateTime": created.timestamp(),
            }
        )
    start = int(next_token or 0)
    end = start + min(max(max_results, 1), 100)
    page: dict[str, Any] = {"solutionVersions": summaries[start:end]}
    if end < len(summaries):
        page["nextToken"] = str(end)
    return page


OFFLINE_METRICS = {
    "coverage": (0.05, 0.45),
    "mean_reciprocal_rank_at_25": (0.05, 0.25),
    "normalized_discounted_cumulative_gain_at_5": (0.05, 0.3),
    "normalized_discounted_cumulative_gain_at_10": (0.08, 0.35),
    "normalized_discounted_cumulative_gain_at_25": (0.1, 0.4),
    "precision_at_5": (0.02, 0.15),
    "precision_at_10": (0.02, 0.12),
    "precision_at_25": (0.01, 0.08),
}
"""GetSolutionMetrics' names, each with the range its emulated value lies in (what small public datasets give)."""


def solution_metrics(settings: EmulatorSettings, arn: str) -> dict[str, Any]:
    """GetSolutionMetrics' answer for a version the emulator knows."""
    if arn not in settings.solution_versions:
        raise ResourceNotFoundException(arn)
    return {"solutionVersionArn": arn, "metrics": offline_metrics(arn)}


def offline_metrics(arn: str) -> dict[str, float]:
    """Plausible offline metrics for a version, the same every time for one ARN (no real training to measure): each
    in its range, nDCG growing with k as it must, precision falling."""
    seed = int.from_bytes(hashlib.sha256(arn.encode()).digest()[:8])
    fraction = (seed % 10_000) / 10_000
    return {name: round(low + (high - low) * fraction, 4) for name, (low, high) in OFFLINE_METRICS.items()}


def describe_batch_inference_job(backend: PersonalizeBackend, arn: str) -> BatchInferenceJob:
    job = _jobs(backend).get(arn)
    if job is None:
        raise ResourceNotFoundException(arn)
    return job


@contextlib.contextmanager
def installed(settings: EmulatorSettings) -> Iterator[None]:
    """The batch-inference operations moto lacks, on moto's Personalize responses, answering from ``settings``
    while the context lasts (the local stack holds it open for its life): no state outlives it."""

    def create(self: PersonalizeResponse) -> str:
        arn = create_batch_inference_job(self.personalize_backend, json.loads(self.body), settings)
        return json.dumps({"batchInferenceJobArn": arn})

    def describe(self: PersonalizeResponse) -> str:
        job = describe_batch_inference_job(self.personalize_backend, json.loads(self.body)["batchInferenceJobArn"])
        return json.dumps({"batchInferenceJob": job.to_dict()})

    def list_jobs(self: PersonalizeResponse) -> str:
        wanted = json.loads(self.body).get("solutionVersionArn")
        jobs = [
            job.summary()
            for job in _jobs(self.personalize_backend).values()
            if wanted in (None, job.request.get("solutionVersionArn"))
        ]
        return json.dumps({"batchInferenceJobs": jobs})

    def describe_solution_version(self: PersonalizeResponse) -> str:
        arn = json.loads(self.body)["solutionVersionArn"]
        recipe = settings.solution_versions.get(arn)
        if recipe is None:
            raise ResourceNotFoundException(arn)
        status, mode = settings.version_state(arn)
        version = {"solutionVersionArn": arn, "solutionArn": arn.rsplit("/", 1)[0], "recipeArn": recipe}
        return json.dumps({"solutionVersion": {**version, "status": status, "trainingMode": mode}})

    def list_solution_versions(self: PersonalizeResponse) -> str:
        body = json.loads(self.body)
        page = solution_versions(
            settings, body.get("solutionArn", ""), int(body.get("maxResults", 100)), body.get("nextToken")
        )
        return json.dumps(page)

    def get_solution_metrics(self: PersonalizeResponse) -> str:
        return json.dumps(solution_metrics(settings, json.loads(self.body)["solutionVersionArn"]))

    def create_segments(self: PersonalizeResponse) -> str:
        arn = create_batch_segment_job(self.personalize_backend, json.loads(self.body), settings)
        return json.dumps({"batchSegmentJobArn": arn})

    def describe_segments(self: PersonalizeResponse) -> str:
        arn = json.loads(self.body)["batchSegmentJobArn"]
        job = _jobs(self.personalize_backend, segment=True).get(arn)
        if job is None:
            raise ResourceNotFoundException(arn)
        return json.dumps({"batchSegmentJob": job.to_dict()})

    def list_segments(self: PersonalizeResponse) -> str:
        wanted = json.loads(self.body).get("solutionVersionArn")
        jobs = [
            job.summary()
            for job in _jobs(self.personalize_backend, segment=True).values()
            if wanted in (None, job.request.get("solutionVersionArn"))
        ]
        return json.dumps({"batchSegmentJobs": jobs})

    operations = {
        "create_batch_segment_job": create_segments,
        "describe_batch_segment_job": describe_segments,
        "list_batch_segment_jobs": list_segments,
        "create_batch_inference_job": create,
        "describe_batch_inference_job": describe,
        "list_batch_inference_jobs": list_jobs,
        "describe_solution_version": describe_solution_version,
        "list_solution_versions": list_solution_versions,
        "get_solution_metrics": get_solution_metrics,
    }
    with contextlib.ExitStack() as patches:
        for name, operation in operations.items():
            patches.enter_context(mock.patch.object(PersonalizeResponse, name, operation, create=True))
        yield
