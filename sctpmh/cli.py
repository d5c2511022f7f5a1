"""The ``sctpmh`` command.

sctpmh check      say whether kernel SCTP is usable here, and if not, why and what to do
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .kernel.diagnose import diagnose

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (2 for bad arguments, as argparse)."""
    parser = argparse.ArgumentParser(prog="sctpmh", description="Multi-homed SCTP for asyncio.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser(
        "check", help="say whether kernel SCTP is usable here; if not, why and what to do"
    )
    args = parser.parse_args(argv)
    if args.command == "check":
        verdict = diagnose()
        print(verdict)
        return 0 if verdict.usable else 1
    parser.error(f"unknown command {args.command!r}")  # argparse exits; never reached


if __name__ == "__main__":
    sys.exit(main())
