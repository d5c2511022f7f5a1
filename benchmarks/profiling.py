"""Profiles of the sctpmh side of bulk 1 KiB (callback API) and echo 1 KiB (coroutine API),
on the default loop, with pyinstrument (a sampling profiler: low overhead, so the shares stay
close to an unprofiled run's). py-spy needs ptrace and is not used.

For each process (sender and receiver, client and server) the result holds the busy share of
the hottest functions by self time, where busy means not waiting in the selector, and the
whole call tree as text (the report writes it to ``docs/benchmarks/profiles/``).
"""

from __future__ import annotations

import collections
import os
from collections.abc import Callable
from typing import Any

from . import bulk, echo
from .common import STEP_TIMEOUT
from .interleave import log
from .loops import run_on
from .settings import Settings
from .workers import Channel, Worker, WorkerError, last_cpu

SIZE = 1024
#: One sample per millisecond.
INTERVAL = 0.001
TOP = 15
#: Where an idle event loop waits (the selector's system call): time spent here is not work.
_IDLE = frozenset({"epoll.poll", "poll.poll", "select.select", "devpoll.poll", "kqueue.control"})

Target = Callable[..., dict[str, Any]]


def hot_spots(root: Any) -> dict[str, Any]:
    """Self time per function over a pyinstrument frame tree: the busy total, the idle total,
    and the ``TOP`` functions by self time with their share of the busy time."""
    self_time: dict[str, float] = collections.defaultdict(float)
    idle = 0.0
    stack = [root]
    while stack:
        frame = stack.pop()
        stack.extend(frame.children)
        if frame.is_synthetic or frame.total_self_time <= 0:
            continue
        name = f"{frame.class_name}.{frame.function}" if frame.class_name else frame.function
        if name in _IDLE:
            idle += frame.total_self_time
            continue
        self_time[f"{name} ({frame.file_path_short}:{frame.line_no})"] += frame.total_self_time
    busy = sum(self_time.values())
    ranked = sorted(self_time.items(), key=lambda item: item[1], reverse=True)[:TOP]
    return {
        "busy_s": busy,
        "idle_s": idle,
        "top": [
            {"function": name, "self_s": seconds, "busy_percent": 100 * seconds / busy}
            for name, seconds in ranked
        ]
        if busy
        else [],
    }


def profiled(target: Target) -> Target:
    """``target`` run under pyinstrument; returns its hot spots and the text tree."""

    def run(channel: Channel, *args: Any) -> dict[str, Any]:
        # The lab's emulated clock is slow to read; pyinstrument warns about it at length.
        os.environ["PYINSTRUMENT_IGNORE_OVERHEAD_WARNING"] = "1"
        from pyinstrument import Profiler

        profiler = Profiler(interval=INTERVAL, async_mode="disabled")
        profiler.start()
        try:
            target(channel, *args)
        finally:
            session = profiler.stop()
        return {
            **hot_spots(session.root_frame()),
            "text": profiler.output_text(unicode=False, color=False, show_all=False),
        }

    return run


def _pair(
    name: str, server: Target, client: Target, seconds: float, cpu: int | None
) -> dict[str, Any]:
    with Worker(f"profile {name} server", profiled(server), cpu=cpu) as server_worker:
        port = server_worker.message(STEP_TIMEOUT)
        with Worker(f"profile {name} client", profiled(client), port, cpu=cpu) as client_worker:
            client_profile = client_worker.result(seconds + STEP_TIMEOUT)
        server_profile = server_worker.result(STEP_TIMEOUT)
    return {"server": server_profile, "client": client_profile}


def measure(settings: Settings) -> dict[str, Any]:
    """Profile bulk 1 KiB (sctpmh-protocol) and echo 1 KiB (sctpmh-coroutine) on asyncio."""
    seconds = settings.profile_seconds
    payload = bytes(SIZE)
    kind = "sctpmh-protocol"
    echo_kind = "sctpmh-coroutine"

    def echo_client(channel: Channel, port: int) -> dict[str, Any]:
        clock = echo.Clock(payload, seconds, settings.echo_warmup_seconds)
        run_on("asyncio", lambda: echo.CLIENTS[echo_kind](port, clock))
        return clock.summary()

    jobs: dict[str, tuple[Target, Target]] = {
        f"bulk-{SIZE}-{kind}": (
            lambda channel: run_on("asyncio", lambda: bulk.SINKS[kind](channel, SIZE)),
            lambda channel, port: run_on(
                "asyncio", lambda: bulk.SOURCES[kind](port, payload, seconds)
            ),
        ),
        f"echo-{SIZE}-{echo_kind}": (
            lambda channel: run_on("asyncio", lambda: echo.SERVERS[echo_kind](channel)),
            echo_client,
        ),
    }
    results: dict[str, Any] = {}
    for name, (server, client) in jobs.items():
        try:
            # Echo pairs share one CPU, as in benchmarks.echo.
            cpu = last_cpu() if name.startswith("echo") else None
            results[name] = _pair(name, server, client, seconds, cpu)
        except WorkerError as exc:
            results[name] = {"error": str(exc)}
        log(f"profile {name}: done")
    return results
