"""The ``batchrecs`` command, in three rooms: a user's own files (``files``: validate, train, score, sample-data),
the embedded local stack (``embedded``: run, serve) and a deployed stack (``deployed``: redrive, models, jobs).
Each room adds its subcommands with their handlers; ``main`` parses and calls the one chosen.

Heavy modules (moto, the SAM transform, numpy) are imported by the commands that use them, so that ``--help`` and
``validate`` start at once, and work from a plain ``pip install .`` without the ``local`` extra."""

from __future__ import annotations

import argparse
import sys

from batchrecs_cli import deployed, embedded, files
from batchrecs_ops.deployed import UserError

DESCRIPTION = (
    "batchrecs: check, score and run batch recommendation inputs on your own files, on the embedded local stack, "
    "or on a deployed stack."
)


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="batchrecs", description=DESCRIPTION)
    commands = parser.add_subparsers(dest="command", required=True)
    for room in (embedded, files, deployed):
        room.add_commands(commands)
    return parser


LOCAL_EXTRA = frozenset({"moto", "samtranslator", "samcli", "cfnlint", "werkzeug", "flask"})
"""Top-level modules only the ``local`` extra installs (moto[server], aws-sam-cli, cfn-lint)."""


def main(argv: list[str] | None = None) -> int:
    """Runs the chosen command. Whatever a user can cause ends in one line on stderr: a UserError (its code), a
    module of the ``local`` extra missing (2), Ctrl-C (130); never a traceback."""
    chosen = parser()
    args = chosen.parse_args(argv)
    try:
        code: int = args.handler(chosen, args)
        return code
    except UserError as error:
        print(f"batchrecs {args.command}: {error}", file=sys.stderr)
        return error.code
    except ModuleNotFoundError as error:
        if (error.name or "").split(".")[0] not in LOCAL_EXTRA:
            raise
        print(
            f"batchrecs {args.command}: needs the local extra (no module {error.name!r}): "
            "pip install 'batchrecs[local]' (from a checkout: pip install '.[local]')",
            file=sys.stderr,
        )
        return 2
    except KeyboardInterrupt:
        print(f"batchrecs {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
