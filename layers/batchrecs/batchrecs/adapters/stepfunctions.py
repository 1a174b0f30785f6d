"""Starting JobStateMachine under a name that says what it runs (a job; a drop's Drop Completed; a folder's
settling; a part's watch), so that a second start of the name is a no-op."""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient

    from batchrecs.model import WireModel


class Started(NamedTuple):
    arn: str
    new: bool
    """False when an execution of that name ran already: a redelivered drop, not a second job."""


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
            machine = self.state_machine_arn.split(":stateMachine:", 1)
            return Started(f"{machine[0]}:execution:{machine[1]}:{name}", new=False)
