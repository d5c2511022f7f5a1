"""``backend="memory"``: the userspace SCTP stack over an in-process datagram network.

Both ends must live in one process (on one event loop or several); nothing touches a socket.
It is the whole stack of the udp backend but the UDP socket, so code written on sctpmh can be
tested anywhere, and the contract suite holds the core to the same behaviour as the kernel.

Addresses are plain names here: any IPv4 or IPv6 literal can be bound, each (address, port)
once per process. Packets are delivered in order, without loss, in a later loop iteration,
except to and from a host a test has cut (:meth:`MemoryNetwork.cut`, through
``sctpmh.userspace.memory.BACKEND.network``).
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Sequence
from typing import Final

from ..addresses import Address, Endpoint
from ..config import Config
from ..errors import AddressError
from ..seam import PATHS, PR_SCTP, SEND_TO, SET_PRIMARY, ListeningEndpoint, TransportCallback
from ..transport import BaseTransport
from .endpoint import UserspaceEndpoint, one_port

__all__ = ["BACKEND", "MemoryBackend", "MemoryNetwork"]

_WILDCARD_V4: Final = "0.0.0.0"
_WILDCARD_V6: Final = "::"
_EPHEMERAL: Final = range(49152, 65536)  # RFC 6335 section 6


class MemoryNetwork:
    """Which endpoint has which (address, port), for one process."""

    def __init__(self) -> None:
        self._bound: dict[Address, UserspaceEndpoint] = {}
        self._ports = itertools.cycle(_EPHEMERAL)
        self._cut: set[str] = set()

    def cut(self, host: str) -> None:
        """Lose every packet from or to ``host`` from now on (a dead link, for tests)."""
        self._cut.add(Endpoint(host, 0).host)

    def heal(self, host: str) -> None:
        """Carry ``host``'s packets again."""
        self._cut.discard(Endpoint(host, 0).host)

    def bind(self, endpoint: UserspaceEndpoint, local: Sequence[Endpoint]) -> None:
        """Give ``endpoint`` every address of ``local`` (all with one port), or AddressError."""
        taken = [e for e in local if self._find(e.host, e.port) is not None]
        if taken:
            listed = ", ".join(str(e) for e in taken)
            raise AddressError(f"cannot bind to {listed}: address already in use", listed)
        for e in local:
            self._bound[(e.host, e.port)] = endpoint

    def free_port(self, hosts: Sequence[str]) -> int:
        """A port that none of ``hosts`` has bound yet."""
        for _ in _EPHEMERAL:
            port = next(self._ports)
            if all(self._find(host, port) is None for host in hosts):
                return port
        raise AddressError("no free port left on the in-memory network", list(hosts))

    def unbind(self, endpoint: UserspaceEndpoint) -> None:
        for address in [a for a, e in self._bound.items() if e is endpoint]:
            del self._bound[address]

    def _find(self, host: str, port: int) -> UserspaceEndpoint | None:
        """Who has ``(host, port)``: that very address, else a wildcard on the port (for a
        wildcard ``host``: anyone on the port)."""
        found = self._bound.get((host, port))
        if found is not None:
            return found
        if host in (_WILDCARD_V4, _WILDCARD_V6):
            return next((e for (_, p), e in self._bound.items() if p == port), None)
        found = self._bound.get((_WILDCARD_V6, port))
        if found is None and ":" not in host:
            found = self._bound.get((_WILDCARD_V4, port))
        return found

    def deliver(self, data: bytes, source: Address, destination: Address) -> None:
        """Hand one packet to whoever has ``destination``, in a later loop iteration."""
        if self._cut and (source[0] in self._cut or destination[0] in self._cut):
            return
        target = self._find(*destination)
        if target is None:
            return  # nobody there: lost, as on a real network
        if target.loop is _running_loop():
            target.loop.call_soon(target.datagram_received, data, source, destination)
        else:
            target.loop.call_soon_threadsafe(target.datagram_received, data, source, destination)


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class _MemoryCarrier:
    """One endpoint's access to the network."""

    def __init__(self, network: MemoryNetwork, endpoint: UserspaceEndpoint) -> None:
        self._network = network
        self._endpoint = endpoint
        self._open = True

    def send(self, data: bytes, source: Address, destination: Address) -> None:
        if self._open:
            self._network.deliver(data, source, destination)

    def forget(self, peers: Sequence[Address]) -> None:
        return  # the memory network learns nothing about peers

    def close(self) -> None:
        if self._open:
            self._open = False
            self._network.unbind(self._endpoint)


class MemoryBackend:
    """The userspace stack on :class:`MemoryNetwork` (see the module docstring)."""

    name = "memory"
    features = frozenset({PATHS, SET_PRIMARY, SEND_TO, PR_SCTP})

    def __init__(self, network: MemoryNetwork | None = None) -> None:
        self.network = network or MemoryNetwork()

    def _endpoint(
        self,
        loop: asyncio.AbstractEventLoop,
        local: Sequence[Endpoint],
        config: Config,
        remote_port: int,
        on_association: TransportCallback | None = None,
        on_association_lost: TransportCallback | None = None,
    ) -> UserspaceEndpoint:
        port = one_port(local) or self.network.free_port([e.host for e in local])
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
        self.network.bind(endpoint, local)
        endpoint.attach(_MemoryCarrier(self.network, endpoint))
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
        addresses = list(local) if local else [Endpoint(_WILDCARD_V6, port)]
        return self._endpoint(loop, addresses, config, 0, on_association, on_association_lost)

    async def connect(
        self,
        loop: asyncio.AbstractEventLoop,
        remote: Sequence[Endpoint],
        local: Sequence[Endpoint] | None,
        config: Config,
    ) -> BaseTransport:
        peer_port = one_port(remote)
        if not local:
            local = [Endpoint("::1" if ":" in remote[0].host else "127.0.0.1", 0)]
        return await self._endpoint(loop, local, config, peer_port).open(remote)


#: The instance :mod:`sctpmh.registry` hands out.
BACKEND = MemoryBackend()
