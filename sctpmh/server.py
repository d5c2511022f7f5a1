"""A multi-homed SCTP server: one listening endpoint, a handler task per association."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from types import TracebackType

from .addresses import Address
from .association import Association
from .logs import AssociationLog
from .protocol import AssociationProtocol, AssociationTransport
from .seam import ListeningEndpoint

__all__ = ["Handler", "Server"]

logger = logging.getLogger("sctpmh.server")

Handler = Callable[[Association], Awaitable[None]]
"""What :func:`sctpmh.create_server` takes: ``async def handler(association)``, run in a
task of its own for each association; the association is closed when it returns and
aborted when it raises."""


class Server:
    """Serves associations on every bound address; an async context manager like
    ``asyncio.Server``. Created by :func:`sctpmh.create_server` (a coroutine handler per
    association) or :func:`sctpmh.create_protocol_server` (a protocol per association)."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        handler: Handler | None = None,
        protocol_factory: Callable[[], AssociationProtocol] | None = None,
    ) -> None:
        if (handler is None) == (protocol_factory is None):
            raise TypeError("give a handler or a protocol_factory, not both")
        self._loop = loop
        self._handler = handler
        self._protocol_factory = protocol_factory
        self._endpoint: ListeningEndpoint | None = None
        self._associations: dict[Association, asyncio.Task[None]] = {}
        self._transports: set[AssociationTransport] = set()
        self._serving = True
        self._serving_forever: asyncio.Future[None] | None = None
        self._closed = loop.create_future()

    def _attach(self, endpoint: ListeningEndpoint) -> None:
        self._endpoint = endpoint

    def _new_association(self, transport: AssociationTransport) -> None:
        """Backend callback: an association came up on the listening endpoint."""
        if not self._serving:
            transport.abort()
            return
        self._transports.add(transport)
        if self._protocol_factory is not None:
            try:
                protocol = self._protocol_factory()
            except Exception:
                AssociationLog(logger, transport.association_id).log(
                    logging.ERROR, "protocol factory failed; aborting", exc_info=True
                )
                self._transports.discard(transport)
                transport.abort()
                return
            transport.set_protocol(protocol)
            return
        association = Association()
        transport.set_protocol(association)
        task = self._loop.create_task(self._run_handler(association, transport))
        self._associations[association] = task

    async def _run_handler(self, association: Association, transport: AssociationTransport) -> None:
        assert self._handler is not None
        try:
            await self._handler(association)
        except asyncio.CancelledError:
            association.abort()
            raise
        except Exception:
            # A failing handler ends only its own association.
            AssociationLog(logger, association.association_id).log(
                logging.ERROR, "handler failed; aborting", exc_info=True
            )
            association.abort()
        else:
            association.close()
        finally:
            try:
                await association.wait_closed()
            finally:
                del self._associations[association]
                self._forget(transport)

    def _association_lost(self, transport: AssociationTransport) -> None:
        """Backend callback: an association has ended and its protocol has been told.
        A handler's association is forgotten when its handler is done instead."""
        if self._protocol_factory is not None:
            self._forget(transport)

    def _forget(self, transport: AssociationTransport) -> None:
        self._transports.discard(transport)
        self._maybe_finish()

    @property
    def addresses(self) -> list[Address]:
        """Every local address the server is bound to."""
        return self._endpoint.local_addresses() if self._endpoint is not None else []

    @property
    def port(self) -> int:
        """The server's port (all its addresses share it)."""
        addresses = self.addresses
        return addresses[0][1] if addresses else 0

    @property
    def associations(self) -> list[Association]:
        """Associations being served now by handlers (empty for a protocol server)."""
        return list(self._associations)

    @property
    def transports(self) -> list[AssociationTransport]:
        """Transports of every live association, whichever way it is served."""
        return list(self._transports)

    def is_serving(self) -> bool:
        """True until :meth:`close`."""
        return self._serving

    def close(self) -> asyncio.Future[None]:
        """Stop accepting associations and shut the live ones down gracefully.

        Returns a future that is done once every association has ended (as
        :meth:`wait_closed`); awaiting it is optional."""
        self._stop(graceful=True)
        return asyncio.shield(self._closed)

    def abort(self) -> asyncio.Future[None]:
        """Stop accepting, abort every live association (also after :meth:`close`) and
        cancel the handlers still running; returns a future as :meth:`close` does."""
        self._stop(graceful=False)
        return asyncio.shield(self._closed)

    def _stop(self, *, graceful: bool) -> None:
        if self._serving:
            self._serving = False
            if self._endpoint is not None:
                self._endpoint.stop_accepting()
            if self._serving_forever is not None and not self._serving_forever.done():
                self._serving_forever.set_result(None)
        for transport in list(self._transports):
            if graceful:
                transport.close()
            else:
                transport.abort()
        if not graceful:
            # A handler may be waiting on something other than its association: aborting
            # the server ends the handlers too, so that wait_closed() returns.
            for task in self._associations.values():
                task.cancel()
        self._maybe_finish()

    def _maybe_finish(self) -> None:
        if self._serving or self._transports or self._closed.done():
            return
        if self._endpoint is not None:
            self._endpoint.close()
            self._endpoint = None  # a closed server holds no socket state
        self._closed.set_result(None)

    async def wait_closed(self) -> None:
        """Wait until the server is closed and every association has ended."""
        await asyncio.shield(self._closed)

    async def serve_forever(self) -> None:
        """Serve until :meth:`close` (then return) or until cancelled (then close and wait
        for the associations to end before re-raising)."""
        if not self._serving:
            raise RuntimeError("the server is closed")
        if self._serving_forever is not None:
            raise RuntimeError("serve_forever() is already running")
        self._serving_forever = self._loop.create_future()
        try:
            await self._serving_forever
        except asyncio.CancelledError:
            try:
                self.close()
                await self.wait_closed()
            finally:
                raise
        finally:
            self._serving_forever = None

    async def __aenter__(self) -> Server:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
        await self.wait_closed()
