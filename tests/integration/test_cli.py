"""`batchrecs run`: the user's view of the local stack."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from batchrecs_cli import main


def cli_env() -> dict[str, str]:
    """The environment of a CLI process that runs this checkout's code, whichever one the venv was installed from."""
    root = Path(__file__).resolve().parents[2]
    paths = ["layers/batchrecs", "layers/scorer", "local", "ops", "cli"]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(str(root / path) for path in paths)}


def run_cli(tmp_path: Path, *files: Path | str, interactions: Path | None = None) -> int:
    """`batchrecs run FILE… --out TMP/out --timeout 60 [--interactions CSV]`; strings are extra arguments."""
    paths = [str(f) for f in files if isinstance(f, Path)]
    extra = [f for f in files if isinstance(f, str)]
    options = ["--interactions", str(interactions)] if interactions else []
    return main(["run", *paths, *extra, *options, "--out", str(tmp_path / "out"), "--timeout", "60"])


def test_run_prints_submitted_and_succeeded_and_copies_outputs(
    sample: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run_cli(tmp_path, sample / "users.jsonl", interactions=sample / "interactions.csv")
    captured = capsys.readouterr()
    events = [json.loads(line) for line in captured.out.splitlines()]
    assert code == 0
    assert [e["detail-type"] for e in events] == ["Job Submitted", "Job Succeeded"]
    (uri,) = events[1]["detail"]["output"]["files"]
    (run,) = (tmp_path / "out").iterdir()  # the run's own folder: run-<UTC time>
    assert run.name.startswith("run-") and f"outputs go to {run}" in captured.err
    copied = run / events[1]["detail"]["jobName"] / uri.rsplit("/", 1)[-1]
    lines = [json.loads(line) for line in copied.read_text().splitlines()]
    assert len(lines) == len((sample / "users.jsonl").read_text().splitlines())
    assert all(line["error"] is None and len(line["output"]["recommendedItems"]) == 25 for line in lines)
    assert "scorer model 'default' trained" in captured.err  # progress on stderr
    assert [e["detail"]["backend"] for e in events] == ["self-hosted", "self-hosted"]
    # with what the output holds, as its end counted it
    assert f"users.jsonl: Job Succeeded, {len(lines)} lines, 0 error lines (0.0%)" in captured.err


def test_run_on_a_bad_file_prints_input_rejected_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text("".join(f'{{"userId": "{n}"}}\n' for n in range(6)) + '{"userId": 7}\n')
    code = run_cli(tmp_path, bad)
    (event,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 1
    assert event["detail-type"] == "Input Rejected"
    assert event["detail"]["errors"][0]["line"] == 7


def test_run_with_metadata_overrides_applies_them(
    sample: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run_cli(
        tmp_path, sample / "users.jsonl", "--metadata", "num-results=5", interactions=sample / "interactions.csv"
    )
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 0
    assert events[-1]["detail"]["settings"]["numResults"] == 5
    out = next((tmp_path / "out").rglob("*.out"))
    assert all(len(json.loads(line)["output"]["recommendedItems"]) == 5 for line in out.read_text().splitlines())


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["run", str(tmp_path / "missing.jsonl")])
    assert caught.value.code == 2


def test_run_sends_a_small_file_self_hosted_and_a_filtered_file_to_personalize(
    sample: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run_cli(
        tmp_path, sample / "users.jsonl", sample / "users-filtered.jsonl", interactions=sample / "interactions.csv"
    )
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 0
    finished = {
        e["detail"]["input"]["key"]: e["detail"]["backend"] for e in events if e["detail-type"] == "Job Succeeded"
    }
    assert finished == {"input/users.jsonl": "self-hosted", "input/users-filtered.jsonl": "personalize"}
    # The Personalize job's folder also holds Personalize's _CHECK (the emulator writes one); run copies only the
    # outputs its event names, so the copy holds .out files and nothing else
    copied = sorted(path.name for path in (tmp_path / "out").rglob("*") if path.is_file())
    assert copied == ["users-filtered.jsonl.out", "users.jsonl.out"]
    (personalize,) = [
        e for e in events if e["detail"]["backend"] == "personalize" and e["detail-type"] == "Job Succeeded"
    ]
    assert personalize["detail"]["backendReasons"] == ["filters (filter-arn) run only in Personalize"]


def test_theme_generation_through_run_ends_with_theme_lines(
    sample: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    themes = ["--metadata", "batch-inference-job-mode=THEME_GENERATION", "--metadata", "theme-item-name=TITLE"]
    code = run_cli(tmp_path, sample / "items.jsonl", *themes, interactions=sample / "interactions.csv")
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 0 and [e["detail-type"] for e in events] == ["Job Submitted", "Job Succeeded"]
    succeeded = events[1]["detail"]
    assert succeeded["backend"] == "personalize" and succeeded["settings"]["jobMode"] == "THEME_GENERATION"
    (uri,) = succeeded["output"]["files"]
    (run,) = (tmp_path / "out").iterdir()
    lines = [json.loads(line) for line in (run / succeeded["jobName"] / uri.rsplit("/", 1)[-1]).open()]
    assert len(lines) == len((sample / "items.jsonl").read_text().splitlines())
    assert all(list(line["output"]) == ["recommendedItems", "theme", "itemsThemeRelevanceScores"] for line in lines)


def test_run_trains_the_model_once_for_train_function_and_the_emulator(
    sample: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from batchrecs_local import emulator
    from scorer.model import Model

    trained: list[int] = []
    train = Model.train.__func__  # type: ignore[attr-defined]

    def counting(cls: type[Model], /, *args: object, **kwargs: object) -> Model:
        trained.append(1)
        return train(cls, *args, **kwargs)  # type: ignore[no-any-return]

    monkeypatch.setattr(Model, "train", classmethod(counting))
    monkeypatch.setattr(emulator, "_models", {})
    # A users file through Personalize (the emulator) and the scorer model TrainFunction trains for the run
    code = run_cli(
        tmp_path, sample / "users.jsonl", "--metadata", "backend=personalize", interactions=sample / "interactions.csv"
    )
    capsys.readouterr()
    assert code == 0 and len(trained) == 1


def test_run_picks_each_files_local_solution_version_so_kinds_run_together(
    sample: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the README's files without their sidecar metadata (no solution version named)
    bare = tmp_path / "bare"
    bare.mkdir()
    for name in ("users.jsonl", "items.jsonl", "ranking.jsonl"):
        (bare / name).write_bytes((sample / name).read_bytes())
    # When they run in one call, as README shows (`batchrecs run items.jsonl --metadata num-results=10`)
    code = run_cli(
        tmp_path, *sorted(bare.iterdir()), "--metadata", "num-results=10", interactions=sample / "interactions.csv"
    )
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    # Then each ran with the local solution version of its kind, and succeeded
    assert code == 0
    succeeded = {e["detail"]["input"]["key"]: e["detail"] for e in events if e["detail-type"] == "Job Succeeded"}
    assert {key: d["kind"] for key, d in succeeded.items()} == {
        "input/users.jsonl": "users",
        "input/items.jsonl": "items",
        "input/ranking.jsonl": "ranking",
    }
    assert all(
        d["settings"]["solutionVersionArn"].endswith(f"batchrecs-local-{d['kind']}/1") for d in succeeded.values()
    )


def test_two_inputs_with_one_file_name_are_refused_up_front(
    sample: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for folder in ("d1", "d2"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "u.jsonl").write_bytes((sample / "users.jsonl").read_bytes())
    with pytest.raises(SystemExit) as caught:
        main(["run", str(tmp_path / "d1" / "u.jsonl"), str(tmp_path / "d2" / "u.jsonl")])
    assert caught.value.code == 2
    assert "two files are named u.jsonl" in capsys.readouterr().err


def test_a_job_that_ended_before_the_deadline_check_is_still_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a timeout of zero: the deadline passes before the first look at the events
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"userId": 7}\n')
    code = main(["run", str(bad), "--out", str(tmp_path / "out"), "--timeout", "0"])
    # Then the rejection that had already happened is printed, not lost to the timeout
    (event,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert (code, event["detail-type"]) == (1, "Input Rejected")


def test_function_logs_stay_out_of_the_way_unless_verbose(
    sample: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert run_cli(tmp_path, sample / "users.jsonl", interactions=sample / "interactions.csv") == 0
    quiet = capsys.readouterr()
    # Progress only on stderr: no function log or metric lines, and no Powertools warning about empty metrics
    assert '"level"' not in quiet.err and '"_aws"' not in quiet.err
    assert not [(w.filename, w.lineno, str(w.message)) for w in caught if "No application metrics" in str(w.message)]
    assert all(line.startswith("[") for line in quiet.err.splitlines()), quiet.err[:500]
    assert run_cli(tmp_path, sample / "users.jsonl", "--verbose", interactions=sample / "interactions.csv") == 0
    assert '"level"' in capsys.readouterr().err


def test_runs_leave_nothing_behind_and_delete_nothing(
    sample: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import tempfile

    out = tmp_path / "out"
    (out / "br-old-0123456789abcdef").mkdir(parents=True)  # an earlier run's job folder (older layout)
    (out / "br-old-0123456789abcdef" / "users.jsonl.out").write_text("{}\n")
    (out / "notes.txt").write_text("mine")
    before = sorted(Path(tempfile.gettempdir()).glob("batchrecs-sample*"))
    mine = sorted((p.relative_to(out), p.read_bytes() if p.is_file() else None) for p in out.rglob("*"))
    # Two runs without --interactions (sample data), into the same --out
    for _ in range(2):
        assert main(["run", str(sample / "users.jsonl"), "--out", str(out), "--timeout", "60"]) == 0
    capsys.readouterr()
    # Then the sample data was written once and reused; everything that was in out is there as it was, and each
    # run has its own folder with its job's output
    after = sorted(Path(tempfile.gettempdir()).glob("batchrecs-sample*"))
    assert set(after) - set(before) <= {Path(tempfile.gettempdir()) / "batchrecs-sample"}
    kept = sorted((p.relative_to(out), p.read_bytes() if p.is_file() else None) for p in out.rglob("*"))
    assert set(mine) <= set(kept)
    runs = sorted(p for p in out.iterdir() if p.name.startswith("run-"))
    assert len(runs) == 2 and all(len(list(run.rglob("users.jsonl.out"))) == 1 for run in runs)


@pytest.mark.parametrize(
    ("parameter", "said"),
    [
        ("ShardMaxRecords=100", "Parameter 'ShardMaxRecords' must be a number not less than 1000"),
        ("MaxJobSeconds=999999", "Parameter 'MaxJobSeconds' must be a number not greater than 604800"),
        ("NumResults=many", "Parameter 'NumResults' must be a number"),
        ("JobMode=FAST", "Parameter 'JobMode' must be one of AllowedValues"),
        ("ScorerModelName=no/slash", "Parameter 'ScorerModelName' must match pattern"),
        ("NoSuchParameter=1", "Parameter 'NoSuchParameter' is not declared in template.yaml"),
        ("ShardMaxRecords", "--parameter takes KEY=VALUE"),
    ],
)
def test_a_parameter_a_deploy_would_refuse_is_refused_in_one_line_before_anything_is_touched(
    parameter: str, said: str, sample: Path, tmp_path: Path
) -> None:
    """Through the real CLI: a value CloudFormation would refuse stops `run` (and `serve`) before the stack starts,
    in one line naming the constraint, exit 2, and --out untouched."""
    env = cli_env()
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    for command in (["run", str(sample / "users.jsonl"), "--out", str(out)], ["serve", "--port", "0"]):
        done = cli_done(*command, "--parameter", parameter, env=env)
        assert done.returncode == 2, done.stderr
        assert done.stderr.count("\n") == 1 and said in done.stderr, done.stderr
        assert "Traceback" not in done.stderr and done.stdout == ""
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]


def test_run_compares_two_solution_versions_with_outputs_side_by_side(
    sample: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from batchrecs_local.stack import solution_version_arn

    versions = f"{solution_version_arn('users', version=1)} {solution_version_arn('users', version=2)}"
    code = run_cli(tmp_path, sample / "users.jsonl", "--metadata", f"solution-version-arn={versions}")
    captured = capsys.readouterr()
    events = [json.loads(line) for line in captured.out.splitlines()]
    done = [e["detail"] for e in events if e["detail-type"] == "Job Succeeded"]
    assert code == 0 and len(done) == 2, captured.err
    assert "2 of 2 jobs succeeded" in captured.err
    (drop_id,) = {d["dropId"] for d in done}
    (run,) = (tmp_path / "out").iterdir()
    copied = sorted(p.relative_to(run) for p in run.rglob("*.out"))
    assert copied == sorted(Path(drop_id) / d["jobName"] / "users.jsonl.out" for d in done)
    # And the run ends with the drop's comparison: its report and page copied, its table printed
    assert [e["detail-type"] for e in events][-1] == "Comparison Ready"
    assert sorted(p.name for p in (run / drop_id).glob("report.*")) == ["report.html", "report.json"]
    table = captured.err.split("comparison (", 1)[1].splitlines()
    assert table[1].split()[:3] == ["version", "backend", "lines"], captured.err
    assert [row.split()[0] for row in table[2:4]] == ["batchrecs-local-users/1", "batchrecs-local-users/2"]
    assert table[4].startswith("batchrecs-local-users/1 vs batchrecs-local-users/2: overlap@10 0.")


def test_run_waits_for_every_part_of_a_split_file_and_copies_each_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a file of 2.2 MiB, with parts of at most 1 MiB
    big = tmp_path / "big.jsonl"
    big.write_bytes(b"".join(b'{"userId": "user-%04d"}\n' % (n % 900 + 1) for n in range(95_000)))
    code = run_cli(tmp_path, big, "--parameter", f"PartMaxBytes={1 << 20}", "--metadata", "backend=personalize")
    captured = capsys.readouterr()
    events = [json.loads(line) for line in captured.out.splitlines()]
    # Then it runs as three jobs, and run ends after Drop Completed with each part's output copied
    done = [e["detail"] for e in events if e["detail-type"] == "Job Succeeded"]
    assert code == 0 and len(done) == 3, captured.err
    assert [e["detail-type"] for e in events][-1] == "Drop Completed"
    assert "3 of 3 jobs succeeded" in captured.err and "Drop Completed, 3 of 3 jobs succeeded" in captured.err
    copied = sorted((tmp_path / "out").rglob("*.out"))
    assert [p.name for p in copied] == [f"big.part-00{n}.jsonl.out" for n in (1, 2, 3)]
    assert sum(len(p.read_bytes().splitlines()) for p in copied) == 95_000


def test_run_fans_a_large_self_hosted_job_out_and_copies_its_one_output(
    sample: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    users = tmp_path / "many.jsonl"
    users.write_bytes(b"".join(b'{"userId": "user-%04d"}\n' % (n % 300 + 1) for n in range(5_000)))
    fanned = ["SmallJobMaxRecords=1000", "ShardMaxRecords=1000", "SelfHostedMaxRecords=100000"]
    parameters = [arg for pair in fanned for arg in ("--parameter", pair)]
    code = run_cli(tmp_path, users, *parameters, interactions=sample / "interactions.csv")
    captured = capsys.readouterr()
    events = [json.loads(line) for line in captured.out.splitlines()]
    assert code == 0, captured.err
    assert [e["detail-type"] for e in events] == ["Job Submitted", "Job Succeeded"]
    done = events[-1]["detail"]
    assert (done["backend"], done["shards"], len(done["shardTimings"])) == ("self-hosted", 5, 5)
    (copied,) = (tmp_path / "out").rglob("*.out")
    lines = copied.read_bytes().splitlines()
    assert copied.name == "many.jsonl.out" and len(lines) == 5_000
    assert [json.loads(line)["input"]["userId"] for line in lines[:3]] == ["user-0001", "user-0002", "user-0003"]


def test_run_answers_popularity_count_with_one_popular_list_and_no_scores(
    sample: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from batchrecs_local.demo import solution_version_arn

    popularity = f"solution-version-arn={solution_version_arn('popularity')}"
    code = run_cli(tmp_path, sample / "users.jsonl", "--metadata", popularity, interactions=sample / "interactions.csv")
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 0 and events[-1]["detail"]["backend"] == "self-hosted"
    out = next((tmp_path / "out").rglob("*.out"))
    outputs = [json.loads(line)["output"] for line in out.read_text().splitlines()]
    assert len(outputs) > 1 and all(output == outputs[0] for output in outputs)  # the same list for every user
    assert list(outputs[0]) == ["recommendedItems"] and len(outputs[0]["recommendedItems"]) == 25


def cli_done(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The real CLI run to its end in a process of its own, on this checkout's code."""
    command = [sys.executable, "-m", "batchrecs_cli", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False, env=env or cli_env())


def cli_process(*args: str, **popen: Any) -> subprocess.Popen[str]:
    """The real CLI in a process of its own, on this checkout's code."""
    command = [sys.executable, "-m", "batchrecs_cli", *args]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cli_env(), **popen)


def test_a_run_says_only_its_progress_on_stderr_and_ctrl_c_ends_it_in_one_line(sample: Path, tmp_path: Path) -> None:
    """Through the real CLI: no moto warning or state-machine dump between the progress lines, and Ctrl-C (at any
    point after the run has begun) prints one line and exits 130, with no traceback."""
    files = [str(sample / "users.jsonl"), "--interactions", str(sample / "interactions.csv"), "--timeout", "120"]
    done = cli_process("run", *files, "--out", str(tmp_path / "a"))
    _, err = done.communicate(timeout=300)
    assert done.returncode == 0, err
    assert err and all(line.startswith("[") for line in err.splitlines()), err[:2000]
    interrupted = cli_process("run", *files, "--out", str(tmp_path / "b"))
    assert interrupted.stderr is not None
    first = interrupted.stderr.readline()  # the run has begun: its folder is named
    assert "outputs go to" in first
    interrupted.send_signal(signal.SIGINT)
    _, rest = interrupted.communicate(timeout=120)
    assert interrupted.returncode == 130, rest
    assert rest.splitlines()[-1] == "batchrecs run: interrupted" and "Traceback" not in rest, rest[-3000:]
    assert all(line.startswith("[") for line in rest.splitlines()[:-1]), rest[-3000:]


def test_without_the_local_extra_the_local_commands_say_which_extra_to_install(sample: Path, tmp_path: Path) -> None:
    """A plain `pip install .` has no moto: `run`, `serve` and `sample-data` say so in one line, exit 2 (moto is
    hidden here by a package that fails to import as a missing one does)."""
    hidden = tmp_path / "hidden" / "moto"
    hidden.mkdir(parents=True)
    (hidden / "__init__.py").write_text("raise ModuleNotFoundError(\"No module named 'moto'\", name='moto')\n")
    env = cli_env()
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path / "hidden"), env["PYTHONPATH"]])
    run = ["run", str(sample / "users.jsonl"), "--out", str(tmp_path / "out")]
    for command in (run, ["serve", "--port", "0"], ["sample-data", str(tmp_path / "data")]):
        done = cli_done(*command, env=env)
        assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
        assert "needs the local extra (no module 'moto')" in done.stderr and "pip install" in done.stderr
    # validate needs none of it
    done = cli_done("validate", str(sample / "users.jsonl"), env=env)
    assert done.returncode == 0, done.stderr


def test_validate_shows_a_files_parts_without_being_told_its_kind(
    sample: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Twelve item-attribute queries (a segment job reads ten a file): the parts are shown whether or not --kind
    says what the first record already does."""
    for kind in ([], ["--kind", "item-attributes"]):
        assert main(["validate", *kind, str(sample / "segments-attributes.jsonl")]) == 0
        assert "over one job's limits, it runs as 2 jobs, of lines 1-10, 11-12" in capsys.readouterr().out
