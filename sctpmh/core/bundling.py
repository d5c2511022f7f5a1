"""Packet assembly for the association: bundling control chunks and DATA into packets.

The functions taking ``self`` are private methods of
:class:`~sctpmh.core.association.Association` (bound in its class body under the same names).
RFC 9260 section 6.10: control chunks go first, then DATA, filling each packet up to the MTU;
a SACK that is due, or waiting for its delay, rides with outgoing DATA (section 6.2). Packets
that carry their own verification tag (INIT, INIT ACK, COOKIE ECHO, ABORT, SHUTDOWN COMPLETE,
answers to out-of-the-blue packets) are encoded at once by ``_send_raw``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from sctpmh.core.causes import ErrorCause
from sctpmh.core.chunks import DATA_HEADER_SIZE, Chunk, DataChunk, ErrorChunk, chunk_size
from sctpmh.core.packet import COMMON_HEADER_SIZE, build_packet
from sctpmh.core.states import State

if TYPE_CHECKING:
    from sctpmh.core.association import Association
    from sctpmh.core.paths import Address

__all__ = ["fit_causes"]


def _build_packets(self: Association, now: float, out: list[tuple[bytes, Address]]) -> None:
    # Groups the control chunks by destination, puts a due SACK with them, then fills the
    # primary path's packets with DATA (RFC 9260 section 6.10: control chunks first).
    primary = self._primary_path() if self._primary is not None else None
    primary_address = primary.destination.address if primary is not None else None
    groups: dict[Address, list[Chunk]] = {}
    for chunk, address in self._control:
        target = address if address is not None else primary_address
        if target is not None:
            groups.setdefault(target, []).append(chunk)
    self._control.clear()

    sender = self._sender
    may_send_data = (
        sender is not None
        and primary is not None
        and self.state in (State.ESTABLISHED, State.SHUTDOWN_PENDING, State.SHUTDOWN_RECEIVED)
        and sender.has_data
    )
    sack_address = self._sack_address or primary_address
    if (
        self._tracker is not None
        and sack_address is not None
        and (self._sack_due or (self._sack_timer.running and may_send_data))
    ):
        # Section 6.2: a pending SACK rides with outgoing DATA rather than wait.
        group = groups.setdefault(sack_address, [])
        sack = self._make_sack()
        for position, chunk in enumerate(group):
            if type(chunk) is ErrorChunk:
                # Section 6.5: the ERROR reporting an invalid stream may share the SACK's
                # packet "as long as the ERROR chunk follows the SACK chunk". Chunks queued
                # before the ERROR (a COOKIE ACK, which 5.1 D wants first) keep their place.
                group.insert(position, sack)
                break
        else:
            group.append(sack)

    budget = self.core.mtu - COMMON_HEADER_SIZE
    for address, chunks in groups.items():
        packets = _fill(chunks, budget)
        if address == primary_address and may_send_data:
            continue_with = packets.pop() if packets else []
            for packet_chunks in packets:
                self._emit(address, packet_chunks, out)
            self._send_data(now, continue_with, out)
            may_send_data = False
            continue
        for packet_chunks in packets:
            self._emit(address, packet_chunks, out)
    if may_send_data:
        self._send_data(now, [], out)


def _send_data(
    self: Association, now: float, first: list[Chunk], out: list[tuple[bytes, Address]]
) -> None:
    sender = self._sender
    path = self._primary_path()
    assert sender is not None
    destination = path.destination
    address = destination.address
    budget = self.core.mtu - COMMON_HEADER_SIZE
    current = first
    used = sum(chunk_size(chunk) for chunk in current)
    data_packets = 0
    sent_any = False
    while data_packets < self.core.max_burst:
        chunks = sender.chunks_to_send(now, destination, self._peer_rwnd, budget - used)
        if not chunks:
            if current and used and not any(type(c) is DataChunk for c in current):
                # The control chunks left no room: send them and try a fresh packet.
                self._emit(address, current, out)
                current, used = [], 0
                continue
            break
        current.extend(chunks)
        self.stats.data_chunks_sent += len(chunks)
        sent_any = True
        self._emit(address, current, out)
        data_packets += 1
        current, used = [], 0
    if current:
        self._emit(address, current, out)
    if sent_any:
        path.last_sent = now
        if sender.take_t3_restart():
            # RFC 9260 section 7.2.4 step 4: the first outstanding chunk was fast
            # retransmitted; T3 now times that retransmission.
            path.t3.start(now, destination.rto)
    if sender.outstanding_bytes and not path.t3.running:
        # RFC 9260 section 6.3.2 R1: T3 runs whenever data is outstanding.
        path.t3.start(now, destination.rto)


def _emit(
    self: Association, address: Address, chunks: list[Chunk], out: list[tuple[bytes, Address]]
) -> None:
    if chunks:
        out.append(
            (
                build_packet(self.core.local_port, self._remote_port, self._peer_tag, chunks),
                address,
            )
        )


def _send_raw(
    self: Association, address: Address, port: int, tag: int, chunks: tuple[Chunk, ...]
) -> None:
    # A packet with its own verification tag, encoded at once (INIT, INIT ACK, COOKIE ECHO,
    # ABORT, SHUTDOWN COMPLETE, OOTB answers).
    self._raw.append((build_packet(self.core.local_port, port, tag, chunks), address))


def _fit_cause(self: Association, info: bytes) -> bytes:
    # An ERROR echoing a huge chunk or parameter would amplify; keep it within one packet.
    return info[: self.core.mtu - COMMON_HEADER_SIZE - 16]


def _max_payload(self: Association) -> int:
    return (self.core.mtu - COMMON_HEADER_SIZE - DATA_HEADER_SIZE) & ~3


def fit_causes(abort_causes: Sequence[ErrorCause], mtu: int) -> list[ErrorCause]:
    """The causes of an ABORT cut to fit one packet of ``mtu`` bytes.

    Cause information is truncated, never the causes themselves.
    """
    room = mtu - COMMON_HEADER_SIZE - 4
    fitted: list[ErrorCause] = []
    for cause in abort_causes:
        info = cause.info[: max(0, room - 4)]
        room -= 4 + len(info) + 3
        fitted.append(ErrorCause(cause.code, info))
    return fitted


def _fill(chunks: list[Chunk], budget: int) -> list[list[Chunk]]:
    # Packs chunks in order into packets of at most ``budget`` bytes after the common header;
    # a chunk larger than the budget travels alone.
    packets: list[list[Chunk]] = []
    current: list[Chunk] = []
    used = 0
    for chunk in chunks:
        size = chunk_size(chunk)
        if current and used + size > budget:
            packets.append(current)
            current, used = [], 0
        current.append(chunk)
        used += size
    if current:
        packets.append(current)
    return packets
