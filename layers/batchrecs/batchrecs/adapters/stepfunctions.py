"""Starting JobStateMachine under a name that says what it runs (a job; a drop's Drop Completed; a folder's
settling; a part's watch), so that a second start of the name is a no-op."""

from __future__ import annotations

from typing import TYPE_CHECKING

from botocore.exceptions import ClientError
from pydantic import ValidationError

from batchrecs.execution import ExecutionInput, SubmittedJob
from batchrecs.ports import Started

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient

    from batchrecs.model import WireModel


class JobExecutions:
    def __init__(self, sfn: SFNClient, state_machine_arn: str) -> None:
        self.sfn = sfn
        self.state_machine_arn = state_machine_arn

    def start(self, name: str, execution: WireModel) -> Started:
        """Start (or find) the execution called ``name``."""
        try:
            started = self.sfn.start_execution(
                stateMachineArn=self.state_machine_arn, name=name, input=execution.model_dump_json(by_alias=True)
            )
            return Started(started["executionArn"], new=True)
        except ClientError as error:
            if error.response["Error"]["Code"] != "ExecutionAlreadyExists":
                raise
            return Started(self.execution_arn(name), new=False)

    def execution_arn(self, name: str) -> str:
        machine = self.state_machine_arn.split(":stateMachine:", 1)
        return f"{machine[0]}:execution:{machine[1]}:{name}"

    def job_of(self, name: str) -> SubmittedJob | None:
        """The job the execution ``name`` was started for; None when the stack started no job of that name."""
        try:
            described = self.sfn.describe_execution(executionArn=self.execution_arn(name))
        except ClientError as error:
            if error.response["Error"]["Code"] != "ExecutionDoesNotExist":
                raise
            return None
        try:
            submitted = ExecutionInput.model_validate_json(described["input"])
        except ValidationError:  # an execution of another kind (a drop's, a folder's) under that name
            return None
        return SubmittedJob(submitted.event, described["startDate"])
