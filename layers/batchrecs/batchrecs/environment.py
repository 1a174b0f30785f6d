"""What each function reads from its environment, declared once as a model: the variables' names (upper snake
case), their types and defaults. SubmitFunction's is ``StackSettings`` (stack_settings.py); the others are here. A
contract test (tests/contract/test_template.py) holds each model to the variables template.yaml gives its function:
none unread, none missing, the same defaults."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from batchrecs.errors import StackSettingsError


class FunctionEnvironment(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", alias_generator=str.upper, populate_by_name=True)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> Self:
        """Parse the function's variables; a wrong one fails the invocation naming it (the stack's fault)."""
        try:
            return cls.model_validate({name: value for name, value in environ.items() if name.isupper()})
        except ValidationError as error:
            raise StackSettingsError([f"{err['loc'][0]}: {err['msg']}" for err in error.errors()]) from None

    @classmethod
    def variables(cls) -> set[str]:
        return {field.alias or name.upper() for name, field in cls.model_fields.items()}


class CreateJobEnvironment(FunctionEnvironment):
    jobs_table: str | None = None
    """JobsTable, where the quota queue's tickets are (None: no ticket order, as before the queue existed)."""


class JobOutcomeEnvironment(FunctionEnvironment):
    jobs_table: str
    job_history_days: int = Field(default=90, ge=1)
    state_machine_arn: str
    """JobStateMachine: the jobs it started, and the drop executions that publish Drop Completed."""


class ScoreEnvironment(FunctionEnvironment):
    openblas_num_threads: int = Field(default=1, ge=1)
    """Read by numpy's OpenBLAS at import: one BLAS thread per product, the scorer's own threads use the vCPUs."""


class TrainEnvironment(FunctionEnvironment):
    """TrainFunction publishes Model Trained and Model Rejected on the stack's bus."""

    event_bus_name: str
    event_source: str = "batchrecs"


class MergeEnvironment(FunctionEnvironment):
    """MergeFunction reads nothing but Lambda's and Powertools' own variables."""


ENVIRONMENTS: dict[str, type[FunctionEnvironment]] = {
    "CreateJobFunction": CreateJobEnvironment,
    "JobOutcomeFunction": JobOutcomeEnvironment,
    "ScoreFunction": ScoreEnvironment,
    "TrainFunction": TrainEnvironment,
    "MergeFunction": MergeEnvironment,
}
"""Function (logical id) → its environment's model; SubmitFunction's is StackSettings."""
