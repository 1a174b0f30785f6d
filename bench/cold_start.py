"""Cold-start import time of each handler, from the built functions and layers (`.aws-sam/build`), with the layers
on the path as Lambda mounts them under /opt/python (read-only: nothing is written back). Two variants in one run,
interleaved: the layers as built (unchecked-hash .pyc), and a copy of the same layers without any .pyc (what
`sam build` gave before). Each import is a fresh process (`python -S`: no site-packages but the layers').

Run: make build && .venv/bin/python bench/cold_start.py [--repeat 7]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]  # bench/scorer.py is not `scorer`
BUILD = ROOT / ".aws-sam" / "build"
PROBE = "import time; t = time.perf_counter(); import app; print(time.perf_counter() - t)"


def layers_of(source: dict[str, Any], logical: str) -> list[str]:
    """The layers a function runs with: the Globals' and its own, in order, by logical id."""
    refs = source.get("Globals", {}).get("Function", {}).get("Layers", [])
    refs = refs + source["Resources"][logical]["Properties"].get("Layers", [])
    return [ref["Ref"] for ref in refs]


def import_seconds(function: Path, layers: list[Path]) -> float:
    environment = {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": os.pathsep.join([str(function), *(str(layer / "python") for layer in layers)]),
        "PYTHONDONTWRITEBYTECODE": "1",  # /opt is read-only in Lambda: nothing compiled is kept
        "AWS_REGION": "us-east-1",
        "AWS_LAMBDA_FUNCTION_NAME": function.name,
        "POWERTOOLS_SERVICE_NAME": "batchrecs",
    }
    done = subprocess.run(
        [sys.executable, "-S", "-c", PROBE], env=environment, capture_output=True, text=True, check=True
    )
    return float(done.stdout.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    from batchrecs_local.template import read_source

    source = read_source()
    functions = [
        logical
        for logical, resource in source["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function" and (BUILD / logical / "app.py").is_file()
    ]
    with tempfile.TemporaryDirectory() as scratch:
        bare = Path(scratch)
        for layer in {name for logical in functions for name in layers_of(source, logical)}:
            shutil.copytree(BUILD / layer, bare / layer, ignore=shutil.ignore_patterns("__pycache__"))
        print("| handler | layers | no .pyc (s, median) | unchecked-hash .pyc (s, median) | ratio |")
        print("|---|---|---|---|---|")
        ratios = []
        for logical in functions:
            names = layers_of(source, logical)
            before: list[float] = []
            after: list[float] = []
            for _ in range(args.repeat):  # interleaved, so that a busy moment weighs on both alike
                before.append(import_seconds(BUILD / logical, [bare / name for name in names]))
                after.append(import_seconds(BUILD / logical, [BUILD / name for name in names]))
            ratio = statistics.median(after) / statistics.median(before)
            ratios.append(ratio)
            print(
                f"| {logical} | {', '.join(names)} | {statistics.median(before):.3f} | "
                f"{statistics.median(after):.3f} | {ratio:.2f} |"
            )
    print(f"\nworst ratio {max(ratios):.2f}, best {min(ratios):.2f} (acceptance: at most 0.55)")


if __name__ == "__main__":
    main()
