"""Long work shows progress on a terminal and stays quiet when piped (rich, drawn on stderr only)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from batchrecs_cli import main


def test_piped_output_has_no_progress_drawing(
    sample: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("BATCHRECS_PROGRESS", raising=False)  # captured stderr is no terminal
    assert main(["train", str(sample / "interactions.csv"), "-o", str(tmp_path / "model")]) == 0
    captured = capsys.readouterr()
    assert captured.err == "" and json.loads(captured.out)["algorithm"]  # stdout: the model's metadata only


def test_a_terminal_sees_training_scoring_and_job_progress(
    sample: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BATCHRECS_PROGRESS", "1")
    model = tmp_path / "model"
    assert main(["train", str(sample / "interactions.csv"), "-o", str(model)]) == 0
    out = tmp_path / "o.out"
    assert main(["score", str(sample / "users.jsonl"), "--model", str(model), "-o", str(out)]) == 0
    drawn = capsys.readouterr().err
    assert "records scored" in drawn and "\x1b[" in drawn  # a rich bar, drawn with terminal escapes
    assert main(["run", str(sample / "users.jsonl"), "--out", str(tmp_path / "out"), "--timeout", "60"]) == 0
    board = capsys.readouterr()
    assert "batchrecs run" in board.err and "users.jsonl" in board.err and "Job Succeeded" in board.err
    assert all(line.startswith("{") for line in board.out.splitlines())  # events stay plain JSON on stdout
