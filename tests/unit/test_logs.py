"""Log records name their association and path, at the level the event deserves."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest

import sctpmh
from sctpmh.logs import AssociationLog, format_address

LOGGER = "sctpmh.test"


@pytest.fixture
def log(caplog: pytest.LogCaptureFixture) -> AssociationLog:
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    return AssociationLog(logging.getLogger(LOGGER), 7)


def only(caplog: pytest.LogCaptureFixture) -> logging.LogRecord:
    assert len(caplog.records) == 1, caplog.records
    return caplog.records[0]


@pytest.mark.parametrize(
    ("state", "level"),
    [
        (sctpmh.PathState.ACTIVE, logging.INFO),
        (sctpmh.PathState.POTENTIALLY_FAILED, logging.WARNING),
        (sctpmh.PathState.INACTIVE, logging.WARNING),
        (sctpmh.PathState.UNCONFIRMED, logging.INFO),
    ],
)
def test_path_state_change_names_association_and_path(
    log: AssociationLog, caplog: pytest.LogCaptureFixture, state: sctpmh.PathState, level: int
) -> None:
    log.event(sctpmh.PathStateChanged(("10.101.0.1", 4444), state))
    record = only(caplog)
    assert record.levelno == level
    assert record.getMessage() == f"association 7 path 10.101.0.1:4444: {state.value}"
    assert record.association_id == 7  # type: ignore[attr-defined]
    assert record.path == "10.101.0.1:4444"  # type: ignore[attr-defined]


def test_ipv6_path_is_bracketed_and_error_code_shown(
    log: AssociationLog, caplog: pytest.LogCaptureFixture
) -> None:
    log.event(sctpmh.PathStateChanged(("fd00:101::1", 9), sctpmh.PathState.INACTIVE, error=110))
    record = only(caplog)
    assert record.getMessage() == "association 7 path [fd00:101::1]:9: inactive (error 110)"
    assert record.path == "[fd00:101::1]:9"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("event", "level", "text"),
    [
        (sctpmh.PrimaryChanged(("127.0.0.2", 5)), logging.INFO, "path 127.0.0.2:5: is now the"),
        (sctpmh.PathAdded(("127.0.0.3", 5)), logging.INFO, "path 127.0.0.3:5: added by the peer"),
        (sctpmh.PathRemoved(("127.0.0.3", 5)), logging.INFO, "path 127.0.0.3:5: removed"),
        (sctpmh.PeerShutdown(), logging.INFO, "the peer started a graceful shutdown"),
        (sctpmh.AssociationRestarted(7), logging.WARNING, "the peer restarted"),
        (sctpmh.RemoteError(5, b""), logging.WARNING, "the peer reported error cause 5"),
        (sctpmh.SendFailed(b"abc", 2, 0, 103, True), logging.DEBUG, "3-byte message on stream 2"),
        (sctpmh.SenderDry(), logging.DEBUG, "everything sent has been acknowledged"),
    ],
)
def test_each_event_kind_has_its_level(
    log: AssociationLog,
    caplog: pytest.LogCaptureFixture,
    event: sctpmh.Event,
    level: int,
    text: str,
) -> None:
    log.event(event)
    record = only(caplog)
    assert record.levelno == level
    assert record.getMessage().startswith("association 7")
    assert text in record.getMessage()
    assert record.association_id == 7  # type: ignore[attr-defined]


def test_up_and_closed(log: AssociationLog, caplog: pytest.LogCaptureFixture) -> None:
    log.up([("127.0.0.3", 1), ("127.0.0.4", 1)], [("::1", 2)], "10 out / 10 in")
    log.closed(None)
    log.closed(sctpmh.AssociationAbortedError("the association was aborted or lost", 12))
    up, closed, aborted = caplog.records
    assert up.getMessage() == (
        "association 7: up, local 127.0.0.3:1, 127.0.0.4:1, peer [::1]:2, streams 10 out / 10 in"
    )
    assert up.path is None  # type: ignore[attr-defined]
    assert (closed.levelno, closed.getMessage()) == (logging.INFO, "association 7: closed")
    assert aborted.levelno == logging.WARNING
    assert aborted.getMessage().startswith("association 7: ended: the association was aborted")


def test_nothing_is_formatted_when_the_level_is_off(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER)
    log = AssociationLog(logging.getLogger(LOGGER), 1)
    log.event(sctpmh.SenderDry())
    log.event(sctpmh.PathStateChanged(("127.0.0.1", 1), sctpmh.PathState.ACTIVE))
    assert caplog.records == []


def test_format_address() -> None:
    assert format_address(("127.0.0.1", 80)) == "127.0.0.1:80"
    assert format_address(("::1", 80)) == "[::1]:80"


def test_quiet_by_default() -> None:
    # A program that configures no logging hears nothing from sctpmh, even at WARNING (without
    # the NullHandler Python's last-resort handler would print it to stderr).
    code = (
        "import logging, sctpmh\n"
        "from sctpmh.logs import AssociationLog\n"
        "AssociationLog(logging.getLogger('sctpmh.kernel'), 3).closed(RuntimeError('x'))\n"
        "logging.getLogger('elsewhere').warning('not quiet')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stderr == "not quiet\n"
