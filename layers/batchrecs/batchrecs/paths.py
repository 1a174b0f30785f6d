"""The names and keys of a drop's jobs, derived once from the dropped version, without I/O: ``Paths`` for a file's
drop (one job per solution version and part), ``FolderPaths`` for a settled folder's (one job per group of its
files). The key formulas themselves are ``batchrecs.layout``'s; the planner (``batchrecs.plan``) builds each job's
request from these."""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from dataclasses import dataclass

from batchrecs.layout import output_folder, output_key, snapshot_folder
from batchrecs.naming import job_name
from batchrecs.settings import JobSettings
from batchrecs.split import Piece


@dataclass(frozen=True)
class JobPaths:
    """One job's names and keys."""

    name: str
    folder: str
    """Its output prefix (a key, ending in /)."""
    output_key: str
    input_key: str
    """What it reads: the drop's snapshot, or its part of the split input (beside where the snapshot would be)."""
    settings: JobSettings
    piece: Piece | None = None


@dataclass(frozen=True)
class Paths:
    """Every name and key a drop's jobs use, derived once from the dropped version (its ``version_token``).

    One job per solution version and part: a drop that makes one job has the drop's name; one making several
    (solution versions compared, or an input split into parts) has a name per job, and their outputs sit side by
    side under output/<drop id>/. A split input's parts are named after it (``users.part-001.jsonl``) and written
    beside the snapshot, under snapshots/<drop id>/, expiring with it."""

    drop_id: str
    snapshot_key: str
    jobs: tuple[JobPaths, ...]

    @classmethod
    def of(
        cls,
        bucket: str,
        key: str,
        token: str,
        each: list[JobSettings],
        pieces: list[Piece] | None = None,
        named: Mapping[str, str] | None = None,
    ) -> Paths:
        """``named``: a version resolved from a solution → the solution the drop named, which its job is named
        after, so that a redelivery resolving to a newer version finds the jobs already made by their names."""
        drop_id = job_name(bucket, key, token)
        file = posixpath.basename(key)
        snapshots = snapshot_folder(drop_id)
        split = pieces if pieces and len(pieces) > 1 else [None]
        many = len(each) * len(split) > 1
        by_model = len({settings.scorer_model for settings in each}) > 1  # scorer models compared
        jobs = []
        for settings in each:
            for piece in split:
                arn = (named or {}).get(settings.solution_version_arn, settings.solution_version_arn)
                arn = f"{arn}/{settings.scorer_model}" if by_model else arn
                variants = [arn if len(each) > 1 else "", part_label(piece)]
                variant = "/".join(v for v in variants if v)
                name = job_name(bucket, key, token, variant) if many else drop_id
                folder = output_folder(drop_id, name, alone=not many)
                input_file = part_name(file, piece) if piece else file
                jobs.append(
                    JobPaths(
                        name=name,
                        folder=folder,
                        output_key=output_key(folder, input_file),
                        input_key=f"{snapshots}{input_file}",
                        settings=settings,
                        piece=piece,
                    )
                )
        return cls(drop_id=drop_id, snapshot_key=f"{snapshots}{file}", jobs=tuple(jobs))

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(job.name for job in self.jobs)

    @property
    def longest_output_key(self) -> str:
        return max((job.output_key for job in self.jobs), key=len)

    @property
    def parts(self) -> list[JobPaths]:
        """The jobs of the first solution version: one per part, each with the input key its part is copied to."""
        first = self.jobs[0].settings
        return [job for job in self.jobs if job.settings is first]


def folder_drop_id(bucket: str, marker_key: str, token: str) -> str:
    """A folder drop's id: named after the folder (the marker's directory) and the marker's version token."""
    return job_name(bucket, posixpath.dirname(marker_key), token)


@dataclass(frozen=True)
class FolderJobPaths:
    """One job of a folder drop: its name, the folder its files' snapshots go to, and its output prefix."""

    name: str
    snapshots: str
    folder: str
    """Its output prefix (a key, ending in /)."""

    def input_key(self, key: str, piece: Piece | None = None) -> str:
        """The copy the job reads of one of its files (``key``), or of one part of a file over a job's limits."""
        base = posixpath.basename(key)
        return self.snapshots + (base if piece is None else part_name(base, piece))

    def output_key(self, key: str, piece: Piece | None = None) -> str:
        """What Personalize writes for that file: its copy's name, under the job's output prefix."""
        return output_key(self.folder, self.input_key(key, piece))


@dataclass(frozen=True)
class FolderPaths:
    """Every name and key a settled folder's jobs use, derived once from its marker's version (its token), as
    ``Paths`` does for a file. A folder that makes one job gives it the drop's name, reading snapshots/<drop id>/
    and writing output/<drop id>/; one over a job's limits makes ``job-NNN`` variants, each reading its own
    snapshots/<drop id>/job-NNN/ and writing side by side under output/<drop id>/<job>/."""

    drop_id: str
    jobs: tuple[FolderJobPaths, ...]

    @classmethod
    def of(cls, bucket: str, marker_key: str, token: str, groups: int) -> FolderPaths:
        drop_id = folder_drop_id(bucket, marker_key, token)
        if groups == 1:
            alone = FolderJobPaths(drop_id, snapshot_folder(drop_id), output_folder(drop_id, drop_id, alone=True))
            return cls(drop_id, (alone,))
        folder = posixpath.dirname(marker_key)
        names = [job_name(bucket, folder, token, f"job-{n:03d}") for n in range(1, groups + 1)]
        jobs = [
            FolderJobPaths(name, snapshot_folder(drop_id, n), output_folder(drop_id, name, alone=False))
            for n, name in enumerate(names, start=1)
        ]
        return cls(drop_id, tuple(jobs))

    @property
    def names(self) -> list[str]:
        return [job.name for job in self.jobs]


def part_label(piece: Piece | None) -> str:
    return f"part-{piece.index:0{max(3, len(str(piece.count)))}d}" if piece else ""


def part_name(file: str, piece: Piece) -> str:
    """A part's file name: ``users.part-001.jsonl`` (its output, ``users.part-001.jsonl.out``)."""
    stem, extension = posixpath.splitext(file)
    return f"{stem}.{part_label(piece)}{extension}"
