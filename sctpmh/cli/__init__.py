"""The ``sctpmh`` command.

    sctpmh check      say whether kernel SCTP is usable here, and if not, why and what to do
    sctpmh serve      echo server, one line per association up and down
    sctpmh connect    echo client: send, check every echo, show the path each came by
    sctpmh paths      a live table of every path of an association

This package only builds the argument parser, runs the chosen command and turns its failures
into exit statuses; each command lives in a module of its own. It uses sctpmh's public API and
:mod:`sctpmh.kernel.diagnose`; nothing in sctpmh imports it.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import logging
import os
import sys
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from .. import __version__
from ..errors import SctpmhError
from .arguments import CommandError, HelpFormatter, add_backend_options
from .check import add_check_parser
from .echo import add_connect_parser, add_serve_parser
from .paths import add_paths_parser

__all__ = ["build_parser", "main", "parse_arguments"]

EXIT_STATUSES = """\
exit status:
  0    check: SCTP is usable; connect: every echo matched; serve, paths: stopped by Ctrl-C,
       SIGTERM or --count
  1    the command ran and the outcome is bad: check: SCTP is not usable; connect: an echo
       did not match or did not come back; connect, paths: the association ended under it
  2    the command could not start: bad arguments or addresses, no kernel SCTP, the
       association could not be set up (one line on stderr: "sctpmh: <why>")
  130  connect interrupted by Ctrl-C
"""


def build_parser() -> argparse.ArgumentParser:
    """The ``sctpmh`` argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="sctpmh",
        description="Multi-homed SCTP for asyncio.",
        epilog=EXIT_STATUSES,
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"sctpmh {__version__}")
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="log sctpmh's records to stderr: -v association and path events, -vv debug",
    )
    parser.add_argument(
        "--uvloop", action="store_true", help="run on uvloop instead of asyncio's default loop"
    )
    add_backend_options(parser)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add_parser in (add_check_parser, add_serve_parser, add_connect_parser, add_paths_parser):
        add_parser(commands)
    return parser


def parse_arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse the command line; bad arguments print the usage and one error line, and exit 2."""
    parser = build_parser()
    args, extras = parser.parse_known_args(argv)
    if extras == ["-"] and getattr(args, "source", "") is None:
        # "connect REMOTE -p 4444 -": argparse fills every positional from the first run of
        # them, so a "-" after the options arrives here.
        args.source = "-"
    elif extras:
        parser.error(f"unrecognized arguments: {' '.join(extras)}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (see ``sctpmh --help``)."""
    args = parse_arguments(argv)
    if args.verbose:
        logging.basicConfig(
            level=logging.DEBUG if args.verbose > 1 else logging.INFO,
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
            stream=sys.stderr,
        )
    try:
        if inspect.iscoroutinefunction(args.run):
            runner = _uvloop_runner() if args.uvloop else asyncio.run
            status: int = runner(args.run(args))
        else:
            status = args.run(args)
    except KeyboardInterrupt:
        # serve and paths stop on SIGINT themselves; this is Ctrl-C before they could listen
        # for it, or during connect.
        return int(getattr(args, "interrupted_status", 130))
    except BrokenPipeError:
        # Whoever read our output went away (`sctpmh paths | head`). Point stdout at
        # /dev/null so that flushing it at exit does not raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except (CommandError, SctpmhError, OSError) as exc:
        print(f"sctpmh: {_one_line(exc)}", file=sys.stderr, flush=True)
        return 2
    return status


def _one_line(exc: BaseException) -> str:
    """The error's message on one line, without OSError's "[Errno N]" prefix."""
    text = str(exc)
    if isinstance(exc, OSError) and exc.strerror:
        text = exc.strerror if exc.filename is None else f"{exc.strerror}: {exc.filename}"
    return " ".join(text.split()) or type(exc).__name__


def _uvloop_runner() -> Callable[[Coroutine[Any, Any, int]], int]:
    """uvloop's ``run``, or CommandError saying how to install it (it is an extra)."""
    try:
        import uvloop
    except ImportError as exc:
        raise CommandError(
            "--uvloop needs uvloop, which is not installed: pip install 'sctpmh[uvloop]'"
        ) from exc
    return uvloop.run
