"""Knobs of the userspace core that the shared :class:`~sctpmh.config.Config` lacks."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CoreConfig"]

# RFC 9260 section 6.2: the SACK delay MUST NOT exceed 500 ms.
_MAX_SACK_DELAY = 0.5
# RFC 9260 section 3.3.2: a_rwnd of INIT / INIT ACK is at least 1500.
_MIN_RECEIVE_WINDOW = 1500
_MIN_MTU = 512


@dataclass(frozen=True, slots=True)
class CoreConfig:
    """Knobs of the userspace core that the shared :class:`~sctpmh.config.Config` lacks.

    Protocol timers, retransmission limits, stream counts and the message size limit come
    from ``Config``; this holds ports, packet and buffer sizes and the cookie settings.
    """

    local_port: int
    """Our SCTP port (the common header's source port, RFC 9260 section 3.1)."""
    remote_port: int
    """The peer's SCTP port for ``connect()``; a listening association learns it from the
    INIT it answers."""
    mtu: int = 1280
    """Largest SCTP packet to send, in bytes (common header included)."""
    receive_window: int = 256 * 1024
    """Receive buffer behind the advertised window a_rwnd (RFC 9260 section 6.2)."""
    sack_delay: float = 0.2
    """Delayed acknowledgement timeout in seconds (RFC 9260 section 6.2: at most 0.5)."""
    max_burst: int = 4
    """Most packets of DATA sent per call of ``datagrams_to_send`` (Max.Burst, section 16)."""
    cookie_lifetime: float = 60.0
    """Valid.Cookie.Life in seconds (RFC 9260 sections 5.1.3, 16)."""
    secret: bytes | None = None
    """Key of the cookie MAC, at least 16 bytes; ``None`` draws 32 bytes from the rng."""

    def __post_init__(self) -> None:
        for name in ("local_port", "remote_port"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 0xFFFF:
                raise ValueError(f"{name} must be an int in 0..65535, got {value!r}")
        if not isinstance(self.mtu, int) or self.mtu < _MIN_MTU:
            raise ValueError(f"mtu must be an int >= {_MIN_MTU}, got {self.mtu!r}")
        if not isinstance(self.receive_window, int) or self.receive_window < _MIN_RECEIVE_WINDOW:
            raise ValueError(
                f"receive_window must be an int >= {_MIN_RECEIVE_WINDOW}, "
                f"got {self.receive_window!r}"
            )
        if not 0 <= self.sack_delay <= _MAX_SACK_DELAY:
            raise ValueError(f"sack_delay must be in 0..{_MAX_SACK_DELAY}, got {self.sack_delay!r}")
        if not isinstance(self.max_burst, int) or self.max_burst < 1:
            raise ValueError(f"max_burst must be an int >= 1, got {self.max_burst!r}")
        if not self.cookie_lifetime > 0:
            raise ValueError(f"cookie_lifetime must be > 0, got {self.cookie_lifetime!r}")
        if self.secret is not None and len(self.secret) < 16:
            raise ValueError("secret must be at least 16 bytes")
