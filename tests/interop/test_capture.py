"""The capture checker itself (lab/capture.py): clean SCTP over UDP passes with a report of
its chunks; a bad checksum, a malformed packet, UDP on another port and plain SCTP fail,
naming the frame; an empty capture fails."""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import Iterator

import pytest

import sctpmh
from lab import capture, netlab
from sctpmh.core.chunks import InitChunk
from sctpmh.core.packet import Packet, encode_packet
from sctpmh.userspace.udp import UdpBackend
from tests.interop.peers import loopback_namespace, require_capture_tools

pytestmark = pytest.mark.netns

PORTS = (9899, 9900)


@pytest.fixture
def namespace() -> Iterator[netlab.Namespace]:
    require_capture_tools()
    with loopback_namespace() as ns:
        yield ns


def _init_packet() -> bytes:
    init = InitChunk(
        initiate_tag=0x1234,
        a_rwnd=65536,
        outbound_streams=1,
        inbound_streams=1,
        initial_tsn=1,
        params=(),
    )
    return encode_packet(Packet(5000, 7, 0, (init,)))


def _udp(namespace: netlab.Namespace, *datagrams: tuple[bytes, int]) -> None:
    with namespace.entered():
        sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    with sender:  # from an ephemeral port: only the destination port says what it is
        for data, port in datagrams:
            sender.sendto(data, ("127.0.0.1", port))


async def _echo_once(namespace: netlab.Namespace) -> None:
    async def echo(association: sctpmh.Association) -> None:
        async for message in association:
            await association.send(message.data, stream=message.stream, ppid=message.ppid)

    with namespace.entered():
        server = await sctpmh.create_server(
            echo, ["127.0.0.1"], 5000, backend=UdpBackend(port=9899)
        )
        association = await sctpmh.open_association(
            ["127.0.0.1"], 5000, backend=UdpBackend(port=9900, remote_port=9899), timeout=30
        )
    async with server:
        # PPID 7 is H.248: the checker must not judge the payload by it.
        await association.send(b"hi", stream=1, ppid=7)
        assert (await asyncio.wait_for(association.recv(), 30)).data == b"hi"
        await asyncio.wait_for(association.close(), 30)


def test_clean_sctp_over_udp_passes_with_its_chunks(namespace: netlab.Namespace) -> None:
    with capture.captured(namespace, PORTS) as reports:
        asyncio.run(_echo_once(namespace))
    (report,) = reports
    chunks = [chunk for frame in report.frames for chunk in frame.chunks]
    for expected in ("INIT", "INIT_ACK", "COOKIE_ECHO", "COOKIE_ACK", "DATA", "SACK"):
        assert expected in chunks
    assert chunks[-3:] == ["SHUTDOWN", "SHUTDOWN_ACK", "SHUTDOWN_COMPLETE"]
    assert {frame.udp_ports for frame in report.frames} == {(9900, 9899), (9899, 9900)}


def test_bad_checksum_malformed_and_foreign_udp_are_named(namespace: netlab.Namespace) -> None:
    good = _init_packet()
    bad_crc = good[:8] + bytes(4) + good[12:]
    with pytest.raises(capture.CaptureError) as failure:
        with capture.captured(namespace, PORTS):
            _udp(namespace, (good, 9899), (bad_crc, 9899), (b"xx", 9899), (good, 1234))
    message = str(failure.value)
    assert re.search(r"frame \d+ \(INIT \): bad SCTP checksum", message), message
    assert re.search(r"frame \d+ \([^)]*Malformed[^)]*\)\)?: malformed", message), message
    assert re.search(r"frame \d+ .*UDP outside the SCTP-over-UDP ports", message), message
    assert message.count("frame ") == 3  # the good packet is not named


def test_plain_sctp_fails(namespace: netlab.Namespace) -> None:
    with namespace.entered():
        raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_SCTP)
    with raw, pytest.raises(capture.CaptureError, match=r"frame \d+ .*SCTP straight over IP"):
        with capture.captured(namespace, PORTS):
            raw.sendto(_init_packet(), ("127.0.0.1", 0))


def test_an_empty_capture_fails(namespace: netlab.Namespace) -> None:
    with pytest.raises(capture.CaptureError, match="no SCTP packet was captured"):
        with capture.captured(namespace, PORTS):
            pass
