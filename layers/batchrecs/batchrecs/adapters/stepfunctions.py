"""Starting the job's state machine, named after the job so that a second start is a no-op."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson
from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient


class JobExecutions:
    def __init__(self, sfn: SFNClient, state_machine_arn: str) -> None:
        self.sfn = sfn
        self.state_machine_arn = state_machine_arn

    def start(self, name: str, execution_input: dict[str, Any]) -> str:
        """Start (or find) the execution called ``name``; returns its ARN."""
        try:
            return self.sfn.start_execution(
                stateMachineArn=self.state_machine_arn, name=name, input=orjson.dumps(execution_input).decode()
            )["executionArn"]
        except ClientError as error:
            if error.response["Error"]["Code"] != "ExecutionAlreadyExists":
                raise
            machine = self.state_machine_arn.split(":stateMachine:", 1)
            return f"{machine[0]}:execution:{machine[1]}:{name}"
