"""What ``pip install ".[local]"`` needs beyond pyproject.toml: the application the local stack deploys.

`batchrecs run` and `serve` deploy template.yaml, its state machine, its functions' code and its nested schema stack,
read as files (batchrecs_local.template). In a checkout they are read where they are; a wheel carries a copy of them
in ``batchrecs_local/app/``, with the same paths, so the placeholder S3 keys resolve the same way in both. An sdist
carries them too (MANIFEST.in), so a wheel built from it has them as well.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

APP = ["template.yaml", "schemas/registry.yaml", "statemachine/*.asl.json", "functions/*/*.py"]
"""The files the local stack reads back (their paths relative to this folder, as the template's artefact URIs)."""


class BuildWithApp(build_py):
    def run(self) -> None:
        super().run()
        here = Path(__file__).parent
        target = Path(self.build_lib) / "batchrecs_local" / "app"
        shutil.rmtree(target, ignore_errors=True)  # nothing left from an earlier build of another tree
        for pattern in APP:
            sources = sorted(here.glob(pattern))
            if not sources:  # e.g. an sdist made without MANIFEST.in: never a wheel that cannot run
                raise FileNotFoundError(f"{pattern}: none in {here}, so the wheel would lack the application")
            for source in sources:
                destination = target / source.relative_to(here)
                destination.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, destination)


setup(cmdclass={"build_py": BuildWithApp})
