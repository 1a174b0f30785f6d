"""IAM on the local stack: every AWS call is allowed or denied as AWS would decide it, from the transformed template.

moto evaluates no policy by default, and its optional authorizer knows neither resource ARNs nor conditions. Here
each call a client makes is turned into the IAM requests AWS evaluates for it (action, resource ARN, condition keys,
from the Service Authorization Reference), and each request is decided by IAM's documented logic for one account:
an explicit Deny in any policy wins; else an Allow in the principal's identity policies or in the resource's policy
(bucket, queue, event bus, function) grants; else the request is implicitly denied.

Who calls is told by the credentials: each function runs with its own role's (the local stack assumes the role the
template gives it), the state machine's service calls run with its role's, and the emulated Personalize reads and
writes S3 as the role passed to it. Any other credentials are the account's administrator (the user, the tests),
still bound by resource policies' explicit denies.

Unknown calls are refused, never waved through: a call this module cannot map fails with the operation's name, so a
new AWS call needs its mapping here and its permission in template.yaml before any test passes.

S3's own rule holds too: a principal without ``s3:ListBucket`` on the bucket gets 403, not 404, for a missing key.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any
from urllib.parse import unquote

import botocore.handlers
from botocore.exceptions import ClientError

from batchrecs_local import limits
from batchrecs_local.errors import client_error

ADMIN_ARN_FORMAT = "arn:aws:iam::{account}:user/local-admin"
TLS = {"aws:SecureTransport": "true"}
"""Every call is taken as made over TLS: moto's endpoints are https in process, and the served stack's plain HTTP on
this host stands for it (the buckets' TLS-only policies are held by tests/contract/test_security.py)."""
STATE_MACHINE_ACCESS_KEY = "ak"
"""The access key moto's Step Functions interpreter signs its service calls with (``boto_client_for``)."""

Context = Mapping[str, str | Sequence[str]]


@dataclass(frozen=True)
class Need:
    """One request IAM evaluates: an action on a resource, with the condition keys the call sets."""

    action: str
    resource: str
    context: Context = field(default_factory=dict)


@dataclass(frozen=True)
class Principal:
    """Who calls: its ARN, its identity policies' statements, and the keys IAM sets for it."""

    arn: str
    statements: tuple[dict[str, Any], ...] = ()
    admin: bool = False
    service: str | None = None
    """A service principal (``s3.amazonaws.com``) calling on its own behalf: only resource policies grant it."""

    @property
    def context(self) -> dict[str, str]:
        if self.service:
            return {"aws:PrincipalServiceName": self.service}
        return {"aws:PrincipalArn": self.arn, "aws:PrincipalAccount": self.arn.split(":")[4]}


class AccessDenied(Exception):
    """A request IAM would refuse; ``str`` says who, what, on which resource, and why."""


class Unmapped(AccessDenied):
    """A call this module has no IAM mapping for: refused, so that a new call cannot slip past the policies."""


# --- matching ------------------------------------------------------------------------------------------------------


@cache
def _pattern(glob: str, ignore_case: bool) -> re.Pattern[str]:
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in glob)
    return re.compile(f"^{body}$", re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


def _matches(globs: Any, value: str, *, ignore_case: bool = False) -> bool:
    globs = [globs] if isinstance(globs, str) else globs
    return any(_pattern(g, ignore_case).match(value) for g in globs)


def _listed(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


_STRING_TESTS: dict[str, Callable[[str, str], bool]] = {
    "StringEquals": lambda v, p: v == p,
    "StringEqualsIgnoreCase": lambda v, p: v.lower() == p.lower(),
    "StringLike": lambda v, p: bool(_pattern(p, False).match(v)),
    "ArnEquals": lambda v, p: v == p,
    "ArnLike": lambda v, p: bool(_pattern(p, False).match(v)),
    "Bool": lambda v, p: v.lower() == p.lower(),
}
_NEGATED = {
    "StringNotEquals": "StringEquals",
    "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
    "StringNotLike": "StringLike",
    "ArnNotEquals": "ArnEquals",
    "ArnNotLike": "ArnLike",
}


def _condition_holds(operator: str, key: str, expected: Any, context: Context) -> bool:
    """One condition, by IAM's rules: the values listed are ORed; a key missing from the request makes a positive
    operator false and a negated one true; ``…IfExists`` holds when the key is missing; ``Null`` tests presence."""
    keys = {k.lower(): k for k in context}  # condition keys are case-insensitive
    present = key.lower() in keys
    actual = _listed(context.get(keys[key.lower()])) if present else []
    if operator == "Null":
        return (not present) == (str(expected).lower() == "true")
    if_exists = operator.endswith("IfExists")
    base = operator.removesuffix("IfExists")
    qualifier, _, base = base.rpartition(":")
    if not present:
        if qualifier == "ForAllValues":
            return True  # vacuously: every one of no values matches
        if qualifier == "ForAnyValue":
            return False  # no value can match, negated or not
        return if_exists or base in _NEGATED
    wanted = _listed(expected)
    if base in _NEGATED:
        test = _STRING_TESTS[_NEGATED[base]]
        holds = [not any(test(v, p) for p in wanted) for v in actual]
    elif base in _STRING_TESTS:
        test = _STRING_TESTS[base]
        holds = [any(test(v, p) for p in wanted) for v in actual]
    else:
        raise NotImplementedError(f"condition operator {operator} is not evaluated locally")
    return all(holds) if qualifier == "ForAllValues" else any(holds)


def _conditions_hold(conditions: Mapping[str, Mapping[str, Any]], context: Context) -> bool:
    return all(
        _condition_holds(operator, key, expected, context)
        for operator, keys in conditions.items()
        for key, expected in keys.items()
    )


def _principal_matches(spec: Any, principal: Principal) -> bool:
    if spec == "*":
        return True
    if not isinstance(spec, Mapping):
        return False
    if principal.service:
        return principal.service in _listed(spec.get("Service"))
    return any(p == "*" or p == principal.arn for p in _listed(spec.get("AWS")))


def _statement_applies(statement: Mapping[str, Any], need: Need, context: Context, principal: Principal | None) -> bool:
    """Does ``statement`` speak of this request (``principal`` given for a resource policy's statements)?"""
    if "Action" in statement and not _matches(statement["Action"], need.action, ignore_case=True):
        return False
    if "NotAction" in statement and _matches(statement["NotAction"], need.action, ignore_case=True):
        return False
    if "Resource" in statement and not _matches(statement["Resource"], need.resource):
        return False
    if "NotResource" in statement and _matches(statement["NotResource"], need.resource):
        return False
    if principal is not None and "NotPrincipal" in statement:
        if _principal_matches(statement["NotPrincipal"], principal):
            return False
    elif principal is not None and not _principal_matches(statement.get("Principal"), principal):
        return False
    return _conditions_hold(statement.get("Condition", {}), context)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str


def decide(principal: Principal, need: Need, resource_policy: Sequence[Mapping[str, Any]] = ()) -> Decision:
    """IAM's evaluation for one account: explicit deny, then an allow from identity or resource policy."""
    context = {**principal.context, **need.context}
    denied = _applying("Deny", principal, need, context, resource_policy)
    if denied:
        return Decision(False, f"explicit deny in a {denied}")
    if principal.admin:
        return Decision(True, "the account's administrator")
    allowed = _applying("Allow", principal, need, context, resource_policy)
    if allowed:
        return Decision(True, f"allowed by a {allowed}")
    return Decision(False, "no identity-based or resource-based policy allows it")


def _applying(
    effect: str, principal: Principal, need: Need, context: Context, resource_policy: Sequence[Mapping[str, Any]]
) -> str | None:
    """The first policy statement of ``effect`` that speaks of the request, named (None: none does)."""
    identity = () if principal.service else principal.statements
    for source, statements, who in (
        ("identity policy", identity, None),
        ("resource policy", resource_policy, principal),
    ):
        for statement in statements:
            if statement.get("Effect") == effect and _statement_applies(statement, need, context, who):
                return f"{source} ({statement.get('Sid', 'no Sid')})"
    return None


# --- calls → requests ---------------------------------------------------------------------------------------------


def _object_arn(bucket: str, key: str) -> str:
    return f"arn:aws:s3:::{bucket}/{key}"


def _copy_source(source: Any) -> tuple[str, str, str | None]:
    if isinstance(source, Mapping):
        return str(source["Bucket"]), str(source["Key"]), source.get("VersionId")
    path, _, query = str(source).lstrip("/").partition("?")
    bucket, _, key = path.partition("/")
    version = query.removeprefix("versionId=") if query.startswith("versionId=") else None
    return bucket, unquote(key), version


def _read(bucket: str, key: str, version: str | None) -> Need:
    return Need("s3:GetObjectVersion" if version else "s3:GetObject", _object_arn(bucket, key))


def s3_needs(operation: str, p: Mapping[str, Any]) -> list[Need]:
    bucket = p.get("Bucket", "")
    key = p.get("Key", "")
    if operation in ("GetObject", "HeadObject"):
        return [_read(bucket, key, p.get("VersionId"))]
    if operation in ("PutObject", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload"):
        needs = [Need("s3:PutObject", _object_arn(bucket, key))]
        if p.get("Tagging"):
            needs.append(Need("s3:PutObjectTagging", _object_arn(bucket, key)))
        return needs
    if operation in ("CopyObject", "UploadPartCopy"):
        return [Need("s3:PutObject", _object_arn(bucket, key)), _read(*_copy_source(p["CopySource"]))]
    if operation == "AbortMultipartUpload":
        return [Need("s3:AbortMultipartUpload", _object_arn(bucket, key))]
    if operation == "ListParts":
        return [Need("s3:ListMultipartUploadParts", _object_arn(bucket, key))]
    if operation == "HeadBucket":  # botocore's own probe for a bucket's region, after a 301, 400 or 403
        return [Need("s3:ListBucket", f"arn:aws:s3:::{bucket}")]
    if operation in ("ListObjectsV2", "ListObjects", "ListObjectVersions"):
        # Without a Prefix the request has no s3:prefix key (undocumented; a missing key is the strict reading).
        prefix = {"s3:prefix": p["Prefix"]} if "Prefix" in p else {}
        action = "s3:ListBucketVersions" if operation == "ListObjectVersions" else "s3:ListBucket"
        return [Need(action, f"arn:aws:s3:::{bucket}", prefix)]
    if operation == "DeleteObject":
        action = "s3:DeleteObjectVersion" if p.get("VersionId") else "s3:DeleteObject"
        return [Need(action, _object_arn(bucket, key))]
    if operation == "DeleteObjects":
        return [
            Need("s3:DeleteObjectVersion" if o.get("VersionId") else "s3:DeleteObject", _object_arn(bucket, o["Key"]))
            for o in p["Delete"]["Objects"]
        ]
    if operation in ("GetObjectTagging", "PutObjectTagging"):
        suffix = "Version" if p.get("VersionId") else ""
        return [Need(f"s3:{operation}{suffix}", _object_arn(bucket, key))]
    raise Unmapped(f"s3:{operation}")


def _arn(service: str, region: str, account: str, resource: str) -> str:
    return f"arn:aws:{service}:{region}:{account}:{resource}"


def needs_of(service: str, operation: str, p: Mapping[str, Any], region: str, account: str) -> list[Need]:
    """The IAM requests AWS evaluates for one call (the Service Authorization Reference's actions and resources)."""
    try:
        return _needs_of(service, operation, p, region, account)
    except KeyError:  # a call without the parameter its mapping names (ListTables, ListQueues, …)
        raise Unmapped(f"{service}:{operation}") from None


def _leading_keys(operation: str, request: Any) -> list[str]:
    """A batch's partition key values (``dynamodb:LeadingKeys``): the jobs table's hash key is ``id``, a string."""
    if operation == "BatchGetItem":
        keys = request["Keys"]
    else:
        keys = [next(iter(r.values())).get("Item") or next(iter(r.values())).get("Key") for r in request]
    return [str(next(iter(key["id"].values()))) for key in keys]


def _needs_of(service: str, operation: str, p: Mapping[str, Any], region: str, account: str) -> list[Need]:
    if service == "s3":
        return s3_needs(operation, p)
    if service == "dynamodb":
        if operation == "TransactWriteItems":
            actions = {
                "Put": "PutItem",
                "Update": "UpdateItem",
                "Delete": "DeleteItem",
                "ConditionCheck": "ConditionCheckItem",
            }
            return [
                Need(f"dynamodb:{actions[kind]}", _arn("dynamodb", region, account, f"table/{body['TableName']}"))
                for item in p["TransactItems"]
                for kind, body in item.items()
            ]
        if operation in ("BatchWriteItem", "BatchGetItem"):
            return [
                Need(
                    f"dynamodb:{operation}",
                    _arn("dynamodb", region, account, f"table/{table}"),
                    {"dynamodb:LeadingKeys": _leading_keys(operation, request)},
                )
                for table, request in p["RequestItems"].items()
            ]
        table = f"table/{p['TableName']}" + (f"/index/{p['IndexName']}" if p.get("IndexName") else "")
        return [Need(f"dynamodb:{operation}", _arn("dynamodb", region, account, table))]
    if service == "personalize":
        return _personalize_needs(operation, p, region, account)
    if service == "stepfunctions":
        if operation in ("StartExecution", "ListExecutions", "DescribeStateMachine"):
            return [Need(f"states:{operation}", p["stateMachineArn"])]
        if operation in ("DescribeExecution", "StopExecution", "GetExecutionHistory"):
            return [Need(f"states:{operation}", p["executionArn"])]
        if operation == "ListStateMachines":
            return [Need("states:ListStateMachines", "*")]
        raise Unmapped(f"states:{operation}")
    if service == "events":
        if operation != "PutEvents":
            raise Unmapped(f"events:{operation}")
        needs = []
        for entry in p["Entries"]:
            bus = entry.get("EventBusName") or "default"
            arn = bus if bus.startswith("arn:") else _arn("events", region, account, f"event-bus/{bus}")
            context = {"events:source": entry.get("Source", ""), "events:detail-type": entry.get("DetailType", "")}
            needs.append(Need("events:PutEvents", arn, context))
        return needs
    if service == "sqs":
        if operation == "GetQueueUrl":
            return [Need("sqs:GetQueueUrl", _arn("sqs", region, account, p["QueueName"]))]
        if "QueueUrl" not in p:
            raise Unmapped(f"sqs:{operation}")
        url = str(p["QueueUrl"]).rstrip("/").split("/")
        action = operation.removesuffix("Batch")  # SQS authorizes a batch as its single call
        return [Need(f"sqs:{action}", _arn("sqs", region, url[-2], url[-1]))]
    if service == "lambda" and operation == "Invoke":
        name = str(p["FunctionName"])
        if not name.startswith("arn:"):  # a name, name:qualifier, or account:function:name (a partial ARN)
            name = name.split(":function:", 1)[-1]
            name = _arn("lambda", region, account, f"function:{name}")
        arn = f"{name}:{p['Qualifier']}" if p.get("Qualifier") else name
        return [Need("lambda:InvokeFunction", arn)]
    if service == "kms":
        key = str(p.get("KeyId", "*"))
        return [Need(f"kms:{operation}", key if key.startswith("arn:") else _arn("kms", region, account, f"key/{key}"))]
    if service == "sts" and operation == "GetCallerIdentity":
        return []
    raise Unmapped(f"{service}:{operation}")


def _personalize_needs(operation: str, p: Mapping[str, Any], region: str, account: str) -> list[Need]:
    kinds = {"CreateBatchInferenceJob": "batch-inference-job", "CreateBatchSegmentJob": "batch-segment-job"}
    if operation in kinds:
        # The Service Authorization Reference: the job, and for inference the solution (a version's ARN is
        # solution/<name>/<id>); tags need TagResource on the new job. A filter is no resource of the call.
        job = _arn("personalize", region, account, f"{kinds[operation]}/{p['jobName']}")
        needs = [Need(f"personalize:{operation}", job)]
        if operation == "CreateBatchInferenceJob":
            needs.append(Need(f"personalize:{operation}", p["solutionVersionArn"]))
        if p.get("tags"):
            needs.append(Need("personalize:TagResource", job))
        needs.append(Need("iam:PassRole", p["roleArn"], {"iam:PassedToService": "personalize.amazonaws.com"}))
        return needs
    arns = {
        "DescribeBatchInferenceJob": "batchInferenceJobArn",
        "DescribeBatchSegmentJob": "batchSegmentJobArn",
        "DescribeSolutionVersion": "solutionVersionArn",
        "GetSolutionMetrics": "solutionVersionArn",
        "DescribeFilter": "filterArn",
        "DescribeSolution": "solutionArn",
    }
    if operation in arns:
        return [Need(f"personalize:{operation}", p[arns[operation]])]
    if operation in ("ListBatchInferenceJobs", "ListBatchSegmentJobs", "ListSolutionVersions"):
        return [Need(f"personalize:{operation}", "*")]
    raise Unmapped(f"personalize:{operation}")


# --- the account ---------------------------------------------------------------------------------------------------


class Authorizer:
    """The account's principals and resource policies, and the decision for each call."""

    def __init__(self, account: str, region: str) -> None:
        self.account = account
        self.region = region
        self.admin = Principal(ADMIN_ARN_FORMAT.format(account=account), admin=True)
        self.roles: dict[str, Principal] = {}
        """Role ARN → the role as a principal."""
        self.trust: dict[str, list[dict[str, Any]]] = {}
        """Role ARN → its trust policy's statements."""
        self.keys: dict[str, Principal] = {}
        """Access key id → the role whose credentials it is."""
        self.resource_policies: dict[str, list[dict[str, Any]]] = {}
        """Bucket, queue or function ARN → its resource policy's statements."""
        self.object_exists: Callable[[str, str, str | None], bool] | None = None
        """Is there such an object (version)? The store's answer, for S3's 403-or-404 rule."""
        self.denials: list[str] = []
        """Every denial, for tests and for `batchrecs run` to show."""
        self._lock = threading.Lock()

    # setting up
    def add_role(self, arn: str, trust: Mapping[str, Any], policies: Sequence[Mapping[str, Any]]) -> None:
        statements = tuple(s for p in policies for s in _statements(p.get("PolicyDocument", {})))
        self.roles[arn] = Principal(arn, statements)
        self.trust[arn] = _statements(trust)

    def add_resource_policy(self, arn: str, document: Mapping[str, Any]) -> None:
        self.resource_policies.setdefault(arn, []).extend(_statements(document))

    def assume(self, role_arn: str, service: str, access_key: str, context: Context | None = None) -> Principal:
        """``service`` assumes the role (its trust policy must allow it); calls signed with ``access_key`` are then
        the role's."""
        need = Need("sts:AssumeRole", role_arn, context or {"aws:SourceAccount": self.account})
        decision = decide(Principal(service, service=service), need, self.trust.get(role_arn, []))
        if not decision.allowed:
            raise AccessDenied(f"{service} may not assume {role_arn}: {decision.reason}")
        self.keys[access_key] = self.roles[role_arn]
        return self.roles[role_arn]

    # deciding
    def principal(self, access_key: str | None) -> Principal:
        return self.keys.get(access_key or "", self.admin)

    def check(self, principal: Principal, need: Need) -> None:
        decision = decide(principal, need, self._resource_policy(need.resource))
        if not decision.allowed:
            message = (
                f"{principal.arn} is not authorized to perform {need.action} on {need.resource}: {decision.reason}"
            )
            with self._lock:
                self.denials.append(message)
            raise AccessDenied(message)

    def allowed(self, principal: Principal, need: Need) -> bool:
        return decide(principal, need, self._resource_policy(need.resource)).allowed

    def _resource_policy(self, resource: str) -> list[dict[str, Any]]:
        if resource.startswith("arn:aws:s3:::"):
            return self.resource_policies.get("arn:aws:s3:::" + resource[13:].split("/", 1)[0], [])
        return self.resource_policies.get(resource, [])

    def check_call(self, access_key: str | None, service: str, operation: str, params: Mapping[str, Any]) -> Principal:
        principal = self.principal(access_key)
        try:
            needs = needs_of(service, operation, params, self.region, self.account)
        except Unmapped as error:
            if principal.admin:
                return principal
            message = f"{principal.arn} called {error}, which the local stack cannot authorize: map it in iam.py"
            with self._lock:
                self.denials.append(message)
            raise Unmapped(message) from None
        for need in needs:
            if service == "s3":
                need = Need(need.action, need.resource, {**need.context, **TLS})
            self.check(principal, need)
        return principal

    def lists_bucket(self, principal: Principal, bucket: str) -> bool:
        """May ``principal`` list ``bucket`` (S3's test for answering 404 rather than 403 for a missing key)?"""
        return self.allowed(principal, Need("s3:ListBucket", f"arn:aws:s3:::{bucket}", TLS))

    def authorize(self, access_key: str | None, service: str, operation: str, params: Mapping[str, Any]) -> None:
        """One call, whichever way it came (a client in process, a request over HTTP): IAM's decision, then the
        service's limits, then S3's answer for a missing key, 403 to a principal that may not list the bucket."""
        principal = self.check_call(access_key, service, operation, params)
        limits.check(service, operation, params)
        if service != "s3" or operation not in ("GetObject", "HeadObject") or principal.admin:
            return
        bucket, key = params["Bucket"], params["Key"]
        if self.object_exists is None or self.lists_bucket(principal, bucket):
            return
        if not self.object_exists(bucket, key, params.get("VersionId")):
            message = f"{principal.arn} has no s3:ListBucket on {bucket}, so S3 answers 403 for the missing {key}"
            with self._lock:
                self.denials.append(message)
            raise AccessDenied(message)


def _statements(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    statements = document.get("Statement", [])
    return [dict(s) for s in ([statements] if isinstance(statements, Mapping) else statements)]


# --- wiring into every boto3 client -------------------------------------------------------------------------------

_active: Authorizer | None = None


def active() -> Authorizer | None:
    return _active


def _stash_params(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    if _active is not None:
        context["batchrecs_iam_params"] = dict(params)


def _denied(service: str, operation: str, message: str, *, head: bool = False) -> ClientError:
    """The error AWS answers: S3's AccessDenied (a bare 403 for HEAD, which has no body), others'
    AccessDeniedException."""
    code, text = (
        ("403", "Forbidden") if head else ("AccessDenied" if service == "s3" else "AccessDeniedException", message)
    )
    return client_error(operation, code, text, 403)


def _authorize(model: Any, params: dict[str, Any], request_signer: Any, context: dict[str, Any], **_: Any) -> None:
    authorizer = _active
    if authorizer is None:
        return
    if context.get("batchrecs_iam_checked"):  # a session that has the handler twice (made before the import)
        return
    context["batchrecs_iam_checked"] = True
    service = model.service_model.service_name
    credentials = getattr(request_signer, "_credentials", None)
    access_key = getattr(credentials, "access_key", None)
    api_params = context.get("batchrecs_iam_params", {})
    operation = model.name
    try:
        authorizer.authorize(access_key, service, operation, api_params)
    except AccessDenied as error:
        raise _denied(service, operation, str(error), head=operation == "HeadObject") from None


botocore.handlers.BUILTIN_HANDLERS.append(("before-parameter-build", _stash_params))
botocore.handlers.BUILTIN_HANDLERS.append(("before-call", _authorize))


@contextlib.contextmanager
def enforced(authorizer: Authorizer) -> Iterator[Authorizer]:
    """Every boto3 client made from here on (and every one whose session was made after this module's import) calls
    through ``authorizer`` while the context lasts."""
    global _active
    import boto3

    if boto3.DEFAULT_SESSION is not None:  # a session older than this module's handlers
        events = boto3.DEFAULT_SESSION._session.get_component("event_emitter")
        events.register("before-parameter-build", _stash_params, unique_id="batchrecs-iam-params")
        events.register("before-call", _authorize, unique_id="batchrecs-iam-call")
    before, _active = _active, authorizer
    try:
        yield authorizer
    finally:
        _active = before


def from_template(template: Any, account: str) -> Authorizer:
    """The account as the transformed template makes it: each role with its trust and identity policies (inline and
    the managed ones it attaches), and each resource policy (buckets', queues', the bus's, functions'
    permissions)."""
    authorizer = Authorizer(account, template.region)
    for logical in template.resources_of("AWS::IAM::Role"):
        props = template.properties(logical)
        managed = [{"PolicyDocument": MANAGED_POLICIES[arn]} for arn in props.get("ManagedPolicyArns", [])]
        arn = template.physical[logical].attributes["Arn"]
        authorizer.add_role(arn, props["AssumeRolePolicyDocument"], [*props.get("Policies", []), *managed])
    for logical in template.resources_of("AWS::S3::BucketPolicy"):
        props = template.properties(logical)
        authorizer.add_resource_policy(f"arn:aws:s3:::{props['Bucket']}", props["PolicyDocument"])
    for logical in template.resources_of("AWS::SQS::QueuePolicy"):
        props = template.properties(logical)
        for url in props["Queues"]:
            region, queue_account, name = url.split(".")[1], url.split("/")[-2], url.split("/")[-1]
            authorizer.add_resource_policy(_arn("sqs", region, queue_account, name), props["PolicyDocument"])
    for logical in template.resources_of("AWS::Events::EventBusPolicy"):
        props = template.properties(logical)
        bus = str(props.get("EventBusName", "default"))
        arn = bus if bus.startswith("arn:") else _arn("events", template.region, account, f"event-bus/{bus}")
        authorizer.add_resource_policy(arn, {"Statement": [{"Sid": props["StatementId"], **props["Statement"]}]})
    for logical in template.resources_of("AWS::Lambda::Permission"):
        props = template.properties(logical)
        name = str(props["FunctionName"])
        function = name if name.startswith("arn:") else _arn("lambda", template.region, account, f"function:{name}")
        condition: dict[str, dict[str, str]] = {}
        if "SourceArn" in props:
            condition["ArnLike"] = {"aws:SourceArn": props["SourceArn"]}
        if "SourceAccount" in props:
            condition["StringEquals"] = {"aws:SourceAccount": props["SourceAccount"]}
        statement = {"Sid": logical, "Effect": "Allow", "Principal": {"Service": props["Principal"]}}
        statement |= {"Action": props["Action"], "Resource": function, "Condition": condition}
        authorizer.add_resource_policy(function, {"Statement": [statement]})
    return authorizer


MANAGED_POLICIES: dict[str, dict[str, Any]] = {
    "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess": {
        "Statement": [
            {
                "Effect": "Allow",
                "Action": [
                    "xray:PutTraceSegments",
                    "xray:PutTelemetryRecords",
                    "xray:GetSamplingRules",
                    "xray:GetSamplingTargets",
                    "xray:GetSamplingStatisticSummaries",
                ],
                "Resource": "*",
            }
        ]
    },
}
"""The AWS managed policies the template attaches, as AWS publishes them (a role attaching another fails here)."""
