"""Commands on a deployed stack, or on the one `batchrecs serve` serves: its resources found by the stack's name in
CloudFormation, with AWS's usual settings (region, credentials, profile, AWS_ENDPOINT_URL) or --endpoint-url."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from functools import cache
from typing import Any


class UserError(Exception):
    """A problem the user can fix: one line on stderr naming it and the fix, and an exit code (2 for usage)."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


@contextlib.contextmanager
def aws_errors(stack: str | None = None) -> Iterator[None]:
    """botocore's errors as one line each, with the fix: no region, no credentials, no such stack, or the API's."""
    from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError, NoRegionError

    try:
        yield
    except NoRegionError:
        raise UserError("no AWS region: pass --region, or set AWS_REGION (or a profile's region)", 2) from None
    except NoCredentialsError:
        raise UserError(
            "no AWS credentials: configure them as for the AWS CLI (aws configure, a profile, …)", 2
        ) from None
    except EndpointConnectionError as error:
        raise UserError(f"cannot reach {error.kwargs.get('endpoint_url', 'the endpoint')}: is it running?") from None
    except ClientError as error:
        code = error.response["Error"]["Code"]
        if code == "ValidationError" and stack is not None:
            raise UserError(f"no stack {stack!r} in this account and region: check --stack and --region", 2) from None
        raise UserError(f"{code}: {error.response['Error'].get('Message', '')}") from None


class Deployed:
    """One stack, by name: its clients, and its resources' physical names."""

    def __init__(self, stack: str, *, region: str | None = None, endpoint_url: str | None = None) -> None:
        import boto3

        from batchrecs.adapters import RETRIES

        self.stack = stack
        self.endpoint_url = endpoint_url
        self.session = boto3.session.Session(region_name=region)
        self._config = RETRIES

    @cache  # noqa: B019 - one Deployed per command
    def client(self, service: str) -> Any:
        return self.session.client(service, endpoint_url=self.endpoint_url, config=self._config)  # type: ignore[call-overload]

    @cache  # noqa: B019
    def physical(self) -> dict[str, str]:
        """Logical id → physical name of every resource of the stack."""
        pages = self.client("cloudformation").describe_stack_resources(StackName=self.stack)["StackResources"]
        return {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in pages}

    @cache  # noqa: B019
    def resources(self) -> dict[str, Any]:
        """The stack's resources as CloudFormation deployed them: the processed template (the SAM transform's
        output), so that the wiring read is the deployed stack's, not this checkout's."""
        body = self.client("cloudformation").get_template(StackName=self.stack, TemplateStage="Processed")
        template = body["TemplateBody"]
        document: dict[str, Any] = json.loads(template) if isinstance(template, str) else template
        return dict(document["Resources"])

    def name(self, logical: str) -> str:
        found = self.physical().get(logical)
        if found is None:
            raise UserError(f"stack {self.stack!r} has no {logical}: is it a batchrecs stack?", 2)
        return found
