"""A hand-driven SCTP-over-UDP peer for the hostile-input tests: plain UDP sockets on
loopback that send packets built with the core's own codec (or raw bytes) to a live
``backend="udp"`` endpoint and read what comes back.

No SCTP stack is behind these sockets: every reply a test checks is what the endpoint put on
the wire.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

import sctpmh
from sctpmh.core.chunks import Chunk, InitAckChunk, InitChunk
from sctpmh.core.packet import Packet, build_packet, decode_packet
from sctpmh.core.params import ParamType
from sctpmh.userspace.endpoint import UserspaceEndpoint
from sctpmh.userspace.udp import UdpBackend

SERVER_HOST = "127.0.0.1"
#: How long a test waits for a reply that must come (generous: the machine is shared).
REPLY_WAIT = 10.0
#: How long a test listens for a reply that must not come.
SILENCE = 0.5


def free_udp_port() -> int:
    """A UDP port free on loopback now (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind((SERVER_HOST, 0))
        return int(probe.getsockname()[1])


def init_chunk(tag: int, tsn: int = 1, streams: int = 10) -> InitChunk:
    """An INIT as a client would send it (RFC 9260 section 3.3.2)."""
    return InitChunk(
        initiate_tag=tag,
        a_rwnd=65535,
        outbound_streams=streams,
        inbound_streams=streams,
        initial_tsn=tsn,
    )


def cookie_of(ack: InitAckChunk) -> bytes:
    """The State Cookie parameter of an INIT ACK."""
    for param in ack.params:
        if param.type == ParamType.STATE_COOKIE:
            return param.value
    raise AssertionError("INIT ACK without a State Cookie")


class RawPeer:
    """One UDP socket on ``host``, speaking SCTP by hand to the endpoint on ``server``."""

    def __init__(self, host: str, server: tuple[str, int], sctp_port: int) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setblocking(False)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 21)
        self.sock.bind((host, 0))
        self.host = host
        self.server = server  # (host, UDP port) of the endpoint
        self.sctp_port = sctp_port  # our SCTP source port
        self.server_sctp_port = 0  # filled by the fixture

    def send_raw(self, data: bytes) -> None:
        """One datagram, as it is."""
        self.sock.sendto(data, self.server)

    def send(self, tag: int, chunks: Sequence[Chunk], *, sctp_port: int | None = None) -> None:
        """A packet with our ports, ``tag`` and ``chunks``, CRC32c filled in."""
        source = self.sctp_port if sctp_port is None else sctp_port
        self.send_raw(build_packet(source, self.server_sctp_port, tag, chunks))

    async def receive(self, wait: float = REPLY_WAIT) -> Packet | None:
        """The next packet that comes back (decoded, checksum verified), None after
        ``wait`` seconds."""
        loop = asyncio.get_running_loop()
        try:
            data, _ = await asyncio.wait_for(loop.sock_recvfrom(self.sock, 65536), wait)
        except TimeoutError:
            return None
        return decode_packet(data)

    async def reply(self) -> Packet:
        """The next packet that comes back, which must come."""
        packet = await self.receive()
        assert packet is not None, "the endpoint did not answer"
        return packet

    def drain(self) -> int:
        """Read and count whatever is queued, without waiting."""
        count = 0
        while True:
            try:
                self.sock.recv(65536)
            except BlockingIOError:
                return count
            count += 1

    def close(self) -> None:
        self.sock.close()


@dataclass
class Live:
    """A listening udp endpoint and what tests need to reach it."""

    backend: UdpBackend
    endpoint: UserspaceEndpoint
    udp_port: int
    sctp_port: int
    accepted: list[sctpmh.Association]

    def peer(self, host: str = "127.0.0.9", sctp_port: int = 5000) -> RawPeer:
        """A raw peer on ``host`` aimed at this endpoint."""
        peer = RawPeer(host, (SERVER_HOST, self.udp_port), sctp_port)
        peer.server_sctp_port = self.sctp_port
        return peer

    def tables(self) -> dict[str, int]:
        """The sizes of the endpoint's per-association state (and the carrier's)."""
        endpoint = self.endpoint
        carrier = endpoint._carrier
        sizes = {
            "by_tag": len(endpoint._by_tag),
            "by_peer": len(endpoint._by_peer),
            "driven": len(endpoint._driven),
            "dirty": len(endpoint._dirty),
        }
        for name, value in vars(carrier).items():
            if isinstance(value, dict) and name != "_by_host":
                sizes[f"carrier{name}"] = len(value)
        return sizes

    def client_backend(self) -> UdpBackend:
        """A backend for a real sctpmh client of this endpoint (its own UDP port)."""
        return UdpBackend(port=free_udp_port(), remote_port=self.udp_port)


async def echo(association: sctpmh.Association) -> None:
    async for message in association:
        await association.send(message.data, stream=message.stream, ppid=message.ppid)


@asynccontextmanager
async def live_endpoint(
    hosts: Sequence[str] = (SERVER_HOST,), config: sctpmh.Config | None = None
) -> AsyncIterator[Live]:
    """A ``backend="udp"`` echo server on ``hosts`` and a free UDP port."""
    backend = UdpBackend(port=free_udp_port())
    accepted: list[sctpmh.Association] = []

    async def handler(association: sctpmh.Association) -> None:
        accepted.append(association)
        await echo(association)

    server = await sctpmh.create_server(handler, list(hosts), 0, backend=backend, config=config)
    try:
        endpoint = server._endpoint  # the endpoint the backend built, to read its tables
        assert isinstance(endpoint, UserspaceEndpoint)
        yield Live(backend, endpoint, backend.port, server.port, accepted)
    finally:
        # Aborted, not shut down: a raw peer never answers a SHUTDOWN.
        await asyncio.wait_for(server.abort(), REPLY_WAIT)
