"""aiortc's pure-Python SCTP association as a contender: two ``RTCSctpTransport`` objects, one
per process, joined over real UDP on loopback with no DTLS in between.

aiortc's own tests (tests/test_rtcsctptransport.py) pair two transports over an in-memory
DTLS pair; here the "DTLS transport" under each one is :class:`_PlainUdpTransport`, the few
members ``RTCSctpTransport`` uses (``state``, ``_role``, ``_register_data_receiver``,
``_send_data``) over a UDP socket, with no encryption, so that what is measured is aiortc's
SCTP (its codec, congestion control, SACKs) and its data channels, the API its users call,
against sctpmh's udp backend over the same loopback. As in aiortc's DTLS transport, received
packets are handed to ``RTCSctpTransport._handle_data`` one at a time, in order.

Messages go over one pre-negotiated, ordered, reliable data channel (no DCEP round trip), as
binary (PPID 53). aiortc is untyped: everything it touches stays in this module.
"""

from __future__ import annotations

import asyncio
import functools
import time
from typing import Any, cast

from .common import HOST, Tally
from .workers import Channel

#: The SCTP port both sides use (aiortc's default, as in SDP's a=sctp-port).
SCTP_PORT = 5000
#: The bulk sender keeps at most this much queued in the data channel.
HIGH_WATER = 256 * 1024
_LOW_WATER = HIGH_WATER // 4


class _PlainUdpTransport(asyncio.DatagramProtocol):
    """What RTCSctpTransport needs of its RTCDtlsTransport, over plain UDP."""

    state = "connected"

    def __init__(self, role: str) -> None:
        self._role = role
        self._receiver: Any = None
        self._udp: asyncio.DatagramTransport | None = None
        self.peer: tuple[str, int] | None = None
        self._queue: asyncio.Queue[bytes] = asyncio.Queue()
        self.first_packet: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._reader: asyncio.Task[None] | None = None

    # asyncio's side

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._udp = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None:
        if self.peer is None:
            self.peer = (str(addr[0]), int(addr[1]))
            if not self.first_packet.done():
                self.first_packet.set_result(None)
        self._queue.put_nowait(data)

    # aiortc's side

    def _register_data_receiver(self, receiver: Any) -> None:
        self._receiver = receiver
        self._reader = asyncio.ensure_future(self._read())

    def _unregister_data_receiver(self, receiver: Any) -> None:
        self._receiver = None
        if self._reader is not None:
            self._reader.cancel()

    async def _send_data(self, data: bytes) -> None:
        if self._udp is not None and self.peer is not None:
            self._udp.sendto(data, self.peer)

    async def _read(self) -> None:
        while True:
            data = await self._queue.get()
            if self._receiver is not None:
                await self._receiver._handle_data(data)

    @property
    def port(self) -> int:
        assert self._udp is not None
        port: int = self._udp.get_extra_info("sockname")[1]
        return port


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


async def _bound(role: str) -> _PlainUdpTransport:
    """A UDP socket on loopback, kernel-chosen port, for one side."""
    plain = _PlainUdpTransport(role)
    await asyncio.get_running_loop().create_datagram_endpoint(lambda: plain, local_addr=(HOST, 0))
    return plain


async def _start(plain: _PlainUdpTransport, channel: Channel | None) -> tuple[Any, Any]:
    """Start an RTCSctpTransport on ``plain`` and open the data channel; the server (with
    ``channel``) starts once the client's first packet shows where the client is."""
    from aiortc import RTCDataChannel, RTCDataChannelParameters, RTCSctpTransport

    if channel is not None:
        channel.tell(plain.port)
        await plain.first_packet
    # Duck-typed: the members of RTCDtlsTransport that RTCSctpTransport uses.
    sctp = RTCSctpTransport(cast(Any, plain), port=SCTP_PORT)
    data_channel = RTCDataChannel(
        sctp, RTCDataChannelParameters(label="bench", negotiated=True, id=1, ordered=True)
    )
    opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    data_channel.on("open", functools.partial(_settle, opened))
    await sctp.start(RTCSctpTransport.getCapabilities(), SCTP_PORT)
    if data_channel.readyState != "open":
        await opened
    return sctp, data_channel


async def _server(channel: Channel, on_message: Any) -> asyncio.Future[None]:
    """The server side; the future is done when the client has closed the association."""
    plain = await _bound("server")
    closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    sctp, data_channel = await _start(plain, channel)
    data_channel.on("close", functools.partial(_settle, closed))

    def received(message: bytes) -> None:
        if message == _END:
            # Ordered delivery: everything sent before the marker has arrived.
            data_channel.send(_END)
        else:
            on_message(data_channel, message)

    data_channel.on("message", received)
    await closed
    await sctp.stop()
    return closed


async def _client(port: int) -> tuple[Any, Any, asyncio.Queue[bytes]]:
    plain = await _bound("client")
    plain.peer = (HOST, port)
    sctp, data_channel = await _start(plain, None)
    replies: asyncio.Queue[bytes] = asyncio.Queue()
    data_channel.on("message", replies.put_nowait)
    return sctp, data_channel, replies


async def _finish(sctp: Any, data_channel: Any, replies: asyncio.Queue[bytes]) -> None:
    """Send the end marker, wait for the server to send it back, and end the association
    (aiortc has no graceful shutdown: stop() aborts, which the server waits for)."""
    data_channel.send(_END)
    while await replies.get() != _END:
        pass
    await sctp.stop()


#: The client's last message; the server sends it back.
_END = b"end"


# --- echo ------------------------------------------------------------------------------------


async def echo_server(channel: Channel) -> dict[str, Any]:
    """Echo every message back until the client ends the association."""
    echoed = 0

    def on_message(data_channel: Any, message: bytes) -> None:
        nonlocal echoed
        data_channel.send(message)
        echoed += 1

    await _server(channel, on_message)
    return {"echoed": echoed}


async def echo_client(port: int, clock: Any) -> None:
    """One message, wait for it to come back, the next (``clock`` is an echo.Clock)."""
    sctp, data_channel, replies = await _client(port)
    clock.start()
    payload, going = clock.payload, True
    while going:
        sent_at = time.perf_counter_ns()
        data_channel.send(payload)
        await replies.get()
        going = clock.record(sent_at, time.perf_counter_ns())
    await _finish(sctp, data_channel, replies)


# --- bulk ------------------------------------------------------------------------------------


async def bulk_sink(channel: Channel, size: int) -> dict[str, Any]:
    """Count every message until the client ends the association."""
    tally = Tally()
    await _server(channel, lambda data_channel, message: tally.add(len(message)))
    return tally.summary()


async def bulk_source(port: int, payload: bytes, seconds: float) -> dict[str, Any]:
    """Keep the data channel's buffer between the water marks until the deadline."""
    sctp, data_channel, replies = await _client(port)
    data_channel.bufferedAmountLowThreshold = _LOW_WATER
    low = asyncio.Event()
    data_channel.on("bufferedamountlow", low.set)
    sent = 0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        while data_channel.bufferedAmount < HIGH_WATER:
            data_channel.send(payload)
            sent += 1
        low.clear()
        await low.wait()
    await _finish(sctp, data_channel, replies)
    return {"messages": sent}
