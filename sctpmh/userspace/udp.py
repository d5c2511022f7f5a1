"""``backend="udp"``: the userspace SCTP stack over UDP (RFC 6951).

Each SCTP packet, common header included, is the payload of one UDP datagram. As RFC 6951
section 5 has it, a host uses one UDP port for all its SCTP endpoints (9899, the registered
port, unless configured): :class:`UdpBackend` opens one UDP socket per local address on that
port, shared by every endpoint on the address, and hands each datagram to the endpoint whose
SCTP port it is addressed to. Towards the peer it sends to ``remote_port`` until the peer's
packets show the UDP port it really uses (RFC 6951 section 5.1: the UDP source port of
received packets is remembered per peer address), as Linux does; only packets an association
accepted under its verification tag count, so a forged datagram cannot redirect it
(docs/hostile-input.md).

Only loopback and addresses of this host can be bound; what the endpoints send is plain UDP.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import socket
from collections.abc import Sequence
from typing import Any, Final, cast

from ..addresses import Address, Endpoint
from ..config import Config
from ..errors import AddressError
from ..seam import PATHS, PR_SCTP, SEND_TO, SET_PRIMARY, ListeningEndpoint, TransportCallback
from ..transport import BaseTransport
from .endpoint import UserspaceEndpoint, one_port

__all__ = ["BACKEND", "SCTP_OVER_UDP_PORT", "UdpBackend"]

#: The UDP port IANA registered for SCTP over UDP (RFC 6951 section 5.1).
SCTP_OVER_UDP_PORT: Final = 9899
_EPHEMERAL: Final = range(49152, 65536)  # RFC 6335 section 6
_HEADER: Final = 12  # the SCTP common header (RFC 9260 section 3.1)
logger = logging.getLogger("sctpmh.userspace")
#: Unknown peers whose UDP port is remembered until their answer has gone out: far more
#: than the datagrams one loop iteration reads, so no answer loses its port.
_HEARD_MAX: Final = 4096
_NO_TAG: Final = b"\x00\x00\x00\x00"
_INIT_ACK: Final = b"\x02"  # the first chunk's type byte (RFC 9260 section 3.2)
#: Datagrams read at one wake-up beyond the one asyncio hands over.
_READ_BATCH: Final = 63
_MAX_DATAGRAM: Final = 65535
_SOCKADDR_CACHE: Final = 1024


class _SharedSocket(asyncio.DatagramProtocol):
    """One UDP socket on one local address, and the SCTP endpoints that use it."""

    def __init__(self, host: str, port: int, sock: socket.socket) -> None:
        self.host = host
        self.port = port
        self.transport: asyncio.DatagramTransport | None = None
        self.family = Endpoint(host, port).family
        self.carriers: dict[int, _UdpCarrier] = {}  # by SCTP port
        self.cut = False  # a test cut the link: nothing in, nothing out
        self._sock = sock
        self._local = (host, port)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None:
        # asyncio's datagram transport reads one datagram per wake-up; the rest of what is
        # queued on the socket is read here at once (a bounded batch), so that the endpoints
        # process every readable packet before they send (one SACK for several DATA packets,
        # RFC 9260 section 6.2) and the loop does not spin once per packet.
        self._deliver(data, addr)
        recvfrom = self._sock.recvfrom
        for _ in range(_READ_BATCH):
            try:
                data, addr = recvfrom(_MAX_DATAGRAM)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return  # an ICMP error reported on the socket: as error_received
            self._deliver(data, addr)

    def _deliver(self, data: bytes, addr: tuple[Any, ...]) -> None:
        if len(data) < _HEADER or self.cut:
            return
        carrier = self.carriers.get(int.from_bytes(data[2:4], "big"))
        if carrier is None:
            return  # no SCTP endpoint on that port: as the kernel, say nothing
        carrier.received(data, addr[0], addr[1], self._local)

    def error_received(self, exc: Exception) -> None:
        # ICMP errors (port unreachable) tell nothing that SCTP's own timers do not.
        return


class UdpBackend:
    """The userspace stack over UDP sockets (see the module docstring).

    ``port`` is the local UDP port, ``remote_port`` the peer's until its packets show
    another; both default to 9899."""

    features = frozenset({PATHS, SET_PRIMARY, SEND_TO, PR_SCTP})

    def __init__(
        self, port: int = SCTP_OVER_UDP_PORT, remote_port: int = SCTP_OVER_UDP_PORT
    ) -> None:
        for name, value in (("port", port), ("remote_port", remote_port)):
            if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= 65535:
                raise ValueError(f"{name} must be a UDP port in 1..65535, not {value!r}")
        self.name = "udp"
        self.port = port
        self.remote_port = remote_port
        # By (loop, host, UDP port asked for): the configured port, or 0 for the private
        # sockets of clients that found it taken.
        self._sockets: dict[tuple[asyncio.AbstractEventLoop, str, int], _SharedSocket] = {}

    def cut(self, host: str, *, cut: bool = True) -> None:
        """Lose every datagram in or out of ``host``'s UDP socket from now on (for tests of
        dead links; ``cut=False`` heals it)."""
        canonical = Endpoint(host, 0).host
        for (_, bound, _), shared in self._sockets.items():
            if bound == canonical:
                shared.cut = cut

    async def _socket(
        self, loop: asyncio.AbstractEventLoop, host: str, *, client: bool = False
    ) -> _SharedSocket:
        """The UDP socket on ``host`` and the configured port. A client whose port another
        process holds on that address (a server on the same host) gets a socket on a port
        of the system's choosing instead: the peer learns it from the client's packets, as
        RFC 6951 section 5.1 and Linux have it."""
        try:
            return await self._bound(loop, host, self.port)
        except AddressError as exc:
            if not client or not isinstance(exc.__cause__, OSError):
                raise
            if exc.__cause__.errno != errno.EADDRINUSE:
                raise
        shared = await self._bound(loop, host, 0)
        logger.debug(
            "UDP port %d on %s is taken; this client uses UDP port %d", self.port, host, shared.port
        )
        return shared

    async def _bound(self, loop: asyncio.AbstractEventLoop, host: str, port: int) -> _SharedSocket:
        shared = self._sockets.get((loop, host, port))
        if shared is not None:
            return shared
        address = Endpoint(host, port)
        sock = socket.socket(address.family, socket.SOCK_DGRAM)
        try:
            sock.setblocking(False)
            sock.bind(address.sockaddr())
            shared = _SharedSocket(host, int(sock.getsockname()[1]), sock)
            await loop.create_datagram_endpoint(lambda: shared, sock=sock)
        except OSError as exc:
            sock.close()
            raise AddressError(
                f"cannot bind UDP {address}: {exc.strerror or exc} (is the address configured "
                "on this host, and the UDP port free?)",
                host,
            ) from exc
        self._sockets[(loop, host, port)] = shared
        return shared

    def release(self, shared: _SharedSocket, carrier: _UdpCarrier | None, sctp_port: int) -> None:
        """``carrier`` no longer uses ``shared``; the last one out closes the socket."""
        if carrier is not None and shared.carriers.get(sctp_port) is carrier:
            del shared.carriers[sctp_port]
        if not shared.carriers and shared.transport is not None:
            shared.transport.close()
            for key, value in list(self._sockets.items()):
                if value is shared:
                    del self._sockets[key]

    async def _endpoint(
        self,
        loop: asyncio.AbstractEventLoop,
        local: Sequence[Endpoint],
        config: Config,
        remote_port: int,
        on_association: TransportCallback | None = None,
        on_association_lost: TransportCallback | None = None,
    ) -> UserspaceEndpoint:
        port = one_port(local)
        shared: list[_SharedSocket] = []
        try:
            for e in local:
                shared.append(await self._socket(loop, e.host, client=on_association is None))
            port = port or next(
                (p for p in _EPHEMERAL if all(p not in s.carriers for s in shared)), 0
            )
            if not port:
                raise AddressError("no free SCTP port left on these addresses", local)
            taken = [s for s in shared if port in s.carriers]
            if taken:
                listed = ", ".join(str(Endpoint(s.host, port)) for s in taken)
                raise AddressError(f"cannot bind to {listed}: address already in use", listed)
        except BaseException:
            for s in shared:
                self.release(s, None, port)  # a socket opened for nothing closes again
            raise
        local = [Endpoint(e.host, port) for e in local]
        endpoint = UserspaceEndpoint(
            loop,
            self.name,
            local,
            config,
            remote_port,
            on_association=on_association,
            on_association_lost=on_association_lost,
        )
        carrier = _UdpCarrier(self, shared, endpoint, port)
        for s in shared:
            s.carriers[port] = carrier
        endpoint.attach(carrier)
        return endpoint

    async def listen(
        self,
        loop: asyncio.AbstractEventLoop,
        local: Sequence[Endpoint] | None,
        port: int,
        config: Config,
        on_association: TransportCallback,
        on_association_lost: TransportCallback,
        *,
        backlog: int,
    ) -> ListeningEndpoint:
        if not local:
            raise AddressError(
                "the udp backend listens on the addresses it is given only (a wildcard would "
                "advertise every address of the host)",
                None,
            )
        return await self._endpoint(loop, local, config, 0, on_association, on_association_lost)

    async def connect(
        self,
        loop: asyncio.AbstractEventLoop,
        remote: Sequence[Endpoint],
        local: Sequence[Endpoint] | None,
        config: Config,
    ) -> BaseTransport:
        peer_port = one_port(remote)
        if not local:
            local = [Endpoint(_source_towards(remote[0]), 0)]
        endpoint = await self._endpoint(loop, local, config, peer_port)
        return await endpoint.open(remote)


def _source_towards(remote: Endpoint) -> str:
    """The address this host sends from towards ``remote`` (a connected UDP socket's name;
    nothing is sent)."""
    family = remote.family
    with socket.socket(family, socket.SOCK_DGRAM) as probe:
        with contextlib.suppress(OSError):
            probe.connect(Endpoint(remote.host, SCTP_OVER_UDP_PORT).sockaddr())
            return str(probe.getsockname()[0])
    return "::1" if family == socket.AF_INET6 else "127.0.0.1"


class _UdpCarrier:
    """One endpoint's way out: the shared sockets of its addresses."""

    def __init__(
        self,
        backend: UdpBackend,
        shared: list[_SharedSocket],
        endpoint: UserspaceEndpoint,
        sctp_port: int,
    ) -> None:
        self._backend = backend
        self._by_host = {s.host: s for s in shared}
        self._endpoint = endpoint
        self._sctp_port = sctp_port
        self._peer_ports: dict[Address, int] = {}  # learned from accepted packets
        self._heard: dict[Address, int] = {}  # the latest packets of peers not known yet
        # Socket addresses by (SCTP address, UDP port): parsing an address per packet costs.
        self._sockaddrs: dict[tuple[Address, int], Any] = {}
        self._open = True

    def received(self, data: bytes, host: str, udp_port: int, destination: tuple[str, int]) -> None:
        """A datagram for our SCTP port from ``(host, udp_port)``.

        The peer's UDP port is learned (RFC 6951 section 5.1), keyed by its SCTP address,
        only from packets an association accepted under its verification tag: anyone can
        send a datagram from the peer's address and SCTP port, and a forged one must not
        move an association's traffic elsewhere. What an unknown peer's packets draw (an
        INIT ACK, an out-of-the-blue ABORT) goes back to the UDP port they came from, held
        in a small table that an INIT flood cannot grow (the listener keeps no state,
        RFC 9260 section 5.1.3)."""
        sctp_source = int.from_bytes(data[0:2], "big")
        peer = (host, sctp_source)
        if peer not in self._peer_ports or data[4:8] == _NO_TAG:
            # An unknown peer, or an INIT (tag 0, section 8.5.1 A) that may come from a known
            # peer's new UDP port; a known peer's other packets skip this (the data path).
            heard = self._heard
            heard.pop(peer, None)
            if len(heard) >= _HEARD_MAX:
                del heard[next(iter(heard))]  # the oldest: its answer has long gone out
            heard[peer] = udp_port
        if self._endpoint.datagram_received(data, peer, destination):
            self._peer_ports[peer] = udp_port

    def send(self, data: bytes, source: Address, destination: Address) -> None:
        if not self._open:
            return
        learned = self._peer_ports.get(destination)
        heard = self._heard.get(destination)
        if data[12:13] == _INIT_ACK:
            # An INIT ACK answers the INIT just heard, from wherever it came: a known peer
            # that restarted may use a new UDP port (RFC 9260 section 5.2.2).
            learned, heard = heard, learned
        port = learned or heard or self._backend.remote_port
        shared = self._by_host.get(source[0])
        family = socket.AF_INET6 if ":" in destination[0] else socket.AF_INET
        if shared is None or shared.family != family:
            # No socket of ours on that source: one of the destination's family, if any (a
            # socket of the other family would refuse the address, and asyncio would close
            # it for good over that).
            shared = next((s for s in self._by_host.values() if s.family == family), None)
        if shared is None or shared.transport is None or shared.cut:
            return
        key = (destination, port)
        sockaddr = self._sockaddrs.get(key)
        if sockaddr is None:
            sockaddr = Endpoint(destination[0], port).sockaddr()
            # Kept for the peers of associations only: answers to a flood of INITs from
            # strangers must leave nothing behind.
            if self._peer_ports.get(destination) == port:
                if len(self._sockaddrs) >= _SOCKADDR_CACHE:
                    self._sockaddrs.clear()
                self._sockaddrs[key] = sockaddr
        shared.transport.sendto(data, sockaddr)

    def forget(self, peers: Sequence[Address]) -> None:
        for peer in peers:
            self._peer_ports.pop(peer, None)

    def close(self) -> None:
        if self._open:
            self._open = False
            for shared in self._by_host.values():
                self._backend.release(shared, self, self._sctp_port)


#: The instance :mod:`sctpmh.registry` hands out for ``backend="udp"``.
BACKEND = UdpBackend()
