"""The served stack (``batchrecs serve``, the sam local tier's endpoint) decides calls that reach it over HTTP as the
in-process stack does: a role's credentials get that role's permissions, the real AWS CLI sees AWS's errors.

The stack and the CLI run in a subprocess of their own, talking over loopback: this test process opens no socket."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

AWS = Path(sys.executable).parent / "aws"
SCRIPT = """
import json, os, subprocess, sys
from batchrecs_local.stack import LocalStack, demo_emulator

with LocalStack(settings=demo_emulator()) as stack, stack.serve() as endpoint:
    credentials = stack.functions["ScoreFunction"].credentials
    environment = {**os.environ, **credentials, "AWS_DEFAULT_REGION": stack.region}
    inputs, outputs = stack.name("InputBucket"), stack.name("OutputBucket")
    calls = {
        "write output": ["s3api", "put-object", "--bucket", outputs, "--key", "output/a.jsonl.out"],
        "list inputs": ["s3api", "list-objects-v2", "--bucket", inputs],
        "head a missing key": ["s3api", "head-object", "--bucket", inputs, "--key", "models/default/latest.json"],
        "write a manifest": ["s3api", "put-object", "--bucket", outputs, "--key", "manifests/x.json"],
        "scan the table": ["dynamodb", "scan", "--table-name", stack.name("JobsTable")],
    }
    answers = {}
    for what, args in calls.items():
        command = [sys.argv[1], "--endpoint-url", endpoint, *args]
        done = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=120)
        answers[what] = [done.returncode, done.stderr]
    print(json.dumps({"answers": answers, "denials": stack.denials}))
"""


def test_a_roles_calls_over_http_get_the_roles_permissions_and_awss_errors() -> None:
    ran = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(AWS)], capture_output=True, text=True, timeout=300, check=False
    )
    assert ran.returncode == 0, ran.stderr[-3000:]
    found = json.loads(ran.stdout.strip().splitlines()[-1])
    answers, denials = found["answers"], found["denials"]
    # ScoreFunction's role may write job output, and nothing else this test tries
    assert answers["write output"][0] == 0, answers["write output"]
    assert "(AccessDenied) when calling the ListObjectsV2 operation" in answers["list inputs"][1]
    # a role that may not list the bucket gets 403, not 404, for a key that is not there
    assert "(403) when calling the HeadObject operation: Forbidden" in answers["head a missing key"][1]
    assert "(AccessDenied) when calling the PutObject operation" in answers["write a manifest"][1]
    assert "(AccessDeniedException) when calling the Scan operation" in answers["scan the table"][1]
    assert len(denials) == 4 and all("ScoreFunctionRole" in d for d in denials), denials
