"""Every error a user can cause gets one line naming the problem and the fix, and exit 2 (usage) or 1 (failure):
never a traceback. `batchrecs score` validates and holds the limits as SubmitFunction does."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from batchrecs_cli import main


def one_line_error(capsys: pytest.CaptureFixture[str], command: str) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert err and err[-1].startswith(f"batchrecs {command}: ") and "Traceback" not in "\n".join(err), err
    return err[-1]


@pytest.mark.parametrize("content", ["", "USER_ID,ITEM_ID,TIMESTAMP\n", "not,a\ncsv"])
def test_train_on_an_empty_or_bad_csv_says_so(tmp_path: Path, content: str, capsys: pytest.CaptureFixture[str]) -> None:
    csv = tmp_path / "interactions.csv"
    csv.write_text(content)
    assert main(["train", str(csv), "-o", str(tmp_path / "model")]) == 1
    assert "USER_ID,ITEM_ID,TIMESTAMP" in one_line_error(capsys, "train")


def test_missing_files_and_models_are_usage_errors(
    sample: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["train", str(tmp_path / "nope.csv"), "-o", str(tmp_path / "m")]) == 2
    assert "no such file" in one_line_error(capsys, "train")
    args = ["score", str(sample / "users.jsonl"), "--model", str(tmp_path), "-o", str(tmp_path / "o.out")]
    assert main(args) == 2
    assert "batchrecs train" in one_line_error(capsys, "score")


@pytest.fixture(scope="module")
def model_dir(sample: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("model")
    assert main(["train", str(sample / "interactions.csv"), "-o", str(directory)]) == 0
    return directory


@pytest.mark.parametrize("num_results", ["0", "5000"])
def test_score_holds_the_num_results_limits(
    sample: Path, model_dir: Path, tmp_path: Path, num_results: str, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["score", str(sample / "users.jsonl"), "--model", str(model_dir), "-o", str(tmp_path / "o.out")]
    assert main([*args, "--num-results", num_results]) == 2
    assert "between 1 and 500" in one_line_error(capsys, "score")
    assert not (tmp_path / "o.out").exists()


def test_score_validates_like_submit_function(
    model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    packed = tmp_path / "users.jsonl.gz"
    packed.write_bytes(gzip.compress(b'{"userId": "user-0001"}\n'))
    args = ["score", str(packed), "--model", str(model_dir), "-o", str(tmp_path / "o.out")]
    assert main(args) == 1
    assert "gzip" in capsys.readouterr().err
    assert not (tmp_path / "o.out").exists()


def test_score_writes_personalize_lines_for_a_valid_file(
    sample: Path, model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "o.out"
    args = ["score", str(sample / "users.jsonl"), "--model", str(model_dir), "-o", str(out), "--num-results", "3"]
    assert main(args) == 0
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert lines and all(len(line["output"]["recommendedItems"]) == 3 for line in lines)


def test_redrive_without_region_credentials_or_stack_says_which(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from moto import mock_aws

    for variable in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    assert main(["redrive", "--stack", "batchrecs"]) == 2
    assert "no AWS region" in one_line_error(capsys, "redrive")
    for variable in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # never ask an instance metadata service
    assert main(["redrive", "--stack", "batchrecs", "--region", "us-east-1"]) == 2
    assert "no AWS credentials" in one_line_error(capsys, "redrive")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        assert main(["redrive", "--stack", "missing", "--region", "us-east-1"]) == 2
    assert "no stack 'missing'" in one_line_error(capsys, "redrive")


def test_score_refuses_segment_queries_saying_where_they_run(
    sample: Path, model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["score", str(sample / "segments-attributes.jsonl"), "--model", str(model_dir), "-o", str(tmp_path / "o")]
    assert main(args) == 2
    assert "batch segment jobs run in Personalize" in one_line_error(capsys, "score")
    assert not (tmp_path / "o").exists()
