"""Typed adapter over the Linux kernel's SCTP socket API (RFC 6458), the only place that
imports pysctp.

pysctp is used where it is sound and measured not to leak (SCTP_INITMSG, SCTP_NODELAY and
setting SCTP_ASSOCINFO). Where it is not (see shared/design/PYSCTP.md: PPID byte order, leaking
non-blocking receives, notification decoding, IPv6 bindx/connectx overflows, assoc-id-less
address queries, heartbeat flags compiled out; and, measured here, 96 bytes leaked by every
set_rtoinfo / get_rtoinfo call and 32 by get_assocparams), this module talks to the kernel
directly: ``sendmsg`` / ``recvmsg_into`` with SCTP_SNDINFO / SCTP_RCVINFO ancillary data,
``setsockopt`` with packed structs and sockaddr arrays, and ``getsockopt`` through libc for the
options whose input is the same buffer as their output.

Nothing here touches the event loop; every call is non-blocking and raises ``OSError``
subclasses (``BlockingIOError`` for EAGAIN / EINPROGRESS) like the ``socket`` module does.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import ipaddress
import os
import socket
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, NamedTuple

import _sctp  # pysctp's C module; see the module docstring for what it is trusted with

from ..addresses import Address
from ..config import Config
from ..errors import SctpUnavailableError
from ..events import (
    AssociationRestarted,
    AssociationUp,
    Event,
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
from .diagnose import diagnose

__all__ = [
    "IPPROTO_SCTP",
    "AssociationEnded",
    "AssociationParameters",
    "Notification",
    "PeerAddressInfo",
    "RecvInfo",
    "SockAddr",
    "add_local_address",
    "bind_addresses",
    "connect_addresses",
    "create_socket",
    "decode_notification",
    "get_association_parameters",
    "get_heartbeat_interval",
    "get_local_addresses",
    "get_peer_address_info",
    "get_peer_addresses",
    "get_primary_address",
    "milliseconds",
    "parse_rcvinfo",
    "peel_off",
    "plain_address",
    "prepare_socket",
    "prinfo_cmsg",
    "receives_rcvinfo",
    "remove_local_address",
    "request_peer_primary",
    "send_message",
    "set_primary_address",
    "sndinfo_cmsg",
    "subscribed_events",
]

SockAddr = Address  # what this adapter hands out: (host, port)

IPPROTO_SCTP: Final = 132
SOL_SCTP: Final = IPPROTO_SCTP

# Socket options (linux/sctp.h).
_SCTP_RTOINFO: Final = 0
_SCTP_ASSOCINFO: Final = 1
_SCTP_SET_PEER_PRIMARY_ADDR: Final = 5
_SCTP_PRIMARY_ADDR: Final = 6
_SCTP_PEER_ADDR_PARAMS: Final = 9
_SCTP_STATUS: Final = 14
_SCTP_GET_PEER_ADDR_INFO: Final = 15
_SCTP_PEER_ADDR_THLDS: Final = 31
_SCTP_RECVRCVINFO: Final = 32
_SCTP_SOCKOPT_BINDX_ADD: Final = 100
_SCTP_SOCKOPT_BINDX_REM: Final = 101
_SCTP_SOCKOPT_PEELOFF_FLAGS: Final = 122
_SCTP_GET_PEER_ADDRS: Final = 108
_SCTP_GET_LOCAL_ADDRS: Final = 109
_SCTP_SOCKOPT_CONNECTX: Final = 110
_SCTP_EVENT: Final = 127
_SCTP_EXPOSE_POTENTIALLY_FAILED_STATE: Final = 131
# include/net/sctp/constants.h: UNSET (0, follow net.sctp.pf_expose), DISABLE (1), ENABLE (2).
_SCTP_PF_EXPOSE_ENABLE: Final = 2
_SPP_HB_ENABLE: Final = 1

# Ancillary data types (enum sctp_cmsg_type).
_SCTP_SNDINFO: Final = 2
_SCTP_RCVINFO: Final = 3
_SCTP_PRINFO: Final = 5
_SCTP_PR_SCTP_TTL: Final = 0x0010

# recvmsg flags.
MSG_NOTIFICATION: Final = 0x8000
# A plain int: socket.MSG_EOR is an IntFlag, and masking with it costs an enum operation on
# every message received.
MSG_EOR: Final = int(socket.MSG_EOR)

# sctp_sndinfo flags (RFC 6458 section 5.3.4).
SCTP_UNORDERED: Final = 1
SCTP_ADDR_OVER: Final = 2
SCTP_ABORT: Final = 4
SCTP_EOF: Final = 0x200  # MSG_FIN

# Notification types (enum sctp_sn_type).
_SCTP_ASSOC_CHANGE: Final = 0x8001
_SCTP_PEER_ADDR_CHANGE: Final = 0x8002
_SCTP_REMOTE_ERROR: Final = 0x8004
_SCTP_SHUTDOWN_EVENT: Final = 0x8005
_SCTP_SENDER_DRY_EVENT: Final = 0x8009
_SCTP_SEND_FAILED_EVENT: Final = 0x800D
SUBSCRIBED_EVENTS: Final = (
    _SCTP_ASSOC_CHANGE,
    _SCTP_PEER_ADDR_CHANGE,
    _SCTP_REMOTE_ERROR,
    _SCTP_SHUTDOWN_EVENT,
    _SCTP_SEND_FAILED_EVENT,
)

# sctp_assoc_change states.
_SCTP_COMM_UP: Final = 0
_SCTP_COMM_LOST: Final = 1
_SCTP_RESTART: Final = 2
_SCTP_SHUTDOWN_COMP: Final = 3
_SCTP_CANT_STR_ASSOC: Final = 4

# sctp_paddr_change states.
_SPC_STATES: Final = {
    0: PathState.ACTIVE,  # SCTP_ADDR_AVAILABLE
    1: PathState.INACTIVE,  # SCTP_ADDR_UNREACHABLE
    5: PathState.ACTIVE,  # SCTP_ADDR_CONFIRMED
    6: PathState.POTENTIALLY_FAILED,  # SCTP_ADDR_POTENTIALLY_FAILED
}
_SPC_REMOVED: Final = 2
_SPC_ADDED: Final = 3
_SPC_MADE_PRIM: Final = 4

# sctp_paddrinfo states (enum sctp_spinfo_state).
_SPINFO_STATES: Final = {
    0: PathState.INACTIVE,
    1: PathState.POTENTIALLY_FAILED,
    2: PathState.ACTIVE,
    3: PathState.UNCONFIRMED,
}

_SOCKADDR_STORAGE_SIZE: Final = 128
_SNDINFO: Final = struct.Struct("=HH4sIi")  # sid, flags, ppid (wire order), context, assoc_id
_RCVINFO: Final = struct.Struct("=HHHxx4sIIIi")  # sid, ssn, flags, ppid, tsn, cumtsn, ctx, id
_NOTIFICATION_HEADER: Final = struct.Struct("=HHI")
# sac_error carries the ABORT's cause code as the kernel got it off the wire: network order.
_ASSOC_CHANGE: Final = struct.Struct("=HHIH2sHHi")
_PADDR_CHANGE_TAIL: Final = struct.Struct("=iii")  # after the 8-byte header and the address
_REMOTE_ERROR: Final = struct.Struct("=HHI2sxxi")
_SEND_FAILED_EVENT: Final = struct.Struct("=HHII")
_ASSOC_ID_ONLY: Final = struct.Struct("=HHIi")
_EVENT: Final = struct.Struct("=iHBx")  # sctp_event: assoc_id, type, on
# sctp_peeloff_flags_arg_t: sctp_peeloff_arg_t { associd, sd }, then flags.
_PEELOFF_FLAGS_ARG: Final = struct.Struct("=iiI")
_PADDRINFO_TAIL: Final = struct.Struct("=iIIII")  # state, cwnd, srtt (ms), rto (ms), mtu
# sctp_paddrparams and sctp_paddrthlds are packed structs (no padding) aligned to 4 bytes.
_PADDRPARAMS: Final = struct.Struct("=i128sIHIIIIBx")
# sctp_paddrthlds is not packed: sockaddr_storage is 8-byte aligned, so padding surrounds it.
_PADDRTHLDS: Final = struct.Struct("=i4x128sHH4x")
_ASSOC_VALUE: Final = struct.Struct("=iI")  # sctp_assoc_value
_PRINFO: Final = struct.Struct("=HxxI")
_RTOINFO: Final = struct.Struct("=iIII")  # sctp_rtoinfo: assoc_id, initial, max, min (ms)
_ASSOCPARAMS: Final = struct.Struct(
    "=iHHIII"
)  # sctp_assocparams  # sctp_prinfo: policy, (pad), value

_SCTP_FUTURE_ASSOC: Final = 0


# --- sockets ---------------------------------------------------------------------------------


def create_socket(family: socket.AddressFamily, *, one_to_many: bool) -> socket.socket:
    """A non-blocking SCTP socket: one-to-many (SOCK_SEQPACKET) or one-to-one (SOCK_STREAM).

    Raises :class:`SctpUnavailableError` with the fix when the kernel has no SCTP.
    """
    kind = socket.SOCK_SEQPACKET if one_to_many else socket.SOCK_STREAM
    try:
        sock = socket.socket(family, kind, IPPROTO_SCTP)
    except OSError as exc:
        if exc.errno in (errno.EPROTONOSUPPORT, errno.ESOCKTNOSUPPORT, errno.EAFNOSUPPORT):
            # The same diagnosis as `sctpmh check`, fix for this host first.
            verdict = diagnose(probe=False, socket_error=exc)
            raise SctpUnavailableError(exc.errno, f"{verdict.reason}; {verdict.fix}") from exc
        raise
    sock.setblocking(False)
    return sock


def prepare_socket(sock: socket.socket, config: Config) -> None:
    """Subscribe to every notification sctpmh uses and apply ``config`` as socket defaults,
    which every association on the socket inherits."""
    # SCTP_EVENT, one event type per call (RFC 6458 section 6.2.2): the older SCTP_EVENTS
    # struct changes size between kernel versions and fails with EINVAL on a mismatch.
    events: tuple[int, ...] = SUBSCRIBED_EVENTS
    if config.sender_dry_events:
        # Only on request: Linux sends one whenever everything outstanding is acknowledged,
        # which under steady traffic is every few messages, each a wakeup and a read.
        events += (_SCTP_SENDER_DRY_EVENT,)
    for event_type in events:
        sock.setsockopt(SOL_SCTP, _SCTP_EVENT, _EVENT.pack(_SCTP_FUTURE_ASSOC, event_type, 1))
    # Ask for an SCTP_RCVINFO cmsg with each message: stream, PPID, flags and assoc id.
    sock.setsockopt(SOL_SCTP, _SCTP_RECVRCVINFO, 1)
    # Report the potentially-failed state instead of hiding it (RFC 7829 section 7.1).
    sock.setsockopt(
        SOL_SCTP,
        _SCTP_EXPOSE_POTENTIALLY_FAILED_STATE,
        _ASSOC_VALUE.pack(_SCTP_FUTURE_ASSOC, _SCTP_PF_EXPOSE_ENABLE),
    )
    fd = sock.fileno()
    _sctp.set_initparams(
        fd,
        {
            "_num_ostreams": config.outbound_streams,
            "_max_instreams": config.inbound_streams,
            # Max.Init.Retransmits counts retransmissions; the kernel counts attempts.
            "_max_attempts": config.max_init_retransmissions + 1,
            "_max_init_timeo": milliseconds(config.rto_max),
        },
    )
    _sctp.set_nodelay(fd, bool(config.nodelay))
    # RTO.Initial / RTO.Min / RTO.Max (RFC 9260 section 6.3.1), in milliseconds. Set here
    # rather than through pysctp, whose set_rtoinfo leaks 96 bytes a call (measured).
    sock.setsockopt(
        SOL_SCTP,
        _SCTP_RTOINFO,
        _RTOINFO.pack(
            _SCTP_FUTURE_ASSOC,
            milliseconds(config.rto_initial),
            milliseconds(config.rto_max),
            milliseconds(config.rto_min),
        ),
    )
    # Association.Max.Retrans (RFC 9260 section 8.1).
    _sctp.set_assocparams(
        fd,
        {
            "assoc_id": _SCTP_FUTURE_ASSOC,
            "assocmaxrxt": config.association_max_retransmissions,
            "number_peer_destinations": 0,
            "peer_rwnd": 0,
            "local_rwnd": 0,
            "cookie_life": 0,
        },
    )
    # HB.interval and Path.Max.Retrans (RFC 9260 sections 8.3 and 8.2). Done here rather than
    # through pysctp, whose PyPI build compiles the heartbeat flags out.
    sock.setsockopt(
        SOL_SCTP,
        _SCTP_PEER_ADDR_PARAMS,
        _PADDRPARAMS.pack(
            _SCTP_FUTURE_ASSOC,
            bytes(_SOCKADDR_STORAGE_SIZE),
            milliseconds(config.heartbeat_interval),
            config.path_max_retransmissions,
            0,
            0,
            _SPP_HB_ENABLE,
            0,
            0,
        ),
    )
    # The potentially-failed threshold (RFC 7829): None turns the state off by putting it at
    # Path.Max.Retrans, where a path fails before it could become potentially failed.
    threshold = config.potentially_failed_threshold
    if threshold is None or threshold > config.path_max_retransmissions:
        threshold = config.path_max_retransmissions
    sock.setsockopt(
        SOL_SCTP,
        _SCTP_PEER_ADDR_THLDS,
        _PADDRTHLDS.pack(
            _SCTP_FUTURE_ASSOC,
            bytes(_SOCKADDR_STORAGE_SIZE),
            config.path_max_retransmissions,
            threshold,
        ),
    )


def peel_off(sock: socket.socket, assoc_id: int) -> socket.socket:
    """Move association ``assoc_id`` off one-to-many ``sock`` onto a socket of its own
    (sctp_peeloff, RFC 6458 section 9.2), returned non-blocking and close-on-exec.

    Linux moves the association with everything it holds: its unread messages and
    notifications, a partial delivery in progress, its queued and unacknowledged data, and
    its options; the new socket copies the old one's options (sctp_sock_migrate). The new
    socket is of Linux's "UDP high bandwidth" style: one association, whose id is ignored,
    and which takes SCTP_EOF / SCTP_ABORT in SCTP_SNDINFO but not ``shutdown()``.

    Raises ``OSError``: EINVAL when the association is gone, or when the calling thread is not
    in the socket's network namespace (Linux refuses to peel off across namespaces).
    """
    # SCTP_SOCKOPT_PEELOFF_FLAGS (Linux 4.13+) creates the descriptor with SOCK_CLOEXEC at
    # once, so that no fork in another thread can inherit it in between.
    flags = socket.SOCK_CLOEXEC | socket.SOCK_NONBLOCK
    request = _PEELOFF_FLAGS_ARG.pack(assoc_id, 0, flags)
    reply = _getsockopt_inout(sock, _SCTP_SOCKOPT_PEELOFF_FLAGS, request, len(request))
    _, fd, _ = _PEELOFF_FLAGS_ARG.unpack_from(reply)
    try:
        peeled = socket.socket(fileno=fd)
    except BaseException:
        os.close(fd)
        raise
    peeled.setblocking(False)  # sets Python's timeout too, not only O_NONBLOCK
    return peeled


def milliseconds(seconds: float) -> int:
    """Seconds as the whole milliseconds socket options take, at least 1."""
    return max(1, round(seconds * 1000))


# --- addresses -------------------------------------------------------------------------------


def _pack_sockaddr(host: str, port: int) -> bytes:
    address = ipaddress.ip_address(host.split("%", 1)[0])
    if address.version == 4:
        return (
            struct.pack("=H", socket.AF_INET) + struct.pack("!H", port) + address.packed + bytes(8)
        )
    scope = 0
    if "%" in host:
        name = host.split("%", 1)[1]
        scope = int(name) if name.isdigit() else socket.if_nametoindex(name)
    return (
        struct.pack("=H", socket.AF_INET6)
        + struct.pack("!HI", port, 0)
        + address.packed
        + struct.pack("=I", scope)
    )


def pack_sockaddrs(addresses: Sequence[SockAddr]) -> bytes:
    """The packed ``struct sockaddr`` array that bindx / connectx take (RFC 6458 9.1, 9.9)."""
    return b"".join(_pack_sockaddr(host, port) for host, port in addresses)


def unpack_sockaddr(data: bytes | memoryview, offset: int = 0) -> tuple[SockAddr, int]:
    """Decode one sockaddr at ``offset``; return it and the offset just past it."""
    (family,) = struct.unpack_from("=H", data, offset)
    if family == socket.AF_INET:
        (port,) = struct.unpack_from("!H", data, offset + 2)
        host = str(ipaddress.IPv4Address(bytes(data[offset + 4 : offset + 8])))
        return (host, port), offset + 16
    if family == socket.AF_INET6:
        (port,) = struct.unpack_from("!H", data, offset + 2)
        address = ipaddress.IPv6Address(bytes(data[offset + 8 : offset + 24]))
        (scope,) = struct.unpack_from("=I", data, offset + 24)
        host = str(address) if not scope else f"{address}%{scope}"
        return plain_address((host, port)), offset + 28
    raise ValueError(f"unexpected address family {family} from the kernel")


def plain_address(address: tuple[Any, ...]) -> SockAddr:
    """A socket address as ``(host, port)``, an IPv4-mapped IPv6 host shown as plain IPv4.

    AF_INET6 sockets report IPv4 peers mapped (SCTP_I_WANT_MAPPED_V4_ADDR is on by default);
    users gave, and expect, plain IPv4.
    """
    host, port = str(address[0]), int(address[1])
    if host.startswith("::ffff:"):
        mapped = ipaddress.IPv6Address(host.split("%", 1)[0]).ipv4_mapped
        if mapped is not None:
            host = str(mapped)
    return (host, port)


def bind_addresses(sock: socket.socket, addresses: Sequence[SockAddr]) -> int:
    """Bind to every address with sctp_bindx ADD (RFC 6458 section 9.1); return the port.

    Port 0 lets the kernel pick one port, which every further address then shares: an SCTP
    endpoint has a single port for all its addresses (RFC 9260 section 1.3). bindx is used for
    the first address too because it takes IPv4 and IPv6 addresses alike on an AF_INET6 socket.
    """
    first, *rest = addresses
    sock.setsockopt(SOL_SCTP, _SCTP_SOCKOPT_BINDX_ADD, pack_sockaddrs([first]))
    port: int = sock.getsockname()[1]
    if rest:
        sock.setsockopt(
            SOL_SCTP, _SCTP_SOCKOPT_BINDX_ADD, pack_sockaddrs([(h, port) for h, _ in rest])
        )
    return port


def add_local_address(sock: socket.socket, address: SockAddr) -> None:
    """Bind one more address to a bound socket (sctp_bindx ADD). On an established
    association the kernel announces it to the peer with ASCONF (RFC 5061 section 4.2.1)."""
    sock.setsockopt(SOL_SCTP, _SCTP_SOCKOPT_BINDX_ADD, pack_sockaddrs([address]))


def remove_local_address(sock: socket.socket, address: SockAddr) -> None:
    """Unbind one address (sctp_bindx REM); the peer is told with ASCONF (RFC 5061 4.2.2)."""
    sock.setsockopt(SOL_SCTP, _SCTP_SOCKOPT_BINDX_REM, pack_sockaddrs([address]))


def connect_addresses(sock: socket.socket, addresses: Sequence[SockAddr]) -> None:
    """sctp_connectx to every peer address at once (RFC 6458 section 9.9).

    Giving all of them lets the INIT go to the next address when the first is unreachable
    (RFC 9260 section 5.1.2). On a non-blocking socket this raises ``BlockingIOError``
    (EINPROGRESS); completion arrives as an SCTP_COMM_UP notification.
    """
    sock.setsockopt(SOL_SCTP, _SCTP_SOCKOPT_CONNECTX, pack_sockaddrs(addresses))


# getsockopt whose input and output share one buffer (SCTP_GET_PEER_ADDRS and friends take the
# association id in it). Python's socket.getsockopt only passes a zeroed buffer, so go to libc.
_libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
_libc.getsockopt.argtypes = [
    ctypes.c_int,
    ctypes.c_int,
    ctypes.c_int,
    ctypes.c_void_p,
    ctypes.POINTER(ctypes.c_uint32),
]
_libc.getsockopt.restype = ctypes.c_int


def _getsockopt_inout(
    sock: socket.socket, option: int, request: bytes, size: int, *, whole_buffer: bool = False
) -> bytes:
    buffer = ctypes.create_string_buffer(request, max(size, len(request)))
    length = ctypes.c_uint32(len(buffer))
    if _libc.getsockopt(sock.fileno(), SOL_SCTP, option, buffer, ctypes.byref(length)) < 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))
    return buffer.raw if whole_buffer else buffer.raw[: length.value]


def _get_addresses(sock: socket.socket, option: int, assoc_id: int) -> list[SockAddr]:
    # Read the whole buffer and trust addr_num: for SCTP_GET_LOCAL_ADDRS the kernel reports a
    # length that leaves out the 8-byte header (a long-standing quirk it keeps for ABI's sake).
    data = _getsockopt_inout(
        sock, option, struct.pack("=iI", assoc_id, 0), 8 + 64 * 28, whole_buffer=True
    )
    (count,) = struct.unpack_from("=I", data, 4)
    result, offset = [], 8
    for _ in range(count):
        address, offset = unpack_sockaddr(data, offset)
        result.append(address)
    return result


def get_peer_addresses(sock: socket.socket, assoc_id: int) -> list[SockAddr]:
    """Every address of the peer in association ``assoc_id`` (sctp_getpaddrs)."""
    return _get_addresses(sock, _SCTP_GET_PEER_ADDRS, assoc_id)


def get_local_addresses(sock: socket.socket, assoc_id: int) -> list[SockAddr]:
    """Every local address of association ``assoc_id`` (sctp_getladdrs)."""
    return _get_addresses(sock, _SCTP_GET_LOCAL_ADDRS, assoc_id)


@dataclass(frozen=True, slots=True)
class PeerAddressInfo:
    """What the kernel knows of one path (SCTP_GET_PEER_ADDR_INFO, RFC 6458 8.2.2)."""

    address: SockAddr
    state: PathState
    cwnd: int
    srtt: float
    rto: float
    mtu: int


def get_peer_address_info(sock: socket.socket, assoc_id: int, address: SockAddr) -> PeerAddressInfo:
    """Live state of the path to ``address``."""
    storage = _pack_sockaddr(*address).ljust(_SOCKADDR_STORAGE_SIZE, b"\0")
    data = _getsockopt_inout(
        sock,
        _SCTP_GET_PEER_ADDR_INFO,
        struct.pack("=i", assoc_id) + storage,
        4 + _SOCKADDR_STORAGE_SIZE + _PADDRINFO_TAIL.size,
    )
    state, cwnd, srtt, rto, mtu = _PADDRINFO_TAIL.unpack_from(data, 4 + _SOCKADDR_STORAGE_SIZE)
    return PeerAddressInfo(
        address=address,
        state=_SPINFO_STATES.get(state, PathState.UNCONFIRMED),
        cwnd=cwnd,
        srtt=srtt / 1000.0,
        rto=rto / 1000.0,
        mtu=mtu,
    )


def get_primary_address(sock: socket.socket, assoc_id: int) -> SockAddr:
    """The peer address the association sends to by default (SCTP_PRIMARY_ADDR)."""
    data = _getsockopt_inout(
        sock, _SCTP_PRIMARY_ADDR, struct.pack("=i", assoc_id), 4 + _SOCKADDR_STORAGE_SIZE
    )
    return unpack_sockaddr(data, 4)[0]


def set_primary_address(sock: socket.socket, assoc_id: int, address: SockAddr) -> None:
    """Make ``address`` the peer address this side sends to by default (SCTP_PRIMARY_ADDR,
    RFC 6458 section 8.1.8; RFC 9260 section 6.4)."""
    sock.setsockopt(SOL_SCTP, _SCTP_PRIMARY_ADDR, _prim(assoc_id, address))


def request_peer_primary(sock: socket.socket, assoc_id: int, address: SockAddr) -> None:
    """Ask the peer to send to our ``address`` by default (SCTP_SET_PEER_PRIMARY_ADDR, an
    ASCONF Set Primary Address request, RFC 5061 section 4.2.4). Needs ASCONF on both sides
    (Linux: net.sctp.addip_enable=1); otherwise the kernel answers EPERM."""
    sock.setsockopt(SOL_SCTP, _SCTP_SET_PEER_PRIMARY_ADDR, _prim(assoc_id, address))


def _prim(assoc_id: int, address: SockAddr) -> bytes:
    # struct sctp_prim / sctp_setpeerprim: assoc id, then a sockaddr_storage (packed).
    return struct.pack("=i", assoc_id) + _pack_sockaddr(*address).ljust(
        _SOCKADDR_STORAGE_SIZE, b"\0"
    )


def get_heartbeat_interval(sock: socket.socket, assoc_id: int) -> float | None:
    """The association's heartbeat interval in seconds (None when heartbeats are off), read
    back from SCTP_PEER_ADDR_PARAMS."""
    request = _PADDRPARAMS.pack(assoc_id, bytes(_SOCKADDR_STORAGE_SIZE), 0, 0, 0, 0, 0, 0, 0)
    data = _getsockopt_inout(sock, _SCTP_PEER_ADDR_PARAMS, request, _PADDRPARAMS.size)
    _, _, interval, _, _, _, flags, _, _ = _PADDRPARAMS.unpack_from(data)
    return interval / 1000.0 if flags & _SPP_HB_ENABLE else None


@dataclass(frozen=True, slots=True)
class AssociationParameters:
    """The protocol parameters in force for one association, read back from the kernel."""

    rto_initial: float
    rto_min: float
    rto_max: float
    heartbeat_interval: float | None
    path_max_retransmissions: int
    association_max_retransmissions: int
    potentially_failed_threshold: int


def get_association_parameters(sock: socket.socket, assoc_id: int) -> AssociationParameters:
    """What the kernel applies to association ``assoc_id`` (RTOINFO, ASSOCINFO,
    PEER_ADDR_PARAMS and PEER_ADDR_THLDS), to show that a Config took effect."""
    # Read directly: pysctp's get_rtoinfo and get_assocparams leak on every call (measured).
    rto = _getsockopt_inout(sock, _SCTP_RTOINFO, _RTOINFO.pack(assoc_id, 0, 0, 0), _RTOINFO.size)
    _, rto_initial, rto_max, rto_min = _RTOINFO.unpack_from(rto)
    assoc = _getsockopt_inout(
        sock, _SCTP_ASSOCINFO, _ASSOCPARAMS.pack(assoc_id, 0, 0, 0, 0, 0), _ASSOCPARAMS.size
    )
    association_max = _ASSOCPARAMS.unpack_from(assoc)[1]
    thresholds = _getsockopt_inout(
        sock,
        _SCTP_PEER_ADDR_THLDS,
        _PADDRTHLDS.pack(assoc_id, bytes(_SOCKADDR_STORAGE_SIZE), 0, 0),
        _PADDRTHLDS.size,
    )
    _, _, path_max, pf_threshold = _PADDRTHLDS.unpack_from(thresholds)
    return AssociationParameters(
        rto_initial=rto_initial / 1000.0,
        rto_min=rto_min / 1000.0,
        rto_max=rto_max / 1000.0,
        heartbeat_interval=get_heartbeat_interval(sock, assoc_id),
        path_max_retransmissions=path_max,
        association_max_retransmissions=association_max,
        potentially_failed_threshold=pf_threshold,
    )


def subscribed_events(sock: socket.socket, assoc_id: int) -> frozenset[int]:
    """The notification types (of :data:`SUBSCRIBED_EVENTS` and SCTP_SENDER_DRY_EVENT)
    association ``assoc_id`` is subscribed to (SCTP_EVENT read back, RFC 6458 6.2.2)."""
    subscribed = set()
    for event_type in (*SUBSCRIBED_EVENTS, _SCTP_SENDER_DRY_EVENT):
        request = _EVENT.pack(assoc_id, event_type, 0)
        reply = _getsockopt_inout(sock, _SCTP_EVENT, request, _EVENT.size)
        if _EVENT.unpack_from(reply)[2]:
            subscribed.add(event_type)
    return frozenset(subscribed)


def receives_rcvinfo(sock: socket.socket) -> bool:
    """Whether messages read from ``sock`` carry SCTP_RCVINFO (RFC 6458 section 8.1.29)."""
    return bool(sock.getsockopt(SOL_SCTP, _SCTP_RECVRCVINFO))


# --- messages --------------------------------------------------------------------------------


def sndinfo_cmsg(stream: int, ppid: int, flags: int, assoc_id: int) -> tuple[int, int, bytes]:
    """The SCTP_SNDINFO ancillary item for one message (RFC 6458 section 5.3.4).

    The kernel copies ``snd_ppid`` to the wire as it is, so the PPID goes in network byte
    order here and users see a plain host-order integer (RFC 9260 section 3.3.1).
    """
    info = _SNDINFO.pack(stream, flags, ppid.to_bytes(4, "big"), 0, assoc_id)
    return (SOL_SCTP, _SCTP_SNDINFO, info)


def send_message(
    sock: socket.socket,
    data: bytes | memoryview,
    *,
    stream: int,
    ppid: int,
    flags: int,
    assoc_id: int,
    to: SockAddr | None = None,
    ttl_ms: int | None = None,
) -> int:
    """Send one whole message; raises ``BlockingIOError`` when the send buffer is full.

    ``to`` names a peer address to send this message to (SCTP_ADDR_OVER); the kernel falls
    back to the primary path when that address is not active. ``ttl_ms`` gives the message a
    lifetime (see :func:`prinfo_cmsg`).

    SCTP sends a message atomically: it is accepted whole or not at all, so a partial
    send cannot happen.
    """
    if to is not None:
        flags |= SCTP_ADDR_OVER
    ancillary = [sndinfo_cmsg(stream, ppid, flags, assoc_id)]
    if ttl_ms is not None:
        ancillary.append(prinfo_cmsg(ttl_ms))
    if to is None:
        return sock.sendmsg([data], ancillary)
    return sock.sendmsg([data], ancillary, 0, socket_address(sock, to))


def prinfo_cmsg(ttl_ms: int) -> tuple[int, int, bytes]:
    """The SCTP_PRINFO item giving a message a lifetime (PR-SCTP "timed reliability",
    RFC 3758 section 3.1 / RFC 7496): unsent or unacknowledged after ``ttl_ms``, it is
    abandoned. Linux 6.1 frees abandoned messages without a send-failed notification."""
    return (SOL_SCTP, _SCTP_PRINFO, _PRINFO.pack(_SCTP_PR_SCTP_TTL, ttl_ms))


def socket_address(sock: socket.socket, address: SockAddr) -> tuple[Any, ...]:
    """``address`` in the form ``sock``'s family takes (IPv4 mapped on AF_INET6 sockets)."""
    host, port = address
    if sock.family == socket.AF_INET6:
        bare = host.split("%", 1)[0]
        if ipaddress.ip_address(bare).version == 4:
            host = "::ffff:" + host
        info = socket.getaddrinfo(host, port, socket.AF_INET6, 0, 0, socket.AI_NUMERICHOST)
        return info[0][4]
    return (host, port)


class RecvInfo(NamedTuple):
    """The SCTP_RCVINFO of a received piece of a message (a tuple: one is made per message
    received, and a tuple is the cheapest record to build)."""

    stream: int
    ssn: int
    unordered: bool
    ppid: int
    tsn: int
    assoc_id: int


RCVINFO_SPACE: Final = socket.CMSG_SPACE(_RCVINFO.size)


def parse_rcvinfo(ancdata: list[tuple[int, int, bytes]]) -> RecvInfo | None:
    """Pick the SCTP_RCVINFO item out of ``recvmsg`` ancillary data."""
    for level, kind, payload in ancdata:
        if level == SOL_SCTP and kind == _SCTP_RCVINFO and len(payload) >= _RCVINFO.size:
            sid, ssn, flags, ppid, tsn, _, _, assoc_id = _RCVINFO.unpack_from(payload)
            return RecvInfo(
                sid, ssn, bool(flags & SCTP_UNORDERED), int.from_bytes(ppid, "big"), tsn, assoc_id
            )
    return None


# --- notifications ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AssociationEnded(Event):
    """The kernel says the association is gone: shutdown completed, lost, or never started."""

    cause: int | None
    aborted: bool
    never_started: bool
    abort_chunk: bool = False
    """Whether the kernel passed on the peer's ABORT (its causes, in ``sac_info``)."""


@dataclass(frozen=True, slots=True)
class Notification:
    """A decoded SCTP notification: which association it concerns and the event."""

    assoc_id: int
    event: Event


def decode_notification(data: bytes) -> Notification | None:
    """Decode one whole notification (RFC 6458 section 6.1); None for types not subscribed."""
    kind, flags, _length = _NOTIFICATION_HEADER.unpack_from(data)
    if kind == _SCTP_ASSOC_CHANGE:
        _, _, _, state, raw_error, outbound, inbound, assoc_id = _ASSOC_CHANGE.unpack_from(data)
        error = int.from_bytes(raw_error, "big")
        event: Event
        if state == _SCTP_COMM_UP:
            event = AssociationUp(assoc_id, outbound, inbound)
        elif state == _SCTP_RESTART:
            event = AssociationRestarted(assoc_id)
        elif state == _SCTP_SHUTDOWN_COMP:
            event = AssociationEnded(cause=None, aborted=False, never_started=False)
        elif state == _SCTP_COMM_LOST:
            # sac_info carries the received ABORT's causes, if any (RFC 6458 section 6.1.1).
            event = AssociationEnded(
                cause=error or None,
                aborted=True,
                never_started=False,
                abort_chunk=_length > _ASSOC_CHANGE.size,
            )
        elif state == _SCTP_CANT_STR_ASSOC:
            event = AssociationEnded(cause=error or None, aborted=True, never_started=True)
        else:
            return None
        return Notification(assoc_id, event)
    if kind == _SCTP_PEER_ADDR_CHANGE:
        address, _ = unpack_sockaddr(data, 8)
        state, error, assoc_id = _PADDR_CHANGE_TAIL.unpack_from(data, 8 + _SOCKADDR_STORAGE_SIZE)
        if state == _SPC_ADDED:
            return Notification(assoc_id, PathAdded(address))
        if state == _SPC_REMOVED:
            return Notification(assoc_id, PathRemoved(address))
        if state == _SPC_MADE_PRIM:
            return Notification(assoc_id, PrimaryChanged(address))
        path_state = _SPC_STATES.get(state)
        if path_state is None:
            return None
        return Notification(assoc_id, PathStateChanged(address, path_state, error))
    if kind == _SCTP_SEND_FAILED_EVENT:
        _, _, _, error = _SEND_FAILED_EVENT.unpack_from(data)
        sid, _, ppid, _, _ = _SNDINFO.unpack_from(data, _SEND_FAILED_EVENT.size)
        (assoc_id,) = struct.unpack_from("=i", data, _SEND_FAILED_EVENT.size + _SNDINFO.size)
        payload = data[_SEND_FAILED_EVENT.size + _SNDINFO.size + 4 :]
        sent = bool(flags & 1)  # SCTP_DATA_SENT: it went on the wire at least once
        failed = SendFailed(payload, sid, int.from_bytes(ppid, "big"), error, sent)
        return Notification(assoc_id, failed)
    if kind == _SCTP_REMOTE_ERROR:
        _, _, _, cause, assoc_id = _REMOTE_ERROR.unpack_from(data)
        error_data = data[_REMOTE_ERROR.size :]
        return Notification(assoc_id, RemoteError(int.from_bytes(cause, "big"), error_data))
    if kind == _SCTP_SHUTDOWN_EVENT:
        return Notification(_ASSOC_ID_ONLY.unpack_from(data)[3], PeerShutdown())
    if kind == _SCTP_SENDER_DRY_EVENT:
        return Notification(_ASSOC_ID_ONLY.unpack_from(data)[3], SenderDry())
    return None
