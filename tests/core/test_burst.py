"""Max.Burst (RFC 9260 section 6.1 D) when the glue reads several packets before it sends: each
SACK that arrived is a transmission opportunity of its own, and a SACK is due after every
second DATA packet whether or not more packets wait to be read (section 6.2)."""

from __future__ import annotations

from collections.abc import Sequence

from sctpmh.core.association import Association, State
from sctpmh.core.chunks import DataChunk
from sctpmh.core.packet import decode_packet
from tests.core.simnet import CLIENT_ADDRESS, SERVER_ADDRESS, make_association

MAX_BURST = 4
PAYLOAD = bytes(1000)  # one DATA chunk per packet at the default 1,280-byte MTU


def _deliver(sender: Association, receiver: Association, source: tuple[str, int]) -> int:
    """Hand everything ``sender`` has to ``receiver`` at once; the number of packets."""
    datagrams = sender.datagrams_to_send(0.0)
    for data, _, _ in datagrams:
        receiver.receive_datagram(data, source, 0.0)
    return len(datagrams)


def _established() -> tuple[Association, Association]:
    client = make_association(CLIENT_ADDRESS, SERVER_ADDRESS, seed=1)
    server = make_association(SERVER_ADDRESS, CLIENT_ADDRESS, seed=2)
    client.connect([SERVER_ADDRESS], 0.0)
    while not (client.state is State.ESTABLISHED and server.state is State.ESTABLISHED):
        moved = _deliver(client, server, CLIENT_ADDRESS)
        moved += _deliver(server, client, SERVER_ADDRESS)
        assert moved, "the handshake stalled"
    return client, server


def _data_packets(datagrams: Sequence[tuple[bytes, object, object]]) -> list[bytes]:
    return [
        data
        for data, _, _ in datagrams
        if any(type(chunk) is DataChunk for chunk in decode_packet(data).chunks)
    ]


def _grow_cwnd(client: Association, server: Association) -> None:
    """Run a transfer long enough for slow start to open the window wide."""
    for _ in range(50):
        for _ in range(40):  # more than the window takes: the window is used in full
            client.send(PAYLOAD, stream=0, now=0.0)
        while True:
            # The server reads what the client sent and answers as the endpoint glue does:
            # a SACK as soon as one is due; the client reads them all, then sends.
            datagrams = client.datagrams_to_send(0.0)
            sacks = []
            for data, _, _ in datagrams:
                server.receive_datagram(data, CLIENT_ADDRESS, 0.0)
                if server.sack_due:
                    sacks += server.datagrams_to_send(0.0)
            sacks += server.datagrams_to_send(0.0)
            for data, _, _ in sacks:
                client.receive_datagram(data, SERVER_ADDRESS, 0.0)
            if not datagrams and not sacks:
                break
        while server.next_event() is not None:
            pass
    while _deliver(client, server, CLIENT_ADDRESS) + _deliver(server, client, SERVER_ADDRESS):
        pass


def test_a_sack_is_due_after_the_second_data_packet() -> None:
    client, server = _established()
    _grow_cwnd(client, server)
    for _ in range(4):
        client.send(PAYLOAD, stream=0, now=0.0)
    packets = _data_packets(client.datagrams_to_send(0.0))
    assert len(packets) == MAX_BURST
    for first, second in (packets[:2], packets[2:]):
        server.receive_datagram(first, CLIENT_ADDRESS, 0.0)
        server.receive_datagram(second, CLIENT_ADDRESS, 0.0)
        assert server.sack_due
        server.datagrams_to_send(0.0)  # the SACK goes
        assert not server.sack_due
    client.send(PAYLOAD, stream=0, now=0.0)
    (lone,) = _data_packets(client.datagrams_to_send(0.0))
    server.receive_datagram(lone, CLIENT_ADDRESS, 0.0)
    assert not server.sack_due  # one packet: the SACK may wait for its delay


def test_every_sack_read_before_sending_opens_a_burst() -> None:
    client, server = _established()
    _grow_cwnd(client, server)
    for _ in range(40):
        client.send(PAYLOAD, stream=0, now=0.0)
    packets = _data_packets(client.datagrams_to_send(0.0))
    assert len(packets) == MAX_BURST  # one opportunity: one burst
    # The receiver acknowledges every second packet: two SACKs, which the client reads
    # together before it is asked for packets.
    sacks = []
    for pair in (packets[:2], packets[2:]):
        for data in pair:
            server.receive_datagram(data, CLIENT_ADDRESS, 0.0)
        assert server.sack_due
        sacks += [data for data, _, _ in server.datagrams_to_send(0.0)]
    assert len(sacks) == 2
    for data in sacks:
        client.receive_datagram(data, SERVER_ADDRESS, 0.0)
    assert len(_data_packets(client.datagrams_to_send(0.0))) == 2 * MAX_BURST
