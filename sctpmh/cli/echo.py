"""``sctpmh serve`` and ``sctpmh connect``: the echo pair, for people and for scripts.

Both print one line per happening, a verb then ``key=value`` fields without spaces, so a
script can split on whitespace; the formats are listed in each command's ``--help`` and are
kept stable.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import threading
import time
from collections.abc import AsyncIterator
from typing import Any, TextIO

from ..api import create_server
from ..association import Association
from ..errors import AssociationClosedError
from ..server import Server
from .arguments import (
    CommandError,
    HelpFormatter,
    add_association_options,
    address_items,
    backend_from,
    config_from,
    integer,
    seconds,
)
from .connecting import close_gracefully, open_client_association
from .stopping import stop_requested
from .text import format_address, format_addresses, format_ms

__all__ = ["add_connect_parser", "add_serve_parser", "connect", "serve"]

DEFAULT_COUNT = 5
DEFAULT_SIZE = 64
#: How long ``serve`` lets its associations shut down gracefully when stopped, in seconds.
SHUTDOWN_GRACE = 5.0

SERVE_OUTPUT = """\
output, one line each (ASSOC is the association id):
  listening ADDR,ADDR... backend=B   ready; the addresses and port actually bound, and
                                     what carries them (kernel or udp)
  up assoc=ASSOC peers=ADDR,...      an association came up
  down assoc=ASSOC messages=N bytes=N end=shutdown|abort|error
                                     it ended: gracefully, aborted or lost, or echoing failed
--quiet leaves only the "listening" line. Ctrl-C or SIGTERM shuts every association down
gracefully and exits 0.
"""

CONNECT_OUTPUT = """\
output, one line each (on stderr instead when the messages come from standard input, whose
echoes alone go to stdout):
  connected assoc=ASSOC local=ADDR,... peers=ADDR,... backend=B
  reply seq=N status=ok|mismatch bytes=N stream=N ppid=N via=ADDR rtt_ms=MS
  reply seq=N status=timeout         no echo within --timeout; nothing more is sent
  done sent=N ok=N failed=N
via= is the peer address the reply came from, i.e. the path that carried it. A reply
matches when its data, stream and PPID are the ones sent. Exits 0 when every reply matched,
1 otherwise.
"""


def add_serve_parser(commands: Any) -> None:
    """Register ``serve`` on the subcommand parsers."""
    parser: argparse.ArgumentParser = commands.add_parser(
        "serve",
        help="echo server: every message goes back on its stream with its PPID",
        description="Multi-homed SCTP echo server: one association per client, each message "
        "sent back on the stream and with the PPID it came with.",
        epilog=SERVE_OUTPUT,
        formatter_class=HelpFormatter,
    )
    parser.add_argument(
        "addrs",
        nargs="*",
        metavar="ADDRS",
        help='addresses to listen on, e.g. "127.0.0.1;127.0.0.2" (";", "," or spaces '
        "between them; default: every address of this host)",
    )
    add_association_options(parser, client=False)
    parser.add_argument(
        "-q", "--quiet", action="store_true", help='print only the "listening" line'
    )
    parser.set_defaults(run=serve, interrupted_status=0)


def add_connect_parser(commands: Any) -> None:
    """Register ``connect`` on the subcommand parsers."""
    parser: argparse.ArgumentParser = commands.add_parser(
        "connect",
        help="echo client: send messages, check every echo, show the path each came by",
        description="Open an association to every address of REMOTE, send messages one at "
        "a time and check that each comes back unchanged.",
        epilog=CONNECT_OUTPUT,
        formatter_class=HelpFormatter,
    )
    parser.add_argument(
        "remote", metavar="REMOTE", help='the server\'s addresses, e.g. "127.0.0.1;127.0.0.2"'
    )
    parser.add_argument(
        "source",
        nargs="?",
        choices=["-"],
        metavar="-",
        help="send standard input instead, one message per line (as --stdin)",
    )
    add_association_options(parser, client=True)
    parser.add_argument(
        "-c",
        "--count",
        type=integer(1, 2**31 - 1),
        metavar="N",
        help=f"messages to send (default {DEFAULT_COUNT})",
    )
    parser.add_argument(
        "-s",
        "--size",
        type=integer(1, 1024 * 1024),
        metavar="BYTES",
        help=f"size of each message (default {DEFAULT_SIZE})",
    )
    parser.add_argument(
        "--stream", type=integer(0, 0xFFFF), default=0, metavar="N", help="stream (default 0)"
    )
    parser.add_argument(
        "--ppid",
        type=integer(0, 0xFFFFFFFF),
        default=0,
        metavar="N",
        help="payload protocol identifier (default 0)",
    )
    parser.add_argument(
        "--interval",
        type=seconds(0),
        default=0.0,
        metavar="S",
        help="pause between messages, in seconds (default 0)",
    )
    parser.add_argument(
        "--stdin",
        action="store_true",
        help="send standard input, one message per line (newline included), and write "
        "each echo to stdout: the output equals the input when every echo matches",
    )
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="no report lines; only the exit status"
    )
    parser.set_defaults(run=connect, interrupted_status=130)


# --- serve -----------------------------------------------------------------------------------


async def serve(args: argparse.Namespace) -> int:
    """Echo every message until SIGINT or SIGTERM; exit status 0."""

    def say(line: str) -> None:
        if not args.quiet:
            print(line, flush=True)

    async def echo(association: Association) -> None:
        assoc_id = association.association_id
        say(f"up assoc={assoc_id} peers={format_addresses(association.peer_addresses)}")
        messages = octets = 0
        end = "error"  # a failure other than the association's end propagates to the server
        try:
            async for message in association:
                await association.send(
                    message.data,
                    stream=message.stream,
                    ppid=message.ppid,
                    unordered=message.unordered,
                )
                messages += 1
                octets += len(message.data)
            end = "shutdown"
        except AssociationClosedError:
            end = "abort"  # ABORT received, or the peer became unreachable
        finally:
            say(f"down assoc={assoc_id} messages={messages} bytes={octets} end={end}")

    addrs = address_items(args.addrs) or None
    backend = backend_from(args)
    server = await create_server(echo, addrs, args.port, config=config_from(args), backend=backend)
    # Listen for the signals before telling a script we are ready, so that a signal sent as
    # soon as it reads the "listening" line stops us cleanly.
    with stop_requested() as stop:
        print(f"listening {format_addresses(server.addresses)} backend={backend.name}", flush=True)
        try:
            await stop.wait()
        finally:
            await _shut_down(server)
    return 0


async def _shut_down(server: Server) -> None:
    server.close()
    try:
        async with asyncio.timeout(SHUTDOWN_GRACE):
            await server.wait_closed()
    except TimeoutError:
        server.abort()  # a peer that does not complete the SHUTDOWN handshake
        await server.wait_closed()


# --- connect ---------------------------------------------------------------------------------


async def connect(args: argparse.Namespace) -> int:
    """Send the messages and check their echoes; 0 when all matched, else 1."""
    from_stdin = args.stdin or args.source == "-"
    if from_stdin and (args.count is not None or args.size is not None):
        raise CommandError("-c/--count and -s/--size do not apply to messages from stdin")
    # With messages from stdin, stdout carries exactly their echoes, so reports go to stderr.
    report: TextIO = sys.stderr if from_stdin else sys.stdout

    def say(line: str) -> None:
        if not args.quiet:
            print(line, file=report, flush=True)

    association = await open_client_association(args)
    sent = matched = 0
    try:
        say(
            f"connected assoc={association.association_id} "
            f"local={format_addresses(association.local_addresses)} "
            f"peers={format_addresses(association.peer_addresses)} "
            f"backend={association.transport.get_extra_info('backend')}"
        )
        payloads = (
            _stdin_lines()
            if from_stdin
            else _numbered(args.count or DEFAULT_COUNT, args.size or DEFAULT_SIZE)
        )
        async for payload in payloads:
            if sent and args.interval:
                await asyncio.sleep(args.interval)
            seq = sent
            started = time.perf_counter()
            await association.send(payload, stream=args.stream, ppid=args.ppid)
            sent += 1
            try:
                async with asyncio.timeout(args.timeout):
                    reply = await association.recv()
            except TimeoutError:
                # A late echo would be taken for the next message's: stop here.
                say(f"reply seq={seq} status=timeout")
                break
            round_trip = time.perf_counter() - started
            ok = reply.data == payload and reply.stream == args.stream and reply.ppid == args.ppid
            matched += ok
            if from_stdin:
                sys.stdout.buffer.write(reply.data)
                sys.stdout.buffer.flush()
            say(
                f"reply seq={seq} status={'ok' if ok else 'mismatch'} bytes={len(reply.data)} "
                f"stream={reply.stream} ppid={reply.ppid} via={format_address(reply.source)} "
                f"rtt_ms={format_ms(round_trip, 3)}"
            )
    except AssociationClosedError as exc:
        # The association died under us: an outcome of the run (1), not a usage error (2).
        print(f"sctpmh: {exc} (after {sent} messages sent)", file=sys.stderr, flush=True)
        return 1
    finally:
        await close_gracefully(association, args.timeout)
    say(f"done sent={sent} ok={matched} failed={sent - matched}")
    return 0 if matched == sent else 1


async def _numbered(count: int, size: int) -> AsyncIterator[bytes]:
    """``count`` messages of ``size`` bytes, each starting with its number: "7:xxxx..."."""
    for seq in range(count):
        yield (b"%d:" % seq).ljust(size, b"x")[:size]


async def _stdin_lines() -> AsyncIterator[bytes]:
    """Lines of standard input as they come, newline included (so an empty line is still a
    message: SCTP cannot send an empty one, RFC 9260 section 3.3.1).

    A daemon thread reads them: blocking reads work on pipes, terminals and files alike, and
    an unfinished read does not keep the process from exiting on Ctrl-C.
    """
    loop = asyncio.get_running_loop()
    lines: asyncio.Queue[bytes] = asyncio.Queue()

    def read() -> None:
        # RuntimeError: the loop closed (the command ended) while this thread waited.
        with contextlib.suppress(RuntimeError):
            for line in sys.stdin.buffer:
                loop.call_soon_threadsafe(lines.put_nowait, line)
            loop.call_soon_threadsafe(lines.put_nowait, b"")

    threading.Thread(target=read, name="sctpmh-stdin", daemon=True).start()
    while line := await lines.get():
        yield line
