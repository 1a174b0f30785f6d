"""IAM and AWS's limits for calls that reach the served stack over HTTP: the sam local tier's containers, which run
the built functions with their roles' credentials, and any other client of ``batchrecs serve``.

In process, iam.py decides each call from botocore's own parameters. Over HTTP the call is read back from the
request, as the service would read it: the JSON protocols name the operation in ``X-Amz-Target`` and carry the
parameters as the body; S3's REST calls are told apart by method, path and query. The caller is the access key of
the request's signature. The served endpoint is plain HTTP on this host: it is taken as TLS (the buckets' TLS-only
policy would otherwise refuse every call), which is the one thing this tier grants that AWS would not.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit
from xml.etree import ElementTree

from batchrecs_local import iam, limits

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
SIGNED_BY = re.compile(r"Credential=([^/]+)/[^/]+/[^/]+/([^/]+)/")
SERVICES = {"states": "stepfunctions", "execute-api": "apigateway"}
"""Signing names that are not botocore's service names."""


def s3_call(method: str, path: str, query: dict[str, list[str]], headers: dict[str, str], body: bytes) -> Any:
    """(operation, parameters) of an S3 REST request, path-style (``/bucket/key``)."""
    bucket, _, key = unquote(path.lstrip("/")).partition("/")
    params: dict[str, Any] = {"Bucket": bucket}
    one = {name: values[0] for name, values in query.items()}
    if key:
        params["Key"] = key
    if "versionId" in one:
        params["VersionId"] = one["versionId"]
    copy = headers.get("x-amz-copy-source")
    if not key:
        if method == "GET" and one.get("list-type") == "2":
            return "ListObjectsV2", {**params, **({"Prefix": one["prefix"]} if "prefix" in one else {})}
        if method == "GET" and "versions" in query:
            return "ListObjectVersions", {**params, **({"Prefix": one["prefix"]} if "prefix" in one else {})}
        if method == "GET" and set(query) <= {"prefix", "delimiter", "marker", "max-keys", "encoding-type"}:
            return "ListObjects", {**params, **({"Prefix": one["prefix"]} if "prefix" in one else {})}
        if method == "HEAD":
            return "HeadBucket", params
        if method == "POST" and "delete" in query:
            keys = [e.text or "" for e in ElementTree.fromstring(body).iter() if e.tag.endswith("Key")]
            return "DeleteObjects", {**params, "Delete": {"Objects": [{"Key": k} for k in keys]}}
        return f"bucket:{method}", params
    if method in ("GET", "HEAD") and not (set(query) - {"versionId", "partNumber"}):
        return ("GetObject" if method == "GET" else "HeadObject"), params
    if method == "GET" and "tagging" in query:
        return "GetObjectTagging", params
    if method == "PUT" and "tagging" in query:
        return "PutObjectTagging", params
    if method == "PUT" and "uploadId" in query:
        return ("UploadPartCopy", {**params, "CopySource": copy}) if copy else ("UploadPart", params)
    if method == "PUT" and copy:
        return "CopyObject", {**params, "CopySource": copy}
    if method == "PUT":
        return "PutObject", {**params, **({"Tagging": headers["x-amz-tagging"]} if "x-amz-tagging" in headers else {})}
    if method == "POST" and "uploads" in query:
        return "CreateMultipartUpload", params
    if method == "POST" and "uploadId" in query:
        return "CompleteMultipartUpload", params
    if method == "DELETE" and "uploadId" in query:
        return "AbortMultipartUpload", params
    if method == "DELETE":
        return "DeleteObject", params
    if method == "GET" and "uploadId" in query:
        return "ListParts", params
    return f"object:{method}", params


def guarded(app: WsgiApp) -> WsgiApp:
    """``app`` (moto's server) behind the active authorizer and AWS's limits."""

    def serve(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        authorizer = iam.active()
        signed = SIGNED_BY.search(environ.get("HTTP_AUTHORIZATION", ""))
        if authorizer is None or signed is None:
            return app(environ, start_response)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        access_key, signing_name = signed.groups()
        service = SERVICES.get(signing_name, signing_name)
        headers = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
        try:
            operation, params = _call(service, environ, headers, body)
            authorizer.authorize(access_key, service, operation, params)
        except iam.AccessDenied as denied:
            return _refusal(service, environ, start_response, 403, "AccessDenied", str(denied))
        except limits.LimitExceeded as over:
            error = over.response["Error"]
            return _refusal(service, environ, start_response, 400, error["Code"], error["Message"])
        return app(environ, start_response)

    return serve


def _call(service: str, environ: dict[str, Any], headers: dict[str, str], body: bytes) -> tuple[str, Any]:
    target = headers.get("x-amz-target")
    if target:  # the JSON protocols
        return target.rsplit(".", 1)[-1], json.loads(body or b"{}")
    query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    if service == "s3":
        path = urlsplit(environ.get("RAW_URI") or environ.get("PATH_INFO", "/")).path
        return s3_call(environ["REQUEST_METHOD"], path, query, headers, body)  # type: ignore[no-any-return]
    form = {k: v[0] for k, v in parse_qs(body.decode(errors="replace")).items()} if body else {}
    form |= {k: v[0] for k, v in query.items()}
    if "Action" in form:  # the query protocol
        return form.pop("Action"), form
    raise iam.Unmapped(f"{service}: a request the served stack cannot read ({environ['REQUEST_METHOD']})")


def _refusal(
    service: str, environ: dict[str, Any], start_response: Callable[..., Any], status: int, code: str, message: str
) -> Iterable[bytes]:
    """The error as the service's protocol writes it: S3's XML, the JSON protocols' ``__type``."""
    if service == "s3":
        body = f"<Error><Code>{code}</Code><Message>{_escape(message)}</Message></Error>".encode()
        kind = "application/xml"
    else:
        code = code if code.endswith("Exception") or code.startswith("Invalid") else f"{code}Exception"
        body, kind = json.dumps({"__type": code, "message": message}).encode(), "application/x-amz-json-1.0"
    head = environ["REQUEST_METHOD"] == "HEAD"
    start_response(f"{status} Refused", [("Content-Type", kind), ("Content-Length", str(0 if head else len(body)))])
    return [b""] if head else [body]


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
