"""`pip install ".[local]"` anywhere: the wheel carries what `run` and `serve` deploy (template.yaml, the state
machine, the functions' code, the schemas' nested stack), so a venv outside any checkout runs a job to its end.

The wheel is built as `python -m build` and `pip install batchrecs-*.tar.gz` build it: from the sdist, itself made
from this checkout's files (tracked, or new and not ignored) copied to a folder of their own, as a clean clone. Its
dependencies are the test venv's, seen through a .pth file: what is tested is what the wheel itself carries, not
what an index would resolve (no network here).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(*command: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    done = subprocess.run([str(c) for c in command], capture_output=True, text=True, cwd=cwd, env=env, timeout=300)
    assert done.returncode == 0, (command, done.stdout[-2000:], done.stderr[-4000:])
    return done.stdout


def _source_copy(target: Path) -> Path:
    listed = _run("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", cwd=ROOT).split("\0")
    for name in filter(None, listed):
        if (ROOT / name).is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, target / name)
    return target


def test_the_wheel_runs_a_job_from_a_venv_outside_the_checkout(tmp_path: Path) -> None:
    source = _source_copy(tmp_path / "source")
    pip = [sys.executable, "-m", "pip"]
    make_sdist = f"from setuptools import build_meta; print(build_meta.build_sdist({str(tmp_path / 'sdist')!r}))"
    sdist = tmp_path / "sdist" / _run(sys.executable, "-c", make_sdist, cwd=source).strip().splitlines()[-1]
    _run(*pip, "wheel", "--quiet", "--no-deps", "--no-build-isolation", sdist, "-w", tmp_path / "wheels")
    (wheel,) = (tmp_path / "wheels").glob("batchrecs-*.whl")
    venv = tmp_path / "venv"
    _run(sys.executable, "-m", "venv", "--without-pip", venv)
    _run(*pip, "--python", venv / "bin/python", "install", "--quiet", "--no-deps", wheel)
    site = Path(_run(venv / "bin/python", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").strip())
    (site / "test-venv-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    shutil.rmtree(source)  # nothing the wheel left behind can be read back

    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "SAM_CLI_TELEMETRY": "0"}
    where = _run(venv / "bin/python", "-c", "import batchrecs_local.template as t; print(t.TEMPLATE)", env=env)
    assert Path(where.strip()).is_relative_to(site), where  # the wheel's own copy, not this checkout's
    _run(venv / "bin/batchrecs", "sample-data", "data", cwd=work, env=env)
    out = _run(venv / "bin/batchrecs", "run", "data/users.jsonl", "--out", "out", "--timeout", "120", cwd=work, env=env)
    events = [json.loads(line) for line in out.splitlines()]
    assert [event["detail-type"] for event in events] == ["Job Submitted", "Job Succeeded"], out[-2000:]
    (output,) = (work / "out").rglob("users.jsonl.out")
    assert len(output.read_text().splitlines()) == events[-1]["detail"]["input"]["records"]
