"""docs/security.md's role tables: every statement of every role as the transformed template deploys it (SAM's
generated state machine role included), with why it is there. ``make docs`` writes them; a contract test fails when
they are stale, and when a statement has no reason here."""

from __future__ import annotations

import re
from typing import Any

from batchrecs_local.template import Template

ROLES_BEGIN = "<!-- roles:begin (make docs) -->"
ROLES_END = "<!-- roles:end -->"
_ROLES_BLOCK = re.compile(re.escape(ROLES_BEGIN) + r".*?" + re.escape(ROLES_END) + r"\n?", re.DOTALL)

WHY: dict[str, str] = {
    # every function
    "OwnLogGroupOnly": "its log lines, into its own log group only",
    "Traces": "X-Ray traces (`Tracing: Active`); X-Ray has no resource-level permissions",
    "OnFailureDestination": "Lambda sends an event that failed every retry to the function's on-failure queue",
    "ReadAndWriteEncryptedObjects": "with `KmsKeyArn`: the objects it reads and writes are encrypted with that key",
    # SubmitFunction
    "IdempotencyRecords": "Powertools idempotency records and the job ledger's drop items",
    "ReadDrops": "the dropped version it validates (GetObjectVersion: a drop is read by its version id)",
    "ListDrops": "a folder's parts (`_SUCCESS`); and with it S3 answers 404, not 403, for a key that is missing "
    "(`models/<name>/latest.json` on a stack with no model, a manifest's missing entry)",
    "WriteSnapshots": "the validated version's immutable copy the job reads, and a split input's parts (multipart)",
    "WriteReports": "Input Rejected's report",
    "WriteJobManifests": "a folder job's every input and output file, which its events list only the first 10 of",
    "FindScorerModels": "the scorer model a small drop would run on (`models/<name>/latest.json`)",
    "CreateJobs": "CreateBatchInferenceJob/CreateBatchSegmentJob on the job (`br-*`), Describe to adopt a job a "
    "redelivery finds, TagResource for `tags` (the Service Authorization Reference checks it on the new job)",
    "ReadModels": "DescribeSolutionVersion (its recipe decides kind and backend), and the solution the create names",
    "ResolveSolutions": "ListSolutionVersions: a solution named resolves to a version (List actions take no resource)",
    "PassRoleToPersonalize": "the role Personalize reads input and writes output as, to Personalize only",
    "StartJobExecution": "the job's state machine execution; a folder's settling, a part's watch",
    "PublishEvents": "the job's events on the stack's bus",
    # CreateJobFunction
    "QueueTickets": "the quota queue's tickets in the jobs table",
    # TrainFunction
    "ReadAndWriteModels": "the interactions it trains on and the model versions it writes",
    "ListModels": "a model's versions; and with it S3 answers 404, not 403, for a missing key",
    "PublishModelEvents": "Model Trained and Model Rejected, and no other detail-type, on the stack's bus",
    # ScoreFunction
    "ReadSnapshotsAndModels": "the snapshot (or shard's byte range) it scores, and the model version",
    "WriteOutputAndShards": "the job's output (`output/`) and, fanned out, each shard's output and error file",
    # MergeFunction
    "ReadAndDeleteShards": "the shards' outputs and error files it joins or discards",
    "ListShards": "the shards' outputs it joins; and with it S3 answers 404, not 403, for a missing key",
    "ReadDropManifests": "a compare drop's manifest, when Drop Completed lists only its first 10 jobs",
    "ReadHoldoutAndModelInteractions": "the interactions a comparison report measures on: the drop's holdout=, else "
    "the scorer model's",
    "ListInputBucket": "the holdout's listing: its size (a report reads up to 64 MiB), or that it is missing",
    "ReadOfflineMetrics": "GetSolutionMetrics: each compared solution version's own offline metrics, in its report",
    "WriteMergedOutput": "the merged output, by multipart copy of the shards (GetObject: it checks it exists)",
    # JobOutcomeFunction
    "LedgerItems": "the job ledger's items and drop items",
    "FolderRecords": "what each folder drop took in (`part#…` items only), so that each part ends once",
    "AnnounceDropCompleted": "the drop's execution, which publishes Drop Completed once (its name is the drop's)",
    "CheckEndsAgainstTheirJobs": "a job's event is recorded only if its execution (`br-…`) was started for that job",
    "WriteDropManifests": "every job of a drop, which Drop Completed lists only the first 10 of",
    "WriteEncryptedManifests": "with `KmsKeyArn`: the output bucket encrypts the manifest with that key",
    # PersonalizeRole
    "ReadSnapshots": "Personalize reads the job's input (the snapshots) and lists its folder",
    "WriteOutput": "Personalize writes the job's output under `output/`",
    "UseKey": "with `KmsKeyArn`: Personalize reads and writes objects encrypted with that key",
    # JobStateMachine (SAM's generated role)
    "InvokeItsFunctions": "ScoreFunction, CreateJobFunction and MergeFunction, by their ARNs",
    "RunDistributedMap": "the fan-out's distributed Map starts child executions of this state machine",
    "WatchDistributedMapChildren": "and watches and stops them",
    "ReadShardManifests": "a distributed Map's ItemReader reads the shard manifest",
    "DecryptShardManifests": "with `KmsKeyArn`: the manifest is encrypted with that key",
    "PollJobs": "DescribeBatchInferenceJob/DescribeBatchSegmentJob, until the job ends",
    "DeliverLogs": "Step Functions' log delivery to its log group; AWS documents these with `*` only",
}
MANAGED = {"arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess": "SAM attaches it for the state machine's tracing"}


def _listed(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def roles_markdown(template: Template | None = None) -> str:
    """One table per role: Sid, actions, resources, condition, why."""
    template = template or Template(stack_name="batchrecs")
    out = []
    for logical in template.resources_of("AWS::IAM::Role"):
        props = template.properties(logical)
        trusted = sorted(
            p
            for s in props["AssumeRolePolicyDocument"]["Statement"]
            for p in _listed(s.get("Principal", {}).get("Service", []))
        )
        out += [f"### {logical}", "", f"Assumed by {', '.join(f'`{t}`' for t in trusted)}.", ""]
        out += ["| statement | actions | resources | condition | why |", "|---|---|---|---|---|"]
        for policy in props.get("Policies", []):
            for statement in policy["PolicyDocument"]["Statement"]:
                sid = statement.get("Sid")
                if sid not in WHY:
                    raise ValueError(f"{logical}: statement {sid or statement} has no reason in iamdoc.WHY")
                actions = "<br>".join(f"`{a}`" for a in _listed(statement["Action"]))
                resources = "<br>".join(f"`{r}`" for r in _listed(statement["Resource"]))
                condition = f"`{statement['Condition']}`" if "Condition" in statement else ""
                out.append(f"| {sid} | {actions} | {resources} | {condition} | {WHY[sid]} |")
        for arn in props.get("ManagedPolicyArns", []):
            out.append(f"| (managed) | `{arn}` | | | {MANAGED[arn]} |")
        out.append("")
    return "\n".join(out)


def render_security(text: str) -> str:
    if not _ROLES_BLOCK.search(text):
        raise ValueError(f"docs/security.md has no {ROLES_BEGIN} … {ROLES_END} block")
    return _ROLES_BLOCK.sub(lambda m: f"{ROLES_BEGIN}\n{roles_markdown()}{ROLES_END}\n", text)
