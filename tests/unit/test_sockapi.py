"""Tests for the pure (socket-free) parts of sctpmh.kernel.sockapi.

The expected bytes are written by hand from the Linux UAPI layouts in ``<linux/sctp.h>``,
``<netinet/in.h>`` and ``<linux/in6.h>``, field by field, never by calling the code under test:
integer fields of the kernel structs are native-endian, ports, addresses, PPIDs and
``sre_error`` are network order (big-endian).
"""

from __future__ import annotations

import ipaddress
import socket
import struct
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sctpmh
from sctpmh.events import (
    AssociationRestarted,
    AssociationUp,
    PathAdded,
    PathRemoved,
    PathState,
    PathStateChanged,
    PeerShutdown,
    PrimaryChanged,
    RemoteError,
    SenderDry,
    SendFailed,
)
from sctpmh.kernel import sockapi
from sctpmh.kernel.diagnose import diagnose, sctp_socket_error
from sctpmh.kernel.sockapi import (
    AssociationEnded,
    Notification,
    RecvInfo,
    decode_notification,
    pack_sockaddrs,
    parse_rcvinfo,
    sndinfo_cmsg,
    unpack_sockaddr,
)

# No example database: the tests must not leave files behind in the checkout.
quick = settings(database=None, deadline=None, max_examples=300)

AF_INET = int(socket.AF_INET)  # 2 on Linux
AF_INET6 = int(socket.AF_INET6)  # 10 on Linux
IPPROTO_SCTP = 132  # SOL_SCTP
SCTP_SNDINFO = 2  # enum sctp_cmsg_type: SCTP_INIT, SCTP_SNDRCV, SCTP_SNDINFO, SCTP_RCVINFO
SCTP_RCVINFO = 3
SOCKADDR_STORAGE = 128

# enum sctp_sn_type: SCTP_SN_TYPE_BASE = 1 << 15, then one per entry.
SCTP_ASSOC_CHANGE = 0x8001
SCTP_PEER_ADDR_CHANGE = 0x8002
SCTP_REMOTE_ERROR = 0x8004
SCTP_SHUTDOWN_EVENT = 0x8005
SCTP_PARTIAL_DELIVERY_EVENT = 0x8006
SCTP_SENDER_DRY_EVENT = 0x8009
SCTP_SEND_FAILED_EVENT = 0x800D


# --- byte builders (independent of the module under test) ----------------------------------


def ne16(value: int) -> bytes:
    return value.to_bytes(2, sys.byteorder)


def ne32(value: int) -> bytes:
    return value.to_bytes(4, sys.byteorder)


def ne32s(value: int) -> bytes:
    """A native-endian signed 32-bit int (sctp_assoc_t, int)."""
    return value.to_bytes(4, sys.byteorder, signed=True)


def be16(value: int) -> bytes:
    return value.to_bytes(2, "big")


def be32(value: int) -> bytes:
    return value.to_bytes(4, "big")


def sockaddr_in(host: str, port: int) -> bytes:
    """struct sockaddr_in: sa_family_t family, __be16 port, struct in_addr, 8 zero bytes."""
    raw = bytes(int(part) for part in host.split("."))
    return ne16(AF_INET) + be16(port) + raw + bytes(8)


def sockaddr_in6(packed: bytes, port: int, scope: int = 0) -> bytes:
    """struct sockaddr_in6: family, __be16 port, __be32 flowinfo, in6_addr, __u32 scope id."""
    assert len(packed) == 16
    return ne16(AF_INET6) + be16(port) + be32(0) + packed + ne32(scope)


def header(kind: int, flags: int, length: int) -> bytes:
    """struct sctp_notification's common header: __u16 type, __u16 flags, __u32 length."""
    return ne16(kind) + ne16(flags) + ne32(length)


def assoc_change(
    state: int, *, error: int = 0, outbound: int = 0, inbound: int = 0, assoc_id: int = 7
) -> bytes:
    """struct sctp_assoc_change: header, __u16 state, error, outbound, inbound; assoc_id."""
    body = ne16(state) + ne16(error) + ne16(outbound) + ne16(inbound) + ne32s(assoc_id)
    return header(SCTP_ASSOC_CHANGE, 0, 8 + len(body)) + body


def paddr_change(address: bytes, state: int, *, error: int = 0, assoc_id: int = 7) -> bytes:
    """struct sctp_paddr_change (packed, aligned(4)): header (8), sockaddr_storage at 8 (128),
    int state at 136, int error at 140, sctp_assoc_t at 144: 148 bytes."""
    storage = address.ljust(SOCKADDR_STORAGE, b"\0")
    body = storage + ne32s(state) + ne32s(error) + ne32s(assoc_id)
    data = header(SCTP_PEER_ADDR_CHANGE, 0, 8 + len(body)) + body
    assert len(data) == 148
    return data


def sndinfo(sid: int, flags: int, ppid_wire: bytes, context: int, assoc_id: int) -> bytes:
    """struct sctp_sndinfo: __u16 sid, __u16 flags, __u32 ppid (wire order), __u32 context,
    sctp_assoc_t assoc_id: 16 bytes, no padding."""
    return ne16(sid) + ne16(flags) + ppid_wire + ne32(context) + ne32s(assoc_id)


def rcvinfo(
    *,
    sid: int = 0,
    ssn: int = 0,
    flags: int = 0,
    ppid_wire: bytes = bytes(4),
    tsn: int = 0,
    cumtsn: int = 0,
    context: int = 0,
    assoc_id: int = 0,
) -> bytes:
    """struct sctp_rcvinfo: __u16 sid, ssn, flags, 2 bytes padding (ppid is 4-aligned),
    __u32 ppid (wire order), tsn, cumtsn, context, sctp_assoc_t assoc_id: 28 bytes."""
    data = (
        ne16(sid)
        + ne16(ssn)
        + ne16(flags)
        + b"\0\0"
        + ppid_wire
        + ne32(tsn)
        + ne32(cumtsn)
        + ne32(context)
        + ne32s(assoc_id)
    )
    assert len(data) == 28
    return data


# --- sockaddr packing -------------------------------------------------------------------------


def test_ipv4_sockaddr_layout() -> None:
    packed = pack_sockaddrs([("192.0.2.1", 0x1234)])
    assert len(packed) == 16
    assert packed[0:2] == ne16(AF_INET)
    assert packed[2:4] == b"\x12\x34"  # port, big-endian
    assert packed[4:8] == b"\xc0\x00\x02\x01"
    assert packed[8:16] == bytes(8)
    assert packed == sockaddr_in("192.0.2.1", 0x1234)


def test_ipv6_sockaddr_layout() -> None:
    packed = pack_sockaddrs([("2001:db8::1", 0xABCD)])
    assert len(packed) == 28
    assert packed[0:2] == ne16(AF_INET6)
    assert packed[2:4] == b"\xab\xcd"
    assert packed[4:8] == bytes(4)  # flowinfo
    assert packed[8:24] == b"\x20\x01\x0d\xb8" + bytes(11) + b"\x01"
    assert packed[24:28] == ne32(0)  # scope id
    assert packed == sockaddr_in6(b"\x20\x01\x0d\xb8" + bytes(11) + b"\x01", 0xABCD)


def test_scoped_ipv6_keeps_scope_id() -> None:
    link_local = b"\xfe\x80" + bytes(13) + b"\x01"
    packed = pack_sockaddrs([("fe80::1%1", 9)])
    assert packed == sockaddr_in6(link_local, 9, scope=1)
    assert unpack_sockaddr(packed) == (("fe80::1%1", 9), 28)


def test_scoped_ipv6_by_interface_name() -> None:
    index = socket.if_nametoindex("lo")
    packed = pack_sockaddrs([("fe80::2%lo", 5)])
    assert packed[24:28] == ne32(index)
    assert unpack_sockaddr(packed)[0] == (f"fe80::2%{index}", 5)


@pytest.mark.parametrize(
    ("host", "port"),
    [
        ("127.0.0.1", 1),
        ("0.0.0.0", 0),
        ("255.255.255.255", 65535),
        ("10.1.2.3", 36412),
        ("::1", 2905),
        ("::", 0),
        ("2001:db8:1:2:3:4:5:6", 65535),
        ("fe80::abcd%3", 80),
    ],
)
def test_sockaddr_round_trip(host: str, port: int) -> None:
    packed = pack_sockaddrs([(host, port)])
    expected_size = 16 if ":" not in host else 28
    assert unpack_sockaddr(packed) == ((host, port), expected_size)


def test_unpack_normalises_ipv6_text() -> None:
    packed = pack_sockaddrs([("2001:DB8:0:0::1", 1)])
    assert unpack_sockaddr(packed)[0] == ("2001:db8::1", 1)


def test_mixed_list_and_offsets() -> None:
    addresses = [
        ("192.0.2.1", 1000),
        ("2001:db8::5", 1000),
        ("198.51.100.7", 1000),
        ("::1", 1000),
        ("fe80::1%1", 1000),
    ]
    packed = pack_sockaddrs(addresses)
    expected = (
        sockaddr_in("192.0.2.1", 1000)
        + sockaddr_in6(ipaddress.IPv6Address("2001:db8::5").packed, 1000)
        + sockaddr_in("198.51.100.7", 1000)
        + sockaddr_in6(ipaddress.IPv6Address("::1").packed, 1000)
        + sockaddr_in6(ipaddress.IPv6Address("fe80::1").packed, 1000, scope=1)
    )
    assert packed == expected
    # Walk the array the way _get_addresses does, after an 8-byte sctp_getaddrs header.
    buffer = b"\xee" * 8 + packed
    offset, offsets, decoded = 8, [], []
    for _ in addresses:
        offsets.append(offset)
        address, offset = unpack_sockaddr(buffer, offset)
        decoded.append(address)
    assert decoded == addresses
    assert offsets == [8, 24, 52, 68, 96]
    assert offset == len(buffer)


def test_unpack_accepts_memoryview() -> None:
    data = memoryview(sockaddr_in("203.0.113.9", 4242))
    assert unpack_sockaddr(data) == (("203.0.113.9", 4242), 16)


def test_pack_empty_list() -> None:
    assert pack_sockaddrs([]) == b""


@pytest.mark.parametrize("family", [0, int(socket.AF_UNIX), 0xFFFF])
def test_unpack_unknown_family_raises(family: int) -> None:
    with pytest.raises(ValueError, match="family"):
        unpack_sockaddr(ne16(family) + bytes(26))


def test_pack_rejects_host_names() -> None:
    with pytest.raises(ValueError, match="example"):
        pack_sockaddrs([("example.com", 1)])


@quick
@given(
    st.lists(
        st.tuples(st.ip_addresses(), st.integers(min_value=0, max_value=65535)),
        min_size=1,
        max_size=8,
    )
)
def test_sockaddr_round_trip_property(
    items: list[tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, int]],
) -> None:
    addresses = [(str(address), port) for address, port in items]
    packed = pack_sockaddrs(addresses)
    sizes = [16 if address.version == 4 else 28 for address, _ in items]
    assert len(packed) == sum(sizes)
    offset = 0
    for (address, port), size in zip(items, sizes, strict=True):
        decoded, next_offset = unpack_sockaddr(packed, offset)
        assert next_offset == offset + size
        # IPv4-mapped IPv6 addresses (what AF_INET6 sockets report for IPv4 peers) come back
        # as plain IPv4.
        mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
        assert ipaddress.ip_address(decoded[0]) == (mapped or address)
        assert decoded[1] == port
        assert packed[offset + 2 : offset + 4] == be16(port)
        offset = next_offset


# --- SCTP_SNDINFO -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ppid", "wire"),
    [
        (0x80, b"\x00\x00\x00\x80"),
        (0xFFFFFFFF, b"\xff\xff\xff\xff"),
        (0x12345678, b"\x12\x34\x56\x78"),
        (0, b"\x00\x00\x00\x00"),
        (46, b"\x00\x00\x00\x2e"),  # Diameter
    ],
)
def test_sndinfo_ppid_in_network_order(ppid: int, wire: bytes) -> None:
    level, kind, data = sndinfo_cmsg(3, ppid, 0, 1)
    assert (level, kind) == (IPPROTO_SCTP, SCTP_SNDINFO)
    assert len(data) == 16
    assert data[4:8] == wire


def test_sndinfo_layout() -> None:
    flags = 0x0001 | 0x0200  # SCTP_UNORDERED | SCTP_EOF
    level, kind, data = sndinfo_cmsg(0x0102, 0x12345678, flags, 0x0A0B0C0D)
    assert (level, kind) == (132, 2)
    assert data[0:2] == ne16(0x0102)  # snd_sid
    assert data[2:4] == ne16(flags)  # snd_flags
    assert data[4:8] == b"\x12\x34\x56\x78"  # snd_ppid, as it goes on the wire
    assert data[8:12] == bytes(4)  # snd_context
    assert data[12:16] == ne32s(0x0A0B0C0D)  # snd_assoc_id
    assert data == sndinfo(0x0102, flags, b"\x12\x34\x56\x78", 0, 0x0A0B0C0D)


@pytest.mark.parametrize("assoc_id", [0, 1, -1, 2**31 - 1, -(2**31)])
def test_sndinfo_assoc_id_is_signed(assoc_id: int) -> None:
    data = sndinfo_cmsg(0, 0, 0, assoc_id)[2]
    assert data[12:16] == ne32s(assoc_id)


def test_sndinfo_flag_constants_match_header() -> None:
    # enum sctp_sinfo_flags in <linux/sctp.h>; SCTP_EOF is MSG_FIN.
    assert sockapi.SCTP_UNORDERED == 1 << 0
    assert sockapi.SCTP_ADDR_OVER == 1 << 1
    assert sockapi.SCTP_ABORT == 1 << 2
    assert sockapi.SCTP_EOF == 0x200
    data = sndinfo_cmsg(65535, 0, sockapi.SCTP_EOF, 0)[2]
    assert data[0:4] == ne16(65535) + ne16(0x200)


@pytest.mark.parametrize("ppid", [-1, 2**32])
def test_sndinfo_rejects_ppid_out_of_range(ppid: int) -> None:
    with pytest.raises((OverflowError, ValueError)):
        sndinfo_cmsg(0, ppid, 0, 0)


# --- SCTP_RCVINFO -----------------------------------------------------------------------------


def test_parse_rcvinfo_fields() -> None:
    payload = rcvinfo(
        sid=0x0203,
        ssn=0x0405,
        flags=0,
        ppid_wire=b"\x12\x34\x56\x78",
        tsn=0xDEADBEEF,
        cumtsn=0x11111111,
        context=0x22222222,
        assoc_id=-5,
    )
    info = parse_rcvinfo([(IPPROTO_SCTP, SCTP_RCVINFO, payload)])
    assert info == RecvInfo(
        stream=0x0203, ssn=0x0405, unordered=False, ppid=0x12345678, tsn=0xDEADBEEF, assoc_id=-5
    )


@pytest.mark.parametrize(
    ("flags", "unordered"),
    [(0, False), (1, True), (2, False), (3, True), (0x8000, False), (0x8001, True)],
)
def test_parse_rcvinfo_unordered(flags: int, unordered: bool) -> None:
    info = parse_rcvinfo([(IPPROTO_SCTP, SCTP_RCVINFO, rcvinfo(flags=flags))])
    assert info is not None
    assert info.unordered is unordered


@pytest.mark.parametrize(
    ("wire", "ppid"),
    [
        (b"\x00\x00\x00\x80", 0x80),
        (b"\xff\xff\xff\xff", 0xFFFFFFFF),
        (b"\x12\x34\x56\x78", 0x12345678),
        (b"\x80\x00\x00\x00", 0x80000000),
    ],
)
def test_parse_rcvinfo_ppid_host_order(wire: bytes, ppid: int) -> None:
    info = parse_rcvinfo([(IPPROTO_SCTP, SCTP_RCVINFO, rcvinfo(ppid_wire=wire))])
    assert info is not None
    assert info.ppid == ppid


def test_parse_rcvinfo_skips_other_items() -> None:
    wanted = rcvinfo(sid=9, assoc_id=42)
    decoy = rcvinfo(sid=1, assoc_id=1)
    ancdata = [
        (socket.SOL_SOCKET, SCTP_RCVINFO, decoy),  # wrong level
        (IPPROTO_SCTP, SCTP_SNDINFO, decoy),  # wrong type
        (IPPROTO_SCTP, 4, decoy),  # SCTP_NXTINFO
        (IPPROTO_SCTP, SCTP_RCVINFO, wanted),
    ]
    info = parse_rcvinfo(ancdata)
    assert info is not None
    assert (info.stream, info.assoc_id) == (9, 42)


def test_parse_rcvinfo_accepts_trailing_padding() -> None:
    info = parse_rcvinfo([(IPPROTO_SCTP, SCTP_RCVINFO, rcvinfo(sid=4) + bytes(4))])
    assert info is not None
    assert info.stream == 4


@pytest.mark.parametrize(
    "ancdata",
    [
        [],
        [(socket.SOL_SOCKET, SCTP_RCVINFO, bytes(28))],
        [(IPPROTO_SCTP, SCTP_SNDINFO, bytes(28))],
        [(IPPROTO_SCTP, SCTP_RCVINFO, bytes(27))],
        [(IPPROTO_SCTP, SCTP_RCVINFO, b"")],
    ],
)
def test_parse_rcvinfo_absent_or_short(ancdata: list[tuple[int, int, bytes]]) -> None:
    assert parse_rcvinfo(ancdata) is None


def test_rcvinfo_space_fits_the_struct() -> None:
    assert socket.CMSG_SPACE(28) == sockapi.RCVINFO_SPACE


@quick
@given(
    ppid=st.integers(min_value=0, max_value=2**32 - 1),
    stream=st.integers(min_value=0, max_value=65535),
)
def test_ppid_round_trip_through_the_wire(ppid: int, stream: int) -> None:
    # What sendmsg puts in snd_ppid is what the kernel writes into the DATA chunk and hands to
    # the receiver's rcv_ppid unchanged: the same 4 bytes.
    wire = sndinfo_cmsg(stream, ppid, 0, 0)[2][4:8]
    assert wire == be32(ppid)
    info = parse_rcvinfo([(IPPROTO_SCTP, SCTP_RCVINFO, rcvinfo(sid=stream, ppid_wire=wire))])
    assert info is not None
    assert info.ppid == ppid
    assert info.stream == stream


# --- notifications: SCTP_ASSOC_CHANGE ---------------------------------------------------------


def test_assoc_change_comm_up() -> None:
    data = assoc_change(0, outbound=10, inbound=17, assoc_id=33)
    assert len(data) == 20
    assert decode_notification(data) == Notification(33, AssociationUp(33, 10, 17))


def test_assoc_change_comm_up_with_sac_info() -> None:
    # COMM_UP may carry sac_info (supported features) after the 20-byte struct.
    data = assoc_change(0, outbound=1, inbound=2, assoc_id=4) + b"\x01\x02\x03"
    assert decode_notification(data) == Notification(4, AssociationUp(4, 1, 2))


def test_assoc_change_restart() -> None:
    data = assoc_change(2, outbound=5, inbound=5, assoc_id=-2)
    assert decode_notification(data) == Notification(-2, AssociationRestarted(-2))


def test_assoc_change_shutdown_complete() -> None:
    event = AssociationEnded(cause=None, aborted=False, never_started=False)
    assert decode_notification(assoc_change(3, assoc_id=8)) == Notification(8, event)


def test_assoc_change_comm_lost() -> None:
    note = decode_notification(assoc_change(1, assoc_id=8))
    assert note == Notification(8, AssociationEnded(cause=None, aborted=True, never_started=False))


def test_assoc_change_comm_lost_with_error_reports_a_cause() -> None:
    note = decode_notification(assoc_change(1, error=0x0C00, assoc_id=8))
    assert note is not None
    assert isinstance(note.event, AssociationEnded)
    assert note.event.cause is not None
    assert note.event.aborted


def test_assoc_change_cant_start() -> None:
    note = decode_notification(assoc_change(4, assoc_id=12))
    event = AssociationEnded(cause=None, aborted=True, never_started=True)
    assert note == Notification(12, event)


@pytest.mark.parametrize("state", [5, 6, 0xFFFF])
def test_assoc_change_unknown_state(state: int) -> None:
    assert decode_notification(assoc_change(state)) is None


# --- notifications: SCTP_PEER_ADDR_CHANGE -----------------------------------------------------


V4 = sockaddr_in("192.0.2.10", 2905)
V6 = sockaddr_in6(ipaddress.IPv6Address("2001:db8::10").packed, 2905)


@pytest.mark.parametrize(
    ("raw", "address"),
    [(V4, ("192.0.2.10", 2905)), (V6, ("2001:db8::10", 2905))],
    ids=["ipv4", "ipv6"],
)
@pytest.mark.parametrize(
    ("state", "path_state"),
    [
        (0, PathState.ACTIVE),  # SCTP_ADDR_AVAILABLE
        (5, PathState.ACTIVE),  # SCTP_ADDR_CONFIRMED
        (1, PathState.INACTIVE),  # SCTP_ADDR_UNREACHABLE
        (6, PathState.POTENTIALLY_FAILED),  # SCTP_ADDR_POTENTIALLY_FAILED
    ],
)
def test_paddr_change_state(
    raw: bytes, address: tuple[str, int], state: int, path_state: PathState
) -> None:
    note = decode_notification(paddr_change(raw, state, error=110, assoc_id=21))
    assert note == Notification(21, PathStateChanged(address, path_state, 110))


@pytest.mark.parametrize(
    ("raw", "address"),
    [(V4, ("192.0.2.10", 2905)), (V6, ("2001:db8::10", 2905))],
    ids=["ipv4", "ipv6"],
)
def test_paddr_change_membership(raw: bytes, address: tuple[str, int]) -> None:
    assert decode_notification(paddr_change(raw, 3, assoc_id=2)) == Notification(
        2, PathAdded(address)
    )
    assert decode_notification(paddr_change(raw, 2, assoc_id=2)) == Notification(
        2, PathRemoved(address)
    )
    assert decode_notification(paddr_change(raw, 4, assoc_id=2)) == Notification(
        2, PrimaryChanged(address)
    )


def test_paddr_change_scoped_ipv6() -> None:
    raw = sockaddr_in6(ipaddress.IPv6Address("fe80::7").packed, 9, scope=2)
    note = decode_notification(paddr_change(raw, 1, assoc_id=3))
    assert note == Notification(3, PathStateChanged(("fe80::7%2", 9), PathState.INACTIVE, 0))


@pytest.mark.parametrize("state", [7, -1, 1000])
def test_paddr_change_unknown_state(state: int) -> None:
    assert decode_notification(paddr_change(V4, state)) is None


def test_paddr_change_bad_family_raises_value_error() -> None:
    raw = ne16(int(socket.AF_UNIX)) + bytes(14)
    with pytest.raises(ValueError, match="family"):
        decode_notification(paddr_change(raw, 0))


# --- notifications: SCTP_SEND_FAILED_EVENT ----------------------------------------------------


def send_failed(flags: int, error: int, info: bytes, assoc_id: int, payload: bytes) -> bytes:
    """struct sctp_send_failed_event: header, __u32 error at 8, sctp_sndinfo at 12 (16),
    sctp_assoc_t at 28, data from 32."""
    body = ne32(error) + info + ne32s(assoc_id) + payload
    return header(SCTP_SEND_FAILED_EVENT, flags, 8 + len(body)) + body


@pytest.mark.parametrize(("flags", "sent"), [(0, False), (1, True)])
def test_send_failed_event(flags: int, sent: bool) -> None:
    info = sndinfo(7, 0, b"\x00\x00\x00\x80", 0, 99)
    data = send_failed(flags, 0x0100, info, 99, b"undelivered")
    assert data[32:] == b"undelivered"
    note = decode_notification(data)
    assert note == Notification(99, SendFailed(b"undelivered", 7, 0x80, 0x0100, sent))


def test_send_failed_event_ppid_host_order() -> None:
    info = sndinfo(1, 0, b"\x12\x34\x56\x78", 0, 5)
    note = decode_notification(send_failed(1, 0, info, 5, b""))
    assert note is not None
    assert isinstance(note.event, SendFailed)
    assert note.event.ppid == 0x12345678
    assert note.event.data == b""


def test_send_failed_event_uses_outer_assoc_id() -> None:
    info = sndinfo(1, 0, bytes(4), 0, 111)
    note = decode_notification(send_failed(0, 0, info, 222, b"x"))
    assert note is not None
    assert note.assoc_id == 222


# --- notifications: SCTP_REMOTE_ERROR, SHUTDOWN, SENDER_DRY, others ---------------------------


def test_remote_error() -> None:
    # struct sctp_remote_error: header, __be16 sre_error at 8, 2 bytes padding,
    # sctp_assoc_t at 12 (4-aligned), data from 16.
    cause_tlv = be16(0x0006) + be16(8) + b"\xaa\xbb\xcc\xdd"
    body = be16(0x0006) + b"\0\0" + ne32s(17) + cause_tlv
    data = header(SCTP_REMOTE_ERROR, 0, 8 + len(body)) + body
    assert decode_notification(data) == Notification(17, RemoteError(6, cause_tlv))


def test_remote_error_cause_is_network_order() -> None:
    body = b"\x01\x02" + b"\0\0" + ne32s(1)
    note = decode_notification(header(SCTP_REMOTE_ERROR, 0, 16) + body)
    assert note == Notification(1, RemoteError(0x0102, b""))


def test_shutdown_event() -> None:
    data = header(SCTP_SHUTDOWN_EVENT, 0, 12) + ne32s(77)
    assert decode_notification(data) == Notification(77, PeerShutdown())


def test_sender_dry_event() -> None:
    data = header(SCTP_SENDER_DRY_EVENT, 0, 12) + ne32s(-3)
    assert decode_notification(data) == Notification(-3, SenderDry())


@pytest.mark.parametrize("kind", [SCTP_PARTIAL_DELIVERY_EVENT, 0x8003, 0x800C, 0x8000, 0])
def test_unsubscribed_type_is_ignored(kind: int) -> None:
    assert decode_notification(header(kind, 0, 160) + bytes(152)) is None


def test_subscribed_events_are_the_decoded_ones() -> None:
    # SENDER_DRY is added per socket when Config.sender_dry_events asks for it.
    assert {*sockapi.SUBSCRIBED_EVENTS, SCTP_SENDER_DRY_EVENT} == {
        SCTP_ASSOC_CHANGE,
        SCTP_PEER_ADDR_CHANGE,
        SCTP_REMOTE_ERROR,
        SCTP_SHUTDOWN_EVENT,
        SCTP_SENDER_DRY_EVENT,
        SCTP_SEND_FAILED_EVENT,
    }
    assert SCTP_SENDER_DRY_EVENT not in sockapi.SUBSCRIBED_EVENTS


@pytest.mark.parametrize(
    "data",
    [
        header(SCTP_ASSOC_CHANGE, 0, 19) + bytes(11),
        header(SCTP_PEER_ADDR_CHANGE, 0, 20) + V4[:12],
        header(SCTP_PEER_ADDR_CHANGE, 0, 147) + V4.ljust(139, b"\0"),
        header(SCTP_SEND_FAILED_EVENT, 0, 31) + bytes(23),
        header(SCTP_REMOTE_ERROR, 0, 15) + bytes(7),
        header(SCTP_SHUTDOWN_EVENT, 0, 8),
    ],
)
def test_truncated_notifications_raise_struct_error(data: bytes) -> None:
    with pytest.raises(struct.error):
        decode_notification(data)


# The socket's reader (sctpmh/kernel/fdio.py, _notification_piece) catches exactly
# (ValueError, struct.error) around decode_notification and drops the notification; anything
# else would escape into the event loop's reader callback. So garbage must raise only those.
_NOTIFICATION_KINDS = st.one_of(
    st.sampled_from(
        [
            SCTP_ASSOC_CHANGE,
            SCTP_PEER_ADDR_CHANGE,
            SCTP_REMOTE_ERROR,
            SCTP_SHUTDOWN_EVENT,
            SCTP_SENDER_DRY_EVENT,
            SCTP_SEND_FAILED_EVENT,
            SCTP_PARTIAL_DELIVERY_EVENT,
        ]
    ),
    st.integers(min_value=0, max_value=0xFFFF),
)


@st.composite
def notification_bytes(draw: st.DrawFn) -> bytes:
    """Random bytes of length >= 8, usually with a subscribed type and a plausible family."""
    kind = draw(_NOTIFICATION_KINDS)
    rest = bytearray(draw(st.binary(min_size=6, max_size=300)))
    if len(rest) >= 8 and draw(st.booleans()):
        family = draw(st.sampled_from([AF_INET, AF_INET6, 0, 1]))
        rest[6:8] = ne16(family)  # offset 8 of the notification: spc_aaddr.ss_family
    return ne16(kind) + bytes(rest)


def _decode_or_known_error(data: bytes) -> None:
    try:
        result = decode_notification(data)
    except (struct.error, ValueError):
        return
    assert result is None or isinstance(result, Notification)


@quick
@given(notification_bytes())
def test_garbage_notifications_raise_only_known_errors(data: bytes) -> None:
    _decode_or_known_error(data)


@quick
@given(st.binary(min_size=8, max_size=400))
def test_random_bytes_raise_only_known_errors(data: bytes) -> None:
    _decode_or_known_error(data)


# --- milliseconds -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "ms"),
    [
        (1.0, 1000),
        (0.2, 200),
        (3, 3000),
        (60.0, 60000),
        (0.0016, 2),
        (0.0014, 1),
        (0.0004, 1),  # rounds to 0: at least 1 ms (0 means "leave unchanged" to the kernel)
        (0.0, 1),
    ],
)
def test_ms(seconds: float, ms: int) -> None:
    assert sockapi.milliseconds(seconds) == ms


# --- struct sizes against the kernel ABI ------------------------------------------------------


def test_paddrparams_size() -> None:
    # struct sctp_paddrparams is __attribute__((packed, aligned(4))): no padding between
    # fields, total rounded up to 4.
    size = (
        4  # sctp_assoc_t spp_assoc_id
        + 128  # struct sockaddr_storage spp_address
        + 4  # __u32 spp_hbinterval
        + 2  # __u16 spp_pathmaxrxt
        + 4  # __u32 spp_pathmtu (unaligned: the struct is packed)
        + 4  # __u32 spp_sackdelay
        + 4  # __u32 spp_flags
        + 4  # __u32 spp_ipv6_flowlabel
        + 1  # __u8 spp_dscp
    )
    assert size == 155
    assert sockapi._PADDRPARAMS.size == 156  # aligned(4)


def test_paddrthlds_size() -> None:
    # struct sctp_paddrthlds is NOT packed; sockaddr_storage is 8-byte aligned.
    offset = 4  # sctp_assoc_t spt_assoc_id
    offset += 4  # padding: spt_address starts at 8
    offset += 128  # struct sockaddr_storage spt_address
    offset += 2 + 2  # __u16 spt_pathmaxrxt, __u16 spt_pathpfthld
    size = offset + (-offset % 8)  # tail padding to the struct's 8-byte alignment
    assert size == 144
    assert sockapi._PADDRTHLDS.size == size


def test_paddrthlds_layout() -> None:
    storage = bytes(range(128))
    packed = sockapi._PADDRTHLDS.pack(-1, storage, 0x0102, 0x0304)
    assert packed[0:4] == ne32s(-1)
    assert packed[4:8] == bytes(4)
    assert packed[8:136] == storage
    assert packed[136:140] == ne16(0x0102) + ne16(0x0304)


def test_paddrparams_layout() -> None:
    storage = bytes(range(128))
    packed = sockapi._PADDRPARAMS.pack(5, storage, 30000, 7, 1400, 200, 1, 0, 0x2E)
    assert packed[0:4] == ne32s(5)
    assert packed[4:132] == storage
    assert packed[132:136] == ne32(30000)
    assert packed[136:138] == ne16(7)
    assert packed[138:142] == ne32(1400)
    assert packed[142:146] == ne32(200)
    assert packed[146:150] == ne32(1)
    assert packed[150:154] == ne32(0)
    assert packed[154:156] == b"\x2e\x00"


def test_event_size() -> None:
    # struct sctp_event: sctp_assoc_t se_assoc_id, uint16_t se_type, uint8_t se_on: 7 bytes,
    # padded to the 4-byte alignment of the int.
    assert sockapi._EVENT.size == 8
    assert sockapi._EVENT.pack(0, SCTP_SEND_FAILED_EVENT, 1) == (
        ne32s(0) + ne16(SCTP_SEND_FAILED_EVENT) + b"\x01\x00"
    )


def test_sndinfo_and_rcvinfo_sizes() -> None:
    # struct sctp_sndinfo: 2 + 2 + 4 + 4 + 4, no padding.
    assert sockapi._SNDINFO.size == 16
    # struct sctp_rcvinfo: 2 + 2 + 2 + 2 (padding before the __u32 ppid) + 4 * 4 + 4.
    assert sockapi._RCVINFO.size == 28


def test_assoc_value_size() -> None:
    # struct sctp_assoc_value: sctp_assoc_t assoc_id, uint32_t assoc_value.
    assert sockapi._ASSOC_VALUE.size == 8


def test_notification_struct_sizes() -> None:
    assert sockapi._ASSOC_CHANGE.size == 20  # struct sctp_assoc_change without sac_info
    assert sockapi._REMOTE_ERROR.size == 16  # sre_error, 2 pad, sre_assoc_id at 12
    assert sockapi._SEND_FAILED_EVENT.size == 12  # header + ssf_error; ssfe_info at 12
    assert sockapi._ASSOC_ID_ONLY.size == 12  # shutdown / sender dry events


def test_paddrinfo_sizes() -> None:
    # struct sctp_paddrinfo (packed, aligned(4)): assoc_id, sockaddr_storage, state,
    # cwnd, srtt, rto, mtu.
    assert sockapi._PADDRINFO_TAIL.size == 20


def test_socket_option_numbers_match_header() -> None:
    # #defines in <linux/sctp.h>.
    assert sockapi._SCTP_PRIMARY_ADDR == 6
    assert sockapi._SCTP_PEER_ADDR_PARAMS == 9
    assert sockapi._SCTP_STATUS == 14
    assert sockapi._SCTP_GET_PEER_ADDR_INFO == 15
    assert sockapi._SCTP_PEER_ADDR_THLDS == 31
    assert sockapi._SCTP_RECVRCVINFO == 32
    assert sockapi._SCTP_SOCKOPT_BINDX_ADD == 100
    assert sockapi._SCTP_SOCKOPT_PEELOFF_FLAGS == 122
    assert sockapi._SCTP_GET_PEER_ADDRS == 108
    assert sockapi._SCTP_GET_LOCAL_ADDRS == 109
    assert sockapi._SCTP_SOCKOPT_CONNECTX == 110
    assert sockapi._SCTP_EVENT == 127
    assert sockapi._SCTP_EXPOSE_POTENTIALLY_FAILED_STATE == 131
    assert sockapi._SPP_HB_ENABLE == 1


def test_peeloff_flags_arg_layout() -> None:
    # sctp_peeloff_flags_arg_t: { sctp_peeloff_arg_t { sctp_assoc_t associd; int sd; };
    # unsigned flags; }, no padding.
    data = sockapi._PEELOFF_FLAGS_ARG.pack(-2, 7, socket.SOCK_CLOEXEC | socket.SOCK_NONBLOCK)
    assert len(data) == 12
    assert data[0:4] == ne32s(-2)  # associd (signed, like every sctp_assoc_t)
    assert data[4:8] == ne32s(7)  # sd, where the kernel returns the new descriptor
    assert data[8:12] == struct.pack("=I", socket.SOCK_CLOEXEC | socket.SOCK_NONBLOCK)


@pytest.mark.skipif(sctp_socket_error() is None, reason="this kernel has SCTP")
def test_creating_a_socket_without_kernel_sctp_gives_the_check_diagnosis() -> None:
    verdict = diagnose(probe=False, socket_error=sctp_socket_error())
    with pytest.raises(sctpmh.SctpUnavailableError) as caught:
        sockapi.create_socket(socket.AF_INET, one_to_many=True)
    assert str(caught.value).endswith(f"{verdict.reason}; {verdict.fix}")
