"""The text ``sctpmh paths`` shows: a pure function of one snapshot, so it is tested on any
host and the live command only gathers the snapshot and puts the text on the screen.

Layout (no blank line inside, so blocks can be separated by one)::

    association 3  up 12.3s  local 10.101.0.2:40001,10.102.0.2:40001
    echo: 12 sent, 12 answered, last round trip 0.42 ms via 10.101.0.1:4444
    PEER             STATE    SRTT-ms  RTO-ms  CWND   MTU  ECHO-ms  PRIMARY
    10.101.0.1:4444  active         1     100  4380  1500     0.42  *
    10.102.0.1:4444  active         -     200  4380  1500        -
    events:
      +3.105s  path 10.101.0.1:4444 potentially-failed

Every cell is one whitespace-free word ("-" when unknown), so a row splits on whitespace.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ..events import (
    AssociationClosed,
    AssociationLost,
    AssociationRestarted,
    AssociationUp,
    Event,
    PathAdded,
    PathInfo,
    PathRemoved,
    PathState,
    PathStateChanged,
    PeerShutdown,
    PrimaryChanged,
    RemoteError,
    SenderDry,
    SendFailed,
)
from .text import Address, format_address, format_addresses, format_duration, format_ms

__all__ = ["COLUMNS", "PathsView", "describe_event", "render_paths"]

#: Column titles, in order; numbers are right-aligned, words left-aligned.
COLUMNS = ("PEER", "STATE", "SRTT-ms", "RTO-ms", "CWND", "MTU", "ECHO-ms", "PRIMARY")
_RIGHT_ALIGNED = frozenset({"SRTT-ms", "RTO-ms", "CWND", "MTU", "ECHO-ms"})
_GAP = "  "


@dataclass(frozen=True, slots=True)
class PathsView:
    """Everything one refresh of ``sctpmh paths`` shows."""

    association_id: int
    """The association's id."""

    local_addresses: Sequence[Address]
    """Every local address of the association."""

    uptime: float
    """Seconds since the association came up."""

    paths: Sequence[PathInfo]
    """``Association.paths`` at this refresh (empty once the association has ended)."""

    events: Sequence[tuple[float, Event]] = ()
    """Recent events, oldest first, each with its time in seconds since the association
    came up."""

    pings_sent: int = 0
    """Echo pings sent so far."""

    pings_answered: int = 0
    """Echo pings whose echo came back."""

    last_echo: tuple[float, Address | None] | None = None
    """Round trip (seconds) of the latest echo, and the peer address it came from."""

    echo_by_path: Mapping[Address, float] = field(default_factory=dict)
    """Latest echo round trip (seconds) per peer address the echo came from. The kernel
    reports SRTT in whole milliseconds, which is 0 (shown "-") on a fast LAN; this is
    measured to the microsecond."""


def render_paths(view: PathsView) -> str:
    """The text of one refresh: header, one row per path, recent events (no final newline)."""
    lines = [
        f"association {view.association_id}  up {format_duration(view.uptime)}  "
        f"local {format_addresses(view.local_addresses)}",
        _echo_line(view),
    ]
    rows = [_row(path, view.echo_by_path.get(path.address)) for path in view.paths]
    lines += _aligned([COLUMNS, *rows])
    if not rows:
        lines.append("(no paths: the association has ended)")
    lines.append("events:")
    described = [
        (at, text) for at, event in view.events if (text := describe_event(event)) is not None
    ]
    lines += [f"  +{at:.3f}s  {text}" for at, text in described] or ["  (none)"]
    return "\n".join(lines)


#: Why a path changed state, by the notification's error (Linux's enum sctp_sn_error, RFC
#: 6458 section 6.1.2's spc_error); 0 means "none given" except for a path found unreachable.
PATH_CHANGE_REASONS = {
    1: "a SACK arrived",
    2: "a HEARTBEAT was answered",
    3: "at the user's request",
    4: "internal error",
    5: "the shutdown guard timer expired",
    6: "the peer is faulty",
}


def path_change_reason(state: PathState, error: int) -> str:
    """Words for why a path entered ``state``, from the notification's ``error``."""
    if error == 0:
        return " (retransmission limit reached)" if state is PathState.INACTIVE else ""
    return f" ({PATH_CHANGE_REASONS.get(error, f'error {error}')})"


def describe_event(event: Event) -> str | None:
    """One line about ``event``, or None for events not worth a line in the table
    (SenderDry comes after every echo ping and would push everything else out)."""
    match event:
        case PathStateChanged(address=address, state=state, error=error):
            return f"path {format_address(address)} {state.value}" + path_change_reason(
                state, error
            )
        case PathAdded(address=address):
            return f"path {format_address(address)} added"
        case PathRemoved(address=address):
            return f"path {format_address(address)} removed"
        case PrimaryChanged(address=address):
            return f"primary is now {format_address(address)}"
        case SenderDry():
            return None
        case SendFailed(data=data, stream=stream, error=error):
            return f"{len(data)} bytes on stream {stream} undelivered (error {error})"
        case RemoteError(cause=cause):
            return f"the peer reported error cause {cause}"
        case PeerShutdown():
            return "the peer is shutting down"
        case AssociationRestarted():
            return "the peer restarted the association"
        case AssociationLost(cause=cause):
            return "association lost" + (f" (cause {cause})" if cause is not None else "")
        case AssociationClosed(aborted=aborted, cause=cause):
            how = "aborted" if aborted else "closed"
            return f"association {how}" + (f" (cause {cause})" if cause is not None else "")
        case AssociationUp(association_id=association_id):
            return f"association {association_id} up"
    return type(event).__name__


def _echo_line(view: PathsView) -> str:
    line = f"echo: {view.pings_sent} sent, {view.pings_answered} answered"
    if view.last_echo is not None:
        round_trip, source = view.last_echo
        line += f", last round trip {format_ms(round_trip)} ms via {format_address(source)}"
    return line


def _row(path: PathInfo, echo: float | None) -> tuple[str, ...]:
    return (
        format_address(path.address),
        path.state.value,
        format_ms(path.srtt, 0),  # the kernel reports whole milliseconds
        format_ms(path.rto, 0),
        str(path.cwnd),
        str(path.mtu),
        format_ms(echo),
        "*" if path.primary else "",
    )


def _aligned(rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    lines = []
    for row in rows:
        cells = [
            cell.rjust(width) if title in _RIGHT_ALIGNED else cell.ljust(width)
            for title, cell, width in zip(COLUMNS, row, widths, strict=True)
        ]
        lines.append(_GAP.join(cells).rstrip())
    return lines
