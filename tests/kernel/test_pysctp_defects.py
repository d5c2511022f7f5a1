"""None of pysctp's known defects (shared/design/PYSCTP.md) reaches sctpmh's users.

Where each point is proven:

1. PPID byte order: test_multihoming_slice.py::test_ppid_is_a_host_order_integer_both_ways
   and test_echo_matrix.py::test_ppids_round_trip_from_the_server_side_too (0, 0x80,
   0xFFFFFFFF both ways), tests/unit/test_sockapi.py (the bytes on the wire).
2. Leaking non-blocking receives: test_reading_an_empty_socket_allocates_nothing below.
3. Notifications: test_path_loss.py (send-failed data comes back as the exact bytes, not
   text), test_failover.py (peer address changes), tests/unit/test_sockapi.py (decoding).
   Subscription is per event (SCTP_EVENT), which those tests rely on.
4. Address queries on one-to-many sockets: the server side of every test reads the peer's
   addresses by association id (test_multihoming_slice.py).
5. Sending by association id on one-to-many sockets:
   test_one_to_many_replies_reach_the_right_association below.
6. peeloff: sctpmh never peels off; test_load.py checks the fd count after 1,000 associations.
7. IPv6 bindx / connectx: test_echo_matrix.py (IPv6 and mixed, two addresses a side).
8. Heartbeat parameters: test_heartbeat_interval_is_applied below.
9. uvloop: every kernel test runs on uvloop as well as the default loop.
10. Found here: pysctp's set_rtoinfo / get_rtoinfo leak 96 bytes a call and get_assocparams
    32; test_preparing_and_inspecting_sockets_leaks_nothing below.
"""

from __future__ import annotations

import asyncio
import gc
import os
import socket
import tracemalloc

import pytest

import sctpmh
from sctpmh.kernel import sockapi

pytestmark = pytest.mark.kernel


def resident_kib() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


async def test_reading_an_empty_socket_allocates_nothing() -> None:
    """pysctp's non-blocking sctp_recv leaks a block per EAGAIN; sctpmh's reader reuses one
    buffer. 200,000 reads of an empty socket must leave the process size where it was."""

    async def idle(association: sctpmh.Association) -> None:
        await association.wait_closed()

    async with await sctpmh.create_server(idle, ["127.0.0.1"], 0) as server:
        async with sctpmh.open_association(["127.0.0.1"], server.port) as association:
            sock: socket.socket = association.transport.get_extra_info("socket")
            buffer = memoryview(bytearray(65536))

            def read_empty(times: int) -> int:
                refused = 0
                for _ in range(times):
                    try:
                        sock.recvmsg_into([buffer], sockapi.RCVINFO_SPACE)
                    except BlockingIOError:
                        refused += 1
                return refused

            assert read_empty(1000) == 1000  # also warms up allocator caches
            before = resident_kib()
            assert read_empty(200_000) == 200_000
            grown = resident_kib() - before
    # pysctp mallocs the whole buffer per call and leaks about a block each time: gigabytes
    # here. Even 64 bytes a call would be 12.5 MiB; allocator noise stays well under 8 MiB.
    assert grown < 8 * 1024, f"resident size grew by {grown} KiB"


async def test_one_to_many_replies_reach_the_right_association() -> None:
    async def tagged_echo(association: sctpmh.Association) -> None:
        async for message in association:
            reply = message.data + b" for %d" % association.association_id
            await association.send(reply, stream=message.stream, ppid=message.ppid)

    async with await sctpmh.create_server(tagged_echo, ["127.0.0.1"], 0) as server:
        clients = [await sctpmh.open_association(["127.0.0.1"], server.port) for _ in range(5)]
        for i, client in enumerate(clients):
            await client.send(b"client %d" % i, stream=1)
        replies = [await asyncio.wait_for(client.recv(), 10) for client in clients]
        server_ids = {a.association_id for a in server.associations}
        assert len(server_ids) == 5
        for i, reply in enumerate(replies):
            text, _, server_id = reply.data.rpartition(b" for ")
            assert text == b"client %d" % i
            assert int(server_id) in server_ids
        assert len({r.data.rpartition(b" for ")[2] for r in replies}) == 5
        for client in clients:
            await client.aclose()


async def test_heartbeat_interval_is_applied() -> None:
    config = sctpmh.Config(heartbeat_interval=0.7)

    async def idle(association: sctpmh.Association) -> None:
        await association.wait_closed()

    async with await sctpmh.create_server(idle, ["127.0.0.1"], 0, config=config) as server:
        async with sctpmh.open_association(
            ["127.0.0.1"], server.port, config=config
        ) as association:
            sock = association.transport.get_extra_info("socket")
            interval = sockapi.get_heartbeat_interval(sock, association.association_id)
            assert interval == pytest.approx(0.7)


@pytest.mark.parametrize(
    "config",
    [
        sctpmh.Config(),
        sctpmh.Config.fast_failover(),
        sctpmh.Config(rto_initial=2.0, rto_min=0.5, rto_max=9.0, potentially_failed_threshold=2),
    ],
    ids=["defaults", "fast-failover", "custom"],
)
async def test_config_is_what_the_kernel_applies_on_both_sides(config: sctpmh.Config) -> None:
    server_side: asyncio.Future[sctpmh.Association] = asyncio.get_running_loop().create_future()

    async def hold(association: sctpmh.Association) -> None:
        server_side.set_result(association)
        await association.wait_closed()

    pf = config.potentially_failed_threshold
    expected = sockapi.AssociationParameters(
        rto_initial=config.rto_initial,
        rto_min=config.rto_min,
        rto_max=config.rto_max,
        heartbeat_interval=config.heartbeat_interval,
        path_max_retransmissions=config.path_max_retransmissions,
        association_max_retransmissions=config.association_max_retransmissions,
        # "Off" is a threshold no path reaches before failing (RFC 7829).
        potentially_failed_threshold=config.path_max_retransmissions if pf is None else pf,
    )
    async with await sctpmh.create_server(hold, ["127.0.0.1"], 0, config=config) as server:
        async with sctpmh.open_association(
            ["127.0.0.1"], server.port, config=config
        ) as association:
            peer = await asyncio.wait_for(server_side, 10)
            for side in (association, peer):
                sock = side.transport.get_extra_info("socket")
                applied = sockapi.get_association_parameters(sock, side.association_id)
                assert applied == expected


def test_preparing_and_inspecting_sockets_leaks_nothing() -> None:
    config = sctpmh.Config.fast_failover()

    def one_round() -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_SEQPACKET, socket.IPPROTO_SCTP) as sock:
            sockapi.prepare_socket(sock, config)
            sockapi.get_association_parameters(sock, 0)

    for _ in range(100):  # warm up caches
        one_round()
    tracemalloc.start()
    try:
        gc.collect()
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(2000):
            one_round()
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    # pysctp's rtoinfo calls alone would leave 2000 * 192 bytes = 375 KiB behind.
    assert grown < 16 * 1024, f"{grown} bytes left after 2000 sockets"
