"""JobOutcomeFunction: subscribed to Job Succeeded and Job Failed on the stack's bus; counts them by backend."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from aws_lambda_powertools.utilities.typing import LambdaContext

from batchrecs.observability import logger, tracer
from batchrecs.outcomes import record_outcome


# No @metrics.log_metrics: every metric here has its own dimension set and is written at once (single_metric), so
# the wrapper would find nothing to flush and warn on every run.
@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@event_parser(model=EventBridgeModel)
def lambda_handler(event: EventBridgeModel, context: LambdaContext) -> dict[str, Any]:
    finished = record_outcome(event.detail_type, event.detail)
    return {"jobName": finished.job_name, "status": finished.status}
