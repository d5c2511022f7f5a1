"""The Transmission Control Block (RFC 9260 section 14.1): what every part of an association
shares.

The parts of the state machine (:mod:`~sctpmh.core.handshake`, :mod:`~sctpmh.core.transfer`,
:mod:`~sctpmh.core.termination`, :mod:`~sctpmh.core.intake`) each own their own timers and
counters; what they all read is here: the state, the tags and initial TSNs, the negotiated
streams, the components that own the paths (:class:`~sctpmh.core.paths.PathManager`), the
output (:class:`~sctpmh.core.bundling.Outbox`) and the data plane
(:class:`~sctpmh.core.sender.Sender`, :class:`~sctpmh.core.receiver.TsnTracker`,
:class:`~sctpmh.core.receiver.Reassembler`), the event queue, and the one way every
association ends (:meth:`Tcb.close`).
"""

from __future__ import annotations

import errno
from collections import deque
from dataclasses import dataclass
from random import Random

from sctpmh.config import Config
from sctpmh.core import causes
from sctpmh.core.bundling import Outbox, fit_causes, max_payload
from sctpmh.core.causes import ErrorCause
from sctpmh.core.chunks import AbortChunk, Chunk
from sctpmh.core.coreconfig import CoreConfig
from sctpmh.core.paths import Address, PathManager, PeerPath
from sctpmh.core.receiver import Reassembler, TsnTracker
from sctpmh.core.sender import Sender
from sctpmh.core.states import State
from sctpmh.core.stats import Stats
from sctpmh.events import (
    AssociationClosed,
    AssociationLost,
    Event,
    Message,
    SendFailed,
    received_message,
)

__all__ = ["PendingSend", "Tcb"]


@dataclass(frozen=True, slots=True)
class PendingSend:
    """A message sent before the association was up, waiting for it."""

    data: bytes
    stream: int
    ppid: int
    unordered: bool
    to: Address | None
    expires: float | None


class Tcb:
    """The state shared by the parts of one association."""

    def __init__(
        self,
        config: Config,
        core: CoreConfig,
        local_addresses: tuple[Address, ...],
        rng: Random,
        association_id: int,
    ) -> None:
        self.config = config
        self.core = core
        self.rng = rng
        self.association_id = association_id
        self.stats = Stats()
        self.events: deque[Event | Message] = deque()
        self.state = State.CLOSED
        self.outbox = Outbox(core.local_port, core.mtu, core.max_burst, self.stats)
        self.paths = PathManager(
            config, core.mtu, local_addresses, rng, self.events, self.outbox.queue
        )
        self.max_payload = max_payload(core.mtu)
        """Largest DATA payload per chunk."""
        # The TCB proper (RFC 9260 section 5.1): tags, initial TSNs, negotiated streams.
        self.local_tag = 0
        self.peer_tag = 0
        self.local_initial_tsn = 0
        self.peer_initial_tsn = 0
        self.outbound_streams = 0
        self.inbound_streams = 0
        self.remote_port = core.remote_port
        self.peer_a_rwnd = 0  # the peer's last advertised window
        self.peer_rwnd = 0  # the window the sender may fill (a_rwnd less flight at the SACK)
        self.peer_prsctp = False  # the peer supports PR-SCTP (RFC 3758 section 3.3)
        self.sender: Sender | None = None
        self.tracker: TsnTracker | None = None
        self.reassembler: Reassembler | None = None
        self.pending: list[PendingSend] = []  # sends before ESTABLISHED
        self.undelivered = 0  # bytes of received messages the application has not taken
        self.finished = False  # AssociationClosed was reported: the object is spent
        self.close_cause: int | None = None
        self.aborted = False
        self.peer_aborted = False  # the end was the peer's ABORT (RFC 9260 section 9.1)
        self.shutdown_requested = False

    # --- receiving ---------------------------------------------------------------------------

    def deliver(self, source: Address | None) -> None:
        """Hand the messages that became whole to the application."""
        reassembler = self.reassembler
        if reassembler is None:
            return
        for message in reassembler.pop_messages():
            self.undelivered += len(message.data)
            self.events.append(
                received_message(
                    message.data,
                    message.stream,
                    message.ppid,
                    message.unordered,
                    None if message.unordered else message.ssn,
                    message.tsn,
                    source,
                )
            )

    def window_left(self) -> int:
        """Our receive window: the buffer less what is held (RFC 9260 section 6.2)."""
        held = self.undelivered
        if self.reassembler is not None:
            held += self.reassembler.buffered_bytes
        return max(0, self.core.receive_window - held)

    def reflected_tag_ok(self, reflected: bool, tag: int) -> bool:
        """RFC 9260 section 8.5.1 B/C: our own tag without the T bit, the peer's with it."""
        if reflected:
            return bool(self.peer_tag) and tag == self.peer_tag
        return tag == self.local_tag

    # --- sending -----------------------------------------------------------------------------

    def send_raw_to(self, path: PeerPath, tag: int, chunks: tuple[Chunk, ...]) -> None:
        """Encode a packet with its own tag for ``path``, from its local address."""
        self.outbox.send_raw(path.address, path.source, self.remote_port, tag, chunks)

    def reply_raw(
        self,
        destination: Address,
        local: Address | None,
        port: int,
        tag: int,
        chunks: tuple[Chunk, ...],
    ) -> None:
        """Answer a packet that arrived on ``local`` from ``destination`` (a packet no path
        may exist for yet: INIT ACK, out-of-the-blue answers)."""
        source = local if local is not None else self.paths.source_for(destination)
        self.outbox.send_raw(destination, source, port, tag, chunks)

    def send_abort(self, abort_causes: tuple[ErrorCause, ...]) -> None:
        """Send an ABORT with ``abort_causes`` on the data path (RFC 9260 section 9.1)."""
        if not self.peer_tag or self.paths.primary is None:
            return
        self.stats.aborts_sent += 1
        chunk = AbortChunk(tuple(fit_causes(abort_causes, self.core.mtu)))
        self.send_raw_to(self.paths.data_path(), self.peer_tag, (chunk,))

    def enqueue(self, item: PendingSend) -> None:
        """Hand a message to the sender (the association is up)."""
        sender = self.sender
        assert sender is not None
        to = None
        if item.to is not None:
            path = self.paths.get(item.to[0])
            to = path.destination if path is not None else None
        # Without the peer's PR-SCTP support a lifetime cannot be honoured (RFC 3758 section
        # 3.3): the message is sent reliably.
        expires = item.expires if self.peer_prsctp else None
        sender.enqueue(
            item.data, item.stream, item.ppid, item.unordered, self.max_payload, to, expires
        )

    # --- ending ------------------------------------------------------------------------------

    def fail(self, now: float) -> None:
        """The peer is unreachable (RFC 9260 section 8.1): tell it, in case only one direction
        died, and end with ``AssociationLost``."""
        self.send_abort((causes.protocol_violation(b"Association exceeded its max_retrans count"),))
        self.close(now, None, aborted=True, lost=True)

    def close(self, now: float, cause: int | None, *, aborted: bool, lost: bool = False) -> None:
        """End the association: received messages first, then every message not wholly
        acknowledged as ``SendFailed`` (errno ``ETIMEDOUT`` when the peer was lost, else
        ``ECONNABORTED``), then ``AssociationLost`` when ``lost``, and ``AssociationClosed``
        last (RFC 9260 sections 8.1, 9.1, 9.2)."""
        if self.finished:
            return
        self.finished = True
        self.close_cause = cause
        self.aborted = aborted
        self.deliver(None)
        error = errno.ETIMEDOUT if lost else errno.ECONNABORTED
        for item in self.pending:
            self.events.append(SendFailed(item.data, item.stream, item.ppid, error, False))
        self.pending.clear()
        if self.sender is not None:
            for data, stream, ppid, sent in self.sender.drain_unsent():
                self.events.append(SendFailed(data, stream, ppid, error, sent))
        if lost:
            self.events.append(AssociationLost(self.association_id, cause))
        self.events.append(AssociationClosed(cause, aborted))
        self.state = State.CLOSED
        self.outbox.clear_control()
