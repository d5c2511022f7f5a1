"""How the CLI writes addresses, durations and round-trip times.

Every field the commands print is free of spaces, so a script can split a line on whitespace
and a field on ``,`` (lists) or ``=`` (``key=value``).
"""

from __future__ import annotations

from collections.abc import Iterable

from ..addresses import Address

__all__ = ["Address", "format_address", "format_addresses", "format_duration", "format_ms"]


def format_address(address: Address | None) -> str:
    """``host:port``, ``[v6-host]:port``, or ``-`` when unknown."""
    if address is None:
        return "-"
    host, port = address
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def format_addresses(addresses: Iterable[Address]) -> str:
    """Addresses joined by ``,`` without spaces (one whitespace-free field)."""
    return ",".join(format_address(address) for address in addresses) or "-"


def format_ms(seconds: float | None, decimals: int = 2) -> str:
    """Seconds as milliseconds with ``decimals`` places, or ``-`` when unknown."""
    if seconds is None:
        return "-"
    return f"{seconds * 1000:.{decimals}f}"


def format_duration(seconds: float) -> str:
    """``12.3s`` under a minute, ``H:MM:SS`` from then on (how ``top`` shows uptime)."""
    if seconds < 60:
        return f"{seconds:.1f}s"
    whole = int(seconds)
    return f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"
