"""Parsing, validation and resolution of SCTP endpoint addresses.

An SCTP endpoint is one port plus one or more IP addresses, and every address of an
endpoint shares that single port (RFC 9260 section 1.3, "SCTP endpoint"); an endpoint with
several addresses is multi-homed (RFC 9260 section 6.4). This module turns the many ways a
caller may write such an address list into a checked list of :class:`HostPort` (pure
parsing, no DNS) and then into a list of numeric :class:`Endpoint` (resolution, which may
need DNS).

Accepted inputs for :func:`parse_addresses`::

    "192.168.35.10;192.168.45.10"          # one string, ";" or "," between items
    "10.0.0.1:4444, [fe80::1%eth0]:4444"   # items may carry their own port
    ["::1", "localhost", ("10.0.0.2", 4444)]
    ("10.0.0.1", 4444)                     # a single (host, port) socket address

This is a leaf module: it imports nothing from sctpmh except :mod:`sctpmh.errors`.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TypeAlias, cast

from sctpmh.errors import AddressError

__all__ = [
    "Address",
    "AddressItem",
    "Addresses",
    "Endpoint",
    "HostPort",
    "SockAddr",
    "parse_addresses",
    "parse_and_resolve",
    "resolve",
    "resolve_numeric",
]

Address: TypeAlias = tuple[str, int]
"""A ``(host, port)`` address as sctpmh hands it out: events, paths, messages' sources."""

SockAddr: TypeAlias = tuple[str, int] | tuple[str, int, int, int]
"""A socket address as the :mod:`socket` module uses it: IPv4 ``(host, port)`` or IPv6
``(host, port, flowinfo, scope_id)`` (a 2-tuple is accepted for IPv6 too)."""

_MAX_PORT = 65535
_MAX_FLOWINFO = 0xFFFFF  # the IPv6 flow label is 20 bits
_MAX_SCOPE_ID = 0xFFFFFFFF
_MAX_HOSTNAME = 253  # RFC 1035 section 2.3.4, without the trailing dot

_SEPARATORS = re.compile(r"[;,]")
_DIGITS = re.compile(r"[0-9]+")
# RFC 1123 section 2.1: letters, digits and hyphens, 1-63 characters, no hyphen at either end.
_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")
# What Linux's dev_valid_name() accepts: shorter than IFNAMSIZ (16), no "/", ":" or spaces.
_SCOPE_NAME = re.compile(r"[^\s/:%\x00]{1,15}")


@dataclass(frozen=True, slots=True)
class HostPort:
    """One parsed, not yet resolved address: a numeric IP literal or a hostname, plus a port.

    ``host`` is an IP literal in the canonical form :mod:`ipaddress` prints (IPv6 without
    brackets, with ``%scope`` if one was given) or a syntactically valid hostname, lower-cased.
    Instances made by :func:`parse_addresses` are validated; :func:`resolve` validates again,
    so hand-made instances are safe to pass too.
    """

    host: str
    port: int

    @property
    def is_numeric(self) -> bool:
        """True if ``host`` is an IP literal, so resolving it needs no DNS."""
        return _ip_or_none(self.host) is not None

    def __str__(self) -> str:
        return _format(self.host, self.port)


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One numeric transport address: an IP address and a port.

    ``host`` is always a numeric IP literal in the canonical form :mod:`ipaddress` prints
    (no brackets; an IPv6 zone is kept as ``%scope``); the constructor canonicalises it and
    raises :class:`~sctpmh.errors.AddressError` for anything else. ``port`` may be 0, which a
    local endpoint uses to let the kernel pick a port.
    """

    host: str
    port: int

    def __post_init__(self) -> None:
        if not isinstance(self.host, str):
            raise AddressError(
                f"Endpoint host {self.host!r} must be a str, not {type(self.host).__name__}",
                self.host,
            )
        ip = _ip_or_none(self.host)
        if ip is None:
            raise AddressError(
                f"Endpoint host {self.host!r} is not a numeric IP address", self.host
            )
        if isinstance(ip, ipaddress.IPv6Address):
            _check_scope(ip, self.host)
        _check_port(self.port, self.port, local=True, where="the Endpoint port")
        # Canonical hosts make equal endpoints compare and hash equal, which the
        # duplicate detection in resolve() relies on.
        object.__setattr__(self, "host", str(ip))

    @property
    def family(self) -> socket.AddressFamily:
        """``socket.AF_INET`` or ``socket.AF_INET6``."""
        return socket.AF_INET6 if ":" in self.host else socket.AF_INET

    def sockaddr(self) -> SockAddr:
        """Return the address in the form the :mod:`socket` module expects.

        IPv4 gives ``(host, port)``; IPv6 gives ``(host, port, 0, scope_id)`` with the zone
        moved out of ``host`` into the numeric ``scope_id`` (0 when there is none).

        Raises:
            AddressError: the zone names a network interface that does not exist.
        """
        if self.family == socket.AF_INET:
            return (self.host, self.port)
        address, _, scope = self.host.partition("%")
        if not scope:
            index = 0
        elif _DIGITS.fullmatch(scope):
            index = int(scope)
        else:
            try:
                index = socket.if_nametoindex(scope)
            except OSError as exc:
                raise AddressError(
                    f"{self.host!r} names network interface {scope!r}, which does not exist",
                    self.host,
                ) from exc
        return (address, self.port, 0, index)

    @classmethod
    def from_sockaddr(cls, sockaddr: SockAddr) -> Endpoint:
        """Build an endpoint from a socket address as the :mod:`socket` module returns it.

        A non-zero ``scope_id`` of a 4-tuple becomes a numeric ``%scope`` on the host,
        unless the host already names its zone.

        Raises:
            AddressError: ``sockaddr`` is not a 2-tuple or an IPv6 4-tuple of the right types.
        """
        if not isinstance(sockaddr, tuple) or len(sockaddr) not in (2, 4):
            raise AddressError(
                f"{sockaddr!r} is not a socket address (host, port) "
                "or (host, port, flowinfo, scope_id)",
                sockaddr,
            )
        host = sockaddr[0]
        if not isinstance(host, str):
            raise AddressError(f"host in socket address {sockaddr!r} must be a str", sockaddr)
        if len(sockaddr) == 4:
            scope_id = _check_sockaddr_tail(sockaddr, sockaddr)
            if _ip_or_none(host) is None or ":" not in host:
                raise AddressError(
                    f"socket address {sockaddr!r} is a 4-tuple but not an IPv6 address", sockaddr
                )
            if scope_id and "%" not in host:
                host = f"{host}%{scope_id}"
        try:
            return cls(host, sockaddr[1])
        except AddressError as exc:
            raise AddressError(f"bad socket address {sockaddr!r}: {exc}", sockaddr) from exc

    def __str__(self) -> str:
        return _format(self.host, self.port)


AddressItem: TypeAlias = str | SockAddr | HostPort | Endpoint
"""One address: a string, a socket address tuple, or an already parsed address."""

Addresses: TypeAlias = str | SockAddr | HostPort | Endpoint | Iterable[AddressItem]
"""What :func:`parse_addresses` accepts: one string holding ``;``/``,``-separated items, a
single socket address, or an iterable of :data:`AddressItem`."""


def parse_addresses(
    addrs: Addresses | None, port: int | None = None, *, local: bool = False
) -> list[HostPort]:
    """Parse and validate the addresses of one SCTP endpoint, without any DNS lookup.

    Args:
        addrs: the addresses, in any of the forms described in the module docstring.
        port: the port of items that do not carry their own.
        local: the addresses are for binding, so the wildcard addresses ``0.0.0.0`` and
            ``::`` and port 0 (the kernel picks) are allowed.

    Returns:
        One :class:`HostPort` per item, in the order given, all with the same port.

    Raises:
        AddressError: an item is malformed, has no port or a port out of range, has a
            different port from the others, or repeats an earlier item; or no items were
            given. ``item`` is the offending input.
    """
    default = (
        None if port is None else _check_port(port, port, local=local, where="the port argument")
    )
    result: list[HostPort] = []
    seen: dict[HostPort, object] = {}
    common: int | None = None
    for element in _split(addrs):
        host, own = _parse_item(element, local=local)
        item_port = own if own is not None else default
        if item_port is None:
            raise AddressError(f"{element!r} has no port and no port argument was given", element)
        if common is None:
            common = item_port
        elif item_port != common:
            # RFC 9260 section 1.3: all transport addresses of an endpoint share its port.
            raise AddressError(
                f"{element!r} has port {item_port} but the other addresses use {common}; "
                "an SCTP endpoint has one port for all its addresses",
                element,
            )
        parsed = HostPort(host, item_port)
        if parsed in seen:
            raise AddressError(f"duplicate address {element!r} (same as {seen[parsed]!r})", element)
        seen[parsed] = element
        result.append(parsed)
    return result


def resolve_numeric(items: Sequence[HostPort], *, local: bool = False) -> list[Endpoint]:
    """Convert parsed addresses that are all IP literals into endpoints, without DNS.

    Args:
        items: addresses as returned by :func:`parse_addresses`.
        local: as for :func:`parse_addresses`.

    Raises:
        AddressError: an item is a hostname (it needs DNS resolution; use :func:`resolve`),
            or the items fail the checks of :func:`parse_addresses`.
    """
    result: list[Endpoint] = []
    for item in parse_addresses(items, local=local):
        if not item.is_numeric:
            raise AddressError(
                f"{item.host!r} is a hostname and needs DNS resolution; use resolve()",
                item.host,
            )
        result.append(Endpoint(item.host, item.port))
    return result


async def resolve(
    items: Sequence[HostPort],
    *,
    local: bool = False,
    loop: asyncio.AbstractEventLoop | None = None,
) -> list[Endpoint]:
    """Resolve parsed addresses to numeric endpoints.

    IP literals convert directly. Each hostname is looked up with ``loop.getaddrinfo`` and
    contributes every address it resolves to, first-seen order, because a multi-homed
    endpoint wants all of them (RFC 9260 section 6.4). Lookups run concurrently.

    Args:
        items: addresses as returned by :func:`parse_addresses`.
        local: as for :func:`parse_addresses`; a hostname resolving to a wildcard address is
            an error unless this is set.
        loop: the event loop to resolve with; the running loop if None.

    Returns:
        The endpoints, in item order. An address that a hostname expansion repeats is
        dropped silently; two equal IP literals are an error.

    Raises:
        AddressError: the items fail the checks of :func:`parse_addresses`, or a hostname
            does not resolve (the :class:`socket.gaierror` is chained) or resolves to no
            usable address; for a failed lookup ``item`` is the hostname.
    """
    checked = parse_addresses(items, local=local)
    if loop is None:
        loop = asyncio.get_running_loop()
    names = list(dict.fromkeys(item for item in checked if not item.is_numeric))
    outcomes = await asyncio.gather(
        *(_lookup(loop, name, local=local) for name in names), return_exceptions=True
    )
    expansions: dict[HostPort, list[Endpoint]] = {}
    for name, outcome in zip(names, outcomes, strict=True):
        if isinstance(outcome, BaseException):
            # Report the first failing hostname in item order, so the error is deterministic.
            raise outcome
        expansions[name] = outcome
    # parse_addresses has already refused equal literals, so any repeat met here involves a
    # hostname expansion and is dropped; the first item always survives, so the result
    # is never empty.
    result: dict[Endpoint, None] = {}
    for item in checked:
        if item.is_numeric:
            result.setdefault(Endpoint(item.host, item.port))
        else:
            for endpoint in expansions[item]:
                result.setdefault(endpoint)
    return list(result)


async def parse_and_resolve(
    addrs: Addresses | None, port: int | None = None, *, local: bool = False
) -> list[Endpoint]:
    """Parse addresses with :func:`parse_addresses`, then :func:`resolve` them.

    Raises:
        AddressError: as for :func:`parse_addresses` and :func:`resolve`.
    """
    return await resolve(parse_addresses(addrs, port, local=local), local=local)


# --- helpers ---------------------------------------------------------------------------------


def _format(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _ip_or_none(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _check_port(value: object, item: object, *, local: bool, where: str = "") -> int:
    """Check a port number; ``where`` names it in messages (default: the port of ``item``)."""
    where = where or f"the port of {item!r}"
    if isinstance(value, bool) or not isinstance(value, int):
        raise AddressError(f"{where} must be an int, not {type(value).__name__} {value!r}", item)
    if value == 0 and not local:
        raise AddressError(
            f"{where} is 0 (the kernel picks a port), which is only allowed for local addresses",
            item,
        )
    if not 0 <= value <= _MAX_PORT:
        low = 0 if local else 1
        raise AddressError(f"{where} is {value}, outside {low}..{_MAX_PORT}", item)
    return value


def _check_sockaddr_tail(values: tuple[object, ...], item: object) -> int:
    """Check flowinfo and scope_id of an IPv6 4-tuple; return scope_id."""
    flowinfo, scope_id = values[2], values[3]
    if isinstance(flowinfo, bool) or not isinstance(flowinfo, int):
        raise AddressError(f"flowinfo of {item!r} must be an int", item)
    if not 0 <= flowinfo <= _MAX_FLOWINFO:
        raise AddressError(f"flowinfo of {item!r} must be in 0..{_MAX_FLOWINFO}", item)
    if isinstance(scope_id, bool) or not isinstance(scope_id, int):
        raise AddressError(f"scope_id of {item!r} must be an int", item)
    if not 0 <= scope_id <= _MAX_SCOPE_ID:
        raise AddressError(f"scope_id of {item!r} must be in 0..{_MAX_SCOPE_ID}", item)
    return scope_id


def _check_scope(ip: ipaddress.IPv6Address, item: object) -> None:
    scope = ip.scope_id
    if scope is None:
        return
    if _DIGITS.fullmatch(scope):
        if len(scope) > len(str(_MAX_SCOPE_ID)) or int(scope) > _MAX_SCOPE_ID:
            raise AddressError(f"zone index {scope} of {item!r} is out of range", item)
    elif not _SCOPE_NAME.fullmatch(scope) or scope in (".", ".."):
        raise AddressError(f"{scope!r} in {item!r} is not a valid network interface name", item)


def _split(addrs: object) -> list[object]:
    """Turn the top-level argument into a list of single items."""
    if addrs is None:
        raise AddressError("no addresses given (None)", addrs)
    if isinstance(addrs, str):
        pieces = [piece.strip() for piece in _SEPARATORS.split(addrs)]
        # A trailing separator is a common slip ("a;b;") and harmless; other empty items
        # more likely mean something was lost, so they are refused.
        while pieces and not pieces[-1]:
            pieces.pop()
        if not pieces:
            raise AddressError(f"no addresses given in {addrs!r}", addrs)
        for position, piece in enumerate(pieces, 1):
            if not piece:
                raise AddressError(f"item {position} of {addrs!r} is empty", addrs)
        return list(pieces)
    if isinstance(addrs, HostPort | Endpoint):
        return [addrs]
    # A (host, port) tuple and a tuple of two host strings look alike; an int in second
    # place settles it, since a list of addresses never holds a bare int.
    if isinstance(addrs, tuple) and len(addrs) >= 2 and isinstance(addrs[1], int):
        return [addrs]
    if isinstance(addrs, bytes | bytearray | memoryview):
        raise AddressError(f"{addrs!r} is bytes; give addresses as str", addrs)
    if not isinstance(addrs, Iterable):
        raise AddressError(
            f"{addrs!r} is not an address, a string of addresses or a list of addresses", addrs
        )
    elements: list[object] = list(addrs)
    if not elements:
        raise AddressError(f"no addresses given in {addrs!r}", addrs)
    return elements


def _parse_item(element: object, *, local: bool) -> tuple[str, int | None]:
    """Return (canonical host, own port or None) for one item."""
    if isinstance(element, str):
        return _parse_string(element, local=local)
    if isinstance(element, HostPort | Endpoint):
        if not isinstance(element.host, str):
            raise AddressError(f"host of {element!r} must be a str", element)
        host = _parse_host(element.host.strip(), element, local=local)
        return host, _check_port(element.port, element, local=local)
    if isinstance(element, tuple):
        return _parse_tuple(element, local=local)
    raise AddressError(
        f"{element!r} is not an address: give a str or a (host, port) tuple, "
        f"not {type(element).__name__}",
        element,
    )


def _parse_tuple(element: tuple[object, ...], *, local: bool) -> tuple[str, int]:
    if len(element) not in (2, 4):
        raise AddressError(
            f"{element!r} is not (host, port) or (host, port, flowinfo, scope_id)", element
        )
    host_value = element[0]
    if not isinstance(host_value, str):
        raise AddressError(f"host of {element!r} must be a str", element)
    port = _check_port(element[1], element, local=local)
    host = _parse_host(host_value.strip(), element, local=local)
    if len(element) == 4:
        scope_id = _check_sockaddr_tail(element, element)
        if ":" not in host:
            raise AddressError(
                f"{element!r} is a 4-tuple, which is only for IPv6 addresses", element
            )
        # The socket module reports the zone only as scope_id; fold it into the host so it
        # survives (a zone already written in the host wins).
        if scope_id and "%" not in host:
            host = f"{host}%{scope_id}"
    return host, port


def _parse_string(element: str, *, local: bool) -> tuple[str, int | None]:
    text = element.strip()
    if not text:
        raise AddressError(f"empty address {element!r}", element)
    if text.startswith("["):
        close = text.find("]")
        if close < 0:
            raise AddressError(f"{element!r} has '[' without a closing ']'", element)
        host = _parse_host(text[1:close].strip(), element, local=local, bracketed=True)
        rest = text[close + 1 :].strip()
        if not rest:
            return host, None
        if not rest.startswith(":"):
            raise AddressError(f"{element!r} has unexpected text after ']'", element)
        return host, _parse_port_text(rest[1:], element, local=local)
    if "]" in text:
        raise AddressError(f"{element!r} has ']' without an opening '['", element)
    # Exactly one colon means host:port. With more it is a bare IPv6 address, whose last
    # group is part of the address and never a port; a port needs the [addr]:port form.
    if text.count(":") == 1:
        host_text, _, port_text = text.partition(":")
        host = _parse_host(host_text.strip(), element, local=local)
        return host, _parse_port_text(port_text, element, local=local)
    return _parse_host(text, element, local=local), None


def _parse_port_text(text: str, item: object, *, local: bool) -> int:
    digits = text.strip()
    if not _DIGITS.fullmatch(digits):
        raise AddressError(f"the port of {item!r} must be decimal digits", item)
    # Trimmed before int() so absurdly long inputs cannot hit int()'s digit limit.
    significant = digits.lstrip("0") or "0"
    if len(significant) > len(str(_MAX_PORT)):
        raise AddressError(f"the port of {item!r} is outside 0..{_MAX_PORT}", item)
    return _check_port(int(significant), item, local=local)


def _parse_host(text: str, item: object, *, local: bool, bracketed: bool = False) -> str:
    """Return the canonical IP literal or lower-cased hostname in ``text``."""
    if not text:
        raise AddressError(f"{item!r} has an empty host", item)
    ip = _ip_or_none(text)
    if ip is None:
        if bracketed or ":" in text:
            hint = "" if bracketed else "; a port after an IPv6 address needs [address]:port"
            raise AddressError(f"{item!r} is not a valid IPv6 address{hint}", item)
        return _check_hostname(text, item)
    if isinstance(ip, ipaddress.IPv6Address):
        _check_scope(ip, item)
    elif bracketed:
        raise AddressError(f"{item!r}: brackets are only for IPv6 addresses", item)
    if ip.is_unspecified and not local:
        # A wildcard can be bound to but never sent to, so as a peer address it is a mistake.
        raise AddressError(
            f"{item!r} is a wildcard address, which is only allowed for local addresses", item
        )
    return str(ip)


def _check_hostname(text: str, item: object) -> str:
    name = text.removesuffix(".")
    labels = name.split(".")
    if (
        not name
        or len(name) > _MAX_HOSTNAME
        or not all(_LABEL.fullmatch(label) for label in labels)
    ):
        raise AddressError(f"{item!r} is not a valid IP address or hostname", item)
    # An all-numeric top label cannot be a hostname (RFC 3696 section 2), and the resolver
    # would read a name like "127.1" or "0x7f000001" as a legacy inet_aton() IPv4 form.
    if labels[-1].isdigit() or _is_inet_aton(name):
        raise AddressError(f"{item!r} is not a valid IPv4 address", item)
    return text.lower()


def _is_inet_aton(name: str) -> bool:
    try:
        socket.inet_aton(name)
    except OSError:
        return False
    return True


async def _lookup(
    loop: asyncio.AbstractEventLoop, item: HostPort, *, local: bool
) -> list[Endpoint]:
    try:
        infos = await loop.getaddrinfo(item.host, item.port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise AddressError(f"cannot resolve {item.host!r}: {reason}", item.host) from exc
    found: dict[Endpoint, None] = {}
    for family, _type, _proto, _canonname, sockaddr in infos:
        if family not in (socket.AF_INET, socket.AF_INET6):
            continue
        # AF_INET/AF_INET6 entries always carry a str host; from_sockaddr re-checks anyway.
        endpoint = Endpoint.from_sockaddr(cast(SockAddr, sockaddr))
        if not local and ipaddress.ip_address(endpoint.host.partition("%")[0]).is_unspecified:
            raise AddressError(
                f"{item.host!r} resolves to the wildcard address {endpoint.host}, "
                "which is only allowed for local addresses",
                item.host,
            )
        found.setdefault(endpoint)
    if not found:
        raise AddressError(f"{item.host!r} resolves to no IPv4 or IPv6 address", item.host)
    return list(found)
