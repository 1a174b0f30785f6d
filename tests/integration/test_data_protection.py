"""Data protection end to end: the stack's KMS key on every job, whichever backend runs it."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from batchrecs_local.stack import EventTap, LocalStack, demo_emulator
from tests.integration.test_hostile_input import outcome


def test_the_stack_key_encrypts_personalize_jobs_and_self_hosted_output(sample: Path) -> None:
    """KmsKeyArn reaches every job: Personalize's jobInput and jobOutput, and the scorer's output object."""
    key = "arn:aws:kms:us-east-1:123456789012:key/0b0c2f0e-6a3b-4e8f-9d61-2f1c5c7e9a10"
    settings = demo_emulator(pending_seconds=0.2, running_seconds=0.3, interactions=sample / "interactions.csv")
    with LocalStack(settings=settings, parameters={"KmsKeyArn": key}) as stack:
        tap = EventTap(stack)
        stack.drop((sample / "interactions.csv").read_bytes(), "models/default/interactions.csv")
        small = outcome(stack, tap, "input/small.jsonl")
        large = outcome(stack, tap, "input/large.jsonl", {"backend": "personalize"})
        assert [e["detail"]["backend"] for e in (small, large)] == ["self-hosted", "personalize"]
        job = stack.client("personalize").describe_batch_inference_job(batchInferenceJobArn=large["detail"]["jobArn"])
        job_input, job_output = job["batchInferenceJob"]["jobInput"], job["batchInferenceJob"]["jobOutput"]
        assert job_input["s3DataSource"]["kmsKeyArn"] == job_output["s3DataDestination"]["kmsKeyArn"] == key
        bucket, _, out_key = small["detail"]["output"]["files"][0].removeprefix("s3://").partition("/")
        head = stack.client("s3").head_object(Bucket=bucket, Key=out_key)
        assert (head["ServerSideEncryption"], head["SSEKMSKeyId"]) == ("aws:kms", key)


def test_the_stack_key_encrypts_a_fanned_out_jobs_shards_and_its_merged_output(sample: Path) -> None:
    key = "arn:aws:kms:us-east-1:123456789012:key/0b0c2f0e-6a3b-4e8f-9d61-2f1c5c7e9a10"
    parameters = {
        "KmsKeyArn": key,
        "SmallJobMaxRecords": "1000",
        "ShardMaxRecords": "1000",
        "SelfHostedMaxRecords": "9999",
    }
    settings = demo_emulator(pending_seconds=0.2, running_seconds=0.3, interactions=sample / "interactions.csv")
    with LocalStack(settings=settings, parameters=parameters) as stack:
        tap = EventTap(stack)
        stack.drop((sample / "interactions.csv").read_bytes(), "models/default/interactions.csv")
        s3 = stack.client("s3")
        merge = stack.lambdas.gates["MergeFunction"] = threading.Event()  # holds the merge: the shards stay
        body = b"".join(b'{"userId": "user-%04d"}\n' % (n % 300 + 1) for n in range(3_000))
        stack.drop(body, "input/fanned.jsonl")
        try:
            deadline = time.monotonic() + 180
            while (shards := s3.list_objects_v2(Bucket=stack.name("OutputBucket"), Prefix="shards/")["KeyCount"]) < 3:
                assert time.monotonic() < deadline, f"{shards} of 3 shards written"
                time.sleep(0.1)
            for item in s3.list_objects_v2(Bucket=stack.name("OutputBucket"), Prefix="shards/")["Contents"]:
                head = s3.head_object(Bucket=stack.name("OutputBucket"), Key=item["Key"])
                assert (head["ServerSideEncryption"], head["SSEKMSKeyId"]) == ("aws:kms", key)
        finally:
            merge.set()  # never leave the merge held
        events = tap.collect(lambda es: any(e["detail-type"] == "Job Succeeded" for e in es), timeout=180)
        (done,) = [e["detail"] for e in events if e["detail-type"] == "Job Succeeded"]
        assert done["shards"] == 3
        bucket, _, out_key = done["output"]["files"][0].removeprefix("s3://").partition("/")
        head = s3.head_object(Bucket=bucket, Key=out_key)
        assert (head["ServerSideEncryption"], head["SSEKMSKeyId"]) == ("aws:kms", key)
