"""Failover gap on the two-path namespace topology (lab/netlab.py): a paced stream of numbered
messages runs over the primary path, the path carrying it is cut (netem loss 100 %, both ways),
and the receiver notes when each message arrives and by which path.

Per trial:

- ``cut_to_other_path_s``: from the cut to the first message delivered by the other path
  (the failover gap of the issue); the cut counts from the last message that still came over
  the cut path, if any came after the cut command (it takes a moment to take effect);
- ``largest_gap_s``: the longest time without any delivery, from the last delivery before the
  cut to the end of the trial (includes stalls after the first failover, e.g. new data still
  sent to a path that is not yet declared failed);
- ``state_after_s``: from the cut to the path-state event that ends the trial: potentially
  failed when the configuration has the state on, else inactive;
- ``lost``, ``duplicated``, ``out_of_order``: after the path is restored and the stream
  drained, every message must have arrived once, in order.

A trial ends ``settle`` seconds after both the other-path delivery and the state event were
seen, or ``window`` seconds after the cut. With the library's defaults a path is declared
inactive after about 63 s (RTO 1 s doubling over 6 timeouts), so those trials are long; a
normal run does fewer of them (``Settings.failover_trials``).

Configurations: ``default`` (``Config()``), ``fast_failover`` (``Config.fast_failover()``) and
``potentially_failed`` (the defaults with ``potentially_failed_threshold=0``, RFC 7829).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import subprocess
import time
from typing import Any

import sctpmh
from lab import netlab

from .interleave import log
from .loops import run_on
from .settings import FAILOVER_CONFIGS, Settings
from .workers import Channel, Worker

#: Waiting for the stream to drain after the path is restored: at most a few doubled RTOs.
DRAIN_TIMEOUT = 120.0
_SEQUENCE_BYTES = 8


class _Cutter:
    """Cuts a path like ``Topology.cut(index, "loss")``, but through ``tc`` processes started
    beforehand and waiting on their input: starting a process takes hundreds of milliseconds
    under emulation, which would blur when the cut happened; a line to a waiting ``tc -batch``
    takes effect within milliseconds."""

    def __init__(self, topology: netlab.Topology) -> None:
        self._processes = {
            side: subprocess.Popen(
                ["tc", "-n", namespace.name, "-batch", "-"],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            for side, namespace in (("right", topology.right), ("left", topology.left))
        }

    def cut(self, path: netlab.PathLink) -> None:
        """Drop every packet on ``path`` both ways; the sender's side (right) first."""
        for side, interface in (("right", path.right_interface), ("left", path.left_interface)):
            stdin = self._processes[side].stdin
            assert stdin is not None
            stdin.write(f"qdisc add dev {interface} root netem loss 100%\n")
            stdin.flush()

    def finish(self) -> None:
        """Let the ``tc`` processes end; raise if a cut failed."""
        errors = []
        for process in self._processes.values():
            if process.stdin is not None and not process.stdin.closed:
                process.stdin.close()
            if process.wait(60) != 0 and process.stderr is not None:
                errors.append(process.stderr.read().strip())
        self._processes = {}
        if errors:
            raise RuntimeError(f"tc failed: {'; '.join(errors)}")


def failover_config(name: str) -> sctpmh.Config:
    """The configuration a failover trial runs with."""
    if name == "default":
        return sctpmh.Config()
    if name == "fast_failover":
        return sctpmh.Config.fast_failover()
    if name == "potentially_failed":
        return sctpmh.Config(potentially_failed_threshold=0)
    raise ValueError(f"unknown failover configuration {name!r}")


class _Arrivals:
    """What the receiver saw: (time, sequence number, source host), in arrival order."""

    def __init__(self) -> None:
        self.items: list[tuple[float, int, str]] = []
        self.cut_at: float | None = None
        self.cut_source = ""
        self.other_path = asyncio.Event()
        self.count_changed = asyncio.Event()

    def add(self, message: sctpmh.Message) -> None:
        now = time.perf_counter()
        source = message.source[0] if message.source else ""
        self.items.append((now, int.from_bytes(message.data, "big"), source))
        if self.cut_at is not None and source != self.cut_source:
            self.other_path.set()
        self.count_changed.set()


def analyse(
    arrivals: list[tuple[float, int, str]],
    cut_at: float,
    cut_source: str,
    sent: int,
    end_at: float,
) -> dict[str, Any]:
    """The figures of one trial from its arrival log."""
    other = [t for t, _, source in arrivals if t >= cut_at and source != cut_source]
    # The outage starts at the cut, or later if messages still came over the cut path: the
    # tc command takes a moment to run, and what was already on its way arrives.
    outage_from = max(
        (
            t
            for t, _, source in arrivals
            if t >= cut_at and source == cut_source and (not other or t < other[0])
        ),
        default=cut_at,
    )
    before = [t for t, _, _ in arrivals if t < cut_at]
    during = [t for t, _, _ in arrivals if cut_at <= t <= end_at]
    marks = [before[-1] if before else cut_at, *during, end_at]
    sequence = [seq for _, seq, _ in arrivals]
    unique = set(sequence)
    return {
        "cut_to_other_path_s": (other[0] - outage_from) if other else None,
        "cut_path_deliveries_after_cut_s": outage_from - cut_at,
        "largest_gap_s": max(b - a for a, b in itertools.pairwise(marks)),
        "sent": sent,
        "delivered": len(sequence),
        "lost": len(set(range(sent)) - unique),
        "duplicated": len(sequence) - len(unique),
        "out_of_order": sum(1 for a, b in itertools.pairwise(sequence) if b <= a),
    }


async def trial(topology: netlab.Topology, name: str, settings: Settings) -> dict[str, Any]:
    """One cut of the primary path under configuration ``name``."""
    config = failover_config(name)
    left, right = topology.addresses("left"), topology.addresses("right")
    arrivals = _Arrivals()

    async def collect(association: sctpmh.Association) -> None:
        async for message in association:
            arrivals.add(message)

    with topology.left.entered():
        server = await sctpmh.create_server(collect, left, 0, config=config)
    async with server:
        with topology.right.entered():
            association = await sctpmh.open_association(
                left, server.port, local_addrs=right, config=config
            )
        try:
            return await _run_trial(topology, association, arrivals, config, settings)
        finally:
            association.abort()
            await association.wait_closed()


async def _run_trial(
    topology: netlab.Topology,
    association: sctpmh.Association,
    arrivals: _Arrivals,
    config: sctpmh.Config,
    settings: Settings,
) -> dict[str, Any]:
    left, right = topology.addresses("left"), topology.addresses("right")
    ending_state = (
        sctpmh.PathState.INACTIVE
        if config.potentially_failed_threshold is None
        else sctpmh.PathState.POTENTIALLY_FAILED
    )
    states: list[tuple[float, str, str]] = []
    state_reached = asyncio.Event()
    cut_peer = ""  # the server's address on the cut path, once cut

    async def watch() -> None:
        async for event in association.events():
            if isinstance(event, sctpmh.PathStateChanged):
                states.append((time.perf_counter(), event.address[0], event.state.value))
                if event.address[0] == cut_peer and event.state is ending_state:
                    state_reached.set()

    sent = 0
    sending = True

    async def send() -> None:
        nonlocal sent
        while sending:
            await association.send(sent.to_bytes(_SEQUENCE_BYTES, "big"))
            sent += 1
            await asyncio.sleep(settings.failover_interval)

    cutter = _Cutter(topology)
    watcher = asyncio.create_task(watch())
    sender = asyncio.create_task(send())
    restored = False
    try:
        await asyncio.sleep(settings.failover_warmup)
        # Cut the path that carries the data now. It is usually the primary, but with short
        # timers a spurious timeout on a busy machine can have moved the data elsewhere
        # (RFC 7829), and cutting an idle path would measure nothing.
        last_source = arrivals.items[-1][2] if arrivals.items else ""
        if last_source in right:
            cut_index = right.index(last_source)
        else:
            primary = next(p.address for p in association.paths if p.primary)
            cut_index = left.index(primary[0])
        arrivals.cut_source, cut_peer = right[cut_index], left[cut_index]
        if any(a == cut_peer and s == ending_state.value for _, a, s in states):
            state_reached.clear()  # a spurious event before the cut does not count
        cut_at = arrivals.cut_at = time.perf_counter()
        cutter.cut(topology.paths[cut_index])
        cut_took = time.perf_counter() - cut_at
        window_reached = False
        try:
            async with asyncio.timeout(settings.failover_window):
                await arrivals.other_path.wait()
                await state_reached.wait()
                await asyncio.sleep(settings.failover_settle)
        except TimeoutError:
            window_reached = True
        sending = False
        await sender
        end_at = time.perf_counter()
        cutter.finish()
        topology.restore(cut_index, "loss")
        restored = True
        async with asyncio.timeout(DRAIN_TIMEOUT):
            while len({seq for _, seq, _ in arrivals.items}) < sent:
                arrivals.count_changed.clear()
                await arrivals.count_changed.wait()
    finally:
        cutter.finish()
        sending = False
        watcher.cancel()
        sender.cancel()
        if not restored:
            with contextlib.suppress(RuntimeError):
                topology.restore(cut_index, "loss")
    result = analyse(arrivals.items, cut_at, arrivals.cut_source, sent, end_at)
    ending = [
        t - cut_at
        for t, address, state in states
        if address == cut_peer and state == ending_state.value and t >= cut_at
    ]
    result.update(
        state_after_s=ending[0] if ending else None,
        states=[f"{address} {state}" for t, address, state in states if t >= cut_at],
        states_before_cut=sum(1 for t, _, _ in states if t < cut_at),
        cut_primary=cut_peer == next((p.address[0] for p in association.paths if p.primary), ""),
        window_reached=window_reached,
        cut_took_s=cut_took,
    )
    return result


async def _all_trials(settings: Settings) -> dict[str, list[dict[str, Any]]]:
    trials: dict[str, list[dict[str, Any]]] = {name: [] for name in FAILOVER_CONFIGS}
    rounds = max(settings.failover_trials.get(name, 0) for name in FAILOVER_CONFIGS)
    with netlab.two_path_topology() as topology:
        # Interleaved like the other families: each round runs every configuration that
        # still has trials to do.
        for index in range(rounds):
            for name in FAILOVER_CONFIGS:
                if index >= settings.failover_trials.get(name, 0):
                    continue
                try:
                    outcome = await trial(topology, name, settings)
                except Exception as exc:
                    outcome = {"error": f"{type(exc).__name__}: {exc}"}
                trials[name].append(outcome)
                log(f"failover {name} trial {index + 1}: {outcome}")
    return trials


def _worker(settings: Settings, channel: Channel) -> dict[str, Any]:
    return run_on("asyncio", lambda: _all_trials(settings))


def measure(settings: Settings) -> dict[str, Any]:
    """Every configuration's trials, in a worker process of their own (needs root)."""
    if os.geteuid() != 0:
        return {"error": "the namespace topology needs root (the lab VM runs as root)"}
    longest = settings.failover_window + DRAIN_TIMEOUT + 60
    total = sum(settings.failover_trials.values()) * longest
    with Worker("failover", lambda channel: _worker(settings, channel)) as worker:
        return worker.result(total)
