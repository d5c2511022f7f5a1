"""Failover demo: a primary path is cut mid-stream and not one message is lost.

    .venv/bin/python examples/failover_demo.py --backend udp               # as root, any kernel
    python3 lab/sctplab.py run -- .venv/bin/python examples/failover_demo.py --backend kernel
    .venv/bin/python examples/failover_demo.py --preset pf --cut down      # as root, with SCTP

It builds two network namespaces joined by two independent links (lab/netlab.py), puts a
server in one and a client in the other, and opens one association over both links. The
client streams numbered messages on four streams at a steady rate; halfway through, the link
that carries them (the primary path) is cut, the association moves the traffic to the other
link, and once the cut path has been declared down it is restored. It prints a timeline (cut,
every path-state change the sender sees, the first message that arrives by the other path,
restore, the path coming back) and totals: sent, received, lost, duplicated, out of order,
the largest gap between two deliveries and the time from the cut to the first delivery by
the other path; --json PATH writes all of it as JSON too. Exit status 0 when every message
arrived exactly once and in order, 1 when not, 2 when it cannot run (not root, no kernel SCTP,
bad arguments). Ctrl-C stops it and removes the namespaces.

--backend picks what carries the association: kernel SCTP, or the udp backend (SCTP over UDP,
RFC 6951), which needs no SCTP in the kernel; auto (the default) takes kernel where this kernel
has SCTP. The cut is real either way: the link goes down (--cut down, the default with udp), or
tc netem drops every packet on it (--cut loss, the default with kernel; netem is in the lab VM).

Presets (--preset):
  fast     Config.fast_failover(): RTO 0.1..0.5 s, a path is potentially failed at its first
           timeout (RFC 7829) and down at its third, about 0.7 s after the cut.
  pf       fast, but with Path.Max.Retrans 5 instead of 2: traffic still moves at the first
           timeout, while the cut path stays potentially failed for about 2 s before it is
           declared down. Failover speed comes from the potentially-failed state, not from
           how soon a path is given up.
  default  Config(): RFC 9260's timers (RTO.Min 1 s, Path.Max.Retrans 5) and no
           potentially-failed state. Six timeouts, 1 + 2 + 4 + 8 + 16 + 32 = 63 s, and more
           once the path carries no data and is only probed every RTO + 30 s: the cut path
           is declared down after one to two and a half minutes, and this run takes as long.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import collections
import contextlib
import itertools
import json
import math
import os
import socket
import sys
import time
from collections.abc import Callable, Coroutine
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from cmdline import ArgumentParser

import sctpmh

# lab/ (the namespace builder the kernel tests use) is not part of the installed package;
# the demo borrows it from the repository it lives in.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from lab import netlab

PROG = "failover_demo"
T = TypeVar("T")
STREAMS = 4

PRESETS: dict[str, sctpmh.Config] = {
    "fast": sctpmh.Config.fast_failover(),
    # Two more strikes before "down" (and an association limit that still covers the sum of
    # the path limits, RFC 9260 section 8.2), the potentially-failed threshold unchanged.
    "pf": sctpmh.Config.fast_failover(
        path_max_retransmissions=5, association_max_retransmissions=10
    ),
    "default": sctpmh.Config(),
}

STATE_WORDS = {
    sctpmh.PathState.ACTIVE: "active",
    sctpmh.PathState.POTENTIALLY_FAILED: "potentially failed (new data avoids it)",
    sctpmh.PathState.INACTIVE: "down (inactive)",
    sctpmh.PathState.UNCONFIRMED: "unconfirmed",
}
DOWNISH = (sctpmh.PathState.POTENTIALLY_FAILED, sctpmh.PathState.INACTIVE)


# --- the timeline ------------------------------------------------------------------------


@dataclass
class Entry:
    """One line of the timeline."""

    t: float  # seconds since the first message was sent, to the millisecond
    event: str  # cut, path-<state>, primary-changed, first-via-other-path, restore, ...
    text: str
    address: str | None = None  # the peer address, for path events


@dataclass
class Timeline:
    """Events with their time, printed as they happen."""

    start: float = field(default_factory=time.monotonic)
    entries: list[Entry] = field(default_factory=list)

    def begin(self) -> None:
        self.start = time.monotonic()

    def now(self) -> float:
        return time.monotonic() - self.start

    def mark(self, event: str, text: str, address: str | None = None) -> None:
        entry = Entry(round(self.now(), 3), event, text, address)
        self.entries.append(entry)
        print(f"{entry.t:9.3f}  {text}", flush=True)

    def has(self, event: str) -> bool:
        return any(e.event == event for e in self.entries)

    def first(self, event: str, address: str | None = None, after: float = 0.0) -> float | None:
        """When ``event`` (about ``address``, if given) first happened at or after ``after``,
        or None."""
        return next(
            (
                e.t
                for e in self.entries
                if e.event == event and address in (None, e.address) and e.t >= after
            ),
            None,
        )


# --- the receiving side: counts every message and notices which path brought it ----------


class Receiver:
    """The server's handler. A message's ``source`` is the client address it came from, and
    each client address sits on one link, so it tells which path carried the message."""

    def __init__(self, timeline: Timeline) -> None:
        self.timeline = timeline
        self.primary_source = ""  # the client's address on the primary path, set once known
        self.numbers: set[int] = set()
        self.deliveries = 0
        self.duplicated = 0
        self.last_on_stream: dict[int, int] = {}
        self.out_of_order: collections.Counter[int] = collections.Counter()
        self.arrivals: list[float] = []
        self.done = asyncio.Event()

    async def serve(self, association: sctpmh.Association) -> None:
        try:
            async for message in association:
                self.take(message)
        except sctpmh.AssociationClosedError:
            pass  # it failed; the totals will show what is missing
        finally:
            self.done.set()

    def take(self, message: sctpmh.Message) -> None:
        self.arrivals.append(self.timeline.now())
        self.deliveries += 1
        number = int(message.data)
        if number in self.numbers:
            self.duplicated += 1
            return
        self.numbers.add(number)
        # Each stream must be delivered in the order it was sent (RFC 9260 section 6.6).
        if number < self.last_on_stream.get(message.stream, -1):
            self.out_of_order[message.stream] += 1
        else:
            self.last_on_stream[message.stream] = number
        if message.source is not None:
            self.note_path(number, message.stream, message.source[0])

    def note_path(self, number: int, stream: int, source: str) -> None:
        """Mark the first message by the other path after the cut, and the first one by the
        primary path again after the restore."""
        timeline = self.timeline
        on_primary = source == self.primary_source
        if not on_primary and timeline.has("cut") and not timeline.has("first-via-other-path"):
            timeline.mark(
                "first-via-other-path",
                f"first message via the other path: #{number} on stream {stream}, from {source}",
            )
        elif on_primary and timeline.has("restore") and not timeline.has("back-on-primary"):
            timeline.mark(
                "back-on-primary", f"first message via the restored path again: #{number}"
            )


# --- the sending side: what the sender's association reports about its paths -------------


class PathWatch:
    """Puts every path-state change and primary change the sender sees on the timeline."""

    def __init__(self, association: sctpmh.Association, timeline: Timeline) -> None:
        self.association = association
        self.timeline = timeline
        # Only changes are printed: a notification can repeat what the kernel already said.
        self.states = {p.address[0]: p.state for p in association.paths}
        self.changed = asyncio.Event()

    async def run(self) -> None:
        async for event in self.association.events():
            if isinstance(event, sctpmh.PathStateChanged):
                host = event.address[0]
                before = self.states.get(host)
                if before is event.state:
                    continue
                self.states[host] = event.state
                words = STATE_WORDS[event.state]
                if event.state is sctpmh.PathState.ACTIVE and before in DOWNISH:
                    words += " again"
                self.timeline.mark(
                    f"path-{event.state.value}", f"sender: path to {host} {words}", host
                )
                self.changed.set()
            elif isinstance(event, sctpmh.PrimaryChanged):
                self.timeline.mark(
                    "primary-changed",
                    f"sender: primary path is now the one to {event.address[0]}",
                    event.address[0],
                )

    async def until(self, host: str, state: sctpmh.PathState) -> None:
        """Wait until the path to ``host`` is in ``state``."""
        while self.states.get(host) is not state:
            self.changed.clear()
            await self.changed.wait()


async def every_path_confirmed(association: sctpmh.Association) -> None:
    """Wait until the kernel has confirmed every peer address with a HEARTBEAT: data only
    goes to confirmed addresses (RFC 9260 section 5.4), so before that there is nothing to
    fail over to."""
    if all(p.state is sctpmh.PathState.ACTIVE for p in association.paths):
        return
    async for _event in association.events():
        if all(p.state is sctpmh.PathState.ACTIVE for p in association.paths):
            return


def detection_time(config: sctpmh.Config) -> float:
    """Roughly how long a dead path takes to be declared down: one timeout per strike, each
    twice the one before (RFC 9260 section 6.3.3), capped at RTO.Max."""
    rtos = (
        min(config.rto_min * 2.0**k, config.rto_max)
        for k in range(config.path_max_retransmissions + 1)
    )
    return sum(rtos)


# --- the scenario ------------------------------------------------------------------------


async def demo(topology: netlab.Topology, args: argparse.Namespace) -> dict[str, Any]:
    """Run the whole scenario; returns the report (timeline and totals)."""
    config = PRESETS[args.preset]
    left, right = topology.addresses("left"), topology.addresses("right")
    timeline = Timeline()
    receiver = Receiver(timeline)

    # A socket lives in the namespace it was created in: the server on the left "host", the
    # client on the right one, each bound to its address on both links.
    with topology.left.entered():
        server = await sctpmh.create_server(receiver.serve, left, 0, config=config)
    async with server:
        with topology.right.entered():
            association = await sctpmh.open_association(
                left, server.port, local_addrs=right, config=config
            )
        async with association:
            await asyncio.wait_for(every_path_confirmed(association), 30 + 3 * config.rto_max)
            primary = next(p.address[0] for p in association.paths if p.primary)
            index = left.index(primary)
            receiver.primary_source = right[index]
            print_setup(args, config, association, right[index], primary)

            watch = PathWatch(association, timeline)
            watcher = asyncio.create_task(watch.run())
            try:
                sent = await stream_with_failover(association, topology, index, watch, args)
                # A graceful SHUTDOWN (RFC 9260 section 9.2): it completes once the server
                # has acknowledged everything, so afterwards the counts are final.
                try:
                    await asyncio.wait_for(association.aclose(), 60 + 2 * detection_time(config))
                    await asyncio.wait_for(receiver.done.wait(), 10)
                except TimeoutError:
                    timeline.mark("note", "the association did not shut down in time")
            finally:
                watcher.cancel()
    return report(args, config, timeline, receiver, sent, primary)


async def stream_with_failover(
    association: sctpmh.Association,
    topology: netlab.Topology,
    index: int,
    watch: PathWatch,
    args: argparse.Namespace,
) -> int:
    """Send the numbered messages at a steady rate, cut path ``index`` after half of them and
    restore it once it is down and three quarters are out; returns how many were sent."""
    config, timeline = association.config, watch.timeline
    server_end, client_end = topology.addresses("left")[index], topology.addresses("right")[index]
    path = f"{client_end} <-> {server_end}"

    async def change(event: str, action: Callable[[int, str], None], text: str) -> None:
        timeline.mark(event, text)
        # tc and ip are processes, slow to start in the lab: run them in a thread so that
        # sending goes on meanwhile. Until they are done the path may be cut one way only.
        await asyncio.to_thread(action, index, args.cut)
        timeline.mark(f"{event}-complete", f"{event} complete")

    async def cut() -> None:
        how = "every packet dropped both ways" if args.cut == "loss" else "link down"
        await change("cut", topology.cut, f"cutting the primary path {path} ({how})")

    async def restore_once_down() -> None:
        limit = 2 * detection_time(config) + config.heartbeat_interval + 5
        try:
            await asyncio.wait_for(watch.until(server_end, sctpmh.PathState.INACTIVE), limit)
        except TimeoutError:
            timeline.mark("note", f"the cut path was not declared down within {limit:.0f} s")
        await change("restore", topology.restore, f"restoring the path {path}")

    tasks: list[asyncio.Task[None]] = []
    sent = 0
    timeline.begin()
    try:
        for number in range(args.messages):
            # Message n leaves at n / rate seconds, or as soon as the send buffer has room.
            delay = number / args.rate - timeline.now()
            if delay > 0:
                await asyncio.sleep(delay)
            await association.send(b"%d" % number, stream=number % STREAMS)
            sent += 1
            if sent == args.messages // 2:
                tasks.append(asyncio.create_task(cut()))
            elif sent == args.messages * 3 // 4:
                tasks.append(asyncio.create_task(restore_once_down()))
        await asyncio.gather(*tasks)
        # An inactive path is probed by a HEARTBEAT every RTO + HB.interval (RFC 9260
        # section 8.3); the first one answered makes it active again.
        limit = 2 * (config.rto_max + config.heartbeat_interval) + 5
        try:
            await asyncio.wait_for(watch.until(server_end, sctpmh.PathState.ACTIVE), limit)
        except TimeoutError:
            timeline.mark("note", f"the restored path did not come back within {limit:.0f} s")
    except sctpmh.AssociationClosedError as exc:
        timeline.mark("association-failed", f"the association failed: {exc}")
    finally:
        for task in tasks:
            task.cancel()
    return sent


# --- the report --------------------------------------------------------------------------


def report(
    args: argparse.Namespace,
    config: sctpmh.Config,
    timeline: Timeline,
    receiver: Receiver,
    sent: int,
    primary: str,
) -> dict[str, Any]:
    """Timeline and totals, as printed and as written by --json."""
    cut = timeline.first("cut")

    def since_cut(event: str, address: str | None = None) -> float | None:
        """Seconds from the cut to the first ``event`` after it."""
        if cut is None:
            return None
        t = timeline.first(event, address, after=cut)
        return None if t is None else round(t - cut, 3)

    # The failover gap: the largest gap between deliveries while the failover was under way,
    # from the last delivery before the cut to the first one after the cut path was declared
    # down (or after the first delivery by the other path, if that came later). The largest
    # gap before the cut shows how steady delivery is without a failure.
    arrivals = receiver.arrivals
    at_cut = bisect.bisect_left(arrivals, cut) if cut is not None else 0
    down = timeline.first("path-inactive", primary, after=cut or 0.0)
    moved = timeline.first("first-via-other-path")
    settled = max((t for t in (down, moved) if t is not None), default=math.inf)
    failing_over = arrivals[max(at_cut - 1, 0) : bisect.bisect_right(arrivals, settled) + 1]
    gap, gap_from = largest_gap(failing_over)
    calm_gap, _ = largest_gap(arrivals[:at_cut])

    totals = {
        "sent": sent,
        "received": receiver.deliveries,
        "lost": len(set(range(sent)) - receiver.numbers),
        "duplicated": receiver.duplicated,
        "out_of_order": {str(s): receiver.out_of_order[s] for s in range(STREAMS)},
        "failover_gap_s": round(gap, 3),
        "failover_gap_from_s": round(gap_from, 3),
        "largest_gap_before_cut_s": round(calm_gap, 3),
        "cut_took_s": since_cut("cut-complete"),
        "cut_to_other_path_s": since_cut("first-via-other-path"),
        "cut_to_potentially_failed_s": since_cut("path-potentially-failed", primary),
        "cut_to_down_s": since_cut("path-inactive", primary),
    }
    ok = (
        sent == args.messages
        and totals["lost"] == 0
        and receiver.duplicated == 0
        and not any(receiver.out_of_order.values())
    )
    return {
        "preset": args.preset,
        "cut": args.cut,
        "messages": args.messages,
        "rate": args.rate,
        "streams": STREAMS,
        "loop": "uvloop" if args.uvloop else "asyncio",
        "config": asdict(config),
        "primary_path": {"client": receiver.primary_source, "server": primary},
        "timeline": [asdict(e) for e in timeline.entries],
        "totals": totals,
        "ok": ok,
    }


def largest_gap(times: list[float]) -> tuple[float, float]:
    """The largest gap between consecutive ``times`` and where it starts, (0, 0) if none."""
    return max(((b - a, a) for a, b in itertools.pairwise(times)), default=(0.0, 0.0))


def print_setup(
    args: argparse.Namespace,
    config: sctpmh.Config,
    association: sctpmh.Association,
    client_end: str,
    server_end: str,
) -> None:
    """The lines before the timeline: timers, addresses, the primary path, the plan."""
    pf = config.potentially_failed_threshold
    pf_words = (
        "no potentially-failed state"
        if pf is None or pf >= config.path_max_retransmissions
        else f"potentially failed at timeout {pf + 1}"
    )
    print(
        f"preset {args.preset}: RTO {config.rto_min:g}..{config.rto_max:g} s, heartbeat every "
        f"{config.heartbeat_interval:g} s, {pf_words}, down at timeout "
        f"{config.path_max_retransmissions + 1}"
    )
    local = ", ".join(host for host, _ in association.local_addresses)
    peer = ", ".join(host for host, _ in association.peer_addresses)
    print(f"client {local} -> server {peer}, port {association.peer_addresses[0][1]}")
    backend = association.transport.get_extra_info("backend")
    carried = "SCTP over UDP (RFC 6951)" if backend == "udp" else "kernel SCTP"
    print(f"backend {backend}: {carried}")
    print(f"primary path {client_end} -> {server_end}")
    print(
        f"sending {args.messages} messages on {STREAMS} streams at {args.rate:g}/s; the primary "
        f"path is cut after message {args.messages // 2} ({args.cut})"
    )
    print("timeline (seconds since the first message):", flush=True)


def print_totals(result: dict[str, Any]) -> None:
    """The lines after the timeline: what arrived, the gaps and the failover times."""
    totals = result["totals"]

    def seconds(value: float | None) -> str:
        return "-" if value is None else f"{value:.3f} s"

    print("totals:")
    print(
        f"  sent {totals['sent']}, received {totals['received']}, lost {totals['lost']}, "
        f"duplicated {totals['duplicated']}"
    )
    order = ", ".join(f"stream {s}: {n}" for s, n in totals["out_of_order"].items())
    print(f"  out of order: {order}")
    print(
        f"  failover gap (largest gap between two deliveries while failing over): "
        f"{seconds(totals['failover_gap_s'])}, from {totals['failover_gap_from_s']:.3f}"
    )
    print(f"  largest gap before the cut: {seconds(totals['largest_gap_before_cut_s'])}")
    print(
        f"  cut -> first delivery via the other path: {seconds(totals['cut_to_other_path_s'])} "
        f"(the cut took {seconds(totals['cut_took_s'])} to apply)"
    )
    print(f"  cut -> path potentially failed: {seconds(totals['cut_to_potentially_failed_s'])}")
    print(f"  cut -> path down: {seconds(totals['cut_to_down_s'])}")
    if result["ok"]:
        print("result: every message arrived exactly once and in order")
    else:
        print("result: FAILED (messages lost, duplicated, out of order or not sent)")


# --- the command line --------------------------------------------------------------------

LAB_HINT = "in the lab: python3 lab/sctplab.py run -- .venv/bin/python examples/failover_demo.py"


def count(text: str) -> int:
    """--messages: at least 20, so that the cut and the restore both fall inside the run."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 20:
        raise argparse.ArgumentTypeError(f"needs at least 20 messages, got {text}")
    return value


def rate(text: str) -> float:
    """--rate: a positive number of messages per second."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of messages/s, got {text}")
    return value


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The options; a bad one ends the program with one line on stderr and status 2."""
    parser = ArgumentParser(
        prog=PROG,
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        epilog=__doc__[__doc__.index("Presets") :] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--preset",
        choices=list(PRESETS),
        default="fast",
        help="timers (default fast; 'default' takes minutes to declare the path down)",
    )
    parser.add_argument("--messages", type=count, default=2000, help="messages to send (2000)")
    parser.add_argument("--rate", type=rate, default=200.0, help="messages per second (200)")
    parser.add_argument(
        "--backend",
        choices=["auto", "kernel", "udp"],
        default="auto",
        help="kernel SCTP or SCTP over UDP (default auto: kernel where this kernel has SCTP)",
    )
    parser.add_argument(
        "--cut",
        choices=["loss", "down"],
        help="how to cut the path: netem 100%% loss or link down (default: loss with the "
        "kernel backend, down with udp)",
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="write the report as JSON too")
    parser.add_argument("--uvloop", action="store_true", help="run on uvloop")
    args = parser.parse_args(argv)
    if args.backend == "auto":
        args.backend = "kernel" if sctp_socket_error() is None else "udp"
    if args.cut is None:
        args.cut = "loss" if args.backend == "kernel" else "down"
    if args.json is not None and not args.json.parent.is_dir():
        parser.error(f"argument --json: no directory {str(args.json.parent)!r}")
    return args


def sctp_socket_error() -> OSError | None:
    """Why this kernel cannot create SCTP sockets, or None."""
    try:
        socket.socket(socket.AF_INET, socket.SOCK_SEQPACKET, socket.IPPROTO_SCTP).close()
    except OSError as exc:
        return exc
    return None


def why_it_cannot_run(backend: str) -> str | None:
    """Why this machine cannot run the demo on ``backend``, or None."""
    error = sctp_socket_error() if backend == "kernel" else None
    if error is not None:
        return (
            f"this kernel cannot create SCTP sockets ({error.strerror}); 'sctpmh check' says "
            f"why; --backend udp needs no kernel SCTP, or {LAB_HINT}"
        )
    if os.geteuid() != 0:
        return f"needs root to build the network namespaces; {LAB_HINT}"
    return None


def run(coroutine: Coroutine[Any, Any, T], use_uvloop: bool) -> T:
    """Run ``coroutine`` on a new event loop: asyncio's own, or uvloop's."""
    if use_uvloop:
        import uvloop

        return uvloop.run(coroutine)
    return asyncio.run(coroutine)


def main(argv: list[str] | None = None) -> int:
    """Run the demo; returns the exit status (0 nothing lost, 1 something was, 2 cannot run)."""
    args = parse_args(argv)
    problem = why_it_cannot_run(args.backend)
    if problem is not None:
        print(f"{PROG}: {problem}", file=sys.stderr)
        return 2
    try:
        # The namespaces are deleted when this block ends, however it ends (Ctrl-C too).
        with contextlib.ExitStack() as stack:
            try:
                topology = stack.enter_context(netlab.two_path_topology())
            except (RuntimeError, OSError) as exc:  # ip failed, or is missing
                print(f"{PROG}: cannot build the network namespaces: {exc}", file=sys.stderr)
                return 2
            result = run(demo(topology, args), args.uvloop)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except sctpmh.SctpUnavailableError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 2
    except (TimeoutError, sctpmh.AssociationClosedError) as exc:
        print(f"{PROG}: could not set the association up: {exc!r}", file=sys.stderr)
        return 1
    print_totals(result)
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
