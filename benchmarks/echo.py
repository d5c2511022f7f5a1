"""Echo round trips at 1 KiB: one client sends a message, waits for it to come back, sends the
next; round trips per second and the latency distribution (p50, p99). Client and server are
processes of their own.

Contenders (settings of :mod:`benchmarks.common`): ``sctpmh-coroutine@LOOP`` (``await send``
then ``await recv``, the server an ``async for`` handler), ``sctpmh-protocol@LOOP`` (callbacks
on both sides), ``tcp-streams@LOOP`` and ``tcp-protocol@LOOP`` (asyncio TCP on the same loop,
4-byte length prefix), and ``pysctp-blocking`` (``sctp_send`` / ``sctp_recv`` loops).
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable, Coroutine
from typing import Any, cast

import sctp

import sctpmh

from . import common, stats
from .bulk import PYSCTP_RECEIVE_SIZE, pysctp_socket
from .common import HOST, STEP_TIMEOUT, Backend
from .interleave import Contender, Sample, interleave
from .loops import LOOPS, run_on
from .settings import Settings
from .workers import Channel, Worker, last_cpu

ASYNC_KINDS = ("sctpmh-coroutine", "sctpmh-protocol", "tcp-streams", "tcp-protocol")

ServerMain = Callable[[Channel], Coroutine[Any, Any, dict[str, Any]]]
ClientMain = Callable[[int, "Clock"], Coroutine[Any, Any, None]]


class Clock:
    """Times round trips: those in the warm-up are dropped, the rest kept (nanoseconds)."""

    def __init__(self, payload: bytes, seconds: float, warmup: float) -> None:
        self.payload = payload
        self._warmup_ns = int(warmup * 1e9)
        self._seconds_ns = int(seconds * 1e9)
        self._counting_from = 0
        self._deadline = 0
        self._first = 0
        self._last = 0
        self.latencies: list[int] = []

    def start(self) -> None:
        """Start the clock (once connected): the warm-up, then the measured time."""
        self._counting_from = time.perf_counter_ns() + self._warmup_ns
        self._deadline = self._counting_from + self._seconds_ns

    def record(self, sent_at: int, now: int) -> bool:
        """Record one round trip; False once the time is up."""
        if sent_at >= self._counting_from:
            if not self.latencies:
                self._first = sent_at
            self.latencies.append(now - sent_at)
            self._last = now
        return now < self._deadline

    def summary(self) -> dict[str, Any]:
        micros = [n / 1000 for n in self.latencies]
        seconds = (self._last - self._first) / 1e9
        return {
            "round_trips": len(micros),
            "seconds": seconds,
            "p50_us": stats.quantile(micros, 0.5),
            "p99_us": stats.quantile(micros, 0.99),
            "percentiles_us": [round(v, 1) for v in stats.percentiles(micros)],
        }


# --- sctpmh ----------------------------------------------------------------------------------


async def _sctpmh_coroutine_server(channel: Channel, backend: Backend = None) -> dict[str, Any]:
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    echoed = 0

    async def echo(association: sctpmh.Association) -> None:
        nonlocal echoed
        async for message in association:
            await association.send(message.data, stream=message.stream, ppid=message.ppid)
            echoed += 1
        done.set_result(None)

    server = await sctpmh.create_server(
        echo, [HOST], 0, config=common.sctpmh_config(), backend=backend
    )
    async with server:
        channel.tell(server.port)
        await done
    return {"echoed": echoed}


async def _sctpmh_coroutine_client(port: int, clock: Clock, backend: Backend = None) -> None:
    opening = sctpmh.open_association(HOST, port, config=common.sctpmh_config(), backend=backend)
    async with opening as association:
        clock.start()
        payload, going = clock.payload, True
        while going:
            sent_at = time.perf_counter_ns()
            await association.send(payload)
            await association.recv()
            going = clock.record(sent_at, time.perf_counter_ns())


class _EchoProtocol(sctpmh.AssociationProtocol):
    def __init__(self, done: asyncio.Future[None]) -> None:
        self._done = done
        self._transport: sctpmh.AssociationTransport | None = None

    def connection_made(self, transport: sctpmh.AssociationTransport) -> None:
        self._transport = transport

    def message_received(self, message: sctpmh.Message) -> None:
        assert self._transport is not None
        self._transport.send(message.data, stream=message.stream, ppid=message.ppid)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._done.done():
            self._done.set_result(None)


async def _sctpmh_protocol_server(channel: Channel, backend: Backend = None) -> dict[str, Any]:
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    server = await sctpmh.create_protocol_server(
        lambda: _EchoProtocol(done), [HOST], 0, config=common.sctpmh_config(), backend=backend
    )
    async with server:
        channel.tell(server.port)
        await done
    return {}


class _PingProtocol(sctpmh.AssociationProtocol):
    """Sends the next message from the callback that received the previous one."""

    def __init__(self, clock: Clock, done: asyncio.Future[None]) -> None:
        self._clock = clock
        self._done = done
        self._sent_at = 0
        self._transport: sctpmh.AssociationTransport | None = None

    def connection_made(self, transport: sctpmh.AssociationTransport) -> None:
        self._transport = transport
        self._clock.start()
        self._sent_at = time.perf_counter_ns()
        transport.send(self._clock.payload)

    def message_received(self, message: sctpmh.Message) -> None:
        transport = self._transport
        assert transport is not None
        now = time.perf_counter_ns()
        if self._clock.record(self._sent_at, now):
            self._sent_at = time.perf_counter_ns()
            transport.send(self._clock.payload)
        else:
            transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._done.done():
            self._done.set_result(None)


async def _sctpmh_protocol_client(port: int, clock: Clock, backend: Backend = None) -> None:
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    await sctpmh.open_protocol_association(
        lambda: _PingProtocol(clock, done),
        HOST,
        port,
        config=common.sctpmh_config(),
        backend=backend,
    )
    await done


# --- asyncio TCP -----------------------------------------------------------------------------


async def _tcp_streams_server(channel: Channel) -> dict[str, Any]:
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                header = await reader.readexactly(common.FRAME_HEADER)
                message = await reader.readexactly(int.from_bytes(header, "big"))
                writer.write(common.frame(message))
                await writer.drain()
        except asyncio.IncompleteReadError:
            pass
        # Wait for the transport to finish closing before the loop goes away (else
        # asyncio 3.11 reports a second connection_lost on a transport it already dropped).
        writer.close()
        await writer.wait_closed()
        done.set_result(None)

    server = await asyncio.start_server(echo, sock=common.tcp_listener())
    async with server:
        channel.tell(server.sockets[0].getsockname()[1])
        await done
    return {}


async def _tcp_streams_client(port: int, clock: Clock) -> None:
    sock = common.tcp_socket()
    await asyncio.get_running_loop().sock_connect(sock, (HOST, port))
    reader, writer = await asyncio.open_connection(sock=sock)
    clock.start()
    payload, going = clock.payload, True
    while going:
        sent_at = time.perf_counter_ns()
        writer.write(common.frame(payload))
        await writer.drain()
        header = await reader.readexactly(common.FRAME_HEADER)
        await reader.readexactly(int.from_bytes(header, "big"))
        going = clock.record(sent_at, time.perf_counter_ns())
    writer.close()
    await writer.wait_closed()


class _TcpFramer(asyncio.Protocol):
    """Splits the byte stream into length-prefixed messages for ``on_message``."""

    def __init__(self, done: asyncio.Future[None]) -> None:
        self._done = done
        self._buffer = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not subclass asyncio's; the interface is the same.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        offset, available = 0, len(buffer)
        while available - offset >= common.FRAME_HEADER:
            start = offset + common.FRAME_HEADER
            end = start + int.from_bytes(buffer[offset:start], "big")
            if end > available:
                break
            self.on_message(bytes(buffer[start:end]))
            offset = end
        del buffer[:offset]

    def on_message(self, message: bytes) -> None:
        assert self.transport is not None
        self.transport.write(common.frame(message))

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._done.done():
            self._done.set_result(None)


class _TcpPing(_TcpFramer):
    def __init__(self, clock: Clock, done: asyncio.Future[None]) -> None:
        super().__init__(done)
        self._clock = clock
        self._sent_at = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        assert self.transport is not None
        self._clock.start()
        self._sent_at = time.perf_counter_ns()
        self.transport.write(common.frame(self._clock.payload))

    def on_message(self, message: bytes) -> None:
        assert self.transport is not None
        if self._clock.record(self._sent_at, time.perf_counter_ns()):
            self._sent_at = time.perf_counter_ns()
            self.transport.write(common.frame(self._clock.payload))
        else:
            self.transport.close()


async def _tcp_protocol_server(channel: Channel) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()
    server = await loop.create_server(lambda: _TcpFramer(done), sock=common.tcp_listener())
    async with server:
        channel.tell(server.sockets[0].getsockname()[1])
        await done
    return {}


async def _tcp_protocol_client(port: int, clock: Clock) -> None:
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()
    sock = common.tcp_socket()
    await loop.sock_connect(sock, (HOST, port))
    await loop.create_connection(lambda: _TcpPing(clock, done), sock=sock)
    await done


SERVERS: dict[str, ServerMain] = {
    "sctpmh-coroutine": _sctpmh_coroutine_server,
    "sctpmh-protocol": _sctpmh_protocol_server,
    "tcp-streams": _tcp_streams_server,
    "tcp-protocol": _tcp_protocol_server,
}
CLIENTS: dict[str, ClientMain] = {
    "sctpmh-coroutine": _sctpmh_coroutine_client,
    "sctpmh-protocol": _sctpmh_protocol_client,
    "tcp-streams": _tcp_streams_client,
    "tcp-protocol": _tcp_protocol_client,
}


# --- blocking pysctp -------------------------------------------------------------------------


def _pysctp_server(channel: Channel) -> dict[str, Any]:
    listener = pysctp_socket()
    listener.bind((HOST, 0))
    listener.listen(1)
    channel.tell(listener.getsockname()[1])
    connection, _ = listener.accept()
    while True:
        _, flags, data, _ = connection.sctp_recv(PYSCTP_RECEIVE_SIZE)
        if flags & sctp.FLAG_NOTIFICATION:
            continue
        if not data:
            break
        connection.sctp_send(data, ppid=0, stream=0)
    connection.close()
    listener.close()
    return {}


def _pysctp_client(channel: Channel, port: int, clock: Clock) -> dict[str, Any]:
    sock = pysctp_socket()
    sock.connect((HOST, port))
    clock.start()
    going = True
    while going:
        sent_at = time.perf_counter_ns()
        sock.sctp_send(clock.payload, ppid=0, stream=0)
        while True:
            _, flags, _, _ = sock.sctp_recv(PYSCTP_RECEIVE_SIZE)
            if not flags & sctp.FLAG_NOTIFICATION:
                break
        going = clock.record(sent_at, time.perf_counter_ns())
    sock.close()
    return clock.summary()


# --- running ---------------------------------------------------------------------------------


def run_pair(
    name: str,
    server: Callable[[Channel], dict[str, Any]],
    client: Callable[[Channel, int], dict[str, Any]],
    seconds: float,
) -> Sample:
    """Start the server, then the client; the sample is the client's measurement.

    Both run on the same CPU. One round trip at a time leaves nothing to run in parallel, and
    under the lab's emulation a wake-up sent to the other virtual CPU waits for the host to
    schedule that CPU's thread (milliseconds when the host is busy), which would swamp what is
    measured."""
    cpu = last_cpu()
    with Worker(f"{name} server", server, cpu=cpu) as server_worker:
        port = server_worker.message(STEP_TIMEOUT)
        with Worker(f"{name} client", client, port, cpu=cpu) as client_worker:
            sample = client_worker.result(seconds + STEP_TIMEOUT)
        server_worker.result(STEP_TIMEOUT)
    return sample


def _async_contender(kind: str, loop: str, settings: Settings) -> Contender:
    server_main, client_main = SERVERS[kind], CLIENTS[kind]

    def server(channel: Channel) -> dict[str, Any]:
        return run_on(loop, lambda: server_main(channel))

    def client(channel: Channel, port: int) -> dict[str, Any]:
        clock = _clock(settings)
        run_on(loop, lambda: client_main(port, clock))
        return clock.summary()

    name = f"{kind}@{loop}"
    return Contender(name, functools.partial(run_pair, name, server, client, settings.echo_seconds))


def _clock(settings: Settings) -> Clock:
    payload = bytes(settings.echo_size)
    return Clock(payload, settings.echo_seconds, settings.echo_warmup_seconds)


def contenders(settings: Settings) -> list[Contender]:
    """Every echo contender."""
    result = [_async_contender(kind, loop, settings) for loop in LOOPS for kind in ASYNC_KINDS]
    result.append(
        Contender(
            "pysctp-blocking",
            functools.partial(
                run_pair,
                "pysctp-blocking",
                _pysctp_server,
                lambda channel, port: _pysctp_client(channel, port, _clock(settings)),
                settings.echo_seconds,
            ),
        )
    )
    return result


def measure(settings: Settings) -> dict[str, Any]:
    """Every echo contender, interleaved over ``settings.rounds`` rounds."""
    label = f"echo {settings.echo_size} B"
    return {str(settings.echo_size): interleave(contenders(settings), settings.rounds, label)}
