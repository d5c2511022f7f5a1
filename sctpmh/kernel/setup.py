"""Opening kernel SCTP endpoints: the socket, its options, its addresses.

Kept apart from :mod:`sctpmh.kernel.demux` (the endpoint) and :mod:`sctpmh.kernel.fdio`, which
only drive a socket that exists. Whatever fails after ``socket()`` closes the socket again:
nothing leaks.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Sequence

from ..addresses import Endpoint
from ..config import Config
from ..errors import AddressError
from ..seam import TransportCallback
from . import sockapi
from .demux import KernelEndpoint
from .transport import KernelAssociationTransport

__all__ = ["connect", "listen"]


def _family_for(endpoints: Sequence[Endpoint]) -> socket.AddressFamily:
    # An AF_INET6 socket carries IPv4 addresses too (RFC 6458 section 3.1.1 / 4.1.1), so
    # any IPv6 address on either side makes the socket AF_INET6.
    if any(e.family == socket.AF_INET6 for e in endpoints):
        return socket.AF_INET6
    return socket.AF_INET


def _open_socket(
    family: socket.AddressFamily, config: Config, *, one_to_many: bool
) -> socket.socket:
    sock = sockapi.create_socket(family, one_to_many=one_to_many)
    try:
        sockapi.prepare_socket(sock, config)
        if config.send_buffer_size is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, config.send_buffer_size)
        if config.receive_buffer_size is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, config.receive_buffer_size)
    except BaseException:
        sock.close()
        raise
    return sock


def _bind(sock: socket.socket, local: Sequence[Endpoint]) -> None:
    try:
        sockapi.bind_addresses(sock, [(e.host, e.port) for e in local])
    except OSError as exc:
        listed = ", ".join(str(e) for e in local)
        raise AddressError(
            f"cannot bind to {listed}: {exc.strerror or exc} (is every address configured on "
            "this host, and the port free?)",
            listed,
        ) from exc


def listen(
    loop: asyncio.AbstractEventLoop,
    local: Sequence[Endpoint] | None,
    port: int,
    config: Config,
    on_association: TransportCallback,
    on_association_lost: TransportCallback,
    *,
    backlog: int = 128,
) -> KernelEndpoint:
    """A one-to-many socket bound to ``local`` (None: every address), accepting associations.

    ``on_association`` is called with each new association's transport, and
    ``on_association_lost`` once that association has ended and its protocol's
    ``connection_lost`` has returned."""
    if local:
        sock = _open_socket(_family_for(local), config, one_to_many=True)
        bound = list(local)
    else:
        # The IPv6 wildcard also takes IPv4 (v6only is off by default); fall back to IPv4
        # where IPv6 is disabled.
        try:
            sock = _open_socket(socket.AF_INET6, config, one_to_many=True)
            bound = [Endpoint("::", port)]
        except OSError:
            sock = _open_socket(socket.AF_INET, config, one_to_many=True)
            bound = [Endpoint("0.0.0.0", port)]
    completed = False
    try:
        _bind(sock, bound)
        sock.listen(backlog)
        endpoint = KernelEndpoint(
            loop,
            sock,
            config,
            one_to_many=True,
            on_association=on_association,
            on_association_lost=on_association_lost,
        )
        endpoint.start()
        completed = True
        return endpoint
    finally:
        if not completed:
            sock.close()


async def connect(
    loop: asyncio.AbstractEventLoop,
    remote: Sequence[Endpoint],
    local: Sequence[Endpoint] | None,
    config: Config,
) -> KernelAssociationTransport:
    """A one-to-one socket bound to ``local`` and connected to every ``remote`` address."""
    sock = _open_socket(_family_for([*remote, *(local or [])]), config, one_to_many=False)
    endpoint = None
    completed = False
    try:
        if local:
            _bind(sock, local)
        endpoint = KernelEndpoint(loop, sock, config, one_to_many=False)
        waiter = endpoint.expect_association()
        endpoint.start()
        with contextlib.suppress(BlockingIOError):
            sockapi.connect_addresses(sock, [(e.host, e.port) for e in remote])
        transport = await waiter
        completed = True
        return transport
    finally:
        if not completed:
            if endpoint is not None:
                endpoint.close()
            else:
                sock.close()
