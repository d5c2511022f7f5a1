"""``sctpmh check``: whether kernel SCTP is usable here and, if not, why and what to do."""

from __future__ import annotations

import argparse
from typing import Any

from ..kernel.diagnose import diagnose

__all__ = ["add_check_parser", "check"]


def add_check_parser(commands: Any) -> None:
    """Register ``check`` on the subcommand parsers."""
    parser: argparse.ArgumentParser = commands.add_parser(
        "check",
        help="say whether kernel SCTP is usable here; if not, why and what to do",
        description="Open an SCTP socket to see whether kernel SCTP (the kernel backend) is "
        "usable here. If it is not, say why (kernel built without SCTP, module blacklisted, not "
        "installed or not loaded, a container, not Linux) and what to do; exit status 0 when it "
        "is usable, 1 when not. The udp backend needs none of it.",
    )
    parser.set_defaults(run=check)


def check(args: argparse.Namespace) -> int:
    """Print the verdict; 0 when SCTP sockets open here, 1 when they do not."""
    verdict = diagnose()
    print(verdict)
    return 0 if verdict.usable else 1
