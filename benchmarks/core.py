"""The userspace SCTP core alone: no sockets, no event loop, no kernel.

Two :class:`sctpmh.core.association.Association` objects hand their datagrams straight to each
other (a lossless link with no delay) while a fake clock jumps to the next timer whenever
nothing else moves. What is left to measure is the core's own cost per message: encoding and
decoding packets (CRC32c included), fragmentation and reassembly, SACKs, congestion and flow
control. Figures are messages per second and payload megabytes per second of wall time on this
host, at 64 B, 1 KiB and 16 KiB (16 KiB messages are fragmented at the 1,280-byte MTU).

    python -m benchmarks core [--smoke] [--out DIR]

writes ``core.json`` and ``core.md`` into DIR (default: docs/benchmarks). It runs on any host:
``benchmarks/run`` runs it after the kernel measurements.
"""

from __future__ import annotations

import json
import platform
import statistics
import time
from pathlib import Path
from random import Random
from typing import Any

import sctpmh
from sctpmh.config import Config
from sctpmh.core.association import Association, CoreConfig, State
from sctpmh.events import Message

SIZES = (64, 1024, 16 * 1024)
#: Payload bytes moved per size and round (the message count follows from the size).
VOLUME = 16 * 1024 * 1024
SMOKE_VOLUME = 64 * 1024
ROUNDS = 3
STREAMS = 8
#: How much the sending application keeps queued in the core before it waits.
SEND_WINDOW = 256 * 1024

_CLIENT = ("10.0.0.1", 5000)
_SERVER = ("10.0.0.2", 5001)


def _association(local: tuple[str, int], remote: tuple[str, int], seed: int) -> Association:
    return Association(
        Config(outbound_streams=STREAMS, inbound_streams=STREAMS),
        CoreConfig(local_port=local[1], remote_port=remote[1]),
        local_addresses=[local[0]],
        rng=Random(seed),
    )


class _Link:
    """Moves every datagram at once, both ways, and keeps the fake clock."""

    def __init__(self, client: Association, server: Association) -> None:
        self.client = client
        self.server = server
        self.now = 0.0
        self.packets = 0

    def exchange(self) -> bool:
        """Deliver everything both sides want to send; False when neither sent anything."""
        moved = False
        for sender, receiver, source in (
            (self.client, self.server, _CLIENT),
            (self.server, self.client, _SERVER),
        ):
            for data, _, _ in sender.datagrams_to_send(self.now):
                receiver.receive_datagram(data, source, self.now)
                self.packets += 1
                moved = True
        return moved

    def advance(self) -> None:
        """Jump the clock to the earliest timer and fire it."""
        deadlines = [
            deadline
            for deadline in (self.client.get_timer(), self.server.get_timer())
            if deadline is not None
        ]
        if not deadlines:
            raise RuntimeError("the core stalled with no timer running")
        self.now = max(self.now, min(deadlines))
        self.client.handle_timer(self.now)
        self.server.handle_timer(self.now)


def transfer(size: int, volume: int, seed: int = 1) -> dict[str, Any]:
    """Send ``volume`` bytes in messages of ``size`` from a client core to a server core and
    return the wall time, rates, and packet and timer counts."""
    client = _association(_CLIENT, _SERVER, seed)
    server = _association(_SERVER, _CLIENT, seed + 1)
    link = _Link(client, server)
    client.connect([_SERVER], link.now)
    while not (client.state is State.ESTABLISHED and server.state is State.ESTABLISHED):
        if not link.exchange():
            link.advance()
    while server.next_event() is not None or client.next_event() is not None:
        pass
    count = max(1, volume // size)
    payload = bytes(range(256)) * (size // 256) + bytes(size % 256)
    sent = received = received_bytes = timer_jumps = 0
    started = time.perf_counter()
    while received < count:
        while sent < count and client.pending_bytes() < SEND_WINDOW:
            client.send(payload, stream=sent % STREAMS, now=link.now)
            sent += 1
        moved = link.exchange()
        while (event := server.next_event()) is not None:
            if type(event) is Message:
                received += 1
                received_bytes += len(event.data)
        while client.next_event() is not None:
            pass
        if not moved:
            link.advance()
            timer_jumps += 1
    seconds = time.perf_counter() - started
    if received_bytes != count * size:
        raise RuntimeError(f"received {received_bytes} bytes, expected {count * size}")
    return {
        "size": size,
        "messages": count,
        "seconds": seconds,
        "messages_per_s": count / seconds,
        "mb_per_s": received_bytes / seconds / 1e6,
        "packets": link.packets,
        "timer_jumps": timer_jumps,
    }


def measure(*, smoke: bool = False, rounds: int = ROUNDS) -> dict[str, Any]:
    """Every size, ``rounds`` times each (once in smoke mode); the median round is reported."""
    volume = SMOKE_VOLUME if smoke else VOLUME
    results = []
    for size in SIZES:
        samples = [transfer(size, volume, seed) for seed in range(1, (1 if smoke else rounds) + 1)]
        median = statistics.median(sample["messages_per_s"] for sample in samples)
        best = min(samples, key=lambda sample: abs(sample["messages_per_s"] - median))
        results.append({**best, "rounds": samples})
    return {
        "machine": {
            "python": platform.python_version(),
            "processor": platform.processor() or platform.machine(),
            "sctpmh": sctpmh.__version__,
        },
        "volume_bytes": volume,
        "smoke": smoke,
        "results": results,
    }


def markdown(report: dict[str, Any]) -> str:
    """The report as a Markdown page."""
    lines = [
        "# The userspace core alone",
        "",
        "Two `sctpmh.core` associations connected by a lossless, zero-delay link in memory,"
        " on the host (not in the lab VM); a fake clock jumps to the next timer when nothing"
        " else moves. Produced by `python -m benchmarks core`; see `benchmarks/core.py`.",
        "",
        f"Python {report['machine']['python']}, {report['volume_bytes'] // 1024} KiB of payload"
        " per size and round, median of the rounds.",
        "",
        "| message size | messages/s | MB/s | packets | timer jumps |",
        "|---:|---:|---:|---:|---:|",
    ]
    for result in report["results"]:
        lines.append(
            f"| {result['size']} B | {result['messages_per_s']:,.0f} | {result['mb_per_s']:.1f}"
            f" | {result['packets']:,} | {result['timer_jumps']:,} |"
        )
    return "\n".join(lines) + "\n"


def run(out: Path, *, smoke: bool = False) -> dict[str, Any]:
    """Measure, print the table, and write ``core.json`` and ``core.md`` into ``out``."""
    report = measure(smoke=smoke)
    out.mkdir(parents=True, exist_ok=True)
    (out / "core.json").write_text(json.dumps(report, indent=2) + "\n")
    text = markdown(report)
    (out / "core.md").write_text(text)
    print(text, end="")
    return report
