"""Packet assembly: bundling control chunks and DATA into packets, each with its path.

An :class:`Outbox` owns what an association has to send: control chunks queued for a path (or
for whichever path data goes to), and packets encoded at once because they carry their own
verification tag (INIT, INIT ACK, COOKIE ECHO, ABORT, SHUTDOWN COMPLETE, answers to
out-of-the-blue packets). :meth:`Outbox.build` turns them, a due SACK and the sender's DATA
into ``(packet, source, destination)`` triples:

* RFC 9260 section 6.10: control chunks go first, then DATA, filling each packet up to the MTU;
  a SACK that is due, or waiting for its delay, rides with outgoing DATA (section 6.2).
* Section 6.4: new DATA goes to the data path (or a message's own destination while it is
  active), retransmissions to an alternate active path (6.4, 6.4.1); each packet leaves from
  the local address of its path.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sctpmh.core.causes import ErrorCause
from sctpmh.core.chunks import DATA_HEADER_SIZE, Chunk, DataChunk, ErrorChunk, chunk_size
from sctpmh.core.packet import COMMON_HEADER_SIZE, build_packet
from sctpmh.core.paths import Address, PathManager, PeerPath
from sctpmh.core.sender import Sender
from sctpmh.core.stats import Stats

__all__ = ["Datagram", "Outbox", "fit_causes", "max_payload"]

Datagram = tuple[bytes, Address | None, Address]
"""A packet to send: ``(data, source, destination)``; ``source`` is the local address to send
from, None when the association has no local address to choose."""


class Outbox:
    """What one association has to send, and how it becomes packets."""

    __slots__ = ("_control", "_local_port", "_mtu", "_raw", "_sacks_seen", "_stats", "max_burst")

    def __init__(self, local_port: int, mtu: int, max_burst: int, stats: Stats) -> None:
        self._local_port = local_port
        self._mtu = mtu
        self._stats = stats
        self.max_burst = max_burst
        """Most packets of DATA per :meth:`build` (Max.Burst, RFC 9260 section 16)."""
        self._control: list[tuple[Chunk, PeerPath | None]] = []
        self._raw: list[Datagram] = []
        self._sacks_seen = 0  # stats.sacks_received at the last build

    def queue(self, chunk: Chunk, path: PeerPath | None = None) -> None:
        """Queue a control chunk for ``path`` (None: the path data goes to)."""
        self._control.append((chunk, path))

    def send_raw(
        self,
        destination: Address,
        source: Address | None,
        port: int,
        tag: int,
        chunks: tuple[Chunk, ...],
    ) -> None:
        """Encode a packet with its own verification tag at once."""
        packet = build_packet(self._local_port, port, tag, chunks)
        self._raw.append((packet, source, (destination[0], port)))

    def clear_control(self) -> None:
        """Forget queued control chunks (the association ended, or cannot send them)."""
        self._control.clear()

    def take_raw(self) -> list[Datagram]:
        """The packets encoded at once, and forget them."""
        out = self._raw
        self._raw = []
        return out

    def fit_cause(self, info: bytes) -> bytes:
        """Cause information cut to fit one packet: an ERROR echoing a huge chunk or
        parameter would amplify."""
        return info[: self._mtu - COMMON_HEADER_SIZE - 16]

    def build(
        self,
        now: float,
        out: list[Datagram],
        *,
        paths: PathManager,
        remote_port: int,
        peer_tag: int,
        sender: Sender | None,
        peer_rwnd: int,
        sack: Callable[[], Chunk] | None,
        sack_path: PeerPath | None,
    ) -> None:
        """Append the packets to send now to ``out``.

        ``sender`` is None when no DATA may go; ``sack`` makes the SACK that is due (None:
        none is), sent to ``sack_path`` (None: the data path).
        """
        data_path = paths.data_path()
        groups: dict[PeerPath, list[Chunk]] = {}
        for chunk, path in self._control:
            groups.setdefault(path if path is not None else data_path, []).append(chunk)
        self._control.clear()
        if sack is not None:
            # Section 6.2: a pending SACK rides with outgoing DATA rather than wait.
            group = groups.setdefault(sack_path if sack_path is not None else data_path, [])
            chunk = sack()
            for position, queued in enumerate(group):
                if type(queued) is ErrorChunk:
                    # Section 6.5: the ERROR reporting an invalid stream may share the SACK's
                    # packet "as long as the ERROR chunk follows the SACK chunk". Chunks queued
                    # before the ERROR (a COOKIE ACK, which 5.1 D wants first) keep their place.
                    group.insert(position, chunk)
                    break
            else:
                group.append(chunk)

        # RFC 9260 section 6.1 D: Max.Burst packets of DATA per transmission opportunity.
        # Every SACK that arrived since the last build is one, even when the glue read several
        # before asking for packets: merged into one burst they would keep the flight from
        # growing past Max.Burst packets while the receiver acknowledges every second one.
        sacks = self._stats.sacks_received
        burst = self.max_burst * max(1, sacks - self._sacks_seen)
        self._sacks_seen = sacks
        budget = self._mtu - COMMON_HEADER_SIZE
        first: tuple[PeerPath, list[Chunk]] | None = None
        for path, chunks in groups.items():
            packets = _fill(chunks, budget)
            if sender is not None and first is None and path is data_path:
                # The last control packet to the data path leaves room for DATA.
                first = (path, packets.pop())
            for packet_chunks in packets:
                self._emit(paths, path, remote_port, peer_tag, packet_chunks, out)
        if sender is not None:
            self._send_data(
                now, out, paths, data_path, remote_port, peer_tag, sender, peer_rwnd, first, burst
            )

    def _send_data(
        self,
        now: float,
        out: list[Datagram],
        paths: PathManager,
        data_path: PeerPath,
        remote_port: int,
        peer_tag: int,
        sender: Sender,
        peer_rwnd: int,
        first: tuple[PeerPath, list[Chunk]] | None,
        burst: int,
    ) -> None:
        budget = self._mtu - COMMON_HEADER_SIZE
        stats = self._stats
        pending_path, current = first if first is not None else (data_path, [])
        used = sum(chunk_size(chunk) for chunk in current)
        used_paths: list[PeerPath] = []
        rtx_path: PeerPath | None = None
        data_packets = 0
        while data_packets < burst:
            retransmission, hint = sender.next_route()
            if retransmission:
                path = paths.alternate(paths.path_of(hint))
            elif hint is None:
                path = data_path
            else:
                path = paths.data_path(paths.path_of(hint))
            if path is not pending_path and current:
                self._emit(paths, pending_path, remote_port, peer_tag, current, out)
                current, used = [], 0
            pending_path = path
            destination = path.destination
            chunks = sender.chunks_to_send(
                now, destination, peer_rwnd, budget - used, default=path is data_path
            )
            if not chunks:
                if current and used and not any(type(c) is DataChunk for c in current):
                    # The control chunks left no room: send them and try a fresh packet.
                    self._emit(paths, path, remote_port, peer_tag, current, out)
                    current, used = [], 0
                    continue
                break
            if retransmission and rtx_path is None:
                rtx_path = path
            current.extend(chunks)
            stats.data_chunks_sent += len(chunks)
            self._emit(paths, path, remote_port, peer_tag, current, out)
            data_packets += 1
            current, used = [], 0
            if path not in used_paths:
                used_paths.append(path)
                path.last_sent = now
        if current:
            self._emit(paths, pending_path, remote_port, peer_tag, current, out)
        if sender.take_t3_restart() and rtx_path is not None:
            # RFC 9260 section 7.2.4 step 4: the first outstanding chunk was fast
            # retransmitted; T3 now times that retransmission.
            rtx_path.t3.start(now, rtx_path.destination.rto)
        for path in used_paths:
            if path.destination.flight_size and not path.t3.running:
                # RFC 9260 section 6.3.2 R1: T3 runs wherever data is outstanding.
                path.t3.start(now, path.destination.rto)
        if sender.outstanding_bytes > sender.flight_bytes and not data_path.t3.running:
            # R1 again: data marked for retransmission (outstanding, not in flight) waits to
            # be resent; the data path's T3 watches it meanwhile.
            data_path.t3.start(now, data_path.destination.rto)

    def _emit(
        self,
        paths: PathManager,
        path: PeerPath,
        remote_port: int,
        peer_tag: int,
        chunks: list[Chunk],
        out: list[Datagram],
    ) -> None:
        if chunks:
            address = path.destination.address
            source = path.source if path.source is not None else paths.source_for(address)
            out.append(
                (build_packet(self._local_port, remote_port, peer_tag, chunks), source, address)
            )


def max_payload(mtu: int) -> int:
    """Largest DATA payload that fits one packet of ``mtu`` bytes (a multiple of 4)."""
    return (mtu - COMMON_HEADER_SIZE - DATA_HEADER_SIZE) & ~3


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
