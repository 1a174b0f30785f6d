"""AWS's errors as botocore raises them, for the local stack's refusals (IAM's denials, AWS's limits)."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError


def client_error(operation: str, code: str, message: str, status: int) -> ClientError:
    """An AWS error response as botocore raises it (with the metadata moto's Step Functions reads)."""
    metadata = {"HTTPStatusCode": status, "HTTPHeaders": {}, "RequestId": "local", "HostId": "", "RetryAttempts": 0}
    response: Any = {"Error": {"Code": code, "Message": message}, "ResponseMetadata": metadata}
    return ClientError(response, operation)
