"""Compile the scorer's kernel (scorer/_kernel.c) into the extension module beside it, for the Python that runs
this script: `python compile_kernel.py <scorer package folder>`. layers/build/layer.mk runs it for ScorerLayer,
and `make kernel` for the source tree the tests import. It needs a C compiler (cc, or $CC) and Python's headers;
Lambda needs neither: the module is plain machine code, one file, with no JIT."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

FLAGS = ["-O3", "-fPIC", "-shared", "-fno-math-errno", "-fno-semantic-interposition", "-Wall", "-Wextra", "-Werror", "-Wno-psabi"]


def main() -> None:
    package = Path(sys.argv[1])
    source = package / "_kernel.c"
    target = package / f"_kernel{sysconfig.get_config_var('EXT_SUFFIX')}"
    include = sysconfig.get_paths()["include"]
    command = [os.environ.get("CC", "cc"), *FLAGS, f"-I{include}", str(source), "-o", str(target), "-lm"]
    subprocess.run(command, check=True)


if __name__ == "__main__":
    main()
