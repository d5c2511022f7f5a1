"""Association setup rate, and memory per association with many associations open at once.

Setup rate: a client process opens associations to an sctpmh server (``create_server``, an idle
``async for`` handler per association) in concurrent batches; the rate is associations opened
per second, on each loop.

Memory: the server process traces its Python allocations (``tracemalloc``) from before it
starts listening; once the client holds N associations and the server's handlers run for all
N, the server's traced memory minus the baseline, over N, is the Python-side memory per
association. Resident set growth (``/proc/self/statm``) is given too, for the server and the
client, as a cross-check that includes memory outside Python's allocator.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import os
import resource
import time
import tracemalloc
from typing import Any

import sctpmh

from . import common
from .common import HOST, STEP_TIMEOUT
from .interleave import Contender, Sample, interleave, log
from .loops import LOOPS, run_on
from .settings import Settings
from .workers import Channel, Worker, WorkerError

#: Sockets the process needs besides the associations' (pipes, the loop's own fds).
_SPARE_FDS = 256


def resident_bytes() -> int:
    """This process's resident set size."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def raise_fd_limit(needed: int) -> None:
    """Every client association is one socket; raise RLIMIT_NOFILE to fit them (the hard
    limit too when it is lower, which needs root, as in the lab)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return
    if hard != resource.RLIM_INFINITY and hard < needed:
        hard = needed
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ValueError, OSError) as exc:
        raise WorkerError(f"cannot open {needed} sockets: RLIMIT_NOFILE {soft}: {exc}") from exc


async def _serve(channel: Channel, expected: int, traced: bool) -> dict[str, Any]:
    """Serve until the parent says stop; with ``traced``, report the memory once ``expected``
    handlers run."""
    all_up = asyncio.Event()
    running = 0

    async def idle(association: sctpmh.Association) -> None:
        nonlocal running
        running += 1
        if running == expected:
            all_up.set()
        async for _ in association:
            pass

    if traced:
        gc.collect()
        tracemalloc.start()
        traced_before = tracemalloc.get_traced_memory()[0]
    resident_before = resident_bytes()
    server = await sctpmh.create_server(idle, [HOST], 0, config=common.sctpmh_config())
    channel.tell(server.port)
    result: dict[str, Any] = {}
    if traced:
        await all_up.wait()
        gc.collect()
        traced_after = tracemalloc.get_traced_memory()[0]
        result = {
            "associations": len(server.associations),
            "server_traced_bytes": traced_after - traced_before,
            "server_resident_bytes": resident_bytes() - resident_before,
        }
        tracemalloc.stop()
        channel.tell(result)
    await channel.wait_async()  # "stop", once the client has aborted its associations
    # close(), not abort(): Server.abort() with no live association never completes
    # wait_closed() (it sets _serving before calling close(), which then returns early).
    server.close()
    await server.wait_closed()
    return result


async def _open_many(channel: Channel, port: int, count: int, batch: int) -> dict[str, Any]:
    """Open ``count`` associations, ``batch`` at a time; report; close them when told."""
    config = common.sctpmh_config()
    resident_before = resident_bytes()
    associations: list[sctpmh.Association] = []
    started = time.perf_counter()
    while len(associations) < count:
        size = min(batch, count - len(associations))
        opened = await asyncio.gather(
            *(sctpmh.open_association(HOST, port, config=config) for _ in range(size))
        )
        associations.extend(opened)
    seconds = time.perf_counter() - started
    channel.tell(
        {
            "associations": count,
            "seconds": seconds,
            "client_resident_bytes": resident_bytes() - resident_before,
        }
    )
    await channel.wait_async()  # "close"
    for association in associations:
        association.abort()
    return {}


def _client(loop: str, count: int, batch: int, channel: Channel, port: int) -> dict[str, Any]:
    raise_fd_limit(count + _SPARE_FDS)
    return run_on(loop, lambda: _open_many(channel, port, count, batch))


def _server(loop: str, expected: int, traced: bool, channel: Channel) -> dict[str, Any]:
    return run_on(loop, lambda: _serve(channel, expected, traced))


def run_once(loop: str, count: int, batch: int, *, traced: bool) -> Sample:
    """Open ``count`` associations to one server; the sample has the client's timing and,
    with ``traced``, the server's memory."""
    # Under emulation one association takes milliseconds; allow a generous time per one.
    timeout = STEP_TIMEOUT + count * 0.1
    name = f"{count} associations@{loop}"
    with Worker(f"{name} server", functools.partial(_server, loop, count, traced)) as server:
        port = server.message(STEP_TIMEOUT)
        client_main = functools.partial(_client, loop, count, batch)
        with Worker(f"{name} client", client_main, port) as client:
            opened = client.message(timeout)
            measured = server.message(timeout) if traced else {}
            client.send("close")
            client.result(timeout)
        server.send("stop")
        server.result(timeout)
    return {**opened, **measured}


def measure(settings: Settings) -> dict[str, Any]:
    """The setup rate on each loop (interleaved rounds), then memory at each count."""
    rate_contenders = [
        Contender(
            loop,
            functools.partial(
                run_once, loop, settings.setup_count, settings.setup_batch, traced=False
            ),
        )
        for loop in LOOPS
    ]
    setup = interleave(rate_contenders, settings.rounds, f"setup {settings.setup_count}")
    memory: dict[str, Sample] = {}
    for count in settings.association_counts:
        try:
            memory[str(count)] = run_once("asyncio", count, settings.setup_batch, traced=True)
        except WorkerError as exc:
            memory[str(count)] = {"error": str(exc)}
        log(f"memory {count}: {memory[str(count)]}")
    return {"setup": setup, "memory": memory}
