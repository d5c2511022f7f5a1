"""The host fault tools of ``lab/netlab.py`` themselves, with plain UDP sockets in the two
namespaces: per-path and all-path random loss and the nftables cut drop what they should,
in both directions, and nothing once removed."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from lab import netlab

pytestmark = pytest.mark.netns

PORT = netlab.SCTP_OVER_UDP_PORT
SO_RCVBUFFORCE = 33  # linux/asm-generic/socket.h; not in Python's socket module
COUNT = 400


def delivered(topology: netlab.Topology, index: int, *, to_left: bool) -> int:
    """Send COUNT datagrams over path ``index`` one way; how many arrived."""
    path = topology.paths[index]
    if to_left:
        source, destination = (topology.right, path.right_v4), (topology.left, path.left_v4)
    else:
        source, destination = (topology.left, path.left_v4), (topology.right, path.right_v4)
    with destination[0].entered():
        receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    with source[0].entered():
        sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    with receiver, sender:
        # Room for every datagram at once (SO_RCVBUFFORCE, root): only the rules may drop.
        receiver.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 4 << 20)
        receiver.bind((destination[1], PORT))
        receiver.settimeout(0.2)
        sender.bind((source[1], PORT))
        for i in range(COUNT):
            sender.sendto(b"%d" % i, (destination[1], PORT))
        return sum(1 for _ in _drain(receiver))


def _drain(receiver: socket.socket) -> Iterator[bytes]:
    while True:
        try:
            yield receiver.recv(2048)
        except TimeoutError:
            return


def both_ways(topology: netlab.Topology, index: int) -> tuple[int, int]:
    return delivered(topology, index, to_left=True), delivered(topology, index, to_left=False)


def test_loss_on_one_path_cut_and_all_paths(topology: netlab.Topology) -> None:
    assert both_ways(topology, 0) == (COUNT, COUNT)
    topology.set_loss(100, 0)
    assert both_ways(topology, 0) == (0, 0)
    assert both_ways(topology, 1) == (COUNT, COUNT)  # per path: the other one untouched
    assert topology.dropped() == 2 * COUNT
    topology.set_loss(0, 0)
    assert both_ways(topology, 0) == (COUNT, COUNT)

    topology.set_loss(50)
    for index in (0, 1):
        for arrived in both_ways(topology, index):
            assert COUNT * 0.3 < arrived < COUNT * 0.7
    topology.set_loss(0)
    assert topology.dropped() == 0  # the removed faults took their counters with them

    topology.cut(1, "drop")
    assert both_ways(topology, 1) == (0, 0)
    topology.restore(1, "drop")
    assert both_ways(topology, 1) == (COUNT, COUNT)
