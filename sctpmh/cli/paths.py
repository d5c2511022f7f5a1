"""``sctpmh paths``: a live table of every path of one association, refreshed in place.

The command opens an association (to a ``sctpmh serve``, say), keeps a light echo ping going
so that the primary path carries data and its smoothed RTT stays current (RFC 9260 section
6.3.1: an RTT is measured on acknowledged DATA and on HEARTBEATs, which idle alternate paths
get every heartbeat interval), and redraws :func:`~sctpmh.cli.table.render_paths` of a fresh
snapshot each interval, with the recent events from ``Association.events()`` underneath.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import collections.abc
import contextlib
import sys
import time
from typing import Any

from ..association import Association
from ..errors import AssociationClosedError
from ..events import AssociationClosed, Event
from .arguments import HelpFormatter, add_association_options, integer, seconds
from .connecting import close_gracefully, open_client_association
from .screen import Screen
from .stopping import stop_requested
from .table import PathsView, describe_event, render_paths
from .text import Address

__all__ = ["add_paths_parser", "watch_paths"]

#: Events kept for the footer, the latest ones.
RECENT_EVENTS = 8
#: Pings awaiting their echo that are remembered; older ones count as unanswered (a peer
#: that does not echo must not make the command grow).
PINGS_REMEMBERED = 64

PATHS_HELP = """\
columns: PEER the peer address; STATE active, potentially-failed, inactive or unconfirmed;
SRTT-ms the kernel's smoothed round-trip time (whole milliseconds: "-" before the first
measurement or below 1 ms); RTO-ms the retransmission timeout; CWND the congestion window in
bytes; MTU the path MTU; ECHO-ms the last echo round trip of a ping answered by that path,
measured by this command; PRIMARY "*" on the primary path.

On a terminal the table is redrawn in place; otherwise each refresh is printed as a block
followed by a blank line. Ctrl-C or SIGTERM closes the association gracefully and exits 0;
the association ending on its own shows a last table and exits 1.
"""


def add_paths_parser(commands: Any) -> None:
    """Register ``paths`` on the subcommand parsers."""
    parser: argparse.ArgumentParser = commands.add_parser(
        "paths",
        help="a live table of every path of an association: state, srtt, rto, cwnd, primary",
        description="Open an association to every address of REMOTE (an echo server such as "
        "'sctpmh serve') and show its paths, refreshed every interval, like top.",
        epilog=PATHS_HELP,
        formatter_class=HelpFormatter,
    )
    parser.add_argument(
        "remote", metavar="REMOTE", help='the peer\'s addresses, e.g. "127.0.0.1;127.0.0.2"'
    )
    add_association_options(parser, client=True)
    parser.add_argument(
        "--interval",
        type=seconds(0.01),
        default=1.0,
        metavar="S",
        help="seconds between refreshes, and between echo pings (default 1)",
    )
    parser.add_argument(
        "--count",
        type=integer(1, 2**31 - 1),
        metavar="N",
        help="stop after N refreshes (default: run until Ctrl-C)",
    )
    parser.set_defaults(run=watch_paths, interrupted_status=0)


class _Watch:
    """What the table shows besides ``Association.paths``: events and echo round trips."""

    def __init__(self, association: Association) -> None:
        self.association = association
        self.started = time.monotonic()
        self.events: collections.deque[tuple[float, Event]] = collections.deque(
            maxlen=RECENT_EVENTS
        )
        self.pings_sent = 0
        self.pings_answered = 0
        self.last_echo: tuple[float, Address | None] | None = None
        self.echo_by_path: dict[Address, float] = {}
        self._in_flight: collections.OrderedDict[bytes, float] = collections.OrderedDict()

    def view(self) -> PathsView:
        association = self.association
        return PathsView(
            association_id=association.association_id,
            local_addresses=association.local_addresses,
            uptime=time.monotonic() - self.started,
            paths=association.paths,
            events=tuple(self.events),
            pings_sent=self.pings_sent,
            pings_answered=self.pings_answered,
            last_echo=self.last_echo,
            echo_by_path=dict(self.echo_by_path),
        )

    async def record_events(self) -> None:
        """Keep the recent events worth a line; returns once the association has ended."""
        async for event in self.association.events():
            # Skipped events (SenderDry after every ping) would push the others out.
            if describe_event(event) is not None:
                self.events.append((time.monotonic() - self.started, event))

    async def ping(self, interval: float) -> None:
        """Send a small message every ``interval`` seconds until the association ends."""
        with contextlib.suppress(AssociationClosedError):
            while True:
                payload = b"sctpmh paths ping %d" % self.pings_sent
                self._in_flight[payload] = time.perf_counter()
                if len(self._in_flight) > PINGS_REMEMBERED:
                    self._in_flight.popitem(last=False)
                await self.association.send(payload)
                self.pings_sent += 1
                await asyncio.sleep(interval)

    async def collect_echoes(self) -> None:
        """Time the echoes of the pings, per path they came back by."""
        with contextlib.suppress(AssociationClosedError):
            async for message in self.association:
                sent_at = self._in_flight.pop(message.data, None)
                if sent_at is None:
                    continue  # not an echo of ours (or of a ping forgotten long ago)
                round_trip = time.perf_counter() - sent_at
                self.pings_answered += 1
                self.last_echo = (round_trip, message.source)
                if message.source is not None:
                    self.echo_by_path[message.source] = round_trip


async def watch_paths(args: argparse.Namespace) -> int:
    """Show the table until ``--count`` refreshes, a signal (exit 0) or the association's
    end (exit 1)."""
    association = await open_client_association(args)
    watch = _Watch(association)
    recorder = asyncio.create_task(watch.record_events())
    helpers: list[asyncio.Task[Any]] = [
        asyncio.create_task(watch.ping(args.interval)),
        asyncio.create_task(watch.collect_echoes()),
    ]
    refreshes = 0
    ended = False
    try:
        await asyncio.sleep(0)  # let the first ping go out before the first refresh
        with stop_requested() as stop, Screen(sys.stdout) as screen:
            stopping = asyncio.create_task(stop.wait())
            helpers.append(stopping)
            while True:
                # The recorder returns only after the association's last event (closed):
                # this refresh then shows the final state and the command ends.
                ended = recorder.done()
                screen.show(render_paths(watch.view()))
                refreshes += 1
                if ended or stop.is_set() or refreshes == args.count:
                    break
                await asyncio.wait(
                    {stopping, recorder},
                    timeout=args.interval,
                    return_when=asyncio.FIRST_COMPLETED,
                )
                if stop.is_set():
                    break
    finally:
        for task in [*helpers, recorder]:
            task.cancel()
        await asyncio.gather(*helpers, recorder, return_exceptions=True)
        await close_gracefully(association, args.timeout)
    if ended:
        print(f"sctpmh: {_how_it_ended(watch.events)}", file=sys.stderr, flush=True)
        return 1
    return 0


def _how_it_ended(events: collections.abc.Iterable[tuple[float, Event]]) -> str:
    closing = [event for _, event in events if isinstance(event, AssociationClosed)]
    if closing and closing[-1].aborted:
        cause = closing[-1].cause
        return "the association was aborted or lost" + (
            f" (cause {cause})" if cause is not None else ""
        )
    return "the peer shut the association down"
