"""The receiving half of the data plane: which TSNs arrived, and whole messages from them.

:class:`TsnTracker` records received TSNs and produces what a SACK reports: the Cumulative TSN
Ack, Gap Ack Blocks and Duplicate TSNs (RFC 9260 sections 3.3.4, 6.2, 6.7).
:class:`Reassembler` turns DATA chunks into messages: it joins fragments (section 6.9) and hands
out ordered messages per stream in SSN order (sections 6.5, 6.6), unordered ones as soon as they
are whole.

Memory is bounded by the caller: the association drops DATA beyond its receive window
(section 6.2), so the out-of-order TSN set and the fragments held stay within that window; the
duplicate list is capped here.
"""

from __future__ import annotations

from dataclasses import dataclass

from sctpmh.core.chunks import DataChunk
from sctpmh.core.serial import ssn_lt

__all__ = [
    "MAX_DUPLICATES",
    "MAX_GAP_BLOCKS",
    "MessageTooLarge",
    "Reassembler",
    "ReceivedMessage",
    "TsnTracker",
]

MAX_GAP_BLOCKS = 128
"""Most Gap Ack Blocks put in one SACK. With :data:`MAX_DUPLICATES` duplicates the SACK chunk
stays under 16 + 4*128 + 4*64 = 784 bytes, well inside a 1280-byte packet."""

MAX_DUPLICATES = 64
"""Most Duplicate TSNs kept for, and reported in, one SACK (RFC 9260 section 6.2 lets the
receiver report a subset)."""

_MASK = 0xFFFFFFFF
_HALF = 0x80000000
# Gap Ack Block offsets are 16-bit fields (RFC 9260 section 3.3.4).
_MAX_GAP_OFFSET = 0xFFFF


# The name is the shared spec's; it must not be confused with the public
# sctpmh.errors.MessageTooLargeError, which reports local misuse.
class MessageTooLarge(Exception):  # noqa: N818
    """A message being reassembled exceeds the configured maximum message size.

    Core-internal: the association answers it with an ABORT (nothing can deliver the message).
    """

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"message of at least {size} bytes exceeds the limit of {limit} bytes")
        self.size = size
        """Bytes of the message seen so far (the whole message may be larger)."""
        self.limit = limit
        """The maximum message size in force."""


class TsnTracker:
    """The TSNs received from the peer (RFC 9260 sections 6.2, 6.7).

    ``cumulative_tsn`` is the highest TSN such that it and every TSN before it arrived; TSNs
    that arrived beyond it are held in a set until the gap before them fills.
    """

    __slots__ = ("_above", "_duplicates", "cumulative_tsn")

    cumulative_tsn: int
    """The Cumulative TSN Ack to report (section 3.3.4)."""

    def __init__(self, peer_initial_tsn: int) -> None:
        # RFC 9260 section 6.1 / 6.2: nothing received yet, so the cumulative ack is the TSN
        # just before the peer's Initial TSN.
        self.cumulative_tsn = (peer_initial_tsn - 1) & _MASK
        self._above: set[int] = set()
        self._duplicates: list[int] = []

    def receive(self, tsn: int) -> bool:
        """Record an arriving TSN; ``True`` if it is new, ``False`` if a duplicate.

        A duplicate is kept (up to :data:`MAX_DUPLICATES`) for the next SACK's Duplicate TSNs
        (section 6.2): each arrival of a duplicate is reported once.
        """
        cum = self.cumulative_tsn
        if tsn == (cum + 1) & _MASK:
            # In order: the common case, no set work unless a gap just closed.
            cum = tsn
            above = self._above
            if above:
                nxt = (cum + 1) & _MASK
                while nxt in above:
                    above.discard(nxt)
                    cum = nxt
                    nxt = (cum + 1) & _MASK
            self.cumulative_tsn = cum
            return True
        if ((cum - tsn) & _MASK) < _HALF or tsn in self._above:
            # At or behind the cumulative ack (serial arithmetic), or already held.
            if len(self._duplicates) < MAX_DUPLICATES:
                self._duplicates.append(tsn)
            return False
        self._above.add(tsn)
        return True

    def is_new(self, tsn: int) -> bool:
        """Whether ``tsn`` has not been received yet (it is beyond the cumulative ack and not
        held)."""
        return ((self.cumulative_tsn - tsn) & _MASK) >= _HALF and tsn not in self._above

    @property
    def has_gaps(self) -> bool:
        """Whether TSNs arrived beyond a gap; RFC 9260 section 6.7 then wants a SACK at once."""
        return bool(self._above)

    @property
    def highest_tsn(self) -> int:
        """The highest TSN received so far (the cumulative ack when there are no gaps)."""
        if not self._above:
            return self.cumulative_tsn
        cum = self.cumulative_tsn
        return (cum + max((t - cum) & _MASK for t in self._above)) & _MASK

    def gap_blocks(self) -> tuple[tuple[int, int], ...]:
        """Gap Ack Blocks as ``(start, end)`` offsets from the cumulative ack (section 3.3.4).

        At most :data:`MAX_GAP_BLOCKS`, lowest first; blocks beyond the 16-bit offset range are
        left out (the peer learns of them once the cumulative ack moves up).
        """
        if not self._above:
            return ()
        cum = self.cumulative_tsn
        offsets = sorted((t - cum) & _MASK for t in self._above)
        start = end = offsets[0]
        if start > _MAX_GAP_OFFSET:
            return ()
        blocks: list[tuple[int, int]] = []
        for offset in offsets[1:]:
            if offset == end + 1:
                end = offset
                continue
            blocks.append((start, min(end, _MAX_GAP_OFFSET)))
            if len(blocks) >= MAX_GAP_BLOCKS or offset > _MAX_GAP_OFFSET:
                return tuple(blocks)
            start = end = offset
        blocks.append((start, min(end, _MAX_GAP_OFFSET)))
        return tuple(blocks)

    def forward(self, new_cumulative_tsn: int) -> bool:
        """Move the cumulative ack to ``new_cumulative_tsn`` as a FORWARD TSN asks (RFC 3758
        section 3.6): the TSNs up to it count as received. False when it is not ahead."""
        cum = self.cumulative_tsn
        if ((new_cumulative_tsn - cum) & _MASK) >= _HALF or new_cumulative_tsn == cum:
            return False
        above = self._above
        for tsn in [t for t in above if ((new_cumulative_tsn - t) & _MASK) < _HALF]:
            above.discard(tsn)
        cum = new_cumulative_tsn
        nxt = (cum + 1) & _MASK
        while nxt in above:
            above.discard(nxt)
            cum = nxt
            nxt = (cum + 1) & _MASK
        self.cumulative_tsn = cum
        return True

    def take_duplicates(self) -> tuple[int, ...]:
        """The duplicate TSNs seen since the last call (at most :data:`MAX_DUPLICATES`), and
        forget them: each duplicate is reported in one SACK only."""
        if not self._duplicates:
            return ()
        duplicates = tuple(self._duplicates)
        self._duplicates.clear()
        return duplicates


@dataclass(frozen=True, slots=True)
class ReceivedMessage:
    """One whole message, ready for the application."""

    stream: int
    """Stream identifier (RFC 9260 section 3.3.1)."""
    ssn: int
    """Stream sequence number (meaningless, usually 0, for unordered messages)."""
    ppid: int
    """Payload protocol identifier, host order."""
    unordered: bool
    """Whether the U bit was set."""
    tsn: int
    """TSN of the message's first fragment."""
    data: bytes
    """The payload."""


class Reassembler:
    """DATA chunks in, whole messages out (RFC 9260 sections 6.5, 6.6, 6.9).

    Fragments of one message carry consecutive TSNs, the first with the B bit and the last with
    the E bit (section 6.9), so fragments are joined into runs of adjacent TSNs; a run from a B
    fragment to an E fragment is a message. This works alike for ordered and unordered
    messages. Ordered messages then wait for their turn on their stream: stream ``s`` delivers
    SSN 0, 1, 2, ... (mod 2**16) in order (section 6.5).
    """

    __slots__ = (
        "_fragments",
        "_max_message_size",
        "_next_ssn",
        "_ready",
        "_run_bytes",
        "_run_end",
        "_run_start",
        "_waiting",
        "buffered_bytes",
    )

    buffered_bytes: int
    """Payload bytes held: fragments, messages waiting for their SSN, and messages ready but
    not yet taken with :meth:`pop_messages`."""

    def __init__(self, inbound_streams: int, max_message_size: int) -> None:
        self._max_message_size = max_message_size
        self._next_ssn = [0] * inbound_streams
        # Ordered messages that are whole but not yet in turn: stream -> SSN -> message.
        self._waiting: dict[int, dict[int, ReceivedMessage]] = {}
        self._ready: list[ReceivedMessage] = []
        # Fragments by TSN, and the runs of adjacent TSNs they form: start -> end, end ->
        # start, start -> payload bytes. A run never crosses an E fragment followed by a B.
        self._fragments: dict[int, DataChunk] = {}
        self._run_end: dict[int, int] = {}
        self._run_start: dict[int, int] = {}
        self._run_bytes: dict[int, int] = {}
        self.buffered_bytes = 0

    def add(self, chunk: DataChunk) -> None:
        """Take one new DATA chunk.

        The caller has checked the stream identifier and that the TSN is new. Raises
        :class:`MessageTooLarge` once a message grows beyond the maximum message size.
        """
        size = len(chunk.data)
        if chunk.beginning and chunk.ending:
            # Unfragmented: the common case, no fragment bookkeeping.
            if size > self._max_message_size:
                raise MessageTooLarge(size, self._max_message_size)
            self.buffered_bytes += size
            self._complete(
                ReceivedMessage(
                    chunk.stream, chunk.ssn, chunk.ppid, chunk.unordered, chunk.tsn, chunk.data
                )
            )
            return
        self._add_fragment(chunk, size)

    def pop_messages(self) -> list[ReceivedMessage]:
        """The messages that became deliverable, in delivery order; they stop counting in
        :attr:`buffered_bytes`."""
        ready = self._ready
        if not ready:
            return []
        self._ready = []
        for message in ready:
            self.buffered_bytes -= len(message.data)
        return ready

    def forward(self, new_cumulative_tsn: int, streams: tuple[tuple[int, int], ...]) -> None:
        """Skip what a FORWARD TSN abandoned (RFC 3758 section 3.6): drop the fragments up to
        ``new_cumulative_tsn``, and on each ``(stream, ssn)`` deliver the whole messages up to
        that SSN and expect the next one after it."""
        fragments = self._fragments
        for start in [t for t in self._run_end if ((new_cumulative_tsn - t) & _MASK) < _HALF]:
            end = self._run_end.pop(start)
            del self._run_start[end]
            self.buffered_bytes -= self._run_bytes.pop(start)
            tsn = start
            while True:
                fragments.pop(tsn, None)
                if tsn == end:
                    break
                tsn = (tsn + 1) & _MASK
        for stream, ssn in streams:
            if stream >= len(self._next_ssn) or ssn_lt(ssn, self._next_ssn[stream]):
                continue
            waiting = self._waiting.get(stream, {})
            for held in sorted(waiting, key=lambda s: (s - self._next_ssn[stream]) & 0xFFFF):
                if ssn_lt(ssn, held):
                    break
                self._ready.append(waiting.pop(held))
            self._next_ssn[stream] = (ssn + 1) & 0xFFFF
            self._release(stream)

    def _release(self, stream: int) -> None:
        # Deliver the messages waiting on ``stream`` that are now in turn (section 6.5).
        waiting = self._waiting.get(stream)
        if waiting is None:
            return
        expected = self._next_ssn[stream]
        nxt = waiting.pop(expected, None)
        while nxt is not None:
            self._ready.append(nxt)
            expected = (expected + 1) & 0xFFFF
            nxt = waiting.pop(expected, None)
        self._next_ssn[stream] = expected
        if not waiting:
            del self._waiting[stream]

    @property
    def fragment_count(self) -> int:
        """How many fragments are held waiting for the rest of their message."""
        return len(self._fragments)

    def _add_fragment(self, chunk: DataChunk, size: int) -> None:
        tsn = chunk.tsn
        fragments = self._fragments
        fragments[tsn] = chunk
        self.buffered_bytes += size
        start = end = tsn
        run_bytes = size
        # Join the run just before, unless this fragment begins a message or that run ended one.
        if not chunk.beginning:
            before = (tsn - 1) & 0xFFFFFFFF
            prev_start = self._run_start.get(before)
            if prev_start is not None and not fragments[before].ending:
                del self._run_start[before]
                del self._run_end[prev_start]
                run_bytes += self._run_bytes.pop(prev_start)
                start = prev_start
        # Join the run just after, unless this fragment ends a message or that run begins one.
        if not chunk.ending:
            after = (tsn + 1) & 0xFFFFFFFF
            next_end = self._run_end.get(after)
            if next_end is not None and not fragments[after].beginning:
                del self._run_end[after]
                del self._run_start[next_end]
                run_bytes += self._run_bytes.pop(after)
                end = next_end
        if run_bytes > self._max_message_size:
            # Every message containing this run would be too large (section 6.9 places no
            # limit; the limit is ours, to bound memory).
            raise MessageTooLarge(run_bytes, self._max_message_size)
        first = fragments[start]
        if first.beginning and fragments[end].ending:
            self._complete(self._join(start, end, run_bytes))
            return
        self._run_end[start] = end
        self._run_start[end] = start
        self._run_bytes[start] = run_bytes

    def _join(self, start: int, end: int, run_bytes: int) -> ReceivedMessage:
        fragments = self._fragments
        first = fragments.pop(start)
        parts = [first.data]
        tsn = start
        while tsn != end:
            tsn = (tsn + 1) & 0xFFFFFFFF
            parts.append(fragments.pop(tsn).data)
        data = b"".join(parts)
        return ReceivedMessage(first.stream, first.ssn, first.ppid, first.unordered, start, data)

    def _complete(self, message: ReceivedMessage) -> None:
        if message.unordered:
            # RFC 9260 section 6.6: unordered messages bypass the stream's ordering.
            self._ready.append(message)
            return
        stream = message.stream
        expected = self._next_ssn[stream]
        ssn = message.ssn
        if ssn == expected:
            self._ready.append(message)
            self._next_ssn[stream] = (expected + 1) & 0xFFFF
            if stream in self._waiting:
                # Release the messages that were waiting for this one (section 6.5).
                self._release(stream)
            return
        if ssn_lt(ssn, expected) or ssn in self._waiting.get(stream, ()):
            # An SSN already delivered (or held): only a misbehaving peer reuses one under new
            # TSNs. Dropping it keeps delivery exactly-once and memory bounded.
            self.buffered_bytes -= len(message.data)
            return
        self._waiting.setdefault(stream, {})[ssn] = message
