"""``sctpmh check``: whether kernel SCTP is usable here and, if not, why and what to do."""

from __future__ import annotations

import argparse
from typing import Any

from ..kernel.diagnose import diagnose

__all__ = ["add_check_parser", "check"]


def add_check_parser(commands: Any) -> None:
    """Register ``check`` on the subcommand parsers."""
    parser: argparse.ArgumentParser = commands.add_parser(
        "check", help="say whether kernel SCTP is usable here; if not, why and what to do"
    )
    parser.set_defaults(run=check)


def check(args: argparse.Namespace) -> int:
    """Print the verdict; 0 when SCTP sockets open here, 1 when they do not."""
    verdict = diagnose()
    print(verdict)
    return 0 if verdict.usable else 1
