"""One userspace association as a transport: the hooks of
:class:`~sctpmh.transport.BaseTransport` onto a core :class:`~sctpmh.core.association.Association`.

The core keeps every message it was given until the peer acknowledges it, so what waits
"in the write buffer" is what the core holds beyond ``Config.send_buffer_size`` (the
userspace counterpart of the kernel's socket send buffer).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from ..addresses import Address
from ..core.association import Association as CoreAssociation
from ..events import PathInfo
from ..transport import BaseTransport, Unsent
from ..validation import peer_address

if TYPE_CHECKING:
    from .endpoint import UserspaceEndpoint

__all__ = ["UserspaceTransport"]

logger = logging.getLogger("sctpmh.userspace")

#: What the core may hold unacknowledged before the write buffer counts (no
#: ``Config.send_buffer_size``): about what Linux gives an SCTP socket by default.
DEFAULT_SEND_BUFFER = 256 * 1024


class UserspaceTransport(BaseTransport):
    """The transport of one association of sctpmh's own SCTP stack."""

    __slots__ = ("_allowance", "_core", "_endpoint", "_input_blocked")

    def __init__(
        self,
        endpoint: UserspaceEndpoint,
        core: CoreAssociation,
        association_id: int,
        outbound_streams: int,
        inbound_streams: int,
    ) -> None:
        super().__init__(
            endpoint.loop,
            core.config,
            association_id,
            outbound_streams,
            inbound_streams,
            logger,
            endpoint.association_lost,
        )
        self._endpoint = endpoint
        self._core = core
        self._input_blocked = False
        size = core.config.send_buffer_size
        self._allowance = DEFAULT_SEND_BUFFER if size is None else size

    def __repr__(self) -> str:
        return f"<UserspaceTransport {self.backend_name} id={self._assoc_id}>"

    @property
    def backend_name(self) -> str:
        return self._endpoint.backend_name

    @property
    def core(self) -> CoreAssociation:
        """The core association underneath."""
        return self._core

    @property
    def input_blocked(self) -> bool:
        """Whether the endpoint should leave this association's messages in the core."""
        return self._input_blocked

    def update_buffer(self) -> None:
        """Re-read how much the core holds (the endpoint calls this after every step)."""
        self._set_buffer_size(max(0, self._core.pending_bytes() - self._allowance))

    # --- queries -----------------------------------------------------------------------------

    def local_addresses(self) -> list[Address]:
        return self._endpoint.local_addresses()

    def peer_addresses(self) -> list[Address]:
        return [path.address for path in self._core.paths()]

    def paths(self) -> list[PathInfo]:
        return self._core.paths()

    def set_primary(self, address: Address) -> None:
        """Send to the peer's ``address`` by default from now on (RFC 9260 section 6.4); it
        must be a confirmed address of the peer (5.4)."""
        self._core.set_primary(peer_address(address, self.peer_addresses()))
        self._endpoint.touch(self)

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        if name == "socket":
            return default
        return super().get_extra_info(name, default)

    # --- the hooks ---------------------------------------------------------------------------

    def _transmit(
        self,
        payload: bytes,
        stream: int,
        ppid: int,
        unordered: bool,
        to: Address | None,
        ttl: float | None,
    ) -> None:
        core = self._core
        if ttl is not None and not core.peer_supports_prsctp:
            raise self._not_supported(
                "send(ttl=...) with this peer", "it did not announce PR-SCTP (RFC 3758)"
            )
        core.send(
            payload, stream=stream, ppid=ppid, unordered=unordered, now=self._now(), to=to, ttl=ttl
        )
        # Counted at once, so that a sender that never yields still meets the high-water mark.
        self.update_buffer()
        self._endpoint.touch(self)

    def _start_shutdown(self) -> None:
        self._core.shutdown(self._now())
        self._endpoint.touch(self)

    def _send_abort(self) -> None:
        self._core.abort(self._now())
        self._endpoint.touch(self)

    def _take_unsent(self) -> list[Unsent]:
        return self._endpoint.take_unsent(self)

    def _set_input_blocked(self, blocked: bool) -> None:
        self._input_blocked = blocked
        if not blocked:
            self._endpoint.touch(self)

    def _release(self) -> None:
        self._endpoint.forget(self)

    def _now(self) -> float:
        return self._loop.time()

    # --- what the endpoint reports -------------------------------------------------------------

    def ended(self, exc: Exception | None) -> None:
        """The core reported the end (its AssociationClosed)."""
        self._ended(exc)
