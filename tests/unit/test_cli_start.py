"""`batchrecs --help` and `batchrecs validate` start without the local stack's heavy modules, so they are quick
and work from `pip install .` without the `local` extra (bench/cli_start.py measures the time)."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
HEAVY = {"moto", "numpy", "cfnlint", "samtranslator", "scorer", "samcli"}
PROBE = """
import sys
from batchrecs_cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as exit:
    code = exit.code
print(sorted({{m.split(".")[0] for m in sys.modules}} & {heavy!r}), file=sys.stderr)
"""


def imported(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=HEAVY), *args], capture_output=True, text=True, check=False
    )
    return done.stderr.strip().splitlines()[-1]


def test_help_and_validate_import_nothing_heavy(tmp_path: Path) -> None:
    valid = tmp_path / "users.jsonl"
    valid.write_text('{"userId": "1"}\n')
    assert imported("--help") == "[]"
    assert imported("validate", str(valid)) == "[]"
    # The probe sees heavy modules when a command needs them: train loads the scorer (numpy)
    csv = tmp_path / "interactions.csv"
    csv.write_text("USER_ID,ITEM_ID,TIMESTAMP\n" + "".join(f"u{n % 5},i{n % 7},{n}\n" for n in range(60)))
    assert "numpy" in imported("train", str(csv), "-o", str(tmp_path / "model"))


def test_pyproject_declares_what_the_cli_needs() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = {requirement.split("[")[0].split(">")[0].split("=")[0] for requirement in project["dependencies"]}
    layers = {
        line.split("[")[0].split("=")[0]
        for path in ROOT.glob("layers/*/requirements.txt")
        for line in path.read_text().splitlines()
        if line and not line.startswith("#")
    }
    assert layers <= names
    local = {r.split("[")[0].split(">")[0] for r in project["optional-dependencies"]["local"]}
    assert {"moto", "aws-sam-cli", "cfn-lint"} <= local


def test_the_jobs_table_fits_a_hundred_columns_cutting_the_input_key_from_the_left() -> None:
    from batchrecs_ops.commands import job_table

    deep = "s3://batchrecs-input-123456789012/input/" + "a-very-long-folder/" * 6 + "users.jsonl"
    entries = [
        {"jobName": "br-users-0dd7bb001833332a", "status": "CREATE FAILED", "backend": "personalize",
         "kind": "users", "finishedAt": "2026-12-06T23:40:12.345+00:00", "input": deep},
        {"jobName": "br-x-1", "status": "ACTIVE", "backend": "self-hosted", "kind": "items", "input": "s3://b/input/x.jsonl"},
    ]  # fmt: skip
    table = job_table(entries)
    assert all(len(line) <= 100 for line in table) and len(table) == 3
    assert table[1].endswith("users.jsonl") and "…" in table[1] and " 12-06 23:40 " in table[1]
    assert table[2].endswith("  x.jsonl") and " - " in table[2]  # under input/; not finished yet


def test_the_jobs_table_shows_a_drop_of_several_jobs_as_one_row_by_its_drop_id() -> None:
    from batchrecs_ops.commands import job_table

    def job(name: str, status: str, finished: str | None, drop: str = "br-export-7f", jobs: int = 3) -> dict[str, Any]:
        return {"jobName": name, "status": status, "backend": "personalize", "kind": "users", "finishedAt": finished,
                "input": "s3://b/input/export/_SUCCESS", "dropId": drop, "dropJobs": jobs}  # fmt: skip

    entries = [
        job("br-export-job-001-aa", "ACTIVE", "2026-12-06T23:40:00Z"),
        {"jobName": None, "status": "REJECTED", "kind": None, "input": "s3://b/in/bad.jsonl", "finishedAt": "2026"},
        job("br-export-job-002-bb", "CREATE FAILED", "2026-12-06T23:41:00Z"),
        job("br-users-cc", "ACTIVE", "2026-12-06T23:38:00Z", drop="br-users-cc", jobs=1),
    ]
    _, export, rejected, users = job_table(entries)
    assert export.split()[:5] == ["br-export-7f", "ACTIVE×1,CREATE", "FAILED×1", "+1", "more"]  # 2 of its 3 listed
    assert " - " in export and export.endswith("CCESS")  # not every job has ended: no end time
    assert rejected.split()[:3] == ["-", "REJECTED", "-"] and rejected.endswith("in/bad.jsonl")
    assert users.split()[:2] == ["br-users-cc", "ACTIVE"]


def test_long_names_give_way_to_the_input_key_in_the_jobs_table() -> None:
    from batchrecs_ops.commands import KEY_ROOM, job_table

    name = "br-cli-after-model-1bae685a4feb9498-and-a-very-long-stem"
    entries = [
        {"jobName": name, "status": "ACTIVE", "backend": "self-hosted", "kind": "item-attributes",
         "finishedAt": "2026-12-07T02:21:00Z", "input": "s3://b/input/segments-attributes.jsonl"},
    ]  # fmt: skip
    _, row = job_table(entries)
    assert len(row) <= 100 and row.endswith("segments-attributes.jsonl"[-KEY_ROOM + 1 :])
    first = row.split()[0]
    assert "…" in first and first.startswith("br-cli-") and first.endswith(name[-8:])
