"""sctpmh's backends side by side: 1 KiB echo round trips and 16 KiB bulk throughput, the
same client and server code (:mod:`benchmarks.echo`, :mod:`benchmarks.bulk`) on each backend.

Two runs, each with its contenders interleaved (:mod:`benchmarks.interleave`):

- In the lab (family ``backends`` of ``python -m benchmarks measure``, under a kernel with
  SCTP): ``kernel-protocol`` / ``kernel-coroutine`` (kernel SCTP sockets) against
  ``udp-protocol`` / ``udp-coroutine`` (the userspace stack over UDP on loopback, RFC 6951).
- On the host (``python -m benchmarks userspace``, no kernel SCTP needed): ``udp-protocol``,
  ``udp-coroutine``, ``memory-protocol`` (the same stack over the in-process network: client
  and server in one process, so no socket and no second process; a reference for what the UDP
  sockets cost) and ``aiortc`` (aiortc's pure-Python SCTP association, see
  :mod:`benchmarks.aiortc_sctp`).

``-protocol`` is the callback API, ``-coroutine`` ``await send`` / ``async for``. Every
contender runs on the default asyncio loop (aiortc supports no other), with the settings of
:mod:`benchmarks.common`. Each udp pair gets two free UDP ports of its own (the server's and
the client's ``UdpBackend(port=..., remote_port=...)``), so nothing else on the machine that
uses UDP port 9899 is in the way.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable, Coroutine
from typing import Any

from sctpmh.userspace.udp import UdpBackend

from . import aiortc_sctp, bulk, echo
from .common import HOST, Backend
from .interleave import Contender, interleave
from .loops import run_on
from .settings import Settings
from .workers import Channel

ECHO_SIZE = 1024
BULK_SIZE = 16 * 1024

#: Contenders of the lab run and of the host run.
LAB_KINDS = ("kernel-protocol", "udp-protocol", "kernel-coroutine", "udp-coroutine")
HOST_KINDS = ("udp-protocol", "udp-coroutine", "memory-protocol", "aiortc")

_API = {"protocol": "sctpmh-protocol", "coroutine": "sctpmh-coroutine"}


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def _backends(backend: str) -> tuple[Callable[[], Backend], Callable[[], Backend]]:
    """Makers of the server's and the client's backend (made in the worker that uses it)."""
    if backend != "udp":
        return (lambda: backend), (lambda: backend)
    server_port, client_port = _free_udp_port(), _free_udp_port()
    while client_port == server_port:
        client_port = _free_udp_port()
    return (
        lambda: UdpBackend(port=server_port, remote_port=client_port),
        lambda: UdpBackend(port=client_port, remote_port=server_port),
    )


class _InProcess(Channel):
    """A channel for a server that runs in the same process as its client (the memory
    backend): what the server tells resolves a future."""

    def __init__(self) -> None:
        self.told: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

    def tell(self, value: Any) -> None:
        if not self.told.done():
            self.told.set_result(value)


async def _together(
    server: Callable[[Channel], Coroutine[Any, Any, dict[str, Any]]],
    client: Callable[[int], Coroutine[Any, Any, dict[str, Any]]],
) -> dict[str, Any]:
    """Server and client on one loop; the server's result, with the client's under "client"."""
    channel = _InProcess()
    serving = asyncio.ensure_future(server(channel))
    port = await asyncio.wait_for(asyncio.shield(channel.told), 60)
    client_result = await client(port)
    result = await asyncio.wait_for(serving, 60)
    return {**result, "client": client_result}


# --- echo ------------------------------------------------------------------------------------


def _echo_contender(kind: str, settings: Settings) -> Contender:
    backend, _, api = kind.partition("-")
    if backend == "aiortc":
        server_main: Callable[..., Coroutine[Any, Any, dict[str, Any]]] = aiortc_sctp.echo_server
        client_main: Callable[..., Coroutine[Any, Any, None]] = aiortc_sctp.echo_client
    else:
        server_main, client_main = echo.SERVERS[_API[api]], echo.CLIENTS[_API[api]]
    payload = bytes(ECHO_SIZE)

    def clock() -> echo.Clock:
        return echo.Clock(payload, settings.echo_seconds, settings.echo_warmup_seconds)

    def run() -> dict[str, Any]:
        make_server, make_client = _backends(backend)
        extra: Callable[[Callable[[], Backend]], dict[str, Any]] = (
            (lambda _: {}) if backend == "aiortc" else (lambda make: {"backend": make()})
        )
        if backend == "memory":
            return _echo_in_process(server_main, client_main, clock)

        def server(channel: Channel) -> dict[str, Any]:
            return run_on("asyncio", lambda: server_main(channel, **extra(make_server)))

        def client(channel: Channel, port: int) -> dict[str, Any]:
            measured = clock()
            run_on("asyncio", lambda: client_main(port, measured, **extra(make_client)))
            return measured.summary()

        return echo.run_pair(kind, server, client, settings.echo_seconds)

    return Contender(kind, run)


def _echo_in_process(
    server_main: Callable[..., Coroutine[Any, Any, dict[str, Any]]],
    client_main: Callable[..., Coroutine[Any, Any, None]],
    clock: Callable[[], echo.Clock],
) -> dict[str, Any]:
    measured = clock()

    async def client(port: int) -> dict[str, Any]:
        await client_main(port, measured, backend="memory")
        return {}

    run_on(
        "asyncio",
        lambda: _together(lambda channel: server_main(channel, backend="memory"), client),
    )
    return measured.summary()


# --- bulk ------------------------------------------------------------------------------------


def _bulk_contender(kind: str, settings: Settings) -> Contender:
    backend, _, api = kind.partition("-")
    seconds = settings.bulk_seconds
    payload = bytes(BULK_SIZE)
    if backend == "aiortc":
        sink_main: Callable[..., Coroutine[Any, Any, dict[str, Any]]] = aiortc_sctp.bulk_sink
        source_main: Callable[..., Coroutine[Any, Any, dict[str, Any]]] = aiortc_sctp.bulk_source
    else:
        sink_main, source_main = bulk.SINKS[_API[api]], bulk.SOURCES[_API[api]]

    def run() -> dict[str, Any]:
        make_server, make_client = _backends(backend)
        if backend == "memory":
            return _bulk_in_process(sink_main, source_main, payload, seconds)
        extra: Callable[[Callable[[], Backend]], dict[str, Any]] = (
            (lambda _: {}) if backend == "aiortc" else (lambda make: {"backend": make()})
        )

        def sink(channel: Channel) -> dict[str, Any]:
            return run_on("asyncio", lambda: sink_main(channel, BULK_SIZE, **extra(make_server)))

        def source(channel: Channel, port: int) -> dict[str, Any]:
            return run_on(
                "asyncio", lambda: source_main(port, payload, seconds, **extra(make_client))
            )

        return bulk.run_pair(kind, sink, source, seconds)

    return Contender(kind, run)


def _bulk_in_process(
    sink_main: Callable[..., Coroutine[Any, Any, dict[str, Any]]],
    source_main: Callable[..., Coroutine[Any, Any, dict[str, Any]]],
    payload: bytes,
    seconds: float,
) -> dict[str, Any]:
    async def source(port: int) -> dict[str, Any]:
        return await source_main(port, payload, seconds, backend="memory")

    result = run_on(
        "asyncio",
        lambda: _together(lambda channel: sink_main(channel, BULK_SIZE, backend="memory"), source),
    )
    sent = result.pop("client")
    return {**result, "sent_messages": sent["messages"]}


# --- running ---------------------------------------------------------------------------------


def measure_kinds(kinds: tuple[str, ...], settings: Settings) -> dict[str, Any]:
    """Echo 1 KiB and bulk 16 KiB of every contender in ``kinds``, each interleaved over
    ``settings.rounds`` rounds; raw samples in the shape of the echo and bulk families."""
    echo_samples = interleave(
        [_echo_contender(kind, settings) for kind in kinds], settings.rounds, "backends echo"
    )
    bulk_samples = interleave(
        [_bulk_contender(kind, settings) for kind in kinds], settings.rounds, "backends bulk"
    )
    return {"echo": {str(ECHO_SIZE): echo_samples}, "bulk": {str(BULK_SIZE): bulk_samples}}


def measure(settings: Settings) -> dict[str, Any]:
    """The lab run: the kernel backend against the udp backend."""
    return measure_kinds(LAB_KINDS, settings)
