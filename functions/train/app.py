"""TrainFunction: models/<name>/interactions.csv dropped → models/<name>/<version>/ trained, latest.json updated."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.parser.models import S3Model
from aws_lambda_powertools.utilities.typing import LambdaContext

from batchrecs.adapters import client
from batchrecs.adapters.eventbridge import EventPublisher
from batchrecs.environment import TrainEnvironment
from batchrecs.events import ModelRejected
from batchrecs.naming import version_token
from batchrecs.observability import Metric, count, flush_recorded_metrics, logger, tracer
from batchrecs.scoring import TrainedModel, TrainResult
from scorer.jobs import model_drop, trained_event


def reset() -> None:
    """Nothing to forget: this function caches nothing of its environment (the local stack calls it before each
    invocation, as for every function)."""


# The bucket notifies this function of what it wrote itself too (a version's files, latest.json), which counts
# nothing: flush_recorded_metrics, not log_metrics, which would warn of an empty flush on each.
@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@flush_recorded_metrics
@event_parser(model=S3Model)
def lambda_handler(event: S3Model, context: LambdaContext) -> dict[str, Any]:
    """Every key under models/: an interactions CSV trains a model version (Model Trained), anything else there is
    refused (Model Rejected, with the line and what a drop must be); what this function wrote itself is passed."""
    environment = TrainEnvironment.from_environment()
    publisher = EventPublisher(client("events"), environment.event_bus_name, environment.event_source)
    trained = []
    for record in event.Records:
        obj = record.s3.object
        if obj is None:
            continue
        key, bucket = unquote_plus(obj.key), record.s3.bucket.name
        outcome = model_drop(client("s3"), bucket, key, obj.versionId, version_token(obj.versionId, obj.eTag or ""))
        if outcome is None:
            continue
        if isinstance(outcome, ModelRejected):
            logger.warning("model rejected", extra={"key": key, "line": outcome.line, "reason": outcome.reason})
            count(Metric.MODELS_REJECTED)
            publisher.publish(outcome)
            continue
        version = outcome
        # One count per model drop (0 for a redelivery that found its version), so every run has its metric.
        count(Metric.MODELS_TRAINED, 1 if version.created else 0)
        if version.created:
            count(Metric.TRAINING_DURATION, float(version.metadata.get("trainingSeconds", 0)), MetricUnit.Seconds)
        logger.info(
            "model trained" if version.created else "model version exists",
            extra={"model": version.name, "version": version.version, "metadata": version.metadata},
        )
        publisher.publish(trained_event(version, bucket, key, obj.versionId))
        trained.append(
            TrainedModel(
                name=version.name, version=version.version, model_key=version.model_key, created=version.created
            )
        )
    return TrainResult(models=trained).to_wire()
