"""Property: whatever the messages and the network's impairments, every message is delivered
exactly once, and ordered messages in the order sent on their stream (RFC 9260 sections 6.5,
6.6, 6.9)."""

from __future__ import annotations

import struct
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from sctpmh.events import Message
from tests.core.simnet import SimNet, pair

_ID = struct.Struct("!I")

messages_strategy = st.lists(
    st.tuples(
        st.integers(min_value=_ID.size, max_value=4000),  # size: up to ~3 fragments at MTU 1280
        st.integers(min_value=0, max_value=3),  # stream
        st.booleans(),  # unordered
    ),
    min_size=1,
    max_size=60,
)

impairments = st.fixed_dictionaries(
    {
        "loss": st.sampled_from([0.0, 0.02, 0.1, 0.2]),
        "duplicate": st.sampled_from([0.0, 0.05, 0.2]),
        "reorder": st.sampled_from([0.0, 0.1, 0.3]),
    }
)


def delivered(net: SimNet) -> list[Message]:
    return [e for e in net.events("server") if isinstance(e, Message)]


@settings(max_examples=100, deadline=None)
@given(messages=messages_strategy, network=impairments, seed=st.integers(0, 2**16))
def test_exactly_once_and_in_order_per_stream(
    messages: list[tuple[int, int, bool]], network: dict[str, float], seed: int
) -> None:
    net, client, _ = pair(seed=seed)
    net.configure_all(**network)
    sent: list[tuple[bytes, int, bool]] = []
    for index, (size, stream, unordered) in enumerate(messages):
        data = _ID.pack(index) + bytes([index & 0xFF]) * (size - _ID.size)
        client.send(data, stream=stream, unordered=unordered, now=net.now)
        sent.append((data, stream, unordered))
    net.run(lambda: len(delivered(net)) >= len(sent), max_time=3600, max_steps=500_000)
    net.run_for(5.0)  # give late duplicates the chance to be (wrongly) delivered

    got = delivered(net)
    assert Counter((m.data, m.stream, m.unordered) for m in got) == Counter(sent)
    for stream in range(4):
        sent_order = [d for d, s, u in sent if s == stream and not u]
        got_order = [m.data for m in got if m.stream == stream and not m.unordered]
        assert got_order == sent_order
