"""Argument types and the options that serve, connect and paths share.

Each type rejects a bad value with a message naming it, so argparse prints its usage line
plus one ``error:`` line and exits with status 2 before anything touches the network.
"""

from __future__ import annotations

import argparse
import math
import re
from collections.abc import Callable, Iterable

from ..config import Config
from ..registry import get_backend
from ..seam import Backend
from ..userspace.udp import SCTP_OVER_UDP_PORT, UdpBackend

__all__ = [
    "DEFAULT_PORT",
    "CommandError",
    "HelpFormatter",
    "add_association_options",
    "add_backend_options",
    "address_items",
    "backend_from",
    "config_from",
    "integer",
    "seconds",
]

DEFAULT_PORT = 4444

# The seed article writes address lists as "a;b"; commas and spaces are accepted as well, so
# "a, b" and several shell words work too. None of them can occur inside one address.
_SEPARATORS = re.compile(r"[\s,;]+")


class HelpFormatter(argparse.HelpFormatter):
    """argparse's formatter, with descriptions wrapped to the terminal and epilogs (the output
    formats and exit statuses, laid out by hand) kept as they are written."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if "\n" in text.strip():
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)


class CommandError(Exception):
    """A failure the command explains in one line (``sctpmh: <message>``), exit status 2."""


def address_items(texts: str | Iterable[str]) -> list[str]:
    """Every address in ``texts`` (strings separated by ``;``, ``,`` or whitespace)."""
    if isinstance(texts, str):
        texts = [texts]
    return [item for text in texts for item in _SEPARATORS.split(text) if item]


def integer(minimum: int, maximum: int) -> Callable[[str], int]:
    """An argparse type: an int in ``minimum..maximum``."""

    def parse(text: str) -> int:
        try:
            value = int(text, 0)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
        if not minimum <= value <= maximum:
            raise argparse.ArgumentTypeError(f"must be in {minimum}..{maximum}, not {value}")
        return value

    return parse


def seconds(minimum: float, *, inclusive: bool = True) -> Callable[[str], float]:
    """An argparse type: a finite number of seconds, at least (or above) ``minimum``."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
        too_small = value < minimum if inclusive else value <= minimum
        if not math.isfinite(value) or too_small:
            bound = f">= {minimum:g}" if inclusive else f"> {minimum:g}"
            raise argparse.ArgumentTypeError(f"must be a number of seconds {bound}, not {text}")
        return value

    return parse


def add_association_options(parser: argparse.ArgumentParser, *, client: bool) -> None:
    """``-p/--port`` and ``--fast-failover``; for a client also ``-l/--local`` and
    ``--timeout``."""
    # A server may take port 0 (the kernel picks one and the "listening" line tells which);
    # a client must name the server's port.
    parser.add_argument(
        "-p",
        "--port",
        type=integer(1 if client else 0, 65535),
        default=DEFAULT_PORT,
        help=f"{'the server' if client else 'listening'} port (default {DEFAULT_PORT})",
    )
    if client:
        parser.add_argument(
            "-l",
            "--local",
            metavar="LOCAL",
            help='local addresses to bind, e.g. "127.0.0.3;127.0.0.4" (default: the kernel '
            "chooses)",
        )
        parser.add_argument(
            "--timeout",
            type=seconds(0, inclusive=False),
            default=30.0,
            metavar="S",
            help="give up setting up the association, or waiting for one reply, after S "
            "seconds (default 30)",
        )
    parser.add_argument(
        "--fast-failover",
        action="store_true",
        help="LAN timers that notice a dead path within about a second (Config.fast_failover)",
    )


def config_from(args: argparse.Namespace) -> Config:
    """The association configuration the options ask for."""
    return Config.fast_failover() if args.fast_failover else Config()


def add_backend_options(parser: argparse.ArgumentParser) -> None:
    """``--backend`` and ``--udp-port``, shared by every command that opens associations."""
    parser.add_argument(
        "--backend",
        choices=["auto", "kernel", "udp"],
        help="what carries the associations: kernel SCTP sockets, or SCTP over UDP (RFC 6951; "
        "the peer must speak it too); default $SCTPMH_BACKEND, else auto: kernel where this "
        "kernel has SCTP, else udp",
    )
    parser.add_argument(
        "--udp-port",
        type=integer(1, 65535),
        metavar="PORT",
        help=f"the udp backend's UDP port, on this side and the peer's (default "
        f"{SCTP_OVER_UDP_PORT}, the port registered for SCTP over UDP)",
    )


def backend_from(args: argparse.Namespace) -> Backend:
    """The backend the options pick (a missing kernel SCTP raises its own explained error)."""
    backend = get_backend(args.backend)
    if args.udp_port is None:
        return backend
    if backend.name != "udp":
        raise CommandError(f"--udp-port applies to the udp backend, not to {backend.name}")
    return UdpBackend(port=args.udp_port, remote_port=args.udp_port)
