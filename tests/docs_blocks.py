"""The shell blocks of README.md and docs/*.md, and a workspace to run them in exactly as written.

Each ```bash block is run by a test as it stands in the file: the test reads the text from the document, so an
edit to a command is what runs. A block is known by the start of its first line;
tests/integration/test_docs_commands.py says how each one runs, and fails on a block it does not know.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
LEFT_OUT = {"build", ".git", "node_modules", ".venv-checkov", ".mypy_cache", ".ruff_cache", ".pytest_cache"}
"""Top-level entries a workspace does not link: what commands write (build/), and what no command reads."""


@dataclass(frozen=True)
class Block:
    path: Path
    line: int
    text: str

    @property
    def first(self) -> str:
        return self.text.splitlines()[0].strip()

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def shell_blocks() -> list[Block]:
    found = []
    for path in DOCUMENTS:
        text = path.read_text()
        for match in FENCE.finditer(text):
            if match.group(1) in ("bash", "sh", "shell", "console"):
                found.append(Block(path, text[: match.start()].count("\n") + 1, match.group(2)))
    return found


def block(start: str) -> Block:
    """The one block whose first line is ``start``, else the one whose first line starts with it."""
    blocks = shell_blocks()
    (found,) = [b for b in blocks if b.first == start] or [b for b in blocks if b.first.startswith(start)]
    return found


def workspace(directory: Path, sample: Path, *, with_samples: bool = True) -> Path:
    """A directory that looks like the repository to a command (every top-level entry linked, so `make` and
    `.venv/bin/…` work), with the files the docs name (users.jsonl, interactions.csv, …) from the sample data, and
    nothing a command writes landing in the repository."""
    for entry in ROOT.iterdir():
        if entry.name not in LEFT_OUT and not (directory / entry.name).exists():
            (directory / entry.name).symlink_to(entry)
    if not with_samples:  # for a block that must make its own files
        return directory
    for name in (
        "users.jsonl",
        "items.jsonl",
        "ranking.jsonl",
        "interactions.csv",
        "segments-attributes.jsonl",
        "holdout.csv",
    ):
        shutil.copy(sample / name, directory / name)
    shutil.copy(sample / "users.jsonl", directory / "my-users.jsonl")
    return directory


def run_block(found: Block, cwd: Path, env: dict[str, str] | None = None, timeout: float = 600) -> str:
    """Run the block with bash as written (``set -e``: each command must succeed); return its output.

    The block runs in a session of its own, killed once it ends: a server it left behind (``kill %1`` only sends
    the signal) is gone, and its port free, before the next block starts."""
    process = subprocess.Popen(
        ["bash", "-c", "set -e\n" + found.text],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    assert process.returncode == 0, f"{found.where} exited {process.returncode}:\n{stdout[-2000:]}\n{stderr[-3000:]}"
    return stdout + stderr


@contextlib.contextmanager
def port_lock(port: int, deadline: float = 120) -> Iterator[None]:
    """Blocks that name a fixed port (the README's 4566) take turns across pytest's workers, each starting once
    the port is free again."""
    with open(Path(tempfile.gettempdir()) / f"batchrecs-port-{port}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        until = time.monotonic() + deadline
        while _listening(port):
            assert time.monotonic() < until, f"port {port} is taken by another process"
            time.sleep(0.2)
        yield


def _listening(port: int) -> bool:
    """Whether anything listens on ``port``, from the kernel's socket tables (the tests may open no socket)."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(FileNotFoundError), open(table) as rows:
            for row in list(rows)[1:]:
                local, state = row.split()[1], row.split()[3]
                if int(local.rsplit(":", 1)[1], 16) == port and state == "0A":
                    return True
    return False
