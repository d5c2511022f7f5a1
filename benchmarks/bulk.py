"""Bulk throughput: one sender streams messages of one size for a fixed time, one receiver
counts them; each side is a process of its own, as with iperf3.

Contenders, each with the settings of :mod:`benchmarks.common`:

- ``iperf3-sctp``: ``iperf3 --sctp -l SIZE -t SECONDS -N -w BUFFER`` (C, the baseline);
- ``sctpmh-protocol@LOOP``: the callback API (``open_protocol_association`` /
  ``create_protocol_server``), the fast path for throughput;
- ``sctpmh-coroutine@LOOP``: ``await Association.send`` / ``async for message in association``;
- ``tcp-protocol@LOOP`` and ``tcp-streams@LOOP``: asyncio TCP on the same loop, each message
  framed by a 4-byte length prefix and extracted as its own ``bytes`` at the receiver;
- ``pysctp-blocking``: a plain blocking pysctp loop, ``sctp_send`` per message and
  ``sctp_recv`` at the receiver (what users would otherwise write).

The receiver measures from its first message to its last; throughput is bytes over that time.
"""

from __future__ import annotations

import asyncio
import functools
import json
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Coroutine
from typing import Any, cast

import sctp

import sctpmh

from . import common
from .common import HOST, STEP_TIMEOUT, Backend, Tally
from .interleave import Contender, Sample, interleave, log
from .loops import LOOPS, run_on
from .settings import Settings
from .workers import Channel, Worker, WorkerError

#: The pysctp receiver's buffer: the largest message of the suite, as a user would size it.
PYSCTP_RECEIVE_SIZE = 64 * 1024

ASYNC_KINDS = ("sctpmh-protocol", "sctpmh-coroutine", "tcp-protocol", "tcp-streams")

SinkMain = Callable[[Channel, int], Coroutine[Any, Any, dict[str, Any]]]
SourceMain = Callable[[int, bytes, float], Coroutine[Any, Any, dict[str, Any]]]


# --- sctpmh, callback API --------------------------------------------------------------------


class _SinkProtocol(sctpmh.AssociationProtocol):
    def __init__(self, tally: Tally, done: asyncio.Future[Exception | None]) -> None:
        self._tally = tally
        self._done = done

    def message_received(self, message: sctpmh.Message) -> None:
        self._tally.add(len(message.data))

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._done.done():
            self._done.set_result(exc)


async def _sctpmh_protocol_sink(
    channel: Channel, size: int, backend: Backend = None
) -> dict[str, Any]:
    tally = Tally()
    done: asyncio.Future[Exception | None] = asyncio.get_running_loop().create_future()
    server = await sctpmh.create_protocol_server(
        lambda: _SinkProtocol(tally, done),
        [HOST],
        0,
        config=common.sctpmh_config(),
        backend=backend,
    )
    async with server:
        channel.tell(server.port)
        error = await done
    if error is not None:
        raise error
    return tally.summary()


class _SourceProtocol(sctpmh.AssociationProtocol):
    """Sends ``payload`` whenever the transport is not paused, until the deadline."""

    def __init__(self, payload: bytes, seconds: float, done: asyncio.Future[Exception | None]):
        self._payload = payload
        self._seconds = seconds
        self._done = done
        self._paused = False
        self._deadline = 0.0
        self.sent = 0
        self._transport: sctpmh.AssociationTransport | None = None

    def connection_made(self, transport: sctpmh.AssociationTransport) -> None:
        self._transport = transport
        self._deadline = time.perf_counter() + self._seconds
        self._pump()

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        self._pump()

    def _pump(self) -> None:
        transport = self._transport
        assert transport is not None
        payload, deadline, clock = self._payload, self._deadline, time.perf_counter
        while not self._paused and not transport.is_closing():
            if clock() >= deadline:
                transport.close()
                return
            transport.send(payload)
            self.sent += 1

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._done.done():
            self._done.set_result(exc)


async def _sctpmh_protocol_source(
    port: int, payload: bytes, seconds: float, backend: Backend = None
) -> dict[str, Any]:
    done: asyncio.Future[Exception | None] = asyncio.get_running_loop().create_future()
    _, protocol = await sctpmh.open_protocol_association(
        lambda: _SourceProtocol(payload, seconds, done),
        HOST,
        port,
        config=common.sctpmh_config(),
        backend=backend,
    )
    error = await done
    if error is not None:
        raise error
    return {"messages": protocol.sent}


# --- sctpmh, coroutine API -------------------------------------------------------------------


async def _sctpmh_coroutine_sink(
    channel: Channel, size: int, backend: Backend = None
) -> dict[str, Any]:
    tally = Tally()
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def count(association: sctpmh.Association) -> None:
        async for message in association:
            tally.add(len(message.data))
        done.set_result(None)

    server = await sctpmh.create_server(
        count, [HOST], 0, config=common.sctpmh_config(), backend=backend
    )
    async with server:
        channel.tell(server.port)
        await done
    return tally.summary()


async def _sctpmh_coroutine_source(
    port: int, payload: bytes, seconds: float, backend: Backend = None
) -> dict[str, Any]:
    sent = 0
    opening = sctpmh.open_association(HOST, port, config=common.sctpmh_config(), backend=backend)
    async with opening as association:
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            await association.send(payload)
            sent += 1
    return {"messages": sent}


# --- asyncio TCP with length-prefixed framing ------------------------------------------------


class _TcpSinkProtocol(asyncio.Protocol):
    def __init__(self, tally: Tally, done: asyncio.Future[Exception | None]) -> None:
        self._tally = tally
        self._done = done
        self._buffer = bytearray()

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        offset, available = 0, len(buffer)
        while available - offset >= common.FRAME_HEADER:
            start = offset + common.FRAME_HEADER
            end = start + int.from_bytes(buffer[offset:start], "big")
            if end > available:
                break
            message = bytes(buffer[start:end])
            self._tally.add(len(message))
            offset = end
        del buffer[:offset]

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._done.done():
            self._done.set_result(exc)


async def _tcp_protocol_sink(channel: Channel, size: int) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    tally = Tally()
    done: asyncio.Future[Exception | None] = loop.create_future()
    server = await loop.create_server(
        lambda: _TcpSinkProtocol(tally, done), sock=common.tcp_listener()
    )
    async with server:
        channel.tell(server.sockets[0].getsockname()[1])
        error = await done
    if error is not None:
        raise error
    return tally.summary()


class _TcpSourceProtocol(asyncio.Protocol):
    def __init__(self, payload: bytes, seconds: float, done: asyncio.Future[Exception | None]):
        self._payload = payload
        self._seconds = seconds
        self._done = done
        self._paused = False
        self._deadline = 0.0
        self.sent = 0
        self._transport: asyncio.WriteTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not subclass asyncio's; the interface is the same.
        self._transport = cast(asyncio.WriteTransport, transport)
        self._deadline = time.perf_counter() + self._seconds
        self._pump()

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        self._pump()

    def _pump(self) -> None:
        transport = self._transport
        assert transport is not None
        payload, deadline, clock = self._payload, self._deadline, time.perf_counter
        while not self._paused and not transport.is_closing():
            if clock() >= deadline:
                transport.close()
                return
            transport.write(common.frame(payload))
            self.sent += 1

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._done.done():
            self._done.set_result(exc)


async def _tcp_protocol_source(port: int, payload: bytes, seconds: float) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    done: asyncio.Future[Exception | None] = loop.create_future()
    sock = common.tcp_socket()
    await loop.sock_connect(sock, (HOST, port))
    _, protocol = await loop.create_connection(
        lambda: _TcpSourceProtocol(payload, seconds, done), sock=sock
    )
    error = await done
    if error is not None:
        raise error
    return {"messages": protocol.sent}


async def _tcp_streams_sink(channel: Channel, size: int) -> dict[str, Any]:
    tally = Tally()
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def count(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                header = await reader.readexactly(common.FRAME_HEADER)
                message = await reader.readexactly(int.from_bytes(header, "big"))
                tally.add(len(message))
        except asyncio.IncompleteReadError:
            pass
        # Wait for the transport to finish closing before the loop goes away (else
        # asyncio 3.11 reports a second connection_lost on a transport it already dropped).
        writer.close()
        await writer.wait_closed()
        done.set_result(None)

    server = await asyncio.start_server(count, sock=common.tcp_listener())
    async with server:
        channel.tell(server.sockets[0].getsockname()[1])
        await done
    return tally.summary()


async def _tcp_streams_source(port: int, payload: bytes, seconds: float) -> dict[str, Any]:
    sock = common.tcp_socket()
    await asyncio.get_running_loop().sock_connect(sock, (HOST, port))
    _, writer = await asyncio.open_connection(sock=sock)
    sent = 0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        writer.write(common.frame(payload))
        await writer.drain()
        sent += 1
    writer.close()
    await writer.wait_closed()
    return {"messages": sent}


SINKS: dict[str, SinkMain] = {
    "sctpmh-protocol": _sctpmh_protocol_sink,
    "sctpmh-coroutine": _sctpmh_coroutine_sink,
    "tcp-protocol": _tcp_protocol_sink,
    "tcp-streams": _tcp_streams_sink,
}
SOURCES: dict[str, SourceMain] = {
    "sctpmh-protocol": _sctpmh_protocol_source,
    "sctpmh-coroutine": _sctpmh_coroutine_source,
    "tcp-protocol": _tcp_protocol_source,
    "tcp-streams": _tcp_streams_source,
}


# --- blocking pysctp -------------------------------------------------------------------------


def pysctp_socket() -> Any:
    """A blocking pysctp one-to-one socket with the shared settings."""
    sock = sctp.sctpsocket_tcp(socket.AF_INET)
    common.set_buffers(sock)
    sock.set_nodelay(True)
    return sock


def _pysctp_sink(channel: Channel, size: int) -> dict[str, Any]:
    tally = Tally()
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
        tally.add(len(data))
    connection.close()
    listener.close()
    return tally.summary()


def _pysctp_source(channel: Channel, port: int, payload: bytes, seconds: float) -> dict[str, Any]:
    sock = pysctp_socket()
    sock.connect((HOST, port))
    sent = 0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        sock.sctp_send(payload, ppid=0, stream=0)
        sent += 1
    sock.close()
    return {"messages": sent}


# --- iperf3 ----------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def iperf3_run(size: int, seconds: float) -> Sample:
    """One iperf3 --sctp run; iperf3 takes whole seconds (at least 1)."""
    whole = max(1, round(seconds))
    port = _free_port()
    server = subprocess.Popen(
        ["iperf3", "-s", "-1", "-J", "-B", HOST, "-p", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        client_command = ["iperf3", "-c", HOST, "-p", str(port), "--sctp", "-l", str(size)]
        client_command += ["-t", str(whole), "-N", "-w", str(common.BUFFER_SIZE), "-J"]
        for _ in range(50):  # the server needs a moment before it listens
            client = subprocess.run(
                client_command, capture_output=True, text=True, timeout=whole + STEP_TIMEOUT
            )
            report = json.loads(client.stdout or "{}")
            if "unable to connect" not in report.get("error", ""):
                break
            time.sleep(0.1)
        if "error" in report or client.returncode != 0:
            raise WorkerError(f"iperf3 failed: {report.get('error') or client.stderr.strip()}")
        received = report["end"]["sum_received"]
        return {
            "bytes": int(received["bytes"]),
            "messages": int(received["bytes"]) // size,
            "seconds": float(received["seconds"]),
            "iperf3_protocol": report["start"]["test_start"]["protocol"],
        }
    finally:
        try:
            server.wait(STEP_TIMEOUT)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


# --- running ---------------------------------------------------------------------------------


def run_pair(
    name: str, sink: Callable[[Channel], Any], source: Callable[[Channel, int], Any], seconds: float
) -> Sample:
    """Start the receiver, then the sender; the sample is the receiver's count plus what the
    sender says it sent."""
    timeout = seconds + STEP_TIMEOUT
    with Worker(f"{name} receiver", sink) as receiver:
        port = receiver.message(STEP_TIMEOUT)
        with Worker(f"{name} sender", source, port) as sender:
            sent = sender.result(timeout)
            received = receiver.result(timeout)
    if received["seconds"] <= 0:
        raise WorkerError(f"{name}: fewer than two messages arrived ({received})")
    return {**received, "sent_messages": sent["messages"]}


def _async_contender(kind: str, loop: str, size: int, seconds: float) -> Contender:
    payload = bytes(size)
    sink_main, source_main = SINKS[kind], SOURCES[kind]

    def sink(channel: Channel) -> dict[str, Any]:
        return run_on(loop, lambda: sink_main(channel, size))

    def source(channel: Channel, port: int) -> dict[str, Any]:
        return run_on(loop, lambda: source_main(port, payload, seconds))

    name = f"{kind}@{loop}"
    return Contender(name, functools.partial(run_pair, name, sink, source, seconds))


def contenders(size: int, seconds: float) -> list[Contender]:
    """Every bulk contender for one message size."""
    result = [Contender("iperf3-sctp", functools.partial(iperf3_run, size, seconds))]
    for loop in LOOPS:
        result += [_async_contender(kind, loop, size, seconds) for kind in ASYNC_KINDS]
    payload = bytes(size)
    result.append(
        Contender(
            "pysctp-blocking",
            functools.partial(
                run_pair,
                "pysctp-blocking",
                functools.partial(_pysctp_sink, size=size),
                lambda channel, port: _pysctp_source(channel, port, payload, seconds),
                seconds,
            ),
        )
    )
    return result


def measure(settings: Settings) -> dict[str, Any]:
    """Every size, every contender, interleaved over ``settings.rounds`` rounds."""
    if shutil.which("iperf3") is None:
        log("iperf3 is not installed: the C baseline will be missing (benchmarks/run installs it)")
    results: dict[str, Any] = {}
    for size in settings.bulk_sizes:
        samples = interleave(
            contenders(size, settings.bulk_seconds), settings.rounds, f"bulk {size} B"
        )
        results[str(size)] = samples
    return results
