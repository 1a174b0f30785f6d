"""The built layers (`sam build`, layers/build/layer.mk) as Lambda gets them: every module precompiled, no tests,
each dependency shipped once, within the size limits. `make test` builds them before the tests run."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / ".aws-sam" / "build"
LAYERS = ("BatchrecsLayer", "ScorerLayer")
TAG = f"cpython-{sys.version_info.major}{sys.version_info.minor}"
UNCHECKED_HASH = 0b01
"""A .pyc's flags: hash-based (bit 0), source not checked (bit 1 clear). Lambda's /opt is read-only, so a .pyc
that needs checking against its source, or none at all, means compiling at every cold start."""

pytestmark = pytest.mark.skipif(
    not all((BUILD / layer / "python").is_dir() for layer in LAYERS), reason="no built layers: run `make build`"
)


def size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


@pytest.mark.parametrize("layer", LAYERS)
def test_every_module_of_a_built_layer_has_its_unchecked_hash_pyc(layer: str) -> None:
    sources = sorted((BUILD / layer / "python").rglob("*.py"))
    assert len(sources) > 50
    missing, stale = [], []
    for source in sources:
        compiled = source.parent / "__pycache__" / f"{source.stem}.{TAG}.pyc"
        if not compiled.is_file():
            missing.append(str(source.relative_to(BUILD)))
            continue
        header = compiled.read_bytes()[:16]
        flags, digest = int.from_bytes(header[4:8], "little"), header[8:16]
        if header[:4] != importlib.util.MAGIC_NUMBER or flags != UNCHECKED_HASH:
            stale.append(f"{source.relative_to(BUILD)}: flags {flags}")
        elif digest != importlib.util.source_hash(source.read_bytes()):
            stale.append(f"{source.relative_to(BUILD)}: compiled from other source")
    assert not missing, f"{len(missing)} modules without a .pyc, e.g. {missing[:3]}"
    assert not stale, stale[:3]


@pytest.mark.parametrize("layer", LAYERS)
def test_a_built_layer_ships_no_tests(layer: str) -> None:
    found = [str(d.relative_to(BUILD)) for d in (BUILD / layer / "python").rglob("tests") if d.is_dir()]
    assert not found, found[:3]


def test_each_dependency_ships_once_and_the_layers_fit_lambda() -> None:
    shipped = {
        layer: {d.name.split("-")[0].lower() for d in (BUILD / layer / "python").glob("*.dist-info")}
        for layer in LAYERS
    }
    assert {"orjson", "pydantic", "boto3"} <= shipped["BatchrecsLayer"] and "numpy" in shipped["ScorerLayer"]
    assert not shipped["BatchrecsLayer"] & shipped["ScorerLayer"]
    scorer, batchrecs = size(BUILD / "ScorerLayer"), size(BUILD / "BatchrecsLayer")
    assert scorer < 100 * 2**20, f"ScorerLayer is {scorer / 2**20:.1f} MiB unzipped"
    assert scorer + batchrecs < 200 * 2**20  # Lambda's 250 MB holds both layers and the function's code


def test_the_scorer_layer_carries_its_compiled_kernel_and_it_loads() -> None:
    python = BUILD / "ScorerLayer" / "python"
    (module,) = (python / "scorer").glob("_kernel.*.so")
    assert not (python / "scorer" / "_kernel.c").exists()  # the source stays out of the layer
    layers = os.pathsep.join(str(BUILD / layer / "python") for layer in LAYERS)
    probe = "from scorer import kernel; assert kernel._kernel is not None and kernel.available(10**5); print('ok')"
    loaded = subprocess.run(
        [sys.executable, "-S", "-c", probe], env={"PYTHONPATH": layers}, capture_output=True, text=True, check=False
    )
    assert loaded.stdout.strip() == "ok", loaded.stderr[-2000:]
    assert module.stat().st_size < 1 << 20  # prebuilt machine code, no JIT: under a megabyte
