"""Numbered traffic for the namespace tests: what is sent, and a receiver that checks every
message arrives exactly once and in order on its stream; plus a live view of path states."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import sctpmh
from sctpmh.userspace.transport import UserspaceTransport

STREAMS = 4
#: Messages carry at least this many bytes: a 1280-byte packet holds at most this many.
MIN_SIZE = 100
PER_PACKET_AT_MOST = 1280 // MIN_SIZE


def numbered(i: int) -> tuple[int, bytes]:
    """Message ``i`` of a run: its stream and its payload, ``b"stream:seq:"`` padded to
    100..340 bytes, so that messages of several sizes share packets."""
    stream = i % STREAMS
    head = b"%d:%d:" % (stream, i // STREAMS)
    return stream, head.ljust(MIN_SIZE + i % 7 * 40, b".")


async def send_numbered(association: sctpmh.Association, start: int, stop: int) -> None:
    """Send messages ``start`` .. ``stop - 1`` with flow control (``await send``)."""
    for i in range(start, stop):
        stream, payload = numbered(i)
        await association.send(payload, stream=stream)


class Receiver:
    """A server handler that checks the numbered messages as they come: each stream's
    sequence numbers exactly 0, 1, 2, ... (nothing lost, nothing twice, order kept, RFC 9260
    section 6.6) and every payload as sent."""

    def __init__(self) -> None:
        self.count = 0
        self.next_seq = [0] * STREAMS
        self.problems: list[str] = []
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []

    async def handler(self, association: sctpmh.Association) -> None:
        async for message in association:
            self.take(message)

    def take(self, message: sctpmh.Message) -> None:
        stream, seq, _ = message.data.split(b":", 2)
        expected = self.next_seq[message.stream]
        i = expected * STREAMS + message.stream
        wrong = int(stream) != message.stream or int(seq) != expected
        if (wrong or message.data != numbered(i)[1]) and len(self.problems) < 10:
            self.problems.append(
                f"stream {message.stream}: wanted message {expected}, got {message.data[:20]!r}"
            )
        self.next_seq[message.stream] = int(seq) + 1
        self.count += 1
        for count, waiter in self._waiters:
            if self.count >= count and not waiter.done():
                waiter.set_result(None)

    async def wait_for(self, count: int, within: float) -> None:
        """Wait (at most ``within`` seconds) until ``count`` messages have arrived."""
        if self.count >= count:
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append((count, waiter))
        try:
            await asyncio.wait_for(waiter, within)
        except TimeoutError:
            raise AssertionError(
                f"{self.count} of {count} messages arrived in {within} s"
            ) from None
        finally:
            self._waiters.remove((count, waiter))

    def check(self, sent: int) -> None:
        """Messages 0 .. ``sent - 1`` arrived, each once, in order on its stream."""
        assert self.problems == []
        assert self.count == sent
        assert self.next_seq == [len(range(s, sent, STREAMS)) for s in range(STREAMS)]


class PathStates:
    """One association's path states, kept current from its PathStateChanged events."""

    def __init__(self, association: sctpmh.Association) -> None:
        self.states = {p.address: p.state for p in association.paths}
        self.changes: list[tuple[tuple[str, int], sctpmh.PathState]] = []
        self._changed = asyncio.Condition()
        self._task = asyncio.create_task(self._watch(association.events()))

    async def _watch(self, events: AsyncIterator[sctpmh.Event]) -> None:
        async for event in events:
            if isinstance(event, sctpmh.PathStateChanged):
                async with self._changed:
                    self.states[event.address] = event.state
                    self.changes.append((event.address, event.state))
                    self._changed.notify_all()

    async def reach(self, address: tuple[str, int], state: sctpmh.PathState, within: float) -> None:
        """Wait (at most ``within`` seconds) until ``address`` is in ``state``."""
        async with self._changed:
            try:
                await asyncio.wait_for(
                    self._changed.wait_for(lambda: self.states[address] is state), within
                )
            except TimeoutError:
                raise AssertionError(
                    f"{address} not {state.value} after {within} s: {self.states[address].value}"
                ) from None

    def close(self) -> None:
        self._task.cancel()


def core_stats(association: sctpmh.Association) -> dict[str, int]:
    """The userspace core's counters of ``association`` (retransmissions and the like)."""
    transport = association._transport
    assert isinstance(transport, UserspaceTransport)
    return transport.core.stats.as_dict()
