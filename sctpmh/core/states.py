"""The association states (RFC 9260 section 4) and the groups of them that rules refer to.

:class:`State` is part of the public API of :mod:`sctpmh.core.association`, which re-exports
it; it lives here so that every part of the state machine can import it without importing
the association itself.
"""

from __future__ import annotations

import enum

__all__ = [
    "ALL_STATES",
    "CONNECTED",
    "DATA_FLOWS",
    "HANDSHAKE",
    "HEARTBEATING",
    "WITH_TCB",
    "State",
]


class State(enum.Enum):
    """Association states (RFC 9260 section 4)."""

    CLOSED = "closed"
    COOKIE_WAIT = "cookie-wait"
    COOKIE_ECHOED = "cookie-echoed"
    ESTABLISHED = "established"
    SHUTDOWN_PENDING = "shutdown-pending"
    SHUTDOWN_SENT = "shutdown-sent"
    SHUTDOWN_RECEIVED = "shutdown-received"
    SHUTDOWN_ACK_SENT = "shutdown-ack-sent"


# States grouped by what they allow.
HANDSHAKE = frozenset({State.COOKIE_WAIT, State.COOKIE_ECHOED})
"""The handshake is under way (RFC 9260 section 5.1)."""
CONNECTED = frozenset(
    {
        State.ESTABLISHED,
        State.SHUTDOWN_PENDING,
        State.SHUTDOWN_SENT,
        State.SHUTDOWN_RECEIVED,
        State.SHUTDOWN_ACK_SENT,
    }
)
"""Established, or shutting down gracefully (RFC 9260 section 9.2)."""
WITH_TCB = HANDSHAKE | CONNECTED
"""Every state that has a TCB (all but CLOSED)."""
ALL_STATES = WITH_TCB | {State.CLOSED}
"""Every state."""
# RFC 9260 section 9.2: the SHUTDOWN sender keeps receiving, the SHUTDOWN receiver keeps
# sending until everything is acknowledged.
DATA_FLOWS = frozenset(
    {State.ESTABLISHED, State.SHUTDOWN_PENDING, State.SHUTDOWN_SENT, State.SHUTDOWN_RECEIVED}
)
"""Where we may still send or receive DATA and SACKs."""
HEARTBEATING = frozenset({State.ESTABLISHED, State.SHUTDOWN_PENDING, State.SHUTDOWN_RECEIVED})
"""Where idle paths are probed with HEARTBEATs (RFC 9260 section 8.3)."""
