"""S3 for the stack: dropped files read as lines, snapshots and ranged copies of them, reports and manifests, the
scorer's models found, and a fan-out's shards joined server side."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import orjson
from botocore.exceptions import ClientError

from batchrecs.errors import ObjectGone
from batchrecs.layout import latest_key
from batchrecs.lines import iter_lines, read_chunks, within_time
from batchrecs.naming import is_version_id, version_argument
from batchrecs.ports import MergePart, ObjectHead, Segment
from batchrecs.scoring import ModelLocation
from batchrecs.split import Splitter

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef, CopySourceTypeDef


GONE = frozenset({"404", "NoSuchKey", "NoSuchVersion"})
JOIN_THREADS = 8
"""Parts of a merge written at once (botocore's default pool holds 10 connections)."""


class S3Files:
    def __init__(self, s3: S3Client) -> None:
        self.s3 = s3

    def head(self, bucket: str, key: str, version_id: str | None) -> ObjectHead:
        """Size, ETag and user metadata (the per-object job overrides) of exactly the version that was dropped."""
        try:
            head = self.s3.head_object(Bucket=bucket, Key=key, **version_argument(version_id))
        except ClientError as error:
            if error.response["Error"]["Code"] in GONE:
                raise ObjectGone(f"s3://{bucket}/{key} version {version_id} no longer exists") from error
            raise
        return ObjectHead(
            size=head["ContentLength"],
            etag=head["ETag"].strip('"'),
            version_id=head.get("VersionId"),
            metadata=head.get("Metadata", {}),
        )

    def lines(
        self,
        bucket: str,
        key: str,
        version_id: str | None,
        out_of_time: Callable[[], bool] | None = None,
        splitter: Splitter | None = None,
    ) -> Iterator[bytes]:
        """The object's lines, streamed: memory stays flat whatever the size. With ``out_of_time``, reading stops
        with ValidationStopped once it says so (checked once a chunk); a ``splitter`` sees every line go by."""
        body = self.s3.get_object(Bucket=bucket, Key=key, **version_argument(version_id))["Body"]
        try:
            chunks = read_chunks(body)
            yield from iter_lines(within_time(chunks, out_of_time) if out_of_time else chunks, splitter=splitter)
        finally:
            body.close()

    def snapshot(self, bucket: str, key: str, version_id: str | None, target_key: str) -> str | None:
        """Copy exactly ``version_id`` of ``key`` to ``target_key``, server side; the copy's version id.

        Jobs read the copy: a re-upload of ``key`` after validation cannot change what runs."""
        source: CopySourceTypeDef = {"Bucket": bucket, "Key": key}
        if version_id and is_version_id(version_id):
            source["VersionId"] = version_id
        copied = self.s3.copy_object(Bucket=bucket, Key=target_key, CopySource=source, MetadataDirective="COPY")
        return copied.get("VersionId")

    def copy_range(
        self, bucket: str, key: str, version_id: str | None, start: int, end: int, target_key: str
    ) -> str | None:
        """Copy bytes ``start`` to ``end`` (exclusive) of exactly ``version_id`` of ``key`` to ``target_key``,
        server side (UploadPartCopy with a range: one part, up to 5 GB); the copy's version id. A split input's
        parts are made so, no byte of them passing through the function."""
        source: CopySourceTypeDef = {"Bucket": bucket, "Key": key, **version_argument(version_id)}
        upload = self.s3.create_multipart_upload(Bucket=bucket, Key=target_key)["UploadId"]
        try:
            part = self.s3.upload_part_copy(
                Bucket=bucket,
                Key=target_key,
                UploadId=upload,
                PartNumber=1,
                CopySource=source,
                CopySourceRange=f"bytes={start}-{end - 1}",
            )
            done = self.s3.complete_multipart_upload(
                Bucket=bucket,
                Key=target_key,
                UploadId=upload,
                MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["CopyPartResult"]["ETag"]}]},
            )
        except BaseException:
            self.s3.abort_multipart_upload(Bucket=bucket, Key=target_key, UploadId=upload)
            raise
        return done.get("VersionId")

    def latest_model(self, bucket: str, name: str) -> ModelLocation | None:
        """The newest version of scorer model ``name``, from the pointer TrainFunction writes; None if untrained."""
        try:
            body = self.s3.get_object(Bucket=bucket, Key=latest_key(name))["Body"].read()
        except ClientError as error:
            if error.response["Error"]["Code"] in ("NoSuchKey", "404"):
                return None
            raise
        pointer = orjson.loads(body)
        return ModelLocation(bucket=bucket, key=pointer["modelKey"], version=pointer["version"])

    def keys(self, bucket: str, prefix: str) -> list[str]:
        """Every key under ``prefix``, in S3's order (UTF-8 binary), a page of 1,000 at a time."""
        return list(self.sizes(bucket, prefix))

    def listing(self, bucket: str, prefix: str) -> dict[str, str]:
        """Every key under ``prefix`` with its ETag (unquoted), from the listing itself (a call per thousand)."""
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        return {item["Key"]: item["ETag"].strip('"') for page in pages for item in page.get("Contents", [])}

    def sizes(self, bucket: str, prefix: str) -> dict[str, int]:
        """Every key under ``prefix`` with its size, in S3's order, from the listing itself (a call per thousand)."""
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        return {item["Key"]: item["Size"] for page in pages for item in page.get("Contents", [])}

    def chunks_from(self, bucket: str, key: str, start: int) -> Iterator[bytes]:
        """The object's bytes from ``start`` to its end, streamed (a ranged GET): memory stays flat."""
        body = self.s3.get_object(Bucket=bucket, Key=key, Range=f"bytes={start}-")["Body"]
        try:
            yield from read_chunks(body)
        finally:
            body.close()

    def put_json(self, bucket: str, key: str, document: dict[str, Any] | list[Any]) -> None:
        self.put_bytes(bucket, key, orjson.dumps(document, option=orjson.OPT_INDENT_2), "application/json")

    def put_bytes(self, bucket: str, key: str, body: bytes, content_type: str, kms_key_arn: str | None = None) -> None:
        """One object, with SSE-KMS under ``kms_key_arn`` when given (else the bucket's default encryption)."""
        encryption: dict[str, Any] = (
            {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": kms_key_arn} if kms_key_arn else {}
        )
        self.s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type, **encryption)

    def read_json(self, bucket: str, key: str) -> Any:
        """A JSON object's content, or None when there is no such object."""
        try:
            body = self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except ClientError as error:
            if error.response["Error"]["Code"] in ("NoSuchKey", "404"):
                return None
            raise
        return orjson.loads(body)

    def exists(self, bucket: str, key: str) -> bool:
        try:
            self.head(bucket, key, None)
        except ObjectGone:
            return False
        return True

    def join(self, bucket: str, key: str, parts: list[MergePart], kms_key_arn: str | None = None) -> None:
        """Write ``key`` as the concatenation of ``parts`` (``merge.merge_parts``) by one multipart upload: a copied
        part is S3's own copy of a byte range (UploadPartCopy); a joined one, the segments' bytes read and uploaded
        (each under 5 MiB), JOIN_THREADS parts at a time. The object appears whole on completion or not at all: a
        failure aborts the upload."""
        encryption: dict[str, Any] = (
            {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": kms_key_arn} if kms_key_arn else {}
        )
        upload = self.s3.create_multipart_upload(Bucket=bucket, Key=key, **encryption)["UploadId"]

        def write(number: int, part: MergePart) -> CompletedPartTypeDef:
            if part.copy:
                (segment,) = part.segments
                copied = self.s3.upload_part_copy(
                    Bucket=bucket,
                    Key=key,
                    UploadId=upload,
                    PartNumber=number,
                    CopySource={"Bucket": bucket, "Key": segment.key},
                    CopySourceRange=f"bytes={segment.start}-{segment.end - 1}",
                )
                return {"PartNumber": number, "ETag": copied["CopyPartResult"]["ETag"]}
            body = b"".join(self._range(bucket, segment) for segment in part.segments)
            uploaded = self.s3.upload_part(Bucket=bucket, Key=key, UploadId=upload, PartNumber=number, Body=body)
            return {"PartNumber": number, "ETag": uploaded["ETag"]}

        try:
            # Parts are independent requests: JOIN_THREADS at once (S3 does the copying; a joined part holds at
            # most about 10 MiB, so memory stays under JOIN_THREADS × 10 MiB).
            with ThreadPoolExecutor(max_workers=JOIN_THREADS) as pool:
                done = list(pool.map(write, range(1, len(parts) + 1), parts))
            self.s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload, MultipartUpload={"Parts": done})
        except BaseException:
            self.s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload)
            raise

    def _range(self, bucket: str, segment: Segment) -> bytes:
        if segment.end == segment.start:
            return b""
        ranged = f"bytes={segment.start}-{segment.end - 1}"
        return self.s3.get_object(Bucket=bucket, Key=segment.key, Range=ranged)["Body"].read()

    def delete_prefix(self, bucket: str, prefix: str) -> int:
        """Delete every object under ``prefix`` (a thousand a call); how many there were."""
        keys = self.keys(bucket, prefix)
        for start in range(0, len(keys), 1000):
            batch = keys[start : start + 1000]
            self.s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True})
        return len(keys)
