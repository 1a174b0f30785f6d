"""The served stack (``batchrecs serve``, the sam local tier's endpoint) decides calls that reach it over HTTP as the
in-process stack does: a role's credentials get that role's permissions, the real AWS CLI sees AWS's errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from batchrecs_local.stack import LocalStack, demo_emulator

AWS = Path(sys.executable).parent / "aws"


def test_a_roles_calls_over_http_get_the_roles_permissions_and_awss_errors() -> None:
    with LocalStack(settings=demo_emulator()) as stack, stack.serve() as endpoint:
        credentials = stack.functions["ScoreFunction"].credentials
        environment = {**os.environ, **credentials, "AWS_DEFAULT_REGION": stack.region}
        inputs, outputs = stack.name("InputBucket"), stack.name("OutputBucket")

        def aws(*args: str) -> subprocess.CompletedProcess[str]:
            command = [str(AWS), "--endpoint-url", endpoint, *args]
            return subprocess.run(command, env=environment, capture_output=True, text=True, timeout=120, check=False)

        # ScoreFunction's role may write job output, and nothing else this test tries
        assert aws("s3api", "put-object", "--bucket", outputs, "--key", "output/a.jsonl.out").returncode == 0
        listed = aws("s3api", "list-objects-v2", "--bucket", inputs)
        assert "(AccessDenied) when calling the ListObjectsV2 operation" in listed.stderr
        # a role that may not list the bucket gets 403, not 404, for a key that is not there
        missing = aws("s3api", "head-object", "--bucket", inputs, "--key", "models/default/latest.json")
        assert "(403) when calling the HeadObject operation: Forbidden" in missing.stderr
        manifest = aws("s3api", "put-object", "--bucket", outputs, "--key", "manifests/x.json")
        assert "(AccessDenied) when calling the PutObject operation" in manifest.stderr
        scan = aws("dynamodb", "scan", "--table-name", stack.name("JobsTable"))
        assert "(AccessDeniedException) when calling the Scan operation" in scan.stderr
        assert len(stack.denials) == 4 and all("ScoreFunctionRole" in d for d in stack.denials)
