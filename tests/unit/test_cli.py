"""The sctpmh command on this host: argument errors, one-line failures, the paths table and
how it reaches the screen. The commands' network behaviour is in tests/kernel/test_cli.py."""

from __future__ import annotations

import io
import os
import subprocess
import sys

import pytest

import sctpmh
from sctpmh.cli import main, parse_arguments
from sctpmh.cli.screen import (
    CLEAR_SCREEN,
    CURSOR_HOME,
    ERASE_BELOW,
    ERASE_TO_END_OF_LINE,
    HIDE_CURSOR,
    SHOW_CURSOR,
    Screen,
)
from sctpmh.cli.table import PathsView, describe_event, render_paths
from sctpmh.cli.text import format_address, format_duration
from sctpmh.kernel.diagnose import diagnose, sctp_socket_error

ACTIVE, PF, INACTIVE = (
    sctpmh.PathState.ACTIVE,
    sctpmh.PathState.POTENTIALLY_FAILED,
    sctpmh.PathState.INACTIVE,
)


# --- arguments -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "error"),
    [
        (["serve", "-p", "70000"], "argument -p/--port: must be in 0..65535, not 70000"),
        (["serve", "-p", "x"], "argument -p/--port: not an integer: 'x'"),
        (["connect"], "the following arguments are required: REMOTE"),
        (["connect", "h", "-p", "0"], "argument -p/--port: must be in 1..65535, not 0"),
        (["connect", "h", "-c", "0"], "argument -c/--count: must be in 1..2147483647, not 0"),
        (["connect", "h", "-s", "0"], "argument -s/--size: must be in 1..1048576, not 0"),
        (["connect", "h", "--stream", "65536"], "argument --stream: must be in 0..65535"),
        (["connect", "h", "--ppid", "-1"], "argument --ppid: must be in 0..4294967295, not -1"),
        (["connect", "h", "--interval", "-1"], "argument --interval: must be a number of"),
        (["connect", "h", "--timeout", "0"], "argument --timeout: must be a number of seconds > 0"),
        (["connect", "h", "x"], "argument -: invalid choice: 'x'"),
        (["connect", "h", "-", "-"], "unrecognized arguments: -"),
        (["paths"], "the following arguments are required: REMOTE"),
        (["paths", "h", "--count", "0"], "argument --count: must be in 1..2147483647, not 0"),
        (["paths", "h", "--interval", "nan"], "argument --interval: must be a number of"),
        (["no-such-command"], "invalid choice: 'no-such-command'"),
    ],
)
def test_bad_arguments_print_usage_and_one_error_line_and_exit_2(
    argv: list[str], error: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert lines[0].startswith("usage: sctpmh")
    assert sum("error:" in line for line in lines) == 1
    assert error in lines[-1]


def test_a_dash_after_the_options_still_means_stdin() -> None:
    args = parse_arguments(["connect", "127.0.0.1;127.0.0.2", "-p", "4477", "-"])
    assert (args.remote, args.source, args.port) == ("127.0.0.1;127.0.0.2", "-", 4477)
    assert parse_arguments(["connect", "127.0.0.1", "-"]).source == "-"
    assert parse_arguments(["connect", "127.0.0.1"]).source is None


def test_defaults() -> None:
    serve = parse_arguments(["serve"])
    assert (serve.addrs, serve.port, serve.fast_failover, serve.quiet) == ([], 4444, False, False)
    paths = parse_arguments(["paths", "::1", "--fast-failover", "--count", "3"])
    assert (paths.port, paths.interval, paths.count, paths.fast_failover) == (4444, 1.0, 3, True)


def test_count_or_size_with_stdin_is_a_one_line_error(capsys: pytest.CaptureFixture[str]) -> None:
    # Checked before any socket is opened, so this holds on any host.
    assert main(["connect", "127.0.0.1", "--stdin", "-c", "3"]) == 2
    assert capsys.readouterr().err == (
        "sctpmh: -c/--count and -s/--size do not apply to messages from stdin\n"
    )


@pytest.mark.parametrize(
    ("argv", "item"),
    [
        (["serve", "127.0.0.1;256.1.1.1"], "256.1.1.1"),
        (["connect", "127.0.0.1", "-l", "1.2.3.4.5"], "1.2.3.4.5"),
        (["paths", "not_a_host!", "--count", "1"], "not_a_host!"),
    ],
)
def test_bad_addresses_are_one_line_naming_the_item_and_exit_2(
    argv: list[str], item: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Addresses are parsed before any socket is opened, so this holds on any host.
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("sctpmh: ")
    assert item in captured.err
    assert captured.err.count("\n") == 1


@pytest.mark.skipif(sctp_socket_error() is None, reason="this kernel has SCTP")
@pytest.mark.parametrize("command", ["serve", "connect"])
def test_missing_kernel_sctp_is_one_line_with_the_fix_and_exit_2(command: str) -> None:
    argv = [command, "-p", "4477"] if command == "serve" else [command, "127.0.0.1", "-p", "4477"]
    result = subprocess.run(
        [sys.executable, "-m", "sctpmh.cli", "--backend", "kernel", *argv],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    verdict = diagnose(probe=False, socket_error=sctp_socket_error())
    assert result.stderr.startswith("sctpmh: the kernel backend cannot run here: ")
    assert verdict.reason in result.stderr
    assert verdict.fix in result.stderr
    assert "use sctpmh's udp backend" in result.stderr
    assert result.stderr.count("\n") == 1


# --- the paths table -------------------------------------------------------------------------


def path(
    host: str, state: sctpmh.PathState, srtt: float | None, primary: bool = False
) -> sctpmh.PathInfo:
    return sctpmh.PathInfo(
        address=(host, 4479), state=state, srtt=srtt, rto=0.1, cwnd=4380, mtu=1500, primary=primary
    )


def test_table_shows_header_one_aligned_row_per_path_and_the_events() -> None:
    view = PathsView(
        association_id=7,
        local_addresses=[("10.101.0.2", 40001), ("fd00:102::2", 40001)],
        uptime=12.34,
        paths=[
            path("10.101.0.1", PF, 0.012, primary=True),
            path("fd00:102::1", ACTIVE, None),
        ],
        events=[
            (3.1051, sctpmh.SenderDry()),
            (3.2, sctpmh.PathStateChanged(("10.101.0.1", 4479), PF)),
        ],
        pings_sent=12,
        pings_answered=11,
        last_echo=(0.00042, ("fd00:102::1", 4479)),
        echo_by_path={("fd00:102::1", 4479): 0.00042},
    )
    assert render_paths(view).split("\n") == [
        "association 7  up 12.3s  local 10.101.0.2:40001,[fd00:102::2]:40001",
        "echo: 12 sent, 11 answered, last round trip 0.42 ms via [fd00:102::1]:4479",
        "PEER                STATE               SRTT-ms  RTO-ms  CWND   MTU  ECHO-ms  PRIMARY",
        "10.101.0.1:4479     potentially-failed       12     100  4380  1500        -  *",
        "[fd00:102::1]:4479  active                    -     100  4380  1500     0.42",
        "events:",
        "  +3.200s  path 10.101.0.1:4479 potentially-failed",
    ]


def test_every_row_splits_into_the_columns_on_whitespace() -> None:
    view = PathsView(
        association_id=1,
        local_addresses=[("127.0.0.3", 5000)],
        uptime=3725.0,
        paths=[path("127.0.0.1", ACTIVE, 0.001, primary=True), path("127.0.0.2", INACTIVE, None)],
    )
    lines = render_paths(view).split("\n")
    assert lines[0] == "association 1  up 1:02:05  local 127.0.0.3:5000"
    assert lines[1] == "echo: 0 sent, 0 answered"
    assert lines[2].split() == [
        "PEER",
        "STATE",
        "SRTT-ms",
        "RTO-ms",
        "CWND",
        "MTU",
        "ECHO-ms",
        "PRIMARY",
    ]
    assert lines[3].split() == ["127.0.0.1:4479", "active", "1", "100", "4380", "1500", "-", "*"]
    assert lines[4].split() == ["127.0.0.2:4479", "inactive", "-", "100", "4380", "1500", "-"]
    assert lines[5:] == ["events:", "  (none)"]
    assert "" not in lines  # blocks are separated by blank lines when logged


def test_table_of_an_ended_association() -> None:
    view = PathsView(
        association_id=4,
        local_addresses=[],
        uptime=1.0,
        paths=[],
        events=[(0.5, sctpmh.AssociationClosed(cause=None, aborted=True))],
    )
    lines = render_paths(view).split("\n")
    assert lines[3:] == [
        "(no paths: the association has ended)",
        "events:",
        "  +0.500s  association aborted",
    ]


@pytest.mark.parametrize(
    ("event", "text"),
    [
        (
            sctpmh.PathStateChanged(("::1", 1), INACTIVE, error=110),
            "path [::1]:1 inactive (error 110)",
        ),
        (
            sctpmh.PathStateChanged(("::1", 1), INACTIVE),
            "path [::1]:1 inactive (retransmission limit reached)",
        ),
        (
            sctpmh.PathStateChanged(("10.0.0.1", 1), ACTIVE, error=2),
            "path 10.0.0.1:1 active (a HEARTBEAT was answered)",
        ),
        (sctpmh.PathStateChanged(("10.0.0.1", 1), ACTIVE), "path 10.0.0.1:1 active"),
        (sctpmh.PathAdded(("10.0.0.2", 1)), "path 10.0.0.2:1 added"),
        (sctpmh.PathRemoved(("10.0.0.2", 1)), "path 10.0.0.2:1 removed"),
        (sctpmh.PrimaryChanged(("10.0.0.2", 1)), "primary is now 10.0.0.2:1"),
        (sctpmh.PeerShutdown(), "the peer is shutting down"),
        (sctpmh.AssociationRestarted(3), "the peer restarted the association"),
        (sctpmh.AssociationLost(3, cause=12), "association lost (cause 12)"),
        (sctpmh.AssociationClosed(), "association closed"),
        (sctpmh.RemoteError(cause=6, data=b""), "the peer reported error cause 6"),
        (sctpmh.SendFailed(b"abc", 2, 0, 5, True), "3 bytes on stream 2 undelivered (error 5)"),
        (sctpmh.SenderDry(), None),
    ],
)
def test_event_descriptions(event: sctpmh.Event, text: str | None) -> None:
    assert describe_event(event) == text


def test_addresses_and_durations_are_single_words() -> None:
    assert format_address(("fd00:101::1", 4444)) == "[fd00:101::1]:4444"
    assert format_address(("10.0.0.1", 1)) == "10.0.0.1:1"
    assert format_address(None) == "-"
    assert format_duration(59.94) == "59.9s"
    assert format_duration(60) == "0:01:00"
    assert format_duration(36000) == "10:00:00"


# --- the screen ------------------------------------------------------------------------------


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_each_block_replaces_the_last_and_the_cursor_comes_back() -> None:
    terminal = Terminal()

    def interrupted_while_shown() -> None:
        with Screen(terminal) as screen:
            assert screen.in_place
            screen.show("one\ntwo")
            screen.show("three")
            raise KeyboardInterrupt  # Ctrl-C while the table is up

    with pytest.raises(KeyboardInterrupt):
        interrupted_while_shown()
    end = ERASE_TO_END_OF_LINE
    assert terminal.getvalue() == (
        HIDE_CURSOR
        + CLEAR_SCREEN
        + f"{CURSOR_HOME}one{end}\ntwo{end}\n{ERASE_BELOW}"
        + f"{CURSOR_HOME}three{end}\n{ERASE_BELOW}"
        + SHOW_CURSOR
    )


def test_elsewhere_blocks_follow_each_other_separated_by_a_blank_line() -> None:
    log = io.StringIO()
    with Screen(log) as screen:
        assert not screen.in_place
        screen.show("one\ntwo")
        screen.show("three")
    assert log.getvalue() == "one\ntwo\n\nthree\n\n"
    assert "\x1b" not in log.getvalue()


def test_a_screen_never_shown_writes_nothing() -> None:
    terminal = Terminal()
    with Screen(terminal):
        pass
    assert terminal.getvalue() == ""


def test_python_m_sctpmh_version() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "sctpmh", "--version"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"sctpmh {sctpmh.__version__}\n"


@pytest.mark.parametrize("command", ["check", "serve", "connect", "paths"])
def test_help_is_wrapped_to_the_terminal_and_describes_the_command(command: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "sctpmh", command, "--help"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        env={**os.environ, "COLUMNS": "80"},
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    description = lines[lines.index("") + 1]
    assert description, lines
    assert not description.startswith(("options:", "positional")), lines
    # The description and options are wrapped; only the hand-laid epilogs may reach 92.
    assert max(map(len, lines[: lines.index("options:")])) <= 80, lines
